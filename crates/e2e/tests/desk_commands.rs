//! The support desk's commands that `desk.rs` does not cover, end to end: `/ticket_info`, who may
//! `/close_ticket`, the pages, filter, deletion and statistics of trained answers, training the same
//! question twice, `/kb_view` pages, `/kb_list`, cancelling `/kb_delete`, moving trained answers between
//! servers (and refusing bad files), `/status`, `/test_ai`, letting the AI answer again after an
//! escalation, and who may run `/setup` — through the simulated Discord (gateway and webhook) and LLM,
//! on both databases. Each test checks what the member sees and what the database holds.

use disconcierge_discord_sim::twilight_model::guild::Permissions;
use disconcierge_discord_sim::twilight_model::http::interaction::InteractionResponseType;
use disconcierge_discord_sim::twilight_model::id::Id;
use disconcierge_discord_sim::twilight_model::id::marker::ChannelMarker;
use disconcierge_discord_sim::{Actor, OptionValue, Signing, Via};
use disconcierge_e2e::Backend;
use disconcierge_e2e::desk::*;
use disconcierge_llm_sim::{Endpoint, Reply};
use std::time::Duration;

// ----- Tickets -----

disconcierge_e2e::both!(
    ticket_info_shows_the_state_and_gives_staff_the_transcript_and_only_opener_or_staff_close
);
async fn ticket_info_shows_the_state_and_gives_staff_the_transcript_and_only_opener_or_staff_close(
    backend: Backend,
) {
    let Some(app) = desk_app(backend).await else {
        return;
    };
    let g = guild(&app, "Tea Shop");
    setup(&app, &g).await;
    let (sam, ann, bob) = (
        actor(&app, &g, "sam"),
        actor(&app, &g, "ann"),
        actor(&app, &g, "bob"),
    );
    train(
        &sam,
        g.channel("general"),
        "Can I get a refund?",
        "Yes, within 30 days.",
        None,
    )
    .await;
    let panel = panel(&app, &g).await;
    let thread = open(&ann, &panel, "Billing").await;
    let tid = ticket_id(&app, thread).await;
    wait_bot_messages(&app, thread, 1).await;
    ann.post_message(thread, "can I get a refund");
    let reply = wait_bot_messages(&app, thread, 2).await;
    assert!(reply.content.starts_with("Yes, within 30 days."));
    let human = ann
        .click_button(reply.id, &format!("dct:human:{tid}"), Via::Gateway)
        .await;
    assert!(answer_of(&human).await.starts_with("Staff have been asked"));
    wait_bot_messages(&app, thread, 3).await;
    sam.post_message(thread, "I will check your order.");
    // The welcome, the question, the trained answer, the staff ping and sam's message.
    wait_count(
        &app,
        &format!("SELECT message_count FROM tickets WHERE id = {tid}"),
        5,
    )
    .await;

    // The opener sees the state, privately, without the transcript.
    let info = slash(&ann, thread, "ticket_info", vec![]).await;
    let shown = info.wait_original(|m| !m.content.is_empty()).await;
    let text = &shown.content;
    for part in [
        format!("**Ticket #{tid}** — Billing\n"),
        format!("Opened by <@{}> <t:", ann.id()),
        "\nState: **escalated**\n".to_string(),
        "\nMessages: 5\n".to_string(),
        "\nEscalated <t:".to_string(),
    ] {
        assert!(text.contains(&part), "{part:?} not in {text}");
    }
    assert!(is_ephemeral(&shown));
    assert!(shown.attachments.is_empty(), "members get no transcript");

    // Staff get the same, and the transcript with every message and its author.
    let info = slash(&sam, thread, "ticket_info", vec![]).await;
    let shown = info.wait_original(|m| !m.content.is_empty()).await;
    assert_eq!(&shown.content, text);
    assert!(is_ephemeral(&shown));
    assert_eq!(shown.attachments.len(), 1);
    assert_eq!(shown.attachments[0].filename, format!("ticket-{tid}.txt"));
    let transcript =
        String::from_utf8(app.discord.attachment_bytes(&shown.attachments[0])).unwrap();
    for line in [
        format!("Ticket #{tid} — Billing — opened by ann ({})", ann.id()),
        "State: escalated; escalated on ".to_string(),
        "Messages: 5\n".to_string(),
        format!("bot (bot):\nThanks for opening a ticket, <@{}>!", ann.id()),
        "ann (opener):\ncan I get a refund\n".to_string(),
        "bot (bot, trained answer):\nYes, within 30 days.".to_string(),
        format!(
            "bot (bot):\n<@&{}>: ann would like to talk to a human.",
            g.role("Staff")
        ),
        "sam (staff):\nI will check your order.\n".to_string(),
    ] {
        assert!(transcript.contains(&line), "{line:?} not in {transcript}");
    }
    let position = |s: &str| transcript.find(s).unwrap();
    assert!(
        position("ann (opener)") < position("bot (bot, trained answer)")
            && position("bot (bot, trained answer)") < position("sam (staff)"),
        "in the order written: {transcript}"
    );

    // Outside a ticket there is nothing to show.
    let outside = slash(&ann, g.channel("general"), "ticket_info", vec![]).await;
    assert_eq!(answer_of(&outside).await, "Use this inside a ticket.");

    // Someone who neither opened the ticket nor is staff cannot close it.
    let refused = slash(&bob, thread, "close_ticket", vec![]).await;
    assert_eq!(
        answer_of(&refused).await,
        "Only the member who opened this ticket, or staff, can close it."
    );
    let state = format!("SELECT COUNT(*) FROM tickets WHERE id = {tid} AND state = 'escalated'");
    assert_eq!(app.db().scalar_i64(&state).await, 1, "still open");
    let archived = app.discord.world(|w| {
        w.channels[&thread]
            .thread_metadata
            .as_ref()
            .is_some_and(|m| m.archived || m.locked)
    });
    assert!(!archived, "the post was not archived or locked");

    // The opener closes it; a second close is told it is already closed.
    let close = slash(&ann, thread, "close_ticket", vec![]).await;
    let closed = close.wait_original(|m| !m.content.is_empty()).await;
    assert_eq!(
        closed.content,
        format!("🔒 Ticket closed by <@{}>.", ann.id())
    );
    wait_count(
        &app,
        &format!(
            "SELECT COUNT(*) FROM tickets WHERE id = {tid} AND state = 'closed' AND closed_by = {} \
             AND close_reason IS NULL",
            ann.id().get() as i64
        ),
        1,
    )
    .await;
    let again = slash(
        &sam,
        thread,
        "close_ticket",
        vec![("reason", "done".into())],
    )
    .await;
    assert_eq!(answer_of(&again).await, "This ticket is already closed.");
    assert_eq!(
        app.db()
            .scalar_i64(&format!(
                "SELECT closed_by FROM tickets WHERE id = {tid} AND close_reason IS NULL"
            ))
            .await,
        ann.id().get() as i64,
        "the second close changed nothing"
    );
    let info = slash(&ann, thread, "ticket_info", vec![]).await;
    let text = answer_of(&info).await;
    assert!(text.contains("\nState: **closed**\n"), "{text}");
}

