/*
 * webhooks.test.mjs - webhooks end to end with real parts: a real seatmapd
 * (two, for the crash test), a real Redis, and a real local HTTP receiver
 * started here that fails on purpose (500, a hung answer, connection refused
 * while it is down) and comes back. Asserts what a shop would notice: every
 * transition of a scripted run arrives, signed so that the official
 * `standardwebhooks` library verifies it; an always-failing delivery goes dead
 * after the configured attempts and a retry from the API delivers it; kill -9
 * of seatmapd during deliveries loses none; seat updates reach watchers on
 * time while the receiver hangs. Also the admin API's refusals and the CLI.
 */
import { before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Webhook } from 'standardwebhooks';
import {
    startStack, testWithLogs, seatPool, passDeadline, waitUntil, seatmapdCli, httpRequest,
} from '../lib/stack.mjs';
import { startReceiver } from '../lib/receiver.mjs';

const FLAGS = ['--webhook-backoff-ms', '100', '--webhook-timeout-ms', '1000',
    '--webhook-max-attempts', '8'];
let stack;
let pool;
let cookie;
const it = testWithLogs(() => stack);

async function addWebhook(url, events) {
    const r = await stack.api('POST', '/api/webhooks', { cookie, json: { url, events } });
    assert.equal(r.status, 201, r.text);
    return r.json;
}

/* One sample of this process's /metrics, e.g. metric('seatmap_webhook_failures_total{reason="dead"}'). */
async function metric(series) {
    const r = await stack.api('GET', '/metrics');
    assert.equal(r.status, 200, r.text);
    const line = r.text.split('\n').find((l) => l.startsWith(`${series} `));
    return line ? Number(line.slice(series.length + 1)) : 0;
}

async function removeWebhook(id) {
    const r = await stack.api('DELETE', `/api/webhooks/${id}`, { cookie });
    assert.equal(r.status, 200, r.text);
}

/* The demo show's events made at or after `since` (unix ms). */
async function eventsSince(since) {
    const out = (await stack.redis.cli('XRANGE', 'sm:{demo}:events', '-', '+')).trim();
    const lines = out ? out.split('\n') : [];
    const list = [];
    for (let i = 0; i + 4 < lines.length; i += 5) list.push(JSON.parse(lines[i + 4]));
    return list.filter((e) => e.created_at >= since);
}

/* Hold, add, release, confirm, walk-up sale, cancel, and an expiry. */
async function scriptedRun() {
    const [a, b, c, d, e] = pool.take(5);
    const buyer = await stack.buyer();
    const h = (await buyer.call({ type: 'hold', show: 'demo', seats: [a] })).hold;
    await buyer.call({ type: 'hold', show: 'demo', seats: [b, c] });
    await buyer.call({ type: 'release', show: 'demo', seats: [c] });
    const conf = await stack.api('POST', '/api/shows/demo/bookings', {
        cookie, json: { hold: h.ref, payment_ref: `wh-${h.ref}` },
    });
    assert.equal(conf.status, 201, conf.text);
    const sale = await stack.api('POST', '/api/shows/demo/bookings', {
        cookie, json: { seats: [d], payment_ref: `wh-sale-${h.ref}` },
    });
    assert.equal(sale.status, 201, sale.text);
    const del = await stack.api('DELETE', `/api/shows/demo/bookings/${sale.json.booking.id}`, { cookie });
    assert.equal(del.status, 200, del.text);
    const other = await stack.buyer();
    const h2 = (await other.call({ type: 'hold', show: 'demo', seats: [e] })).hold;
    await passDeadline(stack, buyer, h2.expires_at, pool.take(1)[0]);
}

before(async () => {
    stack = await startStack({ holdTtl: 2, extraArgs: FLAGS });
    pool = seatPool(await stack.seatIds());
    cookie = await stack.login();
});
after(async () => {
    await stack?.stop();
});

