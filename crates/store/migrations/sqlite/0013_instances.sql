-- The instances using the database: each registers itself at startup, renews its heartbeat while it runs
-- and says when it stops gracefully, for the admin interface's list (several may share PostgreSQL).
CREATE TABLE instances (
    id                   TEXT PRIMARY KEY,
    host                 TEXT NOT NULL,
    version              TEXT NOT NULL,
    started_at           TEXT NOT NULL,
    heartbeat_at         TEXT NOT NULL,
    stopped_at           TEXT,
    commands_in_progress INTEGER NOT NULL DEFAULT 0,
    gateway              TEXT NOT NULL DEFAULT ''
);
