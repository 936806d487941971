//! The repository contract, run against both backends.
//!
//! Each test below is written once, against `&dyn Store`, and `both!` instantiates it as
//! `sqlite::<name>` and `postgres::<name>`. The PostgreSQL ones need `DC_TEST_POSTGRES_URL` (e.g.
//! `postgres://postgres@127.0.0.1:5432/postgres`); without it they print `SKIPPED (PostgreSQL): ...` and
//! pass. Every test gets a fresh database.

use chrono::{DateTime, SubsecRound, TimeDelta, Utc};
use disconcierge_core::RuntimeConfig;
use disconcierge_core::model::{
    ChatCommandFilter, ChatCommandOutcome, ChatCommandState, ChatCommandStep, ClearCommand,
    DiscordMessage, DiscordMessageFilter, FeedbackFilter, FeedbackKind, InteractionLog,
    InteractionLogFilter, LlmCallLog, NewChatCommand, TokenUsage, UserFeedback, UserFilter,
    UserSort,
};
use disconcierge_store::testing::TestDb;
use disconcierge_store::{ChatContext, DatabaseKind, NewChatCommandBy, Store, StoreError};
use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

macro_rules! both {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    super::$name(disconcierge_store::DatabaseKind::Sqlite).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                #[cfg_attr(not(dc_test_postgres), ignore = "PostgreSQL: set DC_TEST_POSTGRES_URL to run")]
                async fn $name() {
                    super::$name(disconcierge_store::DatabaseKind::Postgres).await;
                }
            )*
        }
    };
}

both!(
    migrate_is_idempotent_and_status_current,
    schema_from_a_newer_binary_is_refused,
    runtime_config_versions_conflicts_and_history,
    admin_usernames_are_unique_without_case,
    admin_sessions_expire_and_are_revoked,
    api_tokens_expire_are_revoked_and_go_with_their_admin,
    upsert_user_keeps_settings,
    chat_command_insert_and_duplicate_interaction,
    claim_takes_priority_then_oldest,
    concurrent_claims_take_each_command_once,
    expired_lease_is_reclaimed_and_old_owner_locked_out,
    only_the_lease_owner_progresses_and_finishes,
    an_answer_stored_before_a_stop_is_claimed_again_with_it,
    requeue_and_transitions,
    expire_commands_with_dead_tokens,
    usage_window_counts_only_consumed_commands,
    recent_exchanges_are_the_users_answered_ones_newest_first,
    a_commands_context_is_its_author_their_counted_commands_and_history,
    stale_queued_commands_expire_and_come_back,
    oldest_queued_prefers_non_priority_when_asked,
    received_commands_are_requeued_while_their_token_lives,
    an_acknowledged_command_is_queued_once,
    a_batch_is_recorded_in_order_with_what_admission_needs,
    the_waiting_figure_is_exact_whenever_the_queue_could_fill,
    feedback_one_vote_per_kind_except_other,
    logs_are_inserted,
    a_reply_finds_the_command_of_the_answer,
    admin_lists_filter_and_page_by_id,
    llm_calls_and_feedback_of_a_command,
    users_are_searched_sorted_and_paged,
);

/// A fresh, migrated database of `kind`, or `None` when PostgreSQL is not configured.
async fn fresh(kind: DatabaseKind) -> Option<TestDb> {
    match kind {
        DatabaseKind::Sqlite => Some(TestDb::sqlite().await),
        DatabaseKind::Postgres => TestDb::postgres().await,
    }
}

async fn fresh_unmigrated(kind: DatabaseKind) -> Option<TestDb> {
    match kind {
        DatabaseKind::Sqlite => Some(TestDb::sqlite_unmigrated().await),
        DatabaseKind::Postgres => TestDb::postgres_unmigrated().await,
    }
}

/// Whole seconds, so that values survive the database's microsecond precision unchanged.
fn t0() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(0)
}

fn mins(n: i64) -> TimeDelta {
    TimeDelta::minutes(n)
}

fn new_command(interaction_id: u64, user_id: u64, created_at: DateTime<Utc>) -> NewChatCommand {
    NewChatCommand {
        interaction_id,
        interaction_token: format!("token-{interaction_id}").into(),
        token_expires_at: created_at + mins(15),
        application_id: 42,
        user_id,
        guild_id: Some(7),
        channel_id: Some(8),
        private: false,
        prompt: format!("question {interaction_id}"),
        state: ChatCommandState::Queued,
        created_at,
    }
}

/// A command as the acknowledgement path records it (`received`).
fn received(interaction_id: u64, user_id: u64, created_at: DateTime<Utc>) -> NewChatCommand {
    NewChatCommand {
        state: ChatCommandState::Received,
        ..new_command(interaction_id, user_id, created_at)
    }
}

fn by(command: NewChatCommand, username: &str) -> NewChatCommandBy {
    NewChatCommandBy {
        username: username.into(),
        global_name: None,
        command,
    }
}

fn outcome(state: ChatCommandState, usage: Option<TokenUsage>) -> ChatCommandOutcome {
    ChatCommandOutcome {
        state,
        response: Some("answer".into()),
        error: None,
        usage,
        discord_message_id: Some(555),
    }
}

const USAGE: TokenUsage = TokenUsage {
    prompt_tokens: 10,
    completion_tokens: 20,
    total_tokens: 30,
};

const LEASE: Duration = Duration::from_secs(60);

/// The migrations this binary ships (the same versions for both backends).
const MIGRATIONS: [i64; 19] = [
    1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19,
];

// ----- Migrations -----

async fn migrate_is_idempotent_and_status_current(kind: DatabaseKind) {
    let Some(db) = fresh_unmigrated(kind).await else {
        return;
    };
    let store = &*db.store;
    assert_eq!(store.kind(), kind);
    store.ping().await.unwrap();

    let status = store.migration_status().await.unwrap();
    assert!(!status.is_current());
    assert!(status.applied.is_empty());
    assert_eq!(status.pending, MIGRATIONS);
    assert!(matches!(
        status.ensure_current(),
        Err(StoreError::SchemaOutdated { .. })
    ));

    let report = store.migrate().await.unwrap();
    assert_eq!(report.applied, MIGRATIONS);
    assert!(report.status.is_current(), "{:?}", report.status);
    assert_eq!(report.status.applied, MIGRATIONS);

    let again = store.migrate().await.unwrap();
    assert!(
        again.applied.is_empty(),
        "second migrate applied {:?}",
        again.applied
    );
    let status = store.migration_status().await.unwrap();
    assert!(status.is_current(), "{status:?}");
    assert_eq!(status.applied, MIGRATIONS);
    assert_eq!(
        db.scalar_i64("SELECT COUNT(*) FROM _sqlx_migrations").await,
        MIGRATIONS.len() as i64
    );
    // The schema is usable.
    assert_eq!(store.count_admins().await.unwrap(), 0);
}

async fn schema_from_a_newer_binary_is_refused(kind: DatabaseKind) {
    let Some(db) = fresh(kind).await else {
        return;
    };
    let store = &*db.store;
    db.add_fake_applied_migration(20991231).await;

    let status = store.migration_status().await.unwrap();
    assert_eq!(status.unknown, [20991231]);
    assert_eq!(status.applied, MIGRATIONS);
    assert!(status.pending.is_empty());
    assert!(!status.is_current());

    let err = store.migrate().await.unwrap_err();
    assert!(
        matches!(&err, StoreError::SchemaTooNew { unknown } if unknown == &[20991231]),
        "{err:?}"
    );
    let msg = err.to_string();
    assert!(msg.contains("newer disconcierge"), "{msg}");
    assert!(msg.contains("20991231"), "{msg}");
    assert!(msg.contains("upgrade the binary"), "{msg}");
    // Nothing was touched: ours plus the fake one.
    assert_eq!(
        db.scalar_i64("SELECT COUNT(*) FROM _sqlx_migrations").await,
        MIGRATIONS.len() as i64 + 1
    );
}

// ----- Runtime configuration -----

async fn runtime_config_versions_conflicts_and_history(kind: DatabaseKind) {
    let Some(db) = fresh(kind).await else {
        return;
    };
    let store = &*db.store;
    assert_eq!(store.load_runtime_config().await.unwrap(), None);

    let defaults = RuntimeConfig::default();
    // Expecting a version that does not exist is a conflict, and writes nothing.
    assert!(matches!(
        store
            .save_runtime_config(&defaults, Some(3), Some("ann"))
            .await,
        Err(StoreError::Conflict)
    ));
    assert_eq!(store.load_runtime_config().await.unwrap(), None);

    let first = store
        .save_runtime_config(&defaults, Some(0), None)
        .await
        .unwrap();
    assert_eq!(first.version, 1);
    assert_eq!(first.config, defaults);
    assert_eq!(first.updated_by, None);
    // "Only if nothing is stored yet" no longer holds.
    assert!(matches!(
        store.save_runtime_config(&defaults, Some(0), None).await,
        Err(StoreError::Conflict)
    ));

    let mut changed = defaults.clone();
    changed.paused = true;
    changed.llm_temperature = Some(0.25);
    changed.user_chat_command_limit_6h = 3;
    let second = store
        .save_runtime_config(&changed, Some(1), Some("ann"))
        .await
        .unwrap();
    assert_eq!(second.version, 2);
    assert_eq!(second.updated_by.as_deref(), Some("ann"));

    // Bob edited version 1 too: his save must not overwrite Ann's.
    let mut bobs = defaults.clone();
    bobs.paused_message = "bob was here".into();
    let err = store
        .save_runtime_config(&bobs, Some(1), Some("bob"))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict));
    assert!(err.to_string().contains("reload"), "{err}");

    let loaded = store.load_runtime_config().await.unwrap().unwrap();
    assert_eq!(loaded.version, 2);
    assert_eq!(loaded.config, changed);
    assert_eq!(loaded.updated_by.as_deref(), Some("ann"));
    assert_eq!(loaded.updated_at, second.updated_at);

    // Unconditional save bumps the version.
    let third = store
        .save_runtime_config(&defaults, None, None)
        .await
        .unwrap();
    assert_eq!(third.version, 3);
    assert_eq!(
        store.load_runtime_config().await.unwrap().unwrap().config,
        defaults
    );

    let history = store.runtime_config_history(10).await.unwrap();
    let versions: Vec<_> = history.iter().map(|h| h.version).collect();
    assert_eq!(versions, [3, 2, 1], "conflicts must not be recorded");
    assert_eq!(history[1].updated_by.as_deref(), Some("ann"));
    assert_eq!(history[1].config["paused"], serde_json::json!(true));
    assert_eq!(history[0].config["paused"], serde_json::json!(false));
    assert_eq!(store.runtime_config_history(1).await.unwrap().len(), 1);
}

// ----- Admin accounts -----

