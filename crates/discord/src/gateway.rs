//! The gateway connection: receives interactions and the messages that concern the bot, and keeps the bot
//! online.
//!
//! twilight's shard reconnects and resumes by itself; this loop only routes events and stops cleanly.

use crate::router::Dispatcher;
use crate::{Discord, DiscordError};
use secrecy::ExposeSecret;
use std::sync::Arc;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use twilight_gateway::{
    CloseFrame, ConfigBuilder, Event, EventTypeFlags, Intents, Message, Shard, ShardId, StreamExt,
    error::ReceiveMessageError,
};
use twilight_model::gateway::OpCode;
use twilight_model::gateway::payload::outgoing::update_presence::{
    UpdatePresence, UpdatePresencePayload,
};
use twilight_model::gateway::presence::{Activity, Status};

/// The next event of a type in `wanted`, as twilight's `next_event` gives it, except that messages
/// written by bots (the bot's own answers among them) and by webhooks are dropped before they are parsed:
/// nothing in the bot uses them ([`crate::router::seen_message`], [`crate::router::guild_message`]), and
/// in a channel where the bot answers, its own messages are most of the MESSAGE_CREATE events. A full
/// parse of one builds the whole message (author, member, embeds, components); the look at its author
/// here allocates nothing.
async fn next_event(
    shard: &mut Shard,
    wanted: EventTypeFlags,
) -> Option<Result<Event, ReceiveMessageError>> {
    loop {
        let message = std::future::poll_fn(|cx| {
            futures_core::Stream::poll_next(std::pin::Pin::new(&mut *shard), cx)
        })
        .await?;
        match message {
            Ok(Message::Close(frame)) => return Some(Ok(Event::GatewayClose(frame))),
            Ok(Message::Text(json)) => {
                if from_a_bot_or_webhook(&json) {
                    continue;
                }
                if let Some(event) = twilight_gateway::parse(json, wanted).transpose() {
                    return Some(event.map(Into::into));
                }
            }
            Err(e) => return Some(Err(e)),
        }
    }
}

/// Whether a gateway payload is a MESSAGE_CREATE whose author is a bot or a webhook. Anything it cannot
/// read is not (and goes on to the full parse, which reports it).
fn from_a_bot_or_webhook(json: &str) -> bool {
    use serde::de::IgnoredAny;
    #[derive(serde::Deserialize)]
    struct Payload {
        d: Option<Data>,
    }
    #[derive(serde::Deserialize)]
    struct Data {
        author: Option<Author>,
        webhook_id: Option<IgnoredAny>,
    }
    #[derive(serde::Deserialize)]
    struct Author {
        #[serde(default)]
        bot: bool,
    }
    let is_message_create =
        twilight_model::gateway::event::GatewayEventDeserializer::from_json(json)
            .is_some_and(|d| d.op() == 0 && d.event_type() == Some("MESSAGE_CREATE"));
    if !is_message_create {
        return false;
    }
    match serde_json::from_str::<Payload>(json) {
        Ok(Payload { d: Some(d) }) => d.webhook_id.is_some() || d.author.is_some_and(|a| a.bot),
        _ => false,
    }
}

/// What the bot shows under its name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Presence {
    /// The custom status text; empty for none.
    pub custom_status: String,
    /// Paused bots show as idle, with "Paused" in their status.
    pub paused: bool,
}

/// The gateway payload of a presence.
pub fn presence_payload(presence: &Presence) -> UpdatePresencePayload {
    let text = match (presence.paused, presence.custom_status.is_empty()) {
        (true, true) => "Paused".to_string(),
        (true, false) => format!("Paused · {}", presence.custom_status),
        (false, _) => presence.custom_status.clone(),
    };
    let activities = if text.is_empty() {
        Vec::new()
    } else {
        // A custom status is an activity of type 4 whose text is its `state`.
        serde_json::from_value::<Activity>(
            serde_json::json!({"type": 4, "name": "Custom Status", "state": text}),
        )
        .map(|a| vec![a])
        .unwrap_or_default()
    };
    UpdatePresencePayload {
        activities,
        afk: presence.paused,
        since: None,
        status: if presence.paused {
            Status::Idle
        } else {
            Status::Online
        },
    }
}

