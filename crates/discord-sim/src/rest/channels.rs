//! Channels, messages, threads (forum posts included), typing, and the guild reads a bot makes.

use std::sync::Arc;

use axum::Extension;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use serde_json::json;
use twilight_model::channel::message::{Message, MessageFlags};
use twilight_model::channel::{Channel, ChannelType};
use twilight_model::gateway::Intents;
use twilight_model::id::Id;
use twilight_model::id::marker::{
    ChannelMarker, GuildMarker, MessageMarker, TagMarker, UserMarker,
};

use super::bodies::{
    CreateMessage, EditMessage, Patch, StartThread, UpdateChannel, validate_message,
};
use super::error::{ApiError, FormErrors};
use super::{ReqCtx, check, json, no_content, parse_body, parse_form, reject, snowflake};
use crate::attachments::{self, Planned, Upload};
use crate::gateway::dispatch;
use crate::messages::{self, NewMessage};
use crate::model::{self, ThreadSpec, to_json};
use crate::shared::Shared;
use crate::world::{TypingRecord, World, is_thread};

fn channel_id(raw: &str) -> Result<Id<ChannelMarker>, ApiError> {
    snowflake(raw, ApiError::unknown_channel)
}

fn channel(w: &World, id: Id<ChannelMarker>) -> Result<&Channel, ApiError> {
    w.channels.get(&id).ok_or_else(ApiError::unknown_channel)
}

fn not_text() -> ApiError {
    ApiError::new(
        StatusCode::BAD_REQUEST,
        50008,
        "Cannot send messages in a non-text channel",
    )
}

/// Flags a bot may set when creating a channel message.
fn create_flags(flags: Option<MessageFlags>) -> MessageFlags {
    flags.unwrap_or(MessageFlags::empty())
        & (MessageFlags::SUPPRESS_EMBEDS
            | MessageFlags::SUPPRESS_NOTIFICATIONS
            | MessageFlags::from_bits_retain(1 << 15))
}

/// Nothing to show: no content, embeds, components, stickers, poll or attachments.
fn is_empty(body: &CreateMessage, attachments: Option<&Vec<Planned>>) -> bool {
    !attachments::any(attachments)
        && body.content.as_deref().unwrap_or_default().is_empty()
        && body.embeds.as_deref().unwrap_or_default().is_empty()
        && body.components.as_deref().unwrap_or_default().is_empty()
        && body.sticker_ids.as_deref().unwrap_or_default().is_empty()
        && body.poll.is_none()
}

/// Validates a new message and works out its attachments from `attachments` and the uploads.
fn validate_create(
    errs: &mut FormErrors,
    prefix: &[&str],
    body: &CreateMessage,
    files: Vec<Upload>,
) -> Vec<Planned> {
    validate_message(
        errs,
        prefix,
        body.content.as_deref(),
        body.embeds.as_deref(),
        body.components.as_deref(),
        body.flags,
    );
    attachments::plan(errs, prefix, body.attachments.as_deref(), files, None).unwrap_or_default()
}

/// Announces a changed channel (THREAD_UPDATE or CHANNEL_UPDATE).
fn announce_channel(w: &mut World, event: &str, ch: &Channel) {
    let d = to_json(ch);
    dispatch(w, event, ch.guild_id, Some(Intents::GUILDS), |_| d.clone());
}

/// Sending into an archived thread unarchives it, unless it is locked.
fn ensure_writable(shared: &Shared, w: &mut World, id: Id<ChannelMarker>) -> Result<(), ApiError> {
    let ch = channel(w, id)?;
    match ch.kind {
        ChannelType::GuildForum
        | ChannelType::GuildMedia
        | ChannelType::GuildCategory
        | ChannelType::GuildDirectory => return Err(not_text()),
        _ => {}
    }
    if let Some(meta) = &ch.thread_metadata
        && meta.archived
    {
        if meta.locked {
            return Err(ApiError::archived_thread());
        }
        let now = shared.clock.timestamp();
        let ch = w.channels.get_mut(&id).expect("exists");
        if let Some(m) = ch.thread_metadata.as_mut() {
            m.archived = false;
            m.archive_timestamp = now;
        }
        let ch = ch.clone();
        announce_channel(w, "THREAD_UPDATE", &ch);
    }
    Ok(())
}

