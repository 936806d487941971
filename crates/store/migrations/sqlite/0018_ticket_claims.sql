-- A ticket claimed by a member of staff (who owns it from then on), with when. Keep it in step with
-- ../postgres/0018_ticket_claims.sql.
ALTER TABLE tickets ADD COLUMN claimed_by INTEGER;
ALTER TABLE tickets ADD COLUMN claimed_at TEXT;
