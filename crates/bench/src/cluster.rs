//! The cluster bench: 1 and 3 instances of the release binary on one PostgreSQL database, each its own
//! process, against the same simulators (the model answering at once). For each count: how many
//! `/chat` the instances answer per second together under a burst spread over their webhooks, and the
//! acknowledgements' p50/p99; with several instances, then, the time until a killed instance's work is
//! taken over: its gateway shard connected again elsewhere, and every question of a burst it was
//! answering answered.
//!
//! ```text
//! DC_BENCH_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/postgres \
//!   disconcierge-bench cluster --bin target/release/disconcierge [--instances 1,3] [--burst 3000]
//! ```
//!
//! Each run gets a database of its own (created beside the one the URL names, dropped afterwards).

use crate::Options;
use crate::http1::Http1;
use crate::process::{Bot, free_port};
use crate::stats::{Summary, ms};
use disconcierge_core::RuntimeConfig;
use disconcierge_discord_sim::twilight_model::id::Id;
use disconcierge_discord_sim::twilight_model::id::marker::ChannelMarker;
use disconcierge_discord_sim::{Actor, DiscordSim, InteractionHandle, Via};
use disconcierge_llm_sim::LlmSim;
use disconcierge_store::ConnectOptions;
use sqlx::Connection;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

const OPENAI_KEY: &str = "sk-bench";

/// One instance: its process, ports and id.
struct Instance {
    bot: Bot,
    id: String,
    webhook: Arc<Http1>,
    webhook_port: u16,
}

