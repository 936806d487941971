//! The trained-answer API under `/api/training`: the list, one answer, export and import.

use super::ops::{Window, add, delete, edit, export, import, list};
use super::views::{EntryBody, TrainingView};
use crate::WebState;
use crate::auth::ApiAdmin;
use crate::desk::{
    GuildParam, Invalid, MAX_IMPORT_BYTES, TrainingFileSchema, api_guild, api_window, bad_request,
    file_refused, not_found, path_id,
};
use crate::error::{ApiError, ErrorBody};
use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, JsonRejection};
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use disconcierge_core::desk::model::TrainOutcome;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::{OpenApiRouter, UtoipaMethodRouterExt};
use utoipa_axum::routes;

pub(super) fn routes() -> OpenApiRouter<WebState> {
    OpenApiRouter::default()
        .routes(routes!(list_api, add_api))
        .routes(routes!(export_api))
        .routes(routes!(import_api).layer(DefaultBodyLimit::max(MAX_IMPORT_BYTES)))
        .routes(routes!(entry_api, edit_api, delete_api))
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct ApiListQuery {
    /// The guild (Discord server id) whose support desk this is about.
    #[serde(default)]
    #[param(required = true)]
    guild: String,
    /// Only trained answers of this category.
    #[serde(default)]
    category: String,
    /// Full-text search (best matches first, up to `limit`; no paging).
    #[serde(default)]
    q: String,
    /// Trained answers to skip: the previous page's `next_offset` (0 by default).
    #[param(value_type = Option<u64>)]
    offset: Option<String>,
    /// Items per page, 1 to 200 (50 by default).
    #[param(value_type = Option<u32>, minimum = 1, maximum = 200)]
    limit: Option<String>,
}

/// A page of trained answers, or the matches of a search.
#[derive(Serialize, ToSchema)]
#[schema(as = TrainedAnswerList)]
struct TrainingList {
    items: Vec<TrainingView>,
    /// Entries in all (of the category); `null` for a search.
    total: Option<u64>,
    /// Pass as `offset` for the next page; `null` on the last page and for a search.
    next_offset: Option<u64>,
}

/// A guild's trained answers, by category, or the best matches of a full-text search.
#[utoipa::path(
    get,
    path = "/api/training",
    operation_id = "list_trained_answers",
    tag = "trained answers",
    params(ApiListQuery),
    responses(
        (status = 200, description = "A page of trained answers, or a search's matches.", body = TrainingList),
        (status = 400, description = "`bad_request`: `guild` is missing or not a Discord id, `offset` or \
            `limit` is not valid, or the search has no words.", body = ErrorBody),
    ),
    security(("session" = []), ("bearer" = [])),
)]
async fn list_api(
    State(state): State<WebState>,
    ApiAdmin(_): ApiAdmin,
    Query(q): Query<ApiListQuery>,
) -> Result<Json<TrainingList>, ApiError> {
    let guild_id = api_guild(&q.guild)?;
    let (offset, limit) = api_window(q.offset.as_deref(), q.limit.as_deref())?;
    let category = Some(q.category.trim()).filter(|c| !c.is_empty());
    let listed = list(
        &state,
        guild_id,
        category,
        &q.q,
        Window::Api { offset, limit },
    )
    .await?
    .map_err(bad_request)?;
    let next_offset = listed.total.and_then(|total| {
        let next = offset + listed.entries.len() as u64;
        (next < total && !listed.entries.is_empty()).then_some(next)
    });
    Ok(Json(TrainingList {
        items: listed.entries.iter().map(TrainingView::new).collect(),
        total: listed.total,
        next_offset,
    }))
}

/// What training did: a new trained answer, or a new answer to a question trained before.
#[derive(Serialize, ToSchema)]
#[schema(as = TrainOutcome)]
struct Trained {
    /// `created`, or `replaced`: the question was trained before and its answer was replaced.
    #[schema(value_type = String, pattern = "^(created|replaced)$")]
    outcome: &'static str,
    entry: TrainingView,
    /// For `replaced`: the answer before.
    previous_answer: Option<String>,
}