it('every transition reaches a receiver that fails at first, hangs, is down, comes back; signatures verify', async () => {
    const rec = await startReceiver();
    /* 1st try 500, 2nd hangs past the timeout, then down for a while. */
    let n = 0;
    rec.mode = () => (++n === 1 ? 'fail' : n === 2 ? 'hang' : 'ok');
    const hook = await addWebhook(`${rec.url}/hooks`, ['*']);
    assert.match(hook.secret, /^whsec_[A-Za-z0-9+/]{32}$/);
    assert.ok(Buffer.from(hook.secret.slice(6), 'base64').length >= 24);
    assert.deepEqual(hook.events, ['*']);

    const since = hook.created_at;
    const run = scriptedRun();
    await waitUntil(() => rec.tries >= 3, 10000, 'three tries');
    await rec.stop(); // connection refused from now on
    const downAt = Date.now();
    await waitUntil(async () => {
        const r = await stack.api('GET', `/api/webhooks/${hook.id}/deliveries?status=failed`, { cookie });
        return r.json?.some((d) => /refused|connect/i.test(d.last_error || ''));
    }, 10000, 'a delivery refused while the receiver is down');
    await waitUntil(() => Date.now() - downAt > 800, 2000, 'down for a while');
    await rec.start();
    await run;

    const want = await eventsSince(since);
    const types = new Set(want.map((e) => e.type));
    for (const t of ['hold.created', 'hold.updated', 'hold.released', 'hold.expired', 'booking.created', 'booking.cancelled']) {
        assert.ok(types.has(t), `the run made a ${t} event`);
    }
    await waitUntil(() => want.every((e) => rec.ids('/hooks').has(e.id)), 30000, 'every event delivered');

    const wh = new Webhook(hook.secret);
    for (const g of rec.got) {
        const ev = wh.verify(g.body, g.headers); // throws on a bad signature
        assert.equal(ev.id, g.headers['webhook-id']);
        assert.equal(g.headers['content-type'], 'application/json');
        assert.ok(Math.abs(Number(g.headers['webhook-timestamp']) - Date.now() / 1000) < 120);
    }
    assert.throws(() => new Webhook(`whsec_${Buffer.alloc(24, 7).toString('base64')}`).verify(rec.got[0].body, rec.got[0].headers));
    /* Delivered events in seq order carry consecutive-or-increasing seq. */
    const seqs = [...new Map(rec.got.map((g) => [g.headers['webhook-id'], JSON.parse(g.body).seq])).values()];
    assert.equal(new Set(seqs).size, seqs.length, 'one seq per event');

    const list = await stack.api('GET', `/api/webhooks/${hook.id}/deliveries?status=ok&limit=1000`, { cookie });
    assert.equal(list.status, 200, list.text);
    for (const e of want) assert.ok(list.json.some((d) => d.event_id === e.id && d.status === 'ok'), e.id);
    const d0 = list.json[0];
    assert.deepEqual(Object.keys(d0).slice(0, 8), ['id', 'webhook_id', 'event_id', 'event_type', 'status', 'attempts', 'last_error', 'next_attempt_at']);
    const retried = list.json.filter((d) => d.attempts > 1);
    assert.ok(retried.length >= 1, 'some deliveries needed retries');
    await removeWebhook(hook.id);
    await rec.stop();
});

it('an always-failing delivery goes dead after --webhook-max-attempts; a retry from the API delivers it', async () => {
    const rec = await startReceiver();
    let healthy = false;
    rec.mode = () => (healthy ? 'ok' : 'fail');
    const hook = await addWebhook(`${rec.url}/x`, ['hold.created']);
    const failed0 = await metric('seatmap_webhook_failures_total{reason="failed"}');
    const dead0 = await metric('seatmap_webhook_failures_total{reason="dead"}');
    const delivered0 = await metric('seatmap_webhook_deliveries_total');
    const buyer = await stack.buyer();
    await buyer.call({ type: 'hold', show: 'demo', seats: pool.take(1) });
    let dead;
    await waitUntil(async () => {
        const r = await stack.api('GET', `/api/webhooks/${hook.id}/deliveries?status=dead`, { cookie });
        dead = r.json?.[0];
        return dead;
    }, 30000, 'a dead delivery');
    assert.equal(dead.attempts, 8);
    assert.equal(dead.event_type, 'hold.created');
    assert.equal(dead.last_error, 'HTTP 500');
    assert.equal(dead.next_attempt_at, null);
    assert.equal(rec.tries, 8, 'exactly the configured attempts');
    /* what an operator's dashboard shows: 8 failed attempts, the last of them made it dead */
    assert.equal(await metric('seatmap_webhook_failures_total{reason="failed"}') - failed0, 8);
    assert.equal(await metric('seatmap_webhook_failures_total{reason="dead"}') - dead0, 1);
    const none = await stack.api('GET', `/api/webhooks/${hook.id}/deliveries?status=ok`, { cookie });
    assert.deepEqual(none.json, []);

    /* Retrying an unknown or a not-failed delivery is refused. */
    const bad = await stack.api('POST', '/api/deliveries/999999/retry', { cookie });
    assert.equal(bad.status, 404, bad.text);

    healthy = true;
    const r = await stack.api('POST', `/api/deliveries/${dead.id}/retry`, { cookie });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.status, 'pending');
    await waitUntil(() => rec.ids('/x').has(dead.event_id), 10000, 'delivered after the retry');
    await waitUntil(async () => {
        const ok = await stack.api('GET', `/api/webhooks/${hook.id}/deliveries?status=ok`, { cookie });
        return ok.json?.some((d) => d.id === dead.id && d.attempts === 9);
    }, 5000, 'listed as ok');
    assert.equal(await metric('seatmap_webhook_deliveries_total') - delivered0, 1, 'counted as delivered');
    /* the depth is measured in Redis on the queue's poll, so it lags a little */
    await waitUntil(async () => (await metric('seatmap_webhook_queue_depth')) === 0, 10000,
        'a queue depth of 0 once nothing is left waiting');
    const again = await stack.api('POST', `/api/deliveries/${dead.id}/retry`, { cookie });
    assert.equal(again.status, 409, again.text);
    await removeWebhook(hook.id);
    await rec.stop();
});

