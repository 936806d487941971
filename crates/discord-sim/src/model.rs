//! Building Discord objects.
//!
//! Objects are written as the JSON Discord documents and then read into `twilight-model` types with
//! [`typed`]. Going through twilight's deserializer guarantees that whatever the simulator later
//! serializes is something twilight (the bot's client) can read back, without hand-filling the dozens of
//! optional fields twilight's structs have.

use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use twilight_model::channel::Channel;
use twilight_model::channel::message::Message;
use twilight_model::guild::{Permissions, Role};
use twilight_model::id::Id;
use twilight_model::id::marker::{ChannelMarker, GuildMarker, RoleMarker, TagMarker, UserMarker};
use twilight_model::user::User;
use twilight_model::util::Timestamp;

/// Reads Discord JSON into a twilight type. A failure is a bug in the simulator, hence the panic.
pub(crate) fn typed<T: DeserializeOwned>(value: Value) -> T {
    match serde_json::from_value::<T>(value.clone()) {
        Ok(v) => v,
        Err(e) => panic!(
            "discord-sim built a {} that twilight-model cannot read: {e}\n{value:#}",
            std::any::type_name::<T>()
        ),
    }
}

/// Serializes a twilight value; twilight's types always serialize.
pub(crate) fn to_json<T: serde::Serialize>(value: &T) -> Value {
    serde_json::to_value(value).expect("twilight-model values serialize")
}

/// A user (or bot) object.
pub(crate) fn user(id: Id<UserMarker>, name: &str, bot: bool) -> User {
    typed(json!({
        "id": id,
        "username": name,
        "global_name": name,
        "discriminator": "0",
        "avatar": null,
        "bot": bot,
        "public_flags": 0,
        "flags": 0,
    }))
}

/// A role. The `@everyone` role has the guild's id.
pub(crate) fn role(
    id: Id<RoleMarker>,
    name: &str,
    permissions: Permissions,
    position: i64,
    managed: bool,
) -> Role {
    typed(json!({
        "id": id,
        "name": name,
        "color": 0,
        "colors": {"primary_color": 0, "secondary_color": null, "tertiary_color": null},
        "hoist": false,
        "icon": null,
        "unicode_emoji": null,
        "position": position,
        "permissions": permissions.bits().to_string(),
        "managed": managed,
        "mentionable": false,
        "flags": 0,
    }))
}

/// A guild text channel.
pub(crate) fn text_channel(
    id: Id<ChannelMarker>,
    guild_id: Id<GuildMarker>,
    name: &str,
    position: i32,
) -> Channel {
    typed(json!({
        "id": id,
        "type": 0,
        "guild_id": guild_id,
        "name": name,
        "position": position,
        "permission_overwrites": [],
        "nsfw": false,
        "topic": null,
        "last_message_id": null,
        "rate_limit_per_user": 0,
        "parent_id": null,
        "flags": 0,
    }))
}

/// A forum channel with its available tags.
pub(crate) fn forum_channel(
    id: Id<ChannelMarker>,
    guild_id: Id<GuildMarker>,
    name: &str,
    position: i32,
    tags: &[(Id<TagMarker>, String)],
) -> Channel {
    let tags: Vec<Value> = tags
        .iter()
        .map(|(id, name)| {
            json!({"id": id, "name": name, "moderated": false, "emoji_id": null, "emoji_name": null})
        })
        .collect();
    typed(json!({
        "id": id,
        "type": 15,
        "guild_id": guild_id,
        "name": name,
        "position": position,
        "permission_overwrites": [],
        "nsfw": false,
        "topic": null,
        "last_message_id": null,
        "rate_limit_per_user": 0,
        "parent_id": null,
        "flags": 0,
        "available_tags": tags,
        "default_reaction_emoji": null,
        "default_sort_order": null,
        "default_forum_layout": 0,
        "default_thread_rate_limit_per_user": 0,
    }))
}

/// The DM channel between the bot and `recipient`.
pub(crate) fn dm_channel(id: Id<ChannelMarker>, recipient: &User) -> Channel {
    typed(json!({
        "id": id,
        "type": 1,
        "last_message_id": null,
        "recipients": [recipient],
        "flags": 0,
    }))
}

/// What a new thread needs.
pub(crate) struct ThreadSpec<'a> {
    pub id: Id<ChannelMarker>,
    pub guild_id: Id<GuildMarker>,
    pub parent_id: Id<ChannelMarker>,
    pub owner_id: Id<UserMarker>,
    pub name: &'a str,
    pub kind: u8,
    pub applied_tags: &'a [Id<TagMarker>],
    pub auto_archive_duration: u16,
    pub now: Timestamp,
}

