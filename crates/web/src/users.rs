//! Users: search and list them with their usage against the limit, and change one user's settings
//! (priority, ignored, own limit, LLM overrides); as pages and API calls.

use crate::WebState;
use crate::auth::{ApiAdmin, PageAdmin, Session};
use crate::commands::latest_commands;
use crate::error::{ApiError, ErrorBody};
use crate::render::{csrf_refused, error_page, render, store_error};
use crate::views::{self, CommandView, FeedbackView};
use askama::Template;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Form, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use disconcierge_core::limits::Allowance;
use disconcierge_core::model::{ChatCommandFilter, User, UserFilter, UserSort};
use disconcierge_store::StoreError;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn routes() -> Router<WebState> {
    Router::new()
        .route("/disconcierge/users", get(users_page))
        .route("/disconcierge/users/{id}", get(user_page).post(user_submit))
}

pub fn api_routes() -> OpenApiRouter<WebState> {
    OpenApiRouter::default()
        .routes(routes!(users_api))
        .routes(routes!(user_api))
        .routes(routes!(settings_api))
}

const PAGE_SIZE: u32 = 50;
/// Bounds of a user's own settings.
const MAX_USER_LIMIT: u32 = 100_000;
const MAX_MODEL_CHARS: usize = 200;
const MAX_INSTRUCTIONS_CHARS: usize = 20_000;

/// A Discord user as lists and the API show them, with their usage against their limit.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = User)]
pub struct UserView {
    pub discord_id: String,
    pub username: String,
    pub global_name: Option<String>,
    /// Priority users are answered first, and even while the bot is paused.
    pub priority: bool,
    /// Ignored users get no answers.
    pub ignored: bool,
    /// The user's own limit of commands per 6 hours; `null`: the default.
    pub limit_override: Option<u32>,
    pub llm_model: Option<String>,
    pub llm_instructions: Option<String>,
    pub llm_temperature: Option<f32>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Commands counted in the last 6 hours.
    pub used: u32,
    /// The limit in force (own or default).
    pub limit: u32,
    /// When the next command slot frees up, if the user has used any.
    pub next_slot_at: Option<DateTime<Utc>>,
    #[serde(skip)]
    pub last_seen: String,
}

async fn user_view(state: &WebState, user: &User) -> Result<UserView, StoreError> {
    let now = Utc::now();
    let since = Allowance::window_start(now);
    let usage = state.store().usage_since(user.discord_id, since).await?;
    let default_limit = state
        .control()
        .runtime_config()
        .config
        .user_chat_command_limit_6h;
    let allowance = Allowance::new(
        usage.counted,
        user.limit_override.unwrap_or(default_limit),
        usage.oldest,
    );
    Ok(UserView {
        discord_id: user.discord_id.to_string(),
        username: user.username.clone(),
        global_name: user.global_name.clone(),
        priority: user.priority,
        ignored: user.ignored,
        limit_override: user.limit_override,
        llm_model: user.llm_model.clone(),
        llm_instructions: user.llm_instructions.clone(),
        llm_temperature: user.llm_temperature,
        created_at: user.created_at,
        updated_at: user.updated_at,
        used: allowance.used,
        limit: allowance.limit,
        next_slot_at: allowance.next_slot_at,
        last_seen: views::when(user.updated_at),
    })
}

/// The list's query as typed (kept as text so that a bad value is shown back).
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct ListQuery {
    /// Only users whose name or id contains this.
    #[serde(default)]
    search: String,
    /// `recent` (last seen first, the default) or `name`.
    #[serde(default)]
    #[param(value_type = Option<String>, pattern = "^(recent|name)?$")]
    sort: String,
    /// The keyset cursor: `<sort key>|<id>` of the last row of the previous page (the previous
    /// page's `next_after`).
    #[serde(default)]
    after: String,
    /// Items per page, 1 to 200 (50 by default).
    #[param(value_type = Option<u32>, minimum = 1, maximum = 200)]
    limit: Option<String>,
}

