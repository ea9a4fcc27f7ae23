/*
 * multiprocess.test.mjs - two seatmapd processes on one Redis and one SQLite
 * database behave as one service: holds, hold events, expiry, bookings and
 * cancellations made through either reach watchers on both, and a race
 * across both processes has one winner. Not here: single-process semantics.
 */
import { before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
    startStack, testWithLogs, seatPool, checkRedisInvariants, waitUntil, httpRequest,
} from '../lib/stack.mjs';
import { crashDuringBookings } from '../lib/crash.mjs';

const HOLD_TTL_S = 2;
let stack;
let A;
let B;
let pool;
let ids;
let wa; /* watchers on A and on B */
let wb;
const it = testWithLogs(() => stack);

before(async () => {
    stack = await startStack({ holdTtl: HOLD_TTL_S, extraArgs: ['--ip-limits', 'off'] /* many clients from one address */ });
    A = stack.server;
    B = await stack.addServer();
    ids = await stack.seatIds();
    pool = seatPool(ids);
    wa = await stack.buyer({ url: A.wsUrl });
    wb = await stack.buyer({ url: B.wsUrl });
});
after(async () => {
    await stack?.stop();
});

it('both processes serve the same show', async () => {
    const la = (await stack.api('GET', '/api/shows/demo')).json;
    const lb = (await httpRequest(B.baseUrl, 'GET', '/api/shows/demo')).json;
    assert.deepEqual(lb.seats.map((s) => s.id), la.seats.map((s) => s.id));
    assert.equal(wa.modelString(), wb.modelString());
    assert.equal(wa.model.seq, wb.model.seq);
});

it('a hold via A reaches a watcher on B; the buyer token works on B', async () => {
    const [s1, s2] = pool.take(2);
    const buyerA = await stack.buyer({ url: A.wsUrl });
    const h = (await buyerA.call({ type: 'hold', show: 'demo', seats: [s1] })).hold;
    await wb.waitFor((c) => c.state(s1) === 'p', 2000, 'B watcher sees the hold made on A');
    /* the same buyer on B: token accepted, hold in the snapshot */
    const buyerB = await stack.buyer({ url: B.wsUrl, buyer: buyerA.buyer });
    assert.equal(buyerB.buyer, buyerA.buyer, 'a token minted by A is valid on B');
    assert.equal(buyerB.model.hold?.ref, h.ref);
    /* a hold added on B reaches the buyer's connection on A as a hold event */
    buyerA.clearEvents();
    const r = await buyerB.call({ type: 'hold', show: 'demo', seats: [s2] });
    assert.equal(r.hold.ref, h.ref, 'one hold per buyer and show, whichever process');
    assert.equal(r.hold.expires_at, h.expires_at);
    const e = await buyerA.nextEvent((x) => x.type === 'hold' && x.reason === 'held', 2000, 'hold event on A');
    assert.deepEqual([...e.hold.seats].sort(), [s1, s2].sort());
    await wa.waitFor((c) => c.state(s2) === 'p', 2000);
    /* release on A reaches B */
    await buyerA.call({ type: 'release', show: 'demo', seats: [s1, s2] });
    await wb.waitFor((c) => c.state(s1) === 'e' && c.state(s2) === 'e', 2000, 'release seen on B');
    const eb = await buyerB.nextEvent((x) => x.type === 'hold' && x.reason === 'released', 2000, 'released on B');
    assert.equal(eb.hold, null);
    assert.deepEqual(wa.model.gaps, []);
    assert.deepEqual(wb.model.gaps, []);
});

it('expiry is seen on both processes within 1 s; the owner on B gets expired', async () => {
    const seats = pool.take(2);
    const buyerA = await stack.buyer({ url: A.wsUrl });
    const buyerB = await stack.buyer({ url: B.wsUrl, buyer: buyerA.buyer });
    const h = (await buyerA.call({ type: 'hold', show: 'demo', seats })).hold;
    for (const w of [wa, wb]) await w.waitFor((c) => seats.every((s) => c.state(s) === 'p'), 2000, 'held');
    for (const w of [wa, wb]) {
        await w.waitFor((c) => seats.every((s) => c.state(s) === 'e'), h.expires_at - Date.now() + 6000, 'expired');
        for (const s of seats) {
            const ch = w.changesOf(s);
            const lag = ch[ch.length - 1].at - h.expires_at;
            assert.ok(lag <= 1000 && lag >= -100, `seat ${s} freed ${lag} ms after the deadline`);
        }
    }
    for (const c of [buyerA, buyerB]) {
        const e = await c.nextEvent((x) => x.type === 'hold' && x.reason === 'expired', 2000, 'expired event');
        assert.equal(e.hold, null);
    }
    /* one expiry is one operation, counted once: both see the same seq */
    await waitUntil(() => wa.model.seq === wb.model.seq, 2000, 'same seq on A and B');
    assert.equal(wa.modelString(), wb.modelString());
});

