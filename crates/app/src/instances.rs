//! This instance in the database's list of instances: registered at startup, a heartbeat every
//! [`HEARTBEAT`] with the commands it is answering and its gateway's state, and marked stopped on a
//! graceful stop (a crashed instance just stops renewing its heartbeat). The admin interface lists them.

use crate::control::AppControl;
use disconcierge_core::model::Instance;
use disconcierge_store::Store;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// How often an instance renews its heartbeat (the admin interface shows it gone after three missed).
pub const HEARTBEAT: Duration = Duration::from_secs(10);

/// Keeps this instance's entry current.
pub(crate) struct Heartbeat {
    pub store: Arc<dyn Store>,
    pub control: Arc<AppControl>,
    /// `DC_INSTANCE_ID`.
    pub id: String,
    /// The build's version (and git revision).
    pub version: String,
}

impl Heartbeat {
    pub(crate) async fn run(self, cancel: CancellationToken) {
        let now = chrono::Utc::now();
        let instance = Instance {
            id: self.id.clone(),
            host: crate::settings::host_name().unwrap_or_else(|| "unknown".to_string()),
            version: self.version.clone(),
            started_at: now,
            heartbeat_at: now,
            stopped_at: None,
            commands_in_progress: 0,
            gateway: self.gateway(),
        };
        if let Err(e) = self.store.register_instance(&instance).await {
            tracing::warn!(error = %e, "could not register this instance; the admin interface will not list it");
        }
        let mut every =
            tokio::time::interval_at(tokio::time::Instant::now() + HEARTBEAT, HEARTBEAT);
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = cancel.cancelled() => break,
                _ = every.tick() => {}
            }
            if let Err(e) = self
                .store
                .instance_heartbeat(&self.id, chrono::Utc::now(), &self.gateway())
                .await
            {
                tracing::warn!(error = %e, "could not renew this instance's heartbeat");
            }
        }
        if let Err(e) = self
            .store
            .instance_stopped(&self.id, chrono::Utc::now())
            .await
        {
            tracing::warn!(error = %e, "could not record that this instance stopped");
        }
    }

    /// The gateway card's state, in a few words (only the gateway's: the full service status would start
    /// a check of the LLM backend).
    fn gateway(&self) -> String {
        let gateway = self.control.gateway_health();
        format!("{}: {}", gateway.level.label(), gateway.text)
    }
}
