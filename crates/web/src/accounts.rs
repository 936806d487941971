//! Admin accounts: list, add and remove admins, change one's own password; as pages and as API calls.
//!
//! Changing a password signs out every session of that account (the store revokes them in the same
//! transaction) and opens a fresh one for whoever changed it. Wrong current passwords count toward the
//! login lockout, so this form cannot be used to guess a password either.

use crate::WebState;
use crate::admin::{self, AdminError};
use crate::auth::{self, ApiAdmin, PageAdmin, Session};
use crate::error::{ApiError, ErrorBody};
use crate::render::{csrf_refused, render, store_error};
use crate::views;
use askama::Template;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Form, Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::Utc;
use disconcierge_store::StoreError;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn routes() -> Router<WebState> {
    Router::new()
        .route("/disconcierge/admins", get(admins_page).post(add_page))
        .route("/disconcierge/admins/{id}/delete", post(remove_page))
        .route("/disconcierge/password", post(password_page))
}

pub fn api_routes() -> OpenApiRouter<WebState> {
    OpenApiRouter::default()
        .routes(routes!(list_api, add_api))
        .routes(routes!(remove_api))
        .routes(routes!(password_api))
}

/// Why an account change was refused, in words for the admin.
#[derive(Debug, thiserror::Error)]
enum AccountError {
    #[error(transparent)]
    Admin(#[from] AdminError),
    #[error("the current password is wrong")]
    WrongPassword,
    #[error("the two new passwords differ; type the same one twice")]
    Mismatch,
    #[error("you cannot remove your own account; sign in as another admin to remove it")]
    Yourself,
    #[error("there is no such admin (already removed?)")]
    NoSuchAdmin,
    #[error(transparent)]
    Locked(auth::LoginError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl AccountError {
    fn status(&self) -> StatusCode {
        match self {
            AccountError::Admin(AdminError::AlreadyExists(_)) => StatusCode::CONFLICT,
            AccountError::Admin(AdminError::Store(_) | AdminError::Hash(_))
            | AccountError::Store(_) => StatusCode::SERVICE_UNAVAILABLE,
            AccountError::Admin(_) | AccountError::Mismatch => StatusCode::UNPROCESSABLE_ENTITY,
            AccountError::WrongPassword => StatusCode::FORBIDDEN,
            AccountError::Yourself => StatusCode::CONFLICT,
            AccountError::NoSuchAdmin => StatusCode::NOT_FOUND,
            AccountError::Locked(_) => StatusCode::TOO_MANY_REQUESTS,
        }
    }

    fn code(&self) -> &'static str {
        match self {
            AccountError::Admin(AdminError::AlreadyExists(_)) => "already_exists",
            AccountError::Admin(AdminError::Store(_) | AdminError::Hash(_))
            | AccountError::Store(_) => "database",
            AccountError::Admin(_) | AccountError::Mismatch => "invalid",
            AccountError::WrongPassword => "wrong_password",
            AccountError::Yourself => "conflict",
            AccountError::NoSuchAdmin => "not_found",
            AccountError::Locked(_) => "locked",
        }
    }

    /// The message to show: internal failures are logged, not shown.
    fn message(&self) -> String {
        match self {
            AccountError::Store(e) | AccountError::Admin(AdminError::Store(e)) => {
                tracing::error!(error = %e, "admin accounts: database error");
                "the database did not answer as expected; try again in a moment".into()
            }
            AccountError::Admin(AdminError::Hash(e)) => {
                tracing::error!(error = %e, "admin accounts: could not hash a password");
                "the password could not be processed; try again".into()
            }
            other => other.to_string(),
        }
    }
}

impl From<AccountError> for ApiError {
    fn from(e: AccountError) -> Self {
        ApiError::new(e.status(), e.code(), e.message())
    }
}

async fn add(
    state: &WebState,
    by: &Session,
    username: &str,
    password: &str,
) -> Result<(), AccountError> {
    let account = admin::create_admin(state.store(), username.trim(), password).await?;
    tracing::info!(admin = %by.admin.username, added = %account.username, "admin account added");
    Ok(())
}

async fn remove(state: &WebState, by: &Session, id: i64) -> Result<String, AccountError> {
    if id == by.admin.id {
        return Err(AccountError::Yourself);
    }
    let target = state
        .store()
        .admin(id)
        .await?
        .ok_or(AccountError::NoSuchAdmin)?;
    match state.store().delete_admin(id).await {
        Ok(()) => {}
        Err(StoreError::NotFound(_)) => return Err(AccountError::NoSuchAdmin),
        Err(e) => return Err(e.into()),
    }
    tracing::info!(admin = %by.admin.username, removed = %target.username, "admin account removed");
    Ok(target.username)
}

/// Checks the current password, sets the new one (signing out every session of the account) and opens
/// a new session; returns its token.
async fn change_password(
    state: &WebState,
    session: &Session,
    current: &str,
    new: &str,
    repeat: Option<&str>,
) -> Result<String, AccountError> {
    let keys = auth::throttle_keys(None, &session.admin.username);
    state.throttle().check(&keys).await.map_err(|e| match e {
        auth::LoginError::Store(e) => AccountError::Store(e),
        locked => AccountError::Locked(locked),
    })?;
    if !admin::verify_password(session.admin.password_hash.clone(), current.to_string()).await {
        state.throttle().record_failure(&keys).await;
        return Err(AccountError::WrongPassword);
    }
    if repeat.is_some_and(|r| r != new) {
        return Err(AccountError::Mismatch);
    }
    admin::validate_password(new)?;
    let hash = admin::hash_password(new.to_string()).await?;
    state
        .store()
        .update_admin_password(session.admin.id, &hash)
        .await?;
    let token = auth::open_session(state, session.admin.id).await?;
    tracing::info!(admin = %session.admin.username, "admin password changed; other sessions signed out");
    Ok(token)
}

// ----- Pages -----

struct AdminRow {
    id: i64,
    username: String,
    created: String,
    is_you: bool,
}

#[derive(Template)]
#[template(path = "admins.html")]
struct AdminsPage {
    csrf: String,
    admin: String,
    admins: Vec<AdminRow>,
    notice: Option<String>,
    error: Option<String>,
    new_username: String,
    min_password: usize,
}

async fn admins_view(
    state: &WebState,
    session: &Session,
    status: StatusCode,
    notice: Option<String>,
    error: Option<String>,
    new_username: String,
) -> Response {
    let admins = match state.store().list_admins().await {
        Ok(a) => a,
        Err(e) => return store_error(e),
    };
    render(
        status,
        &AdminsPage {
            csrf: session.csrf.clone(),
            admin: session.admin.username.clone(),
            admins: admins
                .into_iter()
                .map(|a| AdminRow {
                    is_you: a.id == session.admin.id,
                    id: a.id,
                    created: views::when(a.created_at),
                    username: a.username,
                })
                .collect(),
            notice,
            error,
            new_username,
            min_password: admin::PASSWORD_MIN_CHARS,
        },
    )
}

#[derive(Deserialize)]
struct Notice {
    done: Option<String>,
}

async fn admins_page(
    State(state): State<WebState>,
    PageAdmin(session): PageAdmin,
    Query(q): Query<Notice>,
) -> Response {
    let notice = q.done.as_deref().map(|d| match d {
        "added" => "The admin was added.".to_string(),
        "removed" => "The admin was removed and signed out.".to_string(),
        "password" => "Your password was changed; your other sessions were signed out.".to_string(),
        _ => "Done.".to_string(),
    });
    admins_view(
        &state,
        &session,
        StatusCode::OK,
        notice,
        None,
        String::new(),
    )
    .await
}

fn sentence(e: &AccountError) -> String {
    format!("{}.", crate::views::capitalize(&e.message()))
}

#[derive(Deserialize)]
struct AddForm {
    csrf: Option<String>,
    username: String,
    password: String,
}

async fn add_page(
    State(state): State<WebState>,
    PageAdmin(session): PageAdmin,
    Form(form): Form<AddForm>,
) -> Response {
    if !session.csrf_ok(form.csrf.as_deref()) {
        return csrf_refused();
    }
    match add(&state, &session, &form.username, &form.password).await {
        Ok(()) => Redirect::to("/disconcierge/admins?done=added").into_response(),
        Err(e) => {
            admins_view(
                &state,
                &session,
                e.status(),
                None,
                Some(sentence(&e)),
                form.username,
            )
            .await
        }
    }
}

#[derive(Deserialize)]
struct RemoveForm {
    csrf: Option<String>,
    confirm: Option<String>,
}

async fn remove_page(
    State(state): State<WebState>,
    PageAdmin(session): PageAdmin,
    Path(id): Path<i64>,
    Form(form): Form<RemoveForm>,
) -> Response {
    if !session.csrf_ok(form.csrf.as_deref()) {
        return csrf_refused();
    }
    if form.confirm.as_deref() != Some("yes") {
        return admins_view(
            &state,
            &session,
            StatusCode::UNPROCESSABLE_ENTITY,
            None,
            Some("Tick \"confirm\" to remove an admin.".into()),
            String::new(),
        )
        .await;
    }
    match remove(&state, &session, id).await {
        Ok(_) => Redirect::to("/disconcierge/admins?done=removed").into_response(),
        Err(e) => {
            admins_view(
                &state,
                &session,
                e.status(),
                None,
                Some(sentence(&e)),
                String::new(),
            )
            .await
        }
    }
}

#[derive(Deserialize)]
struct PasswordForm {
    csrf: Option<String>,
    current_password: String,
    new_password: String,
    repeat_password: String,
}

async fn password_page(
    State(state): State<WebState>,
    PageAdmin(session): PageAdmin,
    Form(form): Form<PasswordForm>,
) -> Response {
    if !session.csrf_ok(form.csrf.as_deref()) {
        return csrf_refused();
    }
    match change_password(
        &state,
        &session,
        &form.current_password,
        &form.new_password,
        Some(&form.repeat_password),
    )
    .await
    {
        Ok(token) => (
            [(header::SET_COOKIE, auth::login_cookie(&state, &token))],
            Redirect::to("/disconcierge/admins?done=password"),
        )
            .into_response(),
        Err(e) => {
            admins_view(
                &state,
                &session,
                e.status(),
                None,
                Some(sentence(&e)),
                String::new(),
            )
            .await
        }
    }
}

// ----- API -----

/// An admin account.
#[derive(Serialize, ToSchema)]
#[schema(as = Admin)]
struct AdminItem {
    id: i64,
    username: String,
    created_at: chrono::DateTime<Utc>,
}

/// The admin accounts.
#[utoipa::path(
    get,
    path = "/api/admins",
    operation_id = "list_admins",
    tag = "admins",
    responses(
        (status = 200, description = "Every admin account.", body = Vec<AdminItem>),
    ),
    security(("session" = []), ("bearer" = [])),
)]
async fn list_api(
    State(state): State<WebState>,
    ApiAdmin(_): ApiAdmin,
) -> Result<Json<Vec<AdminItem>>, ApiError> {
    Ok(Json(
        state
            .store()
            .list_admins()
            .await?
            .into_iter()
            .map(|a| AdminItem {
                id: a.id,
                username: a.username,
                created_at: a.created_at,
            })
            .collect(),
    ))
}

