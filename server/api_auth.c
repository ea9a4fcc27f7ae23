/*
 * api_auth.c - staff sign-in: POST /api/login, POST /api/logout, GET
 * /api/me, and api_staff_check, which every staff route passes through
 * (a session cookie, or a bearer API token for other systems).
 *
 * Password checks (Argon2id, tens of milliseconds and 64 MiB each) run on
 * the libuv thread pool, never on the event loop, and only a few at once
 * (addr_limits.h's password gate). Sign-ins are throttled per (user, address)
 * and per address (429 with Retry-After, growing); an unknown user costs
 * the same single check as a wrong password.
 */
#include "api.h"
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

/* 0 when authenticated as someone; otherwise answers 401/403 (503 when the
 * database is down). */
static int authenticate(http_req *r)
{
    app *a = http_req_ctx(r);
    char auth[512], token[256], hash[AUTH_HASH_HEX + 1];
    ledger_user u;
    int rc;

    memset(&u, 0, sizeof(u));
    if (http_req_header(r, WSI_TOKEN_HTTP_AUTHORIZATION, auth, sizeof(auth)) &&
        strncmp(auth, "Bearer ", 7) == 0) {
        auth_token_hash(auth + 7, hash);
        rc = ledger_token_lookup(a->ledger, hash, &u);
        if (rc) {
            unauthorized_or_unavailable(r, rc, "this API token is not valid");
            return -1;
        }
    } else if (http_req_cookie(r, API_COOKIE, token, sizeof(token))) {
        if (!http_req_origin_ok(r)) {
            http_respond_error(r, OUT_BAD_ORIGIN, NULL, NULL);
            return -1;
        }
        auth_token_hash(token, hash);
        rc = ledger_session_lookup(a->ledger, hash, sm_now_ms(), &u);
        if (rc) {
            unauthorized_or_unavailable(r, rc, "your session has expired; please log in again");
            return -1;
        }
    } else {
        http_respond_error(r, OUT_UNAUTHORIZED, NULL, NULL);
        return -1;
    }
    http_req_set_user(r, &u);
    return 0;
}

int api_staff_check(http_req *r, http_role role)
{
    if (role == HTTP_ANYONE)
        return 0;
    if (authenticate(r))
        return -1;
    if (role == HTTP_ADMIN && strcmp(http_req_user(r)->role, "admin") != 0) {
        http_respond_error(r, OUT_FORBIDDEN, NULL, NULL);
        return -1;
    }
    return 0;
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
    app *a;
    http_req *r;      /* referenced */
    ledger_user user; /* id 0: no such user */
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

static void start_session(http_req *r, const ledger_user *u)
{
    app *a = http_req_ctx(r);
    char token[AUTH_TOKEN_HEX + 1], hash[AUTH_HASH_HEX + 1], cookie[256];

    /* A new session id at every sign-in; the one the browser had (if any)
     * ends, so an id planted before the sign-in is worth nothing. */
    if (http_req_cookie(r, API_COOKIE, token, sizeof(token))) {
        auth_token_hash(token, hash);
        ledger_session_delete(a->ledger, hash);
    }
    auth_random_token(token);
    auth_token_hash(token, hash);
    if (ledger_session_create(a->ledger, u->id, hash, sm_now_ms() + API_SESSION_MS)) {
        http_respond_error(r, OUT_UNAVAILABLE, "the database is unavailable", NULL);
        return;
    }
    /* Secure with TLS: the browser never sends it over plain HTTP */
    snprintf(cookie, sizeof(cookie),
             API_COOKIE "=%s; Path=/; HttpOnly; SameSite=Strict; Max-Age=%lld%s", token,
             API_SESSION_MS / 1000, a->cfg.tls_cert[0] ? "; Secure" : "");
    http_req_set_cookie(r, cookie);
    {
        char peer[PEER_ADDR_MAX];
        http_req_peer(r, peer, sizeof(peer));
        sm_logf(SM_LOG_INFO, http_req_id(r), "%s (%s) logged in from %s", u->name, u->role, peer);
    }
    respond_user(r, u);
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
    if (!http_req_alive(l->r))
        ; /* gone */
    else if (status || !l->ok || l->user.id <= 0)
        http_respond_error(l->r, OUT_BAD_CREDENTIALS, NULL, NULL);
    else
        start_session(l->r, &l->user);
    login_free(l);
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

void api_login(http_req *r, const http_params *p)
{
    app *a = http_req_ctx(r);
    const cJSON *ju, *jp;
    char addr[64];
    int64_t wait;
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
    if (l && ledger_user_get(a->ledger, ju->valuestring, &l->user) != 0)
        memset(&l->user, 0, sizeof(l->user)); /* login_work does the same work for nothing */
    if (l) {
        l->password = strdup(jp->valuestring);
        snprintf(l->name, sizeof(l->name), "%s", ju->valuestring);
        snprintf(l->addr, sizeof(l->addr), "%s", addr);
    }
    cJSON_Delete(j);
    if (!l || !l->password) {
        if (l)
            free(l->password);
        free(l);
        http_respond_error(r, OUT_INTERNAL, "out of memory", NULL);
        return;
    }
    l->a = a;
    l->r = r;
    http_req_ref(r);
    l->work.data = l;
    switch (limits_pw_run(a->limits, addr, login_start, l)) {
    case 0:
        break;
    case -2:
        login_free(l);
        http_req_set_retry_after(r, 1);
        http_respond_error(r, OUT_RATE_LIMITED,
                           "sign-ins from your address are already being checked; wait for them",
                           NULL);
        break;
    default:
        login_free(l);
        http_req_set_retry_after(r, 1);
        http_respond_error_status(r, 503, OUT_UNAVAILABLE,
                                  "too many sign-ins at once; try again in a moment", NULL);
    }
}

void api_logout(http_req *r, const http_params *p)
{
    app *a = http_req_ctx(r);
    char token[256], hash[AUTH_HASH_HEX + 1];
    sm_buf b;

    if (http_req_cookie(r, API_COOKIE, token, sizeof(token))) {
        auth_token_hash(token, hash);
        ledger_session_delete(a->ledger, hash);
    }
    http_req_set_cookie(
        r, a->cfg.tls_cert[0] ? API_COOKIE "=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0; Secure"
                              : API_COOKIE "=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0");
    sm_buf_init(&b, 64);
    sm_buf_adds(&b, "{\"ok\":true}");
    http_respond_json(r, 200, &b);
}
