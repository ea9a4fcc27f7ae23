/*
 * cli.test.mjs - the command line contract: bad flags, an unreadable venue or
 * database give one clear line on stderr and a non-zero exit; environment
 * variables stand in for flags; a Redis that can't be reached at start-up is
 * not fatal; `show add` creates a second show whose seats are independent.
 * Not here: the serve behaviour itself (the other files).
 */
import { before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
    startStack, startServer, startRedis, seatmapdCli, freePort, testWithLogs, seatPool, waitUntil,
    wsClient, httpRequest, REPO,
} from '../lib/stack.mjs';

let stack;
let tmp;
const it = testWithLogs(() => stack);

before(async () => {
    tmp = mkdtempSync(path.join(tmpdir(), 'seatmap-cli-'));
    stack = await startStack({ holdTtl: 30 });
});
after(async () => {
    await stack?.stop();
    rmSync(tmp, { recursive: true, force: true });
});

function oneClearLine(r, label) {
    assert.notEqual(r.code, 0, `${label}: exit status ${r.code}`);
    const lines = r.stderr.split('\n').filter((l) => l.trim());
    assert.ok(lines.length >= 1, `${label}: something on stderr`);
    /* "one clear line": usage text may follow, but the first line says what is wrong */
    assert.match(lines[0], /seatmapd/i, `${label}: first stderr line names the program: ${lines[0]}`);
    assert.ok(lines[0].length < 300, `${label}: a short line`);
    return lines[0];
}

it('bad flags: one clear line, non-zero exit', async () => {
    const db = path.join(tmp, 'a.db');
    for (const [args, label] of [
        [['serve', '--bogus-flag'], 'unknown flag'],
        [['serve', '--hold-ttl', 'abc', '--db', db], 'non-numeric ttl'],
        [['serve', '--hold-ttl', '-1', '--db', db], 'negative ttl'],
        [['serve', '--listen', 'not-an-address', '--db', db], 'bad listen'],
        [['serve', '--redis', 'http://x', '--db', db], 'bad redis url'],
        [['serve', '--max-seats', '0', '--db', db], 'zero max seats'],
        [['serve', '--listen', `127.0.0.1:${stack.server.port}`, '--db', db], 'port in use'],
        [['serve', '--db'], 'missing value'],
        [['frobnicate'], 'unknown command'],
    ]) {
        const r = await seatmapdCli(args);
        const line = oneClearLine(r, label);
        if (label === 'unknown flag') assert.match(line, /bogus-flag/, 'names the flag');
        if (label === 'port in use') assert.match(line, /cannot listen on 127\.0\.0\.1:\d+/, 'says why');
    }
});

it('a database that cannot be opened: one clear line, non-zero exit', async () => {
    const rport = stack.redis.port;
    const port = await freePort();
    for (const db of ['/nonexistent-dir/x/seatmap.db', tmp /* a directory */]) {
        const r = await seatmapdCli([
            'serve', '--listen', `127.0.0.1:${port}`, '--redis', `redis://127.0.0.1:${rport}/0`,
            '--db', db, '--demo',
        ]);
        oneClearLine(r, `db ${db}`);
    }
    const garbage = path.join(tmp, 'garbage.db');
    writeFileSync(garbage, 'this is not an sqlite database, not at all. '.repeat(200));
    const r = await seatmapdCli(['user', 'add', 'x', '--role', 'admin', '--db', garbage], { input: 'pw\n' });
    oneClearLine(r, 'garbage db');
});

