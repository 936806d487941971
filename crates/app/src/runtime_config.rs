//! The runtime configuration in force, shared by every component.
//!
//! [`RuntimeConfigService`] owns the copy that components read (a `tokio::sync::watch` channel: reading is a
//! cheap `Arc` clone, and a change wakes every subscriber). Writes go through [`RuntimeConfigService::update`],
//! which validates, saves with optimistic concurrency (so two admins editing at once cannot silently
//! overwrite each other) and then publishes. [`RuntimeConfigService::reload`] re-reads the database; it is
//! the seam through which PostgreSQL LISTEN/NOTIFY (another instance changed the configuration) and the
//! periodic refresh arrive.

use crate::settings::ticket_bot::RuntimeSeeds;
use disconcierge_core::model::StoredRuntimeConfig;
use disconcierge_core::runtime_config::{RuntimeConfig, ValidationErrors};
use disconcierge_store::{Change, Store, StoreError};
use std::sync::Arc;
use tokio::sync::watch;

#[derive(Debug, thiserror::Error)]
pub enum RuntimeConfigError {
    #[error(transparent)]
    Invalid(#[from] ValidationErrors),
    #[error(
        "the configuration was changed by someone else in the meantime (now at version {current}); reload it, \
         re-apply your change and save again"
    )]
    Conflict { current: i64 },
    #[error("could not read or save the runtime configuration: {0}")]
    Store(#[from] StoreError),
}

#[derive(Clone)]
pub struct RuntimeConfigService {
    store: Arc<dyn Store>,
    tx: Arc<watch::Sender<Arc<StoredRuntimeConfig>>>,
}

impl RuntimeConfigService {
    /// Loads the stored configuration, writing the defaults on first start.
    pub async fn load_or_init(
        store: Arc<dyn Store>,
    ) -> Result<RuntimeConfigService, RuntimeConfigError> {
        Self::load_or_seed(store, &RuntimeSeeds::default()).await
    }

    /// Loads the stored configuration, writing the defaults with `seeds` applied on first start (the
    /// ticket bot's settings); a stored configuration is kept, and each seed it differs from is logged.
    pub async fn load_or_seed(
        store: Arc<dyn Store>,
        seeds: &RuntimeSeeds,
    ) -> Result<RuntimeConfigService, RuntimeConfigError> {
        let stored = match store.load_runtime_config().await? {
            Some(stored) => {
                for line in seeds.differences(&stored.config) {
                    tracing::warn!("{line}");
                }
                stored
            }
            None => {
                let mut config = RuntimeConfig::default();
                seeds.apply(&mut config);
                config.validate()?;
                tracing::info!(
                    seeded = !seeds.is_empty(),
                    "no runtime configuration stored yet; saving the defaults"
                );
                store
                    .save_runtime_config(&config, None, Some("init"))
                    .await?;
                store
                    .load_runtime_config()
                    .await?
                    .ok_or(StoreError::NotFound("runtime configuration"))?
            }
        };
        if let Err(errors) = stored.config.validate() {
            // Keep running with what is stored (it was valid for whoever saved it), but say what to fix.
            tracing::warn!(%errors, "the stored runtime configuration has invalid values; fix them in the admin UI");
        }
        let (tx, _) = watch::channel(Arc::new(stored));
        Ok(RuntimeConfigService {
            store,
            tx: Arc::new(tx),
        })
    }

    /// The configuration in force.
    pub fn current(&self) -> Arc<StoredRuntimeConfig> {
        self.tx.borrow().clone()
    }

    /// A receiver that sees every change.
    pub fn subscribe(&self) -> watch::Receiver<Arc<StoredRuntimeConfig>> {
        self.tx.subscribe()
    }

    /// Validates, saves (only if nobody saved since `expected_version`) and publishes a new configuration.
    pub async fn update(
        &self,
        config: RuntimeConfig,
        expected_version: i64,
        updated_by: &str,
    ) -> Result<Arc<StoredRuntimeConfig>, RuntimeConfigError> {
        config.validate()?;
        let saved = match self
            .store
            .save_runtime_config(&config, Some(expected_version), Some(updated_by))
            .await
        {
            Ok(saved) => Arc::new(saved),
            Err(StoreError::Conflict) => {
                // Someone else saved; make sure we serve their version, then tell the caller.
                self.reload().await?;
                return Err(RuntimeConfigError::Conflict {
                    current: self.current().version,
                });
            }
            Err(e) => return Err(e.into()),
        };
        tracing::info!(
            version = saved.version,
            by = updated_by,
            "runtime configuration changed"
        );
        self.publish(saved.clone());
        self.announce(Change::RuntimeConfig).await;
        Ok(saved)
    }

    /// Reloads the stored configuration here and asks every other instance to reload theirs and forget
    /// their caches (the admin action "reload"). Returns whether it changed here.
    pub async fn reload_everywhere(&self) -> Result<bool, RuntimeConfigError> {
        let changed = self.reload().await?;
        self.announce(Change::Reload).await;
        Ok(changed)
    }

    /// Tells the other instances; they catch up at their next periodic refresh if this fails.
    async fn announce(&self, change: Change) {
        if let Err(e) = self.store.notify(change).await {
            tracing::warn!(error = %e, ?change, "could not tell the other instances; they will catch up at their next refresh");
        }
    }

    /// Re-reads the stored configuration and publishes it if it is newer. Returns whether it changed.
    pub async fn reload(&self) -> Result<bool, RuntimeConfigError> {
        let Some(stored) = self.store.load_runtime_config().await? else {
            return Ok(false);
        };
        Ok(self.publish(Arc::new(stored)))
    }

    fn publish(&self, new: Arc<StoredRuntimeConfig>) -> bool {
        self.tx.send_if_modified(|current| {
            if new.version > current.version {
                *current = new;
                true
            } else {
                false
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use disconcierge_store::testing::TestDb;

    #[tokio::test]
    async fn reload_applies_only_a_newer_stored_configuration() {
        let db = TestDb::sqlite().await;
        let service = RuntimeConfigService::load_or_init(db.store.clone())
            .await
            .unwrap();
        let changes = service.subscribe();
        assert!(!service.reload().await.unwrap(), "nothing newer");
        let first = service.current();
        // Saved elsewhere (another instance, or by hand).
        let paused = RuntimeConfig {
            paused: true,
            ..first.config.clone()
        };
        db.store
            .save_runtime_config(&paused, Some(first.version), Some("elsewhere"))
            .await
            .unwrap();
        assert!(!service.current().config.paused);
        assert!(service.reload().await.unwrap());
        assert!(service.current().config.paused);
        assert_eq!(service.current().version, first.version + 1);
        assert!(changes.has_changed().unwrap(), "subscribers are woken");
        assert!(!service.reload().await.unwrap(), "applied once");
    }
}
