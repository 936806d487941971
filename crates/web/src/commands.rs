//! The chat commands (`/chat` and `/private`) users sent, with their answers: the list, filtered and
//! in keyset pages, and each command with its LLM calls and feedback; as pages and as `GET
//! /api/chat_commands[/{id}]`.

use crate::WebState;
use crate::auth::{ApiAdmin, PageAdmin};
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::paging::{
    Limit, PAGE_SIZE, Page, before_param, discord_id_param, keyset_page, list_url, page_limit,
};
use crate::render::{error_page, render, store_error};
use crate::views::{CommandView, FeedbackView, LlmCallView};
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use axum::{Json, Router};
use disconcierge_core::model::{ChatCommand, ChatCommandFilter, ChatCommandState};
use disconcierge_store::StoreError;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn routes() -> Router<WebState> {
    Router::new()
        .route("/disconcierge/chat_commands", get(commands_page))
        .route("/disconcierge/chat_commands/{id}", get(command_page))
}

pub fn api_routes() -> OpenApiRouter<WebState> {
    OpenApiRouter::default()
        .routes(routes!(list_api))
        .routes(routes!(command_api))
}

// ----- What pages and API share -----

/// The list's filters as typed in the form (kept as text so that a bad value is shown back); the API
/// takes the same parameters.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct ListQuery {
    /// Only this user's commands (a Discord id).
    #[serde(default)]
    pub user: String,
    /// Only commands sent in this guild (a Discord id).
    #[serde(default)]
    pub guild: String,
    /// Only commands in this state (`received`, `queued`, `in_progress`, `completed`, `failed`, …).
    #[serde(default)]
    pub state: String,
    /// Only commands sent on or after this day (`2026-11-28`, UTC).
    #[serde(default)]
    #[param(format = Date)]
    pub from: String,
    /// Only commands sent on or before this day (`2026-11-28`, UTC).
    #[serde(default)]
    #[param(format = Date)]
    pub to: String,
    /// The cursor: the previous page's `next_before`.
    #[serde(default)]
    #[param(value_type = Option<i64>)]
    pub before: String,
}

impl ListQuery {
    /// The store's filter, or a message saying which value is wrong.
    fn filter(&self) -> Result<ChatCommandFilter, String> {
        let date = |name: &str, v: &str| -> Result<Option<chrono::DateTime<chrono::Utc>>, String> {
            let v = v.trim();
            if v.is_empty() {
                return Ok(None);
            }
            chrono::NaiveDate::parse_from_str(v, "%Y-%m-%d")
                .map(|d| Some(d.and_hms_opt(0, 0, 0).expect("midnight").and_utc()))
                .map_err(|_| format!("{name} must be a date such as 2026-11-28, got {v:?}"))
        };
        let state = match self.state.trim() {
            "" => None,
            s => Some(s.parse::<ChatCommandState>().map_err(|e| e.to_string())?),
        };
        Ok(ChatCommandFilter {
            user_id: discord_id_param("user", &self.user)?,
            guild_id: discord_id_param("guild", &self.guild)?,
            state,
            created_from: date("from", &self.from)?,
            // "To" is inclusive: everything before the next midnight.
            created_before: date("to", &self.to)?.map(|d| d + chrono::TimeDelta::days(1)),
            before_id: before_param(&self.before, "a chat command")?,
        })
    }

    /// The list's URL with these filters and another cursor.
    fn url(&self, before: Option<i64>) -> String {
        list_url(
            "/disconcierge/chat_commands",
            &[
                ("user", &self.user),
                ("guild", &self.guild),
                ("state", &self.state),
                ("from", &self.from),
                ("to", &self.to),
            ],
            before,
        )
    }
}

/// A page of commands with their users' names.
pub(crate) async fn latest_commands(
    state: &WebState,
    filter: &ChatCommandFilter,
    limit: u32,
) -> Result<Vec<CommandView>, StoreError> {
    let commands = state.store().list_chat_commands(filter, limit).await?;
    with_usernames(state, &commands).await
}

async fn with_usernames(
    state: &WebState,
    commands: &[ChatCommand],
) -> Result<Vec<CommandView>, StoreError> {
    let mut names: BTreeMap<u64, Option<String>> = BTreeMap::new();
    for c in commands {
        if let std::collections::btree_map::Entry::Vacant(slot) = names.entry(c.user_id) {
            let user = state.store().user(c.user_id).await?;
            slot.insert(user.map(|u| u.global_name.unwrap_or(u.username)));
        }
    }
    Ok(commands
        .iter()
        .map(|c| CommandView::new(c, names.get(&c.user_id).cloned().flatten()))
        .collect())
}

/// A chat command with everything known about it.
async fn command_detail(
    state: &WebState,
    id: i64,
) -> Result<Option<(CommandView, Vec<LlmCallView>, Vec<FeedbackView>)>, StoreError> {
    let Some(command) = state.store().chat_command(id).await? else {
        return Ok(None);
    };
    let view = with_usernames(state, std::slice::from_ref(&command))
        .await?
        .remove(0);
    let calls = state
        .store()
        .llm_calls_for_command(id)
        .await?
        .iter()
        .map(LlmCallView::new)
        .collect();
    let feedback = state
        .store()
        .feedback_for_command(id)
        .await?
        .iter()
        .map(FeedbackView::new)
        .collect();
    Ok(Some((view, calls, feedback)))
}

// ----- Pages -----

