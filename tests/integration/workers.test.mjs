/*
 * workers.test.mjs - `seatmapd serve --workers 2` on the real binary: two
 * worker processes share the port; watchers connected to different workers
 * see each other's holds; a worker killed with SIGKILL is replaced and the
 * port keeps serving; SIGHUP makes every worker reopen its log file;
 * SIGTERM to the supervisor drains and stops them all;
 * workers that cannot start at all stop the supervisor with status 1.
 *
 * Which worker holds a WebSocket is read from /proc (the server socket whose
 * peer is the client's port, and the worker whose descriptors include it),
 * so the test needs no help from the server. Not here: what one process
 * does (the other suites).
 */
import { before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, readlinkSync, existsSync, renameSync } from 'node:fs';
import path from 'node:path';
import net from 'node:net';
import {
    startStack, testWithLogs, seatPool, waitUntil, httpRequest, seatmapdCli, REPO,
} from '../lib/stack.mjs';

let stack;
let S; /* the supervisor, as the harness started it */
let pool;
const it = testWithLogs(() => stack);

/* The supervisor's children: its workers. */
function workerPids() {
    try {
        return readFileSync(`/proc/${S.pid}/task/${S.pid}/children`, 'utf8')
            .trim().split(/\s+/).filter(Boolean).map(Number);
    } catch {
        return [];
    }
}

const hexPort = (p) => p.toString(16).toUpperCase().padStart(4, '0');

/* The worker pid serving the client's connection, or null. */
function workerOf(client) {
    const mine = client.ws._socket?.localPort;
    if (!mine) return null;
    const want = `:${hexPort(S.port)}`;
    let inode = null;
    for (const line of readFileSync('/proc/net/tcp', 'utf8').split('\n').slice(1)) {
        const f = line.trim().split(/\s+/);
        if (f.length > 9 && f[1].endsWith(want) && f[2].endsWith(`:${hexPort(mine)}`)) inode = f[9];
    }
    if (!inode) return null;
    for (const pid of workerPids()) {
        let fds = [];
        try {
            fds = readdirSync(`/proc/${pid}/fd`);
        } catch {
            continue;
        }
        for (const fd of fds) {
            try {
                if (readlinkSync(`/proc/${pid}/fd/${fd}`) === `socket:[${inode}]`) return pid;
            } catch {
                /* closed meanwhile */
            }
        }
    }
    return null;
}

/* Watchers on `count` distinct workers, one each: {pid: client}. The kernel
 * spreads connections by a hash of the client's port, so a few tries do. */
async function watchersOnDistinctWorkers(count, exclude = []) {
    const found = new Map();
    for (let i = 0; i < 200 && found.size < count; i++) {
        const c = await stack.buyer();
        let pid = null;
        await waitUntil(() => (pid = workerOf(c)), 5000, 'the worker of a connection');
        if (!found.has(pid) && !exclude.includes(pid)) found.set(pid, c);
        else await c.close();
    }
    assert.equal(found.size, count, `watchers reached ${found.size} distinct workers, want ${count}`);
    return found;
}

/* Both workers answer /healthz 200 (each connection lands on one of them). */
async function healthyWorkers(n, timeoutMs = 20000) {
    const seen = new Set();
    await waitUntil(
        async () => {
            const r = await httpRequest(S.baseUrl, 'GET', '/healthz', { timeoutMs: 1000 }).catch(() => null);
            if (r?.status === 200 && r.json?.worker && workerPids().includes(r.json.pid)) seen.add(r.json.pid);
            return [...seen].filter((p) => workerPids().includes(p)).length >= n;
        },
        timeoutMs,
        `${n} healthy workers`,
    );
}

before(async () => {
    stack = await startStack({ extraArgs: ['--workers', '2', '--ip-limits', 'off'] });
    S = stack.server;
    pool = seatPool(await stack.seatIds());
    await waitUntil(() => workerPids().length === 2, 10000, 'two workers');
    await healthyWorkers(2);
});
after(async () => {
    await stack?.stop();
});

it('/healthz and /metrics name the worker that answered', async () => {
    const r = await stack.api('GET', '/healthz');
    assert.equal(r.status, 200, r.text);
    assert.ok([1, 2].includes(r.json.worker), r.text);
    assert.ok(workerPids().includes(r.json.pid), `${r.text} vs ${workerPids()}`);
    const m = await stack.api('GET', '/metrics');
    if (m.status === 200) assert.match(m.text, /seatmap_worker_info\{worker="[12]"\} 1/);
});

