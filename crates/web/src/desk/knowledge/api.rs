//! The knowledge-base API under `/api/knowledge_bases`: the bases, their entries, export and import.

use super::ops::{
    add_entry, create, delete_entry, delete_kb, edit_entry, export, find_entry, find_kb, import,
};
use super::views::{EntryBody, KbBody, KbEntryView, KbView, checked_entry, checked_kb};
use crate::WebState;
use crate::auth::ApiAdmin;
use crate::desk::{
    GuildParam, Invalid, KbFileSchema, MAX_IMPORT_BYTES, api_guild, api_window, file_refused,
    not_found,
};
use crate::error::{ApiError, ErrorBody};
use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, JsonRejection};
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use disconcierge_core::desk::model::{KbEntry, KnowledgeBase, NewKbEntry};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::{OpenApiRouter, UtoipaMethodRouterExt};
use utoipa_axum::routes;

pub(super) fn routes() -> OpenApiRouter<WebState> {
    OpenApiRouter::default()
        .routes(routes!(list_api, create_api))
        .routes(routes!(kb_api, delete_kb_api))
        .routes(routes!(entries_api, add_entry_api))
        .routes(routes!(entry_api, edit_entry_api, delete_entry_api))
        .routes(routes!(export_api))
        .routes(routes!(import_api).layer(DefaultBodyLimit::max(MAX_IMPORT_BYTES)))
}

fn no_such_kb_api(id: &str, guild_id: u64) -> ApiError {
    not_found(format!("server {guild_id} has no knowledge base {id:?}"))
}

fn no_such_entry_api(entry: &str, kb: &KnowledgeBase) -> ApiError {
    not_found(format!(
        "the knowledge base {:?} has no entry {entry:?}",
        kb.name
    ))
}

async fn kb_of(state: &WebState, typed_guild: &str, id: &str) -> Result<KnowledgeBase, ApiError> {
    let guild_id = api_guild(typed_guild)?;
    find_kb(state, guild_id, id)
        .await?
        .ok_or_else(|| no_such_kb_api(id, guild_id))
}

async fn entry_of(
    state: &WebState,
    typed_guild: &str,
    id: &str,
    entry: &str,
) -> Result<(KnowledgeBase, KbEntry), ApiError> {
    let kb = kb_of(state, typed_guild, id).await?;
    let found = find_entry(state, kb.guild_id, &kb, entry).await?;
    match found {
        Some(e) => Ok((kb, e)),
        None => Err(no_such_entry_api(entry, &kb)),
    }
}

/// A guild's knowledge bases.
#[utoipa::path(
    get,
    path = "/api/knowledge_bases",
    operation_id = "list_knowledge_bases",
    tag = "knowledge bases",
    params(GuildParam),
    responses(
        (status = 200, description = "The guild's knowledge bases.", body = Vec<KbView>),
        (status = 400, description = "`bad_request`: `guild` is missing or not a Discord id.", body = ErrorBody),
    ),
    security(("session" = []), ("bearer" = [])),
)]
async fn list_api(
    State(state): State<WebState>,
    ApiAdmin(_): ApiAdmin,
    Query(g): Query<GuildParam>,
) -> Result<Json<Vec<KbView>>, ApiError> {
    let guild_id = api_guild(&g.guild)?;
    let kbs = state.store().list_kbs(guild_id).await?;
    Ok(Json(kbs.iter().map(KbView::new).collect()))
}

/// Create a knowledge base, as `/kb_create` does.
#[utoipa::path(
    post,
    path = "/api/knowledge_bases",
    operation_id = "create_knowledge_base",
    tag = "knowledge bases",
    params(GuildParam),
    request_body = KbBody,
    responses(
        (status = 201, description = "Created.", body = KbView),
        (status = 400, description = "`bad_request`: `guild` is missing or not a Discord id, or the body is \
            not the expected JSON (an unknown field is refused too).", body = ErrorBody),
        (status = 409, description = "`already_exists`: the guild has a knowledge base of this name.",
            body = ErrorBody),
        (status = 422, description = "`invalid`: the name or the description is not acceptable; `fields` \
            names it.", body = ErrorBody),
    ),
    security(("session" = []), ("bearer" = [])),
)]
async fn create_api(
    State(state): State<WebState>,
    ApiAdmin(session): ApiAdmin,
    Query(g): Query<GuildParam>,
    body: Result<Json<KbBody>, JsonRejection>,
) -> Result<(StatusCode, Json<KbView>), ApiError> {
    let guild_id = api_guild(&g.guild)?;
    let Json(body) = body?;
    let (name, description) =
        checked_kb(&body.name, body.description.as_deref()).map_err(Invalid::api)?;
    let kb = create(&state, &session, guild_id, &name, description.as_deref())
        .await?
        .map_err(Invalid::api)?;
    Ok((StatusCode::CREATED, Json(KbView::new(&kb))))
}

