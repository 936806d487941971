//! The sqlite backend's own tests: its statements' plans and text, its connection handling.

use super::shared::desk::*;
use super::shared::rows::*;

use super::*;
use crate::{LogStore, UserStore};

/// A bare parameter as `LIMIT` / `OFFSET` makes SQLite recompile the statement on every execution
/// (see `sql.rs`); it was a twelfth of SQLite's time on the chat path.
#[test]
fn no_statement_binds_a_bare_limit_or_offset() {
    let sources = [
        ("sql.rs", include_str!("../sql.rs")),
        ("sqlite.rs", include_str!("../sqlite.rs")),
        ("shared/activity.rs", include_str!("../shared/activity.rs")),
        ("shared/admins.rs", include_str!("../shared/admins.rs")),
        ("shared/config.rs", include_str!("../shared/config.rs")),
        ("shared/logs.rs", include_str!("../shared/logs.rs")),
        ("shared/mod.rs", include_str!("../shared/mod.rs")),
        ("shared/queue.rs", include_str!("../shared/queue.rs")),
        ("shared/rows.rs", include_str!("../shared/rows.rs")),
        ("shared/users.rs", include_str!("../shared/users.rs")),
        (
            "shared/desk/knowledge.rs",
            include_str!("../shared/desk/knowledge.rs"),
        ),
        ("shared/desk/mod.rs", include_str!("../shared/desk/mod.rs")),
        (
            "shared/desk/tickets.rs",
            include_str!("../shared/desk/tickets.rs"),
        ),
        (
            "shared/desk/training.rs",
            include_str!("../shared/desk/training.rs"),
        ),
    ];
    for (file, text) in sources {
        for (n, line) in text.lines().enumerate() {
            for keyword in ["LIMIT", "OFFSET"] {
                // A bound parameter in SQL text, or pushed by a query builder after the keyword.
                for bare in [format!("{keyword} $"), format!("{keyword} \")")] {
                    assert!(
                        !line.contains(&bare),
                        "{file}:{}: write {keyword} CAST($n AS BIGINT), or a literal number",
                        n + 1
                    );
                }
            }
        }
    }
}

#[test]
fn timestamps_sort_as_text() {
    let a = DateTime::from_timestamp(1_700_000_000, 0).unwrap();
    let b = DateTime::from_timestamp(1_700_000_000, 500_000_000).unwrap();
    let c = DateTime::from_timestamp(1_700_000_001, 0).unwrap();
    assert_eq!(ts(a), "2023-11-14T22:13:20.000000Z");
    assert!(ts(a) < ts(b) && ts(b) < ts(c));
    let back = DateTime::parse_from_rfc3339(&ts(b)).unwrap();
    assert_eq!(back, b);
}

async fn store() -> (crate::testing::TestDb, &'static Backend) {
    let db = crate::testing::TestDb::sqlite().await;
    let backend = Backend::connect(&db.opts).await.unwrap();
    (db, Box::leak(Box::new(backend)))
}

/// Every hot-path query reads an index, never the whole table.
#[tokio::test]
async fn hot_paths_use_indexes() {
    let (_db, backend) = store().await;
    let mut queries: Vec<(&str, &str)> = crate::sql::HOT_PATHS.to_vec();
    queries.push((CLAIM, "chat_commands"));
    queries.push((EXCHANGES_SINCE_RESET.as_str(), "chat_commands"));
    queries.push((RECORD_USERS.as_str(), "chat_commands"));
    queries.push((RECORD_USERS_UNCOUNTED.as_str(), "chat_commands"));
    queries.push((QUEUE_ACKNOWLEDGED, "chat_commands"));
    queries.push((EXPIRE_CHAT_COMMANDS.as_str(), "chat_commands"));
    for (query, table) in queries {
        let explain = format!("EXPLAIN QUERY PLAN {query}");
        let rows: Vec<(i64, i64, i64, String)> = sqlx::query_as(sqlx::AssertSqlSafe(explain))
            .fetch_all(&mut *backend.reader().await.unwrap())
            .await
            .unwrap();
        let plan: Vec<&str> = rows.iter().map(|r| r.3.as_str()).collect();
        assert!(
            plan.iter().any(|d| d.contains(table)),
            "plan of {query} does not mention {table}: {plan:?}"
        );
        for detail in &plan {
            // "SCAN t USING [COVERING] INDEX i" walks an index; a bare "SCAN t" reads the table.
            let full_scan = detail.starts_with(&format!("SCAN {table}"))
                && !detail.contains("USING INDEX")
                && !detail.contains("USING COVERING INDEX");
            assert!(!full_scan, "{query}\nscans {table}: {plan:?}");
        }
    }
}

