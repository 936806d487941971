//! The rate of requests to the LLM backend, from the runtime configuration (`llm_requests_per_second`),
//! changeable live.
//!
//! On PostgreSQL the rate holds for every instance together: each request reserves the next slot in the
//! database ([`RateStore`]) and waits for it, so three instances at 2 requests a second send 2 a second
//! in all, not 6. Should the database not answer, the request is paced by this process alone (a warning
//! says so) rather than held up. On SQLite one process owns the database and keeps the rate in memory.

use disconcierge_store::{DESK_LLM_RATE, LLM_RATE, PLAYGROUND_LLM_RATE, RateStore};
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
    /// Where the rate is shared with other instances (any store: SQLite answers that it is not).
    shared: Option<Arc<dyn RateStore>>,
    /// The shared rate's name in the store ([`LLM_RATE`], [`DESK_LLM_RATE`] or [`PLAYGROUND_LLM_RATE`]).
    name: &'static str,
}

/// One request per `1 / rps` seconds, without bursts: requests are spread evenly.
fn quota(rps: f64) -> Quota {
    Quota::with_period(period(rps))
        .unwrap_or_else(|| Quota::per_second(NonZeroU32::MIN))
        .allow_burst(NonZeroU32::MIN)
}

/// The time between two requests at `rps` requests per second.
fn period(rps: f64) -> Duration {
    Duration::from_secs_f64(1.0 / rps.clamp(0.001, 10_000.0))
}

impl LlmRate<DefaultClock> {
    /// A rate kept by this process alone.
    pub fn new(rps: f64) -> Self {
        Self::with_clock(rps, DefaultClock::default())
    }

    /// A rate shared through `store` with every instance using the same database (kept in memory where
    /// the store says nobody else can use it).
    pub fn shared(rps: f64, store: Arc<dyn RateStore>) -> Self {
        LlmRate {
            shared: Some(store),
            ..Self::new(rps)
        }
    }

    /// As [`LlmRate::shared`], for the support desk's own budget ([`DESK_LLM_RATE`]).
    pub fn shared_desk(rps: f64, store: Arc<dyn RateStore>) -> Self {
        LlmRate {
            name: DESK_LLM_RATE,
            ..Self::shared(rps, store)
        }
    }

    /// As [`LlmRate::shared`], for the admin playground's own budget ([`PLAYGROUND_LLM_RATE`]).
    pub fn shared_playground(rps: f64, store: Arc<dyn RateStore>) -> Self {
        LlmRate {
            name: PLAYGROUND_LLM_RATE,
            ..Self::shared(rps, store)
        }
    }

    /// Waits until a request may be sent at `rps` requests per second.
    pub async fn acquire(&self, rps: f64) {
        if let Some(store) = &self.shared {
            match store.reserve_slot(self.name, period(rps)).await {
                Ok(Some(wait)) => return tokio::time::sleep(wait).await,
                Ok(None) => {}
                Err(e) => tracing::warn!(
                    error = %e,
                    "could not reserve a slot of the LLM request rate shared by the instances; \
                     this request is paced by this instance alone (check the database connection)"
                ),
            }
        }
        self.limiter(rps).until_ready().await;
    }
}

impl<C: Clock + Clone> LlmRate<C> {
    pub fn with_clock(rps: f64, clock: C) -> Self {
        let limiter = Arc::new(RateLimiter::direct_with_clock(quota(rps), clock.clone()));
        LlmRate {
            clock,
            current: Mutex::new((rps, limiter)),
            shared: None,
            name: LLM_RATE,
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

    /// A shared rate that answers with the waits given (last first), then fails.
    struct Reservations(Mutex<Vec<Duration>>);

    #[async_trait::async_trait]
    impl RateStore for Reservations {
        async fn reserve_slot(
            &self,
            name: &str,
            period: Duration,
        ) -> Result<Option<Duration>, disconcierge_store::StoreError> {
            assert_eq!(name, LLM_RATE);
            assert_eq!(period, Duration::from_secs(1), "1 request a second");
            match self.0.lock().unwrap().pop() {
                Some(wait) => Ok(Some(wait)),
                None => Err(disconcierge_store::StoreError::InvalidArgument(
                    "the database is away".into(),
                )),
            }
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_shared_rate_waits_for_the_slot_the_database_reserved() {
        let store = Arc::new(Reservations(Mutex::new(vec![
            Duration::ZERO,
            Duration::from_millis(300),
        ])));
        let rate = LlmRate::shared(1.0, store);
        let start = tokio::time::Instant::now();
        rate.acquire(1.0).await;
        assert_eq!(start.elapsed(), Duration::from_millis(300), "the slot came");
        // The next slot is free at once: the database decides, not this process's own pace (which
        // would have waited a second).
        rate.acquire(1.0).await;
        assert_eq!(start.elapsed(), Duration::from_millis(300));
    }
}
