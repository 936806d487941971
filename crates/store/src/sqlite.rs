//! The SQLite backend: one file, WAL journal, one writer at a time.
//!
//! Timestamps are TEXT in one fixed-width format (see [`ts`]) so that SQL comparisons on them are correct;
//! sqlx's own encoding drops trailing zero digits, which would make `'...:00Z' > '...:00.5Z'`.

use crate::ConnectOptions;
use sqlx::ConnectOptions as _;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use std::path::Path;
use std::str::FromStr;

type Db = sqlx::Sqlite;
type DbRow = sqlx::sqlite::SqliteRow;
type TsValue = String;

const KIND: DatabaseKind = DatabaseKind::Sqlite;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

/// How long a connection waits for another's write to finish before giving up with "database is locked".
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Is the `_sqlx_migrations` table there (false on a fresh database)?
const MIGRATIONS_TABLE_EXISTS: &str = "SELECT EXISTS (SELECT 1 FROM sqlite_master \
     WHERE type = 'table' AND name = '_sqlx_migrations')";

/// Claims the next command in one statement. SQLite runs one writer at a time and a write statement
/// takes the write lock before it reads, so the sub-select and the update cannot interleave with another
/// claim. `$1` owner, `$2` lease end, `$3` now.
pub(crate) const CLAIM: &str = "\
    UPDATE chat_commands SET state = 'in_progress', lease_owner = $1, lease_expires_at = $2, \
        attempts = attempts + 1, started_at = COALESCE(started_at, $3), updated_at = $3 \
    WHERE id = ( \
        SELECT id FROM chat_commands \
        WHERE state IN ('queued', 'in_progress') \
          AND (state = 'queued' OR lease_expires_at < $3) \
          AND token_expires_at > $3 \
        ORDER BY priority DESC, created_at, id \
        LIMIT 1) \
    RETURNING *";

/// A timestamp as stored: `YYYY-MM-DDTHH:MM:SS.ffffffZ`, always UTC and always 6 fractional digits, so
/// that text order is time order. sqlx reads it back as RFC 3339.
fn ts(t: DateTime<Utc>) -> TsValue {
    t.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
}

/// Starts a transaction that takes the write lock at once (`BEGIN IMMEDIATE`), so that it waits for other
/// writers up front (busy timeout) instead of failing when it first writes after reading.
async fn begin_write(pool: &sqlx::Pool<Db>) -> Result<sqlx::Transaction<'static, Db>, sqlx::Error> {
    pool.begin_with("BEGIN IMMEDIATE").await
}

/// A store on a SQLite file.
pub(crate) struct Backend {
    /// Reads (WAL readers never wait for the writer).
    pool: sqlx::Pool<Db>,
    /// Every write, on one connection. SQLite has one writer at a time anyway; when several connections
    /// compete for it, the losers sleep in SQLite's busy handler (1, 2, 5, 10 … 100 ms between tries), so
    /// under load a write could wait far longer than the writes ahead of it take. Queued here instead,
    /// writes run back to back in arrival order (sqlx's pool hands out connections fairly).
    writer: sqlx::Pool<Db>,
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

        let pool_options = |max: u32| {
            SqlitePoolOptions::new()
                .max_connections(max)
                .acquire_timeout(Duration::from_secs(30))
                // A connection to a local file cannot drop the way a network one can: testing it on every
                // acquire would cost a round trip to its thread per query for nothing.
                .test_before_acquire(false)
        };
        let hint = "check that the path is right, that the directory is writable by this user, and \
                    that the file is a SQLite database";
        // The writer first: it creates the file and switches it to WAL before readers open it.
        let writer = pool_options(1)
            .connect_with(options.clone())
            .await
            .map_err(|e| fail(hint, e))?;
        let pool = pool_options(opts.max_connections.clamp(1, crate::SQLITE_MAX_CONNECTIONS))
            .connect_with(options)
            .await
            .map_err(|e| fail(hint, e))?;
        Ok(Backend { pool, writer })
    }

    fn writer(&self) -> &sqlx::Pool<Db> {
        &self.writer
    }

    #[cfg(test)]
    pub(crate) fn pool(&self) -> &sqlx::Pool<Db> {
        &self.pool
    }
}

