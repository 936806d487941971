//! `/chat` and `/private` end to end: a person runs the command in the simulated Discord, over the gateway
//! or the webhook; the real application records it, acknowledges it, queues it, and answers it from the
//! simulated LLM by editing the deferred response.

use disconcierge_discord_sim::twilight_model::channel::message::MessageFlags;
use disconcierge_discord_sim::{Method, Via};
use disconcierge_e2e::{Backend, TestApp, try_spawn_app};
use disconcierge_llm_sim::{Endpoint, Reply};
use std::time::Duration;

async fn start(backend: Backend, provider: &str) -> Option<TestApp> {
    let app = try_spawn_app(
        backend,
        &[
            ("DC_LLM_PROVIDER", provider),
            ("DC_DISCORD_WEBHOOK_SERVER_ENABLED", "true"),
        ],
    )
    .await?;
    app.discord.gateway().wait_ready(1).await;
    Some(app)
}

fn via(app: &TestApp, webhook: bool) -> Via {
    if webhook {
        Via::Webhook {
            url: app.webhook_url.clone().expect("webhook enabled"),
        }
    } else {
        Via::Gateway
    }
}

disconcierge_e2e::both!(chat_is_answered_over_gateway_and_webhook_with_every_provider);
async fn chat_is_answered_over_gateway_and_webhook_with_every_provider(backend: Backend) {
    for provider in ["openai", "openai-chat", "ollama"] {
        let Some(app) = start(backend, provider).await else {
            return;
        };
        let guild = app
            .discord
            .guild("Test Guild")
            .member("alice")
            .text_channel("general")
            .create();
        for webhook in [false, true] {
            let label = format!(
                "{provider} via {}",
                if webhook { "webhook" } else { "gateway" }
            );
            app.llm
                .push_reply(Reply::text("Paris is the capital of France."));
            let interaction = app
                .discord
                .user(guild.user("alice"))
                .run_slash_command(
                    guild.channel("general"),
                    "chat",
                    [("prompt", "capital of France?")],
                    via(&app, webhook),
                )
                .await;
            interaction.wait_ack().await;
            let answer = interaction
                .wait_original(|m| m.content.contains("Commands used"))
                .await;
            assert!(
                answer
                    .content
                    .starts_with("Paris is the capital of France.\n"),
                "{label}: {}",
                answer.content
            );
            // Alice's first question of this run, then her second (each app has a fresh database).
            let used = if webhook { 2 } else { 1 };
            assert!(
                answer
                    .content
                    .ends_with(&format!("-# Commands used: {used}/25 (6h)")),
                "{label}: {}",
                answer.content
            );
            assert!(
                !answer
                    .flags
                    .unwrap_or(MessageFlags::empty())
                    .contains(MessageFlags::EPHEMERAL),
                "{label}"
            );
            app.settle(guild.user("alice").get()).await;
            // The model got the prompt.
            assert_eq!(
                app.llm.last_llm_request().unwrap().last_user_text(),
                Some("capital of France?"),
                "{label}"
            );
        }
        app.discord.assert_no_violations();
        // After a graceful stop (workers finish what they hold), both commands are recorded as completed,
        // with their token usage.
        let db = app.stop().await;
        let completed = db
            .scalar_i64(
                "SELECT COUNT(*) FROM chat_commands WHERE state = 'completed' AND total_tokens > 0",
            )
            .await;
        assert_eq!(completed, 2, "{provider}");
    }
}

disconcierge_e2e::both!(private_answers_are_ephemeral);
async fn private_answers_are_ephemeral(backend: Backend) {
    let Some(app) = start(backend, "ollama").await else {
        return;
    };
    let guild = app
        .discord
        .guild("Test Guild")
        .member("bob")
        .text_channel("general")
        .create();
    app.llm.push_reply(Reply::text("Only you can see this."));
    let interaction = app
        .discord
        .user(guild.user("bob"))
        .run_slash_command(
            guild.channel("general"),
            "private",
            [("prompt", "secret?")],
            via(&app, true),
        )
        .await;
    let answer = interaction
        .wait_original(|m| m.content.contains("Commands used"))
        .await;
    assert!(
        answer
            .flags
            .unwrap_or(MessageFlags::empty())
            .contains(MessageFlags::EPHEMERAL)
    );
    assert!(answer.content.starts_with("Only you can see this."));
    app.discord.assert_no_violations();
    app.stop().await;
}

