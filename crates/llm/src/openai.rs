//! OpenAI's Responses API with Conversations.
//!
//! Each user has a conversation at OpenAI (created on first use, replaced by `/clear`); a request names
//! the conversation and sends only the new message, and OpenAI appends both the message and the answer to
//! it. Streaming uses server-sent events; only `response.created`, `response.output_text.delta`,
//! `response.completed`, `response.incomplete`, `response.failed` and `error` matter here, every other
//! event type (reasoning, annotations, and whatever OpenAI adds later) is skipped.

use crate::http::{self, Action, Call, Framing, Limits};
use crate::{CallSink, Completion, FinishReason, LlmBackend, LlmError, LlmRequest, OnDelta};
use async_trait::async_trait;
use secrecy::SecretString;
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::{Duration, Instant};

pub struct OpenAiResponses {
    client: reqwest::Client,
    base_url: String,
    token: Option<SecretString>,
    embedding_model: Option<String>,
    sink: Arc<dyn CallSink>,
}

impl OpenAiResponses {
    pub fn new(
        client: reqwest::Client,
        base_url: String,
        token: Option<SecretString>,
        embedding_model: Option<String>,
        sink: Arc<dyn CallSink>,
    ) -> Self {
        OpenAiResponses {
            client,
            base_url: base_url.trim_end_matches('/').to_string(),
            token,
            embedding_model,
            sink,
        }
    }

    /// The JSON body of a streaming `POST /responses`.
    pub fn request_body(request: &LlmRequest) -> Value {
        let mut input: Vec<Value> = Vec::new();
        if request.conversation_id.is_none() {
            // Without a server-side conversation, the history travels with the request.
            input.extend(
                request
                    .history
                    .iter()
                    .map(|t| json!({"role": t.role.as_str(), "content": t.content})),
            );
        }
        input.push(json!({"role": "user", "content": request.prompt}));
        let mut body = json!({
            "model": request.model,
            "input": input,
            "stream": true,
            "store": true,
        });
        if !request.instructions.is_empty() {
            body["instructions"] = json!(request.instructions);
        }
        if let Some(id) = &request.conversation_id {
            body["conversation"] = json!(id);
        }
        if let Some(t) = request.temperature {
            body["temperature"] = json!(t);
        }
        if let Some(max) = request.max_output_tokens {
            body["max_output_tokens"] = json!(max);
        }
        body
    }
}

/// Maps one Responses stream event.
pub(crate) fn parse_event(data: &str) -> Action {
    let Ok(event) = serde_json::from_str::<Value>(data) else {
        return Action::Fail(LlmError::Protocol(format!(
            "an event is not JSON: {}",
            http::truncate(data, 200)
        )));
    };
    match event["type"].as_str().unwrap_or_default() {
        "response.created" => match event["response"]["id"].as_str() {
            Some(id) => Action::ResponseId(id.to_string()),
            None => Action::Skip,
        },
        "response.output_text.delta" => {
            Action::Delta(event["delta"].as_str().unwrap_or_default().to_string())
        }
        "response.completed" | "response.incomplete" => {
            let response = &event["response"];
            let finish = match response["incomplete_details"]["reason"].as_str() {
                Some("max_output_tokens") => FinishReason::Length,
                Some(_) => FinishReason::Other,
                None => FinishReason::Stop,
            };
            Action::Done {
                usage: usage_of(&response["usage"]),
                finish,
                text: Some(output_text(response)),
            }
        }
        "response.failed" => Action::Fail(failure(&event["response"]["error"])),
        "error" => Action::Fail(failure(&event)),
        _ => Action::Skip,
    }
}

fn usage_of(usage: &Value) -> Option<disconcierge_core::model::TokenUsage> {
    http::usage(
        usage["input_tokens"].as_u64(),
        usage["output_tokens"].as_u64(),
        usage["total_tokens"].as_u64(),
    )
}

/// The text of a response's output messages.
fn output_text(response: &Value) -> String {
    let mut text = String::new();
    for item in response["output"].as_array().into_iter().flatten() {
        for part in item["content"].as_array().into_iter().flatten() {
            if part["type"] == "output_text" {
                text.push_str(part["text"].as_str().unwrap_or_default());
            }
        }
    }
    text
}

/// A failure reported inside the stream: `{code, message}`.
fn failure(error: &Value) -> LlmError {
    let message = error["message"]
        .as_str()
        .unwrap_or("unknown error")
        .to_string();
    match error["code"].as_str().unwrap_or_default() {
        "rate_limit_exceeded" => LlmError::RateLimited {
            retry_after: None,
            message,
        },
        "server_error" | "internal_error" => LlmError::Server {
            status: 500,
            message,
        },
        _ => LlmError::Failed(message),
    }
}

#[async_trait]
impl LlmBackend for OpenAiResponses {
    fn request_json(&self, request: &LlmRequest) -> Value {
        Self::request_body(request)
    }