impl ListQuery {
    fn filter(&self) -> Result<UserFilter, String> {
        let sort = match self.sort.trim() {
            "" | "recent" => UserSort::Recent,
            "name" => UserSort::Name,
            other => return Err(format!("sort must be recent or name, got {other:?}")),
        };
        let mut filter = UserFilter {
            search: Some(self.search.trim().to_string()).filter(|s| !s.is_empty()),
            sort,
            ..Default::default()
        };
        let after = self.after.trim();
        if !after.is_empty() {
            let bad = || format!("after must be a cursor from a previous page, got {after:?}");
            let (key, id) = after.rsplit_once('|').ok_or_else(bad)?;
            let id = id.parse::<u64>().map_err(|_| bad())?;
            match sort {
                UserSort::Recent => {
                    let at = DateTime::parse_from_rfc3339(key).map_err(|_| bad())?;
                    filter.after_recent = Some((at.with_timezone(&Utc), id));
                }
                UserSort::Name => filter.after_name = Some((key.to_string(), id)),
            }
        }
        Ok(filter)
    }

    fn cursor(sort: UserSort, last: &User) -> String {
        match sort {
            UserSort::Recent => format!(
                "{}|{}",
                last.updated_at
                    .to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
                last.discord_id
            ),
            UserSort::Name => format!("{}|{}", last.username, last.discord_id),
        }
    }
}

/// A page of users with their usage; the cursor of the next page if there is one.
async fn page(
    state: &WebState,
    filter: &UserFilter,
    limit: u32,
) -> Result<(Vec<UserView>, Option<String>), StoreError> {
    let mut users = state.store().list_users(filter, limit + 1).await?;
    let more = users.len() > limit as usize;
    users.truncate(limit as usize);
    let next = if more {
        users.last().map(|u| ListQuery::cursor(filter.sort, u))
    } else {
        None
    };
    let mut views = Vec::with_capacity(users.len());
    for u in &users {
        views.push(user_view(state, u).await?);
    }
    Ok((views, next))
}

// ----- Pages -----

#[derive(Template)]
#[template(path = "users.html")]
struct UsersPage {
    csrf: String,
    admin: String,
    search: String,
    by_name: bool,
    users: Vec<UserView>,
    error: Option<String>,
    next_page: Option<String>,
}

async fn users_page(
    State(state): State<WebState>,
    PageAdmin(session): PageAdmin,
    Query(q): Query<ListQuery>,
) -> Response {
    let (users, error, next_page) = match q.filter() {
        Err(message) => (Vec::new(), Some(message), None),
        Ok(filter) => match page(&state, &filter, PAGE_SIZE).await {
            Ok((users, next)) => {
                let next_page = next.map(|cursor| {
                    format!(
                        "/disconcierge/users?search={}&sort={}&after={}",
                        crate::auth::url_encode(q.search.trim()),
                        if filter.sort == UserSort::Name {
                            "name"
                        } else {
                            "recent"
                        },
                        crate::auth::url_encode(&cursor)
                    )
                });
                (users, None, next_page)
            }
            Err(e) => return store_error(e),
        },
    };
    render(
        if error.is_some() {
            StatusCode::BAD_REQUEST
        } else {
            StatusCode::OK
        },
        &UsersPage {
            csrf: session.csrf.clone(),
            admin: session.admin.username.clone(),
            search: q.search.clone(),
            by_name: q.sort.trim() == "name",
            users,
            error,
            next_page,
        },
    )
}

/// The settings form's values, as text.
#[derive(Debug, Default, Deserialize)]
struct SettingsForm {
    csrf: Option<String>,
    priority: Option<String>,
    ignored: Option<String>,
    #[serde(default)]
    limit_override: String,
    #[serde(default)]
    llm_model: String,
    #[serde(default)]
    llm_instructions: String,
    #[serde(default)]
    llm_temperature: String,
}

/// What the settings form shows.
struct FormValues {
    priority: bool,
    ignored: bool,
    limit_override: String,
    llm_model: String,
    llm_instructions: String,
    llm_temperature: String,
}

impl FormValues {
    fn of(user: &User) -> Self {
        FormValues {
            priority: user.priority,
            ignored: user.ignored,
            limit_override: user
                .limit_override
                .map(|l| l.to_string())
                .unwrap_or_default(),
            llm_model: user.llm_model.clone().unwrap_or_default(),
            llm_instructions: user.llm_instructions.clone().unwrap_or_default(),
            llm_temperature: user
                .llm_temperature
                .map(|t| t.to_string())
                .unwrap_or_default(),
        }
    }

