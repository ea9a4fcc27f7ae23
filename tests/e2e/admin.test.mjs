/*
 * admin.test.mjs - the live admin dashboard (/admin) in headless Chromium against a real
 * seatmapd + Redis (two processes for the process list) and a real local HTTP receiver that
 * answers 500 on purpose: an administrator signs in and sees a show's counts change live
 * when a buyer holds a seat; a failing webhook's delivery goes failed/dead with its last
 * error; retry after the receiver is fixed delivers it; discard removes one; the payload is
 * shown; a box-office user is refused.
 */
import { after, before } from 'node:test';
import assert from 'node:assert/strict';
import { testWithLogs } from '../lib/stack.mjs';
import { startReceiver } from '../lib/receiver.mjs';
import { clickSeat, closeSuite, openBuyer, openSuite, pickSeats, shot, waitSeat } from './browser.mjs';

let stack;
let browser;
let layout;
let cookie;
const it = testWithLogs(() => stack);

before(async () => {
    ({ stack, layout, browser } = await openSuite({
        holdTtl: 300,
        extraArgs: ['--webhook-backoff-ms', '100', '--webhook-timeout-ms', '2000', '--webhook-max-attempts', '2'],
    }));
    cookie = await stack.login();
});

after(() => closeSuite({ stack, browser }));

async function openAdmin(user = stack.staff.user, password = stack.staff.password) {
    const context = await browser.newContext({ viewport: { width: 1360, height: 1100 } });
    const page = await context.newPage();
    const problems = [];
    page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
    page.on('console', (m) => {
        if (m.type() === 'error' && !/status of (401|403|404|409)/.test(m.text())) problems.push(`console: ${m.text()}`);
    });
    page.problems = problems;
    await page.goto(`${stack.baseUrl}/admin`);
    await page.waitForSelector('#login-form', { state: 'visible' });
    await page.fill('#username', user);
    await page.fill('#password', password);
    await page.click('#login-submit');
    return { context, page };
}

/* The text of a cell of the dashboard, e.g. cellText(page, 'tr[data-show="demo"]', 'pending'). */
function cellText(page, row, col) {
    return page.evaluate(([r, c]) => document.querySelector(`${r} [data-col="${c}"]`)?.textContent ?? null, [row, col]);
}

async function waitCell(page, row, col, want, timeoutMs = 8000) {
    try {
        await page.waitForFunction(
            ([r, c, w]) => {
                const t = document.querySelector(`${r} [data-col="${c}"]`)?.textContent ?? null;
                return typeof w === 'string' ? t === w : new RegExp(w.source).test(t || '');
            },
            [row, col, typeof want === 'string' ? want : { source: want.source }],
            { timeout: timeoutMs, polling: 50 },
        );
    } catch {
        assert.fail(`${row} ${col}: wanted ${want}, saw ${await cellText(page, row, col)} after ${timeoutMs} ms`);
    }
}

it('an administrator sees a show\'s counts change live when a buyer holds a seat, and every process', async () => {
    const admin = await openAdmin();
    const buyer = await openBuyer(browser, stack.baseUrl);
    try {
        const { page } = admin;
        await page.waitForSelector('#app', { state: 'visible' });
        await page.waitForSelector('#conn[data-state="live"]');
        const row = 'tr[data-show="demo"]';
        await waitCell(page, row, 'seats', String(layout.seats.length));
        await waitCell(page, row, 'pending', '0');
        await waitCell(page, row, 'holds', '0');
        const empty = Number(await cellText(page, row, 'empty'));
        assert.equal(empty + Number(await cellText(page, row, 'booked')), layout.seats.length);

        const [seat] = pickSeats(layout, 1, () => true, 30);
        await clickSeat(buyer.page, seat);
        await waitSeat(buyer.page, seat, 'mine', 3000);
        const t0 = Date.now();
        await waitCell(page, row, 'pending', '1');
        const took = Date.now() - t0;
        await waitCell(page, row, 'holds', '1');
        await waitCell(page, row, 'empty', String(empty - 1));
        await waitCell(page, row, 'watchers', /^[1-9]/);
        assert.ok(took < 5000, `the dashboard showed the hold ${took} ms after the buyer saw it`);

        /* Health, and this process with its connections (the buyer and the dashboard). */
        assert.equal(await page.textContent('#health-redis'), 'Up');
        assert.equal(await page.textContent('#health-database'), 'Up');
        assert.equal(await page.locator('#procs-body tr').count(), 1);
        await waitCell(page, '#procs-body tr', 'connections', /^[2-9]/);

        /* A second process on the same Redis appears by its heartbeat. */
        const second = await stack.addServer();
        await page.waitForFunction(() => document.querySelectorAll('#procs-body tr').length === 2, null, { timeout: 10000 });
        const names = await page.$$eval('#procs-body [data-col="name"]', (tds) => tds.map((t) => t.textContent));
        assert.ok(names.some((n) => n.includes(String(second.port))), names.join(', '));
        await shot(page, 'admin-dashboard');

        /* The buyer lets go: back to zero. */
        await clickSeat(buyer.page, seat);
        await waitSeat(buyer.page, seat, 'empty', 3000);
        await waitCell(page, row, 'pending', '0');
        assert.deepEqual(page.problems, []);
    } finally {
        await buyer.context.close();
        await admin.context.close();
    }
});

