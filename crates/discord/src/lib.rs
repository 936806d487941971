//! disconcierge's Discord side. This is the only crate that knows Discord's wire formats and clients
//! (twilight); the rest of the application talks to it in domain terms: an [`router::Incoming`] request
//! comes in, the application answers with an [`router::Ack`], and later edits or adds messages through
//! [`Discord`]'s methods.

pub mod client;
pub mod close_codes;
pub mod commands;
pub mod desk;
pub mod feedback;
pub mod gateway;
pub mod guilds;
pub mod leases;
pub mod markup;
pub mod respond;
pub mod router;
pub mod shards;
pub mod webhook;

pub use client::{Discord, DiscordConfig, GatewayState};
pub use close_codes::GatewayProblem;

/// What went wrong talking to Discord, with what was being attempted.
#[derive(Debug, Clone, thiserror::Error)]
pub enum DiscordError {
    #[error("Discord refused to {action} (HTTP {status}): {message}")]
    Refused {
        action: &'static str,
        status: u16,
        /// Discord's JSON error code (e.g. 10008 Unknown Message), when it sent one.
        code: Option<u64>,
        message: String,
        /// How long to wait before trying again, when Discord rate-limited the request (429).
        retry_after: Option<std::time::Duration>,
    },
    #[error("could not {action}: {message}")]
    Transport {
        action: &'static str,
        message: String,
    },
    #[error("Discord sent something we could not read: {0}")]
    Decode(String),
    #[error("Discord configuration: {0}")]
    Config(String),
}

impl DiscordError {
    pub(crate) fn from_http(action: &'static str, error: twilight_http::Error) -> DiscordError {
        match error.kind() {
            twilight_http::error::ErrorType::Response { status, body, .. } => {
                let json: Option<serde_json::Value> = serde_json::from_slice(body).ok();
                DiscordError::Refused {
                    action,
                    status: status.get(),
                    code: json.as_ref().and_then(|j| j["code"].as_u64()),
                    retry_after: json
                        .as_ref()
                        .and_then(|j| j["retry_after"].as_f64())
                        .filter(|s| s.is_finite() && *s >= 0.0)
                        .map(std::time::Duration::from_secs_f64),
                    message: json
                        .as_ref()
                        .and_then(|j| j["message"].as_str().map(str::to_string))
                        .unwrap_or_else(|| {
                            String::from_utf8_lossy(body).chars().take(300).collect()
                        }),
                }
            }
            _ => DiscordError::Transport {
                action,
                message: error.to_string(),
            },
        }
    }

    /// Discord's "Unknown Message/Webhook/Interaction": the acknowledgement may not be processed yet.
    pub fn is_unknown_target(&self) -> bool {
        matches!(self, DiscordError::Refused { status: 404, .. })
    }
}