it('a booking confirmed on B is booked for watchers and the buyer on A', async () => {
    const seats = pool.take(2);
    const buyerA = await stack.buyer({ url: A.wsUrl });
    const h = (await buyerA.call({ type: 'hold', show: 'demo', seats })).hold;
    await wa.waitFor((c) => seats.every((s) => c.state(s) === 'p'), 2000, 'held');
    const cookieB = await stack.login(undefined, undefined, B.baseUrl);
    const r = await httpRequest(B.baseUrl, 'POST', '/api/shows/demo/bookings', {
        cookie: cookieB,
        json: { hold: h.ref, payment_ref: 'mp-1' },
    });
    assert.equal(r.status, 201, r.text);
    await wa.waitFor((c) => seats.every((s) => c.state(s) === 'b'), 2000, 'A watchers see booked');
    await wb.waitFor((c) => seats.every((s) => c.state(s) === 'b'), 2000, 'B watchers see booked');
    const e = await buyerA.nextEvent((x) => x.type === 'hold' && x.reason === 'booked', 2000, 'booked event on A');
    assert.equal(e.hold, null);
    /* the same payment_ref on A: 200, same booking (one database) */
    const again = await stack.api('POST', '/api/shows/demo/bookings', {
        cookie: await stack.login(),
        json: { hold: h.ref, payment_ref: 'mp-1' },
    });
    assert.equal(again.status, 200, again.text);
    assert.equal(again.json.booking.id, r.json.booking.id);
    /* cancel on A: empty on B */
    const del = await stack.api('DELETE', `/api/shows/demo/bookings/${r.json.booking.id}`, { cookie: await stack.login() });
    assert.ok(del.status === 200 || del.status === 204, del.text);
    await wb.waitFor((c) => seats.every((s) => c.state(s) === 'e'), 2000, 'B watchers see cancel');
    /* a walk-up sale on A is booked on B */
    const [w1] = pool.take(1);
    const sale = await stack.api('POST', '/api/shows/demo/bookings', {
        cookie: await stack.login(),
        json: { seats: [w1], payment_ref: 'mp-walk' },
    });
    assert.equal(sale.status, 201, sale.text);
    await wb.waitFor((c) => c.state(w1) === 'b', 2000);
    const sa = await stack.seats();
    await waitUntil(async () => {
        const x = (await httpRequest(B.baseUrl, 'GET', '/api/shows/demo/seats')).json;
        return x.seq === sa.seq && x.seats === sa.seats;
    }, 2000, 'GET seats agree on A and B');
});

it('a race for one seat across both processes has exactly one winner', async () => {
    const [seat] = pool.take(1);
    const racers = [
        ...(await Promise.all(Array.from({ length: 40 }, () => stack.buyer({ url: A.wsUrl, watch: null })))),
        ...(await Promise.all(Array.from({ length: 40 }, () => stack.buyer({ url: B.wsUrl, watch: null })))),
    ];
    const replies = await Promise.all(racers.map((c) => c.request({ type: 'hold', show: 'demo', seats: [seat] })));
    const oks = replies.filter((r) => r.type === 'ok');
    assert.equal(oks.length, 1, `exactly one winner, got ${oks.length}`);
    for (const r of replies) if (r.type !== 'ok') assert.equal(r.code, 'seat_unavailable');
    for (const w of [wa, wb]) {
        await w.waitFor((c) => c.state(seat) === 'p', 2000);
        assert.deepEqual(w.changesOf(seat).map((x) => x.state), ['p']);
    }
    assert.deepEqual(await checkRedisInvariants(stack.redis), []);
    await Promise.all(racers.map((c) => c.close()));
});

