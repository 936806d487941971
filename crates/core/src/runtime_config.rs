//! The runtime configuration: everything an admin can change while the bot runs.
//!
//! It is stored as one typed, versioned row (see the store crate) and edited live from the admin UI. Values
//! missing from a stored row take their defaults (`#[serde(default)]`), so adding a field never breaks an
//! existing database. [`RuntimeConfig::validate`] returns field-level errors that the UI shows next to the
//! field, and that the API returns as they are.

use crate::duration::serde_go;
use crate::log::{LogComponent, LogLevel};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

/// Discord limits that bound several settings.
pub mod discord_limits {
    /// Slash command and option descriptions.
    pub const DESCRIPTION_MAX: usize = 100;
    /// A message's content.
    pub const MESSAGE_MAX: usize = 2000;
    /// A string option's max_length.
    pub const STRING_OPTION_MAX: u32 = 6000;
    /// A modal's title and a text input's label.
    pub const MODAL_TITLE_MAX: usize = 45;
    /// A text input's placeholder.
    pub const PLACEHOLDER_MAX: usize = 100;
    /// A text input's min/max length.
    pub const TEXT_INPUT_MAX: u32 = 4000;
    /// A custom status.
    pub const CUSTOM_STATUS_MAX: usize = 128;
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct RuntimeConfig {
    // --- Operation ---
    /// Paused: only priority users' commands are answered; other users get `paused_message`, and what
    /// they queued before the pause waits (until it expires, or the bot resumes).
    pub paused: bool,
    pub paused_message: String,

    // --- Slash commands ---
    pub chat_command_description: String,
    pub chat_command_option_description: String,
    pub private_command_description: String,
    pub clear_command_description: String,
    /// Maximum length of a `/chat` or `/private` prompt, in characters.
    pub chat_command_max_length: u32,
    /// How many times a command is attempted before it is marked failed.
    pub chat_command_max_attempts: u32,
    /// Default number of commands per user per 6 hours (a user's own override wins).
    pub user_chat_command_limit_6h: u32,
    /// Minimum time between two `/clear` of one user.
    #[serde(with = "serde_go")]
    pub clear_command_cooldown: Duration,

    // --- LLM ---
    /// Requests per second to the LLM backend, across all users (and, with PostgreSQL, all instances).
    pub llm_requests_per_second: f64,
    /// Model name; empty means the one from `DC_OPENAI_MODEL` / `DC_OLLAMA_MODEL`.
    pub llm_model: String,
    /// System instructions sent with every request.
    pub llm_instructions: String,
    /// Sampling temperature, 0 to 2; `None` leaves it to the backend.
    pub llm_temperature: Option<f32>,
    /// Upper bound on generated tokens; `None` leaves it to the backend.
    pub llm_max_output_tokens: Option<u32>,
    /// Budget for conversation history sent with a request, in tokens (estimated for local backends).
    pub llm_max_context_tokens: u32,
    /// How long to wait for the first token before the attempt counts as failed.
    #[serde(with = "serde_go")]
    pub llm_first_token_timeout: Duration,
    /// How long a whole answer may take.
    #[serde(with = "serde_go")]
    pub llm_answer_timeout: Duration,

    // --- Discord ---
    /// Channel that receives feedback and error notifications; `None` disables them.
    pub discord_notification_channel_id: Option<String>,
    /// The bot's custom status (shown under its name); empty for none.
    pub discord_custom_status: String,
    /// Sent to a user when their command failed.
    pub discord_error_message: String,
    /// Sent when a user already has a command in progress.
    pub discord_busy_message: String,
    /// Sent when a user reached their 6 h limit. `{next}` is replaced by when the next command is available.
    pub discord_rate_limited_message: String,
    /// Sent when the queue was full and the user's command was dropped.
    pub discord_queue_full_message: String,
    /// Sent (privately) to an ignored user who uses a command; empty: nothing is shown, the command is
    /// acknowledged silently (never Discord's "The application did not respond").
    pub discord_ignored_message: String,

    // --- Feedback ---
    pub feedback_enabled: bool,
    pub feedback_modal_title: String,
    pub feedback_modal_input_label: String,
    pub feedback_modal_placeholder: String,
    pub feedback_modal_min_length: u32,
    pub feedback_modal_max_length: u32,

    // --- Support desk ---
    /// A trained answer whose confidence (0 to 1, see `desk::retrieval`) is at or above this is sent as
    /// is, without the LLM.
    pub desk_trained_answer_threshold: f64,
    /// When the LLM is down, the best trained answer at or above this is sent with
    /// `desk_fallback_note`; below it, `desk_staff_follow_up_message`.
    pub desk_fallback_threshold: f64,
    /// How many trained answers and knowledge entries the LLM gets as reference material.
    pub desk_context_entries: u32,
    /// Requests per second to the LLM backend for the support desk (ticket replies, `/test_ai`, the
    /// playground), a budget of its own beside `llm_requests_per_second` (`/chat`, `/private`), so that
    /// neither can starve the other.
    pub desk_llm_requests_per_second: f64,
    /// Requests per second to the LLM backend for the admin playground: a budget of its own, so that
    /// trying questions never holds back members' answers (nor the other way round).
    pub playground_llm_requests_per_second: f64,
    /// Posted first in a new ticket. `{user}` mentions the opener (the only ping allowed in it).
    pub desk_welcome_message: String,
    /// Appended (as small text) to a trained answer sent as is.
    pub desk_trained_note: String,
    /// Appended to a trained answer sent because the LLM is down.
    pub desk_fallback_note: String,
    /// Sent when the LLM is down and no trained answer is close enough.
    pub desk_staff_follow_up_message: String,
    /// Posted on escalation. `{staff}` pings the staff role (once per ticket), `{user}` names the opener.
    pub desk_escalation_message: String,
    /// Posted before an inactive ticket is closed. `{when}` is when it will close.
    pub desk_inactivity_warning: String,

    // --- Logging ---
    /// Per-component level overrides; a component not listed uses its `DC_*_LOG_LEVEL` from the environment.
    pub log_levels: BTreeMap<LogComponent, LogLevel>,
}

impl Default for RuntimeConfig {
    fn default() -> Self {
        RuntimeConfig {
            paused: false,
            paused_message:
                "I'm paused for maintenance right now. Please try again in a few minutes.".into(),
            chat_command_description: "Ask the assistant a question".into(),
            chat_command_option_description: "Your question".into(),
            private_command_description: "Ask the assistant privately (only you see the answer)"
                .into(),
            clear_command_description: "Start a new conversation (forget the previous messages)"
                .into(),
            chat_command_max_length: 1500,
            chat_command_max_attempts: 3,
            user_chat_command_limit_6h: 25,
            clear_command_cooldown: Duration::from_secs(10),
            llm_requests_per_second: 1.0,
            llm_model: String::new(),
            llm_instructions:
                "You are a helpful assistant for this Discord community. Answer clearly and \
                               concisely, using Discord markdown."
                    .into(),
            llm_temperature: None,
            llm_max_output_tokens: None,
            llm_max_context_tokens: 8000,
            llm_first_token_timeout: Duration::from_secs(60),
            llm_answer_timeout: Duration::from_secs(300),
            discord_notification_channel_id: None,
            discord_custom_status: String::new(),
            discord_error_message:
                "Sorry, something went wrong while answering. Please try again in a moment.".into(),
            discord_busy_message:
                "I'm still working on your previous question. Please wait for that answer \
                                   first."
                    .into(),
            discord_rate_limited_message:
                "You've reached your limit of questions for now. Your next one is \
                                           available {next}."
                    .into(),
            discord_queue_full_message:
                "I'm very busy right now and couldn't get to your question. Please try \
                                         again in a few minutes."
                    .into(),
            discord_ignored_message: String::new(),
            feedback_enabled: true,
            feedback_modal_title: "Tell us more".into(),
            feedback_modal_input_label: "What was wrong or missing?".into(),
            feedback_modal_placeholder: "The answer said X, but actually...".into(),
            feedback_modal_min_length: 5,
            feedback_modal_max_length: 2000,
            desk_trained_answer_threshold: 0.85,
            desk_fallback_threshold: 0.6,
            desk_llm_requests_per_second: 1.0,
            playground_llm_requests_per_second: 1.0,
            desk_context_entries: 5,
            desk_welcome_message: "Thanks for opening a ticket, {user}! Describe your problem in \
                                   this thread and our assistant will answer right away. Press \
                                   **Talk to a human** under any answer to reach the staff."
                .into(),
            desk_trained_note: "-# Saved answer from the staff".into(),
            desk_fallback_note: "-# Our assistant is unavailable right now; this saved answer from \
                                 the staff looked closest. Staff will follow up if it does not help."
                .into(),
            desk_staff_follow_up_message: "Our assistant can't answer right now. A staff member \
                                           will follow up here as soon as possible."
                .into(),
            desk_escalation_message: "{staff}: {user} would like to talk to a human.".into(),
            desk_inactivity_warning: "This ticket has been quiet for a while and will be closed \
                                      {when} unless someone writes here."
                .into(),
            log_levels: BTreeMap::new(),
        }
    }
}

/// One invalid field: which one, and what is wrong with it, in words an admin can act on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldError {
    pub field: &'static str,
    pub message: String,
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

/// All invalid fields of a configuration.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid runtime configuration: {}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
pub struct ValidationErrors(pub Vec<FieldError>);

struct Check(Vec<FieldError>);

impl Check {
    fn fail(&mut self, field: &'static str, message: String) {
        self.0.push(FieldError { field, message });
    }

