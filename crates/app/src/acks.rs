//! Acknowledgements before answers: [`AcksInProgress`] tells workers and background writers when
//! acknowledgements are quiet, and refuses new commands when they fall behind; [`QueuedHint`] tells a
//! worker whether more commands were announced. Shared by the chat assistant, admission, the interaction
//! log and the LLM call-log writer; it imports none of them.

use std::time::Duration;
use tokio::sync::Notify;

/// Acknowledgements before answers, and none later than Discord allows.
///
/// Discord forgets an interaction not acknowledged within 3 s, while a queued command can wait (up to
/// `DC_QUEUE_MAX_AGE`, its user seeing "thinking…"). Both share the CPU and the database (SQLite has one
/// writer), so under a burst the workers hold back: they finish the answer they are writing but claim no
/// new command until acknowledgements have been quiet for [`ACK_QUIET`] — none in progress, none ended
/// that recently — or for at most [`MAX_HOLD_BACK`], so that answers keep coming during a long burst
/// (at least forty commands a second are claimed; the LLM's own rate, one request a second by default,
/// binds long before). Unloaded, acknowledgements are quiet almost all the time and answers
/// start at once.
///
/// Past what the machine can record in time, a new `/chat` is refused at once with the queue-full message
/// instead of joining a backlog it would leave too late (the user would see "the application did not
/// respond" and the command would be lost). A newcomer's wait is predicted from the backlog and the rate
/// at which acknowledgements complete (Little's law: wait = backlog / rate); the age of the oldest one in
/// progress backs that up when nothing completes at all.
#[derive(Default)]
pub struct AcksInProgress {
    backlog: std::sync::Mutex<Backlog>,
    none_left: Notify,
    /// Commands refused because acknowledgements were falling behind.
    pub(crate) shed: std::sync::atomic::AtomicU64,
}

#[derive(Default)]
struct Backlog {
    /// Start of each acknowledgement in progress, by a sequence number (so the first is the oldest).
    started: std::collections::BTreeMap<u64, tokio::time::Instant>,
    next: u64,
    /// Completions counted since `window_start`, and the rate (per second) of the last full window.
    window_start: Option<tokio::time::Instant>,
    completed: u32,
    rate: f64,
    /// When the last acknowledgement ended.
    last_ended: Option<tokio::time::Instant>,
    /// When a worker last stopped holding back without waiting for quiet.
    last_gave_up: Option<tokio::time::Instant>,
}

/// Workers claim a new command once acknowledgements have been quiet this long…
pub const ACK_QUIET: Duration = Duration::from_millis(2);
/// … or once they have held back this long …
pub const MAX_HOLD_BACK: Duration = Duration::from_millis(100);
/// … one worker at a time, at most one every this long (see [`AcksInProgress::quiet`]).
pub const HELD_BACK_APART: Duration = Duration::from_millis(25);

/// New commands are refused when their acknowledgement is predicted to take this long or more.
pub const WAIT_BUDGET: Duration = Duration::from_secs(1);
/// ... or when the oldest acknowledgement in progress is this old (nothing is completing).
pub const STALL_BUDGET: Duration = Duration::from_secs(2);
/// A backlog this small is never a reason to refuse (the rate of a few is noise).
const MIN_BACKLOG: usize = 32;
/// How often the completion rate is measured.
const RATE_WINDOW: Duration = Duration::from_millis(250);
/// The shortest part of a window whose completions say how fast acknowledgements go.
const MIN_PARTIAL_WINDOW: Duration = Duration::from_millis(20);

impl Backlog {
    fn roll(&mut self, now: tokio::time::Instant) {
        let start = *self.window_start.get_or_insert(now);
        let elapsed = now - start;
        if elapsed >= RATE_WINDOW {
            // A window stretched over a quiet spell says nothing about how fast acknowledgements
            // complete now: the rate is unknown again (0) until the next window.
            self.rate = if elapsed <= RATE_WINDOW * 2 {
                f64::from(self.completed) / elapsed.as_secs_f64()
            } else {
                0.0
            };
            self.completed = 0;
            self.window_start = Some(now);
        }
    }

    /// How fast acknowledgements complete: the last full window's rate, or, when that window saw none
    /// (a burst right after a quiet spell), the current window's so far once it has some completions
    /// over [`MIN_PARTIAL_WINDOW`]. `None` while nothing says (then only a stall refuses).
    fn known_rate(&self, now: tokio::time::Instant) -> Option<f64> {
        if self.rate > 0.0 {
            return Some(self.rate);
        }
        let elapsed = now - self.window_start?;
        (self.completed > 0 && elapsed >= MIN_PARTIAL_WINDOW)
            .then(|| f64::from(self.completed) / elapsed.as_secs_f64())
    }
}

