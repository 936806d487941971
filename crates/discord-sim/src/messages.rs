//! Creating, editing and deleting messages, with the gateway events each produces.
//!
//! Shared by the REST handlers (bot messages), interaction callbacks and the driver (people's
//! messages), so a message looks the same however it was made.

use serde_json::{Value, json};
use twilight_model::channel::message::{
    AllowedMentions, Component, Embed, MentionType, Message, MessageFlags, MessageReference,
};
use twilight_model::channel::{Attachment, ChannelType};
use twilight_model::gateway::Intents;
use twilight_model::id::Id;
use twilight_model::id::marker::{
    ApplicationMarker, ChannelMarker, MessageMarker, RoleMarker, UserMarker,
};
use twilight_model::user::User;

use crate::clock::SimClock;
use crate::gateway::dispatch;
use crate::model::{self, MessageSpec, to_json};
use crate::world::World;

/// A message about to be created.
pub(crate) struct NewMessage {
    pub channel_id: Id<ChannelMarker>,
    pub author: User,
    pub content: String,
    pub embeds: Vec<Embed>,
    pub components: Vec<Component>,
    /// Stored attachments (see [`crate::attachments::store`]).
    pub attachments: Vec<Attachment>,
    pub flags: MessageFlags,
    pub allowed_mentions: Option<AllowedMentions>,
    /// Message type (0 default, 19 reply, 20 chat input command).
    pub kind: u8,
    /// Application id and `interaction_metadata`, for interaction responses.
    pub interaction: Option<(Id<ApplicationMarker>, Value)>,
    pub reference: Option<MessageReference>,
    /// Forces the id (a forum post's starter message has the thread's id).
    pub id: Option<Id<MessageMarker>>,
}

impl NewMessage {
    pub(crate) fn simple(channel_id: Id<ChannelMarker>, author: User, content: String) -> Self {
        Self {
            channel_id,
            author,
            content,
            embeds: Vec::new(),
            components: Vec::new(),
            attachments: Vec::new(),
            flags: MessageFlags::empty(),
            allowed_mentions: None,
            kind: 0,
            interaction: None,
            reference: None,
            id: None,
        }
    }
}

/// Mentions found in `content` that `allowed` lets through (no `allowed_mentions` means Discord's
/// default: everything parses).
fn resolve_mentions(
    w: &World,
    content: &str,
    allowed: Option<&AllowedMentions>,
) -> (Vec<User>, Vec<Id<RoleMarker>>, bool) {
    let user_ok = |id: Id<UserMarker>| {
        allowed.is_none_or(|a| a.parse.contains(&MentionType::Users) || a.users.contains(&id))
    };
    let role_ok = |id: Id<RoleMarker>| {
        allowed.is_none_or(|a| a.parse.contains(&MentionType::Roles) || a.roles.contains(&id))
    };
    let everyone_ok = allowed.is_none_or(|a| a.parse.contains(&MentionType::Everyone));
    let mut users = Vec::new();
    let mut roles = Vec::new();
    let mut rest = content;
    while let Some(start) = rest.find("<@") {
        rest = &rest[start + 2..];
        let Some(end) = rest.find('>') else { break };
        let inner = &rest[..end];
        if let Some(r) = inner.strip_prefix('&') {
            if let Ok(n) = r.parse::<u64>()
                && let Some(id) = Id::<RoleMarker>::new_checked(n)
                && role_ok(id)
                && !roles.contains(&id)
            {
                roles.push(id);
            }
        } else if let Ok(n) = inner.trim_start_matches('!').parse::<u64>()
            && let Some(id) = Id::<UserMarker>::new_checked(n)
            && user_ok(id)
            && let Some(u) = w.users.get(&id)
            && !users.iter().any(|x: &User| x.id == id)
        {
            users.push(u.clone());
        }
        rest = &rest[end..];
    }
    let everyone = everyone_ok && (content.contains("@everyone") || content.contains("@here"));
    (users, roles, everyone)
}

