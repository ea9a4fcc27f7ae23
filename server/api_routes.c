/*
 * api_routes.c - the route table of the API: adding an endpoint is a row
 * here and a handler in the api_*.c file of its resource.
 */
#include "api.h"

#include <stdlib.h>

/* A request whose {show} is not in the cache yet, parked until its load
 * (show_load.h) ends: the request is referenced, and its captures copied. */
typedef struct show_admit {
    show_wait w;
    http_req *r;           /* referenced */
    const http_route *row; /* static */
    http_params p;
} show_admit;

/* After {show} is resolved: the role (staff routes finish later, once the
 * database has answered: api_staff_admit). */
static int admit_role(http_req *r, const http_route *row, http_params *p)
{
    return row->role == HTTP_ANYONE ? 0 : api_staff_admit(r, row, p);
}

static void show_loaded_cb(show_wait *w, show *s, outcome o)
{
    show_admit *k = w->data;
    http_req *r = k->r;

    if (!http_req_alive(r) || http_req_answered(r)) {
        /* gone meanwhile: nobody to answer */
    } else if (!s) {
        if (o == OUT_UNAVAILABLE) {
            http_req_set_retry_after(r, 1);
            http_respond_error(r, o, "the database is not answering; try again", NULL);
        } else {
            http_respond_error(r, OUT_UNKNOWN_SHOW, NULL, NULL);
        }
    } else {
        k->p.show = s;
        if (admit_role(r, k->row, &k->p) == 0)
            k->row->handler(r, &k->p);
    }
    free(k);
    http_req_unref(r);
}

/* Resolves {show} (404 unknown_show; a show not cached yet is loaded off
 * the loop and the route goes on once it is), then checks the role. */
static int admit(http_req *r, const http_route *row, http_params *p)
{
    app *a = http_req_ctx(r);
    const char *id = http_param(p, "show");
    show_admit *k;
    outcome o;

    if (!id)
        return admit_role(r, row, p);
    if (!(k = calloc(1, sizeof(*k)))) {
        http_respond_error(r, OUT_INTERNAL, "out of memory", NULL);
        return -1;
    }
    k->w.data = k;
    o = show_load(a->loader, id, &p->show, &k->w, show_loaded_cb);
    if (o == OUT_MORE) {
        k->r = r;
        http_req_ref(r);
        k->row = row;
        k->p = *p;
        return HTTP_ADMIT_LATER;
    }
    free(k);
    if (o == OUT_OK)
        return admit_role(r, row, p);
    if (o == OUT_UNAVAILABLE) {
        http_req_set_retry_after(r, 1);
        http_respond_error(r, o, "the database is not answering; try again", NULL);
    } else {
        http_respond_error(r, OUT_UNKNOWN_SHOW, NULL, NULL);
    }
    return -1;
}

static const http_route rows[] = {
    {HTTP_POST, "/api/login", HTTP_ANYONE, api_login},
    {HTTP_POST, "/api/logout", HTTP_STAFF, api_logout},
    {HTTP_GET, "/api/me", HTTP_STAFF, api_me},
    {HTTP_GET, "/api/shows", HTTP_ANYONE, api_shows_list},
    {HTTP_GET, "/api/shows/{show}", HTTP_ANYONE, api_show_get},
    {HTTP_GET, "/api/shows/{show}/seats", HTTP_ANYONE, api_show_seats},
    {HTTP_GET, "/api/shows/{show}/holds", HTTP_STAFF, api_show_holds},
    {HTTP_GET, "/api/shows/{show}/bookings", HTTP_STAFF, api_bookings_list},
    {HTTP_POST, "/api/shows/{show}/bookings", HTTP_STAFF, api_bookings_create},
    {HTTP_DELETE, "/api/shows/{show}/bookings/{id}", HTTP_ADMIN, api_bookings_cancel},
    {HTTP_POST, "/api/shows/{show}/best", HTTP_STAFF, api_best},
    {HTTP_GET, "/healthz", HTTP_ANYONE, api_healthz},
    {HTTP_GET, "/metrics", HTTP_ANYONE, api_metrics},
    {HTTP_POST, "/api/webhooks", HTTP_ADMIN, api_webhooks_create},
    {HTTP_GET, "/api/webhooks", HTTP_ADMIN, api_webhooks_list},
    {HTTP_DELETE, "/api/webhooks/{id}", HTTP_ADMIN, api_webhooks_delete},
    {HTTP_GET, "/api/webhooks/{id}/deliveries", HTTP_ADMIN, api_webhooks_deliveries},
    {HTTP_GET, "/api/deliveries/{id}", HTTP_ADMIN, api_delivery_get},
    {HTTP_POST, "/api/deliveries/{id}/retry", HTTP_ADMIN, api_delivery_retry},
    {HTTP_POST, "/api/deliveries/{id}/discard", HTTP_ADMIN, api_delivery_discard},
};

const http_routes api_routes = {rows, sizeof(rows) / sizeof(rows[0]), admit};
