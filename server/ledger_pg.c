/*
 * ledger_pg.c - the PostgreSQL engine behind ledger.h and ledger_accounts.h
 * (see ledger_engine.h), reached only through its table, ledger_pg_engine.
 * Chosen by ledger.c for a postgres:// or postgresql:// URL or a libpq
 * keyword string ("host=... dbname=..."). Same tables, constraints and
 * behaviour as the SQLite engine (ledger_sqlite.c, the spec), so several
 * machines can share one ledger.
 *
 * How it keeps the promises of ledger.h:
 * - A double booking is impossible because booking_seats has the primary key
 *   (show_id, seat_id) and holds the seats of active bookings only; a payment
 *   ref books once per show because of the unique constraint
 *   bookings_payment_ref_key. Both are checked by the database, whichever
 *   process inserts, and at any isolation level (a unique index waits for a
 *   concurrent inserter to commit or roll back before it decides).
 * - A booking, its seats and its audit row are one statement (INSERT ...
 *   RETURNING chained by WITH), so one implicit transaction and one round
 *   trip: all of it commits, durably (synchronous_commit as the server has
 *   it, "on" by default: the WAL is flushed before COMMIT returns), or none.
 *   A cancellation is one statement the same way. Running at READ COMMITTED
 *   is enough: every check that matters is a constraint or a conditional
 *   UPDATE, which PostgreSQL re-checks on the row's newest version.
 * - Migrations: schema/pg/NNN_*.sql (embedded at build time), applied at
 *   open in one transaction under an advisory lock and recorded in the table
 *   seatmap_schema, so processes starting together apply each once.
 *
 * Blocking: the interface is synchronous, so every call blocks the caller
 * (the event loop) for its round trips to the server, one for most calls.
 * Measured on the (loaded, 2-core) test machine over loopback TCP: an
 * indexed read 0.16 to 0.6 ms, a booking of two seats 4 to 6 ms, most of it
 * the WAL flush at COMMIT (SQLite's FULL commit: 3.7 ms on the same disk);
 * docs/scaling.md has the figures. Harmless on a local network, not across
 * a WAN. The next step is asynchronous: send
 * with PQsendQueryParams, watch PQsocket with a uv_poll_t, and finish in a
 * callback (or a worker thread with a queue); the callers that must then take
 * a callback are booking.c (commit, cancel), show.c (the reconciliation
 * reads), api_auth.c (session and token lookups), api_bookings.c and
 * api_shows.c (lists); see docs/scaling.md.
 *
 * A database that goes away: every statement has a deadline (connect_timeout,
 * statement_timeout, lock_timeout, tcp_user_timeout), so a call fails with
 * LEDGER_EIO (LEDGER_EBUSY when a lock or statement timed out) within
 * seconds, and the callers answer 503 "unavailable". Nothing is lost: a
 * booking is acknowledged only after its COMMIT. The next call resets the
 * connection (PQreset); the outage is logged once when it starts and once
 * when it ends, naming host, port and database, never the password. A read,
 * or a booking (idempotent by its payment ref), that finds the connection
 * broken is retried once on a fresh connection, so a restart of PostgreSQL
 * between two calls costs no failed request.
 *
 * Not here: argument checks (ledger.c and ledger_accounts.c), the audit
 * buffer and secret cache (ledger.c). Uses ledger_engine.c alone among the
 * ledger modules.
 */
#include "ledger_engine.h"

#include "embedded.h"
#include "util.h"

#include <libpq-fe.h>

#include <errno.h>
#include <stdio.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

/* Deadlines, in seconds or milliseconds as libpq and the server take them. */
#define PG_CONNECT_TIMEOUT_S "3"
#define PG_STATEMENT_TIMEOUT_MS 5000
#define PG_LOCK_TIMEOUT_MS 3000
#define PG_TCP_USER_TIMEOUT_MS "5000"
#define PG_SECRET_KEY "buyer_secret"
/* Least time between two reconnect attempts while the database is away. */
#define PG_RETRY_MIN_MS 1000
/* pg_advisory_xact_lock key serialising migrations ("seatmap" in ASCII). */
#define PG_MIGRATION_LOCK "7310593858004528208"
/* Advisory lock key ordering booking ids against the watermark ("booking"). */
#define PG_BOOKING_LOCK "7165064483209145959"
/* Audit rows per INSERT (6 parameters each; PostgreSQL allows 65535). */
#define PG_AUDIT_CHUNK 1000

/* The engine state: one connection. */
typedef struct pg {
    PGconn *conn;
    char *target;        /* the open string as given (may hold a password: never log) */
    int down;            /* the connection is broken: reconnect first */
    int counted;         /* a reconnect failed: counted in pg_handles_down */
    int64_t next_try_ms; /* while down: no reconnect attempt before (monotonic) */
} pg;

static pg *pg_of(ledger *l)
{
    return ledger__state(l);
}

/* Where the connection goes, for log lines: host, port and database, which
 * libpq knows without the password. */
static void pg_where(PGconn *c, char *out, size_t len)
{
    const char *host = c ? PQhost(c) : NULL, *port = c ? PQport(c) : NULL;
    const char *db = c ? PQdb(c) : NULL;
    snprintf(out, len, "%s%s%s/%s", host && host[0] ? host : "local socket",
             port && port[0] ? ":" : "", port ? port : "", db ? db : "?");
}

/* libpq's message on one line: newlines and tabs become single spaces. */
static void pg_msg(const char *m, char *out, size_t len)
{
    size_t n = 0;
    int space = 0;
    if (!m || !m[0])
        m = "unknown error";
    for (; *m && n + 1 < len; m++) {
        if (*m == '\n' || *m == '\t' || *m == ' ') {
            space = n > 0;
            continue;
        }
        if (space && n + 2 < len)
            out[n++] = ' ';
        space = 0;
        out[n++] = *m;
    }
    out[n] = '\0';
}

/* ---- the connection ---- */

static PGconn *pg_connect(const char *target)
{
    /* Later values win, so the caller's string (dbname, expanded) comes
     * last and may override any default here. */
    static const char *const keys[] = {"connect_timeout",
                                       "tcp_user_timeout",
                                       "application_name",
                                       "options",
                                       "keepalives_idle",
                                       "dbname",
                                       NULL};
    char options[160];
    const char *vals[7];
    snprintf(options, sizeof(options),
             "-c statement_timeout=%d -c lock_timeout=%d -c idle_in_transaction_session_timeout=%d",
             PG_STATEMENT_TIMEOUT_MS, PG_LOCK_TIMEOUT_MS, PG_STATEMENT_TIMEOUT_MS * 2);
    vals[0] = PG_CONNECT_TIMEOUT_S;
    vals[1] = PG_TCP_USER_TIMEOUT_MS;
    vals[2] = "seatmapd";
    vals[3] = options;
    vals[4] = "10";
    vals[5] = target;
    vals[6] = NULL;
    return PQconnectdbParams(keys, vals, 1);
}

