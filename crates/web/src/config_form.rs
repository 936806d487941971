//! The runtime configuration as a form: one field per setting, in sections, read back with field-level
//! errors.
//!
//! The form works on the configuration's JSON form: a submitted form is laid over the current
//! configuration's JSON (so a setting this page does not know is kept, never reset), each field is parsed
//! by its kind with a message naming what is expected, and the result is deserialized and then validated
//! by the domain ([`RuntimeConfig::validate`]). A rejected form is shown again with what the admin typed,
//! so nothing they wrote is lost. A unit test checks that every setting has exactly one field here.

use disconcierge_core::RuntimeConfig;
use disconcierge_core::log::{LogComponent, LogLevel};
use disconcierge_core::runtime_config::FieldError;
use serde::Serialize;
use serde_json::{Map, Value};
use std::collections::BTreeMap;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Bool,
    Text,
    LongText,
    /// Empty means `null`.
    OptText,
    Integer,
    /// Empty means `null`.
    OptInteger,
    Number,
    /// Empty means `null`.
    OptNumber,
    /// Go-style duration: `30s`, `5m`, `1h30m`.
    Duration,
    /// `component=level` lines.
    LogLevels,
}

pub struct Field {
    pub name: &'static str,
    pub label: &'static str,
    pub help: &'static str,
    pub kind: Kind,
}

pub struct Section {
    pub title: &'static str,
    pub fields: &'static [Field],
}

macro_rules! field {
    ($name:literal, $kind:ident, $label:literal, $help:literal) => {
        Field {
            name: $name,
            label: $label,
            help: $help,
            kind: Kind::$kind,
        }
    };
}

