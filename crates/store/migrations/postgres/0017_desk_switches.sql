-- Per-server switches of the support desk, set by /setup (ai_replies, training). Keep it in step with
-- ../sqlite/0017_desk_switches.sql. Existing servers keep what they had: both on.
ALTER TABLE guild_settings ADD COLUMN ai_replies BOOLEAN NOT NULL DEFAULT TRUE;
ALTER TABLE guild_settings ADD COLUMN training BOOLEAN NOT NULL DEFAULT TRUE;
