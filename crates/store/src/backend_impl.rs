// The `Store` implementation shared by both backends.
//
// This file is not a module: `sqlite.rs` and `postgres.rs` each `include!` it, so the same method bodies
// are compiled once against `sqlx::Sqlite` and once against `sqlx::Postgres` (sqlx's generic bounds would
// make one generic implementation far harder to read). Each includer defines before the `include!`:
//
// * `Db` (the sqlx database type) and `DbRow` (its row type);
// * `struct Backend`, its `async fn writer(&self)` (a connection for a write, to use as `&mut *conn`;
//   `writer_first` for the acknowledgement path, ahead of other writes waiting),
//   `async fn reader(&self)` (the same for a read), `async fn close_connections(&self)` and
//   `const KIND: DatabaseKind`;
// * `MIGRATOR`, the embedded migrations;
// * `ts(DateTime<Utc>)`, which turns a timestamp into the value bound for the backend's timestamp columns;
// * `begin_write(&mut connection)`, which starts a transaction that will write;
// * `CLAIM`, `QUEUE_ACKNOWLEDGED`, `EXPIRE_CHAT_COMMANDS` and `MIGRATIONS_TABLE_EXISTS`, the
//   dialect-specific statements;
// * `INSERT_LLM_CALL_LOGS`, call logs from one JSON array;
// * `record_batch(counted)`, the two statements of `record_chat_commands` as one statement list where
//   the backend runs such lists with parameters (SQLite), else `None`; `chat_context_list(history)`, the
//   same for `chat_context`;
// * `fn waiting_bound(&self) -> Option<&WaitingBound>`, the bound on waiting commands this process keeps
//   (SQLite) or `None` (PostgreSQL: other instances record commands too).
//
// It is formatted with `rustfmt --edition 2024 src/backend_impl.rs` (cargo fmt does not see it).

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
use sqlx::Row as _;
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

// ----- Row mappers -----

