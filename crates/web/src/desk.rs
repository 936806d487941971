//! The support desk in the admin interface: tickets with their transcripts, trained answers and knowledge
//! bases, as pages under `/disconcierge` and as JSON under `/api`.
//!
//! Everything is about one guild (Discord server) at a time: pages offer the guilds that have any desk data
//! ([`TicketStore::desk_guilds`](disconcierge_store::TicketStore::desk_guilds)) and take the one chosen as
//! `?guild=<id>` (the first one when none is given; any other id may be typed, to start a guild's trained
//! answers before it has any). Every store call is scoped by that guild, so another guild's rows are
//! never shown, edited or deleted through it. The API takes the same `?guild=` (required, except on the
//! ticket list, where it filters).
//!
//! What staff type is checked by the same rules as the Discord commands
//! ([`disconcierge_core::desk::transfer`]), and imports and exports are the same files as `/import_training`,
//! `/export_training`, `/kb_import` and `/kb_export`. Entries created here have no Discord author: they
//! are recorded as created by [`WEB_AUTHOR`], and the admin's name goes to the log.

mod knowledge;
mod settings;
mod tickets;
mod training;

use crate::WebState;
use crate::error::ApiError;
use crate::paging::discord_id_param;
use crate::render::{error_page, store_error};
use crate::views::capitalize;
use askama::Template;
use axum::Router;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use disconcierge_core::desk::transfer::InputError;
use disconcierge_core::runtime_config::FieldError;
use disconcierge_store::StoreError;
use serde::Deserialize;

pub fn routes() -> Router<WebState> {
    tickets::routes()
        .merge(settings::routes())
        .merge(training::routes())
        .merge(knowledge::routes())
}

pub fn api_routes() -> utoipa_axum::router::OpenApiRouter<WebState> {
    tickets::api_routes()
        .merge(settings::api_routes())
        .merge(training::api_routes())
        .merge(knowledge::api_routes())
}

/// The `created_by` of trained answers and knowledge entries added in the admin interface: no Discord
/// user wrote them (Discord ids are never 0).
pub(crate) const WEB_AUTHOR: u64 = 0;

/// Largest import accepted, as Discord's `/kb_import` and `/import_training` accept (8 MiB).
pub(crate) const MAX_IMPORT_BYTES: usize = 8 * 1024 * 1024;

/// Rows per page of trained answers and knowledge entries.
pub(crate) const PAGE_SIZE: u32 = crate::paging::PAGE_SIZE;

// ----- The guild -----

/// The guild asked for, as typed (`?guild=`), kept as text so that a bad value is shown back.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct GuildParam {
    /// The guild (Discord server id) whose support desk this is about.
    #[serde(default)]
    #[param(required = true)]
    pub guild: String,
}

/// One entry of the guild selector.
pub(crate) struct GuildChoice {
    pub id: String,
    pub selected: bool,
}

/// The guild a page shows and the selector's choices.
pub(crate) struct Guilds {
    pub choices: Vec<GuildChoice>,
    /// `None` when no guild has desk data and none was asked for.
    pub selected: Option<u64>,
}

impl Guilds {
    /// The selected guild's id as text (empty if none), for URLs and hidden fields.
    pub fn id(&self) -> String {
        self.selected.map(|g| g.to_string()).unwrap_or_default()
    }
}

/// The guilds to choose from and the one `typed` (or, when empty, the first with desk data); `Err` with
/// a message when `typed` is not a Discord id.
pub(crate) async fn guilds(
    state: &WebState,
    typed: &str,
) -> Result<Result<Guilds, String>, StoreError> {
    let known = state.store().desk_guilds().await?;
    let selected = match discord_id_param("guild", typed) {
        Err(message) => return Ok(Err(message)),
        Ok(Some(g)) => Some(g),
        Ok(None) => known.first().copied(),
    };
    let mut choices: Vec<GuildChoice> = known
        .iter()
        .map(|g| GuildChoice {
            id: g.to_string(),
            selected: Some(*g) == selected,
        })
        .collect();
    if let Some(g) = selected.filter(|g| !known.contains(g)) {
        choices.insert(
            0,
            GuildChoice {
                id: g.to_string(),
                selected: true,
            },
        );
    }
    Ok(Ok(Guilds { choices, selected }))
}

/// The guild of a page, or the response to send instead (a bad id, no guild at all, the database).
pub(crate) async fn page_guild(state: &WebState, typed: &str) -> Result<(Guilds, u64), Response> {
    match guilds(state, typed).await {
        Err(e) => Err(store_error(e)),
        Ok(Err(message)) => Err(error_page(
            StatusCode::BAD_REQUEST,
            "Which server?",
            &capitalize(&message),
        )),
        Ok(Ok(g)) => match g.selected {
            Some(id) => Ok((g, id)),
            None => Err(error_page(
                StatusCode::NOT_FOUND,
                "No support desk yet",
                "No server has support-desk data yet (settings, tickets, trained answers or knowledge \
                 bases). Run /setup in a Discord server, or add ?guild=<server id> to this page's address \
                 to start one's trained answers or knowledge bases here.",
            )),
        },
    }
}

