-- A message of only very common words takes a guild's newest entries that contain all of them: read
-- backwards through the guild's entries (see SEARCH_KNOWLEDGE_ALL), as training_entries_guild does for
-- trained answers.
CREATE INDEX kb_entries_guild ON kb_entries (guild_id, id);

-- Entries imported so far may wait in the full-text indexes' pending lists, which every search reads
-- from start to end (up to 4 MB) until autovacuum merges them; imports now merge them as they finish.
SELECT gin_clean_pending_list('training_entries_search');
SELECT gin_clean_pending_list('kb_entries_search');
