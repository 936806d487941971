//! The gateway: a WebSocket speaking Discord's protocol (uncompressed JSON, API v10).
//!
//! Connection lifecycle as Discord runs it: HELLO → IDENTIFY → READY + GUILD_CREATE per guild the shard
//! owns, heartbeats ACKed, dispatches numbered per session. Sessions outlive connections: events
//! dispatched while a session has no connection are kept, and RESUME replays everything after the
//! client's last sequence number before RESUMED. Tests break connections on purpose through
//! [`GatewayControl`] (op 7 RECONNECT, op 9 INVALID_SESSION, abrupt close) to prove the bot resumes.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::ws::{CloseFrame, Message as WsMessage, WebSocket, WebSocketUpgrade};
use axum::extract::{RawQuery, State};
use axum::response::Response;
use serde_json::{Value, json};
use tokio::sync::{mpsc, oneshot};
use twilight_model::gateway::Intents;
use twilight_model::gateway::payload::incoming::Ready;
use twilight_model::gateway::payload::outgoing::identify::IdentifyInfo;
use twilight_model::gateway::payload::outgoing::resume::ResumeInfo;
use twilight_model::gateway::payload::outgoing::update_presence::UpdatePresencePayload;
use twilight_model::guild::Guild;
use twilight_model::id::Id;
use twilight_model::id::marker::GuildMarker;

use crate::model::{to_json, typed};
use crate::record::{Direction, GatewayRecord};
use crate::shared::Shared;
use crate::world::{World, is_thread};

/// Sessions and live connections.
#[derive(Debug, Default)]
pub(crate) struct GatewayState {
    next_conn: u64,
    pub(crate) conns: BTreeMap<u64, Conn>,
    pub(crate) sessions: BTreeMap<String, Session>,
}

#[derive(Debug)]
pub(crate) struct Conn {
    tx: mpsc::UnboundedSender<ConnCmd>,
    session: Option<String>,
}

/// An identified gateway session.
#[derive(Debug)]
pub(crate) struct Session {
    pub(crate) shard: [u32; 2],
    pub(crate) intents: Intents,
    /// IDENTIFY's `large_threshold` (50 to 250; 50 when not given): above it a guild is "large".
    pub(crate) large_threshold: u64,
    seq: u64,
    /// Every dispatch of this session, for RESUME replay.
    log: Vec<(u64, String)>,
    conn: Option<u64>,
}

#[derive(Debug)]
enum ConnCmd {
    Frame(String),
    Close(u16, String),
    Abort,
}

/// Which shard a guild's events go to (Discord's formula).
pub(crate) fn shard_of(guild: Id<GuildMarker>, count: u32) -> u32 {
    u32::try_from((guild.get() >> 22) % u64::from(count.max(1))).unwrap_or(0)
}

/// Sends a non-dispatch frame on a connection and records it.
fn send_op(w: &mut World, conn: u64, op: u8, d: Value) {
    let frame = json!({"op": op, "d": d, "s": null, "t": null}).to_string();
    if let Some(c) = w.gateway.conns.get(&conn) {
        let _ = c.tx.send(ConnCmd::Frame(frame));
        w.gateway_log.push(GatewayRecord::Frame {
            conn,
            direction: Direction::Sent,
            op,
            t: None,
            s: None,
            d: None,
        });
    }
}

/// Numbers a dispatch for one session, keeps it for replay and sends it if the session is connected.
fn push_dispatch(w: &mut World, session_id: &str, event: &str, d: &Value) {
    let Some(session) = w.gateway.sessions.get_mut(session_id) else {
        return;
    };
    session.seq += 1;
    let seq = session.seq;
    let frame = json!({"op": 0, "s": seq, "t": event, "d": d}).to_string();
    session.log.push((seq, frame.clone()));
    if let Some(conn) = session.conn
        && let Some(c) = w.gateway.conns.get(&conn)
    {
        let _ = c.tx.send(ConnCmd::Frame(frame));
        w.gateway_log.push(GatewayRecord::Frame {
            conn,
            direction: Direction::Sent,
            op: 0,
            t: Some(event.to_owned()),
            s: Some(seq),
            d: None,
        });
    }
}