/* Handles of this process that could not reconnect: the server has two
 * (the loop's and the booking thread's, ledger_queue.h), and an outage is
 * one line when the first finds the database gone and one when the last is
 * back. A handle whose connection broke but which reconnects at its first
 * try (it saw a restart that is over) says nothing. */
static atomic_int pg_handles_down;

/* The connection broke: reconnect before the next statement. */
static void pg_went_down(ledger *l, const char *why)
{
    (void)why;
    pg_of(l)->down = 1;
}

/* A reconnect failed: the start of an outage, logged once per process. */
static void pg_outage(ledger *l, const char *why)
{
    pg *p = pg_of(l);
    char where[256];
    if (p->counted)
        return;
    p->counted = 1;
    if (atomic_fetch_add(&pg_handles_down, 1) != 0)
        return;
    pg_where(p->conn, where, sizeof(where));
    sm_warn("ledger: lost the PostgreSQL database at %s (%s); bookings answer 503 until it is back",
            where, why);
}

/* A usable connection, reconnecting if the last one broke: 0, or
 * LEDGER_EIO with a message. While the database stays away, attempts are
 * spaced (at least PG_RETRY_MIN_MS, and twice as long as the last failed
 * attempt took) and calls in between fail at once: an unreachable host
 * costs connect_timeout per attempt, and the loop's handle blocks it. */
static int pg_ready(ledger *l)
{
    pg *p = pg_of(l);
    char msg[LEDGER__ERRMSG_MAX];
    int64_t t0 = sm_mono_ms(), took;
    if (p->conn && PQstatus(p->conn) == CONNECTION_OK)
        return 0;
    if (p->down && t0 < p->next_try_ms)
        return ledger__set_err(l, LEDGER_EIO, "the database is unreachable (retrying)");
    if (p->conn)
        PQreset(p->conn);
    else
        p->conn = pg_connect(p->target);
    if (p->conn && PQstatus(p->conn) == CONNECTION_OK) {
        if (p->counted && atomic_fetch_sub(&pg_handles_down, 1) == 1) {
            char where[256];
            pg_where(p->conn, where, sizeof(where));
            sm_info("ledger: reconnected to the PostgreSQL database at %s", where);
        }
        p->down = 0;
        p->counted = 0;
        return 0;
    }
    pg_msg(p->conn ? PQerrorMessage(p->conn) : "out of memory", msg, sizeof(msg));
    p->down = 1;
    pg_outage(l, msg);
    took = sm_mono_ms() - t0;
    p->next_try_ms = sm_mono_ms() + (2 * took > PG_RETRY_MIN_MS ? 2 * took : PG_RETRY_MIN_MS);
    return ledger__set_err(l, LEDGER_EIO, "the database is unreachable: %s", msg);
}

/* ---- running statements ---- */

/* Maps a failed result to a LEDGER_E* code and records the message. */
static int pg_err(ledger *l, PGresult *r, const char *what)
{
    pg *p = pg_of(l);
    const char *state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
    char msg[LEDGER__ERRMSG_MAX];
    int code = LEDGER_EIO;

    pg_msg(r ? PQresultErrorMessage(r) : PQerrorMessage(p->conn), msg, sizeof(msg));
    if (PQstatus(p->conn) != CONNECTION_OK) {
        pg_went_down(l, msg);
    } else if (state) {
        if (strcmp(state, "23505") == 0)
            code = LEDGER_EEXISTS; /* unique_violation */
        else if (strcmp(state, "23503") == 0)
            code = LEDGER_ENOTFOUND; /* foreign_key_violation */
        else if (strncmp(state, "23", 2) == 0 || strncmp(state, "22", 2) == 0)
            code = LEDGER_EINVAL; /* other constraints, bad data */
        else if (strcmp(state, "40001") == 0 || strcmp(state, "40P01") == 0 ||
                 strcmp(state, "55P03") == 0 || strcmp(state, "57014") == 0)
            code = LEDGER_EBUSY; /* serialization, deadlock, lock or statement timeout */
    }
    return ledger__set_err(l, code, "%s: %s", what, msg);
}

/* Statements that may run twice without harm (reads, and a booking, which
 * its payment ref makes idempotent) are retried once on a fresh connection
 * when the old one turns out to be broken. */
enum { PG_ONCE = 0, PG_RETRY = 1 };

/*
 * Runs sql with n text parameters (NULL is SQL NULL). On success *out (if
 * given) is the result, which the caller frees with PQclear; without out
 * the result is freed here. Returns 0 or a LEDGER_E* code (message set).
 * binary_param: index of a parameter sent as 32 raw bytes, or -1.
 * binary_result: 1 for results in binary format.
 */
static int pg_run(ledger *l, const char *sql, int n, const char *const *params, PGresult **out,
                  const char *what, int retry, int binary_param, int binary_result)
{
    pg *p = pg_of(l);
    int lengths[8] = {0}, formats[8] = {0}, attempt, rc;
    PGresult *r = NULL;

    if (out)
        *out = NULL;
    if (binary_param >= 0 && binary_param < 8) {
        lengths[binary_param] = LEDGER__SECRET_BYTES;
        formats[binary_param] = 1;
    }
    for (attempt = 0; attempt < 2; attempt++) {
        ExecStatusType st;
        rc = pg_ready(l);
        if (rc)
            return rc;
        r = PQexecParams(p->conn, sql, n, NULL, params, binary_param >= 0 ? lengths : NULL,
                         binary_param >= 0 ? formats : NULL, binary_result);
        st = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
        if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) {
            if (out)
                *out = r;
            else
                PQclear(r);
            return 0;
        }
        rc = pg_err(l, r, what);
        PQclear(r);
        if (retry != PG_RETRY || PQstatus(p->conn) == CONNECTION_OK)
            return rc;
    }
    return rc;
}

/* Runs a statement without parameters or result. */
static int pg_simple(ledger *l, const char *sql, const char *what)
{
    return pg_run(l, sql, 0, NULL, NULL, what, PG_ONCE, -1, 0);
}

/* A decimal int64 as text into buf. */
static const char *i64s(char *buf, size_t len, int64_t v)
{
    snprintf(buf, len, "%lld", (long long)v);
    return buf;
}

static int64_t col_i64(PGresult *r, int row, int col)
{
    return PQgetisnull(r, row, col) ? 0 : strtoll(PQgetvalue(r, row, col), NULL, 10);
}

static void col_copy(PGresult *r, int row, int col, char *dst, size_t len)
{
    snprintf(dst, len, "%s", PQgetisnull(r, row, col) ? "" : PQgetvalue(r, row, col));
}

/* Rows the last command touched. */
static long affected(PGresult *r)
{
    const char *t = PQcmdTuples(r);
    return t && t[0] ? strtol(t, NULL, 10) : 0;
}

/* ---- open, migrations, close ---- */

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

