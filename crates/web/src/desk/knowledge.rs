//! Knowledge bases of a guild: list and create them; browse one's entries in pages, add, edit and delete
//! entries; delete a whole knowledge base; export and import its entries. As pages and as
//! `/api/knowledge_bases…`.
//!
//! Names, entries and files are checked as `/kb_create`, `/kb_add` and `/kb_import` check them; an import
//! appends the file's entries to the knowledge base it is made into (the name in the file is not used).
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
