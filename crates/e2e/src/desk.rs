//! Helpers for the support desk's end-to-end tests (`tests/desk.rs`, `tests/desk_commands.rs`): an
//! application with the intents tickets need, a guild with staff and members, and the steps members
//! take (set up, post a panel, open a ticket) with what they then see.

use crate::{Backend, TestApp, try_spawn_app};
use disconcierge_discord_sim::twilight_model::channel::Message;
use disconcierge_discord_sim::twilight_model::channel::message::{Component, MessageFlags};
use disconcierge_discord_sim::twilight_model::guild::Permissions;
use disconcierge_discord_sim::twilight_model::http::interaction::InteractionResponseType;
use disconcierge_discord_sim::twilight_model::id::Id;
use disconcierge_discord_sim::twilight_model::id::marker::ChannelMarker;
use disconcierge_discord_sim::{Actor, GuildHandle, InteractionHandle, Method, OptionValue, Via};
use disconcierge_llm_sim::Endpoint;
use std::time::Duration;

/// DisConcierge's default intents plus MESSAGE_CONTENT, which tickets need.
pub const INTENTS: &str = "3276541";

pub async fn desk_app(backend: Backend) -> Option<TestApp> {
    let app = try_spawn_app(
        backend,
        &[
            ("DC_LLM_PROVIDER", "openai-chat"),
            ("DC_DISCORD_GATEWAY_INTENTS", INTENTS),
            ("DC_DISCORD_WEBHOOK_SERVER_ENABLED", "true"),
        ],
    )
    .await?;
    app.discord.gateway().wait_ready(1).await;
    Some(app)
}

/// A guild with an owner (olga), staff (sam, role Staff), a moderator who is not staff (hank), a server
/// manager by role who is not the owner (mia), two members (ann, bob), a forum and a log channel.
pub fn guild(app: &TestApp, name: &str) -> GuildHandle {
    guild_in(&app.discord, name)
}

/// [`guild`] in a Discord the application does not run against yet.
pub fn guild_in(discord: &disconcierge_discord_sim::DiscordSim, name: &str) -> GuildHandle {
    discord
        .guild(name)
        .member("olga")
        .owner("olga")
        .role("Staff", Permissions::MANAGE_MESSAGES)
        .role("Helpers", Permissions::MANAGE_MESSAGES)
        .role("Managers", Permissions::MANAGE_GUILD)
        .member_with_roles("sam", &["Staff"])
        .member_with_roles("hank", &["Helpers"])
        .member_with_roles("mia", &["Managers"])
        .member("ann")
        .member("bob")
        .text_channel("general")
        .text_channel("ticket-log")
        .forum("tickets", &["Billing", "Technical"])
        .create()
}

pub fn actor(app: &TestApp, g: &GuildHandle, name: &str) -> Actor {
    app.discord.user(g.user(name))
}

pub fn webhook(app: &TestApp) -> Via {
    Via::Webhook {
        url: app.webhook_url.clone().expect("webhook enabled"),
    }
}

pub async fn slash(
    who: &Actor,
    channel: Id<ChannelMarker>,
    name: &str,
    options: Vec<(&str, OptionValue)>,
) -> InteractionHandle {
    who.run_slash_command(channel, name, options, Via::Gateway)
        .await
}

/// The text the member sees: the immediate message, or the deferred response once written.
pub async fn answer_of(handle: &InteractionHandle) -> String {
    let ack = handle.wait_ack().await;
    match ack.response.kind {
        InteractionResponseType::ChannelMessageWithSource
        | InteractionResponseType::UpdateMessage => ack
            .response
            .data
            .and_then(|d| d.content)
            .unwrap_or_default(),
        _ => {
            handle
                .wait_original(|m| !m.content.is_empty())
                .await
                .content
        }
    }
}

pub fn is_ephemeral(m: &Message) -> bool {
    m.flags
        .unwrap_or(MessageFlags::empty())
        .contains(MessageFlags::EPHEMERAL)
}

pub async fn setup(app: &TestApp, g: &GuildHandle) {
    let olga = actor(app, g, "olga");
    let done = slash(
        &olga,
        g.channel("general"),
        "setup",
        vec![
            ("forum_channel", g.channel("tickets").into()),
            ("staff_role", g.role("Staff").into()),
            ("log_channel", g.channel("ticket-log").into()),
            ("instructions", "We sell tea.".into()),
        ],
    )
    .await;
    let text = answer_of(&done).await;
    assert!(text.starts_with("Support tickets are set up"), "{text}");
    assert!(!text.contains("Message Content"), "{text}");
}

/// `/setup` by the owner in `g` with the forum and the staff role, and `options` besides; returns what it
/// said.
pub async fn setup_with(
    app: &TestApp,
    g: &GuildHandle,
    options: Vec<(&str, OptionValue)>,
) -> String {
    let olga = actor(app, g, "olga");
    let mut all: Vec<(&str, OptionValue)> = vec![
        ("forum_channel", g.channel("tickets").into()),
        ("staff_role", g.role("Staff").into()),
    ];
    all.extend(options);
    answer_of(&slash(&olga, g.channel("general"), "setup", all).await).await
}

/// Posts a panel in #general and returns its message.
pub async fn panel(app: &TestApp, g: &GuildHandle) -> Message {
    let olga = actor(app, g, "olga");
    let posted = slash(
        &olga,
        g.channel("general"),
        "ticket_panel",
        vec![
            ("title", "Need help?".into()),
            ("description", "Pick a category.".into()),
            ("categories", "Billing, Technical, Other".into()),
        ],
    )
    .await;
    assert!(answer_of(&posted).await.starts_with("Panel posted"));
    let general = g.channel("general");
    app.discord
        .try_wait_for(Duration::from_secs(10), |w| {
            w.messages_in(general)
                .into_iter()
                .find(|m| m.content.contains("**Need help?**"))
                .cloned()
        })
        .await
        .unwrap_or_else(|report| panic!("no panel: {report}"))
}