it('the admin API refuses bad input and non-admins; the CLI adds, lists and removes', async () => {
    const cases = [
        [{ url: 'ftp://example.com/x', events: ['*'] }, /http/],
        [{ url: 'file:///etc/passwd', events: ['*'] }, /http/],
        [{ url: 'http://', events: ['*'] }, /http/],
        [{ url: 'http://example.com', events: [] }, /events/],
        [{ url: 'http://example.com', events: ['hold.nope'] }, /event type/],
        [{ url: 'http://example.com', events: ['hold.created', 'hold.created'] }, /event type/],
    ];
    for (const [json, msg] of cases) {
        const r = await stack.api('POST', '/api/webhooks', { cookie, json });
        assert.equal(r.status, 400, `${JSON.stringify(json)}: ${r.text}`);
        assert.match(r.json.error.message, msg);
    }
    const listBefore = await stack.api('GET', '/api/webhooks', { cookie });
    assert.equal(listBefore.status, 200);
    const n = listBefore.json.length;
    await stack.addUser('clerk', 'boxoffice', 'clerk-password-1');
    const clerk = await stack.login('clerk', 'clerk-password-1');
    const denied = await stack.api('GET', '/api/webhooks', { cookie: clerk });
    assert.equal(denied.status, 403);
    const anon = await stack.api('POST', '/api/webhooks', { json: { url: 'http://a.example', events: ['*'] } });
    assert.equal(anon.status, 401);
    const bad = await stack.api('GET', '/api/webhooks/1/deliveries?status=weird', { cookie });
    assert.ok(bad.status === 400 || bad.status === 404, bad.text);
    assert.equal((await stack.api('DELETE', '/api/webhooks/999999', { cookie })).status, 404);

    const add = await seatmapdCli(['webhook', 'add', 'https://orders.internal/hook', '--events',
        'hold.expired,booking.created', '--db', stack.dbPath]);
    assert.equal(add.code, 0, add.stderr);
    const [id, secret] = add.stdout.trim().split(/\s+/);
    assert.match(id, /^\d+$/);
    assert.match(secret, /^whsec_/);
    const refused = await seatmapdCli(['webhook', 'add', 'gopher://x', '--events', 'hold.expired', '--db', stack.dbPath]);
    assert.equal(refused.code, 2);
    assert.match(refused.stderr, /http/);
    const ls = await seatmapdCli(['webhook', 'list', '--db', stack.dbPath]);
    assert.match(ls.stdout, new RegExp(`^${id}\\thttps://orders.internal/hook\\thold.expired,booking.created$`, 'm'));
    assert.doesNotMatch(ls.stdout, /whsec_/);
    const api = await stack.api('GET', '/api/webhooks', { cookie });
    assert.equal(api.json.length, n + 1);
    assert.ok(api.json.every((h) => !('secret' in h)), 'secrets are shown once only');
    const rm = await seatmapdCli(['webhook', 'rm', id, '--db', stack.dbPath]);
    assert.equal(rm.code, 0, rm.stderr);
    const rm2 = await seatmapdCli(['webhook', 'rm', id, '--db', stack.dbPath]);
    assert.equal(rm2.code, 1);
    assert.match(rm2.stderr, /no such webhook/);
});