    fn provider(&self) -> &'static str {
        "openai"
    }

    fn server_side_conversations(&self) -> bool {
        true
    }

    async fn create_conversation(
        &self,
        chat_command_id: Option<i64>,
    ) -> Result<Option<String>, LlmError> {
        let call = Call::start(
            "openai",
            "conversations.create",
            None,
            chat_command_id,
            json!({}),
        );
        let url = format!("{}/conversations", self.base_url);
        let body = http::json_call(
            &self.client,
            self.sink.as_ref(),
            call,
            &url,
            self.token.as_ref(),
            true,
        )
        .await?;
        match body["id"].as_str() {
            Some(id) => Ok(Some(id.to_string())),
            None => Err(LlmError::Protocol("the new conversation has no id".into())),
        }
    }

    async fn stream(
        &self,
        request: &LlmRequest,
        limits: Limits,
        on_delta: &mut OnDelta<'_>,
    ) -> Result<Completion, LlmError> {
        let call = Call::start(
            "openai",
            "responses.create",
            Some(&request.model),
            request.chat_command_id,
            Self::request_body(request),
        );
        let url = format!("{}/responses", self.base_url);
        http::stream_call(
            &self.client,
            self.sink.as_ref(),
            call,
            &url,
            self.token.as_ref(),
            Framing::Sse,
            limits,
            on_delta,
            parse_event,
        )
        .await
    }

    async fn health(&self) -> Result<Duration, LlmError> {
        let start = Instant::now();
        let call = Call::start("openai", "models.list", None, None, Value::Null);
        let url = format!("{}/models", self.base_url);
        http::json_call(
            &self.client,
            self.sink.as_ref(),
            call,
            &url,
            self.token.as_ref(),
            false,
        )
        .await?;
        Ok(start.elapsed())
    }

    async fn embed(&self, texts: &[String]) -> Result<Option<Vec<Vec<f32>>>, LlmError> {
        let Some(model) = &self.embedding_model else {
            return Ok(None);
        };
        embeddings(
            &self.client,
            self.sink.as_ref(),
            "openai",
            &self.base_url,
            self.token.as_ref(),
            model,
            texts,
        )
        .await
        .map(Some)
    }
}

/// `POST /embeddings`, shared with the Chat Completions provider.
pub(crate) async fn embeddings(
    client: &reqwest::Client,
    sink: &dyn CallSink,
    provider: &'static str,
    base_url: &str,
    token: Option<&SecretString>,
    model: &str,
    texts: &[String],
) -> Result<Vec<Vec<f32>>, LlmError> {
    let call = Call::start(
        provider,
        "embeddings.create",
        Some(model),
        None,
        json!({"model": model, "input": texts}),
    );
    let url = format!("{base_url}/embeddings");
    let body = http::json_call(client, sink, call, &url, token, true).await?;
    let mut data: Vec<(u64, Vec<f32>)> = body["data"]
        .as_array()
        .ok_or_else(|| LlmError::Protocol("the embeddings answer has no data".into()))?
        .iter()
        .map(|d| (d["index"].as_u64().unwrap_or(0), vector(&d["embedding"])))
        .collect();
    data.sort_by_key(|(i, _)| *i);
    if data.len() != texts.len() {
        return Err(LlmError::Protocol(format!(
            "asked for {} embeddings, got {}",
            texts.len(),
            data.len()
        )));
    }
    Ok(data.into_iter().map(|(_, v)| v).collect())
}

pub(crate) fn vector(v: &Value) -> Vec<f32> {
    v.as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_f64)
        .map(|f| f as f32)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Role, Turn};

    #[test]
    fn a_request_in_a_conversation_sends_only_the_new_message() {
        let req = LlmRequest {
            model: "gpt-4.1-mini".into(),
            instructions: "Be brief.".into(),
            temperature: Some(0.2),
            max_output_tokens: Some(300),
            history: vec![Turn {
                role: Role::User,
                content: "old".into(),
            }],
            conversation_id: Some("conv_1".into()),
            prompt: "new".into(),
            chat_command_id: None,
        };
        let body = OpenAiResponses::request_body(&req);
        assert_eq!(body["conversation"], "conv_1");
        assert_eq!(body["input"], json!([{"role": "user", "content": "new"}]));
        assert_eq!(body["instructions"], "Be brief.");
        assert_eq!(body["max_output_tokens"], 300);
        assert_eq!(body["stream"], true);

        let without = LlmRequest {
            conversation_id: None,
            ..req
        };
        let body = OpenAiResponses::request_body(&without);
        assert_eq!(body["input"].as_array().unwrap().len(), 2);
        assert!(body.get("conversation").is_none());
    }

    #[test]
    fn events_we_do_not_know_are_skipped_not_fatal() {
        assert!(matches!(
            parse_event(r#"{"type":"response.reasoning_summary_text.delta","delta":"x"}"#),
            Action::Skip
        ));
        assert!(matches!(
            parse_event(r#"{"type":"response.brand_new_event"}"#),
            Action::Skip
        ));
        assert!(
            matches!(parse_event(r#"{"type":"response.output_text.delta","delta":"hi"}"#), Action::Delta(d) if d == "hi")
        );
        assert!(matches!(
            parse_event("not json"),
            Action::Fail(LlmError::Protocol(_))
        ));
    }

    #[test]
    fn completion_carries_usage_and_incomplete_means_length() {
        let done = r#"{"type":"response.incomplete","response":{"id":"r1","incomplete_details":{"reason":"max_output_tokens"},
            "usage":{"input_tokens":10,"output_tokens":5,"total_tokens":15},
            "output":[{"type":"message","content":[{"type":"output_text","text":"Hel"}]}]}}"#;
        match parse_event(done) {
            Action::Done {
                usage,
                finish,
                text,
            } => {
                assert_eq!(finish, FinishReason::Length);
                assert_eq!(usage.unwrap().total_tokens, 15);
                assert_eq!(text.as_deref(), Some("Hel"));
            }
            _ => panic!("expected Done"),
        }
        let failed = r#"{"type":"response.failed","response":{"error":{"code":"server_error","message":"boom"}}}"#;
        assert!(matches!(
            parse_event(failed),
            Action::Fail(LlmError::Server { .. })
        ));
    }
}
