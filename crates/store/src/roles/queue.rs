//! Chat commands: the queue workers claim from, with leases, and what each command's answer needs.

use crate::{ChatContext, NewChatCommandBy, RecordedBatch, StoreError, Usage};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use disconcierge_core::model::{
    ChatCommand, ChatCommandFilter, ChatCommandOutcome, ChatCommandState, NewChatCommand,
    TokenUsage,
};
use std::time::Duration;

/// Chat commands: the queue workers claim from, with leases, and what each command's answer needs. A
/// supertrait of [`crate::Store`]; both backends implement it.
#[async_trait]
pub trait QueueStore: Send + Sync {
    /// Records a command. The user must exist ([`StoreError::NotFound`] otherwise); their current
    /// priority is copied onto the command. An interaction recorded twice (Discord retries, two
    /// instances) gives [`StoreError::AlreadyExists`], so exactly one recording wins.
    async fn insert_chat_command(&self, new: NewChatCommand) -> Result<ChatCommand, StoreError>;

    async fn chat_command(&self, id: i64) -> Result<Option<ChatCommand>, StoreError>;

    /// The acknowledged commands of these interactions, `received` until now, become `queued`, in one
    /// statement; how many did (an interaction without a command in `received` is skipped: admission
    /// already settled it, or it is a redelivery).
    async fn queue_acknowledged(&self, interaction_ids: &[u64]) -> Result<u64, StoreError>;

    async fn chat_command_by_interaction(
        &self,
        interaction_id: u64,
    ) -> Result<Option<ChatCommand>, StoreError>;

    /// The chat command whose answer is the message `message_id` (its first message), if any.
    async fn chat_command_by_message(&self, message_id: u64) -> Result<Option<i64>, StoreError>;

    /// Takes the next command to answer, if any, for `lease` from `now`.
    ///
    /// Candidates are queued commands and in-progress ones whose lease expired (their worker died or hung),
    /// whose interaction token is still valid; priority commands first, then the oldest. The chosen
    /// command becomes `in_progress` with `owner` holding the lease, and its `attempts` grows by one, in
    /// one atomic statement: concurrent claimers (tasks or instances) never get the same command. The
    /// caller decides what too many attempts mean (see `chat_command_max_attempts`).
    async fn claim_next_chat_command(
        &self,
        owner: &str,
        lease: Duration,
        now: DateTime<Utc>,
    ) -> Result<Option<ChatCommand>, StoreError>;

    /// [`QueueStore::claim_next_chat_command`] taking only priority users' commands (what a paused bot
    /// answers); the others stay queued, untouched.
    async fn claim_next_priority_chat_command(
        &self,
        owner: &str,
        lease: Duration,
        now: DateTime<Utc>,
    ) -> Result<Option<ChatCommand>, StoreError>;

    /// Extends a lease. `false` if `owner` no longer holds the command (another worker took it over):
    /// the caller must stop working on it.
    async fn renew_lease(
        &self,
        id: i64,
        owner: &str,
        until: DateTime<Utc>,
    ) -> Result<bool, StoreError>;

    /// Stores the model's finished answer to a command held by `owner`, and the tokens it used, before
    /// it is delivered (step `finalizing`). A command claimed again in that step (its worker stopped while
    /// delivering) keeps the step, and its answer is delivered as stored instead of asked for again: the
    /// same text, no tokens paid twice. `false` if `owner` lost the lease.
    async fn record_answer(
        &self,
        id: i64,
        owner: &str,
        response: &str,
        usage: Option<TokenUsage>,
    ) -> Result<bool, StoreError>;

    /// Ends a command held by `owner` with a final state, and releases the lease. A `None` response
    /// keeps the partial one. Consumed tokens make it count toward the user's limit (see
    /// [`ChatCommandOutcome::counts_toward_limit`]). `false` if `owner` lost the lease: then nothing is
    /// written. A non-final state is an [`StoreError::InvalidArgument`].
    async fn finish_chat_command(
        &self,
        id: i64,
        owner: &str,
        outcome: &ChatCommandOutcome,
    ) -> Result<bool, StoreError>;

    /// Gives a command held by `owner` back to the queue (e.g. a retryable failure, or shutdown), keeping
    /// its attempt count; `error`, if given, records why. `false` if `owner` lost the lease.
    async fn requeue_chat_command(
        &self,
        id: i64,
        owner: &str,
        error: Option<&str>,
    ) -> Result<bool, StoreError>;

    /// Moves a command that nobody holds from one state to another (e.g. `received` → `queued` once
    /// admitted, `queued` → `aborted` by an admin). `false` if it was not in state `from`. Moving into a
    /// final state sets `finished_at`. Commands `in_progress` are their worker's: use the lease-guarded
    /// methods for them (`from = InProgress` is an [`StoreError::InvalidArgument`]).
    async fn transition_chat_command(
        &self,
        id: i64,
        from: ChatCommandState,
        to: ChatCommandState,
    ) -> Result<bool, StoreError>;

