//! Percentiles of measured durations.

use std::time::Duration;

/// Nearest-rank percentiles of a sample.
pub struct Summary {
    sorted: Vec<Duration>,
}

impl Summary {
    pub fn new(mut sample: Vec<Duration>) -> Summary {
        sample.sort();
        Summary { sorted: sample }
    }

    pub fn len(&self) -> usize {
        self.sorted.len()
    }

    /// The `p`-th percentile (0 < p ≤ 100) by nearest rank; zero for an empty sample.
    pub fn percentile(&self, p: f64) -> Duration {
        if self.sorted.is_empty() {
            return Duration::ZERO;
        }
        let rank = ((p / 100.0) * self.sorted.len() as f64).ceil() as usize;
        self.sorted[rank.clamp(1, self.sorted.len()) - 1]
    }

    pub fn max(&self) -> Duration {
        self.sorted.last().copied().unwrap_or_default()
    }
}

/// Milliseconds with two decimals.
pub fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let s = Summary::new((1..=100).rev().map(Duration::from_millis).collect());
        assert_eq!(s.percentile(50.0), Duration::from_millis(50));
        assert_eq!(s.percentile(99.0), Duration::from_millis(99));
        assert_eq!(s.percentile(100.0), Duration::from_millis(100));
        assert_eq!(s.max(), Duration::from_millis(100));
        let one = Summary::new(vec![Duration::from_millis(7)]);
        assert_eq!(one.percentile(1.0), Duration::from_millis(7));
        assert_eq!(Summary::new(Vec::new()).percentile(99.0), Duration::ZERO);
    }
}