include!("backend_impl.rs");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_sort_as_text() {
        let a = DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        let b = DateTime::from_timestamp(1_700_000_000, 500_000_000).unwrap();
        let c = DateTime::from_timestamp(1_700_000_001, 0).unwrap();
        assert_eq!(ts(a), "2023-11-14T22:13:20.000000Z");
        assert!(ts(a) < ts(b) && ts(b) < ts(c));
        let back = DateTime::parse_from_rfc3339(&ts(b)).unwrap();
        assert_eq!(back, b);
    }

    async fn store() -> (crate::testing::TestDb, &'static Backend) {
        let db = crate::testing::TestDb::sqlite().await;
        let backend = Backend::connect(&db.opts).await.unwrap();
        (db, Box::leak(Box::new(backend)))
    }

    /// Every hot-path query reads an index, never the whole table.
    #[tokio::test]
    async fn hot_paths_use_indexes() {
        let (_db, backend) = store().await;
        let mut queries: Vec<(&str, &str)> = crate::sql::HOT_PATHS.to_vec();
        queries.push((CLAIM, "chat_commands"));
        for (query, table) in queries {
            let explain = format!("EXPLAIN QUERY PLAN {query}");
            let rows: Vec<(i64, i64, i64, String)> = sqlx::query_as(sqlx::AssertSqlSafe(explain))
                .fetch_all(backend.pool())
                .await
                .unwrap();
            let plan: Vec<&str> = rows.iter().map(|r| r.3.as_str()).collect();
            assert!(
                plan.iter().any(|d| d.contains(table)),
                "plan of {query} does not mention {table}: {plan:?}"
            );
            for detail in &plan {
                // "SCAN t USING [COVERING] INDEX i" walks an index; a bare "SCAN t" reads the table.
                let full_scan = detail.starts_with(&format!("SCAN {table}"))
                    && !detail.contains("USING INDEX")
                    && !detail.contains("USING COVERING INDEX");
                assert!(!full_scan, "{query}\nscans {table}: {plan:?}");
            }
        }
    }

    /// The admin list's filters each walk their own index (a page must not read a million rows).
    #[tokio::test]
    async fn admin_list_filters_use_indexes() {
        use disconcierge_core::model::{ChatCommandFilter, ChatCommandState};
        let (_db, backend) = store().await;
        let filters = [
            (
                ChatCommandFilter {
                    user_id: Some(7),
                    before_id: Some(100),
                    ..Default::default()
                },
                "chat_commands_user_id",
            ),
            (
                ChatCommandFilter {
                    state: Some(ChatCommandState::Failed),
                    ..Default::default()
                },
                "chat_commands_state_id",
            ),
            (
                ChatCommandFilter {
                    guild_id: Some(9),
                    ..Default::default()
                },
                "chat_commands_guild_id",
            ),
            // A date range: two seeks on the created_at index, then a walk by id.
            (
                ChatCommandFilter {
                    created_from: Some(Utc::now()),
                    created_before: Some(Utc::now()),
                    ..Default::default()
                },
                "INTEGER PRIMARY KEY",
            ),
        ];
        for (filter, index) in filters {
            let query = list_chat_commands_query(&filter, 50);
            assert_walks(backend, query.sql().as_str(), index, &format!("{filter:?}")).await;
        }
        use disconcierge_core::model::{FeedbackFilter, FeedbackKind};
        let feedback = [
            // Unfiltered: the table in rowid order, newest first, stopping at the limit.
            (FeedbackFilter::default(), "SCAN user_feedback"),
            (
                FeedbackFilter {
                    kind: Some(FeedbackKind::Other),
                    before_id: Some(10),
                    ..Default::default()
                },
                "user_feedback_kind",
            ),
            (
                FeedbackFilter {
                    user_id: Some(7),
                    ..Default::default()
                },
                "user_feedback_user",
            ),
        ];
        use disconcierge_core::model::InteractionLogFilter;
        let logs = [
            (
                InteractionLogFilter {
                    user_id: Some(7),
                    before_id: Some(10),
                    ..Default::default()
                },
                "interaction_logs_user",
            ),
            (
                InteractionLogFilter {
                    interaction_type: Some("modal_submit".into()),
                    ..Default::default()
                },
                "interaction_logs_type",
            ),
        ];
        use disconcierge_core::model::DiscordMessageFilter;
        let messages = [
            (
                DiscordMessageFilter {
                    user_id: Some(7),
                    before_id: Some(10),
                    ..Default::default()
                },
                "discord_messages_user",
            ),
            (
                DiscordMessageFilter {
                    channel_id: Some(8),
                    ..Default::default()
                },
                "discord_messages_channel",
            ),
        ];
        for (filter, index) in messages {
            let query = list_discord_messages_query(&filter, 50);
            assert_walks(backend, query.sql().as_str(), index, &format!("{filter:?}")).await;
        }
        for (filter, index) in logs {
            let query = list_interaction_logs_query(&filter, 50);
            assert_walks(backend, query.sql().as_str(), index, &format!("{filter:?}")).await;
        }
        for (filter, index) in feedback {
            let query = list_feedback_query(&filter, 50);
            assert_walks(backend, query.sql().as_str(), index, &format!("{filter:?}")).await;
        }
    }

    /// Asserts that `sql` uses `index` and never sorts (it walks the index in the order asked).
    async fn assert_walks(backend: &Backend, sql: &str, index: &str, what: &str) {
        let explain = format!("EXPLAIN QUERY PLAN {sql}");
        // EXPLAIN needs values for the placeholders; NULLs are enough to get the plan.
        let placeholders = explain.matches('?').count() + explain.matches('$').count();
        let mut q = sqlx::query_as::<_, (i64, i64, i64, String)>(sqlx::AssertSqlSafe(explain));
        for _ in 0..placeholders {
            q = q.bind(None::<i64>);
        }
        let plan: Vec<String> = q
            .fetch_all(backend.pool())
            .await
            .unwrap()
            .into_iter()
            .map(|r| r.3)
            .collect();
        assert!(
            plan.iter().any(|d| d.contains(index)),
            "{what} does not use {index}: {plan:?}"
        );
        assert!(
            !plan.iter().any(|d| d.contains("TEMP B-TREE")),
            "{what} sorts instead of walking the index: {plan:?}"
        );
    }

    /// SQLite checkpoints its WAL by itself only when a write statement runs to its end; writes that
    /// return rows must not stop at the first one (see `RunToEnd`). Thousands of writes leave a WAL of
    /// about the auto-checkpoint size (1,000 pages), not one that grows with every write.
    #[tokio::test]
    async fn the_wal_stays_bounded_under_writes() {
        let (db, backend) = store().await;
        let path = db.opts.url_or_path.clone();
        backend.upsert_user(1, "ann", None).await.unwrap();
        for i in 0..3000u64 {
            backend
                .upsert_user(i, &format!("user{i}"), None)
                .await
                .unwrap();
            backend
                .insert_interaction_log(&disconcierge_core::model::InteractionLog {
                    interaction_id: i,
                    interaction_type: "ping".into(),
                    user_id: None,
                    guild_id: None,
                    channel_id: None,
                    payload: serde_json::json!({}),
                    received_at: Utc::now(),
                })
                .await
                .unwrap();
        }
        let wal = std::fs::metadata(format!("{path}-wal")).unwrap().len();
        assert!(wal < 8_000_000, "the WAL grew to {wal} bytes");
        let db_file = std::fs::metadata(&path).unwrap().len();
        assert!(
            db_file > 100_000,
            "nothing was checkpointed: {db_file} bytes"
        );
    }

    #[tokio::test]
    async fn creates_the_file_and_its_directory() {
        let db = crate::testing::TestDb::sqlite().await;
        let dir = Path::new(&db.opts.url_or_path).parent().unwrap().to_owned();
        let path = dir.join("a/b/new.sqlite3");
        let backend = Backend::connect(&ConnectOptions::sqlite(path.to_str().unwrap()))
            .await
            .unwrap();
        assert!(path.exists());
        let journal: String = sqlx::query_scalar("PRAGMA journal_mode")
            .fetch_one(backend.pool())
            .await
            .unwrap();
        assert_eq!(journal, "wal");
        let backend = &backend;
        let pragma = |name: &'static str| async move {
            sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(format!("PRAGMA {name}")))
                .fetch_one(backend.pool())
                .await
                .unwrap()
        };
        assert_eq!(pragma("foreign_keys").await, 1);
        assert_eq!(pragma("busy_timeout").await, 5000);
        assert_eq!(pragma("synchronous").await, 1, "NORMAL");

        // A `sqlite:` URL works too.
        let url_path = dir.join("c/url.sqlite3");
        let store = crate::connect(&ConnectOptions::sqlite(format!(
            "sqlite://{}",
            url_path.display()
        )))
        .await
        .unwrap();
        store.migrate().await.unwrap();
        assert!(url_path.exists());
    }

    #[tokio::test]
    async fn an_unwritable_location_says_what_to_check() {
        let err =
            match crate::connect(&ConnectOptions::sqlite("/proc/disconcierge/dc.sqlite3")).await {
                Ok(_) => panic!("opened a database under /proc"),
                Err(e) => e,
            };
        let msg = err.to_string();
        assert!(
            msg.starts_with(
                "could not open the SQLite database at /proc/disconcierge/dc.sqlite3: "
            ),
            "{msg}"
        );
        assert!(msg.contains("writable"), "{msg}");
    }
}
