//! Static settings: the `DC_*` variables, read once at startup from the environment and a dotenv file.
//!
//! Precedence: a variable set in the process environment wins over the same variable in the dotenv file
//! (as DisConcierge's `godotenv` did), and the file never modifies the process environment. Every invalid
//! value is reported at once, each message naming the variable, the bad value (never for secrets) and what
//! is accepted. What can change at runtime lives in [`disconcierge_core::RuntimeConfig`] instead.

pub mod dotenv;
pub mod ticket_bot;
pub mod vars;

use disconcierge_core::log::{LogComponent, LogLevel};
use disconcierge_core::secret::{SecretString, redact_url};
use disconcierge_core::{format_duration, parse_duration};
use disconcierge_store::{ConnectOptions, DatabaseKind};
use std::collections::BTreeMap;
use std::fmt;
use std::net::{SocketAddr, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::time::Duration;
use vars::{VARS, VarSpec};

/// Where a value came from, for messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    Environment,
    File(PathBuf),
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::Environment => f.write_str("the environment"),
            Origin::File(p) => write!(f, "{}", p.display()),
        }
    }
}

/// The raw `DC_*` values and where each came from.
#[derive(Debug, Clone, Default)]
pub struct Sources {
    values: BTreeMap<String, (String, Origin)>,
    /// The dotenv file that was read, if any.
    pub file: Option<PathBuf>,
    /// The Python ticket bot's names found, read where their `DC_*` equivalents are not set.
    ticket_bot: ticket_bot::Translated,
}

impl Sources {
    /// Reads the process environment and a dotenv file: `config_file` if given (it must exist), else `.env`
    /// in the current directory if there is one.
    pub fn from_process(config_file: Option<&Path>) -> Result<Sources, SettingsError> {
        let env = std::env::vars().filter(|(k, _)| k.starts_with("DC_") || ticket_bot::is_name(k));
        let file = match config_file {
            Some(p) => Some(p.to_path_buf()),
            None => Some(PathBuf::from(".env")).filter(|p| p.is_file()),
        };
        Sources::from_parts(env, file.as_deref())
    }

    /// Builds sources from explicit environment pairs and an optional dotenv file (used by tests too).
    pub fn from_parts(
        env: impl IntoIterator<Item = (String, String)>,
        file: Option<&Path>,
    ) -> Result<Sources, SettingsError> {
        let mut values = BTreeMap::new();
        let mut ticket_bot = BTreeMap::new();
        let mut keep = |k: String, v: String, origin: Origin| {
            if k.starts_with("DC_") {
                values.insert(k, (v, origin));
            } else if ticket_bot::is_name(&k) {
                ticket_bot.insert(k, (v, origin));
            }
        };
        if let Some(path) = file {
            let pairs = dotenv::read_file(path).map_err(|e| SettingsError::File {
                path: path.to_path_buf(),
                reason: e.to_string(),
            })?;
            for (k, v) in pairs {
                keep(k, v, Origin::File(path.to_path_buf()));
            }
        }
        for (k, v) in env {
            keep(k, v, Origin::Environment);
        }
        let ticket_bot = ticket_bot::translate(&mut values, ticket_bot);
        Ok(Sources {
            values,
            file: file.map(Path::to_path_buf),
            ticket_bot,
        })
    }

    /// The value of a variable (or one of its aliases) and its origin, if set.
    fn get(&self, spec: &VarSpec) -> Option<(&str, &Origin, &'static str)> {
        std::iter::once(spec.name)
            .chain(spec.aliases.iter().copied())
            .find_map(|n| self.values.get(n).map(|(v, o)| (v.as_str(), o, n)))
    }
}

/// One invalid variable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidVar {
    pub var: &'static str,
    /// `None` for secrets: their values are never shown.
    pub value: Option<String>,
    pub origin: Origin,
    pub expected: String,
}