/// A new admin account.
#[derive(Deserialize, ToSchema)]
#[schema(as = NewAdmin)]
struct AddBody {
    username: String,
    password: String,
}

/// Add an admin.
///
/// Needs a signed-in session: an API token cannot create logins.
#[utoipa::path(
    post,
    path = "/api/admins",
    operation_id = "add_admin",
    tag = "admins",
    request_body = AddBody,
    responses(
        (status = 201, description = "Added."),
        (status = 400, description = "`bad_request`: the body is not the expected JSON.", body = ErrorBody),
        (status = 409, description = "`already_exists`: there is an admin with this username.", body = ErrorBody),
        (status = 422, description = "`invalid`: the username or the password is not acceptable (the \
            message says why).", body = ErrorBody),
        (status = 503, description = "`database`: the password could not be processed, or the database did \
            not answer.", body = ErrorBody),
    ),
    security(("session" = [])),
)]
async fn add_api(
    State(state): State<WebState>,
    ApiAdmin(session): ApiAdmin,
    body: Result<Json<AddBody>, JsonRejection>,
) -> Result<StatusCode, ApiError> {
    // A leaked API token must not be able to create a login (and through it more tokens).
    session.require_browser()?;
    let Json(body) = body?;
    add(&state, &session, &body.username, &body.password).await?;
    Ok(StatusCode::CREATED)
}