    fn text(&mut self, field: &'static str, value: &str, min: usize, max: usize) {
        let len = value.chars().count();
        if len < min {
            self.fail(field, "must not be empty".into());
        } else if len > max {
            self.fail(
                field,
                format!("is {len} characters long; at most {max} are allowed"),
            );
        }
    }

    fn range<T: PartialOrd + fmt::Display + Copy>(
        &mut self,
        field: &'static str,
        value: T,
        min: T,
        max: T,
    ) {
        if !(value >= min && value <= max) {
            self.fail(
                field,
                format!("is {value}; it must be between {min} and {max}"),
            );
        }
    }
}

impl RuntimeConfig {
    /// Checks every field and returns all problems at once.
    pub fn validate(&self) -> Result<(), ValidationErrors> {
        use discord_limits::*;
        let mut c = Check(Vec::new());
        c.text("paused_message", &self.paused_message, 1, MESSAGE_MAX);
        c.text(
            "chat_command_description",
            &self.chat_command_description,
            1,
            DESCRIPTION_MAX,
        );
        c.text(
            "chat_command_option_description",
            &self.chat_command_option_description,
            1,
            DESCRIPTION_MAX,
        );
        c.text(
            "private_command_description",
            &self.private_command_description,
            1,
            DESCRIPTION_MAX,
        );
        c.text(
            "clear_command_description",
            &self.clear_command_description,
            1,
            DESCRIPTION_MAX,
        );
        c.range(
            "chat_command_max_length",
            self.chat_command_max_length,
            1,
            STRING_OPTION_MAX,
        );
        c.range(
            "chat_command_max_attempts",
            self.chat_command_max_attempts,
            1,
            10,
        );
        c.range(
            "user_chat_command_limit_6h",
            self.user_chat_command_limit_6h,
            1,
            100_000,
        );
        if self.clear_command_cooldown > Duration::from_secs(3600) {
            c.fail("clear_command_cooldown", "must be at most 1h".into());
        }
        for (field, rps) in [
            ("llm_requests_per_second", self.llm_requests_per_second),
            (
                "desk_llm_requests_per_second",
                self.desk_llm_requests_per_second,
            ),
            (
                "playground_llm_requests_per_second",
                self.playground_llm_requests_per_second,
            ),
        ] {
            if !rps.is_finite() {
                c.fail(field, "must be a number".into());
            } else {
                c.range(field, rps, 0.01, 1000.0);
            }
        }
        c.text("llm_model", &self.llm_model, 0, 200);
        c.text("llm_instructions", &self.llm_instructions, 0, 256_000);
        if let Some(t) = self.llm_temperature {
            if !t.is_finite() {
                c.fail("llm_temperature", "must be a number".into());
            } else {
                c.range("llm_temperature", t, 0.0, 2.0);
            }
        }
        if let Some(max) = self.llm_max_output_tokens {
            c.range("llm_max_output_tokens", max, 1, 1_000_000);
        }
        c.range(
            "llm_max_context_tokens",
            self.llm_max_context_tokens,
            100,
            10_000_000,
        );
        for (field, d) in [
            ("llm_first_token_timeout", self.llm_first_token_timeout),
            ("llm_answer_timeout", self.llm_answer_timeout),
        ] {
            // A Discord interaction token lives 15 minutes; an answer must fit inside it.
            if d < Duration::from_secs(1) || d > Duration::from_secs(14 * 60) {
                c.fail(
                    field,
                    "must be between 1s and 14m (an interaction token lives 15 minutes)".into(),
                );
            }
        }
        if self.llm_first_token_timeout > self.llm_answer_timeout {
            c.fail(
                "llm_first_token_timeout",
                "must not be longer than llm_answer_timeout".into(),
            );
        }
        if let Some(id) = self
            .discord_notification_channel_id
            .as_deref()
            .filter(|id| !is_snowflake(id))
        {
            c.fail(
                "discord_notification_channel_id",
                format!(
                    "{id:?} is not a Discord channel id (a number such as 1234567890123456789)"
                ),
            );
        }
        c.text(
            "discord_custom_status",
            &self.discord_custom_status,
            0,
            CUSTOM_STATUS_MAX,
        );
        c.text(
            "discord_error_message",
            &self.discord_error_message,
            1,
            MESSAGE_MAX,
        );
        c.text(
            "discord_busy_message",
            &self.discord_busy_message,
            1,
            MESSAGE_MAX,
        );
        c.text(
            "discord_rate_limited_message",
            &self.discord_rate_limited_message,
            1,
            MESSAGE_MAX,
        );
        c.text(
            "discord_queue_full_message",
            &self.discord_queue_full_message,
            1,
            MESSAGE_MAX,
        );
        c.text(
            "discord_ignored_message",
            &self.discord_ignored_message,
            0,
            MESSAGE_MAX,
        );
        c.text(
            "feedback_modal_title",
            &self.feedback_modal_title,
            1,
            MODAL_TITLE_MAX,
        );
        c.text(
            "feedback_modal_input_label",
            &self.feedback_modal_input_label,
            1,
            MODAL_TITLE_MAX,
        );
        c.text(
            "feedback_modal_placeholder",
            &self.feedback_modal_placeholder,
            0,
            PLACEHOLDER_MAX,
        );
        c.range(
            "feedback_modal_min_length",
            self.feedback_modal_min_length,
            0,
            TEXT_INPUT_MAX,
        );
        c.range(
            "feedback_modal_max_length",
            self.feedback_modal_max_length,
            1,
            TEXT_INPUT_MAX,
        );
        if self.feedback_modal_min_length > self.feedback_modal_max_length {
            c.fail(
                "feedback_modal_min_length",
                "must not be greater than feedback_modal_max_length".into(),
            );
        }
        for (field, value) in [
            (
                "desk_trained_answer_threshold",
                self.desk_trained_answer_threshold,
            ),
            ("desk_fallback_threshold", self.desk_fallback_threshold),
        ] {
            if !value.is_finite() {
                c.fail(field, "must be a number".into());
            } else {
                c.range(field, value, 0.0, 1.0);
            }
        }
        if self.desk_fallback_threshold > self.desk_trained_answer_threshold {
            c.fail(
                "desk_fallback_threshold",
                "must not be greater than desk_trained_answer_threshold".into(),
            );
        }
        c.range("desk_context_entries", self.desk_context_entries, 0, 20);
        // Placeholders grow when replaced (a mention is about 22 characters): leave room.
        let template_max = MESSAGE_MAX - 100;
        for (field, value) in [
            ("desk_welcome_message", &self.desk_welcome_message),
            (
                "desk_staff_follow_up_message",
                &self.desk_staff_follow_up_message,
            ),
            ("desk_escalation_message", &self.desk_escalation_message),
            ("desk_inactivity_warning", &self.desk_inactivity_warning),
        ] {
            c.text(field, value, 1, template_max);
        }
        // Notes are appended to an answer, which is split like any long answer; keep them short.
        c.text("desk_trained_note", &self.desk_trained_note, 0, 300);
        c.text("desk_fallback_note", &self.desk_fallback_note, 0, 300);
        if !self.desk_escalation_message.contains("{staff}") {
            c.fail(
                "desk_escalation_message",
                "must contain {staff}, where the staff role is pinged".into(),
            );
        }
        if c.0.is_empty() {
            Ok(())
        } else {
            Err(ValidationErrors(c.0))
        }
    }

