//! What the bot notices and what it tells the staff: messages that mention it or reply to its answers are
//! kept in `discord_messages` (tied to the answer they reply to); feedback, failed answers and the startup
//! message are posted to the notification channel, with links into the admin interface.

use disconcierge_discord_sim::Via;
use disconcierge_discord_sim::twilight_model::channel::Message;
use disconcierge_discord_sim::twilight_model::id::Id;
use disconcierge_discord_sim::twilight_model::id::marker::ChannelMarker;
use disconcierge_e2e::{Backend, TestApp, World, spawn_app_in, try_spawn_app};
use disconcierge_llm_sim::{Failure, FailureRule, Reply, Script};
use std::time::Duration;

const ADMIN: &str = "https://bot.example.com/";

/// Waits for a message in `channel` that satisfies `pred`.
async fn wait_for_post(app: &TestApp, channel: Id<ChannelMarker>, what: &str) -> Message {
    app.discord
        .try_wait_for(Duration::from_secs(10), |w| {
            w.messages_in(channel)
                .into_iter()
                .find(|m| m.content.contains(what))
                .cloned()
        })
        .await
        .unwrap_or_else(|report| panic!("no post containing {what:?}: {report}"))
}

/// Waits until `sql` counts `n`.
async fn wait_count(app: &TestApp, sql: &str, n: i64) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let count = app.db().scalar_i64(sql).await;
        if count == n {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{sql}: {count}, expected {n}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

disconcierge_e2e::both!(mentions_and_replies_to_answers_are_kept);
async fn mentions_and_replies_to_answers_are_kept(backend: Backend) {
    let Some(app) = try_spawn_app(backend, &[("DC_LLM_PROVIDER", "openai-chat")]).await else {
        return;
    };
    app.discord.gateway().wait_ready(1).await;
    let guild = app
        .discord
        .guild("Test Guild")
        .member("erin")
        .member("fred")
        .text_channel("general")
        .create();
    let general = guild.channel("general");
    let erin = app.discord.user(guild.user("erin"));
    let fred = app.discord.user(guild.user("fred"));

    // Ordinary chatter, and a reply to a person: not the bot's business.
    let chatter = fred.post_message(general, "lunch anyone?");
    erin.reply(&chatter, "yes!");
    // An @mention of the bot.
    let mention = format!("<@{}> can you help me?", app.discord.bot_user_id());
    let mentioned = erin.post_message(general, &mention);

    // An answer, then a reply to it.
    app.llm.push_reply(Reply::text("Restart the router."));
    let chat = erin
        .run_slash_command(general, "chat", [("prompt", "no internet")], Via::Gateway)
        .await;
    let answer = chat
        .wait_original(|m| m.content.contains("Commands used"))
        .await;
    app.settle(erin.id().get()).await;
    let reply = fred.reply(&answer, "that did not work for me");

    wait_count(&app, "SELECT COUNT(*) FROM discord_messages", 2).await;
    let command_id = app.db().scalar_i64("SELECT id FROM chat_commands").await;
    assert_eq!(
        app.db()
            .scalar_i64(&format!(
                "SELECT COUNT(*) FROM discord_messages WHERE message_id = {} AND user_id = {} \
                 AND chat_command_id IS NULL AND content = '{mention}'",
                mentioned.id,
                erin.id()
            ))
            .await,
        1,
        "the mention is kept, with its author"
    );
    assert_eq!(
        app.db()
            .scalar_i64(&format!(
                "SELECT COUNT(*) FROM discord_messages WHERE message_id = {} AND user_id = {} \
                 AND chat_command_id = {command_id} AND content = 'that did not work for me'",
                reply.id,
                fred.id()
            ))
            .await,
        1,
        "the reply is kept and tied to the answer it replies to"
    );
    let db = app.stop().await;
    // Why each was kept is in the payload.
    let payloads: Vec<serde_json::Value> = db
        .store
        .recent_discord_messages(10)
        .await
        .unwrap()
        .into_iter()
        .filter_map(|m| m.payload)
        .collect();
    let mut reasons: Vec<&str> = payloads
        .iter()
        .filter_map(|p| p["noticed"].as_str())
        .collect();
    reasons.sort();
    assert_eq!(reasons, ["mention", "reply"]);
}

disconcierge_e2e::both!(feedback_and_failures_are_posted_to_the_notification_channel);
async fn feedback_and_failures_are_posted_to_the_notification_channel(backend: Backend) {
    let Some(app) = try_spawn_app(
        backend,
        &[
            ("DC_LLM_PROVIDER", "ollama"),
            ("DC_API_EXTERNAL_URL", ADMIN),
        ],
    )
    .await
    else {
        return;
    };
    app.discord.gateway().wait_ready(1).await;
    let guild = app
        .discord
        .guild("Test Guild")
        .member("gina")
        .member("hal")
        .text_channel("general")
        .text_channel("staff")
        .create();
    let staff = guild.channel("staff");
    app.configure(|c| c.discord_notification_channel_id = Some(staff.to_string()))
        .await;

    app.llm.push_reply(Reply::text("Use @everyone wisely."));
    let gina = app.discord.user(guild.user("gina"));
    let chat = gina
        .run_slash_command(
            guild.channel("general"),
            "chat",
            [("prompt", "how do I ping\nthe whole server?")],
            Via::Gateway,
        )
        .await;
    let answer = chat
        .wait_original(|m| m.content.contains("Commands used"))
        .await;
    app.settle(gina.id().get()).await;
    let command_id = app.db().scalar_i64("SELECT id FROM chat_commands").await;
    // Hal votes twice: a repeated click is not a new vote, and posts nothing (counted at the end).
    for _ in 0..2 {
        let click = app
            .discord
            .user(guild.user("hal"))
            .click_button(
                answer.id,
                &format!("dc:fb:{command_id}:inaccurate"),
                Via::Gateway,
            )
            .await;
        click.wait_ack().await;
    }
    let post = wait_for_post(&app, staff, "feedback from").await;
    assert_eq!(
        post.content,
        format!(
            "❌ **Inaccurate** feedback from <@{}> on answer #{command_id}\n> how do I ping\n> the whole server?\n<{ADMIN}disconcierge/chat_commands/{command_id}>",
            guild.user("hal")
        )
    );
    assert!(post.mentions.is_empty(), "notifications ping nobody");

    // A failed answer is posted with its reason.
    app.llm
        .script(Script::new().failure(FailureRule::always(Failure::status(401, "unauthorized"))));
    let failing = gina
        .run_slash_command(
            guild.channel("general"),
            "chat",
            [("prompt", "and now?")],
            Via::Gateway,
        )
        .await;
    failing.wait_original(|m| !m.content.is_empty()).await;
    let post = wait_for_post(&app, staff, "failed").await;
    let failed_id = command_id + 1;
    assert!(
        post.content.starts_with(&format!(
            "⚠️ Answer #{failed_id} for <@{}> failed: the LLM backend refused the credentials",
            gina.id()
        )),
        "{}",
        post.content
    );
    assert!(
        post.content
            .ends_with(&format!("<{ADMIN}disconcierge/chat_commands/{failed_id}>")),
        "{}",
        post.content
    );
    app.discord.assert_no_violations();
    let in_staff = app.discord.messages_in(staff).len();
    assert_eq!(in_staff, 2, "one feedback post, one failure post");
    app.stop().await;
}

disconcierge_e2e::both!(the_startup_message_is_posted_when_a_channel_is_set);
async fn the_startup_message_is_posted_when_a_channel_is_set(backend: Backend) {
    let Some(world) = World::start(backend).await else {
        return;
    };
    let guild = world
        .discord
        .guild("Test Guild")
        .text_channel("staff")
        .create();
    let staff = guild.channel("staff");
    let env = [("DC_DISCORD_STARTUP_MESSAGE", "Back online.")];
    // No notification channel yet: the message has nowhere to go.
    let first = spawn_app_in(world, &env).await;
    first.discord.gateway().wait_ready(1).await;
    first
        .configure(|c| c.discord_notification_channel_id = Some(staff.to_string()))
        .await;
    let world = first.stop_keeping_world().await;
    assert!(world.discord.messages_in(staff).is_empty());
    // The next start posts it.
    let second = spawn_app_in(world, &env).await;
    let post = wait_for_post(&second, staff, "Back online.").await;
    assert_eq!(post.content, "Back online.");
    second.stop().await;
}
