/*
 * rcheck.h - what the benchmark reads from and writes to Redis directly:
 * the double-hold audit of a show after the holds scenario, and the
 * unrelated keys with TTLs that the expiry scenario loads.
 *
 * Uses hiredis synchronously: it runs before or after the measured window,
 * never during it. Not here: anything the server does.
 */
#ifndef SEATMAP_BENCH_RCHECK_H
#define SEATMAP_BENCH_RCHECK_H

#include <stddef.h>

typedef struct rcheck_result {
    long seat_keys;       /* sm:{S}:seat:* keys */
    long held_seats;      /* of them "h:<ref>" */
    long booked_seats;    /* of them "b:<id>" */
    long holds;           /* sm:{S}:hold:* hashes */
    long dangling;        /* seat key naming a ref whose hold does not list it */
    long in_two_holds;    /* seat listed by two holds */
    long held_and_booked; /* seat held and in sm:{S}:booked */
} rcheck_result;

/* Total of the three kinds of double hold. */
long rcheck_doubles(const rcheck_result *r);

/* Audits show S. 0, or -1 with a sentence in err. */
int rcheck_audit(const char *host, int port, const char *show, rcheck_result *r, char *err,
                 size_t errlen);

/* Loads n keys "bench:junk:{<show>}:<i>" with TTLs spread over min_s..max_s
 * seconds: in the show's slot, so that on a Redis Cluster they load the
 * master that expires the show's keys (host:port must be that master). */
int rcheck_load_junk(const char *host, int port, const char *show, long n, int min_s, int max_s,
                     char *err, size_t errlen);

#endif
