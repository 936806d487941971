//! Tickets: a guild's tickets filtered by state and opener, newest first, in keyset pages; one ticket
//! with its whole transcript (who wrote each message, and for the bot's replies how they were produced
//! and which trained answers and knowledge entries they used). As pages and as `GET /api/tickets…`.

use super::{GuildChoice, Guilds, bad_request, not_found, page_guild, path_id, when_or};
use crate::WebState;
use crate::auth::{ApiAdmin, PageAdmin};
use crate::error::{ApiError, ErrorBody};
use crate::paging::{Page, before_param, discord_id_param, list_json, list_url, listing};
use crate::render::{error_page, render, store_error};
use crate::views::{excerpt, when};
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use disconcierge_core::desk::model::{
    EntryKind, ReplySource, Ticket, TicketFilter, TicketMessage, TicketState,
};
use disconcierge_store::StoreError;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::collections::hash_map::Entry;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn routes() -> Router<WebState> {
    Router::new()
        .route("/disconcierge/tickets", get(list_page))
        .route("/disconcierge/tickets/{id}", get(detail_page))
}

pub fn api_routes() -> OpenApiRouter<WebState> {
    OpenApiRouter::default()
        .routes(routes!(list_api))
        .routes(routes!(detail_api))
}

const STATES: [TicketState; 3] = [
    TicketState::Open,
    TicketState::Escalated,
    TicketState::Closed,
];

// ----- Views -----

/// A support-desk ticket (Discord ids as strings).
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = Ticket)]
pub struct TicketView {
    pub id: i64,
    pub guild_id: String,
    /// The forum post (thread); `null` while the ticket is reserved, before its post exists.
    pub thread_id: Option<String>,
    pub category: String,
    pub opener_id: String,
    pub opener_name: String,
    /// `open`, `escalated` or `closed`.
    #[schema(value_type = String, pattern = "^(open|escalated|closed)$")]
    pub state: &'static str,
    /// When it was escalated (kept after staff re-enabled the AI). Who asked and why are not stored:
    /// the bot's escalation notice is in the transcript.
    pub escalated_at: Option<DateTime<Utc>>,
    pub closed_by: Option<String>,
    pub closed_at: Option<DateTime<Utc>>,
    pub close_reason: Option<String>,
    pub inactivity_warned_at: Option<DateTime<Utc>>,
    /// The member of staff who claimed (owns) the ticket, and when.
    pub claimed_by: Option<String>,
    pub claimed_at: Option<DateTime<Utc>>,
    pub message_count: u32,
    pub created_at: DateTime<Utc>,
    pub last_activity_at: DateTime<Utc>,
}

impl TicketView {
    pub fn new(t: &Ticket) -> Self {
        TicketView {
            id: t.id,
            guild_id: t.guild_id.to_string(),
            thread_id: t.thread_id.map(|v| v.to_string()),
            category: t.category.clone(),
            opener_id: t.opener_id.to_string(),
            opener_name: t.opener_name.clone(),
            state: t.state.as_str(),
            escalated_at: t.escalated_at,
            closed_by: t.closed_by.map(|v| v.to_string()),
            closed_at: t.closed_at,
            close_reason: t.close_reason.clone(),
            inactivity_warned_at: t.inactivity_warned_at,
            claimed_by: t.claimed_by.map(|v| v.to_string()),
            claimed_at: t.claimed_at,
            message_count: t.message_count,
            created_at: t.created_at,
            last_activity_at: t.last_activity_at,
        }
    }

    pub fn created(&self) -> String {
        when(self.created_at)
    }

    pub fn last_activity(&self) -> String {
        when(self.last_activity_at)
    }

    pub fn escalated(&self) -> String {
        when_or(self.escalated_at, "")
    }

    pub fn closed(&self) -> String {
        when_or(self.closed_at, "")
    }

    pub fn warned(&self) -> String {
        when_or(self.inactivity_warned_at, "")
    }

