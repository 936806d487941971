//! A server's support-desk settings: what `/setup` stored (forum, staff role, log channel, instructions,
//! auto-close) shown, and the switches and per-member limits (AI replies, training, replies per member
//! in 6 hours, time between two replies) changed here as with `/setup`. As the page
//! `/disconcierge/desk/settings` and as `GET`/`PATCH /api/desk/settings`.

use super::{FormError, GuildChoice, Invalid, api_guild, not_found, page_guild, when_or};
use crate::WebState;
use crate::auth::{ApiAdmin, PageAdmin, Session};
use crate::error::{ApiError, ErrorBody};
use crate::render::{csrf_refused, error_page, render, store_error};
use askama::Template;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Form, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use disconcierge_core::desk::model::GuildSettings;
use disconcierge_store::StoreError;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// The most AI replies per member in 6 hours a server may allow (as `/setup`).
const MAX_REPLIES_PER_6H: u32 = 1000;
/// The longest time between two AI replies to a member, in seconds (a day, as `/setup`).
const MAX_REPLY_INTERVAL: u32 = 86_400;

pub fn routes() -> Router<WebState> {
    Router::new().route(
        "/disconcierge/desk/settings",
        get(settings_page).post(save_page),
    )
}

pub fn api_routes() -> OpenApiRouter<WebState> {
    OpenApiRouter::default().routes(routes!(settings_api, change_api))
}

/// A server's support-desk settings (Discord ids as strings).
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = DeskSettings)]
pub struct SettingsView {
    pub guild_id: String,
    /// The forum tickets are opened in (`/setup`).
    pub forum_channel_id: String,
    /// The staff role (`/setup`).
    pub staff_role_id: String,
    pub log_channel_id: Option<String>,
    pub instructions: Option<String>,
    pub auto_close_after_secs: Option<u64>,
    /// The bot replies in this server's tickets (`DC_DESK_AI_REPLIES=false` still turns it off).
    pub ai_replies: bool,
    /// Trained answers are added and used (`DC_DESK_TRAINING=false` still turns it off).
    pub training: bool,
    /// AI replies to one member (staff excepted) in 6 hours; 0: no limit.
    pub member_replies_per_6h: u32,
    /// The least time between two AI replies to one member, in seconds; 0: none.
    pub member_reply_interval_secs: u32,
    /// Who changed them last: a Discord user id, or `0` for the admin interface.
    pub updated_by: String,
    pub updated_at: DateTime<Utc>,
}

impl SettingsView {
    fn new(s: &GuildSettings) -> Self {
        SettingsView {
            guild_id: s.guild_id.to_string(),
            forum_channel_id: s.forum_channel_id.to_string(),
            staff_role_id: s.staff_role_id.to_string(),
            log_channel_id: s.log_channel_id.map(|c| c.to_string()),
            instructions: s.instructions.clone(),
            auto_close_after_secs: s.auto_close_after_secs,
            ai_replies: s.ai_replies,
            training: s.training,
            member_replies_per_6h: s.member_replies_per_6h,
            member_reply_interval_secs: s.member_reply_interval_secs,
            updated_by: s.updated_by.to_string(),
            updated_at: s.updated_at,
        }
    }

    pub fn updated(&self) -> String {
        when_or(Some(self.updated_at), "")
    }
}

/// What may change here; a field left out stays as it is.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SettingsChange {
    pub ai_replies: Option<bool>,
    pub training: Option<bool>,
    /// 0 to 1000; 0: no limit.
    #[schema(minimum = 0, maximum = 1000)]
    pub member_replies_per_6h: Option<u32>,
    /// Seconds, 0 to 86400; 0: none.
    #[schema(minimum = 0, maximum = 86400)]
    pub member_reply_interval_secs: Option<u32>,
}

