-- 002_webhooks.sql - webhooks and their deliveries (docs/webhooks.md).
--
-- A webhook is a URL that gets a signed POST for every event of the listed
-- types; its secret is shown once, when it is made. A delivery is one event
-- for one webhook: the job queue in Redis carries its id, this row is what
-- the admin API lists (status, attempts, last error, next attempt).

CREATE TABLE webhooks (
    id INTEGER PRIMARY KEY,
    url TEXT NOT NULL,
    events TEXT NOT NULL,      -- comma-separated event types
    secret TEXT NOT NULL,      -- whsec_ + base64 of 24 random bytes
    created_at INTEGER NOT NULL
);

CREATE TABLE deliveries (
    id INTEGER PRIMARY KEY,
    webhook_id INTEGER NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    event_id TEXT NOT NULL,
    event_type TEXT NOT NULL,
    payload TEXT NOT NULL,     -- the event JSON, sent as is on every attempt
    status TEXT NOT NULL DEFAULT 'pending'
        CHECK (status IN ('pending', 'failed', 'dead', 'ok')),
    attempts INTEGER NOT NULL DEFAULT 0,
    base_attempts INTEGER NOT NULL DEFAULT 0, -- attempts before the last manual retry
    last_error TEXT NOT NULL DEFAULT '',
    next_attempt_at INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    UNIQUE (webhook_id, event_id)
);
CREATE INDEX deliveries_by_status ON deliveries (webhook_id, status, id);
