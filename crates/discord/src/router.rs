//! From Discord interactions to domain requests and back.
//!
//! [`Incoming`] is what the application needs of an interaction (who, where, what); the application answers
//! with an [`Ack`], which becomes the interaction's initial response — over REST for interactions from the
//! gateway, as the HTTP answer for webhook ones. [`Bot::acknowledged`] then tells the application the
//! acknowledgement is on its way, so that work which edits the response starts only after it.

use crate::Discord;
use crate::commands::{CHAT, CLEAR, PRIVATE, PROMPT};
use async_trait::async_trait;
use disconcierge_core::secret::InteractionToken;
use std::sync::Arc;
use twilight_model::application::interaction::application_command::CommandOptionValue;
use twilight_model::application::interaction::modal::ModalInteractionComponent;
use twilight_model::application::interaction::{Interaction, InteractionData, InteractionType};
use twilight_model::channel::Message;
use twilight_model::channel::message::{AllowedMentions, MessageFlags};
use twilight_model::http::interaction::{
    InteractionResponse, InteractionResponseData, InteractionResponseType,
};

/// Who invoked a command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiscordUser {
    pub id: u64,
    pub username: String,
    pub global_name: Option<String>,
    pub bot: bool,
}

/// The interaction an answer belongs to. The token lets the bot answer for 15 minutes; its type cannot
/// be printed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invocation {
    pub interaction_id: u64,
    pub application_id: u64,
    pub token: InteractionToken,
    pub user: DiscordUser,
    pub guild_id: Option<u64>,
    pub channel_id: Option<u64>,
}

/// A request from a user, in domain terms.
#[derive(Debug, Clone)]
pub enum Incoming {
    /// `/chat` (public) or `/private` (ephemeral).
    Chat {
        invocation: Invocation,
        prompt: String,
        private: bool,
    },
    /// `/clear`.
    Clear { invocation: Invocation },
    /// A feedback button under an answer.
    FeedbackButton {
        invocation: Invocation,
        command_id: i64,
        kind: disconcierge_core::model::FeedbackKind,
    },
    /// The "Other" feedback modal, submitted.
    FeedbackText {
        invocation: Invocation,
        command_id: i64,
        text: String,
    },
    /// A support-desk command or button (guilds only), with what the application may need to know of the
    /// member to check staff permissions.
    Desk {
        invocation: Invocation,
        member: Option<crate::desk::Member>,
        request: crate::desk::DeskRequest,
    },
    /// Anything this version does not handle.
    Unsupported {
        invocation: Option<Invocation>,
        what: String,
    },
}

/// An ordinary message that concerns the bot (see [`disconcierge_core::notice`]).
#[derive(Debug, Clone)]
pub struct SeenMessage {
    pub message_id: u64,
    pub channel_id: u64,
    pub guild_id: Option<u64>,
    pub author: DiscordUser,
    pub content: String,
    pub noticed: disconcierge_core::notice::Noticed,
    /// The bot's message it replies to.
    pub replied_to: Option<u64>,
    /// The message as Discord sent it.
    pub payload: serde_json::Value,
}

/// A message in a guild channel or thread from a user (not a bot), for the support desk, which answers
/// messages in its tickets (whether or not they mention the bot).
#[derive(Debug, Clone)]
pub struct GuildMessage {
    pub message_id: u64,
    pub channel_id: u64,
    pub guild_id: u64,
    pub author: DiscordUser,
    /// The author's roles in the guild (to tell staff apart).
    pub roles: Vec<u64>,
    /// The author owns the guild or has Administrator or Manage Server (see [`crate::guilds`]).
    pub manages_guild: bool,
    pub content: String,
    pub created_at: chrono::DateTime<chrono::Utc>,
}

/// The [`GuildMessage`] of a gateway message, if it is one; `guilds` tells whether its author manages the
/// guild.
pub fn guild_message(message: &Message, guilds: &crate::guilds::Guilds) -> Option<GuildMessage> {
    if message.author.bot || message.webhook_id.is_some() {
        return None;
    }
    let guild_id = message.guild_id?.get();
    let roles: Vec<u64> = message
        .member
        .as_ref()
        .map(|m| m.roles.iter().map(|r| r.get()).collect())
        .unwrap_or_default();
    Some(GuildMessage {
        manages_guild: guilds.manages_guild(guild_id, message.author.id.get(), &roles),
        message_id: message.id.get(),
        channel_id: message.channel_id.get(),
        guild_id,
        author: DiscordUser {
            id: message.author.id.get(),
            username: message.author.name.clone(),
            global_name: message.author.global_name.clone(),
            bot: false,
        },
        roles,
        content: message.content.clone(),
        created_at: chrono::DateTime::from_timestamp_micros(message.timestamp.as_micros())
            .unwrap_or_else(chrono::Utc::now),
    })
}