/// Train an answer, as `/train` does.
///
/// A question trained before (case, punctuation and spacing aside) has its answer replaced: 201 for a
/// new trained answer, 200 when an answer was replaced.
#[utoipa::path(
    post,
    path = "/api/training",
    operation_id = "train",
    tag = "trained answers",
    params(GuildParam),
    request_body = EntryBody,
    responses(
        (status = 201, description = "A new trained answer.", body = Trained),
        (status = 200, description = "The question was trained before: its answer was replaced.", body = Trained),
        (status = 400, description = "`bad_request`: `guild` is missing or not a Discord id, or the body is \
            not the expected JSON (an unknown field is refused too).", body = ErrorBody),
        (status = 422, description = "`invalid`: a field is empty or too long; `fields` names it.", body = ErrorBody),
    ),
    security(("session" = []), ("bearer" = [])),
)]
async fn add_api(
    State(state): State<WebState>,
    ApiAdmin(session): ApiAdmin,
    Query(g): Query<GuildParam>,
    body: Result<Json<EntryBody>, JsonRejection>,
) -> Result<(StatusCode, Json<Trained>), ApiError> {
    let guild_id = api_guild(&g.guild)?;
    let Json(body) = body?;
    let entry = body.checked(guild_id).map_err(Invalid::api)?;
    match add(&state, &session, &entry).await?.map_err(Invalid::api)? {
        TrainOutcome::Created(e) => Ok((
            StatusCode::CREATED,
            Json(Trained {
                outcome: "created",
                entry: TrainingView::new(&e),
                previous_answer: None,
            }),
        )),
        TrainOutcome::Updated {
            entry,
            previous_answer,
        } => Ok((
            StatusCode::OK,
            Json(Trained {
                outcome: "replaced",
                entry: TrainingView::new(&entry),
                previous_answer: Some(previous_answer),
            }),
        )),
    }
}

fn no_such_entry_api(id: &str, guild_id: u64) -> ApiError {
    not_found(format!("server {guild_id} has no trained answer {id:?}"))
}

/// One trained answer.
#[utoipa::path(
    get,
    path = "/api/training/{id}",
    operation_id = "get_trained_answer",
    tag = "trained answers",
    params(("id" = i64, Path, description = "The trained answer's id."), GuildParam),
    responses(
        (status = 200, description = "The trained answer.", body = TrainingView),
        (status = 400, description = "`bad_request`: `guild` is missing or not a Discord id.", body = ErrorBody),
        (status = 404, description = "`not_found`: the guild has no such trained answer.", body = ErrorBody),
    ),
    security(("session" = []), ("bearer" = [])),
)]
async fn entry_api(
    State(state): State<WebState>,
    ApiAdmin(_): ApiAdmin,
    Path(id): Path<String>,
    Query(g): Query<GuildParam>,
) -> Result<Json<TrainingView>, ApiError> {
    let guild_id = api_guild(&g.guild)?;
    let n = path_id(&id).ok_or_else(|| no_such_entry_api(&id, guild_id))?;
    let entry = state
        .store()
        .training_entry(guild_id, n)
        .await?
        .ok_or_else(|| no_such_entry_api(&id, guild_id))?;
    Ok(Json(TrainingView::new(&entry)))
}

/// Replace a trained answer: the whole entry, question included (category and tags left out are
/// cleared).
#[utoipa::path(
    put,
    path = "/api/training/{id}",
    operation_id = "edit_trained_answer",
    tag = "trained answers",
    params(("id" = i64, Path, description = "The trained answer's id."), GuildParam),
    request_body = EntryBody,
    responses(
        (status = 200, description = "Saved: the trained answer.", body = TrainingView),
        (status = 400, description = "`bad_request`: `guild` is missing or not a Discord id, or the body is \
            not the expected JSON (an unknown field is refused too).", body = ErrorBody),
        (status = 404, description = "`not_found`: the guild has no such trained answer.", body = ErrorBody),
        (status = 409, description = "`already_exists`: another trained answer of the guild has this \
            question.", body = ErrorBody),
        (status = 422, description = "`invalid`: a field is empty or too long; `fields` names it.", body = ErrorBody),
    ),
    security(("session" = []), ("bearer" = [])),
)]
async fn edit_api(
    State(state): State<WebState>,
    ApiAdmin(session): ApiAdmin,
    Path(id): Path<String>,
    Query(g): Query<GuildParam>,
    body: Result<Json<EntryBody>, JsonRejection>,
) -> Result<Json<TrainingView>, ApiError> {
    let guild_id = api_guild(&g.guild)?;
    let Json(body) = body?;
    let n = path_id(&id).ok_or_else(|| no_such_entry_api(&id, guild_id))?;
    let entry = body.checked(guild_id).map_err(Invalid::api)?;
    match edit(&state, &session, n, &entry).await? {
        Ok(Some(saved)) => Ok(Json(TrainingView::new(&saved))),
        Ok(None) => Err(no_such_entry_api(&id, guild_id)),
        Err(e) => Err(e.api()),
    }
}

