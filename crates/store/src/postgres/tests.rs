//! The postgres backend's own tests: its statements' plans and text, its connection handling.

use super::shared::desk::*;

use super::*;

/// Every hot-path query reads an index, never the whole table. With a few test rows the planner
/// would rightly prefer a sequential scan, so it is discouraged for the check: what matters is that a
/// usable index exists.
#[tokio::test]
async fn hot_paths_use_indexes() {
    let Some(db) = crate::testing::TestDb::postgres().await else {
        return;
    };
    let backend = Backend::connect(&db.opts).await.unwrap();
    let mut conn = backend.pool().acquire().await.unwrap();
    // Plans that hold for any parameter values (a NULL argument could be planned away).
    for setting in [
        "SET enable_seqscan = off",
        "SET plan_cache_mode = force_generic_plan",
    ] {
        sqlx::query(setting).execute(&mut *conn).await.unwrap();
    }
    let mut queries: Vec<(&str, &str)> = crate::sql::HOT_PATHS.to_vec();
    queries.push((CLAIM, "chat_commands"));
    queries.push((RECORD_USERS.as_str(), "chat_commands"));
    queries.push((RECORD_USERS_UNCOUNTED.as_str(), "chat_commands"));
    queries.push((QUEUE_ACKNOWLEDGED, "chat_commands"));
    queries.push((EXPIRE_CHAT_COMMANDS.as_str(), "chat_commands"));
    // The dashboard's statistics read indexes too.
    queries.push((HOUR_COMMANDS.as_str(), "chat_commands"));
    queries.push((TICKETS_OPENED_PER_HOUR, "tickets"));
    queries.push((TICKETS_CLOSED_PER_HOUR, "tickets"));
    for (query, table) in queries {
        // Parameters are typed by the explain's PREPARE from the statement's context.
        sqlx::query(sqlx::AssertSqlSafe(format!("PREPARE hot AS {query}")))
            .execute(&mut *conn)
            .await
            .unwrap();
        let params = query.matches('$').count();
        let distinct = (1..=params)
            .filter(|i| query.contains(&format!("${i}")))
            .count();
        let args = vec!["NULL"; distinct].join(", ");
        let explain = if distinct == 0 {
            "EXPLAIN EXECUTE hot".to_string()
        } else {
            format!("EXPLAIN EXECUTE hot({args})")
        };
        let plan: Vec<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(explain))
            .fetch_all(&mut *conn)
            .await
            .unwrap();
        sqlx::query("DEALLOCATE hot")
            .execute(&mut *conn)
            .await
            .unwrap();
        let full_scan = format!("Seq Scan on {table}");
        assert!(
            !plan.iter().any(|line| line.contains(&full_scan)),
            "{query}\nscans {table}:\n{}",
            plan.join("\n")
        );
    }
}

/// The plan of `query` (prepared, so that its parameters get their types from the statement) with NULL
/// for every parameter.
async fn plan(conn: &mut sqlx::PgConnection, query: &str) -> Vec<String> {
    sqlx::query(sqlx::AssertSqlSafe(format!("PREPARE desk AS {query}")))
        .execute(&mut *conn)
        .await
        .unwrap_or_else(|e| panic!("{query}: {e}"));
    let params = (1..=9).filter(|i| query.contains(&format!("${i}"))).count();
    let explain = if params == 0 {
        "EXPLAIN EXECUTE desk".to_string()
    } else {
        format!("EXPLAIN EXECUTE desk({})", vec!["NULL"; params].join(", "))
    };
    let plan = sqlx::query_scalar(sqlx::AssertSqlSafe(explain))
        .fetch_all(&mut *conn)
        .await
        .unwrap();
    sqlx::query("DEALLOCATE desk")
        .execute(&mut *conn)
        .await
        .unwrap();
    plan
}

