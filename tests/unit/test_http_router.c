/*
 * test_http_router.c - unit tests of server/http_router.c: which paths a
 * route table knows (literal segments, {name} captures, trailing and doubled
 * slashes, too many segments), which row a request is dispatched to by
 * method, what the captures hold, and the admit hook running before the
 * handler with the row's role.
 *
 * Requests are made with no socket (http_req_new with wsi NULL): the
 * handlers and the admit hook run, but answers (404, 405) are not written
 * anywhere, so the tests see only that no handler ran.
 *
 * Not here: the real table (api_routes.c) and its answers; the integration
 * tests drive those over HTTP.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "client.h"
#include "http_request.h"
#include "http_router.h"

#include <stdio.h>
#include <string.h>

/* What the last dispatch did. */
static struct {
    int handler;     /* which handler ran: 0 none */
    int admitted;    /* times the admit hook ran */
    http_role role;  /* the role it was asked for */
    int refuse;      /* the hook refuses */
    http_params got; /* the captures the handler saw */
} seen;

static void h_list(http_req *r, const http_params *p)
{
    (void)r;
    seen.handler = 1;
    seen.got = *p;
}

static void h_show(http_req *r, const http_params *p)
{
    (void)r;
    seen.handler = 2;
    seen.got = *p;
}

static void h_bookings(http_req *r, const http_params *p)
{
    (void)r;
    seen.handler = 3;
    seen.got = *p;
}

static void h_book(http_req *r, const http_params *p)
{
    (void)r;
    seen.handler = 4;
    seen.got = *p;
}

static void h_cancel(http_req *r, const http_params *p)
{
    (void)r;
    seen.handler = 5;
    seen.got = *p;
}

static int admit(http_req *r, const http_route *row, http_params *p)
{
    (void)r;
    (void)p;
    seen.admitted++;
    seen.role = row->role;
    return seen.refuse ? -1 : 0;
}

static const http_route rows[] = {
    {HTTP_GET, "/api/shows", HTTP_ANYONE, h_list},
    {HTTP_GET, "/api/shows/{show}", HTTP_ANYONE, h_show},
    {HTTP_GET, "/api/shows/{show}/bookings", HTTP_STAFF, h_bookings},
    {HTTP_POST, "/api/shows/{show}/bookings", HTTP_STAFF, h_book},
    {HTTP_DELETE, "/api/shows/{show}/bookings/{id}", HTTP_ADMIN, h_cancel},
};

static const http_routes table = {rows, sizeof(rows) / sizeof(rows[0]), admit};
static const http_routes table_no_admit = {rows, sizeof(rows) / sizeof(rows[0]), NULL};

/* Dispatches a socketless request; returns the handler that ran (0: none). */
static int dispatch(const http_routes *t, http_method m, const char *path)
{
    client *conn = client_new(NULL, 1u << 20);
    http_req *r;

    assert_non_null(conn);
    r = http_req_new(NULL, conn, NULL, m, path);
    assert_non_null(r);
    memset(&seen.got, 0, sizeof(seen.got));
    seen.handler = 0;
    seen.admitted = 0;
    seen.role = -1;
    http_router_dispatch(t, r);
    http_req_unref(r);
    client_unref(conn);
    return seen.handler;
}

static void knows_its_patterns(void **state)
{
    (void)state;
    assert_true(http_router_knows(&table, "/api/shows"));
    assert_true(http_router_knows(&table, "/api/shows/demo"));
    assert_true(http_router_knows(&table, "/api/shows/demo/bookings"));
    assert_true(http_router_knows(&table, "/api/shows/demo/bookings/12"));
    /* a capture takes any one segment */
    assert_true(http_router_knows(&table, "/api/shows/x.y-z/bookings/abc"));

    assert_false(http_router_knows(&table, "/"));
    assert_false(http_router_knows(&table, ""));
    assert_false(http_router_knows(&table, "/api"));
    assert_false(http_router_knows(&table, "/api/show"));
    assert_false(http_router_knows(&table, "/api/showsx"));
    assert_false(http_router_knows(&table, "/api/Shows"));
    assert_false(http_router_knows(&table, "/api/shows/demo/holds"));
    assert_false(http_router_knows(&table, "/api/shows/demo/bookings/12/x"));
    assert_false(http_router_knows(&table, "/x/shows/demo"));
}

/* Segments are split on '/', and empty ones are dropped: a trailing or a
 * doubled slash names the same resource. */
static void slashes(void **state)
{
    (void)state;
    assert_true(http_router_knows(&table, "/api/shows/"));
    assert_true(http_router_knows(&table, "/api/shows/demo/"));
    assert_true(http_router_knows(&table, "//api//shows"));
    assert_true(http_router_knows(&table, "api/shows"));
    assert_int_equal(dispatch(&table, HTTP_GET, "/api/shows/demo/"), 2);
    assert_string_equal(http_param(&seen.got, "show"), "demo");
}

