//! The test's side: set up the world the way a server admin would, then act the way a person would.
//! Every action produces what Discord would send the bot (gateway dispatch or signed webhook POST) and
//! checks what Discord's client would check first (the command exists and the person may use it, the
//! button is on the message and enabled, the modal was opened for this person).

use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use twilight_model::application::command::{Command, CommandOptionType};
use twilight_model::application::interaction::InteractionType;
use twilight_model::channel::ChannelType;
use twilight_model::channel::message::{Component, Message, MessageFlags};
use twilight_model::gateway::Intents;
use twilight_model::guild::Permissions;
use twilight_model::http::interaction::InteractionResponseData;
use twilight_model::id::Id;
use twilight_model::id::marker::{
    ChannelMarker, GuildMarker, InteractionMarker, MessageMarker, RoleMarker, TagMarker, UserMarker,
};

use crate::attachments::{self, StoredFile};
use crate::gateway::dispatch;
use crate::interactions::{self, Trigger};
use crate::messages::{self, NewMessage};
use crate::model::{self, to_json, typed};
use crate::shared::Shared;
use crate::webhook::{self, Signing, WebhookResponse};
use crate::world::{Ack, Delivery, GuildState, InteractionRecord, World};

/// How an interaction reaches the bot.
#[derive(Clone, Debug)]
pub enum Via {
    /// As an `INTERACTION_CREATE` dispatch on the gateway shard owning the guild (shard 0 for DMs).
    Gateway,
    /// As a signed POST to the bot's interactions endpoint (e.g. `http://127.0.0.1:PORT/interactions`).
    Webhook {
        /// The bot's interactions URL.
        url: String,
    },
    /// Recorded and signed for the webhook, but not sent: the caller sends
    /// [`InteractionHandle::prepared`] itself (benchmarks drive many at once with their own client and
    /// timing), then hands the bot's answer to [`InteractionHandle::complete`].
    Prepared,
    /// As [`Via::Prepared`], for an interaction the person triggers this long from now: Discord's windows
    /// (3 s to acknowledge, 15 min of token) start then. A load generator prepares and signs its
    /// interactions before its run, as Discord does on its own machines, instead of during it.
    PreparedFor(Duration),
}

/// A slash command option value.
#[derive(Clone, Debug, PartialEq)]
pub enum OptionValue {
    /// STRING option.
    String(String),
    /// INTEGER option.
    Integer(i64),
    /// NUMBER option.
    Number(f64),
    /// BOOLEAN option.
    Boolean(bool),
    /// USER option.
    User(Id<UserMarker>),
    /// CHANNEL option.
    Channel(Id<ChannelMarker>),
    /// ROLE option.
    Role(Id<RoleMarker>),
    /// ATTACHMENT option: a file the person picks. The interaction carries its id as the value and
    /// the attachment in `data.resolved.attachments`, with a `url` the simulator serves. Build it
    /// with [`OptionValue::file`].
    Attachment {
        /// The file's name.
        filename: String,
        /// Its media type; `None` lets the simulator derive it from the extension, as Discord does.
        content_type: Option<String>,
        /// Its contents.
        bytes: Vec<u8>,
    },
}

impl OptionValue {
    /// An ATTACHMENT option value: a file named `filename` holding `bytes`, its content type derived
    /// from the extension (`kb.json` → `application/json; charset=utf-8`).
    pub fn file(filename: impl Into<String>, bytes: impl Into<Vec<u8>>) -> Self {
        Self::Attachment {
            filename: filename.into(),
            content_type: None,
            bytes: bytes.into(),
        }
    }

    /// An ATTACHMENT option value with an explicit content type.
    pub fn file_with_type(
        filename: impl Into<String>,
        content_type: impl Into<String>,
        bytes: impl Into<Vec<u8>>,
    ) -> Self {
        Self::Attachment {
            filename: filename.into(),
            content_type: Some(content_type.into()),
            bytes: bytes.into(),
        }
    }
}

impl From<&str> for OptionValue {
    fn from(v: &str) -> Self {
        Self::String(v.to_owned())
    }
}
impl From<String> for OptionValue {
    fn from(v: String) -> Self {
        Self::String(v)
    }
}
impl From<i64> for OptionValue {
    fn from(v: i64) -> Self {
        Self::Integer(v)
    }
}
impl From<f64> for OptionValue {
    fn from(v: f64) -> Self {
        Self::Number(v)
    }
}
impl From<bool> for OptionValue {
    fn from(v: bool) -> Self {
        Self::Boolean(v)
    }
}
impl From<Id<UserMarker>> for OptionValue {
    fn from(v: Id<UserMarker>) -> Self {
        Self::User(v)
    }
}
impl From<Id<ChannelMarker>> for OptionValue {
    fn from(v: Id<ChannelMarker>) -> Self {
        Self::Channel(v)
    }
}
impl From<Id<RoleMarker>> for OptionValue {
    fn from(v: Id<RoleMarker>) -> Self {
        Self::Role(v)
    }
}

