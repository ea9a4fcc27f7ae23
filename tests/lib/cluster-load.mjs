/*
 * cluster-load.mjs - a steady load of holds, releases, confirms (box office)
 * and expiries on the demo show, run around a fault of the Redis Cluster
 * (a failover, a slot migration), and the checks of what a user would
 * notice. Used by cluster-failover.test.mjs and cluster-migrate.test.mjs.
 *
 *   const suite = clusterLoadSuite(holdTtlS)   (at a test file's top level)
 *     before the file's tests: a stack on its own 3+3 cluster (per-address
 *     limits off), three watchers of the demo show that re-watch on a gap,
 *     and the tester below; after them, the stack stopped.
 *     suite.it (testWithLogs), suite.stack, suite.underLoad(...)
 *   const t = clusterLoadTester({stack, watchers, ids, cookie, holdTtlS, workers = 4})
 *   const rec = await t.underLoad(label, fault, opts)
 *     fault(): the disturbance; the window it opens lasts until it returns
 *       and the cluster is healthy again (stack.redis.waitHealthy).
 *     opts.lossy: a master is killed (its last writes may be lost: a hold
 *       refused seat_unavailable after the fault is counted, not failed).
 *     opts.strict: nothing may be lost: a hold answered ok must stay until
 *       its deadline (no watcher sees its seat empty before, no confirm
 *       answered hold_expired before it), and Redis keeps no double hold
 *       (checkRedisInvariants) after the load.
 *     opts.releases: the share (0..1) of holds released by their buyer.
 *     opts.afterWindowMs (2000): a hold whose deadline fell in the window
 *       is freed within this long after the window (nothing can be freed
 *       while the show's slot has no master or is moving); any other hold
 *       within 1 s of its deadline.
 *   rec = {holds (expiries), bookings, releases, unavailable, resurrected,
 *          requests [{kind, sentAt, ms, code}], windowStart, windowEnd}
 *
 * Every wait has a deadline (waitUntil, client.waitFor); no fixed sleeps.
 */
import assert from 'node:assert/strict';
import { before, after } from 'node:test';
import { startStack, testWithLogs, waitUntil, bookingsOf, checkRedisInvariants } from './stack.mjs';

const LATE_MS = 1000;

