//! disconcierge's application: it turns [`Settings`] into a running service.
//!
//! [`Application::build`] does everything that can fail at startup (open and migrate the database, load the
//! runtime configuration, bind the listeners) and [`Application::run`] serves until a shutdown signal. `main`
//! and the integration tests call exactly these two, so what the tests start is what production runs —
//! only the listen addresses (port 0) and the database differ.

pub mod acks;
pub mod api;
pub mod chat;
mod cluster;
mod control;
pub mod desk;
mod dispatch;
mod gateway;
pub mod healthcheck;
mod instances;
pub mod interaction_log;
mod keep_alive;
pub mod llm;
pub mod metrics;
pub mod notify;
mod playground;
pub mod rate;
pub mod runtime_config;
pub mod server;
pub mod settings;
mod shard_leases;
pub mod telemetry;
pub mod ticket_bot_import;

/// Admin accounts (password rules, argon2id hashing) live with the admin interface.
pub use disconcierge_web::admin;

use crate::api::ApiState;
use crate::metrics::Metrics;
use crate::runtime_config::{RuntimeConfigError, RuntimeConfigService};
use crate::settings::Settings;
use crate::telemetry::TelemetryHandle;
use disconcierge_core::format_duration;
use disconcierge_store::{Store, StoreError};
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(
        "the database schema is older than this binary ({pending} migration(s) pending) and DC_DATABASE_AUTO_MIGRATE \
         is false; run `disconcierge migrate` first, or set DC_DATABASE_AUTO_MIGRATE=true"
    )]
    MigrationsPending { pending: usize },
    #[error(transparent)]
    RuntimeConfig(#[from] RuntimeConfigError),
    #[error(
        "startup did not finish within DC_STARTUP_TIMEOUT={0}; the database may be unreachable or locked — check \
         DC_DATABASE, or raise DC_STARTUP_TIMEOUT"
    )]
    StartupTimeout(String),
    #[error(
        "could not listen on {addr} ({var}): {source}. Is another program using that port? Change {var}"
    )]
    Bind {
        var: &'static str,
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Serve(#[from] server::ServeError),
    #[error("could not set up the LLM backend: {0}")]
    Llm(#[from] disconcierge_llm::LlmError),
    #[error("could not start the Discord side: {0}")]
    Discord(#[from] disconcierge_discord::DiscordError),
    #[error("{0}")]
    WebhookKey(#[from] disconcierge_discord::webhook::KeyError),
}

/// One line about a schema's migrations, for logs, `/readyz` and the CLI.
pub fn describe_migrations(status: &disconcierge_store::MigrationStatus) -> String {
    let list = |v: &[i64]| {
        v.iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    };
    if status.is_current() {
        return format!(
            "schema current ({} migrations applied)",
            status.applied.len()
        );
    }
    let mut parts = Vec::new();
    if !status.pending.is_empty() {
        parts.push(format!(
            "pending: {} (run `disconcierge migrate`)",
            list(&status.pending)
        ));
    }
    if !status.unknown.is_empty() {
        parts.push(format!(
            "unknown to this binary: {} (the database was migrated by a newer disconcierge; upgrade the binary)",
            list(&status.unknown)
        ));
    }
    if !status.modified.is_empty() {
        parts.push(format!("changed since applied: {}", list(&status.modified)));
    }
    if !status.failed.is_empty() {
        parts.push(format!("failed: {}", list(&status.failed)));
    }
    format!("schema not current; {}", parts.join("; "))
}

/// Opens the database described by the settings (without migrating it).
pub async fn open_store(settings: &Settings) -> Result<Arc<dyn Store>, StoreError> {
    disconcierge_store::connect(&settings.database.connect).await
}

/// Brings the schema up to date, or refuses with a clear reason (see `ARCHITECTURE.md`, "Migrations").
async fn ensure_schema(store: &dyn Store, auto_migrate: bool) -> Result<(), AppError> {
    let status = store.migration_status().await?;
    if !status.unknown.is_empty() {
        // Refuse: an older binary must never write into a schema it does not understand.
        return Err(StoreError::SchemaTooNew {
            unknown: status.unknown.clone(),
        }
        .into());
    }
    if status.pending.is_empty() {
        return Ok(());
    }
    if !auto_migrate {
        return Err(AppError::MigrationsPending {
            pending: status.pending.len(),
        });
    }
    // The store logs what it applied.
    store.migrate().await?;
    Ok(())
}

pub struct Application {
    settings: Settings,
    store: Arc<dyn Store>,
    runtime: RuntimeConfigService,
    metrics: Arc<Metrics>,
    telemetry: Option<Arc<TelemetryHandle>>,
    api_listener: std::net::TcpListener,
    api_addr: SocketAddr,
    api_tls: Option<rustls::ServerConfig>,
    llm: Arc<dyn disconcierge_llm::LlmBackend>,
    llm_log_writer: tokio::task::JoinHandle<()>,
    /// Tells the LLM call log writer to store what it has and end (see [`close_down`]).
    llm_log_finish: CancellationToken,
    /// Where LLM call logs go (it remembers the last call for the dashboard).
    llm_sink: Arc<llm::StoreSink>,
    /// Acknowledgements in progress: the workers and the background writes give way to them.
    acks: Arc<acks::AcksInProgress>,
    /// Present when `DC_DISCORD_TOKEN` is set.
    discord: Option<DiscordParts>,
}

/// What the Discord side needs before it connects: the webhook listener is bound at build time (so its
/// address is known and a busy port fails the start), everything else happens in the background.
struct DiscordParts {
    token: disconcierge_core::secret::SecretString,
    webhook: Option<(
        std::net::TcpListener,
        SocketAddr,
        disconcierge_discord::webhook::Verifier,
    )>,
}

/// Workers answering chat commands in this process. The LLM backend's own limits (and, later, the
/// runtime configuration's request rate) bound the load; several workers let slow answers overlap.
const CHAT_WORKERS: usize = 4;

impl Application {
    /// Prepares everything that can fail at startup, within `DC_STARTUP_TIMEOUT`.
    pub async fn build(
        settings: Settings,
        telemetry: Option<Arc<TelemetryHandle>>,
    ) -> Result<Application, AppError> {
        let timeout = settings.startup_timeout;
        match tokio::time::timeout(timeout, Self::build_inner(settings, telemetry)).await {
            Ok(result) => result,
            Err(_) => Err(AppError::StartupTimeout(format_duration(timeout))),
        }
    }

    async fn build_inner(
        settings: Settings,
        telemetry: Option<Arc<TelemetryHandle>>,
    ) -> Result<Application, AppError> {
        tracing::info!(
            database = %settings.database.display(),
            kind = %settings.database.connect.kind,
            instance = %settings.instance_id,
            "starting disconcierge {}",
            env!("CARGO_PKG_VERSION")
        );
        let store = open_store(&settings).await?;
        ensure_schema(store.as_ref(), settings.database.auto_migrate).await?;
        let runtime =
            RuntimeConfigService::load_or_seed(store.clone(), &settings.runtime_seeds).await?;
        if let Some(t) = &telemetry {
            t.apply(&runtime.current().config.log_levels);
        }
        let api_tls = settings
            .api
            .tls
            .as_ref()
            .map(server::tls_config)
            .transpose()?;
        let api_listener =
            std::net::TcpListener::bind(settings.api.listen).map_err(|source| AppError::Bind {
                var: "DC_API_LISTEN",
                addr: settings.api.listen,
                source,
            })?;
        let api_addr = api_listener.local_addr().map_err(|source| AppError::Bind {
            var: "DC_API_LISTEN",
            addr: settings.api.listen,
            source,
        })?;
        let metrics = Arc::new(Metrics::new(&settings.instance_id));
        let acks = Arc::new(acks::AcksInProgress::default());
        let llm_log_finish = CancellationToken::new();
        let (sink, writer) = llm::store_sink(store.clone(), acks.clone(), llm_log_finish.clone());
        let llm = llm::backend(&settings.llm, sink.clone())?;
        let llm_log_writer = tokio::spawn(writer);
        let discord = match &settings.discord.token {
            Some(token) => Some(Self::prepare_discord(&settings, token.clone())?),
            None => None,
        };
        Ok(Application {
            settings,
            store,
            runtime,
            metrics,
            telemetry,
            api_listener,
            api_addr,
            api_tls,
            llm,
            llm_log_writer,
            llm_log_finish,
            llm_sink: sink,
            acks,
            discord,
        })
    }

    /// Checks the Discord settings and binds the webhook listener when it is enabled.
    fn prepare_discord(
        settings: &Settings,
        token: disconcierge_core::secret::SecretString,
    ) -> Result<DiscordParts, AppError> {
        let webhook = if settings.webhook.enabled {
            let key = settings.webhook.public_key.as_deref().unwrap_or_default();
            let verifier = disconcierge_discord::webhook::Verifier::from_hex(key)?;
            let listen = settings.webhook.listen;
            let bind_err = |source| AppError::Bind {
                var: "DC_DISCORD_WEBHOOK_SERVER_LISTEN",
                addr: listen,
                source,
            };
            let listener = std::net::TcpListener::bind(listen).map_err(bind_err)?;
            let addr = listener.local_addr().map_err(bind_err)?;
            Some((listener, addr, verifier))
        } else {
            None
        };
        Ok(DiscordParts { token, webhook })
    }

    /// The webhook listener's address, when enabled.
    pub fn webhook_addr(&self) -> Option<SocketAddr> {
        self.discord
            .as_ref()
            .and_then(|d| d.webhook.as_ref().map(|(_, addr, _)| *addr))
    }

    /// The configured LLM backend (its calls are logged to the database).
    pub fn llm(&self) -> Arc<dyn disconcierge_llm::LlmBackend> {
        self.llm.clone()
    }

    /// The address the API listener is bound to (with the real port when `DC_API_LISTEN` asked for port 0).
    pub fn api_addr(&self) -> SocketAddr {
        self.api_addr
    }

    /// `http://` or `https://` base URL of the API listener.
    pub fn api_url(&self) -> String {
        let scheme = if self.api_tls.is_some() {
            "https"
        } else {
            "http"
        };
        format!("{scheme}://{}", self.api_addr)
    }

    pub fn store(&self) -> Arc<dyn Store> {
        self.store.clone()
    }

    pub fn runtime_config(&self) -> RuntimeConfigService {
        self.runtime.clone()
    }

    /// Serves until `shutdown` resolves, then stops gracefully within `DC_SHUTDOWN_TIMEOUT`.
    pub async fn run(self, shutdown: impl Future<Output = ()> + Send) -> Result<(), AppError> {
        let started = Instant::now();
        let cancel = CancellationToken::new();
        let tasks = TaskTracker::new();
        let grace = self.settings.shutdown_timeout;

        let missing = self.settings.missing();
        if missing.is_empty() {
            tracing::info!("configuration complete");
        } else {
            tracing::warn!(
                "not configured yet, so only the database and the admin API are running: {}",
                missing.join(" ")
            );
        }

        // Apply runtime-configuration changes (log levels now; more components subscribe as they arrive).
        if let Some(telemetry) = self.telemetry.clone() {
            let mut rx = self.runtime.subscribe();
            let cancel = cancel.clone();
            tasks.spawn(async move {
                loop {
                    tokio::select! {
                        _ = cancel.cancelled() => break,
                        changed = rx.changed() => {
                            if changed.is_err() { break; }
                            let levels = rx.borrow_and_update().config.log_levels.clone();
                            telemetry.apply(&levels);
                        }
                    }
                }
            });
        }

        // The chat workers' wake-up, also rung when another instance queues a command.
        let wake = Arc::new(tokio::sync::Notify::new());
        tasks.spawn(
            cluster::Follower {
                store: self.store.clone(),
                runtime: self.runtime.clone(),
                wake: wake.clone(),
                refresh_every: self.settings.cluster_refresh_interval,
            }
            .run(cancel.clone()),
        );

        let state = ApiState {
            store: self.store.clone(),
            metrics: self.metrics.clone(),
            runtime: self.runtime.clone(),
            started,
            instance_id: self.settings.instance_id.clone(),
        };
        // The admin interface's "shut down" action stops the application like a signal does.
        let stop_requested = CancellationToken::new();
        // One pace for every LLM request (answers, tickets, the playground), shared with the other
        // instances on PostgreSQL.
        let rate = Arc::new(rate::LlmRate::shared(
            self.runtime.current().config.llm_requests_per_second,
            self.store.clone(),
        ));
        // The support desk's own budget, so that tickets and `/chat` cannot hold each other back.
        let desk_rate = Arc::new(rate::LlmRate::shared_desk(
            self.runtime.current().config.desk_llm_requests_per_second,
            self.store.clone(),
        ));
        let discord_slot = control::DiscordSlot::default();
        let desk_in_use = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let webhook_stats =
            self.discord
                .as_ref()
                .and_then(|d| d.webhook.as_ref())
                .map(|(_, addr, _)| {
                    (
                        *addr,
                        Arc::new(disconcierge_discord::webhook::WebhookStats::default()),
                    )
                });
        let control = Arc::new(control::AppControl {
            runtime: self.runtime.clone(),
            stop: stop_requested.clone(),
            discord: discord_slot.clone(),
            discord_configured: self.discord.is_some(),
            gateway_enabled: self.settings.discord.gateway_enabled,
            guild_scoped: self.settings.discord.guild_id.is_some(),
            webhook: webhook_stats.clone(),
            llm_sink: self.llm_sink.clone(),
            playground: playground::Playground {
                store: self.store.clone(),
                llm: self.llm.clone(),
                llm_settings: self.settings.llm.clone(),
                runtime: self.runtime.clone(),
                rate: Arc::new(rate::LlmRate::shared_playground(
                    self.runtime
                        .current()
                        .config
                        .playground_llm_requests_per_second,
                    self.store.clone(),
                )),
                training: self.settings.desk_training,
                ai_replies: self.settings.desk_ai_replies,
            },
            llm_check: std::sync::Mutex::new(None),
            instance_id: self.settings.instance_id.clone(),
            desk_in_use: desk_in_use.clone(),
        });
        tasks.spawn(
            instances::Heartbeat {
                store: self.store.clone(),
                control: control.clone(),
                id: self.settings.instance_id.clone(),
                version: self.settings.version.clone(),
            }
            .run(cancel.clone()),
        );
        let web = disconcierge_web::WebState::new(
            self.store.clone(),
            control,
            disconcierge_web::WebSettings {
                tls: self.api_tls.is_some(),
                development: self.settings.development,
                session_ttl: self.settings.api.session_max_age,
                trusted_proxies: self.settings.api.trusted_proxies.clone(),
                csrf_key: self.settings.api.secret.clone(),
            },
        );
        let api = tokio::spawn(server::serve(
            "API",
            self.api_listener,
            api::router(state, web, &self.settings.api.cors),
            self.api_tls,
            self.settings.api.timeouts.clone(),
            cancel.clone(),
            grace,
        ));
        if let Some(parts) = self.discord {
            let side = DiscordSide {
                settings: self.settings.clone(),
                store: self.store.clone(),
                runtime: self.runtime.clone(),
                llm: self.llm.clone(),
                grace,
                rate,
                desk_rate,
                discord_slot,
                desk_in_use,
                webhook_stats: webhook_stats.map(|(_, stats)| stats),
                acks: self.acks.clone(),
                wake,
            };
            let cancel = cancel.clone();
            let tracker = tasks.clone();
            tasks.spawn(async move { side.run(parts, tracker, cancel).await });
        }
        tracing::info!(
            target: "disconcierge_app::api",
            "admin API listening on {}://{}",
            if self.settings.api.tls.is_some() { "https" } else { "http" },
            self.api_addr
        );

        tokio::pin!(api);
        let served_early = tokio::select! {
            _ = shutdown => None,
            _ = stop_requested.cancelled() => None,
            result = &mut api => Some(result),
        };
        if let Some(result) = served_early {
            // The API listener died on its own: stop everything and report why.
            cancel.cancel();
            tasks.close();
            tasks.wait().await;
            close_down(
                self.llm_log_finish,
                self.llm_log_writer,
                self.store.as_ref(),
            )
            .await;
            return match result {
                Ok(r) => r.map_err(AppError::from),
                Err(join) => Err(AppError::Serve(server::ServeError::Io {
                    listener: "API",
                    source: std::io::Error::other(join.to_string()),
                })),
            };
        }

        tracing::info!("shutting down (at most {})", format_duration(grace));
        cancel.cancel();
        tasks.close();
        let drained = tokio::time::timeout(grace + Duration::from_millis(100), async {
            let _ = (&mut api).await;
            tasks.wait().await;
        })
        .await;
        if drained.is_err() {
            tracing::warn!(
                "shutdown timeout reached; abandoning remaining work (it resumes at the next start)"
            );
        }
        close_down(
            self.llm_log_finish,
            self.llm_log_writer,
            self.store.as_ref(),
        )
        .await;
        tracing::info!("stopped");
        Ok(())
    }
}

/// Connects to Discord in the background, then runs the chat workers, the gateway and the webhook
/// listener. Discord being unreachable at startup delays only this side: the admin API is already up, and
/// the connection is retried with backoff. A refused token is reported once and not retried.
struct DiscordSide {
    settings: Settings,
    store: Arc<dyn Store>,
    runtime: RuntimeConfigService,
    llm: Arc<dyn disconcierge_llm::LlmBackend>,
    grace: Duration,
    rate: Arc<rate::LlmRate>,
    /// The support desk's LLM budget.
    desk_rate: Arc<rate::LlmRate>,
    /// Filled once connected, for the admin interface.
    discord_slot: control::DiscordSlot,
    /// Whether any server uses the support desk (shared with the admin interface).
    desk_in_use: Arc<std::sync::atomic::AtomicBool>,
    webhook_stats: Option<Arc<disconcierge_discord::webhook::WebhookStats>>,
    /// Acknowledgements in progress: the workers and the background writes give way to them.
    acks: Arc<acks::AcksInProgress>,
    /// The chat workers' wake-up (shared with [`cluster::Follower`]).
    wake: Arc<tokio::sync::Notify>,
}

impl DiscordSide {
    async fn run(self, parts: DiscordParts, tasks: TaskTracker, cancel: CancellationToken) {
        use disconcierge_discord::{Discord, DiscordConfig, DiscordError};
        let config = DiscordConfig {
            token: parts.token,
            application_id: self.settings.discord.application_id,
            guild_id: self.settings.discord.guild_id,
            api_base_url: self.settings.discord.api_base_url.clone(),
            gateway_url: self.settings.discord.gateway_url.clone(),
            intents: self.settings.discord.gateway_intents,
            shards: self.settings.discord.gateway_shards,
        };
        let mut wait = Duration::from_secs(1);
        let discord = loop {
            let attempt = tokio::select! {
                _ = cancel.cancelled() => return,
                attempt = Discord::connect(config.clone()) => attempt,
            };
            match attempt {
                Ok(d) => break d,
                Err(e @ DiscordError::Refused { status: 401, .. })
                | Err(e @ DiscordError::Config(_)) => {
                    tracing::error!(
                        target: "disconcierge_app::discord",
                        "{e}. The bot stays offline until this is fixed and disconcierge restarted; the admin API keeps running."
                    );
                    return;
                }
                Err(e) => {
                    tracing::warn!(target: "disconcierge_app::discord", "could not reach Discord, retrying in {wait:?}: {e}");
                    tokio::select! {
                        _ = cancel.cancelled() => return,
                        _ = tokio::time::sleep(wait) => {}
                    }
                    wait = (wait * 2).min(Duration::from_secs(60));
                }
            }
        };
        let _ = self.discord_slot.set(discord.clone());
        let config = self.runtime.current().config.clone();
        if let Err(e) = discord
            .register_commands(&command_texts(&config), false)
            .await
        {
            tracing::error!(target: "disconcierge_app::discord", "could not register the slash commands: {e}");
        }
        let (notifier, notifier_task) = notify::Notifier::start(
            discord.clone(),
            self.runtime.clone(),
            self.settings.api.external_url.clone(),
            cancel.clone(),
        );
        tasks.spawn(async move {
            let _ = notifier_task.await;
        });
        {
            let (discord, runtime, text) = (
                discord.clone(),
                self.runtime.clone(),
                self.settings.discord.startup_message.clone(),
            );
            tasks.spawn(async move { notify::post_startup(&discord, &runtime, &text).await });
        }
        let acks = self.acks.clone();
        let (interaction_log, log_writer) =
            interaction_log::InteractionLogger::start(self.store.clone(), acks.clone());
        tasks.spawn(log_writer);
        let rate = self.rate.clone();
        let desk = Arc::new(desk::Desk {
            store: self.store.clone(),
            runtime: self.runtime.clone(),
            llm: self.llm.clone(),
            llm_settings: self.settings.llm.clone(),
            discord: discord.clone(),
            rate: self.desk_rate.clone(),
            reply_locks: desk::TicketLocks::default(),
            embedding_model: self.settings.llm.embedding_model.clone(),
            embed_wake: tokio::sync::Notify::new(),
            instance_id: self.settings.instance_id.clone(),
            reply_lease: self.settings.queue.lease,
            desk_in_use: self.desk_in_use.clone(),
            ai_replies: self.settings.desk_ai_replies,
            training: self.settings.desk_training,
        });
        tasks.spawn(desk.clone().check_message_content());
        tasks.spawn(desk.clone().run_embedder(cancel.clone()));
        tasks.spawn(
            desk.clone()
                .run_idle_tickets(self.settings.ticket_idle_check_interval, cancel.clone()),
        );
        let (admissions, recorder) = chat::admit::Admissions::start(chat::admit::Admitter {
            store: self.store.clone(),
            runtime: self.runtime.clone(),
            queue_size: self.settings.queue.size,
            dropped: chat::admit::drop_notice(discord.clone()),
        });
        tasks.spawn(recorder);
        let wake = self.wake.clone();
        let queued_here = Arc::new(acks::QueuedHint::default());
        let (queuer, queueing) = chat::admit::Queuer::start(
            self.store.clone(),
            wake.clone(),
            queued_here.clone(),
            acks.clone(),
        );
        tasks.spawn(queueing);
        let chat = Arc::new(chat::Chat {
            store: self.store.clone(),
            runtime: self.runtime.clone(),
            llm: self.llm.clone(),
            llm_settings: self.settings.llm.clone(),
            queue: self.settings.queue.clone(),
            discord: discord.clone(),
            instance_id: self.settings.instance_id.clone(),
            wake,
            queued_here,
            rate,
            admissions,
            queuer,
            notifier,
            interaction_log,
            acks,
            desk,
        });
        let dispatcher =
            disconcierge_discord::router::Dispatcher::new(discord.clone(), chat.clone());
        // Commands a previous run (or another instance) recorded but never queued are queued by the
        // janitor, at once and then every round.
        for _ in 0..CHAT_WORKERS {
            tasks.spawn(chat.clone().run_worker(cancel.clone()));
        }
        tasks.spawn(chat.clone().run_janitor(cancel.clone()));
        if let Some((listener, addr, verifier)) = parts.webhook {
            let stats = self.webhook_stats.clone().unwrap_or_default();
            let router = disconcierge_discord::webhook::router(verifier, dispatcher.clone(), stats);
            match self
                .settings
                .webhook
                .tls
                .as_ref()
                .map(server::tls_config)
                .transpose()
            {
                Ok(tls) => {
                    let timeouts = self.settings.webhook.timeouts.clone();
                    let (cancel, grace) = (cancel.clone(), self.grace);
                    tasks.spawn(async move {
                        if let Err(e) = server::serve("webhook", listener, router, tls, timeouts, cancel, grace).await {
                            tracing::error!(target: "disconcierge_app::webhook", "the webhook listener stopped: {e}");
                        }
                    });
                    tracing::info!(target: "disconcierge_app::webhook", "webhook interactions listening on {addr}");
                }
                Err(e) => tracing::error!(target: "disconcierge_app::webhook", "{e}"),
            }
        }
        if !self.settings.discord.gateway_enabled {
            return;
        }
        let gateway = gateway::Gateway {
            store: self.store.clone(),
            runtime: self.runtime.clone(),
            instance_id: self.settings.instance_id.clone(),
            shard_lease: self.settings.discord.gateway_shard_lease,
        };
        let gateway = gateway.run(discord, dispatcher, &tasks, cancel).await;
        if let Err(e) = gateway {
            tracing::error!(target: "disconcierge_app::discord", "the Discord gateway stopped: {e}");
        }
    }
}

/// The texts of the chat commands, from the runtime configuration.
fn command_texts(
    config: &disconcierge_core::RuntimeConfig,
) -> disconcierge_discord::commands::CommandTexts {
    disconcierge_discord::commands::CommandTexts {
        chat_description: config.chat_command_description.clone(),
        chat_option_description: config.chat_command_option_description.clone(),
        private_description: config.private_command_description.clone(),
        clear_description: config.clear_command_description.clone(),
        prompt_max_length: u16::try_from(config.chat_command_max_length).unwrap_or(u16::MAX),
    }
}

/// Last steps of a stop, once everything that calls the LLM has stopped: store the remaining LLM call
/// logs, then close the database.
async fn close_down(
    llm_log_finish: CancellationToken,
    llm_log_writer: tokio::task::JoinHandle<()>,
    store: &dyn Store,
) {
    // The writer stores what it was sent, then ends.
    llm_log_finish.cancel();
    if tokio::time::timeout(Duration::from_secs(5), llm_log_writer)
        .await
        .is_err()
    {
        tracing::warn!("some LLM call logs could not be stored before shutdown");
    }
    store.close().await;
}

/// Resolves on SIGINT (Ctrl-C) or SIGTERM (containers, systemd).
///
/// The handlers are installed when this is called, not when the future is first polled: call it before
/// `Application::build`, so that a signal arriving during startup stops the service gracefully instead of
/// killing the process (the default action).
pub fn shutdown_signal() -> impl Future<Output = ()> + Send + 'static {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let interrupt = signal(SignalKind::interrupt());
        let terminate = signal(SignalKind::terminate());
        async move {
            let wait = |s: std::io::Result<tokio::signal::unix::Signal>| async move {
                match s {
                    Ok(mut s) => {
                        s.recv().await;
                    }
                    Err(_) => std::future::pending::<()>().await,
                }
            };
            tokio::select! {
                _ = wait(interrupt) => tracing::info!("received SIGINT"),
                _ = wait(terminate) => tracing::info!("received SIGTERM"),
            }
        }
    }
    #[cfg(not(unix))]
    async {
        let _ = tokio::signal::ctrl_c().await;
        tracing::info!("received Ctrl-C");
    }
}
