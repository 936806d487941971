//! The support desk's storage ([`crate::DeskStore`]) for one backend: the statements that are the same
//! text on both, value conversions, row mappers and transaction bodies; one module per role trait
//! (`tickets`, `training`, `knowledge`). Declared after the `macro_rules!` column lists, which they use.

use super::*;
use crate::desk::{ImportReport, KbCreated, TicketReservation};
use disconcierge_core::desk::model::{
    EntryKind, GuildSettings, KbEntry, KnowledgeBase, MemberReplies, NewKbEntry, NewTicket,
    NewTicketMessage, NewTrainingEntry, ReplySource, TextMatch, Ticket, TicketAuthor, TicketFilter,
    TicketMessage, TicketState, TrainOutcome, TrainingEntry, TrainingStats, UsedEntry,
};
use disconcierge_core::desk::retrieval::question_key;
use disconcierge_core::desk::ticket_bot::ImportedTraining;

/// The columns of a trained answer as read back (not the embedding, nor PostgreSQL's search document).
macro_rules! training_columns {
    () => {
        "id, guild_id, question, answer, category, tags, created_by, uses, last_used_at, created_at, \
         updated_at"
    };
}

/// The columns of a knowledge-base entry as read back (not the embedding, nor the search document).
macro_rules! kb_entry_columns {
    () => {
        "id, kb_id, guild_id, title, content, tags, created_by, created_at, updated_at"
    };
}

/// A knowledge base with its entry count; complete the `WHERE` clause.
macro_rules! select_kb {
    () => {
        "SELECT k.*, (SELECT COUNT(*) FROM kb_entries e WHERE e.kb_id = k.id) AS entry_count \
         FROM knowledge_bases k WHERE "
    };
}

// ----- Statements (the same text on both backends) -----

const UPSERT_GUILD_SETTINGS: &str = "\
    INSERT INTO guild_settings (guild_id, forum_channel_id, staff_role_id, log_channel_id, instructions, \
        auto_close_after_secs, ai_replies, training, member_replies_per_6h, member_reply_interval_secs, \
        updated_by, updated_at) \
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) \
    ON CONFLICT (guild_id) DO UPDATE SET forum_channel_id = excluded.forum_channel_id, \
        staff_role_id = excluded.staff_role_id, log_channel_id = excluded.log_channel_id, \
        instructions = excluded.instructions, auto_close_after_secs = excluded.auto_close_after_secs, \
        ai_replies = excluded.ai_replies, training = excluded.training, \
        member_replies_per_6h = excluded.member_replies_per_6h, \
        member_reply_interval_secs = excluded.member_reply_interval_secs, \
        updated_by = excluded.updated_by, updated_at = excluded.updated_at";

const GUILD_SETTINGS: &str = "SELECT * FROM guild_settings WHERE guild_id = $1";

/// A member's opener messages answered since $3 in a guild's tickets (the `ticket_messages_member` index).
const MEMBER_REPLIES: &str = "\
    SELECT COUNT(*) AS n, MIN(created_at) AS first, MAX(created_at) AS last FROM ticket_messages \
    WHERE guild_id = $1 AND author_id = $2 AND created_at >= $3 \
        AND author = 'opener' AND reply_state = 'done'";

/// No row when the unique index already holds a ticket of this user and category that is not closed (a
/// concurrent reservation won).
pub(crate) const INSERT_TICKET: &str = "\
    INSERT INTO tickets (guild_id, category, opener_id, opener_name, state, created_at, last_activity_at) \
    VALUES ($1, $2, $3, $4, 'open', $5, $5) \
    ON CONFLICT DO NOTHING \
    RETURNING *";

/// Only a reservation: a ticket with a thread is never deleted.
const DELETE_RESERVATION: &str = "DELETE FROM tickets WHERE id = $1 AND thread_id IS NULL";

const ATTACH_TICKET_THREAD: &str = "\
    UPDATE tickets SET thread_id = $2 WHERE id = $1 AND (thread_id IS NULL OR thread_id = $2) \
    RETURNING *";