it('an unreadable or invalid venue: one clear line, non-zero exit', async () => {
    const db = path.join(tmp, 'v.db');
    const bad = path.join(tmp, 'bad-venue.json');
    writeFileSync(bad, '{"format":1,"name":"x","sections":[{"id":"A","rows":[{"label":"1","seats":[{"number":1},{"number":1}]}]}]}');
    const unreadable = path.join(tmp, 'unreadable.json');
    writeFileSync(unreadable, '{}');
    chmodSync(unreadable, 0o000);
    for (const [venue, label] of [
        ['/nonexistent/venue.json', 'missing file'],
        [bad, 'invalid venue'],
        [path.join(tmp, 'notjson.json'), 'missing 2'],
    ]) {
        const r = await seatmapdCli(['show', 'add', 'x1', '--venue', venue, '--name', 'X', '--db', db]);
        oneClearLine(r, label);
    }
    writeFileSync(path.join(tmp, 'notjson.json'), 'not json at all');
    oneClearLine(
        await seatmapdCli(['show', 'add', 'x2', '--venue', path.join(tmp, 'notjson.json'), '--name', 'X', '--db', db]),
        'not json',
    );
    /* invalid show id */
    oneClearLine(
        await seatmapdCli(['show', 'add', 'bad id!', '--venue', path.join(REPO, 'assets/venues/demo.json'), '--name', 'X', '--db', db]),
        'bad show id',
    );
});

it('environment variables stand in for flags', async () => {
    const port = await freePort();
    const db = path.join(tmp, 'env.db');
    const s = await startServer({
        redisPort: stack.redis.port,
        dbPath: db,
        holdTtl: 30,
        extraArgs: [],
        env: { SEATMAP_HOLD_TTL: '7', SEATMAP_MAX_SEATS: '3' },
        port,
    }).catch((e) => e);
    /* flags win over the environment: --hold-ttl 30 was given */
    assert.ok(!(s instanceof Error), String(s));
    const c = await wsClient(s.wsUrl);
    const r = await c.call({ type: 'hello', id: 1 });
    assert.equal(r.limits.hold_ttl_ms, 30000, 'the flag wins over SEATMAP_HOLD_TTL');
    assert.equal(r.limits.max_seats, 3, 'SEATMAP_MAX_SEATS applies when no flag is given');
    await c.close();
    await s.stop();
    /* only environment: SEATMAP_LISTEN, SEATMAP_REDIS, SEATMAP_DB, SEATMAP_HOLD_TTL */
    const port2 = await freePort();
    const { spawn } = await import('node:child_process');
    const { SEATMAPD } = await import('../lib/stack.mjs');
    const child = spawn(SEATMAPD, ['serve', '--demo', '--web', path.join(REPO, 'web')], {
        cwd: REPO,
        env: {
            ...process.env,
            SEATMAP_LISTEN: `127.0.0.1:${port2}`,
            SEATMAP_REDIS: `redis://127.0.0.1:${stack.redis.port}/0`,
            SEATMAP_DB: path.join(tmp, 'env2.db'),
            SEATMAP_HOLD_TTL: '2.5',
        },
        stdio: ['ignore', 'ignore', 'pipe'],
    });
    let err = '';
    child.stderr.on('data', (d) => (err += d));
    try {
        await waitUntil(
            async () => (await httpRequest(`http://127.0.0.1:${port2}`, 'GET', '/healthz', { timeoutMs: 300 }).catch(() => ({}))).status === 200,
            20000,
            `seatmapd configured by environment only (${err})`,
        );
        const c2 = await wsClient(`ws://127.0.0.1:${port2}/ws`);
        const r2 = await c2.call({ type: 'hello', id: 1 });
        assert.equal(r2.limits.hold_ttl_ms, 2500);
        await c2.close();
    } finally {
        child.kill('SIGTERM');
        await new Promise((res) => (child.exitCode !== null ? res() : child.once('exit', res)));
    }
});