it('watchers on different workers see each other\'s holds and releases', async () => {
    const w = await watchersOnDistinctWorkers(2);
    const [a, b] = [...w.values()];
    const [s1, s2] = pool.take(2);
    await a.call({ type: 'hold', show: 'demo', seats: [s1] });
    await b.waitFor((c) => c.state(s1) === 'p', 3000, 'the other worker\'s watcher sees the hold');
    await b.call({ type: 'hold', show: 'demo', seats: [s2] });
    await a.waitFor((c) => c.state(s2) === 'p', 3000, 'and the other way round');
    await a.call({ type: 'release', show: 'demo', seats: [s1] });
    await b.waitFor((c) => c.state(s1) === 'e', 3000, 'release seen across workers');
    assert.deepEqual(a.model.gaps, []);
    assert.deepEqual(b.model.gaps, []);
    for (const c of w.values()) await c.close();
});

it('a worker killed with SIGKILL is replaced; the port keeps serving', async () => {
    const w = await watchersOnDistinctWorkers(2);
    const [[victim, onVictim], [survivor, onSurvivor]] = [...w.entries()];
    process.kill(victim, 'SIGKILL');
    await onVictim.closed; /* its buyer notices: the page would reconnect */
    /* Once the dead worker is gone (the supervisor reaped it), every new
     * connection is answered, by the survivor until the new one listens.
     * (A connection the kernel had queued on the dead worker's socket at the
     * moment of death is reset: SO_REUSEPORT keeps a queue per socket.) */
    await waitUntil(() => !existsSync(`/proc/${victim}`), 10000, 'the killed worker reaped');
    for (let i = 0; i < 10; i++) {
        const r = await httpRequest(S.baseUrl, 'GET', '/healthz', { timeoutMs: 3000 });
        assert.equal(r.status, 200, r.text);
    }
    let fresh = null;
    await waitUntil(() => (fresh = workerPids().find((p) => p !== survivor && p !== victim)), 15000, 'a new worker');
    assert.equal(workerPids().length, 2);
    assert.match(S.stderr(), /worker \d was killed by signal 9/);
    /* the new worker serves watchers that see the survivor's changes */
    await healthyWorkers(2);
    const onFresh = (await watchersOnDistinctWorkers(1, [survivor])).values().next().value;
    assert.equal(workerOf(onFresh), fresh);
    const [s] = pool.take(1);
    await onSurvivor.call({ type: 'hold', show: 'demo', seats: [s] });
    await onFresh.waitFor((c) => c.state(s) === 'p', 3000, 'the new worker\'s watcher sees the hold');
    await onFresh.close();
    await onSurvivor.close();
});

it('workers that cannot start stop the supervisor with status 1', async () => {
    /* the port is taken by a socket that does not share it */
    const blocker = net.createServer();
    await new Promise((r) => blocker.listen(0, '127.0.0.1', r));
    const port = blocker.address().port;
    try {
        const r = await seatmapdCli([
            'serve', '--workers', '2', '--listen', `127.0.0.1:${port}`,
            '--redis', `redis://127.0.0.1:${stack.redis.port}/0`, '--db', stack.dbPath,
            '--web', `${REPO}/web`,
        ]);
        assert.equal(r.code, 1, r.stderr);
        assert.match(r.stderr, /cannot listen on/);
        assert.match(r.stderr, /the workers cannot start/);
    } finally {
        blocker.close();
    }
});

it('SIGHUP reaches every worker: each reopens the log file (logrotate)', async () => {
    const log = path.join(stack.tmpDir, 'workers.log');
    const L = await stack.addServer({ extraArgs: ['--workers', '2', '--ip-limits', 'off', '--log-file', log] });
    const kids = () => {
        try {
            return readFileSync(`/proc/${L.pid}/task/${L.pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean);
        } catch {
            return [];
        }
    };
    await waitUntil(() => kids().length === 2, 10000, 'two workers');
    await waitUntil(() => /worker=1 /.test(readFileSync(log, 'utf8')) && /worker=2 /.test(readFileSync(log, 'utf8')),
        20000, 'both workers writing the log file');
    const before = kids();
    renameSync(log, `${log}.1`); /* what logrotate does */
    process.kill(L.pid, 'SIGHUP');
    await waitUntil(() => {
        const text = existsSync(log) ? readFileSync(log, 'utf8') : '';
        return /worker=1 info: SIGHUP: reopened/.test(text) && /worker=2 info: SIGHUP: reopened/.test(text);
    }, 10000, 'both workers to reopen the log file');
    assert.deepEqual(kids(), before, 'SIGHUP restarts nobody');
    const r = await httpRequest(L.baseUrl, 'GET', '/healthz');
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(await L.stop(), { code: 0, signal: null });
});

it('SIGTERM to the supervisor drains and stops every worker', async () => {
    const pids = workerPids();
    assert.equal(pids.length, 2);
    const info = await S.stop();
    assert.deepEqual(info, { code: 0, signal: null }, S.stderr().slice(-2000));
    for (const p of pids) assert.equal(existsSync(`/proc/${p}`), false, `worker ${p} still running`);
    assert.match(S.stderr(), /all workers stopped/);
});
