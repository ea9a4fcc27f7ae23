/*
 * ledger_sqlite.c - the SQLite engine behind ledger.h and ledger_accounts.h
 * (see ledger_engine.h), reached only through its table, ledger_sqlite_engine:
 * bookings (the durable truth about sold seats), shows, staff users,
 * sessions, API tokens, the audit trail and server metadata in one database
 * file, its schema migrated from the embedded schema/NNN_*.sql.
 *
 * Several seatmapd processes may share one database file: WAL mode lets
 * readers run beside the single writer, every write transaction starts with
 * BEGIN IMMEDIATE (so it takes the write lock up front and never fails half
 * way with a stale snapshot), and a busy timeout makes a process wait for
 * another's short transaction instead of failing. The booking_seats primary
 * key (show, seat), which only holds seats of active bookings, is what makes
 * a double booking impossible, whichever process tries.
 *
 * Durability is chosen per write: synchronous=FULL (an fsync of the WAL at
 * commit) for bookings, shows, users and tokens; NORMAL (safe against a
 * crash of the process, not of the machine) for sessions and audit batches.
 *
 * Not here: argument checks (ledger.c and ledger_accounts.c have done them
 * before any function here runs), the audit buffer and the secret cache
 * (ledger.c). Of the other ledger modules it uses ledger_engine.c alone (the
 * handle's state and error message, seat lists), never ledger.c or
 * ledger_accounts.c. Every call is synchronous.
 */
#include "ledger_engine.h"

#include "embedded.h"
#include "util.h"

#include <sqlite3.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* How long a call waits for another process's write lock. */
#define SQ_BUSY_TIMEOUT_MS 5000
#define SQ_SECRET_KEY "buyer_secret"

enum sq_sync { SYNC_UNSET = 0, SYNC_NORMAL, SYNC_FULL };

/* Every statement the ledger runs, prepared once on first use. */
enum stmt_id {
    ST_BEGIN,
    ST_COMMIT,
    ST_ROLLBACK,
    ST_SECRET_INSERT,
    ST_SECRET_SELECT,
    ST_SHOW_INSERT,
    ST_SHOW_GET,
    ST_SHOW_LIST,
    ST_USER_UPSERT,
    ST_USER_END_SESSIONS,
    ST_USER_GET,
    ST_SESSION_PURGE,
    ST_SESSION_INSERT,
    ST_SESSION_LOOKUP,
    ST_SESSION_DELETE,
    ST_TOKEN_INSERT,
    ST_TOKEN_LOOKUP,
    ST_BOOKING_BY_PAYMENT,
    ST_BOOKING_BY_HOLD,
    ST_BOOKING_GET,
    ST_BOOKING_MAX_ID,
    ST_BOOKED_COUNT,
    ST_BOOKING_LIST,
    ST_BOOKING_INSERT,
    ST_BOOKING_SEAT_INSERT,
    ST_BOOKING_SEAT_OWNER,
    ST_BOOKING_MARK_CANCELLED,
    ST_BOOKING_SEATS_DELETE,
    ST_BOOKED_SEATS,
    ST_AUDIT_INSERT,
    ST_COUNT
};

#define BOOKING_COLUMNS                                                                            \
    "SELECT id, show_id, hold_ref, payment_ref, created_by, created_at, "                          \
    "coalesce(cancelled_at, 0), seats FROM bookings "

static const char *const stmt_sql[ST_COUNT] = {
    [ST_BEGIN] = "BEGIN IMMEDIATE",
    [ST_COMMIT] = "COMMIT",
    [ST_ROLLBACK] = "ROLLBACK",
    [ST_SECRET_INSERT] = "INSERT OR IGNORE INTO meta (key, value) VALUES (?1, ?2)",
    [ST_SECRET_SELECT] = "SELECT value FROM meta WHERE key = ?1",
    [ST_SHOW_INSERT] = "INSERT INTO shows (id, name, venue_name, starts_at, venue_json, created_at)"
                       " VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    [ST_SHOW_GET] = "SELECT id, name, venue_name, starts_at, venue_json FROM shows WHERE id = ?1",
    [ST_SHOW_LIST] = "SELECT id, name, venue_name, starts_at FROM shows ORDER BY starts_at, id",
    [ST_USER_UPSERT] = "INSERT INTO users (name, role, pwhash, created_at) VALUES (?1, ?2, ?3, ?4)"
                       " ON CONFLICT (name) DO UPDATE SET role = excluded.role,"
                       " pwhash = excluded.pwhash",
    [ST_USER_END_SESSIONS] =
        "DELETE FROM sessions WHERE user_id = (SELECT id FROM users WHERE name = ?1)",
    [ST_USER_GET] = "SELECT id, name, role, pwhash FROM users WHERE name = ?1",
    [ST_SESSION_PURGE] = "DELETE FROM sessions WHERE expires_at <= ?1",
    [ST_SESSION_INSERT] =
        "INSERT INTO sessions (token_hash, user_id, expires_at) VALUES (?1, ?2, ?3)",
    [ST_SESSION_LOOKUP] = "SELECT u.id, u.name, u.role FROM sessions s"
                          " JOIN users u ON u.id = s.user_id"
                          " WHERE s.token_hash = ?1 AND s.expires_at > ?2",
    [ST_SESSION_DELETE] = "DELETE FROM sessions WHERE token_hash = ?1",
    [ST_TOKEN_INSERT] = "INSERT INTO api_tokens (token_hash, name, role, created_at)"
                        " VALUES (?1, ?2, ?3, ?4)",
    [ST_TOKEN_LOOKUP] = "SELECT name, role FROM api_tokens WHERE token_hash = ?1",
    [ST_BOOKING_BY_PAYMENT] = BOOKING_COLUMNS "WHERE show_id = ?1 AND payment_ref = ?2",
    [ST_BOOKING_BY_HOLD] = BOOKING_COLUMNS "WHERE show_id = ?1 AND hold_ref = ?2"
                                           " AND cancelled_at IS NULL ORDER BY id DESC LIMIT 1",
    [ST_BOOKING_GET] = BOOKING_COLUMNS "WHERE show_id = ?1 AND id = ?2",
    [ST_BOOKING_LIST] = BOOKING_COLUMNS "WHERE show_id = ?1 ORDER BY id DESC",
    [ST_BOOKING_INSERT] = "INSERT INTO bookings (show_id, hold_ref, payment_ref, created_by,"
                          " created_at, seats) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    [ST_BOOKING_SEAT_INSERT] =
        "INSERT INTO booking_seats (show_id, seat_id, booking_id) VALUES (?1, ?2, ?3)",
    [ST_BOOKING_SEAT_OWNER] =
        "SELECT booking_id FROM booking_seats WHERE show_id = ?1 AND seat_id = ?2",
    [ST_BOOKING_MARK_CANCELLED] = "UPDATE bookings SET cancelled_at = ?1, cancelled_by = ?2"
                                  " WHERE id = ?3 AND cancelled_at IS NULL",
    [ST_BOOKING_SEATS_DELETE] = "DELETE FROM booking_seats WHERE booking_id = ?1",
    [ST_BOOKED_SEATS] = "SELECT seat_id, booking_id FROM booking_seats WHERE show_id = ?1",
    [ST_BOOKING_MAX_ID] = "SELECT coalesce(max(id), 0) FROM bookings",
    [ST_BOOKED_COUNT] = "SELECT count(*) FROM booking_seats WHERE show_id = ?1",
    [ST_AUDIT_INSERT] = "INSERT INTO audit (at, show_id, what, ref, seats, who)"
                        " VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
};

