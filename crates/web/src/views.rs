//! What pages and API answers show of stored records: display-ready, with Discord ids as strings (they do
//! not fit a JavaScript number) and without any secret (interaction tokens, lease owners stay inside).

use crate::openapi::string_enum;
use chrono::{DateTime, Utc};
use disconcierge_core::model::{
    ChatCommand, ChatCommandState, ChatCommandStep, FeedbackKind, StoredFeedback, StoredLlmCall,
    TokenUsage,
};
use serde::Serialize;
use utoipa::ToSchema;

/// `2026-11-28 14:03:07 UTC`.
pub fn when(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

fn opt_when(t: Option<DateTime<Utc>>) -> String {
    t.map(when).unwrap_or_default()
}

/// `1.2 s`, `850 ms`, `3 min 5 s`.
pub fn elapsed(ms: i64) -> String {
    if ms < 0 {
        return String::new();
    }
    if ms < 1000 {
        format!("{ms} ms")
    } else if ms < 60_000 {
        format!("{:.1} s", ms as f64 / 1000.0)
    } else {
        format!("{} min {} s", ms / 60_000, (ms % 60_000) / 1000)
    }
}

/// The first `max` characters, with an ellipsis when cut.
pub fn excerpt(s: &str, max: usize) -> String {
    let mut out: String = s.chars().take(max).collect();
    if s.chars().nth(max).is_some() {
        out.push('…');
    }
    out
}

/// The sentence with its first letter in upper case (messages written for the API, shown on a page).
pub(crate) fn capitalize(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// Tokens consumed by one LLM answer (`disconcierge_core::model::TokenUsage`, described here: the core
/// crate does not depend on utoipa).
#[derive(ToSchema)]
#[schema(as = TokenUsage)]
#[allow(dead_code)] // describes the JSON of `TokenUsage` only; never built
pub(crate) struct TokenUsageSchema {
    prompt_tokens: u32,
    completion_tokens: u32,
    total_tokens: u32,
}

fn command_state_schema() -> utoipa::openapi::Object {
    string_enum(
        ChatCommandState::ALL.iter().map(|s| s.as_str()),
        "Where it is: `received`, `queued` and `in_progress` are live, the others final.",
    )
}

fn command_step_schema() -> utoipa::openapi::Object {
    string_enum(
        ChatCommandStep::ALL.iter().map(|s| s.as_str()),
        "How far its answer got.",
    )
}

fn feedback_kind_schema() -> utoipa::openapi::Object {
    string_enum(
        FeedbackKind::ALL.iter().map(|k| k.as_str()),
        "The button used, or `other` for \
        free-text feedback.",
    )
}

/// One chat command (`/chat` or `/private`).
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = ChatCommand)]
pub struct CommandView {
    pub id: i64,
    pub interaction_id: String,
    pub user_id: String,
    pub username: Option<String>,
    pub guild_id: Option<String>,
    pub channel_id: Option<String>,
    /// Sent with `/private`: answered in a private message.
    pub private: bool,
    pub prompt: String,
    pub response: Option<String>,
    pub error: Option<String>,
    #[schema(schema_with = command_state_schema)]
    pub state: &'static str,
    #[schema(schema_with = command_step_schema)]
    pub step: &'static str,
    pub priority: bool,
    pub attempts: u32,
    #[schema(value_type = Option<TokenUsageSchema>)]
    pub usage: Option<TokenUsage>,
    /// Whether it counts against the user's limit.
    pub usage_counted: bool,
    pub discord_message_id: Option<String>,
    pub created_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    /// From being recorded to being picked up by a worker.
    pub wait_ms: Option<i64>,
    /// From being picked up to being finished.
    pub answer_ms: Option<i64>,
}

impl CommandView {
    pub fn new(c: &ChatCommand, username: Option<String>) -> Self {
        let wait_ms = c.started_at.map(|s| (s - c.created_at).num_milliseconds());
        let answer_ms = match (c.started_at, c.finished_at) {
            (Some(s), Some(f)) => Some((f - s).num_milliseconds()),
            _ => None,
        };
        CommandView {
            id: c.id,
            interaction_id: c.interaction_id.to_string(),
            user_id: c.user_id.to_string(),
            username,
            guild_id: c.guild_id.map(|g| g.to_string()),
            channel_id: c.channel_id.map(|g| g.to_string()),
            private: c.private,
            prompt: c.prompt.clone(),
            response: c.response.clone(),
            error: c.error.clone(),
            state: c.state.as_str(),
            step: c.step.as_str(),
            priority: c.priority,
            attempts: c.attempts,
            usage: c.usage,
            usage_counted: c.usage_counted,
            discord_message_id: c.discord_message_id.map(|m| m.to_string()),
            created_at: c.created_at,
            started_at: c.started_at,
            finished_at: c.finished_at,
            wait_ms,
            answer_ms,
        }
    }

