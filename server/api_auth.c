/*
 * api_auth.c - staff sign-in: POST /api/login, POST /api/logout, GET
 * /api/me, and api_staff_admit, which every staff route passes through
 * (a session cookie, or a bearer API token for other systems). Every ledger
 * call here runs on the staff queue, off the event loop (api_db.h).
 *
 * Password checks (Argon2id, tens of milliseconds and 64 MiB each) run on
 * the libuv thread pool, never on the event loop, and only a few at once
 * (addr_limits.h's password gate). Sign-ins are throttled per (user, address)
 * and per address (429 with Retry-After, growing); an unknown user costs
 * the same single check as a wrong password.
 */
#include "api.h"
#include "api_db.h"
#include "ledger_accounts.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define API_PASSWORD_MAX 1024

/* A lookup that found nothing is a 401; one the database could not answer
 * is a 503, so that a database outage does not log the staff out. */
static void unauthorized_or_unavailable(http_req *r, int rc, const char *why)
{
    if (rc == LEDGER_ENOTFOUND)
        http_respond_error(r, OUT_UNAUTHORIZED, why, NULL);
    else
        http_respond_error(r, OUT_UNAVAILABLE, "the database is unavailable", NULL);
}

/* One staff check in flight: what the thread needs, copied (the request's
 * headers stay on the loop), and what the handler will need once admitted. */
typedef struct staff_check {
    api_db_call call;
    const http_route *row; /* static (api_routes.c) */
    http_params p;         /* the captures; {show} resolved again on the loop */
    int bearer;            /* an API token, not a session cookie */
    char hash[AUTH_HASH_HEX + 1];
    int64_t now_ms;
    ledger_user u;
    int rc;
} staff_check;

/* On the staff queue's thread. */
static void staff_check_run(ledger *l, api_db_call *c)
{
    staff_check *k = c->data;
    k->rc = k->bearer ? ledger_token_lookup(l, k->hash, &k->u)
                      : ledger_session_lookup(l, k->hash, k->now_ms, &k->u);
}

static void staff_check_answer(http_req *r, api_db_call *c)
{
    staff_check *k = c->data;
    app *a = http_req_ctx(r);
    const char *show_param = http_param(&k->p, "show");

    if (k->rc) {
        unauthorized_or_unavailable(r, k->rc,
                                    k->bearer ? "this API token is not valid"
                                              : "your session has expired; please log in again");
        return;
    }
    if (k->row->role == HTTP_ADMIN && strcmp(k->u.role, "admin") != 0) {
        http_respond_error(r, OUT_FORBIDDEN, NULL, NULL);
        return;
    }
    http_req_set_user(r, &k->u);
    if (show_param && !(k->p.show = shows_get(a->shows, show_param))) {
        http_respond_error(r, OUT_UNKNOWN_SHOW, NULL, NULL);
        return;
    }
    k->row->handler(r, &k->p);
}

static void staff_check_release(api_db_call *c)
{
    staff_check *k = c->data;
    memset(&k->u, 0, sizeof(k->u));
    free(k);
}

int api_staff_admit(http_req *r, const http_route *row, const http_params *p)
{
    app *a = http_req_ctx(r);
    char auth[512], token[256];
    staff_check *k;
    int bearer = 0;

    if (http_req_header(r, WSI_TOKEN_HTTP_AUTHORIZATION, auth, sizeof(auth)) &&
        strncmp(auth, "Bearer ", 7) == 0) {
        bearer = 1;
    } else if (http_req_cookie(r, API_COOKIE, token, sizeof(token))) {
        if (!http_req_origin_ok(r)) {
            http_respond_error(r, OUT_BAD_ORIGIN, NULL, NULL);
            return -1;
        }
    } else {
        http_respond_error(r, OUT_UNAUTHORIZED, NULL, NULL);
        return -1;
    }
    if (!(k = calloc(1, sizeof(*k)))) {
        http_respond_error(r, OUT_INTERNAL, "out of memory", NULL);
        return -1;
    }
    k->row = row;
    k->p = *p;
    k->bearer = bearer;
    auth_token_hash(bearer ? auth + 7 : token, k->hash);
    k->now_ms = sm_now_ms();
    k->call.data = k;
    api_db_call_start(a, r, &k->call, staff_check_run, staff_check_answer, staff_check_release);
    return HTTP_ADMIT_LATER;
}

static void respond_user(http_req *r, const ledger_user *u)
{
    sm_buf b;
    sm_buf_init(&b, 1024);
    sm_buf_adds(&b, "{\"user\":");
    sm_buf_add_json_str(&b, u->name);
    sm_buf_printf(&b, ",\"role\":\"%s\"}", u->role);
    http_respond_json(r, 200, &b);
}

void api_me(http_req *r, const http_params *p)
{
    respond_user(r, http_req_user(r));
}

/* ---- login ---- */

