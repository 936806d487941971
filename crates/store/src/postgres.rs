//! The PostgreSQL backend: for several instances sharing one queue.

use crate::ConnectOptions;
use crate::terms::{COMMON_TERM, SEARCH_BUDGET, TermCounts};
use crate::{DatabaseKind, StoreError};
use chrono::{DateTime, Utc};
use disconcierge_core::desk::retrieval::{TermSelection, select_terms};
use sqlx::ConnectOptions as _;
use sqlx::Connection as _;
use sqlx::Row as _;
use sqlx::postgres::{PgConnectOptions, PgConnection, PgPoolOptions};
use std::str::FromStr;
use std::time::Duration;

type Db = sqlx::Postgres;
type DbRow = sqlx::postgres::PgRow;
type TsValue = DateTime<Utc>;

const KIND: DatabaseKind = DatabaseKind::Postgres;

pub(crate) static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// Is the `_sqlx_migrations` table there (false on a fresh database)? Looked up through the search path,
/// as sqlx's migrator does.
const MIGRATIONS_TABLE_EXISTS: &str = "SELECT to_regclass('_sqlx_migrations') IS NOT NULL";

/// The claim statement, taking only the commands that also match `$only` (see [`CLAIM`]).
macro_rules! claim {
    ($only:literal) => {
        concat!(
            "UPDATE chat_commands SET state = 'in_progress', \
                step = CASE WHEN step = 'finalizing' THEN step ELSE 'generating' END, lease_owner = $1, \
                lease_expires_at = $2, \
                attempts = attempts + 1, started_at = COALESCE(started_at, $3), updated_at = $3 \
            WHERE id = ( \
                SELECT id FROM chat_commands \
                WHERE state IN ('queued', 'in_progress') \
                  AND (state = 'queued' OR lease_expires_at < $3) \
                  AND token_expires_at > $3 ",
            $only,
            "ORDER BY priority DESC, created_at, id \
                LIMIT 1 \
                FOR UPDATE SKIP LOCKED) \
            RETURNING *"
        )
    };
}
/// Claims the next command in one statement. `FOR UPDATE SKIP LOCKED` makes concurrent claimers (in this
/// process or other instances) pass over a row another claimer is taking instead of waiting for it or
/// taking it too; under READ COMMITTED the locked row is re-checked against the `WHERE`, so a row claimed
/// a moment ago is not taken again. `$1` owner, `$2` lease end, `$3` now.
pub(crate) const CLAIM: &str = claim!("");
/// [`CLAIM`] for priority users' commands only (while paused).
pub(crate) const CLAIM_PRIORITY: &str = claim!("AND priority ");

// ----- Dashboard statistics (see `shared/activity.rs`) -----

/// One hour of chat commands for a rollup ([`crate::sql::hour_commands`]). `OFFSET 0` keeps the inner
/// query from being pulled up into the outer one (which would compute the latency again in each `CASE`).
static HOUR_COMMANDS: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    crate::sql::hour_commands(
        "chat_commands",
        "EXTRACT(EPOCH FROM finished_at - created_at) * 1000",
        "OFFSET 0",
    )
});

/// Tickets opened since `$1`, per UTC hour (`YYYY-MM-DDTHH`, whatever the session's time zone).
const TICKETS_OPENED_PER_HOUR: &str = "\
    SELECT to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24') AS hour, COUNT(*) AS n \
    FROM tickets WHERE created_at >= $1 GROUP BY 1";

/// Tickets closed since `$1`, per UTC hour.
const TICKETS_CLOSED_PER_HOUR: &str = "\
    SELECT to_char(closed_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24') AS hour, COUNT(*) AS n \
    FROM tickets WHERE closed_at >= $1 GROUP BY 1";

// ----- Support desk (see `shared/desk/`) -----

/// The user's ticket in a category that is not closed (`tickets_one_open`), locked for the reservation's
/// transaction so that two reservations do not both replace an abandoned one. `$1` guild, `$2` opener,
/// `$3` category.
pub(crate) const OPEN_TICKET_LOCKED: &str = "\
    SELECT * FROM tickets \
    WHERE guild_id = $1 AND opener_id = $2 AND category = $3 AND state <> 'closed' \
    FOR UPDATE";

