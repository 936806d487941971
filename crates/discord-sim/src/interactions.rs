//! Interactions: building the objects a person's action produces, and applying the bot's answers
//! (callbacks, then webhook edits and follow-ups) with Discord's rules — acknowledge once, within 3 s;
//! the token then works for 15 minutes.

use std::time::Instant;

use serde_json::{Value, json};
use twilight_model::application::interaction::{Interaction, InteractionType};
use twilight_model::channel::ChannelType;
use twilight_model::channel::message::{Message, MessageFlags};
use twilight_model::http::interaction::{InteractionResponse, InteractionResponseType};
use twilight_model::id::Id;
use twilight_model::id::marker::{ChannelMarker, InteractionMarker, MessageMarker, UserMarker};

use crate::attachments::{self, Planned, Upload};
use crate::messages::{self, NewMessage};
use crate::model::{to_json, typed};
use crate::rest::bodies::{PartialAttachment, Patch, validate_message, validate_modal};
use crate::rest::error::{ApiError, FormErrors};
use crate::shared::Shared;
use crate::world::{Ack, AckVia, Delivery, InteractionRecord, World};

/// What a person did, before it becomes an interaction object.
pub(crate) struct Trigger {
    pub kind: InteractionType,
    pub user: Option<Id<UserMarker>>,
    pub channel: Option<Id<ChannelMarker>>,
    pub data: Option<Value>,
    /// The message a component was used on.
    pub message: Option<Message>,
}

/// Builds and stores an interaction as Discord would send it: full member with permissions in
/// guilds, user in DMs, app permissions, locale, context and integration owners. Its windows (3 s to
/// acknowledge, 15 min of token) run from `created_at`.
pub(crate) fn create(
    shared: &Shared,
    w: &mut World,
    t: Trigger,
    delivery: Delivery,
    created_at: Instant,
) -> InteractionRecord {
    let id: Id<InteractionMarker> = w.next_id(&shared.clock);
    let token = format!(
        "aW50ZXJhY3Rpb246{}",
        crate::webhook::hex(&rand::random::<[u8; 24]>())
    );
    let channel = t.channel.and_then(|c| w.channels.get(&c)).cloned();
    let guild_id = channel.as_ref().and_then(|c| c.guild_id);
    let mut v = json!({
        "id": id,
        "application_id": w.application_id,
        "type": t.kind,
        "token": token,
        "version": 1,
        "locale": "en-US",
        "entitlements": [],
        "attachment_size_limit": shared.config.attachment_size_limit,
    });
    if let Some(d) = &t.data {
        v["data"] = d.clone();
    }
    if let Some(c) = &channel {
        v["channel"] = to_json(c);
        v["channel_id"] = json!(c.id);
    }
    if let Some(m) = &t.message {
        v["message"] = to_json(m);
    }
    match (guild_id, t.user) {
        (Some(g), Some(u)) => {
            v["guild_id"] = json!(g);
            v["guild"] = json!({"id": g, "locale": "en-US", "features": []});
            v["guild_locale"] = json!("en-US");
            v["member"] = w.interaction_member(g, u);
            v["app_permissions"] = json!(w.permissions(g, w.bot.id).bits().to_string());
            v["authorizing_integration_owners"] = json!({"0": g.to_string()});
            v["context"] = json!(0);
        }
        (None, Some(u)) => {
            v["user"] = to_json(&w.users[&u]);
            let dm = channel
                .as_ref()
                .is_some_and(|c| c.kind == ChannelType::Private);
            v["authorizing_integration_owners"] = json!({"0": "0"});
            v["context"] = json!(if dm { 1 } else { 2 });
            v["app_permissions"] = json!(
                crate::model::default_everyone_permissions()
                    .bits()
                    .to_string()
            );
        }
        _ => {
            v["authorizing_integration_owners"] = json!({});
        }
    }
    let payload: Interaction = typed(v);
    let record = InteractionRecord {
        id,
        token,
        kind: t.kind,
        user_id: t.user,
        channel_id: t.channel,
        guild_id,
        payload,
        delivery,
        created_at,
        ack: None,
        original: None,
        followups: Vec::new(),
        component_message: t.message.as_ref().map(|m| m.id),
        modal: None,
        awaiting_webhook_response: delivery == Delivery::Webhook,
    };
    w.interactions.insert(id, record.clone());
    record
}

/// Flags a bot may set on an interaction response message.
fn response_flags(flags: Option<MessageFlags>) -> MessageFlags {
    flags.unwrap_or(MessageFlags::empty())
        & (MessageFlags::EPHEMERAL
            | MessageFlags::SUPPRESS_EMBEDS
            | MessageFlags::SUPPRESS_NOTIFICATIONS
            | MessageFlags::from_bits_retain(1 << 15))
}