/// The guild of an API call: `?guild=` is required.
pub(crate) fn api_guild(typed: &str) -> Result<u64, ApiError> {
    match discord_id_param("guild", typed) {
        Ok(Some(g)) => Ok(g),
        Ok(None) => Err(bad_request(
            "guild is required: the Discord id of the server, as ?guild=<digits>".into(),
        )),
        Err(message) => Err(bad_request(message)),
    }
}

pub(crate) fn bad_request(message: String) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, "bad_request", message)
}

// ----- Files, in the OpenAPI document -----

/// A trained-answers file, as `/export_training` and `GET /api/training/export` make it and
/// `/import_training` and `POST /api/training/import` read it (`disconcierge_core::desk::transfer`'s
/// format, described here: the core crate does not depend on utoipa).
#[derive(utoipa::ToSchema)]
#[schema(as = TrainingFile)]
#[allow(dead_code)] // describes the JSON only; never built
pub(crate) struct TrainingFileSchema {
    /// `disconcierge.training`.
    #[schema(pattern = "^disconcierge\\.training$")]
    format: String,
    version: u32,
    entries: Vec<TrainingFileEntrySchema>,
}

/// One trained answer of a file.
#[derive(utoipa::ToSchema)]
#[schema(as = TrainingFileEntry)]
#[allow(dead_code)] // describes the JSON only; never built
struct TrainingFileEntrySchema {
    question: String,
    answer: String,
    #[schema(required = false)]
    category: Option<String>,
    #[schema(required = false)]
    tags: Vec<String>,
}

/// A knowledge-base file, as `/kb_export` and `GET /api/knowledge_bases/{id}/export` make it and
/// `/kb_import` and `POST /api/knowledge_bases/{id}/import` read it (`disconcierge_core::desk::transfer`'s
/// format).
#[derive(utoipa::ToSchema)]
#[schema(as = KnowledgeBaseFile)]
#[allow(dead_code)] // describes the JSON only; never built
pub(crate) struct KbFileSchema {
    /// `disconcierge.knowledge_base`.
    #[schema(pattern = "^disconcierge\\.knowledge_base$")]
    format: String,
    version: u32,
    /// The knowledge base's name (not used by an import, which appends to the knowledge base it is
    /// made into).
    name: String,
    #[schema(required = false)]
    description: Option<String>,
    entries: Vec<KbFileEntrySchema>,
}

/// One entry of a knowledge-base file.
#[derive(utoipa::ToSchema)]
#[schema(as = KnowledgeBaseFileEntry)]
#[allow(dead_code)] // describes the JSON only; never built
struct KbFileEntrySchema {
    title: String,
    content: String,
    #[schema(required = false)]
    tags: Vec<String>,
}

// ----- Errors -----

/// What is wrong with a submitted form or API body, and which field it is about.
#[derive(Debug, Clone)]
pub(crate) struct Invalid {
    pub field: &'static str,
    pub message: String,
    /// The value is fine but taken (a name or question another row has): 409 rather than 422.
    pub taken: bool,
}

impl Invalid {
    pub fn new(field: &'static str, message: impl Into<String>) -> Self {
        Invalid {
            field,
            message: message.into(),
            taken: false,
        }
    }

    /// A name or question another row of the guild has.
    pub fn taken(field: &'static str, message: impl Into<String>) -> Self {
        Invalid {
            taken: true,
            ..Invalid::new(field, message)
        }
    }

    /// 422 for a wrong value, 409 for a taken one.
    pub fn status(&self) -> StatusCode {
        if self.taken {
            StatusCode::CONFLICT
        } else {
            StatusCode::UNPROCESSABLE_ENTITY
        }
    }

