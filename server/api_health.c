/*
 * api_health.c - GET /healthz: 200 when Redis and the database answer, 503
 * otherwise, with which one is down; under --workers, which worker answered.
 * The database probe runs off the loop (on the staff queue): /healthz answers
 * at once from the last probe, and a probe still waiting after
 * API_DB_PROBE_WAIT_MS says "down".
 */
#include "api.h"

#include "ledger_accounts.h"

#include <unistd.h>

/* How long a probe's answer is reused. Load balancers and Prometheus poll
 * /healthz and /metrics several times a second between them, and with
 * PostgreSQL each probe is a round trip: one a second is plenty to notice an
 * outage, and bounds what polling costs the event loop. */
#define API_DB_PROBE_MS 1000

/* A probe that has not answered within this is "down": a database that
 * stalls is of no use to staff, even before a timeout says so. */
#define API_DB_PROBE_WAIT_MS 2000

/* On the staff queue's thread: only the probe's own result. The secret is
 * cached after the first read, so it says nothing about a database that went
 * away later (PostgreSQL): also look up a session that cannot exist, which
 * answers "not found" only when the database does. */
static void probe_run(ledger *l, ledger_job *job)
{
    app *a = job->data;
    uint8_t secret[AUTH_SECRET_BYTES];
    ledger_user probe;
    a->db_probe_result = ledger_secret(l, secret) == 0 &&
                         ledger_session_lookup(l, "healthz-probe", 0, &probe) == LEDGER_ENOTFOUND;
}

static void probe_done(ledger_job *job)
{
    app *a = job->data;
    a->db_probe_busy = 0;
    a->db_up = a->db_probe_result;
    a->db_probed_ms = sm_mono_ms();
}

int api_database_up(app *a)
{
    int64_t now = sm_mono_ms();
    if (a->db_probe_busy) {
        if (now - a->db_probe_started_ms >= API_DB_PROBE_WAIT_MS)
            a->db_up = 0; /* still waiting: the answer will say when it is back */
        return a->db_up;
    }
    if (a->db_probed_ms && now - a->db_probed_ms < API_DB_PROBE_MS)
        return a->db_up;
    a->db_probe_busy = 1;
    a->db_probe_started_ms = now;
    a->db_probe.data = a;
    /* Answered from the last probe meanwhile; without a queue (tests) the
     * probe runs inline and this is its result. */
    ledger_queue_call(a->staff_queue, a->ledger, &a->db_probe, probe_run, probe_done);
    return a->db_up;
}

void api_healthz(http_req *r, const http_params *p)
{
    app *a = http_req_ctx(r);
    int redis = store_up(a->store), db = api_database_up(a);
    sm_buf b;
    limits_counts *lc = limits_stats(a->limits);

    sm_buf_init(&b, 512);
    if (a->draining) { /* SIGTERM: load balancers should stop sending us work */
        sm_buf_adds(&b, "{\"status\":\"draining\"}");
        http_respond_json(r, 503, &b);
        return;
    }
    sm_buf_printf(&b, "{\"status\":\"%s\",\"redis\":\"%s\",\"database\":\"%s\"",
                  redis && db ? "ok" : "unavailable", redis ? "up" : "down", db ? "up" : "down");
    /* what the limits of docs/security.md refused since the start */
    sm_buf_printf(&b,
                  ",\"connections\":%d,\"refused\":{\"connections\":%llu,\"buyers\":%llu,"
                  "\"held_seats\":%llu,\"logins\":%llu,\"login_queue\":%llu,\"floods\":%llu}",
                  limits_conns(a->limits), (unsigned long long)lc->conns_refused,
                  (unsigned long long)lc->buyers_refused, (unsigned long long)lc->held_refused,
                  (unsigned long long)lc->logins_throttled, (unsigned long long)lc->pw_busy,
                  (unsigned long long)lc->ws_flooders);
    /* --workers: which process answered (docs/scaling.md) */
    if (a->cfg.worker_id)
        sm_buf_printf(&b, ",\"worker\":%d,\"pid\":%ld", a->cfg.worker_id, (long)getpid());
    sm_buf_adds(&b, "}");
    http_respond_json(r, redis && db ? 200 : 503, &b);
}