    pub fn claimed(&self) -> String {
        when_or(self.claimed_at, "")
    }
}

/// An entry a bot reply used, with its title now (`null` if it was deleted since).
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = UsedEntry)]
pub struct UsedView {
    /// `training` or `knowledge`.
    #[schema(value_type = String, pattern = "^(training|knowledge)$")]
    pub kind: &'static str,
    pub id: i64,
    /// Calibrated confidence, 0 to 1.
    pub confidence: f64,
    pub title: Option<String>,
    /// For knowledge entries that still exist: their knowledge base.
    pub kb_id: Option<i64>,
    #[serde(skip)]
    pub link: Option<String>,
}

impl UsedView {
    pub fn label(&self) -> &'static str {
        match self.kind {
            "training" => "trained answer",
            _ => "knowledge entry",
        }
    }

    pub fn percent(&self) -> String {
        format!("{:.0} %", self.confidence * 100.0)
    }

    pub fn title_excerpt(&self) -> String {
        self.title
            .as_deref()
            .map(|t| excerpt(t, 80))
            .unwrap_or_else(|| "(deleted since)".into())
    }
}

/// A message of a ticket's transcript.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = TicketMessage)]
pub struct MessageView {
    pub id: i64,
    pub message_id: String,
    pub author_id: String,
    pub author_name: String,
    /// `opener`, `staff`, `member` or `bot`.
    #[schema(value_type = String, pattern = "^(opener|staff|member|bot)$")]
    pub author: &'static str,
    pub content: String,
    /// For the bot's messages: `llm`, `trained`, `fallback`, `staff_follow_up` or `notice`.
    #[schema(value_type = Option<String>)]
    pub source: Option<&'static str>,
    pub used: Vec<UsedView>,
    pub created_at: DateTime<Utc>,
}

impl MessageView {
    pub fn created(&self) -> String {
        when(self.created_at)
    }

    /// What produced a bot message, in words.
    pub fn source_label(&self) -> &'static str {
        match self.source.and_then(ReplySource::parse) {
            Some(ReplySource::Llm) => "AI reply (LLM)",
            Some(ReplySource::Trained) => "trained answer, sent as is",
            Some(ReplySource::Fallback) => "fallback: best trained answer while the LLM was down",
            Some(ReplySource::StaffFollowUp) => "LLM down, nothing matched: staff will follow up",
            Some(ReplySource::Notice) => "notice",
            None => "",
        }
    }
}

/// The transcript: every message, with the entries each reply used looked up in the ticket's guild.
async fn transcript(state: &WebState, ticket: &Ticket) -> Result<Vec<MessageView>, StoreError> {
    let messages = state.store().ticket_messages(ticket.id, None).await?;
    let mut entries: HashMap<(EntryKind, i64), (Option<String>, Option<i64>)> = HashMap::new();
    let mut out = Vec::with_capacity(messages.len());
    for m in &messages {
        let mut used = Vec::with_capacity(m.message.used.len());
        for u in &m.message.used {
            let key = (u.kind, u.id);
            let (title, kb_id) = match entries.entry(key) {
                Entry::Occupied(known) => known.get().clone(),
                Entry::Vacant(slot) => {
                    let found = match u.kind {
                        EntryKind::Training => state
                            .store()
                            .training_entry(ticket.guild_id, u.id)
                            .await?
                            .map(|e| (Some(e.question), None)),
                        EntryKind::Knowledge => state
                            .store()
                            .kb_entry(ticket.guild_id, u.id)
                            .await?
                            .map(|e| (Some(e.title), Some(e.kb_id))),
                    };
                    slot.insert(found.unwrap_or((None, None))).clone()
                }
            };
            let link = match (u.kind, &title, kb_id) {
                (EntryKind::Training, Some(_), _) => Some(format!(
                    "/disconcierge/training/{}?guild={}",
                    u.id, ticket.guild_id
                )),
                (EntryKind::Knowledge, Some(_), Some(kb)) => Some(format!(
                    "/disconcierge/knowledge/{kb}/entries/{}?guild={}",
                    u.id, ticket.guild_id
                )),
                _ => None,
            };
            used.push(UsedView {
                kind: u.kind.as_str(),
                id: u.id,
                confidence: u.confidence,
                title,
                kb_id,
                link,
            });
        }
        out.push(message_view(m, used));
    }
    Ok(out)
}

