/*
 * durability.test.mjs - a booking answered 201/200 is committed in SQLite
 * before the reply: it survives `kill -9` of seatmapd, of Redis, or both;
 * a hold pending at a crash still ends at its deadline. Checked through the
 * API, a fresh snapshot, and the sqlite3 CLI. Not here: Redis outages while
 * seatmapd keeps running (redis-restart.test.mjs).
 */
import { before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import {
    startStack, testWithLogs, seatPool, bookingsOf, waitUntil, checkRedisInvariants, passDeadline,
} from '../lib/stack.mjs';

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

function sqlite(sql) {
    return execFileSync('sqlite3', ['-readonly', stack.dbPath, sql], { encoding: 'utf8' }).trim();
}

function bookingTable() {
    const t = sqlite("SELECT name FROM sqlite_master WHERE type='table' AND sql LIKE '%payment_ref%'");
    assert.ok(t, 'a table with a payment_ref column');
    return t.split('\n')[0];
}

async function expectBooked(booking, label) {
    const cookie = await stack.login();
    const list = await stack.api('GET', '/api/shows/demo/bookings', { cookie });
    assert.equal(list.status, 200, `${label}: ${list.text}`);
    const found = bookingsOf(list.json).find((x) => x.id === booking.id);
    assert.ok(found, `${label}: booking ${booking.id} listed after restart`);
    assert.deepEqual([...found.seats].sort(), [...booking.seats].sort());
    assert.equal(found.payment_ref, booking.payment_ref);
    const s = await stack.seats();
    for (const seat of booking.seats) assert.equal(s.seats[ids.indexOf(seat)], 'b', `${label}: ${seat} b in GET seats`);
    const w = await stack.buyer();
    for (const seat of booking.seats) assert.equal(w.state(seat), 'b', `${label}: ${seat} b in a fresh snapshot`);
    const r = await w.request({ type: 'hold', show: 'demo', seats: [booking.seats[0]] });
    assert.equal(r.code, 'seat_unavailable', `${label}: a booked seat can't be held`);
    const sale = await stack.api('POST', '/api/shows/demo/bookings', {
        cookie,
        json: { seats: [booking.seats[0]], payment_ref: `${booking.payment_ref}-twice` },
    });
    assert.equal(sale.status, 409, `${label}: no double booking: ${sale.text}`);
    /* The database itself has the row and its seats. */
    const table = bookingTable();
    const n = sqlite(`SELECT count(*) FROM "${table}" WHERE payment_ref='${booking.payment_ref}'`);
    assert.equal(n, '1', `${label}: one row in ${table}`);
    const dump = sqlite('.dump');
    for (const seat of booking.seats) assert.ok(dump.includes(seat), `${label}: seat ${seat} in the database`);
    await w.close();
}

it('a confirmed booking survives kill -9 of seatmapd', async () => {
    const seats = pool.take(2);
    const cookie = await stack.login();
    const buyer = await stack.buyer();
    const h = (await buyer.call({ type: 'hold', show: 'demo', seats })).hold;
    const r = await stack.api('POST', '/api/shows/demo/bookings', {
        cookie,
        json: { hold: h.ref, payment_ref: 'dur-kill9' },
    });
    assert.equal(r.status, 201, r.text);
    await stack.server.kill('SIGKILL'); /* right after the 201 */
    await stack.server.restart();
    await expectBooked(r.json.booking, 'after kill -9 seatmapd');
    /* idempotency survives too */
    const again = await stack.api('POST', '/api/shows/demo/bookings', {
        cookie: await stack.login(),
        json: { hold: h.ref, payment_ref: 'dur-kill9' },
    });
    assert.equal(again.status, 200, again.text);
    assert.equal(again.json.booking.id, r.json.booking.id);
});

it('a walk-up sale survives kill -9 of seatmapd AND Redis (Redis comes back empty)', async () => {
    const seats = pool.take(3);
    const cookie = await stack.login();
    const r = await stack.api('POST', '/api/shows/demo/bookings', {
        cookie,
        json: { seats, payment_ref: 'dur-both' },
    });
    assert.equal(r.status, 201, r.text);
    await Promise.all([stack.server.kill('SIGKILL'), stack.redis.kill('SIGKILL')]);
    await stack.redis.restart();
    assert.equal(await stack.redis.cli('DBSIZE'), '0', 'Redis restarted empty');
    await stack.server.restart();
    await expectBooked(r.json.booking, 'after kill -9 of both');
});

it('a booking survives kill -9 of Redis alone', async () => {
    const seats = pool.take(2);
    const cookie = await stack.login();
    const r = await stack.api('POST', '/api/shows/demo/bookings', {
        cookie,
        json: { seats, payment_ref: 'dur-redis' },
    });
    assert.equal(r.status, 201, r.text);
    await stack.redis.kill('SIGKILL');
    await stack.redis.restart();
    await waitUntil(
        async () => (await stack.api('GET', '/healthz')).status === 200,
        15000,
        'seatmapd to reconnect to Redis (/healthz 200)',
    );
    await expectBooked(r.json.booking, 'after kill -9 Redis');
});

it('a hold pending at a crash of seatmapd still ends by its deadline', async () => {
    const seats = pool.take(2);
    const buyer = await stack.buyer();
    const h = (await buyer.call({ type: 'hold', show: 'demo', seats })).hold;
    await stack.server.kill('SIGKILL');
    await stack.server.restart();
    const upAt = Date.now();
    const w = await stack.buyer();
    const limit = Math.max(h.expires_at, upAt) + 1000;
    await w.waitFor((c) => seats.every((s) => c.state(s) === 'e'), limit - Date.now() + 5000, 'seats empty');
    const seenAt = Date.now();
    assert.ok(seenAt >= h.expires_at - 100, `seats freed ${h.expires_at - seenAt} ms BEFORE the deadline`);
    assert.ok(seenAt <= limit, `seats empty ${seenAt - h.expires_at} ms after the deadline (server up ${upAt - h.expires_at} ms after it)`);
    const s = await stack.seats();
    for (const seat of seats) assert.equal(s.seats[ids.indexOf(seat)], 'e');
    /* and the buyer can hold them again */
    const again = await stack.buyer({ buyer: buyer.buyer });
    assert.equal(again.model.hold, null);
    await again.call({ type: 'hold', show: 'demo', seats });
});

it('kill -9 while confirms are in flight: every 201 is booked, nothing half-done', async () => {
    const n = 10;
    const seats = pool.take(n * 2);
    const cookie = await stack.login();
    const buyers = await Promise.all(Array.from({ length: n }, () => stack.buyer({ watch: null })));
    const holds = await Promise.all(
        buyers.map((b, i) => b.call({ type: 'hold', show: 'demo', seats: seats.slice(2 * i, 2 * i + 2) })),
    );
    let killing = null;
    const results = await Promise.all(
        holds.map((r, i) =>
            stack
                .api('POST', '/api/shows/demo/bookings', {
                    cookie,
                    json: { hold: r.hold.ref, payment_ref: `inflight-${i}` },
                    timeoutMs: 5000,
                })
                .then((res) => {
                    /* the first answer pulls the plug on the rest */
                    if (res.status === 201 && !killing) killing = stack.server.kill('SIGKILL');
                    return res;
                })
                .catch((e) => ({ status: 0, text: e.message })),
        ),
    );
    await (killing || stack.server.kill('SIGKILL'));
    await stack.server.restart();
    const acked = results.filter((r) => r.status === 201).length;
    assert.ok(acked >= 1, 'at least one confirm was answered before the kill');
    /* after every deadline plus the 1 s budget, look at the final states */
    const last = Math.max(...holds.map((r) => r.hold.expires_at));
    const w = await stack.buyer();
    await passDeadline(stack, w, last + 1000, pool.take(1)[0]);
    const all = bookingsOf((await stack.api('GET', '/api/shows/demo/bookings', { cookie: await stack.login() })).json);
    const s = await stack.seats();
    results.forEach((r, i) => {
        const mine = seats.slice(2 * i, 2 * i + 2);
        const states = mine.map((x) => s.seats[ids.indexOf(x)]);
        const row = all.find((b) => b.payment_ref === `inflight-${i}`);
        if (r.status === 201) assert.ok(row, `inflight-${i}: answered 201 but the booking is lost`);
        if (row) {
            assert.deepEqual(states, ['b', 'b'], `inflight-${i}: booked in SQLite but seats are ${states}`);
        } else {
            assert.deepEqual(states, ['e', 'e'], `inflight-${i}: no booking but seats are ${states}`);
        }
        assert.deepEqual(mine.map((x) => w.state(x)), states, `inflight-${i}: watcher agrees`);
    });
    assert.deepEqual(await checkRedisInvariants(stack.redis), []);
});
