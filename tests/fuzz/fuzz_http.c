/*
 * fuzz_http.c - HTTP requests of the JSON API: the route table's matching
 * (http_router.c, with api_routes' admit), JSON bodies (http_req_json and
 * the handlers that read them), and the Cookie header's parsing.
 *
 * Input: byte 0 picks the method; then the path up to '\n' (cut as http.c
 * cuts it), then a Cookie header's value up to '\n', then the body. The
 * request goes through the router as anonymous (staff routes answer 401),
 * then, as an admin, straight to the handlers that read a body or a
 * capture (booking create and cancel on show t1), since socketless requests
 * carry no credentials.
 */
#include "api.h"
#include "fuzz_app.h"
#include "http_request.h"
#include "http_router.h"

#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const http_method methods[] = {HTTP_GET, HTTP_POST, HTTP_DELETE, HTTP_HEAD, HTTP_OTHER};

/* Copies the next line of [*p, end) into out (cut to outlen - 1 bytes). */
static void next_line(const char **p, const char *end, char *out, size_t outlen)
{
    const char *nl = memchr(*p, '\n', (size_t)(end - *p));
    size_t n;
    if (!nl)
        nl = end;
    n = (size_t)(nl - *p);
    if (n >= outlen)
        n = outlen - 1;
    memcpy(out, *p, n);
    out[n] = '\0';
    *p = nl < end ? nl + 1 : end;
}

static http_req *request(app *a, client *conn, http_method m, const char *path, const char *body,
                         size_t len)
{
    http_req *r = http_req_new(NULL, conn, a, m, path);
    if (r && len)
        http_req_add_body(r, body, len);
    return r;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    app *a = fuzz_app_get();
    const char *p = (const char *)data, *end = p + size;
    char path[HTTP_MAX_PATH], cookie[2048], value[256];
    http_method m;
    http_params params;
    ledger_user admin;
    client *conn;
    http_req *r;

    if (size < 1)
        return 0;
    m = methods[data[0] % (sizeof(methods) / sizeof(methods[0]))];
    p++;
    next_line(&p, end, path, sizeof(path));
    next_line(&p, end, cookie, sizeof(cookie));
    http_cookie_get(cookie, API_COOKIE, value, sizeof(value));
    if (!(conn = client_new(NULL, a->cfg.max_queue)))
        return 0;

    if ((r = request(a, conn, m, path, p, (size_t)(end - p))) != NULL) {
        http_router_knows(&api_routes, path);
        http_router_dispatch(&api_routes, r);
        http_req_detach(r);
        http_req_unref(r);
    }

    memset(&admin, 0, sizeof(admin));
    admin.id = 1;
    snprintf(admin.name, sizeof(admin.name), "fuzz");
    snprintf(admin.role, sizeof(admin.role), "admin");
    memset(&params, 0, sizeof(params));
    params.n = 2;
    params.name[0] = "show";
    snprintf(params.value[0], sizeof(params.value[0]), "t1");
    params.name[1] = "id";
    snprintf(params.value[1], sizeof(params.value[1]), "%s", path);
    params.show = shows_get(a->shows, "t1");
    if ((r = request(a, conn, HTTP_POST, "/api/shows/t1/bookings", p, (size_t)(end - p))) != NULL) {
        http_req_set_user(r, &admin);
        api_bookings_create(r, &params);
        http_req_detach(r);
        http_req_unref(r);
    }
    if ((r = request(a, conn, HTTP_DELETE, "/api/shows/t1/bookings/x", NULL, 0)) != NULL) {
        http_req_set_user(r, &admin);
        api_bookings_cancel(r, &params);
        http_req_detach(r);
        http_req_unref(r);
    }
    fuzz_app_drain(a);
    fuzz_drain_client(conn);
    client_detach(conn);
    client_unref(conn);
    return 0;
}
