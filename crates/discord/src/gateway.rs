//! The gateway connection: receives interactions and the messages that concern the bot, and keeps the bot
//! online.
//!
//! twilight's shard reconnects and resumes by itself; this loop routes events, works around the closes
//! twilight cannot reconnect from ([`crate::close_codes`]) and stops cleanly.

use crate::close_codes::{self, Recovery};
use crate::router::Dispatcher;
use crate::{Discord, DiscordError};
use secrecy::ExposeSecret;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use twilight_gateway::queue::{InMemoryQueue, Queue};
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
async fn next_event<Q: Queue + Unpin>(
    shard: &mut Shard<Q>,
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

/// How many fatal closes in a row, with no shard ready in between, the gateway works around before it
/// stops (each recovery strictly narrows the intents or adds shards, so this is a guard, not a plan).
const MAX_RECOVERIES: u32 = 6;

/// Runs the gateway until `cancel`, showing `presence` and following its changes: one shard at first,
/// as many as Discord asks for after a close with 4011 (sharding required).
///
/// twilight's shard reconnects and resumes by itself after every close Discord allows reconnecting
/// from. After one it does not (see [`crate::close_codes`]), the shard has ended: it is never polled
/// again; the close is explained once (log, [`Discord::gateway_problem`]), and the gateway connects
/// again without the refused intents, with more shards, or stops.
pub async fn run(
    discord: Discord,
    dispatcher: Arc<Dispatcher>,
    presence: watch::Receiver<Presence>,
    cancel: CancellationToken,
) -> Result<(), DiscordError> {
    let status = discord.gateway.clone();
    let mut intents = Intents::from_bits_truncate(discord.intents);
    // The admin's count, or one to start with (Discord says with 4011 when it needs more).
    let mut shards = discord.config().shards.unwrap_or(1);
    let mut queue = InMemoryQueue::default();
    // Who manages each guild, for the messages' authors (shared by the shards: each sees its guilds).
    let guilds = Arc::new(crate::guilds::Guilds::default());
    status.running.store(true, Ordering::Relaxed);
    let mut recoveries = 0u32;
    loop {
        status.intents.store(intents.bits(), Ordering::Relaxed);
        status.start_shards(shards);
        let shared = ShardShared {
            discord: discord.clone(),
            dispatcher: dispatcher.clone(),
            guilds: guilds.clone(),
            presence: presence.clone(),
            cancel: cancel.child_token(),
            keeper: None,
        };
        let (code, any_ready) = match run_shards(shared, intents, shards, queue.clone()).await {
            Ended::Cancelled => break,
            Ended::Fatal { code, any_ready } => (code, any_ready),
        };
        if any_ready {
            recoveries = 0;
        }
        recoveries += 1;
        let (mut problem, recovery) =
            close_codes::decide(code, intents, shards, chrono::Utc::now());
        if recovery != Recovery::Stop && recoveries > MAX_RECOVERIES {
            problem.stopped = true;
            problem.advice = format!(
                "{} It happened {MAX_RECOVERIES} times in a row, so the gateway stopped; restart                  disconcierge once the cause is fixed.",
                problem.advice
            );
        }
        if problem.stopped {
            tracing::error!(target: "disconcierge_discord::gateway", code = ?code, "the Discord gateway stopped: {}", problem.summary());
        } else {
            tracing::warn!(target: "disconcierge_discord::gateway", code = ?code, "Discord closed the gateway: {}", problem.summary());
        }
        let stop = problem.stopped;
        *status.problem.lock().expect("gateway status") = Some(problem);
        if stop {
            break;
        }
        match recovery {
            Recovery::Stop => break,
            Recovery::Intents(fewer) => intents = fewer,
            Recovery::Reshard => {
                let info = match discord.http.gateway().authed().await {
                    Ok(response) => response.model().await.ok(),
                    Err(e) => {
                        tracing::warn!(target: "disconcierge_discord::gateway", error = %e, "could not read the recommended shard count from Discord");
                        None
                    }
                };
                shards = close_codes::reshard(shards, info.as_ref().map(|i| i.shards));
                if let Some(limit) = info.map(|i| i.session_start_limit) {
                    queue = InMemoryQueue::new(
                        limit.max_concurrency.max(1),
                        limit.remaining,
                        std::time::Duration::from_millis(limit.reset_after),
                        limit.total,
                    );
                }
                tracing::info!(target: "disconcierge_discord::gateway", shards, "connecting again with more shards");
            }
        }
        // The first recovery is immediate; repeated ones wait longer each time (2 s, 4 s, … 60 s).
        if recoveries > 1 {
            let pause = std::time::Duration::from_secs((1u64 << (recoveries - 1).min(6)).min(60));
            tokio::select! {
                _ = cancel.cancelled() => break,
                _ = tokio::time::sleep(pause) => {}
            }
        }
    }
    status.start_shards(0);
    status.running.store(false, Ordering::Relaxed);
    Ok(())
}

/// What every shard of one start shares.
#[derive(Clone)]
pub(crate) struct ShardShared {
    pub(crate) discord: Discord,
    pub(crate) dispatcher: Arc<Dispatcher>,
    pub(crate) guilds: Arc<crate::guilds::Guilds>,
    pub(crate) presence: watch::Receiver<Presence>,
    /// Cancelled on shutdown, or when another shard ended for good (or, with leases, when the shard is
    /// handed over).
    pub(crate) cancel: CancellationToken,
    /// Where the shard's session is kept for another instance to resume (shards spread over instances,
    /// [`crate::leases`]); `None` when this process runs every shard.
    pub(crate) keeper: Option<Arc<dyn crate::leases::ShardLeases>>,
}

/// How a set of shards ended.
enum Ended {
    /// Shut down on request.
    Cancelled,
    /// A shard was closed for good with `code`; the others were then closed too.
    Fatal { code: Option<u16>, any_ready: bool },
}

/// Runs shards `0..total` until shutdown or until one of them is closed for good.
async fn run_shards(
    shared: ShardShared,
    intents: Intents,
    total: u32,
    queue: InMemoryQueue,
) -> Ended {
    let config = shared.discord.config();
    let mut builder = ConfigBuilder::new(config.token.expose_secret().to_string(), intents)
        .queue(queue)
        .presence(presence_payload(&shared.presence.borrow()));
    if let Some(url) = &config.gateway_url {
        builder = builder.proxy_url(url.clone());
    }
    let config = builder.build();
    let mut set = tokio::task::JoinSet::new();
    for number in 0..total {
        let shard = Shard::with_config(ShardId::new(number, total), config.clone());
        set.spawn(run_shard(shard, shared.clone()));
    }
    let mut fatal: Option<Option<u16>> = None;
    let mut any_ready = false;
    while let Some(joined) = set.join_next().await {
        let end = match joined {
            Ok(end) => end,
            // A shard's task does not panic; if it ever did, the others are stopped and the gateway
            // treats it as a close without a code (it stops, and says so) rather than running short.
            Err(e) => {
                tracing::error!(target: "disconcierge_discord::gateway", error = %e, "a gateway shard's task failed");
                ShardEnd {
                    code: None,
                    fatal: true,
                    ready: false,
                }
            }
        };
        any_ready |= end.ready;
        if end.fatal && fatal.is_none() {
            fatal = Some(end.code);
            shared.cancel.cancel();
        }
    }
    match fatal {
        Some(code) => Ended::Fatal { code, any_ready },
        None => Ended::Cancelled,
    }
}

/// How one shard ended.
pub(crate) struct ShardEnd {
    /// The code of the last close frame.
    pub(crate) code: Option<u16>,
    /// Closed by Discord for good (rather than by us on shutdown).
    pub(crate) fatal: bool,
    /// It was ready at least once.
    pub(crate) ready: bool,
}

/// How often a shard whose session is kept for other instances saves it (when it moved on). An
/// instance that dies lets its successor resume from at most this far back: Discord replays what
/// followed, and what was handled twice is recognised (interactions and messages are recorded once).
const SAVE_SESSION_EVERY: std::time::Duration = std::time::Duration::from_secs(1);

/// The session a shard would resume, as kept for other instances.
fn kept_session<Q>(shard: &Shard<Q>) -> Option<crate::leases::SavedSession> {
    shard.session().map(|s| crate::leases::SavedSession {
        id: s.id().to_string(),
        sequence: s.sequence(),
        resume_url: shard.resume_url().map(str::to_string),
    })
}

/// Runs one shard until `shared.cancel` (then closes it and lets the close frame go out) or until
/// twilight ends it after a close it may not reconnect from. Alone, the shard closes with 1000 (the
/// session ends, the bot goes offline); with a keeper, it closes so that its session can be resumed and
/// keeps that session for the instance taking the shard over.
pub(crate) async fn run_shard<Q: Queue + Unpin + Send>(
    mut shard: Shard<Q>,
    shared: ShardShared,
) -> ShardEnd {
    let ShardShared {
        discord,
        dispatcher,
        guilds,
        mut presence,
        cancel,
        keeper,
    } = shared;
    let mut saved: Option<crate::leases::SavedSession> = None;
    let mut save_every = tokio::time::interval(SAVE_SESSION_EVERY);
    save_every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let number = shard.id().number();
    let wanted = EventTypeFlags::READY
        | EventTypeFlags::INTERACTION_CREATE
        | EventTypeFlags::MESSAGE_CREATE
        | EventTypeFlags::RESUMED
        | crate::guilds::EVENTS;
    // The bot's own user, from READY (for applications created before 2021 it differs from the
    // application id); until then, the application id.
    let mut bot_id = discord.application_id();
    let status = discord.gateway.clone();
    let mut last_close: Option<u16> = None;
    let mut ready = false;
    presence.mark_unchanged();
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
            _ = save_every.tick(), if keeper.is_some() => {
                let now = kept_session(&shard);
                if now.is_some() && now != saved
                    && let Some(keeper) = &keeper
                {
                    match keeper.save(number, now.clone()).await {
                        Ok(()) => saved = now,
                        Err(e) => tracing::warn!(target: "disconcierge_discord::gateway", error = %e, shard = number, "could not keep the shard's session for the other instances"),
                    }
                }
                continue;
            }
            item = next_event(&mut shard, wanted) => item,
        };
        match item {
            // twilight ended the shard: it must not be polled again.
            None => {
                status.connected(number, false);
                // Its session ended with it: nobody can resume it.
                if let Some(keeper) = &keeper
                    && let Err(e) = keeper.save(number, None).await
                {
                    tracing::warn!(target: "disconcierge_discord::gateway", error = %e, shard = number, "could not forget the shard's ended session");
                }
                return ShardEnd {
                    code: last_close,
                    fatal: true,
                    ready,
                };
            }
            Some(Ok(Event::Ready(event))) => {
                status.connected(number, true);
                ready = true;
                bot_id = event.user.id.get();
                tracing::info!(target: "disconcierge_discord::gateway", user = %event.user.name, guilds = event.guilds.len(), shard = number, "connected to the Discord gateway");
            }
            Some(Ok(Event::GatewayClose(frame))) => {
                last_close = frame.map(|f| f.code);
                status.connected(number, false);
            }
            Some(Ok(Event::Resumed)) => {
                status.connected(number, true);
                tracing::info!(target: "disconcierge_discord::gateway", shard = number, "gateway session resumed")
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
                status.connected(number, false);
                tracing::warn!(target: "disconcierge_discord::gateway", error = %e, shard = number, "gateway error");
            }
        }
    }
    status.connected(number, false);
    shard.close(if keeper.is_some() {
        CloseFrame::RESUME
    } else {
        CloseFrame::NORMAL
    });
    // Let the close frame go out: the shard reports it as `GatewayClose` once sent. Polled past that, the
    // shard would connect again (and the wait run into its timeout, a slower stop for nothing); polled past
    // its end (`None`), it would panic.
    let _ = tokio::time::timeout(std::time::Duration::from_secs(2), async {
        while let Some(item) = shard.next_event(EventTypeFlags::empty()).await {
            if matches!(item, Ok(Event::GatewayClose(_)) | Err(_)) {
                break;
            }
        }
    })
    .await;
    // Kept for the instance taking the shard over: it resumes where this one stopped.
    if let Some(keeper) = &keeper
        && let Some(session) = kept_session(&shard)
        && let Err(e) = keeper.save(number, Some(session)).await
    {
        tracing::warn!(target: "disconcierge_discord::gateway", error = %e, shard = number, "could not keep the shard's session for the instance taking it over");
    }
    ShardEnd {
        code: None,
        fatal: false,
        ready,
    }
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
