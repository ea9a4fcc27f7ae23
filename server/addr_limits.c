/*
 * addr_limits.c - per-address limits and the password gate (see addr_limits.h).
 */
#include "addr_limits.h"

#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LIMITS_ENTRIES 200000 /* keys per table: a few MB at most */
#define LIMITS_IDLE_MS 120000
#define LIMITS_SWEEP_MS 5000

typedef struct pw_wait {
    void (*start)(void *arg);
    void *arg;
} pw_wait;

struct limits {
    const config *cfg;
    iplimit *conns;  /* per address: connections, new-identity bucket */
    iplimit *logins; /* per address and per (user, address): failures */
    iplimit *pw;     /* per address: password checks running or waiting */
    int total;       /* counted connections */
    int64_t swept_at;
    int pw_active;
    pw_wait pw_queue[LIMITS_PW_QUEUE];
    size_t pw_head, pw_count;
    limits_counts stats;
};

limits *limits_new(const config *cfg)
{
    limits *l = calloc(1, sizeof(*l));
    if (!l)
        return NULL;
    l->cfg = cfg;
    l->conns = iplimit_new(LIMITS_ENTRIES, LIMITS_IDLE_MS);
    l->logins = iplimit_new(LIMITS_ENTRIES, LIMITS_LOGIN_WINDOW_MS);
    l->pw = iplimit_new(LIMITS_PW_QUEUE + LIMITS_PW_PARALLEL + 1, 0);
    if (!l->conns || !l->logins || !l->pw) {
        limits_free(l);
        return NULL;
    }
    return l;
}

void limits_free(limits *l)
{
    if (!l)
        return;
    iplimit_free(l->conns);
    iplimit_free(l->logins);
    iplimit_free(l->pw);
    free(l);
}

limits_counts *limits_stats(limits *l)
{
    return &l->stats;
}

int limits_conns(const limits *l)
{
    return l->total;
}

void limits_sweep(limits *l, int64_t now_ms)
{
    if (now_ms - l->swept_at < LIMITS_SWEEP_MS)
        return;
    l->swept_at = now_ms;
    iplimit_sweep(l->conns, now_ms);
    iplimit_sweep(l->logins, now_ms);
    iplimit_sweep(l->pw, now_ms);
}

/* ---- connections ---- */

int limits_conn_accept(limits *l, const char *addr)
{
    char key[IPLIMIT_KEY_MAX];
    if (l->total >= l->cfg->max_conns + LIMITS_CONN_GRACE) {
        l->stats.conns_refused++;
        return -1;
    }
    if (!l->cfg->ip_limits)
        return 0;
    iplimit_key(addr, key);
    if (iplimit_conns(l->conns, key) >= l->cfg->max_conns_per_ip + LIMITS_CONN_GRACE) {
        l->stats.conns_refused++;
        return -1;
    }
    return 0;
}

int limits_conn_open(limits *l, const char *addr, char key[IPLIMIT_KEY_MAX])
{
    int n;
    iplimit_key(addr, key);
    if ((n = iplimit_conn_open(l->conns, key)) < 0) {
        key[0] = '\0'; /* the table is full: not counted, and refused */
        l->stats.conns_refused++;
        return 1;
    }
    l->total++;
    if (l->total > l->cfg->max_conns || (l->cfg->ip_limits && n > l->cfg->max_conns_per_ip)) {
        l->stats.conns_refused++;
        return 1;
    }
    return 0;
}

void limits_conn_close(limits *l, const char *key)
{
    if (!key[0])
        return;
    iplimit_conn_close(l->conns, key);
    l->total--;
}

/* ---- buyers and holds ---- */

int limits_new_buyer(limits *l, const char *addr, int64_t *wait_ms)
{
    char key[IPLIMIT_KEY_MAX];
    double per_minute = l->cfg->new_buyers_per_ip;
    *wait_ms = 0;
    if (!l->cfg->ip_limits)
        return 1;
    iplimit_key(addr, key);
    if (iplimit_take(l->conns, key, per_minute / 60.0, per_minute, sm_mono_ms(), wait_ms))
        return 1;
    l->stats.buyers_refused++;
    return 0;
}