disconcierge_e2e::both!(discords_passing_failures_do_not_cost_the_answer);
async fn discords_passing_failures_do_not_cost_the_answer(backend: Backend) {
    let Some(app) = start(backend, "openai-chat").await else {
        return;
    };
    let guild = app
        .discord
        .guild("Test Guild")
        .member("uma")
        .text_channel("general")
        .create();
    let answer_text = disconcierge_e2e::answer_in_two_messages();
    app.llm.push_reply(Reply::text(answer_text.clone()));
    use disconcierge_discord_sim::Failure;
    let edit = "/webhooks/{application_id}/{token}/messages/{message_id}";
    let followup = "/webhooks/{application_id}/{token}";
    // The answer's edit meets Discord down twice; its follow-up a rate limit, then a bad gateway.
    app.discord
        .fail_route(Method::PATCH, edit, Failure::Status(503), 2);
    app.discord.fail_route(
        Method::POST,
        followup,
        Failure::RateLimited {
            retry_after: Duration::from_millis(700),
            global: false,
        },
        1,
    );
    app.discord
        .fail_route(Method::POST, followup, Failure::Status(502), 1);
    let interaction = app
        .discord
        .user(guild.user("uma"))
        .run_slash_command(
            guild.channel("general"),
            "chat",
            [("prompt", "tell me a lot")],
            Via::Gateway,
        )
        .await;
    let last = interaction
        .wait_followup(|m| m.content.contains("Commands used"))
        .await;
    let original = interaction.original().expect("original response");
    assert!(
        original.content.starts_with("Part 0."),
        "{}",
        original.content
    );
    assert_eq!(
        interaction.followups().len(),
        1,
        "{:?}",
        interaction.followups()
    );
    assert!(last.content.starts_with("Part 2."), "{}", last.content);
    // Each request's status is recorded once its response has left.
    app.discord
        .wait_for(Duration::from_secs(10), |w| {
            w.requests.iter().all(|r| r.status.is_some()).then_some(())
        })
        .await;
    let statuses = |method: Method, route: &str| -> Vec<Option<u16>> {
        app.discord
            .requests_to(method, route)
            .into_iter()
            .map(|r| r.status)
            .collect()
    };
    assert_eq!(
        statuses(Method::PATCH, edit),
        [Some(503), Some(503), Some(200)]
    );
    assert_eq!(
        statuses(Method::POST, followup),
        [Some(429), Some(502), Some(200)]
    );
    app.discord.assert_no_violations();
    let db = app.stop().await;
    assert_eq!(
        db.scalar_i64("SELECT COUNT(*) FROM chat_commands WHERE state = 'completed' AND discord_message_id IS NOT NULL")
            .await,
        1
    );
}

disconcierge_e2e::both!(a_long_answer_is_split_and_nothing_can_ping);
async fn a_long_answer_is_split_and_nothing_can_ping(backend: Backend) {
    let Some(app) = start(backend, "openai-chat").await else {
        return;
    };
    let guild = app
        .discord
        .guild("Test Guild")
        .member("carol")
        .text_channel("general")
        .create();
    // About 5,000 characters in paragraphs, with mentions that must never ping.
    let paragraph = "@everyone please read this paragraph about <@&123> and https://example.com/docs/page carefully. ";
    let answer_text: String = (0..8)
        .map(|i| format!("Part {i}. {}\n\n", paragraph.repeat(6)))
        .collect();
    app.llm.push_reply(Reply::text(answer_text.clone()));
    let interaction = app
        .discord
        .user(guild.user("carol"))
        .run_slash_command(
            guild.channel("general"),
            "chat",
            [("prompt", "tell me everything")],
            via(&app, true),
        )
        .await;
    let last = interaction
        .wait_followup(|m| m.content.contains("Commands used"))
        .await;
    let original = interaction.original().expect("original response");
    let mut pieces = vec![original.content.clone()];
    pieces.extend(interaction.followups().into_iter().map(|m| m.content));
    assert!(pieces.len() >= 3, "{} pieces", pieces.len());
    assert_eq!(pieces.last().unwrap(), &last.content);
    for piece in &pieces {
        assert!(piece.chars().count() <= 2000);
        // Cut at paragraph boundaries: every piece but the usage line starts a part.
        assert!(piece.starts_with("Part "), "{piece:.60}");
    }
    let words: Vec<&str> = answer_text.split_whitespace().collect();
    let joined = pieces.join("\n");
    let got: Vec<&str> = joined
        .split_whitespace()
        .filter(|w| !w.starts_with("-#"))
        .take(words.len())
        .collect();
    assert_eq!(got, words, "every word, in order, none cut");

    // Every message the bot wrote disabled mentions.
    let writes: Vec<_> = app
        .discord
        .requests()
        .into_iter()
        .filter(|r| {
            r.route.starts_with("/webhooks/") && matches!(r.method.as_str(), "PATCH" | "POST")
        })
        .collect();
    assert!(writes.len() >= 3);
    for w in &writes {
        let body = w.body.as_ref().expect("json body");
        assert_eq!(
            body["allowed_mentions"]["parse"],
            serde_json::json!([]),
            "{} {}",
            w.method,
            w.route
        );
    }
    let _ = Method::PATCH;
    app.discord.assert_no_violations();
    app.stop().await;
}

disconcierge_e2e::both!(llm_failures_end_in_the_configured_message_and_are_recorded);
async fn llm_failures_end_in_the_configured_message_and_are_recorded(backend: Backend) {
    let Some(app) = start(backend, "openai").await else {
        return;
    };
    let guild = app
        .discord
        .guild("Test Guild")
        .member("dave")
        .text_channel("general")
        .create();
    // Every attempt fails: the answer ends in the configured error message, never a raw error.
    app.llm
        .fail_next(10, disconcierge_llm_sim::Failure::server_error());
    let interaction = app
        .discord
        .user(guild.user("dave"))
        .run_slash_command(
            guild.channel("general"),
            "chat",
            [("prompt", "hello?")],
            Via::Gateway,
        )
        .await;
    let expected = disconcierge_core::RuntimeConfig::default().discord_error_message;
    let answer = interaction.wait_original(|m| !m.content.is_empty()).await;
    assert_eq!(answer.content, expected);
    app.discord.assert_no_violations();
    let db = app.stop().await;
    assert_eq!(
        db.scalar_i64(
            "SELECT COUNT(*) FROM chat_commands WHERE state = 'failed' AND error LIKE '%HTTP 500%'"
        )
        .await,
        1
    );
    // Each attempt is in the LLM call log, with its error (the conversation was created first).
    assert_eq!(
        db.scalar_i64("SELECT COUNT(*) FROM llm_call_logs WHERE error IS NOT NULL")
            .await,
        3
    );
    assert_eq!(
        db.scalar_i64(
            "SELECT COUNT(*) FROM llm_call_logs WHERE operation = 'conversations.create'"
        )
        .await,
        1
    );
    // A failed command costs the user nothing.
    assert_eq!(
        db.scalar_i64("SELECT COUNT(*) FROM chat_commands WHERE usage_counted")
            .await,
        0
    );
}

