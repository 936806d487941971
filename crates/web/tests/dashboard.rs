//! The dashboard's activity charts and `GET /api/stats`, through HTTP requests to the real router on a
//! real database (SQLite, and PostgreSQL when `DC_TEST_POSTGRES_URL` is set). The harness is
//! `web.rs`'s.

use axum::http::StatusCode;
use chrono::{DateTime, TimeDelta, Utc};
use disconcierge_core::desk::model::NewTicket;
use disconcierge_core::model::{ChatCommandState, FeedbackKind, NewChatCommand, UserFeedback};
use disconcierge_core::stats::{self, LatencyHistogram};
use disconcierge_store::testing::TestDb;
use std::time::Duration;

mod common;

use common::*;

impl Web {
    /// A chat command created at `at`; completed ones answered `latency_ms` later, with `tokens`.
    async fn command(
        &self,
        interaction_id: u64,
        at: DateTime<Utc>,
        state: ChatCommandState,
        latency_ms: i64,
        tokens: u32,
    ) -> i64 {
        let cmd = self
            .store()
            .insert_chat_command(NewChatCommand {
                interaction_id,
                interaction_token: "token".into(),
                token_expires_at: at + TimeDelta::minutes(15),
                application_id: 1,
                user_id: 1,
                guild_id: Some(77),
                channel_id: Some(88),
                private: false,
                prompt: "question".into(),
                state,
                created_at: at,
            })
            .await
            .unwrap();
        // What a worker's clock would have written.
        let finished = (at + TimeDelta::milliseconds(latency_ms)).format("%Y-%m-%dT%H:%M:%S%.6fZ");
        self.db
            .execute(&format!(
                "UPDATE chat_commands SET finished_at = '{finished}', total_tokens = {tokens} \
                 WHERE id = {}",
                cmd.id
            ))
            .await;
        cmd.id
    }

    /// Three answers in one second (10, 20 and 30 tokens) and a failure in `hour`, two "good" votes, a
    /// ticket opened.
    async fn seed(&self, hour: DateTime<Utc>) {
        self.store().upsert_user(1, "ann", None).await.unwrap();
        let first = self
            .command(
                1,
                hour + TimeDelta::minutes(1),
                ChatCommandState::Completed,
                1000,
                10,
            )
            .await;
        for (i, tokens) in [(2, 20), (3, 30)] {
            self.command(
                i,
                hour + TimeDelta::minutes(i as i64),
                ChatCommandState::Completed,
                1000,
                tokens,
            )
            .await;
        }
        self.command(
            4,
            hour + TimeDelta::minutes(4),
            ChatCommandState::Failed,
            0,
            0,
        )
        .await;
        for user in [5, 6] {
            self.store()
                .insert_user_feedback(&UserFeedback {
                    chat_command_id: first,
                    user_id: user,
                    kind: FeedbackKind::Good,
                    detail: None,
                    created_at: hour + TimeDelta::minutes(10),
                })
                .await
                .unwrap();
        }
        self.store()
            .reserve_ticket(
                &NewTicket {
                    guild_id: 77,
                    category: "billing".into(),
                    opener_id: 1,
                    opener_name: "ann".into(),
                    created_at: hour + TimeDelta::minutes(5),
                },
                Duration::from_secs(600),
            )
            .await
            .unwrap();
    }
}

impl Reply {
    /// The text of the element `<tag … id="id" …>…</tag>`.
    fn element(&self, tag: &str, id: &str) -> &str {
        let attribute = format!(" id=\"{id}\"");
        let at = self
            .body
            .find(&attribute)
            .unwrap_or_else(|| panic!("no element with{attribute} in the page"));
        assert!(
            self.body[..at]
                .rfind('<')
                .is_some_and(|o| self.body[o..].starts_with(&format!("<{tag} ")))
        );
        let start = self.body[at..].find('>').unwrap() + at + 1;
        let end = self.body[start..].find(&format!("</{tag}>")).unwrap() + start;
        &self.body[start..end]
    }
}

/// Three hours ago: a settled hour, rolled up at the first load.
fn seeded_hour() -> DateTime<Utc> {
    stats::hour_start(Utc::now()) - TimeDelta::hours(3)
}

