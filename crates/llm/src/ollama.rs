//! Ollama's native API: `/api/chat` streamed as newline-delimited JSON, options under `options`.

use crate::http::{self, Action, Call, Framing, Limits};
use crate::{CallSink, Completion, FinishReason, LlmBackend, LlmError, LlmRequest, OnDelta};
use async_trait::async_trait;
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::{Duration, Instant};

pub struct Ollama {
    client: reqwest::Client,
    base_url: String,
    embedding_model: Option<String>,
    sink: Arc<dyn CallSink>,
}

impl Ollama {
    pub fn new(
        client: reqwest::Client,
        base_url: String,
        embedding_model: Option<String>,
        sink: Arc<dyn CallSink>,
    ) -> Self {
        Ollama {
            client,
            base_url: base_url.trim_end_matches('/').to_string(),
            embedding_model,
            sink,
        }
    }

    pub fn request_body(request: &LlmRequest) -> Value {
        let mut options = serde_json::Map::new();
        if let Some(t) = request.temperature {
            options.insert("temperature".into(), json!(t));
        }
        if let Some(max) = request.max_output_tokens {
            options.insert("num_predict".into(), json!(max));
        }
        json!({
            "model": request.model,
            "messages": crate::chat::ChatCompletions::messages(request),
            "stream": true,
            "options": options,
        })
    }
}

/// Maps one NDJSON line of `/api/chat`.
pub(crate) fn parse_line(line: &str) -> Action {
    let Ok(chunk) = serde_json::from_str::<Value>(line) else {
        return Action::Fail(LlmError::Protocol(format!(
            "a line is not JSON: {}",
            http::truncate(line, 200)
        )));
    };
    if let Some(error) = chunk.get("error") {
        return Action::Fail(LlmError::Failed(
            error
                .as_str()
                .map_or_else(|| error.to_string(), str::to_string),
        ));
    }
    if chunk["done"].as_bool() == Some(true) {
        // The final line may still carry a last piece of text.
        let last = chunk["message"]["content"].as_str().unwrap_or_default();
        return Action::Done {
            usage: http::usage(
                chunk["prompt_eval_count"].as_u64(),
                chunk["eval_count"].as_u64(),
                None,
            ),
            finish: match chunk["done_reason"].as_str() {
                Some("length") => FinishReason::Length,
                Some("stop") | None => FinishReason::Stop,
                Some(_) => FinishReason::Other,
            },
            text: (!last.is_empty()).then(|| last.to_string()),
        };
    }
    Action::Delta(
        chunk["message"]["content"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
    )
}

#[async_trait]
impl LlmBackend for Ollama {
    fn request_json(&self, request: &LlmRequest) -> Value {
        Self::request_body(request)
    }

    fn provider(&self) -> &'static str {
        "ollama"
    }

    async fn stream(
        &self,
        request: &LlmRequest,
        limits: Limits,
        on_delta: &mut OnDelta<'_>,
    ) -> Result<Completion, LlmError> {
        let call = Call::start(
            "ollama",
            "chat",
            Some(&request.model),
            request.chat_command_id,
            Self::request_body(request),
        );
        let url = format!("{}/api/chat", self.base_url);
        http::stream_call(
            &self.client,
            self.sink.as_ref(),
            call,
            &url,
            None,
            Framing::Ndjson,
            limits,
            on_delta,
            parse_line,
        )
        .await
    }

    async fn health(&self) -> Result<Duration, LlmError> {
        let start = Instant::now();
        let call = Call::start("ollama", "version", None, None, Value::Null);
        let url = format!("{}/api/version", self.base_url);
        http::json_call(&self.client, self.sink.as_ref(), call, &url, None, false).await?;
        Ok(start.elapsed())
    }

    async fn embed(&self, texts: &[String]) -> Result<Option<Vec<Vec<f32>>>, LlmError> {
        let Some(model) = &self.embedding_model else {
            return Ok(None);
        };
        let call = Call::start(
            "ollama",
            "embed",
            Some(model),
            None,
            json!({"model": model, "input": texts}),
        );
        let url = format!("{}/api/embed", self.base_url);
        let body =
            http::json_call(&self.client, self.sink.as_ref(), call, &url, None, true).await?;
        let vectors: Vec<Vec<f32>> = body["embeddings"]
            .as_array()
            .ok_or_else(|| LlmError::Protocol("the embed answer has no embeddings".into()))?
            .iter()
            .map(crate::openai::vector)
            .collect();
        if vectors.len() != texts.len() {
            return Err(LlmError::Protocol(format!(
                "asked for {} embeddings, got {}",
                texts.len(),
                vectors.len()
            )));
        }
        Ok(Some(vectors))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_deltas_and_the_final_line() {
        assert!(
            matches!(parse_line(r#"{"message":{"role":"assistant","content":"Hi"},"done":false}"#), Action::Delta(d) if d == "Hi")
        );
        match parse_line(
            r#"{"message":{"role":"assistant","content":""},"done":true,"done_reason":"stop","prompt_eval_count":7,"eval_count":3}"#,
        ) {
            Action::Done {
                usage,
                finish,
                text,
            } => {
                assert_eq!(finish, FinishReason::Stop);
                assert_eq!(usage.unwrap().total_tokens, 10);
                assert_eq!(text, None);
            }
            _ => panic!("expected Done"),
        }
        assert!(
            matches!(parse_line(r#"{"error":"model 'x' not found"}"#), Action::Fail(LlmError::Failed(m)) if m.contains("not found"))
        );
    }

    #[test]
    fn options_carry_temperature_and_token_limit() {
        let req = LlmRequest {
            model: "llama3".into(),
            temperature: Some(0.3),
            max_output_tokens: Some(64),
            prompt: "hi".into(),
            ..Default::default()
        };
        let body = Ollama::request_body(&req);
        assert_eq!(body["options"]["num_predict"], 64);
        assert!((body["options"]["temperature"].as_f64().unwrap() - 0.3).abs() < 1e-6);
        assert_eq!(body["messages"][0]["role"], "user");
    }
}
