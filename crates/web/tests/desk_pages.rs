//! The support-desk pages and API (tickets, trained answers, knowledge bases) through HTTP requests to the
//! real router, on a real database: SQLite, and PostgreSQL when `DC_TEST_POSTGRES_URL` is set (as
//! `tests/web.rs`, with the same harness).

use axum::http::{Method, StatusCode, header};
use chrono::{TimeDelta, Utc};
use disconcierge_core::desk::model::{
    EntryKind, GuildSettings, NewKbEntry, NewTicket, NewTicketMessage, NewTrainingEntry,
    ReplySource, Ticket, TicketAuthor, TrainOutcome, UsedEntry,
};
use disconcierge_core::desk::retrieval::query_terms;
use disconcierge_core::desk::transfer;
use disconcierge_store::testing::TestDb;
use disconcierge_store::{KbCreated, TicketReservation};
use serde_json::{Value, json};
use std::time::Duration;

mod common;

use common::*;

/// Two guilds; A sorts first, so it is the one shown when none is asked for.
const A: u64 = 111;
const B: u64 = 222;

impl Web {
    /// Signs in and reads the CSRF token of a page's forms.
    async fn sign_in_with_csrf(&self) -> (String, String) {
        let cookie = self.sign_in().await;
        let page = self.get("/disconcierge", Some(&cookie)).await;
        (cookie, csrf_in(&page.body))
    }

    // ----- Desk data, written through the store -----

    /// A ticket with a thread.
    async fn ticket(&self, guild_id: u64, opener_id: u64, category: &str) -> Ticket {
        let reserved = match self
            .store()
            .reserve_ticket(
                &NewTicket {
                    guild_id,
                    category: category.into(),
                    opener_id,
                    opener_name: format!("member{opener_id}"),
                    created_at: Utc::now(),
                },
                Duration::from_secs(300),
            )
            .await
            .unwrap()
        {
            TicketReservation::Reserved(t) => t,
            other => panic!("expected a new ticket, got {other:?}"),
        };
        self.store()
            .attach_ticket_thread(reserved.id, 9_000 + reserved.id as u64)
            .await
            .unwrap()
    }

    async fn message(
        &self,
        ticket: &Ticket,
        message_id: u64,
        author: TicketAuthor,
        content: &str,
        source: Option<ReplySource>,
        used: Vec<UsedEntry>,
    ) {
        self.store()
            .record_ticket_message(&NewTicketMessage {
                ticket_id: ticket.id,
                message_id,
                author_id: if author == TicketAuthor::Bot {
                    1
                } else {
                    ticket.opener_id
                },
                author_name: format!("{}-name", author.as_str()),
                author,
                content: content.into(),
                source,
                used,
                created_at: Utc::now() + TimeDelta::seconds(message_id as i64),
            })
            .await
            .unwrap()
            .unwrap();
    }

    async fn train(
        &self,
        guild_id: u64,
        question: &str,
        answer: &str,
        category: Option<&str>,
    ) -> i64 {
        match self
            .store()
            .train(
                &NewTrainingEntry {
                    guild_id,
                    question: question.into(),
                    answer: answer.into(),
                    category: category.map(str::to_string),
                    tags: vec!["tag".into()],
                    created_by: 5,
                },
                Utc::now(),
            )
            .await
            .unwrap()
        {
            TrainOutcome::Created(e) => e.id,
            other => panic!("expected a new entry, got {other:?}"),
        }
    }

    async fn kb(&self, guild_id: u64, name: &str) -> i64 {
        match self
            .store()
            .create_kb(guild_id, name, Some("about things"), 5, Utc::now())
            .await
            .unwrap()
        {
            KbCreated::Created(kb) => kb.id,
            other => panic!("expected a new knowledge base, got {other:?}"),
        }
    }

    async fn kb_entry(&self, kb_id: i64, title: &str, content: &str) -> i64 {
        self.store()
            .add_kb_entry(
                kb_id,
                &NewKbEntry {
                    title: title.into(),
                    content: content.into(),
                    tags: vec!["docs".into()],
                },
                5,
                Utc::now(),
            )
            .await
            .unwrap()
            .id
    }

    async fn training_count(&self, guild_id: u64) -> u64 {
        self.store()
            .list_training(guild_id, None, 0, 1)
            .await
            .unwrap()
            .1
    }
}

/// `s` as askama writes it into HTML.
fn html(s: &str) -> String {
    s.replace('&', "&#38;")
        .replace('<', "&#60;")
        .replace('>', "&#62;")
        .replace('"', "&#34;")
        .replace('\'', "&#39;")
}

/// `n` in the `id="…"` of a redirect's `id=` / `entry=` parameter.
fn param(location: &str, name: &str) -> String {
    location
        .split(['?', '&'])
        .find_map(|p| p.strip_prefix(&format!("{name}=")))
        .unwrap_or_else(|| panic!("no {name} in {location}"))
        .to_string()
}

const SCRIPT: &str = "<script>alert(1)</script>";

fn assert_escaped(page: &Reply, what: &str) {
    assert!(!page.body.contains(SCRIPT), "{what}: raw script");
    assert!(
        page.body.contains(&html(SCRIPT)),
        "{what}: not shown escaped"
    );
}

// ----- Tickets -----

