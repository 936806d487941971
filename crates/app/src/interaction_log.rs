//! The interaction log: every interaction received, stored for the admin interface.
//!
//! Logging must cost the acknowledgement nothing: an entry goes into a channel, and one writer task
//! stores what has arrived in batches (one `INSERT` of many rows), so under load the log takes one write
//! per batch instead of one per interaction, and never competes with acknowledgements one by one. When
//! idle, a batch is a single entry, written at once. The task ends when every sender is dropped and the
//! channel is drained, so a graceful stop loses nothing.

use disconcierge_core::model::InteractionLog;
use disconcierge_store::Store;
use std::sync::Arc;
use tokio::sync::mpsc;

/// At most this many entries per write.
const BATCH: usize = 500;

/// Sends entries to the writer task.
#[derive(Clone)]
pub struct InteractionLogger {
    tx: mpsc::UnboundedSender<InteractionLog>,
}

impl InteractionLogger {
    /// The logger and the task that stores its entries.
    pub fn start(
        store: Arc<dyn Store>,
    ) -> (InteractionLogger, impl Future<Output = ()> + Send + 'static) {
        let (tx, mut rx) = mpsc::unbounded_channel::<InteractionLog>();
        let writer = async move {
            let mut batch = Vec::with_capacity(BATCH);
            while rx.recv_many(&mut batch, BATCH).await > 0 {
                if let Err(e) = store.insert_interaction_logs(&batch).await {
                    tracing::warn!(error = %e, count = batch.len(), "could not store interaction logs");
                }
                batch.clear();
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
        let (logger, writer) = InteractionLogger::start(db.store.clone());
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
