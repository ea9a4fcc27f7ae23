/*
 * outage.test.mjs - what buyers and box-office staff see when Redis (the hold store) dies
 * (SIGKILL) and comes back empty, in headless Chromium against a real seatmapd + Redis: a plain
 * "temporarily unavailable" message instead of a hold, a map that stays usable, holds and live
 * updates working again within seconds, a walk-up sale refused clearly and then sold, and
 * booked seats still booked after Redis restarts empty. Not here: server restarts
 * (buyer.test.mjs), expiry (expiry.test.mjs).
 */
import { after, before } from 'node:test';
import assert from 'node:assert/strict';
import { bookingsOf, testWithLogs, waitUntil } from '../lib/stack.mjs';
import {
    clickSeat, closeSuite, openBoxOffice, openBuyer, openSuite, pickSeats, seatKind, shot, waitSeat,
} from './browser.mjs';

const RECOVER_MS = 8000; // Redis back -> holds and sales work again (server backoff starts at 100 ms)
let stack;
let browser;
let layout;
let redisDown = false;
const it = testWithLogs(() => stack);

before(async () => {
    ({ stack, layout, browser } = await openSuite({ holdTtl: 120 }));
});

after(() => closeSuite({ stack, browser }));

async function killRedis() {
    redisDown = true;
    await stack.redis.kill('SIGKILL');
}

async function restartRedis() {
    await stack.redis.restart(); // same port, empty
    redisDown = false;
}

/* Page errors and CSP violations. */
const problems = (page) => page.problems;

/* The map is drawn and has its seats: the page did not fall over. */
async function assertMapUsable(page) {
    const ok = await page.evaluate(() => {
        const m = document.querySelector('#map').seatmap;
        const c = document.querySelector('#map canvas');
        return m.n > 0 && m.loading.hidden && (!c || c.width > 0);
    });
    assert.ok(ok, 'the seat map is still drawn');
}

/* Clicks a seat on a buyer page; resolves 'mine' or the text of the toast it caused. */
async function tryHold(page, seat) {
    await page.evaluate(() => document.querySelectorAll('.toast').forEach((t) => t.remove()));
    await clickSeat(page, seat);
    const h = await page.waitForFunction(
        (sid) => {
            const m = document.querySelector('#map').seatmap;
            if (m.kindOf(m.seatIndex(sid)) === 'mine') return 'mine';
            const t = document.querySelector('.toast .toast-text');
            return t ? t.textContent : false;
        },
        seat,
        { timeout: 6000, polling: 20 },
    );
    return h.jsonValue();
}

it('Redis down: a buyer is told booking is unavailable; back: holds and live updates resume', async () => {
    const a = await openBuyer(browser, stack.baseUrl);
    const b = await openBuyer(browser, stack.baseUrl);
    try {
        const [s1, s2] = pickSeats(layout, 2, () => true, 30);
        await killRedis();
        const said = await tryHold(a.page, s1);
        assert.match(said, /Booking is temporarily unavailable\. Please try again in a moment\./);
        assert.ok(await a.page.locator('.toast >> text=temporarily unavailable').isVisible());
        assert.equal(await seatKind(a.page, s1), 'empty', 'the seat did not become mine');
        assert.equal(await a.page.locator('#hold-box').isVisible(), false, 'no hold panel');
        await assertMapUsable(a.page);
        await assertMapUsable(b.page);
        await shot(a.page, 'outage-buyer');

        // Redis comes back empty: within a few seconds a click holds the seat again.
        await restartRedis();
        const t0 = Date.now();
        await waitUntil(async () => (await tryHold(a.page, s1)) === 'mine', RECOVER_MS, 'a hold after Redis is back');
        const seenByB = await waitSeat(b.page, s1, 'pending', 1000);
        assert.ok(seenByB < 1000, `B saw the hold after ${seenByB} ms`);
        assert.ok(Date.now() - t0 < RECOVER_MS);
        await waitSeat(a.page, s1, 'mine', 1000);

        // Both pages stay live without a reload: B's hold reaches A too.
        assert.equal(await tryHold(b.page, s2), 'mine');
        await waitSeat(a.page, s2, 'pending', 1000);
        await assertMapUsable(a.page);
        assert.deepEqual(problems(a.page), []);
        assert.deepEqual(problems(b.page), []);
    } finally {
        if (redisDown) await restartRedis();
        await a.context.close();
        await b.context.close();
    }
});

it('Redis down: a walk-up sale is refused clearly; back: it sells and stays booked', async () => {
    const staff = await openBoxOffice(browser, stack.baseUrl, stack);
    const watcher = await openBuyer(browser, stack.baseUrl);
    let late = null;
    try {
        const seats = pickSeats(layout, 2, () => true, 60);
        await killRedis();
        for (const s of seats) {
            await clickSeat(staff.page, s);
            await waitSeat(staff.page, s, 'selected', 2000);
        }
        await staff.page.click('#walkup-sell');
        const err = staff.page.locator('#walkup-error');
        await err.waitFor({ state: 'visible', timeout: 6000 });
        const text = await err.textContent();
        assert.match(text, /unavailable/i, `walk-up error names the outage: ${text}`);
        assert.match(text, /try again/i, `walk-up error says to try again: ${text}`);
        assert.match(text, /NOT confirmed/, `walk-up error says nothing is confirmed: ${text}`);
        for (const s of seats) assert.equal(await seatKind(watcher.page, s), 'empty');
        await assertMapUsable(staff.page);
        await shot(staff.page, 'outage-boxoffice');

        // Redis back: pressing Sell again sells (same payment reference: never twice).
        await restartRedis();
        const sold = staff.page.locator('.toast >> text=/Sold: booking/');
        await waitUntil(
            async () => {
                if (!(await staff.page.locator('#walkup-sell').isEnabled())) return false;
                await staff.page.click('#walkup-sell');
                await staff.page.waitForFunction(
                    () => !document.querySelector('#walkup-sell').disabled || document.querySelector('.toast.ok'),
                    null,
                    { timeout: 6000, polling: 20 },
                );
                return sold.isVisible();
            },
            RECOVER_MS,
            'the walk-up sale after Redis is back',
        );
        for (const s of seats) await waitSeat(watcher.page, s, 'booked', 1000);

        const r = await stack.api('GET', '/api/shows/demo/bookings', { cookie: await stack.login() });
        assert.equal(bookingsOf(r.json).filter((x) => x.seats.includes(seats[0])).length, 1, 'sold once');
        assert.deepEqual(problems(staff.page), []);
        assert.deepEqual(problems(watcher.page), []);

        // Redis restarts empty once more: the sold seats are booked again (from the database),
        // on the open page and on a page opened afterwards.
        await killRedis();
        await restartRedis();
        await waitUntil(async () => {
            for (const s of seats) if (!(await stack.redis.cli('HGET', 'sm:{demo}:booked', s))) return false;
            return true;
        }, RECOVER_MS, 'bookings back in the new Redis');
        late = await openBuyer(browser, stack.baseUrl);
        for (const s of seats) {
            await waitSeat(watcher.page, s, 'booked', 1000);
            await waitSeat(late.page, s, 'booked', 1000);
        }
    } finally {
        if (redisDown) await restartRedis();
        await staff.context.close();
        await watcher.context.close();
        if (late) await late.context.close();
    }
});
