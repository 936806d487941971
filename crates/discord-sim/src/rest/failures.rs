//! Scripted failures: rate limits and server errors a test injects to check the bot's resilience.

use std::time::Duration;

use axum::http::{HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::record::normalize_template;
use crate::shared::Shared;

/// How a scripted request fails.
#[derive(Clone, Copy, Debug)]
pub enum Failure {
    /// 429 with Discord's body (`message`, `retry_after` in seconds, `global`) and headers
    /// (`Retry-After`, `X-RateLimit-*`, `X-RateLimit-Scope`).
    RateLimited {
        /// How long the client must wait.
        retry_after: Duration,
        /// Whether it is the global limit (scope `global`) rather than the route's (`user`).
        global: bool,
    },
    /// A bare server error such as 500, 502 or 503.
    Status(u16),
    /// No answer at all: the request is held open until the client gives up or the process it came
    /// from dies (a stalled connection, or a bot killed in the middle of a request).
    Hang,
}

#[derive(Debug)]
pub(crate) struct ScriptedFailure {
    method: Method,
    template: String,
    failure: Failure,
    remaining: u32,
}

pub(crate) fn script(
    shared: &Shared,
    method: Method,
    template: &str,
    failure: Failure,
    times: u32,
) {
    shared
        .failures
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .push(ScriptedFailure {
            method,
            template: normalize_template(template),
            failure,
            remaining: times,
        });
}

/// Consumes one scripted failure matching this request, if any.
pub(crate) fn take(shared: &Shared, method: &Method, route: &str) -> Option<Failure> {
    let route = normalize_template(route);
    let mut list = shared.failures.lock().unwrap_or_else(|e| e.into_inner());
    let f = list
        .iter_mut()
        .find(|f| f.remaining > 0 && f.method == *method && f.template == route)?;
    f.remaining -= 1;
    Some(f.failure)
}

pub(crate) fn respond(failure: Failure, bucket: &str) -> Response {
    match failure {
        Failure::RateLimited {
            retry_after,
            global,
        } => {
            let secs = retry_after.as_secs_f64();
            let mut r = (
                StatusCode::TOO_MANY_REQUESTS,
                axum::Json(json!({
                    "message": "You are being rate limited.",
                    "retry_after": secs,
                    "global": global,
                })),
            )
                .into_response();
            let h = r.headers_mut();
            let set = |h: &mut axum::http::HeaderMap, k: &'static str, v: String| {
                h.insert(k, HeaderValue::from_str(&v).expect("header value"));
            };
            set(h, "retry-after", format!("{}", secs.ceil().max(1.0) as u64));
            set(h, "x-ratelimit-limit", "5".into());
            set(h, "x-ratelimit-remaining", "0".into());
            set(h, "x-ratelimit-reset-after", format!("{secs:.3}"));
            let reset = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap_or_default()
                .as_secs_f64()
                + secs;
            set(h, "x-ratelimit-reset", format!("{reset:.3}"));
            set(h, "x-ratelimit-bucket", bucket.to_owned());
            set(
                h,
                "x-ratelimit-scope",
                if global { "global" } else { "user" }.into(),
            );
            if global {
                set(h, "x-ratelimit-global", "true".into());
            }
            r
        }
        // Held by the caller (`rest::mod`) before it would get here.
        Failure::Hang => StatusCode::GATEWAY_TIMEOUT.into_response(),
        Failure::Status(code) => {
            let status = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            let reason = status.canonical_reason().unwrap_or("Error");
            (
                status,
                axum::Json(json!({"message": format!("{code}: {reason}"), "code": 0})),
            )
                .into_response()
        }
    }
}