    // Helpers for the templates.

    pub fn created(&self) -> String {
        when(self.created_at)
    }

    pub fn started(&self) -> String {
        opt_when(self.started_at)
    }

    pub fn finished(&self) -> String {
        opt_when(self.finished_at)
    }

    pub fn wait(&self) -> String {
        self.wait_ms.map(elapsed).unwrap_or_default()
    }

    pub fn answer_time(&self) -> String {
        self.answer_ms.map(elapsed).unwrap_or_default()
    }

    pub fn prompt_excerpt(&self) -> String {
        excerpt(&self.prompt, 90)
    }

    pub fn who(&self) -> String {
        match &self.username {
            Some(name) => format!("{name} ({})", self.user_id),
            None => self.user_id.clone(),
        }
    }

    pub fn tokens(&self) -> String {
        self.usage
            .map(|u| {
                format!(
                    "{} ({} in, {} out)",
                    u.total_tokens, u.prompt_tokens, u.completion_tokens
                )
            })
            .unwrap_or_default()
    }

    pub fn total_tokens(&self) -> String {
        self.usage
            .map(|u| u.total_tokens.to_string())
            .unwrap_or_default()
    }
}

/// One call to the LLM backend, with its request and response as sent and received.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = LlmCall)]
pub struct LlmCallView {
    pub id: i64,
    pub provider: String,
    pub operation: String,
    pub model: Option<String>,
    pub http_status: Option<u16>,
    pub error: Option<String>,
    pub started_at: DateTime<Utc>,
    pub duration_ms: u64,
    #[schema(value_type = Option<TokenUsageSchema>)]
    pub usage: Option<TokenUsage>,
    /// The JSON body sent.
    pub request: serde_json::Value,
    /// The JSON body received, if any.
    pub response: Option<serde_json::Value>,
}

impl LlmCallView {
    pub fn new(c: &StoredLlmCall) -> Self {
        LlmCallView {
            id: c.id,
            provider: c.log.provider.clone(),
            operation: c.log.operation.clone(),
            model: c.log.model.clone(),
            http_status: c.log.http_status,
            error: c.log.error.clone(),
            started_at: c.log.started_at,
            duration_ms: c.log.duration_ms,
            usage: c.log.usage,
            request: c.log.request.clone(),
            response: c.log.response.clone(),
        }
    }

    pub fn started(&self) -> String {
        when(self.started_at)
    }

    pub fn duration(&self) -> String {
        elapsed(i64::try_from(self.duration_ms).unwrap_or(i64::MAX))
    }

    pub fn status(&self) -> String {
        self.http_status.map(|s| s.to_string()).unwrap_or_default()
    }

    pub fn request_pretty(&self) -> String {
        serde_json::to_string_pretty(&self.request).unwrap_or_default()
    }

    pub fn response_pretty(&self) -> String {
        self.response
            .as_ref()
            .map(|r| serde_json::to_string_pretty(r).unwrap_or_default())
            .unwrap_or_default()
    }

    pub fn tokens(&self) -> String {
        self.usage
            .map(|u| u.total_tokens.to_string())
            .unwrap_or_default()
    }
}

/// One feedback on an answer.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = Feedback)]
pub struct FeedbackView {
    pub id: i64,
    pub chat_command_id: i64,
    pub user_id: String,
    #[schema(schema_with = feedback_kind_schema)]
    pub kind: &'static str,
    /// The kind, in words.
    pub label: &'static str,
    pub detail: Option<String>,
    pub created_at: DateTime<Utc>,
}

impl FeedbackView {
    pub fn new(f: &StoredFeedback) -> Self {
        FeedbackView {
            id: f.id,
            chat_command_id: f.feedback.chat_command_id,
            user_id: f.feedback.user_id.to_string(),
            kind: f.feedback.kind.as_str(),
            label: f.feedback.kind.label(),
            detail: f.feedback.detail.clone(),
            created_at: f.feedback.created_at,
        }
    }

    pub fn created(&self) -> String {
        when(self.created_at)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_and_excerpts_read_well() {
        assert_eq!(elapsed(850), "850 ms");
        assert_eq!(elapsed(1250), "1.2 s");
        assert_eq!(elapsed(185_000), "3 min 5 s");
        assert_eq!(elapsed(-5), "");
        assert_eq!(excerpt("héllo world", 5), "héllo…");
        assert_eq!(excerpt("short", 5), "short");
    }
}
