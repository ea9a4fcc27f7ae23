/*
 * buyer.test.mjs - the seat map page (/) in headless Chromium against a real seatmapd + Redis:
 * two buyers see each other's holds within a second, release, "seat just taken", hold limit,
 * keyboard-only hold with accessible names, reload keeps the hold, reconnect after a server
 * restart resynchronises. Not here: box office (boxoffice.test.mjs), expiry (expiry.test.mjs),
 * the stadium layout (stadium.test.mjs).
 */
import { after, before } from 'node:test';
import assert from 'node:assert/strict';
import { testWithLogs } from '../lib/stack.mjs';
import {
    clickSeat, closeSuite, holdRef, openBuyer, openSuite, pickSeats, seatKind, shot, waitLive, waitSeat,
} from './browser.mjs';

let stack;
let browser;
let layout;
const it = testWithLogs(() => stack);

before(async () => {
    ({ stack, layout, browser } = await openSuite({ holdTtl: 120 }));
});

after(() => closeSuite({ stack, browser }));

const row = (r) => (s) => s.section === layout.seats[0].section && s.row === r;

it('two buyers see each other’s holds and releases within a second', async () => {
    const a = await openBuyer(browser, stack.baseUrl);
    const b = await openBuyer(browser, stack.baseUrl);
    try {
        const rowName = [...new Set(layout.seats.map((s) => s.row))][4];
        const [s1, s2, s3] = pickSeats(layout, 3, row(rowName), 3);

        await clickSeat(a.page, s1);
        await waitSeat(a.page, s1, 'mine', 3000);
        const seenByB = await waitSeat(b.page, s1, 'pending', 1000);
        assert.ok(seenByB < 1000, `B saw A's hold after ${seenByB} ms`);
        const ref = await holdRef(a.page);
        assert.match(ref, /^[A-Z0-9]{6}$/, 'A shows a 6-character hold code');
        assert.equal(await holdRef(b.page), '', 'B holds nothing');

        await clickSeat(b.page, s2);
        await waitSeat(b.page, s2, 'mine', 3000);
        await waitSeat(a.page, s2, 'pending', 1000);

        // B clicks A's seat: a plain explanation, no hold.
        await clickSeat(b.page, s1);
        await b.page.waitForSelector('.toast >> text=/holding that seat|just taken/');
        assert.equal(await seatKind(b.page, s1), 'pending');

        // A adds a seat: same code, two seats, a total, a running countdown.
        await clickSeat(a.page, s3);
        await waitSeat(a.page, s3, 'mine', 3000);
        assert.equal(await holdRef(a.page), ref, 'seats added later share the hold');
        assert.equal(await a.page.locator('#hold-seats li').count(), 2);
        assert.match(await a.page.locator('#hold-total').textContent(), /\d/);
        assert.match(await a.page.locator('#countdown-time').textContent(), /^\d+:\d\d$/);
        await shot(a.page, 'buyer');

        // A releases a seat by clicking it again: B sees it free within a second.
        await clickSeat(a.page, s1);
        await waitSeat(a.page, s1, 'empty', 3000);
        const freed = await waitSeat(b.page, s1, 'empty', 1000);
        assert.ok(freed < 1000);

        // Release all from the panel.
        await a.page.click('#release-all');
        await waitSeat(b.page, s3, 'empty', 1000);
        await a.page.waitForSelector('#hold-box', { state: 'hidden' });
        assert.deepEqual(a.page.problems, []);
        assert.deepEqual(b.page.problems, []);
    } finally {
        await a.context.close();
        await b.context.close();
    }
});

