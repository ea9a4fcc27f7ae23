/*
 * staff.test.mjs - the box-office API: login/logout, the holds list,
 * confirming a hold by ref (and idempotency by payment_ref), expired holds,
 * walk-up sales, the bookings list, cancellation; what watchers and the buyer
 * see. Not here: refusals of bad credentials/origins (auth.test.mjs).
 */
import { before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
    startStack, testWithLogs, seatPool, bookingsOf, checkRedisInvariants, passDeadline, waitUntil,
} from '../lib/stack.mjs';

const HOLD_TTL_S = 2;
let stack;
let pool;
let watcher;
let cookie;
const it = testWithLogs(() => stack);

before(async () => {
    stack = await startStack({ holdTtl: HOLD_TTL_S });
    pool = seatPool(await stack.seatIds());
    watcher = await stack.buyer();
});
after(async () => {
    await stack?.stop();
});

it('login: wrong password -> 401 bad_credentials; unknown user too', async () => {
    const r = await stack.api('POST', '/api/login', { json: { username: 'staff', password: 'wrong' } });
    assert.equal(r.status, 401);
    assert.equal(r.json?.error?.code, 'bad_credentials');
    assert.equal(r.headers['set-cookie'], undefined, 'no cookie on failure');
    const r2 = await stack.api('POST', '/api/login', { json: { username: 'nobody', password: 'x' } });
    assert.equal(r2.status, 401);
    assert.equal(r2.json?.error?.code, 'bad_credentials');
});