    /// A located input error against the form field it names (`tags[2]` is the `tags` field; the
    /// position stays in the message). `fields` are the form's, the first one taking anything else.
    pub fn from_input(e: InputError, fields: &[&'static str]) -> Self {
        match e {
            InputError::Field { field, message } => {
                let matched = fields.iter().copied().find(|f| {
                    field == *f
                        || field
                            .strip_prefix(*f)
                            .is_some_and(|rest| rest.starts_with('['))
                });
                let name = matched.unwrap_or(fields[0]);
                let message = if field == name {
                    message
                } else {
                    format!("{field}: {message}")
                };
                Invalid::new(name, message)
            }
            syntax @ InputError::Syntax { .. } => Invalid::new(fields[0], syntax.to_string()),
        }
    }

    /// The message under the field: a sentence.
    pub fn sentence(&self) -> String {
        let mut s = capitalize(&self.message);
        if !s.ends_with('.') {
            s.push('.');
        }
        s
    }

    /// 422 (or 409 for a taken value), with the field named.
    pub fn api(self) -> ApiError {
        ApiError {
            status: self.status(),
            code: if self.taken {
                "already_exists"
            } else {
                "invalid"
            },
            message: format!(
                "nothing was saved: {}: {} (see `fields`)",
                self.field, self.message
            ),
            fields: vec![FieldError {
                field: self.field,
                message: self.message,
            }],
        }
    }
}

/// A submitted form's error, for the template: the field it is about and the sentence to show there.
#[derive(Default)]
pub(crate) struct FormError(Option<Invalid>);

impl FormError {
    pub fn of(e: Invalid) -> Self {
        FormError(Some(e))
    }

    /// The message to show under `field`, if it is the one in error.
    pub fn get(&self, field: &str) -> Option<String> {
        self.0
            .as_ref()
            .filter(|e| e.field == field)
            .map(Invalid::sentence)
    }

    /// The line above the form, naming the field.
    pub fn summary(&self) -> Option<String> {
        self.0.as_ref().map(|e| {
            let what = if e.message.starts_with(e.field) {
                e.message.clone()
            } else {
                format!("{}: {}", e.field, e.message)
            };
            format!("Nothing was saved: {what}.")
        })
    }
}

/// A store refusal of something validated before (a race, or a rule the checks missed), against `field`.
pub(crate) fn refused(e: StoreError, field: &'static str) -> Result<Invalid, StoreError> {
    match e {
        StoreError::InvalidArgument(message) => Ok(Invalid::new(field, message)),
        other => Err(other),
    }
}

/// An API not-found answer.
pub(crate) fn not_found(message: String) -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "not_found", message)
}

/// A row id from a URL; `None` when it is not a number (answered as "not found").
pub(crate) fn path_id(id: &str) -> Option<i64> {
    id.trim().parse::<i64>().ok()
}

/// A form's `confirm` box was ticked.
pub(crate) fn confirmed(confirm: Option<&str>) -> bool {
    confirm == Some("yes")
}

// ----- Shared forms -----

/// What a page with a form shows besides its data: the form as typed with its error (else the stored
/// values), a notice or an error, and the status.
pub(crate) struct Shown<F> {
    pub form: Option<(F, Invalid)>,
    pub notice: Option<String>,
    pub error: Option<String>,
    pub status: StatusCode,
}

impl<F> Default for Shown<F> {
    fn default() -> Self {
        Shown {
            form: None,
            notice: None,
            error: None,
            status: StatusCode::OK,
        }
    }
}

impl<F> Shown<F> {
    pub fn notice(notice: Option<String>) -> Self {
        Shown {
            notice,
            ..Default::default()
        }
    }

    pub fn invalid(form: F, e: Invalid) -> Self {
        Shown {
            status: e.status(),
            form: Some((form, e)),
            ..Default::default()
        }
    }

    pub fn error(message: impl Into<String>, status: StatusCode) -> Self {
        Shown {
            error: Some(message.into()),
            status,
            ..Default::default()
        }
    }

    /// The form to show and its error: as typed, or `stored()`.
    pub fn take_form(&mut self, stored: impl FnOnce() -> F) -> (F, FormError) {
        match self.form.take() {
            Some((form, e)) => (form, FormError::of(e)),
            None => (stored(), FormError::default()),
        }
    }
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct ConfirmForm {
    pub csrf: Option<String>,
    pub confirm: Option<String>,
}

#[derive(Template)]
#[template(path = "desk_import.html")]
pub(crate) struct ImportPage {
    pub csrf: String,
    pub admin: String,
    pub title: String,
    pub intro: String,
    pub action: String,
    pub back: String,
    pub json: String,
    pub error: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct ImportForm {
    pub csrf: Option<String>,
    #[serde(default)]
    pub json: String,
}

// ----- Shared helpers -----

/// `2026-11-28 14:03:07 UTC`, or `never`.
pub(crate) fn when_or(t: Option<DateTime<Utc>>, none: &str) -> String {
    t.map(crate::views::when)
        .unwrap_or_else(|| none.to_string())
}

/// Who created an entry: a Discord id, or the admin interface.
pub(crate) fn author(created_by: u64) -> String {
    if created_by == WEB_AUTHOR {
        "admin interface".into()
    } else {
        created_by.to_string()
    }
}

/// Tags as typed in a form: separated by commas.
pub(crate) fn tags_text(tags: &[String]) -> String {
    tags.join(", ")
}

/// An export file, downloaded (not shown) by browsers.
pub(crate) fn download(file_name: &str, json: String) -> Response {
    (
        [
            (
                header::CONTENT_TYPE,
                "application/json; charset=utf-8".to_string(),
            ),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{file_name}\""),
            ),
        ],
        json,
    )
        .into_response()
}