/// The queue's own statements walk the index made for them. Without statistics SQLite preferred the
/// admin list's `(state, id)` index for their `state` terms: the claim then sorted every live row
/// (0.6 ms a claim with 6,000 queued), and queueing and expiring read every row of their states.
/// A claimed command's context walks the author's usage window, already in order.
#[tokio::test]
async fn queue_statements_walk_their_own_indexes() {
    let (_db, backend) = store().await;
    let expect = [
        (CLAIM, "SCAN chat_commands USING INDEX chat_commands_claim"),
        (
            QUEUE_ACKNOWLEDGED,
            "SEARCH chat_commands USING INDEX sqlite_autoindex_chat_commands_1 (interaction_id=?)",
        ),
        (
            EXPIRE_CHAT_COMMANDS.as_str(),
            "SEARCH chat_commands USING INDEX chat_commands_token_expiry (token_expires_at<?)",
        ),
        (
            crate::sql::COUNTED_SINCE,
            "SEARCH chat_commands USING INDEX chat_commands_user_usage (user_id=? AND created_at>?)",
        ),
        (
            EXCHANGES_SINCE_RESET.as_str(),
            "SEARCH chat_commands USING INDEX chat_commands_user_usage (user_id=? AND created_at>?)",
        ),
    ];
    for (sql, walk) in expect {
        let steps = plan(backend, sql).await;
        assert!(steps.iter().any(|d| d == walk), "{sql}\n{steps:?}");
        assert!(
            !steps.iter().any(|d| d.contains("TEMP B-TREE")),
            "{sql}\nsorts: {steps:?}"
        );
        assert!(
            !steps.iter().any(|d| d.contains("chat_commands_state_id")),
            "{sql}\nwalks the admin list's index: {steps:?}"
        );
    }
}

/// Counting the waiting commands, done for every batch of acknowledgements, reads index entries
/// only: with a long backlog, reading each waiting row from the table was most of a batch's time.
#[tokio::test]
async fn the_waiting_count_reads_only_its_index() {
    let (_db, backend) = store().await;
    for sql in [crate::sql::WAITING_COUNT, RECORD_USERS.as_str()] {
        let steps = plan(backend, sql).await;
        assert!(
            steps
                .iter()
                .any(|d| d.contains("USING COVERING INDEX chat_commands_waiting")),
            "{sql}\n{steps:?}"
        );
    }
}

