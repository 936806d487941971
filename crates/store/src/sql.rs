//! SQL text shared by both backends.
//!
//! sqlx's SQLite driver accepts PostgreSQL's `$1` placeholders, and both databases accept `RETURNING`,
//! `ON CONFLICT` upserts and the same functions used here, so one string serves both. Statements that
//! differ live in `sqlite.rs` / `postgres.rs`.
//!
//! State names in the SQL are those of `ChatCommandState::as_str` (checked by a test below). Where a
//! query should use a partial index, it repeats the index's `WHERE` term word for word: SQLite uses a
//! partial index only when the query's `WHERE` visibly contains that term. The backends' unit tests check
//! the query plans of the hot paths.
//!
//! A bound `LIMIT` or `OFFSET` is written `CAST($n AS BIGINT)`: SQLite reads a bare parameter there at
//! compile time, which marks the statement for recompilation whenever that parameter is bound again — on
//! every execution, since sqlx binds each time. Behind a `CAST` it is an ordinary runtime value (a test
//! in `sqlite.rs` keeps bare ones out).

use disconcierge_core::stats::{LATENCY_BOUNDS_MS, LATENCY_BUCKETS};

// ----- Migrations -----

pub(crate) const APPLIED_MIGRATIONS: &str =
    "SELECT version, success, checksum FROM _sqlx_migrations ORDER BY version";

// ----- Runtime configuration -----

pub(crate) const LOAD_RUNTIME_CONFIG: &str =
    "SELECT config, version, updated_at, updated_by FROM runtime_config WHERE id = 1";

/// Unconditional save: insert version 1, or overwrite and bump the version.
pub(crate) const UPSERT_RUNTIME_CONFIG: &str = "\
    INSERT INTO runtime_config (id, config, version, updated_at, updated_by) \
    VALUES (1, $1, 1, $2, $3) \
    ON CONFLICT (id) DO UPDATE SET config = excluded.config, version = runtime_config.version + 1, \
        updated_at = excluded.updated_at, updated_by = excluded.updated_by \
    RETURNING config, version, updated_at, updated_by";

/// First save only (expected version 0): no row when one exists already.
pub(crate) const INSERT_RUNTIME_CONFIG: &str = "\
    INSERT INTO runtime_config (id, config, version, updated_at, updated_by) \
    VALUES (1, $1, 1, $2, $3) \
    ON CONFLICT (id) DO NOTHING \
    RETURNING config, version, updated_at, updated_by";

/// Compare-and-set on the version: no row when someone else saved in between.
pub(crate) const UPDATE_RUNTIME_CONFIG: &str = "\
    UPDATE runtime_config SET config = $1, version = version + 1, updated_at = $2, updated_by = $3 \
    WHERE id = 1 AND version = $4 \
    RETURNING config, version, updated_at, updated_by";

pub(crate) const INSERT_RUNTIME_CONFIG_HISTORY: &str = "\
    INSERT INTO runtime_config_history (version, config, updated_by, updated_at) VALUES ($1, $2, $3, $4)";

pub(crate) const RUNTIME_CONFIG_HISTORY: &str = "\
    SELECT version, config, updated_by, updated_at FROM runtime_config_history \
    ORDER BY version DESC, id DESC LIMIT CAST($1 AS BIGINT)";

// ----- Admin accounts and sessions -----

pub(crate) const INSERT_ADMIN: &str = "\
    INSERT INTO admin_accounts (username, username_key, password_hash, created_at, updated_at) \
    VALUES ($1, $2, $3, $4, $4) RETURNING *";

pub(crate) const ADMIN_BY_ID: &str = "SELECT * FROM admin_accounts WHERE id = $1";

pub(crate) const ADMIN_BY_USERNAME: &str = "SELECT * FROM admin_accounts WHERE username_key = $1";

pub(crate) const COUNT_ADMINS: &str = "SELECT COUNT(*) FROM admin_accounts";

pub(crate) const LIST_ADMINS: &str = "SELECT * FROM admin_accounts ORDER BY username_key";

pub(crate) const UPDATE_ADMIN_PASSWORD: &str =
    "UPDATE admin_accounts SET password_hash = $2, updated_at = $3 WHERE id = $1";

pub(crate) const DELETE_ADMIN: &str = "DELETE FROM admin_accounts WHERE id = $1";

