//! The admin bench: page load times of the admin interface on a large SQLite database.
//!
//! 1. Seeds a fresh SQLite file with `--rows` chat commands (default 1,000,000) from 1,000 users in 10
//!    guilds over the last 30 days, one in fifty failed, through the store (as the bot writes them).
//! 2. Starts the release binary on it (no Discord, no LLM: only the admin interface is measured), signs in.
//! 3. Loads each page `--requests` times, one after the other, and prints p50/p99/max per page: the
//!    dashboard, the list unfiltered and with each filter, a page deep in the list (keyset cursor), a
//!    command's detail page, and the JSON list.

use crate::Options;
use crate::process::{Bot, free_port};
use crate::stats::{Summary, ms};
use chrono::{TimeDelta, Utc};
use disconcierge_core::model::{ChatCommandState, NewChatCommand};
use disconcierge_store::ConnectOptions;
use std::time::Duration;
use tokio::time::Instant;

const USERS: u64 = 1_000;
const GUILDS: u64 = 10;
const PASSWORD: &str = "bench password 1";

pub async fn run(options: &Options) -> Result<(), String> {
    let dir = std::env::temp_dir().join(format!("disconcierge-bench-admin-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let result = bench(options, &dir).await;
    let _ = std::fs::remove_dir_all(&dir);
    result
}

async fn bench(options: &Options, dir: &std::path::Path) -> Result<(), String> {
    let db_path = dir.join("admin.sqlite3");
    let store = disconcierge_store::connect(&ConnectOptions::sqlite(db_path.display().to_string()))
        .await
        .map_err(|e| e.to_string())?;
    store.migrate().await.map_err(|e| e.to_string())?;
    let rows = options.rows;
    println!("seeding {rows} chat commands…");
    let seeding = Instant::now();
    for u in 1..=USERS {
        store
            .upsert_user(u, &format!("user{u}"), None)
            .await
            .map_err(|e| e.to_string())?;
    }
    let start = Utc::now() - TimeDelta::days(30);
    let step_ms = (30 * 24 * 3600 * 1000) / i64::try_from(rows.max(1)).unwrap_or(1);
    // One writer: with several connections writing back to back, SQLite's automatic checkpoints never
    // got to run and the WAL grew past 7 GB in a minute (see BENCHMARKS.md).
    let mut tasks = tokio::task::JoinSet::new();
    let per_task = rows;
    for t in 0..1u64 {
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
                        interaction_token: String::new(),
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
    let hash = disconcierge_web::admin::hash_password(PASSWORD.into())
        .await
        .map_err(|e| e.to_string())?;
    store
        .create_admin("bench", &hash)
        .await
        .map_err(|e| e.to_string())?;
    store.close().await;
    let file_mb = std::fs::metadata(&db_path).map(|m| m.len()).unwrap_or(0) as f64 / 1e6;
    println!(
        "seeded in {:.1} s; database file {file_mb:.0} MB",
        seeding.elapsed().as_secs_f64()
    );

    let api_port = free_port()?;
    let env: Vec<(String, String)> = [
        ("DC_DATABASE_TYPE", "sqlite".to_string()),
        ("DC_DATABASE", db_path.display().to_string()),
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

    let day = (Utc::now() - TimeDelta::days(15))
        .format("%Y-%m-%d")
        .to_string();
    let deep = 1_000_000_000i64
        .min(i64::try_from(rows / 2).unwrap_or(i64::MAX))
        .max(1);
    let pages: Vec<(&str, String)> = vec![
        ("dashboard", "/disconcierge".into()),
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
        "\n## Admin page loads: {rows} chat commands in SQLite, {} sequential requests per page\n",
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
