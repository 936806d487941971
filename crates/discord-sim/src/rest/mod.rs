//! The REST API under `/api/v10`, as twilight-http reaches it through `ClientBuilder::proxy(addr, true)`.
//!
//! One middleware wraps every route: it records the request (body included), enforces
//! `Authorization: Bot <token>` on bot routes, applies scripted failures, and adds Discord's
//! rate-limit headers. Handlers then parse bodies with [`parse_body`], which turns a body that
//! twilight-model cannot read into a 400 *and* a recorded violation; routes that take file uploads use
//! [`parse_form`], which also reads Discord's multipart format (see [`crate::attachments`]).
//!
//! Outside `/api/v10`, the simulated CDN serves stored attachments without authentication.

mod app;
pub(crate) mod bodies;
mod channels;
pub(crate) mod error;
pub(crate) mod failures;
mod webhooks;

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::{Body, Bytes, to_bytes};
use axum::extract::{DefaultBodyLimit, MatchedPath, Path, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use serde::de::DeserializeOwned;
use twilight_model::id::Id;

use crate::attachments::{self, Form, Upload};
use crate::record::RecordedRequest;
use crate::shared::Shared;
use error::{ApiError, FormErrors};

/// The prefix twilight-http puts before every path.
pub(crate) const PREFIX: &str = "/api/v10";

/// The largest body the simulator reads; larger ones get Discord's 413 (the per-file and per-request
/// upload limits are checked on what was read, so they answer the same way with a precise violation).
const MAX_BODY: usize = 64 * 1024 * 1024;

/// What handlers know about the request they serve (for violation reports).
#[derive(Clone, Debug)]
pub(crate) struct ReqCtx {
    pub method: String,
    pub path: String,
    pub content_type: Option<String>,
}

impl ReqCtx {
    fn context(&self) -> String {
        format!("{} {}", self.method, self.path)
    }
}

/// Reads a JSON body into `T`; anything else is a 400 and a violation.
pub(crate) fn parse_body<T: DeserializeOwned>(
    shared: &Shared,
    ctx: &ReqCtx,
    bytes: &Bytes,
) -> Result<T, ApiError> {
    parse_body_with(shared, ctx, bytes, default_embed_type)
}

/// Discord documents an embed's `type` as optional (always "rich" for bots); twilight-model requires
/// it, so it is filled in before reading.
fn default_embed_type(v: &mut serde_json::Value) {
    match v {
        serde_json::Value::Object(o) => {
            for (k, child) in o.iter_mut() {
                if k == "embeds"
                    && let Some(list) = child.as_array_mut()
                {
                    for e in list.iter_mut().filter_map(serde_json::Value::as_object_mut) {
                        e.entry("type").or_insert_with(|| "rich".into());
                    }
                } else {
                    default_embed_type(child);
                }
            }
        }
        serde_json::Value::Array(a) => a.iter_mut().for_each(default_embed_type),
        _ => {}
    }
}

/// [`parse_body`] with a fix-up applied to the JSON first, for fields Discord treats as optional but
/// twilight-model requires.
pub(crate) fn parse_body_with<T: DeserializeOwned>(
    shared: &Shared,
    ctx: &ReqCtx,
    bytes: &Bytes,
    fix: impl FnOnce(&mut serde_json::Value),
) -> Result<T, ApiError> {
    if attachments::is_multipart(ctx.content_type.as_deref()) {
        shared.mutate(|w| {
            w.violation(
                ctx.context(),
                "this route takes no file uploads, yet the body is multipart/form-data",
            )
        });
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            50035,
            "Invalid Form Body",
        ));
    }
    decode(shared, ctx, bytes, fix)
}

/// Reads the body of a route that takes file uploads: JSON, or multipart with the JSON in
/// `payload_json` and the files in `files[n]` parts. A malformed form is a 400 (a file over the limit
/// a 413) and a violation.
pub(crate) fn parse_form<T: DeserializeOwned>(
    shared: &Shared,
    ctx: &ReqCtx,
    bytes: Bytes,
) -> Result<(T, Vec<Upload>), ApiError> {
    let form = match ctx.content_type.as_deref() {
        Some(ct) if attachments::is_multipart(Some(ct)) => {
            attachments::parse_multipart(ct, bytes, shared.config.attachment_size_limit).map_err(
                |e| {
                    shared.mutate(|w| w.violation(ctx.context(), e.describe()));
                    e.to_api_error()
                },
            )?
        }
        _ => Form {
            json: bytes,
            files: Vec::new(),
        },
    };
    let body = decode(shared, ctx, &form.json, default_embed_type)?;
    Ok((body, form.files))
}

