//! The registry of instances ([`disconcierge_store::InstanceStore`]) on both backends: registered,
//! renewed with the commands each holds, marked stopped, listed by when they were last heard from.

use chrono::{SubsecRound, TimeDelta, Utc};
use disconcierge_core::model::{ChatCommandState, Instance, NewChatCommand};
use disconcierge_store::testing::TestDb;
use disconcierge_store::{DatabaseKind, Store};
use std::time::Duration;

async fn fresh(kind: DatabaseKind) -> Option<TestDb> {
    match kind {
        DatabaseKind::Sqlite => Some(TestDb::sqlite().await),
        DatabaseKind::Postgres => TestDb::postgres().await,
    }
}

fn instance(id: &str, started_at: chrono::DateTime<Utc>) -> Instance {
    Instance {
        id: id.into(),
        host: "host-a".into(),
        version: "0.1.0 (git abc)".into(),
        started_at,
        heartbeat_at: started_at,
        stopped_at: None,
        commands_in_progress: 0,
        gateway: "pending: connecting".into(),
    }
}

async fn queue_one(store: &dyn Store, interaction_id: u64, now: chrono::DateTime<Utc>) {
    store.upsert_user(7, "ann", None).await.unwrap();
    store
        .insert_chat_command(NewChatCommand {
            interaction_id,
            interaction_token: format!("token-{interaction_id}").into(),
            token_expires_at: now + TimeDelta::minutes(15),
            application_id: 1,
            user_id: 7,
            guild_id: None,
            channel_id: None,
            private: false,
            prompt: "hi".into(),
            state: ChatCommandState::Queued,
            created_at: now,
        })
        .await
        .unwrap();
}

async fn instances_register_renew_and_stop(kind: DatabaseKind) {
    let Some(db) = fresh(kind).await else {
        return;
    };
    let store = db.store.as_ref();
    let t0 = Utc::now().trunc_subsecs(0) - TimeDelta::minutes(5);
    store.register_instance(&instance("a", t0)).await.unwrap();
    store
        .register_instance(&instance("b", t0 + TimeDelta::seconds(1)))
        .await
        .unwrap();
    // A answers one command (it holds the lease); the heartbeat counts it.
    queue_one(store, 1, t0).await;
    queue_one(store, 2, t0).await;
    let now = t0 + TimeDelta::minutes(1);
    assert!(
        store
            .claim_next_chat_command("a", Duration::from_secs(30), now)
            .await
            .unwrap()
            .is_some()
    );
    store
        .instance_heartbeat("a", now, "ok: connected")
        .await
        .unwrap();
    let listed = store.instances(t0).await.unwrap();
    let ids: Vec<&str> = listed.iter().map(|i| i.id.as_str()).collect();
    assert_eq!(ids, ["b", "a"], "newest start first");
    let a = &listed[1];
    assert_eq!(
        (a.commands_in_progress, a.gateway.as_str(), a.heartbeat_at),
        (1, "ok: connected", now)
    );
    assert!(a.alive(now, TimeDelta::seconds(30)));
    assert!(
        !listed[0].alive(now, TimeDelta::seconds(30)),
        "b stayed silent"
    );

    // A graceful stop, then a restart under the same id.
    store.instance_stopped("a", now).await.unwrap();
    let a = store.instances(t0).await.unwrap().remove(1);
    assert_eq!((a.stopped_at, a.commands_in_progress), (Some(now), 0));
    assert!(!a.alive(now, TimeDelta::seconds(30)));
    let later = now + TimeDelta::minutes(1);
    store
        .register_instance(&instance("a", later))
        .await
        .unwrap();
    let listed = store.instances(later).await.unwrap();
    assert_eq!(listed.len(), 1, "only those heard from since");
    assert_eq!((listed[0].stopped_at, listed[0].started_at), (None, later));
}

mod sqlite {
    #[tokio::test]
    async fn instances_register_renew_and_stop() {
        super::instances_register_renew_and_stop(disconcierge_store::DatabaseKind::Sqlite).await;
    }
}

mod postgres {
    #[tokio::test]
    #[cfg_attr(
        not(dc_test_postgres),
        ignore = "PostgreSQL: set DC_TEST_POSTGRES_URL to run"
    )]
    async fn instances_register_renew_and_stop() {
        super::instances_register_renew_and_stop(disconcierge_store::DatabaseKind::Postgres).await;
    }
}