/* Inside the migration transaction: applies what is missing. */
static int migrate_locked(ledger *l)
{
    const embedded_file *m;
    long have = 0, last = 0;
    PGresult *r;
    int rc;

    /* A migration may take long, and so may waiting for another process's:
     * the per-statement deadlines do not apply here. */
    rc = pg_simple(l, "SET LOCAL statement_timeout = 0", "lift the statement timeout");
    if (!rc)
        rc = pg_simple(l, "SET LOCAL lock_timeout = '120s'", "set the lock timeout");
    if (!rc)
        rc = pg_simple(l, "SELECT pg_advisory_xact_lock(" PG_MIGRATION_LOCK ")", "lock migrations");
    if (!rc)
        rc = pg_simple(l,
                       "CREATE TABLE IF NOT EXISTS seatmap_schema (version INTEGER PRIMARY KEY,"
                       " name TEXT NOT NULL, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())",
                       "create the schema version table");
    if (!rc)
        rc = pg_run(l, "SELECT coalesce(max(version), 0) FROM seatmap_schema", 0, NULL, &r,
                    "read schema version", PG_ONCE, -1, 0);
    if (rc)
        return rc;
    have = (long)col_i64(r, 0, 0);
    PQclear(r);
    for (m = embedded_pg_sql; m->name; m++) {
        long number = migration_number(m->name);
        char num[24];
        const char *args[2];
        if (number <= last)
            return ledger__set_err(l, LEDGER_EIO, "migration pg/%s is misnumbered", m->name);
        last = number;
        if (number <= have)
            continue;
        /* Several statements: the simple query protocol (PQexec) runs them. */
        r = PQexec(pg_of(l)->conn, m->text);
        if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK) {
            char what[96];
            snprintf(what, sizeof(what), "migration pg/%s failed", m->name);
            rc = pg_err(l, r, what);
            PQclear(r);
            return rc;
        }
        PQclear(r);
        args[0] = i64s(num, sizeof(num), number);
        args[1] = m->name;
        rc = pg_run(l, "INSERT INTO seatmap_schema (version, name) VALUES ($1::integer, $2)", 2,
                    args, NULL, "record schema version", PG_ONCE, -1, 0);
        if (rc)
            return rc;
        sm_info("ledger: applied PostgreSQL migration %s", m->name);
    }
    if (have > last)
        sm_warn("ledger: database schema version %ld is newer than this seatmapd's (%ld)", have,
                last);
    return 0;
}

/* Rolls back if a transaction is open; keeps the caller's error message. */
static void tx_rollback(ledger *l)
{
    char saved[LEDGER__ERRMSG_MAX];
    PGconn *c = pg_of(l)->conn;
    if (!c || PQtransactionStatus(c) == PQTRANS_IDLE || PQstatus(c) != CONNECTION_OK)
        return;
    snprintf(saved, sizeof(saved), "%s", ledger__errmsg(l));
    PQclear(PQexec(c, "ROLLBACK"));
    ledger__set_err(l, 0, "%s", saved);
}

/* Runs body between BEGIN and COMMIT (rolled back when it fails). */
static int tx_run(ledger *l, int (*body)(ledger *l, void *arg), void *arg)
{
    int rc = pg_simple(l, "BEGIN", "begin transaction");
    if (rc)
        return rc;
    rc = body(l, arg);
    if (!rc)
        rc = pg_simple(l, "COMMIT", "commit");
    if (rc)
        tx_rollback(l);
    return rc;
}

static int migrate_body(ledger *l, void *arg)
{
    (void)arg;
    return migrate_locked(l);
}

static int pg_open(ledger *l, const char *target)
{
    pg *p = calloc(1, sizeof(*p));
    char msg[LEDGER__ERRMSG_MAX];

    if (!p)
        return ledger__set_err(l, LEDGER_EIO, "out of memory");
    ledger__set_state(l, p);
    p->target = strdup(target);
    if (!p->target)
        return ledger__set_err(l, LEDGER_EIO, "out of memory");
    p->conn = pg_connect(target);
    if (!p->conn || PQstatus(p->conn) != CONNECTION_OK) {
        pg_msg(p->conn ? PQerrorMessage(p->conn) : "out of memory", msg, sizeof(msg));
        return ledger__set_err(l, LEDGER_EIO, "cannot connect to PostgreSQL: %s", msg);
    }
    /* Notices (CREATE TABLE IF NOT EXISTS that exists) are not news. */
    PQclear(PQexec(p->conn, "SET client_min_messages = warning"));
    return tx_run(l, migrate_body, NULL);
}

static void pg_close(ledger *l)
{
    pg *p = pg_of(l);
    if (!p)
        return;
    if (p->counted)
        atomic_fetch_sub(&pg_handles_down, 1);
    if (p->conn)
        PQfinish(p->conn);
    free(p->target);
    free(p);
    ledger__set_state(l, NULL);
}

/* ---- secret ---- */

static int pg_secret(ledger *l, const uint8_t fresh[LEDGER__SECRET_BYTES],
                     uint8_t out[LEDGER__SECRET_BYTES])
{
    const char *args[2] = {PG_SECRET_KEY, (const char *)fresh};
    PGresult *r;
    int rc;

    /* Two processes may race: the first insert wins, both read it. */
    rc = pg_run(l, "INSERT INTO meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING", 2,
                args, NULL, "store secret", PG_RETRY, 1, 0);
    if (!rc)
        rc = pg_run(l, "SELECT value FROM meta WHERE key = $1", 1, args, &r, "read secret",
                    PG_RETRY, -1, 1);
    if (rc)
        return rc;
    if (PQntuples(r) != 1)
        rc = ledger__set_err(l, LEDGER_EIO, "secret missing after insert");
    else if (PQgetlength(r, 0, 0) != LEDGER__SECRET_BYTES)
        rc = ledger__set_err(l, LEDGER_EIO, "stored secret has the wrong length");
    else
        memcpy(out, PQgetvalue(r, 0, 0), LEDGER__SECRET_BYTES);
    PQclear(r);
    return rc;
}

/* ---- shows ---- */

static int pg_show_add(ledger *l, const char *id, const char *name, const char *venue_name,
                       const char *starts_at, const char *venue_json)
{
    char now[24];
    const char *args[] = {id,         name,
                          venue_name, starts_at ? starts_at : "",
                          venue_json, i64s(now, sizeof(now), sm_now_ms())};
    int rc = pg_run(l,
                    "INSERT INTO shows (id, name, venue_name, starts_at, venue_json, created_at)"
                    " VALUES ($1, $2, $3, $4, $5, $6::bigint)",
                    6, args, NULL, "add show", PG_ONCE, -1, 0);
    if (rc == LEDGER_EEXISTS)
        ledger__set_err(l, rc, "show %s already exists", id);
    return rc;
}

static void show_from_row(PGresult *r, int row, ledger_show *out)
{
    col_copy(r, row, 0, out->id, sizeof(out->id));
    col_copy(r, row, 1, out->name, sizeof(out->name));
    col_copy(r, row, 2, out->venue_name, sizeof(out->venue_name));
    col_copy(r, row, 3, out->starts_at, sizeof(out->starts_at));
}