    /// The log level of a component: the runtime override if any, else the given environment default.
    pub fn log_level(&self, component: LogComponent, env_default: LogLevel) -> LogLevel {
        self.log_levels
            .get(&component)
            .copied()
            .unwrap_or(env_default)
    }
}

/// A Discord id: a decimal number of up to 20 digits that fits in a u64.
pub fn is_snowflake(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 20
        && s.bytes().all(|b| b.is_ascii_digit())
        && s.parse::<u64>().is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn desk_thresholds_are_ordered_and_the_escalation_pings_staff() {
        assert!(RuntimeConfig::default().validate().is_ok());
        let bad = RuntimeConfig {
            desk_trained_answer_threshold: 0.5,
            desk_fallback_threshold: 0.6,
            desk_context_entries: 21,
            desk_escalation_message: "Someone wants a human.".into(),
            ..RuntimeConfig::default()
        };
        let fields: Vec<&str> = bad
            .validate()
            .unwrap_err()
            .0
            .iter()
            .map(|e| e.field)
            .collect();
        assert_eq!(
            fields,
            vec![
                "desk_fallback_threshold",
                "desk_context_entries",
                "desk_escalation_message"
            ]
        );
        let nan = RuntimeConfig {
            desk_trained_answer_threshold: f64::NAN,
            ..RuntimeConfig::default()
        };
        assert_eq!(
            nan.validate().unwrap_err().0[0].field,
            "desk_trained_answer_threshold"
        );
    }

    #[test]
    fn defaults_are_valid() {
        RuntimeConfig::default().validate().unwrap();
    }

    #[test]
    fn reports_every_bad_field_by_name() {
        let cfg = RuntimeConfig {
            chat_command_description: "x".repeat(101),
            llm_temperature: Some(3.5),
            feedback_modal_min_length: 50,
            feedback_modal_max_length: 10,
            discord_notification_channel_id: Some("general".into()),
            discord_error_message: String::new(),
            llm_requests_per_second: f64::NAN,
            ..RuntimeConfig::default()
        };
        let errs = cfg.validate().unwrap_err().0;
        let fields: Vec<_> = errs.iter().map(|e| e.field).collect();
        assert_eq!(
            fields,
            [
                "chat_command_description",
                "llm_requests_per_second",
                "llm_temperature",
                "discord_notification_channel_id",
                "discord_error_message",
                "feedback_modal_min_length",
            ]
        );
        assert!(
            errs[0].message.contains("101 characters"),
            "{}",
            errs[0].message
        );
        assert!(
            errs[2].message.contains("between 0 and 2"),
            "{}",
            errs[2].message
        );
    }

    #[test]
    fn a_stored_row_missing_new_fields_takes_defaults() {
        let cfg: RuntimeConfig =
            serde_json::from_str(r#"{"paused": true, "llm_answer_timeout": "2m"}"#).unwrap();
        assert!(cfg.paused);
        assert_eq!(cfg.llm_answer_timeout, Duration::from_secs(120));
        assert_eq!(
            cfg.chat_command_max_attempts,
            RuntimeConfig::default().chat_command_max_attempts
        );
    }

    #[test]
    fn json_round_trip_keeps_everything() {
        let mut cfg = RuntimeConfig::default();
        cfg.log_levels.insert(LogComponent::Llm, LogLevel::Debug);
        cfg.llm_temperature = Some(0.5);
        let json = serde_json::to_string(&cfg).unwrap();
        assert!(json.contains(r#""llm":"debug""#), "{json}");
        assert_eq!(serde_json::from_str::<RuntimeConfig>(&json).unwrap(), cfg);
        assert_eq!(
            cfg.log_level(LogComponent::Llm, LogLevel::Info),
            LogLevel::Debug
        );
        assert_eq!(
            cfg.log_level(LogComponent::Api, LogLevel::Warn),
            LogLevel::Warn
        );
    }

    #[test]
    fn snowflakes() {
        assert!(is_snowflake("1234567890123456789"));
        assert!(!is_snowflake(""));
        assert!(!is_snowflake("12a"));
        assert!(!is_snowflake("99999999999999999999"));
    }
}
