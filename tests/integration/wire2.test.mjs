/*
 * wire2.test.mjs - the seatmap.v2 subprotocol (docs/protocol.md): negotiated
 * in the handshake; snapshots and deltas arrive as binary messages that the
 * page's reference decoder (web/js/wire2.js) reads; everything else is the
 * same JSON as v1. A v2 watcher converges to exactly the state a v1 watcher
 * and GET /api/shows/demo/seats see, under holds, releases and expiries; v1
 * clients are served as before.
 * Not here: the encoder's sizes on a 60k-seat show (tests/unit/test_proto_v2.c,
 * bench/), the pages (tests/e2e).
 */
import { before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startStack, testWithLogs, seatPool, waitUntil, barrier, wsClient } from '../lib/stack.mjs';

const HOLD_TTL_S = 1.5;
let stack;
let pool;
let ids;
const it = testWithLogs(() => stack);

before(async () => {
    stack = await startStack({ holdTtl: HOLD_TTL_S, extraArgs: ['--ip-limits', 'off'] /* many clients from one address */ });
    ids = await stack.seatIds();
    pool = seatPool(ids);
});
after(async () => {
    await stack?.stop();
});

it('a client asking for seatmap.v2 gets it, and its snapshot is binary', async () => {
    const c = await stack.client({ protocol: 'seatmap.v2' });
    assert.equal(c.ws.protocol, 'seatmap.v2');
    const hello = await c.hello();
    assert.match(hello.buyer, /^[0-9a-f]+$/, 'replies are the same JSON as v1');
    const { snapshot: snap } = await c.watch('demo');
    assert.equal(snap.type, 'snapshot');
    assert.equal(snap.show, 'demo');
    assert.equal(snap.seats.length, ids.length);
    assert.equal(snap.hold, null);
    assert.ok(c.wireBytes.snapshot > 0 && c.wireBytes.snapshot < ids.length / 2, `v2 snapshot ${c.wireBytes.snapshot} bytes`);
    assert.deepEqual(c.model.errors, []);
});

it('a client that names no subprotocol is refused with 400 and a message that names them', async () => {
    await assert.rejects(stack.client({ protocol: null }), (e) => e.status === 400);
});

it('v1 clients still get JSON text', async () => {
    for (const protocol of ['seatmap.v1']) {
        const c = await stack.client({ protocol });
        assert.equal(c.ws.protocol, protocol);
        await c.hello();
        const { snapshot: snap } = await c.watch('demo');
        assert.equal(typeof snap.seats, 'string');
        const actor = await stack.buyer({ watch: null });
        const [seat] = pool.take(1);
        await barrier([c], actor, seat);
        assert.deepEqual(c.model.errors, [], `${protocol}: no binary frame, nothing malformed`);
        assert.ok(c.wireBytes.delta > 0);
        await c.close();
    }
});

