//! The store's implementation, compiled once per backend: `sqlite.rs` and `postgres.rs` each declare
//! this folder as their module `shared` (`#[path = "shared/mod.rs"]`), so the same method bodies are
//! compiled against `sqlx::Sqlite` and against `sqlx::Postgres` (sqlx's generic bounds would make one
//! generic implementation far harder to read), and rustfmt formats them like any module.
//!
//! Each backend module defines what this code takes from it (`use super::*`):
//!
//! * `Db` (the sqlx database type) and `DbRow` (its row type);
//! * `struct Backend`, its `async fn writer(&self)` (a connection for a write, to use as `&mut *conn`;
//!   `writer_first` for the acknowledgement path, ahead of other writes waiting),
//!   `async fn reader(&self)` (the same for a read), `async fn close_connections(&self)` and
//!   `const KIND: DatabaseKind`;
//! * `MIGRATOR`, the embedded migrations;
//! * `ts(DateTime<Utc>)`, which turns a timestamp into the value bound for the backend's timestamp columns;
//! * `begin_write(&mut connection)`, which starts a transaction that will write;
//! * `CLAIM` (and `CLAIM_PRIORITY`, the same for priority users only), `QUEUE_ACKNOWLEDGED`, `EXPIRE_CHAT_COMMANDS` and `MIGRATIONS_TABLE_EXISTS`, the
//!   dialect-specific statements;
//! * `INSERT_LLM_CALL_LOGS`, call logs from one JSON array;
//! * `RESERVE_SLOT`, the reservation of a shared rate's next slot (`None` on SQLite: see
//!   [`crate::RateStore`]);
//! * `record_batch(counted)`, the two statements of `record_chat_commands` as one statement list where
//!   the backend runs such lists with parameters (SQLite), else `None`; `chat_context_list(history)`, the
//!   same for `chat_context`;
//! * `fn waiting_bound(&self) -> Option<&WaitingBound>`, the bound on waiting commands this process keeps
//!   (SQLite) or `None` (PostgreSQL: other instances record commands too);
//! * for the desk (`desk/`): `OPEN_TICKET_LOCKED`, `TRAINING_BY_KEY_LOCKED`, `SEARCH_TRAINING`,
//!   `SEARCH_KNOWLEDGE`, `Backend::full_text_query`, `PLAN_EACH_SEARCH` (a search is planned
//!   with its terms each time rather than prepared once) and `Backend::after_import(table)` (what a
//!   bulk import of trained answers or knowledge entries leaves to do for fast searches).
//!
//! Here: value conversions and the foundation of [`crate::Store`] (migrations, ping, close); the row
//! mappers in `rows.rs`; one module per role trait (`config`, `admins`, `users`, `queue`, `logs`,
//! `stats`, `desk`).

use super::*;
use crate::sql;
use crate::{
    ChatContext, DatabaseKind, MigrationReport, MigrationStatus, NewChatCommandBy, RecordedBatch,
    RecordedChatCommand, Store, StoreError, Usage,
};
use async_trait::async_trait;
use chrono::{DateTime, TimeDelta, Utc};
use disconcierge_core::RuntimeConfig;
use disconcierge_core::model::{
    AdminAccount, AdminSession, ApiToken, ChatCommand, ChatCommandFilter, ChatCommandOutcome,
    ChatCommandState, ChatCommandStep, ClearCommand, DiscordMessage, DiscordMessageFilter,
    FeedbackFilter, FeedbackKind, InteractionLog, InteractionLogFilter, LlmCallLog, NewChatCommand,
    RuntimeConfigHistoryEntry, StoredDiscordMessage, StoredFeedback, StoredInteractionLog,
    StoredLlmCall, StoredRuntimeConfig, TokenUsage, UnknownVariant, User, UserFeedback, UserFilter,
    UserSort,
};
use disconcierge_core::stats::{
    self, Activity, HourStats, LatencyHistogram, StatsRange, TicketCounts,
};
use sqlx::types::Json;
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

// ----- Value conversions -----

/// A Discord id as stored: the same 64 bits, read as signed. Lossless both ways.
fn id(v: u64) -> i64 {
    v as i64
}

fn opt_id(v: Option<u64>) -> Option<i64> {
    v.map(id)
}

