//! Records that the storage layer persists and the rest of the application reads.
//!
//! These are plain data: no SQL types, no Discord library types. Discord ids (snowflakes) are `u64` here,
//! as Discord defines them; the store keeps them in signed 64-bit columns (a lossless cast both ways).
//! Timestamps are UTC and are stored with microsecond precision, so a value read back may have lost its
//! nanoseconds.
//!
//! Two kinds of records live here: rows the store returns ([`User`], [`ChatCommand`], [`AdminAccount`],
//! ...), and inputs for rows that are only appended ([`InteractionLog`], [`LlmCallLog`], ...), for which
//! the store returns the new row's id.

use crate::runtime_config::RuntimeConfig;
use crate::secret::InteractionToken;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// A string that is not one of an enum's stored names, e.g. a state written by a newer version.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {what} {value:?}; expected one of: {expected}")]
pub struct UnknownVariant {
    pub what: &'static str,
    pub value: String,
    pub expected: String,
}

/// Declares a fieldless enum with a stable snake_case name per variant, used both in the database and in
/// JSON, with `as_str`, `ALL`, `Display` and `FromStr` (which accepts exactly the names `as_str` gives).
macro_rules! named_enum {
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident ($what:literal) {
            $( $(#[$vmeta:meta])* $variant:ident = $text:literal, )+
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(rename_all = "snake_case")]
        $vis enum $name {
            $( $(#[$vmeta])* $variant, )+
        }

        impl $name {
            /// Every variant, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The stable name, as stored in the database and used in JSON.
            pub fn as_str(self) -> &'static str {
                match self {
                    $( $name::$variant => $text, )+
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $name {
            type Err = UnknownVariant;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $( $text => Ok($name::$variant), )+
                    _ => Err(UnknownVariant {
                        what: $what,
                        value: s.to_string(),
                        expected: [$($text),+].join(", "),
                    }),
                }
            }
        }
    };
}

named_enum! {
    /// Where a chat command (`/chat`, `/private`) is in its life.
    ///
    /// `Received`, `Queued` and `InProgress` are live; every other state is final (see
    /// [`ChatCommandState::is_terminal`]).
    pub enum ChatCommandState ("chat command state") {
        /// Recorded, not yet admitted to the queue (limits not checked yet).
        Received = "received",
        /// Waiting for a worker.
        Queued = "queued",
        /// A worker holds the lease and is answering it.
        InProgress = "in_progress",
        /// Answered.
        Completed = "completed",
        /// Gave up after an error or after too many attempts.
        Failed = "failed",
        /// The interaction token expired (15 minutes) before the answer could be delivered.
        Expired = "expired",
        /// The user is ignored by an admin; nothing was answered.
        Ignored = "ignored",
        /// The user had reached their limit; nothing was answered.
        RateLimited = "rate_limited",
        /// Stopped on purpose (shutdown, admin action, queue full).
        Aborted = "aborted",
    }
}

impl ChatCommandState {
    /// Final states: nothing will happen to the command any more.
    pub fn is_terminal(self) -> bool {
        !matches!(
            self,
            ChatCommandState::Received | ChatCommandState::Queued | ChatCommandState::InProgress
        )
    }
}

named_enum! {
    /// What a worker is doing with a claimed chat command; shown in the admin UI and useful after a crash.
    pub enum ChatCommandStep ("chat command step") {
        /// In the queue, not started.
        Enqueued = "enqueued",
        /// Claimed by a worker: its conversation looked up or created, the model asked, the answer
        /// streaming into the Discord message (set by the claim itself, which saves a write per command).
        Generating = "generating",
        /// The model's answer is complete and stored with the tokens it used; it is being written to
        /// Discord with its feedback buttons. A command claimed again in this step delivers the stored
        /// answer instead of asking the model again.
        Finalizing = "finalizing",
        /// Finished (whatever the final state).
        Done = "done",
    }
}

named_enum! {
    /// A feedback button on an answer.
    pub enum FeedbackKind ("feedback kind") {
        /// "Good answer".
        Good = "good",
        /// "Outdated".
        Outdated = "outdated",
        /// "Inaccurate".
        Inaccurate = "inaccurate",
        /// Free-text feedback from a modal. May be given several times by one user on one answer.
        Other = "other",
    }
}

impl FeedbackKind {
    /// Whether one user may give this kind only once per answer (all but free-text `Other`).
    pub fn is_single_vote(self) -> bool {
        self != FeedbackKind::Other
    }

    /// The name people see ("Good", "Outdated"…).
    pub fn label(self) -> &'static str {
        match self {
            FeedbackKind::Good => "Good",
            FeedbackKind::Outdated => "Outdated",
            FeedbackKind::Inaccurate => "Inaccurate",
            FeedbackKind::Other => "Other",
        }
    }
}

/// A Discord user the bot has seen, with the per-user settings an admin can change.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct User {
    pub discord_id: u64,
    pub username: String,
    pub global_name: Option<String>,
    /// Priority users go first in the queue and are served while the bot is paused.
    pub priority: bool,
    /// Ignored users get no answers.
    pub ignored: bool,
    /// Commands per 6 hours for this user; `None` uses the runtime configuration's default.
    pub limit_override: Option<u32>,
    /// Per-user LLM settings; `None` uses the runtime configuration's.
    pub llm_model: Option<String>,
    pub llm_instructions: Option<String>,
    pub llm_temperature: Option<f32>,
    /// The user's current conversation with the LLM backend; `None` starts a new one (what `/clear` does).
    pub conversation_id: Option<String>,
    /// When an admin last cleared every conversation: the history disconcierge keeps starts after it.
    pub conversation_reset_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Tokens consumed by one LLM answer.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenUsage {
    pub prompt_tokens: u32,
    pub completion_tokens: u32,
    pub total_tokens: u32,
}

/// A `/chat` or `/private` command as received from Discord, to be recorded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewChatCommand {
    pub interaction_id: u64,
    /// Lets the bot answer the interaction for 15 minutes. Never printed, never serialized.
    #[serde(skip_serializing, default)]
    pub interaction_token: InteractionToken,
    pub token_expires_at: DateTime<Utc>,
    pub application_id: u64,
    /// The author; the user row must exist (upsert it first).
    pub user_id: u64,
    pub guild_id: Option<u64>,
    pub channel_id: Option<u64>,
    /// `/private`: the answer is ephemeral.
    pub private: bool,
    pub prompt: String,
    /// Usually [`ChatCommandState::Queued`]; commands that are refused at once (ignored, rate limited) are
    /// recorded in their final state.
    pub state: ChatCommandState,
    /// When Discord delivered it; the queue serves the oldest first.
    pub created_at: DateTime<Utc>,
}

/// A recorded chat command and everything that happened to it.
///
/// The interaction token is never serialized (it would let anyone answer as the bot while it is valid) and
/// never shown by `Debug`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChatCommand {
    pub id: i64,
    pub interaction_id: u64,
    #[serde(skip_serializing, default)]
    pub interaction_token: InteractionToken,
    pub token_expires_at: DateTime<Utc>,
    pub application_id: u64,
    pub user_id: u64,
    pub guild_id: Option<u64>,
    pub channel_id: Option<u64>,
    pub private: bool,
    pub prompt: String,
    /// The answer so far (while streaming) or the final answer.
    pub response: Option<String>,
    pub error: Option<String>,
    pub state: ChatCommandState,
    pub step: ChatCommandStep,
    /// Copied from the user when the command was recorded.
    pub priority: bool,
    /// How many times a worker claimed it.
    pub attempts: u32,
    pub usage: Option<TokenUsage>,
    /// Whether it consumed tokens and therefore counts toward the user's 6 hour limit.
    pub usage_counted: bool,
    /// The worker holding it and until when; another worker may take it over once the lease expired.
    pub lease_owner: Option<String>,
    pub lease_expires_at: Option<DateTime<Utc>>,
    /// The Discord message holding the answer.
    pub discord_message_id: Option<u64>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
}