pub(super) async fn get_channel(
    State(s): State<Arc<Shared>>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let id = channel_id(&id)?;
    s.read(|w| channel(w, id).map(json))
}

pub(super) async fn create_message(
    State(s): State<Arc<Shared>>,
    Extension(ctx): Extension<ReqCtx>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let id = channel_id(&id)?;
    s.read(|w| channel(w, id).map(|_| ()))?;
    let (body, files): (CreateMessage, _) = parse_form(&s, &ctx, body)?;
    let mut errs = FormErrors::default();
    let planned = validate_create(&mut errs, &[], &body, files);
    check(&s, &ctx, &errs)?;
    if is_empty(&body, Some(&planned)) {
        return Err(reject(&s, &ctx, ApiError::empty_message()));
    }
    s.mutate(|w| {
        ensure_writable(&s, w, id)?;
        let mut kind = 0;
        if let Some(r) = &body.message_reference {
            let target = r.message_id.filter(|m| w.messages.contains_key(m));
            if target.is_none() && r.fail_if_not_exists != Some(false) {
                let mut errs = FormErrors::default();
                errs.add(
                    &["message_reference"],
                    "MESSAGE_REFERENCE_UNKNOWN_MESSAGE",
                    "Unknown message",
                );
                return Err(ApiError::invalid_form(&errs));
            }
            if target.is_some() {
                kind = 19;
            }
        }
        let bot = w.bot.clone();
        let attachments = attachments::store(&s, w, id, planned);
        let msg = messages::create(
            w,
            &s.clock,
            NewMessage {
                embeds: body.embeds.unwrap_or_default(),
                components: body.components.unwrap_or_default(),
                attachments,
                flags: create_flags(body.flags),
                allowed_mentions: body.allowed_mentions,
                kind,
                reference: body.message_reference,
                ..NewMessage::simple(id, bot, body.content.unwrap_or_default())
            },
        );
        Ok(json(&msg))
    })
}

#[derive(Deserialize)]
pub(super) struct ListQuery {
    limit: Option<usize>,
    before: Option<u64>,
    after: Option<u64>,
    around: Option<u64>,
}

pub(super) async fn list_messages(
    State(s): State<Arc<Shared>>,
    Path(id): Path<String>,
    Query(q): Query<ListQuery>,
) -> Result<Response, ApiError> {
    let id = channel_id(&id)?;
    let limit = q.limit.unwrap_or(50).clamp(1, 100);
    s.read(|w| {
        channel(w, id)?;
        let visible: Vec<&Message> = w
            .messages_in(id)
            .into_iter()
            .filter(|m| {
                !m.flags
                    .unwrap_or(MessageFlags::empty())
                    .contains(MessageFlags::EPHEMERAL)
            })
            .collect();
        let mut out: Vec<&Message> = if let Some(a) = q.after {
            visible
                .into_iter()
                .filter(|m| m.id.get() > a)
                .take(limit)
                .collect()
        } else if let Some(c) = q.around {
            let pos = visible
                .iter()
                .position(|m| m.id.get() >= c)
                .unwrap_or(visible.len());
            let start = pos.saturating_sub(limit / 2);
            visible.into_iter().skip(start).take(limit).collect()
        } else {
            let before: Vec<&Message> = visible
                .into_iter()
                .filter(|m| q.before.is_none_or(|b| m.id.get() < b))
                .collect();
            let skip = before.len().saturating_sub(limit);
            before.into_iter().skip(skip).collect()
        };
        // Discord lists newest first.
        out.reverse();
        Ok(json(&out))
    })
}

fn message_in(w: &World, ch: Id<ChannelMarker>, raw: &str) -> Result<Id<MessageMarker>, ApiError> {
    channel(w, ch)?;
    let id: Id<MessageMarker> = snowflake(raw, ApiError::unknown_message)?;
    match w.messages.get(&id) {
        Some(m) if m.channel_id == ch => Ok(id),
        _ => Err(ApiError::unknown_message()),
    }
}

