//! The SQLite backend: one file, WAL journal, one writer at a time.
//!
//! Timestamps are TEXT in one fixed-width format (see [`ts`]) so that SQL comparisons on them are correct;
//! sqlx's own encoding drops trailing zero digits, which would make `'...:00Z' > '...:00.5Z'`.

use crate::ConnectOptions;
use crate::connections::{Connections, Lease};
use crate::terms::{COMMON_TERM, SEARCH_BUDGET, TermCounts};
use crate::waiting::WaitingBound;
use crate::{DatabaseKind, StoreError};
use chrono::{DateTime, Utc};
use disconcierge_core::desk::retrieval::{TermSelection, select_terms};
use sqlx::ConnectOptions as _;
use sqlx::Connection as _;
use sqlx::Row as _;
use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection, SqliteJournalMode, SqliteSynchronous};
use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

type Db = sqlx::Sqlite;
type DbRow = sqlx::sqlite::SqliteRow;
type TsValue = String;

const KIND: DatabaseKind = DatabaseKind::Sqlite;

pub(crate) static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

/// How long a connection waits for another's write to finish before giving up with "database is locked".
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Is the `_sqlx_migrations` table there (false on a fresh database)?
const MIGRATIONS_TABLE_EXISTS: &str = "SELECT EXISTS (SELECT 1 FROM sqlite_master \
     WHERE type = 'table' AND name = '_sqlx_migrations')";

/// The claim statement, taking only the commands that also match `$only` (see [`CLAIM`]).
macro_rules! claim {
    ($only:literal) => {
        concat!(
            "UPDATE chat_commands SET state = 'in_progress', \
                step = CASE WHEN step = 'finalizing' THEN step ELSE 'generating' END, lease_owner = $1, \
                lease_expires_at = $2, \
                attempts = attempts + 1, started_at = COALESCE(started_at, $3), updated_at = $3 \
            WHERE id = ( \
                SELECT id FROM chat_commands INDEXED BY chat_commands_claim \
                WHERE state IN ('queued', 'in_progress') \
                  AND (state = 'queued' OR lease_expires_at < $3) \
                  AND token_expires_at > $3 ",
            $only,
            "ORDER BY priority DESC, created_at, id \
                LIMIT 1) \
            RETURNING *"
        )
    };
}
/// Claims the next command in one statement. SQLite runs one writer at a time and a write statement
/// takes the write lock before it reads, so the sub-select and the update cannot interleave with another
/// claim. `$1` owner, `$2` lease end, `$3` now.
///
/// `INDEXED BY` the claim index, which holds the live rows in claim order: the walk stops at the first
/// claimable row. Left to itself (no `ANALYZE` statistics), SQLite preferred the admin list's
/// `(state, id)` index for the `state IN (…)` equality and sorted every queued row for each claim: 0.6 ms
/// a claim with 6,000 queued, most of the bot's SQLite time while a backlog is answered (BENCHMARKS.md,
/// 2026-12-06, night session).
pub(crate) const CLAIM: &str = claim!("");
/// [`CLAIM`] for priority users' commands only (while paused).
pub(crate) const CLAIM_PRIORITY: &str = claim!("AND priority ");

// ----- Recording chat commands in batches (see `QueueStore::record_chat_commands`) -----
//
// A batch arrives as one JSON array per statement (`json_each`): the statements stay the same whatever
// the batch size, so each is compiled once and kept in the connection's statement cache (a multi-row
// `VALUES` list would be a new statement for every size).

/// The acknowledged commands of some interactions (`$1`: `[{interaction_id}]`), `received` until now,
/// become `queued`. The unary `+` keeps SQLite from walking every `received` row of the `(state, id)`
/// index: each listed interaction is looked up by its own unique index instead.
pub(crate) const QUEUE_ACKNOWLEDGED: &str = "\
    UPDATE chat_commands SET state = 'queued', step = 'enqueued', updated_at = $2 \
    WHERE interaction_id IN (SELECT value ->> 'interaction_id' FROM json_each($1)) \
      AND +state = 'received'";