it('Redis unreachable at start-up is not fatal; service starts when Redis appears', async () => {
    const rport = await freePort();
    const db = path.join(tmp, 'late.db');
    const s = await startServer({ redisPort: rport, dbPath: db, holdTtl: 30, waitHealthy: false });
    try {
        const h = await httpRequest(s.baseUrl, 'GET', '/healthz');
        assert.equal(h.status, 503, 'no Redis: /healthz 503');
        assert.equal((await httpRequest(s.baseUrl, 'GET', '/')).status, 200, 'pages are served');
        const c = await wsClient(s.wsUrl, { layout: null });
        await c.call({ type: 'hello', id: 1 });
        const layout = (await httpRequest(s.baseUrl, 'GET', '/api/shows/demo')).json;
        const seat = layout.seats[0].id;
        const r = await c.request({ type: 'hold', show: 'demo', seats: [seat] });
        assert.equal(r.code, 'unavailable', JSON.stringify(r));
        const redis = await startRedis({ port: rport });
        try {
            await waitUntil(async () => (await httpRequest(s.baseUrl, 'GET', '/healthz')).status === 200, 20000, 'healthz 200 once Redis is up');
            await waitUntil(async () => (await c.request({ type: 'hold', show: 'demo', seats: [seat] })).type === 'ok', 5000, 'hold works');
            assert.equal(s.crashes.length, 0);
        } finally {
            await c.close();
            await s.stop();
            await redis.stop();
        }
    } finally {
        await s.stop();
    }
});

it('`show add` creates a second show with independent seats', async () => {
    const r = await seatmapdCli([
        'show', 'add', 'second', '--venue', path.join(REPO, 'assets/venues/demo.json'), '--name', 'Second night',
        '--starts-at', '2030-01-02T20:00:00Z', '--db', stack.dbPath,
    ]);
    assert.equal(r.code, 0, r.stderr);
    /* the running server may learn about it at once or after a restart */
    let listed = (await stack.api('GET', '/api/shows')).json.find((x) => x.id === 'second');
    if (!listed) {
        await stack.server.restart();
        listed = (await stack.api('GET', '/api/shows')).json.find((x) => x.id === 'second');
    }
    assert.ok(listed, 'second show listed');
    assert.equal(listed.name, 'Second night');
    assert.equal(listed.starts_at, '2030-01-02T20:00:00Z');
    const dup = await seatmapdCli([
        'show', 'add', 'second', '--venue', path.join(REPO, 'assets/venues/demo.json'), '--name', 'Again', '--db', stack.dbPath,
    ]);
    oneClearLine(dup, 'duplicate show id');

    const ids = await stack.seatIds();
    const pool = seatPool(ids);
    const [seat] = pool.take(1);
    const buyer = await stack.buyer(); /* watches demo */
    const w2 = await stack.client();
    await w2.hello();
    await w2.watch('second');
    /* the same seat id is held independently in both shows, by the same buyer */
    const h1 = await buyer.call({ type: 'hold', show: 'demo', seats: [seat] });
    const h2 = await buyer.call({ type: 'hold', show: 'second', seats: [seat] });
    assert.notEqual(h1.hold.ref, h2.hold.ref);
    const e = await buyer.nextEvent((x) => x.type === 'hold' && x.show === 'second', 3000, 'hold event for second');
    assert.equal(e.hold.ref, h2.hold.ref);
    await w2.waitFor((c) => c.state(seat) === 'p', 3000);
    const s2 = (await stack.api('GET', '/api/shows/second/seats')).json;
    assert.equal(s2.seats[ids.indexOf(seat)], 'p');
    /* releasing in one show leaves the other alone */
    await buyer.call({ type: 'release', show: 'second', seats: [seat] });
    await w2.waitFor((c) => c.state(seat) === 'e', 3000);
    assert.equal((await stack.seats()).seats[ids.indexOf(seat)], 'p');
    /* watching one show at a time: deltas of demo don't reach a second-show watcher */
    const [other] = pool.take(1);
    await buyer.call({ type: 'hold', show: 'demo', seats: [other] });
    const buyer2 = await stack.buyer();
    await buyer2.waitFor((c) => c.state(other) === 'p', 3000);
    assert.ok(!w2.events.some((x) => x.type === 'delta' && x.show === 'demo'), 'no demo deltas to a second watcher');
    assert.equal(w2.state(other), 'e');
    /* max_seats is per show */
    const bookingCookie = await stack.login();
    const holds2 = await stack.api('GET', '/api/shows/second/holds', { cookie: bookingCookie });
    assert.equal(holds2.status, 200);
    assert.ok(!holds2.json.some((x) => x.ref === h1.hold.ref), 'holds are listed per show');
});
