//! Each scripted failure, as a client observes it.

use std::time::{Duration, Instant};

use async_openai::error::OpenAIError;
use async_openai::types::chat::CreateChatCompletionRequest;
use async_openai::types::responses::{CreateResponse, ResponseStreamEvent};
use disconcierge_llm_sim::{Endpoint, Failure, FailureRule, LlmSim, Reply, Script};
use futures_util::StreamExt;
use serde_json::{Value, json};

use crate::responses::assert_api_error;
use crate::{WAIT, bearer, http, openai, openai_with_key};

fn chat(stream: bool) -> Value {
    json!({"model": "m", "stream": stream, "messages": [{"role": "user", "content": "hi"}]})
}

fn chat_request(stream: bool) -> CreateChatCompletionRequest {
    serde_json::from_value(chat(stream)).unwrap()
}

fn responses_request(stream: bool) -> CreateResponse {
    serde_json::from_value(json!({"model": "m", "input": "hi", "stream": stream})).unwrap()
}

async fn post_chat(sim: &LlmSim, body: &Value) -> reqwest::Response {
    http()
        .post(format!("{}/chat/completions", sim.openai_base_url()))
        .header("authorization", bearer(sim))
        .json(body)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn http_500_in_each_api_shape() {
    let sim = LlmSim::start().await;
    sim.fail_next(2, Failure::server_error());
    let resp = post_chat(&sim, &chat(false)).await;
    assert_eq!(resp.status(), 500);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error"]["type"], "server_error");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("server had an error")
    );

    let resp = http()
        .post(format!("{}/api/chat", sim.ollama_url()))
        .json(&chat(false))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 500);
    let body: Value = resp.json().await.unwrap();
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("server had an error"),
        "Ollama shape: {body}"
    );

    // Used up: the next call succeeds.
    assert_eq!(post_chat(&sim, &chat(false)).await.status(), 200);
}

#[tokio::test]
async fn http_500_is_retried_by_async_openai_and_the_reply_survives() {
    let sim = LlmSim::start().await;
    sim.script(
        Script::new()
            .reply(Reply::text("scripted"))
            .fail_next(1, Failure::server_error()),
    );
    let r = openai(&sim)
        .responses()
        .create(responses_request(false))
        .await
        .unwrap();
    // The failed attempt did not consume the scripted reply.
    assert_eq!(r.output_text().as_deref(), Some("scripted"));
    assert_eq!(sim.requests_to(Endpoint::Responses).len(), 2);

    // More failures than the client's retries: the error surfaces.
    sim.fail_next(10, Failure::status(503, "overloaded"));
    let err = openai(&sim)
        .chat()
        .create(chat_request(false))
        .await
        .unwrap_err();
    assert_api_error(&err, 503, "overloaded");
    assert_eq!(
        sim.requests_to(Endpoint::ChatCompletions).len(),
        4,
        "1 try + 3 retries"
    );
}

#[tokio::test]
async fn http_429_with_retry_after() {
    let sim = LlmSim::start().await;
    sim.fail_next(2, Failure::rate_limited(7));
    let resp = post_chat(&sim, &chat(true)).await;
    assert_eq!(resp.status(), 429);
    assert_eq!(resp.headers()["retry-after"], "7");
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error"]["code"], "rate_limit_exceeded");
    assert_eq!(body["error"]["type"], "requests");

    let resp = http()
        .post(format!("{}/api/chat", sim.ollama_url()))
        .json(&chat(true))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 429);
    assert_eq!(resp.headers()["retry-after"], "7");
    assert!(resp.json::<Value>().await.unwrap()["error"].is_string());

    // async-openai honours Retry-After (0 s here) and retries.
    sim.fail_next(2, Failure::rate_limited(0));
    let r = openai(&sim)
        .chat()
        .create(chat_request(false))
        .await
        .unwrap();
    assert_eq!(r.choices[0].message.content.as_deref(), Some("echo: hi"));
    assert_eq!(sim.requests_to(Endpoint::ChatCompletions).len(), 4);
}

