//! The janitor: closes commands that can no longer be answered.

use super::Chat;
use chrono::Utc;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

impl Chat {
    /// Closes commands that can no longer be answered: those whose interaction token died (nobody can be
    /// told), and those that waited in the queue longer than `DC_QUEUE_MAX_AGE` (their users are told).
    pub async fn run_janitor(self: Arc<Self>, cancel: CancellationToken) {
        let every =
            (self.queue.max_age / 4).clamp(Duration::from_millis(200), Duration::from_secs(10));
        loop {
            let now = Utc::now();
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
