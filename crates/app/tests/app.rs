//! The real application, started exactly as `main` starts it, on port 0, against a fresh SQLite file and a
//! fresh PostgreSQL database (when `DC_TEST_POSTGRES_URL` is set).

use disconcierge_app::Application;
use disconcierge_app::settings::{Settings, Sources};
use disconcierge_core::RuntimeConfig;
use disconcierge_store::testing::TestDb;
use std::time::Duration;
use tokio::sync::oneshot;

fn settings(env: &[(&str, &str)]) -> Settings {
    let mut all: Vec<(String, String)> = vec![
        ("DC_API_LISTEN".into(), "127.0.0.1:0".into()),
        ("DC_SHUTDOWN_TIMEOUT".into(), "5s".into()),
    ];
    all.extend(env.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    Settings::load(&Sources::from_parts(all, None).unwrap())
        .unwrap()
        .settings
}

fn db_env(db: &TestDb) -> Vec<(&'static str, String)> {
    let kind = match db.opts.kind {
        disconcierge_store::DatabaseKind::Sqlite => "sqlite",
        disconcierge_store::DatabaseKind::Postgres => "postgres",
    };
    vec![
        ("DC_DATABASE_TYPE", kind.to_string()),
        ("DC_DATABASE", db.opts.url_or_path.clone()),
    ]
}

struct Running {
    url: String,
    stop: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<Result<(), disconcierge_app::AppError>>,
    app_store: std::sync::Arc<dyn disconcierge_store::Store>,
    runtime: disconcierge_app::runtime_config::RuntimeConfigService,
}

async fn spawn(settings: Settings) -> Running {
    let app = Application::build(settings, None)
        .await
        .expect("application builds");
    let url = app.api_url();
    let app_store = app.store();
    let runtime = app.runtime_config();
    let (tx, rx) = oneshot::channel();
    let task = tokio::spawn(app.run(async {
        let _ = rx.await;
    }));
    Running {
        url,
        stop: Some(tx),
        task,
        app_store,
        runtime,
    }
}

impl Running {
    async fn stop(mut self) {
        self.stop.take().unwrap().send(()).unwrap();
        tokio::time::timeout(Duration::from_secs(10), self.task)
            .await
            .expect("shuts down within the timeout")
            .unwrap()
            .expect("clean shutdown");
    }
}

async fn get(url: &str) -> (u16, String) {
    let r = reqwest::get(url).await.expect("request");
    (r.status().as_u16(), r.text().await.unwrap())
}

macro_rules! both {
    ($name:ident) => {
        mod $name {
            #[tokio::test]
            async fn sqlite() {
                let db = disconcierge_store::testing::TestDb::sqlite_unmigrated().await;
                super::$name(db).await;
            }

            #[tokio::test]
            #[cfg_attr(
                not(dc_test_postgres),
                ignore = "PostgreSQL: set DC_TEST_POSTGRES_URL to run"
            )]
            async fn postgres() {
                if let Some(db) = disconcierge_store::testing::TestDb::postgres_unmigrated().await {
                    super::$name(db).await;
                }
            }
        }
    };
}

