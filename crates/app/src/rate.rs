//! The rate of requests to the LLM backend, from the runtime configuration (`llm_requests_per_second`),
//! changeable live. Per process for now; with PostgreSQL the budget will be shared across instances.

use governor::clock::{Clock, DefaultClock};
use governor::middleware::NoOpMiddleware;
use governor::state::{InMemoryState, NotKeyed};
use governor::{Quota, RateLimiter};
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};
use std::time::Duration;

type Limiter<C> = RateLimiter<NotKeyed, InMemoryState, C, NoOpMiddleware<<C as Clock>::Instant>>;

/// A rate limiter rebuilt whenever the configured rate changes.
pub struct LlmRate<C: Clock = DefaultClock> {
    clock: C,
    current: Mutex<(f64, Arc<Limiter<C>>)>,
}

/// One request per `1 / rps` seconds, without bursts: requests are spread evenly.
fn quota(rps: f64) -> Quota {
    let period = Duration::from_secs_f64(1.0 / rps.clamp(0.001, 10_000.0));
    Quota::with_period(period)
        .unwrap_or_else(|| Quota::per_second(NonZeroU32::MIN))
        .allow_burst(NonZeroU32::MIN)
}

impl LlmRate<DefaultClock> {
    pub fn new(rps: f64) -> Self {
        Self::with_clock(rps, DefaultClock::default())
    }

    /// Waits until a request may be sent at `rps` requests per second.
    pub async fn acquire(&self, rps: f64) {
        self.limiter(rps).until_ready().await;
    }
}

impl<C: Clock + Clone> LlmRate<C> {
    pub fn with_clock(rps: f64, clock: C) -> Self {
        let limiter = Arc::new(RateLimiter::direct_with_clock(quota(rps), clock.clone()));
        LlmRate {
            clock,
            current: Mutex::new((rps, limiter)),
        }
    }

    fn limiter(&self, rps: f64) -> Arc<Limiter<C>> {
        let mut current = self.current.lock().unwrap_or_else(|p| p.into_inner());
        if current.0 != rps {
            *current = (
                rps,
                Arc::new(RateLimiter::direct_with_clock(
                    quota(rps),
                    self.clock.clone(),
                )),
            );
        }
        current.1.clone()
    }

    /// Takes a slot now if one is free (used by tests with a fake clock).
    pub fn try_acquire(&self, rps: f64) -> bool {
        self.limiter(rps).check().is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use governor::clock::FakeRelativeClock;

    #[test]
    fn spreads_requests_at_the_configured_rate_and_follows_changes() {
        let clock = FakeRelativeClock::default();
        let rate = LlmRate::with_clock(2.0, clock.clone());
        assert!(rate.try_acquire(2.0));
        assert!(
            !rate.try_acquire(2.0),
            "no burst: the next slot is 500 ms later"
        );
        clock.advance(Duration::from_millis(499));
        assert!(!rate.try_acquire(2.0));
        clock.advance(Duration::from_millis(1));
        assert!(rate.try_acquire(2.0));
        // Raised live to 10/s: slots every 100 ms.
        assert!(rate.try_acquire(10.0));
        clock.advance(Duration::from_millis(100));
        assert!(rate.try_acquire(10.0));
        assert!(!rate.try_acquire(10.0));
    }
}