/// A thread (public 11 or private 12); forum posts are public threads whose parent is the forum.
pub(crate) fn thread(spec: &ThreadSpec<'_>) -> Channel {
    typed(json!({
        "id": spec.id,
        "type": spec.kind,
        "guild_id": spec.guild_id,
        "parent_id": spec.parent_id,
        "owner_id": spec.owner_id,
        "name": spec.name,
        "last_message_id": null,
        "message_count": 0,
        "member_count": 1,
        "rate_limit_per_user": 0,
        "flags": 0,
        "applied_tags": spec.applied_tags,
        "thread_metadata": {
            "archived": false,
            "auto_archive_duration": spec.auto_archive_duration,
            "archive_timestamp": spec.now,
            "locked": false,
            "create_timestamp": spec.now,
        },
    }))
}

/// Everything needed to make a message object.
pub(crate) struct MessageSpec {
    pub id: Id<twilight_model::id::marker::MessageMarker>,
    pub channel_id: Id<ChannelMarker>,
    pub guild_id: Option<Id<GuildMarker>>,
    pub author: User,
    pub content: String,
    pub embeds: Value,
    pub components: Value,
    pub attachments: Value,
    pub flags: u64,
    pub kind: u8,
    pub mentions: Vec<User>,
    pub mention_roles: Vec<Id<RoleMarker>>,
    pub mention_everyone: bool,
    pub timestamp: Timestamp,
    /// Set for messages created through an interaction (`application_id`, `webhook_id`,
    /// `interaction_metadata`).
    pub interaction: Option<(Id<twilight_model::id::marker::ApplicationMarker>, Value)>,
    pub message_reference: Option<Value>,
}

/// A full message object as Discord returns it.
pub(crate) fn message(spec: MessageSpec) -> Message {
    let mut v = json!({
        "id": spec.id,
        "channel_id": spec.channel_id,
        "author": spec.author,
        "content": spec.content,
        "timestamp": spec.timestamp,
        "edited_timestamp": null,
        "tts": false,
        "mention_everyone": spec.mention_everyone,
        "mentions": spec.mentions,
        "mention_roles": spec.mention_roles,
        "attachments": spec.attachments,
        "embeds": spec.embeds,
        "components": spec.components,
        "pinned": false,
        "type": spec.kind,
        "flags": spec.flags,
        "call": null,
    });
    let obj = v.as_object_mut().expect("object");
    if let Some(g) = spec.guild_id {
        obj.insert("guild_id".into(), json!(g));
    }
    if let Some((app, metadata)) = spec.interaction {
        obj.insert("application_id".into(), json!(app));
        obj.insert("webhook_id".into(), json!(app));
        obj.insert("interaction_metadata".into(), metadata);
    }
    if let Some(r) = spec.message_reference {
        obj.insert("message_reference".into(), r);
    }
    typed(v)
}

/// The permissions `@everyone` has in a new simulated guild: what a default Discord server grants.
pub fn default_everyone_permissions() -> Permissions {
    Permissions::VIEW_CHANNEL
        | Permissions::SEND_MESSAGES
        | Permissions::SEND_MESSAGES_IN_THREADS
        | Permissions::CREATE_PUBLIC_THREADS
        | Permissions::READ_MESSAGE_HISTORY
        | Permissions::ADD_REACTIONS
        | Permissions::EMBED_LINKS
        | Permissions::ATTACH_FILES
        | Permissions::USE_SLASH_COMMANDS
        | Permissions::CHANGE_NICKNAME
        | Permissions::CONNECT
        | Permissions::SPEAK
}

/// The permissions of the bot's managed role unless a test says otherwise: what an invite link asking
/// for a support bot's needs would grant.
pub fn default_bot_permissions() -> Permissions {
    default_everyone_permissions()
        | Permissions::MANAGE_THREADS
        | Permissions::MANAGE_MESSAGES
        | Permissions::CREATE_PRIVATE_THREADS
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn objects_read_back_into_twilight() {
        let u = user(Id::new(5), "alice", false);
        assert_eq!(u.name, "alice");
        let r = role(Id::new(6), "Staff", Permissions::ADMINISTRATOR, 1, false);
        assert!(r.permissions.contains(Permissions::ADMINISTRATOR));
        let f = forum_channel(
            Id::new(7),
            Id::new(8),
            "support",
            0,
            &[(Id::new(9), "bug".into())],
        );
        assert_eq!(f.available_tags.unwrap()[0].name, "bug");
        let dm = dm_channel(Id::new(10), &u);
        assert_eq!(dm.recipients.unwrap()[0].id, u.id);
    }
}
