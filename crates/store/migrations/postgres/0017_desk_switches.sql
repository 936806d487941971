-- Per-server settings of the support desk set by /setup: its switches (ai_replies, training) and the
-- limits on AI replies to one member (at most member_replies_per_6h in 6 hours, one per
-- member_reply_interval_secs; 0: no limit). Keep it in step with ../sqlite/0017_desk_switches.sql.
-- Existing servers keep what they had: both switches on, no limit.
ALTER TABLE guild_settings ADD COLUMN ai_replies BOOLEAN NOT NULL DEFAULT TRUE;
ALTER TABLE guild_settings ADD COLUMN training BOOLEAN NOT NULL DEFAULT TRUE;
ALTER TABLE guild_settings ADD COLUMN member_replies_per_6h BIGINT NOT NULL DEFAULT 0;
ALTER TABLE guild_settings ADD COLUMN member_reply_interval_secs BIGINT NOT NULL DEFAULT 0;

-- A member's answered messages in a server's tickets, for those limits.
CREATE INDEX ticket_messages_member ON ticket_messages (guild_id, author_id, created_at);