// ----- Trained answers -----

const TRAINING: [(&str, &str, Option<&str>); 12] = [
    (
        "How do I reset my password?",
        "Use the reset link on the login page.",
        None,
    ),
    (
        "Where is my parcel?",
        "Parcels are tracked at example.com/track.",
        None,
    ),
    (
        "Can I pay by invoice?",
        "Yes, for orders over 100 euros.",
        Some("Billing"),
    ),
    ("Do you ship abroad?", "Yes, to thirty countries.", None),
    (
        "How long does delivery take?",
        "Two to four working days.",
        None,
    ),
    (
        "Can I return an opened item?",
        "Yes, within fourteen days.",
        None,
    ),
    (
        "Do you offer gift cards?",
        "Yes, from 10 to 200 euros.",
        Some("Billing"),
    ),
    (
        "Is there a student discount?",
        "Yes, ten percent with a student card.",
        Some("Billing"),
    ),
    (
        "How do I delete my account?",
        "Write to privacy@example.com.",
        None,
    ),
    (
        "Which teas contain caffeine?",
        "Black and green teas.",
        None,
    ),
    (
        "Can I change my order?",
        "Within one hour of ordering.",
        None,
    ),
    ("Do you have a shop in Paris?", "Yes, rue de Rivoli.", None),
];

disconcierge_e2e::both!(training_list_pages_filters_deletes_and_counts_trained_answers);
async fn training_list_pages_filters_deletes_and_counts_trained_answers(backend: Backend) {
    let Some(app) = desk_app(backend).await else {
        return;
    };
    let g = guild(&app, "Tea Shop");
    setup(&app, &g).await;
    let (sam, ann) = (actor(&app, &g, "sam"), actor(&app, &g, "ann"));
    let general = g.channel("general");
    let mut ids = Vec::new();
    for (question, answer, category) in TRAINING {
        ids.push(train(&sam, general, question, answer, category).await);
    }
    let line = |i: usize| format!("**#{}** {}", ids[i], TRAINING[i].0);

    // Page 1 of 2: the first ten, Previous disabled.
    let list = slash(&sam, general, "training_list", vec![]).await;
    let page1 = list.wait_original(|m| !m.content.is_empty()).await;
    assert!(
        page1
            .content
            .starts_with("**Trained answers** — 12 in all, page 1 of 2\n"),
        "{}",
        page1.content
    );
    for i in 0..10 {
        assert!(page1.content.contains(&line(i)), "{}", page1.content);
    }
    assert!(!page1.content.contains(TRAINING[10].0));
    assert!(!page1.content.contains(TRAINING[11].0));
    assert!(page1.content.contains(&format!(
        "{} [Billing]\n→ Yes, for orders over 100 euros. · used 0×",
        line(2)
    )));
    assert!(disabled(&page1, "dct:tl:0:"), "no page before the first");
    assert!(!disabled(&page1, "dct:tl:2:"));

    // Next: the same message now shows page 2, Next disabled.
    let next = sam.click_button(page1.id, "dct:tl:2:", Via::Gateway).await;
    assert_eq!(
        next.wait_ack().await.response.kind,
        InteractionResponseType::UpdateMessage
    );
    let page2 = list
        .wait_original(|m| m.content.contains("page 2 of 2"))
        .await;
    assert_eq!(page2.id, page1.id, "the list message itself is updated");
    assert!(page2.content.contains(&line(10)) && page2.content.contains(&line(11)));
    assert!(!page2.content.contains(TRAINING[0].0));
    assert!(!disabled(&page2, "dct:tl:1:"));
    assert!(disabled(&page2, "dct:tl:3:"), "no page after the last");
    // And back.
    sam.click_button(page2.id, "dct:tl:1:", Via::Gateway)
        .await
        .wait_ack()
        .await;
    list.wait_original(|m| m.content.contains("page 1 of 2"))
        .await;
    // The page option opens a page directly.
    let direct = slash(&sam, general, "training_list", vec![("page", 2i64.into())]).await;
    assert_eq!(answer_of(&direct).await, page2.content);
    // A page past the end shows the last one rather than an empty list.
    let past = slash(&sam, general, "training_list", vec![("page", 5i64.into())]).await;
    assert_eq!(answer_of(&past).await, page2.content);

    // A category shows only its entries, on one page.
    let billing = slash(
        &sam,
        general,
        "training_list",
        vec![("category", "Billing".into())],
    )
    .await;
    let shown = billing.wait_original(|m| !m.content.is_empty()).await;
    assert!(
        shown
            .content
            .starts_with("**Trained answers in Billing** — 3 in all, page 1 of 1\n"),
        "{}",
        shown.content
    );
    for i in [2, 6, 7] {
        assert!(shown.content.contains(&line(i)), "{}", shown.content);
    }
    assert_eq!(shown.content.matches("**#").count(), 3, "{}", shown.content);
    assert!(disabled(&shown, "dct:tl:0:Billing") && disabled(&shown, "dct:tl:2:Billing"));

    // In a ticket: a trained answer is used as is, another question goes to the LLM.
    let panel = panel(&app, &g).await;
    let thread = open(&ann, &panel, "Other").await;
    wait_bot_messages(&app, thread, 1).await;
    ann.post_message(thread, "where is my parcel");
    let used = wait_bot_messages(&app, thread, 2).await;
    assert!(
        used.content
            .starts_with("Parcels are tracked at example.com/track."),
        "{}",
        used.content
    );
    app.llm
        .push_reply(Reply::text("Let me look at your kettle."));
    ann.post_message(thread, "my kettle is broken");
    let llm = wait_bot_messages(&app, thread, 3).await;
    assert_eq!(llm.content, "Let me look at your kettle.");
    wait_count(
        &app,
        &format!("SELECT uses FROM training_entries WHERE id = {}", ids[1]),
        1,
    )
    .await;

    // Answers are recorded once posted.
    let replies = "SELECT COUNT(*) FROM ticket_messages WHERE source IN ('llm', 'trained')";
    wait_count(&app, replies, 2).await;
    let stats = slash(&sam, general, "training_stats", vec![]).await;
    assert_eq!(
        answer_of(&stats).await,
        format!(
            "**Trained answers**: 12\n\
             By category: (none) 9, Billing 3\n\
             Hit rate: 1 of 2 replies in tickets were trained answers (50 %)\n\
             Most used:\n\
             - #{} Where is my parcel? (1×)\n",
            ids[1]
        )
    );

    // Deleting an entry: gone from the list, from the statistics and from answers in tickets.
    let deleted = slash(
        &sam,
        general,
        "training_delete",
        vec![("id", ids[1].into())],
    )
    .await;
    assert_eq!(
        answer_of(&deleted).await,
        format!(
            "Trained answer #{} deleted (\"Where is my parcel?\").",
            ids[1]
        )
    );
    assert_eq!(
        app.db()
            .scalar_i64(&format!(
                "SELECT COUNT(*) FROM training_entries WHERE id = {}",
                ids[1]
            ))
            .await,
        0
    );
    let list = slash(&sam, general, "training_list", vec![]).await;
    let text = answer_of(&list).await;
    assert!(text.contains("11 in all, page 1 of 2"), "{text}");
    assert!(!text.contains("Where is my parcel?"), "{text}");
    app.llm
        .push_reply(Reply::text("I will ask the post office."));
    ann.post_message(thread, "where is my parcel");
    let after = wait_bot_messages(&app, thread, 4).await;
    assert_eq!(after.content, "I will ask the post office.");
    let system = system_message(chat_requests(&app).last().unwrap());
    assert!(
        !system.contains("Parcels are tracked"),
        "the deleted answer is not given to the LLM: {system}"
    );
    assert!(
        system.contains("No reference material matched this message."),
        "{system}"
    );
    wait_count(&app, replies, 3).await;
    let stats = slash(&sam, general, "training_stats", vec![]).await;
    let text = answer_of(&stats).await;
    assert!(text.starts_with("**Trained answers**: 11\n"), "{text}");
    assert!(
        text.contains("By category: (none) 8, Billing 3\n"),
        "{text}"
    );
    assert!(
        text.contains("Hit rate: 1 of 3 replies in tickets were trained answers (33 %)"),
        "{text}"
    );
    assert!(!text.contains("Most used"), "nothing left was used: {text}");

    // An id that is not (or no longer) there says so, and deletes nothing.
    for id in [ids[1], 999_999] {
        let unknown = slash(&sam, general, "training_delete", vec![("id", id.into())]).await;
        assert_eq!(
            answer_of(&unknown).await,
            format!(
                "There is no trained answer #{id} in this server; /training_list shows their numbers."
            )
        );
    }
    assert_eq!(
        app.db()
            .scalar_i64("SELECT COUNT(*) FROM training_entries")
            .await,
        11
    );
    app.discord.assert_no_violations();
}

