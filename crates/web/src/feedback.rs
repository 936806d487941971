//! The feedback users gave on answers: a list filtered by kind and user, newest first, in keyset pages;
//! as a page and as `GET /api/feedback`.

use crate::WebState;
use crate::auth::{ApiAdmin, PageAdmin};
use crate::error::{ApiError, ErrorBody};
use crate::paging::{Page, before_param, discord_id_param, list_json, list_url, listing};
use crate::render::{render, store_error};
use crate::views::FeedbackView;
use askama::Template;
use axum::extract::{Query, State};
use axum::response::Response;
use axum::routing::get;
use axum::{Json, Router};
use disconcierge_core::model::{FeedbackFilter, FeedbackKind};
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn routes() -> Router<WebState> {
    Router::new().route("/disconcierge/feedback", get(page))
}

pub fn api_routes() -> OpenApiRouter<WebState> {
    OpenApiRouter::default().routes(routes!(api))
}

/// The list's query string (the page's form and the API take the same parameters).
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct FeedbackQuery {
    /// Only feedback of this kind: `good`, `outdated`, `inaccurate` or `other`.
    #[serde(default)]
    kind: String,
    /// Only feedback given by this user (a Discord id).
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

impl FeedbackQuery {
    /// The store's filter, or a message saying which value is wrong.
    fn filter(&self) -> Result<FeedbackFilter, String> {
        let kind = match self.kind.trim() {
            "" => None,
            k => Some(k.parse::<FeedbackKind>().map_err(|e| e.to_string())?),
        };
        let user_id = discord_id_param("user", &self.user)?;
        let before_id = before_param(&self.before, "a feedback")?;
        Ok(FeedbackFilter {
            kind,
            user_id,
            before_id,
        })
    }

    fn url(&self, before: Option<i64>) -> String {
        list_url(
            "/disconcierge/feedback",
            &[("kind", &self.kind), ("user", &self.user)],
            before,
        )
    }
}

struct KindOption {
    name: &'static str,
    label: &'static str,
    selected: bool,
}

#[derive(Template)]
#[template(path = "feedback.html")]
struct FeedbackPage {
    csrf: String,
    admin: String,
    filter: FeedbackQuery,
    filtered: bool,
    kinds: Vec<KindOption>,
    items: Vec<FeedbackView>,
    error: Option<String>,
    next_page: Option<String>,
    first_page: String,
}

async fn page(
    State(state): State<WebState>,
    PageAdmin(session): PageAdmin,
    Query(q): Query<FeedbackQuery>,
) -> Response {
    let kinds = FeedbackKind::ALL
        .iter()
        .map(|k| KindOption {
            name: k.as_str(),
            label: k.label(),
            selected: q.kind.trim() == k.as_str(),
        })
        .collect();
    let filter = q.filter();
    let filtered = filter
        .as_ref()
        .map_or(true, |f| f.kind.is_some() || f.user_id.is_some());
    let store = state.store();
    let list = match listing(
        filter,
        |f, limit| async move { store.list_feedback(&f, limit).await },
        |f| f.id,
        FeedbackView::new,
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
        &FeedbackPage {
            csrf: session.csrf.clone(),
            admin: session.admin.username.clone(),
            filter: q,
            filtered,
            kinds,
            items: list.items,
            error: list.error,
            next_page: list.next_page,
            first_page,
        },
    )
}

/// The feedback users gave on answers, newest first.
#[utoipa::path(
    get,
    path = "/api/feedback",
    operation_id = "list_feedback",
    tag = "feedback",
    params(FeedbackQuery),
    responses(
        (status = 200, description = "A page of feedback.", body = Page<FeedbackView>),
        (status = 400, description = "`bad_request`: a filter or `limit` is not valid (the message says which).",
            body = ErrorBody),
    ),
    security(("session" = []), ("bearer" = [])),
)]
async fn api(
    State(state): State<WebState>,
    ApiAdmin(_): ApiAdmin,
    Query(q): Query<FeedbackQuery>,
) -> Result<Json<Page<FeedbackView>>, ApiError> {
    let store = state.store();
    list_json(
        q.filter(),
        q.limit.as_deref(),
        |f, limit| async move { store.list_feedback(&f, limit).await },
        |f| f.id,
        FeedbackView::new,
    )
    .await
}