static void too_many_segments(void **state)
{
    char path[HTTP_MAX_PATH];
    const http_route deep_rows[] = {
        {HTTP_GET, "/a/b/c/d/e/f/g/h", HTTP_ANYONE, h_list},
        {HTTP_GET, "/a/b/c/d/e/f/g/h/i", HTTP_ANYONE, h_show},
    };
    const http_routes deep = {deep_rows, 2, NULL};
    int i;
    (void)state;
    /* HTTP_MAX_SEGMENTS segments are fine; one more matches nothing, not
     * even a pattern that has as many. */
    assert_int_equal(HTTP_MAX_SEGMENTS, 8);
    assert_true(http_router_knows(&deep, "/a/b/c/d/e/f/g/h"));
    assert_false(http_router_knows(&deep, "/a/b/c/d/e/f/g/h/i"));
    assert_int_equal(dispatch(&deep, HTTP_GET, "/a/b/c/d/e/f/g/h/i"), 0);

    path[0] = '\0';
    for (i = 0; i < 40; i++)
        strcat(path, "/seg");
    assert_false(http_router_knows(&table, path));
}

/* A path longer than the router's buffer is no path it knows, even when
 * the part that fits would match: "/api/shows/demo/bookings/000...01/x"
 * must not be taken for booking 1. */
static void an_overlong_path_is_not_matched_by_its_prefix(void **state)
{
    char path[2 * HTTP_MAX_PATH];
    size_t n;
    (void)state;
    snprintf(path, sizeof(path), "/api/shows/demo/bookings/");
    n = strlen(path);
    /* zeros up to where the router's copy would end, then "1/" across it */
    while (n < HTTP_MAX_PATH - 3)
        path[n++] = '0';
    path[n++] = '1';
    path[n++] = '/';
    path[n] = '\0';
    strcat(path, "anything/else");
    assert_true(strlen(path) >= HTTP_MAX_PATH);
    assert_false(http_router_knows(&table, path));
}

static void dispatches_by_method(void **state)
{
    (void)state;
    assert_int_equal(dispatch(&table, HTTP_GET, "/api/shows"), 1);
    assert_int_equal(seen.got.n, 0);
    assert_int_equal(dispatch(&table, HTTP_GET, "/api/shows/demo/bookings"), 3);
    assert_int_equal(dispatch(&table, HTTP_POST, "/api/shows/demo/bookings"), 4);
    assert_int_equal(dispatch(&table, HTTP_DELETE, "/api/shows/demo/bookings/7"), 5);

    /* The path is known but not with this method (405), or not at all
     * (404): no handler runs, and nothing is admitted. */
    assert_int_equal(dispatch(&table, HTTP_POST, "/api/shows"), 0);
    assert_int_equal(seen.admitted, 0);
    assert_int_equal(dispatch(&table, HTTP_GET, "/api/shows/demo/bookings/7"), 0);
    assert_int_equal(dispatch(&table, HTTP_OTHER, "/api/shows"), 0);
    assert_int_equal(dispatch(&table, HTTP_GET, "/api/nothing"), 0);
    assert_int_equal(seen.admitted, 0);

    /* HEAD runs the GET handler (the answer leaves the body out) */
    assert_int_equal(dispatch(&table, HTTP_HEAD, "/api/shows"), 1);
}

static void captures(void **state)
{
    (void)state;
    assert_int_equal(dispatch(&table, HTTP_DELETE, "/api/shows/demo-2/bookings/1234"), 5);
    assert_int_equal(seen.got.n, 2);
    assert_string_equal(http_param(&seen.got, "show"), "demo-2");
    assert_string_equal(http_param(&seen.got, "id"), "1234");
    assert_null(http_param(&seen.got, "sho"));   /* a prefix of a name is not it */
    assert_null(http_param(&seen.got, "shows")); /* nor a longer word */
    assert_null(http_param(&seen.got, "bookings"));
    assert_null(http_param(&seen.got, ""));
    assert_null(seen.got.show); /* the test's admit hook resolves nothing */

    assert_int_equal(dispatch(&table, HTTP_GET, "/api/shows/other"), 2);
    assert_int_equal(seen.got.n, 1);
    assert_string_equal(http_param(&seen.got, "show"), "other");
    assert_null(http_param(&seen.got, "id"));
}

static void admit_runs_first_with_the_role(void **state)
{
    (void)state;
    seen.refuse = 0;
    assert_int_equal(dispatch(&table, HTTP_GET, "/api/shows"), 1);
    assert_int_equal(seen.admitted, 1);
    assert_int_equal(seen.role, HTTP_ANYONE);
    assert_int_equal(dispatch(&table, HTTP_POST, "/api/shows/demo/bookings"), 4);
    assert_int_equal(seen.role, HTTP_STAFF);
    assert_int_equal(dispatch(&table, HTTP_DELETE, "/api/shows/demo/bookings/1"), 5);
    assert_int_equal(seen.role, HTTP_ADMIN);

    seen.refuse = 1; /* refused: the hook answered, the handler never runs */
    assert_int_equal(dispatch(&table, HTTP_DELETE, "/api/shows/demo/bookings/1"), 0);
    assert_int_equal(seen.admitted, 1);
    assert_int_equal(seen.role, HTTP_ADMIN);
    seen.refuse = 0;

    /* A table without a hook goes straight to the handler. */
    assert_int_equal(dispatch(&table_no_admit, HTTP_GET, "/api/shows/demo"), 2);
    assert_int_equal(seen.admitted, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(knows_its_patterns),
        cmocka_unit_test(slashes),
        cmocka_unit_test(too_many_segments),
        cmocka_unit_test(an_overlong_path_is_not_matched_by_its_prefix),
        cmocka_unit_test(dispatches_by_method),
        cmocka_unit_test(captures),
        cmocka_unit_test(admit_runs_first_with_the_role),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