/// Whether a message from the gateway concerns the bot `bot_id`; messages from bots (including itself)
/// never do.
pub fn seen_message(message: &Message, bot_id: u64) -> Option<SeenMessage> {
    if message.author.bot {
        return None;
    }
    let mentions_bot = message.mentions.iter().any(|m| m.id.get() == bot_id);
    let replied_to = message
        .referenced_message
        .as_deref()
        .filter(|r| r.author.id.get() == bot_id)
        .map(|r| r.id.get());
    let noticed = disconcierge_core::notice::why_noticed(
        &message.content,
        mentions_bot,
        replied_to.is_some(),
        &[CHAT, PRIVATE, CLEAR],
    )?;
    Some(SeenMessage {
        message_id: message.id.get(),
        channel_id: message.channel_id.get(),
        guild_id: message.guild_id.map(|g| g.get()),
        author: DiscordUser {
            id: message.author.id.get(),
            username: message.author.name.clone(),
            global_name: message.author.global_name.clone(),
            bot: message.author.bot,
        },
        content: message.content.clone(),
        noticed,
        replied_to,
        payload: serde_json::to_value(message).unwrap_or(serde_json::Value::Null),
    })
}

/// The initial response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ack {
    /// "Thinking…": the answer follows by editing the original response.
    Defer { ephemeral: bool },
    /// A message right away.
    Message { content: String, ephemeral: bool },
    /// Open the "Other" feedback modal.
    FeedbackModal {
        command_id: i64,
        texts: crate::feedback::ModalTexts,
    },
    /// Update the feedback buttons of the message the interaction came from.
    UpdateFeedback {
        command_id: i64,
        counts: crate::feedback::Counts,
    },
    /// A message right away, with buttons (never a file: a webhook's HTTP answer cannot carry one; defer
    /// and use [`Discord::edit_original_reply`](crate::Discord::edit_original_reply) instead).
    Reply(crate::desk::Reply),
    /// Replace the message the clicked button is on.
    Update(crate::desk::Reply),
    /// Acknowledged without showing anything: a command gets a private "thinking…" that is deleted at
    /// once, a button or form a deferred update that changes nothing (ignored users, when no message is
    /// configured for them; never Discord's "The application did not respond").
    Silent,
    /// No response at all: the same interaction delivered twice, which its first delivery answers.
    Nothing,
}

/// The application's side.
#[async_trait]
pub trait Bot: Send + Sync {
    /// Decides the initial response. Must return well within Discord's 3 seconds.
    async fn on_interaction(&self, incoming: Incoming) -> Ack;
    /// The acknowledgement of `interaction_id` has been sent.
    async fn acknowledged(&self, interaction_id: u64);
    /// Every verified interaction, for the interaction log (its token already removed). Must not block:
    /// it is called before the interaction is handled.
    fn received(&self, log: disconcierge_core::model::InteractionLog);
    /// A message that concerns the bot (from the gateway). Must not block.
    fn message(&self, message: SeenMessage);
    /// Any user's message in a guild (from the gateway), for the support desk. Must not block.
    fn guild_message(&self, message: GuildMessage) {
        let _ = message;
    }
}

/// The interaction log entry of an interaction: its payload without the token.
pub fn log_entry(interaction: &Interaction) -> disconcierge_core::model::InteractionLog {
    use twilight_model::application::interaction::InteractionType;
    let mut payload = serde_json::to_value(interaction).unwrap_or(serde_json::Value::Null);
    if let Some(object) = payload.as_object_mut() {
        object.remove("token");
    }
    disconcierge_core::model::InteractionLog {
        interaction_id: interaction.id.get(),
        interaction_type: match interaction.kind {
            InteractionType::Ping => "ping",
            InteractionType::ApplicationCommand => "application_command",
            InteractionType::MessageComponent => "message_component",
            InteractionType::ApplicationCommandAutocomplete => "autocomplete",
            InteractionType::ModalSubmit => "modal_submit",
            _ => "other",
        }
        .to_string(),
        user_id: interaction.author().map(|u| u.id.get()),
        guild_id: interaction.guild_id.map(|id| id.get()),
        channel_id: interaction.channel.as_ref().map(|c| c.id.get()),
        payload,
        received_at: chrono::Utc::now(),
    }
}