pub(super) async fn get_message(
    State(s): State<Arc<Shared>>,
    Path((ch, msg)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let ch = channel_id(&ch)?;
    s.read(|w| {
        let id = message_in(w, ch, &msg)?;
        Ok(json(&w.messages[&id]))
    })
}

pub(super) async fn edit_message(
    State(s): State<Arc<Shared>>,
    Extension(ctx): Extension<ReqCtx>,
    Path((ch, msg)): Path<(String, String)>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let ch = channel_id(&ch)?;
    let (id, existing) = s.read(|w| {
        let id = message_in(w, ch, &msg)?;
        Ok::<_, ApiError>((id, w.messages[&id].attachments.clone()))
    })?;
    let (edit, files): (EditMessage, _) = parse_form(&s, &ctx, body)?;
    let mut errs = FormErrors::default();
    let planned = validate_edit(&mut errs, &edit, files, &existing);
    check(&s, &ctx, &errs)?;
    s.mutate(|w| {
        if w.messages[&id].author.id != w.bot.id {
            return Err(ApiError::not_author());
        }
        let msg = crate::interactions::apply_edit(&s, w, id, edit, planned)
            .ok_or_else(ApiError::unknown_message)?;
        Ok(json(&msg))
    })
}

/// Validates an edit and works out the message's new attachments (`None`: unchanged) from its
/// `attachments`, the uploads and the attachments it has now.
pub(super) fn validate_edit(
    errs: &mut FormErrors,
    edit: &EditMessage,
    files: Vec<Upload>,
    existing: &[twilight_model::channel::Attachment],
) -> Option<Vec<Planned>> {
    validate_message(
        errs,
        &[],
        edit.content.as_option().map(String::as_str),
        edit.embeds.as_option().map(Vec::as_slice),
        edit.components.as_option().map(Vec::as_slice),
        edit.flags,
    );
    attachments::plan(
        errs,
        &[],
        edit.attachments.as_listed(),
        files,
        Some(existing),
    )
}

pub(super) async fn delete_message(
    State(s): State<Arc<Shared>>,
    Path((ch, msg)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let ch = channel_id(&ch)?;
    s.mutate(|w| {
        let id = message_in(w, ch, &msg)?;
        messages::delete(w, id);
        Ok(no_content())
    })
}

/// Checks `applied_tags` against the parent forum's available tags (at most 5, all known).
fn check_tags(errs: &mut FormErrors, forum: &Channel, tags: &[Id<TagMarker>], path: &str) {
    let known: Vec<Id<TagMarker>> = forum
        .available_tags
        .as_deref()
        .unwrap_or_default()
        .iter()
        .map(|t| t.id)
        .collect();
    if tags.len() > 5 {
        errs.add(
            &[path],
            "BASE_TYPE_MAX_LENGTH",
            "Must be 5 or fewer in length.",
        );
    }
    for (i, t) in tags.iter().enumerate() {
        if !known.contains(t) {
            errs.add(
                &[path, &i.to_string()],
                "FORUM_TAG_UNKNOWN",
                format!("Tag {t} is not available in this forum"),
            );
        }
    }
}

/// Creates a thread channel, makes the bot a member and announces THREAD_CREATE.
fn create_thread(
    s: &Shared,
    w: &mut World,
    id: Id<ChannelMarker>,
    parent: &Channel,
    body: &StartThread,
    kind: u8,
) -> Channel {
    let guild_id = parent.guild_id.expect("guild channel");
    let bot = w.bot.id;
    let mut thread = model::thread(&ThreadSpec {
        id,
        guild_id,
        parent_id: parent.id,
        owner_id: bot,
        name: &body.name,
        kind,
        applied_tags: body.applied_tags.as_deref().unwrap_or_default(),
        auto_archive_duration: body.auto_archive_duration.map_or(4320, |d| d.number()),
        now: s.clock.timestamp(),
    });
    thread.rate_limit_per_user = body.rate_limit_per_user;
    if kind == 12
        && let Some(m) = thread.thread_metadata.as_mut()
    {
        m.invitable = Some(body.invitable.unwrap_or(true));
    }
    w.channels.insert(id, thread.clone());
    if let Some(g) = w.guilds.get_mut(&guild_id) {
        g.channel_ids.push(id);
    }
    w.thread_members.entry(id).or_default().insert(bot);
    let mut d = to_json(&thread);
    d["newly_created"] = json!(true);
    dispatch(
        w,
        "THREAD_CREATE",
        Some(guild_id),
        Some(Intents::GUILDS),
        |_| d.clone(),
    );
    thread
}

pub(super) async fn start_thread(
    State(s): State<Arc<Shared>>,
    Extension(ctx): Extension<ReqCtx>,
    Path(parent): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let parent_id = channel_id(&parent)?;
    let parent = s.read(|w| channel(w, parent_id).cloned())?;
    let (body, files): (StartThread, _) = parse_form(&s, &ctx, body)?;
    let mut errs = FormErrors::default();
    let mut planned = Vec::new();
    let name_len = body.name.chars().count();
    if name_len == 0 || name_len > 100 {
        errs.add(
            &["name"],
            "BASE_TYPE_BAD_LENGTH",
            "Must be between 1 and 100 in length.",
        );
    }
    let is_forum = matches!(
        parent.kind,
        ChannelType::GuildForum | ChannelType::GuildMedia
    );
    if !is_forum && let Some(f) = files.first() {
        // Only a forum post has a message to attach files to.
        errs.add(
            &[&format!("files[{}]", f.index)],
            "ATTACHMENT_NOT_REFERENCED",
            "A thread without a starter message takes no files",
        );
    }
    if is_forum {
        match &body.message {
            Some(m) => {
                planned = validate_create(&mut errs, &["message"], m, files);
                if is_empty(m, Some(&planned)) && errs.is_empty() {
                    return Err(reject(&s, &ctx, ApiError::empty_message()));
                }
            }
            None => errs.add(&["message"], "BASE_TYPE_REQUIRED", "This field is required"),
        }
        check_tags(
            &mut errs,
            &parent,
            body.applied_tags.as_deref().unwrap_or_default(),
            "applied_tags",
        );
    } else if !matches!(
        parent.kind,
        ChannelType::GuildText | ChannelType::GuildAnnouncement
    ) {
        return Err(ApiError::wrong_channel_type());
    }
    check(&s, &ctx, &errs)?;
    s.mutate(|w| {
        let id: Id<ChannelMarker> = w.next_id(&s.clock);
        if is_forum {
            let thread = create_thread(&s, w, id, &parent, &body, 11);
            let m = body.message.clone().unwrap_or_default();
            let bot = w.bot.clone();
            let attachments = attachments::store(&s, w, id, planned);
            // A forum post's starter message has the thread's id.
            let msg = messages::create(
                w,
                &s.clock,
                NewMessage {
                    embeds: m.embeds.unwrap_or_default(),
                    components: m.components.unwrap_or_default(),
                    attachments,
                    flags: create_flags(m.flags),
                    allowed_mentions: m.allowed_mentions,
                    id: Some(id.cast()),
                    ..NewMessage::simple(id, bot, m.content.unwrap_or_default())
                },
            );
            let thread = w.channels.get(&thread.id).cloned().unwrap_or(thread);
            let mut out = to_json(&thread);
            out["message"] = to_json(&msg);
            Ok(axum::response::IntoResponse::into_response(axum::Json(out)))
        } else {
            let kind = match body.kind {
                Some(ChannelType::PublicThread) => 11,
                Some(ChannelType::AnnouncementThread) => 10,
                _ => 12,
            };
            let thread = create_thread(&s, w, id, &parent, &body, kind);
            Ok(json(&thread))
        }
    })
}

pub(super) async fn start_thread_from_message(
    State(s): State<Arc<Shared>>,
    Extension(ctx): Extension<ReqCtx>,
    Path((parent, msg)): Path<(String, String)>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let parent_id = channel_id(&parent)?;
    let (parent, msg_id) = s.read(|w| {
        let id = message_in(w, parent_id, &msg)?;
        Ok::<_, ApiError>((channel(w, parent_id)?.clone(), id))
    })?;
    if !matches!(
        parent.kind,
        ChannelType::GuildText | ChannelType::GuildAnnouncement
    ) {
        return Err(ApiError::wrong_channel_type());
    }
    let body: StartThread = parse_body(&s, &ctx, &body)?;
    s.mutate(|w| {
        // A thread started from a message has the message's id.
        let id: Id<ChannelMarker> = msg_id.cast();
        if w.channels.contains_key(&id) {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                160_004,
                "A thread has already been created for this message",
            ));
        }
        let thread = create_thread(&s, w, id, &parent, &body, 11);
        Ok(json(&thread))
    })
}

