//! What the knowledge-base pages and API both do: find, create, change, delete, export and import,
//! through the store, each change logged with the admin who made it.

use crate::WebState;
use crate::auth::Session;
use crate::desk::{
    Invalid, MAX_IMPORT_BYTES, WEB_AUTHOR, download, file_stem, import_text, path_id, refused,
};
use axum::response::Response;
use chrono::Utc;
use disconcierge_core::desk::model::{KbEntry, KnowledgeBase, NewKbEntry};
use disconcierge_core::desk::transfer;
use disconcierge_store::{KbCreated, StoreError};

/// Creates a knowledge base; a name the guild has (ignoring case) is refused.
pub(super) async fn create(
    state: &WebState,
    by: &Session,
    guild_id: u64,
    name: &str,
    description: Option<&str>,
) -> Result<Result<KnowledgeBase, Invalid>, StoreError> {
    let created = state
        .store()
        .create_kb(guild_id, name, description, WEB_AUTHOR, Utc::now())
        .await;
    match created {
        Ok(KbCreated::Created(kb)) => {
            tracing::info!(admin = %by.actor(), guild = guild_id, id = kb.id, name = %kb.name, "knowledge base created in the admin interface");
            Ok(Ok(kb))
        }
        Ok(KbCreated::Exists(kb)) => Ok(Err(Invalid::taken(
            "name",
            format!(
                "a knowledge base named \"{}\" already exists in this server ({} entries)",
                kb.name, kb.entry_count
            ),
        ))),
        Err(e) => refused(e, "name").map(Err),
    }
}

/// The guild's knowledge base `id` (a number from the URL), or `None`.
pub(super) async fn find_kb(
    state: &WebState,
    guild_id: u64,
    id: &str,
) -> Result<Option<KnowledgeBase>, StoreError> {
    match path_id(id) {
        Some(n) => state.store().kb(guild_id, n).await,
        None => Ok(None),
    }
}

/// The entry `entry` of knowledge base `kb` in the guild, or `None` (also when it is another base's).
pub(super) async fn find_entry(
    state: &WebState,
    guild_id: u64,
    kb: &KnowledgeBase,
    entry: &str,
) -> Result<Option<KbEntry>, StoreError> {
    let Some(n) = path_id(entry) else {
        return Ok(None);
    };
    Ok(state
        .store()
        .kb_entry(guild_id, n)
        .await?
        .filter(|e| e.kb_id == kb.id))
}

pub(super) async fn add_entry(
    state: &WebState,
    by: &Session,
    kb: &KnowledgeBase,
    entry: &NewKbEntry,
) -> Result<Result<Option<KbEntry>, Invalid>, StoreError> {
    match state
        .store()
        .add_kb_entry(kb.id, entry, WEB_AUTHOR, Utc::now())
        .await
    {
        Ok(e) => {
            tracing::info!(admin = %by.actor(), guild = kb.guild_id, kb = kb.id, id = e.id, "knowledge entry added in the admin interface");
            Ok(Ok(Some(e)))
        }
        // Deleted meanwhile.
        Err(StoreError::NotFound(_)) => Ok(Ok(None)),
        Err(e) => refused(e, "title").map(Err),
    }
}

pub(super) async fn edit_entry(
    state: &WebState,
    by: &Session,
    entry: &KbEntry,
    new: &NewKbEntry,
) -> Result<Result<Option<KbEntry>, Invalid>, StoreError> {
    match state
        .store()
        .update_kb_entry(entry.guild_id, entry.id, new, Utc::now())
        .await
    {
        Ok(e) => {
            tracing::info!(admin = %by.actor(), guild = entry.guild_id, kb = entry.kb_id, id = entry.id, "knowledge entry edited in the admin interface");
            Ok(Ok(Some(e)))
        }
        Err(StoreError::NotFound(_)) => Ok(Ok(None)),
        Err(e) => refused(e, "title").map(Err),
    }
}

pub(super) async fn delete_entry(
    state: &WebState,
    by: &Session,
    entry: &KbEntry,
) -> Result<bool, StoreError> {
    let deleted = state
        .store()
        .delete_kb_entry(entry.guild_id, entry.id)
        .await?;
    if deleted {
        tracing::info!(admin = %by.actor(), guild = entry.guild_id, kb = entry.kb_id, id = entry.id, "knowledge entry deleted in the admin interface");
    }
    Ok(deleted)
}

pub(super) async fn delete_kb(
    state: &WebState,
    by: &Session,
    kb: &KnowledgeBase,
) -> Result<bool, StoreError> {
    let deleted = state.store().delete_kb(kb.guild_id, kb.id).await?;
    if deleted {
        tracing::info!(admin = %by.actor(), guild = kb.guild_id, id = kb.id, name = %kb.name, entries = kb.entry_count, "knowledge base deleted in the admin interface");
    }
    Ok(deleted)
}

/// The export file of a knowledge base, as `/kb_export` makes it.
pub(super) async fn export(state: &WebState, kb: &KnowledgeBase) -> Result<Response, StoreError> {
    let entries = state.store().all_kb_entries(kb.id).await?;
    Ok(download(
        &format!("kb-{}.json", file_stem(&kb.name)),
        transfer::export_kb(&kb.name, kb.description.as_deref(), &entries),
    ))
}

/// Reads a knowledge-base file and appends its entries: the located fault of a bad file (nothing
/// written), or the new entries' ids, in the file's order.
pub(super) async fn import(
    state: &WebState,
    by: &Session,
    kb: &KnowledgeBase,
    bytes: &[u8],
) -> Result<Result<Vec<i64>, String>, StoreError> {
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
    let parsed = match transfer::import_kb(text) {
        Ok(p) => p,
        Err(e) => return Ok(Err(e.to_string())),
    };
    match state
        .store()
        .import_kb_entries(kb.id, &parsed.entries, WEB_AUTHOR, Utc::now())
        .await
    {
        Ok(ids) => {
            tracing::info!(admin = %by.actor(), guild = kb.guild_id, kb = kb.id, entries = ids.len(), "knowledge entries imported in the admin interface");
            Ok(Ok(ids))
        }
        Err(StoreError::InvalidArgument(message)) => Ok(Err(message)),
        Err(StoreError::NotFound(_)) => Ok(Err("this knowledge base was deleted meanwhile".into())),
        Err(e) => Err(e),
    }
}

pub(super) fn entries_word(n: u64) -> &'static str {
    if n == 1 { "entry" } else { "entries" }
}