async fn admin_usernames_are_unique_without_case(kind: DatabaseKind) {
    let Some(db) = fresh(kind).await else {
        return;
    };
    let store = &*db.store;
    assert_eq!(store.count_admins().await.unwrap(), 0);
    let admin = store.create_admin("Admin", "$argon2id$one").await.unwrap();
    assert_eq!(admin.username, "Admin");
    assert_eq!(admin.password_hash, "$argon2id$one");

    let err = store
        .create_admin("aDMIN", "$argon2id$two")
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::AlreadyExists(_)), "{err:?}");
    assert_eq!(store.count_admins().await.unwrap(), 1);

    let found = store.admin_by_username("ADMIN").await.unwrap().unwrap();
    assert_eq!(found, admin);
    assert_eq!(store.admin(admin.id).await.unwrap(), Some(admin.clone()));
    assert_eq!(store.admin_by_username("nobody").await.unwrap(), None);

    let other = store.create_admin("other", "$argon2id$x").await.unwrap();
    assert_ne!(other.id, admin.id);
    assert_eq!(store.count_admins().await.unwrap(), 2);
    let zed = store.create_admin("Zed", "$argon2id$z").await.unwrap();
    let names: Vec<String> = store
        .list_admins()
        .await
        .unwrap()
        .into_iter()
        .map(|a| a.username)
        .collect();
    assert_eq!(names, ["Admin", "other", "Zed"], "by name, ignoring case");
    store.delete_admin(zed.id).await.unwrap();

    store.delete_admin(other.id).await.unwrap();
    assert_eq!(store.admin(other.id).await.unwrap(), None);
    assert!(matches!(
        store.delete_admin(other.id).await,
        Err(StoreError::NotFound(_))
    ));
    // The name is free again.
    store.create_admin("OTHER", "$argon2id$y").await.unwrap();
}

async fn api_tokens_expire_are_revoked_and_go_with_their_admin(kind: DatabaseKind) {
    let Some(db) = fresh(kind).await else {
        return;
    };
    let store = &*db.store;
    let ann = store.create_admin("ann", "$argon2id$x").await.unwrap();
    let bob = store.create_admin("bob", "$argon2id$y").await.unwrap();
    let now = Utc::now().trunc_subsecs(6);

    let forever = store
        .create_api_token(ann.id, "backup script", "hash-1", "dct_1234", None)
        .await
        .unwrap();
    assert_eq!(
        (
            forever.admin_id,
            forever.name.as_str(),
            forever.prefix.as_str()
        ),
        (ann.id, "backup script", "dct_1234")
    );
    assert_eq!(forever.expires_at, None);
    assert_eq!(forever.last_used_at, None);
    let expired = store
        .create_api_token(ann.id, "old", "hash-2", "dct_5678", Some(now - mins(1)))
        .await
        .unwrap();
    let bobs = store
        .create_api_token(bob.id, "bob's", "hash-3", "dct_9abc", Some(now + mins(60)))
        .await
        .unwrap();
    assert!(matches!(
        store
            .create_api_token(9999, "ghost", "hash-4", "dct_0000", None)
            .await,
        Err(StoreError::NotFound(_))
    ));
    assert!(
        store
            .create_api_token(bob.id, "same hash", "hash-1", "dct_1234", None)
            .await
            .is_err(),
        "hashes are unique"
    );

    assert_eq!(
        store.api_token("hash-1").await.unwrap(),
        Some(forever.clone())
    );
    assert_eq!(store.api_token("hash-2").await.unwrap(), None, "expired");
    assert_eq!(store.api_token("nope").await.unwrap(), None);
    let ids: Vec<i64> = store
        .list_api_tokens()
        .await
        .unwrap()
        .iter()
        .map(|t| t.id)
        .collect();
    assert_eq!(
        ids,
        [bobs.id, expired.id, forever.id],
        "newest first, expired included"
    );

    store.touch_api_token(forever.id, now).await.unwrap();
    assert_eq!(
        store
            .api_token("hash-1")
            .await
            .unwrap()
            .unwrap()
            .last_used_at,
        Some(now)
    );
    assert!(store.delete_api_token(forever.id).await.unwrap());
    assert!(!store.delete_api_token(forever.id).await.unwrap());
    assert_eq!(store.api_token("hash-1").await.unwrap(), None, "revoked");
    // Removing an admin revokes their tokens.
    store.delete_admin(bob.id).await.unwrap();
    assert_eq!(store.api_token("hash-3").await.unwrap(), None);
}

async fn admin_sessions_expire_and_are_revoked(kind: DatabaseKind) {
    let Some(db) = fresh(kind).await else {
        return;
    };
    let store = &*db.store;
    let admin = store.create_admin("root", "$argon2id$old").await.unwrap();
    let now = t0();

    let live = store
        .create_admin_session(admin.id, "live-hash", now + mins(60))
        .await
        .unwrap();
    assert_eq!(live.admin_id, admin.id);
    assert_eq!(live.expires_at, now + mins(60));
    store
        .create_admin_session(admin.id, "stale-hash", now - mins(1))
        .await
        .unwrap();

    assert_eq!(store.admin_session("live-hash").await.unwrap(), Some(live));
    assert_eq!(store.admin_session("stale-hash").await.unwrap(), None);
    assert_eq!(store.admin_session("unknown").await.unwrap(), None);
    assert_eq!(store.delete_expired_sessions().await.unwrap(), 1);
    assert_eq!(store.delete_expired_sessions().await.unwrap(), 0);

    // A session for a missing admin is refused.
    assert!(matches!(
        store
            .create_admin_session(admin.id + 1000, "orphan", now + mins(5))
            .await,
        Err(StoreError::NotFound(_))
    ));

    // Logging out one session.
    store
        .create_admin_session(admin.id, "second", now + mins(60))
        .await
        .unwrap();
    assert!(store.delete_admin_session("second").await.unwrap());
    assert!(!store.delete_admin_session("second").await.unwrap());
    assert!(store.admin_session("live-hash").await.unwrap().is_some());

    // A password change logs out everywhere.
    store
        .create_admin_session(admin.id, "third", now + mins(60))
        .await
        .unwrap();
    store
        .update_admin_password(admin.id, "$argon2id$new")
        .await
        .unwrap();
    assert_eq!(store.admin_session("live-hash").await.unwrap(), None);
    assert_eq!(store.admin_session("third").await.unwrap(), None);
    let updated = store.admin(admin.id).await.unwrap().unwrap();
    assert_eq!(updated.password_hash, "$argon2id$new");
    assert!(updated.updated_at >= admin.updated_at);
    assert!(matches!(
        store.update_admin_password(admin.id + 1000, "x").await,
        Err(StoreError::NotFound(_))
    ));

    // Revoking all of one admin's sessions leaves the others'.
    let other = store.create_admin("other", "$argon2id$o").await.unwrap();
    for hash in ["a1", "a2"] {
        store
            .create_admin_session(admin.id, hash, now + mins(60))
            .await
            .unwrap();
    }
    store
        .create_admin_session(other.id, "o1", now + mins(60))
        .await
        .unwrap();
    assert_eq!(store.delete_admin_sessions_for(admin.id).await.unwrap(), 2);
    assert!(store.admin_session("o1").await.unwrap().is_some());

    // Deleting an admin deletes their sessions.
    store.delete_admin(other.id).await.unwrap();
    assert_eq!(store.admin_session("o1").await.unwrap(), None);
    assert_eq!(
        db.scalar_i64("SELECT COUNT(*) FROM admin_sessions").await,
        0
    );
}

// ----- Users -----

async fn upsert_user_keeps_settings(kind: DatabaseKind) {
    let Some(db) = fresh(kind).await else {
        return;
    };
    let store = &*db.store;
    // Beyond i64::MAX: must still round-trip.
    let big = u64::MAX - 5;
    let user = store.upsert_user(big, "ann", Some("Ann")).await.unwrap();
    assert_eq!(user.discord_id, big);
    assert!(!user.priority && !user.ignored);
    assert_eq!(user.limit_override, None);

    store.set_user_priority(big, true).await.unwrap();
    store.set_user_ignored(big, true).await.unwrap();
    store.set_user_limit_override(big, Some(7)).await.unwrap();
    store
        .set_user_llm_overrides(
            big,
            Some("gpt-x".into()),
            Some("be brief".into()),
            Some(0.5),
        )
        .await
        .unwrap();
    let set = store
        .set_user_conversation(big, Some("conv_1".into()))
        .await
        .unwrap();
    assert_eq!(set.conversation_id.as_deref(), Some("conv_1"));

    let again = store.upsert_user(big, "ann2", None).await.unwrap();
    assert_eq!(again.username, "ann2");
    assert_eq!(again.global_name, None);
    assert!(again.priority);
    assert!(again.ignored);
    assert_eq!(again.limit_override, Some(7));
    assert_eq!(again.llm_model.as_deref(), Some("gpt-x"));
    assert_eq!(again.llm_instructions.as_deref(), Some("be brief"));
    assert_eq!(again.llm_temperature, Some(0.5));
    assert_eq!(again.conversation_id.as_deref(), Some("conv_1"));
    assert_eq!(again.created_at, user.created_at);
    assert_eq!(store.user(big).await.unwrap(), Some(again));

    let reset = store.set_user_limit_override(big, None).await.unwrap();
    assert_eq!(reset.limit_override, None);
    let reset = store
        .set_user_llm_overrides(big, None, None, None)
        .await
        .unwrap();
    assert_eq!(
        (
            reset.llm_model,
            reset.llm_instructions,
            reset.llm_temperature
        ),
        (None, None, None)
    );
    let reset = store.set_user_conversation(big, None).await.unwrap();
    assert_eq!(reset.conversation_id, None);

    assert_eq!(store.user(1).await.unwrap(), None);
    assert!(matches!(
        store.set_user_priority(1, true).await,
        Err(StoreError::NotFound(_))
    ));
}

// ----- Chat commands -----

async fn chat_command_insert_and_duplicate_interaction(kind: DatabaseKind) {
    let Some(db) = fresh(kind).await else {
        return;
    };
    let store = &*db.store;
    let now = t0();
    store.upsert_user(10, "ann", None).await.unwrap();
    store.set_user_priority(10, true).await.unwrap();

    let mut new = new_command(u64::MAX - 1, 10, now);
    new.private = true;
    new.guild_id = None;
    let cmd = store.insert_chat_command(new.clone()).await.unwrap();
    assert!(cmd.id > 0);
    assert_eq!(cmd.interaction_id, u64::MAX - 1);
    assert_eq!(cmd.interaction_token.expose(), "token-18446744073709551614");
    assert_eq!(cmd.token_expires_at, now + mins(15));
    assert_eq!(cmd.application_id, 42);
    assert_eq!(cmd.user_id, 10);
    assert_eq!(cmd.guild_id, None);
    assert_eq!(cmd.channel_id, Some(8));
    assert!(cmd.private);
    assert!(cmd.priority, "priority is copied from the user");
    assert_eq!(cmd.state, ChatCommandState::Queued);
    assert_eq!(cmd.step, ChatCommandStep::Enqueued);
    assert_eq!(cmd.attempts, 0);
    assert_eq!(cmd.usage, None);
    assert!(!cmd.usage_counted);
    assert_eq!(cmd.lease_owner, None);
    assert_eq!(cmd.created_at, now);
    assert_eq!(cmd.finished_at, None);
    assert!(!format!("{cmd:?}").contains("token-"));

    assert_eq!(store.chat_command(cmd.id).await.unwrap(), Some(cmd.clone()));
    assert_eq!(
        store
            .chat_command_by_interaction(u64::MAX - 1)
            .await
            .unwrap(),
        Some(cmd.clone())
    );
    assert_eq!(store.chat_command(cmd.id + 100).await.unwrap(), None);

    // The same interaction again (a retry, another instance): refused.
    let err = store.insert_chat_command(new).await.unwrap_err();
    assert!(matches!(err, StoreError::AlreadyExists(_)), "{err:?}");

    // Unknown author.
    let err = store
        .insert_chat_command(new_command(2, 999, now))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::NotFound(_)), "{err:?}");

    // A command refused at once is recorded finished.
    let mut limited = new_command(3, 10, now);
    limited.state = ChatCommandState::RateLimited;
    let limited = store.insert_chat_command(limited).await.unwrap();
    assert_eq!(limited.state, ChatCommandState::RateLimited);
    assert_eq!(limited.step, ChatCommandStep::Done);
    assert_eq!(limited.finished_at, Some(now));
}

