/*
 * store_hold.h - the arguments of hold.lua, built in one place for every
 * caller that holds seats: the WebSocket `hold` (ws.c), and `best` over
 * WebSocket and HTTP (best_op.c, api_best.c).
 *
 * A hold_who says who holds (the buyer), for how long, how many seats a hold
 * may have, and which client address the seats count against (the
 * per-address cap of addr_limits.h; hold.lua keeps one counter per address
 * and show). store_hold_run adds fresh candidate refs and the seats, and
 * runs the script.
 *
 * Not here: what a hold's answer means (ws.c, best_op.c read store_result).
 */
#ifndef SEATMAP_STORE_HOLD_H
#define SEATMAP_STORE_HOLD_H

#include "auth.h"
#include "iplimit.h"
#include "store.h"

#include <stddef.h>

#define STORE_HOLD_REFS 3 /* candidate refs per run: a taken one is skipped */

typedef struct hold_who {
    char buyer_id[AUTH_BUYER_ID_LEN + 1];
    long ttl_ms;                  /* a new hold's lifetime */
    int max_seats;                /* seats one hold may have */
    char ip_key[IPLIMIT_KEY_MAX]; /* the client's address key, "" : not counted */
    int ip_cap;                   /* seats the address may hold in a show, 0: no cap */
} hold_who;

/* Fills *w. ip_key NULL or "": the seats count against no address (staff
 * requests); ip_cap is then ignored. Strings are copied. */
void hold_who_init(hold_who *w, const char *buyer_id, long ttl_ms, int max_seats,
                   const char *ip_key, int ip_cap);

/* Runs hold.lua for show_id: adds seats[0..n) (the venue's ids; copied by
 * hiredis before the call returns) to the buyer's hold. As store_run: 0 and
 * cb is called once, later; else nothing was sent and cb is not called. */
int store_hold_run(store *st, const char *show_id, const hold_who *w, const char *const *seats,
                   size_t n, store_cb *cb, void *arg);

/* The sentence for hold.lua's hold_limit answer (res->detail "ip": the
 * address's cap, else the seats of one hold) into buf; returns buf. */
const char *store_hold_limit_message(const store_result *res, const hold_who *w, char *buf,
                                     size_t size);

/* 1 when res is hold_limit for the address's cap (not the hold's size). */
int store_hold_ip_capped(const store_result *res);

#endif
