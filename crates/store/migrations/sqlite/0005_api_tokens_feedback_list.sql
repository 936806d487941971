-- Bearer tokens for scripts using the JSON API. Only a hash of each token is stored; `prefix` (the first
-- characters) lets admins recognise one in the list. Deleting the admin who created a token revokes it.
CREATE TABLE api_tokens (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    admin_id      INTEGER NOT NULL REFERENCES admin_accounts (id) ON DELETE CASCADE,
    name          TEXT    NOT NULL,
    token_hash    TEXT    NOT NULL UNIQUE,
    prefix        TEXT    NOT NULL,
    created_at    TEXT    NOT NULL,
    expires_at    TEXT,
    last_used_at  TEXT
) STRICT;
CREATE INDEX api_tokens_admin ON api_tokens (admin_id);
-- The admin list of feedback, filtered by kind, newest first (keyset on id).
CREATE INDEX user_feedback_kind ON user_feedback (kind, id);
