-- "Clear all conversations" (admin action): every user's next /chat starts a new conversation. For providers
-- whose history disconcierge keeps, the history starts after the later of this and the user's last /clear.
ALTER TABLE users ADD COLUMN conversation_reset_at TIMESTAMPTZ;