/// [`crate::sql::expire_chat_commands`] through the token-expiry index, which holds the live rows by
/// expiry: only the expired ones are read, where the `(state, id)` index SQLite chose by itself read
/// every live row (the janitor runs it every few seconds, holding the writer).
pub(crate) static EXPIRE_CHAT_COMMANDS: std::sync::LazyLock<String> =
    std::sync::LazyLock::new(|| {
        crate::sql::expire_chat_commands("chat_commands INDEXED BY chat_commands_token_expiry")
    });

/// The authors of a batch, with what admitting their commands needs ([`crate::sql::record_users`]);
/// the rows of `$1` through `json_each` (`WHERE true` keeps SQLite from reading `ON CONFLICT` as part
/// of the `SELECT`).
pub(crate) static RECORD_USERS: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    crate::sql::record_users(
        "SELECT value ->> 'discord_id', value ->> 'username', value ->> 'global_name', $2, $2 \
         FROM json_each($1) WHERE true",
        true,
    )
});

/// [`RECORD_USERS`] without counting the waiting commands (see [`crate::waiting`]).
pub(crate) static RECORD_USERS_UNCOUNTED: std::sync::LazyLock<String> =
    std::sync::LazyLock::new(|| {
        crate::sql::record_users(
            "SELECT value ->> 'discord_id', value ->> 'username', value ->> 'global_name', $2, $2 \
         FROM json_each($1) WHERE true",
            false,
        )
    });

/// `$1`: the commands, `[{ord, interaction_id, …}]`. Recorded in `ord` order (ids follow it); an
/// interaction already recorded is left out of the result. `WHERE true` keeps SQLite from reading the
/// `ON CONFLICT` as the join's `ON`.
pub(crate) const RECORD_COMMANDS: &str = "\
    INSERT INTO chat_commands (interaction_id, interaction_token, token_expires_at, application_id, \
        user_id, guild_id, channel_id, private, prompt, state, step, priority, created_at, updated_at, \
        finished_at) \
    SELECT c.value ->> 'interaction_id', c.value ->> 'interaction_token', \
        c.value ->> 'token_expires_at', c.value ->> 'application_id', u.discord_id, \
        c.value ->> 'guild_id', c.value ->> 'channel_id', c.value ->> 'private', c.value ->> 'prompt', \
        c.value ->> 'state', c.value ->> 'step', u.priority, c.value ->> 'created_at', \
        c.value ->> 'created_at', c.value ->> 'finished_at' \
    FROM json_each($1) c JOIN users u ON u.discord_id = c.value ->> 'user_id' \
    WHERE true ORDER BY c.value ->> 'ord' \
    ON CONFLICT (interaction_id) DO NOTHING \
    RETURNING *";

/// [`RECORD_USERS`] (or its uncounted form) and [`RECORD_COMMANDS`] as one statement list, handed to
/// the connection's thread in one piece: SQLite runs them one after the other, each its own commit, as
/// two separate statements would, but the batch costs one round trip to that thread instead of two.
/// On a loaded machine each round trip is two thread wake-ups, and the recorder's batches are what every
/// acknowledgement waits for. The commands' JSON is `$5` (after `RECORD_USERS`' four parameters).
pub(crate) fn record_batch(counted: bool) -> Option<&'static str> {
    static COUNTED: std::sync::LazyLock<String> =
        std::sync::LazyLock::new(|| format!("{}; {}", *RECORD_USERS, record_commands_at_5()));
    static UNCOUNTED: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
        format!("{}; {}", *RECORD_USERS_UNCOUNTED, record_commands_at_5())
    });
    Some(if counted { &COUNTED } else { &UNCOUNTED })
}

/// A claimed command's context (see `QueueStore::chat_context`) as one statement list, in one hand-off to a
/// reader's thread: the author ([`crate::sql::USER`], `$1`), the creation times of their counted
/// commands since `$2` ([`crate::sql::COUNTED_SINCE`]) and, with `history`, their exchanges
/// ([`crate::sql::RECENT_EXCHANGES`]) since their conversation was last reset (`$3` if never), leaving
/// out command `$4`, at most `$5`.
pub(crate) fn chat_context_list(history: bool) -> Option<&'static str> {
    static WITHOUT: std::sync::LazyLock<String> =
        std::sync::LazyLock::new(|| format!("{}; {}", crate::sql::USER, crate::sql::COUNTED_SINCE));
    static WITH: std::sync::LazyLock<String> =
        std::sync::LazyLock::new(|| format!("{}; {}", *WITHOUT, *EXCHANGES_SINCE_RESET));
    Some(if history { &WITH } else { &WITHOUT })
}

