-- The support desk: guild settings, tickets and their messages, trained answers, knowledge bases. Keep it in
-- step with ../postgres/0008_support_desk.sql: same tables, columns, indexes and meaning; only the types
-- and the full-text machinery differ. Every row carries its guild: no query returns another guild's rows.

-- A guild's ticket settings, written by /setup.
CREATE TABLE guild_settings (
    guild_id               INTEGER PRIMARY KEY,
    forum_channel_id       INTEGER NOT NULL,
    staff_role_id          INTEGER NOT NULL,
    log_channel_id         INTEGER,
    instructions           TEXT,
    auto_close_after_secs  INTEGER,
    updated_by             INTEGER NOT NULL,
    updated_at             TEXT    NOT NULL
) STRICT;

-- Tickets. A ticket is reserved first (thread_id NULL), then given its forum post.
CREATE TABLE tickets (
    id                    INTEGER PRIMARY KEY AUTOINCREMENT,
    guild_id              INTEGER NOT NULL,
    thread_id             INTEGER UNIQUE,
    category              TEXT    NOT NULL,
    opener_id             INTEGER NOT NULL,
    opener_name           TEXT    NOT NULL,
    state                 TEXT    NOT NULL,
    escalated_at          TEXT,
    close_reason          TEXT,
    closed_by             INTEGER,
    closed_at             TEXT,
    inactivity_warned_at  TEXT,
    message_count         INTEGER NOT NULL DEFAULT 0,
    created_at            TEXT    NOT NULL,
    last_activity_at      TEXT    NOT NULL
) STRICT;
-- One ticket that is not closed per user and category in a guild (a reservation counts). Queries must
-- repeat the WHERE term word for word for SQLite to use it.
CREATE UNIQUE INDEX tickets_one_open ON tickets (guild_id, opener_id, category)
    WHERE state <> 'closed';
-- A guild's idle tickets to warn or close (open or escalated: not closed), oldest activity first. The same term as
-- above, which no other index can seek on, so the planner walks this one instead of sorting.
CREATE INDEX tickets_idle ON tickets (guild_id, last_activity_at, id) WHERE state <> 'closed';
-- The admin list, newest first (keyset on id), one index per filter.
CREATE INDEX tickets_guild ON tickets (guild_id, id);
CREATE INDEX tickets_state ON tickets (state, id);
CREATE INDEX tickets_opener ON tickets (opener_id, id);

-- Messages in tickets: the conversation the AI answers from. guild_id is the ticket's (copied), so that
-- the reply counts of /training_stats read one guild's messages only. used is a JSON array of the entries
-- a bot reply was built from.
CREATE TABLE ticket_messages (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    ticket_id    INTEGER NOT NULL REFERENCES tickets (id) ON DELETE CASCADE,
    guild_id     INTEGER NOT NULL,
    message_id   INTEGER NOT NULL UNIQUE,
    author_id    INTEGER NOT NULL,
    author_name  TEXT    NOT NULL,
    author       TEXT    NOT NULL,
    content      TEXT    NOT NULL,
    source       TEXT,
    used         TEXT    NOT NULL,
    created_at   TEXT    NOT NULL
) STRICT;
CREATE INDEX ticket_messages_ticket ON ticket_messages (ticket_id, created_at, id);
CREATE INDEX ticket_messages_replies ON ticket_messages (guild_id, source) WHERE source IS NOT NULL;

-- Trained answers. question_key is the question's words, lower-case, single-spaced
-- (core::desk::retrieval::question_key): what is unique in a guild. tags is a JSON array of strings.
-- embedding is the vector of the question (little-endian f32) computed with embedding_model; both are
-- cleared together when the question changes, so a NULL model means "to be computed".
-- scope is the guild as one token for the full-text index ('g' and the id, 'n' for a minus sign).
CREATE TABLE training_entries (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    guild_id         INTEGER NOT NULL,
    question         TEXT    NOT NULL,
    question_key     TEXT    NOT NULL,
    answer           TEXT    NOT NULL,
    category         TEXT,
    tags             TEXT    NOT NULL,
    created_by       INTEGER NOT NULL,
    uses             INTEGER NOT NULL DEFAULT 0,
    last_used_at     TEXT,
    created_at       TEXT    NOT NULL,
    updated_at       TEXT    NOT NULL,
    embedding        BLOB,
    embedding_model  TEXT,
    scope            TEXT    GENERATED ALWAYS AS ('g' || replace(guild_id, '-', 'n')) VIRTUAL,
    CONSTRAINT training_entries_question CHECK (question_key <> ''),
    CONSTRAINT training_entries_answer CHECK (answer <> ''),
    CONSTRAINT training_entries_embedding CHECK ((embedding IS NULL) = (embedding_model IS NULL))
) STRICT;
CREATE UNIQUE INDEX training_entries_key ON training_entries (guild_id, question_key);
CREATE INDEX training_entries_guild ON training_entries (guild_id, id);
CREATE INDEX training_entries_category ON training_entries (guild_id, category, id);
-- Entries whose embedding is missing or from another model.
CREATE INDEX training_entries_embedding_model ON training_entries (embedding_model);

