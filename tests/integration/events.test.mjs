/*
 * events.test.mjs - every transition appends exactly one webhook event to the
 * show's Redis Stream (sm:{demo}:events), written by the same Lua script as
 * the transition: a scripted run (hold, more seats, release, expiry, confirm,
 * walk-up sale, cancel) produces exactly the expected events, in seq order,
 * shaped as docs/webhooks.md says, and never with a buyer token or id.
 * Not here: delivery to receivers (webhooks.test.mjs).
 */
import { before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startStack, testWithLogs, seatPool, passDeadline, waitUntil } from '../lib/stack.mjs';

const HOLD_TTL_S = 2;
let stack;
let pool;
let cookie;
const it = testWithLogs(() => stack);

before(async () => {
    stack = await startStack({ holdTtl: HOLD_TTL_S });
    pool = seatPool(await stack.seatIds());
    cookie = await stack.login();
});
after(async () => {
    await stack?.stop();
});

/* The stream as [{id, type, event}], read with redis-cli (one field a line). */
async function streamEvents() {
    const out = (await stack.redis.cli('XRANGE', 'sm:{demo}:events', '-', '+')).trim();
    if (!out) return [];
    const lines = out.split('\n');
    const list = [];
    for (let i = 0; i + 4 < lines.length + 0; i += 5) {
        assert.equal(lines[i + 1], 'type');
        assert.equal(lines[i + 3], 'event');
        list.push({ id: lines[i], type: lines[i + 2], event: JSON.parse(lines[i + 4]) });
    }
    return list;
}

it('a scripted run produces exactly its events, in seq order, without buyer data', async () => {
    const before0 = (await streamEvents()).length;
    const [a, b, c, d, e, f] = pool.take(6);
    const buyer = await stack.buyer();

    const h1 = (await buyer.call({ type: 'hold', show: 'demo', seats: [a] })).hold; // hold.created
    await buyer.call({ type: 'hold', show: 'demo', seats: [b, c] }); // hold.updated
    await buyer.call({ type: 'release', show: 'demo', seats: [c] }); // hold.released
    const conf = await stack.api('POST', '/api/shows/demo/bookings', {
        cookie, json: { hold: h1.ref, payment_ref: 'ev-pay-1' },
    }); // booking.created
    assert.equal(conf.status, 201, conf.text);
    const sale = await stack.api('POST', '/api/shows/demo/bookings', {
        cookie, json: { seats: [d], payment_ref: 'ev-cash-1' },
    }); // booking.created (walk-up)
    assert.equal(sale.status, 201, sale.text);
    const del = await stack.api('DELETE', `/api/shows/demo/bookings/${conf.json.booking.id}`, { cookie });
    assert.equal(del.status, 200, del.text); // booking.cancelled
    const other = await stack.buyer();
    const h2 = (await other.call({ type: 'hold', show: 'demo', seats: [e, f] })).hold; // hold.created
    await passDeadline(stack, buyer, h2.expires_at, pool.take(1)[0]); // hold.expired (+ the probe's)

    const all = (await streamEvents()).slice(before0);
    const mine = all.filter((x) => x.event.data.ref !== undefined
        ? [h1.ref, h2.ref].includes(x.event.data.ref)
        : [conf.json.booking.id, sale.json.booking.id].includes(x.event.data.id));
    assert.deepEqual(mine.map((x) => x.type), [
        'hold.created', 'hold.updated', 'hold.released', 'booking.created', 'booking.created',
        'booking.cancelled', 'hold.created', 'hold.expired',
    ]);
    for (const x of all) {
        const ev = x.event;
        assert.equal(x.type, ev.type);
        assert.deepEqual(Object.keys(ev), ['id', 'type', 'show', 'seq', 'created_at', 'data']);
        assert.equal(ev.show, 'demo');
        assert.match(ev.id, /^evt_demo_\d+_\d+$/);
        assert.ok(Math.abs(ev.created_at - Date.now()) < 60000, 'created_at is unix ms');
        assert.doesNotMatch(JSON.stringify(ev), /buyer/, 'no buyer in an event');
        assert.doesNotMatch(JSON.stringify(ev), new RegExp(buyer.buyer), 'no buyer id');
    }
    /* seq strictly increases along the stream; ids are unique */
    for (let i = 1; i < all.length; i++) assert.ok(all[i].event.seq > all[i - 1].event.seq);
    assert.equal(new Set(all.map((x) => x.event.id)).size, all.length);

    const [created, updated, released, booked, sold, cancelled, created2, expired] = mine.map((x) => x.event);
    assert.deepEqual(created.data, { ref: h1.ref, seats: [a], expires_at: h1.expires_at });
    assert.deepEqual(updated.data, { ref: h1.ref, seats: [a, b, c], expires_at: h1.expires_at, added: [b, c] });
    assert.deepEqual(released.data, { ref: h1.ref, seats: [c], expires_at: h1.expires_at, remaining: [a, b] });
    assert.deepEqual(booked.data, conf.json.booking, 'booking.created: the booking as the API shows it');
    assert.deepEqual(sold.data, sale.json.booking);
    assert.deepEqual(cancelled.data, del.json.booking, 'booking.cancelled: the cancelled booking');
    assert.equal(cancelled.data.status, 'cancelled');
    assert.deepEqual(created2.data, { ref: h2.ref, seats: [e, f], expires_at: h2.expires_at });
    assert.deepEqual(expired.data, { ref: h2.ref, seats: [e, f], expires_at: h2.expires_at });
});

it('a refused transition writes no event', async () => {
    const [a] = pool.take(1);
    const one = await stack.buyer();
    const two = await stack.buyer();
    await one.call({ type: 'hold', show: 'demo', seats: [a] });
    const n = (await streamEvents()).length;
    const r = await two.request({ type: 'hold', show: 'demo', seats: [a] });
    assert.equal(r.type, 'error');
    const r2 = await two.request({ type: 'release', show: 'demo', seats: [a] });
    assert.equal(r2.type, 'error');
    await waitUntil(async () => (await streamEvents()).length === n, 2000, 'no new event');
});
