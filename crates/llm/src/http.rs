//! What the three providers share: the HTTP client, error mapping, timing and call logs.

use crate::{CallSink, LlmError};
use chrono::{DateTime, Utc};
use disconcierge_core::model::{LlmCallLog, TokenUsage};
use futures_util::{Stream, StreamExt};
use reqwest::header::HeaderMap;
use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;
use std::time::{Duration, Instant};

pub(crate) fn client() -> Result<reqwest::Client, LlmError> {
    reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(10))
        .pool_idle_timeout(Duration::from_secs(90))
        .build()
        .map_err(|e| LlmError::Transport {
            url: String::new(),
            message: e.to_string(),
        })
}

/// Sends a JSON POST (or a GET when `body` is `None`) and maps any non-2xx status to an [`LlmError`].
pub(crate) async fn send(
    client: &reqwest::Client,
    url: &str,
    token: Option<&SecretString>,
    body: Option<&Value>,
) -> Result<reqwest::Response, (LlmError, Option<u16>, Option<Value>)> {
    let mut request = match body {
        Some(body) => client.post(url).json(body),
        None => client.get(url),
    };
    if let Some(token) = token {
        request = request.bearer_auth(token.expose_secret());
    }
    let response = request
        .send()
        .await
        .map_err(|e| (transport(url, &e), None, None))?;
    let status = response.status();
    if status.is_success() {
        return Ok(response);
    }
    let headers = response.headers().clone();
    let text = response.text().await.unwrap_or_default();
    let json: Option<Value> = serde_json::from_str(&text).ok();
    let message = json
        .as_ref()
        .map(error_message)
        .unwrap_or_else(|| truncate(&text, 500));
    Err((
        status_error(status.as_u16(), &headers, message),
        Some(status.as_u16()),
        json,
    ))
}

pub(crate) fn transport(url: &str, e: &reqwest::Error) -> LlmError {
    // reqwest's Display leaves out the cause (connection refused, reset...), which is what an admin needs.
    let mut message = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(cause) = source {
        message.push_str(": ");
        message.push_str(&cause.to_string());
        source = cause.source();
    }
    LlmError::Transport {
        url: url.to_string(),
        message,
    }
}

/// The human message of an error body: OpenAI's `{"error": {"message"}}` or Ollama's `{"error": "..."}`.
pub(crate) fn error_message(body: &Value) -> String {
    match &body["error"] {
        Value::String(s) => s.clone(),
        Value::Object(o) => o
            .get("message")
            .and_then(Value::as_str)
            .unwrap_or("unknown error")
            .to_string(),
        _ => truncate(&body.to_string(), 500),
    }
}

fn status_error(status: u16, headers: &HeaderMap, message: String) -> LlmError {
    match status {
        401 | 403 => LlmError::Auth { status },
        404 => LlmError::NotFound {
            what: "the model or resource",
            message,
        },
        429 => LlmError::RateLimited {
            retry_after: retry_after(headers),
            message,
        },
        408 | 409 | 500..=599 => LlmError::Server { status, message },
        _ => LlmError::Rejected { status, message },
    }
}

/// `Retry-After` (seconds or an HTTP date) or OpenAI's `retry-after-ms`.
pub(crate) fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    if let Some(ms) = headers
        .get("retry-after-ms")
        .and_then(|v| v.to_str().ok()?.trim().parse::<f64>().ok())
    {
        return Duration::try_from_secs_f64(ms / 1000.0).ok();
    }
    let value = headers.get("retry-after")?.to_str().ok()?.trim();
    if let Ok(secs) = value.parse::<f64>() {
        return Duration::try_from_secs_f64(secs).ok();
    }
    let at = DateTime::parse_from_rfc2822(value).ok()?;
    (at.with_timezone(&Utc) - Utc::now()).to_std().ok()
}

pub(crate) fn truncate(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_string(),
    }
}

