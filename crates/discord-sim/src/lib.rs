//! A local Discord for disconcierge's tests and benchmarks.
//!
//! Discord cannot be reached from the test machines, and mocking twilight's traits would test the bot
//! against our own idea of Discord. Instead [`DiscordSim`] *is* a small Discord: it serves the REST API
//! under `/api/v10`, a gateway WebSocket and signed webhook interactions on `127.0.0.1`, keeps an
//! in-memory world (guilds, members, roles, channels, forum threads, messages, commands, interactions),
//! and speaks the JSON shapes Discord documents, built from `twilight-model` types so the bot's real
//! twilight clients read them. It checks what the bot sends just as strictly: every request body must
//! deserialize into the twilight-model type Discord's API expects and pass Discord's validation; anything
//! else is answered like Discord would (400 with `50035 Invalid Form Body`, 404 `Unknown …`, 40060 …) and
//! recorded as a [`Violation`] that fails the test.
//!
//! # How a test uses it
//!
//! ```no_run
//! # async fn example() {
//! use std::time::Duration;
//! use disconcierge_discord_sim::{DiscordSim, Via};
//! use twilight_model::guild::Permissions;
//!
//! // 1. Start the simulator and describe the world, as a server admin would set it up.
//! let sim = DiscordSim::builder()
//!     .heartbeat_interval(Duration::from_millis(500))
//!     .start()
//!     .await;
//! let guild = sim
//!     .guild("Test Guild")
//!     .role("Staff", Permissions::MANAGE_MESSAGES)
//!     .member("alice")
//!     .member_with_roles("bob", &["Staff"])
//!     .text_channel("general")
//!     .forum("support", &["billing", "bug"])
//!     .create();
//!
//! // 2. Point the bot at it (see `DiscordSim::proxy_addr` and `DiscordSim::gateway_url`) with
//! //    `sim.bot_token()` as its token, start it, and wait until its shard is ready.
//! sim.gateway().wait_ready(1).await;
//!
//! // 3. Act like a person: alice runs `/chat prompt:hi` in #general.
//! let alice = sim.user(guild.user("alice"));
//! let interaction = alice
//!     .run_slash_command(guild.channel("general"), "chat", [("prompt", "hi")], Via::Gateway)
//!     .await;
//!
//! // 4. Wait for what the bot did (never hangs: times out with a report of what was observed).
//! interaction.wait_ack().await;
//! let answer = interaction.wait_original(|m| !m.content.is_empty()).await;
//! assert!(answer.content.contains("hello"));
//!
//! // 5. On drop the simulator fails the test if the bot sent anything Discord would reject.
//! sim.assert_no_violations();
//! # }
//! ```
//!
//! # Pointing twilight at the simulator
//!
//! * REST: `twilight_http::Client::builder().token(sim.bot_token()).proxy(sim.proxy_addr(), true)`:
//!   twilight then sends `http://127.0.0.1:PORT/api/v10/...`, which is what the simulator serves.
//! * Gateway: `twilight_gateway::ConfigBuilder::new(token, intents).proxy_url(sim.gateway_url())`;
//!   twilight appends `/?v=10&encoding=json`. Build twilight-gateway **without** `zlib`/`zstd`
//!   (`default-features = false`): the simulator speaks uncompressed JSON and records a violation if a
//!   client asks for `compress=`. Twilight's default identify queue waits 5 s between shards; use
//!   [`InstantQueue`] (`.queue(InstantQueue)`) for multi-shard tests.
//! * Webhook interactions: the bot verifies with [`DiscordSim::public_key_hex`].
//!
//! Time-dependent rules (the 3 s acknowledgement window, 15 min token lifetime) follow
//! [`DiscordSim::clock`], which tests advance instead of sleeping.
//!
//! # Files
//!
//! Every route that creates or edits a message takes Discord's multipart uploads (twilight's
//! `.attachments(&[Attachment::from_bytes(…)])`, or `data.attachments` of an interaction response).
//! The message's attachments then have a `url` on the simulator, served without authentication like
//! Discord's CDN; a test reads a file with [`DiscordSim::attachment_bytes`] or by GETting its URL. A
//! person passes a file to an ATTACHMENT command option with [`OptionValue::file`].

