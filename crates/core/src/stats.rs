//! Activity statistics for the admin dashboard: time buckets, latency histograms and their percentiles.
//!
//! The store keeps one [`HourStats`] per UTC hour (a rollup computed once the hour can no longer change,
//! see [`is_settled`]); a chart's bucket (an hour, or a day of the 30-day range) is the sum of its hours,
//! assembled here by [`Activity::assemble`]. Latency percentiles cannot be summed, so each hour keeps a
//! [`LatencyHistogram`] (counts per fixed log-scale bucket) and a day's percentiles come from the summed
//! histograms of its hours: exact to within one bucket (about ±10 % around the estimate, see
//! [`LatencyHistogram::percentile`]).

use crate::model::{ChatCommandState, FeedbackKind};
use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

const HOUR_SECS: i64 = 3600;
const DAY_SECS: i64 = 24 * HOUR_SECS;

/// The start of the UTC hour containing `t`.
pub fn hour_start(t: DateTime<Utc>) -> DateTime<Utc> {
    floor_to(t, HOUR_SECS)
}

/// The start of the UTC day containing `t`.
pub fn day_start(t: DateTime<Utc>) -> DateTime<Utc> {
    floor_to(t, DAY_SECS)
}

fn floor_to(t: DateTime<Utc>, unit: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(t.timestamp().div_euclid(unit) * unit, 0).unwrap_or(t)
}

/// Whether the hour starting at `hour` ended more than an hour before `now`. Its figures are then
/// final: its commands were all settled (an interaction token lives 15 minutes, and the janitor expires
/// what outlives it) and its feedback was all given (feedback is counted in the hour it was given). Such an
/// hour is rolled up once and stored; the later ones are computed afresh for each request.
pub fn is_settled(hour: DateTime<Utc>, now: DateTime<Utc>) -> bool {
    hour + TimeDelta::hours(2) <= now
}

/// The newest settled hour at `now` (see [`is_settled`]).
pub fn last_settled_hour(now: DateTime<Utc>) -> DateTime<Utc> {
    hour_start(now - TimeDelta::hours(2))
}

/// The period a dashboard chart covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub enum StatsRange {
    /// The last 48 hours, per hour (the current hour included).
    #[default]
    #[serde(rename = "48h")]
    Hours48,
    /// The last 30 days, per UTC day (today included).
    #[serde(rename = "30d")]
    Days30,
}

/// How long a range's buckets are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Granularity {
    Hour,
    Day,
}

impl StatsRange {
    pub const ALL: [StatsRange; 2] = [StatsRange::Hours48, StatsRange::Days30];

    /// The name in URLs and JSON: `48h`, `30d`.
    pub fn as_str(self) -> &'static str {
        match self {
            StatsRange::Hours48 => "48h",
            StatsRange::Days30 => "30d",
        }
    }

    /// The name people read: "48 hours", "30 days".
    pub fn label(self) -> &'static str {
        match self {
            StatsRange::Hours48 => "48 hours",
            StatsRange::Days30 => "30 days",
        }
    }

    pub fn granularity(self) -> Granularity {
        match self {
            StatsRange::Hours48 => Granularity::Hour,
            StatsRange::Days30 => Granularity::Day,
        }
    }

    /// How many buckets the range has.
    pub fn bucket_count(self) -> i64 {
        match self {
            StatsRange::Hours48 => 48,
            StatsRange::Days30 => 30,
        }
    }

    /// The start of the bucket containing `t`.
    pub fn bucket_of(self, t: DateTime<Utc>) -> DateTime<Utc> {
        match self.granularity() {
            Granularity::Hour => hour_start(t),
            Granularity::Day => day_start(t),
        }
    }

    fn width(self) -> TimeDelta {
        match self.granularity() {
            Granularity::Hour => TimeDelta::hours(1),
            Granularity::Day => TimeDelta::days(1),
        }
    }

    /// The start of the range: the start of its oldest bucket.
    pub fn start(self, now: DateTime<Utc>) -> DateTime<Utc> {
        self.bucket_of(now) - self.width() * (self.bucket_count() as i32 - 1)
    }

    /// The start of every bucket, oldest first; the last one contains `now`.
    pub fn bucket_starts(self, now: DateTime<Utc>) -> Vec<DateTime<Utc>> {
        let start = self.start(now);
        (0..self.bucket_count())
            .map(|i| start + self.width() * i as i32)
            .collect()
    }

    /// Every hour of the range up to the one containing `now`, oldest first.
    pub fn hours(self, now: DateTime<Utc>) -> Vec<DateTime<Utc>> {
        let mut hours = Vec::new();
        let mut h = self.start(now);
        let last = hour_start(now);
        while h <= last {
            hours.push(h);
            h += TimeDelta::hours(1);
        }
        hours
    }
}