/// Delete a trained answer.
#[utoipa::path(
    delete,
    path = "/api/training/{id}",
    operation_id = "delete_trained_answer",
    tag = "trained answers",
    params(("id" = i64, Path, description = "The trained answer's id."), GuildParam),
    responses(
        (status = 204, description = "Deleted."),
        (status = 400, description = "`bad_request`: `guild` is missing or not a Discord id.", body = ErrorBody),
        (status = 404, description = "`not_found`: the guild has no such trained answer.", body = ErrorBody),
    ),
    security(("session" = []), ("bearer" = [])),
)]
async fn delete_api(
    State(state): State<WebState>,
    ApiAdmin(session): ApiAdmin,
    Path(id): Path<String>,
    Query(g): Query<GuildParam>,
) -> Result<StatusCode, ApiError> {
    let guild_id = api_guild(&g.guild)?;
    let n = path_id(&id).ok_or_else(|| no_such_entry_api(&id, guild_id))?;
    if delete(&state, &session, guild_id, n).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(no_such_entry_api(&id, guild_id))
    }
}

/// Export a guild's trained answers, as `/export_training` does.
///
/// The file is sent as a download (`Content-Disposition: attachment`); `POST /api/training/import`
/// reads it back.
#[utoipa::path(
    get,
    path = "/api/training/export",
    operation_id = "export_trained_answers",
    tag = "trained answers",
    params(GuildParam),
    responses(
        (status = 200, description = "The export file.", body = TrainingFileSchema,
            headers(("Content-Disposition" = String, description = "`attachment; filename=\"training-<guild>.json\"`"))),
        (status = 400, description = "`bad_request`: `guild` is missing or not a Discord id.", body = ErrorBody),
    ),
    security(("session" = []), ("bearer" = [])),
)]
async fn export_api(
    State(state): State<WebState>,
    ApiAdmin(_): ApiAdmin,
    Query(g): Query<GuildParam>,
) -> Result<Response, ApiError> {
    let guild_id = api_guild(&g.guild)?;
    Ok(export(&state, guild_id).await?)
}

/// What an import of trained answers did.
#[derive(Serialize, ToSchema)]
#[schema(as = TrainingImported)]
struct Imported {
    created: u64,
    /// Entries whose question was trained before: their answer was replaced.
    updated: u64,
    /// The id of each entry of the file, in its order (a question given twice appears twice).
    ids: Vec<i64>,
}

/// Import trained answers, as `/import_training` does.
///
/// The body is an export file itself, at most 8 MiB. Every entry is checked first: a file with a fault
/// imports nothing. A question trained before has its answer replaced.
#[utoipa::path(
    post,
    path = "/api/training/import",
    operation_id = "import_trained_answers",
    tag = "trained answers",
    params(GuildParam),
    request_body(content = TrainingFileSchema, description = "A trained-answers file."),
    responses(
        (status = 200, description = "Imported.", body = Imported),
        (status = 400, description = "`bad_request`: `guild` is missing or not a Discord id; `bad_file`: the \
            body could not be read.", body = ErrorBody),
        (status = 413, description = "`bad_file`: the file is larger than 8 MiB.", body = ErrorBody),
        (status = 422, description = "`invalid`: the file is not a trained-answers file, or an entry is not \
            valid (the message says where); nothing was imported.", body = ErrorBody),
    ),
    security(("session" = []), ("bearer" = [])),
)]
async fn import_api(
    State(state): State<WebState>,
    ApiAdmin(session): ApiAdmin,
    Query(g): Query<GuildParam>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Imported>, ApiError> {
    let guild_id = api_guild(&g.guild)?;
    let body = body.map_err(file_refused)?;
    match import(&state, &session, guild_id, &body).await? {
        Ok(report) => Ok(Json(Imported {
            created: report.created,
            updated: report.updated,
            ids: report.ids,
        })),
        Err(message) => Err(ApiError {
            message: format!("nothing was imported: {message}"),
            ..Invalid::new("file", message).api()
        }),
    }
}