mod attachments;
mod clock;
mod driver;
mod gateway;
mod interactions;
mod messages;
mod model;
mod record;
mod rest;
mod shared;
mod webhook;
mod world;

use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use twilight_model::channel::Attachment;
use twilight_model::channel::message::Message;
use twilight_model::id::Id;
use twilight_model::id::marker::{ApplicationMarker, ChannelMarker, InteractionMarker, UserMarker};

pub use axum::http::Method;
pub use clock::SimClock;
pub use driver::{Actor, GuildBuilder, GuildHandle, InteractionHandle, OptionValue, Via};
pub use gateway::{GatewayControl, InstantQueue};
pub use model::{default_bot_permissions, default_everyone_permissions};
pub use record::{Direction, GatewayRecord, RecordedRequest, Violation};
pub use rest::failures::Failure;
pub use twilight_model;
pub use webhook::{SignedDelivery, Signing, WebhookClient, WebhookResponse};
pub use world::{Ack, AckVia, Delivery, GuildState, InteractionRecord, TypingRecord, World};

use shared::Shared;

/// Settings of a simulator; every field has a default that matches Discord.
#[derive(Clone, Debug)]
pub struct SimConfig {
    /// The bot token the simulator accepts (REST `Authorization: Bot <token>`, gateway IDENTIFY).
    pub bot_token: String,
    /// The bot user's name.
    pub bot_name: String,
    /// The application's name.
    pub application_name: String,
    /// HELLO's heartbeat interval. Discord uses 41.25 s; tests lower it to see heartbeats quickly.
    pub heartbeat_interval: Duration,
    /// How long `wait_*` helpers wait before failing.
    pub default_timeout: Duration,
    /// How long after an interaction its callback is accepted (Discord: 3 s).
    pub ack_window: Duration,
    /// How long an interaction token works for webhook routes (Discord: 15 min).
    pub token_lifetime: Duration,
    /// How long the simulator waits for the bot's answer to a webhook interaction.
    pub webhook_timeout: Duration,
    /// Privileged intents the application is allowed to use; asking for others closes the gateway
    /// with 4014 Disallowed intent(s), as Discord does when they are not enabled in the portal.
    pub privileged_intents: twilight_model::gateway::Intents,
    /// The largest file a message may carry, in bytes (Discord: 10 MiB in a guild without boosts).
    /// Interactions report it as `attachment_size_limit`; a larger upload gets 413 `40005 Request
    /// entity too large`, and the driver refuses larger files for ATTACHMENT options.
    pub attachment_size_limit: u64,
    /// The fewest shards Discord accepts for this bot: an IDENTIFY with fewer is closed with 4011
    /// Sharding required, and `GET /gateway/bot` recommends this many (Discord: one per 1,000 guilds).
    pub required_shards: u32,
    /// `session_start_limit.max_concurrency` of `GET /gateway/bot`: how many shards may identify at once.
    pub max_concurrency: u32,
}

impl Default for SimConfig {
    fn default() -> Self {
        use twilight_model::gateway::Intents;
        Self {
            bot_token: "sim-bot-token".to_owned(),
            bot_name: "Disconcierge".to_owned(),
            application_name: "Disconcierge".to_owned(),
            heartbeat_interval: Duration::from_millis(41_250),
            default_timeout: Duration::from_secs(5),
            ack_window: Duration::from_secs(3),
            token_lifetime: Duration::from_secs(15 * 60),
            webhook_timeout: Duration::from_secs(10),
            privileged_intents: Intents::GUILD_MEMBERS
                | Intents::GUILD_PRESENCES
                | Intents::MESSAGE_CONTENT,
            attachment_size_limit: 10 * 1024 * 1024,
            required_shards: 1,
            max_concurrency: 1,
        }
    }
}

