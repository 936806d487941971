//! The instances sharing the database: each registers itself at startup, renews a heartbeat while it
//! runs and says when it stops, so the admin interface can list them (several may share PostgreSQL).

use crate::StoreError;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use disconcierge_core::model::Instance;

/// The registry of running instances.
#[async_trait]
pub trait InstanceStore: Send + Sync {
    /// Registers (or registers again, after a restart with the same id) a starting instance.
    async fn register_instance(&self, instance: &Instance) -> Result<(), StoreError>;

    /// Renews an instance's heartbeat with what it is doing now: commands it is answering (those it
    /// holds the lease of) and its gateway's state. The count is read here, in the same statement.
    async fn instance_heartbeat(
        &self,
        id: &str,
        at: DateTime<Utc>,
        gateway: &str,
    ) -> Result<(), StoreError>;

    /// Marks an instance stopped (a graceful stop; a crashed one just stops renewing its heartbeat).
    async fn instance_stopped(&self, id: &str, at: DateTime<Utc>) -> Result<(), StoreError>;

    /// Instances heard from since `since` (running, or stopped since), newest start first.
    async fn instances(&self, since: DateTime<Utc>) -> Result<Vec<Instance>, StoreError>;
}