    fn submitted(form: &SettingsForm) -> Self {
        FormValues {
            priority: form.priority.is_some(),
            ignored: form.ignored.is_some(),
            limit_override: form.limit_override.clone(),
            llm_model: form.llm_model.clone(),
            llm_instructions: form.llm_instructions.clone(),
            llm_temperature: form.llm_temperature.clone(),
        }
    }
}

/// A user's settings, checked.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = UserSettings)]
struct Settings {
    /// Answered first, and even while the bot is paused.
    #[serde(default)]
    priority: bool,
    /// Gets no answers.
    #[serde(default)]
    ignored: bool,
    /// Commands per 6 hours, at most 100000; `null`: the default limit.
    #[schema(maximum = 100_000)]
    limit_override: Option<u32>,
    /// The model to use for this user (at most 200 characters); `null`: the configured one.
    llm_model: Option<String>,
    /// Instructions for this user (at most 20000 characters); `null`: the configured ones.
    llm_instructions: Option<String>,
    /// Sampling temperature, 0 to 2; `null`: the configured one.
    #[schema(minimum = 0, maximum = 2)]
    llm_temperature: Option<f32>,
}

impl Settings {
    fn from_form(form: &SettingsForm) -> Result<Settings, String> {
        let text = |s: &str| Some(s.trim().to_string()).filter(|s| !s.is_empty());
        let limit_override = match form.limit_override.trim() {
            "" => None,
            l => Some(l.parse::<u32>().map_err(|_| {
                format!("Commands per 6 hours must be a whole number (or empty for the default), got {l:?}.")
            })?),
        };
        let llm_temperature = match form.llm_temperature.trim() {
            "" => None,
            t => Some(t.parse::<f32>().map_err(|_| {
                format!("Temperature must be a number from 0 to 2 (or empty), got {t:?}.")
            })?),
        };
        let settings = Settings {
            priority: form.priority.is_some(),
            ignored: form.ignored.is_some(),
            limit_override,
            llm_model: text(&form.llm_model),
            llm_instructions: form
                .llm_instructions
                .replace("\r\n", "\n")
                .trim()
                .to_string()
                .into(),
            llm_temperature,
        };
        let settings = Settings {
            llm_instructions: settings.llm_instructions.filter(|s| !s.is_empty()),
            ..settings
        };
        settings.validate()?;
        Ok(settings)
    }

    fn validate(&self) -> Result<(), String> {
        if self.limit_override.is_some_and(|l| l > MAX_USER_LIMIT) {
            return Err(format!(
                "Commands per 6 hours must be at most {MAX_USER_LIMIT}."
            ));
        }
        if self
            .llm_temperature
            .is_some_and(|t| !(0.0..=2.0).contains(&t))
        {
            return Err("Temperature must be from 0 to 2.".into());
        }
        if self
            .llm_model
            .as_ref()
            .is_some_and(|m| m.chars().count() > MAX_MODEL_CHARS)
        {
            return Err(format!(
                "The model name is longer than {MAX_MODEL_CHARS} characters."
            ));
        }
        if self
            .llm_instructions
            .as_ref()
            .is_some_and(|m| m.chars().count() > MAX_INSTRUCTIONS_CHARS)
        {
            return Err(format!(
                "The instructions are longer than {MAX_INSTRUCTIONS_CHARS} characters."
            ));
        }
        Ok(())
    }

    async fn save(&self, state: &WebState, user: u64, by: &Session) -> Result<User, StoreError> {
        let store = state.store();
        store.set_user_priority(user, self.priority).await?;
        store.set_user_ignored(user, self.ignored).await?;
        store
            .set_user_limit_override(user, self.limit_override)
            .await?;
        let saved = store
            .set_user_llm_overrides(
                user,
                self.llm_model.clone(),
                self.llm_instructions.clone(),
                self.llm_temperature,
            )
            .await?;
        tracing::info!(admin = %by.admin.username, user, ?self.limit_override, self.priority, self.ignored, "user settings changed");
        Ok(saved)
    }
}

#[derive(Template)]
#[template(path = "user.html")]
struct UserPage {
    csrf: String,
    admin: String,
    u: UserView,
    first_seen: String,
    next_slot: String,
    has_conversation: bool,
    default_limit: u32,
    form: FormValues,
    commands: Vec<CommandView>,
    feedback: Vec<FeedbackView>,
    notice: Option<String>,
    error: Option<String>,
}