/// Builds a [`DiscordSim`] with non-default settings.
#[derive(Clone, Debug, Default)]
pub struct SimBuilder {
    config: SimConfig,
}

impl SimBuilder {
    /// Sets the accepted bot token.
    pub fn bot_token(mut self, token: impl Into<String>) -> Self {
        self.config.bot_token = token.into();
        self
    }

    /// Sets the bot's user name.
    pub fn bot_name(mut self, name: impl Into<String>) -> Self {
        self.config.bot_name = name.into();
        self
    }

    /// Sets HELLO's heartbeat interval.
    pub fn heartbeat_interval(mut self, interval: Duration) -> Self {
        self.config.heartbeat_interval = interval;
        self
    }

    /// Sets how long `wait_*` helpers wait.
    pub fn default_timeout(mut self, timeout: Duration) -> Self {
        self.config.default_timeout = timeout;
        self
    }

    /// Sets the privileged intents the application may use.
    pub fn privileged_intents(mut self, intents: twilight_model::gateway::Intents) -> Self {
        self.config.privileged_intents = intents;
        self
    }

    /// Sets the per-file upload limit (see [`SimConfig::attachment_size_limit`]).
    pub fn attachment_size_limit(mut self, bytes: u64) -> Self {
        self.config.attachment_size_limit = bytes;
        self
    }

    /// Makes Discord require `shards` shards (see [`SimConfig::required_shards`]) and let `concurrency`
    /// of them identify at once.
    pub fn required_shards(mut self, shards: u32, concurrency: u32) -> Self {
        self.config.required_shards = shards.max(1);
        self.config.max_concurrency = concurrency.max(1);
        self
    }

    /// Replaces the whole configuration.
    pub fn config(mut self, config: SimConfig) -> Self {
        self.config = config;
        self
    }

    /// Binds `127.0.0.1:0` and starts serving REST and the gateway.
    ///
    /// # Panics
    ///
    /// If the loopback port cannot be bound.
    pub async fn start(self) -> DiscordSim {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("discord-sim: bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("local addr");
        let shared = Arc::new(Shared::new(self.config, format!("http://{addr}")));
        let app = rest::router(shared.clone());
        let mut shutdown = shared.shutdown.subscribe();
        let server = tokio::spawn(async move {
            // Without TCP_NODELAY a response written in pieces waits for the client's delayed ACK
            // (40 ms on Linux) on a reused connection; Discord's servers answer at once.
            let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
                let _ = tcp.set_nodelay(true);
            });
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async move {
                    let _ = shutdown.wait_for(|stop| *stop).await;
                })
                .await;
        });
        shared.track(server.abort_handle());
        DiscordSim { shared }
    }
}

/// A running simulated Discord. Dropping it stops the servers (and fails the test if the bot committed
/// protocol violations, unless the thread is already panicking).
pub struct DiscordSim {
    shared: Arc<Shared>,
}

impl DiscordSim {
    /// Starts a simulator with the default settings.
    pub async fn start() -> Self {
        SimBuilder::default().start().await
    }

    /// Starts building a simulator with custom settings.
    pub fn builder() -> SimBuilder {
        SimBuilder::default()
    }

    /// `http://127.0.0.1:PORT` (REST lives under `/api/v10`).
    pub fn api_base_url(&self) -> String {
        self.shared.base_url.clone()
    }

    /// `127.0.0.1:PORT`: what `twilight_http::client::ClientBuilder::proxy(addr, true)` takes.
    pub fn proxy_addr(&self) -> String {
        self.shared
            .base_url
            .trim_start_matches("http://")
            .to_owned()
    }

    /// `ws://127.0.0.1:PORT/gateway`: what `twilight_gateway::ConfigBuilder::proxy_url` takes. It is
    /// also READY's `resume_gateway_url`, so resumes come back here.
    pub fn gateway_url(&self) -> String {
        self.shared.gateway_url()
    }