#[tokio::test]
async fn connection_dropped_mid_stream() {
    let sim = LlmSim::start().await;
    sim.set_default_reply(Reply::text("one two three four five"));

    // Chat Completions: two content deltas, then a stream error, never a finish.
    sim.fail_next(1, Failure::DropAfter(2));
    let mut stream = openai(&sim)
        .chat()
        .create_stream(chat_request(true))
        .await
        .unwrap();
    let mut contents = Vec::new();
    let mut error = None;
    while let Some(item) = stream.next().await {
        match item {
            Ok(c) => {
                assert!(
                    c.choices[0].finish_reason.is_none(),
                    "must not finish cleanly"
                );
                contents.extend(c.choices[0].delta.content.clone().filter(|s| !s.is_empty()));
            }
            Err(e) => {
                error = Some(e);
                break;
            }
        }
    }
    assert_eq!(contents, ["one", " two"]);
    assert!(
        matches!(error, Some(OpenAIError::StreamError(_))),
        "{error:?}"
    );

    // Responses: same cut, no completed event.
    sim.fail_next(1, Failure::DropAfter(2));
    let mut stream = openai(&sim)
        .responses()
        .create_stream(responses_request(true))
        .await
        .unwrap();
    let mut deltas = 0;
    let mut errored = false;
    while let Some(item) = stream.next().await {
        match item {
            Ok(ResponseStreamEvent::ResponseOutputTextDelta(_)) => deltas += 1,
            Ok(ResponseStreamEvent::ResponseCompleted(_)) => panic!("must not complete"),
            Ok(_) => {}
            Err(_) => {
                errored = true;
                break;
            }
        }
    }
    assert_eq!(deltas, 2);
    assert!(errored);

    // Ollama NDJSON: the body errors after two lines.
    sim.fail_next(1, Failure::DropAfter(2));
    let resp = http()
        .post(format!("{}/api/chat", sim.ollama_url()))
        .json(&chat(true))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let mut body = resp.bytes_stream();
    let mut raw = Vec::new();
    let mut body_error = None;
    while let Some(chunk) = body.next().await {
        match chunk {
            Ok(b) => raw.extend_from_slice(&b),
            Err(e) => {
                body_error = Some(e);
                break;
            }
        }
    }
    assert!(
        body_error.is_some(),
        "the client must see the connection break"
    );
    let lines = crate::ndjson_lines(std::str::from_utf8(&raw).unwrap());
    assert_eq!(lines.len(), 2);
    assert!(lines.iter().all(|l| l["done"] == false));

    // Non-streaming: a truncated body, then the connection drops.
    sim.fail_next(1, Failure::DropAfter(0));
    let err = openai(&sim)
        .chat()
        .create(chat_request(false))
        .await
        .unwrap_err();
    assert!(matches!(err, OpenAIError::Reqwest(_)), "{err:?}");
}

#[tokio::test]
async fn malformed_chunk_mid_stream_is_a_client_parse_error() {
    let sim = LlmSim::start().await;
    sim.set_default_reply(Reply::text("alpha beta gamma"));

    sim.fail_next(1, Failure::MalformedAfter(1));
    let mut stream = openai(&sim)
        .chat()
        .create_stream(chat_request(true))
        .await
        .unwrap();
    let mut ok_text = String::new();
    let mut parse_errors = 0;
    while let Some(item) = stream.next().await {
        match item {
            Ok(c) => ok_text.extend(c.choices.iter().filter_map(|c| c.delta.content.clone())),
            Err(OpenAIError::JSONDeserialize(..)) => parse_errors += 1,
            Err(e) => panic!("unexpected {e:?}"),
        }
    }
    assert_eq!(parse_errors, 1);
    assert_eq!(
        ok_text, "alpha beta gamma",
        "the stream carries on after the bad chunk"
    );

    sim.fail_next(1, Failure::MalformedAfter(2));
    let mut stream = openai(&sim)
        .responses()
        .create_stream(responses_request(true))
        .await
        .unwrap();
    let mut parse_errors = 0;
    let mut completed = false;
    while let Some(item) = stream.next().await {
        match item {
            Ok(ResponseStreamEvent::ResponseCompleted(_)) => completed = true,
            Ok(_) => {}
            Err(OpenAIError::JSONDeserialize(..)) => parse_errors += 1,
            Err(e) => panic!("unexpected {e:?}"),
        }
    }
    assert_eq!(parse_errors, 1);
    assert!(completed);

    sim.fail_next(1, Failure::MalformedAfter(1));
    let text = http()
        .post(format!("{}/api/chat", sim.ollama_url()))
        .json(&chat(true))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let bad: Vec<&str> = text
        .lines()
        .filter(|l| serde_json::from_str::<Value>(l).is_err())
        .collect();
    assert_eq!(bad.len(), 1, "{text}");

    // Non-streaming: a 200 whose body does not parse.
    sim.fail_next(1, Failure::MalformedAfter(0));
    let err = openai(&sim)
        .chat()
        .create(chat_request(false))
        .await
        .unwrap_err();
    assert!(matches!(err, OpenAIError::JSONDeserialize(..)), "{err:?}");
}

