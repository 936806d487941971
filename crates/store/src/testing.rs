//! Test databases: a fresh SQLite file or a fresh PostgreSQL database per test, removed afterwards.
//!
//! Available to this crate's tests and, with the `testing` feature, to other crates' tests:
//!
//! ```no_run
//! # async fn demo() {
//! use disconcierge_store::testing::TestDb;
//! let db = TestDb::sqlite().await; // migrated, ready
//! db.store.upsert_user(1, "ann", None).await.unwrap();
//! if let Some(pg) = TestDb::postgres().await {
//!     // runs only when DC_TEST_POSTGRES_URL is set
//!     # let _ = pg;
//! }
//! # }
//! ```

use crate::{ConnectOptions, DatabaseKind, Store, connect};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// The server a PostgreSQL test database is created on, e.g. `postgres://postgres@127.0.0.1:5432/postgres`.
pub const POSTGRES_URL_VAR: &str = "DC_TEST_POSTGRES_URL";

/// A throw-away database with a store connected to it. Dropping it deletes the database.
pub struct TestDb {
    pub store: Arc<dyn Store>,
    /// Options pointing at this database, to open more stores on it (e.g. a second "instance").
    pub opts: ConnectOptions,
    cleanup: Cleanup,
}

enum Cleanup {
    Dir(PathBuf),
    Postgres { server_url: String, name: String },
}

impl TestDb {
    /// A migrated SQLite database in a new temporary directory.
    pub async fn sqlite() -> TestDb {
        let db = Self::sqlite_unmigrated().await;
        db.store
            .migrate()
            .await
            .expect("migrating the test SQLite database");
        db
    }

    /// An empty SQLite database (no schema), for migration tests.
    pub async fn sqlite_unmigrated() -> TestDb {
        let dir = std::env::temp_dir().join(format!(
            "disconcierge-test-{}",
            uuid::Uuid::new_v4().simple()
        ));
        std::fs::create_dir_all(&dir).expect("creating a temporary directory");
        let cleanup = Cleanup::Dir(dir.clone());
        let path = dir.join("dc.sqlite3");
        let opts = ConnectOptions::sqlite(path.to_str().expect("temporary path is UTF-8"));
        let store = connect(&opts)
            .await
            .expect("opening the test SQLite database");
        TestDb {
            store,
            opts,
            cleanup,
        }
    }

    /// A migrated database on the PostgreSQL server named by `DC_TEST_POSTGRES_URL`, or `None` (with a
    /// note on stderr) when that variable is not set, so that the test can return early.
    pub async fn postgres() -> Option<TestDb> {
        let db = Self::postgres_unmigrated().await?;
        db.store
            .migrate()
            .await
            .expect("migrating the test PostgreSQL database");
        Some(db)
    }

