/*
 * keepalive.c - see keepalive.h.
 */
#include "keepalive.h"

#include <stddef.h>

void keepalive_init(keepalive_list *l, int64_t ping_ms, int64_t hangup_ms)
{
    l->head = l->tail = NULL;
    l->ping_ms = ping_ms;
    l->hangup_ms = hangup_ms;
    l->n = 0;
}

static void append(keepalive_list *l, keepalive_entry *e)
{
    e->next = NULL;
    e->prev = l->tail;
    if (l->tail)
        l->tail->next = e;
    else
        l->head = e;
    l->tail = e;
    l->n++;
}

void keepalive_remove(keepalive_list *l, keepalive_entry *e)
{
    if (e->prev)
        e->prev->next = e->next;
    else if (l->head == e)
        l->head = e->next;
    else
        return; /* not in the list */
    if (e->next)
        e->next->prev = e->prev;
    else
        l->tail = e->prev;
    e->prev = e->next = NULL;
    l->n--;
}

void keepalive_add(keepalive_list *l, keepalive_entry *e, int64_t now_ms)
{
    e->valid_ms = now_ms;
    e->pinged = 0;
    append(l, e);
}

void keepalive_confirm(keepalive_list *l, keepalive_entry *e, int64_t now_ms)
{
    keepalive_remove(l, e);
    keepalive_add(l, e, now_ms);
}

size_t keepalive_check(keepalive_list *l, int64_t now_ms, keepalive_fn *ping, keepalive_fn *drop,
                       void *arg)
{
    keepalive_entry *e = l->head, *next;
    size_t dropped = 0;

    /* In order of valid_ms: stop at the first entry not yet due. Entries
     * pinged and waiting for their pong stay where they are, so the walk
     * passes them until they answer or are dropped (hangup_ms - ping_ms at
     * most: a pong normally comes within a round trip). */
    for (; e && now_ms - e->valid_ms >= l->ping_ms; e = next) {
        next = e->next;
        if (now_ms - e->valid_ms >= l->hangup_ms) {
            keepalive_remove(l, e);
            dropped++;
            drop(e, arg);
        } else if (!e->pinged) {
            e->pinged = 1;
            ping(e, arg);
        }
    }
    return dropped;
}
