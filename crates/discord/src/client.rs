//! The REST client: twilight-http pointed at Discord, or at whatever `DC_DISCORD_API_BASE_URL` names (an
//! HTTP proxy in production, the simulator in tests).

use crate::DiscordError;
use crate::close_codes::GatewayProblem;
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
    /// The gateway intents bit set; `None` (`DC_DISCORD_GATEWAY_INTENTS=auto`): [`DEFAULT_INTENTS`], plus
    /// Message Content when the application's flags say the developer portal allows it.
    pub intents: Option<u64>,
    /// How many gateway shards the bot runs, all instances together; `None`: as many as Discord
    /// recommends (one to start with when a single process runs them, more if Discord asks).
    pub shards: Option<u32>,
}

/// DisConcierge's default intents (3243773): guilds, their messages and the rest the bot reads, no
/// privileged one.
pub const DEFAULT_INTENTS: u64 = 3_243_773;

/// The privileged intent that gives messages their text (tickets and mentions need it).
pub const MESSAGE_CONTENT: u64 = 1 << 15;

/// The intents the gateway asks for: the configured ones, or (automatic) the default ones plus Message
/// Content when the application may use it.
pub fn resolve_intents(configured: Option<u64>, message_content_allowed: bool) -> u64 {
    match configured {
        Some(bits) => bits,
        None if message_content_allowed => DEFAULT_INTENTS | MESSAGE_CONTENT,
        None => DEFAULT_INTENTS,
    }
}

/// Whether the application's flags (`GET /applications/@me`) allow the Message Content intent: switched
/// on in the developer portal (`GATEWAY_MESSAGE_CONTENT_LIMITED`, bots in fewer than 100 servers) or
/// granted after review (`GATEWAY_MESSAGE_CONTENT`).
fn message_content_allowed(flags: Option<twilight_model::oauth::ApplicationFlags>) -> bool {
    use twilight_model::oauth::ApplicationFlags as F;
    flags.is_some_and(|f| {
        f.intersects(F::GATEWAY_MESSAGE_CONTENT | F::GATEWAY_MESSAGE_CONTENT_LIMITED)
    })
}

/// [`Discord::message_content_advice`] for an application configured with `configured` intents (`None`:
/// auto) that asked for `asked`, runs with `running` (less what Discord refused), and whose portal allows
/// Message Content or not.
fn message_content_advice(
    configured: Option<u64>,
    asked: u64,
    running: u64,
    allowed: bool,
) -> Option<String> {
    const SWITCH: &str = "switch on Message Content Intent in Discord's developer portal (your \
                          application → Bot → Privileged Gateway Intents)";
    const RESTART: &str = "restart disconcierge";
    if running & MESSAGE_CONTENT != 0 {
        return None;
    }
    Some(match (asked & MESSAGE_CONTENT != 0, allowed, configured) {
        (true, _, _) => format!(
            "Discord refused the Message Content intent (close code 4014): {SWITCH} and {RESTART}"
        ),
        (false, false, None) => format!(
            "the application may not use the Message Content intent: {SWITCH} and {RESTART} (it is \
             then asked for by itself)"
        ),
        (false, false, Some(bits)) => format!(
            "the application may not use the Message Content intent, and DC_DISCORD_GATEWAY_INTENTS={bits} \
             leaves it out: {SWITCH}, add 32768 to DC_DISCORD_GATEWAY_INTENTS (or set it to auto) and \
             {RESTART}"
        ),
        (false, true, _) => format!(
            "DC_DISCORD_GATEWAY_INTENTS={asked} leaves out Message Content (32768), which the application \
             may use: set DC_DISCORD_GATEWAY_INTENTS=auto (or add 32768) and {RESTART}"
        ),
    })
}

