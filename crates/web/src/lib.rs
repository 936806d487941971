//! disconcierge's admin interface: server-rendered pages under `/disconcierge` and the JSON API under
//! `/api`, served by the application's API listener.
//!
//! This crate is the only one that renders HTML. It reads and writes data through the store's one
//! repository trait and reaches the running bot (its runtime configuration, later its actions) through the
//! [`Control`] trait, which the application implements; so it knows no Discord and no SQL, and its tests
//! run against a real database with a small in-memory `Control`.
//!
//! # Security model
//!
//! * **Sessions** are server-side: the cookie holds a random token, the database only its SHA-256
//!   (`admin_sessions`), so logging out, changing a password or deleting an admin revokes at once. Cookies
//!   are `HttpOnly`, `SameSite=Strict` (`Lax` with `DC_DEVELOPMENT`), and `Secure` when the listener
//!   serves TLS.
//! * **CSRF**: every state-changing form carries a token derived from the session token (a hash only the
//!   session's holder can compute); API calls authenticated by the cookie must send it as `X-CSRF-Token`.
//! * **Escaping**: templates are askama's, which escape every value for HTML; nothing users wrote is ever
//!   marked safe. Pages carry a Content-Security-Policy with no inline scripts and `frame-ancestors
//!   'none'`.
//! * **Logins** are throttled per client address and per account, in the database so that every
//!   instance counts every failure ([`auth::LoginThrottle`]); the messages
//!   say when to try again.
//! * **Secrets**: password hashes, session tokens and interaction tokens are never rendered or returned.
//!
//! The JSON API is described by an OpenAPI 3.1 document at `GET /api/openapi.json`, made from the same
//! annotations that register its routes (the `openapi` module).
//!
//! # Layout
//!
//! The modules are layered and never import each other in a circle. At the bottom, the pieces every
//! resource shares: `error` (the API's errors), `auth` (sessions, CSRF, the extractors), `paging`
//! (lists), `render` (pages and their errors), `views` (what records show) and `openapi`. Above them,
//! one module per resource, holding its page handlers, its API handlers and what both do: `dashboard`,
//! `session`, `commands`, `config`, `actions`, `activity`, `instances`, `accounts`, `tokens`, `users`, `feedback`,
//! `interactions`, `messages`, `playground` and `desk`. On top, `pages` and `api`, the route tables.

// Shared pieces, below the resources: admin accounts' passwords, sessions, SVG charts, API errors, the
// OpenAPI document, lists, page rendering, what records show.
pub mod admin;
pub mod auth;
mod charts;
mod error;
mod openapi;
mod paging;
mod render;
mod views;

// The resources, each with its pages, its API and what both do (`config_form` is the configuration
// page's form); `pages` and `api` are the route tables over them.
mod accounts;
mod actions;
mod activity;
mod api;
mod commands;
mod config;
mod config_form;
mod dashboard;
mod desk;
mod feedback;
mod instances;
mod interactions;
mod messages;
mod pages;
pub mod playground;
mod session;
mod tokens;
mod users;

use async_trait::async_trait;
use axum::Router;
use axum::http::{HeaderName, HeaderValue, header};
use axum::response::Response;
use disconcierge_core::model::StoredRuntimeConfig;
use disconcierge_core::runtime_config::{RuntimeConfig, ValidationErrors};
use disconcierge_store::Store;
use std::sync::Arc;
use std::time::Duration;

/// What the admin interface may ask of the running application.
#[async_trait]
pub trait Control: Send + Sync + 'static {
    /// The runtime configuration in force.
    fn runtime_config(&self) -> Arc<StoredRuntimeConfig>;

    /// Validates, saves (only if nobody saved since `expected_version`) and applies a new configuration.
    async fn update_runtime_config(
        &self,
        config: RuntimeConfig,
        expected_version: i64,
        updated_by: &str,
    ) -> Result<Arc<StoredRuntimeConfig>, ConfigUpdateError>;

    /// Reads the configuration again from the database (changed there by another instance or by hand)
    /// and applies it if it is newer; whether it was.
    async fn reload_runtime_config(&self) -> Result<bool, String>;

    /// Stops the application gracefully (as on SIGTERM): requests in flight and answers being written
    /// finish within the shutdown timeout; what is queued waits in the database for the next start.
    fn shutdown(&self, requested_by: &str);

    /// What the bot depends on, as last seen: never waits for Discord or the LLM (the dashboard must load
    /// fast whatever their state). A process without them (tests, or no Discord token) keeps the default:
    /// everything "not running".
    fn service_status(&self) -> ServiceStatus {
        ServiceStatus::default()
    }

    /// This process's id in the instances list (`DC_INSTANCE_ID`); empty for a control that is no
    /// registered instance (tests).
    fn instance_id(&self) -> String {
        String::new()
    }

    /// Registers the Discord commands again, even if Discord's copy looks the same; what was done.
    async fn register_commands(&self, requested_by: &str) -> Result<String, String> {
        let _ = requested_by;
        Err("Discord is not connected in this process (is DC_DISCORD_TOKEN set?), so there is nothing \
             to register commands with."
            .into())
    }

    /// Answers `ask` as the bot would (retrieval in the guild's support desk, or as `/chat` without a
    /// guild) and streams the answer, without posting anything to Discord.
    async fn playground(
        &self,
        ask: playground::PlaygroundAsk,
    ) -> Result<playground::PlaygroundRun, String> {
        let _ = ask;
        Err("no LLM backend is available in this process".into())
    }
}

/// The dashboard's view of what the bot depends on.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct ServiceStatus {
    pub gateway: Health,
    pub webhook: Health,
    pub llm: Health,
}

