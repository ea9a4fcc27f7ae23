/*
 * webhooks.c - see webhooks.h. Three parts: the dispatcher (show streams ->
 * delivery rows + jobs), the "webhook" job handler (one signed POST), and
 * libcurl's multi interface driven by the libuv loop (sockets on uv_poll_t,
 * curl's timer on a uv_timer_t), as in curl's multi-uv example.
 *
 * Ownership: a transfer owns its easy handle, header list and body, and the
 * job until it calls jobq_done/jobq_retry. Replies from hiredis are used only
 * inside their callbacks.
 */
#include "webhooks.h"

#include "jobq.h"
#include "rconn.h"
#include "util.h"
#include "webhook_sign.h"

#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <hiredis/hiredis.h>
#include <sodium.h>

#include <stdlib.h>
#include <string.h>

#define WH_GROUP "webhooks"
#define WH_JOB "webhook"
#define WH_READ_COUNT "100"
#define WH_MAX_SHOWS 4096

typedef struct show_stream {
    char id[SM_SHOW_ID_MAX + 1];
    char key[SM_SHOW_ID_MAX + 16]; /* sm:{ID}:events */
    int reading;
    int read_own; /* next read is of our own pending events ("0") */
    int grouped;  /* XGROUP CREATE sent on this connection */
    int64_t last_claim;
} show_stream;

typedef struct sockctx {
    uv_poll_t poll;
    curl_socket_t fd;
    webhooks *w;
    struct sockctx *next, **prev; /* in webhooks.socks */
} sockctx;

typedef struct transfer {
    webhooks *w;
    jobq_job *job;
    CURL *easy;
    struct curl_slist *headers;
    char *body;
    ledger_delivery d; /* as read before the attempt (no payload kept) */
    char errbuf[CURL_ERROR_SIZE];
    struct transfer *next;
} transfer;

/* A read of one show's stream in flight: the show may be dropped from the
 * list meanwhile, so the callback finds it again by id. */
typedef struct read_req {
    webhooks *w;
    char id[SM_SHOW_ID_MAX + 1];
} read_req;

struct webhooks {
    uv_loop_t *loop;
    ledger *l;
    webhooks_opts o;
    char consumer[300];
    char redis_url[512];
    rconn *conn;
    jobq *q;
    CURLM *multi;
    uv_timer_t curl_timer, poll_timer;
    int handles_open;
    transfer *transfers;
    sockctx *socks;
    unsigned in_flight;
    ledger_webhook *hooks;
    size_t nhooks;
    show_stream *shows;
    size_t nshows;
    int64_t last_reload;
    unsigned reads_out;
    int closing;
    int ledger_failing;
    uint64_t delivered, failed, dead;
};

/* ---- the registry and the shows ---- */

static void reload(webhooks *w)
{
    ledger_webhook *hooks = NULL;
    ledger_show *list = NULL;
    size_t n = 0, nh = 0, i, j;
    show_stream *shows;

    w->last_reload = sm_mono_ms();
    if (ledger_webhook_list(w->l, &hooks, &nh) == 0) {
        free(w->hooks);
        w->hooks = hooks;
        w->nhooks = nh;
    }
    if (ledger_show_list(w->l, &list, &n) != 0)
        return;
    if (n > WH_MAX_SHOWS)
        n = WH_MAX_SHOWS;
    shows = calloc(n ? n : 1, sizeof(*shows));
    if (!shows) {
        free(list);
        return;
    }
    for (i = 0; i < n; i++) {
        for (j = 0; j < w->nshows; j++)
            if (strcmp(w->shows[j].id, list[i].id) == 0)
                break;
        if (j < w->nshows) {
            shows[i] = w->shows[j];
            continue;
        }
        snprintf(shows[i].id, sizeof(shows[i].id), "%s", list[i].id);
        snprintf(shows[i].key, sizeof(shows[i].key), "sm:{%s}:events", list[i].id);
        shows[i].read_own = 1;
    }
    free(list);
    free(w->shows);
    w->shows = shows;
    w->nshows = n;
}