/// A user's latest commands and the feedback they gave (20 of each), for the page and the API.
async fn activity(
    state: &WebState,
    id: u64,
) -> Result<(Vec<CommandView>, Vec<FeedbackView>), StoreError> {
    let commands = latest_commands(
        state,
        &ChatCommandFilter {
            user_id: Some(id),
            ..Default::default()
        },
        20,
    )
    .await?;
    let feedback = state
        .store()
        .feedback_by_user(id, 20)
        .await?
        .iter()
        .map(FeedbackView::new)
        .collect();
    Ok((commands, feedback))
}

fn parse_id(id: &str) -> Option<u64> {
    id.parse::<u64>().ok()
}

async fn user_view_page(
    state: &WebState,
    session: &Session,
    id: u64,
    status: StatusCode,
    form: Option<FormValues>,
    notice: Option<String>,
    error: Option<String>,
) -> Response {
    let user = match state.store().user(id).await {
        Ok(Some(u)) => u,
        Ok(None) => {
            return error_page(
                StatusCode::NOT_FOUND,
                "No such user",
                &format!("The bot has never seen user {id}."),
            );
        }
        Err(e) => return store_error(e),
    };
    let (u, (commands, feedback)) = match async {
        Ok::<_, StoreError>((user_view(state, &user).await?, activity(state, id).await?))
    }
    .await
    {
        Ok(d) => d,
        Err(e) => return store_error(e),
    };
    let next_slot = match u.next_slot_at {
        Some(at) if u.used >= u.limit => views::when(at),
        _ => "now".into(),
    };
    render(
        status,
        &UserPage {
            csrf: session.csrf.clone(),
            admin: session.admin.username.clone(),
            first_seen: views::when(user.created_at),
            next_slot,
            has_conversation: user.conversation_id.is_some(),
            default_limit: state
                .control()
                .runtime_config()
                .config
                .user_chat_command_limit_6h,
            form: form.unwrap_or_else(|| FormValues::of(&user)),
            u,
            commands,
            feedback,
            notice,
            error,
        },
    )
}

#[derive(Deserialize)]
struct Saved {
    saved: Option<String>,
}

async fn user_page(
    State(state): State<WebState>,
    PageAdmin(session): PageAdmin,
    Path(id): Path<String>,
    Query(q): Query<Saved>,
) -> Response {
    let Some(id) = parse_id(&id) else {
        return error_page(
            StatusCode::NOT_FOUND,
            "No such user",
            "User ids are Discord ids (digits).",
        );
    };
    let notice = q
        .saved
        .map(|_| "Saved; it applies to the user's next command.".to_string());
    user_view_page(&state, &session, id, StatusCode::OK, None, notice, None).await
}

async fn user_submit(
    State(state): State<WebState>,
    PageAdmin(session): PageAdmin,
    Path(id): Path<String>,
    Form(form): Form<SettingsForm>,
) -> Response {
    if !session.csrf_ok(form.csrf.as_deref()) {
        return csrf_refused();
    }
    let Some(id) = parse_id(&id) else {
        return error_page(
            StatusCode::NOT_FOUND,
            "No such user",
            "User ids are Discord ids (digits).",
        );
    };
    match Settings::from_form(&form) {
        Err(message) => {
            user_view_page(
                &state,
                &session,
                id,
                StatusCode::UNPROCESSABLE_ENTITY,
                Some(FormValues::submitted(&form)),
                None,
                Some(format!("Nothing was saved: {message}")),
            )
            .await
        }
        Ok(settings) => match settings.save(&state, id, &session).await {
            Ok(_) => Redirect::to(&format!("/disconcierge/users/{id}?saved=1")).into_response(),
            Err(StoreError::NotFound(_)) => error_page(
                StatusCode::NOT_FOUND,
                "No such user",
                &format!("The bot has never seen user {id}."),
            ),
            Err(e) => store_error(e),
        },
    }
}

// ----- API -----

/// A page of users.
#[derive(Serialize, ToSchema)]
#[schema(as = UserPage)]
struct UsersPageBody {
    items: Vec<UserView>,
    /// Pass as `after` (with the same `sort` and `search`) for the next page; `null` on the last page.
    next_after: Option<String>,
}

