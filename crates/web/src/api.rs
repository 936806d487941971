//! The JSON API under `/api`: what the pages show and do, for scripts.
//!
//! Authentication is the session cookie (sign in with `POST /api/login`); requests that change something
//! must also send the session's CSRF token as `X-CSRF-Token` (returned by the login and by `GET /api/me`).
//! Every error has the same body: `{"error": code, "message": what to do, "fields": [{field, message}]}`.
//! Lists are newest first and keyset-paginated: pass `next_before` back as `before`.

use crate::auth::{self, ApiAdmin, AuthError, LoginError};
use crate::pages::{self, ClientIp, ListQuery};
use crate::views::{CommandView, FeedbackView, LlmCallView};
use crate::{ConfigUpdateError, WebState};
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use disconcierge_core::RuntimeConfig;
use disconcierge_core::runtime_config::FieldError;
use disconcierge_store::StoreError;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

pub fn routes() -> Router<WebState> {
    Router::new()
        .route("/api/login", post(login))
        .route("/api/logout", post(logout))
        .route("/api/me", get(me))
        .route("/api/chat_commands", get(list_commands))
        .route("/api/chat_commands/{id}", get(command))
        .route("/api/config", get(config).put(update_config))
        .route("/api/config/history", get(config_history))
        .route("/api/actions/pause", post(pause))
        .route("/api/actions/resume", post(resume))
        .route("/api/actions/reload", post(reload))
        .route("/api/actions/shutdown", post(shutdown))
        .route("/api/actions/register_commands", post(register_commands))
        .route(
            "/api/actions/clear_conversations",
            post(clear_conversations),
        )
        .route("/api/status", get(status))
}

/// An API error: a status and the common error body.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub fields: Vec<FieldError>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
            fields: Vec::new(),
        }
    }

    pub(crate) fn invalid(fields: Vec<FieldError>) -> Self {
        ApiError {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            code: "invalid",
            message: "nothing was saved: correct the fields listed in `fields`".into(),
            fields,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (
            self.status,
            Json(json!({
                "error": self.code,
                "message": self.message,
                "fields": self.fields,
            })),
        )
            .into_response()
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        tracing::error!(error = %e, "API: database error");
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "database",
            "the database did not answer as expected; try again in a moment",
        )
    }
}

impl From<AuthError> for ApiError {
    fn from(e: AuthError) -> Self {
        match e {
            AuthError::Unauthenticated => {
                ApiError::new(StatusCode::UNAUTHORIZED, "unauthenticated", e.to_string())
            }
            AuthError::Csrf => ApiError::new(StatusCode::FORBIDDEN, "csrf", e.to_string()),
            AuthError::BadToken => {
                ApiError::new(StatusCode::UNAUTHORIZED, "bad_token", e.to_string())
            }
            AuthError::SessionRequired => {
                ApiError::new(StatusCode::FORBIDDEN, "session_required", e.to_string())
            }
            AuthError::Store(s) => s.into(),
        }
    }
}

impl From<JsonRejection> for ApiError {
    fn from(e: JsonRejection) -> Self {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "bad_request",
            format!(
                "the request body is not the expected JSON: {}",
                e.body_text()
            ),
        )
    }
}

type ApiResult<T> = Result<T, ApiError>;

// ----- Session -----

#[derive(Deserialize)]
struct LoginBody {
    username: String,
    password: String,
}

#[derive(Serialize)]
struct Me {
    username: String,
    csrf_token: String,
}

async fn login(
    State(state): State<WebState>,
    ClientIp(ip): ClientIp,
    body: Result<Json<LoginBody>, JsonRejection>,
) -> ApiResult<Response> {
    let Json(body) = body?;
    match auth::login(&state, ip, &body.username, &body.password).await {
        Ok((token, admin)) => Ok((
            [(header::SET_COOKIE, auth::login_cookie(&state, &token))],
            Json(Me {
                username: admin.username,
                csrf_token: auth::csrf_token(&token),
            }),
        )
            .into_response()),
        Err(e @ LoginError::Invalid) => Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "invalid_credentials",
            e.to_string(),
        )),
        Err(e @ LoginError::Locked(wait)) => {
            let mut response =
                ApiError::new(StatusCode::TOO_MANY_REQUESTS, "locked", e.to_string())
                    .into_response();
            response.headers_mut().insert(
                header::RETRY_AFTER,
                header::HeaderValue::from(wait.as_millis().div_ceil(1000).max(1) as u64),
            );
            Ok(response)
        }
        Err(LoginError::Store(e)) => Err(e.into()),
    }
}

