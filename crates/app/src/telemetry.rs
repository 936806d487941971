//! Logging with one level per component, changeable while running.
//!
//! Every log event's target (its module path, or the `log` target of libraries such as sqlx) is mapped to
//! a component (see [`component_targets`]); a `tracing_subscriber::filter::Targets` built from the
//! per-component levels sits behind a reload handle, so a runtime-configuration change swaps the filter
//! without a restart and without touching the hot path of events that are filtered out.

use crate::settings::{LogFormat, LogSettings};
use disconcierge_core::log::{LogComponent, LogLevel};
use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::sync::Mutex;
use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{Registry, reload};

/// The target prefixes that belong to each component. Everything else is `general`.
pub fn component_targets(component: LogComponent) -> &'static [&'static str] {
    match component {
        LogComponent::General => &[],
        LogComponent::Discord => &["disconcierge_discord", "disconcierge_app::discord"],
        LogComponent::Llm => &["disconcierge_llm", "async_openai", "disconcierge_app::llm"],
        LogComponent::Database => &["disconcierge_store", "sqlx", "disconcierge_app::database"],
        LogComponent::Webhook => &["disconcierge_discord::webhook", "disconcierge_app::webhook"],
        LogComponent::Api => &["disconcierge_app::api", "tower_http", "axum"],
    }
}

/// Targets of the Discord library itself (`DC_DISCORD_DISCORDGO_LOG_LEVEL`).
const DISCORD_LIBRARY_TARGETS: &[&str] = &["twilight_gateway", "twilight_http", "twilight_model"];

fn filter_of(level: LogLevel) -> LevelFilter {
    match level {
        LogLevel::Off => LevelFilter::OFF,
        LogLevel::Error => LevelFilter::ERROR,
        LogLevel::Warn => LevelFilter::WARN,
        LogLevel::Info => LevelFilter::INFO,
        LogLevel::Debug => LevelFilter::DEBUG,
        LogLevel::Trace => LevelFilter::TRACE,
    }
}

/// Builds the filter for the given levels. `Targets` picks the longest matching prefix, so
/// `disconcierge_discord::webhook` (webhook) wins over `disconcierge_discord` (discord).
pub fn build_targets(
    levels: &BTreeMap<LogComponent, LogLevel>,
    discord_library: LogLevel,
) -> Targets {
    let general = levels
        .get(&LogComponent::General)
        .copied()
        .unwrap_or(LogLevel::Info);
    let mut targets = Targets::new().with_default(filter_of(general));
    for target in DISCORD_LIBRARY_TARGETS {
        targets = targets.with_target(*target, filter_of(discord_library));
    }
    for (component, level) in levels {
        for target in component_targets(*component) {
            targets = targets.with_target(*target, filter_of(*level));
        }
    }
    targets
}

/// Changes log levels of the installed subscriber.
pub struct TelemetryHandle {
    reload: reload::Handle<Targets, Registry>,
    env: LogSettings,
    current: Mutex<BTreeMap<LogComponent, LogLevel>>,
}

impl TelemetryHandle {
    /// Applies runtime overrides on top of the environment's levels. Cheap when nothing changed.
    pub fn apply(&self, overrides: &BTreeMap<LogComponent, LogLevel>) {
        let mut levels = self.env.levels.clone();
        levels.extend(overrides.iter().map(|(c, l)| (*c, *l)));
        let mut current = self.current.lock().unwrap_or_else(|p| p.into_inner());
        if *current == levels {
            return;
        }
        let targets = build_targets(&levels, self.env.discord_library);
        match self.reload.reload(targets) {
            Ok(()) => {
                set_log_max_level(&levels, self.env.discord_library);
                tracing::info!(levels = ?levels, "log levels changed");
                *current = levels;
            }
            Err(e) => tracing::error!(error = %e, "could not change log levels"),
        }
    }

