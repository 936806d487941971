//! The chat bench: `/chat` over the webhook, answered by an instant fake LLM.
//!
//! 1. Idle: memory once the bot is connected, its commands registered, and it has idled two seconds.
//! 2. Sequential: one `/chat` at a time (each from a new user); per command, the webhook acknowledgement
//!    latency and the wall time from sending the interaction to seeing the final answer (with its usage
//!    line) in Discord; the bot's CPU time per command (all its threads, from `/proc`).
//! 3. Open loop: for each offered rate, interactions are sent on a fixed schedule whatever the answers
//!    (so a slow bot cannot slow the load down and hide its latency: each latency is measured from the
//!    moment the interaction was due, not from when it was sent); acknowledgement p50/p99/max, the rate
//!    actually sent, and how long until every one of them was answered; peak memory; and where in the run
//!    the acknowledgements over 5 ms were, per quarter second (a tail from the burst's cold start reads
//!    differently from one spread over the run).

use crate::Options;
use crate::http1::Http1;
use crate::process::{Bot, free_port};
use crate::stats::{Summary, ms};
use disconcierge_core::RuntimeConfig;
use disconcierge_discord_sim::twilight_model::id::{Id, marker::ChannelMarker};
use disconcierge_discord_sim::{Actor, DiscordSim, InteractionHandle, Via};
use disconcierge_llm_sim::LlmSim;
use disconcierge_store::ConnectOptions;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

const OPENAI_KEY: &str = "sk-bench";
const PROMPT: &str = "How do I reset my password?";

