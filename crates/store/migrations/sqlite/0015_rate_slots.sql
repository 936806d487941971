-- Request rates shared by every instance (PostgreSQL). One process owns a SQLite file and keeps its
-- rates in memory, so this table stays empty here; it exists so that both schemas stay the same.
CREATE TABLE rate_slots (
    name       TEXT PRIMARY KEY,
    next_free  TEXT NOT NULL
);
