//! Durability: the process dies in the middle of an answer; the next run takes the command over and
//! answers it exactly once.

use disconcierge_discord_sim::Via;
use disconcierge_e2e::{Backend, Crashable, World, spawn_app_in};
use disconcierge_llm_sim::{Endpoint, Reply, Timing};
use std::time::Duration;

disconcierge_e2e::both!(a_crash_mid_answer_is_resumed_and_answered_exactly_once);
async fn a_crash_mid_answer_is_resumed_and_answered_exactly_once(backend: Backend) {
    let Some(world) = World::start(backend).await else {
        return;
    };
    // The command reaches the first run over its webhook; the next run answers it with the interaction's
    // token all the same.
    let env = [
        ("DC_LLM_PROVIDER", "openai-chat"),
        ("DC_QUEUE_LEASE", "1s"),
        ("DC_DISCORD_WEBHOOK_SERVER_ENABLED", "true"),
    ];
    let guild = world
        .discord
        .guild("Test Guild")
        .member("gus")
        .text_channel("general")
        .create();
    // The first run's model is slow: the process dies while it waits for the first token.
    world.llm.push_reply(
        Reply::text("never delivered")
            .with_timing(Timing::new(Duration::from_secs(60), Duration::ZERO)),
    );
    world.llm.push_reply(Reply::text("The answer, once."));

    let first = Crashable::start(&world, &env).await;
    world.discord.gateway().wait_ready(1).await;
    let chat = world
        .discord
        .user(guild.user("gus"))
        .run_slash_command(
            guild.channel("general"),
            "chat",
            [("prompt", "a question")],
            Via::Webhook {
                url: first.webhook_url.clone().expect("webhook enabled"),
            },
        )
        .await;
    chat.wait_ack().await;
    world
        .llm
        .wait_for_requests_to(Endpoint::ChatCompletions, 1, Duration::from_secs(10))
        .await
        .unwrap();
    first.crash();

    // The next run: same database, same Discord, same model.
    let app = spawn_app_in(world, &env).await;
    let answer = chat
        .wait_original(|m| m.content.contains("Commands used"))
        .await;
    assert!(
        answer.content.starts_with("The answer, once.\n"),
        "{}",
        answer.content
    );
    assert!(
        chat.followups().is_empty(),
        "answered once, in the original response"
    );
    // Acknowledged once (a second acknowledgement would be a recorded violation).
    app.discord.assert_no_violations();
    let db = app.stop().await;
    assert_eq!(db.scalar_i64("SELECT COUNT(*) FROM chat_commands").await, 1);
    assert_eq!(
        db.scalar_i64(
            "SELECT COUNT(*) FROM chat_commands WHERE state = 'completed' AND attempts = 2"
        )
        .await,
        1
    );
    // The interrupted call did not count; the finished one did, once.
    assert_eq!(
        db.scalar_i64("SELECT COUNT(*) FROM chat_commands WHERE usage_counted")
            .await,
        1
    );
}

disconcierge_e2e::both!(a_crash_while_delivering_delivers_the_stored_answer_without_asking_again);
async fn a_crash_while_delivering_delivers_the_stored_answer_without_asking_again(
    backend: Backend,
) {
    // The second instance starts, finds the lease expired and delivers: under the whole suite on two
    // cores that once took longer than the simulator's default 5 s wait (it failed at 5.4 s).
    let discord =
        disconcierge_discord_sim::DiscordSim::builder().default_timeout(Duration::from_secs(15));
    let Some(world) = World::start_with(backend, discord).await else {
        return;
    };
    let env = [("DC_LLM_PROVIDER", "openai-chat"), ("DC_QUEUE_LEASE", "1s")];
    let guild = world
        .discord
        .guild("Test Guild")
        .member("ida")
        .text_channel("general")
        .create();
    // The model answers at once, and only once (a second request would get the simulator's default
    // reply).
    let answer_text = disconcierge_e2e::answer_in_two_messages();
    world.llm.push_reply(Reply::text(answer_text.clone()));
    // Discord never answers the first follow-up: the process dies while it waits.
    let followup_route = "/webhooks/{application_id}/{token}";
    world.discord.fail_route(
        disconcierge_discord_sim::Method::POST,
        followup_route,
        disconcierge_discord_sim::Failure::Hang,
        1,
    );

    let first = Crashable::start(&world, &env).await;
    world.discord.gateway().wait_ready(1).await;
    let chat = world
        .discord
        .user(guild.user("ida"))
        .run_slash_command(
            guild.channel("general"),
            "chat",
            [("prompt", "a long question")],
            Via::Gateway,
        )
        .await;
    chat.wait_ack().await;
    world
        .discord
        .wait_for(Duration::from_secs(10), |w| {
            w.requests
                .iter()
                .any(|r| r.method == "POST" && r.route == followup_route)
                .then_some(())
        })
        .await;
    first.crash();

    let app = spawn_app_in(world, &env).await;
    let last = chat
        .wait_followup(|m| m.content.contains("Commands used"))
        .await;
    let original = chat.original().expect("original response");
    assert!(
        original.content.starts_with("Part 0."),
        "{}",
        original.content
    );
    assert_eq!(chat.followups().len(), 1, "the rest of the answer, once");
    let delivered = format!("{}\n{}", original.content, last.content);
    let words = |t: &str| {
        t.split_whitespace()
            .filter(|w| !w.starts_with("-#"))
            .map(str::to_owned)
            .collect::<Vec<_>>()
    };
    assert_eq!(
        words(&delivered)[..words(&answer_text).len()],
        words(&answer_text)[..],
        "the stored answer, every word"
    );
    assert_eq!(
        app.llm.requests_to(Endpoint::ChatCompletions).len(),
        1,
        "the model was asked once"
    );
    app.discord.assert_no_violations();
    let db = app.stop().await;
    assert_eq!(
        db.scalar_i64(
            "SELECT COUNT(*) FROM chat_commands WHERE state = 'completed' AND step = 'done' \
             AND attempts = 2 AND usage_counted AND total_tokens > 0"
        )
        .await,
        1
    );
}