disconcierge_e2e::both!(training_the_same_question_again_replaces_its_answer);
async fn training_the_same_question_again_replaces_its_answer(backend: Backend) {
    let Some(app) = desk_app(backend).await else {
        return;
    };
    let g = guild(&app, "Tea Shop");
    setup(&app, &g).await;
    let sam = actor(&app, &g, "sam");
    let general = g.channel("general");
    let id = train(
        &sam,
        general,
        "How do I reset my password?",
        "Use the reset link on the login page.",
        None,
    )
    .await;
    let again = slash(
        &sam,
        general,
        "train",
        vec![
            ("question", "how do I RESET my password!!".into()),
            ("answer", "Go to Settings, then Security.".into()),
        ],
    )
    .await;
    assert_eq!(
        answer_of(&again).await,
        format!(
            "Trained answer #{id} already had this question: its answer was **replaced**.\n\
             Before: Use the reset link on the login page.\n\
             Now: Go to Settings, then Security."
        )
    );
    assert_eq!(
        app.db()
            .scalar_i64("SELECT COUNT(*) FROM training_entries")
            .await,
        1,
        "one row for one question"
    );
    let entry = app
        .store
        .training_entry(g.id().get(), id)
        .await
        .unwrap()
        .expect("still there");
    assert_eq!(entry.answer, "Go to Settings, then Security.");
    assert_eq!(entry.question, "how do I RESET my password!!");
    // Tickets get the new answer.
    let ann = actor(&app, &g, "ann");
    let panel = panel(&app, &g).await;
    let thread = open(&ann, &panel, "Technical").await;
    wait_bot_messages(&app, thread, 1).await;
    ann.post_message(thread, "How do I reset my password?");
    let reply = wait_bot_messages(&app, thread, 2).await;
    assert!(
        reply.content.starts_with("Go to Settings, then Security."),
        "{}",
        reply.content
    );
}

// ----- Knowledge bases -----

/// A knowledge-base file with `n` entries titled "Topic 01"….
fn kb_file(name: &str, n: usize) -> Vec<u8> {
    let entries: Vec<serde_json::Value> = (1..=n)
        .map(|i| {
            serde_json::json!({
                "title": format!("Topic {i:02}"),
                "content": format!("Everything about topic number {i}."),
                "tags": [],
            })
        })
        .collect();
    serde_json::to_vec_pretty(&serde_json::json!({
        "format": "disconcierge.knowledge_base",
        "version": 1,
        "name": name,
        "entries": entries,
    }))
    .unwrap()
}