/// A new chat command's step and end when recorded: a command refused at once is recorded done. One
/// being answered must be claimed, never recorded as such.
fn step_when_recorded(
    new: &NewChatCommand,
) -> Result<(ChatCommandStep, Option<DateTime<Utc>>), StoreError> {
    match new.state {
        ChatCommandState::InProgress => Err(StoreError::InvalidArgument(
            "a chat command cannot be recorded in_progress: it must be claimed".into(),
        )),
        state if state.is_terminal() => Ok((ChatCommandStep::Done, Some(new.created_at))),
        _ => Ok((ChatCommandStep::Enqueued, None)),
    }
}

/// An author in `RECORD_USERS`' JSON.
#[derive(serde::Serialize)]
struct UserJson<'a> {
    discord_id: i64,
    username: &'a str,
    global_name: Option<&'a str>,
}

/// A command in `RECORD_COMMANDS`' JSON (timestamps as the backend's text, see `ts_text`).
#[derive(serde::Serialize)]
struct CommandJson<'a> {
    ord: usize,
    interaction_id: i64,
    interaction_token: &'a str,
    token_expires_at: String,
    application_id: i64,
    user_id: i64,
    guild_id: Option<i64>,
    channel_id: Option<i64>,
    private: bool,
    prompt: &'a str,
    state: &'static str,
    step: &'static str,
    created_at: String,
    finished_at: Option<String>,
}

/// A call log in `INSERT_LLM_CALL_LOGS`' JSON (timestamps as the backend's text, see `ts_text`). A
/// missing response is left out, so that it is stored as NULL, not as JSON `null`.
#[derive(serde::Serialize)]
struct LlmCallLogJson<'a> {
    ord: usize,
    chat_command_id: Option<i64>,
    provider: &'a str,
    operation: &'a str,
    model: Option<&'a str>,
    request: &'a serde_json::Value,
    #[serde(skip_serializing_if = "Option::is_none")]
    response: Option<&'a serde_json::Value>,
    http_status: Option<i64>,
    error: Option<&'a str>,
    started_at: String,
    duration_ms: i64,
    prompt_tokens: Option<i64>,
    completion_tokens: Option<i64>,
    total_tokens: Option<i64>,
}

fn col_err(col: &str, e: impl std::error::Error + Send + Sync + 'static) -> sqlx::Error {
    sqlx::Error::ColumnDecode {
        index: col.to_string(),
        source: Box::new(e),
    }
}

fn get_u64(row: &DbRow, col: &str) -> Result<u64, sqlx::Error> {
    Ok(row.try_get::<i64, _>(col)? as u64)
}

fn get_opt_u64(row: &DbRow, col: &str) -> Result<Option<u64>, sqlx::Error> {
    Ok(row.try_get::<Option<i64>, _>(col)?.map(|v| v as u64))
}

fn get_opt_u32(row: &DbRow, col: &str) -> Result<Option<u32>, sqlx::Error> {
    row.try_get::<Option<i64>, _>(col)?
        .map(|v| u32::try_from(v).map_err(|e| col_err(col, e)))
        .transpose()
}

fn get_u32(row: &DbRow, col: &str) -> Result<u32, sqlx::Error> {
    u32::try_from(row.try_get::<i64, _>(col)?).map_err(|e| col_err(col, e))
}

fn get_enum<T: std::str::FromStr<Err = UnknownVariant>>(
    row: &DbRow,
    col: &str,
) -> Result<T, sqlx::Error> {
    row.try_get::<String, _>(col)?
        .parse()
        .map_err(|e| col_err(col, e))
}

fn ts_opt(t: Option<DateTime<Utc>>) -> Option<TsValue> {
    t.map(ts)
}

fn count_to_u32(n: i64) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

fn usage_columns(u: Option<TokenUsage>) -> [Option<i64>; 3] {
    match u {
        Some(u) => [
            Some(i64::from(u.prompt_tokens)),
            Some(i64::from(u.completion_tokens)),
            Some(i64::from(u.total_tokens)),
        ],
        None => [None, None, None],
    }
}

fn lease_end(now: DateTime<Utc>, lease: Duration) -> Result<DateTime<Utc>, StoreError> {
    TimeDelta::from_std(lease)
        .ok()
        .and_then(|d| now.checked_add_signed(d))
        .ok_or_else(|| StoreError::InvalidArgument(format!("lease of {lease:?} is too long")))
}

// ----- Writes that return rows -----

