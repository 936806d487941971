//! The admin bench: page load times of the admin interface on a large database, SQLite and (with
//! `DC_BENCH_POSTGRES_URL`, a database the bench may fill) PostgreSQL; `--databases` picks.
//!
//! 1. Seeds a fresh SQLite file (or the PostgreSQL database) with `--rows` chat commands (default
//!    1,000,000) from 1,000 users in 10 guilds over the last 30 days, one in fifty failed, through the
//!    store (as the bot writes them). A PostgreSQL database an earlier run seeded with as many commands is
//!    measured as it is; after seeding it, the bench runs `ANALYZE`, as autovacuum would within a minute.
//! 2. Starts the release binary on it (no Discord, no LLM: only the admin interface is measured), signs in.
//!    Completed commands then get an answer time (0.5 to 30 s) and tokens, as a worker would have
//!    written them; one command in fifty gets feedback, and 2,000 support tickets are opened (half closed).
//! 3. Loads the dashboard's 30-day charts once on the cold database (every hour of the month still to be
//!    rolled up: the first load does what its budget allows and a background task finishes), times it
//!    and how long until every hour is rolled up.
//! 4. Loads each page `--requests` times, one after the other, and prints p50/p99/max per page: the
//!    dashboard (charts of 48 hours and of 30 days), the list unfiltered and with each filter, a page deep
//!    in the list (keyset cursor), a command's detail page, and the JSON list and statistics.

use crate::Options;
use crate::process::{Bot, free_port};
use crate::stats::{Summary, ms};
use chrono::{TimeDelta, Utc};
use disconcierge_core::desk::model::NewTicket;
use disconcierge_core::model::{ChatCommandState, FeedbackKind, NewChatCommand, UserFeedback};
use disconcierge_store::ConnectOptions;
use std::time::Duration;
use tokio::time::Instant;

const USERS: u64 = 1_000;
const GUILDS: u64 = 10;
const PASSWORD: &str = "bench password 1";

/// The database a run measures.
enum Target {
    Sqlite(std::path::PathBuf),
    Postgres(String),
}

impl Target {
    fn name(&self) -> &'static str {
        match self {
            Target::Sqlite(_) => "SQLite",
            Target::Postgres(_) => "PostgreSQL",
        }
    }

    fn connect_options(&self) -> ConnectOptions {
        match self {
            Target::Sqlite(path) => ConnectOptions::sqlite(path.display().to_string()),
            Target::Postgres(url) => ConnectOptions::postgres(url.clone()),
        }
    }
}

