//! The gateway's shards spread over three instances on one PostgreSQL database: Discord asks for three
//! shards, each instance runs one (every event reaches one instance only), and when an instance dies
//! its shard is taken over by another, which resumes the dead instance's session: a question asked
//! while nobody held the shard is replayed to the new holder and answered once.

use disconcierge_discord_sim::{DiscordSim, Via};
use disconcierge_e2e::{Backend, Crashable, World};
use std::time::{Duration, Instant};

/// Waits until `holds` is true of the live shards' `[shard, count]`s (sorted), within `within`.
async fn wait_shards(world: &World, within: Duration, holds: impl Fn(&[[u32; 2]]) -> bool) {
    let deadline = Instant::now() + within;
    loop {
        let mut live = world.discord.gateway().live_shards();
        live.sort();
        if holds(&live) {
            return;
        }
        assert!(Instant::now() < deadline, "live shards: {live:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Who holds shard `number`, as the database says (instance ids here are one letter).
async fn owner_of(world: &World, number: u32) -> char {
    let code = world
        .db
        .scalar_i64(&format!(
            "SELECT CAST(COALESCE(MAX(ascii(owner)), 0) AS BIGINT) FROM gateway_shards \
             WHERE shard_id = {number} AND owner IS NOT NULL"
        ))
        .await;
    char::from(u8::try_from(code).unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(dc_test_postgres),
    ignore = "PostgreSQL: set DC_TEST_POSTGRES_URL to run"
)]
async fn three_instances_share_the_shards_and_a_dead_ones_shard_is_resumed_elsewhere() {
    let Some(world) = World::start_with(
        Backend::Postgres,
        DiscordSim::builder().required_shards(3, 16),
    )
    .await
    else {
        return;
    };
    world.db.store.migrate().await.unwrap();
    // Guilds until every shard has one.
    let mut guilds = Vec::new();
    for n in 0.. {
        let guild = world
            .discord
            .guild(&format!("Guild {n}"))
            .member("gus")
            .text_channel("general")
            .create();
        let shard = ((guild.id().get() >> 22) % 3) as u32;
        if !guilds.iter().any(|(s, _)| *s == shard) {
            guilds.push((shard, guild));
        }
        if guilds.len() == 3 {
            break;
        }
    }
    let env = |id| {
        [
            ("DC_INSTANCE_ID", id),
            ("DC_LLM_PROVIDER", "openai-chat"),
            ("DC_DISCORD_GATEWAY_SHARD_LEASE", "2s"),
        ]
    };
    let mut instances = Vec::new();
    for id in ["a", "b", "c"] {
        instances.push((
            id.chars().next().unwrap(),
            Crashable::start(&world, &env(id)).await,
        ));
    }
    // Three shards of 3, one connection each: every event goes to one instance.
    wait_shards(&world, Duration::from_secs(30), |live| {
        live == [[0, 3], [1, 3], [2, 3]]
    })
    .await;
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let owners = world
            .db
            .scalar_i64("SELECT COUNT(DISTINCT owner) FROM gateway_shards WHERE owner IS NOT NULL")
            .await;
        if owners == 3 {
            break;
        }
        assert!(Instant::now() < deadline, "{owners} instances hold shards");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    wait_shards(&world, Duration::from_secs(30), |live| {
        live == [[0, 3], [1, 3], [2, 3]]
    })
    .await;
    assert_eq!(
        world.discord.gateway().live_sessions(),
        3,
        "one connection per shard"
    );
    // Every guild is answered, whichever instance holds its shard.
    for (shard, guild) in &guilds {
        let chat = world
            .discord
            .user(guild.user("gus"))
            .run_slash_command(
                guild.channel("general"),
                "chat",
                [("prompt", format!("hello shard {shard}"))],
                Via::Gateway,
            )
            .await;
        chat.wait_original(|m| m.content.contains("Commands used"))
            .await;
    }

    // Kill the holder of shard 0 (no goodbye: its connection just drops), and ask in its guild at once.
    let (shard, guild) = guilds.iter().find(|(s, _)| *s == 0).unwrap();
    let victim = owner_of(&world, *shard).await;
    let resumes_before = world.discord.gateway().received(6).len();
    let killed = Instant::now();
    let at = instances
        .iter()
        .position(|(id, _)| *id == victim)
        .unwrap_or_else(|| panic!("shard 0 held by {victim:?}"));
    instances.remove(at).1.crash();
    let chat = world
        .discord
        .user(guild.user("gus"))
        .run_slash_command(
            guild.channel("general"),
            "chat",
            [("prompt", "anyone there?")],
            Via::Gateway,
        )
        .await;
    let answer = chat
        .wait_original(|m| m.content.contains("Commands used"))
        .await;
    eprintln!(
        "shard 0's holder killed: the question asked in the gap was answered after {:?} (lease 2 s)",
        killed.elapsed()
    );
    assert!(chat.followups().is_empty(), "answered once: {answer:?}");
    let resumes = world.discord.gateway().received(6);
    assert!(
        resumes.len() > resumes_before,
        "the new holder resumed the dead one's session"
    );
    let new_owner = owner_of(&world, 0).await;
    assert_ne!(new_owner, victim);
    wait_shards(&world, Duration::from_secs(10), |live| {
        live == [[0, 3], [1, 3], [2, 3]]
    })
    .await;
    world.discord.assert_no_violations();
    for (_, instance) in instances {
        instance.crash();
    }
}