    /// Marks as `expired` the live commands whose interaction token ran out by `now` (they can no
    /// longer be answered), except those a worker is still holding. Returns how many.
    async fn expire_chat_commands(&self, now: DateTime<Utc>) -> Result<u64, StoreError>;

    /// Expires queued commands created before `cutoff` (they waited longer than `DC_QUEUE_MAX_AGE`) and
    /// returns them, so their users can be told.
    async fn expire_stale_queued(
        &self,
        cutoff: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<Vec<ChatCommand>, StoreError>;

    /// Commands waiting for a worker (queued, or recorded and being acknowledged), leaving out `except`
    /// (the command being admitted): the queue's length for admission.
    async fn waiting_count(&self, except: i64, now: DateTime<Utc>) -> Result<u64, StoreError>;

    /// The oldest waiting command (see [`QueueStore::waiting_count`]), or the oldest non-priority one when
    /// `non_priority_only`: the one a full queue drops.
    async fn oldest_waiting(
        &self,
        non_priority_only: bool,
        except: i64,
        now: DateTime<Utc>,
    ) -> Result<Option<ChatCommand>, StoreError>;

    /// Queues commands left in `received` (created before `cutoff`) whose token still lives at `now`;
    /// returns how many. Run at startup, so nothing recorded is stranded by a crash.
    async fn requeue_received(
        &self,
        cutoff: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<u64, StoreError>;

    /// The user's usage in the window starting at `since` (with `since = now - 6h`, their current usage):
    /// how many of their commands created then or later count toward the limit (consumed tokens), and
    /// when the oldest of those was created (the user gets a command back 6 h after it).
    async fn usage_since(&self, user_id: u64, since: DateTime<Utc>) -> Result<Usage, StoreError>;

    /// Records several new chat commands, with what admitting them needs to know: each author is
    /// created or renamed (as [`UserStore::upsert_user`](crate::UserStore::upsert_user)) and comes back with — read before any command of
    /// the batch is recorded — their usage since `since` and whether they have a command in flight, with
    /// how many commands wait for a worker (tokens valid at `now`; counted up to `waiting_limit` only);
    /// then the commands are recorded (as [`QueueStore::insert_chat_command`], in the order given, so ids
    /// follow it). The result has one entry per command, in the order given.
    ///
    /// The acknowledgement path records whatever has arrived in one batch: two statements for the batch
    /// instead of about five statements per command. They are not one transaction: authors may be stored
    /// when recording their commands then fails (the caller tells the users; nothing was acknowledged).
    async fn record_chat_commands(
        &self,
        batch: &[NewChatCommandBy],
        since: DateTime<Utc>,
        now: DateTime<Utc>,
        waiting_limit: u64,
    ) -> Result<RecordedBatch, StoreError>;

    /// The user's latest answered exchanges (prompt, answer) since `since` and since their last `/clear`,
    /// newest first, at most `limit`, leaving out `except` (the command being answered): the conversation
    /// history for providers without server-side conversations, in one statement.
    async fn recent_exchanges(
        &self,
        user_id: u64,
        since: DateTime<Utc>,
        except: i64,
        limit: u32,
    ) -> Result<Vec<(String, String)>, StoreError>;

    /// What answering command `except` needs to know about its author `user_id`, read at once (on SQLite
    /// in one hand-off to the connection's thread, as one statement list): their record; the creation
    /// times of their commands counting toward the limit created at `window_start` or later (the usage
    /// line is computed from them once the answer is ready, when the window has moved on: the
    /// one-command-in-flight rule keeps any other command of theirs from being counted meanwhile); and,
    /// with `history = Some(limit)`, their exchanges as [`QueueStore::recent_exchanges`] gives them since
    /// their conversation was last reset (`conversation_reset_at`), leaving out `except`.
    async fn chat_context(
        &self,
        user_id: u64,
        window_start: DateTime<Utc>,
        except: i64,
        history: Option<u32>,
    ) -> Result<ChatContext, StoreError>;

    /// Chat commands matching `filter`, newest first (highest id), at most `limit`. Every filter is served
    /// by an index, so a page costs the same on a million rows as on a hundred.
    async fn list_chat_commands(
        &self,
        filter: &ChatCommandFilter,
        limit: u32,
    ) -> Result<Vec<ChatCommand>, StoreError>;

    /// Whether the user has a command recorded, waiting or being answered, other than `except`.
    async fn user_in_flight(&self, user_id: u64, except: i64) -> Result<bool, StoreError>;

    /// How many commands wait in the queue (not counting those being answered).
    async fn queued_count(&self) -> Result<u64, StoreError>;
}