/// Reads JSON into `T`; anything else is a 400 and a violation.
fn decode<T: DeserializeOwned>(
    shared: &Shared,
    ctx: &ReqCtx,
    bytes: &Bytes,
    fix: impl FnOnce(&mut serde_json::Value),
) -> Result<T, ApiError> {
    let mut value: serde_json::Value = match serde_json::from_slice(bytes) {
        Ok(v) => v,
        Err(e) => {
            shared.mutate(|w| w.violation(ctx.context(), format!("body is not JSON: {e}")));
            return Err(ApiError::invalid_json());
        }
    };
    fix(&mut value);
    match serde_json::from_value::<T>(value) {
        Ok(v) => Ok(v),
        Err(e) => {
            let message = format!(
                "body does not deserialize into {}: {e}",
                std::any::type_name::<T>()
            );
            shared.mutate(|w| w.violation(ctx.context(), message.clone()));
            let mut errs = FormErrors::default();
            errs.add(&[], "MODEL_TYPE_CONVERT", message);
            Err(ApiError::invalid_form(&errs))
        }
    }
}

/// Turns validation errors into Discord's 400 and records them as a violation.
pub(crate) fn reject(shared: &Shared, ctx: &ReqCtx, err: ApiError) -> ApiError {
    shared.mutate(|w| w.violation(ctx.context(), err.describe()));
    err
}

/// Validation errors → 400 + violation, or `Ok(())`.
pub(crate) fn check(shared: &Shared, ctx: &ReqCtx, errs: &FormErrors) -> Result<(), ApiError> {
    if errs.is_empty() {
        Ok(())
    } else {
        Err(reject(shared, ctx, ApiError::invalid_form(errs)))
    }
}

/// Parses a snowflake path segment; a malformed one is as unknown as a missing one.
pub(crate) fn snowflake<M>(
    raw: &str,
    unknown: fn() -> ApiError,
) -> Result<twilight_model::id::Id<M>, ApiError> {
    raw.parse::<u64>()
        .ok()
        .and_then(twilight_model::id::Id::new_checked)
        .ok_or_else(unknown)
}

/// JSON 200 response.
pub(crate) fn json<T: serde::Serialize>(value: &T) -> Response {
    axum::Json(crate::model::to_json(value)).into_response()
}

/// 204 No Content.
pub(crate) fn no_content() -> Response {
    StatusCode::NO_CONTENT.into_response()
}

pub(crate) fn router(shared: Arc<Shared>) -> Router {
    let p = |path: &str| format!("{PREFIX}{path}");
    let api = Router::new()
        .route(&p("/users/@me"), get(app::current_user))
        .route(&p("/users/@me/channels"), post(channels::create_dm))
        .route(&p("/users/{user_id}"), get(app::user))
        .route(&p("/applications/@me"), get(app::current_application))
        .route(
            &p("/oauth2/applications/@me"),
            get(app::current_application),
        )
        .route(&p("/gateway"), get(app::gateway))
        .route(&p("/gateway/bot"), get(app::gateway_bot))
        .route(
            &p("/applications/{application_id}/commands"),
            get(app::get_global_commands).put(app::put_global_commands),
        )
        .route(
            &p("/applications/{application_id}/guilds/{guild_id}/commands"),
            get(app::get_guild_commands).put(app::put_guild_commands),
        )
        .route(
            &p("/interactions/{interaction_id}/{token}/callback"),
            post(webhooks::callback),
        )
        .route(
            &p("/webhooks/{application_id}/{token}"),
            post(webhooks::create_followup),
        )
        .route(
            &p("/webhooks/{application_id}/{token}/messages/{message_id}"),
            get(webhooks::get_message)
                .patch(webhooks::edit_message)
                .delete(webhooks::delete_message),
        )
        .route(
            &p("/channels/{channel_id}"),
            get(channels::get_channel).patch(channels::update_channel),
        )
        .route(
            &p("/channels/{channel_id}/messages"),
            get(channels::list_messages).post(channels::create_message),
        )
        .route(
            &p("/channels/{channel_id}/messages/{message_id}"),
            get(channels::get_message)
                .patch(channels::edit_message)
                .delete(channels::delete_message),
        )
        .route(
            &p("/channels/{channel_id}/threads"),
            post(channels::start_thread),
        )
        .route(
            &p("/channels/{channel_id}/messages/{message_id}/threads"),
            post(channels::start_thread_from_message),
        )
        .route(
            &p("/channels/{channel_id}/thread-members/{user_id}"),
            put(channels::add_thread_member).delete(channels::remove_thread_member),
        )
        .route(&p("/channels/{channel_id}/typing"), post(channels::typing))
        .route(
            &p("/guilds/{guild_id}/members/{user_id}"),
            get(channels::get_member),
        )
        .route(&p("/guilds/{guild_id}/roles"), get(channels::get_roles))
        .route(
            &p("/guilds/{guild_id}/channels"),
            get(channels::get_guild_channels),
        )
        .route_layer(middleware::from_fn_with_state(shared.clone(), layer));
    let mut app = api
        .route("/gateway", get(crate::gateway::ws_handler))
        .route("/gateway/", get(crate::gateway::ws_handler));
    // The CDN (`url`) and media proxy (`proxy_url`) paths of attachments.
    for kind in ["attachments", "ephemeral-attachments"] {
        for prefix in ["", "/media"] {
            app = app.route(
                &format!("{prefix}/{kind}/{{channel_id}}/{{attachment_id}}/{{filename}}"),
                get(cdn),
            );
        }
    }
    // Handlers read bodies the middleware has already bounded by `MAX_BODY`.
    app.fallback(unknown_route)
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .with_state(shared)
}

