/*
 * server.c - wiring of the running server (see server.h): lws and hiredis on
 * one libuv loop, the timers that drive fan-out, expiry and reconciliation,
 * and an orderly shutdown (PITFALLS.md: on a foreign loop lws installs no
 * signal handlers and must be destroyed twice around uv_run).
 */
#include "server.h"

#include "admin_feed.h"
#include "api_db.h"
#include "app.h"
#include "http.h"
#include "http_redirect.h"
#include "http_request.h"
#include "listen_share.h"
#include "shutdown.h"
#include "venue.h"
#include "ws.h"

#include <arpa/inet.h>
#include <errno.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define SERVER_MAINT_MS 250
/* How long a stopping server waits for its ledger threads (close_ledger_queues). */
#define SERVER_DB_CLOSE_MS 1000

/*
 * WebSocket buffers. lws allocates rx_buffer_size for every connection at
 * the upgrade and writes each message into it, so an idle watcher keeps its
 * touched pages: 1 KiB (requests are a few hundred bytes; a bigger one comes
 * in pieces that ws.c joins, up to --max-frame). tx_packet_size caps each
 * send(); left 0 it would be rx_buffer_size, and lws copies what is past the
 * cap into a buffer of its own and sends it at later writeables. 16 KiB: a
 * v2 snapshot of the stadium and the merged deltas of a watcher that fell
 * behind go out in one send(). With 4 KiB, v1 watchers under overload
 * (10,000 of them, 3,000 changes/s offered) tipped over: merged deltas of
 * ~10 KB took three sends and a copy each, so the watchers fell further
 * behind and the deltas grew (p99 4.6 s against 230 ms; docs/benchmarks.md).
 * 256 KiB was tried too: a paused reader then has everything in the
 * kernel's buffers and the slow-reader tests (overload.test.mjs) no longer
 * see the server hold frames back.
 */
#define SERVER_WS_RX_BUFFER 1024
#define SERVER_WS_TX_PACKET 16384

static const struct lws_protocols protocols[] = {
    {"http", http_callback, sizeof(http_session), 0, 0, NULL, 0},
    {WS_PROTOCOL_V1, ws_callback, sizeof(ws_session), SERVER_WS_RX_BUFFER, 0, NULL,
     SERVER_WS_TX_PACKET},
    {WS_PROTOCOL_V2, ws_callback, sizeof(ws_session), SERVER_WS_RX_BUFFER, 0, NULL,
     SERVER_WS_TX_PACKET},
    {NULL, NULL, 0, 0, 0, NULL, 0},
};

/* The --metrics-listen vhost: HTTP only (http.c serves /metrics there and
 * nothing else). */
static const struct lws_protocols metrics_protocols[] = {
    {"http", http_callback, sizeof(http_session), 0, 0, NULL, 0},
    {NULL, NULL, 0, 0, 0, NULL, 0},
};

/* No validity timer of lws's: WebSocket pings are ws.c's (keepalive.h says
 * why). A policy is still given, as without one lws would use its default
 * (ping at 5 min). */
static const lws_retry_bo_t retry_policy = {
    .secs_since_valid_ping = 0,
    .secs_since_valid_hangup = 0,
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
    sm_logf(level & LLL_ERR ? SM_LOG_ERROR : SM_LOG_WARN, NULL, "lws: %.*s", (int)strcspn(p, "\n"),
            p);
}

/* Timers and store events go to the show registry (a->shows). */
static void on_flush_idle(uv_idle_t *h)
{
    app *a = h->data;
    if (!shows_flush_more(a->shows))
        uv_idle_stop(h);
}