pub(super) async fn update_channel(
    State(s): State<Arc<Shared>>,
    Extension(ctx): Extension<ReqCtx>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let id = channel_id(&id)?;
    let current = s.read(|w| channel(w, id).cloned())?;
    let body: UpdateChannel = parse_body(&s, &ctx, &body)?;
    let mut errs = FormErrors::default();
    if let Some(n) = &body.name {
        let len = n.chars().count();
        if len == 0 || len > 100 {
            errs.add(
                &["name"],
                "BASE_TYPE_BAD_LENGTH",
                "Must be between 1 and 100 in length.",
            );
        }
    }
    let thread = is_thread(current.kind);
    if thread {
        if let Patch::Set(tags) = &body.applied_tags
            && let Some(parent) = current
                .parent_id
                .and_then(|p| s.read(|w| w.channels.get(&p).cloned()))
        {
            check_tags(&mut errs, &parent, tags, "applied_tags");
        }
    } else if body.archived.is_some() || body.locked.is_some() {
        errs.add(
            &["archived"],
            "CHANNEL_NOT_THREAD",
            "Only threads can be archived or locked",
        );
    }
    check(&s, &ctx, &errs)?;
    s.mutate(|w| {
        let now = s.clock.timestamp();
        let ch = w
            .channels
            .get_mut(&id)
            .ok_or_else(ApiError::unknown_channel)?;
        if let Some(meta) = &ch.thread_metadata
            && meta.archived
            && meta.locked
            && body.archived != Some(false)
            && body.locked != Some(false)
        {
            return Err(ApiError::archived_thread());
        }
        if let Some(n) = body.name {
            ch.name = Some(n);
        }
        match body.topic {
            Patch::Set(t) => ch.topic = Some(t),
            Patch::Null => ch.topic = None,
            Patch::Absent => {}
        }
        if let Some(n) = body.nsfw {
            ch.nsfw = Some(n);
        }
        if let Some(r) = body.rate_limit_per_user {
            ch.rate_limit_per_user = Some(r);
        }
        match body.applied_tags {
            Patch::Set(t) => ch.applied_tags = Some(t),
            Patch::Null => ch.applied_tags = Some(Vec::new()),
            Patch::Absent => {}
        }
        if let Some(meta) = ch.thread_metadata.as_mut() {
            if let Some(a) = body.archived {
                if a != meta.archived {
                    meta.archive_timestamp = now;
                }
                meta.archived = a;
            }
            if let Some(l) = body.locked {
                meta.locked = l;
            }
            if let Some(d) = body.auto_archive_duration {
                meta.auto_archive_duration = d;
            }
            if let Some(i) = body.invitable {
                meta.invitable = Some(i);
            }
        }
        let ch = ch.clone();
        let event = if thread {
            "THREAD_UPDATE"
        } else {
            "CHANNEL_UPDATE"
        };
        announce_channel(w, event, &ch);
        Ok(json(&ch))
    })
}