/// One knowledge base.
#[utoipa::path(
    get,
    path = "/api/knowledge_bases/{id}",
    operation_id = "get_knowledge_base",
    tag = "knowledge bases",
    params(("id" = i64, Path, description = "The knowledge base's id."), GuildParam),
    responses(
        (status = 200, description = "The knowledge base.", body = KbView),
        (status = 400, description = "`bad_request`: `guild` is missing or not a Discord id.", body = ErrorBody),
        (status = 404, description = "`not_found`: the guild has no such knowledge base.", body = ErrorBody),
    ),
    security(("session" = []), ("bearer" = [])),
)]
async fn kb_api(
    State(state): State<WebState>,
    ApiAdmin(_): ApiAdmin,
    Path(id): Path<String>,
    Query(g): Query<GuildParam>,
) -> Result<Json<KbView>, ApiError> {
    Ok(Json(KbView::new(&kb_of(&state, &g.guild, &id).await?)))
}

/// Delete a knowledge base with every entry.
#[utoipa::path(
    delete,
    path = "/api/knowledge_bases/{id}",
    operation_id = "delete_knowledge_base",
    tag = "knowledge bases",
    params(("id" = i64, Path, description = "The knowledge base's id."), GuildParam),
    responses(
        (status = 204, description = "Deleted."),
        (status = 400, description = "`bad_request`: `guild` is missing or not a Discord id.", body = ErrorBody),
        (status = 404, description = "`not_found`: the guild has no such knowledge base.", body = ErrorBody),
    ),
    security(("session" = []), ("bearer" = [])),
)]
async fn delete_kb_api(
    State(state): State<WebState>,
    ApiAdmin(session): ApiAdmin,
    Path(id): Path<String>,
    Query(g): Query<GuildParam>,
) -> Result<StatusCode, ApiError> {
    let kb = kb_of(&state, &g.guild, &id).await?;
    if delete_kb(&state, &session, &kb).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(no_such_kb_api(&id, kb.guild_id))
    }
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct EntriesQuery {
    /// The guild (Discord server id) whose support desk this is about.
    #[serde(default)]
    #[param(required = true)]
    guild: String,
    /// Entries to skip: the previous page's `next_offset` (0 by default).
    #[param(value_type = Option<u64>)]
    offset: Option<String>,
    /// Items per page, 1 to 200 (50 by default).
    #[param(value_type = Option<u32>, minimum = 1, maximum = 200)]
    limit: Option<String>,
}

/// A page of a knowledge base's entries.
#[derive(Serialize, ToSchema)]
#[schema(as = KnowledgeEntryList)]
struct EntryList {
    items: Vec<KbEntryView>,
    /// Entries in all.
    total: u64,
    /// Pass as `offset` for the next page; `null` on the last page.
    next_offset: Option<u64>,
}

/// A knowledge base's entries, in pages.
#[utoipa::path(
    get,
    path = "/api/knowledge_bases/{id}/entries",
    operation_id = "list_knowledge_entries",
    tag = "knowledge bases",
    params(("id" = i64, Path, description = "The knowledge base's id."), EntriesQuery),
    responses(
        (status = 200, description = "A page of entries.", body = EntryList),
        (status = 400, description = "`bad_request`: `guild` is missing or not a Discord id, or `offset` or \
            `limit` is not valid.", body = ErrorBody),
        (status = 404, description = "`not_found`: the guild has no such knowledge base.", body = ErrorBody),
    ),
    security(("session" = []), ("bearer" = [])),
)]
async fn entries_api(
    State(state): State<WebState>,
    ApiAdmin(_): ApiAdmin,
    Path(id): Path<String>,
    Query(q): Query<EntriesQuery>,
) -> Result<Json<EntryList>, ApiError> {
    let (offset, limit) = api_window(q.offset.as_deref(), q.limit.as_deref())?;
    let kb = kb_of(&state, &q.guild, &id).await?;
    let (entries, total) = state.store().kb_entries(kb.id, offset, limit).await?;
    let next = offset + entries.len() as u64;
    Ok(Json(EntryList {
        next_offset: (next < total && !entries.is_empty()).then_some(next),
        items: entries.iter().map(KbEntryView::new).collect(),
        total,
    }))
}

