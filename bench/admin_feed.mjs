#!/usr/bin/env node
/*
 * admin_feed.mjs - what the live /admin dashboard costs the server: µs of
 * seatmapd CPU per `admin` update (docs/webhooks.md), measured from
 * /proc/PID/stat so that the figure does not depend on how busy the machine
 * is. A real seatmapd and Redis (tests/lib/stack.mjs), the demo show, W
 * webhooks pointing at a local receiver, each with 25+ deliveries; then
 * seatmapd's CPU over S seconds with no dashboard open, with one, and with
 * D open at once (one frame per second is built once and shared).
 *
 *   SEATMAPD=build/seatmapd node bench/admin_feed.mjs [SECONDS=15] [WEBHOOKS=4] [DASHBOARDS=10]
 */
import { readFileSync } from 'node:fs';
import http from 'node:http';
import { startStack, freePort } from '../tests/lib/stack.mjs';

const SECONDS = Number(process.argv[2] || 15);
const WEBHOOKS = Number(process.argv[3] || 4);
const DASHBOARDS = Number(process.argv[4] || 10);
const TICK = 100 / 1e6; // clock ticks per µs (USER_HZ is 100 on Linux)

function cpuUs(pid) {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return (Number(f[11]) + Number(f[12])) / TICK; // utime + stime
}

async function window(pid, clients) {
    const n0 = clients.reduce((a, c) => a + c.events.filter((e) => e.type === 'admin').length, 0);
    const c0 = cpuUs(pid);
    await new Promise((r) => { setTimeout(r, SECONDS * 1000); });
    const c1 = cpuUs(pid);
    const n1 = clients.reduce((a, c) => a + c.events.filter((e) => e.type === 'admin').length, 0);
    return { cpu: c1 - c0, frames: n1 - n0 };
}

const port = await freePort();
const receiver = http.createServer((req, res) => { req.resume(); req.on('end', () => { res.writeHead(204); res.end(); }); });
await new Promise((r) => { receiver.listen(port, '127.0.0.1', r); });
const stack = await startStack({ holdTtl: 600, extraArgs: ['--ip-limits', 'off'] });
try {
    const cookie = await stack.login();
    for (let i = 0; i < WEBHOOKS; i++) {
        await stack.api('POST', '/api/webhooks', { cookie, json: { url: `http://127.0.0.1:${port}/h${i}`, events: ['*'] } });
    }
    const ids = await stack.seatIds();
    for (let i = 0; i < 30; i++) {
        const b = await stack.buyer({ watch: null });
        await b.call({ type: 'hold', show: 'demo', seats: [ids[i * 7]] });
    }
    await new Promise((r) => { setTimeout(r, 3000); }); // deliveries made and delivered
    const pid = stack.server.pid;
    const idle = await window(pid, []);
    const open = async () => {
        const c = await stack.client({ url: stack.wsUrl, origin: stack.origin, headers: { Cookie: cookie } });
        await c.hello();
        await c.call({ type: 'admin', id: 1 });
        return c;
    };
    const one = [await open()];
    const single = await window(pid, one);
    const many = [...one];
    for (let i = 1; i < DASHBOARDS; i++) many.push(await open());
    const multi = await window(pid, many);
    const perFrame = (w) => (w.cpu - idle.cpu) / Math.max(1, w.frames);
    const perUpdate = (w, n) => (w.cpu - idle.cpu) / Math.max(1, w.frames / n);
    console.log(`seatmapd CPU over ${SECONDS} s, ${WEBHOOKS} webhooks, demo show (797 seats):`);
    console.log(`  no dashboard:  ${(idle.cpu / SECONDS).toFixed(0)} µs/s (heartbeat, sweeps, webhooks' polling)`);
    console.log(`  1 dashboard:   ${single.frames} updates, ${perFrame(single).toFixed(0)} µs of CPU per update above idle`);
    console.log(`  ${DASHBOARDS} dashboards: ${multi.frames} frames, ${perUpdate(multi, DASHBOARDS).toFixed(0)} µs per update (all ${DASHBOARDS} served), ${perFrame(multi).toFixed(0)} µs per frame sent`);
} finally {
    await stack.stop();
    receiver.close();
}
