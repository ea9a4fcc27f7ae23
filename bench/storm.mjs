/*
 * storm.mjs - the reconnect storm (issue 13, "Resume instead of snapshot"):
 * N watchers of the 60,000-seat stadium, the server restarts (SIGTERM: they
 * are told 1001 "going away"), and every watcher reconnects as the pages do,
 * with `since` (resume) or without (a snapshot each, as before). Measures
 * how long after the new process listens every watcher is back in sync
 * (its seq is the show's), and the CPU the new process spent from its start
 * until then (loading included).
 *
 * Run by bench/run.sh storm (which starts Redis and makes the show):
 *   node bench/storm.mjs --seatmapd BIN --redis-port P --db FILE --watchers N
 * Prints "result storm key=value ..." lines, one per mode.
 *
 * The generator is Node (ws) on the same two cores: its own CPU is printed
 * too, as it limits the wall-clock figure long before the server does.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import WebSocket from 'ws';

const args = Object.fromEntries(
    process.argv.slice(2).reduce((acc, a, i, all) => (a.startsWith('--') ? [...acc, [a.slice(2), all[i + 1]]] : acc), []),
);
const N = Number(args.watchers || 10000);
const SHOW = 'stadium';
const TICKS = 100; /* clock ticks per second of /proc/<pid>/stat */

function freePort() {
    return new Promise((resolve) => {
        const s = net.createServer();
        s.listen(0, '127.0.0.1', () => {
            const { port } = s.address();
            s.close(() => resolve(port));
        });
    });
}

function cpuMs(pid) {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const rest = f.slice(f.lastIndexOf(')') + 2).split(' ');
    return ((Number(rest[11]) + Number(rest[12])) * 1000) / TICKS;
}

/* Servers still running are stopped when this script ends, however it ends. */
const children = new Set();
process.on('exit', () => { for (const c of children) c.kill('SIGKILL'); });
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => process.exit(130));

