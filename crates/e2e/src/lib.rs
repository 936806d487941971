//! The end-to-end harness: [`spawn_app`] starts the real disconcierge — `Application::build` and
//! `Application::run`, the code path `main` uses — on port 0 with a fresh database, pointed through its
//! ordinary configuration (`DC_DISCORD_API_BASE_URL`, `DC_DISCORD_GATEWAY_URL`, `DC_OPENAI_BASE_URL`,
//! `DC_OLLAMA_URL`, the webhook public key) at a local Discord and a local LLM.
//!
//! ```no_run
//! # async fn demo() {
//! use disconcierge_e2e::{Backend, spawn_app};
//! let app = spawn_app(Backend::Sqlite, &[("DC_LLM_PROVIDER", "ollama")]).await;
//! let health = reqwest::get(format!("{}/healthz", app.api_url)).await.unwrap();
//! assert!(health.status().is_success());
//! app.stop().await;
//! # }
//! ```
//!
//! Test logs are silent unless `DC_TEST_LOG` is set (to a level such as `debug`, or `1` for `info`).

pub mod admin;
pub mod browser;
pub mod desk;

use disconcierge_app::Application;
use disconcierge_app::settings::{Settings, Sources};
use disconcierge_discord_sim::DiscordSim;
use disconcierge_llm_sim::LlmSim;
use disconcierge_store::Store;
use disconcierge_store::testing::TestDb;
use std::sync::{Arc, Once};
use std::time::Duration;
use tokio::sync::oneshot;

/// Runs an async test function `fn(Backend)` on SQLite and, when `DC_TEST_POSTGRES_URL` is set, on
/// PostgreSQL (otherwise that variant is reported as skipped). The test crate needs the build script that
/// sets `cfg(dc_test_postgres)`, as this crate has.
#[macro_export]
macro_rules! both {
    ($name:ident) => {
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                super::$name($crate::Backend::Sqlite).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            #[cfg_attr(
                not(dc_test_postgres),
                ignore = "PostgreSQL: set DC_TEST_POSTGRES_URL to run"
            )]
            async fn postgres() {
                super::$name($crate::Backend::Postgres).await;
            }
        }
    };
}

/// Which database the application runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// The API key the simulated OpenAI accepts.
pub const OPENAI_KEY: &str = "sk-e2e-key";

/// A running application with its simulators and database.
pub struct TestApp {
    /// `http://127.0.0.1:PORT` of the admin API listener.
    pub api_url: String,
    /// `http://127.0.0.1:PORT/interactions` when `DC_DISCORD_WEBHOOK_SERVER_ENABLED=true`.
    pub webhook_url: Option<String>,
    pub store: Arc<dyn Store>,
    pub runtime: disconcierge_app::runtime_config::RuntimeConfigService,
    llm_backend: Option<Arc<dyn disconcierge_llm::LlmBackend>>,
    pub discord: DiscordSim,
    pub llm: LlmSim,
    db: Option<TestDb>,
    stop: Option<oneshot::Sender<()>>,
    task: AbortOnDrop,
}

/// The application's task; a test that panics before [`TestApp::stop`] must not leave it running.
struct AbortOnDrop(Option<tokio::task::JoinHandle<Result<(), disconcierge_app::AppError>>>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        if let Some(task) = self.0.take() {
            task.abort();
        }
    }
}

impl TestApp {
    /// The application's own LLM backend (its calls are logged to the database like any other). Drop the
    /// clone before [`TestApp::stop`]: the log writer finishes when the last holder is gone.
    pub fn llm_backend(&self) -> Arc<dyn disconcierge_llm::LlmBackend> {
        self.llm_backend.clone().expect("present until stop")
    }

    /// Changes the runtime configuration as an admin would (validated, versioned, applied live).
    pub async fn configure(&self, change: impl FnOnce(&mut disconcierge_core::RuntimeConfig)) {
        let current = self.runtime.current();
        let mut config = current.config.clone();
        change(&mut config);
        self.runtime
            .update(config, current.version, "test")
            .await
            .expect("a valid configuration change");
    }