    /// An empty PostgreSQL database (no schema), for migration tests; `None` as for [`TestDb::postgres`].
    pub async fn postgres_unmigrated() -> Option<TestDb> {
        let Some(server_url) = std::env::var(POSTGRES_URL_VAR)
            .ok()
            .filter(|v| !v.trim().is_empty())
        else {
            eprintln!("SKIPPED (PostgreSQL): {POSTGRES_URL_VAR} is not set");
            return None;
        };
        let name = format!("dc_test_{}", uuid::Uuid::new_v4().simple());
        {
            use sqlx::Connection as _;
            let mut admin = sqlx::PgConnection::connect(&server_url)
                .await
                .unwrap_or_else(|e| {
                    panic!(
                        "connecting to {} ({POSTGRES_URL_VAR}): {e}",
                        crate::redact_url(&server_url)
                    )
                });
            sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE \"{name}\"")))
                .execute(&mut admin)
                .await
                .expect("creating the test database");
            let _ = admin.close().await;
        }
        let cleanup = Cleanup::Postgres {
            server_url: server_url.clone(),
            name: name.clone(),
        };
        let mut opts = ConnectOptions::postgres(with_database(&server_url, &name));
        opts.max_connections = 8;
        let store = match connect(&opts).await {
            Ok(store) => store,
            Err(e) => {
                drop_postgres_database(&server_url, &name);
                panic!("opening the test PostgreSQL database: {e}");
            }
        };
        Some(TestDb {
            store,
            opts,
            cleanup,
        })
    }

    /// Both kinds: SQLite always, PostgreSQL when configured.
    pub async fn each() -> Vec<TestDb> {
        let mut dbs = vec![Self::sqlite().await];
        dbs.extend(Self::postgres().await);
        dbs
    }

    pub fn kind(&self) -> DatabaseKind {
        self.opts.kind
    }

    /// Another store (another pool) on the same database, like a second instance of the bot.
    pub async fn connect_again(&self) -> Arc<dyn Store> {
        connect(&self.opts)
            .await
            .expect("opening the test database again")
    }

    /// Runs raw SQL on the database, bypassing the store (for tests that must fake a state).
    pub async fn execute(&self, sql: &str) {
        use sqlx::Connection as _;
        match self.opts.kind {
            DatabaseKind::Sqlite => {
                let url = format!("sqlite://{}", self.opts.url_or_path);
                let mut conn = sqlx::SqliteConnection::connect(&url)
                    .await
                    .expect("opening the test database");
                sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_owned()))
                    .execute(&mut conn)
                    .await
                    .unwrap_or_else(|e| panic!("{sql}: {e}"));
                let _ = conn.close().await;
            }
            DatabaseKind::Postgres => {
                let mut conn = sqlx::PgConnection::connect(&self.opts.url_or_path)
                    .await
                    .expect("opening the test database");
                sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_owned()))
                    .execute(&mut conn)
                    .await
                    .unwrap_or_else(|e| panic!("{sql}: {e}"));
                let _ = conn.close().await;
            }
        }
    }

    /// Runs a query returning one integer (e.g. a `COUNT(*)`), bypassing the store, to check what was
    /// written by methods that have no read counterpart.
    pub async fn scalar_i64(&self, sql: &str) -> i64 {
        use sqlx::Connection as _;
        let query = sqlx::AssertSqlSafe(sql.to_owned());
        match self.opts.kind {
            DatabaseKind::Sqlite => {
                let url = format!("sqlite://{}", self.opts.url_or_path);
                let mut conn = sqlx::SqliteConnection::connect(&url)
                    .await
                    .expect("opening the test database");
                sqlx::query_scalar(query)
                    .fetch_one(&mut conn)
                    .await
                    .unwrap_or_else(|e| panic!("{sql}: {e}"))
            }
            DatabaseKind::Postgres => {
                let mut conn = sqlx::PgConnection::connect(&self.opts.url_or_path)
                    .await
                    .expect("opening the test database");
                sqlx::query_scalar(query)
                    .fetch_one(&mut conn)
                    .await
                    .unwrap_or_else(|e| panic!("{sql}: {e}"))
            }
        }
    }

    /// Records migration `version` as applied, as a newer disconcierge would have: the database then
    /// looks "too new" for this binary.
    pub async fn add_fake_applied_migration(&self, version: i64) {
        let checksum = match self.opts.kind {
            DatabaseKind::Sqlite => "X'00'",
            DatabaseKind::Postgres => "'\\x00'::bytea",
        };
        self.execute(&format!(
            "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) \
             VALUES ({version}, 'from a newer disconcierge', TRUE, {checksum}, 0)"
        ))
        .await;
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        match &self.cleanup {
            Cleanup::Dir(dir) => {
                let _ = std::fs::remove_dir_all(dir);
            }
            Cleanup::Postgres { server_url, name } => drop_postgres_database(server_url, name),
        }
    }
}

/// Drops a test database from a thread of its own (Drop may run inside an async runtime, which must not
/// be blocked on), terminating its connections, with a time limit so that a stuck server cannot hang the
/// test run; a database left behind is reported, not fatal.
fn drop_postgres_database(server_url: &str, name: &str) {
    let server_url = server_url.to_owned();
    let name = name.to_owned();
    let worker = std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("building a runtime for test cleanup");
        runtime.block_on(async {
            use sqlx::Connection as _;
            let work = async {
                let mut admin = sqlx::PgConnection::connect(&server_url).await?;
                sqlx::query(sqlx::AssertSqlSafe(format!(
                    "DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"
                )))
                .execute(&mut admin)
                .await?;
                admin.close().await
            };
            match tokio::time::timeout(Duration::from_secs(20), work).await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => eprintln!("could not drop test database {name}: {e}"),
                Err(_) => eprintln!("timed out dropping test database {name}"),
            }
        });
    });
    let _ = worker.join();
}