/// Dispatches an event to every session that should get it: the shard owning `guild` (shard 0 for
/// DMs), if the session's intents include `intent`. `make` builds the payload per session, so that e.g.
/// message content can be blanked for sessions without the MESSAGE_CONTENT intent.
pub(crate) fn dispatch(
    w: &mut World,
    event: &str,
    guild: Option<Id<GuildMarker>>,
    intent: Option<Intents>,
    make: impl Fn(Intents) -> Value,
) {
    dispatch_per_session(w, event, guild, intent, |s| make(s.intents));
}

/// GUILD_CREATE to every session of the shard owning the guild, with the members each may see.
pub(crate) fn dispatch_guild_create(w: &mut World, id: Id<GuildMarker>, guild: &GuildCreate) {
    dispatch_per_session(w, "GUILD_CREATE", Some(id), Some(Intents::GUILDS), |s| {
        guild.for_session(s.intents, s.large_threshold)
    });
}

/// [`dispatch`] with the whole session given to `make`.
fn dispatch_per_session(
    w: &mut World,
    event: &str,
    guild: Option<Id<GuildMarker>>,
    intent: Option<Intents>,
    make: impl Fn(&Session) -> Value,
) {
    let targets: Vec<(String, Value)> = w
        .gateway
        .sessions
        .iter()
        .filter(|(_, s)| {
            let shard_ok = match guild {
                Some(g) => shard_of(g, s.shard[1]) == s.shard[0],
                None => s.shard[0] == 0,
            };
            shard_ok && intent.is_none_or(|i| s.intents.intersects(i))
        })
        .map(|(id, s)| (id.clone(), make(s)))
        .collect();
    for (id, d) in targets {
        push_dispatch(w, &id, event, &d);
    }
}

/// A guild's GUILD_CREATE before it is addressed to a session: which members it carries depends on the
/// session (see [`GuildCreate::for_session`]).
pub(crate) struct GuildCreate {
    /// The payload with every member.
    full: Value,
    /// The bot's own member, the only one a session that may not see all members gets.
    bot_member: Option<Value>,
}

/// Above this many members Discord sends only the bot and users in voice channels, whatever the intents.
const MEMBERS_SENT_AT_MOST: usize = 75_000;

impl GuildCreate {
    /// The payload for one session. Discord sends a guild's members in GUILD_CREATE only to sessions
    /// with the GUILD_PRESENCES intent, and then only online members once the guild is "large" (more
    /// members than IDENTIFY's `large_threshold`) and none beyond 75,000 members; otherwise the bot's
    /// own member and users in voice channels. The simulator has neither presences nor voice, so a
    /// session gets every member of a small guild with GUILD_PRESENCES, and the bot's member otherwise.
    pub(crate) fn for_session(&self, intents: Intents, large_threshold: u64) -> Value {
        let count = self.full["members"].as_array().map_or(0, Vec::len);
        let large = count as u64 > large_threshold;
        let all_members =
            intents.contains(Intents::GUILD_PRESENCES) && !large && count <= MEMBERS_SENT_AT_MOST;
        let mut d = self.full.clone();
        if !all_members {
            d["members"] = json!(self.bot_member.iter().collect::<Vec<_>>());
        }
        d["large"] = json!(large);
        d
    }
}

/// The GUILD_CREATE of a guild, to address to each session with [`GuildCreate::for_session`].
pub(crate) fn guild_create(w: &World, id: Id<GuildMarker>, now: &str) -> GuildCreate {
    let bot_member = w.guilds[&id].members.get(&w.bot.id).map(to_json);
    GuildCreate {
        full: to_json(&guild_object(w, id, now)),
        bot_member,
    }
}

