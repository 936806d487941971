//! Server-side state of the Responses API: conversations (`/v1/conversations`) and
//! stored responses (for `previous_response_id` and `GET /v1/responses/{id}`).
//!
//! Items are kept in the exact JSON shape OpenAI returns them (`type: "message"`,
//! `id`, `status`, `role`, typed content parts), so listing them deserializes into
//! the client's `ConversationItem`s. A response run "in" a conversation appends its
//! input items then its output message, which is how OpenAI makes the next turn see
//! the history without the client resending it.

use std::collections::HashMap;

use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Map, Value, json};

use crate::record::Message;
use crate::server::{ApiError, unix_now};
use crate::stream;

/// One conversation.
#[derive(Debug, Clone)]
pub(crate) struct Conversation {
    pub id: String,
    pub created_at: u64,
    pub metadata: Value,
    pub items: Vec<Value>,
}

impl Conversation {
    fn resource(&self) -> Value {
        json!({
            "id": self.id,
            "object": "conversation",
            "created_at": self.created_at,
            "metadata": self.metadata,
        })
    }
}

/// A stored response: its JSON and the context a follow-up (`previous_response_id`)
/// inherits — that response's own context, its input, and its output.
#[derive(Debug, Clone)]
pub(crate) struct StoredResponse {
    pub json: Value,
    pub context: Vec<Message>,
}

/// All Responses-API state of one simulator.
#[derive(Debug, Default)]
pub(crate) struct Store {
    next_id: u64,
    pub conversations: HashMap<String, Conversation>,
    pub responses: HashMap<String, StoredResponse>,
}

impl Store {
    /// A fresh id such as `conv_sim000001`: readable in test output and
    /// deterministic (ids depend only on the order of creation in one simulator).
    pub(crate) fn new_id(&mut self, prefix: &str) -> String {
        self.next_id += 1;
        format!("{prefix}_sim{:06}", self.next_id)
    }

    /// Stores `items` (normalised, with fresh ids) at the end of conversation `id`
    /// and returns the stored items; `None` when the conversation does not exist.
    pub(crate) fn append_items(&mut self, id: &str, items: &[Value]) -> Option<Vec<Value>> {
        let normalized: Vec<Value> = items
            .iter()
            .map(|item| {
                let item_id = self.new_id("msg");
                normalize_item(item, item_id)
            })
            .collect();
        let conversation = self.conversations.get_mut(id)?;
        conversation.items.extend(normalized.iter().cloned());
        Some(normalized)
    }
}

/// Error for an unknown conversation (OpenAI's shape, status 404).
pub(crate) fn conversation_not_found(id: &str) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        format!("Conversation with id '{id}' not found."),
    )
    .param("conversation")
}

/// Turns one input item into the stored item OpenAI would list: messages get
/// `type`, `id`, `status` and typed content parts (`input_text` for user/system
/// messages, `output_text` with `annotations` for assistant ones); other items
/// are kept as sent, with an `id` added if missing.
pub(crate) fn normalize_item(item: &Value, id: String) -> Value {
    let Some(obj) = item.as_object() else {
        return json!({"type": "message", "id": id, "status": "completed", "role": "user",
                      "content": [{"type": "input_text", "text": item.as_str().unwrap_or_default()}]});
    };
    let is_message = obj.get("role").is_some()
        && obj
            .get("type")
            .and_then(Value::as_str)
            .is_none_or(|t| t == "message");
    if !is_message {
        let mut out = obj.clone();
        out.entry("id").or_insert(Value::String(id));
        return Value::Object(out);
    }
    let role = obj
        .get("role")
        .and_then(Value::as_str)
        .unwrap_or("user")
        .to_owned();
    let assistant = role == "assistant";
    let text_part = |text: &str| {
        if assistant {
            json!({"type": "output_text", "text": text, "annotations": [], "logprobs": []})
        } else {
            json!({"type": "input_text", "text": text})
        }
    };
    let content: Vec<Value> = match obj.get("content") {
        Some(Value::String(s)) => vec![text_part(s)],
        Some(Value::Array(parts)) => parts
            .iter()
            .map(|p| match p.get("type").and_then(Value::as_str) {
                Some("output_text") => {
                    let mut p = p.as_object().cloned().unwrap_or_default();
                    p.entry("annotations").or_insert(json!([]));
                    Value::Object(p)
                }
                Some("text") | None => {
                    text_part(p.get("text").and_then(Value::as_str).unwrap_or(""))
                }
                _ => p.clone(),
            })
            .collect(),
        _ => Vec::new(),
    };
    json!({"type": "message", "id": id, "status": "completed", "role": role, "content": content})
}