    /// The levels in force, per component.
    pub fn levels(&self) -> BTreeMap<LogComponent, LogLevel> {
        self.current
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}

/// Lets `log` records (sqlx's, for one) through up to the most verbose level in use.
fn set_log_max_level(levels: &BTreeMap<LogComponent, LogLevel>, discord_library: LogLevel) {
    let max = levels
        .values()
        .copied()
        .chain([discord_library])
        .max()
        .unwrap_or(LogLevel::Info);
    log::set_max_level(match max {
        LogLevel::Off => log::LevelFilter::Off,
        LogLevel::Error => log::LevelFilter::Error,
        LogLevel::Warn => log::LevelFilter::Warn,
        LogLevel::Info => log::LevelFilter::Info,
        LogLevel::Debug => log::LevelFilter::Debug,
        LogLevel::Trace => log::LevelFilter::Trace,
    });
}

#[derive(Debug, thiserror::Error)]
#[error("could not install the logger: {0}")]
pub struct TelemetryError(String);

/// The daily-rotated log file of `DC_LOG_FILE`, its directory created, the newest `keep` kept.
fn log_file(
    path: &std::path::Path,
    keep: u32,
) -> Result<tracing_appender::rolling::RollingFileAppender, TelemetryError> {
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .filter(|n| !n.is_empty())
        .ok_or_else(|| {
            TelemetryError(format!(
                "DC_LOG_FILE={} names no file; give a file path such as /var/log/disconcierge/disconcierge.log",
                path.display()
            ))
        })?;
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => std::path::Path::new("."),
    };
    std::fs::create_dir_all(dir).map_err(|e| {
        TelemetryError(format!(
            "DC_LOG_FILE: could not create the directory {}: {e}; create it, or let disconcierge's user write there",
            dir.display()
        ))
    })?;
    tracing_appender::rolling::RollingFileAppender::builder()
        .rotation(tracing_appender::rolling::Rotation::DAILY)
        .filename_prefix(name)
        .max_log_files(usize::try_from(keep).unwrap_or(usize::MAX).max(1))
        .build(dir)
        .map_err(|e| {
            TelemetryError(format!(
                "DC_LOG_FILE: could not open a log file in {}: {e}; check that disconcierge's user may write there",
                dir.display()
            ))
        })
}

/// Installs the global subscriber (once per process) writing to stderr, so that stdout stays for command
/// output such as `config check`, and to `DC_LOG_FILE` when it is set (without colours, in the same
/// format).
pub fn init(settings: &LogSettings) -> Result<TelemetryHandle, TelemetryError> {
    let (filter, reload) =
        reload::Layer::new(build_targets(&settings.levels, settings.discord_library));
    let ansi = std::io::stderr().is_terminal();
    let (text, json) = match settings.format {
        LogFormat::Text => (
            Some(
                tracing_subscriber::fmt::layer()
                    .with_writer(std::io::stderr)
                    .with_ansi(ansi),
            ),
            None,
        ),
        LogFormat::Json => (
            None,
            Some(
                tracing_subscriber::fmt::layer()
                    .json()
                    .flatten_event(true)
                    .with_current_span(false)
                    .with_writer(std::io::stderr),
            ),
        ),
    };
    let file = settings
        .file
        .as_deref()
        .map(|path| log_file(path, settings.file_keep))
        .transpose()?;
    let (file_text, file_json) = match (file, settings.format) {
        (None, _) => (None, None),
        (Some(file), LogFormat::Text) => (
            Some(
                tracing_subscriber::fmt::layer()
                    .with_writer(file)
                    .with_ansi(false),
            ),
            None,
        ),
        (Some(file), LogFormat::Json) => (
            None,
            Some(
                tracing_subscriber::fmt::layer()
                    .json()
                    .flatten_event(true)
                    .with_current_span(false)
                    .with_writer(file),
            ),
        ),
    };
    Registry::default()
        .with(filter)
        .with(text)
        .with(json)
        .with(file_text)
        .with(file_json)
        .try_init()
        .map_err(|e| TelemetryError(e.to_string()))?;
    set_log_max_level(&settings.levels, settings.discord_library);
    Ok(TelemetryHandle {
        reload,
        env: settings.clone(),
        current: Mutex::new(settings.levels.clone()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use tracing::Level;
    use tracing_subscriber::layer::Filter;

    fn enabled(targets: &Targets, target: &str, level: Level) -> bool {
        targets.would_enable(target, &level)
    }

    #[test]
    fn each_component_gets_its_own_level() {
        let mut levels: BTreeMap<_, _> = LogComponent::ALL
            .iter()
            .map(|c| (*c, LogLevel::Info))
            .collect();
        levels.insert(LogComponent::Database, LogLevel::Warn);
        levels.insert(LogComponent::Llm, LogLevel::Debug);
        levels.insert(LogComponent::Webhook, LogLevel::Error);
        let t = build_targets(&levels, LogLevel::Warn);
        assert!(enabled(&t, "sqlx::query", Level::WARN));
        assert!(!enabled(&t, "sqlx::query", Level::INFO));
        assert!(!enabled(&t, "disconcierge_store::sqlite", Level::INFO));
        assert!(enabled(&t, "disconcierge_llm::openai", Level::DEBUG));
        assert!(enabled(&t, "disconcierge_app", Level::INFO));
        assert!(!enabled(&t, "disconcierge_app", Level::DEBUG));
        assert!(!enabled(&t, "twilight_gateway::shard", Level::INFO));
        // The more specific webhook target wins over the discord crate.
        assert!(enabled(&t, "disconcierge_discord::gateway", Level::INFO));
        assert!(!enabled(&t, "disconcierge_discord::webhook", Level::WARN));
        let _ = <Targets as Filter<Registry>>::max_level_hint(&t);
    }
}
