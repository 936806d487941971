-- Per-server switches of the support desk, set by /setup (ai_replies, training). Keep it in step with
-- ../postgres/0017_desk_switches.sql. Existing servers keep what they had: both on.
ALTER TABLE guild_settings ADD COLUMN ai_replies INTEGER NOT NULL DEFAULT 1;
ALTER TABLE guild_settings ADD COLUMN training INTEGER NOT NULL DEFAULT 1;
