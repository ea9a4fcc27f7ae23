/*
 * best.test.mjs - "Best available" on both pages in headless Chromium against a real seatmapd
 * + Redis: a buyer asks for seats with the keyboard only and gets them held, together,
 * highlighted on the map and listed in the hold; another buyer sees them taken; when no group
 * is big enough the page says so with the largest group and offers the ways forward; the box
 * office holds the best seats for a customer at the counter and takes the payment.
 */
import { after, before } from 'node:test';
import assert from 'node:assert/strict';
import { bookingsOf, testWithLogs } from '../lib/stack.mjs';
import { closeSuite, holdRef, openBoxOffice, openBuyer, openSuite, seatKind, shot, waitSeat } from './browser.mjs';

let stack;
let browser;
let layout;
const byId = new Map();
const it = testWithLogs(() => stack);

before(async () => {
    ({ stack, layout, browser } = await openSuite({ holdTtl: 300 }));
    for (const s of layout.seats) byId.set(s.id, s);
});

after(() => closeSuite({ stack, browser }));

function adjacent(a, b) {
    return a.section === b.section && a.row === b.row && Math.abs(a.x - b.x) <= 1.01;
}

/* The seat ids of the buyer's hold list, in order along the row. */
async function heldSeats(page) {
    const ids = await page.locator('#hold-seats li').evaluateAll((lis) => lis.map((li) => li.dataset.seat));
    return ids.sort((a, b) => byId.get(a).x - byId.get(b).x);
}

it('a buyer asks with the keyboard and gets the best seats together, held and highlighted', async () => {
    const buyer = await openBuyer(browser, stack.baseUrl);
    const other = await openBuyer(browser, stack.baseUrl);
    try {
        const form = buyer.page.locator('#best-box form');
        assert.equal(await form.getAttribute('aria-labelledby'), await form.locator('h2').getAttribute('id'));
        // Keyboard only: the fields are reached by their labels' names, Enter submits.
        await buyer.page.getByLabel('Seats', { exact: true }).focus();
        await buyer.page.keyboard.press('Control+A');
        await buyer.page.keyboard.type('3');
        await buyer.page.keyboard.press('Tab');
        assert.equal(await buyer.page.evaluate(() => document.activeElement.id.endsWith('-category')), true);
        await buyer.page.getByLabel('Category').selectOption('premium');
        await buyer.page.getByLabel('Seats', { exact: true }).press('Enter');

        const message = buyer.page.locator('#best-box .notice');
        await buyer.page.waitForSelector('#best-box .notice.ok', { timeout: 5000 });
        assert.equal(await message.getAttribute('role'), 'status');
        assert.match(await message.textContent(), /Found 3 seats together: Stalls A\d+, Stalls A\d+, Stalls A\d+\./);
        assert.match(await holdRef(buyer.page), /^[A-Z0-9]{6}$/);

        const seats = await heldSeats(buyer.page);
        assert.equal(seats.length, 3);
        for (const id of seats) {
            assert.equal(byId.get(id).category, 'premium');
            assert.equal(await seatKind(buyer.page, id), 'mine');
        }
        assert.ok(adjacent(byId.get(seats[0]), byId.get(seats[1])) && adjacent(byId.get(seats[1]), byId.get(seats[2])), `together: ${seats}`);
        const lit = await buyer.page.evaluate(() => [...document.querySelector('#map').seatmap.highlighted].length);
        assert.equal(lit, 3, 'the picked seats are highlighted on the map');
        await shot(buyer.page, 'best-buyer');

        for (const id of seats) await waitSeat(other.page, id, 'pending', 3000);
        // The next buyer's best seats are the next best ones, not the same.
        await other.page.getByLabel('Seats', { exact: true }).fill('2');
        await other.page.getByLabel('Category').selectOption('premium');
        await other.page.getByRole('button', { name: 'Find best seats' }).click();
        await other.page.waitForSelector('#best-box .notice.ok', { timeout: 5000 });
        const theirs = await heldSeats(other.page);
        assert.equal(theirs.length, 2);
        assert.ok(theirs.every((id) => !seats.includes(id)));
        assert.deepEqual(buyer.page.problems, []);
    } finally {
        await buyer.context.close();
        await other.context.close();
    }
});

