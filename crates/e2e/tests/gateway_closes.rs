//! Discord closing the gateway for good, end to end: for every close code twilight does not reconnect
//! from (4004, 4010, 4011, 4012, 4013, 4014) the simulated Discord closes the real application's
//! connection, and the test shows that nothing panicked, what the admin sees (the dashboard's gateway
//! card through `/api/status`, and `/status` in Discord), and the recovery: without the privileged intents
//! (4013, 4014), with the shards Discord asks for (4011), or a stopped gateway whose admin interface and
//! webhook interactions keep working (4004, 4010, 4012).

use disconcierge_discord_sim::twilight_model::gateway::Intents;
use disconcierge_discord_sim::{DiscordSim, GatewayRecord, Via};
use disconcierge_e2e::admin::Admin;
use disconcierge_e2e::desk::{INTENTS, answer_of};
use disconcierge_e2e::{Backend, TestApp, World, spawn_app_in, watch_panics};
use disconcierge_llm_sim::Reply;
use std::time::Duration;

/// The application against a Discord set up by `discord`. Connecting again after a fatal close waits for
/// twilight's identify queue, which keeps Discord's 5 s between identifies: the simulator's waits allow
/// for it.
async fn start(discord: disconcierge_discord_sim::SimBuilder, env: &[(&str, &str)]) -> TestApp {
    let discord = discord.default_timeout(Duration::from_secs(15));
    let world = World::start_with(Backend::Sqlite, discord)
        .await
        .expect("SQLite is always there");
    let mut env = env.to_vec();
    env.push(("DC_DISCORD_WEBHOOK_SERVER_ENABLED", "true"));
    spawn_app_in(world, &env).await
}