async fn claim_takes_priority_then_oldest(kind: DatabaseKind) {
    let Some(db) = fresh(kind).await else {
        return;
    };
    let store = &*db.store;
    let now = t0();
    store.upsert_user(1, "plain", None).await.unwrap();
    store.upsert_user(2, "vip", None).await.unwrap();
    store.set_user_priority(2, true).await.unwrap();

    let plain_old = store
        .insert_chat_command(new_command(101, 1, now - mins(5)))
        .await
        .unwrap();
    let plain_new = store
        .insert_chat_command(new_command(102, 1, now - mins(4)))
        .await
        .unwrap();
    let vip_new = store
        .insert_chat_command(new_command(103, 2, now - mins(2)))
        .await
        .unwrap();
    let vip_old = store
        .insert_chat_command(new_command(104, 2, now - mins(3)))
        .await
        .unwrap();
    // Never claimable: a final state, and a token that already expired.
    let mut ignored = new_command(105, 1, now - mins(10));
    ignored.state = ChatCommandState::Ignored;
    store.insert_chat_command(ignored).await.unwrap();
    store
        .insert_chat_command(new_command(106, 1, now - mins(20)))
        .await
        .unwrap();
    assert_eq!(store.queued_count().await.unwrap(), 5);

    // Paused: priority users' commands only, oldest first; the others stay queued, untouched.
    let mut paused = Vec::new();
    for _ in 0..2 {
        let claimed = store
            .claim_next_priority_chat_command("worker", LEASE, now)
            .await
            .unwrap()
            .expect("a priority command");
        paused.push(claimed.id);
    }
    assert_eq!(paused, [vip_old.id, vip_new.id]);
    assert!(
        store
            .claim_next_priority_chat_command("worker", LEASE, now)
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(store.queued_count().await.unwrap(), 3);
    for id in [vip_old.id, vip_new.id] {
        assert!(
            store
                .requeue_chat_command(id, "worker", None)
                .await
                .unwrap()
        );
    }

    let mut order = Vec::new();
    while let Some(cmd) = store
        .claim_next_chat_command("worker", LEASE, now)
        .await
        .unwrap()
    {
        assert_eq!(cmd.state, ChatCommandState::InProgress);
        assert_eq!(cmd.lease_owner.as_deref(), Some("worker"));
        assert_eq!(cmd.lease_expires_at, Some(now + mins(1)));
        let tried_while_paused = cmd.priority;
        assert_eq!(cmd.attempts, 1 + u32::from(tried_while_paused));
        assert_eq!(cmd.started_at, Some(now));
        order.push(cmd.id);
        assert!(order.len() <= 4, "claimed too many: {order:?}");
    }
    assert_eq!(order, [vip_old.id, vip_new.id, plain_old.id, plain_new.id]);
    // The expired-token command stays queued until expired.
    assert_eq!(store.queued_count().await.unwrap(), 1);
}

async fn concurrent_claims_take_each_command_once(kind: DatabaseKind) {
    let Some(db) = fresh(kind).await else {
        return;
    };
    let now = t0();
    db.store.upsert_user(1, "ann", None).await.unwrap();
    let mut all = HashSet::new();
    for i in 0..20 {
        let cmd = db
            .store
            .insert_chat_command(new_command(
                1000 + i,
                1,
                now - mins(1) + TimeDelta::seconds(i as i64),
            ))
            .await
            .unwrap();
        all.insert(cmd.id);
    }
    // Two "instances", four claimers each.
    let second: Arc<dyn Store> = db.connect_again().await;
    let mut tasks = Vec::new();
    for w in 0..8 {
        let store = if w % 2 == 0 {
            db.store.clone()
        } else {
            second.clone()
        };
        tasks.push(tokio::spawn(async move {
            let owner = format!("worker-{w}");
            let mut mine = Vec::new();
            while let Some(cmd) = store
                .claim_next_chat_command(&owner, LEASE, now)
                .await
                .unwrap()
            {
                assert_eq!(cmd.lease_owner.as_deref(), Some(owner.as_str()));
                mine.push(cmd.id);
                tokio::task::yield_now().await;
            }
            mine
        }));
    }
    let mut claimed = Vec::new();
    for task in tasks {
        claimed.extend(task.await.unwrap());
    }
    let unique: HashSet<_> = claimed.iter().copied().collect();
    assert_eq!(
        claimed.len(),
        20,
        "some command was claimed twice: {claimed:?}"
    );
    assert_eq!(unique, all);
    for id in all {
        let cmd = db.store.chat_command(id).await.unwrap().unwrap();
        assert_eq!(
            cmd.attempts, 1,
            "command {id} was claimed {} times",
            cmd.attempts
        );
        assert_eq!(cmd.state, ChatCommandState::InProgress);
    }
    assert_eq!(db.store.queued_count().await.unwrap(), 0);
    second.close().await;
}

async fn expired_lease_is_reclaimed_and_old_owner_locked_out(kind: DatabaseKind) {
    let Some(db) = fresh(kind).await else {
        return;
    };
    let store = &*db.store;
    let now = t0();
    store.upsert_user(1, "ann", None).await.unwrap();
    let cmd = store
        .insert_chat_command(new_command(1, 1, now))
        .await
        .unwrap();

    let first = store
        .claim_next_chat_command("w1", Duration::from_secs(30), now)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(first.id, cmd.id);
    // Held: nobody else gets it.
    assert_eq!(
        store
            .claim_next_chat_command("w2", LEASE, now + TimeDelta::seconds(10))
            .await
            .unwrap(),
        None
    );
    // w1 renews to 60 s, so it is still held at 45 s.
    assert!(
        store
            .renew_lease(cmd.id, "w1", now + TimeDelta::seconds(60))
            .await
            .unwrap()
    );
    assert_eq!(
        store
            .claim_next_chat_command("w2", LEASE, now + TimeDelta::seconds(45))
            .await
            .unwrap(),
        None
    );
    // w1 went silent; after its lease, w2 takes over.
    let later = now + TimeDelta::seconds(61);
    let second = store
        .claim_next_chat_command("w2", LEASE, later)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(second.id, cmd.id);
    assert_eq!(second.attempts, 2);
    assert_eq!(second.lease_owner.as_deref(), Some("w2"));
    assert_eq!(second.lease_expires_at, Some(later + mins(1)));
    assert_eq!(second.started_at, Some(now), "first start is kept");

    // w1 wakes up: every write it tries is refused.
    assert!(
        !store
            .renew_lease(cmd.id, "w1", later + mins(5))
            .await
            .unwrap()
    );
    assert!(
        !store
            .record_answer(cmd.id, "w1", "stale", Some(USAGE))
            .await
            .unwrap()
    );
    assert!(
        !store
            .finish_chat_command(
                cmd.id,
                "w1",
                &outcome(ChatCommandState::Completed, Some(USAGE))
            )
            .await
            .unwrap()
    );
    assert!(
        !store
            .requeue_chat_command(cmd.id, "w1", None)
            .await
            .unwrap()
    );
    let current = store.chat_command(cmd.id).await.unwrap().unwrap();
    assert_eq!(current.lease_owner.as_deref(), Some("w2"));
    assert_eq!(current.response, None);

    assert!(
        store
            .finish_chat_command(
                cmd.id,
                "w2",
                &outcome(ChatCommandState::Completed, Some(USAGE))
            )
            .await
            .unwrap()
    );
    // Finished: gone from the queue for good, even for its last owner.
    assert_eq!(
        store
            .claim_next_chat_command("w3", LEASE, later + mins(10))
            .await
            .unwrap(),
        None
    );
    assert!(
        !store
            .renew_lease(cmd.id, "w2", later + mins(5))
            .await
            .unwrap()
    );
}

/// The worker stopped between storing the answer and finishing the command: whoever claims it next (after
/// the lease, or after a requeue) gets it in step `finalizing`, with the answer and its tokens, to deliver
/// rather than ask the model again. A command that never got that far is claimed as `generating`.
async fn an_answer_stored_before_a_stop_is_claimed_again_with_it(kind: DatabaseKind) {
    let Some(db) = fresh(kind).await else {
        return;
    };
    let store = &*db.store;
    let now = t0();
    store.upsert_user(1, "ann", None).await.unwrap();
    store.upsert_user(2, "bob", None).await.unwrap();
    let answered = store
        .insert_chat_command(new_command(1, 1, now))
        .await
        .unwrap();
    let unanswered = store
        .insert_chat_command(new_command(2, 2, now + TimeDelta::seconds(1)))
        .await
        .unwrap();
    for expected in [answered.id, unanswered.id] {
        let claimed = store
            .claim_next_chat_command("w1", LEASE, now)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(claimed.id, expected);
    }
    assert!(
        store
            .record_answer(answered.id, "w1", "the answer", Some(USAGE))
            .await
            .unwrap()
    );

    // w1 stops; after its lease, w2 claims both again.
    let later = now + TimeDelta::seconds(61);
    let again = store
        .claim_next_chat_command("w2", LEASE, later)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(again.id, answered.id);
    assert_eq!(again.attempts, 2);
    assert_eq!(again.step, ChatCommandStep::Finalizing);
    assert_eq!(again.response.as_deref(), Some("the answer"));
    assert_eq!(again.usage, Some(USAGE));
    let other = store
        .claim_next_chat_command("w2", LEASE, later)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(other.id, unanswered.id);
    assert_eq!(other.step, ChatCommandStep::Generating);
    assert_eq!(other.response, None);

    // Put back in the queue (a pause), the stored answer is still the one to deliver.
    assert!(
        store
            .requeue_chat_command(answered.id, "w2", None)
            .await
            .unwrap()
    );
    let queued = store.chat_command(answered.id).await.unwrap().unwrap();
    assert_eq!(queued.state, ChatCommandState::Queued);
    assert_eq!(queued.step, ChatCommandStep::Finalizing);
    let third = store
        .claim_next_chat_command("w3", LEASE, later)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(third.id, answered.id);
    assert_eq!(third.step, ChatCommandStep::Finalizing);
    assert_eq!(third.response.as_deref(), Some("the answer"));
}

async fn only_the_lease_owner_progresses_and_finishes(kind: DatabaseKind) {
    let Some(db) = fresh(kind).await else {
        return;
    };
    let store = &*db.store;
    let now = t0();
    store.upsert_user(1, "ann", None).await.unwrap();
    let cmd = store
        .insert_chat_command(new_command(1, 1, now))
        .await
        .unwrap();
    store
        .claim_next_chat_command("w1", LEASE, now)
        .await
        .unwrap()
        .unwrap();

    assert_eq!(
        store.chat_command(cmd.id).await.unwrap().unwrap().step,
        ChatCommandStep::Generating,
        "set by the claim"
    );
    assert!(
        !store
            .record_answer(cmd.id, "w2", "answer", Some(USAGE))
            .await
            .unwrap()
    );
    assert!(
        store
            .record_answer(cmd.id, "w1", "answer", Some(USAGE))
            .await
            .unwrap()
    );
    let finalizing = store.chat_command(cmd.id).await.unwrap().unwrap();
    assert_eq!(finalizing.step, ChatCommandStep::Finalizing);
    assert_eq!(finalizing.response.as_deref(), Some("answer"));
    assert_eq!(finalizing.usage, Some(USAGE));
    assert!(!finalizing.usage_counted, "counted once finished");

    assert!(
        !store
            .finish_chat_command(
                cmd.id,
                "w2",
                &outcome(ChatCommandState::Completed, Some(USAGE))
            )
            .await
            .unwrap()
    );
    let err = store
        .finish_chat_command(cmd.id, "w1", &outcome(ChatCommandState::Queued, None))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::InvalidArgument(_)), "{err:?}");

    assert!(
        store
            .finish_chat_command(
                cmd.id,
                "w1",
                &outcome(ChatCommandState::Completed, Some(USAGE))
            )
            .await
            .unwrap()
    );
    let done = store.chat_command(cmd.id).await.unwrap().unwrap();
    assert_eq!(done.state, ChatCommandState::Completed);
    assert_eq!(done.step, ChatCommandStep::Done);
    assert_eq!(done.response.as_deref(), Some("answer"));
    assert_eq!(done.usage, Some(USAGE));
    assert!(done.usage_counted);
    assert_eq!(done.discord_message_id, Some(555));
    assert_eq!(done.lease_owner, None);
    assert_eq!(done.lease_expires_at, None);
    assert!(done.finished_at.is_some());
    assert!(
        !store
            .finish_chat_command(cmd.id, "w1", &outcome(ChatCommandState::Failed, None))
            .await
            .unwrap(),
        "a finished command cannot be finished again"
    );

    // A failure without tokens does not count, and keeps the partial answer.
    let failing = store
        .insert_chat_command(new_command(2, 1, now))
        .await
        .unwrap();
    store
        .claim_next_chat_command("w1", LEASE, now)
        .await
        .unwrap()
        .unwrap();
    store
        .record_answer(failing.id, "w1", "half", None)
        .await
        .unwrap();
    let failed = ChatCommandOutcome {
        state: ChatCommandState::Failed,
        response: None,
        error: Some("backend timeout".into()),
        usage: None,
        discord_message_id: None,
    };
    assert!(
        store
            .finish_chat_command(failing.id, "w1", &failed)
            .await
            .unwrap()
    );
    let failed = store.chat_command(failing.id).await.unwrap().unwrap();
    assert_eq!(failed.state, ChatCommandState::Failed);
    assert_eq!(failed.error.as_deref(), Some("backend timeout"));
    assert_eq!(failed.response.as_deref(), Some("half"));
    assert!(!failed.usage_counted);
    assert_eq!(failed.usage, None);
}

