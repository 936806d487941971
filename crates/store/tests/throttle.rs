//! The login throttle's memory ([`disconcierge_store::ThrottleStore`]) on both backends, shared by
//! instances: failures recorded through one store lock the key for another, until the window ends.

use chrono::{SubsecRound, TimeDelta, Utc};
use disconcierge_store::testing::TestDb;
use disconcierge_store::{DatabaseKind, connect};
use std::time::Duration;

const WINDOW: Duration = Duration::from_secs(15 * 60);

async fn failures_lock_a_key_for_every_instance_until_the_window_ends(kind: DatabaseKind) {
    let db = match kind {
        DatabaseKind::Sqlite => TestDb::sqlite().await,
        DatabaseKind::Postgres => match TestDb::postgres().await {
            Some(db) => db,
            None => return,
        },
    };
    let a = db.store.clone();
    // A second instance on the same database (on SQLite, a second handle on the file).
    let b = connect(&db.opts).await.unwrap();
    let keys = ["user:admin".to_string(), "ip:10.0.0.1".to_string()];
    let t0 = Utc::now().trunc_subsecs(0);
    for i in 0..4 {
        let instance = if i % 2 == 0 { &a } else { &b };
        instance
            .record_login_failure(&keys, WINDOW, t0 + TimeDelta::seconds(i))
            .await
            .unwrap();
    }
    let now = t0 + TimeDelta::seconds(10);
    assert_eq!(
        b.login_locked_until(&keys, 5, WINDOW, now).await.unwrap(),
        None
    );
    a.record_login_failure(&keys, WINDOW, now).await.unwrap();
    // The fifth failure, recorded on A, locks the account on B too, from the window's first failure.
    let until = t0 + TimeDelta::minutes(15);
    assert_eq!(
        b.login_locked_until(&keys, 5, WINDOW, now).await.unwrap(),
        Some(until)
    );
    // Any locked key is enough: the same account from another address.
    let other_address = ["user:admin".to_string(), "ip:10.0.0.2".to_string()];
    assert_eq!(
        a.login_locked_until(&other_address, 5, WINDOW, now)
            .await
            .unwrap(),
        Some(until)
    );
    let other_account = ["user:other".to_string(), "ip:10.0.0.2".to_string()];
    assert_eq!(
        a.login_locked_until(&other_account, 5, WINDOW, now)
            .await
            .unwrap(),
        None
    );
    // The window ends: unlocked, and the next failure starts a new window.
    let later = until + TimeDelta::seconds(1);
    assert_eq!(
        b.login_locked_until(&keys, 5, WINDOW, later).await.unwrap(),
        None
    );
    b.record_login_failure(&keys, WINDOW, later).await.unwrap();
    assert_eq!(
        a.login_locked_until(&keys, 1, WINDOW, later).await.unwrap(),
        Some(later + TimeDelta::minutes(15))
    );
    // A success clears the keys.
    a.clear_login_failures(&keys).await.unwrap();
    assert_eq!(
        b.login_locked_until(&keys, 1, WINDOW, later).await.unwrap(),
        None
    );
    b.close().await;
}

mod sqlite {
    #[tokio::test]
    async fn failures_lock_a_key_for_every_instance_until_the_window_ends() {
        super::failures_lock_a_key_for_every_instance_until_the_window_ends(
            disconcierge_store::DatabaseKind::Sqlite,
        )
        .await;
    }
}

mod postgres {
    #[tokio::test]
    #[cfg_attr(
        not(dc_test_postgres),
        ignore = "PostgreSQL: set DC_TEST_POSTGRES_URL to run"
    )]
    async fn failures_lock_a_key_for_every_instance_until_the_window_ends() {
        super::failures_lock_a_key_for_every_instance_until_the_window_ends(
            disconcierge_store::DatabaseKind::Postgres,
        )
        .await;
    }
}
