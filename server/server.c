/*
 * server.c - wiring of the running server (see server.h): lws and hiredis on
 * one libuv loop, the timers that drive fan-out, expiry and reconciliation,
 * and an orderly shutdown (PITFALLS.md: on a foreign loop lws installs no
 * signal handlers and must be destroyed twice around uv_run).
 */
#include "server.h"

#include "app.h"
#include "http.h"
#include "venue.h"
#include "ws.h"

#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define SERVER_MAINT_MS 250

static const struct lws_protocols protocols[] = {
    {"http", http_callback, sizeof(http_session), 0, 0, NULL, 0},
    {"seatmap.v1", ws_callback, sizeof(ws_session), 4096, 0, NULL, 0},
    {NULL, NULL, 0, 0, 0, NULL, 0},
};

static const lws_retry_bo_t retry_policy = {
    .secs_since_valid_ping = 20,
    .secs_since_valid_hangup = 35,
};

/* The security headers of every answer: lws's "best practices" set, but
 * with connect-src limited to this server (lws's allows ws: and wss: to any
 * host, which would let an injected script send the buyer's token away). */
static const struct lws_protocol_vhost_options security_headers[] = {
    {&security_headers[1], NULL, "content-security-policy:",
     "default-src 'none'; img-src 'self' data: ; script-src 'self'; font-src 'self'; "
     "style-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; "
     "form-action 'self';"},
    {&security_headers[2], NULL, "x-content-type-options:", "nosniff"},
    {&security_headers[3], NULL, "x-xss-protection:", "1; mode=block"},
    {&security_headers[4], NULL, "x-frame-options:", "deny"},
    {NULL, NULL, "referrer-policy:", "no-referrer"},
};

/* lws's own error lines, in our log format. */
static void lws_log_line(int level, const char *line)
{
    const char *p = strstr(line, "]");
    p = p ? p + 1 : line;
    while (*p == ' ')
        p++;
    sm_log("lws", "%.*s", (int)strcspn(p, "\n"), p);
    (void)level;
}

/* Timers and store events go to the show registry (a->shows). */
static void on_tick(uv_timer_t *t)
{
    shows_tick(((app *)t->data)->shows);
}

static void on_sweep(uv_timer_t *t)
{
    shows_sweep(((app *)t->data)->shows);
}

static void on_maint(uv_timer_t *t)
{
    app *a = t->data;
    shows_maintain(a->shows);
    limits_sweep(a->limits, sm_mono_ms());
}

static void on_store_ready(void *arg)
{
    app *a = arg;
    if (a->shows)
        shows_store_ready(a->shows);
}

static void on_store_message(void *arg, const char *show_id, const char *json, size_t len)
{
    app *a = arg;
    if (a->shows)
        shows_store_message(a->shows, show_id, json, len);
}

static void on_store_expired(void *arg, const char *show_id)
{
    app *a = arg;
    if (a->shows)
        shows_store_expired(a->shows, show_id);
}

static void stop(app *a)
{
    if (a->stopping)
        return;
    a->stopping = 1;
    sm_info("shutting down");
    uv_close((uv_handle_t *)&a->tick_timer, NULL);
    uv_close((uv_handle_t *)&a->sweep_timer, NULL);
    uv_close((uv_handle_t *)&a->maint_timer, NULL);
    uv_close((uv_handle_t *)&a->sigint, NULL);
    uv_close((uv_handle_t *)&a->sigterm, NULL);
    store_destroy(a->store);
    a->store = NULL;
    lws_context_destroy(a->lws);
}

static void on_signal(uv_signal_t *s, int signum)
{
    (void)signum;
    stop(s->data);
}

