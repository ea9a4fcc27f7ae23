/*
 * ledger.c - the implementation of ledger.h: opens and closes the handle,
 * picks the database engine at open, checks the arguments whose rules do not
 * depend on the engine (show ids, text limits, seat lists; names and roles
 * are in ledger_accounts.c), and hands each call to the engine. It also keeps
 * what is the same for every engine: the cached buyer secret and the bounded
 * buffer of audit rows (the handle's "front", owned here). The handle itself,
 * its error message and the helpers shared with the engines are one layer
 * down, in ledger_engine.c; this file is the top of the ledger and nothing in
 * the other ledger modules calls it.
 *
 * Not here: SQL of any dialect (ledger_sqlite.c, ledger_pg.c), holds
 * (Redis owns them, see store.h), seat states in memory (show.h), password
 * hashing and token generation (auth.h).
 */
#include "ledger.h"

#include "failpoint.h"
#include "ledger_engine.h"
#include "util.h"

#include <sodium.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Audit rows buffered before a forced flush; beyond it (and if the flush
 * fails) the oldest rows are dropped rather than growing without bound. */
#define LEDGER_AUDIT_MAX 4096
/* Longest text kept per audit field; the seat list may be long. */
#define LEDGER_AUDIT_FIELD_MAX 256
#define LEDGER_AUDIT_SEATS_MAX 65536
/* Field limits matching the ledger_booking struct. */
#define LEDGER_HOLD_REF_MAX 15
#define LEDGER_BY_MAX (LEDGER_NAME_MAX + 7)

/* ledger.c's part of the handle (see ledger__front). */
struct ledger__front {
    int have_secret;
    uint8_t secret[LEDGER__SECRET_BYTES];
    /* Buffered audit rows; the strings of row i point into audit_mem[i]. */
    ledger_audit_row audit[LEDGER_AUDIT_MAX];
    char *audit_mem[LEDGER_AUDIT_MAX];
    size_t naudit;
    uint64_t audit_dropped;
    int audit_buffer_only; /* never flushes by itself (ledger_audit_buffer_only) */
};

/* Rows taken from a handle's buffer (ledger_audit_take). */
struct ledger_audit_batch {
    size_t n;
    ledger_audit_row rows[LEDGER_AUDIT_MAX];
    char *mem[LEDGER_AUDIT_MAX];
};

const char *ledger_errmsg(ledger *l)
{
    return l ? ledger__errmsg(l) : "no ledger";
}

/* ---- choosing the engine, open, close ---- */

/* Database URLs by scheme, and libpq keyword strings by their first
 * keyword. A scheme whose engine is not built in gets a clear refusal
 * rather than being taken for a file name. */
static const struct {
    const char *scheme;
    const ledger_engine *engine; /* NULL: not built in */
    const char *missing;
} engine_schemes[] = {
    {"postgres://", &ledger_pg_engine, NULL}, {"postgresql://", &ledger_pg_engine, NULL},
    {"host=", &ledger_pg_engine, NULL},       {"hostaddr=", &ledger_pg_engine, NULL},
    {"dbname=", &ledger_pg_engine, NULL},     {"user=", &ledger_pg_engine, NULL},
    {"port=", &ledger_pg_engine, NULL},       {"service=", &ledger_pg_engine, NULL},
};

/* The engine for target (SQLite for anything that is not a known URL), or
 * NULL with a sentence in err. The URL may hold a password: never echo it. */
static const ledger_engine *engine_for(const char *target, char *err, size_t errlen)
{
    size_t i;
    for (i = 0; i < sizeof(engine_schemes) / sizeof(engine_schemes[0]); i++) {
        if (strncmp(target, engine_schemes[i].scheme, strlen(engine_schemes[i].scheme)) != 0)
            continue;
        if (!engine_schemes[i].engine)
            snprintf(err, errlen, "%s; give a SQLite file path instead", engine_schemes[i].missing);
        return engine_schemes[i].engine;
    }
    return &ledger_sqlite_engine;
}

