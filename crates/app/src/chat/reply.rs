//! The short private replies the assistant gives instead of an answer.

use disconcierge_discord::router::Ack;

/// A private message as the interaction's answer.
pub(crate) fn message(content: &str) -> Ack {
    Ack::Message {
        content: content.to_string(),
        ephemeral: true,
    }
}
