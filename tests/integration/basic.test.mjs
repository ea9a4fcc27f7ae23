/*
 * basic.test.mjs - the read side of the contract: shows and layout over HTTP,
 * hello / watch / snapshot over WebSocket, seq counting, static pages.
 * Not here: contention, expiry, staff (other files).
 */
import { before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startStack, testWithLogs, seatPool, wsClient } from '../lib/stack.mjs';

const HOLD_TTL = 30;
let stack;
let pool;
const it = testWithLogs(() => stack);

before(async () => {
    stack = await startStack({ holdTtl: HOLD_TTL });
    pool = seatPool(await stack.seatIds());
});
after(async () => {
    await stack?.stop();
});

it('GET /api/shows lists the demo show', async () => {
    const r = await stack.api('GET', '/api/shows');
    assert.equal(r.status, 200, r.text);
    assert.match(r.headers['content-type'] || '', /application\/json/);
    assert.ok(Array.isArray(r.json), 'an array');
    const demo = r.json.find((s) => s.id === 'demo');
    assert.ok(demo, `demo in ${r.text}`);
    for (const k of ['id', 'name', 'venue', 'starts_at', 'capacity']) assert.ok(k in demo, `field ${k}`);
    const layout = await stack.layout();
    assert.equal(demo.capacity, layout.seats.length);
});

it('GET /api/shows/demo serves a consistent layout', async () => {
    const L = await stack.layout();
    for (const k of ['id', 'name', 'venue', 'starts_at', 'capacity', 'currency', 'stage', 'categories', 'sections', 'seats']) {
        assert.ok(k in L, `field ${k}`);
    }
    assert.equal(L.id, 'demo');
    assert.ok(L.seats.length > 50, `demo has ${L.seats.length} seats; the tests need more than 50`);
    assert.equal(L.capacity, L.seats.length);
    const cats = new Set(L.categories.map((c) => c.id));
    const secs = new Set(L.sections.map((s) => s.id));
    for (const c of L.categories) {
        assert.ok(Number.isInteger(c.price) && c.price >= 0, `price of ${c.id} in cents: ${c.price}`);
        assert.equal(typeof c.name, 'string');
        assert.equal(typeof c.color, 'string');
    }
    const ids = new Set();
    for (const s of L.seats) {
        assert.match(s.id, /^[A-Za-z0-9_.-]{1,32}$/);
        assert.ok(!ids.has(s.id), `seat id ${s.id} unique`);
        ids.add(s.id);
        assert.ok(secs.has(s.section), `seat ${s.id} section ${s.section} listed`);
        assert.ok(cats.has(s.category), `seat ${s.id} category ${s.category} listed`);
        assert.equal(typeof s.x, 'number');
        assert.equal(typeof s.y, 'number');
        assert.ok('row' in s && 'number' in s, `seat ${s.id} has row and number`);
    }
    for (const k of ['x', 'y', 'w', 'h']) assert.equal(typeof L.stage[k], 'number', `stage.${k}`);
});

it('GET /api/shows/demo/seats: all empty on a fresh stack', async () => {
    const L = await stack.layout();
    const s = await stack.seats();
    assert.ok(Number.isInteger(s.seq) && s.seq >= 0, `seq ${s.seq}`);
    assert.equal(s.seats.length, L.seats.length);
    assert.match(s.seats, /^e+$/);
});

it('unknown show: 404 unknown_show', async () => {
    for (const p of ['/api/shows/nope', '/api/shows/nope/seats']) {
        const r = await stack.api('GET', p);
        assert.equal(r.status, 404, `${p}: ${r.text}`);
        assert.equal(r.json?.error?.code, 'unknown_show', r.text);
        assert.equal(typeof r.json.error.message, 'string');
    }
});

it('hello issues a buyer token and announces limits', async () => {
    const c = await stack.client();
    const r = await c.call({ type: 'hello' });
    assert.equal(r.type, 'ok');
    assert.equal(r.id, 1);
    assert.equal(typeof r.buyer, 'string');
    assert.ok(r.buyer.length >= 22, `buyer token of >= 128 bits: ${r.buyer}`);
    assert.ok(r.server, 'server name/version');
    assert.equal(r.limits.max_seats, 10);
    assert.equal(r.limits.hold_ttl_ms, HOLD_TTL * 1000);
    /* A second client gets a different token. */
    const c2 = await stack.client();
    const r2 = await c2.call({ type: 'hello' });
    assert.notEqual(r2.buyer, r.buyer);
    /* The stored token is accepted as is; a forged one is replaced. */
    const c3 = await stack.client();
    const r3 = await c3.call({ type: 'hello', buyer: r.buyer });
    assert.equal(r3.buyer, r.buyer);
    const forged = r.buyer.slice(0, -4) + (r.buyer.endsWith('0000') ? '1111' : '0000');
    const c4 = await stack.client();
    const r4 = await c4.call({ type: 'hello', buyer: forged });
    assert.notEqual(r4.buyer, forged);
    assert.notEqual(r4.buyer, r.buyer);
    const c5 = await stack.client();
    const r5 = await c5.call({ type: 'hello', buyer: 'made-up' });
    assert.notEqual(r5.buyer, 'made-up');
    await Promise.all([c, c2, c3, c4, c5].map((x) => x.close()));
});