void webhooks_changed(webhooks *w)
{
    reload(w);
}

static show_stream *find_show(webhooks *w, const char *id)
{
    size_t i;
    for (i = 0; i < w->nshows; i++)
        if (strcmp(w->shows[i].id, id) == 0)
            return &w->shows[i];
    return NULL;
}

/* ---- dispatch: one event to every webhook that wants it ---- */

static int queue_delivery(webhooks *w, int64_t id, int attempts)
{
    char payload[48];
    snprintf(payload, sizeof(payload), "%lld %d", (long long)id, attempts);
    return jobq_push(w->q, WH_JOB, payload);
}

static void ledger_trouble(webhooks *w, const char *what)
{
    if (!w->ledger_failing++)
        sm_warn("webhooks: cannot %s: %s; the event stays queued and is tried again", what,
                ledger_errmsg(w->l));
}

/* 0 when every delivery of the event is recorded and queued (the event may
 * be acknowledged), -1 when it must stay pending. */
static int dispatch_event(webhooks *w, const char *type, const char *json)
{
    cJSON *ev = cJSON_Parse(json);
    const cJSON *jid = cJSON_GetObjectItemCaseSensitive(ev, "id");
    const cJSON *jat = cJSON_GetObjectItemCaseSensitive(ev, "created_at");
    size_t i;
    int rc = 0;

    if (!cJSON_IsString(jid) || !cJSON_IsNumber(jat)) {
        cJSON_Delete(ev);
        return 0; /* not an event: nothing to deliver */
    }
    for (i = 0; i < w->nhooks && !rc; i++) {
        const ledger_webhook *h = &w->hooks[i];
        ledger_delivery d;
        int64_t id = 0;
        int created = 0;
        if (!ledger_webhook_wants(h->events, type) ||
            h->created_at > sm_json_int(jat->valuedouble, 0))
            continue;
        if (ledger_delivery_add(w->l, h->id, jid->valuestring, type, json, sm_now_ms(), &id,
                                &created)) {
            if (strstr(ledger_errmsg(w->l), "no such webhook"))
                continue; /* removed meanwhile */
            ledger_trouble(w, "record a delivery");
            rc = -1;
            break;
        }
        w->ledger_failing = 0;
        if (!created) {
            /* Seen before (this event was claimed from a process that died):
             * queue it again only if it never got an attempt. */
            if (ledger_delivery_get(w->l, id, &d) != 0)
                continue;
            created = strcmp(d.status, "pending") == 0 && d.attempts == 0;
            ledger_delivery_clear(&d);
        }
        if (created && queue_delivery(w, id, 0))
            rc = -1;
    }
    cJSON_Delete(ev);
    return rc;
}

/* One entry [id, [type, T, event, JSON]] of a show's stream. */
static void dispatch_entry(webhooks *w, const show_stream *s, const redisReply *e)
{
    const redisReply *id, *f;
    const char *type = NULL, *json = NULL;
    size_t i;

    if (e->type != REDIS_REPLY_ARRAY || e->elements != 2 ||
        e->element[0]->type != REDIS_REPLY_STRING)
        return;
    id = e->element[0];
    f = e->element[1];
    for (i = 0; f->type == REDIS_REPLY_ARRAY && i + 1 < f->elements; i += 2) {
        if (f->element[i]->type != REDIS_REPLY_STRING ||
            f->element[i + 1]->type != REDIS_REPLY_STRING)
            continue;
        if (strcmp(f->element[i]->str, "type") == 0)
            type = f->element[i + 1]->str;
        else if (strcmp(f->element[i]->str, "event") == 0)
            json = f->element[i + 1]->str;
    }
    if (type && json && dispatch_event(w, type, json))
        return; /* stays pending: claimed again after WEBHOOKS_CLAIM_MS */
    {
        const char *argv[4] = {"XACK", s->key, WH_GROUP, id->str};
        rconn_command(w->conn, NULL, NULL, 4, argv, NULL);
    }
}