/// Creates, stores and announces a message (MESSAGE_CREATE, except for ephemeral messages, which only
/// their recipient sees).
pub(crate) fn create(w: &mut World, clock: &SimClock, new: NewMessage) -> Message {
    let id = new.id.unwrap_or_else(|| w.next_id(clock));
    let guild_id = w.guild_of(new.channel_id);
    let (mentions, mention_roles, mention_everyone) =
        resolve_mentions(w, &new.content, new.allowed_mentions.as_ref());
    // A reply carries the message it replies to, and (unless `replied_user` is off) mentions its author.
    let referenced = new
        .reference
        .as_ref()
        .filter(|_| new.kind == 19)
        .and_then(|r| r.message_id)
        .and_then(|id| w.messages.get(&id).cloned());
    let pings_replied = new.allowed_mentions.as_ref().is_none_or(|a| a.replied_user);
    let mut message = model::message(MessageSpec {
        id,
        channel_id: new.channel_id,
        guild_id,
        author: new.author,
        content: new.content,
        embeds: to_json(&new.embeds),
        components: to_json(&new.components),
        attachments: to_json(&new.attachments),
        flags: new.flags.bits(),
        kind: new.kind,
        mentions,
        mention_roles,
        mention_everyone,
        timestamp: clock.timestamp(),
        interaction: new.interaction,
        message_reference: new.reference.map(|r| to_json(&r)),
    });
    if let Some(replied) = referenced {
        if pings_replied && !message.mentions.iter().any(|m| m.id == replied.author.id) {
            let mut mention = to_json(&replied.author);
            if mention["public_flags"].is_null() {
                mention["public_flags"] = json!(0);
            }
            if let Ok(mention) = serde_json::from_value(mention) {
                message.mentions.push(mention);
            }
        }
        message.referenced_message = Some(Box::new(replied));
    }
    w.insert_message(message.clone());
    if !message
        .flags
        .unwrap_or(MessageFlags::empty())
        .contains(MessageFlags::EPHEMERAL)
    {
        announce(w, "MESSAGE_CREATE", &message);
    }
    message
}

/// Sends MESSAGE_CREATE/MESSAGE_UPDATE for `message` to the sessions that may see it, blanking the
/// content for sessions without the privileged MESSAGE_CONTENT intent as Discord does (except in DMs,
/// for the bot's own messages, and for messages that mention the bot).
pub(crate) fn announce(w: &mut World, event: &str, message: &Message) {
    let guild = message.guild_id;
    let channel_type = w.channels.get(&message.channel_id).map(|c| c.kind);
    let is_dm = channel_type == Some(ChannelType::Private);
    let intent = if guild.is_some() {
        Intents::GUILD_MESSAGES
    } else {
        Intents::DIRECT_MESSAGES
    };
    let bot = w.bot.id;
    let exempt = is_dm || message.author.id == bot || message.mentions.iter().any(|m| m.id == bot);
    let mut full = to_json(message);
    if let Some(kind) = channel_type {
        full["channel_type"] = to_json(&kind);
    }
    if let Some(g) = guild
        && let Some(member) = w
            .guilds
            .get(&g)
            .and_then(|g| g.members.get(&message.author.id))
    {
        let mut m = to_json(member);
        if let Some(o) = m.as_object_mut() {
            o.remove("user");
        }
        full["member"] = m;
    }
    let mut blank = full.clone();
    blank["content"] = json!("");
    blank["embeds"] = json!([]);
    blank["attachments"] = json!([]);
    if let Some(o) = blank.as_object_mut() {
        o.remove("components");
    }
    dispatch(w, event, guild, Some(intent), |intents| {
        if exempt || intents.contains(Intents::MESSAGE_CONTENT) {
            full.clone()
        } else {
            blank.clone()
        }
    });
}

/// Applies an edit to a stored message and announces MESSAGE_UPDATE.
pub(crate) fn edit(
    w: &mut World,
    clock: &SimClock,
    id: Id<MessageMarker>,
    f: impl FnOnce(&mut Message),
) -> Option<Message> {
    let msg = w.messages.get_mut(&id)?;
    f(msg);
    msg.edited_timestamp = Some(clock.timestamp());
    let msg = msg.clone();
    if !msg
        .flags
        .unwrap_or(MessageFlags::empty())
        .contains(MessageFlags::EPHEMERAL)
    {
        announce(w, "MESSAGE_UPDATE", &msg);
    }
    Some(msg)
}

/// Deletes a stored message and announces MESSAGE_DELETE.
pub(crate) fn delete(w: &mut World, id: Id<MessageMarker>) -> Option<Message> {
    let msg = w.messages.remove(&id)?;
    w.deleted_messages.push(msg.clone());
    if !msg
        .flags
        .unwrap_or(MessageFlags::empty())
        .contains(MessageFlags::EPHEMERAL)
    {
        let intent = if msg.guild_id.is_some() {
            Intents::GUILD_MESSAGES
        } else {
            Intents::DIRECT_MESSAGES
        };
        let d = json!({"id": msg.id, "channel_id": msg.channel_id, "guild_id": msg.guild_id});
        dispatch(w, "MESSAGE_DELETE", msg.guild_id, Some(intent), |_| {
            d.clone()
        });
    }
    Some(msg)
}

/// Recomputes the mentions of an edited message.
pub(crate) fn refresh_mentions(w: &World, msg: &mut Message, allowed: Option<&AllowedMentions>) {
    let (users, roles, everyone) = resolve_mentions(w, &msg.content, allowed);
    let mentions: Vec<Value> = users.iter().map(to_json).collect();
    msg.mentions = serde_json::from_value(json!(mentions)).unwrap_or_default();
    msg.mention_roles = roles;
    msg.mention_everyone = everyone;
}
