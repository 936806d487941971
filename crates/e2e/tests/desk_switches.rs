//! The support desk's switches end to end, on both databases: AI replies and training turned off in one
//! server with `/setup` (the other server unaffected), and for every server with `DC_DESK_AI_REPLIES` /
//! `DC_DESK_TRAINING` (the ticket bot's `ENABLE_AUTO_RESPONSE` / `ENABLE_TRAINING`).

use disconcierge_e2e::desk::*;
use disconcierge_e2e::{Backend, TestApp, try_spawn_app};
use disconcierge_llm_sim::{Endpoint, Reply};

/// What `/train` answers the owner of `g`.
async fn train_refusal(app: &TestApp, g: &disconcierge_discord_sim::GuildHandle) -> String {
    let olga = actor(app, g, "olga");
    let question = vec![
        ("question", "Refunds?".into()),
        ("answer", "30 days.".into()),
    ];
    answer_of(&slash(&olga, g.channel("general"), "train", question).await).await
}

/// The row of the opener's message `content` in the ticket of `thread`, once its reply is settled:
/// `done` (answered) or `skipped`.
async fn reply_state(app: &TestApp, thread: u64, content: &str) -> String {
    let sql = format!(
        "SELECT COUNT(*) FROM ticket_messages m JOIN tickets t ON t.id = m.ticket_id \
         WHERE t.thread_id = {} AND m.content = '{content}' AND m.reply_state IN ('done', 'skipped')",
        thread as i64
    );
    wait_count(app, &sql, 1).await;
    let sql = format!(
        "SELECT COUNT(*) FROM ticket_messages m JOIN tickets t ON t.id = m.ticket_id \
         WHERE t.thread_id = {} AND m.content = '{content}' AND m.reply_state = 'done'",
        thread as i64
    );
    if app.db().scalar_i64(&sql).await == 1 {
        "done".into()
    } else {
        "skipped".into()
    }
}

disconcierge_e2e::both!(ai_replies_and_training_turned_off_in_one_server);
async fn ai_replies_and_training_turned_off_in_one_server(backend: Backend) {
    let Some(app) = desk_app(backend).await else {
        return;
    };
    let quiet = guild(&app, "Quiet Shop");
    let busy = guild(&app, "Busy Shop");
    setup(&app, &quiet).await;
    setup(&app, &busy).await;
    let said = setup_with(
        &app,
        &quiet,
        vec![("ai_replies", false.into()), ("training", false.into())],
    )
    .await;
    assert!(
        said.contains("AI replies: off in this server; Training: off in this server."),
        "{said}"
    );

    // Training off: /train is refused with the switch named; nothing is stored.
    let refused = train_refusal(&app, &quiet).await;
    assert!(
        refused.starts_with("Training is turned off in this server")
            && refused.contains("/setup training:True"),
        "{refused}"
    );
    assert!(
        app.store
            .export_training(quiet.id().get())
            .await
            .unwrap()
            .is_empty()
    );

    // AI replies off: the opener's message is kept for staff, and not answered.
    let ann = actor(&app, &quiet, "ann");
    let thread = open(&ann, &panel(&app, &quiet).await, "Billing").await;
    wait_bot_messages(&app, thread, 1).await;
    ann.post_message(thread, "Where is my parcel?");
    assert_eq!(
        reply_state(&app, thread.get(), "Where is my parcel?").await,
        "skipped"
    );
    assert_eq!(bot_message_count(&app, thread), 1, "only the welcome");
    assert!(app.llm.requests_to(Endpoint::ChatCompletions).is_empty());

    // The other server is unaffected: a trained answer is used there.
    let staff = actor(&app, &busy, "olga");
    train(
        &staff,
        busy.channel("general"),
        "Where is my parcel?",
        "It ships within a day.",
        None,
    )
    .await;
    let bob = actor(&app, &busy, "bob");
    let other = open(&bob, &panel(&app, &busy).await, "Billing").await;
    wait_bot_messages(&app, other, 1).await;
    bob.post_message(other, "Where is my parcel?");
    let answer = wait_bot_messages(&app, other, 2).await;
    assert!(
        answer.content.starts_with("It ships within a day."),
        "{}",
        answer.content
    );

    // Replies turned on again, training left off: the model answers.
    let said = setup_with(&app, &quiet, vec![("ai_replies", true.into())]).await;
    assert!(said.contains("Training: off in this server."), "{said}");
    assert!(!said.contains("AI replies"), "{said}");
    app.llm.push_reply(Reply::text("Let me look that up."));
    ann.post_message(thread, "Where is my parcel now?");
    let answer = wait_bot_messages(&app, thread, 2).await;
    assert_eq!(answer.content, "Let me look that up.");
    app.discord.assert_no_violations();
    app.stop().await;
}

disconcierge_e2e::both!(the_host_turns_replies_and_training_off_for_every_server);
async fn the_host_turns_replies_and_training_off_for_every_server(backend: Backend) {
    let Some(app) = try_spawn_app(
        backend,
        &[
            ("DC_LLM_PROVIDER", "openai-chat"),
            ("DC_DESK_AI_REPLIES", "false"),
            ("DC_DESK_TRAINING", "false"),
        ],
    )
    .await
    else {
        return;
    };
    app.discord.gateway().wait_ready(1).await;
    let g = guild(&app, "Tea Shop");
    let said = setup_with(&app, &g, vec![("ai_replies", true.into())]).await;
    assert!(
        said.contains(
            "AI replies: off for every server (DC_DESK_AI_REPLIES=false on the bot's host)"
        ),
        "{said}"
    );
    let refused = train_refusal(&app, &g).await;
    assert!(refused.contains("DC_DESK_TRAINING=false"), "{refused}");
    let ann = actor(&app, &g, "ann");
    let thread = open(&ann, &panel(&app, &g).await, "Billing").await;
    wait_bot_messages(&app, thread, 1).await;
    ann.post_message(thread, "Hello?");
    assert_eq!(reply_state(&app, thread.get(), "Hello?").await, "skipped");
    assert_eq!(bot_message_count(&app, thread), 1);
    app.discord.assert_no_violations();
    app.stop().await;
}