struct StateOption {
    name: &'static str,
    selected: bool,
}

#[derive(Template)]
#[template(path = "commands.html")]
struct CommandsPage {
    csrf: String,
    admin: String,
    filter: ListQuery,
    states: Vec<StateOption>,
    commands: Vec<CommandView>,
    error: Option<String>,
    next_page: Option<String>,
    first_page: String,
}

async fn commands_page(
    State(state): State<WebState>,
    PageAdmin(session): PageAdmin,
    Query(q): Query<ListQuery>,
) -> Response {
    let states = ChatCommandState::ALL
        .iter()
        .map(|s| StateOption {
            name: s.as_str(),
            selected: q.state.trim() == s.as_str(),
        })
        .collect();
    let (commands, error, next_page) = match q.filter() {
        Err(message) => (Vec::new(), Some(message), None),
        Ok(filter) => {
            // One more than a page tells whether there is a next one.
            let rows = match state
                .store()
                .list_chat_commands(&filter, PAGE_SIZE + 1)
                .await
            {
                Ok(r) => r,
                Err(e) => return store_error(e),
            };
            let page = keyset_page(rows, PAGE_SIZE, |c| c.id);
            let next = page.next_before.map(|b| q.url(Some(b)));
            match with_usernames(&state, &page.items).await {
                Ok(views) => (views, None, next),
                Err(e) => return store_error(e),
            }
        }
    };
    let status = if error.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    let first_page = q.url(None);
    render(
        status,
        &CommandsPage {
            csrf: session.csrf.clone(),
            admin: session.admin.username.clone(),
            filter: q,
            states,
            commands,
            error,
            next_page,
            first_page,
        },
    )
}

#[derive(Template)]
#[template(path = "command.html")]
struct CommandPage {
    csrf: String,
    admin: String,
    c: CommandView,
    calls: Vec<LlmCallView>,
    feedback: Vec<FeedbackView>,
}

async fn command_page(
    State(state): State<WebState>,
    PageAdmin(session): PageAdmin,
    Path(id): Path<String>,
) -> Response {
    let Ok(id) = id.parse::<i64>() else {
        return error_page(
            StatusCode::NOT_FOUND,
            "No such chat command",
            "Chat command ids are numbers; check the link.",
        );
    };
    match command_detail(&state, id).await {
        Ok(Some((c, calls, feedback))) => render(
            StatusCode::OK,
            &CommandPage {
                csrf: session.csrf.clone(),
                admin: session.admin.username.clone(),
                c,
                calls,
                feedback,
            },
        ),
        Ok(None) => error_page(
            StatusCode::NOT_FOUND,
            "No such chat command",
            &format!("There is no chat command {id}; it may have been deleted."),
        ),
        Err(e) => store_error(e),
    }
}

// ----- API -----

#[derive(Deserialize)]
struct ListParams {
    #[serde(flatten)]
    filter: ListQuery,
    limit: Option<String>,
}

/// The `/chat` and `/private` commands, newest first.
#[utoipa::path(
    get,
    path = "/api/chat_commands",
    operation_id = "list_chat_commands",
    tag = "chat commands",
    params(ListQuery, Limit),
    responses(
        (status = 200, description = "A page of chat commands.", body = Page<CommandView>),
        (status = 400, description = "`bad_request`: a filter or `limit` is not valid (the message says which).",
            body = ErrorBody),
    ),
    security(("session" = []), ("bearer" = [])),
)]
async fn list_api(
    State(state): State<WebState>,
    ApiAdmin(_): ApiAdmin,
    Query(params): Query<ListParams>,
) -> ApiResult<Json<Page<CommandView>>> {
    let bad = |message: String| ApiError::new(StatusCode::BAD_REQUEST, "bad_request", message);
    let filter = params.filter.filter().map_err(bad)?;
    let limit = page_limit(params.limit.as_deref(), PAGE_SIZE)?;
    let items = latest_commands(&state, &filter, limit + 1).await?;
    Ok(Json(keyset_page(items, limit, |c| c.id)))
}

/// A chat command with the LLM calls made to answer it and the feedback given on the answer.
#[derive(Serialize, ToSchema)]
#[schema(as = ChatCommandDetail)]
struct CommandDetail {
    command: CommandView,
    llm_calls: Vec<LlmCallView>,
    feedback: Vec<FeedbackView>,
}

/// One chat command, with its LLM calls and feedback.
#[utoipa::path(
    get,
    path = "/api/chat_commands/{id}",
    operation_id = "get_chat_command",
    tag = "chat commands",
    params(("id" = i64, Path, description = "The chat command's id.")),
    responses(
        (status = 200, description = "The chat command.", body = CommandDetail),
        (status = 404, description = "`not_found`: there is no such chat command.", body = ErrorBody),
    ),
    security(("session" = []), ("bearer" = [])),
)]
async fn command_api(
    State(state): State<WebState>,
    ApiAdmin(_): ApiAdmin,
    Path(id): Path<String>,
) -> ApiResult<Json<CommandDetail>> {
    let not_found = || {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("there is no chat command {id:?}"),
        )
    };
    let id_num = id.parse::<i64>().map_err(|_| not_found())?;
    let (command, llm_calls, feedback) = command_detail(&state, id_num)
        .await?
        .ok_or_else(not_found)?;
    Ok(Json(CommandDetail {
        command,
        llm_calls,
        feedback,
    }))
}
