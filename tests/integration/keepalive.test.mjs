/*
 * keepalive.test.mjs - WebSocket pings (docs/protocol.md "Ping/pong"): the
 * server pings a connection --ws-ping-s after its last pong and drops one
 * whose pong has not come at 7/4 of it (20 s -> 35 s by default; 1 s ->
 * 1.75 s here). A browser answers pings by itself; a peer that stopped
 * answering (a dead NAT mapping, a suspended laptop) is dropped, and one
 * that answers stays however long it is idle, its frames intact.
 */
import { before, after } from 'node:test';
import assert from 'node:assert/strict';
import WebSocket from 'ws';
import { startStack, testWithLogs, waitUntil } from '../lib/stack.mjs';

let stack;
const it = testWithLogs(() => stack);

before(async () => {
    stack = await startStack({ holdTtl: 30, extraArgs: ['--ws-ping-s', '1'] });
});
after(async () => {
    await stack?.stop();
});

/* A raw connection: pings counted, pongs answered only when autoPong. */
function connect(autoPong) {
    const ws = new WebSocket(stack.wsUrl, 'seatmap.v1', { origin: stack.origin, autoPong });
    const peer = { ws, pings: 0, messages: [], closed: null, openedAt: 0 };
    ws.on('ping', () => peer.pings++);
    ws.on('message', (d) => peer.messages.push(JSON.parse(d.toString())));
    ws.on('close', (code) => (peer.closed = { code, at: Date.now() }));
    return new Promise((resolve, reject) => {
        ws.on('open', () => {
            peer.openedAt = Date.now();
            resolve(peer);
        });
        ws.on('error', reject);
    });
}

it('a connection that answers pings stays open, pinged about once a second, and its frames are intact', async () => {
    const p = await connect(true);
    p.ws.send(JSON.stringify({ type: 'hello', id: 1 }));
    p.ws.send(JSON.stringify({ type: 'watch', id: 2, show: 'demo' }));
    await waitUntil(() => p.messages.some((m) => m.type === 'snapshot'), 5000, 'the snapshot');
    const seats = (await stack.seatIds()).slice(0, 3);
    /* another buyer holds seats while the pings go on: every change arrives */
    const b = await stack.buyer({ watch: null });
    for (const s of seats) assert.equal((await b.request({ type: 'hold', show: 'demo', seats: [s] })).type, 'ok');
    await waitUntil(() => p.pings >= 4, 10000, 'four pings');
    const seen = new Set(p.messages.filter((m) => m.type === 'delta').flatMap((m) => m.seats.map((c) => c[0])));
    for (const s of seats) assert.ok(seen.has(s), `the hold of ${s} reached the watcher`);
    assert.equal(p.closed, null, 'still open');
    await b.close();
    p.ws.close();
});

it('a connection that stops answering pings is dropped at 7/4 of the ping period', async () => {
    const p = await connect(false);
    p.ws.send(JSON.stringify({ type: 'hello', id: 1 }));
    await waitUntil(() => p.pings >= 1, 5000, 'a ping');
    await waitUntil(() => p.closed, 6000, 'the server to drop the connection');
    const after = p.closed.at - p.openedAt;
    assert.ok(after >= 1500, `dropped ${after} ms after opening, not before 1.75 s`);
    /* the server goes on: a new connection is answered */
    const q = await connect(true);
    q.ws.send(JSON.stringify({ type: 'hello', id: 7 }));
    await waitUntil(() => q.messages.some((m) => m.id === 7), 5000, 'a reply on a new connection');
    q.ws.close();
});
