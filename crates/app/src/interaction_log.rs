//! The interaction log: every interaction received, stored for the admin interface.
//!
//! Logging must cost the acknowledgement nothing: an entry goes into a channel, and one writer task
//! stores what has arrived in batches (one `INSERT` of many rows). While acknowledgements keep coming it
//! waits for a pause in them ([`AcksInProgress::gather_after_pause`], at most [`HOLD_BACK`]) before taking the
//! database's writer, which every acknowledgement needs: during a burst the log takes a few writes a
//! second, in pieces of at most [`BATCH`] entries (an acknowledgement waits behind one piece at most),
//! instead of one write per batch of acknowledgements. When idle, a batch is a single entry, written at
//! once. The task ends when every sender is dropped and the channel is drained, so a graceful stop loses
//! nothing.

use crate::acks::AcksInProgress;
use disconcierge_core::model::InteractionLog;
use disconcierge_store::Store;
use std::sync::Arc;
use tokio::sync::mpsc;

/// At most this many entries per write.
const BATCH: usize = 100;
/// At most this many entries taken at once (written in pieces of [`BATCH`]).
const TAKE: usize = 1_000;
/// During a burst of acknowledgements, the log waits at most this long for a pause in them.
pub const HOLD_BACK: std::time::Duration = std::time::Duration::from_millis(100);

/// Sends entries to the writer task.
#[derive(Clone)]
pub struct InteractionLogger {
    tx: mpsc::UnboundedSender<InteractionLog>,
}

impl InteractionLogger {
    /// The logger and the task that stores its entries.
    pub fn start(
        store: Arc<dyn Store>,
        acks: Arc<AcksInProgress>,
    ) -> (InteractionLogger, impl Future<Output = ()> + Send + 'static) {
        let (tx, mut rx) = mpsc::unbounded_channel::<InteractionLog>();
        let writer = async move {
            let mut taken = Vec::with_capacity(BATCH);
            while rx.recv_many(&mut taken, BATCH).await > 0 {
                acks.gather_after_pause(HOLD_BACK, &mut rx, &mut taken, TAKE)
                    .await;
                for batch in taken.chunks(BATCH) {
                    if let Err(e) = store.insert_interaction_logs(batch).await {
                        tracing::warn!(error = %e, count = batch.len(), "could not store interaction logs");
                    }
                }
                taken.clear();
            }
        };
        (InteractionLogger { tx }, writer)
    }

    pub fn record(&self, entry: InteractionLog) {
        if self.tx.send(entry).is_err() {
            tracing::warn!("interaction log entry dropped: the log writer has stopped");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use disconcierge_store::testing::TestDb;

    fn entry(id: u64) -> InteractionLog {
        InteractionLog {
            interaction_id: id,
            interaction_type: "application_command".into(),
            user_id: Some(id),
            guild_id: None,
            channel_id: None,
            payload: serde_json::json!({"id": id}),
            received_at: chrono::Utc::now(),
        }
    }

    #[tokio::test]
    async fn every_entry_is_stored_even_when_sent_just_before_the_stop() {
        let db = TestDb::sqlite().await;
        let (logger, writer) =
            InteractionLogger::start(db.store.clone(), Arc::new(AcksInProgress::default()));
        let writer = tokio::spawn(writer);
        // More than one batch, sent faster than they are written.
        for id in 1..=1_234 {
            logger.record(entry(id));
        }
        drop(logger);
        writer.await.unwrap();
        assert_eq!(
            db.scalar_i64("SELECT COUNT(DISTINCT interaction_id) FROM interaction_logs")
                .await,
            1_234
        );
    }
}