/// How a worker ends a chat command it holds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChatCommandOutcome {
    /// Must be final ([`ChatCommandState::is_terminal`]).
    pub state: ChatCommandState,
    pub response: Option<String>,
    pub error: Option<String>,
    /// Tokens consumed, if any. A command that consumed tokens counts toward the user's limit, whatever
    /// its final state, because the cost was incurred.
    pub usage: Option<TokenUsage>,
    pub discord_message_id: Option<u64>,
}

impl ChatCommandOutcome {
    /// Whether this outcome makes the command count toward the user's 6 hour limit.
    pub fn counts_toward_limit(&self) -> bool {
        self.usage.is_some_and(|u| u.total_tokens > 0)
    }
}

/// An administrator of the web UI. The password hash (argon2id, computed by the caller) is neither
/// serialized nor shown by `Debug`.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdminAccount {
    pub id: i64,
    pub username: String,
    #[serde(skip_serializing, default)]
    pub password_hash: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl fmt::Debug for AdminAccount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AdminAccount")
            .field("id", &self.id)
            .field("username", &self.username)
            .field("password_hash", &"[REDACTED]")
            .field("created_at", &self.created_at)
            .field("updated_at", &self.updated_at)
            .finish()
    }
}

/// A logged-in admin. Only a hash of the session token is stored, so a leaked database does not leak
/// usable sessions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdminSession {
    pub token_hash: String,
    pub admin_id: i64,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