/// The full guild with channels, threads, every member and roles.
fn guild_object(w: &World, id: Id<GuildMarker>, now: &str) -> Guild {
    let g = &w.guilds[&id];
    let channels: Vec<_> = g
        .channel_ids
        .iter()
        .filter_map(|c| w.channels.get(c))
        .filter(|c| !is_thread(c.kind))
        .collect();
    let threads: Vec<_> = g
        .channel_ids
        .iter()
        .filter_map(|c| w.channels.get(c))
        .filter(|c| is_thread(c.kind) && !c.thread_metadata.as_ref().is_some_and(|m| m.archived))
        .collect();
    let members: Vec<_> = g.members.values().collect();
    typed(json!({
        "id": id,
        "name": g.name,
        "icon": null,
        "splash": null,
        "discovery_splash": null,
        "owner_id": g.owner_id,
        "afk_channel_id": null,
        "afk_timeout": 300,
        "verification_level": 0,
        "default_message_notifications": 1,
        "explicit_content_filter": 0,
        "roles": g.roles,
        "emojis": [],
        "features": [],
        "mfa_level": 0,
        "application_id": null,
        "system_channel_id": null,
        "system_channel_flags": 0,
        "rules_channel_id": null,
        "vanity_url_code": null,
        "description": null,
        "banner": null,
        "premium_tier": 0,
        "premium_subscription_count": 0,
        "preferred_locale": "en-US",
        "public_updates_channel_id": null,
        "nsfw_level": 0,
        "premium_progress_bar_enabled": false,
        "safety_alerts_channel_id": null,
        "stickers": [],
        "joined_at": now,
        "large": false,
        "unavailable": false,
        "member_count": members.len(),
        "voice_states": [],
        "members": members,
        "channels": channels,
        "threads": threads,
        "presences": [],
        "stage_instances": [],
        "guild_scheduled_events": [],
    }))
}

/// Serves `GET /gateway` (and `/gateway/`, which is what twilight asks for).
pub(crate) async fn ws_handler(
    State(shared): State<Arc<Shared>>,
    RawQuery(query): RawQuery,
    ws: WebSocketUpgrade,
) -> Response {
    ws.on_upgrade(move |socket| async move {
        let task = tokio::spawn(run_connection(
            shared.clone(),
            socket,
            query.unwrap_or_default(),
        ));
        shared.track(task.abort_handle());
    })
}

async fn run_connection(shared: Arc<Shared>, mut socket: WebSocket, query: String) {
    let (tx, mut rx) = mpsc::unbounded_channel();
    let heartbeat_ms =
        u64::try_from(shared.config.heartbeat_interval.as_millis()).unwrap_or(41_250);
    let conn = shared.mutate(|w| {
        w.gateway.next_conn += 1;
        let conn = w.gateway.next_conn;
        w.gateway.conns.insert(conn, Conn { tx, session: None });
        w.gateway_log.push(GatewayRecord::Connected {
            conn,
            query: query.clone(),
        });
        check_query(w, conn, &query);
        send_op(w, conn, 10, json!({"heartbeat_interval": heartbeat_ms}));
        conn
    });
    let mut shutdown = shared.shutdown.subscribe();
    let mut close_code = None;
    let mut by_discord = None;
    loop {
        tokio::select! {
            msg = socket.recv() => match msg {
                Some(Ok(WsMessage::Text(text))) => handle_frame(&shared, conn, text.as_str()),
                Some(Ok(WsMessage::Binary(_))) => shared.mutate(|w| {
                    w.violation(format!("gateway connection {conn}"), "binary frame (ETF/compressed payloads are not used with encoding=json)");
                }),
                Some(Ok(WsMessage::Close(frame))) => {
                    close_code = frame.as_ref().map(|f| f.code);
                    // As Discord does (and RFC 6455 asks), the close is answered with a close before the
                    // connection ends, so the client knows it went through (twilight waits for it). The
                    // WebSocket queued that answer when it read the close; reading on sends it (and then
                    // reports the connection closed).
                    let _ = tokio::time::timeout(std::time::Duration::from_secs(1), socket.recv()).await;
                    break;
                }
                Some(Ok(_)) => {}
                Some(Err(_)) | None => break,
            },
            cmd = rx.recv() => match cmd {
                Some(ConnCmd::Frame(text)) => {
                    if socket.send(WsMessage::Text(text.into())).await.is_err() {
                        break;
                    }
                }
                Some(ConnCmd::Close(code, reason)) => {
                    by_discord = Some(code);
                    let _ = socket
                        .send(WsMessage::Close(Some(CloseFrame { code, reason: reason.into() })))
                        .await;
                    break;
                }
                Some(ConnCmd::Abort) | None => break,
            },
            _ = shutdown.changed() => break,
        }
    }
    drop(socket);
    shared.mutate(|w| {
        w.gateway_log.push(GatewayRecord::Closed {
            conn,
            code: close_code,
            by_discord,
        });
        if let Some(c) = w.gateway.conns.remove(&conn)
            && let Some(sid) = c.session
        {
            // Closing with 1000/1001 ends the session on Discord: it cannot be resumed.
            if matches!(close_code, Some(1000 | 1001)) {
                w.gateway.sessions.remove(&sid);
            } else if let Some(s) = w.gateway.sessions.get_mut(&sid)
                && s.conn == Some(conn)
            {
                s.conn = None;
            }
        }
    });
}

