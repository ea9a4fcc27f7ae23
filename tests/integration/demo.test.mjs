/*
 * demo.test.mjs - the README's first command, as a newcomer runs it:
 * `scripts/demo.sh --shop --cluster` (private 3+3 Redis Cluster, the example
 * order system with a signed webhook), then what the README promises: a hold
 * made in one tab is pending in another, the shop's order system prints the
 * hold's events (hold.expired included), killing the Redis master of the demo
 * show with scripts/demo-kill-master.sh leaves the map working once a replica
 * took over, /metrics answers, and Ctrl-C stops everything the script started.
 */
import { before, after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { REPO, SEATMAPD, freePort, waitUntil, wsClient, httpRequest } from '../lib/stack.mjs';

let demo;
let out = '';
let runDir;
let listen;
let base;

/* 1 when nobody listens on port (and its cluster bus port, +10000). */
function free(port) {
    return new Promise((resolve) => {
        const s = net.createServer();
        s.once('error', () => resolve(false));
        s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
    });
}

/* A base port with six free ports (and their bus ports) above it. */
async function clusterBase() {
    for (let attempt = 0; attempt < 50; attempt++) {
        const b = 20000 + Math.floor(Math.random() * 30000);
        let ok = true;
        for (let i = 0; i < 6 && ok; i++) ok = (await free(b + i)) && (await free(b + i + 10000));
        if (ok) return b;
    }
    throw new Error('no six free ports in a row');
}

before(async () => {
    runDir = mkdtempSync(path.join(tmpdir(), 'seatmap-demo-'));
    listen = `127.0.0.1:${await freePort()}`;
    base = await clusterBase();
    const env = {
        ...process.env,
        SEATMAP_RUN_DIR: runDir,
        SEATMAP_LISTEN: listen,
        SEATMAP_REDIS_PORT: String(base),
        SEATMAP_SHOP_PORT: String(await freePort()),
        SEATMAP_HOLD_TTL: '3',
    };
    delete env.SEATMAP_REDIS;
    delete env.SEATMAP_DB;
    /* its own process group: the test can stop it like a Ctrl-C would */
    demo = spawn(path.join(REPO, 'scripts/demo.sh'), ['--shop', '--cluster'], { env, detached: true });
    demo.stdout.on('data', (d) => (out += d));
    demo.stderr.on('data', (d) => (out += d));
    await waitUntil(() => /listening on http/.test(out) && /shop: order receiver on/.test(out) &&
        /Redis Cluster is ready/.test(out), 240000, `the demo to start; it said:\n${out}`);
});

after(async () => {
    if (demo && demo.exitCode === null) {
        process.kill(-demo.pid, 'SIGKILL');
    }
    rmSync(runDir, { recursive: true, force: true });
});

let seatIds;

/* A browser tab: a WebSocket that said hello (its model knows the layout). */
async function tab() {
    const c = await wsClient(`ws://${listen}/ws`, { origin: `http://${listen}`, layout: seatIds });
    await c.hello();
    return c;
}

test('the demo: two tabs, the shop hears hold.expired, a master dies and the map goes on, Ctrl-C stops it all', { timeout: 300000 }, async () => {
    assert.ok(SEATMAPD, 'tests run against a built seatmapd');
    const base_url = `http://${listen}`;
    const layout = await httpRequest(base_url, 'GET', '/api/shows/demo');
    assert.equal(layout.status, 200);
    seatIds = layout.json.seats.map((s) => s.id);
    const [s1] = seatIds;

    /* Two tabs: a hold in one is pending in the other. */
    const a = await tab();
    const b = await tab();
    await b.watch('demo');
    const held = await a.request({ type: 'hold', show: 'demo', seats: [s1] });
    assert.equal(held.type, 'ok', JSON.stringify(held));
    await b.waitFor((c) => c.state(s1) === 'p', 5000, 'the seat pending in the other tab');

    /* The shop's order system hears it, and hears it expire (3 s holds here). */
    const ref = held.hold.ref;
    await waitUntil(() => out.includes(`shop: received hold.created of show demo, hold ${ref}`), 15000,
        `the shop to receive hold.created; the demo said:\n${out.slice(-2000)}`);
    await waitUntil(() => out.includes(`shop: received hold.expired of show demo, hold ${ref}`), 20000,
        'the shop to receive hold.expired');

    /* Kill the master of the demo show: holds work again once a replica took over. */
    const killed = execFileSync(path.join(REPO, 'scripts/demo-kill-master.sh'), ['demo', String(base)],
        { encoding: 'utf8' });
    assert.match(killed, /killing the master of show demo/);
    /* A fresh seat each try: a try that timed out here may still have held its seat. */
    let again;
    let next = 1;
    await waitUntil(async () => {
        const c = await tab().catch(() => null);
        if (!c) return false;
        again = await c.request({ type: 'hold', show: 'demo', seats: [seatIds[next++]] }).catch((e) => ({ e: e.message }));
        await c.close();
        return again?.type === 'ok';
    }, 30000, 'a hold to succeed after the failover').catch((e) => {
        throw new Error(`${e.message}; last answer ${JSON.stringify(again)}; the demo said:\n${out.slice(-3000)}`);
    });
    await waitUntil(() => out.includes(`shop: received hold.created of show demo, hold ${again.hold.ref}`), 15000,
        'the shop to hear of the hold made after the failover');

    /* Every number an operator needs: /metrics answers. */
    const m = await httpRequest(base_url, 'GET', '/metrics');
    assert.equal(m.status, 200);
    assert.match(m.text, /^seatmap_redis_up /m);
    await a.close();
    await b.close();

    /* Ctrl-C: everything the script started ends. */
    process.kill(-demo.pid, 'SIGINT');
    await waitUntil(() => demo.exitCode !== null, 30000, 'the demo to stop');
    const left = execFileSync('ps', ['-eo', 'pid,args'], { encoding: 'utf8' })
        .split('\n')
        .filter((l) => l.includes(runDir) || l.includes(`--listen ${listen}`) || l.includes(`--port ${base} `));
    assert.deepEqual(left, [], 'no process of the demo is left');
});
