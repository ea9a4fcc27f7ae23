/*
 * cluster-migrate.test.mjs - seatmapd on a real 3+3 Redis Cluster
 * (tests/lib/cluster.mjs) while the demo show's slot (hash tag {demo})
 * moves from its master to another one and back, the way `redis-cli
 * --cluster reshard` moves it: CLUSTER SETSLOT IMPORTING on the target,
 * MIGRATING on the source, GETKEYSINSLOT + MIGRATE ... KEYS in batches, then
 * SETSLOT NODE on the target, the source and every other master. The batches
 * go slowly: the next one only after seatmapd has met the half-moved slot
 * again (its redirect counter grew), so requests do meet it. The way back
 * moves the show's seq key first: every script then meets ASK throughout.
 *
 * Under a steady load of holds, releases, confirms and expiries
 * (tests/lib/cluster-load.mjs, strict), what a user must not notice:
 *   - a hold answered ok is never lost (its seat stays pending until its
 *     deadline), no seat is held twice in Redis;
 *   - every booking answered 201/200 is in the ledger once, no seat booked
 *     twice;
 *   - a hold whose deadline is outside the migration is freed within 1 s
 *     of it; one whose deadline fell in it within 1 s after the slot has
 *     moved (a show's scripts wait while its slot moves: docs/scaling.md);
 *   - requests answer ok or `unavailable`, never `internal`;
 *   - watchers show the true state within 2 s after the migration;
 *   - /metrics counts the redirects (seatmap_redis_redirects_total).
 * The second pass moves the slot back, to catch state kept about the old
 * owner.
 */
import assert from 'node:assert/strict';
import { waitUntil } from '../lib/stack.mjs';
import { clusterLoadSuite } from '../lib/cluster-load.mjs';

const HOLD_TTL_S = 2;
const BATCH = 8; /* keys per MIGRATE: a show's few dozen keys take several */
const suite = clusterLoadSuite(HOLD_TTL_S);
const { it } = suite;

/* seatmap_redis_redirects_total by kind, from /metrics. */
async function redirects() {
    const r = await suite.stack.api('GET', '/metrics');
    assert.equal(r.status, 200);
    const out = {};
    for (const m of r.text.matchAll(/^seatmap_redis_redirects_total\{kind="([a-z]+)"\} (\d+)$/gm)) out[m[1]] = Number(m[2]);
    return out;
}
const total = (r) => Object.values(r).reduce((a, b) => a + b, 0);

/* Moves slot from the master at port `from` to the one at `to`, as redis-cli
 * --cluster reshard does, and tells what it saw. */
async function migrate(slot, from, to, { first = [] } = {}) {
    const { cliAt } = suite.stack.redis;
    const fromId = await cliAt(from, 'CLUSTER', 'MYID');
    const toId = await cliAt(to, 'CLUSTER', 'MYID');
    const seen = { batches: 0, keys: 0 };
    assert.equal(await cliAt(to, 'CLUSTER', 'SETSLOT', slot, 'IMPORTING', fromId), 'OK');
    assert.equal(await cliAt(from, 'CLUSTER', 'SETSLOT', slot, 'MIGRATING', toId), 'OK');
    seen.movingAt = Date.now();
    for (;;) {
        const keys = first.length
            ? first.splice(0)
            : (await cliAt(from, 'CLUSTER', 'GETKEYSINSLOT', slot, String(BATCH))).split('\n').filter(Boolean);
        if (keys.length === 0) break;
        /* slowly: only once seatmapd has met the half-moved slot again */
        const before = total(await redirects());
        await waitUntil(async () => total(await redirects()) > before, 10000, 'seatmapd meets the half-moved slot');
        const r = await cliAt(from, 'MIGRATE', '127.0.0.1', String(to), '', '0', '5000', 'KEYS', ...keys);
        assert.match(r, /^(OK|NOKEY)$/, `MIGRATE ${keys.length} keys`);
        seen.batches += 1;
        seen.keys += keys.length;
    }
    /* the new owner first, then the old, then everyone (redis-cli's order) */
    assert.equal(await cliAt(to, 'CLUSTER', 'SETSLOT', slot, 'NODE', toId), 'OK');
    assert.equal(await cliAt(from, 'CLUSTER', 'SETSLOT', slot, 'NODE', toId), 'OK');
    seen.movedAt = Date.now();
    for (const m of await suite.stack.redis.masters())
        if (m !== from && m !== to) assert.equal(await cliAt(m, 'CLUSTER', 'SETSLOT', slot, 'NODE', toId), 'OK');
    await waitUntil(async () => (await suite.stack.redis.ownerOf('sm:{demo}:seq').catch(() => 0)) === to, 30000, 'every node agrees on the new owner');
    return seen;
}

