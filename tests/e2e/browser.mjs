/*
 * browser.mjs - helpers for the end-to-end tests: headless Debian Chromium driven by
 * playwright-core, pages of a REAL seatmapd started by tests/lib/stack.mjs, screenshots.
 * Not here: the tests themselves (tests/e2e/*.test.mjs) or any server mock.
 *
 *   launch() -> browser                       headless /usr/bin/chromium ($CHROMIUM overrides)
 *   openSuite(stackOpts) -> {stack, layout, browser}   a real stack and a browser for a file;
 *   closeSuite({stack, browser})              ... closed again in its after()
 *   openBuyer(browser, baseUrl, show, opts)   new context (= a new buyer) on /?show=...,
 *                                             waits for the live snapshot -> {context, page}
 *   openBoxOffice(browser, baseUrl, stack)    new context, signs in as stack.staff -> {context, page}
 *   seatKind(page, id) -> 'empty'|'pending'|'booked'|'mine'|'selected'
 *   waitSeat(page, id, kind, timeoutMs)       until the map shows that kind; returns elapsed ms
 *   clickSeat(page, id)                       a real mouse click on the seat's pixels
 *   holdRef(page) -> text of the big hold code (or '')
 *   shot(page, name)                          tests/e2e/screenshots/<name>.png
 *   pickSeats(layout, n, pred)                n seat ids, spread out, for this test only
 */
import { chromium } from 'playwright-core';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startStack } from '../lib/stack.mjs';

export const SCREENSHOTS = path.join(path.dirname(fileURLToPath(import.meta.url)), 'screenshots');

export async function launch() {
    return chromium.launch({
        executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
        headless: true,
        args: [
            '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
            '--disable-background-networking', '--disable-component-update', '--disable-sync',
        ],
    });
}

/* A test file's real stack (startStack(stackOpts)), its demo layout and a browser. */
export async function openSuite(stackOpts) {
    const stack = await startStack(stackOpts);
    try {
        return { stack, layout: await stack.layout(), browser: await launch() };
    } catch (e) {
        await stack.stop();
        throw e;
    }
}

export async function closeSuite({ stack, browser }) {
    if (browser) await browser.close();
    if (stack) await stack.stop();
}

/* Collects page errors and CSP violations so a test can assert there were none. */
function watchProblems(page) {
    const problems = [];
    page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
    page.on('console', (m) => {
        if (m.type() === 'error' && !/status of (401|404|409|503)/.test(m.text())) problems.push(`console: ${m.text()}`);
    });
    page.problems = problems;
    return problems;
}

/* wire: what the page's WebSocket received, {binary: [sizes], text: count}
 * (the pages speak seatmap.v2: snapshots and deltas are binary). */
export async function openBuyer(browser, baseUrl, show = 'demo', { viewport = { width: 1360, height: 860 } } = {}) {
    const context = await browser.newContext({ viewport });
    const page = await context.newPage();
    const wire = { binary: [], text: 0 };
    watchProblems(page);
    page.on('websocket', (ws) =>
        ws.on('framereceived', (f) => (typeof f.payload === 'string' ? wire.text++ : wire.binary.push(f.payload.length))),
    );
    await page.goto(`${baseUrl}/?show=${encodeURIComponent(show)}`);
    await waitLive(page);
    return { context, page, wire };
}

/* Until the connection pill says live and the map has had its snapshot. */
export async function waitLive(page, timeoutMs = 10000) {
    await page.waitForFunction(
        () => {
            const m = document.querySelector('#map')?.seatmap;
            return document.querySelector('#conn')?.dataset.state === 'live' && m && m.n > 0 && m.loading.hidden;
        },
        null,
        { timeout: timeoutMs },
    );
}

export async function openBoxOffice(browser, baseUrl, stack, { viewport = { width: 1360, height: 1000 } } = {}) {
    const context = await browser.newContext({ viewport });
    const page = await context.newPage();
    watchProblems(page);
    await page.goto(`${baseUrl}/boxoffice`);
    await page.waitForSelector('#login-form', { state: 'visible' });
    await page.fill('#username', stack.staff.user);
    await page.fill('#password', stack.staff.password);
    await page.click('#login-submit');
    await page.waitForSelector('#app', { state: 'visible' });
    await waitLive(page);
    return { context, page };
}

export function seatKind(page, id) {
    return page.evaluate((sid) => {
        const m = document.querySelector('#map').seatmap;
        const i = m.seatIndex(sid);
        return i < 0 ? null : m.kindOf(i);
    }, id);
}

export async function waitSeat(page, id, kind, timeoutMs = 5000) {
    const t0 = Date.now();
    await page.waitForFunction(
        ([sid, k]) => {
            const m = document.querySelector('#map').seatmap;
            return m.kindOf(m.seatIndex(sid)) === k;
        },
        [id, kind],
        { timeout: timeoutMs, polling: 20 },
    );
    return Date.now() - t0;
}

/* Resolves after the page has drawn its next two animation frames (a zoom or
 * pan the page just started has been painted). */
export function nextFrames(page) {
    return page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(() => r()))));
}

export async function clickSeat(page, id, minPx = 14) {
    const p = await page.evaluate(([sid, px]) => document.querySelector('#map').seatmap.screenPoint(sid, px), [id, minPx]);
    if (!p) throw new Error(`no seat ${id} on the page`);
    await nextFrames(page); // the zoom/pan that brought it into view is drawn
    const q = await page.evaluate((sid) => document.querySelector('#map').seatmap.screenPoint(sid), id);
    await page.mouse.click(q.x, q.y);
}

export async function holdRef(page) {
    const box = page.locator('#hold-box');
    if (!(await box.isVisible())) return '';
    return (await page.locator('#hold-ref').textContent()).trim();
}

export async function shot(page, name) {
    mkdirSync(SCREENSHOTS, { recursive: true });
    await page.screenshot({ path: path.join(SCREENSHOTS, `${name}.png`) });
}

/* n seats of the layout that satisfy pred, taken from the middle rows of sections. */
export function pickSeats(layout, n, pred = () => true, skip = 0) {
    const out = [];
    let seen = 0;
    for (const s of layout.seats) {
        if (!pred(s)) continue;
        if (seen++ < skip) continue;
        out.push(s.id);
        if (out.length === n) break;
    }
    if (out.length < n) throw new Error(`only ${out.length} seats match`);
    return out;
}
