//! The dashboard statistics contract ([`StatsStore::activity`], [`StatsStore::roll_up_activity`]), run against both
//! backends as in `repository.rs`: `sqlite::<name>` always, `postgres::<name>` with `DC_TEST_POSTGRES_URL`.

use chrono::{DateTime, SubsecRound, TimeDelta, Utc};
use disconcierge_core::desk::model::NewTicket;
use disconcierge_core::model::{ChatCommandState, FeedbackKind, NewChatCommand, UserFeedback};
use disconcierge_core::stats::{self, Activity, ActivityBucket, LatencyHistogram, StatsRange};
use disconcierge_store::testing::TestDb;
use disconcierge_store::{DatabaseKind, Store};
use std::time::Duration;

macro_rules! both {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    super::$name(disconcierge_store::DatabaseKind::Sqlite).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                #[cfg_attr(not(dc_test_postgres), ignore = "PostgreSQL: set DC_TEST_POSTGRES_URL to run")]
                async fn $name() {
                    super::$name(disconcierge_store::DatabaseKind::Postgres).await;
                }
            )*
        }
    };
}

both!(
    activity_counts_outcomes_latencies_tokens_feedback_and_tickets,
    a_rolled_up_hour_is_not_recomputed_but_live_hours_are,
    rollups_are_bounded_per_call_and_finished_later,
    several_instances_roll_up_the_same_hours,
);

async fn fresh(kind: DatabaseKind) -> Option<TestDb> {
    match kind {
        DatabaseKind::Sqlite => Some(TestDb::sqlite().await),
        DatabaseKind::Postgres => TestDb::postgres().await,
    }
}

/// Half past the current hour: two live hours (this one and the previous), the rest settled.
fn half_past() -> DateTime<Utc> {
    stats::hour_start(Utc::now()) + TimeDelta::minutes(30)
}

fn mins(n: i64) -> TimeDelta {
    TimeDelta::minutes(n)
}

/// A timestamp as SQL text both backends read (SQLite's stored format; PostgreSQL casts it).
fn sql_ts(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
}

/// Seeds chat commands through the store, then fakes what only a worker's clock would write
/// (`finished_at`, tokens) in SQL, all at once in [`Seed::flush`].
struct Seed<'a> {
    db: &'a TestDb,
    next: u64,
    updates: Vec<String>,
}