impl fmt::Display for StatsRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A range name that is not `48h` or `30d`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "range must be 48h (the last 48 hours, per hour) or 30d (the last 30 days, per day), got {0:?}"
)]
pub struct UnknownRange(pub String);

impl FromStr for StatsRange {
    type Err = UnknownRange;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim() {
            "48h" => Ok(StatsRange::Hours48),
            "30d" => Ok(StatsRange::Days30),
            other => Err(UnknownRange(other.to_string())),
        }
    }
}

// ----- Latency histogram -----

/// The bucket bounds of a [`LatencyHistogram`], in milliseconds: 50 ms × 2^(i/4) rounded (four buckets
/// per doubling, so a bucket is at most 19 % wide), up to 15 minutes (the longest an answer can take: an
/// interaction token's life). Bucket 0 holds latencies under 50 ms, bucket `i` those from `BOUNDS[i - 1]`
/// up to `BOUNDS[i]`, the last one those of 15 minutes or more. Stored rollups hold counts in this layout:
/// changing it needs a new column (or emptying the rollups table).
pub const LATENCY_BOUNDS_MS: [u64; 58] = [
    50, 59, 71, 84, 100, 119, 141, 168, 200, 238, 283, 336, 400, 476, 566, 673, 800, 951, 1131,
    1345, 1600, 1903, 2263, 2691, 3200, 3805, 4525, 5382, 6400, 7611, 9051, 10763, 12800, 15222,
    18102, 21527, 25600, 30444, 36204, 43054, 51200, 60887, 72408, 86108, 102400, 121775, 144815,
    172216, 204800, 243550, 289631, 344431, 409600, 487099, 579262, 688862, 819200, 900000,
];

/// How many buckets a [`LatencyHistogram`] has.
pub const LATENCY_BUCKETS: usize = LATENCY_BOUNDS_MS.len() + 1;

/// Answer latencies counted per fixed log-scale bucket ([`LATENCY_BOUNDS_MS`]). Histograms add up, so
/// the percentiles of a day are those of its hours' summed histograms.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(into = "Vec<u64>", try_from = "Vec<u64>")]
pub struct LatencyHistogram {
    counts: [u64; LATENCY_BUCKETS],
}

impl Default for LatencyHistogram {
    fn default() -> Self {
        LatencyHistogram {
            counts: [0; LATENCY_BUCKETS],
        }
    }
}

impl LatencyHistogram {
    pub fn new() -> Self {
        Self::default()
    }

    /// The bucket of a latency in milliseconds (negative or NaN: bucket 0).
    pub fn bucket_of(ms: f64) -> usize {
        LATENCY_BOUNDS_MS.partition_point(|&b| b as f64 <= ms)
    }

    /// The latencies a bucket holds: from `lo` (inclusive) to `hi` (exclusive; `None` for the last).
    pub fn bucket_range_ms(bucket: usize) -> (u64, Option<u64>) {
        let lo = if bucket == 0 {
            0
        } else {
            LATENCY_BOUNDS_MS[(bucket - 1).min(LATENCY_BOUNDS_MS.len() - 1)]
        };
        (lo, LATENCY_BOUNDS_MS.get(bucket).copied())
    }

    /// Counts one latency.
    pub fn record(&mut self, ms: f64) {
        self.counts[Self::bucket_of(ms)] += 1;
    }

    /// Adds `n` latencies to a bucket (a bucket past the last counts in the last).
    pub fn add(&mut self, bucket: usize, n: u64) {
        self.counts[bucket.min(LATENCY_BUCKETS - 1)] += n;
    }

