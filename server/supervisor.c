/*
 * supervisor.c - the process that keeps --workers N servers running (see
 * supervisor.h). It blocks the signals it cares about and takes them one at
 * a time with sigtimedwait(2), so there are no handlers and no races with
 * waitpid; the timeout wakes it for delayed restarts. It forks before
 * anything is opened (no loop, no database, no Redis), so each worker starts
 * from a clean process.
 */
#include "supervisor.h"

#include "log.h"
#include "server.h"
#include "util.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#define SUPERVISOR_WAKE_MS 1000 /* longest sleep: re-checks restarts due */

typedef struct worker {
    int id;             /* 1..N, stable across restarts */
    pid_t pid;          /* 0 while not running */
    int64_t started_ms; /* monotonic */
    int quick_deaths;   /* deaths within SUPERVISOR_QUICK_DEATH_MS, in a row */
    int starts;         /* times started */
    int64_t restart_at; /* monotonic ms; while pid == 0 */
    int last_status;    /* 0 when it last exited 0 */
} worker;

typedef struct supervisor {
    const config *cfg;
    worker *w;
    int n;
    int live;
    int stopping;
    int any_up;  /* some worker outlived SUPERVISOR_QUICK_DEATH_MS */
    int gave_up; /* the workers cannot start at all */
    sigset_t orig_mask;
} supervisor;

long supervisor_backoff_ms(int deaths)
{
    long ms = SUPERVISOR_BACKOFF_MIN_MS;
    if (deaths <= 0)
        return 0;
    while (--deaths > 0 && ms < SUPERVISOR_BACKOFF_MAX_MS)
        ms *= 2;
    return ms < SUPERVISOR_BACKOFF_MAX_MS ? ms : SUPERVISOR_BACKOFF_MAX_MS;
}

/* The config one worker runs: the port shared, its own metrics port. */
static void worker_config(const config *cfg, int id, config *out)
{
    *out = *cfg;
    out->reuse_port = 1;
    out->worker_id = id;
    if (cfg->metrics_listen[0]) {
        char host[256], err[400];
        int port;
        /* checked by config_parse: PORT + N - 1 fits */
        if (config_split_addr(cfg->metrics_listen, host, sizeof(host), &port, err, sizeof(err)) ==
            0)
            snprintf(out->metrics_listen, sizeof(out->metrics_listen), "%s:%d", host,
                     port + id - 1);
    }
}

/* In the child: never returns. */
static void worker_main(supervisor *s, int id, pid_t parent)
{
    config c;
    /* the supervisor gone (even by kill -9) means drain and stop */
    if (prctl(PR_SET_PDEATHSIG, SIGTERM) != 0 || getppid() != parent)
        _exit(1);
    sigprocmask(SIG_SETMASK, &s->orig_mask, NULL);
    worker_config(s->cfg, id, &c);
    sm_log_set_worker(id);
    exit(server_run(&c));
}

static void start_worker(supervisor *s, worker *w)
{
    pid_t parent = getpid(), pid;

    fflush(NULL); /* nothing buffered twice */
    pid = fork();
    if (pid == 0)
        worker_main(s, w->id, parent);
    if (pid < 0) {
        sm_error("cannot start worker %d (fork: %s); trying again in %d ms", w->id, strerror(errno),
                 SUPERVISOR_BACKOFF_MAX_MS);
        w->restart_at = sm_mono_ms() + SUPERVISOR_BACKOFF_MAX_MS;
        return;
    }
    w->pid = pid;
    w->started_ms = sm_mono_ms();
    w->starts++;
    s->live++;
    sm_info("worker %d started (pid %ld)", w->id, (long)pid);
}

static void describe(int status, char *out, size_t outlen)
{
    if (WIFSIGNALED(status))
        snprintf(out, outlen, "was killed by signal %d (%s)", WTERMSIG(status),
                 strsignal(WTERMSIG(status)));
    else
        snprintf(out, outlen, "exited with status %d", WEXITSTATUS(status));
}