/// Runs a write that returns rows (`RETURNING`) to completion.
///
/// sqlx's `fetch_one` / `fetch_optional` stop after the first row and reset the statement. SQLite then
/// commits the statement's implicit transaction inside the reset, which skips its WAL hook: automatic
/// checkpoints never run and the WAL file grows without bound (7 GB in a minute while the admin bench
/// seeded its database). Reading every row steps the statement to its end, where SQLite checkpoints as
/// it should. Every write with `RETURNING` outside an explicit transaction goes through these.
trait RunToEnd<T>: std::future::Future<Output = Result<Vec<T>, sqlx::Error>> + Sized {
    /// The first row, if any.
    async fn first(self) -> Result<Option<T>, sqlx::Error> {
        Ok(self.await?.into_iter().next())
    }

    /// The first row; `RowNotFound` if there is none.
    async fn one(self) -> Result<T, sqlx::Error> {
        self.await?
            .into_iter()
            .next()
            .ok_or(sqlx::Error::RowNotFound)
    }
}

impl<T, F: std::future::Future<Output = Result<Vec<T>, sqlx::Error>>> RunToEnd<T> for F {}

// ----- Migrations -----

impl Backend {
    /// Inserts call logs in one statement (`INSERT_LLM_CALL_LOGS`), in the order given; their ids.
    async fn write_llm_call_logs(&self, logs: &[LlmCallLog]) -> Result<Vec<i64>, StoreError> {
        let rows: Vec<LlmCallLogJson> = logs
            .iter()
            .enumerate()
            .map(|(ord, log)| {
                let [prompt_tokens, completion_tokens, total_tokens] = usage_columns(log.usage);
                LlmCallLogJson {
                    ord,
                    chat_command_id: log.chat_command_id,
                    provider: &log.provider,
                    operation: &log.operation,
                    model: log.model.as_deref(),
                    request: &log.request,
                    response: log.response.as_ref(),
                    http_status: log.http_status.map(i64::from),
                    error: log.error.as_deref(),
                    started_at: ts_text(log.started_at),
                    duration_ms: i64::try_from(log.duration_ms).unwrap_or(i64::MAX),
                    prompt_tokens,
                    completion_tokens,
                    total_tokens,
                }
            })
            .collect();
        sqlx::query_scalar(INSERT_LLM_CALL_LOGS)
            .bind(Json(&rows))
            .fetch_all(&mut *self.writer().await?)
            .await
            .map_err(|e| StoreError::from_write(e, "LLM call log", "chat command"))
    }

    async fn applied_migrations(&self) -> Result<Vec<(i64, bool, Vec<u8>)>, StoreError> {
        let exists: bool = sqlx::query_scalar(MIGRATIONS_TABLE_EXISTS)
            .fetch_one(&mut *self.reader().await?)
            .await?;
        if !exists {
            return Ok(Vec::new());
        }
        Ok(sqlx::query_as(sql::APPLIED_MIGRATIONS)
            .fetch_all(&mut *self.reader().await?)
            .await?)
    }

    async fn user_update(
        &self,
        query: sqlx::query::Query<'_, Db, <Db as sqlx::Database>::Arguments>,
    ) -> Result<User, StoreError> {
        let row = query.fetch_all(&mut *self.writer().await?).first().await?;
        match row {
            Some(row) => Ok(user_from_row(&row)?),
            None => Err(StoreError::NotFound("user")),
        }
    }
}

fn known_migrations() -> Vec<(i64, &'static [u8])> {
    MIGRATOR
        .iter()
        .filter(|m| !m.migration_type.is_down_migration())
        .map(|m| (m.version, &*m.checksum))
        .collect()
}

fn map_migrate_error(e: sqlx::migrate::MigrateError) -> StoreError {
    use sqlx::migrate::MigrateError as M;
    match e {
        M::VersionMissing(v) => StoreError::SchemaTooNew { unknown: vec![v] },
        M::VersionMismatch(version) => StoreError::MigrationModified { version },
        M::Dirty(version) => StoreError::MigrationFailed { version },
        e => StoreError::Migrate(e),
    }
}

// ----- Dashboard statistics -----

/// The most two recordings of chat commands can be out of order (see `list_chat_commands_query`).
const STATS_ORDER_SLACK: TimeDelta = TimeDelta::minutes(1);