static void dispatch_entries(webhooks *w, show_stream *s, const redisReply *list)
{
    size_t i;
    for (i = 0; list && list->type == REDIS_REPLY_ARRAY && i < list->elements; i++)
        dispatch_entry(w, s, list->element[i]);
}

static void maybe_free(webhooks *w);

static void on_stream_read(void *arg, redisReply *r)
{
    read_req *rq = arg;
    webhooks *w = rq->w;
    show_stream *s;

    w->reads_out--;
    if (w->closing) {
        free(rq);
        maybe_free(w);
        return;
    }
    s = find_show(w, rq->id);
    free(rq);
    if (!s)
        return;
    s->reading = 0;
    if (!r)
        return;
    if (r->type == REDIS_REPLY_ERROR) {
        if (strncmp(r->str, "NOGROUP", 7) == 0)
            s->grouped = 0;
        return;
    }
    if (r->type == REDIS_REPLY_ARRAY && r->elements == 1 &&
        r->element[0]->type == REDIS_REPLY_ARRAY && r->element[0]->elements == 2) {
        /* XREADGROUP: [[key, [entries]]] */
        const redisReply *entries = r->element[0]->element[1];
        if (s->read_own && entries->elements == 0)
            s->read_own = 0;
        dispatch_entries(w, s, entries);
    } else if (r->type == REDIS_REPLY_ARRAY && r->elements >= 2 &&
               r->element[0]->type == REDIS_REPLY_STRING) {
        dispatch_entries(w, s, r->element[1]); /* XAUTOCLAIM: [cursor, [entries], ...] */
    } else if (s->read_own) {
        s->read_own = 0;
    }
}

static void read_show(webhooks *w, show_stream *s, int64_t now)
{
    read_req *rq;
    int claim = now - s->last_claim >= WEBHOOKS_CLAIM_MS / 2;
    char idle[16];
    if (!s->grouped) {
        /* From the stream's start: events of before a webhook existed are
         * filtered by time, so none is lost to a late group. */
        const char *argv[6] = {"XGROUP", "CREATE", s->key, WH_GROUP, "0", "MKSTREAM"};
        if (rconn_command(w->conn, NULL, NULL, 6, argv, NULL) == 0)
            s->grouped = 1;
        s->read_own = 1;
    }
    rq = malloc(sizeof(*rq));
    if (!rq)
        return;
    rq->w = w;
    snprintf(rq->id, sizeof(rq->id), "%s", s->id);
    if (claim) {
        const char *argv[8] = {"XAUTOCLAIM", s->key, WH_GROUP, w->consumer,
                               idle,         "0-0",  "COUNT",  WH_READ_COUNT};
        snprintf(idle, sizeof(idle), "%d", WEBHOOKS_CLAIM_MS);
        s->last_claim = now;
        if (rconn_command(w->conn, on_stream_read, rq, 8, argv, NULL)) {
            free(rq);
            return;
        }
    } else {
        const char *argv[9] = {"XREADGROUP", "GROUP", WH_GROUP,
                               w->consumer,  "COUNT", WH_READ_COUNT,
                               "STREAMS",    s->key,  s->read_own ? "0" : ">"};
        if (rconn_command(w->conn, on_stream_read, rq, 9, argv, NULL)) {
            free(rq);
            return;
        }
    }
    s->reading = 1;
    w->reads_out++;
}

static void on_poll(uv_timer_t *t)
{
    webhooks *w = t->data;
    int64_t now = sm_mono_ms();
    size_t i;

    if (now - w->last_reload >= WEBHOOKS_RELOAD_MS)
        reload(w);
    if (!rconn_up(w->conn) || w->nhooks == 0)
        return; /* with no webhook, events are left in the streams, trimmed there */
    for (i = 0; i < w->nshows; i++)
        if (!w->shows[i].reading)
            read_show(w, &w->shows[i], now);
}