/* One worker that died: when to start it again, or whether to give up. */
static void worker_died(supervisor *s, worker *w, int status)
{
    int64_t now = sm_mono_ms(), lived = now - w->started_ms;
    char how[96];
    long wait;

    describe(status, how, sizeof(how));
    s->live--;
    if (s->stopping) {
        sm_info("worker %d (pid %ld) %s", w->id, (long)w->pid, how);
        /* SIGTERM before its loop took the signal over is a clean stop too */
        w->last_status = WIFSIGNALED(status) && WTERMSIG(status) == SIGTERM ? 0 : status;
        w->pid = 0;
        return;
    }
    w->pid = 0;
    w->last_status = status;
    if (lived >= SUPERVISOR_QUICK_DEATH_MS) {
        w->quick_deaths = 0;
        s->any_up = 1;
    } else {
        w->quick_deaths++;
    }
    /* A first start that failed by itself, before any worker ever ran:
     * the config or the machine is wrong (the worker said why), and
     * restarting would only repeat it. */
    if (!s->any_up && w->starts == 1 && w->quick_deaths && WIFEXITED(status) &&
        WEXITSTATUS(status) != 0) {
        sm_error("worker %d %s at start: the workers cannot start, stopping", w->id, how);
        s->gave_up = 1;
        return;
    }
    wait = supervisor_backoff_ms(w->quick_deaths);
    w->restart_at = now + wait;
    if (w->quick_deaths > 1)
        sm_warn("worker %d %s %.1f s after its start (%d times in a row); starting it again "
                "in %ld ms",
                w->id, how, (double)lived / 1000.0, w->quick_deaths, wait);
    else
        sm_warn("worker %d %s after %.1f s; starting it again", w->id, how, (double)lived / 1000.0);
}

static void reap(supervisor *s)
{
    int status, i;
    pid_t pid;

    while ((pid = waitpid(-1, &status, WNOHANG)) > 0)
        for (i = 0; i < s->n; i++)
            if (s->w[i].pid == pid)
                worker_died(s, &s->w[i], status);
}

static void signal_all(supervisor *s, int sig)
{
    int i;
    for (i = 0; i < s->n; i++)
        if (s->w[i].pid > 0)
            kill(s->w[i].pid, sig);
}

/* How long sigtimedwait may sleep: until the next restart that is due. */
static long next_wake_ms(const supervisor *s)
{
    int64_t now = sm_mono_ms(), wake = now + SUPERVISOR_WAKE_MS;
    int i;
    for (i = 0; i < s->n && !s->stopping; i++)
        if (s->w[i].pid == 0 && s->w[i].restart_at < wake)
            wake = s->w[i].restart_at;
    return wake > now ? (long)(wake - now) : 0;
}

static void start_due(supervisor *s)
{
    int64_t now = sm_mono_ms();
    int i;
    for (i = 0; i < s->n; i++) {
        worker *w = &s->w[i];
        if (w->pid > 0 && !s->any_up && now - w->started_ms >= SUPERVISOR_QUICK_DEATH_MS)
            s->any_up = 1;
        if (w->pid == 0 && w->restart_at <= now)
            start_worker(s, w);
    }
}

static void on_signal(supervisor *s, int sig)
{
    if (sig == SIGCHLD) {
        reap(s);
    } else if (sig == SIGHUP) {
        if (s->cfg->log_file[0])
            sm_log_reopen();
        signal_all(s, SIGHUP);
    } else if (sig == SIGTERM || sig == SIGINT) {
        if (!s->stopping)
            sm_info("%s: stopping %d worker%s", strsignal(sig), s->live, s->live == 1 ? "" : "s");
        s->stopping = 1;
        signal_all(s, SIGTERM);
    }
}

static int run(supervisor *s)
{
    sigset_t set;
    int i, status = 0;

    sigemptyset(&set);
    sigaddset(&set, SIGCHLD);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    if (sigprocmask(SIG_BLOCK, &set, &s->orig_mask) != 0) {
        sm_error("cannot block signals: %s", strerror(errno));
        return 1;
    }
    sm_info("starting %d workers on %s:%d", s->n, s->cfg->listen_host, s->cfg->listen_port);
    start_due(s);
    while (!(s->stopping && s->live == 0)) {
        long ms = next_wake_ms(s);
        struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
        int sig = sigtimedwait(&set, NULL, &ts);
        if (sig > 0)
            on_signal(s, sig);
        reap(s); /* SIGCHLD is not queued: one signal may stand for several */
        if (s->gave_up && !s->stopping) {
            s->stopping = 1;
            signal_all(s, SIGTERM);
        }
        if (!s->stopping)
            start_due(s);
    }
    for (i = 0; i < s->n; i++)
        if (s->w[i].last_status != 0)
            status = 1;
    sm_info("all workers stopped");
    return s->gave_up ? 1 : status;
}

int supervisor_run(const config *cfg)
{
    supervisor s;
    char err[1200];
    int i, rc;

    if (sm_log_setup(cfg->log_level, cfg->log_format, cfg->log_file, err, sizeof(err))) {
        fprintf(stderr, "seatmapd: %s\n", err);
        return 1;
    }
    memset(&s, 0, sizeof(s));
    s.cfg = cfg;
    s.n = cfg->workers;
    if (!(s.w = calloc((size_t)s.n, sizeof(*s.w)))) {
        fprintf(stderr, "seatmapd: out of memory\n");
        return 1;
    }
    for (i = 0; i < s.n; i++)
        s.w[i].id = i + 1;
    rc = run(&s);
    free(s.w);
    return rc;
}
