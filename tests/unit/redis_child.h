/*
 * redis_child.h - a real redis-server for unit tests that need one: started
 * on a free loopback port as a child that dies with the test
 * (PR_SET_PDEATHSIG), waited for with a deadline (PING), killed at the end.
 * Use start_redis / end_redis as a cmocka group setup and teardown; the
 * port is in redis_port. Also run_until, which turns a uv loop until a flag
 * is set or a deadline passes.
 *
 * Header-only (static functions): each test program is one file.
 */
#ifndef SEATMAP_TEST_REDIS_CHILD_H
#define SEATMAP_TEST_REDIS_CHILD_H

#include "test_child.h"
#include "util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <hiredis/hiredis.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#define REDIS_START_DEADLINE_MS 10000

static pid_t redis_pid;
static int redis_port;

static pid_t spawn_redis(int port)
{
    char portstr[16];
    pid_t parent = getpid(), pid;
    snprintf(portstr, sizeof(portstr), "%d", port);
    pid = fork();
    if (pid != 0)
        return pid;
    /* the child: die with the test, keep quiet */
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent)
        _exit(1);
    int devnull = open("/dev/null", O_WRONLY);
    if (devnull >= 0) {
        dup2(devnull, 1);
        dup2(devnull, 2);
    }
    execlp("redis-server", "redis-server", "--port", portstr, "--bind", "127.0.0.1", "--save", "",
           "--appendonly", "no", "--dir", "/tmp", (char *)NULL);
    _exit(127);
}

/* 1 when redis at port answers PING. */
static int redis_answers(int port)
{
    struct timeval tv = {0, 200000};
    redisContext *c = redisConnectWithTimeout("127.0.0.1", port, tv);
    redisReply *r;
    int ok = 0;
    if (!c)
        return 0;
    if (!c->err) {
        r = redisCommand(c, "PING");
        ok = r && r->type == REDIS_REPLY_STATUS && strcmp(r->str, "PONG") == 0;
        freeReplyObject(r);
    }
    redisFree(c);
    return ok;
}

static int redis_port_answers(void *port)
{
    return redis_answers(*(int *)port);
}

/* Waits for PING with a deadline: 0, -2 when the child ended (the port was
 * taken after all), -1 when the deadline passed. */
static int wait_for_redis(pid_t pid, int port)
{
    return wait_for_child(pid, redis_port_answers, &port, REDIS_START_DEADLINE_MS, 20);
}

static void stop_redis(void)
{
    int status;
    if (redis_pid <= 0)
        return;
    kill(redis_pid, SIGKILL);
    waitpid(redis_pid, &status, 0);
    redis_pid = 0;
}

static int start_redis(void **state)
{
    int attempt, rc;
    (void)state;
    signal(SIGPIPE, SIG_IGN);
    for (attempt = 0; attempt < 3; attempt++) {
        redis_port = free_port();
        if (redis_port <= 0)
            continue;
        redis_pid = spawn_redis(redis_port);
        if (redis_pid < 0)
            return -1;
        rc = wait_for_redis(redis_pid, redis_port);
        if (rc == 0)
            return 0;
        if (rc == -2)
            redis_pid = 0;
        stop_redis();
    }
    fprintf(stderr, "cannot start redis-server (is it installed?)\n");
    return -1;
}

static int end_redis(void **state)
{
    (void)state;
    stop_redis();
    return 0;
}

/* Runs loop until *flag is set or deadline_ms pass; the store's health timer
 * wakes the loop four times a second, so UV_RUN_ONCE never blocks long. */
static inline void run_until(uv_loop_t *loop, const int *flag, int64_t deadline_ms)
{
    int64_t deadline = sm_mono_ms() + deadline_ms;
    while (!*flag && sm_mono_ms() < deadline)
        uv_run(loop, UV_RUN_ONCE);
}

#endif
