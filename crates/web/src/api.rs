//! The JSON API under `/api`: what the pages show and do, for scripts; this module is its route table
//! (each resource's module declares its own routes).
//!
//! Authentication is the session cookie (sign in with `POST /api/login`); requests that change something
//! must also send the session's CSRF token as `X-CSRF-Token` (returned by the login and by `GET /api/me`).
//! Every error has the same body: `{"error": code, "message": what to do, "fields": [{field, message}]}`
//! (the `error` module). Lists are newest first and keyset-paginated: pass `next_before` back as
//! `before` (the `paging` module).
//!
//! Every API route is registered through `utoipa_axum`'s `routes!` with its `#[utoipa::path]`
//! annotation, which makes it part of the OpenAPI document at `GET /api/openapi.json` (see
//! the `openapi` module).

use crate::{
    WebState, accounts, actions, activity, commands, config, dashboard, desk, feedback, instances,
    interactions, messages, openapi, playground, session, tokens, users,
};
use utoipa_axum::router::OpenApiRouter;

/// Every API route, with its OpenAPI operation.
pub fn routes() -> OpenApiRouter<WebState> {
    OpenApiRouter::default()
        .merge(session::api_routes())
        .merge(commands::api_routes())
        .merge(config::api_routes())
        .merge(actions::api_routes())
        .merge(dashboard::api_routes())
        .merge(instances::api_routes())
        .merge(accounts::api_routes())
        .merge(tokens::api_routes())
        .merge(feedback::api_routes())
        .merge(interactions::api_routes())
        .merge(messages::api_routes())
        .merge(users::api_routes())
        .merge(desk::api_routes())
        .merge(playground::api_routes())
        .merge(activity::api_routes())
        .merge(openapi::routes())
}
