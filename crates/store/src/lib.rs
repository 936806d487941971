//! disconcierge's storage: the one crate that knows SQL.
//!
//! Everything the bot persists goes through one repository API, the [`Store`] trait, made of one trait per
//! role ([`ConfigStore`], [`AdminStore`], [`UserStore`], [`QueueStore`], [`LogStore`], [`StatsStore`],
//! [`ClusterStore`], [`InstanceStore`], [`ThrottleStore`], [`RateStore`], [`ShardStore`] and the desk's [`DeskStore`]) so a caller can
//! name the part it needs, and implemented for
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
//!   ([`QueueStore::claim_next_chat_command`]); a command whose lease expired (its worker died) is claimed
//!   again. Every later write by a worker checks that it still holds the lease.
//! * **Secrets**: database URLs are shown only through [`disconcierge_core::secret::redact_url`];
//!   interaction tokens and password hashes are stored but never logged.
//! * **Dashboard statistics** ([`StatsStore::activity`]) come from hourly rollups (`stats_hours`), written
//!   lazily when the dashboard asks for a settled hour that has none, never on the chat command path.
//! * **The support desk** (tickets, trained answers, knowledge bases and their full-text search) is
//!   [`DeskStore`], a supertrait of [`Store`] with its own design notes and test-suite (`tests/desk.rs`).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use disconcierge_core::model::{ChatCommand, NewChatCommand, User};
use disconcierge_core::secret::redact_url;
use std::fmt;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

mod connections;
mod desk;
mod error;
mod postgres;
mod roles;
mod sql;
mod sqlite;
mod terms;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
pub mod ticket_bot;
mod waiting;

pub use desk::{
    DeskStore, ImportReport, KbCreated, KnowledgeStore, TicketReservation, TicketStore,
    TrainingStore,
};
pub use error::StoreError;
pub use roles::{
    AdminStore, CHANNEL, Change, Changes, ClaimedShard, ClusterStore, ConfigStore, DESK_LLM_RATE,
    InstanceStore, LLM_RATE, LogStore, PLAYGROUND_LLM_RATE, QueueStore, RateStore, ShardHolding,
    ShardSession, ShardStore, StatsStore, ThrottleStore, UserStore,
};

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

/// A user's usage in a limit window (see [`QueueStore::usage_since`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Usage {
    /// Commands that count toward the limit.
    pub counted: u32,
    /// When the oldest of them was created.
    pub oldest: Option<DateTime<Utc>>,
}

/// What answering a claimed command needs to know about its author (see [`QueueStore::chat_context`]).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ChatContext {
    /// The author's record; `None` if there is none.
    pub user: Option<User>,
    /// When each of the author's commands that count toward the limit was created, oldest first, from
    /// the window start asked for on.
    pub counted: Vec<DateTime<Utc>>,
    /// The author's latest answered exchanges (prompt, answer), newest first, as
    /// [`QueueStore::recent_exchanges`] gives them; empty unless asked for.
    pub exchanges: Vec<(String, String)>,
}

/// A chat command to record together with its author's names (see [`QueueStore::record_chat_commands`]).
#[derive(Debug, Clone)]
pub struct NewChatCommandBy {
    /// The author's Discord names, stored (or updated) on their user row; the id is `command.user_id`.
    pub username: String,
    pub global_name: Option<String>,
    pub command: NewChatCommand,
}

/// One command of [`QueueStore::record_chat_commands`], in the order given.
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

/// What [`QueueStore::record_chat_commands`] recorded and read.
#[derive(Debug, Clone)]
pub struct RecordedBatch {
    pub commands: Vec<RecordedChatCommand>,
    /// Commands waiting for a worker before this batch (queued, or recorded and being acknowledged),
    /// tokens still valid; at most the `waiting_limit` asked for.
    pub waiting: u64,
}

/// How much rolling up [`StatsStore::activity`] does before answering, in commands read (see
/// [`StatsStore::roll_up_activity`]).
///
/// The first dashboard load on a large database finds every settled hour of the range without a rollup:
/// 720 hours of 30 days, a month of commands (1,000,000 in the admin bench: about a second of SQLite's
/// time). Reading them all would make that load slow, so each load rolls up the newest missing hours
/// until it has read this many commands (about 10 ms of work on the bench machine) and reports the rest
/// as being computed; the web layer finishes them in the background, and later loads find them stored.
/// A budget in commands read rather than in time: an hour's cost is its commands (one index seek at each
/// end, then a walk of the primary key), and the result is the same on every machine and in tests.
pub const ROLLUP_BUDGET_PER_REQUEST: u64 = 15_000;

/// What an hour costs [`StatsStore::roll_up_activity`]'s budget besides its commands (its statements), so
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

/// Every migration this binary knows for `kind`, oldest first: its version and what it does (from its
/// file name), for `disconcierge migrate --dry-run`.
pub fn known_migrations(kind: DatabaseKind) -> Vec<(i64, String)> {
    let migrator = match kind {
        DatabaseKind::Sqlite => &sqlite::MIGRATOR,
        DatabaseKind::Postgres => &postgres::MIGRATOR,
    };
    migrator
        .iter()
        .filter(|m| !m.migration_type.is_down_migration())
        .map(|m| (m.version, m.description.replace('_', " ")))
        .collect()
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
/// Its methods are grouped by role in its supertraits (`roles/`, `desk/`); the implementations are in
/// `shared/`, compiled once per backend.
#[async_trait]
pub trait Store:
    ConfigStore
    + ClusterStore
    + InstanceStore
    + ThrottleStore
    + RateStore
    + ShardStore
    + AdminStore
    + UserStore
    + QueueStore
    + LogStore
    + StatsStore
    + DeskStore
    + Send
    + Sync
    + 'static
{
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
