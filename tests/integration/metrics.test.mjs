/*
 * metrics.test.mjs - GET /metrics as an operator's Prometheus sees it: a
 * scripted run (holds, a refused hold, releases, an expiry, a confirmation,
 * a cancellation, a Redis restart) moves exactly the counters it should, and
 * every scrape passes `promtool check metrics` (Debian's prometheus
 * package). With --metrics-listen, /metrics moves to its own listener, which
 * serves nothing else. The shipped alert rules pass `promtool check rules`
 * and the Grafana dashboard only asks for metrics the server exports.
 * Not here: what the counted operations do (holds, staff, expiry tests).
 */
import { before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import {
    REPO,
    startStack,
    testWithLogs,
    seatPool,
    waitUntil,
    httpRequest,
    freePort,
    seatmapdCli,
    wsClient,
} from '../lib/stack.mjs';

const HOLD_TTL_S = 2;
let stack;
let pool;
const it = testWithLogs(() => stack);

before(async () => {
    stack = await startStack({ holdTtl: HOLD_TTL_S });
    pool = seatPool(await stack.seatIds());
});
after(async () => {
    await stack?.stop();
});

function run(cmd, args, input) {
    return new Promise((resolve, reject) => {
        const p = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'] });
        let out = '';
        p.stdout.on('data', (d) => (out += d));
        p.stderr.on('data', (d) => (out += d));
        p.on('error', reject);
        p.on('close', (code) => resolve({ code, out }));
        p.stdin.end(input ?? '');
    });
}

/* The text format into {'name{labels}': value}; also checks each sample
 * line's shape. */
function parse(text) {
    const m = new Map();
    for (const line of text.split('\n')) {
        if (!line || line.startsWith('#')) continue;
        const r = /^([a-zA-Z_:][a-zA-Z0-9_:]*(?:\{[^}]*\})?) (\S+)$/.exec(line);
        assert.ok(r, `a sample line: ${line}`);
        m.set(r[1], Number(r[2]));
    }
    return m;
}

