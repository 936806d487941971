//! Following the other instances that share the database: a change one of them announces
//! ([`disconcierge_store::Change`]) is acted on here at once — the runtime configuration reloaded, caches
//! forgotten, idle workers woken for commands queued elsewhere — and every
//! `DC_CLUSTER_REFRESH_INTERVAL` the configuration is reloaded and caches forgotten anyway, in case an
//! announcement was missed. On SQLite there is nobody to hear from: only the periodic refresh runs.

use crate::runtime_config::RuntimeConfigService;
use disconcierge_store::{Change, Store};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

/// What following the other instances acts on.
pub(crate) struct Follower {
    pub store: Arc<dyn Store>,
    pub runtime: RuntimeConfigService,
    /// The chat workers' wake-up: commands queued by another instance are claimed at once.
    pub wake: Arc<Notify>,
    /// `DC_CLUSTER_REFRESH_INTERVAL`.
    pub refresh_every: Duration,
}

impl Follower {
    /// Follows announcements and refreshes periodically until `cancel`.
    pub(crate) async fn run(self, cancel: CancellationToken) {
        let mut changes = match self.store.listen().await {
            Ok(changes) => changes,
            Err(e) => {
                tracing::warn!(error = %e, "could not listen for other instances' changes; they are picked up every DC_CLUSTER_REFRESH_INTERVAL instead");
                None
            }
        };
        let mut refresh = tokio::time::interval_at(
            tokio::time::Instant::now() + self.refresh_every,
            self.refresh_every,
        );
        refresh.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let change = tokio::select! {
                _ = cancel.cancelled() => return,
                _ = refresh.tick() => {
                    self.refresh("periodic refresh").await;
                    continue;
                }
                change = next(&mut changes) => change,
            };
            match change {
                Some(change) => self.apply(change).await,
                // The listener ended (the store is closing): refresh periodically only.
                None => changes = None,
            }
        }
    }

    async fn apply(&self, change: Change) {
        tracing::debug!(?change, "another instance announced a change");
        match change {
            Change::RuntimeConfig => self.reload_config().await,
            Change::Queued => self.wake.notify_one(),
            Change::Reload => self.refresh("reload asked on another instance").await,
            Change::Missed => {
                self.refresh("announcements may have been missed").await;
                // Commands queued meanwhile: let every idle worker look.
                self.wake.notify_waiters();
            }
        }
    }

    async fn reload_config(&self) {
        match self.runtime.reload().await {
            Ok(true) => tracing::info!(
                version = self.runtime.current().version,
                "runtime configuration changed on another instance; now in force here"
            ),
            Ok(false) => {}
            Err(e) => tracing::warn!(error = %e, "could not reload the runtime configuration"),
        }
    }

    async fn refresh(&self, why: &'static str) {
        tracing::debug!(why, "reloading the configuration and forgetting caches");
        self.store.clear_caches();
        self.reload_config().await;
    }
}

/// The next announced change, or never when there is no listener.
async fn next(changes: &mut Option<disconcierge_store::Changes>) -> Option<Change> {
    match changes {
        Some(c) => c.next().await,
        None => std::future::pending().await,
    }
}
