//! The dashboard's activity charts and `GET /api/stats`: the store's series ([`StatsStore::activity`]) as
//! inline SVG charts with their tables, or as JSON.
//!
//! A load on a large database may leave settled hours without a rollup (each load reads at most
//! [`ROLLUP_BUDGET_PER_REQUEST`] commands); they are then finished by one background task per process
//! ([`finish_rollups`]), and the page says they are being computed.
//!
//! [`StatsStore::activity`]: disconcierge_store::StatsStore::activity

use crate::WebState;
use crate::auth::ApiAdmin;
use crate::charts::{self, Frame, Layout, Series};
use crate::error::{ApiError, ErrorBody};
use axum::Json;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use disconcierge_core::model::FeedbackKind;
use disconcierge_core::runtime_config::FieldError;
use disconcierge_core::stats::{Activity, ActivityBucket, Granularity, StatsRange};
use disconcierge_store::ROLLUP_BUDGET_PER_REQUEST;
use serde::Deserialize;
use std::sync::atomic::Ordering;
use std::time::Duration;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn api_routes() -> OpenApiRouter<WebState> {
    OpenApiRouter::new().routes(routes!(stats_api))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct RangeQuery {
    /// `48h` (per hour, the default) or `30d` (per UTC day).
    #[param(pattern = "^(48h|30d)$")]
    pub range: Option<String>,
}

/// The dashboard's series (`disconcierge_core::stats::Activity`, described here: the core crate does not
/// depend on utoipa).
#[derive(ToSchema)]
#[schema(as = Activity)]
#[allow(dead_code)] // describes the JSON of `Activity` only; never built
struct ActivitySchema {
    #[schema(pattern = "^(48h|30d)$")]
    range: String,
    /// `hour` or `day`: how long each bucket is.
    #[schema(pattern = "^(hour|day)$")]
    granularity: String,
    generated_at: DateTime<Utc>,
    /// Settled hours of the range not rolled up yet (being computed): their buckets are incomplete.
    pending_hours: u32,
    /// Every bucket of the range, oldest first.
    buckets: Vec<ActivityBucketSchema>,
}

/// One bucket: an hour, or a UTC day of the 30-day range.
#[derive(ToSchema)]
#[schema(as = ActivityBucket)]
#[allow(dead_code)] // describes the JSON of `ActivityBucket` only; never built
struct ActivityBucketSchema {
    start: DateTime<Utc>,
    completed: u64,
    failed: u64,
    other: u64,
    total_tokens: u64,
    /// Completed commands whose latency was counted (those the percentiles describe).
    latency_count: u64,
    /// Latency percentiles of completed commands, in milliseconds; `null` without any.
    p50_ms: Option<u64>,
    p90_ms: Option<u64>,
    p99_ms: Option<u64>,
    /// Feedback per kind (`good`, `outdated`, `inaccurate`, `other`), every kind present.
    feedback: std::collections::BTreeMap<String, u64>,
    tickets_opened: u64,
    tickets_closed: u64,
    /// False while some of its settled hours are not rolled up yet: its figures are partial.
    complete: bool,
}

/// The range asked for: 48 hours when none is given.
fn parse_range(raw: Option<&str>) -> Result<StatsRange, String> {
    match raw.map(str::trim) {
        None | Some("") => Ok(StatsRange::default()),
        Some(r) => r
            .parse()
            .map_err(|e: disconcierge_core::stats::UnknownRange| e.to_string()),
    }
}

/// The series over a range, starting the background rollup if some hours are left.
async fn load(
    state: &WebState,
    range: StatsRange,
) -> Result<Activity, disconcierge_store::StoreError> {
    let now = Utc::now();
    let activity = state.store().activity(range, now).await?;
    if activity.pending_hours > 0 {
        finish_rollups(state, range.start(now));
    }
    Ok(activity)
}

/// Rolls up, in the background, the settled hours from `since` that have no rollup yet: one task per
/// process at a time, in steps of a few requests' budget with a pause between them, so that page loads and
/// the bot's own writes never queue behind a month of commands. An error ends the task (logged); the
/// next dashboard load starts another.
fn finish_rollups(state: &WebState, since: DateTime<Utc>) {
    if state.rollups_running().swap(true, Ordering::AcqRel) {
        return;
    }
    let state = state.clone();
    tokio::spawn(async move {
        loop {
            match state
                .store()
                .roll_up_activity(since, Utc::now(), 4 * ROLLUP_BUDGET_PER_REQUEST)
                .await
            {
                Ok(0) => break,
                Ok(_) => tokio::time::sleep(Duration::from_millis(20)).await,
                Err(e) => {
                    tracing::warn!(error = %e, "statistics: could not roll up hours; the next dashboard load tries again");
                    break;
                }
            }
        }
        state.rollups_running().store(false, Ordering::Release);
    });
}

// ----- API -----

/// The dashboard's charts as data: chat commands by outcome, answer latency percentiles, tokens,
/// feedback and tickets per hour (48 h) or per UTC day (30 d). Hours of a large database not rolled up
/// yet are computed in the background; `pending_hours` says how many remain.
#[utoipa::path(
    get,
    path = "/api/stats",
    operation_id = "get_stats",
    tag = "operations",
    params(RangeQuery),
    responses(
        (status = 200, description = "The series over the range.", body = ActivitySchema),
        (status = 422, description = "`invalid`: the range is not `48h` or `30d`.", body = ErrorBody),
    ),
    security(("session" = []), ("bearer" = [])),
)]
async fn stats_api(
    State(state): State<WebState>,
    ApiAdmin(_): ApiAdmin,
    Query(q): Query<RangeQuery>,
) -> Result<Json<Activity>, ApiError> {
    let range = parse_range(q.range.as_deref()).map_err(|message| ApiError {
        status: StatusCode::UNPROCESSABLE_ENTITY,
        code: "invalid",
        message: message.clone(),
        fields: vec![FieldError {
            field: "range",
            message,
        }],
    })?;
    Ok(Json(load(&state, range).await?))
}