const TICKET: &str = "SELECT * FROM tickets WHERE id = $1";

pub(crate) const TICKET_BY_THREAD: &str = "SELECT * FROM tickets WHERE thread_id = $1";

pub(crate) const ESCALATE_TICKET: &str =
    "UPDATE tickets SET state = 'escalated', escalated_at = $2 WHERE id = $1 AND state = 'open'";

pub(crate) const REENABLE_TICKET_AI: &str =
    "UPDATE tickets SET state = 'open' WHERE id = $1 AND state = 'escalated'";

pub(crate) const CLOSE_TICKET: &str = "\
    UPDATE tickets SET state = 'closed', closed_by = $2, close_reason = $3, closed_at = $4 \
    WHERE id = $1 AND state <> 'closed' \
    RETURNING *";

const CLAIM_TICKET: &str = "\
    UPDATE tickets SET claimed_by = $2, claimed_at = $3 \
    WHERE id = $1 AND state <> 'closed' AND (claimed_by IS NULL OR claimed_by <> $2) \
    RETURNING *";

/// The `tickets_one_open` index refuses it when the opener has opened another ticket of the category.
const REOPEN_TICKET: &str = "\
    UPDATE tickets SET state = 'open', closed_by = NULL, close_reason = NULL, closed_at = NULL, \
        inactivity_warned_at = NULL, last_activity_at = $2 \
    WHERE id = $1 AND state = 'closed' \
    RETURNING *";

/// Copies the ticket's guild; no row when the message was recorded before or the ticket does not exist.
const INSERT_TICKET_MESSAGE: &str = "\
    INSERT INTO ticket_messages (ticket_id, guild_id, message_id, author_id, author_name, author, \
        content, source, used, created_at) \
    SELECT t.id, t.guild_id, $2, $3, $4, $5, $6, $7, $8, $9 FROM tickets t WHERE t.id = $1 \
    ON CONFLICT (message_id) DO NOTHING \
    RETURNING id";

/// `$2` the message's time (activity never moves back), `$3` whether it clears the inactivity warning.
const TOUCH_TICKET: &str = "\
    UPDATE tickets SET message_count = message_count + 1, \
        last_activity_at = CASE WHEN $2 > last_activity_at THEN $2 ELSE last_activity_at END, \
        inactivity_warned_at = CASE WHEN $3 THEN NULL ELSE inactivity_warned_at END \
    WHERE id = $1";

const CLAIM_TICKET_REPLY: &str = "\
    UPDATE ticket_messages SET reply_state = 'answering', reply_owner = $2, reply_lease_until = $3 \
    WHERE id = $1 AND author = 'opener' \
      AND (reply_state IS NULL \
           OR (reply_state = 'answering' AND (reply_lease_until < $4 OR reply_owner = $2)))";

const FINISH_TICKET_REPLY: &str = "\
    UPDATE ticket_messages SET reply_state = $3, reply_lease_until = NULL \
    WHERE id = $1 AND reply_owner = $2 AND reply_state = 'answering'";

/// Repeats the `ticket_messages_unanswered` index's `WHERE` term word for word (SQLite uses a partial
/// index only then).
pub(crate) const UNANSWERED_TICKET_MESSAGES: &str = "\
    SELECT * FROM ticket_messages \
    WHERE author = 'opener' AND (reply_state IS NULL OR reply_state = 'answering') \
      AND ((reply_state IS NULL AND created_at < $1) OR reply_lease_until < $2) \
    ORDER BY id LIMIT CAST($3 AS BIGINT)";

const TICKET_EXISTS: &str = "SELECT EXISTS (SELECT 1 FROM tickets WHERE id = $1)";

pub(crate) const TICKET_MESSAGES: &str =
    "SELECT * FROM ticket_messages WHERE ticket_id = $1 ORDER BY created_at, id";

/// The latest `$2`, walked backwards on the index, then put back in order.
pub(crate) const LATEST_TICKET_MESSAGES: &str = "\
    SELECT * FROM ( \
        SELECT * FROM ticket_messages WHERE ticket_id = $1 ORDER BY created_at DESC, id DESC LIMIT CAST($2 AS BIGINT) \
    ) AS latest ORDER BY created_at, id";