/* The engine state: one connection and its cached statements. */
typedef struct sq {
    sqlite3 *db;
    sqlite3_stmt *stmts[ST_COUNT];
    enum sq_sync sync;
} sq;

static sq *sq_of(ledger *l)
{
    return ledger__state(l);
}

/* ---- errors ---- */

/* Maps a failing SQLite result to a LEDGER_E* code and records the message. */
static int sql_err(ledger *l, int rc, const char *what)
{
    sq *q = sq_of(l);
    int code = LEDGER_EIO;
    switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        code = LEDGER_EBUSY;
        break;
    case SQLITE_CONSTRAINT:
        if (rc == SQLITE_CONSTRAINT_UNIQUE || rc == SQLITE_CONSTRAINT_PRIMARYKEY)
            code = LEDGER_EEXISTS;
        else if (rc == SQLITE_CONSTRAINT_FOREIGNKEY)
            code = LEDGER_ENOTFOUND;
        else
            code = LEDGER_EINVAL;
        break;
    default:
        break;
    }
    return ledger__set_err(l, code, "%s: %s", what,
                           q && q->db ? sqlite3_errmsg(q->db) : sqlite3_errstr(rc));
}

/* ---- statements ---- */

/* The cached statement for id, reset and with no bindings, or NULL (error
 * recorded). The engine keeps ownership; callers reset it when done. */
static sqlite3_stmt *stmt_get(ledger *l, enum stmt_id id)
{
    sq *q = sq_of(l);
    sqlite3_stmt *s = q->stmts[id];
    if (!s) {
        int rc = sqlite3_prepare_v3(q->db, stmt_sql[id], -1, SQLITE_PREPARE_PERSISTENT, &s, NULL);
        if (rc != SQLITE_OK) {
            sql_err(l, rc, "prepare");
            return NULL;
        }
        q->stmts[id] = s;
    }
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
    return s;
}

/* The strings bound with SQLITE_STATIC must outlive the step; every caller
 * resets the statement before returning, so they do. */
static void bind_text(sqlite3_stmt *s, int i, const char *v)
{
    sqlite3_bind_text(s, i, v ? v : "", -1, SQLITE_STATIC);
}

/* Runs a statement that returns no rows; 0 or a LEDGER_E* code. */
static int stmt_run(ledger *l, sqlite3_stmt *s, const char *what)
{
    int rc = sqlite3_step(s);
    sqlite3_reset(s);
    if (rc != SQLITE_DONE)
        return sql_err(l, rc, what);
    return 0;
}

static int exec_simple(ledger *l, enum stmt_id id, const char *what)
{
    sqlite3_stmt *s = stmt_get(l, id);
    if (!s)
        return LEDGER_EIO;
    return stmt_run(l, s, what);
}

/* Runs statement id, which takes one integer (?1) and returns no rows. */
static int exec_int64(ledger *l, enum stmt_id id, int64_t v, const char *what)
{
    sqlite3_stmt *s = stmt_get(l, id);
    if (!s)
        return LEDGER_EIO;
    sqlite3_bind_int64(s, 1, v);
    return stmt_run(l, s, what);
}

static int tx_begin(ledger *l)
{
    return exec_simple(l, ST_BEGIN, "begin transaction");
}

static int tx_commit(ledger *l)
{
    int rc = exec_simple(l, ST_COMMIT, "commit");
    if (rc && !sqlite3_get_autocommit(sq_of(l)->db))
        exec_simple(l, ST_ROLLBACK, "rollback");
    return rc;
}

/* Rolls back if a transaction is open; keeps the caller's error message. */
static void tx_rollback(ledger *l)
{
    char saved[LEDGER__ERRMSG_MAX];
    if (sqlite3_get_autocommit(sq_of(l)->db))
        return;
    snprintf(saved, sizeof(saved), "%s", ledger__errmsg(l));
    exec_simple(l, ST_ROLLBACK, "rollback");
    ledger__set_err(l, 0, "%s", saved);
}

/* synchronous=FULL fsyncs the WAL at every commit (bookings); NORMAL only at
 * checkpoints (audit, sessions): safe against a crash of the process. */
static int set_sync(ledger *l, enum sq_sync level)
{
    sq *q = sq_of(l);
    int rc;
    if (q->sync == level)
        return 0;
    rc = sqlite3_exec(q->db,
                      level == SYNC_FULL ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL",
                      NULL, NULL, NULL);
    if (rc != SQLITE_OK)
        return sql_err(l, rc, "set synchronous");
    q->sync = level;
    return 0;
}

/* Opens a write transaction at the given durability. */
static int tx_begin_sync(ledger *l, enum sq_sync level)
{
    int rc = set_sync(l, level);
    return rc ? rc : tx_begin(l);
}

/* Commits when rc is 0, rolls back otherwise; returns the outcome. */
static int tx_end(ledger *l, int rc)
{
    if (!rc)
        return tx_commit(l);
    tx_rollback(l);
    return rc;
}

/* Runs an insert whose texts bind ?1..?n and the time now ?n+1. */
static int insert_texts_now(ledger *l, enum stmt_id id, const char *const *texts, int n,
                            const char *what)
{
    sqlite3_stmt *s = stmt_get(l, id);
    int i;
    if (!s)
        return LEDGER_EIO;
    for (i = 0; i < n; i++)
        bind_text(s, i + 1, texts[i]);
    sqlite3_bind_int64(s, n + 1, sm_now_ms());
    return stmt_run(l, s, what);
}

/* Copies column col (or "") into dst, truncating to fit. */
static void col_copy(sqlite3_stmt *s, int col, char *dst, size_t dstlen)
{
    const unsigned char *v = sqlite3_column_text(s, col);
    snprintf(dst, dstlen, "%s", v ? (const char *)v : "");
}

/* ---- open, migrations, close ---- */

/* Migration number from a name like "001_init"; 0 when there is none. */
static long migration_number(const char *name)
{
    char *end;
    long n;
    errno = 0;
    n = strtol(name, &end, 10);
    if (errno || end == name || n <= 0)
        return 0;
    return n;
}

static int user_version(ledger *l, long *out)
{
    sqlite3_stmt *s;
    int rc = sqlite3_prepare_v2(sq_of(l)->db, "PRAGMA user_version", -1, &s, NULL);
    if (rc != SQLITE_OK)
        return sql_err(l, rc, "read schema version");
    rc = sqlite3_step(s);
    if (rc == SQLITE_ROW)
        *out = (long)sqlite3_column_int64(s, 0);
    sqlite3_finalize(s);
    if (rc != SQLITE_ROW)
        return sql_err(l, rc, "read schema version");
    return 0;
}