pub(crate) const INSERT_ADMIN_SESSION: &str = "\
    INSERT INTO admin_sessions (token_hash, admin_id, created_at, expires_at) VALUES ($1, $2, $3, $4) \
    RETURNING *";

pub(crate) const ADMIN_SESSION: &str =
    "SELECT * FROM admin_sessions WHERE token_hash = $1 AND expires_at > $2";

pub(crate) const DELETE_ADMIN_SESSION: &str = "DELETE FROM admin_sessions WHERE token_hash = $1";

pub(crate) const DELETE_ADMIN_SESSIONS_FOR: &str = "DELETE FROM admin_sessions WHERE admin_id = $1";

pub(crate) const INSERT_API_TOKEN: &str = "\
    INSERT INTO api_tokens (admin_id, name, token_hash, prefix, created_at, expires_at) \
    VALUES ($1, $2, $3, $4, $5, $6) RETURNING *";

/// A token that has not expired (`$2`: now).
pub(crate) const API_TOKEN_BY_HASH: &str = "\
    SELECT * FROM api_tokens WHERE token_hash = $1 AND (expires_at IS NULL OR expires_at > $2)";

pub(crate) const LIST_API_TOKENS: &str = "SELECT * FROM api_tokens ORDER BY id DESC";

pub(crate) const DELETE_API_TOKEN: &str = "DELETE FROM api_tokens WHERE id = $1";

pub(crate) const TOUCH_API_TOKEN: &str = "UPDATE api_tokens SET last_used_at = $2 WHERE id = $1";

pub(crate) const DELETE_EXPIRED_SESSIONS: &str =
    "DELETE FROM admin_sessions WHERE expires_at <= $1";

// ----- Users -----

/// New user, or fresh names for a known one; settings are left alone.
pub(crate) const UPSERT_USER: &str = "\
    INSERT INTO users (discord_id, username, global_name, created_at, updated_at) \
    VALUES ($1, $2, $3, $4, $4) \
    ON CONFLICT (discord_id) DO UPDATE SET username = excluded.username, \
        global_name = excluded.global_name, updated_at = excluded.updated_at \
    RETURNING *";

pub(crate) const USER: &str = "SELECT * FROM users WHERE discord_id = $1";

pub(crate) const SET_USER_PRIORITY: &str =
    "UPDATE users SET priority = $2, updated_at = $3 WHERE discord_id = $1 RETURNING *";

pub(crate) const SET_USER_IGNORED: &str =
    "UPDATE users SET ignored = $2, updated_at = $3 WHERE discord_id = $1 RETURNING *";

pub(crate) const SET_USER_LIMIT_OVERRIDE: &str =
    "UPDATE users SET limit_override = $2, updated_at = $3 WHERE discord_id = $1 RETURNING *";

pub(crate) const SET_USER_LLM_OVERRIDES: &str = "\
    UPDATE users SET llm_model = $2, llm_instructions = $3, llm_temperature = $4, updated_at = $5 \
    WHERE discord_id = $1 RETURNING *";

pub(crate) const SET_USER_CONVERSATION: &str =
    "UPDATE users SET conversation_id = $2, updated_at = $3 WHERE discord_id = $1 RETURNING *";
pub(crate) const CLEAR_ALL_CONVERSATIONS: &str =
    "UPDATE users SET conversation_id = NULL, conversation_reset_at = $1";

// ----- Chat commands -----

/// Copies the user's priority; no row when the user does not exist.
pub(crate) const INSERT_CHAT_COMMAND: &str = "\
    INSERT INTO chat_commands (interaction_id, interaction_token, token_expires_at, application_id, \
        user_id, guild_id, channel_id, private, prompt, state, step, priority, created_at, updated_at, \
        finished_at) \
    SELECT $1, $2, $3, $4, u.discord_id, $6, $7, $8, $9, $10, $11, u.priority, $12, $12, $13 \
    FROM users u WHERE u.discord_id = $5 \
    RETURNING *";

pub(crate) const CHAT_COMMAND: &str = "SELECT * FROM chat_commands WHERE id = $1";

pub(crate) const CHAT_COMMAND_BY_INTERACTION: &str =
    "SELECT * FROM chat_commands WHERE interaction_id = $1";