pub const SECTIONS: &[Section] = &[
    Section {
        title: "Operation",
        fields: &[
            field!(
                "paused",
                Bool,
                "Paused",
                "Only priority users are answered; the others get the paused message, and what they queued before waits."
            ),
            field!(
                "paused_message",
                LongText,
                "Paused message",
                "Sent while paused."
            ),
        ],
    },
    Section {
        title: "Slash commands",
        fields: &[
            field!(
                "chat_command_description",
                Text,
                "/chat description",
                "Shown in Discord's command picker (re-register commands to apply)."
            ),
            field!(
                "chat_command_option_description",
                Text,
                "Prompt option description",
                "Shown for the prompt option of /chat and /private."
            ),
            field!(
                "private_command_description",
                Text,
                "/private description",
                ""
            ),
            field!("clear_command_description", Text, "/clear description", ""),
            field!(
                "chat_command_max_length",
                Integer,
                "Prompt maximum length",
                "In characters."
            ),
            field!(
                "chat_command_max_attempts",
                Integer,
                "Attempts per command",
                "How many times a command is tried before it fails."
            ),
            field!(
                "user_chat_command_limit_6h",
                Integer,
                "Commands per user per 6 hours",
                "Default limit; a user's own override wins."
            ),
            field!(
                "clear_command_cooldown",
                Duration,
                "/clear cooldown",
                "Minimum time between two /clear of one user, e.g. 10s."
            ),
        ],
    },
    Section {
        title: "LLM",
        fields: &[
            field!(
                "llm_model",
                Text,
                "Model",
                "Empty: the model from DC_OPENAI_MODEL / DC_OLLAMA_MODEL."
            ),
            field!(
                "llm_instructions",
                LongText,
                "Instructions",
                "System instructions sent with every request."
            ),
            field!(
                "llm_temperature",
                OptNumber,
                "Temperature",
                "0 to 2; empty leaves it to the backend."
            ),
            field!(
                "llm_max_output_tokens",
                OptInteger,
                "Maximum output tokens",
                "Empty leaves it to the backend."
            ),
            field!(
                "llm_max_context_tokens",
                Integer,
                "Conversation history budget",
                "Tokens of earlier exchanges sent with a request."
            ),
            field!(
                "llm_requests_per_second",
                Number,
                "Requests per second",
                "To the LLM backend, across all users."
            ),
            field!(
                "llm_first_token_timeout",
                Duration,
                "First token timeout",
                "An attempt fails when no token arrives within this, e.g. 60s."
            ),
            field!(
                "llm_answer_timeout",
                Duration,
                "Answer timeout",
                "The longest a whole answer may take, e.g. 5m."
            ),
        ],
    },
    Section {
        title: "Discord",
        fields: &[
            field!(
                "discord_notification_channel_id",
                OptText,
                "Notification channel id",
                "Feedback and errors are posted there; empty disables."
            ),
            field!(
                "discord_custom_status",
                Text,
                "Custom status",
                "Shown under the bot's name; empty for none."
            ),
            field!(
                "discord_error_message",
                LongText,
                "Error message",
                "Sent when an answer failed."
            ),
            field!(
                "discord_busy_message",
                LongText,
                "Busy message",
                "Sent when the user's previous command is still being answered."
            ),
            field!(
                "discord_rate_limited_message",
                LongText,
                "Limit reached message",
                "{next} becomes when the next command is available."
            ),
            field!(
                "discord_queue_full_message",
                LongText,
                "Queue full message",
                "Sent when the queue was full and the command dropped."
            ),
            field!(
                "discord_ignored_message",
                LongText,
                "Ignored user message",
                "Shown privately to an ignored user who uses a command. Empty: nothing is shown (the command is acknowledged silently)."
            ),
        ],
    },
    Section {
        title: "Feedback",
        fields: &[
            field!(
                "feedback_enabled",
                Bool,
                "Feedback buttons",
                "Show Good / Outdated / Inaccurate / Other under answers."
            ),
            field!(
                "feedback_modal_title",
                Text,
                "Modal title",
                "Title of the Other feedback form."
            ),
            field!("feedback_modal_input_label", Text, "Modal input label", ""),
            field!("feedback_modal_placeholder", Text, "Modal placeholder", ""),
            field!(
                "feedback_modal_min_length",
                Integer,
                "Minimum length",
                "Of the Other feedback text."
            ),
            field!(
                "feedback_modal_max_length",
                Integer,
                "Maximum length",
                "Of the Other feedback text."
            ),
        ],
    },
    Section {
        title: "Support desk",
        fields: &[
            field!(
                "desk_trained_answer_threshold",
                Number,
                "Trained answer threshold",
                "0 to 1. A trained answer matching a ticket message at least this well is sent as is, without the LLM (0.85: the same question, worded slightly differently)."
            ),
            field!(
                "desk_fallback_threshold",
                Number,
                "Fallback threshold",
                "0 to 1. When the LLM is down, the best trained answer at least this close is sent with the fallback note."
            ),
            field!(
                "desk_context_entries",
                Integer,
                "Reference entries",
                "Trained answers and knowledge entries given to the LLM with each ticket message (0 to 20)."
            ),
            field!(
                "desk_llm_requests_per_second",
                Number,
                "Requests per second",
                "To the LLM backend for ticket replies and /test_ai: a budget of its own, so that tickets and /chat cannot hold each other back."
            ),
            field!(
                "playground_llm_requests_per_second",
                Number,
                "Playground requests per second",
                "To the LLM backend for the admin playground: a budget of its own, so that trying questions never holds back members' answers."
            ),
            field!(
                "desk_welcome_message",
                LongText,
                "Welcome message",
                "First message of a new ticket. {user} mentions the opener."
            ),
            field!(
                "desk_trained_note",
                Text,
                "Trained answer note",
                "Added under a trained answer sent as is; empty for none."
            ),
            field!(
                "desk_fallback_note",
                LongText,
                "Fallback note",
                "Added under a trained answer sent because the LLM is down."
            ),
            field!(
                "desk_staff_follow_up_message",
                LongText,
                "Staff follow-up message",
                "Sent when the LLM is down and no trained answer is close enough."
            ),
            field!(
                "desk_escalation_message",
                LongText,
                "Escalation message",
                "Posted when a user asks for a human. {staff} pings the staff role (once per ticket), {user} names the opener."
            ),
            field!(
                "desk_inactivity_warning",
                LongText,
                "Inactivity warning",
                "Posted before an idle ticket is closed. {when} becomes when it closes."
            ),
        ],
    },
    Section {
        title: "Logging",
        fields: &[field!(
            "log_levels",
            LogLevels,
            "Log levels",
            "One component=level per line (components: general, discord, llm, database, webhook, api; levels: off, error, warn, info, debug, trace). Unlisted components use their DC_*_LOG_LEVEL."
        )],
    },
];

/// One field as the page shows it: its value as text, and an error if the last submission was refused.
#[derive(Debug, Clone, Serialize)]
pub struct FieldView {
    pub name: &'static str,
    pub label: &'static str,
    pub help: &'static str,
    pub kind: Kind,
    pub value: String,
    pub checked: bool,
    pub error: Option<String>,
}