    pub fn merge(&mut self, other: &LatencyHistogram) {
        for (mine, theirs) in self.counts.iter_mut().zip(other.counts.iter()) {
            *mine += theirs;
        }
    }

    /// How many latencies were counted.
    pub fn count(&self) -> u64 {
        self.counts.iter().sum()
    }

    /// The counts, bucket by bucket.
    pub fn counts(&self) -> &[u64] {
        &self.counts
    }

    /// A histogram from counts in [`LATENCY_BOUNDS_MS`]' layout; fewer counts than buckets are fine (the
    /// stored form leaves out trailing zeros), more are an error.
    pub fn from_counts(counts: &[u64]) -> Result<Self, String> {
        if counts.len() > LATENCY_BUCKETS {
            return Err(format!(
                "a latency histogram has {LATENCY_BUCKETS} buckets, got {} counts",
                counts.len()
            ));
        }
        let mut h = Self::default();
        h.counts[..counts.len()].copy_from_slice(counts);
        Ok(h)
    }

    /// The counts without trailing zeros (the stored form).
    pub fn to_counts(&self) -> Vec<u64> {
        let used = self
            .counts
            .iter()
            .rposition(|&c| c > 0)
            .map_or(0, |i| i + 1);
        self.counts[..used].to_vec()
    }

    /// The `q`-quantile (0.5 for the median, 0.99 for p99) in milliseconds, or `None` when nothing was
    /// counted.
    ///
    /// The bucket holding the value of rank ⌈q·n⌉ is exact; within it the value is interpolated
    /// geometrically (linearly in the first bucket, which starts at 0), assuming the bucket's values are
    /// spread evenly on the log scale. The estimate is therefore always within the bucket of the true
    /// value. The last bucket is open-ended: its estimate is its lower bound, 15 minutes.
    pub fn percentile(&self, q: f64) -> Option<f64> {
        let n = self.count();
        if n == 0 {
            return None;
        }
        let rank = ((q.clamp(0.0, 1.0) * n as f64).ceil() as u64).clamp(1, n);
        let mut below = 0u64;
        for (bucket, &c) in self.counts.iter().enumerate() {
            if c == 0 || below + c < rank {
                below += c;
                continue;
            }
            // Where the rank falls among the bucket's values, strictly inside (0, 1).
            let f = ((rank - below) as f64 - 0.5) / c as f64;
            let (lo, hi) = Self::bucket_range_ms(bucket);
            return Some(match hi {
                None => lo as f64,
                Some(hi) if lo == 0 => hi as f64 * f,
                Some(hi) => lo as f64 * (hi as f64 / lo as f64).powf(f),
            });
        }
        None
    }
}

impl From<LatencyHistogram> for Vec<u64> {
    fn from(h: LatencyHistogram) -> Self {
        h.to_counts()
    }
}

impl TryFrom<Vec<u64>> for LatencyHistogram {
    type Error = String;

    fn try_from(counts: Vec<u64>) -> Result<Self, Self::Error> {
        LatencyHistogram::from_counts(&counts)
    }
}

// ----- Hours and buckets -----

/// How the charts group chat command states.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Completed,
    Failed,
    /// Everything else: expired, aborted, ignored, rate-limited, or (rarely, in the live hours) still
    /// waiting or being answered.
    Other,
}

impl Outcome {
    pub fn of(state: ChatCommandState) -> Outcome {
        match state {
            ChatCommandState::Completed => Outcome::Completed,
            ChatCommandState::Failed => Outcome::Failed,
            _ => Outcome::Other,
        }
    }
}

/// One UTC hour's figures: the chat commands created during the hour (by outcome, their tokens, the
/// latency of the completed ones: `finished_at - created_at`) and the feedback given during it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct HourStats {
    pub hour: DateTime<Utc>,
    pub completed: u64,
    pub failed: u64,
    pub other: u64,
    /// The sum of the commands' `total_tokens`.
    pub total_tokens: u64,
    pub latency: LatencyHistogram,
    /// Feedback per kind; kinds without feedback may be absent.
    pub feedback: BTreeMap<FeedbackKind, u64>,
}

impl HourStats {
    pub fn empty(hour: DateTime<Utc>) -> Self {
        HourStats {
            hour,
            ..Default::default()
        }
    }

