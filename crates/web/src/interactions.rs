//! The interaction log: every interaction received from Discord, as it arrived (without its token);
//! a list filtered by type and user, newest first, in keyset pages, and each entry whole; as pages and
//! as `GET /api/interactions[/{id}]`.

use crate::WebState;
use crate::auth::{ApiAdmin, PageAdmin};
use crate::error::{ApiError, ErrorBody};
use crate::paging::{Page, before_param, discord_id_param, list_json, list_url, listing};
use crate::render::{error_page, render, store_error};
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use disconcierge_core::model::{InteractionLogFilter, StoredInteractionLog};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn routes() -> Router<WebState> {
    Router::new()
        .route("/disconcierge/interactions", get(list_page))
        .route("/disconcierge/interactions/{id}", get(detail_page))
}

pub fn api_routes() -> OpenApiRouter<WebState> {
    OpenApiRouter::default()
        .routes(routes!(list_api))
        .routes(routes!(detail_api))
}

/// The interaction types Discord sends that the bot logs (the filter's choices).
const TYPES: &[&str] = &[
    "application_command",
    "message_component",
    "modal_submit",
    "application_command_autocomplete",
    "ping",
];

/// One entry of the interaction log, shaped for display and JSON (Discord ids as strings).
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = Interaction)]
pub struct InteractionView {
    pub id: i64,
    pub interaction_id: String,
    /// `application_command`, `message_component`, `modal_submit`, `application_command_autocomplete`
    /// or `ping`.
    pub interaction_type: String,
    pub user_id: Option<String>,
    pub guild_id: Option<String>,
    pub channel_id: Option<String>,
    pub received_at: DateTime<Utc>,
}

impl InteractionView {
    fn new(l: &StoredInteractionLog) -> Self {
        InteractionView {
            id: l.id,
            interaction_id: l.log.interaction_id.to_string(),
            interaction_type: l.log.interaction_type.clone(),
            user_id: l.log.user_id.map(|v| v.to_string()),
            guild_id: l.log.guild_id.map(|v| v.to_string()),
            channel_id: l.log.channel_id.map(|v| v.to_string()),
            received_at: l.log.received_at,
        }
    }

    pub fn received(&self) -> String {
        crate::views::when(self.received_at)
    }
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct LogQuery {
    /// Only interactions of this type: `application_command`, `message_component`, `modal_submit`,
    /// `application_command_autocomplete` or `ping`.
    #[serde(default, rename = "type")]
    kind: String,
    /// Only interactions of this user (a Discord id).
    #[serde(default)]
    user: String,
    /// The cursor: the previous page's `next_before`.
    #[serde(default)]
    #[param(value_type = Option<i64>)]
    before: String,
    /// Items per page, 1 to 200 (50 by default).
    #[param(value_type = Option<u32>, minimum = 1, maximum = 200)]
    limit: Option<String>,
}

impl LogQuery {
    fn filter(&self) -> Result<InteractionLogFilter, String> {
        let interaction_type = match self.kind.trim() {
            "" => None,
            t if TYPES.contains(&t) => Some(t.to_string()),
            t => {
                return Err(format!(
                    "type must be one of {}, got {t:?}",
                    TYPES.join(", ")
                ));
            }
        };
        let user_id = discord_id_param("user", &self.user)?;
        let before_id = before_param(&self.before, "a log entry")?;
        Ok(InteractionLogFilter {
            interaction_type,
            user_id,
            before_id,
        })
    }

