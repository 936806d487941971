//! disconcierge's storage: the one crate that knows SQL.
//!
//! Everything the bot persists goes through one repository API, the [`Store`] trait, implemented for
//! SQLite (a single file; the default for one instance) and PostgreSQL (for several instances sharing a
//! queue). Both backends run the same queries wherever the SQL is the same and pass the same test-suite
//! (`tests/repository.rs`), so the rest of the code never needs to know which one it talks to.
//!
//! # Design notes
//!
//! * **Schema** lives in `migrations/sqlite` and `migrations/postgres`, one versioned (not reversible)
//!   migration set per backend, embedded in the binary. [`Store::migrate`] applies what is pending;
//!   [`Store::migration_status`] tells whether the database is behind (pending migrations) or ahead (applied
//!   migrations this binary does not know: it was migrated by a newer disconcierge) of the binary.
//! * **Time** always comes from the application (`now` parameters or `Utc::now()` here), never from the
//!   database's clock, so that both backends behave alike and tests can control it. Timestamps are kept
//!   with microsecond precision.
//! * **Discord ids** are `u64` in the domain and stored in signed 64-bit columns; the cast is lossless both
//!   ways.
//! * **The queue** is the `chat_commands` table. Workers claim commands with a lease
//!   ([`Store::claim_next_chat_command`]); a command whose lease expired (its worker died) is claimed
//!   again. Every later write by a worker checks that it still holds the lease.
//! * **Secrets**: database URLs are shown only through [`disconcierge_core::secret::redact_url`];
//!   interaction tokens and password hashes are stored but never logged.
//! * **Dashboard statistics** ([`Store::activity`]) come from hourly rollups (`stats_hours`), written
//!   lazily when the dashboard asks for a settled hour that has none, never on the chat command path.
//! * **The support desk** (tickets, trained answers, knowledge bases and their full-text search) is
//!   [`DeskStore`], a supertrait of [`Store`] with its own design notes and test-suite (`tests/desk.rs`).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use disconcierge_core::RuntimeConfig;
use disconcierge_core::model::{
    AdminAccount, AdminSession, ApiToken, ChatCommand, ChatCommandFilter, ChatCommandOutcome,
    ChatCommandState, ClearCommand, DiscordMessage, DiscordMessageFilter, FeedbackFilter,
    FeedbackKind, InteractionLog, InteractionLogFilter, LlmCallLog, NewChatCommand,
    RuntimeConfigHistoryEntry, StoredDiscordMessage, StoredFeedback, StoredInteractionLog,
    StoredLlmCall, StoredRuntimeConfig, TokenUsage, User, UserFeedback, UserFilter,
};
use disconcierge_core::secret::redact_url;
use disconcierge_core::stats::{Activity, StatsRange};
use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

mod connections;
mod desk;
mod error;
mod postgres;
mod sql;
mod sqlite;
mod terms;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
mod waiting;

pub use desk::{DeskStore, ImportReport, KbCreated, TicketReservation};
pub use error::StoreError;

/// Which database a store talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DatabaseKind {
    Sqlite,
    Postgres,
}

impl DatabaseKind {
    pub fn as_str(self) -> &'static str {
        match self {
            DatabaseKind::Sqlite => "sqlite",
            DatabaseKind::Postgres => "postgres",
        }
    }
}

impl fmt::Display for DatabaseKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            DatabaseKind::Sqlite => "SQLite",
            DatabaseKind::Postgres => "PostgreSQL",
        })
    }
}

/// Reads `sqlite` (also `sqlite3`) and `postgres` (also `postgresql`, `pg`), in any case.
impl FromStr for DatabaseKind {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "sqlite" | "sqlite3" => Ok(DatabaseKind::Sqlite),
            "postgres" | "postgresql" | "pg" => Ok(DatabaseKind::Postgres),
            _ => Err(format!(
                "unknown database type {s:?}; expected sqlite or postgres"
            )),
        }
    }
}