/// Open or escalated: not closed. Repeats the `tickets_idle` index's `WHERE` term word for word (SQLite
/// uses a partial index only then).
pub(crate) const IDLE_TICKETS: &str = "\
    SELECT * FROM tickets \
    WHERE guild_id = $3 AND state <> 'closed' AND last_activity_at < $1 AND thread_id IS NOT NULL \
    ORDER BY last_activity_at, id LIMIT CAST($2 AS BIGINT)";

/// The distinct guilds of a table, by skipping along its index on `guild_id` (a loose index scan: one
/// index probe per guild, on both backends); complete with the table's name three times.
macro_rules! guilds_of {
    ($cte:literal, $table:literal) => {
        concat!(
            $cte,
            "(g) AS (SELECT MIN(guild_id) FROM ",
            $table,
            " UNION ALL SELECT (SELECT MIN(guild_id) FROM ",
            $table,
            " WHERE guild_id > ",
            $cte,
            ".g) FROM ",
            $cte,
            " WHERE ",
            $cte,
            ".g IS NOT NULL)"
        )
    };
}

/// Guilds with settings, tickets, trained answers or knowledge bases (see [`guilds_of`]).
pub(crate) const DESK_GUILDS: &str = concat!(
    "WITH RECURSIVE ",
    guilds_of!("t", "tickets"),
    ", ",
    guilds_of!("e", "training_entries"),
    ", ",
    guilds_of!("k", "knowledge_bases"),
    " SELECT guild_id AS g FROM guild_settings \
      UNION SELECT g FROM t WHERE g IS NOT NULL \
      UNION SELECT g FROM e WHERE g IS NOT NULL \
      UNION SELECT g FROM k WHERE g IS NOT NULL \
      ORDER BY g"
);

/// The guild's distinct training categories, in order: one index seek per category (a loose index scan over
/// `(guild_id, category, id)`), however many entries each has.
const TRAINING_CATEGORIES: &str = "\
    WITH RECURSIVE c(category) AS ( \
      SELECT MIN(category) FROM training_entries WHERE guild_id = $1 AND category IS NOT NULL \
      UNION ALL \
      SELECT (SELECT MIN(category) FROM training_entries WHERE guild_id = $1 AND category > c.category) \
      FROM c WHERE c.category IS NOT NULL \
    ) \
    SELECT category FROM c WHERE category IS NOT NULL LIMIT 1000";

const AUTO_CLOSE_SETTINGS: &str =
    "SELECT * FROM guild_settings WHERE auto_close_after_secs IS NOT NULL ORDER BY guild_id";

const MARK_TICKET_WARNED: &str = "UPDATE tickets SET inactivity_warned_at = $2 WHERE id = $1";

/// Keeps `created_at`, `created_by` and `uses`; clears the embedding only if the question (the embedded
/// text) changes. `SET` expressions see the old row.
const UPDATE_TRAINING: &str = concat!(
    "UPDATE training_entries SET \
        embedding = CASE WHEN question = $2 THEN embedding END, \
        embedding_model = CASE WHEN question = $2 THEN embedding_model END, \
        question = $2, answer = $3, category = $4, tags = $5, updated_at = $6 \
     WHERE id = $1 RETURNING ",
    training_columns!()
);

/// An edit from the admin interface: everything given is replaced (the key follows the question). The
/// embedding is cleared only if the question changes. No row when the guild has no such entry; a unique
/// violation when another entry has the new question's key.
pub(crate) const EDIT_TRAINING: &str = concat!(
    "UPDATE training_entries SET \
        embedding = CASE WHEN question = $3 THEN embedding END, \
        embedding_model = CASE WHEN question = $3 THEN embedding_model END, \
        question = $3, question_key = $4, answer = $5, category = $6, tags = $7, updated_at = $8 \
     WHERE guild_id = $1 AND id = $2 RETURNING ",
    training_columns!()
);

