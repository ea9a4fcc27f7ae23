-- 001_init.sql - the first schema of the seatmap ledger.
--
-- Applied by ledger_open (server/ledger.c) inside one transaction, which then
-- sets PRAGMA user_version = 1. Times are unix milliseconds. Holds never live
-- here: Redis owns them; this file owns bookings, shows and credentials.

-- Server metadata, e.g. the buyer-token secret shared by every process.
CREATE TABLE meta (
    key TEXT PRIMARY KEY,
    value BLOB NOT NULL
);

-- One row per show. venue_json is the venue document as it was at `show add`,
-- so a show's seat order never changes when the venue file does.
CREATE TABLE shows (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    venue_name TEXT NOT NULL,
    starts_at TEXT NOT NULL DEFAULT '',
    venue_json TEXT NOT NULL,
    created_at INTEGER NOT NULL
);

CREATE TABLE users (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    role TEXT NOT NULL CHECK (role IN ('boxoffice', 'admin')),
    pwhash TEXT NOT NULL,
    created_at INTEGER NOT NULL
);

-- Sessions and API tokens are stored by the BLAKE2b hash of the token only.
CREATE TABLE sessions (
    token_hash TEXT PRIMARY KEY,
    user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    expires_at INTEGER NOT NULL
);
CREATE INDEX sessions_by_expiry ON sessions (expires_at);
CREATE INDEX sessions_by_user ON sessions (user_id);

CREATE TABLE api_tokens (
    token_hash TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    role TEXT NOT NULL CHECK (role IN ('boxoffice', 'admin')),
    created_at INTEGER NOT NULL
);

-- Every booking ever made, cancelled ones included. seats is the
-- space-separated seat list, kept after a cancellation for the record.
CREATE TABLE bookings (
    id INTEGER PRIMARY KEY,
    show_id TEXT NOT NULL REFERENCES shows (id),
    hold_ref TEXT NOT NULL DEFAULT '',
    payment_ref TEXT NOT NULL,
    created_by TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    cancelled_at INTEGER,
    cancelled_by TEXT,
    seats TEXT NOT NULL,
    UNIQUE (show_id, payment_ref)
);
CREATE INDEX bookings_by_hold ON bookings (show_id, hold_ref);

-- The seats of ACTIVE bookings only (rows are deleted on cancel): the primary
-- key is what makes booking a seat twice impossible, whatever process tries.
CREATE TABLE booking_seats (
    show_id TEXT NOT NULL,
    seat_id TEXT NOT NULL,
    booking_id INTEGER NOT NULL REFERENCES bookings (id),
    PRIMARY KEY (show_id, seat_id)
) WITHOUT ROWID;
CREATE INDEX booking_seats_by_booking ON booking_seats (booking_id);

-- Append-only trail of state changes (holds, releases, expiries, bookings,
-- cancellations). Rows are written in batches; see ledger_audit.
CREATE TABLE audit (
    id INTEGER PRIMARY KEY,
    at INTEGER NOT NULL,
    show_id TEXT NOT NULL,
    what TEXT NOT NULL,
    ref TEXT NOT NULL DEFAULT '',
    seats TEXT NOT NULL DEFAULT '',
    who TEXT NOT NULL DEFAULT ''
);
CREATE INDEX audit_by_show ON audit (show_id, at);