/// `interaction_metadata` of a message created by answering `rec`.
fn metadata(w: &World, rec: &InteractionRecord) -> Value {
    let mut m = json!({
        "id": rec.id,
        "type": rec.kind,
        "authorizing_integration_owners": rec.payload.authorizing_integration_owners,
    });
    if let Some(u) = rec.user_id.and_then(|u| w.users.get(&u)) {
        m["user"] = to_json(u);
    }
    if let Some(msg) = rec.component_message {
        m["interacted_message_id"] = json!(msg);
    }
    if let Some(twilight_model::application::interaction::InteractionData::ApplicationCommand(d)) =
        &rec.payload.data
    {
        m["name"] = json!(d.name);
    }
    m
}

fn message_kind(rec: &InteractionRecord) -> u8 {
    if rec.kind == InteractionType::ApplicationCommand {
        20
    } else {
        0
    }
}

/// Applies an interaction callback (REST `POST /interactions/{id}/{token}/callback` or the bot's answer
/// to a webhook delivery).
pub(crate) fn apply_callback(
    shared: &Shared,
    w: &mut World,
    id: Id<InteractionMarker>,
    token: &str,
    response: InteractionResponse,
    files: Vec<Upload>,
    via: AckVia,
) -> Result<(), ApiError> {
    let now = shared.clock.now();
    let Some(rec) = w
        .interactions
        .get(&id)
        .filter(|r| r.token == token)
        .cloned()
    else {
        return Err(ApiError::unknown_interaction());
    };
    if rec.ack.is_some() {
        return Err(ApiError::already_acknowledged());
    }
    let elapsed = now.saturating_duration_since(rec.created_at);
    if elapsed > shared.config.ack_window {
        return Err(ApiError::unknown_interaction());
    }
    let mut errs = FormErrors::default();
    let invalid_type = |errs: &mut FormErrors| {
        errs.add(
            &["type"],
            "INTERACTION_RESPONSE_TYPE_INVALID",
            format!(
                "Response type {:?} is not valid for a {:?} interaction",
                response.kind, rec.kind
            ),
        );
    };
    let component_like = rec.component_message.is_some()
        && matches!(
            rec.kind,
            InteractionType::MessageComponent | InteractionType::ModalSubmit
        );
    match response.kind {
        InteractionResponseType::Pong if rec.kind != InteractionType::Ping => {
            invalid_type(&mut errs)
        }
        InteractionResponseType::ChannelMessageWithSource
        | InteractionResponseType::DeferredChannelMessageWithSource
            if matches!(
                rec.kind,
                InteractionType::Ping | InteractionType::ApplicationCommandAutocomplete
            ) =>
        {
            invalid_type(&mut errs)
        }
        InteractionResponseType::DeferredUpdateMessage | InteractionResponseType::UpdateMessage
            if !component_like =>
        {
            invalid_type(&mut errs)
        }
        InteractionResponseType::ApplicationCommandAutocompleteResult
            if rec.kind != InteractionType::ApplicationCommandAutocomplete =>
        {
            invalid_type(&mut errs)
        }
        InteractionResponseType::Modal
            if matches!(
                rec.kind,
                InteractionType::Ping
                    | InteractionType::ModalSubmit
                    | InteractionType::ApplicationCommandAutocomplete
            ) =>
        {
            invalid_type(&mut errs)
        }
        _ => {}
    }
    let data = response.data.clone();
    let first_file = files.first().map(|f| format!("files[{}]", f.index));
    // The attachments of the message the response creates (type 4) or edits (type 7; `None`: kept).
    let mut planned = None;
    match response.kind {
        InteractionResponseType::ChannelMessageWithSource
        | InteractionResponseType::UpdateMessage => {
            if let Some(d) = &data {
                validate_message(
                    &mut errs,
                    &["data"],
                    d.content.as_deref(),
                    d.embeds.as_deref(),
                    d.components.as_deref(),
                    d.flags,
                );
            }
            let listed: Option<Vec<PartialAttachment>> = data
                .as_ref()
                .and_then(|d| d.attachments.as_ref())
                .map(|l| l.iter().map(PartialAttachment::from_twilight).collect());
            let existing = (response.kind == InteractionResponseType::UpdateMessage).then(|| {
                rec.component_message
                    .and_then(|m| w.messages.get(&m))
                    .map(|m| m.attachments.clone())
                    .unwrap_or_default()
            });
            planned = attachments::plan(
                &mut errs,
                &["data"],
                listed.as_deref(),
                files,
                existing.as_deref(),
            );
            let empty = !attachments::any(planned.as_ref())
                && data.as_ref().is_none_or(|d| {
                    d.content.as_deref().unwrap_or_default().is_empty()
                        && d.embeds.as_deref().unwrap_or_default().is_empty()
                        && d.components.as_deref().unwrap_or_default().is_empty()
                });
            if response.kind == InteractionResponseType::ChannelMessageWithSource
                && empty
                && errs.is_empty()
            {
                return Err(ApiError::empty_message());
            }
        }
        InteractionResponseType::Modal => match &data {
            Some(d) => validate_modal(&mut errs, d),
            None => errs.add(&["data"], "BASE_TYPE_REQUIRED", "This field is required"),
        },
        _ => {}
    }
    let carries_message = matches!(
        response.kind,
        InteractionResponseType::ChannelMessageWithSource | InteractionResponseType::UpdateMessage
    );
    if !carries_message && let Some(f) = first_file {
        errs.add(
            &[&f],
            "ATTACHMENT_NOT_REFERENCED",
            format!(
                "Response type {:?} carries no message to attach {f} to",
                response.kind
            ),
        );
    }
    if !errs.is_empty() {
        return Err(ApiError::invalid_form(&errs));
    }

    let bot = w.bot.clone();
    let app = w.application_id;
    let meta = metadata(w, &rec);
    let mut original = None;
    let mut modal = None;
    match response.kind {
        InteractionResponseType::ChannelMessageWithSource
        | InteractionResponseType::DeferredChannelMessageWithSource => {
            let d = data.clone().unwrap_or_default();
            let mut flags = response_flags(d.flags);
            let deferred =
                response.kind == InteractionResponseType::DeferredChannelMessageWithSource;
            if deferred {
                flags |= MessageFlags::LOADING;
            }
            let channel = rec.channel_id.ok_or_else(ApiError::unknown_channel)?;
            let attachments =
                attachments::store(shared, w, channel, planned.take().unwrap_or_default());
            let msg = messages::create(
                w,
                &shared.clock,
                NewMessage {
                    channel_id: channel,
                    author: bot,
                    attachments,
                    content: if deferred {
                        String::new()
                    } else {
                        d.content.unwrap_or_default()
                    },
                    embeds: if deferred {
                        Vec::new()
                    } else {
                        d.embeds.unwrap_or_default()
                    },
                    components: if deferred {
                        Vec::new()
                    } else {
                        d.components.unwrap_or_default()
                    },
                    flags,
                    allowed_mentions: d.allowed_mentions,
                    kind: message_kind(&rec),
                    interaction: Some((app, meta)),
                    reference: None,
                    id: None,
                },
            );
            original = Some(msg.id);
        }
        InteractionResponseType::DeferredUpdateMessage => original = rec.component_message,
        InteractionResponseType::UpdateMessage => {
            let target = rec
                .component_message
                .ok_or_else(ApiError::unknown_message)?;
            let d = data.clone().unwrap_or_default();
            let channel = w
                .messages
                .get(&target)
                .ok_or_else(ApiError::unknown_message)?
                .channel_id;
            let attachments = planned
                .take()
                .map(|p| attachments::store(shared, w, channel, p));
            messages::edit(w, &shared.clock, target, |m| {
                if let Some(a) = attachments {
                    m.attachments = a;
                }
                if let Some(c) = d.content {
                    m.content = c;
                }
                if let Some(e) = d.embeds {
                    m.embeds = e;
                }
                if let Some(c) = d.components {
                    m.components = c;
                }
            })
            .ok_or_else(ApiError::unknown_message)?;
            original = Some(target);
        }
        InteractionResponseType::Modal => modal = data.clone(),
        _ => {}
    }
    let rec = w.interactions.get_mut(&id).expect("checked above");
    rec.ack = Some(Ack {
        response,
        via,
        after: elapsed,
    });
    rec.original = original;
    rec.modal = modal;
    Ok(())
}

