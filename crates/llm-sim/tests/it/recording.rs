//! What the bot sent is observable, the same way whichever API it used.

use std::time::{Duration, Instant};

use async_openai::types::chat::CreateChatCompletionRequest;
use async_openai::types::responses::CreateResponse;
use disconcierge_llm_sim::{Endpoint, LlmSim, Message};
use serde_json::json;

use crate::{WAIT, http, openai};

/// The same exchange, sent through the three APIs, reads the same.
#[tokio::test]
async fn instructions_and_history_are_normalised_across_apis() {
    let sim = LlmSim::start().await;
    let expected = vec![
        Message::new("user", "What is the refund policy?"),
        Message::new("assistant", "30 days."),
        Message::new("user", "Even for sales?"),
    ];
    let chat_messages = json!([
        {"role": "system", "content": "You are Guild X's concierge."},
        {"role": "user", "content": "What is the refund policy?"},
        {"role": "assistant", "content": "30 days."},
        {"role": "user", "content": "Even for sales?"}
    ]);

    let chat: CreateChatCompletionRequest =
        serde_json::from_value(json!({"model": "m", "messages": chat_messages})).unwrap();
    openai(&sim).chat().create(chat).await.unwrap();

    let responses: CreateResponse = serde_json::from_value(json!({
        "model": "m",
        "instructions": "You are Guild X's concierge.",
        "input": chat_messages.as_array().unwrap()[1..].to_vec(),
    }))
    .unwrap();
    openai(&sim).responses().create(responses).await.unwrap();

    http()
        .post(format!("{}/api/chat", sim.ollama_url()))
        .json(&json!({"model": "m", "stream": false, "messages": chat_messages}))
        .send()
        .await
        .unwrap();

    let seen = sim.wait_for_requests(3, WAIT).await.unwrap();
    assert_eq!(
        seen.iter().map(|r| r.endpoint).collect::<Vec<_>>(),
        [
            Endpoint::ChatCompletions,
            Endpoint::Responses,
            Endpoint::OllamaChat
        ]
    );
    for r in &seen {
        assert_eq!(
            r.instructions(),
            Some("You are Guild X's concierge."),
            "{:?}",
            r.endpoint
        );
        assert_eq!(r.messages(), expected.as_slice(), "{:?}", r.endpoint);
        assert_eq!(r.last_user_text(), Some("Even for sales?"));
        assert_eq!(r.model(), Some("m"));
    }
    // The raw body is kept too.
    assert_eq!(seen[2].body.as_ref().unwrap()["stream"], false);
}

#[tokio::test]
async fn headers_are_recorded_with_the_key_redacted() {
    let sim = LlmSim::start().await;
    http()
        .get(format!("{}/models", sim.openai_base_url()))
        .header(
            "authorization",
            format!("Bearer {}", sim.api_key().unwrap()),
        )
        .header("x-request-id", "abc-123")
        .send()
        .await
        .unwrap();
    let r = sim.last_request().unwrap();
    assert_eq!(r.endpoint, Endpoint::Models);
    assert_eq!(r.method, "GET");
    assert_eq!(r.path, "/v1/models");
    assert!(r.authorization_present && r.authorized);
    assert_eq!(r.header("X-Request-Id"), Some("abc-123"));
    assert_eq!(r.header("authorization"), Some("<redacted>"));
    assert!(
        !format!("{r:?}").contains(sim.api_key().unwrap()),
        "the key never appears in recordings"
    );
    assert!(r.llm.is_none());
}

#[tokio::test]
async fn wait_for_requests_times_out_with_what_was_seen() {
    let sim = LlmSim::start().await;
    http()
        .post(format!("{}/api/chat", sim.ollama_url()))
        .json(&json!({"model": "m", "stream": false, "messages": [{"role": "user", "content": "only one"}]}))
        .send()
        .await
        .unwrap();
    let started = Instant::now();
    let err = sim
        .wait_for_requests(2, Duration::from_millis(200))
        .await
        .unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(2));
    assert_eq!(err.wanted, 2);
    assert_eq!(err.seen.len(), 1);
    let msg = err.to_string();
    assert!(
        msg.contains("OllamaChat") && msg.contains("only one"),
        "{msg}"
    );

    let err = sim
        .wait_for_requests_to(Endpoint::Responses, 1, Duration::from_millis(50))
        .await
        .unwrap_err();
    assert!(err.seen.is_empty());
}

#[tokio::test]
async fn wait_for_requests_wakes_when_they_arrive() {
    let sim = LlmSim::start().await;
    let url = format!("{}/api/version", sim.ollama_url());
    tokio::spawn(async move {
        // Sent once the wait below has begun: that the wait wakes for them is what is tested.
        tokio::time::sleep(Duration::from_millis(100)).await;
        for _ in 0..3 {
            http().get(&url).send().await.unwrap();
        }
    });
    let seen = sim
        .wait_for_requests_to(Endpoint::OllamaVersion, 3, WAIT)
        .await
        .unwrap();
    assert_eq!(seen.len(), 3);
    assert_eq!(seen.iter().map(|r| r.index).collect::<Vec<_>>(), [0, 1, 2]);
    sim.clear_requests();
    assert!(sim.requests().is_empty());
}