/* Creates the `demo` show from the demo venue unless it exists. */
static int ensure_demo(app *a)
{
    ledger_show ls;
    venue *v;
    char *text = NULL, err[512], starts[40];
    time_t t = time(NULL) + 7 * 86400;
    struct tm tm;
    int rc;

    memset(&ls, 0, sizeof(ls));
    if (ledger_show_get(a->ledger, "demo", &ls) == 0) {
        ledger_show_clear(&ls);
        return 0;
    }
    if (venue_load_file(a->cfg.demo_venue, &v, &text, err, sizeof(err))) {
        fprintf(stderr, "seatmapd: cannot load the demo venue %s: %s\n", a->cfg.demo_venue, err);
        return -1;
    }
    gmtime_r(&t, &tm);
    snprintf(starts, sizeof(starts), "%04d-%02d-%02dT19:30:00Z", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday);
    rc = ledger_show_add(a->ledger, "demo", "Demo night", venue_name(v), starts, text);
    venue_free(v);
    free(text);
    if (rc && rc != LEDGER_EEXISTS) {
        fprintf(stderr, "seatmapd: cannot create the demo show: %s\n", ledger_errmsg(a->ledger));
        return -1;
    }
    if (rc == 0)
        sm_info("created the demo show from %s", a->cfg.demo_venue);
    return 0;
}

/* The database, the secret, the demo show: everything before the loop. */
static int open_ledger(app *a)
{
    const config *cfg = &a->cfg;
    char err[512];
    struct stat st;

    if (auth_init()) {
        fprintf(stderr, "seatmapd: cannot initialise libsodium\n");
        return -1;
    }
    if (ledger_open(cfg->db_path, &a->ledger, err, sizeof(err))) {
        fprintf(stderr, "seatmapd: cannot open database %s: %s\n", cfg->db_path, err);
        return -1;
    }
    if (ledger_secret(a->ledger, a->secret)) {
        fprintf(stderr, "seatmapd: cannot read the server secret from %s: %s\n", cfg->db_path,
                ledger_errmsg(a->ledger));
        return -1;
    }
    if (cfg->demo && ensure_demo(a))
        return -1;
    if (stat(cfg->web_dir, &st) || !S_ISDIR(st.st_mode))
        sm_warn("web directory %s not found: pages will answer 404 (set --web)", cfg->web_dir);
    return 0;
}

/* lws on our loop. 0, or -1 after saying why (the loop is still open). */
static int start_lws(app *a)
{
    const config *cfg = &a->cfg;
    struct lws_context_creation_info info;
    void *foreign[1] = {a->loop};

    /* Quiet while the context is made: a failure there is said once, below. */
    lws_set_log_level(0, NULL);
    memset(&info, 0, sizeof(info));
    info.port = cfg->listen_port;
    info.iface = cfg->listen_host;
    info.protocols = protocols;
    info.options = LWS_SERVER_OPTION_LIBUV | LWS_SERVER_OPTION_VALIDATE_UTF8;
    info.headers = security_headers;
    info.foreign_loops = foreign;
    info.user = a;
    info.retry_and_idle_policy = &retry_policy;
    info.timeout_secs = 30;
    a->lws = lws_create_context(&info);
    if (!a->lws) {
        fprintf(stderr, "seatmapd: cannot start the web server (is the package "
                        "libwebsockets-evlib-uv installed?)\n");
        return -1;
    }
    /* lws returns a context even when it could not bind the port: then it
     * has no vhost, and destroying such a context on a foreign loop crashes
     * lws 4.1.6. Nothing else has started: leave it to the exit. */
    if (!lws_get_vhost_by_name(a->lws, "default")) {
        fprintf(stderr,
                "seatmapd: cannot listen on %s:%d (address in use, or not one of this "
                "machine's addresses)\n",
                cfg->listen_host, cfg->listen_port);
        exit(1);
    }
    lws_set_log_level(LLL_ERR, lws_log_line);
    return 0;
}

/* Redis, the show registry and the booking workflow's environment. */
static int start_shows(app *a)
{
    store_events ev = {on_store_ready, NULL, on_store_message, on_store_expired, a};
    shows_config sc;

    if (store_create(a->loop, a->cfg.redis_url, &ev, &a->store)) {
        fprintf(stderr, "seatmapd: bad Redis URL '%s' (expected redis://HOST[:PORT][/DB])\n",
                a->cfg.redis_url);
        return -1;
    }
    memset(&sc, 0, sizeof(sc));
    sc.store = a->store;
    sc.ledger = a->ledger;
    sc.hub = a->hub;
    sc.instance = a->instance;
    sc.started_ms = a->started_ms;
    sc.tick_ms = a->cfg.tick_ms;
    sc.frozen_bound_ms = a->cfg.frozen_bound_ms;
    if (!(a->shows = shows_new(&sc))) {
        fprintf(stderr, "seatmapd: out of memory\n");
        return -1;
    }
    a->books.loop = a->loop;
    a->books.store = a->store;
    a->books.ledger = a->ledger;
    a->books.instance = a->instance;
    shows_load_all(a->shows);
    return 0;
}