enum ChannelSpec {
    Text(String),
    Forum(String, Vec<String>),
}

/// Describes a guild before creating it in one step, so the GUILD_CREATE the bot receives is complete.
pub struct GuildBuilder {
    shared: Arc<Shared>,
    name: String,
    owner: Option<String>,
    everyone: Permissions,
    bot_permissions: Permissions,
    roles: Vec<(String, Permissions)>,
    members: Vec<(String, Vec<String>)>,
    channels: Vec<ChannelSpec>,
}

impl GuildBuilder {
    pub(crate) fn new(shared: Arc<Shared>, name: &str) -> Self {
        Self {
            shared,
            name: name.to_owned(),
            owner: None,
            everyone: model::default_everyone_permissions(),
            bot_permissions: model::default_bot_permissions(),
            roles: Vec::new(),
            members: Vec::new(),
            channels: Vec::new(),
        }
    }

    /// Adds a role with these permissions.
    pub fn role(mut self, name: &str, permissions: Permissions) -> Self {
        self.roles.push((name.to_owned(), permissions));
        self
    }

    /// Adds a member with no role but `@everyone`.
    pub fn member(self, name: &str) -> Self {
        self.member_with_roles(name, &[])
    }

    /// Adds a member holding the named roles (declared with [`Self::role`]).
    pub fn member_with_roles(mut self, name: &str, roles: &[&str]) -> Self {
        self.members.push((
            name.to_owned(),
            roles.iter().map(|r| (*r).to_owned()).collect(),
        ));
        self
    }

    /// Makes the named member the owner (owners have every permission). By default a separate user
    /// named `owner` owns the guild, so members' permissions are exactly their roles'.
    pub fn owner(mut self, name: &str) -> Self {
        self.owner = Some(name.to_owned());
        self
    }

    /// Sets `@everyone`'s permissions (default: [`crate::default_everyone_permissions`]).
    pub fn everyone_permissions(mut self, permissions: Permissions) -> Self {
        self.everyone = permissions;
        self
    }

    /// Sets the bot's role permissions (default: [`crate::default_bot_permissions`]).
    pub fn bot_permissions(mut self, permissions: Permissions) -> Self {
        self.bot_permissions = permissions;
        self
    }

    /// Adds a text channel.
    pub fn text_channel(mut self, name: &str) -> Self {
        self.channels.push(ChannelSpec::Text(name.to_owned()));
        self
    }

    /// Adds a forum channel with these available tags.
    pub fn forum(mut self, name: &str, tags: &[&str]) -> Self {
        self.channels.push(ChannelSpec::Forum(
            name.to_owned(),
            tags.iter().map(|t| (*t).to_owned()).collect(),
        ));
        self
    }

    /// Creates the guild with the bot in it. If shards are already connected, the owning shard gets a
    /// GUILD_CREATE, as when a bot is added to a server.
    ///
    /// # Panics
    ///
    /// If a member refers to an undeclared role, or the owner is not a member.
    pub fn create(self) -> GuildHandle {
        let shared = self.shared.clone();
        let clock = &shared.clock;
        let id = shared.mutate(|w| {
            let gid: Id<GuildMarker> = w.next_id(clock);
            let now = clock.timestamp();
            let mut roles = vec![model::role(
                gid.cast(),
                "@everyone",
                self.everyone,
                0,
                false,
            )];
            let bot_role: Id<RoleMarker> = w.next_id(clock);
            roles.push(model::role(
                bot_role,
                &w.bot.name.clone(),
                self.bot_permissions,
                1,
                true,
            ));
            for (i, (name, perms)) in self.roles.iter().enumerate() {
                let rid = w.next_id(clock);
                roles.push(model::role(rid, name, *perms, i as i64 + 2, false));
            }
            let member_json = |user: &twilight_model::user::User, role_ids: Vec<Id<RoleMarker>>| {
                typed::<twilight_model::guild::Member>(json!({
                    "user": user,
                    "nick": null,
                    "avatar": null,
                    "roles": role_ids,
                    "joined_at": now,
                    "premium_since": null,
                    "deaf": false,
                    "mute": false,
                    "flags": 0,
                    "pending": false,
                }))
            };
            let mut members = std::collections::BTreeMap::new();
            let bot = w.bot.clone();
            members.insert(bot.id, member_json(&bot, vec![bot_role]));
            let mut people = self.members.clone();
            if self.owner.is_none() {
                people.push(("owner".to_owned(), Vec::new()));
            }
            let mut owner_id = None;
            for (name, role_names) in &people {
                let uid = w.next_id(clock);
                let user = model::user(uid, name, false);
                w.users.insert(uid, user.clone());
                let role_ids = role_names
                    .iter()
                    .map(|r| {
                        roles
                            .iter()
                            .find(|x| &x.name == r)
                            .unwrap_or_else(|| panic!("member {name} has undeclared role {r}"))
                            .id
                    })
                    .collect();
                members.insert(uid, member_json(&user, role_ids));
                if Some(name) == self.owner.as_ref() || (self.owner.is_none() && name == "owner") {
                    owner_id = Some(uid);
                }
            }
            let owner_id = owner_id.expect("the owner must be a member");
            let mut channel_ids = Vec::new();
            for (pos, spec) in self.channels.iter().enumerate() {
                let cid = w.next_id(clock);
                let pos = i32::try_from(pos).unwrap_or(0);
                let ch = match spec {
                    ChannelSpec::Text(name) => model::text_channel(cid, gid, name, pos),
                    ChannelSpec::Forum(name, tags) => {
                        let tags: Vec<(Id<TagMarker>, String)> =
                            tags.iter().map(|t| (w.next_id(clock), t.clone())).collect();
                        model::forum_channel(cid, gid, name, pos, &tags)
                    }
                };
                w.channels.insert(cid, ch);
                channel_ids.push(cid);
            }
            w.guilds.insert(
                gid,
                GuildState {
                    id: gid,
                    name: self.name.clone(),
                    owner_id,
                    roles,
                    members,
                    channel_ids,
                },
            );
            let now = to_json(&now);
            let guild = crate::gateway::guild_create(w, gid, now.as_str().unwrap_or_default());
            crate::gateway::dispatch_guild_create(w, gid, &guild);
            gid
        });
        GuildHandle {
            shared,
            id,
            name: self.name,
        }
    }
}

