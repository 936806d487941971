//! The gateway's shards spread over the instances that run the gateway, through leases: each instance
//! takes its share (the shard count divided by the instances seen within a lease, rounded up), renews
//! its leases, and keeps each shard's Discord session here so that whoever takes a shard over (after a
//! crash, once the lease ran out; after a graceful hand-over, at once) resumes it instead of starting a
//! new one, and no event is lost between the two.

use crate::StoreError;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use std::time::Duration;

/// A shard's Discord session, kept for the instance that takes the shard over.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShardSession {
    pub session_id: String,
    /// The last sequence number the holder handled.
    pub sequence: u64,
    /// Where Discord asked the session to be resumed.
    pub resume_url: Option<String>,
}

/// A shard an instance has just taken, with the session to resume if one was kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimedShard {
    pub number: u32,
    pub session: Option<ShardSession>,
}

/// What an instance holds after [`ShardStore::hold_shards`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShardHolding {
    /// How many shards this instance should hold: the count divided by the instances running the
    /// gateway, rounded up.
    pub share: u32,
    /// Every shard this instance holds now (those it just claimed included), in order.
    pub held: Vec<u32>,
    /// The shards it just claimed.
    pub claimed: Vec<ClaimedShard>,
}

/// Leases on the gateway's shards.
#[async_trait]
pub trait ShardStore: Send + Sync {
    /// For the instance `owner` running `total` shards: marks it as running the gateway, renews the
    /// leases it holds until `now + lease`, and claims free shards (never held, released, or whose
    /// lease ran out) up to its share. Shards of another count are forgotten (Discord asked for more
    /// shards: their sessions cannot be resumed with the new count).
    async fn hold_shards(
        &self,
        owner: &str,
        total: u32,
        lease: Duration,
        now: DateTime<Utc>,
    ) -> Result<ShardHolding, StoreError>;

    /// Keeps the session of a shard `owner` holds (`None` forgets it: the session ended).
    async fn save_shard_session(
        &self,
        owner: &str,
        number: u32,
        session: Option<&ShardSession>,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError>;

    /// Gives shards back at once (their sessions kept) for another instance to take over; with
    /// `leaving`, `owner` no longer counts as running the gateway.
    async fn release_shards(
        &self,
        owner: &str,
        numbers: &[u32],
        leaving: bool,
    ) -> Result<(), StoreError>;
}