it('seat updates reach watchers on time while the receiver hangs', async () => {
    const rec = await startReceiver();
    rec.mode = () => 'hang';
    const hook = await addWebhook(`${rec.url}/slow`, ['*']);
    const watcher = await stack.buyer();
    const actor = await stack.buyer();
    const lags = [];
    for (let i = 0; i < 15; i++) {
        const [s] = pool.take(1);
        const t0 = Date.now();
        await actor.call({ type: 'hold', show: 'demo', seats: [s] });
        await watcher.waitFor((c) => c.state(s) === 'p', 2000, 'watcher sees the hold');
        lags.push(Date.now() - t0);
        await actor.call({ type: 'release', show: 'demo', seats: [s] });
    }
    assert.ok(rec.hanging.size > 0, 'deliveries are hanging meanwhile');
    lags.sort((x, y) => x - y);
    console.log(`# hold -> watcher while every POST hangs: median ${lags[lags.length >> 1]} ms, max ${lags[lags.length - 1]} ms`);
    assert.ok(lags[lags.length - 1] < 500, `max lag ${lags[lags.length - 1]} ms`);
    await removeWebhook(hook.id);
    await rec.stop();
});

it('kill -9 of seatmapd during deliveries loses none: another process, then the restarted one, completes them', async () => {
    const rec = await startReceiver();
    const slow = new Set();
    let inFlight = 0;
    /* Answers after 400 ms, so deliveries are in flight when the kill comes. */
    rec.server.removeAllListeners('request');
    rec.server.on('request', (req, res) => {
        let body = '';
        req.on('data', (c) => { body += c; });
        req.on('end', () => {
            rec.tries++;
            inFlight++;
            const t = setTimeout(() => {
                slow.delete(t);
                inFlight--;
                rec.got.push({ path: req.url, headers: req.headers, body });
                res.writeHead(200);
                res.end();
            }, 400);
            slow.add(t);
        });
    });
    const first = stack.server;
    const hook = await addWebhook(`${rec.url}/crash`, ['hold.created', 'hold.released']);
    const buyer = await stack.buyer();
    for (let i = 0; i < 10; i++) {
        const [s] = pool.take(1);
        await buyer.call({ type: 'hold', show: 'demo', seats: [s] });
        await buyer.call({ type: 'release', show: 'demo', seats: [s] });
    }
    const want = (await eventsSince(hook.created_at)).filter((e) => e.type === 'hold.created' || e.type === 'hold.released');
    assert.ok(want.length >= 20);
    await waitUntil(() => inFlight >= 2, 10000, 'deliveries in flight');
    await first.kill('SIGKILL'); // the only process: its jobs and events stay pending in Redis
    assert.ok(!want.every((e) => rec.ids('/crash').has(e.id)), 'work was left unfinished');
    const second = await stack.addServer();
    /* A POST the killed process made may have reached the receiver without its
     * answer being recorded: the other process sends it again once the job has
     * been idle longer than the timeout + 5 s (at least once). */
    const t0 = Date.now();
    await waitUntil(async () => {
        const r = await httpRequest(second.baseUrl, 'GET', `/api/webhooks/${hook.id}/deliveries?status=ok&limit=1000`, { cookie });
        return want.every((e) => r.json.some((d) => d.event_id === e.id));
    }, 40000, 'every delivery listed as ok by the other process');
    const took = Date.now() - t0;
    assert.ok(want.every((e) => rec.ids('/crash').has(e.id)), 'every event received');
    assert.ok(took < 25000, `taken over within ${took} ms`);
    await first.restart();

    /* Now the same process on its own: kill -9 mid-delivery, restart at once. */
    await second.stop();
    rec.got.length = 0;
    const since2 = Date.now();
    for (let i = 0; i < 5; i++) {
        const b = await stack.buyer(); // five holds, five hold.created
        await b.call({ type: 'hold', show: 'demo', seats: pool.take(1) });
    }
    const more = (await eventsSince(since2)).filter((e) => e.type === 'hold.created');
    assert.equal(more.length, 5);
    await waitUntil(() => inFlight >= 1, 10000, 'deliveries in flight again');
    await first.kill('SIGKILL');
    await first.restart();
    await waitUntil(() => more.every((e) => rec.ids('/crash').has(e.id)), 20000, 'the restarted process delivers them');
    for (const t of slow) clearTimeout(t);
    await removeWebhook(hook.id);
    await rec.stop();
});

it('Redis restarted empty: delivery resumes for new events once it is back', async () => {
    const rec = await startReceiver();
    const hook = await addWebhook(`${rec.url}/after-restart`, ['hold.created']);
    await stack.redis.restart();
    await waitUntil(async () => (await stack.api('GET', '/healthz')).status === 200, 15000, 'healthy again');
    const since = Date.now();
    const b = await stack.buyer();
    await b.call({ type: 'hold', show: 'demo', seats: pool.take(1) });
    const [ev] = (await eventsSince(since)).filter((e) => e.type === 'hold.created');
    assert.ok(ev, 'the hold made its event');
    await waitUntil(() => rec.ids('/after-restart').has(ev.id), 15000, 'delivered after the restart');
    await removeWebhook(hook.id);
    await rec.stop();
});