/// The interaction behind a webhook `{application_id}/{token}` pair, if the token still works.
pub(crate) fn by_webhook_token(
    shared: &Shared,
    w: &World,
    app: u64,
    token: &str,
) -> Result<Id<InteractionMarker>, ApiError> {
    let Some(rec) = w.interaction_by_token(token) else {
        return Err(ApiError::unknown_webhook());
    };
    if app != w.application_id.get() {
        return Err(ApiError::unknown_webhook());
    }
    if shared.clock.now().saturating_duration_since(rec.created_at) > shared.config.token_lifetime {
        return Err(ApiError::invalid_webhook_token());
    }
    Ok(rec.id)
}

/// Which message `@original` or a message id designates for an interaction.
pub(crate) fn webhook_message(
    w: &World,
    id: Id<InteractionMarker>,
    message: Option<Id<MessageMarker>>,
) -> Result<Id<MessageMarker>, ApiError> {
    let rec = &w.interactions[&id];
    let target = match message {
        None => rec.original,
        Some(m) if rec.original == Some(m) || rec.followups.contains(&m) => Some(m),
        Some(_) => None,
    };
    target
        .filter(|m| w.messages.contains_key(m))
        .ok_or_else(ApiError::unknown_message)
}

/// Applies an edit body to a message (content, embeds, components, flags, and the attachments worked
/// out by [`attachments::plan`], `None` keeping them); the first edit of a deferred response clears its
/// LOADING flag.
pub(crate) fn apply_edit(
    shared: &Shared,
    w: &mut World,
    target: Id<MessageMarker>,
    body: crate::rest::bodies::EditMessage,
    attachments: Option<Vec<Planned>>,
) -> Option<Message> {
    let mut edited = w.messages.get(&target)?.clone();
    if let Some(planned) = attachments {
        edited.attachments = attachments::store(shared, w, edited.channel_id, planned);
    }
    match body.content {
        Patch::Set(c) => edited.content = c,
        Patch::Null => edited.content.clear(),
        Patch::Absent => {}
    }
    match body.embeds {
        Patch::Set(e) => edited.embeds = e,
        Patch::Null => edited.embeds.clear(),
        Patch::Absent => {}
    }
    match body.components {
        Patch::Set(c) => edited.components = c,
        Patch::Null => edited.components.clear(),
        Patch::Absent => {}
    }
    let mut flags = edited.flags.unwrap_or(MessageFlags::empty()) - MessageFlags::LOADING;
    if let Some(f) = body.flags {
        flags = (flags & MessageFlags::EPHEMERAL)
            | (f & (MessageFlags::SUPPRESS_EMBEDS | MessageFlags::from_bits_retain(1 << 15)));
    }
    crate::messages::refresh_mentions(w, &mut edited, body.allowed_mentions.as_option());
    crate::messages::edit(w, &shared.clock, target, move |m| {
        m.content = edited.content;
        m.embeds = edited.embeds;
        m.components = edited.components;
        m.attachments = edited.attachments;
        m.mentions = edited.mentions;
        m.mention_roles = edited.mention_roles;
        m.mention_everyone = edited.mention_everyone;
        m.flags = Some(flags);
    })
}

