//! What the LLM is told when it answers in a ticket: the instructions (global, then the guild's, then the
//! ticket's situation and the reference material retrieved for this message) and the ticket's
//! conversation so far as alternating turns.

use crate::desk::model::{EntryKind, ReplySource, TicketAuthor, TicketMessage};
use crate::desk::retrieval::Scored;

/// The ticket a reply is for.
#[derive(Debug, Clone, Copy)]
pub struct TicketSituation<'a> {
    pub category: &'a str,
    pub opener_name: &'a str,
    /// The runtime configuration's instructions.
    pub global_instructions: &'a str,
    /// The guild's own, from `/setup`.
    pub guild_instructions: Option<&'a str>,
}

/// The system instructions for a reply in a ticket. Reference entries are numbered so that staff can
/// see in `/test_ai` and the admin UI which ones the model was given.
pub fn instructions(situation: &TicketSituation<'_>, context: &[Scored]) -> String {
    let mut out = String::new();
    let global = situation.global_instructions.trim();
    if !global.is_empty() {
        out.push_str(global);
        out.push_str("\n\n");
    }
    if let Some(guild) = situation
        .guild_instructions
        .map(str::trim)
        .filter(|g| !g.is_empty())
    {
        out.push_str(guild);
        out.push_str("\n\n");
    }
    out.push_str(&format!(
        "You are answering in a support ticket of the category \"{}\", opened by {}. Staff can take \
         over when the user asks for a human. If you are not sure of an answer, say so rather than \
         guessing.",
        situation.category, situation.opener_name
    ));
    if context.is_empty() {
        out.push_str("\n\nNo reference material matched this message.");
        return out;
    }
    out.push_str(
        "\n\nReference material from this server's staff, best match first. Prefer it over general \
         knowledge when it applies; ignore entries that do not.",
    );
    for (i, entry) in context.iter().enumerate() {
        match entry.kind {
            EntryKind::Training => out.push_str(&format!(
                "\n\n[{}] Answer the staff gave to \"{}\":\n{}",
                i + 1,
                entry.title,
                entry.body
            )),
            EntryKind::Knowledge => out.push_str(&format!(
                "\n\n[{}] {}{}:\n{}",
                i + 1,
                entry.title,
                entry
                    .source
                    .as_deref()
                    .map(|kb| format!(" (knowledge base \"{kb}\")"))
                    .unwrap_or_default(),
                entry.body
            )),
        }
    }
    out
}

/// A turn of the ticket's conversation for the model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Turn {
    /// The opener's messages are the user's; the bot's answers and staff messages are the assistant's.
    pub user: bool,
    pub text: String,
}

impl crate::history::TurnText for Turn {
    fn text(&self) -> &str {
        &self.text
    }

    fn is_user(&self) -> bool {
        self.user
    }
}

/// The conversation before the message being answered (`messages` oldest first, without it).
///
/// The opener's messages become user turns, answers and staff messages assistant turns (staff messages
/// marked as such, so the model knows a human said it). Notices (welcome, escalation) and other
/// members' messages are left out. Consecutive turns of one side are merged, as chat models expect
/// alternating turns.
pub fn history(messages: &[TicketMessage]) -> Vec<Turn> {
    let mut turns: Vec<Turn> = Vec::new();
    for m in messages {
        let m = &m.message;
        let (user, text) = match (m.author, m.source) {
            (TicketAuthor::Opener, _) => (true, m.content.clone()),
            (TicketAuthor::Staff, _) => (
                false,
                format!("(Staff member {}:) {}", m.author_name, m.content),
            ),
            (
                TicketAuthor::Bot,
                Some(ReplySource::Llm | ReplySource::Trained | ReplySource::Fallback),
            ) => (false, m.content.clone()),
            _ => continue,
        };
        match turns.last_mut() {
            Some(last) if last.user == user => {
                last.text.push_str("\n\n");
                last.text.push_str(&text);
            }
            _ => turns.push(Turn { user, text }),
        }
    }
    turns
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::desk::model::NewTicketMessage;
    use chrono::Utc;

    fn msg(
        author: TicketAuthor,
        source: Option<ReplySource>,
        name: &str,
        content: &str,
    ) -> TicketMessage {
        TicketMessage {
            id: 0,
            message: NewTicketMessage {
                ticket_id: 1,
                message_id: 1,
                author_id: 1,
                author_name: name.into(),
                author,
                content: content.into(),
                source,
                used: vec![],
                created_at: Utc::now(),
            },
        }
    }

    #[test]
    fn history_alternates_and_leaves_out_notices_and_bystanders() {
        let turns = history(&[
            msg(
                TicketAuthor::Bot,
                Some(ReplySource::Notice),
                "bot",
                "Welcome!",
            ),
            msg(TicketAuthor::Opener, None, "ann", "My order is late"),
            msg(TicketAuthor::Opener, None, "ann", "Order 42"),
            msg(
                TicketAuthor::Bot,
                Some(ReplySource::Llm),
                "bot",
                "Let me check.",
            ),
            msg(TicketAuthor::Member, None, "bob", "same here"),
            msg(TicketAuthor::Staff, None, "sam", "It ships today."),
            msg(TicketAuthor::Opener, None, "ann", "Thanks"),
        ]);
        assert_eq!(
            turns,
            vec![
                Turn {
                    user: true,
                    text: "My order is late\n\nOrder 42".into()
                },
                Turn {
                    user: false,
                    text: "Let me check.\n\n(Staff member sam:) It ships today.".into()
                },
                Turn {
                    user: true,
                    text: "Thanks".into()
                },
            ]
        );
    }

    #[test]
    fn instructions_carry_every_layer_and_numbered_references() {
        let s = TicketSituation {
            category: "Billing",
            opener_name: "ann",
            global_instructions: "Be kind.",
            guild_instructions: Some("We sell tea."),
        };
        let entry = |kind, title: &str, body: &str, source: Option<&str>| Scored {
            kind,
            id: 1,
            title: title.into(),
            body: body.into(),
            source: source.map(str::to_string),
            confidence: 0.5,
            lexical: 0.5,
            semantic: None,
            text_rank: 0,
        };
        let text = instructions(
            &s,
            &[
                entry(EntryKind::Training, "Refund?", "30 days.", None),
                entry(EntryKind::Knowledge, "Shipping", "2 days.", Some("faq")),
            ],
        );
        assert!(text.starts_with("Be kind.\n\nWe sell tea.\n\n"));
        assert!(text.contains("\"Billing\", opened by ann"));
        assert!(text.contains("[1] Answer the staff gave to \"Refund?\":\n30 days."));
        assert!(text.contains("[2] Shipping (knowledge base \"faq\"):\n2 days."));
        assert!(instructions(&s, &[]).ends_with("No reference material matched this message."));
    }
}
