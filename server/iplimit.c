/*
 * iplimit.c - per-address counters (see iplimit.h).
 */
#include "iplimit.h"

#include "map.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct entry {
    int conns;
    double tokens; /* < 0: bucket not used yet */
    int64_t tokens_at;
    int fails;
    int64_t fails_since;
    int64_t locked_until;
    int64_t lock_ms; /* the last lockout, doubled at the next */
    int64_t seen;
} entry;

struct iplimit {
    sm_map m;
    size_t max;
    int64_t idle_ms;
    int64_t now; /* latest time seen, for entries made by conn_open */
};

iplimit *iplimit_new(size_t max_entries, int64_t idle_ms)
{
    iplimit *t = calloc(1, sizeof(*t));
    if (!t)
        return NULL;
    sm_map_init(&t->m);
    t->max = max_entries;
    t->idle_ms = idle_ms;
    return t;
}

void iplimit_free(iplimit *t)
{
    size_t i = 0;
    const char *k;
    void *v;
    if (!t)
        return;
    while (sm_map_next(&t->m, &i, &k, &v))
        free(v);
    sm_map_free(&t->m);
    free(t);
}

size_t iplimit_size(const iplimit *t)
{
    return t->m.used;
}

void iplimit_key(const char *addr, char out[IPLIMIT_KEY_MAX])
{
    unsigned char b[16];
    char text[INET6_ADDRSTRLEN];
    struct in_addr v4;

    if (inet_pton(AF_INET6, addr, b) == 1) {
        static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
        if (memcmp(b, mapped, 12) == 0) {
            memcpy(&v4, b + 12, 4);
            inet_ntop(AF_INET, &v4, out, IPLIMIT_KEY_MAX);
            return;
        }
        memset(b + 8, 0, 8); /* the /64 */
        inet_ntop(AF_INET6, b, text, sizeof(text));
        snprintf(out, IPLIMIT_KEY_MAX, "%s/64", text);
        return;
    }
    snprintf(out, IPLIMIT_KEY_MAX, "%s", addr);
}

static entry *find(const iplimit *t, const char *key)
{
    return sm_map_get(&t->m, key);
}

/* The key's entry, made when missing; NULL when the table is full. */
static entry *get(iplimit *t, const char *key, int64_t now)
{
    entry *e = find(t, key);
    if (e)
        return e;
    if (t->m.used >= t->max) {
        iplimit_sweep(t, now);
        if (t->m.used >= t->max)
            return NULL;
    }
    e = calloc(1, sizeof(*e));
    if (!e)
        return NULL;
    e->tokens = -1;
    e->seen = now;
    if (sm_map_set(&t->m, key, e)) {
        free(e);
        return NULL;
    }
    return e;
}

int iplimit_conn_open(iplimit *t, const char *key)
{
    entry *e = get(t, key, t->now);
    if (!e)
        return -1;
    return ++e->conns;
}

void iplimit_conn_close(iplimit *t, const char *key)
{
    entry *e = find(t, key);
    if (e && e->conns > 0) {
        e->conns--;
        e->seen = t->now;
    }
}

int iplimit_conns(const iplimit *t, const char *key)
{
    const entry *e = find(t, key);
    return e ? e->conns : 0;
}

int iplimit_take(iplimit *t, const char *key, double rate, double burst, int64_t now_ms,
                 int64_t *wait_ms)
{
    entry *e;
    if (now_ms > t->now)
        t->now = now_ms;
    e = get(t, key, now_ms);
    if (wait_ms)
        *wait_ms = 1000;
    if (!e)
        return 0;
    e->seen = now_ms;
    if (e->tokens < 0) {
        e->tokens = burst;
    } else {
        e->tokens += (double)(now_ms - e->tokens_at) * rate / 1000.0;
        if (e->tokens > burst)
            e->tokens = burst;
    }
    e->tokens_at = now_ms;
    if (e->tokens >= 1) {
        e->tokens -= 1;
        return 1;
    }
    if (wait_ms)
        *wait_ms = (int64_t)((1 - e->tokens) * 1000.0 / rate) + 1;
    return 0;
}

int64_t iplimit_locked(const iplimit *t, const char *key, int64_t now_ms)
{
    const entry *e = find(t, key);
    return e && e->locked_until > now_ms ? e->locked_until - now_ms : 0;
}

int64_t iplimit_fail(iplimit *t, const char *key, int threshold, int64_t window_ms, int64_t lock_ms,
                     int64_t lock_max_ms, int64_t now_ms)
{
    entry *e;
    if (now_ms > t->now)
        t->now = now_ms;
    if (!(e = get(t, key, now_ms)))
        return lock_ms; /* full: treat as locked rather than forget */
    e->seen = now_ms;
    if (e->fails_since && now_ms - e->fails_since > window_ms) {
        e->fails = 0; /* a quiet window: start over */
        e->lock_ms = 0;
    }
    if (!e->fails)
        e->fails_since = now_ms;
    if (++e->fails < threshold)
        return 0;
    e->lock_ms = e->lock_ms ? e->lock_ms * 2 : lock_ms;
    if (e->lock_ms > lock_max_ms)
        e->lock_ms = lock_max_ms;
    e->locked_until = now_ms + e->lock_ms;
    /* After a lockout, the next failure in the window locks again, twice
     * as long. */
    e->fails = threshold - 1;
    e->fails_since = now_ms;
    return e->lock_ms;
}

void iplimit_clear(iplimit *t, const char *key)
{
    entry *e = find(t, key);
    if (e) {
        e->fails = 0;
        e->lock_ms = 0;
        e->locked_until = 0;
    }
}

void iplimit_sweep(iplimit *t, int64_t now_ms)
{
    size_t i = 0;
    const char *k;
    void *v;

    if (now_ms > t->now)
        t->now = now_ms;
    while (sm_map_next(&t->m, &i, &k, &v)) {
        entry *e = v;
        /* A lockout is remembered for as long as it would double. */
        int64_t keep = e->seen + t->idle_ms + e->lock_ms * 2;
        if (e->conns == 0 && e->locked_until <= now_ms && keep <= now_ms) {
            sm_map_del(&t->m, k);
            free(e);
        }
    }
}