impl AcksInProgress {
    /// Counts one acknowledgement until the guard is dropped.
    pub(crate) fn start(&self) -> AckGuard<'_> {
        let mut backlog = self.backlog.lock().expect("acks lock");
        let seq = backlog.next;
        backlog.next += 1;
        let now = tokio::time::Instant::now();
        backlog.started.insert(seq, now);
        backlog.roll(now);
        AckGuard(self, seq)
    }

    /// Whether a new acknowledgement would come too late (see the type's documentation).
    pub(crate) fn behind(&self) -> bool {
        let mut backlog = self.backlog.lock().expect("acks lock");
        let now = tokio::time::Instant::now();
        backlog.roll(now);
        let Some((_, &oldest)) = backlog.started.first_key_value() else {
            return false;
        };
        if now - oldest >= STALL_BUDGET {
            return true;
        }
        let waiting = backlog.started.len();
        if waiting < MIN_BACKLOG {
            return false;
        }
        match backlog.known_rate(now) {
            Some(rate) => waiting as f64 >= rate * WAIT_BUDGET.as_secs_f64(),
            // A burst right after a quiet spell, before anything completed: nothing predicts a wait yet
            // (the stall rule above still holds).
            None => false,
        }
    }

    /// Resolves once acknowledgements have been quiet for [`ACK_QUIET`], or after [`MAX_HOLD_BACK`].
    /// Workers that stop holding back go one at a time, [`HELD_BACK_APART`] apart: all at once they
    /// would take the database together every [`MAX_HOLD_BACK`], and the acknowledgements arriving then
    /// would wait for all of them.
    pub async fn quiet(&self) {
        self.wait_quiet(MAX_HOLD_BACK, true).await;
    }

    /// For the background writes that follow acknowledgements (queueing, the interaction log): waits
    /// until acknowledgements have been quiet for [`ACK_QUIET`], or for at most `hold_back` (no spacing
    /// between callers), then adds to `taken` whatever else `rx` has received meanwhile, up to `max`
    /// items, so that it is all written at once.
    pub async fn gather_after_pause<T>(
        &self,
        hold_back: Duration,
        rx: &mut tokio::sync::mpsc::UnboundedReceiver<T>,
        taken: &mut Vec<T>,
        max: usize,
    ) {
        self.wait_quiet(hold_back, false).await;
        while taken.len() < max
            && let Ok(item) = rx.try_recv()
        {
            taken.push(item);
        }
    }

    async fn wait_quiet(&self, hold_back: Duration, one_at_a_time: bool) {
        let mut give_up = tokio::time::Instant::now() + hold_back;
        loop {
            let notified = self.none_left.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let quiet_at = {
                let backlog = self.backlog.lock().expect("acks lock");
                if backlog.started.is_empty() {
                    match backlog.last_ended {
                        Some(ended) if ended.elapsed() < ACK_QUIET => Some(ended + ACK_QUIET),
                        _ => return,
                    }
                } else {
                    None
                }
            };
            match quiet_at {
                // None in progress, one ended just now: look again when it would be quiet (another
                // may have started by then).
                Some(at) => tokio::time::sleep_until(at.min(give_up)).await,
                None => {
                    tokio::select! {
                        _ = &mut notified => {}
                        _ = tokio::time::sleep_until(give_up) => {}
                    }
                }
            }
            let now = tokio::time::Instant::now();
            if now >= give_up && !one_at_a_time {
                return;
            }
            if now >= give_up {
                let mut backlog = self.backlog.lock().expect("acks lock");
                match backlog.last_gave_up {
                    Some(last) if now < last + HELD_BACK_APART => give_up = last + HELD_BACK_APART,
                    _ => {
                        backlog.last_gave_up = Some(now);
                        return;
                    }
                }
            }
        }
    }
}

pub(crate) struct AckGuard<'a>(&'a AcksInProgress, u64);

impl Drop for AckGuard<'_> {
    fn drop(&mut self) {
        let mut backlog = self.0.backlog.lock().expect("acks lock");
        backlog.started.remove(&self.1);
        backlog.completed += 1;
        let now = tokio::time::Instant::now();
        backlog.last_ended = Some(now);
        backlog.roll(now);
        if backlog.started.is_empty() {
            self.0.none_left.notify_waiters();
        }
    }
}

