/*
 * fuzz_app.h - the one app the fuzz targets share: real modules, no sockets.
 *
 * A ledger in a temp file with two shows of a six-seat venue ("t1", "t2"),
 * a store pointed at a closed port whose loop never runs (store_run fails at
 * once, as when Redis is down), a client hub, a random secret, the default
 * config, and shows t1 and t2 loaded from a fixed snapshot. a->loop is a
 * private loop with nothing else on it: fuzz_app_drain runs the work a
 * handler queued there (a password check) to its end.
 *
 * Built once per process (fuzz_app_get); never freed (the process ends).
 */
#ifndef SEATMAP_FUZZ_APP_H
#define SEATMAP_FUZZ_APP_H
#include "app.h"
#include "client.h"

#include <stddef.h>

#define FUZZ_SNAPSHOT                                                                              \
    "{\"seq\":5,\"holds\":[{\"ref\":\"ABCDEF\",\"buyer\":\"b1\",\"seats\":[\"S-A-1\"],"            \
    "\"expires_at\":99999999999999}],\"booked\":[\"S-A-2\"]}"

app *fuzz_app_get(void);
/* Loads a snapshot answer (JSON, len bytes, need not end in NUL). */
void fuzz_sync(show *s, const char *json, size_t len);
/* Drops every frame queued on c. */
void fuzz_drain_client(client *c);
/* Runs the work handlers queued on a->loop to completion. */
void fuzz_app_drain(app *a);
#endif
