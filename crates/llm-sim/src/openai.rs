//! OpenAI's Responses API (`/v1/responses`) and model list (`/v1/models`).
//!
//! The JSON mirrors the examples of OpenAI's OpenAPI description, field for field
//! where the bot or its client library could care, and the stream emits the real
//! event sequence with increasing `sequence_number`s:
//! `response.created`, `response.in_progress`, `response.output_item.added`,
//! `response.content_part.added`, `response.output_text.delta`…,
//! `response.output_text.done`, `response.content_part.done`,
//! `response.output_item.done`, then `response.completed` (or
//! `response.incomplete` when `max_output_tokens` cut the output; `error` +
//! `response.failed` for a scripted in-band failure).

use std::sync::Arc;

use axum::http::StatusCode;
use axum::response::Response;
use bytes::Bytes;
use serde_json::{Value, json};

use crate::conversations::{Store, StoredResponse, conversation_not_found, item_to_message};
use crate::record::{LlmRequest, Message};
use crate::script::Failure;
use crate::server::{ApiError, Config, Ctx, Shared, lock, unix_now};
use crate::stream::{self, Encoder};

/// The `input` of a request as a list of items (a string is one user message).
fn input_items(body: &Value) -> Vec<Value> {
    match body.get("input") {
        Some(Value::String(s)) => vec![json!({"type": "message", "role": "user", "content": s})],
        Some(Value::Array(items)) => items.clone(),
        _ => Vec::new(),
    }
}

/// The conversation id, given as a string or as `{"id": ...}`.
fn conversation_id(body: &Value) -> Option<String> {
    match body.get("conversation")? {
        Value::String(s) => Some(s.clone()),
        other => other.get("id").and_then(Value::as_str).map(str::to_owned),
    }
}

fn is_system(m: &Message) -> bool {
    m.role == "system" || m.role == "developer"
}

/// The context this request runs in (conversation items or the previous
/// response's context, then the new input), system messages included.
fn full_context(store: &Store, body: &Value) -> Result<Vec<Message>, ApiError> {
    let conversation = conversation_id(body);
    let previous = body.get("previous_response_id").and_then(Value::as_str);
    let mut context = Vec::new();
    match (conversation, previous) {
        (Some(_), Some(_)) => {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "Mutually exclusive parameters: Ensure you are only providing one of: 'previous_response_id' or 'conversation'.",
            ));
        }
        (Some(c), None) => {
            let conv = store
                .conversations
                .get(&c)
                .ok_or_else(|| conversation_not_found(&c))?;
            context.extend(conv.items.iter().filter_map(item_to_message));
        }
        (None, Some(p)) => {
            let prev = store.responses.get(p).ok_or_else(|| {
                ApiError::new(
                    StatusCode::NOT_FOUND,
                    format!("Previous response with id '{p}' not found."),
                )
                .param("previous_response_id")
            })?;
            context.extend(prev.context.iter().cloned());
        }
        (None, None) => {}
    }
    context.extend(input_items(body).iter().filter_map(item_to_message));
    Ok(context)
}

/// The API-neutral view of a `POST /v1/responses` body, and the error to answer
/// instead (unknown conversation or previous response…). On error the view still
/// holds what the request itself carried, so the recording stays useful.
pub(crate) fn parse(store: &Store, body: &Value) -> (LlmRequest, Option<ApiError>) {
    let input: Vec<Message> = input_items(body)
        .iter()
        .filter_map(item_to_message)
        .collect();
    let (context, error) = match full_context(store, body) {
        Ok(c) => (c, None),
        Err(e) => (input.clone(), Some(e)),
    };
    let mut instructions: Vec<String> = Vec::new();
    match body.get("instructions") {
        Some(Value::String(s)) => instructions.push(s.clone()),
        Some(Value::Array(items)) => {
            instructions.extend(items.iter().filter_map(item_to_message).map(|m| m.text));
        }
        _ => {}
    }
    instructions.extend(
        context
            .iter()
            .filter(|m| is_system(m))
            .map(|m| m.text.clone()),
    );
    let req = LlmRequest {
        model: body.get("model").and_then(Value::as_str).map(str::to_owned),
        instructions: (!instructions.is_empty()).then(|| instructions.join("\n\n")),
        messages: context.into_iter().filter(|m| !is_system(m)).collect(),
        input: input.into_iter().filter(|m| !is_system(m)).collect(),
        stream: body.get("stream").and_then(Value::as_bool).unwrap_or(false),
        temperature: body.get("temperature").and_then(Value::as_f64),
        max_output_tokens: body
            .get("max_output_tokens")
            .and_then(Value::as_u64)
            .map(|n| u32::try_from(n).unwrap_or(u32::MAX)),
        conversation: conversation_id(body),
        previous_response_id: body
            .get("previous_response_id")
            .and_then(Value::as_str)
            .map(str::to_owned),
        embedding_inputs: Vec::new(),
    };
    (req, error)
}

/// Everything about one response that does not change while it is generated.
#[derive(Clone)]
struct Meta {
    shared: Arc<Shared>,
    id: String,
    msg_id: String,
    created_at: u64,
    body: Value,
    llm: LlmRequest,
    input_items: Vec<Value>,
    context: Vec<Message>,
    store: bool,
}

