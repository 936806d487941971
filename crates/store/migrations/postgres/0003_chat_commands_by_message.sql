-- Replies to an answer are tied to its chat command by the answer's message id.
CREATE INDEX chat_commands_discord_message ON chat_commands (discord_message_id)
    WHERE discord_message_id IS NOT NULL;