/// The thread and user of a thread-member route, checked as Discord does: a thread that is not
/// archived, and a user (`@me`: the bot).
fn thread_member_target(
    w: &World,
    ch: Id<ChannelMarker>,
    user: &str,
) -> Result<(Channel, Id<UserMarker>), ApiError> {
    let thread = channel(w, ch)?.clone();
    if !is_thread(thread.kind) {
        return Err(ApiError::wrong_channel_type());
    }
    if thread.thread_metadata.as_ref().is_some_and(|m| m.archived) {
        return Err(ApiError::archived_thread());
    }
    let user: Id<UserMarker> = if user == "@me" {
        w.bot.id
    } else {
        snowflake(user, ApiError::unknown_user)?
    };
    Ok((thread, user))
}

/// Adds or removes `user` in thread `ch`'s members and keeps its member count.
fn set_thread_member(w: &mut World, ch: Id<ChannelMarker>, user: Id<UserMarker>, member: bool) {
    let members = w.thread_members.entry(ch).or_default();
    if member {
        members.insert(user);
    } else {
        members.remove(&user);
    }
    let count = i8::try_from(members.len()).unwrap_or(i8::MAX);
    if let Some(c) = w.channels.get_mut(&ch) {
        c.member_count = Some(count);
    }
}

pub(super) async fn add_thread_member(
    State(s): State<Arc<Shared>>,
    Path((ch, user)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let ch = channel_id(&ch)?;
    s.mutate(|w| {
        let (thread, user) = thread_member_target(w, ch, &user)?;
        if !w.users.contains_key(&user) {
            return Err(ApiError::unknown_user());
        }
        let guild = thread.guild_id.expect("threads are in guilds");
        if !w.guilds[&guild].members.contains_key(&user) {
            return Err(ApiError::unknown_member());
        }
        set_thread_member(w, ch, user, true);
        Ok(no_content())
    })
}

/// `DELETE /channels/{id}/thread-members/{user}`: as Discord, 204 whether or not the user was in it.
pub(super) async fn remove_thread_member(
    State(s): State<Arc<Shared>>,
    Path((ch, user)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let ch = channel_id(&ch)?;
    s.mutate(|w| {
        let (_, user) = thread_member_target(w, ch, &user)?;
        set_thread_member(w, ch, user, false);
        Ok(no_content())
    })
}

pub(super) async fn typing(
    State(s): State<Arc<Shared>>,
    Path(ch): Path<String>,
) -> Result<Response, ApiError> {
    let ch = channel_id(&ch)?;
    s.mutate(|w| {
        channel(w, ch)?;
        w.typing.push(TypingRecord {
            channel_id: ch,
            at: s.clock.now(),
        });
        Ok(no_content())
    })
}

fn guild_id(raw: &str) -> Result<Id<GuildMarker>, ApiError> {
    snowflake(raw, ApiError::unknown_guild)
}

pub(super) async fn get_member(
    State(s): State<Arc<Shared>>,
    Path((guild, user)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let guild = guild_id(&guild)?;
    let user: Id<UserMarker> = snowflake(&user, ApiError::unknown_member)?;
    s.read(|w| {
        let g = w.guilds.get(&guild).ok_or_else(ApiError::unknown_guild)?;
        g.members
            .get(&user)
            .map(json)
            .ok_or_else(ApiError::unknown_member)
    })
}

pub(super) async fn get_roles(
    State(s): State<Arc<Shared>>,
    Path(guild): Path<String>,
) -> Result<Response, ApiError> {
    let guild = guild_id(&guild)?;
    s.read(|w| {
        w.guilds
            .get(&guild)
            .map(|g| json(&g.roles))
            .ok_or_else(ApiError::unknown_guild)
    })
}

pub(super) async fn get_guild_channels(
    State(s): State<Arc<Shared>>,
    Path(guild): Path<String>,
) -> Result<Response, ApiError> {
    let guild = guild_id(&guild)?;
    s.read(|w| {
        let g = w.guilds.get(&guild).ok_or_else(ApiError::unknown_guild)?;
        let list: Vec<&Channel> = g
            .channel_ids
            .iter()
            .filter_map(|c| w.channels.get(c))
            .filter(|c| !is_thread(c.kind))
            .collect();
        Ok(json(&list))
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct CreateDm {
    recipient_id: Id<UserMarker>,
}

pub(super) async fn create_dm(
    State(s): State<Arc<Shared>>,
    Extension(ctx): Extension<ReqCtx>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let body: CreateDm = parse_body(&s, &ctx, &body)?;
    if !s.read(|w| w.users.contains_key(&body.recipient_id)) {
        return Err(ApiError::unknown_user());
    }
    let id = crate::driver::dm_channel(&s, body.recipient_id);
    s.read(|w| channel(w, id).map(json))
}