/// How many commands this process queued that no worker has claimed yet, as far as it knows: a worker
/// that finishes the answer to an announced command claims again at once only if there may be more, which
/// saves a claim that finds nothing after every answer. It is a hint: each claim, found or not, takes one
/// off (a command claimed by another instance costs one claim in vain, as before); a command nobody
/// announced makes its worker look again at once (a backlog drains without waiting); a worker that waits
/// is still woken by every new command (`Chat::wake`, registered before it claimed) and polls every
/// `DC_QUEUE_SLEEP_EMPTY` for commands other instances queued.
#[derive(Debug, Default)]
pub struct QueuedHint(std::sync::atomic::AtomicUsize);

impl QueuedHint {
    pub(crate) fn add(&self) {
        self.0.fetch_add(1, std::sync::atomic::Ordering::AcqRel);
    }

    /// Takes one off; whether there was one.
    pub(crate) fn take(&self) -> bool {
        self.0
            .fetch_update(
                std::sync::atomic::Ordering::AcqRel,
                std::sync::atomic::Ordering::Acquire,
                |n| n.checked_sub(1),
            )
            .is_ok()
    }

    pub(crate) fn any(&self) -> bool {
        self.0.load(std::sync::atomic::Ordering::Acquire) > 0
    }
}

#[cfg(test)]
mod tests {
    use super::{
        ACK_QUIET, AcksInProgress, HELD_BACK_APART, MAX_HOLD_BACK, MIN_BACKLOG, STALL_BUDGET,
    };
    use std::sync::Arc;
    use std::time::Duration;
    use tokio::time::Instant;

    #[tokio::test(start_paused = true)]
    async fn workers_wait_until_acknowledgements_are_quiet() {
        let acks = Arc::new(AcksInProgress::default());
        let quiet = |acks: &Arc<AcksInProgress>| {
            let acks = acks.clone();
            tokio::spawn(async move {
                acks.quiet().await;
                Instant::now()
            })
        };
        // None ever: no wait.
        let start = Instant::now();
        assert_eq!(quiet(&acks).await.unwrap(), start);

        // Two in progress: the worker waits for both, then for the quiet time after the last.
        let first = acks.start();
        let second = acks.start();
        let waiter = quiet(&acks);
        tokio::time::sleep(Duration::from_millis(10)).await;
        drop(first);
        tokio::time::sleep(Duration::from_millis(10)).await;
        assert!(!waiter.is_finished(), "one still in progress");
        drop(second);
        let ended = Instant::now();
        assert_eq!(waiter.await.unwrap(), ended + ACK_QUIET);

        // One that starts and ends within the quiet time starts the quiet time again.
        let first = acks.start();
        let waiter = quiet(&acks);
        drop(first);
        tokio::time::sleep(ACK_QUIET / 2).await;
        drop(acks.start());
        let ended = Instant::now();
        assert_eq!(waiter.await.unwrap(), ended + ACK_QUIET);

        // Never quiet (one every millisecond, each taking half of it): the worker goes after the
        // longest hold-back.
        let start = Instant::now();
        let waiter = quiet(&acks);
        while !waiter.is_finished() {
            let ack = acks.start();
            tokio::time::sleep(Duration::from_micros(500)).await;
            drop(ack);
            tokio::time::sleep(Duration::from_micros(500)).await;
        }
        let went = waiter.await.unwrap();
        // Several workers held back together go one at a time.
        let waiters: Vec<_> = (0..3).map(|_| quiet(&acks)).collect();
        let began = Instant::now();
        while !waiters.iter().all(|w| w.is_finished()) {
            let ack = acks.start();
            tokio::time::sleep(Duration::from_micros(500)).await;
            drop(ack);
            tokio::time::sleep(Duration::from_micros(500)).await;
        }
        let mut times = Vec::new();
        for waiter in waiters {
            times.push(waiter.await.unwrap() - began);
        }
        times.sort();
        assert!(times[0] >= MAX_HOLD_BACK, "{times:?}");
        assert!(times[1] - times[0] >= HELD_BACK_APART, "{times:?}");
        assert!(times[2] - times[1] >= HELD_BACK_APART, "{times:?}");
        assert!(
            went >= start + MAX_HOLD_BACK
                && went < start + MAX_HOLD_BACK + Duration::from_millis(1),
            "{:?}",
            went - start
        );
    }