/// A bearer token for the JSON API, as stored (the token itself never is: only its hash).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApiToken {
    pub id: i64,
    /// The admin who created it; the token acts as this admin.
    pub admin_id: i64,
    /// What it is for, as its creator wrote it.
    pub name: String,
    #[serde(skip)]
    pub token_hash: String,
    /// The token's first characters, to recognise it.
    pub prefix: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
    pub last_used_at: Option<DateTime<Utc>>,
}

/// Any interaction received from Discord, kept for auditing and debugging.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InteractionLog {
    pub interaction_id: u64,
    /// e.g. `application_command`, `message_component`, `modal_submit`.
    pub interaction_type: String,
    pub user_id: Option<u64>,
    pub guild_id: Option<u64>,
    pub channel_id: Option<u64>,
    /// The interaction as received, without its token.
    pub payload: serde_json::Value,
    pub received_at: DateTime<Utc>,
}

/// A message someone wrote on Discord that concerns the bot (see [`crate::notice`]): it mentions the bot,
/// replies to one of its answers, or names one of its commands.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DiscordMessage {
    pub message_id: u64,
    pub channel_id: u64,
    pub guild_id: Option<u64>,
    /// Its author.
    pub user_id: Option<u64>,
    /// The chat command whose answer it replies to, if any.
    pub chat_command_id: Option<i64>,
    pub content: String,
    /// `{"noticed": "mention" | "reply" | "command_name", "message": <the message as Discord sent it>}`.
    pub payload: Option<serde_json::Value>,
    pub created_at: DateTime<Utc>,
}

/// One request to an LLM backend, successful or not.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LlmCallLog {
    pub chat_command_id: Option<i64>,
    /// e.g. `openai`, `ollama`.
    pub provider: String,
    /// e.g. `responses.create`, `chat`.
    pub operation: String,
    pub model: Option<String>,
    pub request: serde_json::Value,
    pub response: Option<serde_json::Value>,
    /// The HTTP status, when there was a response.
    pub http_status: Option<u16>,
    pub error: Option<String>,
    pub started_at: DateTime<Utc>,
    pub duration_ms: u64,
    pub usage: Option<TokenUsage>,
}

/// A `/clear` command: the user asked to start a new conversation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClearCommand {
    pub interaction_id: u64,
    pub user_id: u64,
    pub guild_id: Option<u64>,
    pub channel_id: Option<u64>,
    pub created_at: DateTime<Utc>,
}

/// A user's feedback on an answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UserFeedback {
    pub chat_command_id: i64,
    pub user_id: u64,
    pub kind: FeedbackKind,
    /// Free text (for [`FeedbackKind::Other`]).
    pub detail: Option<String>,
    pub created_at: DateTime<Utc>,
}

/// Which chat commands an admin list shows; each field set narrows it. Lists are newest first and
/// keyset-paginated: pass the smallest id of a page as `before_id` to get the next one (stable while new
/// commands arrive, and as fast on page 10,000 as on page 1).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ChatCommandFilter {
    pub user_id: Option<u64>,
    pub state: Option<ChatCommandState>,
    pub guild_id: Option<u64>,
    /// Created at or after.
    pub created_from: Option<DateTime<Utc>>,
    /// Created strictly before.
    pub created_before: Option<DateTime<Utc>>,
    /// Only ids below this one (the keyset cursor).
    pub before_id: Option<i64>,
}

