/*
 * auth.test.mjs - staff endpoints refuse everyone who is not staff: no
 * credentials, a wrong cookie, a bad bearer token, a cookie sent cross-origin,
 * and WebSocket upgrades from a foreign Origin; API tokens from
 * `seatmapd token add` work; roles (boxoffice vs admin).
 * Not here: the staff flows themselves (staff.test.mjs).
 */
import { before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startStack, testWithLogs, seatPool, wsClient, bookingsOf } from '../lib/stack.mjs';

let stack;
let pool;
let cookie;
let holdRef;
const it = testWithLogs(() => stack);
const EVIL = 'http://evil.example';

before(async () => {
    stack = await startStack({ holdTtl: 60 });
    pool = seatPool(await stack.seatIds());
    cookie = await stack.login();
    const b = await stack.buyer();
    holdRef = (await b.call({ type: 'hold', show: 'demo', seats: pool.take(1) })).hold.ref;
});
after(async () => {
    await stack?.stop();
});

/* Every staff endpoint, with a request that would succeed for staff. */
function staffCalls() {
    return [
        ['GET', '/api/shows/demo/holds', undefined],
        ['GET', '/api/shows/demo/bookings', undefined],
        ['POST', '/api/shows/demo/bookings', { seats: pool.take(1), payment_ref: `p-${Math.random()}` }],
        ['DELETE', '/api/shows/demo/bookings/1', undefined],
        ['GET', '/api/me', undefined],
    ];
}

async function expectRefused(opts, status, code, label) {
    const before = await stack.seats();
    for (const [method, p, json] of staffCalls()) {
        const r = await stack.api(method, p, { ...opts, json });
        assert.equal(r.status, status, `${label}: ${method} ${p} -> ${r.status} ${r.text}`);
        assert.equal(r.json?.error?.code, code, `${label}: ${method} ${p} -> ${r.text}`);
    }
    const after = await stack.seats();
    assert.deepEqual(after, before, `${label}: refused calls changed nothing`);
}

it('no credentials -> 401 unauthorized', async () => {
    await expectRefused({}, 401, 'unauthorized', 'no credentials');
    const r = await stack.api('POST', '/api/shows/demo/bookings', { json: { hold: holdRef, payment_ref: 'nope' } });
    assert.equal(r.status, 401);
});

it('wrong cookie -> 401', async () => {
    await expectRefused({ cookie: 'seatmap_session=' + 'a'.repeat(64) }, 401, 'unauthorized', 'wrong cookie');
    await expectRefused({ cookie: 'seatmap_session=' }, 401, 'unauthorized', 'empty cookie');
    await expectRefused({ cookie: `other=${cookie.split('=')[1]}` }, 401, 'unauthorized', 'right value, wrong name');
    /* a tampered real session */
    const v = cookie.split('=')[1];
    const tampered = `seatmap_session=${v.slice(0, -1)}${v.endsWith('0') ? '1' : '0'}`;
    await expectRefused({ cookie: tampered }, 401, 'unauthorized', 'tampered cookie');
});

it('bad bearer token -> 401', async () => {
    await expectRefused({ token: 'f'.repeat(64) }, 401, 'unauthorized', 'bad bearer');
    await expectRefused({ headers: { Authorization: 'Bearer' } }, 401, 'unauthorized', 'empty bearer');
    await expectRefused({ headers: { Authorization: 'Basic c3RhZmY6eA==' } }, 401, 'unauthorized', 'basic auth');
    /* the session cookie value is not an API token */
    await expectRefused({ token: cookie.split('=')[1] }, 401, 'unauthorized', 'cookie as bearer');
});

it('cookie sent cross-origin -> 403 bad_origin; same origin is fine', async () => {
    await expectRefused({ cookie, origin: EVIL }, 403, 'bad_origin', 'evil origin');
    await expectRefused({ cookie, origin: 'null' }, 403, 'bad_origin', 'null origin');
    await expectRefused(
        { cookie, origin: `http://127.0.0.1:${stack.server.port + 1}` },
        403,
        'bad_origin',
        'other port',
    );
    const ok = await stack.api('GET', '/api/shows/demo/holds', { cookie, origin: stack.origin });
    assert.equal(ok.status, 200, ok.text);
    const ok2 = await stack.api('GET', '/api/shows/demo/holds', { cookie });
    assert.equal(ok2.status, 200, 'no Origin header (not a browser) is fine');
    /* logout cross-origin must not end the session */
    const lo = await stack.api('POST', '/api/logout', { cookie, origin: EVIL });
    assert.equal(lo.status, 403, lo.text);
    assert.equal((await stack.api('GET', '/api/me', { cookie })).status, 200);
});

it('WebSocket upgrade with a foreign Origin is refused; own Origin accepted', async () => {
    for (const origin of [EVIL, 'null', `http://localhost.evil.example:${stack.server.port}`]) {
        await assert.rejects(
            wsClient(stack.wsUrl, { origin }),
            (e) => {
                assert.ok(!e.status || e.status === 403 || e.status === 400, `refused with ${e.status}`);
                return true;
            },
            `upgrade from ${origin} refused`,
        );
    }
    const c = await wsClient(stack.wsUrl, { origin: stack.origin, layout: await stack.seatIds() });
    await c.hello();
    await c.watch('demo');
    await c.close();
});