/// A stored rollup row.
fn hour_stats_from_row(row: &DbRow) -> Result<HourStats, StoreError> {
    let corrupt = |message: String| StoreError::Corrupt {
        what: "statistics rollup",
        message,
    };
    let Json(counts): Json<Vec<u64>> = row.try_get("latency")?;
    let Json(feedback): Json<BTreeMap<String, u64>> = row.try_get("feedback")?;
    Ok(HourStats {
        hour: row.try_get("hour_start")?,
        completed: get_u64(row, "completed")?,
        failed: get_u64(row, "failed")?,
        other: get_u64(row, "other")?,
        total_tokens: get_u64(row, "total_tokens")?,
        latency: LatencyHistogram::from_counts(&counts).map_err(corrupt)?,
        // Kinds this version does not know (written by a newer one) are left out.
        feedback: feedback
            .into_iter()
            .filter_map(|(kind, n)| Some((kind.parse::<FeedbackKind>().ok()?, n)))
            .collect(),
    })
}

/// An hour key of the tickets-per-hour queries (`YYYY-MM-DDTHH`).
fn hour_key(key: &str) -> Result<DateTime<Utc>, StoreError> {
    chrono::NaiveDateTime::parse_from_str(&format!("{key}:00:00"), "%Y-%m-%dT%H:%M:%S")
        .map(|t| t.and_utc())
        .map_err(|e| StoreError::Corrupt {
            what: "ticket hour",
            message: format!("{key:?}: {e}"),
        })
}

/// Whether a command in this state waits for a worker (what the queue's size bounds).
fn waits_for_worker(state: ChatCommandState) -> bool {
    matches!(state, ChatCommandState::Received | ChatCommandState::Queued)
}

impl Backend {
    /// Commands may start waiting other than through [`QueueStore::record_chat_commands`](crate::QueueStore::record_chat_commands): the next batch
    /// counts them (see [`crate::waiting`]).
    fn forget_waiting_bound(&self) {
        if let Some(bound) = self.waiting_bound() {
            bound.forget();
        }
    }

    /// One hour's figures, read from `chat_commands` and `user_feedback`.
    async fn compute_hour(&self, hour: DateTime<Utc>) -> Result<HourStats, StoreError> {
        let end = hour + TimeDelta::hours(1);
        let rows: Vec<(String, i64, i64, i64)> = sqlx::query_as(HOUR_COMMANDS.as_str())
            .bind(ts(hour))
            .bind(ts(end))
            .bind(ts(hour - STATS_ORDER_SLACK))
            .bind(ts(end + STATS_ORDER_SLACK))
            .fetch_all(&mut *self.reader().await?)
            .await?;
        let mut stats = HourStats::empty(hour);
        for (state, bucket, n, tokens) in rows {
            let n = u64::try_from(n).unwrap_or(0);
            match state.parse::<ChatCommandState>() {
                Ok(state) => stats.add_commands(state, n),
                // A state this version does not know (written by a newer one).
                Err(_) => stats.other += n,
            }
            stats.total_tokens += u64::try_from(tokens).unwrap_or(0);
            if let Ok(bucket) = usize::try_from(bucket) {
                stats.latency.add(bucket, n);
            }
        }
        let feedback: Vec<(String, i64)> = sqlx::query_as(sql::HOUR_FEEDBACK)
            .bind(ts(hour))
            .bind(ts(end))
            .fetch_all(&mut *self.reader().await?)
            .await?;
        for (kind, n) in feedback {
            if let Ok(kind) = kind.parse::<FeedbackKind>() {
                stats.feedback.insert(kind, u64::try_from(n).unwrap_or(0));
            }
        }
        Ok(stats)
    }

    /// Rolls up the settled hours from `since` that are not in `stored`, newest first, within `budget`
    /// (see [`StatsStore::roll_up_activity`](crate::StatsStore::roll_up_activity)); returns the rollups written and the hours left, oldest first.
    async fn roll_up(
        &self,
        since: DateTime<Utc>,
        now: DateTime<Utc>,
        stored: &BTreeSet<DateTime<Utc>>,
        budget: u64,
    ) -> Result<(Vec<HourStats>, Vec<DateTime<Utc>>), StoreError> {
        let last = stats::last_settled_hour(now);
        let mut missing = Vec::new();
        let mut hour = stats::hour_start(since);
        while hour <= last {
            if !stored.contains(&hour) {
                missing.push(hour);
            }
            hour += TimeDelta::hours(1);
        }
        if missing.is_empty() {
            return Ok((Vec::new(), Vec::new()));
        }
        let first: Option<DateTime<Utc>> = sqlx::query_scalar(sql::FIRST_ACTIVITY)
            .fetch_one(&mut *self.reader().await?)
            .await?;
        let data_from = first.map(stats::hour_start);
        let mut done = Vec::new();
        let mut left = Vec::new();
        let mut spent = 0u64;
        for &hour in missing.iter().rev() {
            if data_from.is_none_or(|from| hour < from) {
                done.push(HourStats::empty(hour));
            } else if spent > 0 && spent >= budget {
                left.push(hour);
            } else {
                let figures = self.compute_hour(hour).await?;
                spent += figures.commands() + crate::ROLLUP_HOUR_COST;
                done.push(figures);
            }
        }
        self.store_hours(&done, now).await?;
        left.reverse();
        Ok((done, left))
    }