fn invocation(interaction: &Interaction) -> Option<Invocation> {
    let user = interaction.author()?;
    Some(Invocation {
        interaction_id: interaction.id.get(),
        application_id: interaction.application_id.get(),
        token: InteractionToken::new(interaction.token.clone()),
        user: DiscordUser {
            id: user.id.get(),
            username: user.name.clone(),
            global_name: user.global_name.clone(),
            bot: user.bot,
        },
        guild_id: interaction.guild_id.map(|g| g.get()),
        channel_id: interaction.channel.as_ref().map(|c| c.id.get()),
    })
}

/// Reads an interaction as a domain request.
pub fn incoming(interaction: &Interaction) -> Incoming {
    let Some(inv) = invocation(interaction) else {
        return Incoming::Unsupported {
            invocation: None,
            what: format!("{:?} without a user", interaction.kind),
        };
    };
    match &interaction.data {
        Some(InteractionData::ApplicationCommand(data)) => match data.name.as_str() {
            CHAT | PRIVATE => {
                let prompt = data
                    .options
                    .iter()
                    .find(|o| o.name == PROMPT)
                    .and_then(|o| match &o.value {
                        CommandOptionValue::String(s) => Some(s.clone()),
                        _ => None,
                    });
                match prompt {
                    Some(prompt) => Incoming::Chat {
                        invocation: inv,
                        prompt,
                        private: data.name == PRIVATE,
                    },
                    None => Incoming::Unsupported {
                        invocation: Some(inv),
                        what: format!("/{} without a prompt", data.name),
                    },
                }
            }
            CLEAR => Incoming::Clear { invocation: inv },
            other => match crate::desk::command(data) {
                Some(Ok(command)) => Incoming::Desk {
                    member: crate::desk::member(interaction),
                    invocation: inv,
                    request: crate::desk::DeskRequest::Command(command),
                },
                Some(Err(problem)) => Incoming::Unsupported {
                    invocation: Some(inv),
                    what: format!("/{other}: {problem}"),
                },
                None => Incoming::Unsupported {
                    invocation: Some(inv),
                    what: format!("/{other}"),
                },
            },
        },
        Some(InteractionData::MessageComponent(data)) => {
            match crate::feedback::parse(&data.custom_id) {
                Some(crate::feedback::FeedbackId::Button { command_id, kind }) => {
                    Incoming::FeedbackButton {
                        invocation: inv,
                        command_id,
                        kind,
                    }
                }
                _ => match crate::desk::DeskButton::parse(&data.custom_id) {
                    Some(button) => Incoming::Desk {
                        member: crate::desk::member(interaction),
                        invocation: inv,
                        request: crate::desk::DeskRequest::Button(button),
                    },
                    None => Incoming::Unsupported {
                        invocation: Some(inv),
                        what: format!("component {:?}", data.custom_id),
                    },
                },
            }
        }
        Some(InteractionData::ModalSubmit(data)) => match crate::feedback::parse(&data.custom_id) {
            Some(crate::feedback::FeedbackId::Modal { command_id }) => Incoming::FeedbackText {
                invocation: inv,
                command_id,
                text: modal_value(&data.components, crate::feedback::DETAIL_FIELD)
                    .unwrap_or_default(),
            },
            _ => Incoming::Unsupported {
                invocation: Some(inv),
                what: format!("modal {:?}", data.custom_id),
            },
        },
        _ => Incoming::Unsupported {
            invocation: Some(inv),
            what: format!("{:?}", interaction.kind),
        },
    }
}

/// The value of a modal's text input, wherever it sits (in a label or an action row).
fn modal_value(components: &[ModalInteractionComponent], field: &str) -> Option<String> {
    components.iter().find_map(|c| match c {
        ModalInteractionComponent::TextInput(t) if t.custom_id == field => Some(t.value.clone()),
        ModalInteractionComponent::Label(l) => {
            modal_value(std::slice::from_ref(&*l.component), field)
        }
        ModalInteractionComponent::ActionRow(r) => modal_value(&r.components, field),
        _ => None,
    })
}

/// Whether [`Ack::Silent`] for an interaction of `kind` leaves a message to delete (a command's deferred
/// response does; a component's or form's deferred update does not).
fn silent_leaves_a_message(kind: InteractionType) -> bool {
    !matches!(
        kind,
        InteractionType::MessageComponent | InteractionType::ModalSubmit
    )
}