    /// The bot token the simulator accepts.
    pub fn bot_token(&self) -> String {
        self.shared.config.bot_token.clone()
    }

    /// The bot's user id.
    pub fn bot_user_id(&self) -> Id<UserMarker> {
        self.shared.read(|w| w.bot.id)
    }

    /// The application id (the same number as the bot user id, as on Discord).
    pub fn application_id(&self) -> Id<ApplicationMarker> {
        self.shared.read(|w| w.application_id)
    }

    /// The application's Ed25519 public key, hex-encoded: the bot's
    /// `DC_DISCORD_WEBHOOK_SERVER_PUBLIC_KEY`.
    pub fn public_key_hex(&self) -> String {
        webhook::hex(self.shared.signing_key.verifying_key().as_bytes())
    }

    /// The simulated clock; advance it to test deadlines without sleeping.
    pub fn clock(&self) -> &SimClock {
        &self.shared.clock
    }

    /// The configuration in force.
    pub fn config(&self) -> &SimConfig {
        &self.shared.config
    }

    /// Starts describing a new guild; see [`GuildBuilder`].
    pub fn guild(&self, name: &str) -> GuildBuilder {
        GuildBuilder::new(self.shared.clone(), name)
    }

    /// A handle on an existing guild, by name.
    ///
    /// # Panics
    ///
    /// If no guild has that name.
    pub fn existing_guild(&self, name: &str) -> GuildHandle {
        GuildHandle::by_name(self.shared.clone(), name)
    }

    /// Acts as `user` (a member created through [`GuildBuilder`] or [`DiscordSim::create_user`]).
    pub fn user(&self, user: Id<UserMarker>) -> Actor {
        Actor::new(self.shared.clone(), user)
    }

    /// Creates a user that shares no guild with the bot (e.g. for DMs).
    pub fn create_user(&self, name: &str) -> Id<UserMarker> {
        driver::create_user(&self.shared, name)
    }

    /// The DM channel between the bot and `user`, created on first use.
    pub fn dm_channel(&self, user: Id<UserMarker>) -> Id<ChannelMarker> {
        driver::dm_channel(&self.shared, user)
    }

    /// Controls and inspects the gateway.
    pub fn gateway(&self) -> GatewayControl {
        GatewayControl::new(self.shared.clone())
    }

    /// Sends raw webhook deliveries (pings, forged or stale signatures) to a bot's interactions URL.
    pub fn webhook(&self, url: &str) -> WebhookClient {
        WebhookClient::new(self.shared.clone(), url)
    }

    /// Runs `f` on the current state.
    pub fn world<T>(&self, f: impl FnOnce(&World) -> T) -> T {
        self.shared.read(f)
    }