/// Deadlines of one streaming call: until the first text arrives, `first_token` (measured from the start,
/// headers included); then the whole answer must be done within `total`.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub first_token: Duration,
    pub total: Duration,
}

struct Deadlines {
    first: tokio::time::Instant,
    total: tokio::time::Instant,
    limits: Limits,
}

impl Deadlines {
    fn new(limits: Limits) -> Deadlines {
        let now = tokio::time::Instant::now();
        Deadlines {
            first: now + limits.first_token,
            total: now + limits.total,
            limits,
        }
    }

    /// The deadline in force and the error its expiry means.
    fn current(&self, got_text: bool) -> (tokio::time::Instant, LlmError) {
        if got_text || self.total <= self.first {
            (self.total, LlmError::TotalTimeout(self.limits.total))
        } else {
            (
                self.first,
                LlmError::FirstTokenTimeout(self.limits.first_token),
            )
        }
    }

    async fn run<F: std::future::Future>(
        &self,
        got_text: bool,
        fut: F,
    ) -> Result<F::Output, LlmError> {
        let (at, err) = self.current(got_text);
        tokio::time::timeout_at(at, fut).await.map_err(|_| err)
    }
}

/// Times one call and builds its log.
pub(crate) struct Call {
    started_at: DateTime<Utc>,
    start: Instant,
    provider: &'static str,
    operation: &'static str,
    model: Option<String>,
    chat_command_id: Option<i64>,
    request: Value,
}

impl Call {
    pub(crate) fn start(
        provider: &'static str,
        operation: &'static str,
        model: Option<&str>,
        chat_command_id: Option<i64>,
        request: Value,
    ) -> Call {
        Call {
            started_at: Utc::now(),
            start: Instant::now(),
            provider,
            operation,
            model: model.map(str::to_string),
            chat_command_id,
            request,
        }
    }

    pub(crate) fn request(&self) -> &Value {
        &self.request
    }

    /// Records the call's outcome in the sink.
    pub(crate) fn finish(
        self,
        sink: &dyn CallSink,
        status: Option<u16>,
        response: Option<Value>,
        usage: Option<TokenUsage>,
        error: Option<&LlmError>,
    ) {
        let duration = self.start.elapsed();
        match error {
            Some(e) => {
                tracing::warn!(provider = self.provider, operation = self.operation, ?duration, error = %e, "LLM call failed")
            }
            None => tracing::debug!(
                provider = self.provider,
                operation = self.operation,
                ?duration,
                "LLM call done"
            ),
        }
        sink.record(LlmCallLog {
            chat_command_id: self.chat_command_id,
            provider: self.provider.to_string(),
            operation: self.operation.to_string(),
            model: self.model,
            request: self.request,
            response,
            http_status: status,
            error: error.map(ToString::to_string),
            started_at: self.started_at,
            duration_ms: u64::try_from(duration.as_millis()).unwrap_or(u64::MAX),
            usage,
        });
    }
}

/// Runs a non-streaming JSON call and logs it: returns the parsed body.
pub(crate) async fn json_call(
    client: &reqwest::Client,
    sink: &dyn CallSink,
    call: Call,
    url: &str,
    token: Option<&SecretString>,
    post: bool,
) -> Result<Value, LlmError> {
    let body = post.then(|| call.request().clone());
    match send(client, url, token, body.as_ref()).await {
        Ok(response) => {
            let status = response.status().as_u16();
            match response.json::<Value>().await {
                Ok(json) => {
                    call.finish(sink, Some(status), Some(json.clone()), None, None);
                    Ok(json)
                }
                Err(e) => {
                    let err = LlmError::Protocol(format!("the body is not JSON: {e}"));
                    call.finish(sink, Some(status), None, None, Some(&err));
                    Err(err)
                }
            }
        }
        Err((err, status, body)) => {
            call.finish(sink, status, body, None, Some(&err));
            Err(err)
        }
    }
}