/// Asks a question and returns the OpenAI conversation the answer was given in.
async fn ask(
    app: &TestApp,
    who: &disconcierge_discord_sim::Actor,
    channel: disconcierge_discord_sim::twilight_model::id::Id<
        disconcierge_discord_sim::twilight_model::id::marker::ChannelMarker,
    >,
    prompt: &str,
) -> String {
    let i = who
        .run_slash_command(channel, "chat", [("prompt", prompt)], Via::Gateway)
        .await;
    i.wait_original(|m| m.content.contains("Commands used"))
        .await;
    app.settle(who.id().get()).await;
    app.llm
        .last_llm_request()
        .unwrap()
        .conversation
        .expect("a conversation")
}

disconcierge_e2e::both!(clear_starts_a_new_conversation_with_a_cooldown);
async fn clear_starts_a_new_conversation_with_a_cooldown(backend: Backend) {
    let Some(app) = start(backend, "openai").await else {
        return;
    };
    let guild = app
        .discord
        .guild("Test Guild")
        .member("erin")
        .text_channel("general")
        .create();
    let erin = app.discord.user(guild.user("erin"));
    let channel = guild.channel("general");
    let first = ask(&app, &erin, channel, "one").await;
    assert_eq!(
        ask(&app, &erin, channel, "two").await,
        first,
        "the conversation continues"
    );

    let clear = erin
        .run_slash_command::<&str>(channel, "clear", [], via(&app, true))
        .await;
    let confirmation = clear.wait_original(|m| !m.content.is_empty()).await;
    assert!(
        confirmation.content.contains("new conversation"),
        "{}",
        confirmation.content
    );
    assert!(
        confirmation
            .flags
            .unwrap_or(MessageFlags::empty())
            .contains(MessageFlags::EPHEMERAL)
    );

    let third = ask(&app, &erin, channel, "three").await;
    assert_ne!(third, first, "after /clear a new conversation starts");
    // The model of the new conversation did not see the old messages.
    let seen: Vec<String> = app
        .llm
        .last_llm_request()
        .unwrap()
        .messages
        .iter()
        .map(|m| m.text.clone())
        .collect();
    assert_eq!(seen, ["three"]);

    // A second /clear right away is refused with when it will be possible.
    let again = erin
        .run_slash_command::<&str>(channel, "clear", [], Via::Gateway)
        .await;
    let refused = again.wait_original(|m| !m.content.is_empty()).await;
    assert!(
        refused
            .content
            .contains("You just started a new conversation")
            && refused.content.contains("<t:"),
        "{}",
        refused.content
    );
    app.discord.assert_no_violations();
    let db = app.stop().await;
    assert_eq!(
        db.scalar_i64("SELECT COUNT(*) FROM clear_commands").await,
        1
    );
}

/// The labels of the buttons on a message.
fn button_labels(
    message: &disconcierge_discord_sim::twilight_model::channel::Message,
) -> Vec<String> {
    use disconcierge_discord_sim::twilight_model::channel::message::Component;
    message
        .components
        .iter()
        .flat_map(|row| match row {
            Component::ActionRow(r) => r.components.clone(),
            _ => Vec::new(),
        })
        .filter_map(|c| match c {
            Component::Button(b) => b.label,
            _ => None,
        })
        .collect()
}

disconcierge_e2e::both!(feedback_buttons_count_one_vote_per_user_and_the_modal_is_stored);
async fn feedback_buttons_count_one_vote_per_user_and_the_modal_is_stored(backend: Backend) {
    let Some(app) = start(backend, "ollama").await else {
        return;
    };
    let guild = app
        .discord
        .guild("Test Guild")
        .member("alice")
        .member("bob")
        .member("carol")
        .text_channel("general")
        .create();
    app.llm
        .push_reply(Reply::text("Try turning it off and on again."));
    let chat = app
        .discord
        .user(guild.user("alice"))
        .run_slash_command(
            guild.channel("general"),
            "chat",
            [("prompt", "it is broken")],
            via(&app, false),
        )
        .await;
    let answer = chat
        .wait_original(|m| m.content.contains("Commands used"))
        .await;
    assert_eq!(
        button_labels(&answer),
        ["Good", "Outdated", "Inaccurate", "Other"]
    );
    let command_id = app.db().scalar_i64("SELECT id FROM chat_commands").await;
    let good = format!("dc:fb:{command_id}:good");

    // Bob votes Good (over the webhook), twice: counted once.
    for _ in 0..2 {
        let click = app
            .discord
            .user(guild.user("bob"))
            .click_button(answer.id, &good, via(&app, true))
            .await;
        click.wait_ack().await;
    }
    // Alice too (over the gateway).
    let click = app
        .discord
        .user(guild.user("alice"))
        .click_button(answer.id, &good, via(&app, false))
        .await;
    click.wait_ack().await;
    let updated = chat
        .wait_original(|m| button_labels(m).first().is_some_and(|l| l == "Good · 2"))
        .await;
    assert_eq!(
        button_labels(&updated),
        ["Good · 2", "Outdated", "Inaccurate", "Other"]
    );

    // Carol picks Other: a modal opens; her text is stored and counted.
    let other = format!("dc:fb:{command_id}:other");
    let carol = app.discord.user(guild.user("carol"));
    let opened = carol
        .click_button(answer.id, &other, via(&app, false))
        .await;
    opened.wait_modal().await;
    let submitted = carol
        .submit_modal(
            &format!("dc:fbm:{command_id}"),
            &[("detail", "It was actually the cable.")],
            via(&app, false),
        )
        .await;
    submitted.wait_ack().await;
    let updated = chat
        .wait_original(|m| button_labels(m).last().is_some_and(|l| l == "Other · 1"))
        .await;
    assert_eq!(
        button_labels(&updated),
        ["Good · 2", "Outdated", "Inaccurate", "Other · 1"]
    );

    app.discord.assert_no_violations();
    let db = app.stop().await;
    assert_eq!(
        db.scalar_i64("SELECT COUNT(*) FROM user_feedback WHERE kind = 'good'")
            .await,
        2
    );
    // Every interaction is in the interaction log, none with its token: the /chat, three clicks on Good,
    // the click on Other and the modal.
    assert_eq!(
        db.scalar_i64("SELECT COUNT(*) FROM interaction_logs").await,
        6
    );
    let components =
        "SELECT COUNT(*) FROM interaction_logs WHERE interaction_type = 'message_component'";
    assert_eq!(db.scalar_i64(components).await, 4);
    let with_token =
        "SELECT COUNT(*) FROM interaction_logs WHERE CAST(payload AS TEXT) LIKE '%\"token\"%'";
    assert_eq!(db.scalar_i64(with_token).await, 0);
    let with_user =
        "SELECT COUNT(*) FROM interaction_logs WHERE CAST(payload AS TEXT) LIKE '%carol%'";
    assert_eq!(db.scalar_i64(with_user).await, 2, "the payload is stored");
    assert_eq!(
        db.scalar_i64("SELECT COUNT(*) FROM user_feedback WHERE kind = 'other' AND detail = 'It was actually the cable.'").await,
        1
    );
}

