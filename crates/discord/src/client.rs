//! The REST client: twilight-http pointed at Discord, or at whatever `DC_DISCORD_API_BASE_URL` names (an
//! HTTP proxy in production, the simulator in tests).

use crate::DiscordError;
use secrecy::{ExposeSecret, SecretString};
use std::sync::Arc;
use twilight_http::Client;
use twilight_model::channel::message::AllowedMentions;
use twilight_model::id::Id;
use twilight_model::id::marker::{ApplicationMarker, GuildMarker};

/// How to reach Discord.
#[derive(Clone)]
pub struct DiscordConfig {
    pub token: SecretString,
    /// Read from Discord when `None`.
    pub application_id: Option<u64>,
    /// Register commands in this guild only.
    pub guild_id: Option<u64>,
    /// `http(s)://host[:port]` of a proxy or fake in front of Discord's REST API.
    pub api_base_url: Option<String>,
    /// `ws(s)://...` of a gateway proxy or fake.
    pub gateway_url: Option<String>,
    pub intents: u64,
}

/// Where the gateway connection stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GatewayState {
    /// No gateway in this process (interactions arrive by webhook only), or it stopped.
    NotRunning,
    /// Connecting or reconnecting.
    Connecting,
    /// Ready since then.
    Connected {
        since: chrono::DateTime<chrono::Utc>,
    },
}

/// Kept up to date by [`crate::gateway::run`].
#[derive(Debug, Default)]
pub(crate) struct GatewayStatus {
    pub(crate) running: std::sync::atomic::AtomicBool,
    pub(crate) connected_since: std::sync::Mutex<Option<chrono::DateTime<chrono::Utc>>>,
}

impl GatewayStatus {
    pub(crate) fn connected(&self, yes: bool) {
        *self.connected_since.lock().expect("gateway status") = yes.then(chrono::Utc::now);
    }
}

/// A connected REST client and the application it acts for.
#[derive(Clone)]
pub struct Discord {
    pub(crate) http: Arc<Client>,
    pub(crate) application_id: Id<ApplicationMarker>,
    pub(crate) guild_id: Option<Id<GuildMarker>>,
    pub(crate) config: DiscordConfig,
    /// Whether the gateway is connected (see [`Discord::gateway_state`]).
    pub(crate) gateway: Arc<GatewayStatus>,
    /// The bot's user, when Discord said (it does for every bot application).
    pub(crate) bot_user_id: Option<u64>,
    /// Plain HTTPS for files attached to commands (they live on Discord's CDN, outside the REST API).
    pub(crate) downloads: reqwest::Client,
}

/// twilight's proxy setting for a base URL: (`host[:port][/prefix]`, plain HTTP?). A trailing `/api` or
/// `/api/v10` is dropped, since twilight adds it.
pub fn proxy_of(base_url: &str) -> Option<(String, bool)> {
    let (rest, use_http) = if let Some(r) = base_url.strip_prefix("http://") {
        (r, true)
    } else {
        (base_url.strip_prefix("https://")?, false)
    };
    let rest = rest.trim_end_matches('/');
    let rest = rest
        .strip_suffix("/api/v10")
        .or_else(|| rest.strip_suffix("/api"))
        .unwrap_or(rest);
    (!rest.is_empty()).then(|| (rest.to_string(), use_http))
}

impl Discord {
    /// Builds the client and checks the token by reading the application (which also gives its id).
    pub async fn connect(config: DiscordConfig) -> Result<Discord, DiscordError> {
        let mut builder = Client::builder()
            .token(config.token.expose_secret().to_string())
            // Nothing the bot sends may ping anyone: no @everyone, no roles, no users.
            .default_allowed_mentions(AllowedMentions::default());
        if let Some(base) = &config.api_base_url {
            let (host, use_http) = proxy_of(base).ok_or_else(|| {
                DiscordError::Config(format!(
                    "DC_DISCORD_API_BASE_URL={base:?} is not an http:// or https:// URL"
                ))
            })?;
            builder = builder.proxy(host, use_http);
        }
        let http = Arc::new(builder.build());
        let application = http
            .current_user_application()
            .await
            .map_err(|e| {
                DiscordError::from_http("read the application (check DC_DISCORD_TOKEN)", e)
            })?
            .model()
            .await
            .map_err(|e| DiscordError::Decode(e.to_string()))?;
        if let Some(configured) = config.application_id.filter(|c| *c != application.id.get()) {
            return Err(DiscordError::Config(format!(
                "DC_DISCORD_APPLICATION_ID={configured} but the token belongs to application {}; fix one of them",
                application.id
            )));
        }
        Ok(Discord {
            http,
            application_id: application.id,
            guild_id: config.guild_id.and_then(Id::new_checked),
            bot_user_id: application.bot.as_ref().map(|b| b.id.get()),
            gateway: Arc::default(),
            config,
            downloads: reqwest::Client::builder()
                .timeout(std::time::Duration::from_secs(30))
                .build()
                .map_err(|e| DiscordError::Config(format!("HTTP client: {e}")))?,
        })
    }

    pub fn application_id(&self) -> u64 {
        self.application_id.get()
    }

    /// Where the gateway connection stands.
    pub fn gateway_state(&self) -> GatewayState {
        if !self
            .gateway
            .running
            .load(std::sync::atomic::Ordering::Relaxed)
        {
            return GatewayState::NotRunning;
        }
        match *self.gateway.connected_since.lock().expect("gateway status") {
            Some(since) => GatewayState::Connected { since },
            None => GatewayState::Connecting,
        }
    }

    /// The bot's own user id.
    pub fn bot_user_id(&self) -> Option<u64> {
        self.bot_user_id
    }

    pub fn config(&self) -> &DiscordConfig {
        &self.config
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_urls_become_twilight_proxies() {
        assert_eq!(
            proxy_of("http://127.0.0.1:8080"),
            Some(("127.0.0.1:8080".into(), true))
        );
        assert_eq!(
            proxy_of("https://proxy.internal/"),
            Some(("proxy.internal".into(), false))
        );
        assert_eq!(
            proxy_of("https://discord.com/api/v10"),
            Some(("discord.com".into(), false))
        );
        assert_eq!(
            proxy_of("http://h:1/prefix/api"),
            Some(("h:1/prefix".into(), true))
        );
        assert_eq!(proxy_of("ftp://x"), None);
        assert_eq!(proxy_of("http://"), None);
    }
}