it('a token from `seatmapd token add` works as Bearer', async () => {
    const token = await stack.addToken('payments');
    assert.ok(token.length >= 32, `token ${token}`);
    const h = await stack.api('GET', '/api/shows/demo/holds', { token });
    assert.equal(h.status, 200, h.text);
    assert.ok(h.json.some((x) => x.ref === holdRef));
    const r = await stack.api('POST', '/api/shows/demo/bookings', {
        token,
        json: { hold: holdRef, payment_ref: 'psp-123' },
    });
    assert.equal(r.status, 201, r.text);
    assert.match(r.json.booking.by, /payments/, `by names the token: ${r.json.booking.by}`);
    /* Bearer calls are not cookie calls: a foreign Origin is no CSRF risk */
    const x = await stack.api('GET', '/api/shows/demo/bookings', { token, origin: EVIL });
    assert.ok(x.status === 200 || x.status === 403, `${x.status}`);
    const list = bookingsOf((await stack.api('GET', '/api/shows/demo/bookings', { token })).json);
    assert.ok(list.some((b) => b.payment_ref === 'psp-123'));
});

it('boxoffice role: logs in, sees its role, can do box-office work', async () => {
    await stack.addUser('clerk', 'boxoffice', 'clerk password 1');
    const c = await stack.login('clerk', 'clerk password 1');
    const me = await stack.api('GET', '/api/me', { cookie: c });
    assert.deepEqual(me.json, { user: 'clerk', role: 'boxoffice' });
    assert.equal((await stack.api('GET', '/api/shows/demo/holds', { cookie: c })).status, 200);
    const sale = await stack.api('POST', '/api/shows/demo/bookings', {
        cookie: c,
        json: { seats: pool.take(1), payment_ref: 'clerk-1' },
    });
    assert.equal(sale.status, 201, sale.text);
    assert.match(String(sale.json.booking.by), /(^|[:/ ])clerk$/, `by: ${sale.json.booking.by}`);
});

it('admin-only: cancelling a booking needs admin (docs/protocol.md); boxoffice gets 403', async () => {
    const clerk = await stack.login('clerk', 'clerk password 1');
    const seats = pool.take(2);
    const sale = await stack.api('POST', '/api/shows/demo/bookings', {
        cookie: clerk,
        json: { seats, payment_ref: 'clerk-cancel-me' },
    });
    assert.equal(sale.status, 201, sale.text);
    const id = sale.json.booking.id;
    const before = await stack.seats();
    const r = await stack.api('DELETE', `/api/shows/demo/bookings/${id}`, { cookie: clerk });
    assert.equal(r.status, 403, r.text);
    assert.equal(r.json?.error?.code, 'forbidden');
    const boxToken = await stack.addToken('kiosk', 'boxoffice');
    const r2 = await stack.api('DELETE', `/api/shows/demo/bookings/${id}`, { token: boxToken });
    assert.equal(r2.status, 403, r2.text);
    assert.equal(r2.json?.error?.code, 'forbidden');
    assert.deepEqual(await stack.seats(), before, 'refused cancels change nothing');
    const list = bookingsOf((await stack.api('GET', '/api/shows/demo/bookings', { cookie: clerk })).json);
    assert.ok(!list.find((b) => b.id === id).cancelled_at, 'still active');
    /* an admin (cookie) and an admin token can */
    const ok = await stack.api('DELETE', `/api/shows/demo/bookings/${id}`, { cookie });
    assert.equal(ok.status, 200, ok.text);
    const adminToken = await stack.addToken('ops', 'admin');
    const sale2 = await stack.api('POST', '/api/shows/demo/bookings', { token: boxToken, json: { seats, payment_ref: 'kiosk-1' } });
    assert.equal(sale2.status, 201, sale2.text);
    const ok2 = await stack.api('DELETE', `/api/shows/demo/bookings/${sale2.json.booking.id}`, { token: adminToken });
    assert.equal(ok2.status, 200, ok2.text);
    /* other admin-only endpoints, if any are named in SEATMAP_ADMIN_ONLY="METHOD /path,..." */
    for (const [method, p] of (process.env.SEATMAP_ADMIN_ONLY || '').split(',').filter(Boolean).map((x) => x.split(' '))) {
        const x = await stack.api(method, p, { cookie: clerk, json: method === 'GET' ? undefined : {} });
        assert.equal(x.status, 403, `${method} ${p}: ${x.text}`);
    }
});

it('login from a foreign Origin is refused (docs/protocol.md)', async () => {
    const r = await stack.api('POST', '/api/login', {
        origin: EVIL,
        json: { username: stack.staff.user, password: stack.staff.password },
    });
    assert.equal(r.status, 403, r.text);
    assert.equal(r.json?.error?.code, 'bad_origin');
    assert.equal(r.headers['set-cookie'], undefined);
});

it('login is not a way to probe: wrong password and unknown user look the same', async () => {
    const a = await stack.api('POST', '/api/login', { json: { username: 'staff', password: 'nope' } });
    const b = await stack.api('POST', '/api/login', { json: { username: 'ghost', password: 'nope' } });
    assert.equal(a.status, 401);
    assert.equal(b.status, 401);
    assert.equal(a.json.error.code, b.json.error.code);
    assert.equal(a.json.error.message, b.json.error.message);
});
