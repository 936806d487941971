//! Which ordinary messages (not slash commands) concern the bot and are worth keeping.
//!
//! As DisConcierge did, disconcierge keeps messages that mention it, that reply to one of its messages, or
//! that name one of its commands: they show an admin whether people try to talk to the bot the wrong way
//! (an @mention instead of `/chat`), and what they say about its answers.

use serde::{Deserialize, Serialize};

/// Why a message was kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Noticed {
    /// It @mentions the bot.
    Mention,
    /// It replies to one of the bot's messages.
    Reply,
    /// It names one of the bot's slash commands (e.g. someone typing `/chat` as text).
    CommandName,
}

impl Noticed {
    pub fn as_str(self) -> &'static str {
        match self {
            Noticed::Mention => "mention",
            Noticed::Reply => "reply",
            Noticed::CommandName => "command_name",
        }
    }
}

/// Why a message from a person concerns the bot, if it does. A reply is the stronger reason (it ties the
/// message to an answer), then a mention, then a command named in the text.
pub fn why_noticed(
    content: &str,
    mentions_bot: bool,
    replies_to_bot: bool,
    commands: &[&str],
) -> Option<Noticed> {
    if replies_to_bot {
        Some(Noticed::Reply)
    } else if mentions_bot {
        Some(Noticed::Mention)
    } else if names_a_command(content, commands) {
        Some(Noticed::CommandName)
    } else {
        None
    }
}

/// Whether `/name` appears as a word: after the start or a space (not inside a URL or a path such as
/// `https://x/chat` or `a/chat`), and followed by the end, a space or punctuation (not `/chatter`).
fn names_a_command(content: &str, commands: &[&str]) -> bool {
    commands.iter().any(|name| {
        let needle = format!("/{name}");
        content.match_indices(&needle).any(|(at, _)| {
            let before = content[..at].chars().next_back();
            let after = content[at + needle.len()..].chars().next();
            before.is_none_or(|c| c.is_whitespace() || matches!(c, '`' | '(' | '"' | '\''))
                && after.is_none_or(|c| !(c.is_alphanumeric() || c == '_' || c == '-'))
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const COMMANDS: &[&str] = &["chat", "private", "clear"];

    #[test]
    fn a_reply_outranks_a_mention_which_outranks_a_command_name() {
        assert_eq!(
            why_noticed("/chat", true, true, COMMANDS),
            Some(Noticed::Reply)
        );
        assert_eq!(
            why_noticed("/chat", true, false, COMMANDS),
            Some(Noticed::Mention)
        );
        assert_eq!(
            why_noticed("how do I use /chat?", false, false, COMMANDS),
            Some(Noticed::CommandName)
        );
        assert_eq!(why_noticed("hello all", false, false, COMMANDS), None);
    }

    #[test]
    fn command_names_count_only_as_words() {
        for yes in [
            "/chat",
            "try /private please",
            "use `/clear` first",
            "(/chat)",
            "/chat, then wait",
            "line one\n/clear",
        ] {
            assert!(names_a_command(yes, COMMANDS), "{yes:?}");
        }
        for no in [
            "see https://example.com/chat",
            "a/chat",
            "/chatter is not us",
            "/chat_old",
            "/clear-cache",
            "chat without a slash",
            "",
        ] {
            assert!(!names_a_command(no, COMMANDS), "{no:?}");
        }
    }
}