disconcierge_e2e::both!(
    kb_view_pages_kb_list_counts_and_kb_delete_can_be_cancelled_also_over_the_webhook
);
async fn kb_view_pages_kb_list_counts_and_kb_delete_can_be_cancelled_also_over_the_webhook(
    backend: Backend,
) {
    let Some(app) = desk_app(backend).await else {
        return;
    };
    let g = guild(&app, "Tea Shop");
    setup(&app, &g).await;
    let sam = actor(&app, &g, "sam");
    let general = g.channel("general");
    for (name, description) in [
        ("faq", Some("Common questions")),
        ("empty", None),
        ("one", None),
    ] {
        let mut options: Vec<(&str, OptionValue)> = vec![("name", name.into())];
        if let Some(d) = description {
            options.push(("description", d.into()));
        }
        let created = slash(&sam, general, "kb_create", options).await;
        assert!(answer_of(&created).await.contains("created"));
    }
    let imported = slash(
        &sam,
        general,
        "kb_import",
        vec![
            ("kb", "faq".into()),
            ("file", OptionValue::file("faq.json", kb_file("faq", 12))),
        ],
    )
    .await;
    assert_eq!(
        answer_of(&imported).await,
        "Imported 12 entries into \"faq\" (from \"faq\")."
    );
    let added = slash(
        &sam,
        general,
        "kb_add",
        vec![
            ("kb", "one".into()),
            ("title", "Opening hours".into()),
            ("content", "We open at nine.".into()),
        ],
    )
    .await;
    assert!(answer_of(&added).await.starts_with("Added entry"));

    // /kb_list: each base with its entry count and description.
    let list = slash(&sam, general, "kb_list", vec![]).await;
    assert_eq!(
        answer_of(&list).await,
        "**Knowledge bases**\n\
         - **empty** — 0 entries\n\
         - **faq** — 12 entries · Common questions\n\
         - **one** — 1 entry\n"
    );

    // /kb_view over the webhook: page 1 of 2, then Next (also over the webhook) updates the message.
    let kb_id = app
        .db()
        .scalar_i64("SELECT id FROM knowledge_bases WHERE name = 'faq'")
        .await;
    let view = sam
        .run_slash_command(
            general,
            "kb_view",
            vec![("kb", OptionValue::from("faq"))],
            webhook(&app),
        )
        .await;
    assert!(view.webhook_response().is_some_and(|r| r.status == 200));
    let page1 = view.wait_original(|m| !m.content.is_empty()).await;
    assert!(
        page1
            .content
            .starts_with("**faq** — 12 entries, page 1 of 2\n"),
        "{}",
        page1.content
    );
    for i in 1..=10 {
        assert!(
            page1.content.contains(&format!("Topic {i:02}")),
            "{}",
            page1.content
        );
    }
    assert!(!page1.content.contains("Topic 11"));
    assert!(
        page1
            .content
            .contains("Topic 01\nEverything about topic number 1.")
    );
    assert!(disabled(&page1, &format!("dct:kv:0:{kb_id}")));
    assert!(!disabled(&page1, &format!("dct:kv:2:{kb_id}")));
    let next = sam
        .click_button(page1.id, &format!("dct:kv:2:{kb_id}"), webhook(&app))
        .await;
    assert_eq!(
        next.wait_ack().await.response.kind,
        InteractionResponseType::UpdateMessage
    );
    let page2 = view
        .wait_original(|m| m.content.contains("page 2 of 2"))
        .await;
    assert!(page2.content.contains("Topic 11") && page2.content.contains("Topic 12"));
    assert!(!page2.content.contains("Topic 10"));
    assert!(!disabled(&page2, &format!("dct:kv:1:{kb_id}")));
    assert!(disabled(&page2, &format!("dct:kv:3:{kb_id}")));
    // A page past the end shows the last one rather than "No entries yet".
    let past = slash(
        &sam,
        general,
        "kb_view",
        vec![("kb", "faq".into()), ("page", 9i64.into())],
    )
    .await;
    assert_eq!(answer_of(&past).await, page2.content);

    // /kb_export over the webhook: deferred, then the file.
    let export = sam
        .run_slash_command(
            general,
            "kb_export",
            vec![("kb", OptionValue::from("faq"))],
            webhook(&app),
        )
        .await;
    assert_eq!(
        export.wait_ack().await.response.kind,
        InteractionResponseType::DeferredChannelMessageWithSource
    );
    let exported = export.wait_original(|m| !m.attachments.is_empty()).await;
    assert_eq!(
        exported.content,
        "Knowledge base \"faq\": 12 entries. Import it with /kb_import."
    );
    assert_eq!(exported.attachments[0].filename, "kb-faq.json");
    let file: serde_json::Value =
        serde_json::from_slice(&app.discord.attachment_bytes(&exported.attachments[0])).unwrap();
    assert_eq!(file["name"], "faq");
    assert_eq!(file["description"], "Common questions");
    assert_eq!(file["entries"].as_array().unwrap().len(), 12);
    assert_eq!(file["entries"][11]["title"], "Topic 12");

    // /kb_delete, then "Keep it": nothing is deleted and the buttons are gone.
    let delete = slash(&sam, general, "kb_delete", vec![("kb", "faq".into())]).await;
    let confirm = delete.wait_original(|m| !m.components.is_empty()).await;
    assert!(
        confirm
            .content
            .starts_with("Delete the knowledge base \"faq\" and its 12 entries?"),
        "{}",
        confirm.content
    );
    let keep = sam
        .click_button(confirm.id, &format!("dct:kbkeep:{kb_id}"), Via::Gateway)
        .await;
    assert_eq!(answer_of(&keep).await, "Kept: nothing was deleted.");
    let kept = delete
        .wait_original(|m| m.content == "Kept: nothing was deleted.")
        .await;
    assert!(kept.components.is_empty(), "{:#?}", kept.components);
    assert_eq!(
        app.db()
            .scalar_i64("SELECT COUNT(*) FROM knowledge_bases")
            .await,
        3
    );
    assert_eq!(
        app.db()
            .scalar_i64(&format!(
                "SELECT COUNT(*) FROM kb_entries WHERE kb_id = {kb_id}"
            ))
            .await,
        12
    );
    app.discord.assert_no_violations();
}

// ----- Moving trained answers between servers -----