static void on_tick(uv_timer_t *t)
{
    app *a = t->data;
    if (shows_tick(a->shows))
        uv_idle_start(&a->flush_idle, on_flush_idle);
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
    ws_keepalive_check(a);
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

/*
 * Drained: no booking or staff request waits for the ledger threads any
 * more. Each finishes what it was given, for SERVER_DB_CLOSE_MS in all: a
 * database that does not answer (frozen, unreachable) must not keep the
 * process from exiting. A thread still waiting then is given up on: its
 * jobs never end. Nothing acknowledged is lost that way: a booking is
 * answered only after its commit, a webhook event stays pending in Redis
 * until its delivery rows are written; audit rows not yet written are
 * (counted in the log).
 */
static void close_ledger_queues(app *a)
{
    int64_t by = sm_mono_ms() + SERVER_DB_CLOSE_MS;
    int books = ledger_queue_close_by(a->books.queue, by);
    int staff = ledger_queue_close_by(a->staff_queue, by);
    int hooks = ledger_queue_close_by(a->webhooks_queue, by);
    size_t n;

    a->books.queue = a->staff_queue = a->webhooks_queue = NULL;
    a->db_stuck = books || staff || hooks;
    /* an audit batch still out stays with its job when the booking thread
     * was given up on (the thread may be reading it) */
    if (!books)
        shows_audit_reclaim(a->shows);
    /* the loop's handle would write its rows at close: it would wait too */
    if (a->db_stuck && (n = ledger_audit_discard(a->ledger)))
        sm_warn("ledger: %zu audit rows dropped at exit: the database is not answering", n);
}

static void stop(app *a)
{
    if (a->stopping)
        return;
    a->stopping = 1;
    sm_info("shutting down");
    uv_close((uv_handle_t *)&a->tick_timer, NULL);
    uv_close((uv_handle_t *)&a->flush_idle, NULL);
    uv_close((uv_handle_t *)&a->sweep_timer, NULL);
    uv_close((uv_handle_t *)&a->maint_timer, NULL);
    uv_close((uv_handle_t *)&a->sigint, NULL);
    uv_close((uv_handle_t *)&a->sigterm, NULL);
    best_service_stop(a->best);
    uv_close((uv_handle_t *)&a->sighup, NULL);
    if (a->ready_pending) {
        a->ready_pending = 0;
        uv_close((uv_handle_t *)&a->ready_timer, NULL);
    }
    admin_feed_destroy(a->admin);
    a->admin = NULL;
    webhooks_destroy(a->webhooks);
    a->webhooks = NULL;
    /* requests waiting for a show's load are answered; loads still out
     * end with the staff queue */
    show_loader_stop(a->loader);
    close_ledger_queues(a);
    store_destroy(a->store);
    a->store = NULL;
    if (a->lws)
        lws_context_destroy(a->lws);
}

/* SIGTERM and SIGINT drain first (shutdown.h); a signal while draining
 * changes nothing: the drain is bounded by --shutdown-timeout. */
static void on_signal(uv_signal_t *s, int signum)
{
    app *a = s->data;
    if (a->draining) {
        sm_info("%s while draining: still waiting (at most %ld ms in all)", strsignal(signum),
                a->cfg.shutdown_ms);
        return;
    }
    sm_info("%s: shutting down gracefully", strsignal(signum));
    if (!a->lws) { /* not listening yet: nothing to drain */
        stop(a);
        return;
    }
    shutdown_begin(a, stop);
}

static void on_sighup(uv_signal_t *s, int signum)
{
    app *a = s->data;
    if (a->cfg.log_file[0] && sm_log_reopen() == 0)
        sm_info("SIGHUP: reopened the log file %s", a->cfg.log_file);
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

/* The database, the secret, the demo show: everything before the loop, on
 * the loop's own handle (blocking is harmless before the loop runs; later
 * calls go through the ledger queues, docs/scaling.md). */
static int open_ledger(app *a)
{
    const config *cfg = &a->cfg;
    char err[512];
    struct stat st;

    if (auth_init()) {
        fprintf(stderr, "seatmapd: cannot initialise libsodium\n");
        return -1;
    }
    /* err names the file and why, never a URL's password */
    if (ledger_open(cfg->db_path, &a->ledger, err, sizeof(err))) {
        fprintf(stderr, "seatmapd: %s\n", err);
        return -1;
    }
    if (ledger_secret(a->ledger, a->secret)) {
        /* not the path: a PostgreSQL URL may hold a password */
        fprintf(stderr, "seatmapd: cannot read the server secret from the database: %s\n",
                ledger_errmsg(a->ledger));
        return -1;
    }
    if (cfg->demo && ensure_demo(a))
        return -1;
    if (stat(cfg->web_dir, &st) || !S_ISDIR(st.st_mode))
        sm_warn("web directory %s not found: pages will answer 404 (set --web)", cfg->web_dir);
    return 0;
}

/* The plain-HTTP listener of --http-redirect-port: a second vhost. */
static int start_redirect(app *a)
{
    const config *cfg = &a->cfg;
    struct lws_context_creation_info info;

    a->redirect = calloc(1, sizeof(*a->redirect));
    if (!a->redirect)
        return -1;
    a->redirect->https_port = cfg->listen_port;
    snprintf(a->redirect->fallback_host, sizeof(a->redirect->fallback_host), "%s",
             strcmp(cfg->listen_host, "0.0.0.0") == 0 || strcmp(cfg->listen_host, "::") == 0
                 ? "localhost"
                 : cfg->listen_host);
    memset(&info, 0, sizeof(info));
    info.port = cfg->http_redirect_port;
    info.iface = cfg->listen_host;
    info.protocols = http_redirect_protocols;
    info.vhost_name = "redirect";
    info.user = a->redirect;
    info.options = LWS_SERVER_OPTION_LIBUV |
                   LWS_SERVER_OPTION_HTTP_HEADERS_SECURITY_BEST_PRACTICES_ENFORCE |
                   (cfg->reuse_port ? LWS_SERVER_OPTION_ALLOW_LISTEN_SHARE : 0);
    info.timeout_secs = 30;
    {
        struct in_addr v4; /* as in start_lws */
        if (inet_pton(AF_INET, cfg->listen_host, &v4) == 1)
            info.options |= LWS_SERVER_OPTION_DISABLE_IPV6;
    }
    if (!lws_create_vhost(a->lws, &info)) {
        fprintf(stderr, "seatmapd: cannot listen on %s:%d for --http-redirect-port\n",
                cfg->listen_host, cfg->http_redirect_port);
        return -1;
    }
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
    /* lws 4.1.6 puts an IPv4 iface into an IPv6 socket's flowinfo and binds
     * "::": every address of the machine. An IPv4 address gets an IPv4
     * socket bound to it. */
    {
        struct in_addr v4;
        if (inet_pton(AF_INET, cfg->listen_host, &v4) == 1)
            info.options |= LWS_SERVER_OPTION_DISABLE_IPV6;
    }
    if (cfg->reuse_port) {
        info.options |= LWS_SERVER_OPTION_ALLOW_LISTEN_SHARE;
        listen_share_enable(1); /* what that option does not do with one thread */
    }
    if (cfg->tls_cert[0]) {
        info.options |= LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
        info.ssl_cert_filepath = cfg->tls_cert;
        info.ssl_private_key_filepath = cfg->tls_key;
        info.alpn = "http/1.1"; /* our HTTP code is HTTP/1.1 only */
    }
    if (cfg->tls_cert[0] && (access(cfg->tls_cert, R_OK) || access(cfg->tls_key, R_OK))) {
        const char *f = access(cfg->tls_cert, R_OK) ? cfg->tls_cert : cfg->tls_key;
        fprintf(stderr, "seatmapd: cannot read %s: %s\n", f, strerror(errno));
        return -1;
    }
    a->lws = lws_create_context(&info);
    if (!a->lws) {
        fprintf(stderr, "seatmapd: cannot start the web server (%s)\n",
                cfg->tls_cert[0] ? "are --tls-cert and --tls-key a PEM certificate and its key?"
                                 : "is the package libwebsockets-evlib-uv installed?");
        return -1;
    }
    /* lws returns a context even when it could not bind the port: then it
     * has no vhost, and destroying such a context on a foreign loop crashes
     * lws 4.1.6. Nothing else has started: leave it to the exit. */
    if (!lws_get_vhost_by_name(a->lws, "default")) {
        fprintf(stderr,
                "seatmapd: cannot listen on %s:%d (address in use, or not one of this "
                "machine's addresses%s)\n",
                cfg->listen_host, cfg->listen_port,
                cfg->tls_cert[0] ? ", or --tls-cert and --tls-key are not a PEM certificate and "
                                   "its key"
                                 : "");
        exit(1);
    }
    if (cfg->http_redirect_port && start_redirect(a))
        exit(1);
    lws_set_log_level(LLL_ERR, lws_log_line);
    return 0;
}

/* A second listener for /metrics (--metrics-listen), so the scrape port can
 * stay off the public network. Exits when it cannot listen, as for --listen. */
static void start_metrics_listener(app *a)
{
    struct lws_context_creation_info info;
    char host[256], err[400];
    int port;

    if (config_split_addr(a->cfg.metrics_listen, host, sizeof(host), &port, err, sizeof(err))) {
        fprintf(stderr, "seatmapd: --metrics-listen %s\n", err);
        exit(2);
    }
    memset(&info, 0, sizeof(info));
    info.vhost_name = HTTP_METRICS_VHOST;
    info.port = port;
    info.iface = host;
    info.protocols = metrics_protocols;
    info.options = LWS_SERVER_OPTION_HTTP_HEADERS_SECURITY_BEST_PRACTICES_ENFORCE;
    info.timeout_secs = 30;
    lws_set_log_level(0, NULL);
    if (!lws_create_vhost(a->lws, &info)) {
        fprintf(stderr,
                "seatmapd: cannot listen on %s:%d for metrics (address in use, or not one of "
                "this machine's addresses)\n",
                host, port);
        exit(1);
    }
    lws_set_log_level(LLL_ERR, lws_log_line);
    fprintf(stderr, "seatmapd: metrics on http://%s:%d/metrics\n", host, port);
}

/* Webhook dispatch and delivery (webhooks.h), on a Redis connection of
 * their own. */
static int start_webhooks(app *a)
{
    webhooks_opts o = {a->cfg.redis_url, a->instance, (unsigned)a->cfg.webhook_timeout_ms,
                       (unsigned)a->cfg.webhook_backoff_ms, a->cfg.webhook_max_attempts};
    char err[512];
    if (ledger_queue_open(a->loop, a->cfg.db_path, &a->webhooks_queue, err, sizeof(err))) {
        fprintf(stderr, "seatmapd: %s\n", err);
        return -1;
    }
    if (webhooks_create(a->loop, a->ledger, a->webhooks_queue, &o, &a->webhooks)) {
        fprintf(stderr, "seatmapd: cannot start webhook delivery (libcurl or memory)\n");
        return -1;
    }
    return 0;
}

static size_t ws_connection_count(void *arg)
{
    return ws_connections();
}

/* The /admin dashboard's feed, and this process's heartbeat (admin_feed.h). */
static int start_admin_feed(app *a)
{
    admin_feed_env env = {.loop = a->loop,
                          .redis_url = a->cfg.redis_url,
                          .instance = a->instance,
                          .shows = a->shows,
                          .loader = a->loader,
                          .store = a->store,
                          .ledger = a->ledger,
                          .queue = a->staff_queue,
                          .webhooks = a->webhooks,
                          .connections = ws_connection_count,
                          .arg = a};
    env.started_ms = strtoll(a->started_ms, NULL, 10);
    if (admin_feed_create(&env, &a->admin)) {
        fprintf(stderr, "seatmapd: cannot start the admin dashboard's feed (memory)\n");
        return -1;
    }
    return 0;
}

/* Redis, the show registry and the booking workflow's environment. */
static int start_shows(app *a)
{
    store_events ev = {on_store_ready, NULL, on_store_message, on_store_expired, a};
    shows_config sc;
    char err[512];
    int rc = store_create(a->loop, a->cfg.redis_url, &ev, &a->store);

    if (rc) {
        fprintf(stderr, "seatmapd: bad Redis URL '%s': %s (expected redis://HOST[:PORT][/DB])\n",
                a->cfg.redis_url, store_strerror(rc));
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
    /* bookings wait for the database on a thread, not on the loop */
    if (ledger_queue_open(a->loop, a->cfg.db_path, &a->books.queue, err, sizeof(err))) {
        fprintf(stderr, "seatmapd: %s\n", err);
        return -1;
    }
    /* staff requests and the /healthz probe on another (api_db.h) */
    if (ledger_queue_open(a->loop, a->cfg.db_path, &a->staff_queue, err, sizeof(err))) {
        fprintf(stderr, "seatmapd: %s\n", err);
        return -1;
    }
    a->db_up = 1; /* it answered at start; the first probe says more */
    {
        /* a show added later is loaded off the loop when first asked for */
        show_loader_config lc = {a->loop, a->shows, a->staff_queue, API_DB_WAIT_MS,
                                 API_DB_QUEUE_MAX};
        if (!(a->loader = show_loader_new(&lc))) {
            fprintf(stderr, "seatmapd: out of memory\n");
            return -1;
        }
    }
    shows_set_audit_queue(a->shows, a->books.queue);
    /* on the loop's own handle: the loop is not running yet (docs/scaling.md) */
    shows_load_all(a->shows);
    if (!(a->best = best_service_new(a->loop))) {
        fprintf(stderr, "seatmapd: out of memory\n");
        return -1;
    }
    return start_webhooks(a) || start_admin_feed(a) ? -1 : 0;
}

static void start_timers(app *a)
{
    const config *cfg = &a->cfg;
    uv_timer_init(a->loop, &a->tick_timer);
    uv_idle_init(a->loop, &a->flush_idle);
    a->flush_idle.data = a;
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
    uv_signal_init(a->loop, &a->sighup);
    a->sighup.data = a;
    uv_signal_start(&a->sighup, on_sighup, SIGHUP);
}

static app *app_new(const config *cfg)
{
    app *a = calloc(1, sizeof(*a));
    char host[256] = "localhost";
    if (!a)
        return NULL;
    a->cfg = *cfg;
    gethostname(host, sizeof(host) - 1);
    /* Two processes on one port (--reuse-port) are two instances: one must
     * not take the other's confirmations in flight for abandoned ones. */
    /* A worker (--workers) is named by its supervisor and its number, so a
     * worker started again in place of a dead one knows the confirmations
     * it left frozen at once; another supervisor on the port (a rolling
     * restart) has another pid. */
    if (cfg->worker_id)
        snprintf(a->instance, sizeof(a->instance), "%s:%d:%ld:w%d", host, cfg->listen_port,
                 (long)getppid(), cfg->worker_id);
    else if (cfg->reuse_port)
        snprintf(a->instance, sizeof(a->instance), "%s:%d:%ld", host, cfg->listen_port,
                 (long)getpid());
    else
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
    best_service_free(a->best);
    show_loader_free(a->loader);
    shows_free(a->shows);
    client_hub_free(a->hub);
    free(a->redirect);
    limits_free(a->limits);
    if (a->ledger)
        ledger_close(a->ledger);
    free(a);
}

static void announce(const app *a)
{
    const config *cfg = &a->cfg;
    fprintf(stderr, "seatmapd: listening on %s://%s:%d\n", cfg->tls_cert[0] ? "https" : "http",
            cfg->listen_host, cfg->listen_port);
    if (cfg->http_redirect_port)
        fprintf(stderr, "seatmapd: redirecting http://%s:%d to https\n", cfg->listen_host,
                cfg->http_redirect_port);
}

/* --reuse-port: another seatmapd may be serving this port, so take a share
 * of its connections only once every show's seats are loaded, or after
 * SERVER_READY_WAIT_MS anyway (Redis down is never fatal). */
#define SERVER_READY_WAIT_MS 10000

static void on_ready_poll(uv_timer_t *t)
{
    app *a = t->data;
    int ready = store_up(a->store) && shows_all_loaded(a->shows);
    if (!ready && sm_mono_ms() < a->ready_deadline_ms)
        return;
    if (!ready)
        sm_warn("not ready after %d ms (is Redis up?): listening anyway", SERVER_READY_WAIT_MS);
    a->ready_pending = 0;
    uv_close((uv_handle_t *)&a->ready_timer, NULL);
    if (start_lws(a))
        exit(1);
    /* the metrics vhost hangs on the context: only now is there one */
    if (a->cfg.metrics_listen[0])
        start_metrics_listener(a);
    announce(a);
}

static void listen_when_ready(app *a)
{
    uv_timer_init(a->loop, &a->ready_timer);
    a->ready_timer.data = a;
    a->ready_pending = 1;
    a->ready_deadline_ms = sm_mono_ms() + SERVER_READY_WAIT_MS;
    uv_timer_start(&a->ready_timer, on_ready_poll, 10, 10);
}

int server_run(const config *cfg)
{
    app *a = app_new(cfg);
    int status = 1;

    char err[1200];

    if (!a)
        return 1;
    if (sm_log_setup(cfg->log_level, cfg->log_format, cfg->log_file, err, sizeof(err))) {
        fprintf(stderr, "seatmapd: %s\n", err);
        app_free(a);
        return 1;
    }
    http_req_configure(&a->cfg.trust_proxy, cfg->tls_cert[0] != 0);
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
    if (!cfg->reuse_port && start_lws(a))
        goto out_loop;
    if (start_shows(a)) {
        show_loader_stop(a->loader);
        ledger_queue_close(a->books.queue);
        a->books.queue = NULL;
        ledger_queue_close(a->staff_queue);
        a->staff_queue = NULL;
        shows_audit_reclaim(a->shows);
        webhooks_destroy(a->webhooks);
        ledger_queue_close(a->webhooks_queue);
        a->webhooks_queue = NULL;
        store_destroy(a->store);
        a->store = NULL;
        /* the same order as a normal stop (PITFALLS.md) */
        lws_context_destroy(a->lws);
        uv_run(a->loop, UV_RUN_DEFAULT);
        lws_context_destroy(a->lws);
        goto out_loop;
    }
    start_timers(a);
    if (cfg->metrics_listen[0] && !cfg->reuse_port)
        start_metrics_listener(a);
    if (cfg->reuse_port)
        listen_when_ready(a);
    else
        announce(a);
    uv_run(a->loop, UV_RUN_DEFAULT);
    if (a->lws)
        lws_context_destroy(a->lws);
    status = 0;
out_loop:
    uv_run(a->loop, UV_RUN_NOWAIT);
    if (uv_loop_close(a->loop) && !a->db_stuck) /* else: the bounds of calls never ended */
        sm_warn("event loop closed with handles still open");
    free(a->loop);
out:
    app_free(a);
    return status;
}