impl SettingsChange {
    /// `current` with the change applied, or the field that is out of bounds.
    fn applied(&self, current: &GuildSettings) -> Result<GuildSettings, Invalid> {
        if self
            .member_replies_per_6h
            .is_some_and(|n| n > MAX_REPLIES_PER_6H)
        {
            return Err(Invalid::new(
                "member_replies_per_6h",
                format!("must be from 0 (no limit) to {MAX_REPLIES_PER_6H}"),
            ));
        }
        if self
            .member_reply_interval_secs
            .is_some_and(|n| n > MAX_REPLY_INTERVAL)
        {
            return Err(Invalid::new(
                "member_reply_interval_secs",
                format!("must be from 0 (none) to {MAX_REPLY_INTERVAL} seconds (a day)"),
            ));
        }
        Ok(GuildSettings {
            ai_replies: self.ai_replies.unwrap_or(current.ai_replies),
            training: self.training.unwrap_or(current.training),
            member_replies_per_6h: self
                .member_replies_per_6h
                .unwrap_or(current.member_replies_per_6h),
            member_reply_interval_secs: self
                .member_reply_interval_secs
                .unwrap_or(current.member_reply_interval_secs),
            updated_by: super::WEB_AUTHOR,
            updated_at: Utc::now(),
            ..current.clone()
        })
    }
}

/// Saves `change` for `guild_id`: the saved settings, `None` before the server's `/setup`, or the
/// field at fault.
async fn change(
    state: &WebState,
    session: &Session,
    guild_id: u64,
    change: &SettingsChange,
) -> Result<Option<Result<GuildSettings, Invalid>>, StoreError> {
    let Some(current) = state.store().guild_settings(guild_id).await? else {
        return Ok(None);
    };
    let saved = match change.applied(&current) {
        Ok(s) => s,
        Err(e) => return Ok(Some(Err(e))),
    };
    state.store().save_guild_settings(&saved).await?;
    tracing::info!(
        admin = %session.actor(),
        guild = guild_id,
        ai_replies = saved.ai_replies,
        training = saved.training,
        member_replies_per_6h = saved.member_replies_per_6h,
        member_reply_interval_secs = saved.member_reply_interval_secs,
        "support desk settings changed in the admin interface"
    );
    Ok(Some(Ok(saved)))
}

fn not_set_up(guild_id: u64) -> String {
    format!(
        "server {guild_id} has no support-desk settings yet: run /setup in that Discord server first \
         (it chooses the forum and the staff role)"
    )
}

// ----- API -----

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct GuildQuery {
    /// The guild (Discord server id).
    #[serde(default)]
    #[param(required = true)]
    guild: String,
}

/// A server's support-desk settings.
#[utoipa::path(
    get,
    path = "/api/desk/settings",
    operation_id = "get_desk_settings",
    tag = "tickets",
    params(GuildQuery),
    responses(
        (status = 200, description = "The server's settings.", body = SettingsView),
        (status = 400, description = "`bad_request`: `guild` is missing or not a Discord id.", body = ErrorBody),
        (status = 404, description = "`not_found`: the server has not run /setup.", body = ErrorBody),
    ),
    security(("session" = []), ("bearer" = [])),
)]
async fn settings_api(
    State(state): State<WebState>,
    ApiAdmin(_session): ApiAdmin,
    Query(q): Query<GuildQuery>,
) -> Result<Json<SettingsView>, ApiError> {
    let guild_id = api_guild(&q.guild)?;
    match state.store().guild_settings(guild_id).await? {
        Some(s) => Ok(Json(SettingsView::new(&s))),
        None => Err(not_found(not_set_up(guild_id))),
    }
}

/// Change a server's switches and per-member limits (fields left out stay as they are).
#[utoipa::path(
    patch,
    path = "/api/desk/settings",
    operation_id = "change_desk_settings",
    tag = "tickets",
    params(GuildQuery),
    request_body = SettingsChange,
    responses(
        (status = 200, description = "Saved: the server's settings.", body = SettingsView),
        (status = 400, description = "`bad_request`: `guild` is missing or not a Discord id, or the body is \
            not the expected JSON (an unknown field is refused too).", body = ErrorBody),
        (status = 404, description = "`not_found`: the server has not run /setup.", body = ErrorBody),
        (status = 422, description = "`invalid`: a limit is out of bounds; `fields` names it.", body = ErrorBody),
    ),
    security(("session" = []), ("bearer" = [])),
)]
async fn change_api(
    State(state): State<WebState>,
    ApiAdmin(session): ApiAdmin,
    Query(q): Query<GuildQuery>,
    body: Result<Json<SettingsChange>, JsonRejection>,
) -> Result<Json<SettingsView>, ApiError> {
    let guild_id = api_guild(&q.guild)?;
    let Json(body) = body?;
    match change(&state, &session, guild_id, &body).await? {
        None => Err(not_found(not_set_up(guild_id))),
        Some(Err(e)) => Err(e.api()),
        Some(Ok(saved)) => Ok(Json(SettingsView::new(&saved))),
    }
}