/// The admin list's filters each walk their own index (a page must not read a million rows).
#[tokio::test]
async fn admin_list_filters_use_indexes() {
    use disconcierge_core::model::{ChatCommandFilter, ChatCommandState};
    let (_db, backend) = store().await;
    let filters = [
        (
            ChatCommandFilter {
                user_id: Some(7),
                before_id: Some(100),
                ..Default::default()
            },
            "chat_commands_user_id",
        ),
        (
            ChatCommandFilter {
                state: Some(ChatCommandState::Failed),
                ..Default::default()
            },
            "chat_commands_state_id",
        ),
        (
            ChatCommandFilter {
                guild_id: Some(9),
                ..Default::default()
            },
            "chat_commands_guild_id",
        ),
        // A date range: two seeks on the created_at index, then a walk by id.
        (
            ChatCommandFilter {
                created_from: Some(Utc::now()),
                created_before: Some(Utc::now()),
                ..Default::default()
            },
            "INTEGER PRIMARY KEY",
        ),
    ];
    for (filter, index) in filters {
        let query = list_chat_commands_query(&filter, 50);
        assert_walks(backend, query.sql().as_str(), index, &format!("{filter:?}")).await;
    }
    use disconcierge_core::model::{FeedbackFilter, FeedbackKind};
    let feedback = [
        // Unfiltered: the table in rowid order, newest first, stopping at the limit.
        (FeedbackFilter::default(), "SCAN user_feedback"),
        (
            FeedbackFilter {
                kind: Some(FeedbackKind::Other),
                before_id: Some(10),
                ..Default::default()
            },
            "user_feedback_kind",
        ),
        (
            FeedbackFilter {
                user_id: Some(7),
                ..Default::default()
            },
            "user_feedback_user",
        ),
    ];
    use disconcierge_core::model::InteractionLogFilter;
    let logs = [
        (
            InteractionLogFilter {
                user_id: Some(7),
                before_id: Some(10),
                ..Default::default()
            },
            "interaction_logs_user",
        ),
        (
            InteractionLogFilter {
                interaction_type: Some("modal_submit".into()),
                ..Default::default()
            },
            "interaction_logs_type",
        ),
    ];
    use disconcierge_core::model::DiscordMessageFilter;
    let messages = [
        (
            DiscordMessageFilter {
                user_id: Some(7),
                before_id: Some(10),
                ..Default::default()
            },
            "discord_messages_user",
        ),
        (
            DiscordMessageFilter {
                channel_id: Some(8),
                ..Default::default()
            },
            "discord_messages_channel",
        ),
    ];
    for (filter, index) in messages {
        let query = list_discord_messages_query(&filter, 50);
        assert_walks(backend, query.sql().as_str(), index, &format!("{filter:?}")).await;
    }
    for (filter, index) in logs {
        let query = list_interaction_logs_query(&filter, 50);
        assert_walks(backend, query.sql().as_str(), index, &format!("{filter:?}")).await;
    }
    for (filter, index) in feedback {
        let query = list_feedback_query(&filter, 50);
        assert_walks(backend, query.sql().as_str(), index, &format!("{filter:?}")).await;
    }
}

/// Asserts that `sql` uses `index` and never sorts (it walks the index in the order asked).
async fn assert_walks(backend: &Backend, sql: &str, index: &str, what: &str) {
    let explain = format!("EXPLAIN QUERY PLAN {sql}");
    // EXPLAIN needs values for the placeholders; NULLs are enough to get the plan.
    let placeholders = explain.matches('?').count() + explain.matches('$').count();
    let mut q = sqlx::query_as::<_, (i64, i64, i64, String)>(sqlx::AssertSqlSafe(explain));
    for _ in 0..placeholders {
        q = q.bind(None::<i64>);
    }
    let plan: Vec<String> = q
        .fetch_all(&mut *backend.reader().await.unwrap())
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.3)
        .collect();
    assert!(
        plan.iter().any(|d| d.contains(index)),
        "{what} does not use {index}: {plan:?}"
    );
    assert!(
        !plan.iter().any(|d| d.contains("TEMP B-TREE")),
        "{what} sorts instead of walking the index: {plan:?}"
    );
}

/// A rollup's hour is a walk of the primary key over the hour's id range (two seeks on the
/// `created_at` index find it), its inner query a co-routine; tickets per hour read their index.
#[tokio::test]
async fn statistics_read_indexes() {
    let (_db, backend) = store().await;
    let steps = plan(backend, HOUR_COMMANDS.as_str()).await;
    assert!(
        steps
            .iter()
            .any(|d| d.starts_with("SEARCH chat_commands USING INTEGER PRIMARY KEY")),
        "{steps:?}"
    );
    assert!(
        steps
            .iter()
            .filter(|d| d.contains("chat_commands_created"))
            .count()
            == 2,
        "{steps:?}"
    );
    assert!(steps.iter().any(|d| d.contains("CO-ROUTINE")), "{steps:?}");
    assert!(
        !steps.iter().any(|d| d == "SCAN chat_commands"),
        "{steps:?}"
    );
    for (sql, index) in [
        (TICKETS_OPENED_PER_HOUR, "tickets_created"),
        (TICKETS_CLOSED_PER_HOUR, "tickets_closed"),
    ] {
        let steps = plan(backend, sql).await;
        assert!(steps.iter().any(|d| d.contains(index)), "{steps:?}");
    }
}

