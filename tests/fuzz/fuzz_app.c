/*
 * fuzz_app.c - see fuzz_app.h.
 */
#include "fuzz_app.h"

#include "addr_limits.h"

#include "ledger_accounts.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Six seats: S-A-1 .. S-A-4 and S-B-1, S-B-2 (tests/unit/test_show.c). */
static const char venue_doc[] =
    "{\"format\":1,\"name\":\"Tiny\",\"currency\":\"EUR\","
    "\"stage\":{\"x\":0,\"y\":0,\"w\":6,\"h\":1},"
    "\"categories\":[{\"id\":\"std\",\"name\":\"Standard\",\"price\":1000,\"color\":\"#2e86c1\"}],"
    "\"sections\":[{\"id\":\"S\",\"name\":\"Stalls\",\"category\":\"std\",\"rows\":["
    "{\"label\":\"A\",\"y\":3,\"blocks\":[{\"first\":1,\"count\":4,\"x\":1}]},"
    "{\"label\":\"B\",\"y\":4,\"blocks\":[{\"first\":1,\"count\":2,\"x\":2}]}]}]}";

static app the_app;
static uv_loop_t store_loop, work_loop;
static int ready;

static void die(const char *what)
{
    fprintf(stderr, "fuzz_app: %s\n", what);
    abort();
}

void fuzz_sync(show *s, const char *json, size_t len)
{
    char *d = malloc(len + 1);
    store_result res;

    if (!d)
        return;
    memcpy(d, json, len);
    d[len] = '\0';
    memset(&res, 0, sizeof(res));
    res.outcome = OUT_OK;
    res.status = "ok";
    res.detail = d;
    show_sync_from(s, &res);
    free(d);
}

void fuzz_drain_client(client *c)
{
    frame *f;
    while ((f = client_take(c)) != NULL)
        frame_unref(f);
}

void fuzz_app_drain(app *a)
{
    uv_run(a->loop, UV_RUN_DEFAULT);
}

app *fuzz_app_get(void)
{
    app *a = &the_app;
    char err[256], path[64], *argv[1] = {NULL};
    store_events ev;
    shows_config sc;
    int fd;

    if (ready)
        return a;
    if (sodium_init() < 0)
        die("sodium_init");
    if (config_parse(&a->cfg, 0, argv, err, sizeof(err)))
        die(err);
    snprintf(path, sizeof(path), "/tmp/seatmap-fuzz-XXXXXX");
    if ((fd = mkstemp(path)) < 0)
        die("mkstemp");
    close(fd);
    if (ledger_open(path, &a->ledger, err, sizeof(err)))
        die(err);
    unlink(path); /* the open handle keeps it; nothing is left behind */
    if (ledger_show_add(a->ledger, "t1", "Test night", "Tiny", "2026-01-01T20:00:00Z", venue_doc) ||
        ledger_show_add(a->ledger, "t2", "Second night", "Tiny", "", venue_doc))
        die("ledger_show_add");
    if (ledger_secret(a->ledger, a->secret))
        die("ledger_secret");
    if (uv_loop_init(&store_loop) || uv_loop_init(&work_loop))
        die("uv_loop_init");
    a->loop = &work_loop;
    memset(&ev, 0, sizeof(ev));
    if (store_create(&store_loop, "redis://127.0.0.1:1", &ev, &a->store))
        die("store_create");
    if (!(a->hub = client_hub_new()))
        die("client_hub_new");
    snprintf(a->instance, sizeof(a->instance), "fuzz:0");
    snprintf(a->started_ms, sizeof(a->started_ms), "1");
    memset(&sc, 0, sizeof(sc));
    sc.store = a->store;
    sc.ledger = a->ledger;
    sc.hub = a->hub;
    sc.instance = a->instance;
    sc.started_ms = a->started_ms;
    sc.tick_ms = 0;
    sc.frozen_bound_ms = a->cfg.frozen_bound_ms;
    if (!(a->shows = shows_new(&sc)))
        die("shows_new");
    /* the per-address limits and the best-available service, as server.c
     * makes them (webhooks stay off: every caller checks a->webhooks) */
    if (!(a->limits = limits_new(&a->cfg)))
        die("limits_new");
    if (!(a->best = best_service_new(a->loop)))
        die("best_service_new");
    a->books.loop = a->loop;
    a->books.store = a->store;
    a->books.ledger = a->ledger;
    a->books.instance = a->instance;
    {
        /* no staff queue: a show not cached is unknown, as no load runs */
        show_loader_config lc = {a->loop, a->shows, NULL, 5000, 512};
        if (!(a->loader = show_loader_new(&lc)))
            die("show_loader_new");
    }
    fuzz_sync(shows_load_now(a->shows, "t1"), FUZZ_SNAPSHOT, strlen(FUZZ_SNAPSHOT));
    fuzz_sync(shows_load_now(a->shows, "t2"), FUZZ_SNAPSHOT, strlen(FUZZ_SNAPSHOT));
    ready = 1;
    return a;
}
