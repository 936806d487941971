//! The server-rendered pages under `/disconcierge`. They work without JavaScript; every value is escaped
//! by askama.

use crate::auth::{self, LoginError, PageAdmin, Session};
use crate::config_form::{self, SectionView};
use crate::views::{self, CommandView, FeedbackView, LlmCallView};
use crate::{ConfigUpdateError, WebState};
use askama::Template;
use axum::Router;
use axum::extract::{Form, Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::get;
use disconcierge_core::model::{ChatCommand, ChatCommandState};
use disconcierge_core::runtime_config::FieldError;
use disconcierge_store::StoreError;
use serde::Deserialize;
use std::collections::BTreeMap;

pub fn routes() -> Router<WebState> {
    Router::new()
        .route("/disconcierge", get(dashboard))
        .route("/disconcierge/", get(dashboard))
        .route("/disconcierge/login", get(login_page).post(login_submit))
        .route("/disconcierge/logout", axum::routing::post(logout))
        .route("/disconcierge/chat_commands", get(commands))
        .route("/disconcierge/chat_commands/{id}", get(command))
        .route("/disconcierge/config", get(config_page).post(config_submit))
        .route("/disconcierge/static/app.css", get(stylesheet))
        .route(
            "/disconcierge/actions/{action}",
            axum::routing::post(action_submit),
        )
}

/// Renders a template, or a plain error if rendering itself failed (a bug, logged).
pub(crate) fn render(status: StatusCode, template: &impl Template) -> Response {
    match template.render() {
        Ok(html) => (status, Html(html)).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "could not render a page");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                "The page could not be rendered; the error was logged.",
            )
                .into_response()
        }
    }
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    title: &'a str,
    message: &'a str,
}

pub(crate) fn error_page(status: StatusCode, title: &str, message: &str) -> Response {
    render(status, &ErrorPage { title, message })
}

pub(crate) fn store_error(e: StoreError) -> Response {
    tracing::error!(error = %e, "admin page: database error");
    error_page(
        StatusCode::SERVICE_UNAVAILABLE,
        "Database unavailable",
        "The database did not answer as expected; try again in a moment. The error was logged.",
    )
}

pub(crate) fn csrf_refused() -> Response {
    error_page(
        StatusCode::FORBIDDEN,
        "Form refused",
        "This form expired or did not come from this admin interface. Reload the page and submit it again.",
    )
}

async fn stylesheet() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        include_str!("../assets/app.css"),
    )
        .into_response()
}

/// The client's address, when the listener recorded it.
pub(crate) struct ClientIp(pub Option<std::net::IpAddr>);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for ClientIp {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _: &S,
    ) -> Result<Self, Self::Rejection> {
        Ok(ClientIp(
            parts
                .extensions
                .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
                .map(|c| c.0.ip()),
        ))
    }
}

// ----- Login -----

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage<'a> {
    next: &'a str,
    username: &'a str,
    error: Option<String>,
    notice: Option<&'a str>,
    no_admins: bool,
}

#[derive(Deserialize)]
struct LoginQuery {
    next: Option<String>,
    signed_out: Option<String>,
}

async fn login_page(
    State(state): State<WebState>,
    headers: axum::http::HeaderMap,
    Query(q): Query<LoginQuery>,
) -> Response {
    let next = auth::safe_next(q.next.as_deref());
    if auth::session(&state, &headers).await.is_ok() {
        return Redirect::to(next).into_response();
    }
    let no_admins = state.store().count_admins().await.unwrap_or(1) == 0;
    render(
        StatusCode::OK,
        &LoginPage {
            next,
            username: "",
            error: None,
            notice: q.signed_out.is_some().then_some("You are signed out."),
            no_admins,
        },
    )
}

#[derive(Deserialize)]
struct LoginForm {
    username: String,
    password: String,
    next: Option<String>,
}

async fn login_submit(
    State(state): State<WebState>,
    ClientIp(ip): ClientIp,
    Form(form): Form<LoginForm>,
) -> Response {
    let next = auth::safe_next(form.next.as_deref());
    match auth::login(&state, ip, &form.username, &form.password).await {
        Ok((token, _)) => (
            [(header::SET_COOKIE, auth::login_cookie(&state, &token))],
            Redirect::to(next),
        )
            .into_response(),
        Err(e) => {
            let status = match e {
                LoginError::Invalid => StatusCode::UNAUTHORIZED,
                LoginError::Locked(_) => StatusCode::TOO_MANY_REQUESTS,
                LoginError::Store(_) => StatusCode::SERVICE_UNAVAILABLE,
            };
            let message = match &e {
                LoginError::Store(inner) => {
                    tracing::error!(error = %inner, "admin sign-in: database error");
                    "The database did not answer; try again in a moment.".to_string()
                }
                other => capitalize(&other.to_string()),
            };
            render(
                status,
                &LoginPage {
                    next,
                    username: &form.username,
                    error: Some(message),
                    notice: None,
                    no_admins: false,
                },
            )
        }
    }
}