    /// Inserts rollups; an hour stored meanwhile (by another request or instance) keeps its row.
    async fn store_hours(&self, hours: &[HourStats], now: DateTime<Utc>) -> Result<(), StoreError> {
        // 8 parameters a row: far below SQLite's limit.
        for chunk in hours.chunks(200) {
            let mut q = sqlx::QueryBuilder::<Db>::new(
                "INSERT INTO stats_hours (hour_start, completed, failed, other, total_tokens, \
                 latency, feedback, computed_at) ",
            );
            q.push_values(chunk, |mut row, h| {
                let feedback: BTreeMap<&str, u64> =
                    h.feedback.iter().map(|(k, &n)| (k.as_str(), n)).collect();
                row.push_bind(ts(h.hour))
                    .push_bind(i64::try_from(h.completed).unwrap_or(i64::MAX))
                    .push_bind(i64::try_from(h.failed).unwrap_or(i64::MAX))
                    .push_bind(i64::try_from(h.other).unwrap_or(i64::MAX))
                    .push_bind(i64::try_from(h.total_tokens).unwrap_or(i64::MAX))
                    .push_bind(Json(h.latency.to_counts()))
                    .push_bind(Json(feedback))
                    .push_bind(ts(now));
            });
            q.push(" ON CONFLICT (hour_start) DO NOTHING");
            q.build().execute(&mut *self.writer().await?).await?;
        }
        Ok(())
    }

    /// Tickets opened and closed per hour since `since`.
    async fn tickets_per_hour(&self, since: DateTime<Utc>) -> Result<TicketCounts, StoreError> {
        let mut counts = TicketCounts::new();
        for (sql, closed) in [
            (TICKETS_OPENED_PER_HOUR, false),
            (TICKETS_CLOSED_PER_HOUR, true),
        ] {
            let rows: Vec<(String, i64)> = sqlx::query_as(sql)
                .bind(ts(since))
                .fetch_all(&mut *self.reader().await?)
                .await?;
            for (key, n) in rows {
                let slot = counts.entry(hour_key(&key)?).or_default();
                let n = u64::try_from(n).unwrap_or(0);
                if closed {
                    slot.1 += n;
                } else {
                    slot.0 += n;
                }
            }
        }
        Ok(counts)
    }
}

#[async_trait]
impl Store for Backend {
    fn kind(&self) -> DatabaseKind {
        KIND
    }

    fn clear_caches(&self) {
        self.term_counts.clear();
    }

    async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1")
            .execute(&mut *self.reader().await?)
            .await?;
        Ok(())
    }

    async fn migrate(&self) -> Result<MigrationReport, StoreError> {
        let before = self.migration_status().await?;
        before.ensure_migratable()?;
        if before.pending.is_empty() {
            return Ok(MigrationReport {
                applied: Vec::new(),
                status: before,
            });
        }
        let mut conn = self.writer().await?;
        // `run_direct` is `run` on a connection we keep hold of (`run` on `&mut conn` trips over a
        // higher-ranked lifetime bound in async-trait code).
        if let Err(e) = MIGRATOR.run_direct(None, &mut *conn, false).await {
            // The migrator may still hold its lock on this connection: do not give it back to the pool.
            conn.close_on_drop();
            return Err(map_migrate_error(e));
        }
        drop(conn);
        let status = self.migration_status().await?;
        let applied = before
            .pending
            .iter()
            .filter(|v| status.applied.contains(v))
            .copied()
            .collect();
        tracing::info!(?applied, "applied database migrations");
        Ok(MigrationReport { applied, status })
    }

    async fn migration_status(&self) -> Result<MigrationStatus, StoreError> {
        let applied = self.applied_migrations().await?;
        Ok(crate::compare_migrations(&known_migrations(), &applied))
    }

    async fn close(&self) {
        self.close_connections().await;
    }
}

mod activity;
mod admins;
mod cluster;
mod config;
pub(super) mod desk;
mod instances;
mod logs;
mod queue;
mod rate;
pub(super) mod rows;
mod shards;
mod throttle;
mod users;

use rows::*;
