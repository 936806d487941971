-- Request rates shared by every instance (the LLM's requests per second): when the next request may
-- go, per rate. Each request reserves the next free slot and moves it one period on, so the instances
-- together keep the configured rate however many there are.
CREATE TABLE rate_slots (
    name       TEXT        PRIMARY KEY,
    next_free  TIMESTAMPTZ NOT NULL
);
