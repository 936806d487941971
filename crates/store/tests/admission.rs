//! Admission is exact across instances sharing one PostgreSQL database: when several instances record
//! commands of one user at the same moment, exactly one of them is recorded seeing nothing of that user
//! in flight (the one admission accepts); every other sees a command in flight, wherever it was recorded.
//! On SQLite one process records one batch at a time, which the recorder's own tests cover.

use chrono::{DateTime, TimeDelta, Utc};
use disconcierge_core::model::{ChatCommandState, NewChatCommand};
use disconcierge_store::testing::TestDb;
use disconcierge_store::{NewChatCommandBy, Store};
use std::sync::Arc;

fn received(interaction_id: u64, user_id: u64, now: DateTime<Utc>) -> NewChatCommandBy {
    NewChatCommandBy {
        username: format!("user-{user_id}"),
        global_name: None,
        command: NewChatCommand {
            interaction_id,
            interaction_token: format!("token-{interaction_id}").into(),
            token_expires_at: now + TimeDelta::minutes(15),
            application_id: 42,
            user_id,
            guild_id: Some(7),
            channel_id: Some(8),
            private: false,
            prompt: format!("question {interaction_id}"),
            state: ChatCommandState::Received,
            created_at: now,
        },
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[cfg_attr(
    not(dc_test_postgres),
    ignore = "PostgreSQL: set DC_TEST_POSTGRES_URL to run"
)]
async fn concurrent_commands_of_one_user_on_three_instances_find_exactly_one_free() {
    let Some(db) = TestDb::postgres().await else {
        return;
    };
    // Three instances: three stores, each with its own connections.
    let instances: Vec<Arc<dyn Store>> = vec![
        db.store.clone(),
        db.connect_again().await,
        db.connect_again().await,
    ];
    let since = Utc::now() - TimeDelta::hours(6);
    let mut next_interaction = 1_000u64;
    for round in 0..8u64 {
        // A new user each round (their first commands also race to create their row), and one who
        // shares every batch with them, so batches hold several authors.
        let user = 500 + round;
        let bystander = 900 + round;
        let barrier = Arc::new(tokio::sync::Barrier::new(30));
        let mut tasks = tokio::task::JoinSet::new();
        for i in 0..30usize {
            let store = instances[i % 3].clone();
            let barrier = barrier.clone();
            let mine = next_interaction;
            let theirs = next_interaction + 1;
            next_interaction += 2;
            tasks.spawn(async move {
                let now = Utc::now();
                // Authors in both orders, so two batches could wait on each other if rows were
                // taken in batch order.
                let batch = if i % 2 == 0 {
                    vec![received(mine, user, now), received(theirs, bystander, now)]
                } else {
                    vec![received(theirs, bystander, now), received(mine, user, now)]
                };
                barrier.wait().await;
                let recorded = store
                    .record_chat_commands(&batch, since, now, 1_000)
                    .await
                    .expect("recorded");
                recorded
                    .commands
                    .iter()
                    .filter(|c| c.user.discord_id == user && c.command.is_some())
                    .map(|c| c.in_flight)
                    .collect::<Vec<_>>()
            });
        }
        let mut free = 0;
        let mut seen = 0;
        while let Some(done) = tasks.join_next().await {
            for in_flight in done.unwrap() {
                seen += 1;
                if !in_flight {
                    free += 1;
                }
            }
        }
        assert_eq!(seen, 30, "round {round}: every command was recorded");
        assert_eq!(
            free, 1,
            "round {round}: exactly one of 30 concurrent commands of one user, spread over three \
             instances, found nothing of theirs in flight"
        );
    }
    for store in &instances[1..] {
        store.close().await;
    }
}

#[tokio::test]
async fn a_batch_of_distinct_users_finds_none_of_them_in_flight() {
    for db in TestDb::each().await {
        let since = Utc::now() - TimeDelta::hours(6);
        for round in 0..3u64 {
            let now = Utc::now();
            let batch: Vec<_> = (0..64u64)
                .map(|i| received(10_000 + round * 100 + i, 7_000 + round * 100 + i, now))
                .collect();
            let recorded = db
                .store
                .record_chat_commands(&batch, since, now, 1_000_000)
                .await
                .unwrap();
            let busy: Vec<u64> = recorded
                .commands
                .iter()
                .filter(|c| c.in_flight)
                .map(|c| c.user.discord_id)
                .collect();
            assert!(busy.is_empty(), "{:?}: in flight: {busy:?}", db.kind());
            assert_eq!(recorded.commands.len(), 64);
        }
    }
}