/// No row when the question was trained meanwhile by someone else (PostgreSQL): look it up again.
const RAISE_TRAINING_USES: &str =
    "UPDATE training_entries SET uses = $2 WHERE id = $1 AND uses < $2";

const INSERT_TRAINING: &str = concat!(
    "INSERT INTO training_entries (guild_id, question, question_key, answer, category, tags, \
        created_by, created_at, updated_at) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8) \
     ON CONFLICT (guild_id, question_key) DO NOTHING \
     RETURNING ",
    training_columns!()
);

const TRAINING_ENTRY: &str = concat!(
    "SELECT ",
    training_columns!(),
    " FROM training_entries WHERE guild_id = $1 AND id = $2"
);

const DELETE_TRAINING: &str = "DELETE FROM training_entries WHERE guild_id = $1 AND id = $2";

const EXPORT_TRAINING: &str = concat!(
    "SELECT ",
    training_columns!(),
    " FROM training_entries WHERE guild_id = $1 ORDER BY id"
);

const COUNT_TRAINING: &str = "SELECT COUNT(*) FROM training_entries WHERE guild_id = $1";

/// Most entries first; on a tie named categories by name, then the uncategorised.
const TRAINING_BY_CATEGORY: &str = "\
    SELECT category, COUNT(*) AS n FROM training_entries WHERE guild_id = $1 \
    GROUP BY category ORDER BY n DESC, category IS NULL, category";

const MOST_USED_TRAINING: &str = concat!(
    "SELECT ",
    training_columns!(),
    " FROM training_entries WHERE guild_id = $1 AND uses > 0 ORDER BY uses DESC, id LIMIT 5"
);

/// Bot replies by how they were produced. `source IS NOT NULL` repeats the partial index's term.
pub(crate) const REPLY_COUNTS: &str = "\
    SELECT COUNT(*) AS replies, COUNT(CASE WHEN source = 'trained' THEN 1 END) AS trained \
    FROM ticket_messages \
    WHERE guild_id = $1 AND source IS NOT NULL AND source IN ('llm', 'trained', 'fallback')";

/// A new knowledge base has no entries yet. No row when the guild has one of that name.
const INSERT_KB: &str = "\
    INSERT INTO knowledge_bases (guild_id, name, name_key, description, created_by, created_at) \
    VALUES ($1, $2, $3, $4, $5, $6) \
    ON CONFLICT (guild_id, name_key) DO NOTHING \
    RETURNING *, CAST(0 AS BIGINT) AS entry_count";

pub(crate) const KB_BY_NAME: &str = concat!(select_kb!(), "k.guild_id = $1 AND k.name_key = $2");

const KB: &str = concat!(select_kb!(), "k.guild_id = $1 AND k.id = $2");

pub(crate) const LIST_KBS: &str =
    concat!(select_kb!(), "k.guild_id = $1 ORDER BY k.name_key, k.id");

/// Copies the knowledge base's guild; no row when the knowledge base does not exist.
const INSERT_KB_ENTRY: &str = concat!(
    "INSERT INTO kb_entries (kb_id, guild_id, title, content, tags, created_by, created_at, \
        updated_at) \
     SELECT k.id, k.guild_id, $2, $3, $4, $5, $6, $6 FROM knowledge_bases k WHERE k.id = $1 \
     RETURNING ",
    kb_entry_columns!()
);

pub(crate) const KB_ENTRY: &str = concat!(
    "SELECT ",
    kb_entry_columns!(),
    " FROM kb_entries WHERE guild_id = $1 AND id = $2"
);

/// The embedding (of title and content) is cleared only if one of them changes. No row when the guild
/// has no such entry.
pub(crate) const EDIT_KB_ENTRY: &str = concat!(
    "UPDATE kb_entries SET \
        embedding = CASE WHEN title = $3 AND content = $4 THEN embedding END, \
        embedding_model = CASE WHEN title = $3 AND content = $4 THEN embedding_model END, \
        title = $3, content = $4, tags = $5, updated_at = $6 \
     WHERE guild_id = $1 AND id = $2 RETURNING ",
    kb_entry_columns!()
);

