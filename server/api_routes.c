/*
 * api_routes.c - the route table of the API: adding an endpoint is a row
 * here and a handler in the api_*.c file of its resource.
 */
#include "api.h"

/* Resolves {show} (404 unknown_show), then checks the role: staff routes
 * finish later, once the database has answered (api_staff_admit). */
static int admit(http_req *r, const http_route *row, http_params *p)
{
    app *a = http_req_ctx(r);
    const char *id = http_param(p, "show");
    if (id) {
        p->show = shows_get(a->shows, id);
        if (!p->show) {
            http_respond_error(r, OUT_UNKNOWN_SHOW, NULL, NULL);
            return -1;
        }
    }
    return row->role == HTTP_ANYONE ? 0 : api_staff_admit(r, row, p);
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
