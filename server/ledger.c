/*
 * ledger.c - the SQLite database behind ledger.h: bookings (the durable
 * truth about sold seats), shows, staff users, sessions, API tokens, the
 * audit trail and server metadata.
 *
 * Several seatmapd processes may share one database file: WAL mode lets
 * readers run beside the single writer, every write transaction starts with
 * BEGIN IMMEDIATE (so it takes the write lock up front and never fails half
 * way with a stale snapshot), and a busy timeout makes a process wait for
 * another's short transaction instead of failing. The booking_seats primary
 * key (show, seat), which only holds seats of active bookings, is what makes
 * a double booking impossible, whichever process tries.
 *
 * Not here: holds (Redis owns them, see store.h), seat states in memory
 * (show.h), password hashing and token generation (auth.h). Every call is
 * synchronous; the caller keeps them off hot paths it cannot block.
 */
#include "ledger.h"

#include "embedded.h"
#include "util.h"

#include <sqlite3.h>
#include <sodium.h>

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* How long a call waits for another process's write lock. */
#define LEDGER_BUSY_TIMEOUT_MS 5000
/* Audit rows buffered before a forced flush; beyond it (and if the flush
 * fails) the oldest rows are dropped rather than growing without bound. */
#define LEDGER_AUDIT_MAX 4096
/* Longest text kept per audit field; the seat list may be long. */
#define LEDGER_AUDIT_FIELD_MAX 256
#define LEDGER_AUDIT_SEATS_MAX 65536
/* Field limits matching the ledger_show struct. */
#define LEDGER_SHOW_NAME_MAX 256
#define LEDGER_STARTS_AT_MAX 39
#define LEDGER_HOLD_REF_MAX 15
#define LEDGER_BY_MAX (LEDGER_NAME_MAX + 7)
#define LEDGER_TOKEN_HASH_MAX 128
#define LEDGER_TOKEN_PREFIX "token:"
/* Token names leave room for the "token:" prefix in ledger_user.name. */
#define LEDGER_TOKEN_NAME_MAX (LEDGER_NAME_MAX - (int)(sizeof(LEDGER_TOKEN_PREFIX) - 1))
#define LEDGER_SECRET_KEY "buyer_secret"
#define LEDGER_SECRET_BYTES 32

enum ledger_sync { SYNC_UNSET = 0, SYNC_NORMAL, SYNC_FULL };

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

/* One buffered audit row; the strings point into `block` (one allocation). */
typedef struct audit_row {
    int64_t at;
    const char *what, *show, *ref, *seats, *who;
    char *block;
} audit_row;

struct ledger {
    sqlite3 *db;
    sqlite3_stmt *stmts[ST_COUNT];
    enum ledger_sync sync;
    int have_secret;
    uint8_t secret[LEDGER_SECRET_BYTES];
    audit_row audit[LEDGER_AUDIT_MAX];
    size_t naudit;
    uint64_t audit_dropped;
    char errmsg[256];
};

/* ---- errors ---- */

