/*
 * deliveries.test.mjs - the admin API for one webhook delivery, with real
 * parts (seatmapd, Redis, a local HTTP receiver that answers 500 on
 * purpose): GET /api/deliveries/{id} shows the payload as it is POSTed,
 * the attempts and the last error; POST /api/deliveries/{id}/discard
 * removes a delivery for good (never tried again, no longer listed); bad
 * ids and the wrong role get clear errors and change nothing. Also: Redis
 * losing everything and the repair (ensure.lua) rewriting the bookings
 * sends no second booking.created.
 */
import { before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startStack, testWithLogs, seatPool, waitUntil } from '../lib/stack.mjs';
import { startReceiver } from '../lib/receiver.mjs';

const FLAGS = ['--webhook-backoff-ms', '100', '--webhook-timeout-ms', '1000',
    '--webhook-max-attempts', '3'];
let stack;
let pool;
let cookie;
const it = testWithLogs(() => stack);

before(async () => {
    stack = await startStack({ holdTtl: 30, extraArgs: FLAGS });
    pool = seatPool(await stack.seatIds());
    cookie = await stack.login();
});
after(async () => {
    await stack?.stop();
});

async function addWebhook(url, events) {
    const r = await stack.api('POST', '/api/webhooks', { cookie, json: { url, events } });
    assert.equal(r.status, 201, r.text);
    return r.json;
}

/* The first delivery of a webhook that pred accepts, once there is one. */
async function firstDelivery(hookId, pred, timeoutMs, what) {
    let found;
    await waitUntil(async () => {
        found = (await deliveries(hookId)).find(pred);
        return found;
    }, timeoutMs, what);
    return found;
}

async function deliveries(hookId, status = '') {
    const r = await stack.api('GET', `/api/webhooks/${hookId}/deliveries?limit=1000${status ? `&status=${status}` : ''}`, { cookie });
    assert.equal(r.status, 200, r.text);
    return r.json;
}

it('GET /api/deliveries/{id}: the event JSON as POSTed, attempts and last error', async () => {
    const rec = await startReceiver();
    rec.mode = () => 'fail';
    const hook = await addWebhook(`${rec.url}/get`, ['hold.created']);
    const buyer = await stack.buyer();
    const [seat] = pool.take(1);
    const hold = (await buyer.call({ type: 'hold', show: 'demo', seats: [seat] })).hold;

    const dead = await firstDelivery(hook.id, (x) => x.status === 'dead', 30000, 'the delivery goes dead after 3 attempts of HTTP 500');
    const r = await stack.api('GET', `/api/deliveries/${dead.id}`, { cookie });
    assert.equal(r.status, 200, r.text);
    const d = r.json;
    assert.equal(d.id, dead.id);
    assert.equal(d.webhook_id, hook.id);
    assert.equal(d.status, 'dead');
    assert.equal(d.attempts, 3);
    assert.equal(d.last_error, 'HTTP 500');
    assert.equal(d.event_type, 'hold.created');
    assert.equal(typeof d.payload, 'object', 'the payload is the event itself, not a string');
    assert.equal(d.payload.id, d.event_id);
    assert.equal(d.payload.type, 'hold.created');
    assert.equal(d.payload.show, 'demo');
    assert.deepEqual(d.payload.data.seats, [seat]);
    assert.equal(d.payload.data.ref, hold.ref);

    /* What the receiver gets, once it works, is byte for byte the payload. */
    rec.mode = () => 'ok';
    const retry = await stack.api('POST', `/api/deliveries/${dead.id}/retry`, { cookie });
    assert.equal(retry.status, 200, retry.text);
    await waitUntil(() => rec.ids('/get').has(d.event_id), 10000, 'delivered after the retry');
    assert.deepEqual(JSON.parse(rec.got.find((g) => g.headers['webhook-id'] === d.event_id).body), d.payload);
    await stack.api('DELETE', `/api/webhooks/${hook.id}`, { cookie });
    await rec.stop();
});

