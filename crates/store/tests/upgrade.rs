//! Upgrading keeps the data: a database made by the first released schema (migration 1 only), with an
//! admin account and a user in it, is brought to the current schema by [`Store::migrate`], and both read
//! back intact through the store. On both backends.

use disconcierge_store::testing::TestDb;
use disconcierge_store::{DatabaseKind, Store};
use sqlx::Connection as _;

/// Applies the first released migration only, as the first release's `init` did.
async fn first_release(db: &TestDb, kind: DatabaseKind) {
    match kind {
        DatabaseKind::Sqlite => {
            let migrator = sqlx::migrate!("./migrations/sqlite");
            let url = format!("sqlite://{}", db.opts.url_or_path);
            let mut conn = sqlx::SqliteConnection::connect(&url).await.unwrap();
            migrator
                .run_direct(Some(1), &mut conn, false)
                .await
                .unwrap();
            conn.close().await.unwrap();
        }
        DatabaseKind::Postgres => {
            let migrator = sqlx::migrate!("./migrations/postgres");
            let mut conn = sqlx::PgConnection::connect(&db.opts.url_or_path)
                .await
                .unwrap();
            migrator
                .run_direct(Some(1), &mut conn, false)
                .await
                .unwrap();
            conn.close().await.unwrap();
        }
    }
}

async fn the_first_schema_upgrades_with_its_data(kind: DatabaseKind) {
    let db = match kind {
        DatabaseKind::Sqlite => TestDb::sqlite_unmigrated().await,
        DatabaseKind::Postgres => match TestDb::postgres_unmigrated().await {
            Some(db) => db,
            None => return,
        },
    };
    first_release(&db, kind).await;
    let store: &dyn Store = db.store.as_ref();
    let before = store.migration_status().await.unwrap();
    assert_eq!(before.applied, [1]);
    assert!(before.pending.len() >= 12, "{before:?}");

    // Data as the first release wrote it (its columns only).
    db.execute(
        "INSERT INTO users (discord_id, username, global_name, priority, ignored, limit_override, \
         created_at, updated_at) VALUES (9007199254740993, 'ann', 'Ann', TRUE, FALSE, 40, \
         '2026-11-01T10:00:00.000000Z', '2026-11-01T10:00:00.000000Z')",
    )
    .await;
    db.execute(
        "INSERT INTO admin_accounts (username, username_key, password_hash, created_at, updated_at) \
         VALUES ('Root', 'root', '$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA', \
         '2026-11-01T10:00:00.000000Z', '2026-11-01T10:00:00.000000Z')",
    )
    .await;

    let report = store.migrate().await.unwrap();
    assert_eq!(report.applied, before.pending);
    assert!(report.status.is_current(), "{:?}", report.status);

    let ann = store
        .user(9007199254740993)
        .await
        .unwrap()
        .expect("ann kept");
    assert_eq!(
        (
            ann.username.as_str(),
            ann.global_name.as_deref(),
            ann.priority,
            ann.ignored,
            ann.limit_override
        ),
        ("ann", Some("Ann"), true, false, Some(40))
    );
    let root = store
        .admin_by_username("ROOT")
        .await
        .unwrap()
        .expect("the admin kept");
    assert_eq!(root.username, "Root");
    assert!(root.password_hash.starts_with("$argon2id$"));
    // And the upgraded database works: a second migrate changes nothing.
    assert!(store.migrate().await.unwrap().applied.is_empty());
}

mod sqlite {
    #[tokio::test]
    async fn the_first_schema_upgrades_with_its_data() {
        super::the_first_schema_upgrades_with_its_data(disconcierge_store::DatabaseKind::Sqlite)
            .await;
    }
}

mod postgres {
    #[tokio::test]
    #[cfg_attr(
        not(dc_test_postgres),
        ignore = "PostgreSQL: set DC_TEST_POSTGRES_URL to run"
    )]
    async fn the_first_schema_upgrades_with_its_data() {
        super::the_first_schema_upgrades_with_its_data(disconcierge_store::DatabaseKind::Postgres)
            .await;
    }
}
