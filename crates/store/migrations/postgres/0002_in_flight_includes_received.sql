-- A command counts as in flight from the moment it is recorded (state 'received'), not only once it is
-- queued: otherwise a second command of the same user arriving while the first is being acknowledged
-- would slip past the one-in-flight rule.
DROP INDEX chat_commands_user_live;
CREATE INDEX chat_commands_user_live ON chat_commands (user_id)
    WHERE state IN ('received', 'queued', 'in_progress');
