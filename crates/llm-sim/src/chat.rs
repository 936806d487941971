//! OpenAI-compatible Chat Completions (`POST /v1/chat/completions`): the protocol
//! shared by OpenAI, vLLM, llama.cpp's server, LM Studio and Ollama's `/v1`.
//!
//! Streaming follows OpenAI: unnamed `data: {chunk}` events — first a chunk whose
//! delta carries the role, then one per token with `content`, then one with an
//! empty delta and the `finish_reason`; with `stream_options.include_usage` every
//! chunk has `"usage": null` and a last chunk with empty `choices` carries the usage;
//! finally `data: [DONE]`.

use axum::response::Response;
use bytes::Bytes;
use serde_json::{Value, json};

use crate::conversations::content_text;
use crate::record::{LlmRequest, Message};
use crate::script::Failure;
use crate::server::{ApiError, Ctx, lock, unix_now};
use crate::stream::{self, Encoder};

/// The API-neutral view of a Chat Completions body.
pub(crate) fn parse(body: &Value) -> LlmRequest {
    let all: Vec<Message> = body
        .get("messages")
        .and_then(Value::as_array)
        .map(|msgs| {
            msgs.iter()
                .map(|m| {
                    let role = m.get("role").and_then(Value::as_str).unwrap_or("user");
                    Message::new(role, m.get("content").map(content_text).unwrap_or_default())
                })
                .collect()
        })
        .unwrap_or_default();
    split_system(all, body)
}

/// Builds the view from a full message list: system/developer messages become the
/// instructions. Shared with Ollama's chat, which has the same message shape.
pub(crate) fn split_system(all: Vec<Message>, body: &Value) -> LlmRequest {
    let (system, messages): (Vec<Message>, Vec<Message>) = all
        .into_iter()
        .partition(|m| m.role == "system" || m.role == "developer");
    let instructions = (!system.is_empty()).then(|| {
        system
            .into_iter()
            .map(|m| m.text)
            .collect::<Vec<_>>()
            .join("\n\n")
    });
    let cap = body
        .get("max_completion_tokens")
        .or_else(|| body.get("max_tokens"))
        .and_then(Value::as_u64)
        .map(|n| u32::try_from(n).unwrap_or(u32::MAX));
    LlmRequest {
        model: body.get("model").and_then(Value::as_str).map(str::to_owned),
        instructions,
        input: messages.clone(),
        messages,
        stream: body.get("stream").and_then(Value::as_bool).unwrap_or(false),
        temperature: body.get("temperature").and_then(Value::as_f64),
        max_output_tokens: cap,
        ..LlmRequest::default()
    }
}

#[derive(Clone)]
struct Meta {
    id: String,
    created: u64,
    model: String,
    prompt_tokens: u32,
    include_usage: bool,
}

impl Meta {
    fn usage(&self, completion_tokens: usize) -> Value {
        let completion = u32::try_from(completion_tokens).unwrap_or(u32::MAX);
        json!({
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": completion,
            "total_tokens": self.prompt_tokens + completion,
            "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
            "completion_tokens_details": {
                "reasoning_tokens": 0,
                "audio_tokens": 0,
                "accepted_prediction_tokens": 0,
                "rejected_prediction_tokens": 0
            }
        })
    }

    fn chunk(&self, choices: Value) -> Value {
        let mut c = json!({
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
            "service_tier": "default",
            "system_fingerprint": "fp_llmsim",
            "choices": choices,
        });
        if self.include_usage {
            c["usage"] = Value::Null;
        }
        c
    }
}

fn finish_reason(truncated: bool) -> &'static str {
    if truncated { "length" } else { "stop" }
}

/// `POST /v1/chat/completions`.
pub(crate) async fn create(
    ctx: Ctx,
    body: Option<&Value>,
    llm: LlmRequest,
    failure: Option<Failure>,
) -> Response {
    let body = body.cloned().unwrap_or_else(|| json!({}));
    let plan = ctx.shared.plan(&llm, failure);
    let meta = Meta {
        id: lock(&ctx.shared.store)
            .new_id("chatcmpl")
            .replacen('_', "-", 1),
        created: unix_now(),
        model: llm
            .model
            .clone()
            .unwrap_or_else(|| "gpt-4o-mini".to_owned()),
        prompt_tokens: llm.estimated_input_tokens(),
        include_usage: body
            .pointer("/stream_options/include_usage")
            .and_then(Value::as_bool)
            .unwrap_or(false),
    };
    if llm.stream {
        stream::streaming(
            ctx.shared,
            plan,
            ChatEncoder { meta, tokens: 0 },
            "text/event-stream",
        )
    } else {
        let endpoint = ctx.endpoint;
        let text = plan.text();
        let tokens = plan.tokens.len();
        let truncated = plan.truncated;
        stream::non_streaming(
            ctx.shared,
            &plan,
            || {
                json!({
                    "id": meta.id,
                    "object": "chat.completion",
                    "created": meta.created,
                    "model": meta.model,
                    "choices": [{
                        "index": 0,
                        "message": {"role": "assistant", "content": text, "refusal": null, "annotations": []},
                        "logprobs": null,
                        "finish_reason": finish_reason(truncated),
                    }],
                    "usage": meta.usage(tokens),
                    "service_tier": "default",
                    "system_fingerprint": "fp_llmsim",
                })
            },
            |status, message| ApiError::new(status, message).render(endpoint),
        )
        .await
    }
}

struct ChatEncoder {
    meta: Meta,
    tokens: usize,
}

impl Encoder for ChatEncoder {
    fn head(&mut self) -> Vec<Bytes> {
        let c = self.meta.chunk(json!([{
            "index": 0,
            "delta": {"role": "assistant", "content": "", "refusal": null},
            "logprobs": null,
            "finish_reason": null,
        }]));
        vec![stream::sse_data(&c.to_string())]
    }

    fn delta(&mut self, token: &str) -> Vec<Bytes> {
        self.tokens += 1;
        let c = self.meta.chunk(json!([{
            "index": 0,
            "delta": {"content": token},
            "logprobs": null,
            "finish_reason": null,
        }]));
        vec![stream::sse_data(&c.to_string())]
    }

    fn malformed(&mut self) -> Bytes {
        stream::sse_data(&format!(
            "{{\"id\":\"{}\",\"object\":\"chat.completion.chunk\",\"choices\":[{{\"index\":0,\"delta\":",
            self.meta.id
        ))
    }

    fn error(&mut self, message: &str) -> Vec<Bytes> {
        let err = ApiError::new(axum::http::StatusCode::INTERNAL_SERVER_ERROR, message);
        vec![stream::sse_data(
            &json!({"error": err.openai_object()}).to_string(),
        )]
    }

    fn tail(&mut self, _text: &str, truncated: bool) -> Vec<Bytes> {
        let last = self.meta.chunk(json!([{
            "index": 0,
            "delta": {},
            "logprobs": null,
            "finish_reason": finish_reason(truncated),
        }]));
        let mut events = vec![stream::sse_data(&last.to_string())];
        if self.meta.include_usage {
            let mut usage = self.meta.chunk(json!([]));
            usage["usage"] = self.meta.usage(self.tokens);
            events.push(stream::sse_data(&usage.to_string()));
        }
        events.push(stream::sse_data("[DONE]"));
        events
    }
}