/// On SQLite the delete trigger removes it from the index.
pub(crate) const DELETE_KB_ENTRY: &str = "DELETE FROM kb_entries WHERE guild_id = $1 AND id = $2";

const KB_EXISTS: &str = "SELECT EXISTS (SELECT 1 FROM knowledge_bases WHERE id = $1)";

pub(crate) const KB_ENTRIES_PAGE: &str = concat!(
    "SELECT ",
    kb_entry_columns!(),
    " FROM kb_entries WHERE kb_id = $1 ORDER BY id LIMIT CAST($2 AS BIGINT) OFFSET CAST($3 AS BIGINT)"
);

const COUNT_KB_ENTRIES: &str = "SELECT COUNT(*) FROM kb_entries WHERE kb_id = $1";

const ALL_KB_ENTRIES: &str = concat!(
    "SELECT ",
    kb_entry_columns!(),
    " FROM kb_entries WHERE kb_id = $1 ORDER BY id"
);

/// Its entries go with it (ON DELETE CASCADE; on SQLite the triggers remove them from the index).
const DELETE_KB: &str = "DELETE FROM knowledge_bases WHERE guild_id = $1 AND id = $2";

/// The kinds are `EntryKind::as_str` names. `<> $1` written as two ranges so that both backends read the `embedding_model` indexes (a NULL model
/// means no embedding): in steady state this reads nothing.
pub(crate) const MISSING_EMBEDDINGS: &str = "\
    SELECT 'training' AS kind, id, question AS title, CAST(NULL AS TEXT) AS content \
    FROM training_entries \
    WHERE embedding_model IS NULL OR embedding_model < $1 OR embedding_model > $1 \
    UNION ALL \
    SELECT 'knowledge' AS kind, id, title, content \
    FROM kb_entries \
    WHERE embedding_model IS NULL OR embedding_model < $1 OR embedding_model > $1 \
    LIMIT CAST($2 AS BIGINT)";

const SET_TRAINING_EMBEDDING: &str =
    "UPDATE training_entries SET embedding = $2, embedding_model = $3 WHERE id = $1";

const SET_KB_EMBEDDING: &str =
    "UPDATE kb_entries SET embedding = $2, embedding_model = $3 WHERE id = $1";

/// Every admin filter has its index (`tickets_guild`, `tickets_state`, `tickets_opener`); built so that
/// only the filters set appear (see `list_chat_commands_query`).
pub(crate) fn list_tickets_query(filter: &TicketFilter, limit: u32) -> sqlx::QueryBuilder<Db> {
    let mut q = sqlx::QueryBuilder::<Db>::new("SELECT * FROM tickets WHERE 1 = 1");
    if let Some(guild) = filter.guild_id {
        q.push(" AND guild_id = ").push_bind(id(guild));
    }
    if let Some(state) = filter.state {
        q.push(" AND state = ").push_bind(state.as_str());
    }
    if let Some(opener) = filter.opener_id {
        q.push(" AND opener_id = ").push_bind(id(opener));
    }
    if let Some(before_id) = filter.before_id {
        q.push(" AND id < ").push_bind(before_id);
    }
    q.push(format_args!(" ORDER BY id DESC LIMIT {limit}"));
    q
}

/// A page of trained answers (`training_entries_guild` or `training_entries_category`), or with `page`
/// `None` their count.
pub(crate) fn list_training_query(
    guild_id: u64,
    category: Option<&str>,
    page: Option<(u64, u32)>,
) -> sqlx::QueryBuilder<Db> {
    let mut q = sqlx::QueryBuilder::<Db>::new(match page {
        Some(_) => concat!("SELECT ", training_columns!(), " FROM training_entries"),
        None => "SELECT COUNT(*) FROM training_entries",
    });
    q.push(" WHERE guild_id = ").push_bind(id(guild_id));
    if let Some(category) = category {
        q.push(" AND category = ").push_bind(category.to_owned());
    }
    if let Some((offset, limit)) = page {
        q.push(format_args!(
            " ORDER BY id LIMIT {limit} OFFSET {}",
            offset_value(offset)
        ));
    }
    q
}

