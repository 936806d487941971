//! The trained-answer pages under `/disconcierge/training`: the list with its search, one answer, and
//! the export and import forms.

use super::ops::{Window, add, delete, edit, export, import, list};
use super::views::{EntryForm, TrainingView};
use crate::WebState;
use crate::auth::{PageAdmin, Session};
use crate::desk::{
    ConfirmForm, FormError, GuildChoice, GuildParam, ImportForm, ImportPage, Invalid,
    MAX_IMPORT_BYTES, Shown, confirmed, page_guild, path_id,
};
use crate::paging::list_url;
use crate::render::{csrf_refused, error_page, render, store_error};
use askama::Template;
use axum::Router;
use axum::extract::{DefaultBodyLimit, Form, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use disconcierge_core::desk::model::TrainOutcome;
use serde::Deserialize;

pub(super) fn routes() -> Router<WebState> {
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
        Err(message) => (Vec::new(), None, Some(crate::views::capitalize(&message))),
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