impl<'a> Seed<'a> {
    async fn new(db: &'a TestDb) -> Seed<'a> {
        db.store.upsert_user(1, "ann", None).await.unwrap();
        Seed {
            db,
            next: 1,
            updates: Vec::new(),
        }
    }

    fn store(&self) -> &dyn Store {
        self.db.store.as_ref()
    }

    /// A command created at `at` in `state`; completed ones answered after `latency_ms`.
    async fn command(
        &mut self,
        at: DateTime<Utc>,
        state: ChatCommandState,
        latency_ms: Option<i64>,
        tokens: Option<u32>,
    ) -> i64 {
        self.next += 1;
        let cmd = self
            .store()
            .insert_chat_command(NewChatCommand {
                interaction_id: self.next,
                interaction_token: format!("token-{}", self.next).into(),
                token_expires_at: at + mins(15),
                application_id: 42,
                user_id: 1,
                guild_id: Some(7),
                channel_id: Some(8),
                private: false,
                prompt: "question".into(),
                state,
                created_at: at,
            })
            .await
            .unwrap();
        let mut set = Vec::new();
        if let Some(ms) = latency_ms {
            set.push(format!(
                "finished_at = '{}'",
                sql_ts(at + TimeDelta::milliseconds(ms))
            ));
        }
        if let Some(t) = tokens {
            set.push(format!("total_tokens = {t}"));
        }
        if !set.is_empty() {
            self.updates.push(format!(
                "UPDATE chat_commands SET {} WHERE id = {}",
                set.join(", "),
                cmd.id
            ));
        }
        cmd.id
    }

    /// Writes the faked columns.
    async fn flush(&mut self) {
        if !self.updates.is_empty() {
            self.db.execute(&self.updates.join(";\n")).await;
            self.updates.clear();
        }
    }

    async fn completed(&mut self, at: DateTime<Utc>, latency_ms: i64, tokens: u32) -> i64 {
        self.command(
            at,
            ChatCommandState::Completed,
            Some(latency_ms),
            Some(tokens),
        )
        .await
    }

    async fn feedback(&self, on: i64, kind: FeedbackKind, at: DateTime<Utc>) {
        self.store()
            .insert_user_feedback(&UserFeedback {
                chat_command_id: on,
                user_id: 1 + self.next,
                kind,
                detail: None,
                created_at: at,
            })
            .await
            .unwrap();
    }
}

fn bucket(activity: &Activity, start: DateTime<Utc>) -> &ActivityBucket {
    activity
        .buckets
        .iter()
        .find(|b| b.start == start)
        .unwrap_or_else(|| panic!("no bucket at {start}"))
}

fn in_bucket_of(estimate: Option<u64>, true_ms: f64) -> bool {
    let (lo, hi) = LatencyHistogram::bucket_range_ms(LatencyHistogram::bucket_of(true_ms));
    estimate.is_some_and(|e| lo <= e && hi.is_none_or(|hi| e <= hi))
}

async fn activity_counts_outcomes_latencies_tokens_feedback_and_tickets(kind: DatabaseKind) {
    let Some(db) = fresh(kind).await else {
        return;
    };
    let now = half_past();
    let current = stats::hour_start(now);
    let h1 = current - TimeDelta::hours(5);
    let h2 = h1 + TimeDelta::hours(1);
    let mut seed = Seed::new(&db).await;

    // A settled hour: four answers (1 s, 1 s, 1 s, 5 s), a failure, an expiry, an abort.
    let first = seed.completed(h1 + mins(1), 1000, 10).await;
    seed.completed(h1 + mins(2), 1000, 20).await;
    seed.completed(h1 + mins(3), 1000, 30).await;
    seed.completed(h1 + mins(59), 5000, 40).await;
    seed.command(h1 + mins(4), ChatCommandState::Failed, None, Some(7))
        .await;
    seed.command(h1 + mins(5), ChatCommandState::Expired, None, None)
        .await;
    seed.command(h1 + mins(6), ChatCommandState::Aborted, None, None)
        .await;
    seed.feedback(first, FeedbackKind::Good, h1 + mins(10))
        .await;
    seed.feedback(first, FeedbackKind::Inaccurate, h1 + mins(11))
        .await;
    seed.feedback(first, FeedbackKind::Other, h1 + mins(70))
        .await;
    // The next hour: one fast answer.
    seed.completed(h2, 200, 5).await;
    // The live hours: a failure an hour ago; two answers in 3 s and a command still waiting now.
    seed.command(current - mins(50), ChatCommandState::Failed, None, None)
        .await;
    seed.completed(current + mins(1), 3000, 100).await;
    seed.completed(current + mins(2), 3000, 100).await;
    seed.command(current + mins(3), ChatCommandState::Queued, None, None)
        .await;
    // Tickets: two opened in the settled hour, one of them closed in the current one.
    for opener in [1, 2] {
        let ticket = db
            .store
            .reserve_ticket(
                &NewTicket {
                    guild_id: 7,
                    category: "billing".into(),
                    opener_id: opener,
                    opener_name: format!("user {opener}"),
                    created_at: h1 + mins(20),
                },
                Duration::from_secs(600),
            )
            .await
            .unwrap();
        if opener == 1 {
            db.store
                .close_ticket(ticket.ticket().id, 9, None, current + mins(5))
                .await
                .unwrap()
                .unwrap();
        }
    }

    seed.flush().await;
    let hours = db.store.activity(StatsRange::Hours48, now).await.unwrap();
    assert_eq!(hours.buckets.len(), 48);
    assert_eq!(hours.pending_hours, 0);
    assert!(hours.buckets.iter().all(|b| b.complete));
    let b = bucket(&hours, h1);
    assert_eq!((b.completed, b.failed, b.other), (4, 1, 2));
    assert_eq!(b.total_tokens, 107);
    assert_eq!(b.latency_count, 4);
    assert!(in_bucket_of(b.p50_ms, 1000.0), "{:?}", b.p50_ms);
    assert!(in_bucket_of(b.p90_ms, 5000.0), "{:?}", b.p90_ms);
    assert!(in_bucket_of(b.p99_ms, 5000.0), "{:?}", b.p99_ms);
    assert_eq!(b.feedback[&FeedbackKind::Good], 1);
    assert_eq!(b.feedback[&FeedbackKind::Inaccurate], 1);
    assert_eq!(b.feedback[&FeedbackKind::Other], 0);
    assert_eq!((b.tickets_opened, b.tickets_closed), (2, 0));
    let b = bucket(&hours, h2);
    assert_eq!((b.completed, b.total_tokens, b.latency_count), (1, 5, 1));
    assert!(in_bucket_of(b.p50_ms, 200.0));
    assert_eq!(b.feedback[&FeedbackKind::Other], 1, "counted when given");
    let b = bucket(&hours, current - TimeDelta::hours(1));
    assert_eq!((b.completed, b.failed, b.other), (0, 1, 0));
    assert_eq!(b.p50_ms, None);
    let b = bucket(&hours, current);
    assert_eq!((b.completed, b.failed, b.other), (2, 0, 1));
    assert_eq!(b.total_tokens, 200);
    assert!(in_bucket_of(b.p99_ms, 3000.0));
    assert_eq!((b.tickets_opened, b.tickets_closed), (0, 1));
    // Every settled hour of the range got its rollup (empty ones included); the live ones none.
    assert_eq!(db.scalar_i64("SELECT COUNT(*) FROM stats_hours").await, 46);

    // Per day: the same figures, summed.
    let days = db.store.activity(StatsRange::Days30, now).await.unwrap();
    assert_eq!(days.buckets.len(), 30);
    assert_eq!(days.pending_hours, 0);
    let sum = |f: fn(&ActivityBucket) -> u64| days.buckets.iter().map(f).sum::<u64>();
    assert_eq!(sum(|b| b.completed), 7);
    assert_eq!(sum(|b| b.failed), 2);
    assert_eq!(sum(|b| b.other), 3);
    assert_eq!(sum(|b| b.total_tokens), 312);
    assert_eq!(sum(|b| b.latency_count), 7);
    assert_eq!(sum(|b| b.feedback_total()), 3);
    assert_eq!(sum(|b| b.tickets_opened), 2);
    assert_eq!(sum(|b| b.tickets_closed), 1);
    let today = days.buckets.last().unwrap();
    assert_eq!(today.start, stats::day_start(now));
    if stats::day_start(h1) == today.start {
        // All of it today: p50 of 1, 1, 1, 5, 0.2, 3, 3 s is 1 s; p99 is 5 s.
        assert!(in_bucket_of(today.p50_ms, 1000.0), "{:?}", today.p50_ms);
        assert!(in_bucket_of(today.p99_ms, 5000.0), "{:?}", today.p99_ms);
    }
    assert_eq!(
        db.scalar_i64("SELECT COUNT(*) FROM stats_hours").await,
        i64::try_from(StatsRange::Days30.hours(now).len()).unwrap() - 2
    );
}

async fn a_rolled_up_hour_is_not_recomputed_but_live_hours_are(kind: DatabaseKind) {
    let Some(db) = fresh(kind).await else {
        return;
    };
    let now = half_past();
    let current = stats::hour_start(now);
    let settled = current - TimeDelta::hours(3);
    let mut seed = Seed::new(&db).await;
    let old = seed.completed(settled + mins(10), 1000, 10).await;
    let live = seed.completed(current + mins(10), 1000, 10).await;
    seed.flush().await;

    let before = db.store.activity(StatsRange::Hours48, now).await.unwrap();
    assert_eq!(bucket(&before, settled).completed, 1);
    assert_eq!(bucket(&before, current).completed, 1);

    // Both change, and a command appears in the settled hour (as no real one would).
    db.execute(&format!(
        "UPDATE chat_commands SET state = 'failed', total_tokens = 99 WHERE id IN ({old}, {live})"
    ))
    .await;
    seed.completed(settled + mins(20), 1000, 10).await;
    seed.flush().await;

    let after = db.store.activity(StatsRange::Hours48, now).await.unwrap();
    assert_eq!(
        bucket(&after, settled),
        bucket(&before, settled),
        "the stored rollup stands"
    );
    let b = bucket(&after, current);
    assert_eq!((b.completed, b.failed, b.total_tokens), (0, 1, 99));
    // The per-day view reads the same rollup.
    let days = db.store.activity(StatsRange::Days30, now).await.unwrap();
    assert_eq!(days.buckets.iter().map(|b| b.completed).sum::<u64>(), 1);
}

async fn rollups_are_bounded_per_call_and_finished_later(kind: DatabaseKind) {
    let Some(db) = fresh(kind).await else {
        return;
    };
    let now = half_past();
    let current = stats::hour_start(now);
    let mut seed = Seed::new(&db).await;
    // One command 200 hours ago, one now: 199 settled hours to read from the first one on (more than a
    // request's budget: each costs ROLLUP_HOUR_COST), and the month's hours before it are known empty.
    let start = current - TimeDelta::hours(200);
    seed.completed(start + mins(5), 2000, 1).await;
    seed.completed(current, 2000, 1).await;
    seed.flush().await;
    let since = StatsRange::Days30.start(now);

    // A budget of one command: one hour per call, after the empty ones.
    let settled_hours = i64::try_from(StatsRange::Days30.hours(now).len()).unwrap() - 2;
    let left = db.store.roll_up_activity(since, now, 1).await.unwrap();
    assert_eq!(left, 199 - 1);
    let stored = db.scalar_i64("SELECT COUNT(*) FROM stats_hours").await;
    assert_eq!(stored, settled_hours - 198);
    let left = db.store.roll_up_activity(since, now, 1).await.unwrap();
    assert_eq!(left, 197);

    // A request does what its budget allows and says how much is left.
    let first = db.store.activity(StatsRange::Days30, now).await.unwrap();
    let per_request = usize::try_from(
        disconcierge_store::ROLLUP_BUDGET_PER_REQUEST / disconcierge_store::ROLLUP_HOUR_COST,
    )
    .unwrap();
    assert!(
        per_request < 197,
        "the test needs more hours than a request's budget"
    );
    assert_eq!(first.pending_hours as usize, 197 - per_request);
    assert!(first.buckets.iter().any(|b| !b.complete));
    assert!(first.buckets.last().unwrap().complete, "newest hours first");
    assert_eq!(first.buckets.iter().map(|b| b.completed).sum::<u64>(), 1);

    // Finished in one go; then everything is there.
    assert_eq!(
        db.store
            .roll_up_activity(since, now, u64::MAX)
            .await
            .unwrap(),
        0
    );
    let done = db.store.activity(StatsRange::Days30, now).await.unwrap();
    assert_eq!(done.pending_hours, 0);
    assert!(done.buckets.iter().all(|b| b.complete));
    assert_eq!(done.buckets.iter().map(|b| b.completed).sum::<u64>(), 2);
    assert_eq!(
        db.scalar_i64("SELECT COUNT(*) FROM stats_hours").await,
        settled_hours
    );
    // Nothing left to do: the next call reads no hour.
    assert_eq!(db.store.roll_up_activity(since, now, 1).await.unwrap(), 0);
}

async fn several_instances_roll_up_the_same_hours(kind: DatabaseKind) {
    let Some(db) = fresh(kind).await else {
        return;
    };
    let now = half_past();
    let current = stats::hour_start(now);
    let mut seed = Seed::new(&db).await;
    for h in (2..40).rev() {
        seed.completed(current - TimeDelta::hours(h) + mins(7), 100 * h, 3)
            .await;
    }
    seed.flush().await;
    let other = db.connect_again().await;
    let (a, b) = tokio::join!(
        db.store.activity(StatsRange::Hours48, now),
        other.activity(StatsRange::Hours48, now)
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!(a, b);
    assert_eq!(a.buckets.iter().map(|b| b.completed).sum::<u64>(), 38);
    assert_eq!(db.scalar_i64("SELECT COUNT(*) FROM stats_hours").await, 46);
    let again = other.activity(StatsRange::Hours48, now).await.unwrap();
    assert_eq!(again, a);
    other.close().await;
}

/// The same commands in SQLite and PostgreSQL give the same series, latencies on bucket bounds included.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[cfg_attr(
    not(dc_test_postgres),
    ignore = "PostgreSQL: set DC_TEST_POSTGRES_URL to run"
)]
async fn sqlite_and_postgres_agree() {
    let Some(pg) = TestDb::postgres().await else {
        return;
    };
    let lite = TestDb::sqlite().await;
    let now = half_past().trunc_subsecs(0);
    let current = stats::hour_start(now);
    let mut results = Vec::new();
    for db in [&lite, &pg] {
        let mut seed = Seed::new(db).await;
        let mut i = 0i64;
        // Oldest first: ids grow with creation time, as the rollup's id ranges expect.
        for h in (0..60).rev() {
            for k in 0..5 {
                i += 1;
                let at = current - TimeDelta::hours(h) + mins(k * 11);
                // Latencies on, just under and between the bucket bounds.
                let bound = stats::LATENCY_BOUNDS_MS[(i as usize * 7) % 58] as i64;
                let latency = bound - (i % 3);
                let state = match i % 9 {
                    0 => ChatCommandState::Failed,
                    1 => ChatCommandState::RateLimited,
                    _ => ChatCommandState::Completed,
                };
                let id = seed
                    .command(
                        at,
                        state,
                        (state == ChatCommandState::Completed).then_some(latency),
                        Some(u32::try_from(i).unwrap()),
                    )
                    .await;
                if i % 4 == 0 {
                    let kind = FeedbackKind::ALL[(i as usize / 4) % 4];
                    seed.feedback(id, kind, at + mins(3)).await;
                }
            }
        }
        seed.flush().await;
        let hours = db.store.activity(StatsRange::Hours48, now).await.unwrap();
        let days = db.store.activity(StatsRange::Days30, now).await.unwrap();
        assert_eq!(hours.buckets.iter().map(|b| b.commands()).sum::<u64>(), 240);
        results.push((hours, days));
    }
    assert_eq!(results[0], results[1]);
}
