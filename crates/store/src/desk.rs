//! The support desk's storage: [`DeskStore`] and the values it returns (design notes on the trait).

use crate::StoreError;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use disconcierge_core::desk::model::{
    EntryKind, GuildSettings, KbEntry, KnowledgeBase, NewKbEntry, NewTicket, NewTicketMessage,
    NewTrainingEntry, TextMatch, Ticket, TicketFilter, TicketMessage, TrainOutcome, TrainingEntry,
    TrainingStats,
};
use std::time::Duration;

/// What [`DeskStore::reserve_ticket`] did: one open ticket per user per category per guild.
#[derive(Debug, Clone, PartialEq)]
pub enum TicketReservation {
    /// A new ticket, without a thread yet (`thread_id` is `None`): create the forum post, then
    /// [`DeskStore::attach_ticket_thread`] (or [`DeskStore::cancel_ticket_reservation`] if that failed).
    Reserved(Ticket),
    /// The user already has an open (or escalated) ticket in this category: point them to it. Its
    /// `thread_id` is `None` while another request is still creating its post.
    Existing(Ticket),
}

impl TicketReservation {
    /// The ticket, new or existing.
    pub fn ticket(&self) -> &Ticket {
        match self {
            TicketReservation::Reserved(t) | TicketReservation::Existing(t) => t,
        }
    }
}

/// What [`DeskStore::create_kb`] did.
#[derive(Debug, Clone, PartialEq)]
pub enum KbCreated {
    Created(KnowledgeBase),
    /// A knowledge base of that name (ignoring case) already exists in the guild; nothing was changed.
    Exists(KnowledgeBase),
}

impl KbCreated {
    /// The knowledge base, new or existing.
    pub fn kb(&self) -> &KnowledgeBase {
        match self {
            KbCreated::Created(kb) | KbCreated::Exists(kb) => kb,
        }
    }
}

/// What [`DeskStore::import_training`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ImportReport {
    /// New entries.
    pub created: u64,
    /// Entries whose question was trained before (in the guild, or earlier in the same import): their
    /// answer was replaced.
    pub updated: u64,
}

/// The support desk's repository: guild settings, tickets and their messages, trained answers, knowledge
/// bases, and the full-text retrieval over the last two.
///
/// A supertrait of [`crate::Store`], so an `Arc<dyn Store>` reaches it too. Both backends implement it
/// (`desk_impl.rs`) and pass the same tests (`tests/desk.rs`).
///
/// # Design notes
///
/// * **Guilds** scope everything: every row carries its guild, and no method returns another guild's
///   rows. Methods that take only a row id (tickets, a knowledge base's entries) are for callers that got
///   the id from a guild-scoped read.
/// * **Tickets** are reserved before their forum post exists (`thread_id` is `None`), so that two clicks
///   on the panel cannot open two tickets: a unique index allows one ticket that is not closed per user
///   and category in a guild.
/// * **Full-text search** is the database's: SQLite FTS5 (Porter stemming, diacritics removed, BM25 with
///   column weights; the guild is a token in the index, so a search reads only its guild's matches) and
///   PostgreSQL `tsvector` (`english`, a GIN index, `ts_rank_cd`). Either way a search reads the index,
///   not every entry. Ranks of the two backends are on different scales: only their order means
///   something.
/// * **Embeddings** are stored next to the entries they were computed from (little-endian `f32` bytes)
///   with the model's name; a change of the embedded text clears them, and
///   [`DeskStore::entries_missing_embedding`] lists what needs computing.
///
/// Methods that change one row by id return [`StoreError::NotFound`] when there is no such row, unless
/// documented otherwise (state transitions answer `false` / `None` instead, because losing a race with
/// another instance or a staff member is an expected event).
#[async_trait]
pub trait DeskStore: Send + Sync {
    // ----- Guild settings -----

    /// Inserts or replaces the guild's settings.
    async fn save_guild_settings(&self, settings: &GuildSettings) -> Result<(), StoreError>;

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

    // ----- Trained answers -----