disconcierge_e2e::both!(
    trained_answers_move_between_servers_and_bad_files_are_refused_before_anything_is_written
);
async fn trained_answers_move_between_servers_and_bad_files_are_refused_before_anything_is_written(
    backend: Backend,
) {
    let Some(app) = desk_app(backend).await else {
        return;
    };
    let tea = guild(&app, "Tea Shop");
    let games = guild(&app, "Game Club");
    setup(&app, &tea).await;
    setup(&app, &games).await;
    let tea_sam = actor(&app, &tea, "sam");
    let tea_general = tea.channel("general");
    let games_general = games.channel("general");
    for (question, answer, category) in TRAINING.iter().take(3) {
        train(&tea_sam, tea_general, question, answer, *category).await;
    }
    let tagged = slash(
        &tea_sam,
        tea_general,
        "train",
        vec![
            ("question", "Do you sell matcha?".into()),
            ("answer", "Yes, ceremonial grade.".into()),
            ("category", "Products".into()),
            ("tags", "Tea, green ,tea".into()),
        ],
    )
    .await;
    assert!(answer_of(&tagged).await.starts_with("Trained answer #"));

    let export = |who: Actor, channel: Id<ChannelMarker>| async move {
        let handle = slash(&who, channel, "export_training", vec![]).await;
        handle.wait_original(|m| !m.attachments.is_empty()).await
    };
    let exported = export(actor(&app, &tea, "sam"), tea_general).await;
    assert_eq!(
        exported.content,
        "4 trained answers. Import them with /import_training."
    );
    assert_eq!(exported.attachments[0].filename, "training.json");
    let bytes = app.discord.attachment_bytes(&exported.attachments[0]);
    let file: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(file["format"], "disconcierge.training");
    assert_eq!(file["entries"][3]["question"], "Do you sell matcha?");
    assert_eq!(file["entries"][3]["category"], "Products");
    assert_eq!(
        file["entries"][3]["tags"],
        serde_json::json!(["tea", "green"])
    );

    let games_rows = format!(
        "SELECT COUNT(*) FROM training_entries WHERE guild_id = {}",
        games.id().get() as i64
    );
    let import = |file: OptionValue| {
        let who = actor(&app, &games, "sam");
        async move {
            let handle = slash(&who, games_general, "import_training", vec![("file", file)]).await;
            answer_of(&handle).await
        }
    };

    // A faulty file is refused with where the fault is, and nothing is written.
    let text = String::from_utf8(bytes.clone()).unwrap();
    let duplicate = text.replacen(
        "\"question\": \"Where is my parcel?\"",
        "\"question\": \"how do I reset my PASSWORD\"",
        1,
    );
    assert_ne!(duplicate, text);
    assert_eq!(
        import(OptionValue::file("dup.json", duplicate)).await,
        "\"dup.json\" was not imported (entries[1].question: is the same question as \
         entries[0]); nothing was changed."
    );
    let wrong_format = text.replacen("disconcierge.training", "disconcierge.knowledge_base", 1);
    assert_eq!(
        import(OptionValue::file("kb.json", wrong_format)).await,
        "\"kb.json\" was not imported (format: is \"disconcierge.knowledge_base\"; this file must \
         be a \"disconcierge.training\" export); nothing was changed."
    );
    let broken =
        "{\n  \"format\": \"disconcierge.training\",\n  \"version\": 1\n  \"entries\": []\n}\n";
    let refused = import(OptionValue::file("broken.json", broken)).await;
    assert!(
        refused.starts_with("\"broken.json\" was not imported (line 4, column 3: "),
        "{refused}"
    );
    assert!(refused.ends_with("); nothing was changed."), "{refused}");
    // Those were downloaded and read; a file that is not JSON is refused by its name alone.
    for name in ["dup.json", "kb.json", "broken.json"] {
        assert_eq!(downloads_of(&app, name), 1, "{name}");
    }
    let png = import(OptionValue::file(
        "screenshot.png",
        b"\x89PNG\r\n\x1a\n not json".to_vec(),
    ))
    .await;
    assert_eq!(
        png,
        "\"screenshot.png\" is not a .json file; attach a file made by the matching export command."
    );
    assert_eq!(downloads_of(&app, "screenshot.png"), 0, "never downloaded");
    assert_eq!(app.db().scalar_i64(&games_rows).await, 0);

    // The export imports into the other server: the same entries, and the same file comes out.
    assert_eq!(
        import(OptionValue::file("training.json", bytes.clone())).await,
        "Imported 4 trained answers: 4 new, 0 replaced an earlier answer to the same question."
    );
    assert_eq!(app.db().scalar_i64(&games_rows).await, 4);
    let again = export(actor(&app, &games, "sam"), games_general).await;
    assert_eq!(
        app.discord.attachment_bytes(&again.attachments[0]),
        bytes,
        "the second server holds the same entries"
    );
    // Importing it again replaces rather than duplicates.
    assert_eq!(
        import(OptionValue::file("training.json", bytes.clone())).await,
        "Imported 4 trained answers: 0 new, 4 replaced an earlier answer to the same question."
    );
    assert_eq!(app.db().scalar_i64(&games_rows).await, 4);
    // Each server's entries are its own: the first cannot delete the second's by id.
    let games_entry = app
        .db()
        .scalar_i64(&format!(
            "SELECT MIN(id) FROM training_entries WHERE guild_id = {}",
            games.id().get() as i64
        ))
        .await;
    let refused = slash(
        &tea_sam,
        tea_general,
        "training_delete",
        vec![("id", games_entry.into())],
    )
    .await;
    assert_eq!(
        answer_of(&refused).await,
        format!(
            "There is no trained answer #{games_entry} in this server; /training_list shows their \
             numbers."
        )
    );
    assert_eq!(app.db().scalar_i64(&games_rows).await, 4);
    // The imported answers are used in the second server's tickets.
    let ann = actor(&app, &games, "ann");
    let panel = panel(&app, &games).await;
    let thread = open(&ann, &panel, "Billing").await;
    wait_bot_messages(&app, thread, 1).await;
    ann.post_message(thread, "can I pay by invoice");
    let reply = wait_bot_messages(&app, thread, 2).await;
    assert!(
        reply.content.starts_with("Yes, for orders over 100 euros."),
        "{}",
        reply.content
    );
}

// ----- /status and /test_ai -----