/* Runs one migration's SQL and records its number, inside the caller's
 * transaction. */
static int migration_run(ledger *l, const embedded_file *m, long number)
{
    sqlite3 *db = sq_of(l)->db;
    char pragma[64];
    char *msg = NULL;
    int rc;

    if (sqlite3_exec(db, m->text, NULL, NULL, &msg) != SQLITE_OK) {
        ledger__set_err(l, LEDGER_EIO, "migration %s failed: %s", m->name,
                        msg ? msg : "unknown error");
        sqlite3_free(msg);
        return LEDGER_EIO;
    }
    snprintf(pragma, sizeof(pragma), "PRAGMA user_version = %ld", number);
    rc = sqlite3_exec(db, pragma, NULL, NULL, NULL);
    if (rc != SQLITE_OK)
        return sql_err(l, rc, "set schema version");
    return 0;
}

/* Applies one migration in its own transaction unless another process got
 * there first (the version is read again under the write lock). */
static int apply_migration(ledger *l, const embedded_file *m, long number)
{
    long have = 0;
    int rc = tx_begin(l);
    if (rc)
        return rc;
    rc = user_version(l, &have);
    if (rc || have >= number) {
        tx_rollback(l);
        return rc;
    }
    rc = tx_end(l, migration_run(l, m, number));
    if (rc)
        return rc;
    sm_info("ledger: applied migration %s", m->name);
    return 0;
}

static int migrate(ledger *l)
{
    long have = 0, last = 0;
    const embedded_file *m;
    int rc = user_version(l, &have);
    if (rc)
        return rc;
    for (m = embedded_sql; m->name; m++) {
        long number = migration_number(m->name);
        if (number <= last)
            return ledger__set_err(l, LEDGER_EIO, "migration %s is misnumbered", m->name);
        last = number;
        if (number <= have)
            continue;
        rc = apply_migration(l, m, number);
        if (rc)
            return rc;
    }
    if (have > last)
        sm_warn("ledger: database schema version %ld is newer than this seatmapd's (%ld)", have,
                last);
    return 0;
}

/* WAL lets readers in other processes run beside our writes. Switching a
 * fresh file to WAL needs a lock that a starting sibling may hold briefly. */
static int set_wal(ledger *l)
{
    sqlite3 *db = sq_of(l)->db;
    int attempt, rc = SQLITE_OK;
    for (attempt = 0; attempt < 3; attempt++) {
        sqlite3_stmt *s;
        rc = sqlite3_prepare_v2(db, "PRAGMA journal_mode=WAL", -1, &s, NULL);
        if (rc != SQLITE_OK)
            break;
        rc = sqlite3_step(s);
        if (rc == SQLITE_ROW) {
            const char *mode = (const char *)sqlite3_column_text(s, 0);
            if (mode && strcmp(mode, "wal") != 0 && strcmp(mode, "memory") != 0)
                sm_warn("ledger: journal mode is %s, not wal", mode);
            sqlite3_finalize(s);
            return 0;
        }
        sqlite3_finalize(s);
        if ((rc & 0xff) != SQLITE_BUSY && (rc & 0xff) != SQLITE_LOCKED)
            break;
    }
    return sql_err(l, rc, "set WAL mode");
}

/* WAL, a writable file, foreign keys, FULL durability, then migrations. */
static int sq_prepare_db(ledger *l)
{
    sqlite3 *db = sq_of(l)->db;
    int rc;

    sqlite3_extended_result_codes(db, 1);
    sqlite3_busy_timeout(db, SQ_BUSY_TIMEOUT_MS);
    rc = set_wal(l);
    if (!rc && sqlite3_db_readonly(db, "main") == 1)
        rc = ledger__set_err(l, LEDGER_EIO, "the file is read-only");
    if (!rc && sqlite3_exec(db, "PRAGMA foreign_keys=ON", NULL, NULL, NULL) != SQLITE_OK)
        rc = sql_err(l, sqlite3_errcode(db), "enable foreign keys");
    if (!rc)
        rc = set_sync(l, SYNC_FULL);
    if (!rc)
        rc = migrate(l);
    return rc;
}

static int sq_open(ledger *l, const char *path)
{
    sq *q = calloc(1, sizeof(*q));
    int rc;

    if (!q)
        return ledger__set_err(l, LEDGER_EIO, "out of memory");
    ledger__set_state(l, q);
    rc = sqlite3_open_v2(path, &q->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL);
    if (rc != SQLITE_OK)
        return ledger__set_err(l, LEDGER_EIO, "%s",
                               q->db ? sqlite3_errmsg(q->db) : sqlite3_errstr(rc));
    return sq_prepare_db(l);
}

static void sq_close(ledger *l)
{
    sq *q = sq_of(l);
    size_t i;
    if (!q)
        return;
    for (i = 0; i < ST_COUNT; i++)
        sqlite3_finalize(q->stmts[i]);
    if (q->db)
        sqlite3_close_v2(q->db);
    free(q);
    ledger__set_state(l, NULL);
}

/* ---- secret ---- */

static int sq_secret(ledger *l, const uint8_t fresh[LEDGER__SECRET_BYTES],
                     uint8_t out[LEDGER__SECRET_BYTES])
{
    sqlite3_stmt *s;
    int rc;

    /* Two processes may race here: INSERT OR IGNORE keeps the first secret
     * and both then read the same one. */
    s = stmt_get(l, ST_SECRET_INSERT);
    if (!s)
        return LEDGER_EIO;
    bind_text(s, 1, SQ_SECRET_KEY);
    sqlite3_bind_blob(s, 2, fresh, LEDGER__SECRET_BYTES, SQLITE_STATIC);
    rc = stmt_run(l, s, "store secret");
    if (rc)
        return rc;

    s = stmt_get(l, ST_SECRET_SELECT);
    if (!s)
        return LEDGER_EIO;
    bind_text(s, 1, SQ_SECRET_KEY);
    rc = sqlite3_step(s);
    if (rc == SQLITE_ROW && sqlite3_column_bytes(s, 0) == LEDGER__SECRET_BYTES) {
        memcpy(out, sqlite3_column_blob(s, 0), LEDGER__SECRET_BYTES);
        rc = 0;
    } else if (rc == SQLITE_ROW) {
        rc = ledger__set_err(l, LEDGER_EIO, "stored secret has the wrong length");
    } else if (rc == SQLITE_DONE) {
        rc = ledger__set_err(l, LEDGER_EIO, "secret missing after insert");
    } else {
        rc = sql_err(l, rc, "read secret");
    }
    sqlite3_reset(s);
    return rc;
}

/* ---- shows ---- */

static int sq_show_add(ledger *l, const char *id, const char *name, const char *venue_name,
                       const char *starts_at, const char *venue_json)
{
    const char *row[] = {id, name, venue_name, starts_at, venue_json};
    int rc = set_sync(l, SYNC_FULL);
    if (!rc)
        rc = insert_texts_now(l, ST_SHOW_INSERT, row, 5, "add show");
    if (rc == LEDGER_EEXISTS)
        ledger__set_err(l, rc, "show %s already exists", id);
    return rc;
}

