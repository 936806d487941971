//! Instances sharing one database tell each other about changes ([`disconcierge_store::ClusterStore`]):
//! on PostgreSQL a change announced by one store reaches another store's listener, not its own; a
//! listener whose connection is cut comes back by itself and says it may have missed something; on
//! SQLite there is nobody to tell.

use disconcierge_store::testing::TestDb;
use disconcierge_store::{Change, Changes, connect};
use std::time::Duration;

/// The next change, within a second (the promise to admins: changes reach every instance within 1 s).
async fn next_within_a_second(changes: &mut Changes) -> Change {
    tokio::time::timeout(Duration::from_secs(1), changes.next())
        .await
        .expect("a change within a second")
        .expect("the listener is running")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(dc_test_postgres),
    ignore = "PostgreSQL: set DC_TEST_POSTGRES_URL to run"
)]
async fn a_change_announced_by_one_instance_reaches_the_others_and_survives_a_cut_connection() {
    let Some(db) = TestDb::postgres().await else {
        return;
    };
    let a = db.store.clone();
    let b = connect(&db.opts).await.unwrap();
    let mut heard_by_a = a.listen().await.unwrap().expect("PostgreSQL listens");
    let mut heard_by_b = b.listen().await.unwrap().expect("PostgreSQL listens");

    a.notify(Change::RuntimeConfig).await.unwrap();
    a.notify(Change::Queued).await.unwrap();
    assert_eq!(
        next_within_a_second(&mut heard_by_b).await,
        Change::RuntimeConfig
    );
    assert_eq!(next_within_a_second(&mut heard_by_b).await, Change::Queued);
    b.notify(Change::Reload).await.unwrap();
    // A hears B's announcement, and never its own (the two before it were skipped).
    assert_eq!(next_within_a_second(&mut heard_by_a).await, Change::Reload);

    // Cut every listening connection, as a network failure or a restarted pooler would.
    let cut = db
        .scalar_i64(
            "SELECT COUNT(pg_terminate_backend(pid)) FROM pg_stat_activity \
             WHERE datname = current_database() AND query LIKE 'LISTEN%'",
        )
        .await;
    assert_eq!(cut, 2, "both listeners were cut");
    // Each listener comes back by itself and says it may have missed announcements…
    assert_eq!(next_within_a_second(&mut heard_by_a).await, Change::Missed);
    assert_eq!(next_within_a_second(&mut heard_by_b).await, Change::Missed);
    // … and hears what is announced from then on.
    a.notify(Change::RuntimeConfig).await.unwrap();
    assert_eq!(
        next_within_a_second(&mut heard_by_b).await,
        Change::RuntimeConfig
    );
    b.close().await;
}

#[tokio::test]
async fn on_sqlite_there_is_nobody_to_tell() {
    let db = TestDb::sqlite().await;
    assert!(db.store.listen().await.unwrap().is_none());
    db.store.notify(Change::RuntimeConfig).await.unwrap();
}
