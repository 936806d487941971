//! Lists, shared by every page and API answer that shows one: keyset pages (newest first, `before`
//! the previous page's `next_before`), the `limit` parameter, and the filters and URLs of list pages.

use crate::auth;
use crate::error::ApiError;
use axum::Json;
use axum::http::StatusCode;
use disconcierge_store::StoreError;
use serde::Serialize;
use utoipa::{IntoParams, ToSchema};

/// Rows per page of a list page, and of an API list when no `limit` is given.
pub(crate) const PAGE_SIZE: u32 = 50;

/// The largest `limit` of an API list.
const MAX_LIMIT: u32 = 200;

/// The `limit` query parameter of every list.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)] // describes the parameter only: the handlers read it
pub(crate) struct Limit {
    /// Items per page, 1 to 200 (50 by default).
    #[param(minimum = 1, maximum = 200)]
    limit: Option<u32>,
}

/// One page of a list, newest first.
#[derive(Serialize, ToSchema)]
pub(crate) struct Page<T> {
    pub items: Vec<T>,
    /// Pass as `before` to get the next page; `null` on the last page.
    pub next_before: Option<i64>,
}

/// A list request answered as JSON: the filter (or the message saying which value is wrong), the page
/// size asked for, the store's query and how each row is shown.
pub(crate) async fn list_json<F, R, V, Fut>(
    filter: Result<F, String>,
    limit: Option<&str>,
    fetch: impl FnOnce(F, u32) -> Fut,
    id: impl Fn(&R) -> i64,
    view: impl Fn(&R) -> V,
) -> Result<Json<Page<V>>, ApiError>
where
    Fut: Future<Output = Result<Vec<R>, StoreError>>,
{
    let limit = page_limit(limit, PAGE_SIZE)?;
    let filter = filter.map_err(|m| ApiError::new(StatusCode::BAD_REQUEST, "bad_request", m))?;
    let page = keyset_page(fetch(filter, limit + 1).await?, limit, id);
    Ok(Json(Page {
        items: page.items.iter().map(view).collect(),
        next_before: page.next_before,
    }))
}

/// One page of a keyset-paginated list from `rows`, fetched with a limit of `limit + 1` (the extra row
/// only tells whether there is a next page): the first `limit` rows and the cursor of the next page.
pub(crate) fn keyset_page<T>(mut rows: Vec<T>, limit: u32, id: impl Fn(&T) -> i64) -> Page<T> {
    let more = rows.len() > limit as usize;
    rows.truncate(limit as usize);
    let next_before = if more { rows.last().map(id) } else { None };
    Page {
        items: rows,
        next_before,
    }
}

/// The `limit` of a list request: `default` when absent, else 1 to [`MAX_LIMIT`].
pub(crate) fn page_limit(raw: Option<&str>, default: u32) -> Result<u32, ApiError> {
    match raw.map(str::trim) {
        None | Some("") => Ok(default),
        Some(l) => l
            .parse::<u32>()
            .ok()
            .filter(|l| (1..=MAX_LIMIT).contains(l))
            .ok_or_else(|| {
                ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "bad_request",
                    format!("limit must be 1 to {MAX_LIMIT}, got {l:?}"),
                )
            }),
    }
}

// ----- List pages: filters, pages and URLs -----

/// What a list page shows: its rows, or the message of a bad filter; and the link to the next page.
pub(crate) struct Listing<V> {
    pub items: Vec<V>,
    pub error: Option<String>,
    pub next_page: Option<String>,
}

impl<V> Listing<V> {
    pub fn status(&self) -> StatusCode {
        if self.error.is_some() {
            StatusCode::BAD_REQUEST
        } else {
            StatusCode::OK
        }
    }
}

/// One page of a list for a page handler: the filter (or why it is wrong), the store's query, how each
/// row is shown, and the list's URL for a cursor.
pub(crate) async fn listing<F, R, V, Fut>(
    filter: Result<F, String>,
    fetch: impl FnOnce(F, u32) -> Fut,
    id: impl Fn(&R) -> i64,
    view: impl Fn(&R) -> V,
    url: impl Fn(Option<i64>) -> String,
) -> Result<Listing<V>, StoreError>
where
    Fut: Future<Output = Result<Vec<R>, StoreError>>,
{
    let filter = match filter {
        Ok(f) => f,
        Err(message) => {
            return Ok(Listing {
                items: Vec::new(),
                error: Some(message),
                next_page: None,
            });
        }
    };
    // One more than a page tells whether there is a next one.
    let page = keyset_page(fetch(filter, PAGE_SIZE + 1).await?, PAGE_SIZE, id);
    Ok(Listing {
        items: page.items.iter().map(view).collect(),
        error: None,
        next_page: page.next_before.map(|b| url(Some(b))),
    })
}

/// A Discord id typed in a filter (empty: no filter), or a message naming the field.
pub(crate) fn discord_id_param(name: &str, v: &str) -> Result<Option<u64>, String> {
    match v.trim() {
        "" => Ok(None),
        v => v
            .parse::<u64>()
            .map(Some)
            .map_err(|_| format!("{name} must be a Discord id (digits only), got {v:?}")),
    }
}

/// The keyset cursor of a list (empty: the first page), or a message saying what it should be.
pub(crate) fn before_param(v: &str, what: &str) -> Result<Option<i64>, String> {
    match v.trim() {
        "" => Ok(None),
        b => b
            .parse::<i64>()
            .map(Some)
            .map_err(|_| format!("before must be {what} id, got {b:?}")),
    }
}

/// A list's URL with the filters that are set and, optionally, a cursor.
pub(crate) fn list_url(path: &str, filters: &[(&str, &str)], before: Option<i64>) -> String {
    let mut parts: Vec<String> = filters
        .iter()
        .filter(|(_, v)| !v.trim().is_empty())
        .map(|(k, v)| format!("{k}={}", auth::url_encode(v.trim())))
        .collect();
    if let Some(b) = before {
        parts.push(format!("before={b}"));
    }
    if parts.is_empty() {
        path.to_string()
    } else {
        format!("{path}?{}", parts.join("&"))
    }
}
