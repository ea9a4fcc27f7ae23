/*
 * metrics.c - the metric families of seatmapd and their values (see
 * metrics.h). Storage is static: METRICS_MAX_SERIES series per family, each
 * a value or a histogram, so counting never allocates and never fails.
 * One mutex guards it: the loop counts, and so does the booking thread
 * (ledger_queue.h: database errors); uncontended, it costs tens of
 * nanoseconds per count.
 */
#include "metrics.h"

#include <dirent.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

typedef enum { T_COUNTER, T_GAUGE, T_HISTOGRAM } metric_type;

typedef struct family {
    const char *name;
    metric_type type;
    const char *label; /* the label's name, or NULL */
    const double *buckets;
    int lazy; /* left out until something is recorded (a hook not yet used) */
    const char *help;
} family;

typedef struct series {
    char label[METRICS_LABEL_MAX];
    double value; /* counter, gauge; the sum of a histogram */
    unsigned long long count;
    unsigned long long bucket[METRICS_MAX_BUCKETS]; /* not cumulative */
} series;

/* Buckets, ascending; 0 ends the list (+Inf is implicit). */
static const double b_fast[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                0.1,    0.25,  0.5,    1,     2.5,  5,     0};
/* Finer at the low end: a request's own time is a Redis round trip, well
 * under a millisecond on an idle server. */
static const double b_req[] = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                               0.05,   0.1,     0.25,   0.5,   1,      2.5,   5,    0};
static const double b_late[] = {0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120, 0};

#define C(n, l, h)                                                                                 \
    {                                                                                              \
        n, T_COUNTER, l, NULL, 0, h                                                                \
    }
#define G(n, l, h)                                                                                 \
    {                                                                                              \
        n, T_GAUGE, l, NULL, 0, h                                                                  \
    }
#define H(n, l, b, h)                                                                              \
    {                                                                                              \
        n, T_HISTOGRAM, l, b, 0, h                                                                 \
    }
static const family families[M__COUNT] = {
    [M_CONNECTIONS] = G("seatmap_connections", "protocol", "Open client connections."),
    [M_CONNECTIONS_TOTAL] =
        C("seatmap_connections_total", "protocol", "Client connections accepted."),
    [M_FRAMES_SENT] = C("seatmap_frames_sent_total", "protocol",
                        "Frames written to clients (WebSocket messages, HTTP header and body "
                        "parts)."),
    [M_SENT_BYTES] = C("seatmap_sent_bytes_total", "protocol", "Payload bytes written to clients."),
    [M_CLIENTS_CUT_OFF] = C("seatmap_clients_cut_off_total", NULL,
                            "Connections closed because they did not read their queue."),
    [M_WS_MESSAGES] = C("seatmap_websocket_messages_total", "type",
                        "WebSocket messages received from pages, by type."),
    [M_WS_REQUEST_SECONDS] =
        H("seatmap_ws_request_seconds", "type", b_req,
          "WebSocket requests by type: from reading the request to writing its reply to the "
          "socket (handed to the kernel)."),
    [M_HTTP_REQUESTS] =
        C("seatmap_http_requests_total", "code", "API requests answered, by status code."),
    [M_TICKS] = C("seatmap_ticks_total", NULL, "Fan-out ticks run."),
    [M_DELTAS] =
        C("seatmap_deltas_total", NULL, "Delta frames built (at most one per show per tick)."),
    [M_DELTA_FRAMES] =
        C("seatmap_delta_frames_total", NULL, "Delta frames queued to watchers (fan-out)."),
    [M_DELTA_SEATS] = C("seatmap_delta_seats_total", NULL, "Seat changes carried by deltas."),
    [M_SNAPSHOTS] = C("seatmap_snapshots_total", NULL, "Snapshots sent to watchers."),
    [M_DELTAS_SHED] = C("seatmap_deltas_shed_total", NULL,
                        "Deltas not sent to a watcher whose previous frame was still unsent "
                        "(it gets one merged delta when it drains)."),
    [M_CATCHUPS] = C("seatmap_catchup_deltas_total", "reason",
                     "Merged deltas sent from a watcher's own seq: after it drained, or on a "
                     "resumed watch."),
    [M_FANOUT_SECONDS] = H("seatmap_fanout_duration_seconds", NULL, b_fast,
                           "Time one tick takes to build and queue every delta."),
    [M_RESYNCS] = C("seatmap_resyncs_total", NULL,
                    "Show caches rebuilt from Redis (load, reconnect, missed message)."),
    [M_HOLDS] = C("seatmap_holds_total", "outcome", "Hold requests answered, by outcome."),
    [M_RELEASES] = C("seatmap_releases_total", "outcome", "Release requests answered, by outcome."),
    [M_EXPIRIES] = C("seatmap_expiries_total", "source",
                     "Holds expired, by what found them (sweep timer, keyspace event, a "
                     "request on the lapsed hold, reconciliation)."),
    [M_EXPIRY_LATENESS] = H("seatmap_expiry_lateness_seconds", NULL, b_late,
                            "How long after its deadline a hold was expired (Redis clock)."),
    [M_BOOKINGS] = C("seatmap_bookings_total", "outcome",
                     "Bookings attempted (confirmations and walk-up sales), by outcome."),
    [M_CANCELLATIONS] =
        C("seatmap_cancellations_total", "outcome", "Booking cancellations, by outcome."),
    [M_BOOKING_COMMIT] = H("seatmap_booking_commit_seconds", NULL, b_fast,
                           "Duration of the database commit of one booking."),
    [M_REDIS_SECONDS] = H("seatmap_redis_duration_seconds", "script", b_fast,
                          "Round trip of one Redis script, from send to answer."),
    [M_REDIS_ERRORS] = C("seatmap_redis_errors_total", "script",
                         "Redis scripts that got no usable answer (error reply or lost "
                         "connection)."),
    [M_REDIS_RECONNECTS] = C("seatmap_redis_reconnects_total", "connection",
                             "Redis connections re-established after a loss."),
    [M_REDIS_DISCONNECTS] = C("seatmap_redis_disconnects_total", "connection",
                              "Redis connections lost or attempts refused."),
    [M_REDIS_REDIRECTS] = C("seatmap_redis_redirects_total", "kind",
                            "Redis Cluster answers that sent a command elsewhere or made it "
                            "wait: moved, ask, tryagain, clusterdown, migrating (a script "
                            "refused while its slot moves)."),
    [M_DB_ERRORS] = C("seatmap_database_errors_total", "kind",
                      "Database calls that failed: io (any engine error), busy (locked "
                      "too long)."),
    [M_WEBHOOK_QUEUE_DEPTH] = {"seatmap_webhook_queue_depth", T_GAUGE, NULL, NULL, 1,
                               "Webhook deliveries waiting."},
    [M_WEBHOOK_FAILURES] = {"seatmap_webhook_failures_total", T_COUNTER, "reason", NULL, 1,
                            "Webhook delivery attempts that failed."},
    [M_WEBHOOK_DELIVERIES] = {"seatmap_webhook_deliveries_total", T_COUNTER, NULL, NULL, 1,
                              "Webhooks delivered."},
};
#undef C
#undef G
#undef H