fn check_query(w: &mut World, conn: u64, query: &str) {
    let params: Vec<(&str, &str)> = query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| p.split_once('=').unwrap_or((p, "")))
        .collect();
    let get = |k: &str| params.iter().find(|(n, _)| *n == k).map(|(_, v)| *v);
    let ctx = format!("gateway connection {conn}");
    if get("v") != Some("10") {
        w.violation(
            &ctx,
            format!("expected ?v=10 in the gateway URL, got {query:?}"),
        );
    }
    if get("encoding") != Some("json") {
        w.violation(
            &ctx,
            format!("expected encoding=json in the gateway URL, got {query:?}"),
        );
    }
    if let Some(c) = get("compress") {
        w.violation(
            &ctx,
            format!("the client asked for compress={c}; the simulator speaks uncompressed JSON (build twilight-gateway without zlib/zstd)"),
        );
    }
}

fn close(w: &mut World, conn: u64, code: u16, reason: &str) {
    if let Some(c) = w.gateway.conns.get(&conn) {
        let _ = c.tx.send(ConnCmd::Close(code, reason.to_owned()));
    }
}

fn token_ok(shared: &Shared, token: &str) -> bool {
    token.strip_prefix("Bot ").unwrap_or(token) == shared.config.bot_token
}

fn handle_frame(shared: &Shared, conn: u64, text: &str) {
    let ctx = format!("gateway connection {conn}");
    shared.mutate(|w| {
        let Ok(frame) = serde_json::from_str::<Value>(text) else {
            w.violation(&ctx, format!("frame is not JSON: {text:?}"));
            close(w, conn, 4002, "Error while decoding payload.");
            return;
        };
        let Some(op) = frame
            .get("op")
            .and_then(Value::as_u64)
            .and_then(|o| u8::try_from(o).ok())
        else {
            w.violation(&ctx, format!("frame without op: {text}"));
            close(w, conn, 4002, "Error while decoding payload.");
            return;
        };
        let d = frame.get("d").cloned().unwrap_or(Value::Null);
        let mut logged = d.clone();
        if let Some(t) = logged.get_mut("token") {
            *t = json!("<redacted>");
        }
        w.gateway_log.push(GatewayRecord::Frame {
            conn,
            direction: Direction::Received,
            op,
            t: None,
            s: None,
            d: Some(logged),
        });
        let session = w.gateway.conns.get(&conn).and_then(|c| c.session.clone());
        match op {
            1 => send_op(w, conn, 11, Value::Null),
            2 => identify(shared, w, conn, &ctx, session.as_deref(), d),
            3 => match serde_json::from_value::<UpdatePresencePayload>(d) {
                Ok(p) if session.is_some() => w.presences.push(p),
                Ok(_) => close(w, conn, 4003, "Not authenticated."),
                Err(e) => {
                    w.violation(
                        &ctx,
                        format!("presence update (op 3) does not match twilight-model: {e}"),
                    );
                    close(w, conn, 4002, "Error while decoding payload.");
                }
            },
            6 => resume(shared, w, conn, &ctx, session.as_deref(), d),
            // Voice state and member requests are accepted and only recorded.
            4 | 8 | 31 => {
                if session.is_none() {
                    close(w, conn, 4003, "Not authenticated.");
                }
            }
            other => {
                w.violation(&ctx, format!("unknown opcode {other}"));
                close(w, conn, 4001, "Unknown opcode.");
            }
        }
    });
}

