-- The gateway's shards, spread over the instances running the gateway: each shard is held by one
-- instance at a time through a lease it renews. An instance that dies stops renewing; after the lease
-- another takes the shard over and resumes its Discord session (kept here) when Discord still allows it.
CREATE TABLE gateway_shards (
    shard_id     BIGINT      PRIMARY KEY,
    shard_count  BIGINT      NOT NULL,
    owner        TEXT,
    lease_until  TIMESTAMPTZ,
    session_id   TEXT,
    sequence     BIGINT,
    resume_url   TEXT,
    updated_at   TIMESTAMPTZ NOT NULL
);

-- The instances that run the gateway, seen within a lease: each takes its share of the shards.
CREATE TABLE gateway_members (
    owner    TEXT        PRIMARY KEY,
    seen_at  TIMESTAMPTZ NOT NULL
);
