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
    ledger *l;         /* the loop's handle: used only without a queue (tests) */
    ledger_queue *lq;  /* where every ledger call runs (ledger_queue.h), or NULL */
    unsigned jobs_out; /* ledger jobs whose done has not run: w lives until 0 */
    int reloading, reload_again;
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

/* Every ledger job of the module starts with this: done callbacks find w,
 * which stays allocated while jobs are out (maybe_free). */
typedef struct wh_job {
    ledger_job job;
    webhooks *w;
} wh_job;

static void maybe_free(webhooks *w);

/* run on the queue's thread (the thread's handle), done on the loop */
static void wh_submit(webhooks *w, wh_job *j, ledger_job_run *run, ledger_job_done *done)
{
    j->w = w;
    j->job.data = j;
    w->jobs_out++;
    ledger_queue_call(w->lq, w->l, &j->job, run, done);
}

/* In every done callback first: 1 when the module is closing (the job
 * then only frees itself). */
static int wh_job_back(wh_job *j)
{
    webhooks *w = j->w;
    w->jobs_out--;
    if (!w->closing)
        return 0;
    maybe_free(w);
    return 1;
}

/* The registry and the show list, read on the thread. */
typedef struct reload_job {
    wh_job h;
    ledger_webhook *hooks;
    size_t nhooks;
    int hooks_rc;
    ledger_show *list;
    size_t n;
    int list_rc;
} reload_job;

static void reload_run(ledger *l, ledger_job *job)
{
    reload_job *j = job->data;
    j->hooks_rc = ledger_webhook_list(l, &j->hooks, &j->nhooks);
    j->list_rc = ledger_show_list(l, &j->list, &j->n);
}

static void reload(webhooks *w);

