-- The gateway's shards, spread over the instances running the gateway: each shard is held by one
-- instance at a time through a lease it renews. An instance that dies stops renewing; after the lease
-- another takes the shard over and resumes its Discord session (kept here) when Discord still allows it.
CREATE TABLE gateway_shards (
    shard_id     INTEGER PRIMARY KEY,
    shard_count  INTEGER NOT NULL,
    owner        TEXT,
    lease_until  TEXT,
    session_id   TEXT,
    sequence     INTEGER,
    resume_url   TEXT,
    updated_at   TEXT    NOT NULL
);

-- The instances that run the gateway, seen within a lease: each takes its share of the shards.
CREATE TABLE gateway_members (
    owner    TEXT PRIMARY KEY,
    seen_at  TEXT NOT NULL
);