static void start_timers(app *a)
{
    const config *cfg = &a->cfg;
    uv_timer_init(a->loop, &a->tick_timer);
    uv_timer_init(a->loop, &a->sweep_timer);
    uv_timer_init(a->loop, &a->maint_timer);
    a->tick_timer.data = a->sweep_timer.data = a->maint_timer.data = a;
    /* Twice per tick, so a flush put off by the frame budget (show.c) lands
     * within half a tick of when it is due; no show flushes more than once
     * per tick. */
    uv_timer_start(&a->tick_timer, on_tick, (uint64_t)(cfg->tick_ms + 1) / 2,
                   (uint64_t)(cfg->tick_ms + 1) / 2);
    uv_timer_start(&a->sweep_timer, on_sweep, (uint64_t)cfg->sweep_ms, (uint64_t)cfg->sweep_ms);
    uv_timer_start(&a->maint_timer, on_maint, SERVER_MAINT_MS, SERVER_MAINT_MS);
    uv_signal_init(a->loop, &a->sigint);
    uv_signal_init(a->loop, &a->sigterm);
    a->sigint.data = a->sigterm.data = a;
    uv_signal_start(&a->sigint, on_signal, SIGINT);
    uv_signal_start(&a->sigterm, on_signal, SIGTERM);
}

static app *app_new(const config *cfg)
{
    app *a = calloc(1, sizeof(*a));
    char host[256] = "localhost";
    if (!a)
        return NULL;
    a->cfg = *cfg;
    gethostname(host, sizeof(host) - 1);
    snprintf(a->instance, sizeof(a->instance), "%s:%d", host, cfg->listen_port);
    snprintf(a->started_ms, sizeof(a->started_ms), "%lld", (long long)sm_now_ms());
    a->hub = client_hub_new();
    a->limits = limits_new(&a->cfg);
    if (!a->hub || !a->limits) {
        client_hub_free(a->hub);
        limits_free(a->limits);
        free(a);
        return NULL;
    }
    return a;
}

static void app_free(app *a)
{
    shows_free(a->shows);
    client_hub_free(a->hub);
    limits_free(a->limits);
    if (a->ledger)
        ledger_close(a->ledger);
    free(a);
}

int server_run(const config *cfg)
{
    app *a = app_new(cfg);
    int status = 1;

    if (!a)
        return 1;
    signal(SIGPIPE, SIG_IGN);
    /* Snapshots of big shows are ~60 KB: above this, glibc maps and unmaps
     * them instead of keeping freed ones in the heap after a burst of joins. */
    mallopt(M_MMAP_THRESHOLD, 32 * 1024);
    if (open_ledger(a))
        goto out;
    a->loop = malloc(sizeof(*a->loop));
    if (!a->loop || uv_loop_init(a->loop)) {
        fprintf(stderr, "seatmapd: cannot create the event loop\n");
        free(a->loop);
        a->loop = NULL;
        goto out;
    }
    if (start_lws(a))
        goto out_loop;
    if (start_shows(a)) {
        store_destroy(a->store);
        a->store = NULL;
        lws_context_destroy(a->lws);
        goto out_loop;
    }
    start_timers(a);
    fprintf(stderr, "seatmapd: listening on http://%s:%d\n", cfg->listen_host, cfg->listen_port);
    uv_run(a->loop, UV_RUN_DEFAULT);
    lws_context_destroy(a->lws);
    status = 0;
out_loop:
    uv_run(a->loop, UV_RUN_NOWAIT);
    if (uv_loop_close(a->loop))
        sm_warn("event loop closed with handles still open");
    free(a->loop);
out:
    app_free(a);
    return status;
}