fn user_from_row(row: &DbRow) -> Result<User, sqlx::Error> {
    Ok(User {
        discord_id: get_u64(row, "discord_id")?,
        username: row.try_get("username")?,
        global_name: row.try_get("global_name")?,
        priority: row.try_get("priority")?,
        ignored: row.try_get("ignored")?,
        limit_override: get_opt_u32(row, "limit_override")?,
        llm_model: row.try_get("llm_model")?,
        llm_instructions: row.try_get("llm_instructions")?,
        llm_temperature: row.try_get("llm_temperature")?,
        conversation_id: row.try_get("conversation_id")?,
        conversation_reset_at: row.try_get("conversation_reset_at")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

fn discord_message_from_row(row: &DbRow) -> Result<DiscordMessage, sqlx::Error> {
    Ok(DiscordMessage {
        message_id: get_u64(row, "message_id")?,
        channel_id: get_u64(row, "channel_id")?,
        guild_id: get_opt_u64(row, "guild_id")?,
        user_id: get_opt_u64(row, "user_id")?,
        chat_command_id: row.try_get("chat_command_id")?,
        content: row.try_get("content")?,
        payload: row
            .try_get::<Option<Json<serde_json::Value>>, _>("payload")?
            .map(|j| j.0),
        created_at: row.try_get("created_at")?,
    })
}

fn chat_command_from_row(row: &DbRow) -> Result<ChatCommand, sqlx::Error> {
    let usage = usage_from_row(row)?;
    Ok(ChatCommand {
        id: row.try_get("id")?,
        interaction_id: get_u64(row, "interaction_id")?,
        interaction_token: row.try_get("interaction_token")?,
        token_expires_at: row.try_get("token_expires_at")?,
        application_id: get_u64(row, "application_id")?,
        user_id: get_u64(row, "user_id")?,
        guild_id: get_opt_u64(row, "guild_id")?,
        channel_id: get_opt_u64(row, "channel_id")?,
        private: row.try_get("private")?,
        prompt: row.try_get("prompt")?,
        response: row.try_get("response")?,
        error: row.try_get("error")?,
        state: get_enum(row, "state")?,
        step: get_enum(row, "step")?,
        priority: row.try_get("priority")?,
        attempts: get_u32(row, "attempts")?,
        usage,
        usage_counted: row.try_get("usage_counted")?,
        lease_owner: row.try_get("lease_owner")?,
        lease_expires_at: row.try_get("lease_expires_at")?,
        discord_message_id: get_opt_u64(row, "discord_message_id")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
        started_at: row.try_get("started_at")?,
        finished_at: row.try_get("finished_at")?,
    })
}

fn usage_from_row(row: &DbRow) -> Result<Option<TokenUsage>, sqlx::Error> {
    Ok(
        match (
            get_opt_u32(row, "prompt_tokens")?,
            get_opt_u32(row, "completion_tokens")?,
            get_opt_u32(row, "total_tokens")?,
        ) {
            (p, c, Some(total)) => Some(TokenUsage {
                prompt_tokens: p.unwrap_or(0),
                completion_tokens: c.unwrap_or(0),
                total_tokens: total,
            }),
            _ => None,
        },
    )
}

fn llm_call_from_row(row: &DbRow) -> Result<StoredLlmCall, sqlx::Error> {
    let http_status = row
        .try_get::<Option<i64>, _>("http_status")?
        .map(|v| u16::try_from(v).map_err(|e| col_err("http_status", e)))
        .transpose()?;
    Ok(StoredLlmCall {
        id: row.try_get("id")?,
        log: LlmCallLog {
            chat_command_id: row.try_get("chat_command_id")?,
            provider: row.try_get("provider")?,
            operation: row.try_get("operation")?,
            model: row.try_get("model")?,
            request: row.try_get::<Json<serde_json::Value>, _>("request")?.0,
            response: row
                .try_get::<Option<Json<serde_json::Value>>, _>("response")?
                .map(|j| j.0),
            http_status,
            error: row.try_get("error")?,
            started_at: row.try_get("started_at")?,
            duration_ms: get_u64(row, "duration_ms")?,
            usage: usage_from_row(row)?,
        },
    })
}

fn feedback_from_row(row: &DbRow) -> Result<StoredFeedback, sqlx::Error> {
    Ok(StoredFeedback {
        id: row.try_get("id")?,
        feedback: UserFeedback {
            chat_command_id: row.try_get("chat_command_id")?,
            user_id: get_u64(row, "user_id")?,
            kind: get_enum(row, "kind")?,
            detail: row.try_get("detail")?,
            created_at: row.try_get("created_at")?,
        },
    })
}

/// The admin list of chat commands. Built with QueryBuilder so each filter appears only when set: a
/// `($n IS NULL OR col = $n)` term would keep the planners from using the per-filter indexes (migration
/// 0004).
fn list_chat_commands_query(filter: &ChatCommandFilter, limit: u32) -> sqlx::QueryBuilder<Db> {
    let mut q = sqlx::QueryBuilder::<Db>::new("SELECT * FROM chat_commands WHERE 1 = 1");
    if let Some(user) = filter.user_id {
        q.push(" AND user_id = ").push_bind(id(user));
    }
    if let Some(state) = filter.state {
        q.push(" AND state = ").push_bind(state.as_str());
    }
    if let Some(guild) = filter.guild_id {
        q.push(" AND guild_id = ").push_bind(id(guild));
    }
    // A date range also bounds the ids: ids grow with creation time (to within `ORDER_SLACK`, the most
    // two recordings can be out of order), so one seek on the created_at index at each end turns the
    // range into an id range, walked newest first like every other list, instead of sorting the whole
    // range (a day of a busy bot is tens of thousands of rows). The exact created_at terms still decide.
    const ORDER_SLACK: TimeDelta = TimeDelta::minutes(1);
    if let Some(from) = filter.created_from {
        q.push(" AND created_at >= ").push_bind(ts(from));
        q.push(" AND id >= COALESCE((SELECT id FROM chat_commands WHERE created_at >= ")
            .push_bind(ts(from - ORDER_SLACK))
            .push(" ORDER BY created_at LIMIT 1), 9223372036854775807)");
    }
    if let Some(before) = filter.created_before {
        q.push(" AND created_at < ").push_bind(ts(before));
        q.push(" AND id <= COALESCE((SELECT id FROM chat_commands WHERE created_at < ")
            .push_bind(ts(before + ORDER_SLACK))
            .push(" ORDER BY created_at DESC LIMIT 1), 0)");
    }
    if let Some(before_id) = filter.before_id {
        q.push(" AND id < ").push_bind(before_id);
    }
    q.push(format_args!(" ORDER BY id DESC LIMIT {limit}"));
    q
}

/// The admin list of feedback, newest first; each filter has its index (`user_feedback_user`,
/// `user_feedback_kind`).
fn list_feedback_query(filter: &FeedbackFilter, limit: u32) -> sqlx::QueryBuilder<Db> {
    let mut q = sqlx::QueryBuilder::<Db>::new("SELECT * FROM user_feedback WHERE 1 = 1");
    if let Some(user) = filter.user_id {
        q.push(" AND user_id = ").push_bind(id(user));
    }
    if let Some(kind) = filter.kind {
        q.push(" AND kind = ").push_bind(kind.as_str());
    }
    if let Some(before_id) = filter.before_id {
        q.push(" AND id < ").push_bind(before_id);
    }
    q.push(format_args!(" ORDER BY id DESC LIMIT {limit}"));
    q
}

/// The admin list of messages about the bot, newest first; each filter has its index (migration 0007).
fn list_discord_messages_query(
    filter: &DiscordMessageFilter,
    limit: u32,
) -> sqlx::QueryBuilder<Db> {
    let mut q = sqlx::QueryBuilder::<Db>::new("SELECT * FROM discord_messages WHERE 1 = 1");
    if let Some(user) = filter.user_id {
        q.push(" AND user_id = ").push_bind(id(user));
    }
    if let Some(channel) = filter.channel_id {
        q.push(" AND channel_id = ").push_bind(id(channel));
    }
    if let Some(before_id) = filter.before_id {
        q.push(" AND id < ").push_bind(before_id);
    }
    q.push(format_args!(" ORDER BY id DESC LIMIT {limit}"));
    q
}

/// The admin list of interaction logs, newest first; each filter has its index (migration 0006).
fn list_interaction_logs_query(
    filter: &InteractionLogFilter,
    limit: u32,
) -> sqlx::QueryBuilder<Db> {
    let mut q = sqlx::QueryBuilder::<Db>::new("SELECT * FROM interaction_logs WHERE 1 = 1");
    if let Some(user) = filter.user_id {
        q.push(" AND user_id = ").push_bind(id(user));
    }
    if let Some(kind) = &filter.interaction_type {
        q.push(" AND interaction_type = ").push_bind(kind.clone());
    }
    if let Some(before_id) = filter.before_id {
        q.push(" AND id < ").push_bind(before_id);
    }
    q.push(format_args!(" ORDER BY id DESC LIMIT {limit}"));
    q
}

fn interaction_log_from_row(row: &DbRow) -> Result<StoredInteractionLog, sqlx::Error> {
    Ok(StoredInteractionLog {
        id: row.try_get("id")?,
        log: InteractionLog {
            interaction_id: get_u64(row, "interaction_id")?,
            interaction_type: row.try_get("interaction_type")?,
            user_id: get_opt_u64(row, "user_id")?,
            guild_id: get_opt_u64(row, "guild_id")?,
            channel_id: get_opt_u64(row, "channel_id")?,
            payload: row.try_get::<Json<serde_json::Value>, _>("payload")?.0,
            received_at: row.try_get("received_at")?,
        },
    })
}

/// The admin list of users. Search is a case-insensitive substring of the username or display name (a
/// scan of the users table, which holds people, not messages), or an exact id; pages are keyset on the
/// sort key and the id (indexes of migration 0004).
fn list_users_query(filter: &UserFilter, limit: u32) -> sqlx::QueryBuilder<Db> {
    let mut q = sqlx::QueryBuilder::<Db>::new("SELECT * FROM users WHERE 1 = 1");
    if let Some(search) = filter
        .search
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        let pattern = format!(
            "%{}%",
            search
                .to_lowercase()
                .replace('\\', "\\\\")
                .replace('%', "\\%")
                .replace('_', "\\_")
        );
        q.push(" AND (LOWER(username) LIKE ")
            .push_bind(pattern.clone())
            .push(" ESCAPE '\\' OR LOWER(COALESCE(global_name, '')) LIKE ")
            .push_bind(pattern)
            .push(" ESCAPE '\\'");
        if let Ok(discord_id) = search.parse::<u64>() {
            q.push(" OR discord_id = ").push_bind(id(discord_id));
        }
        q.push(")");
    }
    match filter.sort {
        UserSort::Recent => {
            if let Some((at, after)) = filter.after_recent {
                q.push(" AND (updated_at < ")
                    .push_bind(ts(at))
                    .push(" OR (updated_at = ")
                    .push_bind(ts(at))
                    .push(" AND discord_id < ")
                    .push_bind(id(after))
                    .push("))");
            }
            q.push(" ORDER BY updated_at DESC, discord_id DESC");
        }
        UserSort::Name => {
            if let Some((name, after)) = &filter.after_name {
                q.push(" AND (username > ")
                    .push_bind(name.clone())
                    .push(" OR (username = ")
                    .push_bind(name.clone())
                    .push(" AND discord_id > ")
                    .push_bind(id(*after))
                    .push("))");
            }
            q.push(" ORDER BY username, discord_id");
        }
    }
    q.push(format_args!(" LIMIT {limit}"));
    q
}

fn admin_from_row(row: &DbRow) -> Result<AdminAccount, sqlx::Error> {
    Ok(AdminAccount {
        id: row.try_get("id")?,
        username: row.try_get("username")?,
        password_hash: row.try_get("password_hash")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

fn session_from_row(row: &DbRow) -> Result<AdminSession, sqlx::Error> {
    Ok(AdminSession {
        token_hash: row.try_get("token_hash")?,
        admin_id: row.try_get("admin_id")?,
        created_at: row.try_get("created_at")?,
        expires_at: row.try_get("expires_at")?,
    })
}

fn api_token_from_row(row: &DbRow) -> Result<ApiToken, sqlx::Error> {
    Ok(ApiToken {
        id: row.try_get("id")?,
        admin_id: row.try_get("admin_id")?,
        name: row.try_get("name")?,
        token_hash: row.try_get("token_hash")?,
        prefix: row.try_get("prefix")?,
        created_at: row.try_get("created_at")?,
        expires_at: row.try_get("expires_at")?,
        last_used_at: row.try_get("last_used_at")?,
    })
}

fn stored_config_from_row(row: &DbRow) -> Result<StoredRuntimeConfig, StoreError> {
    let Json(value): Json<serde_json::Value> = row.try_get("config")?;
    let config =
        serde_json::from_value::<RuntimeConfig>(value).map_err(|e| StoreError::Corrupt {
            what: "runtime configuration",
            message: e.to_string(),
        })?;
    Ok(StoredRuntimeConfig {
        config,
        version: row.try_get("version")?,
        updated_at: row.try_get("updated_at")?,
        updated_by: row.try_get("updated_by")?,
    })
}

fn map_rows<T>(
    rows: Vec<DbRow>,
    f: impl Fn(&DbRow) -> Result<T, sqlx::Error>,
) -> Result<Vec<T>, StoreError> {
    rows.iter()
        .map(|r| f(r).map_err(StoreError::from))
        .collect()
}

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
    /// Commands may start waiting other than through [`Store::record_chat_commands`]: the next batch
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
    /// (see [`Store::roll_up_activity`]); returns the rollups written and the hours left, oldest first.
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

    // ----- Runtime configuration -----

    async fn load_runtime_config(&self) -> Result<Option<StoredRuntimeConfig>, StoreError> {
        let row = sqlx::query(sql::LOAD_RUNTIME_CONFIG)
            .fetch_optional(&mut *self.reader().await?)
            .await?;
        row.as_ref().map(stored_config_from_row).transpose()
    }

    async fn save_runtime_config(
        &self,
        config: &RuntimeConfig,
        expected_version: Option<i64>,
        updated_by: Option<&str>,
    ) -> Result<StoredRuntimeConfig, StoreError> {
        let value = serde_json::to_value(config).map_err(|e| {
            StoreError::InvalidArgument(format!("runtime configuration is not serializable: {e}"))
        })?;
        let now = Utc::now();
        let mut conn = self.writer().await?;
        let mut tx = begin_write(&mut conn).await?;
        let query = match expected_version {
            None => sqlx::query(sql::UPSERT_RUNTIME_CONFIG),
            Some(0) => sqlx::query(sql::INSERT_RUNTIME_CONFIG),
            Some(_) => sqlx::query(sql::UPDATE_RUNTIME_CONFIG),
        };
        let query = query.bind(Json(&value)).bind(ts(now)).bind(updated_by);
        let query = match expected_version {
            Some(v) if v != 0 => query.bind(v),
            _ => query,
        };
        let Some(row) = query.fetch_optional(&mut *tx).await? else {
            return Err(StoreError::Conflict);
        };
        let stored = stored_config_from_row(&row)?;
        sqlx::query(sql::INSERT_RUNTIME_CONFIG_HISTORY)
            .bind(stored.version)
            .bind(Json(&value))
            .bind(updated_by)
            .bind(ts(now))
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(stored)
    }

    async fn runtime_config_history(
        &self,
        limit: u32,
    ) -> Result<Vec<RuntimeConfigHistoryEntry>, StoreError> {
        let rows = sqlx::query(sql::RUNTIME_CONFIG_HISTORY)
            .bind(i64::from(limit))
            .fetch_all(&mut *self.reader().await?)
            .await?;
        map_rows(rows, |row| {
            let Json(config) = row.try_get("config")?;
            Ok(RuntimeConfigHistoryEntry {
                version: row.try_get("version")?,
                config,
                updated_by: row.try_get("updated_by")?,
                updated_at: row.try_get("updated_at")?,
            })
        })
    }

    // ----- Admin accounts and sessions -----

    async fn create_admin(
        &self,
        username: &str,
        password_hash: &str,
    ) -> Result<AdminAccount, StoreError> {
        let row = sqlx::query(sql::INSERT_ADMIN)
            .bind(username)
            .bind(crate::username_key(username))
            .bind(password_hash)
            .bind(ts(Utc::now()))
            .fetch_all(&mut *self.writer().await?)
            .one()
            .await
            .map_err(|e| StoreError::from_write(e, "admin account", "admin account"))?;
        Ok(admin_from_row(&row)?)
    }

    async fn admin(&self, id: i64) -> Result<Option<AdminAccount>, StoreError> {
        let row = sqlx::query(sql::ADMIN_BY_ID)
            .bind(id)
            .fetch_optional(&mut *self.reader().await?)
            .await?;
        Ok(row.as_ref().map(admin_from_row).transpose()?)
    }

    async fn admin_by_username(&self, username: &str) -> Result<Option<AdminAccount>, StoreError> {
        let row = sqlx::query(sql::ADMIN_BY_USERNAME)
            .bind(crate::username_key(username))
            .fetch_optional(&mut *self.reader().await?)
            .await?;
        Ok(row.as_ref().map(admin_from_row).transpose()?)
    }

    async fn list_admins(&self) -> Result<Vec<AdminAccount>, StoreError> {
        let rows = sqlx::query(sql::LIST_ADMINS)
            .fetch_all(&mut *self.reader().await?)
            .await?;
        map_rows(rows, admin_from_row)
    }

    async fn count_admins(&self) -> Result<u64, StoreError> {
        let n: i64 = sqlx::query_scalar(sql::COUNT_ADMINS)
            .fetch_one(&mut *self.reader().await?)
            .await?;
        Ok(n as u64)
    }

    async fn update_admin_password(&self, id: i64, password_hash: &str) -> Result<(), StoreError> {
        let mut conn = self.writer().await?;
        let mut tx = begin_write(&mut conn).await?;
        let done = sqlx::query(sql::UPDATE_ADMIN_PASSWORD)
            .bind(id)
            .bind(password_hash)
            .bind(ts(Utc::now()))
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound("admin account"));
        }
        sqlx::query(sql::DELETE_ADMIN_SESSIONS_FOR)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn delete_admin(&self, id: i64) -> Result<(), StoreError> {
        // Sessions go with it (ON DELETE CASCADE).
        let done = sqlx::query(sql::DELETE_ADMIN)
            .bind(id)
            .execute(&mut *self.writer().await?)
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound("admin account"));
        }
        Ok(())
    }

    async fn create_admin_session(
        &self,
        admin_id: i64,
        token_hash: &str,
        expires_at: DateTime<Utc>,
    ) -> Result<AdminSession, StoreError> {
        let row = sqlx::query(sql::INSERT_ADMIN_SESSION)
            .bind(token_hash)
            .bind(admin_id)
            .bind(ts(Utc::now()))
            .bind(ts(expires_at))
            .fetch_all(&mut *self.writer().await?)
            .one()
            .await
            .map_err(|e| StoreError::from_write(e, "admin session", "admin account"))?;
        Ok(session_from_row(&row)?)
    }

    async fn admin_session(&self, token_hash: &str) -> Result<Option<AdminSession>, StoreError> {
        let row = sqlx::query(sql::ADMIN_SESSION)
            .bind(token_hash)
            .bind(ts(Utc::now()))
            .fetch_optional(&mut *self.reader().await?)
            .await?;
        Ok(row.as_ref().map(session_from_row).transpose()?)
    }

    async fn delete_admin_session(&self, token_hash: &str) -> Result<bool, StoreError> {
        let done = sqlx::query(sql::DELETE_ADMIN_SESSION)
            .bind(token_hash)
            .execute(&mut *self.writer().await?)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn delete_admin_sessions_for(&self, admin_id: i64) -> Result<u64, StoreError> {
        let done = sqlx::query(sql::DELETE_ADMIN_SESSIONS_FOR)
            .bind(admin_id)
            .execute(&mut *self.writer().await?)
            .await?;
        Ok(done.rows_affected())
    }

    async fn create_api_token(
        &self,
        admin_id: i64,
        name: &str,
        token_hash: &str,
        prefix: &str,
        expires_at: Option<DateTime<Utc>>,
    ) -> Result<ApiToken, StoreError> {
        let row = sqlx::query(sql::INSERT_API_TOKEN)
            .bind(admin_id)
            .bind(name)
            .bind(token_hash)
            .bind(prefix)
            .bind(ts(Utc::now()))
            .bind(ts_opt(expires_at))
            .fetch_all(&mut *self.writer().await?)
            .one()
            .await
            .map_err(|e| StoreError::from_write(e, "API token", "admin account"))?;
        Ok(api_token_from_row(&row)?)
    }

    async fn api_token(&self, token_hash: &str) -> Result<Option<ApiToken>, StoreError> {
        let row = sqlx::query(sql::API_TOKEN_BY_HASH)
            .bind(token_hash)
            .bind(ts(Utc::now()))
            .fetch_optional(&mut *self.reader().await?)
            .await?;
        Ok(row.as_ref().map(api_token_from_row).transpose()?)
    }

    async fn list_api_tokens(&self) -> Result<Vec<ApiToken>, StoreError> {
        let rows = sqlx::query(sql::LIST_API_TOKENS)
            .fetch_all(&mut *self.reader().await?)
            .await?;
        Ok(rows
            .iter()
            .map(api_token_from_row)
            .collect::<Result<_, _>>()?)
    }

    async fn delete_api_token(&self, id: i64) -> Result<bool, StoreError> {
        let done = sqlx::query(sql::DELETE_API_TOKEN)
            .bind(id)
            .execute(&mut *self.writer().await?)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn touch_api_token(&self, id: i64, at: DateTime<Utc>) -> Result<(), StoreError> {
        sqlx::query(sql::TOUCH_API_TOKEN)
            .bind(id)
            .bind(ts(at))
            .execute(&mut *self.writer().await?)
            .await?;
        Ok(())
    }

    async fn delete_expired_sessions(&self) -> Result<u64, StoreError> {
        let done = sqlx::query(sql::DELETE_EXPIRED_SESSIONS)
            .bind(ts(Utc::now()))
            .execute(&mut *self.writer().await?)
            .await?;
        Ok(done.rows_affected())
    }

    // ----- Users -----

    async fn upsert_user(
        &self,
        discord_id: u64,
        username: &str,
        global_name: Option<&str>,
    ) -> Result<User, StoreError> {
        let row = sqlx::query(sql::UPSERT_USER)
            .bind(id(discord_id))
            .bind(username)
            .bind(global_name)
            .bind(ts(Utc::now()))
            .fetch_all(&mut *self.writer().await?)
            .one()
            .await?;
        Ok(user_from_row(&row)?)
    }

    async fn user(&self, discord_id: u64) -> Result<Option<User>, StoreError> {
        let row = sqlx::query(sql::USER)
            .bind(id(discord_id))
            .fetch_optional(&mut *self.reader().await?)
            .await?;
        Ok(row.as_ref().map(user_from_row).transpose()?)
    }

    async fn list_users(&self, filter: &UserFilter, limit: u32) -> Result<Vec<User>, StoreError> {
        let mut q = list_users_query(filter, limit);
        let rows = q.build().fetch_all(&mut *self.reader().await?).await?;
        map_rows(rows, user_from_row)
    }

    async fn set_user_priority(&self, discord_id: u64, priority: bool) -> Result<User, StoreError> {
        self.user_update(
            sqlx::query(sql::SET_USER_PRIORITY)
                .bind(id(discord_id))
                .bind(priority)
                .bind(ts(Utc::now())),
        )
        .await
    }

    async fn set_user_ignored(&self, discord_id: u64, ignored: bool) -> Result<User, StoreError> {
        self.user_update(
            sqlx::query(sql::SET_USER_IGNORED)
                .bind(id(discord_id))
                .bind(ignored)
                .bind(ts(Utc::now())),
        )
        .await
    }

    async fn set_user_limit_override(
        &self,
        discord_id: u64,
        limit: Option<u32>,
    ) -> Result<User, StoreError> {
        self.user_update(
            sqlx::query(sql::SET_USER_LIMIT_OVERRIDE)
                .bind(id(discord_id))
                .bind(limit.map(i64::from))
                .bind(ts(Utc::now())),
        )
        .await
    }

    async fn set_user_llm_overrides(
        &self,
        discord_id: u64,
        model: Option<String>,
        instructions: Option<String>,
        temperature: Option<f32>,
    ) -> Result<User, StoreError> {
        self.user_update(
            sqlx::query(sql::SET_USER_LLM_OVERRIDES)
                .bind(id(discord_id))
                .bind(model)
                .bind(instructions)
                .bind(temperature)
                .bind(ts(Utc::now())),
        )
        .await
    }

    async fn set_user_conversation(
        &self,
        discord_id: u64,
        conversation_id: Option<String>,
    ) -> Result<User, StoreError> {
        self.user_update(
            sqlx::query(sql::SET_USER_CONVERSATION)
                .bind(id(discord_id))
                .bind(conversation_id)
                .bind(ts(Utc::now())),
        )
        .await
    }

    async fn clear_all_conversations(&self, now: DateTime<Utc>) -> Result<u64, StoreError> {
        Ok(sqlx::query(sql::CLEAR_ALL_CONVERSATIONS)
            .bind(ts(now))
            .execute(&mut *self.writer().await?)
            .await?
            .rows_affected())
    }

    // ----- Chat commands -----

    async fn insert_chat_command(&self, new: NewChatCommand) -> Result<ChatCommand, StoreError> {
        self.forget_waiting_bound();
        let (step, finished_at) = step_when_recorded(&new)?;
        let row = sqlx::query(sql::INSERT_CHAT_COMMAND)
            .bind(id(new.interaction_id))
            .bind(&new.interaction_token)
            .bind(ts(new.token_expires_at))
            .bind(id(new.application_id))
            .bind(id(new.user_id))
            .bind(opt_id(new.guild_id))
            .bind(opt_id(new.channel_id))
            .bind(new.private)
            .bind(&new.prompt)
            .bind(new.state.as_str())
            .bind(step.as_str())
            .bind(ts(new.created_at))
            .bind(ts_opt(finished_at))
            .fetch_all(&mut *self.writer().await?)
            .first()
            .await
            .map_err(|e| StoreError::from_write(e, "chat command", "user"))?;
        match row {
            Some(row) => Ok(chat_command_from_row(&row)?),
            None => Err(StoreError::NotFound("user")),
        }
    }

    async fn chat_command(&self, id: i64) -> Result<Option<ChatCommand>, StoreError> {
        let row = sqlx::query(sql::CHAT_COMMAND)
            .bind(id)
            .fetch_optional(&mut *self.reader().await?)
            .await?;
        Ok(row.as_ref().map(chat_command_from_row).transpose()?)
    }

    async fn queue_acknowledged(&self, interaction_ids: &[u64]) -> Result<u64, StoreError> {
        if interaction_ids.is_empty() {
            return Ok(0);
        }
        let ids: Vec<serde_json::Value> = interaction_ids
            .iter()
            .map(|&i| serde_json::json!({ "interaction_id": id(i) }))
            .collect();
        let done = sqlx::query(QUEUE_ACKNOWLEDGED)
            .bind(Json(&ids))
            .bind(ts(Utc::now()))
            .execute(&mut *self.writer().await?)
            .await?;
        Ok(done.rows_affected())
    }

    async fn chat_command_by_interaction(
        &self,
        interaction_id: u64,
    ) -> Result<Option<ChatCommand>, StoreError> {
        let row = sqlx::query(sql::CHAT_COMMAND_BY_INTERACTION)
            .bind(id(interaction_id))
            .fetch_optional(&mut *self.reader().await?)
            .await?;
        Ok(row.as_ref().map(chat_command_from_row).transpose()?)
    }

    async fn chat_command_by_message(&self, message_id: u64) -> Result<Option<i64>, StoreError> {
        Ok(sqlx::query_scalar(sql::CHAT_COMMAND_BY_MESSAGE)
            .bind(id(message_id))
            .fetch_optional(&mut *self.reader().await?)
            .await?)
    }

    async fn claim_next_chat_command(
        &self,
        owner: &str,
        lease: Duration,
        now: DateTime<Utc>,
    ) -> Result<Option<ChatCommand>, StoreError> {
        let until = lease_end(now, lease)?;
        let row = sqlx::query(CLAIM)
            .bind(owner)
            .bind(ts(until))
            .bind(ts(now))
            .fetch_all(&mut *self.writer().await?)
            .first()
            .await?;
        Ok(row.as_ref().map(chat_command_from_row).transpose()?)
    }

    async fn renew_lease(
        &self,
        id: i64,
        owner: &str,
        until: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(sql::RENEW_LEASE)
            .bind(id)
            .bind(owner)
            .bind(ts(until))
            .bind(ts(Utc::now()))
            .execute(&mut *self.writer().await?)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn record_answer(
        &self,
        id: i64,
        owner: &str,
        response: &str,
        usage: Option<TokenUsage>,
    ) -> Result<bool, StoreError> {
        let [prompt, completion, total] = usage_columns(usage);
        let done = sqlx::query(sql::RECORD_ANSWER)
            .bind(id)
            .bind(owner)
            .bind(response)
            .bind(prompt)
            .bind(completion)
            .bind(total)
            .bind(ts(Utc::now()))
            .execute(&mut *self.writer().await?)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn finish_chat_command(
        &self,
        id: i64,
        owner: &str,
        outcome: &ChatCommandOutcome,
    ) -> Result<bool, StoreError> {
        if !outcome.state.is_terminal() {
            return Err(StoreError::InvalidArgument(format!(
                "finish_chat_command needs a final state, got {}",
                outcome.state
            )));
        }
        let [prompt, completion, total] = usage_columns(outcome.usage);
        let done = sqlx::query(sql::FINISH_CHAT_COMMAND)
            .bind(id)
            .bind(owner)
            .bind(outcome.state.as_str())
            .bind(outcome.response.as_deref())
            .bind(outcome.error.as_deref())
            .bind(prompt)
            .bind(completion)
            .bind(total)
            .bind(outcome.counts_toward_limit())
            .bind(opt_id(outcome.discord_message_id))
            .bind(ts(Utc::now()))
            .execute(&mut *self.writer().await?)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn requeue_chat_command(
        &self,
        id: i64,
        owner: &str,
        error: Option<&str>,
    ) -> Result<bool, StoreError> {
        self.forget_waiting_bound();
        let done = sqlx::query(sql::REQUEUE_CHAT_COMMAND)
            .bind(id)
            .bind(owner)
            .bind(error)
            .bind(ts(Utc::now()))
            .execute(&mut *self.writer().await?)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn transition_chat_command(
        &self,
        id: i64,
        from: ChatCommandState,
        to: ChatCommandState,
    ) -> Result<bool, StoreError> {
        if from == ChatCommandState::InProgress || to == ChatCommandState::InProgress {
            return Err(StoreError::InvalidArgument(format!(
                "transition_chat_command({from} -> {to}): in_progress commands belong to the worker \
                 holding their lease; use claim/finish/requeue"
            )));
        }
        if waits_for_worker(to) && !waits_for_worker(from) {
            self.forget_waiting_bound();
        }
        let now = Utc::now();
        let (step, finished_at) = if to.is_terminal() {
            (Some(ChatCommandStep::Done), Some(now))
        } else if to == ChatCommandState::Queued {
            (Some(ChatCommandStep::Enqueued), None)
        } else {
            (None, None)
        };
        let done = sqlx::query(sql::TRANSITION_CHAT_COMMAND)
            .bind(id)
            .bind(from.as_str())
            .bind(to.as_str())
            .bind(step.map(ChatCommandStep::as_str))
            .bind(ts_opt(finished_at))
            .bind(ts(now))
            .execute(&mut *self.writer().await?)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn expire_chat_commands(&self, now: DateTime<Utc>) -> Result<u64, StoreError> {
        let done = sqlx::query(EXPIRE_CHAT_COMMANDS.as_str())
            .bind(ts(now))
            .execute(&mut *self.writer().await?)
            .await?;
        Ok(done.rows_affected())
    }

    async fn expire_stale_queued(
        &self,
        cutoff: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<Vec<ChatCommand>, StoreError> {
        let rows = sqlx::query(sql::EXPIRE_STALE_QUEUED)
            .bind(ts(cutoff))
            .bind(ts(now))
            .fetch_all(&mut *self.writer().await?)
            .await?;
        rows.iter()
            .map(chat_command_from_row)
            .collect::<Result<Vec<_>, _>>()
            .map_err(Into::into)
    }

    async fn waiting_count(&self, except: i64, now: DateTime<Utc>) -> Result<u64, StoreError> {
        let n: i64 = sqlx::query_scalar(sql::WAITING_COUNT)
            .bind(except)
            .bind(ts(now))
            .fetch_one(&mut *self.reader().await?)
            .await?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    async fn oldest_waiting(
        &self,
        non_priority_only: bool,
        except: i64,
        now: DateTime<Utc>,
    ) -> Result<Option<ChatCommand>, StoreError> {
        let row = sqlx::query(sql::OLDEST_WAITING)
            .bind(non_priority_only)
            .bind(except)
            .bind(ts(now))
            .fetch_optional(&mut *self.reader().await?)
            .await?;
        Ok(row.as_ref().map(chat_command_from_row).transpose()?)
    }

    async fn requeue_received(
        &self,
        cutoff: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        let done = sqlx::query(sql::REQUEUE_RECEIVED)
            .bind(ts(cutoff))
            .bind(ts(now))
            .execute(&mut *self.writer().await?)
            .await?;
        Ok(done.rows_affected())
    }

    async fn usage_since(&self, user_id: u64, since: DateTime<Utc>) -> Result<Usage, StoreError> {
        let row = sqlx::query(sql::USAGE_SINCE)
            .bind(id(user_id))
            .bind(ts(since))
            .fetch_one(&mut *self.reader().await?)
            .await?;
        Ok(Usage {
            counted: count_to_u32(row.try_get("counted")?),
            oldest: row.try_get("oldest")?,
        })
    }

    async fn record_chat_commands(
        &self,
        batch: &[NewChatCommandBy],
        since: DateTime<Utc>,
        now: DateTime<Utc>,
        waiting_limit: u64,
    ) -> Result<RecordedBatch, StoreError> {
        if batch.is_empty() {
            return Ok(RecordedBatch {
                commands: Vec::new(),
                waiting: 0,
            });
        }
        // One row per author (the last names given win: PostgreSQL refuses to update a row twice in
        // one statement) and per interaction (the first in the batch is the one recorded).
        let mut users = BTreeMap::new();
        let mut first = std::collections::HashSet::new();
        let mut commands = Vec::with_capacity(batch.len());
        for (ord, by) in batch.iter().enumerate() {
            let new = &by.command;
            let (step, finished_at) = step_when_recorded(new)?;
            users.insert(
                new.user_id,
                UserJson {
                    discord_id: id(new.user_id),
                    username: &by.username,
                    global_name: by.global_name.as_deref(),
                },
            );
            if !first.insert(new.interaction_id) {
                continue;
            }
            // Borrowed, not copied into a `serde_json::Value`: prompts and tokens are written into the
            // statement's JSON once.
            commands.push(CommandJson {
                ord,
                interaction_id: id(new.interaction_id),
                interaction_token: &new.interaction_token,
                token_expires_at: ts_text(new.token_expires_at),
                application_id: id(new.application_id),
                user_id: id(new.user_id),
                guild_id: opt_id(new.guild_id),
                channel_id: opt_id(new.channel_id),
                private: new.private,
                prompt: &new.prompt,
                state: new.state.as_str(),
                step: step.as_str(),
                created_at: ts_text(new.created_at),
                finished_at: finished_at.map(ts_text),
            });
        }
        let user_rows: Vec<&UserJson> = users.values().collect();

        // Two statements, each its own commit: the authors with what admission needs, then the
        // commands. No transaction around them: an author stored without their command is harmless, and
        // every statement less is a round trip less to the database's thread on the acknowledgement path
        // (on SQLite both go to it as one statement list, `record_batch`).
        // The waiting commands are counted unless a bound known here leaves room for the batch.
        let ticket = self
            .waiting_bound()
            .map(|b| b.before_batch(commands.len() as u64, waiting_limit));
        let room = ticket.and_then(|t| t.room);
        let mut conn = self.writer_first().await?;
        let limit = i64::try_from(waiting_limit).unwrap_or(i64::MAX);
        let (author_rows, command_rows) = match record_batch(room.is_none()) {
            Some(list) => {
                // One hand-off for both: rows of the authors' statement, its end, rows of the
                // commands' statement, its end. sqlx deprecates statement lists with parameters
                // (launchbadge/sqlx#3108: only its SQLite driver runs them) but has nothing else that
                // binds parameters and runs two statements in one hand-off; the tests of this method
                // on SQLite would fail if a later sqlx stopped running the second.
                #[allow(deprecated)]
                let mut stream = sqlx::query(sqlx::AssertSqlSafe(list))
                    .bind(Json(&user_rows))
                    .bind(ts(now))
                    .bind(ts(since))
                    .bind(limit)
                    .bind(Json(&commands))
                    .fetch_many(&mut *conn);
                let (mut authors, mut recorded, mut ended) = (Vec::new(), Vec::new(), 0);
                while let Some(item) =
                    std::future::poll_fn(|cx| futures_core::Stream::poll_next(stream.as_mut(), cx))
                        .await
                {
                    match item {
                        Ok(sqlx::Either::Right(row)) if ended == 0 => authors.push(row),
                        Ok(sqlx::Either::Right(row)) => recorded.push(row),
                        Ok(sqlx::Either::Left(_)) => ended += 1,
                        Err(e) if ended == 0 => return Err(e.into()),
                        Err(e) => return Err(StoreError::from_write(e, "chat command", "user")),
                    }
                }
                (authors, recorded)
            }
            None => {
                let authors = match room {
                    Some(_) => sqlx::query(RECORD_USERS_UNCOUNTED.as_str())
                        .bind(Json(&user_rows))
                        .bind(ts(now))
                        .bind(ts(since)),
                    None => sqlx::query(RECORD_USERS.as_str())
                        .bind(Json(&user_rows))
                        .bind(ts(now))
                        .bind(ts(since))
                        .bind(limit),
                }
                .fetch_all(&mut *conn)
                .await?;
                let recorded = sqlx::query(RECORD_COMMANDS)
                    .bind(Json(&commands))
                    .fetch_all(&mut *conn)
                    .await
                    .map_err(|e| StoreError::from_write(e, "chat command", "user"))?;
                (authors, recorded)
            }
        };
        drop(conn);
        let mut stored_users = BTreeMap::new();
        let mut waiting = room.unwrap_or(0);
        for row in author_rows {
            if room.is_none() {
                waiting = u64::try_from(row.try_get::<i64, _>("waiting")?).unwrap_or(0);
            }
            let usage = Usage {
                counted: count_to_u32(row.try_get("counted")?),
                oldest: row.try_get("oldest")?,
            };
            let in_flight: bool = row.try_get("in_flight")?;
            let user = user_from_row(&row)?;
            stored_users.insert(user.discord_id, (user, usage, in_flight));
        }
        let mut recorded = BTreeMap::new();
        for row in command_rows {
            let command = chat_command_from_row(&row)?;
            recorded.insert(command.interaction_id, command);
        }
        if let (Some(bound), Some(ticket)) = (self.waiting_bound(), ticket) {
            // Only the commands recorded waiting (not those settled as they were recorded) count.
            let waits = recorded
                .values()
                .filter(|c| waits_for_worker(c.state))
                .count();
            bound.after_batch(ticket, waiting, waits as u64, waiting_limit);
        }

        let commands = batch
            .iter()
            .map(|by| {
                let (user, usage, in_flight) = stored_users
                    .get(&by.command.user_id)
                    .cloned()
                    .ok_or(StoreError::NotFound("user"))?;
                Ok(RecordedChatCommand {
                    user,
                    // Taken by the first command of the interaction: any later one is a duplicate.
                    command: recorded.remove(&by.command.interaction_id),
                    usage,
                    in_flight,
                })
            })
            .collect::<Result<_, StoreError>>()?;
        Ok(RecordedBatch { commands, waiting })
    }

    async fn recent_exchanges(
        &self,
        user_id: u64,
        since: DateTime<Utc>,
        except: i64,
        limit: u32,
    ) -> Result<Vec<(String, String)>, StoreError> {
        Ok(sqlx::query_as(sql::RECENT_EXCHANGES)
            .bind(id(user_id))
            .bind(ts(since))
            .bind(except)
            .bind(i64::from(limit))
            .fetch_all(&mut *self.reader().await?)
            .await?)
    }

    async fn chat_context(
        &self,
        user_id: u64,
        window_start: DateTime<Utc>,
        except: i64,
        history: Option<u32>,
    ) -> Result<ChatContext, StoreError> {
        let never = DateTime::<Utc>::UNIX_EPOCH;
        let Some(list) = chat_context_list(history.is_some()) else {
            let user = self.user(user_id).await?;
            let counted = sqlx::query_scalar(sql::COUNTED_SINCE)
                .bind(id(user_id))
                .bind(ts(window_start))
                .fetch_all(&mut *self.reader().await?)
                .await?;
            let exchanges = match history {
                Some(limit) => {
                    let since = user.as_ref().and_then(|u| u.conversation_reset_at);
                    self.recent_exchanges(user_id, since.unwrap_or(never), except, limit)
                        .await?
                }
                None => Vec::new(),
            };
            return Ok(ChatContext {
                user,
                counted,
                exchanges,
            });
        };
        // One hand-off for all: the author's row, its end, the counted times, their end, then the
        // exchanges (see `record_chat_commands` on statement lists with parameters).
        let mut conn = self.reader().await?;
        #[allow(deprecated)]
        let mut stream = sqlx::query(sqlx::AssertSqlSafe(list))
            .bind(id(user_id))
            .bind(ts(window_start))
            .bind(ts(never))
            .bind(except)
            .bind(i64::from(history.unwrap_or(0)))
            .fetch_many(&mut *conn);
        let (mut context, mut ended) = (ChatContext::default(), 0);
        while let Some(item) =
            std::future::poll_fn(|cx| futures_core::Stream::poll_next(stream.as_mut(), cx)).await
        {
            match item? {
                sqlx::Either::Left(_) => ended += 1,
                sqlx::Either::Right(row) => match ended {
                    0 => context.user = Some(user_from_row(&row)?),
                    1 => context.counted.push(row.try_get(0)?),
                    _ => context
                        .exchanges
                        .push((row.try_get("prompt")?, row.try_get("response")?)),
                },
            }
        }
        Ok(context)
    }

    async fn list_chat_commands(
        &self,
        filter: &ChatCommandFilter,
        limit: u32,
    ) -> Result<Vec<ChatCommand>, StoreError> {
        let mut q = list_chat_commands_query(filter, limit);
        let rows = q.build().fetch_all(&mut *self.reader().await?).await?;
        map_rows(rows, chat_command_from_row)
    }

    async fn user_in_flight(&self, user_id: u64, except: i64) -> Result<bool, StoreError> {
        Ok(sqlx::query_scalar(sql::USER_IN_FLIGHT)
            .bind(id(user_id))
            .bind(except)
            .fetch_one(&mut *self.reader().await?)
            .await?)
    }

    async fn queued_count(&self) -> Result<u64, StoreError> {
        let n: i64 = sqlx::query_scalar(sql::QUEUED_COUNT)
            .fetch_one(&mut *self.reader().await?)
            .await?;
        Ok(n as u64)
    }

    // ----- Logs and feedback -----

    async fn insert_interaction_log(&self, log: &InteractionLog) -> Result<i64, StoreError> {
        Ok(sqlx::query_scalar(sql::INSERT_INTERACTION_LOG)
            .bind(id(log.interaction_id))
            .bind(&log.interaction_type)
            .bind(opt_id(log.user_id))
            .bind(opt_id(log.guild_id))
            .bind(opt_id(log.channel_id))
            .bind(Json(&log.payload))
            .bind(ts(log.received_at))
            .fetch_all(&mut *self.writer().await?)
            .one()
            .await?)
    }

    async fn insert_interaction_logs(&self, logs: &[InteractionLog]) -> Result<(), StoreError> {
        // At most this many rows per statement: 7 parameters each stays far below SQLite's limit.
        for chunk in logs.chunks(500) {
            let mut q = sqlx::QueryBuilder::<Db>::new(
                "INSERT INTO interaction_logs (interaction_id, interaction_type, user_id, guild_id, \
                 channel_id, payload, received_at) ",
            );
            q.push_values(chunk, |mut row, log| {
                row.push_bind(id(log.interaction_id))
                    .push_bind(&log.interaction_type)
                    .push_bind(opt_id(log.user_id))
                    .push_bind(opt_id(log.guild_id))
                    .push_bind(opt_id(log.channel_id))
                    .push_bind(Json(&log.payload))
                    .push_bind(ts(log.received_at));
            });
            q.build().execute(&mut *self.writer().await?).await?;
        }
        Ok(())
    }

    async fn insert_discord_message(&self, message: &DiscordMessage) -> Result<i64, StoreError> {
        sqlx::query_scalar(sql::INSERT_DISCORD_MESSAGE)
            .bind(id(message.message_id))
            .bind(id(message.channel_id))
            .bind(opt_id(message.guild_id))
            .bind(opt_id(message.user_id))
            .bind(message.chat_command_id)
            .bind(&message.content)
            .bind(message.payload.as_ref().map(Json))
            .bind(ts(message.created_at))
            .fetch_all(&mut *self.writer().await?)
            .one()
            .await
            .map_err(|e| StoreError::from_write(e, "discord message", "chat command"))
    }

    async fn recent_discord_messages(&self, limit: u32) -> Result<Vec<DiscordMessage>, StoreError> {
        let rows = sqlx::query(sql::RECENT_DISCORD_MESSAGES)
            .bind(i64::from(limit))
            .fetch_all(&mut *self.reader().await?)
            .await?;
        Ok(rows
            .iter()
            .map(discord_message_from_row)
            .collect::<Result<_, _>>()?)
    }

    async fn insert_llm_call_log(&self, log: &LlmCallLog) -> Result<i64, StoreError> {
        let ids = self.write_llm_call_logs(std::slice::from_ref(log)).await?;
        ids.first()
            .copied()
            .ok_or(StoreError::NotFound("LLM call log"))
    }

    async fn insert_llm_call_logs(&self, logs: &[LlmCallLog]) -> Result<(), StoreError> {
        if !logs.is_empty() {
            self.write_llm_call_logs(logs).await?;
        }
        Ok(())
    }

    async fn insert_clear_command(&self, clear: &ClearCommand) -> Result<i64, StoreError> {
        sqlx::query_scalar(sql::INSERT_CLEAR_COMMAND)
            .bind(id(clear.interaction_id))
            .bind(id(clear.user_id))
            .bind(opt_id(clear.guild_id))
            .bind(opt_id(clear.channel_id))
            .bind(ts(clear.created_at))
            .fetch_all(&mut *self.writer().await?)
            .one()
            .await
            .map_err(|e| StoreError::from_write(e, "clear command", "user"))
    }

    async fn last_clear_command(&self, user_id: u64) -> Result<Option<DateTime<Utc>>, StoreError> {
        Ok(sqlx::query_scalar(sql::LAST_CLEAR_COMMAND)
            .bind(id(user_id))
            .fetch_optional(&mut *self.reader().await?)
            .await?)
    }

    async fn insert_user_feedback(&self, feedback: &UserFeedback) -> Result<bool, StoreError> {
        let done = sqlx::query(sql::INSERT_USER_FEEDBACK)
            .bind(feedback.chat_command_id)
            .bind(id(feedback.user_id))
            .bind(feedback.kind.as_str())
            .bind(feedback.detail.as_deref())
            .bind(ts(feedback.created_at))
            .execute(&mut *self.writer().await?)
            .await
            .map_err(|e| StoreError::from_write(e, "feedback", "chat command"))?;
        Ok(done.rows_affected() > 0)
    }

    async fn list_discord_messages(
        &self,
        filter: &DiscordMessageFilter,
        limit: u32,
    ) -> Result<Vec<StoredDiscordMessage>, StoreError> {
        let mut q = list_discord_messages_query(filter, limit);
        let rows = q.build().fetch_all(&mut *self.reader().await?).await?;
        Ok(rows
            .iter()
            .map(|row| {
                Ok::<_, sqlx::Error>(StoredDiscordMessage {
                    id: row.try_get("id")?,
                    message: discord_message_from_row(row)?,
                })
            })
            .collect::<Result<_, _>>()?)
    }

    async fn list_interaction_logs(
        &self,
        filter: &InteractionLogFilter,
        limit: u32,
    ) -> Result<Vec<StoredInteractionLog>, StoreError> {
        let mut q = list_interaction_logs_query(filter, limit);
        let rows = q.build().fetch_all(&mut *self.reader().await?).await?;
        Ok(rows
            .iter()
            .map(interaction_log_from_row)
            .collect::<Result<_, _>>()?)
    }

    async fn interaction_log(&self, id: i64) -> Result<Option<StoredInteractionLog>, StoreError> {
        let row = sqlx::query("SELECT * FROM interaction_logs WHERE id = $1")
            .bind(id)
            .fetch_optional(&mut *self.reader().await?)
            .await?;
        Ok(row.as_ref().map(interaction_log_from_row).transpose()?)
    }

    async fn list_feedback(
        &self,
        filter: &FeedbackFilter,
        limit: u32,
    ) -> Result<Vec<StoredFeedback>, StoreError> {
        let mut q = list_feedback_query(filter, limit);
        let rows = q.build().fetch_all(&mut *self.reader().await?).await?;
        Ok(rows
            .iter()
            .map(feedback_from_row)
            .collect::<Result<_, _>>()?)
    }

    async fn llm_calls_for_command(
        &self,
        chat_command_id: i64,
    ) -> Result<Vec<StoredLlmCall>, StoreError> {
        let rows = sqlx::query(sql::LLM_CALLS_FOR_COMMAND)
            .bind(chat_command_id)
            .fetch_all(&mut *self.reader().await?)
            .await?;
        map_rows(rows, llm_call_from_row)
    }

    async fn feedback_for_command(
        &self,
        chat_command_id: i64,
    ) -> Result<Vec<StoredFeedback>, StoreError> {
        let rows = sqlx::query(sql::FEEDBACK_FOR_COMMAND)
            .bind(chat_command_id)
            .fetch_all(&mut *self.reader().await?)
            .await?;
        map_rows(rows, feedback_from_row)
    }

    async fn feedback_by_user(
        &self,
        user_id: u64,
        limit: u32,
    ) -> Result<Vec<StoredFeedback>, StoreError> {
        let rows = sqlx::query(sql::FEEDBACK_BY_USER)
            .bind(id(user_id))
            .bind(i64::from(limit))
            .fetch_all(&mut *self.reader().await?)
            .await?;
        map_rows(rows, feedback_from_row)
    }

    async fn feedback_counts(
        &self,
        chat_command_id: i64,
    ) -> Result<BTreeMap<FeedbackKind, u32>, StoreError> {
        let rows: Vec<(String, i64)> = sqlx::query_as(sql::FEEDBACK_COUNTS)
            .bind(chat_command_id)
            .fetch_all(&mut *self.reader().await?)
            .await?;
        rows.into_iter()
            .map(|(kind, n)| {
                let kind = kind
                    .parse::<FeedbackKind>()
                    .map_err(|e| StoreError::Corrupt {
                        what: "feedback kind",
                        message: e.to_string(),
                    })?;
                Ok((kind, count_to_u32(n)))
            })
            .collect()
    }

    // ----- Dashboard statistics -----

    async fn activity(
        &self,
        range: StatsRange,
        now: DateTime<Utc>,
    ) -> Result<Activity, StoreError> {
        let since = range.start(now);
        let rows = sqlx::query(sql::STATS_HOURS)
            .bind(ts(since))
            .bind(ts(stats::last_settled_hour(now)))
            .fetch_all(&mut *self.reader().await?)
            .await?;
        let mut hours = rows
            .iter()
            .map(hour_stats_from_row)
            .collect::<Result<Vec<_>, _>>()?;
        let stored: BTreeSet<DateTime<Utc>> = hours.iter().map(|h| h.hour).collect();
        let (rolled, pending) = self
            .roll_up(since, now, &stored, crate::ROLLUP_BUDGET_PER_REQUEST)
            .await?;
        hours.extend(rolled);
        for hour in range.hours(now) {
            if !stats::is_settled(hour, now) {
                hours.push(self.compute_hour(hour).await?);
            }
        }
        let tickets = self.tickets_per_hour(since).await?;
        Ok(Activity::assemble(range, now, &hours, &tickets, &pending))
    }

    async fn roll_up_activity(
        &self,
        since: DateTime<Utc>,
        now: DateTime<Utc>,
        budget: u64,
    ) -> Result<u32, StoreError> {
        let stored: BTreeSet<DateTime<Utc>> = sqlx::query_scalar(sql::STATS_HOURS_SINCE)
            .bind(ts(since))
            .fetch_all(&mut *self.reader().await?)
            .await?
            .into_iter()
            .collect();
        let (_, left) = self.roll_up(since, now, &stored, budget).await?;
        Ok(u32::try_from(left.len()).unwrap_or(u32::MAX))
    }
}
