/*
 * admin-feed.test.mjs - the WebSocket `admin` request (docs/protocol.md) with a real
 * seatmapd (two processes) and Redis: refused without a session (unauthorized) and for the
 * box-office role (forbidden); an administrator gets `admin` updates at a bounded rate (about
 * one a second, however many seats change) carrying the shows' counts, every process by its
 * heartbeat (a stopped one drops off), health and webhooks; logging out ends the feed.
 */
import { before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startStack, testWithLogs, seatPool } from '../lib/stack.mjs';

let stack;
let pool;
let cookie;
const it = testWithLogs(() => stack);

before(async () => {
    stack = await startStack({ holdTtl: 60, extraArgs: ['--ip-limits', 'off'] });
    pool = seatPool(await stack.seatIds());
    cookie = await stack.login();
});
after(async () => {
    await stack?.stop();
});

function admin(cookieHeader, server = stack.server) {
    return stack.client({ url: server.wsUrl, origin: server.origin, headers: cookieHeader ? { Cookie: cookieHeader } : {} });
}

/* A connection that said hello and subscribed: the reply. */
async function subscribe(c) {
    await c.hello();
    return c.call({ type: 'admin', id: 1 });
}

const updates = (c) => c.events.filter((e) => e.type === 'admin');

it('refused without a session and for the box-office role; nothing is pushed', async () => {
    const anon = await admin(null);
    assert.equal((await anon.request({ type: 'admin', id: 1 })).code, 'hello_required');
    await anon.hello();
    const r1 = await anon.request({ type: 'admin', id: 1 });
    assert.equal(r1.type, 'error');
    assert.equal(r1.code, 'unauthorized');
    assert.match(r1.message, /log in/);

    const bogus = await admin('seatmap_session=00112233');
    await bogus.hello();
    assert.equal((await bogus.request({ type: 'admin', id: 1 })).code, 'unauthorized');

    await stack.addUser('clerk', 'boxoffice', 'clerk password 123');
    const clerkCookie = await stack.login('clerk', 'clerk password 123');
    const clerk = await admin(clerkCookie);
    await clerk.hello();
    const r2 = await clerk.request({ type: 'admin', id: 7 });
    assert.equal(r2.type, 'error');
    assert.equal(r2.id, 7);
    assert.equal(r2.code, 'forbidden');
    /* The connection still works for the seat map. */
    await clerk.watch('demo');
    await new Promise((res) => { setTimeout(res, 1500); });
    for (const c of [anon, bogus, clerk]) assert.equal(updates(c).length, 0, 'no admin update to a refused client');
});

it('an administrator gets about one update a second, with counts, processes, health', async () => {
    const c = await admin(cookie);
    const ok = await subscribe(c);
    assert.equal(ok.user, stack.staff.user);
    assert.equal(ok.push_ms, 1000);
    await c.waitFor(() => updates(c).length >= 1, 3000, 'the first update at once');
    const first = updates(c)[0];
    assert.deepEqual(first.health, { redis: 'up', database: 'up', queue: 'up' });
    const demo = first.shows.find((s) => s.id === 'demo');
    assert.equal(demo.empty + demo.pending + demo.booked, demo.seats);
    assert.ok(first.processes.some((p) => p.name === first.process && p.pid > 0 && p.uptime_s >= 0));
    assert.ok(Array.isArray(first.webhooks));

    /* A burst of 40 holds over ~2 s: still about one update a second. */
    const since = Date.now();
    const n0 = updates(c).length;
    const buyers = await Promise.all(Array.from({ length: 4 }, () => stack.buyer({ watch: null })));
    for (let i = 0; i < 10; i++) {
        await Promise.all(buyers.map((b) => b.call({ type: 'hold', show: 'demo', seats: pool.take(1) })));
        await new Promise((res) => { setTimeout(res, 200); });
    }
    await c.waitFor(() => {
        const last = updates(c).at(-1);
        return last.shows.find((s) => s.id === 'demo').pending >= demo.pending + 40;
    }, 5000, 'the 40 held seats on the dashboard');
    const elapsed = (Date.now() - since) / 1000;
    const got = updates(c).length - n0;
    assert.ok(got <= Math.ceil(elapsed) + 2, `${got} updates in ${elapsed.toFixed(1)} s`);
    const last = updates(c).at(-1).shows.find((s) => s.id === 'demo');
    assert.equal(last.holds, demo.holds + 4);
});

it('every process appears by its heartbeat; one that stops drops off', async () => {
    const second = await stack.addServer();
    const c = await admin(cookie);
    await subscribe(c);
    const names = () => updates(c).at(-1)?.processes.map((p) => p.name) || [];
    await c.waitFor(() => names().length === 2, 8000, 'two processes');
    assert.ok(names().some((n) => n.endsWith(`:${second.port}`)), names().join(', '));
    /* The second process's own dashboard sees both too. */
    const c2 = await admin(cookie, second);
    await subscribe(c2);
    await c2.waitFor(() => updates(c2).at(-1)?.processes.length === 2, 8000, 'two processes from the second');
    await c2.close();
    await second.stop();
    stack.servers.splice(stack.servers.indexOf(second), 1);
    await c.waitFor(() => names().length === 1, 10000, 'the stopped process dropped off');
});

it('logging out ends the feed with admin_end', { timeout: 60000 }, async () => {
    const mine = await stack.login();
    const c = await admin(mine);
    await subscribe(c);
    await c.waitFor(() => updates(c).length >= 1, 3000, 'an update');
    const out = await stack.api('POST', '/api/logout', { cookie: mine, json: {} });
    assert.equal(out.status, 200, out.text);
    await c.waitFor(() => c.events.some((e) => e.type === 'admin_end'), 20000, 'admin_end after the logout');
    const n = updates(c).length;
    await new Promise((res) => { setTimeout(res, 2000); });
    assert.equal(updates(c).length, n, 'no more updates');
    /* Subscribing again with the dead session: unauthorized. */
    assert.equal((await c.request({ type: 'admin', id: 2 })).code, 'unauthorized');
});
