//! The login throttle's memory, shared by every instance: failed sign-ins counted per key (an account,
//! a client address) within a window, so that an attacker gets `max` tries per window in all, however
//! many instances the load balancer spreads them over.

use crate::StoreError;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use std::time::Duration;

/// Failed sign-ins by key.
#[async_trait]
pub trait ThrottleStore: Send + Sync {
    /// Until when sign-ins are refused for any of `keys`: some key has `max` failures or more in a
    /// window that has not ended at `now`. `None` when none is locked.
    async fn login_locked_until(
        &self,
        keys: &[String],
        max: u32,
        window: Duration,
        now: DateTime<Utc>,
    ) -> Result<Option<DateTime<Utc>>, StoreError>;

    /// Counts a failed sign-in for each key: a key whose window ended starts a new one at `now`.
    /// Windows ended long ago are forgotten on the way.
    async fn record_login_failure(
        &self,
        keys: &[String],
        window: Duration,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError>;

    /// Forgets the keys' failures (a successful sign-in).
    async fn clear_login_failures(&self, keys: &[String]) -> Result<(), StoreError>;
}
