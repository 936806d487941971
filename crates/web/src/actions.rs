//! The bot's operations: pause, resume, reload the configuration, register the Discord commands, clear
//! every conversation and shut down; as the dashboard's confirmed forms (`POST
//! /disconcierge/actions/{action}`) and as `POST /api/actions/…`.

use crate::auth::{ApiAdmin, PageAdmin, Session};
use crate::config::{ConfigBody, config_body};
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::render::{csrf_refused, error_page, store_error};
use crate::{ConfigUpdateError, WebState};
use axum::extract::{Form, Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::post;
use axum::{Json, Router};
use disconcierge_core::model::StoredRuntimeConfig;
use disconcierge_store::StoreError;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn routes() -> Router<WebState> {
    Router::new().route("/disconcierge/actions/{action}", post(action_submit))
}

pub fn api_routes() -> OpenApiRouter<WebState> {
    OpenApiRouter::default()
        .routes(routes!(pause_api))
        .routes(routes!(resume_api))
        .routes(routes!(reload_api))
        .routes(routes!(shutdown_api))
        .routes(routes!(register_api))
        .routes(routes!(clear_conversations_api))
}

// ----- Operations and the page's forms -----

/// Pauses or resumes the bot (the runtime configuration's `paused`, applied at once on every instance).
async fn set_paused(
    state: &WebState,
    paused: bool,
    by: &str,
) -> Result<Arc<StoredRuntimeConfig>, ConfigUpdateError> {
    // Retried once: an unrelated change saved in between only moves the version.
    let mut attempt = 0;
    loop {
        let current = state.control().runtime_config();
        let mut config = current.config.clone();
        config.paused = paused;
        match state
            .control()
            .update_runtime_config(config, current.version, by)
            .await
        {
            Err(ConfigUpdateError::Conflict { .. }) if attempt == 0 => attempt += 1,
            other => return other,
        }
    }
}

#[derive(Deserialize)]
struct ActionForm {
    csrf: Option<String>,
    confirm: Option<String>,
}

/// Every user's next `/chat` starts a new conversation; how many users.
async fn clear_conversations(state: &WebState, by: &str) -> Result<u64, StoreError> {
    let users = state
        .store()
        .clear_all_conversations(chrono::Utc::now())
        .await?;
    tracing::info!(by, users, "every conversation cleared (admin action)");
    Ok(users)
}

/// What the admin who asked for a shutdown is told: which instance stops (the others, if any, keep
/// running and take its work over).
fn shutdown_message(instance: &str) -> String {
    let who = if instance.is_empty() {
        "disconcierge".to_string()
    } else {
        format!("Instance {instance}")
    };
    format!(
        "{who} is stopping: answers being written finish first, and questions still \
         queued wait in the database for the next start or for the other instances sharing it. \
         Start it again with your service manager (or `disconcierge run`)."
    )
}

async fn action_submit(
    State(state): State<WebState>,
    PageAdmin(session): PageAdmin,
    Path(action): Path<String>,
    Form(form): Form<ActionForm>,
) -> Response {
    if !session.csrf_ok(form.csrf.as_deref()) {
        return csrf_refused();
    }
    let paused = match action.as_str() {
        "pause" => Some(true),
        "resume" => Some(false),
        "reload" | "shutdown" | "register" | "clear-conversations" => None,
        _ => {
            return error_page(
                StatusCode::NOT_FOUND,
                "No such action",
                "The actions are pause, resume, reload, register, clear-conversations and shutdown.",
            );
        }
    };
    if form.confirm.as_deref() != Some("yes") {
        return error_page(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Not confirmed",
            "Tick \"confirm\" next to the button to do this.",
        );
    }
    if action == "register" {
        return match state.control().register_commands(&session.actor()).await {
            Ok(_) => Redirect::to("/disconcierge?done=register").into_response(),
            Err(message) => error_page(StatusCode::SERVICE_UNAVAILABLE, "Not registered", &message),
        };
    }
    if action == "clear-conversations" {
        return match clear_conversations(&state, &session.actor()).await {
            Ok(_) => Redirect::to("/disconcierge?done=clear-conversations").into_response(),
            Err(e) => store_error(e),
        };
    }
    if action == "shutdown" {
        state.control().shutdown(&session.actor());
        let message = shutdown_message(&state.control().instance_id());
        return error_page(StatusCode::ACCEPTED, "Shutting down", &message);
    }
    let Some(paused) = paused else {
        state.store().clear_caches();
        return match state.control().reload_runtime_config().await {
            Ok(true) => Redirect::to("/disconcierge?done=reload").into_response(),
            Ok(false) => Redirect::to("/disconcierge?done=reload-unchanged").into_response(),
            Err(e) => {
                tracing::error!(error = %e, "could not reload the configuration");
                error_page(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "Not done",
                    "The database did not answer; the configuration in force is unchanged. Try again.",
                )
            }
        };
    };
    match set_paused(&state, paused, &session.admin.username).await {
        Ok(_) => Redirect::to(&format!("/disconcierge?done={action}")).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "could not pause or resume");
            error_page(
                StatusCode::SERVICE_UNAVAILABLE,
                "Not done",
                &format!("The change could not be saved: {e}. Try again."),
            )
        }
    }
}

// ----- API -----

/// Pause the bot.
///
/// Only priority users are answered; the others get the paused message, and what they queued before
/// waits. Saved in the configuration.
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
async fn pause_api(
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
async fn resume_api(
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
async fn reload_api(
    State(state): State<WebState>,
    ApiAdmin(_): ApiAdmin,
) -> ApiResult<Json<Reloaded>> {
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
async fn register_api(
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
async fn clear_conversations_api(
    State(state): State<WebState>,
    ApiAdmin(session): ApiAdmin,
) -> ApiResult<Json<Cleared>> {
    let users = clear_conversations(&state, &session.actor()).await?;
    Ok(Json(Cleared { users }))
}

/// The application is stopping.
#[derive(Serialize, ToSchema)]
struct Stopping {
    /// The instance that stops (`DC_INSTANCE_ID`); others sharing the database keep running.
    instance: String,
    message: String,
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
async fn shutdown_api(
    State(state): State<WebState>,
    ApiAdmin(session): ApiAdmin,
) -> (StatusCode, Json<Stopping>) {
    state.control().shutdown(&session.actor());
    let instance = state.control().instance_id();
    (
        StatusCode::ACCEPTED,
        Json(Stopping {
            message: shutdown_message(&instance),
            instance,
        }),
    )
}

async fn set_paused_api(
    state: &WebState,
    session: &Session,
    paused: bool,
) -> ApiResult<Json<ConfigBody>> {
    match set_paused(state, paused, &session.actor()).await {
        Ok(saved) => Ok(Json(config_body(&saved))),
        Err(e) => Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "not_saved",
            format!("the change could not be saved: {e}; try again"),
        )),
    }
}
