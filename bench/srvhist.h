/*
 * srvhist.h - the server's own view of a request's latency: one series of
 * seatmapd's histogram seatmap_ws_request_seconds{type} (docs/operations.md),
 * read from GET /metrics before and after a window, and quantiles of what
 * was observed in between, so the bench can report the server-side reply
 * time next to the round trip it measures itself (which includes its own
 * lag when it is the busy one).
 *
 * Not here: the client-side histograms (stats.h). With --workers each
 * worker answers /metrics for itself: the figure is then one worker's.
 */
#ifndef SEATMAP_BENCH_SRVHIST_H
#define SEATMAP_BENCH_SRVHIST_H

#define SRVHIST_MAX_BUCKETS 32

typedef struct srv_hist {
    int n;                             /* buckets read, +Inf last; 0: none */
    double le[SRVHIST_MAX_BUCKETS];    /* upper bounds, seconds */
    double count[SRVHIST_MAX_BUCKETS]; /* cumulative, as exposed */
} srv_hist;

/* Reads the series of `type` from http://host:port/metrics (blocking).
 * 0, or -1 (out->n is then 0: the quantiles say "unknown"). */
int srv_hist_scrape(const char *host, int port, const char *type, srv_hist *out);

/* The q-quantile (0..1) in milliseconds of the observations made between
 * a and z, interpolated linearly within a bucket as Prometheus's
 * histogram_quantile does; -1 when unknown (no scrape, or nothing
 * observed). Past the last finite bound it answers that bound. */
double srv_hist_quantile_ms(const srv_hist *a, const srv_hist *z, double q);

#endif
