/*
 * redis-restart.test.mjs - Redis dies (SIGKILL) while seatmapd serves and
 * comes back empty: meanwhile holds answer `unavailable`, /healthz is 503,
 * pages and snapshots are still served; afterwards service resumes, booked
 * seats are restored from SQLite, and watchers converge on GET seats.
 * Not here: seatmapd crashes (durability.test.mjs).
 */
import { before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startStack, testWithLogs, seatPool, waitUntil, bookingsOf } from '../lib/stack.mjs';

const HOLD_TTL_S = 2;
let stack;
let pool;
let ids;
const it = testWithLogs(() => stack);

before(async () => {
    stack = await startStack({ holdTtl: HOLD_TTL_S });
    ids = await stack.seatIds();
    pool = seatPool(ids);
});
after(async () => {
    await stack?.stop();
});

async function downAndBack(label) {
    const cookie = await stack.login();
    const [sold1, sold2, held, later, duringSale] = pool.take(5);
    const sale = await stack.api('POST', '/api/shows/demo/bookings', {
        cookie,
        json: { seats: [sold1, sold2], payment_ref: `rr-${label}` },
    });
    assert.equal(sale.status, 201, sale.text);
    const owner = await stack.buyer();
    const h = (await owner.call({ type: 'hold', show: 'demo', seats: [held] })).hold;
    const watchers = await Promise.all([stack.buyer(), stack.buyer()]);
    for (const w of watchers) {
        w.autoRewatch = true; /* what a real page does on a seq gap */
        await w.waitFor((c) => c.state(held) === 'p' && c.state(sold1) === 'b', 2000);
    }
    const before = await stack.seats();

    await stack.redis.kill('SIGKILL');
    await waitUntil(async () => (await stack.api('GET', '/healthz')).status === 503, 5000, '/healthz 503');
    /* Holds answer unavailable (not a hang, not a crash). */
    const r = await owner.request({ type: 'hold', show: 'demo', seats: [later] }, { timeoutMs: 5000 });
    assert.equal(r.type, 'error');
    assert.equal(r.code, 'unavailable', JSON.stringify(r));
    const rel = await owner.request({ type: 'release', show: 'demo', seats: [held] }, { timeoutMs: 5000 });
    assert.equal(rel.type, 'error', 'a release cannot succeed without the store');
    assert.equal(rel.code, 'unavailable', JSON.stringify(rel));
    /* A sale can't be checked against holds: 503, nothing written. */
    const sale2 = await stack.api('POST', '/api/shows/demo/bookings', {
        cookie,
        json: { seats: [duringSale], payment_ref: `rr-${label}-down` },
    });
    assert.equal(sale2.status, 503, sale2.text);
    assert.equal(sale2.json?.error?.code, 'unavailable');
    /* Pages and the snapshot it has are still served. */
    assert.equal((await stack.api('GET', '/')).status, 200);
    assert.equal((await stack.api('GET', '/api/shows/demo')).status, 200);
    const seatsDown = await stack.api('GET', '/api/shows/demo/seats');
    assert.equal(seatsDown.status, 200, 'GET seats served from the cache while Redis is down');
    const lateWatcher = await stack.buyer();
    assert.equal(lateWatcher.state(sold1), 'b', 'a new watcher gets a snapshot while Redis is down');
    lateWatcher.autoRewatch = true;
    assert.ok(stack.server.pid && !stack.server.sanitizerReport());

    const seen = [...watchers, lateWatcher].map((w) => w.model.history.length);
    await stack.redis.restart();
    /* It came back empty: the hold is gone. (Not DBSIZE 0: seatmapd may
     * already have reconnected and restored the booked seats.) */
    assert.equal(await stack.redis.cli('EXISTS', `sm:{demo}:hold:${h.ref}`), '0');
    await waitUntil(async () => (await stack.api('GET', '/healthz')).status === 200, 15000, '/healthz 200 again');

    /* Booked seats restored from SQLite; the lost hold is gone by its deadline. */
    const all = [...watchers, lateWatcher];
    const limit = Math.max(h.expires_at, Date.now()) + 1000;
    for (const w of all) {
        await w.waitFor((c) => c.state(held) === 'e', limit - Date.now() + 5000, `${label}: lost hold empty`);
        assert.equal(w.state(sold1), 'b');
        assert.equal(w.state(sold2), 'b');
    }
    assert.ok(Date.now() <= limit + 200, `${label}: held seat freed ${Date.now() - h.expires_at} ms after its deadline`);
    /* The booked seats never looked free: no watcher got a change of them
     * (a snapshot without them, then a delta booking them again). */
    for (const [i, w] of all.entries()) {
        const flicker = w.model.history.slice(seen[i]).filter((x) => x.seat === sold1 || x.seat === sold2);
        assert.deepEqual(flicker, [], `${label}: watcher ${i} saw booked seats change after Redis came back`);
    }
    const after = await stack.seats();
    assert.equal(after.seats[ids.indexOf(sold1)], 'b');
    assert.equal(after.seats[ids.indexOf(held)], 'e');
    assert.equal(after.seats[ids.indexOf(duringSale)], 'e');
    /* Redis has the booked seats again: holds on them fail. */
    const fresh = await stack.buyer();
    const r2 = await fresh.request({ type: 'hold', show: 'demo', seats: [sold2] });
    assert.equal(r2.code, 'seat_unavailable', JSON.stringify(r2));
    /* Service resumes: a new hold reaches every watcher (pub/sub is back). */
    const r3 = await fresh.call({ type: 'hold', show: 'demo', seats: [later] });
    for (const w of all) await w.waitFor((c) => c.state(later) === 'p', 3000, `${label}: new hold seen`);
    /* Every watcher's model matches GET seats, seq included. */
    const s = await stack.seats();
    for (const [i, w] of all.entries()) {
        await w.waitFor((c) => c.model.seq === s.seq && c.modelString() === s.seats, 3000, `${label}: watcher ${i} == GET seats`);
        assert.deepEqual(w.model.errors, []);
    }
    const bookings = bookingsOf((await stack.api('GET', '/api/shows/demo/bookings', { cookie })).json);
    assert.ok(!bookings.some((b) => b.payment_ref === `rr-${label}-down`));
    assert.ok(bookings.some((b) => b.payment_ref === `rr-${label}`));
    /* The owner can hold again; its stale hold is gone. */
    const again = (await owner.watch('demo')).snapshot;
    assert.equal(again.hold, null);
    void r3;
    return { before };
}