    /// Counts `n` commands ended in (or still in) `state`.
    pub fn add_commands(&mut self, state: ChatCommandState, n: u64) {
        match Outcome::of(state) {
            Outcome::Completed => self.completed += n,
            Outcome::Failed => self.failed += n,
            Outcome::Other => self.other += n,
        }
    }

    pub fn commands(&self) -> u64 {
        self.completed + self.failed + self.other
    }

    /// Adds another hour's figures to these (the hour stays this one's).
    pub fn merge(&mut self, other: &HourStats) {
        self.completed += other.completed;
        self.failed += other.failed;
        self.other += other.other;
        self.total_tokens += other.total_tokens;
        self.latency.merge(&other.latency);
        for (kind, n) in &other.feedback {
            *self.feedback.entry(*kind).or_default() += n;
        }
    }
}

/// One bar of a chart: an hour, or a day of the 30-day range.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ActivityBucket {
    pub start: DateTime<Utc>,
    pub completed: u64,
    pub failed: u64,
    pub other: u64,
    pub total_tokens: u64,
    /// Completed commands whose latency was counted (those the percentiles describe).
    pub latency_count: u64,
    /// Latency percentiles of the completed commands, in milliseconds; `None` without any.
    pub p50_ms: Option<u64>,
    pub p90_ms: Option<u64>,
    pub p99_ms: Option<u64>,
    /// Feedback per kind, every kind present.
    pub feedback: BTreeMap<FeedbackKind, u64>,
    pub tickets_opened: u64,
    pub tickets_closed: u64,
    /// False while some of its settled hours are not rolled up yet: its figures are partial.
    pub complete: bool,
}

impl ActivityBucket {
    pub fn commands(&self) -> u64 {
        self.completed + self.failed + self.other
    }

    pub fn feedback_total(&self) -> u64 {
        self.feedback.values().sum()
    }
}

/// Tickets opened and closed per hour (hours without any may be absent).
pub type TicketCounts = BTreeMap<DateTime<Utc>, (u64, u64)>;

/// The dashboard's series over one range.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Activity {
    pub range: StatsRange,
    pub granularity: Granularity,
    pub generated_at: DateTime<Utc>,
    /// Settled hours of the range not rolled up yet (being computed): their buckets are incomplete.
    pub pending_hours: u32,
    /// Every bucket of the range, oldest first.
    pub buckets: Vec<ActivityBucket>,
}

