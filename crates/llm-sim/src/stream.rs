//! Delivery of a generation over HTTP, shared by the three APIs: the timing, the
//! token loop and the injected failures live here once; each API only says how one
//! event is encoded ([`Encoder`]).
//!
//! Streaming bodies are fed through a channel by a task spawned on the test's
//! runtime. To simulate a dropped connection the task sends an `Err` into the body:
//! hyper then aborts the response mid-way (no final chunk), which the client sees
//! exactly as a server crash or a network cut.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::Body;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use tokio::sync::mpsc;

use crate::script::{Failure, Plan};
use crate::server::Shared;

type Chunk = Result<Bytes, std::io::Error>;

/// A body fed by a channel (`futures_core::Stream` over a tokio receiver).
struct ChannelBody(mpsc::Receiver<Chunk>);

impl futures_core::Stream for ChannelBody {
    type Item = Chunk;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.0.poll_recv(cx)
    }
}

/// How one API encodes the events of a streamed generation.
pub(crate) trait Encoder: Send + 'static {
    /// Events sent as soon as the headers go out (before the first-token delay).
    fn head(&mut self) -> Vec<Bytes>;
    /// Events carrying one token.
    fn delta(&mut self, token: &str) -> Vec<Bytes>;
    /// One event that the client cannot parse.
    fn malformed(&mut self) -> Bytes;
    /// The API's in-band error, after which the stream ends.
    fn error(&mut self, message: &str) -> Vec<Bytes>;
    /// The closing events of a successful generation (also where side effects such
    /// as storing a response happen, so they are visible before the client sees
    /// the end of the stream).
    fn tail(&mut self, text: &str, truncated: bool) -> Vec<Bytes>;
}

/// Sleeps on tokio's clock unless the simulator shuts down first; `false` then.
pub(crate) async fn sleep_or_shutdown(shared: &Shared, d: Duration) -> bool {
    if d.is_zero() {
        return true;
    }
    let mut rx = shared.shutdown_rx();
    tokio::select! {
        () = tokio::time::sleep(d) => true,
        _ = rx.wait_for(|v| *v) => false,
    }
}

/// Waits until the simulator shuts down (used by hangs and stalls).
pub(crate) async fn until_shutdown(shared: &Shared) {
    let mut rx = shared.shutdown_rx();
    let _ = rx.wait_for(|v| *v).await;
}

/// Makes hyper abort the response (the client sees the connection break), after
/// what was already sent has reached the socket.
///
/// hyper drops its unflushed write buffer when a body errors, so erroring right
/// after the last good chunk could swallow it. hyper flushes whenever the body has
/// nothing more to give: wait until it took everything from the channel, then a
/// little more (on tokio's clock, so this is instant and deterministic under paused
/// time, where the clock only moves once every task, hyper's included, is idle).
async fn drop_connection(tx: &mpsc::Sender<Chunk>) {
    while tx.capacity() < tx.max_capacity() {
        tokio::task::yield_now().await;
    }
    tokio::time::sleep(Duration::from_millis(20)).await;
    let _ = tx
        .send(Err(std::io::Error::other("llm-sim: connection dropped")))
        .await;
}

/// A streamed response with the given content type, produced by `encoder` from `plan`.
pub(crate) fn streaming(
    shared: Arc<Shared>,
    plan: Plan,
    mut encoder: impl Encoder,
    content_type: &'static str,
) -> Response {
    let (tx, rx) = mpsc::channel::<Chunk>(16);
    tokio::spawn(async move {
        // Every send fails once the client went away: stop generating then.
        macro_rules! send_all {
            ($events:expr) => {
                for event in $events {
                    if tx.send(Ok(event)).await.is_err() {
                        return;
                    }
                }
            };
        }
        send_all!(encoder.head());
        if !sleep_or_shutdown(&shared, plan.timing.first_token).await {
            return;
        }
        let failure_at = plan.failure_at().map(|(at, f)| (at, f.clone()));
        for i in 0..=plan.tokens.len() {
            if let Some((at, failure)) = &failure_at
                && *at == i
            {
                match failure {
                    Failure::DropAfter(_) => {
                        drop_connection(&tx).await;
                        return;
                    }
                    Failure::MalformedAfter(_) => send_all!([encoder.malformed()]),
                    Failure::ErrorAfter(_, message) => {
                        send_all!(encoder.error(message));
                        return;
                    }
                    Failure::StallAfter(_) => {
                        until_shutdown(&shared).await;
                        return;
                    }
                    _ => {}
                }
            }
            let Some(token) = plan.tokens.get(i) else {
                break;
            };
            if i > 0 && !sleep_or_shutdown(&shared, plan.timing.per_token).await {
                return;
            }
            send_all!(encoder.delta(token));
        }
        send_all!(encoder.tail(&plan.text(), plan.truncated));
    });
    let mut response = Body::from_stream(ChannelBody(rx)).into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    if content_type == "text/event-stream" {
        response
            .headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    }
    response
}

