/*
 * bench.h - shared state of the seatmap load generator: options, the
 * per-connection bookkeeping of watchers and buyers, and the scenarios.
 *
 * The generator is one thread on one epoll loop (wsc.h). Watchers hello and
 * watch a show and check every delta; buyers hello and make holds and
 * releases. Each change the generator makes is stamped with its send time
 * per seat, and watchers match each (seat, state) of a delta to the most
 * recent change of that seat to get the change-to-arrival delay.
 *
 * Not here: the server. Everything is measured from the client side, plus
 * the server's CPU and RSS from /proc.
 */
#ifndef SEATMAP_BENCH_H
#define SEATMAP_BENCH_H

#include <stdint.h>
#include <sys/types.h>

#include "rcheck.h"
#include "seats.h"
#include "stats.h"
#include "wsc.h"

/* Requests a buyer may have in flight. */
#define BENCH_PEND_MAX 16
/* Seats in one hold request of the holds scenario. */
#define BENCH_HOLD_SEATS_MAX 8
/* Parsed deltas remembered (watchers get the same bytes, parsed once). */
#define BENCH_DCACHE 64
/* Connections being opened at once. */
#define BENCH_MAX_CONNECTING 256

enum bench_role { ROLE_WATCHER = 1, ROLE_BUYER = 2 };
enum bench_kind { K_HELLO = 1, K_WATCH, K_HOLD, K_RELEASE, K_BEST, K_PRELOAD };

typedef struct bench_opts {
    const char *scenario;
    const char *host;
    int port;
    const char *show;
    long watchers; /* fanout, expiry */
    long buyers;   /* fanout, holds */
    long rate;     /* fanout: changes per second */
    double duration, warmup;
    int hold_ms;    /* fanout: how long a seat stays held */
    int hold_seats; /* holds: seats per hold, 1..BENCH_HOLD_SEATS_MAX */
    long pool;      /* holds: contended seats */
    long holds;     /* expiry: single-seat holds, one buyer each */
    long junk;      /* expiry: unrelated keys with TTLs */
    long joiners;   /* snapshot: watchers joining at once */
    long snaps;     /* snapshot: sequential snapshots timed */
    long conns;     /* idle */
    pid_t server_pid, redis_pid;
    const char *redis_host;
    int redis_port;
    const char *label;
    long preload;        /* best: seats held (at random) before measuring */
    long count;          /* best: seats per best request */
    const char *section; /* best: ask in this section only (NULL: anywhere) */
    int port2;           /* best: a second seatmapd; odd buyers connect there */
    const char *wire;    /* the subprotocol: "seatmap.v1" (default) or "seatmap.v2" */
} bench_opts;

typedef struct watcher {
    int64_t seq;           /* last seq seen, -1 before the snapshot */
    int64_t watch_sent_us; /* when the last watch went out */
    uint32_t next_id;
    uint8_t ready;    /* snapshot received */
    uint8_t measured; /* had its snapshot when the window opened */
    uint32_t gaps, ooo, snaps;
    uint64_t lost_ops;
    uint64_t arrivals; /* matched arrivals of measured changes */
} watcher;

typedef struct pend {
    uint32_t id;
    uint8_t kind, n;
    int32_t aux; /* fanout: slot in the held ring */
    int32_t seats[BENCH_HOLD_SEATS_MAX];
    int64_t t;
} pend;

typedef struct buyer {
    uint32_t next_id;
    uint8_t ready, busy, npend, ncur;
    uint16_t held;
    pend pend[BENCH_PEND_MAX];
    int32_t cur[BENCH_HOLD_SEATS_MAX]; /* holds: seats of the current hold */
} buyer;

/* The two most recent changes of a seat made by the generator. */
typedef struct seat_rec {
    int64_t t[2]; /* send time, or deadline for expiry, unix us */
    char st[2];   /* state the change leads to: 'p' or 'e'; 0 = none */
    uint8_t win[2];
    int32_t holder; /* holds: buyer that got an ok and has not sent a release */
} seat_rec;

typedef struct dentry {
    int64_t from, seq;
    uint32_t len, n, cap, nwin;
    uint32_t nseats; /* seats the delta names, measured or not */
    char *payload;
    int64_t *t; /* reference times of the measured entries */
} dentry;

typedef struct held_slot {
    int32_t seat, buyer;
    int64_t t;
    uint8_t state; /* 0 free, 1 sent, 2 ok, 3 dead */
} held_slot;

typedef struct bench {
    bench_opts o;
    wsc_loop loop;
    seat_list seats;
    seat_rec *rec;
    long max_seats;

    wsc_conn *wc;
    watcher *w;
    long nw, nw_opened, nw_target, nw_ready, nw_closed;
    int auto_watch;

    wsc_conn *bc;
    buyer *b;
    long nb, nb_opened, nb_target, nb_ready, nb_closed;

    long connect_fail;
    const char *first_close;

    /* measurement window */
    int measuring;
    int64_t win_start, win_end;
    hist lat;      /* change -> arrival, or deadline -> arrival */
    hist rtt_hold; /* holds: request -> reply */
    hist rtt_rel;
    hist snap_time; /* snapshot: watch -> snapshot */
    uint64_t unmatched, snap_bad, errors, deltas, delta_seats;
    uint64_t wdelta_bytes, wdelta_seats; /* deltas received by ready watchers: bytes, seats */
    uint32_t snap_bytes;
    int64_t last_snap_us;
    char first_error[160];

    /* delta cache */
    dentry dc[BENCH_DCACHE];
    unsigned dc_next;
    uint64_t dc_hits, dc_miss;

    /* change generator (fanout) */
    held_slot *ring;
    long ring_cap, ring_head, ring_tail;
    long next_seat, next_buyer;
    int64_t gen_start;
    uint64_t gen_done, gen_skipped;
    uint64_t changes_win; /* successful changes sent in the window */

    /* outcomes */
    uint64_t hold_ok, hold_unavailable, hold_limit, hold_rate, hold_other;
    uint64_t rel_ok, rel_err, pairs_win, ops_win;
    uint64_t client_doubles;
    int stopping;

    /* best */
    hist rtt_best;
    uint64_t best_ok, best_unavailable, best_other, best_retries, best_ops_win, best_ok_win;
    long preload_left; /* seats still to preload */

    /* expiry */
    uint64_t exp_expected;
    int64_t exp_last_deadline;
} bench;

/* Prepares b->loop for b->o.host:port. 0 or -1. */
int bench_init(bench *b);
/* Each scenario prints its result line; 0 when it measured something, -1
 * when the tool could not, 2 (holds) when a double hold was found. */
int bench_fanout(bench *b);
int bench_holds(bench *b);
int bench_expiry(bench *b);
int bench_snapshot(bench *b);
int bench_idle(bench *b);
int bench_best(bench *b);

#endif
