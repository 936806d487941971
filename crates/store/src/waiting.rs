//! An upper bound on how many chat commands wait for a worker, so that recording a batch of
//! acknowledgements need not count them every time.
//!
//! Admission compares the number waiting with the queue's size, and nothing else. Counting it reads one
//! index entry per waiting command, on the one SQLite writer every acknowledgement waits for: with a
//! queue of thousands (a burst, a large `DC_QUEUE_SIZE`), that was most of the recording statement's
//! time. On SQLite this process is the only one writing chat commands (one instance; PostgreSQL serves
//! many, and counts every time), so it can keep a bound itself: after a count, the count plus what the
//! batch recorded; commands leaving the queue only make the bound looser. While the bound leaves room for
//! a whole new batch below the queue's size, the batch is admitted exactly as a count would have
//! admitted it, and the count is skipped. Anything else that can make a command wait (a requeue, a
//! command recorded one by one) drops the bound, and the next batch counts.

use std::sync::Mutex;

#[derive(Default)]
pub(crate) struct WaitingBound {
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    /// Bumped by every [`WaitingBound::forget`], so that a batch that counted before it cannot set a
    /// bound that misses what happened since.
    generation: u64,
    bound: Option<u64>,
}

/// What a batch learnt from [`WaitingBound::before_batch`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Ticket {
    generation: u64,
    /// The bound, when it leaves room for the batch: no need to count.
    pub(crate) room: Option<u64>,
}

impl WaitingBound {
    /// Before recording `adding` commands against a queue of `limit`.
    pub(crate) fn before_batch(&self, adding: u64, limit: u64) -> Ticket {
        let state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        Ticket {
            generation: state.generation,
            room: state
                .bound
                .filter(|&bound| bound.saturating_add(adding) < limit),
        }
    }

    /// After the batch: `waiting` is what it counted, or the bound it used, `recorded` how many commands
    /// it added. A count that reached `limit` is not exact (counting stops there): no bound then.
    pub(crate) fn after_batch(&self, ticket: Ticket, waiting: u64, recorded: u64, limit: u64) {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if state.generation == ticket.generation {
            state.bound = (waiting < limit).then(|| waiting.saturating_add(recorded));
        }
    }

    /// Commands may have started waiting other than through a batch: the next batch counts.
    pub(crate) fn forget(&self) {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        state.generation += 1;
        state.bound = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bound_skips_counts_only_with_room_for_the_whole_batch() {
        let w = WaitingBound::default();
        // Nothing known: count.
        let t = w.before_batch(3, 10);
        assert_eq!(t.room, None);
        w.after_batch(t, 2, 3, 10);
        // 2 waited, 3 recorded: at most 5 wait now; room for 4 more below 10, not for 5.
        assert_eq!(w.before_batch(4, 10).room, Some(5));
        assert_eq!(w.before_batch(5, 10).room, None);
        // Using the bound, it grows by what each batch records.
        let t = w.before_batch(2, 10);
        w.after_batch(t, t.room.unwrap(), 2, 10);
        assert_eq!(w.before_batch(2, 10).room, Some(7));
        assert_eq!(w.before_batch(3, 10).room, None);
        // A count that reached the limit is not a bound.
        let t = w.before_batch(3, 10);
        w.after_batch(t, 10, 3, 10);
        assert_eq!(w.before_batch(0, 10).room, None);
    }

    #[test]
    fn forgetting_wins_over_a_batch_that_counted_before() {
        let w = WaitingBound::default();
        let t = w.before_batch(1, 10);
        w.after_batch(t, 0, 1, 10);
        assert_eq!(w.before_batch(1, 10).room, Some(1));
        // A batch counts while a requeue happens: its count may miss the requeued command.
        let t = w.before_batch(1, 10);
        w.forget();
        w.after_batch(t, 1, 1, 10);
        assert_eq!(w.before_batch(1, 10).room, None, "counted again");
    }
}
