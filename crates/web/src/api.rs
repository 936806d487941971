//! The JSON API under `/api`: what the pages show and do, for scripts.
//!
//! Authentication is the session cookie (sign in with `POST /api/login`); requests that change something
//! must also send the session's CSRF token as `X-CSRF-Token` (returned by the login and by `GET /api/me`).
//! Every error has the same body: `{"error": code, "message": what to do, "fields": [{field, message}]}`.
//! Lists are newest first and keyset-paginated: pass `next_before` back as `before`.
//!
//! Every API route is registered through `utoipa_axum`'s `routes!` with its `#[utoipa::path]`
//! annotation, which makes it part of the OpenAPI document at `GET /api/openapi.json` (see
//! the `openapi` module).

use crate::auth::{self, ApiAdmin, AuthError, LoginError};
use crate::pages::{self, ClientIp, ListQuery};
use crate::views::{CommandView, FeedbackView, LlmCallView};
use crate::{ConfigUpdateError, WebState};
use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use disconcierge_core::RuntimeConfig;
use disconcierge_core::runtime_config::FieldError;
use disconcierge_store::StoreError;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn routes() -> OpenApiRouter<WebState> {
    OpenApiRouter::default()
        .routes(routes!(login))
        .routes(routes!(logout))
        .routes(routes!(me))
        .routes(routes!(list_commands))
        .routes(routes!(command))
        .routes(routes!(config, update_config))
        .routes(routes!(config_history))
        .routes(routes!(pause))
        .routes(routes!(resume))
        .routes(routes!(reload))
        .routes(routes!(shutdown))
        .routes(routes!(register_commands))
        .routes(routes!(clear_conversations))
        .routes(routes!(status))
}

/// The body of every error answer.
#[derive(Serialize, ToSchema)]
#[schema(as = Error)]
pub(crate) struct ErrorBody {
    /// What went wrong, for programs: `unauthenticated`, `bad_token`, `csrf`, `session_required`,
    /// `bad_request`, `invalid`, `not_found`, `conflict`, `database`, …
    error: &'static str,
    /// What went wrong and what to do about it, for people.
    message: String,
    /// The fields in error (for `invalid`); empty otherwise.
    fields: Vec<FieldErrorBody>,
}

/// One field in error: its name (a body field, a query parameter or a setting) and what is wrong with it.
#[derive(Serialize, ToSchema)]
#[schema(as = FieldError)]
struct FieldErrorBody {
    field: &'static str,
    message: String,
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
            Json(ErrorBody {
                error: self.code,
                message: self.message,
                fields: self
                    .fields
                    .into_iter()
                    .map(|f| FieldErrorBody {
                        field: f.field,
                        message: f.message,
                    })
                    .collect(),
            }),
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

#[derive(Deserialize, ToSchema)]
#[schema(as = Credentials)]
struct LoginBody {
    username: String,
    password: String,
}

/// The signed-in admin.
#[derive(Serialize, ToSchema)]
struct Me {
    username: String,
    /// Send it as `X-CSRF-Token` with every change made with the session cookie.
    csrf_token: String,
}

/// Sign in.
///
/// Checks the credentials, opens a session and sets its `dc_session` cookie. Failed sign-ins are
/// throttled per client address and per account: after repeated failures the account is locked for a
/// while (429, with `Retry-After`).
#[utoipa::path(
    post,
    path = "/api/login",
    operation_id = "login",
    tag = "session",
    request_body = LoginBody,
    responses(
        (status = 200, description = "Signed in: the session cookie is set.", body = Me,
            headers(("Set-Cookie" = String, description = "The session cookie, `dc_session`."))),
        (status = 400, description = "`bad_request`: the body is not the expected JSON.", body = ErrorBody),
        (status = 401, description = "`invalid_credentials`: wrong username or password.", body = ErrorBody),
        (status = 429, description = "`locked`: too many failed sign-ins; the message says when to try again.",
            body = ErrorBody,
            headers(("Retry-After" = u64, description = "Seconds until the next try."))),
        (status = 503, description = "`database`: the database did not answer.", body = ErrorBody),
    ),
)]
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

/// Sign out.
///
/// Ends the session and removes its cookie.
#[utoipa::path(
    post,
    path = "/api/logout",
    operation_id = "logout",
    tag = "session",
    responses(
        (status = 204, description = "Signed out: the cookie is removed.",
            headers(("Set-Cookie" = String, description = "Removes the session cookie."))),
    ),
    security(("session" = [])),
)]
async fn logout(State(state): State<WebState>, ApiAdmin(session): ApiAdmin) -> ApiResult<Response> {
    session.require_browser()?;
    auth::logout(&state, &session).await?;
    Ok((
        StatusCode::NO_CONTENT,
        [(header::SET_COOKIE, auth::logout_cookie(&state))],
    )
        .into_response())
}

/// The signed-in admin, with the session's CSRF token.
#[utoipa::path(
    get,
    path = "/api/me",
    operation_id = "me",
    tag = "session",
    responses(
        (status = 200, description = "Who is signed in.", body = Me),
    ),
    security(("session" = []), ("bearer" = [])),
)]
async fn me(ApiAdmin(session): ApiAdmin) -> Json<Me> {
    Json(Me {
        username: session.admin.username,
        csrf_token: session.csrf,
    })
}