disconcierge_e2e::both!(feedback_can_be_turned_off_live);
async fn feedback_can_be_turned_off_live(backend: Backend) {
    let Some(app) = start(backend, "ollama").await else {
        return;
    };
    let guild = app
        .discord
        .guild("Test Guild")
        .member("alice")
        .text_channel("general")
        .create();
    app.configure(|c| c.feedback_enabled = false).await;
    let chat = app
        .discord
        .user(guild.user("alice"))
        .run_slash_command(
            guild.channel("general"),
            "chat",
            [("prompt", "hi")],
            Via::Gateway,
        )
        .await;
    let answer = chat
        .wait_original(|m| m.content.contains("Commands used"))
        .await;
    assert!(
        answer.components.is_empty(),
        "no buttons when feedback is off"
    );
    app.discord.assert_no_violations();
    app.stop().await;
}

disconcierge_e2e::both!(chat_completions_and_ollama_remember_the_conversation_until_clear);
async fn chat_completions_and_ollama_remember_the_conversation_until_clear(backend: Backend) {
    for provider in ["openai-chat", "ollama"] {
        let Some(app) = start(backend, provider).await else {
            return;
        };
        let guild = app
            .discord
            .guild("Test Guild")
            .member("fay")
            .text_channel("general")
            .create();
        let fay = app.discord.user(guild.user("fay"));
        let channel = guild.channel("general");
        let seen = |prompt: &'static str| {
            let fay = &fay;
            let app = &app;
            async move {
                let i = fay
                    .run_slash_command(channel, "chat", [("prompt", prompt)], Via::Gateway)
                    .await;
                i.wait_original(|m| m.content.contains("Commands used"))
                    .await;
                app.settle(fay.id().get()).await;
                let request = app.llm.last_llm_request().unwrap();
                request
                    .messages
                    .iter()
                    .map(|m| (m.role.clone(), m.text.clone()))
                    .collect::<Vec<_>>()
            }
        };
        let first = seen("my name is Fay").await;
        assert_eq!(
            first,
            [("user".to_string(), "my name is Fay".to_string())],
            "{provider}"
        );
        let second = seen("what is my name?").await;
        let texts: Vec<&str> = second.iter().map(|(_, t)| t.as_str()).collect();
        assert_eq!(
            texts,
            ["my name is Fay", "echo: my name is Fay", "what is my name?"],
            "{provider}"
        );
        assert_eq!(second[1].0, "assistant", "{provider}");

        let clear = fay
            .run_slash_command::<&str>(channel, "clear", [], Via::Gateway)
            .await;
        clear.wait_original(|m| !m.content.is_empty()).await;
        let third = seen("hello again").await;
        assert_eq!(
            third.len(),
            1,
            "{provider}: after /clear the history is gone: {third:?}"
        );
        app.discord.assert_no_violations();
        app.stop().await;
    }
}

disconcierge_e2e::both!(paused_bots_answer_priority_users_only);
async fn paused_bots_answer_priority_users_only(backend: Backend) {
    let Some(app) = start(backend, "ollama").await else {
        return;
    };
    let guild = app
        .discord
        .guild("Test Guild")
        .member("vip")
        .member("joe")
        .text_channel("general")
        .create();
    let vip = guild.user("vip");
    app.store.upsert_user(vip.get(), "vip", None).await.unwrap();
    app.store.set_user_priority(vip.get(), true).await.unwrap();
    app.configure(|c| c.paused = true).await;
    let config = app.runtime.current().config.clone();

    // Everyone else is told the bot is paused, privately.
    let joe = app
        .discord
        .user(guild.user("joe"))
        .run_slash_command(
            guild.channel("general"),
            "chat",
            [("prompt", "hello?")],
            Via::Gateway,
        )
        .await;
    let told = joe.wait_original(|m| !m.content.is_empty()).await;
    assert_eq!(told.content, config.paused_message);
    assert!(
        told.flags
            .unwrap_or(MessageFlags::empty())
            .contains(MessageFlags::EPHEMERAL)
    );

    // A priority user is answered while paused, over either way in.
    for (prompt, webhook) in [("urgent", true), ("urgent too", false)] {
        app.llm
            .push_reply(Reply::text(format!("answer to {prompt}")));
        let asked = app
            .discord
            .user(vip)
            .run_slash_command(
                guild.channel("general"),
                "chat",
                [("prompt", prompt)],
                via(&app, webhook),
            )
            .await;
        let answer = asked
            .wait_original(|m| m.content.starts_with("answer to"))
            .await;
        assert!(answer.content.starts_with(&format!("answer to {prompt}")));
    }
    assert_eq!(app.llm.requests().len(), 2, "only the priority user's");
    app.discord.assert_no_violations();
    let db = app.stop().await;
    assert_eq!(
        db.scalar_i64("SELECT COUNT(*) FROM chat_commands WHERE state = 'completed'")
            .await,
        2
    );
    assert_eq!(
        db.scalar_i64("SELECT COUNT(*) FROM chat_commands WHERE state = 'aborted'")
            .await,
        1
    );
}