/// [`crate::sql::RECENT_EXCHANGES`] since the user's last reset (`$3` if none), leaving out `$4`, at most
/// `$5`.
static EXCHANGES_SINCE_RESET: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    let sql = crate::sql::RECENT_EXCHANGES;
    assert!(!sql.contains("$5"), "parameters $1 to $4");
    sql.replace("$4", "$5").replace("$3", "$4").replace(
        "$2",
        "COALESCE((SELECT conversation_reset_at FROM users WHERE discord_id = $1), $3)",
    )
});

fn record_commands_at_5() -> String {
    assert_eq!(RECORD_COMMANDS.matches('$').count(), 1, "one parameter, $1");
    RECORD_COMMANDS.replace("$1", "$5")
}

/// One process owns the file and keeps its rates in memory (see [`crate::RateStore`]).
pub(crate) const RESERVE_SLOT: Option<&str> = None;

/// LLM call logs in one statement (`$1`: `[{ord, chat_command_id, …}]`, see
/// `LogStore::insert_llm_call_logs`): the statement is the same whatever the batch size. `->` keeps the
/// request and the response as JSON text; a response left out of the JSON is NULL.
pub(crate) const INSERT_LLM_CALL_LOGS: &str = "\
    INSERT INTO llm_call_logs (chat_command_id, provider, operation, model, request, response, \
        http_status, error, started_at, duration_ms, prompt_tokens, completion_tokens, total_tokens) \
    SELECT l.value ->> 'chat_command_id', l.value ->> 'provider', l.value ->> 'operation', \
        l.value ->> 'model', l.value -> 'request', l.value -> 'response', l.value ->> 'http_status', \
        l.value ->> 'error', l.value ->> 'started_at', l.value ->> 'duration_ms', \
        l.value ->> 'prompt_tokens', l.value ->> 'completion_tokens', l.value ->> 'total_tokens' \
    FROM json_each($1) l ORDER BY l.value ->> 'ord' \
    RETURNING id";

// ----- Dashboard statistics (see `shared/activity.rs`) -----

/// One hour of chat commands for a rollup ([`crate::sql::hour_commands`]). `NOT INDEXED` keeps SQLite
/// walking the primary key over the hour's id range (the `created_at` index would cost a table look-up
/// per command); `LIMIT -1 OFFSET 0` keeps the inner query a co-routine whose latency is computed once
/// per row. `julianday` counts whole milliseconds, as the rollup does.
static HOUR_COMMANDS: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    crate::sql::hour_commands(
        "chat_commands NOT INDEXED",
        "(julianday(finished_at) - julianday(created_at)) * 86400000.0",
        "LIMIT -1 OFFSET 0",
    )
});

/// Tickets opened since `$1`, per UTC hour (`YYYY-MM-DDTHH`: timestamps are stored as UTC text).
const TICKETS_OPENED_PER_HOUR: &str = "\
    SELECT substr(created_at, 1, 13) AS hour, COUNT(*) AS n FROM tickets \
    WHERE created_at >= $1 GROUP BY 1";

/// Tickets closed since `$1`, per UTC hour.
const TICKETS_CLOSED_PER_HOUR: &str = "\
    SELECT substr(closed_at, 1, 13) AS hour, COUNT(*) AS n FROM tickets \
    WHERE closed_at >= $1 GROUP BY 1";

// ----- Support desk (see `shared/desk/`) -----

/// The user's ticket in a category that is not closed (`tickets_one_open`), read inside the reservation's
/// write transaction: `BEGIN IMMEDIATE` already keeps other writers out. `$1` guild, `$2` opener, `$3`
/// category.
pub(crate) const OPEN_TICKET_LOCKED: &str = "\
    SELECT * FROM tickets \
    WHERE guild_id = $1 AND opener_id = $2 AND category = $3 AND state <> 'closed'";