/// A created guild: look up ids by name, add more members and channels.
#[derive(Clone)]
pub struct GuildHandle {
    shared: Arc<Shared>,
    id: Id<GuildMarker>,
    name: String,
}

impl std::fmt::Debug for GuildHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GuildHandle")
            .field("id", &self.id)
            .field("name", &self.name)
            .finish()
    }
}

impl GuildHandle {
    pub(crate) fn by_name(shared: Arc<Shared>, name: &str) -> Self {
        let id = shared
            .read(|w| w.guilds.values().find(|g| g.name == name).map(|g| g.id))
            .unwrap_or_else(|| panic!("no guild named {name:?}"));
        Self {
            shared,
            id,
            name: name.to_owned(),
        }
    }

    /// The guild id.
    pub fn id(&self) -> Id<GuildMarker> {
        self.id
    }

    /// A snapshot of the guild.
    pub fn state(&self) -> GuildState {
        self.shared.read(|w| w.guilds[&self.id].clone())
    }

    /// A member's user id by name.
    ///
    /// # Panics
    ///
    /// If no member has that name.
    pub fn user(&self, name: &str) -> Id<UserMarker> {
        self.shared
            .read(|w| {
                w.guilds[&self.id]
                    .members
                    .values()
                    .find(|m| m.user.name == name)
                    .map(|m| m.user.id)
            })
            .unwrap_or_else(|| panic!("no member named {name:?} in guild {:?}", self.name))
    }

    /// A channel or thread id by name.
    ///
    /// # Panics
    ///
    /// If no channel has that name.
    pub fn channel(&self, name: &str) -> Id<ChannelMarker> {
        self.shared
            .read(|w| {
                w.guilds[&self.id]
                    .channel_ids
                    .iter()
                    .find(|c| w.channels[c].name.as_deref() == Some(name))
                    .copied()
            })
            .unwrap_or_else(|| panic!("no channel named {name:?} in guild {:?}", self.name))
    }

    /// A role id by name (`@everyone` has the guild's id).
    ///
    /// # Panics
    ///
    /// If no role has that name.
    pub fn role(&self, name: &str) -> Id<RoleMarker> {
        self.shared
            .read(|w| {
                w.guilds[&self.id]
                    .roles
                    .iter()
                    .find(|r| r.name == name)
                    .map(|r| r.id)
            })
            .unwrap_or_else(|| panic!("no role named {name:?} in guild {:?}", self.name))
    }

    /// A forum tag's id.
    ///
    /// # Panics
    ///
    /// If the forum or the tag does not exist.
    pub fn tag(&self, forum: &str, tag: &str) -> Id<TagMarker> {
        let forum_id = self.channel(forum);
        self.shared
            .read(|w| {
                w.channels[&forum_id]
                    .available_tags
                    .as_deref()
                    .unwrap_or_default()
                    .iter()
                    .find(|t| t.name == tag)
                    .map(|t| t.id)
            })
            .unwrap_or_else(|| panic!("no tag {tag:?} in forum {forum:?}"))
    }