/// `url` with its database (path) replaced by `name`, keeping credentials and query parameters.
fn with_database(url: &str, name: &str) -> String {
    let (base, query) = match url.find('?') {
        Some(i) => (&url[..i], &url[i..]),
        None => (url, ""),
    };
    let authority_start = base.find("://").map(|i| i + 3).unwrap_or(0);
    let base = match base[authority_start..].find('/') {
        Some(i) => &base[..authority_start + i],
        None => base,
    };
    format!("{base}/{name}{query}")
}

/// One row of the Python ticket bot's `training_data` table, for [`write_ticket_bot_db`].
pub struct OldTrainingRow<'a> {
    pub guild_id: Option<u64>,
    pub query: &'a str,
    pub response: &'a str,
    pub category: &'a str,
    /// As the ticket bot stored them: JSON text.
    pub tags: &'a str,
    pub usage_count: i64,
}

/// Writes a database at `path` the way the Python ticket bot's `training_db.py` laid it out
/// (`training_data(id, guild_id, query, response, category, usage_count, tags, metadata, created_at,
/// updated_at)`, plus its conversation table), holding `rows`: the fixture of the import's tests.
pub async fn write_ticket_bot_db(path: &std::path::Path, rows: &[OldTrainingRow<'_>]) {
    use sqlx::Connection;
    let options = sqlx::sqlite::SqliteConnectOptions::new()
        .filename(path)
        .create_if_missing(true);
    let mut conn = sqlx::SqliteConnection::connect_with(&options)
        .await
        .expect("create the ticket bot's database");
    for ddl in [
        "CREATE TABLE training_data (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            guild_id INTEGER,
            query TEXT NOT NULL,
            response TEXT NOT NULL,
            category TEXT DEFAULT 'general',
            usage_count INTEGER DEFAULT 0,
            tags TEXT,
            metadata TEXT,
            created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
            updated_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP
        )",
        "CREATE TABLE conversation_history (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            channel_id INTEGER,
            user_id INTEGER,
            message TEXT,
            response TEXT,
            timestamp TIMESTAMP DEFAULT CURRENT_TIMESTAMP
        )",
    ] {
        sqlx::query(ddl)
            .execute(&mut conn)
            .await
            .expect("old schema");
    }
    for row in rows {
        sqlx::query(
            "INSERT INTO training_data (guild_id, query, response, category, usage_count, tags, metadata) \
             VALUES ($1, $2, $3, $4, $5, $6, '{\"source\": \"train_command\"}')",
        )
        .bind(row.guild_id.map(|g| g as i64))
        .bind(row.query)
        .bind(row.response)
        .bind(row.category)
        .bind(row.usage_count)
        .bind(row.tags)
        .execute(&mut conn)
        .await
        .expect("old row");
    }
    conn.close().await.expect("close the ticket bot's database");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_the_database_of_a_url() {
        assert_eq!(
            with_database("postgres://postgres@127.0.0.1:5432/postgres", "dc_x"),
            "postgres://postgres@127.0.0.1:5432/dc_x"
        );
        assert_eq!(
            with_database("postgres://u:p@h/db?sslmode=disable", "dc_x"),
            "postgres://u:p@h/dc_x?sslmode=disable"
        );
        assert_eq!(with_database("postgres://h", "dc_x"), "postgres://h/dc_x");
        assert_eq!(
            with_database("postgres://h:1/", "dc_x"),
            "postgres://h:1/dc_x"
        );
    }

    #[tokio::test]
    async fn sqlite_test_databases_are_removed() {
        let db = TestDb::sqlite().await;
        let path = PathBuf::from(&db.opts.url_or_path);
        assert!(path.exists());
        db.store.close().await;
        drop(db);
        assert!(!path.exists());
        assert!(!path.parent().unwrap().exists());
    }

    #[tokio::test]
    async fn postgres_test_databases_are_dropped() {
        let Some(db) = TestDb::postgres().await else {
            return;
        };
        let name = db.opts.url_or_path.rsplit('/').next().unwrap().to_owned();
        let server = std::env::var(POSTGRES_URL_VAR).unwrap();
        let pool = sqlx::PgPool::connect(&server).await.unwrap();
        let count = || async {
            sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM pg_database WHERE datname = $1")
                .bind(&name)
                .fetch_one(&pool)
                .await
                .unwrap()
        };
        assert_eq!(count().await, 1);
        // The store's connections are still open: dropping must terminate them, not wait for them.
        drop(db);
        assert_eq!(count().await, 0);
    }
}
