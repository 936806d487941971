//! Request rates shared by every instance: the LLM backend's requests per second hold for all
//! instances together, not for each.
//!
//! On PostgreSQL each request reserves the next free slot of its rate in one statement (the database's
//! clock decides, so the instances' clocks need not agree) and waits until the slot comes. On SQLite
//! one process owns the file and keeps its rates in memory: [`RateStore::reserve_slot`] gives `None`.

use crate::StoreError;
use async_trait::async_trait;
use std::time::Duration;

/// The name of the LLM backend's request rate.
pub const LLM_RATE: &str = "llm";

/// The support desk's own budget of LLM requests (`desk_llm_requests_per_second`).
pub const DESK_LLM_RATE: &str = "llm-desk";

/// The admin playground's own budget (`playground_llm_requests_per_second`).
pub const PLAYGROUND_LLM_RATE: &str = "llm-playground";

/// Slots of shared request rates.
#[async_trait]
pub trait RateStore: Send + Sync {
    /// Reserves the next free slot of the rate `name`, one slot every `period`: how long to wait until
    /// it (zero when it is free now). `None` where no other instance can share the database (SQLite):
    /// the caller keeps the rate itself.
    async fn reserve_slot(
        &self,
        name: &str,
        period: Duration,
    ) -> Result<Option<Duration>, StoreError>;
}
