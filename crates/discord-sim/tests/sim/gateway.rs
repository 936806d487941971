//! A real `twilight_gateway::Shard` against the simulated gateway.

use std::time::Duration;

use disconcierge_discord_sim::{DiscordSim, GatewayRecord, Via};
use twilight_gateway::{Event, Intents};
use twilight_model::application::interaction::InteractionData;
use twilight_model::gateway::payload::outgoing::UpdatePresence;
use twilight_model::gateway::presence::{ActivityType, MinimalActivity, Status};

use crate::common::{Pump, http, register_chat, shard};

async fn fast_sim() -> DiscordSim {
    DiscordSim::builder()
        .heartbeat_interval(Duration::from_millis(100))
        .start()
        .await
}

const INTENTS: Intents = Intents::GUILDS
    .union(Intents::GUILD_MESSAGES)
    .union(Intents::DIRECT_MESSAGES)
    .union(Intents::MESSAGE_CONTENT);

/// The next GUILD_CREATE's guild, which must be available.
async fn next_guild(pump: &mut Pump) -> twilight_model::guild::Guild {
    let created = pump
        .expect("GUILD_CREATE", |e| match e {
            Event::GuildCreate(g) => Some(g.clone()),
            _ => None,
        })
        .await;
    let twilight_model::gateway::payload::incoming::GuildCreate::Available(g) = *created else {
        panic!("guild unavailable");
    };
    g
}

/// GUILD_CREATE carries a guild's members as Discord decides: all of a small guild's to a session with
/// GUILD_PRESENCES, only the bot's once the guild has more members than IDENTIFY's `large_threshold`.
#[tokio::test]
async fn guild_create_carries_members_only_with_presences_and_in_small_guilds() {
    let sim = fast_sim().await;
    let small = sim
        .guild("Small")
        .member("alice")
        .text_channel("general")
        .create();
    let mut large = sim.guild("Large");
    for i in 0..60 {
        large = large.member(&format!("m{i}"));
    }
    let large = large.text_channel("general").create();
    let mut pump = Pump::start(shard(&sim, 0, 1, INTENTS | Intents::GUILD_PRESENCES));
    let mut seen = std::collections::HashMap::new();
    for _ in 0..2 {
        let g = next_guild(&mut pump).await;
        seen.insert(g.id, g);
    }
    let small = &seen[&small.id()];
    assert!(!small.large);
    let mut names: Vec<_> = small.members.iter().map(|m| m.user.name.clone()).collect();
    names.sort();
    assert_eq!(names.len(), 3, "{names:?}");
    assert!(names.contains(&"alice".to_owned()));
    let large = &seen[&large.id()];
    assert!(
        large.large,
        "61+ members is over the default large_threshold of 50"
    );
    let members: Vec<_> = large.members.iter().map(|m| m.user.id).collect();
    assert_eq!(members, [sim.bot_user_id()]);
    assert_eq!(large.member_count, Some(62));
}

#[tokio::test]
async fn shard_gets_ready_and_guild_create_and_heartbeats_are_acked() {
    let sim = fast_sim().await;
    let guild = sim
        .guild("Test Guild")
        .member("alice")
        .text_channel("general")
        .forum("support", &["bug"])
        .create();
    let mut pump = Pump::start(shard(&sim, 0, 1, INTENTS));

    let ready = pump
        .expect("READY", |e| match e {
            Event::Ready(r) => Some(r.clone()),
            _ => None,
        })
        .await;
    assert_eq!(ready.user.id, sim.bot_user_id());
    assert_eq!(ready.application.id, sim.application_id());
    assert_eq!(ready.resume_gateway_url, sim.gateway_url());
    assert_eq!(ready.guilds.len(), 1);
    assert_eq!(ready.guilds[0].id, guild.id());
    assert_eq!(ready.shard.map(|s| (s.number(), s.total())), Some((0, 1)));

    let g = next_guild(&mut pump).await;
    assert_eq!(g.id, guild.id());
    assert_eq!(g.name, "Test Guild");
    let names: Vec<_> = g.channels.iter().filter_map(|c| c.name.clone()).collect();
    assert_eq!(names, ["general", "support"]);
    // Without GUILD_PRESENCES, Discord sends the bot's own member (and users in voice) only.
    let members: Vec<_> = g.members.iter().map(|m| m.user.id).collect();
    assert_eq!(members, [sim.bot_user_id()]);
    assert_eq!(g.member_count, Some(3), "the owner, alice and the bot");

    // Five heartbeats on one connection: twilight reconnects when an ACK is missing, so a single
    // connection proves every heartbeat was acknowledged.
    sim.gateway().wait_received(1, 5).await;
    sim.gateway().wait_sent(11, 5).await;
    assert_eq!(sim.gateway().connection_count(), 1);
    let identifies = sim.gateway().received(2);
    assert_eq!(identifies.len(), 1);
    assert_eq!(
        identifies[0]["token"], "<redacted>",
        "tokens are not kept in the log"
    );
    assert_eq!(identifies[0]["intents"], INTENTS.bits());
    let query = sim
        .gateway()
        .log()
        .into_iter()
        .find_map(|r| match r {
            GatewayRecord::Connected { query, .. } => Some(query),
            _ => None,
        })
        .unwrap();
    assert_eq!(query, "v=10&encoding=json", "no compression requested");
    sim.assert_no_violations();
}

