//! Chat Completions, embeddings and models through async-openai.

use async_openai::types::chat::{
    CreateChatCompletionRequest, CreateChatCompletionStreamResponse, FinishReason, Role,
};
use async_openai::types::embeddings::CreateEmbeddingRequest;
use disconcierge_llm_sim::tokens::cosine_similarity;
use disconcierge_llm_sim::{Chunking, Endpoint, LlmSim, Message, Reply, Script};
use futures_util::StreamExt;
use serde_json::json;

use crate::openai;
use crate::responses::assert_api_error;

fn chat_request(v: serde_json::Value) -> CreateChatCompletionRequest {
    serde_json::from_value(v).expect("valid chat request")
}

fn conversation(stream: bool) -> serde_json::Value {
    json!({
        "model": "llama3.2",
        "stream": stream,
        "messages": [
            {"role": "system", "content": "You are the concierge of Guild X."},
            {"role": "user", "content": "Hi"},
            {"role": "assistant", "content": "Hello! How can I help?"},
            {"role": "user", "content": [{"type": "text", "text": "Opening hours?"}]}
        ]
    })
}

#[tokio::test]
async fn non_streaming_completion_has_content_usage_and_stop() {
    let sim = LlmSim::start().await;
    sim.push_reply(Reply::text("We open at nine."));
    let resp = openai(&sim)
        .chat()
        .create(chat_request(conversation(false)))
        .await
        .unwrap();
    let choice = &resp.choices[0];
    assert_eq!(choice.message.content.as_deref(), Some("We open at nine."));
    assert_eq!(choice.message.role, Role::Assistant);
    assert_eq!(choice.finish_reason, Some(FinishReason::Stop));
    assert_eq!(resp.object, "chat.completion");
    assert_eq!(resp.model, "llama3.2");
    let usage = resp.usage.expect("usage");
    assert_eq!(usage.completion_tokens, 4, "'We', ' open', ' at', ' nine.'");
    // ceil(33/4) + ceil(2/4) + ceil(22/4) + ceil(14/4) = 9 + 1 + 6 + 4
    assert_eq!(usage.prompt_tokens, 20);
    assert_eq!(usage.total_tokens, 24);

    let seen = sim.last_request().unwrap();
    assert_eq!(seen.endpoint, Endpoint::ChatCompletions);
    assert_eq!(
        seen.instructions(),
        Some("You are the concierge of Guild X.")
    );
    assert_eq!(
        seen.messages(),
        [
            Message::new("user", "Hi"),
            Message::new("assistant", "Hello! How can I help?"),
            Message::new("user", "Opening hours?")
        ]
    );
}

async fn collect_stream(
    sim: &LlmSim,
    body: serde_json::Value,
) -> Vec<CreateChatCompletionStreamResponse> {
    let mut stream = openai(sim)
        .chat()
        .create_stream(chat_request(body))
        .await
        .unwrap();
    let mut chunks = Vec::new();
    while let Some(c) = stream.next().await {
        chunks.push(c.expect("every chunk deserializes"));
    }
    chunks
}

#[tokio::test]
async fn streaming_completion_role_then_content_then_finish_then_usage() {
    let sim = LlmSim::start().await;
    sim.push_reply(Reply::text("We open at nine."));
    let mut body = conversation(true);
    body["stream_options"] = json!({"include_usage": true});
    let chunks = collect_stream(&sim, body).await;

    // role chunk, 4 content chunks, finish chunk, usage chunk; [DONE] ends the stream.
    assert_eq!(chunks.len(), 7, "{chunks:#?}");
    assert_eq!(chunks[0].choices[0].delta.role, Some(Role::Assistant));
    let text: String = chunks
        .iter()
        .flat_map(|c| c.choices.iter())
        .filter_map(|c| c.delta.content.clone())
        .collect();
    assert_eq!(text, "We open at nine.");
    assert_eq!(chunks[5].choices[0].finish_reason, Some(FinishReason::Stop));
    assert!(chunks[..6].iter().all(|c| c.usage.is_none()));
    let last = &chunks[6];
    assert!(last.choices.is_empty());
    let usage = last.usage.as_ref().expect("final usage chunk");
    assert_eq!(usage.completion_tokens, 4);
    assert_eq!(usage.prompt_tokens, 20);
    assert!(
        chunks
            .iter()
            .all(|c| c.id == chunks[0].id && c.object == "chat.completion.chunk")
    );
}

