-- disconcierge schema, SQLite flavour. Keep it in step with ../postgres/0001_initial.sql: same tables,
-- columns, indexes and meaning; only the types differ.
--
-- Conventions (STRICT tables, so SQLite enforces the declared types):
-- * timestamps are TEXT in one fixed-width UTC format, 'YYYY-MM-DDTHH:MM:SS.ffffffZ', written by the
--   application, so that comparing the text compares the instants;
-- * booleans are INTEGER 0/1;
-- * Discord ids (snowflakes) are INTEGER (the u64 value stored as a signed 64-bit integer);
-- * JSON is TEXT;
-- * enum-like values (states, kinds) are their snake_case names.

-- The runtime configuration: one row, edited live from the admin UI.
CREATE TABLE runtime_config (
    id          INTEGER PRIMARY KEY CHECK (id = 1),
    config      TEXT    NOT NULL,
    version     INTEGER NOT NULL,
    updated_at  TEXT    NOT NULL,
    updated_by  TEXT
) STRICT;

-- Every saved version of the runtime configuration: who changed what, when.
CREATE TABLE runtime_config_history (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    version     INTEGER NOT NULL,
    config      TEXT    NOT NULL,
    updated_by  TEXT,
    updated_at  TEXT    NOT NULL
) STRICT;
CREATE INDEX runtime_config_history_version ON runtime_config_history (version);

-- Admin UI accounts. username_key is the lower-cased username: the uniqueness and the login look-up are
-- case-insensitive, while the username keeps the spelling it was created with.
CREATE TABLE admin_accounts (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    username       TEXT NOT NULL,
    username_key   TEXT NOT NULL UNIQUE,
    password_hash  TEXT NOT NULL,
    created_at     TEXT NOT NULL,
    updated_at     TEXT NOT NULL
) STRICT;

-- Admin UI sessions; only a hash of the session token is stored.
CREATE TABLE admin_sessions (
    token_hash  TEXT    PRIMARY KEY,
    admin_id    INTEGER NOT NULL REFERENCES admin_accounts (id) ON DELETE CASCADE,
    created_at  TEXT    NOT NULL,
    expires_at  TEXT    NOT NULL
) STRICT;
CREATE INDEX admin_sessions_admin ON admin_sessions (admin_id);
CREATE INDEX admin_sessions_expires ON admin_sessions (expires_at);

-- Discord users the bot has seen, with their per-user settings.
CREATE TABLE users (
    discord_id        INTEGER PRIMARY KEY,
    username          TEXT    NOT NULL,
    global_name       TEXT,
    priority          INTEGER NOT NULL DEFAULT 0,
    ignored           INTEGER NOT NULL DEFAULT 0,
    limit_override    INTEGER,
    llm_model         TEXT,
    llm_instructions  TEXT,
    llm_temperature   REAL,
    conversation_id   TEXT,
    created_at        TEXT    NOT NULL,
    updated_at        TEXT    NOT NULL
) STRICT;

-- /chat and /private commands: the work queue and its history.
CREATE TABLE chat_commands (
    id                  INTEGER PRIMARY KEY AUTOINCREMENT,
    interaction_id      INTEGER NOT NULL UNIQUE,
    interaction_token   TEXT    NOT NULL,
    token_expires_at    TEXT    NOT NULL,
    application_id      INTEGER NOT NULL,
    user_id             INTEGER NOT NULL REFERENCES users (discord_id),
    guild_id            INTEGER,
    channel_id          INTEGER,
    private             INTEGER NOT NULL,
    prompt              TEXT    NOT NULL,
    response            TEXT,
    error               TEXT,
    state               TEXT    NOT NULL,
    step                TEXT    NOT NULL,
    priority            INTEGER NOT NULL,
    attempts            INTEGER NOT NULL DEFAULT 0,
    prompt_tokens       INTEGER,
    completion_tokens   INTEGER,
    total_tokens        INTEGER,
    usage_counted       INTEGER NOT NULL DEFAULT 0,
    lease_owner         TEXT,
    lease_expires_at    TEXT,
    discord_message_id  INTEGER,
    created_at          TEXT    NOT NULL,
    updated_at          TEXT    NOT NULL,
    started_at          TEXT,
    finished_at         TEXT
) STRICT;
-- The claim query walks this in order (priority first, then oldest) over live rows only. Queries must
-- repeat the index's WHERE term word for word for SQLite to use it.
CREATE INDEX chat_commands_claim ON chat_commands (priority DESC, created_at, id)
    WHERE state IN ('queued', 'in_progress');
