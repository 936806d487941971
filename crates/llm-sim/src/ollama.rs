//! Ollama's native API: `/api/chat`, `/api/generate`, `/api/embed` (and the legacy
//! `/api/embeddings`), `/api/tags`, `/api/version`.
//!
//! Ollama streams by default (`"stream": false` asks for one object) as NDJSON:
//! one `{model, created_at, message: {role, content}, done: false}` line per token,
//! then a final `done: true` line with `done_reason` and the timing/count fields
//! (`total_duration`, `load_duration`, `prompt_eval_count`, `prompt_eval_duration`,
//! `eval_count`, `eval_duration`, in nanoseconds). The durations are measured on
//! tokio's clock from the request's arrival, so scripted delays show up in them.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde_json::{Value, json};

use crate::chat::split_system;
use crate::conversations::content_text;
use crate::record::{LlmRequest, Message};
use crate::script::Failure;
use crate::server::{ApiError, Config, Ctx};
use crate::stream::{self, Encoder};
use crate::tokens::embed_text;

/// The version `/api/version` reports.
pub const VERSION: &str = "0.12.6";

fn now_rfc3339() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true)
}

/// Ollama's generation options live under `options`; `stream` defaults to true.
fn apply_options(req: &mut LlmRequest, body: &Value) {
    req.stream = body.get("stream").and_then(Value::as_bool).unwrap_or(true);
    req.temperature = body.pointer("/options/temperature").and_then(Value::as_f64);
    req.max_output_tokens = body
        .pointer("/options/num_predict")
        .and_then(Value::as_i64)
        .filter(|n| *n >= 0) // -1 means "no limit"
        .map(|n| u32::try_from(n).unwrap_or(u32::MAX));
}

/// The API-neutral view of an `/api/chat` body.
pub(crate) fn parse_chat(body: &Value) -> LlmRequest {
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
    let mut req = split_system(all, body);
    apply_options(&mut req, body);
    req
}

/// The API-neutral view of an `/api/generate` body: `system` is the instructions,
/// `prompt` one user message.
pub(crate) fn parse_generate(body: &Value) -> LlmRequest {
    let prompt = body
        .get("prompt")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let messages = vec![Message::new("user", prompt)];
    let mut req = LlmRequest {
        model: body.get("model").and_then(Value::as_str).map(str::to_owned),
        instructions: body
            .get("system")
            .and_then(Value::as_str)
            .map(str::to_owned),
        input: messages.clone(),
        messages,
        ..LlmRequest::default()
    };
    apply_options(&mut req, body);
    req
}

/// The API-neutral view of an `/api/embed` (`input`) or `/api/embeddings` (`prompt`) body.
pub(crate) fn parse_embed(body: &Value) -> LlmRequest {
    let input = body.get("input").or_else(|| body.get("prompt"));
    LlmRequest {
        model: body.get("model").and_then(Value::as_str).map(str::to_owned),
        embedding_inputs: crate::embeddings::inputs(input),
        ..LlmRequest::default()
    }
}

#[derive(Clone)]
struct Meta {
    model: String,
    generate: bool,
    arrived: tokio::time::Instant,
    first_token: Option<tokio::time::Instant>,
    prompt_eval_count: u32,
    eval_count: usize,
}