it('Redis killed and restarted empty during use', async () => {
    await downAndBack('first');
});

it('... and a second time (reconnect is repeatable)', async () => {
    await downAndBack('second');
});

it('Redis down for a while (several reconnect attempts), then back', async () => {
    const w = await stack.buyer();
    w.autoRewatch = true;
    const [seat] = pool.take(1);
    await stack.redis.kill('SIGKILL');
    await waitUntil(async () => (await stack.api('GET', '/healthz')).status === 503, 5000, '/healthz 503');
    /* Let several refused reconnects happen: wait until 3 hold attempts, each
     * answered, have been refused (no timer sleeps). */
    const t0 = Date.now();
    let refusals = 0;
    await waitUntil(async () => {
        const r = await w.request({ type: 'hold', show: 'demo', seats: [seat] }, { timeoutMs: 5000 });
        assert.ok(['unavailable', 'rate_limited'].includes(r.code), JSON.stringify(r));
        if (r.code === 'unavailable') refusals += 1;
        return refusals >= 3 && Date.now() - t0 > 2500;
    }, 10000, 'refusals while down');
    await stack.redis.restart();
    await waitUntil(async () => (await stack.api('GET', '/healthz')).status === 200, 20000, '/healthz 200 again');
    const r = await w.call({ type: 'hold', show: 'demo', seats: [seat] });
    assert.deepEqual(r.hold.seats, [seat]);
    await w.waitFor((c) => c.state(seat) === 'p', 3000);
});