    /// Saves a trained answer, unique by its question's key in the guild
    /// ([`question_key`](disconcierge_core::desk::retrieval::question_key): case, punctuation and spacing
    /// do not matter). A known question is updated: question text and answer replaced, category and tags
    /// replaced when given (kept when `None` / empty), `updated_at = now`, `created_at`, `created_by` and `uses` kept, and the embedding cleared if the
    /// question's text changed (the embedding is of the question). A question without any word, or an
    /// empty answer, is an [`StoreError::InvalidArgument`].
    async fn train(
        &self,
        entry: &NewTrainingEntry,
        now: DateTime<Utc>,
    ) -> Result<TrainOutcome, StoreError>;

    async fn training_entry(
        &self,
        guild_id: u64,
        id: i64,
    ) -> Result<Option<TrainingEntry>, StoreError>;

    /// A page of the guild's entries (only those of `category`, exactly, when given), by id, and how many
    /// there are in all.
    async fn list_training(
        &self,
        guild_id: u64,
        category: Option<&str>,
        offset: u64,
        limit: u32,
    ) -> Result<(Vec<TrainingEntry>, u64), StoreError>;

    /// Edits a trained answer of `entry.guild_id` (`entry.created_by` is ignored: the author is kept):
    /// question, answer, category and tags are replaced as given (`None` / empty clear them, unlike
    /// [`DeskStore::train`]), `updated_at = now`; `uses`, `last_used_at` and `created_*` are kept, and the
    /// embedding is cleared if the question's text changed. [`StoreError::NotFound`] if there is no such
    /// entry in the guild, [`StoreError::AlreadyExists`] if another entry of the guild has the same
    /// question (by its key), [`StoreError::InvalidArgument`] as for `train`.
    async fn update_training(
        &self,
        id: i64,
        entry: &NewTrainingEntry,
        now: DateTime<Utc>,
    ) -> Result<TrainingEntry, StoreError>;

    /// `false` if there is no such entry in this guild.
    async fn delete_training(&self, guild_id: u64, id: i64) -> Result<bool, StoreError>;

    /// The guild's entry counts (categories most first, then by name, uncategorised last among equals),
    /// its five most used entries (never used ones left out), and its tickets' bot replies produced by
    /// the LLM, a trained answer or a fallback (of which `trained_replies` by a trained answer).
    async fn training_stats(&self, guild_id: u64) -> Result<TrainingStats, StoreError>;

    /// `uses` + 1 and `last_used_at = now` for each entry (an id given twice counts once), in one
    /// statement. Unknown ids are ignored.
    async fn record_training_use(&self, ids: &[i64], now: DateTime<Utc>) -> Result<(), StoreError>;

    /// Every entry of the guild, by id.
    async fn export_training(&self, guild_id: u64) -> Result<Vec<TrainingEntry>, StoreError>;

    /// Trains every entry ([`DeskStore::train`] semantics, in order) in one transaction: if any fails,
    /// nothing is written.
    async fn import_training(
        &self,
        entries: &[NewTrainingEntry],
        now: DateTime<Utc>,
    ) -> Result<ImportReport, StoreError>;

    // ----- Knowledge bases -----

    /// Creates a knowledge base, or returns the guild's one of the same name (ignoring case) unchanged.
    /// The name is trimmed; an empty one is an [`StoreError::InvalidArgument`].
    async fn create_kb(
        &self,
        guild_id: u64,
        name: &str,
        description: Option<&str>,
        created_by: u64,
        now: DateTime<Utc>,
    ) -> Result<KbCreated, StoreError>;

    /// The guild's knowledge base of this name, ignoring case.
    async fn kb_by_name(
        &self,
        guild_id: u64,
        name: &str,
    ) -> Result<Option<KnowledgeBase>, StoreError>;

    async fn kb(&self, guild_id: u64, id: i64) -> Result<Option<KnowledgeBase>, StoreError>;

    /// The guild's knowledge bases by name (ignoring case), with their entry counts.
    async fn list_kbs(&self, guild_id: u64) -> Result<Vec<KnowledgeBase>, StoreError>;

