#!/usr/bin/env node
/*
 * soak.mjs - the soak scenario (bench/run.sh soak): hours of ordinary
 * traffic against one seatmapd while its memory and file descriptors are
 * sampled, to show they stay flat.
 *
 * Traffic, all at once, on the demo show: buyers that hold 1-3 seats and
 * then release them, let them expire, or have them confirmed at the box
 * office (HTTP, by hold code) and cancelled again, so seats are recycled
 * forever; buyers that drop their connection and come back; watchers that
 * stop reading (socket paused) until the server cuts them off, then come
 * back. Every second: VmRSS from /proc/PID/status and the number of entries
 * in /proc/PID/fd.
 *
 * Verdict: after the warm-up (the first half), the last tenth of the run
 * may exceed the tenth around its middle by less than 5 %: for RSS their
 * means, for fds their minimums (connections come and go all the time; a
 * leak raises the floor). Prints one `result soak ...` line
 * and the samples to --samples FILE; exits 1 when it is not flat, 2 when the
 * server died or nothing was done.
 *
 * Usage: node bench/soak.mjs --port P --pid PID --user U --password PW
 *            [--seconds 180] [--buyers 30] [--slow 3] [--think-ms 150]
 *            [--samples FILE]
 */
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import WebSocket from 'ws';

const opt = { seconds: 180, buyers: 30, slow: 3, 'think-ms': 150, samples: '' };
for (let i = 2; i < process.argv.length; i += 2) opt[process.argv[i].replace(/^--/, '')] = process.argv[i + 1];
for (const k of ['port', 'pid', 'user', 'password']) if (!opt[k]) throw new Error(`--${k} is required`);
const port = Number(opt.port);
const pid = Number(opt.pid);
const seconds = Number(opt.seconds);
const base = `http://127.0.0.1:${port}`;
const wsUrl = `ws://127.0.0.1:${port}/ws`;
const origin = base;
const SHOW = 'demo';
const counts = {
    holds: 0, held: 0, releases: 0, expiries: 0, confirms: 0, cancels: 0, reconnects: 0,
    slow_cuts: 0, refused: 0, errors: 0,
};
let stopping = false;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const rnd = (n) => Math.floor(Math.random() * n);

function request(method, path, { json, cookie } = {}) {
    return new Promise((resolve) => {
        const body = json ? JSON.stringify(json) : null;
        const req = http.request(`${base}${path}`, {
            method,
            headers: {
                origin,
                ...(cookie ? { cookie } : {}),
                ...(body ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } : {}),
            },
            timeout: 10000,
        }, (res) => {
            let text = '';
            res.on('data', (d) => (text += d));
            res.on('end', () => {
                let j = null;
                try { j = JSON.parse(text); } catch { /* not JSON */ }
                resolve({ status: res.statusCode, json: j, headers: res.headers });
            });
        });
        req.on('error', () => resolve({ status: 0 }));
        req.on('timeout', () => req.destroy());
        if (body) req.write(body);
        req.end();
    });
}

/* A connection speaking seatmap.v1: request() resolves with the reply. */
function connect() {
    return new Promise((resolve, reject) => {
        const ws = new WebSocket(wsUrl, ['seatmap.v1'], { origin, perMessageDeflate: false, maxPayload: 64 << 20 });
        const pending = new Map();
        let next = 1;
        const c = {
            ws,
            request(m) {
                const id = next++;
                return new Promise((res) => {
                    pending.set(id, res);
                    try { ws.send(JSON.stringify({ ...m, id })); } catch { pending.delete(id); res({ type: 'error', code: 'closed' }); }
                });
            },
            closed: new Promise((r) => ws.on('close', r)),
        };
        ws.on('message', (d) => {
            let m;
            try { m = JSON.parse(d); } catch { return; }
            if (m.id && pending.has(m.id)) {
                pending.get(m.id)(m);
                pending.delete(m.id);
            }
        });
        ws.on('close', () => {
            for (const r of pending.values()) r({ type: 'error', code: 'closed' });
            pending.clear();
        });
        ws.once('open', () => resolve(c));
        ws.once('error', reject);
    });
}

/* What each unexpected answer was, printed at the end (counts.errors is their total). */
const errorKinds = new Map();
function unexpected(kind) {
    counts.errors++;
    errorKinds.set(kind, (errorKinds.get(kind) || 0) + 1);
}

let seatIds = [];
let cookie = '';

async function buyer() {
    while (!stopping) {
        let c;
        try {
            c = await connect();
        } catch (e) {
            unexpected(`connect: ${e.code || e.message}`);
            await sleep(500);
            continue;
        }
        const hello = await c.request({ type: 'hello' });
        if (hello.type !== 'ok') { unexpected(`hello: ${hello.code}`); c.ws.close(); await sleep(500); continue; }
        await c.request({ type: 'watch', show: SHOW });
        /* a number of cycles on this connection, then a reconnect */
        const cycles = 5 + rnd(30);
        for (let i = 0; i < cycles && !stopping && c.ws.readyState === WebSocket.OPEN; i++) {
            const seats = Array.from({ length: 1 + rnd(3) }, () => seatIds[rnd(seatIds.length)]);
            counts.holds++;
            const r = await c.request({ type: 'hold', show: SHOW, seats: [...new Set(seats)] });
            await sleep(Number(opt['think-ms']));
            if (r.type !== 'ok') {
                if (r.code === 'seat_unavailable') counts.refused++;
                else if (r.code !== 'closed') unexpected(`hold: ${r.code}`);
                continue;
            }
            counts.held++;
            const roll = rnd(10);
            if (roll < 4) {
                counts.releases++;
                await c.request({ type: 'release', show: SHOW, seats: r.hold.seats });
            } else if (roll < 6) {
                /* let it lapse: wait past its deadline, the sweep expires it */
                counts.expiries++;
                await sleep(Math.max(0, r.hold.expires_at - Date.now()) + 300);
            } else {
                const b = await request('POST', `/api/shows/${SHOW}/bookings`, {
                    cookie, json: { hold: r.hold.ref, payment_ref: `soak-${process.pid}-${Date.now()}-${rnd(1e9)}` },
                });
                if (b.status === 201) {
                    counts.confirms++;
                    const d = await request('DELETE', `/api/shows/${SHOW}/bookings/${b.json.booking.id}`, { cookie });
                    if (d.status === 200) counts.cancels++;
                    else unexpected(`cancel: HTTP ${d.status} ${d.json?.error?.code || ''}`);
                } else if (b.status !== 410 && b.status !== 409) {
                    unexpected(`confirm: HTTP ${b.status} ${b.json?.error?.code || ''}`);
                }
            }
        }
        counts.reconnects++;
        c.ws.close();
        await c.closed;
    }
}