int ledger_open(const char *path, ledger **out, char *err, size_t errlen)
{
    const ledger_engine *engine;
    struct ledger__front *front;
    ledger *l;
    int rc;

    *out = NULL;
    if (!path || !path[0]) {
        snprintf(err, errlen, "no database file given");
        return LEDGER_EINVAL;
    }
    engine = engine_for(path, err, errlen);
    if (!engine)
        return LEDGER_EIO;
    if (sodium_init() < 0) { /* for randombytes; idempotent */
        snprintf(err, errlen, "cannot initialise libsodium");
        return LEDGER_EIO;
    }
    front = calloc(1, sizeof(*front));
    l = front ? ledger__new(engine, front) : NULL;
    if (!l) {
        free(front);
        snprintf(err, errlen, "out of memory opening the database");
        return LEDGER_EIO;
    }
    rc = engine->open ? engine->open(l, path) : ledger__unsupported(l, "open");
    if (rc) {
        /* A URL may hold a password: name the file only for SQLite. */
        snprintf(err, errlen, "cannot open database %s: %s",
                 engine == &ledger_sqlite_engine ? path : engine->name, ledger__errmsg(l));
        ledger_close(l);
        return rc;
    }
    ledger__set_err(l, 0, "%s", "");
    *out = l;
    return 0;
}

static void audit_row_free(struct ledger__front *f, size_t i)
{
    free(f->audit_mem[i]);
    f->audit_mem[i] = NULL;
    memset(&f->audit[i], 0, sizeof(f->audit[i]));
}

void ledger_close(ledger *l)
{
    struct ledger__front *f;
    size_t i;
    if (!l)
        return;
    f = ledger__front(l);
    if (ledger__state(l) && f->naudit && ledger_audit_flush(l))
        sm_warn("ledger: %zu audit rows lost at close: %s", f->naudit, ledger__errmsg(l));
    for (i = 0; i < f->naudit; i++)
        audit_row_free(f, i);
    if (ledger__engine(l)->close)
        ledger__engine(l)->close(l);
    sodium_memzero(f->secret, sizeof(f->secret));
    free(f);
    ledger__free(l);
}

/* ---- secret ---- */

int ledger_secret(ledger *l, uint8_t out[32])
{
    struct ledger__front *f = ledger__front(l);
    uint8_t fresh[LEDGER__SECRET_BYTES];
    int rc;

    if (!f->have_secret) {
        randombytes_buf(fresh, sizeof(fresh));
        rc = LEDGER__CALL(l, secret, fresh, f->secret);
        sodium_memzero(fresh, sizeof(fresh));
        if (rc)
            return rc;
        f->have_secret = 1;
    }
    memcpy(out, f->secret, LEDGER__SECRET_BYTES);
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
    if (!sm_valid_show_id(id))
        return ledger__set_err(l, LEDGER_EINVAL, "show id must match [A-Za-z0-9_-]{1,64}");
    if (!ledger__text_ok(name, LEDGER_SHOW_NAME_MAX))
        return ledger__set_err(l, LEDGER_EINVAL, "show name must be 1 to %d bytes",
                               LEDGER_SHOW_NAME_MAX);
    if (!ledger__text_ok(venue_name, LEDGER_SHOW_NAME_MAX))
        return ledger__set_err(l, LEDGER_EINVAL, "venue name must be 1 to %d bytes",
                               LEDGER_SHOW_NAME_MAX);
    if (starts_at && strlen(starts_at) > LEDGER_STARTS_AT_MAX)
        return ledger__set_err(l, LEDGER_EINVAL, "start time is too long");
    if (!venue_json || !venue_json[0])
        return ledger__set_err(l, LEDGER_EINVAL, "venue document is empty");
    return LEDGER__CALL(l, show_add, id, name, venue_name, starts_at, venue_json);
}

int ledger_show_get(ledger *l, const char *id, ledger_show *out)
{
    memset(out, 0, sizeof(*out));
    if (!sm_valid_show_id(id))
        return ledger__set_err(l, LEDGER_ENOTFOUND, "no such show");
    return LEDGER__CALL(l, show_get, id, out);
}

int ledger_show_list(ledger *l, ledger_show **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    return LEDGER__CALL(l, show_list, out, n);
}

/* ---- seat lists ---- */