static void on_connected(void *arg)
{
    webhooks *w = arg;
    size_t i;
    for (i = 0; i < w->nshows; i++) {
        w->shows[i].grouped = 0; /* Redis may have restarted empty */
        w->shows[i].read_own = 1;
    }
    if (w->q)
        jobq_on_connect(w->q);
}

/* ---- curl on the loop ---- */

static void check_done(webhooks *w);

static void on_sock(uv_poll_t *h, int status, int events)
{
    sockctx *c = h->data;
    webhooks *w = c->w;
    int flags = 0, running = 0;
    if (status < 0)
        flags = CURL_CSELECT_ERR;
    else {
        if (events & UV_READABLE)
            flags |= CURL_CSELECT_IN;
        if (events & UV_WRITABLE)
            flags |= CURL_CSELECT_OUT;
    }
    curl_multi_socket_action(w->multi, c->fd, flags, &running);
    check_done(w);
}

static void free_sockctx(uv_handle_t *h)
{
    free(h->data);
}

static int on_curl_socket(CURL *easy, curl_socket_t s, int action, void *userp, void *socketp)
{
    webhooks *w = userp;
    sockctx *c = socketp;
    int events = 0;

    if (action == CURL_POLL_REMOVE) {
        if (c) {
            uv_poll_stop(&c->poll);
            curl_multi_assign(w->multi, s, NULL);
            *c->prev = c->next;
            if (c->next)
                c->next->prev = c->prev;
            uv_close((uv_handle_t *)&c->poll, free_sockctx);
        }
        return 0;
    }
    if (!c) {
        c = calloc(1, sizeof(*c));
        if (!c)
            return -1;
        c->fd = s;
        c->w = w;
        if (uv_poll_init_socket(w->loop, &c->poll, s)) {
            free(c);
            return -1;
        }
        c->poll.data = c;
        c->next = w->socks;
        c->prev = &w->socks;
        if (w->socks)
            w->socks->prev = &c->next;
        w->socks = c;
        curl_multi_assign(w->multi, s, c);
    }
    if (action != CURL_POLL_OUT)
        events |= UV_READABLE;
    if (action != CURL_POLL_IN)
        events |= UV_WRITABLE;
    uv_poll_start(&c->poll, events, on_sock);
    return 0;
}