/// A trained question by key, locked for the transaction that updates it (so that the previous answer
/// reported is the one replaced). `$1` guild, `$2` key.
pub(crate) const TRAINING_BY_KEY_LOCKED: &str = "\
    SELECT id, answer, category, tags FROM training_entries \
    WHERE guild_id = $1 AND question_key = $2 FOR UPDATE";

/// The terms bound as `$2` (see [`full_text_query`]) as a `tsquery` matching any of them: they go through
/// `to_tsvector('english', ...)` as the indexed text did (stemmed; English stop words dropped, silently,
/// where `to_tsquery` would log a notice), and the lexemes left are joined with `|`. NULL when none is
/// left, which matches nothing. Every function here is immutable, so PostgreSQL folds the expression into
/// a constant once the terms are bound and plans the GIN index with real estimates (behind a subquery
/// the query would be unknown to the planner, which then prefers reading the whole table).
macro_rules! pg_terms {
    ($param:literal, $op:literal) => {
        concat!(
            "CAST(NULLIF(replace(CAST(strip(to_tsvector('english', ",
            $param,
            ")) AS TEXT), ''' ''', ''' ",
            $op,
            " '''), '') AS tsquery)"
        )
    };
}

/// Any of the terms in `$2` (see [`pg_terms`]).
macro_rules! pg_any_term {
    () => {
        pg_terms!("$2", "|")
    };
}

/// Searches are planned with their terms each time (an unnamed statement). A prepared one switches to a
/// generic plan after five runs, made without knowing the terms: it may read a whole guild's entries for
/// a term found in most of them, or walk an index that suits a rare one for a common one. Planning costs
/// well under a millisecond.
pub(crate) const PLAN_EACH_SEARCH: bool = true;

/// Trained answers matching any of the terms in `$2`, best first (`ts_rank_cd` over the weighted `search`
/// document: question A, tags B, answer C), through the GIN index. `$1` guild, `$3` limit, `$4` the
/// embedding model whose vectors to return. The guild is checked on the few rows the rare terms find
/// (`+ 0` keeps the planner from intersecting them with every entry of the guild in its index).
pub(crate) const SEARCH_TRAINING: &str = concat!(
    "SELECT t.id, t.question AS title, t.answer AS body, t.tags, CAST(NULL AS TEXT) AS source, \
         CASE WHEN t.embedding_model = $4 THEN t.embedding END AS embedding \
     FROM training_entries t \
     WHERE t.guild_id + 0 = $1 AND t.search @@ ",
    pg_any_term!(),
    " ORDER BY ts_rank_cd(t.search, ",
    pg_any_term!(),
    ") DESC, t.id LIMIT $3"
);

/// Knowledge entries matching any of the terms in `$2`, as [`SEARCH_TRAINING`] (title A, tags B, content
/// C), with their knowledge base's name; `$5` the knowledge base, if one.
pub(crate) const SEARCH_KNOWLEDGE: &str = concat!(
    "SELECT e.id, e.title, e.content AS body, e.tags, k.name AS source, \
         CASE WHEN e.embedding_model = $4 THEN e.embedding END AS embedding \
     FROM kb_entries e JOIN knowledge_bases k ON k.id = e.kb_id \
     WHERE e.guild_id + 0 = $1 AND ($5::BIGINT IS NULL OR e.kb_id + 0 = $5) AND e.search @@ ",
    pg_any_term!(),
    " ORDER BY ts_rank_cd(e.search, ",
    pg_any_term!(),
    ") DESC, e.id LIMIT $3"
);