fn message_view(m: &TicketMessage, used: Vec<UsedView>) -> MessageView {
    MessageView {
        id: m.id,
        message_id: m.message.message_id.to_string(),
        author_id: m.message.author_id.to_string(),
        author_name: m.message.author_name.clone(),
        author: m.message.author.as_str(),
        content: m.message.content.clone(),
        source: m.message.source.map(ReplySource::as_str),
        used,
        created_at: m.message.created_at,
    }
}

// ----- The list -----

/// The list's query string (the page's form and the API take the same parameters).
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct TicketQuery {
    /// Only this guild's tickets (a Discord server id); every guild's without it.
    #[serde(default)]
    guild: String,
    /// Only tickets in this state: `open`, `escalated` or `closed`.
    #[serde(default)]
    state: String,
    /// Only tickets opened by this user (a Discord id).
    #[serde(default)]
    opener: String,
    /// The cursor: the previous page's `next_before`.
    #[serde(default)]
    #[param(value_type = Option<i64>)]
    before: String,
    /// Items per page, 1 to 200 (50 by default).
    #[param(value_type = Option<u32>, minimum = 1, maximum = 200)]
    limit: Option<String>,
}

impl TicketQuery {
    /// The store's filter for `guild`, or a message saying which value is wrong.
    fn filter(&self, guild_id: Option<u64>) -> Result<TicketFilter, String> {
        let state = match self.state.trim() {
            "" => None,
            s => Some(
                TicketState::parse(s)
                    .ok_or_else(|| format!("state must be open, escalated or closed, got {s:?}"))?,
            ),
        };
        Ok(TicketFilter {
            guild_id,
            state,
            opener_id: discord_id_param("opener", &self.opener)?,
            before_id: before_param(&self.before, "a ticket")?,
        })
    }

    fn url(&self, guild: &str, before: Option<i64>) -> String {
        list_url(
            "/disconcierge/tickets",
            &[
                ("guild", guild),
                ("state", &self.state),
                ("opener", &self.opener),
            ],
            before,
        )
    }
}

struct StateOption {
    name: &'static str,
    selected: bool,
}

#[derive(Template)]
#[template(path = "desk_tickets.html")]
struct ListPage {
    csrf: String,
    admin: String,
    guilds: Vec<GuildChoice>,
    guild: String,
    filter: TicketQuery,
    states: Vec<StateOption>,
    tickets: Vec<TicketView>,
    error: Option<String>,
    next_page: Option<String>,
    first_page: String,
}

async fn list_page(
    State(state): State<WebState>,
    PageAdmin(session): PageAdmin,
    Query(q): Query<TicketQuery>,
) -> Response {
    let (Guilds { choices, .. }, guild_id) = match page_guild(&state, &q.guild).await {
        Ok(g) => g,
        Err(response) => return response,
    };
    let guild = guild_id.to_string();
    let states = STATES
        .iter()
        .map(|s| StateOption {
            name: s.as_str(),
            selected: q.state.trim() == s.as_str(),
        })
        .collect();
    let store = state.store();
    let list = match listing(
        q.filter(Some(guild_id)),
        |f, limit| async move { store.list_tickets(&f, limit).await },
        |t| t.id,
        TicketView::new,
        |b| q.url(&guild, b),
    )
    .await
    {
        Ok(l) => l,
        Err(e) => return store_error(e),
    };
    let first_page = q.url(&guild, None);
    render(
        list.status(),
        &ListPage {
            csrf: session.csrf.clone(),
            admin: session.admin.username.clone(),
            guilds: choices,
            guild,
            filter: q,
            states,
            tickets: list.items,
            error: list.error,
            next_page: list.next_page,
            first_page,
        },
    )
}

