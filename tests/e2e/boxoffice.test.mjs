/*
 * boxoffice.test.mjs - the box-office page (/boxoffice) in headless Chromium against a real
 * seatmapd + Redis: sign-in, find a hold by the code the buyer reads out, confirm payment
 * (a double click books once) and the buyer's page turns booked; walk-up sale; cancel with
 * confirmation; CSV export; an expired session asks to sign in again.
 */
import { after, before } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { bookingsOf, testWithLogs } from '../lib/stack.mjs';
import {
    clickSeat, closeSuite, holdRef, openBoxOffice, openBuyer, openSuite, pickSeats, seatKind, shot, waitSeat,
} from './browser.mjs';

let stack;
let browser;
let layout;
let cookie;
const it = testWithLogs(() => stack);

before(async () => {
    ({ stack, layout, browser } = await openSuite({ holdTtl: 300 }));
    cookie = await stack.login();
});

after(() => closeSuite({ stack, browser }));

/* Waits until selector matches n elements: a list fed by live updates may
 * still be one message behind whatever the test waited for before. On the
 * deadline it fails with the count it last saw. */
async function waitCount(page, selector, n, message, timeoutMs = 3000) {
    try {
        await page.waitForFunction(([sel, want]) => document.querySelectorAll(sel).length === want, [selector, n], {
            timeout: timeoutMs,
            polling: 20,
        });
    } catch {
        assert.equal(await page.locator(selector).count(), n, `${message} (after ${timeoutMs} ms)`);
    }
}

async function bookings() {
    const r = await stack.api('GET', '/api/shows/demo/bookings', { cookie });
    assert.equal(r.status, 200, r.text);
    return bookingsOf(r.json);
}

it('a wrong password is refused in plain words', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    try {
        await page.goto(`${stack.baseUrl}/boxoffice`);
        await page.fill('#username', stack.staff.user);
        await page.fill('#password', 'not the password');
        await page.click('#login-submit');
        await page.waitForSelector('#login-error >> text=Wrong user name or password');
        assert.equal(await page.locator('#app').isVisible(), false);
    } finally {
        await context.close();
    }
});

it('staff find the hold by its code, confirm once, and the buyer sees booked', async () => {
    const buyer = await openBuyer(browser, stack.baseUrl);
    const other = await openBuyer(browser, stack.baseUrl);
    const staff = await openBoxOffice(browser, stack.baseUrl, stack);
    try {
        const seats = pickSeats(layout, 2, () => true, 100);
        for (const s of seats) {
            await clickSeat(buyer.page, s);
            await waitSeat(buyer.page, s, 'mine', 3000);
        }
        const ref = await holdRef(buyer.page);
        // A second, unrelated hold so that the search has something to filter out.
        const [decoy] = pickSeats(layout, 1, () => true, 140);
        await clickSeat(other.page, decoy);
        await waitSeat(other.page, decoy, 'mine', 3000);

        await staff.page.waitForSelector(`.hold-item[data-ref="${ref}"]`, { timeout: 3000 });
        // The decoy's hold may reach the box office a moment after the buyer's.
        await waitCount(staff.page, '.hold-item', 2, 'both holds are listed');
        await staff.page.fill('#hold-search', ref.slice(0, 3).toLowerCase());
        await staff.page.waitForFunction((r) => [...document.querySelectorAll('.hold-item')].every((b) => b.dataset.ref.startsWith(r.slice(0, 3))), ref);
        await staff.page.fill('#hold-search', ref);
        await staff.page.waitForSelector('#pay-box', { state: 'visible' });
        assert.equal((await staff.page.locator('#pay-ref').textContent()).trim(), ref);
        assert.equal(await staff.page.locator('#pay-seats li').count(), 2);
        assert.match(await staff.page.locator('#pay-countdown-time').textContent(), /^\d+:\d\d$/);
        await shot(staff.page, 'boxoffice');

        // Card payment with a terminal receipt number; a double click.
        await staff.page.check('input[name="pay-method"][value="card"]');
        await staff.page.fill('#pay-reference', '004512');
        await staff.page.dblclick('#pay-confirm');
        await staff.page.waitForSelector('.toast >> text=/Paid: booking/');

        for (const s of seats) {
            await waitSeat(buyer.page, s, 'booked', 2000);
            await waitSeat(other.page, s, 'booked', 2000);
        }
        await buyer.page.waitForSelector('#notice >> text=your seats are booked', { timeout: 2000 });
        assert.equal(await holdRef(buyer.page), '');
        await shot(buyer.page, 'buyer-booked');

        const mine = (await bookings()).filter((b) => b.payment_ref === 'CARD-004512');
        assert.equal(mine.length, 1, 'one booking, not two');
        assert.deepEqual([...mine[0].seats].sort(), [...seats].sort());
        await staff.page.waitForSelector(`#bookings-body tr[data-booking="${mine[0].id}"]`);
        // The bookings table and the hold list are updated by different messages.
        await waitCount(staff.page, '.hold-item', 1, 'the paid hold left the list');
    } finally {
        await buyer.context.close();
        await other.context.close();
        await staff.context.close();
    }
});

