//! The table of every `DC_*` variable: its name, default, whether it is a secret, and what it means.
//!
//! This one table drives parsing defaults, `config check` output, unknown-variable warnings and the test
//! that keeps `.env.example` complete. DisConcierge's names and defaults are kept as they were.

pub struct VarSpec {
    pub name: &'static str,
    /// The default when unset; `""` means "not set".
    pub default: &'static str,
    /// Never printed, never logged.
    pub secret: bool,
    /// Older or alternative spellings that are still read (DisConcierge used both in its docs).
    pub aliases: &'static [&'static str],
    pub help: &'static str,
}

const fn var(name: &'static str, default: &'static str, help: &'static str) -> VarSpec {
    VarSpec {
        name,
        default,
        secret: false,
        aliases: &[],
        help,
    }
}

const fn secret(name: &'static str, help: &'static str) -> VarSpec {
    VarSpec {
        name,
        default: "",
        secret: true,
        aliases: &[],
        help,
    }
}

const fn alias(mut spec: VarSpec, aliases: &'static [&'static str]) -> VarSpec {
    spec.aliases = aliases;
    spec
}

pub const VARS: &[VarSpec] = &[
    // --- General / database ---
    var(
        "DC_DATABASE_TYPE",
        "sqlite",
        "Database type: sqlite (one file, the default) or postgres (for several instances).",
    ),
    var(
        "DC_DATABASE",
        "disconcierge.sqlite3",
        "SQLite file path (created if missing) or PostgreSQL URL (postgres://user:pass@host/db).",
    ),
    var(
        "DC_DATABASE_SLOW_THRESHOLD",
        "200ms",
        "Database statements slower than this are logged as warnings.",
    ),
    var(
        "DC_DATABASE_LOG_LEVEL",
        "INFO",
        "Log level of the database component.",
    ),
    var(
        "DC_DATABASE_MAX_CONNECTIONS",
        "10",
        "Connection pool size (SQLite serializes writes whatever this is).",
    ),
    var(
        "DC_DATABASE_AUTO_MIGRATE",
        "true",
        "`run` applies pending migrations itself; false makes it refuse and ask for `disconcierge migrate`.",
    ),
    var(
        "DC_LOG_LEVEL",
        "INFO",
        "Log level of everything without a component of its own.",
    ),
    var(
        "DC_LOG_FILE",
        "",
        "Also write the logs to this file, rotated every day: /var/log/disconcierge/disconcierge.log gives disconcierge.log.2026-12-07, … (the directory is created). Empty: standard error only.",
    ),
    var(
        "DC_LOG_FILE_KEEP",
        "7",
        "How many days of log files DC_LOG_FILE keeps; older ones are deleted.",
    ),
    var(
        "DC_LOG_FORMAT",
        "text",
        "Log format: text (for people) or json (for log collectors).",
    ),
    var(
        "DC_STARTUP_TIMEOUT",
        "30s",
        "How long startup (database connection and migrations) may take.",
    ),
    var(
        "DC_SHUTDOWN_TIMEOUT",
        "60s",
        "How long a graceful shutdown may take before remaining work is abandoned.",
    ),
    var(
        "DC_DEVELOPMENT",
        "false",
        "Development mode: admin session cookies use SameSite=Lax instead of Strict, so that links from other local tools keep the login (not None: browsers drop a SameSite=None cookie without Secure, which plain-HTTP development cannot set).",
    ),
    var(
        "DC_INSTANCE_ID",
        "",
        "Name of this instance in queue leases and logs; default: hostname and process id.",
    ),
    // --- Queue ---
    var(
        "DC_QUEUE_SIZE",
        "100",
        "Maximum number of waiting chat commands; on overflow the oldest non-priority one is dropped.",
    ),
    var(
        "DC_QUEUE_MAX_AGE",
        "3m",
        "A chat command waiting longer than this is expired.",
    ),
    var(
        "DC_CLUSTER_REFRESH_INTERVAL",
        "5m",
        "How often each instance reloads the runtime configuration and forgets its caches, in case it missed a change another instance announced (PostgreSQL announces changes at once).",
    ),
    var(
        "DC_DESK_AI_REPLIES",
        "true",
        "Support desk: the bot replies in tickets (a trained answer or the model's); false turns replies off in every server (each server can also turn them off with /setup ai_replies). The ticket bot's ENABLE_AUTO_RESPONSE.",
    ),
    var(
        "DC_DESK_TRAINING",
        "true",
        "Support desk: trained answers (/train and its commands, and their use in replies); false turns training off in every server (each server can also turn it off with /setup training). The ticket bot's ENABLE_TRAINING.",
    ),
    var(
        "DC_TICKET_IDLE_CHECK_INTERVAL",
        "1m",
        "How often tickets are checked for inactivity (in servers where /setup set auto_close_hours).",
    ),
    var(
        "DC_QUEUE_SLEEP_EMPTY",
        "1s",
        "Safety poll interval of an idle worker (new commands wake workers at once).",
    ),
    var(
        "DC_QUEUE_SLEEP_PAUSED",
        "5s",
        "Poll interval while the bot is paused.",
    ),
    var(
        "DC_QUEUE_LEASE",
        "30s",
        "How long a worker's claim on a command lasts unless renewed; after a crash another worker (or instance) takes the command over after this.",
    ),
    // --- LLM ---
    var(
        "DC_LLM_PROVIDER",
        "openai",
        "openai (Responses API + Conversations), openai-chat (any Chat Completions server) or ollama.",
    ),
    alias(
        var(
            "DC_LLM_LOG_LEVEL",
            "INFO",
            "Log level of the LLM component.",
        ),
        &["DC_OPENAI_LOG_LEVEL"],
    ),
    secret("DC_OPENAI_TOKEN", "OpenAI (or compatible server) API key."),
    var(
        "DC_OPENAI_BASE_URL",
        "https://api.openai.com/v1",
        "OpenAI or OpenAI-compatible endpoint.",
    ),
    var(
        "DC_OPENAI_MODEL",
        "gpt-4.1-mini",
        "Model used unless the runtime configuration names another.",
    ),
    var(
        "DC_OPENAI_EMBEDDING_MODEL",
        "",
        "Embedding model for the support desk's retrieval (e.g. text-embedding-3-small); empty: full-text ranking only.",
    ),
    var(
        "DC_OPENAI_ASSISTANT_ID",
        "",
        "Obsolete: OpenAI shut the Assistants API down on 2026-08-26. Ignored; see DC_OPENAI_MODEL.",
    ),
    var(
        "DC_OLLAMA_URL",
        "http://localhost:11434",
        "Ollama endpoint.",
    ),
    var("DC_OLLAMA_MODEL", "llama3", "Ollama model."),
    var(
        "DC_OLLAMA_EMBEDDING_MODEL",
        "",
        "Ollama embedding model for the support desk's retrieval (e.g. nomic-embed-text); empty: full-text ranking only.",
    ),
    // --- Discord ---
    secret(
        "DC_DISCORD_TOKEN",
        "Discord bot token (Developer Portal -> your application -> Bot).",
    ),
    var(
        "DC_DISCORD_APPLICATION_ID",
        "",
        "Discord application id (General Information); read from Discord when unset.",
    ),
    var(
        "DC_DISCORD_GUILD_ID",
        "",
        "Register commands in this guild only (instant, for testing); empty for global commands.",
    ),
    var(
        "DC_DISCORD_LOG_LEVEL",
        "INFO",
        "Log level of the Discord component.",
    ),
    alias(
        var(
            "DC_DISCORD_DISCORDGO_LOG_LEVEL",
            "WARN",
            "Log level of the Discord library itself (twilight).",
        ),
        &["DC_DISCORDGO_LOG_LEVEL"],
    ),
    var(
        "DC_DISCORD_STARTUP_MESSAGE",
        "",
        "Message posted to the notification channel when the bot starts; empty for none.",
    ),
    var(
        "DC_DISCORD_GATEWAY_INTENTS",
        "auto",
        "Gateway intents bit set, or auto: DisConcierge's default (3243773) plus Message Content (32768) when the application may use it (Developer Portal -> Bot -> Privileged Gateway Intents), which tickets and mentions need to read messages.",
    ),
    var(
        "DC_DISCORD_GATEWAY_ENABLED",
        "true",
        "Connect to the Discord gateway (presence, messages); false for webhook-only instances.",
    ),
    var(
        "DC_DISCORD_GATEWAY_SHARDS",
        "0",
        "How many gateway shards the bot runs, all instances together; 0: as many as Discord recommends (GET /gateway/bot). Discord requires sharding past 2,500 servers.",
    ),
    var(
        "DC_DISCORD_GATEWAY_SHARD_LEASE",
        "15s",
        "With PostgreSQL, the gateway's shards are spread over the instances through leases: how long a lease lasts unless renewed. A dead instance's shards are taken over (and their sessions resumed) this long after it stopped renewing.",
    ),
    var(
        "DC_DISCORD_API_BASE_URL",
        "",
        "Base of Discord's REST API (an HTTP proxy or a local fake); default Discord's.",
    ),
    var(
        "DC_DISCORD_GATEWAY_URL",
        "",
        "Gateway WebSocket URL (a proxy or a local fake); default Discord's.",
    ),
    // --- Discord webhook server ---
    alias(
        var(
            "DC_DISCORD_WEBHOOK_SERVER_ENABLED",
            "false",
            "Receive interactions by webhook on a separate listener.",
        ),
        &["DC_DISCORD_WEBHOOK_ENABLED"],
    ),
    alias(
        var(
            "DC_DISCORD_WEBHOOK_SERVER_LISTEN",
            "127.0.0.1:5001",
            "Webhook listener address.",
        ),
        &["DC_DISCORD_WEBHOOK_LISTEN"],
    ),
    alias(
        var(
            "DC_DISCORD_WEBHOOK_SERVER_SSL_CERT_FILE",
            "",
            "TLS certificate (PEM) for the webhook listener; empty for plain HTTP.",
        ),
        &["DC_DISCORD_WEBHOOK_SSL_CERT_FILE"],
    ),
    alias(
        var(
            "DC_DISCORD_WEBHOOK_SERVER_SSL_KEY_FILE",
            "",
            "TLS private key (PEM) for the webhook listener.",
        ),
        &["DC_DISCORD_WEBHOOK_SSL_KEY_FILE"],
    ),
    var(
        "DC_DISCORD_WEBHOOK_SERVER_SSL_TLS_MIN_VERSION",
        "771",
        "Minimum TLS version, as Go numbers it: 771 = TLS 1.2, 772 = TLS 1.3.",
    ),
    var(
        "DC_DISCORD_WEBHOOK_SERVER_LOG_LEVEL",
        "INFO",
        "Log level of the webhook component.",
    ),
    alias(
        var(
            "DC_DISCORD_WEBHOOK_SERVER_PUBLIC_KEY",
            "",
            "Your application's public key (hex), to verify Discord's signatures.",
        ),
        &["DC_DISCORD_WEBHOOK_PUBLIC_KEY"],
    ),
    var(
        "DC_DISCORD_WEBHOOK_SERVER_READ_TIMEOUT",
        "5s",
        "Time allowed to read a whole webhook request.",
    ),
    var(
        "DC_DISCORD_WEBHOOK_SERVER_READ_HEADER_TIMEOUT",
        "5s",
        "Time allowed to read a webhook request's headers.",
    ),
    var(
        "DC_DISCORD_WEBHOOK_SERVER_WRITE_TIMEOUT",
        "10s",
        "Time allowed to answer a webhook request.",
    ),
    var(
        "DC_DISCORD_WEBHOOK_SERVER_IDLE_TIMEOUT",
        "30s",
        "Idle keep-alive connections are closed after this.",
    ),
    // --- API server ---
    var(
        "DC_API_LISTEN",
        "127.0.0.1:5000",
        "Admin UI / API listener; :5000 means every interface.",
    ),
    var(
        "DC_API_EXTERNAL_URL",
        "",
        "URL under which admins reach the admin UI (used in links posted to Discord).",
    ),
    var(
        "DC_API_SSL_CERT_FILE",
        "",
        "TLS certificate (PEM) for the API listener; empty for plain HTTP.",
    ),
    var(
        "DC_API_SSL_KEY_FILE",
        "",
        "TLS private key (PEM) for the API listener.",
    ),
    var(
        "DC_API_SSL_TLS_MIN_VERSION",
        "771",
        "Minimum TLS version: 771 = TLS 1.2, 772 = TLS 1.3.",
    ),
    secret(
        "DC_API_SECRET",
        "Key of the admin pages' CSRF tokens (HMAC-SHA256 of the login session); every instance must have the same one. Unset: the tokens are derived from the session alone.",
    ),
    var(
        "DC_API_LOG_LEVEL",
        "INFO",
        "Log level of the API component.",
    ),
    var(
        "DC_API_TRUSTED_PROXIES",
        "",
        "Reverse proxies or load balancers in front of the admin listener (addresses or networks such as 10.0.0.0/8, space-separated): for requests from them, the client's address (the login throttle counts failures per address) is read from X-Forwarded-For. Empty: the connection's address.",
    ),
    var(
        "DC_API_CORS_ALLOW_ORIGINS",
        "",
        "Origins allowed to call the API from a browser (space-separated).",
    ),
    var(
        "DC_API_CORS_ALLOW_METHODS",
        "GET POST PUT PATCH DELETE OPTIONS HEAD",
        "CORS allowed methods (space-separated).",
    ),
    var(
        "DC_API_CORS_ALLOW_HEADERS",
        "Origin Content-Length Content-Type Accept Authorization X-Requested-With Cache-Control X-CSRF-Token X-Request-ID",
        "CORS allowed request headers (space-separated).",
    ),
    var(
        "DC_API_CORS_EXPOSE_HEADERS",
        "Content-Type Content-Length Accept-Encoding X-Request-ID Location ETag Authorization Last-Modified",
        "CORS exposed response headers (space-separated).",
    ),
    var(
        "DC_API_CORS_ALLOW_CREDENTIALS",
        "true",
        "CORS: allow credentials (cookies).",
    ),
    var(
        "DC_API_CORS_MAX_AGE",
        "12h",
        "CORS: how long browsers may cache a preflight answer.",
    ),
    var(
        "DC_API_READ_TIMEOUT",
        "5s",
        "Time allowed to read a whole API request.",
    ),
    var(
        "DC_API_READ_HEADER_TIMEOUT",
        "5s",
        "Time allowed to read an API request's headers.",
    ),
    var(
        "DC_API_WRITE_TIMEOUT",
        "10s",
        "Time allowed to answer an API request.",
    ),
    var(
        "DC_API_IDLE_TIMEOUT",
        "30s",
        "Idle keep-alive connections are closed after this.",
    ),
    var("DC_API_SESSION_MAX_AGE", "6h", "Admin session lifetime."),
];

