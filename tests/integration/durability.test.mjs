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
    startStack, testWithLogs, seatPool, bookingsOf, waitUntil,
} from '../lib/stack.mjs';
import { crashDuringBookings } from '../lib/crash.mjs';

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

it('kill -9 of seatmapd while bookings are in flight: every 201 kept, nothing half-done', async (t) => {
    const r = await crashDuringBookings({
        stack, target: stack.server, pool, ids, label: 'inflight-seatmapd',
        kill: () => stack.server.kill('SIGKILL'),
        recover: () => stack.server.restart(),
    });
    t.diagnostic(`${r.acked}/${r.total} answered 201 before the crash`);
});

it('kill -9 of Redis while bookings are in flight: every 201 kept, nothing half-done', async (t) => {
    const r = await crashDuringBookings({
        stack, target: stack.server, pool, ids, label: 'inflight-redis',
        kill: () => stack.redis.kill('SIGKILL'),
        recover: async () => {
            await stack.redis.restart();
            await waitUntil(async () => (await stack.api('GET', '/healthz')).status === 200, 15000, 'healthz 200');
        },
    });
    t.diagnostic(`${r.acked}/${r.total} answered 201 before the crash`);
});

/*
 * Land the kill inside the server's work: a dry run measures how long a burst
 * takes to get its first answer on this machine, then bursts are killed at
 * fractions of that time.
 */
let firstAnswerMs = null;
it('calibration: time to the first answer of a burst of 30 bookings', async (t) => {
    const cookie = await stack.login();
    const jobs = pool.take(30).map((seat, i) => ({ seats: [seat], payment_ref: `calib-${i}` }));
    const t0 = Date.now();
    const times = await Promise.all(
        jobs.map((j) => stack.api('POST', '/api/shows/demo/bookings', { cookie, json: j }).then((r) => {
            assert.equal(r.status, 201, r.text);
            return Date.now() - t0;
        })),
    );
    firstAnswerMs = Math.min(...times);
    t.diagnostic(`first answer after ${firstAnswerMs} ms, last after ${Math.max(...times)} ms`);
});

for (const frac of [0.4, 0.6, 0.8, 1.0]) {
    it(`kill -9 of seatmapd at ${frac} x the first-answer time of a burst: nothing half-done`, async (t) => {
        const ms = Math.max(1, Math.round((firstAnswerMs ?? 20) * frac));
        const r = await crashDuringBookings({
            stack, target: stack.server, pool, ids, n: 30, label: `burst-${frac}`, killAfterMs: ms,
            kill: () => stack.server.kill('SIGKILL'),
            recover: () => stack.server.restart(),
        });
        t.diagnostic(`killed after ${ms} ms; ${r.acked}/${r.total} answered 201 before the crash`);
    });
}