static int pg_show_get(ledger *l, const char *id, ledger_show *out)
{
    const char *args[] = {id};
    PGresult *r;
    int rc =
        pg_run(l, "SELECT id, name, venue_name, starts_at, venue_json FROM shows WHERE id = $1", 1,
               args, &r, "get show", PG_RETRY, -1, 0);
    if (rc)
        return rc;
    if (PQntuples(r) == 0) {
        rc = ledger__set_err(l, LEDGER_ENOTFOUND, "no show %s", id);
    } else {
        show_from_row(r, 0, out);
        out->venue_json = strdup(PQgetvalue(r, 0, 4));
        if (!out->venue_json)
            rc = ledger__set_err(l, LEDGER_EIO, "out of memory");
    }
    PQclear(r);
    return rc;
}

static int pg_show_list(ledger *l, ledger_show **out, size_t *n)
{
    PGresult *r;
    int rows, i;
    int rc = pg_run(l,
                    "SELECT id, name, venue_name, starts_at FROM shows"
                    " ORDER BY starts_at COLLATE \"C\", id COLLATE \"C\"",
                    0, NULL, &r, "list shows", PG_RETRY, -1, 0);
    if (rc)
        return rc;
    rows = PQntuples(r);
    if (rows > 0) {
        *out = calloc((size_t)rows, sizeof(**out));
        if (!*out) {
            PQclear(r);
            return ledger__set_err(l, LEDGER_EIO, "out of memory");
        }
        for (i = 0; i < rows; i++)
            show_from_row(r, i, &(*out)[i]);
    }
    *n = (size_t)rows;
    PQclear(r);
    return 0;
}

/* ---- users, sessions, tokens ---- */

static int pg_user_add(ledger *l, const char *name, const char *role, const char *pwhash)
{
    char now[24];
    const char *args[] = {name, role, pwhash, i64s(now, sizeof(now), sm_now_ms())};
    /* One statement, so one transaction: a reset password or changed role
     * ends the user's open sessions. */
    return pg_run(l,
                  "WITH ended AS (DELETE FROM sessions WHERE user_id ="
                  " (SELECT id FROM users WHERE name = $1))"
                  " INSERT INTO users (name, role, pwhash, created_at)"
                  " VALUES ($1, $2, $3, $4::bigint)"
                  " ON CONFLICT (name) DO UPDATE SET role = excluded.role,"
                  " pwhash = excluded.pwhash",
                  4, args, NULL, "add user", PG_RETRY, -1, 0);
}

/* Fills *out from a one-row result (id, name, role[, pwhash]), or a
 * token's (name, role) as "token:NAME"; LEDGER_ENOTFOUND without a row.
 * Frees r. */
static int user_from(ledger *l, PGresult *r, ledger_user *out, int is_token, const char *what)
{
    int rc = 0;
    if (PQntuples(r) == 0) {
        rc = ledger__set_err(l, LEDGER_ENOTFOUND, "no such %s", what);
    } else if (is_token) {
        snprintf(out->name, sizeof(out->name), LEDGER_TOKEN_PREFIX "%s", PQgetvalue(r, 0, 0));
        col_copy(r, 0, 1, out->role, sizeof(out->role));
    } else {
        out->id = col_i64(r, 0, 0);
        col_copy(r, 0, 1, out->name, sizeof(out->name));
        col_copy(r, 0, 2, out->role, sizeof(out->role));
        if (PQnfields(r) > 3)
            col_copy(r, 0, 3, out->pwhash, sizeof(out->pwhash));
    }
    PQclear(r);
    return rc;
}

/* A read with at most one parameter (arg NULL: none), tried again once on
 * a fresh connection if the server restarted under it. */
static int pg_read1(ledger *l, const char *sql, const char *arg, PGresult **r, const char *what)
{
    const char *args[] = {arg};
    return pg_run(l, sql, arg ? 1 : 0, arg ? args : NULL, r, what, PG_RETRY, -1, 0);
}

static int pg_user_get(ledger *l, const char *name, ledger_user *out)
{
    PGresult *r;
    int rc =
        pg_read1(l, "SELECT id, name, role, pwhash FROM users WHERE name = $1", name, &r, "user");
    return rc ? rc : user_from(l, r, out, 0, "user");
}

static int pg_session_create(ledger *l, int64_t user_id, const char *token_hash,
                             int64_t expires_at_ms)
{
    char now[24], uid[24], exp[24];
    const char *purge[] = {i64s(now, sizeof(now), sm_now_ms())};
    const char *args[] = {token_hash, i64s(uid, sizeof(uid), user_id),
                          i64s(exp, sizeof(exp), expires_at_ms)};
    /* Logins are rare: a good moment to forget expired sessions. */
    int rc = pg_run(l, "DELETE FROM sessions WHERE expires_at <= $1::bigint", 1, purge, NULL,
                    "purge sessions", PG_RETRY, -1, 0);
    if (!rc)
        rc = pg_run(l,
                    "INSERT INTO sessions (token_hash, user_id, expires_at)"
                    " VALUES ($1, $2::bigint, $3::bigint)",
                    3, args, NULL, "create session", PG_ONCE, -1, 0);
    if (rc == LEDGER_ENOTFOUND)
        ledger__set_err(l, rc, "no user with id %lld", (long long)user_id);
    return rc;
}

static int pg_session_lookup(ledger *l, const char *token_hash, int64_t now_ms, ledger_user *out)
{
    char now[24];
    const char *args[] = {token_hash, i64s(now, sizeof(now), now_ms)};
    PGresult *r;
    int rc = pg_run(l,
                    "SELECT u.id, u.name, u.role FROM sessions s JOIN users u ON u.id = s.user_id"
                    " WHERE s.token_hash = $1 AND s.expires_at > $2::bigint",
                    2, args, &r, "session", PG_RETRY, -1, 0);
    return rc ? rc : user_from(l, r, out, 0, "session");
}

static int pg_session_delete(ledger *l, const char *token_hash)
{
    const char *args[] = {token_hash};
    PGresult *r;
    int rc = pg_run(l, "DELETE FROM sessions WHERE token_hash = $1", 1, args, &r, "delete session",
                    PG_RETRY, -1, 0);
    if (rc)
        return rc;
    if (affected(r) == 0)
        rc = ledger__set_err(l, LEDGER_ENOTFOUND, "no such session");
    PQclear(r);
    return rc;
}

static int pg_token_add(ledger *l, const char *name, const char *role, const char *token_hash)
{
    char now[24];
    const char *args[] = {token_hash, name, role, i64s(now, sizeof(now), sm_now_ms())};
    int rc = pg_run(l,
                    "INSERT INTO api_tokens (token_hash, name, role, created_at)"
                    " VALUES ($1, $2, $3, $4::bigint)",
                    4, args, NULL, "add token", PG_ONCE, -1, 0);
    if (rc == LEDGER_EEXISTS)
        ledger__set_err(l, rc, "a token named %s already exists", name);
    return rc;
}

static int pg_token_lookup(ledger *l, const char *token_hash, ledger_user *out)
{
    PGresult *r;
    int rc = pg_read1(l, "SELECT name, role FROM api_tokens WHERE token_hash = $1", token_hash, &r,
                      "token");
    return rc ? rc : user_from(l, r, out, 1, "token");
}

