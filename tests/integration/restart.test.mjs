/*
 * restart.test.mjs - restarts nobody notices (docs/operations.md,
 * "Restarts"): two seatmapd on one port with --reuse-port, then SIGTERM to
 * the old one, under steady traffic of holds, releases, confirmations,
 * reads and watchers. No watcher loses a change (each reconnects on 1001,
 * gets a snapshot whose seq is never behind what it had, and ends equal to
 * a fresh snapshot), no HTTP request fails, the old process exits 0 in
 * time. Then SIGTERM while a confirmation waits for Redis: it is answered
 * 201 and the booking is there for the next process. And the bound: a
 * request that cannot finish does not keep the process alive past
 * --shutdown-timeout.
 */
import { before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { startStack, testWithLogs, seatPool, waitUntil, bookingsOf } from '../lib/stack.mjs';

let stack;
let pool;
let cookie;
const it = testWithLogs(() => stack);

before(async () => {
    stack = await startStack({ holdTtl: 30, extraArgs: ['--reuse-port', '--shutdown-timeout', '10', '--ip-limits', 'off'] /* many clients from one address */ });
    pool = seatPool(await stack.seatIds());
    cookie = await stack.login();
});
after(async () => {
    await stack?.stop();
});

/* One HTTP request on a fresh connection; rejects on a network error. */
function request(method, p, { json, agent = false, onSent } = {}) {
    const body = json === undefined ? undefined : JSON.stringify(json);
    return new Promise((resolve, reject) => {
        const req = http.request(
            {
                host: '127.0.0.1', port: stack.server.port, method, path: p, agent,
                headers: {
                    Cookie: cookie, Origin: stack.origin, 'Content-Type': 'application/json',
                    'Content-Length': body ? Buffer.byteLength(body) : 0,
                },
            },
            (res) => {
                const chunks = [];
                res.on('data', (c) => chunks.push(c));
                res.on('end', () => {
                    const text = Buffer.concat(chunks).toString();
                    let j;
                    try { j = JSON.parse(text); } catch { j = undefined; }
                    resolve({ status: res.statusCode, text, json: j, headers: res.headers });
                });
            },
        );
        req.setTimeout(15000, () => req.destroy(new Error(`${method} ${p}: timeout`)));
        req.on('error', reject);
        if (onSent) req.on('finish', onSent);
        req.end(body);
    });
}

/* A page's connection: reconnects at once when closed, says hello with its
 * buyer token again and watches again. Records every connection's model. */
function resilient(name, { watch = true } = {}) {
    const r = {
        name, buyer: undefined, c: null, models: [], closes: [], errors: [], stopped: false,
        async connect() {
            const deadline = Date.now() + 10000;
            for (;;) {
                try {
                    const c = await stack.client({ url: stack.wsUrl });
                    await c.hello(r.buyer);
                    r.buyer = c.buyer;
                    if (watch) await c.watch('demo');
                    r.c = c;
                    r.models.push(c.model);
                    c.closed.then((info) => {
                        r.closes.push(info.code);
                        if (!r.stopped) r.ready = r.connect();
                    });
                    return c;
                } catch (e) {
                    if (Date.now() > deadline) throw e;
                    r.errors.push(e.message);
                }
            }
        },
    };
    r.ready = r.connect();
    return r;
}

it('a rolling restart under traffic loses no change and fails no request', async () => {
    const A = stack.server;
    const watchers = [resilient('w1'), resilient('w2'), resilient('w3')];
    const actors = [resilient('a1', { watch: false }), resilient('a2', { watch: false })];
    await Promise.all([...watchers, ...actors].map((x) => x.ready));
    const seats = pool.take(40);
    const stats = { holds: 0, releases: 0, interrupted: 0, bookings: [], httpOk: 0, httpFailed: [] };
    let running = true;

    /* buyers hold and release seats as fast as the server answers */
    const actorLoop = async (a, mine) => {
        let i = 0;
        while (running) {
            const seat = mine[i++ % mine.length];
            try {
                await a.ready;
                const h = await a.c.hold('demo', [seat]);
                if (h.type === 'ok') stats.holds++;
                const rl = await a.c.release('demo', [seat]);
                if (rl.type === 'ok') stats.releases++;
            } catch {
                stats.interrupted++; /* the connection closed under a request: it reconnects */
                await waitUntil(() => !running || (a.c && a.c.isOpen()), 10000, `${a.name} back`);
            }
        }
    };
    /* the box office confirms holds of a third buyer, one new connection per request */
    const seller = resilient('seller', { watch: false });
    await seller.ready;
    const confirmLoop = async (mine) => {
        for (const seat of mine) {
            if (!running) break;
            let h;
            try {
                await seller.ready;
                h = await seller.c.call({ type: 'hold', show: 'demo', seats: [seat] });
            } catch {
                stats.interrupted++;
                continue;
            }
            try {
                const r = await request('POST', '/api/shows/demo/bookings', {
                    json: { hold: h.hold.ref, payment_ref: `pay-roll-${seat}` },
                });
                if (r.status === 201) stats.bookings.push({ seat, id: r.json.booking.id });
                else stats.httpFailed.push(`confirm ${seat}: ${r.status} ${r.text}`);
            } catch (e) {
                stats.httpFailed.push(`confirm ${seat}: ${e.message}`);
            }
        }
    };
    const readLoop = async () => {
        while (running) {
            try {
                const r = await request('GET', '/api/shows/demo/seats');
                if (r.status === 200) stats.httpOk++;
                else stats.httpFailed.push(`GET seats: ${r.status}`);
            } catch (e) {
                stats.httpFailed.push(`GET seats: ${e.message}`);
            }
        }
    };
    const loops = [
        actorLoop(actors[0], seats.slice(0, 10)), actorLoop(actors[1], seats.slice(10, 20)),
        confirmLoop(seats.slice(20, 40)), readLoop(), readLoop(),
    ];

    await waitUntil(() => stats.holds >= 30 && stats.bookings.length >= 3, 15000, 'traffic before the restart');
    /* the new process on the same port, then SIGTERM to the old one */
    const B = await stack.addServer({ port: A.port });
    /* its own word, not /healthz (which A may answer): B listens once loaded */
    await waitUntil(() => /seatmapd: listening on/.test(B.stderr()), 15000, 'the new process listening');
    const before = { holds: stats.holds, bookings: stats.bookings.length };
    const t0 = Date.now();
    const exit = await A.kill('SIGTERM');
    const stopMs = Date.now() - t0;
    assert.deepEqual(exit, { code: 0, signal: null }, 'the old process exits 0');
    assert.ok(stopMs < 10000, `stopped in ${stopMs} ms`);
    assert.match(A.stderr(), /drained in \d+ ms/);
    await waitUntil(() => stats.holds >= before.holds + 30 && stats.bookings.length >= before.bookings + 3, 15000, 'traffic after the restart');
    running = false;
    await Promise.all(loops);

    /* every watcher was told "going away" and came back at once */
    for (const w of watchers) {
        assert.ok(w.closes.includes(1001), `${w.name} closes: ${w.closes}`);
        assert.ok(w.models.length >= 2, `${w.name} reconnected`);
    }
    /* no HTTP request failed */
    assert.deepEqual(stats.httpFailed, [], 'failed HTTP requests');
    assert.ok(stats.httpOk > 20, `reads: ${stats.httpOk}`);

    /* no lost change: every connection's deltas chained without a gap, each
     * new snapshot was at least as new as what the connection before it had,
     * and every watcher ends where a fresh snapshot is */
    const fresh = await stack.buyer();
    for (const w of watchers) {
        await w.ready;
        for (let i = 0; i < w.models.length; i++) {
            assert.deepEqual(w.models[i].gaps, [], `${w.name} connection ${i} had gaps`);
            assert.deepEqual(w.models[i].errors.filter((e) => !/ws error/.test(e)), [], `${w.name} errors`);
            if (i > 0) assert.ok(w.models[i].history.length === 0 || w.models[i].seq >= w.models[i - 1].seq, 'seq never goes back');
        }
        await waitUntil(() => w.c.model.seq === fresh.model.seq, 5000, `${w.name} at seq ${fresh.model.seq}`);
        assert.equal(w.c.modelString(), fresh.modelString(), `${w.name} sees what a fresh page sees`);
    }
    /* a new watcher's snapshot is the state of the last delta (up to a
     * tick old): wait for it to show every booking that was answered 201 */
    await fresh.waitFor((c) => stats.bookings.every(({ seat }) => c.state(seat) === 'b'), 3000, 'every booking');
    const listed = bookingsOf((await request('GET', '/api/shows/demo/bookings')).json);
    for (const { id } of stats.bookings) assert.ok(listed.some((b) => b.id === id), `booking ${id} listed`);
    console.log(`# rolling restart: old process stopped in ${stopMs} ms; ${stats.holds} holds, ` +
        `${stats.releases} releases, ${stats.bookings.length} bookings, ${stats.httpOk} reads, ` +
        `${stats.interrupted} WebSocket requests cut by a close, 0 HTTP failures`);
    for (const x of [...watchers, ...actors, seller]) {
        x.stopped = true;
        await x.c?.close();
    }
    await fresh.close();
    stack.server = B;
});

it('SIGTERM during a confirmation: it is committed and answered 201', async () => {
    const B = stack.server;
    const [seat] = pool.take(1);
    const buyer = await stack.buyer({ watch: null });
    const h = (await buyer.call({ type: 'hold', show: 'demo', seats: [seat] })).hold;
    await buyer.close();
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    assert.equal((await request('GET', '/healthz', { agent })).status, 200); /* an open connection */
    /* Redis holds every write for 1.5 s: the confirmation waits in freeze.lua */
    await stack.redis.cli('CLIENT', 'PAUSE', '1500', 'WRITE');
    let sent;
    const wasSent = new Promise((resolve) => (sent = resolve));
    const answer = request('POST', '/api/shows/demo/bookings', {
        agent, json: { hold: h.ref, payment_ref: 'pay-sigterm' }, onSent: sent,
    });
    await wasSent;
    const exited = B.kill('SIGTERM');
    const r = await answer;
    assert.equal(r.status, 201, r.text);
    assert.equal(r.headers.connection, 'close', 'a draining server says so');
    assert.deepEqual(await exited, { code: 0, signal: null });
    agent.destroy();
    /* durable: the next process has it */
    const C = await stack.addServer({ port: B.port });
    await waitUntil(() => /seatmapd: listening on/.test(C.stderr()), 15000, 'the next process listening');
    stack.server = C;
    const listed = bookingsOf((await request('GET', '/api/shows/demo/bookings')).json);
    assert.ok(listed.some((b) => b.payment_ref === 'pay-sigterm' && b.seats.includes(seat)), 'the booking is there');
    const fresh = await stack.buyer();
    assert.equal(fresh.state(seat), 'b');
    await fresh.close();
});

it('a request that cannot finish does not hold the stop past --shutdown-timeout', async () => {
    const D = await stack.addServer({ extraArgs: ['--shutdown-timeout', '1'] });
    const c = await stack.client({ url: D.wsUrl });
    await c.hello();
    await stack.redis.cli('CLIENT', 'PAUSE', '4000', 'WRITE');
    const pending = c.hold('demo', pool.take(1)).catch((e) => e);
    await waitUntil(async () => /cmd=evalsha/.test(await stack.redis.cli('CLIENT', 'LIST')), 3000, 'the hold waiting in Redis');
    const t0 = Date.now();
    const exit = await D.kill('SIGTERM');
    const ms = Date.now() - t0;
    assert.deepEqual(exit, { code: 0, signal: null });
    assert.ok(ms >= 900 && ms < 3000, `stopped after ${ms} ms`);
    assert.match(D.stderr(), /still 1 WebSocket connections and 0 HTTP requests after 1000 ms/);
    await pending;
    await stack.redis.cli('CLIENT', 'UNPAUSE');
});