// ----- Page -----

#[derive(Template)]
#[template(path = "desk_settings.html")]
struct SettingsPage {
    csrf: String,
    admin: String,
    guilds: Vec<GuildChoice>,
    guild: String,
    s: SettingsView,
    form_error: FormError,
    notice: Option<String>,
}

/// The form's fields, as a browser sends them (unchecked boxes are left out).
#[derive(Debug, Default, Deserialize)]
struct SettingsForm {
    csrf: Option<String>,
    ai_replies: Option<String>,
    training: Option<String>,
    #[serde(default)]
    member_replies_per_6h: String,
    #[serde(default)]
    member_reply_interval_secs: String,
}

impl SettingsForm {
    fn change(&self) -> Result<SettingsChange, Invalid> {
        let number = |field: &'static str, v: &str| {
            v.trim()
                .parse::<u32>()
                .map_err(|_| Invalid::new(field, "must be a whole number (0: no limit)"))
        };
        Ok(SettingsChange {
            ai_replies: Some(self.ai_replies.is_some()),
            training: Some(self.training.is_some()),
            member_replies_per_6h: Some(number(
                "member_replies_per_6h",
                &self.member_replies_per_6h,
            )?),
            member_reply_interval_secs: Some(number(
                "member_reply_interval_secs",
                &self.member_reply_interval_secs,
            )?),
        })
    }
}

#[derive(Debug, Default, Deserialize)]
struct PageQuery {
    #[serde(default)]
    guild: String,
    saved: Option<String>,
}

async fn settings_view(
    state: &WebState,
    session: &Session,
    typed_guild: &str,
    form_error: FormError,
    notice: Option<String>,
) -> Response {
    let (guilds, guild_id) = match page_guild(state, typed_guild).await {
        Ok(g) => g,
        Err(response) => return response,
    };
    let settings = match state.store().guild_settings(guild_id).await {
        Ok(Some(s)) => s,
        Ok(None) => {
            let message = not_set_up(guild_id);
            return error_page(StatusCode::NOT_FOUND, "Not set up yet", &message);
        }
        Err(e) => return store_error(e),
    };
    let status = if form_error.summary().is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    render(
        status,
        &SettingsPage {
            csrf: session.csrf.clone(),
            admin: session.admin.username.clone(),
            guild: guilds.id(),
            guilds: guilds.choices,
            s: SettingsView::new(&settings),
            form_error,
            notice,
        },
    )
}

async fn settings_page(
    State(state): State<WebState>,
    PageAdmin(session): PageAdmin,
    Query(q): Query<PageQuery>,
) -> Response {
    let notice = q
        .saved
        .map(|_| "Saved; the next ticket message follows it.".to_string());
    settings_view(&state, &session, &q.guild, FormError::default(), notice).await
}

async fn save_page(
    State(state): State<WebState>,
    PageAdmin(session): PageAdmin,
    Query(q): Query<PageQuery>,
    Form(form): Form<SettingsForm>,
) -> Response {
    if !session.csrf_ok(form.csrf.as_deref()) {
        return csrf_refused();
    }
    let guild_id = match page_guild(&state, &q.guild).await {
        Ok((_, id)) => id,
        Err(response) => return response,
    };
    let invalid = match form.change() {
        Err(e) => e,
        Ok(c) => match change(&state, &session, guild_id, &c).await {
            Ok(Some(Ok(_))) => {
                return Redirect::to(&format!(
                    "/disconcierge/desk/settings?guild={guild_id}&saved=1"
                ))
                .into_response();
            }
            Ok(Some(Err(e))) => e,
            Ok(None) => {
                let message = not_set_up(guild_id);
                return error_page(StatusCode::NOT_FOUND, "Not set up yet", &message);
            }
            Err(e) => return store_error(e),
        },
    };
    settings_view(&state, &session, &q.guild, FormError::of(invalid), None).await
}
