/*
 * logs.test.mjs - what seatmapd writes to its logs (docs/operations.md,
 * "Logs"): a full scripted session (logins good and bad, holds, a
 * confirmation by session and by API token, a walk-up sale, failures of
 * every kind, logout) at --log-level debug, then the logs are searched for
 * every secret the session used: passwords, session cookies, API tokens,
 * buyer tokens. Request ids: every HTTP answer has X-Request-Id and a failed
 * request's log line carries it. --log-format json: every line is one JSON
 * object. --log-file: SIGHUP reopens it after a rotation.
 */
import { before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, renameSync, existsSync } from 'node:fs';
import path from 'node:path';
import { startStack, testWithLogs, seatPool, waitUntil, httpRequest } from '../lib/stack.mjs';

let stack;
let pool;
const secrets = new Map(); /* value -> what it is */
const it = testWithLogs(() => stack);

function secret(value, what) {
    assert.ok(value && value.length >= 8, `${what} is a real secret: ${value}`);
    secrets.set(value, what);
    return value;
}

function leaks(text) {
    const found = [];
    for (const [value, what] of secrets) if (text.includes(value)) found.push(what);
    return found;
}

before(async () => {
    stack = await startStack({ holdTtl: 30, extraArgs: ['--log-level', 'debug'] });
    pool = seatPool(await stack.seatIds());
    secret(stack.staff.password, 'the staff password');
});
after(async () => {
    await stack?.stop();
});

it('a full session at debug level logs events but never a secret', async () => {
    const api = (m, p, o) => stack.api(m, p, { origin: stack.origin, ...o });
    /* failed logins, with passwords that must not show up either */
    const wrong = secret('wrong-password-Zq81x', 'a wrong password');
    let r = await api('POST', '/api/login', { json: { username: 'staff', password: wrong } });
    assert.equal(r.status, 401);
    r = await api('POST', '/api/login', { json: { username: 'nobody', password: secret('nobody-pass-77xk', 'an unknown user password') } });
    assert.equal(r.status, 401);
    /* a good login */
    const cookie = await stack.login();
    secret(cookie.split('=')[1], 'the session cookie');
    r = await api('GET', '/api/me', { cookie });
    assert.equal(r.status, 200);
    /* a forged cookie and a forged token */
    r = await api('GET', '/api/me', { cookie: `seatmap_session=${secret('f'.repeat(64), 'a forged session id')}` });
    assert.equal(r.status, 401);
    r = await api('GET', '/api/shows/demo/bookings', { token: secret('forged-api-token-0123456789', 'a forged API token') });
    assert.equal(r.status, 401);
    /* an API token */
    const token = secret(await stack.addToken('till-1', 'boxoffice'), 'an API token');
    r = await api('GET', '/api/shows/demo/bookings', { token });
    assert.equal(r.status, 200);

    /* buyers: holds, a release, errors, a forged buyer token */
    const b1 = await stack.buyer();
    secret(b1.buyer, 'a buyer token');
    const b2 = await stack.buyer();
    secret(b2.buyer, 'a second buyer token');
    const [s1, s2, s3, s4] = pool.take(4);
    const h1 = (await b1.call({ type: 'hold', show: 'demo', seats: [s1, s2] })).hold;
    const taken = await b2.request({ type: 'hold', show: 'demo', seats: [s2] });
    assert.equal(taken.code, 'seat_unavailable');
    assert.equal((await b2.request({ type: 'hold', show: 'demo', seats: ['no-such-seat'] })).code, 'unknown_seat');
    b2.send('not json');
    const h2 = (await b2.call({ type: 'hold', show: 'demo', seats: [s3] })).hold;
    const forged = await stack.client();
    await forged.hello(secret('00'.repeat(24), 'a forged buyer token'));
    assert.notEqual(forged.buyer, '00'.repeat(24));
    secret(forged.buyer, 'the buyer token minted instead');

    /* confirmations: by session, by API token, a walk-up sale, failures */
    r = await api('POST', '/api/shows/demo/bookings', { cookie, json: { hold: h1.ref, payment_ref: 'pay-logs-1' } });
    assert.equal(r.status, 201, r.text);
    r = await api('POST', '/api/shows/demo/bookings', { token, json: { hold: h2.ref, payment_ref: 'pay-logs-2' } });
    assert.equal(r.status, 201, r.text);
    r = await api('POST', '/api/shows/demo/bookings', { token, json: { seats: [s4], payment_ref: 'pay-logs-3' } });
    assert.equal(r.status, 201, r.text);
    const failed = await api('POST', '/api/shows/demo/bookings', { cookie, json: { hold: 'QQQQQQ', payment_ref: 'pay-logs-4' } });
    assert.equal(failed.status, 409, failed.text);
    r = await api('POST', '/api/shows/demo/bookings', { cookie, body: '{"broken', headers: { 'Content-Type': 'application/json' } });
    assert.equal(r.status, 400);
    r = await api('POST', '/api/logout', { cookie });
    assert.equal(r.status, 200);
    r = await api('GET', '/api/me', { cookie });
    assert.equal(r.status, 401, 'the session is over');

    /* every answer has a request id, and a failure's id is in its log line */
    const id = failed.headers['x-request-id'];
    assert.match(id || '', /^[0-9a-f]{16}$/);
    const log = () => stack.server.stderr();
    await waitUntil(() => log().includes(`req=${id}`), 3000, `a log line with req=${id}`);
    const line = log().split('\n').find((l) => l.includes(`req=${id}`) && l.includes('409'));
    assert.ok(line, `the failed confirmation's line names its id:\n${log().slice(-3000)}`);
    assert.match(line, /hold_expired|not_found|409/);
    /* the events are there: logins, the WebSocket errors with their connection id */
    assert.match(log(), /staff \(admin\) logged in from 127\.0\.0\.1/);
    assert.match(log(), /debug: WebSocket error seat_unavailable on request \d+: .* req=[0-9a-f]{16}/);
    assert.match(log(), /debug: POST \/api\/shows\/demo\/bookings 201 from 127\.0\.0\.1/);
    await b1.close();
    await b2.close();
    await forged.close();
    await waitUntil(() => /WebSocket closed/.test(log()), 3000, 'closes logged');

    const found = leaks(log());
    assert.deepEqual(found, [], `secrets in the log: ${found.join(', ')}`);
    /* one event, one line: every line starts with a timestamp or is our own banner */
    for (const l of log().split('\n').filter(Boolean)) {
        assert.match(l, /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z seatmapd (debug|info|warn|error): |seatmapd: |----- seatmapd)/, l);
    }
});

