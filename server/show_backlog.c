/*
 * show_backlog.c - the ring of a show's recent seat changes (see
 * show_backlog.h).
 *
 * Merging walks the ring from the newest entry back to `since` and keeps the
 * first (newest) entry of each seat; a per-seat stamp of the last walk that
 * saw it makes "seen" O(1) without clearing an array per query.
 */
#include "show_backlog.h"

#include <stdlib.h>
#include <string.h>

typedef struct entry {
    int64_t seq;
    uint32_t idx;
    char st;
} entry;

struct show_backlog {
    size_t nseats;
    size_t max;  /* entries at most */
    entry *ring; /* cap entries */
    size_t cap, head, len;
    int64_t base;   /* every change after base is in the ring */
    int64_t last;   /* the seq of the newest entry (or base) */
    uint32_t *seen; /* per seat: the walk that saw it last */
    uint32_t walk;
};

show_backlog *show_backlog_new(size_t nseats, size_t max_entries, int64_t base)
{
    show_backlog *b = calloc(1, sizeof(*b));
    if (!b)
        return NULL;
    b->seen = calloc(nseats ? nseats : 1, sizeof(*b->seen));
    if (!b->seen) {
        free(b);
        return NULL;
    }
    b->nseats = nseats;
    b->max = max_entries ? max_entries : SHOW_BACKLOG_MAX_ENTRIES;
    b->base = b->last = base;
    return b;
}

void show_backlog_free(show_backlog *b)
{
    if (b) {
        free(b->ring);
        free(b->seen);
        free(b);
    }
}

void show_backlog_reset(show_backlog *b, int64_t base)
{
    b->head = b->len = 0;
    b->base = b->last = base;
}

/* Doubles the ring up to its maximum, keeping order. 0 or -1. */
static int grow(show_backlog *b)
{
    size_t cap = b->cap ? b->cap * 2 : SHOW_BACKLOG_MIN_ENTRIES, i;
    entry *r;
    if (cap > b->max)
        cap = b->max;
    if (cap <= b->cap)
        return -1;
    r = malloc(cap * sizeof(*r));
    if (!r)
        return -1;
    for (i = 0; i < b->len; i++)
        r[i] = b->ring[(b->head + i) % b->cap];
    free(b->ring);
    b->ring = r;
    b->cap = cap;
    b->head = 0;
    return 0;
}

int show_backlog_add(show_backlog *b, int64_t seq, uint32_t idx, char st)
{
    entry *e;
    if (idx >= b->nseats)
        return -1;
    if (seq < b->last)
        seq = b->last;
    if (b->len == b->cap && grow(b)) {
        if (!b->cap) { /* not even a first ring: nothing is covered any more */
            b->base = b->last = seq;
            return 0;
        }
        /* Drop the oldest: changes up to its seq may now be incomplete. */
        b->base = b->ring[b->head].seq;
        b->head = (b->head + 1) % b->cap;
        b->len--;
    }
    e = &b->ring[(b->head + b->len++) % b->cap];
    e->seq = seq;
    e->idx = idx;
    e->st = st;
    b->last = seq;
    return 0;
}

int show_backlog_prepend(show_backlog *b, int64_t from, const int64_t *seq, const uint32_t *idx,
                         const char *st, size_t n)
{
    size_t i, skip = 0, total, cap;
    entry *r;

    if (from >= b->base)
        return n ? -1 : 0;
    for (i = 0; i < n; i++)
        if (seq[i] <= from || seq[i] > b->base || idx[i] >= b->nseats || (i && seq[i] < seq[i - 1]))
            return -1;
    if (b->len + n > b->max) { /* the oldest do not fit: the base moves up */
        skip = b->len + n - b->max;
        from = seq[skip - 1];
    }
    total = b->len + n - skip;
    for (cap = SHOW_BACKLOG_MIN_ENTRIES; cap < total; cap *= 2)
        ;
    if (cap > b->max)
        cap = b->max;
    if (cap < total)
        return -1;
    r = malloc(cap * sizeof(*r));
    if (!r)
        return -1;
    for (i = skip; i < n; i++)
        r[i - skip] = (entry){seq[i], idx[i], st[i]};
    for (i = 0; i < b->len; i++)
        r[n - skip + i] = b->ring[(b->head + i) % b->cap];
    free(b->ring);
    b->ring = r;
    b->cap = cap;
    b->head = 0;
    b->len = total;
    b->base = from;
    return 0;
}

int64_t show_backlog_base(const show_backlog *b)
{
    return b->base;
}

size_t show_backlog_len(const show_backlog *b)
{
    return b->len;
}

long show_backlog_since(show_backlog *b, int64_t since, int64_t upto, uint32_t *idx, char *st,
                        size_t room)
{
    size_t i, n = 0;
    if (since < b->base || since > upto)
        return -1;
    if (++b->walk == 0) { /* the stamps wrapped: start them afresh */
        memset(b->seen, 0, b->nseats * sizeof(*b->seen));
        b->walk = 1;
    }
    for (i = b->len; i-- > 0;) {
        const entry *e = &b->ring[(b->head + i) % b->cap];
        if (e->seq <= since)
            break;
        if (e->seq > upto || b->seen[e->idx] == b->walk)
            continue;
        b->seen[e->idx] = b->walk;
        if (n == room)
            return -2;
        idx[n] = e->idx;
        st[n] = e->st;
        n++;
    }
    /* Newest first so far: turn it around, oldest change first. */
    for (i = 0; i < n / 2; i++) {
        uint32_t ti = idx[i];
        char ts = st[i];
        idx[i] = idx[n - 1 - i];
        st[i] = st[n - 1 - i];
        idx[n - 1 - i] = ti;
        st[n - 1 - i] = ts;
    }
    return (long)n;
}
