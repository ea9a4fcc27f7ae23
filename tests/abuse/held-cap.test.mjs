/*
 * held-cap.test.mjs - the per-address cap on held seats (--max-held-per-ip,
 * docs/security.md) stays exact however seats leave a hold: released,
 * confirmed at the box office, expired by the sweep, or moved with a buyer
 * to another address; and `best` counts like `hold`. The real seatmapd and
 * Redis; clients from 127.0.0.5 and up. A count that drifted would show as
 * a refusal of a hold that fits, or a hold past the cap.
 */
import { after, before } from 'node:test';
import assert from 'node:assert/strict';
import { seatPool, startStack, testWithLogs } from '../lib/stack.mjs';

const CAP = 4;
const HOLD_TTL_S = 2;
let stack;
let pool;
let ids;
let cookie;
const it = testWithLogs(() => stack);

before(async () => {
    stack = await startStack({ holdTtl: HOLD_TTL_S, extraArgs: ['--max-held-per-ip', String(CAP)] });
    ids = await stack.seatIds();
    pool = seatPool(ids.slice(0, -10));
    cookie = await stack.login();
});
after(async () => {
    await stack?.stop();
});

const buyerAt = (localAddress, opts = {}) => stack.buyer({ localAddress, ...opts });

function assertCapped(r, what) {
    assert.equal(r.type, 'error', `${what}: ${JSON.stringify(r)}`);
    assert.equal(r.code, 'hold_limit', `${what}: ${JSON.stringify(r)}`);
    assert.match(r.message, /per address/, what);
}

/* The counters are Redis keys of the show (server/lua/lib.lua): none is
 * left once nothing is held. */
async function counterKeys() {
    const out = await stack.redis.cli('--scan', '--pattern', 'sm:{demo}:ipseats:*');
    return out.split('\n').filter(Boolean);
}

it('released seats no longer count against the address', async () => {
    const a = await buyerAt('127.0.0.5');
    const b = await buyerAt('127.0.0.5');
    const sa = pool.take(3);
    const sb = pool.take(2);
    assert.equal((await a.hold('demo', sa)).type, 'ok');
    assertCapped(await b.hold('demo', sb), '3 + 2 seats from one address');
    /* another address is not affected */
    const other = await buyerAt('127.0.0.6');
    const so = pool.take(CAP);
    assert.equal((await other.hold('demo', so)).type, 'ok', 'another address holds its own 4');
    assert.equal((await a.release('demo', [sa[0]])).type, 'ok');
    assert.equal((await b.hold('demo', sb)).type, 'ok', 'two seats fit after one was released');
    assertCapped(await b.hold('demo', pool.take(1)), 'a fifth seat');
    assert.equal((await a.release('demo', sa.slice(1))).type, 'ok');
    assert.equal((await b.release('demo', sb)).type, 'ok');
    assert.equal((await other.release('demo', so)).type, 'ok');
    assert.deepEqual(await counterKeys(), [], 'nothing held: no counter left');
    const c = await buyerAt('127.0.0.5');
    const sc = pool.take(CAP);
    assert.equal((await c.hold('demo', sc)).type, 'ok', 'the whole cap again');
    assert.equal((await c.release('demo', sc)).type, 'ok');
    await Promise.all([a, b, c, other].map((x) => x.close()));
});

it('confirmed seats no longer count against the address', async () => {
    const d = await buyerAt('127.0.0.7');
    const r = await d.hold('demo', pool.take(CAP));
    assert.equal(r.type, 'ok');
    const e = await buyerAt('127.0.0.7');
    assertCapped(await e.hold('demo', pool.take(1)), 'the cap is full');
    const conf = await stack.api('POST', '/api/shows/demo/bookings', {
        cookie,
        json: { hold: r.hold.ref, payment_ref: 'cap-test-1' },
    });
    assert.equal(conf.status, 201, conf.text);
    const se = pool.take(CAP);
    assert.equal((await e.hold('demo', se)).type, 'ok', 'booked seats are no longer held');
    assert.equal((await e.release('demo', se)).type, 'ok');
    await Promise.all([d, e].map((x) => x.close()));
});

it('best counts like hold', async () => {
    const f = await buyerAt('127.0.0.8');
    const g = await buyerAt('127.0.0.8');
    const rf = await f.call({ type: 'best', show: 'demo', count: 3 });
    assert.equal(rf.hold.seats.length, 3);
    assertCapped(await g.request({ type: 'best', show: 'demo', count: 2 }), 'best past the cap');
    /* seats at the end of the list, where best (which picks the front
     * centre first) has not been */
    assertCapped(await g.hold('demo', ids.slice(-2)), 'hold past the cap after best');
    assert.equal((await f.release('demo', rf.hold.seats)).type, 'ok');
    const rg = await g.call({ type: 'best', show: 'demo', count: 2 });
    assert.equal(rg.hold.seats.length, 2);
    assert.equal((await g.release('demo', rg.hold.seats)).type, 'ok');
    await Promise.all([f, g].map((x) => x.close()));
});

it('expired seats no longer count: the next hold fits as soon as the seats show empty', async () => {
    const h = await buyerAt('127.0.0.9');
    const sh = pool.take(CAP);
    assert.equal((await h.hold('demo', sh)).type, 'ok');
    const i = await buyerAt('127.0.0.9');
    assertCapped(await i.hold('demo', pool.take(1)), 'the cap is full');
    /* the sweep expires the hold and publishes it in one step with the
     * count: once a watcher sees the seats empty the address may hold again */
    await i.waitFor((c) => sh.every((s) => c.state(s) === 'p'), 3000, 'held');
    await i.waitFor((c) => sh.every((s) => c.state(s) === 'e'), HOLD_TTL_S * 1000 + 3000, 'expired');
    const si = pool.take(CAP);
    const ri = await i.hold('demo', si);
    assert.equal(ri.type, 'ok', `the whole cap again after the expiry: ${JSON.stringify(ri)}`);
    assert.equal((await i.release('demo', si)).type, 'ok');
    await Promise.all([h, i].map((x) => x.close()));
});

it('a buyer who moves to another address takes its held seats along', async () => {
    const j = await buyerAt('127.0.0.10');
    const sj = pool.take(2);
    assert.equal((await j.hold('demo', sj)).type, 'ok');
    /* the same buyer (its token) from another address adds a seat */
    const moved = await buyerAt('127.0.0.11', { buyer: j.buyer });
    const extra = pool.take(1);
    const r = await moved.hold('demo', extra);
    assert.equal(r.type, 'ok', JSON.stringify(r));
    assert.equal(r.hold.seats.length, 3);
    /* its old address holds nothing any more ... */
    const k = await buyerAt('127.0.0.10');
    const sk = pool.take(CAP);
    assert.equal((await k.hold('demo', sk)).type, 'ok', 'the old address has its whole cap');
    /* ... and the new one counts all three */
    const l = await buyerAt('127.0.0.11');
    assertCapped(await l.hold('demo', pool.take(2)), '3 + 2 at the new address');
    assert.equal((await l.hold('demo', pool.take(1))).type, 'ok', '3 + 1 fits');
    assert.equal((await moved.release('demo', [...sj, ...extra])).type, 'ok');
    await Promise.all([j, moved, k, l].map((x) => x.close()));
});