it('POST /api/deliveries/{id}/discard: a dead or failing delivery is removed and never tried again', async () => {
    const rec = await startReceiver();
    rec.mode = () => 'fail';
    const hook = await addWebhook(`${rec.url}/discard`, ['hold.created']);
    const buyer = await stack.buyer();
    await buyer.call({ type: 'hold', show: 'demo', seats: pool.take(1) });
    const dead = await firstDelivery(hook.id, (x) => x.status === 'dead', 30000, 'a dead delivery');

    const r = await stack.api('POST', `/api/deliveries/${dead.id}/discard`, { cookie });
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.json, { id: dead.id, webhook_id: hook.id, discarded: true });
    assert.equal((await stack.api('GET', `/api/deliveries/${dead.id}`, { cookie })).status, 404);
    assert.ok(!(await deliveries(hook.id)).some((x) => x.id === dead.id), 'no longer listed');
    const counts = (await stack.api('GET', '/api/webhooks', { cookie })).json.find((h) => h.id === hook.id).deliveries;
    assert.equal(counts.dead, 0);
    /* Gone for good: neither retried nor discarded twice. */
    assert.equal((await stack.api('POST', `/api/deliveries/${dead.id}/retry`, { cookie })).status, 404);
    const twice = await stack.api('POST', `/api/deliveries/${dead.id}/discard`, { cookie });
    assert.equal(twice.status, 404);
    assert.equal(twice.json.error.code, 'not_found');

    /* A delivery still being retried (failed, a retry queued): discarded,
     * its queued retry finds nothing and the receiver hears no more of it
     * (an attempt already running when it was discarded may still land). */
    const tries = new Map();
    let ev = null;
    rec.mode = (req) => {
        const id = req.headers['webhook-id'];
        tries.set(id, (tries.get(id) || 0) + 1);
        return ev === null || id === ev ? 'fail' : 'ok';
    };
    const dbuyer = await stack.buyer();
    await dbuyer.call({ type: 'hold', show: 'demo', seats: pool.take(1) });
    const failing = await firstDelivery(hook.id, (x) => x.status === 'failed' && x.attempts >= 1, 10000, 'a failing delivery');
    ev = failing.event_id;
    const disc = await stack.api('POST', `/api/deliveries/${failing.id}/discard`, { cookie });
    assert.equal(disc.status, 200, disc.text);
    const triesAtDiscard = tries.get(ev);
    /* A later event goes through: anything queued before it had its turn. */
    const lbuyer = await stack.buyer();
    await lbuyer.call({ type: 'hold', show: 'demo', seats: pool.take(1) });
    await waitUntil(async () => (await deliveries(hook.id, 'ok')).length === 1, 10000, 'the later event delivered');
    await new Promise((res) => { setTimeout(res, 1500); }); // longer than the backoff of any retry left
    const settled = tries.get(ev);
    assert.ok(settled <= triesAtDiscard + 1, `tried ${settled - triesAtDiscard} more times after the discard`);
    await new Promise((res) => { setTimeout(res, 1000); });
    assert.equal(tries.get(ev), settled, 'no more tries');
    assert.ok(!(await deliveries(hook.id)).some((x) => x.id === failing.id));
    await stack.api('DELETE', `/api/webhooks/${hook.id}`, { cookie });
    await rec.stop();
});

