//! Rendering pages: a template into an answer, the error page, and the errors every page handler may
//! answer (the database, a refused form).

use askama::Template;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use disconcierge_store::StoreError;

/// Renders a template, or a plain error if rendering itself failed (a bug, logged).
pub(crate) fn render(status: StatusCode, template: &impl Template) -> Response {
    match template.render() {
        Ok(html) => (status, Html(html)).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "could not render a page");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                "The page could not be rendered; the error was logged.",
            )
                .into_response()
        }
    }
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    title: &'a str,
    message: &'a str,
}

pub(crate) fn error_page(status: StatusCode, title: &str, message: &str) -> Response {
    render(status, &ErrorPage { title, message })
}

pub(crate) fn store_error(e: StoreError) -> Response {
    tracing::error!(error = %e, "admin page: database error");
    error_page(
        StatusCode::SERVICE_UNAVAILABLE,
        "Database unavailable",
        "The database did not answer as expected; try again in a moment. The error was logged.",
    )
}

pub(crate) fn csrf_refused() -> Response {
    error_page(
        StatusCode::FORBIDDEN,
        "Form refused",
        "This form expired or did not come from this admin interface. Reload the page and submit it again.",
    )
}