/// Add an entry to a knowledge base, as `/kb_add` does.
#[utoipa::path(
    post,
    path = "/api/knowledge_bases/{id}/entries",
    operation_id = "add_knowledge_entry",
    tag = "knowledge bases",
    params(("id" = i64, Path, description = "The knowledge base's id."), GuildParam),
    request_body = EntryBody,
    responses(
        (status = 201, description = "Added.", body = KbEntryView),
        (status = 400, description = "`bad_request`: `guild` is missing or not a Discord id, or the body is \
            not the expected JSON (an unknown field is refused too).", body = ErrorBody),
        (status = 404, description = "`not_found`: the guild has no such knowledge base.", body = ErrorBody),
        (status = 422, description = "`invalid`: a field is empty or too long; `fields` names it.", body = ErrorBody),
    ),
    security(("session" = []), ("bearer" = [])),
)]
async fn add_entry_api(
    State(state): State<WebState>,
    ApiAdmin(session): ApiAdmin,
    Path(id): Path<String>,
    Query(g): Query<GuildParam>,
    body: Result<Json<EntryBody>, JsonRejection>,
) -> Result<(StatusCode, Json<KbEntryView>), ApiError> {
    let kb = kb_of(&state, &g.guild, &id).await?;
    let Json(body) = body?;
    let entry = checked_entry(NewKbEntry {
        title: body.title,
        content: body.content,
        tags: body.tags,
    })
    .map_err(Invalid::api)?;
    match add_entry(&state, &session, &kb, &entry)
        .await?
        .map_err(Invalid::api)?
    {
        Some(e) => Ok((StatusCode::CREATED, Json(KbEntryView::new(&e)))),
        None => Err(no_such_kb_api(&id, kb.guild_id)),
    }
}

/// One entry of a knowledge base.
#[utoipa::path(
    get,
    path = "/api/knowledge_bases/{id}/entries/{entry}",
    operation_id = "get_knowledge_entry",
    tag = "knowledge bases",
    params(
        ("id" = i64, Path, description = "The knowledge base's id."),
        ("entry" = i64, Path, description = "The entry's id."),
        GuildParam,
    ),
    responses(
        (status = 200, description = "The entry.", body = KbEntryView),
        (status = 400, description = "`bad_request`: `guild` is missing or not a Discord id.", body = ErrorBody),
        (status = 404, description = "`not_found`: the guild has no such knowledge base, or it has no such \
            entry.", body = ErrorBody),
    ),
    security(("session" = []), ("bearer" = [])),
)]
async fn entry_api(
    State(state): State<WebState>,
    ApiAdmin(_): ApiAdmin,
    Path((id, entry)): Path<(String, String)>,
    Query(g): Query<GuildParam>,
) -> Result<Json<KbEntryView>, ApiError> {
    let (_, e) = entry_of(&state, &g.guild, &id, &entry).await?;
    Ok(Json(KbEntryView::new(&e)))
}

/// Replace an entry of a knowledge base: the whole entry (tags left out are cleared).
#[utoipa::path(
    put,
    path = "/api/knowledge_bases/{id}/entries/{entry}",
    operation_id = "edit_knowledge_entry",
    tag = "knowledge bases",
    params(
        ("id" = i64, Path, description = "The knowledge base's id."),
        ("entry" = i64, Path, description = "The entry's id."),
        GuildParam,
    ),
    request_body = EntryBody,
    responses(
        (status = 200, description = "Saved: the entry.", body = KbEntryView),
        (status = 400, description = "`bad_request`: `guild` is missing or not a Discord id, or the body is \
            not the expected JSON (an unknown field is refused too).", body = ErrorBody),
        (status = 404, description = "`not_found`: the guild has no such knowledge base, or it has no such \
            entry.", body = ErrorBody),
        (status = 422, description = "`invalid`: a field is empty or too long; `fields` names it.", body = ErrorBody),
    ),
    security(("session" = []), ("bearer" = [])),
)]
async fn edit_entry_api(
    State(state): State<WebState>,
    ApiAdmin(session): ApiAdmin,
    Path((id, entry_id)): Path<(String, String)>,
    Query(g): Query<GuildParam>,
    body: Result<Json<EntryBody>, JsonRejection>,
) -> Result<Json<KbEntryView>, ApiError> {
    let (kb, entry) = entry_of(&state, &g.guild, &id, &entry_id).await?;
    let Json(body) = body?;
    let new = checked_entry(NewKbEntry {
        title: body.title,
        content: body.content,
        tags: body.tags,
    })
    .map_err(Invalid::api)?;
    match edit_entry(&state, &session, &entry, &new)
        .await?
        .map_err(Invalid::api)?
    {
        Some(saved) => Ok(Json(KbEntryView::new(&saved))),
        None => Err(no_such_entry_api(&entry_id, &kb)),
    }
}

