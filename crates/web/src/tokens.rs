//! API tokens: bearer tokens for scripts, created and revoked by admins, as a page and as API calls.
//!
//! A token is shown once, when created; the database keeps its SHA-256 and its first characters (to
//! recognise it in the list). Managing tokens needs a browser session: a token cannot list, create or
//! revoke tokens, so a leaked one cannot make more of itself.

use crate::WebState;
use crate::auth::{self, ApiAdmin, PageAdmin, Session};
use crate::error::{ApiError, ErrorBody};
use crate::render::{csrf_refused, render, store_error};
use crate::views::{self, capitalize};
use askama::Template;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Form, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{DateTime, TimeDelta, Utc};
use disconcierge_core::model::ApiToken;
use disconcierge_store::StoreError;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn routes() -> Router<WebState> {
    Router::new()
        .route("/disconcierge/tokens", get(tokens_page).post(create_page))
        .route("/disconcierge/tokens/{id}/delete", post(revoke_page))
}

pub fn api_routes() -> OpenApiRouter<WebState> {
    OpenApiRouter::default()
        .routes(routes!(list_api, create_api))
        .routes(routes!(revoke_api))
}

/// Longest name accepted, in characters.
const MAX_NAME: usize = 100;
/// Longest lifetime accepted, in days (ten years).
const MAX_DAYS: u32 = 3650;
/// Characters of a token kept to recognise it: the prefix and 8 of its random characters.
const SHOWN: usize = auth::API_TOKEN_PREFIX.len() + 8;