it('keyboard only: Tab to the map, arrows, Enter holds; every seat has an accessible name', async () => {
    const { context, page } = await openBuyer(browser, stack.baseUrl);
    try {
        let focused = false;
        for (let i = 0; i < 15 && !focused; i++) {
            await page.keyboard.press('Tab');
            focused = await page.evaluate(() => document.activeElement?.classList.contains('seatmap-cursor'));
        }
        assert.ok(focused, 'Tab reaches the seat map');
        const label0 = await page.evaluate(() => document.activeElement.getAttribute('aria-label'));
        assert.match(label0, /row .+, seat \d+, .+ \S*\d.*, available/i, `accessible name: ${label0}`);

        await page.keyboard.press('ArrowRight');
        await page.keyboard.press('ArrowRight');
        await page.keyboard.press('ArrowDown');
        const seatId = await page.evaluate(() => document.activeElement.dataset.seat);
        assert.ok(seatId, 'a seat has keyboard focus');
        await page.keyboard.press('Enter');
        await waitSeat(page, seatId, 'mine', 3000);
        await page.waitForFunction(() => /held by you/.test(document.activeElement.getAttribute('aria-label')));
        assert.match(await holdRef(page), /^[A-Z0-9]{6}$/);

        // Focus is visible: the focused seat has an outline drawn around it.
        const outline = await page.evaluate(() => getComputedStyle(document.activeElement).outlineStyle);
        assert.notEqual(outline, 'none');

        // Enter again releases.
        await page.keyboard.press('Enter');
        await waitSeat(page, seatId, 'empty', 3000);

        // Every seat's name carries section, row, number, price and state.
        const bad = await page.evaluate(() => {
            const m = document.querySelector('#map').seatmap;
            const out = [];
            for (let i = 0; i < m.n; i++) {
                const d = m.describe(i);
                const s = m.seat(i);
                if (!d.includes(`row ${s.row}`) || !d.includes(`seat ${s.number}`) || !/\d/.test(d) || !/(available|held|booked)/.test(d)) out.push(d);
            }
            return out.slice(0, 3);
        });
        assert.deepEqual(bad, []);
        await shot(page, 'keyboard');
    } finally {
        await context.close();
    }
});

it('a reload keeps the hold; the hold limit is explained', async () => {
    const { context, page } = await openBuyer(browser, stack.baseUrl);
    try {
        const rowName = [...new Set(layout.seats.map((s) => s.row))][7];
        const seats = pickSeats(layout, 11, row(rowName));
        await clickSeat(page, seats[0]);
        await waitSeat(page, seats[0], 'mine', 3000);
        const ref = await holdRef(page);

        await page.reload();
        await waitLive(page);
        await waitSeat(page, seats[0], 'mine', 3000);
        assert.equal(await holdRef(page), ref, 'same hold after reload (buyer token in sessionStorage)');

        const max = Number(await page.locator('#max-seats').textContent()) || 10;
        for (let i = 1; i < max; i++) {
            await clickSeat(page, seats[i]);
            await waitSeat(page, seats[i], 'mine', 3000);
        }
        await clickSeat(page, seats[max]);
        await page.waitForSelector(`.toast >> text=/at most ${max} seats/`);
        assert.equal(await seatKind(page, seats[max]), 'empty');
        await page.click('#release-all');
        await page.waitForSelector('#hold-box', { state: 'hidden' });
    } finally {
        await context.close();
    }
});

it('after a server restart the page reconnects, keeps the hold and resynchronises', async () => {
    const a = await openBuyer(browser, stack.baseUrl);
    const b = await openBuyer(browser, stack.baseUrl);
    try {
        const rowName = [...new Set(layout.seats.map((s) => s.row))][9];
        const [s1, s2] = pickSeats(layout, 2, row(rowName), 2);
        await clickSeat(a.page, s1);
        await waitSeat(a.page, s1, 'mine', 3000);
        const ref = await holdRef(a.page);

        await stack.server.kill('SIGKILL');
        await a.page.waitForFunction(() => document.querySelector('#conn').dataset.state !== 'live', null, { timeout: 5000 });
        assert.match(await a.page.locator('#conn').textContent(), /retrying|Reconnecting|Connecting/i);
        await stack.server.restart();

        await waitLive(a.page, 20000);
        await waitLive(b.page, 20000);
        assert.equal(await holdRef(a.page), ref, 'the hold survived the restart');
        await waitSeat(b.page, s1, 'pending', 3000);

        // Changes after the reconnect still arrive live.
        await clickSeat(b.page, s2);
        await waitSeat(b.page, s2, 'mine', 3000);
        await waitSeat(a.page, s2, 'pending', 1000);
    } finally {
        await a.context.close();
        await b.context.close();
    }
});
