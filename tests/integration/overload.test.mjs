/*
 * overload.test.mjs - graceful overload and resumed watches (issue 13):
 * a reader that stops reading gets no queue of deltas but one merged delta
 * when it reads again, and converges to the exact state with no seq gap;
 * replies to its requests overtake the fan-out frames waiting for it; a
 * watch with `since` gets one delta instead of a snapshot when the server
 * still has every change after it, and a snapshot otherwise (also after a
 * restart). Slow reader and resume run over seatmap.v2 too (binary merged
 * deltas); only v1's 60 KB snapshots are big enough to make the test's
 * reader fall behind. A reader that stops reading altogether is closed
 * after --stuck-reader-ms while one that reads slowly is not, and the
 * server's memory stays bounded meanwhile.
 * Not here: the 10k-watcher figures (bench/, docs/benchmarks.md).
 */
import { before, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { readFileSync } from 'node:fs';
import { REPO, seatmapdCli, startStack, testWithLogs, waitUntil } from '../lib/stack.mjs';

let stack;
let stadium; /* seat ids of the stadium, in snapshot order */
const it = testWithLogs(() => stack);

before(async () => {
    /* Requests as fast as the test sends them. */
    stack = await startStack({ holdTtl: 120, extraArgs: ['--ip-limits', 'off', '--rate', '5000'] });
    const r = await seatmapdCli(['show', 'add', 'stadium', '--venue', path.join(REPO, 'assets/venues/stadium.json'),
        '--name', 'Cup Final', '--db', stack.dbPath]);
    assert.equal(r.code, 0, `show add: ${r.stderr}`);
    await stack.server.restart(); // picks up the new show
    const L = await stack.api('GET', '/api/shows/stadium');
    assert.equal(L.status, 200, L.text);
    stadium = L.json.seats.map((s) => s.id);
});
after(async () => {
    await stack?.stop();
});

async function seatsOf(show) {
    const r = await stack.api('GET', `/api/shows/${show}/seats`);
    assert.equal(r.status, 200, r.text);
    return r.json;
}

async function metric(name) {
    const r = await stack.api('GET', '/metrics');
    const m = r.text.match(new RegExp(`^${name}(?:\\{[^}]*\\})? ([0-9.e+]+)$`, 'm'));
    return m ? Number(m[1]) : 0;
}

/* A watcher of the stadium that has just applied its snapshot. */
async function stadiumWatcher(protocol = 'seatmap.v1') {
    const c = await stack.client({ layout: stadium, protocol });
    await c.hello();
    await c.watch('stadium', 20000);
    return c;
}

/* Stops reading the socket: the kernel's buffers fill, then the server's. */
function pause(c) {
    c.ws._socket.pause();
}
function resume(c) {
    c.ws._socket.resume();
}

/* Sends `n` watch requests without waiting: each one queues a 60k-seat
 * snapshot (~60 KB) for a reader that does not read (60 of them stay under
 * the 4 MiB a connection may have queued). */
function floodWithSnapshots(c, n) {
    for (let i = 0; i < n; i++) c.send(JSON.stringify({ type: 'watch', id: 100000 + i, show: 'stadium' }));
}

/* Holds and releases seats of the stadium, one operation per tick: each
 * waits until the writer's own watch has seen the previous one. Returns the
 * last seq. */
async function churn(writer, rounds) {
    let seq = writer.model.seq;
    for (let i = 0; i < 2 * rounds; i++) {
        const seats = stadium.slice(1000 + (i >> 1) * 7, 1000 + (i >> 1) * 7 + 7);
        await writer.call({ type: i % 2 ? 'release' : 'hold', show: 'stadium', seats });
        seq = (await seatsOf('stadium')).seq;
        await writer.waitFor((c) => c.model.seq >= seq, 10000, `writer at seq ${seq}`);
    }
    return seq;
}

for (const protocol of ['seatmap.v1', 'seatmap.v2']) it(`${protocol}: a paused reader gets one merged delta when it reads again, and converges with no gap`, async () => {
    const writer = await stadiumWatcher();
    const slow = await stadiumWatcher(protocol);
    const shedBefore = await metric('seatmap_deltas_shed_total');
    pause(slow);
    floodWithSnapshots(slow, 60);
    const last = await churn(writer, 20);
    const shed = (await metric('seatmap_deltas_shed_total')) - shedBefore;
    /* v1 snapshots of the stadium are 60 KB: 60 of them fill the socket
     * buffers. v2's are under 1 KB, so that reader may never fall behind;
     * it must converge all the same. */
    if (protocol === 'seatmap.v1') assert.ok(shed > 0, 'the paused reader skipped deltas (its buffers were full)');

    resume(slow);
    const want = await seatsOf('stadium');
    assert.equal(want.seq, last);
    await slow.waitFor((c) => c.model.seq === last && c.pending.size === 0, 60000, `the slow reader at seq ${last}`);
    assert.deepEqual(slow.model.gaps, [], 'every delta starts at the seq the reader has');
    assert.deepEqual(slow.model.errors, []);
    assert.equal(slow.modelString(), want.seats, 'the exact state');
    /* After its last snapshot it got a few merged deltas, not one per change. */
    const lastSnap = slow.messages.findLastIndex((m) => m.type === 'snapshot');
    const deltas = slow.messages.slice(lastSnap + 1).filter((m) => m.type === 'delta');
    if (protocol === 'seatmap.v1') assert.ok(deltas.length < 20, `${deltas.length} deltas after the last snapshot for 40 changes`);
    await slow.close();
    await writer.close();
});

it('a reply overtakes the fan-out frames waiting for its connection', async () => {
    const c = await stadiumWatcher();
    pause(c);
    floodWithSnapshots(c, 60);
    /* The watch replies and snapshots are queued; now a hold. */
    const reply = c.hold('stadium', [stadium[5]], { timeoutMs: 60000 });
    resume(c);
    const r = await reply;
    assert.equal(r.type, 'ok', JSON.stringify(r));
    const at = c.messages.findIndex((m) => m.id === r.id && m.type === 'ok');
    await c.waitFor((x) => x.model.snapshots === 61, 60000, 'every queued snapshot');
    const snapsAfter = c.messages.slice(at + 1).filter((m) => m.type === 'snapshot').length;
    assert.ok(snapsAfter > 0, 'the hold reply did not wait behind every queued snapshot');
    console.log(`# ${snapsAfter} of 60 queued snapshots came after the hold reply`);
    await c.call({ type: 'release', show: 'stadium', seats: [stadium[5]] });
    await c.close();
});

/* A demo-show watcher whose model is `seats` at `seq`, resuming from there. */
async function resumeFrom(since, seats, protocol = 'seatmap.v1') {
    const c = await stack.client({ protocol });
    await c.hello();
    c.model.show = 'demo';
    c.model.seq = since;
    c.model.seats = [...seats];
    const r = await c.call({ type: 'watch', show: 'demo', since });
    return { c, r };
}

it('watch with since: one delta from there while the server has the changes, else a snapshot', async () => {
    const ids = await stack.seatIds();
    const w = await stack.buyer();
    const before = await seatsOf('demo');
    /* Nothing changed: resumed, and nothing to send. */
    let { c, r } = await resumeFrom(before.seq, before.seats);
    assert.equal(r.resumed, true, JSON.stringify(r));
    assert.equal(r.hold, null);
    const h = await w.call({ type: 'hold', show: 'demo', seats: [ids[3], ids[4]] });
    await c.waitFor((x) => x.model.seq === before.seq + 1, 10000, 'the next delta');
    assert.equal(c.model.snapshots, 0);
    await c.close();

    /* Changes while away: one delta from since brings it to the exact state. */
    await w.call({ type: 'release', show: 'demo', seats: [ids[3]] });
    await w.call({ type: 'hold', show: 'demo', seats: [ids[7]] });
    const now = await seatsOf('demo');
    ({ c, r } = await resumeFrom(before.seq, before.seats));
    assert.equal(r.resumed, true);
    await c.waitFor((x) => x.model.seq === now.seq, 10000, `seq ${now.seq}`);
    assert.equal(c.model.snapshots, 0, 'no snapshot');
    assert.deepEqual(c.model.gaps, []);
    assert.equal(c.modelString(), now.seats);
    /* One merged delta up to what the server had sent out (its last tick),
     * perhaps the tick's own delta after it. */
    const deltas = c.messages.filter((m) => m.type === 'delta');
    assert.ok(deltas.length >= 1 && deltas.length <= 2, `${deltas.length} deltas`);
    assert.equal(deltas[0].from, before.seq);
    await c.close();
    /* The same over seatmap.v2: the merged delta is binary, decoded the same. */
    ({ c, r } = await resumeFrom(before.seq, before.seats, 'seatmap.v2'));
    assert.equal(r.resumed, true);
    await c.waitFor((x) => x.model.seq === now.seq, 10000, `v2 at seq ${now.seq}`);
    assert.equal(c.model.snapshots, 0, 'no snapshot');
    assert.deepEqual(c.model.gaps, []);
    assert.deepEqual(c.model.errors, []);
    assert.equal(c.modelString(), now.seats);
    await c.close();

    /* The buyer's own hold comes with the reply. */
    const again = await stack.client();
    await again.hello(w.buyer);
    const rr = await again.call({ type: 'watch', show: 'demo', since: now.seq });
    assert.equal(rr.resumed, true);
    assert.equal(rr.hold?.ref, h.hold.ref);
    assert.deepEqual([...rr.hold.seats].sort(), [ids[4], ids[7]].sort());
    await again.close();

    /* Ahead of the server: a snapshot, as without since. */
    ({ c, r } = await resumeFrom(now.seq + 1000, now.seats));
    assert.equal(r.resumed, undefined);
    await c.waitFor((x) => x.model.snapshots === 1, 10000, 'a snapshot');
    assert.equal(c.model.seq, now.seq);
    await c.close();

    /* Not a seq: bad_request, and nothing changes. */
    const bad = await stack.client();
    await bad.hello();
    for (const since of [-1, 1.5, 'x', {}]) {
        const e = await bad.request({ type: 'watch', show: 'demo', since });
        assert.equal(e.code, 'bad_request', JSON.stringify(e));
    }
    await bad.close();
    await w.call({ type: 'release', show: 'demo', seats: [ids[4], ids[7]] });
    await w.close();
});

/* A watcher that resumed from `since` and must reach `want` (seq and seats)
 * by one delta, with no snapshot. */
async function resumesTo(since, seats, want) {
    const { c, r } = await resumeFrom(since, seats);
    assert.equal(r.resumed, true, JSON.stringify(r));
    await c.waitFor((x) => x.model.seq === want.seq, 10000, `a delta to seq ${want.seq}`);
    assert.equal(c.model.snapshots, 0);
    assert.equal(c.modelString(), want.seats);
    await c.close();
}

/* A watcher from `since` that gets a snapshot of `want`. */
async function snapshotFrom(since, seats, want) {
    const { c, r } = await resumeFrom(since, seats);
    assert.equal(r.resumed, undefined, JSON.stringify(r));
    await c.waitFor((x) => x.model.snapshots === 1, 10000, 'a snapshot');
    assert.equal(c.model.seq, want.seq);
    assert.equal(c.modelString(), want.seats);
    await c.close();
}

const EVENTS = 'sm:{demo}:events';

it('after a restart: since the restart a delta, and from before it too (the events stream)', async () => {
    const ids = await stack.seatIds();
    const w = await stack.buyer();
    const old = await seatsOf('demo');
    await w.call({ type: 'hold', show: 'demo', seats: [ids[9], ids[10]] });
    await w.call({ type: 'release', show: 'demo', seats: [ids[10]] });
    await w.call({ type: 'hold', show: 'demo', seats: [ids[11]] });
    await w.close();
    /* and a booking (booking.created) */
    const cookie = await stack.login();
    const b = await stack.buyer();
    const h = await b.call({ type: 'hold', show: 'demo', seats: [ids[15]] });
    const bk = await stack.api('POST', '/api/shows/demo/bookings', {
        json: { hold: h.hold.ref, payment_ref: 'pay-resume' }, cookie, origin: stack.origin,
    });
    assert.equal(bk.status, 201, bk.text);
    await b.close();
    await stack.server.restart();
    const base = await seatsOf('demo');
    assert.equal(base.seq, old.seq + 5);
    assert.equal(base.seats[15], 'b');
    /* From the seq the new process started at: resumed, nothing to send. */
    const { c, r } = await resumeFrom(base.seq, base.seats);
    assert.equal(r.resumed, true, JSON.stringify(r));
    await c.close();
    /* From before it: the changes come from Redis, one delta to the exact state. */
    await resumesTo(old.seq, old.seats, base);
});

it('after a restart: from before the events stream reaches, a snapshot', async () => {
    const ids = await stack.seatIds();
    const w = await stack.buyer();
    const old = await seatsOf('demo');
    await stack.redis.cli('XTRIM', EVENTS, 'MAXLEN', '0');
    await w.call({ type: 'hold', show: 'demo', seats: [ids[13]] });
    await w.close();
    await stack.server.restart();
    const base = await seatsOf('demo');
    assert.equal(base.seq, old.seq + 1);
    await resumesTo(old.seq, old.seats, base); /* the stream has old.seq + 1 */
    await snapshotFrom(old.seq - 1, old.seats, base); /* it does not reach old.seq */
});

it('after a restart: across an operation the stream does not show, a snapshot', async () => {
    const ids = await stack.seatIds();
    const w = await stack.buyer();
    const old = await seatsOf('demo');
    await w.call({ type: 'hold', show: 'demo', seats: [ids[12]] });
    /* A seq bumped without an event: what happened there cannot be told. */
    await stack.redis.cli('INCR', 'sm:{demo}:seq');
    await w.call({ type: 'hold', show: 'demo', seats: [ids[14]] });
    await w.close();
    await stack.server.restart();
    const base = await seatsOf('demo');
    assert.equal(base.seq, old.seq + 3);
    /* After the gap: covered (the model starts from the final states; what
     * is checked is that it resumes and reaches the seq). */
    await resumesTo(old.seq + 2, base.seats, base);
    await snapshotFrom(old.seq, old.seats, base); /* across it: a snapshot */
});

function rssMb(pid) {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return Number(m[1]) / 1024;
}

/* ASan keeps freed memory in quarantine (up to 256 MB by default), so a
 * sanitizer build's RSS grows with the churn, not with what it holds. */
function sanitized(pid) {
    return /libasan|libtsan/.test(readFileSync(`/proc/${pid}/maps`, 'utf8'));
}

/* The documented rule (docs/protocol.md, "stuck reader"): a waiting snapshot
 * or delta that makes no progress for --stuck-reader-ms (60 s by default)
 * closes the connection. The test sets 4 s so it does not take a minute;
 * the default itself is checked in tests/unit/test_config.c. */
it('a watcher that stops reading is closed after --stuck-reader-ms; a slow one that reads is not; memory stays bounded', async () => {
    const STUCK_MS = 4000;
    const flag = ['--stuck-reader-ms', String(STUCK_MS)];
    stack.server.args.push(...flag);
    try {
        await stack.server.restart();
        const writer = await stadiumWatcher();
        const stuck = await stadiumWatcher();
        const slow = await stadiumWatcher();
        const cutBefore = await metric('seatmap_clients_cut_off_total');
        const rss0 = rssMb(stack.server.pid);
        /* Both get a backlog (60 v1 snapshots, 3.6 MB: more than the
         * kernel's buffers take); the stuck one never reads again, the slow
         * one reads 400 ms of every second. */
        pause(stuck);
        const pausedAt = Date.now();
        floodWithSnapshots(stuck, 60);
        floodWithSnapshots(slow, 60);
        let reading = true;
        const blink = setInterval(() => {
            if (reading) pause(slow);
            else resume(slow);
            reading = !reading;
        }, 500);
        /* Changes keep coming: the rule is checked when a show has a frame
         * for the reader. */
        let peak = rss0;
        let cutAt = 0;
        let changes = 0;
        /* one change: a seat held, or the seat held last released */
        const change = async () => {
            const seat = stadium[2000 + ((changes >> 1) % 50)];
            await writer.call({ type: changes % 2 ? 'release' : 'hold', show: 'stadium', seats: [seat] });
            changes++;
            peak = Math.max(peak, rssMb(stack.server.pid));
        };
        try {
            await waitUntil(async () => {
                await change();
                if ((await metric('seatmap_clients_cut_off_total')) > cutBefore) cutAt = Date.now();
                return cutAt > 0;
            }, STUCK_MS + 30000, 'the server to cut off the reader that stopped reading'); // well under the 60-s default: the flag must work
            /* a few more changes for the slow reader, past the stuck time */
            const until = Date.now() + STUCK_MS;
            while (Date.now() < until) await change();
            if (changes % 2) await change(); /* nothing left held */
        } finally {
            clearInterval(blink);
        }
        console.log(`# stuck reader cut ${cutAt - pausedAt} ms after it stopped reading (rule: ${STUCK_MS} ms); `
            + `${changes} changes; RSS ${Math.round(rss0)} -> peak ${Math.round(peak)} MB`);
        /* not before the rule (a frame may have begun its wait a moment
         * before the pause: 250 ms of slack for that, not for load) */
        assert.ok(cutAt - pausedAt >= STUCK_MS - 250, `cut after ${cutAt - pausedAt} ms, before the rule's ${STUCK_MS} ms`);
        assert.equal((await metric('seatmap_clients_cut_off_total')) - cutBefore, 1, 'only the stuck reader was cut off');
        assert.match(stack.server.stderr(), /connection cut off \(too slow: not reading\)/);
        if (sanitized(stack.server.pid)) console.log('# sanitizer build: RSS bound not checked (ASan quarantine)');
        else assert.ok(peak - rss0 < 60, `RSS grew ${Math.round(peak - rss0)} MB while a reader was stuck`);
        /* The stuck one, reading again, finds its connection gone. */
        resume(stuck);
        await waitUntil(() => stuck.closeInfo !== null, 30000, 'the stuck reader to see its connection closed');
        /* The slow one is still there and converges to the exact state. */
        resume(slow);
        assert.equal(slow.closeInfo, null, 'the slow reader was not closed');
        const want = await seatsOf('stadium');
        await slow.waitFor((c) => c.model.seq === want.seq && c.pending.size === 0, 60000, `the slow reader at seq ${want.seq}`);
        assert.deepEqual(slow.model.gaps, []);
        assert.equal(slow.modelString(), want.seats);
        await slow.close();
        await writer.close();
    } finally {
        stack.server.args.splice(stack.server.args.indexOf(flag[0]), 2);
        await stack.server.restart();
    }
});
