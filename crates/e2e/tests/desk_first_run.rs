//! The support desk on a fresh install, with no intent configured (`DC_DISCORD_GATEWAY_INTENTS=auto`):
//! the bot reads the application's flags and asks for the Message Content intent when the developer
//! portal allows it, so tickets are answered out of the box; when the portal does not, it connects
//! without it (no 4014 close) and `/setup`, `/status` and the dashboard name the switch to turn on.

use disconcierge_discord_sim::DiscordSim;
use disconcierge_discord_sim::twilight_model::gateway::Intents;
use disconcierge_e2e::admin::Admin;
use disconcierge_e2e::desk::*;
use disconcierge_e2e::{Backend, TestApp, World, spawn_app_in};
use disconcierge_llm_sim::Reply;
use std::time::Duration;

/// A fresh application whose portal allows `privileged` intents; nothing about intents configured.
async fn fresh(backend: Backend, privileged: Intents) -> Option<TestApp> {
    let world = World::start_with(
        backend,
        DiscordSim::builder().privileged_intents(privileged),
    )
    .await?;
    let app = spawn_app_in(world, &[("DC_LLM_PROVIDER", "openai-chat")]).await;
    app.discord.gateway().wait_ready(1).await;
    Some(app)
}

/// The intents of every IDENTIFY the bot sent.
fn identified_intents(app: &TestApp) -> Vec<u64> {
    app.discord
        .gateway()
        .received(2)
        .iter()
        .map(|d| d["intents"].as_u64().expect("intents in IDENTIFY"))
        .collect()
}

disconcierge_e2e::both!(a_fresh_bot_whose_portal_allows_message_content_answers_tickets);
async fn a_fresh_bot_whose_portal_allows_message_content_answers_tickets(backend: Backend) {
    let Some(app) = fresh(
        backend,
        Intents::MESSAGE_CONTENT | Intents::GUILD_MEMBERS | Intents::GUILD_PRESENCES,
    )
    .await
    else {
        return;
    };
    assert_eq!(
        identified_intents(&app),
        [3_243_773 | Intents::MESSAGE_CONTENT.bits()],
        "DisConcierge's default intents and Message Content, asked for once"
    );
    let g = guild(&app, "Tea Shop");
    setup(&app, &g).await; // asserts that /setup has no warning about message text
    let panel = panel(&app, &g).await;
    let ann = actor(&app, &g, "ann");
    let thread = open(&ann, &panel, "Billing").await;
    wait_bot_messages(&app, thread, 1).await;
    app.llm.push_reply(Reply::text("Refunds take three days."));
    ann.post_message(thread, "How long does a refund take?");
    let answer = wait_bot_messages(&app, thread, 2).await;
    assert_eq!(answer.content, "Refunds take three days.");
    let request = chat_requests(&app).pop().expect("the model was asked");
    assert!(
        request.to_string().contains("How long does a refund take?"),
        "the model read the member's message: {request}"
    );

    let admin = Admin::sign_in(&app).await;
    let status = admin.get("/api/status").await;
    assert_eq!(status["gateway"]["level"], "ok", "{status}");
    app.discord.assert_no_violations();
    app.stop().await;
}

disconcierge_e2e::both!(
    a_portal_without_message_content_is_named_by_setup_status_and_the_dashboard
);
async fn a_portal_without_message_content_is_named_by_setup_status_and_the_dashboard(
    backend: Backend,
) {
    let Some(app) = fresh(backend, Intents::empty()).await else {
        return;
    };
    // Not asked for, so Discord never closes the gateway for it.
    assert_eq!(identified_intents(&app), [3_243_773]);
    let admin = Admin::sign_in(&app).await;
    let status = admin.get("/api/status").await;
    assert_eq!(
        status["gateway"]["level"], "ok",
        "no server uses the desk yet, so nothing is missing: {status}"
    );

    let g = guild(&app, "Tea Shop");
    let text = setup_with(&app, &g, vec![]).await;
    let olga = actor(&app, &g, "olga");
    assert!(text.starts_with("Support tickets are set up"), "{text}");
    assert!(
        text.contains("⚠️ The bot does not receive message text")
            && text.contains("switch on Message Content Intent in Discord's developer portal")
            && text.contains("Bot → Privileged Gateway Intents"),
        "{text}"
    );

    let status = answer_of(&slash(&olga, g.channel("general"), "status", vec![]).await).await;
    let line = status
        .lines()
        .find(|l| l.starts_with("Ticket messages:"))
        .unwrap_or_else(|| panic!("{status}"));
    assert!(line.contains("Message Content Intent"), "{line}");

    // The dashboard's gateway card: degraded, naming the switch, now that a server uses the desk.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let card = loop {
        let status = admin.get("/api/status").await;
        if status["gateway"]["level"] == "degraded" {
            break status["gateway"]["text"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
        }
        assert!(tokio::time::Instant::now() < deadline, "{status}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert!(
        card.contains("messages arrive without their text")
            && card.contains("Privileged Gateway Intents"),
        "{card}"
    );
    assert_eq!(
        identified_intents(&app),
        [3_243_773],
        "no second IDENTIFY: the gateway was never closed"
    );
    app.discord.assert_no_violations();
    app.stop().await;
}