/// The users who used the bot, last seen first (or by name), with their usage.
#[utoipa::path(
    get,
    path = "/api/users",
    operation_id = "list_users",
    tag = "users",
    params(ListQuery),
    responses(
        (status = 200, description = "A page of users.", body = UsersPageBody),
        (status = 400, description = "`bad_request`: `sort`, `after` or `limit` is not valid (the message \
            says which).", body = ErrorBody),
    ),
    security(("session" = []), ("bearer" = [])),
)]
async fn users_api(
    State(state): State<WebState>,
    ApiAdmin(_): ApiAdmin,
    Query(q): Query<ListQuery>,
) -> Result<Json<UsersPageBody>, ApiError> {
    let bad = |m: String| ApiError::new(StatusCode::BAD_REQUEST, "bad_request", m);
    let filter = q.filter().map_err(bad)?;
    let limit = crate::paging::page_limit(q.limit.as_deref(), PAGE_SIZE)?;
    let (items, next_after) = page(&state, &filter, limit).await?;
    Ok(Json(UsersPageBody { items, next_after }))
}

/// A user, with their latest commands and feedback.
#[derive(Serialize, ToSchema)]
struct UserDetail {
    user: UserView,
    /// Whether their next `/chat` continues a conversation.
    has_conversation: bool,
    /// Their latest 20 commands, newest first.
    recent_commands: Vec<CommandView>,
    /// The latest 20 feedback they gave, newest first.
    feedback: Vec<FeedbackView>,
}

fn no_such_user(id: &str) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "not_found",
        format!("the bot has never seen user {id:?}"),
    )
}

/// One user, with their latest commands and feedback.
#[utoipa::path(
    get,
    path = "/api/users/{id}",
    operation_id = "get_user",
    tag = "users",
    params(("id" = String, Path, description = "The user's Discord id (digits).")),
    responses(
        (status = 200, description = "The user.", body = UserDetail),
        (status = 404, description = "`not_found`: the bot has never seen this user.", body = ErrorBody),
    ),
    security(("session" = []), ("bearer" = [])),
)]
async fn user_api(
    State(state): State<WebState>,
    ApiAdmin(_): ApiAdmin,
    Path(id): Path<String>,
) -> Result<Json<UserDetail>, ApiError> {
    let discord_id = parse_id(&id).ok_or_else(|| no_such_user(&id))?;
    let user = state
        .store()
        .user(discord_id)
        .await?
        .ok_or_else(|| no_such_user(&id))?;
    let (recent_commands, feedback) = activity(&state, discord_id).await?;
    Ok(Json(UserDetail {
        user: user_view(&state, &user).await?,
        has_conversation: user.conversation_id.is_some(),
        recent_commands,
        feedback,
    }))
}

/// Set a user's settings.
///
/// The user's whole settings: fields left out take their default (not priority, not ignored, no own
/// limit, no LLM override). They apply to the user's next command.
#[utoipa::path(
    put,
    path = "/api/users/{id}/settings",
    operation_id = "set_user_settings",
    tag = "users",
    params(("id" = String, Path, description = "The user's Discord id (digits).")),
    request_body = Settings,
    responses(
        (status = 200, description = "Saved: the user.", body = UserView),
        (status = 400, description = "`bad_request`: the body is not the expected JSON (an unknown field is \
            refused too).", body = ErrorBody),
        (status = 404, description = "`not_found`: the bot has never seen this user.", body = ErrorBody),
        (status = 422, description = "`invalid`: a value is out of range (the message says which).",
            body = ErrorBody),
    ),
    security(("session" = []), ("bearer" = [])),
)]
async fn settings_api(
    State(state): State<WebState>,
    ApiAdmin(session): ApiAdmin,
    Path(id): Path<String>,
    body: Result<Json<Settings>, JsonRejection>,
) -> Result<Json<UserView>, ApiError> {
    let Json(settings) = body?;
    let discord_id = parse_id(&id).ok_or_else(|| no_such_user(&id))?;
    settings
        .validate()
        .map_err(|m| ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid", m))?;
    match settings.save(&state, discord_id, &session).await {
        Ok(user) => Ok(Json(user_view(&state, &user).await?)),
        Err(StoreError::NotFound(_)) => Err(no_such_user(&id)),
        Err(e) => Err(e.into()),
    }
}
