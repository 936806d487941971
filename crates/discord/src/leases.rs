//! What the gateway's shards need from whatever keeps their leases (the application keeps them in the
//! database): claiming and renewing shards, keeping a shard's session for whoever takes it over, and
//! identify turns shared by every instance. Below both the gateway's shard loop ([`crate::gateway`])
//! and the supervisor spreading shards over instances ([`crate::shards`]).

use std::time::Duration;

/// A shard's Discord session, kept for whoever takes the shard over.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SavedSession {
    pub id: String,
    pub sequence: u64,
    pub resume_url: Option<String>,
}

/// A shard just claimed, with the session to resume if one was kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claimed {
    pub number: u32,
    pub session: Option<SavedSession>,
}

/// The shards this instance holds after a renewal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holding {
    /// How many it should hold.
    pub share: u32,
    /// Every shard it holds now, in order.
    pub held: Vec<u32>,
    /// The ones it just claimed.
    pub claimed: Vec<Claimed>,
}

/// An error of the lease keeper (the database), reported and retried at the next tick.
pub type LeaseError = Box<dyn std::error::Error + Send + Sync>;

/// Leases on shards, shared by every instance.
#[async_trait::async_trait]
pub trait ShardLeases: Send + Sync {
    /// How long a lease lasts unless renewed.
    fn lease(&self) -> Duration;
    /// Renews this instance's leases and claims free shards up to its share of `total`.
    async fn hold(&self, total: u32) -> Result<Holding, LeaseError>;
    /// Keeps shard `number`'s session (`None`: it ended).
    async fn save(&self, number: u32, session: Option<SavedSession>) -> Result<(), LeaseError>;
    /// Gives shards back at once; `leaving`: this instance stops running the gateway.
    async fn release(&self, numbers: &[u32], leaving: bool) -> Result<(), LeaseError>;
    /// Waits until identify bucket `bucket` may identify again (5 s apart for the whole bot).
    async fn identify_turn(&self, bucket: u32);
}