/// Reads a `{prompt,completion,total}`-like usage object, whatever the provider called its fields.
pub(crate) fn usage(
    input: Option<u64>,
    output: Option<u64>,
    total: Option<u64>,
) -> Option<TokenUsage> {
    if input.is_none() && output.is_none() && total.is_none() {
        return None;
    }
    let prompt = input.unwrap_or(0) as u32;
    let completion = output.unwrap_or(0) as u32;
    Some(TokenUsage {
        prompt_tokens: prompt,
        completion_tokens: completion,
        total_tokens: total.map(|t| t as u32).unwrap_or(prompt + completion),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    #[test]
    fn retry_after_in_its_three_forms() {
        let mut h = HeaderMap::new();
        assert_eq!(retry_after(&h), None);
        h.insert("retry-after", HeaderValue::from_static("2"));
        assert_eq!(retry_after(&h), Some(Duration::from_secs(2)));
        h.insert("retry-after-ms", HeaderValue::from_static("250"));
        assert_eq!(retry_after(&h), Some(Duration::from_millis(250)));
        let mut h = HeaderMap::new();
        let at = (Utc::now() + chrono::TimeDelta::seconds(30)).to_rfc2822();
        h.insert("retry-after", HeaderValue::from_str(&at).unwrap());
        let d = retry_after(&h).unwrap();
        assert!(
            d > Duration::from_secs(25) && d <= Duration::from_secs(30),
            "{d:?}"
        );
    }

    #[test]
    fn statuses_map_to_errors_an_admin_can_act_on() {
        let h = HeaderMap::new();
        assert!(matches!(
            status_error(401, &h, "x".into()),
            LlmError::Auth { status: 401 }
        ));
        assert!(status_error(503, &h, "x".into()).is_retryable());
        assert!(!status_error(400, &h, "bad".into()).is_retryable());
        assert!(status_error(429, &h, "slow".into()).is_retryable());
        assert!(
            status_error(401, &h, "x".into())
                .to_string()
                .contains("DC_OPENAI_TOKEN")
        );
    }

    #[test]
    fn error_bodies_of_both_dialects() {
        let openai: Value = serde_json::json!({"error": {"message": "model not found", "type": "invalid_request_error"}});
        assert_eq!(error_message(&openai), "model not found");
        let ollama: Value =
            serde_json::json!({"error": "model 'x' not found, try pulling it first"});
        assert_eq!(
            error_message(&ollama),
            "model 'x' not found, try pulling it first"
        );
    }
}

/// What one stream item means, as decided by a provider's parser.
pub(crate) enum Action {
    Delta(String),
    ResponseId(String),
    Done {
        usage: Option<TokenUsage>,
        finish: crate::FinishReason,
        /// The full text, when the provider repeats it at the end and no delta carried it.
        text: Option<String>,
    },
    Fail(LlmError),
    Skip,
}

/// Runs a streaming call: sends it, feeds each item (an SSE event's data or an NDJSON line) to `parse`,
/// passes text to `on_delta`, and logs the call with a summary of the stream.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn stream_call(
    client: &reqwest::Client,
    sink: &dyn CallSink,
    call: Call,
    url: &str,
    token: Option<&SecretString>,
    framing: Framing,
    limits: Limits,
    on_delta: &mut crate::OnDelta<'_>,
    mut parse: impl FnMut(&str) -> Action + Send,
) -> Result<crate::Completion, LlmError> {
    let deadlines = Deadlines::new(limits);
    let body = call.request().clone();
    let response = match deadlines
        .run(false, send(client, url, token, Some(&body)))
        .await
    {
        Ok(Ok(r)) => r,
        Ok(Err((err, status, body))) => {
            call.finish(sink, status, body, None, Some(&err));
            return Err(err);
        }
        Err(timeout) => {
            call.finish(sink, None, None, None, Some(&timeout));
            return Err(timeout);
        }
    };
    let status = response.status().as_u16();
    let mut items = framing.items(response);
    let mut text = String::new();
    let mut response_id = None;
    let mut events = 0u32;
    let result = loop {
        let item = match deadlines.run(!text.is_empty(), items.next()).await {
            Ok(Some(Ok(item))) => item,
            Ok(Some(Err(e))) => break Err(LlmError::StreamBroken(e)),
            Ok(None) => {
                break Err(LlmError::StreamBroken(
                    "the stream ended before the answer was complete".into(),
                ));
            }
            Err(e) => break Err(e),
        };
        events += 1;
        match parse(&item) {
            Action::Delta(d) if !d.is_empty() => {
                text.push_str(&d);
                on_delta(&d);
            }
            Action::Delta(_) | Action::Skip => {}
            Action::ResponseId(id) => response_id = Some(id),
            Action::Done {
                usage,
                finish,
                text: full,
            } => {
                if let Some(full) = full.filter(|f| !f.is_empty() && text.is_empty()) {
                    on_delta(&full);
                    text = full;
                }
                break Ok(crate::Completion {
                    text: std::mem::take(&mut text),
                    usage,
                    finish,
                    response_id: response_id.clone(),
                });
            }
            Action::Fail(e) => break Err(e),
        }
    };
    let summary = serde_json::json!({
        "streamed": true,
        "events": events,
        "response_id": response_id,
        "text": match &result { Ok(c) => c.text.clone(), Err(_) => text.clone() },
        "finish": result.as_ref().ok().map(|c| format!("{:?}", c.finish).to_lowercase()),
    });
    let usage = result.as_ref().ok().and_then(|c| c.usage);
    call.finish(
        sink,
        Some(status),
        Some(summary),
        usage,
        result.as_ref().err(),
    );
    result
}

/// How a streaming body is cut into items.
#[derive(Clone, Copy)]
pub(crate) enum Framing {
    /// Server-sent events (OpenAI): each event's `data`.
    Sse,
    /// Newline-delimited JSON (Ollama): each non-empty line.
    Ndjson,
}

type Items = std::pin::Pin<Box<dyn Stream<Item = Result<String, String>> + Send>>;

impl Framing {
    fn items(self, response: reqwest::Response) -> Items {
        use eventsource_stream::Eventsource;
        let bytes = response.bytes_stream();
        match self {
            Framing::Sse => Box::pin(
                bytes
                    .eventsource()
                    .map(|r| r.map(|e| e.data).map_err(|e| e.to_string())),
            ),
            Framing::Ndjson => Box::pin(ndjson_lines(bytes)),
        }
    }
}

/// Splits a byte stream into lines (NDJSON); a line may arrive in several chunks.
fn ndjson_lines(
    bytes: impl Stream<Item = Result<bytes::Bytes, reqwest::Error>> + Send + 'static,
) -> impl Stream<Item = Result<String, String>> + Send {
    futures_util::stream::unfold(
        (Box::pin(bytes), Vec::<u8>::new(), false),
        |(mut bytes, mut buf, mut ended)| async move {
            loop {
                if let Some(pos) = buf.iter().position(|b| *b == b'\n') {
                    let line: Vec<u8> = buf.drain(..=pos).collect();
                    let line = String::from_utf8_lossy(&line).trim().to_string();
                    if line.is_empty() {
                        continue;
                    }
                    return Some((Ok(line), (bytes, buf, ended)));
                }
                if ended {
                    let rest = String::from_utf8_lossy(&buf).trim().to_string();
                    buf.clear();
                    return (!rest.is_empty()).then_some((Ok(rest), (bytes, buf, ended)));
                }
                match bytes.next().await {
                    Some(Ok(chunk)) => buf.extend_from_slice(&chunk),
                    Some(Err(e)) => return Some((Err(e.to_string()), (bytes, buf, true))),
                    None => ended = true,
                }
            }
        },
    )
}