#[tokio::test]
async fn in_band_error_events() {
    let sim = LlmSim::start().await;
    sim.set_default_reply(Reply::text("alpha beta gamma"));
    sim.fail_next(1, Failure::ErrorAfter(1, "model crashed".to_owned()));
    let mut stream = openai(&sim)
        .responses()
        .create_stream(responses_request(true))
        .await
        .unwrap();
    let mut events = Vec::new();
    while let Some(item) = stream.next().await {
        events.push(item.unwrap());
    }
    let n = events.len();
    let ResponseStreamEvent::ResponseError(e) = &events[n - 2] else {
        panic!("{:?}", events[n - 2])
    };
    assert_eq!(e.message, "model crashed");
    let ResponseStreamEvent::ResponseFailed(f) = &events[n - 1] else {
        panic!("{:?}", events[n - 1])
    };
    assert_eq!(f.response.error.as_ref().unwrap().message, "model crashed");

    sim.fail_next(1, Failure::ErrorAfter(0, "boom".to_owned()));
    let lines = crate::ndjson_lines(
        &http()
            .post(format!("{}/api/chat", sim.ollama_url()))
            .json(&chat(true))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap(),
    );
    assert_eq!(lines, vec![json!({"error": "boom"})]);

    sim.fail_next(1, Failure::ErrorAfter(1, "boom".to_owned()));
    let err = openai(&sim).chat().create(chat_request(false)).await;
    // Non-streaming in-band errors are a 500, which async-openai retries: the retry succeeds.
    assert!(err.is_ok());
    assert_eq!(sim.requests_to(Endpoint::ChatCompletions).len(), 2);
}

#[tokio::test]
async fn slow_headers_trip_the_client_timeout_then_succeed_when_patient() {
    let sim = LlmSim::start().await;
    sim.fail_next(1, Failure::SlowHeaders(Duration::from_secs(3)));
    let client = reqwest::Client::builder()
        .timeout(Duration::from_millis(200))
        .build()
        .unwrap();
    let started = Instant::now();
    let err = client
        .post(format!("{}/api/chat", sim.ollama_url()))
        .json(&chat(false))
        .send()
        .await
        .unwrap_err();
    assert!(err.is_timeout(), "{err:?}");
    assert!(started.elapsed() < Duration::from_secs(2));

    sim.fail_next(1, Failure::SlowHeaders(Duration::from_millis(300)));
    let started = Instant::now();
    let resp = http()
        .post(format!("{}/api/chat", sim.ollama_url()))
        .json(&chat(false))
        .send()
        .await
        .unwrap();
    assert!(started.elapsed() >= Duration::from_millis(300));
    assert_eq!(resp.status(), 200);
}

#[tokio::test]
async fn hang_never_answers_and_does_not_block_shutdown() {
    let sim = LlmSim::start().await;
    sim.add_failure(FailureRule::always(Failure::Hang));
    let client = reqwest::Client::builder()
        .timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    let err = client
        .post(format!("{}/chat/completions", sim.openai_base_url()))
        .header("authorization", bearer(&sim))
        .json(&chat(true))
        .send()
        .await
        .unwrap_err();
    assert!(err.is_timeout(), "{err:?}");

    // A hung request still in flight must not keep the simulator alive.
    let url = format!("{}/api/chat", sim.ollama_url());
    let pending = tokio::spawn(async move { http().post(url).json(&chat(false)).send().await });
    sim.wait_for_requests(2, WAIT).await.unwrap();
    let started = Instant::now();
    sim.shutdown().await;
    assert!(started.elapsed() < Duration::from_secs(2));
    let outcome = tokio::time::timeout(WAIT, pending)
        .await
        .expect("released")
        .unwrap();
    assert!(outcome.map(|r| r.status() == 503).unwrap_or(true));
}

