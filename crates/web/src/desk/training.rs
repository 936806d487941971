//! Trained answers of a guild: browse (by category, or a full-text search), add, edit, delete, export
//! and import; as pages and as `/api/training…`.
//!
//! Adding is `/train`: a question trained before (case, punctuation and spacing aside) has its answer
//! replaced. Editing replaces exactly what the form holds, question included. Exports and imports are
//! the files of `/export_training` and `/import_training`.
//!
//! `views` holds what is shown and the input taken, `ops` what pages and API both do with the store,
//! and `pages` and `api` their handlers.

mod api;
mod ops;
mod pages;
mod views;

use crate::WebState;
use axum::Router;
use utoipa_axum::router::OpenApiRouter;

pub fn routes() -> Router<WebState> {
    pages::routes()
}

pub fn api_routes() -> OpenApiRouter<WebState> {
    api::routes()
}
