//! Closing tickets nobody writes in: a warning first, then the close.
//!
//! A guild's `auto_close_after` (A) is split in two: after three quarters of it without a message the
//! ticket gets a warning saying when it will close; the last quarter is the notice period. Any message
//! from a member clears the warning (the store does it when it records the message) and the clock starts
//! again. The warning itself is not a ticket message, so it does not count as activity.

use chrono::{DateTime, TimeDelta, Utc};
use std::time::Duration;

/// What to do with a ticket now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdleStep {
    /// Nothing yet.
    Wait,
    /// Post the warning: it closes at `closes_at` unless someone writes.
    Warn { closes_at: DateTime<Utc> },
    /// Close it.
    Close,
}

/// After how long without activity a ticket is warned (three quarters of `auto_close_after`).
pub fn warn_after(auto_close_after: Duration) -> Duration {
    auto_close_after.mul_f64(0.75)
}

/// The next step for a ticket last active at `last_activity`, warned at `warned_at` (if it was).
pub fn idle_step(
    last_activity: DateTime<Utc>,
    warned_at: Option<DateTime<Utc>>,
    auto_close_after: Duration,
    now: DateTime<Utc>,
) -> IdleStep {
    let warn = TimeDelta::from_std(warn_after(auto_close_after)).unwrap_or(TimeDelta::MAX);
    let notice = TimeDelta::from_std(auto_close_after).unwrap_or(TimeDelta::MAX) - warn;
    // Past the end of time means never.
    let after = |t: DateTime<Utc>, d: TimeDelta| {
        t.checked_add_signed(d).unwrap_or(DateTime::<Utc>::MAX_UTC)
    };
    match warned_at {
        Some(w) if now >= after(w, notice) => IdleStep::Close,
        Some(_) => IdleStep::Wait,
        None if now >= after(last_activity, warn) => IdleStep::Warn {
            closes_at: after(now, notice),
        },
        None => IdleStep::Wait,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(minutes: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000, 0).unwrap() + TimeDelta::minutes(minutes)
    }

    const HOUR: Duration = Duration::from_secs(3600);

    #[test]
    fn warned_at_three_quarters_then_closed_after_the_last_quarter() {
        assert_eq!(idle_step(at(0), None, HOUR, at(44)), IdleStep::Wait);
        assert_eq!(
            idle_step(at(0), None, HOUR, at(45)),
            IdleStep::Warn { closes_at: at(60) }
        );
        // A late check still gives the full notice period.
        assert_eq!(
            idle_step(at(0), None, HOUR, at(100)),
            IdleStep::Warn { closes_at: at(115) }
        );
        assert_eq!(idle_step(at(0), Some(at(45)), HOUR, at(59)), IdleStep::Wait);
        assert_eq!(
            idle_step(at(0), Some(at(45)), HOUR, at(60)),
            IdleStep::Close
        );
    }

    #[test]
    fn huge_settings_never_overflow() {
        let forever = Duration::from_secs(u64::MAX / 2);
        assert_eq!(
            idle_step(at(0), None, forever, at(1_000_000)),
            IdleStep::Wait
        );
    }
}