static int set_err(ledger *l, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int set_err(ledger *l, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(l->errmsg, sizeof(l->errmsg), fmt, ap);
    va_end(ap);
    return code;
}

/* Maps a failing SQLite result to a LEDGER_E* code and records the message. */
static int sql_err(ledger *l, int rc, const char *what)
{
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
    return set_err(l, code, "%s: %s", what, l->db ? sqlite3_errmsg(l->db) : sqlite3_errstr(rc));
}

const char *ledger_errmsg(ledger *l)
{
    return l ? l->errmsg : "no ledger";
}

/* ---- statements ---- */

/* The cached statement for id, reset and with no bindings, or NULL (error
 * recorded). The ledger keeps ownership; callers reset it when done. */
static sqlite3_stmt *stmt_get(ledger *l, enum stmt_id id)
{
    sqlite3_stmt *s = l->stmts[id];
    if (!s) {
        int rc = sqlite3_prepare_v3(l->db, stmt_sql[id], -1, SQLITE_PREPARE_PERSISTENT, &s, NULL);
        if (rc != SQLITE_OK) {
            sql_err(l, rc, "prepare");
            return NULL;
        }
        l->stmts[id] = s;
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

static int tx_begin(ledger *l)
{
    return exec_simple(l, ST_BEGIN, "begin transaction");
}

static int tx_commit(ledger *l)
{
    int rc = exec_simple(l, ST_COMMIT, "commit");
    if (rc && !sqlite3_get_autocommit(l->db))
        exec_simple(l, ST_ROLLBACK, "rollback");
    return rc;
}

/* Rolls back if a transaction is open; keeps the caller's error message. */
static void tx_rollback(ledger *l)
{
    char saved[sizeof(l->errmsg)];
    if (sqlite3_get_autocommit(l->db))
        return;
    memcpy(saved, l->errmsg, sizeof(saved));
    exec_simple(l, ST_ROLLBACK, "rollback");
    memcpy(l->errmsg, saved, sizeof(saved));
}

/* synchronous=FULL fsyncs the WAL at every commit (bookings); NORMAL only at
 * checkpoints (audit, sessions): safe against a crash of the process. */
static int set_sync(ledger *l, enum ledger_sync level)
{
    int rc;
    if (l->sync == level)
        return 0;
    rc = sqlite3_exec(l->db,
                      level == SYNC_FULL ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL",
                      NULL, NULL, NULL);
    if (rc != SQLITE_OK)
        return sql_err(l, rc, "set synchronous");
    l->sync = level;
    return 0;
}

/* Copies column col (or "") into dst, truncating to fit. */
static void col_copy(sqlite3_stmt *s, int col, char *dst, size_t dstlen)
{
    const unsigned char *v = sqlite3_column_text(s, col);
    snprintf(dst, dstlen, "%s", v ? (const char *)v : "");
}

static int text_ok(const char *s, size_t max)
{
    return s && s[0] && strlen(s) <= max;
}

static int role_ok(const char *role)
{
    return role && (strcmp(role, "boxoffice") == 0 || strcmp(role, "admin") == 0);
}

/* Staff and token names: [A-Za-z0-9_.@-]{1,max}. They end up in audit rows
 * and "by" fields, so no spaces or control characters. */
static int name_ok(const char *s, size_t max)
{
    size_t n;
    if (!s)
        return 0;
    for (n = 0; s[n]; n++) {
        char c = s[n];
        if (n >= max || !((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                          (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '@' || c == '-'))
            return 0;
    }
    return n > 0;
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
    int rc = sqlite3_prepare_v2(l->db, "PRAGMA user_version", -1, &s, NULL);
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

/* Applies one migration in its own transaction unless another process got
 * there first (the version is read again under the write lock). */
static int apply_migration(ledger *l, const embedded_file *m, long number)
{
    char pragma[64];
    char *msg = NULL;
    long have = 0;
    int rc = tx_begin(l);
    if (rc)
        return rc;
    rc = user_version(l, &have);
    if (rc || have >= number) {
        tx_rollback(l);
        return rc;
    }
    if (sqlite3_exec(l->db, m->text, NULL, NULL, &msg) != SQLITE_OK) {
        set_err(l, LEDGER_EIO, "migration %s failed: %s", m->name, msg ? msg : "unknown error");
        sqlite3_free(msg);
        tx_rollback(l);
        return LEDGER_EIO;
    }
    snprintf(pragma, sizeof(pragma), "PRAGMA user_version = %ld", number);
    rc = sqlite3_exec(l->db, pragma, NULL, NULL, NULL);
    if (rc != SQLITE_OK) {
        rc = sql_err(l, rc, "set schema version");
        tx_rollback(l);
        return rc;
    }
    rc = tx_commit(l);
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
            return set_err(l, LEDGER_EIO, "migration %s is misnumbered", m->name);
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
    int attempt, rc = SQLITE_OK;
    for (attempt = 0; attempt < 3; attempt++) {
        sqlite3_stmt *s;
        rc = sqlite3_prepare_v2(l->db, "PRAGMA journal_mode=WAL", -1, &s, NULL);
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

int ledger_open(const char *path, ledger **out, char *err, size_t errlen)
{
    ledger *l;
    int rc;

    *out = NULL;
    if (!path || !path[0]) {
        snprintf(err, errlen, "no database file given");
        return LEDGER_EINVAL;
    }
    if (sodium_init() < 0) { /* for randombytes; idempotent */
        snprintf(err, errlen, "cannot initialise libsodium");
        return LEDGER_EIO;
    }
    l = calloc(1, sizeof(*l));
    if (!l) {
        snprintf(err, errlen, "out of memory opening %s", path);
        return LEDGER_EIO;
    }
    rc = sqlite3_open_v2(path, &l->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL);
    if (rc != SQLITE_OK) {
        snprintf(err, errlen, "cannot open database %s: %s", path,
                 l->db ? sqlite3_errmsg(l->db) : sqlite3_errstr(rc));
        ledger_close(l);
        return LEDGER_EIO;
    }
    sqlite3_extended_result_codes(l->db, 1);
    sqlite3_busy_timeout(l->db, LEDGER_BUSY_TIMEOUT_MS);

    rc = set_wal(l);
    if (!rc && sqlite3_db_readonly(l->db, "main") == 1)
        rc = set_err(l, LEDGER_EIO, "the file is read-only");
    if (!rc && sqlite3_exec(l->db, "PRAGMA foreign_keys=ON", NULL, NULL, NULL) != SQLITE_OK)
        rc = sql_err(l, sqlite3_errcode(l->db), "enable foreign keys");
    if (!rc)
        rc = set_sync(l, SYNC_FULL);
    if (!rc)
        rc = migrate(l);
    if (rc) {
        snprintf(err, errlen, "cannot open database %s: %s", path, l->errmsg);
        ledger_close(l);
        return rc;
    }
    l->errmsg[0] = '\0';
    *out = l;
    return 0;
}

static void audit_row_free(audit_row *r)
{
    free(r->block);
    memset(r, 0, sizeof(*r));
}

void ledger_close(ledger *l)
{
    size_t i;
    if (!l)
        return;
    if (l->db && l->naudit && ledger_audit_flush(l))
        sm_warn("ledger: %zu audit rows lost at close: %s", l->naudit, l->errmsg);
    for (i = 0; i < l->naudit; i++)
        audit_row_free(&l->audit[i]);
    for (i = 0; i < ST_COUNT; i++)
        sqlite3_finalize(l->stmts[i]);
    if (l->db)
        sqlite3_close_v2(l->db);
    sodium_memzero(l->secret, sizeof(l->secret));
    free(l);
}

/* ---- secret ---- */

int ledger_secret(ledger *l, uint8_t out[32])
{
    uint8_t fresh[LEDGER_SECRET_BYTES];
    sqlite3_stmt *s;
    int rc;

    if (l->have_secret) {
        memcpy(out, l->secret, LEDGER_SECRET_BYTES);
        return 0;
    }
    /* Two processes may race here: INSERT OR IGNORE keeps the first secret
     * and both then read the same one. */
    randombytes_buf(fresh, sizeof(fresh));
    s = stmt_get(l, ST_SECRET_INSERT);
    if (!s)
        return LEDGER_EIO;
    bind_text(s, 1, LEDGER_SECRET_KEY);
    sqlite3_bind_blob(s, 2, fresh, sizeof(fresh), SQLITE_STATIC);
    rc = stmt_run(l, s, "store secret");
    sodium_memzero(fresh, sizeof(fresh));
    if (rc)
        return rc;

    s = stmt_get(l, ST_SECRET_SELECT);
    if (!s)
        return LEDGER_EIO;
    bind_text(s, 1, LEDGER_SECRET_KEY);
    rc = sqlite3_step(s);
    if (rc != SQLITE_ROW) {
        rc = rc == SQLITE_DONE ? set_err(l, LEDGER_EIO, "secret missing after insert")
                               : sql_err(l, rc, "read secret");
        sqlite3_reset(s);
        return rc;
    }
    if (sqlite3_column_bytes(s, 0) != LEDGER_SECRET_BYTES) {
        sqlite3_reset(s);
        return set_err(l, LEDGER_EIO, "stored secret has the wrong length");
    }
    memcpy(l->secret, sqlite3_column_blob(s, 0), LEDGER_SECRET_BYTES);
    sqlite3_reset(s);
    l->have_secret = 1;
    memcpy(out, l->secret, LEDGER_SECRET_BYTES);
    return 0;
}

/* ---- shows ---- */

void ledger_show_clear(ledger_show *s)
{
    if (!s)
        return;
    free(s->venue_json);
    s->venue_json = NULL;
}

int ledger_show_add(ledger *l, const char *id, const char *name, const char *venue_name,
                    const char *starts_at, const char *venue_json)
{
    sqlite3_stmt *s;
    int rc;

    if (!sm_valid_show_id(id))
        return set_err(l, LEDGER_EINVAL, "show id must match [A-Za-z0-9_-]{1,64}");
    if (!text_ok(name, LEDGER_SHOW_NAME_MAX))
        return set_err(l, LEDGER_EINVAL, "show name must be 1 to %d bytes", LEDGER_SHOW_NAME_MAX);
    if (!text_ok(venue_name, LEDGER_SHOW_NAME_MAX))
        return set_err(l, LEDGER_EINVAL, "venue name must be 1 to %d bytes", LEDGER_SHOW_NAME_MAX);
    if (starts_at && strlen(starts_at) > LEDGER_STARTS_AT_MAX)
        return set_err(l, LEDGER_EINVAL, "start time is too long");
    if (!venue_json || !venue_json[0])
        return set_err(l, LEDGER_EINVAL, "venue document is empty");
    rc = set_sync(l, SYNC_FULL);
    if (rc)
        return rc;
    s = stmt_get(l, ST_SHOW_INSERT);
    if (!s)
        return LEDGER_EIO;
    bind_text(s, 1, id);
    bind_text(s, 2, name);
    bind_text(s, 3, venue_name);
    bind_text(s, 4, starts_at);
    bind_text(s, 5, venue_json);
    sqlite3_bind_int64(s, 6, sm_now_ms());
    rc = stmt_run(l, s, "add show");
    if (rc == LEDGER_EEXISTS)
        set_err(l, rc, "show %s already exists", id);
    return rc;
}

static void show_from_row(sqlite3_stmt *s, ledger_show *out)
{
    col_copy(s, 0, out->id, sizeof(out->id));
    col_copy(s, 1, out->name, sizeof(out->name));
    col_copy(s, 2, out->venue_name, sizeof(out->venue_name));
    col_copy(s, 3, out->starts_at, sizeof(out->starts_at));
}

int ledger_show_get(ledger *l, const char *id, ledger_show *out)
{
    sqlite3_stmt *s;
    int rc;

    memset(out, 0, sizeof(*out));
    if (!sm_valid_show_id(id))
        return set_err(l, LEDGER_ENOTFOUND, "no such show");
    s = stmt_get(l, ST_SHOW_GET);
    if (!s)
        return LEDGER_EIO;
    bind_text(s, 1, id);
    rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        const char *json = (const char *)sqlite3_column_text(s, 4);
        show_from_row(s, out);
        out->venue_json = strdup(json ? json : "");
        rc = out->venue_json ? 0 : set_err(l, LEDGER_EIO, "out of memory");
    } else if (rc == SQLITE_DONE) {
        rc = set_err(l, LEDGER_ENOTFOUND, "no show %s", id);
    } else {
        rc = sql_err(l, rc, "get show");
    }
    sqlite3_reset(s);
    return rc;
}

int ledger_show_list(ledger *l, ledger_show **out, size_t *n)
{
    ledger_show *list = NULL;
    size_t count = 0, cap = 0;
    sqlite3_stmt *s;
    int rc;

    *out = NULL;
    *n = 0;
    s = stmt_get(l, ST_SHOW_LIST);
    if (!s)
        return LEDGER_EIO;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        if (count == cap) {
            size_t ncap = cap ? cap * 2 : 16;
            ledger_show *p = realloc(list, ncap * sizeof(*p));
            if (!p) {
                rc = SQLITE_NOMEM;
                break;
            }
            list = p;
            cap = ncap;
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

int ledger_user_add(ledger *l, const char *name, const char *role, const char *pwhash)
{
    sqlite3_stmt *s;
    int rc;

    if (!name_ok(name, LEDGER_NAME_MAX))
        return set_err(l, LEDGER_EINVAL, "user name must match [A-Za-z0-9_.@-]{1,%d}",
                       LEDGER_NAME_MAX);
    if (!role_ok(role))
        return set_err(l, LEDGER_EINVAL, "role must be boxoffice or admin");
    if (!text_ok(pwhash, sizeof(((ledger_user *)0)->pwhash) - 1))
        return set_err(l, LEDGER_EINVAL, "bad password hash");
    rc = set_sync(l, SYNC_FULL);
    if (!rc)
        rc = tx_begin(l);
    if (rc)
        return rc;
    /* A reset password or changed role ends the user's open sessions. */
    s = stmt_get(l, ST_USER_END_SESSIONS);
    if (!s) {
        rc = LEDGER_EIO;
        goto fail;
    }
    bind_text(s, 1, name);
    rc = stmt_run(l, s, "end sessions");
    if (rc)
        goto fail;
    s = stmt_get(l, ST_USER_UPSERT);
    if (!s) {
        rc = LEDGER_EIO;
        goto fail;
    }
    bind_text(s, 1, name);
    bind_text(s, 2, role);
    bind_text(s, 3, pwhash);
    sqlite3_bind_int64(s, 4, sm_now_ms());
    rc = stmt_run(l, s, "add user");
    if (rc)
        goto fail;
    return tx_commit(l);
fail:
    tx_rollback(l);
    return rc;
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
        rc = set_err(l, LEDGER_ENOTFOUND, "no such %s", what);
    } else {
        rc = sql_err(l, rc, what);
    }
    sqlite3_reset(s);
    return rc;
}

int ledger_user_get(ledger *l, const char *name, ledger_user *out)
{
    sqlite3_stmt *s;

    memset(out, 0, sizeof(*out));
    if (!name_ok(name, LEDGER_NAME_MAX))
        return set_err(l, LEDGER_ENOTFOUND, "no such user");
    s = stmt_get(l, ST_USER_GET);
    if (!s)
        return LEDGER_EIO;
    bind_text(s, 1, name);
    return step_user(l, s, out, 0, "user");
}

int ledger_session_create(ledger *l, int64_t user_id, const char *token_hash, int64_t expires_at_ms)
{
    sqlite3_stmt *s;
    int rc;

    if (!text_ok(token_hash, LEDGER_TOKEN_HASH_MAX))
        return set_err(l, LEDGER_EINVAL, "bad token hash");
    /* Losing a session to a power cut only means logging in again. */
    rc = set_sync(l, SYNC_NORMAL);
    if (rc)
        return rc;
    /* Logins are rare: a good moment to forget expired sessions. */
    s = stmt_get(l, ST_SESSION_PURGE);
    if (!s)
        return LEDGER_EIO;
    sqlite3_bind_int64(s, 1, sm_now_ms());
    rc = stmt_run(l, s, "purge sessions");
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
        set_err(l, rc, "no user with id %lld", (long long)user_id);
    return rc;
}

int ledger_session_lookup(ledger *l, const char *token_hash, int64_t now_ms, ledger_user *out)
{
    sqlite3_stmt *s;

    memset(out, 0, sizeof(*out));
    if (!text_ok(token_hash, LEDGER_TOKEN_HASH_MAX))
        return set_err(l, LEDGER_ENOTFOUND, "no such session");
    s = stmt_get(l, ST_SESSION_LOOKUP);
    if (!s)
        return LEDGER_EIO;
    bind_text(s, 1, token_hash);
    sqlite3_bind_int64(s, 2, now_ms);
    return step_user(l, s, out, 0, "session");
}

int ledger_session_delete(ledger *l, const char *token_hash)
{
    sqlite3_stmt *s;
    int rc;

    if (!text_ok(token_hash, LEDGER_TOKEN_HASH_MAX))
        return set_err(l, LEDGER_ENOTFOUND, "no such session");
    rc = set_sync(l, SYNC_NORMAL);
    if (rc)
        return rc;
    s = stmt_get(l, ST_SESSION_DELETE);
    if (!s)
        return LEDGER_EIO;
    bind_text(s, 1, token_hash);
    rc = stmt_run(l, s, "delete session");
    if (!rc && sqlite3_changes(l->db) == 0)
        rc = set_err(l, LEDGER_ENOTFOUND, "no such session");
    return rc;
}

int ledger_token_add(ledger *l, const char *name, const char *role, const char *token_hash)
{
    sqlite3_stmt *s;
    int rc;

    if (!name_ok(name, LEDGER_TOKEN_NAME_MAX))
        return set_err(l, LEDGER_EINVAL, "token name must match [A-Za-z0-9_.@-]{1,%d}",
                       LEDGER_TOKEN_NAME_MAX);
    if (!role_ok(role))
        return set_err(l, LEDGER_EINVAL, "role must be boxoffice or admin");
    if (!text_ok(token_hash, LEDGER_TOKEN_HASH_MAX))
        return set_err(l, LEDGER_EINVAL, "bad token hash");
    rc = set_sync(l, SYNC_FULL);
    if (rc)
        return rc;
    s = stmt_get(l, ST_TOKEN_INSERT);
    if (!s)
        return LEDGER_EIO;
    bind_text(s, 1, token_hash);
    bind_text(s, 2, name);
    bind_text(s, 3, role);
    sqlite3_bind_int64(s, 4, sm_now_ms());
    rc = stmt_run(l, s, "add token");
    if (rc == LEDGER_EEXISTS)
        set_err(l, rc, "a token named %s already exists", name);
    return rc;
}

int ledger_token_lookup(ledger *l, const char *token_hash, ledger_user *out)
{
    sqlite3_stmt *s;

    memset(out, 0, sizeof(*out));
    if (!text_ok(token_hash, LEDGER_TOKEN_HASH_MAX))
        return set_err(l, LEDGER_ENOTFOUND, "no such token");
    s = stmt_get(l, ST_TOKEN_LOOKUP);
    if (!s)
        return LEDGER_EIO;
    bind_text(s, 1, token_hash);
    return step_user(l, s, out, 1, "token");
}

/* ---- bookings ---- */

void ledger_booking_clear(ledger_booking *b)
{
    size_t i;
    if (!b)
        return;
    for (i = 0; i < b->nseats; i++)
        free(b->seats[i]);
    free(b->seats);
    b->seats = NULL;
    b->nseats = 0;
}

void ledger_booking_list_free(ledger_booking *list, size_t n)
{
    size_t i;
    if (!list)
        return;
    for (i = 0; i < n; i++)
        ledger_booking_clear(&list[i]);
    free(list);
}

/* Splits a space-separated seat list into b->seats. 0 or -1 (no memory). */
static int seats_split(ledger_booking *b, const char *text)
{
    const char *p;
    size_t n = 0, i = 0;

    for (p = text; *p;) {
        while (*p == ' ')
            p++;
        if (!*p)
            break;
        n++;
        while (*p && *p != ' ')
            p++;
    }
    b->nseats = 0;
    b->seats = n ? calloc(n, sizeof(*b->seats)) : NULL;
    if (n && !b->seats)
        return -1;
    for (p = text; *p && i < n;) {
        const char *start;
        while (*p == ' ')
            p++;
        start = p;
        while (*p && *p != ' ')
            p++;
        b->seats[i] = strndup(start, (size_t)(p - start));
        if (!b->seats[i])
            return -1;
        b->nseats = ++i;
    }
    return 0;
}

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
    if (seats_split(out, seats ? (const char *)seats : "")) {
        ledger_booking_clear(out);
        return set_err(l, LEDGER_EIO, "out of memory");
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
        rc = set_err(l, LEDGER_ENOTFOUND, "no such booking");
    else
        rc = sql_err(l, rc, what);
    sqlite3_reset(s);
    return rc;
}

int ledger_booking_by_payment(ledger *l, const char *show, const char *payment_ref,
                              ledger_booking *out)
{
    sqlite3_stmt *s;
    memset(out, 0, sizeof(*out));
    if (!sm_valid_show_id(show) || !text_ok(payment_ref, LEDGER_PAYMENT_REF_MAX))
        return set_err(l, LEDGER_ENOTFOUND, "no such booking");
    s = stmt_get(l, ST_BOOKING_BY_PAYMENT);
    if (!s)
        return LEDGER_EIO;
    bind_text(s, 1, show);
    bind_text(s, 2, payment_ref);
    return booking_one(l, s, out, "find booking by payment");
}

int ledger_booking_by_hold(ledger *l, const char *show, const char *hold_ref, ledger_booking *out)
{
    sqlite3_stmt *s;
    memset(out, 0, sizeof(*out));
    if (!sm_valid_show_id(show) || !text_ok(hold_ref, LEDGER_HOLD_REF_MAX))
        return set_err(l, LEDGER_ENOTFOUND, "no such booking");
    s = stmt_get(l, ST_BOOKING_BY_HOLD);
    if (!s)
        return LEDGER_EIO;
    bind_text(s, 1, show);
    bind_text(s, 2, hold_ref);
    return booking_one(l, s, out, "find booking by hold");
}

int ledger_booking_get(ledger *l, const char *show, int64_t id, ledger_booking *out)
{
    sqlite3_stmt *s;
    memset(out, 0, sizeof(*out));
    if (!sm_valid_show_id(show) || id <= 0)
        return set_err(l, LEDGER_ENOTFOUND, "no such booking");
    s = stmt_get(l, ST_BOOKING_GET);
    if (!s)
        return LEDGER_EIO;
    bind_text(s, 1, show);
    sqlite3_bind_int64(s, 2, id);
    return booking_one(l, s, out, "get booking");
}

int ledger_booking_list(ledger *l, const char *show, ledger_booking **out, size_t *n)
{
    ledger_booking *list = NULL;
    size_t count = 0, cap = 0;
    sqlite3_stmt *s;
    int rc;

    *out = NULL;
    *n = 0;
    if (!sm_valid_show_id(show))
        return 0;
    s = stmt_get(l, ST_BOOKING_LIST);
    if (!s)
        return LEDGER_EIO;
    bind_text(s, 1, show);
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        if (count == cap) {
            size_t ncap = cap ? cap * 2 : 16;
            ledger_booking *p = realloc(list, ncap * sizeof(*p));
            if (!p)
                break;
            list = p;
            cap = ncap;
        }
        if (booking_from_row(l, s, &list[count]))
            break;
        count++;
    }
    sqlite3_reset(s);
    if (rc != SQLITE_DONE) {
        ledger_booking_list_free(list, count);
        return rc == SQLITE_ROW ? set_err(l, LEDGER_EIO, "out of memory")
                                : sql_err(l, rc, "list bookings");
    }
    *out = list;
    *n = count;
    return 0;
}

static int cmp_str_ptr(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Checks a new booking's seat list: valid ids, no seat twice. On success
 * joined receives the space-separated list (caller frees). */
static int seats_check_join(ledger *l, const char *const *seats, size_t nseats, char **joined)
{
    const char **sorted;
    sm_buf b;
    size_t i;

    *joined = NULL;
    if (!seats || nseats == 0)
        return set_err(l, LEDGER_EINVAL, "a booking needs at least one seat");
    if (nseats > SIZE_MAX / (SM_SEAT_ID_MAX + 1) - 1)
        return set_err(l, LEDGER_EINVAL, "too many seats");
    for (i = 0; i < nseats; i++)
        if (!sm_valid_seat_id(seats[i]))
            return set_err(l, LEDGER_EINVAL, "bad seat id");
    sorted = malloc(nseats * sizeof(*sorted));
    if (!sorted)
        return set_err(l, LEDGER_EIO, "out of memory");
    memcpy(sorted, seats, nseats * sizeof(*sorted));
    qsort(sorted, nseats, sizeof(*sorted), cmp_str_ptr);
    for (i = 1; i < nseats; i++) {
        if (strcmp(sorted[i - 1], sorted[i]) == 0) {
            set_err(l, LEDGER_EINVAL, "seat %s is listed twice", sorted[i]);
            free(sorted);
            return LEDGER_EINVAL;
        }
    }
    free(sorted);
    sm_buf_init(&b, nseats * (SM_SEAT_ID_MAX + 1) + 1);
    for (i = 0; i < nseats; i++) {
        if ((i && sm_buf_addc(&b, ' ')) || sm_buf_adds(&b, seats[i])) {
            sm_buf_free(&b);
            return set_err(l, LEDGER_EIO, "out of memory");
        }
    }
    *joined = sm_buf_steal(&b, NULL);
    return 0;
}

/* Writes one audit row now, inside the caller's transaction. */
static int audit_insert(ledger *l, int64_t at, const char *show, const char *what, const char *ref,
                        const char *seats, const char *who)
{
    sqlite3_stmt *s = stmt_get(l, ST_AUDIT_INSERT);
    if (!s)
        return LEDGER_EIO;
    sqlite3_bind_int64(s, 1, at);
    bind_text(s, 2, show);
    bind_text(s, 3, what);
    bind_text(s, 4, ref);
    bind_text(s, 5, seats);
    bind_text(s, 6, who);
    return stmt_run(l, s, "write audit row");
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
    int rc = ledger_booking_by_payment(l, show, payment_ref, out);
    if (rc == LEDGER_ENOTFOUND)
        return 0;
    if (rc == 0)
        return set_err(l, LEDGER_EEXISTS, "payment ref %s already booked as booking %lld",
                       payment_ref, (long long)out->id);
    return rc;
}

int ledger_booking_create(ledger *l, const char *show, const char *hold_ref,
                          const char *const *seats, size_t nseats, const char *payment_ref,
                          const char *by, int64_t now_ms, ledger_booking *out)
{
    ledger_booking local;
    char *joined = NULL;
    char idbuf[24];
    sqlite3_stmt *s;
    int64_t id;
    size_t i;
    int rc;

    if (!out)
        out = &local;
    memset(out, 0, sizeof(*out));
    if (!sm_valid_show_id(show))
        return set_err(l, LEDGER_EINVAL, "bad show id");
    if (hold_ref && strlen(hold_ref) > LEDGER_HOLD_REF_MAX)
        return set_err(l, LEDGER_EINVAL, "hold ref is too long");
    if (!text_ok(payment_ref, LEDGER_PAYMENT_REF_MAX))
        return set_err(l, LEDGER_EINVAL, "payment ref must be 1 to %d bytes",
                       LEDGER_PAYMENT_REF_MAX);
    if (!text_ok(by, LEDGER_BY_MAX))
        return set_err(l, LEDGER_EINVAL, "bad booking author");
    rc = seats_check_join(l, seats, nseats, &joined);
    if (rc)
        return rc;

    /* Buffered audit rows (the hold that led here, say) go first, in their
     * own cheap transaction, so the trail stays in order. */
    if (l->naudit && ledger_audit_flush(l))
        sm_warn("ledger: audit flush failed: %s", l->errmsg);

    rc = set_sync(l, SYNC_FULL);
    if (!rc)
        rc = tx_begin(l);
    if (rc)
        goto out;
    rc = booking_existing(l, show, payment_ref, out);
    if (rc)
        goto fail;

    s = stmt_get(l, ST_BOOKING_INSERT);
    if (!s) {
        rc = LEDGER_EIO;
        goto fail;
    }
    bind_text(s, 1, show);
    bind_text(s, 2, hold_ref);
    bind_text(s, 3, payment_ref);
    bind_text(s, 4, by);
    sqlite3_bind_int64(s, 5, now_ms);
    bind_text(s, 6, joined);
    rc = stmt_run(l, s, "insert booking");
    if (rc == LEDGER_ENOTFOUND)
        set_err(l, rc, "no show %s", show);
    if (rc)
        goto fail;
    id = sqlite3_last_insert_rowid(l->db);

    for (i = 0; i < nseats; i++) {
        s = stmt_get(l, ST_BOOKING_SEAT_INSERT);
        if (!s) {
            rc = LEDGER_EIO;
            goto fail;
        }
        bind_text(s, 1, show);
        bind_text(s, 2, seats[i]);
        sqlite3_bind_int64(s, 3, id);
        rc = stmt_run(l, s, "insert booked seat");
        if (rc == LEDGER_EEXISTS) {
            rc = set_err(l, LEDGER_ESEATTAKEN, "seat %s is already booked (booking %lld)", seats[i],
                         (long long)seat_owner(l, show, seats[i]));
            goto fail;
        }
        if (rc)
            goto fail;
    }

    snprintf(idbuf, sizeof(idbuf), "%lld", (long long)id);
    rc =
        audit_insert(l, now_ms, show, hold_ref && hold_ref[0] ? "book" : "sale", idbuf, joined, by);
    if (rc)
        goto fail;
    rc = tx_commit(l);
    if (rc)
        goto out;

    out->id = id;
    snprintf(out->show, sizeof(out->show), "%s", show);
    snprintf(out->hold_ref, sizeof(out->hold_ref), "%s", hold_ref ? hold_ref : "");
    snprintf(out->payment_ref, sizeof(out->payment_ref), "%s", payment_ref);
    snprintf(out->by, sizeof(out->by), "%s", by);
    out->created_at = now_ms;
    out->cancelled_at = 0;
    if (seats_split(out, joined)) {
        /* Committed, but we cannot describe it: the caller may re-read it. */
        ledger_booking_clear(out);
        rc = set_err(l, LEDGER_EIO, "out of memory after booking %lld", (long long)id);
    }
    goto out;

fail:
    tx_rollback(l);
    if (rc == LEDGER_EEXISTS && out->id == 0) {
        /* Another writer slipped the same payment ref in; report theirs. */
        char saved[sizeof(l->errmsg)];
        memcpy(saved, l->errmsg, sizeof(saved));
        if (ledger_booking_by_payment(l, show, payment_ref, out) != 0)
            rc = LEDGER_EIO;
        memcpy(l->errmsg, saved, sizeof(saved));
    }
out:
    if (out == &local)
        ledger_booking_clear(&local);
    free(joined);
    return rc;
}

int ledger_booking_cancel(ledger *l, const char *show, int64_t id, const char *by, int64_t now_ms,
                          ledger_booking *out)
{
    ledger_booking local;
    char idbuf[24];
    sqlite3_stmt *s;
    int rc;

    if (!out)
        out = &local;
    memset(out, 0, sizeof(*out));
    if (!text_ok(by, LEDGER_BY_MAX))
        return set_err(l, LEDGER_EINVAL, "bad cancellation author");
    if (l->naudit && ledger_audit_flush(l))
        sm_warn("ledger: audit flush failed: %s", l->errmsg);
    rc = set_sync(l, SYNC_FULL);
    if (!rc)
        rc = tx_begin(l);
    if (rc)
        goto out;
    rc = ledger_booking_get(l, show, id, out);
    if (rc)
        goto fail;
    if (out->cancelled_at) {
        rc = set_err(l, LEDGER_EINVAL, "booking %lld is already cancelled", (long long)id);
        goto fail;
    }
    s = stmt_get(l, ST_BOOKING_MARK_CANCELLED);
    if (!s) {
        rc = LEDGER_EIO;
        goto fail;
    }
    sqlite3_bind_int64(s, 1, now_ms);
    bind_text(s, 2, by);
    sqlite3_bind_int64(s, 3, id);
    rc = stmt_run(l, s, "cancel booking");
    if (rc)
        goto fail;
    s = stmt_get(l, ST_BOOKING_SEATS_DELETE);
    if (!s) {
        rc = LEDGER_EIO;
        goto fail;
    }
    sqlite3_bind_int64(s, 1, id);
    rc = stmt_run(l, s, "free booked seats");
    if (rc)
        goto fail;
    {
        /* The audit row lists the seats the cancellation frees. */
        sm_buf seats;
        size_t i;
        sm_buf_init(&seats, out->nseats * (SM_SEAT_ID_MAX + 1) + 1);
        for (i = 0; i < out->nseats; i++)
            if ((i && sm_buf_addc(&seats, ' ')) || sm_buf_adds(&seats, out->seats[i]))
                break;
        snprintf(idbuf, sizeof(idbuf), "%lld", (long long)id);
        rc = audit_insert(l, now_ms, show, "cancel", idbuf, seats.data ? seats.data : "", by);
        sm_buf_free(&seats);
    }
    if (rc)
        goto fail;
    rc = tx_commit(l);
    if (!rc)
        out->cancelled_at = now_ms;
    goto out;
fail:
    tx_rollback(l);
out:
    if (out == &local)
        ledger_booking_clear(&local);
    return rc;
}

int ledger_booked_seats(ledger *l, const char *show,
                        void (*cb)(void *arg, const char *seat, int64_t booking_id), void *arg)
{
    sqlite3_stmt *s;
    int rc;

    if (!sm_valid_show_id(show))
        return 0;
    s = stmt_get(l, ST_BOOKED_SEATS);
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

int ledger_booking_max_id(ledger *l, int64_t *out)
{
    return query_int64(l, ST_BOOKING_MAX_ID, NULL, out, "read the newest booking id");
}

int ledger_booked_count(ledger *l, const char *show, int64_t *out)
{
    return query_int64(l, ST_BOOKED_COUNT, show, out, "count booked seats");
}

/* ---- audit ---- */

/* Length of s capped at max, cut back so a multi-byte character is whole. */
static size_t capped_len(const char *s, size_t max)
{
    size_t n = strnlen(s, max + 1);
    if (n <= max)
        return n;
    n = max;
    while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
        n--;
    return n;
}

void ledger_audit(ledger *l, const char *what, const char *show, const char *ref, const char *seats,
                  const char *who, int64_t at_ms)
{
    const char *src[5] = {what ? what : "", show ? show : "", ref ? ref : "", seats ? seats : "",
                          who ? who : ""};
    size_t len[5], total = 0, i;
    audit_row *r;
    char *p;

    if (!l)
        return;
    if (l->naudit == LEDGER_AUDIT_MAX && ledger_audit_flush(l)) {
        /* The database refuses writes: keep the newest rows, count the rest. */
        audit_row_free(&l->audit[0]);
        memmove(&l->audit[0], &l->audit[1], (LEDGER_AUDIT_MAX - 1) * sizeof(l->audit[0]));
        l->naudit--;
        if (l->audit_dropped++ % 1000 == 0)
            sm_warn("ledger: audit buffer full and flush failing (%s); dropped %llu rows",
                    l->errmsg, (unsigned long long)l->audit_dropped);
    }
    for (i = 0; i < 5; i++) {
        len[i] = capped_len(src[i], i == 3 ? LEDGER_AUDIT_SEATS_MAX : LEDGER_AUDIT_FIELD_MAX);
        total += len[i] + 1;
    }
    p = malloc(total);
    if (!p) {
        l->audit_dropped++;
        return;
    }
    r = &l->audit[l->naudit];
    r->block = p;
    r->at = at_ms;
    {
        const char **dst[5] = {&r->what, &r->show, &r->ref, &r->seats, &r->who};
        for (i = 0; i < 5; i++) {
            memcpy(p, src[i], len[i]);
            p[len[i]] = '\0';
            *dst[i] = p;
            p += len[i] + 1;
        }
    }
    l->naudit++;
}

int ledger_audit_flush(ledger *l)
{
    size_t i;
    int rc;

    if (!l->naudit)
        return 0;
    rc = set_sync(l, SYNC_NORMAL);
    if (!rc)
        rc = tx_begin(l);
    if (rc)
        return rc;
    for (i = 0; i < l->naudit; i++) {
        audit_row *r = &l->audit[i];
        rc = audit_insert(l, r->at, r->show, r->what, r->ref, r->seats, r->who);
        if (rc) {
            tx_rollback(l);
            return rc;
        }
    }
    rc = tx_commit(l);
    if (rc)
        return rc;
    for (i = 0; i < l->naudit; i++)
        audit_row_free(&l->audit[i]);
    l->naudit = 0;
    return 0;
}
