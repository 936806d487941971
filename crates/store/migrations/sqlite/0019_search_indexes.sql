-- PostgreSQL's 0019 adds kb_entries (guild_id, id) for messages of only common words and merges its
-- full-text indexes' pending lists. SQLite searches through its FTS5 tables, which need neither: nothing
-- changes here. The migration exists so that both backends keep the same versions.
SELECT 1;
