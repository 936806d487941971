//! The support desk end to end: `/setup`, a ticket panel, tickets opened from it, AI replies built from
//! the ticket and the guild's trained answers and knowledge bases, escalation, closing with a transcript,
//! and the staff commands — through the simulated Discord (gateway) and LLM, on both databases.

use disconcierge_discord_sim::twilight_model::id::Id;
use disconcierge_discord_sim::twilight_model::id::marker::ChannelMarker;
use disconcierge_discord_sim::{Actor, Direction, GatewayRecord, OptionValue, Via};
use disconcierge_e2e::desk::*;
use disconcierge_e2e::{Backend, TestApp, try_spawn_app};
use disconcierge_llm_sim::{Endpoint, Failure, Reply};
use std::time::Duration;

disconcierge_e2e::both!(a_ticket_is_opened_answered_escalated_and_closed);
async fn a_ticket_is_opened_answered_escalated_and_closed(backend: Backend) {
    let Some(app) = desk_app(backend).await else {
        return;
    };
    let g = guild(&app, "Tea Shop");
    setup(&app, &g).await;
    let olga = actor(&app, &g, "olga");
    let sam = actor(&app, &g, "sam");
    let ann = actor(&app, &g, "ann");
    let general = g.channel("general");
    // Reference material the AI should get.
    slash(&olga, general, "kb_create", vec![("name", "faq".into())])
        .await
        .wait_ack()
        .await;
    let added = slash(
        &olga,
        general,
        "kb_add",
        vec![
            ("kb", "faq".into()),
            ("title", "Invoices".into()),
            (
                "content",
                "Invoices are emailed on the first day of each month.".into(),
            ),
        ],
    )
    .await;
    assert!(answer_of(&added).await.starts_with("Added entry"));

    let panel = panel(&app, &g).await;
    assert!(has_button(&panel, "dct:open:Billing"));
    let thread = open(&ann, &panel, "Billing").await;
    let post = g
        .threads_in(g.channel("tickets"))
        .into_iter()
        .find(|t| t.id == thread)
        .expect("the ticket is a post in the forum");
    assert_eq!(post.name.as_deref(), Some("Billing – ann"));
    assert_eq!(post.applied_tags, Some(vec![g.tag("tickets", "Billing")]));
    let welcome = wait_bot_messages(&app, thread, 1).await;
    assert!(welcome.content.contains(&format!("<@{}>", ann.id())));
    // A second click points to the open ticket.
    let again = ann
        .click_button(panel.id, "dct:open:Billing", Via::Gateway)
        .await;
    assert_eq!(
        answer_of(&again).await,
        format!("You already have an open Billing ticket: <#{thread}>")
    );

    // The opener writes: the AI answers with the ticket's context and the knowledge entry.
    app.llm
        .push_reply(Reply::text("Let me check invoice 42 for you."));
    ann.post_message(thread, "My invoice for order 42 is wrong");
    let answer = wait_bot_messages(&app, thread, 2).await;
    assert_eq!(answer.content, "Let me check invoice 42 for you.");
    assert!(has_button(&answer, "dct:human:"));
    let ann_id = ann.id();
    assert!(
        app.discord
            .world(|w| w.typing.iter().any(|t| t.channel_id == thread)),
        "typing… was shown while the answer was generated"
    );
    assert!(
        app.discord.world(|w| w
            .thread_members
            .get(&thread)
            .is_some_and(|m| m.contains(&ann_id))),
        "the opener was added to the ticket"
    );
    let first = &chat_requests(&app)[0];
    let system = first["messages"][0]["content"].as_str().unwrap();
    assert!(system.contains("We sell tea."), "{system}");
    assert!(
        system.contains("category \"Billing\", opened by ann"),
        "{system}"
    );
    assert!(
        system.contains("Invoices are emailed on the first day"),
        "{system}"
    );
    assert_eq!(
        first["messages"].as_array().unwrap().last().unwrap()["content"],
        "My invoice for order 42 is wrong"
    );

    // The conversation so far goes with the next message.
    app.llm.push_reply(Reply::text("I have corrected it."));
    ann.post_message(thread, "It says 40 instead of 42");
    wait_bot_messages(&app, thread, 3).await;
    let second = &chat_requests(&app)[1];
    let roles: Vec<&str> = second["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["role"].as_str().unwrap())
        .collect();
    assert_eq!(roles, vec!["system", "user", "assistant", "user"]);
    assert_eq!(
        second["messages"][2]["content"],
        "Let me check invoice 42 for you."
    );

    // "Talk to a human": staff pinged once, the AI stops.
    let human = ann
        .click_button(
            answer.id,
            &format!("dct:human:{}", ticket_id(&app, thread).await),
            Via::Gateway,
        )
        .await;
    assert!(answer_of(&human).await.starts_with("Staff have been asked"));
    let staff_role = g.role("Staff");
    let staff_mention = format!("<@&{staff_role}>");
    let ping = wait_message(&app, thread, |m| m.content.contains(&staff_mention)).await;
    let allowed = ping.mention_roles.clone();
    assert_eq!(allowed, vec![staff_role], "the staff role is pinged");
    let again = ann
        .click_button(
            answer.id,
            &format!("dct:human:{}", ticket_id(&app, thread).await),
            Via::Gateway,
        )
        .await;
    assert!(
        answer_of(&again)
            .await
            .starts_with("Staff have already been asked")
    );
    let pings = |app: &TestApp| {
        bot_messages(app, thread)
            .iter()
            .filter(|m| m.content.contains("would like to talk to a human"))
            .count()
    };
    let requests_before = chat_requests(&app).len();
    let hello = ann.post_message(thread, "Hello? Anyone?");
    sam.post_message(thread, "Hi ann, I am on it.");
    // Staff too without the staff role: the owner, and a manager (Manage Server); a member is not.
    olga.post_message(thread, "The owner is looking too.");
    actor(&app, &g, "mia").post_message(thread, "Refund approved.");
    actor(&app, &g, "bob").post_message(thread, "Same problem here.");
    // The welcome, two questions and their answers, the ping, and the five messages since.
    wait_count(&app, "SELECT message_count FROM tickets", 11).await;
    // Only the opener's messages are answered, and the opener's is handled: its reply is recorded as
    // skipped (it would be 'done' had the AI been asked).
    wait_count(
        &app,
        &format!(
            "SELECT COUNT(*) FROM ticket_messages WHERE message_id = {} AND reply_state = 'skipped'",
            hello.id.get()
        ),
        1,
    )
    .await;
    assert_eq!(
        chat_requests(&app).len(),
        requests_before,
        "no AI reply once escalated"
    );
    assert_eq!(pings(&app), 1);

    // Closing: announced, archived and locked, transcript to the log channel.
    let close = slash(
        &ann,
        thread,
        "close_ticket",
        vec![("reason", "solved".into())],
    )
    .await;
    let closed = close.wait_original(|m| !m.content.is_empty()).await;
    assert_eq!(
        closed.content,
        format!("🔒 Ticket closed by <@{}>: solved", ann.id())
    );
    app.discord
        .try_wait_for(Duration::from_secs(10), |w| {
            w.channels[&thread]
                .thread_metadata
                .as_ref()
                .filter(|m| m.archived && m.locked)
                .map(|_| ())
        })
        .await
        .unwrap_or_else(|r| panic!("the thread was not archived and locked: {r}"));
    let log = wait_message(&app, g.channel("ticket-log"), |m| {
        m.content.contains("closed by")
    })
    .await;
    let transcript = String::from_utf8(app.discord.attachment_bytes(&log.attachments[0])).unwrap();
    for line in [
        "ann (opener):\nMy invoice for order 42 is wrong",
        "bot (bot, AI):\nLet me check invoice 42 for you.",
        "sam (staff):\nHi ann, I am on it.",
        "olga (staff):\nThe owner is looking too.",
        "mia (staff):\nRefund approved.",
        "bob (member):\nSame problem here.",
        "reason: solved",
    ] {
        assert!(transcript.contains(line), "{line:?} not in {transcript}");
    }
    wait_count(
        &app,
        "SELECT COUNT(*) FROM tickets WHERE state = 'closed' AND close_reason = 'solved'",
        1,
    )
    .await;
    // A new ticket in the same category is allowed once the first is closed.
    let second_thread = open(&ann, &panel, "Billing").await;
    assert_ne!(second_thread, thread);
    app.discord.assert_no_violations();
}

disconcierge_e2e::both!(
    trained_answers_are_used_above_the_threshold_and_fallbacks_when_the_llm_is_down
);
async fn trained_answers_are_used_above_the_threshold_and_fallbacks_when_the_llm_is_down(
    backend: Backend,
) {
    let Some(app) = desk_app(backend).await else {
        return;
    };
    let g = guild(&app, "Tea Shop");
    setup(&app, &g).await;
    let sam = actor(&app, &g, "sam");
    let ann = actor(&app, &g, "ann");
    let trained = slash(
        &sam,
        g.channel("general"),
        "train",
        vec![
            ("question", "How do I reset my password?".into()),
            ("answer", "Use the reset link on the login page.".into()),
        ],
    )
    .await;
    assert!(answer_of(&trained).await.starts_with("Trained answer #"));
    let panel = panel(&app, &g).await;
    let thread = open(&ann, &panel, "Technical").await;
    wait_bot_messages(&app, thread, 1).await;

    // The same question, worded a little differently: sent as is, no LLM call.
    ann.post_message(thread, "how do i reset my password");
    let direct = wait_bot_messages(&app, thread, 2).await;
    assert_eq!(
        direct.content,
        "Use the reset link on the login page.\n-# Saved answer from the staff"
    );
    assert!(chat_requests(&app).is_empty());

    // Below the threshold: the LLM answers, with the trained answer as reference.
    app.llm.push_reply(Reply::text("Check your spam folder."));
    ann.post_message(thread, "the password reset email never arrived");
    let llm = wait_bot_messages(&app, thread, 3).await;
    assert_eq!(llm.content, "Check your spam folder.");
    let system = chat_requests(&app)[0]["messages"][0]["content"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        system.contains("Use the reset link on the login page."),
        "{system}"
    );

    // The LLM down: the closest trained answer with a note, else a promise that staff follow up.
    app.llm.fail_next(2, Failure::status(401, "invalid key"));
    ann.post_message(thread, "why reset password");
    let fallback = wait_bot_messages(&app, thread, 4).await;
    assert!(
        fallback
            .content
            .starts_with("Use the reset link on the login page.\n-# Our assistant is unavailable"),
        "{}",
        fallback.content
    );
    ann.post_message(thread, "my parcel is lost");
    let follow_up = wait_bot_messages(&app, thread, 5).await;
    assert!(
        follow_up
            .content
            .starts_with("Our assistant can't answer right now."),
        "{}",
        follow_up.content
    );
    // Each reply is stored with how it was made and which entries it used.
    for (source, n) in [
        ("notice", 1),
        ("trained", 1),
        ("llm", 1),
        ("fallback", 1),
        ("staff_follow_up", 1),
    ] {
        wait_count(
            &app,
            &format!("SELECT COUNT(*) FROM ticket_messages WHERE source = '{source}'"),
            n,
        )
        .await;
    }
    let uses = app
        .db()
        .scalar_i64("SELECT uses FROM training_entries")
        .await;
    assert_eq!(uses, 3, "sent as is, given as context, sent as fallback");
}

disconcierge_e2e::both!(knowledge_bases_round_trip_and_a_bad_import_changes_nothing);
async fn knowledge_bases_round_trip_and_a_bad_import_changes_nothing(backend: Backend) {
    let Some(app) = desk_app(backend).await else {
        return;
    };
    let g = guild(&app, "Tea Shop");
    setup(&app, &g).await;
    let sam = actor(&app, &g, "sam");
    let general = g.channel("general");
    let created = slash(
        &sam,
        general,
        "kb_create",
        vec![
            ("name", "faq".into()),
            ("description", "Common questions".into()),
        ],
    )
    .await;
    assert!(
        answer_of(&created)
            .await
            .starts_with("Knowledge base \"faq\" created")
    );
    let dup = slash(&sam, general, "kb_create", vec![("name", "FAQ".into())]).await;
    assert!(answer_of(&dup).await.contains("already exists"));
    for (title, content, tags) in [
        (
            "Shipping",
            "Parcels leave within **2 days**.\n\nTracking: https://example.com/t?id=1",
            "post, delivery",
        ),
        (
            "Refunds <script>",
            "Within 30 days, \"no questions asked\".",
            "",
        ),
    ] {
        let added = slash(
            &sam,
            general,
            "kb_add",
            vec![
                ("kb", "faq".into()),
                ("title", title.into()),
                ("content", content.into()),
                ("tags", tags.into()),
            ],
        )
        .await;
        assert!(answer_of(&added).await.starts_with("Added entry"));
    }
    let export = |who: Actor| async move {
        let handle = slash(&who, general, "kb_export", vec![("kb", "faq".into())]).await;
        let message = handle.wait_original(|m| !m.attachments.is_empty()).await;
        assert_eq!(message.attachments[0].filename, "kb-faq.json");
        message.attachments[0].clone()
    };
    let first = export(actor(&app, &g, "sam")).await;
    let first_bytes = app.discord.attachment_bytes(&first);

    // Searching ranks the entry about the words asked first.
    let search = slash(
        &sam,
        general,
        "kb_search",
        vec![
            ("kb", "faq".into()),
            ("query", "how long does delivery take".into()),
        ],
    )
    .await;
    let found = answer_of(&search).await;
    assert!(
        found.find("Shipping").unwrap() < found.find("Refunds").unwrap_or(usize::MAX),
        "{found}"
    );

    // A malformed file is refused with where it is wrong, and nothing changes.
    let bad = String::from_utf8(first_bytes.clone()).unwrap().replacen(
        "\"title\": \"Refunds <script>\"",
        "\"title\": \"\"",
        1,
    );
    let refused = slash(
        &sam,
        general,
        "kb_import",
        vec![
            ("kb", "faq".into()),
            ("file", OptionValue::file("faq.json", bad.into_bytes())),
        ],
    )
    .await;
    let text = answer_of(&refused).await;
    assert!(
        text.contains("entries[1].title: must not be empty"),
        "{text}"
    );
    assert!(text.contains("nothing was changed"), "{text}");
    let entries = "SELECT COUNT(*) FROM kb_entries";
    assert_eq!(app.db().scalar_i64(entries).await, 2);

    // Delete (with confirmation), re-create, import the export: the same file comes out.
    let delete = slash(&sam, general, "kb_delete", vec![("kb", "faq".into())]).await;
    let ack = delete.wait_ack().await;
    let confirm = delete.wait_original(|m| !m.components.is_empty()).await;
    assert!(
        ack.response
            .data
            .unwrap()
            .content
            .unwrap()
            .contains("2 entries")
    );
    let kb_id = app.db().scalar_i64("SELECT id FROM knowledge_bases").await;
    let deleted = sam
        .click_button(confirm.id, &format!("dct:kbdel:{kb_id}"), Via::Gateway)
        .await;
    assert_eq!(answer_of(&deleted).await, "Knowledge base \"faq\" deleted.");
    assert_eq!(app.db().scalar_i64(entries).await, 0);
    slash(
        &sam,
        general,
        "kb_create",
        vec![
            ("name", "faq".into()),
            ("description", "Common questions".into()),
        ],
    )
    .await
    .wait_ack()
    .await;
    let imported = slash(
        &sam,
        general,
        "kb_import",
        vec![
            ("kb", "faq".into()),
            ("file", OptionValue::file("faq.json", first_bytes.clone())),
        ],
    )
    .await;
    assert_eq!(
        answer_of(&imported).await,
        "Imported 2 entries into \"faq\" (from \"faq\")."
    );
    let second = export(actor(&app, &g, "sam")).await;
    assert_eq!(
        app.discord.attachment_bytes(&second),
        first_bytes,
        "export → import → export is identical"
    );

    // Staff commands: a moderator who is not staff is refused by the bot itself.
    let hank = actor(&app, &g, "hank");
    let refused = slash(&hank, general, "kb_list", vec![]).await;
    assert!(
        answer_of(&refused)
            .await
            .starts_with("Only staff can do this")
    );
    let train = slash(
        &hank,
        general,
        "train",
        vec![("question", "q?".into()), ("answer", "a".into())],
    )
    .await;
    assert!(
        answer_of(&train)
            .await
            .starts_with("Only staff can do this")
    );
    assert_eq!(
        app.db()
            .scalar_i64("SELECT COUNT(*) FROM training_entries")
            .await,
        0
    );
    app.discord.assert_no_violations();
}

disconcierge_e2e::both!(two_guilds_never_see_each_others_data);
async fn two_guilds_never_see_each_others_data(backend: Backend) {
    let Some(app) = desk_app(backend).await else {
        return;
    };
    let tea = guild(&app, "Tea Shop");
    let games = guild(&app, "Game Club");
    setup(&app, &tea).await;
    setup(&app, &games).await;
    let tea_staff = actor(&app, &tea, "sam");
    let games_staff = actor(&app, &games, "sam");
    for (who, g, answer) in [
        (&tea_staff, &tea, "Tea answer."),
        (&games_staff, &games, "Game answer."),
    ] {
        slash(
            who,
            g.channel("general"),
            "train",
            vec![
                ("question", "What are your opening hours?".into()),
                ("answer", answer.into()),
            ],
        )
        .await
        .wait_ack()
        .await;
    }
    slash(
        &tea_staff,
        tea.channel("general"),
        "kb_create",
        vec![("name", "secret".into())],
    )
    .await
    .wait_ack()
    .await;
    let list = slash(&games_staff, games.channel("general"), "kb_list", vec![]).await;
    assert!(!answer_of(&list).await.contains("secret"));
    let training = slash(
        &games_staff,
        games.channel("general"),
        "training_list",
        vec![],
    )
    .await;
    let text = answer_of(&training).await;
    assert!(
        text.contains("Game answer.") && !text.contains("Tea answer."),
        "{text}"
    );

    // A ticket in each guild gets its own guild's trained answer.
    for (g, expected) in [(&games, "Game answer."), (&tea, "Tea answer.")] {
        let panel = panel(&app, g).await;
        let ann = actor(&app, g, "ann");
        let thread = open(&ann, &panel, "Other").await;
        wait_bot_messages(&app, thread, 1).await;
        ann.post_message(thread, "what are your opening hours");
        let reply = wait_bot_messages(&app, thread, 2).await;
        assert!(reply.content.starts_with(expected), "{}", reply.content);
    }
    // Only the opener (or staff) can ask for a human.
    let games_ticket = app.db().scalar_i64("SELECT MIN(id) FROM tickets").await;
    let games_thread: Id<ChannelMarker> = Id::new(
        app.db()
            .scalar_i64(&format!(
                "SELECT thread_id FROM tickets WHERE id = {games_ticket}"
            ))
            .await as u64,
    );
    let games_answer = wait_bot_messages(&app, games_thread, 2).await;
    let bob = actor(&app, &games, "bob");
    let refused = bob
        .click_button(
            games_answer.id,
            &format!("dct:human:{games_ticket}"),
            Via::Gateway,
        )
        .await;
    assert!(
        answer_of(&refused)
            .await
            .starts_with("Only the member who opened")
    );
    assert_eq!(
        app.db()
            .scalar_i64("SELECT COUNT(*) FROM tickets WHERE state = 'escalated'")
            .await,
        0
    );
}

disconcierge_e2e::both!(setup_and_panel_buttons_survive_a_restart);
async fn setup_and_panel_buttons_survive_a_restart(backend: Backend) {
    let env = [
        ("DC_LLM_PROVIDER", "openai-chat"),
        ("DC_DISCORD_GATEWAY_INTENTS", INTENTS),
    ];
    let Some(app) = try_spawn_app(backend, &env).await else {
        return;
    };
    app.discord.gateway().wait_ready(1).await;
    let g = guild(&app, "Tea Shop");
    setup(&app, &g).await;
    let panel = panel(&app, &g).await;
    let world = app.stop_keeping_world().await;
    let app = disconcierge_e2e::spawn_app_in(world, &env).await;
    app.discord.gateway().wait_ready(1).await;

    let ann = actor(&app, &g, "ann");
    let thread = open(&ann, &panel, "Technical").await;
    let welcome = wait_bot_messages(&app, thread, 1).await;
    assert!(has_button(&welcome, "dct:human:"));
    app.llm
        .push_reply(Reply::text("Try turning it off and on."));
    ann.post_message(thread, "The kettle does not heat");
    let reply = wait_bot_messages(&app, thread, 2).await;
    assert_eq!(reply.content, "Try turning it off and on.");
    let system = chat_requests(&app)[0]["messages"][0]["content"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        system.contains("We sell tea."),
        "the guild's instructions survived: {system}"
    );
}

disconcierge_e2e::both!(entries_are_embedded_and_matched_by_meaning_when_a_model_is_configured);
async fn entries_are_embedded_and_matched_by_meaning_when_a_model_is_configured(backend: Backend) {
    let Some(app) = try_spawn_app(
        backend,
        &[
            ("DC_LLM_PROVIDER", "openai-chat"),
            ("DC_DISCORD_GATEWAY_INTENTS", INTENTS),
            ("DC_OPENAI_EMBEDDING_MODEL", "text-embedding-3-small"),
        ],
    )
    .await
    else {
        return;
    };
    app.discord.gateway().wait_ready(1).await;
    let g = guild(&app, "Tea Shop");
    setup(&app, &g).await;
    let sam = actor(&app, &g, "sam");
    let general = g.channel("general");
    slash(
        &sam,
        general,
        "train",
        vec![
            ("question", "How do I reset my password?".into()),
            ("answer", "Use the reset link on the login page.".into()),
        ],
    )
    .await
    .wait_ack()
    .await;
    slash(&sam, general, "kb_create", vec![("name", "faq".into())])
        .await
        .wait_ack()
        .await;
    slash(
        &sam,
        general,
        "kb_add",
        vec![
            ("kb", "faq".into()),
            ("title", "Passwords".into()),
            ("content", "Passwords need 12 characters.".into()),
        ],
    )
    .await
    .wait_ack()
    .await;
    // The embedder computes both vectors in the background, with the configured model.
    wait_count(
        &app,
        "SELECT COUNT(*) FROM training_entries WHERE embedding_model = 'text-embedding-3-small'",
        1,
    )
    .await;
    wait_count(
        &app,
        "SELECT COUNT(*) FROM kb_entries WHERE embedding_model = 'text-embedding-3-small'",
        1,
    )
    .await;
    let embedded: Vec<String> = app
        .llm
        .requests_to(Endpoint::Embeddings)
        .into_iter()
        .filter_map(|r| r.body)
        .map(|b| b["input"].to_string())
        .collect();
    assert!(
        embedded
            .iter()
            .any(|i| i.contains("How do I reset my password?")),
        "{embedded:?}"
    );
    assert!(
        embedded
            .iter()
            .any(|i| i.contains("Passwords\\nPasswords need 12 characters.")),
        "{embedded:?}"
    );

    // A message is embedded too, and the match shows both measures.
    let before = app.llm.requests_to(Endpoint::Embeddings).len();
    let test = slash(
        &sam,
        general,
        "test_ai",
        vec![("prompt", "how do i reset my password".into())],
    )
    .await;
    let report = answer_of(&test).await;
    assert!(report.contains("sent as is"), "{report}");
    assert!(report.contains("(words 1.00, meaning 1.00)"), "{report}");
    assert_eq!(app.llm.requests_to(Endpoint::Embeddings).len(), before + 1);
    assert!(
        chat_requests(&app).is_empty(),
        "no LLM answer for a trained question"
    );

    // A new entry gets its vector as well.
    slash(
        &sam,
        general,
        "train",
        vec![
            ("question", "How do I change my password?".into()),
            ("answer", "Profile, then Security.".into()),
        ],
    )
    .await
    .wait_ack()
    .await;
    wait_count(
        &app,
        "SELECT COUNT(*) FROM training_entries WHERE embedding_model IS NOT NULL",
        2,
    )
    .await;
}

disconcierge_e2e::both!(idle_tickets_are_warned_then_closed);
async fn idle_tickets_are_warned_then_closed(backend: Backend) {
    let Some(app) = try_spawn_app(
        backend,
        &[
            ("DC_LLM_PROVIDER", "openai-chat"),
            ("DC_DISCORD_GATEWAY_INTENTS", INTENTS),
            ("DC_TICKET_IDLE_CHECK_INTERVAL", "100ms"),
        ],
    )
    .await
    else {
        return;
    };
    app.discord.gateway().wait_ready(1).await;
    let g = guild(&app, "Tea Shop");
    let olga = actor(&app, &g, "olga");
    let done = slash(
        &olga,
        g.channel("general"),
        "setup",
        vec![
            ("forum_channel", g.channel("tickets").into()),
            ("staff_role", g.role("Staff").into()),
            ("log_channel", g.channel("ticket-log").into()),
            ("auto_close_hours", OptionValue::Integer(1)),
        ],
    )
    .await;
    assert!(
        answer_of(&done)
            .await
            .starts_with("Support tickets are set up")
    );
    let panel = panel(&app, &g).await;
    let ann = actor(&app, &g, "ann");
    let thread = open(&ann, &panel, "Billing").await;
    wait_bot_messages(&app, thread, 1).await;
    let quiet = open(&actor(&app, &g, "bob"), &panel, "Billing").await;
    wait_bot_messages(&app, quiet, 1).await;

    // 50 minutes without a word (past three quarters of an hour): a warning, nothing closed yet.
    let ago = |minutes: u32| match backend {
        Backend::Sqlite => {
            format!("strftime('%Y-%m-%dT%H:%M:%f000Z', 'now', '-{minutes} minutes')")
        }
        Backend::Postgres => format!("now() - interval '{minutes} minutes'"),
    };
    app.db()
        .execute(&format!(
            "UPDATE tickets SET last_activity_at = {} WHERE thread_id = {}",
            ago(50),
            thread.get() as i64
        ))
        .await;
    let warning = wait_message(&app, thread, |m| m.content.contains("has been quiet")).await;
    assert!(warning.content.contains("<t:"), "{}", warning.content);
    wait_count(
        &app,
        "SELECT COUNT(*) FROM tickets WHERE inactivity_warned_at IS NOT NULL AND state = 'open'",
        1,
    )
    .await;

    // Still nobody after the notice period: closed, archived, locked, transcript logged. The other
    // ticket, active, stays open.
    app.db()
        .execute(&format!(
            "UPDATE tickets SET inactivity_warned_at = {} WHERE thread_id = {}",
            ago(16),
            thread.get() as i64
        ))
        .await;
    wait_count(
        &app,
        "SELECT COUNT(*) FROM tickets WHERE state = 'closed' AND close_reason = 'closed after a period of inactivity'",
        1,
    )
    .await;
    app.discord
        .try_wait_for(Duration::from_secs(10), |w| {
            w.channels[&thread]
                .thread_metadata
                .as_ref()
                .filter(|m| m.archived && m.locked)
                .map(|_| ())
        })
        .await
        .unwrap_or_else(|r| panic!("the idle ticket was not archived and locked: {r}"));
    let log = wait_message(&app, g.channel("ticket-log"), |m| {
        m.content.contains("inactivity")
    })
    .await;
    assert_eq!(log.attachments.len(), 1);
    assert_eq!(
        app.db()
            .scalar_i64(&format!(
                "SELECT COUNT(*) FROM tickets WHERE state = 'open' AND thread_id = {}",
                quiet.get() as i64
            ))
            .await,
        1
    );
    // A message after a warning starts the clock again.
    app.db()
        .execute(&format!(
            "UPDATE tickets SET last_activity_at = {} WHERE thread_id = {}",
            ago(50),
            quiet.get() as i64
        ))
        .await;
    wait_message(&app, quiet, |m| m.content.contains("has been quiet")).await;
    app.llm.push_reply(Reply::text("Still here!"));
    actor(&app, &g, "bob").post_message(quiet, "I am still waiting");
    wait_count(
        &app,
        &format!(
            "SELECT COUNT(*) FROM tickets WHERE inactivity_warned_at IS NULL AND state = 'open' AND thread_id = {}",
            quiet.get() as i64
        ),
        1,
    )
    .await;
}

disconcierge_e2e::both!(answers_in_tickets_stream_into_one_message_and_long_ones_are_split);
async fn answers_in_tickets_stream_into_one_message_and_long_ones_are_split(backend: Backend) {
    let Some(app) = desk_app(backend).await else {
        return;
    };
    let g = guild(&app, "Tea Shop");
    setup(&app, &g).await;
    let panel = panel(&app, &g).await;
    let ann = actor(&app, &g, "ann");
    let thread = open(&ann, &panel, "Technical").await;
    wait_bot_messages(&app, thread, 1).await;

    // A slow answer: shown while it is generated, then finished in the same message.
    let words: Vec<String> = (0..12).map(|i| format!("step{i} ")).collect();
    app.llm
        .push_reply(Reply::tokens(words.clone()).per_token(Duration::from_millis(250)));
    ann.post_message(thread, "How do I descale the kettle?");
    let preview = wait_message(&app, thread, |m| m.content.ends_with(" …")).await;
    let done = wait_message(&app, thread, |m| {
        m.id == preview.id && !m.content.ends_with(" …")
    })
    .await;
    assert_eq!(done.content, words.concat().trim_end());
    assert!(has_button(&done, "dct:human:"));
    assert_eq!(
        bot_messages(&app, thread).len(),
        2,
        "the preview became the answer"
    );

    // A long answer continues in more messages, cut between paragraphs; the button is under the last.
    let paragraph = "word ".repeat(150);
    let long = vec![paragraph.trim_end().to_string(); 7].join("\n\n");
    app.llm.push_reply(Reply::text(long.clone()));
    // Discord fails the next two messages (502): they are sent again, and nothing is missing.
    app.discord.fail_route(
        disconcierge_discord_sim::Method::POST,
        "/channels/{channel_id}/messages",
        disconcierge_discord_sim::Failure::Status(502),
        2,
    );
    ann.post_message(thread, "Tell me everything");
    // 7 paragraphs of 749 characters: two per message.
    let last = wait_bot_messages(&app, thread, 6).await;
    let mine = bot_messages(&app, thread);
    let parts = &mine[2..];
    assert_eq!(parts.len(), 4, "{} characters in four messages", long.len());
    assert!(parts.iter().all(|m| m.content.chars().count() <= 2000));
    assert!(has_button(&last, "dct:human:") && !has_button(&parts[0], "dct:human:"));
    let joined = parts
        .iter()
        .map(|m| m.content.as_str())
        .collect::<Vec<_>>()
        .join("\n\n");
    assert_eq!(joined, long);
}

disconcierge_e2e::both!(a_reply_lost_in_a_crash_is_written_after_the_restart_once);
async fn a_reply_lost_in_a_crash_is_written_after_the_restart_once(backend: Backend) {
    let env = [
        ("DC_LLM_PROVIDER", "openai-chat"),
        ("DC_DISCORD_GATEWAY_INTENTS", INTENTS),
        ("DC_QUEUE_LEASE", "1s"),
        ("DC_TICKET_IDLE_CHECK_INTERVAL", "200ms"),
    ];
    let Some(app) = try_spawn_app(backend, &env).await else {
        return;
    };
    app.discord.gateway().wait_ready(1).await;
    let g = guild(&app, "Tea Shop");
    setup(&app, &g).await;
    let panel = panel(&app, &g).await;
    let ann = actor(&app, &g, "ann");
    let thread = open(&ann, &panel, "Technical").await;
    wait_bot_messages(&app, thread, 1).await;
    let world = app.stop_keeping_world().await;

    // A run that dies while the model is still thinking about the answer.
    world
        .llm
        .push_reply(
            Reply::text("never delivered").with_timing(disconcierge_llm_sim::Timing::new(
                Duration::from_secs(60),
                Duration::ZERO,
            )),
        );
    let first = disconcierge_e2e::Crashable::start(&world, &env).await;
    world.discord.gateway().wait_ready(1).await;
    ann.post_message(thread, "My kettle leaks");
    world
        .llm
        .wait_for_requests_to(Endpoint::ChatCompletions, 1, Duration::from_secs(10))
        .await
        .unwrap();
    first.crash();
    let connections_before = world.discord.gateway().connection_count() as u64;

    // The next run takes the reply over once the dead run's claim has run out, and writes it once.
    world.llm.push_reply(Reply::text("Tighten the lid."));
    let app = disconcierge_e2e::spawn_app_in(world, &env).await;
    let answer = wait_bot_messages(&app, thread, 2).await;
    assert_eq!(answer.content, "Tighten the lid.");
    let requests = chat_requests(&app);
    assert_eq!(requests.len(), 2, "asked once by each run");
    assert_eq!(
        requests[1]["messages"].as_array().unwrap().last().unwrap()["content"],
        "My kettle leaks"
    );
    wait_count(
        &app,
        "SELECT COUNT(*) FROM ticket_messages WHERE author = 'opener' AND reply_state = 'done'",
        1,
    )
    .await;
    // A later message, answered in its turn: a ticket's answers are written one at a time in the order
    // they were started, so once this one is there, any second answer to "My kettle leaks" started
    // before it would be there too. It goes to the restarted run's own gateway session (the dead run's
    // may still look live for a moment).
    let restarted_session = |r: &GatewayRecord| match r {
        GatewayRecord::Frame {
            conn,
            direction: Direction::Sent,
            t: Some(t),
            ..
        } => *conn > connections_before && (t == "READY" || t == "RESUMED"),
        _ => false,
    };
    app.discord
        .wait_for(Duration::from_secs(10), |w| {
            w.gateway_log.iter().any(restarted_session).then_some(())
        })
        .await;
    app.llm.push_reply(Reply::text("Glad it works."));
    ann.post_message(thread, "That did it, thanks");
    wait_count(
        &app,
        "SELECT COUNT(*) FROM ticket_messages WHERE author = 'opener' AND reply_state = 'done'",
        2,
    )
    .await;
    let answers: Vec<String> = bot_messages(&app, thread)
        .into_iter()
        .skip(1)
        .map(|m| m.content)
        .collect();
    assert_eq!(
        answers,
        ["Tighten the lid.", "Glad it works."],
        "answered once"
    );
    assert_eq!(
        chat_requests(&app).len(),
        3,
        "asked once by each run, then once more"
    );
}
