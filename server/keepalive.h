/*
 * keepalive.h - which connections to ping and which to drop, in O(due).
 *
 * lws's own validity timer (retry_and_idle_policy) keeps one timer per
 * connection in a sorted list, and every new connection and every pong
 * inserts at its end by walking all of it: 10,000 watchers reconnecting
 * after a restart spent a third of the server's CPU there. Here every entry
 * is confirmed with the same period, so appending at the tail keeps the list
 * in order of when each was last confirmed, and a check walks only the
 * entries that are due.
 *
 * Ownership: the caller embeds a keepalive_entry in its own per-connection
 * struct and keeps it in at most one list from add to remove; the list only
 * links them. Loop thread only.
 *
 * Not here: sending the ping or closing (the caller's callbacks).
 */
#ifndef SEATMAP_KEEPALIVE_H
#define SEATMAP_KEEPALIVE_H

#include <stddef.h>
#include <stdint.h>

typedef struct keepalive_entry {
    struct keepalive_entry *prev, *next;
    int64_t valid_ms; /* monotonic ms of the last proof of life (opened, pong) */
    int pinged;       /* a ping went out since then */
} keepalive_entry;

typedef struct keepalive_list {
    keepalive_entry *head, *tail;
    int64_t ping_ms;   /* ping an entry this long after its last proof of life */
    int64_t hangup_ms; /* drop it this long after, when no pong came (> ping_ms) */
    size_t n;
} keepalive_list;

void keepalive_init(keepalive_list *l, int64_t ping_ms, int64_t hangup_ms);
/* A new connection, alive now. */
void keepalive_add(keepalive_list *l, keepalive_entry *e, int64_t now_ms);
/* A pong (or other proof of life): not due again until ping_ms from now. */
void keepalive_confirm(keepalive_list *l, keepalive_entry *e, int64_t now_ms);
void keepalive_remove(keepalive_list *l, keepalive_entry *e);

/* Calls ping(e) once for every entry ping_ms past its proof of life, and
 * drop(e) for every entry hangup_ms past it; drop must not touch the list
 * (the entry is removed before drop is called). Returns how many were
 * dropped. */
typedef void keepalive_fn(keepalive_entry *e, void *arg);
size_t keepalive_check(keepalive_list *l, int64_t now_ms, keepalive_fn *ping, keepalive_fn *drop,
                       void *arg);

#endif