disconcierge_e2e::both!(status_reports_the_database_the_ai_backend_and_the_queue);
async fn status_reports_the_database_the_ai_backend_and_the_queue(backend: Backend) {
    let Some(app) = desk_app(backend).await else {
        return;
    };
    let g = guild(&app, "Tea Shop");
    setup(&app, &g).await;
    let general = g.channel("general");
    let database = match backend {
        Backend::Sqlite => "SQLite",
        Backend::Postgres => "PostgreSQL",
    };
    let status = |expected_queue: &'static str| {
        let sam = actor(&app, &g, "sam");
        let app = &app;
        async move {
            let models_before = app.llm.requests_to(Endpoint::Models).len();
            let handle = slash(&sam, general, "status", vec![]).await;
            let text = answer_of(&handle).await;
            let lines: Vec<&str> = text.lines().collect();
            assert_eq!(lines.len(), 5, "{text}");
            assert_eq!(lines[0], "**Status**");
            assert!(
                lines[1].starts_with("Gateway: ✅ connected since <t:"),
                "{}",
                lines[1]
            );
            let latency = lines[2]
                .strip_prefix(&format!("Database: ✅ {database} answered in "))
                .and_then(|r| r.strip_suffix(" ms"))
                .unwrap_or_else(|| panic!("{text}"));
            assert!(latency.parse::<f64>().unwrap() >= 0.0, "{text}");
            let rtt = lines[3]
                .strip_prefix("AI backend: ✅ openai-chat answered in ")
                .and_then(|r| r.strip_suffix(" ms"))
                .unwrap_or_else(|| panic!("{text}"));
            assert!(rtt.parse::<u64>().is_ok(), "{text}");
            assert_eq!(lines[4], format!("Queue: {expected_queue}"));
            assert_eq!(
                app.llm.requests_to(Endpoint::Models).len(),
                models_before + 1,
                "the AI backend was really asked"
            );
        }
    };
    status("0 chat commands waiting").await;

    // A command queued before a pause waits (paused, only priority users are answered) and is counted.
    let olga = g.user("olga");
    app.store
        .upsert_user(olga.get(), "olga", None)
        .await
        .unwrap();
    app.configure(|c| c.paused = true).await;
    let now = chrono::Utc::now();
    app.store
        .insert_chat_command(disconcierge_core::model::NewChatCommand {
            interaction_id: 4_000_000,
            interaction_token: Default::default(),
            token_expires_at: now + chrono::TimeDelta::minutes(15),
            application_id: 1,
            user_id: olga.get(),
            guild_id: Some(g.id().get()),
            channel_id: Some(general.get()),
            private: false,
            prompt: "hello".into(),
            state: disconcierge_core::model::ChatCommandState::Queued,
            created_at: now,
        })
        .await
        .unwrap();
    wait_count(
        &app,
        "SELECT COUNT(*) FROM chat_commands WHERE state = 'queued'",
        1,
    )
    .await;
    status("1 chat command waiting").await;
}

disconcierge_e2e::both!(test_ai_shows_a_trained_answer_as_is_or_the_llms_answer_with_what_matched);
async fn test_ai_shows_a_trained_answer_as_is_or_the_llms_answer_with_what_matched(
    backend: Backend,
) {
    let Some(app) = desk_app(backend).await else {
        return;
    };
    let g = guild(&app, "Tea Shop");
    setup(&app, &g).await;
    let sam = actor(&app, &g, "sam");
    let general = g.channel("general");
    let trained = train(
        &sam,
        general,
        "How do I reset my password?",
        "Use the reset link on the login page.",
        None,
    )
    .await;
    slash(&sam, general, "kb_create", vec![("name", "faq".into())])
        .await
        .wait_ack()
        .await;
    let added = slash(
        &sam,
        general,
        "kb_add",
        vec![
            ("kb", "faq".into()),
            ("title", "Password reset email".into()),
            (
                "content",
                "The password reset email can take ten minutes to arrive; check the spam folder."
                    .into(),
            ),
        ],
    )
    .await;
    let added = answer_of(&added).await;
    let kb_entry: i64 = added
        .strip_prefix("Added entry #")
        .and_then(|r| r.split_once(' '))
        .and_then(|(id, _)| id.parse().ok())
        .unwrap_or_else(|| panic!("{added}"));

    // Above the threshold: the trained answer as is, and the LLM is not asked.
    let sure = slash(
        &sam,
        general,
        "test_ai",
        vec![("prompt", "how do I reset my password".into())],
    )
    .await;
    let text = answer_of(&sure).await;
    assert!(
        text.starts_with(&format!(
            "**Trained answer #{trained} sent as is** (confidence 1.00 ≥ 0.85; the LLM is not asked)\n"
        )),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "\n**Matches**\n- trained #{trained} 1.00 — How do I reset my password?\n"
        )),
        "{text}"
    );
    assert!(
        text.ends_with("\n**Answer**\nUse the reset link on the login page."),
        "{text}"
    );
    assert!(chat_requests(&app).is_empty(), "no LLM request");

    // Below the threshold: the LLM answers, given what matched.
    app.llm.push_reply(Reply::text(
        "It can take ten minutes; check your spam folder.",
    ));
    let unsure = slash(
        &sam,
        general,
        "test_ai",
        vec![("prompt", "the password reset email never arrived".into())],
    )
    .await;
    let text = answer_of(&unsure).await;
    assert!(
        text.starts_with("**Answered by the LLM** with 2 reference entries\n"),
        "{text}"
    );
    let confidence = |kind: &str, id: i64| -> f64 {
        let prefix = format!("\n- {kind} #{id} ");
        let at = text
            .find(&prefix)
            .unwrap_or_else(|| panic!("no {kind} #{id} in {text}"));
        text[at + prefix.len()..]
            .split_whitespace()
            .next()
            .unwrap()
            .parse()
            .unwrap()
    };
    let trained_confidence = confidence("trained", trained);
    assert!(
        (0.2..0.85).contains(&trained_confidence),
        "below the threshold: {text}"
    );
    assert!(confidence("knowledge", kb_entry) >= 0.2, "{text}");
    assert!(
        text.contains("(faq) — Password reset email\n"),
        "the knowledge base is named: {text}"
    );
    assert!(
        text.ends_with("\n**Answer**\nIt can take ten minutes; check your spam folder."),
        "{text}"
    );
    let requests = chat_requests(&app);
    assert_eq!(requests.len(), 1);
    let system = system_message(&requests[0]);
    for part in [
        "We sell tea.",
        "Answer the staff gave to \"How do I reset my password?\":\nUse the reset link on the login page.",
        "Password reset email (knowledge base \"faq\"):\nThe password reset email can take ten minutes",
    ] {
        assert!(system.contains(part), "{part:?} not in {system}");
    }
    assert_eq!(
        requests[0]["messages"].as_array().unwrap().last().unwrap()["content"],
        "the password reset email never arrived"
    );
    // Trying is not using: no counts change, no ticket is made.
    assert_eq!(
        app.db()
            .scalar_i64("SELECT uses FROM training_entries")
            .await,
        0
    );
    assert_eq!(app.db().scalar_i64("SELECT COUNT(*) FROM tickets").await, 0);
}

// ----- Escalation: letting the AI answer again -----

