/*
 * api_shows.c - the show resources: GET /api/shows, GET /api/shows/{show}
 * (the layout), GET /api/shows/{show}/seats (states), GET
 * /api/shows/{show}/holds (staff).
 */
#include "api.h"
#include "store.h"
#include "api_db.h"

#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#define API_LAYOUT_MAX (256u * 1024 * 1024)
#define API_LAYOUT_CACHE "public, max-age=86400"

static void add_show_fields(sm_buf *b, const show *s)
{
    sm_buf_adds(b, "\"id\":");
    sm_buf_add_json_str(b, show_id(s));
    sm_buf_adds(b, ",\"name\":");
    sm_buf_add_json_str(b, show_name(s));
    sm_buf_adds(b, ",\"starts_at\":");
    if (show_starts_at(s)[0])
        sm_buf_add_json_str(b, show_starts_at(s));
    else
        sm_buf_adds(b, "null");
    sm_buf_printf(b, ",\"capacity\":%zu", show_seat_count(s));
}

/* The list of shows: read on the staff queue (api_db.h), answered from the
 * show cache on the loop. */
typedef struct list_call {
    api_db_call call;
    ledger_show *list;
    size_t n;
    int rc;
} list_call;

static void list_run(ledger *l, api_db_call *c)
{
    list_call *k = c->data;
    k->rc = ledger_show_list(l, &k->list, &k->n);
}

/* The shows of list that are cached (one whose load failed is left out). */
static void list_respond(http_req *r, app *a, const ledger_show *list, size_t n)
{
    size_t i, listed = 0;
    sm_buf b;

    sm_buf_init(&b, 16u * 1024 * 1024);
    sm_buf_addc(&b, '[');
    for (i = 0; i < n; i++) {
        show *s = shows_get(a->shows, list[i].id);
        if (!s)
            continue;
        sm_buf_adds(&b, listed++ ? ",{" : "{");
        add_show_fields(&b, s);
        sm_buf_adds(&b, ",\"venue\":");
        sm_buf_add_json_str(&b, venue_name(show_venue(s)));
        sm_buf_addc(&b, '}');
    }
    sm_buf_addc(&b, ']');
    http_respond_json(r, 200, &b);
}

/* A list with shows added since this process started: answered once their
 * loads (show_load.h, off the loop, each within its bound) have ended. */
typedef struct list_wait {
    http_req *r;       /* referenced */
    ledger_show *list; /* owned */
    size_t n, waiting;
    show_wait *waits; /* one per show not cached; owned */
} list_wait;

static void list_wait_free(list_wait *lw)
{
    http_req_unref(lw->r);
    free(lw->waits);
    free(lw->list);
    free(lw);
}

static void list_loaded(show_wait *w, show *s, outcome o)
{
    list_wait *lw = w->data;
    if (--lw->waiting)
        return;
    if (http_req_alive(lw->r) && !http_req_answered(lw->r))
        list_respond(lw->r, http_req_ctx(lw->r), lw->list, lw->n);
    list_wait_free(lw);
}

static void list_answer(http_req *r, api_db_call *c)
{
    list_call *k = c->data;
    app *a = http_req_ctx(r);
    size_t i, missing = 0, j = 0;
    list_wait *lw;
    show *s;

    if (k->rc) {
        http_respond_error(r, OUT_UNAVAILABLE, "the database is unavailable", NULL);
        return;
    }
    for (i = 0; i < k->n; i++)
        missing += !shows_get(a->shows, k->list[i].id);
    if (!missing || !(lw = calloc(1, sizeof(*lw))) ||
        !(lw->waits = calloc(missing, sizeof(*lw->waits)))) {
        if (missing)
            free(lw);
        list_respond(r, a, k->list, k->n); /* (out of memory: without them) */
        return;
    }
    lw->r = r;
    http_req_ref(r);
    lw->list = k->list; /* the wait's now */
    lw->n = k->n;
    k->list = NULL;
    for (i = 0; i < lw->n; i++) {
        if (shows_get(a->shows, lw->list[i].id))
            continue;
        lw->waits[j].data = lw;
        if (show_load(a->loader, lw->list[i].id, &s, &lw->waits[j++], list_loaded) == OUT_MORE)
            lw->waiting++; /* its done callback comes later, on the loop */
    }
    if (!lw->waiting) { /* every one answered at once (unknown, unavailable) */
        list_respond(r, a, lw->list, lw->n);
        list_wait_free(lw);
    }
}

static void list_release(api_db_call *c)
{
    list_call *k = c->data;
    if (!k->rc)
        free(k->list);
    free(k);
}

void api_shows_list(http_req *r, const http_params *p)
{
    app *a = http_req_ctx(r);
    list_call *k = calloc(1, sizeof(*k));

    if (!k) {
        http_respond_error(r, OUT_INTERNAL, "out of memory", NULL);
        return;
    }
    k->call.data = k;
    api_db_call_start(a, r, &k->call, list_run, list_answer, list_release);
}