/// The SQL bucket of a latency is `LatencyHistogram::bucket_of`'s, bounds included.
#[tokio::test]
async fn latency_buckets_in_sql_match_the_domain() {
    use disconcierge_core::stats::{LATENCY_BOUNDS_MS, LatencyHistogram};
    let (_db, backend) = store().await;
    let sql = format!("SELECT {}", crate::sql::latency_bucket("$1"));
    let mut values: Vec<f64> = vec![0.0, 1.0, 49.0, 2e6, 1e9];
    for b in LATENCY_BOUNDS_MS {
        values.extend([b as f64 - 1.0, b as f64 - 0.5, b as f64, b as f64 + 1.0]);
    }
    for ms in values {
        let bucket: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(sql.clone()))
            .bind(ms)
            .fetch_one(&mut *backend.reader().await.unwrap())
            .await
            .unwrap();
        assert_eq!(bucket as usize, LatencyHistogram::bucket_of(ms), "{ms} ms");
    }
    let null: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
        .bind(None::<f64>)
        .fetch_one(&mut *backend.reader().await.unwrap())
        .await
        .unwrap();
    assert_eq!(null, -1);
}

/// The plan of `sql`, one line per step.
async fn plan(backend: &Backend, sql: &str) -> Vec<String> {
    let explain = format!("EXPLAIN QUERY PLAN {sql}");
    sqlx::query_as::<_, (i64, i64, i64, String)>(sqlx::AssertSqlSafe(explain))
        .fetch_all(&mut *backend.reader().await.unwrap())
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.3)
        .collect()
}

/// Names written into the desk's SQL are the domain's (`as_str`), so rows read back parse.
#[test]
fn desk_names_in_sql_match_the_domain() {
    use disconcierge_core::desk::model::{ReplySource, TicketState};
    let quoted = |sql: &str| -> Vec<String> {
        sql.split('\'')
            .skip(1)
            .step_by(2)
            .map(str::to_owned)
            .collect()
    };
    let states = [
        INSERT_TICKET,
        ESCALATE_TICKET,
        REENABLE_TICKET_AI,
        CLOSE_TICKET,
        IDLE_TICKETS,
        OPEN_TICKET_LOCKED,
        crate::postgres::OPEN_TICKET_LOCKED,
    ]
    .map(quoted)
    .concat();
    assert!(states.len() >= 8, "{states:?}");
    for state in states {
        assert!(TicketState::parse(&state).is_some(), "{state:?}");
    }
    let sources = quoted(REPLY_COUNTS);
    assert_eq!(sources.len(), 4);
    for source in sources {
        assert!(ReplySource::parse(&source).is_some(), "{source:?}");
    }
    let kinds = quoted(MISSING_EMBEDDINGS);
    assert_eq!(kinds.len(), 2);
    for kind in kinds {
        assert!(entry_kind(&kind).is_some(), "{kind:?}");
    }
}

/// The desk's searches read the full-text index: the FTS5 table answers the MATCH (its plan's index
/// string holds `M`) and the ranking (no sort of our own), and each hit is fetched by rowid. No table
/// is scanned, so the cost follows the matches, not the entries.
#[tokio::test]
async fn desk_searches_read_the_full_text_index() {
    let (_db, backend) = store().await;
    for (query, fts) in [
        (SEARCH_TRAINING, "training_fts"),
        (SEARCH_KNOWLEDGE, "kb_fts"),
        (SEARCH_TRAINING_ALL, "training_fts"),
        (SEARCH_KNOWLEDGE_ALL, "kb_fts"),
    ] {
        let plan = plan(backend, query).await;
        let scan = plan
            .iter()
            .find(|d| d.starts_with(&format!("SCAN {fts} VIRTUAL TABLE INDEX ")))
            .unwrap_or_else(|| panic!("{fts} is not searched: {plan:?}"));
        let index_string = scan.rsplit(':').next().unwrap();
        assert!(index_string.contains('M'), "MATCH not used: {plan:?}");
        for detail in &plan {
            assert!(
                !detail.starts_with("SCAN ") || detail.contains("VIRTUAL TABLE"),
                "{fts} search scans a table: {plan:?}"
            );
            assert!(
                !detail.contains("TEMP B-TREE"),
                "{fts} search sorts: {plan:?}"
            );
        }
    }
}