    /// Waits until the user has no command in flight. The final answer is written before the command is
    /// recorded as finished (so that a crash in between cannot lose it), so a test that asks again the
    /// moment it sees an answer must wait for this, or it is (rightly) told the bot is still working.
    pub async fn settle(&self, user_id: u64) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while self
            .store
            .user_in_flight(user_id, -1)
            .await
            .expect("database")
        {
            assert!(
                tokio::time::Instant::now() < deadline,
                "user {user_id} still has a command in flight after 10 s"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// The test database (for direct SQL checks).
    pub fn db(&self) -> &TestDb {
        self.db.as_ref().expect("present until stop")
    }

    /// Stops the application gracefully (errors fail the test) and hands back the database, so a test can
    /// check what was written during the shutdown.
    pub async fn stop(self) -> TestDb {
        self.stop_keeping_world().await.db
    }

    /// Stops the application gracefully and hands back its world (database, Discord, LLM), to start it
    /// again with [`spawn_app_in`] as a restarted process would.
    pub async fn stop_keeping_world(self) -> World {
        let TestApp {
            llm_backend,
            discord,
            llm,
            db,
            stop,
            mut task,
            ..
        } = self;
        drop(llm_backend);
        if let Some(tx) = stop {
            let _ = tx.send(());
        }
        let task = task.0.take().expect("not stopped twice");
        match tokio::time::timeout(Duration::from_secs(20), task).await {
            Ok(Ok(Ok(()))) => {}
            Ok(Ok(Err(e))) => panic!("the application stopped with an error: {e}"),
            Ok(Err(join)) => panic!("the application panicked: {join}"),
            Err(_) => panic!("the application did not stop within 20 s"),
        }
        World {
            db: db.expect("present until stop"),
            discord,
            llm,
        }
    }
}

fn init_test_logging() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let Ok(level) = std::env::var("DC_TEST_LOG") else {
            return;
        };
        let level = if level == "1" {
            "info".to_string()
        } else {
            level
        };
        let filter: tracing_subscriber::filter::Targets =
            format!("warn,disconcierge={level},disconcierge_app={level}")
                .parse()
                .unwrap_or_default();
        use tracing_subscriber::layer::SubscriberExt;
        use tracing_subscriber::util::SubscriberInitExt;
        let _ = tracing_subscriber::registry()
            .with(filter)
            .with(tracing_subscriber::fmt::layer().with_test_writer())
            .try_init();
    });
}

/// What outlives one run of the application: its database, and the Discord and LLM it talks to (they do
/// not restart when the bot does).
pub struct World {
    pub db: TestDb,
    pub discord: DiscordSim,
    pub llm: LlmSim,
}

impl World {
    /// A fresh database on `backend` and fresh simulators; `None` for PostgreSQL without
    /// `DC_TEST_POSTGRES_URL`.
    pub async fn start(backend: Backend) -> Option<World> {
        World::start_with(backend, DiscordSim::builder()).await
    }

    /// As [`World::start`], with a Discord configured by `discord` (privileged intents the portal
    /// allows, shards it requires, …).
    pub async fn start_with(
        backend: Backend,
        discord: disconcierge_discord_sim::SimBuilder,
    ) -> Option<World> {
        init_test_logging();
        let db = match backend {
            Backend::Sqlite => TestDb::sqlite_unmigrated().await,
            Backend::Postgres => TestDb::postgres_unmigrated().await?,
        };
        Some(World {
            db,
            discord: discord.start().await,
            llm: LlmSim::builder().api_key(OPENAI_KEY).start().await,
        })
    }

    /// The settings read from the dotenv file `file` as an admin wrote it, with only where this world's
    /// database, listeners and Discord are added (`DC_DATABASE*`, `DC_API_LISTEN`, the simulator's URLs).
    pub fn settings_from_file(&self, file: &std::path::Path) -> disconcierge_app::settings::Loaded {
        let vars = [
            ("DC_DATABASE_TYPE", self.db.opts.kind.as_str().to_string()),
            ("DC_DATABASE", self.db.opts.url_or_path.clone()),
            ("DC_API_LISTEN", "127.0.0.1:0".into()),
            ("DC_SHUTDOWN_TIMEOUT", "5s".into()),
            ("DC_DISCORD_API_BASE_URL", self.discord.api_base_url()),
            ("DC_DISCORD_GATEWAY_URL", self.discord.gateway_url()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v));
        Settings::load(&Sources::from_parts(vars, Some(file)).expect("the file is readable"))
            .expect("valid settings")
    }

    /// The application's settings for this world; `env` adds or overrides `DC_*` settings.
    pub fn settings(&self, env: &[(&str, &str)]) -> Settings {
        let mut vars: Vec<(String, String)> = vec![
            ("DC_DATABASE_TYPE", self.db.opts.kind.as_str().to_string()),
            ("DC_DATABASE", self.db.opts.url_or_path.clone()),
            ("DC_API_LISTEN", "127.0.0.1:0".into()),
            ("DC_SHUTDOWN_TIMEOUT", "5s".into()),
            ("DC_DISCORD_TOKEN", self.discord.bot_token()),
            ("DC_DISCORD_API_BASE_URL", self.discord.api_base_url()),
            ("DC_DISCORD_GATEWAY_URL", self.discord.gateway_url()),
            ("DC_DISCORD_WEBHOOK_SERVER_LISTEN", "127.0.0.1:0".into()),
            (
                "DC_DISCORD_WEBHOOK_SERVER_PUBLIC_KEY",
                self.discord.public_key_hex(),
            ),
            ("DC_OPENAI_TOKEN", OPENAI_KEY.into()),
            ("DC_OPENAI_BASE_URL", self.llm.openai_base_url()),
            ("DC_OLLAMA_URL", self.llm.ollama_url()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        vars.extend(env.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        Settings::load(&Sources::from_parts(vars, None).expect("no file"))
            .expect("valid test settings")
            .settings
    }
}

/// Starts the simulators and the application on `backend`; `env` adds or overrides `DC_*` settings.
/// Returns `None` (the test is then skipped) for PostgreSQL when `DC_TEST_POSTGRES_URL` is not set.
pub async fn try_spawn_app(backend: Backend, env: &[(&str, &str)]) -> Option<TestApp> {
    Some(spawn_app_in(World::start(backend).await?, env).await)
}

/// Panics seen in this process since [`watch_panics`]: a panic in a spawned task does not fail a test
/// by itself (tokio keeps it in the task's handle), so tests that must show "no panic" look here.
/// nextest runs each test in a process of its own, so what is seen is this test's.
pub struct PanicWatch(Arc<std::sync::Mutex<Vec<String>>>);

/// Starts recording panics (the default report is still printed).
pub fn watch_panics() -> PanicWatch {
    let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    let record = seen.clone();
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if let Ok(mut seen) = record.lock() {
            seen.push(info.to_string());
        }
        previous(info);
    }));
    PanicWatch(seen)
}

