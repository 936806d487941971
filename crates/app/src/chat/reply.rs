//! The short private replies the assistant gives instead of an answer.

use disconcierge_discord::router::Ack;

/// What an ignored user is told: the configured message, privately, or (none configured) nothing, the
/// command acknowledged silently.
pub(crate) fn ignored(config: &disconcierge_core::runtime_config::RuntimeConfig) -> Ack {
    if config.discord_ignored_message.trim().is_empty() {
        Ack::Silent
    } else {
        message(&config.discord_ignored_message)
    }
}

/// A private message as the interaction's answer.
pub(crate) fn message(content: &str) -> Ack {
    Ack::Message {
        content: content.to_string(),
        ephemeral: true,
    }
}