#[tokio::test]
async fn tickets_are_listed_by_state_and_opener_and_shown_with_their_transcript() {
    for db in TestDb::each().await {
        let web = Web::new(db).await;
        let trained = web
            .train(A, "How do I reset my password?", "Use the link.", None)
            .await;
        let faq = web.kb(A, "faq").await;
        let refunds = web.kb_entry(faq, "Refunds", "Within 30 days.").await;
        let gone = web.train(A, "Deleted question?", "Gone.", None).await;
        web.store().delete_training(A, gone).await.unwrap();

        let open = web.ticket(A, 7, "billing").await;
        let escalated = web.ticket(A, 8, "billing").await;
        let closed = web.ticket(A, 7, "shipping").await;
        let other = web.ticket(B, 7, "bravo-category").await;
        web.store()
            .escalate_ticket(escalated.id, Utc::now())
            .await
            .unwrap();
        web.store()
            .close_ticket(closed.id, 555, Some("<b>solved</b>"), Utc::now())
            .await
            .unwrap();

        web.message(
            &open,
            1,
            TicketAuthor::Opener,
            &format!("{SCRIPT} my password?"),
            None,
            vec![],
        )
        .await;
        web.message(
            &open,
            2,
            TicketAuthor::Bot,
            "Use the link.",
            Some(ReplySource::Trained),
            vec![
                UsedEntry {
                    kind: EntryKind::Training,
                    id: trained,
                    confidence: 0.92,
                },
                UsedEntry {
                    kind: EntryKind::Knowledge,
                    id: refunds,
                    confidence: 0.5,
                },
                UsedEntry {
                    kind: EntryKind::Training,
                    id: gone,
                    confidence: 0.3,
                },
            ],
        )
        .await;
        web.message(
            &open,
            3,
            TicketAuthor::Staff,
            "Did that work?",
            None,
            vec![],
        )
        .await;

        // Sign-in is required.
        let reply = web.get("/disconcierge/tickets", None).await;
        assert_eq!(reply.status, StatusCode::SEE_OTHER);
        assert_eq!(
            web.get("/api/tickets", None).await.status,
            StatusCode::UNAUTHORIZED
        );

        let cookie = web.sign_in().await;
        // Without a guild: the first one with desk data.
        let list = web.get("/disconcierge/tickets", Some(&cookie)).await;
        assert_eq!(list.status, StatusCode::OK);
        for t in [&open, &escalated, &closed] {
            assert!(
                list.body
                    .contains(&format!("href=\"/disconcierge/tickets/{}\"", t.id))
            );
        }
        assert!(
            !list
                .body
                .contains(&format!("/disconcierge/tickets/{}\"", other.id))
        );
        assert!(!list.body.contains("bravo-category"));
        assert!(
            list.body
                .contains(&format!("<option value=\"{A}\" selected>"))
        );
        assert!(list.body.contains(&format!("<option value=\"{B}\">")));

        let only = |reply: &Reply, expected: &[&Ticket]| {
            for t in [&open, &escalated, &closed, &other] {
                let shown = reply
                    .body
                    .contains(&format!("href=\"/disconcierge/tickets/{}\"", t.id));
                assert_eq!(
                    shown,
                    expected.iter().any(|e| e.id == t.id),
                    "ticket {}",
                    t.id
                );
            }
        };
        let reply = web
            .get(
                &format!("/disconcierge/tickets?guild={A}&state=escalated"),
                Some(&cookie),
            )
            .await;
        only(&reply, &[&escalated]);
        let reply = web
            .get(
                &format!("/disconcierge/tickets?guild={A}&opener=7"),
                Some(&cookie),
            )
            .await;
        only(&reply, &[&open, &closed]);
        let reply = web
            .get(&format!("/disconcierge/tickets?guild={B}"), Some(&cookie))
            .await;
        only(&reply, &[&other]);
        let reply = web
            .get(
                &format!("/disconcierge/tickets?guild={A}&state=pending"),
                Some(&cookie),
            )
            .await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST);
        assert!(
            reply
                .body
                .contains("state must be open, escalated or closed")
        );
        let reply = web
            .get("/disconcierge/tickets?guild=abc", Some(&cookie))
            .await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST);
        assert!(reply.body.contains("Guild must be a Discord id"));

        // The transcript: who wrote what, how the bot's reply was made and what it used (linked).
        let page = web
            .get(&format!("/disconcierge/tickets/{}", open.id), Some(&cookie))
            .await;
        assert_eq!(page.status, StatusCode::OK);
        assert_escaped(&page, "ticket transcript");
        for author in ["opener", "bot", "staff"] {
            assert!(
                page.body
                    .contains(&format!("<span class=\"badge\">{author}</span>"))
            );
        }
        assert!(page.body.contains("trained answer, sent as is"));
        assert!(page.body.contains(&format!(
            "href=\"/disconcierge/training/{trained}?guild={A}\">How do I reset my password?"
        )));
        assert!(page.body.contains(&format!(
            "href=\"/disconcierge/knowledge/{faq}/entries/{refunds}?guild={A}\">Refunds"
        )));
        assert!(page.body.contains("match 92 %"));
        assert!(
            page.body
                .contains(&format!("trained answer #{gone}: (deleted since)"))
        );
        assert!(page.body.contains("Never escalated."));
        assert!(page.body.contains("Not closed."));
        let first = page.body.find("my password?").unwrap();
        let last = page.body.find("Did that work?").unwrap();
        assert!(first < last, "oldest first");

        let page = web
            .get(
                &format!("/disconcierge/tickets/{}", closed.id),
                Some(&cookie),
            )
            .await;
        assert!(page.body.contains("by 555."));
        assert!(page.body.contains(&html("<b>solved</b>")));
        assert!(!page.body.contains("<b>solved</b>"));
        let page = web
            .get(
                &format!("/disconcierge/tickets/{}", escalated.id),
                Some(&cookie),
            )
            .await;
        assert!(page.body.contains("<p id=\"escalation\">Escalated 20"));
        assert_eq!(
            web.get("/disconcierge/tickets/99999", Some(&cookie))
                .await
                .status,
            StatusCode::NOT_FOUND
        );

        // The API: the same filters, ids as strings, the transcript with what each reply used.
        let reply = web
            .get(
                &format!("/api/tickets?guild={A}&state=closed"),
                Some(&cookie),
            )
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
        let body = reply.json();
        assert_eq!(body["items"].as_array().unwrap().len(), 1);
        assert_eq!(body["items"][0]["id"], closed.id);
        assert_eq!(body["items"][0]["guild_id"], A.to_string());
        assert_eq!(body["items"][0]["closed_by"], "555");
        assert_eq!(body["items"][0]["close_reason"], "<b>solved</b>");
        let all = web.get("/api/tickets?opener=7", Some(&cookie)).await.json();
        assert_eq!(all["items"].as_array().unwrap().len(), 3, "every guild's");
        assert_eq!(
            web.get("/api/tickets?state=x", Some(&cookie)).await.status,
            StatusCode::BAD_REQUEST
        );
        let detail = web
            .get(&format!("/api/tickets/{}", open.id), Some(&cookie))
            .await
            .json();
        assert_eq!(detail["ticket"]["opener_id"], "7");
        let messages = detail["messages"].as_array().unwrap();
        assert_eq!(messages.len(), 3);
        assert_eq!(messages[0]["content"], format!("{SCRIPT} my password?"));
        assert_eq!(messages[1]["source"], "trained");
        assert_eq!(messages[1]["used"][0]["kind"], "training");
        assert_eq!(
            messages[1]["used"][0]["title"],
            "How do I reset my password?"
        );
        assert_eq!(messages[1]["used"][1]["kb_id"], faq);
        assert_eq!(messages[1]["used"][2]["title"], Value::Null);
        assert_eq!(messages[2]["author"], "staff");
        assert_eq!(
            web.get("/api/tickets/99999", Some(&cookie)).await.status,
            StatusCode::NOT_FOUND
        );
    }
}