    /// Threads (forum posts) whose parent is `channel`.
    pub fn threads_in(&self, channel: Id<ChannelMarker>) -> Vec<twilight_model::channel::Channel> {
        self.shared
            .read(|w| w.threads_in(channel).into_iter().cloned().collect())
    }

    /// Adds a member later on (GUILD_MEMBER_ADD for sessions with the GUILD_MEMBERS intent).
    ///
    /// # Panics
    ///
    /// If a role name is unknown.
    pub fn add_member(&self, name: &str, roles: &[&str]) -> Id<UserMarker> {
        let role_ids: Vec<Id<RoleMarker>> = roles.iter().map(|r| self.role(r)).collect();
        let gid = self.id;
        let clock = &self.shared.clock;
        self.shared.mutate(|w| {
            let uid = w.next_id(clock);
            let user = model::user(uid, name, false);
            w.users.insert(uid, user.clone());
            let member: twilight_model::guild::Member = typed(json!({
                "user": user, "nick": null, "avatar": null, "roles": role_ids,
                "joined_at": clock.timestamp(), "premium_since": null, "deaf": false,
                "mute": false, "flags": 0, "pending": false,
            }));
            let mut d = to_json(&member);
            d["guild_id"] = json!(gid);
            if let Some(g) = w.guilds.get_mut(&gid) {
                g.members.insert(uid, member);
            }
            dispatch(
                w,
                "GUILD_MEMBER_ADD",
                Some(gid),
                Some(Intents::GUILD_MEMBERS),
                |_| d.clone(),
            );
            uid
        })
    }

    /// Adds a text channel later on (CHANNEL_CREATE).
    pub fn add_text_channel(&self, name: &str) -> Id<ChannelMarker> {
        self.add_channel(|id, gid, pos| model::text_channel(id, gid, name, pos))
    }

    /// Adds a forum later on (CHANNEL_CREATE).
    pub fn add_forum(&self, name: &str, tags: &[&str]) -> Id<ChannelMarker> {
        let clock = &self.shared.clock;
        let tags: Vec<(Id<TagMarker>, String)> = self.shared.mutate(|w| {
            tags.iter()
                .map(|t| (w.next_id(clock), (*t).to_owned()))
                .collect()
        });
        self.add_channel(|id, gid, pos| model::forum_channel(id, gid, name, pos, &tags))
    }

    fn add_channel(
        &self,
        make: impl FnOnce(Id<ChannelMarker>, Id<GuildMarker>, i32) -> twilight_model::channel::Channel,
    ) -> Id<ChannelMarker> {
        let gid = self.id;
        let clock = &self.shared.clock;
        self.shared.mutate(|w| {
            let cid = w.next_id(clock);
            let pos = i32::try_from(w.guilds[&gid].channel_ids.len()).unwrap_or(0);
            let ch = make(cid, gid, pos);
            let d = to_json(&ch);
            w.channels.insert(cid, ch);
            if let Some(g) = w.guilds.get_mut(&gid) {
                g.channel_ids.push(cid);
            }
            dispatch(
                w,
                "CHANNEL_CREATE",
                Some(gid),
                Some(Intents::GUILDS),
                |_| d.clone(),
            );
            cid
        })
    }
}

/// Creates a user outside any guild.
pub(crate) fn create_user(shared: &Shared, name: &str) -> Id<UserMarker> {
    shared.mutate(|w| {
        let id = w.next_id(&shared.clock);
        w.users.insert(id, model::user(id, name, false));
        id
    })
}

/// The DM channel between the bot and `user`, created on first use.
pub(crate) fn dm_channel(shared: &Shared, user: Id<UserMarker>) -> Id<ChannelMarker> {
    shared.mutate(|w| {
        let existing = w.channels.values().find(|c| {
            c.kind == ChannelType::Private
                && c.recipients
                    .as_deref()
                    .is_some_and(|r| r.iter().any(|u| u.id == user))
        });
        if let Some(c) = existing {
            return c.id;
        }
        let u = w
            .users
            .get(&user)
            .cloned()
            .unwrap_or_else(|| panic!("unknown user {user}"));
        let id = w.next_id(&shared.clock);
        w.channels.insert(id, model::dm_channel(id, &u));
        id
    })
}

/// A person acting in the simulated Discord.
pub struct Actor {
    shared: Arc<Shared>,
    user: Id<UserMarker>,
}

fn find_command<'a>(
    w: &'a World,
    guild: Option<Id<GuildMarker>>,
    name: &str,
) -> Option<&'a Command> {
    guild
        .and_then(|g| w.guild_commands.get(&g))
        .into_iter()
        .flatten()
        .chain(w.global_commands.iter())
        .find(|c| {
            c.name == name && c.kind == twilight_model::application::command::CommandType::ChatInput
        })
}