/// A trained question by key, read inside the write transaction that updates it. `$1` guild, `$2` key.
pub(crate) const TRAINING_BY_KEY_LOCKED: &str = "SELECT id, answer, category, tags FROM training_entries WHERE guild_id = $1 AND question_key = $2";

/// Searches are prepared once and kept in the connection's statement cache: SQLite plans each run with
/// its values anyway.
pub(crate) const PLAN_EACH_SEARCH: bool = false;

impl Backend {
    /// Nothing: the FTS5 tables are up to date as each entry is written.
    async fn after_import(&self, _table: &'static str) {}
}

/// Trained answers matching a [`fts_query`] (`$2`), best first: BM25 with the question weighing
/// most, then the tags, then the answer (the scope column is not searched). FTS5 sorts by `rank`
/// itself. `$1` guild (filtered on each hit, see [`fts_query`]), `$3` limit, `$4` the
/// embedding model whose vectors to return. `CROSS JOIN` keeps the index as the outer loop: SQLite
/// never reorders it, and would otherwise read every entry of the guild by `guild_id` and probe the
/// index for each.
pub(crate) const SEARCH_TRAINING: &str = "\
    SELECT t.id, t.question AS title, t.answer AS body, t.tags, CAST(NULL AS TEXT) AS source, \
        CASE WHEN t.embedding_model = $4 THEN t.embedding END AS embedding \
    FROM training_fts CROSS JOIN training_entries t ON t.id = training_fts.rowid \
    WHERE training_fts MATCH $2 AND training_fts.rank MATCH 'bm25(0.0, 10.0, 2.0, 4.0)' \
      AND t.guild_id = $1 \
    ORDER BY training_fts.rank LIMIT CAST($3 AS BIGINT)";

/// Knowledge entries matching a [`fts_query`], as [`SEARCH_TRAINING`] (title, then tags, then
/// content), with their knowledge base's name; `$5` the knowledge base, if one.
pub(crate) const SEARCH_KNOWLEDGE: &str = "\
    SELECT e.id, e.title, e.content AS body, e.tags, k.name AS source, \
        CASE WHEN e.embedding_model = $4 THEN e.embedding END AS embedding \
    FROM kb_fts CROSS JOIN kb_entries e ON e.id = kb_fts.rowid \
        CROSS JOIN knowledge_bases k ON k.id = e.kb_id \
    WHERE kb_fts MATCH $2 AND kb_fts.rank MATCH 'bm25(0.0, 10.0, 2.0, 4.0)' \
      AND e.guild_id = $1 AND ($5 IS NULL OR e.kb_id = $5) \
    ORDER BY kb_fts.rank LIMIT CAST($3 AS BIGINT)";

/// [`SEARCH_TRAINING`] for a message of only very common words ([`TermSelection::All`]): ranking every
/// entry that contains them would read most of the guild, so the newest entries containing all of them
/// are the candidates (FTS5 walks its posting lists backwards and stops at the limit; the application
/// then scores them).
pub(crate) const SEARCH_TRAINING_ALL: &str = "\
    SELECT t.id, t.question AS title, t.answer AS body, t.tags, CAST(NULL AS TEXT) AS source, \
        CASE WHEN t.embedding_model = $4 THEN t.embedding END AS embedding \
    FROM training_fts CROSS JOIN training_entries t ON t.id = training_fts.rowid \
    WHERE training_fts MATCH $2 AND t.guild_id = $1 \
    ORDER BY training_fts.rowid DESC LIMIT CAST($3 AS BIGINT)";

/// [`SEARCH_KNOWLEDGE`] for a message of only very common words (see [`SEARCH_TRAINING_ALL`]).
pub(crate) const SEARCH_KNOWLEDGE_ALL: &str = "\
    SELECT e.id, e.title, e.content AS body, e.tags, k.name AS source, \
        CASE WHEN e.embedding_model = $4 THEN e.embedding END AS embedding \
    FROM kb_fts CROSS JOIN kb_entries e ON e.id = kb_fts.rowid \
        CROSS JOIN knowledge_bases k ON k.id = e.kb_id \
    WHERE kb_fts MATCH $2 AND e.guild_id = $1 AND ($5 IS NULL OR e.kb_id = $5) \
    ORDER BY kb_fts.rowid DESC LIMIT CAST($3 AS BIGINT)";

/// A guild's (or knowledge base's) token in the full-text indexes' `scope` column, as the generated
/// columns of migration 0008 write it: a prefix and the id, with `n` for a minus sign (the tokenizer
/// would split at `-`).
fn scope_token(prefix: char, id: i64) -> String {
    format!("{prefix}{}", id.to_string().replace('-', "n"))
}

/// The FTS5 query for `terms` (letters and digits only), in the entry's text columns (not `scope`).
/// Terms are quoted, so none is read as an operator.
///
/// [`TermSelection::Any`] (the rarer terms, ranked): the guild (and knowledge base) are filtered in the
/// join, not in the index — matching `scope : "g…"` too would make FTS5 intersect with the guild's whole
/// posting list (one posting per entry of the guild: 3 ms at 100,000 entries, ten times the search),
/// while the rarer terms match few rows of any guild.
///
/// [`TermSelection::All`] (only common terms, newest first, unranked): here the guild's token is matched
/// too, so that walking back from the newest entry skips other guilds' entries inside the index instead
/// of reading them and dropping them in the join.
fn fts_query(selection: &TermSelection, guild_id: i64, kb_id: Option<i64>) -> String {
    match selection {
        TermSelection::Any(terms) => {
            let any = terms
                .iter()
                .map(|t| quoted(t))
                .collect::<Vec<_>>()
                .join(" OR ");
            format!("- scope : ({any})")
        }
        TermSelection::All(terms) => {
            let mut query = format!("scope : \"{}\"", scope_token('g', guild_id));
            if let Some(kb) = kb_id {
                query.push_str(&format!(" AND scope : \"{}\"", scope_token('k', kb)));
            }
            let all = terms
                .iter()
                .map(|t| quoted(t))
                .collect::<Vec<_>>()
                .join(" AND ");
            format!("{query} AND - scope : ({all})")
        }
    }
}

fn quoted(term: &str) -> String {
    format!("\"{}\"", term.replace('"', "\"\""))
}

impl Backend {
    /// The search for `terms` in `table`: the statement and the value bound to its MATCH, with the
    /// terms worth searching, chosen by how many entries of `table` contain each (see [`select_terms`]).
    async fn full_text_query(
        &self,
        table: &'static str,
        terms: &[String],
        guild_id: i64,
        kb_id: Option<i64>,
    ) -> Result<(String, &'static str), sqlx::Error> {
        let mut counted = Vec::with_capacity(terms.len());
        for term in terms {
            counted.push((term.clone(), self.term_count(table, term).await?));
        }
        let selection = select_terms(&counted, COMMON_TERM, SEARCH_BUDGET);
        let sql = match (&selection, table) {
            (TermSelection::Any(_), "training_fts") => SEARCH_TRAINING,
            (TermSelection::Any(_), _) => SEARCH_KNOWLEDGE,
            (TermSelection::All(_), "training_fts") => SEARCH_TRAINING_ALL,
            (TermSelection::All(_), _) => SEARCH_KNOWLEDGE_ALL,
        };
        Ok((fts_query(&selection, guild_id, kb_id), sql))
    }