static int cmp_str_ptr(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* LEDGER_EINVAL (with the seat) if a seat is listed twice. */
static int seats_distinct(ledger *l, const char *const *seats, size_t nseats)
{
    const char **sorted = malloc(nseats * sizeof(*sorted));
    size_t i;
    int rc = 0;

    if (!sorted)
        return ledger__set_err(l, LEDGER_EIO, "out of memory");
    memcpy(sorted, seats, nseats * sizeof(*sorted));
    qsort(sorted, nseats, sizeof(*sorted), cmp_str_ptr);
    for (i = 1; i < nseats && !rc; i++)
        if (strcmp(sorted[i - 1], sorted[i]) == 0)
            rc = ledger__set_err(l, LEDGER_EINVAL, "seat %s is listed twice", sorted[i]);
    free(sorted);
    return rc;
}

/* Checks a new booking's seat list: valid ids, no seat twice. On success
 * joined receives the space-separated list (caller frees). */
static int seats_check_join(ledger *l, const char *const *seats, size_t nseats, char **joined)
{
    size_t i;
    int rc;

    *joined = NULL;
    if (!seats || nseats == 0)
        return ledger__set_err(l, LEDGER_EINVAL, "a booking needs at least one seat");
    if (nseats > SIZE_MAX / (SM_SEAT_ID_MAX + 1) - 1)
        return ledger__set_err(l, LEDGER_EINVAL, "too many seats");
    for (i = 0; i < nseats; i++)
        if (!sm_valid_seat_id(seats[i]))
            return ledger__set_err(l, LEDGER_EINVAL, "bad seat id");
    rc = seats_distinct(l, seats, nseats);
    if (rc)
        return rc;
    if (ledger__seats_join(seats, nseats, joined))
        return ledger__set_err(l, LEDGER_EIO, "out of memory");
    return 0;
}

/* ---- bookings ---- */

void ledger_booking_clear(ledger_booking *b)
{
    ledger__booking_clear(b);
}

void ledger_booking_list_free(ledger_booking *list, size_t n)
{
    ledger__booking_list_free(list, n);
}

/* Checks a new booking; on success nb->seats_joined is malloc'd (the caller
 * frees it). */
static int booking_check(ledger *l, ledger_booking_new *nb, char **joined)
{
    int rc;

    if (!sm_valid_show_id(nb->show))
        return ledger__set_err(l, LEDGER_EINVAL, "bad show id");
    if (nb->hold_ref && strlen(nb->hold_ref) > LEDGER_HOLD_REF_MAX)
        return ledger__set_err(l, LEDGER_EINVAL, "hold ref is too long");
    if (!ledger__text_ok(nb->payment_ref, LEDGER_PAYMENT_REF_MAX))
        return ledger__set_err(l, LEDGER_EINVAL, "payment ref must be 1 to %d bytes",
                               LEDGER_PAYMENT_REF_MAX);
    if (!ledger__text_ok(nb->by, LEDGER_BY_MAX))
        return ledger__set_err(l, LEDGER_EINVAL, "bad booking author");
    rc = seats_check_join(l, nb->seats, nb->nseats, joined);
    nb->seats_joined = *joined;
    return rc;
}

/* Describes the booking just committed as id into *out. */
static int booking_describe(ledger *l, const ledger_booking_new *nb, int64_t id,
                            ledger_booking *out)
{
    out->id = id;
    snprintf(out->show, sizeof(out->show), "%s", nb->show);
    snprintf(out->hold_ref, sizeof(out->hold_ref), "%s", nb->hold_ref ? nb->hold_ref : "");
    snprintf(out->payment_ref, sizeof(out->payment_ref), "%s", nb->payment_ref);
    snprintf(out->by, sizeof(out->by), "%s", nb->by);
    out->created_at = nb->now_ms;
    out->cancelled_at = 0;
    if (ledger__seats_split(out, nb->seats_joined)) {
        /* Committed, but we cannot describe it: the caller may re-read it. */
        ledger_booking_clear(out);
        return ledger__set_err(l, LEDGER_EIO, "out of memory after booking %lld", (long long)id);
    }
    return 0;
}

/* The failpoint of every write of bookings and the audit trail: error is
 * the database refusing it as SQLite does when the disk is full. */
static int write_fault(ledger *l)
{
    if (SM_FAILPOINT("ledger.write"))
        return ledger__set_err(l, LEDGER_EIO, "database or disk is full (failpoint ledger.write)");
    return 0;
}

/* Buffered audit rows (the hold that led to a booking, say) go first, in
 * their own cheap transaction, so the trail stays in order. */
static void audit_flush_before(ledger *l)
{
    if (ledger__front(l)->naudit && ledger_audit_flush(l))
        sm_warn("ledger: audit flush failed: %s", ledger__errmsg(l));
}

int ledger_booking_create(ledger *l, const char *show, const char *hold_ref,
                          const char *const *seats, size_t nseats, const char *payment_ref,
                          const char *by, int64_t now_ms, ledger_booking *out)
{
    ledger_booking_new nb = {.show = show,
                             .hold_ref = hold_ref,
                             .payment_ref = payment_ref,
                             .by = by,
                             .seats = seats,
                             .nseats = nseats,
                             .now_ms = now_ms};
    ledger_booking local;
    char *joined = NULL;
    int64_t id = 0;
    int rc;

    if (!out)
        out = &local;
    memset(out, 0, sizeof(*out));
    rc = booking_check(l, &nb, &joined);
    if (!rc) {
        audit_flush_before(l);
        rc = write_fault(l);
        if (!rc)
            rc = LEDGER__CALL(l, booking_create, &nb, &id, out);
    }
    if (!rc)
        rc = booking_describe(l, &nb, id, out);
    if (out == &local)
        ledger_booking_clear(&local);
    free(joined);
    return rc;
}

int ledger_booking_by_payment(ledger *l, const char *show, const char *payment_ref,
                              ledger_booking *out)
{
    memset(out, 0, sizeof(*out));
    if (!sm_valid_show_id(show) || !ledger__text_ok(payment_ref, LEDGER_PAYMENT_REF_MAX))
        return ledger__set_err(l, LEDGER_ENOTFOUND, "no such booking");
    return LEDGER__CALL(l, booking_by_payment, show, payment_ref, out);
}

int ledger_booking_by_hold(ledger *l, const char *show, const char *hold_ref, ledger_booking *out)
{
    memset(out, 0, sizeof(*out));
    if (!sm_valid_show_id(show) || !ledger__text_ok(hold_ref, LEDGER_HOLD_REF_MAX))
        return ledger__set_err(l, LEDGER_ENOTFOUND, "no such booking");
    return LEDGER__CALL(l, booking_by_hold, show, hold_ref, out);
}

int ledger_booking_get(ledger *l, const char *show, int64_t id, ledger_booking *out)
{
    memset(out, 0, sizeof(*out));
    if (!sm_valid_show_id(show) || id <= 0)
        return ledger__set_err(l, LEDGER_ENOTFOUND, "no such booking");
    return LEDGER__CALL(l, booking_get, show, id, out);
}

int ledger_booking_list(ledger *l, const char *show, ledger_booking **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    if (!sm_valid_show_id(show))
        return 0;
    return LEDGER__CALL(l, booking_list, show, out, n);
}

int ledger_booking_cancel(ledger *l, const char *show, int64_t id, const char *by, int64_t now_ms,
                          ledger_booking *out)
{
    ledger_booking local;
    int rc;

    if (!out)
        out = &local;
    memset(out, 0, sizeof(*out));
    if (!ledger__text_ok(by, LEDGER_BY_MAX))
        return ledger__set_err(l, LEDGER_EINVAL, "bad cancellation author");
    audit_flush_before(l);
    if (!sm_valid_show_id(show) || id <= 0)
        rc = ledger__set_err(l, LEDGER_ENOTFOUND, "no such booking");
    else if (!(rc = write_fault(l)))
        rc = LEDGER__CALL(l, booking_cancel, show, id, by, now_ms, out);
    if (out == &local)
        ledger_booking_clear(&local);
    return rc;
}

int ledger_booked_seats(ledger *l, const char *show,
                        void (*cb)(void *arg, const char *seat, int64_t booking_id), void *arg)
{
    if (!sm_valid_show_id(show))
        return 0;
    return LEDGER__CALL(l, booked_seats, show, cb, arg);
}

int ledger_booking_max_id(ledger *l, int64_t *out)
{
    *out = 0;
    return LEDGER__CALL(l, booking_max_id, out);
}

int ledger_booked_count(ledger *l, const char *show, int64_t *out)
{
    *out = 0;
    return LEDGER__CALL(l, booked_count, show, out);
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

/* Makes room for one more row: flushes a full buffer, and if the database
 * refuses writes, keeps the newest rows and counts the one dropped. */
static void audit_make_room(ledger *l)
{
    struct ledger__front *f = ledger__front(l);
    if (f->naudit < LEDGER_AUDIT_MAX || (!f->audit_buffer_only && !ledger_audit_flush(l)))
        return;
    audit_row_free(f, 0);
    memmove(&f->audit[0], &f->audit[1], (LEDGER_AUDIT_MAX - 1) * sizeof(f->audit[0]));
    memmove(&f->audit_mem[0], &f->audit_mem[1], (LEDGER_AUDIT_MAX - 1) * sizeof(f->audit_mem[0]));
    f->audit_mem[LEDGER_AUDIT_MAX - 1] = NULL;
    f->naudit--;
    if (f->audit_dropped++ % 1000 == 0)
        sm_warn("ledger: audit buffer full and flush failing (%s); dropped %llu rows",
                f->audit_buffer_only ? "the database is not answering" : ledger__errmsg(l),
                (unsigned long long)f->audit_dropped);
}

void ledger_audit(ledger *l, const char *what, const char *show, const char *ref, const char *seats,
                  const char *who, int64_t at_ms)
{
    const char *src[5] = {what ? what : "", show ? show : "", ref ? ref : "", seats ? seats : "",
                          who ? who : ""};
    size_t len[5], total = 0, i;
    struct ledger__front *f;
    ledger_audit_row *r;
    char *p;

    if (!l)
        return;
    f = ledger__front(l);
    audit_make_room(l);
    for (i = 0; i < 5; i++) {
        len[i] = capped_len(src[i], i == 3 ? LEDGER_AUDIT_SEATS_MAX : LEDGER_AUDIT_FIELD_MAX);
        total += len[i] + 1;
    }
    p = malloc(total);
    if (!p) {
        f->audit_dropped++;
        return;
    }
    f->audit_mem[f->naudit] = p;
    r = &f->audit[f->naudit];
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
    f->naudit++;
}

int ledger_audit_flush(ledger *l)
{
    struct ledger__front *f = ledger__front(l);
    size_t i;
    int rc;

    if (!f->naudit)
        return 0;
    rc = write_fault(l);
    if (!rc)
        rc = LEDGER__CALL(l, audit_write, f->audit, f->naudit);
    if (rc)
        return rc;
    for (i = 0; i < f->naudit; i++)
        audit_row_free(f, i);
    f->naudit = 0;
    return 0;
}

size_t ledger_audit_discard(ledger *l)
{
    struct ledger__front *f = ledger__front(l);
    size_t i, n = f->naudit;
    for (i = 0; i < n; i++)
        audit_row_free(f, i);
    f->naudit = 0;
    return n;
}

void ledger_audit_buffer_only(ledger *l)
{
    ledger__front(l)->audit_buffer_only = 1;
}

ledger_audit_batch *ledger_audit_take(ledger *l)
{
    struct ledger__front *f = ledger__front(l);
    ledger_audit_batch *b;

    if (!f->naudit || !(b = malloc(sizeof(*b))))
        return NULL;
    b->n = f->naudit;
    memcpy(b->rows, f->audit, f->naudit * sizeof(f->audit[0]));
    memcpy(b->mem, f->audit_mem, f->naudit * sizeof(f->audit_mem[0]));
    memset(f->audit_mem, 0, f->naudit * sizeof(f->audit_mem[0]));
    memset(f->audit, 0, f->naudit * sizeof(f->audit[0]));
    f->naudit = 0;
    return b;
}

void ledger_audit_give(ledger *l, ledger_audit_batch *b)
{
    size_t i;
    if (!b)
        return;
    for (i = 0; i < b->n; i++) {
        const ledger_audit_row *r = &b->rows[i];
        ledger_audit(l, r->what, r->show, r->ref, r->seats, r->who, r->at);
        free(b->mem[i]);
    }
    free(b);
}