fn find_component<'a>(components: &'a [Component], custom_id: &str) -> Option<&'a Component> {
    components.iter().find_map(|c| match c {
        Component::ActionRow(r) => find_component(&r.components, custom_id),
        Component::Container(c) => find_component(&c.components, custom_id),
        Component::Section(s) => find_component(std::slice::from_ref(&s.accessory), custom_id),
        Component::Button(b) if b.custom_id.as_deref() == Some(custom_id) => Some(c),
        Component::SelectMenu(s) if s.custom_id == custom_id => Some(c),
        _ => None,
    })
}

impl Actor {
    pub(crate) fn new(shared: Arc<Shared>, user: Id<UserMarker>) -> Self {
        assert!(
            shared.read(|w| w.users.contains_key(&user)),
            "unknown user {user}"
        );
        Self { shared, user }
    }

    /// This person's user id.
    pub fn id(&self) -> Id<UserMarker> {
        self.user
    }

    fn name(&self) -> String {
        self.shared.read(|w| w.users[&self.user].name.clone())
    }

    /// Runs `/name option:value …` in `channel`, as Discord's client would let this person: the command
    /// must be registered (guild or global), usable here and by them, and the options must fit.
    ///
    /// # Panics
    ///
    /// If Discord's client would not offer the command or accept the options.
    pub async fn run_slash_command<'a, V: Into<OptionValue>>(
        &self,
        channel: Id<ChannelMarker>,
        name: &str,
        options: impl IntoIterator<Item = (&'a str, V)>,
        via: Via,
    ) -> InteractionHandle {
        let options: Vec<(&str, OptionValue)> =
            options.into_iter().map(|(k, v)| (k, v.into())).collect();
        let who = self.name();
        let size_limit = self.shared.config.attachment_size_limit;
        // Under the write lock: ATTACHMENT options store their files.
        let data = self.shared.mutate(|w| {
            let ch = w.channels.get(&channel).unwrap_or_else(|| panic!("unknown channel {channel}"));
            let guild = ch.guild_id;
            let Some(cmd) = find_command(w, guild, name).cloned() else {
                let known: Vec<&str> = w.global_commands.iter().map(|c| c.name.as_str()).collect();
                panic!("{who} cannot run /{name}: the bot has not registered it (global commands: {known:?})");
            };
            if let (Some(g), Some(required)) = (guild, cmd.default_member_permissions) {
                let have = w.permissions(g, self.user);
                assert!(
                    have.contains(required),
                    "{who} cannot see /{name}: it needs {required:?}, they have {have:?}"
                );
            }
            if guild.is_none() {
                use twilight_model::application::interaction::InteractionContextType;
                #[allow(deprecated)]
                let dm_ok = match &cmd.contexts {
                    Some(c) => c.contains(&InteractionContextType::BotDm),
                    None => cmd.dm_permission != Some(false),
                };
                assert!(dm_ok, "/{name} is not available in DMs");
            }
            let mut opts = Vec::new();
            let mut resolved_users = serde_json::Map::new();
            let mut resolved_members = serde_json::Map::new();
            let mut resolved_channels = serde_json::Map::new();
            let mut resolved_attachments = serde_json::Map::new();
            for (oname, value) in &options {
                let def = cmd
                    .options
                    .iter()
                    .find(|o| o.name == *oname)
                    .unwrap_or_else(|| panic!("/{name} has no option {oname:?}"));
                let v = match (def.kind, value) {
                    (CommandOptionType::String, OptionValue::String(s)) => json!(s),
                    (CommandOptionType::Integer, OptionValue::Integer(i)) => json!(i),
                    (CommandOptionType::Number, OptionValue::Number(n)) => json!(n),
                    (CommandOptionType::Number, OptionValue::Integer(i)) => json!(i),
                    (CommandOptionType::Boolean, OptionValue::Boolean(b)) => json!(b),
                    (CommandOptionType::User | CommandOptionType::Mentionable, OptionValue::User(u)) => {
                        let user = w.users.get(u).unwrap_or_else(|| panic!("unknown user {u}"));
                        resolved_users.insert(u.to_string(), to_json(user));
                        if let Some(m) = guild.and_then(|g| w.guilds[&g].members.get(u)) {
                            let mut m = to_json(m);
                            if let Some(o) = m.as_object_mut() {
                                o.remove("user");
                            }
                            m["permissions"] = json!(w.permissions(guild.unwrap_or(Id::new(1)), *u).bits().to_string());
                            resolved_members.insert(u.to_string(), m);
                        }
                        json!(u)
                    }
                    (CommandOptionType::Channel, OptionValue::Channel(c)) => {
                        let ch = w.channels.get(c).unwrap_or_else(|| panic!("unknown channel {c}"));
                        resolved_channels.insert(
                            c.to_string(),
                            json!({"id": c, "type": ch.kind, "name": ch.name, "permissions": Permissions::all().bits().to_string()}),
                        );
                        json!(c)
                    }
                    (CommandOptionType::Role | CommandOptionType::Mentionable, OptionValue::Role(r)) => json!(r),
                    (CommandOptionType::Attachment, OptionValue::Attachment { filename, content_type, bytes }) => {
                        assert!(
                            bytes.len() as u64 <= size_limit,
                            "{who} cannot attach {filename:?} to /{name}: {} bytes is over the {size_limit}-byte upload limit",
                            bytes.len()
                        );
                        let file = StoredFile {
                            channel_id: channel,
                            filename: filename.clone(),
                            content_type: content_type.clone().or_else(|| attachments::guess_content_type(filename)),
                            bytes: bytes.clone().into(),
                            ephemeral: true,
                        };
                        let a = attachments::new_file(&self.shared, w, file);
                        resolved_attachments.insert(a.id.to_string(), to_json(&a));
                        json!(a.id)
                    }
                    (kind, v) => panic!("option {oname:?} of /{name} is {kind:?}, got {v:?}"),
                };
                if let Some(choices) = def.choices.as_ref().filter(|c| !c.is_empty()) {
                    let ok = choices.iter().any(|c| to_json(c)["value"] == v);
                    assert!(ok, "{v} is not one of the choices of option {oname:?} of /{name}");
                }
                opts.push(json!({"name": oname, "type": def.kind, "value": v}));
            }
            for def in &cmd.options {
                if def.required == Some(true) {
                    assert!(
                        options.iter().any(|(n, _)| *n == def.name),
                        "/{name} requires option {:?}",
                        def.name
                    );
                }
            }
            let mut data = json!({
                "id": cmd.id.expect("stored commands have ids"),
                "name": name,
                "type": 1,
                "options": opts,
            });
            if let Some(g) = cmd.guild_id {
                data["guild_id"] = json!(g);
            }
            if !(resolved_users.is_empty()
                && resolved_channels.is_empty()
                && resolved_attachments.is_empty())
            {
                data["resolved"] = json!({
                    "users": resolved_users,
                    "members": resolved_members,
                    "channels": resolved_channels,
                    "attachments": resolved_attachments,
                });
            }
            data
        });
        self.interact(
            Trigger {
                kind: InteractionType::ApplicationCommand,
                user: Some(self.user),
                channel: Some(channel),
                data: Some(data),
                message: None,
            },
            via,
        )
        .await
    }

