/*
 * crash.mjs - one reusable scenario for the durability tests: fire a batch of
 * confirmations (by hold ref) and walk-up sales at a server, pull the plug
 * (seatmapd or Redis, SIGKILL) as soon as the first one is answered, recover,
 * then after every deadline plus the 1 s expiry budget check the contract:
 * every 201 is a booking, every booking's seats are `b`, every seat without a
 * booking is `e` (nothing stuck `p`, nothing sold twice), watchers agree.
 * Not here: the choice of what to kill (the callers).
 */
import assert from 'node:assert/strict';
import { httpRequest, login, bookingsOf, passDeadline, checkRedisInvariants } from './stack.mjs';

/*
 * opts: stack, target (server that gets the requests), judge (server used for the
 * checks; default target), pool (seatPool), ids (seat ids in snapshot order),
 * n (requests, half confirms and half sales), label, kill() (async: pull the
 * plug), recover() (async: bring things back), killAfterMs (when set, pull the
 * plug that long after the requests are issued instead of at the first answer,
 * to land inside the server's work; then no answer may have come back at all),
 * abandonMs (when the server that froze a hold stays dead, another releases
 * that unfinished confirmation only once it has been frozen this long: the
 * frozen bound, 10 s; the checks wait for it).
 */
export async function crashDuringBookings({
    stack, target, judge = target, pool, ids, n = 20, label, kill, recover, killAfterMs, abandonMs = 0,
}) {
    const cookie = await login(target.baseUrl, stack.staff.user, stack.staff.password);
    const jobs = [];
    const holds = [];
    for (let i = 0; i < n; i++) {
        const seats = pool.take(2);
        if (i % 2 === 0) {
            const b = await stack.buyer({ url: target.wsUrl, watch: null });
            const h = (await b.call({ type: 'hold', show: 'demo', seats })).hold;
            holds.push(h);
            jobs.push({ i, seats, body: { hold: h.ref, payment_ref: `${label}-${i}` } });
        } else {
            jobs.push({ i, seats, body: { seats, payment_ref: `${label}-${i}` } });
        }
    }
    const ttlMs = (await stack.buyer({ url: target.wsUrl, watch: null })).limits.hold_ttl_ms;
    const burstAt = Date.now();
    let killing = null;
    let timer = null;
    if (killAfterMs !== undefined) {
        timer = setTimeout(() => {
            if (!killing) killing = kill();
        }, killAfterMs);
    }
    const results = await Promise.all(
        jobs.map((j) =>
            httpRequest(target.baseUrl, 'POST', '/api/shows/demo/bookings', { cookie, json: j.body, timeoutMs: 5000 })
                .then((res) => {
                    if ((res.status === 201 || res.status === 200) && !killing && killAfterMs === undefined) killing = kill();
                    return res;
                })
                .catch((e) => ({ status: 0, text: e.message })),
        ),
    );
    clearTimeout(timer);
    await (killing || kill());
    await recover();
    const acked = results.filter((r) => r.status === 201).length;
    if (killAfterMs === undefined) assert.ok(acked >= 1, `${label}: at least one booking was answered before the crash`);
    /* a walk-up sale may hold its seats internally: give it a full TTL from the burst too */
    const last = Math.max(Date.now(), burstAt + ttlMs, burstAt + abandonMs, ...holds.map((h) => h.expires_at));
    const w = await stack.buyer({ url: judge.wsUrl });
    await passDeadline(stack, w, last + 1000, pool.take(1)[0], { url: judge.wsUrl });
    const jcookie = await login(judge.baseUrl, stack.staff.user, stack.staff.password);
    const all = bookingsOf((await httpRequest(judge.baseUrl, 'GET', '/api/shows/demo/bookings', { cookie: jcookie })).json);
    const s = (await httpRequest(judge.baseUrl, 'GET', '/api/shows/demo/seats')).json;
    await w.waitFor((c) => c.model.seq === s.seq, 3000, `${label}: watcher at seq ${s.seq}`);
    for (const [k, j] of jobs.entries()) {
        const r = results[k];
        const what = `${label}-${j.i} (${j.body.hold ? 'confirm' : 'sale'}, answered ${r.status})`;
        const states = j.seats.map((x) => s.seats[ids.indexOf(x)]);
        const row = all.find((b) => b.payment_ref === j.body.payment_ref && !b.cancelled_at);
        if (r.status === 201 || r.status === 200) assert.ok(row, `${what}: acknowledged but the booking is lost`);
        if (row) assert.deepEqual(states, ['b', 'b'], `${what}: booked in SQLite but seats are ${states}`);
        else assert.deepEqual(states, ['e', 'e'], `${what}: no booking but seats are ${states}`);
        assert.deepEqual(j.seats.map((x) => w.state(x)), states, `${what}: watcher agrees with GET seats`);
    }
    assert.deepEqual(await checkRedisInvariants(stack.redis), [], `${label}: Redis invariants`);
    await w.close();
    return { acked, total: n };
}
