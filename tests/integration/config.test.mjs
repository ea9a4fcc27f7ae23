/*
 * config.test.mjs - `seatmapd serve --config FILE` (the names of the flags,
 * one per line; the command line wins) and `seatmapd check`, which says what
 * is wrong with a config or a venue file and exits 0, 1 or 2.
 * Not here: the flags themselves (cli.test.mjs), the package (scripts/
 * package-check.sh).
 */
import { before, after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startRedis, startServer, seatmapdCli, freePort, httpRequest, wsClient, REPO } from '../lib/stack.mjs';

let tmp;
let redis;
before(async () => {
    tmp = mkdtempSync(path.join(tmpdir(), 'seatmap-config-'));
    redis = await startRedis({ dir: tmp });
});
after(async () => {
    await redis?.stop();
    rmSync(tmp, { recursive: true, force: true });
});

function file(name, text) {
    const p = path.join(tmp, name);
    writeFileSync(p, text);
    return p;
}

test('serve reads its settings from --config; the command line wins over the file', async () => {
    const port = await freePort();
    const other = await freePort();
    const mport = await freePort();
    const conf = file(
        'serve.conf',
        [
            '# a config file as the package ships it',
            `listen = 127.0.0.1:${other}`,
            `redis = ${redis.url}`,
            `db = ${path.join(tmp, 'serve.db')}`,
            `metrics-listen = 127.0.0.1:${mport}`,
            'max-seats = 3',
            '',
        ].join('\n'),
    );
    /* startServer passes --listen (and --redis, --db) itself: those win */
    const s = await startServer({
        redisPort: redis.port,
        dbPath: path.join(tmp, 'serve.db'),
        port,
        extraArgs: ['--config', conf],
    });
    try {
        assert.equal((await httpRequest(s.baseUrl, 'GET', '/healthz')).status, 200);
        const m = await httpRequest(`http://127.0.0.1:${mport}`, 'GET', '/metrics');
        assert.equal(m.status, 200, 'metrics-listen came from the file');
        assert.match(m.text, /^seatmap_redis_up 1$/m);
        /* max-seats = 3 from the file */
        const layout = await httpRequest(s.baseUrl, 'GET', '/api/shows/demo');
        const ids = layout.json.seats.map((x) => x.id).slice(0, 4);
        const c = await wsClient(s.wsUrl, { layout: layout.json.seats.map((x) => x.id) });
        await c.hello();
        const r = await c.request({ type: 'hold', show: 'demo', seats: ids });
        assert.equal(r.code, 'hold_limit', JSON.stringify(r));
        await c.close();
    } finally {
        await s.stop();
    }
});

test('serve refuses a config file with a mistake, naming the file and line', async () => {
    const conf = file('typo.conf', 'listen = 127.0.0.1:9\nredis-url = redis://x\n');
    const r = await seatmapdCli(['serve', '--config', conf]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /typo\.conf:2: unknown setting 'redis-url'/);
    const missing = await seatmapdCli(['serve', '--config', path.join(tmp, 'nope.conf')]);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /cannot read config file .*nope\.conf/);
});

test('check: all good -> 0 and one ok line per item', async () => {
    mkdirSync(path.join(tmp, 'state'), { recursive: true });
    const conf = file(
        'good.conf',
        `redis = ${redis.url}\ndb = ${path.join(tmp, 'state', 'x.db')}\nweb = ${path.join(REPO, 'web')}\n` +
            `demo = true\ndemo-venue = ${path.join(REPO, 'assets/venues/demo.json')}\n`,
    );
    const r = await seatmapdCli(['check', '--config', conf, '--venue', path.join(REPO, 'assets/venues/stadium.json')]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^ok: config .*good\.conf$/m);
    assert.match(r.stdout, /^ok: redis /m);
    assert.match(r.stdout, /^ok: db /m);
    assert.match(r.stdout, /^ok: web /m);
    assert.match(r.stdout, /^ok: venue .*demo\.json: ".*", \d+ seats$/m);
    assert.match(r.stdout, /^ok: venue .*stadium\.json/m);
    assert.match(r.stdout, /^all good$/m);
});

test('check: every problem is named, exit 1', async () => {
    const conf = file(
        'bad.conf',
        `redis = http://example.org\ndb = ${path.join(tmp, 'no-such-dir', 'x.db')}\nweb = ${path.join(tmp, 'no-web')}\n` +
            `listen = 127.0.0.1:9000\nmetrics-listen = 127.0.0.1:9000\n`,
    );
    const venue = file('venue.json', '{"name": "half a venue", "sections": [');
    const r = await seatmapdCli(['check', '--config', conf, '--venue', venue]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^error: redis http:\/\/example\.org: .+/m);
    assert.match(r.stderr, /^error: db .*no-such-dir.*does not exist/m);
    assert.match(r.stderr, /^error: web .*no-web: no such directory/m);
    assert.match(r.stderr, /^error: metrics-listen 127\.0\.0\.1:9000: the same port as --listen/m);
    assert.match(r.stderr, /^error: venue .*venue\.json: .+/m);
    assert.match(r.stderr, /^5 problems found$/m);
    assert.equal(r.stdout.includes('all good'), false);

    const syntax = await seatmapdCli(['check', '--config', file('syntax.conf', 'hold-ttl = soon\n')]);
    assert.equal(syntax.code, 1);
    assert.match(syntax.stderr, /^error: config: .*syntax\.conf:1: --hold-ttl wants seconds/m);
});

test('check: a bad flag is a usage error (2)', async () => {
    const r = await seatmapdCli(['check', '--frobnicate']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /check wants \[--config FILE\] \[--venue FILE\]/);
    const r2 = await seatmapdCli(['check', '--venue']);
    assert.equal(r2.code, 2);
    assert.match(r2.stderr, /without a value/);
});