/// After `ack` is sent for an interaction of `kind`: the private "thinking…" of a silent acknowledgement
/// is deleted.
fn after_ack(discord: &Discord, ack: &Ack, kind: InteractionType, token: &str) {
    if matches!(ack, Ack::Silent) && silent_leaves_a_message(kind) {
        discord.delete_original_later(InteractionToken::new(token));
    }
}

/// The response for an [`Ack`] to an interaction of `kind`; `None` for [`Ack::Nothing`].
pub fn response(ack: &Ack, kind: InteractionType) -> Option<InteractionResponse> {
    let flags = |ephemeral: bool| ephemeral.then_some(MessageFlags::EPHEMERAL);
    match ack {
        Ack::Silent if silent_leaves_a_message(kind) => Some(InteractionResponse {
            kind: InteractionResponseType::DeferredChannelMessageWithSource,
            data: Some(InteractionResponseData {
                flags: flags(true),
                ..Default::default()
            }),
        }),
        Ack::Silent => Some(InteractionResponse {
            kind: InteractionResponseType::DeferredUpdateMessage,
            data: None,
        }),
        Ack::Defer { ephemeral } => Some(InteractionResponse {
            kind: InteractionResponseType::DeferredChannelMessageWithSource,
            data: Some(InteractionResponseData {
                flags: flags(*ephemeral),
                ..Default::default()
            }),
        }),
        Ack::Message { content, ephemeral } => Some(InteractionResponse {
            kind: InteractionResponseType::ChannelMessageWithSource,
            data: Some(InteractionResponseData {
                content: Some(content.clone()),
                flags: flags(*ephemeral),
                allowed_mentions: Some(AllowedMentions::default()),
                ..Default::default()
            }),
        }),
        Ack::FeedbackModal { command_id, texts } => {
            let (custom_id, components) = crate::feedback::modal(*command_id, texts);
            Some(InteractionResponse {
                kind: InteractionResponseType::Modal,
                data: Some(InteractionResponseData {
                    custom_id: Some(custom_id),
                    title: Some(texts.title.clone()),
                    components: Some(components),
                    ..Default::default()
                }),
            })
        }
        Ack::UpdateFeedback { command_id, counts } => Some(InteractionResponse {
            kind: InteractionResponseType::UpdateMessage,
            data: Some(InteractionResponseData {
                components: Some(crate::feedback::buttons(*command_id, counts)),
                ..Default::default()
            }),
        }),
        Ack::Reply(reply) | Ack::Update(reply) => {
            debug_assert!(reply.file.is_none(), "files go with a deferred response");
            Some(InteractionResponse {
                kind: if matches!(ack, Ack::Update(_)) {
                    InteractionResponseType::UpdateMessage
                } else {
                    InteractionResponseType::ChannelMessageWithSource
                },
                data: Some(InteractionResponseData {
                    content: Some(reply.content.clone()),
                    flags: flags(reply.ephemeral),
                    components: Some(crate::desk::components::components(&reply.controls)),
                    allowed_mentions: Some(crate::desk::allowed_mentions(&reply.ping)),
                    ..Default::default()
                }),
            })
        }
        Ack::Nothing => None,
    }
}

/// Turns interactions into calls of the [`Bot`] and delivers its acknowledgements.
pub struct Dispatcher {
    discord: Discord,
    bot: Arc<dyn Bot>,
}

impl Dispatcher {
    pub fn new(discord: Discord, bot: Arc<dyn Bot>) -> Arc<Dispatcher> {
        Arc::new(Dispatcher { discord, bot })
    }

    /// An interaction from the gateway: decide, then acknowledge over REST.
    pub async fn from_gateway(&self, interaction: Interaction) {
        let id = interaction.id;
        let token = interaction.token.clone();
        self.bot.received(log_entry(&interaction));
        let ack = self.bot.on_interaction(incoming(&interaction)).await;
        let Some(response) = response(&ack, interaction.kind) else {
            return;
        };
        let result = self
            .discord
            .http
            .interaction(self.discord.application_id)
            .create_response(id, &token, &response)
            .await;
        match result {
            Ok(_) => {
                after_ack(&self.discord, &ack, interaction.kind, &token);
                self.bot.acknowledged(id.get()).await
            }
            Err(e) => tracing::error!(
                target: "disconcierge_discord::router",
                error = %crate::DiscordError::from_http("acknowledge an interaction", e),
                interaction = id.get(),
                "could not acknowledge an interaction"
            ),
        }
    }
}