/// Routes that authenticate with the interaction token in the path rather than the bot token.
fn is_token_route(route: &str) -> bool {
    route.starts_with("/webhooks/") || route.starts_with("/interactions/")
}

fn record(
    shared: &Shared,
    parts: &axum::http::request::Parts,
    route: &str,
    bytes: &Bytes,
) -> usize {
    let path = parts
        .uri
        .path_and_query()
        .map_or_else(|| parts.uri.path().to_owned(), |p| p.as_str().to_owned());
    let path = path.strip_prefix(PREFIX).unwrap_or(&path).to_owned();
    let headers = parts
        .headers
        .iter()
        .map(|(k, v)| {
            let v = if k == header::AUTHORIZATION {
                "<redacted>".to_owned()
            } else {
                String::from_utf8_lossy(v.as_bytes()).into_owned()
            };
            (k.as_str().to_owned(), v)
        })
        .collect();
    let content_type = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    let body = match content_type {
        Some(ct) if attachments::is_multipart(Some(ct)) => {
            attachments::parse_multipart(ct, bytes.clone(), u64::MAX)
                .ok()
                .and_then(|f| serde_json::from_slice(&f.json).ok())
        }
        _ => serde_json::from_slice(bytes).ok(),
    };
    let raw_body =
        (body.is_none() && !bytes.is_empty()).then(|| String::from_utf8_lossy(bytes).into_owned());
    shared.mutate(|w| {
        let index = w.requests.len();
        w.requests.push(RecordedRequest {
            index,
            method: parts.method.as_str().to_owned(),
            route: route.to_owned(),
            path,
            headers,
            body,
            raw_body,
            status: None,
        });
        index
    })
}

async fn layer(
    State(shared): State<Arc<Shared>>,
    matched: MatchedPath,
    req: Request,
    next: Next,
) -> Response {
    let route = matched
        .as_str()
        .strip_prefix(PREFIX)
        .unwrap_or(matched.as_str())
        .to_owned();
    let (parts, body) = req.into_parts();
    let (bytes, too_large) = match to_bytes(body, MAX_BODY).await {
        Ok(b) => (b, false),
        Err(_) => (Bytes::new(), true),
    };
    let index = record(&shared, &parts, &route, &bytes);
    let bucket = bucket_of(&route);

    let authorized = is_token_route(&route)
        || parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bot "))
            .is_some_and(|t| t == shared.config.bot_token);
    let mut response = if !authorized {
        ApiError::unauthorized().into_response()
    } else if too_large {
        shared.mutate(|w| {
            w.violation(
                format!("{} {}", parts.method, matched_path_display(&parts)),
                format!("the body is over {MAX_BODY} bytes"),
            );
        });
        ApiError::too_large().into_response()
    } else if let Some(f) = failures::take(&shared, &parts.method, &route) {
        if matches!(f, failures::Failure::Hang) {
            // Never answered; the future is dropped when the client goes away.
            std::future::pending::<()>().await;
        }
        failures::respond(f, &bucket)
    } else {
        let ctx = ReqCtx {
            method: parts.method.as_str().to_owned(),
            path: matched_path_display(&parts),
            content_type: parts
                .headers
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned),
        };
        let mut req = Request::from_parts(parts, Body::from(bytes));
        req.extensions_mut().insert(ctx);
        next.run(req).await
    };
    if response.status() != StatusCode::TOO_MANY_REQUESTS {
        ratelimit_headers(&shared, &bucket, response.headers_mut());
    }
    let status = response.status().as_u16();
    shared.mutate(|w| w.requests[index].status = Some(status));
    response
}