-- Knowledge bases: named collections of entries, unique by lower-cased name (name_key) in a guild.
CREATE TABLE knowledge_bases (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    guild_id     INTEGER NOT NULL,
    name         TEXT    NOT NULL,
    name_key     TEXT    NOT NULL,
    description  TEXT,
    created_by   INTEGER NOT NULL,
    created_at   TEXT    NOT NULL,
    CONSTRAINT knowledge_bases_name CHECK (name_key <> '')
) STRICT;
CREATE UNIQUE INDEX knowledge_bases_name_key ON knowledge_bases (guild_id, name_key);

-- Knowledge-base entries. guild_id is the knowledge base's (copied) so that searches filter by guild in
-- the index. embedding: the vector of title + "\n" + content (see training_entries). scope holds the
-- guild and knowledge-base tokens for the full-text index.
CREATE TABLE kb_entries (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    kb_id            INTEGER NOT NULL REFERENCES knowledge_bases (id) ON DELETE CASCADE,
    guild_id         INTEGER NOT NULL,
    title            TEXT    NOT NULL,
    content          TEXT    NOT NULL,
    tags             TEXT    NOT NULL,
    created_by       INTEGER NOT NULL,
    created_at       TEXT    NOT NULL,
    updated_at       TEXT    NOT NULL,
    embedding        BLOB,
    embedding_model  TEXT,
    scope            TEXT    GENERATED ALWAYS AS
                         ('g' || replace(guild_id, '-', 'n') || ' k' || kb_id) VIRTUAL,
    CONSTRAINT kb_entries_title CHECK (title <> ''),
    CONSTRAINT kb_entries_content CHECK (content <> ''),
    CONSTRAINT kb_entries_embedding CHECK ((embedding IS NULL) = (embedding_model IS NULL))
) STRICT;
CREATE INDEX kb_entries_kb ON kb_entries (kb_id, id);
CREATE INDEX kb_entries_embedding_model ON kb_entries (embedding_model);

-- Full-text indexes over the entries (external content: the text stays in the tables above, the index
-- holds only tokens). Triggers keep them in step with every insert, text update and delete (cascaded
-- deletes included). The scope column holds the guild (and knowledge base) as tokens; searches do not match it
-- (intersecting with a whole guild's postings costs more than the search: see fts_query in sqlite.rs).
CREATE VIRTUAL TABLE training_fts USING fts5(
    scope, question, answer, tags,
    content = 'training_entries', content_rowid = 'id',
    tokenize = 'porter unicode61 remove_diacritics 2'
);
CREATE TRIGGER training_fts_insert AFTER INSERT ON training_entries BEGIN
    INSERT INTO training_fts (rowid, scope, question, answer, tags)
    VALUES (new.id, new.scope, new.question, new.answer, new.tags);
END;
CREATE TRIGGER training_fts_delete AFTER DELETE ON training_entries BEGIN
    INSERT INTO training_fts (training_fts, rowid, scope, question, answer, tags)
    VALUES ('delete', old.id, old.scope, old.question, old.answer, old.tags);
END;
CREATE TRIGGER training_fts_update AFTER UPDATE OF question, answer, tags ON training_entries BEGIN
    INSERT INTO training_fts (training_fts, rowid, scope, question, answer, tags)
    VALUES ('delete', old.id, old.scope, old.question, old.answer, old.tags);
    INSERT INTO training_fts (rowid, scope, question, answer, tags)
    VALUES (new.id, new.scope, new.question, new.answer, new.tags);
END;

CREATE VIRTUAL TABLE kb_fts USING fts5(
    scope, title, content, tags,
    content = 'kb_entries', content_rowid = 'id',
    tokenize = 'porter unicode61 remove_diacritics 2'
);
CREATE TRIGGER kb_fts_insert AFTER INSERT ON kb_entries BEGIN
    INSERT INTO kb_fts (rowid, scope, title, content, tags)
    VALUES (new.id, new.scope, new.title, new.content, new.tags);
END;
CREATE TRIGGER kb_fts_delete AFTER DELETE ON kb_entries BEGIN
    INSERT INTO kb_fts (kb_fts, rowid, scope, title, content, tags)
    VALUES ('delete', old.id, old.scope, old.title, old.content, old.tags);
END;
CREATE TRIGGER kb_fts_update AFTER UPDATE OF title, content, tags ON kb_entries BEGIN
    INSERT INTO kb_fts (kb_fts, rowid, scope, title, content, tags)
    VALUES ('delete', old.id, old.scope, old.title, old.content, old.tags);
    INSERT INTO kb_fts (rowid, scope, title, content, tags)
    VALUES (new.id, new.scope, new.title, new.content, new.tags);
END;