fn identify(shared: &Shared, w: &mut World, conn: u64, ctx: &str, current: Option<&str>, d: Value) {
    if current.is_some() {
        w.violation(ctx, "IDENTIFY on an already identified connection");
        close(w, conn, 4005, "Already authenticated.");
        return;
    }
    let raw_intents = d.get("intents").and_then(Value::as_u64);
    let info = match serde_json::from_value::<IdentifyInfo>(d) {
        Ok(i) => i,
        Err(e) => {
            w.violation(ctx, format!("IDENTIFY does not match twilight-model: {e}"));
            close(w, conn, 4002, "Error while decoding payload.");
            return;
        }
    };
    if !token_ok(shared, &info.token) {
        close(w, conn, 4004, "Authentication failed.");
        return;
    }
    let shard = info.shard.map_or([0, 1], |s| [s.number(), s.total()]);
    let large_threshold = info.large_threshold.clamp(50, 250);
    if shard[0] >= shard[1] {
        close(w, conn, 4010, "Invalid shard.");
        return;
    }
    if shard[1] < shared.config.required_shards {
        close(w, conn, 4011, "Sharding required.");
        return;
    }
    if raw_intents.is_some_and(|i| Intents::from_bits(i).is_none()) {
        close(w, conn, 4013, "Invalid intent(s).");
        return;
    }
    let privileged = Intents::GUILD_MEMBERS | Intents::GUILD_PRESENCES | Intents::MESSAGE_CONTENT;
    if !shared
        .config
        .privileged_intents
        .contains(info.intents & privileged)
    {
        close(w, conn, 4014, "Disallowed intent(s).");
        return;
    }
    if let Some(p) = info.presence {
        w.presences.push(p);
    }
    let session_id = crate::webhook::hex(&rand::random::<[u8; 16]>());
    w.gateway.sessions.insert(
        session_id.clone(),
        Session {
            shard,
            intents: info.intents,
            large_threshold,
            seq: 0,
            log: Vec::new(),
            conn: Some(conn),
        },
    );
    if let Some(c) = w.gateway.conns.get_mut(&conn) {
        c.session = Some(session_id.clone());
    }
    let owned: Vec<Id<GuildMarker>> = w
        .guilds
        .keys()
        .copied()
        .filter(|g| shard_of(*g, shard[1]) == shard[0])
        .collect();
    let mut user = to_json(&w.bot);
    user["mfa_enabled"] = json!(false);
    user["verified"] = json!(true);
    let ready: Ready = typed(json!({
        "v": 10,
        "user": user,
        "guilds": owned.iter().map(|g| json!({"id": g, "unavailable": true})).collect::<Vec<_>>(),
        "session_id": session_id,
        "resume_gateway_url": shared.gateway_url(),
        "shard": shard,
        "application": {"id": w.application_id, "flags": 0},
    }));
    push_dispatch(w, &session_id, "READY", &to_json(&ready));
    if info.intents.contains(Intents::GUILDS) {
        let now = to_json(&shared.clock.timestamp());
        let now = now.as_str().unwrap_or_default().to_owned();
        for g in owned {
            let guild = guild_create(w, g, &now);
            let d = guild.for_session(info.intents, large_threshold);
            push_dispatch(w, &session_id, "GUILD_CREATE", &d);
        }
    }
}