// ----- Trained answers -----

#[tokio::test]
async fn trained_answers_are_added_searched_edited_and_deleted() {
    for db in TestDb::each().await {
        let web = Web::new(db).await;
        let (cookie, csrf) = web.sign_in_with_csrf().await;
        let page = web
            .get(&format!("/disconcierge/training?guild={A}"), Some(&cookie))
            .await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        assert!(page.body.contains("No trained answers here yet."));
        let add = format!("/disconcierge/training?guild={A}");

        // Added: the page shows it, escaped.
        let reply = web
            .form(
                &add,
                Some(&cookie),
                &[
                    ("csrf", &csrf),
                    ("question", &format!("{SCRIPT} How do I reset my password?")),
                    ("answer", &format!("{SCRIPT} Use the link.")),
                    ("category", "account"),
                    ("tags", "Login, password"),
                ],
            )
            .await;
        assert_eq!(reply.status, StatusCode::SEE_OTHER, "{}", reply.body);
        assert!(reply.location().contains("done=created"));
        let first: i64 = param(reply.location(), "id").parse().unwrap();
        let page = web.get(reply.location(), Some(&cookie)).await;
        assert!(
            page.body
                .contains(&format!("Trained answer #{first} saved."))
        );
        assert_escaped(&page, "training list");
        let entry = web.store().training_entry(A, first).await.unwrap().unwrap();
        assert_eq!(entry.tags, ["login", "password"]);
        assert_eq!(entry.category.as_deref(), Some("account"));
        assert_eq!(entry.created_by, 0);
        let page = web
            .get(
                &format!("/disconcierge/training/{first}?guild={A}"),
                Some(&cookie),
            )
            .await;
        assert_eq!(page.status, StatusCode::OK);
        assert_escaped(&page, "training entry");
        assert!(page.body.contains("by admin interface"));
        assert!(page.body.contains("value=\"login, password\""));

        // The same question again replaces the answer (as /train does).
        let reply = web
            .form(
                &add,
                Some(&cookie),
                &[
                    ("csrf", &csrf),
                    ("question", &format!("{SCRIPT} how do I reset my PASSWORD")),
                    ("answer", "Use the reset link."),
                ],
            )
            .await;
        assert_eq!(reply.status, StatusCode::SEE_OTHER);
        assert!(
            reply
                .location()
                .contains(&format!("done=replaced&id={first}"))
        );
        let second = web
            .train(
                A,
                "Where are my invoices?",
                "On the billing page.",
                Some("billing"),
            )
            .await;

        // Refused: the field is named, and everything typed is kept.
        let reply = web
            .form(
                &add,
                Some(&cookie),
                &[
                    ("csrf", &csrf),
                    ("question", "Can I <b>pay</b> by card?"),
                    ("answer", "   "),
                    ("category", "billing"),
                    ("tags", "cards"),
                ],
            )
            .await;
        assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(
            reply
                .body
                .contains("id=\"error-answer\">Must not be empty.</p>")
        );
        assert!(reply.body.contains(&html("Can I <b>pay</b> by card?")));
        assert!(reply.body.contains("value=\"cards\""));
        let long_tag = "t".repeat(51);
        let reply = web
            .form(
                &add,
                Some(&cookie),
                &[
                    ("csrf", &csrf),
                    ("question", "Tagged?"),
                    ("answer", "Yes."),
                    ("tags", &format!("ok, {long_tag}")),
                ],
            )
            .await;
        assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(
            reply
                .body
                .contains("id=\"error-tags\">Tags[1]: a tag is at most 50 characters.")
        );
        assert!(reply.body.contains(&long_tag));
        let reply = web
            .form(&add, Some(&cookie), &[("question", "q?"), ("answer", "a")])
            .await;
        assert_eq!(reply.status, StatusCode::FORBIDDEN, "no CSRF token");
        assert_eq!(web.training_count(A).await, 2);

        // Browsing: by category, and a full-text search (stemmed: "passwords" finds "password").
        let page = web
            .get(
                &format!("/disconcierge/training?guild={A}&category=billing"),
                Some(&cookie),
            )
            .await;
        assert!(
            page.body
                .contains(&format!("/disconcierge/training/{second}?"))
        );
        assert!(
            !page
                .body
                .contains(&format!("/disconcierge/training/{first}?"))
        );
        assert!(
            page.body
                .contains("<option value=\"billing\" selected>billing (1)</option>")
        );
        let page = web
            .get(
                &format!("/disconcierge/training?guild={A}&q=passwords"),
                Some(&cookie),
            )
            .await;
        assert!(
            page.body
                .contains(&format!("/disconcierge/training/{first}?"))
        );
        assert!(
            !page
                .body
                .contains(&format!("/disconcierge/training/{second}?"))
        );
        assert!(page.body.contains("Best matches first"));
        let page = web
            .get(
                &format!("/disconcierge/training?guild={A}&q=zebra"),
                Some(&cookie),
            )
            .await;
        assert!(page.body.contains("Nothing matched."));
        let page = web
            .get(
                &format!("/disconcierge/training?guild={A}&q=the"),
                Some(&cookie),
            )
            .await;
        assert_eq!(page.status, StatusCode::BAD_REQUEST);
        assert!(page.body.contains("Search for some words"));
        let page = web
            .get(
                &format!("/disconcierge/training?guild={A}&page=x"),
                Some(&cookie),
            )
            .await;
        assert_eq!(page.status, StatusCode::BAD_REQUEST);

        // Edited: exactly what the form holds (the empty category clears it); search follows.
        let edit = format!("/disconcierge/training/{first}?guild={A}");
        let reply = web
            .form(
                &edit,
                Some(&cookie),
                &[
                    ("csrf", &csrf),
                    ("question", "How do I enable two-factor login?"),
                    ("answer", "Under Security."),
                    ("category", ""),
                    ("tags", "2fa"),
                ],
            )
            .await;
        assert_eq!(reply.status, StatusCode::SEE_OTHER, "{}", reply.body);
        assert_eq!(
            reply.location(),
            format!("/disconcierge/training/{first}?guild={A}&saved=1")
        );
        let page = web.get(reply.location(), Some(&cookie)).await;
        assert!(page.body.contains("Saved; new replies use it now."));
        let entry = web.store().training_entry(A, first).await.unwrap().unwrap();
        assert_eq!(
            (
                entry.question.as_str(),
                entry.answer.as_str(),
                entry.category,
                entry.tags
            ),
            (
                "How do I enable two-factor login?",
                "Under Security.",
                None,
                vec!["2fa".to_string()]
            )
        );
        let found = web
            .store()
            .search_training(A, &query_terms("factor"), 5, None)
            .await
            .unwrap();
        assert_eq!(found.len(), 1);
        assert!(
            web.store()
                .search_training(A, &query_terms("password"), 5, None)
                .await
                .unwrap()
                .is_empty()
        );

        // Another entry's question is refused (409), with the typed values kept.
        let reply = web
            .form(
                &format!("/disconcierge/training/{second}?guild={A}"),
                Some(&cookie),
                &[
                    ("csrf", &csrf),
                    ("question", "how do i enable two factor login"),
                    ("answer", "Typed answer kept"),
                ],
            )
            .await;
        assert_eq!(reply.status, StatusCode::CONFLICT);
        assert!(
            reply
                .body
                .contains("id=\"error-question\">Another trained answer")
        );
        assert!(reply.body.contains("Typed answer kept"));
        let reply = web
            .form(
                &format!("/disconcierge/training/{second}?guild={A}"),
                Some(&cookie),
                &[("csrf", &csrf), ("question", "?!"), ("answer", "x")],
            )
            .await;
        assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(
            reply
                .body
                .contains("id=\"error-question\">Needs at least one word")
        );
        assert_eq!(
            web.store()
                .training_entry(A, second)
                .await
                .unwrap()
                .unwrap()
                .answer,
            "On the billing page."
        );

        // Deleting needs the confirmation.
        let delete = format!("/disconcierge/training/{second}/delete?guild={A}");
        let reply = web.form(&delete, Some(&cookie), &[("csrf", &csrf)]).await;
        assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(reply.body.contains("Not deleted: tick"));
        assert_eq!(web.training_count(A).await, 2);
        let reply = web
            .form(
                &delete,
                Some(&cookie),
                &[("csrf", &csrf), ("confirm", "yes")],
            )
            .await;
        assert_eq!(reply.status, StatusCode::SEE_OTHER);
        assert!(
            web.store()
                .training_entry(A, second)
                .await
                .unwrap()
                .is_none()
        );
        let page = web.get(reply.location(), Some(&cookie)).await;
        assert!(
            page.body
                .contains(&format!("Trained answer #{second} deleted."))
        );
        let reply = web
            .form(
                &delete,
                Some(&cookie),
                &[("csrf", &csrf), ("confirm", "yes")],
            )
            .await;
        assert_eq!(reply.status, StatusCode::NOT_FOUND);
    }
}