// ----- Chat commands -----

/// The `limit` query parameter of every list.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)] // describes the parameter only: `ListParams` reads it
pub(crate) struct Limit {
    /// Items per page, 1 to 200 (50 by default).
    #[param(minimum = 1, maximum = 200)]
    limit: Option<u32>,
}

#[derive(Deserialize)]
struct ListParams {
    #[serde(flatten)]
    filter: ListQuery,
    limit: Option<String>,
}

/// One page of a list, newest first.
#[derive(Serialize, ToSchema)]
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

/// The `/chat` and `/private` commands, newest first.
#[utoipa::path(
    get,
    path = "/api/chat_commands",
    operation_id = "list_chat_commands",
    tag = "chat commands",
    params(pages::ListQuery, Limit),
    responses(
        (status = 200, description = "A page of chat commands.", body = Page<CommandView>),
        (status = 400, description = "`bad_request`: a filter or `limit` is not valid (the message says which).",
            body = ErrorBody),
    ),
    security(("session" = []), ("bearer" = [])),
)]
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

/// A chat command with the LLM calls made to answer it and the feedback given on the answer.
#[derive(Serialize, ToSchema)]
#[schema(as = ChatCommandDetail)]
struct CommandDetail {
    command: CommandView,
    llm_calls: Vec<LlmCallView>,
    feedback: Vec<FeedbackView>,
}

/// One chat command, with its LLM calls and feedback.
#[utoipa::path(
    get,
    path = "/api/chat_commands/{id}",
    operation_id = "get_chat_command",
    tag = "chat commands",
    params(("id" = i64, Path, description = "The chat command's id.")),
    responses(
        (status = 200, description = "The chat command.", body = CommandDetail),
        (status = 404, description = "`not_found`: there is no such chat command.", body = ErrorBody),
    ),
    security(("session" = []), ("bearer" = [])),
)]
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

/// The runtime configuration in force, with its version.
#[derive(Serialize, ToSchema)]
#[schema(as = Configuration)]
struct ConfigBody {
    /// Send it back as `expected_version` to change the configuration.
    version: i64,
    updated_at: DateTime<Utc>,
    /// Who saved it (an admin, with the API token when a script did); `null` for the first one.
    updated_by: Option<String>,
    #[schema(value_type = crate::config_form::RuntimeConfigSchema)]
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

/// The runtime configuration in force.
#[utoipa::path(
    get,
    path = "/api/config",
    operation_id = "get_config",
    tag = "configuration",
    responses(
        (status = 200, description = "The configuration in force.", body = ConfigBody),
    ),
    security(("session" = []), ("bearer" = [])),
)]
async fn config(State(state): State<WebState>, ApiAdmin(_): ApiAdmin) -> Json<ConfigBody> {
    Json(config_body(&state.control().runtime_config()))
}

/// A change of the runtime configuration.
#[derive(Deserialize, ToSchema)]
#[schema(as = ConfigurationChange)]
struct ConfigUpdate {
    /// The version the change was made against (from `GET /api/config`): the save is refused with 409 if
    /// someone saved in between.
    expected_version: i64,
    /// The settings to change; settings left out keep their current value.
    #[schema(value_type = crate::config_form::RuntimeConfigChanges)]
    config: serde_json::Map<String, Value>,
}

/// Change the runtime configuration.
///
/// The settings sent are laid over the configuration in force, checked, saved and applied at once. The
/// change is refused with 409 if someone saved since `expected_version`.
#[utoipa::path(
    put,
    path = "/api/config",
    operation_id = "update_config",
    tag = "configuration",
    request_body = ConfigUpdate,
    responses(
        (status = 200, description = "Saved and applied: the new configuration.", body = ConfigBody),
        (status = 400, description = "`bad_request`: the body is not the expected JSON.", body = ErrorBody),
        (status = 409, description = "`conflict`: the configuration was changed by someone else since \
            `expected_version`; reload it, re-apply the change and save again.", body = ErrorBody),
        (status = 422, description = "`invalid`: unknown settings, or values of the wrong type or out of \
            range; `fields` names each (nothing was saved).", body = ErrorBody),
        (status = 500, description = "`internal`: the configuration in force could not be read.", body = ErrorBody),
        (status = 503, description = "`database`: the change could not be saved.", body = ErrorBody),
    ),
    security(("session" = []), ("bearer" = [])),
)]
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

/// One saved version of the configuration.
#[derive(Serialize, ToSchema)]
#[schema(as = ConfigurationVersion)]
struct HistoryItem {
    version: i64,
    /// When, as text (`2026-11-28 14:03:07 UTC`).
    updated_at: String,
    updated_by: String,
    /// What changed from the version before, in words.
    changed: String,
}

