/*
 * api_metrics.c - GET /metrics: the Prometheus text format (version 0.0.4).
 * The registry (metrics.c) holds what the modules counted; this file adds
 * what is read at scrape time: build info, uptime, Redis and database up,
 * shows, watchers (in all, and per show for the API_METRICS_TOP_SHOWS
 * busiest shows only, so the number of series stays bounded), and the
 * process (RSS, open files, CPU) from /proc/self.
 *
 * Served on the main port, or only on --metrics-listen when that is set
 * (http.c decides who may ask; server.c makes the listener).
 */
#include "api.h"
#include "webhooks.h"
#include "metrics.h"

#include <stdlib.h>

#define API_METRICS_TOP_SHOWS 10
#define API_METRICS_MAX_BYTES (4u * 1024 * 1024)

static void scrape_time(app *a, sm_buf *b)
{
    const show *top[API_METRICS_TOP_SHOWS];
    size_t n = shows_busiest(a->shows, top, API_METRICS_TOP_SHOWS), i;

    metrics_header(b, "seatmap_build_info", "gauge", "The running seatmapd's version (always 1).");
    metrics_sample(b, "seatmap_build_info", "version", SM_VERSION, 1);
    if (a->cfg.worker_id) { /* --workers: each worker is scraped on its own */
        char id[16];
        snprintf(id, sizeof(id), "%d", a->cfg.worker_id);
        metrics_header(b, "seatmap_worker_info", "gauge",
                       "This process is worker N of --workers (always 1).");
        metrics_sample(b, "seatmap_worker_info", "worker", id, 1);
    }
    metrics_header(b, "seatmap_uptime_seconds", "gauge", "Seconds since this process started.");
    metrics_sample(b, "seatmap_uptime_seconds", NULL, NULL,
                   (double)(sm_now_ms() - atoll(a->started_ms)) / 1000.0);
    metrics_header(b, "seatmap_redis_up", "gauge",
                   "1 when both Redis connections (commands and subscriber) are up.");
    metrics_sample(b, "seatmap_redis_up", NULL, NULL, a->store && store_ready(a->store));
    metrics_header(b, "seatmap_database_up", "gauge", "1 when the database answers.");
    metrics_sample(b, "seatmap_database_up", NULL, NULL, api_database_up(a));
    metrics_header(b, "seatmap_shows", "gauge", "Shows loaded by this process.");
    metrics_sample(b, "seatmap_shows", NULL, NULL, (double)shows_count(a->shows));
    metrics_header(b, "seatmap_watchers", "gauge", "Connections watching a show, all shows.");
    metrics_sample(b, "seatmap_watchers", NULL, NULL, (double)shows_watcher_count(a->shows));
    metrics_header(b, "seatmap_show_watchers", "gauge",
                   "Connections watching a show, for the 10 busiest shows only.");
    for (i = 0; i < n; i++)
        metrics_sample(b, "seatmap_show_watchers", "show", show_id(top[i]),
                       (double)show_watcher_count(top[i]));
    if (a->webhooks) {
        /* the webhook module keeps its own totals: copied in at each scrape */
        metrics_set(M_WEBHOOK_QUEUE_DEPTH, NULL, (double)webhooks_queue_depth(a->webhooks));
        metrics_set(M_WEBHOOK_DELIVERIES, NULL, (double)webhooks_delivered_total(a->webhooks));
        metrics_set(M_WEBHOOK_FAILURES, "failed", (double)webhooks_failed_total(a->webhooks));
        metrics_set(M_WEBHOOK_FAILURES, "dead", (double)webhooks_dead_total(a->webhooks));
        metrics_header(b, "seatmap_webhook_in_flight", "gauge",
                       "Webhook POSTs running in this process.");
        metrics_sample(b, "seatmap_webhook_in_flight", NULL, NULL,
                       (double)webhooks_in_flight(a->webhooks));
    }
}

void api_metrics(http_req *r, const http_params *p)
{
    app *a = http_req_ctx(r);
    sm_buf b;

    sm_buf_init(&b, API_METRICS_MAX_BYTES);
    scrape_time(a, &b);
    metrics_render(&b);
    metrics_render_process(&b);
    http_respond_body(r, 200, METRICS_CONTENT_TYPE, &b);
}
