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
    CloseFrame, ConfigBuilder, Event, EventTypeFlags, Intents, Shard, ShardId, StreamExt,
};
use twilight_model::gateway::OpCode;
use twilight_model::gateway::payload::outgoing::update_presence::{
    UpdatePresence, UpdatePresencePayload,
};
use twilight_model::gateway::presence::{Activity, Status};

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
        | EventTypeFlags::RESUMED;
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
            item = shard.next_event(wanted) => item,
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
                dispatcher.from_gateway_message(&message, bot_id);
            }
            Some(Ok(_)) => {}
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
    // Let the close frame go out.
    let _ = tokio::time::timeout(std::time::Duration::from_secs(2), async {
        while let Some(item) = shard.next_event(EventTypeFlags::empty()).await {
            if item.is_err() {
                break;
            }
        }
    })
    .await;
    Ok(())
}