impl FieldView {
    pub fn is(&self, kind: &str) -> bool {
        matches!(
            (self.kind, kind),
            (Kind::Bool, "bool")
                | (Kind::LongText, "long")
                | (Kind::LogLevels, "long")
                | (Kind::Integer, "number")
                | (Kind::OptInteger, "number")
                | (Kind::Number, "number")
                | (Kind::OptNumber, "number")
                | (Kind::Text, "text")
                | (Kind::OptText, "text")
                | (Kind::Duration, "text")
        )
    }

    /// The `step` of a number input.
    pub fn step(&self) -> &'static str {
        match self.kind {
            Kind::Number | Kind::OptNumber => "any",
            _ => "1",
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct SectionView {
    pub title: &'static str,
    pub fields: Vec<FieldView>,
}

// ----- OpenAPI -----

/// The runtime configuration's JSON (`disconcierge_core::RuntimeConfig`) in the OpenAPI document: every
/// setting, described from its form field ([`SECTIONS`], which a unit test keeps in step with the
/// settings), all present in answers.
pub(crate) struct RuntimeConfigSchema;

/// The settings of a configuration change: the same as [`RuntimeConfigSchema`], each optional.
pub(crate) struct RuntimeConfigChanges;

impl utoipa::PartialSchema for RuntimeConfigSchema {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        config_schema(
            true,
            "The runtime configuration: every setting, as the admin interface's configuration page \
             shows it.",
        )
    }
}

impl utoipa::ToSchema for RuntimeConfigSchema {
    fn name() -> std::borrow::Cow<'static, str> {
        "RuntimeConfig".into()
    }
}

impl utoipa::PartialSchema for RuntimeConfigChanges {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        config_schema(
            false,
            "Settings to change, by name (those of `RuntimeConfig`); settings left out keep their \
             current value. An unknown setting is refused (422).",
        )
    }
}

impl utoipa::ToSchema for RuntimeConfigChanges {
    fn name() -> std::borrow::Cow<'static, str> {
        "RuntimeConfigChanges".into()
    }
}

fn config_schema(
    all_required: bool,
    description: &str,
) -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
    use utoipa::openapi::schema::{ObjectBuilder, SchemaType, Type};
    let mut object = ObjectBuilder::new()
        .schema_type(Type::Object)
        .description(Some(description));
    for field in all_fields() {
        let nullable = |t: Type| SchemaType::from_iter([t, Type::Null]);
        let (schema_type, note): (SchemaType, &str) = match field.kind {
            Kind::Bool => (Type::Boolean.into(), ""),
            Kind::Text | Kind::LongText => (Type::String.into(), ""),
            Kind::OptText => (nullable(Type::String), ""),
            Kind::Integer => (Type::Integer.into(), ""),
            Kind::OptInteger => (nullable(Type::Integer), ""),
            Kind::Number => (Type::Number.into(), ""),
            Kind::OptNumber => (nullable(Type::Number), ""),
            Kind::Duration => (
                Type::String.into(),
                " A Go-style duration: `30s`, `5m`, `1h30m`.",
            ),
            Kind::LogLevels => (Type::Object.into(), ""),
        };
        let help = if field.kind == Kind::LogLevels {
            "The log level of each component that has its own, as `{\"llm\": \"debug\"}`; the \
             others use their `DC_*_LOG_LEVEL`."
        } else {
            field.help
        };
        let mut property = ObjectBuilder::new()
            .schema_type(schema_type)
            .title(Some(field.label))
            .description(
                Some(format!("{help}{note}").trim().to_string()).filter(|d| !d.is_empty()),
            );
        if field.kind == Kind::LogLevels {
            let levels = [
                LogLevel::Off,
                LogLevel::Error,
                LogLevel::Warn,
                LogLevel::Info,
                LogLevel::Debug,
                LogLevel::Trace,
            ];
            property = property
                .property_names(Some(
                    ObjectBuilder::new()
                        .schema_type(Type::String)
                        .enum_values(Some(LogComponent::ALL.iter().map(|c| c.as_str()))),
                ))
                .additional_properties(Some(
                    ObjectBuilder::new()
                        .schema_type(Type::String)
                        .enum_values(Some(levels.iter().map(|l| l.as_str()))),
                ));
        }
        object = object.property(field.name, property);
        if all_required {
            object = object.required(field.name);
        }
    }
    object.build().into()
}

fn all_fields() -> impl Iterator<Item = &'static Field> {
    SECTIONS.iter().flat_map(|s| s.fields.iter())
}