static series values[M__COUNT][METRICS_MAX_SERIES];
static unsigned nseries[M__COUNT];
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;

/* The series of `label` in family id, created on first use; past the limit,
 * the "other" series. */
static series *find(metric_id id, const char *label)
{
    series *s;
    unsigned i, n;
    char cut[METRICS_LABEL_MAX];

    if ((unsigned)id >= M__COUNT)
        return NULL;
    s = values[id];
    n = nseries[id];
    if (!families[id].label)
        label = "";
    else if (!label || !*label)
        label = "none";
    if (strlen(label) >= METRICS_LABEL_MAX) {
        memcpy(cut, label, sizeof(cut) - 1);
        cut[sizeof(cut) - 1] = '\0';
        label = cut;
    }
    for (i = 0; i < n; i++)
        if (strcmp(s[i].label, label) == 0)
            return &s[i];
    if (n == METRICS_MAX_SERIES - 1)
        label = "other";
    if (n == METRICS_MAX_SERIES) {
        for (i = 0; i < n; i++)
            if (strcmp(s[i].label, "other") == 0)
                return &s[i];
        return &s[n - 1];
    }
    memcpy(s[n].label, label, strlen(label) + 1); /* fits: cut above */
    nseries[id] = n + 1;
    return &s[n];
}

void metrics_add(metric_id id, const char *label, double v)
{
    series *s;
    pthread_mutex_lock(&mu);
    if ((s = find(id, label)) != NULL && v >= 0)
        s->value += v;
    pthread_mutex_unlock(&mu);
}

void metrics_inc(metric_id id, const char *label)
{
    metrics_add(id, label, 1);
}

void metrics_set(metric_id id, const char *label, double v)
{
    series *s;
    pthread_mutex_lock(&mu);
    if ((s = find(id, label)) != NULL)
        s->value = v;
    pthread_mutex_unlock(&mu);
}

void metrics_gauge_add(metric_id id, const char *label, double v)
{
    series *s;
    pthread_mutex_lock(&mu);
    if ((s = find(id, label)) != NULL)
        s->value += v;
    pthread_mutex_unlock(&mu);
}