static void on_curl_timeout(uv_timer_t *t)
{
    webhooks *w = t->data;
    int running = 0;
    curl_multi_socket_action(w->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    check_done(w);
}

static int on_curl_timer(CURLM *multi, long timeout_ms, void *userp)
{
    webhooks *w = userp;
    if (timeout_ms < 0)
        uv_timer_stop(&w->curl_timer);
    else
        uv_timer_start(&w->curl_timer, on_curl_timeout, (uint64_t)timeout_ms, 0);
    return 0;
}

static size_t discard(char *ptr, size_t size, size_t n, void *userdata)
{
    return size * n;
}

/* ---- one attempt ---- */

static void transfer_free(transfer *t)
{
    webhooks *w = t->w;
    transfer **p;
    for (p = &w->transfers; *p; p = &(*p)->next)
        if (*p == t) {
            *p = t->next;
            break;
        }
    w->in_flight--;
    if (t->easy) {
        curl_multi_remove_handle(w->multi, t->easy);
        curl_easy_cleanup(t->easy);
    }
    curl_slist_free_all(t->headers);
    free(t->body);
    free(t);
}

/* Writes an attempt's outcome. A delivery discarded meanwhile (the API) is
 * gone: nothing to record, and its job ends when it next runs. */
static void record_attempt(webhooks *w, const ledger_delivery *d, int64_t now)
{
    int rc = ledger_delivery_update(w->l, d, now);
    if (rc && rc != LEDGER_ENOTFOUND && !w->ledger_failing++)
        sm_warn("webhooks: cannot record delivery %lld: %s", (long long)d->id, ledger_errmsg(w->l));
}

/* Writes the attempt's outcome and ends the job. */
static void finish_attempt(transfer *t, int ok, const char *error)
{
    webhooks *w = t->w;
    ledger_delivery d = t->d;
    int64_t now = sm_now_ms();
    char payload[48];

    d.payload = NULL;
    d.attempts++;
    snprintf(d.last_error, sizeof(d.last_error), "%s", ok ? "" : error);
    if (ok) {
        snprintf(d.status, sizeof(d.status), "ok");
        d.next_attempt_at = 0;
        w->delivered++;
    } else if (d.attempts - d.base_attempts >= w->o.max_attempts) {
        snprintf(d.status, sizeof(d.status), "dead");
        d.next_attempt_at = 0;
        w->failed++;
        w->dead++;
        sm_warn("webhook %lld: delivery %lld of %s is dead after %d attempts (%s)",
                (long long)d.webhook_id, (long long)d.id, d.event_id, d.attempts - d.base_attempts,
                error);
    } else {
        uint64_t delay =
            wh_backoff_ms(w->o.backoff_ms, d.attempts - d.base_attempts, randombytes_random());
        snprintf(d.status, sizeof(d.status), "failed");
        d.next_attempt_at = now + (int64_t)delay;
        w->failed++;
        record_attempt(w, &d, now);
        snprintf(payload, sizeof(payload), "%lld %d", (long long)d.id, d.attempts);
        jobq_retry(t->job, delay, payload);
        t->job = NULL;
        transfer_free(t);
        return;
    }
    record_attempt(w, &d, now);
    jobq_done(t->job);
    t->job = NULL;
    transfer_free(t);
}

static void check_done(webhooks *w)
{
    CURLMsg *m;
    int left;
    while ((m = curl_multi_info_read(w->multi, &left)) != NULL) {
        transfer *t = NULL;
        long status = 0;
        char why[CURL_ERROR_SIZE + 64];
        if (m->msg != CURLMSG_DONE)
            continue;
        curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&t);
        if (!t)
            continue;
        curl_easy_getinfo(m->easy_handle, CURLINFO_RESPONSE_CODE, &status);
        if (m->data.result != CURLE_OK)
            snprintf(why, sizeof(why), "%s",
                     t->errbuf[0] ? t->errbuf : curl_easy_strerror(m->data.result));
        else
            snprintf(why, sizeof(why), "HTTP %ld", status);
        finish_attempt(t, m->data.result == CURLE_OK && status >= 200 && status < 300, why);
    }
}

/* The easy handle of one signed POST; 0 or -1. */
static int build_request(webhooks *w, transfer *t, const ledger_webhook *h)
{
    char sig[WH_SIGNATURE_LEN + 1], line[256];
    int64_t ts = sm_now_ms() / 1000;
    CURL *e;

    if (wh_sign(h->secret, t->d.event_id, ts, t->body, strlen(t->body), sig))
        return -1;
    t->headers = curl_slist_append(t->headers, "Content-Type: application/json");
    snprintf(line, sizeof(line), "webhook-id: %s", t->d.event_id);
    t->headers = curl_slist_append(t->headers, line);
    snprintf(line, sizeof(line), "webhook-timestamp: %lld", (long long)ts);
    t->headers = curl_slist_append(t->headers, line);
    snprintf(line, sizeof(line), "webhook-signature: %s", sig);
    t->headers = curl_slist_append(t->headers, line);
    t->headers = curl_slist_append(t->headers, "Expect:"); /* no 100-continue round trip */
    if (!t->headers || !(e = t->easy = curl_easy_init()))
        return -1;
    curl_easy_setopt(e, CURLOPT_URL, h->url);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L); /* a redirect is an answer, not 2xx */
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)w->o.timeout_ms);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, t->headers);
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, t->body);
    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE, (long)strlen(t->body));
    curl_easy_setopt(e, CURLOPT_USERAGENT, "seatmapd-webhooks/1");
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, discard);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, t->errbuf);
    curl_easy_setopt(e, CURLOPT_PRIVATE, t);
    return curl_multi_add_handle(w->multi, e) == CURLM_OK ? 0 : -1;
}