disconcierge_e2e::both!(only_staff_let_the_ai_answer_again_after_an_escalation);
async fn only_staff_let_the_ai_answer_again_after_an_escalation(backend: Backend) {
    let Some(app) = desk_app(backend).await else {
        return;
    };
    let g = guild(&app, "Tea Shop");
    setup(&app, &g).await;
    let (sam, ann, hank) = (
        actor(&app, &g, "sam"),
        actor(&app, &g, "ann"),
        actor(&app, &g, "hank"),
    );
    let panel = panel(&app, &g).await;
    let thread = open(&ann, &panel, "Technical").await;
    let tid = ticket_id(&app, thread).await;
    let welcome = wait_bot_messages(&app, thread, 1).await;
    let human = ann
        .click_button(welcome.id, &format!("dct:human:{tid}"), Via::Gateway)
        .await;
    assert!(answer_of(&human).await.starts_with("Staff have been asked"));
    let escalation = wait_bot_messages(&app, thread, 2).await;
    assert!(
        escalation
            .content
            .ends_with("ann would like to talk to a human."),
        "{}",
        escalation.content
    );
    let resume = format!("dct:resume:{tid}");
    assert!(!disabled(&escalation, &resume));

    // Escalated: the AI stays quiet. The message is stored, then handled: its reply is recorded as
    // skipped (it would be 'done' had the AI been asked).
    let hello = ann.post_message(thread, "Hello? The kettle does not heat.");
    wait_count(
        &app,
        &format!("SELECT message_count FROM tickets WHERE id = {tid}"),
        3,
    )
    .await;
    wait_count(
        &app,
        &format!(
            "SELECT COUNT(*) FROM ticket_messages WHERE message_id = {} AND reply_state = 'skipped'",
            hello.id.get()
        ),
        1,
    )
    .await;
    assert!(chat_requests(&app).is_empty());

    // Neither the opener nor a moderator without the staff role can turn the AI back on.
    let escalated =
        format!("SELECT COUNT(*) FROM tickets WHERE id = {tid} AND state = 'escalated'");
    for who in [&ann, &hank] {
        let refused = who.click_button(escalation.id, &resume, Via::Gateway).await;
        assert_eq!(
            answer_of(&refused).await,
            "Only staff can do this (the staff role from /setup, or Manage Server)."
        );
        assert_eq!(app.db().scalar_i64(&escalated).await, 1);
    }
    let unchanged = app
        .discord
        .messages_in(thread)
        .into_iter()
        .find(|m| m.id == escalation.id)
        .unwrap();
    assert_eq!(unchanged.content, escalation.content);

    // Staff can: the message says who, loses its button, and the opener's next message is answered.
    let resumed = sam.click_button(escalation.id, &resume, Via::Gateway).await;
    assert_eq!(
        answer_of(&resumed).await,
        "sam let the assistant answer again in this ticket."
    );
    let updated = app
        .discord
        .try_wait_for(Duration::from_secs(10), |w| {
            w.messages
                .get(&escalation.id)
                .filter(|m| m.content.starts_with("sam let"))
                .cloned()
        })
        .await
        .unwrap();
    assert!(updated.components.is_empty(), "{:#?}", updated.components);
    assert_eq!(
        app.db()
            .scalar_i64(&format!(
                "SELECT COUNT(*) FROM tickets WHERE id = {tid} AND state = 'open'"
            ))
            .await,
        1
    );
    app.llm.push_reply(Reply::text("Try another socket."));
    ann.post_message(thread, "Still broken, any idea?");
    let answer = wait_bot_messages(&app, thread, 3).await;
    assert_eq!(answer.content, "Try another socket.");
    assert_eq!(bot_message_count(&app, thread), 3);
    let request = &chat_requests(&app)[0];
    assert_eq!(
        request["messages"].as_array().unwrap().last().unwrap()["content"],
        "Still broken, any idea?"
    );
    app.discord.assert_no_violations();
}

// ----- /setup -----

disconcierge_e2e::both!(setup_is_for_server_managers_and_running_it_again_changes_the_settings);
async fn setup_is_for_server_managers_and_running_it_again_changes_the_settings(backend: Backend) {
    let Some(app) = desk_app(backend).await else {
        return;
    };
    let g = guild(&app, "Tea Shop");
    setup(&app, &g).await;
    let general = g.channel("general");
    let gid = g.id().get();
    let hank = g.user("hank");

    // Discord's side: /setup is offered only to members with Manage Server, which hank lacks.
    let (required, hank_has) = app.discord.world(|w| {
        let setup = w
            .global_commands
            .iter()
            .chain(w.guild_commands.values().flatten())
            .find(|c| c.name == "setup")
            .expect("/setup is registered")
            .clone();
        (
            setup.default_member_permissions,
            w.permissions(g.id(), hank),
        )
    });
    assert_eq!(required, Some(Permissions::MANAGE_GUILD));
    assert!(!hank_has.contains(Permissions::MANAGE_GUILD));

    // The bot's side: had the server let everyone use /setup (Server Settings → Integrations), Discord
    // would deliver hank's command; the bot refuses it. The simulator cannot change a command's
    // permissions, so the delivery is the owner's interaction with hank as the member, signed as
    // Discord signs it.
    let url = app.webhook_url.clone().unwrap();
    let prepared = actor(&app, &g, "olga")
        .run_slash_command(
            general,
            "setup",
            vec![
                ("forum_channel", OptionValue::from(g.channel("tickets"))),
                ("staff_role", g.role("Helpers").into()),
            ],
            Via::Prepared,
        )
        .await;
    let mut body: serde_json::Value =
        serde_json::from_str(&prepared.prepared().unwrap().body).unwrap();
    let (user, roles) = app.discord.world(|w| {
        (
            w.users[&hank].clone(),
            w.guilds[&g.id()].members[&hank].roles.clone(),
        )
    });
    body["member"]["user"] = serde_json::to_value(&user).unwrap();
    body["member"]["roles"] = serde_json::to_value(&roles).unwrap();
    body["member"]["permissions"] = hank_has.bits().to_string().into();
    let answer = app
        .discord
        .webhook(&url)
        .send_raw(&body.to_string(), Signing::Valid)
        .await;
    prepared.complete(&url, answer.status, answer.body.clone());
    assert_eq!(
        answer_of(&prepared).await,
        "Only members with Manage Server (or the staff role) can run /setup."
    );
    let settings = app.store.guild_settings(gid).await.unwrap().unwrap();
    assert_eq!(settings.staff_role_id, g.role("Staff").get(), "unchanged");
    assert_eq!(settings.log_channel_id, Some(g.channel("ticket-log").get()));

    // mia manages the server through a role (not as owner): she sets it up again, differently.
    let mia = actor(&app, &g, "mia");
    let again = slash(
        &mia,
        general,
        "setup",
        vec![
            ("forum_channel", g.channel("tickets").into()),
            ("staff_role", g.role("Helpers").into()),
            ("instructions", "  We sell coffee now.  ".into()),
            ("auto_close_hours", 24i64.into()),
        ],
    )
    .await;
    assert_eq!(
        answer_of(&again).await,
        format!(
            "Support tickets are set up: posts in <#{}>, staff role <@&{}>, with your instructions \
             for the AI.\nNext: `/ticket_panel` in the channel where members should open tickets.",
            g.channel("tickets"),
            g.role("Helpers")
        )
    );
    let settings = app.store.guild_settings(gid).await.unwrap().unwrap();
    assert_eq!(settings.staff_role_id, g.role("Helpers").get());
    assert_eq!(settings.log_channel_id, None, "no log channel any more");
    assert_eq!(
        settings.instructions.as_deref(),
        Some("We sell coffee now.")
    );
    assert_eq!(settings.auto_close_after_secs, Some(24 * 3600));
    assert_eq!(settings.updated_by, g.user("mia").get());
    assert_eq!(
        app.db()
            .scalar_i64("SELECT COUNT(*) FROM guild_settings")
            .await,
        1
    );

    // The new staff role is staff now, the old one is not.
    let hank_list = slash(&actor(&app, &g, "hank"), general, "kb_list", vec![]).await;
    assert!(
        answer_of(&hank_list)
            .await
            .starts_with("**Knowledge bases**")
    );
    let sam_list = slash(&actor(&app, &g, "sam"), general, "kb_list", vec![]).await;
    assert!(
        answer_of(&sam_list)
            .await
            .starts_with("Only staff can do this")
    );
    // Tickets use the new instructions.
    let ann = actor(&app, &g, "ann");
    let panel = panel(&app, &g).await;
    let thread = open(&ann, &panel, "Other").await;
    wait_bot_messages(&app, thread, 1).await;
    app.llm.push_reply(Reply::text("We do."));
    ann.post_message(thread, "Do you sell espresso beans?");
    wait_bot_messages(&app, thread, 2).await;
    let system = system_message(&chat_requests(&app)[0]);
    assert!(system.contains("We sell coffee now."), "{system}");
    assert!(!system.contains("We sell tea."), "{system}");
    app.discord.assert_no_violations();
}