/// The application with `setting` (besides the model and the webhook), a guild with `members`, and its
/// four workers kept busy by four more members whose questions the model takes a minute to start
/// answering, so that the next questions wait in the queue. The app stops without waiting for those
/// answers (`DC_SHUTDOWN_TIMEOUT=1s`).
async fn with_busy_workers(
    backend: Backend,
    setting: (&str, &str),
    members: &[&str],
) -> Option<(TestApp, disconcierge_discord_sim::GuildHandle)> {
    let app = try_spawn_app(
        backend,
        &[
            ("DC_LLM_PROVIDER", "ollama"),
            setting,
            ("DC_SHUTDOWN_TIMEOUT", "1s"),
            ("DC_DISCORD_WEBHOOK_SERVER_ENABLED", "true"),
        ],
    )
    .await?;
    app.discord.gateway().wait_ready(1).await;
    let mut guild = app.discord.guild("Test Guild");
    for name in members {
        guild = guild.member(name);
    }
    for i in 0..4 {
        guild = guild.member(&format!("busy{i}"));
    }
    let guild = guild.text_channel("general").create();
    // No pacing between the four requests (the default is one a second).
    app.configure(|c| c.llm_requests_per_second = 100.0).await;
    for i in 0..4 {
        app.llm
            .push_reply(Reply::text("slow").first_token_after(Duration::from_secs(60)));
        app.discord
            .user(guild.user(&format!("busy{i}")))
            .run_slash_command(
                guild.channel("general"),
                "chat",
                [("prompt", "take your time")],
                Via::Gateway,
            )
            .await
            .wait_ack()
            .await;
        // Taken by a worker before the next one comes: none of them waits in the (small) queue.
        app.llm
            .wait_for_requests(i + 1, Duration::from_secs(10))
            .await
            .expect("a worker asked the model");
    }
    Some((app, guild))
}

disconcierge_e2e::both!(a_question_waiting_too_long_expires_and_its_user_is_told);
async fn a_question_waiting_too_long_expires_and_its_user_is_told(backend: Backend) {
    let Some((app, guild)) = with_busy_workers(backend, ("DC_QUEUE_MAX_AGE", "1s"), &["joe"]).await
    else {
        return;
    };
    let config = app.runtime.current().config.clone();

    let waiting = app
        .discord
        .user(guild.user("joe"))
        .run_slash_command(
            guild.channel("general"),
            "chat",
            [("prompt", "anyone?")],
            via(&app, true),
        )
        .await;
    waiting.wait_ack().await;
    let expired = waiting.wait_original(|m| !m.content.is_empty()).await;
    assert_eq!(expired.content, config.discord_queue_full_message);
    assert_eq!(
        app.llm.requests().len(),
        4,
        "the expired question was never asked"
    );
    app.discord.assert_no_violations();
    let db = app.stop().await;
    assert_eq!(
        db.scalar_i64(
            "SELECT COUNT(*) FROM chat_commands WHERE prompt = 'anyone?' AND state = 'expired'"
        )
        .await,
        1
    );
}

disconcierge_e2e::both!(a_full_queue_drops_the_oldest_and_tells_its_user);
async fn a_full_queue_drops_the_oldest_and_tells_its_user(backend: Backend) {
    let Some((app, guild)) =
        with_busy_workers(backend, ("DC_QUEUE_SIZE", "1"), &["ann", "bob"]).await
    else {
        return;
    };
    let config = app.runtime.current().config.clone();

    // The first over the gateway, the second over the webhook.
    let ask = |name: &'static str| {
        let actor = app.discord.user(guild.user(name));
        let channel = guild.channel("general");
        let via = via(&app, name == "bob");
        async move {
            actor
                .run_slash_command(channel, "chat", [("prompt", name)], via)
                .await
        }
    };
    let first = ask("ann").await;
    first.wait_ack().await;
    let second = ask("bob").await;
    second.wait_ack().await;
    // The queue holds one: the older command made room and its user was told.
    let dropped = first.wait_original(|m| !m.content.is_empty()).await;
    assert_eq!(dropped.content, config.discord_queue_full_message);
    assert!(
        second.original().is_none_or(|m| m.content.is_empty()),
        "the newer one still waits"
    );
    app.discord.assert_no_violations();
    let db = app.stop().await;
    assert_eq!(
        db.scalar_i64(
            "SELECT COUNT(*) FROM chat_commands WHERE prompt = 'ann' AND state = 'aborted'"
        )
        .await,
        1
    );
    assert_eq!(
        db.scalar_i64(
            "SELECT COUNT(*) FROM chat_commands WHERE prompt = 'bob' AND state = 'queued'"
        )
        .await,
        1
    );
}