/// A file name fit for a download: letters, digits and `-` (as the Discord command names its files).
pub(crate) fn file_stem(name: &str) -> String {
    let stem: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let stem = stem.trim_matches('_');
    if stem.is_empty() {
        "export".into()
    } else {
        stem.to_string()
    }
}

/// An import body that could not be read (too large, most likely), in the API's error shape.
pub(crate) fn file_refused(e: axum::extract::rejection::BytesRejection) -> ApiError {
    let status = e.status();
    let message = if status == StatusCode::PAYLOAD_TOO_LARGE {
        format!("nothing was imported: the file is larger than {MAX_IMPORT_BYTES} bytes")
    } else {
        format!("the file could not be read: {}", e.body_text())
    };
    ApiError::new(status, "bad_file", message)
}

/// The text of an import: UTF-8 and not empty, or what is wrong with it.
pub(crate) fn import_text(bytes: &[u8]) -> Result<&str, String> {
    let text = std::str::from_utf8(bytes).map_err(|_| "the file is not UTF-8 text".to_string())?;
    if text.trim().is_empty() {
        return Err("the file is empty; paste the contents of an export file (JSON)".into());
    }
    Ok(text)
}

/// Page numbers of an offset-paginated list (1-based): the page asked for (`last` for the last one),
/// kept within the pages there are.
pub(crate) struct Paging {
    pub page: u32,
    pub pages: u32,
}

impl Paging {
    /// `typed` is the `page` parameter; `total` the rows in all.
    pub fn new(typed: &str, total: u64) -> Result<Paging, String> {
        let pages = u32::try_from(total.div_ceil(u64::from(PAGE_SIZE)))
            .unwrap_or(u32::MAX)
            .max(1);
        let page = match typed.trim() {
            "" => 1,
            "last" => pages,
            p => p
                .parse::<u32>()
                .ok()
                .filter(|p| *p >= 1)
                .ok_or_else(|| format!("page must be a number from 1, got {p:?}"))?,
        };
        Ok(Paging {
            page: page.min(pages),
            pages,
        })
    }

    pub fn offset(&self) -> u64 {
        u64::from(self.page - 1) * u64::from(PAGE_SIZE)
    }
}

/// `offset` and `limit` of an API list.
pub(crate) fn api_window(
    offset: Option<&str>,
    limit: Option<&str>,
) -> Result<(u64, u32), ApiError> {
    let limit = crate::paging::page_limit(limit, PAGE_SIZE)?;
    let offset = match offset.map(str::trim) {
        None | Some("") => 0,
        Some(o) => o
            .parse::<u64>()
            .map_err(|_| bad_request(format!("offset must be a whole number, got {o:?}")))?,
    };
    Ok((offset, limit))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn input_errors_land_on_their_field() {
        let fields = &["question", "answer", "category", "tags"];
        let e = Invalid::from_input(
            InputError::Field {
                field: "tags[2]".into(),
                message: "a tag is at most 50 characters".into(),
            },
            fields,
        );
        assert_eq!(e.field, "tags");
        assert_eq!(e.message, "tags[2]: a tag is at most 50 characters");
        let e = Invalid::from_input(
            InputError::Field {
                field: "answer".into(),
                message: "must not be empty".into(),
            },
            fields,
        );
        assert_eq!(
            (e.field, e.sentence().as_str()),
            ("answer", "Must not be empty.")
        );
        assert_eq!(
            FormError::of(e).summary().as_deref(),
            Some("Nothing was saved: answer: must not be empty.")
        );
        let tags = Invalid::new("tags", "tags[2]: a tag is at most 50 characters");
        assert_eq!(
            FormError::of(tags).summary().as_deref(),
            Some("Nothing was saved: tags[2]: a tag is at most 50 characters.")
        );
    }

    #[test]
    fn pages_stay_within_the_list() {
        let p = Paging::new("", 0).unwrap();
        assert_eq!((p.page, p.pages, p.offset()), (1, 1, 0));
        let p = Paging::new("3", 120).unwrap();
        assert_eq!((p.page, p.pages, p.offset()), (3, 3, 100));
        assert_eq!(Paging::new("9", 120).unwrap().page, 3);
        assert_eq!(Paging::new("last", 101).unwrap().page, 3);
        assert!(Paging::new("0", 10).is_err());
        assert!(Paging::new("x", 10).is_err());
        assert_eq!(file_stem("Product FAQ"), "Product_FAQ");
        assert_eq!(file_stem("../"), "export");
    }
}