static void show_from_row(sqlite3_stmt *s, ledger_show *out)
{
    col_copy(s, 0, out->id, sizeof(out->id));
    col_copy(s, 1, out->name, sizeof(out->name));
    col_copy(s, 2, out->venue_name, sizeof(out->venue_name));
    col_copy(s, 3, out->starts_at, sizeof(out->starts_at));
}

static int sq_show_get(ledger *l, const char *id, ledger_show *out)
{
    sqlite3_stmt *s = stmt_get(l, ST_SHOW_GET);
    int rc;

    if (!s)
        return LEDGER_EIO;
    bind_text(s, 1, id);
    rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        const char *json = (const char *)sqlite3_column_text(s, 4);
        show_from_row(s, out);
        out->venue_json = strdup(json ? json : "");
        rc = out->venue_json ? 0 : ledger__set_err(l, LEDGER_EIO, "out of memory");
    } else if (rc == SQLITE_DONE) {
        rc = ledger__set_err(l, LEDGER_ENOTFOUND, "no show %s", id);
    } else {
        rc = sql_err(l, rc, "get show");
    }
    sqlite3_reset(s);
    return rc;
}

/* Grows a list by doubling so that it holds one more of size bytes each.
 * 0, or -1 (list untouched) when out of memory. */
static int list_grow(void **list, size_t count, size_t *cap, size_t size)
{
    size_t ncap;
    void *p;
    if (count < *cap)
        return 0;
    ncap = *cap ? *cap * 2 : 16;
    p = realloc(*list, ncap * size);
    if (!p)
        return -1;
    *list = p;
    *cap = ncap;
    return 0;
}

static int sq_show_list(ledger *l, ledger_show **out, size_t *n)
{
    ledger_show *list = NULL;
    size_t count = 0, cap = 0;
    sqlite3_stmt *s = stmt_get(l, ST_SHOW_LIST);
    int rc;

    if (!s)
        return LEDGER_EIO;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        if (list_grow((void **)&list, count, &cap, sizeof(*list))) {
            rc = SQLITE_NOMEM;
            break;
        }
        memset(&list[count], 0, sizeof(list[count]));
        show_from_row(s, &list[count]);
        count++;
    }
    sqlite3_reset(s);
    if (rc != SQLITE_DONE) {
        free(list);
        return sql_err(l, rc, "list shows");
    }
    *out = list;
    *n = count;
    return 0;
}

/* ---- users, sessions, tokens ---- */

/* Runs statement id, which takes one text (?1) and returns no rows. */
static int exec_text(ledger *l, enum stmt_id id, const char *v, const char *what)
{
    sqlite3_stmt *s = stmt_get(l, id);
    if (!s)
        return LEDGER_EIO;
    bind_text(s, 1, v);
    return stmt_run(l, s, what);
}

static int sq_user_add(ledger *l, const char *name, const char *role, const char *pwhash)
{
    int rc = tx_begin_sync(l, SYNC_FULL);
    if (rc)
        return rc;
    /* A reset password or changed role ends the user's open sessions. */
    rc = exec_text(l, ST_USER_END_SESSIONS, name, "end sessions");
    if (!rc) {
        const char *row[] = {name, role, pwhash};
        rc = insert_texts_now(l, ST_USER_UPSERT, row, 3, "add user");
    }
    return tx_end(l, rc);
}

/*
 * Steps a bound statement whose row is (id, name, role[, pwhash]) into *out.
 * A token's row has no id (column 0 is its name): it becomes the user
 * "token:NAME" with id 0. `what` names the thing for messages ("user").
 */
static int step_user(ledger *l, sqlite3_stmt *s, ledger_user *out, int is_token, const char *what)
{
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        if (is_token) {
            const unsigned char *name = sqlite3_column_text(s, 0);
            snprintf(out->name, sizeof(out->name), LEDGER_TOKEN_PREFIX "%s",
                     name ? (const char *)name : "");
            col_copy(s, 1, out->role, sizeof(out->role));
        } else {
            out->id = sqlite3_column_int64(s, 0);
            col_copy(s, 1, out->name, sizeof(out->name));
            col_copy(s, 2, out->role, sizeof(out->role));
            if (sqlite3_column_count(s) > 3)
                col_copy(s, 3, out->pwhash, sizeof(out->pwhash));
        }
        rc = 0;
    } else if (rc == SQLITE_DONE) {
        rc = ledger__set_err(l, LEDGER_ENOTFOUND, "no such %s", what);
    } else {
        rc = sql_err(l, rc, what);
    }
    sqlite3_reset(s);
    return rc;
}

/* Looks up one user-like row by one text key (?1). */
static int user_by_text(ledger *l, enum stmt_id id, const char *key, ledger_user *out, int is_token,
                        const char *what)
{
    sqlite3_stmt *s = stmt_get(l, id);
    if (!s)
        return LEDGER_EIO;
    bind_text(s, 1, key);
    return step_user(l, s, out, is_token, what);
}

static int sq_user_get(ledger *l, const char *name, ledger_user *out)
{
    return user_by_text(l, ST_USER_GET, name, out, 0, "user");
}

static int sq_session_create(ledger *l, int64_t user_id, const char *token_hash,
                             int64_t expires_at_ms)
{
    sqlite3_stmt *s;
    /* Losing a session to a power cut only means logging in again. */
    int rc = set_sync(l, SYNC_NORMAL);
    if (rc)
        return rc;
    /* Logins are rare: a good moment to forget expired sessions. */
    rc = exec_int64(l, ST_SESSION_PURGE, sm_now_ms(), "purge sessions");
    if (rc)
        return rc;
    s = stmt_get(l, ST_SESSION_INSERT);
    if (!s)
        return LEDGER_EIO;
    bind_text(s, 1, token_hash);
    sqlite3_bind_int64(s, 2, user_id);
    sqlite3_bind_int64(s, 3, expires_at_ms);
    rc = stmt_run(l, s, "create session");
    if (rc == LEDGER_ENOTFOUND)
        ledger__set_err(l, rc, "no user with id %lld", (long long)user_id);
    return rc;
}

static int sq_session_lookup(ledger *l, const char *token_hash, int64_t now_ms, ledger_user *out)
{
    sqlite3_stmt *s = stmt_get(l, ST_SESSION_LOOKUP);
    if (!s)
        return LEDGER_EIO;
    bind_text(s, 1, token_hash);
    sqlite3_bind_int64(s, 2, now_ms);
    return step_user(l, s, out, 0, "session");
}

static int sq_session_delete(ledger *l, const char *token_hash)
{
    int rc = set_sync(l, SYNC_NORMAL);
    if (!rc)
        rc = exec_text(l, ST_SESSION_DELETE, token_hash, "delete session");
    if (!rc && sqlite3_changes(sq_of(l)->db) == 0)
        rc = ledger__set_err(l, LEDGER_ENOTFOUND, "no such session");
    return rc;
}