async fn requeue_and_transitions(kind: DatabaseKind) {
    let Some(db) = fresh(kind).await else {
        return;
    };
    let store = &*db.store;
    let now = t0();
    store.upsert_user(1, "ann", None).await.unwrap();
    assert!(!store.user_in_flight(1, -1).await.unwrap());

    // Received, then admitted.
    let mut received = new_command(1, 1, now);
    received.state = ChatCommandState::Received;
    let cmd = store.insert_chat_command(received).await.unwrap();
    // Recorded counts as in flight for any other command of the user, not for itself.
    assert!(store.user_in_flight(1, -1).await.unwrap());
    assert!(!store.user_in_flight(1, cmd.id).await.unwrap());
    assert_eq!(store.waiting_count(-1, now).await.unwrap(), 1);
    assert_eq!(store.waiting_count(cmd.id, now).await.unwrap(), 0);
    assert_eq!(store.queued_count().await.unwrap(), 0);
    assert!(
        !store
            .transition_chat_command(cmd.id, ChatCommandState::Queued, ChatCommandState::Aborted)
            .await
            .unwrap(),
        "not in the expected state"
    );
    assert!(
        store
            .transition_chat_command(cmd.id, ChatCommandState::Received, ChatCommandState::Queued)
            .await
            .unwrap()
    );
    assert!(store.user_in_flight(1, -1).await.unwrap());
    assert_eq!(store.queued_count().await.unwrap(), 1);

    // Claimed, then given back: queued again, lease gone, attempts kept.
    store
        .claim_next_chat_command("w1", LEASE, now)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(store.queued_count().await.unwrap(), 0);
    assert!(store.user_in_flight(1, -1).await.unwrap());
    assert!(
        !store
            .requeue_chat_command(cmd.id, "w2", None)
            .await
            .unwrap()
    );
    assert!(
        store
            .requeue_chat_command(cmd.id, "w1", Some("rate limited by backend"))
            .await
            .unwrap()
    );
    let requeued = store.chat_command(cmd.id).await.unwrap().unwrap();
    assert_eq!(requeued.state, ChatCommandState::Queued);
    assert_eq!(requeued.step, ChatCommandStep::Enqueued);
    assert_eq!(requeued.lease_owner, None);
    assert_eq!(requeued.attempts, 1);
    assert_eq!(requeued.error.as_deref(), Some("rate limited by backend"));
    let again = store
        .claim_next_chat_command("w2", LEASE, now)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(again.id, cmd.id);
    assert_eq!(again.attempts, 2);

    // In-progress commands are the worker's.
    let err = store
        .transition_chat_command(
            cmd.id,
            ChatCommandState::InProgress,
            ChatCommandState::Aborted,
        )
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::InvalidArgument(_)));
    store
        .finish_chat_command(cmd.id, "w2", &outcome(ChatCommandState::Completed, None))
        .await
        .unwrap();
    assert!(!store.user_in_flight(1, -1).await.unwrap());

    // An admin aborts a queued command.
    let queued = store
        .insert_chat_command(new_command(2, 1, now))
        .await
        .unwrap();
    assert!(
        store
            .transition_chat_command(
                queued.id,
                ChatCommandState::Queued,
                ChatCommandState::Aborted
            )
            .await
            .unwrap()
    );
    let aborted = store.chat_command(queued.id).await.unwrap().unwrap();
    assert_eq!(aborted.state, ChatCommandState::Aborted);
    assert_eq!(aborted.step, ChatCommandStep::Done);
    assert!(aborted.finished_at.is_some());
    assert_eq!(
        store
            .claim_next_chat_command("w1", LEASE, now)
            .await
            .unwrap(),
        None
    );
}

async fn expire_commands_with_dead_tokens(kind: DatabaseKind) {
    let Some(db) = fresh(kind).await else {
        return;
    };
    let store = &*db.store;
    let now = t0();
    store.upsert_user(1, "ann", None).await.unwrap();
    let start = now - mins(20);
    // Token valid until now - 5 min.
    let held = store
        .insert_chat_command(new_command(1, 1, start))
        .await
        .unwrap();
    store
        .claim_next_chat_command("w1", Duration::from_secs(3600), start)
        .await
        .unwrap()
        .unwrap();
    let abandoned = store
        .insert_chat_command(new_command(3, 1, start))
        .await
        .unwrap();
    let claimed = store
        .claim_next_chat_command("w2", LEASE, start + mins(1))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(claimed.id, abandoned.id);
    let stale_queued = store
        .insert_chat_command(new_command(2, 1, start))
        .await
        .unwrap();
    let fresh_cmd = store
        .insert_chat_command(new_command(4, 1, now))
        .await
        .unwrap();

    // stale_queued (dead token) and abandoned (dead token, lease over) expire; the command w1 still holds
    // and the fresh one do not.
    assert_eq!(store.expire_chat_commands(now).await.unwrap(), 2);
    let state = |id| async move { store.chat_command(id).await.unwrap().unwrap().state };
    assert_eq!(state(held.id).await, ChatCommandState::InProgress);
    assert_eq!(state(stale_queued.id).await, ChatCommandState::Expired);
    assert_eq!(state(abandoned.id).await, ChatCommandState::Expired);
    assert_eq!(state(fresh_cmd.id).await, ChatCommandState::Queued);
    let expired = store.chat_command(abandoned.id).await.unwrap().unwrap();
    assert_eq!(expired.lease_owner, None);
    assert_eq!(expired.finished_at, Some(now));
    assert_eq!(store.expire_chat_commands(now).await.unwrap(), 0);
}

/// Creates a command for `user` at `at` and takes it to the end through a worker.
async fn answered(
    store: &dyn Store,
    interaction_id: u64,
    user: u64,
    at: DateTime<Utc>,
    usage: Option<TokenUsage>,
) -> i64 {
    let cmd = store
        .insert_chat_command(new_command(interaction_id, user, at))
        .await
        .unwrap();
    let claimed = store
        .claim_next_chat_command("w", LEASE, at)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(claimed.id, cmd.id);
    let state = if usage.is_some() {
        ChatCommandState::Completed
    } else {
        ChatCommandState::Failed
    };
    assert!(
        store
            .finish_chat_command(cmd.id, "w", &outcome(state, usage))
            .await
            .unwrap()
    );
    cmd.id
}

/// The user's `/clear` at `at`.
async fn clear(store: &dyn Store, user_id: u64, at: DateTime<Utc>) {
    store
        .insert_clear_command(&ClearCommand {
            interaction_id: 99,
            user_id,
            guild_id: None,
            channel_id: None,
            created_at: at,
        })
        .await
        .unwrap();
}

async fn a_reply_finds_the_command_of_the_answer(kind: DatabaseKind) {
    let Some(db) = fresh(kind).await else { return };
    let store = db.store.as_ref();
    assert_eq!(store.chat_command_by_message(555).await.unwrap(), None);
    store.upsert_user(1, "ann", None).await.unwrap();
    // `outcome` records the answer as message 555.
    let cmd = answered(store, 1, 1, t0(), Some(USAGE)).await;
    assert_eq!(store.chat_command_by_message(555).await.unwrap(), Some(cmd));
    assert_eq!(store.chat_command_by_message(556).await.unwrap(), None);
}