disconcierge_e2e::both!(the_presence_follows_custom_status_and_pause_live);
async fn the_presence_follows_custom_status_and_pause_live(backend: Backend) {
    use disconcierge_discord_sim::twilight_model::gateway::presence::Status;
    let Some(app) = start(backend, "ollama").await else {
        return;
    };
    let shows = |status: Status, text: &'static str| {
        app.discord.wait_for(Duration::from_secs(10), move |w| {
            w.presences
                .last()
                .filter(|p| {
                    p.status == status
                        && p.activities.first().and_then(|a| a.state.as_deref()) == Some(text)
                })
                .map(|_| ())
        })
    };
    app.configure(|c| c.discord_custom_status = "Ask me with /chat".into())
        .await;
    shows(Status::Online, "Ask me with /chat").await;
    app.configure(|c| c.paused = true).await;
    shows(Status::Idle, "Paused · Ask me with /chat").await;
    app.configure(|c| c.paused = false).await;
    shows(Status::Online, "Ask me with /chat").await;
    app.discord.assert_no_violations();
    app.stop().await;
}

disconcierge_e2e::both!(one_question_at_a_time_per_user);
async fn one_question_at_a_time_per_user(backend: Backend) {
    let Some(app) = start(backend, "ollama").await else {
        return;
    };
    let guild = app
        .discord
        .guild("Test Guild")
        .member("hal")
        .text_channel("general")
        .create();
    // The first answer takes a while.
    app.llm
        .push_reply(
            Reply::text("Slow but sure.").with_timing(disconcierge_llm_sim::Timing::new(
                Duration::from_secs(2),
                Duration::ZERO,
            )),
        );
    let hal = app.discord.user(guild.user("hal"));
    let channel = guild.channel("general");
    let first = hal
        .run_slash_command(channel, "chat", [("prompt", "first")], Via::Gateway)
        .await;
    // Once the first is acknowledged (and so recorded), while it is being answered.
    first.wait_ack().await;
    let second = hal
        .run_slash_command(channel, "chat", [("prompt", "second")], via(&app, true))
        .await;
    let busy = second.wait_original(|m| !m.content.is_empty()).await;
    assert_eq!(
        busy.content,
        disconcierge_core::RuntimeConfig::default().discord_busy_message
    );
    assert!(
        busy.flags
            .unwrap_or(MessageFlags::empty())
            .contains(MessageFlags::EPHEMERAL)
    );
    let answer = first
        .wait_original(|m| m.content.contains("Commands used"))
        .await;
    assert!(answer.content.starts_with("Slow but sure."));
    app.discord.assert_no_violations();
    let db = app.stop().await;
    assert_eq!(
        db.scalar_i64("SELECT COUNT(*) FROM chat_commands WHERE state = 'completed'")
            .await,
        1
    );
    assert_eq!(
        db.scalar_i64("SELECT COUNT(*) FROM chat_commands WHERE state = 'aborted'")
            .await,
        1
    );
}

disconcierge_e2e::both!(two_questions_sent_at_once_are_not_both_admitted);
async fn two_questions_sent_at_once_are_not_both_admitted(backend: Backend) {
    let Some(app) = start(backend, "ollama").await else {
        return;
    };
    let guild = app
        .discord
        .guild("Test Guild")
        .member("ida")
        .text_channel("general")
        .create();
    let ida = app.discord.user(guild.user("ida"));
    let channel = guild.channel("general");
    // The admitted one stays in flight for a while: an instant answer could finish before the other is
    // even looked at, and then admitting the other would be right.
    app.llm
        .push_reply(
            Reply::text("Slow but sure.").with_timing(disconcierge_llm_sim::Timing::new(
                Duration::from_secs(2),
                Duration::ZERO,
            )),
        );
    // Dispatched back to back: the bot handles them concurrently.
    let a = ida
        .run_slash_command(channel, "chat", [("prompt", "a")], Via::Gateway)
        .await;
    let b = ida
        .run_slash_command(channel, "chat", [("prompt", "b")], Via::Gateway)
        .await;
    let busy_text = disconcierge_core::RuntimeConfig::default().discord_busy_message;
    let outcome = |m: &disconcierge_discord_sim::twilight_model::channel::Message| {
        m.content == busy_text || m.content.contains("Commands used")
    };
    let (a, b) = (
        a.wait_original(outcome).await,
        b.wait_original(outcome).await,
    );
    let busy = [&a, &b].iter().filter(|m| m.content == busy_text).count();
    assert_eq!(
        busy, 1,
        "exactly one waits: {:?} / {:?}",
        a.content, b.content
    );
    app.discord.assert_no_violations();
    app.stop().await;
}

fn unix_now() -> i64 {
    let since = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap();
    i64::try_from(since.as_secs()).unwrap()
}