// ----- Page -----

/// A choice of the range select.
pub(crate) struct RangeOption {
    pub value: &'static str,
    pub label: &'static str,
    pub selected: bool,
}

/// One legend entry: the series' class (its colour) and name.
pub(crate) struct LegendEntry {
    pub class: &'static str,
    pub name: &'static str,
}

/// One chart: its SVG (escaped while drawn), legend and figures as a table.
pub(crate) struct ChartView {
    pub id: &'static str,
    pub title: String,
    pub svg: String,
    pub legend: Vec<LegendEntry>,
    pub columns: Vec<String>,
    pub rows: Vec<Vec<String>>,
}

/// The charts section of the dashboard (`dashboard_charts.html`).
pub(crate) struct ChartsView {
    pub ranges: Vec<RangeOption>,
    /// A bad range or a database error, instead of the charts.
    pub error: Option<String>,
    pub pending_hours: u32,
    pub charts: Vec<ChartView>,
}

/// The charts for the dashboard's `range` parameter, and the page's status (422 for an unknown range).
pub(crate) async fn charts_view(
    state: &WebState,
    raw_range: Option<&str>,
) -> (ChartsView, StatusCode) {
    let parsed = parse_range(raw_range);
    let selected = parsed.clone().unwrap_or_default();
    let mut view = ChartsView {
        ranges: StatsRange::ALL
            .iter()
            .map(|r| RangeOption {
                value: r.as_str(),
                label: r.label(),
                selected: *r == selected,
            })
            .collect(),
        error: None,
        pending_hours: 0,
        charts: Vec::new(),
    };
    let range = match parsed {
        Ok(r) => r,
        Err(message) => {
            view.error = Some(crate::views::capitalize(&message) + ".");
            return (view, StatusCode::UNPROCESSABLE_ENTITY);
        }
    };
    match load(state, range).await {
        Ok(activity) => {
            view.pending_hours = activity.pending_hours;
            view.charts = build_charts(&activity);
        }
        Err(e) => {
            tracing::warn!(error = %e, "dashboard: could not read the statistics");
            view.error = Some(
                "The charts could not be read from the database; reload the page in a moment. The \
                 error was logged."
                    .into(),
            );
        }
    }
    (view, StatusCode::OK)
}