/* ---- bookings: reading ---- */

#define BOOKING_COLUMNS                                                                            \
    "SELECT id, show_id, hold_ref, payment_ref, created_by, created_at,"                           \
    " coalesce(cancelled_at, 0), seats FROM bookings "

/* Fills *out from row of a BOOKING_COLUMNS result. 0 or LEDGER_EIO. */
static int booking_from_row(ledger *l, PGresult *r, int row, ledger_booking *out)
{
    memset(out, 0, sizeof(*out));
    out->id = col_i64(r, row, 0);
    col_copy(r, row, 1, out->show, sizeof(out->show));
    col_copy(r, row, 2, out->hold_ref, sizeof(out->hold_ref));
    col_copy(r, row, 3, out->payment_ref, sizeof(out->payment_ref));
    col_copy(r, row, 4, out->by, sizeof(out->by));
    out->created_at = col_i64(r, row, 5);
    out->cancelled_at = col_i64(r, row, 6);
    if (ledger__seats_split(out, PQgetvalue(r, row, 7))) {
        ledger__booking_clear(out);
        return ledger__set_err(l, LEDGER_EIO, "out of memory");
    }
    return 0;
}

/* Runs a booking query with two parameters expecting at most one row. */
static int booking_one(ledger *l, const char *sql, const char *a, const char *b,
                       ledger_booking *out, const char *what)
{
    const char *args[] = {a, b};
    PGresult *r;
    int rc = pg_run(l, sql, 2, args, &r, what, PG_RETRY, -1, 0);
    if (rc)
        return rc;
    if (PQntuples(r) == 0)
        rc = ledger__set_err(l, LEDGER_ENOTFOUND, "no such booking");
    else
        rc = booking_from_row(l, r, 0, out);
    PQclear(r);
    return rc;
}

static int pg_booking_by_payment(ledger *l, const char *show, const char *payment_ref,
                                 ledger_booking *out)
{
    return booking_one(l, BOOKING_COLUMNS "WHERE show_id = $1 AND payment_ref = $2", show,
                       payment_ref, out, "find booking by payment");
}

static int pg_booking_by_hold(ledger *l, const char *show, const char *hold_ref,
                              ledger_booking *out)
{
    return booking_one(l,
                       BOOKING_COLUMNS "WHERE show_id = $1 AND hold_ref = $2"
                                       " AND cancelled_at IS NULL ORDER BY id DESC LIMIT 1",
                       show, hold_ref, out, "find booking by hold");
}

static int pg_booking_get(ledger *l, const char *show, int64_t id, ledger_booking *out)
{
    char idbuf[24];
    return booking_one(l, BOOKING_COLUMNS "WHERE show_id = $1 AND id = $2::bigint", show,
                       i64s(idbuf, sizeof(idbuf), id), out, "get booking");
}

static int pg_booking_list(ledger *l, const char *show, ledger_booking **out, size_t *n)
{
    ledger_booking *list = NULL;
    PGresult *r;
    int rows, i;
    int rc = pg_read1(l, BOOKING_COLUMNS "WHERE show_id = $1 ORDER BY id DESC", show, &r,
                      "list bookings");
    if (rc)
        return rc;
    rows = PQntuples(r);
    if (rows > 0 && !(list = calloc((size_t)rows, sizeof(*list))))
        rc = ledger__set_err(l, LEDGER_EIO, "out of memory");
    for (i = 0; i < rows && !rc; i++)
        rc = booking_from_row(l, r, i, &list[i]);
    PQclear(r);
    if (rc) {
        ledger__booking_list_free(list, (size_t)i);
        return rc;
    }
    *out = list;
    *n = (size_t)rows;
    return 0;
}

static int pg_booked_seats(ledger *l, const char *show, ledger_seat_cb cb, void *arg)
{
    PGresult *r;
    int i;
    int rc = pg_read1(l, "SELECT seat_id, booking_id FROM booking_seats WHERE show_id = $1", show,
                      &r, "list booked seats");
    if (rc)
        return rc;
    for (i = 0; i < PQntuples(r); i++)
        cb(arg, PQgetvalue(r, i, 0), col_i64(r, i, 1));
    PQclear(r);
    return 0;
}

/* One integer from sql; show (may be NULL) is $1. */
static int query_int64(ledger *l, const char *sql, const char *show, int64_t *out, const char *what)
{
    PGresult *r;
    int rc = pg_read1(l, sql, show, &r, what);
    if (rc)
        return rc;
    *out = PQntuples(r) ? col_i64(r, 0, 0) : 0;
    PQclear(r);
    return 0;
}

static int max_id_body(ledger *l, void *arg)
{
    int rc = pg_simple(l, "SELECT pg_advisory_xact_lock(" PG_BOOKING_LOCK ")",
                       "wait for bookings in flight");
    if (!rc)
        rc = query_int64(l, "SELECT coalesce(max(id), 0) FROM bookings", NULL, arg,
                         "read the newest booking id");
    return rc;
}

/*
 * The watermark must be an id below which no booking can still commit:
 * reconciliation (show.c, ensure.lua) takes a seat booked in Redis under
 * an id at or below it, and missing from the read, for stale. With SQLite
 * one writer at a time makes that so. Here ids come from a sequence and two
 * processes may commit out of order, so every booking holds the advisory
 * lock PG_BOOKING_LOCK shared from before its id is drawn until it commits,
 * and this read takes it exclusively: it waits for the bookings in flight
 * (milliseconds), and bookings after it draw larger ids. Bookings never wait
 * for each other on it. Two statements in a transaction, so that the read's
 * snapshot is taken after the wait.
 */
static int pg_booking_max_id(ledger *l, int64_t *out)
{
    return tx_run(l, max_id_body, out);
}

static int pg_booked_count(ledger *l, const char *show, int64_t *out)
{
    return query_int64(l, "SELECT count(*) FROM booking_seats WHERE show_id = $1", show, out,
                       "count booked seats");
}

/* ---- bookings: writing ---- */

/* After a refused booking: which seat of it an active booking holds, for
 * the message (0 and "" when none is found any more). */
static int64_t seat_owner(ledger *l, const ledger_booking_new *nb, char *seat, size_t len)
{
    const char *args[] = {nb->show, nb->seats_joined};
    PGresult *r;
    int64_t id = 0;
    char saved[LEDGER__ERRMSG_MAX];

    seat[0] = '\0';
    snprintf(saved, sizeof(saved), "%s", ledger__errmsg(l));
    if (pg_run(l,
               "SELECT seat_id, booking_id FROM booking_seats WHERE show_id = $1"
               " AND seat_id = ANY (string_to_array($2, ' ')) ORDER BY seat_id LIMIT 1",
               2, args, &r, "find a seat's booking", PG_ONCE, -1, 0) == 0) {
        if (PQntuples(r)) {
            col_copy(r, 0, 0, seat, len);
            id = col_i64(r, 0, 1);
        }
        PQclear(r);
    }
    ledger__set_err(l, 0, "%s", saved);
    return id;
}

