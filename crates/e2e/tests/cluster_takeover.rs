//! Three instances on one PostgreSQL database lose nothing when one dies or when all are restarted one
//! after the other: an instance killed in the middle of answers has them finished by the others, each
//! once; a rolling restart (each stopped gracefully and started again while questions keep coming) leaves
//! every question answered once.

use disconcierge_discord_sim::twilight_model::channel::Message;
use disconcierge_discord_sim::{DiscordSim, GuildHandle, InteractionHandle, Via};
use disconcierge_e2e::{Backend, Crashable, World};
use disconcierge_llm_sim::{Reply, Timing};
use std::time::{Duration, Instant};

fn answered(m: &Message) -> bool {
    m.content.contains("Commands used")
}

fn env(id: &str) -> [(&str, &str); 5] {
    [
        ("DC_INSTANCE_ID", id),
        ("DC_LLM_PROVIDER", "openai-chat"),
        ("DC_DISCORD_WEBHOOK_SERVER_ENABLED", "true"),
        ("DC_QUEUE_LEASE", "1s"),
        ("DC_DISCORD_GATEWAY_SHARD_LEASE", "2s"),
    ]
}

/// Asks `/chat` as member `n` through `instance`'s webhook.
async fn ask(
    world: &World,
    guild: &GuildHandle,
    n: usize,
    instance: &Crashable,
) -> InteractionHandle {
    let member = world.discord.user(guild.user(&format!("member{n}")));
    let chat = member
        .run_slash_command(
            guild.channel("general"),
            "chat",
            [("prompt", format!("question {n}"))],
            Via::Webhook {
                url: instance.webhook_url.clone().expect("webhook enabled"),
            },
        )
        .await;
    chat.wait_ack().await;
    chat
}

/// Lets the model be asked as often as the questions come (the default pace would make these tests
/// wait for it, not for the instances), before any instance starts.
async fn unpaced(world: &World) {
    world.db.store.migrate().await.unwrap();
    let config = disconcierge_core::RuntimeConfig {
        llm_requests_per_second: 100.0,
        ..Default::default()
    };
    world
        .db
        .store
        .save_runtime_config(&config, None, Some("test"))
        .await
        .unwrap();
}

/// Every question answered, each in its original response, once.
async fn all_answered_once(world: &World, chats: Vec<InteractionHandle>) {
    for chat in &chats {
        chat.wait_original(answered).await;
        assert!(chat.followups().is_empty(), "answered once");
    }
    let completed = world
        .db
        .scalar_i64("SELECT COUNT(*) FROM chat_commands WHERE state = 'completed'")
        .await;
    assert_eq!(
        completed,
        chats.len() as i64,
        "every command completed once"
    );
    world.discord.assert_no_violations();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(dc_test_postgres),
    ignore = "PostgreSQL: set DC_TEST_POSTGRES_URL to run"
)]
async fn a_killed_instances_answers_are_finished_by_the_others_once() {
    let Some(world) = World::start_with(
        Backend::Postgres,
        DiscordSim::builder().default_timeout(Duration::from_secs(60)),
    )
    .await
    else {
        return;
    };
    unpaced(&world).await;
    let mut guild = world.discord.guild("Test Guild");
    for n in 0..12 {
        guild = guild.member(&format!("member{n}"));
    }
    let guild = guild.text_channel("general").create();
    // Every answer takes a second and a half: the kill finds some being written.
    world.llm.set_default_reply(
        Reply::text("A careful answer.")
            .with_timing(Timing::new(Duration::from_millis(1500), Duration::ZERO)),
    );
    let a = Crashable::start(&world, &env("a")).await;
    let b = Crashable::start(&world, &env("b")).await;
    let c = Crashable::start(&world, &env("c")).await;
    let instances = [&a, &b, &c];
    let mut chats = Vec::new();
    for n in 0..12 {
        chats.push(ask(&world, &guild, n, instances[n % 3]).await);
    }
    // A is answering something: kill it there.
    let deadline = Instant::now() + Duration::from_secs(20);
    while world
        .db
        .scalar_i64(
            "SELECT COUNT(*) FROM chat_commands WHERE state = 'in_progress' AND lease_owner = 'a'",
        )
        .await
        == 0
    {
        assert!(
            Instant::now() < deadline,
            "instance a never answered anything"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let killed = Instant::now();
    a.crash();
    all_answered_once(&world, chats).await;
    let taken_over = world
        .db
        .scalar_i64("SELECT COUNT(*) FROM chat_commands WHERE attempts > 1")
        .await;
    assert!(taken_over >= 1, "a's answers were taken over");
    eprintln!(
        "12 questions, instance a killed mid-answer: {taken_over} taken over by b and c, all 12 answered \
         once within {:?} of the kill (queue lease 1 s)",
        killed.elapsed()
    );
    b.crash();
    c.crash();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(dc_test_postgres),
    ignore = "PostgreSQL: set DC_TEST_POSTGRES_URL to run"
)]
async fn a_rolling_restart_of_three_instances_loses_no_question() {
    let Some(world) = World::start_with(
        Backend::Postgres,
        DiscordSim::builder().default_timeout(Duration::from_secs(60)),
    )
    .await
    else {
        return;
    };
    unpaced(&world).await;
    let mut guild = world.discord.guild("Test Guild");
    for n in 0..24 {
        guild = guild.member(&format!("member{n}"));
    }
    let guild = guild.text_channel("general").create();
    world.llm.set_default_reply(
        Reply::text("An answer.")
            .with_timing(Timing::new(Duration::from_millis(300), Duration::ZERO)),
    );
    let mut instances = vec![
        Crashable::start(&world, &env("a")).await,
        Crashable::start(&world, &env("b")).await,
        Crashable::start(&world, &env("c")).await,
    ];
    let mut chats = Vec::new();
    let mut n = 0;
    let started = Instant::now();
    for restart in 0..3 {
        // Questions to every instance, then this one stops (graceful: what it was answering is
        // finished or left for the others) and starts again while the next questions arrive.
        for instance in &instances {
            chats.push(ask(&world, &guild, n, instance).await);
            n += 1;
        }
        let id = ["a", "b", "c"][restart];
        let old = instances.remove(restart);
        let stopping = tokio::spawn(old.stop());
        for instance in &instances {
            chats.push(ask(&world, &guild, n, instance).await);
            n += 1;
        }
        stopping.await.unwrap();
        instances.insert(restart, Crashable::start(&world, &env(id)).await);
        for instance in &instances {
            chats.push(ask(&world, &guild, n, instance).await);
            n += 1;
        }
    }
    let count = chats.len();
    all_answered_once(&world, chats).await;
    eprintln!(
        "rolling restart of a, b and c: {count} questions asked throughout, all answered once after {:?}",
        started.elapsed()
    );
    for instance in instances {
        instance.crash();
    }
}