// ----- Value conversions -----

fn offset_value(offset: u64) -> i64 {
    i64::try_from(offset).unwrap_or(i64::MAX)
}

fn decode_err(col: &str, message: String) -> sqlx::Error {
    sqlx::Error::ColumnDecode {
        index: col.to_string(),
        source: message.into(),
    }
}

/// A column holding one of the names `parse` knows (the desk's enums).
fn get_named<T>(row: &DbRow, col: &str, parse: fn(&str) -> Option<T>) -> Result<T, sqlx::Error> {
    let value: String = row.try_get(col)?;
    parse(&value).ok_or_else(|| decode_err(col, format!("unknown value {value:?}")))
}

/// An entry kind by its name (`EntryKind::as_str`), as `MISSING_EMBEDDINGS` writes it.
pub(crate) fn entry_kind(name: &str) -> Option<EntryKind> {
    [EntryKind::Training, EntryKind::Knowledge]
        .into_iter()
        .find(|k| k.as_str() == name)
}

/// An embedding as stored: its `f32`s, little-endian, back to back.
fn embedding_bytes(vector: &[f32]) -> Vec<u8> {
    vector.iter().flat_map(|v| v.to_le_bytes()).collect()
}

fn embedding_from_bytes(bytes: &[u8]) -> Result<Vec<f32>, sqlx::Error> {
    if !bytes.len().is_multiple_of(4) {
        return Err(decode_err(
            "embedding",
            format!("{} bytes is not a whole number of f32s", bytes.len()),
        ));
    }
    Ok(bytes
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect())
}

/// The key under which a knowledge base's name is unique in its guild.
fn kb_name_key(name: &str) -> String {
    name.trim().to_lowercase()
}

/// Search terms as the full-text queries take them: letters and digits only (whatever else a caller
/// passed is dropped, so no term can change the query's syntax), empty ones left out.
fn clean_terms(terms: &[String]) -> Vec<String> {
    terms
        .iter()
        .map(|t| {
            t.chars()
                .filter(|c| c.is_alphanumeric())
                .collect::<String>()
        })
        .filter(|t| !t.is_empty())
        .collect()
}

/// The desk's CHECK constraints, and what to tell the caller who broke one.
const DESK_CHECKS: &[(&str, &str)] = &[
    (
        "training_entries_question",
        "a trained question needs at least one word (letters or digits)",
    ),
    (
        "training_entries_answer",
        "a trained answer cannot be empty",
    ),
    ("knowledge_bases_name", "a knowledge base needs a name"),
    ("kb_entries_title", "a knowledge entry needs a title"),
    ("kb_entries_content", "a knowledge entry needs some content"),
];

/// Maps a CHECK violation to [`StoreError::InvalidArgument`] (with what was wrong), and the rest as
/// [`StoreError::from_write`](crate::StoreError::from_write) does.
fn refused(e: sqlx::Error, what: &'static str) -> StoreError {
    if let sqlx::Error::Database(db) = &e
        && db.kind() == sqlx::error::ErrorKind::CheckViolation
    {
        let message = db.message();
        let reason = DESK_CHECKS
            .iter()
            .find(|(name, _)| message.contains(name) || db.constraint() == Some(*name))
            .map_or(message, |(_, reason)| *reason);
        return StoreError::InvalidArgument(format!("{what}: {reason}"));
    }
    StoreError::from_write(e, what, what)
}

// ----- Row mappers -----

fn guild_settings_from_row(row: &DbRow) -> Result<GuildSettings, sqlx::Error> {
    let auto_close = row
        .try_get::<Option<i64>, _>("auto_close_after_secs")?
        .map(|v| u64::try_from(v).map_err(|e| col_err("auto_close_after_secs", e)))
        .transpose()?;
    Ok(GuildSettings {
        guild_id: get_u64(row, "guild_id")?,
        forum_channel_id: get_u64(row, "forum_channel_id")?,
        staff_role_id: get_u64(row, "staff_role_id")?,
        log_channel_id: get_opt_u64(row, "log_channel_id")?,
        instructions: row.try_get("instructions")?,
        auto_close_after_secs: auto_close,
        ai_replies: row.try_get("ai_replies")?,
        training: row.try_get("training")?,
        member_replies_per_6h: get_u32(row, "member_replies_per_6h")?,
        member_reply_interval_secs: get_u32(row, "member_reply_interval_secs")?,
        updated_by: get_u64(row, "updated_by")?,
        updated_at: row.try_get("updated_at")?,
    })
}