function startServer(port) {
    const p = spawn(args.seatmapd, ['serve', '--listen', `127.0.0.1:${port}`, '--redis', `redis://127.0.0.1:${args['redis-port']}/0`,
        '--db', args.db, '--hold-ttl', '120', '--ip-limits', 'off', '--max-conns', '100000', '--rate', '100000'],
    { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    children.add(p);
    p.on('exit', () => children.delete(p));
    return new Promise((resolve, reject) => {
        p.stderr.on('data', (d) => {
            err += d;
            if (/listening on/.test(err)) resolve({ p, listenedAt: performance.now() });
        });
        p.on('exit', (code) => reject(new Error(`seatmapd exited ${code}: ${err.slice(-2000)}`)));
    });
}

/* One watcher: connects, says hello (keeping its buyer), watches; in sync
 * when its seq reaches `want()` (or it got a snapshot at least that new). */
class Watcher {
    constructor() {
        this.seq = null;
        this.buyer = undefined;
        this.resumed = 0;
        this.snapshots = 0;
        this.bytes = 0;
    }

    connect(port, useSince, onSync, want) {
        return new Promise((resolve, reject) => {
            const ws = new WebSocket(`ws://127.0.0.1:${port}/ws`, ['seatmap.v1'], { perMessageDeflate: false });
            this.ws = ws;
            this.synced = false;
            let opened = false;
            /* refused or reset before it opened (a full accept queue): try
             * again a little later, as a page does */
            const retry = () => {
                if (opened) return;
                opened = true;
                setTimeout(() => this.connect(port, useSince, onSync, want).then(resolve, reject),
                    100 + Math.random() * 200);
            };
            ws.on('error', retry);
            ws.on('close', retry);
            ws.on('open', () => {
                opened = true;
                const hello = { type: 'hello', id: 1 };
                if (this.buyer) hello.buyer = this.buyer;
                ws.send(JSON.stringify(hello));
                const watch = { type: 'watch', id: 2, show: SHOW };
                if (useSince && this.seq !== null) watch.since = this.seq;
                ws.send(JSON.stringify(watch));
                resolve();
            });
            ws.on('message', (data) => {
                this.bytes += data.length;
                /* A snapshot's seats are not needed here: read its head only
                 * (the generator's CPU is the bottleneck of this scenario). */
                const head = data.length > 4096 ? String(data.subarray(0, 200)) : null;
                const sm = head && /^\{"type":"snapshot","show":"[^"]*","seq":(\d+)/.exec(head);
                const m = sm ? { type: 'snapshot', seq: Number(sm[1]) } : JSON.parse(String(data));
                if (m.type === 'ok' && m.id === 1) this.buyer = m.buyer;
                else if (m.type === 'ok' && m.id === 2 && m.resumed) this.resumed++;
                else if (m.type === 'snapshot') {
                    this.seq = m.seq;
                    this.snapshots++;
                } else if (m.type === 'delta' && m.from === this.seq) this.seq = m.seq;
                if (!this.synced && ((m.type === 'ok' && m.id === 2 && m.resumed) || m.type !== 'ok') && this.seq >= want()) {
                    this.synced = true;
                    onSync(this);
                }
            });
        });
    }
}

async function inBatches(items, size, fn) {
    for (let i = 0; i < items.length; i += size) await Promise.all(items.slice(i, i + size).map(fn));
}

/* The show's seq; a process that has just started answers 503 until the
 * show is loaded, as a page would see: ask again. */
async function showSeq(port) {
    const until = performance.now() + 30000;
    for (;;) {
        const r = await fetch(`http://127.0.0.1:${port}/api/shows/${SHOW}/seats`);
        if (r.status === 200) return (await r.json()).seq;
        if (performance.now() > until) throw new Error(`GET seats: ${r.status} ${await r.text()}`);
        await new Promise((res) => setTimeout(res, 20));
    }
}

async function storm(mode) {
    const port = await freePort();
    let srv = await startServer(port);
    const ws = Array.from({ length: N }, () => new Watcher());
    let synced = 0;
    let seq0 = await showSeq(port);
    let allSynced;
    let done = new Promise((r) => { allSynced = r; });
    const onSync = () => { if (++synced === N) allSynced(performance.now()); };
    await inBatches(ws, 500, (w) => w.connect(port, false, onSync, () => seq0));
    await done;
    console.error(`storm ${mode}: ${N} watchers in sync; restarting the server`);
    const restart = srv.p.pid;
    /* The restart: SIGTERM (1001 to every watcher), a new process on the port. */
    const exited = new Promise((r) => srv.p.once('exit', r));
    srv.p.kill('SIGTERM');
    await exited;
    srv = await startServer(port);
    const t0 = srv.listenedAt;
    const cpuListen = cpuMs(srv.p.pid);
    const seq1 = await showSeq(port);
    for (const w of ws) {
        w.bytes = 0; /* what the storm costs, not the first watch */
        w.snapshots = 0;
        w.resumed = 0;
    }
    synced = 0;
    done = new Promise((r) => { allSynced = r; });
    const genCpu0 = process.cpuUsage();
    await inBatches(ws, 1000, (w) => w.connect(port, mode === 'since', onSync, () => seq1));
    const tEnd = await done;
    const cpu = cpuMs(srv.p.pid);
    const gen = process.cpuUsage(genCpu0);
    const resumed = ws.reduce((a, w) => a + w.resumed, 0);
    const snaps = ws.reduce((a, w) => a + w.snapshots, 0);
    const bytes = ws.reduce((a, w) => a + w.bytes, 0);
    console.log(`result storm label=storm-${mode} watchers=${N} mode=${mode} restarted_pid=${restart} ` +
        `all_in_sync_ms=${(tEnd - t0).toFixed(0)} server_cpu_ms=${cpu.toFixed(0)} ` +
        `server_cpu_start_ms=${cpuListen.toFixed(0)} storm_cpu_ms=${(cpu - cpuListen).toFixed(0)} resumed=${resumed} ` +
        `snapshots=${snaps} bytes_in=${bytes} gen_cpu_ms=${((gen.user + gen.system) / 1000).toFixed(0)}`);
    for (const w of ws) w.ws.terminate();
    const gone = new Promise((r) => srv.p.once('exit', r));
    srv.p.kill('SIGTERM');
    await gone;
}

for (const mode of (args.modes || 'snapshot,since').split(',')) await storm(mode);