async fn logout(State(state): State<WebState>, ApiAdmin(session): ApiAdmin) -> ApiResult<Response> {
    session.require_browser()?;
    auth::logout(&state, &session).await?;
    Ok((
        StatusCode::NO_CONTENT,
        [(header::SET_COOKIE, auth::logout_cookie(&state))],
    )
        .into_response())
}

async fn me(ApiAdmin(session): ApiAdmin) -> Json<Me> {
    Json(Me {
        username: session.admin.username,
        csrf_token: session.csrf,
    })
}

// ----- Chat commands -----

#[derive(Deserialize)]
struct ListParams {
    #[serde(flatten)]
    filter: ListQuery,
    limit: Option<String>,
}

#[derive(Serialize)]
pub(crate) struct Page<T> {
    pub items: Vec<T>,
    /// Pass as `before` to get the next page; `null` on the last page.
    pub next_before: Option<i64>,
}

/// A list request answered as JSON: the filter (or the message saying which value is wrong), the page
/// size asked for, the store's query and how each row is shown.
pub(crate) async fn list_json<F, R, V, Fut>(
    filter: Result<F, String>,
    limit: Option<&str>,
    fetch: impl FnOnce(F, u32) -> Fut,
    id: impl Fn(&R) -> i64,
    view: impl Fn(&R) -> V,
) -> Result<Json<Page<V>>, ApiError>
where
    Fut: Future<Output = Result<Vec<R>, disconcierge_store::StoreError>>,
{
    let limit = page_limit(limit, pages::PAGE_SIZE)?;
    let filter = filter.map_err(|m| ApiError::new(StatusCode::BAD_REQUEST, "bad_request", m))?;
    let page = keyset_page(fetch(filter, limit + 1).await?, limit, id);
    Ok(Json(Page {
        items: page.items.iter().map(view).collect(),
        next_before: page.next_before,
    }))
}

/// One page of a keyset-paginated list from `rows`, fetched with a limit of `limit + 1` (the extra row
/// only tells whether there is a next page): the first `limit` rows and the cursor of the next page.
pub(crate) fn keyset_page<T>(mut rows: Vec<T>, limit: u32, id: impl Fn(&T) -> i64) -> Page<T> {
    let more = rows.len() > limit as usize;
    rows.truncate(limit as usize);
    let next_before = if more { rows.last().map(id) } else { None };
    Page {
        items: rows,
        next_before,
    }
}

const MAX_LIMIT: u32 = 200;

/// The `limit` of a list request: `default` when absent, else 1 to [`MAX_LIMIT`].
pub(crate) fn page_limit(raw: Option<&str>, default: u32) -> Result<u32, ApiError> {
    match raw.map(str::trim) {
        None | Some("") => Ok(default),
        Some(l) => l
            .parse::<u32>()
            .ok()
            .filter(|l| (1..=MAX_LIMIT).contains(l))
            .ok_or_else(|| {
                ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "bad_request",
                    format!("limit must be 1 to {MAX_LIMIT}, got {l:?}"),
                )
            }),
    }
}

async fn list_commands(
    State(state): State<WebState>,
    ApiAdmin(_): ApiAdmin,
    Query(params): Query<ListParams>,
) -> ApiResult<Json<Page<CommandView>>> {
    let bad = |message: String| ApiError::new(StatusCode::BAD_REQUEST, "bad_request", message);
    let filter = params.filter.filter().map_err(bad)?;
    let limit = page_limit(params.limit.as_deref(), pages::PAGE_SIZE)?;
    let items = pages::latest_commands(&state, &filter, limit + 1).await?;
    Ok(Json(keyset_page(items, limit, |c| c.id)))
}

