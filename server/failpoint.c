/*
 * failpoint.c - see failpoint.h. A fixed table of names, armed from one
 * environment variable at start; nothing here when the build has no
 * failpoints.
 */
#include "failpoint.h"

#ifdef SEATMAP_FAILPOINTS
#include "util.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Points are hit from the loop and from the booking thread (ledger.write). */
static pthread_mutex_t fp_mu = PTHREAD_MUTEX_INITIALIZER;

typedef enum fp_action { FP_OFF = 0, FP_CRASH, FP_ERROR, FP_DELAY } fp_action;

typedef struct fp {
    const char *name;
    fp_action action;
    long delay_ms;
    long remaining; /* -1: forever */
} fp;

static fp points[] = {
    {"confirm.before_freeze", FP_OFF, 0, -1},
    {"confirm.after_freeze", FP_OFF, 0, -1},
    {"confirm.freeze_reply", FP_OFF, 0, -1},
    {"confirm.before_commit", FP_OFF, 0, -1},
    {"confirm.after_commit", FP_OFF, 0, -1},
    {"confirm.before_book", FP_OFF, 0, -1},
    {"ws.hold", FP_OFF, 0, -1},
    {"ws.release", FP_OFF, 0, -1},
    {"show.sweep", FP_OFF, 0, -1},
    {"show.expire", FP_OFF, 0, -1},
    {"store.reply", FP_OFF, 0, -1},
    {"ledger.write", FP_OFF, 0, -1},
};
#define NPOINTS (sizeof(points) / sizeof(points[0]))

static fp *find(const char *name, size_t len)
{
    size_t i;
    for (i = 0; i < NPOINTS; i++)
        if (strlen(points[i].name) == len && strncmp(points[i].name, name, len) == 0)
            return &points[i];
    return NULL;
}

/* One "name=action[*N]" of length len. */
static int arm_one(const char *s, size_t len, char *err, size_t errlen)
{
    const char *eq = memchr(s, '=', len), *a, *end = s + len, *star;
    char word[64];
    fp *p;
    size_t n;
    long count = -1, ms = 0;
    fp_action act;

    if (!eq) {
        snprintf(err, errlen, "failpoint '%.*s' wants NAME=ACTION", (int)len, s);
        return -1;
    }
    if (!(p = find(s, (size_t)(eq - s)))) {
        snprintf(err, errlen, "unknown failpoint '%.*s' (SEATMAP_FAILPOINTS=list names them)",
                 (int)(eq - s), s);
        return -1;
    }
    a = eq + 1;
    star = memchr(a, '*', (size_t)(end - a));
    if (star) {
        char num[24], *e;
        n = (size_t)(end - star - 1);
        if (n == 0 || n >= sizeof(num)) {
            snprintf(err, errlen, "failpoint %s: '*' wants a count", p->name);
            return -1;
        }
        memcpy(num, star + 1, n);
        num[n] = '\0';
        count = strtol(num, &e, 10);
        if (*e || count < 1) {
            snprintf(err, errlen, "failpoint %s: '*' wants a count from 1", p->name);
            return -1;
        }
        end = star;
    }
    n = (size_t)(end - a);
    if (n >= sizeof(word)) {
        snprintf(err, errlen, "failpoint %s: action too long", p->name);
        return -1;
    }
    memcpy(word, a, n);
    word[n] = '\0';
    if (strcmp(word, "crash") == 0) {
        act = FP_CRASH;
    } else if (strcmp(word, "error") == 0) {
        act = FP_ERROR;
    } else if (strcmp(word, "off") == 0) {
        act = FP_OFF;
    } else if (sscanf(word, "delay(%ld)", &ms) == 1 && ms >= 0 && ms <= 600000 &&
               word[n - 1] == ')') {
        act = FP_DELAY;
    } else {
        snprintf(err, errlen,
                 "failpoint %s: unknown action '%s' (crash, error, delay(MS) or off, "
                 "optionally *N)",
                 p->name, word);
        return -1;
    }
    p->action = act;
    p->delay_ms = ms;
    p->remaining = count;
    return 0;
}

int failpoint_configure(const char *spec, char *err, size_t errlen)
{
    const char *s = spec, *comma;
    size_t i;

    for (i = 0; i < NPOINTS; i++)
        points[i].action = FP_OFF;
    while (s && *s) {
        comma = strchr(s, ',');
        if (!comma)
            comma = s + strlen(s);
        if (comma > s && arm_one(s, (size_t)(comma - s), err, errlen))
            return -1;
        s = *comma ? comma + 1 : comma;
    }
    return 0;
}

int failpoint_init(void)
{
    const char *spec = getenv("SEATMAP_FAILPOINTS");
    char err[256];
    size_t i;

    if (!spec || !*spec)
        return 0;
    if (strcmp(spec, "list") == 0) {
        for (i = 0; i < NPOINTS; i++)
            printf("%s\n", points[i].name);
        exit(0);
    }
    if (failpoint_configure(spec, err, sizeof(err))) {
        fprintf(stderr, "seatmapd: SEATMAP_FAILPOINTS: %s\n", err);
        return -1;
    }
    sm_warn("failpoints armed: %s (a test build)", spec);
    return 0;
}

int failpoint_hit(const char *name)
{
    fp *p = find(name, strlen(name));
    fp_action act;
    struct timespec ts;

    if (!p)
        return 0;
    pthread_mutex_lock(&fp_mu);
    act = p->action;
    if (act != FP_OFF && p->remaining > 0 && --p->remaining == 0)
        p->action = FP_OFF;
    pthread_mutex_unlock(&fp_mu);
    switch (act) {
    case FP_CRASH:
        sm_warn("failpoint %s: crash", name);
        _exit(99);
    case FP_ERROR:
        sm_warn("failpoint %s: error", name);
        return -1;
    case FP_DELAY:
        ts.tv_sec = p->delay_ms / 1000;
        ts.tv_nsec = (p->delay_ms % 1000) * 1000000L;
        nanosleep(&ts, NULL);
        return 0;
    default:
        return 0;
    }
}
#else
/* ISO C wants something in a translation unit. */
typedef int failpoint_unused_;
#endif