it('walk-up sale, cancel with confirmation, CSV export', async () => {
    const staff = await openBoxOffice(browser, stack.baseUrl, stack);
    const watcher = await openBuyer(browser, stack.baseUrl);
    try {
        const seats = pickSeats(layout, 3, () => true, 200);
        for (const s of seats) {
            await clickSeat(staff.page, s);
            await waitSeat(staff.page, s, 'selected', 2000);
        }
        await staff.page.waitForSelector('#walkup-box', { state: 'visible' });
        assert.match(await staff.page.locator('#walkup-sell').textContent(), /Sell 3 seats/);
        const payRef = (await staff.page.locator('#walkup-reference').inputValue()).trim();
        assert.match(payRef, /^CASH-/);
        await staff.page.click('#walkup-sell');
        await staff.page.waitForSelector('.toast >> text=/Sold: booking/');
        for (const s of seats) await waitSeat(watcher.page, s, 'booked', 1000);
        const b = (await bookings()).find((x) => x.payment_ref === payRef);
        assert.ok(b, 'the walk-up booking exists');
        assert.deepEqual([...b.seats].sort(), [...seats].sort());

        // CSV export contains the booking.
        await staff.page.waitForSelector(`#bookings-body tr[data-booking="${b.id}"]`);
        const [download] = await Promise.all([staff.page.waitForEvent('download'), staff.page.click('#export-csv')]);
        const csv = readFileSync(await download.path(), 'utf8');
        assert.match(csv.split('\r\n')[0], /^booking_id,show,seats,seat_count/);
        assert.ok(csv.includes(payRef), 'CSV lists the payment reference');
        assert.ok(csv.includes(seats[0]), 'CSV lists the seats');

        // Cancel: the dialog asks first; "Keep booking" changes nothing.
        const row = staff.page.locator(`#bookings-body tr[data-booking="${b.id}"]`);
        await row.locator('button').click();
        await staff.page.waitForSelector('#cancel-dialog[open]');
        await staff.page.click('#cancel-keep');
        await staff.page.waitForSelector('#cancel-dialog:not([open])', { state: 'attached' });
        assert.equal((await bookings()).find((x) => x.id === b.id).status, 'active', 'kept');
        assert.equal(await seatKind(watcher.page, seats[0]), 'booked');
        await row.locator('button').click();
        await staff.page.click('#cancel-confirm');
        await staff.page.waitForSelector('.toast >> text=/cancelled/');
        for (const s of seats) await waitSeat(watcher.page, s, 'empty', 1500);
        assert.deepEqual(staff.page.problems, []);
    } finally {
        await staff.context.close();
        await watcher.context.close();
    }
});

it('an expired session asks to sign in again and keeps the page', async () => {
    const staff = await openBoxOffice(browser, stack.baseUrl, stack);
    try {
        await staff.context.clearCookies();
        await staff.page.waitForSelector('#login-why >> text=session has expired', { timeout: 8000 });
        await staff.page.fill('#username', stack.staff.user);
        await staff.page.fill('#password', stack.staff.password);
        await staff.page.click('#login-submit');
        await staff.page.waitForSelector('#app', { state: 'visible' });
    } finally {
        await staff.context.close();
    }
});