static int pg_booking_create(ledger *l, const ledger_booking_new *nb, int64_t *id,
                             ledger_booking *existing)
{
    char now[24], seat[SM_SEAT_ID_MAX + 1];
    const char *args[] = {nb->show,
                          nb->hold_ref ? nb->hold_ref : "",
                          nb->payment_ref,
                          nb->by,
                          i64s(now, sizeof(now), nb->now_ms),
                          nb->seats_joined,
                          nb->hold_ref && nb->hold_ref[0] ? "book" : "sale"};
    PGresult *r;
    int64_t owner;
    int rc;

    /* The booking, its seats and its audit row: one statement, so one
     * transaction, holding the watermark lock shared (see pg_booking_max_id)
     * from before its id is drawn. The seats' primary key refuses a seat an active booking
     * holds; the bookings unique constraint refuses a payment ref again. */
    rc = pg_run(l,
                "WITH w AS (SELECT pg_advisory_xact_lock_shared(" PG_BOOKING_LOCK ")),"
                " b AS (INSERT INTO bookings (show_id, hold_ref, payment_ref, created_by,"
                " created_at, seats) SELECT $1, $2, $3, $4, $5::bigint, $6 FROM w RETURNING id),"
                " s AS (INSERT INTO booking_seats (show_id, seat_id, booking_id)"
                " SELECT $1, seat, b.id FROM b, unnest(string_to_array($6, ' ')) AS seat),"
                " a AS (INSERT INTO audit (at, show_id, what, ref, seats, who)"
                " SELECT $5::bigint, $1, $7, b.id::text, $6, $4 FROM b)"
                " SELECT id FROM b",
                7, args, &r, "insert booking", PG_RETRY, -1, 0);
    if (!rc) {
        *id = col_i64(r, 0, 0);
        PQclear(r);
        return 0;
    }
    if (rc == LEDGER_ENOTFOUND)
        return ledger__set_err(l, rc, "no show %s", nb->show);
    if (rc != LEDGER_EEXISTS)
        return rc;
    /* A unique key refused it: the same payment ref (then report that
     * booking, as an idempotent answer), or else a seat. */
    rc = pg_booking_by_payment(l, nb->show, nb->payment_ref, existing);
    if (rc == 0)
        return ledger__set_err(l, LEDGER_EEXISTS, "payment ref %s already booked as booking %lld",
                               nb->payment_ref, (long long)existing->id);
    if (rc != LEDGER_ENOTFOUND)
        return rc;
    owner = seat_owner(l, nb, seat, sizeof(seat));
    return ledger__set_err(l, LEDGER_ESEATTAKEN, "seat %s is already booked (booking %lld)",
                           seat[0] ? seat : "(one of them)", (long long)owner);
}

static int pg_booking_cancel(ledger *l, const char *show, int64_t id, const char *by,
                             int64_t now_ms, ledger_booking *out)
{
    char idbuf[24], now[24];
    const char *args[] = {show, i64s(idbuf, sizeof(idbuf), id), i64s(now, sizeof(now), now_ms), by};
    PGresult *r;
    long n;
    int rc;

    /* Marks it cancelled (only if active: the UPDATE re-checks the newest
     * row version, so of two racing cancels one wins), frees its seats and
     * writes the audit row, in one statement. */
    rc = pg_run(l,
                "WITH c AS (UPDATE bookings SET cancelled_at = $3::bigint, cancelled_by = $4"
                " WHERE show_id = $1 AND id = $2::bigint AND cancelled_at IS NULL"
                " RETURNING id, seats),"
                " d AS (DELETE FROM booking_seats WHERE booking_id IN (SELECT id FROM c)),"
                " a AS (INSERT INTO audit (at, show_id, what, ref, seats, who)"
                " SELECT $3::bigint, $1, 'cancel', c.id::text, c.seats, $4 FROM c)"
                " SELECT count(*) FROM c",
                4, args, &r, "cancel booking", PG_ONCE, -1, 0);
    if (rc)
        return rc;
    n = (long)col_i64(r, 0, 0);
    PQclear(r);
    rc = pg_booking_get(l, show, id, out);
    if (rc)
        return rc;
    if (n == 0)
        return ledger__set_err(l, LEDGER_EINVAL, "booking %lld is already cancelled",
                               (long long)id);
    out->cancelled_at = now_ms;
    return 0;
}

/* ---- audit ---- */

typedef struct audit_batch {
    const ledger_audit_row *rows;
    size_t n;
} audit_batch;

/* Inserts up to PG_AUDIT_CHUNK rows in one statement. */
static int audit_chunk(ledger *l, const ledger_audit_row *rows, size_t n)
{
    sm_buf sql;
    const char **args = calloc(n * 6, sizeof(*args));
    char(*at)[24] = calloc(n, sizeof(*at));
    size_t i;
    int rc;

    sm_buf_init(&sql, 128 + n * 96);
    sm_buf_adds(&sql, "INSERT INTO audit (at, show_id, what, ref, seats, who) VALUES ");
    for (i = 0; args && at && i < n; i++) {
        size_t k = i * 6;
        sm_buf_printf(&sql, "%s($%zu::bigint, $%zu, $%zu, $%zu, $%zu, $%zu)", i ? ", " : "", k + 1,
                      k + 2, k + 3, k + 4, k + 5, k + 6);
        args[k] = i64s(at[i], sizeof(at[i]), rows[i].at);
        args[k + 1] = rows[i].show;
        args[k + 2] = rows[i].what;
        args[k + 3] = rows[i].ref;
        args[k + 4] = rows[i].seats;
        args[k + 5] = rows[i].who;
    }
    if (!args || !at || sm_buf_failed(&sql))
        rc = ledger__set_err(l, LEDGER_EIO, "out of memory");
    else
        rc = pg_run(l, sql.data, (int)(n * 6), args, NULL, "write audit rows", PG_ONCE, -1, 0);
    sm_buf_free(&sql);
    free(args);
    free(at);
    return rc;
}

static int audit_body(ledger *l, void *arg)
{
    const audit_batch *b = arg;
    size_t i;
    int rc = 0;
    for (i = 0; i < b->n && !rc; i += PG_AUDIT_CHUNK)
        rc = audit_chunk(l, b->rows + i, b->n - i < PG_AUDIT_CHUNK ? b->n - i : PG_AUDIT_CHUNK);
    return rc;
}

static int pg_audit_write(ledger *l, const ledger_audit_row *rows, size_t n)
{
    audit_batch b = {rows, n};
    if (n <= PG_AUDIT_CHUNK)
        return audit_chunk(l, rows, n); /* one statement is a transaction */
    return tx_run(l, audit_body, &b);
}

/* ---- webhooks and deliveries ---- */

/* The same statements and answers as the SQLite engine's. A webhook's or a
 * delivery's writes are single statements (one implicit transaction each).
 * Reads are retried once on a fresh connection; so is delivery_add, which
 * its (webhook_id, event_id) key makes idempotent. */