/// Filters of the admin list of feedback (all optional), newest first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FeedbackFilter {
    pub kind: Option<FeedbackKind>,
    pub user_id: Option<u64>,
    /// Only ids below this one (the keyset cursor).
    pub before_id: Option<i64>,
}

/// A message about the bot as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredDiscordMessage {
    pub id: i64,
    #[serde(flatten)]
    pub message: DiscordMessage,
}

/// Filters of the admin list of messages about the bot (all optional), newest first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DiscordMessageFilter {
    /// The author.
    pub user_id: Option<u64>,
    pub channel_id: Option<u64>,
    /// Only ids below this one (the keyset cursor).
    pub before_id: Option<i64>,
}

/// An interaction log entry as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredInteractionLog {
    pub id: i64,
    #[serde(flatten)]
    pub log: InteractionLog,
}

/// Filters of the admin list of interaction logs (all optional), newest first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InteractionLogFilter {
    /// e.g. `application_command`.
    pub interaction_type: Option<String>,
    pub user_id: Option<u64>,
    /// Only ids below this one (the keyset cursor).
    pub before_id: Option<i64>,
}

/// How the admin list of users is ordered.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UserSort {
    /// Last seen first (a user's record is refreshed by each of their commands).
    #[default]
    Recent,
    /// By username, A to Z (Discord usernames are lower-case).
    Name,
}

/// Which users an admin list shows, and where the page starts (keyset: the sort key and id of the last
/// row of the previous page).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct UserFilter {
    /// Part of the username or display name (any case), or a whole Discord id.
    pub search: Option<String>,
    pub sort: UserSort,
    /// `(updated_at, id)` for [`UserSort::Recent`].
    pub after_recent: Option<(DateTime<Utc>, u64)>,
    /// `(username, id)` for [`UserSort::Name`].
    pub after_name: Option<(String, u64)>,
}

/// A stored [`LlmCallLog`] with its row id.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredLlmCall {
    pub id: i64,
    #[serde(flatten)]
    pub log: LlmCallLog,
}

/// A stored [`UserFeedback`] with its row id.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredFeedback {
    pub id: i64,
    #[serde(flatten)]
    pub feedback: UserFeedback,
}

/// The runtime configuration as stored: the value plus its version for optimistic concurrency.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredRuntimeConfig {
    pub config: RuntimeConfig,
    /// Starts at 1 and grows by one on every save. Send it back as `expected_version` to save a change
    /// only if nobody else saved in between.
    pub version: i64,
    pub updated_at: DateTime<Utc>,
    /// The admin who saved it; `None` for the application itself (first start, imports).
    pub updated_by: Option<String>,
}

