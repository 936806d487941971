//! Signing in and out: the login page and the sign-out form under `/disconcierge`, and `POST
//! /api/login`, `POST /api/logout` and `GET /api/me`. The sessions themselves are `auth`'s.

use crate::WebState;
use crate::auth::{self, ApiAdmin, ClientIp, LoginError, PageAdmin};
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::render::{csrf_refused, render, store_error};
use crate::views::capitalize;
use askama::Template;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Form, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn routes() -> Router<WebState> {
    Router::new()
        .route("/disconcierge/login", get(login_page).post(login_submit))
        .route("/disconcierge/logout", post(logout_submit))
}

pub fn api_routes() -> OpenApiRouter<WebState> {
    OpenApiRouter::default()
        .routes(routes!(login_api))
        .routes(routes!(logout_api))
        .routes(routes!(me_api))
}

// ----- Pages -----

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage<'a> {
    next: &'a str,
    username: &'a str,
    error: Option<String>,
    notice: Option<&'a str>,
    no_admins: bool,
}

#[derive(Deserialize)]
struct LoginQuery {
    next: Option<String>,
    signed_out: Option<String>,
}

async fn login_page(
    State(state): State<WebState>,
    headers: axum::http::HeaderMap,
    Query(q): Query<LoginQuery>,
) -> Response {
    let next = auth::safe_next(q.next.as_deref());
    if auth::session(&state, &headers).await.is_ok() {
        return Redirect::to(next).into_response();
    }
    let no_admins = state.store().count_admins().await.unwrap_or(1) == 0;
    render(
        StatusCode::OK,
        &LoginPage {
            next,
            username: "",
            error: None,
            notice: q.signed_out.is_some().then_some("You are signed out."),
            no_admins,
        },
    )
}

#[derive(Deserialize)]
struct LoginForm {
    username: String,
    password: String,
    next: Option<String>,
}

async fn login_submit(
    State(state): State<WebState>,
    ClientIp(ip): ClientIp,
    Form(form): Form<LoginForm>,
) -> Response {
    let next = auth::safe_next(form.next.as_deref());
    match auth::login(&state, ip, &form.username, &form.password).await {
        Ok((token, _)) => (
            [(header::SET_COOKIE, auth::login_cookie(&state, &token))],
            Redirect::to(next),
        )
            .into_response(),
        Err(e) => {
            let status = match e {
                LoginError::Invalid => StatusCode::UNAUTHORIZED,
                LoginError::Locked(_) => StatusCode::TOO_MANY_REQUESTS,
                LoginError::Store(_) => StatusCode::SERVICE_UNAVAILABLE,
            };
            let message = match &e {
                LoginError::Store(inner) => {
                    tracing::error!(error = %inner, "admin sign-in: database error");
                    "The database did not answer; try again in a moment.".to_string()
                }
                other => capitalize(&other.to_string()),
            };
            render(
                status,
                &LoginPage {
                    next,
                    username: &form.username,
                    error: Some(message),
                    notice: None,
                    no_admins: false,
                },
            )
        }
    }
}

#[derive(Deserialize)]
struct CsrfForm {
    csrf: Option<String>,
}

async fn logout_submit(
    State(state): State<WebState>,
    PageAdmin(session): PageAdmin,
    Form(form): Form<CsrfForm>,
) -> Response {
    if !session.csrf_ok(form.csrf.as_deref()) {
        return csrf_refused();
    }
    if let Err(e) = auth::logout(&state, &session).await {
        return store_error(e);
    }
    (
        [(header::SET_COOKIE, auth::logout_cookie(&state))],
        Redirect::to("/disconcierge/login?signed_out=1"),
    )
        .into_response()
}

// ----- API -----

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
async fn login_api(
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
                csrf_token: state.csrf_token(&token),
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
async fn logout_api(
    State(state): State<WebState>,
    ApiAdmin(session): ApiAdmin,
) -> ApiResult<Response> {
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
async fn me_api(ApiAdmin(session): ApiAdmin) -> Json<Me> {
    Json(Me {
        username: session.admin.username,
        csrf_token: session.csrf,
    })
}
