/*
 * best.test.mjs - "the best N seats" (docs/best-available.md) against a real
 * seatmapd and Redis: the WebSocket `best` request and its errors, the box
 * office's POST /api/shows/{show}/best (a hold to confirm, a walk-up sale,
 * idempotent by payment ref), and 200 buyers asking for 2 best seats at
 * once in a nearly full section: every buyer gets distinct seats or a clear
 * seat_unavailable only when the section truly has too few, nobody gets a
 * seat someone else holds, and Redis never holds a seat twice, on one
 * process and on two processes racing through one Redis.
 */
import { before, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { startStack, testWithLogs, checkRedisInvariants, seatmapdCli, REPO } from '../lib/stack.mjs';

const N = 200;
let stack;
let layout;
let cookie;
let clients = [];
const it = testWithLogs(() => stack);
const byId = new Map();

async function addShow(id) {
    const r = await seatmapdCli([
        'show', 'add', id, '--venue', path.join(REPO, 'assets/venues/demo.json'), '--name', `Show ${id}`,
        '--db', stack.dbPath,
    ]);
    assert.equal(r.code, 0, r.stderr);
}

/* Sells seats at the box office (walk-up sales of at most 100 seats). */
async function sell(show, seats, tag) {
    for (let i = 0; i < seats.length; i += 100) {
        const r = await stack.api('POST', `/api/shows/${show}/bookings`, {
            cookie,
            json: { seats: seats.slice(i, i + 100), payment_ref: `${tag}-${i}` },
        });
        assert.equal(r.status, 201, r.text);
    }
}

async function seatsOf(show) {
    const r = await stack.api('GET', `/api/shows/${show}/seats`);
    assert.equal(r.status, 200);
    return r.json.seats;
}

function adjacent(a, b) {
    return a.section === b.section && a.row === b.row && Math.abs(a.x - b.x) <= 1.01 && a.y === b.y;
}

function fire(reqs, timeoutMs = 30000) {
    return Promise.all(reqs.map(([c, msg]) => c.request(msg, { timeoutMs })));
}

/* Every ok has `count` distinct seats from `free`; no seat in two answers. */
function checkWinners(oks, free, count) {
    const seen = new Set();
    for (const r of oks) {
        assert.equal(r.best.seats.length, count, JSON.stringify(r));
        for (const s of r.best.seats) {
            assert.ok(free.has(s), `${s} was not free: ${JSON.stringify(r)}`);
            assert.ok(!seen.has(s), `${s} given twice`);
            seen.add(s);
            assert.ok(r.hold.seats.includes(s), `the hold has ${s}`);
        }
    }
    return seen;
}

before(async () => {
    stack = await startStack({ holdTtl: 300, extraArgs: ['--ip-limits', 'off'] /* many clients from one address */ });
    layout = await stack.layout();
    for (const s of layout.seats) byId.set(s.id, s);
    cookie = await stack.login();
    for (let i = 0; i < N; i += 50) {
        clients.push(...(await Promise.all(Array.from({ length: 50 }, () => stack.buyer({ watch: null })))));
    }
});
after(async () => {
    await stack?.stop();
});

it('best holds the best seats together, front and centre, and replies like hold', async () => {
    await addShow('b1');
    const c = clients[0];
    const r = await c.call({ type: 'best', show: 'b1', count: 4 });
    assert.equal(r.best.seats.length, 4);
    assert.equal(r.best.together, true);
    assert.equal(r.best.groups, 1);
    assert.deepEqual([...r.hold.seats].sort(), [...r.best.seats].sort());
    assert.match(r.hold.ref, /^[A-Z0-9]{6}$/);
    assert.ok(r.hold.expires_at > Date.now());
    const seats = r.best.seats.map((id) => byId.get(id));
    for (let i = 1; i < 4; i++) assert.ok(adjacent(seats[i - 1], seats[i]), `adjacent: ${r.best.seats}`);
    /* Front row, middle: row A of the stalls, around the stage's centre line. */
    const cx = layout.stage.x + layout.stage.w / 2;
    assert.equal(seats[0].row, 'A');
    assert.ok(Math.abs((seats[0].x + seats[3].x) / 2 - cx) <= 1, `centred: ${r.best.seats}`);
    const st = await seatsOf('b1');
    for (const id of r.best.seats) assert.equal(st[layout.seats.findIndex((s) => s.id === id)], 'p');

    /* The next buyer gets the next best seats, with a category. */
    const r2 = await clients[1].call({ type: 'best', show: 'b1', count: 2, category: 'balcony' });
    for (const id of r2.best.seats) assert.equal(byId.get(id).category, 'balcony');
    /* A wheelchair space with a companion seat. */
    const r3 = await clients[2].call({ type: 'best', show: 'b1', count: 2, accessible: 1 });
    assert.equal(r3.best.seats.filter((id) => byId.get(id).accessible).length, 1, JSON.stringify(r3));
    /* Added to the buyer's hold, as hold does. */
    const r4 = await c.call({ type: 'best', show: 'b1', count: 2 });
    assert.equal(r4.hold.ref, r.hold.ref);
    assert.equal(r4.hold.seats.length, 6);
});

it('bad best requests get clear errors and change nothing', async () => {
    const c = clients[3];
    const before = await seatsOf('b1');
    const cases = [
        [{ type: 'best', show: 'b1' }, 'bad_request', /"count" must be a whole number from 1 to 100/],
        [{ type: 'best', show: 'b1', count: 0 }, 'bad_request', /"count"/],
        [{ type: 'best', show: 'b1', count: 2, category: 'gold' }, 'bad_request', /no category 'gold'/],
        [{ type: 'best', show: 'b1', count: 2, section: 'ROOF' }, 'bad_request', /no section 'ROOF'/],
        [{ type: 'best', show: 'b1', count: 2, accessible: 3 }, 'bad_request', /"accessible"/],
        [{ type: 'best', show: 'b1', count: 2, together: 'yes' }, 'bad_request', /"together"/],
        [{ type: 'best', show: 'nope', count: 2 }, 'unknown_show', /./],
        [{ type: 'best', show: 'b1', count: 11 }, 'hold_limit', /at most 10 seats/],
        /* Box A has 4 seats: no 5 together there. */
        [{ type: 'best', show: 'b1', count: 5, section: 'BOXL' }, 'seat_unavailable', /only 4 seats in section BOXL are free/],
    ];
    for (const [msg, code, re] of cases) {
        const r = await c.request(msg);
        assert.equal(r.type, 'error', JSON.stringify(r));
        assert.equal(r.code, code, JSON.stringify(r));
        assert.match(r.message, re);
    }
    const fresh = await stack.client();
    const r = await fresh.request({ type: 'best', show: 'b1', count: 2 });
    assert.equal(r.code, 'hello_required');
    assert.equal(await seatsOf('b1'), before, 'nothing changed');
});

it('together: a clear error with the largest group; together:false takes the best scattered set', async () => {
    await addShow('b2');
    /* Leave free in box A (4 seats in one run): seats 1, 2 and 4. */
    const box = layout.seats.filter((s) => s.section === 'BOXL');
    await sell('b2', [box[2].id], 'box');
    const c = clients[4];
    const r = await c.request({ type: 'best', show: 'b2', count: 3, section: 'BOXL' });
    assert.equal(r.code, 'seat_unavailable', JSON.stringify(r));
    assert.equal(r.largest, 2);
    assert.equal(r.available, 3);
    assert.match(r.message, /no 3 seats together in section BOXL; the most together is 2/);
    const ok = await c.call({ type: 'best', show: 'b2', count: 3, section: 'BOXL', together: false });
    assert.deepEqual([...ok.best.seats].sort(), [box[0].id, box[1].id, box[3].id].sort());
    assert.equal(ok.best.together, false);
    assert.equal(ok.best.groups, 2);
});

it(`${N} buyers ask for 2 best seats at once in a nearly full section: distinct seats, seat_unavailable only when too few`, async () => {
    await addShow('b3');
    /* Balcony: 231 seats; 51 left free at random, the rest sold. */
    const balc = layout.seats.filter((s) => s.section === 'BALC').map((s) => s.id);
    const shuffled = [...balc].sort(() => Math.random() - 0.5);
    const free = new Set(shuffled.slice(0, 51));
    await sell('b3', shuffled.slice(51), 'fill');
    const replies = await fire(
        clients.map((c) => [c, { type: 'best', show: 'b3', count: 2, section: 'BALC', together: false }]),
    );
    const oks = replies.filter((r) => r.type === 'ok');
    const errs = replies.filter((r) => r.type === 'error');
    assert.equal(oks.length, 25, `51 free seats make 25 pairs; got ${oks.length} oks`);
    for (const e of errs) {
        assert.equal(e.code, 'seat_unavailable', JSON.stringify(e));
        assert.ok(e.available < 2, `refused while ${e.available} seats were free: ${JSON.stringify(e)}`);
        assert.match(e.message, /only [01] seats? in section BALC (is|are) free/);
    }
    const got = checkWinners(oks, free, 2);
    const st = await seatsOf('b3');
    const left = balc.filter((id) => st[layout.seats.findIndex((s) => s.id === id)] === 'e');
    assert.equal(left.length, 1);
    assert.ok(!got.has(left[0]));
    assert.deepEqual(await checkRedisInvariants(stack.redis, 'b3'), []);
});

it(`${N} buyers ask for 2 seats together at once: each free pair goes to exactly one buyer`, async () => {
    await addShow('b4');
    /* Stalls: leave 60 pairs of adjacent seats (and nothing else) free. */
    const stalls = layout.seats.filter((s) => s.section === 'STALLS');
    const free = new Set();
    const pairs = [];
    for (let j = 1; j + 1 < stalls.length && pairs.length < 60; j += 3) {
        if (adjacent(stalls[j], stalls[j + 1])) {
            pairs.push([stalls[j].id, stalls[j + 1].id]);
            free.add(stalls[j].id).add(stalls[j + 1].id);
        }
    }
    assert.equal(pairs.length, 60);
    await sell('b4', stalls.filter((s) => !free.has(s.id)).map((s) => s.id), 'fill');
    const replies = await fire(clients.map((c) => [c, { type: 'best', show: 'b4', count: 2, section: 'STALLS' }]));
    const oks = replies.filter((r) => r.type === 'ok');
    assert.equal(oks.length, 60);
    checkWinners(oks, free, 2);
    for (const r of oks) {
        assert.ok(adjacent(byId.get(r.best.seats[0]), byId.get(r.best.seats[1])), JSON.stringify(r));
        assert.equal(r.best.together, true);
    }
    for (const e of replies.filter((r) => r.type === 'error')) {
        assert.equal(e.code, 'seat_unavailable', JSON.stringify(e));
        assert.equal(e.largest, 0, JSON.stringify(e));
    }
    assert.deepEqual(await checkRedisInvariants(stack.redis, 'b4'), []);
});

it(`two processes: ${N} buyers split between them race for the best pairs and all get distinct seats`, async () => {
    await addShow('b5');
    const second = await stack.addServer({ demo: false });
    const others = [];
    for (let i = 0; i < N / 2; i += 50) {
        others.push(...(await Promise.all(Array.from({ length: 50 }, () => stack.buyer({ watch: null, url: second.wsUrl })))));
    }
    const racers = [...clients.slice(0, N / 2), ...others];
    const replies = await fire(racers.map((c) => [c, { type: 'best', show: 'b5', count: 2 }]));
    const oks = replies.filter((r) => r.type === 'ok');
    const errs = replies.filter((r) => r.type === 'error');
    /* 797 seats: room for every pair, so nobody is refused. */
    assert.deepEqual(errs, []);
    checkWinners(oks, new Set(byId.keys()), 2);
    const retries = oks.reduce((n, r) => n + r.best.tries - 1, 0);
    console.log(`# two processes: ${oks.length} pairs held, ${retries} retries after lost races`);
    assert.deepEqual(await checkRedisInvariants(stack.redis, 'b5'), []);
});

it('box office: POST /api/shows/{show}/best holds for confirmation or sells at once', async () => {
    await addShow('b6');
    const unauth = await stack.api('POST', '/api/shows/b6/best', { json: { count: 2 } });
    assert.equal(unauth.status, 401);
    const bad = await stack.api('POST', '/api/shows/b6/best', { cookie, json: { count: 'two' } });
    assert.equal(bad.status, 400);
    assert.match(bad.json.error.message, /"count"/);

    /* A hold the box office confirms later by its code. */
    const h = await stack.api('POST', '/api/shows/b6/best', { cookie, json: { count: 3 } });
    assert.equal(h.status, 201, h.text);
    assert.equal(h.json.hold.seats.length, 3);
    assert.equal(h.json.best.together, true);
    const holds = await stack.api('GET', '/api/shows/b6/holds', { cookie });
    assert.ok(holds.json.some((x) => x.ref === h.json.hold.ref), 'listed among the holds');
    const conf = await stack.api('POST', '/api/shows/b6/bookings', {
        cookie,
        json: { hold: h.json.hold.ref, payment_ref: 'till-1' },
    });
    assert.equal(conf.status, 201, conf.text);
    assert.deepEqual([...conf.json.booking.seats].sort(), [...h.json.hold.seats].sort());
    /* A second hold is a hold of its own (another customer). */
    const h2 = await stack.api('POST', '/api/shows/b6/best', { cookie, json: { count: 1 } });
    assert.equal(h2.status, 201);
    assert.notEqual(h2.json.hold.ref, h.json.hold.ref);

    /* A walk-up sale of the best 2 premium seats; the same payment ref again
     * answers the same booking. */
    const s1 = await stack.api('POST', '/api/shows/b6/best', {
        cookie,
        json: { count: 2, category: 'premium', payment_ref: 'till-2' },
    });
    assert.equal(s1.status, 201, s1.text);
    assert.equal(s1.json.booking.seats.length, 2);
    assert.deepEqual(s1.json.booking.seats, s1.json.best.seats);
    const st = await seatsOf('b6');
    for (const id of s1.json.booking.seats) assert.equal(st[layout.seats.findIndex((s) => s.id === id)], 'b');
    const s2 = await stack.api('POST', '/api/shows/b6/best', {
        cookie,
        json: { count: 2, category: 'premium', payment_ref: 'till-2' },
    });
    assert.equal(s2.status, 200);
    assert.equal(s2.json.booking.id, s1.json.booking.id);

    /* Too few: 409 with the hint. */
    const none = await stack.api('POST', '/api/shows/b6/best', {
        cookie,
        json: { count: 5, section: 'BOXR', payment_ref: 'till-3' },
    });
    assert.equal(none.status, 409);
    assert.equal(none.json.error.code, 'seat_unavailable');
    assert.equal(none.json.error.available, 4);
    assert.equal(none.json.error.largest, 4);
});