pub(crate) fn capitalize(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

#[derive(Deserialize)]
struct CsrfForm {
    csrf: Option<String>,
}

async fn logout(
    State(state): State<WebState>,
    PageAdmin(session): PageAdmin,
    Form(form): Form<CsrfForm>,
) -> Response {
    if !session.csrf_ok(form.csrf.as_deref()) {
        return csrf_refused();
    }
    if let Err(e) = auth::logout(&state, &session).await {
        return store_error(e);
    }
    (
        [(header::SET_COOKIE, auth::logout_cookie(&state))],
        Redirect::to("/disconcierge/login?signed_out=1"),
    )
        .into_response()
}

// ----- Dashboard -----

#[derive(Template)]
#[template(path = "dashboard.html")]
struct Dashboard {
    notice: Option<String>,
    csrf: String,
    admin: String,
    paused: bool,
    queue_depth: String,
    database: crate::Health,
    services: crate::ServiceStatus,
    config_version: i64,
    commands: Vec<CommandView>,
    charts: crate::activity::ChartsView,
}

#[derive(Deserialize)]
struct DashboardQuery {
    done: Option<String>,
    /// The charts' period: `48h` (default) or `30d`.
    range: Option<String>,
}

async fn dashboard(
    State(state): State<WebState>,
    PageAdmin(session): PageAdmin,
    Query(q): Query<DashboardQuery>,
) -> Response {
    let notice = q.done.as_deref().map(|d| match d {
        "pause" => "Paused: the queue holds and users are told the bot is paused.".to_string(),
        "resume" => "Resumed: the bot answers everyone again.".to_string(),
        "reload" => {
            "Reloaded: the newer configuration from the database is in force; caches were cleared."
                .to_string()
        }
        "reload-unchanged" => {
            "Reloaded: the configuration in force was already the newest; caches were cleared."
                .to_string()
        }
        "register" => {
            "Registered: Discord has the current definition of every command.".to_string()
        }
        "clear-conversations" => {
            "Cleared: every user's next /chat starts a new conversation.".to_string()
        }
        _ => "Done.".to_string(),
    });
    let config = state.control().runtime_config();
    let queue_depth = match state.store().queued_count().await {
        Ok(n) => n.to_string(),
        Err(e) => {
            tracing::warn!(error = %e, "dashboard: could not count the queue");
            "unknown (database error)".into()
        }
    };
    let commands = match latest_commands(&state, &Default::default(), 10).await {
        Ok(c) => c,
        Err(e) => return store_error(e),
    };
    let (charts, status) = crate::activity::charts_view(&state, q.range.as_deref()).await;
    render(
        status,
        &Dashboard {
            notice,
            csrf: session.csrf.clone(),
            admin: session.admin.username.clone(),
            paused: config.config.paused,
            queue_depth,
            database: database_health(&state).await,
            services: state.control().service_status(),
            config_version: config.version,
            commands,
            charts,
        },
    )
}

/// A page of commands with their users' names.
pub(crate) async fn latest_commands(
    state: &WebState,
    filter: &disconcierge_core::model::ChatCommandFilter,
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

// ----- Chat commands -----

/// The list's filters as typed in the form (kept as text so that a bad value is shown back); the API
/// takes the same parameters.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct ListQuery {
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
    pub fn filter(&self) -> Result<disconcierge_core::model::ChatCommandFilter, String> {
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
        Ok(disconcierge_core::model::ChatCommandFilter {
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

pub(crate) const PAGE_SIZE: u32 = 50;

// ----- Lists: filters, pages and URLs shared by every list -----

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
    let page = crate::api::keyset_page(fetch(filter, PAGE_SIZE + 1).await?, PAGE_SIZE, id);
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

async fn commands(
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
            let page = crate::api::keyset_page(rows, PAGE_SIZE, |c| c.id);
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

/// A chat command with everything known about it.
pub(crate) async fn command_detail(
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

async fn command(
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

// ----- Configuration -----

pub(crate) struct HistoryRow {
    pub version: i64,
    pub when: String,
    pub by: String,
    pub changes: String,
}

/// The latest versions with which settings each one changed.
pub(crate) async fn history(state: &WebState, limit: u32) -> Result<Vec<HistoryRow>, StoreError> {
    let entries = state.store().runtime_config_history(limit + 1).await?;
    Ok(entries
        .iter()
        .enumerate()
        .take(limit as usize)
        .map(|(i, e)| {
            let changes = match entries.get(i + 1) {
                None => "first version".to_string(),
                Some(older) => {
                    let (new, old) = (e.config.as_object(), older.config.as_object());
                    let mut keys: Vec<&str> = new
                        .into_iter()
                        .chain(old)
                        .flat_map(|m| m.keys().map(String::as_str))
                        .collect();
                    keys.sort_unstable();
                    keys.dedup();
                    let changed: Vec<&str> = keys
                        .into_iter()
                        .filter(|k| e.config.get(k) != older.config.get(k))
                        .collect();
                    if changed.is_empty() {
                        "no change".into()
                    } else {
                        changed.join(", ")
                    }
                }
            };
            HistoryRow {
                version: e.version,
                when: views::when(e.updated_at),
                by: e
                    .updated_by
                    .clone()
                    .unwrap_or_else(|| "disconcierge".into()),
                changes,
            }
        })
        .collect())
}

#[derive(Template)]
#[template(path = "config.html")]
struct ConfigPage {
    csrf: String,
    admin: String,
    version: i64,
    saved_at: String,
    saved_by: Option<String>,
    sections: Vec<SectionView>,
    history: Vec<HistoryRow>,
    notice: Option<String>,
    error: Option<String>,
}

#[derive(Deserialize)]
struct ConfigQuery {
    saved: Option<i64>,
}

async fn config_view(
    state: &WebState,
    session: &Session,
    status: StatusCode,
    sections: Option<Vec<SectionView>>,
    notice: Option<String>,
    error: Option<String>,
) -> Response {
    let current = state.control().runtime_config();
    let history = match history(state, 20).await {
        Ok(h) => h,
        Err(e) => return store_error(e),
    };
    render(
        status,
        &ConfigPage {
            csrf: session.csrf.clone(),
            admin: session.admin.username.clone(),
            version: current.version,
            saved_at: views::when(current.updated_at),
            saved_by: current.updated_by.clone(),
            sections: sections.unwrap_or_else(|| config_form::view(&current.config)),
            history,
            notice,
            error,
        },
    )
}

async fn config_page(
    State(state): State<WebState>,
    PageAdmin(session): PageAdmin,
    Query(q): Query<ConfigQuery>,
) -> Response {
    let notice = q
        .saved
        .map(|v| format!("Saved as version {v}; it applies now."));
    config_view(&state, &session, StatusCode::OK, None, notice, None).await
}

async fn config_submit(
    State(state): State<WebState>,
    PageAdmin(session): PageAdmin,
    Form(mut form): Form<BTreeMap<String, String>>,
) -> Response {
    let csrf = form.remove("csrf");
    if !session.csrf_ok(csrf.as_deref()) {
        return csrf_refused();
    }
    let current = state.control().runtime_config();
    let expected = form
        .remove("expected_version")
        .and_then(|v| v.parse::<i64>().ok())
        .unwrap_or(current.version);
    let refused = |errors: Vec<FieldError>, message: String| {
        (config_form::view_submitted(&form, &errors), Some(message))
    };
    let (sections, error) = match config_form::parse(&current.config, &form) {
        Err(errors) => refused(
            errors,
            "Nothing was saved: correct the fields marked below.".into(),
        ),
        Ok(config) => {
            match state
                .control()
                .update_runtime_config(config, expected, &session.admin.username)
                .await
            {
                Ok(saved) => {
                    return Redirect::to(&format!("/disconcierge/config?saved={}", saved.version))
                        .into_response();
                }
                Err(ConfigUpdateError::Invalid(errors)) => refused(
                    errors.0,
                    "Nothing was saved: correct the fields marked below.".into(),
                ),
                Err(e @ ConfigUpdateError::Conflict { .. }) => refused(
                    Vec::new(),
                    format!("Nothing was saved: {e}. Your values are kept below."),
                ),
                Err(ConfigUpdateError::Failed(message)) => {
                    tracing::error!(%message, "could not save the runtime configuration");
                    refused(
                        Vec::new(),
                        "Nothing was saved: the database did not accept the change; try again. \
                         Your values are kept below."
                            .into(),
                    )
                }
            }
        }
    };
    config_view(
        &state,
        &session,
        StatusCode::UNPROCESSABLE_ENTITY,
        Some(sections),
        None,
        error,
    )
    .await
}

/// Whether the database answers, and how fast.
pub(crate) async fn database_health(state: &WebState) -> crate::Health {
    use crate::{Health, HealthLevel};
    let started = std::time::Instant::now();
    let kind = state.store().kind();
    match state.store().ping().await {
        Ok(()) => Health::new(
            HealthLevel::Ok,
            format!(
                "{kind}: answered in {:.1} ms",
                started.elapsed().as_secs_f64() * 1000.0
            ),
        ),
        Err(e) => {
            tracing::warn!(error = %e, "dashboard: the database did not answer");
            Health::new(HealthLevel::Down, format!("{kind}: not answering"))
        }
    }
}

// ----- Actions -----

/// Pauses or resumes the bot (the runtime configuration's `paused`, applied at once on every instance).
pub(crate) async fn set_paused(
    state: &WebState,
    paused: bool,
    by: &str,
) -> Result<std::sync::Arc<disconcierge_core::model::StoredRuntimeConfig>, ConfigUpdateError> {
    // Retried once: an unrelated change saved in between only moves the version.
    let mut attempt = 0;
    loop {
        let current = state.control().runtime_config();
        let mut config = current.config.clone();
        config.paused = paused;
        match state
            .control()
            .update_runtime_config(config, current.version, by)
            .await
        {
            Err(ConfigUpdateError::Conflict { .. }) if attempt == 0 => attempt += 1,
            other => return other,
        }
    }
}

#[derive(Deserialize)]
struct ActionForm {
    csrf: Option<String>,
    confirm: Option<String>,
}

/// Every user's next `/chat` starts a new conversation; how many users.
pub(crate) async fn clear_conversations(state: &WebState, by: &str) -> Result<u64, StoreError> {
    let users = state
        .store()
        .clear_all_conversations(chrono::Utc::now())
        .await?;
    tracing::info!(by, users, "every conversation cleared (admin action)");
    Ok(users)
}

/// What the admin who asked for a shutdown is told.
pub(crate) const SHUTDOWN_MESSAGE: &str = "disconcierge is stopping: answers being written finish first, \
     and questions still queued wait in the database for the next start. Start it again with your \
     service manager (or `disconcierge run`).";

async fn action_submit(
    State(state): State<WebState>,
    PageAdmin(session): PageAdmin,
    Path(action): Path<String>,
    Form(form): Form<ActionForm>,
) -> Response {
    if !session.csrf_ok(form.csrf.as_deref()) {
        return csrf_refused();
    }
    let paused = match action.as_str() {
        "pause" => Some(true),
        "resume" => Some(false),
        "reload" | "shutdown" | "register" | "clear-conversations" => None,
        _ => {
            return error_page(
                StatusCode::NOT_FOUND,
                "No such action",
                "The actions are pause, resume, reload, register, clear-conversations and shutdown.",
            );
        }
    };
    if form.confirm.as_deref() != Some("yes") {
        return error_page(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Not confirmed",
            "Tick \"confirm\" next to the button to do this.",
        );
    }
    if action == "register" {
        return match state.control().register_commands(&session.actor()).await {
            Ok(_) => Redirect::to("/disconcierge?done=register").into_response(),
            Err(message) => error_page(StatusCode::SERVICE_UNAVAILABLE, "Not registered", &message),
        };
    }
    if action == "clear-conversations" {
        return match clear_conversations(&state, &session.actor()).await {
            Ok(_) => Redirect::to("/disconcierge?done=clear-conversations").into_response(),
            Err(e) => store_error(e),
        };
    }
    if action == "shutdown" {
        state.control().shutdown(&session.actor());
        return error_page(StatusCode::ACCEPTED, "Shutting down", SHUTDOWN_MESSAGE);
    }
    let Some(paused) = paused else {
        state.store().clear_caches();
        return match state.control().reload_runtime_config().await {
            Ok(true) => Redirect::to("/disconcierge?done=reload").into_response(),
            Ok(false) => Redirect::to("/disconcierge?done=reload-unchanged").into_response(),
            Err(e) => {
                tracing::error!(error = %e, "could not reload the configuration");
                error_page(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "Not done",
                    "The database did not answer; the configuration in force is unchanged. Try again.",
                )
            }
        };
    };
    match set_paused(&state, paused, &session.admin.username).await {
        Ok(_) => Redirect::to(&format!("/disconcierge?done={action}")).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "could not pause or resume");
            error_page(
                StatusCode::SERVICE_UNAVAILABLE,
                "Not done",
                &format!("The change could not be saved: {e}. Try again."),
            )
        }
    }
}