#[tokio::test]
async fn training_exports_import_back_and_malformed_files_change_nothing() {
    for db in TestDb::each().await {
        let web = Web::new(db).await;
        web.train(
            A,
            "How do I reset my password?",
            "Use the link.",
            Some("account"),
        )
        .await;
        web.train(
            A,
            &format!("{SCRIPT} Where are my invoices?"),
            "Billing page.",
            None,
        )
        .await;
        let (cookie, csrf) = web.sign_in_with_csrf().await;

        // The export is /export_training's file, downloaded.
        let export = web
            .get(
                &format!("/disconcierge/training/export?guild={A}"),
                Some(&cookie),
            )
            .await;
        assert_eq!(export.status, StatusCode::OK);
        assert_eq!(
            export.header(header::CONTENT_DISPOSITION),
            format!("attachment; filename=\"training-{A}.json\"")
        );
        assert!(
            export
                .header(header::CONTENT_TYPE)
                .starts_with("application/json")
        );
        let entries = web.store().export_training(A).await.unwrap();
        assert_eq!(export.body, transfer::export_training(&entries));

        // Imported into another guild: the same entries (an export of it is the same file).
        let page = web
            .get(
                &format!("/disconcierge/training/import?guild={B}"),
                Some(&cookie),
            )
            .await;
        assert_eq!(page.status, StatusCode::OK);
        let import = format!("/disconcierge/training/import?guild={B}");
        let reply = web
            .form(
                &import,
                Some(&cookie),
                &[("csrf", &csrf), ("json", &export.body)],
            )
            .await;
        assert_eq!(reply.status, StatusCode::SEE_OTHER, "{}", reply.body);
        let page = web.get(reply.location(), Some(&cookie)).await;
        assert!(
            page.body
                .contains("Imported 2 trained answers: 2 new, 0 replaced")
        );
        let again = web
            .get(
                &format!("/disconcierge/training/export?guild={B}"),
                Some(&cookie),
            )
            .await;
        assert_eq!(again.body, export.body);
        let reply = web
            .form(
                &import,
                Some(&cookie),
                &[("csrf", &csrf), ("json", &export.body)],
            )
            .await;
        let page = web.get(reply.location(), Some(&cookie)).await;
        assert!(page.body.contains("0 new, 2 replaced"));

        // Malformed: the location is given, the file is kept, nothing is written.
        let malformed = "{\n  \"format\": \"disconcierge.training\",\n  \"version\": 1,\n  \"entries\": [\n    {\"question\": \"New one?\", \"answer\": \"Yes.\"},\n    {\"question\": \"No answer?\"}\n  ]\n}";
        let reply = web
            .form(
                &import,
                Some(&cookie),
                &[("csrf", &csrf), ("json", malformed)],
            )
            .await;
        assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(
            reply.body.contains("Nothing was imported: line 6, column"),
            "{}",
            reply.body
        );
        assert!(reply.body.contains("missing field `answer`"));
        assert!(reply.body.contains(&html("{\"question\": \"No answer?\"}")));
        let bounds = transfer::export_training(&entries).replace("\"Billing page.\"", "\"  \"");
        let reply = web
            .form(
                &import,
                Some(&cookie),
                &[("csrf", &csrf), ("json", &bounds)],
            )
            .await;
        assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(reply.body.contains("entries[1].answer: must not be empty"));
        let reply = web
            .form(&import, Some(&cookie), &[("csrf", &csrf), ("json", "  ")])
            .await;
        assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(web.training_count(B).await, 2);
        let reply = web
            .form(&import, Some(&cookie), &[("json", &export.body)])
            .await;
        assert_eq!(reply.status, StatusCode::FORBIDDEN);

        // The API: the file as the body; a fault names the file field and where.
        let (api_cookie, api_csrf) = web.api_sign_in().await;
        const C: u64 = 333;
        let reply = web
            .raw(
                Method::POST,
                &format!("/api/training/import?guild={C}"),
                Some(&api_cookie),
                Some(&api_csrf),
                export.body.clone(),
            )
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
        let imported = reply.json();
        assert_eq!(
            (&imported["created"], &imported["updated"]),
            (&json!(2), &json!(0))
        );
        // The ids of what was created: each one is there, in C, with the file's question.
        let ids = imported["ids"].as_array().unwrap();
        assert_eq!(ids.len(), 2);
        for id in ids {
            let one = web
                .get(&format!("/api/training/{id}?guild={C}"), Some(&api_cookie))
                .await;
            assert_eq!(one.status, StatusCode::OK, "{}", one.body);
        }
        let reply = web
            .raw(
                Method::POST,
                &format!("/api/training/import?guild={C}"),
                Some(&api_cookie),
                Some(&api_csrf),
                malformed.into(),
            )
            .await;
        assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
        let body = reply.json();
        assert_eq!(body["error"], "invalid");
        assert_eq!(body["fields"][0]["field"], "file");
        assert!(
            body["fields"][0]["message"]
                .as_str()
                .unwrap()
                .starts_with("line 6, column")
        );
        assert_eq!(web.training_count(C).await, 2);
        let reply = web
            .get(
                &format!("/api/training/export?guild={C}"),
                Some(&api_cookie),
            )
            .await;
        assert_eq!(reply.body, export.body);
        assert!(
            reply
                .header(header::CONTENT_DISPOSITION)
                .starts_with("attachment;")
        );
    }
}

