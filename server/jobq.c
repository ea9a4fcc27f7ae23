/*
 * jobq.c - see jobq.h. Replies from hiredis are read only during their
 * callback; everything kept is copied.
 */
#include "jobq.h"

#include "util.h"

#include <hiredis/hiredis.h>
#include <stdlib.h>
#include <string.h>

#define JOBQ_STREAM "sm:{jobs}:queue"
#define JOBQ_RETRY "sm:{jobs}:retry"
#define JOBQ_GROUP "workers"
#define JOBQ_MAX_TYPES 8
#define JOBQ_PROMOTE_BATCH "100"

/* XACK + XDEL together, so an acknowledged job never lingers in the stream. */
static const char *const done_lua = "redis.call('XACK', KEYS[1], ARGV[1], ARGV[2]) "
                                    "redis.call('XDEL', KEYS[1], ARGV[2]) return 1";
/* Out of the pending list and into the retry set, at once. The member is
 * "type\nid\npayload": the id keeps two equal retries apart. */
static const char *const retry_lua =
    "redis.call('XACK', KEYS[1], ARGV[1], ARGV[2]) redis.call('XDEL', KEYS[1], ARGV[2]) "
    "local t = redis.call('TIME') "
    "local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) "
    "redis.call('ZADD', KEYS[2], now + tonumber(ARGV[3]), ARGV[4] .. '\\n' .. ARGV[2] .. '\\n' .. "
    "ARGV[5]) return 1";
/* Due retries back into the stream. */
static const char *const promote_lua =
    "local t = redis.call('TIME') "
    "local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) "
    "local due = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now, 'LIMIT', 0, ARGV[1]) "
    "for _, m in ipairs(due) do "
    "  local a = string.find(m, '\\n', 1, true) "
    "  local b = string.find(m, '\\n', a + 1, true) "
    "  redis.call('XADD', KEYS[1], '*', 'type', string.sub(m, 1, a - 1), 'payload', "
    "             string.sub(m, b + 1)) "
    "  redis.call('ZREM', KEYS[2], m) "
    "end return #due";

struct jobq_job {
    jobq *q;
    jobq_job *next;
    char id[48];
    char type[JOBQ_TYPE_MAX + 1];
    char *payload;
};

typedef struct handler {
    char type[JOBQ_TYPE_MAX + 1];
    jobq_handler *fn;
    void *arg;
} handler;

struct jobq {
    uv_loop_t *loop;
    rconn *conn;
    char consumer[300];
    unsigned claim_idle_ms, max_in_flight, in_flight;
    handler handlers[JOBQ_MAX_TYPES];
    int nhandlers;
    uv_timer_t poll;
    int reading, claiming, measuring; /* a command of that kind is out */
    int read_own;                     /* next read is of our own pending jobs ("0") */
    int64_t last_claim, last_measure;
    uint64_t depth;
    jobq_job *running;
    int closing, timer_closed;
    int unknown_warned;
};

static void maybe_free(jobq *q)
{
    if (q->closing && q->timer_closed && q->in_flight == 0 && !q->reading && !q->claiming &&
        !q->measuring)
        free(q);
}

static int is_running(const jobq *q, const char *id)
{
    const jobq_job *j;
    for (j = q->running; j; j = j->next)
        if (strcmp(j->id, id) == 0)
            return 1;
    return 0;
}

static void unlink_job(jobq_job *job)
{
    jobq *q = job->q;
    jobq_job **p;
    for (p = &q->running; *p; p = &(*p)->next)
        if (*p == job) {
            *p = job->next;
            break;
        }
    q->in_flight--;
    free(job->payload);
    free(job);
    maybe_free(q);
}

static const handler *find_handler(const jobq *q, const char *type)
{
    int i;
    for (i = 0; i < q->nhandlers; i++)
        if (strcmp(q->handlers[i].type, type) == 0)
            return &q->handlers[i];
    return NULL;
}

/* One stream entry [id, [field, value, ...]] (or [id, nil] when deleted):
 * run it unless it is running here already. */