pub(crate) const RECENT_DISCORD_MESSAGES: &str =
    "SELECT * FROM discord_messages ORDER BY id DESC LIMIT CAST($1 AS BIGINT)";

pub(crate) const CHAT_COMMAND_BY_MESSAGE: &str =
    "SELECT id FROM chat_commands WHERE discord_message_id = $1 ORDER BY id LIMIT 1";

// The claim statement is dialect-specific (row locking): see `CLAIM` in `sqlite.rs` / `postgres.rs`.

pub(crate) const RENEW_LEASE: &str = "\
    UPDATE chat_commands SET lease_expires_at = $3, updated_at = $4 \
    WHERE id = $1 AND lease_owner = $2 AND state = 'in_progress'";

pub(crate) const RECORD_ANSWER: &str = "\
    UPDATE chat_commands SET step = 'finalizing', response = $3, \
        prompt_tokens = $4, completion_tokens = $5, total_tokens = $6, updated_at = $7 \
    WHERE id = $1 AND lease_owner = $2 AND state = 'in_progress'";

pub(crate) const FINISH_CHAT_COMMAND: &str = "\
    UPDATE chat_commands SET state = $3, step = 'done', response = COALESCE($4, response), error = $5, \
        prompt_tokens = $6, completion_tokens = $7, total_tokens = $8, \
        usage_counted = (usage_counted OR $9), discord_message_id = COALESCE($10, discord_message_id), \
        lease_owner = NULL, lease_expires_at = NULL, finished_at = $11, updated_at = $11 \
    WHERE id = $1 AND lease_owner = $2 AND state = 'in_progress'";

pub(crate) const REQUEUE_CHAT_COMMAND: &str = "\
    UPDATE chat_commands SET state = 'queued', \
        step = CASE WHEN step = 'finalizing' THEN step ELSE 'enqueued' END, error = COALESCE($3, error), \
        lease_owner = NULL, lease_expires_at = NULL, updated_at = $4 \
    WHERE id = $1 AND lease_owner = $2 AND state = 'in_progress'";

pub(crate) const TRANSITION_CHAT_COMMAND: &str = "\
    UPDATE chat_commands SET state = $3, step = COALESCE($4, step), \
        finished_at = COALESCE($5, finished_at), updated_at = $6 \
    WHERE id = $1 AND state = $2";

/// Commands whose interaction token died (and which no live worker holds) become expired. `table` is
/// `chat_commands` as the dialect names it in an `UPDATE` (SQLite's names the index to walk).
pub(crate) fn expire_chat_commands(table: &str) -> String {
    format!(
        "UPDATE {table} SET state = 'expired', step = 'done', lease_owner = NULL, \
             lease_expires_at = NULL, finished_at = $1, updated_at = $1 \
         WHERE state IN ('received', 'queued', 'in_progress') AND token_expires_at <= $1 \
           AND (state <> 'in_progress' OR lease_expires_at < $1)"
    )
}

/// Queued commands that waited too long (`DC_QUEUE_MAX_AGE`) become expired; the rows come back so their
/// users can be told while their tokens still allow it.
pub(crate) const EXPIRE_STALE_QUEUED: &str = "\
    UPDATE chat_commands SET state = 'expired', step = 'done', error = 'waited in the queue too long', \
        finished_at = $2, updated_at = $2 \
    WHERE state = 'queued' AND created_at < $1 \
    RETURNING *";

/// Commands waiting for a worker: queued, or recorded and being acknowledged (`received`), whose token
/// still lives; `$1` is the command being admitted, left out. Served by the waiting index alone.
pub(crate) const WAITING_COUNT: &str = "\
    SELECT COUNT(*) FROM chat_commands \
    WHERE state IN ('received', 'queued') AND token_expires_at > $2 AND id <> $1";

/// The oldest waiting command (non-priority ones only when `$1`), the candidate to drop when the queue
/// overflows; `$2` is the command being admitted, left out.
pub(crate) const OLDEST_WAITING: &str = "\
    SELECT * FROM chat_commands \
    WHERE state IN ('received', 'queued', 'in_progress') AND token_expires_at > $3 \
      AND state <> 'in_progress' AND id <> $2 AND (NOT $1 OR NOT priority) \
    ORDER BY created_at, id LIMIT 1";

