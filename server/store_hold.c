/*
 * store_hold.c - hold.lua's arguments (store_hold.h). The order is the
 * script's: buyer, ttl, max seats, STORE_HOLD_REFS refs, address key, cap,
 * seats.
 */
#include "store_hold.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HOLD_FIXED_ARGS (5 + STORE_HOLD_REFS)
#define HOLD_STACK_SEATS 128 /* more seats than this take a heap array */

void hold_who_init(hold_who *w, const char *buyer_id, long ttl_ms, int max_seats,
                   const char *ip_key, int ip_cap)
{
    snprintf(w->buyer_id, sizeof(w->buyer_id), "%s", buyer_id);
    w->ttl_ms = ttl_ms;
    w->max_seats = max_seats;
    snprintf(w->ip_key, sizeof(w->ip_key), "%s", ip_key ? ip_key : "");
    w->ip_cap = w->ip_key[0] && ip_cap > 0 ? ip_cap : 0;
}

int store_hold_run(store *st, const char *show_id, const hold_who *w, const char *const *seats,
                   size_t n, store_cb *cb, void *arg)
{
    const char *stack_args[HOLD_FIXED_ARGS + HOLD_STACK_SEATS];
    const char **args = stack_args;
    char ttl[24], max[24], cap[24], refs[STORE_HOLD_REFS][AUTH_REF_LEN + 1];
    size_t k;
    int i, na = 0, rc;

    if (n > HOLD_STACK_SEATS && !(args = malloc(sizeof(*args) * (HOLD_FIXED_ARGS + n))))
        return -1;
    snprintf(ttl, sizeof(ttl), "%ld", w->ttl_ms);
    snprintf(max, sizeof(max), "%d", w->max_seats);
    snprintf(cap, sizeof(cap), "%d", w->ip_cap);
    args[na++] = w->buyer_id;
    args[na++] = ttl;
    args[na++] = max;
    for (i = 0; i < STORE_HOLD_REFS; i++) {
        auth_random_ref(refs[i]);
        args[na++] = refs[i];
    }
    args[na++] = w->ip_key;
    args[na++] = cap;
    for (k = 0; k < n; k++)
        args[na++] = seats[k];
    rc = store_run(st, "hold", show_id, na, args, cb, arg);
    if (args != stack_args)
        free(args);
    return rc;
}

int store_hold_ip_capped(const store_result *res)
{
    return res->outcome == OUT_HOLD_LIMIT && strcmp(res->detail, "ip") == 0;
}

const char *store_hold_limit_message(const store_result *res, const hold_who *w, char *buf,
                                     size_t size)
{
    if (store_hold_ip_capped(res))
        snprintf(buf, size,
                 "your network address already holds the most seats allowed for this show "
                 "(%d per address; --max-held-per-ip): release some or let them expire",
                 w->ip_cap);
    else
        snprintf(buf, size, "a hold can have at most %d seats", w->max_seats);
    return buf;
}