static void take_entry(jobq *q, const redisReply *e)
{
    const redisReply *id, *f;
    const char *type = NULL, *payload = NULL;
    const handler *h;
    jobq_job *job;
    size_t i;

    if (e->type != REDIS_REPLY_ARRAY || e->elements != 2)
        return;
    id = e->element[0];
    f = e->element[1];
    if (id->type != REDIS_REPLY_STRING || id->len >= sizeof(job->id))
        return;
    if (f->type != REDIS_REPLY_ARRAY) {
        /* deleted while pending: acknowledge it away */
        const char *argv[4] = {"XACK", JOBQ_STREAM, JOBQ_GROUP, id->str};
        rconn_command(q->conn, NULL, NULL, 4, argv, NULL);
        return;
    }
    for (i = 0; i + 1 < f->elements; i += 2) {
        if (f->element[i]->type != REDIS_REPLY_STRING ||
            f->element[i + 1]->type != REDIS_REPLY_STRING)
            continue;
        if (strcmp(f->element[i]->str, "type") == 0)
            type = f->element[i + 1]->str;
        else if (strcmp(f->element[i]->str, "payload") == 0)
            payload = f->element[i + 1]->str;
    }
    if (is_running(q, id->str))
        return;
    if (!type || !payload || !(h = find_handler(q, type))) {
        if (!q->unknown_warned++)
            sm_warn("job %s has a type no handler here knows (%s); leaving it to others", id->str,
                    type ? type : "none");
        return;
    }
    job = calloc(1, sizeof(*job));
    if (!job || !(job->payload = strdup(payload))) {
        free(job);
        return; /* stays pending: claimed again later */
    }
    job->q = q;
    snprintf(job->id, sizeof(job->id), "%s", id->str);
    snprintf(job->type, sizeof(job->type), "%s", type);
    job->next = q->running;
    q->running = job;
    q->in_flight++;
    h->fn(h->arg, job);
}

static void take_entries(jobq *q, const redisReply *list)
{
    size_t i;
    if (!list || list->type != REDIS_REPLY_ARRAY)
        return;
    for (i = 0; i < list->elements && !q->closing; i++)
        take_entry(q, list->element[i]);
}

static void on_read(void *arg, redisReply *r)
{
    jobq *q = arg;
    q->reading = 0;
    if (q->closing) {
        maybe_free(q);
        return;
    }
    if (!r)
        return;
    if (r->type == REDIS_REPLY_ERROR) {
        if (strncmp(r->str, "NOGROUP", 7) == 0)
            jobq_on_connect(q);
        return;
    }
    /* [[stream, [entries]]] or nil */
    if (r->type == REDIS_REPLY_ARRAY && r->elements == 1 &&
        r->element[0]->type == REDIS_REPLY_ARRAY && r->element[0]->elements == 2) {
        const redisReply *entries = r->element[0]->element[1];
        if (q->read_own && entries->elements == 0)
            q->read_own = 0;
        take_entries(q, entries);
    } else if (q->read_own) {
        q->read_own = 0;
    }
}

static void on_claim(void *arg, redisReply *r)
{
    jobq *q = arg;
    q->claiming = 0;
    if (q->closing) {
        maybe_free(q);
        return;
    }
    /* [cursor, [entries], [deleted ids]] */
    if (r && r->type == REDIS_REPLY_ARRAY && r->elements >= 2)
        take_entries(q, r->element[1]);
}

static void on_measure(void *arg, redisReply *r)
{
    jobq *q = arg;
    q->measuring = 0;
    if (q->closing) {
        maybe_free(q);
        return;
    }
    if (r && r->type == REDIS_REPLY_ARRAY && r->elements == 2 &&
        r->element[0]->type == REDIS_REPLY_INTEGER && r->element[1]->type == REDIS_REPLY_INTEGER)
        q->depth = (uint64_t)(r->element[0]->integer + r->element[1]->integer);
}

static void on_log_error(void *arg, redisReply *r)
{
    if (r && r->type == REDIS_REPLY_ERROR)
        sm_warn("job queue: Redis said %s", r->str);
}

static void poll_once(jobq *q)
{
    int64_t now = sm_mono_ms();
    char count[16], idle[16];
    unsigned room = q->max_in_flight - q->in_flight;

    if (!rconn_up(q->conn))
        return;
    {
        const char *argv[6] = {"EVAL",      promote_lua, "2",
                               JOBQ_STREAM, JOBQ_RETRY,  JOBQ_PROMOTE_BATCH};
        rconn_command(q->conn, on_log_error, NULL, 6, argv, NULL);
    }
    snprintf(count, sizeof(count), "%u", room);
    if (!q->reading && room > 0) {
        const char *argv[9] = {"XREADGROUP", "GROUP",     JOBQ_GROUP,
                               q->consumer,  "COUNT",     count,
                               "STREAMS",    JOBQ_STREAM, q->read_own ? "0" : ">"};
        if (rconn_command(q->conn, on_read, q, 9, argv, NULL) == 0)
            q->reading = 1;
    }
    if (!q->claiming && room > 0 && now - q->last_claim >= JOBQ_CLAIM_EVERY_MS) {
        const char *argv[8] = {"XAUTOCLAIM", JOBQ_STREAM, JOBQ_GROUP, q->consumer,
                               idle,         "0-0",       "COUNT",    count};
        snprintf(idle, sizeof(idle), "%u", q->claim_idle_ms);
        q->last_claim = now;
        if (rconn_command(q->conn, on_claim, q, 8, argv, NULL) == 0)
            q->claiming = 1;
    }
    if (!q->measuring && now - q->last_measure >= 1000) {
        const char *argv[5] = {"EVAL",
                               "return {redis.call('XLEN', KEYS[1]), redis.call('ZCARD', KEYS[2])}",
                               "2", JOBQ_STREAM, JOBQ_RETRY};
        q->last_measure = now;
        if (rconn_command(q->conn, on_measure, q, 5, argv, NULL) == 0)
            q->measuring = 1;
    }
}