static int sq_token_add(ledger *l, const char *name, const char *role, const char *token_hash)
{
    const char *row[] = {token_hash, name, role};
    int rc = set_sync(l, SYNC_FULL);
    if (!rc)
        rc = insert_texts_now(l, ST_TOKEN_INSERT, row, 3, "add token");
    if (rc == LEDGER_EEXISTS)
        ledger__set_err(l, rc, "a token named %s already exists", name);
    return rc;
}

static int sq_token_lookup(ledger *l, const char *token_hash, ledger_user *out)
{
    return user_by_text(l, ST_TOKEN_LOOKUP, token_hash, out, 1, "token");
}

/* ---- bookings: reading ---- */

/* Fills *out from a row of BOOKING_COLUMNS. 0 or LEDGER_EIO (no memory). */
static int booking_from_row(ledger *l, sqlite3_stmt *s, ledger_booking *out)
{
    const unsigned char *seats;
    memset(out, 0, sizeof(*out));
    out->id = sqlite3_column_int64(s, 0);
    col_copy(s, 1, out->show, sizeof(out->show));
    col_copy(s, 2, out->hold_ref, sizeof(out->hold_ref));
    col_copy(s, 3, out->payment_ref, sizeof(out->payment_ref));
    col_copy(s, 4, out->by, sizeof(out->by));
    out->created_at = sqlite3_column_int64(s, 5);
    out->cancelled_at = sqlite3_column_int64(s, 6);
    seats = sqlite3_column_text(s, 7);
    if (ledger__seats_split(out, seats ? (const char *)seats : "")) {
        ledger__booking_clear(out);
        return ledger__set_err(l, LEDGER_EIO, "out of memory");
    }
    return 0;
}

/* Runs a prepared booking query expecting at most one row. */
static int booking_one(ledger *l, sqlite3_stmt *s, ledger_booking *out, const char *what)
{
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW)
        rc = booking_from_row(l, s, out);
    else if (rc == SQLITE_DONE)
        rc = ledger__set_err(l, LEDGER_ENOTFOUND, "no such booking");
    else
        rc = sql_err(l, rc, what);
    sqlite3_reset(s);
    return rc;
}

/* A booking query keyed by the show (?1) and one text (?2). */
static int booking_by_text(ledger *l, enum stmt_id id, const char *show, const char *key,
                           ledger_booking *out, const char *what)
{
    sqlite3_stmt *s = stmt_get(l, id);
    if (!s)
        return LEDGER_EIO;
    bind_text(s, 1, show);
    bind_text(s, 2, key);
    return booking_one(l, s, out, what);
}

static int sq_booking_by_payment(ledger *l, const char *show, const char *payment_ref,
                                 ledger_booking *out)
{
    return booking_by_text(l, ST_BOOKING_BY_PAYMENT, show, payment_ref, out,
                           "find booking by payment");
}

static int sq_booking_by_hold(ledger *l, const char *show, const char *hold_ref,
                              ledger_booking *out)
{
    return booking_by_text(l, ST_BOOKING_BY_HOLD, show, hold_ref, out, "find booking by hold");
}

static int sq_booking_get(ledger *l, const char *show, int64_t id, ledger_booking *out)
{
    sqlite3_stmt *s = stmt_get(l, ST_BOOKING_GET);
    if (!s)
        return LEDGER_EIO;
    bind_text(s, 1, show);
    sqlite3_bind_int64(s, 2, id);
    return booking_one(l, s, out, "get booking");
}

static int sq_booking_list(ledger *l, const char *show, ledger_booking **out, size_t *n)
{
    ledger_booking *list = NULL;
    size_t count = 0, cap = 0;
    sqlite3_stmt *s = stmt_get(l, ST_BOOKING_LIST);
    int rc;

    if (!s)
        return LEDGER_EIO;
    bind_text(s, 1, show);
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        if (list_grow((void **)&list, count, &cap, sizeof(*list)))
            break;
        if (booking_from_row(l, s, &list[count]))
            break;
        count++;
    }
    sqlite3_reset(s);
    if (rc != SQLITE_DONE) {
        ledger__booking_list_free(list, count);
        return rc == SQLITE_ROW ? ledger__set_err(l, LEDGER_EIO, "out of memory")
                                : sql_err(l, rc, "list bookings");
    }
    *out = list;
    *n = count;
    return 0;
}

static int sq_booked_seats(ledger *l, const char *show, ledger_seat_cb cb, void *arg)
{
    sqlite3_stmt *s = stmt_get(l, ST_BOOKED_SEATS);
    int rc;

    if (!s)
        return LEDGER_EIO;
    bind_text(s, 1, show);
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        const unsigned char *seat = sqlite3_column_text(s, 0);
        if (seat)
            cb(arg, (const char *)seat, sqlite3_column_int64(s, 1));
    }
    sqlite3_reset(s);
    if (rc != SQLITE_DONE)
        return sql_err(l, rc, "list booked seats");
    return 0;
}

/* Runs a statement that answers one integer; show (may be NULL) binds ?1. */
static int query_int64(ledger *l, enum stmt_id id, const char *show, int64_t *out, const char *what)
{
    sqlite3_stmt *s = stmt_get(l, id);
    int rc;

    *out = 0;
    if (!s)
        return LEDGER_EIO;
    if (show)
        bind_text(s, 1, show);
    rc = sqlite3_step(s);
    if (rc == SQLITE_ROW)
        *out = sqlite3_column_int64(s, 0);
    sqlite3_reset(s);
    return rc == SQLITE_ROW ? 0 : sql_err(l, rc, what);
}

static int sq_booking_max_id(ledger *l, int64_t *out)
{
    return query_int64(l, ST_BOOKING_MAX_ID, NULL, out, "read the newest booking id");
}

static int sq_booked_count(ledger *l, const char *show, int64_t *out)
{
    return query_int64(l, ST_BOOKED_COUNT, show, out, "count booked seats");
}

/* ---- bookings: writing ---- */

/* Writes one audit row now, inside the caller's transaction. */
static int audit_insert(ledger *l, const ledger_audit_row *r)
{
    sqlite3_stmt *s = stmt_get(l, ST_AUDIT_INSERT);
    if (!s)
        return LEDGER_EIO;
    sqlite3_bind_int64(s, 1, r->at);
    bind_text(s, 2, r->show);
    bind_text(s, 3, r->what);
    bind_text(s, 4, r->ref);
    bind_text(s, 5, r->seats);
    bind_text(s, 6, r->who);
    return stmt_run(l, s, "write audit row");
}

/* The audit row of a booking change: ref is the booking id. */
static int audit_booking(ledger *l, const char *what, const char *show, int64_t id,
                         const char *seats, const char *who, int64_t at)
{
    char idbuf[24];
    ledger_audit_row r = {at, what, show, idbuf, seats, who};
    snprintf(idbuf, sizeof(idbuf), "%lld", (long long)id);
    return audit_insert(l, &r);
}

/* Names the active booking that holds a seat, for the error message. */
static int64_t seat_owner(ledger *l, const char *show, const char *seat)
{
    int64_t id = 0;
    sqlite3_stmt *s = stmt_get(l, ST_BOOKING_SEAT_OWNER);
    if (!s)
        return 0;
    bind_text(s, 1, show);
    bind_text(s, 2, seat);
    if (sqlite3_step(s) == SQLITE_ROW)
        id = sqlite3_column_int64(s, 0);
    sqlite3_reset(s);
    return id;
}