impl Activity {
    /// The range's buckets at `now` from the figures of its hours (rolled up and live, any order),
    /// tickets per hour, and the hours still being computed.
    pub fn assemble(
        range: StatsRange,
        now: DateTime<Utc>,
        hours: &[HourStats],
        tickets: &TicketCounts,
        pending: &[DateTime<Utc>],
    ) -> Activity {
        let starts = range.bucket_starts(now);
        let mut sums: BTreeMap<DateTime<Utc>, HourStats> =
            starts.iter().map(|&s| (s, HourStats::empty(s))).collect();
        for h in hours {
            if let Some(sum) = sums.get_mut(&range.bucket_of(h.hour)) {
                sum.merge(h);
            }
        }
        let mut ticket_sums: BTreeMap<DateTime<Utc>, (u64, u64)> = BTreeMap::new();
        for (hour, (opened, closed)) in tickets {
            let slot = ticket_sums.entry(range.bucket_of(*hour)).or_default();
            slot.0 += opened;
            slot.1 += closed;
        }
        let incomplete: std::collections::BTreeSet<DateTime<Utc>> =
            pending.iter().map(|&h| range.bucket_of(h)).collect();
        let percentile = |h: &LatencyHistogram, q: f64| h.percentile(q).map(|ms| ms.round() as u64);
        let buckets = sums
            .into_values()
            .map(|s| {
                let (opened, closed) = ticket_sums.get(&s.hour).copied().unwrap_or_default();
                let mut feedback: BTreeMap<FeedbackKind, u64> =
                    FeedbackKind::ALL.iter().map(|&k| (k, 0)).collect();
                feedback.extend(s.feedback.iter().map(|(&k, &n)| (k, n)));
                ActivityBucket {
                    start: s.hour,
                    completed: s.completed,
                    failed: s.failed,
                    other: s.other,
                    total_tokens: s.total_tokens,
                    latency_count: s.latency.count(),
                    p50_ms: percentile(&s.latency, 0.5),
                    p90_ms: percentile(&s.latency, 0.9),
                    p99_ms: percentile(&s.latency, 0.99),
                    feedback,
                    tickets_opened: opened,
                    tickets_closed: closed,
                    complete: !incomplete.contains(&s.hour),
                }
            })
            .collect();
        Activity {
            range,
            granularity: range.granularity(),
            generated_at: now,
            pending_hours: u32::try_from(pending.len()).unwrap_or(u32::MAX),
            buckets,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn bounds_are_fifty_ms_times_a_quarter_octave_up_to_fifteen_minutes() {
        for (i, &b) in LATENCY_BOUNDS_MS[..57].iter().enumerate() {
            assert_eq!(
                b,
                (50.0 * 2f64.powf(i as f64 / 4.0)).round() as u64,
                "bound {i}"
            );
        }
        assert_eq!(LATENCY_BOUNDS_MS[57], 15 * 60 * 1000);
        assert!(LATENCY_BOUNDS_MS.windows(2).all(|w| w[0] < w[1]));
        assert_eq!(LATENCY_BUCKETS, 59);
    }

    #[test]
    fn latencies_fall_in_their_bucket() {
        assert_eq!(LatencyHistogram::bucket_of(0.0), 0);
        assert_eq!(LatencyHistogram::bucket_of(-5.0), 0);
        assert_eq!(LatencyHistogram::bucket_of(f64::NAN), 0);
        assert_eq!(LatencyHistogram::bucket_of(49.9), 0);
        assert_eq!(LatencyHistogram::bucket_of(50.0), 1);
        assert_eq!(LatencyHistogram::bucket_of(58.0), 1);
        assert_eq!(LatencyHistogram::bucket_of(59.0), 2);
        assert_eq!(LatencyHistogram::bucket_of(1000.0), 18);
        assert_eq!(LatencyHistogram::bucket_range_ms(18), (951, Some(1131)));
        assert_eq!(LatencyHistogram::bucket_of(899_999.0), 57);
        assert_eq!(LatencyHistogram::bucket_of(900_000.0), 58);
        assert_eq!(LatencyHistogram::bucket_of(1e12), 58);
        assert_eq!(LatencyHistogram::bucket_range_ms(0), (0, Some(50)));
        assert_eq!(LatencyHistogram::bucket_range_ms(58), (900_000, None));
        for ms in [1.0, 50.0, 77.0, 1234.0, 65_000.0, 899_000.0, 2e6] {
            let b = LatencyHistogram::bucket_of(ms);
            let (lo, hi) = LatencyHistogram::bucket_range_ms(b);
            assert!(
                lo as f64 <= ms && hi.is_none_or(|hi| ms < hi as f64),
                "{ms}"
            );
        }
    }

    /// The true `q`-quantile of `values` (rank ⌈q·n⌉).
    fn true_quantile(values: &[f64], q: f64) -> f64 {
        let mut v = values.to_vec();
        v.sort_by(f64::total_cmp);
        let rank = ((q * v.len() as f64).ceil() as usize).clamp(1, v.len());
        v[rank - 1]
    }

    #[test]
    fn percentiles_land_in_the_true_values_bucket() {
        let mut seed = 12345u64;
        let mut next = || {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (seed >> 11) as f64 / (1u64 << 53) as f64
        };
        for n in [1usize, 2, 3, 10, 99, 1000] {
            // Log-uniform from 10 ms to 20 minutes: every bucket, both ends included.
            let values: Vec<f64> = (0..n).map(|_| 10.0 * 120_000f64.powf(next())).collect();
            let mut h = LatencyHistogram::new();
            values.iter().for_each(|&v| h.record(v));
            assert_eq!(h.count(), n as u64);
            let mut previous = 0.0;
            for q in [0.5, 0.9, 0.99, 1.0] {
                let estimate = h.percentile(q).unwrap();
                let truth = true_quantile(&values, q);
                assert_eq!(
                    LatencyHistogram::bucket_of(estimate.min(899_999.0)),
                    LatencyHistogram::bucket_of(truth.min(899_999.0)),
                    "n={n} q={q}: estimate {estimate}, true {truth}"
                );
                assert!(estimate >= previous, "percentiles never decrease");
                previous = estimate;
            }
        }
    }

    #[test]
    fn percentiles_of_known_latencies() {
        let mut h = LatencyHistogram::new();
        assert_eq!(h.percentile(0.5), None);
        // 90 answers in one second, 9 in five seconds, 1 in a minute.
        (0..90).for_each(|_| h.record(1000.0));
        (0..9).for_each(|_| h.record(5000.0));
        h.record(60_000.0);
        let p50 = h.percentile(0.5).unwrap();
        assert!((951.0..1131.0).contains(&p50), "{p50}");
        let p90 = h.percentile(0.9).unwrap();
        assert!((951.0..1131.0).contains(&p90), "{p90}");
        let p99 = h.percentile(0.99).unwrap();
        assert!((4525.0..5382.0).contains(&p99), "{p99}");
        let max = h.percentile(1.0).unwrap();
        assert!((51200.0..60887.0).contains(&max), "{max}");
        // The open-ended last bucket answers its lower bound.
        let mut slow = LatencyHistogram::new();
        slow.record(3_600_000.0);
        assert_eq!(slow.percentile(0.5), Some(900_000.0));
    }

    #[test]
    fn summed_histograms_give_the_percentiles_of_all_values() {
        let mut a = LatencyHistogram::new();
        let mut b = LatencyHistogram::new();
        let mut all = LatencyHistogram::new();
        for i in 0..200 {
            let ms = 40.0 + f64::from(i) * 37.0;
            if i % 3 == 0 { &mut a } else { &mut b }.record(ms);
            all.record(ms);
        }
        let mut sum = a.clone();
        sum.merge(&b);
        assert_eq!(sum, all);
        assert_eq!(sum.percentile(0.9), all.percentile(0.9));
    }

    #[test]
    fn stored_form_drops_trailing_zeros_and_reads_back() {
        let mut h = LatencyHistogram::new();
        h.add(0, 2);
        h.add(3, 5);
        assert_eq!(h.to_counts(), vec![2, 0, 0, 5]);
        let json = serde_json::to_string(&h).unwrap();
        assert_eq!(json, "[2,0,0,5]");
        let back: LatencyHistogram = serde_json::from_str(&json).unwrap();
        assert_eq!(back, h);
        assert_eq!(LatencyHistogram::new().to_counts(), Vec::<u64>::new());
        assert!(LatencyHistogram::from_counts(&[0; 60]).is_err());
        // A bucket past the last counts in the last.
        h.add(99, 1);
        assert_eq!(h.counts()[LATENCY_BUCKETS - 1], 1);
    }

    #[test]
    fn ranges_and_their_buckets() {
        let now = at("2026-11-28T10:30:00Z");
        assert_eq!("48h".parse::<StatsRange>().unwrap(), StatsRange::Hours48);
        assert_eq!(" 30d".parse::<StatsRange>().unwrap(), StatsRange::Days30);
        let err = "7d".parse::<StatsRange>().unwrap_err().to_string();
        assert!(
            err.contains("48h") && err.contains("30d") && err.contains("\"7d\""),
            "{err}"
        );

        let hours = StatsRange::Hours48.bucket_starts(now);
        assert_eq!(hours.len(), 48);
        assert_eq!(hours[0], at("2026-11-26T11:00:00Z"));
        assert_eq!(hours[47], at("2026-11-28T10:00:00Z"));
        assert_eq!(StatsRange::Hours48.hours(now), hours);

        let days = StatsRange::Days30.bucket_starts(now);
        assert_eq!(days.len(), 30);
        assert_eq!(days[0], at("2026-10-30T00:00:00Z"));
        assert_eq!(days[29], at("2026-11-28T00:00:00Z"));
        let all_hours = StatsRange::Days30.hours(now);
        assert_eq!(all_hours.len(), 29 * 24 + 11);
        assert_eq!(all_hours.last(), Some(&at("2026-11-28T10:00:00Z")));

        assert_eq!(
            hour_start(at("2026-11-28T10:59:59.999Z")),
            at("2026-11-28T10:00:00Z")
        );
        assert_eq!(
            day_start(at("2026-11-28T23:59:59Z")),
            at("2026-11-28T00:00:00Z")
        );
        // Before 1970 too.
        assert_eq!(
            hour_start(at("1969-12-31T23:30:00Z")),
            at("1969-12-31T23:00:00Z")
        );
    }

    #[test]
    fn an_hour_settles_once_it_ended_an_hour_ago() {
        let hour = at("2026-11-28T08:00:00Z");
        assert!(!is_settled(hour, at("2026-11-28T09:59:59Z")));
        assert!(is_settled(hour, at("2026-11-28T10:00:00Z")));
        assert_eq!(last_settled_hour(at("2026-11-28T10:30:00Z")), hour);
        assert_eq!(last_settled_hour(at("2026-11-28T10:00:00Z")), hour);
    }

    #[test]
    fn buckets_sum_their_hours() {
        let now = at("2026-11-28T10:30:00Z");
        let mut a = HourStats::empty(at("2026-11-27T03:00:00Z"));
        a.add_commands(ChatCommandState::Completed, 3);
        a.add_commands(ChatCommandState::Failed, 1);
        a.add_commands(ChatCommandState::Expired, 2);
        a.total_tokens = 100;
        a.latency.record(1000.0);
        a.latency.record(1000.0);
        a.feedback.insert(FeedbackKind::Good, 2);
        let mut b = HourStats::empty(at("2026-11-27T22:00:00Z"));
        b.add_commands(ChatCommandState::Completed, 1);
        b.total_tokens = 5;
        b.latency.record(5000.0);
        b.feedback.insert(FeedbackKind::Good, 1);
        b.feedback.insert(FeedbackKind::Inaccurate, 4);
        let old = HourStats {
            completed: 50,
            ..HourStats::empty(at("2026-01-01T00:00:00Z"))
        };
        let tickets: TicketCounts = [
            (at("2026-11-27T05:00:00Z"), (2, 0)),
            (at("2026-11-27T23:00:00Z"), (1, 3)),
        ]
        .into();
        let pending = [at("2026-11-26T04:00:00Z")];

        let days = Activity::assemble(
            StatsRange::Days30,
            now,
            &[a.clone(), b.clone(), old],
            &tickets,
            &pending,
        );
        assert_eq!(days.buckets.len(), 30);
        assert_eq!(days.pending_hours, 1);
        let day = &days.buckets[28];
        assert_eq!(day.start, at("2026-11-27T00:00:00Z"));
        assert_eq!((day.completed, day.failed, day.other), (4, 1, 2));
        assert_eq!(day.commands(), 7);
        assert_eq!(day.total_tokens, 105);
        assert_eq!(day.latency_count, 3);
        assert!((951..1131).contains(&day.p50_ms.unwrap()));
        assert!((4525..5382).contains(&day.p99_ms.unwrap()));
        assert_eq!(day.feedback[&FeedbackKind::Good], 3);
        assert_eq!(day.feedback[&FeedbackKind::Inaccurate], 4);
        assert_eq!(day.feedback[&FeedbackKind::Outdated], 0);
        assert_eq!(day.feedback_total(), 7);
        assert_eq!((day.tickets_opened, day.tickets_closed), (3, 3));
        assert!(day.complete);
        assert!(!days.buckets[27].complete, "the day of the pending hour");
        assert_eq!(
            days.buckets.iter().map(|b| b.completed).sum::<u64>(),
            4,
            "old hour left out"
        );
        let today = &days.buckets[29];
        assert_eq!((today.commands(), today.p50_ms), (0, None));

        let hours = Activity::assemble(StatsRange::Hours48, now, &[a, b], &tickets, &[]);
        assert_eq!(hours.buckets.len(), 48);
        assert_eq!(hours.granularity, Granularity::Hour);
        let h = hours
            .buckets
            .iter()
            .find(|x| x.start == at("2026-11-27T22:00:00Z"))
            .unwrap();
        assert_eq!((h.completed, h.total_tokens, h.latency_count), (1, 5, 1));
        let json = serde_json::to_value(&hours).unwrap();
        assert_eq!(json["range"], "48h");
        assert_eq!(json["granularity"], "hour");
        assert_eq!(json["buckets"][0]["feedback"]["good"], 0);
    }
}
