//! The simulated Discord's state, all in memory behind one lock.
//!
//! Everything lives in [`World`] (guilds, channels, messages, interactions, and also the request log and
//! the gateway sessions) so that one lock orders every change: an event is appended to a session's
//! replay log and handed to its socket under the same lock that changed the state it describes, which
//! keeps sequence numbers and state consistent without any further coordination.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::time::Instant;

use serde_json::{Value, json};
use twilight_model::application::command::Command;
use twilight_model::application::interaction::{Interaction, InteractionType};
use twilight_model::channel::message::{Message, MessageFlags};
use twilight_model::channel::{Channel, ChannelType};
use twilight_model::gateway::payload::outgoing::update_presence::UpdatePresencePayload;
use twilight_model::guild::{Member, Permissions, Role};
use twilight_model::http::interaction::{InteractionResponse, InteractionResponseData};
use twilight_model::id::Id;
use twilight_model::id::marker::{
    ApplicationMarker, AttachmentMarker, ChannelMarker, GuildMarker, InteractionMarker,
    MessageMarker, UserMarker,
};
use twilight_model::user::User;

use crate::clock::{SimClock, Snowflakes};
use crate::gateway::GatewayState;
use crate::record::{GatewayRecord, RecordedRequest, Violation};

/// A guild and what belongs to it.
#[derive(Clone, Debug)]
pub struct GuildState {
    /// The guild id.
    pub id: Id<GuildMarker>,
    /// The guild name.
    pub name: String,
    /// The owner (a simulated user); owners have every permission.
    pub owner_id: Id<UserMarker>,
    /// Roles, `@everyone` first (its id is the guild id).
    pub roles: Vec<Role>,
    /// Members by user id, the bot included.
    pub members: BTreeMap<Id<UserMarker>, Member>,
    /// Channels and threads of this guild, in creation order.
    pub channel_ids: Vec<Id<ChannelMarker>>,
}

/// How an interaction was delivered to the bot.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Delivery {
    /// As an `INTERACTION_CREATE` gateway dispatch.
    Gateway,
    /// As a signed HTTP POST to the bot's interactions endpoint.
    Webhook,
}

/// Which way the bot's acknowledgement came.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AckVia {
    /// `POST /interactions/{id}/{token}/callback`.
    Rest,
    /// As the HTTP response to the webhook delivery.
    WebhookResponse,
}

/// How the bot answered an interaction.
#[derive(Clone, Debug)]
pub struct Ack {
    /// The callback body, as twilight-model reads it.
    pub response: InteractionResponse,
    /// Whether it came through `POST /interactions/{id}/{token}/callback` or as the webhook response.
    pub via: AckVia,
    /// Simulated time between the interaction and the acknowledgement.
    pub after: std::time::Duration,
}

/// One interaction the simulator created, and what the bot did with it.
#[derive(Clone, Debug)]
pub struct InteractionRecord {
    /// The interaction id.
    pub id: Id<InteractionMarker>,
    /// Its token (for callbacks and webhooks).
    pub token: String,
    /// The kind (command, component, modal submit, ping).
    pub kind: InteractionType,
    /// The user who triggered it (none for PING).
    pub user_id: Option<Id<UserMarker>>,
    /// The channel it happened in.
    pub channel_id: Option<Id<ChannelMarker>>,
    /// The guild, if not in a DM.
    pub guild_id: Option<Id<GuildMarker>>,
    /// The full payload sent to the bot.
    pub payload: Interaction,
    /// How it reached the bot.
    pub delivery: Delivery,
    /// When it was created, on the simulated clock.
    pub created_at: Instant,
    /// The bot's acknowledgement, once made.
    pub ack: Option<Ack>,
    /// The original response message (for commands: the message created by callback type 4 or 5; for
    /// components: the message the component was on).
    pub original: Option<Id<MessageMarker>>,
    /// Follow-up messages, in order.
    pub followups: Vec<Id<MessageMarker>>,
    /// The message whose component was used, for component interactions.
    pub component_message: Option<Id<MessageMarker>>,
    /// The modal the bot opened in answer (callback type 9).
    pub modal: Option<InteractionResponseData>,
    /// True while a webhook delivery waits for the bot's HTTP answer.
    pub awaiting_webhook_response: bool,
}

/// One `POST /channels/{id}/typing`.
#[derive(Clone, Debug)]
pub struct TypingRecord {
    /// Where the bot was typing.
    pub channel_id: Id<ChannelMarker>,
    /// When (simulated clock).
    pub at: Instant,
}

