//! What the admin interface may ask of the running application ([`disconcierge_web::Control`]): the
//! runtime configuration (through its service), a graceful stop, the state of Discord and the LLM
//! backend, registering the commands again, and the playground.
//!
//! Discord connects in the background after the admin interface is up, so the connected client arrives
//! later through [`DiscordSlot`]; until then the dashboard says "connecting" and registering commands is
//! refused with a message saying why.

use crate::llm::StoreSink;
use crate::playground::Playground;
use crate::runtime_config::{self, RuntimeConfigService};
use disconcierge_discord::{Discord, GatewayState};
use disconcierge_web::{ConfigUpdateError, Health, HealthLevel, ServiceStatus};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

/// The Discord client, once connected (set once by the Discord side).
pub(crate) type DiscordSlot = Arc<OnceLock<Discord>>;

/// With no LLM call for this long, opening the dashboard checks the backend (in the background).
const LLM_CHECK_AFTER: Duration = Duration::from_secs(300);

pub(crate) struct AppControl {
    pub runtime: RuntimeConfigService,
    pub stop: CancellationToken,
    pub discord: DiscordSlot,
    /// Whether `DC_DISCORD_TOKEN` is set (else Discord never connects).
    pub discord_configured: bool,
    pub gateway_enabled: bool,
    /// `DC_DISCORD_GUILD_ID` is set: commands are registered in that guild only.
    pub guild_scoped: bool,
    pub webhook: Option<(SocketAddr, Arc<disconcierge_discord::webhook::WebhookStats>)>,
    pub llm_sink: Arc<StoreSink>,
    pub playground: Playground,
    /// When the dashboard last started a check of the LLM backend.
    pub llm_check: Mutex<Option<Instant>>,
    /// `DC_INSTANCE_ID`.
    pub instance_id: String,
    /// Whether any server uses the support desk (set once Discord is connected, and by `/setup`).
    pub desk_in_use: Arc<std::sync::atomic::AtomicBool>,
}

#[async_trait::async_trait]
impl disconcierge_web::Control for AppControl {
    fn runtime_config(&self) -> Arc<disconcierge_core::model::StoredRuntimeConfig> {
        self.runtime.current()
    }

    async fn update_runtime_config(
        &self,
        config: disconcierge_core::RuntimeConfig,
        expected_version: i64,
        updated_by: &str,
    ) -> Result<Arc<disconcierge_core::model::StoredRuntimeConfig>, ConfigUpdateError> {
        use runtime_config::RuntimeConfigError;
        self.runtime
            .update(config, expected_version, updated_by)
            .await
            .map_err(|e| match e {
                RuntimeConfigError::Invalid(errors) => ConfigUpdateError::Invalid(errors),
                RuntimeConfigError::Conflict { current } => ConfigUpdateError::Conflict { current },
                RuntimeConfigError::Store(e) => ConfigUpdateError::Failed(e.to_string()),
            })
    }

    async fn reload_runtime_config(&self) -> Result<bool, String> {
        self.runtime
            .reload_everywhere()
            .await
            .map_err(|e| e.to_string())
    }

    fn shutdown(&self, requested_by: &str) {
        tracing::info!(
            by = requested_by,
            "shutdown requested from the admin interface"
        );
        self.stop.cancel();
    }

    fn instance_id(&self) -> String {
        self.instance_id.clone()
    }

    fn service_status(&self) -> ServiceStatus {
        ServiceStatus {
            gateway: self.gateway_health(),
            webhook: self.webhook_health(),
            llm: self.llm_health(),
        }
    }

    async fn register_commands(&self, requested_by: &str) -> Result<String, String> {
        let Some(discord) = self.discord.get() else {
            return Err(if self.discord_configured {
                "Discord is not connected yet (see the dashboard); try again once it is.".into()
            } else {
                "DC_DISCORD_TOKEN is not set, so disconcierge is not connected to Discord.".into()
            });
        };
        let config = self.runtime.current().config.clone();
        let texts = crate::command_texts(&config);
        tracing::info!(
            by = requested_by,
            "registering the slash commands (admin action)"
        );
        match discord.register_commands(&texts, true).await {
            Ok(_) => Ok(if self.guild_scoped {
                "The commands were registered in the configured server (DC_DISCORD_GUILD_ID); they work there at once."
                    .into()
            } else {
                "The commands were registered globally; Discord may take a few minutes to show changes everywhere."
                    .into()
            }),
            Err(e) => {
                tracing::error!(error = %e, "could not register the slash commands");
                Err(format!(
                    "Discord refused: {e}. Nothing changed; try again in a moment."
                ))
            }
        }
    }

    async fn playground(
        &self,
        ask: disconcierge_web::playground::PlaygroundAsk,
    ) -> Result<disconcierge_web::playground::PlaygroundRun, String> {
        self.playground.run(ask).await
    }
}