disconcierge_e2e::both!(a_user_at_their_limit_is_told_when_the_next_one_is_available);
async fn a_user_at_their_limit_is_told_when_the_next_one_is_available(backend: Backend) {
    let Some(app) = start(backend, "ollama").await else {
        return;
    };
    app.configure(|c| c.user_chat_command_limit_6h = 2).await;
    let config = app.runtime.current().config.clone();
    let guild = app
        .discord
        .guild("Test Guild")
        .member("lea")
        .text_channel("general")
        .create();
    let lea = app.discord.user(guild.user("lea"));
    let channel = guild.channel("general");
    let run = |prompt: &'static str, webhook: bool| {
        let lea = &lea;
        let via = via(&app, webhook);
        async move {
            lea.run_slash_command(channel, "chat", [("prompt", prompt)], via)
                .await
        }
    };

    // Two answered commands, one over each transport, use the limit up.
    let before_first = unix_now();
    let first = run("one", false).await;
    let answer = first
        .wait_original(|m| m.content.contains("Commands used"))
        .await;
    let after_first = unix_now();
    assert!(
        answer
            .content
            .contains("-# Commands used: 1/2 (6h) · only 1 left"),
        "{}",
        answer.content
    );
    app.settle(lea.id().get()).await;
    let second = run("two", true).await;
    let answer = second
        .wait_original(|m| m.content.contains("Commands used"))
        .await;
    assert!(
        answer
            .content
            .contains("-# Commands used: 2/2 (6h) · limit reached; next one <t:"),
        "{}",
        answer.content
    );
    app.settle(lea.id().get()).await;

    // Over either transport, the next is refused with the time the first one leaves the 6 h window.
    for webhook in [false, true] {
        let refused = run("three", webhook).await;
        let told = refused.wait_original(|m| !m.content.is_empty()).await;
        let (prefix, rest) = config
            .discord_rate_limited_message
            .split_once("{next}")
            .expect("the default message has {next}");
        let at: i64 = told
            .content
            .strip_prefix(prefix)
            .and_then(|t| t.strip_suffix(rest))
            .and_then(|t| t.strip_prefix("<t:"))
            .and_then(|t| t.strip_suffix(":R>"))
            .unwrap_or_else(|| panic!("not the rate-limited message: {:?}", told.content))
            .parse()
            .unwrap();
        assert!(
            (before_first + 6 * 3600..=after_first + 6 * 3600).contains(&at),
            "next available at {at}, the first command was between {before_first} and {after_first}"
        );
        assert!(
            told.flags
                .unwrap_or(MessageFlags::empty())
                .contains(MessageFlags::EPHEMERAL),
            "only the user sees it"
        );
        app.settle(lea.id().get()).await;
    }
    assert_eq!(
        app.llm.requests_to(Endpoint::OllamaChat).len(),
        2,
        "refused commands reach no model"
    );

    // A per-user override above the default lets one more through.
    app.store
        .set_user_limit_override(lea.id().get(), Some(3))
        .await
        .unwrap();
    let fourth = run("four", true).await;
    let answer = fourth
        .wait_original(|m| m.content.contains("Commands used"))
        .await;
    assert!(
        answer.content.contains("-# Commands used: 3/3 (6h)"),
        "{}",
        answer.content
    );
    app.discord.assert_no_violations();
    let db = app.stop().await;
    assert_eq!(
        db.scalar_i64("SELECT COUNT(*) FROM chat_commands WHERE state = 'rate_limited'")
            .await,
        2
    );
    assert_eq!(
        db.scalar_i64("SELECT COUNT(*) FROM chat_commands WHERE state = 'completed'")
            .await,
        3
    );
}

disconcierge_e2e::both!(priority_users_are_answered_before_older_commands);
async fn priority_users_are_answered_before_older_commands(backend: Backend) {
    let Some(app) = start(backend, "ollama").await else {
        return;
    };
    app.configure(|c| c.llm_requests_per_second = 1000.0).await;
    let mut guild = app
        .discord
        .guild("Test Guild")
        .member("plain")
        .member("vip");
    let fillers = ["f1", "f2", "f3", "f4"];
    for name in fillers {
        guild = guild.member(name);
    }
    let guild = guild.text_channel("general").create();
    let vip = guild.user("vip");
    app.store.upsert_user(vip.get(), "vip", None).await.unwrap();
    app.store.set_user_priority(vip.get(), true).await.unwrap();
    let channel = guild.channel("general");
    // Every worker busy: the first answer frees its worker after 8 s, the three others after 10 s — long
    // enough for the steps below even on a loaded machine (with 3 s, one CI run under the whole suite's
    // load saw the first answer finish before the fourth command was taken).
    let slow = |secs| {
        Reply::text("Busy.").with_timing(disconcierge_llm_sim::Timing::new(
            Duration::from_secs(secs),
            Duration::ZERO,
        ))
    };
    app.llm.push_reply(slow(8));
    for _ in 1..fillers.len() {
        app.llm.push_reply(slow(10));
    }
    let mut busy = Vec::new();
    for name in fillers {
        let i = app
            .discord
            .user(guild.user(name))
            .run_slash_command(channel, "chat", [("prompt", name)], Via::Gateway)
            .await;
        i.wait_ack().await;
        busy.push(i);
    }
    app.llm
        .wait_for_requests_to(Endpoint::OllamaChat, fillers.len(), Duration::from_secs(10))
        .await
        .unwrap();

    // The older command is a plain user's (over the gateway), the newer a priority user's (webhook).
    let older = app
        .discord
        .user(guild.user("plain"))
        .run_slash_command(channel, "chat", [("prompt", "older")], Via::Gateway)
        .await;
    older.wait_ack().await;
    let newer = app
        .discord
        .user(vip)
        .run_slash_command(channel, "chat", [("prompt", "newer")], via(&app, true))
        .await;
    newer.wait_ack().await;
    disconcierge_e2e::desk::wait_count(
        &app,
        "SELECT COUNT(*) FROM chat_commands WHERE state = 'queued'",
        2,
    )
    .await;

    // The first worker to free up takes the priority user's command; the older one waits for the next.
    // (The simulators' own waits are shorter than the slow answers: wait for the model's requests first.)
    app.llm
        .wait_for_requests_to(
            Endpoint::OllamaChat,
            fillers.len() + 1,
            Duration::from_secs(30),
        )
        .await
        .unwrap();
    newer
        .wait_original(|m| m.content.contains("Commands used"))
        .await;
    let waiting = older.original();
    assert!(
        waiting.as_ref().is_none_or(|m| m.content.is_empty()),
        "the plain user's older command still waits when the priority one is answered: {:?}",
        waiting.map(|m| m.content)
    );
    app.llm
        .wait_for_requests_to(
            Endpoint::OllamaChat,
            fillers.len() + 2,
            Duration::from_secs(30),
        )
        .await
        .unwrap();
    older
        .wait_original(|m| m.content.contains("Commands used"))
        .await;
    let prompts: Vec<_> = app
        .llm
        .requests_to(Endpoint::OllamaChat)
        .iter()
        .filter_map(|r| r.last_user_text().map(str::to_owned))
        .collect();
    assert_eq!(&prompts[fillers.len()..], ["newer", "older"]);
    for i in busy {
        i.wait_original(|m| m.content.contains("Commands used"))
            .await;
    }
    app.discord.assert_no_violations();
    app.stop().await;
}