    /// Adds an entry (in the knowledge base's guild). [`StoreError::NotFound`] if there is no such
    /// knowledge base; an empty title or content is an [`StoreError::InvalidArgument`].
    async fn add_kb_entry(
        &self,
        kb_id: i64,
        entry: &NewKbEntry,
        created_by: u64,
        now: DateTime<Utc>,
    ) -> Result<KbEntry, StoreError>;

    /// The guild's knowledge-base entry `id` (of any of its knowledge bases).
    async fn kb_entry(&self, guild_id: u64, id: i64) -> Result<Option<KbEntry>, StoreError>;

    /// Replaces an entry's title, content and tags (`updated_at = now`; its knowledge base, author and
    /// `created_at` kept; the embedding cleared if the title or content changed).
    /// [`StoreError::NotFound`] if the guild has no such entry; an empty title or content is an
    /// [`StoreError::InvalidArgument`].
    async fn update_kb_entry(
        &self,
        guild_id: u64,
        id: i64,
        entry: &NewKbEntry,
        now: DateTime<Utc>,
    ) -> Result<KbEntry, StoreError>;

    /// Deletes one entry (and its index row). `false` if the guild has no such entry.
    async fn delete_kb_entry(&self, guild_id: u64, id: i64) -> Result<bool, StoreError>;

    /// A page of the knowledge base's entries, by id, and how many there are in all.
    async fn kb_entries(
        &self,
        kb_id: i64,
        offset: u64,
        limit: u32,
    ) -> Result<(Vec<KbEntry>, u64), StoreError>;

    /// Every entry of the knowledge base, by id (for export).
    async fn all_kb_entries(&self, kb_id: i64) -> Result<Vec<KbEntry>, StoreError>;

    /// Appends the entries in one transaction (nothing written if any fails) and returns how many were
    /// added. Errors as [`DeskStore::add_kb_entry`].
    async fn import_kb_entries(
        &self,
        kb_id: i64,
        entries: &[NewKbEntry],
        created_by: u64,
        now: DateTime<Utc>,
    ) -> Result<u64, StoreError>;

    /// Deletes the knowledge base with its entries (and their index rows). `false` if there is no such
    /// knowledge base in this guild.
    async fn delete_kb(&self, guild_id: u64, id: i64) -> Result<bool, StoreError>;

    // ----- Retrieval -----

    /// Full-text search of the guild's trained answers, best first, at most `limit`: the question weighs
    /// more than the tags, which weigh more than the answer. `terms` are those of
    /// [`query_terms`](disconcierge_core::desk::retrieval::query_terms) (letters and digits; any other
    /// character is dropped here); an entry matches if any term does, after stemming ("passwords" finds
    /// "password"). No usable term: no match. Each match carries its embedding only if it was computed
    /// with `embedding_model`. Reads the full-text index, never every entry.
    async fn search_training(
        &self,
        guild_id: u64,
        terms: &[String],
        limit: u32,
        embedding_model: Option<&str>,
    ) -> Result<Vec<TextMatch>, StoreError>;

    /// The same for knowledge-base entries (title above tags above content), of every knowledge base of
    /// the guild or only of `kb_id`. [`TextMatch::source`] is the knowledge base's name.
    async fn search_knowledge(
        &self,
        guild_id: u64,
        kb_id: Option<i64>,
        terms: &[String],
        limit: u32,
        embedding_model: Option<&str>,
    ) -> Result<Vec<TextMatch>, StoreError>;

    /// Entries of every guild with no embedding from `model` (never computed, computed with another
    /// model, or cleared because the text changed), at most `limit`: the kind, the id and the text to
    /// embed (a trained answer's question; a knowledge entry's title, a newline and its content).
    async fn entries_missing_embedding(
        &self,
        model: &str,
        limit: u32,
    ) -> Result<Vec<(EntryKind, i64, String)>, StoreError>;

    /// Stores an entry's embedding (as little-endian `f32` bytes) and the model that computed it. An entry
    /// deleted meanwhile is skipped without error; an empty vector is an
    /// [`StoreError::InvalidArgument`].
    async fn set_entry_embedding(
        &self,
        kind: EntryKind,
        id: i64,
        model: &str,
        vector: &[f32],
    ) -> Result<(), StoreError>;
}
