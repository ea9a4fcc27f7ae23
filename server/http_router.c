/*
 * http_router.c - matching paths against the route table (see
 * http_router.h).
 */
#include "http_router.h"

#include <stdio.h>
#include <string.h>

/* Splits a path (or pattern) into at most HTTP_MAX_SEGMENTS segments, in
 * place. -1 when it has more. */
static int split(char *path, char **seg, size_t *n)
{
    char *p, *save = NULL;
    *n = 0;
    for (p = strtok_r(path, "/", &save); p; p = strtok_r(NULL, "/", &save)) {
        if (*n == HTTP_MAX_SEGMENTS)
            return -1;
        seg[(*n)++] = p;
    }
    return 0;
}

/* 1 when the path matches the pattern; captures go into p when not NULL. */
static int match(const char *pattern, const char *path, http_params *p)
{
    char pat[HTTP_MAX_PATH], pth[HTTP_MAX_PATH], *ps[HTTP_MAX_SEGMENTS], *xs[HTTP_MAX_SEGMENTS];
    size_t np, nx, i;
    http_params tmp;

    snprintf(pat, sizeof(pat), "%s", pattern);
    if ((size_t)snprintf(pth, sizeof(pth), "%s", path) >= sizeof(pth))
        return 0; /* never match on a cut-off path */
    if (split(pat, ps, &np) || split(pth, xs, &nx) || np != nx)
        return 0;
    memset(&tmp, 0, sizeof(tmp));
    for (i = 0; i < np; i++) {
        size_t len = strlen(ps[i]);
        if (ps[i][0] == '{' && len > 2 && ps[i][len - 1] == '}') {
            if (tmp.n == HTTP_MAX_PARAMS)
                return 0;
            tmp.name[tmp.n] = pattern + (ps[i] - pat) + 1;
            snprintf(tmp.value[tmp.n], sizeof(tmp.value[0]), "%s", xs[i]);
            tmp.n++;
        } else if (strcmp(ps[i], xs[i]) != 0) {
            return 0;
        }
    }
    if (p)
        *p = tmp;
    return 1;
}

const char *http_param(const http_params *p, const char *name)
{
    size_t i, n = strlen(name);
    for (i = 0; i < p->n; i++)
        if (strncmp(p->name[i], name, n) == 0 && p->name[i][n] == '}')
            return p->value[i];
    return NULL;
}

int http_router_knows(const http_routes *t, const char *path)
{
    size_t i;
    for (i = 0; i < t->n; i++)
        if (match(t->rows[i].pattern, path, NULL))
            return 1;
    return 0;
}

/* The methods a path takes, for an Allow header: "GET, HEAD, POST". */
static void allow_of(unsigned methods, char *out, size_t outlen)
{
    static const struct {
        unsigned m;
        const char *name;
    } names[] = {
        {HTTP_GET, "GET"}, {HTTP_HEAD, "HEAD"}, {HTTP_POST, "POST"}, {HTTP_DELETE, "DELETE"}};
    size_t i, n = 0;
    if (methods & HTTP_GET)
        methods |= HTTP_HEAD;
    out[0] = '\0';
    for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (methods & names[i].m)
            n += (size_t)snprintf(out + n, n < outlen ? outlen - n : 0, "%s%s", n ? ", " : "",
                                  names[i].name);
}

void http_router_dispatch(const http_routes *t, http_req *r)
{
    const char *path = http_req_path(r);
    http_method m = http_req_method(r);
    /* HEAD is GET without the body (http_respond_frame leaves it out) */
    http_method want = m == HTTP_HEAD ? HTTP_GET : m;
    const http_route *row = NULL;
    http_params params;
    unsigned methods = 0;
    size_t i;

    for (i = 0; i < t->n && !row; i++) {
        if (!match(t->rows[i].pattern, path, &params))
            continue;
        methods |= (unsigned)t->rows[i].method;
        if (t->rows[i].method == want)
            row = &t->rows[i];
    }
    if (!row) {
        char allow[64];
        for (; i < t->n; i++) /* the rest of the rows, for Allow */
            if (match(t->rows[i].pattern, path, NULL))
                methods |= (unsigned)t->rows[i].method;
        if (methods) {
            allow_of(methods, allow, sizeof(allow));
            http_req_set_allow(r, allow);
            http_respond_error(r, OUT_METHOD_NOT_ALLOWED, NULL, NULL);
        } else if (m == HTTP_OTHER) {
            http_respond_error(r, OUT_METHOD_NOT_ALLOWED, NULL, NULL);
        } else {
            http_respond_error(r, OUT_NOT_FOUND, NULL, NULL);
        }
        return;
    }
    if (t->admit && t->admit(r, row, &params))
        return;
    row->handler(r, &params);
}