/* Inside an open transaction: looks up an existing booking for the payment
 * ref; LEDGER_EEXISTS with *out filled, 0 when there is none. */
static int booking_existing(ledger *l, const char *show, const char *payment_ref,
                            ledger_booking *out)
{
    int rc = sq_booking_by_payment(l, show, payment_ref, out);
    if (rc == LEDGER_ENOTFOUND)
        return 0;
    if (rc == 0)
        return ledger__set_err(l, LEDGER_EEXISTS, "payment ref %s already booked as booking %lld",
                               payment_ref, (long long)out->id);
    return rc;
}

/* Inserts the bookings row; *id receives its id. */
static int booking_insert(ledger *l, const ledger_booking_new *nb, int64_t *id)
{
    sqlite3_stmt *s = stmt_get(l, ST_BOOKING_INSERT);
    int rc;

    if (!s)
        return LEDGER_EIO;
    bind_text(s, 1, nb->show);
    bind_text(s, 2, nb->hold_ref);
    bind_text(s, 3, nb->payment_ref);
    bind_text(s, 4, nb->by);
    sqlite3_bind_int64(s, 5, nb->now_ms);
    bind_text(s, 6, nb->seats_joined);
    rc = stmt_run(l, s, "insert booking");
    if (rc == LEDGER_ENOTFOUND)
        return ledger__set_err(l, rc, "no show %s", nb->show);
    if (!rc)
        *id = sqlite3_last_insert_rowid(sq_of(l)->db);
    return rc;
}

/* Claims every seat for booking id. The booking_seats primary key refuses a
 * seat that an active booking holds: LEDGER_ESEATTAKEN, naming the seat. */
static int booking_claim_seats(ledger *l, const ledger_booking_new *nb, int64_t id)
{
    size_t i;
    for (i = 0; i < nb->nseats; i++) {
        sqlite3_stmt *s = stmt_get(l, ST_BOOKING_SEAT_INSERT);
        int rc;
        if (!s)
            return LEDGER_EIO;
        bind_text(s, 1, nb->show);
        bind_text(s, 2, nb->seats[i]);
        sqlite3_bind_int64(s, 3, id);
        rc = stmt_run(l, s, "insert booked seat");
        if (rc == LEDGER_EEXISTS)
            return ledger__set_err(l, LEDGER_ESEATTAKEN, "seat %s is already booked (booking %lld)",
                                   nb->seats[i], (long long)seat_owner(l, nb->show, nb->seats[i]));
        if (rc)
            return rc;
    }
    return 0;
}

/* After a rolled-back LEDGER_EEXISTS that booking_existing did not see:
 * another writer slipped the same payment ref in; report theirs, keeping
 * the message. */
static int booking_theirs(ledger *l, const ledger_booking_new *nb, ledger_booking *out)
{
    char saved[LEDGER__ERRMSG_MAX];
    int rc = LEDGER_EEXISTS;
    snprintf(saved, sizeof(saved), "%s", ledger__errmsg(l));
    if (sq_booking_by_payment(l, nb->show, nb->payment_ref, out) != 0)
        rc = LEDGER_EIO;
    ledger__set_err(l, rc, "%s", saved);
    return rc;
}

static int sq_booking_create(ledger *l, const ledger_booking_new *nb, int64_t *id,
                             ledger_booking *existing)
{
    const char *what = nb->hold_ref && nb->hold_ref[0] ? "book" : "sale";
    int rc = tx_begin_sync(l, SYNC_FULL);
    if (rc)
        return rc;
    rc = booking_existing(l, nb->show, nb->payment_ref, existing);
    if (!rc)
        rc = booking_insert(l, nb, id);
    if (!rc)
        rc = booking_claim_seats(l, nb, *id);
    if (!rc)
        rc = audit_booking(l, what, nb->show, *id, nb->seats_joined, nb->by, nb->now_ms);
    rc = tx_end(l, rc);
    if (rc == LEDGER_EEXISTS && existing->id == 0)
        rc = booking_theirs(l, nb, existing);
    return rc;
}

/* Inside the cancel transaction: marks booking id cancelled, frees its
 * seats and writes the audit row listing the seats freed. */
static int booking_mark_cancelled(ledger *l, const ledger_booking *b, const char *by,
                                  int64_t now_ms)
{
    sqlite3_stmt *s = stmt_get(l, ST_BOOKING_MARK_CANCELLED);
    char *seats = NULL;
    int rc;

    if (!s)
        return LEDGER_EIO;
    sqlite3_bind_int64(s, 1, now_ms);
    bind_text(s, 2, by);
    sqlite3_bind_int64(s, 3, b->id);
    rc = stmt_run(l, s, "cancel booking");
    if (!rc)
        rc = exec_int64(l, ST_BOOKING_SEATS_DELETE, b->id, "free booked seats");
    if (rc)
        return rc;
    if (ledger__seats_join((const char *const *)b->seats, b->nseats, &seats))
        seats = NULL;
    rc = audit_booking(l, "cancel", b->show, b->id, seats ? seats : "", by, now_ms);
    free(seats);
    return rc;
}

static int sq_booking_cancel(ledger *l, const char *show, int64_t id, const char *by,
                             int64_t now_ms, ledger_booking *out)
{
    int rc = tx_begin_sync(l, SYNC_FULL);
    if (rc)
        return rc;
    rc = sq_booking_get(l, show, id, out);
    if (!rc && out->cancelled_at)
        rc = ledger__set_err(l, LEDGER_EINVAL, "booking %lld is already cancelled", (long long)id);
    if (!rc)
        rc = booking_mark_cancelled(l, out, by, now_ms);
    rc = tx_end(l, rc);
    if (!rc)
        out->cancelled_at = now_ms;
    return rc;
}

/* ---- audit ---- */

static int sq_audit_write(ledger *l, const ledger_audit_row *rows, size_t n)
{
    size_t i;
    int rc = tx_begin_sync(l, SYNC_NORMAL);
    if (rc)
        return rc;
    for (i = 0; i < n && !rc; i++)
        rc = audit_insert(l, &rows[i]);
    return tx_end(l, rc);
}

/* ---- webhooks and deliveries ---- */

/* Webhook statements are prepared per call: they run a few times a second
 * at most, and keeping them apart leaves the booking statements' table as
 * it is. *out is finalized by the caller. */
static int wh_prepare(ledger *l, const char *sql, sqlite3_stmt **out)
{
    int rc = sqlite3_prepare_v2(sq_of(l)->db, sql, -1, out, NULL);
    if (rc != SQLITE_OK) {
        *out = NULL;
        return sql_err(l, rc, "prepare");
    }
    return 0;
}

/* Steps a statement that returns no rows, finalizes it; 0 or LEDGER_E*;
 * LEDGER_ENOTFOUND when want_change and no row changed. */