/// The whole simulated Discord.
#[derive(Debug)]
pub struct World {
    pub(crate) ids: Snowflakes,
    /// The bot's user.
    pub bot: User,
    /// The bot's application id.
    pub application_id: Id<ApplicationMarker>,
    /// The application's name.
    pub application_name: String,
    /// Every user, the bot included.
    pub users: BTreeMap<Id<UserMarker>, User>,
    /// Guilds by id.
    pub guilds: BTreeMap<Id<GuildMarker>, GuildState>,
    /// Every channel (guild channels, threads, DMs) by id.
    pub channels: BTreeMap<Id<ChannelMarker>, Channel>,
    /// Every live message by id (ids increase with time, so this is chronological).
    pub messages: BTreeMap<Id<MessageMarker>, Message>,
    /// Messages deleted so far, for assertions.
    pub deleted_messages: Vec<Message>,
    /// Members of each thread.
    pub thread_members: BTreeMap<Id<ChannelMarker>, BTreeSet<Id<UserMarker>>>,
    /// Global commands as last overwritten by the bot.
    pub global_commands: Vec<Command>,
    /// Guild commands as last overwritten by the bot.
    pub guild_commands: BTreeMap<Id<GuildMarker>, Vec<Command>>,
    /// Interactions by id.
    pub interactions: BTreeMap<Id<InteractionMarker>, InteractionRecord>,
    /// Typing indicators the bot triggered.
    pub typing: Vec<TypingRecord>,
    /// Attachment files the simulated CDN serves, by attachment id.
    pub(crate) files: BTreeMap<Id<AttachmentMarker>, crate::attachments::StoredFile>,
    /// Presence updates (gateway op 3) the bot sent.
    pub presences: Vec<UpdatePresencePayload>,
    /// Every REST request, in order.
    pub requests: Vec<RecordedRequest>,
    /// Protocol violations, in order.
    pub violations: Vec<Violation>,
    /// Everything that happened on gateway connections.
    pub gateway_log: Vec<GatewayRecord>,
    pub(crate) gateway: GatewayState,
}

impl World {
    pub(crate) fn new(clock: &SimClock, bot_name: &str, application_name: &str) -> Self {
        let mut ids = Snowflakes::default();
        let bot_id: Id<UserMarker> = ids.next(clock);
        let bot = crate::model::user(bot_id, bot_name, true);
        let mut users = BTreeMap::new();
        users.insert(bot_id, bot.clone());
        Self {
            ids,
            // Discord gives a bot's application the same id as its user.
            application_id: bot_id.cast(),
            application_name: application_name.to_owned(),
            bot,
            users,
            guilds: BTreeMap::new(),
            channels: BTreeMap::new(),
            messages: BTreeMap::new(),
            deleted_messages: Vec::new(),
            thread_members: BTreeMap::new(),
            global_commands: Vec::new(),
            guild_commands: BTreeMap::new(),
            interactions: BTreeMap::new(),
            typing: Vec::new(),
            files: BTreeMap::new(),
            presences: Vec::new(),
            requests: Vec::new(),
            violations: Vec::new(),
            gateway_log: Vec::new(),
            gateway: GatewayState::default(),
        }
    }

    /// Records a protocol violation.
    pub(crate) fn violation(&mut self, context: impl Into<String>, message: impl Into<String>) {
        let v = Violation {
            context: context.into(),
            message: message.into(),
        };
        tracing::warn!(%v, "discord-sim protocol violation");
        self.violations.push(v);
    }

    /// A user by id.
    pub fn user(&self, id: Id<UserMarker>) -> Option<&User> {
        self.users.get(&id)
    }

    /// A user by name (first match).
    pub fn user_named(&self, name: &str) -> Option<&User> {
        self.users.values().find(|u| u.name == name)
    }

    /// The guild a channel belongs to.
    pub fn guild_of(&self, channel: Id<ChannelMarker>) -> Option<Id<GuildMarker>> {
        self.channels.get(&channel).and_then(|c| c.guild_id)
    }

    /// Live messages in a channel, oldest first, ephemeral ones included.
    pub fn messages_in(&self, channel: Id<ChannelMarker>) -> Vec<&Message> {
        self.messages
            .values()
            .filter(|m| m.channel_id == channel)
            .collect()
    }

    /// Threads whose parent is `channel` (e.g. the posts of a forum).
    pub fn threads_in(&self, channel: Id<ChannelMarker>) -> Vec<&Channel> {
        self.channels
            .values()
            .filter(|c| c.parent_id == Some(channel) && is_thread(c.kind))
            .collect()
    }

    /// An interaction by id.
    pub fn interaction(&self, id: Id<InteractionMarker>) -> Option<&InteractionRecord> {
        self.interactions.get(&id)
    }

