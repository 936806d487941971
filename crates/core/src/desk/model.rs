//! Records of the support desk that the store persists: guild settings, tickets and their messages,
//! trained answers, knowledge bases and their entries. Everything is scoped by guild: no query of the
//! store returns another guild's rows.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// A guild's ticket settings, written by `/setup`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GuildSettings {
    pub guild_id: u64,
    /// The forum channel tickets are opened in (one post per ticket).
    pub forum_channel_id: u64,
    /// The role that is pinged on escalation and may use staff commands.
    pub staff_role_id: u64,
    /// Where ticket events (opened, escalated, closed) are posted; `None` for nowhere.
    pub log_channel_id: Option<u64>,
    /// Extra instructions for AI replies in this guild's tickets (appended to the global ones).
    pub instructions: Option<String>,
    /// Close tickets with no message for this long (a warning is posted first); `None` never.
    pub auto_close_after_secs: Option<u64>,
    /// The bot replies in this server's tickets (trained answers and the model's); off, staff answer.
    pub ai_replies: bool,
    /// Trained answers are added (`/train`, `/import_training`) and used in replies.
    pub training: bool,
    /// AI replies to one member (not staff) in 6 hours, in all of this server's tickets; 0: no limit.
    pub member_replies_per_6h: u32,
    /// The least time between two AI replies to one member, in seconds; 0: none.
    pub member_reply_interval_secs: u32,
    pub updated_by: u64,
    pub updated_at: DateTime<Utc>,
}

/// A member's AI replies in a server's tickets within a window (the per-member limits).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct MemberReplies {
    pub count: u32,
    /// When the first and the last of them were asked (the member's messages).
    pub first: Option<DateTime<Utc>>,
    pub last: Option<DateTime<Utc>>,
}

/// Where a ticket is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TicketState {
    /// The AI answers the opener.
    Open,
    /// Someone asked for a human: staff were pinged, the AI stays silent until staff re-enable it.
    Escalated,
    Closed,
}

impl TicketState {
    pub fn as_str(self) -> &'static str {
        match self {
            TicketState::Open => "open",
            TicketState::Escalated => "escalated",
            TicketState::Closed => "closed",
        }
    }

    pub fn parse(s: &str) -> Option<TicketState> {
        match s {
            "open" => Some(TicketState::Open),
            "escalated" => Some(TicketState::Escalated),
            "closed" => Some(TicketState::Closed),
            _ => None,
        }
    }
}

/// A ticket to open: reserved first, then given its forum post.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewTicket {
    pub guild_id: u64,
    pub category: String,
    pub opener_id: u64,
    pub opener_name: String,
    pub created_at: DateTime<Utc>,
}

/// A ticket as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Ticket {
    pub id: i64,
    pub guild_id: u64,
    /// The forum post (a thread) the ticket lives in; `None` while reserved, before the post exists.
    pub thread_id: Option<u64>,
    pub category: String,
    pub opener_id: u64,
    pub opener_name: String,
    pub state: TicketState,
    /// When the ticket was escalated (kept after staff re-enable the AI).
    pub escalated_at: Option<DateTime<Utc>>,
    pub close_reason: Option<String>,
    pub closed_by: Option<u64>,
    pub closed_at: Option<DateTime<Utc>>,
    /// When the inactivity warning was posted; cleared by any new message.
    pub inactivity_warned_at: Option<DateTime<Utc>>,
    /// The member of staff who claimed (owns) the ticket, and when.
    pub claimed_by: Option<u64>,
    pub claimed_at: Option<DateTime<Utc>>,
    pub message_count: u32,
    pub created_at: DateTime<Utc>,
    pub last_activity_at: DateTime<Utc>,
}

/// Who wrote a message in a ticket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TicketAuthor {
    /// The user who opened the ticket.
    Opener,
    /// A member with the staff role (or Manage Server).
    Staff,
    /// Anyone else in the thread.
    Member,
    /// The bot: an AI reply, a trained answer, a fallback or a notice.
    Bot,
}

impl TicketAuthor {
    pub fn as_str(self) -> &'static str {
        match self {
            TicketAuthor::Opener => "opener",
            TicketAuthor::Staff => "staff",
            TicketAuthor::Member => "member",
            TicketAuthor::Bot => "bot",
        }
    }

    pub fn parse(s: &str) -> Option<TicketAuthor> {
        match s {
            "opener" => Some(TicketAuthor::Opener),
            "staff" => Some(TicketAuthor::Staff),
            "member" => Some(TicketAuthor::Member),
            "bot" => Some(TicketAuthor::Bot),
            _ => None,
        }
    }
}

/// How a bot message in a ticket was produced.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReplySource {
    /// Generated by the LLM.
    Llm,
    /// A trained answer above the confidence threshold, sent as is.
    Trained,
    /// The LLM was down: the best trained answer above the lower threshold, with a note.
    Fallback,
    /// The LLM was down and nothing matched: staff will follow up.
    StaffFollowUp,
    /// Anything else the bot posts (welcome, escalation, closing, inactivity warning).
    Notice,
}