/// [`SEARCH_TRAINING`] for a message of only very common words ([`TermSelection::All`]): entries with
/// all of them, newest first, unranked (ranking every entry that contains them would read most of the
/// guild; the application scores the candidates). The guild's `(guild_id, id)` index is read backwards
/// until enough entries match: the guild is given as a range, which the planner does not fold into a
/// constant, so that only that index provides the order (with `guild_id = $1` it may walk the primary
/// key instead, through every newer entry of other guilds).
pub(crate) const SEARCH_TRAINING_ALL: &str = concat!(
    "SELECT t.id, t.question AS title, t.answer AS body, t.tags, CAST(NULL AS TEXT) AS source, \
         CASE WHEN t.embedding_model = $4 THEN t.embedding END AS embedding \
     FROM training_entries t \
     WHERE t.guild_id >= $1 AND t.guild_id <= $1 AND t.search @@ ",
    pg_terms!("$2", "&"),
    " ORDER BY t.guild_id DESC, t.id DESC LIMIT $3"
);

/// [`SEARCH_KNOWLEDGE`] for a message of only very common words (see [`SEARCH_TRAINING_ALL`]).
pub(crate) const SEARCH_KNOWLEDGE_ALL: &str = concat!(
    "SELECT e.id, e.title, e.content AS body, e.tags, k.name AS source, \
         CASE WHEN e.embedding_model = $4 THEN e.embedding END AS embedding \
     FROM kb_entries e JOIN knowledge_bases k ON k.id = e.kb_id \
     WHERE e.guild_id >= $1 AND e.guild_id <= $1 AND ($5::BIGINT IS NULL OR e.kb_id = $5) \
       AND e.search @@ ",
    pg_terms!("$2", "&"),
    " ORDER BY e.guild_id DESC, e.id DESC LIMIT $3"
);

/// The value bound as `$2` of the searches: the terms (letters and digits only), space-separated. The
/// guild and knowledge base are plain conditions on PostgreSQL.
fn full_text_query(terms: &[String]) -> String {
    terms.join(" ")
}

impl Backend {
    /// After a bulk import into `table` (`training_entries` or `kb_entries`): the entries waiting in its
    /// full-text index's pending list are merged into the index (every search reads that list from
    /// start to end, up to 4 MB, until autovacuum gets to it), and the table's statistics are refreshed
    /// (they tell the searches which words are common, see [`count_terms`]). The import has committed:
    /// a failure here is logged, and autovacuum does the same later.
    async fn after_import(&self, table: &'static str) {
        let (index, analyze) = if table == "training_entries" {
            (
                "SELECT gin_clean_pending_list('training_entries_search')",
                "ANALYZE training_entries",
            )
        } else {
            (
                "SELECT gin_clean_pending_list('kb_entries_search')",
                "ANALYZE kb_entries",
            )
        };
        let done = async {
            let mut conn = self.writer().await?;
            sqlx::query(index).execute(&mut *conn).await?;
            sqlx::query(analyze).execute(&mut *conn).await?;
            Ok::<_, sqlx::Error>(())
        };
        if let Err(e) = done.await {
            tracing::warn!(error = %e, table, "could not tidy the search index after an import (autovacuum will)");
        }
        self.term_counts.clear();
    }

    /// The search for `terms`: the statement and the value bound as its `$2`, with the terms worth
    /// searching, chosen by how many entries contain each (see [`crate::terms`]): `ts_rank_cd` reads every
    /// matching row's document, so a term in most entries would make every search read most of the guild.
    async fn full_text_query(
        &self,
        table: &'static str,
        terms: &[String],
        _guild_id: i64,
        _kb_id: Option<i64>,
    ) -> Result<(String, &'static str), sqlx::Error> {
        let counts = self.term_counts(table, terms).await?;
        let counted: Vec<(String, u32)> = terms.iter().cloned().zip(counts).collect();
        let training = table == "training_fts";
        Ok(match select_terms(&counted, COMMON_TERM, SEARCH_BUDGET) {
            TermSelection::Any(terms) => (
                full_text_query(&terms),
                if training {
                    SEARCH_TRAINING
                } else {
                    SEARCH_KNOWLEDGE
                },
            ),
            TermSelection::All(terms) => (
                full_text_query(&terms),
                if training {
                    SEARCH_TRAINING_ALL
                } else {
                    SEARCH_KNOWLEDGE_ALL
                },
            ),
        })
    }