#[tokio::test]
async fn the_dashboard_charts_the_seeded_figures() {
    for db in TestDb::each().await {
        let web = Web::new(db).await;
        let hour = seeded_hour();
        web.seed(hour).await;
        let cookie = web.sign_in().await;

        let page = web.get("/disconcierge", Some(&cookie)).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        assert_eq!(page.body.matches("<svg class=\"chart\"").count(), 5);
        assert!(
            !page.body.contains("style="),
            "the CSP blocks style attributes"
        );
        assert!(
            page.body
                .contains("<option value=\"48h\" selected>48 hours</option>")
        );
        assert!(!page.body.contains("id=\"charts-pending\""));
        // Each chart's text equivalent has its figures.
        assert!(
            page.element("desc", "chart-commands-desc").starts_with(
                "Chat commands per hour over the last 48 hours: 4 in all, 3 completed, 1 failed, 0 other."
            ),
            "{}",
            page.element("desc", "chart-commands-desc")
        );
        assert!(
            page.element("desc", "chart-latency-desc")
                .contains("3 answers measured"),
            "{}",
            page.element("desc", "chart-latency-desc")
        );
        assert!(
            page.element("desc", "chart-tokens-desc")
                .contains(": 60 in all.")
        );
        assert!(
            page.element("desc", "chart-feedback-desc")
                .contains("2 in all (good 2, outdated 0, inaccurate 0, other 0)"),
            "{}",
            page.element("desc", "chart-feedback-desc")
        );
        assert!(
            page.element("desc", "chart-tickets-desc")
                .ends_with("1 opened, 0 closed.")
        );
        assert!(page.element("title", "chart-commands-title") == "Chat commands per hour");
        // And the tables under <details>: the hour's row in each.
        let name = hour.format("%Y-%m-%d %H:00").to_string();
        for row in [
            format!("<tr><td>{name}</td><td>3</td><td>1</td><td>0</td></tr>"),
            format!("<tr><td>{name}</td><td>3</td><td>1 s</td>"),
            format!("<tr><td>{name}</td><td>60</td></tr>"),
            format!("<tr><td>{name}</td><td>2</td><td>0</td><td>0</td><td>0</td></tr>"),
            format!("<tr><td>{name}</td><td>1</td><td>0</td></tr>"),
        ] {
            assert!(page.body.contains(&row), "{row}");
        }
        // Axis labels.
        assert!(page.body.contains(">Hour (UTC)</text>"));
        assert!(page.body.contains(">Latency (log scale)</text>"));
        // The rest of the dashboard is still there.
        assert!(page.body.contains("id=\"queue-depth\""));

        // Per day.
        let days = web.get("/disconcierge?range=30d", Some(&cookie)).await;
        assert_eq!(days.status, StatusCode::OK);
        assert!(
            days.body
                .contains("<option value=\"30d\" selected>30 days</option>")
        );
        assert!(
            days.element("desc", "chart-commands-desc").starts_with(
                "Chat commands per day over the last 30 days: 4 in all, 3 completed, 1 failed, 0 other."
            ),
            "{}",
            days.element("desc", "chart-commands-desc")
        );
        assert!(days.body.contains(">Day (UTC)</text>"));
        let day = hour.format("%Y-%m-%d").to_string();
        assert!(
            days.body
                .contains(&format!("<tr><td>{day}</td><td>60</td></tr>"))
        );

        // An unknown range: the dashboard with a clear message instead of the charts.
        let bad = web.get("/disconcierge?range=7d", Some(&cookie)).await;
        assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
        let message = bad.element("p", "charts-error").to_string();
        assert!(
            message.contains("48h") && message.contains("30d"),
            "{message}"
        );
        assert!(
            message.contains("&#34;7d&#34;") || message.contains("&quot;7d&quot;"),
            "{message}"
        );
        assert!(!bad.body.contains("<svg"));
        assert!(bad.body.contains("id=\"queue-depth\""));
    }
}