/// Commands recorded but never queued (the process stopped between recording and acknowledging them) are
/// queued if their token still lives: if the acknowledgement went out, they get their answer; if not,
/// the answer's edit fails harmlessly and the command is closed as failed.
pub(crate) const REQUEUE_RECEIVED: &str = "\
    UPDATE chat_commands SET state = 'queued', updated_at = $2 \
    WHERE state = 'received' AND created_at < $1 AND token_expires_at > $2";

pub(crate) const USAGE_SINCE: &str = "\
    SELECT COUNT(*) AS counted, MIN(created_at) AS oldest FROM chat_commands \
    WHERE user_id = $1 AND usage_counted AND created_at >= $2";

/// Upserts the authors of a batch of chat commands (`$1`: `[{discord_id, username, global_name}]`, read
/// by the dialect's `source`, a `SELECT` of the five columns; `$2`: now), each coming back with what
/// admitting their commands needs (`$3`: start of the usage window, `$4`: how far to count waiting
/// commands), read before any of them is recorded: usage in the window, whether they have a command in
/// flight, and how many commands wait for a worker — counted up to `$4` only (the queue's size: past it
/// the exact figure changes nothing), so a long backlog does not make every batch slower. Each sub-query
/// keeps the terms of the partial index it walks word for word. Without `count_waiting`, `waiting` is 0
/// and `$4` unused (the caller knows a bound: see [`crate::waiting`]).
pub(crate) fn record_users(source: &str, count_waiting: bool) -> String {
    let waiting = if count_waiting {
        "(SELECT COUNT(*) FROM (SELECT 1 FROM chat_commands \
           WHERE state IN ('received', 'queued') AND token_expires_at > $2 \
           LIMIT CAST($4 AS BIGINT)) AS w)"
    } else {
        "0"
    };
    format!(
        "INSERT INTO users (discord_id, username, global_name, created_at, updated_at) {source} \
         ON CONFLICT (discord_id) DO UPDATE SET username = excluded.username, \
             global_name = excluded.global_name, updated_at = excluded.updated_at \
         RETURNING *, \
           (SELECT COUNT(*) FROM chat_commands \
             WHERE user_id = users.discord_id AND usage_counted AND created_at >= $3) AS counted, \
           (SELECT MIN(created_at) FROM chat_commands \
             WHERE user_id = users.discord_id AND usage_counted AND created_at >= $3) AS oldest, \
           EXISTS (SELECT 1 FROM chat_commands \
             WHERE user_id = users.discord_id AND state IN ('received', 'queued', 'in_progress')) \
             AS in_flight, \
           {waiting} AS waiting"
    )
}

/// When each of the user's commands that count toward the limit was created, from `$2` on, oldest first:
/// a walk of the usage window's index, already in order.
pub(crate) const COUNTED_SINCE: &str = "\
    SELECT created_at FROM chat_commands \
    WHERE user_id = $1 AND usage_counted AND created_at >= $2 ORDER BY created_at";

/// Answered exchanges of a user, newest first. `usage_counted` (true for every answer that consumed tokens)
/// lets the per-user usage-window index serve it.
pub(crate) const RECENT_EXCHANGES: &str = "\
    SELECT prompt, response FROM chat_commands \
    WHERE user_id = $1 AND usage_counted AND created_at >= $2 AND state = 'completed' \
      AND created_at >= COALESCE((SELECT MAX(created_at) FROM clear_commands WHERE user_id = $1), $2) \
      AND response IS NOT NULL AND id <> $3 \
    ORDER BY created_at DESC, id DESC LIMIT CAST($4 AS BIGINT)";

/// Whether the user has another command recorded, waiting or being answered (`$2`: the command being
/// admitted, left out).
pub(crate) const USER_IN_FLIGHT: &str = "\
    SELECT EXISTS (SELECT 1 FROM chat_commands \
        WHERE user_id = $1 AND state IN ('received', 'queued', 'in_progress') AND id <> $2)";

/// The redundant `state IN (...)` lets SQLite count over the claim index instead of the table.
pub(crate) const QUEUED_COUNT: &str = "\
    SELECT COUNT(*) FROM chat_commands WHERE state IN ('queued', 'in_progress') AND state = 'queued'";

// ----- Logs and feedback -----

pub(crate) const INSERT_INTERACTION_LOG: &str = "\
    INSERT INTO interaction_logs (interaction_id, interaction_type, user_id, guild_id, channel_id, \
        payload, received_at) \
    VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id";

