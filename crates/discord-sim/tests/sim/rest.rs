//! A real `twilight_http::Client` (proxied to the simulator) against the simulated REST API.

use std::time::Duration;

use disconcierge_discord_sim::{DiscordSim, Failure, Method, Via};
use twilight_http::api_error::ApiError;
use twilight_http::error::ErrorType;
use twilight_model::channel::message::{AllowedMentions, Component, MessageFlags};
use twilight_model::http::interaction::{
    InteractionResponse, InteractionResponseData, InteractionResponseType,
};

use crate::common::{chat_command, http, register_chat};

/// The Discord error code of a failed twilight request, with its HTTP status.
fn discord_error(e: &twilight_http::Error) -> (u16, u64) {
    match e.kind() {
        ErrorType::Response { status, error, .. } => {
            let code = match error {
                ApiError::General(g) => g.code,
                other => panic!("unexpected error body {other:?}"),
            };
            (status.get(), code)
        }
        other => panic!("expected an API error, got {other:?}"),
    }
}

fn button_row(custom_id: &str, label: &str) -> Component {
    serde_json::from_value(serde_json::json!(
        {"type": 1, "components": [{"type": 2, "style": 1, "label": label, "custom_id": custom_id}]}
    ))
    .unwrap()
}

#[tokio::test]
async fn current_user_and_application() {
    let sim = DiscordSim::start().await;
    let client = http(&sim);
    let me = client.current_user().await.unwrap().model().await.unwrap();
    assert_eq!(me.id, sim.bot_user_id());
    assert!(me.bot);
    let app = client
        .current_user_application()
        .await
        .unwrap()
        .model()
        .await
        .unwrap();
    assert_eq!(app.id, sim.application_id());
    assert_eq!(app.verify_key, sim.public_key_hex());
    let req = &sim.requests_to(Method::GET, "/users/@me")[0];
    assert_eq!(req.header("authorization"), Some("<redacted>"));
    assert_eq!(req.status, Some(200));
}

#[tokio::test]
async fn requests_without_the_bot_token_get_401() {
    let sim = DiscordSim::start().await;
    let client = twilight_http::Client::builder()
        .token("Bot wrong".into())
        .proxy(sim.proxy_addr(), true)
        .build();
    let err = client.current_user().await.unwrap_err();
    assert_eq!(discord_error(&err), (401, 0));
}

#[tokio::test]
async fn commands_are_overwritten_and_read_back() {
    let sim = DiscordSim::start().await;
    let guild = sim.guild("G").create();
    let client = http(&sim);
    let ic = client.interaction(sim.application_id());
    let set = ic
        .set_global_commands(&[chat_command()])
        .await
        .unwrap()
        .models()
        .await
        .unwrap();
    let id = set[0].id.expect("Discord assigns ids");
    let got = ic.global_commands().await.unwrap().models().await.unwrap();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].name, "chat");
    assert_eq!(got[0].options[0].name, "prompt");
    // Overwriting with the same command keeps its id, as Discord does.
    let again = ic
        .set_global_commands(&[chat_command()])
        .await
        .unwrap()
        .models()
        .await
        .unwrap();
    assert_eq!(again[0].id, Some(id));

    ic.set_guild_commands(guild.id(), &[chat_command()])
        .await
        .unwrap();
    let guild_cmds = ic
        .guild_commands(guild.id())
        .await
        .unwrap()
        .models()
        .await
        .unwrap();
    assert_eq!(guild_cmds[0].guild_id, Some(guild.id()));
    sim.assert_no_violations();
}