it('no group big enough: the page names the largest and offers the ways forward', async () => {
    // Restricted-view seats: blocks of 5 in the stalls' rows A and B, longer ones elsewhere;
    // those are sold, so no 6 sit together.
    const front = (x) => x.section === 'STALLS' && (x.row === 'A' || x.row === 'B');
    const sold = layout.seats.filter((x) => x.category === 'restricted' && !front(x)).map((x) => x.id);
    const sale = await stack.api('POST', '/api/shows/demo/bookings', {
        cookie: await stack.login(),
        json: { seats: sold, payment_ref: 'e2e-best-fill' },
    });
    assert.equal(sale.status, 201, sale.text);
    const buyer = await openBuyer(browser, stack.baseUrl);
    try {
        await buyer.page.getByLabel('Seats', { exact: true }).fill('6');
        await buyer.page.getByLabel('Category').selectOption('restricted');
        await buyer.page.getByRole('button', { name: 'Find best seats' }).click();
        await buyer.page.waitForSelector('#best-box .notice.warn', { timeout: 5000 });
        assert.match(await buyer.page.locator('#best-box .notice').textContent(),
            /There are no 6 seats together in category restricted; the most together is 5\./);
        assert.equal(await holdRef(buyer.page), '', 'nothing was held');
        // Focus moved to the first way forward; Tab reaches the second, Enter takes it.
        assert.equal(await buyer.page.evaluate(() => document.activeElement.textContent), 'Find 5 together');
        await buyer.page.keyboard.press('Tab');
        assert.equal(await buyer.page.evaluate(() => document.activeElement.textContent), 'Find 6 not together');
        await buyer.page.keyboard.press('Enter');
        await buyer.page.waitForSelector('#best-box .notice.ok', { timeout: 5000 });
        assert.match(await buyer.page.locator('#best-box .notice').textContent(), /Found 6 seats in more than one group/);
        const seats = await heldSeats(buyer.page);
        assert.equal(seats.length, 6);
        for (const id of seats) assert.equal(byId.get(id).category, 'restricted');
        assert.equal(await buyer.page.getByLabel('Seats together').isChecked(), false);
        await shot(buyer.page, 'best-scattered');
    } finally {
        await buyer.context.close();
    }
});

it('the box office holds the best seats for the customer at the counter and takes the payment', async () => {
    const staff = await openBoxOffice(browser, stack.baseUrl, stack);
    const watcher = await openBuyer(browser, stack.baseUrl);
    try {
        await staff.page.locator('#best-box').getByLabel('Seats', { exact: true }).fill('4');
        await staff.page.locator('#best-box').getByLabel('Category').selectOption('balcony');
        await staff.page.getByRole('button', { name: 'Find and hold' }).click();
        await staff.page.waitForSelector('#best-box .notice.ok', { timeout: 5000 });
        await staff.page.waitForSelector('#pay-box', { state: 'visible' });
        const ref = (await staff.page.locator('#pay-ref').textContent()).trim();
        assert.match(ref, /^[A-Z0-9]{6}$/);
        assert.equal(await staff.page.locator('#pay-seats li').count(), 4);
        const holds = await stack.api('GET', '/api/shows/demo/holds', { cookie: await stack.login() });
        const hold = holds.json.find((h) => h.ref === ref);
        assert.ok(hold, 'the hold exists');
        for (const id of hold.seats) {
            assert.equal(byId.get(id).category, 'balcony');
            await waitSeat(watcher.page, id, 'pending', 3000);
        }
        await shot(staff.page, 'best-boxoffice');
        await staff.page.click('#pay-confirm');
        await staff.page.waitForSelector('.toast >> text=/Paid: booking/');
        for (const id of hold.seats) await waitSeat(watcher.page, id, 'booked', 3000);
        const r = await stack.api('GET', '/api/shows/demo/bookings', { cookie: await stack.login() });
        assert.ok(bookingsOf(r.json).some((b) => b.hold === ref && b.seats.length === 4));
        assert.deepEqual(staff.page.problems, []);
    } finally {
        await staff.context.close();
        await watcher.context.close();
    }
});