/// Delete an entry of a knowledge base.
#[utoipa::path(
    delete,
    path = "/api/knowledge_bases/{id}/entries/{entry}",
    operation_id = "delete_knowledge_entry",
    tag = "knowledge bases",
    params(
        ("id" = i64, Path, description = "The knowledge base's id."),
        ("entry" = i64, Path, description = "The entry's id."),
        GuildParam,
    ),
    responses(
        (status = 204, description = "Deleted."),
        (status = 400, description = "`bad_request`: `guild` is missing or not a Discord id.", body = ErrorBody),
        (status = 404, description = "`not_found`: the guild has no such knowledge base, or it has no such \
            entry.", body = ErrorBody),
    ),
    security(("session" = []), ("bearer" = [])),
)]
async fn delete_entry_api(
    State(state): State<WebState>,
    ApiAdmin(session): ApiAdmin,
    Path((id, entry_id)): Path<(String, String)>,
    Query(g): Query<GuildParam>,
) -> Result<StatusCode, ApiError> {
    let (kb, entry) = entry_of(&state, &g.guild, &id, &entry_id).await?;
    if delete_entry(&state, &session, &entry).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(no_such_entry_api(&entry_id, &kb))
    }
}

/// Export a knowledge base's entries, as `/kb_export` does.
///
/// The file is sent as a download (`Content-Disposition: attachment`); `POST
/// /api/knowledge_bases/{id}/import` reads it back.
#[utoipa::path(
    get,
    path = "/api/knowledge_bases/{id}/export",
    operation_id = "export_knowledge_base",
    tag = "knowledge bases",
    params(("id" = i64, Path, description = "The knowledge base's id."), GuildParam),
    responses(
        (status = 200, description = "The export file.", body = KbFileSchema,
            headers(("Content-Disposition" = String, description = "`attachment; filename=\"kb-<name>.json\"`"))),
        (status = 400, description = "`bad_request`: `guild` is missing or not a Discord id.", body = ErrorBody),
        (status = 404, description = "`not_found`: the guild has no such knowledge base.", body = ErrorBody),
    ),
    security(("session" = []), ("bearer" = [])),
)]
async fn export_api(
    State(state): State<WebState>,
    ApiAdmin(_): ApiAdmin,
    Path(id): Path<String>,
    Query(g): Query<GuildParam>,
) -> Result<Response, ApiError> {
    let kb = kb_of(&state, &g.guild, &id).await?;
    Ok(export(&state, &kb).await?)
}

/// What an import into a knowledge base did.
#[derive(Serialize, ToSchema)]
#[schema(as = KnowledgeImported)]
struct Imported {
    /// Entries added.
    added: u64,
    /// Their ids, in the file's order.
    ids: Vec<i64>,
}

/// Import entries into a knowledge base, as `/kb_import` does.
///
/// The body is an export file itself, at most 8 MiB; its entries are appended (the name in the file is
/// not used). Every entry is checked first: a file with a fault imports nothing.
#[utoipa::path(
    post,
    path = "/api/knowledge_bases/{id}/import",
    operation_id = "import_knowledge_base",
    tag = "knowledge bases",
    params(("id" = i64, Path, description = "The knowledge base's id."), GuildParam),
    request_body(content = KbFileSchema, description = "A knowledge-base file."),
    responses(
        (status = 200, description = "Imported.", body = Imported),
        (status = 400, description = "`bad_request`: `guild` is missing or not a Discord id; `bad_file`: the \
            body could not be read.", body = ErrorBody),
        (status = 404, description = "`not_found`: the guild has no such knowledge base.", body = ErrorBody),
        (status = 413, description = "`bad_file`: the file is larger than 8 MiB.", body = ErrorBody),
        (status = 422, description = "`invalid`: the file is not a knowledge-base file, or an entry is not \
            valid (the message says where); nothing was imported.", body = ErrorBody),
    ),
    security(("session" = []), ("bearer" = [])),
)]
async fn import_api(
    State(state): State<WebState>,
    ApiAdmin(session): ApiAdmin,
    Path(id): Path<String>,
    Query(g): Query<GuildParam>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Imported>, ApiError> {
    let kb = kb_of(&state, &g.guild, &id).await?;
    let body = body.map_err(file_refused)?;
    match import(&state, &session, &kb, &body).await? {
        Ok(ids) => Ok(Json(Imported {
            added: ids.len() as u64,
            ids,
        })),
        Err(message) => Err(ApiError {
            message: format!("nothing was imported: {message}"),
            ..Invalid::new("file", message).api()
        }),
    }
}