fn resume(shared: &Shared, w: &mut World, conn: u64, ctx: &str, current: Option<&str>, d: Value) {
    if current.is_some() {
        w.violation(ctx, "RESUME on an already identified connection");
        close(w, conn, 4005, "Already authenticated.");
        return;
    }
    let info = match serde_json::from_value::<ResumeInfo>(d) {
        Ok(i) => i,
        Err(e) => {
            w.violation(ctx, format!("RESUME does not match twilight-model: {e}"));
            close(w, conn, 4002, "Error while decoding payload.");
            return;
        }
    };
    if !token_ok(shared, &info.token) {
        close(w, conn, 4004, "Authentication failed.");
        return;
    }
    let Some(last) = w.gateway.sessions.get(&info.session_id).map(|s| s.seq) else {
        send_op(w, conn, 9, json!(false));
        return;
    };
    if info.seq > last {
        w.violation(
            ctx,
            format!("RESUME with seq {} beyond the last sent ({last})", info.seq),
        );
    }
    let session = w
        .gateway
        .sessions
        .get_mut(&info.session_id)
        .expect("checked above");
    let old = session.conn.replace(conn);
    let replay: Vec<(u64, String)> = session
        .log
        .iter()
        .filter(|(s, _)| *s > info.seq)
        .cloned()
        .collect();
    if let Some(old) = old.filter(|o| *o != conn)
        && let Some(c) = w.gateway.conns.get_mut(&old)
    {
        c.session = None;
        let _ = c.tx.send(ConnCmd::Abort);
    }
    if let Some(c) = w.gateway.conns.get_mut(&conn) {
        c.session = Some(info.session_id.clone());
    }
    for (seq, frame) in replay {
        if let Some(c) = w.gateway.conns.get(&conn) {
            let _ = c.tx.send(ConnCmd::Frame(frame));
        }
        w.gateway_log.push(GatewayRecord::Frame {
            conn,
            direction: Direction::Sent,
            op: 0,
            t: Some("(replay)".to_owned()),
            s: Some(seq),
            d: None,
        });
    }
    push_dispatch(w, &info.session_id, "RESUMED", &json!({}));
}

/// Drives and inspects the gateway from a test: break connections, then check how the bot recovered.
pub struct GatewayControl {
    shared: Arc<Shared>,
}

impl GatewayControl {
    pub(crate) fn new(shared: Arc<Shared>) -> Self {
        Self { shared }
    }

    fn each_conn(&self, f: impl Fn(&mut World, u64)) -> usize {
        self.shared.mutate(|w| {
            let conns: Vec<u64> = w.gateway.conns.keys().copied().collect();
            for c in &conns {
                f(w, *c);
            }
            conns.len()
        })
    }

    /// Sends op 7 RECONNECT on every live connection; clients should reconnect and RESUME.
    /// Returns how many connections were told.
    pub fn force_reconnect(&self) -> usize {
        self.each_conn(|w, c| send_op(w, c, 7, Value::Null))
    }

    /// Sends op 9 INVALID_SESSION with `d = resumable` on every identified connection. A non-resumable
    /// invalidation also forgets the sessions, so the clients must IDENTIFY again.
    pub fn invalidate_session(&self, resumable: bool) -> usize {
        self.shared.mutate(|w| {
            let conns: Vec<(u64, Option<String>)> = w
                .gateway
                .conns
                .iter()
                .map(|(id, c)| (*id, c.session.clone()))
                .collect();
            for (c, session) in &conns {
                send_op(w, *c, 9, json!(resumable));
                if !resumable && let Some(s) = session {
                    w.gateway.sessions.remove(s);
                }
            }
            conns.len()
        })
    }

    /// Drops every connection without a close frame, like a network failure. Sessions survive, so
    /// clients can RESUME.
    pub fn disconnect(&self) -> usize {
        self.each_conn(|w, c| {
            if let Some(conn) = w.gateway.conns.get(&c) {
                let _ = conn.tx.send(ConnCmd::Abort);
            }
        })
    }

    /// Closes every connection with a close frame carrying `code` (e.g. 4000 to make clients resume,
    /// 4004 to make them give up).
    pub fn close_with(&self, code: u16, reason: &str) -> usize {
        self.each_conn(|w, c| close(w, c, code, reason))
    }