#[tokio::test]
async fn create_message_with_components_and_allowed_mentions() {
    let sim = DiscordSim::start().await;
    let guild = sim
        .guild("G")
        .member("alice")
        .member("bob")
        .text_channel("general")
        .create();
    let (alice, bob) = (guild.user("alice"), guild.user("bob"));
    let client = http(&sim);
    let content = format!("hi <@{alice}> and <@{bob}> @everyone");
    let allowed = AllowedMentions {
        users: vec![alice],
        ..Default::default()
    };
    let components = [button_row("feedback:up", "👍")];
    let msg = client
        .create_message(guild.channel("general"))
        .content(&content)
        .components(&components)
        .allowed_mentions(Some(&allowed))
        .await
        .unwrap()
        .model()
        .await
        .unwrap();
    assert_eq!(msg.author.id, sim.bot_user_id());
    assert_eq!(msg.content, content);
    assert_eq!(msg.components, components);
    let mentioned: Vec<_> = msg.mentions.iter().map(|m| m.id).collect();
    assert_eq!(mentioned, [alice], "only allowed users are mentioned");
    assert!(!msg.mention_everyone, "@everyone was not allowed");
    assert_eq!(
        sim.messages_in(guild.channel("general")),
        std::slice::from_ref(&msg)
    );

    // Listing and editing go through the same stored message.
    client
        .update_message(msg.channel_id, msg.id)
        .content(Some("edited"))
        .await
        .unwrap();
    let listed = client
        .channel_messages(guild.channel("general"))
        .await
        .unwrap()
        .models()
        .await
        .unwrap();
    assert_eq!(listed[0].content, "edited");
    assert!(listed[0].edited_timestamp.is_some());
    sim.assert_no_violations();
}

#[tokio::test]
async fn deferred_response_then_edit_original_and_follow_up() {
    let sim = DiscordSim::start().await;
    let guild = sim
        .guild("G")
        .member("alice")
        .text_channel("general")
        .create();
    let client = http(&sim);
    register_chat(&sim, &client).await;
    let handle = sim
        .user(guild.user("alice"))
        .run_slash_command(
            guild.channel("general"),
            "chat",
            [("prompt", "hi")],
            Via::Gateway,
        )
        .await;
    let ic = client.interaction(sim.application_id());
    let defer = InteractionResponse {
        kind: InteractionResponseType::DeferredChannelMessageWithSource,
        data: Some(InteractionResponseData {
            flags: Some(MessageFlags::EPHEMERAL),
            ..Default::default()
        }),
    };
    ic.create_response(handle.id(), handle.token(), &defer)
        .await
        .unwrap();
    let ack = handle.wait_ack().await;
    assert_eq!(
        ack.response.kind,
        InteractionResponseType::DeferredChannelMessageWithSource
    );
    let thinking = handle.original().unwrap();
    let flags = thinking.flags.unwrap();
    assert!(flags.contains(MessageFlags::LOADING | MessageFlags::EPHEMERAL));

    // Acknowledging twice is Discord's 40060.
    let err = ic
        .create_response(handle.id(), handle.token(), &defer)
        .await
        .unwrap_err();
    assert_eq!(discord_error(&err), (400, 40060));

    let edited = ic
        .update_response(handle.token())
        .content(Some("Here is your answer"))
        .await
        .unwrap()
        .model()
        .await
        .unwrap();
    assert_eq!(edited.content, "Here is your answer");
    let flags = edited.flags.unwrap();
    assert!(flags.contains(MessageFlags::EPHEMERAL) && !flags.contains(MessageFlags::LOADING));
    let original = handle.wait_original(|m| m.content.contains("answer")).await;
    assert_eq!(original.id, thinking.id);
    let fetched = ic
        .response(handle.token())
        .await
        .unwrap()
        .model()
        .await
        .unwrap();
    assert_eq!(fetched.id, thinking.id);

    let follow = ic
        .create_followup(handle.token())
        .content("One more thing")
        .await
        .unwrap()
        .model()
        .await
        .unwrap();
    assert_ne!(follow.id, original.id);
    assert_eq!(
        handle
            .wait_followup(|m| m.content == "One more thing")
            .await
            .id,
        follow.id
    );
    ic.update_followup(handle.token(), follow.id)
        .content(Some("changed"))
        .await
        .unwrap();
    assert_eq!(handle.followups()[0].content, "changed");
    ic.delete_response(handle.token()).await.unwrap();
    assert!(handle.original().is_none());
    sim.assert_no_violations();
}