-- Per-user 6 hour window over the commands that count toward the limit.
CREATE INDEX chat_commands_user_usage ON chat_commands (user_id, created_at)
    WHERE usage_counted;
-- "Does this user have a command in flight?"
CREATE INDEX chat_commands_user_live ON chat_commands (user_id)
    WHERE state IN ('queued', 'in_progress');
-- Expiring commands whose interaction token ran out.
CREATE INDEX chat_commands_token_expiry ON chat_commands (token_expires_at)
    WHERE state IN ('received', 'queued', 'in_progress');

-- Every interaction received from Discord.
CREATE TABLE interaction_logs (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    interaction_id    INTEGER NOT NULL,
    interaction_type  TEXT    NOT NULL,
    user_id           INTEGER,
    guild_id          INTEGER,
    channel_id        INTEGER,
    payload           TEXT    NOT NULL,
    received_at       TEXT    NOT NULL
) STRICT;
CREATE INDEX interaction_logs_interaction ON interaction_logs (interaction_id);
CREATE INDEX interaction_logs_received ON interaction_logs (received_at);

-- Messages the bot posted.
CREATE TABLE discord_messages (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    message_id       INTEGER NOT NULL,
    channel_id       INTEGER NOT NULL,
    guild_id         INTEGER,
    user_id          INTEGER,
    chat_command_id  INTEGER REFERENCES chat_commands (id) ON DELETE SET NULL,
    content          TEXT    NOT NULL,
    payload          TEXT,
    created_at       TEXT    NOT NULL
) STRICT;
CREATE INDEX discord_messages_message ON discord_messages (message_id);
CREATE INDEX discord_messages_chat_command ON discord_messages (chat_command_id);

-- Requests to the LLM backend.
CREATE TABLE llm_call_logs (
    id                 INTEGER PRIMARY KEY AUTOINCREMENT,
    chat_command_id    INTEGER REFERENCES chat_commands (id) ON DELETE SET NULL,
    provider           TEXT    NOT NULL,
    operation          TEXT    NOT NULL,
    model              TEXT,
    request            TEXT    NOT NULL,
    response           TEXT,
    http_status        INTEGER,
    error              TEXT,
    started_at         TEXT    NOT NULL,
    duration_ms        INTEGER NOT NULL,
    prompt_tokens      INTEGER,
    completion_tokens  INTEGER,
    total_tokens       INTEGER
) STRICT;
CREATE INDEX llm_call_logs_chat_command ON llm_call_logs (chat_command_id);
CREATE INDEX llm_call_logs_started ON llm_call_logs (started_at);

-- /clear commands.
CREATE TABLE clear_commands (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    interaction_id  INTEGER NOT NULL UNIQUE,
    user_id         INTEGER NOT NULL,
    guild_id        INTEGER,
    channel_id      INTEGER,
    created_at      TEXT    NOT NULL
) STRICT;
CREATE INDEX clear_commands_user ON clear_commands (user_id, created_at);

-- Feedback on answers. One vote per user, answer and kind, except free-text 'other'.
CREATE TABLE user_feedback (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    chat_command_id  INTEGER NOT NULL REFERENCES chat_commands (id) ON DELETE CASCADE,
    user_id          INTEGER NOT NULL,
    kind             TEXT    NOT NULL,
    detail           TEXT,
    created_at       TEXT    NOT NULL
) STRICT;
CREATE UNIQUE INDEX user_feedback_one_vote ON user_feedback (chat_command_id, user_id, kind)
    WHERE kind <> 'other';
CREATE INDEX user_feedback_chat_command ON user_feedback (chat_command_id, kind);