static int pg_webhook_add(ledger *l, const char *url, const char *events, const char *secret,
                          int64_t now_ms, int64_t *id)
{
    char now[24];
    const char *args[] = {url, events, secret, i64s(now, sizeof(now), now_ms)};
    PGresult *r;
    int rc = pg_run(l,
                    "INSERT INTO webhooks (url, events, secret, created_at)"
                    " VALUES ($1, $2, $3, $4::bigint) RETURNING id",
                    4, args, &r, "add webhook", PG_ONCE, -1, 0);
    if (rc)
        return rc;
    *id = col_i64(r, 0, 0);
    PQclear(r);
    return 0;
}

#define WEBHOOK_COLUMNS "SELECT id, url, events, secret, created_at FROM webhooks "

/* Reads row `row` of r into *out (a ledger_webhook or a ledger_delivery):
 * 0, or -1 out of memory. */
typedef int pg_row_fn(PGresult *r, int row, void *out);

/* Runs sql (with $1 the id) for the one row it should find: 0, LEDGER_ENOTFOUND
 * with "no such <thing>", or the error. */
static int read_by_id(ledger *l, const char *sql, int64_t id, pg_row_fn *from_row, void *out,
                      const char *thing)
{
    char idbuf[24], what[64];
    const char *args[] = {i64s(idbuf, sizeof(idbuf), id)};
    PGresult *r;
    int rc;
    snprintf(what, sizeof(what), "read %s", thing);
    rc = pg_run(l, sql, 1, args, &r, what, PG_RETRY, -1, 0);
    if (rc)
        return rc;
    if (PQntuples(r) == 0)
        rc = ledger__set_err(l, LEDGER_ENOTFOUND, "no such %s", thing);
    else if (from_row(r, 0, out))
        rc = ledger__set_err(l, LEDGER_EIO, "%s: out of memory", what);
    PQclear(r);
    return rc;
}

/* Every row of r (cleared here) into a new array of elements of `size`
 * bytes, zeroed before from_row fills each: *out (the caller frees it) and
 * *n. On failure nothing is returned and the error is set. */
static int read_rows(ledger *l, PGresult *r, pg_row_fn *from_row, size_t size, void **out,
                     size_t *n, const char *what)
{
    int rows = PQntuples(r), i;
    char *list = NULL;
    if (rows > 0 && !(list = calloc((size_t)rows, size))) {
        PQclear(r);
        return ledger__set_err(l, LEDGER_EIO, "%s: out of memory", what);
    }
    for (i = 0; i < rows; i++)
        if (from_row(r, i, list + (size_t)i * size)) {
            PQclear(r);
            free(list); /* the rows read so far own nothing (no payloads in lists) */
            return ledger__set_err(l, LEDGER_EIO, "%s: out of memory", what);
        }
    PQclear(r);
    *out = list;
    *n = (size_t)rows;
    return 0;
}

static int webhook_from_row(PGresult *r, int row, void *dst)
{
    ledger_webhook *out = dst;
    out->id = col_i64(r, row, 0);
    col_copy(r, row, 1, out->url, sizeof(out->url));
    col_copy(r, row, 2, out->events, sizeof(out->events));
    col_copy(r, row, 3, out->secret, sizeof(out->secret));
    out->created_at = col_i64(r, row, 4);
    return 0;
}

static int pg_webhook_get(ledger *l, int64_t id, ledger_webhook *out)
{
    return read_by_id(l, WEBHOOK_COLUMNS "WHERE id = $1::bigint", id, webhook_from_row, out,
                      "webhook");
}

static int pg_webhook_list(ledger *l, ledger_webhook **out, size_t *n)
{
    PGresult *r;
    int rc =
        pg_run(l, WEBHOOK_COLUMNS "ORDER BY id", 0, NULL, &r, "list webhooks", PG_RETRY, -1, 0);
    if (rc)
        return rc;
    return read_rows(l, r, webhook_from_row, sizeof(**out), (void **)out, n, "list webhooks");
}

/* Runs a one-row write by id; LEDGER_ENOTFOUND (notfound as the message)
 * when no row changed. */
static int write_by_id(ledger *l, const char *sql, int n, const char *const *args, const char *what,
                       const char *notfound)
{
    PGresult *r;
    int rc = pg_run(l, sql, n, args, &r, what, PG_ONCE, -1, 0);
    if (rc)
        return rc;
    if (affected(r) == 0)
        rc = ledger__set_err(l, LEDGER_ENOTFOUND, "%s", notfound);
    PQclear(r);
    return rc;
}

static int pg_webhook_delete(ledger *l, int64_t id)
{
    char idbuf[24];
    const char *args[] = {i64s(idbuf, sizeof(idbuf), id)};
    /* Its deliveries go with it: ON DELETE CASCADE, in the same statement. */
    return write_by_id(l, "DELETE FROM webhooks WHERE id = $1::bigint", 1, args, "delete webhook",
                       "no such webhook");
}

static int pg_delivery_add(ledger *l, int64_t webhook_id, const char *event_id,
                           const char *event_type, const char *payload, int64_t now_ms, int64_t *id,
                           int *created)
{
    char wh[24], now[24];
    const char *args[] = {i64s(wh, sizeof(wh), webhook_id), event_id, event_type, payload,
                          i64s(now, sizeof(now), now_ms)};
    PGresult *r;
    int rc;

    /* Made, or found: the first branch returns the new row's id, and when
     * the key already exists the second finds the old one (a concurrent
     * inserter's row is visible once it has committed, which the unique
     * index waited for). A webhook that is gone fails the foreign key. */
    rc = pg_run(l,
                "WITH i AS (INSERT INTO deliveries (webhook_id, event_id, event_type, payload,"
                " next_attempt_at, created_at, updated_at)"
                " VALUES ($1::bigint, $2, $3, $4, $5::bigint, $5::bigint, $5::bigint)"
                " ON CONFLICT (webhook_id, event_id) DO NOTHING RETURNING id)"
                " SELECT id, 1 FROM i UNION ALL"
                " SELECT id, 0 FROM deliveries WHERE webhook_id = $1::bigint AND event_id = $2"
                " AND NOT EXISTS (SELECT 1 FROM i)",
                5, args, &r, "add delivery", PG_RETRY, -1, 0);
    if (rc == LEDGER_ENOTFOUND)
        return ledger__set_err(l, rc, "no such webhook");
    if (rc)
        return rc;
    if (PQntuples(r) == 0) {
        /* Another process inserted the same delivery after this
         * statement's snapshot was taken: a new statement sees it. */
        PQclear(r);
        rc = pg_run(l,
                    "SELECT id, 0 FROM deliveries WHERE webhook_id = $1::bigint AND event_id = $2",
                    2, args, &r, "read delivery", PG_RETRY, -1, 0);
        if (rc)
            return rc;
        if (PQntuples(r) == 0) {
            PQclear(r);
            return ledger__set_err(l, LEDGER_ENOTFOUND, "no such webhook");
        }
    }
    *id = col_i64(r, 0, 0);
    *created = col_i64(r, 0, 1) == 1;
    PQclear(r);
    return 0;
}