    /// For each term, the entries (all guilds) containing it, counted up to [`COMMON_TERM`] and cached:
    /// the terms not cached are counted in one statement (one round trip, each term planned with its
    /// own frequency).
    async fn term_counts(
        &self,
        table: &'static str,
        terms: &[String],
    ) -> Result<Vec<u32>, sqlx::Error> {
        let mut counts: Vec<Option<u32>> = terms
            .iter()
            .map(|term| self.term_counts.get(table, term))
            .collect();
        let missing: Vec<usize> = (0..terms.len()).filter(|&i| counts[i].is_none()).collect();
        if !missing.is_empty() {
            let indexed = if table == "training_fts" {
                "training_entries"
            } else {
                "kb_entries"
            };
            // Built from the table name and the number of terms only; the terms are bound.
            let sql = sqlx::AssertSqlSafe(count_terms(indexed, missing.len()));
            let mut query = sqlx::query_as::<_, (i32, i64)>(sql).persistent(false);
            for &i in &missing {
                query = query.bind(&terms[i]);
            }
            for (k, n) in query.fetch_all(&mut *self.reader().await?).await? {
                let Some(&i) = usize::try_from(k).ok().and_then(|k| missing.get(k)) else {
                    continue;
                };
                let n = u32::try_from(n).unwrap_or(COMMON_TERM);
                self.term_counts.put(table, &terms[i], n);
                counts[i] = Some(n);
            }
        }
        Ok(counts.into_iter().map(Option::unwrap_or_default).collect())
    }
}

/// The statement counting, for each of `n` terms bound as `$1`…`$n`, the entries of `table` (all guilds)
/// that contain it, up to [`COMMON_TERM`]: rows `(k, count)`, `k` the term's index from 0. The terms go
/// through `to_tsvector` as in [`pg_terms`]. A term whose lexeme the table's statistics (`ANALYZE`,
/// kept by autovacuum) already list among the most common ones, at [`COMMON_TERM`] entries or more, is
/// not counted: counting it would read a thousand documents.
fn count_terms(table: &str, n: usize) -> String {
    let common = format!(
        "WITH common AS (SELECT e.lexeme FROM pg_stats s \
             CROSS JOIN LATERAL unnest(CAST(CAST(s.most_common_elems AS TEXT) AS TEXT[]), s.most_common_elem_freqs) \
                 AS e(lexeme, freq) \
             WHERE s.schemaname = current_schema() AND s.tablename = '{table}' AND s.attname = 'search' \
               AND e.lexeme IS NOT NULL \
               AND e.freq * (SELECT reltuples FROM pg_class WHERE oid = CAST('{table}' AS regclass)) >= {COMMON_TERM}) "
    );
    let counts = (0..n)
        .map(|k| {
            let param = format!("${}", k + 1);
            format!(
                "SELECT {k} AS k, CASE WHEN EXISTS (SELECT 1 FROM common \
                     WHERE common.lexeme = ANY (tsvector_to_array(to_tsvector('english', {param})))) \
                 THEN {COMMON_TERM} \
                 ELSE (SELECT COUNT(*) FROM (SELECT 1 FROM {table} WHERE search @@ \
                     CAST(NULLIF(replace(CAST(strip(to_tsvector('english', {param})) AS TEXT), ''' ''', ''' | '''), '') AS tsquery) \
                     LIMIT {COMMON_TERM}) AS found) END AS n"
            )
        })
        .collect::<Vec<_>>()
        .join(" UNION ALL ");
    common + &counts
}

/// Timestamps go to TIMESTAMPTZ as they are (PostgreSQL keeps microseconds).
fn ts(t: DateTime<Utc>) -> TsValue {
    t
}