it('ids are echoed as given', async () => {
    const c = await stack.client();
    const r = await c.request({ type: 'hello', id: 987654 });
    assert.equal(r.type, 'ok');
    assert.equal(r.id, 987654);
    const w = await c.request({ type: 'watch', id: 42, show: 'demo' });
    assert.equal(w.type, 'ok');
    assert.equal(w.id, 42);
    assert.equal(w.show, 'demo');
    await c.close();
});

it('watch answers ok and a snapshot that matches GET seats', async () => {
    const c = await stack.client();
    await c.hello();
    const { reply, snapshot } = await c.watch('demo');
    assert.equal(reply.show, 'demo');
    assert.equal(snapshot.type, 'snapshot');
    assert.equal(snapshot.show, 'demo');
    assert.equal(snapshot.hold, null);
    assert.equal(snapshot.id, undefined, 'events carry no id');
    const s = await stack.seats();
    assert.equal(snapshot.seq, s.seq);
    assert.equal(snapshot.seats, s.seats);
    assert.deepEqual(c.model.errors, []);
    await c.close();
});

it('the snapshot shows held seats; other watchers get a delta; seq counts operations', async () => {
    const [a, b, c3] = pool.take(3);
    const watcher = await stack.buyer();
    const holder = await stack.buyer();
    const seq0 = watcher.model.seq;
    const r = await holder.call({ type: 'hold', show: 'demo', seats: [a, b, c3] });
    assert.deepEqual([...r.hold.seats].sort(), [a, b, c3].sort());
    assert.equal(typeof r.hold.ref, 'string');
    assert.equal(r.hold.ref.length, 6, `ref ${r.hold.ref}`);
    assert.doesNotMatch(r.hold.ref, /[0O1IlL]/, 'no look-alike characters');
    const now = Date.now();
    assert.ok(
        Math.abs(r.hold.expires_at - (now + HOLD_TTL * 1000)) < 2000,
        `expires_at ${r.hold.expires_at} ~ now + ttl ${now + HOLD_TTL * 1000}`,
    );
    await watcher.waitFor((c) => [a, b, c3].every((s) => c.state(s) === 'p'), 3000, 'held seats p');
    /* One hold of three seats is one operation. */
    assert.equal(watcher.model.seq, seq0 + 1, 'seq grows by one per operation');
    assert.deepEqual(watcher.model.gaps, []);
    const s = await stack.seats();
    assert.equal(s.seq, seq0 + 1);
    assert.equal(s.seats, watcher.modelString());
    /* A fresh watcher's snapshot shows them too; the holder's snapshot has its hold. */
    const fresh = await stack.buyer();
    assert.equal(fresh.modelString(), watcher.modelString());
    assert.equal(fresh.model.seq, seq0 + 1);
    assert.equal(fresh.model.hold, null);
    const again = await holder.watch('demo');
    assert.equal(again.snapshot.hold.ref, r.hold.ref);
    assert.deepEqual([...again.snapshot.hold.seats].sort(), [a, b, c3].sort());
    assert.equal(again.snapshot.hold.expires_at, r.hold.expires_at);
    /* Release of two seats: one operation. */
    await holder.call({ type: 'release', show: 'demo', seats: [a, b] });
    await watcher.waitFor((c) => c.state(a) === 'e' && c.state(b) === 'e', 3000, 'released');
    assert.equal(watcher.model.seq, seq0 + 2);
    assert.equal(watcher.state(c3), 'p');
    await holder.call({ type: 'release', show: 'demo', seats: [c3] });
    await watcher.waitFor((c) => c.state(c3) === 'e', 3000, 'released c3');
    assert.deepEqual(watcher.model.gaps, []);
    assert.deepEqual(watcher.model.errors, []);
});

it('watch of an unknown show: unknown_show, connection usable', async () => {
    const c = await stack.client();
    await c.hello();
    const r = await c.request({ type: 'watch', show: 'no-such-show' });
    assert.equal(r.type, 'error');
    assert.equal(r.code, 'unknown_show');
    assert.equal(typeof r.message, 'string');
    const { snapshot } = await c.watch('demo');
    assert.equal(snapshot.show, 'demo');
    await c.close();
});

it('the server picks the seatmap.v1 subprotocol', async () => {
    const c = await wsClient(stack.wsUrl, { protocol: 'seatmap.v1' });
    assert.equal(c.ws.protocol, 'seatmap.v1');
    await c.close();
});

it('static pages and health', async () => {
    const h = await stack.api('GET', '/healthz');
    assert.equal(h.status, 200, h.text);
    const idx = await stack.api('GET', '/');
    assert.equal(idx.status, 200);
    assert.match(idx.headers['content-type'] || '', /text\/html/);
    assert.ok(idx.headers['content-security-policy'], 'CSP header on pages');
    const bo = await stack.api('GET', '/boxoffice');
    assert.equal(bo.status, 200);
    assert.match(bo.headers['content-type'] || '', /text\/html/);
    const missing = await stack.api('GET', '/no/such/file.js');
    assert.equal(missing.status, 404);
});
