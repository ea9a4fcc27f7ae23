/*
 * restart.test.mjs - a buyer's page during a rolling restart (docs/operations.md,
 * "Restarts"), in headless Chromium: the old seatmapd closes the page's WebSocket with 1001
 * "going away", the page opens a new one at once (no backoff), is live again on the new
 * process, keeps its hold, and sees changes made there. Not here: the traffic and
 * no-lost-change checks (tests/integration/restart.test.mjs).
 */
import { after, before } from 'node:test';
import assert from 'node:assert/strict';
import { testWithLogs, waitUntil } from '../lib/stack.mjs';
import { clickSeat, closeSuite, openSuite, pickSeats, waitLive, waitSeat } from './browser.mjs';

let stack;
let browser;
let layout;
const it = testWithLogs(() => stack);

before(async () => {
    ({ stack, layout, browser } = await openSuite({ holdTtl: 120, extraArgs: ['--reuse-port'] }));
});

after(() => closeSuite({ stack, browser }));

/* Records, in the page, when each WebSocket is made and how it closes. */
function recordSockets() {
    const Native = window.WebSocket;
    window.__sockets = [];
    window.WebSocket = function (...args) {
        const ws = new Native(...args);
        const rec = { made: performance.now(), closed: null, code: null };
        window.__sockets.push(rec);
        ws.addEventListener('close', (ev) => {
            rec.closed = performance.now();
            rec.code = ev.code;
        });
        return ws;
    };
    window.WebSocket.prototype = Native.prototype;
    Object.assign(window.WebSocket, { CONNECTING: 0, OPEN: 1, CLOSING: 2, CLOSED: 3 });
}

it('the page reconnects at once on 1001, keeps its hold and stays live', async () => {
    const context = await browser.newContext({ viewport: { width: 1360, height: 860 } });
    await context.addInitScript(recordSockets);
    const page = await context.newPage();
    const problems = [];
    page.on('pageerror', (e) => problems.push(e.message));
    await page.goto(`${stack.baseUrl}/?show=demo`);
    await waitLive(page);
    const [mine, theirs] = pickSeats(layout, 2, () => true, 40);
    await clickSeat(page, mine);
    await waitSeat(page, mine, 'mine');

    const A = stack.server;
    const B = await stack.addServer({ port: A.port });
    await waitUntil(() => /seatmapd: listening on/.test(B.stderr()), 15000, 'the new process listening');
    assert.deepEqual(await A.kill('SIGTERM'), { code: 0, signal: null });

    const socks = await page.waitForFunction(
        () => window.__sockets.length >= 2 && window.__sockets[0].code !== null && window.__sockets,
        null,
        { timeout: 5000, polling: 20 },
    ).then((h) => h.jsonValue());
    assert.equal(socks[0].code, 1001, 'closed with going away');
    const gap = socks[1].made - socks[0].closed;
    assert.ok(gap < 150, `a new WebSocket ${gap.toFixed(0)} ms after the close (the backoff starts at 200 ms)`);
    await waitLive(page, 5000);
    await waitSeat(page, mine, 'mine'); /* the hold survived, and the page knows it is ours */

    /* a change made on the new process reaches the page */
    const other = await stack.buyer();
    await other.call({ type: 'hold', show: 'demo', seats: [theirs] });
    await waitSeat(page, theirs, 'pending');
    await other.close();
    assert.deepEqual(problems, []);
    await context.close();
    stack.server = B;
});
