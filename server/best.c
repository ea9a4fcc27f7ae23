/*
 * best.c - the pick of best.h: seat costs precomputed once per venue, then
 * one pass over the seat states per group picked.
 *
 * A pass walks the seats in index order. The seats of one run have
 * consecutive indexes, so the usable seats (empty, not claimed, of the
 * category and section asked for, not already picked) form "segments":
 * maximal stretches of a run. A window of g seats slides along each segment
 * keeping the sum of its costs and its number of wheelchair spaces, and the
 * cheapest window that has enough wheelchair spaces wins (the first one
 * found on a tie, so the answer is deterministic).
 */
#include "best.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* A run (venue.h): its seats, and a lower bound of any of its seats' cost. */
typedef struct best_run {
    size_t start, len;
    uint32_t min_rank; /* rank - VENUE_RANK_MIN */
    double min_dist;
} best_run;

struct best_index {
    const venue *v;
    const venue_seat *seat;
    size_t n;
    double *dist; /* from the focus */
    best_run *runs;
    uint32_t *order; /* run numbers, best (lowest bound) first */
    size_t nruns;
};

static const best_run *sort_runs; /* qsort has no context argument */

static int by_bound(const void *a, const void *b)
{
    const best_run *x = &sort_runs[*(const uint32_t *)a], *y = &sort_runs[*(const uint32_t *)b];
    if (x->min_rank != y->min_rank)
        return x->min_rank < y->min_rank ? -1 : 1;
    if (x->min_dist != y->min_dist)
        return x->min_dist < y->min_dist ? -1 : 1;
    return x->start < y->start ? -1 : 1;
}

/* The runs with their bounds, and their order. */
static int index_runs(best_index *ix)
{
    size_t i, nr = ix->n ? (size_t)ix->seat[ix->n - 1].run + 1 : 0;

    ix->runs = calloc(nr ? nr : 1, sizeof(*ix->runs));
    ix->order = malloc((nr ? nr : 1) * sizeof(*ix->order));
    if (!ix->runs || !ix->order)
        return -1;
    ix->nruns = nr;
    for (i = 0; i < ix->n; i++) {
        best_run *r = &ix->runs[ix->seat[i].run];
        uint32_t rank = (uint32_t)(ix->seat[i].rank - VENUE_RANK_MIN);
        if (r->len == 0) {
            r->start = i;
            r->min_rank = rank;
            r->min_dist = ix->dist[i];
        }
        r->len++;
        if (rank < r->min_rank)
            r->min_rank = rank;
        if (ix->dist[i] < r->min_dist)
            r->min_dist = ix->dist[i];
    }
    for (i = 0; i < nr; i++)
        ix->order[i] = (uint32_t)i;
    sort_runs = ix->runs;
    qsort(ix->order, nr, sizeof(*ix->order), by_bound);
    sort_runs = NULL;
    return 0;
}

best_index *best_index_new(const venue *v)
{
    best_index *ix = calloc(1, sizeof(*ix));
    double fx, fy;
    size_t i;

    if (!ix)
        return NULL;
    ix->v = v;
    ix->seat = venue_seats(v);
    ix->n = venue_seat_count(v);
    ix->dist = malloc((ix->n ? ix->n : 1) * sizeof(*ix->dist));
    if (!ix->dist) {
        free(ix);
        return NULL;
    }
    venue_focus(v, &fx, &fy);
    for (i = 0; i < ix->n; i++) {
        const venue_seat *s = &ix->seat[i];
        ix->dist[i] = hypot((double)s->x - fx, (double)s->y - fy);
    }
    if (index_runs(ix)) {
        best_index_free(ix);
        return NULL;
    }
    return ix;
}

void best_index_free(best_index *ix)
{
    if (!ix)
        return;
    free(ix->dist);
    free(ix->runs);
    free(ix->order);
    free(ix);
}

const venue *best_index_venue(const best_index *ix)
{
    return ix->v;
}

