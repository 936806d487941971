//! The dashboard's statistics, from hourly rollups.

use crate::StoreError;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use disconcierge_core::stats::{Activity, StatsRange};

/// The dashboard's statistics, from hourly rollups. A supertrait of [`crate::Store`]; both backends
/// implement it.
#[async_trait]
pub trait StatsStore: Send + Sync {
    /// The dashboard's series over `range` at `now`: per bucket, chat commands by outcome, tokens,
    /// latency percentiles, feedback per kind, tickets opened and closed (see `core::stats`).
    ///
    /// Settled hours (ended more than an hour before `now`) are read from their rollup. Those without
    /// one are rolled up first, newest first, within [`ROLLUP_BUDGET_PER_REQUEST`](crate::ROLLUP_BUDGET_PER_REQUEST); any left are counted
    /// in `pending_hours` and their buckets marked incomplete ([`StatsStore::roll_up_activity`] finishes them).
    /// The last two hours are computed afresh each time and never stored; tickets are counted live.
    async fn activity(&self, range: StatsRange, now: DateTime<Utc>)
    -> Result<Activity, StoreError>;

    /// Rolls up the settled hours from `since` to `now` that have no rollup yet, newest first, until
    /// `budget` is spent (commands read plus [`ROLLUP_HOUR_COST`](crate::ROLLUP_HOUR_COST) per hour read; at least one hour is
    /// always rolled up). Hours before the first command and the first feedback cost nothing. A rollup is
    /// computed from `chat_commands` and `user_feedback` once and never changed; computing the same hour
    /// in several instances at once is harmless (the first insert stays). Returns how many settled hours
    /// from `since` are still without a rollup.
    async fn roll_up_activity(
        &self,
        since: DateTime<Utc>,
        now: DateTime<Utc>,
        budget: u64,
    ) -> Result<u32, StoreError>;
}
