//! Who the bot is (user, application, gateway info) and its application commands.

use std::sync::Arc;

use axum::Extension;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use twilight_model::application::command::Command;
use twilight_model::id::Id;
use twilight_model::id::marker::{ApplicationMarker, GuildMarker, UserMarker};
use twilight_model::oauth::Application;
use twilight_model::user::CurrentUser;

use super::bodies::validate_commands;
use super::error::{ApiError, FormErrors};
use super::{ReqCtx, check, json, parse_body_with, snowflake};
use crate::model::{to_json, typed};
use crate::shared::Shared;

pub(super) async fn current_user(State(s): State<Arc<Shared>>) -> Response {
    let user: CurrentUser = s.read(|w| {
        let mut u = to_json(&w.bot);
        u["mfa_enabled"] = json!(false);
        u["verified"] = json!(true);
        typed(u)
    });
    json(&user)
}

pub(super) async fn user(
    State(s): State<Arc<Shared>>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let id: Id<UserMarker> = snowflake(&id, ApiError::unknown_user)?;
    s.read(|w| w.users.get(&id).map(json))
        .ok_or_else(ApiError::unknown_user)
}

pub(super) async fn current_application(State(s): State<Arc<Shared>>) -> Response {
    let key = crate::webhook::hex(s.signing_key.verifying_key().as_bytes());
    let flags = application_flags(s.config.privileged_intents);
    let app: Application = s.read(|w| {
        typed(json!({
            "id": w.application_id,
            "name": w.application_name,
            "icon": null,
            "description": "",
            "bot_public": false,
            "bot_require_code_grant": false,
            "verify_key": key,
            "flags": flags,
            "bot": w.bot,
            "owner": w.bot,
            "interactions_endpoint_url": null,
            "redirect_uris": [],
            "rpc_origins": [],
        }))
    });
    json(&app)
}

/// The application's flags for the privileged intents the portal allows, as Discord reports them for an
/// unverified bot (the `_LIMITED` flags: switched on in Bot → Privileged Gateway Intents).
fn application_flags(allowed: twilight_model::gateway::Intents) -> u64 {
    use twilight_model::gateway::Intents;
    use twilight_model::oauth::ApplicationFlags as F;
    [
        (Intents::GUILD_PRESENCES, F::GATEWAY_PRESENCE_LIMITED),
        (Intents::GUILD_MEMBERS, F::GATEWAY_GUILD_MEMBERS_LIMITED),
        (Intents::MESSAGE_CONTENT, F::GATEWAY_MESSAGE_CONTENT_LIMITED),
    ]
    .into_iter()
    .filter(|(intent, _)| allowed.contains(*intent))
    .fold(F::empty(), |flags, (_, flag)| flags | flag)
    .bits()
}

pub(super) async fn gateway(State(s): State<Arc<Shared>>) -> Response {
    axum::Json(json!({"url": s.gateway_url()})).into_response()
}

pub(super) async fn gateway_bot(State(s): State<Arc<Shared>>) -> Response {
    axum::Json(json!({
        "url": s.gateway_url(),
        "shards": s.config.required_shards,
        "session_start_limit": {
            "total": 1000,
            "remaining": 1000,
            "reset_after": 86_400_000,
            "max_concurrency": s.config.max_concurrency,
        },
    }))
    .into_response()
}

/// Discord assigns command versions; twilight-model requires the field, so a body without it (valid
/// for Discord) gets a placeholder before being read.
fn default_versions(v: &mut serde_json::Value) {
    if let Some(list) = v.as_array_mut() {
        for c in list {
            if let Some(o) = c.as_object_mut() {
                o.entry("version").or_insert_with(|| json!("1"));
            }
        }
    }
}

fn check_app(s: &Shared, app: &str) -> Result<(), ApiError> {
    let app: Id<ApplicationMarker> = snowflake(app, ApiError::unknown_application)?;
    if s.read(|w| w.application_id) == app {
        Ok(())
    } else {
        Err(ApiError::missing_access())
    }
}

/// Gives overwritten commands the ids, application id and version Discord assigns, keeping the ids of
/// commands that already existed with the same name and type.
fn assign_ids(
    s: &Shared,
    w: &mut crate::world::World,
    previous: &[Command],
    guild: Option<Id<GuildMarker>>,
    mut commands: Vec<Command>,
) -> Vec<Command> {
    for c in &mut commands {
        let existing = previous
            .iter()
            .find(|p| p.name == c.name && p.kind == c.kind)
            .and_then(|p| p.id);
        c.id = Some(existing.unwrap_or_else(|| w.next_id(&s.clock)));
        c.application_id = Some(w.application_id);
        c.guild_id = guild;
        c.version = w.next_id(&s.clock);
    }
    commands
}

pub(super) async fn get_global_commands(
    State(s): State<Arc<Shared>>,
    Path(app): Path<String>,
) -> Result<Response, ApiError> {
    check_app(&s, &app)?;
    Ok(s.read(|w| json(&w.global_commands)))
}

pub(super) async fn put_global_commands(
    State(s): State<Arc<Shared>>,
    Extension(ctx): Extension<ReqCtx>,
    Path(app): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    check_app(&s, &app)?;
    let commands: Vec<Command> = parse_body_with(&s, &ctx, &body, default_versions)?;
    let mut errs = FormErrors::default();
    validate_commands(&mut errs, &commands);
    check(&s, &ctx, &errs)?;
    Ok(s.mutate(|w| {
        let prev = std::mem::take(&mut w.global_commands);
        let stored = assign_ids(&s, w, &prev, None, commands);
        w.global_commands = stored;
        json(&w.global_commands)
    }))
}

pub(super) async fn get_guild_commands(
    State(s): State<Arc<Shared>>,
    Path((app, guild)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    check_app(&s, &app)?;
    let guild: Id<GuildMarker> = snowflake(&guild, ApiError::unknown_guild)?;
    s.read(|w| {
        if !w.guilds.contains_key(&guild) {
            return Err(ApiError::unknown_guild());
        }
        Ok(json(
            &w.guild_commands.get(&guild).cloned().unwrap_or_default(),
        ))
    })
}

pub(super) async fn put_guild_commands(
    State(s): State<Arc<Shared>>,
    Extension(ctx): Extension<ReqCtx>,
    Path((app, guild)): Path<(String, String)>,
    body: Bytes,
) -> Result<Response, ApiError> {
    check_app(&s, &app)?;
    let guild: Id<GuildMarker> = snowflake(&guild, ApiError::unknown_guild)?;
    if !s.read(|w| w.guilds.contains_key(&guild)) {
        return Err(ApiError::unknown_guild());
    }
    let commands: Vec<Command> = parse_body_with(&s, &ctx, &body, default_versions)?;
    let mut errs = FormErrors::default();
    validate_commands(&mut errs, &commands);
    check(&s, &ctx, &errs)?;
    Ok(s.mutate(|w| {
        let prev = w.guild_commands.remove(&guild).unwrap_or_default();
        let stored = assign_ids(&s, w, &prev, Some(guild), commands);
        let out = json(&stored);
        w.guild_commands.insert(guild, stored);
        out
    }))
}