impl PanicWatch {
    /// Fails the test if anything panicked since the watch started.
    pub fn assert_none(&self) {
        let seen = self.0.lock().expect("panic record");
        assert!(seen.is_empty(), "panicked: {seen:#?}");
    }
}

/// Starts the application in an existing world (for instance after another run of it crashed).
pub async fn spawn_app_in(world: World, env: &[(&str, &str)]) -> TestApp {
    let settings = world.settings(env);
    spawn_app_with(world, settings).await
}

/// Starts the application in `world` with `settings` as they are.
pub async fn spawn_app_with(world: World, settings: Settings) -> TestApp {
    let app = Application::build(settings, None)
        .await
        .expect("the application builds");
    let World { db, discord, llm } = world;
    let api_url = app.api_url();
    let webhook_url = webhook_url(&app);
    let store = app.store();
    let runtime = app.runtime_config();
    let llm_backend = app.llm();
    let (tx, rx) = oneshot::channel::<()>();
    let task = tokio::spawn(app.run(async {
        let _ = rx.await;
    }));
    TestApp {
        api_url,
        webhook_url,
        store,
        runtime,
        llm_backend: Some(llm_backend),
        discord,
        llm,
        db: Some(db),
        stop: Some(tx),
        task: AbortOnDrop(Some(task)),
    }
}

/// An application running in a runtime of its own, so that it can be killed the way a process dies:
/// every task at once, nothing flushed, no goodbye to Discord.
/// The application's webhook interactions endpoint, when its listener is enabled.
fn webhook_url(app: &Application) -> Option<String> {
    app.webhook_addr()
        .map(|a| format!("http://{a}/interactions"))
}

pub struct Crashable {
    runtime: tokio::runtime::Runtime,
    pub api_url: String,
    /// The instance's runtime configuration, as it holds it.
    pub config: disconcierge_app::runtime_config::RuntimeConfigService,
    /// The webhook interactions endpoint, when `DC_DISCORD_WEBHOOK_SERVER_ENABLED` is set.
    pub webhook_url: Option<String>,
    /// Asks the application to stop gracefully, as SIGTERM does.
    stop: oneshot::Sender<()>,
    /// Sent once the application's `run` has returned.
    stopped: oneshot::Receiver<()>,
}

impl Crashable {
    pub async fn start(world: &World, env: &[(&str, &str)]) -> Crashable {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("a runtime for the application");
        let settings = world.settings(env);
        let (tx, rx) = oneshot::channel();
        let (stop, stop_requested) = oneshot::channel::<()>();
        let (ran, stopped) = oneshot::channel();
        runtime.spawn(async move {
            let app = Application::build(settings, None)
                .await
                .expect("the application builds");
            let _ = tx.send((app.api_url(), webhook_url(&app), app.runtime_config()));
            let _ = app
                .run(async move {
                    // Dropped without a word (a crash) is no stop request.
                    if stop_requested.await.is_err() {
                        std::future::pending::<()>().await;
                    }
                })
                .await;
            let _ = ran.send(());
        });
        let (api_url, webhook_url, config) = rx.await.expect("the application started");
        Crashable {
            runtime,
            api_url,
            config,
            webhook_url,
            stop,
            stopped,
        }
    }

    /// Stops the application gracefully (as on SIGTERM) and waits until it has stopped.
    pub async fn stop(self) {
        let _ = self.stop.send(());
        self.stopped.await.expect("the application stops by itself");
        self.runtime.shutdown_background();
    }

    /// Kills the application: its runtime stops and drops every task where it stands.
    pub fn crash(self) {
        self.runtime.shutdown_background();
    }
}

/// [`try_spawn_app`] for SQLite, which is always available.
pub async fn spawn_app(backend: Backend, env: &[(&str, &str)]) -> TestApp {
    try_spawn_app(backend, env)
        .await
        .expect("this database backend is available (use try_spawn_app for PostgreSQL)")
}

/// An answer of about 2,400 characters in three paragraphs (`Part 0.` to `Part 2.`): delivered as the
/// original response (parts 0 and 1) and one follow-up (part 2 and the usage line).
pub fn answer_in_two_messages() -> String {
    (0..3)
        .map(|i| format!("Part {i}. {}\n\n", "A sentence of the answer. ".repeat(30)))
        .collect()
}
