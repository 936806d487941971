//! What the trained-answer pages and API both do: list (by category or by search), add, edit, delete,
//! export and import, through the store, each change logged with the admin who made it.

use super::views::question_taken;
use crate::WebState;
use crate::auth::Session;
use crate::desk::{
    Invalid, MAX_IMPORT_BYTES, PAGE_SIZE, Paging, WEB_AUTHOR, download, import_text, refused,
};
use axum::response::Response;
use chrono::Utc;
use disconcierge_core::desk::model::{NewTrainingEntry, TrainOutcome, TrainingEntry};
use disconcierge_core::desk::{retrieval, transfer};
use disconcierge_store::StoreError;

/// Search results shown at most.
const SEARCH_LIMIT: u32 = 50;

/// What a list shows: a page of the guild's entries, or the best matches of a search.
pub(super) struct Listed {
    pub(super) entries: Vec<TrainingEntry>,
    /// `None` for a search.
    pub(super) paging: Option<Paging>,
    pub(super) total: Option<u64>,
}

/// A page (`page`, 1-based, or `offset`/`limit` for the API) or the matches of `search` (filtered by
/// `category` too, when given); `Err` with a message for an unusable search or page.
pub(super) async fn list(
    state: &WebState,
    guild_id: u64,
    category: Option<&str>,
    search: &str,
    window: Window<'_>,
) -> Result<Result<Listed, String>, StoreError> {
    let store = state.store();
    if !search.trim().is_empty() {
        let terms = retrieval::query_terms(search);
        if terms.is_empty() {
            return Ok(Err(
                "search for some words (common words like \"the\" are ignored)".into(),
            ));
        }
        let limit = match window {
            Window::Api { limit, .. } => limit,
            Window::Page(_) => SEARCH_LIMIT,
        };
        let found = store.search_training(guild_id, &terms, limit, None).await?;
        let mut entries = Vec::with_capacity(found.len());
        for m in found {
            if let Some(e) = store.training_entry(guild_id, m.id).await?
                && category.is_none_or(|c| e.category.as_deref() == Some(c))
            {
                entries.push(e);
            }
        }
        return Ok(Ok(Listed {
            entries,
            paging: None,
            total: None,
        }));
    }
    let (offset, limit, typed_page) = match window {
        Window::Api { offset, limit } => (offset, limit, None),
        Window::Page(page) => (0, PAGE_SIZE, Some(page)),
    };
    let Some(typed) = typed_page else {
        let (entries, total) = store
            .list_training(guild_id, category, offset, limit)
            .await?;
        return Ok(Ok(Listed {
            entries,
            paging: None,
            total: Some(total),
        }));
    };
    // The count first, to keep the page asked for within the pages there are.
    let (_, total) = store.list_training(guild_id, category, 0, 0).await?;
    let paging = match Paging::new(typed, total) {
        Ok(p) => p,
        Err(message) => return Ok(Err(message)),
    };
    let (entries, total) = store
        .list_training(guild_id, category, paging.offset(), PAGE_SIZE)
        .await?;
    Ok(Ok(Listed {
        entries,
        paging: Some(paging),
        total: Some(total),
    }))
}

/// Which rows a list returns.
#[derive(Clone, Copy)]
pub(super) enum Window<'a> {
    /// A page of the admin interface, as typed (`page=`).
    Page(&'a str),
    Api {
        offset: u64,
        limit: u32,
    },
}

/// Adds (or, for a question trained before, replaces) an entry.
pub(super) async fn add(
    state: &WebState,
    by: &Session,
    entry: &NewTrainingEntry,
) -> Result<Result<TrainOutcome, Invalid>, StoreError> {
    match state.store().train(entry, Utc::now()).await {
        Ok(outcome) => {
            let (id, replaced) = match &outcome {
                TrainOutcome::Created(e) => (e.id, false),
                TrainOutcome::Updated { entry, .. } => (entry.id, true),
            };
            tracing::info!(admin = %by.actor(), guild = entry.guild_id, id, replaced, "trained answer saved in the admin interface");
            Ok(Ok(outcome))
        }
        Err(e) => refused(e, "question").map(Err),
    }
}

/// Edits entry `id`: `Ok(None)` if the guild has no such entry.
pub(super) async fn edit(
    state: &WebState,
    by: &Session,
    id: i64,
    entry: &NewTrainingEntry,
) -> Result<Result<Option<TrainingEntry>, Invalid>, StoreError> {
    match state.store().update_training(id, entry, Utc::now()).await {
        Ok(saved) => {
            tracing::info!(admin = %by.actor(), guild = entry.guild_id, id, "trained answer edited in the admin interface");
            Ok(Ok(Some(saved)))
        }
        Err(StoreError::NotFound(_)) => Ok(Ok(None)),
        Err(StoreError::AlreadyExists(_)) => Ok(Err(question_taken())),
        Err(e) => refused(e, "question").map(Err),
    }
}

pub(super) async fn delete(
    state: &WebState,
    by: &Session,
    guild_id: u64,
    id: i64,
) -> Result<bool, StoreError> {
    let deleted = state.store().delete_training(guild_id, id).await?;
    if deleted {
        tracing::info!(admin = %by.actor(), guild = guild_id, id, "trained answer deleted in the admin interface");
    }
    Ok(deleted)
}

/// The guild's export file and its name.
pub(super) async fn export(state: &WebState, guild_id: u64) -> Result<Response, StoreError> {
    let entries = state.store().export_training(guild_id).await?;
    Ok(download(
        &format!("training-{guild_id}.json"),
        transfer::export_training(&entries),
    ))
}

/// Reads and imports a training file: the located fault of a bad file (nothing written), or what was
/// done.
pub(super) async fn import(
    state: &WebState,
    by: &Session,
    guild_id: u64,
    bytes: &[u8],
) -> Result<Result<disconcierge_store::ImportReport, String>, StoreError> {
    if bytes.len() > MAX_IMPORT_BYTES {
        return Ok(Err(format!(
            "the file is {} bytes; at most {MAX_IMPORT_BYTES} bytes can be imported at once",
            bytes.len()
        )));
    }
    let text = match import_text(bytes) {
        Ok(t) => t,
        Err(message) => return Ok(Err(message)),
    };
    let entries = match transfer::import_training(text, guild_id, WEB_AUTHOR) {
        Ok(e) => e,
        Err(e) => return Ok(Err(e.to_string())),
    };
    match state.store().import_training(&entries, Utc::now()).await {
        Ok(report) => {
            tracing::info!(admin = %by.actor(), guild = guild_id, created = report.created, updated = report.updated, "trained answers imported in the admin interface");
            Ok(Ok(report))
        }
        Err(StoreError::InvalidArgument(message)) => Ok(Err(message)),
        Err(e) => Err(e),
    }
}