/// Words for a range's buckets.
struct Words {
    per: &'static str,
    over: &'static str,
    axis: &'static str,
}

fn words(activity: &Activity) -> Words {
    match activity.granularity {
        Granularity::Hour => Words {
            per: "per hour",
            over: "over the last 48 hours",
            axis: "Hour (UTC)",
        },
        Granularity::Day => Words {
            per: "per day",
            over: "over the last 30 days",
            axis: "Day (UTC)",
        },
    }
}

/// A bucket's name in tables and descriptions.
fn bucket_name(activity: &Activity, b: &ActivityBucket) -> String {
    match activity.granularity {
        Granularity::Hour => b.start.format("%Y-%m-%d %H:00").to_string(),
        Granularity::Day => b.start.format("%Y-%m-%d").to_string(),
    }
}

/// Labels under the x axis: every 6 hours (the date at midnight), or every 5 days.
fn x_ticks(activity: &Activity) -> Vec<(usize, String)> {
    activity
        .buckets
        .iter()
        .enumerate()
        .filter_map(|(i, b)| match activity.granularity {
            Granularity::Hour => {
                let hour = b.start.format("%H").to_string();
                match hour.as_str() {
                    "00" => Some((i, b.start.format("%b %d").to_string())),
                    "06" | "12" | "18" => Some((i, format!("{hour}:00"))),
                    _ => None,
                }
            }
            Granularity::Day => {
                (i % 5 == 4 || i == 0).then(|| (i, b.start.format("%b %d").to_string()))
            }
        })
        .collect()
}

/// The bucket with the most of `f`, if any has some.
fn busiest(
    activity: &Activity,
    f: impl Fn(&ActivityBucket) -> u64,
) -> Option<(&ActivityBucket, u64)> {
    activity
        .buckets
        .iter()
        .map(|b| (b, f(b)))
        .filter(|(_, n)| *n > 0)
        .max_by_key(|(_, n)| *n)
}

fn counts(activity: &Activity, f: impl Fn(&ActivityBucket) -> u64) -> Vec<Option<f64>> {
    activity.buckets.iter().map(|b| Some(f(b) as f64)).collect()
}

fn feedback_class(kind: FeedbackKind) -> &'static str {
    match kind {
        FeedbackKind::Good => "s-good",
        FeedbackKind::Outdated => "s-outdated",
        FeedbackKind::Inaccurate => "s-inaccurate",
        FeedbackKind::Other => "s-remark",
    }
}