/// A timestamp inside a JSON document read by a statement: RFC 3339 to the microsecond (what a bound
/// timestamp keeps), so a value read back equals the one given.
fn ts_text(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

// ----- Recording chat commands in batches (see `QueueStore::record_chat_commands`) -----
//
// A batch arrives as one JSON array per statement (`jsonb_to_recordset`): the statements stay the same
// whatever the batch size, so each is prepared once.

/// Commands whose interaction token died are closed: the shared statement (PostgreSQL plans it with
/// the statistics autovacuum keeps; SQLite has its own, told which index to walk).
pub(crate) static EXPIRE_CHAT_COMMANDS: std::sync::LazyLock<String> =
    std::sync::LazyLock::new(|| crate::sql::expire_chat_commands("chat_commands"));

/// The acknowledged commands of some interactions (`$1`: `[{interaction_id}]`), `received` until now,
/// become `queued`.
pub(crate) const QUEUE_ACKNOWLEDGED: &str = "\
    UPDATE chat_commands SET state = 'queued', step = 'enqueued', updated_at = $2 \
    WHERE interaction_id IN (SELECT interaction_id FROM jsonb_to_recordset($1) AS j(interaction_id BIGINT)) AND state = 'received'";

/// The authors of a batch, with what admitting their commands needs ([`crate::sql::record_users`]);
/// the rows of `$1` through `jsonb_to_recordset`.
pub(crate) static RECORD_USERS: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    crate::sql::record_users(
        "SELECT r.discord_id, r.username, r.global_name, $2, $2 \
         FROM jsonb_to_recordset($1) AS r(discord_id BIGINT, username TEXT, global_name TEXT)",
        true,
    )
});

/// [`RECORD_USERS`] without counting the waiting commands: run first in a batch's transaction, to take
/// the authors' rows before what admission needs is read (there is no waiting bound on PostgreSQL).
pub(crate) static RECORD_USERS_UNCOUNTED: std::sync::LazyLock<String> =
    std::sync::LazyLock::new(|| {
        crate::sql::record_users(
            "SELECT r.discord_id, r.username, r.global_name, $2, $2 \
         FROM jsonb_to_recordset($1) AS r(discord_id BIGINT, username TEXT, global_name TEXT)",
            false,
        )
    });

/// `$1`: the commands, `[{ord, interaction_id, …}]`. Recorded in `ord` order (ids follow it); an
/// interaction already recorded is left out of the result.
pub(crate) const RECORD_COMMANDS: &str = "\
    INSERT INTO chat_commands (interaction_id, interaction_token, token_expires_at, application_id, \
        user_id, guild_id, channel_id, private, prompt, state, step, priority, created_at, updated_at, \
        finished_at) \
    SELECT c.interaction_id, c.interaction_token, c.token_expires_at, c.application_id, u.discord_id, \
        c.guild_id, c.channel_id, c.private, c.prompt, c.state, c.step, u.priority, c.created_at, \
        c.created_at, c.finished_at \
    FROM jsonb_to_recordset($1) AS c(ord BIGINT, interaction_id BIGINT, interaction_token TEXT, \
        token_expires_at TIMESTAMPTZ, application_id BIGINT, user_id BIGINT, guild_id BIGINT, \
        channel_id BIGINT, private BOOLEAN, prompt TEXT, state TEXT, step TEXT, created_at TIMESTAMPTZ, \
        finished_at TIMESTAMPTZ) \
    JOIN users u ON u.discord_id = c.user_id \
    ORDER BY c.ord \
    ON CONFLICT (interaction_id) DO NOTHING \
    RETURNING *";

/// Reserves the next free slot of rate `$1` (one every `$2` seconds) by the database's clock, moving
/// it one period on; gives how many seconds until the slot (0 when it is free now).
pub(crate) const RESERVE_SLOT: Option<&str> = Some(
    "INSERT INTO rate_slots AS r (name, next_free) \
         VALUES ($1, clock_timestamp() + make_interval(secs => $2)) \
     ON CONFLICT (name) DO UPDATE SET \
         next_free = GREATEST(r.next_free, clock_timestamp()) + make_interval(secs => $2) \
     RETURNING GREATEST(EXTRACT(EPOCH FROM \
         (r.next_free - make_interval(secs => $2) - clock_timestamp())), 0)::FLOAT8",
);