impl Default for ServiceStatus {
    fn default() -> Self {
        let off = || Health::new(HealthLevel::Off, "not running in this process");
        ServiceStatus {
            gateway: off(),
            webhook: off(),
            llm: off(),
        }
    }
}

/// One dependency's state, and a sentence about it.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct Health {
    pub level: HealthLevel,
    pub text: String,
}

impl Health {
    pub fn new(level: HealthLevel, text: impl Into<String>) -> Self {
        Health {
            level,
            text: text.into(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum HealthLevel {
    /// Working.
    Ok,
    /// Working, short of something the admin should fix (shown with what to do).
    Degraded,
    /// Starting, reconnecting, or not checked yet.
    Pending,
    /// Not working.
    Down,
    /// Not configured or disabled.
    Off,
}

impl HealthLevel {
    /// The CSS class of its badge.
    pub fn badge(self) -> &'static str {
        match self {
            HealthLevel::Ok => "completed",
            HealthLevel::Degraded => "degraded",
            HealthLevel::Pending => "queued",
            HealthLevel::Down => "failed",
            HealthLevel::Off => "ignored",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            HealthLevel::Ok => "ok",
            HealthLevel::Degraded => "degraded",
            HealthLevel::Pending => "pending",
            HealthLevel::Down => "down",
            HealthLevel::Off => "off",
        }
    }
}

/// Why a configuration change was not applied.
#[derive(Debug, thiserror::Error)]
pub enum ConfigUpdateError {
    #[error(transparent)]
    Invalid(#[from] ValidationErrors),
    #[error(
        "the configuration was changed by someone else in the meantime (now at version {current}); reload it, \
         re-apply your change and save again"
    )]
    Conflict { current: i64 },
    #[error("{0}")]
    Failed(String),
}

/// Settings of the admin interface, from the static configuration.
#[derive(Debug, Clone)]
pub struct WebSettings {
    /// The listener serves TLS: cookies get `Secure`.
    pub tls: bool,
    /// `DC_DEVELOPMENT`: cookies are `SameSite=Lax` instead of `Strict` (for local tooling).
    pub development: bool,
    /// How long a login lasts.
    pub session_ttl: Duration,
    /// `DC_API_TRUSTED_PROXIES`: the reverse proxies (a load balancer) whose `X-Forwarded-For` names
    /// the client, for the login throttle's per-address count. Empty: the connection's address is the
    /// client's.
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// `DC_API_SECRET`: the key of the CSRF tokens (see `auth`); `None` derives them from the session alone.
    pub csrf_key: Option<disconcierge_core::secret::SecretString>,
}

impl Default for WebSettings {
    fn default() -> Self {
        WebSettings {
            tls: false,
            development: false,
            session_ttl: Duration::from_secs(12 * 3600),
            trusted_proxies: Vec::new(),
            csrf_key: None,
        }
    }
}

/// Everything the handlers share.
#[derive(Clone)]
pub struct WebState {
    inner: Arc<Inner>,
}

struct Inner {
    store: Arc<dyn Store>,
    control: Arc<dyn Control>,
    settings: WebSettings,
    /// Whether this process is rolling up statistics in the background (see `activity`).
    rollups_running: std::sync::atomic::AtomicBool,
}

impl WebState {
    pub fn new(store: Arc<dyn Store>, control: Arc<dyn Control>, settings: WebSettings) -> Self {
        WebState {
            inner: Arc::new(Inner {
                store,
                control,
                settings,
                rollups_running: std::sync::atomic::AtomicBool::new(false),
            }),
        }
    }

    fn store(&self) -> &dyn Store {
        self.inner.store.as_ref()
    }

    fn control(&self) -> &dyn Control {
        self.inner.control.as_ref()
    }

    fn settings(&self) -> &WebSettings {
        &self.inner.settings
    }

    fn throttle(&self) -> auth::LoginThrottle<'_> {
        auth::LoginThrottle {
            store: self.store(),
        }
    }

    fn rollups_running(&self) -> &std::sync::atomic::AtomicBool {
        &self.inner.rollups_running
    }
}

/// The admin pages (`/disconcierge…`) and the JSON API (`/api…`), with security headers on every answer.
///
/// The API's routes are registered with their OpenAPI operations (see the `openapi` module), and the document
/// they make is served at `GET /api/openapi.json`.
pub fn router(state: WebState) -> Router {
    let (api, document) = api_routes().split_for_parts();
    let document = openapi::Document::new(&openapi::finish(document));
    pages::routes()
        .merge(api.layer(axum::Extension(document)))
        .layer(axum::middleware::map_response(security_headers))
        .with_state(state)
}

/// The OpenAPI 3.1 document of the JSON API, as `GET /api/openapi.json` serves it.
pub fn openapi() -> utoipa::openapi::OpenApi {
    openapi::finish(api_routes().into_openapi())
}

/// The JSON API: every route with its OpenAPI operation.
fn api_routes() -> utoipa_axum::router::OpenApiRouter<WebState> {
    utoipa_axum::router::OpenApiRouter::with_openapi(openapi::base()).merge(api::routes())
}

/// The Content-Security-Policy of every page: only first-party scripts, styles and images, no framing.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

async fn security_headers(mut response: Response) -> Response {
    let headers = response.headers_mut();
    let set = |headers: &mut axum::http::HeaderMap, name: HeaderName, value: &'static str| {
        headers
            .entry(name)
            .or_insert(HeaderValue::from_static(value));
    };
    set(
        headers,
        header::CONTENT_SECURITY_POLICY,
        CONTENT_SECURITY_POLICY,
    );
    set(headers, header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    set(headers, header::X_FRAME_OPTIONS, "DENY");
    set(headers, header::REFERRER_POLICY, "same-origin");
    // Pages show private data: never keep them in a shared cache (the stylesheet sets its own).
    set(headers, header::CACHE_CONTROL, "no-store");
    response
}
