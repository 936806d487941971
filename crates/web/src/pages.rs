//! The server-rendered pages under `/disconcierge`: the route table of every page (each resource's
//! module declares its own) and the stylesheet. They work without JavaScript; every value is escaped
//! by askama.

use crate::{
    WebState, accounts, actions, commands, config, dashboard, desk, feedback, interactions,
    messages, playground, session, tokens, users,
};
use axum::Router;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;

/// Every page, and the stylesheet they share.
pub fn routes() -> Router<WebState> {
    dashboard::routes()
        .merge(session::routes())
        .merge(commands::routes())
        .merge(config::routes())
        .merge(actions::routes())
        .route("/disconcierge/static/app.css", get(stylesheet))
        .merge(accounts::routes())
        .merge(tokens::routes())
        .merge(feedback::routes())
        .merge(interactions::routes())
        .merge(messages::routes())
        .merge(users::routes())
        .merge(desk::routes())
        .merge(playground::routes())
}

async fn stylesheet() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        include_str!("../assets/app.css"),
    )
        .into_response()
}