// ----- Knowledge bases -----

#[tokio::test]
async fn knowledge_bases_are_created_filled_edited_exported_and_deleted() {
    for db in TestDb::each().await {
        let web = Web::new(db).await;
        let (cookie, csrf) = web.sign_in_with_csrf().await;
        let create = format!("/disconcierge/knowledge?guild={A}");
        let page = web.get(&create, Some(&cookie)).await;
        assert_eq!(page.status, StatusCode::OK);
        assert!(page.body.contains("No knowledge bases in this server yet."));

        let reply = web
            .form(
                &create,
                Some(&cookie),
                &[
                    ("csrf", &csrf),
                    ("name", " Product FAQ "),
                    ("description", "Common questions"),
                ],
            )
            .await;
        assert_eq!(reply.status, StatusCode::SEE_OTHER, "{}", reply.body);
        let kb = web
            .store()
            .kb_by_name(A, "product faq")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            reply.location(),
            format!("/disconcierge/knowledge/{}?guild={A}&done=created", kb.id)
        );
        assert_eq!(kb.description.as_deref(), Some("Common questions"));
        let page = web.get(reply.location(), Some(&cookie)).await;
        assert!(page.body.contains("Knowledge base created."));
        let list = web.get(&create, Some(&cookie)).await;
        assert!(list.body.contains(&format!(
            "/disconcierge/knowledge/{}?guild={A}\">Product FAQ",
            kb.id
        )));

        // Taken and malformed names name their field and keep what was typed.
        let reply = web
            .form(
                &create,
                Some(&cookie),
                &[
                    ("csrf", &csrf),
                    ("name", "product faq"),
                    ("description", "kept"),
                ],
            )
            .await;
        assert_eq!(reply.status, StatusCode::CONFLICT);
        assert!(
            reply
                .body
                .contains("id=\"error-name\">A knowledge base named")
        );
        assert!(reply.body.contains(">kept</textarea>"));
        let reply = web
            .form(&create, Some(&cookie), &[("csrf", &csrf), ("name", "a/b")])
            .await;
        assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(reply.body.contains("id=\"error-name\">"));
        assert!(reply.body.contains("value=\"a/b\""));

        // Entries: added (escaped on every page), refused with the field named, edited, deleted.
        let add = format!("/disconcierge/knowledge/{}/entries?guild={A}", kb.id);
        let reply = web
            .form(
                &add,
                Some(&cookie),
                &[
                    ("csrf", &csrf),
                    ("title", &format!("{SCRIPT}Refunds")),
                    ("content", "Within 30 days."),
                    ("tags", "money"),
                ],
            )
            .await;
        assert_eq!(reply.status, StatusCode::SEE_OTHER, "{}", reply.body);
        let entry: i64 = param(reply.location(), "entry").parse().unwrap();
        let page = web.get(reply.location(), Some(&cookie)).await;
        assert!(page.body.contains(&format!("Entry #{entry} added.")));
        assert_escaped(&page, "knowledge base page");
        let entry_url = format!(
            "/disconcierge/knowledge/{}/entries/{entry}?guild={A}",
            kb.id
        );
        let page = web.get(&entry_url, Some(&cookie)).await;
        assert_eq!(page.status, StatusCode::OK);
        assert_escaped(&page, "knowledge entry page");
        let reply = web
            .form(
                &add,
                Some(&cookie),
                &[("csrf", &csrf), ("title", "Typed title"), ("content", "")],
            )
            .await;
        assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(
            reply
                .body
                .contains("id=\"error-content\">Must not be empty.</p>")
        );
        assert!(reply.body.contains("value=\"Typed title\""));
        for i in 0..55 {
            web.kb_entry(kb.id, &format!("Filler {i}"), "More text.")
                .await;
        }
        let page = web
            .get(
                &format!("/disconcierge/knowledge/{}?guild={A}", kb.id),
                Some(&cookie),
            )
            .await;
        assert!(page.body.contains("Page 1 of 2"));
        assert!(
            page.body.contains(&format!(
                "/disconcierge/knowledge/{}?guild={A}&amp;page=2",
                kb.id
            )) || page.body.contains(&format!(
                "/disconcierge/knowledge/{}?guild={A}&#38;page=2",
                kb.id
            ))
        );
        let reply = web
            .form(
                &entry_url,
                Some(&cookie),
                &[
                    ("csrf", &csrf),
                    ("title", "Refunds"),
                    ("content", "Within 60 days of delivery."),
                    ("tags", "returns"),
                ],
            )
            .await;
        assert_eq!(reply.status, StatusCode::SEE_OTHER, "{}", reply.body);
        let saved = web.store().kb_entry(A, entry).await.unwrap().unwrap();
        assert_eq!(
            (saved.content.as_str(), saved.tags.clone()),
            ("Within 60 days of delivery.", vec!["returns".to_string()])
        );
        let found = web
            .store()
            .search_knowledge(A, Some(kb.id), &query_terms("delivery"), 5, None)
            .await
            .unwrap();
        assert_eq!(found.iter().map(|m| m.id).collect::<Vec<_>>(), [entry]);
        let reply = web
            .form(
                &entry_url,
                Some(&cookie),
                &[("csrf", &csrf), ("title", ""), ("content", "Kept content")],
            )
            .await;
        assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(reply.body.contains("id=\"error-title\">"));
        assert!(reply.body.contains("Kept content"));

        // Export, and import into another knowledge base: the same entries.
        let export = web
            .get(
                &format!("/disconcierge/knowledge/{}/export?guild={A}", kb.id),
                Some(&cookie),
            )
            .await;
        assert_eq!(export.status, StatusCode::OK);
        assert_eq!(
            export.header(header::CONTENT_DISPOSITION),
            "attachment; filename=\"kb-Product_FAQ.json\""
        );
        let all = web.store().all_kb_entries(kb.id).await.unwrap();
        assert_eq!(
            export.body,
            transfer::export_kb("Product FAQ", Some("Common questions"), &all)
        );
        let copy = web.kb(A, "copy").await;
        let import = format!("/disconcierge/knowledge/{copy}/import?guild={A}");
        assert_eq!(web.get(&import, Some(&cookie)).await.status, StatusCode::OK);
        let reply = web
            .form(
                &import,
                Some(&cookie),
                &[("csrf", &csrf), ("json", &export.body)],
            )
            .await;
        assert_eq!(reply.status, StatusCode::SEE_OTHER, "{}", reply.body);
        let page = web.get(reply.location(), Some(&cookie)).await;
        assert!(page.body.contains("Imported 56 entries."));
        let copied = web.store().all_kb_entries(copy).await.unwrap();
        assert_eq!(
            transfer::export_kb("Product FAQ", Some("Common questions"), &copied),
            export.body
        );
        // A malformed file: where the fault is, and nothing added.
        let malformed = export.body.replacen("\"content\"", "\"contents\"", 1);
        let reply = web
            .form(
                &import,
                Some(&cookie),
                &[("csrf", &csrf), ("json", &malformed)],
            )
            .await;
        assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(
            reply.body.contains("Nothing was imported: line "),
            "{}",
            reply.body
        );
        assert!(reply.body.contains("unknown field `contents`"));
        assert_eq!(
            web.store().kb(A, copy).await.unwrap().unwrap().entry_count,
            56
        );

        // Deleting an entry, then the whole knowledge base, needs the confirmation.
        let reply = web
            .form(
                &format!(
                    "/disconcierge/knowledge/{}/entries/{entry}/delete?guild={A}",
                    kb.id
                ),
                Some(&cookie),
                &[("csrf", &csrf), ("confirm", "yes")],
            )
            .await;
        assert_eq!(reply.status, StatusCode::SEE_OTHER);
        assert!(web.store().kb_entry(A, entry).await.unwrap().is_none());
        let delete = format!("/disconcierge/knowledge/{}/delete?guild={A}", kb.id);
        let reply = web.form(&delete, Some(&cookie), &[("csrf", &csrf)]).await;
        assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(web.store().kb(A, kb.id).await.unwrap().is_some());
        let reply = web
            .form(
                &delete,
                Some(&cookie),
                &[("csrf", &csrf), ("confirm", "yes")],
            )
            .await;
        assert_eq!(reply.status, StatusCode::SEE_OTHER);
        assert!(web.store().kb(A, kb.id).await.unwrap().is_none());
        let page = web.get(reply.location(), Some(&cookie)).await;
        assert!(
            page.body
                .contains("Knowledge base &#34;Product FAQ&#34; deleted."),
            "{}",
            page.body
        );
        assert_eq!(
            web.get(
                &format!("/disconcierge/knowledge/{}?guild={A}", kb.id),
                Some(&cookie)
            )
            .await
            .status,
            StatusCode::NOT_FOUND
        );
    }
}