/// The configuration's last 50 versions, newest first.
#[utoipa::path(
    get,
    path = "/api/config/history",
    operation_id = "config_history",
    tag = "configuration",
    responses(
        (status = 200, description = "The versions, newest first.", body = Vec<HistoryItem>),
    ),
    security(("session" = []), ("bearer" = [])),
)]
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

/// Pause the bot.
///
/// The queue holds; users other than priority ones get the paused message. Saved in the configuration.
#[utoipa::path(
    post,
    path = "/api/actions/pause",
    operation_id = "pause",
    tag = "operations",
    responses(
        (status = 200, description = "Paused: the new configuration.", body = ConfigBody),
        (status = 503, description = "`not_saved`: the change could not be saved.", body = ErrorBody),
    ),
    security(("session" = []), ("bearer" = [])),
)]
async fn pause(
    State(state): State<WebState>,
    ApiAdmin(session): ApiAdmin,
) -> ApiResult<Json<ConfigBody>> {
    set_paused_api(&state, &session, true).await
}

/// Resume the bot after a pause.
#[utoipa::path(
    post,
    path = "/api/actions/resume",
    operation_id = "resume",
    tag = "operations",
    responses(
        (status = 200, description = "Resumed: the new configuration.", body = ConfigBody),
        (status = 503, description = "`not_saved`: the change could not be saved.", body = ErrorBody),
    ),
    security(("session" = []), ("bearer" = [])),
)]
async fn resume(
    State(state): State<WebState>,
    ApiAdmin(session): ApiAdmin,
) -> ApiResult<Json<ConfigBody>> {
    set_paused_api(&state, &session, false).await
}

/// What a reload did.
#[derive(Serialize, ToSchema)]
struct Reloaded {
    /// Whether a newer configuration was found and applied.
    changed: bool,
    /// The version in force now.
    version: i64,
}

/// Reload the configuration from the database.
///
/// Applies a configuration saved there by another instance or by hand, if it is newer than the one in
/// force.
#[utoipa::path(
    post,
    path = "/api/actions/reload",
    operation_id = "reload",
    tag = "operations",
    responses(
        (status = 200, description = "Reloaded.", body = Reloaded),
        (status = 503, description = "`database`: the database did not answer; the configuration in force \
            is unchanged.", body = ErrorBody),
    ),
    security(("session" = []), ("bearer" = [])),
)]
async fn reload(State(state): State<WebState>, ApiAdmin(_): ApiAdmin) -> ApiResult<Json<Reloaded>> {
    state.store().clear_caches();
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

/// What was done, in words.
#[derive(Serialize, ToSchema)]
#[schema(as = ActionDone)]
struct Done {
    message: String,
}

/// Register the Discord commands again, even if Discord's copy looks the same.
#[utoipa::path(
    post,
    path = "/api/actions/register_commands",
    operation_id = "register_commands",
    tag = "operations",
    responses(
        (status = 200, description = "Registered.", body = Done),
        (status = 503, description = "`discord_unavailable`: Discord is not connected in this process, or \
            refused.", body = ErrorBody),
    ),
    security(("session" = []), ("bearer" = [])),
)]
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

/// What clearing the conversations did.
#[derive(Serialize, ToSchema)]
struct Cleared {
    /// Users whose next `/chat` starts a new conversation.
    users: u64,
}

/// Clear every conversation.
///
/// Every user's next `/chat` starts a new conversation.
#[utoipa::path(
    post,
    path = "/api/actions/clear_conversations",
    operation_id = "clear_conversations",
    tag = "operations",
    responses(
        (status = 200, description = "Cleared.", body = Cleared),
    ),
    security(("session" = []), ("bearer" = [])),
)]
async fn clear_conversations(
    State(state): State<WebState>,
    ApiAdmin(session): ApiAdmin,
) -> ApiResult<Json<Cleared>> {
    let users = pages::clear_conversations(&state, &session.actor()).await?;
    Ok(Json(Cleared { users }))
}

/// The bot's state and what it depends on.
#[derive(Serialize, ToSchema)]
struct Status {
    paused: bool,
    /// Commands waiting or being answered.
    queue_depth: u64,
    config_version: i64,
    database: crate::Health,
    #[serde(flatten)]
    services: crate::ServiceStatus,
}

/// The bot's status: paused or not, the queue, and the state of the database, the Discord gateway,
/// the webhook and the LLM backend.
///
/// Never waits for Discord or the LLM: their state is as last seen.
#[utoipa::path(
    get,
    path = "/api/status",
    operation_id = "status",
    tag = "operations",
    responses(
        (status = 200, description = "The status.", body = Status),
    ),
    security(("session" = []), ("bearer" = [])),
)]
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

/// The application is stopping.
#[derive(Serialize, ToSchema)]
struct Stopping {
    message: &'static str,
}

/// Shut the application down gracefully, as on SIGTERM.
///
/// Requests in flight and answers being written finish within the shutdown timeout; what is queued waits
/// in the database for the next start.
#[utoipa::path(
    post,
    path = "/api/actions/shutdown",
    operation_id = "shutdown",
    tag = "operations",
    responses(
        (status = 202, description = "Stopping.", body = Stopping),
    ),
    security(("session" = []), ("bearer" = [])),
)]
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