typedef struct login {
    uv_work_t work;
    api_db_call call; /* the new session's write */
    app *a;
    http_req *r;                      /* referenced */
    ledger_user user;                 /* id 0: no such user */
    char old_hash[AUTH_HASH_HEX + 1]; /* the session the browser had, or "" */
    char token[AUTH_TOKEN_HEX + 1], hash[AUTH_HASH_HEX + 1]; /* the new one */
    int64_t expires_ms;
    int rc;
    char name[LEDGER_NAME_MAX + 1];
    char addr[64];
    char *password; /* wiped and freed */
    int ok;
} login;

/* A hash of a password nobody has, made once: an unknown user is checked
 * against it, the same single Argon2id verification a wrong password
 * costs, so the time of the answer does not tell which one it was. */
static char dummy_hash[AUTH_PWHASH_MAX];
static int dummy_ok;
static pthread_once_t dummy_once = PTHREAD_ONCE_INIT;

static void make_dummy(void)
{
    char pw[AUTH_TOKEN_HEX + 1];
    auth_random_token(pw);
    dummy_ok = auth_password_hash(pw, dummy_hash) == 0;
}

/* On the thread pool. */
static void login_work(uv_work_t *w)
{
    login *l = w->data;
    pthread_once(&dummy_once, make_dummy);
    if (l->user.id <= 0) {
        if (dummy_ok)
            auth_password_verify(dummy_hash, l->password);
        l->ok = 0;
        return;
    }
    l->ok = auth_password_verify(l->user.pwhash, l->password) == 0;
}

static void login_free(login *l)
{
    memset(l->password, 0, strlen(l->password));
    free(l->password);
    memset(&l->user, 0, sizeof(l->user));
    http_req_unref(l->r);
    free(l);
}

/* On the staff queue's thread: a new session id at every sign-in; the one
 * the browser had (if any) ends, so an id planted before the sign-in is
 * worth nothing. */
static void session_run(ledger *ldb, api_db_call *c)
{
    login *l = c->data;
    if (l->old_hash[0])
        ledger_session_delete(ldb, l->old_hash);
    l->rc = ledger_session_create(ldb, l->user.id, l->hash, l->expires_ms);
}

static void session_answer(http_req *r, api_db_call *c)
{
    login *l = c->data;
    char cookie[256], peer[PEER_ADDR_MAX];

    if (l->rc) {
        http_respond_error(r, OUT_UNAVAILABLE, "the database is unavailable", NULL);
        return;
    }
    /* Secure with TLS: the browser never sends it over plain HTTP */
    snprintf(cookie, sizeof(cookie),
             API_COOKIE "=%s; Path=/; HttpOnly; SameSite=Strict; Max-Age=%lld%s", l->token,
             API_SESSION_MS / 1000, l->a->cfg.tls_cert[0] ? "; Secure" : "");
    http_req_set_cookie(r, cookie);
    http_req_peer(r, peer, sizeof(peer));
    sm_logf(SM_LOG_INFO, http_req_id(r), "%s (%s) logged in from %s", l->user.name, l->user.role,
            peer);
    respond_user(r, &l->user);
}

static void login_release(api_db_call *c)
{
    login_free(c->data);
}

static void start_session(login *l)
{
    auth_random_token(l->token);
    auth_token_hash(l->token, l->hash);
    l->expires_ms = sm_now_ms() + API_SESSION_MS;
    api_db_call_start(l->a, l->r, &l->call, session_run, session_answer, login_release);
}

/* Answers 429 with Retry-After for a lockout of wait_ms. */
static void respond_throttled(http_req *r, int64_t wait_ms)
{
    char msg[160];
    long secs = (long)((wait_ms + 999) / 1000);
    snprintf(msg, sizeof(msg), "too many failed sign-ins from your address; try again in %ld s",
             secs);
    http_req_set_retry_after(r, secs);
    http_respond_error(r, OUT_RATE_LIMITED, msg, NULL);
}

static void login_done(uv_work_t *w, int status)
{
    login *l = w->data;
    app *a = l->a;

    limits_pw_done(a->limits, l->addr); /* may start the next check at once */
    if (status || !l->ok || l->user.id <= 0)
        limits_login_failed(a->limits, l->name, l->addr);
    else
        limits_login_ok(a->limits, l->name, l->addr);
    if (!http_req_alive(l->r)) {
        login_free(l); /* gone */
    } else if (status || !l->ok || l->user.id <= 0) {
        http_respond_error(l->r, OUT_BAD_CREDENTIALS, NULL, NULL);
        login_free(l);
    } else {
        start_session(l); /* frees l when done */
    }
}

/* Its turn at the password gate. */
static void login_start(void *arg)
{
    login *l = arg;
    if (!http_req_alive(l->r)) { /* gave up while waiting */
        limits_pw_done(l->a->limits, l->addr);
        login_free(l);
        return;
    }
    if (uv_queue_work(l->a->loop, &l->work, login_work, login_done)) {
        limits_pw_done(l->a->limits, l->addr);
        http_respond_error(l->r, OUT_INTERNAL, "cannot check the password now", NULL);
        login_free(l);
    }
}

/* The user's lookup: its own allocation, because the password gate may
 * start (and end) the login before the lookup is released. */