void metrics_observe(metric_id id, const char *label, double v)
{
    const double *b;
    series *s;
    int i;

    if ((unsigned)id >= M__COUNT || !(b = families[id].buckets) || isnan(v))
        return;
    pthread_mutex_lock(&mu);
    if ((s = find(id, label)) != NULL) {
        for (i = 0; b[i] > 0 && i < METRICS_MAX_BUCKETS; i++)
            if (v <= b[i])
                break;
        if (i < METRICS_MAX_BUCKETS)
            s->bucket[i]++; /* i at the end means +Inf: only in count */
        s->count++;
        s->value += v;
    }
    pthread_mutex_unlock(&mu);
}

double metrics_value(metric_id id, const char *label)
{
    unsigned i;
    double v = 0;
    if ((unsigned)id >= M__COUNT)
        return 0;
    if (!families[id].label || !label)
        label = "";
    pthread_mutex_lock(&mu);
    for (i = 0; i < nseries[id]; i++)
        if (strcmp(values[id][i].label, label) == 0) {
            v = families[id].type == T_HISTOGRAM ? (double)values[id][i].count
                                                 : values[id][i].value;
            break;
        }
    pthread_mutex_unlock(&mu);
    return v;
}

double metrics_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void metrics_reset(void)
{
    pthread_mutex_lock(&mu);
    memset(values, 0, sizeof(values));
    memset(nseries, 0, sizeof(nseries));
    pthread_mutex_unlock(&mu);
}

/* ---- rendering ---- */

static void add_escaped(sm_buf *b, const char *s, int help)
{
    for (; *s; s++) {
        if (*s == '\\')
            sm_buf_adds(b, "\\\\");
        else if (*s == '\n')
            sm_buf_adds(b, "\\n");
        else if (*s == '"' && !help)
            sm_buf_adds(b, "\\\"");
        else
            sm_buf_addc(b, *s);
    }
}

static void add_number(sm_buf *b, double v)
{
    if (isinf(v))
        sm_buf_adds(b, v > 0 ? "+Inf" : "-Inf");
    else if (isnan(v))
        sm_buf_adds(b, "NaN");
    else if (v == floor(v) && fabs(v) < 1e15)
        sm_buf_printf(b, "%.0f", v);
    else
        sm_buf_printf(b, "%.9g", v);
}

void metrics_header(sm_buf *b, const char *name, const char *type, const char *help)
{
    sm_buf_printf(b, "# HELP %s ", name);
    add_escaped(b, help, 1);
    sm_buf_printf(b, "\n# TYPE %s %s\n", name, type);
}

void metrics_sample(sm_buf *b, const char *name, const char *label, const char *value, double v)
{
    sm_buf_adds(b, name);
    if (label) {
        sm_buf_printf(b, "{%s=\"", label);
        add_escaped(b, value, 0);
        sm_buf_adds(b, "\"}");
    }
    sm_buf_addc(b, ' ');
    add_number(b, v);
    sm_buf_addc(b, '\n');
}

static void render_histogram(sm_buf *b, const family *f, const series *s)
{
    unsigned long long cum = 0;
    int i;

    for (i = 0; f->buckets[i] > 0 && i < METRICS_MAX_BUCKETS; i++) {
        cum += s->bucket[i];
        sm_buf_printf(b, "%s_bucket{", f->name);
        if (f->label) {
            sm_buf_printf(b, "%s=\"", f->label);
            add_escaped(b, s->label, 0);
            sm_buf_adds(b, "\",");
        }
        sm_buf_adds(b, "le=\"");
        add_number(b, f->buckets[i]);
        sm_buf_printf(b, "\"} %llu\n", cum);
    }
    sm_buf_printf(b, "%s_bucket{", f->name);
    if (f->label) {
        sm_buf_printf(b, "%s=\"", f->label);
        add_escaped(b, s->label, 0);
        sm_buf_adds(b, "\",");
    }
    sm_buf_printf(b, "le=\"+Inf\"} %llu\n", s->count);
    {
        char name[128];
        snprintf(name, sizeof(name), "%s_sum", f->name);
        metrics_sample(b, name, f->label, s->label, s->value);
        snprintf(name, sizeof(name), "%s_count", f->name);
        metrics_sample(b, name, f->label, s->label, (double)s->count);
    }
}

static const char *type_word(metric_type t)
{
    return t == T_COUNTER ? "counter" : t == T_GAUGE ? "gauge" : "histogram";
}