#[tokio::test]
async fn interaction_create_reaches_the_shard() {
    let sim = fast_sim().await;
    let guild = sim
        .guild("Test Guild")
        .member("alice")
        .text_channel("general")
        .create();
    let client = http(&sim);
    register_chat(&sim, &client).await;
    let mut pump = Pump::start(shard(&sim, 0, 1, INTENTS));
    sim.gateway().wait_ready(1).await;

    let handle = sim
        .user(guild.user("alice"))
        .run_slash_command(
            guild.channel("general"),
            "chat",
            [("prompt", "hi")],
            Via::Gateway,
        )
        .await;
    let interaction = pump
        .expect("INTERACTION_CREATE", |e| match e {
            Event::InteractionCreate(i) => Some(i.0.clone()),
            _ => None,
        })
        .await;
    assert_eq!(interaction.id, handle.id());
    assert_eq!(interaction.token, handle.token());
    assert_eq!(interaction.guild_id, Some(guild.id()));
    assert_eq!(
        interaction.channel.as_ref().map(|c| c.id),
        Some(guild.channel("general"))
    );
    let member = interaction
        .member
        .expect("guild interactions carry the member");
    assert_eq!(member.user.unwrap().name, "alice");
    assert!(member.permissions.is_some());
    assert!(interaction.app_permissions.is_some());
    let Some(InteractionData::ApplicationCommand(data)) = interaction.data else {
        panic!("command data");
    };
    assert_eq!(data.name, "chat");
    assert_eq!(data.options[0].name, "prompt");
    assert_eq!(
        data.options[0].value,
        twilight_model::application::interaction::application_command::CommandOptionValue::String(
            "hi".into()
        )
    );
}

/// After op 7 RECONNECT the shard must RESUME (op 6, not a second IDENTIFY) and get the events
/// dispatched meanwhile.
#[tokio::test]
async fn force_reconnect_resumes_and_replays_missed_events() {
    let sim = fast_sim().await;
    let guild = sim
        .guild("G")
        .member("alice")
        .text_channel("general")
        .create();
    let mut pump = Pump::start(shard(&sim, 0, 1, INTENTS));
    pump.expect("READY", |e| matches!(e, Event::Ready(_)).then_some(()))
        .await;
    sim.gateway().wait_ready(1).await;

    assert_eq!(sim.gateway().force_reconnect(), 1);
    sim.user(guild.user("alice"))
        .post_message(guild.channel("general"), "sent while reconnecting");

    let msg = pump
        .expect("the MESSAGE_CREATE", |e| match e {
            Event::MessageCreate(m) => Some(m.content.clone()),
            _ => None,
        })
        .await;
    assert_eq!(msg, "sent while reconnecting");
    pump.expect("RESUMED", |e| matches!(e, Event::Resumed).then_some(()))
        .await;
    assert_eq!(sim.gateway().received(6).len(), 1, "one RESUME");
    assert_eq!(sim.gateway().received(2).len(), 1, "no second IDENTIFY");
    assert_eq!(sim.gateway().connection_count(), 2);
    // Exactly once: a replayed duplicate would show up here.
    pump.expect_none(Duration::from_millis(300), |e| {
        matches!(e, Event::MessageCreate(_))
    })
    .await;
}

/// A dropped connection (no close frame) is resumed too, and an event dispatched while the bot was
/// away is replayed.
#[tokio::test]
async fn abrupt_disconnect_resumes_and_replays() {
    let sim = fast_sim().await;
    let guild = sim
        .guild("G")
        .member("alice")
        .text_channel("general")
        .create();
    let mut pump = Pump::start(shard(&sim, 0, 1, INTENTS));
    pump.expect("READY", |e| matches!(e, Event::Ready(_)).then_some(()))
        .await;
    sim.gateway().wait_ready(1).await;

    sim.gateway().disconnect();
    // Wait until the simulator saw the connection end, so the event is dispatched while the session
    // has no connection and can only arrive through replay.
    sim.wait_for(Duration::from_secs(5), |w| {
        w.gateway_log
            .iter()
            .any(|r| matches!(r, GatewayRecord::Closed { .. }))
            .then_some(())
    })
    .await;
    let before = sim.gateway().received(6).len();
    assert_eq!(before, 0);
    sim.user(guild.user("alice"))
        .post_message(guild.channel("general"), "while away");

    let msg = pump
        .expect("the replayed MESSAGE_CREATE", |e| match e {
            Event::MessageCreate(m) => Some(m.content.clone()),
            _ => None,
        })
        .await;
    assert_eq!(msg, "while away");
    assert_eq!(sim.gateway().received(6).len(), 1);
    assert_eq!(sim.gateway().received(2).len(), 1);
    assert!(
        sim.gateway().log().iter().any(|r| matches!(
            r,
            GatewayRecord::Frame { t: Some(t), .. } if t == "(replay)"
        )),
        "the event came through RESUME replay"
    );
}