pub async fn run(options: &Options) -> Result<(), String> {
    let url = std::env::var("DC_BENCH_POSTGRES_URL")
        .or_else(|_| std::env::var("DC_TEST_POSTGRES_URL"))
        .map_err(|_| {
            "the cluster bench needs PostgreSQL: set DC_BENCH_POSTGRES_URL (e.g. \
             postgres://postgres@127.0.0.1:5432/postgres)"
                .to_string()
        })?;
    println!(
        "| instances | burst | answered per second | ack p50 | ack p99 | non-200 | refused | bot CPU (all) |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    let mut notes = Vec::new();
    for &count in &options.instances {
        let name = format!("dcbench_cluster_{}_{count}", std::process::id());
        create_database(&url, &name).await?;
        let result = one(options, count, &database_url(&url, &name)).await;
        drop_database(&url, &name).await?;
        notes.extend(result?);
    }
    println!();
    for note in notes {
        println!("{note}");
    }
    Ok(())
}

/// The bench for `count` instances on the database at `url`; notes to print after the table.
async fn one(options: &Options, count: u32, url: &str) -> Result<Vec<String>, String> {
    let dir = std::env::temp_dir().join(format!(
        "disconcierge-bench-cluster-{}-{count}",
        std::process::id()
    ));
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let discord = DiscordSim::builder()
        .default_timeout(Duration::from_secs(120))
        .start()
        .await;
    let llm = LlmSim::builder().api_key(OPENAI_KEY).start().await;
    let store = disconcierge_store::connect(&ConnectOptions::postgres(url.to_string()))
        .await
        .map_err(|e| e.to_string())?;
    store.migrate().await.map_err(|e| e.to_string())?;
    let config = RuntimeConfig {
        llm_requests_per_second: 1_000.0,
        user_chat_command_limit_6h: 1_000,
        ..RuntimeConfig::default()
    };
    store
        .save_runtime_config(&config, None, Some("bench"))
        .await
        .map_err(|e| e.to_string())?;
    store.close().await;

    let burst = options.burst;
    let mut guild = discord.guild("Bench");
    for i in 0..burst * 2 {
        guild = guild.member(&format!("u{i}"));
    }
    let guild = guild.text_channel("general").create();
    let channel = guild.channel("general");
    let mut actors: std::collections::VecDeque<Actor> = guild
        .state()
        .members
        .values()
        .filter(|m| !m.user.bot && m.user.name.starts_with('u'))
        .map(|m| discord.user(m.user.id))
        .collect();

    let mut instances = Vec::new();
    for i in 0..count {
        let id = format!("bench-{i}");
        let (api_port, webhook_port) = (free_port()?, free_port()?);
        let env: Vec<(String, String)> = [
            ("DC_DATABASE_TYPE", "postgres".to_string()),
            ("DC_DATABASE", url.to_string()),
            ("DC_INSTANCE_ID", id.clone()),
            ("DC_API_LISTEN", format!("127.0.0.1:{api_port}")),
            ("DC_DISCORD_TOKEN", discord.bot_token()),
            ("DC_DISCORD_API_BASE_URL", discord.api_base_url()),
            ("DC_DISCORD_GATEWAY_URL", discord.gateway_url()),
            ("DC_DISCORD_WEBHOOK_SERVER_ENABLED", "true".into()),
            (
                "DC_DISCORD_WEBHOOK_SERVER_LISTEN",
                format!("127.0.0.1:{webhook_port}"),
            ),
            (
                "DC_DISCORD_WEBHOOK_SERVER_PUBLIC_KEY",
                discord.public_key_hex(),
            ),
            ("DC_DISCORD_GATEWAY_SHARD_LEASE", "3s".into()),
            ("DC_QUEUE_LEASE", "2s".into()),
            ("DC_LLM_PROVIDER", "openai-chat".into()),
            ("DC_OPENAI_TOKEN", OPENAI_KEY.into()),
            ("DC_OPENAI_BASE_URL", llm.openai_base_url()),
            ("DC_QUEUE_SIZE", "1000000".into()),
            ("DC_QUEUE_MAX_AGE", "10m".into()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        let own = dir.join(&id);
        std::fs::create_dir_all(&own).map_err(|e| e.to_string())?;
        let bot = Bot::start(&options.bin, &own, &env)?;
        wait_ready(api_port).await?;
        instances.push(Instance {
            bot,
            id,
            webhook: Arc::new(Http1::new(([127, 0, 0, 1], webhook_port).into())),
            webhook_port,
        });
    }
    discord.gateway().wait_ready(1).await;
    discord
        .wait_for(Duration::from_secs(30), |w| {
            (!w.global_commands.is_empty()).then_some(())
        })
        .await;

    // A burst spread over the instances' webhooks, as fast as they take it.
    let cpu_before: Duration = instances
        .iter()
        .map(|i| i.bot.cpu().unwrap_or_default())
        .sum();
    let (acks, failed, refused, answered_in) =
        burst_over(&discord, &instances, &mut actors, channel, burst).await?;
    let cpu: Duration = instances
        .iter()
        .map(|i| i.bot.cpu().unwrap_or_default())
        .sum::<Duration>()
        - cpu_before;
    let acks = Summary::new(acks);
    println!(
        "| {count} | {burst} | {:.0}/s | {} | {} | {failed} | {refused} | {:.1} s |",
        f64::from(burst - failed - refused) / answered_in.as_secs_f64(),
        ms(acks.percentile(50.0)),
        ms(acks.percentile(99.0)),
        cpu.as_secs_f64()
    );

    let mut notes = Vec::new();
    if count > 1 {
        // Takeover: a burst, and the gateway shard's holder killed once it is under way.
        let holder = holder_of_shard(url).await?;
        let victim = instances
            .iter()
            .position(|i| i.id == holder)
            .ok_or(format!("shard 0 held by {holder:?}, not one of ours"))?;
        let pid = instances[victim].bot.pid().to_string();
        let gateway = discord.gateway();
        let connections_before = gateway.connection_count();
        let killer = tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(300)).await;
            let killed = Instant::now();
            let _ = std::process::Command::new("kill")
                .args(["-KILL", &pid])
                .status();
            // The shard is back when a new connection of it is live.
            let deadline = Instant::now() + Duration::from_secs(60);
            loop {
                if gateway.live_sessions() >= 1 && gateway.connection_count() > connections_before {
                    return Ok::<_, String>(killed.elapsed());
                }
                if Instant::now() > deadline {
                    return Err("the shard was not taken over within 60 s".to_string());
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        });
        // The burst goes to every instance, the victim included: what it acknowledged before it died
        // is answered by the others; what was sent to it after fails to connect (a load balancer would
        // send it elsewhere).
        let (_, failed, refused, answered_in) =
            burst_over(&discord, &instances, &mut actors, channel, burst).await?;
        let shard_after = killer.await.map_err(|e| e.to_string())??;
        instances.remove(victim);
        notes.push(format!(
            "- {count} instances, `{holder}` (holding the gateway shard) killed with SIGKILL 0.3 s into a \
             burst of {burst}: the shard was connected again by another instance {} after the kill \
             (shard lease 3 s); every question acknowledged was answered {:.1} s after the burst began, \
             taken over after the queue lease (2 s) where the dead one held it ({failed} never \
             acknowledged: sent to the dead instance; {refused} refused)",
            ms(shard_after),
            answered_in.as_secs_f64()
        ));
    }
    for instance in instances {
        instance.bot.stop()?;
    }
    if std::env::var_os("DC_BENCH_KEEP_LOGS").is_some() {
        println!("logs kept in {}", dir.display());
    } else {
        let _ = std::fs::remove_dir_all(&dir);
    }
    Ok(notes)
}

/// Sends `burst` `/chat`s, each from a new member, round-robin over the instances' webhooks, 64 at a
/// time, and waits until every one acknowledged is answered: the acknowledgement times, how many failed
/// (no HTTP answer) or were refused (not deferred), and the time from the first send to the last answer.
async fn burst_over(
    discord: &DiscordSim,
    instances: &[Instance],
    actors: &mut std::collections::VecDeque<Actor>,
    channel: Id<ChannelMarker>,
    burst: u32,
) -> Result<(Vec<Duration>, u32, u32, Duration), String> {
    let answered_before = answered(discord);
    let mut prepared = Vec::with_capacity(burst as usize);
    for n in 0..burst as usize {
        let actor = actors.pop_front().ok_or("no members left")?;
        let instance = &instances[n % instances.len()];
        let (handle, request) =
            crate::chat::prepare(&actor, channel, &instance.webhook, Via::Prepared).await;
        prepared.push((
            handle,
            request,
            instance.webhook.clone(),
            instance.webhook_port,
        ));
    }
    let started = Instant::now();
    let limit = Arc::new(tokio::sync::Semaphore::new(64));
    let mut tasks = tokio::task::JoinSet::new();
    for (handle, request, webhook, port) in prepared {
        let permit = limit
            .clone()
            .acquire_owned()
            .await
            .map_err(|e| e.to_string())?;
        tasks.spawn(async move {
            let sent = Instant::now();
            let result = webhook.send(&request).await;
            let took = sent.elapsed();
            drop(permit);
            (handle, result, took, port)
        });
    }
    let (mut acks, mut failed, mut refused) = (Vec::new(), 0, 0);
    let mut accepted = 0usize;
    while let Some(done) = tasks.join_next().await {
        let (handle, result, took, port): (InteractionHandle, _, _, u16) =
            done.map_err(|e| e.to_string())?;
        match result {
            Ok((status, body)) => {
                acks.push(took);
                let deferred = status == 200
                    && serde_json::from_str::<serde_json::Value>(&body)
                        .is_ok_and(|v| v["type"] == 5);
                if deferred {
                    accepted += 1;
                } else {
                    refused += 1;
                    if refused == 1 {
                        eprintln!("first refusal: HTTP {status}: {body}");
                    }
                }
                handle.complete(
                    &format!("http://127.0.0.1:{port}/interactions"),
                    status,
                    body,
                );
            }
            Err(_) => failed += 1,
        }
    }
    let deadline = Instant::now() + Duration::from_secs(300);
    loop {
        if answered(discord) >= answered_before + accepted {
            break;
        }
        if Instant::now() > deadline {
            return Err(format!(
                "{} of {accepted} acknowledged questions answered within 300 s",
                answered(discord) - answered_before
            ));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Ok((acks, failed, refused, started.elapsed()))
}

/// How many interactions have their final answer.
fn answered(discord: &DiscordSim) -> usize {
    discord.world(|w| {
        w.interactions
            .values()
            .filter(|r| {
                r.original
                    .and_then(|id| w.messages.get(&id))
                    .is_some_and(|m| m.content.contains("Commands used"))
            })
            .count()
    })
}

/// Which instance holds gateway shard 0.
async fn holder_of_shard(url: &str) -> Result<String, String> {
    let mut conn = sqlx::PgConnection::connect(url)
        .await
        .map_err(|e| e.to_string())?;
    let owner: Option<String> = sqlx::query_scalar(
        "SELECT owner FROM gateway_shards WHERE shard_id = 0 AND owner IS NOT NULL",
    )
    .fetch_optional(&mut conn)
    .await
    .map_err(|e| e.to_string())?;
    owner.ok_or_else(|| "nobody holds the gateway shard".to_string())
}

/// `url` with its database name replaced by `name`.
fn database_url(url: &str, name: &str) -> String {
    let (base, query) = url
        .split_once('?')
        .map_or((url, None), |(b, q)| (b, Some(q)));
    let base = match base.rsplit_once('/') {
        Some((server, _)) if server.contains("://") && !server.ends_with('/') => server,
        _ => base.trim_end_matches('/'),
    };
    match query {
        Some(q) => format!("{base}/{name}?{q}"),
        None => format!("{base}/{name}"),
    }
}

async fn create_database(url: &str, name: &str) -> Result<(), String> {
    let mut conn = sqlx::PgConnection::connect(url)
        .await
        .map_err(|e| format!("PostgreSQL at DC_BENCH_POSTGRES_URL: {e}"))?;
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut conn)
        .await
        .map_err(|e| e.to_string())?;
    Ok(())
}

async fn drop_database(url: &str, name: &str) -> Result<(), String> {
    let mut conn = sqlx::PgConnection::connect(url)
        .await
        .map_err(|e| e.to_string())?;
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
    )))
    .execute(&mut conn)
    .await
    .map_err(|e| e.to_string())?;
    Ok(())
}

async fn wait_ready(port: u16) -> Result<(), String> {
    let client = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let ready = client
            .get(format!("http://127.0.0.1:{port}/readyz"))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success());
        if ready {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err("an instance was not ready within 30 s (see its bot.log)".into());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::database_url;

    #[test]
    fn the_database_name_is_replaced() {
        assert_eq!(
            database_url("postgres://postgres@127.0.0.1:5432/postgres", "x"),
            "postgres://postgres@127.0.0.1:5432/x"
        );
        assert_eq!(
            database_url("postgres://u:p@h/db?sslmode=disable", "x"),
            "postgres://u:p@h/x?sslmode=disable"
        );
    }
}