/// How to reach the database.
#[derive(Clone)]
pub struct ConnectOptions {
    pub kind: DatabaseKind,
    /// SQLite: a file path (created with its directory if missing) or a `sqlite:` URL.
    /// PostgreSQL: a `postgres://` URL. May contain a password: it is never shown (see the `Debug` impl).
    pub url_or_path: String,
    /// Statements slower than this are logged at WARN (target `sqlx::query`); every statement is logged at
    /// TRACE.
    pub slow_threshold: Duration,
    /// Upper bound on pooled connections. SQLite uses at most [`SQLITE_MAX_CONNECTIONS`] of them, since its
    /// writes serialize anyway.
    pub max_connections: u32,
}

/// SQLite allows one writer at a time; more connections only help concurrent readers (WAL mode).
pub const SQLITE_MAX_CONNECTIONS: u32 = 4;

impl ConnectOptions {
    /// SQLite at a path, with defaults for the rest.
    pub fn sqlite(path: impl Into<String>) -> Self {
        ConnectOptions {
            kind: DatabaseKind::Sqlite,
            url_or_path: path.into(),
            slow_threshold: Duration::from_millis(200),
            max_connections: SQLITE_MAX_CONNECTIONS,
        }
    }

    /// PostgreSQL at a URL, with defaults for the rest.
    pub fn postgres(url: impl Into<String>) -> Self {
        ConnectOptions {
            kind: DatabaseKind::Postgres,
            url_or_path: url.into(),
            slow_threshold: Duration::from_millis(200),
            max_connections: 10,
        }
    }

    /// The location with any password replaced by `***`, fit for logs and error messages.
    pub fn redacted_location(&self) -> String {
        redact_url(&self.url_or_path)
    }
}

impl fmt::Debug for ConnectOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConnectOptions")
            .field("kind", &self.kind)
            .field("url_or_path", &self.redacted_location())
            .field("slow_threshold", &self.slow_threshold)
            .field("max_connections", &self.max_connections)
            .finish()
    }
}

/// Opens a connection pool. Does not migrate: call [`Store::migration_status`] or [`Store::migrate`]
/// next, so that the caller decides whether a schema change may happen now.
pub async fn connect(opts: &ConnectOptions) -> Result<Arc<dyn Store>, StoreError> {
    Ok(match opts.kind {
        DatabaseKind::Sqlite => Arc::new(sqlite::Backend::connect(opts).await?),
        DatabaseKind::Postgres => Arc::new(postgres::Backend::connect(opts).await?),
    })
}

/// A user's usage in a limit window (see [`Store::usage_since`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Usage {
    /// Commands that count toward the limit.
    pub counted: u32,
    /// When the oldest of them was created.
    pub oldest: Option<DateTime<Utc>>,
}

/// What answering a claimed command needs to know about its author (see [`Store::chat_context`]).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ChatContext {
    /// The author's record; `None` if there is none.
    pub user: Option<User>,
    /// When each of the author's commands that count toward the limit was created, oldest first, from
    /// the window start asked for on.
    pub counted: Vec<DateTime<Utc>>,
    /// The author's latest answered exchanges (prompt, answer), newest first, as
    /// [`Store::recent_exchanges`] gives them; empty unless asked for.
    pub exchanges: Vec<(String, String)>,
}

/// A chat command to record together with its author's names (see [`Store::record_chat_commands`]).
#[derive(Debug, Clone)]
pub struct NewChatCommandBy {
    /// The author's Discord names, stored (or updated) on their user row; the id is `command.user_id`.
    pub username: String,
    pub global_name: Option<String>,
    pub command: NewChatCommand,
}

/// One command of [`Store::record_chat_commands`], in the order given.
#[derive(Debug, Clone)]
pub struct RecordedChatCommand {
    /// The author, as stored after this batch.
    pub user: User,
    /// The command as recorded; `None` when its interaction was recorded before (Discord delivered it
    /// twice, or another instance got it first), or earlier in the same batch: the first recording answers.
    pub command: Option<ChatCommand>,
    /// The author's usage in the window, before this batch.
    pub usage: Usage,
    /// The author had a command received, queued or being answered before this batch.
    pub in_flight: bool,
}