it('login: right password -> 200 and an HttpOnly SameSite=Strict cookie; /api/me', async () => {
    const r = await stack.api('POST', '/api/login', {
        json: { username: stack.staff.user, password: stack.staff.password },
    });
    assert.equal(r.status, 200, r.text);
    const sc = [].concat(r.headers['set-cookie'] || []).find((c) => c.startsWith('seatmap_session='));
    assert.ok(sc, 'seatmap_session cookie');
    assert.match(sc, /;\s*HttpOnly/i);
    assert.match(sc, /;\s*SameSite=Strict/i);
    assert.match(sc, /;\s*Path=\//i);
    cookie = sc.split(';')[0];
    assert.ok(cookie.length > 'seatmap_session='.length + 20, 'a long session token');
    const me = await stack.api('GET', '/api/me', { cookie });
    assert.equal(me.status, 200);
    assert.deepEqual(me.json, { user: 'staff', role: 'admin' });
});

it('holds list, confirm by ref (201), same payment_ref again (200, same booking)', async () => {
    const seats = pool.take(2);
    const buyer = await stack.buyer();
    const other = await stack.buyer({ buyer: buyer.buyer });
    const h = (await buyer.call({ type: 'hold', show: 'demo', seats })).hold;
    await watcher.waitFor((c) => seats.every((s) => c.state(s) === 'p'), 2000, 'held');
    const list = await stack.api('GET', '/api/shows/demo/holds', { cookie });
    assert.equal(list.status, 200, list.text);
    const item = list.json.find((x) => x.ref === h.ref);
    assert.ok(item, `hold ${h.ref} in ${list.text}`);
    assert.deepEqual([...item.seats].sort(), [...seats].sort());
    assert.equal(item.expires_at, h.expires_at);

    const t0 = Date.now();
    const r = await stack.api('POST', '/api/shows/demo/bookings', {
        cookie,
        json: { hold: h.ref, payment_ref: 'pay-0001' },
    });
    assert.equal(r.status, 201, r.text);
    const b = r.json.booking;
    assert.ok(b, r.text);
    assert.ok(b.id !== undefined && b.id !== null, 'booking id');
    assert.equal(b.show, 'demo');
    assert.deepEqual([...b.seats].sort(), [...seats].sort());
    assert.equal(b.payment_ref, 'pay-0001');
    /* `by` names the staff member; its exact format is the server's choice */
    assert.match(String(b.by), /(^|[:/ ])staff$/, `by names the user: ${b.by}`);
    if (typeof b.created_at === 'number') {
        assert.ok(b.created_at >= t0 - 2000 && b.created_at <= Date.now() + 2000, `created_at ${b.created_at}`);
    } else {
        assert.ok(!Number.isNaN(Date.parse(b.created_at)), `created_at ${b.created_at}`);
    }
    /* Watchers see booked; the buyer (every connection) gets hold/booked. */
    await watcher.waitFor((c) => seats.every((s) => c.state(s) === 'b'), 2000, 'seats booked');
    for (const c of [buyer, other]) {
        const e = await c.nextEvent((x) => x.type === 'hold' && x.reason === 'booked', 2000, 'hold booked event');
        assert.equal(e.hold, null);
    }
    assert.deepEqual(
        watcher.changesOf(seats[0]).map((x) => x.state),
        ['p', 'b'],
    );
    /* The same payment_ref again: 200 and the same booking; nothing changes. */
    const seq = (await stack.seats()).seq;
    const again = await stack.api('POST', '/api/shows/demo/bookings', {
        cookie,
        json: { hold: h.ref, payment_ref: 'pay-0001' },
    });
    assert.equal(again.status, 200, again.text);
    assert.equal(again.json.booking.id, b.id);
    assert.deepEqual(again.json.booking, b);
    assert.equal((await stack.seats()).seq, seq);
    /* The hold is gone from the list, and the seats can't be held. */
    const list2 = await stack.api('GET', '/api/shows/demo/holds', { cookie });
    assert.ok(!list2.json.some((x) => x.ref === h.ref));
    const r3 = await (await stack.buyer()).request({ type: 'hold', show: 'demo', seats: [seats[0]] });
    assert.equal(r3.code, 'seat_unavailable');
    /* The booked seats survive past the hold's deadline. */
    const bookings = bookingsOf((await stack.api('GET', '/api/shows/demo/bookings', { cookie })).json);
    assert.ok(bookings.some((x) => x.id === b.id && x.payment_ref === 'pay-0001'));
});

it('confirming an expired (or unknown) hold -> 409 hold_expired', async () => {
    const seats = pool.take(1);
    const buyer = await stack.buyer();
    const h = (await buyer.call({ type: 'hold', show: 'demo', seats })).hold;
    await watcher.waitFor((c) => c.state(seats[0]) === 'p', 2000, 'held');
    await watcher.waitFor((c) => c.state(seats[0]) === 'e', h.expires_at - Date.now() + 3000, 'hold expired');
    const r = await stack.api('POST', '/api/shows/demo/bookings', {
        cookie,
        json: { hold: h.ref, payment_ref: 'pay-expired' },
    });
    assert.equal(r.status, 409, r.text);
    assert.equal(r.json?.error?.code, 'hold_expired');
    assert.equal(watcher.state(seats[0]), 'e');
    const r2 = await stack.api('POST', '/api/shows/demo/bookings', {
        cookie,
        json: { hold: 'QQQQQQ', payment_ref: 'pay-unknown' },
    });
    assert.equal(r2.status, 409, r2.text);
    assert.equal(r2.json?.error?.code, 'hold_expired');
    const bookings = bookingsOf((await stack.api('GET', '/api/shows/demo/bookings', { cookie })).json);
    assert.ok(!bookings.some((x) => x.payment_ref === 'pay-expired' || x.payment_ref === 'pay-unknown'));
});

it('a confirmed hold is not expired later (no seat returns to empty)', async () => {
    const seats = pool.take(1);
    const buyer = await stack.buyer();
    const h = (await buyer.call({ type: 'hold', show: 'demo', seats })).hold;
    await watcher.waitFor((c) => c.state(seats[0]) === 'p', 2000, 'held');
    const r = await stack.api('POST', '/api/shows/demo/bookings', {
        cookie,
        json: { hold: h.ref, payment_ref: 'pay-late-check' },
    });
    assert.equal(r.status, 201, r.text);
    /* Past the deadline plus the 1 s expiry budget: still booked. */
    await passDeadline(stack, watcher, h.expires_at + 1000, pool.take(1)[0]);
    assert.equal(watcher.state(seats[0]), 'b');
    assert.deepEqual(watcher.changesOf(seats[0]).map((x) => x.state), ['p', 'b']);
    assert.equal((await stack.seats()).seats[(await stack.seatIds()).indexOf(seats[0])], 'b');
});

it('walk-up sale: 201; a taken seat -> 409 seat_unavailable, all or nothing', async () => {
    const [s1, s2, s3, s4, held] = pool.take(5);
    const r = await stack.api('POST', '/api/shows/demo/bookings', {
        cookie,
        json: { seats: [s1, s2], payment_ref: 'cash-0001' },
    });
    assert.equal(r.status, 201, r.text);
    assert.deepEqual([...r.json.booking.seats].sort(), [s1, s2].sort());
    assert.equal(r.json.booking.payment_ref, 'cash-0001');
    await watcher.waitFor((c) => c.state(s1) === 'b' && c.state(s2) === 'b', 2000, 'sold seats booked');
    /* booked seat in the set */
    const r2 = await stack.api('POST', '/api/shows/demo/bookings', {
        cookie,
        json: { seats: [s3, s1], payment_ref: 'cash-0002' },
    });
    assert.equal(r2.status, 409, r2.text);
    assert.equal(r2.json?.error?.code, 'seat_unavailable');
    /* pending seat in the set */
    const buyer = await stack.buyer();
    await buyer.call({ type: 'hold', show: 'demo', seats: [held] });
    const r3 = await stack.api('POST', '/api/shows/demo/bookings', {
        cookie,
        json: { seats: [s4, held], payment_ref: 'cash-0003' },
    });
    assert.equal(r3.status, 409, r3.text);
    assert.equal(r3.json?.error?.code, 'seat_unavailable');
    const ids = await stack.seatIds();
    const s = await stack.seats();
    assert.equal(s.seats[ids.indexOf(s3)], 'e', 'nothing of a failed sale is booked');
    assert.equal(s.seats[ids.indexOf(s4)], 'e');
    assert.equal(s.seats[ids.indexOf(held)], 'p', 'the held seat is still pending');
    const bookings = bookingsOf((await stack.api('GET', '/api/shows/demo/bookings', { cookie })).json);
    assert.ok(!bookings.some((x) => ['cash-0002', 'cash-0003'].includes(x.payment_ref)));
    /* unknown seat */
    const r4 = await stack.api('POST', '/api/shows/demo/bookings', {
        cookie,
        json: { seats: ['NO-SUCH-SEAT'], payment_ref: 'cash-0004' },
    });
    assert.ok(r4.status === 400 || r4.status === 404 || r4.status === 409, `${r4.status} ${r4.text}`);
});

it('list bookings; cancel -> seats empty for watchers; cancel again -> 409', async () => {
    const seats = pool.take(3);
    const r = await stack.api('POST', '/api/shows/demo/bookings', {
        cookie,
        json: { seats, payment_ref: 'cash-cancel-me' },
    });
    assert.equal(r.status, 201, r.text);
    const b = r.json.booking;
    await watcher.waitFor((c) => seats.every((s) => c.state(s) === 'b'), 2000, 'booked');
    const list = await stack.api('GET', '/api/shows/demo/bookings', { cookie });
    assert.equal(list.status, 200, list.text);
    const all = bookingsOf(list.json);
    const mine = all.find((x) => x.id === b.id);
    assert.ok(mine, 'booking listed');
    assert.deepEqual([...mine.seats].sort(), [...seats].sort());
    assert.equal(mine.payment_ref, 'cash-cancel-me');
    for (const x of all) assert.equal(x.show, 'demo');

    const del = await stack.api('DELETE', `/api/shows/demo/bookings/${b.id}`, { cookie });
    assert.ok(del.status === 200 || del.status === 204, `${del.status} ${del.text}`);
    await watcher.waitFor((c) => seats.every((s) => c.state(s) === 'e'), 2000, 'cancelled seats empty');
    assert.deepEqual(watcher.changesOf(seats[0]).map((x) => x.state), ['b', 'e']);
    const s = await stack.seats();
    assert.equal(watcher.modelString(), s.seats);
    assert.deepEqual(watcher.model.gaps, []);
    /* Cancelled seats can be held again. */
    const buyer = await stack.buyer();
    await buyer.call({ type: 'hold', show: 'demo', seats });
    await watcher.waitFor((c) => seats.every((x) => c.state(x) === 'p'), 2000, 'held again');
    const del2 = await stack.api('DELETE', `/api/shows/demo/bookings/${b.id}`, { cookie });
    assert.equal(del2.status, 409, del2.text);
    assert.equal(del2.json?.error?.code, 'already_cancelled');
    assert.equal(watcher.state(seats[0]), 'p', 'a second cancel changes nothing');
    const del3 = await stack.api('DELETE', '/api/shows/demo/bookings/999999', { cookie });
    assert.equal(del3.status, 404, del3.text);
    /* The listed booking shows it was cancelled (or is gone from the active list). */
    const after2 = bookingsOf((await stack.api('GET', '/api/shows/demo/bookings', { cookie })).json);
    const x = after2.find((y) => y.id === b.id);
    if (x) assert.ok(x.cancelled_at || x.status === 'cancelled' || x.cancelled, `cancelled booking marked: ${JSON.stringify(x)}`);
});

it('bad booking requests: 400', async () => {
    const buyer = await stack.buyer();
    const [s1] = pool.take(1);
    const h = (await buyer.call({ type: 'hold', show: 'demo', seats: [s1] })).hold;
    await watcher.waitFor((c) => c.state(s1) === 'p', 2000, 'held');
    for (const body of [
        { hold: h.ref }, /* no payment_ref */
        { payment_ref: 'x-1' }, /* neither hold nor seats */
        { hold: 42, payment_ref: 'x-2' },
        { seats: 'A-1', payment_ref: 'x-3' },
        { seats: [], payment_ref: 'x-4' },
        { hold: h.ref, payment_ref: 7 },
    ]) {
        const r = await stack.api('POST', '/api/shows/demo/bookings', { cookie, json: body });
        assert.equal(r.status, 400, `${JSON.stringify(body)} -> ${r.status} ${r.text}`);
        assert.equal(r.json?.error?.code, 'bad_request');
    }
    assert.equal(watcher.state(s1), 'p');
    const r = await stack.api('POST', '/api/shows/nope/bookings', { cookie, json: { seats: [s1], payment_ref: 'x-5' } });
    assert.equal(r.status, 404);
    assert.equal(r.json?.error?.code, 'unknown_show');
});

it('concurrent confirms of one hold: exactly one booking', async () => {
    const seats = pool.take(2);
    const buyer = await stack.buyer();
    const h = (await buyer.call({ type: 'hold', show: 'demo', seats })).hold;
    await watcher.waitFor((c) => seats.every((s) => c.state(s) === 'p'), 2000, 'held');
    /* different payment refs: one 201, the rest hold_expired (the hold is gone) */
    const rs = await Promise.all(
        Array.from({ length: 8 }, (_, i) =>
            stack.api('POST', '/api/shows/demo/bookings', { cookie, json: { hold: h.ref, payment_ref: `race-${i}` } }),
        ),
    );
    const created = rs.filter((r) => r.status === 201);
    assert.equal(created.length, 1, rs.map((r) => `${r.status} ${r.text}`).join('\n'));
    for (const r of rs) {
        if (r.status !== 201) {
            assert.equal(r.status, 409, r.text);
            assert.equal(r.json?.error?.code, 'hold_expired', r.text);
        }
    }
    const all = bookingsOf((await stack.api('GET', '/api/shows/demo/bookings', { cookie })).json);
    assert.equal(all.filter((b) => b.payment_ref.startsWith('race-')).length, 1, 'one booking row');
    /* the same payment ref concurrently: one booking, 201 once and 200 for the rest */
    const [s2] = pool.take(1);
    const b2 = await stack.buyer();
    const h2 = (await b2.call({ type: 'hold', show: 'demo', seats: [s2] })).hold;
    const rs2 = await Promise.all(
        Array.from({ length: 8 }, () =>
            stack.api('POST', '/api/shows/demo/bookings', { cookie, json: { hold: h2.ref, payment_ref: 'same-ref' } }),
        ),
    );
    assert.equal(rs2.filter((r) => r.status === 201).length, 1, rs2.map((r) => `${r.status} ${r.text}`).join('\n'));
    for (const r of rs2) {
        assert.ok(r.status === 201 || r.status === 200, `${r.status} ${r.text}`);
        assert.equal(r.json.booking.id, rs2.find((x) => x.status === 201).json.booking.id);
    }
    await watcher.waitFor((c) => c.state(s2) === 'b' && seats.every((s) => c.state(s) === 'b'), 2000, 'booked');
    assert.deepEqual(await checkRedisInvariants(stack.redis), []);
});

it('walk-up sales and holds racing for the same seats: one winner per seat', async () => {
    const seats = pool.take(6);
    const holders = await Promise.all(seats.map(() => stack.buyer({ watch: null })));
    const jobs = [];
    seats.forEach((s, i) => {
        jobs.push(holders[i].request({ type: 'hold', show: 'demo', seats: [s] }).then((r) => ({ kind: 'hold', s, ok: r.type === 'ok', r })));
        jobs.push(
            stack
                .api('POST', '/api/shows/demo/bookings', { cookie, json: { seats: [s], payment_ref: `wr-${i}` } })
                .then((r) => ({ kind: 'sale', s, ok: r.status === 201, r })),
        );
    });
    const out = await Promise.all(jobs);
    for (const s of seats) {
        const wins = out.filter((o) => o.s === s && o.ok);
        assert.equal(wins.length, 1, `seat ${s}: ${JSON.stringify(out.filter((o) => o.s === s).map((o) => o.r.status || o.r.code))}`);
        const want = wins[0].kind === 'hold' ? 'p' : 'b';
        await watcher.waitFor((c) => c.state(s) === want, 2000, `${s} ${want}`);
        const lose = out.find((o) => o.s === s && !o.ok);
        if (lose.kind === 'sale') assert.equal(lose.r.json?.error?.code, 'seat_unavailable');
        else assert.equal(lose.r.code, 'seat_unavailable');
    }
    assert.deepEqual(await checkRedisInvariants(stack.redis), []);
});

it('confirms racing the deadline: 201 means booked for good, 409 means empty', async () => {
    const n = 8;
    const seats = pool.take(n);
    const buyers = await Promise.all(seats.map(() => stack.buyer({ watch: null })));
    const holds = await Promise.all(buyers.map((b, i) => b.call({ type: 'hold', show: 'demo', seats: [seats[i]] })));
    await watcher.waitFor((c) => seats.every((s) => c.state(s) === 'p'), 2000, 'held');
    /* fire each confirm at a different offset around its deadline (scheduled, not a wait) */
    const offsets = [-60, -30, -15, -5, 0, 5, 15, 40];
    const results = await Promise.all(
        holds.map(
            (r, i) =>
                new Promise((resolve) => {
                    setTimeout(() => {
                        stack
                            .api('POST', '/api/shows/demo/bookings', {
                                cookie,
                                json: { hold: r.hold.ref, payment_ref: `edge-${i}` },
                            })
                            .then(resolve, resolve);
                    }, Math.max(0, r.hold.expires_at + offsets[i] - Date.now()));
                }),
        ),
    );
    /* after every deadline plus the 1 s expiry budget, states are final */
    const last = Math.max(...holds.map((r) => r.hold.expires_at));
    await passDeadline(stack, watcher, last + 1000, pool.take(1)[0]);
    const all = bookingsOf((await stack.api('GET', '/api/shows/demo/bookings', { cookie })).json);
    const ids = await stack.seatIds();
    const s = await stack.seats();
    results.forEach((r, i) => {
        const st = s.seats[ids.indexOf(seats[i])];
        const row = all.find((b) => b.payment_ref === `edge-${i}`);
        if (r.status === 201) {
            assert.equal(st, 'b', `edge-${i} (offset ${offsets[i]}): 201 but seat is ${st}`);
            assert.ok(row, `edge-${i}: 201 but no booking listed`);
        } else {
            assert.equal(r.status, 409, `edge-${i}: ${r.status} ${r.text}`);
            assert.equal(r.json?.error?.code, 'hold_expired');
            assert.equal(st, 'e', `edge-${i} (offset ${offsets[i]}): 409 but seat is ${st}`);
            assert.ok(!row, `edge-${i}: 409 but a booking exists`);
        }
        assert.equal(watcher.state(seats[i]), st, `edge-${i}: watcher agrees`);
    });
    assert.deepEqual(await checkRedisInvariants(stack.redis), []);
});

it('seq grows by one per booking, sale, cancellation and expiry; failures do not count', async () => {
    const [a, b, c1, c2, e1] = pool.take(5);
    /* no other hold may expire in the middle of this: wait for earlier ones to end */
    await waitUntil(
        async () => (await stack.api('GET', '/api/shows/demo/holds', { cookie })).json.length === 0,
        10000,
        'no live holds left by earlier tests',
    );
    const seq = async () => {
        const x = await stack.seats();
        await watcher.waitFor((w) => w.model.seq === x.seq, 2000, `watcher at seq ${x.seq}`);
        return x.seq;
    };
    const s0 = await seq();
    const buyer = await stack.buyer({ watch: null });
    const h = (await buyer.call({ type: 'hold', show: 'demo', seats: [a, b] })).hold;
    assert.equal(await seq(), s0 + 1, 'a hold of two seats');
    const conf = await stack.api('POST', '/api/shows/demo/bookings', { cookie, json: { hold: h.ref, payment_ref: 'seq-1' } });
    assert.equal(conf.status, 201);
    assert.equal(await seq(), s0 + 2, 'a confirmation');
    const sale = await stack.api('POST', '/api/shows/demo/bookings', { cookie, json: { seats: [c1, c2], payment_ref: 'seq-2' } });
    assert.equal(sale.status, 201);
    assert.equal(await seq(), s0 + 3, 'a walk-up sale of two seats');
    const bad = await stack.api('POST', '/api/shows/demo/bookings', { cookie, json: { seats: [c1, e1], payment_ref: 'seq-3' } });
    assert.equal(bad.status, 409);
    const again = await stack.api('POST', '/api/shows/demo/bookings', { cookie, json: { hold: h.ref, payment_ref: 'seq-1' } });
    assert.equal(again.status, 200);
    assert.equal(await seq(), s0 + 3, 'a refused sale and a replayed confirmation change nothing');
    const del = await stack.api('DELETE', `/api/shows/demo/bookings/${sale.json.booking.id}`, { cookie });
    assert.ok(del.status === 200 || del.status === 204);
    assert.equal(await seq(), s0 + 4, 'a cancellation');
    await stack.api('DELETE', `/api/shows/demo/bookings/${sale.json.booking.id}`, { cookie });
    assert.equal(await seq(), s0 + 4, 'a refused cancellation');
    const h2 = (await buyer.call({ type: 'hold', show: 'demo', seats: [e1] })).hold;
    assert.equal(await seq(), s0 + 5);
    await watcher.waitFor((w) => w.state(e1) === 'e', h2.expires_at - Date.now() + 3000, 'expired');
    assert.equal(await seq(), s0 + 6, 'an expiry');
    assert.deepEqual(watcher.model.gaps, []);
});

it('logout ends the session', async () => {
    const c2 = await stack.login();
    const r = await stack.api('POST', '/api/logout', { cookie: c2 });
    assert.ok(r.status === 200 || r.status === 204, `${r.status} ${r.text}`);
    const h = await stack.api('GET', '/api/shows/demo/holds', { cookie: c2 });
    assert.equal(h.status, 401);
    assert.equal(h.json?.error?.code, 'unauthorized');
    const me = await stack.api('GET', '/api/me', { cookie: c2 });
    assert.equal(me.status, 401);
    /* The other session is unaffected. */
    const ok = await stack.api('GET', '/api/shows/demo/holds', { cookie });
    assert.equal(ok.status, 200);
});