fn build_charts(activity: &Activity) -> Vec<ChartView> {
    let w = words(activity);
    let ticks = x_ticks(activity);
    let shaded: Vec<usize> = activity
        .buckets
        .iter()
        .enumerate()
        .filter(|(_, b)| !b.complete)
        .map(|(i, _)| i)
        .collect();
    let pending_note = if activity.pending_hours > 0 {
        format!(
            " Figures for {} hours are still being computed; the shaded bars are incomplete.",
            activity.pending_hours
        )
    } else {
        String::new()
    };
    let names: Vec<String> = activity
        .buckets
        .iter()
        .map(|b| bucket_name(activity, b))
        .collect();
    let frame = |id: &'static str,
                 title: &str,
                 desc: &str,
                 y_label: &'static str,
                 draw: &dyn Fn(&Frame) -> String| {
        draw(&Frame {
            id,
            title,
            desc,
            x_label: w.axis,
            y_label,
            slots: activity.buckets.len(),
            x_ticks: &ticks,
            shaded: &shaded,
        })
    };
    let table = |f: &dyn Fn(&ActivityBucket) -> Vec<String>| -> Vec<Vec<String>> {
        activity
            .buckets
            .iter()
            .zip(&names)
            .map(|(b, name)| {
                let mut row = vec![name.clone()];
                row.extend(f(b));
                row
            })
            .collect()
    };
    let sum = |f: fn(&ActivityBucket) -> u64| activity.buckets.iter().map(f).sum::<u64>();
    let mut charts = Vec::new();

    // 1. Chat commands by outcome.
    let title = format!("Chat commands {}", w.per);
    let (completed, failed, other) = (sum(|b| b.completed), sum(|b| b.failed), sum(|b| b.other));
    let mut desc = format!(
        "Chat commands {} {}: {} in all, {completed} completed, {failed} failed, {other} other.",
        w.per,
        w.over,
        completed + failed + other
    );
    if let Some((b, n)) = busiest(activity, ActivityBucket::commands) {
        desc += &format!(" The busiest, {} UTC, had {n}.", bucket_name(activity, b));
    }
    desc += &pending_note;
    let (c, f, o) = (
        counts(activity, |b| b.completed),
        counts(activity, |b| b.failed),
        counts(activity, |b| b.other),
    );
    let svg = frame("chart-commands", &title, &desc, "Commands", &|fr| {
        charts::bars(
            fr,
            &[
                Series {
                    class: "s-completed",
                    values: &c,
                },
                Series {
                    class: "s-failed",
                    values: &f,
                },
                Series {
                    class: "s-other",
                    values: &o,
                },
            ],
            Layout::Stacked,
            charts::compact,
        )
    });
    charts.push(ChartView {
        id: "commands",
        title,
        svg,
        legend: vec![
            LegendEntry {
                class: "s-completed",
                name: "completed",
            },
            LegendEntry {
                class: "s-failed",
                name: "failed",
            },
            LegendEntry {
                class: "s-other",
                name: "other (expired, aborted, refused…)",
            },
        ],
        columns: vec![
            w.axis.into(),
            "Completed".into(),
            "Failed".into(),
            "Other".into(),
        ],
        rows: table(&|b| {
            vec![
                b.completed.to_string(),
                b.failed.to_string(),
                b.other.to_string(),
            ]
        }),
    });

    // 2. Latency percentiles.
    let title = format!("Answer latency {} (p50, p90, p99)", w.per);
    let measured = sum(|b| b.latency_count);
    let mut desc = format!(
        "Time from a chat command to its answer, completed commands only, {} {}: median (p50), 90th and \
         99th percentiles, on a logarithmic scale; {measured} answers measured.",
        w.per, w.over
    );
    if let Some((b, p99)) = busiest(activity, |b| b.p99_ms.unwrap_or(0)) {
        desc += &format!(
            " The highest 99th percentile was {} ({} UTC).",
            charts::duration_ms(p99 as f64),
            bucket_name(activity, b)
        );
    }
    desc += &pending_note;
    let pct = |f: fn(&ActivityBucket) -> Option<u64>| -> Vec<Option<f64>> {
        activity
            .buckets
            .iter()
            .map(|b| f(b).map(|v| v as f64))
            .collect()
    };
    let (p50, p90, p99) = (pct(|b| b.p50_ms), pct(|b| b.p90_ms), pct(|b| b.p99_ms));
    let svg = frame(
        "chart-latency",
        &title,
        &desc,
        "Latency (log scale)",
        &|fr| {
            charts::log_lines(
                fr,
                &[
                    Series {
                        class: "s-p50",
                        values: &p50,
                    },
                    Series {
                        class: "s-p90",
                        values: &p90,
                    },
                    Series {
                        class: "s-p99",
                        values: &p99,
                    },
                ],
                charts::duration_ms,
            )
        },
    );
    let shown =
        |v: Option<u64>| v.map_or_else(|| "–".to_string(), |ms| charts::duration_ms(ms as f64));
    charts.push(ChartView {
        id: "latency",
        title,
        svg,
        legend: vec![
            LegendEntry {
                class: "s-p50",
                name: "p50 (median)",
            },
            LegendEntry {
                class: "s-p90",
                name: "p90",
            },
            LegendEntry {
                class: "s-p99",
                name: "p99",
            },
        ],
        columns: vec![
            w.axis.into(),
            "Answers".into(),
            "p50".into(),
            "p90".into(),
            "p99".into(),
        ],
        rows: table(&|b| {
            vec![
                b.latency_count.to_string(),
                shown(b.p50_ms),
                shown(b.p90_ms),
                shown(b.p99_ms),
            ]
        }),
    });

    // 3. Tokens.
    let title = format!("Tokens used {}", w.per);
    let mut desc = format!(
        "Tokens used by chat commands (prompt and answer) {} {}: {} in all.",
        w.per,
        w.over,
        sum(|b| b.total_tokens)
    );
    if let Some((b, n)) = busiest(activity, |b| b.total_tokens) {
        desc += &format!(" The most, {n}, on {} UTC.", bucket_name(activity, b));
    }
    desc += &pending_note;
    let tokens = counts(activity, |b| b.total_tokens);
    let svg = frame("chart-tokens", &title, &desc, "Tokens", &|fr| {
        charts::bars(
            fr,
            &[Series {
                class: "s-tokens",
                values: &tokens,
            }],
            Layout::Stacked,
            charts::compact,
        )
    });
    charts.push(ChartView {
        id: "tokens",
        title,
        svg,
        legend: vec![LegendEntry {
            class: "s-tokens",
            name: "total tokens",
        }],
        columns: vec![w.axis.into(), "Tokens".into()],
        rows: table(&|b| vec![b.total_tokens.to_string()]),
    });

    // 4. Feedback mix.
    let title = format!("Feedback {}", w.per);
    let per_kind: Vec<String> = FeedbackKind::ALL
        .iter()
        .map(|&k| {
            let n: u64 = activity
                .buckets
                .iter()
                .map(|b| b.feedback.get(&k).copied().unwrap_or(0))
                .sum();
            format!("{} {n}", k.label().to_lowercase())
        })
        .collect();
    let desc = format!(
        "Feedback on answers {} {}, by kind: {} in all ({}).{pending_note}",
        w.per,
        w.over,
        sum(ActivityBucket::feedback_total),
        per_kind.join(", ")
    );
    let kinds: Vec<Vec<Option<f64>>> = FeedbackKind::ALL
        .iter()
        .map(|&k| counts(activity, |b| b.feedback.get(&k).copied().unwrap_or(0)))
        .collect();
    let series: Vec<Series> = FeedbackKind::ALL
        .iter()
        .zip(&kinds)
        .map(|(&k, values)| Series {
            class: feedback_class(k),
            values,
        })
        .collect();
    let svg = frame("chart-feedback", &title, &desc, "Feedback", &|fr| {
        charts::bars(fr, &series, Layout::Stacked, charts::compact)
    });
    let mut columns = vec![w.axis.to_string()];
    columns.extend(FeedbackKind::ALL.iter().map(|k| k.label().to_string()));
    charts.push(ChartView {
        id: "feedback",
        title,
        svg,
        legend: FeedbackKind::ALL
            .iter()
            .map(|&k| LegendEntry {
                class: feedback_class(k),
                name: k.label(),
            })
            .collect(),
        columns,
        rows: table(&|b| {
            FeedbackKind::ALL
                .iter()
                .map(|k| b.feedback.get(k).copied().unwrap_or(0).to_string())
                .collect()
        }),
    });

    // 5. Support-desk tickets (counted live: never incomplete).
    let title = format!("Support tickets opened and closed {}", w.per);
    let desc = format!(
        "Support-desk tickets opened and closed {} {}: {} opened, {} closed.",
        w.per,
        w.over,
        sum(|b| b.tickets_opened),
        sum(|b| b.tickets_closed)
    );
    let (opened, closed) = (
        counts(activity, |b| b.tickets_opened),
        counts(activity, |b| b.tickets_closed),
    );
    let svg = charts::bars(
        &Frame {
            id: "chart-tickets",
            title: &title,
            desc: &desc,
            x_label: w.axis,
            y_label: "Tickets",
            slots: activity.buckets.len(),
            x_ticks: &ticks,
            shaded: &[],
        },
        &[
            Series {
                class: "s-opened",
                values: &opened,
            },
            Series {
                class: "s-closed",
                values: &closed,
            },
        ],
        Layout::Grouped,
        charts::compact,
    );
    charts.push(ChartView {
        id: "tickets",
        title,
        svg,
        legend: vec![
            LegendEntry {
                class: "s-opened",
                name: "opened",
            },
            LegendEntry {
                class: "s-closed",
                name: "closed",
            },
        ],
        columns: vec![w.axis.into(), "Opened".into(), "Closed".into()],
        rows: table(&|b| vec![b.tickets_opened.to_string(), b.tickets_closed.to_string()]),
    });
    charts
}
