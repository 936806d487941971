//! Reads the Python ticket bot's SQLite database (`DB_PATH`, `data/training.db`) for `disconcierge
//! import ticket-bot`: the rows of its `training_data` table, opened read-only so the file is never
//! changed. Columns beyond `query` and `response` are optional (`category`, `tags`, `usage_count`,
//! `guild_id`); each value is read as text, since SQLite keeps whatever type the bot wrote.

use crate::StoreError;
use disconcierge_core::desk::ticket_bot::TicketBotRow;
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{Connection, Row};
use std::path::Path;

const WHAT: &str = "the ticket bot's database";

/// Every row of `training_data` in the database at `path`, in the order they were written.
pub async fn read_training(path: &Path) -> Result<Vec<TicketBotRow>, StoreError> {
    let shown = path.display().to_string();
    let fail = |message: String| StoreError::Foreign {
        what: WHAT,
        path: shown.clone(),
        message,
    };
    if !path.is_file() {
        return Err(fail(
            "there is no such file (DB_PATH in the ticket bot's .env says where it is, data/training.db by default)"
                .into(),
        ));
    }
    let options = SqliteConnectOptions::new()
        .filename(path)
        .read_only(true)
        .create_if_missing(false);
    let mut conn = sqlx::SqliteConnection::connect_with(&options)
        .await
        .map_err(|e| fail(format!("{e} (is it an SQLite database?)")))?;
    let columns: Vec<String> = sqlx::query("SELECT name FROM pragma_table_info('training_data')")
        .fetch_all(&mut conn)
        .await
        .map_err(|e| fail(format!("{e} (is it an SQLite database?)")))?
        .iter()
        .map(|r| r.try_get::<String, _>("name"))
        .collect::<Result<_, _>>()?;
    if columns.is_empty() {
        return Err(fail(
            "it has no training_data table, so it is not the ticket bot's training database".into(),
        ));
    }
    for needed in ["query", "response"] {
        if !columns.iter().any(|c| c == needed) {
            return Err(fail(format!(
                "its training_data table has no {needed} column (it has: {})",
                columns.join(", ")
            )));
        }
    }
    let optional = |name: &str| {
        if columns.iter().any(|c| c == name) {
            format!("CAST({name} AS TEXT)")
        } else {
            "NULL".to_string()
        }
    };
    let sql = format!(
        "SELECT rowid AS row_number, CAST(query AS TEXT) AS query, CAST(response AS TEXT) AS response, \
         {} AS category, {} AS tags, {} AS usage_count, {} AS guild_id \
         FROM training_data ORDER BY rowid",
        optional("category"),
        optional("tags"),
        optional("usage_count"),
        optional("guild_id"),
    );
    // Only fixed column names are put in the statement (chosen above), never a value.
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .fetch_all(&mut conn)
        .await
        .map_err(|e| fail(e.to_string()))?;
    let _ = conn.close().await;
    let file = path
        .file_name()
        .map(|f| f.to_string_lossy().into_owned())
        .unwrap_or_else(|| shown.clone());
    rows.iter()
        .map(|r| {
            let number: i64 = r.try_get("row_number")?;
            let source = format!("{file} row {number}");
            let text = |name: &str| r.try_get::<Option<String>, _>(name);
            let guild_id =
                match text("guild_id")?.map(|g| g.trim().to_string()) {
                    None => None,
                    Some(g) if g.is_empty() => None,
                    Some(g) => Some(g.parse::<u64>().map_err(|_| {
                        fail(format!("{source}: guild_id {g:?} is not a server id"))
                    })?),
                };
            Ok(TicketBotRow {
                guild_id,
                query: text("query")?.unwrap_or_default(),
                response: text("response")?.unwrap_or_default(),
                category: text("category")?,
                tags: text("tags")?,
                usage_count: text("usage_count")?
                    .and_then(|n| n.trim().parse::<f64>().ok())
                    .map(|n| n as i64)
                    .unwrap_or(0),
                source,
            })
        })
        .collect()
}