pub(crate) const INSERT_DISCORD_MESSAGE: &str = "\
    INSERT INTO discord_messages (message_id, channel_id, guild_id, user_id, chat_command_id, content, \
        payload, created_at) \
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id";

pub(crate) const INSERT_CLEAR_COMMAND: &str = "\
    INSERT INTO clear_commands (interaction_id, user_id, guild_id, channel_id, created_at) \
    VALUES ($1, $2, $3, $4, $5) RETURNING id";

pub(crate) const LAST_CLEAR_COMMAND: &str = "\
    SELECT created_at FROM clear_commands WHERE user_id = $1 ORDER BY created_at DESC LIMIT 1";

/// A repeated single vote hits the partial unique index and inserts nothing.
pub(crate) const INSERT_USER_FEEDBACK: &str = "\
    INSERT INTO user_feedback (chat_command_id, user_id, kind, detail, created_at) \
    VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING";

pub(crate) const FEEDBACK_COUNTS: &str = "\
    SELECT kind, COUNT(*) FROM user_feedback WHERE chat_command_id = $1 GROUP BY kind";

pub(crate) const LLM_CALLS_FOR_COMMAND: &str =
    "SELECT * FROM llm_call_logs WHERE chat_command_id = $1 ORDER BY id";

pub(crate) const FEEDBACK_BY_USER: &str =
    "SELECT * FROM user_feedback WHERE user_id = $1 ORDER BY id DESC LIMIT CAST($2 AS BIGINT)";

pub(crate) const FEEDBACK_FOR_COMMAND: &str =
    "SELECT * FROM user_feedback WHERE chat_command_id = $1 ORDER BY id";

// ----- Dashboard statistics -----

/// The stored rollups of the hours from `$1` to `$2` (both included), oldest first.
pub(crate) const STATS_HOURS: &str = "\
    SELECT hour_start, completed, failed, other, total_tokens, latency, feedback FROM stats_hours \
    WHERE hour_start >= $1 AND hour_start <= $2 ORDER BY hour_start";

/// Which hours from `$1` have a rollup.
pub(crate) const STATS_HOURS_SINCE: &str =
    "SELECT hour_start FROM stats_hours WHERE hour_start >= $1 ORDER BY hour_start";

/// When the first command or feedback was recorded (NULL on an empty database): every hour before it is
/// empty. Each `MIN` is one seek on its `created_at` index.
pub(crate) const FIRST_ACTIVITY: &str = "\
    SELECT MIN(t) FROM (SELECT MIN(created_at) AS t FROM chat_commands \
        UNION ALL SELECT MIN(created_at) AS t FROM user_feedback) AS firsts";

/// Feedback given from `$1` to `$2` (excluded), per kind (`user_feedback_created`, migration 0010).
pub(crate) const HOUR_FEEDBACK: &str = "\
    SELECT kind, COUNT(*) FROM user_feedback WHERE created_at >= $1 AND created_at < $2 GROUP BY kind";

/// The chat commands created from `$1` to `$2` (excluded), per state and latency bucket, with their
/// tokens: one hour of a rollup. `$3` and `$4` are the hour's ends widened by the most two recordings can
/// be out of order: as in the admin list's date filter, one seek on the `created_at` index at each end
/// turns the hour into an id range (ids grow with creation time), walked on the primary key, reading each
/// command once; the exact `created_at` terms still decide.
///
/// `table` is how the backend names the table for that walk, `latency_ms` its expression for
/// `finished_at - created_at` in milliseconds, and `fence` what keeps the inner query from being merged
/// into the outer one (which would compute the latency again at every step of the bucket's `CASE`).
pub(crate) fn hour_commands(table: &str, latency_ms: &str, fence: &str) -> String {
    format!(
        "SELECT state, {bucket} AS bucket, COUNT(*) AS n, \
             CAST(COALESCE(SUM(total_tokens), 0) AS BIGINT) AS tokens \
         FROM (SELECT state, total_tokens, \
                 CASE WHEN state = 'completed' AND finished_at IS NOT NULL \
                     THEN ROUND({latency_ms}) END AS ms \
             FROM {table} \
             WHERE created_at >= $1 AND created_at < $2 \
               AND id >= COALESCE((SELECT id FROM chat_commands WHERE created_at >= $3 \
                   ORDER BY created_at LIMIT 1), 9223372036854775807) \
               AND id <= COALESCE((SELECT id FROM chat_commands WHERE created_at < $4 \
                   ORDER BY created_at DESC LIMIT 1), 0) \
             {fence}) AS c \
         GROUP BY state, bucket",
        bucket = latency_bucket("ms"),
    )
}