#[tokio::test]
async fn streaming_without_usage_and_length_finish() {
    let sim = LlmSim::start().await;
    sim.script(
        Script::new()
            .chunking(Chunking::Chars(3))
            .default_reply(Reply::text("abcdefgh")),
    );
    let mut body = conversation(true);
    body["max_completion_tokens"] = json!(2);
    let chunks = collect_stream(&sim, body).await;
    let text: String = chunks
        .iter()
        .flat_map(|c| c.choices.iter())
        .filter_map(|c| c.delta.content.clone())
        .collect();
    assert_eq!(text, "abcdef", "two 3-char tokens");
    assert_eq!(
        chunks.last().unwrap().choices[0].finish_reason,
        Some(FinishReason::Length)
    );
    assert!(chunks.iter().all(|c| c.usage.is_none()));
    assert_eq!(sim.last_llm_request().unwrap().max_output_tokens, Some(2));
}

#[tokio::test]
async fn explicit_tokens_are_streamed_verbatim() {
    let sim = LlmSim::start().await;
    sim.push_reply(Reply::tokens(["Bon", "jour", " à", " tous"]));
    let chunks = collect_stream(&sim, conversation(true)).await;
    let pieces: Vec<String> = chunks
        .iter()
        .flat_map(|c| c.choices.iter())
        .filter_map(|c| c.delta.content.clone())
        .filter(|s| !s.is_empty())
        .collect();
    assert_eq!(pieces, ["Bon", "jour", " à", " tous"]);
}

#[tokio::test]
async fn embeddings_are_deterministic_and_rank_similar_texts() {
    let sim = LlmSim::start().await;
    let client = openai(&sim);
    let req: CreateEmbeddingRequest = serde_json::from_value(json!({
        "model": "text-embedding-3-small",
        "input": ["How do I reset my password?", "password reset steps", "Weather in Paris today"],
        "dimensions": 64
    }))
    .unwrap();
    let resp = client.embeddings().create(req.clone()).await.unwrap();
    assert_eq!(resp.data.len(), 3);
    assert!(resp.data.iter().all(|e| e.embedding.len() == 64));
    assert_eq!(
        resp.data.iter().map(|e| e.index).collect::<Vec<_>>(),
        [0, 1, 2]
    );
    let v = |i: usize| &resp.data[i].embedding;
    assert!(cosine_similarity(v(0), v(1)) > cosine_similarity(v(0), v(2)) + 0.1);
    assert!(resp.usage.prompt_tokens > 0);
    assert_eq!(resp.usage.prompt_tokens, resp.usage.total_tokens);
    let again = client.embeddings().create(req).await.unwrap();
    assert_eq!(again.data[0].embedding, resp.data[0].embedding);

    let single: CreateEmbeddingRequest =
        serde_json::from_value(json!({"model": "text-embedding-3-small", "input": "one text"}))
            .unwrap();
    let resp = client.embeddings().create(single).await.unwrap();
    assert_eq!(resp.data[0].embedding.len(), 1536, "default dimension");
    assert_eq!(sim.requests_to(Endpoint::Embeddings).len(), 3);
}

#[tokio::test]
async fn models_list_and_retrieve() {
    let sim = LlmSim::builder()
        .models(["gpt-4o-mini", "qwen2.5:7b"])
        .start()
        .await;
    let client = openai(&sim);
    let list = client.models().list().await.unwrap();
    assert_eq!(
        list.data.iter().map(|m| m.id.as_str()).collect::<Vec<_>>(),
        ["gpt-4o-mini", "qwen2.5:7b"]
    );
    assert_eq!(
        client.models().retrieve("qwen2.5:7b").await.unwrap().id,
        "qwen2.5:7b"
    );
    let err = client.models().retrieve("gpt-9").await.unwrap_err();
    assert_api_error(&err, 404, "gpt-9");
}

/// The wire format itself: unnamed `data:` events ending with `data: [DONE]`.
#[tokio::test]
async fn raw_stream_ends_with_done_marker() {
    let sim = LlmSim::builder().no_auth().start().await;
    let text = reqwest::Client::new()
        .post(format!("{}/chat/completions", sim.openai_base_url()))
        .json(
            &json!({"model": "m", "stream": true, "messages": [{"role": "user", "content": "yo"}]}),
        )
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let frames: Vec<&str> = text.trim_end().split("\n\n").collect();
    assert!(
        frames
            .iter()
            .all(|f| f.starts_with("data: ") && !f.contains("\nevent:")),
        "{text}"
    );
    assert_eq!(*frames.last().unwrap(), "data: [DONE]");
    // role chunk, "echo:", " yo", finish chunk, [DONE]
    assert_eq!(frames.len(), 5, "{text}");
}
