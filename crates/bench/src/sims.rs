//! The simulators on their own, for a deployment tried on this machine (`scripts/cluster.sh`): a
//! simulated Discord (a server with members) and a simulated OpenAI-compatible model, in this process,
//! until the questions are answered.
//!
//! ```text
//! disconcierge-bench sims --env-out sims.env --ask-via http://127.0.0.1:8001/discord/interactions \
//!                         [--questions 12]
//! ```
//!
//! It writes the `DC_*` variables that point an instance at the simulators to `--env-out`, waits until
//! the bot has connected to the gateway and registered its commands and `--ask-via` answers, then has `--questions` members ask
//! `/chat` through `--ask-via` (a load balancer in front of the instances' webhook listeners) and prints
//! who answered and how fast. It fails if a question goes unanswered.

use crate::Options;
use crate::stats::{Summary, ms};
use disconcierge_discord_sim::{DiscordSim, Via};
use disconcierge_llm_sim::LlmSim;
use std::time::Duration;
use tokio::time::Instant;

const OPENAI_KEY: &str = "sk-demo";

pub async fn run(options: &Options) -> Result<(), String> {
    let env_out = options
        .env_out
        .as_ref()
        .ok_or("--env-out FILE is required: where to write the variables for the instances")?;
    let ask_via = options
        .ask_via
        .as_ref()
        .ok_or("--ask-via URL is required: the webhook endpoint behind the load balancer")?;
    let discord = DiscordSim::builder()
        .default_timeout(Duration::from_secs(120))
        .start()
        .await;
    let llm = LlmSim::builder().api_key(OPENAI_KEY).start().await;
    let mut guild = discord.guild("Demo");
    for n in 0..options.questions {
        guild = guild.member(&format!("member{n}"));
    }
    let guild = guild.text_channel("general").create();
    let env = [
        ("DC_DISCORD_TOKEN", discord.bot_token()),
        ("DC_DISCORD_API_BASE_URL", discord.api_base_url()),
        ("DC_DISCORD_GATEWAY_URL", discord.gateway_url()),
        (
            "DC_DISCORD_WEBHOOK_SERVER_PUBLIC_KEY",
            discord.public_key_hex(),
        ),
        ("DC_LLM_PROVIDER", "openai-chat".into()),
        ("DC_OPENAI_TOKEN", OPENAI_KEY.into()),
        ("DC_OPENAI_BASE_URL", llm.openai_base_url()),
    ];
    let text: String = env.iter().map(|(k, v)| format!("{k}={v}\n")).collect();
    // Written whole under another name, then renamed: the script waits for the file to appear.
    let partial = env_out.with_extension("partial");
    std::fs::write(&partial, text).map_err(|e| format!("{}: {e}", partial.display()))?;
    std::fs::rename(&partial, env_out).map_err(|e| format!("{}: {e}", env_out.display()))?;
    println!("simulators up; their settings are in {}", env_out.display());

    discord.gateway().wait_ready(1).await;
    discord
        .wait_for(Duration::from_secs(60), |w| {
            (!w.global_commands.is_empty()).then_some(())
        })
        .await;
    // The load balancer may start after the instances: wait until it answers at all.
    let client = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    while client.get(ask_via.as_str()).send().await.is_err() {
        if Instant::now() > deadline {
            return Err(format!("nothing answers at {ask_via} within 60 s"));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    println!(
        "the bot is connected (gateway shards live: {:?}); asking {} questions through {ask_via}",
        discord.gateway().live_shards(),
        options.questions
    );
    let started = Instant::now();
    let mut asked = tokio::task::JoinSet::new();
    for n in 0..options.questions {
        let member = discord.user(guild.user(&format!("member{n}")));
        let channel = guild.channel("general");
        let url = ask_via.clone();
        asked.spawn(async move {
            let sent = Instant::now();
            let chat = member
                .run_slash_command(
                    channel,
                    "chat",
                    [("prompt", format!("question {n}"))],
                    Via::Webhook { url },
                )
                .await;
            let ack = chat.wait_ack().await;
            let acked = sent.elapsed();
            chat.wait_original(|m| m.content.contains("Commands used"))
                .await;
            (ack.response.kind, acked, sent.elapsed())
        });
    }
    let (mut acks, mut answers) = (Vec::new(), Vec::new());
    while let Some(done) = asked.join_next().await {
        let (_, ack, answer) = done.map_err(|e| e.to_string())?;
        acks.push(ack);
        answers.push(answer);
    }
    let (acks, answers) = (Summary::new(acks), Summary::new(answers));
    println!(
        "{} questions answered in {:.1} s: acknowledged p50 {}, max {}; answered p50 {}, max {}",
        options.questions,
        started.elapsed().as_secs_f64(),
        ms(acks.percentile(50.0)),
        ms(acks.max()),
        ms(answers.percentile(50.0)),
        ms(answers.max())
    );
    let violations = discord.violations();
    if !violations.is_empty() {
        return Err(format!(
            "{} protocol violations, the first: {:?}",
            violations.len(),
            violations[0]
        ));
    }
    Ok(())
}