/* The "webhook" job: payload "DELIVERY_ID ATTEMPTS". A job whose attempts
 * count is not the delivery's any more is stale (a retry from the API
 * replaced it, or it already ran): it just ends. */
static void on_job(void *arg, jobq_job *job)
{
    webhooks *w = arg;
    long long id = 0;
    int att = -1;
    ledger_webhook h;
    transfer *t;

    if (sscanf(jobq_job_payload(job), "%lld %d", &id, &att) != 2) {
        jobq_done(job);
        return;
    }
    t = calloc(1, sizeof(*t));
    if (!t) {
        jobq_retry(job, w->o.backoff_ms, NULL);
        return;
    }
    t->w = w;
    t->job = job;
    t->next = w->transfers;
    w->transfers = t;
    w->in_flight++;
    if (ledger_delivery_get(w->l, id, &t->d) != 0) {
        int gone = strstr(ledger_errmsg(w->l), "no such") != NULL;
        if (!gone)
            ledger_trouble(w, "read a delivery");
        if (gone)
            jobq_done(job);
        else
            jobq_retry(job, w->o.backoff_ms, NULL);
        t->job = NULL;
        transfer_free(t);
        return;
    }
    t->body = t->d.payload; /* the transfer owns it now */
    t->d.payload = NULL;
    if (t->d.attempts != att || strcmp(t->d.status, "ok") == 0 ||
        strcmp(t->d.status, "dead") == 0 || ledger_webhook_get(w->l, t->d.webhook_id, &h) != 0) {
        jobq_done(job);
        t->job = NULL;
        transfer_free(t);
        return;
    }
    if (build_request(w, t, &h)) {
        finish_attempt(t, 0, "cannot build the request (bad secret, or out of memory)");
        return;
    }
}

/* ---- the API's retry ---- */

int webhooks_retry(webhooks *w, int64_t delivery_id, ledger_delivery *out)
{
    ledger_delivery d, before;
    int rc;

    memset(out, 0, sizeof(*out));
    rc = ledger_delivery_get(w->l, delivery_id, &d);
    if (rc)
        return rc;
    ledger_delivery_clear(&d);
    if (strcmp(d.status, "failed") != 0 && strcmp(d.status, "dead") != 0)
        return LEDGER_EINVAL;
    if (!rconn_up(w->conn))
        return -1;
    before = d;
    snprintf(d.status, sizeof(d.status), "pending");
    d.base_attempts = d.attempts;
    d.next_attempt_at = sm_now_ms();
    rc = ledger_delivery_update(w->l, &d, sm_now_ms());
    if (rc)
        return rc;
    if (queue_delivery(w, d.id, d.attempts)) {
        ledger_delivery_update(w->l, &before, sm_now_ms());
        return -1;
    }
    *out = d;
    return 0;
}

int webhooks_discard(webhooks *w, int64_t delivery_id)
{
    ledger_delivery d;
    int rc = ledger_delivery_get(w->l, delivery_id, &d);
    if (rc)
        return rc;
    ledger_delivery_clear(&d);
    if (strcmp(d.status, "ok") == 0)
        return LEDGER_EINVAL;
    rc = ledger_delivery_delete(w->l, delivery_id);
    if (rc == 0)
        sm_info("webhook %lld: delivery %lld of %s discarded (%s, %d attempts)",
                (long long)d.webhook_id, (long long)d.id, d.event_id, d.status, d.attempts);
    return rc;
}

/* ---- life ---- */