/// Waits until the dashboard's Discord gateway card (`/api/status`'s `gateway`) is at `level`; returns
/// its text.
async fn wait_gateway_card(admin: &Admin, level: &str) -> String {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let status = admin.get("/api/status").await;
        let card = &status["gateway"];
        if card["level"] == level {
            return card["text"].as_str().unwrap_or_default().to_owned();
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the gateway card never became {level}: {card}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The close codes the simulated Discord sent, in order.
fn closes(discord: &DiscordSim) -> Vec<u16> {
    discord
        .gateway()
        .log()
        .into_iter()
        .filter_map(|r| match r {
            GatewayRecord::Closed { by_discord, .. } => by_discord,
            _ => None,
        })
        .collect()
}

/// The intents of every IDENTIFY the bot sent, in order.
fn identified_intents(discord: &DiscordSim) -> Vec<u64> {
    discord
        .gateway()
        .received(2)
        .iter()
        .map(|d| d["intents"].as_u64().expect("intents in IDENTIFY"))
        .collect()
}

/// `/chat` in a fresh guild `via` the gateway or the webhook is answered.
async fn chat_is_answered(app: &TestApp, guild: &str, via: Via) {
    let g = app
        .discord
        .guild(guild)
        .member("alice")
        .text_channel("general")
        .create();
    app.llm.push_reply(Reply::text("Still here."));
    let chat = app
        .discord
        .user(g.user("alice"))
        .run_slash_command(g.channel("general"), "chat", [("prompt", "there?")], via)
        .await;
    chat.wait_ack().await;
    let answer = chat
        .wait_original(|m| m.content.contains("Commands used"))
        .await;
    assert!(
        answer.content.starts_with("Still here."),
        "{}",
        answer.content
    );
}

/// `/status`'s gateway line, asked in a fresh guild `via` the gateway or the webhook.
async fn status_gateway_line(app: &TestApp, guild: &str, via: Via) -> String {
    let g = app
        .discord
        .guild(guild)
        .member("sam")
        .owner("sam")
        .text_channel("general")
        .create();
    let handle = app
        .discord
        .user(g.user("sam"))
        .run_slash_command(
            g.channel("general"),
            "status",
            Vec::<(&str, disconcierge_discord_sim::OptionValue)>::new(),
            via,
        )
        .await;
    let text = answer_of(&handle).await;
    text.lines()
        .find(|l| l.starts_with("Gateway: "))
        .unwrap_or_else(|| panic!("no gateway line in {text}"))
        .to_owned()
}

fn webhook(app: &TestApp) -> Via {
    Via::Webhook {
        url: app.webhook_url.clone().expect("webhook enabled"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_disallowed_intent_reconnects_without_it_says_which_switch_and_receives_events() {
    let panics = watch_panics();
    // The portal allows no privileged intent; the bot asks for Message Content, as `/setup` suggests.
    let app = start(
        DiscordSim::builder().privileged_intents(Intents::empty()),
        &[
            ("DC_LLM_PROVIDER", "openai-chat"),
            ("DC_DISCORD_GATEWAY_INTENTS", INTENTS),
        ],
    )
    .await;
    app.discord.gateway().wait_ready(1).await;
    let admin = Admin::sign_in(&app).await;
    let card = wait_gateway_card(&admin, "degraded").await;
    assert!(card.contains("4014 Disallowed intent(s)"), "{card}");
    assert!(card.contains("Message Content Intent"), "{card}");
    assert!(card.contains("developer portal"), "{card}");

    assert_eq!(closes(&app.discord), [4014]);
    let asked: u64 = INTENTS.parse().unwrap();
    assert_eq!(
        identified_intents(&app.discord),
        [asked, asked & !Intents::MESSAGE_CONTENT.bits()],
        "connected again, without the refused intent"
    );

    // The new connection receives events: a command over the gateway is answered.
    chat_is_answered(&app, "Tea Shop", Via::Gateway).await;
    let line = status_gateway_line(&app, "Coffee Shop", Via::Gateway).await;
    assert!(
        line.starts_with("Gateway: ⚠️ connected since <t:"),
        "{line}"
    );
    assert!(
        line.contains("4014") && line.contains("Message Content Intent"),
        "{line}"
    );
    panics.assert_none();
    app.discord.take_violations();
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_intents_reconnect_with_the_least_the_bot_needs() {
    let panics = watch_panics();
    let app = start(
        DiscordSim::builder(),
        &[
            ("DC_LLM_PROVIDER", "openai-chat"),
            ("DC_DISCORD_GATEWAY_INTENTS", "3243773"),
        ],
    )
    .await;
    app.discord.gateway().wait_ready(1).await;
    let admin = Admin::sign_in(&app).await;
    wait_gateway_card(&admin, "ok").await;
    app.discord.gateway().close_with(4013, "Invalid intent(s).");
    let card = wait_gateway_card(&admin, "degraded").await;
    assert!(card.contains("4013 Invalid intent(s)"), "{card}");
    assert!(card.contains("DC_DISCORD_GATEWAY_INTENTS"), "{card}");
    let minimal = (Intents::GUILDS | Intents::GUILD_MESSAGES | Intents::DIRECT_MESSAGES).bits();
    assert_eq!(identified_intents(&app.discord), [3_243_773, minimal]);
    chat_is_answered(&app, "Tea Shop", Via::Gateway).await;
    panics.assert_none();
    app.discord.take_violations();
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sharding_required_connects_with_the_shards_discord_asks_for() {
    let panics = watch_panics();
    let app = start(
        DiscordSim::builder().required_shards(2, 2),
        &[("DC_LLM_PROVIDER", "openai-chat")],
    )
    .await;
    app.discord.gateway().wait_ready(2).await;
    let mut shards = app.discord.gateway().live_shards();
    shards.sort();
    assert_eq!(shards, [[0, 2], [1, 2]]);
    assert_eq!(closes(&app.discord), [4011]);
    assert_eq!(
        app.discord
            .requests()
            .iter()
            .filter(|r| r.method == "GET" && r.route == "/gateway/bot")
            .count(),
        1,
        "the shard count was asked of Discord"
    );
    let admin = Admin::sign_in(&app).await;
    let card = wait_gateway_card(&admin, "ok").await;
    assert!(card.contains("(2 shards)"), "{card}");
    assert!(card.contains("4011 Sharding required"), "{card}");
    // Guilds on either shard are served.
    for guild in ["Tea Shop", "Coffee Shop", "Book Club", "Chess Club"] {
        chat_is_answered(&app, guild, Via::Gateway).await;
    }
    let line = status_gateway_line(&app, "Knitting Circle", Via::Gateway).await;
    assert!(line.ends_with("(2 shards)"), "{line}");
    panics.assert_none();
    app.discord.take_violations();
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fatal_close_that_cannot_be_worked_around_stops_the_gateway_and_keeps_the_rest() {
    let panics = watch_panics();
    for (code, reason, advice) in [
        (4004, "Authentication failed.", "DC_DISCORD_TOKEN"),
        (4010, "Invalid shard.", "restart disconcierge"),
        (4012, "Invalid API version.", "Upgrade disconcierge"),
    ] {
        let app = start(DiscordSim::builder(), &[("DC_LLM_PROVIDER", "openai-chat")]).await;
        app.discord.gateway().wait_ready(1).await;
        let admin = Admin::sign_in(&app).await;
        wait_gateway_card(&admin, "ok").await;
        app.discord.gateway().close_with(code, reason);
        let card = wait_gateway_card(&admin, "down").await;
        assert!(card.starts_with(&format!("{code} ")), "{code}: {card}");
        assert!(card.contains(advice), "{code}: {card}");
        assert_eq!(closes(&app.discord), [code]);
        // Stopped for good: no new connection.
        assert_eq!(app.discord.gateway().connection_count(), 1, "{code}");
        assert_eq!(app.discord.gateway().live_sessions(), 0, "{code}");
        // Webhook interactions and the admin interface keep working, and `/status` says why.
        chat_is_answered(&app, "Tea Shop", webhook(&app)).await;
        let line = status_gateway_line(&app, "Coffee Shop", webhook(&app)).await;
        assert!(
            line.starts_with(&format!("Gateway: ❌ stopped: {code} ")),
            "{code}: {line}"
        );
        let ready = reqwest::get(format!("{}/healthz", app.api_url))
            .await
            .unwrap();
        assert_eq!(ready.status(), 200);
        assert_eq!(app.discord.gateway().connection_count(), 1, "{code}");
        app.discord.take_violations();
        app.stop().await;
    }
    panics.assert_none();
}