int limits_held_cap(const limits *l, const char *addr, char key[IPLIMIT_KEY_MAX])
{
    key[0] = '\0';
    if (!l->cfg->ip_limits || !addr[0])
        return 0;
    iplimit_key(addr, key);
    return l->cfg->max_held_per_ip;
}

/* ---- sign-in ---- */

static void pair_key(const char *user, const char *addr, char *out, size_t outlen)
{
    char key[IPLIMIT_KEY_MAX];
    iplimit_key(addr, key);
    /* a newline cannot be in an address: the two parts cannot run together */
    snprintf(out, outlen, "%s\n%s", key, user);
}

int64_t limits_login_wait(limits *l, const char *user, const char *addr)
{
    char key[IPLIMIT_KEY_MAX], pair[IPLIMIT_KEY_MAX + 80];
    int64_t now = sm_mono_ms(), a, b;
    iplimit_key(addr, key);
    pair_key(user, addr, pair, sizeof(pair));
    a = iplimit_locked(l->logins, key, now);
    b = iplimit_locked(l->logins, pair, now);
    if (a || b)
        l->stats.logins_throttled++;
    return a > b ? a : b;
}

int64_t limits_login_failed(limits *l, const char *user, const char *addr)
{
    char key[IPLIMIT_KEY_MAX], pair[IPLIMIT_KEY_MAX + 80];
    int64_t now = sm_mono_ms(), a, b;
    iplimit_key(addr, key);
    pair_key(user, addr, pair, sizeof(pair));
    a = iplimit_fail(l->logins, key, LIMITS_LOGIN_FAILS_ADDR, LIMITS_LOGIN_WINDOW_MS,
                     LIMITS_LOGIN_LOCK_MS, LIMITS_LOGIN_LOCK_MAX_MS, now);
    b = iplimit_fail(l->logins, pair, LIMITS_LOGIN_FAILS_USER, LIMITS_LOGIN_WINDOW_MS,
                     LIMITS_LOGIN_LOCK_MS, LIMITS_LOGIN_LOCK_MAX_MS, now);
    return a > b ? a : b;
}

void limits_login_ok(limits *l, const char *user, const char *addr)
{
    char pair[IPLIMIT_KEY_MAX + 80];
    pair_key(user, addr, pair, sizeof(pair));
    iplimit_clear(l->logins, pair);
}

/* ---- the password gate ---- */

int limits_pw_run(limits *l, const char *addr, void (*start)(void *arg), void *arg)
{
    char key[IPLIMIT_KEY_MAX];
    iplimit_key(addr, key);
    if (iplimit_conns(l->pw, key) >= LIMITS_PW_PER_ADDR) {
        l->stats.pw_busy++;
        return -2;
    }
    if (l->pw_active >= LIMITS_PW_PARALLEL && l->pw_count == LIMITS_PW_QUEUE) {
        l->stats.pw_busy++;
        return -1;
    }
    if (iplimit_conn_open(l->pw, key) < 0) { /* cannot happen: sized for every slot */
        l->stats.pw_busy++;
        return -1;
    }
    if (l->pw_active < LIMITS_PW_PARALLEL) {
        l->pw_active++;
        start(arg);
        return 0;
    }
    l->pw_queue[(l->pw_head + l->pw_count++) % LIMITS_PW_QUEUE] = (pw_wait){start, arg};
    return 0;
}

void limits_pw_done(limits *l, const char *addr)
{
    char key[IPLIMIT_KEY_MAX];
    pw_wait w;

    iplimit_key(addr, key);
    iplimit_conn_close(l->pw, key);
    if (!l->pw_count) {
        if (l->pw_active > 0)
            l->pw_active--;
        return;
    }
    /* the slot passes straight to the next one waiting */
    w = l->pw_queue[l->pw_head];
    l->pw_head = (l->pw_head + 1) % LIMITS_PW_QUEUE;
    l->pw_count--;
    w.start(w.arg);
}