    /// Entries of `table` (all guilds) containing `term`, counted up to [`COMMON_TERM`]: reading a long
    /// posting list stops there, so a count costs at most that many postings, and counts are cached.
    async fn term_count(&self, table: &'static str, term: &str) -> Result<u32, sqlx::Error> {
        if let Some(n) = self.term_counts.get(table, term) {
            return Ok(n);
        }
        let sql = format!(
            "SELECT COUNT(*) FROM (SELECT 1 FROM {table} WHERE {table} MATCH $1 LIMIT {COMMON_TERM})"
        );
        let n: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
            .bind(format!("- scope : {}", quoted(term)))
            .fetch_one(&mut *self.reader().await?)
            .await?;
        let n = u32::try_from(n).unwrap_or(COMMON_TERM);
        self.term_counts.put(table, term, n);
        Ok(n)
    }
}

/// A timestamp as stored: `YYYY-MM-DDTHH:MM:SS.ffffffZ`, always UTC and always 6 fractional digits, so
/// that text order is time order. sqlx reads it back as RFC 3339.
fn ts(t: DateTime<Utc>) -> TsValue {
    t.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
}

/// A timestamp inside a JSON document read by a statement: the stored text itself.
fn ts_text(t: DateTime<Utc>) -> String {
    ts(t)
}

/// Starts a transaction that takes the write lock at once (`BEGIN IMMEDIATE`), so that it waits for other
/// writers up front (busy timeout) instead of failing when it first writes after reading.
async fn begin_write(
    conn: &mut SqliteConnection,
) -> Result<sqlx::Transaction<'_, Db>, sqlx::Error> {
    conn.begin_with("BEGIN IMMEDIATE").await
}