/// Where the gateway connection stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GatewayState {
    /// No gateway in this process (interactions arrive by webhook only), or it stopped on shutdown.
    NotRunning,
    /// Connecting or reconnecting (some shard is not ready).
    Connecting,
    /// Every shard ready since then.
    Connected {
        since: chrono::DateTime<chrono::Utc>,
    },
    /// Running, holding no shard: the other instances sharing the database hold every one; this one
    /// takes shards over when one of them stops.
    Standby,
    /// Discord closed the gateway for good and nothing the bot can change by itself would help (a refused
    /// token, say): stopped until disconcierge is restarted. Webhook interactions and the admin interface
    /// keep working.
    Failed(GatewayProblem),
}

/// Kept up to date by [`crate::gateway::run`].
#[derive(Debug, Default)]
pub(crate) struct GatewayStatus {
    pub(crate) running: std::sync::atomic::AtomicBool,
    pub(crate) shards: std::sync::Mutex<Shards>,
    /// The last fatal close, explained; kept while the gateway works around it.
    pub(crate) problem: std::sync::Mutex<Option<GatewayProblem>>,
    /// The intents asked for, once the gateway has started (0 before).
    pub(crate) intents: std::sync::atomic::AtomicU64,
}

/// The shards this process runs and since when each is ready.
#[derive(Debug, Default)]
pub(crate) struct Shards {
    /// How many this process runs.
    pub(crate) total: u32,
    pub(crate) ready: std::collections::BTreeMap<u32, chrono::DateTime<chrono::Utc>>,
    /// Which ones (`0..total` unless shards are spread over instances).
    pub(crate) numbers: Vec<u32>,
    /// The bot's shard count, all instances together.
    pub(crate) of: u32,
    /// Shards are spread over instances ([`crate::shards`]).
    pub(crate) leased: bool,
}

impl GatewayStatus {
    /// Shard `shard` is ready (`true`) or not.
    pub(crate) fn connected(&self, shard: u32, yes: bool) {
        let mut shards = self.shards.lock().expect("gateway status");
        if yes {
            shards.ready.insert(shard, chrono::Utc::now());
        } else {
            shards.ready.remove(&shard);
        }
    }

    /// A new set of `total` shards, none ready yet.
    pub(crate) fn start_shards(&self, total: u32) {
        *self.shards.lock().expect("gateway status") = Shards {
            total,
            ready: Default::default(),
            numbers: (0..total).collect(),
            of: total,
            leased: false,
        };
    }

    /// This instance holds shards `numbers` of `of` (spread over instances): readiness is kept for
    /// those it still holds.
    pub(crate) fn hold_shards(&self, numbers: &[u32], of: u32) {
        let mut shards = self.shards.lock().expect("gateway status");
        shards.ready.retain(|n, _| numbers.contains(n));
        shards.total = numbers.len() as u32;
        shards.numbers = numbers.to_vec();
        shards.of = of;
        shards.leased = true;
    }
}

/// A connected REST client and the application it acts for.
#[derive(Clone)]
pub struct Discord {
    pub(crate) http: Arc<Client>,
    pub(crate) application_id: Id<ApplicationMarker>,
    pub(crate) guild_id: Option<Id<GuildMarker>>,
    pub(crate) config: DiscordConfig,
    /// The intents the gateway asks for first ([`resolve_intents`]).
    pub(crate) intents: u64,
    /// Whether the developer portal allows the Message Content intent (the application's flags).
    pub(crate) message_content_allowed: bool,
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
        let allowed = message_content_allowed(application.flags);
        Ok(Discord {
            intents: resolve_intents(config.intents, allowed),
            message_content_allowed: allowed,
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
            return match self.gateway_problem() {
                Some(problem) if problem.stopped => GatewayState::Failed(problem),
                _ => GatewayState::NotRunning,
            };
        }
        let shards = self.gateway.shards.lock().expect("gateway status");
        if shards.leased && shards.total == 0 {
            return GatewayState::Standby;
        }
        match shards.ready.values().max() {
            Some(since) if shards.ready.len() as u32 == shards.total => {
                GatewayState::Connected { since: *since }
            }
            _ => GatewayState::Connecting,
        }
    }

