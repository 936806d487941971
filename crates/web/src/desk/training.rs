//! Trained answers of a guild: browse (by category, or a full-text search), add, edit, delete, export
//! and import; as pages and as `/api/training…`.
//!
//! Adding is `/train`: a question trained before (case, punctuation and spacing aside) has its answer
//! replaced. Editing replaces exactly what the form holds, question included. Exports and imports are
//! the files of `/export_training` and `/import_training`.

use super::{
    ConfirmForm, FormError, GuildChoice, GuildParam, ImportForm, ImportPage, Invalid,
    MAX_IMPORT_BYTES, PAGE_SIZE, Paging, Shown, TrainingFileSchema, WEB_AUTHOR, api_guild,
    api_window, author, bad_request, confirmed, download, file_refused, import_text, not_found,
    page_guild, path_id, refused, tags_text, when_or,
};
use crate::WebState;
use crate::api::{ApiError, ErrorBody};
use crate::auth::{ApiAdmin, PageAdmin, Session};
use crate::pages::{csrf_refused, error_page, list_url, render, store_error};
use crate::views::{excerpt, when};
use askama::Template;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, JsonRejection};
use axum::extract::{DefaultBodyLimit, Form, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use disconcierge_core::desk::model::{NewTrainingEntry, TrainOutcome, TrainingEntry};
use disconcierge_core::desk::{retrieval, transfer};
use disconcierge_store::StoreError;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::{OpenApiRouter, UtoipaMethodRouterExt};
use utoipa_axum::routes;

pub fn routes() -> Router<WebState> {
    Router::new()
        .route("/disconcierge/training", get(list_page).post(add_page))
        .route("/disconcierge/training/export", get(export_page))
        .route(
            "/disconcierge/training/import",
            get(import_form)
                .post(import_page)
                .layer(DefaultBodyLimit::max(3 * MAX_IMPORT_BYTES)),
        )
        .route(
            "/disconcierge/training/{id}",
            get(entry_page).post(edit_page),
        )
        .route("/disconcierge/training/{id}/delete", post(delete_page))
}

pub fn api_routes() -> OpenApiRouter<WebState> {
    OpenApiRouter::default()
        .routes(routes!(list_api, add_api))
        .routes(routes!(export_api))
        .routes(routes!(import_api).layer(DefaultBodyLimit::max(MAX_IMPORT_BYTES)))
        .routes(routes!(entry_api, edit_api, delete_api))
}

/// The form's fields, in order: an error about anything else lands on the first.
const FIELDS: &[&str] = &["question", "answer", "category", "tags"];
/// Search results shown at most.
const SEARCH_LIMIT: u32 = 50;

// ----- Views and input -----

/// A trained answer: a question and the answer to send to it.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = TrainedAnswer)]
pub struct TrainingView {
    pub id: i64,
    pub guild_id: String,
    pub question: String,
    pub answer: String,
    pub category: Option<String>,
    pub tags: Vec<String>,
    /// A Discord id, or `"0"` for the admin interface.
    pub created_by: String,
    /// How many replies used it.
    pub uses: u32,
    pub last_used_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    #[serde(skip)]
    pub author: String,
}

impl TrainingView {
    pub fn new(e: &TrainingEntry) -> Self {
        TrainingView {
            id: e.id,
            guild_id: e.guild_id.to_string(),
            question: e.question.clone(),
            answer: e.answer.clone(),
            category: e.category.clone(),
            tags: e.tags.clone(),
            created_by: e.created_by.to_string(),
            uses: e.uses,
            last_used_at: e.last_used_at,
            created_at: e.created_at,
            updated_at: e.updated_at,
            author: author(e.created_by),
        }
    }

    pub fn last_used(&self) -> String {
        when_or(self.last_used_at, "never")
    }

    pub fn created(&self) -> String {
        when(self.created_at)
    }

    pub fn updated(&self) -> String {
        when(self.updated_at)
    }

    pub fn question_excerpt(&self) -> String {
        excerpt(&self.question, 120)
    }

    pub fn answer_excerpt(&self) -> String {
        excerpt(&self.answer, 160)
    }

    pub fn tag_list(&self) -> String {
        tags_text(&self.tags)
    }
}

/// The add and edit forms, as typed (kept to be shown back with the error).
#[derive(Debug, Default, Deserialize)]
pub(crate) struct EntryForm {
    csrf: Option<String>,
    #[serde(default)]
    question: String,
    #[serde(default)]
    answer: String,
    #[serde(default)]
    category: String,
    /// Separated by commas.
    #[serde(default)]
    tags: String,
}

impl EntryForm {
    fn of(e: &TrainingEntry) -> Self {
        EntryForm {
            csrf: None,
            question: e.question.clone(),
            answer: e.answer.clone(),
            category: e.category.clone().unwrap_or_default(),
            tags: tags_text(&e.tags),
        }
    }

    /// The entry to save, checked as `/train` checks it.
    fn checked(&self, guild_id: u64) -> Result<NewTrainingEntry, Invalid> {
        let tags = transfer::parse_tag_list(Some(&self.tags))
            .map_err(|e| Invalid::from_input(e, FIELDS))?;
        checked(NewTrainingEntry {
            guild_id,
            question: self.question.replace("\r\n", "\n"),
            answer: self.answer.replace("\r\n", "\n"),
            category: Some(self.category.clone()),
            tags,
            created_by: WEB_AUTHOR,
        })
    }
}

/// The body of `POST /api/training` and `PUT /api/training/{id}`; fields left out are empty.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = TrainedAnswerInput)]
struct EntryBody {
    /// At most 1000 characters, with at least one word.
    #[serde(default)]
    question: String,
    /// At most 4000 characters.
    #[serde(default)]
    answer: String,
    /// At most 100 characters; empty or `null`: none.
    #[serde(default)]
    category: Option<String>,
    /// At most 20 tags of at most 50 characters.
    #[serde(default)]
    tags: Vec<String>,
}

impl EntryBody {
    fn checked(self, guild_id: u64) -> Result<NewTrainingEntry, Invalid> {
        checked(NewTrainingEntry {
            guild_id,
            question: self.question,
            answer: self.answer,
            category: self.category,
            tags: self.tags,
            created_by: WEB_AUTHOR,
        })
    }
}

fn checked(entry: NewTrainingEntry) -> Result<NewTrainingEntry, Invalid> {
    transfer::training_entry("", &entry).map_err(|e| Invalid::from_input(e, FIELDS))
}

/// The question is another entry's: what to tell the admin.
fn question_taken() -> Invalid {
    Invalid::taken(
        "question",
        "another trained answer of this server already has this question (case, punctuation and \
         spacing aside); edit or delete that one instead",
    )
}

// ----- Actions shared by pages and API -----

/// What a list shows: a page of the guild's entries, or the best matches of a search.
struct Listed {
    entries: Vec<TrainingEntry>,
    /// `None` for a search.
    paging: Option<Paging>,
    total: Option<u64>,
}

/// A page (`page`, 1-based, or `offset`/`limit` for the API) or the matches of `search` (filtered by
/// `category` too, when given); `Err` with a message for an unusable search or page.
async fn list(
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
enum Window<'a> {
    /// A page of the admin interface, as typed (`page=`).
    Page(&'a str),
    Api {
        offset: u64,
        limit: u32,
    },
}

/// Adds (or, for a question trained before, replaces) an entry.
async fn add(
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
async fn edit(
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

async fn delete(
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
async fn export(state: &WebState, guild_id: u64) -> Result<Response, StoreError> {
    let entries = state.store().export_training(guild_id).await?;
    Ok(download(
        &format!("training-{guild_id}.json"),
        transfer::export_training(&entries),
    ))
}

/// Reads and imports a training file: the located fault of a bad file (nothing written), or what was
/// done.
async fn import(
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

// ----- Pages -----

/// The list's query string.
#[derive(Debug, Default, Deserialize)]
struct ListQuery {
    #[serde(default)]
    guild: String,
    #[serde(default)]
    category: String,
    #[serde(default)]
    q: String,
    #[serde(default)]
    page: String,
    /// What was just done (for the notice): `created`, `replaced`, `deleted`, `imported`.
    #[serde(default)]
    done: String,
    #[serde(default)]
    id: String,
    #[serde(default)]
    created: String,
    #[serde(default)]
    updated: String,
}

impl ListQuery {
    fn notice(&self) -> Option<String> {
        let id = self.id.trim();
        match self.done.as_str() {
            "created" => Some(format!("Trained answer #{id} saved.")),
            "replaced" => Some(format!(
                "Trained answer #{id} already had this question: its answer was replaced."
            )),
            "deleted" => Some(format!("Trained answer #{id} deleted.")),
            "imported" => {
                let n = |s: &str| s.trim().parse::<u64>().unwrap_or(0);
                let (created, updated) = (n(&self.created), n(&self.updated));
                Some(format!(
                    "Imported {} trained answer{}: {created} new, {updated} replaced an earlier answer \
                     to the same question.",
                    created + updated,
                    if created + updated == 1 { "" } else { "s" }
                ))
            }
            _ => None,
        }
    }

    fn url(&self, guild: &str, page: u32) -> String {
        let page = page.to_string();
        list_url(
            "/disconcierge/training",
            &[
                ("guild", guild),
                ("category", &self.category),
                ("page", &page),
            ],
            None,
        )
    }
}

struct CategoryOption {
    name: String,
    count: u64,
    selected: bool,
}

#[derive(Template)]
#[template(path = "desk_training.html")]
struct ListPage {
    csrf: String,
    admin: String,
    guilds: Vec<GuildChoice>,
    guild: String,
    filter: ListQuery,
    categories: Vec<CategoryOption>,
    summary: String,
    entries: Vec<TrainingView>,
    searching: bool,
    page: u32,
    pages: u32,
    prev_page: Option<String>,
    next_page: Option<String>,
    notice: Option<String>,
    error: Option<String>,
    form: EntryForm,
    form_error: FormError,
}

async fn list_view(
    state: &WebState,
    session: &Session,
    q: ListQuery,
    form: Option<(EntryForm, Invalid)>,
    status: StatusCode,
) -> Response {
    let (guilds, guild_id) = match page_guild(state, &q.guild).await {
        Ok(g) => g,
        Err(response) => return response,
    };
    let guild = guilds.id();
    let stats = match state.store().training_stats(guild_id).await {
        Ok(s) => s,
        Err(e) => return store_error(e),
    };
    let typed_category = q.category.trim().to_string();
    let mut categories: Vec<CategoryOption> = stats
        .by_category
        .iter()
        .filter_map(|(c, n)| {
            c.as_ref().map(|c| CategoryOption {
                name: c.clone(),
                count: *n,
                selected: *c == typed_category,
            })
        })
        .collect();
    if !typed_category.is_empty() && !categories.iter().any(|c| c.selected) {
        categories.insert(
            0,
            CategoryOption {
                name: typed_category.clone(),
                count: 0,
                selected: true,
            },
        );
    }
    let summary = if stats.replies == 0 {
        format!(
            "{} trained answer{}; no bot replies in tickets yet.",
            stats.entries,
            if stats.entries == 1 { "" } else { "s" }
        )
    } else {
        format!(
            "{} trained answer{}; {} of {} replies in tickets were trained answers sent as is.",
            stats.entries,
            if stats.entries == 1 { "" } else { "s" },
            stats.trained_replies,
            stats.replies
        )
    };
    let category = Some(typed_category.as_str()).filter(|c| !c.is_empty());
    let listed = match list(state, guild_id, category, &q.q, Window::Page(&q.page)).await {
        Ok(l) => l,
        Err(e) => return store_error(e),
    };
    let (entries, paging, error) = match listed {
        Ok(l) => (l.entries, l.paging, None),
        Err(message) => (Vec::new(), None, Some(crate::pages::capitalize(&message))),
    };
    let status = if error.is_some() && status == StatusCode::OK {
        StatusCode::BAD_REQUEST
    } else {
        status
    };
    let (page, pages) = paging.as_ref().map_or((1, 1), |p| (p.page, p.pages));
    let prev_page = (page > 1).then(|| q.url(&guild, page - 1));
    let next_page = (page < pages).then(|| q.url(&guild, page + 1));
    let (form, form_error) = match form {
        Some((form, e)) => (form, FormError::of(e)),
        None => (EntryForm::default(), FormError::default()),
    };
    render(
        status,
        &ListPage {
            csrf: session.csrf.clone(),
            admin: session.admin.username.clone(),
            guilds: guilds.choices,
            guild,
            notice: q.notice(),
            searching: !q.q.trim().is_empty(),
            filter: q,
            categories,
            summary,
            entries: entries.iter().map(TrainingView::new).collect(),
            page,
            pages,
            prev_page,
            next_page,
            error,
            form,
            form_error,
        },
    )
}

async fn list_page(
    State(state): State<WebState>,
    PageAdmin(session): PageAdmin,
    Query(q): Query<ListQuery>,
) -> Response {
    list_view(&state, &session, q, None, StatusCode::OK).await
}

async fn add_page(
    State(state): State<WebState>,
    PageAdmin(session): PageAdmin,
    Query(g): Query<GuildParam>,
    Form(form): Form<EntryForm>,
) -> Response {
    if !session.csrf_ok(form.csrf.as_deref()) {
        return csrf_refused();
    }
    let guild_id = match page_guild(&state, &g.guild).await {
        Ok((_, id)) => id,
        Err(response) => return response,
    };
    let refuse = |form: EntryForm, e: Invalid| {
        let q = ListQuery {
            guild: g.guild.clone(),
            ..Default::default()
        };
        list_view(
            &state,
            &session,
            q,
            Some((form, e)),
            StatusCode::UNPROCESSABLE_ENTITY,
        )
    };
    let entry = match form.checked(guild_id) {
        Ok(e) => e,
        Err(e) => return refuse(form, e).await,
    };
    match add(&state, &session, &entry).await {
        Ok(Ok(TrainOutcome::Created(e))) => Redirect::to(&format!(
            "/disconcierge/training?guild={guild_id}&done=created&id={}",
            e.id
        ))
        .into_response(),
        Ok(Ok(TrainOutcome::Updated { entry, .. })) => Redirect::to(&format!(
            "/disconcierge/training?guild={guild_id}&done=replaced&id={}",
            entry.id
        ))
        .into_response(),
        Ok(Err(e)) => refuse(form, e).await,
        Err(e) => store_error(e),
    }
}

#[derive(Template)]
#[template(path = "desk_training_entry.html")]
struct EntryPage {
    csrf: String,
    admin: String,
    guild: String,
    e: TrainingView,
    form: EntryForm,
    form_error: FormError,
    notice: Option<String>,
    error: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
struct EntryQuery {
    #[serde(default)]
    guild: String,
    saved: Option<String>,
}

fn no_such_entry(id: &str, guild_id: u64) -> Response {
    error_page(
        StatusCode::NOT_FOUND,
        "No such trained answer",
        &format!(
            "Server {guild_id} has no trained answer {id:?} (deleted, or another server's?). The list of \
             trained answers shows their numbers."
        ),
    )
}

async fn entry_view(
    state: &WebState,
    session: &Session,
    typed_guild: &str,
    id: &str,
    mut shown: Shown<EntryForm>,
) -> Response {
    let (guilds, guild_id) = match page_guild(state, typed_guild).await {
        Ok(g) => g,
        Err(response) => return response,
    };
    let entry = match path_id(id) {
        None => None,
        Some(n) => match state.store().training_entry(guild_id, n).await {
            Ok(e) => e,
            Err(e) => return store_error(e),
        },
    };
    let Some(entry) = entry else {
        return no_such_entry(id, guild_id);
    };
    let (form, form_error) = shown.take_form(|| EntryForm::of(&entry));
    render(
        shown.status,
        &EntryPage {
            csrf: session.csrf.clone(),
            admin: session.admin.username.clone(),
            guild: guilds.id(),
            e: TrainingView::new(&entry),
            error: shown.error.or_else(|| form_error.summary()),
            form,
            form_error,
            notice: shown.notice,
        },
    )
}

async fn entry_page(
    State(state): State<WebState>,
    PageAdmin(session): PageAdmin,
    Path(id): Path<String>,
    Query(q): Query<EntryQuery>,
) -> Response {
    let notice = q
        .saved
        .map(|_| "Saved; new replies use it now.".to_string());
    entry_view(&state, &session, &q.guild, &id, Shown::notice(notice)).await
}

async fn edit_page(
    State(state): State<WebState>,
    PageAdmin(session): PageAdmin,
    Path(id): Path<String>,
    Query(g): Query<GuildParam>,
    Form(form): Form<EntryForm>,
) -> Response {
    if !session.csrf_ok(form.csrf.as_deref()) {
        return csrf_refused();
    }
    let guild_id = match page_guild(&state, &g.guild).await {
        Ok((_, id)) => id,
        Err(response) => return response,
    };
    let Some(n) = path_id(&id) else {
        return no_such_entry(&id, guild_id);
    };
    let invalid = match form.checked(guild_id) {
        Err(e) => e,
        Ok(entry) => match edit(&state, &session, n, &entry).await {
            Ok(Ok(Some(_))) => {
                return Redirect::to(&format!(
                    "/disconcierge/training/{n}?guild={guild_id}&saved=1"
                ))
                .into_response();
            }
            Ok(Ok(None)) => return no_such_entry(&id, guild_id),
            Ok(Err(e)) => e,
            Err(e) => return store_error(e),
        },
    };
    let shown = Shown::invalid(form, invalid);
    entry_view(&state, &session, &g.guild, &id, shown).await
}

async fn delete_page(
    State(state): State<WebState>,
    PageAdmin(session): PageAdmin,
    Path(id): Path<String>,
    Query(g): Query<GuildParam>,
    Form(form): Form<ConfirmForm>,
) -> Response {
    if !session.csrf_ok(form.csrf.as_deref()) {
        return csrf_refused();
    }
    let guild_id = match page_guild(&state, &g.guild).await {
        Ok((_, id)) => id,
        Err(response) => return response,
    };
    if !confirmed(form.confirm.as_deref()) {
        let shown = Shown::error(
            "Not deleted: tick \"confirm\" next to the Delete button.",
            StatusCode::UNPROCESSABLE_ENTITY,
        );
        return entry_view(&state, &session, &g.guild, &id, shown).await;
    }
    let Some(n) = path_id(&id) else {
        return no_such_entry(&id, guild_id);
    };
    match delete(&state, &session, guild_id, n).await {
        Ok(true) => Redirect::to(&format!(
            "/disconcierge/training?guild={guild_id}&done=deleted&id={n}"
        ))
        .into_response(),
        Ok(false) => no_such_entry(&id, guild_id),
        Err(e) => store_error(e),
    }
}

async fn export_page(
    State(state): State<WebState>,
    PageAdmin(_): PageAdmin,
    Query(g): Query<GuildParam>,
) -> Response {
    let guild_id = match page_guild(&state, &g.guild).await {
        Ok((_, id)) => id,
        Err(response) => return response,
    };
    export(&state, guild_id).await.unwrap_or_else(store_error)
}

fn import_view(
    session: &Session,
    guild_id: u64,
    json: String,
    error: Option<String>,
    status: StatusCode,
) -> Response {
    render(
        status,
        &ImportPage {
            csrf: session.csrf.clone(),
            admin: session.admin.username.clone(),
            title: format!("Import trained answers into server {guild_id}"),
            intro: "Paste a file made by /export_training or by Export on the trained answers page. Every \
                    entry is checked first: a file with a fault imports nothing. A question trained before \
                    has its answer replaced."
                .into(),
            action: format!("/disconcierge/training/import?guild={guild_id}"),
            back: format!("/disconcierge/training?guild={guild_id}"),
            json,
            error,
        },
    )
}

async fn import_form(
    State(state): State<WebState>,
    PageAdmin(session): PageAdmin,
    Query(g): Query<GuildParam>,
) -> Response {
    match page_guild(&state, &g.guild).await {
        Ok((_, guild_id)) => import_view(&session, guild_id, String::new(), None, StatusCode::OK),
        Err(response) => response,
    }
}

async fn import_page(
    State(state): State<WebState>,
    PageAdmin(session): PageAdmin,
    Query(g): Query<GuildParam>,
    Form(form): Form<ImportForm>,
) -> Response {
    if !session.csrf_ok(form.csrf.as_deref()) {
        return csrf_refused();
    }
    let guild_id = match page_guild(&state, &g.guild).await {
        Ok((_, id)) => id,
        Err(response) => return response,
    };
    match import(&state, &session, guild_id, form.json.as_bytes()).await {
        Ok(Ok(report)) => Redirect::to(&format!(
            "/disconcierge/training?guild={guild_id}&done=imported&created={}&updated={}",
            report.created, report.updated
        ))
        .into_response(),
        Ok(Err(message)) => import_view(
            &session,
            guild_id,
            form.json,
            Some(format!("Nothing was imported: {message}.")),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        Err(e) => store_error(e),
    }
}

// ----- API -----

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
        })),
        Err(message) => Err(ApiError {
            message: format!("nothing was imported: {message}"),
            ..Invalid::new("file", message).api()
        }),
    }
}