fn ticket_from_row(row: &DbRow) -> Result<Ticket, sqlx::Error> {
    Ok(Ticket {
        id: row.try_get("id")?,
        guild_id: get_u64(row, "guild_id")?,
        thread_id: get_opt_u64(row, "thread_id")?,
        category: row.try_get("category")?,
        opener_id: get_u64(row, "opener_id")?,
        opener_name: row.try_get("opener_name")?,
        state: get_named(row, "state", TicketState::parse)?,
        escalated_at: row.try_get("escalated_at")?,
        close_reason: row.try_get("close_reason")?,
        closed_by: get_opt_u64(row, "closed_by")?,
        closed_at: row.try_get("closed_at")?,
        inactivity_warned_at: row.try_get("inactivity_warned_at")?,
        claimed_by: get_opt_u64(row, "claimed_by")?,
        claimed_at: row.try_get("claimed_at")?,
        message_count: get_u32(row, "message_count")?,
        created_at: row.try_get("created_at")?,
        last_activity_at: row.try_get("last_activity_at")?,
    })
}

fn ticket_message_from_row(row: &DbRow) -> Result<TicketMessage, sqlx::Error> {
    let source = row
        .try_get::<Option<String>, _>("source")?
        .map(|s| ReplySource::parse(&s).ok_or_else(|| decode_err("source", format!("{s:?}"))))
        .transpose()?;
    Ok(TicketMessage {
        id: row.try_get("id")?,
        message: NewTicketMessage {
            ticket_id: row.try_get("ticket_id")?,
            message_id: get_u64(row, "message_id")?,
            author_id: get_u64(row, "author_id")?,
            author_name: row.try_get("author_name")?,
            author: get_named(row, "author", TicketAuthor::parse)?,
            content: row.try_get("content")?,
            source,
            used: row.try_get::<Json<Vec<UsedEntry>>, _>("used")?.0,
            created_at: row.try_get("created_at")?,
        },
    })
}