#define DELIVERY_COLUMNS                                                                           \
    "SELECT id, webhook_id, event_id, event_type, status, attempts, base_attempts, last_error,"    \
    " next_attempt_at, created_at, payload FROM deliveries "
#define DELIVERY_COLUMNS_NO_PAYLOAD                                                                \
    "SELECT id, webhook_id, event_id, event_type, status, attempts, base_attempts, last_error,"    \
    " next_attempt_at, created_at FROM deliveries "

/* Fills out from row; with_payload copies the payload (0, or -1 when out
 * of memory). */
static int delivery_from_row(PGresult *r, int row, ledger_delivery *out, int with_payload)
{
    out->id = col_i64(r, row, 0);
    out->webhook_id = col_i64(r, row, 1);
    col_copy(r, row, 2, out->event_id, sizeof(out->event_id));
    col_copy(r, row, 3, out->event_type, sizeof(out->event_type));
    col_copy(r, row, 4, out->status, sizeof(out->status));
    out->attempts = (int)col_i64(r, row, 5);
    out->base_attempts = (int)col_i64(r, row, 6);
    col_copy(r, row, 7, out->last_error, sizeof(out->last_error));
    out->next_attempt_at = col_i64(r, row, 8);
    out->created_at = col_i64(r, row, 9);
    if (with_payload) {
        out->payload = strdup(PQgetvalue(r, row, 10));
        if (!out->payload)
            return -1;
    }
    return 0;
}

static int delivery_with_payload(PGresult *r, int row, void *out)
{
    return delivery_from_row(r, row, out, 1);
}

static int delivery_listed(PGresult *r, int row, void *out)
{
    return delivery_from_row(r, row, out, 0);
}

static int pg_delivery_get(ledger *l, int64_t id, ledger_delivery *out)
{
    return read_by_id(l, DELIVERY_COLUMNS "WHERE id = $1::bigint", id, delivery_with_payload, out,
                      "delivery");
}

static int pg_delivery_list(ledger *l, int64_t webhook_id, const char *status, size_t limit,
                            ledger_delivery **out, size_t *n)
{
    char wh[24], lim[24];
    const char *args[] = {i64s(wh, sizeof(wh), webhook_id), status,
                          i64s(lim, sizeof(lim), limit > INT64_MAX ? INT64_MAX : (int64_t)limit)};
    PGresult *r;
    int rc = pg_run(l,
                    DELIVERY_COLUMNS_NO_PAYLOAD
                    "WHERE webhook_id = $1::bigint AND ($2::text IS NULL OR status = $2)"
                    " ORDER BY id DESC LIMIT $3::bigint",
                    3, args, &r, "list deliveries", PG_RETRY, -1, 0);
    if (rc)
        return rc;
    return read_rows(l, r, delivery_listed, sizeof(**out), (void **)out, n, "list deliveries");
}

static int pg_delivery_update(ledger *l, const ledger_delivery *d, int64_t now_ms)
{
    char id[24], att[24], base[24], next[24], now[24];
    const char *args[] = {i64s(id, sizeof(id), d->id),
                          d->status,
                          i64s(att, sizeof(att), d->attempts),
                          i64s(base, sizeof(base), d->base_attempts),
                          d->last_error,
                          i64s(next, sizeof(next), d->next_attempt_at),
                          i64s(now, sizeof(now), now_ms)};
    return write_by_id(l,
                       "UPDATE deliveries SET status = $2, attempts = $3::integer,"
                       " base_attempts = $4::integer, last_error = $5,"
                       " next_attempt_at = $6::bigint, updated_at = $7::bigint"
                       " WHERE id = $1::bigint",
                       7, args, "update delivery", "no such delivery");
}

static int pg_delivery_count(ledger *l, int64_t webhook_id, const char *status, int64_t *out)
{
    char wh[24];
    const char *args[] = {i64s(wh, sizeof(wh), webhook_id), status};
    PGresult *r;
    int rc = pg_run(l,
                    "SELECT count(*) FROM deliveries WHERE webhook_id = $1::bigint"
                    " AND ($2::text IS NULL OR status = $2)",
                    2, args, &r, "count deliveries", PG_RETRY, -1, 0);
    if (rc)
        return rc;
    *out = col_i64(r, 0, 0);
    PQclear(r);
    return 0;
}

static int pg_delivery_delete(ledger *l, int64_t id)
{
    char idbuf[24];
    const char *args[] = {i64s(idbuf, sizeof(idbuf), id)};
    return write_by_id(l, "DELETE FROM deliveries WHERE id = $1::bigint", 1, args,
                       "delete delivery", "no such delivery");
}

static int pg_delivery_stats(ledger *l, int64_t webhook_id, int64_t since_ms,
                             ledger_delivery_counts *out)
{
    char wh[24], since[24];
    const char *args[] = {i64s(wh, sizeof(wh), webhook_id), i64s(since, sizeof(since), since_ms)};
    PGresult *r;
    int rows, i;
    int rc = pg_run(l,
                    "SELECT status, count(*),"
                    " count(*) FILTER (WHERE status = 'ok' AND updated_at >= $2::bigint)"
                    " FROM deliveries WHERE webhook_id = $1::bigint GROUP BY status",
                    2, args, &r, "count deliveries", PG_RETRY, -1, 0);
    if (rc)
        return rc;
    rows = PQntuples(r);
    for (i = 0; i < rows; i++) {
        ledger__stats_add(out, PQgetvalue(r, i, 0), col_i64(r, i, 1));
        out->ok_since += col_i64(r, i, 2);
    }
    PQclear(r);
    return 0;
}

const ledger_engine ledger_pg_engine = {
    .name = "postgresql",
    .open = pg_open,
    .close = pg_close,
    .secret = pg_secret,
    .show_add = pg_show_add,
    .show_get = pg_show_get,
    .show_list = pg_show_list,
    .user_add = pg_user_add,
    .user_get = pg_user_get,
    .session_create = pg_session_create,
    .session_lookup = pg_session_lookup,
    .session_delete = pg_session_delete,
    .token_add = pg_token_add,
    .token_lookup = pg_token_lookup,
    .booking_create = pg_booking_create,
    .booking_by_payment = pg_booking_by_payment,
    .booking_by_hold = pg_booking_by_hold,
    .booking_get = pg_booking_get,
    .booking_list = pg_booking_list,
    .booking_cancel = pg_booking_cancel,
    .booked_seats = pg_booked_seats,
    .booking_max_id = pg_booking_max_id,
    .booked_count = pg_booked_count,
    .audit_write = pg_audit_write,
    .webhook_add = pg_webhook_add,
    .webhook_get = pg_webhook_get,
    .webhook_list = pg_webhook_list,
    .webhook_delete = pg_webhook_delete,
    .delivery_add = pg_delivery_add,
    .delivery_get = pg_delivery_get,
    .delivery_list = pg_delivery_list,
    .delivery_update = pg_delivery_update,
    .delivery_count = pg_delivery_count,
    .delivery_delete = pg_delivery_delete,
    .delivery_stats = pg_delivery_stats,
};
