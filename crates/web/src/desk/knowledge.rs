//! Knowledge bases of a guild: list and create them; browse one's entries in pages, add, edit and delete
//! entries; delete a whole knowledge base; export and import its entries. As pages and as
//! `/api/knowledge_bases…`.
//!
//! Names, entries and files are checked as `/kb_create`, `/kb_add` and `/kb_import` check them; an import
//! appends the file's entries to the knowledge base it is made into (the name in the file is not used).

use super::{
    ConfirmForm, FormError, GuildChoice, GuildParam, ImportForm, ImportPage, Invalid, KbFileSchema,
    MAX_IMPORT_BYTES, PAGE_SIZE, Paging, Shown, WEB_AUTHOR, api_guild, api_window, author,
    confirmed, download, file_refused, file_stem, import_text, not_found, page_guild, path_id,
    refused, tags_text,
};
use crate::WebState;
use crate::api::{ApiError, ErrorBody};
use crate::auth::{ApiAdmin, PageAdmin, Session};
use crate::pages::{capitalize, csrf_refused, error_page, list_url, render, store_error};
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
use disconcierge_core::desk::model::{KbEntry, KnowledgeBase, NewKbEntry};
use disconcierge_core::desk::transfer;
use disconcierge_store::{KbCreated, StoreError};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::{OpenApiRouter, UtoipaMethodRouterExt};
use utoipa_axum::routes;

pub fn routes() -> Router<WebState> {
    Router::new()
        .route("/disconcierge/knowledge", get(list_page).post(create_page))
        .route("/disconcierge/knowledge/{id}", get(kb_page))
        .route("/disconcierge/knowledge/{id}/delete", post(delete_kb_page))
        .route("/disconcierge/knowledge/{id}/entries", post(add_entry_page))
        .route(
            "/disconcierge/knowledge/{id}/entries/{entry}",
            get(entry_page).post(edit_entry_page),
        )
        .route(
            "/disconcierge/knowledge/{id}/entries/{entry}/delete",
            post(delete_entry_page),
        )
        .route("/disconcierge/knowledge/{id}/export", get(export_page))
        .route(
            "/disconcierge/knowledge/{id}/import",
            get(import_form)
                .post(import_page)
                .layer(DefaultBodyLimit::max(3 * MAX_IMPORT_BYTES)),
        )
}

pub fn api_routes() -> OpenApiRouter<WebState> {
    OpenApiRouter::default()
        .routes(routes!(list_api, create_api))
        .routes(routes!(kb_api, delete_kb_api))
        .routes(routes!(entries_api, add_entry_api))
        .routes(routes!(entry_api, edit_entry_api, delete_entry_api))
        .routes(routes!(export_api))
        .routes(routes!(import_api).layer(DefaultBodyLimit::max(MAX_IMPORT_BYTES)))
}

const KB_FIELDS: &[&str] = &["name", "description"];
const ENTRY_FIELDS: &[&str] = &["title", "content", "tags"];
/// Longest description accepted, in characters.
const MAX_DESCRIPTION: usize = transfer::MAX_TEXT;

// ----- Views and input -----

/// A knowledge base: entries the LLM gets as reference material.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = KnowledgeBase)]
pub struct KbView {
    pub id: i64,
    pub guild_id: String,
    pub name: String,
    pub description: Option<String>,
    pub entry_count: u64,
    /// A Discord id, or `"0"` for the admin interface.
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    #[serde(skip)]
    pub author: String,
}

impl KbView {
    pub fn new(kb: &KnowledgeBase) -> Self {
        KbView {
            id: kb.id,
            guild_id: kb.guild_id.to_string(),
            name: kb.name.clone(),
            description: kb.description.clone(),
            entry_count: kb.entry_count,
            created_by: kb.created_by.to_string(),
            created_at: kb.created_at,
            author: author(kb.created_by),
        }
    }

    pub fn created(&self) -> String {
        when(self.created_at)
    }
}

