//! The runtime configuration: the version in force and its history.

use crate::StoreError;
use async_trait::async_trait;
use disconcierge_core::RuntimeConfig;
use disconcierge_core::model::{RuntimeConfigHistoryEntry, StoredRuntimeConfig};

/// The runtime configuration: the version in force and its history. A supertrait of [`crate::Store`];
/// both backends implement it.
#[async_trait]
pub trait ConfigStore: Send + Sync {
    /// The stored runtime configuration, or `None` before the first save.
    async fn load_runtime_config(&self) -> Result<Option<StoredRuntimeConfig>, StoreError>;

    /// Saves the runtime configuration and appends it to the history, atomically.
    ///
    /// `expected_version` gives optimistic concurrency to editors: `Some(v)` saves only if the stored
    /// version is still `v` (`Some(0)`: only if nothing is stored yet), otherwise returns
    /// [`StoreError::Conflict`] and changes nothing. `None` saves unconditionally (insert or overwrite);
    /// meant for the application itself, e.g. importing settings at first start. The returned version is
    /// the stored one plus one (1 for the first save).
    async fn save_runtime_config(
        &self,
        config: &RuntimeConfig,
        expected_version: Option<i64>,
        updated_by: Option<&str>,
    ) -> Result<StoredRuntimeConfig, StoreError>;

    /// The latest `limit` saved versions, newest first.
    async fn runtime_config_history(
        &self,
        limit: u32,
    ) -> Result<Vec<RuntimeConfigHistoryEntry>, StoreError>;
}
