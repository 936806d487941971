//! The knowledge-base pages under `/disconcierge/knowledge`: the list, one knowledge base with its
//! entries, one entry, and the export and import forms.

use super::ops::{
    add_entry, create, delete_entry, delete_kb, edit_entry, entries_word, export, find_entry,
    find_kb, import,
};
use super::views::{EntryForm, KbEntryView, KbForm, KbView, checked_kb};
use crate::WebState;
use crate::auth::{PageAdmin, Session};
use crate::desk::{
    ConfirmForm, FormError, GuildChoice, GuildParam, ImportForm, ImportPage, MAX_IMPORT_BYTES,
    PAGE_SIZE, Paging, Shown, confirmed, page_guild,
};
use crate::paging::list_url;
use crate::render::{csrf_refused, error_page, render, store_error};
use crate::views::capitalize;
use askama::Template;
use axum::Router;
use axum::extract::{DefaultBodyLimit, Form, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use disconcierge_core::desk::model::{KbEntry, KnowledgeBase};
use serde::Deserialize;

pub(super) fn routes() -> Router<WebState> {
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

// ----- the list -----

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

// ----- one knowledge base -----

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

// ----- one entry -----

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

// ----- export and import -----

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
        Ok(Ok(ids)) => Redirect::to(&format!(
            "/disconcierge/knowledge/{}?guild={guild_id}&done=imported&added={}",
            kb.id,
            ids.len()
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
