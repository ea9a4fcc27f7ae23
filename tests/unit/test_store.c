/*
 * test_store.c - store.c without the event loop where it can be (URL parsing,
 * backoff, key parsing, error classes), and against a real redis-server
 * where it cannot: every script the server runs must compile in Redis, and
 * the runner must refuse a script it does not know.
 *
 * The group setup starts `redis-server` on a free port as a child (it dies
 * with this process: PR_SET_PDEATHSIG) and waits for PING, with a deadline;
 * the teardown kills it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "embedded.h"
#include "store.h"
#include "util.h"

#include "redis_child.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define STORE_READY_DEADLINE_MS 10000

/* Every script the server runs by name (grep store_run server/). */
static const char *const server_scripts[] = {"hold",   "release",  "freeze", "thaw",
                                             "book",   "reserve",  "cancel", "sweep",
                                             "ensure", "snapshot", "count"};
#define NSCRIPTS (sizeof(server_scripts) / sizeof(server_scripts[0]))

/* ---- store_parse_url ---- */

static void url_ok(const char *url, const char *host, int port, int db)
{
    store_url u;
    memset(&u, 0, sizeof(u));
    if (store_parse_url(url, &u) != 0)
        fail_msg("refused %s", url);
    assert_string_equal(u.host, host);
    assert_int_equal(u.port, port);
    assert_int_equal(u.db, db);
}

static void url_bad(const char *url, int want)
{
    store_url u;
    memset(&u, 0x5a, sizeof(u));
    int rc = store_parse_url(url, &u);
    if (rc != want)
        fail_msg("%s: rc %d, want %d", url ? url : "(null)", rc, want);
    assert_true(store_strerror(rc)[0] != '\0');
    assert_int_equal((unsigned char)u.host[0], 0x5a); /* untouched */
}

static void url_good(void **state)
{
    (void)state;
    url_ok("redis://h", "h", 6379, 0);
    url_ok("redis://h:1/2", "h", 1, 2);
    url_ok("h:6380", "h", 6380, 0);
    url_ok("h", "h", 6379, 0);
    url_ok("redis://127.0.0.1:6379/0", "127.0.0.1", 6379, 0);
    url_ok("redis://redis-1.example_net", "redis-1.example_net", 6379, 0);
    url_ok("redis://h/", "h", 6379, 0);
    url_ok("redis://h/15", "h", 6379, 15);
    url_ok("h/3", "h", 6379, 3);
    url_ok("redis://h:65535/2147483647", "h", 65535, 2147483647);
    url_ok("redis://h:007/01", "h", 7, 1);
}

static void url_bad_host(void **state)
{
    char longhost[STORE_HOST_MAX + 20], url[STORE_HOST_MAX + 40];
    (void)state;
    url_bad(NULL, STORE_URL_EHOST);
    url_bad("", STORE_URL_EHOST);
    url_bad("redis://", STORE_URL_EHOST);
    url_bad("redis://:6379", STORE_URL_EHOST);
    url_bad("redis:///0", STORE_URL_EHOST);
    url_bad("redis://h x", STORE_URL_EHOST);
    url_bad("redis://user:pw@h", STORE_URL_EPORT); /* "pw@h" is no port */
    url_bad("redis://user@h", STORE_URL_EHOST);
    url_bad("redis://[::1]:6379", STORE_URL_EHOST);
    url_bad("redis://h?db=1", STORE_URL_EHOST);
    memset(longhost, 'a', STORE_HOST_MAX + 1);
    longhost[STORE_HOST_MAX + 1] = '\0';
    snprintf(url, sizeof(url), "redis://%s:1", longhost);
    url_bad(url, STORE_URL_EHOST);
    longhost[STORE_HOST_MAX] = '\0'; /* exactly the maximum fits */
    snprintf(url, sizeof(url), "redis://%s:1", longhost);
    url_ok(url, longhost, 1, 0);
}