it('a v2 watcher converges to the same state as a v1 watcher under holds, releases and expiries', async () => {
    const v1 = await stack.buyer({ protocol: 'seatmap.v1' });
    const v2 = await stack.buyer({ protocol: 'seatmap.v2' });
    const buyers = await Promise.all([1, 2, 3, 4, 5, 6].map(() => stack.buyer({ watch: null, protocol: 'seatmap.v2' })));
    const seats = pool.take(60);
    const expiring = [];
    /* holds of several seats each, some released, the rest left to expire */
    for (const [i, b] of buyers.entries()) {
        const mine = seats.slice(i * 10, i * 10 + 10);
        await b.call({ type: 'hold', show: 'demo', seats: mine });
        if (i % 2) await b.call({ type: 'release', show: 'demo', seats: mine.slice(0, 5) });
        expiring.push(...(i % 2 ? mine.slice(5) : mine));
    }
    await Promise.all([v1, v2].map((w) => w.waitFor((c) => expiring.every((s) => c.state(s) === 'p'), 5000, 'held')));
    assert.equal(v1.modelString(), v2.modelString(), 'same state while held');
    /* the expiry wave: every remaining seat returns to empty */
    await Promise.all(
        [v1, v2].map((w) => w.waitFor((c) => expiring.every((s) => c.state(s) === 'e'), HOLD_TTL_S * 1000 + 5000, 'expired')),
    );
    const [probe] = pool.take(1);
    await barrier([v1, v2], await stack.buyer({ watch: null }), probe);
    assert.equal(v2.modelString(), v1.modelString(), 'same state after the wave');
    const seatsNow = await stack.seats();
    assert.equal(v2.model.seq, seatsNow.seq);
    assert.equal(v2.modelString(), seatsNow.seats, 'the same as the HTTP API says');
    for (const w of [v1, v2]) {
        assert.deepEqual(w.model.errors, []);
        assert.deepEqual(w.model.gaps, [], 'every delta joined the last one');
    }
    /* the same changes cost fewer bytes in v2 */
    assert.ok(v2.wireBytes.deltaSeats > 0);
    assert.equal(v2.wireBytes.deltaSeats, v1.wireBytes.deltaSeats);
    const perSeat = v2.wireBytes.delta / v2.wireBytes.deltaSeats;
    assert.ok(v2.wireBytes.delta < v1.wireBytes.delta / 3, `v2 ${v2.wireBytes.delta} bytes vs v1 ${v1.wireBytes.delta}`);
    assert.ok(perSeat < 12, `${perSeat.toFixed(1)} bytes a seat (a header per delta; few seats per delta here)`);
});

it("a v2 snapshot carries the buyer's hold; hold events stay JSON", async () => {
    const b = await stack.buyer({ protocol: 'seatmap.v2' });
    const seats = pool.take(2);
    const r = await b.call({ type: 'hold', show: 'demo', seats });
    const ev = await b.nextEvent((e) => e.type === 'hold' && e.reason === 'held', 5000);
    assert.deepEqual(ev.hold.seats.slice().sort(), seats.slice().sort());
    /* the same buyer on a new connection: its snapshot says what it holds */
    const again = await stack.client({ protocol: 'seatmap.v2' });
    await again.hello(b.buyer);
    const { snapshot: snap } = await again.watch('demo');
    assert.equal(snap.hold.ref, r.hold.ref);
    assert.deepEqual(snap.hold.seats.slice().sort(), seats.slice().sort());
    /* the snapshot is of the last tick's state: the hold's seats are p in it or in the next delta */
    await again.waitFor((c) => seats.every((s) => c.state(s) === 'p'), 5000, 'held seats p');
    await b.call({ type: 'release', show: 'demo', seats });
    await again.waitFor((c) => seats.every((s) => c.state(s) === 'e'), 5000, 'released');
    assert.deepEqual(again.model.errors, []);
});

it('many v2 and v1 watchers get the same deltas, encoded once per tick', async () => {
    const watchers = await Promise.all(
        Array.from({ length: 20 }, (_, i) => stack.buyer({ protocol: i % 2 ? 'seatmap.v2' : 'seatmap.v1' })),
    );
    const actors = await Promise.all([1, 2, 3].map(() => stack.buyer({ watch: null })));
    const seats = pool.take(30);
    await Promise.all(actors.map((a, i) => a.call({ type: 'hold', show: 'demo', seats: seats.slice(i * 10, i * 10 + 10) })));
    await Promise.all(actors.map((a, i) => a.call({ type: 'release', show: 'demo', seats: seats.slice(i * 10, i * 10 + 10) })));
    const [probe] = pool.take(1);
    await barrier(watchers, actors[0], probe);
    const want = await stack.seats();
    await waitUntil(() => watchers.every((w) => w.model.seq === want.seq), 5000, 'every watcher at the last seq');
    for (const w of watchers) {
        assert.equal(w.modelString(), want.seats);
        assert.deepEqual(w.model.errors, []);
    }
});
