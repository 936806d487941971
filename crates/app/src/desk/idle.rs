//! Closing idle tickets in guilds that asked for it (`/setup … auto_close_hours`): a warning first,
//! then the close with its transcript (see [`disconcierge_core::desk::idle`]).

use super::Desk;
use super::tickets::{Closing, IDLE_REASON};
use chrono::Utc;
use disconcierge_core::desk::idle::{IdleStep, idle_step, warn_after};
use disconcierge_core::desk::model::Ticket;
use disconcierge_discord::desk::Reply;
use disconcierge_discord::markup;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// Tickets looked at per guild and check; the rest wait for the next check.
const BATCH: u32 = 100;

impl Desk {
    /// Answers messages left unanswered (see [`Desk::recover_replies`]) and checks idle tickets, at
    /// startup and then every `every`, until cancelled. Each instance may run it: warnings are marked in the
    /// database before the next check, and a close happens once (the store closes a ticket only once).
    pub async fn run_idle_tickets(self: Arc<Self>, every: Duration, cancel: CancellationToken) {
        loop {
            if let Err(e) = self.recover_replies().await {
                tracing::warn!(error = %e, "could not look for unanswered messages in tickets");
            }
            if let Err(e) = self.check_idle_tickets().await {
                tracing::warn!(error = %e, "could not check idle tickets");
            }
            tokio::select! {
                _ = cancel.cancelled() => return,
                _ = tokio::time::sleep(every) => {}
            }
        }
    }

    async fn check_idle_tickets(&self) -> Result<(), disconcierge_store::StoreError> {
        for settings in self.store.auto_close_settings().await? {
            let Some(after) = settings.auto_close_after_secs.map(Duration::from_secs) else {
                continue;
            };
            let now = Utc::now();
            let since = now - chrono::TimeDelta::from_std(warn_after(after)).unwrap_or_default();
            for ticket in self
                .store
                .idle_tickets(settings.guild_id, since, BATCH)
                .await?
            {
                match idle_step(
                    ticket.last_activity_at,
                    ticket.inactivity_warned_at,
                    after,
                    now,
                ) {
                    IdleStep::Wait => {}
                    IdleStep::Warn { closes_at } => self.warn_idle(&ticket, closes_at).await?,
                    IdleStep::Close => self.close_idle(&ticket).await?,
                }
            }
        }
        Ok(())
    }

    async fn warn_idle(
        &self,
        ticket: &Ticket,
        closes_at: chrono::DateTime<Utc>,
    ) -> Result<(), disconcierge_store::StoreError> {
        let Some(thread) = ticket.thread_id else {
            return Ok(());
        };
        let config = self.runtime.current().config.clone();
        let text = config
            .desk_inactivity_warning
            .replace("{when}", &markup::relative_time(closes_at));
        // Marked first: a failed post is not retried as a flood of warnings.
        self.store.mark_ticket_warned(ticket.id, Utc::now()).await?;
        if let Err(e) = self.discord.send(thread, &Reply::text(text)).await {
            tracing::warn!(error = %e, ticket = ticket.id, "could not post the inactivity warning");
        }
        tracing::info!(ticket = ticket.id, "idle ticket warned");
        Ok(())
    }

    async fn close_idle(&self, ticket: &Ticket) -> Result<(), disconcierge_store::StoreError> {
        let bot = self.discord.bot_user_id().unwrap_or_default();
        let Some(closed) = self
            .store
            .close_ticket(ticket.id, bot, Some(IDLE_REASON), Utc::now())
            .await?
        else {
            return Ok(()); // closed meanwhile
        };
        self.after_close(&closed, Closing::Idle).await;
        tracing::info!(ticket = closed.id, "idle ticket closed");
        Ok(())
    }
}