/// Support-desk tickets, newest first.
///
/// `guild` filters (every guild's tickets without it), as do `state` and `opener`.
#[utoipa::path(
    get,
    path = "/api/tickets",
    operation_id = "list_tickets",
    tag = "tickets",
    params(TicketQuery),
    responses(
        (status = 200, description = "A page of tickets.", body = Page<TicketView>),
        (status = 400, description = "`bad_request`: a filter or `limit` is not valid (the message says which).",
            body = ErrorBody),
    ),
    security(("session" = []), ("bearer" = [])),
)]
async fn list_api(
    State(state): State<WebState>,
    ApiAdmin(_): ApiAdmin,
    Query(q): Query<TicketQuery>,
) -> Result<Json<Page<TicketView>>, ApiError> {
    let guild = discord_id_param("guild", &q.guild).map_err(bad_request)?;
    let store = state.store();
    list_json(
        q.filter(guild),
        q.limit.as_deref(),
        |f, limit| async move { store.list_tickets(&f, limit).await },
        |t| t.id,
        TicketView::new,
    )
    .await
}

// ----- One ticket -----

#[derive(Template)]
#[template(path = "desk_ticket.html")]
struct DetailPage {
    csrf: String,
    admin: String,
    t: TicketView,
    messages: Vec<MessageView>,
}

async fn detail_page(
    State(state): State<WebState>,
    PageAdmin(session): PageAdmin,
    Path(id): Path<String>,
) -> Response {
    let missing = || {
        error_page(
            StatusCode::NOT_FOUND,
            "No such ticket",
            &format!("There is no ticket {id:?}; ticket numbers are those of the ticket list."),
        )
    };
    let Some(ticket_id) = path_id(&id) else {
        return missing();
    };
    let ticket = match state.store().ticket(ticket_id).await {
        Ok(Some(t)) => t,
        Ok(None) => return missing(),
        Err(e) => return store_error(e),
    };
    let messages = match transcript(&state, &ticket).await {
        Ok(m) => m,
        Err(e) => return store_error(e),
    };
    render(
        StatusCode::OK,
        &DetailPage {
            csrf: session.csrf.clone(),
            admin: session.admin.username.clone(),
            t: TicketView::new(&ticket),
            messages,
        },
    )
}

/// A ticket with its whole transcript.
#[derive(Serialize, ToSchema)]
struct TicketDetail {
    ticket: TicketView,
    /// Every message, oldest first.
    messages: Vec<MessageView>,
}

/// One ticket, with its whole transcript.
///
/// Who wrote each message, and for the bot's replies how they were produced and which trained answers and
/// knowledge entries they used.
#[utoipa::path(
    get,
    path = "/api/tickets/{id}",
    operation_id = "get_ticket",
    tag = "tickets",
    params(("id" = i64, Path, description = "The ticket's number.")),
    responses(
        (status = 200, description = "The ticket.", body = TicketDetail),
        (status = 404, description = "`not_found`: there is no such ticket.", body = ErrorBody),
    ),
    security(("session" = []), ("bearer" = [])),
)]
async fn detail_api(
    State(state): State<WebState>,
    ApiAdmin(_): ApiAdmin,
    Path(id): Path<String>,
) -> Result<Json<TicketDetail>, ApiError> {
    let missing = || not_found(format!("there is no ticket {id:?}"));
    let ticket = state
        .store()
        .ticket(path_id(&id).ok_or_else(missing)?)
        .await?
        .ok_or_else(missing)?;
    let messages = transcript(&state, &ticket).await?;
    Ok(Json(TicketDetail {
        ticket: TicketView::new(&ticket),
        messages,
    }))
}