static void reload_done(ledger_job *job)
{
    reload_job *j = job->data;
    webhooks *w = j->h.w;
    ledger_show *list = j->list;
    size_t n = j->n, i, k;
    show_stream *shows;

    if (wh_job_back(&j->h)) {
        if (!j->hooks_rc)
            free(j->hooks);
        if (!j->list_rc)
            free(j->list);
        free(j);
        return;
    }
    w->reloading = 0;
    if (j->hooks_rc == 0) {
        free(w->hooks);
        w->hooks = j->hooks;
        w->nhooks = j->nhooks;
    }
    if (j->list_rc != 0)
        goto out;
    if (n > WH_MAX_SHOWS)
        n = WH_MAX_SHOWS;
    shows = calloc(n ? n : 1, sizeof(*shows));
    if (!shows) {
        free(list);
        goto out;
    }
    for (i = 0; i < n; i++) {
        for (k = 0; k < w->nshows; k++)
            if (strcmp(w->shows[k].id, list[i].id) == 0)
                break;
        if (k < w->nshows) {
            shows[i] = w->shows[k];
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
out:
    free(j);
    if (w->reload_again) {
        w->reload_again = 0;
        reload(w);
    }
}

/* One read at a time; a change noticed meanwhile reads again after it. */
static void reload(webhooks *w)
{
    reload_job *j;
    w->last_reload = sm_mono_ms();
    if (w->reloading) {
        w->reload_again = 1;
        return;
    }
    if (!(j = calloc(1, sizeof(*j))))
        return;
    w->reloading = 1;
    wh_submit(w, &j->h, reload_run, reload_done);
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

/* Logged once per spell of trouble; why is the ledger's message, copied on
 * the thread. */
static void ledger_trouble(webhooks *w, const char *what, const char *why)
{
    if (!w->ledger_failing++)
        sm_warn("webhooks: cannot %s: %s; the event stays queued and is tried again", what, why);
}

/* One stream entry to dispatch: copied from the reply, which hiredis frees
 * after the callback. */
typedef struct wh_entry {
    char *id, *type, *json; /* one allocation, at id */
    int64_t *created;       /* deliveries to queue (ids) */
    size_t ncreated;
    int failed; /* stays pending: claimed again after WEBHOOKS_CLAIM_MS */
} wh_entry;

/* A read's entries, recorded as deliveries on the thread, then queued and
 * acknowledged on the loop. */
typedef struct dispatch_job {
    wh_job h;
    char show[SM_SHOW_ID_MAX + 1];
    char key[SM_SHOW_ID_MAX + 16];
    wh_entry *e;
    size_t n;
    int trouble;
    char what[40], why[256];
} dispatch_job;

/* On the thread: the deliveries of one event for every webhook that wants
 * it (read afresh, so a webhook added a moment ago is not missed), on l.
 * 0 when all are recorded, -1 when the event must stay pending. */
static int record_event(dispatch_job *j, ledger *l, const ledger_webhook *hooks, size_t nh,
                        wh_entry *en)
{
    cJSON *ev = cJSON_Parse(en->json);
    const cJSON *jid = cJSON_GetObjectItemCaseSensitive(ev, "id");
    const cJSON *jat = cJSON_GetObjectItemCaseSensitive(ev, "created_at");
    size_t i;
    int rc = 0;

    if (!cJSON_IsString(jid) || !cJSON_IsNumber(jat)) {
        cJSON_Delete(ev);
        return 0; /* not an event: nothing to deliver */
    }
    for (i = 0; i < nh && !rc; i++) {
        const ledger_webhook *h = &hooks[i];
        ledger_delivery d;
        int64_t id = 0, *grown;
        int created = 0;
        if (!ledger_webhook_wants(h->events, en->type) ||
            h->created_at > sm_json_int(jat->valuedouble, 0))
            continue;
        if (ledger_delivery_add(l, h->id, jid->valuestring, en->type, en->json, sm_now_ms(), &id,
                                &created)) {
            if (strstr(ledger_errmsg(l), "no such webhook"))
                continue; /* removed meanwhile */
            j->trouble = 1;
            snprintf(j->what, sizeof(j->what), "record a delivery");
            snprintf(j->why, sizeof(j->why), "%s", ledger_errmsg(l));
            rc = -1;
            break;
        }
        if (!created) {
            /* Seen before (this event was claimed from a process that died):
             * queue it again only if it never got an attempt. */
            if (ledger_delivery_get(l, id, &d) != 0)
                continue;
            created = strcmp(d.status, "pending") == 0 && d.attempts == 0;
            ledger_delivery_clear(&d);
        }
        if (!created)
            continue;
        grown = realloc(en->created, (en->ncreated + 1) * sizeof(*grown));
        if (!grown) {
            rc = -1;
            break;
        }
        en->created = grown;
        en->created[en->ncreated++] = id;
    }
    cJSON_Delete(ev);
    return rc;
}

static void dispatch_run(ledger *l, ledger_job *job)
{
    dispatch_job *j = job->data;
    ledger_webhook *hooks = NULL;
    size_t nh = 0, i;

    if (ledger_webhook_list(l, &hooks, &nh) != 0) {
        j->trouble = 1;
        snprintf(j->what, sizeof(j->what), "read the webhooks");
        snprintf(j->why, sizeof(j->why), "%s", ledger_errmsg(l));
        for (i = 0; i < j->n; i++)
            j->e[i].failed = 1;
        return;
    }
    for (i = 0; i < j->n; i++)
        j->e[i].failed = record_event(j, l, hooks, nh, &j->e[i]) != 0;
    free(hooks);
}

static void dispatch_free(dispatch_job *j)
{
    size_t i;
    for (i = 0; i < j->n; i++) {
        free(j->e[i].id);
        free(j->e[i].created);
    }
    free(j->e);
    free(j);
}

static void dispatch_done(ledger_job *job)
{
    dispatch_job *j = job->data;
    webhooks *w = j->h.w;
    show_stream *s;
    size_t i, k;

    if (wh_job_back(&j->h)) {
        dispatch_free(j);
        return;
    }
    if (j->trouble)
        ledger_trouble(w, j->what, j->why);
    else
        w->ledger_failing = 0;
    for (i = 0; i < j->n; i++) {
        wh_entry *en = &j->e[i];
        for (k = 0; k < en->ncreated && !en->failed; k++)
            if (queue_delivery(w, en->created[k], 0))
                en->failed = 1;
        if (!en->failed) {
            const char *argv[4] = {"XACK", j->key, WH_GROUP, en->id};
            rconn_command(w->conn, NULL, NULL, 4, argv, NULL);
        }
    }
    if ((s = find_show(w, j->show)))
        s->reading = 0; /* the next read may start */
    dispatch_free(j);
}

/* One entry [id, [type, T, event, JSON]] of a show's stream, copied into
 * en; 0, or -1 when it is not one (or out of memory): skipped. */
static int copy_entry(const redisReply *e, wh_entry *en)
{
    const redisReply *f;
    const char *type = NULL, *json = NULL;
    size_t i, li, lt, lj;

    if (e->type != REDIS_REPLY_ARRAY || e->elements != 2 ||
        e->element[0]->type != REDIS_REPLY_STRING)
        return -1;
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
    memset(en, 0, sizeof(*en));
    li = strlen(e->element[0]->str);
    lt = type ? strlen(type) : 0;
    lj = json ? strlen(json) : 0;
    if (!(en->id = malloc(li + lt + lj + 3)))
        return -1;
    memcpy(en->id, e->element[0]->str, li + 1);
    en->type = en->id + li + 1;
    memcpy(en->type, type ? type : "", lt + 1);
    en->json = en->type + lt + 1;
    memcpy(en->json, json ? json : "", lj + 1);
    /* an entry without both is not an event: acknowledged with nothing to
     * deliver (record_event finds no id in "") */
    return 0;
}

/* Records the entries' deliveries off the loop; the show's next read waits
 * for it (s->reading stays set until dispatch_done). 0, or -1 when nothing
 * was queued (the read may start again). */
static int dispatch_entries(webhooks *w, show_stream *s, const redisReply *list)
{
    dispatch_job *j;
    size_t i;

    if (!list || list->type != REDIS_REPLY_ARRAY || list->elements == 0)
        return -1;
    if (!(j = calloc(1, sizeof(*j))) || !(j->e = calloc(list->elements, sizeof(*j->e)))) {
        free(j);
        return -1; /* left pending: read again later */
    }
    snprintf(j->show, sizeof(j->show), "%s", s->id);
    snprintf(j->key, sizeof(j->key), "%s", s->key);
    for (i = 0; i < list->elements; i++)
        if (copy_entry(list->element[i], &j->e[j->n]) == 0)
            j->n++;
    s->reading = 1;
    wh_submit(w, &j->h, dispatch_run, dispatch_done);
    return 0;
}

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

/* An attempt's outcome, written on the thread; the job has ended already
 * (the row is bookkeeping: a lost update costs at most one repeated POST,
 * as a crash between the POST and the write always could). */
typedef struct record_job {
    wh_job h;
    ledger_delivery d; /* no payload */
    int64_t now;
    int rc;
    char why[256];
} record_job;

static void record_run(ledger *l, ledger_job *job)
{
    record_job *j = job->data;
    j->rc = ledger_delivery_update(l, &j->d, j->now);
    if (j->rc)
        snprintf(j->why, sizeof(j->why), "%s", ledger_errmsg(l));
}

static void record_done(ledger_job *job)
{
    record_job *j = job->data;
    webhooks *w = j->h.w;
    if (!wh_job_back(&j->h) && j->rc && j->rc != LEDGER_ENOTFOUND && !w->ledger_failing++)
        sm_warn("webhooks: cannot record delivery %lld: %s", (long long)j->d.id, j->why);
    free(j);
}

/* Writes an attempt's outcome. A delivery discarded meanwhile (the API) is
 * gone: nothing to record, and its job ends when it next runs. */
static void record_attempt(webhooks *w, const ledger_delivery *d, int64_t now)
{
    record_job *j = calloc(1, sizeof(*j));
    if (!j) {
        sm_warn("webhooks: cannot record delivery %lld: out of memory", (long long)d->id);
        return;
    }
    j->d = *d;
    j->d.payload = NULL;
    j->now = now;
    wh_submit(w, &j->h, record_run, record_done);
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

/* The start of an attempt: the delivery and its webhook, read on the
 * thread. */
typedef struct start_job {
    wh_job h;
    jobq_job *job;
    int64_t id;
    int att;
    ledger_delivery d;
    ledger_webhook hook;
    int rc, gone, hook_rc;
    char why[256];
} start_job;

static void start_run(ledger *l, ledger_job *job)
{
    start_job *j = job->data;
    j->rc = ledger_delivery_get(l, j->id, &j->d);
    if (j->rc) {
        j->gone = strstr(ledger_errmsg(l), "no such") != NULL;
        snprintf(j->why, sizeof(j->why), "%s", ledger_errmsg(l));
        return;
    }
    j->hook_rc = ledger_webhook_get(l, j->d.webhook_id, &j->hook);
}

static void start_done(ledger_job *job)
{
    start_job *j = job->data;
    webhooks *w = j->h.w;
    jobq_job *qj = j->job;
    transfer *t;

    if (wh_job_back(&j->h)) {
        jobq_done(qj); /* after jobq_destroy: only frees it; it stays pending in Redis */
        goto out;
    }
    if (j->rc) {
        if (!j->gone)
            ledger_trouble(w, "read a delivery", j->why);
        if (j->gone)
            jobq_done(qj);
        else
            jobq_retry(qj, w->o.backoff_ms, NULL);
        goto out;
    }
    if (j->d.attempts != j->att || strcmp(j->d.status, "ok") == 0 ||
        strcmp(j->d.status, "dead") == 0 || j->hook_rc != 0) {
        jobq_done(qj);
        goto out;
    }
    if (!(t = calloc(1, sizeof(*t)))) {
        jobq_retry(qj, w->o.backoff_ms, NULL);
        goto out;
    }
    t->w = w;
    t->job = qj;
    t->next = w->transfers;
    w->transfers = t;
    w->in_flight++;
    t->d = j->d;
    t->body = t->d.payload; /* the transfer owns it now */
    t->d.payload = NULL;
    j->d.payload = NULL;
    if (build_request(w, t, &j->hook))
        finish_attempt(t, 0, "cannot build the request (bad secret, or out of memory)");
out:
    ledger_delivery_clear(&j->d);
    sodium_memzero(&j->hook, sizeof(j->hook));
    free(j);
}

/* The "webhook" job: payload "DELIVERY_ID ATTEMPTS". A job whose attempts
 * count is not the delivery's any more is stale (a retry from the API
 * replaced it, or it already ran): it just ends. */
static void on_job(void *arg, jobq_job *job)
{
    webhooks *w = arg;
    long long id = 0;
    int att = -1;
    start_job *j;

    if (sscanf(jobq_job_payload(job), "%lld %d", &id, &att) != 2) {
        jobq_done(job);
        return;
    }
    if (!(j = calloc(1, sizeof(*j)))) {
        jobq_retry(job, w->o.backoff_ms, NULL);
        return;
    }
    j->job = job;
    j->id = id;
    j->att = att;
    wh_submit(w, &j->h, start_run, start_done);
}

/* ---- the API's retry ---- */

int webhooks_retry_prepare(ledger *l, int64_t delivery_id, ledger_delivery *out,
                           ledger_delivery *before)
{
    ledger_delivery d;
    int rc;

    memset(out, 0, sizeof(*out));
    rc = ledger_delivery_get(l, delivery_id, &d);
    if (rc)
        return rc;
    ledger_delivery_clear(&d);
    if (strcmp(d.status, "failed") != 0 && strcmp(d.status, "dead") != 0)
        return LEDGER_EINVAL;
    *before = d;
    snprintf(d.status, sizeof(d.status), "pending");
    d.base_attempts = d.attempts;
    d.next_attempt_at = sm_now_ms();
    rc = ledger_delivery_update(l, &d, sm_now_ms());
    if (rc)
        return rc;
    *out = d;
    return 0;
}

int webhooks_retry_queue(webhooks *w, const ledger_delivery *d, const ledger_delivery *before)
{
    if (rconn_up(w->conn) && queue_delivery(w, d->id, d->attempts) == 0)
        return 0;
    record_attempt(w, before, sm_now_ms()); /* as it was: nothing changed */
    return -1;
}

int webhooks_redis_up(const webhooks *w)
{
    return rconn_up(w->conn);
}

int webhooks_discard_run(ledger *l, int64_t delivery_id)
{
    ledger_delivery d;
    int rc = ledger_delivery_get(l, delivery_id, &d);
    if (rc)
        return rc;
    ledger_delivery_clear(&d);
    if (strcmp(d.status, "ok") == 0)
        return LEDGER_EINVAL;
    rc = ledger_delivery_delete(l, delivery_id);
    if (rc == 0)
        sm_info("webhook %lld: delivery %lld of %s discarded (%s, %d attempts)",
                (long long)d.webhook_id, (long long)d.id, d.event_id, d.status, d.attempts);
    return rc;
}

/* ---- life ---- */

int webhooks_create(uv_loop_t *loop, ledger *l, ledger_queue *lq, const webhooks_opts *o,
                    webhooks **out)
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
    w->lq = lq;
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
    if (w->closing && w->handles_open == 0 && w->reads_out == 0 && w->jobs_out == 0) {
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
