/*
 * example-receiver.test.mjs - examples/order-receiver against a real seatmapd
 * and Redis: registered with the real CLI, it cancels the unpaid order of a
 * hold that expires, marks a confirmed one paid, refuses a forged request and
 * handles a replayed (duplicate) delivery once.
 */
import { before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import path from 'node:path';
import {
    REPO, startStack, testWithLogs, seatPool, waitUntil, freePort, seatmapdCli, httpRequest,
} from '../lib/stack.mjs';

let stack;
let pool;
let cookie;
let receiver;
let shop;
let secret;
const it = testWithLogs(() => stack);

before(async () => {
    stack = await startStack({ holdTtl: 2, extraArgs: ['--webhook-backoff-ms', '100', '--webhook-timeout-ms', '2000'] });
    pool = seatPool(await stack.seatIds());
    cookie = await stack.login();
    const port = await freePort();
    shop = `http://127.0.0.1:${port}`;
    const add = await seatmapdCli(['webhook', 'add', `${shop}/webhooks/seatmap`, '--events',
        'hold.expired,booking.created,booking.cancelled', '--db', stack.dbPath]);
    assert.equal(add.code, 0, add.stderr);
    secret = add.stdout.trim().split(/\s+/)[1];
    receiver = spawn(process.execPath, [path.join(REPO, 'examples/order-receiver/server.mjs')], {
        env: { ...process.env, PORT: String(port), WEBHOOK_SECRET: secret },
        stdio: ['ignore', 'pipe', 'inherit'],
    });
    await waitUntil(() => httpRequest(shop, 'GET', '/stats').then((r) => r.status === 200, () => false), 10000, 'receiver up');
});
after(async () => {
    receiver?.kill('SIGKILL');
    await stack?.stop();
});

const order = (ref) => httpRequest(shop, 'GET', `/orders/${ref}`).then((r) => r.json);

it('an unpaid order is cancelled when its hold expires; a confirmed one is paid', async () => {
    const b1 = await stack.buyer();
    const b2 = await stack.buyer();
    const h1 = (await b1.call({ type: 'hold', show: 'demo', seats: pool.take(2) })).hold;
    const h2 = (await b2.call({ type: 'hold', show: 'demo', seats: pool.take(1) })).hold;
    for (const h of [h1, h2]) {
        const r = await httpRequest(shop, 'POST', '/orders', { json: { hold: h.ref, amount: 4200 } });
        assert.equal(r.status, 201, r.text);
    }
    /* The server picks the CLI-added webhook up within 2 s; both holds were
     * made after it existed, so their events are delivered anyway. */
    const conf = await stack.api('POST', '/api/shows/demo/bookings', { cookie, json: { hold: h2.ref, payment_ref: 'shop-1' } });
    assert.equal(conf.status, 201, conf.text);
    await waitUntil(async () => (await order(h2.ref)).status === 'paid', 15000, 'order 2 paid');
    await waitUntil(async () => (await order(h1.ref)).status === 'cancelled', 15000, 'order 1 cancelled on hold.expired');
    assert.deepEqual((await order(h1.ref)).events, ['hold.expired']);

    const del = await stack.api('DELETE', `/api/shows/demo/bookings/${conf.json.booking.id}`, { cookie });
    assert.equal(del.status, 200, del.text);
    await waitUntil(async () => (await order(h2.ref)).status === 'refunded', 15000, 'order 2 refunded');
});

it('a forged request is refused; a replayed delivery is handled once', async () => {
    const body = JSON.stringify({ id: 'evt_fake', type: 'hold.expired', show: 'demo', seq: 1, created_at: Date.now(), data: { ref: 'NOPE' } });
    const forged = await httpRequest(shop, 'POST', '/webhooks/seatmap', {
        body,
        headers: { 'Content-Type': 'application/json', 'webhook-id': 'evt_fake', 'webhook-timestamp': String(Math.floor(Date.now() / 1000)), 'webhook-signature': 'v1,AAAA' },
    });
    assert.equal(forged.status, 400);
    /* A correctly signed event sent twice (what a redelivery looks like). */
    const { Webhook } = await import('standardwebhooks');
    const ts = new Date();
    const sig = new Webhook(secret).sign('evt_replayed', ts, body);
    const headers = { 'Content-Type': 'application/json', 'webhook-id': 'evt_replayed', 'webhook-timestamp': String(Math.floor(ts / 1000)), 'webhook-signature': sig };
    const before0 = (await httpRequest(shop, 'GET', '/stats')).json.handled;
    assert.equal((await httpRequest(shop, 'POST', '/webhooks/seatmap', { body, headers })).status, 204);
    assert.equal((await httpRequest(shop, 'POST', '/webhooks/seatmap', { body, headers })).status, 204);
    assert.equal((await httpRequest(shop, 'GET', '/stats')).json.handled, before0 + 1);
});