async fn usage_window_counts_only_consumed_commands(kind: DatabaseKind) {
    let Some(db) = fresh(kind).await else {
        return;
    };
    let store = &*db.store;
    let now = t0();
    let hours = TimeDelta::hours;
    store.upsert_user(1, "ann", None).await.unwrap();
    store.upsert_user(2, "bob", None).await.unwrap();

    answered(store, 1, 1, now - hours(7), Some(USAGE)).await; // outside the window
    answered(store, 2, 1, now - hours(5), Some(USAGE)).await;
    answered(store, 3, 1, now - hours(2), None).await; // failed, no tokens
    answered(store, 4, 1, now - mins(30), Some(USAGE)).await;
    answered(store, 5, 2, now - mins(10), Some(USAGE)).await; // someone else
    // Queued, not answered yet.
    store
        .insert_chat_command(new_command(6, 1, now - mins(1)))
        .await
        .unwrap();

    let since = now - hours(6);
    let usage = |counted, oldest| disconcierge_store::Usage { counted, oldest };
    assert_eq!(
        store.usage_since(1, since).await.unwrap(),
        usage(2, Some(now - hours(5)))
    );
    assert_eq!(
        store.usage_since(2, since).await.unwrap(),
        usage(1, Some(now - mins(10)))
    );
    assert_eq!(store.usage_since(3, since).await.unwrap(), usage(0, None));
    assert_eq!(
        store.usage_since(1, now - hours(8)).await.unwrap(),
        usage(3, Some(now - hours(7)))
    );
    assert_eq!(store.usage_since(1, now).await.unwrap(), usage(0, None));
    // Exactly at the boundary counts.
    assert_eq!(
        store.usage_since(1, now - mins(30)).await.unwrap(),
        usage(1, Some(now - mins(30)))
    );
    // Recording a batch reports the same usage (with timestamps decoded alike), read before the batch.
    for (round, from) in [since, now - hours(8)].into_iter().enumerate() {
        let users = [1u64, 2, 3];
        let batch: Vec<_> = users
            .iter()
            .map(|&user| by(received(100 + 10 * round as u64 + user, user, now), "x"))
            .collect();
        let recorded = store
            .record_chat_commands(&batch, from, now, 100)
            .await
            .unwrap();
        for (one, user) in recorded.commands.iter().zip(users) {
            assert_eq!(one.usage, store.usage_since(user, from).await.unwrap());
        }
    }
}

// ----- Feedback and logs -----

fn feedback(chat_command_id: i64, user_id: u64, kind: FeedbackKind) -> UserFeedback {
    UserFeedback {
        chat_command_id,
        user_id,
        kind,
        detail: (kind == FeedbackKind::Other).then(|| "it said 1+1=3".to_string()),
        created_at: t0(),
    }
}

async fn feedback_one_vote_per_kind_except_other(kind: DatabaseKind) {
    let Some(db) = fresh(kind).await else {
        return;
    };
    let store = &*db.store;
    store.upsert_user(1, "ann", None).await.unwrap();
    let answer = answered(store, 1, 1, t0(), Some(USAGE)).await;
    let other_answer = answered(store, 2, 1, t0(), Some(USAGE)).await;

    let vote = |user, kind| async move {
        store
            .insert_user_feedback(&feedback(answer, user, kind))
            .await
            .unwrap()
    };
    assert!(vote(1, FeedbackKind::Good).await);
    assert!(
        !vote(1, FeedbackKind::Good).await,
        "a repeated vote is not recorded"
    );
    assert!(vote(1, FeedbackKind::Outdated).await);
    assert!(vote(2, FeedbackKind::Good).await);
    assert!(vote(1, FeedbackKind::Other).await);
    assert!(vote(1, FeedbackKind::Other).await, "free text may repeat");
    assert!(
        store
            .insert_user_feedback(&feedback(other_answer, 1, FeedbackKind::Good))
            .await
            .unwrap()
    );

    // The admin list: newest first, by kind, by user, in pages.
    let list = |filter: FeedbackFilter, limit| async move {
        store
            .list_feedback(&filter, limit)
            .await
            .unwrap()
            .into_iter()
            .map(|f| {
                (
                    f.feedback.user_id,
                    f.feedback.kind,
                    f.feedback.chat_command_id,
                )
            })
            .collect::<Vec<_>>()
    };
    use FeedbackKind::{Good, Other, Outdated};
    assert_eq!(
        list(FeedbackFilter::default(), 10).await,
        [
            (1, Good, other_answer),
            (1, Other, answer),
            (1, Other, answer),
            (2, Good, answer),
            (1, Outdated, answer),
            (1, Good, answer),
        ]
    );
    let goods = FeedbackFilter {
        kind: Some(Good),
        ..Default::default()
    };
    assert_eq!(
        list(goods.clone(), 2).await,
        [(1, Good, other_answer), (2, Good, answer)]
    );
    let second_newest = store.list_feedback(&goods, 2).await.unwrap()[1].id;
    assert_eq!(
        list(
            FeedbackFilter {
                before_id: Some(second_newest),
                ..goods
            },
            2
        )
        .await,
        [(1, Good, answer)]
    );
    assert_eq!(
        list(
            FeedbackFilter {
                user_id: Some(2),
                ..Default::default()
            },
            10
        )
        .await,
        [(2, Good, answer)]
    );

    let counts = store.feedback_counts(answer).await.unwrap();
    let expected = BTreeMap::from([
        (FeedbackKind::Good, 2),
        (FeedbackKind::Outdated, 1),
        (FeedbackKind::Other, 2),
    ]);
    assert_eq!(counts, expected);
    assert_eq!(
        store.feedback_counts(other_answer).await.unwrap(),
        BTreeMap::from([(FeedbackKind::Good, 1)])
    );
    assert!(
        store
            .feedback_counts(answer + 100)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        db.scalar_i64("SELECT COUNT(*) FROM user_feedback WHERE detail = 'it said 1+1=3'")
            .await,
        2
    );

    let err = store
        .insert_user_feedback(&feedback(answer + 100, 1, FeedbackKind::Good))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::NotFound(_)), "{err:?}");
}

async fn logs_are_inserted(kind: DatabaseKind) {
    let Some(db) = fresh(kind).await else {
        return;
    };
    let store = &*db.store;
    let now = t0();
    store.upsert_user(1, "ann", None).await.unwrap();
    let cmd = answered(store, 1, 1, now, Some(USAGE)).await;

    let log_id = store
        .insert_interaction_log(&InteractionLog {
            interaction_id: u64::MAX - 3,
            interaction_type: "application_command".into(),
            user_id: Some(1),
            guild_id: None,
            channel_id: Some(8),
            payload: serde_json::json!({"data": {"name": "chat"}}),
            received_at: now,
        })
        .await
        .unwrap();
    let second_log = store
        .insert_interaction_log(&InteractionLog {
            interaction_id: 2,
            interaction_type: "modal_submit".into(),
            user_id: None,
            guild_id: None,
            channel_id: None,
            payload: serde_json::json!({}),
            received_at: now,
        })
        .await
        .unwrap();
    assert!(second_log > log_id);
    // A batch, in one statement: every row lands with its own values.
    let batch: Vec<InteractionLog> = (0..1200u64)
        .map(|i| InteractionLog {
            interaction_id: 10_000 + i,
            interaction_type: "application_command".into(),
            user_id: Some(i),
            guild_id: (i % 2 == 0).then_some(77),
            channel_id: None,
            payload: serde_json::json!({"n": i}),
            received_at: now,
        })
        .collect();
    store.insert_interaction_logs(&batch).await.unwrap();
    store.insert_interaction_logs(&[]).await.unwrap();
    assert_eq!(
        db.scalar_i64(
            "SELECT COUNT(*) FROM interaction_logs WHERE interaction_id >= 10000 \
             AND interaction_id = user_id + 10000"
        )
        .await,
        1200
    );
    assert_eq!(
        db.scalar_i64("SELECT COUNT(*) FROM interaction_logs WHERE guild_id = 77")
            .await,
        600
    );
    // The admin list: newest first, by type, by user, in pages; and one entry whole.
    let ids = |filter: InteractionLogFilter, limit| async move {
        store
            .list_interaction_logs(&filter, limit)
            .await
            .unwrap()
            .into_iter()
            .map(|l| l.log.interaction_id)
            .collect::<Vec<_>>()
    };
    assert_eq!(
        ids(InteractionLogFilter::default(), 3).await,
        [11_199, 11_198, 11_197]
    );
    let modal = InteractionLogFilter {
        interaction_type: Some("modal_submit".into()),
        ..Default::default()
    };
    assert_eq!(ids(modal, 10).await, [2]);
    let by_user = InteractionLogFilter {
        user_id: Some(1),
        ..Default::default()
    };
    assert_eq!(ids(by_user.clone(), 10).await, [10_001, u64::MAX - 3]);
    let newest = store.list_interaction_logs(&by_user, 1).await.unwrap()[0].id;
    let older = InteractionLogFilter {
        before_id: Some(newest),
        ..by_user
    };
    assert_eq!(ids(older, 10).await, [u64::MAX - 3]);
    let one = store.interaction_log(log_id).await.unwrap().unwrap();
    assert_eq!(one.log.interaction_id, u64::MAX - 3);
    assert_eq!(
        one.log.payload,
        serde_json::json!({"data": {"name": "chat"}})
    );
    assert_eq!(one.log.channel_id, Some(8));
    assert_eq!(store.interaction_log(log_id + 100_000).await.unwrap(), None);
    assert_eq!(
        db.scalar_i64(&format!(
            "SELECT COUNT(*) FROM interaction_logs WHERE id = {log_id} AND interaction_id = {} \
             AND interaction_type = 'application_command' AND user_id = 1 AND channel_id = 8",
            (u64::MAX - 3) as i64
        ))
        .await,
        1
    );

    let message = DiscordMessage {
        message_id: 9001,
        channel_id: 8,
        guild_id: Some(7),
        user_id: Some(1),
        chat_command_id: Some(cmd),
        content: "answer".into(),
        payload: Some(serde_json::json!({"components": []})),
        created_at: now,
    };
    store.insert_discord_message(&message).await.unwrap();
    assert_eq!(
        store.recent_discord_messages(5).await.unwrap(),
        std::slice::from_ref(&message)
    );
    let elsewhere = DiscordMessage {
        message_id: 9002,
        channel_id: 9,
        user_id: Some(2),
        chat_command_id: None,
        ..message.clone()
    };
    store.insert_discord_message(&elsewhere).await.unwrap();
    let listed = |filter: DiscordMessageFilter| async move {
        store
            .list_discord_messages(&filter, 10)
            .await
            .unwrap()
            .into_iter()
            .map(|m| m.message)
            .collect::<Vec<_>>()
    };
    assert_eq!(
        listed(DiscordMessageFilter::default()).await,
        [elsewhere.clone(), message.clone()]
    );
    let by_author = DiscordMessageFilter {
        user_id: Some(1),
        ..Default::default()
    };
    assert_eq!(listed(by_author).await, std::slice::from_ref(&message));
    let in_channel = DiscordMessageFilter {
        channel_id: Some(9),
        ..Default::default()
    };
    assert_eq!(listed(in_channel).await, std::slice::from_ref(&elsewhere));
    let newest = store
        .list_discord_messages(&DiscordMessageFilter::default(), 1)
        .await
        .unwrap()[0]
        .id;
    let older = DiscordMessageFilter {
        before_id: Some(newest),
        ..Default::default()
    };
    assert_eq!(listed(older).await, std::slice::from_ref(&message));
    let orphan = DiscordMessage {
        chat_command_id: Some(cmd + 100),
        ..message.clone()
    };
    assert!(matches!(
        store.insert_discord_message(&orphan).await,
        Err(StoreError::NotFound(_))
    ));
    assert_eq!(
        db.scalar_i64(&format!(
            "SELECT COUNT(*) FROM discord_messages WHERE message_id = 9001 AND chat_command_id = {cmd}"
        ))
        .await,
        1
    );

    let call = LlmCallLog {
        chat_command_id: Some(cmd),
        provider: "openai".into(),
        operation: "responses.create".into(),
        model: Some("gpt-test".into()),
        request: serde_json::json!({"input": "hi"}),
        response: Some(serde_json::json!({"output": "hello"})),
        http_status: Some(200),
        error: None,
        started_at: now,
        duration_ms: 1234,
        usage: Some(USAGE),
    };
    store.insert_llm_call_log(&call).await.unwrap();
    store
        .insert_llm_call_log(&LlmCallLog {
            chat_command_id: None,
            response: None,
            http_status: None,
            error: Some("connection refused".into()),
            usage: None,
            ..call.clone()
        })
        .await
        .unwrap();
    assert_eq!(
        db.scalar_i64(&format!(
            "SELECT COUNT(*) FROM llm_call_logs WHERE chat_command_id = {cmd} AND provider = 'openai' \
             AND http_status = 200 AND duration_ms = 1234 AND total_tokens = 30 AND error IS NULL"
        ))
        .await,
        1
    );
    assert_eq!(
        db.scalar_i64(
            "SELECT COUNT(*) FROM llm_call_logs WHERE chat_command_id IS NULL \
             AND error = 'connection refused' AND total_tokens IS NULL AND response IS NULL"
        )
        .await,
        1
    );

    assert_eq!(store.last_clear_command(1).await.unwrap(), None);
    let clear = |interaction_id, at| ClearCommand {
        interaction_id,
        user_id: 1,
        guild_id: Some(7),
        channel_id: Some(8),
        created_at: at,
    };
    store
        .insert_clear_command(&clear(50, now - mins(10)))
        .await
        .unwrap();
    store.insert_clear_command(&clear(51, now)).await.unwrap();
    assert!(matches!(
        store.insert_clear_command(&clear(51, now)).await,
        Err(StoreError::AlreadyExists(_))
    ));
    assert_eq!(store.last_clear_command(1).await.unwrap(), Some(now));
    assert_eq!(store.last_clear_command(2).await.unwrap(), None);
}

