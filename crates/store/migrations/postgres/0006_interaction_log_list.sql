-- The admin list of interaction logs, filtered by user or by type, newest first (keyset on id).
CREATE INDEX interaction_logs_user ON interaction_logs (user_id, id);
CREATE INDEX interaction_logs_type ON interaction_logs (interaction_type, id);