static int wh_run(ledger *l, sqlite3_stmt *s, int want_change, const char *what)
{
    int rc = sqlite3_step(s), code = 0;
    if (rc != SQLITE_DONE)
        code = sql_err(l, rc, what);
    else if (want_change && sqlite3_changes(sq_of(l)->db) == 0)
        code = ledger__set_err(l, LEDGER_ENOTFOUND, "%s: no such row", what);
    sqlite3_finalize(s);
    return code;
}

/* Reads one row of a statement into *out (a ledger_webhook or a
 * ledger_delivery, by its from_row: 0, or -1 out of memory). */
typedef int wh_row_fn(sqlite3_stmt *s, void *out);

/* Steps s (finalized here) for the one row it should find: 0, LEDGER_ENOTFOUND
 * with "no such <thing>", or the error reading it. */
static int wh_read_one(ledger *l, sqlite3_stmt *s, wh_row_fn *from_row, void *out,
                       const char *thing)
{
    char what[64];
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW && from_row(s, out))
        rc = SQLITE_NOMEM;
    sqlite3_finalize(s);
    if (rc == SQLITE_ROW)
        return 0;
    if (rc == SQLITE_DONE)
        return ledger__set_err(l, LEDGER_ENOTFOUND, "no such %s", thing);
    snprintf(what, sizeof(what), "read %s", thing);
    return sql_err(l, rc, what);
}

/* Steps s (finalized here) over every row into a new array of elements of
 * `size` bytes, zeroed before from_row fills each: *out (the caller frees
 * it) and *n. On failure nothing is returned and the error is set. */
static int wh_read_all(ledger *l, sqlite3_stmt *s, wh_row_fn *from_row, size_t size, void **out,
                       size_t *n, const char *what)
{
    char *list = NULL;
    size_t count = 0, cap = 0;
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        if (list_grow((void **)&list, count, &cap, size)) {
            rc = SQLITE_NOMEM;
            break;
        }
        memset(list + count * size, 0, size);
        if (from_row(s, list + count++ * size)) {
            rc = SQLITE_NOMEM;
            break;
        }
    }
    sqlite3_finalize(s);
    if (rc != SQLITE_DONE) {
        free(list);
        return sql_err(l, rc, what);
    }
    *out = list;
    *n = count;
    return 0;
}

/* DELETE ... WHERE id = ?1 at the given durability: 0, LEDGER_ENOTFOUND
 * with "no such <thing>", or the error. */
static int wh_delete(ledger *l, int sync, const char *sql, int64_t id, const char *thing)
{
    char what[64];
    sqlite3_stmt *s;
    int rc = set_sync(l, sync);
    if (!rc)
        rc = wh_prepare(l, sql, &s);
    if (rc)
        return rc;
    sqlite3_bind_int64(s, 1, id);
    snprintf(what, sizeof(what), "delete %s", thing);
    rc = wh_run(l, s, 1, what);
    if (rc == LEDGER_ENOTFOUND)
        ledger__set_err(l, rc, "no such %s", thing);
    return rc;
}

static int sq_webhook_add(ledger *l, const char *url, const char *events, const char *secret,
                          int64_t now_ms, int64_t *id)
{
    sqlite3_stmt *s;
    int rc = set_sync(l, SYNC_FULL);
    if (!rc)
        rc = wh_prepare(l,
                        "INSERT INTO webhooks (url, events, secret, created_at)"
                        " VALUES (?1, ?2, ?3, ?4)",
                        &s);
    if (rc)
        return rc;
    bind_text(s, 1, url);
    bind_text(s, 2, events);
    bind_text(s, 3, secret);
    sqlite3_bind_int64(s, 4, now_ms);
    rc = wh_run(l, s, 0, "add webhook");
    if (!rc)
        *id = sqlite3_last_insert_rowid(sq_of(l)->db);
    return rc;
}

static int webhook_from_row(sqlite3_stmt *s, void *row)
{
    ledger_webhook *out = row;
    out->id = sqlite3_column_int64(s, 0);
    col_copy(s, 1, out->url, sizeof(out->url));
    col_copy(s, 2, out->events, sizeof(out->events));
    col_copy(s, 3, out->secret, sizeof(out->secret));
    out->created_at = sqlite3_column_int64(s, 4);
    return 0;
}

#define WEBHOOK_COLUMNS "SELECT id, url, events, secret, created_at FROM webhooks "

static int sq_webhook_get(ledger *l, int64_t id, ledger_webhook *out)
{
    sqlite3_stmt *s;
    int rc = wh_prepare(l, WEBHOOK_COLUMNS "WHERE id = ?1", &s);
    if (rc)
        return rc;
    sqlite3_bind_int64(s, 1, id);
    return wh_read_one(l, s, webhook_from_row, out, "webhook");
}

static int sq_webhook_list(ledger *l, ledger_webhook **out, size_t *n)
{
    sqlite3_stmt *s;
    int rc = wh_prepare(l, WEBHOOK_COLUMNS "ORDER BY id", &s);
    if (rc)
        return rc;
    return wh_read_all(l, s, webhook_from_row, sizeof(**out), (void **)out, n, "list webhooks");
}

static int sq_webhook_delete(ledger *l, int64_t id)
{
    return wh_delete(l, SYNC_FULL, "DELETE FROM webhooks WHERE id = ?1", id, "webhook");
}

static int sq_delivery_add(ledger *l, int64_t webhook_id, const char *event_id,
                           const char *event_type, const char *payload, int64_t now_ms, int64_t *id,
                           int *created)
{
    sqlite3_stmt *s;
    int rc = set_sync(l, SYNC_NORMAL);
    if (!rc)
        rc = wh_prepare(l,
                        "INSERT INTO deliveries (webhook_id, event_id, event_type, payload,"
                        " next_attempt_at, created_at, updated_at)"
                        " VALUES (?1, ?2, ?3, ?4, ?5, ?5, ?5)"
                        " ON CONFLICT (webhook_id, event_id) DO NOTHING",
                        &s);
    if (rc)
        return rc;
    sqlite3_bind_int64(s, 1, webhook_id);
    bind_text(s, 2, event_id);
    bind_text(s, 3, event_type);
    bind_text(s, 4, payload);
    sqlite3_bind_int64(s, 5, now_ms);
    rc = wh_run(l, s, 0, "add delivery");
    if (rc == LEDGER_ENOTFOUND) /* the foreign key: the webhook is gone */
        return ledger__set_err(l, rc, "no such webhook");
    if (rc)
        return rc;
    *created = sqlite3_changes(sq_of(l)->db) > 0;
    rc = wh_prepare(l, "SELECT id FROM deliveries WHERE webhook_id = ?1 AND event_id = ?2", &s);
    if (rc)
        return rc;
    sqlite3_bind_int64(s, 1, webhook_id);
    bind_text(s, 2, event_id);
    rc = sqlite3_step(s);
    if (rc == SQLITE_ROW)
        *id = sqlite3_column_int64(s, 0);
    sqlite3_finalize(s);
    if (rc == SQLITE_ROW)
        return 0;
    if (rc == SQLITE_DONE)
        return ledger__set_err(l, LEDGER_ENOTFOUND, "no such webhook");
    return sql_err(l, rc, "read delivery");
}

