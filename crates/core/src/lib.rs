//! The domain of disconcierge.
//!
//! Everything in this crate is plain data and plain logic: what a runtime configuration is and which values
//! are valid, how durations are written, which log components exist, what a chat command's states are.
//! It deliberately knows nothing about Discord, SQL or HTTP (see `ARCHITECTURE.md`), so that every rule
//! here can be unit-tested without a network or a database, and so that the adapters (store, discord, llm,
//! app) all agree on one vocabulary.

pub mod admission;
pub mod desk;
pub mod duration;
pub mod history;
pub mod limits;
pub mod log;
pub mod model;
pub mod notice;
pub mod runtime_config;
pub mod secret;
pub mod split;
pub mod stats;

pub use duration::{format_duration, parse_duration};
pub use runtime_config::RuntimeConfig;