/// The setting's name as a `'static` string (field errors carry one), if `key` is a setting.
pub fn static_name(key: &str) -> Option<&'static str> {
    all_fields().find(|f| f.name == key).map(|f| f.name)
}

/// The text a field shows for a stored value.
fn display(kind: Kind, value: &Value) -> String {
    match (kind, value) {
        (_, Value::Null) => String::new(),
        (_, Value::String(s)) => s.clone(),
        (Kind::LogLevels, Value::Object(map)) => map
            .iter()
            .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default()))
            .collect::<Vec<_>>()
            .join("\n"),
        (_, other) => other.to_string(),
    }
}

/// The form showing `config`.
pub fn view(config: &RuntimeConfig) -> Vec<SectionView> {
    let json = serde_json::to_value(config).unwrap_or(Value::Null);
    SECTIONS
        .iter()
        .map(|section| SectionView {
            title: section.title,
            fields: section
                .fields
                .iter()
                .map(|f| {
                    let value = json.get(f.name).unwrap_or(&Value::Null);
                    FieldView {
                        name: f.name,
                        label: f.label,
                        help: f.help,
                        kind: f.kind,
                        value: display(f.kind, value),
                        checked: value.as_bool().unwrap_or(false),
                        error: None,
                    }
                })
                .collect(),
        })
        .collect()
}

/// The form showing what was submitted, with the errors next to their fields.
pub fn view_submitted(
    submitted: &BTreeMap<String, String>,
    errors: &[FieldError],
) -> Vec<SectionView> {
    SECTIONS
        .iter()
        .map(|section| SectionView {
            title: section.title,
            fields: section
                .fields
                .iter()
                .map(|f| FieldView {
                    name: f.name,
                    label: f.label,
                    help: f.help,
                    kind: f.kind,
                    value: submitted.get(f.name).cloned().unwrap_or_default(),
                    checked: submitted.contains_key(f.name),
                    error: errors
                        .iter()
                        .filter(|e| e.field == f.name)
                        .map(|e| e.message.clone())
                        .reduce(|a, b| format!("{a}; {b}")),
                })
                .collect(),
        })
        .collect()
}

fn parse_field(field: &Field, raw: Option<&str>) -> Result<Value, String> {
    let text = raw.unwrap_or("").trim();
    let number = |t: &str| -> Result<Value, String> {
        t.parse::<f64>()
            .ok()
            .filter(|n| n.is_finite())
            .and_then(serde_json::Number::from_f64)
            .map(Value::Number)
            .ok_or_else(|| format!("expected a number, got {t:?}"))
    };
    let integer = |t: &str| -> Result<Value, String> {
        t.parse::<u64>()
            .map(Value::from)
            .map_err(|_| format!("expected a whole number of 0 or more, got {t:?}"))
    };
    match field.kind {
        // Unchecked boxes are not submitted at all.
        Kind::Bool => Ok(Value::Bool(raw.is_some())),
        // Text keeps its spaces and line breaks as typed (normalized to \n).
        Kind::Text | Kind::LongText => Ok(Value::String(raw.unwrap_or("").replace("\r\n", "\n"))),
        Kind::OptText if text.is_empty() => Ok(Value::Null),
        Kind::OptText => Ok(Value::String(text.to_string())),
        Kind::Integer => integer(text),
        Kind::OptInteger if text.is_empty() => Ok(Value::Null),
        Kind::OptInteger => integer(text),
        Kind::Number => number(text),
        Kind::OptNumber if text.is_empty() => Ok(Value::Null),
        Kind::OptNumber => number(text),
        Kind::Duration => disconcierge_core::parse_duration(text)
            .map(|_| Value::String(text.to_string()))
            .map_err(|e| e.to_string()),
        Kind::LogLevels => {
            let mut map = Map::new();
            for (n, line) in text.lines().enumerate() {
                let line = line.trim();
                if line.is_empty() {
                    continue;
                }
                let at = || format!("line {}", n + 1);
                let (component, level) = line
                    .split_once('=')
                    .ok_or_else(|| format!("{}: expected component=level, got {line:?}", at()))?;
                let component: LogComponent =
                    serde_json::from_value(Value::String(component.trim().to_lowercase()))
                        .map_err(|_| {
                            format!(
                                "{}: unknown component {:?}; use one of {}",
                                at(),
                                component.trim(),
                                LogComponent::ALL.map(|c| c.as_str()).join(", ")
                            )
                        })?;
                let level: LogLevel = serde_json::from_value(Value::String(
                    level.trim().to_lowercase(),
                ))
                .map_err(|_| {
                    format!(
                        "{}: unknown level {:?}; use off, error, warn, info, debug or trace",
                        at(),
                        level.trim()
                    )
                })?;
                map.insert(
                    component.as_str().into(),
                    Value::String(level.as_str().into()),
                );
            }
            Ok(Value::Object(map))
        }
    }
}