    /// A user's effective guild-level permissions: owner and `ADMINISTRATOR` get everything, otherwise
    /// the union of `@everyone` and the member's roles. (Channel overwrites are not simulated.)
    pub fn permissions(&self, guild: Id<GuildMarker>, user: Id<UserMarker>) -> Permissions {
        let Some(g) = self.guilds.get(&guild) else {
            return Permissions::empty();
        };
        if g.owner_id == user {
            return Permissions::all();
        }
        let Some(member) = g.members.get(&user) else {
            return Permissions::empty();
        };
        let mut perms = Permissions::empty();
        for role in &g.roles {
            if role.id.cast() == guild || member.roles.contains(&role.id) {
                perms |= role.permissions;
            }
        }
        if perms.contains(Permissions::ADMINISTRATOR) {
            Permissions::all()
        } else {
            perms
        }
    }

    /// Allocates a new snowflake.
    pub(crate) fn next_id<M>(&mut self, clock: &SimClock) -> Id<M> {
        self.ids.next(clock)
    }

    /// Stores a new message and updates its channel's counters.
    pub(crate) fn insert_message(&mut self, message: Message) {
        if let Some(ch) = self.channels.get_mut(&message.channel_id) {
            ch.last_message_id = Some(message.id.cast());
            if is_thread(ch.kind) {
                ch.message_count = Some(ch.message_count.unwrap_or(0) + 1);
            }
        }
        self.messages.insert(message.id, message);
    }

    /// A compact description of the state, for timeout messages.
    pub fn summary(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(s, "guilds:");
        for g in self.guilds.values() {
            let _ = writeln!(
                s,
                "  {} {:?}: {} members, {} roles",
                g.id,
                g.name,
                g.members.len(),
                g.roles.len()
            );
            for c in &g.channel_ids {
                if let Some(ch) = self.channels.get(c) {
                    let _ = writeln!(
                        s,
                        "    channel {} {:?} {:?}: {} messages",
                        ch.id,
                        ch.name.as_deref().unwrap_or(""),
                        ch.kind,
                        self.messages_in(ch.id).len()
                    );
                }
            }
        }
        let _ = writeln!(s, "last messages:");
        for m in self.messages.values().rev().take(8) {
            let _ = writeln!(
                s,
                "  {} in {} by {}: {:?} (flags {:?}, {} components, files {:?})",
                m.id,
                m.channel_id,
                m.author.name,
                truncate(&m.content, 120),
                m.flags.unwrap_or(MessageFlags::empty()),
                m.components.len(),
                m.attachments
                    .iter()
                    .map(|a| a.filename.as_str())
                    .collect::<Vec<_>>()
            );
        }
        let _ = writeln!(s, "interactions:");
        for i in self.interactions.values().rev().take(8) {
            let _ = writeln!(
                s,
                "  {} {:?} via {:?}: ack {:?}, original {:?}, {} follow-ups",
                i.id,
                i.kind,
                i.delivery,
                i.ack.as_ref().map(|a| a.response.kind),
                i.original,
                i.followups.len()
            );
        }
        let _ = writeln!(
            s,
            "gateway: {} sessions, {} live connections",
            self.gateway.sessions.len(),
            self.gateway.conns.len()
        );
        let _ = writeln!(s, "last requests:");
        let skip = self.requests.len().saturating_sub(15);
        for r in &self.requests[skip..] {
            let _ = writeln!(s, "  {r}");
        }
        if !self.violations.is_empty() {
            let _ = writeln!(s, "violations:");
            for v in &self.violations {
                let _ = writeln!(s, "  {v}");
            }
        }
        s
    }

    /// The interaction a webhook token belongs to.
    pub(crate) fn interaction_by_token(&self, token: &str) -> Option<&InteractionRecord> {
        self.interactions.values().find(|i| i.token == token)
    }

    /// The partial member object with computed permissions, as in interactions.
    pub(crate) fn interaction_member(&self, guild: Id<GuildMarker>, user: Id<UserMarker>) -> Value {
        let g = &self.guilds[&guild];
        let mut member = crate::model::to_json(&g.members[&user]);
        member["permissions"] = json!(self.permissions(guild, user).bits().to_string());
        member
    }
}

/// True for the thread channel types.
pub(crate) fn is_thread(kind: ChannelType) -> bool {
    matches!(
        kind,
        ChannelType::PublicThread | ChannelType::PrivateThread | ChannelType::AnnouncementThread
    )
}

fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_owned()
    } else {
        let mut t: String = s.chars().take(max).collect();
        t.push('…');
        t
    }
}