    fn component_message(
        &self,
        message: Id<MessageMarker>,
        custom_id: &str,
    ) -> (Message, Component) {
        let who = self.name();
        self.shared.read(|w| {
            let m = w
                .messages
                .get(&message)
                .unwrap_or_else(|| panic!("{who} cannot see message {message}: it does not exist"))
                .clone();
            if m.flags
                .unwrap_or(MessageFlags::empty())
                .contains(MessageFlags::EPHEMERAL)
            {
                let owner = m.interaction_metadata.as_ref().map(|i| i.user.id);
                assert_eq!(
                    owner,
                    Some(self.user),
                    "{who} cannot see another person's ephemeral message"
                );
            }
            let c = find_component(&m.components, custom_id)
                .unwrap_or_else(|| {
                    panic!(
                        "message {message} has no component {custom_id:?}; it has {:#?}",
                        m.components
                    )
                })
                .clone();
            (m, c)
        })
    }

    /// Clicks the button `custom_id` on `message`.
    ///
    /// # Panics
    ///
    /// If the message has no such button, or it is disabled.
    pub async fn click_button(
        &self,
        message: Id<MessageMarker>,
        custom_id: &str,
        via: Via,
    ) -> InteractionHandle {
        let (m, c) = self.component_message(message, custom_id);
        let Component::Button(b) = &c else {
            panic!("{custom_id:?} on message {message} is not a button");
        };
        assert!(
            !b.disabled,
            "button {custom_id:?} on message {message} is disabled"
        );
        self.interact(
            Trigger {
                kind: InteractionType::MessageComponent,
                user: Some(self.user),
                channel: Some(m.channel_id),
                data: Some(json!({"custom_id": custom_id, "component_type": 2})),
                message: Some(m),
            },
            via,
        )
        .await
    }

    /// Picks `values` in the string select menu `custom_id` on `message`.
    ///
    /// # Panics
    ///
    /// If there is no such menu or a value is not one of its options.
    pub async fn select(
        &self,
        message: Id<MessageMarker>,
        custom_id: &str,
        values: &[&str],
        via: Via,
    ) -> InteractionHandle {
        let (m, c) = self.component_message(message, custom_id);
        let Component::SelectMenu(s) = &c else {
            panic!("{custom_id:?} on message {message} is not a select menu");
        };
        assert!(!s.disabled, "select menu {custom_id:?} is disabled");
        if let Some(opts) = &s.options {
            for v in values {
                assert!(
                    opts.iter().any(|o| o.value == *v),
                    "{v:?} is not an option of {custom_id:?}"
                );
            }
        }
        self.interact(
            Trigger {
                kind: InteractionType::MessageComponent,
                user: Some(self.user),
                channel: Some(m.channel_id),
                data: Some(json!({"custom_id": custom_id, "component_type": 3, "values": values})),
                message: Some(m),
            },
            via,
        )
        .await
    }