disconcierge_e2e::both!(a_category_too_long_for_page_buttons_is_still_listed);
async fn a_category_too_long_for_page_buttons_is_still_listed(backend: Backend) {
    let Some(app) = desk_app(backend).await else {
        return;
    };
    let g = guild(&app, "Tea Shop");
    setup(&app, &g).await;
    let sam = actor(&app, &g, "sam");
    let general = g.channel("general");
    // /train and /training_list accept categories of up to 100 characters, but a button's custom id
    // holds at most 100 bytes, prefix and page number included.
    let category = format!("Long {}", "x".repeat(90));
    for i in 1..=11 {
        train(
            &sam,
            general,
            &format!("Question number {i} about kettles?"),
            &format!("Answer {i}."),
            Some(&category),
        )
        .await;
    }
    let list = slash(
        &sam,
        general,
        "training_list",
        vec![("category", category.as_str().into())],
    )
    .await;
    let shown = list.wait_original(|m| !m.content.is_empty()).await;
    assert!(
        shown.content.starts_with(&format!(
            "**Trained answers in {category}** — 11 in all, page 1 of 2\n"
        )),
        "{}",
        shown.content
    );
    assert!(shown.content.contains("Question number 10 about kettles?"));
    assert!(
        shown.content.ends_with(
            "\n-# This category's name is too long for page buttons: use the page option of \
             /training_list."
        ),
        "{}",
        shown.content
    );
    assert!(shown.components.is_empty(), "{:#?}", shown.components);
    // The page option still reaches the rest.
    let page2 = slash(
        &sam,
        general,
        "training_list",
        vec![
            ("category", category.as_str().into()),
            ("page", 2i64.into()),
        ],
    )
    .await;
    let text = answer_of(&page2).await;
    assert!(text.contains("page 2 of 2"), "{text}");
    assert!(text.contains("Question number 11 about kettles?"), "{text}");
    app.discord.assert_no_violations();
}

disconcierge_e2e::both!(
    letting_the_ai_answer_again_in_a_closed_ticket_is_refused_and_changes_nothing
);
async fn letting_the_ai_answer_again_in_a_closed_ticket_is_refused_and_changes_nothing(
    backend: Backend,
) {
    let Some(app) = desk_app(backend).await else {
        return;
    };
    let g = guild(&app, "Tea Shop");
    setup(&app, &g).await;
    let (sam, ann) = (actor(&app, &g, "sam"), actor(&app, &g, "ann"));
    let panel = panel(&app, &g).await;
    let thread = open(&ann, &panel, "Technical").await;
    let tid = ticket_id(&app, thread).await;
    let welcome = wait_bot_messages(&app, thread, 1).await;
    let human = ann
        .click_button(welcome.id, &format!("dct:human:{tid}"), Via::Gateway)
        .await;
    answer_of(&human).await;
    let escalation = wait_bot_messages(&app, thread, 2).await;
    let close = slash(&ann, thread, "close_ticket", vec![]).await;
    close.wait_original(|m| !m.content.is_empty()).await;
    wait_count(
        &app,
        &format!("SELECT COUNT(*) FROM tickets WHERE id = {tid} AND state = 'closed'"),
        1,
    )
    .await;
    let resumed = sam
        .click_button(escalation.id, &format!("dct:resume:{tid}"), Via::Gateway)
        .await;
    let ack = resumed.wait_ack().await;
    assert_eq!(
        ack.response.kind,
        InteractionResponseType::ChannelMessageWithSource,
        "a private answer; the escalation message is left as it was"
    );
    assert_eq!(answer_of(&resumed).await, "This ticket is closed.");
    let now = app.discord.world(|w| w.messages[&escalation.id].clone());
    assert_eq!(now.content, escalation.content);
    assert_eq!(
        app.db()
            .scalar_i64(&format!(
                "SELECT COUNT(*) FROM tickets WHERE id = {tid} AND state = 'closed'"
            ))
            .await,
        1
    );
}