#[derive(Debug, thiserror::Error)]
enum TokenError {
    #[error("give the token a name: what it is for")]
    NameMissing,
    #[error("the name is too long (at most {MAX_NAME} characters)")]
    NameTooLong,
    #[error("the expiry must be a whole number of days from 1 to {MAX_DAYS}, or empty for never")]
    BadExpiry,
    #[error("there is no such token (already revoked?)")]
    NoSuchToken,
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl TokenError {
    fn status(&self) -> StatusCode {
        match self {
            TokenError::NameMissing | TokenError::NameTooLong | TokenError::BadExpiry => {
                StatusCode::UNPROCESSABLE_ENTITY
            }
            TokenError::NoSuchToken => StatusCode::NOT_FOUND,
            TokenError::Store(_) => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    fn message(&self) -> String {
        match self {
            TokenError::Store(e) => {
                tracing::error!(error = %e, "API tokens: database error");
                "the database did not answer as expected; try again in a moment".into()
            }
            other => other.to_string(),
        }
    }
}

impl From<TokenError> for ApiError {
    fn from(e: TokenError) -> Self {
        let code = match &e {
            TokenError::NameMissing | TokenError::NameTooLong | TokenError::BadExpiry => "invalid",
            TokenError::NoSuchToken => "not_found",
            TokenError::Store(_) => "database",
        };
        ApiError::new(e.status(), code, e.message())
    }
}

/// Creates a token for `by`; returns the token itself (to show once) and what is stored.
async fn create(
    state: &WebState,
    by: &Session,
    name: &str,
    days: Option<u32>,
) -> Result<(String, ApiToken), TokenError> {
    let name = name.trim();
    if name.is_empty() {
        return Err(TokenError::NameMissing);
    }
    if name.chars().count() > MAX_NAME {
        return Err(TokenError::NameTooLong);
    }
    let expires_at = match days {
        None => None,
        Some(d) if (1..=MAX_DAYS).contains(&d) => Some(Utc::now() + TimeDelta::days(d.into())),
        Some(_) => return Err(TokenError::BadExpiry),
    };
    let token = auth::new_api_token();
    let stored = state
        .store()
        .create_api_token(
            by.admin.id,
            name,
            &auth::session_token_hash(&token),
            &token[..SHOWN],
            expires_at,
        )
        .await?;
    tracing::info!(admin = %by.admin.username, token = stored.id, name = %stored.name, "API token created");
    Ok((token, stored))
}

async fn revoke(state: &WebState, by: &Session, id: i64) -> Result<(), TokenError> {
    if !state.store().delete_api_token(id).await? {
        return Err(TokenError::NoSuchToken);
    }
    tracing::info!(admin = %by.admin.username, token = id, "API token revoked");
    Ok(())
}

/// Usernames by admin id, for "created by".
async fn admin_names(state: &WebState) -> Result<HashMap<i64, String>, StoreError> {
    Ok(state
        .store()
        .list_admins()
        .await?
        .into_iter()
        .map(|a| (a.id, a.username))
        .collect())
}

// ----- Pages -----

struct TokenRow {
    id: i64,
    name: String,
    prefix: String,
    created_by: String,
    created: String,
    expires: String,
    last_used: String,
}

#[derive(Template)]
#[template(path = "tokens.html")]
struct TokensPage {
    csrf: String,
    admin: String,
    tokens: Vec<TokenRow>,
    notice: Option<String>,
    error: Option<String>,
    created: Option<String>,
    name: String,
    days: String,
    max_name: usize,
}

/// What the form was filled with, kept when it is refused.
#[derive(Default)]
struct Filled {
    name: String,
    days: String,
}

async fn tokens_view(
    state: &WebState,
    session: &Session,
    status: StatusCode,
    message: Result<Option<String>, String>,
    created: Option<String>,
    filled: Filled,
) -> Response {
    let (tokens, names) = match (
        state.store().list_api_tokens().await,
        admin_names(state).await,
    ) {
        (Ok(t), Ok(n)) => (t, n),
        (Err(e), _) | (_, Err(e)) => return store_error(e),
    };
    let now = Utc::now();
    let expiry = |t: Option<DateTime<Utc>>| match t {
        None => "never".to_string(),
        Some(t) if t <= now => format!("expired {}", views::when(t)),
        Some(t) => views::when(t),
    };
    let (notice, error) = match message {
        Ok(n) => (n, None),
        Err(e) => (None, Some(e)),
    };
    render(
        status,
        &TokensPage {
            csrf: session.csrf.clone(),
            admin: session.admin.username.clone(),
            tokens: tokens
                .into_iter()
                .map(|t| TokenRow {
                    id: t.id,
                    created_by: names
                        .get(&t.admin_id)
                        .cloned()
                        .unwrap_or_else(|| format!("admin #{}", t.admin_id)),
                    created: views::when(t.created_at),
                    expires: expiry(t.expires_at),
                    last_used: t.last_used_at.map_or("never".into(), views::when),
                    name: t.name,
                    prefix: t.prefix,
                })
                .collect(),
            notice,
            error,
            created,
            name: filled.name,
            days: filled.days,
            max_name: MAX_NAME,
        },
    )
}

fn sentence(e: &TokenError) -> String {
    format!("{}.", capitalize(&e.message()))
}

#[derive(Deserialize)]
struct Notice {
    done: Option<String>,
}

async fn tokens_page(
    State(state): State<WebState>,
    PageAdmin(session): PageAdmin,
    Query(q): Query<Notice>,
) -> Response {
    let notice = q
        .done
        .as_deref()
        .map(|_| "The token was revoked: requests with it are refused from now on.".to_string());
    tokens_view(
        &state,
        &session,
        StatusCode::OK,
        Ok(notice),
        None,
        Filled::default(),
    )
    .await
}

#[derive(Deserialize)]
struct CreateForm {
    csrf: Option<String>,
    name: String,
    expires_in_days: Option<String>,
}

async fn create_page(
    State(state): State<WebState>,
    PageAdmin(session): PageAdmin,
    Form(form): Form<CreateForm>,
) -> Response {
    if !session.csrf_ok(form.csrf.as_deref()) {
        return csrf_refused();
    }
    let days_text = form.expires_in_days.unwrap_or_default();
    let days = match days_text.trim() {
        "" => Ok(None),
        d => d
            .parse::<u32>()
            .map(Some)
            .map_err(|_| TokenError::BadExpiry),
    };
    let result = match days {
        Ok(days) => create(&state, &session, &form.name, days).await,
        Err(e) => Err(e),
    };
    match result {
        // Shown on this response only (not through a redirect): the token never appears in a URL.
        Ok((token, stored)) => {
            tokens_view(
                &state,
                &session,
                StatusCode::CREATED,
                Ok(Some(format!("The token \"{}\" was created.", stored.name))),
                Some(token),
                Filled::default(),
            )
            .await
        }
        Err(e) => {
            tokens_view(
                &state,
                &session,
                e.status(),
                Err(sentence(&e)),
                None,
                Filled {
                    name: form.name,
                    days: days_text,
                },
            )
            .await
        }
    }
}

#[derive(Deserialize)]
struct RevokeForm {
    csrf: Option<String>,
    confirm: Option<String>,
}

async fn revoke_page(
    State(state): State<WebState>,
    PageAdmin(session): PageAdmin,
    Path(id): Path<i64>,
    Form(form): Form<RevokeForm>,
) -> Response {
    if !session.csrf_ok(form.csrf.as_deref()) {
        return csrf_refused();
    }
    let result = if form.confirm.as_deref() == Some("yes") {
        revoke(&state, &session, id).await.map_err(|e| sentence(&e))
    } else {
        Err("Tick \"confirm\" to revoke a token.".into())
    };
    match result {
        Ok(()) => Redirect::to("/disconcierge/tokens?done=revoked").into_response(),
        Err(message) => {
            tokens_view(
                &state,
                &session,
                StatusCode::UNPROCESSABLE_ENTITY,
                Err(message),
                None,
                Filled::default(),
            )
            .await
        }
    }
}

// ----- API -----

/// An API token, without the token itself.
#[derive(Serialize, ToSchema)]
#[schema(as = ApiToken)]
struct TokenJson {
    id: i64,
    name: String,
    /// The token's first characters.
    prefix: String,
    /// The admin who created it; `null` if that account was removed.
    created_by: Option<String>,
    created_at: DateTime<Utc>,
    /// `null`: never.
    expires_at: Option<DateTime<Utc>>,
    last_used_at: Option<DateTime<Utc>>,
}

impl TokenJson {
    fn new(t: ApiToken, names: &HashMap<i64, String>) -> Self {
        TokenJson {
            id: t.id,
            created_by: names.get(&t.admin_id).cloned(),
            name: t.name,
            prefix: t.prefix,
            created_at: t.created_at,
            expires_at: t.expires_at,
            last_used_at: t.last_used_at,
        }
    }
}

/// Every API token.
#[derive(Serialize, ToSchema)]
#[schema(as = ApiTokenList)]
struct TokenList {
    items: Vec<TokenJson>,
}

/// The API tokens.
///
/// Needs a signed-in session: a token cannot list tokens.
#[utoipa::path(
    get,
    path = "/api/tokens",
    operation_id = "list_tokens",
    tag = "API tokens",
    responses(
        (status = 200, description = "Every API token, without the tokens themselves.", body = TokenList),
    ),
    security(("session" = [])),
)]
async fn list_api(
    State(state): State<WebState>,
    ApiAdmin(session): ApiAdmin,
) -> Result<Json<TokenList>, ApiError> {
    session.require_browser()?;
    let tokens = state.store().list_api_tokens().await?;
    let names = admin_names(&state).await?;
    Ok(Json(TokenList {
        items: tokens
            .into_iter()
            .map(|t| TokenJson::new(t, &names))
            .collect(),
    }))
}

/// A new API token.
#[derive(Deserialize, ToSchema)]
#[schema(as = NewApiToken)]
struct CreateBody {
    /// What it is for (at most 100 characters).
    name: String,
    /// Days until it expires, 1 to 3650; absent or null: never.
    #[schema(minimum = 1, maximum = 3650)]
    expires_in_days: Option<u32>,
}

/// A created API token, with the token itself.
#[derive(Serialize, ToSchema)]
#[schema(as = CreatedApiToken)]
struct Created {
    /// The token itself: shown this once, never again.
    token: String,
    #[serde(flatten)]
    stored: TokenJson,
}

/// Create an API token.
///
/// The token is in this answer only: it is never shown again. Needs a signed-in session: a token cannot
/// create tokens.
#[utoipa::path(
    post,
    path = "/api/tokens",
    operation_id = "create_token",
    tag = "API tokens",
    request_body = CreateBody,
    responses(
        (status = 201, description = "Created.", body = Created),
        (status = 400, description = "`bad_request`: the body is not the expected JSON.", body = ErrorBody),
        (status = 422, description = "`invalid`: the name is missing or too long, or the expiry is out of \
            range.", body = ErrorBody),
    ),
    security(("session" = [])),
)]
async fn create_api(
    State(state): State<WebState>,
    ApiAdmin(session): ApiAdmin,
    body: Result<Json<CreateBody>, JsonRejection>,
) -> Result<(StatusCode, Json<Created>), ApiError> {
    session.require_browser()?;
    let Json(body) = body?;
    let (token, stored) = create(&state, &session, &body.name, body.expires_in_days).await?;
    let names = HashMap::from([(session.admin.id, session.admin.username.clone())]);
    Ok((
        StatusCode::CREATED,
        Json(Created {
            token,
            stored: TokenJson::new(stored, &names),
        }),
    ))
}

/// Revoke an API token: requests with it are refused from now on.
///
/// Needs a signed-in session.
#[utoipa::path(
    delete,
    path = "/api/tokens/{id}",
    operation_id = "revoke_token",
    tag = "API tokens",
    params(("id" = i64, Path, description = "The token's id.")),
    responses(
        (status = 204, description = "Revoked."),
        (status = 404, description = "`not_found`: there is no such token (already revoked?).", body = ErrorBody),
    ),
    security(("session" = [])),
)]
async fn revoke_api(
    State(state): State<WebState>,
    ApiAdmin(session): ApiAdmin,
    Path(id): Path<i64>,
) -> Result<StatusCode, ApiError> {
    session.require_browser()?;
    revoke(&state, &session, id).await?;
    Ok(StatusCode::NO_CONTENT)
}