#define DELIVERY_COLUMNS                                                                           \
    "SELECT id, webhook_id, event_id, event_type, status, attempts, base_attempts, last_error,"    \
    " next_attempt_at, created_at, payload FROM deliveries "

/* Fills out from a row; with_payload copies the payload (0, or -1 when out
 * of memory). */
static int delivery_from_row(sqlite3_stmt *s, ledger_delivery *out, int with_payload)
{
    out->id = sqlite3_column_int64(s, 0);
    out->webhook_id = sqlite3_column_int64(s, 1);
    col_copy(s, 2, out->event_id, sizeof(out->event_id));
    col_copy(s, 3, out->event_type, sizeof(out->event_type));
    col_copy(s, 4, out->status, sizeof(out->status));
    out->attempts = sqlite3_column_int(s, 5);
    out->base_attempts = sqlite3_column_int(s, 6);
    col_copy(s, 7, out->last_error, sizeof(out->last_error));
    out->next_attempt_at = sqlite3_column_int64(s, 8);
    out->created_at = sqlite3_column_int64(s, 9);
    if (with_payload) {
        const unsigned char *p = sqlite3_column_text(s, 10);
        out->payload = strdup(p ? (const char *)p : "");
        if (!out->payload)
            return -1;
    }
    return 0;
}

static int delivery_with_payload(sqlite3_stmt *s, void *row)
{
    return delivery_from_row(s, row, 1);
}

static int delivery_listed(sqlite3_stmt *s, void *row)
{
    return delivery_from_row(s, row, 0);
}

static int sq_delivery_get(ledger *l, int64_t id, ledger_delivery *out)
{
    sqlite3_stmt *s;
    int rc = wh_prepare(l, DELIVERY_COLUMNS "WHERE id = ?1", &s);
    if (rc)
        return rc;
    sqlite3_bind_int64(s, 1, id);
    return wh_read_one(l, s, delivery_with_payload, out, "delivery");
}

static int sq_delivery_list(ledger *l, int64_t webhook_id, const char *status, size_t limit,
                            ledger_delivery **out, size_t *n)
{
    sqlite3_stmt *s;
    int rc = wh_prepare(l,
                        DELIVERY_COLUMNS "WHERE webhook_id = ?1 AND (?2 IS NULL OR status = ?2)"
                                         " ORDER BY id DESC LIMIT ?3",
                        &s);
    if (rc)
        return rc;
    sqlite3_bind_int64(s, 1, webhook_id);
    if (status)
        bind_text(s, 2, status);
    sqlite3_bind_int64(s, 3, (sqlite3_int64)limit);
    return wh_read_all(l, s, delivery_listed, sizeof(**out), (void **)out, n, "list deliveries");
}

static int sq_delivery_update(ledger *l, const ledger_delivery *d, int64_t now_ms)
{
    sqlite3_stmt *s;
    int rc = set_sync(l, SYNC_NORMAL);
    if (!rc)
        rc = wh_prepare(l,
                        "UPDATE deliveries SET status = ?2, attempts = ?3, base_attempts = ?4,"
                        " last_error = ?5, next_attempt_at = ?6, updated_at = ?7 WHERE id = ?1",
                        &s);
    if (rc)
        return rc;
    sqlite3_bind_int64(s, 1, d->id);
    bind_text(s, 2, d->status);
    sqlite3_bind_int(s, 3, d->attempts);
    sqlite3_bind_int(s, 4, d->base_attempts);
    bind_text(s, 5, d->last_error);
    sqlite3_bind_int64(s, 6, d->next_attempt_at);
    sqlite3_bind_int64(s, 7, now_ms);
    rc = wh_run(l, s, 1, "update delivery");
    if (rc == LEDGER_ENOTFOUND)
        ledger__set_err(l, rc, "no such delivery");
    return rc;
}

static int sq_delivery_count(ledger *l, int64_t webhook_id, const char *status, int64_t *out)
{
    sqlite3_stmt *s;
    int rc = wh_prepare(
        l, "SELECT count(*) FROM deliveries WHERE webhook_id = ?1 AND (?2 IS NULL OR status = ?2)",
        &s);
    if (rc)
        return rc;
    sqlite3_bind_int64(s, 1, webhook_id);
    if (status)
        bind_text(s, 2, status);
    rc = sqlite3_step(s);
    if (rc == SQLITE_ROW)
        *out = sqlite3_column_int64(s, 0);
    sqlite3_finalize(s);
    return rc == SQLITE_ROW ? 0 : sql_err(l, rc, "count deliveries");
}

static int sq_delivery_delete(ledger *l, int64_t id)
{
    return wh_delete(l, SYNC_NORMAL, "DELETE FROM deliveries WHERE id = ?1", id, "delivery");
}

static int sq_delivery_stats(ledger *l, int64_t webhook_id, int64_t since_ms,
                             ledger_delivery_counts *out)
{
    sqlite3_stmt *s;
    int rc = wh_prepare(l,
                        "SELECT status, count(*), sum(status = 'ok' AND updated_at >= ?2)"
                        " FROM deliveries WHERE webhook_id = ?1 GROUP BY status",
                        &s);
    if (rc)
        return rc;
    sqlite3_bind_int64(s, 1, webhook_id);
    sqlite3_bind_int64(s, 2, since_ms);
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        const unsigned char *st = sqlite3_column_text(s, 0);
        ledger__stats_add(out, st ? (const char *)st : "", sqlite3_column_int64(s, 1));
        out->ok_since += sqlite3_column_int64(s, 2);
    }
    sqlite3_finalize(s);
    return rc == SQLITE_DONE ? 0 : sql_err(l, rc, "count deliveries");
}

const ledger_engine ledger_sqlite_engine = {
    .name = "sqlite",
    .open = sq_open,
    .close = sq_close,
    .secret = sq_secret,
    .show_add = sq_show_add,
    .show_get = sq_show_get,
    .show_list = sq_show_list,
    .user_add = sq_user_add,
    .user_get = sq_user_get,
    .session_create = sq_session_create,
    .session_lookup = sq_session_lookup,
    .session_delete = sq_session_delete,
    .token_add = sq_token_add,
    .token_lookup = sq_token_lookup,
    .booking_create = sq_booking_create,
    .booking_by_payment = sq_booking_by_payment,
    .booking_by_hold = sq_booking_by_hold,
    .booking_get = sq_booking_get,
    .booking_list = sq_booking_list,
    .booking_cancel = sq_booking_cancel,
    .booked_seats = sq_booked_seats,
    .booking_max_id = sq_booking_max_id,
    .booked_count = sq_booked_count,
    .audit_write = sq_audit_write,
    .webhook_add = sq_webhook_add,
    .webhook_get = sq_webhook_get,
    .webhook_list = sq_webhook_list,
    .webhook_delete = sq_webhook_delete,
    .delivery_add = sq_delivery_add,
    .delivery_get = sq_delivery_get,
    .delivery_list = sq_delivery_list,
    .delivery_update = sq_delivery_update,
    .delivery_count = sq_delivery_count,
    .delivery_delete = sq_delivery_delete,
    .delivery_stats = sq_delivery_stats,
};