    /// The last time Discord closed the gateway for good, explained for the admin: the reason it
    /// stopped ([`GatewayState::Failed`]), or what it is working around (connected without the
    /// privileged intents, or resharded).
    pub fn gateway_problem(&self) -> Option<GatewayProblem> {
        self.gateway.problem.lock().expect("gateway status").clone()
    }

    /// The intents the gateway asks for: `DC_DISCORD_GATEWAY_INTENTS` (or the automatic choice), less
    /// what Discord refused.
    pub fn gateway_intents(&self) -> u64 {
        match self
            .gateway
            .intents
            .load(std::sync::atomic::Ordering::Relaxed)
        {
            0 => self.intents,
            asked => asked,
        }
    }

    /// `None` when the gateway receives messages with their text; otherwise what the admin must do so it
    /// does (messages in tickets and mentions arrive without text until then): which switch to turn on in
    /// the developer portal, or which setting leaves Message Content out.
    pub fn message_content_advice(&self) -> Option<String> {
        message_content_advice(
            self.config.intents,
            self.intents,
            self.gateway_intents(),
            self.message_content_allowed,
        )
    }

    /// How many shards the gateway runs in this process (0 when it does not run).
    pub fn gateway_shards(&self) -> u32 {
        self.gateway.shards.lock().expect("gateway status").total
    }

    /// Which shards this process runs, and the bot's shard count (all instances together).
    pub fn gateway_shard_numbers(&self) -> (Vec<u32>, u32) {
        let shards = self.gateway.shards.lock().expect("gateway status");
        (shards.numbers.clone(), shards.of)
    }

    /// Which shards this process runs, to follow "connected since …": nothing for a single shard, the
    /// count when it runs all of them, the numbers when they are spread over instances.
    pub fn gateway_shards_text(&self) -> String {
        let (numbers, of) = self.gateway_shard_numbers();
        if numbers.len() as u32 == of {
            return match of {
                0 | 1 => String::new(),
                n => format!(" ({n} shards)"),
            };
        }
        let list: Vec<String> = numbers.iter().map(u32::to_string).collect();
        let word = if numbers.len() == 1 {
            "shard"
        } else {
            "shards"
        };
        format!(
            " ({word} {} of {of}; the other instances hold the rest)",
            list.join(", ")
        )
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
    fn message_content_advice_names_the_switch_or_the_setting_at_fault() {
        const WITH: u64 = DEFAULT_INTENTS | MESSAGE_CONTENT;
        // Received: nothing to say.
        assert_eq!(message_content_advice(None, WITH, WITH, true), None);
        // Asked for and refused (4014).
        let refused = message_content_advice(Some(WITH), WITH, DEFAULT_INTENTS, false).unwrap();
        assert!(
            refused.contains("close code 4014")
                && refused.contains("Bot → Privileged Gateway Intents")
        );
        // Auto, and the portal does not allow it: only the switch, asked for by itself afterwards.
        let auto = message_content_advice(None, DEFAULT_INTENTS, DEFAULT_INTENTS, false).unwrap();
        assert!(auto.contains("it is then asked for by itself"), "{auto}");
        assert!(!auto.contains("DC_DISCORD_GATEWAY_INTENTS"), "{auto}");
        // A bit set without it, and the portal does not allow it: both the switch and the setting.
        let both = message_content_advice(
            Some(DEFAULT_INTENTS),
            DEFAULT_INTENTS,
            DEFAULT_INTENTS,
            false,
        )
        .unwrap();
        assert!(
            both.contains("Privileged Gateway Intents")
                && both.contains("add 32768 to DC_DISCORD_GATEWAY_INTENTS")
                && !both.contains("by itself"),
            "{both}"
        );
        // A bit set without it, the portal allows it: only the setting.
        let setting = message_content_advice(
            Some(DEFAULT_INTENTS),
            DEFAULT_INTENTS,
            DEFAULT_INTENTS,
            true,
        )
        .unwrap();
        assert!(
            setting.starts_with("DC_DISCORD_GATEWAY_INTENTS=3243773 leaves out Message Content")
                && !setting.contains("Privileged"),
            "{setting}"
        );
    }

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
