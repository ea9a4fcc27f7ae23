/*
 * cluster-failover.test.mjs - seatmapd on a real 3+3 Redis Cluster
 * (tests/lib/cluster.mjs) under a steady load of holds, confirms and
 * expiries while the master that owns the demo show's slot goes away: first
 * promoted away gracefully (CLUSTER FAILOVER on its replica), then killed
 * with SIGKILL. What a user must not notice:
 *   - a hold whose deadline is outside the outage is freed within 1 s of it;
 *     one whose deadline fell in the outage is freed within 2 s of the
 *     cluster being healthy again (nothing can be freed while no master has
 *     the show: docs/scaling.md);
 *   - every booking answered 201/200 is in the ledger once, its seats booked,
 *     and no seat is booked twice; a confirm answered 503 is settled by
 *     asking again with the same payment_ref (the API is idempotent);
 *   - every watcher shows the true state (GET seats) within 2 s after the
 *     cluster is healthy again and the load has stopped.
 * Redis replicates asynchronously: a master killed with SIGKILL may take
 * its last writes with it, so a release or expiry it had just done can be
 * undone by the promoted replica (the seat is pending again until the sweep
 * frees it, its deadline being past). A hold refused seat_unavailable after
 * the kill is counted as such, not failed; bookings are safe either way
 * (the ledger has them, and the reconciliation puts them back in Redis).
 * The load and these checks: tests/lib/cluster-load.mjs.
 */
import assert from 'node:assert/strict';
import { waitUntil } from '../lib/stack.mjs';
import { clusterLoadSuite } from '../lib/cluster-load.mjs';

const HOLD_TTL_S = 2;
const suite = clusterLoadSuite(HOLD_TTL_S);
const { it } = suite;

/* Which master has the demo show now. */
const demoMaster = () => suite.stack.redis.ownerOf('sm:{demo}:seq');

it('CLUSTER FAILOVER on the replica of the show master: nothing late, lost or doubled', { timeout: 180000 }, async () => {
    const master = await demoMaster();
    const replica = await suite.stack.redis.replicaOf(master);
    const rec = await suite.underLoad('manual failover', async () => {
        assert.equal(await suite.stack.redis.cliAt(replica, 'CLUSTER', 'FAILOVER'), 'OK');
        await waitUntil(async () => (await demoMaster().catch(() => 0)) === replica, 30000, 'the replica promoted');
    });
    assert.ok(rec.bookings.length > 0 && rec.holds.length > 0, 'the load booked and expired seats');
    process.stderr.write(
        `manual failover: ${rec.holds.length} expiries, ${rec.bookings.length} bookings, ${rec.unavailable} holds unavailable\n`,
    );
});

it('kill -9 of the show master: nothing lost or doubled, watchers right after recovery', { timeout: 180000 }, async () => {
    const master = await demoMaster();
    let killedAt = 0;
    const rec = await suite.underLoad('master killed', async () => {
        await suite.stack.redis.kill(master, 'SIGKILL');
        killedAt = Date.now();
        await waitUntil(async () => (await demoMaster().catch(() => master)) !== master, 60000, 'a replica promoted');
    }, { lossy: true });
    process.stderr.write(
        `master killed: ${rec.holds.length} expiries, ${rec.bookings.length} bookings, ${rec.unavailable} holds unavailable, ` +
            `${rec.resurrected} seats held again by writes the replica had not received; ` +
            `healthy ${rec.healthyAt - killedAt} ms after the kill\n`,
    );
    /* the old master comes back as a replica */
    await suite.stack.redis.start(master);
    await suite.stack.redis.waitHealthy(30000);
});