async fn recent_exchanges_are_the_users_answered_ones_newest_first(kind: DatabaseKind) {
    let Some(db) = fresh(kind).await else {
        return;
    };
    let store = &*db.store;
    let now = t0();
    store.upsert_user(1, "ann", None).await.unwrap();
    store.upsert_user(2, "bob", None).await.unwrap();
    answered(store, 1, 1, now - mins(50), Some(USAGE)).await; // before `since`
    let a = answered(store, 2, 1, now - mins(30), Some(USAGE)).await;
    answered(store, 3, 1, now - mins(20), None).await; // failed: no answer to remember
    let b = answered(store, 4, 1, now - mins(10), Some(USAGE)).await;
    answered(store, 5, 2, now - mins(5), Some(USAGE)).await; // someone else's
    let current = answered(store, 6, 1, now - mins(1), Some(USAGE)).await;

    let since = now - mins(40);
    let all = store.recent_exchanges(1, since, current, 10).await.unwrap();
    // Newest first, the failed one and the current command left out.
    let expected = |n: u64| (format!("question {n}"), "answer".to_string());
    assert_eq!(all, [expected(4), expected(2)]);
    // The limit keeps the newest.
    assert_eq!(
        store.recent_exchanges(1, since, current, 1).await.unwrap(),
        [expected(4)]
    );
    let with_current = store.recent_exchanges(1, since, -1, 10).await.unwrap();
    assert_eq!(with_current, [expected(6), expected(4), expected(2)]);
    // A /clear starts the history again: what came before it is left out, whatever `since` says.
    clear(store, 1, now - mins(15)).await;
    assert_eq!(
        store.recent_exchanges(1, since, current, 10).await.unwrap(),
        [expected(4)]
    );
    assert_eq!(
        store
            .recent_exchanges(1, now - mins(12), current, 10)
            .await
            .unwrap(),
        [expected(4)],
        "`since` later than the /clear"
    );
    assert_eq!(
        store.recent_exchanges(2, since, -1, 10).await.unwrap(),
        [expected(5)],
        "another user's /clear changes nothing"
    );
    let _ = (a, b);
}

async fn a_commands_context_is_its_author_their_counted_commands_and_history(kind: DatabaseKind) {
    let Some(db) = fresh(kind).await else {
        return;
    };
    let store = &*db.store;
    let now = t0();
    let hours = TimeDelta::hours;
    let window = now - hours(6);
    assert_eq!(
        store.chat_context(1, window, -1, Some(10)).await.unwrap(),
        ChatContext::default(),
        "nobody yet"
    );
    store.upsert_user(1, "ann", None).await.unwrap();
    store.upsert_user(2, "bob", None).await.unwrap();
    answered(store, 1, 1, now - hours(7), Some(USAGE)).await; // remembered, out of the window
    answered(store, 2, 1, now - hours(5), Some(USAGE)).await;
    answered(store, 3, 1, now - hours(4), None).await; // failed: neither counted nor remembered
    answered(store, 4, 2, now - hours(3), Some(USAGE)).await; // someone else's
    answered(store, 5, 1, now - hours(2), Some(USAGE)).await;
    let current = store
        .insert_chat_command(new_command(6, 1, now - mins(1)))
        .await
        .unwrap();
    let claimed = store
        .claim_next_chat_command("w", LEASE, now)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(claimed.id, current.id);
    assert_eq!(
        claimed.step,
        ChatCommandStep::Generating,
        "claimed means on its way to the model"
    );

    let expected = |n: u64| (format!("question {n}"), "answer".to_string());
    let context = store
        .chat_context(1, window, current.id, Some(10))
        .await
        .unwrap();
    assert_eq!(context.user.as_ref().map(|u| u.discord_id), Some(1));
    assert_eq!(
        context.counted,
        [now - hours(5), now - hours(2)],
        "oldest first"
    );
    assert_eq!(context.exchanges, [expected(5), expected(2), expected(1)]);
    let limited = store
        .chat_context(1, window, current.id, Some(2))
        .await
        .unwrap();
    assert_eq!(limited.exchanges, [expected(5), expected(2)], "the newest");
    let bare = store
        .chat_context(1, window, current.id, None)
        .await
        .unwrap();
    assert_eq!(
        bare,
        ChatContext {
            exchanges: Vec::new(),
            ..context.clone()
        },
        "no history asked for, none read"
    );
    assert_eq!(
        store
            .chat_context(1, now - hours(3), current.id, Some(10))
            .await
            .unwrap()
            .counted,
        [now - hours(2)],
        "from the window start given"
    );

    // An admin clearing every conversation starts every history again; usage is unchanged.
    store.clear_all_conversations(now - hours(3)).await.unwrap();
    let reset = store
        .chat_context(1, window, current.id, Some(10))
        .await
        .unwrap();
    assert_eq!(reset.exchanges, [expected(5)]);
    assert_eq!(reset.counted, context.counted);
    // So does the user's own /clear.
    clear(store, 1, now - mins(90)).await;
    let cleared = store
        .chat_context(1, window, current.id, Some(10))
        .await
        .unwrap();
    assert!(cleared.exchanges.is_empty(), "{:?}", cleared.exchanges);
    assert_eq!(
        store
            .chat_context(2, window, -1, Some(10))
            .await
            .unwrap()
            .exchanges,
        [expected(4)],
        "another user's history is theirs"
    );
}

async fn stale_queued_commands_expire_and_come_back(kind: DatabaseKind) {
    let Some(db) = fresh(kind).await else {
        return;
    };
    let store = &*db.store;
    let now = t0();
    store.upsert_user(1, "ann", None).await.unwrap();
    let old = store
        .insert_chat_command(new_command(1, 1, now - mins(4)))
        .await
        .unwrap();
    let fresh_one = store
        .insert_chat_command(new_command(2, 1, now - mins(1)))
        .await
        .unwrap();
    // One in progress, however old, belongs to its worker.
    answered(store, 3, 1, now - mins(9), Some(USAGE)).await;
    let expired = store.expire_stale_queued(now - mins(3), now).await.unwrap();
    assert_eq!(expired.iter().map(|c| c.id).collect::<Vec<_>>(), [old.id]);
    assert_eq!(expired[0].state, ChatCommandState::Expired);
    assert_eq!(
        store
            .chat_command(fresh_one.id)
            .await
            .unwrap()
            .unwrap()
            .state,
        ChatCommandState::Queued
    );
    assert!(
        store
            .expire_stale_queued(now - mins(3), now)
            .await
            .unwrap()
            .is_empty(),
        "only once"
    );
}

async fn oldest_queued_prefers_non_priority_when_asked(kind: DatabaseKind) {
    let Some(db) = fresh(kind).await else {
        return;
    };
    let store = &*db.store;
    let now = t0();
    assert!(
        store
            .oldest_waiting(false, -1, now)
            .await
            .unwrap()
            .is_none()
    );
    store.upsert_user(1, "vip", None).await.unwrap();
    store.set_user_priority(1, true).await.unwrap();
    store.upsert_user(2, "ann", None).await.unwrap();
    let vip = store
        .insert_chat_command(new_command(1, 1, now - mins(5)))
        .await
        .unwrap();
    // Recorded and being acknowledged: waiting too.
    let mut received = new_command(2, 2, now - mins(4));
    received.state = ChatCommandState::Received;
    let ann_old = store.insert_chat_command(received).await.unwrap();
    let ann_new = store
        .insert_chat_command(new_command(3, 2, now - mins(3)))
        .await
        .unwrap();
    assert!(vip.priority);
    assert_eq!(
        store
            .oldest_waiting(false, -1, now)
            .await
            .unwrap()
            .unwrap()
            .id,
        vip.id
    );
    assert_eq!(
        store
            .oldest_waiting(true, -1, now)
            .await
            .unwrap()
            .unwrap()
            .id,
        ann_old.id
    );
    // The command being admitted is never its own victim.
    assert_eq!(
        store
            .oldest_waiting(true, ann_old.id, now)
            .await
            .unwrap()
            .unwrap()
            .id,
        ann_new.id
    );
    assert_eq!(store.waiting_count(ann_new.id, now).await.unwrap(), 2);
    // Commands whose token died are not waiting any more.
    assert_eq!(
        store
            .waiting_count(-1, now + TimeDelta::hours(1))
            .await
            .unwrap(),
        0
    );
}