/* Watches, then stops reading; the server cuts it off when its queue is
 * full (or it lingers until the next reconnect), then it comes back. */
async function slowReader() {
    while (!stopping) {
        let c;
        try {
            c = await connect();
        } catch {
            await sleep(500);
            continue;
        }
        await c.request({ type: 'hello' });
        await c.request({ type: 'watch', show: SHOW });
        c.ws._socket.pause();
        const cut = await Promise.race([c.closed.then(() => true), sleep(60000 + rnd(30000)).then(() => false)]);
        if (cut) counts.slow_cuts++;
        c.ws.terminate();
        await c.closed;
    }
}

function sample() {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const rss = Number(/VmRSS:\s+(\d+)/.exec(status)[1]);
    const fds = readdirSync(`/proc/${pid}/fd`).length;
    return { t: Date.now(), rss, fds };
}

const mean = (xs) => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);

async function main() {
    const layout = await request('GET', `/api/shows/${SHOW}`);
    if (layout.status !== 200) throw new Error(`GET /api/shows/${SHOW}: ${layout.status}`);
    seatIds = layout.json.seats.map((s) => s.id);
    const l = await request('POST', '/api/login', { json: { username: opt.user, password: opt.password } });
    cookie = [].concat(l.headers?.['set-cookie'] || []).map((x) => x.split(';')[0]).find((x) => x.startsWith('seatmap_session=')) || '';
    if (!cookie) throw new Error(`login: ${l.status}`);

    const samples = [];
    const t0 = Date.now();
    const workers = [
        ...Array.from({ length: Number(opt.buyers) }, buyer),
        ...Array.from({ length: Number(opt.slow) }, slowReader),
    ];
    let alive = true;
    while (Date.now() - t0 < seconds * 1000) {
        try {
            samples.push(sample());
        } catch {
            alive = false;
            break;
        }
        await sleep(1000);
    }
    stopping = true;
    await Promise.race([Promise.all(workers), sleep(15000)]);
    if (opt.samples) writeFileSync(opt.samples, samples.map((s) => `${s.t - t0} ${s.rss} ${s.fds}`).join('\n') + '\n');

    const n = samples.length;
    const win = Math.max(3, Math.floor(n / 10));
    const mid = samples.slice(Math.floor(n / 2 - win / 2), Math.floor(n / 2 + win / 2));
    const end = samples.slice(n - win);
    const growth = (a, b) => ((b - a) / a) * 100;
    const fdsMid = Math.min(...mid.map((s) => s.fds));
    const fdsEnd = Math.min(...end.map((s) => s.fds));
    const rssGrowth = growth(mean(mid.map((s) => s.rss)), mean(end.map((s) => s.rss)));
    const fdGrowth = growth(fdsMid, fdsEnd);
    const first = samples[0] || { rss: 0, fds: 0 };
    const maxRss = Math.max(...samples.map((s) => s.rss));
    const ops = counts.held;
    const line = `result soak seconds=${seconds} samples=${n} rss_kb_start=${first.rss} rss_kb_mid=${Math.round(mean(mid.map((s) => s.rss)))} ` +
        `rss_kb_end=${Math.round(mean(end.map((s) => s.rss)))} rss_kb_max=${maxRss} rss_growth_pct=${rssGrowth.toFixed(2)} ` +
        `fds_min_mid=${fdsMid} fds_min_end=${fdsEnd} fds_max=${Math.max(...samples.map((s) => s.fds))} fd_growth_pct=${fdGrowth.toFixed(2)} ` +
        Object.entries(counts).map(([k, v]) => `${k}=${v}`).join(' ');
    console.log(line);
    for (const [kind, n] of errorKinds) console.error(`soak: unexpected answer ${n} times: ${kind}`);
    if (!alive) { console.error('soak: seatmapd is gone'); process.exit(2); }
    if (!ops || !counts.confirms || !counts.reconnects) { console.error('soak: not enough traffic got through'); process.exit(2); }
    if (rssGrowth >= 5 || fdGrowth >= 5) {
        console.error(`soak: NOT FLAT: RSS grew ${rssGrowth.toFixed(2)} %, fds ${fdGrowth.toFixed(2)} % over the second half`);
        process.exit(1);
    }
    console.error(`soak: flat: RSS ${rssGrowth.toFixed(2)} %, fds ${fdGrowth.toFixed(2)} % over the second half`);
    process.exit(0);
}

main().catch((e) => {
    console.error(`soak: ${e.message}`);
    process.exit(2);
});