static void on_poll(uv_timer_t *t)
{
    poll_once(t->data);
}

void jobq_on_connect(jobq *q)
{
    const char *argv[6] = {"XGROUP", "CREATE", JOBQ_STREAM, JOBQ_GROUP, "0", "MKSTREAM"};
    if (q->closing)
        return;
    /* BUSYGROUP (it exists) is the usual answer: nothing to log. */
    rconn_command(q->conn, NULL, NULL, 6, argv, NULL);
    q->read_own = 1;
}

int jobq_create(uv_loop_t *loop, rconn *conn, const char *consumer, unsigned claim_idle_ms,
                unsigned max_in_flight, jobq **out)
{
    jobq *q = calloc(1, sizeof(*q));
    *out = NULL;
    if (!q)
        return -1;
    q->loop = loop;
    q->conn = conn;
    snprintf(q->consumer, sizeof(q->consumer), "%s", consumer);
    q->claim_idle_ms = claim_idle_ms;
    q->max_in_flight = max_in_flight ? max_in_flight : 1;
    q->read_own = 1;
    uv_timer_init(loop, &q->poll);
    q->poll.data = q;
    uv_timer_start(&q->poll, on_poll, JOBQ_POLL_MS, JOBQ_POLL_MS);
    if (rconn_up(conn))
        jobq_on_connect(q);
    *out = q;
    return 0;
}

static void on_timer_closed(uv_handle_t *h)
{
    jobq *q = h->data;
    q->timer_closed = 1;
    maybe_free(q);
}

void jobq_destroy(jobq *q)
{
    if (!q)
        return;
    q->closing = 1;
    uv_close((uv_handle_t *)&q->poll, on_timer_closed);
}

int jobq_handle(jobq *q, const char *type, jobq_handler *h, void *arg)
{
    handler *x;
    if (q->nhandlers == JOBQ_MAX_TYPES || strlen(type) > JOBQ_TYPE_MAX)
        return -1;
    x = &q->handlers[q->nhandlers++];
    snprintf(x->type, sizeof(x->type), "%s", type);
    x->fn = h;
    x->arg = arg;
    return 0;
}

int jobq_push(jobq *q, const char *type, const char *payload)
{
    const char *argv[7] = {"XADD", JOBQ_STREAM, "*", "type", type, "payload", payload};
    if (q->closing || strlen(payload) > JOBQ_PAYLOAD_MAX)
        return -1;
    return rconn_command(q->conn, on_log_error, NULL, 7, argv, NULL);
}

const char *jobq_job_type(const jobq_job *job)
{
    return job->type;
}

const char *jobq_job_payload(const jobq_job *job)
{
    return job->payload;
}

/* If Redis is down the job simply stays pending: XAUTOCLAIM (or our own
 * read of pending jobs after the reconnect) brings it back; the handlers
 * are idempotent. */
void jobq_done(jobq_job *job)
{
    jobq *q = job->q;
    if (!q->closing) {
        const char *argv[6] = {"EVAL", done_lua, "1", JOBQ_STREAM, JOBQ_GROUP, job->id};
        rconn_command(q->conn, on_log_error, NULL, 6, argv, NULL);
    }
    unlink_job(job);
}

void jobq_retry(jobq_job *job, uint64_t delay_ms, const char *payload)
{
    jobq *q = job->q;
    if (!q->closing) {
        char delay[24];
        const char *argv[9] = {"EVAL",     retry_lua, "2",   JOBQ_STREAM, JOBQ_RETRY,
                               JOBQ_GROUP, job->id,   delay, NULL};
        const char *argv2[10];
        snprintf(delay, sizeof(delay), "%llu", (unsigned long long)delay_ms);
        memcpy(argv2, argv, sizeof(argv));
        argv2[8] = job->type;
        argv2[9] = payload ? payload : job->payload;
        rconn_command(q->conn, on_log_error, NULL, 10, argv2, NULL);
    }
    unlink_job(job);
}

uint64_t jobq_depth(const jobq *q)
{
    return q->depth;
}

unsigned jobq_in_flight(const jobq *q)
{
    return q->in_flight;
}
