//! Ollama's native API through plain reqwest.

use disconcierge_llm_sim::tokens::cosine_similarity;
use disconcierge_llm_sim::{Endpoint, LlmSim, Message, OLLAMA_VERSION, Reply};
use futures_util::StreamExt;
use serde_json::{Value, json};

use crate::{http, ndjson_lines};

fn chat_body(stream: Option<bool>) -> Value {
    let mut b = json!({
        "model": "llama3.2",
        "messages": [
            {"role": "system", "content": "Be terse."},
            {"role": "user", "content": "Ping?"}
        ],
        "options": {"temperature": 0.3, "num_ctx": 8192}
    });
    if let Some(s) = stream {
        b["stream"] = json!(s);
    }
    b
}

#[tokio::test]
async fn chat_streams_ndjson_by_default() {
    let sim = LlmSim::start().await;
    sim.push_reply(Reply::text("Pong, from Ollama."));
    let resp = http()
        .post(format!("{}/api/chat", sim.ollama_url()))
        .json(&chat_body(None))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "application/x-ndjson");
    // Read incrementally, as a streaming client does.
    let mut body = resp.bytes_stream();
    let mut raw = Vec::new();
    while let Some(chunk) = body.next().await {
        raw.extend_from_slice(&chunk.unwrap());
    }
    let lines = ndjson_lines(std::str::from_utf8(&raw).unwrap());
    assert_eq!(lines.len(), 4, "3 tokens + final line");
    let (pieces, last) = lines.split_at(3);
    for l in pieces {
        assert_eq!(l["done"], false);
        assert_eq!(l["model"], "llama3.2");
        assert_eq!(l["message"]["role"], "assistant");
        assert!(l["created_at"].as_str().unwrap().ends_with('Z'));
    }
    let text: String = pieces
        .iter()
        .map(|l| l["message"]["content"].as_str().unwrap())
        .collect();
    assert_eq!(text, "Pong, from Ollama.");
    let last = &last[0];
    assert_eq!(last["done"], true);
    assert_eq!(last["done_reason"], "stop");
    assert_eq!(last["message"]["content"], "");
    assert_eq!(last["eval_count"], 3);
    // ceil(len("Be terse.") / 4) + ceil(len("Ping?") / 4) = 3 + 2
    assert_eq!(last["prompt_eval_count"], 5);
    for k in [
        "total_duration",
        "load_duration",
        "prompt_eval_duration",
        "eval_duration",
    ] {
        assert!(last[k].is_u64(), "{k} missing in {last}");
    }

    let seen = sim.last_request().unwrap();
    assert_eq!(seen.endpoint, Endpoint::OllamaChat);
    assert!(!seen.authorization_present);
    let llm = seen.llm.unwrap();
    assert!(llm.stream);
    assert_eq!(llm.temperature, Some(0.3));
    assert_eq!(llm.instructions.as_deref(), Some("Be terse."));
    assert_eq!(llm.messages, vec![Message::new("user", "Ping?")]);
}

#[tokio::test]
async fn chat_non_streaming_is_one_object() {
    let sim = LlmSim::start().await;
    let resp = http()
        .post(format!("{}/api/chat", sim.ollama_url()))
        .json(&chat_body(Some(false)))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["message"]["content"], "echo: Ping?");
    assert_eq!(v["message"]["role"], "assistant");
    assert_eq!(v["done"], true);
    assert_eq!(v["done_reason"], "stop");
    assert_eq!(v["eval_count"], 2);
}

#[tokio::test]
async fn num_predict_caps_output_with_length_reason() {
    let sim = LlmSim::start().await;
    sim.push_reply(Reply::text("a b c d e"));
    let mut body = chat_body(Some(false));
    body["options"]["num_predict"] = json!(2);
    let v: Value = http()
        .post(format!("{}/api/chat", sim.ollama_url()))
        .json(&body)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["message"]["content"], "a b");
    assert_eq!(v["done_reason"], "length");
    assert_eq!(sim.last_llm_request().unwrap().max_output_tokens, Some(2));
}

#[tokio::test]
async fn generate_streams_response_pieces_and_context() {
    let sim = LlmSim::start().await;
    sim.push_reply(Reply::from_fn(|req| {
        format!(
            "{} / {}",
            req.instructions.clone().unwrap_or_default(),
            req.last_user_text().unwrap_or("")
        )
    }));
    let resp = http()
        .post(format!("{}/api/generate", sim.ollama_url()))
        .json(&json!({"model": "llama3.2", "system": "SYS", "prompt": "PROMPT"}))
        .send()
        .await
        .unwrap();
    let lines = ndjson_lines(&resp.text().await.unwrap());
    let text: String = lines
        .iter()
        .map(|l| l["response"].as_str().unwrap())
        .collect();
    assert_eq!(text, "SYS / PROMPT");
    let last = lines.last().unwrap();
    assert_eq!(last["done"], true);
    assert!(last["context"].is_array());
    assert_eq!(sim.requests_to(Endpoint::OllamaGenerate).len(), 1);
}

#[tokio::test]
async fn embed_single_and_batch_and_legacy() {
    let sim = LlmSim::builder().embedding_dimensions(32).start().await;
    let url = format!("{}/api/embed", sim.ollama_url());
    let one: Value = http()
        .post(&url)
        .json(&json!({"model": "nomic-embed-text", "input": "refund policy"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(one["model"], "nomic-embed-text");
    assert_eq!(one["embeddings"].as_array().unwrap().len(), 1);
    assert_eq!(one["embeddings"][0].as_array().unwrap().len(), 32);
    assert!(one["prompt_eval_count"].as_u64().unwrap() > 0);

    let batch: Value = http()
        .post(&url)
        .json(&json!({"model": "nomic-embed-text", "input": ["refund policy", "our refund policy explained", "cat pictures"]}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let vecs: Vec<Vec<f32>> = serde_json::from_value(batch["embeddings"].clone()).unwrap();
    assert_eq!(vecs.len(), 3);
    let first: Vec<f32> = serde_json::from_value(one["embeddings"][0].clone()).unwrap();
    assert_eq!(vecs[0], first, "same text, same vector");
    assert!(cosine_similarity(&vecs[0], &vecs[1]) > cosine_similarity(&vecs[0], &vecs[2]));

    let legacy: Value = http()
        .post(format!("{}/api/embeddings", sim.ollama_url()))
        .json(&json!({"model": "nomic-embed-text", "prompt": "refund policy"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let lv: Vec<f32> = serde_json::from_value(legacy["embedding"].clone()).unwrap();
    assert_eq!(lv, first);
}

#[tokio::test]
async fn tags_version_and_health() {
    let sim = LlmSim::builder()
        .models(["llama3.2", "qwen2.5:7b"])
        .start()
        .await;
    let tags: Value = http()
        .get(format!("{}/api/tags", sim.ollama_url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let names: Vec<&str> = tags["models"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["llama3.2:latest", "qwen2.5:7b"]);
    assert!(tags["models"][0]["details"]["family"].is_string());
    let version: Value = http()
        .get(format!("{}/api/version", sim.ollama_url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(version["version"], OLLAMA_VERSION);
    let health = http().get(sim.ollama_url()).send().await.unwrap();
    assert_eq!(health.status(), 200);
    assert_eq!(health.text().await.unwrap(), "Ollama is running");
    let missing = http()
        .get(format!("{}/api/nope", sim.ollama_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
    assert_eq!(sim.requests_to(Endpoint::Unknown).len(), 1);
}
