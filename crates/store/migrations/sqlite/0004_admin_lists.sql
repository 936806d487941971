-- The admin lists of chat commands filter by user, state, guild or creation date and page by id, newest
-- first (keyset pagination). One index per filter keeps every page an index range scan on a million rows.
CREATE INDEX chat_commands_user_id ON chat_commands (user_id, id);
CREATE INDEX chat_commands_state_id ON chat_commands (state, id);
CREATE INDEX chat_commands_guild_id ON chat_commands (guild_id, id);
CREATE INDEX chat_commands_created ON chat_commands (created_at);
-- The users list: last seen first, or by username, both keyset-paginated.
CREATE INDEX users_recent ON users (updated_at, discord_id);
CREATE INDEX users_name ON users (username, discord_id);
-- A user's feedback, newest first.
CREATE INDEX user_feedback_user ON user_feedback (user_id, id);
