/*
 * http_router.h - the API as a table: one row per endpoint with its method,
 * path pattern, the role it needs and its handler (Redis's command table).
 * Adding an endpoint is one row and one function.
 *
 * Patterns are literal segments and {name} captures, e.g.
 * "/api/shows/{show}/bookings/{id}". A path no pattern matches is 404
 * not_found; a path that matches only with another method is 405 with an
 * Allow header's worth of methods in the message.
 *
 * Before a handler runs, the table's `admit` hook (handed in by the layer
 * that owns the table) resolves what the captures name and checks the
 * role; it answers the request itself when it refuses, and may finish
 * later (a staff check reads the database off the loop).
 *
 * Not here: the handlers (api_*.c), the table (api_routes.c).
 */
#ifndef SEATMAP_HTTP_ROUTER_H
#define SEATMAP_HTTP_ROUTER_H

#include "http_request.h"

#define HTTP_MAX_PARAMS 4
#define HTTP_MAX_SEGMENTS 8

typedef enum http_role {
    HTTP_ANYONE = 0,
    HTTP_STAFF, /* a session or an API token, any role */
    HTTP_ADMIN, /* role admin */
} http_role;

struct show;

typedef struct http_params {
    size_t n;
    const char *name[HTTP_MAX_PARAMS]; /* the pattern's names, without braces */
    char value[HTTP_MAX_PARAMS][HTTP_MAX_PATH];
    struct show *show; /* {show}, once admitted */
} http_params;

typedef void http_handler(http_req *r, const http_params *p);

typedef struct http_route {
    http_method method;
    const char *pattern;
    http_role role;
    http_handler *handler;
} http_route;

typedef struct http_routes {
    const http_route *rows;
    size_t n;
    /* 0: go on to the handler; -1: refused and answered; HTTP_ADMIT_LATER:
     * the hook took the request (it needs the database, which answers on
     * the loop later) and calls row->handler itself once admitted, with its
     * own copy of p. Rows are static: the hook may keep row. */
    int (*admit)(http_req *r, const struct http_route *row, http_params *p);
} http_routes;

#define HTTP_ADMIT_LATER 1

/* 1 when the path is one the table has a pattern for (any method). */
int http_router_knows(const http_routes *t, const char *path);
/* Runs the matching handler, or answers 404/405. */
void http_router_dispatch(const http_routes *t, http_req *r);
/* The value of capture `name`, or NULL. */
const char *http_param(const http_params *p, const char *name);

#endif