/// One entry of the runtime configuration's history: every saved version is kept.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RuntimeConfigHistoryEntry {
    pub version: i64,
    pub config: serde_json::Value,
    pub updated_by: Option<String>,
    pub updated_at: DateTime<Utc>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip<T>(all: &[T])
    where
        T: Copy + fmt::Debug + PartialEq + fmt::Display + FromStr<Err = UnknownVariant> + Serialize,
    {
        let mut seen = std::collections::HashSet::new();
        for &v in all {
            let s = v.to_string();
            assert!(seen.insert(s.clone()), "duplicate name {s}");
            assert_eq!(s.parse::<T>().unwrap(), v, "{s}");
            // JSON uses the same names as the database.
            assert_eq!(serde_json::to_value(v).unwrap(), serde_json::json!(s));
        }
    }

    #[test]
    fn chat_command_states_round_trip() {
        round_trip(ChatCommandState::ALL);
        assert_eq!(ChatCommandState::ALL.len(), 9);
        assert_eq!(ChatCommandState::InProgress.as_str(), "in_progress");
        assert_eq!(ChatCommandState::RateLimited.as_str(), "rate_limited");
        assert_eq!(
            "rate_limited".parse::<ChatCommandState>().unwrap(),
            ChatCommandState::RateLimited
        );
        let err = "InProgress".parse::<ChatCommandState>().unwrap_err();
        assert_eq!(err.value, "InProgress");
        assert!(err.to_string().contains("in_progress"), "{err}");
    }

    #[test]
    fn only_live_states_are_not_terminal() {
        let live: Vec<_> = ChatCommandState::ALL
            .iter()
            .filter(|s| !s.is_terminal())
            .copied()
            .collect();
        assert_eq!(
            live,
            [
                ChatCommandState::Received,
                ChatCommandState::Queued,
                ChatCommandState::InProgress
            ]
        );
    }

    #[test]
    fn steps_and_feedback_kinds_round_trip() {
        round_trip(ChatCommandStep::ALL);
        round_trip(FeedbackKind::ALL);
        assert_eq!(
            "finalizing".parse::<ChatCommandStep>().unwrap(),
            ChatCommandStep::Finalizing
        );
        assert!("bad".parse::<FeedbackKind>().is_err());
        assert!(FeedbackKind::Good.is_single_vote());
        assert!(!FeedbackKind::Other.is_single_vote());
    }

    #[test]
    fn secrets_stay_out_of_debug_and_json() {
        let t = chrono::DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        let admin = AdminAccount {
            id: 1,
            username: "root".into(),
            password_hash: "$argon2id$v=19$secret".into(),
            created_at: t,
            updated_at: t,
        };
        assert!(!format!("{admin:?}").contains("argon2id"));
        assert!(!serde_json::to_string(&admin).unwrap().contains("argon2id"));

        let cmd = ChatCommand {
            id: 1,
            interaction_id: 2,
            interaction_token: "tok-secret".into(),
            token_expires_at: t,
            application_id: 3,
            user_id: 4,
            guild_id: None,
            channel_id: None,
            private: false,
            prompt: "hi".into(),
            response: None,
            error: None,
            state: ChatCommandState::Queued,
            step: ChatCommandStep::Enqueued,
            priority: false,
            attempts: 0,
            usage: None,
            usage_counted: false,
            lease_owner: None,
            lease_expires_at: None,
            discord_message_id: None,
            created_at: t,
            updated_at: t,
            started_at: None,
            finished_at: None,
        };
        assert!(!format!("{cmd:?}").contains("tok-secret"));
        let json = serde_json::to_string(&cmd).unwrap();
        assert!(!json.contains("tok-secret"), "{json}");
        let back: ChatCommand = serde_json::from_str(&json).unwrap();
        assert!(back.interaction_token.is_empty());
        assert_eq!(back.state, ChatCommandState::Queued);
    }

    #[test]
    fn outcome_counts_only_with_consumed_tokens() {
        let mut o = ChatCommandOutcome {
            state: ChatCommandState::Failed,
            response: None,
            error: Some("timeout".into()),
            usage: None,
            discord_message_id: None,
        };
        assert!(!o.counts_toward_limit());
        o.usage = Some(TokenUsage::default());
        assert!(!o.counts_toward_limit());
        o.usage = Some(TokenUsage {
            prompt_tokens: 10,
            completion_tokens: 0,
            total_tokens: 10,
        });
        assert!(o.counts_toward_limit());
    }
}

/// A disconcierge process using the database, as it last reported itself (several may share
/// PostgreSQL).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Instance {
    /// `DC_INSTANCE_ID` (by default the host name and process id).
    pub id: String,
    pub host: String,
    /// The version and git revision it runs.
    pub version: String,
    pub started_at: DateTime<Utc>,
    /// Renewed while it runs; an instance that stopped renewing it without saying so died.
    pub heartbeat_at: DateTime<Utc>,
    /// Set when it stopped gracefully.
    pub stopped_at: Option<DateTime<Utc>>,
    /// Chat commands it was answering at its last heartbeat.
    pub commands_in_progress: u32,
    /// Its Discord gateway, in a few words ("connected", "not used", "stopped: …").
    pub gateway: String,
}

impl Instance {
    /// Whether it is running: not stopped, and heard from within `grace` of `now`.
    pub fn alive(&self, now: DateTime<Utc>, grace: chrono::TimeDelta) -> bool {
        self.stopped_at.is_none() && now - self.heartbeat_at <= grace
    }
}
