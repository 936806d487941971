//! The runtime configuration: the configuration page (its form, checked field by field, and its
//! history), and `GET`/`PUT /api/config` and `GET /api/config/history`. The form's fields are
//! `config_form`'s.

use crate::auth::{ApiAdmin, PageAdmin, Session};
use crate::config_form::{self, SectionView};
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::render::{csrf_refused, render, store_error};
use crate::views;
use crate::{ConfigUpdateError, WebState};
use askama::Template;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Form, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use disconcierge_core::RuntimeConfig;
use disconcierge_core::model::StoredRuntimeConfig;
use disconcierge_core::runtime_config::FieldError;
use disconcierge_store::StoreError;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn routes() -> Router<WebState> {
    Router::new().route("/disconcierge/config", get(config_page).post(config_submit))
}

pub fn api_routes() -> OpenApiRouter<WebState> {
    OpenApiRouter::default()
        .routes(routes!(config_api, update_api))
        .routes(routes!(history_api))
}

// ----- History -----

/// One version of the configuration, with which settings it changed.
struct HistoryRow {
    pub version: i64,
    pub when: String,
    pub by: String,
    pub changes: String,
}

/// The latest versions with which settings each one changed.
async fn history(state: &WebState, limit: u32) -> Result<Vec<HistoryRow>, StoreError> {
    let entries = state.store().runtime_config_history(limit + 1).await?;
    Ok(entries
        .iter()
        .enumerate()
        .take(limit as usize)
        .map(|(i, e)| {
            let changes = match entries.get(i + 1) {
                None => "first version".to_string(),
                Some(older) => {
                    let (new, old) = (e.config.as_object(), older.config.as_object());
                    let mut keys: Vec<&str> = new
                        .into_iter()
                        .chain(old)
                        .flat_map(|m| m.keys().map(String::as_str))
                        .collect();
                    keys.sort_unstable();
                    keys.dedup();
                    let changed: Vec<&str> = keys
                        .into_iter()
                        .filter(|k| e.config.get(k) != older.config.get(k))
                        .collect();
                    if changed.is_empty() {
                        "no change".into()
                    } else {
                        changed.join(", ")
                    }
                }
            };
            HistoryRow {
                version: e.version,
                when: views::when(e.updated_at),
                by: e
                    .updated_by
                    .clone()
                    .unwrap_or_else(|| "disconcierge".into()),
                changes,
            }
        })
        .collect())
}

// ----- Page -----

#[derive(Template)]
#[template(path = "config.html")]
struct ConfigPage {
    csrf: String,
    admin: String,
    version: i64,
    saved_at: String,
    saved_by: Option<String>,
    sections: Vec<SectionView>,
    history: Vec<HistoryRow>,
    notice: Option<String>,
    error: Option<String>,
}

#[derive(Deserialize)]
struct ConfigQuery {
    saved: Option<i64>,
}

async fn config_view(
    state: &WebState,
    session: &Session,
    status: StatusCode,
    sections: Option<Vec<SectionView>>,
    notice: Option<String>,
    error: Option<String>,
) -> Response {
    let current = state.control().runtime_config();
    let history = match history(state, 20).await {
        Ok(h) => h,
        Err(e) => return store_error(e),
    };
    render(
        status,
        &ConfigPage {
            csrf: session.csrf.clone(),
            admin: session.admin.username.clone(),
            version: current.version,
            saved_at: views::when(current.updated_at),
            saved_by: current.updated_by.clone(),
            sections: sections.unwrap_or_else(|| config_form::view(&current.config)),
            history,
            notice,
            error,
        },
    )
}

async fn config_page(
    State(state): State<WebState>,
    PageAdmin(session): PageAdmin,
    Query(q): Query<ConfigQuery>,
) -> Response {
    let notice = q
        .saved
        .map(|v| format!("Saved as version {v}; it applies now."));
    config_view(&state, &session, StatusCode::OK, None, notice, None).await
}

async fn config_submit(
    State(state): State<WebState>,
    PageAdmin(session): PageAdmin,
    Form(mut form): Form<BTreeMap<String, String>>,
) -> Response {
    let csrf = form.remove("csrf");
    if !session.csrf_ok(csrf.as_deref()) {
        return csrf_refused();
    }
    let current = state.control().runtime_config();
    let expected = form
        .remove("expected_version")
        .and_then(|v| v.parse::<i64>().ok())
        .unwrap_or(current.version);
    let refused = |errors: Vec<FieldError>, message: String| {
        (config_form::view_submitted(&form, &errors), Some(message))
    };
    let (sections, error) = match config_form::parse(&current.config, &form) {
        Err(errors) => refused(
            errors,
            "Nothing was saved: correct the fields marked below.".into(),
        ),
        Ok(config) => {
            match state
                .control()
                .update_runtime_config(config, expected, &session.admin.username)
                .await
            {
                Ok(saved) => {
                    return Redirect::to(&format!("/disconcierge/config?saved={}", saved.version))
                        .into_response();
                }
                Err(ConfigUpdateError::Invalid(errors)) => refused(
                    errors.0,
                    "Nothing was saved: correct the fields marked below.".into(),
                ),
                Err(e @ ConfigUpdateError::Conflict { .. }) => refused(
                    Vec::new(),
                    format!("Nothing was saved: {e}. Your values are kept below."),
                ),
                Err(ConfigUpdateError::Failed(message)) => {
                    tracing::error!(%message, "could not save the runtime configuration");
                    refused(
                        Vec::new(),
                        "Nothing was saved: the database did not accept the change; try again. \
                         Your values are kept below."
                            .into(),
                    )
                }
            }
        }
    };
    config_view(
        &state,
        &session,
        StatusCode::UNPROCESSABLE_ENTITY,
        Some(sections),
        None,
        error,
    )
    .await
}

// ----- API -----

/// The runtime configuration in force, with its version.
#[derive(Serialize, ToSchema)]
#[schema(as = Configuration)]
pub(crate) struct ConfigBody {
    /// Send it back as `expected_version` to change the configuration.
    version: i64,
    updated_at: DateTime<Utc>,
    /// Who saved it (an admin, with the API token when a script did); `null` for the first one.
    updated_by: Option<String>,
    #[schema(value_type = crate::config_form::RuntimeConfigSchema)]
    config: RuntimeConfig,
}

pub(crate) fn config_body(stored: &StoredRuntimeConfig) -> ConfigBody {
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
async fn config_api(State(state): State<WebState>, ApiAdmin(_): ApiAdmin) -> Json<ConfigBody> {
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
async fn update_api(
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
            let field = config_form::static_name(key).unwrap_or("config");
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
async fn history_api(
    State(state): State<WebState>,
    ApiAdmin(_): ApiAdmin,
) -> ApiResult<Json<Vec<HistoryItem>>> {
    Ok(Json(
        history(&state, 50)
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
