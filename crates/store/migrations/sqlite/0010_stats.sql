-- The dashboard's charts. Keep it in step with ../postgres/0010_stats.sql.
--
-- Hourly rollups of chat commands and feedback (core::stats::HourStats): one row per UTC hour, written
-- once the hour ended more than an hour ago (its figures can no longer change), computed lazily when the
-- dashboard asks, and never updated. Several instances may compute the same hour: rows are inserted with
-- ON CONFLICT DO NOTHING, and the first one stays. Nothing here is written by the chat command path.
CREATE TABLE stats_hours (
    -- The start of the UTC hour.
    hour_start    TEXT    PRIMARY KEY,
    -- Chat commands created during the hour, by final state: completed, failed, anything else.
    completed     INTEGER NOT NULL,
    failed        INTEGER NOT NULL,
    other         INTEGER NOT NULL,
    -- The sum of their total_tokens.
    total_tokens  INTEGER NOT NULL,
    -- Completed commands per latency bucket (finished_at - created_at): a JSON array of counts in the
    -- layout of core::stats::LATENCY_BOUNDS_MS, trailing zeros left out.
    latency       TEXT    NOT NULL,
    -- Feedback given during the hour, per kind: a JSON object such as {"good": 3, "other": 1}.
    feedback      TEXT    NOT NULL,
    computed_at   TEXT    NOT NULL
) STRICT;
-- An hour's feedback, for its rollup.
CREATE INDEX user_feedback_created ON user_feedback (created_at);
-- Tickets opened and closed per hour, counted live (tickets are few).
CREATE INDEX tickets_created ON tickets (created_at);
CREATE INDEX tickets_closed ON tickets (closed_at);