double best_seat_cost(const best_index *ix, size_t i)
{
    return i < ix->n ? (double)(ix->seat[i].rank - VENUE_RANK_MIN) * BEST_RANK_STEP + ix->dist[i]
                     : HUGE_VAL;
}

/* One pass: what it looks for, and what it found. */
typedef struct pass {
    const best_index *ix;
    const char *states;
    const uint16_t *claims;
    const uint8_t *taken; /* seats this pick already has, or NULL */
    const best_request *rq;
    size_t g;         /* window size */
    size_t need;      /* wheelchair spaces the window must have */
    size_t acc_allow; /* wheelchair spaces it may have without a penalty */
    /* found */
    long start;    /* the best window's first seat, -1 when none */
    uint64_t tier; /* its ranks (each above the best counts) plus penalties */
    double cost;   /* its distance */
    size_t acc;    /* its wheelchair spaces */
    size_t largest, largest_plain, available, wheelchair;
    int survey; /* read every run, whatever was found */
} pass;

static int usable(const pass *p, size_t i)
{
    const venue_seat *s = &p->ix->seat[i];
    return p->states[i] == 'e' && (!p->claims || !p->claims[i]) && (!p->taken || !p->taken[i]) &&
           (p->rq->category < 0 || s->category == p->rq->category) &&
           (p->rq->section < 0 || s->section == p->rq->section);
}

/* Ranks first; then distance, where a difference within rounding is a tie
 * (the first window found wins). */
static int better(uint64_t tier, double cost, const pass *p)
{
    if (p->start < 0 || tier != p->tier)
        return p->start < 0 || tier < p->tier;
    return cost < p->cost - (1e-9 * p->cost + 1e-9);
}

/* A segment of len usable seats with acc wheelchair spaces has ended. */
static void segment_end(pass *p, size_t len, size_t acc)
{
    if (len > p->largest_plain)
        p->largest_plain = len;
    if (acc >= p->rq->accessible && len > p->largest)
        p->largest = len;
}

/* A random amount in [0, jitter) for the window ending at seat i: a hash
 * of the seed and i (splitmix64), so the pick is a function of its inputs. */
static double jitter(const best_request *rq, size_t i)
{
    uint64_t z = rq->seed + 0x9e3779b97f4a7c15ULL * (uint64_t)(i + 1);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    z ^= z >> 31;
    return rq->jitter * (double)(z >> 11) / 9007199254740992.0;
}

/* 1 when no window of run r can beat the best one found: the runs come
 * best-first, so no later run can either. */
static int beyond(const pass *p, const best_run *r)
{
    uint64_t tier = (uint64_t)p->g * r->min_rank;
    if (p->start < 0 || p->survey)
        return 0;
    return tier > p->tier || (tier == p->tier && (double)p->g * r->min_dist >= p->cost);
}

/* Slides the window along one run. */
static void scan_run(pass *p, const best_run *r)
{
    const best_index *ix = p->ix;
    const venue_seat *seat = ix->seat;
    size_t i, len = 0, seg_acc = 0, win_acc = 0;
    uint64_t rsum = 0;
    double sum = 0;

    for (i = r->start; i < r->start + r->len; i++) {
        if (!usable(p, i)) {
            if (len)
                segment_end(p, len, seg_acc);
            len = seg_acc = win_acc = 0;
            rsum = 0;
            sum = 0;
            continue;
        }
        p->available++;
        p->wheelchair += seat[i].accessible;
        len++;
        seg_acc += seat[i].accessible;
        win_acc += seat[i].accessible;
        rsum += (uint64_t)(seat[i].rank - VENUE_RANK_MIN);
        sum += ix->dist[i];
        if (len > p->g) {
            win_acc -= seat[i - p->g].accessible;
            rsum -= (uint64_t)(seat[i - p->g].rank - VENUE_RANK_MIN);
            sum -= ix->dist[i - p->g];
        }
        if (len >= p->g && win_acc >= p->need) {
            uint64_t tier = rsum + (win_acc > p->acc_allow ? win_acc - p->acc_allow : 0);
            double c = p->rq->jitter > 0 ? sum + jitter(p->rq, i) : sum;
            if (better(tier, c, p)) {
                p->tier = tier;
                p->cost = c;
                p->start = (long)(i + 1 - p->g);
                p->acc = win_acc;
            }
        }
    }
    if (len)
        segment_end(p, len, seg_acc);
}