// ----- The API -----

#[tokio::test]
async fn the_desk_api_needs_csrf_and_names_invalid_fields() {
    for db in TestDb::each().await {
        let web = Web::new(db).await;
        let (cookie, csrf) = web.api_sign_in().await;
        let c = Some(cookie.as_str());
        let t = Some(csrf.as_str());
        let training = format!("/api/training?guild={A}");

        // The session cookie alone changes nothing.
        for (method, uri) in [
            (Method::POST, training.clone()),
            (Method::PUT, format!("/api/training/1?guild={A}")),
            (Method::DELETE, format!("/api/training/1?guild={A}")),
            (Method::POST, format!("/api/training/import?guild={A}")),
            (Method::POST, format!("/api/knowledge_bases?guild={A}")),
            (Method::DELETE, format!("/api/knowledge_bases/1?guild={A}")),
            (
                Method::POST,
                format!("/api/knowledge_bases/1/entries?guild={A}"),
            ),
            (
                Method::PUT,
                format!("/api/knowledge_bases/1/entries/1?guild={A}"),
            ),
            (
                Method::POST,
                format!("/api/knowledge_bases/1/import?guild={A}"),
            ),
        ] {
            let reply = web
                .json(
                    method.clone(),
                    &uri,
                    c,
                    None,
                    json!({"question": "q?", "answer": "a", "name": "x"}),
                )
                .await;
            assert_eq!(reply.status, StatusCode::FORBIDDEN, "{method} {uri}");
            assert_eq!(reply.json()["error"], "csrf");
            let reply = web
                .json(method.clone(), &uri, c, Some(&"0".repeat(64)), json!({}))
                .await;
            assert_eq!(
                reply.status,
                StatusCode::FORBIDDEN,
                "{method} {uri}: wrong token"
            );
        }
        assert_eq!(web.training_count(A).await, 0);

        // Validation: 422 with the field named; the guild is required.
        let reply = web
            .json(Method::POST, &training, c, t, json!({"answer": "a"}))
            .await;
        assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
        let body = reply.json();
        assert_eq!(body["error"], "invalid");
        assert_eq!(body["fields"][0]["field"], "question");
        assert_eq!(body["fields"][0]["message"], "must not be empty");
        let reply = web
            .json(
                Method::POST,
                &training,
                c,
                t,
                json!({"question": "q?", "answer": "a", "tags": ["x".repeat(51)]}),
            )
            .await;
        assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(reply.json()["fields"][0]["field"], "tags");
        let reply = web
            .json(
                Method::POST,
                &training,
                c,
                t,
                json!({"question": "q?", "answer": "a", "extra": 1}),
            )
            .await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST);
        let reply = web
            .json(
                Method::POST,
                "/api/training",
                c,
                t,
                json!({"question": "q?", "answer": "a"}),
            )
            .await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST);
        assert!(
            reply.json()["message"]
                .as_str()
                .unwrap()
                .contains("guild is required")
        );

        // Trained answers: created, replaced, listed, searched, edited, deleted.
        let reply = web
            .json(Method::POST, &training, c, t, json!({"question": "How do I reset my password?", "answer": "Use the link.", "category": "account", "tags": ["Login"]}))
            .await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
        let created = reply.json();
        assert_eq!(created["outcome"], "created");
        assert_eq!(created["entry"]["guild_id"], A.to_string());
        assert_eq!(created["entry"]["tags"], json!(["login"]));
        let id = created["entry"]["id"].as_i64().unwrap();
        let reply = web
            .json(
                Method::POST,
                &training,
                c,
                t,
                json!({"question": "how do i reset my password", "answer": "Use the reset link."}),
            )
            .await;
        assert_eq!(reply.status, StatusCode::OK);
        assert_eq!(reply.json()["outcome"], "replaced");
        assert_eq!(reply.json()["previous_answer"], "Use the link.");
        let other = web
            .train(A, "Where are my invoices?", "Billing page.", None)
            .await;
        let list = web.get(&training, c).await.json();
        assert_eq!(list["total"], 2);
        assert_eq!(list["items"].as_array().unwrap().len(), 2);
        let page = web.get(&format!("{training}&limit=1"), c).await.json();
        assert_eq!(page["next_offset"], 1);
        let found = web.get(&format!("{training}&q=invoices"), c).await.json();
        assert_eq!(found["items"][0]["id"], other);
        assert_eq!(found["total"], Value::Null);
        let entry = format!("/api/training/{id}?guild={A}");
        assert_eq!(
            web.get(&entry, c).await.json()["answer"],
            "Use the reset link."
        );
        let reply = web
            .json(
                Method::PUT,
                &entry,
                c,
                t,
                json!({"question": "Where are MY invoices", "answer": "x"}),
            )
            .await;
        assert_eq!(reply.status, StatusCode::CONFLICT);
        assert_eq!(reply.json()["error"], "already_exists");
        assert_eq!(reply.json()["fields"][0]["field"], "question");
        let reply = web
            .json(
                Method::PUT,
                &entry,
                c,
                t,
                json!({"question": "Reset?", "answer": ""}),
            )
            .await;
        assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(reply.json()["fields"][0]["field"], "answer");
        let reply = web
            .json(
                Method::PUT,
                &entry,
                c,
                t,
                json!({"question": "How do I reset it?", "answer": "Ask us."}),
            )
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
        assert_eq!(reply.json()["category"], Value::Null, "left out: cleared");
        let elsewhere = format!("/api/training/{id}?guild={B}");
        assert_eq!(web.get(&elsewhere, c).await.status, StatusCode::NOT_FOUND);
        let reply = web
            .json(
                Method::PUT,
                &elsewhere,
                c,
                t,
                json!({"question": "Hijack?", "answer": "x"}),
            )
            .await;
        assert_eq!(reply.status, StatusCode::NOT_FOUND);
        assert_eq!(
            web.json(Method::DELETE, &elsewhere, c, t, json!(null))
                .await
                .status,
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            web.json(Method::DELETE, &entry, c, t, json!(null))
                .await
                .status,
            StatusCode::NO_CONTENT
        );
        assert_eq!(
            web.json(Method::DELETE, &entry, c, t, json!(null))
                .await
                .status,
            StatusCode::NOT_FOUND
        );

        // Knowledge bases and their entries.
        let kbs = format!("/api/knowledge_bases?guild={A}");
        let reply = web
            .json(Method::POST, &kbs, c, t, json!({"name": " "}))
            .await;
        assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(reply.json()["fields"][0]["field"], "name");
        let reply = web
            .json(
                Method::POST,
                &kbs,
                c,
                t,
                json!({"name": "docs", "description": "d".repeat(4001)}),
            )
            .await;
        assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(reply.json()["fields"][0]["field"], "description");
        let reply = web
            .json(Method::POST, &kbs, c, t, json!({"name": "docs"}))
            .await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
        let kb = reply.json()["id"].as_i64().unwrap();
        let reply = web
            .json(Method::POST, &kbs, c, t, json!({"name": "DOCS"}))
            .await;
        assert_eq!(reply.status, StatusCode::CONFLICT);
        assert_eq!(reply.json()["fields"][0]["field"], "name");
        assert_eq!(web.get(&kbs, c).await.json()[0]["name"], "docs");
        let entries = format!("/api/knowledge_bases/{kb}/entries?guild={A}");
        let reply = web
            .json(Method::POST, &entries, c, t, json!({"title": "t"}))
            .await;
        assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(reply.json()["fields"][0]["field"], "content");
        let reply = web
            .json(
                Method::POST,
                &entries,
                c,
                t,
                json!({"title": "Refunds", "content": "30 days.", "tags": ["Money"]}),
            )
            .await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
        let e = reply.json()["id"].as_i64().unwrap();
        let one = format!("/api/knowledge_bases/{kb}/entries/{e}?guild={A}");
        let reply = web
            .json(
                Method::PUT,
                &one,
                c,
                t,
                json!({"title": "Refunds", "content": "60 days."}),
            )
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
        assert_eq!(reply.json()["tags"], json!([]));
        let list = web.get(&entries, c).await.json();
        assert_eq!(
            (list["total"].as_u64(), list["items"][0]["content"].as_str()),
            (Some(1), Some("60 days."))
        );
        let export = web
            .get(&format!("/api/knowledge_bases/{kb}/export?guild={A}"), c)
            .await;
        assert_eq!(export.status, StatusCode::OK);
        let reply = web
            .raw(
                Method::POST,
                &format!("/api/knowledge_bases/{kb}/import?guild={A}"),
                c,
                t,
                export.body.clone(),
            )
            .await;
        let added = reply.json();
        assert_eq!(added["added"], 1);
        let id = &added["ids"][0];
        let entry = web
            .get(
                &format!("/api/knowledge_bases/{kb}/entries/{id}?guild={A}"),
                c,
            )
            .await;
        assert_eq!(entry.status, StatusCode::OK, "{}", entry.body);
        let reply = web
            .raw(
                Method::POST,
                &format!("/api/knowledge_bases/{kb}/import?guild={A}"),
                c,
                t,
                "[1,".into(),
            )
            .await;
        assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(
            reply.json()["fields"][0]["message"]
                .as_str()
                .unwrap()
                .starts_with("line 1, column")
        );
        assert_eq!(
            web.get(&format!("/api/knowledge_bases/{kb}?guild={A}"), c)
                .await
                .json()["entry_count"],
            2
        );
        assert_eq!(
            web.json(Method::DELETE, &one, c, t, json!(null))
                .await
                .status,
            StatusCode::NO_CONTENT
        );
        assert_eq!(web.get(&one, c).await.status, StatusCode::NOT_FOUND);
        let kb_url = format!("/api/knowledge_bases/{kb}?guild={A}");
        assert_eq!(
            web.json(
                Method::DELETE,
                &format!("/api/knowledge_bases/{kb}?guild={B}"),
                c,
                t,
                json!(null)
            )
            .await
            .status,
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            web.json(Method::DELETE, &kb_url, c, t, json!(null))
                .await
                .status,
            StatusCode::NO_CONTENT
        );
        assert_eq!(web.get(&kb_url, c).await.status, StatusCode::NOT_FOUND);
    }
}

