//! Per-user command limits over a sliding 6-hour window.
//!
//! Only commands that consumed tokens count (a failed or refused command costs the user nothing). When a
//! user is at their limit, the next command becomes available when the oldest counted command in the window
//! leaves it — exactly 6 hours after it was created — which is what the reply tells them. Times are
//! written by the caller's `when` (the application gives Discord's relative timestamps, which every
//! client renders in its own time zone and language: "in 2 hours"); the domain writes no markup.

use chrono::{DateTime, TimeDelta, Utc};

/// The window over which commands are counted.
pub const WINDOW: TimeDelta = TimeDelta::hours(6);

/// Where a user stands against their limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Allowance {
    /// Counted commands in the window.
    pub used: u32,
    /// The user's limit (their own override, else the runtime default).
    pub limit: u32,
    /// When a command slot frees up next (the oldest counted command's time + 6 h); `None` when none is
    /// counted.
    pub next_slot_at: Option<DateTime<Utc>>,
}

impl Allowance {
    /// Computes a user's allowance from what the store reports.
    pub fn new(used: u32, limit: u32, oldest_counted: Option<DateTime<Utc>>) -> Allowance {
        Allowance {
            used,
            limit,
            next_slot_at: oldest_counted.map(|t| t + WINDOW),
        }
    }

    /// The start of the window that ends at `now`.
    pub fn window_start(now: DateTime<Utc>) -> DateTime<Utc> {
        now - WINDOW
    }

    pub fn remaining(&self) -> u32 {
        self.limit.saturating_sub(self.used)
    }

    /// No command may start now.
    pub fn exhausted(&self) -> bool {
        self.used >= self.limit
    }

    /// "Few remain": the last 10 % of the limit, and at least the last one.
    pub fn running_low(&self) -> bool {
        !self.exhausted() && self.remaining() <= (self.limit / 10).max(1)
    }

    /// The usage line under an answer, as DisConcierge showed it, with a warning when few remain, times
    /// written by `when`. `self` is the allowance *after* the answered command was counted.
    pub fn usage_line(&self, when: impl Fn(DateTime<Utc>) -> String) -> String {
        let mut line = format!(
            "-# Commands used: {}/{} (6h)",
            self.used.min(self.limit),
            self.limit
        );
        if self.exhausted() {
            match self.next_slot_at {
                Some(at) => line.push_str(&format!(" · limit reached; next one {}", when(at))),
                None => line.push_str(" · limit reached"),
            }
        } else if self.running_low() {
            let n = self.remaining();
            line.push_str(&format!(" · only {n} left"));
            if let Some(at) = self.next_slot_at {
                line.push_str(&format!("; another frees up {}", when(at)));
            }
        }
        line
    }

    /// The runtime configuration's rate-limited message with `{next}` filled in by `when`.
    pub fn rate_limited_message(
        &self,
        template: &str,
        when: impl Fn(DateTime<Utc>) -> String,
    ) -> String {
        let next = self
            .next_slot_at
            .map(when)
            .unwrap_or_else(|| "in a few hours".to_string());
        template.replace("{next}", &next)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn t(h: u32, m: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 22, h, m, 0).unwrap()
    }

    /// The times as the tests read them.
    fn at(t: DateTime<Utc>) -> String {
        format!("at {}", t.format("%H:%M"))
    }

    #[test]
    fn next_slot_is_six_hours_after_the_oldest_counted_command() {
        let a = Allowance::new(3, 3, Some(t(8, 15)));
        assert!(a.exhausted());
        assert_eq!(a.next_slot_at, Some(t(14, 15)));
        assert_eq!(
            a.rate_limited_message("Your next one is available {next}.", at),
            "Your next one is available at 14:15."
        );
        assert_eq!(Allowance::window_start(t(14, 0)), t(8, 0));
    }

    #[test]
    fn usage_line_warns_only_when_few_remain() {
        assert_eq!(
            Allowance::new(3, 25, Some(t(9, 0))).usage_line(at),
            "-# Commands used: 3/25 (6h)"
        );
        let low = Allowance::new(23, 25, Some(t(9, 0)));
        assert!(low.running_low());
        assert_eq!(
            low.usage_line(at),
            "-# Commands used: 23/25 (6h) · only 2 left; another frees up at 15:00"
        );
        let last = Allowance::new(25, 25, Some(t(9, 0)));
        assert_eq!(
            last.usage_line(at),
            "-# Commands used: 25/25 (6h) · limit reached; next one at 15:00"
        );
        // With a small limit, the last command still warns.
        assert!(Allowance::new(4, 5, None).running_low());
        assert!(!Allowance::new(3, 5, None).running_low());
    }

    #[test]
    fn an_override_below_the_current_usage_is_exhausted_not_negative() {
        let a = Allowance::new(10, 4, Some(t(9, 0)));
        assert_eq!(a.remaining(), 0);
        assert!(a.exhausted());
        assert!(a.usage_line(at).starts_with("-# Commands used: 4/4 (6h)"));
    }
}