disconcierge_e2e::both!(each_queued_command_wakes_an_idle_worker_at_once);
/// With no idle poll to fall back on, a worker that is not woken never claims: each command queued while
/// the others are being answered must wake an idle worker, so four slow answers run together.
async fn each_queued_command_wakes_an_idle_worker_at_once(backend: Backend) {
    let Some(app) = try_spawn_app(
        backend,
        &[
            ("DC_LLM_PROVIDER", "ollama"),
            ("DC_DISCORD_WEBHOOK_SERVER_ENABLED", "true"),
            ("DC_QUEUE_SLEEP_EMPTY", "1h"),
        ],
    )
    .await
    else {
        return;
    };
    app.discord.gateway().wait_ready(1).await;
    app.configure(|c| c.llm_requests_per_second = 1000.0).await;
    let names = ["w1", "w2", "w3", "w4"];
    let mut guild = app.discord.guild("Test Guild");
    for name in names {
        guild = guild.member(name);
    }
    let guild = guild.text_channel("general").create();
    let channel = guild.channel("general");
    for _ in names {
        app.llm.push_reply(
            Reply::text("Slow.").with_timing(disconcierge_llm_sim::Timing::new(
                Duration::from_secs(20),
                Duration::ZERO,
            )),
        );
    }
    let mut asked = Vec::new();
    for (n, name) in names.into_iter().enumerate() {
        let i = app
            .discord
            .user(guild.user(name))
            .run_slash_command(channel, "chat", [("prompt", name)], via(&app, n % 2 == 1))
            .await;
        i.wait_ack().await;
        // Each reaches the model while the answers before it (20 s each) are still being generated.
        app.llm
            .wait_for_requests_to(Endpoint::OllamaChat, n + 1, Duration::from_secs(10))
            .await
            .unwrap_or_else(|e| panic!("command {} was not taken by an idle worker: {e}", n + 1));
        asked.push(i);
    }
    assert!(
        asked[0].original().is_none_or(|m| m.content.is_empty()),
        "all four were taken while the first was still being answered"
    );
}

disconcierge_e2e::both!(ignored_users_get_the_configured_message_or_a_silent_acknowledgement);
async fn ignored_users_get_the_configured_message_or_a_silent_acknowledgement(backend: Backend) {
    use disconcierge_discord_sim::twilight_model::http::interaction::InteractionResponseType;
    let Some(app) = start(backend, "ollama").await else {
        return;
    };
    let guild = app
        .discord
        .guild("Test Guild")
        .member("troll")
        .text_channel("general")
        .create();
    let troll = guild.user("troll");
    app.store
        .upsert_user(troll.get(), "troll", None)
        .await
        .unwrap();
    app.store.set_user_ignored(troll.get(), true).await.unwrap();
    let channel = guild.channel("general");
    let actor = app.discord.user(troll);

    // No message configured (the default): each command is acknowledged with a private "thinking…"
    // that is deleted at once, over the gateway and over the webhook; /clear too.
    assert_eq!(app.runtime.current().config.discord_ignored_message, "");
    let delete = "/webhooks/{application_id}/{token}/messages/{message_id}";
    let mut silent = Vec::new();
    for (name, webhook) in [("chat", false), ("private", true), ("clear", true)] {
        let options: Vec<(&str, &str)> = if name == "clear" {
            vec![]
        } else {
            vec![("prompt", "let me in")]
        };
        let run = actor
            .run_slash_command(channel, name, options, via(&app, webhook))
            .await;
        let ack = run.wait_ack().await;
        assert_eq!(
            ack.response.kind,
            InteractionResponseType::DeferredChannelMessageWithSource,
            "/{name}"
        );
        assert!(
            ack.response
                .data
                .and_then(|d| d.flags)
                .is_some_and(|f| f.contains(MessageFlags::EPHEMERAL)),
            "/{name}: private"
        );
        silent.push(run);
    }
    app.discord
        .wait_requests(Method::DELETE, delete, silent.len())
        .await;
    for run in &silent {
        assert!(run.original().is_none(), "the \"thinking…\" is gone");
    }

    // A message configured: it is the private answer.
    app.configure(|c| {
        c.discord_ignored_message = "This bot does not answer you; ask a moderator why.".into()
    })
    .await;
    let told = actor
        .run_slash_command(channel, "chat", [("prompt", "again")], Via::Gateway)
        .await
        .wait_original(|m| !m.content.is_empty())
        .await;
    assert_eq!(
        told.content,
        "This bot does not answer you; ask a moderator why."
    );
    assert!(
        told.flags
            .unwrap_or(MessageFlags::empty())
            .contains(MessageFlags::EPHEMERAL)
    );
    assert!(
        app.llm.requests().is_empty(),
        "nothing was asked of the model"
    );
    app.discord.assert_no_violations();
    let db = app.stop().await;
    assert_eq!(
        db.scalar_i64("SELECT COUNT(*) FROM chat_commands WHERE state = 'ignored'")
            .await,
        3
    );
    assert_eq!(
        db.scalar_i64("SELECT COUNT(*) FROM clear_commands").await,
        0
    );
}