impl Meta {
    /// The response object in a given state.
    fn response(&self, status: &str, output: Vec<Value>, usage: Value, error: Value) -> Value {
        let b = &self.body;
        let get = |k: &str| b.get(k).cloned().unwrap_or(Value::Null);
        let mut r = json!({
            "id": self.id,
            "object": "response",
            "created_at": self.created_at,
            "status": status,
            "background": false,
            "completed_at": if status == "completed" { json!(unix_now()) } else { Value::Null },
            "error": error,
            "incomplete_details": if status == "incomplete" { json!({"reason": "max_output_tokens"}) } else { Value::Null },
            "instructions": get("instructions"),
            "max_output_tokens": get("max_output_tokens"),
            "max_tool_calls": null,
            "model": self.llm.model.clone().unwrap_or_else(|| "gpt-4o-mini".to_owned()),
            "output": output,
            "parallel_tool_calls": true,
            "previous_response_id": get("previous_response_id"),
            "prompt_cache_key": null,
            "reasoning": {"effort": null, "summary": null},
            "safety_identifier": null,
            "service_tier": "default",
            "store": self.store,
            "temperature": b.get("temperature").cloned().unwrap_or(json!(1.0)),
            "text": {"format": {"type": "text"}, "verbosity": "medium"},
            "tool_choice": "auto",
            "tools": [],
            "top_logprobs": 0,
            "top_p": b.get("top_p").cloned().unwrap_or(json!(1.0)),
            "truncation": "disabled",
            "usage": usage,
            "user": null,
            "metadata": b.get("metadata").filter(|m| m.is_object()).cloned().unwrap_or(json!({})),
        });
        if let Some(c) = &self.llm.conversation {
            r["conversation"] = json!({"id": c});
        }
        r
    }

    fn message_item(&self, status: &str, content: Vec<Value>) -> Value {
        json!({"id": self.msg_id, "type": "message", "status": status, "role": "assistant", "content": content})
    }

    /// Usage: input = estimated tokens of instructions + context, output = streamed chunks.
    fn usage(&self, output_tokens: usize) -> Value {
        let input = self.llm.estimated_input_tokens();
        let output = u32::try_from(output_tokens).unwrap_or(u32::MAX);
        json!({
            "input_tokens": input,
            "input_tokens_details": {"cached_tokens": 0},
            "output_tokens": output,
            "output_tokens_details": {"reasoning_tokens": 0},
            "total_tokens": input + output,
        })
    }

    /// Completes the response: stores it (unless `store: false`), appends input and
    /// output to its conversation, and returns its final JSON.
    fn finish(&self, text: &str, tokens: usize, truncated: bool) -> Value {
        let status = if truncated { "incomplete" } else { "completed" };
        let item = self.message_item(status, vec![output_text_part(text)]);
        let response = self.response(status, vec![item.clone()], self.usage(tokens), Value::Null);
        let mut store = lock(&self.shared.store);
        if let Some(c) = &self.llm.conversation {
            store.append_items(c, &self.input_items);
            if let Some(conv) = store.conversations.get_mut(c) {
                conv.items.push(item);
            }
        }
        if self.store {
            let mut context = self.context.clone();
            context.push(Message::new("assistant", text));
            store.responses.insert(
                self.id.clone(),
                StoredResponse {
                    json: response.clone(),
                    context,
                },
            );
        }
        response
    }
}

fn output_text_part(text: &str) -> Value {
    json!({"type": "output_text", "text": text, "annotations": [], "logprobs": []})
}

/// `POST /v1/responses`.
pub(crate) async fn create(
    ctx: Ctx,
    body: Option<&Value>,
    llm: LlmRequest,
    failure: Option<Failure>,
) -> Response {
    let body = body.cloned().unwrap_or_else(|| json!({}));
    let plan = ctx.shared.plan(&llm, failure);
    let (id, msg_id, context) = {
        let mut store = lock(&ctx.shared.store);
        let context = full_context(&store, &body).unwrap_or_default();
        (store.new_id("resp"), store.new_id("msg"), context)
    };
    let meta = Meta {
        shared: ctx.shared.clone(),
        id,
        msg_id,
        created_at: unix_now(),
        input_items: input_items(&body),
        store: body.get("store").and_then(Value::as_bool).unwrap_or(true),
        body,
        llm,
        context,
    };
    if meta.llm.stream {
        let encoder = ResponsesEncoder {
            meta,
            seq: 0,
            started: false,
            tokens: 0,
        };
        stream::streaming(ctx.shared, plan, encoder, "text/event-stream")
    } else {
        let endpoint = ctx.endpoint;
        let tokens = plan.tokens.len();
        let text = plan.text();
        stream::non_streaming(
            ctx.shared,
            &plan,
            || meta.finish(&text, tokens, plan.truncated),
            |status, message| ApiError::new(status, message).render(endpoint),
        )
        .await
    }
}

/// Encodes the Responses API's named server-sent events.
struct ResponsesEncoder {
    meta: Meta,
    seq: u64,
    started: bool,
    tokens: usize,
}