/* What the requests sent while the slot moved met. */
function figures(label, rec, seen, delta) {
    /* requests in flight at some time between MIGRATING and the new owner's SETSLOT NODE */
    const during = rec.requests.filter((q) => q.sentAt <= seen.movedAt && q.sentAt + q.ms >= seen.movingAt);
    const ms = during.map((q) => q.ms).sort((a, b) => a - b);
    const pct = (p) => (ms.length ? ms[Math.min(ms.length - 1, Math.floor(p * ms.length))] : 0);
    process.stderr.write(
        `${label}: slot moving for ${seen.movedAt - seen.movingAt} ms (${seen.batches} batches, ${seen.keys} keys; ` +
            `window with setup and agreement ${rec.windowEnd - rec.windowStart} ms); ` +
            `${during.length} requests in flight meanwhile took median ${pct(0.5)} ms, max ${pct(1)} ms, ` +
            `${during.filter((q) => q.code === 'unavailable' || q.code === '503').length} unavailable; ` +
            `redirects ${JSON.stringify(delta)}; load: ${rec.holds.length} expiries, ${rec.releases} releases, ` +
            `${rec.bookings.length} bookings, ${rec.unavailable} unavailable\n`,
    );
}

async function pass(label, from, to, opts) {
    const slot = await suite.stack.redis.cli('CLUSTER', 'KEYSLOT', 'sm:{demo}:seq');
    const r0 = await redirects();
    let seen;
    const rec = await suite.underLoad(label, async () => (seen = await migrate(slot, from, to, opts)), {
        strict: true,
        releases: 0.25,
        afterWindowMs: 1000,
    });
    const r1 = await redirects();
    const delta = Object.fromEntries(Object.keys(r1).map((k) => [k, r1[k] - (r0[k] || 0)]).filter(([, v]) => v > 0));
    figures(label, rec, seen, delta);
    assert.ok(seen.batches >= 2, `${label}: the slot moved in several batches (${seen.batches})`);
    assert.ok(rec.bookings.length > 0 && rec.holds.length > 0 && rec.releases > 0, `${label}: the load booked, released and expired seats`);
    /* the source answers ASK (a key gone) or stops the script (a key it lacks) while the slot moves; MOVED after */
    assert.ok((delta.ask || 0) + (delta.migrating || 0) > 0, `${label}: redirects while the slot moved: ${JSON.stringify(delta)}`);
    assert.ok((delta.moved || 0) > 0, `${label}: MOVED once the slot had moved: ${JSON.stringify(delta)}`);
    assert.equal(await suite.stack.redis.ownerOf('sm:{demo}:seq'), to);
    return rec;
}

it('the demo slot moves to another master and back under load: nothing lost, late or doubled', { timeout: 300000 }, async () => {
    const source = await suite.stack.redis.ownerOf('sm:{demo}:seq');
    const target = (await suite.stack.redis.masters()).find((p) => p !== source);
    await pass('migration', source, target);
    /* back with the show's seq key (the one its scripts declare) in the first
     * batch: every script then meets ASK for the whole move */
    await pass('migration back', target, source, { first: ['sm:{demo}:seq'] });
    /* nothing was answered internal: the load's errors would say so; and the logs say why requests waited */
    const log = suite.stack.logTail(5000);
    assert.doesNotMatch(log, /Redis script error: ERR Script attempted/, 'no script stopped by the migration was answered');
    /* an operator reads why requests waited: once per move, not per request */
    const moving = log.match(/Redis Cluster \(store\): slot \d+ is moving away from/g) || [];
    assert.equal(moving.length, 2, `one log line per move:\n${log}`);
    assert.equal((log.match(/Redis Cluster \(store\): slot \d+ is served again, by/g) || []).length, 2);
});