/// The desk's look-ups and lists read an index, as the hot paths do (sequential scans discouraged:
/// what matters is that a usable index exists).
#[tokio::test]
async fn desk_queries_use_indexes() {
    use disconcierge_core::desk::model::{TicketFilter, TicketState};
    let Some(db) = crate::testing::TestDb::postgres().await else {
        return;
    };
    let backend = Backend::connect(&db.opts).await.unwrap();
    let mut conn = backend.pool().acquire().await.unwrap();
    for setting in [
        "SET enable_seqscan = off",
        "SET plan_cache_mode = force_generic_plan",
    ] {
        sqlx::query(setting).execute(&mut *conn).await.unwrap();
    }
    let filters = [
        TicketFilter {
            guild_id: Some(1),
            before_id: Some(10),
            ..Default::default()
        },
        TicketFilter {
            state: Some(TicketState::Open),
            ..Default::default()
        },
        TicketFilter {
            opener_id: Some(7),
            ..Default::default()
        },
    ];
    let mut queries: Vec<(String, &str)> = filters
        .iter()
        .map(|f| {
            (
                list_tickets_query(f, 50).sql().as_str().to_string(),
                "tickets",
            )
        })
        .collect();
    for category in [None, Some("billing")] {
        let page = list_training_query(1, category, Some((0, 10)));
        queries.push((page.sql().as_str().to_string(), "training_entries"));
    }
    for (query, table) in [
        (OPEN_TICKET_LOCKED, "tickets"),
        (IDLE_TICKETS, "tickets"),
        (TICKET_BY_THREAD, "tickets"),
        (LATEST_TICKET_MESSAGES, "ticket_messages"),
        (REPLY_COUNTS, "ticket_messages"),
        (TRAINING_BY_KEY_LOCKED, "training_entries"),
        (MISSING_EMBEDDINGS, "training_entries"),
        (MISSING_EMBEDDINGS, "kb_entries"),
        (KB_ENTRIES_PAGE, "kb_entries"),
        (LIST_KBS, "knowledge_bases"),
        (SEARCH_TRAINING, "training_entries"),
        (SEARCH_KNOWLEDGE, "kb_entries"),
        (DESK_GUILDS, "tickets"),
        (DESK_GUILDS, "training_entries"),
        (DESK_GUILDS, "knowledge_bases"),
        (KB_ENTRY, "kb_entries"),
        (EDIT_KB_ENTRY, "kb_entries"),
        (DELETE_KB_ENTRY, "kb_entries"),
        (EDIT_TRAINING, "training_entries"),
    ] {
        queries.push((query.to_string(), table));
    }
    for (query, table) in queries {
        let plan = plan(&mut conn, &query).await;
        let full_scan = format!("Seq Scan on {table}");
        assert!(
            !plan.iter().any(|line| line.contains(&full_scan)),
            "{query}\nscans {table}:\n{}",
            plan.join("\n")
        );
    }
}

/// With a realistic amount of entries, a search reads the GIN index of the `search` documents, not
/// every entry of the guild.
#[tokio::test]
async fn desk_searches_use_the_gin_indexes() {
    let Some(db) = crate::testing::TestDb::postgres().await else {
        return;
    };
    db.execute(
        "INSERT INTO training_entries (guild_id, question, question_key, answer, tags, created_by, \
             created_at, updated_at) \
         SELECT 1, 'question ' || i, 'question ' || i, 'answer number ' || i, '[\"tag\"]', 1, now(), \
             now() \
         FROM generate_series(1, 3000) AS i; \
         INSERT INTO knowledge_bases (guild_id, name, name_key, created_by, created_at) \
         VALUES (1, 'docs', 'docs', 1, now()); \
         INSERT INTO kb_entries (kb_id, guild_id, title, content, tags, created_by, created_at, \
             updated_at) \
         SELECT 1, 1, 'title ' || i, 'content number ' || i, '[]', 1, now(), now() \
         FROM generate_series(1, 3000) AS i;",
    )
    .await;
    // As autovacuum would: GIN's pending list is merged and the statistics are current.
    db.execute("VACUUM ANALYZE training_entries").await;
    db.execute("VACUUM ANALYZE kb_entries").await;
    let backend = Backend::connect(&db.opts).await.unwrap();
    let mut conn = backend.pool().acquire().await.unwrap();
    for (query, args, index) in [
        (
            SEARCH_TRAINING,
            "1, 'zebra', 10, NULL",
            "training_entries_search",
        ),
        (
            SEARCH_KNOWLEDGE,
            "1, 'zebra', 10, NULL, NULL",
            "kb_entries_search",
        ),
        (
            SEARCH_KNOWLEDGE,
            "1, 'zebra', 10, NULL, 1",
            "kb_entries_search",
        ),
    ] {
        sqlx::query(sqlx::AssertSqlSafe(format!("PREPARE search AS {query}")))
            .execute(&mut *conn)
            .await
            .unwrap();
        let plan: Vec<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "EXPLAIN EXECUTE search({args})"
        )))
        .fetch_all(&mut *conn)
        .await
        .unwrap();
        sqlx::query("DEALLOCATE search")
            .execute(&mut *conn)
            .await
            .unwrap();
        assert!(
            plan.iter().any(|line| line.contains(index)),
            "{query} does not use {index}:\n{}",
            plan.join("\n")
        );
    }
}

#[tokio::test]
async fn connection_errors_never_show_the_password() {
    let opts = ConnectOptions::postgres("postgres://dc:hunter2@127.0.0.1:1/dc?connect_timeout=2");
    let err = match crate::connect(&opts).await {
        Ok(_) => panic!("connected to port 1"),
        Err(e) => e,
    };
    let msg = err.to_string();
    let dbg = format!("{err:?}");
    assert!(
        !msg.contains("hunter2") && !dbg.contains("hunter2"),
        "{msg}\n{dbg}"
    );
    assert!(
        msg.starts_with(
            "could not open the PostgreSQL database at postgres://dc:***@127.0.0.1:1/dc"
        ),
        "{msg}"
    );
    assert!(msg.contains("check the URL"), "{msg}");
    assert!(
        !msg.contains("pool timed out"),
        "the cause is hidden: {msg}"
    );
}
