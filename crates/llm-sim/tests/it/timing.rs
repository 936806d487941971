//! Time to first token and per-token delays, on tokio's clock.

use std::time::Duration;

use disconcierge_llm_sim::{LlmSim, Reply, Script, Timing};
use futures_util::StreamExt;
use serde_json::{Value, json};

use crate::{bearer, http};

/// With paused time the 30 s of scripted latency cost nothing, yet the client sees
/// the tokens spaced exactly as scripted on tokio's clock.
#[tokio::test(start_paused = true)]
async fn delays_follow_the_script_under_paused_time() {
    let sim = LlmSim::start().await;
    sim.script(
        Script::new()
            .reply(Reply::text("a b c"))
            .timing(Timing::new(Duration::from_secs(30), Duration::from_secs(1))),
    );
    let started = tokio::time::Instant::now();
    let resp = http()
        .post(format!("{}/api/chat", sim.ollama_url()))
        .json(&json!({"model": "m", "messages": [{"role": "user", "content": "hi"}]}))
        .send()
        .await
        .unwrap();
    let mut body = resp.bytes_stream();
    let mut arrivals = Vec::new();
    let mut buf = Vec::new();
    while let Some(chunk) = body.next().await {
        buf.extend_from_slice(&chunk.unwrap());
        while let Some(pos) = buf.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = buf.drain(..=pos).collect();
            let v: Value = serde_json::from_slice(&line).unwrap();
            arrivals.push((started.elapsed(), v));
        }
    }
    assert_eq!(arrivals.len(), 4);
    assert!(
        arrivals[0].0 >= Duration::from_secs(30),
        "first token after TTFT: {:?}",
        arrivals[0].0
    );
    assert!(arrivals[0].0 < Duration::from_secs(31));
    assert!(
        arrivals[2].0 >= Duration::from_secs(32),
        "two more tokens 1 s apart: {:?}",
        arrivals[2].0
    );
    let last = &arrivals[3].1;
    let ns = |k: &str| Duration::from_nanos(last[k].as_u64().unwrap());
    assert!(ns("total_duration") >= Duration::from_secs(32));
    assert!(ns("prompt_eval_duration") >= Duration::from_secs(30));
    assert!(ns("eval_duration") >= Duration::from_secs(2));
}

/// Real time, short delays: a non-streamed answer waits for the whole generation.
#[tokio::test]
async fn non_streaming_waits_for_the_whole_generation() {
    let sim = LlmSim::start().await;
    sim.push_reply(
        Reply::text("x y z")
            .first_token_after(Duration::from_millis(150))
            .per_token(Duration::from_millis(50)),
    );
    let started = std::time::Instant::now();
    let resp = http()
        .post(format!("{}/chat/completions", sim.openai_base_url()))
        .header("authorization", bearer(&sim))
        .json(&json!({"model": "m", "messages": [{"role": "user", "content": "hi"}]}))
        .send()
        .await
        .unwrap();
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["choices"][0]["message"]["content"], "x y z");
    assert!(
        started.elapsed() >= Duration::from_millis(250),
        "{:?}",
        started.elapsed()
    );
    // Recorded arrival is relative to the simulator start, on tokio's clock.
    assert!(sim.last_request().unwrap().since_start < Duration::from_secs(5));
}