static void url_bad_port(void **state)
{
    (void)state;
    url_bad("redis://h:0", STORE_URL_EPORT);
    url_bad("redis://h:65536", STORE_URL_EPORT);
    url_bad("redis://h:99999999999999999999", STORE_URL_EPORT);
    url_bad("redis://h:12x", STORE_URL_EPORT);
    url_bad("redis://h:x", STORE_URL_EPORT);
    url_bad("redis://h:", STORE_URL_EPORT);
    url_bad("redis://h:/1", STORE_URL_EPORT);
    url_bad("redis://h:-1", STORE_URL_EPORT);
    url_bad("redis://h:+1", STORE_URL_EPORT);
    url_bad("redis://h: 1", STORE_URL_EPORT);
    url_bad("redis://h:1:2", STORE_URL_EPORT);
    url_bad("h:6380 ", STORE_URL_EPORT);
}

static void url_bad_db(void **state)
{
    (void)state;
    url_bad("redis://h:1/-1", STORE_URL_EDB);
    url_bad("redis://h/x", STORE_URL_EDB);
    url_bad("redis://h/1x", STORE_URL_EDB);
    url_bad("redis://h:1/2/3", STORE_URL_EDB);
    url_bad("redis://h:1/2 ", STORE_URL_EDB);
    url_bad("redis://h/2147483648", STORE_URL_EDB);
}

static void url_bad_scheme(void **state)
{
    (void)state;
    url_bad("http://x", STORE_URL_ESCHEME);
    url_bad("rediss://h:6380", STORE_URL_ESCHEME);
    url_bad("unix:///tmp/redis.sock", STORE_URL_ESCHEME);
    url_bad("redis://redis://h", STORE_URL_ESCHEME);
}

/* A bad URL creates nothing: no store, no handle on the loop. */
static void create_refuses_bad_url(void **state)
{
    uv_loop_t loop;
    store_events ev;
    store *st = (store *)&ev; /* must be reset to NULL */
    (void)state;
    memset(&ev, 0, sizeof(ev));
    assert_int_equal(uv_loop_init(&loop), 0);
    assert_int_equal(store_create(&loop, "redis://h:12x/0", &ev, &st), STORE_URL_EPORT);
    assert_null(st);
    assert_int_equal(uv_loop_alive(&loop), 0);
    assert_int_equal(uv_loop_close(&loop), 0);
}

/* ---- pure steps ---- */

static void backoff(void **state)
{
    unsigned b = STORE_BACKOFF_MIN_MS, prev = 0;
    int i;
    (void)state;
    for (i = 0; i < 20; i++) {
        assert_true(b >= prev);
        assert_true(b <= STORE_BACKOFF_MAX_MS);
        prev = b;
        b = store_backoff_next(b);
    }
    assert_int_equal(b, STORE_BACKOFF_MAX_MS);
    assert_int_equal(store_backoff_next(100), 200);
    assert_int_equal(store_backoff_next(STORE_BACKOFF_MAX_MS / 2 + 1), STORE_BACKOFF_MAX_MS);
    /* jitter: from backoff to backoff + backoff / 4, never more */
    assert_int_equal(store_backoff_delay(100, 0), 100);
    assert_int_equal(store_backoff_delay(100, 25), 125);
    assert_int_equal(store_backoff_delay(100, 26), 100);
    for (i = 0; i < 1000; i++) {
        unsigned d = store_backoff_delay(STORE_BACKOFF_MAX_MS, (unsigned)rand());
        assert_true(d >= STORE_BACKOFF_MAX_MS && d <= STORE_BACKOFF_MAX_MS * 5 / 4);
    }
    assert_int_equal(store_backoff_delay(0, 12345), 0);
}