/* The runs best-first, until none can beat the best window found. The counts
 * (available, largest, ...) cover every seat only when nothing was found. */
static void run_pass(pass *p)
{
    const best_index *ix = p->ix;
    size_t ri;

    p->start = -1;
    p->cost = HUGE_VAL;
    p->largest = p->largest_plain = p->available = p->wheelchair = 0;
    for (ri = 0; ri < ix->nruns; ri++) {
        const best_run *r = &ix->runs[ix->order[ri]];
        if (beyond(p, r))
            break;
        scan_run(p, r);
    }
}

static void take(best_result *res, const pass *p, uint8_t *taken)
{
    size_t k;
    for (k = 0; k < p->g; k++) {
        size_t i = (size_t)p->start + k;
        res->seats[res->n++] = (uint32_t)i;
        if (taken)
            taken[i] = 1;
    }
    res->groups++;
    res->cost += (double)p->tier * BEST_RANK_STEP + p->cost;
}

static void stats(best_result *res, const pass *p)
{
    res->largest = p->largest;
    res->available = p->available;
    res->wheelchair = p->wheelchair;
}

/* Fewest groups: the largest group that can be had, at its best place, then
 * the same for the rest. */
static int pick_scattered(pass *p, best_result *res)
{
    size_t r = p->rq->count, acc_rem = p->rq->accessible;
    size_t g = p->largest_plain < r ? p->largest_plain : r;
    uint8_t *taken = calloc(p->ix->n ? p->ix->n : 1, 1);

    if (!taken)
        return BEST_ENOMEM;
    p->taken = taken;
    while (r > 0 && g > 0) {
        if (g > r)
            g = r;
        p->g = g;
        p->need = acc_rem > r - g ? acc_rem - (r - g) : 0;
        p->acc_allow = acc_rem;
        run_pass(p);
        if (p->start < 0) {
            g--;
            continue;
        }
        take(res, p, taken);
        r -= g;
        acc_rem -= p->acc < acc_rem ? p->acc : acc_rem;
    }
    free(taken);
    if (r > 0) {
        res->n = res->groups = 0;
        res->cost = 0;
        return BEST_ETOOFEW;
    }
    return BEST_OK;
}

void best_survey(const best_index *ix, const char *states, const uint16_t *claims,
                 const best_request *req, best_result *res)
{
    pass p;

    memset(res, 0, sizeof(*res));
    if (!ix || !states || !req || req->count < 1 || req->count > BEST_MAX_SEATS)
        return;
    memset(&p, 0, sizeof(p));
    p.ix = ix;
    p.states = states;
    p.claims = claims;
    p.rq = req;
    p.g = req->count;
    p.need = p.acc_allow = req->accessible;
    p.survey = 1;
    run_pass(&p);
    stats(res, &p);
}

int best_pick(const best_index *ix, const char *states, const uint16_t *claims,
              const best_request *req, best_result *res)
{
    pass p;

    memset(res, 0, sizeof(*res));
    if (!ix || !states || !req || req->count < 1 || req->count > BEST_MAX_SEATS ||
        req->accessible > req->count)
        return BEST_EINVAL;
    memset(&p, 0, sizeof(p));
    p.ix = ix;
    p.states = states;
    p.claims = claims;
    p.rq = req;
    p.g = req->count;
    p.need = p.acc_allow = req->accessible;
    run_pass(&p);
    stats(res, &p);
    if (p.start >= 0) {
        take(res, &p, NULL);
        return BEST_OK;
    }
    if (p.available < req->count || p.wheelchair < req->accessible)
        return BEST_ETOOFEW;
    if (req->together)
        return BEST_ENOTOGETHER;
    return pick_scattered(&p, res);
}