async fn received_commands_are_requeued_while_their_token_lives(kind: DatabaseKind) {
    let Some(db) = fresh(kind).await else {
        return;
    };
    let store = &*db.store;
    let now = t0();
    store.upsert_user(1, "ann", None).await.unwrap();
    let received = |interaction: u64, at| {
        let mut c = new_command(interaction, 1, at);
        c.state = ChatCommandState::Received;
        c
    };
    let stranded = store
        .insert_chat_command(received(1, now - mins(2)))
        .await
        .unwrap();
    let mut dead = received(2, now - mins(20));
    dead.token_expires_at = now - mins(5);
    let dead = store.insert_chat_command(dead).await.unwrap();
    let just_now = store.insert_chat_command(received(3, now)).await.unwrap();
    assert_eq!(store.requeue_received(now - mins(1), now).await.unwrap(), 1);
    let state = |id| async move { store.chat_command(id).await.unwrap().unwrap().state };
    assert_eq!(state(stranded.id).await, ChatCommandState::Queued);
    assert_eq!(
        state(dead.id).await,
        ChatCommandState::Received,
        "the janitor closes it as expired"
    );
    assert_eq!(
        state(just_now.id).await,
        ChatCommandState::Received,
        "still being acknowledged"
    );
}

async fn an_acknowledged_command_is_queued_once(kind: DatabaseKind) {
    let Some(db) = fresh(kind).await else {
        return;
    };
    let store = &*db.store;
    let now = t0();
    store.upsert_user(1, "ann", None).await.unwrap();
    let mut new = new_command(41, 1, now);
    new.state = ChatCommandState::Received;
    let received = store.insert_chat_command(new).await.unwrap();
    let mut new = new_command(42, 1, now);
    new.state = ChatCommandState::RateLimited;
    let refused = store.insert_chat_command(new).await.unwrap();

    let mut new = new_command(44, 1, now);
    new.state = ChatCommandState::Received;
    let other = store.insert_chat_command(new).await.unwrap();

    assert_eq!(store.queue_acknowledged(&[]).await.unwrap(), 0);
    assert_eq!(store.queue_acknowledged(&[41]).await.unwrap(), 1);
    let queued = store.chat_command(received.id).await.unwrap().unwrap();
    assert_eq!(queued.state, ChatCommandState::Queued);
    assert_eq!(queued.step, ChatCommandStep::Enqueued);
    assert_eq!(
        store.chat_command(other.id).await.unwrap().unwrap().state,
        ChatCommandState::Received,
        "only the interactions given"
    );
    // A second acknowledgement (a redelivery) changes nothing; nor does one of a settled command or of
    // an unknown interaction; in one statement with others, only the one waiting is queued.
    assert_eq!(store.queue_acknowledged(&[41]).await.unwrap(), 0);
    assert_eq!(store.queue_acknowledged(&[42]).await.unwrap(), 0);
    assert_eq!(store.queue_acknowledged(&[43]).await.unwrap(), 0);
    assert_eq!(
        store.queue_acknowledged(&[41, 42, 43, 44]).await.unwrap(),
        1
    );
    assert_eq!(
        store.chat_command(other.id).await.unwrap().unwrap().state,
        ChatCommandState::Queued
    );
    assert_eq!(
        store.chat_command(refused.id).await.unwrap().unwrap().state,
        ChatCommandState::RateLimited
    );
}

/// A batch's `waiting` may be a bound (SQLite skips the count while the bound leaves room), but never
/// below the truth, and exact whenever the queue could fill with the batch.
async fn the_waiting_figure_is_exact_whenever_the_queue_could_fill(kind: DatabaseKind) {
    let Some(db) = fresh(kind).await else {
        return;
    };
    let store = &*db.store;
    let now = t0();
    let since = now - TimeDelta::hours(6);
    const LIMIT: u64 = 4;
    let record = |interactions: &'static [u64]| async move {
        let exact = store.waiting_count(-1, now).await.unwrap();
        let batch: Vec<_> = interactions
            .iter()
            .map(|&i| by(received(i, 100 + i, now), "someone"))
            .collect();
        let recorded = store
            .record_chat_commands(&batch, since, now, LIMIT)
            .await
            .unwrap();
        let reported = recorded.waiting;
        assert!(reported >= exact, "{interactions:?}: {reported} < {exact}");
        assert!(
            reported == exact || reported + (batch.len() as u64) < LIMIT,
            "{interactions:?}: {reported} instead of {exact} with the queue near full"
        );
        let ids: Vec<i64> = recorded
            .commands
            .iter()
            .map(|c| c.command.as_ref().unwrap().id)
            .collect();
        (reported, exact, ids)
    };
    let abort = |ids: Vec<i64>| async move {
        for id in ids {
            assert!(
                store
                    .transition_chat_command(
                        id,
                        ChatCommandState::Received,
                        ChatCommandState::Aborted
                    )
                    .await
                    .unwrap()
            );
        }
    };
    let (_, _, a) = record(&[1]).await;
    abort(a).await;
    // Nothing waits; SQLite's bound (the 1 recorded since its count) leaves room: not counted.
    let (reported, exact, b) = record(&[2]).await;
    assert_eq!(exact, 0);
    if kind == DatabaseKind::Sqlite {
        assert_eq!(reported, 1, "the bound, not a count");
    }
    // The bound (2) and the batch (2) would fill the queue: counted.
    let (reported, exact, cd) = record(&[3, 4]).await;
    assert_eq!((reported, exact), (1, 1));
    abort(b.into_iter().chain(cd).collect()).await;
    let (reported, _, _) = record(&[5]).await;
    assert_eq!(reported, 0, "counted: 3 recorded since the last count");
    record(&[6]).await;
    // A command recorded alone waits too: the next batch counts it (a stale bound would say 2).
    store.upsert_user(107, "someone", None).await.unwrap();
    store
        .insert_chat_command(received(7, 107, now))
        .await
        .unwrap();
    let (reported, exact, _) = record(&[8]).await;
    assert_eq!((reported, exact), (3, 3));
}

async fn a_batch_is_recorded_in_order_with_what_admission_needs(kind: DatabaseKind) {
    let Some(db) = fresh(kind).await else {
        return;
    };
    let store = &*db.store;
    let now = t0();
    let since = now - TimeDelta::hours(6);
    // Before: ann has an answer in the window and a command being answered; bob is a priority user
    // with nothing in flight; one other command waits in the queue.
    store.upsert_user(1, "ann", None).await.unwrap();
    store.upsert_user(2, "bob", None).await.unwrap();
    store.set_user_priority(2, true).await.unwrap();
    answered(store, 1, 1, now - TimeDelta::hours(1), Some(USAGE)).await;
    store
        .insert_chat_command(new_command(2, 1, now - mins(1)))
        .await
        .unwrap();
    assert_eq!(store.waiting_count(-1, now).await.unwrap(), 1);
    assert!(
        store
            .record_chat_commands(&[], since, now, 100)
            .await
            .unwrap()
            .commands
            .is_empty()
    );

    let mut private = received(12, 2, now);
    private.private = true;
    private.guild_id = None;
    private.channel_id = None;
    let mut refused = received(14, 3, now);
    refused.state = ChatCommandState::RateLimited;
    let batch = [
        by(received(10, 1, now), "ann"),
        by(received(11, 3, now), "cid"), // a new user
        by(private, "bob"),
        by(received(10, 1, now), "ann"), // the same interaction again: recorded once
        by(received(2, 1, now), "ann"),  // recorded before: a redelivery
        by(refused, "cid"),
    ]
    .map(|mut b| {
        if b.command.user_id == 2 {
            b.username = "bob".into();
        }
        if b.command.user_id == 3 {
            b.username = "cid".into();
            b.global_name = Some("Cid".into());
        }
        b
    });
    let recorded = store
        .record_chat_commands(&batch, since, now, 100)
        .await
        .unwrap();
    assert_eq!(recorded.waiting, 1, "read before the batch");
    assert_eq!(recorded.commands.len(), batch.len());

    let users: Vec<u64> = recorded
        .commands
        .iter()
        .map(|c| c.user.discord_id)
        .collect();
    assert_eq!(users, [1, 3, 2, 1, 1, 3]);
    let cid = &recorded.commands[1].user;
    assert_eq!(
        (cid.username.as_str(), cid.global_name.as_deref()),
        ("cid", Some("Cid"))
    );
    assert_eq!(store.user(3).await.unwrap().unwrap().username, "cid");
    // What admission needs, as the single reads report it before the batch.
    let ann = &recorded.commands[0];
    assert_eq!(ann.usage.counted, 1);
    assert_eq!(ann.usage, store.usage_since(1, since).await.unwrap());
    assert!(ann.in_flight, "her command 2 is queued");
    assert!(!recorded.commands[1].in_flight);
    assert_eq!(recorded.commands[1].usage.counted, 0);
    assert!(!recorded.commands[2].in_flight);

    // Recorded in the order given, ids following it; duplicates and redeliveries left out.
    let ids: Vec<Option<i64>> = recorded
        .commands
        .iter()
        .map(|c| c.command.as_ref().map(|c| c.id))
        .collect();
    assert!(ids[3].is_none() && ids[4].is_none(), "{ids:?}");
    let kept: Vec<i64> = ids.iter().flatten().copied().collect();
    assert_eq!(kept.len(), 4);
    assert!(kept.windows(2).all(|w| w[0] < w[1]), "{kept:?}");
    let first = recorded.commands[0].command.clone().unwrap();
    assert_eq!(first.interaction_id, 10);
    assert_eq!(first.interaction_token.expose(), "token-10");
    assert_eq!(first.state, ChatCommandState::Received);
    assert_eq!(first.step, ChatCommandStep::Enqueued);
    assert_eq!(first.created_at, now);
    assert_eq!(first.token_expires_at, now + mins(15));
    assert_eq!((first.guild_id, first.channel_id), (Some(7), Some(8)));
    assert!(!first.private && !first.priority);
    assert_eq!(first.finished_at, None);
    let bob = recorded.commands[2].command.clone().unwrap();
    assert!(bob.private && bob.priority, "priority copied from the user");
    assert_eq!((bob.guild_id, bob.channel_id), (None, None));
    let settled = recorded.commands[5].command.clone().unwrap();
    assert_eq!(settled.state, ChatCommandState::RateLimited);
    assert_eq!(settled.step, ChatCommandStep::Done);
    assert_eq!(settled.finished_at, Some(now));
    // What was read back is what is stored.
    assert_eq!(store.chat_command(first.id).await.unwrap().unwrap(), first);
    assert_eq!(
        store
            .chat_command_by_interaction(12)
            .await
            .unwrap()
            .unwrap(),
        bob
    );

    // The next batch sees this one: ann in flight, three more waiting.
    let next = store
        .record_chat_commands(&[by(received(20, 3, now), "cid")], since, now, 100)
        .await
        .unwrap();
    assert_eq!(next.waiting, 4);
    assert!(next.commands[0].in_flight);
    // Waiting commands are counted up to the limit asked for (five wait now).
    for (limit, counted) in [(0, 0), (3, 3), (5, 5), (6, 5)] {
        let user = 40 + limit;
        let recorded = store
            .record_chat_commands(&[by(received(user, user, now), "x")], since, now, limit)
            .await
            .unwrap();
        assert_eq!(recorded.waiting, counted, "limit {limit}");
        store
            .transition_chat_command(
                recorded.commands[0].command.as_ref().unwrap().id,
                ChatCommandState::Received,
                ChatCommandState::Aborted,
            )
            .await
            .unwrap();
    }

    // A command cannot be recorded as being answered.
    let mut claimed = received(30, 1, now);
    claimed.state = ChatCommandState::InProgress;
    assert!(matches!(
        store
            .record_chat_commands(&[by(claimed, "ann")], since, now, 100)
            .await,
        Err(StoreError::InvalidArgument(_))
    ));
    assert!(
        store
            .chat_command_by_interaction(30)
            .await
            .unwrap()
            .is_none()
    );
}

