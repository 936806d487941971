//! Row mappers: a database row to the domain record it holds.

use super::*;
use disconcierge_core::secret::InteractionToken;

pub(super) fn user_from_row(row: &DbRow) -> Result<User, sqlx::Error> {
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

pub(super) fn discord_message_from_row(row: &DbRow) -> Result<DiscordMessage, sqlx::Error> {
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

pub(super) fn chat_command_from_row(row: &DbRow) -> Result<ChatCommand, sqlx::Error> {
    let usage = usage_from_row(row)?;
    Ok(ChatCommand {
        id: row.try_get("id")?,
        interaction_id: get_u64(row, "interaction_id")?,
        interaction_token: InteractionToken::new(row.try_get::<String, _>("interaction_token")?),
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

pub(super) fn usage_from_row(row: &DbRow) -> Result<Option<TokenUsage>, sqlx::Error> {
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

pub(super) fn llm_call_from_row(row: &DbRow) -> Result<StoredLlmCall, sqlx::Error> {
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

pub(super) fn feedback_from_row(row: &DbRow) -> Result<StoredFeedback, sqlx::Error> {
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
pub(crate) fn list_chat_commands_query(
    filter: &ChatCommandFilter,
    limit: u32,
) -> sqlx::QueryBuilder<Db> {
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
pub(crate) fn list_feedback_query(filter: &FeedbackFilter, limit: u32) -> sqlx::QueryBuilder<Db> {
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
pub(crate) fn list_discord_messages_query(
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
pub(crate) fn list_interaction_logs_query(
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

pub(super) fn interaction_log_from_row(row: &DbRow) -> Result<StoredInteractionLog, sqlx::Error> {
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
pub(super) fn list_users_query(filter: &UserFilter, limit: u32) -> sqlx::QueryBuilder<Db> {
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

pub(super) fn admin_from_row(row: &DbRow) -> Result<AdminAccount, sqlx::Error> {
    Ok(AdminAccount {
        id: row.try_get("id")?,
        username: row.try_get("username")?,
        password_hash: row.try_get("password_hash")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

pub(super) fn session_from_row(row: &DbRow) -> Result<AdminSession, sqlx::Error> {
    Ok(AdminSession {
        token_hash: row.try_get("token_hash")?,
        admin_id: row.try_get("admin_id")?,
        created_at: row.try_get("created_at")?,
        expires_at: row.try_get("expires_at")?,
    })
}

pub(super) fn api_token_from_row(row: &DbRow) -> Result<ApiToken, sqlx::Error> {
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

pub(super) fn stored_config_from_row(row: &DbRow) -> Result<StoredRuntimeConfig, StoreError> {
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

pub(super) fn map_rows<T>(
    rows: Vec<DbRow>,
    f: impl Fn(&DbRow) -> Result<T, sqlx::Error>,
) -> Result<Vec<T>, StoreError> {
    rows.iter()
        .map(|r| f(r).map_err(StoreError::from))
        .collect()
}
