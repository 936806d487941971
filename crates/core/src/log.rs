//! Log components and levels.
//!
//! Each part of the bot logs under one component so that an admin can turn, say, `llm` up to `debug` while
//! everything else stays at `info`, live. The names are DisConcierge's (`DC_<COMPONENT>_LOG_LEVEL`).

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// A part of the application with its own log level.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LogComponent {
    General,
    Discord,
    Llm,
    Database,
    Webhook,
    Api,
}

impl LogComponent {
    pub const ALL: [LogComponent; 6] = [
        LogComponent::General,
        LogComponent::Discord,
        LogComponent::Llm,
        LogComponent::Database,
        LogComponent::Webhook,
        LogComponent::Api,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            LogComponent::General => "general",
            LogComponent::Discord => "discord",
            LogComponent::Llm => "llm",
            LogComponent::Database => "database",
            LogComponent::Webhook => "webhook",
            LogComponent::Api => "api",
        }
    }
}

impl fmt::Display for LogComponent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A log level. Reads DisConcierge's spelling (`INFO`, `WARN`, `DEBUG`, `ERROR`) and the usual lower-case
/// names, plus `off` and `trace`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogLevel {
    Off,
    Error,
    Warn,
    Info,
    Debug,
    Trace,
}

impl LogLevel {
    pub fn as_str(self) -> &'static str {
        match self {
            LogLevel::Off => "off",
            LogLevel::Error => "error",
            LogLevel::Warn => "warn",
            LogLevel::Info => "info",
            LogLevel::Debug => "debug",
            LogLevel::Trace => "trace",
        }
    }
}

impl fmt::Display for LogLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("expected one of off, error, warn, info, debug, trace, got {0:?}")]
pub struct LogLevelError(pub String);

impl FromStr for LogLevel {
    type Err = LogLevelError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s.trim().to_ascii_lowercase().as_str() {
            "off" | "none" => LogLevel::Off,
            // Python's logging names (the ticket bot's LOG_LEVEL) too.
            "error" | "err" | "critical" | "fatal" => LogLevel::Error,
            "warn" | "warning" => LogLevel::Warn,
            "info" => LogLevel::Info,
            "debug" => LogLevel::Debug,
            "trace" => LogLevel::Trace,
            _ => return Err(LogLevelError(s.to_string())),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_go_and_rust_spellings() {
        assert_eq!("INFO".parse::<LogLevel>().unwrap(), LogLevel::Info);
        assert_eq!("WARN".parse::<LogLevel>().unwrap(), LogLevel::Warn);
        assert_eq!("warning".parse::<LogLevel>().unwrap(), LogLevel::Warn);
        assert_eq!("CRITICAL".parse::<LogLevel>().unwrap(), LogLevel::Error);
        assert_eq!("debug".parse::<LogLevel>().unwrap(), LogLevel::Debug);
        assert!("loud".parse::<LogLevel>().is_err());
    }
}