#[tokio::test]
async fn the_api_returns_the_series() {
    for db in TestDb::each().await {
        let web = Web::new(db).await;
        let hour = seeded_hour();
        web.seed(hour).await;
        let cookie = web.sign_in().await;

        assert_eq!(
            web.get("/api/stats", None).await.status,
            StatusCode::UNAUTHORIZED
        );
        let reply = web.get("/api/stats?range=48h", Some(&cookie)).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
        let body = reply.json();
        assert_eq!(body["range"], "48h");
        assert_eq!(body["granularity"], "hour");
        assert_eq!(body["pending_hours"], 0);
        let buckets = body["buckets"].as_array().unwrap();
        assert_eq!(buckets.len(), 48);
        let start = hour.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        let b = buckets
            .iter()
            .find(|b| b["start"] == start.as_str())
            .unwrap_or_else(|| panic!("no bucket {start}: {body}"));
        assert_eq!(b["completed"], 3);
        assert_eq!(b["failed"], 1);
        assert_eq!(b["other"], 0);
        assert_eq!(b["total_tokens"], 60);
        assert_eq!(b["latency_count"], 3);
        let p50 = b["p50_ms"].as_u64().unwrap();
        let (lo, hi) = LatencyHistogram::bucket_range_ms(LatencyHistogram::bucket_of(1000.0));
        assert!(lo <= p50 && p50 < hi.unwrap(), "{p50}");
        assert_eq!(b["feedback"]["good"], 2);
        assert_eq!(b["feedback"]["inaccurate"], 0);
        assert_eq!(b["tickets_opened"], 1);
        assert_eq!(b["complete"], true);
        let total: u64 = buckets
            .iter()
            .map(|b| b["completed"].as_u64().unwrap())
            .sum();
        assert_eq!(total, 3);

        // No range: 48 hours. 30 days: per day.
        let default = web.get("/api/stats", Some(&cookie)).await.json();
        assert_eq!(default["range"], "48h");
        let days = web.get("/api/stats?range=30d", Some(&cookie)).await.json();
        assert_eq!(days["granularity"], "day");
        assert_eq!(days["buckets"].as_array().unwrap().len(), 30);

        let bad = web.get("/api/stats?range=week", Some(&cookie)).await;
        assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
        let error = bad.json();
        assert_eq!(error["error"], "invalid");
        let message = error["message"].as_str().unwrap();
        assert!(
            message.contains("range must be 48h")
                && message.contains("30d")
                && message.contains("\"week\""),
            "{message}"
        );
        assert_eq!(error["fields"][0]["field"], "range");
    }
}

/// A first load with more settled hours to roll up than a request may read shows what it has, says the
/// rest is being computed, and a background task finishes it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_large_first_load_is_finished_in_the_background() {
    let web = Web::new(TestDb::sqlite().await).await;
    web.store().upsert_user(1, "ann", None).await.unwrap();
    let now = stats::hour_start(Utc::now());
    // More hours than a request's budget (each hour read costs ROLLUP_HOUR_COST).
    let hours =
        2 * disconcierge_store::ROLLUP_BUDGET_PER_REQUEST / disconcierge_store::ROLLUP_HOUR_COST;
    let oldest = now - TimeDelta::hours(i64::try_from(hours).unwrap());
    web.command(1, oldest, ChatCommandState::Completed, 500, 1)
        .await;
    web.command(2, now, ChatCommandState::Completed, 500, 1)
        .await;
    let cookie = web.sign_in().await;

    let first = web.get("/disconcierge?range=30d", Some(&cookie)).await;
    assert_eq!(first.status, StatusCode::OK);
    assert!(
        first.body.contains("id=\"charts-pending\""),
        "being computed"
    );
    assert!(
        first.body.contains("<g class=\"pending\">"),
        "shaded buckets"
    );

    let mut waited = Duration::ZERO;
    loop {
        let body = web.get("/api/stats?range=30d", Some(&cookie)).await.json();
        if body["pending_hours"] == 0 {
            let completed: u64 = body["buckets"]
                .as_array()
                .unwrap()
                .iter()
                .map(|b| b["completed"].as_u64().unwrap())
                .sum();
            assert_eq!(completed, 2);
            break;
        }
        assert!(waited < Duration::from_secs(30), "still pending: {body}");
        tokio::time::sleep(Duration::from_millis(50)).await;
        waited += Duration::from_millis(50);
    }
    let later = web.get("/disconcierge?range=30d", Some(&cookie)).await;
    assert!(!later.body.contains("id=\"charts-pending\""));
    assert!(!later.body.contains("<g class=\"pending\">"));
}
