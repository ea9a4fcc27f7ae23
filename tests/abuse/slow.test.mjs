/*
 * slow.test.mjs - slow and stuck clients against the real seatmapd with its
 * default limits: 200 slowloris connections, and a watcher that never reads
 * while thousands of seat changes a second flow. Server memory must stay
 * bounded, and well-behaved clients from other addresses (127.0.0.2 and up)
 * must see no difference: their holds answered, their maps in sync.
 */
import { after, before } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { readFileSync } from 'node:fs';
import { httpRequest, startStack, testWithLogs, waitUntil } from '../lib/stack.mjs';

let stack;
const it = testWithLogs(() => stack);

function rssMb(pid) {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return Number(m[1]) / 1024;
}

before(async () => {
    stack = await startStack({ holdTtl: 60 });
});

after(async () => {
    if (stack) await stack.stop();
});

it('200 slowloris connections are cut by the header timeout; others are served meanwhile', async () => {
    const before = rssMb(stack.server.pid);
    const closedAt = [];
    const t0 = Date.now();
    const socks = await Promise.all(Array.from({ length: 200 }, (_, i) => new Promise((resolve) => {
        const s = net.connect({ port: stack.server.port, host: '127.0.0.1' });
        s.on('error', () => {});
        s.on('close', () => closedAt.push(Date.now() - t0));
        s.once('connect', () => {
            s.write('GET / HTTP/1.1\r\nHost: x\r\n');
            /* one more header byte a second, never the blank line */
            s.drip = setInterval(() => { if (!s.destroyed) s.write('X'); }, 1000);
            resolve(s);
        });
        void i;
    })));
    /* a buyer and a page from other addresses are served at once */
    const c = await stack.buyer({ localAddress: '127.0.0.2' });
    const seat = (await stack.seatIds()).at(-1);
    const r = await c.hold('demo', [seat]);
    assert.equal(r.type, 'ok', JSON.stringify(r));
    await c.release('demo', [seat]);
    const page = await httpRequest(stack.baseUrl, 'GET', '/', { localAddress: '127.0.0.3', timeoutMs: 3000 });
    assert.equal(page.status, 200);
    await waitUntil(() => closedAt.length === 200, 30000, 'every slowloris connection closed by the server');
    for (const s of socks) clearInterval(s.drip);
    console.log(`slowloris: 200 cut after ${Math.min(...closedAt)}-${Math.max(...closedAt)} ms, RSS ${Math.round(before)} -> ${Math.round(rssMb(stack.server.pid))} MB`);
    assert.ok(Math.max(...closedAt) < 25000, `last one cut after ${Math.max(...closedAt)} ms`);
    assert.ok(rssMb(stack.server.pid) - before < 50, 'memory bounded');
    await c.close();
});

it('a watcher that never reads while changes flow: memory bounded, other watchers in sync', async () => {
    const ids = await stack.seatIds();
    const stuck = await stack.buyer({ localAddress: '127.0.0.4' });
    stuck.ws._socket.pause(); /* never reads again */
    const good = await stack.buyer({ localAddress: '127.0.0.5' });
    const before = rssMb(stack.server.pid);
    /* 10 actors from 10 addresses, 10 seats per request: thousands of changes a second */
    const actors = await Promise.all(Array.from({ length: 10 }, (_, i) => stack.buyer({ watch: null, localAddress: `127.0.2.${i + 1}` })));
    let changes = 0;
    let peak = before;
    const deadline = Date.now() + 6000;
    await Promise.all(actors.map(async (a, i) => {
        const mine = ids.slice(i * 10, i * 10 + 10);
        /* a polite actor: backs off for one token's time when told
         * rate_limited (one that ignores it is closed as a flooder) */
        const backoff = (r) => (r.code === 'rate_limited' ? new Promise((ok) => setTimeout(ok, 20)) : null);
        while (Date.now() < deadline) {
            const h = await a.request({ type: 'hold', show: 'demo', seats: mine });
            if (h.type === 'ok') changes += mine.length;
            await backoff(h);
            const r = await a.request({ type: 'release', show: 'demo', seats: mine });
            if (r.type === 'ok') changes += mine.length;
            await backoff(r);
            peak = Math.max(peak, rssMb(stack.server.pid));
        }
    }));
    console.log(`never-reader: ${Math.round(changes / 6)} changes/s, RSS ${Math.round(before)} -> peak ${Math.round(peak)} MB`);
    assert.ok(changes / 6 > 1000, `${Math.round(changes / 6)} changes/s`);
    assert.ok(peak - before < 60, `RSS grew ${Math.round(peak - before)} MB with a stuck watcher`);
    /* the good watcher's map matches the server's */
    const truth = async () => (await stack.seats()).seats;
    await waitUntil(async () => good.modelString() === (await truth()), 5000, 'good watcher in sync');
    assert.equal(good.model.gaps.length, 0, 'no gaps for the good watcher');
    /* a hold from another address is answered as usual */
    const t = Date.now();
    const r = await good.hold('demo', [ids.at(-2)]);
    assert.equal(r.type, 'ok');
    assert.ok(Date.now() - t < 1000);
    await good.release('demo', [ids.at(-2)]);
    stuck.ws.terminate();
    await Promise.all([...actors, good].map((x) => x.close()));
});