typedef struct user_lookup {
    api_db_call call;
    login *l;
    int handed_on; /* the login went on to the password gate, which frees it */
} user_lookup;

/* On the staff queue's thread: the user, or none (login_work then does the
 * same work for nothing). */
static void user_run(ledger *ldb, api_db_call *c)
{
    user_lookup *u = c->data;
    if (ledger_user_get(ldb, u->l->name, &u->l->user) != 0)
        memset(&u->l->user, 0, sizeof(u->l->user));
}

/* Its turn at the password gate, once the user is known. */
static void user_answer(http_req *r, api_db_call *c)
{
    user_lookup *u = c->data;
    login *l = u->l;
    switch (limits_pw_run(l->a->limits, l->addr, login_start, l)) {
    case 0:
        u->handed_on = 1;
        break;
    case -2:
        http_req_set_retry_after(r, 1);
        http_respond_error(r, OUT_RATE_LIMITED,
                           "sign-ins from your address are already being checked; wait for them",
                           NULL);
        break;
    default:
        http_req_set_retry_after(r, 1);
        http_respond_error_status(r, 503, OUT_UNAVAILABLE,
                                  "too many sign-ins at once; try again in a moment", NULL);
    }
}

static void user_release(api_db_call *c)
{
    user_lookup *u = c->data;
    if (!u->handed_on)
        login_free(u->l);
    free(u);
}

void api_login(http_req *r, const http_params *p)
{
    app *a = http_req_ctx(r);
    const cJSON *ju, *jp;
    char addr[64], token[256];
    int64_t wait;
    user_lookup *u;
    login *l;
    cJSON *j;

    if (!http_req_origin_ok(r)) {
        http_respond_error(r, OUT_BAD_ORIGIN, NULL, NULL);
        return;
    }
    if (!(j = http_req_json(r)))
        return;
    ju = cJSON_GetObjectItemCaseSensitive(j, "username");
    jp = cJSON_GetObjectItemCaseSensitive(j, "password");
    if (!cJSON_IsString(ju) || !cJSON_IsString(jp) || strlen(ju->valuestring) > LEDGER_NAME_MAX ||
        strlen(jp->valuestring) > API_PASSWORD_MAX) {
        http_respond_error(r, OUT_BAD_REQUEST, "expected \"username\" and \"password\" strings",
                           NULL);
        cJSON_Delete(j);
        return;
    }
    http_req_client_addr(r, addr, sizeof(addr));
    if ((wait = limits_login_wait(a->limits, ju->valuestring, addr)) > 0) {
        cJSON_Delete(j);
        respond_throttled(r, wait);
        return;
    }
    l = calloc(1, sizeof(*l));
    u = calloc(1, sizeof(*u));
    if (l) {
        l->password = strdup(jp->valuestring);
        snprintf(l->name, sizeof(l->name), "%s", ju->valuestring);
        snprintf(l->addr, sizeof(l->addr), "%s", addr);
    }
    cJSON_Delete(j);
    if (!l || !l->password || !u) {
        if (l)
            free(l->password);
        free(l);
        free(u);
        http_respond_error(r, OUT_INTERNAL, "out of memory", NULL);
        return;
    }
    if (http_req_cookie(r, API_COOKIE, token, sizeof(token)))
        auth_token_hash(token, l->old_hash);
    l->a = a;
    l->r = r;
    http_req_ref(r);
    l->work.data = l;
    l->call.data = l;
    u->l = l;
    u->call.data = u;
    api_db_call_start(a, r, &u->call, user_run, user_answer, user_release);
}

typedef struct logout {
    api_db_call call;
    char hash[AUTH_HASH_HEX + 1];
} logout;

static void logout_run(ledger *ldb, api_db_call *c)
{
    logout *o = c->data;
    ledger_session_delete(ldb, o->hash);
}

static void logout_answer(http_req *r, api_db_call *c)
{
    app *a = http_req_ctx(r);
    sm_buf b;
    (void)c;
    http_req_set_cookie(
        r, a->cfg.tls_cert[0] ? API_COOKIE "=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0; Secure"
                              : API_COOKIE "=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0");
    sm_buf_init(&b, 64);
    sm_buf_adds(&b, "{\"ok\":true}");
    http_respond_json(r, 200, &b);
}

static void logout_release(api_db_call *c)
{
    free(c->data);
}

void api_logout(http_req *r, const http_params *p)
{
    app *a = http_req_ctx(r);
    char token[256];
    logout *o = calloc(1, sizeof(*o));

    if (!o) {
        http_respond_error(r, OUT_INTERNAL, "out of memory", NULL);
        return;
    }
    /* the session ends in the database before the answer says so */
    if (http_req_cookie(r, API_COOKIE, token, sizeof(token)))
        auth_token_hash(token, o->hash);
    o->call.data = o;
    if (!o->hash[0]) { /* a bearer token: nothing to end */
        logout_answer(r, &o->call);
        free(o);
        return;
    }
    api_db_call_start(a, r, &o->call, logout_run, logout_answer, logout_release);
}