/// Writes between two checkpoints run in the background (see [`Checkpoints`]). Small checkpoints, often,
/// disturb the writer least: at 2,000 acknowledgements a second the acknowledgement p99 was lowest at 16
/// among 4, 16, 64 and 256 (BENCHMARKS.md, 2026-12-06): fewer checkpoints each copy and sync more at once,
/// more of them cost more than they save.
const CHECKPOINT_EVERY_WRITES: u32 = 16;
/// The writer still checkpoints by itself past this many WAL pages (about 6 MB), should the background
/// fall behind: a safety net, normally not reached.
const WRITER_AUTOCHECKPOINT_PAGES: &str = "1500";

/// Checkpoints the WAL in the background, on a reader connection, so that the writer never does it in the
/// middle of someone's write.
///
/// Left to itself, SQLite checkpoints inside the commit that takes the WAL past 1,000 pages: that write
/// (often a command being acknowledged) then copies the pages into the database file and syncs it,
/// milliseconds instead of microseconds — the whole of the acknowledgement's p99 (6.4 ms with, 1.4 ms
/// without, BENCHMARKS.md). Here a passive checkpoint runs every [`CHECKPOINT_EVERY_WRITES`] writes, and a
/// second after the last write, without blocking the writer or readers. Under a steady stream of writes a
/// passive checkpoint rarely copies the very last frames, so the WAL cannot start over by itself; the
/// writer's own checkpoint at [`WRITER_AUTOCHECKPOINT_PAGES`] then finds almost everything copied already.
struct Checkpoints {
    /// Writes since the last checkpoint; the task holds it weakly, so the store going away ends the task.
    writes: Arc<std::sync::atomic::AtomicU32>,
    due: Arc<tokio::sync::Notify>,
    task: tokio::task::JoinHandle<()>,
}

impl Checkpoints {
    fn start(readers: Arc<Connections>) -> Self {
        let writes = Arc::new(std::sync::atomic::AtomicU32::new(0));
        let due = Arc::new(tokio::sync::Notify::new());
        let task = tokio::spawn({
            let (counter, due) = (Arc::downgrade(&writes), due.clone());
            async move {
                loop {
                    let _ = tokio::time::timeout(Duration::from_secs(1), due.notified()).await;
                    let Some(counter) = counter.upgrade() else {
                        return;
                    };
                    if counter.swap(0, std::sync::atomic::Ordering::AcqRel) == 0 {
                        continue;
                    }
                    drop(counter);
                    let result = match readers.acquire().await {
                        Ok(mut conn) => sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
                            .execute(&mut *conn)
                            .await
                            .map(drop),
                        Err(e) => Err(e),
                    };
                    match result {
                        Ok(()) => {}
                        // The store is closing.
                        Err(sqlx::Error::PoolClosed) => return,
                        Err(e) => tracing::warn!(error = %e, "could not checkpoint the SQLite WAL"),
                    }
                }
            }
        });
        Checkpoints { writes, due, task }
    }

    /// Counts a write; every [`CHECKPOINT_EVERY_WRITES`]th wakes the checkpointer.
    fn wrote(&self) {
        let n = self
            .writes
            .fetch_add(1, std::sync::atomic::Ordering::AcqRel)
            + 1;
        if n.is_multiple_of(CHECKPOINT_EVERY_WRITES) {
            self.due.notify_one();
        }
    }
}