impl ReplySource {
    pub fn as_str(self) -> &'static str {
        match self {
            ReplySource::Llm => "llm",
            ReplySource::Trained => "trained",
            ReplySource::Fallback => "fallback",
            ReplySource::StaffFollowUp => "staff_follow_up",
            ReplySource::Notice => "notice",
        }
    }

    pub fn parse(s: &str) -> Option<ReplySource> {
        match s {
            "llm" => Some(ReplySource::Llm),
            "trained" => Some(ReplySource::Trained),
            "fallback" => Some(ReplySource::Fallback),
            "staff_follow_up" => Some(ReplySource::StaffFollowUp),
            "notice" => Some(ReplySource::Notice),
            _ => None,
        }
    }
}

/// Which stored entry a reply used, and how well it matched.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct UsedEntry {
    pub kind: EntryKind,
    pub id: i64,
    /// Calibrated confidence, 0 to 1 (see [`crate::desk::retrieval`]).
    pub confidence: f64,
}

/// A message in a ticket, to record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewTicketMessage {
    pub ticket_id: i64,
    /// The Discord message; unique, so a message delivered twice is stored once.
    pub message_id: u64,
    pub author_id: u64,
    pub author_name: String,
    pub author: TicketAuthor,
    pub content: String,
    /// For bot messages: how it was produced.
    pub source: Option<ReplySource>,
    /// For bot replies: the entries used to answer.
    pub used: Vec<UsedEntry>,
    pub created_at: DateTime<Utc>,
}

/// A message in a ticket as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TicketMessage {
    pub id: i64,
    #[serde(flatten)]
    pub message: NewTicketMessage,
}

/// Which tickets an admin list shows (all optional), newest first, keyset-paginated.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TicketFilter {
    pub guild_id: Option<u64>,
    pub state: Option<TicketState>,
    pub opener_id: Option<u64>,
    pub before_id: Option<i64>,
}

/// Trained answers and knowledge-base entries: the two kinds of retrievable entries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EntryKind {
    Training,
    Knowledge,
}

impl EntryKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EntryKind::Training => "training",
            EntryKind::Knowledge => "knowledge",
        }
    }
}

/// A question and its answer, taught by staff with `/train`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewTrainingEntry {
    pub guild_id: u64,
    pub question: String,
    pub answer: String,
    pub category: Option<String>,
    pub tags: Vec<String>,
    pub created_by: u64,
}

/// A trained answer as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainingEntry {
    pub id: i64,
    pub guild_id: u64,
    pub question: String,
    pub answer: String,
    pub category: Option<String>,
    pub tags: Vec<String>,
    pub created_by: u64,
    /// How many replies used it (sent as is, as a fallback, or as context).
    pub uses: u32,
    pub last_used_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// What saving a trained answer did.
#[derive(Debug, Clone, PartialEq)]
pub enum TrainOutcome {
    /// A new entry.
    Created(TrainingEntry),
    /// The same question (after normalisation) was trained before in this guild: its answer was replaced.
    Updated {
        entry: TrainingEntry,
        previous_answer: String,
    },
}

/// Counts for `/training_stats`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TrainingStats {
    pub entries: u64,
    /// Entries per category (`None`: uncategorised), most first.
    pub by_category: Vec<(Option<String>, u64)>,
    /// The most used entries, most first (at most 5).
    pub most_used: Vec<TrainingEntry>,
    /// Bot replies in tickets produced by the LLM, by a trained answer, or as a fallback.
    pub replies: u64,
    /// Of those, replies that were a trained answer sent as is.
    pub trained_replies: u64,
}

/// A knowledge base: a named collection of entries in one guild.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KnowledgeBase {
    pub id: i64,
    pub guild_id: u64,
    /// Unique in the guild, compared case-insensitively.
    pub name: String,
    pub description: Option<String>,
    pub created_by: u64,
    pub entry_count: u64,
    pub created_at: DateTime<Utc>,
}

/// An entry to add to a knowledge base.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewKbEntry {
    pub title: String,
    pub content: String,
    pub tags: Vec<String>,
}

/// A knowledge-base entry as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KbEntry {
    pub id: i64,
    pub kb_id: i64,
    pub guild_id: u64,
    pub title: String,
    pub content: String,
    pub tags: Vec<String>,
    pub created_by: u64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A full-text match from the store: the entry's text and its rank in the database's ranking (BM25 on
/// SQLite, `ts_rank_cd` on PostgreSQL; the scales differ, only the order is used).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TextMatch {
    pub kind: EntryKind,
    pub id: i64,
    /// Training: the question. Knowledge: the title.
    pub title: String,
    /// Training: the answer. Knowledge: the content.
    pub body: String,
    pub tags: Vec<String>,
    /// Knowledge: the knowledge base's name.
    pub source: Option<String>,
    /// The stored embedding, when one was computed with the model in force.
    pub embedding: Option<Vec<f32>>,
}