/// op 9 with `d: false` forgets the session: the shard must IDENTIFY again.
#[tokio::test]
async fn non_resumable_invalid_session_makes_the_shard_identify_again() {
    let sim = fast_sim().await;
    sim.guild("G").create();
    let mut pump = Pump::start(shard(&sim, 0, 1, INTENTS));
    pump.expect("READY", |e| matches!(e, Event::Ready(_)).then_some(()))
        .await;
    sim.gateway().wait_ready(1).await;

    sim.gateway().invalidate_session(false);
    pump.expect("a second READY", |e| {
        matches!(e, Event::Ready(_)).then_some(())
    })
    .await;
    assert_eq!(sim.gateway().received(2).len(), 2);
    assert_eq!(sim.gateway().received(6).len(), 0);
}

/// Guilds go to shard `(guild_id >> 22) % shard_count`, and so do their events.
#[tokio::test]
async fn shards_get_only_their_guilds() {
    let sim = fast_sim().await;
    let mut guilds = Vec::new();
    for i in 0..8 {
        let g = sim
            .guild(&format!("G{i}"))
            .member("alice")
            .text_channel("general")
            .create();
        guilds.push(g);
    }
    let shard_of = |g: &disconcierge_discord_sim::GuildHandle| (g.id().get() >> 22) % 2;
    assert!(guilds.iter().any(|g| shard_of(g) == 0) && guilds.iter().any(|g| shard_of(g) == 1));

    let mut pumps = [
        Pump::start(shard(&sim, 0, 2, INTENTS)),
        Pump::start(shard(&sim, 1, 2, INTENTS)),
    ];
    for (id, pump) in pumps.iter_mut().enumerate() {
        let ready = pump
            .expect("READY", |e| match e {
                Event::Ready(r) => Some(r.clone()),
                _ => None,
            })
            .await;
        let mut got: Vec<_> = ready.guilds.iter().map(|g| g.id).collect();
        let mut want: Vec<_> = guilds
            .iter()
            .filter(|g| shard_of(g) == id as u64)
            .map(|g| g.id())
            .collect();
        got.sort();
        want.sort();
        assert_eq!(got, want, "shard {id}");
        for _ in 0..want.len() {
            let g = pump
                .expect("GUILD_CREATE", |e| match e {
                    Event::GuildCreate(g) => Some(g.id()),
                    _ => None,
                })
                .await;
            assert!(want.contains(&g), "shard {id} got a foreign guild");
        }
    }
    let mut shards = sim.gateway().live_shards();
    shards.sort();
    assert_eq!(shards, [[0, 2], [1, 2]]);

    // A message in a shard-1 guild reaches shard 1 only.
    let g1 = guilds.iter().find(|g| shard_of(g) == 1).unwrap();
    sim.user(g1.user("alice"))
        .post_message(g1.channel("general"), "for shard 1");
    let content = pumps[1]
        .expect("MESSAGE_CREATE on shard 1", |e| match e {
            Event::MessageCreate(m) => Some(m.content.clone()),
            _ => None,
        })
        .await;
    assert_eq!(content, "for shard 1");
    pumps[0]
        .expect_none(Duration::from_millis(300), |e| {
            matches!(e, Event::MessageCreate(_))
        })
        .await;
}

#[tokio::test]
async fn presence_updates_are_recorded() {
    let sim = fast_sim().await;
    let pump = Pump::start(shard(&sim, 0, 1, INTENTS));
    sim.gateway().wait_ready(1).await;
    let activity = MinimalActivity {
        kind: ActivityType::Listening,
        name: "support questions".into(),
        url: None,
    };
    let update = UpdatePresence::new(vec![activity.into()], false, None, Status::Idle).unwrap();
    pump.sender.command(&update).unwrap();
    let presences = sim
        .wait_for(Duration::from_secs(5), |w| {
            (!w.presences.is_empty()).then(|| w.presences.clone())
        })
        .await;
    assert_eq!(presences[0].status, Status::Idle);
    assert_eq!(presences[0].activities[0].name, "support questions");
}

