//! The PostgreSQL backend: for several instances sharing one queue.

use crate::ConnectOptions;
use sqlx::ConnectOptions as _;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use std::str::FromStr;

type Db = sqlx::Postgres;
type DbRow = sqlx::postgres::PgRow;
type TsValue = DateTime<Utc>;

const KIND: DatabaseKind = DatabaseKind::Postgres;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// Is the `_sqlx_migrations` table there (false on a fresh database)? Looked up through the search path,
/// as sqlx's migrator does.
const MIGRATIONS_TABLE_EXISTS: &str = "SELECT to_regclass('_sqlx_migrations') IS NOT NULL";

/// Claims the next command in one statement. `FOR UPDATE SKIP LOCKED` makes concurrent claimers (in this
/// process or other instances) pass over a row another claimer is taking instead of waiting for it or
/// taking it too; under READ COMMITTED the locked row is re-checked against the `WHERE`, so a row claimed
/// a moment ago is not taken again. `$1` owner, `$2` lease end, `$3` now.
pub(crate) const CLAIM: &str = "\
    UPDATE chat_commands SET state = 'in_progress', lease_owner = $1, lease_expires_at = $2, \
        attempts = attempts + 1, started_at = COALESCE(started_at, $3), updated_at = $3 \
    WHERE id = ( \
        SELECT id FROM chat_commands \
        WHERE state IN ('queued', 'in_progress') \
          AND (state = 'queued' OR lease_expires_at < $3) \
          AND token_expires_at > $3 \
        ORDER BY priority DESC, created_at, id \
        LIMIT 1 \
        FOR UPDATE SKIP LOCKED) \
    RETURNING *";

/// Timestamps go to TIMESTAMPTZ as they are (PostgreSQL keeps microseconds).
fn ts(t: DateTime<Utc>) -> TsValue {
    t
}

async fn begin_write(pool: &sqlx::Pool<Db>) -> Result<sqlx::Transaction<'static, Db>, sqlx::Error> {
    pool.begin().await
}

/// A store on a PostgreSQL database.
pub(crate) struct Backend {
    pool: sqlx::Pool<Db>,
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
        Ok(Backend { pool })
    }

    /// PostgreSQL runs concurrent writers itself: writes share the one pool.
    fn writer(&self) -> &sqlx::Pool<Db> {
        &self.pool
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

    /// Every hot-path query reads an index, never the whole table. With a few test rows the planner
    /// would rightly prefer a sequential scan, so it is discouraged for the check: what matters is that a
    /// usable index exists.
    #[tokio::test]
    async fn hot_paths_use_indexes() {
        let Some(db) = crate::testing::TestDb::postgres().await else {
            return;
        };
        let backend = Backend::connect(&db.opts).await.unwrap();
        let mut conn = backend.pool().acquire().await.unwrap();
        // Plans that hold for any parameter values (a NULL argument could be planned away).
        for setting in [
            "SET enable_seqscan = off",
            "SET plan_cache_mode = force_generic_plan",
        ] {
            sqlx::query(setting).execute(&mut *conn).await.unwrap();
        }
        let mut queries: Vec<(&str, &str)> = crate::sql::HOT_PATHS.to_vec();
        queries.push((CLAIM, "chat_commands"));
        for (query, table) in queries {
            // Parameters are typed by the explain's PREPARE from the statement's context.
            sqlx::query(sqlx::AssertSqlSafe(format!("PREPARE hot AS {query}")))
                .execute(&mut *conn)
                .await
                .unwrap();
            let params = query.matches('$').count();
            let distinct = (1..=params)
                .filter(|i| query.contains(&format!("${i}")))
                .count();
            let args = vec!["NULL"; distinct].join(", ");
            let explain = if distinct == 0 {
                "EXPLAIN EXECUTE hot".to_string()
            } else {
                format!("EXPLAIN EXECUTE hot({args})")
            };
            let plan: Vec<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(explain))
                .fetch_all(&mut *conn)
                .await
                .unwrap();
            sqlx::query("DEALLOCATE hot")
                .execute(&mut *conn)
                .await
                .unwrap();
            let full_scan = format!("Seq Scan on {table}");
            assert!(
                !plan.iter().any(|line| line.contains(&full_scan)),
                "{query}\nscans {table}:\n{}",
                plan.join("\n")
            );
        }
    }

    #[tokio::test]
    async fn connection_errors_never_show_the_password() {
        let opts =
            ConnectOptions::postgres("postgres://dc:hunter2@127.0.0.1:1/dc?connect_timeout=2");
        let err = match crate::connect(&opts).await {
            Ok(_) => panic!("connected to port 1"),
            Err(e) => e,
        };
        let msg = err.to_string();
        let dbg = format!("{err:?}");
        assert!(
            !msg.contains("hunter2") && !dbg.contains("hunter2"),
            "{msg}\n{dbg}"
        );
        assert!(
            msg.starts_with(
                "could not open the PostgreSQL database at postgres://dc:***@127.0.0.1:1/dc"
            ),
            "{msg}"
        );
        assert!(msg.contains("check the URL"), "{msg}");
        assert!(
            !msg.contains("pool timed out"),
            "the cause is hidden: {msg}"
        );
    }
}
