/*
 * api.h - the handlers of the JSON API, one file per resource:
 * api_auth.c (login, logout, me, and the staff check every staff route
 * passes), api_shows.c (shows, layouts, seat states, holds), api_bookings.c
 * (bookings: confirm, walk-up sale, list, cancel), api_health.c (/healthz).
 * api_routes.c puts them in the route table.
 *
 * Every handler gets the request (its context is the app, app.h) and the
 * captures of its route, {show} already resolved.
 */
#ifndef SEATMAP_API_H
#define SEATMAP_API_H

#include "app.h"
#include "http_router.h"

#define API_SESSION_MS (12LL * 3600 * 1000)
#define API_COOKIE "seatmap_session"

/* The route table of the API (api_routes.c). */
extern const http_routes api_routes;

/* Checks that the request is staff with at least row->role: the session or
 * token is looked up off the loop (api_db.h), then row->handler runs with a
 * copy of p ({show} resolved again), or the request is answered 401/403
 * (503 when the database does not answer in time). HTTP_ADMIT_LATER, or -1
 * when refused at once (no credentials, a foreign Origin) and answered. */
int api_staff_admit(http_req *r, const http_route *row, const http_params *p);

http_handler api_login, api_logout, api_me;
http_handler api_shows_list, api_show_get, api_show_seats, api_show_holds;
http_handler api_bookings_list, api_bookings_create, api_bookings_cancel;
http_handler api_healthz;

/* 1 when the database answered a probe within the last API_DB_PROBE_MS,
 * else 0 (api_health.c; /healthz and /metrics both report it). */
int api_database_up(app *a);
http_handler api_best;

http_handler api_metrics; /* api_metrics.c: GET /metrics, Prometheus text format */
http_handler api_webhooks_create, api_webhooks_list, api_webhooks_delete;
http_handler api_webhooks_deliveries, api_delivery_get, api_delivery_retry, api_delivery_discard;

#endif