int metrics_render(sm_buf *b)
{
    static const series zero;
    int id;
    unsigned i;

    pthread_mutex_lock(&mu); /* a consistent scrape; nothing here counts */
    for (id = 0; id < M__COUNT; id++) {
        const family *f = &families[id];
        if (f->lazy && nseries[id] == 0)
            continue;
        metrics_header(b, f->name, type_word(f->type), f->help);
        /* A family without a label shows its zero; one with a label shows
         * nothing until a value of the label is seen. */
        if (nseries[id] == 0 && !f->label) {
            if (f->type == T_HISTOGRAM)
                render_histogram(b, f, &zero);
            else
                metrics_sample(b, f->name, NULL, NULL, 0);
        }
        for (i = 0; i < nseries[id]; i++) {
            const series *s = &values[id][i];
            if (f->type == T_HISTOGRAM)
                render_histogram(b, f, s);
            else
                metrics_sample(b, f->name, f->label, s->label, s->value);
        }
    }
    pthread_mutex_unlock(&mu);
    return sm_buf_failed(b) ? -1 : 0;
}

/* ---- the process, from /proc/self ---- */

int metrics_parse_stat(const char *text, unsigned long long *cpu_ticks,
                       unsigned long long *start_ticks, unsigned long long *vsize,
                       long long *rss_pages)
{
    /* The command name (field 2) is in parentheses and may hold spaces or
     * parentheses itself: fields are counted from the last ')'. */
    const char *p = strrchr(text, ')');
    unsigned long long utime, stime;
    int n;

    if (!p)
        return -1;
    n = sscanf(p + 1,
               " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu %*d %*d %*d %*d %*d %*d "
               "%llu %llu %lld",
               &utime, &stime, start_ticks, vsize, rss_pages);
    if (n != 5)
        return -1;
    *cpu_ticks = utime + stime;
    return 0;
}

static int read_small_file(const char *path, char *out, size_t outlen)
{
    FILE *f = fopen(path, "r");
    size_t n;
    if (!f)
        return -1;
    n = fread(out, 1, outlen - 1, f);
    fclose(f);
    out[n] = '\0';
    return n ? 0 : -1;
}

static long count_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    struct dirent *e;
    long n = 0;
    if (!d)
        return -1;
    while ((e = readdir(d)))
        if (e->d_name[0] != '.')
            n++;
    closedir(d);
    return n - 1; /* the directory's own descriptor */
}

/* "Max open files  SOFT  HARD  files" of /proc/self/limits. */
static double max_fds(void)
{
    char text[4096], *p;
    if (read_small_file("/proc/self/limits", text, sizeof(text)))
        return -1;
    p = strstr(text, "Max open files");
    if (!p)
        return -1;
    p += strlen("Max open files");
    while (*p == ' ')
        p++;
    return strncmp(p, "unlimited", 9) == 0 ? INFINITY : strtod(p, NULL);
}

/* Seconds since the epoch when the machine booted (btime of /proc/stat). */
static double boot_time(void)
{
    char text[16384], *p;
    if (read_small_file("/proc/stat", text, sizeof(text)))
        return -1;
    p = strstr(text, "\nbtime ");
    return p ? strtod(p + 7, NULL) : -1;
}

int metrics_render_process(sm_buf *b)
{
    char text[2048];
    unsigned long long cpu, start, vsize;
    long long rss;
    long hz = sysconf(_SC_CLK_TCK), page = sysconf(_SC_PAGESIZE), fds = count_fds();
    double maxf = max_fds(), boot = boot_time();

    if (read_small_file("/proc/self/stat", text, sizeof(text)) == 0 &&
        metrics_parse_stat(text, &cpu, &start, &vsize, &rss) == 0 && hz > 0 && page > 0) {
        metrics_header(b, "process_cpu_seconds_total", "counter",
                       "User and system CPU time spent, in seconds.");
        metrics_sample(b, "process_cpu_seconds_total", NULL, NULL, (double)cpu / (double)hz);
        metrics_header(b, "process_resident_memory_bytes", "gauge",
                       "Resident memory size in bytes.");
        metrics_sample(b, "process_resident_memory_bytes", NULL, NULL, (double)rss * (double)page);
        metrics_header(b, "process_virtual_memory_bytes", "gauge", "Virtual memory size in bytes.");
        metrics_sample(b, "process_virtual_memory_bytes", NULL, NULL, (double)vsize);
        if (boot > 0) {
            metrics_header(b, "process_start_time_seconds", "gauge",
                           "Start time of the process since the unix epoch, in seconds.");
            metrics_sample(b, "process_start_time_seconds", NULL, NULL,
                           floor(boot + (double)start / (double)hz));
        }
    }
    if (fds >= 0) {
        metrics_header(b, "process_open_fds", "gauge", "Open file descriptors.");
        metrics_sample(b, "process_open_fds", NULL, NULL, (double)fds);
    }
    if (maxf > 0) {
        metrics_header(b, "process_max_fds", "gauge", "Limit of open file descriptors.");
        metrics_sample(b, "process_max_fds", NULL, NULL, maxf);
    }
    return sm_buf_failed(b) ? -1 : 0;
}