/// Remove an admin, signing out their sessions.
///
/// Needs a signed-in session. One's own account cannot be removed.
#[utoipa::path(
    delete,
    path = "/api/admins/{id}",
    operation_id = "remove_admin",
    tag = "admins",
    params(("id" = i64, Path, description = "The admin's id.")),
    responses(
        (status = 204, description = "Removed."),
        (status = 404, description = "`not_found`: there is no such admin (already removed?).", body = ErrorBody),
        (status = 409, description = "`conflict`: this is your own account.", body = ErrorBody),
    ),
    security(("session" = [])),
)]
async fn remove_api(
    State(state): State<WebState>,
    ApiAdmin(session): ApiAdmin,
    Path(id): Path<i64>,
) -> Result<StatusCode, ApiError> {
    session.require_browser()?;
    remove(&state, &session, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A password change.
#[derive(Deserialize, ToSchema)]
#[schema(as = PasswordChange)]
struct PasswordBody {
    current_password: String,
    new_password: String,
}

/// The new session opened by a password change.
#[derive(Serialize, ToSchema)]
struct NewSession {
    /// The new session's CSRF token (the old one no longer works).
    csrf_token: String,
}

/// Change one's own password.
///
/// Signs out every session of the account and opens a new one (a new cookie and CSRF token). Needs a
/// signed-in session. Wrong current passwords count toward the sign-in lockout.
#[utoipa::path(
    post,
    path = "/api/password",
    operation_id = "change_password",
    tag = "admins",
    request_body = PasswordBody,
    responses(
        (status = 200, description = "Changed: the new session's cookie is set.", body = NewSession,
            headers(("Set-Cookie" = String, description = "The new session cookie, `dc_session`."))),
        (status = 400, description = "`bad_request`: the body is not the expected JSON.", body = ErrorBody),
        (status = 403, description = "`wrong_password`: the current password is wrong.", body = ErrorBody),
        (status = 422, description = "`invalid`: the new password is not acceptable (the message says why).",
            body = ErrorBody),
        (status = 429, description = "`locked`: too many wrong passwords; the message says when to try again.",
            body = ErrorBody),
        (status = 503, description = "`database`: the password could not be processed, or the database did \
            not answer.", body = ErrorBody),
    ),
    security(("session" = [])),
)]
async fn password_api(
    State(state): State<WebState>,
    ApiAdmin(session): ApiAdmin,
    body: Result<Json<PasswordBody>, JsonRejection>,
) -> Result<Response, ApiError> {
    session.require_browser()?;
    let Json(body) = body?;
    let token = change_password(
        &state,
        &session,
        &body.current_password,
        &body.new_password,
        None,
    )
    .await?;
    Ok((
        [(header::SET_COOKIE, auth::login_cookie(&state, &token))],
        Json(NewSession {
            csrf_token: state.csrf_token(&token),
        }),
    )
        .into_response())
}