pub async fn run(options: &Options) -> Result<(), String> {
    let dir = std::env::temp_dir().join(format!("disconcierge-bench-admin-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let mut result = Ok(());
    if options.databases.iter().any(|d| d == "sqlite") {
        result = bench(options, &dir, Target::Sqlite(dir.join("admin.sqlite3"))).await;
    }
    if result.is_ok() && options.databases.iter().any(|d| d == "postgres") {
        match std::env::var("DC_BENCH_POSTGRES_URL") {
            Ok(url) => result = bench(options, &dir, Target::Postgres(url)).await,
            Err(_) if !options.databases.iter().any(|d| d == "sqlite") => {
                result = Err("--databases postgres needs DC_BENCH_POSTGRES_URL".into());
            }
            Err(_) => {}
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    result
}

async fn bench(options: &Options, dir: &std::path::Path, target: Target) -> Result<(), String> {
    let store = disconcierge_store::connect(&target.connect_options())
        .await
        .map_err(|e| e.to_string())?;
    store.migrate().await.map_err(|e| e.to_string())?;
    let rows = options.rows;
    let seeded = match &target {
        Target::Postgres(url) => count_commands(url).await? == rows,
        Target::Sqlite(_) => false,
    };
    if seeded {
        println!(
            "{}: the {rows} chat commands of an earlier run are there; measured as they are",
            target.name()
        );
    } else {
        seed(&store, &target, rows).await?;
    }
    store.close().await;
    serve_and_measure(options, dir, &target, rows).await
}

/// Chat commands in the PostgreSQL database at `url`.
async fn count_commands(url: &str) -> Result<u64, String> {
    use sqlx::Connection as _;
    let mut conn = sqlx::PgConnection::connect(url)
        .await
        .map_err(|e| e.to_string())?;
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM chat_commands")
        .fetch_one(&mut conn)
        .await
        .map_err(|e| e.to_string())?;
    let _ = conn.close().await;
    Ok(u64::try_from(n).unwrap_or(0))
}

/// Writes the commands, their answers and feedback, the tickets and the bench's admin account.
async fn seed(
    store: &std::sync::Arc<dyn disconcierge_store::Store>,
    target: &Target,
    rows: u64,
) -> Result<(), String> {
    println!("seeding {rows} chat commands into {}…", target.name());
    let seeding = Instant::now();
    for u in 1..=USERS {
        store
            .upsert_user(u, &format!("user{u}"), None)
            .await
            .map_err(|e| e.to_string())?;
    }
    let start = Utc::now() - TimeDelta::days(30);
    let step_ms = (30 * 24 * 3600 * 1000) / i64::try_from(rows.max(1)).unwrap_or(1);
    // One writer. On SQLite, with several connections writing back to back its automatic checkpoints
    // never got to run and the WAL grew past 7 GB in a minute (see BENCHMARKS.md). On both, ids must
    // follow the creation times as when a bot records commands as they come: the list by date relies
    // on it (to within a minute, `rows.rs`); writers in parallel would each write their own stretch of
    // the month.
    let writers: u64 = 1;
    let mut tasks = tokio::task::JoinSet::new();
    let per_task = rows.div_ceil(writers);
    for t in 0..writers {
        let store = store.clone();
        tasks.spawn(async move {
            let from = t * per_task;
            let to = ((t + 1) * per_task).min(rows);
            for i in from..to {
                let created_at = start + TimeDelta::milliseconds(step_ms * i as i64);
                let state = if i % 50 == 0 {
                    ChatCommandState::Failed
                } else {
                    ChatCommandState::Completed
                };
                store
                    .insert_chat_command(NewChatCommand {
                        interaction_id: 1_000_000_000 + i,
                        interaction_token: Default::default(),
                        token_expires_at: created_at + TimeDelta::minutes(15),
                        application_id: 1,
                        user_id: 1 + i % USERS,
                        guild_id: Some(100 + i % GUILDS),
                        channel_id: Some(200),
                        private: i % 7 == 0,
                        prompt: format!("Question number {i}: how do I configure the thing?"),
                        state,
                        created_at,
                    })
                    .await
                    .map_err(|e| e.to_string())?;
            }
            Ok::<_, String>(())
        });
    }
    while let Some(r) = tasks.join_next().await {
        r.map_err(|e| e.to_string())??;
    }
    answers_and_feedback(store, target, rows, start, step_ms).await?;
    let hash = disconcierge_web::admin::hash_password(PASSWORD.into())
        .await
        .map_err(|e| e.to_string())?;
    store
        .create_admin("bench", &hash)
        .await
        .map_err(|e| e.to_string())?;
    let size = match target {
        Target::Sqlite(path) => format!(
            "database file {:.0} MB",
            std::fs::metadata(path).map(|m| m.len()).unwrap_or(0) as f64 / 1e6
        ),
        Target::Postgres(url) => {
            use sqlx::Connection as _;
            let mut conn = sqlx::PgConnection::connect(url)
                .await
                .map_err(|e| e.to_string())?;
            sqlx::query("ANALYZE")
                .execute(&mut conn)
                .await
                .map_err(|e| e.to_string())?;
            let bytes: i64 = sqlx::query_scalar("SELECT pg_database_size(current_database())")
                .fetch_one(&mut conn)
                .await
                .map_err(|e| e.to_string())?;
            let _ = conn.close().await;
            format!("database {:.0} MB, analyzed", bytes as f64 / 1e6)
        }
    };
    println!("seeded in {:.1} s; {size}", seeding.elapsed().as_secs_f64());
    Ok(())
}

/// Starts the bot on the seeded database, signs in and measures the pages.
async fn serve_and_measure(
    options: &Options,
    dir: &std::path::Path,
    target: &Target,
    rows: u64,
) -> Result<(), String> {
    let api_port = free_port()?;
    let (kind, location) = match target {
        Target::Sqlite(path) => ("sqlite", path.display().to_string()),
        Target::Postgres(url) => ("postgres", url.clone()),
    };
    let env: Vec<(String, String)> = [
        ("DC_DATABASE_TYPE", kind.to_string()),
        ("DC_DATABASE", location),
        ("DC_API_LISTEN", format!("127.0.0.1:{api_port}")),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    let bot = Bot::start(&options.bin, dir, &env)?;
    let base = format!("http://127.0.0.1:{api_port}");
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| e.to_string())?;
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let ready = client.get(format!("{base}/readyz")).send().await;
        if ready.is_ok_and(|r| r.status().is_success()) {
            break;
        }
        if Instant::now() > deadline {
            return Err("the bot was not ready within 60 s (see bot.log)".into());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let login = client
        .post(format!("{base}/api/login"))
        .header("content-type", "application/json")
        .body(format!(
            "{{\"username\":\"bench\",\"password\":\"{PASSWORD}\"}}"
        ))
        .send()
        .await
        .map_err(|e| e.to_string())?;
    if !login.status().is_success() {
        return Err(format!("sign-in failed: {}", login.status()));
    }
    let cookie = login
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .ok_or("no session cookie")?
        .to_string();

    // The dashboard's first load on the cold database: the month's hours are not rolled up yet.
    let started = Instant::now();
    let first = client
        .get(format!("{base}/disconcierge?range=30d"))
        .header("cookie", &cookie)
        .send()
        .await
        .map_err(|e| e.to_string())?;
    let status = first.status();
    let first_body = first.text().await.map_err(|e| e.to_string())?;
    let first_load = started.elapsed();
    if !status.is_success() {
        return Err(format!("the first dashboard load answered {status}"));
    }
    let mut polls = 0u32;
    let complete_after = loop {
        let body = client
            .get(format!("{base}/api/stats?range=30d"))
            .header("cookie", &cookie)
            .send()
            .await
            .map_err(|e| e.to_string())?
            .text()
            .await
            .map_err(|e| e.to_string())?;
        let stats: serde_json::Value =
            serde_json::from_str(&body).map_err(|e| format!("{e}: {body}"))?;
        polls += 1;
        if stats["pending_hours"] == 0 {
            break started.elapsed();
        }
        if started.elapsed() > Duration::from_secs(600) {
            return Err(format!(
                "hours still being rolled up after 10 minutes: {}",
                stats["pending_hours"]
            ));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    println!(
        "\ndashboard, 30 days, first load on the cold database: {} ({}); every hour rolled up after {:.2} s \
         ({polls} polls of /api/stats)",
        ms(first_load),
        if first_body.contains("id=\"charts-pending\"") {
            "some hours shown as being computed"
        } else {
            "complete"
        },
        complete_after.as_secs_f64()
    );

    let day = (Utc::now() - TimeDelta::days(15))
        .format("%Y-%m-%d")
        .to_string();
    let deep = 1_000_000_000i64
        .min(i64::try_from(rows / 2).unwrap_or(i64::MAX))
        .max(1);
    let pages: Vec<(&str, String)> = vec![
        ("dashboard (charts of 48 hours)", "/disconcierge".into()),
        (
            "dashboard, charts of 30 days",
            "/disconcierge?range=30d".into(),
        ),
        ("API stats, 30 days", "/api/stats?range=30d".into()),
        ("list, newest", "/disconcierge/chat_commands".into()),
        (
            "list, state=failed",
            "/disconcierge/chat_commands?state=failed".into(),
        ),
        (
            "list, one user",
            "/disconcierge/chat_commands?user=42".into(),
        ),
        (
            "list, one guild",
            "/disconcierge/chat_commands?guild=103".into(),
        ),
        (
            "list, one day",
            format!("/disconcierge/chat_commands?from={day}&to={day}"),
        ),
        (
            "list, page deep inside",
            format!("/disconcierge/chat_commands?before={deep}"),
        ),
        (
            "one user, deep",
            format!("/disconcierge/chat_commands?user=42&before={deep}"),
        ),
        ("detail", format!("/disconcierge/chat_commands/{deep}")),
        ("API list (50)", "/api/chat_commands".into()),
        (
            "API list, failed, 200",
            "/api/chat_commands?state=failed&limit=200".into(),
        ),
    ];
    println!(
        "\n## Admin page loads: {rows} chat commands in {}, {} sequential requests per page\n",
        target.name(),
        options.requests
    );
    println!("| page | p50 | p99 | max | bytes |");
    println!("|---|---|---|---|---|");
    for (name, path) in pages {
        let mut times = Vec::with_capacity(options.requests as usize);
        let mut bytes = 0;
        for _ in 0..options.requests {
            let started = Instant::now();
            let response = client
                .get(format!("{base}{path}"))
                .header("cookie", &cookie)
                .send()
                .await
                .map_err(|e| e.to_string())?;
            let status = response.status();
            let body = response.bytes().await.map_err(|e| e.to_string())?;
            times.push(started.elapsed());
            if !status.is_success() {
                return Err(format!("{path} answered {status}"));
            }
            bytes = body.len();
        }
        let s = Summary::new(times);
        println!(
            "| {name} | {} | {} | {} | {bytes} |",
            ms(s.percentile(50.0)),
            ms(s.percentile(99.0)),
            ms(s.max())
        );
    }
    let (rss, peak) = bot.memory()?;
    println!("\nbot RSS after the run {rss:.1} MB (peak {peak:.1} MB)");
    bot.stop()
}

/// What the seeding through the store cannot write: completed commands get an answer time (0.5 to 30 s,
/// skewed to the short end) and tokens, as a worker would have written them (in SQL, in id ranges so that
/// SQLite checkpoints between them); one command in fifty gets feedback, and 2,000 tickets are opened over
/// the month, every other one closed an hour later.
async fn answers_and_feedback(
    store: &std::sync::Arc<dyn disconcierge_store::Store>,
    target: &Target,
    rows: u64,
    start: chrono::DateTime<Utc>,
    step_ms: i64,
) -> Result<(), String> {
    // The same update on both, in its dialect: the answer time, then the tokens.
    const TOKENS: &str = "prompt_tokens = 150, completion_tokens = (id * 31) % 1800, \
         total_tokens = 150 + (id * 31) % 1800 \
         WHERE id >= $1 AND id < $2 AND state = 'completed'";
    let sqlite = format!(
        "UPDATE chat_commands SET finished_at = strftime('%Y-%m-%dT%H:%M:%f000Z', created_at, \
             '+' || ((500 + (id * 7919) % 100 * ((id * 104729) % 295)) / 1000.0) || ' seconds'), {TOKENS}"
    );
    let postgres = format!(
        "UPDATE chat_commands SET finished_at = created_at + make_interval(secs => \
             (500 + (id * 7919) % 100 * ((id * 104729) % 295)) / 1000.0), {TOKENS}"
    );
    // In id ranges, so that SQLite checkpoints between them.
    macro_rules! in_chunks {
        ($conn:expr, $sql:expr) => {{
            use sqlx::Connection as _;
            let mut conn = $conn.await.map_err(|e| e.to_string())?;
            let (chunk, last) = (50_000i64, i64::try_from(rows).unwrap_or(i64::MAX));
            let mut from = 1i64;
            while from <= last {
                sqlx::query(sqlx::AssertSqlSafe($sql.as_str()))
                    .bind(from)
                    .bind(from + chunk)
                    .execute(&mut conn)
                    .await
                    .map_err(|e| e.to_string())?;
                from += chunk;
            }
            let _ = conn.close().await;
        }};
    }
    match target {
        Target::Sqlite(path) => in_chunks!(
            sqlx::SqliteConnection::connect(&format!("sqlite://{}", path.display())),
            sqlite
        ),
        Target::Postgres(url) => in_chunks!(sqlx::PgConnection::connect(url), postgres),
    }
    let kinds = FeedbackKind::ALL;
    for i in (0..rows).step_by(50) {
        let id = i64::try_from(i + 1).unwrap_or(i64::MAX);
        store
            .insert_user_feedback(&UserFeedback {
                chat_command_id: id,
                user_id: 1 + i % USERS,
                kind: kinds[(i / 50) as usize % kinds.len()],
                detail: None,
                created_at: start + TimeDelta::milliseconds(step_ms * i as i64 + 30_000),
            })
            .await
            .map_err(|e| e.to_string())?;
    }
    for t in 0..2_000u64 {
        let at = start + TimeDelta::minutes(i64::try_from(t).unwrap_or(0) * 21);
        let ticket = store
            .reserve_ticket(
                &NewTicket {
                    guild_id: 100 + t % GUILDS,
                    category: format!("topic {t}"),
                    opener_id: 1 + t % USERS,
                    opener_name: format!("user{}", 1 + t % USERS),
                    created_at: at,
                },
                Duration::from_secs(600),
            )
            .await
            .map_err(|e| e.to_string())?;
        if t % 2 == 0 {
            store
                .close_ticket(ticket.ticket().id, 1, None, at + TimeDelta::hours(1))
                .await
                .map_err(|e| e.to_string())?;
        }
    }
    Ok(())
}