/// Runs shard 0 of 1 until `cancel`, showing `presence` and following its changes.
pub async fn run(
    discord: Discord,
    dispatcher: Arc<Dispatcher>,
    mut presence: watch::Receiver<Presence>,
    cancel: CancellationToken,
) -> Result<(), DiscordError> {
    let config = discord.config();
    let intents = Intents::from_bits_truncate(config.intents);
    let mut builder = ConfigBuilder::new(config.token.expose_secret().to_string(), intents);
    if let Some(url) = &config.gateway_url {
        builder = builder.proxy_url(url.clone());
    }
    builder = builder.presence(presence_payload(&presence.borrow_and_update()));
    let mut shard = Shard::with_config(ShardId::ONE, builder.build());
    let wanted = EventTypeFlags::READY
        | EventTypeFlags::INTERACTION_CREATE
        | EventTypeFlags::MESSAGE_CREATE
        | EventTypeFlags::RESUMED
        | crate::guilds::EVENTS;
    // Who manages each guild, for the messages' authors.
    let guilds = crate::guilds::Guilds::default();
    // The bot's own user, from READY (for applications created before 2021 it differs from the
    // application id); until then, the application id.
    let mut bot_id = discord.application_id();
    let status = discord.gateway.clone();
    status
        .running
        .store(true, std::sync::atomic::Ordering::Relaxed);
    loop {
        let item = tokio::select! {
            _ = cancel.cancelled() => break,
            changed = presence.changed() => {
                if changed.is_ok() {
                    let payload = presence_payload(&presence.borrow_and_update());
                    shard.command(&UpdatePresence { d: payload, op: OpCode::PresenceUpdate });
                }
                continue;
            }
            item = next_event(&mut shard, wanted) => item,
        };
        match item {
            None => break,
            Some(Ok(Event::Ready(ready))) => {
                status.connected(true);
                bot_id = ready.user.id.get();
                tracing::info!(target: "disconcierge_discord::gateway", user = %ready.user.name, guilds = ready.guilds.len(), "connected to the Discord gateway");
            }
            Some(Ok(Event::GatewayClose(_))) => status.connected(false),
            Some(Ok(Event::Resumed)) => {
                status.connected(true);
                tracing::info!(target: "disconcierge_discord::gateway", "gateway session resumed")
            }
            Some(Ok(Event::InteractionCreate(interaction))) => {
                let dispatcher = dispatcher.clone();
                tokio::spawn(async move { dispatcher.from_gateway(interaction.0).await });
            }
            Some(Ok(Event::MessageCreate(message))) => {
                dispatcher.from_gateway_message(&message, bot_id, &guilds);
            }
            Some(Ok(event)) => guilds.apply(&event),
            Some(Err(e)) => {
                status.connected(false);
                tracing::warn!(target: "disconcierge_discord::gateway", error = %e, "gateway error");
            }
        }
    }
    status.connected(false);
    status
        .running
        .store(false, std::sync::atomic::Ordering::Relaxed);
    shard.close(CloseFrame::NORMAL);
    // Let the close frame go out: the shard reports it as `GatewayClose` once sent. Polled past that, the
    // shard would connect again (and the wait run into its timeout, a slower stop for nothing).
    let _ = tokio::time::timeout(std::time::Duration::from_secs(2), async {
        while let Some(item) = shard.next_event(EventTypeFlags::empty()).await {
            if matches!(item, Ok(Event::GatewayClose(_)) | Err(_)) {
                break;
            }
        }
    })
    .await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::from_a_bot_or_webhook;

    fn message_create(d: &str) -> String {
        format!(r#"{{"op":0,"s":42,"t":"MESSAGE_CREATE","d":{d}}}"#)
    }

    #[test]
    fn messages_from_bots_and_webhooks_are_recognised_without_a_full_parse() {
        let bot = message_create(
            r#"{"id":"1","channel_id":"2","author":{"id":"3","username":"concierge","bot":true},"content":"an answer","mentions":[]}"#,
        );
        assert!(from_a_bot_or_webhook(&bot));
        let webhook = message_create(
            r#"{"id":"1","channel_id":"2","webhook_id":"9","author":{"id":"9","username":"hook"},"content":"hi"}"#,
        );
        assert!(from_a_bot_or_webhook(&webhook));
    }

    #[test]
    fn messages_from_people_and_other_events_go_on_to_the_full_parse() {
        let person = message_create(
            r#"{"id":"1","channel_id":"2","webhook_id":null,"author":{"id":"4","username":"alice","bot":false},"content":"\"bot\":true, \"webhook_id\":\"1\"","mentions":[]}"#,
        );
        assert!(!from_a_bot_or_webhook(&person), "a person's message");
        let no_flag =
            message_create(r#"{"id":"1","channel_id":"2","author":{"id":"4","username":"bob"}}"#);
        assert!(
            !from_a_bot_or_webhook(&no_flag),
            "`bot` absent means a person"
        );
        let other =
            r#"{"op":0,"s":43,"t":"MESSAGE_UPDATE","d":{"id":"1","author":{"id":"3","bot":true}}}"#;
        assert!(
            !from_a_bot_or_webhook(other),
            "only MESSAGE_CREATE is skimmed"
        );
        let heartbeat_ack = r#"{"op":11,"d":null}"#;
        assert!(!from_a_bot_or_webhook(heartbeat_ack));
        assert!(
            !from_a_bot_or_webhook("not json"),
            "left to the full parse to report"
        );
    }
}