/* gzip of a body into a new body frame; NULL on failure. */
static frame *gzip_frame(const frame *plain)
{
    z_stream z;
    uLong cap = compressBound((uLong)plain->len) + 64;
    char *out = malloc(cap);
    frame *f = NULL;

    memset(&z, 0, sizeof(z));
    if (!out || deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 9, Z_DEFAULT_STRATEGY) != Z_OK) {
        free(out);
        return NULL;
    }
    z.next_in = (Bytef *)(uintptr_t)(plain->buf + LWS_PRE);
    z.avail_in = (uInt)plain->len;
    z.next_out = (Bytef *)out;
    z.avail_out = (uInt)cap;
    if (deflate(&z, Z_FINISH) == Z_STREAM_END)
        f = frame_new_mode(FRAME_HTTP_BODY, out, z.total_out);
    deflateEnd(&z);
    free(out);
    return f;
}

/* Builds the layout document once per show, with a gzipped copy (about a
 * tenth of the size: 60,000 seats are 5 MB of JSON). */
static int build_layout(show *s)
{
    size_t mlen;
    const char *members = venue_layout_members(show_venue(s), &mlen);
    frame *plain, *gz;
    sm_buf b;

    sm_buf_init(&b, API_LAYOUT_MAX);
    sm_buf_addc(&b, '{');
    add_show_fields(&b, s);
    sm_buf_addc(&b, ',');
    sm_buf_add(&b, members, mlen);
    sm_buf_addc(&b, '}');
    plain = sm_buf_failed(&b) ? NULL : frame_new_mode(FRAME_HTTP_BODY, b.data, b.len);
    sm_buf_free(&b);
    if (!plain)
        return -1;
    gz = gzip_frame(plain);
    show_set_layout_cache(s, plain, gz);
    frame_unref(plain);
    frame_unref(gz);
    return 0;
}

/* 1 when If-None-Match names etag (or is "*"). */
static int not_modified(http_req *r, const char *etag)
{
    char inm[512];
    if (!etag[0] || !http_req_header(r, WSI_TOKEN_HTTP_IF_NONE_MATCH, inm, sizeof(inm)))
        return 0;
    return strstr(inm, etag) != NULL || strcmp(inm, "*") == 0;
}

/* The layout never changes for a show: every request shares one body,
 * which browsers and proxies may keep (a day, revalidated by ETag). */
void api_show_get(http_req *r, const http_params *p)
{
    show *s = p->show;
    int gz = http_req_accepts_gzip(r);
    frame *body;

    body = show_layout_cache(s, 0);
    if (!body && build_layout(s)) {
        http_respond_error(r, OUT_INTERNAL, "out of memory", NULL);
        return;
    }
    frame_unref(body);
    http_req_set_cache(r, show_layout_etag(s), API_LAYOUT_CACHE);
    if (not_modified(r, show_layout_etag(s))) {
        http_respond_not_modified(r);
        return;
    }
    body = gz ? show_layout_cache(s, 1) : NULL;
    if (!body) {
        gz = 0;
        body = show_layout_cache(s, 0);
    }
    http_respond_frame(r, 200, body, gz);
    frame_unref(body);
}

void api_show_seats(http_req *r, const http_params *p)
{
    show *s = p->show;
    sm_buf b;
    if (!show_loaded(s)) {
        const app *a = http_req_ctx(r);
        http_respond_error(r, OUT_UNAVAILABLE,
                           a->store && store_up(a->store)
                               ? "seat states are not available yet: the show is loading; try "
                                 "again in a moment"
                               : "seat states are not available yet; Redis is down",
                           NULL);
        return;
    }
    sm_buf_init(&b, show_seat_count(s) + 128);
    sm_buf_printf(&b, "{\"seq\":%lld,\"seats\":\"", (long long)show_seq(s));
    sm_buf_add(&b, show_states(s), show_seat_count(s));
    sm_buf_adds(&b, "\"}");
    http_respond_json(r, 200, &b);
}

void api_show_holds(http_req *r, const http_params *p)
{
    show *s = p->show;
    const venue *v = show_venue(s);
    const hold **list;
    size_t n, i, k;
    sm_buf b;

    if (show_hold_list(s, &list, &n)) {
        http_respond_error(r, OUT_INTERNAL, "out of memory", NULL);
        return;
    }
    sm_buf_init(&b, 64u * 1024 * 1024);
    sm_buf_addc(&b, '[');
    for (i = 0; i < n; i++) {
        long price = 0;
        for (k = 0; k < list[i]->nseats; k++)
            price += venue_seat_price(v, list[i]->seats[k]);
        sm_buf_adds(&b, i ? "," : "");
        show_hold_json(s, list[i], &b);
        if (!sm_buf_failed(&b))
            b.len--; /* reopen the object to add the price */
        sm_buf_printf(&b, ",\"price\":%ld}", price);
    }
    sm_buf_addc(&b, ']');
    free(list);
    http_respond_json(r, 200, &b);
}