both!(serves_health_readiness_and_metrics_on_a_fresh_database);
async fn serves_health_readiness_and_metrics_on_a_fresh_database(db: TestDb) {
    let env = db_env(&db);
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let app = spawn(settings(&env)).await;

    let (status, body) = get(&format!("{}/healthz", app.url)).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains(r#""status":"ok""#), "{body}");

    let (status, body) = get(&format!("{}/readyz", app.url)).await;
    assert_eq!(status, 200, "{body}");
    let ready: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(ready["ready"], true);
    assert_eq!(ready["migrations"]["ok"], true);

    let (status, body) = get(&format!("{}/metrics", app.url)).await;
    assert_eq!(status, 200);
    assert!(body.contains("disconcierge_build_info"), "{body}");
    assert!(
        body.contains("disconcierge_runtime_config_version 1"),
        "{body}"
    );
    assert!(
        body.contains(r#"disconcierge_http_requests_total{listener="api",route="/readyz",method="GET",status="200"} 1"#),
        "{body}"
    );

    let (status, body) = get(&format!("{}/no/such/page", app.url)).await;
    assert_eq!(status, 404);
    assert!(body.contains("not_found"));

    // The runtime configuration was initialised with the defaults.
    let stored = app
        .app_store
        .load_runtime_config()
        .await
        .unwrap()
        .expect("defaults saved");
    assert_eq!(stored.config, RuntimeConfig::default());
    app.stop().await;
}

both!(readiness_fails_when_the_schema_is_newer_than_the_binary);
async fn readiness_fails_when_the_schema_is_newer_than_the_binary(db: TestDb) {
    let env = db_env(&db);
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let app = spawn(settings(&env)).await;
    db.add_fake_applied_migration(9_999).await;
    let (status, body) = get(&format!("{}/readyz", app.url)).await;
    assert_eq!(status, 503, "{body}");
    let ready: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(ready["ready"], false);
    assert_eq!(ready["database"]["ok"], true);
    assert_eq!(ready["migrations"]["ok"], false);
    app.stop().await;

    // And a new start refuses to touch that schema, saying what to do.
    let err = Application::build(settings(&env), None)
        .await
        .err()
        .expect("refused");
    let text = err.to_string();
    assert!(text.contains("newer") && text.contains("upgrade"), "{text}");
}

both!(run_refuses_an_unmigrated_database_when_auto_migrate_is_off);
async fn run_refuses_an_unmigrated_database_when_auto_migrate_is_off(db: TestDb) {
    let mut env = db_env(&db);
    env.push(("DC_DATABASE_AUTO_MIGRATE", "false".into()));
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let err = Application::build(settings(&env), None)
        .await
        .err()
        .expect("refused");
    assert!(err.to_string().contains("disconcierge migrate"), "{err}");
}

both!(runtime_configuration_changes_are_published_and_conflicts_refused);
async fn runtime_configuration_changes_are_published_and_conflicts_refused(db: TestDb) {
    let env = db_env(&db);
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let app = spawn(settings(&env)).await;
    let service = app.runtime.clone();
    let mut rx = service.subscribe();
    let v1 = service.current().version;

    let mut paused = service.current().config.clone();
    paused.paused = true;
    let saved = service.update(paused.clone(), v1, "alice").await.unwrap();
    assert_eq!(saved.version, v1 + 1);
    tokio::time::timeout(Duration::from_secs(1), rx.changed())
        .await
        .unwrap()
        .unwrap();
    assert!(rx.borrow().config.paused);
    let (_, metrics) = get(&format!("{}/metrics", app.url)).await;
    assert!(metrics.contains("disconcierge_paused 1"), "{metrics}");

    // A second admin still editing version v1 is told, and nothing of theirs is saved.
    let mut stale = paused.clone();
    stale.discord_custom_status = "from bob".into();
    let err = service.update(stale, v1, "bob").await.unwrap_err();
    assert!(err.to_string().contains("changed by someone else"), "{err}");
    assert_eq!(service.current().config.discord_custom_status, "");

    // Invalid values are refused field by field.
    let mut bad = paused;
    bad.llm_temperature = Some(9.0);
    let err = service.update(bad, v1 + 1, "alice").await.unwrap_err();
    assert!(err.to_string().contains("llm_temperature"), "{err}");
    assert_eq!(service.current().version, v1 + 1);
    app.stop().await;
}

#[tokio::test]
async fn a_busy_port_is_reported_with_the_variable_to_change() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let db = TestDb::sqlite_unmigrated().await;
    let listen = format!("127.0.0.1:{port}");
    let env = db_env(&db);
    let mut env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    env.push(("DC_API_LISTEN", &listen));
    let err = Application::build(settings(&env), None)
        .await
        .err()
        .expect("bind fails");
    let text = err.to_string();
    assert!(
        text.contains("DC_API_LISTEN") && text.contains(&listen),
        "{text}"
    );
}

#[tokio::test]
async fn the_sqlite_file_and_its_directory_are_created() {
    let dir = std::env::temp_dir().join(format!("dc-app-{}", uuid_like()));
    let path = dir.join("nested/disconcierge.sqlite3");
    let path_str = path.to_str().unwrap().to_string();
    let app = spawn(settings(&[("DC_DATABASE", &path_str)])).await;
    assert!(path.is_file());
    app.stop().await;
    std::fs::remove_dir_all(dir).unwrap();
}

fn uuid_like() -> String {
    format!("{}-{:x}", std::process::id(), rand::random::<u64>())
}
