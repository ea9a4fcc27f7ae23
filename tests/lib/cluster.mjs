/*
 * cluster.mjs - starts a REAL Redis Cluster for the tests: 6 redis-server
 * processes with --cluster-enabled yes on free loopback ports, each in its
 * own directory under a temporary one, joined by `redis-cli --cluster create
 * ... --cluster-replicas 1 --cluster-yes` (3 masters, 3 replicas), and waited
 * for until every node says cluster_state:ok. A short cluster-node-timeout
 * (1 s) makes a killed master fail over in a few seconds.
 *
 * API (stack.mjs uses it for startStack({cluster: true}) or
 * SEATMAP_TEST_REDIS=cluster):
 *
 *   startCluster({dir, nodeTimeoutMs=1000}) -> cluster
 *     cluster = {url (redis+cluster://127.0.0.1:P1,...), port (the first node),
 *                ports [6], cli(...args) (redis-cli -c at a live node),
 *                cliAt(port, ...args), masters() -> [port] (live masters now),
 *                ownerOf(key) -> port of the live master of key's slot,
 *                replicaOf(masterPort) -> port, cliMasters(...args) -> [stdout]
 *                (on every master), waitHealthy(timeoutMs) (cluster_state:ok on
 *                every live node, every slot served by a live master),
 *                kill(port, signal='SIGKILL'), start(port) (again, same data),
 *                restart() (every node killed and started: same cluster, empty),
 *                stop(), log() (the nodes' warnings)}
 *
 * Not here: seatmapd (stack.mjs).
 */
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { freePort, waitUntil, runCommand, trackChild, killChild } from './stack.mjs';

const NODES = 6;

