//! Discord's message markup, written in one place: mentions of a user, a channel or a role, and
//! timestamps every client shows in its reader's own time zone and language. A mention in a message
//! pings nobody unless the message's allowed mentions say so (see [`crate::desk::Ping`]).

use chrono::{DateTime, Utc};

/// `<@id>`: a user, shown as their name.
pub fn user(id: u64) -> String {
    format!("<@{id}>")
}

/// `<#id>`: a channel or thread, shown as a link.
pub fn channel(id: u64) -> String {
    format!("<#{id}>")
}

/// A ticket's thread, or "(being created)" while its forum post does not exist yet.
pub fn thread_or_pending(id: Option<u64>) -> String {
    id.map(channel).unwrap_or_else(|| "(being created)".into())
}

/// `<@&id>`: a role, shown as its name.
pub fn role(id: u64) -> String {
    format!("<@&{id}>")
}

/// `<t:unix:R>`: a time shown relative to now ("in 2 hours", "3 minutes ago").
pub fn relative_time(at: DateTime<Utc>) -> String {
    format!("<t:{}:R>", at.timestamp())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_is_discords() {
        assert_eq!(user(42), "<@42>");
        assert_eq!(channel(7), "<#7>");
        assert_eq!(role(9), "<@&9>");
        assert_eq!(thread_or_pending(None), "(being created)");
        assert_eq!(thread_or_pending(Some(3)), "<#3>");
        let at = DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        assert_eq!(relative_time(at), "<t:1700000000:R>");
    }
}
