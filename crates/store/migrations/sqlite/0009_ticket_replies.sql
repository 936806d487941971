-- Replies to the opener's messages are claimed with a lease, like chat commands, so that a reply lost to a
-- crash is taken over after a restart (or by another instance) and none is sent twice. reply_state: NULL
-- (not handled yet), 'answering' (held by reply_owner until reply_lease_until), 'done', 'skipped' (the
-- ticket was escalated or closed). Only the opener's messages get replies.
ALTER TABLE ticket_messages ADD COLUMN reply_state TEXT;
ALTER TABLE ticket_messages ADD COLUMN reply_owner TEXT;
ALTER TABLE ticket_messages ADD COLUMN reply_lease_until TEXT;
-- Messages from before this migration were handled by the version that received them.
UPDATE ticket_messages SET reply_state = 'done' WHERE author = 'opener';
-- The unhandled ones only (a handful at any time): what the recovery looks through.
CREATE INDEX ticket_messages_unanswered ON ticket_messages (id)
    WHERE author = 'opener' AND (reply_state IS NULL OR reply_state = 'answering');
