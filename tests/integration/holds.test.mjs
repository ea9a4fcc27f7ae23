/*
 * holds.test.mjs - hold and release semantics for one buyer: all or nothing,
 * the max_seats limit, a shared deadline, release, not_held, hold events to
 * every connection of the buyer, and the hold in a reconnect's snapshot;
 * a show added while the server runs is loaded when first named (off the
 * event loop, show_load.h), and ids that name no show are answered
 * unknown_show without disturbing anyone. Not here: races between many buyers (contention.test.mjs), expiry.
 */
import { before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import path from 'node:path';
import {
    REPO, startStack, testWithLogs, seatPool, barrier, seatmapdCli,
} from '../lib/stack.mjs';

const MAX_SEATS = 4;
let stack;
let pool;
let watcher;
let actor; /* a buyer used for barriers */
const it = testWithLogs(() => stack);

before(async () => {
    stack = await startStack({ holdTtl: 30, extraArgs: ['--max-seats', String(MAX_SEATS)] });
    pool = seatPool(await stack.seatIds());
    watcher = await stack.buyer();
    actor = await stack.buyer();
});
after(async () => {
    await stack?.stop();
});

it('hello announces --max-seats', async () => {
    assert.equal(watcher.limits.max_seats, MAX_SEATS);
});

it('hold is all or nothing: one taken seat fails the set and changes nothing', async () => {
    const [s1, s2, s3, sync] = pool.take(4);
    const a = await stack.buyer();
    const b = await stack.buyer();
    await a.call({ type: 'hold', show: 'demo', seats: [s2] });
    const before = await stack.seats();
    const r = await b.request({ type: 'hold', show: 'demo', seats: [s1, s2, s3] });
    assert.equal(r.type, 'error');
    assert.equal(r.code, 'seat_unavailable');
    assert.deepEqual(r.seats, [s2]);
    await barrier([watcher], actor, sync);
    assert.equal(watcher.changesOf(s1).length, 0, `${s1} unchanged for watchers`);
    assert.equal(watcher.changesOf(s3).length, 0, `${s3} unchanged for watchers`);
    assert.deepEqual(
        watcher.changesOf(s2).map((h) => h.state),
        ['p'],
    );
    const after = await stack.seats();
    assert.equal(after.seq, before.seq + 2, 'only the barrier changed seq');
    assert.equal(watcher.state(s1), 'e');
    assert.equal(watcher.state(s3), 'e');
    /* b has no hold at all: its snapshot says so. */
    const snap = (await b.watch('demo')).snapshot;
    assert.equal(snap.hold, null);
    /* And b can hold s1 and s3 now. */
    await b.call({ type: 'hold', show: 'demo', seats: [s1, s3] });
});

it('seat_unavailable lists every seat that is not empty', async () => {
    const [s1, s2, s3, s4] = pool.take(4);
    const a = await stack.buyer();
    const b = await stack.buyer();
    await a.call({ type: 'hold', show: 'demo', seats: [s1, s3] });
    const r = await b.request({ type: 'hold', show: 'demo', seats: [s1, s2, s3, s4] });
    assert.equal(r.code, 'seat_unavailable');
    assert.deepEqual([...r.seats].sort(), [s1, s3].sort());
});

it('hold limit: more than max_seats at once or in total -> hold_limit, nothing changes', async () => {
    const seats = pool.take(MAX_SEATS + 1);
    const [sync] = pool.take(1);
    const b = await stack.buyer();
    const before = await stack.seats();
    const r1 = await b.request({ type: 'hold', show: 'demo', seats });
    assert.equal(r1.type, 'error');
    assert.equal(r1.code, 'hold_limit');
    const first = seats.slice(0, MAX_SEATS - 1);
    const ok = await b.call({ type: 'hold', show: 'demo', seats: first });
    assert.equal(ok.hold.seats.length, MAX_SEATS - 1);
    const r2 = await b.request({ type: 'hold', show: 'demo', seats: seats.slice(MAX_SEATS - 1) });
    assert.equal(r2.code, 'hold_limit', JSON.stringify(r2));
    /* Exactly max_seats is fine. */
    const ok2 = await b.call({ type: 'hold', show: 'demo', seats: [seats[MAX_SEATS - 1]] });
    assert.equal(ok2.hold.seats.length, MAX_SEATS);
    const r3 = await b.request({ type: 'hold', show: 'demo', seats: [seats[MAX_SEATS]] });
    assert.equal(r3.code, 'hold_limit');
    await barrier([watcher], actor, sync);
    assert.equal(watcher.changesOf(seats[MAX_SEATS]).length, 0);
    const after = await stack.seats();
    assert.equal(after.seq, before.seq + 2 + 2, 'two holds and the barrier');
});

it('seats added later share the first deadline', async () => {
    const [s1, s2] = pool.take(2);
    const b = await stack.buyer();
    const r1 = await b.call({ type: 'hold', show: 'demo', seats: [s1] });
    /* Let the wall clock move on before adding: poll, no sleeps. */
    const t0 = Date.now();
    await new Promise((resolve) => {
        const tick = () => (Date.now() - t0 >= 50 ? resolve() : setImmediate(tick));
        tick();
    });
    const r2 = await b.call({ type: 'hold', show: 'demo', seats: [s2] });
    assert.equal(r2.hold.ref, r1.hold.ref, 'same hold');
    assert.equal(r2.hold.expires_at, r1.hold.expires_at, 'same deadline');
    assert.deepEqual([...r2.hold.seats].sort(), [s1, s2].sort());
});

it('release: watchers see empty; the reply has what remains; then null', async () => {
    const [s1, s2, s3] = pool.take(3);
    const b = await stack.buyer();
    const h = await b.call({ type: 'hold', show: 'demo', seats: [s1, s2, s3] });
    await watcher.waitFor((c) => c.state(s3) === 'p', 3000);
    const r1 = await b.call({ type: 'release', show: 'demo', seats: [s1] });
    assert.equal(r1.hold.ref, h.hold.ref);
    assert.deepEqual([...r1.hold.seats].sort(), [s2, s3].sort());
    assert.equal(r1.hold.expires_at, h.hold.expires_at);
    await watcher.waitFor((c) => c.state(s1) === 'e', 3000, `${s1} e`);
    const r2 = await b.call({ type: 'release', show: 'demo', seats: [s2, s3] });
    assert.equal(r2.hold, null);
    await watcher.waitFor((c) => c.state(s2) === 'e' && c.state(s3) === 'e', 3000, 'all released');
    const s = await stack.seats();
    assert.equal(watcher.modelString(), s.seats);
    assert.deepEqual(watcher.model.gaps, []);
    /* Released seats are free for anyone. */
    const other = await stack.buyer();
    await other.call({ type: 'hold', show: 'demo', seats: [s1, s2, s3] });
    /* And the staff list no longer has b's hold. */
    const cookie = await stack.login();
    const holds = await stack.api('GET', '/api/shows/demo/holds', { cookie });
    assert.equal(holds.status, 200);
    assert.ok(!holds.json.some((x) => x.ref === h.hold.ref), 'released hold gone from list');
});

it('release of a seat not held -> not_held, nothing changes', async () => {
    const [free, theirs, mine, sync] = pool.take(4);
    const a = await stack.buyer();
    const b = await stack.buyer();
    const ha = await a.call({ type: 'hold', show: 'demo', seats: [theirs] });
    const before = await stack.seats();
    const r1 = await b.request({ type: 'release', show: 'demo', seats: [free] });
    assert.equal(r1.type, 'error');
    assert.equal(r1.code, 'not_held');
    const r2 = await b.request({ type: 'release', show: 'demo', seats: [theirs] });
    assert.equal(r2.code, 'not_held', 'cannot release another buyer\'s seat');
    await b.call({ type: 'hold', show: 'demo', seats: [mine] });
    const r3 = await b.request({ type: 'release', show: 'demo', seats: [mine, theirs] });
    assert.equal(r3.code, 'not_held', 'a release naming a seat not held fails');
    await barrier([watcher], actor, sync);
    assert.equal(watcher.state(theirs), 'p');
    assert.equal(watcher.state(mine), 'p', 'the failed release released nothing');
    assert.equal(watcher.changesOf(free).length, 0);
    const snapA = (await a.watch('demo')).snapshot;
    assert.equal(snapA.hold.ref, ha.hold.ref);
    assert.deepEqual(snapA.hold.seats, [theirs]);
    const after = await stack.seats();
    assert.equal(after.seq, before.seq + 1 + 2, "b's hold and the barrier");
});

it('hold events reach every connection of the same buyer', async () => {
    const [s1, s2] = pool.take(2);
    const c1 = await stack.buyer();
    const c2 = await stack.buyer({ buyer: c1.buyer });
    const c3 = await stack.buyer({ buyer: c1.buyer, watch: null }); /* not watching */
    const stranger = await stack.buyer();
    assert.equal(c2.buyer, c1.buyer);
    assert.equal(c3.buyer, c1.buyer);
    const h = await c1.call({ type: 'hold', show: 'demo', seats: [s1] });
    for (const c of [c1, c2, c3]) {
        const e = await c.nextEvent((x) => x.type === 'hold' && x.reason === 'held', 3000, 'hold held');
        assert.equal(e.show, 'demo');
        assert.equal(e.hold.ref, h.hold.ref);
        assert.deepEqual(e.hold.seats, [s1]);
        assert.equal(e.hold.expires_at, h.hold.expires_at);
    }
    /* A hold made on c2 reaches c1 and c3. */
    await c2.call({ type: 'hold', show: 'demo', seats: [s2] });
    for (const c of [c1, c2, c3]) {
        const e = await c.nextEvent(
            (x) => x.type === 'hold' && x.reason === 'held' && x.hold?.seats?.length === 2,
            3000,
            'hold of two seats',
        );
        assert.equal(e.hold.ref, h.hold.ref);
    }
    await c3.call({ type: 'release', show: 'demo', seats: [s1, s2] });
    for (const c of [c1, c2, c3]) {
        const e = await c.nextEvent((x) => x.type === 'hold' && x.reason === 'released', 3000, 'released');
        assert.equal(e.hold, null);
    }
    assert.ok(!stranger.events.some((x) => x.type === 'hold'), 'another buyer gets no hold events');
});

it('reconnecting with the same buyer token finds the hold in the snapshot', async () => {
    const [s1, s2] = pool.take(2);
    const c1 = await stack.buyer();
    const token = c1.buyer;
    const h = await c1.call({ type: 'hold', show: 'demo', seats: [s1, s2] });
    await watcher.waitFor((c) => c.state(s1) === 'p' && c.state(s2) === 'p', 3000, 'held');
    await c1.close();
    const again = await stack.buyer({ buyer: token });
    assert.equal(again.buyer, token);
    assert.ok(again.model.hold, 'snapshot hold present');
    assert.equal(again.model.hold.ref, h.hold.ref);
    assert.deepEqual([...again.model.hold.seats].sort(), [s1, s2].sort());
    assert.equal(again.model.hold.expires_at, h.hold.expires_at);
    /* The seats are still pending for everyone: closing a socket is not a release. */
    assert.equal(watcher.state(s1), 'p');
    /* The reconnected buyer can release them. */
    const r = await again.call({ type: 'release', show: 'demo', seats: [s1, s2] });
    assert.equal(r.hold, null);
    await watcher.waitFor((c) => c.state(s1) === 'e' && c.state(s2) === 'e', 3000);
});

it('hold of an unknown seat -> unknown_seat, nothing held', async () => {
    const [s1, sync] = pool.take(2);
    const b = await stack.buyer();
    const r = await b.request({ type: 'hold', show: 'demo', seats: [s1, 'NO-SUCH-SEAT-999'] });
    assert.equal(r.code, 'unknown_seat');
    const r2 = await b.request({ type: 'hold', show: 'nope', seats: [s1] });
    assert.equal(r2.code, 'unknown_show');
    await barrier([watcher], actor, sync);
    assert.equal(watcher.changesOf(s1).length, 0);
    assert.equal((await b.watch('demo')).snapshot.hold, null);
});

it('a show added with the CLI while seatmapd runs is listed, watched and held at once, no restart', async () => {
    const id = `live-${crypto.randomBytes(3).toString('hex')}`;
    const add = async (show, name) => {
        const r = await seatmapdCli(['show', 'add', show, '--venue', path.join(REPO, 'assets/venues/demo.json'),
            '--name', name, '--db', stack.dbPath]);
        assert.equal(r.code, 0, r.stderr);
    };
    /* the list is the first request naming it: it waits for its load */
    await add(`${id}-listed`, 'Listed at once');
    const listed = (await stack.api('GET', '/api/shows')).json.find((x) => x.id === `${id}-listed`);
    assert.equal(listed?.name, 'Listed at once');
    /* two watches at once: both wait for the same load */
    await add(id, 'Added while running');
    const [seat] = pool.take(1);
    const w = await stack.buyer({ watch: null });
    const b = await stack.buyer({ watch: null });
    const [snapW, snapB] = await Promise.all([w.watch(id), b.watch(id)]);
    assert.equal(snapW.reply.show, id);
    assert.equal(snapB.snapshot.show, id);
    assert.equal(w.state(seat), 'e');
    const h = await b.call({ type: 'hold', show: id, seats: [seat] });
    assert.deepEqual(h.hold.seats, [seat]);
    await w.waitFor((c) => c.state(seat) === 'p', 3000, `the hold on ${id} seen by its watcher`);
    /* independent of demo's seats */
    assert.equal(watcher.state(seat), 'e');
    const page = await stack.api('GET', `/api/shows/${id}/seats`);
    assert.equal(page.status, 200, page.text);
    await b.call({ type: 'release', show: id, seats: [seat] });
    await w.close();
    await b.close();
});

it('200 watches of random unknown ids: each answered unknown_show, holds and fan-out go on', async () => {
    const [seat] = pool.take(1);
    const probes = await Promise.all([0, 1, 2, 3].map(() => stack.buyer({ watch: null })));
    const codes = {};
    let holdSeenMs = null;
    const probing = Promise.all(probes.map(async (c, i) => {
        for (let k = 0; k < 50; k++) {
            const id = `nope-${i}-${k}-${crypto.randomBytes(6).toString('hex')}`;
            const r = await c.request({ type: 'watch', show: id }, { timeoutMs: 5000 });
            codes[r.code ?? r.type] = (codes[r.code ?? r.type] ?? 0) + 1;
        }
    }));
    /* meanwhile a hold on demo is answered and reaches a watcher */
    const b = await stack.buyer({ watch: null });
    const t0 = Date.now();
    await b.call({ type: 'hold', show: 'demo', seats: [seat] });
    await watcher.waitFor((c) => c.state(seat) === 'p', 1000, 'the hold seen while ids are probed');
    holdSeenMs = Date.now() - t0;
    await probing;
    assert.deepEqual(codes, { unknown_show: 200 }, `answers: ${JSON.stringify(codes)} (hold seen in ${holdSeenMs} ms)`);
    /* the probing connections are still usable, and demo is still watched */
    for (const c of probes) assert.equal((await c.watch('demo')).reply.show, 'demo');
    await b.call({ type: 'release', show: 'demo', seats: [seat] });
    await watcher.waitFor((c) => c.state(seat) === 'e', 3000, 'released');
    await Promise.all([...probes, b].map((c) => c.close()));
});