export function clusterLoadTester({ stack, watchers, ids, cookie, holdTtlS, workers = 4 }) {
    const free = new Set(ids); /* seats no operation of the load has now */
    let payments = 0;

    /* Until stop() is called: each worker holds a free seat for a new buyer,
     * then confirms it, releases it or leaves it to expire. */
    function startLoad(opts) {
        const rec = {
            holds: [], bookings: [], releases: 0, unsure: [], errors: [], stopped: false, watches: [],
            unavailable: 0, resurrected: 0, requests: [], kept: [],
        };
        const tick = () => new Promise((r) => setImmediate(r));
        const timed = async (kind, fn, codeOf) => {
            const sentAt = Date.now();
            const r = await fn();
            rec.requests.push({ kind, sentAt, ms: Date.now() - sentAt, code: codeOf(r) });
            return r;
        };
        async function expiryOf(seat, hold) {
            const entry = { seat, ref: hold.ref, expiresAt: hold.expires_at, emptyAt: null };
            rec.holds.push(entry);
            /* after the deadline: before it a watcher may not have seen the hold yet */
            await Promise.all(
                watchers.map((w) =>
                    w.waitFor((c) => Date.now() >= hold.expires_at && c.state(seat) === 'e', hold.expires_at - Date.now() + 60000, `${seat} empty`),
                ),
            );
            entry.emptyAt = Date.now();
            free.add(seat);
        }
        /* A request answered unavailable may have run: free after its would-be deadline. */
        async function emptyAgain(seat) {
            const deadline = Date.now() + holdTtlS * 1000 + 100;
            await waitUntil(() => Date.now() >= deadline, holdTtlS * 1000 + 1000, 'a would-be deadline');
            await Promise.all(watchers.map((w) => w.waitFor((c) => c.state(seat) === 'e', 60000, `${seat} empty`)));
            free.add(seat);
        }
        async function released(seat) {
            await Promise.all(watchers.map((w) => w.waitFor((c) => c.state(seat) === 'e', 60000, `${seat} released`)));
            free.add(seat);
        }
        async function worker() {
            while (!rec.stopped) {
                const seat = [...free][Math.floor(Math.random() * free.size)];
                if (!seat) {
                    await waitUntil(() => free.size > 0 || rec.stopped, 30000, 'a free seat');
                    continue;
                }
                free.delete(seat);
                const b = await stack.buyer({ watch: null });
                try {
                    const r = await timed('hold', () => b.request({ type: 'hold', show: 'demo', seats: [seat] }, { timeoutMs: 20000 }), (x) => x.code || 'ok');
                    if (r.type !== 'ok') {
                        if (r.code === 'seat_unavailable' && rec.faultAt && opts.lossy) rec.resurrected += 1;
                        else if (r.code !== 'unavailable') rec.errors.push(`hold ${seat}: ${r.code}`);
                        /* unavailable: the script may have run all the same; the
                         * seat is free again once every watcher shows it empty */
                        rec.unavailable += 1;
                        rec.watches.push(emptyAgain(seat));
                        await tick();
                        continue;
                    }
                    const hold = r.hold;
                    const okAt = Date.now();
                    const dice = Math.random();
                    if (dice < (opts.releases || 0)) {
                        const x = await timed('release', () => b.request({ type: 'release', show: 'demo', seats: [seat] }, { timeoutMs: 20000 }), (y) => y.code || 'ok');
                        if (x.type === 'ok') {
                            rec.releases += 1;
                            rec.watches.push(released(seat));
                        } else if (x.code === 'not_held' && Date.now() >= hold.expires_at - 50) {
                            /* it waited past the deadline (a slot moving): the hold had expired */
                            rec.watches.push(expiryOf(seat, hold));
                        } else if (x.code === 'not_held') {
                            rec.errors.push(`release ${seat} (hold ${hold.ref}): not_held ${hold.expires_at - Date.now()} ms before its deadline`);
                        } else {
                            if (x.code !== 'unavailable') rec.errors.push(`release ${seat} (hold ${hold.ref}): ${x.code}`);
                            rec.unavailable += 1;
                            rec.watches.push(expiryOf(seat, hold));
                        }
                        continue;
                    }
                    rec.kept.push({ seat, hold, okAt });
                    if (dice < (opts.releases || 0) + (1 - (opts.releases || 0)) / 2) {
                        const payment = `pay-${++payments}`;
                        const c = await timed('confirm', () => stack.api('POST', '/api/shows/demo/bookings', {
                            cookie,
                            json: { hold: hold.ref, payment_ref: payment },
                            timeoutMs: 20000,
                        }), (y) => String(y.status));
                        if (c.status === 201 || c.status === 200) rec.bookings.push({ payment, booking: c.json.booking });
                        else if (c.status === 409 && c.json?.error === 'hold_expired') {
                            if (opts.strict && Date.now() < hold.expires_at - 200)
                                rec.errors.push(`confirm of hold ${hold.ref} answered hold_expired ${hold.expires_at - Date.now()} ms before its deadline`);
                            rec.watches.push(expiryOf(seat, hold));
                        } else {
                            /* 503: may or may not have booked (asked again at the end) */
                            if (opts.strict && c.status !== 503) rec.errors.push(`confirm of hold ${hold.ref}: ${c.status} ${c.text}`);
                            rec.unsure.push({ seat, hold, payment, status: c.status });
                        }
                    } else {
                        rec.watches.push(expiryOf(seat, hold));
                    }
                } finally {
                    await b.close();
                }
            }
        }
        const running = Array.from({ length: workers }, worker);
        return {
            rec,
            async stop() {
                rec.stopped = true;
                await Promise.all(running);
                /* A confirm answered 503 may or may not have booked: ask again. */
                for (const u of rec.unsure) {
                    const c = await stack.api('POST', '/api/shows/demo/bookings', {
                        cookie,
                        json: { hold: u.hold.ref, payment_ref: u.payment },
                    });
                    if (c.status === 200 || c.status === 201) rec.bookings.push({ payment: u.payment, booking: c.json.booking });
                    else rec.watches.push(expiryOf(u.seat, u.hold));
                }
                rec.unsure = [];
            },
        };
    }

    /* Runs the load around fault(), then checks what users would notice. */
    async function underLoad(label, fault, opts = {}) {
        const afterWindowMs = opts.afterWindowMs ?? 2000;
        const load = startLoad(opts);
        /* some steady state before the fault */
        await waitUntil(() => load.rec.holds.length + load.rec.bookings.length >= 20, 30000, `${label}: load running`);
        const windowStart = Date.now();
        load.rec.faultAt = windowStart;
        await fault();
        await stack.redis.waitHealthy(30000);
        const windowEnd = Date.now();
        Object.assign(load.rec, { windowStart, windowEnd, healthyAt: windowEnd });
        /* more steady state after it */
        const n = load.rec.holds.length + load.rec.bookings.length;
        await waitUntil(() => load.rec.holds.length + load.rec.bookings.length >= n + 20, 30000, `${label}: load after`);
        await load.stop();
        const stoppedAt = Date.now();
        await Promise.all(load.rec.watches);
        const { rec } = load;
        assert.deepEqual(rec.errors, [], `${label}: unexpected answers`);

        /* deadlines */
        for (const h of rec.holds) {
            const inWindow = h.expiresAt >= windowStart - LATE_MS && h.expiresAt <= windowEnd;
            const limit = inWindow ? Math.max(h.expiresAt + LATE_MS, windowEnd + afterWindowMs) : h.expiresAt + LATE_MS;
            assert.ok(
                h.emptyAt <= limit,
                `${label}: ${h.seat} (hold ${h.ref}) freed ${h.emptyAt - h.expiresAt} ms after its deadline` +
                    ` (${inWindow ? 'deadline in the window' : 'outside the window'}, limit ${limit - h.expiresAt} ms)`,
            );
        }

        if (opts.strict) {
            /* a hold answered ok stays until its deadline (or its booking) */
            for (const { seat, hold, okAt } of rec.kept) {
                const early = watchers[0].changesOf(seat).find((c) => c.state === 'e' && c.at > okAt && c.at < hold.expires_at - 250);
                assert.ok(!early, `${label}: hold ${hold.ref} of ${seat} answered ok, its seat shown empty ${early && hold.expires_at - early.at} ms before its deadline`);
            }
            assert.deepEqual(await checkRedisInvariants(stack.redis), [], `${label}: Redis holds no seat twice`);
        }

        /* bookings: each one in the ledger once, no seat twice, booked for all */
        const list = bookingsOf((await stack.api('GET', '/api/shows/demo/bookings', { cookie })).json);
        const byPayment = new Map();
        for (const b of list) byPayment.set(b.payment_ref, [...(byPayment.get(b.payment_ref) || []), b]);
        const seatsBooked = new Map();
        for (const b of list.filter((x) => !x.cancelled_at && x.status !== 'cancelled'))
            for (const s of b.seats) seatsBooked.set(s, [...(seatsBooked.get(s) || []), b.id]);
        for (const [s, bs] of seatsBooked) assert.equal(bs.length, 1, `${label}: seat ${s} booked by ${bs.join(', ')}`);
        for (const { payment } of rec.bookings)
            assert.equal(byPayment.get(payment)?.length, 1, `${label}: booking ${payment} in the ledger once`);

        /* watchers show the true state within 2 s of healthy + stopped. The
         * truth is read again at every look: after a master was killed, a
         * write it took with it can still be put right after the load
         * stopped (a resurrected hold swept, a booking reconciled), and the
         * watchers follow the server there. */
        const deadline = Math.max(windowEnd, stoppedAt) + 2000;
        let truth = '';
        await waitUntil(
            async () => {
                truth = (await stack.seats()).seats;
                return watchers.every((w) => w.modelString() === truth);
            },
            Math.max(1, deadline - Date.now()) + 100,
            `${label}: every watcher shows the true state`,
        ).catch((e) => {
            const off = watchers.map((w, i) => `watcher ${i}: ${[...truth].filter((st, k) => w.modelString()[k] !== st).length} seats differ`);
            throw new Error(`${e.message} (${off.join(', ')})`);
        });
        for (const { booking } of rec.bookings)
            for (const s of booking.seats) assert.equal(watchers[0].state(s), 'b', `${label}: booked seat ${s} shows b`);
        return rec;
    }

    return { underLoad };
}

export function clusterLoadSuite(holdTtlS) {
    const suite = { stack: null, underLoad: null, it: testWithLogs(() => suite.stack) };
    before(async () => {
        const stack = await startStack({ cluster: true, holdTtl: holdTtlS, extraArgs: ['--ip-limits', 'off'] });
        suite.stack = stack;
        const cookie = await stack.login();
        const ids = await stack.seatIds();
        const watchers = await Promise.all([stack.buyer(), stack.buyer(), stack.buyer()]);
        for (const w of watchers) w.autoRewatch = true;
        suite.underLoad = clusterLoadTester({ stack, watchers, ids, cookie, holdTtlS }).underLoad;
    });
    after(async () => {
        await suite.stack?.stop();
    });
    return suite;
}