export async function startCluster({ dir, nodeTimeoutMs = 1000 } = {}) {
    const ownDir = !dir;
    dir = dir || mkdtempSync(path.join(tmpdir(), 'seatmap-cluster-'));
    const ports = [];
    while (ports.length < NODES) {
        const p = await freePort();
        if (!ports.includes(p)) ports.push(p);
    }
    const children = new Map(); /* port -> child */
    let log = '';

    async function cliAt(port, ...args) {
        const r = await runCommand('redis-cli', ['-h', '127.0.0.1', '-p', String(port), ...args]);
        if (r.code !== 0) throw new Error(`redis-cli -p ${port} ${args.join(' ')}: ${r.stderr}`);
        return r.stdout.replace(/\n$/, '');
    }

    async function start(port) {
        const d = path.join(dir, `node-${port}`);
        mkdirSync(d, { recursive: true });
        const child = trackChild(
            spawn(
                'redis-server',
                [
                    '--port', String(port), '--bind', '127.0.0.1', '--cluster-enabled', 'yes',
                    '--cluster-config-file', 'nodes.conf', '--cluster-node-timeout', String(nodeTimeoutMs),
                    '--save', '', '--appendonly', 'no', '--dir', d, '--daemonize', 'no',
                    '--loglevel', 'warning',
                ],
                { stdio: ['ignore', 'pipe', 'pipe'] },
            ),
        );
        const keep = (b) => (log = (log + `[${port}] ${b}`).slice(-20000));
        child.stdout.on('data', keep);
        child.stderr.on('data', keep);
        children.set(port, child);
        await waitUntil(
            async () => {
                if (child.exitInfo) throw Object.assign(new Error(`redis-server ${port} exited: ${log}`), { fatal: true });
                return (await cliAt(port, 'PING').catch(() => '')) === 'PONG';
            },
            10000,
            `cluster node ${port}`,
        );
    }

    const live = () => ports.filter((p) => children.get(p) && !children.get(p).exitInfo);

    /* CLUSTER NODES as seen by a live node: [{port, master, fail, masterId, id}] */
    async function nodes() {
        let lastErr;
        for (const p of live()) {
            try {
                const text = await cliAt(p, 'CLUSTER', 'NODES');
                return text
                    .split('\n')
                    .filter(Boolean)
                    .map((l) => {
                        const f = l.split(' ');
                        return {
                            id: f[0],
                            port: Number(f[1].split('@')[0].split(':').pop()),
                            master: f[2].includes('master'),
                            fail: /fail/.test(f[2]),
                            masterId: f[3],
                            slots: f.length > 8,
                            ranges: f.slice(8).filter((r) => !r.startsWith('[')).map((r) => r.split('-').map(Number)),
                        };
                    });
            } catch (e) {
                lastErr = e;
            }
        }
        throw lastErr || new Error('no live cluster node');
    }

    const cluster = {
        ports,
        port: ports[0],
        url: `redis+cluster://${ports.map((p) => `127.0.0.1:${p}`).join(',')}`,
        cliAt,
        async cli(...args) {
            const p = live()[0];
            const r = await runCommand('redis-cli', ['-c', '-h', '127.0.0.1', '-p', String(p), ...args]);
            if (r.code !== 0) throw new Error(`redis-cli -c ${args.join(' ')}: ${r.stderr}`);
            return r.stdout.replace(/\n$/, '');
        },
        async masters() {
            const alive = new Set(live());
            return (await nodes()).filter((n) => n.master && !n.fail && n.slots && alive.has(n.port)).map((n) => n.port);
        },
        async ownerOf(key) {
            const slot = Number(await cluster.cli('CLUSTER', 'KEYSLOT', key));
            const alive = new Set(live());
            const m = (await nodes()).find(
                (n) => n.master && !n.fail && alive.has(n.port) && n.ranges.some(([a, b = a]) => slot >= a && slot <= b),
            );
            if (!m) throw new Error(`no live master has ${key} (slot ${slot})`);
            return m.port;
        },
        async replicaOf(masterPort) {
            const all = await nodes();
            const m = all.find((n) => n.port === masterPort);
            const r = all.find((n) => !n.master && n.masterId === m?.id && !n.fail && live().includes(n.port));
            if (!r) throw new Error(`no live replica of ${masterPort}`);
            return r.port;
        },
        async cliMasters(...args) {
            return Promise.all((await cluster.masters()).map((p) => cliAt(p, ...args)));
        },
        async waitHealthy(timeoutMs = 30000) {
            await waitUntil(
                async () => {
                    for (const p of live()) {
                        const info = await cliAt(p, 'CLUSTER', 'INFO').catch(() => '');
                        if (!/cluster_state:ok/.test(info)) return false;
                    }
                    const all = await nodes();
                    const alive = new Set(live());
                    /* every master that serves slots is alive and not failed */
                    return all.filter((n) => n.master && n.slots).every((n) => alive.has(n.port) && !n.fail);
                },
                timeoutMs,
                'Redis Cluster healthy (cluster_state:ok everywhere, every slot on a live master)',
            );
        },
        async kill(port, signal = 'SIGKILL') {
            return killChild(children.get(port), signal);
        },
        start,
        /* Every node killed and started again: the same cluster (nodes.conf
         * kept), its data gone (no persistence), as startRedis's restart(). */
        async restart() {
            await Promise.all(ports.map((p) => killChild(children.get(p), 'SIGKILL')));
            await Promise.all(ports.map(start));
            await cluster.waitHealthy(30000);
        },
        async stop() {
            await Promise.all(ports.map((p) => killChild(children.get(p), 'SIGKILL')));
            if (ownDir) rmSync(dir, { recursive: true, force: true });
        },
        log: () => log,
    };

    try {
        await Promise.all(ports.map(start));
        const r = await runCommand(
            'redis-cli',
            ['--cluster', 'create', ...ports.map((p) => `127.0.0.1:${p}`), '--cluster-replicas', '1', '--cluster-yes'],
            { timeoutMs: 60000 },
        );
        if (r.code !== 0) throw new Error(`redis-cli --cluster create: ${r.stdout}\n${r.stderr}`);
        await cluster.waitHealthy(30000);
        /* every replica attached to its master */
        await waitUntil(async () => (await nodes()).filter((n) => !n.master && n.masterId !== '-').length === NODES / 2, 30000, 'replicas attached');
    } catch (e) {
        await cluster.stop().catch(() => {});
        throw e;
    }
    return cluster;
}
