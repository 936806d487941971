-- How many commands wait for a worker (queued, or recorded and being acknowledged, with a live token) is
-- counted for every batch of acknowledgements. This index holds exactly the waiting rows' states and
-- token expiries, so the count reads index entries only: the token-expiry index also holds in-progress
-- rows, and telling them apart meant reading every waiting row from the table (with a long backlog, most
-- of each batch's time). Queries must repeat the WHERE term word for word.
CREATE INDEX chat_commands_waiting ON chat_commands (state, token_expires_at)
    WHERE state IN ('received', 'queued');