/// The spec of a variable by name or alias.
pub fn spec(name: &str) -> Option<&'static VarSpec> {
    VARS.iter()
        .find(|v| v.name == name || v.aliases.contains(&name))
}

/// The known variable closest to a misspelt one, for "did you mean" hints.
pub fn closest(name: &str) -> Option<&'static str> {
    VARS.iter()
        .flat_map(|v| std::iter::once(v.name).chain(v.aliases.iter().copied()))
        .map(|known| (edit_distance(name, known), known))
        .filter(|(d, _)| *d <= 3)
        .min_by_key(|(d, _)| *d)
        .map(|(_, known)| spec(known).map_or(known, |s| s.name))
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur[j + 1] = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

/// A documented dotenv file with every variable and its default, as `disconcierge config example` prints it
/// and as `.env.example` is committed. Secrets are left uncommented and empty so they are easy to fill in.
pub fn example_env() -> String {
    let mut out = String::from(
        "# disconcierge configuration: copy to .env and fill in what you need.\n\
         # Commented lines show each variable's default. Variables set in the environment win over this file.\n\
         # Generated by `disconcierge config example`; DisConcierge's DC_* names and defaults are kept.\n",
    );
    let mut section = "";
    for spec in VARS {
        let this_section = section_of(spec.name);
        if this_section != section {
            section = this_section;
            out.push_str(&format!("\n# === {section} ===\n"));
        }
        out.push_str(&format!("\n# {}\n", spec.help));
        if !spec.aliases.is_empty() {
            out.push_str(&format!("# (also read as: {})\n", spec.aliases.join(", ")));
        }
        let value = if spec.default.contains(' ') {
            format!("\"{}\"", spec.default)
        } else {
            spec.default.to_string()
        };
        let fill_in = spec.secret || spec.name == "DC_DISCORD_APPLICATION_ID";
        let prefix = if fill_in { "" } else { "# " };
        out.push_str(&format!("{prefix}{}={value}\n", spec.name));
    }
    out
}

fn section_of(name: &str) -> &'static str {
    if name.starts_with("DC_QUEUE") {
        "Queue"
    } else if name.starts_with("DC_LLM")
        || name.starts_with("DC_OPENAI")
        || name.starts_with("DC_OLLAMA")
    {
        "LLM"
    } else if name.starts_with("DC_DISCORD_WEBHOOK") {
        "Discord webhook server"
    } else if name.starts_with("DC_DISCORD") {
        "Discord"
    } else if name.starts_with("DC_API") {
        "Admin UI and API server"
    } else {
        "General and database"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique() {
        let mut all: Vec<&str> = VARS
            .iter()
            .flat_map(|v| std::iter::once(v.name).chain(v.aliases.iter().copied()))
            .collect();
        all.sort();
        let before = all.len();
        all.dedup();
        assert_eq!(before, all.len());
    }

    #[test]
    fn suggests_the_intended_name() {
        assert_eq!(closest("DC_QUEUE_SIZ"), Some("DC_QUEUE_SIZE"));
        assert_eq!(closest("DC_OPENAI_TOKN"), Some("DC_OPENAI_TOKEN"));
        assert_eq!(closest("DC_SOMETHING_ELSE_ENTIRELY"), None);
    }
}