impl AppControl {
    pub(crate) fn gateway_health(&self) -> Health {
        if !self.discord_configured {
            return Health::new(HealthLevel::Off, "DC_DISCORD_TOKEN is not set");
        }
        if !self.gateway_enabled {
            return Health::new(
                HealthLevel::Off,
                "disabled (DC_DISCORD_GATEWAY_ENABLED=false): interactions arrive by webhook only",
            );
        }
        let Some(discord) = self.discord.get() else {
            return Health::new(HealthLevel::Pending, "connecting to Discord");
        };
        let problem = discord.gateway_problem();
        match discord.gateway_state() {
            GatewayState::Failed(problem) => Health::new(HealthLevel::Down, problem.summary()),
            GatewayState::Connecting => match problem {
                Some(p) => Health::new(
                    HealthLevel::Pending,
                    format!("connecting again after {}", p.summary()),
                ),
                None => Health::new(HealthLevel::Pending, "connecting"),
            },
            GatewayState::NotRunning => Health::new(
                HealthLevel::Down,
                "stopped (see the log); restart disconcierge to reconnect",
            ),
            GatewayState::Standby => Health::new(
                HealthLevel::Ok,
                "standing by: the other instances hold every shard; this one takes shards over when one of them stops",
            ),
            GatewayState::Connected { since } => {
                let shards = discord.gateway_shards_text();
                let connected = format!(
                    "connected since {}{shards}",
                    since.format("%Y-%m-%d %H:%M UTC")
                );
                // Messages without their text matter only once a server uses the desk.
                let blind = discord
                    .message_content_advice()
                    .filter(|_| self.desk_in_use.load(std::sync::atomic::Ordering::Relaxed));
                match (problem, blind) {
                    (Some(p), _) if p.degraded => Health::new(
                        HealthLevel::Degraded,
                        format!("{connected}. {}", p.summary()),
                    ),
                    (_, Some(advice)) => Health::new(
                        HealthLevel::Degraded,
                        format!(
                            "{connected}, but messages arrive without their text, so the AI cannot \
                             read tickets: {advice}."
                        ),
                    ),
                    (Some(p), None) => Health::new(
                        HealthLevel::Ok,
                        format!("{connected}. Last close: {}", p.summary()),
                    ),
                    (None, None) => Health::new(HealthLevel::Ok, connected),
                }
            }
        }
    }

    fn webhook_health(&self) -> Health {
        use std::sync::atomic::Ordering::Relaxed;
        match &self.webhook {
            None => Health::new(
                HealthLevel::Off,
                "disabled (DC_DISCORD_WEBHOOK_SERVER_ENABLED)",
            ),
            Some((addr, stats)) => Health::new(
                HealthLevel::Ok,
                format!(
                    "listening on {addr}; {} interactions accepted, {} refused (bad signature or stale)",
                    stats.accepted.load(Relaxed),
                    stats.rejected.load(Relaxed)
                ),
            ),
        }
    }

    /// From the last call to the backend (any call: answers, embeddings, checks). With none for a while,
    /// a check is started in the background; the next load of the dashboard shows its result.
    fn llm_health(&self) -> Health {
        let provider = self.playground.llm.provider();
        let last = self.llm_sink.last_call();
        let stale = last.as_ref().is_none_or(|c| {
            chrono::Utc::now() - c.at
                > chrono::TimeDelta::from_std(LLM_CHECK_AFTER).unwrap_or_default()
        });
        if stale {
            self.check_llm();
        }
        match last {
            None => Health::new(HealthLevel::Pending, format!("{provider}: checking…")),
            Some(c) => match c.error {
                None => Health::new(
                    HealthLevel::Ok,
                    format!(
                        "{provider}: last call ({}) {} answered in {} ms",
                        c.operation,
                        ago(c.at),
                        c.duration_ms
                    ),
                ),
                Some(e) => Health::new(
                    HealthLevel::Down,
                    format!(
                        "{provider}: last call ({}) {} failed: {e}",
                        c.operation,
                        ago(c.at)
                    ),
                ),
            },
        }
    }

    fn check_llm(&self) {
        let mut started = self.llm_check.lock().unwrap_or_else(|p| p.into_inner());
        if started.is_some_and(|at| at.elapsed() < LLM_CHECK_AFTER) {
            return;
        }
        *started = Some(Instant::now());
        let llm = self.playground.llm.clone();
        // The result reaches the sink like every call (and the call log).
        tokio::spawn(async move {
            if let Err(e) = llm.health().await {
                tracing::warn!(error = %e, "the LLM backend did not answer its health check");
            }
        });
    }
}

/// "12 s ago", "3 min ago", "2 h ago", "4 days ago".
fn ago(at: chrono::DateTime<chrono::Utc>) -> String {
    let s = (chrono::Utc::now() - at).num_seconds().max(0);
    match s {
        0..60 => format!("{s} s ago"),
        60..3600 => format!("{} min ago", s / 60),
        3600..86400 => format!("{} h ago", s / 3600),
        _ => format!("{} days ago", s / 86400),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_read_naturally() {
        let now = chrono::Utc::now();
        assert_eq!(ago(now - chrono::TimeDelta::seconds(12)), "12 s ago");
        assert_eq!(ago(now - chrono::TimeDelta::seconds(190)), "3 min ago");
        assert_eq!(ago(now - chrono::TimeDelta::hours(2)), "2 h ago");
        assert_eq!(ago(now - chrono::TimeDelta::days(4)), "4 days ago");
        // A clock a little ahead elsewhere never gives a negative age.
        assert_eq!(ago(now + chrono::TimeDelta::seconds(5)), "0 s ago");
    }
}