    #[tokio::test(start_paused = true)]
    async fn background_writes_gather_until_acknowledgements_pause() {
        let acks = Arc::new(AcksInProgress::default());
        let hold_back = Duration::from_millis(50);
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<u32>();
        let gather = |acks: &Arc<AcksInProgress>,
                      mut rx: tokio::sync::mpsc::UnboundedReceiver<u32>| {
            let acks = acks.clone();
            tokio::spawn(async move {
                let mut taken = vec![0];
                acks.gather_after_pause(hold_back, &mut rx, &mut taken, 4)
                    .await;
                (Instant::now(), taken, rx)
            })
        };
        // Quiet: at once, with what is already there.
        tx.send(1).unwrap();
        let start = Instant::now();
        let (at, taken, back) = gather(&acks, rx).await.unwrap();
        assert_eq!((at, taken), (start, vec![0, 1]));
        rx = back;

        // One in progress: it waits, and takes what arrived meanwhile once quiet, up to the maximum.
        let ack = acks.start();
        let waiter = gather(&acks, rx);
        for item in 2..=6 {
            tokio::time::sleep(Duration::from_millis(5)).await;
            tx.send(item).unwrap();
        }
        assert!(!waiter.is_finished(), "an acknowledgement is in progress");
        drop(ack);
        let ended = Instant::now();
        let (at, taken, back) = waiter.await.unwrap();
        assert_eq!(at, ended + ACK_QUIET);
        assert_eq!(
            taken,
            [0, 2, 3, 4],
            "the maximum, the rest left for the next time"
        );
        rx = back;
        assert_eq!(rx.try_recv().ok(), Some(5));

        // Never quiet: it goes after `hold_back`, and two callers go together (no spacing).
        let start = Instant::now();
        let (tx2, rx2) = tokio::sync::mpsc::unbounded_channel::<u32>();
        let waiters = [gather(&acks, rx), gather(&acks, rx2)];
        while !waiters.iter().all(|w| w.is_finished()) {
            let ack = acks.start();
            tokio::time::sleep(Duration::from_micros(500)).await;
            drop(ack);
            tokio::time::sleep(Duration::from_micros(500)).await;
        }
        for waiter in waiters {
            let (at, taken, _) = waiter.await.unwrap();
            assert!(
                at >= start + hold_back && at < start + hold_back + Duration::from_millis(1),
                "{:?}",
                at - start
            );
            assert!(taken.len() <= 2, "{taken:?}");
        }
        drop((tx, tx2));
    }

    #[tokio::test(start_paused = true)]
    async fn a_backlog_longer_than_the_budget_is_refused() {
        let acks = AcksInProgress::default();
        let tick = Duration::from_millis(5);
        // Steady: 200 acknowledgements a second, each done in 5 ms.
        for _ in 0..100 {
            let ack = acks.start();
            tokio::time::sleep(tick).await;
            drop(ack);
            assert!(!acks.behind());
        }
        // A burst: at 200 a second, a backlog of 150 clears in 0.75 s — admitted…
        let mut burst: Vec<_> = (0..150).map(|_| acks.start()).collect();
        assert!(!acks.behind(), "0.75 s predicted");
        // … one of 200 would take 1 s: refused.
        burst.extend((0..50).map(|_| acks.start()));
        assert!(acks.behind(), "1 s predicted");
        // The backlog drains at the same rate; under the budget again, commands are admitted.
        while burst.len() > 150 {
            tokio::time::sleep(tick).await;
            burst.remove(0);
        }
        assert!(!acks.behind());
        // Nothing completes for 2 s: refused whatever the last rate said.
        tokio::time::sleep(STALL_BUDGET).await;
        assert!(acks.behind(), "stalled");
        burst.clear();
        assert!(!acks.behind(), "nothing in progress");
        // A small backlog is never refused, however slow.
        let few: Vec<_> = (0..MIN_BACKLOG - 1).map(|_| acks.start()).collect();
        tokio::time::sleep(STALL_BUDGET / 2).await;
        assert!(!acks.behind());
        drop(few);
    }

    #[tokio::test(start_paused = true)]
    async fn a_burst_after_a_quiet_spell_is_admitted_until_its_pace_is_known() {
        let acks = AcksInProgress::default();
        // A few acknowledgements, then a minute of quiet.
        for _ in 0..5 {
            drop(acks.start());
        }
        tokio::time::sleep(Duration::from_secs(60)).await;
        // 64 arrive at once (a burst on a cold bot): nothing has completed yet, nothing predicts a wait.
        let mut burst: Vec<_> = (0..64).map(|_| acks.start()).collect();
        assert!(!acks.behind(), "the pace is unknown: admitted");
        // They complete at 1,000 a second: 64 waiting is 64 ms of work.
        for _ in 0..30 {
            tokio::time::sleep(Duration::from_millis(1)).await;
            burst.remove(0);
        }
        burst.extend((0..30).map(|_| acks.start()));
        assert!(!acks.behind(), "64 at 1,000 a second: admitted");
        // The pace known, a backlog it cannot clear within the budget is refused.
        burst.extend((0..1_000).map(|_| acks.start()));
        assert!(acks.behind(), "over a second of work at the measured pace");
        drop(burst);
    }
}