/// An entry of a knowledge base.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = KnowledgeEntry)]
pub struct KbEntryView {
    pub id: i64,
    pub kb_id: i64,
    pub guild_id: String,
    pub title: String,
    pub content: String,
    pub tags: Vec<String>,
    /// A Discord id, or `"0"` for the admin interface.
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    #[serde(skip)]
    pub author: String,
}

impl KbEntryView {
    pub fn new(e: &KbEntry) -> Self {
        KbEntryView {
            id: e.id,
            kb_id: e.kb_id,
            guild_id: e.guild_id.to_string(),
            title: e.title.clone(),
            content: e.content.clone(),
            tags: e.tags.clone(),
            created_by: e.created_by.to_string(),
            created_at: e.created_at,
            updated_at: e.updated_at,
            author: author(e.created_by),
        }
    }

    pub fn created(&self) -> String {
        when(self.created_at)
    }

    pub fn updated(&self) -> String {
        when(self.updated_at)
    }

    pub fn title_excerpt(&self) -> String {
        excerpt(&self.title, 120)
    }

    pub fn content_excerpt(&self) -> String {
        excerpt(&self.content, 200)
    }

    pub fn tag_list(&self) -> String {
        tags_text(&self.tags)
    }
}

/// The form that creates a knowledge base, as typed.
#[derive(Debug, Default, Deserialize)]
struct KbForm {
    csrf: Option<String>,
    #[serde(default)]
    name: String,
    #[serde(default)]
    description: String,
}

/// The body of `POST /api/knowledge_bases`.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = KnowledgeBaseInput)]
struct KbBody {
    /// Unique in the guild (ignoring case), at most 100 characters.
    #[serde(default)]
    name: String,
    /// At most 4000 characters; empty or `null`: none.
    #[serde(default)]
    description: Option<String>,
}

/// A knowledge base's name and description, checked as `/kb_create` checks them.
fn checked_kb(name: &str, description: Option<&str>) -> Result<(String, Option<String>), Invalid> {
    let name = transfer::kb_name(name).map_err(|e| Invalid::from_input(e, KB_FIELDS))?;
    let description = description
        .map(|d| d.replace("\r\n", "\n").trim().to_string())
        .filter(|d| !d.is_empty());
    if let Some(d) = &description {
        let n = d.chars().count();
        if n > MAX_DESCRIPTION {
            return Err(Invalid::new(
                "description",
                format!("is {n} characters long; at most {MAX_DESCRIPTION} are allowed"),
            ));
        }
    }
    Ok((name, description))
}

/// The entry forms, as typed.
#[derive(Debug, Default, Deserialize)]
struct EntryForm {
    csrf: Option<String>,
    #[serde(default)]
    title: String,
    #[serde(default)]
    content: String,
    /// Separated by commas.
    #[serde(default)]
    tags: String,
}

impl EntryForm {
    fn of(e: &KbEntry) -> Self {
        EntryForm {
            csrf: None,
            title: e.title.clone(),
            content: e.content.clone(),
            tags: tags_text(&e.tags),
        }
    }

    /// The entry to save, checked as `/kb_add` checks it.
    fn checked(&self) -> Result<NewKbEntry, Invalid> {
        let tags = transfer::parse_tag_list(Some(&self.tags))
            .map_err(|e| Invalid::from_input(e, ENTRY_FIELDS))?;
        checked_entry(NewKbEntry {
            title: self.title.replace("\r\n", "\n"),
            content: self.content.replace("\r\n", "\n"),
            tags,
        })
    }
}

/// The body of `POST …/entries` and `PUT …/entries/{entry}`; fields left out are empty.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = KnowledgeEntryInput)]
struct EntryBody {
    /// At most 200 characters.
    #[serde(default)]
    title: String,
    /// At most 4000 characters.
    #[serde(default)]
    content: String,
    /// At most 20 tags of at most 50 characters.
    #[serde(default)]
    tags: Vec<String>,
}