    /// Fills in and submits the modal `custom_id` the bot most recently opened for this person.
    ///
    /// # Panics
    ///
    /// If no such modal was opened, a field does not exist, or a required field is missing.
    pub async fn submit_modal(
        &self,
        custom_id: &str,
        fields: &[(&str, &str)],
        via: Via,
    ) -> InteractionHandle {
        let who = self.name();
        let (opener, modal) = self.shared.read(|w| {
            w.interactions
                .values()
                .rev()
                .filter(|i| i.user_id == Some(self.user))
                .find_map(|i| {
                    i.modal
                        .as_ref()
                        .filter(|m| m.custom_id.as_deref() == Some(custom_id))
                        .map(|m| (i.clone(), m.clone()))
                })
                .unwrap_or_else(|| panic!("the bot never opened a modal {custom_id:?} for {who}"))
        });
        let mut submitted = Vec::new();
        let mut next_id = 1;
        for top in modal.components.as_deref().unwrap_or_default() {
            let (input, wrap_label) = match top {
                Component::ActionRow(r) => (r.components.first(), false),
                Component::Label(l) => (Some(l.component.as_ref()), true),
                _ => (None, false),
            };
            let Some(Component::TextInput(t)) = input else {
                continue;
            };
            let value = fields
                .iter()
                .find(|(k, _)| *k == t.custom_id)
                .map(|(_, v)| *v);
            if value.is_none() && t.required != Some(false) {
                panic!("modal {custom_id:?} requires field {:?}", t.custom_id);
            }
            let input = json!({"type": 4, "id": next_id + 1, "custom_id": t.custom_id, "value": value.unwrap_or_default()});
            let wrapped = if wrap_label {
                json!({"type": 18, "id": next_id, "component": input})
            } else {
                json!({"type": 1, "id": next_id, "components": [input]})
            };
            next_id += 2;
            submitted.push(wrapped);
        }
        for (k, _) in fields {
            assert!(
                submitted
                    .iter()
                    .any(|s| s.to_string().contains(&format!("\"custom_id\":\"{k}\""))),
                "modal {custom_id:?} has no field {k:?}"
            );
        }
        let message = opener
            .component_message
            .and_then(|m| self.shared.read(|w| w.messages.get(&m).cloned()));
        self.interact(
            Trigger {
                kind: InteractionType::ModalSubmit,
                user: Some(self.user),
                channel: opener.channel_id,
                data: Some(json!({"custom_id": custom_id, "components": submitted})),
                message,
            },
            via,
        )
        .await
    }

    /// Posts a message in a channel or thread (stored, and MESSAGE_CREATE to the bot).
    ///
    /// # Panics
    ///
    /// If the channel does not exist.
    pub fn post_message(&self, channel: Id<ChannelMarker>, content: &str) -> Message {
        let clock = &self.shared.clock;
        self.shared.mutate(|w| {
            assert!(
                w.channels.contains_key(&channel),
                "unknown channel {channel}"
            );
            let author = w.users[&self.user].clone();
            messages::create(
                w,
                clock,
                NewMessage::simple(channel, author, content.to_owned()),
            )
        })
    }

    /// Replies to `to` (a message of type 19 with `message_reference` and `referenced_message`, mentioning
    /// the replied-to author as Discord's default reply does), and announces it with MESSAGE_CREATE.
    pub fn reply(&self, to: &Message, content: &str) -> Message {
        let clock = &self.shared.clock;
        self.shared.mutate(|w| {
            let author = w.users[&self.user].clone();
            let reference = serde_json::from_value(serde_json::json!({
                "type": 0,
                "message_id": to.id,
                "channel_id": to.channel_id,
                "guild_id": to.guild_id,
            }))
            .expect("a valid message reference");
            let mut new = NewMessage::simple(to.channel_id, author, content.to_owned());
            new.kind = 19;
            new.reference = Some(reference);
            messages::create(w, clock, new)
        })
    }

