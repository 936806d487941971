//! A ticket's Claim, Close and Reopen buttons end to end, on both databases: staff claim it (members
//! cannot), staff ask to close and the opener keeps it open, the opener closes it with a confirmation,
//! another member cannot reopen it, the opener does, and the reopened ticket is answered again.

use disconcierge_discord_sim::Via;
use disconcierge_discord_sim::twilight_model::id::Id;
use disconcierge_discord_sim::twilight_model::id::marker::ChannelMarker;
use disconcierge_e2e::desk::*;
use disconcierge_e2e::{Backend, TestApp};
use disconcierge_llm_sim::Reply;
use std::time::Duration;

/// Whether `thread` is archived and locked, once it is `closed`.
async fn thread_closed(app: &TestApp, thread: Id<ChannelMarker>, closed: bool) {
    app.discord
        .try_wait_for(Duration::from_secs(10), |w| {
            w.channels[&thread]
                .thread_metadata
                .as_ref()
                .filter(|m| m.archived == closed && m.locked == closed)
                .map(|_| ())
        })
        .await
        .unwrap_or_else(|r| {
            panic!(
                "the thread is not {}: {r}",
                if closed { "closed" } else { "open" }
            )
        });
}

disconcierge_e2e::both!(claim_close_with_confirmation_and_reopen);
async fn claim_close_with_confirmation_and_reopen(backend: Backend) {
    let Some(app) = desk_app(backend).await else {
        return;
    };
    let g = guild(&app, "Tea Shop");
    setup(&app, &g).await;
    let panel = panel(&app, &g).await;
    let (ann, sam, bob) = (
        actor(&app, &g, "ann"),
        actor(&app, &g, "sam"),
        actor(&app, &g, "bob"),
    );
    let thread = open(&ann, &panel, "Billing").await;
    let welcome = wait_bot_messages(&app, thread, 1).await;
    for button in ["dct:human:", "dct:claim:", "dct:close:"] {
        assert!(
            has_button(&welcome, button),
            "{button}: {:?}",
            welcome.components
        );
    }
    let id = ticket_id(&app, thread).await;

    // Claim: members cannot, staff can; recorded.
    let claim = format!("dct:claim:{id}");
    let refused = answer_of(&ann.click_button(welcome.id, &claim, Via::Gateway).await).await;
    assert_eq!(refused, "Only staff can claim a ticket.");
    let claimed = answer_of(&sam.click_button(welcome.id, &claim, Via::Gateway).await).await;
    assert_eq!(claimed, "🙋 sam claimed this ticket and will handle it.");
    let sql = format!(
        "SELECT COUNT(*) FROM tickets WHERE id = {id} AND claimed_by = {}",
        sam.id().get() as i64
    );
    wait_count(&app, &sql, 1).await;
    let log = g.channel("ticket-log");
    wait_message(&app, log, |m| {
        m.content
            .starts_with(&format!("🙋 Ticket #{id} claimed by <@{}>", sam.id()))
    })
    .await;

    // Staff ask to close; the opener keeps it open.
    let close = format!("dct:close:{id}");
    let asked = sam.click_button(welcome.id, &close, Via::Gateway).await;
    let request = asked.wait_original(|m| !m.content.is_empty()).await;
    assert!(
        request
            .content
            .starts_with("sam suggests closing this ticket.")
            && request.content.contains(&format!("<@{}>", ann.id())),
        "{}",
        request.content
    );
    let kept = answer_of(
        &ann.click_button(request.id, &format!("dct:keep:{id}"), Via::Gateway)
            .await,
    )
    .await;
    assert_eq!(kept, "ann keeps this ticket open.");
    wait_count(
        &app,
        &format!("SELECT COUNT(*) FROM tickets WHERE id = {id} AND state = 'open'"),
        1,
    )
    .await;

    // The opener closes it: asked to confirm (only they see it), then closed with a Reopen button.
    let confirm = ann.click_button(welcome.id, &close, Via::Gateway).await;
    let question = confirm.wait_original(|m| !m.content.is_empty()).await;
    assert!(
        is_ephemeral(&question),
        "only the opener sees the confirmation"
    );
    let done = ann
        .click_button(question.id, &format!("dct:closeok:{id}"), Via::Gateway)
        .await;
    let announced = done.wait_original(|m| !m.content.is_empty()).await;
    assert_eq!(
        announced.content,
        format!(
            "🔒 Ticket closed by <@{}>: confirmed by the opener",
            ann.id()
        )
    );
    assert!(has_button(&announced, &format!("dct:reopen:{id}")));
    thread_closed(&app, thread, true).await;
    let closed_log = wait_message(&app, log, |m| m.content.contains("closed by")).await;
    let transcript =
        String::from_utf8(app.discord.attachment_bytes(&closed_log.attachments[0])).unwrap();
    assert!(
        transcript.contains(&format!("claimed by {}", sam.id())),
        "{transcript}"
    );

    // Another member cannot reopen it; the opener can, and the ticket works again.
    let reopen = format!("dct:reopen:{id}");
    let refused = answer_of(&bob.click_button(announced.id, &reopen, Via::Gateway).await).await;
    assert_eq!(
        refused,
        "Only the member who opened this ticket, or staff, can reopen it."
    );
    let reopened = answer_of(&ann.click_button(announced.id, &reopen, Via::Gateway).await).await;
    assert_eq!(reopened, "Reopened: the ticket is open again.");
    thread_closed(&app, thread, false).await;
    wait_message(&app, thread, |m| m.content == "🔓 Ticket reopened by ann.").await;
    wait_message(&app, log, |m| {
        m.content
            .starts_with(&format!("🔓 Ticket #{id} reopened by <@{}>", ann.id()))
    })
    .await;
    let again = answer_of(&ann.click_button(announced.id, &reopen, Via::Gateway).await).await;
    assert_eq!(again, "This ticket is open.");
    let before = bot_message_count(&app, thread);
    app.llm.push_reply(Reply::text("Welcome back."));
    ann.post_message(thread, "One more question.");
    let answer = wait_bot_messages(&app, thread, before + 1).await;
    assert_eq!(answer.content, "Welcome back.");
    app.discord.assert_no_violations();
    app.stop().await;
}