#[derive(Serialize)]
struct CommandDetail {
    command: CommandView,
    llm_calls: Vec<LlmCallView>,
    feedback: Vec<FeedbackView>,
}

async fn command(
    State(state): State<WebState>,
    ApiAdmin(_): ApiAdmin,
    Path(id): Path<String>,
) -> ApiResult<Json<CommandDetail>> {
    let not_found = || {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("there is no chat command {id:?}"),
        )
    };
    let id_num = id.parse::<i64>().map_err(|_| not_found())?;
    let (command, llm_calls, feedback) = pages::command_detail(&state, id_num)
        .await?
        .ok_or_else(not_found)?;
    Ok(Json(CommandDetail {
        command,
        llm_calls,
        feedback,
    }))
}

// ----- Configuration -----

#[derive(Serialize)]
struct ConfigBody {
    version: i64,
    updated_at: DateTime<Utc>,
    updated_by: Option<String>,
    config: RuntimeConfig,
}

fn config_body(stored: &disconcierge_core::model::StoredRuntimeConfig) -> ConfigBody {
    ConfigBody {
        version: stored.version,
        updated_at: stored.updated_at,
        updated_by: stored.updated_by.clone(),
        config: stored.config.clone(),
    }
}

async fn config(State(state): State<WebState>, ApiAdmin(_): ApiAdmin) -> Json<ConfigBody> {
    Json(config_body(&state.control().runtime_config()))
}

#[derive(Deserialize)]
struct ConfigUpdate {
    /// The version the change was made against (from `GET /api/config`): the save is refused with 409 if
    /// someone saved in between.
    expected_version: i64,
    /// The settings to change; settings left out keep their current value.
    config: serde_json::Map<String, Value>,
}

async fn update_config(
    State(state): State<WebState>,
    ApiAdmin(session): ApiAdmin,
    body: Result<Json<ConfigUpdate>, JsonRejection>,
) -> ApiResult<Json<ConfigBody>> {
    let Json(update) = body?;
    let current = state.control().runtime_config();
    let Ok(Value::Object(mut merged)) = serde_json::to_value(&current.config) else {
        return Err(ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "the current configuration could not be read",
        ));
    };
    let known: Vec<String> = merged.keys().cloned().collect();
    let mut unknown = Vec::new();
    for (key, value) in update.config {
        if known.contains(&key) {
            merged.insert(key, value);
        } else {
            unknown.push(key);
        }
    }
    if !unknown.is_empty() {
        return Err(ApiError::invalid(
            unknown
                .into_iter()
                .map(|k| FieldError {
                    field: "config",
                    message: format!("unknown setting {k:?}"),
                })
                .collect(),
        ));
    }
    // Decode field by field so that a wrong type is reported against its setting.
    let mut errors = Vec::new();
    let defaults = serde_json::to_value(RuntimeConfig::default()).unwrap_or(Value::Null);
    for (key, value) in &merged {
        let mut probe = defaults.clone();
        probe[key.as_str()] = value.clone();
        if let Err(e) = serde_json::from_value::<RuntimeConfig>(probe) {
            let field = crate::config_form::static_name(key).unwrap_or("config");
            errors.push(FieldError {
                field,
                message: format!("has the wrong type: {e}"),
            });
        }
    }
    if !errors.is_empty() {
        return Err(ApiError::invalid(errors));
    }
    let config: RuntimeConfig = serde_json::from_value(Value::Object(merged)).map_err(|e| {
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid",
            format!("the settings could not be read: {e}"),
        )
    })?;
    match state
        .control()
        .update_runtime_config(config, update.expected_version, &session.actor())
        .await
    {
        Ok(saved) => Ok(Json(config_body(&saved))),
        Err(ConfigUpdateError::Invalid(errors)) => Err(ApiError::invalid(errors.0)),
        Err(e @ ConfigUpdateError::Conflict { .. }) => Err(ApiError::new(
            StatusCode::CONFLICT,
            "conflict",
            e.to_string(),
        )),
        Err(ConfigUpdateError::Failed(message)) => {
            tracing::error!(%message, "could not save the runtime configuration");
            Err(ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "database",
                "the change could not be saved; try again in a moment",
            ))
        }
    }
}