/// LLM call logs in one statement (`$1`: `[{ord, chat_command_id, …}]`, see
/// `LogStore::insert_llm_call_logs`).
pub(crate) const INSERT_LLM_CALL_LOGS: &str = "\
    INSERT INTO llm_call_logs (chat_command_id, provider, operation, model, request, response, \
        http_status, error, started_at, duration_ms, prompt_tokens, completion_tokens, total_tokens) \
    SELECT l.chat_command_id, l.provider, l.operation, l.model, l.request, l.response, l.http_status, \
        l.error, l.started_at, l.duration_ms, l.prompt_tokens, l.completion_tokens, l.total_tokens \
    FROM jsonb_to_recordset($1) AS l(ord BIGINT, chat_command_id BIGINT, provider TEXT, operation TEXT, \
        model TEXT, request JSONB, response JSONB, http_status BIGINT, error TEXT, \
        started_at TIMESTAMPTZ, duration_ms BIGINT, prompt_tokens BIGINT, completion_tokens BIGINT, \
        total_tokens BIGINT) \
    ORDER BY l.ord \
    RETURNING id";

/// PostgreSQL prepares one statement at a time: the batch is recorded in two (see the SQLite version).
pub(crate) fn record_batch(_counted: bool) -> Option<&'static str> {
    None
}

/// PostgreSQL prepares one statement at a time: a command's context is read in two or three (see the
/// SQLite version).
pub(crate) fn chat_context_list(_history: bool) -> Option<&'static str> {
    None
}

async fn begin_write(conn: &mut PgConnection) -> Result<sqlx::Transaction<'_, Db>, sqlx::Error> {
    conn.begin().await
}

/// A store on a PostgreSQL database.
pub(crate) struct Backend {
    pool: sqlx::Pool<Db>,
    /// Marks this process's notifications, so that its listener skips what it said itself.
    origin: String,
    /// Set when the store closes: the listener gives its connection back (the pool waits for it).
    closing: tokio::sync::watch::Sender<bool>,
    /// How common each searched term is (see [`crate::terms`]).
    term_counts: TermCounts,
}

const CONNECT_HINT: &str = "check the URL (host, port, database name), that the server is running and \
                            reachable from here, and the user's password and permissions";

