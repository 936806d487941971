//! Webhook interactions against a tiny bot endpoint that verifies signatures with ed25519-dalek, the way
//! the bot will.

use std::time::{SystemTime, UNIX_EPOCH};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use disconcierge_discord_sim::{AckVia, DiscordSim, Method, Via};
use ed25519_dalek::{Signature, Verifier, VerifyingKey};
use serde_json::{Value, json};
use twilight_model::application::interaction::{Interaction, InteractionType};

use crate::common::{http, register_chat};

fn unhex(s: &str) -> Option<Vec<u8>> {
    s.len().is_multiple_of(2).then_some(())?;
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

#[derive(Clone)]
struct Bot {
    key: VerifyingKey,
    /// What to answer to commands.
    reply: Value,
}

fn verify(key: &VerifyingKey, headers: &HeaderMap, body: &[u8]) -> bool {
    let get = |n: &str| headers.get(n).and_then(|v| v.to_str().ok());
    let (Some(sig), Some(ts)) = (get("x-signature-ed25519"), get("x-signature-timestamp")) else {
        return false;
    };
    let Some(sig) = unhex(sig).and_then(|b| Signature::from_slice(&b).ok()) else {
        return false;
    };
    let Ok(ts_secs) = ts.parse::<u64>() else {
        return false;
    };
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    if now.abs_diff(ts_secs) > 300 {
        return false;
    }
    let mut msg = ts.as_bytes().to_vec();
    msg.extend_from_slice(body);
    key.verify(&msg, &sig).is_ok()
}

async fn endpoint(State(bot): State<Bot>, headers: HeaderMap, body: Bytes) -> Response {
    if !verify(&bot.key, &headers, &body) {
        return (StatusCode::UNAUTHORIZED, "invalid request signature").into_response();
    }
    let interaction: Interaction =
        serde_json::from_slice(&body).expect("twilight reads the interaction");
    match interaction.kind {
        InteractionType::Ping => axum::Json(json!({"type": 1})).into_response(),
        _ => axum::Json(bot.reply.clone()).into_response(),
    }
}

/// Serves the fake bot on 127.0.0.1 and returns its interactions URL.
async fn serve_bot(sim: &DiscordSim, reply: Value) -> String {
    let bytes: [u8; 32] = unhex(&sim.public_key_hex()).unwrap().try_into().unwrap();
    let bot = Bot {
        key: VerifyingKey::from_bytes(&bytes).unwrap(),
        reply,
    };
    let app = axum::Router::new()
        .route("/interactions", axum::routing::post(endpoint))
        .with_state(bot);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{addr}/interactions")
}

#[tokio::test]
async fn signatures_verify_and_forgeries_do_not() {
    let sim = DiscordSim::start().await;
    let url = serve_bot(&sim, json!({"type": 1})).await;
    let hook = sim.webhook(&url);
    let ok = hook.ping().await;
    assert_eq!(ok.status, 200, "{}", ok.body);
    assert_eq!(ok.json, Some(json!({"type": 1})));
    assert_eq!(hook.ping_forged().await.status, 401);
    assert_eq!(hook.ping_stale().await.status, 401);
    assert_eq!(hook.ping_unsigned().await.status, 401);
    sim.assert_no_violations();
}

#[tokio::test]
async fn webhook_slash_command_is_acknowledged_by_the_http_response() {
    let sim = DiscordSim::start().await;
    let guild = sim
        .guild("G")
        .member("alice")
        .text_channel("general")
        .create();
    register_chat(&sim, &http(&sim)).await;
    let url = serve_bot(
        &sim,
        json!({"type": 4, "data": {"content": "pong", "flags": 64}}),
    )
    .await;
    let handle = sim
        .user(guild.user("alice"))
        .run_slash_command(
            guild.channel("general"),
            "chat",
            [("prompt", "ping?")],
            Via::Webhook { url },
        )
        .await;
    assert_eq!(handle.webhook_response().unwrap().status, 200);
    let ack = handle.wait_ack().await;
    assert_eq!(ack.via, AckVia::WebhookResponse);
    let original = handle.wait_original(|m| m.content == "pong").await;
    assert!(
        original
            .flags
            .unwrap()
            .contains(twilight_model::channel::message::MessageFlags::EPHEMERAL)
    );
    // Recorded like a REST callback.
    let recorded = sim.requests_to(Method::POST, "/interactions/{id}/{token}/callback");
    assert_eq!(recorded.len(), 1);
    assert_eq!(
        recorded[0].header("x-discord-sim-via"),
        Some("webhook-response")
    );
    assert_eq!(recorded[0].body.as_ref().unwrap()["type"], 4);
    sim.assert_no_violations();
}

#[tokio::test]
async fn an_invalid_webhook_answer_is_a_violation() {
    let sim = DiscordSim::start().await;
    let guild = sim
        .guild("G")
        .member("alice")
        .text_channel("general")
        .create();
    register_chat(&sim, &http(&sim)).await;
    let url = serve_bot(
        &sim,
        json!({"type": 4, "data": {"content": "x".repeat(2001)}}),
    )
    .await;
    let handle = sim
        .user(guild.user("alice"))
        .run_slash_command(
            guild.channel("general"),
            "chat",
            [("prompt", "hi")],
            Via::Webhook { url },
        )
        .await;
    let violations = sim.take_violations();
    assert_eq!(violations.len(), 1, "{violations:?}");
    assert!(
        violations[0].message.contains("BASE_TYPE_MAX_LENGTH"),
        "{}",
        violations[0]
    );
    assert!(
        handle.record().ack.is_none(),
        "Discord would not have accepted it"
    );
}

#[derive(Clone)]
struct DeferringBot {
    key: VerifyingKey,
    http: std::sync::Arc<twilight_http::Client>,
    app: twilight_model::id::Id<twilight_model::id::marker::ApplicationMarker>,
}

/// Answers with a deferral and edits the original right away, racing its own HTTP answer: the
/// simulator must hold the edit until the answer is applied.
async fn deferring_endpoint(
    State(bot): State<DeferringBot>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if !verify(&bot.key, &headers, &body) {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    let interaction: Interaction = serde_json::from_slice(&body).unwrap();
    tokio::spawn(async move {
        bot.http
            .interaction(bot.app)
            .update_response(&interaction.token)
            .content(Some("done"))
            .await
            .expect("editing the deferred response");
    });
    // Answer late enough that the edit certainly arrives before the answer does. Kept as a sleep: it
    // sets up the race under test, and nothing outside the simulator shows that it holds the edit.
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    axum::Json(json!({"type": 5})).into_response()
}

#[tokio::test]
async fn deferral_in_the_http_answer_then_immediate_edit() {
    let sim = DiscordSim::start().await;
    let guild = sim
        .guild("G")
        .member("alice")
        .text_channel("general")
        .create();
    let client = http(&sim);
    register_chat(&sim, &client).await;
    let bytes: [u8; 32] = unhex(&sim.public_key_hex()).unwrap().try_into().unwrap();
    let bot = DeferringBot {
        key: VerifyingKey::from_bytes(&bytes).unwrap(),
        http: std::sync::Arc::new(client),
        app: sim.application_id(),
    };
    let app = axum::Router::new()
        .route("/interactions", axum::routing::post(deferring_endpoint))
        .with_state(bot);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/interactions", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });

    let handle = sim
        .user(guild.user("alice"))
        .run_slash_command(
            guild.channel("general"),
            "chat",
            [("prompt", "hi")],
            Via::Webhook { url },
        )
        .await;
    let done = handle.wait_original(|m| m.content == "done").await;
    assert!(
        !done
            .flags
            .unwrap()
            .contains(twilight_model::channel::message::MessageFlags::LOADING)
    );
    assert_eq!(handle.record().ack.unwrap().via, AckVia::WebhookResponse);
    sim.assert_no_violations();
}

/// An interaction prepared for later has its 3 s window start at that later time: a load generator can
/// prepare and sign its interactions before its run. One prepared for now does not.
#[tokio::test]
async fn a_prepared_interactions_window_starts_when_it_is_due() {
    let sim = DiscordSim::start().await;
    let guild = crate::common::alice_in_general(&sim).await;
    let alice = sim.user(guild.user("alice"));
    let channel = guild.channel("general");
    let deferred = json!({ "type": 5 }).to_string();
    let url = "http://127.0.0.1:9/interactions";

    let later = alice
        .run_slash_command(
            channel,
            "chat",
            [("prompt", "later")],
            Via::PreparedFor(std::time::Duration::from_secs(10)),
        )
        .await;
    let now = alice
        .run_slash_command(channel, "chat", [("prompt", "now")], Via::Prepared)
        .await;
    assert!(later.prepared().is_some() && now.prepared().is_some());
    // 12 s on: 2 s into the later one's window, 12 s past the other's.
    sim.clock().advance(std::time::Duration::from_secs(12));
    later.complete(url, 200, deferred.clone());
    assert!(
        later.record().ack.is_some(),
        "acknowledged within its window"
    );
    assert!(sim.violations().is_empty(), "{:?}", sim.violations());
    now.complete(url, 200, deferred);
    assert!(
        now.record().ack.is_none(),
        "too late for the one due at once"
    );
    let refused = sim.take_violations();
    assert_eq!(refused.len(), 1, "{refused:?}");
    assert!(refused[0].to_string().contains("10062"), "{refused:?}");
}
