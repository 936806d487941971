//! How common each searched term is, for both backends' full-text searches.
//!
//! Ranking a full-text match costs about the same for every matching entry, so a search for a term found
//! in most entries ranks most of the guild while the term adds almost nothing to the ranking. Each
//! backend counts, per term, how many entries of an index contain it (stopping at [`COMMON_TERM`]) and
//! searches with the rarer terms first ([`disconcierge_core::desk::retrieval::select_terms`]). Counts are
//! cached here for a few minutes: they only steer which terms are searched, so a stale one costs a little
//! time, never a wrong answer.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Terms found in at least this many entries are "common"; counting stops there.
pub(crate) const COMMON_TERM: u32 = 1_001;
/// The entries the rarer terms of a search may match together.
pub(crate) const SEARCH_BUDGET: u32 = 1_000;
/// How long a term's count is trusted.
const TTL: Duration = Duration::from_secs(300);
/// Counts kept at most (per process); the cache starts over when full.
const CAPACITY: usize = 50_000;

/// Cached counts, by index (its table) and term.
#[derive(Default)]
pub(crate) struct TermCounts(Mutex<HashMap<Key, (u32, Instant)>>);

/// An index (its table) and a term.
type Key = (&'static str, String);

impl TermCounts {
    /// A count taken less than [`TTL`] ago.
    pub(crate) fn get(&self, table: &'static str, term: &str) -> Option<u32> {
        let cache = self.0.lock().expect("term counts");
        cache
            .get(&(table, term.to_string()))
            .filter(|(_, at)| at.elapsed() < TTL)
            .map(|(n, _)| *n)
    }

    /// Forgets every count (the admin action "reload"): the next searches count again.
    pub(crate) fn clear(&self) {
        self.0.lock().expect("term counts").clear();
    }

    pub(crate) fn put(&self, table: &'static str, term: &str, n: u32) {
        let mut cache = self.0.lock().expect("term counts");
        if cache.len() >= CAPACITY {
            cache.clear();
        }
        cache.insert((table, term.to_string()), (n, Instant::now()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_are_kept_until_cleared() {
        let counts = TermCounts::default();
        counts.put("training_fts", "invoice", 12);
        assert_eq!(counts.get("training_fts", "invoice"), Some(12));
        assert_eq!(counts.get("kb_fts", "invoice"), None, "per index");
        counts.clear();
        assert_eq!(counts.get("training_fts", "invoice"), None);
    }
}
