/*
 * failpoints.test.mjs - fault injection (server/failpoint.h): a seatmapd
 * built with -DSEATMAP_FAILPOINTS=ON is started with SEATMAP_FAILPOINTS
 * naming one failpoint and an action (crash, error, delay), next to a
 * healthy seatmapd on the same Redis and database; traffic is driven through
 * the failpoint and the contract is checked afterwards:
 *
 *   - a booking answered 201/200 is never lost, and its seats are booked;
 *   - no seat is booked twice, and Redis holds are consistent
 *     (checkRedisInvariants);
 *   - no seat stays pending past its deadline plus 1 s;
 *   - an idempotent retry (same payment ref) returns the same booking.
 *
 * Also: a database that refuses writes (SQLITE_FULL, via ledger.write)
 * answers 503 and loses nothing; Redis at maxmemory (noeviction) refuses
 * holds with a clear error while the map keeps working; Redis paused for
 * 5 s (CLIENT PAUSE) delays requests and corrupts nothing.
 *
 * Skipped (every test) when $SEATMAPD has no failpoints: release builds
 * have none. scripts/test.sh builds one (build-asan has them).
 */
import { before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import {
    SEATMAPD, startStack, startServer, testWithLogs, seatPool, bookingsOf, login, httpRequest,
    passDeadline, checkRedisInvariants, waitUntil, wsClient,
} from '../lib/stack.mjs';
import { crashDuringBookings } from '../lib/crash.mjs';

const HOLD_TTL_S = 3;
const probe = spawnSync(SEATMAPD, [], { env: { ...process.env, SEATMAP_FAILPOINTS: 'list' }, encoding: 'utf8' });
const POINTS = probe.status === 0 ? probe.stdout.split('\n').filter(Boolean) : [];
const skip = POINTS.length ? false : `${SEATMAPD} has no failpoints (build with -DSEATMAP_FAILPOINTS=ON)`;

const CONFIRM_STEPS = [
    'confirm.before_freeze', 'confirm.after_freeze', 'confirm.before_commit',
    'confirm.after_commit', 'confirm.before_book',
];

let stack;
let pool;
let ids;
const it = (name, fn) => testWithLogs(() => stack)(name, { skip, timeout: 120000 }, fn);

before(async () => {
    if (skip) return;
    stack = await startStack({ holdTtl: HOLD_TTL_S });
    ids = await stack.seatIds();
    pool = seatPool(ids);
});
after(async () => {
    await stack?.stop();
});

/* A seatmapd with failpoints armed, on the stack's Redis and database. */
async function faulty(spec, opts = {}) {
    return stack.addServer({ env: { SEATMAP_FAILPOINTS: spec }, ...opts });
}

/* Stops a server we are done with and forgets it (its crash, if any, was
 * expected and asserted by the caller). */
async function retire(server) {
    await server.stop().catch(() => {});
    server.crashes.length = 0;
    stack.servers.splice(stack.servers.indexOf(server), 1);
}

/* Waits until a server armed with `crash` has crashed at its failpoint. */
async function crashed(server, point) {
    await waitUntil(() => server.crashes.length > 0, 20000, `seatmapd to crash at ${point}`);
    assert.equal(server.crashes[0].code, 99, `${point}: exit code of a failpoint crash`);
    assert.match(server.stderr(), new RegExp(`failpoint ${point.replace('.', '\\.')}: crash`));
}

/* After every deadline: every seat is e or b as GET seats and a watcher
 * agree, Redis is consistent, and each listed booking's seats are b. */
async function settled(label, deadline, bookings = []) {
    const w = await stack.buyer();
    await passDeadline(stack, w, deadline + 1000, pool.take(1)[0]);
    const s = (await stack.api('GET', '/api/shows/demo/seats')).json;
    await w.waitFor((c) => c.model.seq === s.seq, 3000, `${label}: watcher at seq ${s.seq}`);
    const cookie = await stack.login();
    const all = bookingsOf((await stack.api('GET', '/api/shows/demo/bookings', { cookie })).json);
    for (const b of bookings) {
        const row = all.find((r) => r.id === b.id && !r.cancelled_at);
        assert.ok(row, `${label}: booking ${b.id} (answered ${b.status}) is lost`);
        for (const seat of b.seats) assert.equal(s.seats[ids.indexOf(seat)], 'b', `${label}: ${seat} of booking ${b.id}`);
    }
    const seen = new Set();
    for (const r of all.filter((x) => !x.cancelled_at)) {
        for (const seat of r.seats) {
            assert.ok(!seen.has(seat), `${label}: seat ${seat} booked twice`);
            seen.add(seat);
        }
    }
    assert.ok(!s.seats.includes('p') || (await stillHeldByLiveHolds(s)), `${label}: a seat pending past its deadline`);
    assert.deepEqual(await checkRedisInvariants(stack.redis), [], `${label}: Redis invariants`);
    await w.close();
    return all;
}

/* Holds of other tests never outlive this one's deadline (tests run one at
 * a time); any p left is one the probe loop created itself. */
async function stillHeldByLiveHolds(s) {
    const cookie = await stack.login();
    const holds = (await stack.api('GET', '/api/shows/demo/holds', { cookie })).json;
    const list = Array.isArray(holds) ? holds : holds.holds || [];
    const now = Date.now();
    return [...s.seats].every((st, i) => st !== 'p' || list.some((h) => h.seats.includes(ids[i]) && h.expires_at > now - 1000));
}

/* A buyer's hold on `server`, confirmed there by staff; returns the answers. */
async function holdAndConfirm(server, seats, payment) {
    const b = await stack.buyer({ url: server.wsUrl, watch: null });
    const h = (await b.call({ type: 'hold', show: 'demo', seats })).hold;
    const cookie = await login(server.baseUrl, stack.staff.user, stack.staff.password);
    const confirm = () => httpRequest(server.baseUrl, 'POST', '/api/shows/demo/bookings', {
        cookie, json: { hold: h.ref, payment_ref: payment }, timeoutMs: 15000,
    }).catch((e) => ({ status: 0, text: e.message }));
    const first = await confirm();
    await b.close();
    return { h, first, confirm };
}

it('crash at every step of a confirmation loses no acknowledged booking', async () => {
    for (const point of CONFIRM_STEPS) {
        const fp = await faulty(`${point}=crash`);
        let fresh = null;
        await crashDuringBookings({
            stack, target: fp, judge: stack.server, pool, ids, n: 6, label: `crash-${point}`,
            killAfterMs: 0,
            kill: () => crashed(fp, point),
            recover: async () => {
                /* the same port is the same instance: its frozen holds are
                 * known to be abandoned (sweep.lua) */
                await retire(fp);
                fresh = await startServer({ redisPort: stack.redis.port, dbPath: stack.dbPath, port: fp.port, holdTtl: HOLD_TTL_S });
                stack.servers.push(fresh);
            },
        });
        await retire(fresh);
    }
});

it('crash in a hold or a release: the restarted server and Redis agree, nothing stays pending', async () => {
    for (const point of ['ws.hold', 'ws.release']) {
        const fp = await faulty(`${point}=crash`);
        const seats = pool.take(2);
        const b = await stack.buyer({ url: fp.wsUrl, watch: null });
        let deadline = Date.now() + HOLD_TTL_S * 1000;
        if (point === 'ws.release') {
            const h = (await b.call({ type: 'hold', show: 'demo', seats })).hold;
            deadline = h.expires_at;
            b.request({ type: 'release', show: 'demo', seats }, { timeoutMs: 2000 }).catch(() => {});
        } else {
            b.request({ type: 'hold', show: 'demo', seats }, { timeoutMs: 2000 }).catch(() => {});
        }
        await crashed(fp, point);
        await retire(fp);
        const all = await settled(`crash-${point}`, deadline);
        assert.ok(!all.some((r) => r.seats.some((x) => seats.includes(x))), `${point}: nobody booked these seats`);
        const s = (await stack.api('GET', '/api/shows/demo/seats')).json;
        assert.deepEqual(seats.map((x) => s.seats[ids.indexOf(x)]), ['e', 'e'], `${point}: seats free after the deadline`);
    }
});

it('error at every step of a confirmation: no 201 without a booking, the retry gives the same booking', async () => {
    const answered = [];
    let deadline = 0;
    for (const point of CONFIRM_STEPS) {
        const fp = await faulty(`${point}=error*1`);
        const seats = pool.take(2);
        const payment = `error-${point}`;
        const { h, first, confirm } = await holdAndConfirm(fp, seats, payment);
        deadline = Math.max(deadline, h.expires_at);
        assert.ok([201, 500, 503].includes(first.status), `${point}: first answer ${first.status} ${first.text}`);
        if (first.status !== 201) {
            assert.ok(first.json?.error?.code, `${point}: an error answer says what failed: ${first.text}`);
        }
        const second = await confirm();
        const third = await confirm();
        if (first.status === 201) {
            assert.equal(second.status, 200, `${point}: retry after a 201: ${second.text}`);
            assert.equal(second.json.id ?? second.json.booking?.id, first.json.id ?? first.json.booking?.id, `${point}: same booking`);
        } else {
            assert.equal(second.status, 201, `${point}: the retry books it: ${second.text}`);
        }
        assert.equal(third.status, 200, `${point}: a second retry: ${third.text}`);
        const id = (x) => x.json.id ?? x.json.booking?.id;
        const booked = first.status === 201 ? first : second;
        assert.equal(id(third), id(booked), `${point}: the same booking every time`);
        answered.push({ id: id(booked), status: booked.status, seats });
        await retire(fp);
    }
    await settled('error-confirm', deadline, answered);
});

it('a freeze whose answer was lost is thawed by the next sweep: the retry books at once, not after the frozen bound', async () => {
    const fp = await faulty('confirm.freeze_reply=error*1');
    const seats = pool.take(2);
    const t0 = Date.now();
    const { h, first, confirm } = await holdAndConfirm(fp, seats, 'freeze-reply-lost');
    assert.equal(first.status, 503, `the lost answer is a 503: ${first.text}`);
    /* The freeze ran: the hold is frozen in Redis. Before, it stayed so for
     * the frozen bound (10 s), and the retry, waiting 3 s at most for it,
     * answered 409 hold_locked. */
    const second = await confirm();
    const waited = Date.now() - t0;
    assert.equal(second.status, 201, `the retry books it: ${second.text}`);
    assert.ok(waited < 4000, `booked ${waited} ms after the first try`);
    const s = (await stack.api('GET', '/api/shows/demo/seats')).json;
    assert.deepEqual(seats.map((x) => s.seats[ids.indexOf(x)]), ['b', 'b'], 'its seats are booked');
    const third = await confirm();
    assert.equal(third.status, 200, `a second retry: ${third.text}`);
    await retire(fp);
    await settled('freeze-reply', h.expires_at, [{ id: second.json.id ?? second.json.booking?.id, status: 201, seats }]);
});

it('error in a hold or a release answers unavailable and changes nothing', async () => {
    const fp = await faulty('ws.hold=error*1,ws.release=error*1');
    const seats = pool.take(2);
    const b = await stack.buyer({ url: fp.wsUrl, watch: null });
    const r1 = await b.request({ type: 'hold', show: 'demo', seats });
    assert.equal(r1.type, 'error');
    assert.equal(r1.code, 'unavailable');
    let s = (await stack.api('GET', '/api/shows/demo/seats')).json;
    assert.deepEqual(seats.map((x) => s.seats[ids.indexOf(x)]), ['e', 'e'], 'a refused hold holds nothing');
    const h = (await b.call({ type: 'hold', show: 'demo', seats })).hold;
    const r2 = await b.request({ type: 'release', show: 'demo', seats });
    assert.equal(r2.type, 'error');
    assert.equal(r2.code, 'unavailable');
    s = (await stack.api('GET', '/api/shows/demo/seats')).json;
    assert.deepEqual(seats.map((x) => s.seats[ids.indexOf(x)]), ['p', 'p'], 'a refused release keeps the hold');
    await b.call({ type: 'release', show: 'demo', seats });
    await b.close();
    await retire(fp);
    await settled('error-ws', h.expires_at);
});

it('errors in the sweep and in applying expiries: holds still end within their deadline plus 1 s', async () => {
    /* the healthy server sweeps too: stop it, so only the faulty one does */
    await stack.server.stop();
    for (const spec of ['show.sweep=error*5', 'show.expire=error*5', 'show.sweep=delay(150)', 'show.expire=delay(150)']) {
        const fp = await faulty(spec);
        const seats = pool.take(1);
        const w = await stack.buyer({ url: fp.wsUrl });
        const b = await stack.buyer({ url: fp.wsUrl, watch: null });
        const h = (await b.call({ type: 'hold', show: 'demo', seats })).hold;
        await w.waitFor((c) => c.state(seats[0]) === 'p', 3000, `${spec}: held`);
        await w.waitFor((c) => c.state(seats[0]) === 'e', h.expires_at - Date.now() + 1000, `${spec}: expired within deadline + 1 s`);
        await w.close();
        await b.close();
        await retire(fp);
    }
    await stack.server.restart();
    assert.deepEqual(await checkRedisInvariants(stack.redis), []);
});

it('delays at every failpoint slow things down and break nothing', async () => {
    const answered = [];
    let deadline = 0;
    for (const point of [...CONFIRM_STEPS, 'ws.hold', 'ws.release', 'store.reply', 'ledger.write']) {
        const fp = await faulty(`${point}=delay(200)`);
        const seats = pool.take(2);
        const { h, first, confirm } = await holdAndConfirm(fp, seats, `delay-${point}`);
        deadline = Math.max(deadline, h.expires_at);
        assert.equal(first.status, 201, `${point}: ${first.text}`);
        const again = await confirm();
        assert.equal(again.status, 200, `${point}: retry ${again.text}`);
        answered.push({ id: first.json.id ?? first.json.booking?.id, status: 201, seats });
        await retire(fp);
    }
    await settled('delay', deadline, answered);
});

it('a full disk (ledger.write error) answers 503 and loses nothing', async () => {
    const cookie = await stack.login();
    const earlier = pool.take(2);
    const ok = await stack.api('POST', '/api/shows/demo/bookings', { cookie, json: { seats: earlier, payment_ref: 'before-full' } });
    assert.equal(ok.status, 201, ok.text);
    const fp = await faulty('ledger.write=error');
    const seats = pool.take(2);
    const { h, first } = await holdAndConfirm(fp, seats, 'full-disk');
    assert.equal(first.status, 503, first.text);
    assert.equal(first.json.error.code, 'unavailable');
    const fcookie = await login(fp.baseUrl, stack.staff.user, stack.staff.password);
    const sale = await httpRequest(fp.baseUrl, 'POST', '/api/shows/demo/bookings', {
        cookie: fcookie, json: { seats: pool.take(1), payment_ref: 'full-disk-sale' },
    });
    assert.equal(sale.status, 503, sale.text);
    assert.match(fp.stderr(), /disk is full/);
    await retire(fp);
    const all = await settled('full-disk', h.expires_at, [{ id: ok.json.id ?? ok.json.booking?.id, status: 201, seats: earlier }]);
    assert.ok(!all.some((r) => r.payment_ref === 'full-disk' || r.payment_ref === 'full-disk-sale'), 'nothing half-written');
});

it('Redis at maxmemory refuses holds with a clear error while the map keeps working', async () => {
    const w = await stack.buyer();
    const b = await stack.buyer({ watch: null });
    const before = (await stack.api('GET', '/api/shows/demo/seats')).json;
    await stack.redis.cli('CONFIG', 'SET', 'maxmemory-policy', 'noeviction');
    await stack.redis.cli('CONFIG', 'SET', 'maxmemory', '1');
    try {
        const r = await b.request({ type: 'hold', show: 'demo', seats: pool.take(1) });
        assert.equal(r.type, 'error', JSON.stringify(r));
        assert.equal(r.code, 'unavailable');
        assert.match(r.message, /unavailable|try again/);
        const s = await stack.api('GET', '/api/shows/demo/seats');
        assert.equal(s.status, 200);
        assert.equal(s.json.seq, before.seq, 'nothing changed');
        const late = await stack.buyer();
        assert.equal(late.model.seq, before.seq, 'a new watcher still gets the map');
        await late.close();
    } finally {
        await stack.redis.cli('CONFIG', 'SET', 'maxmemory', '0');
    }
    const h = (await b.call({ type: 'hold', show: 'demo', seats: pool.take(1) })).hold;
    await w.waitFor((c) => c.state(h.seats[0]) === 'p', 3000, 'holds work again');
    await w.close();
    await b.close();
    assert.deepEqual(await checkRedisInvariants(stack.redis), []);
});

it('Redis paused for 5 s delays holds and corrupts nothing', async () => {
    const w = await stack.buyer();
    const b = await stack.buyer({ watch: null });
    const seats = pool.take(3);
    await stack.redis.cli('CLIENT', 'PAUSE', '5000', 'ALL');
    const t0 = Date.now();
    const answers = await Promise.all(seats.map((x) => b.request({ type: 'hold', show: 'demo', seats: [x] }, { timeoutMs: 15000 })));
    const took = Date.now() - t0;
    /* one buyer, one hold: the later holds replace the seat set of the first
     * (hold.lua adds seats to the buyer's hold) */
    for (const a of answers) assert.ok(a.type === 'ok' || a.code === 'unavailable', JSON.stringify(a));
    assert.ok(answers.some((a) => a.type === 'ok') || took >= 4000, `answered after the pause (${took} ms)`);
    const s = (await stack.api('GET', '/api/shows/demo/seats')).json;
    await w.waitFor((c) => c.model.seq === s.seq, 10000, 'watcher caught up after the pause');
    assert.deepEqual(seats.map((x) => w.state(x)), seats.map((x) => s.seats[ids.indexOf(x)]), 'watcher agrees');
    assert.deepEqual(await checkRedisInvariants(stack.redis), []);
    /* A pause as long as the server's 5-s reply watchdog may make it drop
     * the command connection and answer `unavailable, try again in a
     * moment` while it reconnects: a buyer who does try again is served. */
    await waitUntil(async () => (await stack.api('GET', '/healthz')).status === 200, 10000, '/healthz 200 after the pause');
    const deadline = Date.now() + HOLD_TTL_S * 1000;
    await b.close();
    await w.close();
    await settled('pause', deadline);
});