/// What [`Store::record_chat_commands`] recorded and read.
#[derive(Debug, Clone)]
pub struct RecordedBatch {
    pub commands: Vec<RecordedChatCommand>,
    /// Commands waiting for a worker before this batch (queued, or recorded and being acknowledged),
    /// tokens still valid; at most the `waiting_limit` asked for.
    pub waiting: u64,
}

/// How much rolling up [`Store::activity`] does before answering, in commands read (see
/// [`Store::roll_up_activity`]).
///
/// The first dashboard load on a large database finds every settled hour of the range without a rollup:
/// 720 hours of 30 days, a month of commands (1,000,000 in the admin bench: about a second of SQLite's
/// time). Reading them all would make that load slow, so each load rolls up the newest missing hours
/// until it has read this many commands (about 10 ms of work on the bench machine) and reports the rest
/// as being computed; the web layer finishes them in the background, and later loads find them stored.
/// A budget in commands read rather than in time: an hour's cost is its commands (one index seek at each
/// end, then a walk of the primary key), and the result is the same on every machine and in tests.
pub const ROLLUP_BUDGET_PER_REQUEST: u64 = 15_000;

/// What an hour costs [`Store::roll_up_activity`]'s budget besides its commands (its statements), so
/// that a long quiet period is not read at once either.
pub const ROLLUP_HOUR_COST: u64 = 200;

/// What [`Store::migrate`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MigrationReport {
    /// Versions applied by this call, oldest first. Empty when the schema was already current.
    pub applied: Vec<i64>,
    /// The state after migrating.
    pub status: MigrationStatus,
}

/// How the database's schema compares with the migrations built into this binary.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MigrationStatus {
    /// Versions known to this binary and applied, oldest first.
    pub applied: Vec<i64>,
    /// Versions known to this binary and not applied yet.
    pub pending: Vec<i64>,
    /// Versions applied in the database that this binary does not know: a newer disconcierge migrated it.
    pub unknown: Vec<i64>,
    /// Versions whose applied SQL differs from this binary's (a different build migrated the database).
    pub modified: Vec<i64>,
    /// Versions that started but did not finish (left "dirty").
    pub failed: Vec<i64>,
}

impl MigrationStatus {
    /// Whether the schema is exactly what this binary expects.
    pub fn is_current(&self) -> bool {
        self.pending.is_empty()
            && self.unknown.is_empty()
            && self.modified.is_empty()
            && self.failed.is_empty()
    }

    /// Errors for a schema this binary must not touch (too new, modified, half-applied). Pending
    /// migrations are fine here: [`Store::migrate`] applies them.
    pub fn ensure_migratable(&self) -> Result<(), StoreError> {
        if !self.unknown.is_empty() {
            return Err(StoreError::SchemaTooNew {
                unknown: self.unknown.clone(),
            });
        }
        if let Some(&version) = self.failed.first() {
            return Err(StoreError::MigrationFailed { version });
        }
        if let Some(&version) = self.modified.first() {
            return Err(StoreError::MigrationModified { version });
        }
        Ok(())
    }

    /// Errors unless [`MigrationStatus::is_current`]: what to check before serving with an existing schema.
    pub fn ensure_current(&self) -> Result<(), StoreError> {
        self.ensure_migratable()?;
        if !self.pending.is_empty() {
            return Err(StoreError::SchemaOutdated {
                pending: self.pending.clone(),
            });
        }
        Ok(())
    }
}

/// Compares the migrations built into the binary (`known`: version, checksum) with those recorded in the
/// database (`applied`: version, success, checksum).
fn compare_migrations(known: &[(i64, &[u8])], applied: &[(i64, bool, Vec<u8>)]) -> MigrationStatus {
    let mut status = MigrationStatus::default();
    for (version, success, checksum) in applied {
        match known.iter().find(|(v, _)| v == version) {
            None => status.unknown.push(*version),
            Some(_) if !success => status.failed.push(*version),
            Some((_, known_sum)) if *known_sum != checksum.as_slice() => {
                status.modified.push(*version)
            }
            Some(_) => status.applied.push(*version),
        }
    }
    status.pending = known
        .iter()
        .map(|(v, _)| *v)
        .filter(|v| !applied.iter().any(|(a, _, _)| a == v))
        .collect();
    status
}