    /// Everything that happened on gateway connections.
    pub fn log(&self) -> Vec<GatewayRecord> {
        self.shared.read(|w| w.gateway_log.clone())
    }

    /// The `d` of every frame with opcode `op` received from clients (tokens redacted).
    pub fn received(&self, op: u8) -> Vec<Value> {
        self.shared.read(|w| received(w, op))
    }

    /// How many frames with opcode `op` the simulator sent.
    pub fn sent_count(&self, op: u8) -> usize {
        self.shared.read(|w| {
            w.gateway_log
                .iter()
                .filter(|r| matches!(r, GatewayRecord::Frame { direction: Direction::Sent, op: o, .. } if *o == op))
                .count()
        })
    }

    /// How many WebSocket connections were opened so far.
    pub fn connection_count(&self) -> usize {
        self.shared.read(|w| {
            w.gateway_log
                .iter()
                .filter(|r| matches!(r, GatewayRecord::Connected { .. }))
                .count()
        })
    }

    /// Number of live connections that have an identified (or resumed) session.
    pub fn live_sessions(&self) -> usize {
        self.shared.read(live_sessions)
    }

    /// `[shard_id, shard_count]` of each live session.
    pub fn live_shards(&self) -> Vec<[u32; 2]> {
        self.shared.read(|w| {
            w.gateway
                .sessions
                .values()
                .filter(|s| s.conn.is_some())
                .map(|s| s.shard)
                .collect()
        })
    }

    /// Waits (default timeout) until `n` sessions are connected.
    pub async fn wait_ready(&self, n: usize) {
        self.shared
            .wait(
                &format!("{n} connected gateway session(s)"),
                self.shared.config.default_timeout,
                |w| (live_sessions(w) >= n).then_some(()),
            )
            .await;
    }

    /// Waits (default timeout) until clients have sent `count` frames with opcode `op` in total, and
    /// returns their `d`s.
    pub async fn wait_received(&self, op: u8, count: usize) -> Vec<Value> {
        self.shared
            .wait(
                &format!("{count} gateway frame(s) with op {op} from the bot"),
                self.shared.config.default_timeout,
                |w| {
                    let r = received(w, op);
                    (r.len() >= count).then_some(r)
                },
            )
            .await
    }

    /// Waits (default timeout) until the simulator has sent `count` frames with opcode `op`.
    pub async fn wait_sent(&self, op: u8, count: usize) {
        self.shared
            .wait(
                &format!("{count} gateway frame(s) with op {op} to the bot"),
                self.shared.config.default_timeout,
                |w| {
                    let n = w
                        .gateway_log
                        .iter()
                        .filter(|r| matches!(r, GatewayRecord::Frame { direction: Direction::Sent, op: o, .. } if *o == op))
                        .count();
                    (n >= count).then_some(())
                },
            )
            .await;
    }
}

fn received(w: &World, op: u8) -> Vec<Value> {
    w.gateway_log
        .iter()
        .filter_map(|r| match r {
            GatewayRecord::Frame {
                direction: Direction::Received,
                op: o,
                d,
                ..
            } if *o == op => Some(d.clone().unwrap_or(Value::Null)),
            _ => None,
        })
        .collect()
}

fn live_sessions(w: &World) -> usize {
    w.gateway
        .sessions
        .values()
        .filter(|s| s.conn.is_some())
        .count()
}

/// An identify queue that lets every shard identify at once.
///
/// twilight-gateway's default queue spaces IDENTIFYs 5 s apart as Discord requires; the simulator does
/// not enforce that limit, so multi-shard tests use this queue
/// (`ConfigBuilder::new(..).queue(InstantQueue)`).
#[derive(Clone, Copy, Debug, Default)]
pub struct InstantQueue;

impl twilight_gateway_queue::Queue for InstantQueue {
    fn enqueue(&self, _id: u32) -> oneshot::Receiver<()> {
        let (tx, rx) = oneshot::channel();
        let _ = tx.send(());
        rx
    }
}