impl Dispatcher {
    /// A message from the gateway: passed on when it concerns the bot `bot_id`.
    pub fn from_gateway_message(
        &self,
        message: &Message,
        bot_id: u64,
        guilds: &crate::guilds::Guilds,
    ) {
        if let Some(seen) = seen_message(message, bot_id) {
            self.bot.message(seen);
        }
        if let Some(guild) = guild_message(message, guilds) {
            self.bot.guild_message(guild);
        }
    }
}

/// Webhook interactions: the [`Ack`] is the HTTP answer.
#[async_trait]
impl crate::webhook::InteractionHandler for Dispatcher {
    async fn handle(&self, interaction: Interaction) -> InteractionResponse {
        let id = interaction.id.get();
        self.bot.received(log_entry(&interaction));
        let ack = self.bot.on_interaction(incoming(&interaction)).await;
        let bot = self.bot.clone();
        // The answer leaves as soon as this returns; edits that race it are retried (see `respond`).
        tokio::spawn(async move { bot.acknowledged(id).await });
        after_ack(&self.discord, &ack, interaction.kind, &interaction.token);
        response(&ack, interaction.kind).unwrap_or(InteractionResponse {
            // A webhook must answer something: a private "thinking" that is never followed up.
            kind: InteractionResponseType::DeferredChannelMessageWithSource,
            data: Some(InteractionResponseData {
                flags: Some(MessageFlags::EPHEMERAL),
                ..Default::default()
            }),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use disconcierge_core::notice::Noticed;
    use serde_json::json;

    const BOT: u64 = 900;

    fn user(id: u64, bot: bool) -> serde_json::Value {
        json!({"id": id.to_string(), "username": format!("u{id}"), "discriminator": "0",
               "avatar": null, "global_name": null, "bot": bot, "public_flags": 0})
    }

    fn message(
        author: serde_json::Value,
        content: &str,
        mentions: Vec<serde_json::Value>,
        referenced: Option<serde_json::Value>,
    ) -> Message {
        serde_json::from_value(json!({
            "id": "5000", "channel_id": "10", "guild_id": "20", "author": author,
            "content": content, "timestamp": "2026-11-22T10:00:00.000000+00:00",
            "edited_timestamp": null, "tts": false, "mention_everyone": false,
            "mentions": mentions, "mention_roles": [], "attachments": [], "embeds": [],
            "pinned": false, "type": if referenced.is_some() { 19 } else { 0 },
            "referenced_message": referenced,
        }))
        .expect("a valid message")
    }

    #[test]
    fn messages_that_concern_the_bot_are_seen_with_their_reason() {
        let mention = message(user(1, false), "<@900> help", vec![user(BOT, true)], None);
        let seen = seen_message(&mention, BOT).expect("a mention is seen");
        assert_eq!(seen.noticed, Noticed::Mention);
        assert_eq!(
            (seen.message_id, seen.channel_id, seen.guild_id),
            (5000, 10, Some(20))
        );
        assert_eq!(seen.author.id, 1);
        assert_eq!(seen.replied_to, None);

        let answer = message(user(BOT, true), "an answer", vec![], None);
        let mut answer_json = serde_json::to_value(&answer).unwrap();
        answer_json["id"] = json!("4000");
        let reply = message(user(1, false), "that was wrong", vec![], Some(answer_json));
        let seen = seen_message(&reply, BOT).expect("a reply to the bot is seen");
        assert_eq!(seen.noticed, Noticed::Reply);
        assert_eq!(seen.replied_to, Some(4000));

        let named = message(user(1, false), "how does /chat work?", vec![], None);
        assert_eq!(
            seen_message(&named, BOT).map(|s| s.noticed),
            Some(Noticed::CommandName)
        );
    }

    #[test]
    fn other_messages_and_bots_are_not_seen() {
        let chatter = message(user(1, false), "hello everyone", vec![user(2, false)], None);
        assert!(seen_message(&chatter, BOT).is_none());
        let someone_else = message(user(3, false), "their message", vec![], None);
        let reply = message(
            user(1, false),
            "reply to a person",
            vec![],
            Some(serde_json::to_value(&someone_else).unwrap()),
        );
        assert!(seen_message(&reply, BOT).is_none());
        // Bots, the bot itself included, never count, even when they mention it.
        let bot = message(user(7, true), "<@900> /chat", vec![user(BOT, true)], None);
        assert!(seen_message(&bot, BOT).is_none());
    }
}