// ----- Admin lists -----

async fn admin_lists_filter_and_page_by_id(kind: DatabaseKind) {
    let Some(db) = fresh(kind).await else {
        return;
    };
    let store = &*db.store;
    let now = t0();
    store.upsert_user(1, "ann", None).await.unwrap();
    store.upsert_user(2, "bob", None).await.unwrap();
    // 10 commands, one a minute: odd interaction ids by ann in guild 7, even ones by bob in guild 9 (bob's
    // are failed).
    let mut ids = Vec::new();
    for i in 1..=10u64 {
        let user = if i % 2 == 1 { 1 } else { 2 };
        let mut new = new_command(i, user, now - mins(20) + mins(i as i64));
        if user == 2 {
            new.guild_id = Some(9);
            new.state = ChatCommandState::Failed;
        }
        ids.push(store.insert_chat_command(new).await.unwrap().id);
    }
    let list = |filter: ChatCommandFilter, limit| async move {
        store
            .list_chat_commands(&filter, limit)
            .await
            .unwrap()
            .into_iter()
            .map(|c| c.interaction_id)
            .collect::<Vec<_>>()
    };
    // Newest first, paged by id.
    let page1 = list(ChatCommandFilter::default(), 4).await;
    assert_eq!(page1, [10, 9, 8, 7]);
    let cursor = store
        .chat_command_by_interaction(7)
        .await
        .unwrap()
        .unwrap()
        .id;
    let page2 = list(
        ChatCommandFilter {
            before_id: Some(cursor),
            ..Default::default()
        },
        4,
    )
    .await;
    assert_eq!(page2, [6, 5, 4, 3]);
    assert_eq!(
        list(
            ChatCommandFilter {
                user_id: Some(1),
                ..Default::default()
            },
            50
        )
        .await,
        [9, 7, 5, 3, 1]
    );
    assert_eq!(
        list(
            ChatCommandFilter {
                state: Some(ChatCommandState::Failed),
                guild_id: Some(9),
                ..Default::default()
            },
            2
        )
        .await,
        [10, 8]
    );
    assert!(
        list(
            ChatCommandFilter {
                state: Some(ChatCommandState::Failed),
                guild_id: Some(7),
                ..Default::default()
            },
            50
        )
        .await
        .is_empty()
    );
    // Created in [now-17m, now-14m): interactions 3, 4, 5.
    assert_eq!(
        list(
            ChatCommandFilter {
                created_from: Some(now - mins(17)),
                created_before: Some(now - mins(14)),
                ..Default::default()
            },
            50
        )
        .await,
        [5, 4, 3]
    );
    assert_eq!(ids.len(), 10);
}

async fn llm_calls_and_feedback_of_a_command(kind: DatabaseKind) {
    let Some(db) = fresh(kind).await else {
        return;
    };
    let store = &*db.store;
    let now = t0();
    store.upsert_user(1, "ann", None).await.unwrap();
    let cmd = answered(store, 1, 1, now, Some(USAGE)).await;
    let other = answered(store, 2, 1, now, Some(USAGE)).await;
    let call = LlmCallLog {
        chat_command_id: Some(cmd),
        provider: "openai".into(),
        operation: "responses.create".into(),
        model: Some("gpt-test".into()),
        request: serde_json::json!({"input": "<script>alert(1)</script>"}),
        response: Some(serde_json::json!({"output": "hello"})),
        http_status: Some(200),
        error: None,
        started_at: now,
        duration_ms: 1234,
        usage: Some(USAGE),
    };
    let failed = LlmCallLog {
        response: None,
        http_status: Some(429),
        error: Some("rate limited".into()),
        usage: None,
        ..call.clone()
    };
    store.insert_llm_call_log(&failed).await.unwrap();
    store.insert_llm_call_log(&call).await.unwrap();
    store
        .insert_llm_call_log(&LlmCallLog {
            chat_command_id: Some(other),
            ..call.clone()
        })
        .await
        .unwrap();
    let calls = store.llm_calls_for_command(cmd).await.unwrap();
    assert_eq!(
        calls.iter().map(|c| c.log.clone()).collect::<Vec<_>>(),
        [failed.clone(), call.clone()]
    );
    assert!(calls[0].id < calls[1].id);

    // Several at once: stored as one by one, in order; with one naming a command that is not there,
    // none is.
    let streamed = LlmCallLog {
        operation: "chat.completions.stream".into(),
        model: None,
        request: serde_json::json!(["a list", 1, null]),
        duration_ms: 7,
        ..call.clone()
    };
    store.insert_llm_call_logs(&[]).await.unwrap();
    let batch = [call.clone(), failed.clone(), streamed.clone()];
    let missing = LlmCallLog {
        chat_command_id: Some(other + 1000),
        ..call.clone()
    };
    assert!(
        store
            .insert_llm_call_logs(&[call.clone(), missing])
            .await
            .is_err()
    );
    store.insert_llm_call_logs(&batch).await.unwrap();
    let calls = store.llm_calls_for_command(cmd).await.unwrap();
    assert_eq!(
        calls.iter().map(|c| c.log.clone()).collect::<Vec<_>>(),
        [
            failed.clone(),
            call.clone(),
            call.clone(),
            failed.clone(),
            streamed
        ],
        "the refused batch left nothing"
    );
    assert!(calls.windows(2).all(|w| w[0].id < w[1].id));

    // Built once: `t0()` is the current second, so building them again to compare could cross
    // into the next one.
    let good = feedback(cmd, 5, FeedbackKind::Good);
    let other_kind = feedback(cmd, 6, FeedbackKind::Other);
    store.insert_user_feedback(&good).await.unwrap();
    store.insert_user_feedback(&other_kind).await.unwrap();
    store
        .insert_user_feedback(&feedback(other, 6, FeedbackKind::Inaccurate))
        .await
        .unwrap();
    let got = store.feedback_for_command(cmd).await.unwrap();
    assert_eq!(
        got.iter().map(|f| f.feedback.clone()).collect::<Vec<_>>(),
        [good, other_kind]
    );
    assert!(
        store
            .feedback_for_command(cmd + 1000)
            .await
            .unwrap()
            .is_empty()
    );
}

async fn users_are_searched_sorted_and_paged(kind: DatabaseKind) {
    let Some(db) = fresh(kind).await else {
        return;
    };
    let store = &*db.store;
    // Seen in this order: carol, ann, bob_99, dave (so "recent" is dave, bob_99, ann, carol).
    for (id, name, display) in [
        (3, "carol", Some("Carol Danvers")),
        (1, "ann", None),
        (2, "bob_99", Some("Bobby 100%")),
        (4, "dave", None),
    ] {
        store.upsert_user(id, name, display).await.unwrap();
        // Distinct last-seen times (the store stamps the clock's now): no wait for anything to happen.
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let names = |users: Vec<disconcierge_core::model::User>| {
        users.into_iter().map(|u| u.username).collect::<Vec<_>>()
    };
    let recent = store.list_users(&UserFilter::default(), 3).await.unwrap();
    let last = recent.last().unwrap().clone();
    assert_eq!(names(recent), ["dave", "bob_99", "ann"]);
    let rest = store
        .list_users(
            &UserFilter {
                after_recent: Some((last.updated_at, last.discord_id)),
                ..Default::default()
            },
            3,
        )
        .await
        .unwrap();
    assert_eq!(names(rest), ["carol"]);

    let by_name = UserFilter {
        sort: UserSort::Name,
        ..Default::default()
    };
    assert_eq!(
        names(store.list_users(&by_name, 2).await.unwrap()),
        ["ann", "bob_99"]
    );
    let page2 = UserFilter {
        after_name: Some(("bob_99".into(), 2)),
        ..by_name.clone()
    };
    assert_eq!(
        names(store.list_users(&page2, 5).await.unwrap()),
        ["carol", "dave"]
    );

    let search = |text: &str| UserFilter {
        search: Some(text.into()),
        sort: UserSort::Name,
        ..Default::default()
    };
    assert_eq!(
        names(store.list_users(&search("DANVERS"), 10).await.unwrap()),
        ["carol"],
        "display names, any case"
    );
    assert_eq!(
        names(store.list_users(&search("b_9"), 10).await.unwrap()),
        ["bob_99"]
    );
    assert!(
        store
            .list_users(&search("l_"), 10)
            .await
            .unwrap()
            .is_empty(),
        "_ is a character, not a wildcard (it would match \"Carol Danvers\")"
    );
    assert_eq!(
        names(store.list_users(&search("100%"), 10).await.unwrap()),
        ["bob_99"]
    );
    assert!(
        store
            .list_users(&search("r%s"), 10)
            .await
            .unwrap()
            .is_empty(),
        "% is a character, not a wildcard"
    );
    assert_eq!(
        names(store.list_users(&search("4"), 10).await.unwrap()),
        ["dave"],
        "a whole id"
    );
    assert!(
        store
            .list_users(&search("zed"), 10)
            .await
            .unwrap()
            .is_empty()
    );

    // Feedback by user, newest first.
    let cmd = answered(store, 10, 1, t0(), Some(USAGE)).await;
    for kind in [
        FeedbackKind::Good,
        FeedbackKind::Outdated,
        FeedbackKind::Other,
    ] {
        store
            .insert_user_feedback(&feedback(cmd, 4, kind))
            .await
            .unwrap();
    }
    let given = store.feedback_by_user(4, 2).await.unwrap();
    assert_eq!(
        given.iter().map(|f| f.feedback.kind).collect::<Vec<_>>(),
        [FeedbackKind::Other, FeedbackKind::Outdated]
    );
    assert!(store.feedback_by_user(1, 10).await.unwrap().is_empty());
}
