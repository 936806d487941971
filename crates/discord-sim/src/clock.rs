//! Time and identifiers.
//!
//! Discord's rules are full of deadlines (3 s to acknowledge an interaction, 15 min of interaction-token
//! validity). Tests must exercise them without sleeping, so the simulator reads time only through
//! [`SimClock`], which is the real clock plus an offset that a test can [`advance`](SimClock::advance).

use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use twilight_model::util::Timestamp;

/// Discord's epoch (2015-01-01T00:00:00Z) in Unix milliseconds; snowflakes count from it.
const DISCORD_EPOCH_MS: u64 = 1_420_070_400_000;

/// The simulator's clock: real time plus a test-controlled offset.
///
/// Only the simulator's *rules* follow it (ack window, token lifetime, message timestamps); network
/// timeouts and heartbeats stay on real time so a test cannot stall a client by advancing the clock.
#[derive(Debug, Default)]
pub struct SimClock {
    offset: Mutex<Duration>,
}

impl SimClock {
    /// Moves simulated time forward, e.g. past the 3-second acknowledgement window.
    pub fn advance(&self, by: Duration) {
        *self.offset.lock().unwrap_or_else(|e| e.into_inner()) += by;
    }

    /// How far the clock has been advanced so far.
    pub fn offset(&self) -> Duration {
        *self.offset.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The current simulated instant (monotonic).
    pub fn now(&self) -> Instant {
        Instant::now() + self.offset()
    }

    /// The current simulated wall-clock time.
    pub fn wall(&self) -> SystemTime {
        SystemTime::now() + self.offset()
    }

    /// The current simulated time as a Discord timestamp (what messages carry).
    pub fn timestamp(&self) -> Timestamp {
        let micros = self
            .wall()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_micros();
        Timestamp::from_micros(i64::try_from(micros).unwrap_or(i64::MAX))
            .expect("the current time is a valid timestamp")
    }

    /// The current simulated time in Unix seconds (webhook signature timestamps).
    pub fn unix_secs(&self) -> u64 {
        self.wall()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs()
    }
}

/// Generates snowflakes that are strictly increasing.
///
/// Each id gets its own millisecond in the timestamp part (bits 22 and up), running ahead of the real
/// clock if ids are made faster than one per millisecond. That keeps ids unique and ordered like
/// Discord's, and makes consecutive guild ids land on different shards (`(id >> 22) % shard_count`),
/// which is what sharding tests need.
#[derive(Debug, Default)]
pub(crate) struct Snowflakes {
    last_ms: u64,
}

impl Snowflakes {
    /// The next snowflake as a raw integer.
    pub(crate) fn next_raw(&mut self, clock: &SimClock) -> u64 {
        let now_ms = u64::try_from(
            clock
                .wall()
                .duration_since(UNIX_EPOCH)
                .unwrap_or_default()
                .as_millis(),
        )
        .unwrap_or(u64::MAX)
        .saturating_sub(DISCORD_EPOCH_MS);
        let ms = now_ms.max(self.last_ms + 1);
        self.last_ms = ms;
        // Worker id 1 so that no id is ever zero.
        (ms << 22) | (1 << 17)
    }

    /// The next snowflake as a typed twilight id.
    pub(crate) fn next<M>(&mut self, clock: &SimClock) -> twilight_model::id::Id<M> {
        twilight_model::id::Id::new(self.next_raw(clock))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snowflakes_increase_and_spread_over_shards() {
        let clock = SimClock::default();
        let mut ids = Snowflakes::default();
        let a = ids.next_raw(&clock);
        let b = ids.next_raw(&clock);
        assert!(b > a);
        assert_ne!(
            (a >> 22) % 2,
            (b >> 22) % 2,
            "consecutive ids alternate shards"
        );
    }

    #[test]
    fn advancing_the_clock_moves_timestamps() {
        let clock = SimClock::default();
        let before = clock.unix_secs();
        clock.advance(Duration::from_secs(3600));
        assert!(clock.unix_secs() >= before + 3600);
        assert_eq!(clock.offset(), Duration::from_secs(3600));
    }
}
