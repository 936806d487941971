//! Messages about the bot (mentions of it, replies to its answers), as the gateway delivered them: a list
//! filtered by author and channel, newest first, in keyset pages; as a page and as
//! `GET /api/discord_messages`.

use crate::WebState;
use crate::auth::{ApiAdmin, PageAdmin};
use crate::error::{ApiError, ErrorBody};
use crate::paging::{Page, before_param, discord_id_param, list_json, list_url, listing};
use crate::render::{render, store_error};
use askama::Template;
use axum::extract::{Query, State};
use axum::response::Response;
use axum::routing::get;
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use disconcierge_core::model::{DiscordMessageFilter, StoredDiscordMessage};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn routes() -> Router<WebState> {
    Router::new().route("/disconcierge/messages", get(page))
}

pub fn api_routes() -> OpenApiRouter<WebState> {
    OpenApiRouter::default().routes(routes!(api))
}

/// One message about the bot, shaped for display and JSON (Discord ids as strings).
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = DiscordMessage)]
pub struct MessageView {
    pub id: i64,
    pub message_id: String,
    pub channel_id: String,
    pub guild_id: Option<String>,
    pub user_id: Option<String>,
    /// The chat command whose answer it replies to, if any.
    pub chat_command_id: Option<i64>,
    /// Why it was kept: `mention`, `reply` or `command_name`.
    pub noticed: String,
    pub content: String,
    pub created_at: DateTime<Utc>,
}

impl MessageView {
    fn new(m: &StoredDiscordMessage) -> Self {
        let noticed = m
            .message
            .payload
            .as_ref()
            .and_then(|p| p["noticed"].as_str())
            .unwrap_or("")
            .to_string();
        MessageView {
            id: m.id,
            message_id: m.message.message_id.to_string(),
            channel_id: m.message.channel_id.to_string(),
            guild_id: m.message.guild_id.map(|v| v.to_string()),
            user_id: m.message.user_id.map(|v| v.to_string()),
            chat_command_id: m.message.chat_command_id,
            noticed,
            content: m.message.content.clone(),
            created_at: m.message.created_at,
        }
    }

    pub fn created(&self) -> String {
        crate::views::when(self.created_at)
    }
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct MessageQuery {
    /// Only messages by this user (a Discord id).
    #[serde(default)]
    user: String,
    /// Only messages in this channel (a Discord id).
    #[serde(default)]
    channel: String,
    /// The cursor: the previous page's `next_before`.
    #[serde(default)]
    #[param(value_type = Option<i64>)]
    before: String,
    /// Items per page, 1 to 200 (50 by default).
    #[param(value_type = Option<u32>, minimum = 1, maximum = 200)]
    limit: Option<String>,
}

impl MessageQuery {
    fn filter(&self) -> Result<DiscordMessageFilter, String> {
        Ok(DiscordMessageFilter {
            user_id: discord_id_param("user", &self.user)?,
            channel_id: discord_id_param("channel", &self.channel)?,
            before_id: before_param(&self.before, "a message")?,
        })
    }

    fn url(&self, before: Option<i64>) -> String {
        list_url(
            "/disconcierge/messages",
            &[("user", &self.user), ("channel", &self.channel)],
            before,
        )
    }
}

#[derive(Template)]
#[template(path = "messages.html")]
struct MessagesPage {
    csrf: String,
    admin: String,
    filter: MessageQuery,
    filtered: bool,
    items: Vec<MessageView>,
    error: Option<String>,
    next_page: Option<String>,
    first_page: String,
}

async fn page(
    State(state): State<WebState>,
    PageAdmin(session): PageAdmin,
    Query(q): Query<MessageQuery>,
) -> Response {
    let filter = q.filter();
    let filtered = filter
        .as_ref()
        .map_or(true, |f| f.user_id.is_some() || f.channel_id.is_some());
    let store = state.store();
    let list = match listing(
        filter,
        |f, limit| async move { store.list_discord_messages(&f, limit).await },
        |r| r.id,
        MessageView::new,
        |b| q.url(b),
    )
    .await
    {
        Ok(l) => l,
        Err(e) => return store_error(e),
    };
    let first_page = q.url(None);
    render(
        list.status(),
        &MessagesPage {
            csrf: session.csrf.clone(),
            admin: session.admin.username.clone(),
            filter: q,
            filtered,
            items: list.items,
            error: list.error,
            next_page: list.next_page,
            first_page,
        },
    )
}

/// Messages about the bot (mentions of it, replies to its answers), newest first.
#[utoipa::path(
    get,
    path = "/api/discord_messages",
    operation_id = "list_discord_messages",
    tag = "Discord messages",
    params(MessageQuery),
    responses(
        (status = 200, description = "A page of messages.", body = Page<MessageView>),
        (status = 400, description = "`bad_request`: a filter or `limit` is not valid (the message says which).",
            body = ErrorBody),
    ),
    security(("session" = []), ("bearer" = [])),
)]
async fn api(
    State(state): State<WebState>,
    ApiAdmin(_): ApiAdmin,
    Query(q): Query<MessageQuery>,
) -> Result<Json<Page<MessageView>>, ApiError> {
    let store = state.store();
    list_json(
        q.filter(),
        q.limit.as_deref(),
        |f, limit| async move { store.list_discord_messages(&f, limit).await },
        |r| r.id,
        MessageView::new,
    )
    .await
}