/* Sum of every series of a family whose labels contain `labels`. */
function sum(m, name, labels = '') {
    let s = 0;
    for (const [k, v] of m) {
        const base = k.replace(/\{.*$/, '');
        if (base === name && k.includes(labels)) s += v;
    }
    return s;
}

async function scrape(baseUrl = stack.baseUrl) {
    const r = await httpRequest(baseUrl, 'GET', '/metrics');
    assert.equal(r.status, 200, r.text);
    assert.match(r.headers['content-type'], /^text\/plain; version=0\.0\.4/);
    const check = await run('promtool', ['check', 'metrics'], r.text);
    assert.equal(check.code, 0, `promtool check metrics:\n${check.out}`);
    return { text: r.text, m: parse(r.text) };
}

it('a scripted run moves the counters as it went, and every scrape is valid', async () => {
    const { m: m0 } = await scrape();
    const [s1, s2, s3, s4] = pool.take(4);
    const cookie = await stack.login();

    const a = await stack.buyer();
    const b = await stack.buyer();
    const c = await stack.buyer();
    /* holds: two ok, one refused (seat taken) */
    const ha = (await a.call({ type: 'hold', show: 'demo', seats: [s1, s2] })).hold;
    await a.waitFor((x) => x.state(s1) === 'p', 3000, 'held');
    const refused = await b.request({ type: 'hold', show: 'demo', seats: [s2] });
    assert.equal(refused.code, 'seat_unavailable');
    /* releases: one ok, one not held */
    await a.call({ type: 'release', show: 'demo', seats: [s2] });
    const notHeld = await b.request({ type: 'release', show: 'demo', seats: [s3] });
    assert.equal(notHeld.code, 'not_held');
    /* an expiry */
    await c.call({ type: 'hold', show: 'demo', seats: [s4] });
    await a.waitFor((x) => x.state(s4) === 'p', 3000, 'held');
    /* a confirmation and its cancellation */
    const conf = await stack.api('POST', '/api/shows/demo/bookings', {
        cookie,
        json: { hold: ha.ref, payment_ref: 'metrics-1' },
    });
    assert.equal(conf.status, 201, conf.text);
    const cancel = await stack.api('DELETE', `/api/shows/demo/bookings/${conf.json.booking.id}`, { cookie });
    assert.equal(cancel.status, 200, cancel.text);
    await a.waitFor((x) => x.state(s1) === 'e', 3000, 'cancelled seat empty');
    await a.waitFor((x) => x.state(s4) === 'e', HOLD_TTL_S * 1000 + 3000, 'hold expired');

    const { m: m1 } = await scrape();
    const d = (name, labels) => sum(m1, name, labels) - sum(m0, name, labels);
    assert.equal(d('seatmap_holds_total', 'outcome="ok"'), 2, 'two holds ok');
    assert.equal(d('seatmap_holds_total', 'outcome="seat_unavailable"'), 1, 'one hold refused');
    assert.equal(d('seatmap_releases_total', 'outcome="ok"'), 1, 'one release');
    assert.equal(d('seatmap_releases_total', 'outcome="not_held"'), 1, 'one release of nothing');
    assert.equal(d('seatmap_expiries_total'), 1, 'one expiry');
    assert.equal(d('seatmap_expiries_total', 'source="sweep"') + d('seatmap_expiries_total', 'source="keyspace_event"'), 1,
        'found by the sweep or a keyspace event');
    assert.equal(d('seatmap_expiry_lateness_seconds_count'), 1);
    const late = d('seatmap_expiry_lateness_seconds_sum');
    assert.ok(late >= 0 && late < 1, `expired within a second of its deadline (${late} s)`);
    assert.equal(d('seatmap_bookings_total', 'outcome="ok"'), 1, 'one booking');
    assert.equal(d('seatmap_cancellations_total', 'outcome="ok"'), 1, 'one cancellation');
    assert.equal(d('seatmap_booking_commit_seconds_count'), 1, 'one commit timed');
    assert.ok(d('seatmap_redis_duration_seconds_count', 'script="hold"') >= 3, 'hold scripts timed');
    assert.ok(d('seatmap_redis_duration_seconds_count', 'script="book"') >= 1, 'book script timed');
    assert.equal(d('seatmap_connections_total', 'protocol="websocket"'), 3);
    assert.ok(sum(m1, 'seatmap_connections', 'protocol="websocket"') >= 3, 'three pages connected');
    assert.equal(sum(m1, 'seatmap_show_watchers', 'show="demo"'), 3, 'three watchers of demo');
    assert.ok(sum(m1, 'seatmap_watchers') >= 3);
    assert.ok(d('seatmap_websocket_messages_total', 'type="hold"') >= 3);
    /* every request answered is timed from its read to its reply's write */
    assert.equal(d('seatmap_ws_request_seconds_count', 'type="hold"'), d('seatmap_websocket_messages_total', 'type="hold"'),
        'each hold reply timed');
    assert.equal(d('seatmap_ws_request_seconds_count', 'type="release"'), 2, 'each release reply timed');
    const holdSecs = d('seatmap_ws_request_seconds_sum', 'type="hold"');
    assert.ok(holdSecs > 0 && holdSecs < 60, `hold replies took ${holdSecs} s in all`);
    /* changes within one tick share a delta; the expiry came a second
     * after the rest, so there were at least two */
    const deltas = d('seatmap_deltas_total');
    assert.ok(deltas >= 2, `deltas built: ${deltas}`);
    assert.ok(d('seatmap_delta_frames_total') >= 3 * deltas - 3, 'each delta went to each watcher');
    assert.ok(d('seatmap_delta_seats_total') >= 5, 'seat changes carried');
    assert.ok(d('seatmap_frames_sent_total', 'protocol="websocket"') >= 3 * deltas);
    assert.ok(d('seatmap_sent_bytes_total', 'protocol="websocket"') > 1000);
    assert.ok(d('seatmap_http_requests_total', 'code="201"') >= 1);
    assert.equal(sum(m1, 'seatmap_redis_up'), 1);
    assert.equal(sum(m1, 'seatmap_database_up'), 1);
    assert.equal(sum(m1, 'seatmap_build_info', 'version="'), 1);
    assert.ok(sum(m1, 'seatmap_uptime_seconds') > 0);
    assert.ok(sum(m1, 'process_resident_memory_bytes') > 1e6, 'RSS from /proc/self');
    assert.ok(sum(m1, 'process_open_fds') > 5, 'open files from /proc/self');
    assert.ok(sum(m1, 'process_max_fds') >= sum(m1, 'process_open_fds'));
    /* webhooks: none registered, so nothing waits */
    assert.equal(sum(m1, 'seatmap_webhook_queue_depth'), 0);
    assert.equal(sum(m1, 'seatmap_webhook_in_flight'), 0);
    await Promise.all([a.close(), b.close(), c.close()]);
    await waitUntil(async () => sum((await scrape()).m, 'seatmap_show_watchers') === 0, 3000, 'watchers gone');
});

it('a Redis restart shows as down, then as a reconnect of both connections', async () => {
    const { m: m0 } = await scrape();
    await stack.redis.kill('SIGKILL');
    await waitUntil(async () => sum((await scrape()).m, 'seatmap_redis_up') === 0, 5000, 'redis_up 0');
    const { m: down } = await scrape();
    assert.ok(sum(down, 'seatmap_redis_disconnects_total') > sum(m0, 'seatmap_redis_disconnects_total'));
    await stack.redis.restart();
    await waitUntil(async () => sum((await scrape()).m, 'seatmap_redis_up') === 1, 15000, 'redis_up 1');
    const { m: m1 } = await scrape();
    const d = (labels) =>
        sum(m1, 'seatmap_redis_reconnects_total', labels) - sum(m0, 'seatmap_redis_reconnects_total', labels);
    assert.ok(d('connection="command"') >= 1, 'the command connection came back');
    assert.ok(d('connection="subscriber"') >= 1, 'the subscriber came back');
    assert.ok(sum(m1, 'seatmap_resyncs_total') > sum(m0, 'seatmap_resyncs_total'), 'caches rebuilt');
    /* and service resumed */
    const buyer = await stack.buyer();
    await buyer.call({ type: 'hold', show: 'demo', seats: pool.take(1) });
    await buyer.close();
});

it('--metrics-listen: /metrics only there, and nothing else there', async () => {
    const mport = await freePort();
    const s = await stack.addServer({ extraArgs: ['--metrics-listen', `127.0.0.1:${mport}`] });
    const murl = `http://127.0.0.1:${mport}`;
    const { m } = await scrape(murl);
    assert.equal(sum(m, 'seatmap_redis_up'), 1);
    const main = await httpRequest(s.baseUrl, 'GET', '/metrics');
    assert.equal(main.status, 404, 'not on the public port');
    for (const p of ['/', '/healthz', '/api/shows', '/index.html']) {
        const r = await httpRequest(murl, 'GET', p);
        assert.equal(r.status, 404, `${p} on the metrics port: ${r.status}`);
    }
    assert.equal((await httpRequest(s.baseUrl, 'GET', '/healthz')).status, 200, 'the main port still serves');
    /* no WebSocket there either, with or without a subprotocol */
    for (const protocol of ['seatmap.v1', null]) {
        const refused = await wsClient(`ws://127.0.0.1:${mport}/ws`, { protocol, layout: [], timeoutMs: 2000 }).then(
            (c) => c.close().then(() => 'connected'),
            (e) => e,
        );
        assert.ok(refused instanceof Error, `a WebSocket (${protocol}) on the metrics port: ${refused}`);
    }
    await s.stop();
    stack.servers.splice(stack.servers.indexOf(s), 1);

    const bad = await seatmapdCli(['serve', '--metrics-listen', 'nowhere']);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--metrics-listen wants HOST:PORT/);
});

it('the shipped alert rules and dashboard fit the metrics', async () => {
    const rules = path.join(REPO, 'deploy/prometheus/alerts.yml');
    const r = await run('promtool', ['check', 'rules', rules]);
    assert.equal(r.code, 0, r.out);
    const { text } = await scrape();
    const exported = new Set(
        [...text.matchAll(/^# TYPE (\S+) (\S+)/gm)].flatMap(([, n, t]) =>
            t === 'histogram' ? [`${n}_bucket`, `${n}_sum`, `${n}_count`] : [n],
        ),
    );
    exported.add('up');
    const lazy = /^seatmap_webhook_/;
    const used = (s) => [...s.matchAll(/\b((?:seatmap|process)_[a-z_]+)\b/g)].map((x) => x[1]);
    const dash = JSON.parse(readFileSync(path.join(REPO, 'deploy/grafana/seatmap.json'), 'utf8'));
    const exprs = JSON.stringify(dash.panels.flatMap((p) => (p.targets || []).map((t) => t.expr)));
    for (const name of [...used(exprs), ...used(readFileSync(rules, 'utf8'))]) {
        if (!lazy.test(name)) assert.ok(exported.has(name), `${name} is exported`);
    }
});