/// Creates a follow-up message. Right after a deferred response, Discord makes the first follow-up
/// edit the "thinking…" message instead of creating a new one; so does the simulator.
pub(crate) fn followup(
    shared: &Shared,
    w: &mut World,
    id: Id<InteractionMarker>,
    body: crate::rest::bodies::CreateMessage,
    planned: Vec<Planned>,
) -> Result<Message, ApiError> {
    let rec = w.interactions[&id].clone();
    let Some(ack) = &rec.ack else {
        return Err(ApiError::unknown_webhook());
    };
    if ack.response.kind == InteractionResponseType::DeferredChannelMessageWithSource
        && let Some(orig) = rec.original
        && w.messages.get(&orig).is_some_and(|m| {
            m.flags
                .unwrap_or(MessageFlags::empty())
                .contains(MessageFlags::LOADING)
        })
    {
        let edit = crate::rest::bodies::EditMessage {
            content: body.content.map_or(Patch::Absent, Patch::Set),
            embeds: body.embeds.map_or(Patch::Absent, Patch::Set),
            components: body.components.map_or(Patch::Absent, Patch::Set),
            allowed_mentions: body.allowed_mentions.map_or(Patch::Absent, Patch::Set),
            ..Default::default()
        };
        return apply_edit(shared, w, orig, edit, Some(planned))
            .ok_or_else(ApiError::unknown_message);
    }
    let channel = rec.channel_id.ok_or_else(ApiError::unknown_channel)?;
    let meta = metadata(w, &rec);
    let attachments = attachments::store(shared, w, channel, planned);
    let msg = messages::create(
        w,
        &shared.clock,
        NewMessage {
            channel_id: channel,
            author: w.bot.clone(),
            content: body.content.unwrap_or_default(),
            embeds: body.embeds.unwrap_or_default(),
            components: body.components.unwrap_or_default(),
            attachments,
            flags: response_flags(body.flags),
            allowed_mentions: body.allowed_mentions,
            kind: message_kind(&rec),
            interaction: Some((w.application_id, meta)),
            reference: None,
            id: None,
        },
    );
    if let Some(r) = w.interactions.get_mut(&id) {
        r.followups.push(msg.id);
    }
    Ok(msg)
}