fn nanos(d: std::time::Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

impl Meta {
    /// A line/object carrying `content`.
    fn piece(&self, content: &str, done: bool) -> Value {
        let mut v = json!({"model": self.model, "created_at": now_rfc3339(), "done": done});
        if self.generate {
            v["response"] = json!(content);
        } else {
            v["message"] = json!({"role": "assistant", "content": content});
        }
        v
    }

    /// The final object: `content` (empty when streaming) plus the statistics.
    fn done(&self, content: &str, truncated: bool) -> Value {
        let now = tokio::time::Instant::now();
        let first = self.first_token.unwrap_or(now);
        let mut v = self.piece(content, true);
        v["done_reason"] = json!(if truncated { "length" } else { "stop" });
        v["total_duration"] = json!(nanos(now - self.arrived));
        v["load_duration"] = json!(0);
        v["prompt_eval_count"] = json!(self.prompt_eval_count);
        v["prompt_eval_duration"] = json!(nanos(first - self.arrived));
        v["eval_count"] = json!(self.eval_count);
        v["eval_duration"] = json!(nanos(now - first));
        if self.generate {
            // Ollama returns the token ids of the exchange for the next call's `context`.
            v["context"] = json!((1..=self.eval_count.min(8)).collect::<Vec<_>>());
        }
        v
    }
}

/// `POST /api/chat` (`generate == false`) and `POST /api/generate`.
pub(crate) async fn generate(
    ctx: Ctx,
    generate: bool,
    llm: LlmRequest,
    failure: Option<Failure>,
) -> Response {
    let plan = ctx.shared.plan(&llm, failure);
    let mut meta = Meta {
        model: llm.model.clone().unwrap_or_else(|| "llama3.2".to_owned()),
        generate,
        arrived: ctx.arrived,
        first_token: None,
        prompt_eval_count: llm.estimated_input_tokens(),
        eval_count: 0,
    };
    if llm.stream {
        stream::streaming(
            ctx.shared,
            plan,
            OllamaEncoder { meta },
            "application/x-ndjson",
        )
    } else {
        let endpoint = ctx.endpoint;
        let text = plan.text();
        let truncated = plan.truncated;
        meta.eval_count = plan.tokens.len();
        let ttft = plan.timing.first_token;
        stream::non_streaming(
            ctx.shared,
            &plan,
            || {
                meta.first_token = Some(meta.arrived + ttft);
                meta.done(&text, truncated)
            },
            |status, message| ApiError::new(status, message).render(endpoint),
        )
        .await
    }
}

struct OllamaEncoder {
    meta: Meta,
}

impl Encoder for OllamaEncoder {
    fn head(&mut self) -> Vec<Bytes> {
        Vec::new()
    }

    fn delta(&mut self, token: &str) -> Vec<Bytes> {
        self.meta
            .first_token
            .get_or_insert_with(tokio::time::Instant::now);
        self.meta.eval_count += 1;
        vec![stream::ndjson(&self.meta.piece(token, false))]
    }

    fn malformed(&mut self) -> Bytes {
        Bytes::from(format!(
            "{{\"model\":\"{}\",\"message\":{{\"role\":\"assistant\",\"content\":\n",
            self.meta.model
        ))
    }

    fn error(&mut self, message: &str) -> Vec<Bytes> {
        vec![stream::ndjson(&json!({"error": message}))]
    }

    fn tail(&mut self, _text: &str, truncated: bool) -> Vec<Bytes> {
        vec![stream::ndjson(&self.meta.done("", truncated))]
    }
}

/// `POST /api/embed` (`{model, embeddings: [[f32]]}` plus counters) or, with
/// `legacy`, `POST /api/embeddings` (`{embedding: [f32]}` for the single `prompt`).
pub(crate) async fn embed(
    ctx: &Ctx,
    body: Option<&Value>,
    llm: &LlmRequest,
    legacy: bool,
) -> Response {
    if llm.embedding_inputs.is_empty() && !legacy {
        return ApiError::new(StatusCode::BAD_REQUEST, "invalid input type").render(ctx.endpoint);
    }
    if !stream::sleep_or_shutdown(&ctx.shared, ctx.shared.timing().first_token).await {
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    }
    let dims = crate::embeddings::dimensions(ctx, body);
    let vectors: Vec<Vec<f32>> = llm
        .embedding_inputs
        .iter()
        .map(|t| embed_text(t, dims))
        .collect();
    if legacy {
        let v = vectors.into_iter().next().unwrap_or_default();
        return stream::json(StatusCode::OK, &json!({"embedding": v}));
    }
    stream::json(
        StatusCode::OK,
        &json!({
            "model": llm.model.clone().unwrap_or_else(|| "nomic-embed-text".to_owned()),
            "embeddings": vectors,
            "total_duration": nanos(tokio::time::Instant::now() - ctx.arrived),
            "load_duration": 0,
            "prompt_eval_count": llm.estimated_input_tokens(),
        }),
    )
}

/// `GET /api/tags`: the configured models, named with Ollama's `:latest` tag.
pub(crate) fn tags(config: &Config) -> Response {
    let models: Vec<Value> = config
        .models
        .iter()
        .map(|m| {
            let name = if m.contains(':') {
                m.clone()
            } else {
                format!("{m}:latest")
            };
            json!({
                "name": name,
                "model": name,
                "modified_at": "2025-01-01T00:00:00Z",
                "size": 2_019_393_189u64,
                "digest": format!("{:064x}", name.len()),
                "details": {
                    "parent_model": "",
                    "format": "gguf",
                    "family": "llama",
                    "families": ["llama"],
                    "parameter_size": "3.2B",
                    "quantization_level": "Q4_K_M"
                }
            })
        })
        .collect();
    stream::json(StatusCode::OK, &json!({"models": models}))
}
