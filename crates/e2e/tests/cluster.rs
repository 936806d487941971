//! Several instances on one PostgreSQL database: each a real application in a runtime of its own,
//! against the same simulated Discord and LLM. A setting saved on one is in force on the others within a
//! second, also after their listening connections were cut; an admin's "reload" reaches them all; each
//! lists the others; failed sign-ins on some lock the account on all.

use disconcierge_core::RuntimeConfig;
use disconcierge_e2e::{Backend, Crashable, World};
use std::time::{Duration, Instant};

/// Waits until `instance` holds a configuration for which `holds` is true; how long that took.
async fn in_force_on(
    instance: &Crashable,
    since: Instant,
    holds: impl Fn(&RuntimeConfig) -> bool,
) -> Duration {
    let mut changes = instance.config.subscribe();
    tokio::time::timeout(Duration::from_secs(1), async {
        loop {
            if holds(&changes.borrow_and_update().config) {
                return since.elapsed();
            }
            changes.changed().await.expect("the instance is running");
        }
    })
    .await
    .expect("in force within a second")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(dc_test_postgres),
    ignore = "PostgreSQL: set DC_TEST_POSTGRES_URL to run"
)]
async fn a_setting_saved_on_one_instance_is_in_force_on_the_others_within_a_second() {
    let Some(world) = World::start(Backend::Postgres).await else {
        return;
    };
    world.db.store.migrate().await.unwrap();
    // The periodic refresh is far away: only the announcements can be what brings the change.
    let env = |id| {
        [
            ("DC_CLUSTER_REFRESH_INTERVAL", "1h"),
            ("DC_INSTANCE_ID", id),
        ]
    };
    let a = Crashable::start(&world, &env("a")).await;
    let b = Crashable::start(&world, &env("b")).await;
    let c = Crashable::start(&world, &env("c")).await;
    // Every instance listens before anything is announced.
    wait_for_listeners(&world, 3).await;

    // Each has registered itself: the admin interface of any lists all three, running.
    disconcierge_app::admin::create_admin(
        world.db.store.as_ref(),
        "admin",
        "correct horse battery",
    )
    .await
    .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    let listed = loop {
        let listed = instances_seen_by(&b).await;
        if listed.len() >= 3 {
            break listed;
        }
        assert!(Instant::now() < deadline, "{listed:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let ids: Vec<&str> = listed.iter().filter_map(|i| i["id"].as_str()).collect();
    assert_eq!(ids, ["c", "b", "a"], "{listed:?}");
    assert!(listed.iter().all(|i| i["alive"] == true), "{listed:?}");
    let this: Vec<&str> = listed
        .iter()
        .filter(|i| i["this_one"] == true)
        .filter_map(|i| i["id"].as_str())
        .collect();
    assert_eq!(this, ["b"]);

    let save = |paused: bool, limit: u32| {
        let current = a.config.current();
        let config = RuntimeConfig {
            paused,
            user_chat_command_limit_6h: limit,
            ..current.config.clone()
        };
        let a = &a;
        async move {
            a.config
                .update(config, current.version, "test")
                .await
                .unwrap()
        }
    };
    let started = Instant::now();
    save(true, 7).await;
    for (name, other) in [("B", &b), ("C", &c)] {
        let took = in_force_on(other, started, |c| {
            c.paused && c.user_chat_command_limit_6h == 7
        })
        .await;
        eprintln!("pause and limit saved on A in force on {name} after {took:?}");
    }

    // Cut every listening connection: each instance listens again by itself and reloads.
    let cut = world
        .db
        .scalar_i64(
            "SELECT COUNT(pg_terminate_backend(pid)) FROM pg_stat_activity \
             WHERE datname = current_database() AND query LIKE 'LISTEN%'",
        )
        .await;
    assert_eq!(cut, 3);
    let started = Instant::now();
    save(false, 9).await;
    for (name, other) in [("B", &b), ("C", &c)] {
        let took = in_force_on(other, started, |c| {
            !c.paused && c.user_chat_command_limit_6h == 9
        })
        .await;
        eprintln!("after the cut: resumed on A, in force on {name} after {took:?}");
    }

    // A change written behind every instance's back (by hand, or by an older version) is picked up by
    // an admin's "reload" on any one of them, everywhere.
    let stored = world.db.store.load_runtime_config().await.unwrap().unwrap();
    let by_hand = RuntimeConfig {
        user_chat_command_limit_6h: 11,
        ..stored.config.clone()
    };
    world
        .db
        .store
        .save_runtime_config(&by_hand, Some(stored.version), Some("psql"))
        .await
        .unwrap();
    let started = Instant::now();
    b.config.reload_everywhere().await.unwrap();
    for (name, other) in [("A", &a), ("C", &c)] {
        let took = in_force_on(other, started, |c| c.user_chat_command_limit_6h == 11).await;
        eprintln!("reload on B: in force on {name} after {took:?}");
    }
    // Failed sign-ins count on every instance: five wrong passwords spread over B and C lock the account
    // on A, even with the right one.
    for (i, instance) in [&b, &c, &b, &c, &b].into_iter().enumerate() {
        assert_eq!(
            sign_in(instance, "wrong horse battery").await,
            401,
            "attempt {i}"
        );
    }
    assert_eq!(sign_in(&a, "correct horse battery").await, 429);
    for instance in [a, b, c] {
        instance.crash();
    }
}

/// `POST /api/login` as `admin` on `instance`; the status.
async fn sign_in(instance: &Crashable, password: &str) -> u16 {
    reqwest::Client::new()
        .post(format!("{}/api/login", instance.api_url))
        .json(&serde_json::json!({"username": "admin", "password": password}))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// `GET /api/instances` on `instance`, signed in as `admin`.
async fn instances_seen_by(instance: &Crashable) -> Vec<serde_json::Value> {
    let client = reqwest::Client::new();
    let login = client
        .post(format!("{}/api/login", instance.api_url))
        .json(&serde_json::json!({"username": "admin", "password": "correct horse battery"}))
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), 200);
    let cookie = login.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string();
    let listed = client
        .get(format!("{}/api/instances", instance.api_url))
        .header("cookie", cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(listed.status(), 200);
    listed.json().await.unwrap()
}

/// Waits until `n` connections listen on the database.
async fn wait_for_listeners(world: &World, n: i64) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let listening = world
            .db
            .scalar_i64(
                "SELECT COUNT(*) FROM pg_stat_activity \
                 WHERE datname = current_database() AND query LIKE 'LISTEN%'",
            )
            .await;
        if listening >= n {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{listening} of {n} instances listen"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