    fn url(&self, before: Option<i64>) -> String {
        list_url(
            "/disconcierge/interactions",
            &[("type", &self.kind), ("user", &self.user)],
            before,
        )
    }
}

struct TypeOption {
    name: &'static str,
    selected: bool,
}

#[derive(Template)]
#[template(path = "interactions.html")]
struct ListPage {
    csrf: String,
    admin: String,
    filter: LogQuery,
    filtered: bool,
    types: Vec<TypeOption>,
    items: Vec<InteractionView>,
    error: Option<String>,
    next_page: Option<String>,
    first_page: String,
}

async fn list_page(
    State(state): State<WebState>,
    PageAdmin(session): PageAdmin,
    Query(q): Query<LogQuery>,
) -> Response {
    let types = TYPES
        .iter()
        .map(|t| TypeOption {
            name: t,
            selected: q.kind.trim() == *t,
        })
        .collect();
    let filter = q.filter();
    let filtered = filter.as_ref().map_or(true, |f| {
        f.interaction_type.is_some() || f.user_id.is_some()
    });
    let store = state.store();
    let list = match listing(
        filter,
        |f, limit| async move { store.list_interaction_logs(&f, limit).await },
        |r| r.id,
        InteractionView::new,
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
        &ListPage {
            csrf: session.csrf.clone(),
            admin: session.admin.username.clone(),
            filter: q,
            filtered,
            types,
            items: list.items,
            error: list.error,
            next_page: list.next_page,
            first_page,
        },
    )
}

#[derive(Template)]
#[template(path = "interaction.html")]
struct DetailPage {
    csrf: String,
    admin: String,
    i: InteractionView,
    payload: String,
}

async fn detail_page(
    State(state): State<WebState>,
    PageAdmin(session): PageAdmin,
    Path(id): Path<String>,
) -> Response {
    let found = match id.parse::<i64>() {
        Ok(id) => match state.store().interaction_log(id).await {
            Ok(found) => found,
            Err(e) => return store_error(e),
        },
        Err(_) => None,
    };
    let Some(entry) = found else {
        return error_page(
            StatusCode::NOT_FOUND,
            "Not found",
            &format!("There is no interaction log entry {id:?}."),
        );
    };
    render(
        StatusCode::OK,
        &DetailPage {
            csrf: session.csrf.clone(),
            admin: session.admin.username.clone(),
            payload: serde_json::to_string_pretty(&entry.log.payload).unwrap_or_default(),
            i: InteractionView::new(&entry),
        },
    )
}

/// The interactions received from Discord, newest first.
#[utoipa::path(
    get,
    path = "/api/interactions",
    operation_id = "list_interactions",
    tag = "interactions",
    params(LogQuery),
    responses(
        (status = 200, description = "A page of the interaction log.", body = Page<InteractionView>),
        (status = 400, description = "`bad_request`: a filter or `limit` is not valid (the message says which).",
            body = ErrorBody),
    ),
    security(("session" = []), ("bearer" = [])),
)]
async fn list_api(
    State(state): State<WebState>,
    ApiAdmin(_): ApiAdmin,
    Query(q): Query<LogQuery>,
) -> Result<Json<Page<InteractionView>>, ApiError> {
    let store = state.store();
    list_json(
        q.filter(),
        q.limit.as_deref(),
        |f, limit| async move { store.list_interaction_logs(&f, limit).await },
        |r| r.id,
        InteractionView::new,
    )
    .await
}

/// One entry of the interaction log, with the interaction as Discord sent it (without its token).
#[derive(Serialize, ToSchema)]
#[schema(as = InteractionDetail)]
struct Detail {
    #[serde(flatten)]
    entry: InteractionView,
    /// The interaction's JSON as received, without its token.
    payload: serde_json::Value,
}

/// One interaction, whole.
#[utoipa::path(
    get,
    path = "/api/interactions/{id}",
    operation_id = "get_interaction",
    tag = "interactions",
    params(("id" = i64, Path, description = "The log entry's id.")),
    responses(
        (status = 200, description = "The log entry.", body = Detail),
        (status = 404, description = "`not_found`: there is no such log entry.", body = ErrorBody),
    ),
    security(("session" = []), ("bearer" = [])),
)]
async fn detail_api(
    State(state): State<WebState>,
    ApiAdmin(_): ApiAdmin,
    Path(id): Path<String>,
) -> Result<Json<Detail>, ApiError> {
    let not_found = || {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("there is no interaction log entry {id:?}"),
        )
    };
    let id_number = id.parse::<i64>().map_err(|_| not_found())?;
    let entry = state
        .store()
        .interaction_log(id_number)
        .await?
        .ok_or_else(not_found)?;
    Ok(Json(Detail {
        entry: InteractionView::new(&entry),
        payload: entry.log.payload,
    }))
}
