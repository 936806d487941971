//! Rules that hold for several instances together, because the database enforces them, not each
//! process: three real applications on one PostgreSQL database, commands spread over their webhooks.
//! One command in flight per user, however many arrive at once on however many instances; the LLM's
//! request rate is the configured one for all three together.

use disconcierge_core::RuntimeConfig;
use disconcierge_discord_sim::Via;
use disconcierge_discord_sim::twilight_model::channel::Message;
use disconcierge_e2e::{Backend, Crashable, World};
use disconcierge_llm_sim::{Endpoint, Reply, Timing};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn answered(m: &Message) -> bool {
    m.content.contains("Commands used")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(dc_test_postgres),
    ignore = "PostgreSQL: set DC_TEST_POSTGRES_URL to run"
)]
async fn one_in_flight_per_user_and_the_llm_rate_hold_for_three_instances_together() {
    let Some(world) = World::start(Backend::Postgres).await else {
        return;
    };
    world.db.store.migrate().await.unwrap();
    let env = |id| {
        [
            ("DC_INSTANCE_ID", id),
            ("DC_LLM_PROVIDER", "openai-chat"),
            ("DC_DISCORD_WEBHOOK_SERVER_ENABLED", "true"),
        ]
    };
    let instances = [
        Crashable::start(&world, &env("a")).await,
        Crashable::start(&world, &env("b")).await,
        Crashable::start(&world, &env("c")).await,
    ];
    // One shard, held by one of the three (the gateway's shards are spread over the instances).
    world.discord.gateway().wait_ready(1).await;
    let urls: Vec<String> = instances
        .iter()
        .map(|i| i.webhook_url.clone().expect("webhook enabled"))
        .collect();
    let mut guild = world.discord.guild("Test Guild").member("ida");
    for n in 0..9 {
        guild = guild.member(&format!("member{n}"));
    }
    let guild = guild.text_channel("general").create();
    let channel = guild.channel("general");

    // 30 questions of one member at the same moment, spread over the three instances. The admitted one
    // stays in flight for two seconds: long enough for every other to be decided while it is.
    world.llm.push_reply(
        Reply::text("Slow but sure.")
            .with_timing(Timing::new(Duration::from_secs(2), Duration::ZERO)),
    );
    let barrier = Arc::new(tokio::sync::Barrier::new(30));
    let mut sent = tokio::task::JoinSet::new();
    for i in 0..30usize {
        let ida = world.discord.user(guild.user("ida"));
        let url = urls[i % 3].clone();
        let barrier = barrier.clone();
        sent.spawn(async move {
            barrier.wait().await;
            let chat = ida
                .run_slash_command(
                    channel,
                    "chat",
                    [("prompt", format!("question {i}"))],
                    Via::Webhook { url },
                )
                .await;
            let busy = RuntimeConfig::default().discord_busy_message;
            chat.wait_original(|m| answered(m) || m.content == busy)
                .await
        });
    }
    let mut outcomes = Vec::new();
    while let Some(outcome) = sent.join_next().await {
        outcomes.push(outcome.unwrap());
    }
    let admitted = outcomes.iter().filter(|m| answered(m)).count();
    assert_eq!(
        admitted,
        1,
        "exactly one of 30 simultaneous questions of one member was answered: {:?}",
        outcomes.iter().map(|m| &m.content).collect::<Vec<_>>()
    );
    assert_eq!(
        world
            .db
            .scalar_i64("SELECT COUNT(*) FROM chat_commands WHERE state = 'aborted'")
            .await,
        29,
        "the 29 others were refused as 'busy'"
    );

    // The LLM's rate, 2 requests a second, saved on one instance: the three together send 2 a second.
    let current = instances[0].config.current();
    instances[0]
        .config
        .update(
            RuntimeConfig {
                llm_requests_per_second: 2.0,
                ..current.config.clone()
            },
            current.version,
            "test",
        )
        .await
        .unwrap();
    for other in &instances[1..] {
        let mut changes = other.config.subscribe();
        tokio::time::timeout(Duration::from_secs(1), async {
            while changes.borrow_and_update().config.llm_requests_per_second != 2.0 {
                changes.changed().await.unwrap();
            }
        })
        .await
        .expect("the rate is in force everywhere within a second");
    }
    let before = world.llm.requests_to(Endpoint::ChatCompletions).len();
    let started = Instant::now();
    let mut sent = tokio::task::JoinSet::new();
    for n in 0..9usize {
        let member = world.discord.user(guild.user(&format!("member{n}")));
        let url = urls[n % 3].clone();
        sent.spawn(async move {
            member
                .run_slash_command(
                    channel,
                    "chat",
                    [("prompt", "how fast?")],
                    Via::Webhook { url },
                )
                .await
                .wait_original(answered)
                .await
        });
    }
    while let Some(done) = sent.join_next().await {
        done.unwrap();
    }
    let mut times: Vec<_> = world
        .llm
        .requests_to(Endpoint::ChatCompletions)
        .into_iter()
        .skip(before)
        .map(|r| r.at)
        .collect();
    assert_eq!(times.len(), 9, "one request per question");
    times.sort();
    let span = times[8].duration_since(times[0]).unwrap();
    eprintln!(
        "9 questions over 3 instances at 2 requests/s: the LLM saw them over {span:?} ({:.2}/s), all \
         answered after {:?}",
        8.0 / span.as_secs_f64(),
        started.elapsed()
    );
    // Each request waits for its slot; the request itself reaches the simulator a few milliseconds
    // after, more or less: a gap may look shorter than the period by that much, never by a period.
    for pair in times.windows(2) {
        let gap = pair[1].duration_since(pair[0]).unwrap();
        assert!(
            gap >= Duration::from_millis(400),
            "two LLM requests {gap:?} apart: the three instances together exceeded 2 a second"
        );
    }
    for instance in instances {
        instance.crash();
    }
}