it('a failing webhook\'s delivery goes dead with its last error; retry after the fix delivers it; discard removes one', async () => {
    const rec = await startReceiver();
    rec.mode = () => 'fail';
    const add = await stack.api('POST', '/api/webhooks', { cookie, json: { url: `${rec.url}/orders`, events: ['hold.created'] } });
    assert.equal(add.status, 201, add.text);
    const hook = add.json;
    const admin = await openAdmin();
    try {
        const { page } = admin;
        await page.waitForSelector('#conn[data-state="live"]');
        await page.waitForSelector(`tr[data-webhook="${hook.id}"]`);
        assert.match(await cellText(page, `tr[data-webhook="${hook.id}"]`, 'url'), /\/orders$/);

        const buyer = await stack.buyer();
        const [s1, s2] = pickSeats(layout, 2, () => true, 60);
        await buyer.call({ type: 'hold', show: 'demo', seats: [s1] });
        await page.waitForSelector('#deliveries-body tr');
        const row = await page.getAttribute('#deliveries-body tr', 'data-key');
        const sel = `#deliveries-body tr[data-key="${row}"]`;
        await waitCell(page, sel, 'status', 'Dead', 15000);
        assert.equal(await cellText(page, sel, 'last_error'), 'HTTP 500');
        assert.equal(await cellText(page, sel, 'attempts'), '2');
        await waitCell(page, `tr[data-webhook="${hook.id}"]`, 'dead', '1');
        await shot(page, 'admin-delivery-dead');

        /* The payload, as it is POSTed. */
        await page.click(`${sel} [data-action="payload"]`);
        await page.waitForSelector('#detail', { state: 'visible' });
        const payload = JSON.parse(await page.textContent('#detail-payload'));
        assert.equal(payload.type, 'hold.created');
        assert.deepEqual(payload.data.seats, [s1]);
        assert.equal(await page.evaluate(() => document.activeElement?.id), 'detail');

        /* Fixed receiver, retry: delivered. */
        rec.mode = () => 'ok';
        await page.click(`${sel} [data-action="retry"]`);
        await waitCell(page, sel, 'status', 'Delivered', 15000);
        assert.ok(rec.ids('/orders').has(payload.id));
        await waitCell(page, `tr[data-webhook="${hook.id}"]`, 'delivered_per_min', '1');
        await waitCell(page, `tr[data-webhook="${hook.id}"]`, 'dead', '0');
        assert.equal(await page.locator(`${sel} [data-action="retry"]`).isVisible(), false);

        /* Another one fails; discarded, it leaves the list and is never sent. */
        rec.mode = () => 'fail';
        const other = await stack.buyer();
        await other.call({ type: 'hold', show: 'demo', seats: [s2] });
        await page.waitForFunction(() => document.querySelectorAll('#deliveries-body tr').length === 2, null, { timeout: 10000 });
        const row2 = await page.getAttribute('#deliveries-body tr', 'data-key');
        assert.notEqual(row2, row);
        const sel2 = `#deliveries-body tr[data-key="${row2}"]`;
        await waitCell(page, sel2, 'status', 'Dead', 15000);
        await page.click(`${sel2} [data-action="discard"]`);
        await page.waitForFunction((s) => !document.querySelector(s), sel2, { timeout: 5000 });
        const r = await stack.api('GET', `/api/deliveries/${row2}`, { cookie });
        assert.equal(r.status, 404);
        /* It stays gone across the next updates. */
        await page.waitForFunction(() => document.querySelector('#updated').textContent !== '', null);
        const before = await page.textContent('#updated');
        await page.waitForFunction((b) => document.querySelector('#updated').textContent !== b, before, { timeout: 5000 });
        assert.equal(await page.locator(sel2).count(), 0);
        assert.deepEqual(page.problems, []);
    } finally {
        await admin.context.close();
        await stack.api('DELETE', `/api/webhooks/${hook.id}`, { cookie });
        await rec.stop();
    }
});

it('a box-office user is refused, by the page and by the WebSocket', async () => {
    await stack.addUser('clerk', 'boxoffice', 'clerk password 123');
    const clerk = await openAdmin('clerk', 'clerk password 123');
    try {
        const { page } = clerk;
        await page.waitForSelector('#forbidden', { state: 'visible' });
        assert.match(await page.textContent('#forbidden-text'), /administrators/);
        assert.equal(await page.locator('#app').isVisible(), false);
        /* The page's own check aside, the server refuses the subscription. */
        const reply = await page.evaluate(() => new Promise((resolve) => {
            const ws = new WebSocket(`ws://${location.host}/ws`, 'seatmap.v1');
            ws.onopen = () => {
                ws.send(JSON.stringify({ type: 'hello', id: 1 }));
                ws.send(JSON.stringify({ type: 'admin', id: 2 }));
            };
            ws.onmessage = (ev) => {
                const m = JSON.parse(ev.data);
                if (m.id !== 2) return;
                resolve(m);
                ws.close();
            };
        }));
        assert.equal(reply.type, 'error');
        assert.equal(reply.code, 'forbidden');
        await shot(page, 'admin-forbidden');
    } finally {
        await clerk.context.close();
    }
});