/// Without the MESSAGE_CONTENT intent Discord blanks other people's messages unless they mention the
/// bot; a bot relying on content must ask for the intent.
#[tokio::test]
async fn message_content_needs_the_intent() {
    let sim = fast_sim().await;
    let guild = sim
        .guild("G")
        .member("alice")
        .text_channel("general")
        .create();
    let mut pump = Pump::start(shard(&sim, 0, 1, Intents::GUILDS | Intents::GUILD_MESSAGES));
    sim.gateway().wait_ready(1).await;
    let alice = sim.user(guild.user("alice"));
    alice.post_message(guild.channel("general"), "secret");
    let blank = pump
        .expect("MESSAGE_CREATE", |e| match e {
            Event::MessageCreate(m) => Some(m.content.clone()),
            _ => None,
        })
        .await;
    assert_eq!(blank, "");
    let mention = format!("<@{}> help", sim.bot_user_id());
    alice.post_message(guild.channel("general"), &mention);
    let visible = pump
        .expect("MESSAGE_CREATE", |e| match e {
            Event::MessageCreate(m) => Some(m.message.clone()),
            _ => None,
        })
        .await;
    assert_eq!(visible.content, mention);
    assert_eq!(visible.mentions[0].id, sim.bot_user_id());
}

/// A reply to the bot's message carries the message it replies to and mentions the bot (Discord's default
/// reply ping), so its content reaches a bot without the MESSAGE_CONTENT intent.
#[tokio::test]
async fn replies_carry_the_referenced_message_and_mention_its_author() {
    let sim = fast_sim().await;
    let guild = sim
        .guild("G")
        .member("alice")
        .text_channel("general")
        .create();
    let client = http(&sim);
    let answer = client
        .create_message(guild.channel("general"))
        .content("an answer")
        .await
        .unwrap()
        .model()
        .await
        .unwrap();
    let mut pump = Pump::start(shard(&sim, 0, 1, Intents::GUILDS | Intents::GUILD_MESSAGES));
    sim.gateway().wait_ready(1).await;
    let reply = sim
        .user(guild.user("alice"))
        .reply(&answer, "that is not right");
    let seen = pump
        .expect("MESSAGE_CREATE", |e| match e {
            Event::MessageCreate(m) if m.id == reply.id => Some(m.message.clone()),
            _ => None,
        })
        .await;
    assert_eq!(seen.content, "that is not right");
    assert_eq!(
        seen.kind,
        twilight_model::channel::message::MessageType::Reply
    );
    assert_eq!(
        seen.referenced_message.as_ref().map(|m| m.id),
        Some(answer.id)
    );
    assert_eq!(
        seen.referenced_message.as_ref().map(|m| m.author.id),
        Some(sim.bot_user_id())
    );
    assert!(seen.mentions.iter().any(|m| m.id == sim.bot_user_id()));
}

#[tokio::test]
async fn privileged_intents_not_enabled_close_with_4014() {
    let sim = DiscordSim::builder()
        .privileged_intents(Intents::empty())
        .start()
        .await;
    let mut pump = Pump::start(shard(&sim, 0, 1, INTENTS));
    let code = pump
        .expect("the close frame", |e| match e {
            Event::GatewayClose(Some(f)) => Some(f.code),
            _ => None,
        })
        .await;
    assert_eq!(code, 4014);
}

/// A forum post made over REST reaches the shard as THREAD_CREATE then the starter MESSAGE_CREATE.
#[tokio::test]
async fn forum_posts_dispatch_thread_create_and_the_starter_message() {
    let sim = fast_sim().await;
    let guild = sim.guild("G").forum("support", &["bug"]).create();
    let mut pump = Pump::start(shard(&sim, 0, 1, INTENTS));
    sim.gateway().wait_ready(1).await;
    let forum = guild.channel("support");
    let client = http(&sim);
    let post = client
        .create_forum_thread(forum, "Help")
        .message()
        .content("first post")
        .await
        .unwrap()
        .model()
        .await
        .unwrap();
    let thread = pump
        .expect("THREAD_CREATE", |e| match e {
            Event::ThreadCreate(t) => Some(t.0.clone()),
            _ => None,
        })
        .await;
    assert_eq!(thread.id, post.channel.id);
    assert_eq!(thread.parent_id, Some(forum));
    assert_eq!(thread.newly_created, Some(true));
    let starter = pump
        .expect("MESSAGE_CREATE", |e| match e {
            Event::MessageCreate(m) => Some(m.message.clone()),
            _ => None,
        })
        .await;
    assert_eq!(starter.id.get(), thread.id.get());
    assert_eq!(
        starter.author.id,
        sim.bot_user_id(),
        "bots see their own messages too"
    );
}