it('--log-format json --log-file: JSON lines, reopened on SIGHUP', async () => {
    const file = path.join(stack.tmpDir, 'seatmapd.log');
    const s = await stack.addServer({
        extraArgs: ['--log-level', 'debug', '--log-format', 'json', '--log-file', file],
    });
    const cookie = await stack.login(undefined, undefined, s.baseUrl);
    secret(cookie.split('=')[1], 'the second session cookie');
    let r = await httpRequest(s.baseUrl, 'GET', '/api/me', { cookie: 'seatmap_session=nope' });
    assert.equal(r.status, 401);
    const id = r.headers['x-request-id'];
    await waitUntil(() => existsSync(file) && readFileSync(file, 'utf8').includes(id), 3000, 'the id in the file');
    const lines = readFileSync(file, 'utf8').split('\n').filter(Boolean);
    assert.ok(lines.length >= 3, `lines: ${lines.length}`);
    for (const l of lines) {
        const j = JSON.parse(l); /* throws on a line that is not JSON */
        assert.match(j.ts, /^\d{4}-\d\d-\d\dT/);
        assert.ok(['debug', 'info', 'warn', 'error'].includes(j.level), l);
        assert.equal(typeof j.msg, 'string');
        assert.equal(j.pid, s.pid);
    }
    const failure = lines.map((l) => JSON.parse(l)).find((j) => j.req === id && j.level === 'info');
    assert.ok(failure, `the 401 has a line with req ${id}`);
    assert.match(failure.msg, /HTTP 401 unauthorized on GET \/api\/me/);
    assert.ok(!s.stderr().includes('"msg"'), 'log lines go to the file, not stderr');

    /* logrotate: move the file away, SIGHUP, the next lines go to a new file */
    renameSync(file, `${file}.1`);
    process.kill(s.pid, 'SIGHUP');
    await waitUntil(() => existsSync(file), 3000, 'a new log file after SIGHUP');
    r = await httpRequest(s.baseUrl, 'GET', '/api/me', { cookie: 'seatmap_session=again' });
    await waitUntil(() => readFileSync(file, 'utf8').includes(r.headers['x-request-id']), 3000, 'new lines in the new file');
    assert.ok(!readFileSync(`${file}.1`, 'utf8').includes(r.headers['x-request-id']));
    assert.match(readFileSync(file, 'utf8'), /reopened the log file/);
    const found = leaks(readFileSync(file, 'utf8') + readFileSync(`${file}.1`, 'utf8'));
    assert.deepEqual(found, [], `secrets in the log file: ${found.join(', ')}`);
});

it('bad logging flags are refused with a clear error', async () => {
    const { seatmapdCli } = await import('../lib/stack.mjs');
    let r = await seatmapdCli(['serve', '--log-level', 'loud']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /--log-level wants debug, info, warn or error, got 'loud'/);
    r = await seatmapdCli(['serve', '--log-format', 'xml']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /--log-format wants text or json/);
    r = await seatmapdCli(['serve', '--log-file', '/nonexistent/dir/x.log', '--db', path.join(stack.tmpDir, 'x.db')]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /cannot open the log file \/nonexistent\/dir\/x\.log/);
});