disconcierge_e2e::both!(staff_add_and_remove_members_of_a_ticket);
async fn staff_add_and_remove_members_of_a_ticket(backend: Backend) {
    let Some(app) = desk_app(backend).await else {
        return;
    };
    let g = guild(&app, "Tea Shop");
    setup(&app, &g).await;
    let (ann, sam, bob) = (
        actor(&app, &g, "ann"),
        actor(&app, &g, "sam"),
        actor(&app, &g, "bob"),
    );
    let thread = open(&ann, &panel(&app, &g).await, "Billing").await;
    wait_bot_messages(&app, thread, 1).await;
    let in_thread = |who: &disconcierge_discord_sim::Actor| {
        let id = who.id();
        app.discord.world(|w| {
            w.thread_members
                .get(&thread)
                .is_some_and(|m| m.contains(&id))
        })
    };
    assert!(!in_thread(&bob));

    // Members do not even see the command (Discord hides it: it needs Manage Messages); a moderator
    // who sees it but is not staff is refused; staff can, and it is logged.
    let hank = actor(&app, &g, "hank");
    let refused = answer_of(
        &slash(
            &hank,
            thread,
            "ticket_add",
            vec![("member", bob.id().into())],
        )
        .await,
    )
    .await;
    assert!(refused.contains("staff"), "{refused}");
    assert!(!in_thread(&bob));
    let added = answer_of(
        &slash(
            &sam,
            thread,
            "ticket_add",
            vec![("member", bob.id().into())],
        )
        .await,
    )
    .await;
    assert_eq!(
        added,
        format!("➕ sam added <@{}> to this ticket.", bob.id())
    );
    assert!(in_thread(&bob));
    wait_message(&app, g.channel("ticket-log"), |m| {
        m.content.starts_with(&format!(
            "➕ <@{}> added <@{}> in ticket #",
            sam.id(),
            bob.id()
        ))
    })
    .await;

    let removed = answer_of(
        &slash(
            &sam,
            thread,
            "ticket_remove",
            vec![("member", bob.id().into())],
        )
        .await,
    )
    .await;
    assert_eq!(
        removed,
        format!("➖ sam removed <@{}> from this ticket.", bob.id())
    );
    assert!(!in_thread(&bob));
    let opener = answer_of(
        &slash(
            &sam,
            thread,
            "ticket_remove",
            vec![("member", ann.id().into())],
        )
        .await,
    )
    .await;
    assert!(
        opener.starts_with("The member who opened the ticket stays in it"),
        "{opener}"
    );
    assert!(in_thread(&ann));
    // Outside a ticket.
    let elsewhere = answer_of(
        &slash(
            &sam,
            g.channel("general"),
            "ticket_add",
            vec![("member", bob.id().into())],
        )
        .await,
    )
    .await;
    assert_eq!(elsewhere, "Use this inside a ticket.");
    app.discord.assert_no_violations();
    app.stop().await;
}