impl Drop for Checkpoints {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A store on a SQLite file.
pub(crate) struct Backend {
    /// Reads (WAL readers never wait for the writer).
    readers: Arc<Connections>,
    /// Every write, on one connection. SQLite has one writer at a time anyway; when several connections
    /// compete for it, the losers sleep in SQLite's busy handler (1, 2, 5, 10 … 100 ms between tries), so
    /// under load a write could wait far longer than the writes ahead of it take. Queued here instead,
    /// writes run back to back in arrival order (the connection is handed out first come, first served).
    writer: Connections,
    /// How common each searched term is (see [`Backend::full_text_query`]).
    term_counts: TermCounts,
    checkpoints: Checkpoints,
    /// How many chat commands wait for a worker at most (this process is the file's only writer).
    waiting: WaitingBound,
}

impl Backend {
    pub(crate) async fn connect(opts: &ConnectOptions) -> Result<Self, StoreError> {
        let location = opts.redacted_location();
        let fail = |hint: &'static str, source: sqlx::Error| StoreError::Connect {
            kind: KIND,
            location: location.clone(),
            hint,
            source,
        };
        let raw = opts.url_or_path.trim();
        let options = if raw.starts_with("sqlite:") {
            SqliteConnectOptions::from_str(raw).map_err(|e| {
                fail(
                    "use a file path or a URL such as sqlite:///var/lib/disconcierge/dc.sqlite3",
                    e,
                )
            })?
        } else {
            SqliteConnectOptions::new().filename(raw)
        };
        let options = options
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(BUSY_TIMEOUT)
            .log_statements(log::LevelFilter::Trace)
            .log_slow_statements(log::LevelFilter::Warn, opts.slow_threshold);

        if let Some(dir) = options.get_filename().parent()
            && dir != Path::new("")
            && !dir.exists()
        {
            std::fs::create_dir_all(dir).map_err(|e| {
                fail(
                    "could not create its directory; check that the parent directory exists and \
                     is writable by this user",
                    sqlx::Error::Io(e),
                )
            })?;
        }

        let open =
            |max: u32| Connections::open(options.clone(), max as usize, Duration::from_secs(30));
        let hint = "check that the path is right, that the directory is writable by this user, and \
                    that the file is a SQLite database";
        // The writer first: it creates the file and switches it to WAL before readers open it.
        let writer = Connections::open(
            options
                .clone()
                .pragma("wal_autocheckpoint", WRITER_AUTOCHECKPOINT_PAGES),
            1,
            Duration::from_secs(30),
        )
        .await
        .map_err(|e| fail(hint, e))?;
        let readers = open(opts.max_connections.clamp(1, crate::SQLITE_MAX_CONNECTIONS))
            .await
            .map_err(|e| fail(hint, e))?;
        let readers = Arc::new(readers);
        Ok(Backend {
            checkpoints: Checkpoints::start(readers.clone()),
            readers,
            writer,
            term_counts: TermCounts::default(),
            waiting: WaitingBound::default(),
        })
    }

    fn waiting_bound(&self) -> Option<&WaitingBound> {
        Some(&self.waiting)
    }

    async fn writer(&self) -> Result<Lease<'_>, sqlx::Error> {
        let lease = self.writer.acquire().await?;
        self.checkpoints.wrote();
        Ok(lease)
    }

    /// The writer for the acknowledgement path: ahead of other writes waiting for it (see
    /// [`Connections::acquire_first`]).
    async fn writer_first(&self) -> Result<Lease<'_>, sqlx::Error> {
        let lease = self.writer.acquire_first().await?;
        self.checkpoints.wrote();
        Ok(lease)
    }

    async fn reader(&self) -> Result<Lease<'_>, sqlx::Error> {
        self.readers.acquire().await
    }

    async fn close_connections(&self) {
        self.checkpoints.task.abort();
        self.writer.close().await;
        self.readers.close().await;
    }

    /// One process owns a SQLite file: there is no other instance to tell.
    async fn notify_change(&self, _change: crate::Change) -> Result<(), StoreError> {
        Ok(())
    }

    async fn listen_changes(&self) -> Result<Option<crate::Changes>, StoreError> {
        Ok(None)
    }
}

// The implementation both backends share, compiled here against this backend (see `shared/mod.rs`).
#[allow(clippy::duplicate_mod)]
#[path = "shared/mod.rs"]
mod shared;

#[cfg(test)]
mod tests;
