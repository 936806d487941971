//! The admin interface in a real (headless Chromium) browser, against the real application: sign in, find a
//! chat command asked through the simulated Discord, see its prompt rendered as text (no script runs),
//! change a setting and see the bot apply it at once.
//!
//! Skipped, saying so, when Chromium or chromedriver is not installed.

use disconcierge_discord_sim::Via;
use disconcierge_e2e::browser::Browser;
use disconcierge_e2e::{Backend, spawn_app};
use disconcierge_llm_sim::Reply;

const XSS: &str = "<script>alert(1)</script><img src=x onerror=alert(2)>";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_signs_in_reads_a_command_and_changes_a_setting_live() {
    let Some(browser) = Browser::start().await else {
        return;
    };
    let app = spawn_app(Backend::Sqlite, &[("DC_LLM_PROVIDER", "openai-chat")]).await;
    app.discord.gateway().wait_ready(1).await;
    disconcierge_app::admin::create_admin(app.store.as_ref(), "admin", "correct horse battery")
        .await
        .unwrap();

    // Someone asks the bot something nasty through Discord.
    let guild = app
        .discord
        .guild("Test Guild")
        .member("mallory")
        .member("joe")
        .text_channel("general")
        .create();
    app.llm.push_reply(Reply::text("I only answer questions."));
    let asked = app
        .discord
        .user(guild.user("mallory"))
        .run_slash_command(
            guild.channel("general"),
            "chat",
            [("prompt", XSS)],
            Via::Gateway,
        )
        .await;
    asked
        .wait_original(|m| m.content.contains("Commands used"))
        .await;
    app.settle(guild.user("mallory").get()).await;

    // A visitor is sent to the login page, and back where they were going after signing in.
    browser
        .goto(&format!("{}/disconcierge/chat_commands", app.api_url))
        .await;
    assert!(browser.url().await.contains("/disconcierge/login?next="));
    browser.type_into("#username", "admin").await;
    browser.type_into("#password", "wrong password").await;
    browser.click("#sign-in").await;
    browser.wait_for(".error").await;
    assert!(
        browser
            .text(".error")
            .await
            .contains("Wrong username or password")
    );
    browser
        .type_into("#password", "correct horse battery")
        .await;
    browser.click("#sign-in").await;
    let url = browser.wait_url("/disconcierge/chat_commands").await;
    assert!(url.ends_with("/disconcierge/chat_commands"), "{url}");

    // The list shows the prompt as text, and leads to the command's page.
    let row = browser.text("td.prompt").await;
    assert!(row.starts_with("<script>alert(1)</script>"), "{row}");
    browser.click("table.list td a").await;
    browser.wait_url("/disconcierge/chat_commands/").await;
    assert_eq!(browser.text("#prompt").await, XSS);
    assert_eq!(browser.text("#response").await, "I only answer questions.");
    assert_eq!(browser.text("#state").await, "completed");
    // The LLM call is listed with what was sent (the prompt, inside the JSON, still as text).
    assert!(browser.exists("details.call").await);
    assert!(browser.source().await.contains("openai-chat"));
    // No script ran: there is no alert, and no element was injected.
    assert_eq!(browser.alert().await, None);
    assert!(!browser.exists("main img").await);

    // Pause the bot from the configuration page.
    browser
        .goto(&format!("{}/disconcierge/config", app.api_url))
        .await;
    assert!(!browser.is_selected("#f-paused").await);
    let version = app.runtime.current().version;
    browser
        .type_into("#f-paused_message", "Back in five minutes.")
        .await;
    browser.click("#f-paused").await;
    browser.click("#save").await;
    browser.wait_url("saved=").await;
    assert!(
        browser.text("#notice").await.contains("Saved as version"),
        "{}",
        browser.source().await
    );
    assert!(browser.is_selected("#f-paused").await);
    let applied = app.runtime.current();
    assert_eq!(applied.version, version + 1);
    assert!(applied.config.paused);
    assert_eq!(applied.updated_by.as_deref(), Some("admin"));

    // The bot applies it at once: the next user is told it is paused, with the new message.
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
    assert_eq!(told.content, "Back in five minutes.");

    // A wrong value is refused next to its field, keeping what was typed.
    browser.type_into("#f-chat_command_max_length", "0").await;
    browser.click("#save").await;
    browser.wait_for("#error-chat_command_max_length").await;
    assert_eq!(app.runtime.current().version, version + 1);

    // The playground: the answer streams into the page (a first part is shown while the model is still
    // writing), with the exact request, and a question full of markup stays text. Nothing goes to Discord.
    let discord_requests = app.discord.requests().len();
    app.llm.push_reply(
        Reply::tokens(["Streaming ", "part one. ", "Then ", "part two."])
            .per_token(std::time::Duration::from_millis(300)),
    );
    browser
        .goto(&format!("{}/disconcierge/playground", app.api_url))
        .await;
    browser.type_into("#question", XSS).await;
    browser.click("#ask").await;
    let partial = browser
        .wait_text("#pg-answer", |t| t.starts_with("Streaming"))
        .await;
    assert!(
        !partial.contains("part two"),
        "seen before the end: {partial:?}"
    );
    assert_eq!(browser.text("#pg-ending").await, "", "not finished yet");
    browser
        .wait_text("#pg-ending", |t| t.starts_with("Done in"))
        .await;
    assert_eq!(
        browser.text("#pg-answer").await,
        "Streaming part one. Then part two."
    );
    assert!(
        browser
            .text("#pg-decision")
            .await
            .starts_with("Asked as /chat")
    );
    let request = browser.text("#pg-request").await;
    assert!(request.contains("\"messages\""), "{request}");
    assert!(
        request.contains("<script>alert(1)</script>"),
        "the question as text: {request}"
    );
    assert!(
        browser.url().await.ends_with("/disconcierge/playground"),
        "answered in place"
    );
    assert_eq!(browser.alert().await, None);
    assert!(!browser.exists("main img").await);
    assert_eq!(
        app.discord.requests().len(),
        discord_requests,
        "nothing sent to Discord"
    );

    // Signing out ends the session.
    browser.click("form.logout button").await;
    browser.wait_url("/disconcierge/login?signed_out").await;
    browser
        .goto(&format!("{}/disconcierge/config", app.api_url))
        .await;
    browser.wait_url("/disconcierge/login?next=").await;

    browser.quit().await;
    app.stop().await;
}