/// The desk's look-ups and lists each walk their index (no table scan; lists in index order, unsorted).
#[tokio::test]
async fn desk_queries_use_their_indexes() {
    use disconcierge_core::desk::model::{TicketFilter, TicketState};
    let (_db, backend) = store().await;
    let tickets = [
        (
            TicketFilter {
                guild_id: Some(1),
                before_id: Some(10),
                ..Default::default()
            },
            "tickets_guild",
        ),
        (
            TicketFilter {
                state: Some(TicketState::Escalated),
                ..Default::default()
            },
            "tickets_state",
        ),
        (
            TicketFilter {
                opener_id: Some(7),
                ..Default::default()
            },
            "tickets_opener",
        ),
    ];
    for (filter, index) in tickets {
        let query = list_tickets_query(&filter, 50);
        assert_walks(backend, query.sql().as_str(), index, &format!("{filter:?}")).await;
    }
    let training = [
        (None, "training_entries_guild"),
        (Some("billing"), "training_entries_category"),
    ];
    for (category, index) in training {
        let query = list_training_query(1, category, Some((20, 10)));
        assert_walks(backend, query.sql().as_str(), index, "list_training").await;
        let count = list_training_query(1, category, None);
        assert_walks(backend, count.sql().as_str(), index, "count_training").await;
    }
    let statements = [
        (OPEN_TICKET_LOCKED, "tickets_one_open"),
        (IDLE_TICKETS, "tickets_idle"),
        (UNANSWERED_TICKET_MESSAGES, "ticket_messages_unanswered"),
        (TICKET_MESSAGES, "ticket_messages_ticket"),
        (TRAINING_BY_KEY_LOCKED, "training_entries_key"),
        (REPLY_COUNTS, "ticket_messages_replies"),
        (KB_ENTRIES_PAGE, "kb_entries_kb"),
        (KB_BY_NAME, "knowledge_bases_name_key"),
        (TICKET_BY_THREAD, "tickets"),
    ];
    for (query, index) in statements {
        assert_walks(backend, query, index, query).await;
    }
    // The latest messages: a walk back on the ticket's index; only those few are put in order.
    let latest = plan(backend, LATEST_TICKET_MESSAGES).await;
    assert!(
        latest.iter().any(|d| d.contains("ticket_messages_ticket")),
        "{latest:?}"
    );
    // Missing embeddings: ranges of the model indexes, nothing when every vector is current.
    let missing = plan(backend, MISSING_EMBEDDINGS).await;
    for index in [
        "training_entries_embedding_model",
        "kb_entries_embedding_model",
    ] {
        assert!(missing.iter().any(|d| d.contains(index)), "{missing:?}");
    }
    // The admin interface's look-ups: by primary key, and the guilds by skipping along their indexes
    // (one search per guild, never a scan of the rows).
    let mut by_key = Vec::new();
    for query in [KB_ENTRY, EDIT_KB_ENTRY, DELETE_KB_ENTRY, EDIT_TRAINING] {
        by_key.extend(plan(backend, query).await);
    }
    let guilds = plan(backend, DESK_GUILDS).await;
    for table in ["tickets", "training_entries", "knowledge_bases"] {
        assert!(
            guilds
                .iter()
                .any(|d| d.starts_with(&format!("SEARCH {table} USING")) && d.contains("INDEX")),
            "{table}: {guilds:?}"
        );
    }
    for detail in latest.iter().chain(&missing).chain(&by_key).chain(&guilds) {
        let table_scan = [
            "ticket_messages",
            "training_entries",
            "kb_entries",
            "tickets",
            "knowledge_bases",
        ]
        .iter()
        .any(|table| detail.starts_with(&format!("SCAN {table}")))
            && !detail.contains("USING INDEX")
            && !detail.contains("USING COVERING INDEX");
        assert!(
            !table_scan,
            "{detail}: {latest:?} {missing:?} {by_key:?} {guilds:?}"
        );
    }
}

