//! The janitor: closes commands that can no longer be answered, and queues those an instance recorded
//! but never queued (it died between acknowledging them and queueing them).

use super::Chat;
use chrono::Utc;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// A command still `received` this long after it was recorded was left behind: its instance stopped
/// between recording it and queueing it (admission and queueing take milliseconds, and an
/// acknowledgement that has not left within Discord's 3 seconds never will). Queued then, it is answered
/// if it was acknowledged; if it was not, answering fails harmlessly and it is closed.
pub const LEFT_RECEIVED_AFTER: chrono::TimeDelta = chrono::TimeDelta::seconds(10);

impl Chat {
    /// Closes commands that can no longer be answered: those whose interaction token died (nobody can be
    /// told), and those that waited in the queue longer than `DC_QUEUE_MAX_AGE` (their users are told).
    /// Queues the commands an instance left `received` ([`LEFT_RECEIVED_AFTER`]): with several instances
    /// the one that died is not the one that starts again, so this cannot wait for a restart.
    pub async fn run_janitor(self: Arc<Self>, cancel: CancellationToken) {
        let every =
            (self.queue.max_age / 4).clamp(Duration::from_millis(200), Duration::from_secs(10));
        loop {
            let now = Utc::now();
            match self
                .store
                .requeue_received(now - LEFT_RECEIVED_AFTER, now)
                .await
            {
                Ok(0) => {}
                Ok(n) => {
                    tracing::info!(
                        count = n,
                        "queued commands an instance recorded but never queued (it stopped meanwhile)"
                    );
                    for _ in 0..n {
                        self.wake.notify_one();
                    }
                }
                Err(e) => tracing::warn!(error = %e, "could not queue commands left received"),
            }
            match self.store.expire_chat_commands(now).await {
                Ok(0) => {}
                Ok(n) => {
                    tracing::info!(count = n, "closed commands whose interaction token expired")
                }
                Err(e) => tracing::warn!(error = %e, "could not close expired commands"),
            }
            let cutoff = now - chrono::TimeDelta::from_std(self.queue.max_age).unwrap_or_default();
            match self.store.expire_stale_queued(cutoff, now).await {
                Ok(stale) => {
                    let text = self
                        .runtime
                        .current()
                        .config
                        .discord_queue_full_message
                        .clone();
                    for command in stale.into_iter().filter(|c| c.token_expires_at > now) {
                        tracing::info!(
                            command = command.id,
                            "a command waited too long in the queue"
                        );
                        if let Err(e) = self
                            .discord
                            .edit_original(&command.interaction_token, &text, None)
                            .await
                        {
                            tracing::warn!(command = command.id, error = %e, "could not tell a user their question expired");
                        }
                    }
                }
                Err(e) => tracing::warn!(error = %e, "could not expire old queued commands"),
            }
            tokio::select! {
                _ = cancel.cancelled() => return,
                _ = tokio::time::sleep(every) => {}
            }
        }
    }
}