impl fmt::Display for InvalidVar {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.value {
            Some(v) => write!(
                f,
                "{}={:?} (from {}): {}",
                self.var, v, self.origin, self.expected
            ),
            None => write!(
                f,
                "{} (from {}, value hidden): {}",
                self.var, self.origin, self.expected
            ),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error("could not read the configuration file {}: {reason}", path.display())]
    File { path: PathBuf, reason: String },
    #[error(
        "invalid configuration ({} problem{}):\n{}\nFix the value(s) above in the environment or the .env file; \
         `disconcierge config check` shows the effective configuration.",
        .0.len(), if .0.len() == 1 { "" } else { "s" },
        .0.iter().map(|e| format!("  - {e}")).collect::<Vec<_>>().join("\n")
    )]
    Invalid(Vec<InvalidVar>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LlmProvider {
    OpenAi,
    OpenAiChat,
    Ollama,
}

impl LlmProvider {
    pub fn as_str(self) -> &'static str {
        match self {
            LlmProvider::OpenAi => "openai",
            LlmProvider::OpenAiChat => "openai-chat",
            LlmProvider::Ollama => "ollama",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsVersion {
    Tls12,
    Tls13,
}

#[derive(Debug, Clone)]
pub struct TlsSettings {
    pub cert_file: PathBuf,
    pub key_file: PathBuf,
    pub min_version: TlsVersion,
}

#[derive(Debug, Clone)]
pub struct HttpTimeouts {
    pub read: Duration,
    pub read_header: Duration,
    pub write: Duration,
    pub idle: Duration,
}

/// Where the database is and how to use it. `connect` may hold a password: its `Debug` and
/// [`ConnectOptions::redacted_location`] hide it.
#[derive(Debug, Clone)]
pub struct DatabaseSettings {
    pub connect: ConnectOptions,
    pub auto_migrate: bool,
}

impl DatabaseSettings {
    /// The location with any password replaced by `***`.
    pub fn display(&self) -> String {
        self.connect.redacted_location()
    }
}

#[derive(Debug, Clone)]
pub struct LogSettings {
    /// The environment's level per component (the runtime configuration may override them).
    pub levels: BTreeMap<LogComponent, LogLevel>,
    /// Level of the Discord library itself (`DC_DISCORD_DISCORDGO_LOG_LEVEL`).
    pub discord_library: LogLevel,
    pub format: LogFormat,
    /// `DC_LOG_FILE`: the logs also go to this file, rotated every day (`NAME.YYYY-MM-DD`).
    pub file: Option<PathBuf>,
    /// `DC_LOG_FILE_KEEP`: how many days of log files are kept.
    pub file_keep: u32,
}

#[derive(Debug, Clone)]
pub struct QueueSettings {
    pub size: u32,
    /// A claim on a command lasts this long unless renewed (workers renew it every third of it).
    pub lease: Duration,
    pub max_age: Duration,
    pub sleep_empty: Duration,
    pub sleep_paused: Duration,
}

#[derive(Debug, Clone)]
pub struct DiscordSettings {
    pub token: Option<SecretString>,
    pub application_id: Option<u64>,
    pub guild_id: Option<u64>,
    pub startup_message: String,
    /// `DC_DISCORD_GATEWAY_INTENTS`; `None` for `auto` (Message Content when the portal allows it).
    pub gateway_intents: Option<u64>,
    pub gateway_enabled: bool,
    /// How long a shard lease lasts (shards spread over instances on PostgreSQL).
    pub gateway_shard_lease: Duration,
    /// `DC_DISCORD_GATEWAY_SHARDS`: the shard count; `None` (0) for Discord's recommendation.
    pub gateway_shards: Option<u32>,
    pub api_base_url: Option<String>,
    pub gateway_url: Option<String>,
}

#[derive(Debug, Clone)]
pub struct WebhookSettings {
    pub enabled: bool,
    pub listen: SocketAddr,
    pub tls: Option<TlsSettings>,
    pub public_key: Option<String>,
    pub timeouts: HttpTimeouts,
}

#[derive(Debug, Clone)]
pub struct CorsSettings {
    pub allow_origins: Vec<String>,
    pub allow_methods: Vec<String>,
    pub allow_headers: Vec<String>,
    pub expose_headers: Vec<String>,
    pub allow_credentials: bool,
    pub max_age: Duration,
}

#[derive(Debug, Clone)]
pub struct ApiSettings {
    pub listen: SocketAddr,
    pub external_url: Option<String>,
    pub tls: Option<TlsSettings>,
    pub secret: Option<SecretString>,
    pub cors: CorsSettings,
    pub timeouts: HttpTimeouts,
    pub session_max_age: Duration,
    /// `DC_API_TRUSTED_PROXIES`.
    pub trusted_proxies: Vec<ipnet::IpNet>,
}

#[derive(Debug, Clone)]
pub struct LlmSettings {
    pub provider: LlmProvider,
    pub openai_token: Option<SecretString>,
    pub openai_base_url: String,
    pub openai_model: String,
    pub ollama_url: String,
    pub ollama_model: String,
    /// The provider's embedding model, when one is configured (support-desk retrieval).
    pub embedding_model: Option<String>,
}

/// Every static setting, typed and validated.
#[derive(Debug, Clone)]
pub struct Settings {
    pub database: DatabaseSettings,
    pub log: LogSettings,
    pub startup_timeout: Duration,
    pub shutdown_timeout: Duration,
    pub development: bool,
    pub instance_id: String,
    pub queue: QueueSettings,
    pub llm: LlmSettings,
    pub discord: DiscordSettings,
    pub webhook: WebhookSettings,
    pub api: ApiSettings,
    /// How often tickets are checked for inactivity.
    pub ticket_idle_check_interval: Duration,
    /// `DC_DESK_AI_REPLIES`: the bot may reply in tickets (each server may still turn replies off).
    pub desk_ai_replies: bool,
    /// `DC_DESK_TRAINING`: trained answers may be used and added (each server may still turn it off).
    pub desk_training: bool,
    /// The ticket bot's settings that seed a new database's runtime configuration.
    pub runtime_seeds: ticket_bot::RuntimeSeeds,
    /// How often the runtime configuration is reloaded and caches forgotten whatever was announced.
    pub cluster_refresh_interval: Duration,
    /// What this build calls itself in the instances list: the package version, and the git revision
    /// when the binary sets it (`disconcierge` does). Not a variable.
    pub version: String,
}

/// Settings plus what an admin should hear about them (typos, obsolete variables, placeholders).
#[derive(Debug, Clone)]
pub struct Loaded {
    pub settings: Settings,
    pub warnings: Vec<String>,
    /// Each known variable's effective value as `config check` prints it (secrets redacted).
    pub effective: Vec<(&'static str, String, &'static str)>,
}

/// Reads typed values from [`Sources`], collecting every problem instead of stopping at the first.
struct Reader<'a> {
    sources: &'a Sources,
    errors: Vec<InvalidVar>,
    warnings: Vec<String>,
}

impl<'a> Reader<'a> {
    fn spec(name: &str) -> &'static VarSpec {
        vars::spec(name).unwrap_or_else(|| panic!("{name} is missing from settings::vars::VARS"))
    }

    /// The raw value (set, or the default), trimmed; `None` when neither is set or it is empty.
    /// Where a variable's value came from (the environment when it is the default).
    fn origin_of(&self, name: &'static str) -> Origin {
        self.sources
            .get(Self::spec(name))
            .map_or(Origin::Environment, |(_, origin, _)| origin.clone())
    }

    fn raw(&mut self, name: &'static str) -> Option<(String, Origin)> {
        let spec = Self::spec(name);
        match self.sources.get(spec) {
            Some((v, origin, used)) => {
                if used != spec.name {
                    self.warnings.push(format!(
                        "{used} is an older name of {}; it still works, but prefer {} in new configuration.",
                        spec.name, spec.name
                    ));
                }
                let v = v.trim();
                (!v.is_empty()).then(|| (v.to_string(), origin.clone()))
            }
            None => {
                (!spec.default.is_empty()).then(|| (spec.default.to_string(), Origin::Environment))
            }
        }
    }

    fn fail(
        &mut self,
        name: &'static str,
        value: &str,
        origin: Origin,
        expected: impl Into<String>,
    ) {
        let spec = Self::spec(name);
        self.errors.push(InvalidVar {
            var: spec.name,
            value: (!spec.secret).then(|| value.to_string()),
            origin,
            expected: expected.into(),
        });
    }

    fn string(&mut self, name: &'static str) -> Option<String> {
        self.raw(name).map(|(v, _)| v)
    }

    fn secret(&mut self, name: &'static str) -> Option<SecretString> {
        self.raw(name).map(|(v, _)| SecretString::from(v))
    }

    /// Parses a value with `parse`; on failure records `expected` and returns `fallback`.
    fn parsed<T>(
        &mut self,
        name: &'static str,
        fallback: T,
        expected: &str,
        parse: impl FnOnce(&str) -> Option<T>,
    ) -> T {
        match self.raw(name) {
            None => fallback,
            Some((v, origin)) => match parse(&v) {
                Some(t) => t,
                None => {
                    self.fail(name, &v, origin, expected);
                    fallback
                }
            },
        }
    }

    fn duration(&mut self, name: &'static str) -> Duration {
        match self.raw(name) {
            None => Duration::ZERO,
            Some((v, origin)) => match parse_duration(&v) {
                Ok(d) => d,
                Err(e) => {
                    let expected = e.to_string();
                    self.fail(name, &v, origin, expected);
                    Duration::ZERO
                }
            },
        }
    }

    fn bool(&mut self, name: &'static str) -> bool {
        self.parsed(
            name,
            false,
            "expected true or false (also 1/0, yes/no, on/off)",
            parse_bool,
        )
    }

    fn u32(&mut self, name: &'static str, min: u32, max: u32) -> u32 {
        let expected = format!("expected a whole number from {min} to {max}");
        self.parsed(name, min, &expected, |v| {
            v.parse::<u32>().ok().filter(|n| (min..=max).contains(n))
        })
    }

    fn level(&mut self, name: &'static str) -> LogLevel {
        self.parsed(
            name,
            LogLevel::Info,
            "expected a log level: ERROR, WARN, INFO, DEBUG, TRACE or OFF",
            |v| v.parse().ok(),
        )
    }

    fn snowflake(&mut self, name: &'static str, what: &str) -> Option<u64> {
        let (v, origin) = self.raw(name)?;
        match v.parse::<u64>() {
            Ok(id) if id > 0 => Some(id),
            _ if v.starts_with("your") || v.contains("here") => {
                // The example .env's placeholders: not configured yet rather than wrong.
                self.warnings.push(format!(
                    "{name} still holds the placeholder {v:?}; set it to your {what}."
                ));
                None
            }
            _ => {
                self.fail(
                    name,
                    &v,
                    origin,
                    format!("expected a Discord id (a number such as 1234567890123456789): {what}"),
                );
                None
            }
        }
    }

    fn listen(&mut self, name: &'static str) -> SocketAddr {
        let fallback = SocketAddr::from(([127, 0, 0, 1], 0));
        self.parsed(
            name,
            fallback,
            "expected HOST:PORT such as 127.0.0.1:5000, 0.0.0.0:5000, [::1]:5000 or :5000 (every interface)",
            parse_listen,
        )
    }

    fn url(&mut self, name: &'static str, schemes: &[&str]) -> Option<String> {
        let (v, origin) = self.raw(name)?;
        let ok = schemes.iter().any(|s| {
            v.strip_prefix(s)
                .and_then(|rest| rest.strip_prefix("://"))
                .is_some_and(|rest| !rest.is_empty())
        });
        if ok {
            Some(v.trim_end_matches('/').to_string())
        } else {
            let expected = format!("expected a URL starting with {}://", schemes.join("://, "));
            self.fail(name, &v, origin, expected);
            None
        }
    }

    /// The CORS settings, checked so that every one of them is something browsers accept.
    fn cors(&mut self) -> CorsSettings {
        let allow_credentials = self.bool("DC_API_CORS_ALLOW_CREDENTIALS");
        let mut origins = self.list("DC_API_CORS_ALLOW_ORIGINS");
        let bad = origins
            .iter()
            .find(|o| {
                *o != "*"
                    && !["http://", "https://"].iter().any(|scheme| {
                        o.strip_prefix(scheme).is_some_and(|host| {
                            !host.is_empty()
                                && !host.contains(['/', '?', '#', ' '])
                                && host.is_ascii()
                        })
                    })
            })
            .cloned();
        if let Some(bad) = bad {
            let origin = self.origin_of("DC_API_CORS_ALLOW_ORIGINS");
            self.fail(
                "DC_API_CORS_ALLOW_ORIGINS",
                &bad,
                origin,
                format!(
                    "{bad:?} is not an origin: expected scheme and host (and port), without a path, \
                     e.g. https://admin.example.com"
                ),
            );
            origins.clear();
        } else if allow_credentials && origins.iter().any(|o| o == "*") {
            let origin = self.origin_of("DC_API_CORS_ALLOW_ORIGINS");
            self.fail(
                "DC_API_CORS_ALLOW_ORIGINS",
                "*",
                origin,
                "\"*\" cannot be combined with DC_API_CORS_ALLOW_CREDENTIALS=true (browsers refuse it): \
                 list the origins, or set DC_API_CORS_ALLOW_CREDENTIALS=false",
            );
            origins.clear();
        }
        let methods = self.token_list("DC_API_CORS_ALLOW_METHODS", |m| {
            axum::http::Method::from_bytes(m.as_bytes()).is_ok() && m != "*"
        });
        // "*" is a valid header name, but tower-http reads it as the wildcard (refused with credentials).
        let header = |h: &str| h != "*" && axum::http::HeaderName::from_bytes(h.as_bytes()).is_ok();
        CorsSettings {
            allow_origins: origins,
            allow_methods: methods,
            allow_headers: self.token_list("DC_API_CORS_ALLOW_HEADERS", header),
            expose_headers: self.token_list("DC_API_CORS_EXPOSE_HEADERS", header),
            allow_credentials,
            max_age: self.duration("DC_API_CORS_MAX_AGE"),
        }
    }

    /// A list whose items must each pass `valid` (HTTP methods, header names).
    fn token_list(&mut self, name: &'static str, valid: impl Fn(&str) -> bool) -> Vec<String> {
        let items = self.list(name);
        if let Some(bad) = items.iter().find(|i| !valid(i)).cloned() {
            let origin = self.origin_of(name);
            let what = if name.ends_with("METHODS") {
                "an HTTP method"
            } else {
                "a header name"
            };
            self.fail(
                name,
                &bad,
                origin,
                format!("{bad:?} is not {what}; list them one by one (no \"*\")"),
            );
            return Vec::new();
        }
        items
    }

    /// Addresses or networks (`10.0.0.0/8`, `192.0.2.1`, `::1`), space- or comma-separated.
    fn networks(&mut self, name: &'static str) -> Vec<ipnet::IpNet> {
        let Some((v, origin)) = self.raw(name) else {
            return Vec::new();
        };
        let mut nets = Vec::new();
        for item in v.split([' ', ',']).filter(|s| !s.is_empty()) {
            match item
                .parse::<ipnet::IpNet>()
                .or_else(|_| item.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
            {
                Ok(net) => nets.push(net),
                Err(_) => {
                    self.fail(
                        name,
                        &v,
                        origin,
                        format!(
                            "{item:?} is neither an address nor a network; expected addresses or networks such as 10.0.0.0/8 192.0.2.1 ::1"
                        ),
                    );
                    return Vec::new();
                }
            }
        }
        nets
    }

    fn list(&mut self, name: &'static str) -> Vec<String> {
        self.string(name)
            .map(|v| {
                v.split([' ', ','])
                    .filter(|s| !s.is_empty())
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default()
    }

    fn tls(
        &mut self,
        cert: &'static str,
        key: &'static str,
        min: &'static str,
    ) -> Option<TlsSettings> {
        let cert_file = self.string(cert);
        let key_file = self.string(key);
        let min_version = self.parsed(
            min,
            TlsVersion::Tls12,
            "expected 771 (TLS 1.2) or 772 (TLS 1.3); older versions are insecure and not offered",
            |v| match v {
                "771" => Some(TlsVersion::Tls12),
                "772" => Some(TlsVersion::Tls13),
                _ => None,
            },
        );
        match (cert_file, key_file) {
            (None, None) => None,
            (Some(c), Some(k)) => Some(TlsSettings {
                cert_file: c.into(),
                key_file: k.into(),
                min_version,
            }),
            (Some(c), None) => {
                self.fail(
                    key,
                    "",
                    Origin::Environment,
                    format!("must be set too, because {cert}={c:?} is set"),
                );
                None
            }
            (None, Some(k)) => {
                self.fail(
                    cert,
                    "",
                    Origin::Environment,
                    format!("must be set too, because {key}={k:?} is set"),
                );
                None
            }
        }
    }
}

fn parse_bool(v: &str) -> Option<bool> {
    match v.to_ascii_lowercase().as_str() {
        "1" | "t" | "true" | "yes" | "y" | "on" => Some(true),
        "0" | "f" | "false" | "no" | "n" | "off" => Some(false),
        _ => None,
    }
}

/// Reads `HOST:PORT`; `:PORT` (Go's form) means every interface. Host names are resolved once.
pub fn parse_listen(v: &str) -> Option<SocketAddr> {
    if let Some(port) = v.strip_prefix(':') {
        return port
            .parse::<u16>()
            .ok()
            .map(|p| SocketAddr::from(([0, 0, 0, 0], p)));
    }
    if let Ok(addr) = v.parse::<SocketAddr>() {
        return Some(addr);
    }
    let (host, port) = v.rsplit_once(':')?;
    port.parse::<u16>().ok()?;
    if host.is_empty() || host.contains('/') {
        return None;
    }
    v.to_socket_addrs().ok()?.next()
}

impl Settings {
    /// Reads every variable; returns the settings with warnings, or every problem found.
    pub fn load(sources: &Sources) -> Result<Loaded, SettingsError> {
        let mut r = Reader {
            sources,
            errors: Vec::new(),
            warnings: Vec::new(),
        };

        let kind = r.parsed(
            "DC_DATABASE_TYPE",
            DatabaseKind::Sqlite,
            "expected sqlite or postgres",
            |v| v.parse().ok(),
        );
        let url_or_path = r.string("DC_DATABASE").unwrap_or_default();
        if kind == DatabaseKind::Postgres
            && !(url_or_path.starts_with("postgres://") || url_or_path.starts_with("postgresql://"))
        {
            r.fail(
                "DC_DATABASE",
                &redact_url(&url_or_path),
                Origin::Environment,
                "with DC_DATABASE_TYPE=postgres, expected a URL such as postgres://user:password@host:5432/dbname",
            );
        }
        let database = DatabaseSettings {
            connect: ConnectOptions {
                kind,
                url_or_path,
                slow_threshold: r.duration("DC_DATABASE_SLOW_THRESHOLD"),
                max_connections: r.u32("DC_DATABASE_MAX_CONNECTIONS", 1, 1000),
            },
            auto_migrate: r.bool("DC_DATABASE_AUTO_MIGRATE"),
        };

        let mut levels = BTreeMap::new();
        for (component, var) in [
            (LogComponent::General, "DC_LOG_LEVEL"),
            (LogComponent::Discord, "DC_DISCORD_LOG_LEVEL"),
            (LogComponent::Llm, "DC_LLM_LOG_LEVEL"),
            (LogComponent::Database, "DC_DATABASE_LOG_LEVEL"),
            (LogComponent::Webhook, "DC_DISCORD_WEBHOOK_SERVER_LOG_LEVEL"),
            (LogComponent::Api, "DC_API_LOG_LEVEL"),
        ] {
            let level = r.level(var);
            levels.insert(component, level);
        }
        let log = LogSettings {
            levels,
            discord_library: r.level("DC_DISCORD_DISCORDGO_LOG_LEVEL"),
            file: r
                .string("DC_LOG_FILE")
                .filter(|v| !v.is_empty())
                .map(PathBuf::from),
            file_keep: r.u32("DC_LOG_FILE_KEEP", 1, 3650),
            format: r.parsed(
                "DC_LOG_FORMAT",
                LogFormat::Text,
                "expected text or json",
                |v| match v.to_ascii_lowercase().as_str() {
                    "text" | "pretty" | "human" => Some(LogFormat::Text),
                    "json" => Some(LogFormat::Json),
                    _ => None,
                },
            ),
        };

        let startup_timeout = r.duration("DC_STARTUP_TIMEOUT");
        let shutdown_timeout = r.duration("DC_SHUTDOWN_TIMEOUT");
        let development = r.bool("DC_DEVELOPMENT");
        let instance_id = r
            .string("DC_INSTANCE_ID")
            .unwrap_or_else(default_instance_id);

        let ticket_idle_check_interval = r.duration("DC_TICKET_IDLE_CHECK_INTERVAL");
        let desk_ai_replies = r.bool("DC_DESK_AI_REPLIES");
        let desk_training = r.bool("DC_DESK_TRAINING");
        if ticket_idle_check_interval < Duration::from_millis(100)
            || ticket_idle_check_interval > Duration::from_secs(3600)
        {
            let v = format_duration(ticket_idle_check_interval);
            r.fail(
                "DC_TICKET_IDLE_CHECK_INTERVAL",
                &v,
                Origin::Environment,
                "must be between 100ms and 1h",
            );
        }
        let cluster_refresh_interval = r.duration("DC_CLUSTER_REFRESH_INTERVAL");
        if cluster_refresh_interval < Duration::from_secs(1)
            || cluster_refresh_interval > Duration::from_secs(24 * 3600)
        {
            let v = format_duration(cluster_refresh_interval);
            r.fail(
                "DC_CLUSTER_REFRESH_INTERVAL",
                &v,
                Origin::Environment,
                "must be between 1s and 24h",
            );
        }
        let queue = QueueSettings {
            size: r.u32("DC_QUEUE_SIZE", 1, 1_000_000),
            lease: r.duration("DC_QUEUE_LEASE"),
            max_age: r.duration("DC_QUEUE_MAX_AGE"),
            sleep_empty: r.duration("DC_QUEUE_SLEEP_EMPTY"),
            sleep_paused: r.duration("DC_QUEUE_SLEEP_PAUSED"),
        };
        if queue.lease < Duration::from_millis(300) || queue.lease > Duration::from_secs(600) {
            let v = format_duration(queue.lease);
            r.fail(
                "DC_QUEUE_LEASE",
                &v,
                Origin::Environment,
                "must be between 300ms and 10m",
            );
        }
        if queue.max_age > Duration::from_secs(14 * 60) {
            let v = format_duration(queue.max_age);
            r.fail(
                "DC_QUEUE_MAX_AGE",
                &v,
                Origin::Environment,
                "must be at most 14m: Discord interaction tokens expire after 15 minutes",
            );
        }

        let provider = r.parsed(
            "DC_LLM_PROVIDER",
            LlmProvider::OpenAi,
            "expected openai, openai-chat or ollama",
            |v| match v.to_ascii_lowercase().as_str() {
                "openai" => Some(LlmProvider::OpenAi),
                "openai-chat" | "openai_chat" | "chat-completions" => Some(LlmProvider::OpenAiChat),
                "ollama" => Some(LlmProvider::Ollama),
                _ => None,
            },
        );
        let llm = LlmSettings {
            provider,
            openai_token: r.secret("DC_OPENAI_TOKEN"),
            openai_base_url: r
                .url("DC_OPENAI_BASE_URL", &["http", "https"])
                .unwrap_or_default(),
            openai_model: r.string("DC_OPENAI_MODEL").unwrap_or_default(),
            ollama_url: r
                .url("DC_OLLAMA_URL", &["http", "https"])
                .unwrap_or_default(),
            ollama_model: r.string("DC_OLLAMA_MODEL").unwrap_or_default(),
            embedding_model: match provider {
                LlmProvider::Ollama => r.string("DC_OLLAMA_EMBEDDING_MODEL"),
                LlmProvider::OpenAi | LlmProvider::OpenAiChat => {
                    r.string("DC_OPENAI_EMBEDDING_MODEL")
                }
            }
            .filter(|m| !m.trim().is_empty()),
        };
        if let Some(id) = r.string("DC_OPENAI_ASSISTANT_ID") {
            r.warnings.push(format!(
                "DC_OPENAI_ASSISTANT_ID={id:?} is ignored: OpenAI shut the Assistants API down on 2026-08-26 and \
                 disconcierge uses its successor, the Responses API with Conversations. Set DC_OPENAI_MODEL to \
                 your assistant's model (now {:?}) and copy the assistant's instructions into the runtime \
                 configuration (admin UI -> Configuration -> LLM instructions); then remove \
                 DC_OPENAI_ASSISTANT_ID.",
                llm.openai_model
            ));
        }

        let discord = DiscordSettings {
            token: r.secret("DC_DISCORD_TOKEN"),
            application_id: r.snowflake(
                "DC_DISCORD_APPLICATION_ID",
                "application id (Developer Portal -> General Information)",
            ),
            guild_id: r.snowflake("DC_DISCORD_GUILD_ID", "test server's id"),
            startup_message: r.string("DC_DISCORD_STARTUP_MESSAGE").unwrap_or_default(),
            gateway_intents: r.parsed(
                "DC_DISCORD_GATEWAY_INTENTS",
                None,
                "expected auto or the intents bit set as a whole number, such as 3243773",
                |v| match v.trim() {
                    v if v.eq_ignore_ascii_case("auto") => Some(None),
                    v => v.parse::<u64>().ok().map(Some),
                },
            ),
            gateway_enabled: r.bool("DC_DISCORD_GATEWAY_ENABLED"),
            gateway_shard_lease: r.duration("DC_DISCORD_GATEWAY_SHARD_LEASE"),
            gateway_shards: Some(r.u32("DC_DISCORD_GATEWAY_SHARDS", 0, 65_535)).filter(|&n| n > 0),
            api_base_url: r.url("DC_DISCORD_API_BASE_URL", &["http", "https"]),
            gateway_url: r.url("DC_DISCORD_GATEWAY_URL", &["ws", "wss"]),
        };
        if discord.gateway_shard_lease < Duration::from_secs(1)
            || discord.gateway_shard_lease > Duration::from_secs(300)
        {
            let v = format_duration(discord.gateway_shard_lease);
            r.fail(
                "DC_DISCORD_GATEWAY_SHARD_LEASE",
                &v,
                Origin::Environment,
                "must be between 1s and 5m",
            );
        }

        let webhook = WebhookSettings {
            enabled: r.bool("DC_DISCORD_WEBHOOK_SERVER_ENABLED"),
            listen: r.listen("DC_DISCORD_WEBHOOK_SERVER_LISTEN"),
            tls: r.tls(
                "DC_DISCORD_WEBHOOK_SERVER_SSL_CERT_FILE",
                "DC_DISCORD_WEBHOOK_SERVER_SSL_KEY_FILE",
                "DC_DISCORD_WEBHOOK_SERVER_SSL_TLS_MIN_VERSION",
            ),
            public_key: r.string("DC_DISCORD_WEBHOOK_SERVER_PUBLIC_KEY"),
            timeouts: HttpTimeouts {
                read: r.duration("DC_DISCORD_WEBHOOK_SERVER_READ_TIMEOUT"),
                read_header: r.duration("DC_DISCORD_WEBHOOK_SERVER_READ_HEADER_TIMEOUT"),
                write: r.duration("DC_DISCORD_WEBHOOK_SERVER_WRITE_TIMEOUT"),
                idle: r.duration("DC_DISCORD_WEBHOOK_SERVER_IDLE_TIMEOUT"),
            },
        };
        if webhook.enabled {
            let key = webhook.public_key.clone().unwrap_or_default();
            if key.len() != 64 || !key.bytes().all(|b| b.is_ascii_hexdigit()) {
                r.fail(
                    "DC_DISCORD_WEBHOOK_SERVER_PUBLIC_KEY",
                    &key,
                    Origin::Environment,
                    "the webhook server is enabled, so this must be your application's public key: 64 hex \
                     characters (Developer Portal -> General Information -> Public Key)",
                );
            }
        }

        let api = ApiSettings {
            listen: r.listen("DC_API_LISTEN"),
            external_url: r.url("DC_API_EXTERNAL_URL", &["http", "https"]),
            tls: r.tls(
                "DC_API_SSL_CERT_FILE",
                "DC_API_SSL_KEY_FILE",
                "DC_API_SSL_TLS_MIN_VERSION",
            ),
            secret: r.secret("DC_API_SECRET"),
            cors: r.cors(),
            timeouts: HttpTimeouts {
                read: r.duration("DC_API_READ_TIMEOUT"),
                read_header: r.duration("DC_API_READ_HEADER_TIMEOUT"),
                write: r.duration("DC_API_WRITE_TIMEOUT"),
                idle: r.duration("DC_API_IDLE_TIMEOUT"),
            },
            session_max_age: r.duration("DC_API_SESSION_MAX_AGE"),
            trusted_proxies: r.networks("DC_API_TRUSTED_PROXIES"),
        };

        for (name, tls) in [
            ("DC_API_SSL_CERT_FILE", &api.tls),
            ("DC_DISCORD_WEBHOOK_SERVER_SSL_CERT_FILE", &webhook.tls),
        ] {
            let in_use = name.starts_with("DC_API") || webhook.enabled;
            if let Some(tls) = tls.as_ref().filter(|_| in_use) {
                for file in [&tls.cert_file, &tls.key_file] {
                    if !file.is_file() {
                        r.warnings.push(format!(
                            "TLS file {} (from {name} or its key) does not exist; the listener will not start until it does.",
                            file.display()
                        ));
                    }
                }
            }
        }

        r.warnings.extend(sources.ticket_bot.notes.iter().cloned());
        r.errors.extend(sources.ticket_bot.errors.iter().cloned());

        // Unknown DC_* variables are most likely typos.
        for (name, (_, origin)) in &sources.values {
            if vars::spec(name).is_none() {
                let hint = vars::closest(name)
                    .map(|c| format!(" Did you mean {c}?"))
                    .unwrap_or_default();
                r.warnings.push(format!(
                    "{name} (from {origin}) is not a disconcierge setting and is ignored.{hint}"
                ));
            }
        }

        let effective = VARS
            .iter()
            .map(|spec| {
                let shown = match sources.get(spec) {
                    _ if spec.secret => disconcierge_core::secret::describe_secret(
                        r.sources
                            .get(spec)
                            .map(|(v, ..)| SecretString::from(v.to_string()))
                            .as_ref(),
                    )
                    .to_string(),
                    Some((v, origin, _)) => format!("{} (from {origin})", redact_url(v)),
                    None if spec.default.is_empty() => "(not set)".to_string(),
                    None => format!("{} (default)", spec.default),
                };
                (spec.name, shown, spec.help)
            })
            .collect();

        if r.errors.is_empty() {
            Ok(Loaded {
                settings: Settings {
                    database,
                    log,
                    startup_timeout,
                    shutdown_timeout,
                    development,
                    instance_id,
                    queue,
                    llm,
                    discord,
                    webhook,
                    api,
                    ticket_idle_check_interval,
                    desk_ai_replies,
                    desk_training,
                    runtime_seeds: sources.ticket_bot.seeds.clone(),
                    cluster_refresh_interval,
                    version: env!("CARGO_PKG_VERSION").to_string(),
                },
                warnings: r.warnings,
                effective,
            })
        } else {
            Err(SettingsError::Invalid(r.errors))
        }
    }

    /// What is still to configure before the bot can do its work, one line each with how to fix it.
    pub fn missing(&self) -> Vec<String> {
        let mut missing = Vec::new();
        if self.discord.token.is_none() {
            missing.push(
                "DC_DISCORD_TOKEN is not set: the bot cannot connect to Discord. Create a bot in the Discord Developer \
                 Portal (your application -> Bot -> Reset Token) and put the token in .env as DC_DISCORD_TOKEN=..."
                    .to_string(),
            );
        }
        match self.llm.provider {
            LlmProvider::OpenAi if self.llm.openai_token.is_none() => missing.push(
                "DC_OPENAI_TOKEN is not set: the bot cannot answer with DC_LLM_PROVIDER=openai. Put an API key in .env \
                 as DC_OPENAI_TOKEN=..., or use a local model with DC_LLM_PROVIDER=ollama (DC_OLLAMA_URL, \
                 DC_OLLAMA_MODEL)."
                    .to_string(),
            ),
            _ => {}
        }
        missing
    }
}

fn default_instance_id() -> String {
    let host = host_name().unwrap_or_else(|| "disconcierge".to_string());
    format!("{host}-{}", std::process::id())
}

/// This machine's name, as `/etc/hostname` gives it.
pub(crate) fn host_name() -> Option<String> {
    std::fs::read_to_string("/etc/hostname")
        .ok()
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
}

#[cfg(test)]
mod tests;
