//! Moving over from the Python ticket bot (`../shared/seeds/002_*`), end to end on both databases: its
//! `.env` runs unchanged (each of its names reported once, Ollama selected by `OLLAMA_URL`, its runtime
//! settings seeding the new database's configuration), its `training.db` (a fixture written in its
//! schema) imports twice without duplicates, and the imported answers answer tickets.

use disconcierge_app::ticket_bot_import;
use disconcierge_e2e::desk::*;
use disconcierge_e2e::{Backend, World, spawn_app_with};
use disconcierge_llm_sim::{Endpoint, Reply};
use disconcierge_store::testing::{OldTrainingRow, write_ticket_bot_db};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// A directory of its own, removed at the end.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!(
            "dc-ticket-bot-{}-{tag}-{}",
            std::process::id(),
            chrono::Utc::now().timestamp_nanos_opt().unwrap_or_default()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

disconcierge_e2e::both!(a_ticket_bot_env_runs_unchanged_and_its_training_db_imports_twice);
async fn a_ticket_bot_env_runs_unchanged_and_its_training_db_imports_twice(backend: Backend) {
    let Some(world) = World::start(backend).await else {
        return;
    };
    let dir = TempDir::new(&format!("{backend:?}"));
    let g = guild_in(&world.discord, "Tea Shop");
    let guild_id = g.id().get();
    let other_guild: u64 = 811_000_000_000_000_002;
    let training_db = dir.path().join("training.db");
    write_ticket_bot_db(
        &training_db,
        &[
            OldTrainingRow {
                guild_id: Some(guild_id),
                query: "How do I reset my password?",
                response: "Use the Forgot password link on the sign-in page.",
                category: "account",
                tags: r#"["password", "login"]"#,
                usage_count: 12,
            },
            OldTrainingRow {
                guild_id: Some(guild_id),
                query: "What are your opening hours?",
                response: "We are open from 9 to 5.",
                category: "general",
                tags: "[]",
                usage_count: 3,
            },
            OldTrainingRow {
                guild_id: Some(guild_id),
                query: "what are your OPENING hours",
                response: "We are open from 9 to 6, Monday to Friday.",
                category: "general",
                tags: r#"["hours"]"#,
                usage_count: 2,
            },
            OldTrainingRow {
                guild_id: Some(other_guild),
                query: "Other server's question?",
                response: "Not for this one.",
                category: "general",
                tags: "[]",
                usage_count: 1,
            },
        ],
    )
    .await;
    let env = dir.path().join(".env");
    std::fs::write(
        &env,
        format!(
            "# Discord\nDISCORD_TOKEN={token}\nDISCORD_GUILD_ID={guild_id}\n\n# Ollama\nOLLAMA_URL={ollama}\n\
             OLLAMA_MODEL=llama3\n\n# Bot Settings\nBOT_PREFIX=!\nLOG_LEVEL=INFO\n\n# Memory\n\
             DB_PATH={db}\nSIMILARITY_THRESHOLD=0.7\nMAX_CONTEXT_LENGTH=2000\n\n# Features\n\
             ENABLE_AUTO_RESPONSE=true\nENABLE_TRAINING=true\nRESPONSE_TIMEOUT=30\n",
            token = world.discord.bot_token(),
            ollama = world.llm.ollama_url(),
            db = training_db.display(),
        ),
    )
    .unwrap();

    let loaded = world.settings_from_file(&env);
    for name in [
        "DISCORD_TOKEN",
        "DISCORD_GUILD_ID",
        "OLLAMA_URL",
        "OLLAMA_MODEL",
        "BOT_PREFIX",
        "LOG_LEVEL",
        "DB_PATH",
        "SIMILARITY_THRESHOLD",
        "MAX_CONTEXT_LENGTH",
        "ENABLE_AUTO_RESPONSE",
        "ENABLE_TRAINING",
        "RESPONSE_TIMEOUT",
    ] {
        let lines: Vec<_> = loaded
            .warnings
            .iter()
            .filter(|w| w.starts_with(&format!("{name} ")))
            .collect();
        assert_eq!(lines.len(), 1, "{name}: {:#?}", loaded.warnings);
    }
    assert!(
        !loaded
            .warnings
            .iter()
            .any(|w| w.contains("DISCORD_TOKEN") && w.contains(&world.discord.bot_token())),
        "the token is never in a message"
    );
    let settings = loaded.settings;
    assert_eq!(settings.llm.provider.as_str(), "ollama");
    assert_eq!(settings.discord.guild_id, Some(guild_id));

    // Imported before the bot starts, into the database it will use.
    let store = disconcierge_app::open_store(&settings).await.unwrap();
    store.migrate().await.unwrap();
    let first = ticket_bot_import::import(store.as_ref(), Some(&training_db), &[], guild_id, false)
        .await
        .unwrap();
    assert_eq!((first.rows, first.entries, first.merged), (4, 2, 1));
    assert_eq!(first.other_guilds.get(&other_guild), Some(&1));
    let written = first.written.unwrap();
    assert_eq!((written.created, written.updated), (2, 0));
    let again = ticket_bot_import::import(store.as_ref(), Some(&training_db), &[], guild_id, false)
        .await
        .unwrap();
    let written = again.written.unwrap();
    assert_eq!((written.created, written.updated), (0, 2), "no duplicates");
    let entries = store.export_training(guild_id).await.unwrap();
    assert_eq!(entries.len(), 2);
    let hours = entries
        .iter()
        .find(|e| e.question.to_lowercase().contains("opening"))
        .unwrap();
    assert_eq!(hours.answer, "We are open from 9 to 6, Monday to Friday.");
    assert_eq!(hours.uses, 5, "usage counts of merged rows add up, once");
    assert_eq!(hours.tags, ["hours"]);
    let password = entries
        .iter()
        .find(|e| e.question.contains("password"))
        .unwrap();
    assert_eq!(
        (password.uses, password.category.as_deref()),
        (12, Some("account"))
    );
    assert!(store.export_training(other_guild).await.unwrap().is_empty());
    store.close().await;

    // The bot runs on the unchanged .env: the configuration is seeded from it, tickets are answered
    // by the imported answers and by Ollama.
    let app = spawn_app_with(world, settings).await;
    app.discord.gateway().wait_ready(1).await;
    let config = app.runtime.current().config.clone();
    assert_eq!(config.desk_fallback_threshold, 0.7);
    assert_eq!(config.llm_max_context_tokens, 500);
    assert_eq!(config.llm_answer_timeout, Duration::from_secs(30));
    setup(&app, &g).await;
    let panel = panel(&app, &g).await;
    let ann = actor(&app, &g, "ann");
    let thread = open(&ann, &panel, "Technical").await;
    wait_bot_messages(&app, thread, 1).await;
    ann.post_message(thread, "How do I reset my password?");
    let answer = wait_bot_messages(&app, thread, 2).await;
    assert!(
        answer
            .content
            .starts_with("Use the Forgot password link on the sign-in page."),
        "{}",
        answer.content
    );
    app.llm.push_reply(Reply::text("Shipping takes two days."));
    ann.post_message(thread, "How long does shipping take to Norway?");
    let answer = wait_bot_messages(&app, thread, 3).await;
    assert_eq!(answer.content, "Shipping takes two days.");
    assert_eq!(app.llm.requests_to(Endpoint::OllamaChat).len(), 1);
    let request = app.llm.requests_to(Endpoint::OllamaChat)[0]
        .body
        .clone()
        .unwrap();
    assert_eq!(request["model"], "llama3");
    app.discord.assert_no_violations();
    app.stop().await;
}
