//! [`TicketStore`]: guild settings, tickets and their messages.

use super::TicketReservation;
use crate::StoreError;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use disconcierge_core::desk::model::{
    GuildSettings, MemberReplies, NewTicket, NewTicketMessage, Ticket, TicketFilter, TicketMessage,
};
use std::time::Duration;

/// The support desk's guild settings, tickets and their messages. Part of [`super::DeskStore`].
#[async_trait]
pub trait TicketStore: Send + Sync {
    // ----- Guild settings -----

    /// Inserts or replaces the guild's settings.
    async fn save_guild_settings(&self, settings: &GuildSettings) -> Result<(), StoreError>;

    /// How many of `member_id`'s messages in the guild's tickets were answered by the bot since `since`,
    /// and when the last of them was written (the per-member limits on AI replies).
    async fn member_replies(
        &self,
        guild_id: u64,
        member_id: u64,
        since: DateTime<Utc>,
    ) -> Result<MemberReplies, StoreError>;

    /// The guild's settings, `None` before `/setup`.
    async fn guild_settings(&self, guild_id: u64) -> Result<Option<GuildSettings>, StoreError>;

    /// The guilds with any support-desk data (settings, tickets, trained answers or knowledge bases), by
    /// id: what the admin interface offers to choose from. Each table's distinct guilds are read by
    /// skipping along its guild index, so this costs per guild, not per row.
    async fn desk_guilds(&self) -> Result<Vec<u64>, StoreError>;

    // ----- Tickets -----

    /// Reserves a ticket, state `open` and no thread, or returns the user's ticket in this category that
    /// is not closed. A reservation still without a thread whose `created_at` is more than `stale_after`
    /// before `ticket.created_at` counts as abandoned (a crash between reserving and creating the post):
    /// it is deleted and a new one made instead. Safe against concurrent calls (a unique index decides).
    async fn reserve_ticket(
        &self,
        ticket: &NewTicket,
        stale_after: Duration,
    ) -> Result<TicketReservation, StoreError>;

    /// Gives a reserved ticket its forum post. [`StoreError::NotFound`] if there is no such ticket (e.g.
    /// the reservation was found stale and replaced: delete the post), [`StoreError::InvalidArgument`] if
    /// it already has another thread, [`StoreError::AlreadyExists`] if another ticket has this thread.
    /// Attaching the same thread again is a no-op.
    async fn attach_ticket_thread(
        &self,
        ticket_id: i64,
        thread_id: u64,
    ) -> Result<Ticket, StoreError>;

    /// Deletes a reservation whose forum post could not be created. Does nothing to a ticket that has a
    /// thread, or to no ticket.
    async fn cancel_ticket_reservation(&self, ticket_id: i64) -> Result<(), StoreError>;

    async fn ticket(&self, id: i64) -> Result<Option<Ticket>, StoreError>;

    /// The ticket living in this forum post (thread).
    async fn ticket_by_thread(&self, thread_id: u64) -> Result<Option<Ticket>, StoreError>;

    /// `open` → `escalated`, setting `escalated_at`. `true` only for the call that changed it, so staff are
    /// pinged once; `false` if the ticket was not open (or does not exist).
    async fn escalate_ticket(&self, id: i64, now: DateTime<Utc>) -> Result<bool, StoreError>;

    /// `escalated` → `open` (staff re-enable the AI); `escalated_at` is kept. `true` if it changed.
    async fn reenable_ticket_ai(&self, id: i64) -> Result<bool, StoreError>;

    /// `open` or `escalated` → `closed`, recording who closed it, why and when. The closed ticket, or
    /// `None` if it was closed already (or does not exist): only one close wins.
    async fn close_ticket(
        &self,
        id: i64,
        closed_by: u64,
        reason: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<Option<Ticket>, StoreError>;

    /// Gives a ticket that is not closed to `staff` (taking it over from whoever claimed it before). The
    /// ticket as claimed, or `None` if it is closed, unknown, or already `staff`'s.
    async fn claim_ticket(
        &self,
        id: i64,
        staff: u64,
        now: DateTime<Utc>,
    ) -> Result<Option<Ticket>, StoreError>;

    /// `closed` → `open`, forgetting how it was closed; `now` is its last activity. The reopened ticket,
    /// `None` if it was not closed (or does not exist), or [`StoreError::AlreadyExists`] when its opener
    /// has another open ticket of the same category.
    async fn reopen_ticket(
        &self,
        id: i64,
        now: DateTime<Utc>,
    ) -> Result<Option<Ticket>, StoreError>;

    /// Records a message in a ticket and returns its id; `None`, with nothing changed, if `message_id` was
    /// recorded before (a redelivered event). In the same transaction: the ticket's `message_count` + 1,
    /// `last_activity_at` moved up to the message's `created_at` (never back), and for authors other than
    /// the bot `inactivity_warned_at` cleared. [`StoreError::NotFound`] if the ticket does not exist.
    async fn record_ticket_message(
        &self,
        message: &NewTicketMessage,
    ) -> Result<Option<i64>, StoreError>;

    /// Claims the reply to the opener's message `message_row` (a ticket message's row id) for `owner`
    /// until `lease_until`: true if it was not handled yet, or its previous holder's lease expired before
    /// `now` (that holder died), or `owner` holds it already (renewing the lease). Only the holder then
    /// answers it; nobody else will.
    async fn claim_ticket_reply(
        &self,
        message_row: i64,
        owner: &str,
        lease_until: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError>;

    /// Ends the reply held by `owner`: answered (`answered`), or skipped because the ticket was escalated
    /// or closed meanwhile. False if `owner` no longer held it.
    async fn finish_ticket_reply(
        &self,
        message_row: i64,
        owner: &str,
        answered: bool,
    ) -> Result<bool, StoreError>;

    /// The opener's messages nobody answers: not handled and received before `received_before` (the live
    /// path had its chance), or held under a lease that expired before `now`. Oldest first.
    async fn unanswered_ticket_messages(
        &self,
        received_before: DateTime<Utc>,
        now: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<TicketMessage>, StoreError>;

    /// The ticket's latest `limit` messages (all of them with `None`), oldest first (by `created_at`, then
    /// in the order recorded).
    async fn ticket_messages(
        &self,
        ticket_id: i64,
        limit: Option<u32>,
    ) -> Result<Vec<TicketMessage>, StoreError>;

    /// Open or escalated tickets of a guild, with a thread, whose last activity is before `idle_since`,
    /// oldest activity first, at most `limit`.
    async fn idle_tickets(
        &self,
        guild_id: u64,
        idle_since: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<Ticket>, StoreError>;

    /// The settings of every guild that closes idle tickets (`auto_close_after_secs` set), by guild id.
    async fn auto_close_settings(&self) -> Result<Vec<GuildSettings>, StoreError>;

    /// Records that the inactivity warning was posted (cleared again by the next message not from the
    /// bot).
    async fn mark_ticket_warned(&self, id: i64, now: DateTime<Utc>) -> Result<(), StoreError>;

    /// Tickets matching `filter`, newest first (highest id), at most `limit`; `before_id` pages. Each
    /// filter is served by an index.
    async fn list_tickets(
        &self,
        filter: &TicketFilter,
        limit: u32,
    ) -> Result<Vec<Ticket>, StoreError>;
}