// ----- Guilds -----

#[tokio::test]
async fn one_guild_never_shows_another_guilds_data() {
    for db in TestDb::each().await {
        let web = Web::new(db).await;
        let cookie = web.sign_in().await;
        // No desk data at all: the pages say how to start, and a typed guild works.
        let page = web.get("/disconcierge/training", Some(&cookie)).await;
        assert_eq!(page.status, StatusCode::NOT_FOUND);
        assert!(page.body.contains("No server has support-desk data yet"));
        let page = web
            .get(&format!("/disconcierge/knowledge?guild={B}"), Some(&cookie))
            .await;
        assert_eq!(page.status, StatusCode::OK);

        let mut ids = Vec::new();
        for (guild, word) in [(A, "alphasecret"), (B, "bravosecret")] {
            web.store()
                .save_guild_settings(&GuildSettings {
                    guild_id: guild,
                    forum_channel_id: 1,
                    staff_role_id: 2,
                    log_channel_id: None,
                    instructions: None,
                    auto_close_after_secs: None,
                    ai_replies: true,
                    training: true,
                    member_replies_per_6h: 0,
                    member_reply_interval_secs: 0,
                    updated_by: 5,
                    updated_at: Utc::now(),
                })
                .await
                .unwrap();
            let ticket = web.ticket(guild, 7, &format!("{word}-category")).await;
            let training = web
                .train(
                    guild,
                    &format!("What is the {word} plan?"),
                    &format!("The {word} answer."),
                    Some(word),
                )
                .await;
            let kb = web.kb(guild, word).await;
            let entry = web
                .kb_entry(
                    kb,
                    &format!("{word} title"),
                    &format!("{word} plan content"),
                )
                .await;
            ids.push((ticket.id, training, kb, entry));
        }
        let (a_ticket, a_training, a_kb, a_entry) = ids[0];
        let (_, _, b_kb, _) = ids[1];

        for uri in [
            format!("/disconcierge/tickets?guild={B}"),
            format!("/disconcierge/training?guild={B}"),
            format!("/disconcierge/training?guild={B}&q=plan"),
            format!("/disconcierge/knowledge?guild={B}"),
            format!("/disconcierge/knowledge/{b_kb}?guild={B}"),
            format!("/api/tickets?guild={B}"),
            format!("/api/training?guild={B}"),
            format!("/api/training?guild={B}&q=plan"),
            format!("/api/knowledge_bases?guild={B}"),
            format!("/api/knowledge_bases/{b_kb}/entries?guild={B}"),
            format!("/api/training/export?guild={B}"),
            format!("/api/knowledge_bases/{b_kb}/export?guild={B}"),
        ] {
            let reply = web.get(&uri, Some(&cookie)).await;
            assert_eq!(reply.status, StatusCode::OK, "{uri}: {}", reply.body);
            assert!(
                !reply.body.contains("alphasecret"),
                "{uri} shows guild A's data"
            );
            assert!(
                reply.body.contains("bravosecret"),
                "{uri} does not show guild B's"
            );
        }
        // A's rows through B: not found, and nothing changed.
        for uri in [
            format!("/disconcierge/training/{a_training}?guild={B}"),
            format!("/disconcierge/knowledge/{a_kb}?guild={B}"),
            format!("/disconcierge/knowledge/{b_kb}/entries/{a_entry}?guild={B}"),
            format!("/disconcierge/knowledge/{a_kb}/export?guild={B}"),
            format!("/api/training/{a_training}?guild={B}"),
            format!("/api/knowledge_bases/{a_kb}?guild={B}"),
            format!("/api/knowledge_bases/{b_kb}/entries/{a_entry}?guild={B}"),
        ] {
            let reply = web.get(&uri, Some(&cookie)).await;
            assert_eq!(reply.status, StatusCode::NOT_FOUND, "{uri}");
            assert!(!reply.body.contains("alphasecret"), "{uri}");
        }
        let page = web.get("/disconcierge", Some(&cookie)).await;
        let csrf = csrf_in(&page.body);
        for uri in [
            format!("/disconcierge/training/{a_training}/delete?guild={B}"),
            format!("/disconcierge/knowledge/{a_kb}/delete?guild={B}"),
            format!("/disconcierge/knowledge/{b_kb}/entries/{a_entry}/delete?guild={B}"),
        ] {
            let reply = web
                .form(&uri, Some(&cookie), &[("csrf", &csrf), ("confirm", "yes")])
                .await;
            assert_eq!(reply.status, StatusCode::NOT_FOUND, "{uri}");
        }
        let reply = web
            .form(
                &format!("/disconcierge/training/{a_training}?guild={B}"),
                Some(&cookie),
                &[("csrf", &csrf), ("question", "Hijacked?"), ("answer", "x")],
            )
            .await;
        assert_eq!(reply.status, StatusCode::NOT_FOUND);
        assert!(
            web.store()
                .training_entry(A, a_training)
                .await
                .unwrap()
                .unwrap()
                .question
                .contains("alphasecret")
        );
        assert!(web.store().kb(A, a_kb).await.unwrap().is_some());
        assert!(web.store().kb_entry(A, a_entry).await.unwrap().is_some());
        // A ticket's page is its own guild's, and links there.
        let page = web
            .get(&format!("/disconcierge/tickets/{a_ticket}"), Some(&cookie))
            .await;
        assert!(
            page.body
                .contains(&format!("/disconcierge/tickets?guild={A}"))
        );
        assert!(!page.body.contains("bravosecret"));
    }
}