/// The 3 s window and the 15 min token lifetime follow the simulated clock.
#[tokio::test]
async fn late_acks_and_expired_tokens_fail_like_discord() {
    let sim = DiscordSim::start().await;
    let guild = sim
        .guild("G")
        .member("alice")
        .text_channel("general")
        .create();
    let client = http(&sim);
    register_chat(&sim, &client).await;
    let alice = sim.user(guild.user("alice"));
    let ic = client.interaction(sim.application_id());
    let reply = InteractionResponse {
        kind: InteractionResponseType::ChannelMessageWithSource,
        data: Some(InteractionResponseData {
            content: Some("hello".into()),
            ..Default::default()
        }),
    };

    let late = alice
        .run_slash_command(
            guild.channel("general"),
            "chat",
            [("prompt", "a")],
            Via::Gateway,
        )
        .await;
    sim.clock().advance(Duration::from_millis(3100));
    let err = ic
        .create_response(late.id(), late.token(), &reply)
        .await
        .unwrap_err();
    assert_eq!(discord_error(&err), (404, 10062));

    let ok = alice
        .run_slash_command(
            guild.channel("general"),
            "chat",
            [("prompt", "b")],
            Via::Gateway,
        )
        .await;
    ic.create_response(ok.id(), ok.token(), &reply)
        .await
        .unwrap();
    assert_eq!(ok.original().unwrap().content, "hello");
    sim.clock().advance(Duration::from_secs(14 * 60));
    ic.update_response(ok.token())
        .content(Some("still in time"))
        .await
        .unwrap();
    sim.clock().advance(Duration::from_secs(2 * 60));
    let err = ic
        .update_response(ok.token())
        .content(Some("too late"))
        .await
        .unwrap_err();
    assert_eq!(discord_error(&err), (401, 50027));
}

/// Twilight retries 429s by itself; the simulator must answer with headers twilight understands.
#[tokio::test]
async fn rate_limited_twice_then_succeeds() {
    let sim = DiscordSim::start().await;
    let guild = sim.guild("G").text_channel("general").create();
    let client = http(&sim);
    sim.fail_route(
        Method::POST,
        "/channels/{id}/messages",
        Failure::RateLimited {
            retry_after: Duration::from_millis(50),
            global: false,
        },
        2,
    );
    let msg = client
        .create_message(guild.channel("general"))
        .content("eventually")
        .await
        .unwrap()
        .model()
        .await
        .unwrap();
    assert_eq!(msg.content, "eventually");
    let seen = sim.requests_to(Method::POST, "/channels/{id}/messages");
    let statuses: Vec<_> = seen.iter().map(|r| r.status).collect();
    assert_eq!(statuses, [Some(429), Some(429), Some(200)]);
    assert_eq!(sim.messages_in(guild.channel("general")).len(), 1);
}

#[tokio::test]
async fn server_errors_are_surfaced() {
    let sim = DiscordSim::start().await;
    let guild = sim.guild("G").text_channel("general").create();
    let client = http(&sim);
    sim.fail_route(
        Method::POST,
        "/channels/{channel_id}/messages",
        Failure::Status(500),
        1,
    );
    let err = client
        .create_message(guild.channel("general"))
        .content("x")
        .await
        .unwrap_err();
    match err.kind() {
        ErrorType::Response { status, .. } => assert_eq!(status.get(), 500),
        other => panic!("{other:?}"),
    }
    assert_eq!(
        sim.requests_to(Method::POST, "/channels/{id}/messages")
            .len(),
        1
    );
    assert!(
        sim.messages_in(guild.channel("general")).is_empty(),
        "a failed request changes nothing"
    );
}

