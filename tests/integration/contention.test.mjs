/*
 * contention.test.mjs - many connections racing for the same seats: exactly
 * one winner, every watcher sees exactly one change, seq stays consistent,
 * and Redis never holds a seat twice. Not here: expiry (expiry.test.mjs).
 */
import { before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startStack, testWithLogs, seatPool, barrier, checkRedisInvariants } from '../lib/stack.mjs';

const N = 200;
let stack;
let pool;
let clients = [];
const it = testWithLogs(() => stack);

before(async () => {
    stack = await startStack({ holdTtl: 60, extraArgs: ['--ip-limits', 'off'] /* many clients from one address */ });
    pool = seatPool(await stack.seatIds());
    /* 200 buyers, each watching the demo show. Opened in batches of 50. */
    for (let i = 0; i < N; i += 50) {
        const batch = await Promise.all(Array.from({ length: 50 }, () => stack.buyer()));
        clients.push(...batch);
    }
});
after(async () => {
    await stack?.stop();
});

function fireAll(reqs) {
    /* Build every frame first, then send them back to back. */
    return Promise.all(reqs.map(([c, msg]) => c.request(msg, { timeoutMs: 20000 })));
}

it(`${N} connections hold the same seat at once: exactly one wins`, async () => {
    const [seat] = pool.take(1);
    const [sync] = pool.take(1);
    const seq0 = (await stack.seats()).seq;
    const replies = await fireAll(clients.map((c) => [c, { type: 'hold', show: 'demo', seats: [seat] }]));
    const oks = replies.filter((r) => r.type === 'ok');
    const errs = replies.filter((r) => r.type === 'error');
    assert.equal(oks.length, 1, `exactly one ok, got ${oks.length}`);
    assert.equal(errs.length, N - 1);
    for (const e of errs) {
        assert.equal(e.code, 'seat_unavailable', JSON.stringify(e));
        assert.deepEqual(e.seats, [seat], `error names the seat: ${JSON.stringify(e)}`);
    }
    assert.deepEqual(oks[0].hold.seats, [seat]);
    const winner = clients[replies.indexOf(oks[0])];

    /* Every watcher sees the seat go to p exactly once. */
    await Promise.all(clients.map((c) => c.waitFor((x) => x.state(seat) === 'p', 10000, `${seat} p`)));
    await barrier(clients, winner, sync);
    const s = await stack.seats();
    for (const [i, c] of clients.entries()) {
        const ch = c.changesOf(seat);
        assert.deepEqual(
            ch.map((h) => h.state),
            ['p'],
            `watcher ${i} saw ${JSON.stringify(ch)} for ${seat}`,
        );
        assert.deepEqual(c.model.gaps, [], `watcher ${i} seq gaps`);
        assert.deepEqual(c.model.errors, [], `watcher ${i} model errors`);
        assert.equal(c.model.seq, s.seq, `watcher ${i} seq == GET seats seq`);
        assert.equal(c.modelString(), s.seats, `watcher ${i} seats == GET seats`);
    }
    /* One hold + the barrier's hold and release. */
    assert.equal(s.seq, seq0 + 3, 'failed holds do not count as operations');
    /* The winner (and only the winner) got a hold event. */
    await winner.nextEvent((e) => e.type === 'hold' && e.reason === 'held' && e.hold?.ref === oks[0].hold.ref, 3000);
    assert.deepEqual(await checkRedisInvariants(stack.redis), []);
});

it('overlapping multi-seat holds under contention stay all-or-nothing', async () => {
    const [common] = pool.take(1);
    const own = pool.take(100);
    const racers = clients.slice(0, 100);
    const replies = await fireAll(
        racers.map((c, i) => [c, { type: 'hold', show: 'demo', seats: [own[i], common] }]),
    );
    const okIdx = replies.map((r, i) => (r.type === 'ok' ? i : -1)).filter((i) => i >= 0);
    assert.equal(okIdx.length, 1, `exactly one ok, got ${okIdx.length}`);
    for (const [i, r] of replies.entries()) {
        if (i === okIdx[0]) continue;
        assert.equal(r.code, 'seat_unavailable', JSON.stringify(r));
        assert.deepEqual(r.seats, [common], `only the taken seat is listed: ${JSON.stringify(r)}`);
    }
    const [sync] = pool.take(1);
    const watchers = clients.slice(100);
    await barrier(watchers, clients[150], sync);
    const s = await stack.seats();
    const ids = await stack.seatIds();
    const letter = (id) => s.seats[ids.indexOf(id)];
    assert.equal(letter(common), 'p');
    for (const [i, seat] of own.entries()) {
        assert.equal(letter(seat), i === okIdx[0] ? 'p' : 'e', `seat ${seat} of racer ${i}`);
        for (const w of watchers.slice(0, 10)) {
            assert.equal(w.changesOf(seat).length, i === okIdx[0] ? 1 : 0, `watcher saw ${seat} change`);
        }
    }
    assert.deepEqual(await checkRedisInvariants(stack.redis), []);
});

