//! Bot-side helpers: real twilight clients pointed at the simulator, as the bot configures them.

use std::time::Duration;

use disconcierge_discord_sim::{DiscordSim, GuildHandle, InstantQueue};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use twilight_gateway::{
    ConfigBuilder, Event, EventTypeFlags, Intents, MessageSender, Shard, ShardId, StreamExt as _,
};
use twilight_model::application::command::Command;

/// A twilight-http client configured exactly as the bot will be: `proxy(host:port, use_http = true)`.
pub fn http(sim: &DiscordSim) -> twilight_http::Client {
    twilight_http::Client::builder()
        .token(sim.bot_token())
        .proxy(sim.proxy_addr(), true)
        .timeout(Duration::from_secs(5))
        .build()
}

/// A shard configured as the bot will be: `proxy_url(sim.gateway_url())`, no compression features.
pub fn shard(sim: &DiscordSim, id: u32, total: u32, intents: Intents) -> Shard<InstantQueue> {
    let config = ConfigBuilder::new(sim.bot_token(), intents)
        .proxy_url(sim.gateway_url())
        .queue(InstantQueue)
        .build();
    Shard::with_config(ShardId::new(id, total), config)
}

/// A shard driven by a background task, with its events forwarded to the test.
pub struct Pump {
    rx: mpsc::UnboundedReceiver<Event>,
    pub sender: MessageSender,
    task: JoinHandle<()>,
}

impl Drop for Pump {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Pump {
    pub fn start(mut shard: Shard<InstantQueue>) -> Self {
        let (tx, rx) = mpsc::unbounded_channel();
        let sender = shard.sender();
        let task = tokio::spawn(async move {
            while let Some(item) = shard.next_event(EventTypeFlags::all()).await {
                if let Ok(event) = item
                    && tx.send(event).is_err()
                {
                    break;
                }
            }
        });
        Self { rx, sender, task }
    }

    /// The next event matching `pred` (others are skipped), or a panic listing what came instead.
    pub async fn expect<T>(&mut self, what: &str, mut pred: impl FnMut(&Event) -> Option<T>) -> T {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        let mut seen = Vec::new();
        loop {
            match tokio::time::timeout_at(deadline, self.rx.recv()).await {
                Ok(Some(ev)) => {
                    if let Some(v) = pred(&ev) {
                        return v;
                    }
                    seen.push(ev.kind());
                }
                Ok(None) => panic!("shard stopped before {what}; saw {seen:?}"),
                Err(_) => panic!("timed out waiting for {what}; saw {seen:?}"),
            }
        }
    }

    /// Asserts no event matching `pred` arrives within `within`.
    pub async fn expect_none(&mut self, within: Duration, mut pred: impl FnMut(&Event) -> bool) {
        let deadline = tokio::time::Instant::now() + within;
        while let Ok(Some(ev)) = tokio::time::timeout_at(deadline, self.rx.recv()).await {
            assert!(!pred(&ev), "unexpected event {:?}", ev.kind());
        }
    }
}

/// The bot's `/chat prompt:<string>` command, as Discord's JSON.
pub fn chat_command() -> Command {
    serde_json::from_value(serde_json::json!({
        "name": "chat",
        "description": "Ask the concierge",
        "type": 1,
        "version": "1",
        "options": [{"name": "prompt", "description": "Your question", "type": 3, "required": true}],
    }))
    .unwrap()
}

/// Registers `/chat` globally through the real client, as the bot does at startup.
pub async fn register_chat(sim: &DiscordSim, http: &twilight_http::Client) {
    http.interaction(sim.application_id())
        .set_global_commands(&[chat_command()])
        .await
        .expect("set global commands");
}

/// Guild "G" with member "alice" and channel "general", and `/chat` registered.
pub async fn alice_in_general(sim: &DiscordSim) -> GuildHandle {
    let guild = sim
        .guild("G")
        .member("alice")
        .text_channel("general")
        .create();
    register_chat(sim, &http(sim)).await;
    guild
}