    async fn interact(&self, trigger: Trigger, via: Via) -> InteractionHandle {
        let delivery = match via {
            Via::Gateway => Delivery::Gateway,
            Via::Webhook { .. } | Via::Prepared | Via::PreparedFor(_) => Delivery::Webhook,
        };
        // When the person triggers it: Discord's windows start then.
        let created_at = match via {
            Via::PreparedFor(after) => self.shared.clock.now() + after,
            _ => self.shared.clock.now(),
        };
        let rec = self
            .shared
            .mutate(|w| interactions::create(&self.shared, w, trigger, delivery, created_at));
        let body = to_json(&rec.payload);
        let mut webhook_response = None;
        let mut prepared = None;
        match via {
            Via::Gateway => self.shared.mutate(|w| {
                dispatch(w, "INTERACTION_CREATE", rec.guild_id, None, |_| {
                    body.clone()
                });
            }),
            Via::Webhook { url } => {
                let resp =
                    webhook::deliver(&self.shared, &url, body.to_string(), Signing::Valid).await;
                webhook::apply_response(&self.shared, rec.id, &rec.token, &url, &resp);
                webhook_response = Some(resp);
            }
            Via::Prepared | Via::PreparedFor(_) => {
                let body = body.to_string();
                let (timestamp, signature) = webhook::sign(&self.shared, &body, Signing::Valid);
                prepared = Some(webhook::SignedDelivery {
                    body,
                    timestamp,
                    signature,
                });
            }
        }
        InteractionHandle {
            shared: self.shared.clone(),
            id: rec.id,
            token: rec.token,
            webhook_response,
            prepared,
        }
    }
}

/// An interaction a person triggered; wait here for what the bot did with it.
pub struct InteractionHandle {
    shared: Arc<Shared>,
    id: Id<InteractionMarker>,
    token: String,
    webhook_response: Option<WebhookResponse>,
    prepared: Option<webhook::SignedDelivery>,
}

impl InteractionHandle {
    /// The signed delivery to send, for [`Via::Prepared`].
    pub fn prepared(&self) -> Option<&webhook::SignedDelivery> {
        self.prepared.as_ref()
    }

    /// Applies the bot's HTTP answer to a [`Via::Prepared`] delivery sent to `url`, as if the simulator had
    /// sent it (checked and recorded the same way).
    pub fn complete(&self, url: &str, status: u16, body: String) {
        let json = serde_json::from_str(&body).ok();
        let resp = WebhookResponse { status, body, json };
        webhook::apply_response(&self.shared, self.id, &self.token, url, &resp);
    }

    /// The interaction id.
    pub fn id(&self) -> Id<InteractionMarker> {
        self.id
    }

    /// The interaction token.
    pub fn token(&self) -> &str {
        &self.token
    }

    /// The bot's HTTP answer, for webhook deliveries.
    pub fn webhook_response(&self) -> Option<&WebhookResponse> {
        self.webhook_response.as_ref()
    }

    /// The current record (ack, original, follow-ups).
    pub fn record(&self) -> InteractionRecord {
        self.shared.read(|w| w.interactions[&self.id].clone())
    }

    fn timeout(&self) -> Duration {
        self.shared.config.default_timeout
    }

    /// Waits for the bot's acknowledgement (any callback type).
    pub async fn wait_ack(&self) -> Ack {
        let id = self.id;
        self.shared
            .wait(
                &format!("an acknowledgement of interaction {id}"),
                self.timeout(),
                |w| w.interactions[&id].ack.clone(),
            )
            .await
    }

    /// Waits until the original response message satisfies `pred` and returns it.
    pub async fn wait_original(&self, mut pred: impl FnMut(&Message) -> bool) -> Message {
        let id = self.id;
        self.shared
            .wait(
                &format!("the original response of interaction {id} to match"),
                self.timeout(),
                |w| {
                    w.interactions[&id]
                        .original
                        .and_then(|m| w.messages.get(&m))
                        .filter(|m| pred(m))
                        .cloned()
                },
            )
            .await
    }

    /// Waits for a follow-up message satisfying `pred` and returns it.
    pub async fn wait_followup(&self, mut pred: impl FnMut(&Message) -> bool) -> Message {
        let id = self.id;
        self.shared
            .wait(
                &format!("a matching follow-up of interaction {id}"),
                self.timeout(),
                |w| {
                    w.interactions[&id]
                        .followups
                        .iter()
                        .filter_map(|m| w.messages.get(m))
                        .find(|m| pred(m))
                        .cloned()
                },
            )
            .await
    }

    /// Waits for the bot to answer with a modal and returns it.
    pub async fn wait_modal(&self) -> InteractionResponseData {
        let id = self.id;
        self.shared
            .wait(
                &format!("a modal in answer to interaction {id}"),
                self.timeout(),
                |w| w.interactions[&id].modal.clone(),
            )
            .await
    }

    /// The original response message as it is now.
    pub fn original(&self) -> Option<Message> {
        self.shared.read(|w| {
            w.interactions[&self.id]
                .original
                .and_then(|m| w.messages.get(&m).cloned())
        })
    }

    /// The follow-up messages as they are now.
    pub fn followups(&self) -> Vec<Message> {
        self.shared.read(|w| {
            w.interactions[&self.id]
                .followups
                .iter()
                .filter_map(|m| w.messages.get(m).cloned())
                .collect()
        })
    }
}
