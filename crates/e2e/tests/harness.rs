//! The harness itself: the real application starts against the simulators on both databases, its LLM
//! backend reaches the simulated LLM, and what it does is stored.

use disconcierge_e2e::{Backend, try_spawn_app};
use disconcierge_llm::{Limits, LlmRequest};
use std::sync::{Arc, Mutex};
use std::time::Duration;

disconcierge_e2e::both!(the_application_answers_through_the_simulated_llm_and_logs_the_call);
async fn the_application_answers_through_the_simulated_llm_and_logs_the_call(backend: Backend) {
    for provider in ["openai", "openai-chat", "ollama"] {
        let Some(app) = try_spawn_app(backend, &[("DC_LLM_PROVIDER", provider)]).await else {
            return;
        };
        let health = reqwest::get(format!("{}/readyz", app.api_url))
            .await
            .unwrap();
        assert_eq!(health.status(), 200);

        app.llm.push_reply(disconcierge_llm_sim::Reply::text(
            "Hello from the simulator",
        ));
        let llm = app.llm_backend();
        let request = LlmRequest {
            model: "test-model".into(),
            instructions: "Be kind.".into(),
            prompt: "Hi there".into(),
            ..Default::default()
        };
        let limits = Limits {
            first_token: Duration::from_secs(5),
            total: Duration::from_secs(10),
        };
        let mut streamed = String::new();
        let completion = llm
            .stream(&request, limits, &mut |d| streamed.push_str(d))
            .await
            .unwrap();
        drop(llm);
        assert_eq!(completion.text, "Hello from the simulator", "{provider}");
        assert_eq!(streamed, completion.text, "{provider}");

        // The simulator saw the instructions and the prompt.
        let seen = app
            .llm
            .last_llm_request()
            .expect("a request reached the simulator");
        assert_eq!(seen.instructions.as_deref(), Some("Be kind."), "{provider}");
        assert_eq!(seen.last_user_text(), Some("Hi there"), "{provider}");

        // After a graceful stop, the call is in the database with its request.
        let db = app.stop().await;
        assert_eq!(
            db.scalar_i64("SELECT COUNT(*) FROM llm_call_logs").await,
            1,
            "{provider}"
        );
        let logged_provider = db
            .scalar_i64(&format!(
                "SELECT COUNT(*) FROM llm_call_logs WHERE provider = '{provider}'"
            ))
            .await;
        assert_eq!(logged_provider, 1, "{provider}");
    }
}

/// What the application logs, as text: installed as this thread's subscriber in a single-threaded test
/// runtime, where the application's tasks run too, it sees all of their events.
#[derive(Clone, Default)]
struct Logs(Arc<Mutex<Vec<u8>>>);

impl Logs {
    fn capture(&self) -> tracing::subscriber::DefaultGuard {
        tracing::subscriber::set_default(
            tracing_subscriber::fmt()
                .with_writer(self.clone())
                .with_ansi(false)
                .with_max_level(tracing::Level::INFO)
                .finish(),
        )
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }

    /// Waits (up to 10 s) until a line contains `what`.
    async fn wait_for(&self, what: &str) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while !self.text().contains(what) {
            assert!(
                tokio::time::Instant::now() < deadline,
                "nothing logged {what:?} within 10 s:\n{}",
                self.text()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl std::io::Write for Logs {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Logs {
    type Writer = Logs;

    fn make_writer(&'a self) -> Logs {
        self.clone()
    }
}

#[tokio::test]
async fn a_refused_discord_token_keeps_the_admin_api_up_and_is_not_retried() {
    let logs = Logs::default();
    let _capture = logs.capture();
    let app = disconcierge_e2e::spawn_app(
        Backend::Sqlite,
        &[("DC_DISCORD_TOKEN", "not-the-bot-token")],
    )
    .await;
    // The Discord side tried once and gave up; the API answers meanwhile.
    let first = app
        .discord
        .wait_requests(
            disconcierge_discord_sim::Method::GET,
            "/applications/@me",
            1,
        )
        .await;
    assert_eq!(first[0].status, Some(401));
    let health = reqwest::get(format!("{}/healthz", app.api_url))
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
    // The Discord side gives up for good, and says so as it returns (a retry would come after 1 s):
    // from then on nothing of the application talks to Discord, so what it sent is all it sends.
    logs.wait_for("The bot stays offline until this is fixed")
        .await;
    assert_eq!(
        app.discord.requests().len(),
        1,
        "no retries, no registration: {:?}",
        app.discord.requests()
    );
    assert_eq!(app.discord.gateway().connection_count(), 0);
    app.discord.take_violations();
    app.stop().await;
}

/// A graceful stop ends the gateway session the way Discord expects (close code 1000, so the bot shows
/// offline at once) and does not connect again on the way out.
#[tokio::test]
async fn a_graceful_stop_closes_the_gateway_session_and_does_not_reconnect() {
    let app = disconcierge_e2e::spawn_app(Backend::Sqlite, &[]).await;
    app.discord.gateway().wait_ready(1).await;
    let world = app.stop_keeping_world().await;
    let gateway = world.discord.gateway();
    assert_eq!(gateway.connection_count(), 1, "{:?}", gateway.log());
    let closes: Vec<Option<u16>> = gateway
        .log()
        .into_iter()
        .filter_map(|r| match r {
            disconcierge_discord_sim::GatewayRecord::Closed { code, .. } => Some(code),
            _ => None,
        })
        .collect();
    assert_eq!(closes, [Some(1000)]);
    assert_eq!(gateway.live_sessions(), 0);
}