it('racing for disjoint seats: everyone wins, seq counts every hold', async () => {
    const seats = pool.take(100);
    const seq0 = (await stack.seats()).seq;
    const racers = clients.slice(100, 200);
    const replies = await fireAll(racers.map((c, i) => [c, { type: 'hold', show: 'demo', seats: [seats[i]] }]));
    for (const r of replies) assert.equal(r.type, 'ok', JSON.stringify(r));
    const watcher = clients[0];
    await watcher.waitFor((c) => seats.every((x) => c.state(x) === 'p'), 10000, 'all 100 p');
    await watcher.waitFor((c) => c.model.seq === seq0 + 100, 5000, `seq ${seq0 + 100}`);
    assert.deepEqual(watcher.model.gaps, []);
    const s = await stack.seats();
    assert.equal(s.seq, seq0 + 100);
    assert.equal(watcher.modelString(), s.seats);
    assert.deepEqual(await checkRedisInvariants(stack.redis), []);
});

it('watchers joining and re-watching during a stream of changes never see a gap', async () => {
    const movers = clients.slice(0, 20);
    const seats = pool.take(20);
    let stop = false;
    let ops = 0;
    /* each mover toggles its own seat as fast as its replies come back */
    const streams = movers.map(async (c, i) => {
        while (!stop) {
            const h = await c.request({ type: 'hold', show: 'demo', seats: [seats[i]] });
            if (h.type === 'ok') {
                ops += 1;
                const r = await c.request({ type: 'release', show: 'demo', seats: [seats[i]] });
                if (r.type === 'ok') ops += 1;
            } else if (h.code !== 'rate_limited') {
                throw new Error(`mover ${i}: ${JSON.stringify(h)}`);
            }
        }
    });
    const joiners = [];
    try {
        for (let i = 0; i < 30; i++) joiners.push(await stack.buyer());
        /* re-watch on live connections too */
        for (const c of joiners.slice(0, 10)) await c.watch('demo');
        for (const c of clients.slice(100, 110)) await c.watch('demo');
    } finally {
        stop = true;
        await Promise.all(streams);
    }
    assert.ok(ops > 50, `the stream made ${ops} changes`);
    const s = await stack.seats();
    for (const [i, c] of [...joiners, ...clients.slice(100, 110), clients[150]].entries()) {
        await c.waitFor((x) => x.model.seq === s.seq, 5000, `watcher ${i} reaches seq ${s.seq}`);
        assert.deepEqual(c.model.gaps, [], `watcher ${i}: seq gaps`);
        assert.deepEqual(c.model.errors, [], `watcher ${i}: model errors`);
        assert.equal(c.modelString(), s.seats, `watcher ${i}: seats == GET seats`);
    }
    assert.deepEqual(await checkRedisInvariants(stack.redis), []);
});

it('deltas are coalesced: at most one per 50 ms tick per connection', async () => {
    const movers = clients.slice(20, 40);
    const seats = pool.take(20);
    const w = clients[199];
    const before = w.messages.filter((m) => m.type === 'delta').length;
    const t0 = Date.now();
    let ops = 0;
    /* ~1 s of as many changes as the movers can make */
    await Promise.all(
        movers.map(async (c, i) => {
            while (Date.now() - t0 < 1000) {
                const h = await c.request({ type: 'hold', show: 'demo', seats: [seats[i]] });
                if (h.type !== 'ok') continue;
                ops += 1;
                const r = await c.request({ type: 'release', show: 'demo', seats: [seats[i]] });
                if (r.type === 'ok') ops += 1;
            }
        }),
    );
    const s = await stack.seats();
    await w.waitFor((c) => c.model.seq === s.seq, 3000, 'watcher caught up');
    const elapsed = Date.now() - t0;
    const deltas = w.messages.filter((m) => m.type === 'delta').length - before;
    const maxDeltas = Math.ceil(elapsed / 50) + 2;
    assert.ok(ops > 3 * maxDeltas, `enough changes to need coalescing: ${ops} ops, ${maxDeltas} ticks`);
    assert.ok(deltas <= maxDeltas, `${deltas} deltas in ${elapsed} ms (at most ${maxDeltas} at one per tick) for ${ops} ops`);
    assert.deepEqual(w.model.gaps, []);
    assert.equal(w.modelString(), s.seats);
});