static void show_of_key(void **state)
{
    char out[SM_SHOW_ID_MAX + 1], small[4];
    const char *k;
    (void)state;
    k = "sm:{gala}:seat:A1";
    assert_int_equal(store_show_of_key(k, strlen(k), out, sizeof(out)), 0);
    assert_string_equal(out, "gala");
    k = "sm:{x}:ev";
    assert_int_equal(store_show_of_key(k, strlen(k), out, sizeof(out)), 0);
    assert_string_equal(out, "x");
    /* the length given counts, not a NUL */
    k = "sm:{gala}:seat";
    assert_int_equal(store_show_of_key(k, 8, out, sizeof(out)), -1);
    k = "sm:{}:ev";
    assert_int_equal(store_show_of_key(k, strlen(k), out, sizeof(out)), -1);
    k = "xx:{gala}:ev";
    assert_int_equal(store_show_of_key(k, strlen(k), out, sizeof(out)), -1);
    k = "sm:{gala:ev";
    assert_int_equal(store_show_of_key(k, strlen(k), out, sizeof(out)), -1);
    k = "sm:{abcd}:ev"; /* does not fit in 4 bytes with the NUL */
    assert_int_equal(store_show_of_key(k, strlen(k), small, sizeof(small)), -1);
    k = "sm:{abc}:ev";
    assert_int_equal(store_show_of_key(k, strlen(k), small, sizeof(small)), 0);
    assert_string_equal(small, "abc");
}

static void error_status(void **state)
{
    (void)state;
    assert_string_equal(store_error_status("NOSCRIPT No matching script"), "unavailable");
    assert_string_equal(store_error_status("LOADING Redis is loading"), "unavailable");
    assert_string_equal(store_error_status("BUSY Redis is busy running a script"), "unavailable");
    assert_string_equal(store_error_status("OOM command not allowed"), "unavailable");
    assert_string_equal(store_error_status("READONLY You can't write"), "unavailable");
    assert_string_equal(store_error_status("ERR user_script:1: oops"), "internal");
    assert_string_equal(store_error_status(""), "internal");
}

static void script_text(void **state)
{
    const embedded_file *lib = NULL, *f;
    char *text = (char *)"x";
    size_t i;
    (void)state;
    for (f = embedded_lua; f->name; f++)
        if (strcmp(f->name, "lib") == 0)
            lib = f;
    assert_non_null(lib);
    for (i = 0; i < NSCRIPTS; i++) {
        const embedded_file *own = NULL;
        for (f = embedded_lua; f->name; f++)
            if (strcmp(f->name, server_scripts[i]) == 0)
                own = f;
        if (!own)
            fail_msg("server/lua/%s.lua is not embedded", server_scripts[i]);
        assert_int_equal(store_script_text(server_scripts[i], &text), 0);
        /* lib.lua, a newline, NAME.lua */
        assert_int_equal(strlen(text), strlen(lib->text) + 1 + strlen(own->text));
        assert_memory_equal(text, lib->text, strlen(lib->text));
        assert_int_equal(text[strlen(lib->text)], '\n');
        assert_string_equal(text + strlen(lib->text) + 1, own->text);
        free(text);
    }
    assert_int_equal(store_script_text("nope", &text), STORE_ENOSCRIPT);
    assert_null(text);
    assert_int_equal(store_script_text("lib", &text), STORE_ENOSCRIPT);
    assert_null(text);
    assert_int_equal(store_script_text("", &text), STORE_ENOSCRIPT);
}

