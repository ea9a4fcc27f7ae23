/*
 * redis_uv.h - attaches a hiredis async context to a libuv loop.
 *
 * Why our own and not hiredis's adapters/libuv.h: the 0.14.1 adapter drops
 * poll errors (`if (status) return;`), so a refused reconnect after a Redis
 * restart calls neither the connect nor the disconnect callback and requests
 * hang forever. This one hands every poll event, errors included, to hiredis,
 * which then reports the failure through the normal callbacks.
 */
#ifndef SEATMAP_REDIS_UV_H
#define SEATMAP_REDIS_UV_H

#include <hiredis/async.h>
#include <uv.h>

/* Attach before setting the connect callback (PITFALLS.md). 0 or -1.
 * The adapter frees itself when hiredis frees the context. */
int redis_uv_attach(redisAsyncContext *ac, uv_loop_t *loop);

#endif
