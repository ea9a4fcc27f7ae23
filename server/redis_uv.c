/*
 * redis_uv.c - hiredis <-> libuv glue (see redis_uv.h for why it exists).
 *
 * Writes: once connected, commands issued during a loop turn are written
 * together from a uv_prepare callback, just before the loop waits for I/O,
 * instead of waiting a turn for the socket to report itself writable; or
 * from a uv_check callback, just after the loop's I/O callbacks, if that
 * comes first. The check matters for requests: a hold read from a socket
 * issues its script in the I/O phase, and the next phase that writes would
 * otherwise be the prepare of the next turn, after that turn's timers (a
 * fan-out flush can take tens of ms). Commands issued in one phase still go
 * out in one write. Only when the socket does not take everything is POLLOUT
 * used.
 */
#include "redis_uv.h"

#include <stdlib.h>
#include <sys/ioctl.h>

typedef struct redis_uv {
    uv_poll_t poll;
    uv_prepare_t prepare;
    uv_check_t check;
    redisAsyncContext *ac; /* NULL once hiredis has let go of us */
    int events;
    int writing; /* inside the prepare or check callback's write */
    int open;    /* handles not yet closed */
} redis_uv;

/* hiredis reads at most 16 KB per redisAsyncHandleRead. On a busy loop (a
 * fan-out flush to 10k watchers takes ~80 ms) one read per turn is ~200 KB/s:
 * less than the show channels carry at a few thousand changes/s, so the
 * subscriber fell further behind every second until its keepalive, queued
 * behind the backlog, came too late and the connection was dropped and
 * every watcher resynced. So read what the kernel already holds, up to
 * REDIS_UV_READS_PER_TURN reads, before giving the loop back. */
#define REDIS_UV_READS_PER_TURN 32

static void read_queued(redis_uv *r)
{
    int i, queued;

    for (i = 0; i < REDIS_UV_READS_PER_TURN && r->ac; i++) {
        redisAsyncHandleRead(r->ac); /* may free the context: r->ac is then NULL */
        if (!r->ac || ioctl(r->ac->c.fd, FIONREAD, &queued) != 0 || queued <= 0)
            break;
    }
}

static void on_poll(uv_poll_t *handle, int status, int events)
{
    redis_uv *r = handle->data;

    /* On an error hiredis finds out for itself by reading or writing and
     * reports it through the connect/disconnect callbacks. */
    if (status < 0)
        events = r->events ? r->events : UV_READABLE;
    if (r->ac && (events & UV_WRITABLE))
        redisAsyncHandleWrite(r->ac);
    if (r->ac && (events & UV_READABLE))
        read_queued(r);
}

static void update(redis_uv *r, int add, int del)
{
    int ev = (r->events | add) & ~del;
    if (ev == r->events)
        return;
    r->events = ev;
    if (ev)
        uv_poll_start(&r->poll, ev, on_poll);
    else
        uv_poll_stop(&r->poll);
}

static void write_pending(redis_uv *r)
{
    uv_prepare_stop(&r->prepare);
    uv_check_stop(&r->check);
    if (!r->ac)
        return;
    r->writing = 1;
    redisAsyncHandleWrite(r->ac); /* may free the context: r lives until its handles close */
    r->writing = 0;
}

static void on_prepare(uv_prepare_t *handle)
{
    write_pending(handle->data);
}

static void on_check(uv_check_t *handle)
{
    write_pending(handle->data);
}

static void add_read(void *p)
{
    update(p, UV_READABLE, 0);
}

static void del_read(void *p)
{
    update(p, 0, UV_READABLE);
}

static void add_write(void *p)
{
    redis_uv *r = p;
    /* Connecting, or the socket did not take all of it: wait for POLLOUT. */
    if (!r->ac || !(r->ac->c.flags & REDIS_CONNECTED) || r->writing)
        update(r, UV_WRITABLE, 0);
    else {
        uv_prepare_start(&r->prepare, on_prepare);
        uv_check_start(&r->check, on_check);
    }
}

static void del_write(void *p)
{
    redis_uv *r = p;
    uv_prepare_stop(&r->prepare);
    uv_check_stop(&r->check);
    update(r, 0, UV_WRITABLE);
}

static void on_close(uv_handle_t *h)
{
    redis_uv *r = h->data;
    if (--r->open == 0)
        free(r);
}

static void cleanup(void *p)
{
    redis_uv *r = p;
    r->ac = NULL;
    uv_poll_stop(&r->poll);
    uv_prepare_stop(&r->prepare);
    uv_check_stop(&r->check);
    uv_close((uv_handle_t *)&r->poll, on_close);
    uv_close((uv_handle_t *)&r->prepare, on_close);
    uv_close((uv_handle_t *)&r->check, on_close);
}

int redis_uv_attach(redisAsyncContext *ac, uv_loop_t *loop)
{
    redis_uv *r;

    if (ac->ev.data)
        return -1;
    r = calloc(1, sizeof(*r));
    if (!r)
        return -1;
    if (uv_poll_init_socket(loop, &r->poll, ac->c.fd)) {
        free(r);
        return -1;
    }
    uv_prepare_init(loop, &r->prepare);
    uv_check_init(loop, &r->check);
    r->open = 3;
    r->poll.data = r;
    r->prepare.data = r;
    r->check.data = r;
    r->ac = ac;
    ac->ev.addRead = add_read;
    ac->ev.delRead = del_read;
    ac->ev.addWrite = add_write;
    ac->ev.delWrite = del_write;
    ac->ev.cleanup = cleanup;
    ac->ev.data = r;
    return 0;
}
