//! The store's roles: one trait per concern, each a supertrait of [`crate::Store`], so that a caller
//! can name the part of the store it needs.

mod admins;
mod cluster;
mod config;
mod instances;
mod logs;
mod queue;
mod rate;
mod shards;
mod stats;
mod throttle;
mod users;

pub use admins::AdminStore;
pub use cluster::{CHANNEL, Change, Changes, ClusterStore};
pub use config::ConfigStore;
pub use instances::InstanceStore;
pub use logs::LogStore;
pub use queue::QueueStore;
pub use rate::{DESK_LLM_RATE, LLM_RATE, PLAYGROUND_LLM_RATE, RateStore};
pub use shards::{ClaimedShard, ShardHolding, ShardSession, ShardStore};
pub use stats::StatsStore;
pub use throttle::ThrottleStore;
pub use users::UserStore;
