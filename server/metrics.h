/*
 * metrics.h - the process's counters, gauges and histograms, and their
 * rendering in the Prometheus text format (version 0.0.4).
 *
 * A low layer: any module counts by calling metrics_inc / metrics_add /
 * metrics_set / metrics_observe with a metric id from the table below; the
 * module depends on nothing but util.h. The families are a fixed table (name,
 * help, type, label name, buckets) in metrics.c, so names and units are
 * reviewed in one place (Prometheus conventions: `seatmap_` prefix, `_total`
 * for counters, `_seconds` and `_bytes` for units).
 *
 * Label sets are bounded: a family has at most one label, and at most
 * METRICS_MAX_SERIES values of it; values past that are counted under
 * label value "other" (and a label value is cut at METRICS_LABEL_MAX bytes),
 * so no input can grow the output without bound. Histogram buckets are fixed
 * per family.
 *
 * Not thread-safe: call from the loop thread only (every caller today is).
 *
 * Not here: values that are read at scrape time from other modules (watchers
 * per show, Redis up, uptime: api_metrics.c) and the HTTP endpoint.
 */
#ifndef SEATMAP_METRICS_H
#define SEATMAP_METRICS_H

#include "util.h"

#include <stddef.h>

#define METRICS_MAX_SERIES 32 /* label values per family, "other" included */
#define METRICS_LABEL_MAX 48  /* bytes of one label value, NUL included */
#define METRICS_MAX_BUCKETS 16
#define METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

typedef enum metric_id {
    /* connections (ws.c, http.c) and what is sent on them (client.c) */
    M_CONNECTIONS,        /* gauge {protocol}: open connections */
    M_CONNECTIONS_TOTAL,  /* counter {protocol}: connections accepted */
    M_FRAMES_SENT,        /* counter {protocol}: frames (WebSocket messages, HTTP parts) */
    M_SENT_BYTES,         /* counter {protocol}: payload bytes written */
    M_CLIENTS_CUT_OFF,    /* counter: slow readers disconnected (queue over its limit) */
    M_WS_MESSAGES,        /* counter {type}: WebSocket requests received, by type */
    M_WS_REQUEST_SECONDS, /* histogram {type}: request read -> its reply written (client.c) */
    M_HTTP_REQUESTS,      /* counter {code}: API answers by status code */
    /* fan-out (show.c) */
    M_TICKS,          /* counter: ticks that looked for changes */
    M_DELTAS,         /* counter: delta frames built (one per show per tick with changes) */
    M_DELTA_FRAMES,   /* counter: delta frames queued to watchers */
    M_DELTA_SEATS,    /* counter: seat changes carried by deltas */
    M_SNAPSHOTS,      /* counter: snapshots sent to watchers */
    M_DELTAS_SHED,    /* counter: deltas a watcher skipped, its previous frame still unsent */
    M_CATCHUPS,       /* counter {reason}: merged deltas from a watcher's own seq (drain, resume) */
    M_FANOUT_SECONDS, /* histogram: one tick's flush of every show */
    M_RESYNCS,        /* counter: cache rebuilds from Redis */
    /* holds (ws.c: requests; show.c: transitions) */
    M_HOLDS,           /* counter {outcome}: hold requests by outcome */
    M_RELEASES,        /* counter {outcome}: release requests by outcome */
    M_EXPIRIES,        /* counter {source}: holds expired */
    M_EXPIRY_LATENESS, /* histogram: seconds an expiry came after the deadline */
    /* bookings (booking.c) */
    M_BOOKINGS,       /* counter {outcome}: confirmations and walk-up sales */
    M_CANCELLATIONS,  /* counter {outcome} */
    M_BOOKING_COMMIT, /* histogram: seconds of the ledger commit of one booking */
    /* stores (store.c, ledger.c) */
    M_REDIS_SECONDS,     /* histogram {script}: script round trip */
    M_REDIS_ERRORS,      /* counter {script}: scripts that got no usable answer */
    M_REDIS_RECONNECTS,  /* counter {connection}: connections re-established after a loss */
    M_REDIS_DISCONNECTS, /* counter {connection}: connections lost or refused */
    M_REDIS_REDIRECTS,   /* counter {kind}: Redis Cluster redirects and waits (rcluster.c) */
    M_DB_ERRORS,         /* counter {kind}: database calls that failed (io, busy) */
    /* webhooks: the hook for the webhook queue (lazy: shown once used) */
    M_WEBHOOK_QUEUE_DEPTH, /* gauge: deliveries waiting */
    M_WEBHOOK_FAILURES,    /* counter {reason}: failed delivery attempts */
    M_WEBHOOK_DELIVERIES,  /* counter: successful deliveries */
    M__COUNT
} metric_id;

/* Counters: adds v (>= 0) to the series `label` (NULL for a family without
 * a label). */
void metrics_add(metric_id id, const char *label, double v);
void metrics_inc(metric_id id, const char *label);
/* Gauges: sets, or adds a possibly negative v. */
void metrics_set(metric_id id, const char *label, double v);
void metrics_gauge_add(metric_id id, const char *label, double v);
/* Histograms: one observation (seconds for the _seconds families). */
void metrics_observe(metric_id id, const char *label, double v);

/* The current value of a counter or gauge series (0 when it has none), and
 * the count of a histogram series: for tests and scrape-time figures. */
double metrics_value(metric_id id, const char *label);

/* Monotonic clock in seconds, for durations. */
double metrics_now(void);

/* Appends every family in the text format. 0, or -1 when b failed. */
int metrics_render(sm_buf *b);
/* Appends the standard process_* families, read from /proc/self
 * (resident memory, virtual memory, open and maximum file descriptors, CPU
 * seconds, start time). Families that cannot be read are left out. */
int metrics_render_process(sm_buf *b);

/* Helpers for renderers of scrape-time families: the HELP and TYPE lines,
 * and one sample (label NULL for none; the value is escaped). */
void metrics_header(sm_buf *b, const char *name, const char *type, const char *help);
void metrics_sample(sm_buf *b, const char *name, const char *label, const char *value, double v);

/* Forgets every value (unit tests). */
void metrics_reset(void);

/* Pure step of metrics_render_process, public for tests: from the text of
 * /proc/self/stat, utime+stime in clock ticks, start time in ticks since
 * boot, vsize in bytes and rss in pages. 0, or -1 when it does not parse. */
int metrics_parse_stat(const char *text, unsigned long long *cpu_ticks,
                       unsigned long long *start_ticks, unsigned long long *vsize,
                       long long *rss_pages);

#endif