fn matched_path_display(parts: &axum::http::request::Parts) -> String {
    let p = parts.uri.path();
    p.strip_prefix(PREFIX).unwrap_or(p).to_owned()
}

/// A route the simulator does not implement: 404 plus a violation, so a test notices the gap instead
/// of the bot silently getting errors.
async fn unknown_route(State(shared): State<Arc<Shared>>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let bytes = to_bytes(body, 16 * 1024 * 1024).await.unwrap_or_default();
    let index = record(&shared, &parts, "", &bytes);
    shared.mutate(|w| {
        w.requests[index].status = Some(404);
        w.violation(
            format!("{} {}", parts.method, parts.uri.path()),
            "route not implemented by the simulator (or not a Discord route)",
        );
    });
    (
        StatusCode::NOT_FOUND,
        axum::Json(serde_json::json!({"message": "404: Not Found", "code": 0})),
    )
        .into_response()
}

/// The simulated CDN: an attachment's bytes with its content type, to anyone (Discord's CDN asks for no
/// token). The request is recorded like a REST call, so tests can see that the bot downloaded a file.
async fn cdn(
    State(shared): State<Arc<Shared>>,
    matched: MatchedPath,
    Path((channel, id, filename)): Path<(String, String, String)>,
    req: Request,
) -> Response {
    let (parts, _) = req.into_parts();
    let index = record(&shared, &parts, matched.as_str(), &Bytes::new());
    let file = shared.read(|w| {
        let id = id.parse::<u64>().ok().and_then(Id::new_checked)?;
        w.files
            .get(&id)
            .filter(|f| f.channel_id.to_string() == channel && f.filename == filename)
            .cloned()
    });
    let response = match file {
        Some(f) => {
            let ct = f
                .content_type
                .unwrap_or_else(|| "application/octet-stream".to_owned());
            ([(header::CONTENT_TYPE, ct)], f.bytes).into_response()
        }
        // What Discord's CDN answers for a file that does not exist (or no longer does).
        None => (
            StatusCode::NOT_FOUND,
            "This content is no longer available.",
        )
            .into_response(),
    };
    let status = response.status().as_u16();
    shared.mutate(|w| w.requests[index].status = Some(status));
    response
}

fn bucket_of(route: &str) -> String {
    let mut h = DefaultHasher::new();
    crate::record::normalize_template(route).hash(&mut h);
    format!("{:016x}", h.finish())
}

/// Discord's informational rate-limit headers: 50 requests per bucket per second, reported but not
/// enforced (scripted failures are how tests get 429s, deterministically).
fn ratelimit_headers(shared: &Shared, bucket: &str, headers: &mut HeaderMap) {
    const LIMIT: u32 = 50;
    const WINDOW: Duration = Duration::from_secs(1);
    let now = Instant::now();
    let (start, count) = {
        let mut map = shared.ratelimits.lock().unwrap_or_else(|e| e.into_inner());
        let entry = map.entry(bucket.to_owned()).or_insert((now, 0));
        if now.duration_since(entry.0) >= WINDOW {
            *entry = (now, 0);
        }
        entry.1 += 1;
        *entry
    };
    let reset_after = WINDOW
        .saturating_sub(now.duration_since(start))
        .as_secs_f64();
    let reset = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs_f64()
        + reset_after;
    let mut set = |k: &'static str, v: String| {
        headers.insert(k, HeaderValue::from_str(&v).expect("header value"));
    };
    set("x-ratelimit-limit", LIMIT.to_string());
    set(
        "x-ratelimit-remaining",
        LIMIT.saturating_sub(count).to_string(),
    );
    set("x-ratelimit-reset", format!("{reset:.3}"));
    set("x-ratelimit-reset-after", format!("{reset_after:.3}"));
    set("x-ratelimit-bucket", bucket.to_owned());
}