#[tokio::test]
async fn unknown_ids_get_discords_404s() {
    let sim = DiscordSim::start().await;
    let guild = sim.guild("G").text_channel("general").create();
    let client = http(&sim);
    let nowhere = twilight_model::id::Id::new(42);
    let err = client.channel(nowhere).await.unwrap_err();
    assert_eq!(discord_error(&err), (404, 10003));
    let err = client
        .message(guild.channel("general"), twilight_model::id::Id::new(42))
        .await
        .unwrap_err();
    assert_eq!(discord_error(&err), (404, 10008));
    let err = client
        .interaction(sim.application_id())
        .update_response("no-such-token")
        .content(Some("x"))
        .await
        .unwrap_err();
    assert_eq!(discord_error(&err), (404, 10015));
}

#[tokio::test]
async fn forum_posts_threads_and_guild_reads() {
    let sim = DiscordSim::start().await;
    let guild = sim
        .guild("G")
        .role("Staff", twilight_model::guild::Permissions::MANAGE_THREADS)
        .member_with_roles("alice", &["Staff"])
        .forum("support", &["billing", "bug"])
        .create();
    let client = http(&sim);
    let forum = guild.channel("support");
    let bug = guild.tag("support", "bug");
    let post = client
        .create_forum_thread(forum, "Printer on fire")
        .applied_tags(&[bug])
        .message()
        .content("Please help")
        .await
        .unwrap()
        .model()
        .await
        .unwrap();
    assert_eq!(post.channel.parent_id, Some(forum));
    assert_eq!(post.channel.applied_tags, Some(vec![bug]));
    assert_eq!(
        post.message.id.get(),
        post.channel.id.get(),
        "starter message shares the thread id"
    );
    assert_eq!(post.message.content, "Please help");
    assert_eq!(guild.threads_in(forum).len(), 1);

    let thread = post.channel.id;
    client.create_typing_trigger(thread).await.unwrap();
    client
        .add_thread_member(thread, guild.user("alice"))
        .await
        .unwrap();
    let alice = guild.user("alice");
    assert!(sim.world(|w| w.thread_members[&thread].contains(&alice)));
    let updated = client
        .update_thread(thread)
        .archived(true)
        .locked(true)
        .await
        .unwrap()
        .model()
        .await
        .unwrap();
    let meta = updated.thread_metadata.unwrap();
    assert!(meta.archived && meta.locked);
    let err = client
        .create_message(thread)
        .content("x")
        .await
        .unwrap_err();
    assert_eq!(
        discord_error(&err),
        (400, 50083),
        "locked archived threads refuse messages"
    );

    let member = client
        .guild_member(guild.id(), guild.user("alice"))
        .await
        .unwrap()
        .model()
        .await
        .unwrap();
    assert_eq!(member.roles, [guild.role("Staff")]);
    let roles = client
        .roles(guild.id())
        .await
        .unwrap()
        .models()
        .await
        .unwrap();
    assert!(roles.iter().any(|r| r.name == "Staff"));
    let ch = client.channel(forum).await.unwrap().model().await.unwrap();
    assert_eq!(ch.available_tags.unwrap().len(), 2);
    assert_eq!(sim.world(|w| w.typing.len()), 1);
    sim.assert_no_violations();
}

#[tokio::test]
async fn every_response_carries_rate_limit_headers() {
    let sim = DiscordSim::start().await;
    let resp = reqwest::Client::new()
        .get(format!("{}/api/v10/users/@me", sim.api_base_url()))
        .header("authorization", format!("Bot {}", sim.bot_token()))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    for h in [
        "x-ratelimit-limit",
        "x-ratelimit-remaining",
        "x-ratelimit-reset",
        "x-ratelimit-reset-after",
        "x-ratelimit-bucket",
    ] {
        assert!(resp.headers().contains_key(h), "missing {h}");
    }
}
