/*
 * ledger_engine.c - the bottom of the ledger: the handle (which engine, the
 * engine's state, the last error message) and the helpers that ledger.c,
 * ledger_accounts.c and the engines share: text limits and seat lists in
 * the form the engines store them. Everything here is engine-independent
 * and calls no other ledger module by name, so any of them may use it.
 *
 * Ownership: the handle is made by ledger_open (ledger.c) with ledger__new
 * and ended by ledger_close with ledger__free. The engine's state belongs to
 * the engine (set in its open, freed in its close); the front belongs to
 * ledger.c. This file frees neither.
 *
 * Not here: choosing the engine, argument checks, the audit buffer and the
 * secret cache (ledger.c, ledger_accounts.c), storage (the engines).
 */
#include "ledger_engine.h"

#include "metrics.h"
#include "util.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct ledger {
    const ledger_engine *engine;
    void *state;                 /* the engine's, from its open until its close */
    struct ledger__front *front; /* ledger.c's */
    char errmsg[LEDGER__ERRMSG_MAX];
};

/* ---- the handle ---- */

ledger *ledger__new(const ledger_engine *engine, struct ledger__front *front)
{
    ledger *l = calloc(1, sizeof(*l));
    if (!l)
        return NULL;
    l->engine = engine;
    l->front = front;
    return l;
}

void ledger__free(ledger *l)
{
    free(l);
}

struct ledger__front *ledger__front(ledger *l)
{
    return l->front;
}

/* The slot list must name every member but name: each slot is one
 * function pointer, so the sizes agree exactly when none is left out. */
#define SLOT_SIZE(op) +sizeof(((ledger_engine *)0)->op)
_Static_assert(sizeof(ledger_engine) == sizeof(const char *) LEDGER__ENGINE_SLOTS(SLOT_SIZE),
               "LEDGER__ENGINE_SLOTS must list every operation of ledger_engine");
#undef SLOT_SIZE

const char *ledger__engine_missing(const ledger_engine *engine)
{
#define SLOT_CHECK(op)                                                                             \
    if (!engine->op)                                                                               \
        return #op;
    LEDGER__ENGINE_SLOTS(SLOT_CHECK)
#undef SLOT_CHECK
    return NULL;
}

int ledger__unsupported(ledger *l, const char *op)
{
    return ledger__set_err(l, LEDGER_EIO, "the %s database engine cannot do %s (not implemented)",
                           l->engine->name, op);
}

const ledger_engine *ledger__engine(ledger *l)
{
    return l->engine;
}

void *ledger__state(ledger *l)
{
    return l->state;
}

void ledger__set_state(ledger *l, void *state)
{
    l->state = state;
}

int ledger__set_err(ledger *l, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(l->errmsg, sizeof(l->errmsg), fmt, ap);
    va_end(ap);
    /* failures of the database itself, not answers like "no such row" */
    if (code == LEDGER_EIO || code == LEDGER_EBUSY)
        metrics_inc(M_DB_ERRORS, code == LEDGER_EBUSY ? "busy" : "io");
    return code;
}

const char *ledger__errmsg(ledger *l)
{
    return l->errmsg;
}

int ledger__text_ok(const char *s, size_t max)
{
    return s && s[0] && strlen(s) <= max;
}

/* ---- seat lists ---- */

int ledger__seats_split(ledger_booking *b, const char *text)
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

int ledger__seats_join(const char *const *seats, size_t n, char **out)
{
    sm_buf b;
    size_t i;

    *out = NULL;
    sm_buf_init(&b, n * (SM_SEAT_ID_MAX + 1) + 1);
    for (i = 0; i < n; i++) {
        if ((i && sm_buf_addc(&b, ' ')) || sm_buf_adds(&b, seats[i])) {
            sm_buf_free(&b);
            return -1;
        }
    }
    *out = n ? sm_buf_steal(&b, NULL) : strdup("");
    return *out ? 0 : -1;
}

/* ---- bookings ---- */

void ledger__booking_clear(ledger_booking *b)
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

void ledger__booking_list_free(ledger_booking *list, size_t n)
{
    size_t i;
    if (!list)
        return;
    for (i = 0; i < n; i++)
        ledger__booking_clear(&list[i]);
    free(list);
}

void ledger__stats_add(ledger_delivery_counts *out, const char *status, int64_t n)
{
    if (strcmp(status, "pending") == 0)
        out->pending = n;
    else if (strcmp(status, "failed") == 0)
        out->failed = n;
    else if (strcmp(status, "dead") == 0)
        out->dead = n;
    else if (strcmp(status, "ok") == 0)
        out->ok = n;
}
