/*
 * show_backlog.h - a bounded memory of one show's recent seat changes, so a
 * watcher that is behind (a slow reader, or a page that reconnects with the
 * seq it last applied) can be brought up to date with one merged delta
 * instead of a full snapshot.
 *
 * It is a ring of (seq, seat index, state) entries, appended in seq order.
 * A change may be recorded under a seq later than the operation that made
 * it (a resync records what it changed under the seq it reached): a merged
 * delta may then name a seat whose state did not change since the asker's
 * seq, with its current state, which is harmless; it never misses one.
 *
 * The window: every change after `base` is in the ring. When the ring is
 * full the oldest entries are dropped and base moves up to their seq, so
 * asking from before the window says "not covered" (the caller sends a
 * snapshot).
 *
 * Older changes can be put in front of the window (show_backlog_prepend):
 * a new process seeds it with what Redis's events stream says happened
 * before it loaded the show.
 *
 * Not here: encoding (show.c encodes the merged changes for the wire),
 * reading the older changes from Redis (show.c, lua/history.lua).
 */
#ifndef SEATMAP_SHOW_BACKLOG_H
#define SEATMAP_SHOW_BACKLOG_H

#include <stddef.h>
#include <stdint.h>

#define SHOW_BACKLOG_MAX_ENTRIES 65536 /* per show: 1 MiB at most */
#define SHOW_BACKLOG_MIN_ENTRIES 256   /* starts this small and doubles */

typedef struct show_backlog show_backlog;

/* A backlog of seats 0..nseats-1 holding at most max_entries changes
 * (SHOW_BACKLOG_MAX_ENTRIES when 0), empty, covering every change after
 * base. NULL when out of memory. The caller frees it with
 * show_backlog_free. */
show_backlog *show_backlog_new(size_t nseats, size_t max_entries, int64_t base);
void show_backlog_free(show_backlog *b);

/* Forgets everything: from now on it covers the changes after base (a show
 * (re)loaded from Redis, with no history of how it got there). */
void show_backlog_reset(show_backlog *b, int64_t base);

/* Records that seat idx became st in the operation seq. seq must not be
 * below the last one recorded (a smaller one is taken as the last). 0, or
 * -1 when idx is out of range. When the ring cannot grow (its maximum, or
 * out of memory) the oldest entry goes and the window shrinks. */
int show_backlog_add(show_backlog *b, int64_t seq, uint32_t idx, char st);

/* Widens the window back to base `from`: n older changes, seq[i], idx[i],
 * st[i] (the caller's, read only), in ascending seq order, each with
 * from < seq <= the current base, together every change in that range.
 * When they do not all fit under the maximum the oldest are left out and
 * the base moves up as in show_backlog_add. 0; -1 (nothing changed) when
 * an entry is out of order or range, or out of memory. */
int show_backlog_prepend(show_backlog *b, int64_t from, const int64_t *seq, const uint32_t *idx,
                         const char *st, size_t n);

/* The oldest seq it can answer from: every change after it is kept. */
int64_t show_backlog_base(const show_backlog *b);
/* Entries kept now. */
size_t show_backlog_len(const show_backlog *b);

/* The seats that changed after `since` up to and including `upto`, each
 * once, with its state as of upto: idx[i] and st[i] for i < the return
 * value, in the order of their last change. idx and st are the caller's,
 * room for `room` entries (the seat count is always enough). Returns -1
 * when since is outside the window (since < base, or since > upto), -2
 * when room is too small. */
long show_backlog_since(show_backlog *b, int64_t since, int64_t upto, uint32_t *idx, char *st,
                        size_t room);

#endif