fn training_from_row(row: &DbRow) -> Result<TrainingEntry, sqlx::Error> {
    Ok(TrainingEntry {
        id: row.try_get("id")?,
        guild_id: get_u64(row, "guild_id")?,
        question: row.try_get("question")?,
        answer: row.try_get("answer")?,
        category: row.try_get("category")?,
        tags: row.try_get::<Json<Vec<String>>, _>("tags")?.0,
        created_by: get_u64(row, "created_by")?,
        uses: get_u32(row, "uses")?,
        last_used_at: row.try_get("last_used_at")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

fn kb_from_row(row: &DbRow) -> Result<KnowledgeBase, sqlx::Error> {
    Ok(KnowledgeBase {
        id: row.try_get("id")?,
        guild_id: get_u64(row, "guild_id")?,
        name: row.try_get("name")?,
        description: row.try_get("description")?,
        created_by: get_u64(row, "created_by")?,
        entry_count: get_u64(row, "entry_count")?,
        created_at: row.try_get("created_at")?,
    })
}

fn kb_entry_from_row(row: &DbRow) -> Result<KbEntry, sqlx::Error> {
    Ok(KbEntry {
        id: row.try_get("id")?,
        kb_id: row.try_get("kb_id")?,
        guild_id: get_u64(row, "guild_id")?,
        title: row.try_get("title")?,
        content: row.try_get("content")?,
        tags: row.try_get::<Json<Vec<String>>, _>("tags")?.0,
        created_by: get_u64(row, "created_by")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

/// A search hit: columns `id`, `title`, `body`, `tags`, `source` and `embedding` (NULL unless computed with
/// the model asked for).
fn text_match_from_row(row: &DbRow, kind: EntryKind) -> Result<TextMatch, sqlx::Error> {
    Ok(TextMatch {
        kind,
        id: row.try_get("id")?,
        title: row.try_get("title")?,
        body: row.try_get("body")?,
        tags: row.try_get::<Json<Vec<String>>, _>("tags")?.0,
        source: row.try_get("source")?,
        embedding: row
            .try_get::<Option<Vec<u8>>, _>("embedding")?
            .map(|b| embedding_from_bytes(&b))
            .transpose()?,
    })
}

// ----- Transaction bodies -----

type DbConn = <Db as sqlx::Database>::Connection;

impl Backend {
    /// [`TrainingStore::train`](crate::TrainingStore::train) inside the caller's write transaction.
    async fn train_in(
        conn: &mut DbConn,
        entry: &NewTrainingEntry,
        now: DateTime<Utc>,
    ) -> Result<TrainOutcome, StoreError> {
        let key = question_key(&entry.question);
        // A second round only when a concurrent transaction (PostgreSQL) inserted the same question
        // between the look-up and the insert: the look-up then finds it.
        for _ in 0..3 {
            let existing = sqlx::query(TRAINING_BY_KEY_LOCKED)
                .bind(id(entry.guild_id))
                .bind(&key)
                .fetch_optional(&mut *conn)
                .await?;
            if let Some(row) = existing {
                let previous_answer: String = row.try_get("answer")?;
                // Re-training without a category or tags keeps the entry's: only what is given changes.
                let category = match &entry.category {
                    Some(c) => Some(c.clone()),
                    None => row.try_get::<Option<String>, _>("category")?,
                };
                let tags = if entry.tags.is_empty() {
                    row.try_get::<Json<Vec<String>>, _>("tags")?.0
                } else {
                    entry.tags.clone()
                };
                let row = sqlx::query(UPDATE_TRAINING)
                    .bind(row.try_get::<i64, _>("id")?)
                    .bind(&entry.question)
                    .bind(&entry.answer)
                    .bind(category.as_deref())
                    .bind(Json(&tags))
                    .bind(ts(now))
                    .fetch_one(&mut *conn)
                    .await
                    .map_err(|e| refused(e, "trained answer"))?;
                return Ok(TrainOutcome::Updated {
                    entry: training_from_row(&row)?,
                    previous_answer,
                });
            }
            let inserted = sqlx::query(INSERT_TRAINING)
                .bind(id(entry.guild_id))
                .bind(&entry.question)
                .bind(&key)
                .bind(&entry.answer)
                .bind(entry.category.as_deref())
                .bind(Json(&entry.tags))
                .bind(id(entry.created_by))
                .bind(ts(now))
                .fetch_optional(&mut *conn)
                .await
                .map_err(|e| refused(e, "trained answer"))?;
            if let Some(row) = inserted {
                return Ok(TrainOutcome::Created(training_from_row(&row)?));
            }
        }
        Err(StoreError::AlreadyExists("trained answer"))
    }

    /// [`KnowledgeStore::add_kb_entry`](crate::KnowledgeStore::add_kb_entry) inside the caller's transaction.
    async fn add_kb_entry_in(
        conn: &mut DbConn,
        kb_id: i64,
        entry: &NewKbEntry,
        created_by: u64,
        now: DateTime<Utc>,
    ) -> Result<KbEntry, StoreError> {
        let row = sqlx::query(INSERT_KB_ENTRY)
            .bind(kb_id)
            .bind(&entry.title)
            .bind(&entry.content)
            .bind(Json(&entry.tags))
            .bind(id(created_by))
            .bind(ts(now))
            .fetch_all(&mut *conn)
            .first()
            .await
            .map_err(|e| refused(e, "knowledge entry"))?;
        match row {
            Some(row) => Ok(kb_entry_from_row(&row)?),
            None => Err(StoreError::NotFound("knowledge base")),
        }
    }
}

mod knowledge;
mod tickets;
mod training;