impl Backend {
    pub(crate) async fn connect(opts: &ConnectOptions) -> Result<Self, StoreError> {
        let location = opts.redacted_location();
        let fail = |hint: &'static str, source: sqlx::Error| StoreError::Connect {
            kind: KIND,
            location: location.clone(),
            hint,
            source,
        };
        let options = PgConnectOptions::from_str(opts.url_or_path.trim())
            .map_err(|e| {
                fail(
                    "use a URL such as postgres://user:password@host:5432/database",
                    e,
                )
            })?
            .application_name("disconcierge")
            // Short statements only: compiling one with LLVM (the server's default above a plan cost
            // that a ranked search over a big guild passes) takes tens of milliseconds, many times what
            // running it does.
            .options([("jit", "off")])
            .log_statements(log::LevelFilter::Trace)
            .log_slow_statements(log::LevelFilter::Warn, opts.slow_threshold);
        // One direct connection first: the pool would retry until its timeout and then report only
        // "pool timed out", hiding the cause (refused, unknown host, bad password, no such database).
        let probe = options.connect().await.map_err(|e| fail(CONNECT_HINT, e))?;
        let _ = sqlx::Connection::close(probe).await;
        let pool = PgPoolOptions::new()
            .max_connections(opts.max_connections.max(1))
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(options)
            .await
            .map_err(|e| fail(CONNECT_HINT, e))?;
        Ok(Backend {
            pool,
            origin: uuid::Uuid::new_v4().simple().to_string(),
            closing: tokio::sync::watch::Sender::new(false),
            term_counts: TermCounts::default(),
        })
    }

    /// PostgreSQL runs concurrent writers itself: writes share the one pool.
    async fn writer(&self) -> Result<sqlx::pool::PoolConnection<Db>, sqlx::Error> {
        self.pool.acquire().await
    }

    /// Other instances record commands too: every batch counts.
    fn waiting_bound(&self) -> Option<&crate::waiting::WaitingBound> {
        None
    }

    /// No writer is shared here: the same as [`Backend::writer`].
    async fn writer_first(&self) -> Result<sqlx::pool::PoolConnection<Db>, sqlx::Error> {
        self.pool.acquire().await
    }

    async fn reader(&self) -> Result<sqlx::pool::PoolConnection<Db>, sqlx::Error> {
        self.pool.acquire().await
    }

    async fn close_connections(&self) {
        self.closing.send_replace(true);
        self.pool.close().await;
    }

    /// `NOTIFY` on [`crate::CHANNEL`] with `change/origin`: every other instance's listener receives it
    /// once the statement commits (this one's skips it: it acted already).
    async fn notify_change(&self, change: crate::Change) -> Result<(), StoreError> {
        sqlx::query("SELECT pg_notify($1, $2)")
            .bind(crate::CHANNEL)
            .bind(format!("{}/{}", change.as_str(), self.origin))
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// A `LISTEN` connection of its own, in a background task that forwards what it hears until the
    /// receiver is dropped. When the connection is lost, the task connects and listens again (retrying
    /// after a pause that grows to 10 s), then forwards [`crate::Change::Missed`]: what was sent while it
    /// was away is lost, and a reload from then on sees all of it.
    async fn listen_changes(&self) -> Result<Option<crate::Changes>, StoreError> {
        async fn listener(
            pool: &sqlx::Pool<Db>,
        ) -> Result<sqlx::postgres::PgListener, sqlx::Error> {
            let mut listener = sqlx::postgres::PgListener::connect_with(pool).await?;
            listener.listen(crate::CHANNEL).await?;
            Ok(listener)
        }
        let mut current = listener(&self.pool).await?;
        let pool = self.pool.clone();
        let own = format!("/{}", self.origin);
        let mut closing = self.closing.subscribe();
        let (tx, rx) = tokio::sync::mpsc::channel(64);
        tokio::spawn(async move {
            loop {
                let next = tokio::select! {
                    _ = tx.closed() => return,
                    _ = closing.wait_for(|c| *c) => return,
                    next = current.try_recv() => next,
                };
                let change = match next {
                    Ok(Some(notification)) if notification.payload().ends_with(&own) => continue,
                    Ok(Some(notification)) => match notification
                        .payload()
                        .split_once('/')
                        .and_then(|(change, _)| crate::Change::parse(change))
                    {
                        Some(change) => change,
                        None => {
                            tracing::debug!(
                                payload = notification.payload(),
                                "unknown change notification ignored"
                            );
                            continue;
                        }
                    },
                    Ok(None) | Err(_) => {
                        tracing::warn!(
                            "the database listener lost its connection; listening again"
                        );
                        let mut pause = std::time::Duration::from_millis(100);
                        current = loop {
                            match listener(&pool).await {
                                Ok(l) => break l,
                                Err(e) => {
                                    tracing::warn!(error = %e, retry_in = ?pause, "the database listener could not reconnect");
                                    tokio::select! {
                                        _ = tx.closed() => return,
                                        _ = closing.wait_for(|c| *c) => return,
                                        _ = tokio::time::sleep(pause) => {}
                                    }
                                    pause = (pause * 2).min(std::time::Duration::from_secs(10));
                                }
                            }
                        };
                        tracing::info!(
                            "the database listener is back; reloading everything it may have missed"
                        );
                        crate::Change::Missed
                    }
                };
                if tx.send(change).await.is_err() {
                    return;
                }
            }
        });
        Ok(Some(crate::Changes { rx }))
    }

    #[cfg(test)]
    pub(crate) fn pool(&self) -> &sqlx::Pool<Db> {
        &self.pool
    }
}

// The implementation both backends share, compiled here against this backend (see `shared/mod.rs`).
#[allow(clippy::duplicate_mod)]
#[path = "shared/mod.rs"]
mod shared;

#[cfg(test)]
mod tests;