#[tokio::test]
async fn stall_mid_stream_trips_an_idle_timeout() {
    let sim = LlmSim::start().await;
    sim.set_default_reply(Reply::text("a b c"));
    sim.fail_next(1, Failure::StallAfter(1));
    let resp = http()
        .post(format!("{}/api/chat", sim.ollama_url()))
        .json(&chat(true))
        .send()
        .await
        .unwrap();
    let mut body = resp.bytes_stream();
    let first = tokio::time::timeout(Duration::from_secs(2), body.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    let line: Value = serde_json::from_slice(first.strip_suffix(b"\n").unwrap()).unwrap();
    assert_eq!(line["message"]["content"], "a");
    let idle = tokio::time::timeout(Duration::from_millis(300), body.next()).await;
    assert!(idle.is_err(), "nothing more must arrive");
}

#[tokio::test]
async fn predicate_rules_target_any_endpoint_and_can_be_limited() {
    let sim = LlmSim::start().await;
    sim.add_failure(
        FailureRule::matching(
            |r| r.endpoint == Endpoint::Conversations,
            Failure::status(503, "busy"),
        )
        .times(1),
    );
    sim.add_failure(FailureRule::matching(
        |r| r.last_user_text() == Some("poison"),
        Failure::status(400, "rejected"),
    ));
    let url = format!("{}/conversations", sim.openai_base_url());
    let send = || {
        http()
            .post(&url)
            .header("authorization", bearer(&sim))
            .json(&json!({}))
            .send()
    };
    assert_eq!(send().await.unwrap().status(), 503);
    assert_eq!(send().await.unwrap().status(), 200);

    let poison = json!({"model": "m", "messages": [{"role": "user", "content": "poison"}]});
    for _ in 0..2 {
        let resp = post_chat(&sim, &poison).await;
        assert_eq!(resp.status(), 400);
        assert_eq!(
            resp.json::<Value>().await.unwrap()["error"]["message"],
            "rejected"
        );
    }
    assert_eq!(post_chat(&sim, &chat(false)).await.status(), 200);

    // `next` rules skip bookkeeping calls: the conversation call passes, the chat fails.
    sim.fail_next(1, Failure::server_error());
    assert_eq!(send().await.unwrap().status(), 200);
    assert_eq!(post_chat(&sim, &chat(false)).await.status(), 500);
}

#[tokio::test]
async fn auth_failures() {
    let sim = LlmSim::builder().api_key("sk-right").start().await;
    let err = openai_with_key(&sim, "sk-wrong")
        .models()
        .list()
        .await
        .unwrap_err();
    match &err {
        OpenAIError::ApiError(e) => {
            assert_eq!(e.status_code.as_u16(), 401);
            assert_eq!(e.api_error.code.as_deref(), Some("invalid_api_key"));
            assert_eq!(e.api_error.r#type.as_deref(), Some("invalid_request_error"));
        }
        other => panic!("{other:?}"),
    }
    let resp = http()
        .post(format!("{}/responses", sim.openai_base_url()))
        .json(&json!({"input": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error"]["code"], "invalid_api_key");
    assert!(body["error"]["param"].is_null());

    let recorded = sim.requests();
    assert_eq!(recorded.len(), 2);
    assert!(recorded[0].authorization_present && !recorded[0].authorized);
    assert!(!recorded[1].authorization_present && !recorded[1].authorized);
    assert_eq!(recorded[0].header("authorization"), Some("<redacted>"));

    assert!(
        openai_with_key(&sim, "sk-right")
            .models()
            .list()
            .await
            .is_ok()
    );
    // Ollama's API has no auth.
    let ok = http()
        .get(format!("{}/api/tags", sim.ollama_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);

    let open = LlmSim::builder().no_auth().start().await;
    let resp = http()
        .post(format!("{}/chat/completions", open.openai_base_url()))
        .json(&chat(false))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
}
