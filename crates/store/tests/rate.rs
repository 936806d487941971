//! The LLM's request rate holds for all instances together ([`disconcierge_store::RateStore`]): on
//! PostgreSQL, slots reserved at the same moment by three instances come one period apart; on SQLite the
//! process keeps its rate itself.

use disconcierge_store::testing::TestDb;
use disconcierge_store::{LLM_RATE, Store};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[tokio::test]
async fn sqlite_leaves_the_rate_to_the_process() {
    let db = TestDb::sqlite().await;
    let wait = db
        .store
        .reserve_slot(LLM_RATE, Duration::from_millis(100))
        .await
        .unwrap();
    assert_eq!(wait, None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[cfg_attr(
    not(dc_test_postgres),
    ignore = "PostgreSQL: set DC_TEST_POSTGRES_URL to run"
)]
async fn slots_reserved_by_three_instances_at_once_come_one_period_apart() {
    let Some(db) = TestDb::postgres().await else {
        return;
    };
    let instances: Vec<Arc<dyn Store>> = vec![
        db.store.clone(),
        db.connect_again().await,
        db.connect_again().await,
    ];
    let period = Duration::from_millis(200);
    let barrier = Arc::new(tokio::sync::Barrier::new(12));
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..12usize {
        let store = instances[i % 3].clone();
        let barrier = barrier.clone();
        tasks.spawn(async move {
            barrier.wait().await;
            let wait = store
                .reserve_slot(LLM_RATE, period)
                .await
                .unwrap()
                .expect("PostgreSQL shares the rate");
            // When the slot comes, by this process's clock (off by the answer's trip at most).
            Instant::now() + wait
        });
    }
    let mut slots = Vec::new();
    while let Some(slot) = tasks.join_next().await {
        slots.push(slot.unwrap());
    }
    slots.sort();
    let tolerance = Duration::from_millis(60);
    for pair in slots.windows(2) {
        let gap = pair[1] - pair[0];
        assert!(
            gap + tolerance >= period,
            "two requests of the shared rate less than a period apart: {gap:?}"
        );
    }
    let span = *slots.last().unwrap() - slots[0];
    assert!(
        span + tolerance >= period * 11,
        "12 slots span 11 periods at least: {span:?}"
    );
    // A rate changed live: the next slot follows the last one reserved, at the new period.
    let wait = instances[1]
        .reserve_slot(LLM_RATE, Duration::from_millis(10))
        .await
        .unwrap()
        .unwrap();
    let next = Instant::now() + wait;
    assert!(
        next + tolerance >= *slots.last().unwrap() + period,
        "the slot after the 12 comes after their last period ends"
    );
    for store in &instances[1..] {
        store.close().await;
    }
}