/// The case-insensitive form of an admin username, which is what is unique and what logins look up.
fn username_key(username: &str) -> String {
    username.to_lowercase()
}

/// The repository: every read and write of the application's data.
///
/// Obtain one with [`connect`]. All methods behave identically on SQLite and PostgreSQL. Methods that
/// change one row by id return [`StoreError::NotFound`] when there is no such row, unless documented
/// otherwise; lease-guarded methods return `false` instead, because losing a lease is an expected event.
/// The support desk's storage is its supertrait [`DeskStore`].
#[async_trait]
pub trait Store: DeskStore + Send + Sync + 'static {
    // ----- Foundation -----

    fn kind(&self) -> DatabaseKind;

    /// Forgets what this process cached from the database (how common each search term is); the admin
    /// action "reload" does it with the configuration.
    fn clear_caches(&self);

    /// Checks that the database answers (for health checks).
    async fn ping(&self) -> Result<(), StoreError>;

    /// Applies pending migrations. Refuses, without changing anything, a database migrated by a newer
    /// disconcierge ([`StoreError::SchemaTooNew`]) or one whose applied migrations differ from this
    /// binary's. Safe to run concurrently from several instances (PostgreSQL takes a lock).
    async fn migrate(&self) -> Result<MigrationReport, StoreError>;

    /// Compares the database's applied migrations with this binary's, without changing anything.
    async fn migration_status(&self) -> Result<MigrationStatus, StoreError>;

    /// Closes the pool, waiting for connections in use to be returned.
    async fn close(&self);

    // ----- Runtime configuration -----

    /// The stored runtime configuration, or `None` before the first save.
    async fn load_runtime_config(&self) -> Result<Option<StoredRuntimeConfig>, StoreError>;

    /// Saves the runtime configuration and appends it to the history, atomically.
    ///
    /// `expected_version` gives optimistic concurrency to editors: `Some(v)` saves only if the stored
    /// version is still `v` (`Some(0)`: only if nothing is stored yet), otherwise returns
    /// [`StoreError::Conflict`] and changes nothing. `None` saves unconditionally (insert or overwrite);
    /// meant for the application itself, e.g. importing settings at first start. The returned version is
    /// the stored one plus one (1 for the first save).
    async fn save_runtime_config(
        &self,
        config: &RuntimeConfig,
        expected_version: Option<i64>,
        updated_by: Option<&str>,
    ) -> Result<StoredRuntimeConfig, StoreError>;

    /// The latest `limit` saved versions, newest first.
    async fn runtime_config_history(
        &self,
        limit: u32,
    ) -> Result<Vec<RuntimeConfigHistoryEntry>, StoreError>;

    // ----- Admin accounts and sessions -----

    /// Creates an admin. Usernames are unique regardless of case ([`StoreError::AlreadyExists`]); the
    /// spelling given here is kept for display. `password_hash` is the caller's argon2id PHC string.
    async fn create_admin(
        &self,
        username: &str,
        password_hash: &str,
    ) -> Result<AdminAccount, StoreError>;

    async fn admin(&self, id: i64) -> Result<Option<AdminAccount>, StoreError>;

    /// Looks an admin up by username, ignoring case (for logins).
    async fn admin_by_username(&self, username: &str) -> Result<Option<AdminAccount>, StoreError>;

    /// Every admin, by username.
    async fn list_admins(&self) -> Result<Vec<AdminAccount>, StoreError>;

    /// How many admins exist (zero means the setup flow must create the first one).
    async fn count_admins(&self) -> Result<u64, StoreError>;

    /// Replaces an admin's password hash and, in the same transaction, revokes all of that admin's
    /// sessions: whoever knew the old password is logged out. Create a new session afterwards to keep the
    /// current user logged in.
    async fn update_admin_password(&self, id: i64, password_hash: &str) -> Result<(), StoreError>;

    /// Deletes an admin and their sessions.
    async fn delete_admin(&self, id: i64) -> Result<(), StoreError>;

    /// Records a session. `token_hash` is a hash of the session token (never the token itself), so a copy
    /// of the database does not hand out logins.
    async fn create_admin_session(
        &self,
        admin_id: i64,
        token_hash: &str,
        expires_at: DateTime<Utc>,
    ) -> Result<AdminSession, StoreError>;

    /// The session with this token hash, if it exists and has not expired.
    async fn admin_session(&self, token_hash: &str) -> Result<Option<AdminSession>, StoreError>;

    /// Logs one session out. Returns whether it existed.
    async fn delete_admin_session(&self, token_hash: &str) -> Result<bool, StoreError>;

    /// Logs an admin out everywhere. Returns how many sessions were removed.
    async fn delete_admin_sessions_for(&self, admin_id: i64) -> Result<u64, StoreError>;

    /// Stores a new API token (its hash); `NotFound` when the admin does not exist.
    async fn create_api_token(
        &self,
        admin_id: i64,
        name: &str,
        token_hash: &str,
        prefix: &str,
        expires_at: Option<DateTime<Utc>>,
    ) -> Result<ApiToken, StoreError>;

    /// The unexpired token with this hash.
    async fn api_token(&self, token_hash: &str) -> Result<Option<ApiToken>, StoreError>;

    /// Every token, newest first (expired ones too, so they can be seen and removed).
    async fn list_api_tokens(&self) -> Result<Vec<ApiToken>, StoreError>;

    /// Revokes a token; false when there was none with this id.
    async fn delete_api_token(&self, id: i64) -> Result<bool, StoreError>;

    /// Records that a token was used at `at`.
    async fn touch_api_token(&self, id: i64, at: DateTime<Utc>) -> Result<(), StoreError>;

    /// Removes expired sessions (housekeeping). Returns how many were removed.
    async fn delete_expired_sessions(&self) -> Result<u64, StoreError>;

    // ----- Users -----

    /// Records a user seen on Discord, or refreshes their names. Settings (priority, ignored, limits, LLM
    /// overrides, conversation) of an existing user are kept.
    async fn upsert_user(
        &self,
        discord_id: u64,
        username: &str,
        global_name: Option<&str>,
    ) -> Result<User, StoreError>;

    async fn user(&self, discord_id: u64) -> Result<Option<User>, StoreError>;

    /// Users matching `filter`, in its order, at most `limit`.
    async fn list_users(&self, filter: &UserFilter, limit: u32) -> Result<Vec<User>, StoreError>;

    /// Priority users go first in the queue. Applies to commands recorded from now on.
    async fn set_user_priority(&self, discord_id: u64, priority: bool) -> Result<User, StoreError>;

    async fn set_user_ignored(&self, discord_id: u64, ignored: bool) -> Result<User, StoreError>;

    /// Commands per 6 hours for this user; `None` returns to the configured default.
    async fn set_user_limit_override(
        &self,
        discord_id: u64,
        limit: Option<u32>,
    ) -> Result<User, StoreError>;

    /// Per-user LLM settings; each `None` returns that setting to the configured default.
    async fn set_user_llm_overrides(
        &self,
        discord_id: u64,
        model: Option<String>,
        instructions: Option<String>,
        temperature: Option<f32>,
    ) -> Result<User, StoreError>;

    /// The user's current LLM conversation; `None` makes the next command start a new one (`/clear`).
    async fn set_user_conversation(
        &self,
        discord_id: u64,
        conversation_id: Option<String>,
    ) -> Result<User, StoreError>;

    /// Every user's next `/chat` starts a new conversation (the admin action "clear all conversations"):
    /// forgets every OpenAI conversation and marks `now` as where kept histories start. How many users.
    async fn clear_all_conversations(&self, now: DateTime<Utc>) -> Result<u64, StoreError>;

    // ----- Chat commands (the queue) -----

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

    /// The oldest waiting command (see [`Store::waiting_count`]), or the oldest non-priority one when
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
    /// created or renamed (as [`Store::upsert_user`]) and comes back with — read before any command of
    /// the batch is recorded — their usage since `since` and whether they have a command in flight, with
    /// how many commands wait for a worker (tokens valid at `now`; counted up to `waiting_limit` only);
    /// then the commands are recorded (as [`Store::insert_chat_command`], in the order given, so ids
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
    /// with `history = Some(limit)`, their exchanges as [`Store::recent_exchanges`] gives them since
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

    // ----- Logs and feedback -----

    /// Returns the new row's id.
    async fn insert_interaction_log(&self, log: &InteractionLog) -> Result<i64, StoreError>;

    /// Several at once, in one statement (the interaction logger batches what arrives together).
    async fn insert_interaction_logs(&self, logs: &[InteractionLog]) -> Result<(), StoreError>;

    /// Returns the new row's id.
    async fn insert_discord_message(&self, message: &DiscordMessage) -> Result<i64, StoreError>;

    /// The latest `limit` kept messages, newest first.
    async fn recent_discord_messages(&self, limit: u32) -> Result<Vec<DiscordMessage>, StoreError>;

    /// Returns the new row's id.
    async fn insert_llm_call_log(&self, log: &LlmCallLog) -> Result<i64, StoreError>;

    /// Inserts several call logs, in the order given, in one statement: under load the logs of many
    /// answers cost one write instead of one each (the caller keeps batches to a few hundred, so that
    /// the write stays short). All or none: when one cannot be inserted (it names a command that is not
    /// there), none is, and the caller may insert them one by one with [`Store::insert_llm_call_log`].
    async fn insert_llm_call_logs(&self, logs: &[LlmCallLog]) -> Result<(), StoreError>;

    /// Records a `/clear`. An interaction recorded twice gives [`StoreError::AlreadyExists`]. Returns the
    /// new row's id.
    async fn insert_clear_command(&self, clear: &ClearCommand) -> Result<i64, StoreError>;

    /// When the user last used `/clear` (for its cooldown).
    async fn last_clear_command(&self, user_id: u64) -> Result<Option<DateTime<Utc>>, StoreError>;

    /// Records feedback. Returns `false`, without error, for a repeated vote (same user, answer and
    /// kind), which is not recorded; free-text [`FeedbackKind::Other`] is always recorded. The chat
    /// command must exist ([`StoreError::NotFound`]).
    async fn insert_user_feedback(&self, feedback: &UserFeedback) -> Result<bool, StoreError>;

    /// Every LLM call made for one chat command, oldest first.
    /// Messages about the bot matching `filter`, newest first, at most `limit` (each filter served by an
    /// index).
    async fn list_discord_messages(
        &self,
        filter: &DiscordMessageFilter,
        limit: u32,
    ) -> Result<Vec<StoredDiscordMessage>, StoreError>;

    /// Interaction logs matching `filter`, newest first, at most `limit` (each filter served by an index).
    async fn list_interaction_logs(
        &self,
        filter: &InteractionLogFilter,
        limit: u32,
    ) -> Result<Vec<StoredInteractionLog>, StoreError>;

    async fn interaction_log(&self, id: i64) -> Result<Option<StoredInteractionLog>, StoreError>;

    /// Feedback matching `filter`, newest first, at most `limit` (each filter served by an index).
    async fn list_feedback(
        &self,
        filter: &FeedbackFilter,
        limit: u32,
    ) -> Result<Vec<StoredFeedback>, StoreError>;

    async fn llm_calls_for_command(
        &self,
        chat_command_id: i64,
    ) -> Result<Vec<StoredLlmCall>, StoreError>;

    /// Every feedback received on one answer, oldest first.
    async fn feedback_for_command(
        &self,
        chat_command_id: i64,
    ) -> Result<Vec<StoredFeedback>, StoreError>;

    /// The latest feedback a user gave, newest first, at most `limit`.
    async fn feedback_by_user(
        &self,
        user_id: u64,
        limit: u32,
    ) -> Result<Vec<StoredFeedback>, StoreError>;

    /// Votes per kind on one answer; kinds without votes are absent.
    async fn feedback_counts(
        &self,
        chat_command_id: i64,
    ) -> Result<BTreeMap<FeedbackKind, u32>, StoreError>;

    // ----- Dashboard statistics -----

    /// The dashboard's series over `range` at `now`: per bucket, chat commands by outcome, tokens,
    /// latency percentiles, feedback per kind, tickets opened and closed (see `core::stats`).
    ///
    /// Settled hours (ended more than an hour before `now`) are read from their rollup. Those without
    /// one are rolled up first, newest first, within [`ROLLUP_BUDGET_PER_REQUEST`]; any left are counted
    /// in `pending_hours` and their buckets marked incomplete ([`Store::roll_up_activity`] finishes them).
    /// The last two hours are computed afresh each time and never stored; tickets are counted live.
    async fn activity(&self, range: StatsRange, now: DateTime<Utc>)
    -> Result<Activity, StoreError>;

    /// Rolls up the settled hours from `since` to `now` that have no rollup yet, newest first, until
    /// `budget` is spent (commands read plus [`ROLLUP_HOUR_COST`] per hour read; at least one hour is
    /// always rolled up). Hours before the first command and the first feedback cost nothing. A rollup is
    /// computed from `chat_commands` and `user_feedback` once and never changed; computing the same hour
    /// in several instances at once is harmless (the first insert stays). Returns how many settled hours
    /// from `since` are still without a rollup.
    async fn roll_up_activity(
        &self,
        since: DateTime<Utc>,
        now: DateTime<Utc>,
        budget: u64,
    ) -> Result<u32, StoreError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_kind_names() {
        assert_eq!(
            "PostgreSQL".parse::<DatabaseKind>().unwrap(),
            DatabaseKind::Postgres
        );
        assert_eq!(
            "sqlite3".parse::<DatabaseKind>().unwrap(),
            DatabaseKind::Sqlite
        );
        let err = "mysql".parse::<DatabaseKind>().unwrap_err();
        assert!(err.contains("sqlite or postgres"), "{err}");
        assert_eq!(DatabaseKind::Postgres.as_str(), "postgres");
    }

    #[test]
    fn connect_options_debug_hides_the_password() {
        let opts = ConnectOptions::postgres("postgres://dc:hunter2@db/dc");
        let dbg = format!("{opts:?}");
        assert!(!dbg.contains("hunter2"), "{dbg}");
        assert!(dbg.contains("postgres://dc:***@db/dc"), "{dbg}");
    }

    #[test]
    fn migration_status_verdicts() {
        let current = MigrationStatus {
            applied: vec![1, 2],
            ..Default::default()
        };
        assert!(current.is_current());
        current.ensure_current().unwrap();

        let behind = MigrationStatus {
            applied: vec![1],
            pending: vec![2],
            ..Default::default()
        };
        assert!(!behind.is_current());
        behind.ensure_migratable().unwrap();
        assert!(matches!(
            behind.ensure_current(),
            Err(StoreError::SchemaOutdated { .. })
        ));

        let ahead = MigrationStatus {
            applied: vec![1, 2],
            unknown: vec![3],
            ..Default::default()
        };
        assert!(!ahead.is_current());
        let err = ahead.ensure_migratable().unwrap_err();
        assert!(matches!(err, StoreError::SchemaTooNew { .. }));
        assert!(err.to_string().contains("upgrade"), "{err}");
    }

    #[test]
    fn compares_known_and_applied_migrations() {
        let known: Vec<(i64, &[u8])> = vec![(1, b"a"), (2, b"b"), (3, b"c")];
        let applied = vec![
            (1, true, b"a".to_vec()),
            (2, true, b"x".to_vec()),
            (4, true, b"d".to_vec()),
        ];
        let s = compare_migrations(&known, &applied);
        assert_eq!(s.applied, [1]);
        assert_eq!(s.modified, [2]);
        assert_eq!(s.pending, [3]);
        assert_eq!(s.unknown, [4]);
        assert!(s.failed.is_empty());

        let s = compare_migrations(&known, &[(1, false, b"a".to_vec())]);
        assert_eq!(s.failed, [1]);
        assert_eq!(s.pending, [2, 3]);
        assert!(matches!(
            s.ensure_migratable(),
            Err(StoreError::MigrationFailed { version: 1 })
        ));

        let fresh = compare_migrations(&known, &[]);
        assert_eq!(fresh.pending, [1, 2, 3]);
        assert!(!fresh.is_current());
    }

    #[test]
    fn usernames_compare_without_case() {
        assert_eq!(username_key("Admin"), username_key("aDMIN"));
        assert_eq!(username_key("ÉLODIE"), "élodie");
    }
}