fn checked_entry(entry: NewKbEntry) -> Result<NewKbEntry, Invalid> {
    transfer::kb_entry("", &entry).map_err(|e| Invalid::from_input(e, ENTRY_FIELDS))
}

// ----- Actions shared by pages and API -----

/// Creates a knowledge base; a name the guild has (ignoring case) is refused.
async fn create(
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
async fn find_kb(
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
async fn find_entry(
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

async fn add_entry(
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

async fn edit_entry(
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

async fn delete_entry(state: &WebState, by: &Session, entry: &KbEntry) -> Result<bool, StoreError> {
    let deleted = state
        .store()
        .delete_kb_entry(entry.guild_id, entry.id)
        .await?;
    if deleted {
        tracing::info!(admin = %by.actor(), guild = entry.guild_id, kb = entry.kb_id, id = entry.id, "knowledge entry deleted in the admin interface");
    }
    Ok(deleted)
}

async fn delete_kb(state: &WebState, by: &Session, kb: &KnowledgeBase) -> Result<bool, StoreError> {
    let deleted = state.store().delete_kb(kb.guild_id, kb.id).await?;
    if deleted {
        tracing::info!(admin = %by.actor(), guild = kb.guild_id, id = kb.id, name = %kb.name, entries = kb.entry_count, "knowledge base deleted in the admin interface");
    }
    Ok(deleted)
}

/// The export file of a knowledge base, as `/kb_export` makes it.
async fn export(state: &WebState, kb: &KnowledgeBase) -> Result<Response, StoreError> {
    let entries = state.store().all_kb_entries(kb.id).await?;
    Ok(download(
        &format!("kb-{}.json", file_stem(&kb.name)),
        transfer::export_kb(&kb.name, kb.description.as_deref(), &entries),
    ))
}

/// Reads a knowledge-base file and appends its entries: the located fault of a bad file (nothing
/// written), or how many were added.
async fn import(
    state: &WebState,
    by: &Session,
    kb: &KnowledgeBase,
    bytes: &[u8],
) -> Result<Result<u64, String>, StoreError> {
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
        Ok(n) => {
            tracing::info!(admin = %by.actor(), guild = kb.guild_id, kb = kb.id, entries = n, "knowledge entries imported in the admin interface");
            Ok(Ok(n))
        }
        Err(StoreError::InvalidArgument(message)) => Ok(Err(message)),
        Err(StoreError::NotFound(_)) => Ok(Err("this knowledge base was deleted meanwhile".into())),
        Err(e) => Err(e),
    }
}

fn entries_word(n: u64) -> &'static str {
    if n == 1 { "entry" } else { "entries" }
}

// ----- Pages: the list -----

#[derive(Debug, Default, Deserialize)]
struct ListQuery {
    #[serde(default)]
    guild: String,
    #[serde(default)]
    done: String,
    #[serde(default)]
    name: String,
}

#[derive(Template)]
#[template(path = "desk_knowledge.html")]
struct ListPage {
    csrf: String,
    admin: String,
    guilds: Vec<GuildChoice>,
    guild: String,
    kbs: Vec<KbView>,
    notice: Option<String>,
    form: KbForm,
    form_error: FormError,
}

async fn list_view(
    state: &WebState,
    session: &Session,
    typed_guild: &str,
    mut shown: Shown<KbForm>,
) -> Response {
    let (guilds, guild_id) = match page_guild(state, typed_guild).await {
        Ok(g) => g,
        Err(response) => return response,
    };
    let kbs = match state.store().list_kbs(guild_id).await {
        Ok(k) => k,
        Err(e) => return store_error(e),
    };
    let (form, form_error) = shown.take_form(KbForm::default);
    render(
        shown.status,
        &ListPage {
            csrf: session.csrf.clone(),
            admin: session.admin.username.clone(),
            guild: guilds.id(),
            guilds: guilds.choices,
            kbs: kbs.iter().map(KbView::new).collect(),
            notice: shown.notice,
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
    let notice = (q.done == "deleted").then(|| format!("Knowledge base \"{}\" deleted.", q.name));
    list_view(&state, &session, &q.guild, Shown::notice(notice)).await
}

async fn create_page(
    State(state): State<WebState>,
    PageAdmin(session): PageAdmin,
    Query(g): Query<GuildParam>,
    Form(form): Form<KbForm>,
) -> Response {
    if !session.csrf_ok(form.csrf.as_deref()) {
        return csrf_refused();
    }
    let guild_id = match page_guild(&state, &g.guild).await {
        Ok((_, id)) => id,
        Err(response) => return response,
    };
    let invalid = match checked_kb(&form.name, Some(&form.description)) {
        Err(e) => e,
        Ok((name, description)) => {
            match create(&state, &session, guild_id, &name, description.as_deref()).await {
                Ok(Ok(kb)) => {
                    return Redirect::to(&format!(
                        "/disconcierge/knowledge/{}?guild={guild_id}&done=created",
                        kb.id
                    ))
                    .into_response();
                }
                Ok(Err(e)) => e,
                Err(e) => return store_error(e),
            }
        }
    };
    list_view(&state, &session, &g.guild, Shown::invalid(form, invalid)).await
}

// ----- Pages: one knowledge base -----

#[derive(Debug, Default, Deserialize)]
struct KbQuery {
    #[serde(default)]
    guild: String,
    #[serde(default)]
    page: String,
    #[serde(default)]
    done: String,
    #[serde(default)]
    entry: String,
    #[serde(default)]
    added: String,
}

impl KbQuery {
    fn notice(&self) -> Option<String> {
        let entry = self.entry.trim();
        match self.done.as_str() {
            "created" => {
                Some("Knowledge base created. Add entries below, or import a file.".into())
            }
            "added" => Some(format!("Entry #{entry} added.")),
            "deleted" => Some(format!("Entry #{entry} deleted.")),
            "imported" => {
                let n = self.added.trim().parse::<u64>().unwrap_or(0);
                Some(format!("Imported {n} {}.", entries_word(n)))
            }
            _ => None,
        }
    }
}

#[derive(Template)]
#[template(path = "desk_kb.html")]
struct KbPage {
    csrf: String,
    admin: String,
    guild: String,
    kb: KbView,
    entries: Vec<KbEntryView>,
    page: u32,
    pages: u32,
    prev_page: Option<String>,
    next_page: Option<String>,
    notice: Option<String>,
    error: Option<String>,
    form: EntryForm,
    form_error: FormError,
}

/// The page's guild and its knowledge base `id`, or the page to show instead (a bad guild, no such
/// knowledge base, the database).
async fn page_kb(
    state: &WebState,
    guild: &str,
    id: &str,
) -> Result<(u64, KnowledgeBase), Response> {
    let (_, guild_id) = page_guild(state, guild).await?;
    match find_kb(state, guild_id, id).await {
        Ok(Some(kb)) => Ok((guild_id, kb)),
        Ok(None) => Err(no_such_kb(id, guild_id)),
        Err(e) => Err(store_error(e)),
    }
}

fn no_such_kb(id: &str, guild_id: u64) -> Response {
    error_page(
        StatusCode::NOT_FOUND,
        "No such knowledge base",
        &format!(
            "Server {guild_id} has no knowledge base {id:?} (deleted, or another server's?). The list of \
             knowledge bases links to them."
        ),
    )
}

async fn kb_view(
    state: &WebState,
    session: &Session,
    typed_guild: &str,
    id: &str,
    typed_page: &str,
    mut shown: Shown<EntryForm>,
) -> Response {
    let (guilds, guild_id) = match page_guild(state, typed_guild).await {
        Ok(g) => g,
        Err(response) => return response,
    };
    let kb = match find_kb(state, guild_id, id).await {
        Ok(Some(kb)) => kb,
        Ok(None) => return no_such_kb(id, guild_id),
        Err(e) => return store_error(e),
    };
    let paging = match Paging::new(typed_page, kb.entry_count) {
        Ok(p) => p,
        Err(message) => {
            return error_page(
                StatusCode::BAD_REQUEST,
                "No such page",
                &capitalize(&message),
            );
        }
    };
    let (entries, _) = match state
        .store()
        .kb_entries(kb.id, paging.offset(), PAGE_SIZE)
        .await
    {
        Ok(e) => e,
        Err(e) => return store_error(e),
    };
    let guild = guilds.id();
    let url = |page: u32| {
        let page = page.to_string();
        list_url(
            &format!("/disconcierge/knowledge/{}", kb.id),
            &[("guild", &guild), ("page", &page)],
            None,
        )
    };
    let (form, form_error) = shown.take_form(EntryForm::default);
    render(
        shown.status,
        &KbPage {
            csrf: session.csrf.clone(),
            admin: session.admin.username.clone(),
            prev_page: (paging.page > 1).then(|| url(paging.page - 1)),
            next_page: (paging.page < paging.pages).then(|| url(paging.page + 1)),
            guild,
            kb: KbView::new(&kb),
            entries: entries.iter().map(KbEntryView::new).collect(),
            page: paging.page,
            pages: paging.pages,
            notice: shown.notice,
            error: shown.error,
            form,
            form_error,
        },
    )
}

async fn kb_page(
    State(state): State<WebState>,
    PageAdmin(session): PageAdmin,
    Path(id): Path<String>,
    Query(q): Query<KbQuery>,
) -> Response {
    kb_view(
        &state,
        &session,
        &q.guild,
        &id,
        &q.page,
        Shown::notice(q.notice()),
    )
    .await
}

async fn add_entry_page(
    State(state): State<WebState>,
    PageAdmin(session): PageAdmin,
    Path(id): Path<String>,
    Query(g): Query<GuildParam>,
    Form(form): Form<EntryForm>,
) -> Response {
    if !session.csrf_ok(form.csrf.as_deref()) {
        return csrf_refused();
    }
    let (guild_id, kb) = match page_kb(&state, &g.guild, &id).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    let invalid = match form.checked() {
        Err(e) => e,
        Ok(entry) => match add_entry(&state, &session, &kb, &entry).await {
            Ok(Ok(Some(e))) => {
                return Redirect::to(&format!(
                    "/disconcierge/knowledge/{}?guild={guild_id}&page=last&done=added&entry={}",
                    kb.id, e.id
                ))
                .into_response();
            }
            Ok(Ok(None)) => return no_such_kb(&id, guild_id),
            Ok(Err(e)) => e,
            Err(e) => return store_error(e),
        },
    };
    // The last page, where the entry would have been added.
    kb_view(
        &state,
        &session,
        &g.guild,
        &id,
        "last",
        Shown::invalid(form, invalid),
    )
    .await
}

async fn delete_kb_page(
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
            "Not deleted: tick \"confirm\" next to the button that deletes the knowledge base.",
            StatusCode::UNPROCESSABLE_ENTITY,
        );
        return kb_view(&state, &session, &g.guild, &id, "", shown).await;
    }
    let kb = match find_kb(&state, guild_id, &id).await {
        Ok(Some(kb)) => kb,
        Ok(None) => return no_such_kb(&id, guild_id),
        Err(e) => return store_error(e),
    };
    match delete_kb(&state, &session, &kb).await {
        Ok(true) => Redirect::to(&format!(
            "/disconcierge/knowledge?guild={guild_id}&done=deleted&name={}",
            crate::auth::url_encode(&kb.name)
        ))
        .into_response(),
        Ok(false) => no_such_kb(&id, guild_id),
        Err(e) => store_error(e),
    }
}

// ----- Pages: one entry -----

#[derive(Template)]
#[template(path = "desk_kb_entry.html")]
struct EntryPage {
    csrf: String,
    admin: String,
    guild: String,
    kb: KbView,
    e: KbEntryView,
    notice: Option<String>,
    error: Option<String>,
    form: EntryForm,
    form_error: FormError,
}

#[derive(Debug, Default, Deserialize)]
struct EntryQuery {
    #[serde(default)]
    guild: String,
    saved: Option<String>,
}

fn no_such_entry(entry: &str, kb: &KnowledgeBase) -> Response {
    error_page(
        StatusCode::NOT_FOUND,
        "No such entry",
        &format!(
            "The knowledge base \"{}\" has no entry {entry:?} (deleted since?).",
            kb.name
        ),
    )
}

/// The guild's knowledge base and one of its entries, or the page saying which is missing.
async fn kb_and_entry(
    state: &WebState,
    typed_guild: &str,
    id: &str,
    entry: &str,
) -> Result<(String, KnowledgeBase, KbEntry), Response> {
    let (guilds, guild_id) = page_guild(state, typed_guild).await?;
    let kb = match find_kb(state, guild_id, id).await {
        Ok(Some(kb)) => kb,
        Ok(None) => return Err(no_such_kb(id, guild_id)),
        Err(e) => return Err(store_error(e)),
    };
    match find_entry(state, guild_id, &kb, entry).await {
        Ok(Some(e)) => Ok((guilds.id(), kb, e)),
        Ok(None) => Err(no_such_entry(entry, &kb)),
        Err(e) => Err(store_error(e)),
    }
}

async fn entry_view(
    state: &WebState,
    session: &Session,
    typed_guild: &str,
    (id, entry): (&str, &str),
    mut shown: Shown<EntryForm>,
) -> Response {
    let (guild, kb, entry) = match kb_and_entry(state, typed_guild, id, entry).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    let (form, form_error) = shown.take_form(|| EntryForm::of(&entry));
    render(
        shown.status,
        &EntryPage {
            csrf: session.csrf.clone(),
            admin: session.admin.username.clone(),
            guild,
            kb: KbView::new(&kb),
            e: KbEntryView::new(&entry),
            notice: shown.notice,
            error: shown.error.or_else(|| form_error.summary()),
            form,
            form_error,
        },
    )
}

async fn entry_page(
    State(state): State<WebState>,
    PageAdmin(session): PageAdmin,
    Path((id, entry)): Path<(String, String)>,
    Query(q): Query<EntryQuery>,
) -> Response {
    let notice = q
        .saved
        .map(|_| "Saved; new replies use it now.".to_string());
    entry_view(
        &state,
        &session,
        &q.guild,
        (&id, &entry),
        Shown::notice(notice),
    )
    .await
}

async fn edit_entry_page(
    State(state): State<WebState>,
    PageAdmin(session): PageAdmin,
    Path((id, entry_id)): Path<(String, String)>,
    Query(g): Query<GuildParam>,
    Form(form): Form<EntryForm>,
) -> Response {
    if !session.csrf_ok(form.csrf.as_deref()) {
        return csrf_refused();
    }
    let (guild, kb, entry) = match kb_and_entry(&state, &g.guild, &id, &entry_id).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    let invalid = match form.checked() {
        Err(e) => e,
        Ok(new) => match edit_entry(&state, &session, &entry, &new).await {
            Ok(Ok(Some(_))) => {
                return Redirect::to(&format!(
                    "/disconcierge/knowledge/{}/entries/{}?guild={guild}&saved=1",
                    kb.id, entry.id
                ))
                .into_response();
            }
            Ok(Ok(None)) => return no_such_entry(&entry_id, &kb),
            Ok(Err(e)) => e,
            Err(e) => return store_error(e),
        },
    };
    entry_view(
        &state,
        &session,
        &g.guild,
        (&id, &entry_id),
        Shown::invalid(form, invalid),
    )
    .await
}

async fn delete_entry_page(
    State(state): State<WebState>,
    PageAdmin(session): PageAdmin,
    Path((id, entry_id)): Path<(String, String)>,
    Query(g): Query<GuildParam>,
    Form(form): Form<ConfirmForm>,
) -> Response {
    if !session.csrf_ok(form.csrf.as_deref()) {
        return csrf_refused();
    }
    if !confirmed(form.confirm.as_deref()) {
        let shown = Shown::error(
            "Not deleted: tick \"confirm\" next to the Delete button.",
            StatusCode::UNPROCESSABLE_ENTITY,
        );
        return entry_view(&state, &session, &g.guild, (&id, &entry_id), shown).await;
    }
    let (guild, kb, entry) = match kb_and_entry(&state, &g.guild, &id, &entry_id).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    match delete_entry(&state, &session, &entry).await {
        Ok(true) => Redirect::to(&format!(
            "/disconcierge/knowledge/{}?guild={guild}&done=deleted&entry={}",
            kb.id, entry.id
        ))
        .into_response(),
        Ok(false) => no_such_entry(&entry_id, &kb),
        Err(e) => store_error(e),
    }
}

// ----- Pages: export and import -----

async fn export_page(
    State(state): State<WebState>,
    PageAdmin(_): PageAdmin,
    Path(id): Path<String>,
    Query(g): Query<GuildParam>,
) -> Response {
    match page_kb(&state, &g.guild, &id).await {
        Ok((_, kb)) => export(&state, &kb).await.unwrap_or_else(store_error),
        Err(response) => response,
    }
}

fn import_view(
    session: &Session,
    kb: &KnowledgeBase,
    json: String,
    error: Option<String>,
    status: StatusCode,
) -> Response {
    let back = format!("/disconcierge/knowledge/{}?guild={}", kb.id, kb.guild_id);
    render(
        status,
        &ImportPage {
            csrf: session.csrf.clone(),
            admin: session.admin.username.clone(),
            title: format!("Import entries into \"{}\"", kb.name),
            intro: "Paste a file made by /kb_export or by Export on a knowledge base's page. Its entries \
                    are added to this knowledge base (the name in the file does not matter). Every entry \
                    is checked first: a file with a fault imports nothing."
                .into(),
            action: format!(
                "/disconcierge/knowledge/{}/import?guild={}",
                kb.id, kb.guild_id
            ),
            back,
            json,
            error,
        },
    )
}

async fn import_form(
    State(state): State<WebState>,
    PageAdmin(session): PageAdmin,
    Path(id): Path<String>,
    Query(g): Query<GuildParam>,
) -> Response {
    match page_kb(&state, &g.guild, &id).await {
        Ok((_, kb)) => import_view(&session, &kb, String::new(), None, StatusCode::OK),
        Err(response) => response,
    }
}

async fn import_page(
    State(state): State<WebState>,
    PageAdmin(session): PageAdmin,
    Path(id): Path<String>,
    Query(g): Query<GuildParam>,
    Form(form): Form<ImportForm>,
) -> Response {
    if !session.csrf_ok(form.csrf.as_deref()) {
        return csrf_refused();
    }
    let (guild_id, kb) = match page_kb(&state, &g.guild, &id).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    match import(&state, &session, &kb, form.json.as_bytes()).await {
        Ok(Ok(n)) => Redirect::to(&format!(
            "/disconcierge/knowledge/{}?guild={guild_id}&done=imported&added={n}",
            kb.id
        ))
        .into_response(),
        Ok(Err(message)) => import_view(
            &session,
            &kb,
            form.json,
            Some(format!("Nothing was imported: {message}.")),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        Err(e) => store_error(e),
    }
}

// ----- API -----

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
        Ok(added) => Ok(Json(Imported { added })),
        Err(message) => Err(ApiError {
            message: format!("nothing was imported: {message}"),
            ..Invalid::new("file", message).api()
        }),
    }
}
