//! The admin interface's dashboard status, actions and playground against the real application, through
//! the simulated Discord and LLM: the playground answers as a ticket would (or as /chat) and posts nothing
//! to Discord; "register the commands" re-registers them; "clear all conversations" makes everyone's next
//! /chat start afresh.

use disconcierge_discord_sim::Via;
use disconcierge_e2e::admin::Admin;
use disconcierge_e2e::desk::{
    actor, answer_of, chat_requests, desk_app, guild, setup, slash, system_message, train,
};
use disconcierge_e2e::{Backend, TestApp, spawn_app};
use disconcierge_llm_sim::{Failure, FailureRule, Reply};
use serde_json::{Value, json};
use std::time::Duration;

/// Requests to Discord that change something (posts, edits, registrations), in order.
fn discord_writes(app: &TestApp) -> Vec<String> {
    app.discord
        .requests()
        .into_iter()
        .filter(|r| r.method != "GET")
        .map(|r| format!("{} {}", r.method, r.route))
        .collect()
}

disconcierge_e2e::both!(the_playground_answers_like_a_ticket_without_posting);
async fn the_playground_answers_like_a_ticket_without_posting(backend: Backend) {
    let Some(app) = desk_app(backend).await else {
        return;
    };
    let g = guild(&app, "Tea Shop");
    setup(&app, &g).await;
    let olga = actor(&app, &g, "olga");
    let general = g.channel("general");
    let trained = train(
        &olga,
        general,
        "How do I reset my password?",
        "Use the reset link on the sign-in page.",
        None,
    )
    .await;
    let created =
        answer_of(&slash(&olga, general, "kb_create", vec![("name", "faq".into())]).await).await;
    assert!(
        created.starts_with("Knowledge base \"faq\" created"),
        "{created}"
    );
    let added = answer_of(
        &slash(
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
        .await,
    )
    .await;
    assert!(added.starts_with("Added entry #"), "{added}");
    let admin = Admin::sign_in(&app).await;
    let guild_id = g.id().to_string();
    // Every command so far has its final answer, and these start nothing in the background: what the
    // bot has sent Discord is complete, note it.
    let writes_before = discord_writes(&app);
    let llm_before = chat_requests(&app).len();

    // A trained question: the trained answer as is, the model not asked.
    let events = admin
        .ask(json!({"guild": guild_id, "question": "How do I reset my password?"}))
        .await;
    assert_eq!(events[0]["type"], "plan");
    let decision = events[0]["decision"].as_str().unwrap();
    assert!(
        decision.starts_with(&format!("Trained answer #{trained} is sent as is")),
        "{decision}"
    );
    assert_eq!(events[0]["request"], Value::Null);
    assert_eq!(events[0]["kind"], "trained");
    assert_eq!(events[0]["entry_id"], trained);
    assert_eq!(events[0]["warnings"], json!([]));
    assert_eq!(events[0]["matches"][0]["kind"], "trained");
    assert_eq!(events[0]["matches"][0]["used"], true);
    let done = events.last().unwrap();
    assert_eq!(done["type"], "done");
    assert!(
        done["text"]
            .as_str()
            .unwrap()
            .starts_with("Use the reset link"),
        "{done}"
    );
    assert_eq!(
        chat_requests(&app).len(),
        llm_before,
        "the model was not asked"
    );

    // Another question: the model answers with the knowledge entry, streamed piece by piece, and the
    // request shown is exactly the one the model received.
    app.llm.push_reply(
        Reply::tokens(["Invoices ", "arrive ", "on the ", "1st."])
            .per_token(Duration::from_millis(20)),
    );
    let events = admin
        .ask(json!({"guild": guild_id, "member": "Ann", "question": "When are my invoices emailed?"}))
        .await;
    let plan = &events[0];
    assert_eq!(
        plan["decision"], "The model answers with 1 reference entry.",
        "{plan}"
    );
    assert_eq!(
        (&plan["kind"], &plan["entry_id"]),
        (&json!("llm"), &Value::Null)
    );
    let invoice = plan["matches"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["title"] == "Invoices")
        .expect("the knowledge entry matched");
    assert_eq!(invoice["kind"], "knowledge");
    assert_eq!(invoice["source"], "faq");
    assert_eq!(invoice["used"], true);
    let deltas: Vec<_> = events
        .iter()
        .filter(|e| e["type"] == "delta")
        .map(|e| e["text"].as_str().unwrap())
        .collect();
    assert_eq!(deltas, ["Invoices ", "arrive ", "on the ", "1st."]);
    let done = events.last().unwrap();
    assert_eq!(done["type"], "done");
    assert_eq!(done["text"], "Invoices arrive on the 1st.");
    let sent = chat_requests(&app);
    assert_eq!(sent.len(), llm_before + 1);
    assert_eq!(plan["request"], *sent.last().unwrap(), "the exact request");
    let system = system_message(sent.last().unwrap());
    assert!(
        system.contains("Invoices are emailed on the first day"),
        "{system}"
    );
    assert!(system.contains("Ann"), "the member's name: {system}");

    // Without a guild: as /chat, with the configured instructions.
    app.llm.push_reply(Reply::text("Hello!"));
    let events = admin.ask(json!({"question": "Say hello"})).await;
    let instructions = app.runtime.current().config.llm_instructions.clone();
    assert_eq!(events[0]["request"]["messages"][0]["content"], instructions);
    assert_eq!(events[0]["kind"], "chat");
    assert_eq!(events.last().unwrap()["text"], "Hello!");

    // A server id with no desk data at all (mistyped?) is answered with a warning.
    app.llm.push_reply(Reply::text("No idea."));
    let events = admin
        .ask(json!({"guild": "123456789012345678", "question": "How do I reset my password?"}))
        .await;
    assert_eq!(events[0]["kind"], "llm");
    let warnings = events[0]["warnings"].as_array().unwrap();
    assert!(
        warnings.len() == 1
            && warnings[0]
                .as_str()
                .unwrap()
                .starts_with("Server 123456789012345678 has no support-desk data"),
        "{warnings:?}"
    );

    // The model failing: why, and what the member would have been sent.
    app.llm
        .add_failure(FailureRule::always(Failure::server_error()));
    app.configure(|c| {
        c.llm_first_token_timeout = Duration::from_secs(1);
        c.llm_answer_timeout = Duration::from_secs(2);
    })
    .await;
    let events = admin
        .ask(json!({"guild": guild_id, "question": "Do you sell green tea?"}))
        .await;
    let last = events.last().unwrap();
    assert_eq!(last["type"], "failed", "{events:?}");
    assert_eq!(
        last["fallback"],
        app.runtime.current().config.desk_staff_follow_up_message
    );

    assert_eq!(
        discord_writes(&app),
        writes_before,
        "nothing was sent to Discord"
    );
    app.stop().await;
}

disconcierge_e2e::both!(the_dashboard_reports_and_commands_are_registered_again);
async fn the_dashboard_reports_and_commands_are_registered_again(backend: Backend) {
    let Some(app) = desk_app(backend).await else {
        return;
    };
    let admin = Admin::sign_in(&app).await;
    let status = admin.get("/api/status").await;
    assert_eq!(status["gateway"]["level"], "ok", "{status}");
    assert!(
        status["gateway"]["text"]
            .as_str()
            .unwrap()
            .starts_with("connected since")
    );
    assert_eq!(status["webhook"]["level"], "ok");
    assert_eq!(status["database"]["level"], "ok");

    let registrations = |app: &TestApp| {
        discord_writes(app)
            .into_iter()
            .filter(|w| w.starts_with("PUT") && w.contains("commands"))
            .count()
    };
    let before = registrations(&app);
    let reply = admin
        .post("/api/actions/register_commands", json!({}))
        .await;
    assert_eq!(reply.status(), 200);
    let body: Value = reply.json().await.unwrap();
    assert!(
        body["message"].as_str().unwrap().contains("registered"),
        "{body}"
    );
    assert_eq!(
        registrations(&app),
        before + 1,
        "registered even though nothing changed"
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clearing_all_conversations_starts_everyone_afresh() {
    let app = spawn_app(Backend::Sqlite, &[("DC_LLM_PROVIDER", "openai-chat")]).await;
    app.discord.gateway().wait_ready(1).await;
    let g = app
        .discord
        .guild("Cafe")
        .member("alice")
        .text_channel("general")
        .create();
    chat(&app, &g, "first").await;
    chat(&app, &g, "second").await;
    let second = chat_requests(&app).pop().unwrap();
    assert_eq!(
        second["messages"].as_array().unwrap().len(),
        4,
        "system, first exchange, question"
    );

    let admin = Admin::sign_in(&app).await;
    let reply = admin
        .post("/api/actions/clear_conversations", json!({}))
        .await;
    assert_eq!(reply.status(), 200);
    assert_eq!(reply.json::<Value>().await.unwrap()["users"], 1);
    chat(&app, &g, "third").await;
    let third = chat_requests(&app).pop().unwrap();
    let messages = third["messages"].as_array().unwrap();
    assert_eq!(messages.len(), 2, "system and the question only: {third}");
    assert_eq!(messages[1]["content"], "third");
    app.stop().await;
}

/// Alice asks `/chat prompt` and gets her answer.
async fn chat(app: &TestApp, g: &disconcierge_discord_sim::GuildHandle, prompt: &str) {
    app.llm
        .push_reply(Reply::text(format!("answer to {prompt}")));
    app.discord
        .user(g.user("alice"))
        .run_slash_command(
            g.channel("general"),
            "chat",
            [("prompt", prompt)],
            Via::Gateway,
        )
        .await
        .wait_original(|m| m.content.contains("Commands used"))
        .await;
    app.settle(g.user("alice").get()).await;
}

disconcierge_e2e::both!(the_playground_has_a_budget_of_its_own);
async fn the_playground_has_a_budget_of_its_own(backend: Backend) {
    let Some(app) = desk_app(backend).await else {
        return;
    };
    // The members' budgets allow one request every 100 s; the playground keeps its own.
    app.configure(|c| {
        c.llm_requests_per_second = 0.01;
        c.desk_llm_requests_per_second = 0.01;
    })
    .await;
    let g = guild(&app, "Tea Shop");
    app.llm.push_reply(Reply::text("Chat answer."));
    let asked = app
        .discord
        .user(g.user("ann"))
        .run_slash_command(
            g.channel("general"),
            "chat",
            [("prompt", "hi")],
            Via::Gateway,
        )
        .await;
    asked
        .wait_original(|m| m.content.starts_with("Chat answer."))
        .await;
    // /chat's next slot is 100 s away; the playground answers without waiting for it (a shared budget
    // would hold this request until then).
    let admin = Admin::sign_in(&app).await;
    app.llm.push_reply(Reply::text("Playground answer."));
    let events = tokio::time::timeout(
        Duration::from_secs(30),
        admin.ask(json!({"question": "Say hello"})),
    )
    .await
    .expect("the playground did not wait for the members' budget");
    assert_eq!(events.last().unwrap()["text"], "Playground answer.");
    app.discord.assert_no_violations();
    app.stop().await;
}