/// A non-streamed generation: waits for the whole generation time, then answers
/// `body()` — or misbehaves as the plan's failure says. `error` builds the API's
/// error response for [`Failure::ErrorAfter`].
pub(crate) async fn non_streaming(
    shared: Arc<Shared>,
    plan: &Plan,
    body: impl FnOnce() -> serde_json::Value,
    error: impl FnOnce(StatusCode, &str) -> Response,
) -> Response {
    let tokens_before_failure = plan.failure_at().map_or(plan.tokens.len(), |(at, _)| at);
    if !sleep_or_shutdown(&shared, plan.timing.total(tokens_before_failure.max(1))).await {
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    }
    match plan.failure.clone() {
        Some(Failure::ErrorAfter(_, message)) => error(StatusCode::INTERNAL_SERVER_ERROR, &message),
        failure => deliver(shared, Bytes::from(body().to_string()), failure),
    }
}

/// Applies a delivery failure to an already-built (non-streamed) JSON response;
/// used when a predicate rule targets a bookkeeping endpoint.
pub(crate) async fn spoil(shared: Arc<Shared>, response: Response, failure: Failure) -> Response {
    let status = response.status();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap_or_default();
    match failure {
        Failure::ErrorAfter(_, message) => {
            let err = crate::server::ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, message);
            json(
                err.status,
                &serde_json::json!({"error": err.openai_object()}),
            )
        }
        f if status.is_success() => deliver(shared, bytes, Some(f)),
        _ => json_bytes(status, bytes),
    }
}

/// Sends a complete JSON body (status 200), spoiled by `failure`: half of it then
/// a dropped connection, half of it then silence, or half of it as a complete,
/// unparsable body.
fn deliver(shared: Arc<Shared>, full: Bytes, failure: Option<Failure>) -> Response {
    let half = full.slice(..full.len() / 2);
    match failure {
        Some(Failure::MalformedAfter(_)) => json_bytes(StatusCode::OK, half),
        Some(f @ (Failure::DropAfter(_) | Failure::StallAfter(_))) => {
            let (tx, rx) = mpsc::channel::<Chunk>(2);
            tokio::spawn(async move {
                if tx.send(Ok(half)).await.is_err() {
                    return;
                }
                if matches!(f, Failure::StallAfter(_)) {
                    until_shutdown(&shared).await;
                } else {
                    drop_connection(&tx).await;
                }
            });
            let mut response = Body::from_stream(ChannelBody(rx)).into_response();
            response.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            response
        }
        _ => json_bytes(StatusCode::OK, full),
    }
}

/// A JSON response from already-encoded bytes (`axum::Json` would re-validate).
pub(crate) fn json_bytes(status: StatusCode, bytes: Bytes) -> Response {
    let mut response = (status, bytes).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

/// A JSON response.
pub(crate) fn json(status: StatusCode, value: &serde_json::Value) -> Response {
    json_bytes(status, Bytes::from(value.to_string()))
}

/// One server-sent event: `event: <name>\ndata: <json>\n\n` (OpenAI's Responses API
/// names every event; the name equals the payload's `type`).
pub(crate) fn sse_named(name: &str, data: &serde_json::Value) -> Bytes {
    Bytes::from(format!("event: {name}\ndata: {data}\n\n"))
}

/// One unnamed server-sent event, as Chat Completions sends them.
pub(crate) fn sse_data(data: &str) -> Bytes {
    Bytes::from(format!("data: {data}\n\n"))
}

/// One NDJSON line, as Ollama streams.
pub(crate) fn ndjson(value: &serde_json::Value) -> Bytes {
    Bytes::from(format!("{value}\n"))
}