static int is_sha(const char *s, size_t len)
{
    size_t i;
    if (len != 40)
        return 0;
    for (i = 0; i < len; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return 0;
    return 1;
}

/* SCRIPT LOAD of name's assembled text: 1 when Redis answers a sha. */
static void script_compiles(redisContext *c, const char *name)
{
    char *text;
    redisReply *r;
    assert_int_equal(store_script_text(name, &text), 0);
    r = redisCommand(c, "SCRIPT LOAD %s", text);
    assert_non_null(r);
    if (r->type != REDIS_REPLY_STRING || !is_sha(r->str, r->len))
        fail_msg("SCRIPT LOAD %s: %s", name, r->type == REDIS_REPLY_ERROR ? r->str : "no sha");
    freeReplyObject(r);
    free(text);
}

static void scripts_compile_in_redis(void **state)
{
    struct timeval tv = {2, 0};
    redisContext *c = redisConnectWithTimeout("127.0.0.1", redis_port, tv);
    const embedded_file *f;
    size_t i;
    (void)state;
    assert_non_null(c);
    assert_int_equal(c->err, 0);
    for (i = 0; i < NSCRIPTS; i++)
        script_compiles(c, server_scripts[i]);
    /* and any script added since the list above was written */
    for (f = embedded_lua; f->name; f++)
        if (strcmp(f->name, "lib") != 0)
            script_compiles(c, f->name);
    redisFree(c);
}

/* ---- the runner on a real loop ---- */

typedef struct run_state {
    int ready;
    int answers;
    char status[64];
    char detail[64];
} run_state;

static void on_ready(void *arg)
{
    ((run_state *)arg)->ready = 1;
}

static void on_answer(void *arg, const store_result *res)
{
    run_state *rs = arg;
    rs->answers++;
    snprintf(rs->status, sizeof(rs->status), "%s", res->status);
    snprintf(rs->detail, sizeof(rs->detail), "%s", res->detail);
}

static void run_unknown_script(void **state)
{
    uv_loop_t loop;
    store_events ev;
    run_state rs;
    store *st;
    char url[64];
    (void)state;
    memset(&rs, 0, sizeof(rs));
    memset(&ev, 0, sizeof(ev));
    ev.on_ready = on_ready;
    ev.arg = &rs;
    snprintf(url, sizeof(url), "redis://127.0.0.1:%d/0", redis_port);
    assert_int_equal(uv_loop_init(&loop), 0);
    assert_int_equal(store_create(&loop, url, &ev, &st), 0);
    /* before the connection is up: unknown is still unknown */
    assert_int_equal(store_run(st, "nope", "gala", 0, NULL, on_answer, &rs), STORE_ENOSCRIPT);
    run_until(&loop, &rs.ready, STORE_READY_DEADLINE_MS);
    assert_true(rs.ready);
    assert_int_equal(store_run(st, "nope", "gala", 0, NULL, on_answer, &rs), STORE_ENOSCRIPT);
    assert_int_equal(store_run(st, "lib", "gala", 0, NULL, on_answer, &rs), STORE_ENOSCRIPT);
    assert_int_equal(store_run(st, "", "gala", 0, NULL, on_answer, &rs), STORE_ENOSCRIPT);
    /* a known script answers once; the refused ones never called back */
    assert_int_equal(store_run(st, "count", "gala", 0, NULL, on_answer, &rs), 0);
    run_until(&loop, &rs.answers, STORE_READY_DEADLINE_MS);
    assert_int_equal(rs.answers, 1);
    assert_string_equal(rs.status, "ok");
    assert_string_equal(rs.detail, "0");
    store_destroy(st);
    /* every handle closes: the loop ends and can be closed */
    assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
    assert_int_equal(uv_loop_close(&loop), 0);
    assert_int_equal(rs.answers, 1);
}

int main(void)
{
    const struct CMUnitTest pure[] = {
        cmocka_unit_test(url_good),       cmocka_unit_test(url_bad_host),
        cmocka_unit_test(url_bad_port),   cmocka_unit_test(url_bad_db),
        cmocka_unit_test(url_bad_scheme), cmocka_unit_test(create_refuses_bad_url),
        cmocka_unit_test(backoff),        cmocka_unit_test(show_of_key),
        cmocka_unit_test(error_status),   cmocka_unit_test(script_text),
    };
    const struct CMUnitTest with_redis[] = {
        cmocka_unit_test(scripts_compile_in_redis),
        cmocka_unit_test(run_unknown_script),
    };
    int failed = cmocka_run_group_tests_name("store", pure, NULL, NULL);
    failed +=
        cmocka_run_group_tests_name("store with redis-server", with_redis, start_redis, end_redis);
    return failed;
}
