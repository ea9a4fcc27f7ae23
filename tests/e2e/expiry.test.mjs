/*
 * expiry.test.mjs - holds that run out, seen in real browsers against a real seatmapd + Redis
 * with a 4-second hold TTL: the seat returns to free on both buyers' screens, the owner is told
 * plainly, and the box office gets a clear message when the hold expires before payment.
 */
import { after, before } from 'node:test';
import assert from 'node:assert/strict';
import { testWithLogs } from '../lib/stack.mjs';
import {
    clickSeat, closeSuite, holdRef, openBoxOffice, openBuyer, openSuite, pickSeats, waitSeat,
} from './browser.mjs';

const TTL_S = 4;
let stack;
let browser;
let layout;
const it = testWithLogs(() => stack);

before(async () => {
    ({ stack, layout, browser } = await openSuite({ holdTtl: TTL_S }));
});

after(() => closeSuite({ stack, browser }));

it('a hold expires on screen for the owner and for other buyers', async () => {
    const a = await openBuyer(browser, stack.baseUrl);
    const b = await openBuyer(browser, stack.baseUrl);
    try {
        const [seat] = pickSeats(layout, 1, () => true, 40);
        await clickSeat(a.page, seat);
        await waitSeat(a.page, seat, 'mine', 3000);
        await waitSeat(b.page, seat, 'pending', 1000);
        assert.match(await holdRef(a.page), /^[A-Z0-9]{6}$/);

        // Both screens show the seat free again within a second of the deadline.
        await waitSeat(b.page, seat, 'empty', (TTL_S + 1.5) * 1000);
        await waitSeat(a.page, seat, 'empty', 1500);
        await a.page.waitForSelector('#notice >> text=Your hold has expired', { timeout: 2000 });
        assert.equal(await holdRef(a.page), '');
        assert.deepEqual(a.page.problems, []);
    } finally {
        await a.context.close();
        await b.context.close();
    }
});

it('the box office is told when a hold expired before payment', async () => {
    const buyer = await openBuyer(browser, stack.baseUrl);
    const staff = await openBoxOffice(browser, stack.baseUrl, stack);
    try {
        const [seat] = pickSeats(layout, 1, () => true, 60);
        await clickSeat(buyer.page, seat);
        await waitSeat(buyer.page, seat, 'mine', 3000);
        const ref = await holdRef(buyer.page);
        await staff.page.fill('#hold-search', ref);
        await staff.page.waitForSelector('#pay-box', { state: 'visible', timeout: 3000 });
        assert.equal((await staff.page.locator('#pay-ref').textContent()).trim(), ref);
        // The cashier is too slow.
        await waitSeat(staff.page, seat, 'empty', (TTL_S + 1.5) * 1000);
        await staff.page.waitForSelector('#pay-error >> text=/expired before payment/', { timeout: 4000 });
        assert.equal(await staff.page.locator('#pay-form').isVisible(), false, 'no confirm button for a dead hold');
    } finally {
        await buyer.context.close();
        await staff.context.close();
    }
});
