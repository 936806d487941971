//! Any OpenAI-compatible Chat Completions server (vLLM, llama.cpp, LM Studio, Ollama's `/v1`, OpenAI).
//!
//! The conversation history is kept by disconcierge and sent with each request (system instructions
//! first). Streaming chunks are `data: {...}` server-sent events ending with `data: [DONE]`; usage comes in
//! a last chunk when the server honours `stream_options.include_usage`. Chunks are read leniently:
//! "compatible" servers differ in which fields they send.

use crate::http::{self, Action, Call, Framing, Limits};
use crate::{CallSink, Completion, FinishReason, LlmBackend, LlmError, LlmRequest, OnDelta};
use async_trait::async_trait;
use secrecy::SecretString;
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::{Duration, Instant};

pub struct ChatCompletions {
    client: reqwest::Client,
    base_url: String,
    token: Option<SecretString>,
    embedding_model: Option<String>,
    sink: Arc<dyn CallSink>,
}

impl ChatCompletions {
    pub fn new(
        client: reqwest::Client,
        base_url: String,
        token: Option<SecretString>,
        embedding_model: Option<String>,
        sink: Arc<dyn CallSink>,
    ) -> Self {
        ChatCompletions {
            client,
            base_url: base_url.trim_end_matches('/').to_string(),
            token,
            embedding_model,
            sink,
        }
    }

    /// The messages of a request: instructions as the system message, the history, the new prompt.
    pub fn messages(request: &LlmRequest) -> Vec<Value> {
        let mut messages = Vec::with_capacity(request.history.len() + 2);
        if !request.instructions.is_empty() {
            messages.push(json!({"role": "system", "content": request.instructions}));
        }
        messages.extend(
            request
                .history
                .iter()
                .map(|t| json!({"role": t.role.as_str(), "content": t.content})),
        );
        messages.push(json!({"role": "user", "content": request.prompt}));
        messages
    }

    pub fn request_body(request: &LlmRequest) -> Value {
        let mut body = json!({
            "model": request.model,
            "messages": Self::messages(request),
            "stream": true,
            "stream_options": {"include_usage": true},
        });
        if let Some(t) = request.temperature {
            body["temperature"] = json!(t);
        }
        if let Some(max) = request.max_output_tokens {
            body["max_tokens"] = json!(max);
        }
        body
    }
}

/// Maps one streamed chunk. The finish reason arrives before the usage chunk, so the answer is complete
/// only at `[DONE]`; the parser remembers what it saw until then.
#[derive(Default)]
pub(crate) struct ChunkParser {
    finish: Option<FinishReason>,
    usage: Option<disconcierge_core::model::TokenUsage>,
}

impl ChunkParser {
    pub(crate) fn parse(&mut self, data: &str) -> Action {
        if data.trim() == "[DONE]" {
            return Action::Done {
                usage: self.usage,
                finish: self.finish.unwrap_or(FinishReason::Stop),
                text: None,
            };
        }
        let Ok(chunk) = serde_json::from_str::<Value>(data) else {
            return Action::Fail(LlmError::Protocol(format!(
                "a chunk is not JSON: {}",
                http::truncate(data, 200)
            )));
        };
        if chunk.get("error").is_some_and(|e| !e.is_null()) {
            return Action::Fail(LlmError::Failed(http::error_message(&chunk)));
        }
        let usage = &chunk["usage"];
        if usage.is_object() {
            self.usage = http::usage(
                usage["prompt_tokens"].as_u64(),
                usage["completion_tokens"].as_u64(),
                usage["total_tokens"].as_u64(),
            );
        }
        let choice = &chunk["choices"][0];
        if let Some(reason) = choice["finish_reason"].as_str() {
            self.finish = Some(match reason {
                "stop" => FinishReason::Stop,
                "length" => FinishReason::Length,
                _ => FinishReason::Other,
            });
        }
        match choice["delta"]["content"].as_str() {
            Some(text) => Action::Delta(text.to_string()),
            None => Action::Skip,
        }
    }
}

#[async_trait]
impl LlmBackend for ChatCompletions {
    fn request_json(&self, request: &LlmRequest) -> Value {
        Self::request_body(request)
    }

    fn provider(&self) -> &'static str {
        "openai-chat"
    }

    async fn stream(
        &self,
        request: &LlmRequest,
        limits: Limits,
        on_delta: &mut OnDelta<'_>,
    ) -> Result<Completion, LlmError> {
        let call = Call::start(
            "openai-chat",
            "chat.completions",
            Some(&request.model),
            request.chat_command_id,
            Self::request_body(request),
        );
        let url = format!("{}/chat/completions", self.base_url);
        let mut parser = ChunkParser::default();
        http::stream_call(
            &self.client,
            self.sink.as_ref(),
            call,
            &url,
            self.token.as_ref(),
            Framing::Sse,
            limits,
            on_delta,
            move |data| parser.parse(data),
        )
        .await
    }

    async fn health(&self) -> Result<Duration, LlmError> {
        let start = Instant::now();
        let call = Call::start("openai-chat", "models.list", None, None, Value::Null);
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
        crate::openai::embeddings(
            &self.client,
            self.sink.as_ref(),
            "openai-chat",
            &self.base_url,
            self.token.as_ref(),
            model,
            texts,
        )
        .await
        .map(Some)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_stream_with_usage_after_the_finish_reason() {
        let mut p = ChunkParser::default();
        assert!(matches!(
            p.parse(r#"{"choices":[{"delta":{"role":"assistant"}}]}"#),
            Action::Skip
        ));
        assert!(
            matches!(p.parse(r#"{"choices":[{"delta":{"content":"Hi"}}]}"#), Action::Delta(d) if d == "Hi")
        );
        assert!(matches!(
            p.parse(r#"{"choices":[{"delta":{},"finish_reason":"length"}]}"#),
            Action::Skip
        ));
        assert!(matches!(
            p.parse(r#"{"choices":[],"usage":{"prompt_tokens":3,"completion_tokens":1,"total_tokens":4}}"#),
            Action::Skip
        ));
        match p.parse("[DONE]") {
            Action::Done { usage, finish, .. } => {
                assert_eq!(finish, FinishReason::Length);
                assert_eq!(usage.unwrap().total_tokens, 4);
            }
            _ => panic!("expected Done"),
        }
    }

    #[test]
    fn lenient_about_missing_fields_and_strict_about_errors() {
        let mut p = ChunkParser::default();
        // llama.cpp-style chunk without id/object/created.
        assert!(matches!(
            p.parse(r#"{"choices":[{"index":0,"delta":{"content":"x"}}]}"#),
            Action::Delta(_)
        ));
        assert!(
            matches!(p.parse(r#"{"error":{"message":"overloaded"}}"#), Action::Fail(LlmError::Failed(m)) if m == "overloaded")
        );
    }

    #[test]
    fn system_message_first_then_history_then_prompt() {
        let req = LlmRequest {
            model: "m".into(),
            instructions: "sys".into(),
            history: vec![
                crate::Turn {
                    role: crate::Role::User,
                    content: "q1".into(),
                },
                crate::Turn {
                    role: crate::Role::Assistant,
                    content: "a1".into(),
                },
            ],
            prompt: "q2".into(),
            max_output_tokens: Some(50),
            ..Default::default()
        };
        let body = ChatCompletions::request_body(&req);
        let roles: Vec<_> = body["messages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["role"].as_str().unwrap())
            .collect();
        assert_eq!(roles, ["system", "user", "assistant", "user"]);
        assert_eq!(body["max_tokens"], 50);
        assert_eq!(body["stream_options"]["include_usage"], true);
    }
}