/// SQLite checkpoints its WAL by itself only when a write statement runs to its end; writes that
/// return rows must not stop at the first one (see `RunToEnd`). Thousands of writes in a row leave a
/// WAL of about the writer's auto-checkpoint size, not one that grows with every write.
#[tokio::test]
async fn the_wal_stays_bounded_under_writes() {
    let (db, backend) = store().await;
    let path = db.opts.url_or_path.clone();
    backend.upsert_user(1, "ann", None).await.unwrap();
    for i in 0..6000u64 {
        backend
            .upsert_user(i, &format!("user{i}"), None)
            .await
            .unwrap();
        backend
            .insert_interaction_log(&disconcierge_core::model::InteractionLog {
                interaction_id: i,
                interaction_type: "ping".into(),
                user_id: None,
                guild_id: None,
                channel_id: None,
                payload: serde_json::json!({}),
                received_at: Utc::now(),
            })
            .await
            .unwrap();
    }
    // About 12,000 writes of two pages or more: some 100 MB of WAL if nothing were ever checkpointed.
    // The writer's safety net (1,500 pages, 6 MB) keeps it near that, but a checkpoint cannot start the
    // WAL over while the background checkpointer holds its lock or a reader its snapshot, so on a
    // busy machine (the whole suite in parallel on 2 cores) it reached 21 MB after half these writes.
    // The bound is what separates "bounded" from "grows with every write", with room for that.
    let wal = std::fs::metadata(format!("{path}-wal")).unwrap().len();
    assert!(wal < 40_000_000, "the WAL grew to {wal} bytes");
    let db_file = std::fs::metadata(&path).unwrap().len();
    assert!(
        db_file > 100_000,
        "nothing was checkpointed: {db_file} bytes"
    );
}

/// Writes reach the database file through the background checkpointer, long before the writer's own
/// checkpoint (its safety net, at far more pages than this test writes) would copy them.
#[tokio::test]
async fn the_wal_is_checkpointed_in_the_background() {
    let (db, backend) = store().await;
    let path = db.opts.url_or_path.clone();
    let size = || std::fs::metadata(&path).unwrap().len();
    let before = size();
    for i in 0..u64::from(CHECKPOINT_EVERY_WRITES) * 2 {
        backend
            .upsert_user(i, &format!("user{i}"), None)
            .await
            .unwrap();
    }
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while size() <= before {
        assert!(
            std::time::Instant::now() < deadline,
            "nothing was checkpointed: the file stayed at {before} bytes"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let wal = std::fs::metadata(format!("{path}-wal")).unwrap().len();
    let pages: u64 = WRITER_AUTOCHECKPOINT_PAGES.parse().unwrap();
    assert!(
        wal < pages * 4096,
        "the writer's own checkpoint was reached ({wal} bytes)"
    );
}

#[tokio::test]
async fn creates_the_file_and_its_directory() {
    let db = crate::testing::TestDb::sqlite().await;
    let dir = Path::new(&db.opts.url_or_path).parent().unwrap().to_owned();
    let path = dir.join("a/b/new.sqlite3");
    let backend = Backend::connect(&ConnectOptions::sqlite(path.to_str().unwrap()))
        .await
        .unwrap();
    assert!(path.exists());
    let journal: String = sqlx::query_scalar("PRAGMA journal_mode")
        .fetch_one(&mut *backend.reader().await.unwrap())
        .await
        .unwrap();
    assert_eq!(journal, "wal");
    let backend = &backend;
    let pragma = |name: &'static str| async move {
        sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(format!("PRAGMA {name}")))
            .fetch_one(&mut *backend.reader().await.unwrap())
            .await
            .unwrap()
    };
    assert_eq!(pragma("foreign_keys").await, 1);
    assert_eq!(pragma("busy_timeout").await, 5000);
    assert_eq!(pragma("synchronous").await, 1, "NORMAL");

    // A `sqlite:` URL works too.
    let url_path = dir.join("c/url.sqlite3");
    let store = crate::connect(&ConnectOptions::sqlite(format!(
        "sqlite://{}",
        url_path.display()
    )))
    .await
    .unwrap();
    store.migrate().await.unwrap();
    assert!(url_path.exists());
}

#[tokio::test]
async fn an_unwritable_location_says_what_to_check() {
    let err = match crate::connect(&ConnectOptions::sqlite("/proc/disconcierge/dc.sqlite3")).await {
        Ok(_) => panic!("opened a database under /proc"),
        Err(e) => e,
    };
    let msg = err.to_string();
    assert!(
        msg.starts_with("could not open the SQLite database at /proc/disconcierge/dc.sqlite3: "),
        "{msg}"
    );
    assert!(msg.contains("writable"), "{msg}");
}