disconcierge_e2e::both!(a_command_that_keeps_failing_its_worker_ends_after_max_attempts);
async fn a_command_that_keeps_failing_its_worker_ends_after_max_attempts(backend: Backend) {
    let Some(world) = World::start(backend).await else {
        return;
    };
    let env = [("DC_LLM_PROVIDER", "openai-chat"), ("DC_QUEUE_LEASE", "1s")];
    let guild = world
        .discord
        .guild("Test Guild")
        .member("kim")
        .text_channel("general")
        .create();
    world.llm.push_reply(
        Reply::text("never delivered")
            .with_timing(Timing::new(Duration::from_secs(60), Duration::ZERO)),
    );

    let first = Crashable::start(&world, &env).await;
    world.discord.gateway().wait_ready(1).await;
    let chat = world
        .discord
        .user(guild.user("kim"))
        .run_slash_command(
            guild.channel("general"),
            "chat",
            [("prompt", "poison")],
            Via::Gateway,
        )
        .await;
    chat.wait_ack().await;
    world
        .llm
        .wait_for_requests_to(Endpoint::ChatCompletions, 1, Duration::from_secs(10))
        .await
        .unwrap();
    first.crash();

    // One attempt allowed (set in the database before the next run starts): the restarted bot does not
    // try again, it tells the user.
    let stored = world
        .db
        .store
        .load_runtime_config()
        .await
        .unwrap()
        .expect("saved by the first run");
    let mut config = stored.config.clone();
    config.chat_command_max_attempts = 1;
    world
        .db
        .store
        .save_runtime_config(&config, Some(stored.version), Some("test"))
        .await
        .unwrap();
    let app = spawn_app_in(world, &env).await;
    let answer = chat.wait_original(|m| !m.content.is_empty()).await;
    assert_eq!(
        answer.content,
        disconcierge_core::RuntimeConfig::default().discord_error_message
    );
    assert_eq!(
        app.llm.requests_to(Endpoint::ChatCompletions).len(),
        1,
        "no second generation"
    );
    app.discord.assert_no_violations();
    let db = app.stop().await;
    assert_eq!(
        db.scalar_i64("SELECT COUNT(*) FROM chat_commands WHERE state = 'failed' AND error LIKE 'gave up after 1 attempts%'").await,
        1
    );
}

disconcierge_e2e::both!(a_command_another_instance_left_received_is_answered_without_a_restart);
/// An instance that dies between acknowledging a command and queueing it leaves it `received`; with
/// several instances the one that died is not the one that starts again, so a running instance must pick
/// it up by itself.
async fn a_command_another_instance_left_received_is_answered_without_a_restart(backend: Backend) {
    // The janitor's round is 10 s: the simulator waits longer than its default for the answer.
    let Some(world) = World::start_with(
        backend,
        disconcierge_discord_sim::DiscordSim::builder().default_timeout(Duration::from_secs(30)),
    )
    .await
    else {
        return;
    };
    let app = spawn_app_in(
        world,
        &[
            ("DC_LLM_PROVIDER", "openai-chat"),
            ("DC_DISCORD_WEBHOOK_SERVER_ENABLED", "true"),
        ],
    )
    .await;
    let guild = app
        .discord
        .guild("Test Guild")
        .member("ida")
        .text_channel("general")
        .create();
    app.discord.gateway().wait_ready(1).await;
    // The other instance: it recorded the interaction and acknowledged it (deferred), then died before
    // queueing it. Its record is some seconds old.
    let chat = app
        .discord
        .user(guild.user("ida"))
        .run_slash_command(
            guild.channel("general"),
            "chat",
            [("prompt", "left behind")],
            Via::Prepared,
        )
        .await;
    let url = app.webhook_url.clone().expect("webhook enabled");
    chat.complete(&url, 200, r#"{"type":5}"#.to_string());
    let recorded = chrono::Utc::now() - chrono::TimeDelta::seconds(12);
    let batch = [disconcierge_store::NewChatCommandBy {
        username: "ida".into(),
        global_name: None,
        command: disconcierge_core::model::NewChatCommand {
            interaction_id: chat.id().get(),
            interaction_token: chat.token().to_string().into(),
            token_expires_at: recorded + chrono::TimeDelta::minutes(15),
            application_id: app.discord.application_id().get(),
            user_id: guild.user("ida").get(),
            guild_id: Some(guild.id().get()),
            channel_id: Some(guild.channel("general").get()),
            private: false,
            prompt: "left behind".into(),
            state: disconcierge_core::model::ChatCommandState::Received,
            created_at: recorded,
        },
    }];
    app.store
        .record_chat_commands(
            &batch,
            recorded - chrono::TimeDelta::hours(6),
            recorded,
            100,
        )
        .await
        .unwrap();
    // This instance's janitor queues it (within its 10 s round) and a worker answers it.
    let answer = chat
        .wait_original(|m| m.content.contains("Commands used"))
        .await;
    assert!(chat.followups().is_empty(), "answered once: {answer:?}");
    app.discord.assert_no_violations();
    let db = app.stop().await;
    assert_eq!(
        db.scalar_i64("SELECT COUNT(*) FROM chat_commands WHERE state = 'completed'")
            .await,
        1
    );
}