/// The text of an item as the model would read it, if it is a message (or a tool
/// result, read as a `tool` message).
pub(crate) fn item_to_message(item: &Value) -> Option<Message> {
    if let Some(s) = item.as_str() {
        return Some(Message::new("user", s));
    }
    let kind = item.get("type").and_then(Value::as_str);
    match kind {
        Some("function_call_output") | Some("custom_tool_call_output") => {
            let output = match item.get("output") {
                Some(Value::String(s)) => s.clone(),
                Some(other) => content_text(other),
                None => String::new(),
            };
            Some(Message::new("tool", output))
        }
        None | Some("message") => {
            let role = item.get("role")?.as_str()?.to_owned();
            Some(Message::new(
                role,
                item.get("content").map(content_text).unwrap_or_default(),
            ))
        }
        _ => None,
    }
}

/// Text of a message content: a string, or the `text` of each part joined by `\n`.
pub(crate) fn content_text(content: &Value) -> String {
    match content {
        Value::String(s) => s.clone(),
        Value::Array(parts) => parts
            .iter()
            .filter_map(|p| match p {
                Value::String(s) => Some(s.clone()),
                _ => p.get("text").and_then(Value::as_str).map(str::to_owned),
            })
            .collect::<Vec<_>>()
            .join("\n"),
        _ => String::new(),
    }
}

fn list(items: Vec<Value>, has_more: bool) -> Value {
    let first = items
        .first()
        .and_then(|i| i.get("id"))
        .cloned()
        .unwrap_or(Value::Null);
    let last = items
        .last()
        .and_then(|i| i.get("id"))
        .cloned()
        .unwrap_or(Value::Null);
    json!({"object": "list", "data": items, "first_id": first, "last_id": last, "has_more": has_more})
}

/// `POST /v1/conversations` with optional `items` and `metadata`.
pub(crate) fn create(store: &mut Store, body: Option<&Value>) -> Response {
    let id = store.new_id("conv");
    let metadata = body
        .and_then(|b| b.get("metadata"))
        .filter(|m| m.is_object())
        .cloned()
        .unwrap_or_else(|| Value::Object(Map::new()));
    let conversation = Conversation {
        id: id.clone(),
        created_at: unix_now(),
        metadata,
        items: Vec::new(),
    };
    let resource = conversation.resource();
    store.conversations.insert(id.clone(), conversation);
    if let Some(items) = body.and_then(|b| b.get("items")).and_then(Value::as_array) {
        store.append_items(&id, items);
    }
    stream::json(StatusCode::OK, &resource)
}

/// `GET /v1/conversations/{id}`.
pub(crate) fn get(store: &Store, id: &str) -> Result<Response, ApiError> {
    let c = store
        .conversations
        .get(id)
        .ok_or_else(|| conversation_not_found(id))?;
    Ok(stream::json(StatusCode::OK, &c.resource()))
}

/// `POST /v1/conversations/{id}`: replaces the metadata.
pub(crate) fn update(
    store: &mut Store,
    id: &str,
    body: Option<&Value>,
) -> Result<Response, ApiError> {
    let c = store
        .conversations
        .get_mut(id)
        .ok_or_else(|| conversation_not_found(id))?;
    if let Some(m) = body
        .and_then(|b| b.get("metadata"))
        .filter(|m| m.is_object())
    {
        c.metadata = m.clone();
    }
    Ok(stream::json(StatusCode::OK, &c.resource()))
}

