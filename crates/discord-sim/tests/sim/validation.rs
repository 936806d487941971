//! What Discord would reject is rejected and recorded as a violation (twilight validates client-side,
//! so these requests are made raw, as a buggy bot might).

use disconcierge_discord_sim::{DiscordSim, Via};
use serde_json::{Value, json};

use crate::common::{http, register_chat};

async fn post(sim: &DiscordSim, path: &str, body: Value, auth: bool) -> (u16, Value) {
    let mut req = reqwest::Client::new()
        .post(format!("{}/api/v10{path}", sim.api_base_url()))
        .header("content-type", "application/json")
        .body(body.to_string());
    if auth {
        req = req.header("authorization", format!("Bot {}", sim.bot_token()));
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    (
        status,
        serde_json::from_str(&resp.text().await.unwrap()).unwrap_or(Value::Null),
    )
}

#[tokio::test]
async fn content_over_2000_chars_is_invalid_form_body() {
    let sim = DiscordSim::start().await;
    let guild = sim.guild("G").text_channel("general").create();
    let path = format!("/channels/{}/messages", guild.channel("general"));
    let (status, body) = post(&sim, &path, json!({"content": "x".repeat(2001)}), true).await;
    assert_eq!(status, 400);
    assert_eq!(body["code"], 50035);
    assert_eq!(body["message"], "Invalid Form Body");
    assert_eq!(
        body["errors"]["content"]["_errors"][0]["code"],
        "BASE_TYPE_MAX_LENGTH"
    );
    let v = sim.take_violations();
    assert_eq!(v.len(), 1);
    assert!(v[0].context.starts_with("POST /channels/"), "{}", v[0]);
    // Exactly 2000 is fine.
    let (status, _) = post(&sim, &path, json!({"content": "x".repeat(2000)}), true).await;
    assert_eq!(status, 200);
    sim.assert_no_violations();
}

#[tokio::test]
async fn component_limits_are_enforced() {
    let sim = DiscordSim::start().await;
    let guild = sim.guild("G").text_channel("general").create();
    let path = format!("/channels/{}/messages", guild.channel("general"));
    let button =
        |id: String, label: &str| json!({"type": 2, "style": 1, "label": label, "custom_id": id});
    let six: Vec<Value> = (0..6).map(|i| button(format!("b{i}"), "ok")).collect();
    let rows = vec![
        json!({"type": 1, "components": six}),
        json!({"type": 1, "components": [button("y".repeat(101), &"l".repeat(81))]}),
    ];
    let (status, body) = post(
        &sim,
        &path,
        json!({"content": "x", "components": rows}),
        true,
    )
    .await;
    assert_eq!(status, 400);
    let errors = &body["errors"]["components"];
    assert!(errors["0"]["components"]["_errors"].is_array(), "{body}");
    assert!(
        errors["1"]["components"]["0"]["custom_id"]["_errors"].is_array(),
        "{body}"
    );
    assert!(
        errors["1"]["components"]["0"]["label"]["_errors"].is_array(),
        "{body}"
    );
    let too_many_rows: Vec<Value> = (0..6)
        .map(|i| json!({"type": 1, "components": [button(format!("r{i}"), "ok")]}))
        .collect();
    let (status, body) = post(&sim, &path, json!({"components": too_many_rows}), true).await;
    assert_eq!(status, 400);
    assert!(body["errors"]["components"]["_errors"].is_array(), "{body}");
    let (status, body) = post(
        &sim,
        &path,
        json!({"embeds": vec![json!({"title": "t"}); 11]}),
        true,
    )
    .await;
    assert_eq!(status, 400);
    assert!(body["errors"]["embeds"]["_errors"].is_array(), "{body}");
    assert_eq!(sim.take_violations().len(), 3);
}

#[tokio::test]
async fn bodies_twilight_model_cannot_read_are_violations() {
    let sim = DiscordSim::start().await;
    let guild = sim
        .guild("G")
        .member("alice")
        .text_channel("general")
        .create();
    register_chat(&sim, &http(&sim)).await;
    let handle = sim
        .user(guild.user("alice"))
        .run_slash_command(
            guild.channel("general"),
            "chat",
            [("prompt", "hi")],
            Via::Gateway,
        )
        .await;
    let path = format!("/interactions/{}/{}/callback", handle.id(), handle.token());
    let (status, body) = post(&sim, &path, json!({"type": "banana"}), false).await;
    assert_eq!(status, 400);
    assert_eq!(body["code"], 50035);
    let v = sim.take_violations();
    assert_eq!(v.len(), 1);
    assert!(v[0].message.contains("InteractionResponse"), "{}", v[0]);
    assert!(handle.record().ack.is_none());

    // A misspelt field is refused rather than silently ignored.
    let path = format!("/channels/{}/messages", guild.channel("general"));
    let (status, _) = post(&sim, &path, json!({"contnet": "typo"}), true).await;
    assert_eq!(status, 400);
    assert!(sim.take_violations()[0].message.contains("contnet"));
}

#[tokio::test]
async fn missing_authorization_is_401_and_unknown_routes_are_violations() {
    let sim = DiscordSim::start().await;
    let guild = sim.guild("G").text_channel("general").create();
    let path = format!("/channels/{}/messages", guild.channel("general"));
    let (status, body) = post(&sim, &path, json!({"content": "x"}), false).await;
    assert_eq!(
        (status, body),
        (401, json!({"code": 0, "message": "401: Unauthorized"}))
    );
    let (status, _) = post(&sim, "/not/a/route", json!({}), true).await;
    assert_eq!(status, 404);
    let v = sim.take_violations();
    assert_eq!(v.len(), 1);
    assert!(v[0].message.contains("not implemented"));
}

#[tokio::test]
async fn dropping_the_sim_with_violations_fails_the_test() {
    let sim = DiscordSim::start().await;
    let guild = sim.guild("G").text_channel("general").create();
    let path = format!("/channels/{}/messages", guild.channel("general"));
    post(&sim, &path, json!({"content": "x".repeat(2001)}), true).await;
    let dropped = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || drop(sim)));
    let msg = dropped.expect_err("drop must panic");
    let text = msg.downcast_ref::<String>().cloned().unwrap_or_default();
    assert!(text.contains("protocol violation"), "{text}");
}