/// The latency bucket (`core::stats::LatencyHistogram::bucket_of`) of the milliseconds in `ms`, -1 for
/// NULL: a binary search over the bounds written as nested `CASE`s (six comparisons a row instead of up
/// to 58).
pub(crate) fn latency_bucket(ms: &str) -> String {
    fn search(ms: &str, lo: usize, hi: usize) -> String {
        if hi - lo == 1 {
            return lo.to_string();
        }
        let mid = (lo + hi) / 2;
        // Buckets below `mid` hold the latencies under the bound that starts bucket `mid`.
        format!(
            "CASE WHEN {ms} < {} THEN {} ELSE {} END",
            LATENCY_BOUNDS_MS[mid - 1],
            search(ms, lo, mid),
            search(ms, mid, hi)
        )
    }
    format!(
        "CAST(CASE WHEN {ms} IS NULL THEN -1 ELSE {} END AS BIGINT)",
        search(ms, 0, LATENCY_BUCKETS)
    )
}

/// Hot-path queries whose plans the backends' tests check, with the table they must not scan.
#[cfg(test)]
pub(crate) const HOT_PATHS: &[(&str, &str)] = &[
    (USAGE_SINCE, "chat_commands"),
    (COUNTED_SINCE, "chat_commands"),
    (USER_IN_FLIGHT, "chat_commands"),
    (RECENT_EXCHANGES, "chat_commands"),
    (WAITING_COUNT, "chat_commands"),
    (OLDEST_WAITING, "chat_commands"),
    (QUEUED_COUNT, "chat_commands"),
    (CHAT_COMMAND_BY_INTERACTION, "chat_commands"),
    (CHAT_COMMAND_BY_MESSAGE, "chat_commands"),
    (FEEDBACK_COUNTS, "user_feedback"),
    (ADMIN_SESSION, "admin_sessions"),
    (API_TOKEN_BY_HASH, "api_tokens"),
    (ADMIN_BY_USERNAME, "admin_accounts"),
    (LAST_CLEAR_COMMAND, "clear_commands"),
    (LLM_CALLS_FOR_COMMAND, "llm_call_logs"),
    (FEEDBACK_FOR_COMMAND, "user_feedback"),
    (FEEDBACK_BY_USER, "user_feedback"),
    (HOUR_FEEDBACK, "user_feedback"),
    (FIRST_ACTIVITY, "user_feedback"),
    (STATS_HOURS, "stats_hours"),
];

#[cfg(test)]
mod tests {
    use disconcierge_core::model::{ChatCommandState, ChatCommandStep};

    #[test]
    fn state_names_in_sql_match_the_domain() {
        let all = [
            crate::sqlite::CLAIM,
            crate::postgres::CLAIM,
            crate::sqlite::CLAIM_PRIORITY,
            crate::postgres::CLAIM_PRIORITY,
            crate::sqlite::EXPIRE_CHAT_COMMANDS.as_str(),
            crate::postgres::EXPIRE_CHAT_COMMANDS.as_str(),
            super::USER_IN_FLIGHT,
            super::QUEUED_COUNT,
            super::REQUEUE_CHAT_COMMAND,
            super::FINISH_CHAT_COMMAND,
            crate::postgres::QUEUE_ACKNOWLEDGED,
            crate::postgres::RECORD_USERS.as_str(),
        ]
        .concat();
        let mut rest = all.as_str();
        let mut found = 0;
        // Every quoted word in these statements is a state name or a step name.
        while let Some(start) = rest.find('\'') {
            let end = rest[start + 1..].find('\'').unwrap() + start + 1;
            let word = &rest[start + 1..end];
            let is_step = word.parse::<ChatCommandStep>().is_ok();
            assert!(
                is_step || word.parse::<ChatCommandState>().is_ok(),
                "{word:?} is not a chat command state"
            );
            found += 1;
            rest = &rest[end + 1..];
        }
        assert!(found > 10);
    }
}