it('subscribers killed: changes made meanwhile still reach the other process (resync)', async () => {
    const seats = pool.take(3);
    const buyerA = await stack.buyer({ url: A.wsUrl });
    const killed = Number(await stack.redis.cli('CLIENT', 'KILL', 'TYPE', 'pubsub'));
    assert.ok(killed >= 2, `both processes subscribe (killed ${killed})`);
    /* Published while B's subscriber is down: lost unless B resynchronises. */
    await buyerA.call({ type: 'hold', show: 'demo', seats: [seats[0]] });
    const cookie = await stack.login();
    const sale = await stack.api('POST', '/api/shows/demo/bookings', {
        cookie,
        json: { seats: [seats[1]], payment_ref: 'mp-during-resub' },
    });
    assert.equal(sale.status, 201, sale.text);
    await wb.waitFor((c) => c.state(seats[0]) === 'p' && c.state(seats[1]) === 'b', 5000, 'B catches up');
    /* and live updates flow again */
    await buyerA.call({ type: 'hold', show: 'demo', seats: [seats[2]] });
    await wb.waitFor((c) => c.state(seats[2]) === 'p', 3000, 'B sees a later hold');
    const sa = await stack.seats();
    await waitUntil(async () => {
        const x = (await httpRequest(B.baseUrl, 'GET', '/api/shows/demo/seats')).json;
        return x.seats === sa.seats;
    }, 3000, 'GET seats agree on A and B');
    await wb.waitFor((c) => c.modelString() === sa.seats, 3000, 'B watcher == A seats');
});

it('sales and cancels racing on both processes: no seat sold twice', async () => {
    const seats = pool.take(4);
    const cookieA = await stack.login();
    const cookieB = await stack.login(undefined, undefined, B.baseUrl);
    /* overlapping walk-up sales, half through A and half through B */
    const sets = [[seats[0], seats[1]], [seats[1], seats[2]], [seats[2], seats[3]], [seats[3], seats[0]]];
    const rs = await Promise.all(
        sets.flatMap((set, i) => [
            stack.api('POST', '/api/shows/demo/bookings', { cookie: cookieA, json: { seats: set, payment_ref: `mpa-${i}` } }),
            httpRequest(B.baseUrl, 'POST', '/api/shows/demo/bookings', { cookie: cookieB, json: { seats: set, payment_ref: `mpb-${i}` } }),
        ]),
    );
    const won = rs.filter((r) => r.status === 201).map((r) => r.json.booking);
    for (const r of rs) if (r.status !== 201) assert.equal(r.json?.error?.code, 'seat_unavailable', r.text);
    const sold = won.flatMap((b) => b.seats);
    assert.equal(new Set(sold).size, sold.length, `a seat sold twice: ${JSON.stringify(won)}`);
    assert.ok(won.length >= 1 && won.length <= 2, `${won.length} sales won`);
    /* cancel the first winner from both processes at once: one success */
    const id = won[0].id;
    const dels = await Promise.all([
        stack.api('DELETE', `/api/shows/demo/bookings/${id}`, { cookie: cookieA }),
        httpRequest(B.baseUrl, 'DELETE', `/api/shows/demo/bookings/${id}`, { cookie: cookieB }),
    ]);
    const okDel = dels.filter((d) => d.status === 200 || d.status === 204);
    assert.equal(okDel.length, 1, dels.map((d) => `${d.status} ${d.text}`).join('\n'));
    const other = dels.find((d) => !(d.status === 200 || d.status === 204));
    assert.equal(other.status, 409, other.text);
    assert.equal(other.json?.error?.code, 'already_cancelled');
    for (const w of [wa, wb]) await w.waitFor((c) => won[0].seats.every((x) => c.state(x) === 'e'), 2000, 'cancelled seats empty');
    assert.deepEqual(await checkRedisInvariants(stack.redis), []);
});

it('process A killed while bookings are in flight on it: B sorts it out', async (t) => {
    const r = await crashDuringBookings({
        stack, target: A, judge: B, pool, ids, label: 'inflight-A',
        kill: () => A.kill('SIGKILL'),
        recover: async () => {}, /* A stays dead: B alone must expire or keep what A left */
        /* a hold A froze and never committed is released by B once frozen
         * longer than the 10 s bound (architecture.md, crash windows) */
        abandonMs: 11000,
    });
    t.diagnostic(`${r.acked}/${r.total} answered 201 before the crash`);
    await A.restart();
    wa = await stack.buyer({ url: A.wsUrl });
});

it('one process killed: the other keeps serving and still expires holds', async () => {
    const seats = pool.take(1);
    const buyerA = await stack.buyer({ url: A.wsUrl });
    const h = (await buyerA.call({ type: 'hold', show: 'demo', seats })).hold;
    await wb.waitFor((c) => c.state(seats[0]) === 'p', 2000, 'held, seen on B');
    await A.kill('SIGKILL');
    await wb.waitFor((c) => c.state(seats[0]) === 'e', h.expires_at - Date.now() + 6000, 'expired on B');
    const ch = wb.changesOf(seats[0]);
    const lag = ch[ch.length - 1].at - h.expires_at;
    assert.ok(lag <= 1000, `B freed the seat ${lag} ms after the deadline with A dead`);
    await A.restart();
    const again = await stack.buyer({ url: A.wsUrl });
    assert.equal(again.modelString(), wb.modelString());
});