int webhooks_create(uv_loop_t *loop, ledger *l, const webhooks_opts *o, webhooks **out)
{
    webhooks *w;
    *out = NULL;
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        return -1;
    w = calloc(1, sizeof(*w));
    if (!w)
        return -1;
    w->loop = loop;
    w->l = l;
    w->o = *o;
    snprintf(w->consumer, sizeof(w->consumer), "%s", o->consumer);
    snprintf(w->redis_url, sizeof(w->redis_url), "%s", o->redis_url);
    w->o.consumer = w->consumer;
    w->o.redis_url = w->redis_url;
    w->multi = curl_multi_init();
    if (!w->multi || rconn_create(loop, o->redis_url, "webhooks", on_connected, w, &w->conn) ||
        jobq_create(loop, w->conn, w->consumer, o->timeout_ms + 5000, WEBHOOKS_MAX_IN_FLIGHT,
                    &w->q) ||
        jobq_handle(w->q, WH_JOB, on_job, w)) {
        if (w->q)
            jobq_destroy(w->q);
        if (w->conn)
            rconn_destroy(w->conn);
        if (w->multi)
            curl_multi_cleanup(w->multi);
        free(w);
        return -1;
    }
    curl_multi_setopt(w->multi, CURLMOPT_SOCKETFUNCTION, on_curl_socket);
    curl_multi_setopt(w->multi, CURLMOPT_SOCKETDATA, w);
    curl_multi_setopt(w->multi, CURLMOPT_TIMERFUNCTION, on_curl_timer);
    curl_multi_setopt(w->multi, CURLMOPT_TIMERDATA, w);
    uv_timer_init(loop, &w->curl_timer);
    uv_timer_init(loop, &w->poll_timer);
    w->curl_timer.data = w->poll_timer.data = w;
    reload(w);
    uv_timer_start(&w->poll_timer, on_poll, WEBHOOKS_POLL_MS, WEBHOOKS_POLL_MS);
    *out = w;
    return 0;
}

static void maybe_free(webhooks *w)
{
    if (w->closing && w->handles_open == 0 && w->reads_out == 0) {
        free(w->hooks);
        free(w->shows);
        free(w);
    }
}

static void on_closed(uv_handle_t *h)
{
    webhooks *w = h->data;
    w->handles_open--;
    maybe_free(w);
}

void webhooks_destroy(webhooks *w)
{
    if (!w)
        return;
    w->closing = 1;
    jobq_destroy(w->q); /* first: from now on jobq_done only frees a job */
    while (w->transfers) {
        transfer *t = w->transfers;
        if (t->job)
            jobq_done(t->job); /* abandoned: it stays pending in Redis */
        t->job = NULL;
        transfer_free(t);
    }
    curl_multi_cleanup(w->multi);
    w->multi = NULL;
    while (w->socks) { /* sockets curl did not say goodbye to */
        sockctx *c = w->socks;
        w->socks = c->next;
        uv_close((uv_handle_t *)&c->poll, free_sockctx);
    }
    w->handles_open = 2;    /* before rconn_destroy: its callbacks must not free w */
    rconn_destroy(w->conn); /* runs our pending read callbacks with NULL */
    uv_close((uv_handle_t *)&w->curl_timer, on_closed);
    uv_close((uv_handle_t *)&w->poll_timer, on_closed);
}

uint64_t webhooks_queue_depth(const webhooks *w)
{
    return jobq_depth(w->q);
}

unsigned webhooks_in_flight(const webhooks *w)
{
    return w->in_flight;
}

uint64_t webhooks_delivered_total(const webhooks *w)
{
    return w->delivered;
}

uint64_t webhooks_failed_total(const webhooks *w)
{
    return w->failed;
}

uint64_t webhooks_dead_total(const webhooks *w)
{
    return w->dead;
}

size_t webhooks_in_flight_each(const webhooks *w, int64_t *ids, unsigned *counts, size_t max)
{
    const transfer *t;
    size_t n = 0, i;
    for (t = w->transfers; t; t = t->next) {
        if (!t->easy)
            continue;
        for (i = 0; i < n && ids[i] != t->d.webhook_id; i++)
            ;
        if (i == n) {
            if (n == max)
                continue;
            ids[n] = t->d.webhook_id;
            counts[n++] = 0;
        }
        counts[i]++;
    }
    return n;
}