/// Reads a submitted form on top of `current`. Errors name their field; the domain's validation runs on
/// the result (by the caller, through the application) only when every field could be read.
pub fn parse(
    current: &RuntimeConfig,
    submitted: &BTreeMap<String, String>,
) -> Result<RuntimeConfig, Vec<FieldError>> {
    let mut json = match serde_json::to_value(current) {
        Ok(Value::Object(map)) => map,
        _ => Map::new(),
    };
    let mut errors = Vec::new();
    for field in all_fields() {
        match parse_field(field, submitted.get(field.name).map(String::as_str)) {
            Ok(value) => {
                json.insert(field.name.to_string(), value);
            }
            Err(message) => errors.push(FieldError {
                field: field.name,
                message,
            }),
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    serde_json::from_value(Value::Object(json)).map_err(|e| {
        vec![FieldError {
            field: "form",
            message: format!("the settings could not be read: {e}"),
        }]
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    #[test]
    fn every_setting_has_exactly_one_field() {
        let json = serde_json::to_value(RuntimeConfig::default()).unwrap();
        let settings: BTreeSet<&str> = json
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        let fields: Vec<&str> = all_fields().map(|f| f.name).collect();
        let unique: BTreeSet<&str> = fields.iter().copied().collect();
        assert_eq!(fields.len(), unique.len(), "a setting appears twice");
        assert_eq!(settings, unique, "settings and form fields differ");
    }

    /// The form of a configuration, submitted as it is, gives the same configuration back.
    fn submit(view: &[SectionView]) -> BTreeMap<String, String> {
        view.iter()
            .flat_map(|s| s.fields.iter())
            .filter(|f| f.kind != Kind::Bool || f.checked)
            .map(|f| (f.name.to_string(), f.value.clone()))
            .collect()
    }

    #[test]
    fn round_trips_through_the_form() {
        let mut config = RuntimeConfig {
            paused: true,
            llm_temperature: Some(0.5),
            llm_max_output_tokens: Some(800),
            discord_notification_channel_id: Some("123456789012345678".into()),
            llm_answer_timeout: std::time::Duration::from_secs(90 * 60),
            llm_requests_per_second: 2.5,
            feedback_enabled: false,
            ..RuntimeConfig::default()
        };
        config.log_levels.insert(LogComponent::Llm, LogLevel::Debug);
        config
            .log_levels
            .insert(LogComponent::Discord, LogLevel::Warn);
        let form = submit(&view(&config));
        assert_eq!(parse(&RuntimeConfig::default(), &form).unwrap(), config);
        // Defaults too (null options, empty log levels).
        let form = submit(&view(&RuntimeConfig::default()));
        assert_eq!(parse(&config, &form).unwrap(), RuntimeConfig::default());
    }

    #[test]
    fn bad_fields_are_named_and_keep_what_was_typed() {
        let mut form = submit(&view(&RuntimeConfig::default()));
        form.insert("chat_command_max_length".into(), "lots".into());
        form.insert("llm_answer_timeout".into(), "5 parsecs".into());
        form.insert("log_levels".into(), "llm=debug\nnetwork=info".into());
        form.insert("llm_temperature".into(), "".into());
        let errors = parse(&RuntimeConfig::default(), &form).unwrap_err();
        let by_field: BTreeMap<&str, &str> = errors
            .iter()
            .map(|e| (e.field, e.message.as_str()))
            .collect();
        assert_eq!(by_field.len(), 3, "{errors:?}");
        assert!(by_field["chat_command_max_length"].contains("whole number"));
        assert!(by_field["llm_answer_timeout"].contains("expected a duration"));
        assert!(by_field["log_levels"].contains("line 2: unknown component \"network\""));
        let shown = view_submitted(&form, &errors);
        let field = |name: &str| {
            shown
                .iter()
                .flat_map(|s| s.fields.iter())
                .find(|f| f.name == name)
                .unwrap()
                .clone()
        };
        assert_eq!(field("chat_command_max_length").value, "lots");
        assert!(field("chat_command_max_length").error.is_some());
        assert_eq!(field("log_levels").value, "llm=debug\nnetwork=info");
        assert!(field("paused_message").error.is_none());
    }
}