/// `DELETE /v1/conversations/{id}`.
pub(crate) fn delete(store: &mut Store, id: &str) -> Result<Response, ApiError> {
    store
        .conversations
        .remove(id)
        .ok_or_else(|| conversation_not_found(id))?;
    Ok(stream::json(
        StatusCode::OK,
        &json!({"id": id, "object": "conversation.deleted", "deleted": true}),
    ))
}

/// `POST /v1/conversations/{id}/items`: returns the list of created items.
pub(crate) fn create_items(
    store: &mut Store,
    id: &str,
    body: Option<&Value>,
) -> Result<Response, ApiError> {
    let items = body
        .and_then(|b| b.get("items"))
        .and_then(Value::as_array)
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "Missing required parameter: 'items'.",
            )
            .param("items")
        })?;
    let created = store
        .append_items(id, items)
        .ok_or_else(|| conversation_not_found(id))?;
    Ok(stream::json(StatusCode::OK, &list(created, false)))
}

/// `GET /v1/conversations/{id}/items` with `order` (default `desc`, like OpenAI),
/// `limit` (1–100, default 20) and `after` (an item id: items following it in the
/// chosen order).
pub(crate) fn list_items(
    store: &Store,
    id: &str,
    query: Option<&str>,
) -> Result<Response, ApiError> {
    let c = store
        .conversations
        .get(id)
        .ok_or_else(|| conversation_not_found(id))?;
    let params = parse_query(query);
    let order = params.get("order").map(String::as_str).unwrap_or("desc");
    let limit = params
        .get("limit")
        .and_then(|l| l.parse::<usize>().ok())
        .unwrap_or(20)
        .clamp(1, 100);
    let mut items: Vec<Value> = c.items.clone();
    if order != "asc" {
        items.reverse();
    }
    if let Some(after) = params.get("after") {
        let pos = items
            .iter()
            .position(|i| i.get("id").and_then(Value::as_str) == Some(after));
        items = match pos {
            Some(p) => items.split_off(p + 1),
            None => Vec::new(),
        };
    }
    let has_more = items.len() > limit;
    items.truncate(limit);
    Ok(stream::json(StatusCode::OK, &list(items, has_more)))
}

/// `GET /v1/conversations/{id}/items/{item_id}`.
pub(crate) fn get_item(store: &Store, id: &str, item_id: &str) -> Result<Response, ApiError> {
    let c = store
        .conversations
        .get(id)
        .ok_or_else(|| conversation_not_found(id))?;
    let item = c
        .items
        .iter()
        .find(|i| i.get("id").and_then(Value::as_str) == Some(item_id))
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::NOT_FOUND,
                format!("Item with id '{item_id}' not found."),
            )
        })?;
    Ok(stream::json(StatusCode::OK, item))
}

/// `DELETE /v1/conversations/{id}/items/{item_id}`: returns the conversation.
pub(crate) fn delete_item(
    store: &mut Store,
    id: &str,
    item_id: &str,
) -> Result<Response, ApiError> {
    let c = store
        .conversations
        .get_mut(id)
        .ok_or_else(|| conversation_not_found(id))?;
    let before = c.items.len();
    c.items
        .retain(|i| i.get("id").and_then(Value::as_str) != Some(item_id));
    if c.items.len() == before {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            format!("Item with id '{item_id}' not found."),
        ));
    }
    Ok(stream::json(StatusCode::OK, &c.resource()))
}

/// Minimal `application/x-www-form-urlencoded` query parsing (ids and numbers only
/// appear here, so `%XX` decoding of ASCII is enough).
pub(crate) fn parse_query(query: Option<&str>) -> HashMap<String, String> {
    query
        .unwrap_or("")
        .split('&')
        .filter(|kv| !kv.is_empty())
        .map(|kv| {
            let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
            (percent_decode(k), percent_decode(v))
        })
        .collect()
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok();
                match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    Some(b) => {
                        out.push(b);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}
