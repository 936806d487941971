-- The admin list of messages about the bot, filtered by author or channel, newest first (keyset on id).
CREATE INDEX discord_messages_user ON discord_messages (user_id, id);
CREATE INDEX discord_messages_channel ON discord_messages (channel_id, id);