impl ResponsesEncoder {
    fn event(&mut self, kind: &str, mut data: Value) -> Bytes {
        data["type"] = json!(kind);
        data["sequence_number"] = json!(self.seq);
        self.seq += 1;
        stream::sse_named(kind, &data)
    }

    /// The events opening the message item, sent with the first token.
    fn start_message(&mut self) -> Vec<Bytes> {
        if self.started {
            return Vec::new();
        }
        self.started = true;
        let item = self.meta.message_item("in_progress", Vec::new());
        let msg_id = self.meta.msg_id.clone();
        vec![
            self.event("response.output_item.added", json!({"output_index": 0, "item": item})),
            self.event(
                "response.content_part.added",
                json!({"item_id": msg_id, "output_index": 0, "content_index": 0, "part": output_text_part("")}),
            ),
        ]
    }
}

impl Encoder for ResponsesEncoder {
    fn head(&mut self) -> Vec<Bytes> {
        let r = self
            .meta
            .response("in_progress", Vec::new(), Value::Null, Value::Null);
        vec![
            self.event("response.created", json!({"response": r.clone()})),
            self.event("response.in_progress", json!({"response": r})),
        ]
    }

    fn delta(&mut self, token: &str) -> Vec<Bytes> {
        let mut events = self.start_message();
        self.tokens += 1;
        let msg_id = self.meta.msg_id.clone();
        events.push(self.event(
            "response.output_text.delta",
            json!({"item_id": msg_id, "output_index": 0, "content_index": 0, "delta": token, "logprobs": []}),
        ));
        events
    }

    fn malformed(&mut self) -> Bytes {
        self.seq += 1;
        Bytes::from(format!(
            "event: response.output_text.delta\ndata: {{\"type\":\"response.output_text.delta\",\"item_id\":\"{}\",\"delta\":\n\n",
            self.meta.msg_id
        ))
    }

    fn error(&mut self, message: &str) -> Vec<Bytes> {
        let err = json!({"code": "server_error", "message": message});
        let failed = self.meta.response("failed", Vec::new(), Value::Null, err);
        vec![
            self.event(
                "error",
                json!({"code": "server_error", "message": message, "param": null}),
            ),
            self.event("response.failed", json!({"response": failed})),
        ]
    }

    fn tail(&mut self, text: &str, truncated: bool) -> Vec<Bytes> {
        let mut events = self.start_message();
        let msg_id = self.meta.msg_id.clone();
        let status = if truncated { "incomplete" } else { "completed" };
        let ids = json!({"item_id": msg_id, "output_index": 0, "content_index": 0});
        let mut done = ids.clone();
        done["text"] = json!(text);
        done["logprobs"] = json!([]);
        events.push(self.event("response.output_text.done", done));
        let mut part_done = ids;
        part_done["part"] = output_text_part(text);
        events.push(self.event("response.content_part.done", part_done));
        let item = self.meta.message_item(status, vec![output_text_part(text)]);
        events.push(self.event(
            "response.output_item.done",
            json!({"output_index": 0, "item": item}),
        ));
        let response = self.meta.finish(text, self.tokens, truncated);
        let kind = if truncated {
            "response.incomplete"
        } else {
            "response.completed"
        };
        events.push(self.event(kind, json!({"response": response})));
        events
    }
}

/// `GET /v1/responses/{id}` (only responses created with `store` left true).
pub(crate) fn get(shared: &Shared, id: &str) -> Result<Response, ApiError> {
    let store = lock(&shared.store);
    let r = store
        .responses
        .get(id)
        .ok_or_else(|| response_not_found(id))?;
    Ok(stream::json(StatusCode::OK, &r.json))
}

/// `DELETE /v1/responses/{id}`.
pub(crate) fn delete(shared: &Shared, id: &str) -> Result<Response, ApiError> {
    let mut store = lock(&shared.store);
    store
        .responses
        .remove(id)
        .ok_or_else(|| response_not_found(id))?;
    Ok(stream::json(
        StatusCode::OK,
        &json!({"id": id, "object": "response", "deleted": true}),
    ))
}

fn response_not_found(id: &str) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        format!("Response with id '{id}' not found."),
    )
}

fn model_object(id: &str) -> Value {
    json!({"id": id, "object": "model", "created": 1_700_000_000, "owned_by": "llm-sim"})
}

/// `GET /v1/models`.
pub(crate) fn models(config: &Config) -> Response {
    let data: Vec<Value> = config.models.iter().map(|m| model_object(m)).collect();
    stream::json(StatusCode::OK, &json!({"object": "list", "data": data}))
}

/// `GET /v1/models/{id}`: 404 `model_not_found` for models not configured.
pub(crate) fn model(config: &Config, id: &str) -> Result<Response, ApiError> {
    if config.models.iter().any(|m| m == id) {
        Ok(stream::json(StatusCode::OK, &model_object(id)))
    } else {
        Err(ApiError::new(
            StatusCode::NOT_FOUND,
            format!("The model '{id}' does not exist"),
        )
        .param("model")
        .code("model_not_found"))
    }
}