it('an ok delivery cannot be discarded; bad ids and non-admins get clear errors', async () => {
    const rec = await startReceiver();
    const hook = await addWebhook(`${rec.url}/ok`, ['hold.created']);
    const buyer = await stack.buyer();
    await buyer.call({ type: 'hold', show: 'demo', seats: pool.take(1) });
    const ok = await firstDelivery(hook.id, (x) => x.status === 'ok', 10000, 'an ok delivery');
    const r = await stack.api('POST', `/api/deliveries/${ok.id}/discard`, { cookie });
    assert.equal(r.status, 409, r.text);
    assert.match(r.json.error.message, /already been delivered/);
    assert.equal((await stack.api('GET', `/api/deliveries/${ok.id}`, { cookie })).json.status, 'ok');

    for (const bad of ['0', '-1', 'abc', '1x', '99999999', '9999999999999999999999']) {
        for (const [m, p] of [['GET', `/api/deliveries/${bad}`], ['POST', `/api/deliveries/${bad}/discard`]]) {
            const e = await stack.api(m, p, { cookie });
            assert.equal(e.status, 404, `${m} ${p}: ${e.text}`);
            assert.equal(e.json.error.code, 'not_found');
            assert.match(e.json.error.message, /no such delivery/);
        }
    }
    assert.equal((await stack.api('DELETE', `/api/deliveries/${ok.id}`, { cookie })).status, 405);

    /* Without a session: 401; the box office role: 403; nothing changes. */
    assert.equal((await stack.api('GET', `/api/deliveries/${ok.id}`)).status, 401);
    assert.equal((await stack.api('POST', `/api/deliveries/${ok.id}/discard`)).status, 401);
    await stack.addUser('clerk', 'boxoffice', 'clerk password 123');
    const clerk = await stack.login('clerk', 'clerk password 123');
    const g = await stack.api('GET', `/api/deliveries/${ok.id}`, { cookie: clerk });
    assert.equal(g.status, 403);
    assert.equal(g.json.error.code, 'forbidden');
    assert.equal((await stack.api('POST', `/api/deliveries/${ok.id}/discard`, { cookie: clerk })).status, 403);
    assert.equal((await stack.api('GET', `/api/deliveries/${ok.id}`, { cookie })).status, 200);
    await stack.api('DELETE', `/api/webhooks/${hook.id}`, { cookie });
    await rec.stop();
});

it('Redis loses everything: the repair rewrites the bookings and sends no second booking.created', { timeout: 120000 }, async () => {
    const rec = await startReceiver();
    const hook = await addWebhook(`${rec.url}/repair`, ['booking.created']);
    const seats = pool.take(2);
    const buyer = await stack.buyer();
    const hold = (await buyer.call({ type: 'hold', show: 'demo', seats: [seats[0]] })).hold;
    const conf = await stack.api('POST', '/api/shows/demo/bookings', { cookie, json: { hold: hold.ref, payment_ref: `rep-${hold.ref}` } });
    assert.equal(conf.status, 201, conf.text);
    const sale = await stack.api('POST', '/api/shows/demo/bookings', { cookie, json: { seats: [seats[1]], payment_ref: `rep-sale-${hold.ref}` } });
    assert.equal(sale.status, 201, sale.text);
    await waitUntil(() => rec.got.length >= 2, 10000, 'both booking.created delivered');

    const layout = await stack.seatIds();
    const idx = seats.map((s) => layout.indexOf(s));
    await stack.redis.cli('FLUSHALL');
    /* The server notices (its keepalive or the 30 s check) and repairs:
     * wait until Redis has the booked seats again. */
    await waitUntil(async () => {
        const booked = await stack.redis.cli('HGETALL', 'sm:{demo}:booked');
        return seats.every((s) => booked.includes(s));
    }, 45000, 'the bookings written back into Redis');
    const st = await stack.seats();
    for (const i of idx) assert.equal(st.seats[i], 'b');

    /* A later booking's event arrives: anything the repair queued was
     * dispatched before it. */
    const [late] = pool.take(1);
    const later = await stack.api('POST', '/api/shows/demo/bookings', { cookie, json: { seats: [late], payment_ref: `rep-late-${hold.ref}` } });
    assert.equal(later.status, 201, later.text);
    await waitUntil(() => rec.got.some((g) => JSON.parse(g.body).data.id === later.json.booking.id), 15000, 'the later booking delivered');
    const byBooking = new Map();
    for (const g of rec.got) {
        const ev = JSON.parse(g.body);
        assert.equal(ev.type, 'booking.created');
        byBooking.set(ev.data.id, (byBooking.get(ev.data.id) || 0) + 1);
    }
    assert.equal(byBooking.get(conf.json.booking.id), 1, 'the confirmed booking: one booking.created');
    assert.equal(byBooking.get(sale.json.booking.id), 1, 'the walk-up sale: one booking.created');
    assert.equal(byBooking.get(later.json.booking.id), 1);
    await stack.api('DELETE', `/api/webhooks/${hook.id}`, { cookie });
    await rec.stop();
});
