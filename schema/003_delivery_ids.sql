-- 003_delivery_ids.sql - delivery ids are never used twice.
--
-- A delivery can be discarded (POST /api/deliveries/{id}/discard removes its
-- row). Without AUTOINCREMENT SQLite gives the next delivery the largest id
-- plus one, which is the discarded one's id when it was the newest: a retry
-- still queued in Redis for the old delivery, or an administrator's page
-- showing it, would then name another delivery. Same columns and
-- constraints as 002; only the id's rule changes.

CREATE TABLE deliveries_new (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    webhook_id INTEGER NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    event_id TEXT NOT NULL,
    event_type TEXT NOT NULL,
    payload TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'pending'
        CHECK (status IN ('pending', 'failed', 'dead', 'ok')),
    attempts INTEGER NOT NULL DEFAULT 0,
    base_attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT NOT NULL DEFAULT '',
    next_attempt_at INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    UNIQUE (webhook_id, event_id)
);
INSERT INTO deliveries_new (id, webhook_id, event_id, event_type, payload, status, attempts,
                            base_attempts, last_error, next_attempt_at, created_at, updated_at)
    SELECT id, webhook_id, event_id, event_type, payload, status, attempts, base_attempts,
           last_error, next_attempt_at, created_at, updated_at
    FROM deliveries;
DROP TABLE deliveries;
ALTER TABLE deliveries_new RENAME TO deliveries;
CREATE INDEX deliveries_by_status ON deliveries (webhook_id, status, id);
