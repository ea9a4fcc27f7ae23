/*
 * stats.c - histogram, clocks and /proc readers for the load generator.
 */
#include "stats.h"

#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

/*
 * Bucket layout: values below 2*HIST_SUB are exact; above, each power of two
 * is split into HIST_SUB equal buckets.
 */
static unsigned hist__index(uint64_t v)
{
    unsigned e, shift;

    if (v < 2 * HIST_SUB)
        return (unsigned)v;
    e = 63u - (unsigned)__builtin_clzll(v); /* >= 7 */
    shift = e - 6;
    return 2 * HIST_SUB + (e - 7) * HIST_SUB + (unsigned)((v >> shift) - HIST_SUB);
}

/* Middle of bucket i. */
static int64_t hist__value(unsigned i)
{
    unsigned e, shift;
    uint64_t top;

    if (i < 2 * HIST_SUB)
        return i;
    e = (i - 2 * HIST_SUB) / HIST_SUB + 7;
    top = (i - 2 * HIST_SUB) % HIST_SUB + HIST_SUB;
    shift = e - 6;
    return (int64_t)((top << shift) + ((1ull << shift) >> 1));
}

void hist_init(hist *h)
{
    memset(h, 0, sizeof(*h));
    h->min = INT64_MAX;
    h->max = INT64_MIN;
}

void hist_add(hist *h, int64_t us)
{
    if (us < h->min)
        h->min = us;
    if (us > h->max)
        h->max = us;
    h->sum += (double)us;
    h->count++;
    if (us < 0) {
        h->negative++;
        us = 0;
    }
    h->b[hist__index((uint64_t)us)]++;
}

void hist_merge(hist *dst, const hist *src)
{
    if (!src->count)
        return;
    if (src->min < dst->min)
        dst->min = src->min;
    if (src->max > dst->max)
        dst->max = src->max;
    dst->sum += src->sum;
    dst->count += src->count;
    dst->negative += src->negative;
    for (unsigned i = 0; i < HIST_BUCKETS; i++)
        dst->b[i] += src->b[i];
}

int64_t hist_quantile(const hist *h, double q)
{
    uint64_t rank, seen = 0;

    if (!h->count)
        return 0;
    if (q >= 1.0)
        return h->max;
    rank = (uint64_t)(q * (double)h->count);
    if (rank >= h->count)
        rank = h->count - 1;
    for (unsigned i = 0; i < HIST_BUCKETS; i++) {
        seen += h->b[i];
        if (seen > rank) {
            int64_t v = hist__value(i);
            return v > h->max ? h->max : v;
        }
    }
    return h->max;
}

int64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* The live children of pid (seatmapd --workers: its workers), at most max. */
static size_t proc_children(pid_t pid, pid_t *out, size_t max)
{
    char path[96];
    long c;
    size_t n = 0;
    FILE *f;

    snprintf(path, sizeof(path), "/proc/%d/task/%d/children", (int)pid, (int)pid);
    if (!(f = fopen(path, "r")))
        return 0;
    while (n < max && fscanf(f, "%ld", &c) == 1)
        out[n++] = (pid_t)c;
    fclose(f);
    return n;
}

#define PROC_CHILDREN_MAX 128

static int64_t proc_cpu_us_one(pid_t pid);
static long proc_status_kb_one(pid_t pid, const char *field);

/* A supervisor's figures include its workers': the server is all of them. */
int64_t proc_cpu_us(pid_t pid)
{
    pid_t kids[PROC_CHILDREN_MAX];
    size_t n = pid > 0 ? proc_children(pid, kids, PROC_CHILDREN_MAX) : 0, i;
    int64_t us = proc_cpu_us_one(pid), k;
    for (i = 0; us >= 0 && i < n; i++)
        if ((k = proc_cpu_us_one(kids[i])) > 0)
            us += k;
    return us;
}

long proc_status_kb(pid_t pid, const char *field)
{
    pid_t kids[PROC_CHILDREN_MAX];
    size_t n = pid > 0 ? proc_children(pid, kids, PROC_CHILDREN_MAX) : 0, i;
    long kb = proc_status_kb_one(pid, field), k;
    for (i = 0; kb >= 0 && i < n; i++)
        if ((k = proc_status_kb_one(kids[i], field)) > 0)
            kb += k;
    return kb;
}

static int64_t proc_cpu_us_one(pid_t pid)
{
    char path[64], line[1024], *p;
    unsigned long long ut = 0, st = 0;
    FILE *f;
    size_t n;

    if (pid <= 0)
        return -1;
    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    f = fopen(path, "r");
    if (!f)
        return -1;
    n = fread(line, 1, sizeof(line) - 1, f);
    fclose(f);
    line[n] = 0;
    /* The command name may hold spaces: fields are counted after its ')'. */
    p = strrchr(line, ')');
    if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
        return -1;
    return (int64_t)((ut + st) * 1000000ull / (unsigned long long)sysconf(_SC_CLK_TCK));
}

static long proc_status_kb_one(pid_t pid, const char *field)
{
    char path[64], line[256];
    size_t flen = strlen(field);
    long kb = -1;
    FILE *f;

    if (pid <= 0)
        return -1;
    snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
    f = fopen(path, "r");
    if (!f)
        return -1;
    while (fgets(line, sizeof(line), f)) {
        if (strncmp(line, field, flen) == 0 && line[flen] == ':') {
            sscanf(line + flen + 1, "%ld", &kb);
            break;
        }
    }
    fclose(f);
    return kb;
}

int64_t self_cpu_us(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (int64_t)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000 + ru.ru_utime.tv_usec +
           ru.ru_stime.tv_usec;
}
