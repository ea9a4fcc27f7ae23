/*
 * best.h - picking the best available seats ("4 seats together, the best
 * you have"), as docs/best-available.md describes.
 *
 * Pure: the pick reads a venue's geometry (venue.h) and a seat-state array
 * ('e' empty, anything else taken), plus an optional array of claims (seats
 * some request in flight is about to hold), and says which seats to ask for.
 * It never talks to Redis: holding the seats, and retrying when another
 * buyer wins the race, is best_op.c's job.
 *
 * The score: every seat has a cost, lower is better: its rank (the venue's
 * `rank` overrides, VENUE_RANK_DEFAULT when none) times BEST_RANK_STEP plus
 * its distance from the venue's focus (the stage's centre unless the venue
 * sets `focus`). A group costs the sum of its seats' costs, plus
 * BEST_ACCESSIBLE_PENALTY for every wheelchair space beyond those asked for,
 * so such spaces go to people who need them unless nothing else is left.
 *
 * Not here: the wire (ws.c, api_best.c), holds (best_op.c, store.h).
 */
#ifndef SEATMAP_BEST_H
#define SEATMAP_BEST_H

#include "venue.h"

#include <stddef.h>
#include <stdint.h>

/* The most seats one pick returns. */
#define BEST_MAX_SEATS 100
/* One rank outweighs any distance a venue can have (coordinates are within
 * +-1e6, so a seat is less than 3e6 from the focus, a group of 100 less than
 * 3e8). */
#define BEST_RANK_STEP 1e9
/* What each wheelchair space beyond the requested ones adds to a group's
 * cost: as much as one rank worse. */
#define BEST_ACCESSIBLE_PENALTY BEST_RANK_STEP

typedef struct best_index best_index;

/* Precomputes the venue's seat costs and runs (O(seats)); the venue must
 * outlive the index. NULL when out of memory. */
best_index *best_index_new(const venue *v);
void best_index_free(best_index *ix);
const venue *best_index_venue(const best_index *ix);
/* The cost of seat i (lower is better). */
double best_seat_cost(const best_index *ix, size_t i);

typedef struct best_request {
    size_t count;      /* seats wanted, 1..BEST_MAX_SEATS */
    long category;     /* category index, or -1 for any */
    long section;      /* section index, or -1 for any */
    size_t accessible; /* wheelchair spaces among them, 0..count */
    int together;      /* 1: all in one run, or fail; 0: fewest groups */
    /* 0, or up to this many units of distance added at random (from seed)
     * to each candidate group: retries after a lost race use it so that
     * processes racing for the same seats spread out instead of colliding
     * again. The same seed gives the same pick. */
    double jitter;
    uint64_t seed;
} best_request;

enum {
    BEST_OK = 0,
    BEST_EINVAL = -1,      /* a request out of range */
    BEST_ENOTOGETHER = -2, /* together: no run has `count` such seats side by side */
    BEST_ETOOFEW = -3,     /* fewer such empty seats (or wheelchair spaces) in all */
    BEST_ENOMEM = -4,
};

typedef struct best_result {
    size_t n;                       /* seats picked (count on success, else 0) */
    uint32_t seats[BEST_MAX_SEATS]; /* seat indexes, group by group, along the row */
    size_t groups;                  /* 1 when all sit together */
    double cost;                    /* of the whole pick */
    /* When the pick failed, what there is to be had with these filters (on
     * success the search stopped early, so these count only what it saw): */
    size_t largest;    /* the most seats together (with >= accessible wheelchair spaces) */
    size_t available;  /* empty seats in all */
    size_t wheelchair; /* empty wheelchair spaces in all */
} best_result;

/*
 * Picks the best `req->count` seats. states: one letter per seat, 'e' is
 * empty. claims: NULL, or one counter per seat; a seat whose counter is not
 * 0 counts as taken. Returns BEST_OK with res->seats filled, or a BEST_E*
 * code with res->largest/available/wheelchair telling what there is.
 *
 * Cost: the runs are visited best-first (by a lower bound of their seats'
 * cost) and the search stops at the first run that cannot beat the best
 * group found, so a pick on a show with good seats left reads a few runs;
 * at worst (nothing fits) it reads every seat once. A scattered pick repeats
 * the search per group.
 */
int best_pick(const best_index *ix, const char *states, const uint16_t *claims,
              const best_request *req, best_result *res);

/* Only counts: res->largest/available/wheelchair for these options, read
 * from every seat (a pick that finds seats stops early and counts less).
 * res->n is 0. */
void best_survey(const best_index *ix, const char *states, const uint16_t *claims,
                 const best_request *req, best_result *res);

#endif