pub async fn run(options: &Options) -> Result<(), String> {
    let dir = std::env::temp_dir().join(format!("disconcierge-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let result = bench(options, &dir).await;
    let _ = std::fs::remove_dir_all(&dir);
    result
}

async fn bench(options: &Options, dir: &std::path::Path) -> Result<(), String> {
    let discord = DiscordSim::builder()
        .default_timeout(Duration::from_secs(60))
        .start()
        .await;
    let llm = LlmSim::builder().api_key(OPENAI_KEY).start().await;

    // The runtime configuration is written before the bot starts: no per-user limit or LLM pacing gets
    // in the way of the load (they are measured as part of the path, not as a bottleneck).
    // SQLite in the bench's folder, unless `DC_DATABASE_TYPE=postgres` and `DC_DATABASE` (which reach
    // the bot too, see below) name a PostgreSQL database: give it a fresh one.
    let db_path = dir.join("bench.sqlite3");
    let target = match (
        std::env::var("DC_DATABASE_TYPE").as_deref(),
        std::env::var("DC_DATABASE"),
    ) {
        (Ok("postgres"), Ok(url)) => {
            println!(
                "database: PostgreSQL ({})",
                disconcierge_core::secret::redact_url(&url)
            );
            ConnectOptions::postgres(url)
        }
        _ => ConnectOptions::sqlite(db_path.display().to_string()),
    };
    let store = disconcierge_store::connect(&target)
        .await
        .map_err(|e| e.to_string())?;
    store.migrate().await.map_err(|e| e.to_string())?;
    let config = RuntimeConfig {
        llm_requests_per_second: 1_000.0,
        user_chat_command_limit_6h: 1_000,
        ..RuntimeConfig::default()
    };
    config.validate().map_err(|e| format!("{e:?}"))?;
    store
        .save_runtime_config(&config, None, Some("bench"))
        .await
        .map_err(|e| e.to_string())?;
    store.close().await;

    let load: u32 = options.rates.iter().map(|r| r * options.seconds).sum();
    let people = options.sequential + load;
    println!("setting up a guild with {people} members…");
    let mut guild = discord.guild("Bench");
    for i in 0..people {
        guild = guild.member(&format!("u{i}"));
    }
    let guild = guild.text_channel("general").create();
    let channel = guild.channel("general");
    // Each `/chat` comes from a different member (so the per-user in-flight rule never queues them);
    // the members are looked up before anything is timed.
    let mut actors: std::collections::VecDeque<Actor> = guild
        .state()
        .members
        .values()
        .filter(|m| !m.user.bot && m.user.name.starts_with('u'))
        .map(|m| discord.user(m.user.id))
        .collect();

    let (api_port, webhook_port) = (free_port()?, free_port()?);
    let env: Vec<(String, String)> = [
        ("DC_DATABASE_TYPE", "sqlite".to_string()),
        ("DC_DATABASE", db_path.display().to_string()),
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
        ("DC_LLM_PROVIDER", "openai-chat".into()),
        ("DC_OPENAI_TOKEN", OPENAI_KEY.into()),
        ("DC_OPENAI_BASE_URL", llm.openai_base_url()),
        ("DC_QUEUE_SIZE", "1000000".into()),
        ("DC_QUEUE_MAX_AGE", "10m".into()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    // `DC_*` variables set for the bench reach the bot and win, to measure other settings (e.g.
    // `DC_DATABASE_MAX_CONNECTIONS=1 scripts/bench.sh chat`); so does tokio's `TOKIO_WORKER_THREADS`.
    .filter(|(k, _)| std::env::var_os(k).is_none())
    .chain(std::env::vars().filter(|(k, _)| k.starts_with("DC_") || k == "TOKIO_WORKER_THREADS"))
    .collect();

    let bot = Bot::start(&options.bin, dir, &env)?;
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(256)
        .build()
        .map_err(|e| e.to_string())?;
    wait_ready(&client, api_port).await?;
    discord.gateway().wait_ready(1).await;
    discord
        .wait_for(Duration::from_secs(30), |w| {
            (!w.global_commands.is_empty()).then_some(())
        })
        .await;
    let url = format!("http://127.0.0.1:{webhook_port}/interactions");
    let webhook = Arc::new(Http1::new(([127, 0, 0, 1], webhook_port).into()));

    let idle_cpu_before = bot.cpu()?;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let idle_cpu = bot.cpu()? - idle_cpu_before;
    let (idle_rss, _) = bot.memory()?;
    let (anon, file) = bot.rss_parts()?;
    println!(
        "\nsimulators' threads at niceness {} (`--sims-nice`), the bot and the load generator at 0",
        options.sims_nice
    );
    println!("\n## Idle (connected, commands registered, 2 s idle)\n");
    println!(
        "- RSS {idle_rss:.1} MB (anonymous {anon:.1} MB, file pages {file:.1} MB); CPU while idle {} per second",
        ms(idle_cpu / 2)
    );

    // Sequential.
    let mut acks = Vec::new();
    let mut walls = Vec::new();
    let cpu_before = bot.cpu()?;
    let started = Instant::now();
    for _ in 0..options.sequential {
        let actor = actors.pop_front().ok_or("no members left")?;
        let (handle, request) = prepare(&actor, channel, &webhook, Via::Prepared).await;
        let sent = Instant::now();
        let (status, body) = webhook.send(&request).await.map_err(|e| e.to_string())?;
        acks.push(sent.elapsed());
        handle.complete(&url, status, body);
        handle
            .wait_original(|m| m.content.contains("Commands used"))
            .await;
        walls.push(sent.elapsed());
    }
    let elapsed = started.elapsed();
    // Let the last command be recorded as finished before reading the CPU time.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let cpu = bot.cpu()? - cpu_before;
    let n = options.sequential.max(1);
    let idle_share = idle_cpu.mul_f64((elapsed.as_secs_f64() + 0.5) / 2.0);
    let (acks, walls) = (Summary::new(acks), Summary::new(walls));
    println!(
        "\n## Sequential: {} `/chat`, one at a time, instant LLM\n",
        options.sequential
    );
    println!(
        "- bot CPU per `/chat`: {} (total {} for {n}; of which idle background about {})",
        ms(cpu / n),
        ms(cpu),
        ms(idle_share)
    );
    println!(
        "- webhook ack: p50 {}, p99 {}, max {}",
        ms(acks.percentile(50.0)),
        ms(acks.percentile(99.0)),
        ms(acks.max())
    );
    println!(
        "- interaction → final answer in Discord: p50 {}, p99 {}, max {}",
        ms(walls.percentile(50.0)),
        ms(walls.percentile(99.0)),
        ms(walls.max())
    );

    // Open loop.
    println!(
        "\n## Open loop: signed `/chat` interactions on a fixed schedule, {} s per rate\n",
        options.seconds
    );
    println!(
        "| offered | sent at | ack p50 | ack p99 | ack max | non-200 | past 3 s | refused (busy) | all accepted answered after | bot CPU | peak RSS |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|");
    let mut answered_before = options.sequential as usize;
    let mut lag_lines = Vec::new();
    for &rate in &options.rates {
        let count = rate * options.seconds;
        // Every interaction is created and signed before the run, as Discord does on its own machines,
        // each due at its place in the schedule (its 3 s acknowledgement window starts then): the
        // simulators' work for it stays out of the measured seconds. (Prepared while the run went on,
        // half a second ahead, it took the simulators over half a core during the run on this machine.)
        let budget = Duration::from_secs(1) + Duration::from_millis(1) * count;
        let start = Instant::now() + budget;
        let (tx, rx) = tokio::sync::mpsc::channel(count.max(1) as usize);
        for (i, actor) in actors.drain(..count as usize).enumerate() {
            let due = start + Duration::from_secs_f64(i as f64 / f64::from(rate));
            let via = Via::PreparedFor(due.saturating_duration_since(Instant::now()));
            let prepared = prepare(&actor, channel, &webhook, via).await;
            tx.send(prepared).await.map_err(|e| e.to_string())?;
        }
        drop(tx);
        if Instant::now() > start {
            return Err(format!(
                "preparing {count} interactions took longer than {budget:?}; the machine is too slow for this rate"
            ));
        }
        // The bot's answers are applied to the simulator here, off the load generator's thread (it takes
        // the simulator's lock, which its HTTP servers hold while they serve the bot).
        let (answers_tx, mut answers) =
            tokio::sync::mpsc::unbounded_channel::<(InteractionHandle, u16, String)>();
        let applier = {
            let url = url.clone();
            tokio::spawn(async move {
                while let Some((handle, status, body)) = answers.recv().await {
                    handle.complete(&url, status, body);
                }
            })
        };
        let cpu_before = bot.cpu()?;
        // The schedule and the clocks run on a thread of their own: on the runtime that also runs the
        // simulators (busy serving the bot's answers), a response that has arrived could wait there
        // behind them before its latency is taken, and that wait would be counted as the bot's.
        let (done_tx, done) = tokio::sync::oneshot::channel();
        let webhook = webhook.clone();
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a runtime for the load generator");
            let _ = done_tx
                .send(runtime.block_on(open_loop(rate, count, start, rx, webhook, answers_tx)));
        });
        let (sent_in, results) = done.await.map_err(|e| e.to_string())??;
        applier.await.map_err(|e| e.to_string())?;
        let mut latencies = Vec::with_capacity(count as usize);
        let mut lags = Vec::with_capacity(count as usize);
        let (mut failed, mut late, mut refused) = (0, 0, 0);
        // Where in the run the acknowledgements over 5 ms were (the target's p99), per quarter second.
        let mut slow = vec![0u32; (options.seconds * 4) as usize + 1];
        for sent in results {
            lags.push(sent.lag);
            if sent.status != 200 {
                failed += 1;
            } else if !sent.deferred {
                refused += 1;
            }
            if sent.latency > Duration::from_secs(3) {
                late += 1;
            }
            if sent.latency > Duration::from_millis(5) {
                let last = slow.len() - 1;
                slow[((sent.at.as_millis() / 250) as usize).min(last)] += 1;
            }
            latencies.push(sent.latency);
        }
        let expected = answered_before + count as usize - refused - failed;
        // Counted every 50 ms, not at every change of the simulator's state: a count goes through every
        // interaction, and at each of the bot's thousands of edits that took half a core (at the bot's
        // priority) away from the bot while it answered.
        let deadline = Instant::now() + Duration::from_secs(120);
        let all_answered = loop {
            let done = discord.world(|w| {
                w.interactions
                    .values()
                    .filter(|r| {
                        r.original
                            .and_then(|id| w.messages.get(&id))
                            .is_some_and(|m| m.content.contains("Commands used"))
                    })
                    .count()
            });
            if done >= expected {
                break format!("{:.1} s", start.elapsed().as_secs_f64());
            }
            if Instant::now() > deadline {
                break "not within 120 s".into();
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        answered_before = expected;
        let cpu = bot.cpu()? - cpu_before;
        let (_, peak) = bot.memory()?;
        let latencies = Summary::new(latencies);
        println!(
            "| {rate}/s | {:.0}/s | {} | {} | {} | {failed} | {late} | {refused} | {all_answered} | {:.1} s | {peak:.1} MB |",
            f64::from(count) / sent_in.as_secs_f64(),
            ms(latencies.percentile(50.0)),
            ms(latencies.percentile(99.0)),
            ms(latencies.max()),
            cpu.as_secs_f64(),
        );
        debug_assert_eq!(latencies.len(), count as usize);
        let lags = Summary::new(lags);
        lag_lines.push(format!(
            "- {rate}/s: requests left the load generator p50 {}, p99 {}, max {} after their due time \
             (counted in the latencies above)",
            ms(lags.percentile(50.0)),
            ms(lags.percentile(99.0)),
            ms(lags.max()),
        ));
        let slow: Vec<String> = slow.iter().map(u32::to_string).collect();
        lag_lines.push(format!(
            "- {rate}/s: acknowledgements over 5 ms per quarter second of the run: {}",
            slow.join(" ")
        ));
    }
    println!();
    for line in lag_lines {
        println!("{line}");
    }
    let violations = discord.violations();
    if !violations.is_empty() {
        println!(
            "\n{} protocol violations were recorded; the first: {:?}",
            violations.len(),
            violations[0]
        );
    }
    bot.stop()
}

/// One interaction of the open loop, as the load generator saw it.
struct Sent {
    /// When it was due, from the start of the run.
    at: Duration,
    /// From when it was due to its response.
    latency: Duration,
    /// How late it left the load generator.
    lag: Duration,
    /// The HTTP status, 0 if the request failed.
    status: u16,
    /// Accepted (deferred), rather than refused with a message.
    deferred: bool,
}

/// Sends `count` prepared interactions at `rate` from `start`, each timed from when it was due, and hands
/// each answer to `answers`; the time the sending took, and each interaction as sent.
async fn open_loop(
    rate: u32,
    count: u32,
    start: Instant,
    mut prepared: tokio::sync::mpsc::Receiver<(InteractionHandle, Vec<u8>)>,
    webhook: Arc<Http1>,
    answers: tokio::sync::mpsc::UnboundedSender<(InteractionHandle, u16, String)>,
) -> Result<(Duration, Vec<Sent>), String> {
    // The schedule is kept by a thread of its own that sleeps until each due time and then hands it
    // over: tokio's timer counts whole milliseconds, so `sleep_until` woke up to 1 ms after the due
    // time (two requests per tick at 2,000/s), and that lag, counted in every latency, was the
    // harness's, not the bot's. A thread's sleep is exact to some tens of microseconds.
    let (due_tx, mut due_rx) = tokio::sync::mpsc::unbounded_channel();
    let start_std = start.into_std();
    let pacer = std::thread::spawn(move || {
        for i in 0..count {
            let due = start_std + Duration::from_secs_f64(f64::from(i) / f64::from(rate));
            if let Some(wait) = due.checked_duration_since(std::time::Instant::now()) {
                std::thread::sleep(wait);
            }
            if due_tx.send(Instant::from_std(due)).is_err() {
                break;
            }
        }
    });
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..count {
        let (handle, request) = prepared
            .recv()
            .await
            .ok_or("the interaction producer stopped")?;
        let due = due_rx.recv().await.ok_or("the pacer stopped")?;
        let (webhook, answers) = (webhook.clone(), answers.clone());
        tasks.spawn(async move {
            let lag = due.elapsed();
            let result = webhook.send(&request).await;
            let latency = due.elapsed();
            let at = due - start;
            match result {
                Ok((status, body)) => {
                    // Deferred (type 5): accepted, an answer follows. A message (type 4): refused
                    // with an explanation (the bot sheds load it could not acknowledge in time).
                    let deferred = serde_json::from_str::<serde_json::Value>(&body)
                        .is_ok_and(|v| v["type"] == 5);
                    let _ = answers.send((handle, status, body));
                    Sent {
                        at,
                        latency,
                        lag,
                        status,
                        deferred,
                    }
                }
                Err(_) => Sent {
                    at,
                    latency,
                    lag,
                    status: 0,
                    deferred: false,
                },
            }
        });
    }
    let sent_in = start.elapsed();
    pacer.join().map_err(|_| "the pacer panicked")?;
    let mut results = Vec::with_capacity(count as usize);
    while let Some(joined) = tasks.join_next().await {
        results.push(joined.map_err(|e| e.to_string())?);
    }
    Ok((sent_in, results))
}

/// A `/chat` by `actor`, prepared and signed by the simulator, and the bytes of its webhook request.
pub(crate) async fn prepare(
    actor: &Actor,
    channel: Id<ChannelMarker>,
    webhook: &Http1,
    via: Via,
) -> (InteractionHandle, Vec<u8>) {
    let handle = actor
        .run_slash_command(channel, "chat", [("prompt", PROMPT)], via)
        .await;
    let delivery = handle.prepared().expect("a prepared interaction");
    let request = webhook.post_request(
        "/interactions",
        &[
            ("x-signature-ed25519", &delivery.signature),
            ("x-signature-timestamp", &delivery.timestamp),
        ],
        &delivery.body,
    );
    (handle, request)
}

async fn wait_ready(client: &reqwest::Client, port: u16) -> Result<(), String> {
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
            return Err("the bot was not ready within 30 s (see bot.log)".into());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