    /// Every REST request so far.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.shared.read(|w| w.requests.clone())
    }

    /// The REST requests to `method` on a route matching `template` (parameter names don't matter:
    /// `/channels/{id}/messages` matches).
    pub fn requests_to(&self, method: Method, template: &str) -> Vec<RecordedRequest> {
        self.shared.read(|w| {
            w.requests
                .iter()
                .filter(|r| r.is(method.as_str(), template))
                .cloned()
                .collect()
        })
    }

    /// Presence updates (gateway op 3) the bot sent.
    pub fn presences(
        &self,
    ) -> Vec<twilight_model::gateway::payload::outgoing::update_presence::UpdatePresencePayload>
    {
        self.shared.read(|w| w.presences.clone())
    }

    /// An interaction's record by id.
    pub fn interaction(&self, id: Id<InteractionMarker>) -> Option<InteractionRecord> {
        self.shared.read(|w| w.interactions.get(&id).cloned())
    }

    /// Live messages in a channel, oldest first (ephemeral ones included).
    pub fn messages_in(&self, channel: Id<ChannelMarker>) -> Vec<Message> {
        self.shared
            .read(|w| w.messages_in(channel).into_iter().cloned().collect())
    }

    /// The bytes of an attachment the simulator stores: one the bot uploaded (a message's
    /// `attachments`) or one a person passed to an ATTACHMENT option (`resolved.attachments`). The
    /// same bytes are served without authentication at `attachment.url`, as Discord's CDN serves them.
    ///
    /// # Panics
    ///
    /// If the simulator stores no such attachment.
    pub fn attachment_bytes(&self, attachment: &Attachment) -> Vec<u8> {
        self.shared
            .read(|w| w.files.get(&attachment.id).map(|f| f.bytes.to_vec()))
            .unwrap_or_else(|| {
                panic!(
                    "discord-sim stores no attachment {} ({:?})",
                    attachment.id, attachment.filename
                )
            })
    }

    /// Protocol violations so far.
    pub fn violations(&self) -> Vec<Violation> {
        self.shared.read(|w| w.violations.clone())
    }

    /// Returns and clears the violations; for tests that provoke them on purpose.
    pub fn take_violations(&self) -> Vec<Violation> {
        self.shared.mutate(|w| std::mem::take(&mut w.violations))
    }

    /// Fails the test if the bot did anything Discord would reject.
    ///
    /// # Panics
    ///
    /// If any violation was recorded.
    pub fn assert_no_violations(&self) {
        let v = self.violations();
        assert!(
            v.is_empty(),
            "discord-sim: {} protocol violation(s):\n{}",
            v.len(),
            v.iter()
                .map(|v| format!("  - {v}"))
                .collect::<Vec<_>>()
                .join("\n")
        );
    }

    /// Makes the next `times` requests to `method template` fail with `failure` (checked before any
    /// other processing, so the failed requests change nothing).
    pub fn fail_route(&self, method: Method, template: &str, failure: Failure, times: u32) {
        rest::failures::script(&self.shared, method, template, failure, times);
    }

    /// Waits until `f` returns `Some`, re-checking on every change; panics with a report of what was
    /// observed after `timeout`.
    pub async fn wait_for<T>(&self, timeout: Duration, f: impl FnMut(&World) -> Option<T>) -> T {
        self.shared.wait("a condition", timeout, f).await
    }

    /// Like [`Self::wait_for`] but returns the report instead of panicking.
    pub async fn try_wait_for<T>(
        &self,
        timeout: Duration,
        f: impl FnMut(&World) -> Option<T>,
    ) -> Result<T, String> {
        self.shared.try_wait("a condition", timeout, f).await
    }

    /// Waits (default timeout) for a message in `channel` matching `pred` and returns it.
    pub async fn wait_message_in(
        &self,
        channel: Id<ChannelMarker>,
        mut pred: impl FnMut(&Message) -> bool,
    ) -> Message {
        self.shared
            .wait(
                &format!("a matching message in channel {channel}"),
                self.shared.config.default_timeout,
                |w| {
                    w.messages_in(channel)
                        .into_iter()
                        .find(|m| pred(m))
                        .cloned()
                },
            )
            .await
    }

    /// Waits (default timeout) until the bot has made `count` requests to `method template`.
    pub async fn wait_requests(
        &self,
        method: Method,
        template: &str,
        count: usize,
    ) -> Vec<RecordedRequest> {
        let what = format!("{count} request(s) to {method} {template}");
        self.shared
            .wait(&what, self.shared.config.default_timeout, |w| {
                let hits: Vec<_> = w
                    .requests
                    .iter()
                    .filter(|r| r.is(method.as_str(), template) && r.status.is_some())
                    .cloned()
                    .collect();
                (hits.len() >= count).then_some(hits)
            })
            .await
    }

    /// Stops the servers and closes gateway connections.
    pub async fn shutdown(&self) {
        self.shared.stop();
        tokio::task::yield_now().await;
    }
}

impl Drop for DiscordSim {
    fn drop(&mut self) {
        self.shared.stop();
        if !std::thread::panicking() {
            self.assert_no_violations();
        }
    }
}