#[derive(Serialize)]
struct HistoryItem {
    version: i64,
    updated_at: String,
    updated_by: String,
    changed: String,
}

async fn config_history(
    State(state): State<WebState>,
    ApiAdmin(_): ApiAdmin,
) -> ApiResult<Json<Vec<HistoryItem>>> {
    Ok(Json(
        pages::history(&state, 50)
            .await?
            .into_iter()
            .map(|h| HistoryItem {
                version: h.version,
                updated_at: h.when,
                updated_by: h.by,
                changed: h.changes,
            })
            .collect(),
    ))
}

// ----- Actions -----

async fn pause(
    State(state): State<WebState>,
    ApiAdmin(session): ApiAdmin,
) -> ApiResult<Json<ConfigBody>> {
    set_paused_api(&state, &session, true).await
}

async fn resume(
    State(state): State<WebState>,
    ApiAdmin(session): ApiAdmin,
) -> ApiResult<Json<ConfigBody>> {
    set_paused_api(&state, &session, false).await
}

#[derive(Serialize)]
struct Reloaded {
    /// Whether a newer configuration was found and applied.
    changed: bool,
    /// The version in force now.
    version: i64,
}

async fn reload(State(state): State<WebState>, ApiAdmin(_): ApiAdmin) -> ApiResult<Json<Reloaded>> {
    match state.control().reload_runtime_config().await {
        Ok(changed) => Ok(Json(Reloaded {
            changed,
            version: state.control().runtime_config().version,
        })),
        Err(e) => {
            tracing::error!(error = %e, "could not reload the configuration");
            Err(ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "database",
                "the database did not answer; the configuration in force is unchanged; try again",
            ))
        }
    }
}

#[derive(Serialize)]
struct Done {
    message: String,
}

async fn register_commands(
    State(state): State<WebState>,
    ApiAdmin(session): ApiAdmin,
) -> ApiResult<Json<Done>> {
    match state.control().register_commands(&session.actor()).await {
        Ok(message) => Ok(Json(Done { message })),
        Err(message) => Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "discord_unavailable",
            message,
        )),
    }
}

#[derive(Serialize)]
struct Cleared {
    /// Users whose next `/chat` starts a new conversation.
    users: u64,
}

async fn clear_conversations(
    State(state): State<WebState>,
    ApiAdmin(session): ApiAdmin,
) -> ApiResult<Json<Cleared>> {
    let users = pages::clear_conversations(&state, &session.actor()).await?;
    Ok(Json(Cleared { users }))
}

#[derive(Serialize)]
struct Status {
    paused: bool,
    /// Commands waiting or being answered.
    queue_depth: u64,
    config_version: i64,
    database: crate::Health,
    #[serde(flatten)]
    services: crate::ServiceStatus,
}

async fn status(State(state): State<WebState>, ApiAdmin(_): ApiAdmin) -> ApiResult<Json<Status>> {
    let config = state.control().runtime_config();
    Ok(Json(Status {
        paused: config.config.paused,
        queue_depth: state.store().queued_count().await?,
        config_version: config.version,
        database: pages::database_health(&state).await,
        services: state.control().service_status(),
    }))
}

#[derive(Serialize)]
struct Stopping {
    message: &'static str,
}

async fn shutdown(
    State(state): State<WebState>,
    ApiAdmin(session): ApiAdmin,
) -> (StatusCode, Json<Stopping>) {
    state.control().shutdown(&session.actor());
    (
        StatusCode::ACCEPTED,
        Json(Stopping {
            message: pages::SHUTDOWN_MESSAGE,
        }),
    )
}

async fn set_paused_api(
    state: &WebState,
    session: &auth::Session,
    paused: bool,
) -> ApiResult<Json<ConfigBody>> {
    match pages::set_paused(state, paused, &session.actor()).await {
        Ok(saved) => Ok(Json(config_body(&saved))),
        Err(e) => Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "not_saved",
            format!("the change could not be saved: {e}; try again"),
        )),
    }
}