/// Clicks a panel's category and returns the ticket's thread.
pub async fn open(who: &Actor, panel: &Message, category: &str) -> Id<ChannelMarker> {
    let click = who
        .click_button(panel.id, &format!("dct:open:{category}"), Via::Gateway)
        .await;
    let text = answer_of(&click).await;
    let id = text
        .strip_prefix("Your ticket is open: <#")
        .and_then(|r| r.strip_suffix('>'))
        .unwrap_or_else(|| panic!("{text}"));
    Id::new(id.parse().unwrap())
}

/// The system messages of the Chat Completions requests the LLM got, in order.
pub fn chat_requests(app: &TestApp) -> Vec<serde_json::Value> {
    app.llm
        .requests_to(Endpoint::ChatCompletions)
        .into_iter()
        .filter_map(|r| r.body)
        .collect()
}

pub fn system_message(request: &serde_json::Value) -> String {
    request["messages"][0]["content"]
        .as_str()
        .expect("a system message")
        .to_string()
}

/// Waits until the bot has posted `n` messages in `thread` (final ones, not streaming previews; replies
/// to interactions that only their author sees are not posts), returning the last.
pub async fn wait_bot_messages(app: &TestApp, thread: Id<ChannelMarker>, n: usize) -> Message {
    let bot = app.discord.bot_user_id();
    app.discord
        .try_wait_for(Duration::from_secs(10), |w| {
            let mine: Vec<_> = w
                .messages_in(thread)
                .into_iter()
                .filter(|m| m.author.id == bot && !m.content.ends_with(" …") && !is_ephemeral(m))
                .cloned()
                .collect();
            (mine.len() >= n).then(|| mine.last().cloned()).flatten()
        })
        .await
        .unwrap_or_else(|report| panic!("the bot did not post {n} messages: {report}"))
}

pub fn bot_message_count(app: &TestApp, thread: Id<ChannelMarker>) -> usize {
    let bot = app.discord.bot_user_id();
    app.discord
        .messages_in(thread)
        .iter()
        .filter(|m| m.author.id == bot && !is_ephemeral(m))
        .count()
}

/// Whether the button `custom_id` on `m` is disabled; panics when there is no such button.
pub fn disabled(m: &Message, custom_id: &str) -> bool {
    fn find(components: &[Component], custom_id: &str) -> Option<bool> {
        components.iter().find_map(|c| match c {
            Component::ActionRow(row) => find(&row.components, custom_id),
            Component::Button(b) if b.custom_id.as_deref() == Some(custom_id) => Some(b.disabled),
            _ => None,
        })
    }
    find(&m.components, custom_id).unwrap_or_else(|| {
        panic!(
            "no button {custom_id:?} on {:?}: {:#?}",
            m.content, m.components
        )
    })
}

pub async fn ticket_id(app: &TestApp, thread: Id<ChannelMarker>) -> i64 {
    app.db()
        .scalar_i64(&format!(
            "SELECT id FROM tickets WHERE thread_id = {}",
            thread.get() as i64
        ))
        .await
}

/// Waits until `sql` counts `n`.
pub async fn wait_count(app: &TestApp, sql: &str, n: i64) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let count = app.db().scalar_i64(sql).await;
        if count == n {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{sql}: {count}, expected {n}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Trains `question` → `answer` (optionally in `category`) and returns the entry's id.
pub async fn train(
    who: &Actor,
    channel: Id<ChannelMarker>,
    question: &str,
    answer: &str,
    category: Option<&str>,
) -> i64 {
    let mut options: Vec<(&str, OptionValue)> =
        vec![("question", question.into()), ("answer", answer.into())];
    if let Some(c) = category {
        options.push(("category", c.into()));
    }
    let text = answer_of(&slash(who, channel, "train", options).await).await;
    text.strip_prefix("Trained answer #")
        .and_then(|r| r.split_once(' '))
        .and_then(|(id, _)| id.parse().ok())
        .unwrap_or_else(|| panic!("{text}"))
}

/// GET requests the bot made for a file attached to a command (the simulated CDN), by file name.
pub fn downloads_of(app: &TestApp, filename: &str) -> usize {
    app.discord
        .requests_to(
            Method::GET,
            "/ephemeral-attachments/{channel}/{attachment}/{filename}",
        )
        .iter()
        .filter(|r| r.path.ends_with(&format!("/{filename}")))
        .count()
}

/// Waits for a message in `channel` that satisfies `pred` (which must not call the simulator).
pub async fn wait_message(
    app: &TestApp,
    channel: Id<ChannelMarker>,
    mut pred: impl FnMut(&Message) -> bool,
) -> Message {
    app.discord
        .try_wait_for(Duration::from_secs(10), |w| {
            w.messages_in(channel)
                .into_iter()
                .find(|m| pred(m))
                .cloned()
        })
        .await
        .unwrap_or_else(|report| panic!("no such message in {channel}: {report}"))
}

/// The bot's messages in `channel`.
pub fn bot_messages(app: &TestApp, channel: Id<ChannelMarker>) -> Vec<Message> {
    let bot = app.discord.bot_user_id();
    app.discord
        .messages_in(channel)
        .into_iter()
        .filter(|m| m.author.id == bot)
        .collect()
}

/// Whether `m` has a button whose custom id contains `prefix`.
pub fn has_button(m: &Message, prefix: &str) -> bool {
    serde_json::to_string(&m.components)
        .unwrap()
        .contains(prefix)
}
