//! Fair use of the model between tickets and `/chat`, end to end on both databases: a server's limit on
//! AI replies to one member (set with `/setup`, staff excepted) tells the member when the AI answers
//! again, and the desk's own LLM budget (`desk_llm_requests_per_second`) holds ticket replies back while
//! `/chat` keeps answering at its own.

use disconcierge_discord_sim::Via;
use disconcierge_e2e::desk::*;
use disconcierge_e2e::{Backend, TestApp};
use disconcierge_llm_sim::Reply;

/// The reply state of the opener's message `content` in `thread`, once settled.
async fn settled(app: &TestApp, thread: u64, content: &str, state: &str) {
    let sql = format!(
        "SELECT COUNT(*) FROM ticket_messages m JOIN tickets t ON t.id = m.ticket_id \
         WHERE t.thread_id = {} AND m.content = '{content}' AND m.reply_state = '{state}'",
        thread as i64
    );
    wait_count(app, &sql, 1).await;
}

disconcierge_e2e::both!(a_member_over_the_limit_is_told_when_and_staff_are_not_limited);
async fn a_member_over_the_limit_is_told_when_and_staff_are_not_limited(backend: Backend) {
    let Some(app) = desk_app(backend).await else {
        return;
    };
    let g = guild(&app, "Tea Shop");
    setup(&app, &g).await;
    let said = setup_with(&app, &g, vec![("member_replies_per_6h", 2i64.into())]).await;
    assert!(
        said.contains("AI replies to each member (staff excepted): at most 2 in 6 hours"),
        "{said}"
    );
    let panel = panel(&app, &g).await;
    let ann = actor(&app, &g, "ann");
    let thread = open(&ann, &panel, "Billing").await;
    wait_bot_messages(&app, thread, 1).await;
    for (i, question) in ["First question?", "Second question?"].iter().enumerate() {
        app.llm.push_reply(Reply::text(format!("Answer {i}.")));
        ann.post_message(thread, question);
        let answer = wait_bot_messages(&app, thread, 2 + i).await;
        assert_eq!(answer.content, format!("Answer {i}."));
        settled(&app, thread.get(), question, "done").await;
    }
    ann.post_message(thread, "Third question?");
    let told = wait_bot_messages(&app, thread, 4).await;
    assert!(
        told.content.starts_with(
            "ann: The AI answers each member at most 2 times in 6 hours here; it answers again <t:"
        ) && told
            .content
            .ends_with(":R>. Staff can still help you in this ticket."),
        "{}",
        told.content
    );
    // About 6 hours after the first answered message.
    let when: i64 = told
        .content
        .split("<t:")
        .nth(1)
        .unwrap()
        .split(':')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let in_6h = chrono::Utc::now().timestamp() + 6 * 3600;
    assert!((in_6h - 60..=in_6h).contains(&when), "{when} vs {in_6h}");
    settled(&app, thread.get(), "Third question?", "skipped").await;
    assert_eq!(
        chat_requests(&app).len(),
        2,
        "the model was not asked a third time"
    );

    // A member of staff who opens a ticket is not limited.
    let sam = actor(&app, &g, "sam");
    let own = open(&sam, &panel, "Technical").await;
    wait_bot_messages(&app, own, 1).await;
    for (i, question) in ["Staff one?", "Staff two?", "Staff three?"]
        .iter()
        .enumerate()
    {
        app.llm
            .push_reply(Reply::text(format!("Staff answer {i}.")));
        sam.post_message(own, question);
        let answer = wait_bot_messages(&app, own, 2 + i).await;
        assert_eq!(answer.content, format!("Staff answer {i}."));
    }

    // Another server allows one reply an hour: the second question is told so, and when.
    let other = guild(&app, "Coffee Shop");
    setup(&app, &other).await;
    setup_with(
        &app,
        &other,
        vec![("member_reply_interval", 3600i64.into())],
    )
    .await;
    let bob = actor(&app, &other, "bob");
    let other_panel = disconcierge_e2e::desk::panel(&app, &other).await;
    let thread = open(&bob, &other_panel, "Billing").await;
    wait_bot_messages(&app, thread, 1).await;
    app.llm.push_reply(Reply::text("Hourly answer."));
    bob.post_message(thread, "First?");
    assert_eq!(
        wait_bot_messages(&app, thread, 2).await.content,
        "Hourly answer."
    );
    settled(&app, thread.get(), "First?", "done").await;
    bob.post_message(thread, "Second?");
    let told = wait_bot_messages(&app, thread, 3).await;
    assert!(
        told.content.starts_with(
            "bob: The AI answers each member at most once every 1h here; it answers again <t:"
        ),
        "{}",
        told.content
    );
    settled(&app, thread.get(), "Second?", "skipped").await;
    app.discord.assert_no_violations();
    app.stop().await;
}

disconcierge_e2e::both!(chat_keeps_answering_while_the_desk_budget_holds_tickets_back);
async fn chat_keeps_answering_while_the_desk_budget_holds_tickets_back(backend: Backend) {
    let Some(app) = desk_app(backend).await else {
        return;
    };
    // One ticket reply every 100 s; /chat keeps its default budget.
    app.configure(|c| c.desk_llm_requests_per_second = 0.01)
        .await;
    let g = guild(&app, "Tea Shop");
    setup(&app, &g).await;
    let ann = actor(&app, &g, "ann");
    let thread = open(&ann, &panel(&app, &g).await, "Billing").await;
    wait_bot_messages(&app, thread, 1).await;
    app.llm.push_reply(Reply::text("Ticket answer."));
    ann.post_message(thread, "First?");
    assert_eq!(
        wait_bot_messages(&app, thread, 2).await.content,
        "Ticket answer."
    );
    settled(&app, thread.get(), "First?", "done").await;
    // The next ticket reply waits for the desk's next slot, 100 s away ...
    ann.post_message(thread, "Second?");
    let waiting = "SELECT COUNT(*) FROM ticket_messages WHERE content = 'Second?' AND reply_state = 'answering'";
    wait_count(&app, waiting, 1).await;
    // ... while /chat is answered at once, from its own budget.
    app.llm.push_reply(Reply::text("Chat answer."));
    let asked = app
        .discord
        .user(g.user("bob"))
        .run_slash_command(
            g.channel("general"),
            "chat",
            [("prompt", "hello")],
            Via::Gateway,
        )
        .await;
    let answer = asked
        .wait_original(|m| m.content.starts_with("Chat answer."))
        .await;
    assert!(
        answer.content.starts_with("Chat answer."),
        "{}",
        answer.content
    );
    assert_eq!(
        bot_message_count(&app, thread),
        2,
        "the ticket reply still waits"
    );
    app.discord.assert_no_violations();
    app.stop().await;
}
