/*
 * test_child.h - what every unit test that starts a real server as a child
 * needs (redis_child.h, pg_child.h): a free loopback port, a nap that
 * survives signals, and waiting for the child to answer with a deadline.
 *
 * Header-only (static functions): each test program is one file.
 */
#ifndef SEATMAP_TEST_CHILD_H
#define SEATMAP_TEST_CHILD_H

#include "util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* A loopback port nobody listens on right now, or -1. */
__attribute__((unused)) static int free_port(void)
{
    struct sockaddr_in a;
    socklen_t len = sizeof(a);
    int fd = socket(AF_INET, SOCK_STREAM, 0), port = -1;
    if (fd < 0)
        return -1;
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
        getsockname(fd, (struct sockaddr *)&a, &len) == 0)
        port = ntohs(a.sin_port);
    close(fd);
    return port;
}

__attribute__((unused)) static void nap_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) && errno == EINTR)
        ;
}

/* Polls answers(arg) every step_ms until it returns 1 (0), the child pid
 * ends (-2, and it is reaped: it could not start, say its port was taken
 * after all), or deadline_ms pass (-1: the child still runs, the caller
 * kills it). */
__attribute__((unused)) static int wait_for_child(pid_t pid, int (*answers)(void *arg), void *arg,
                                                  int64_t deadline_ms, long step_ms)
{
    int64_t deadline = sm_mono_ms() + deadline_ms;
    int status;
    while (sm_mono_ms() < deadline) {
        if (answers(arg))
            return 0;
        if (waitpid(pid, &status, WNOHANG) == pid)
            return -2;
        nap_ms(step_ms);
    }
    return -1;
}

#endif
