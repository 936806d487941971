//! `DC_DISCORD_GATEWAY_SHARDS`: the shard count an admin sets wins over Discord's recommendation, with
//! one process running every shard (SQLite) and with the shards held through leases (PostgreSQL); every
//! guild is answered whichever shard it is on.

use disconcierge_discord_sim::Via;
use disconcierge_e2e::{Backend, World, spawn_app_in};
use std::time::{Duration, Instant};

disconcierge_e2e::both!(the_shard_count_set_by_the_admin_is_the_one_run);
async fn the_shard_count_set_by_the_admin_is_the_one_run(backend: Backend) {
    let Some(world) = World::start(backend).await else {
        return;
    };
    // Guilds until both shards of 2 have one.
    let mut guilds = Vec::new();
    for n in 0.. {
        let guild = world
            .discord
            .guild(&format!("Guild {n}"))
            .member("gus")
            .text_channel("general")
            .create();
        let shard = (guild.id().get() >> 22) % 2;
        if !guilds.iter().any(|(s, _)| *s == shard) {
            guilds.push((shard, guild));
        }
        if guilds.len() == 2 {
            break;
        }
    }
    let app = spawn_app_in(
        world,
        &[
            ("DC_LLM_PROVIDER", "openai-chat"),
            ("DC_DISCORD_GATEWAY_SHARDS", "2"),
        ],
    )
    .await;
    // Discord recommends 1 (the simulator's default): the two asked for run.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let mut live = app.discord.gateway().live_shards();
        live.sort();
        if live == [[0, 2], [1, 2]] {
            break;
        }
        assert!(Instant::now() < deadline, "live shards: {live:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    for (shard, guild) in &guilds {
        let chat = app
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
    app.discord.assert_no_violations();
    app.stop().await;
}
