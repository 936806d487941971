//! The gateway connection: receives interactions (and, later, messages) and keeps the bot online.
//!
//! twilight's shard reconnects and resumes by itself; this loop only routes events and stops cleanly.

use crate::router::Dispatcher;
use crate::{Discord, DiscordError};
use secrecy::ExposeSecret;
use std::sync::Arc;
use tokio_util::sync::CancellationToken;
use twilight_gateway::{
    CloseFrame, ConfigBuilder, Event, EventTypeFlags, Intents, Shard, ShardId, StreamExt,
};

/// Runs shard 0 of 1 until `cancel`.
pub async fn run(
    discord: Discord,
    dispatcher: Arc<Dispatcher>,
    cancel: CancellationToken,
) -> Result<(), DiscordError> {
    let config = discord.config();
    let intents = Intents::from_bits_truncate(config.intents);
    let mut builder = ConfigBuilder::new(config.token.expose_secret().to_string(), intents);
    if let Some(url) = &config.gateway_url {
        builder = builder.proxy_url(url.clone());
    }
    let mut shard = Shard::with_config(ShardId::ONE, builder.build());
    let wanted =
        EventTypeFlags::READY | EventTypeFlags::INTERACTION_CREATE | EventTypeFlags::RESUMED;
    loop {
        let item = tokio::select! {
            _ = cancel.cancelled() => break,
            item = shard.next_event(wanted) => item,
        };
        match item {
            None => break,
            Some(Ok(Event::Ready(ready))) => {
                tracing::info!(target: "disconcierge_discord::gateway", user = %ready.user.name, guilds = ready.guilds.len(), "connected to the Discord gateway");
            }
            Some(Ok(Event::Resumed)) => {
                tracing::info!(target: "disconcierge_discord::gateway", "gateway session resumed")
            }
            Some(Ok(Event::InteractionCreate(interaction))) => {
                let dispatcher = dispatcher.clone();
                tokio::spawn(async move { dispatcher.from_gateway(interaction.0).await });
            }
            Some(Ok(_)) => {}
            Some(Err(e)) => {
                tracing::warn!(target: "disconcierge_discord::gateway", error = %e, "gateway error");
            }
        }
    }
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
