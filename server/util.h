/*
 * util.h - small things every module needs: logging, clocks, a growable
 * byte buffer with a hard limit, and validation of the identifiers the
 * protocol defines (show ids, seat ids).
 *
 * Not here: anything that knows about Redis, SQLite or lws.
 */
#ifndef SEATMAP_UTIL_H
#define SEATMAP_UTIL_H

#include "log.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#define SM_SHOW_ID_MAX 64
#define SM_SEAT_ID_MAX 32

/* Logging (sm_info, sm_warn, ...) is log.h's, included here for every module. */

/* Wall clock, unix milliseconds, and a monotonic clock in milliseconds. */
int64_t sm_now_ms(void);
int64_t sm_mono_ms(void);

/* 1 when s matches [A-Za-z0-9_-]{1,64} (show) or [A-Za-z0-9_.-]{1,32} (seat). */
int sm_valid_show_id(const char *s);
int sm_valid_seat_id(const char *s);

/* A JSON number as a whole number: v when it is finite and within
 * +-(2^53 - 1) (what a double holds exactly), else dflt. Casting anything
 * else to int64_t is undefined behaviour, and the numbers come from outside. */
int64_t sm_json_int(double v, int64_t dflt);

/* FNV-1a 64 of a NUL-terminated string: the hash of every string index. */
uint64_t sm_hash(const char *s);

/*
 * A growable buffer. `limit` is a hard cap on `len`: an append that would
 * pass it (or finds no memory) fails with -1, and the failure sticks (curl's
 * dynbuf habit): every later append is a no-op that fails too, so a long run
 * of appends is checked once, at the end, with sm_buf_failed, and a
 * truncated document is never sent. The buffer owns `data`; sm_buf_free
 * releases it. `data` is always NUL-terminated when non-NULL.
 */
typedef struct sm_buf {
    char *data;
    size_t len;
    size_t cap;
    size_t limit;
    int failed; /* an append failed: the content is incomplete */
} sm_buf;

void sm_buf_init(sm_buf *b, size_t limit);
void sm_buf_free(sm_buf *b);
void sm_buf_reset(sm_buf *b); /* len = 0 and no failure, keeps the memory */
/* 1 when an append failed since the last init or reset. */
int sm_buf_failed(const sm_buf *b);
int sm_buf_reserve(sm_buf *b, size_t extra);
int sm_buf_add(sm_buf *b, const void *p, size_t n);
int sm_buf_adds(sm_buf *b, const char *s);
int sm_buf_addc(sm_buf *b, char c);
int sm_buf_printf(sm_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Appends s as a JSON string literal, quotes included. */
int sm_buf_add_json_str(sm_buf *b, const char *s);
/* Hands the data to the caller (who frees it with free()) and resets b.
 * NULL when an append failed (the incomplete data is freed) or when empty. */
char *sm_buf_steal(sm_buf *b, size_t *len);

#endif
