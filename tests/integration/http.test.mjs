/*
 * http.test.mjs - HTTP plumbing under the API: keep-alive connections that
 * mix GET/POST/DELETE (request state must not leak between requests),
 * pipelined requests, static files and their types, odd methods and paths,
 * many parallel clients. Not here: API semantics (staff/auth/basic).
 */
import { before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { startStack, testWithLogs, seatPool, httpRequest } from '../lib/stack.mjs';

let stack;
let pool;
const it = testWithLogs(() => stack);

before(async () => {
    stack = await startStack({ holdTtl: 30, extraArgs: ['--ip-limits', 'off'] /* many clients from one address */ });
    pool = seatPool(await stack.seatIds());
});
after(async () => {
    await stack?.stop();
});

/* One request on a given keep-alive agent. */
function kaRequest(agent, method, p, { body, cookie, headers = {} } = {}) {
    return new Promise((resolve, reject) => {
        const h = { ...headers };
        if (body !== undefined) h['Content-Length'] = Buffer.byteLength(body);
        else if (method === 'POST') h['Content-Length'] = 0;
        if (cookie) h.Cookie = cookie;
        const req = http.request(
            { host: '127.0.0.1', port: stack.server.port, method, path: p, headers: h, agent },
            (res) => {
                const chunks = [];
                res.on('data', (c) => chunks.push(c));
                res.on('end', () => {
                    const text = Buffer.concat(chunks).toString();
                    let json;
                    try {
                        json = JSON.parse(text);
                    } catch {
                        json = undefined;
                    }
                    resolve({ status: res.statusCode, headers: res.headers, text, json, socket: req.socket });
                });
            },
        );
        req.setTimeout(5000, () => req.destroy(new Error(`${method} ${p} timed out on a kept-alive connection`)));
        req.on('error', reject);
        req.end(body);
    });
}

it('one keep-alive connection carries a mix of requests correctly', async () => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    try {
        const cookie = await stack.login();
        const [s1, s2] = pool.take(2);
        const steps = [
            ['GET', '/api/shows/demo/seats', {}, 200],
            ['POST', '/api/login', { body: '{"username":"staff","password":"nope"}' }, 401],
            ['GET', '/api/shows', {}, 200],
            ['POST', '/api/login', { body: '{"username":' }, 400],
            ['GET', '/api/shows/demo/holds', { cookie }, 200],
            ['POST', '/api/shows/demo/bookings', { cookie, body: JSON.stringify({ seats: [s1], payment_ref: 'ka-1' }) }, 201],
            ['GET', '/healthz', {}, 200],
            ['POST', '/api/shows/demo/bookings', { cookie, body: JSON.stringify({ seats: [s1], payment_ref: 'ka-2' }) }, 409],
            ['GET', '/api/shows/nope', {}, 404],
            ['POST', '/api/shows/demo/bookings', { cookie, body: JSON.stringify({ seats: [s2], payment_ref: 'ka-3' }) }, 201],
            ['GET', '/', {}, 200],
            ['POST', '/api/shows/demo/bookings', { cookie }, 400], /* empty body */
            ['GET', '/api/shows/demo/bookings', { cookie }, 200],
            ['POST', '/api/logout', { cookie: 'seatmap_session=nothing' }, 401],
            ['GET', '/api/me', { cookie }, 200],
        ];
        const sockets = new Set();
        for (const [method, p, opts, want] of steps) {
            const r = await kaRequest(agent, method, p, opts);
            sockets.add(r.socket);
            assert.equal(r.status, want, `${method} ${p} ${opts.body || ''} -> ${r.status} ${r.text.slice(0, 200)}`);
            if (p.startsWith('/api/')) assert.ok(r.json !== undefined, `${method} ${p}: JSON body`);
        }
        assert.ok(sockets.size < steps.length, `keep-alive reused connections (${sockets.size} sockets for ${steps.length} requests)`);
        const ids = await stack.seatIds();
        const s = await stack.seats();
        assert.equal(s.seats[ids.indexOf(s1)], 'b');
        assert.equal(s.seats[ids.indexOf(s2)], 'b');
    } finally {
        agent.destroy();
    }
});

it('static files: types, security headers, no directory listing', async () => {
    /* the script and stylesheet the page itself names */
    const index = (await stack.api('GET', '/')).text;
    const script = /<script[^>]+src="([^"]+)"/.exec(index)?.[1];
    const style = /<link[^>]+href="([^"]+\.css)"/.exec(index)?.[1];
    const image = /<img[^>]+src="([^"]+\.svg)"/.exec(index)?.[1];
    assert.ok(script && style && image, 'index.html names a script file, a stylesheet and an image');
    for (const [p, type] of [
        ['/', /text\/html/],
        ['/boxoffice', /text\/html/],
        [new URL(style, stack.baseUrl).pathname, /text\/css/],
        [new URL(script, stack.baseUrl).pathname, /javascript/],
        [new URL(image, stack.baseUrl).pathname, /image\/svg\+xml/],
    ]) {
        const r = await stack.api('GET', p);
        assert.equal(r.status, 200, `${p}: ${r.status}`);
        assert.match(r.headers['content-type'] || '', type, `${p} content-type`);
        assert.ok(r.headers['content-security-policy'], `${p}: CSP`);
        assert.equal(r.headers['x-content-type-options'], 'nosniff', `${p}: nosniff`);
    }
    for (const p of ['/js/', '/css', '/js']) {
        const r = await stack.api('GET', p);
        assert.ok(!/<a href=|Index of/i.test(r.text), `${p}: no directory listing`);
    }
    const api = await stack.api('GET', '/api/shows');
    assert.match(api.headers['content-type'] || '', /application\/json/);
    assert.notEqual(api.headers['access-control-allow-credentials'], 'true', 'no credentialed CORS');
});

it('odd methods and paths are refused cleanly', async () => {
    for (const [method, p] of [
        ['PUT', '/api/shows/demo'],
        ['PATCH', '/api/shows/demo/bookings'],
        ['DELETE', '/api/shows/demo'],
        ['POST', '/api/shows'],
        ['GET', '/api/shows/demo/bookings/1/extra'],
        ['GET', '/api/shows//seats'],
    ]) {
        const r = await stack.api(method, p).catch((e) => ({ status: 0, text: e.message }));
        assert.ok(r.status >= 400 && r.status < 500, `${method} ${p.slice(0, 60)} -> ${r.status} ${r.text?.slice(0, 100)}`);
    }
    assert.equal((await stack.api('GET', '/healthz')).status, 200);
});

it('200 parallel HTTP clients get consistent answers', async () => {
    const rs = await Promise.all(
        Array.from({ length: 200 }, (_, i) =>
            i % 2 ? stack.api('GET', '/api/shows/demo/seats') : stack.api('GET', '/api/shows/demo'),
        ),
    );
    for (const r of rs) assert.equal(r.status, 200);
    const layouts = rs.filter((_, i) => i % 2 === 0).map((r) => r.text);
    assert.ok(layouts.every((t) => t === layouts[0]), 'the layout is the same bytes every time');
});

/* The tests below have crashed or hung the server before; they run last so
 * the ones above still say something when they fail. */

/* Writes `text` in one go; resolves with what came back and how it ended. */
function oneWrite(port, text, timeoutMs = 4000) {
    return new Promise((resolve, reject) => {
        const sock = net.connect(port, '127.0.0.1');
        let buf = '';
        sock.setTimeout(timeoutMs, () => {
            sock.destroy();
            resolve({ buf, ended: 'timeout' });
        });
        sock.on('data', (d) => (buf += d));
        sock.on('end', () => resolve({ buf, ended: 'closed' }));
        sock.on('error', (e) => resolve({ buf, ended: `error ${e.code}` }));
        sock.on('connect', () => sock.write(text));
        sock.on('error', reject);
    });
}

it('pipelined requests in one packet: answered in order or closed, never a hang or crash', async () => {
    const body = '{"username":"staff","password":"no"}\n';
    const problems = [];
    for (const [label, make, want] of [
        ['GET+GET', (g, p) => g('/api/shows/demo/seats') + g('/api/shows', true), [200, 200]],
        ['GET+POST+GET', (g, p) => g('/api/shows/demo/seats') + p + g('/api/shows/nope', true), [200, 401, 404]],
        ['POST+GET', (g, p) => p + g('/api/shows', true), [401, 200]],
        ['POST+POST', (g, p) => p + p.replace('HTTP/1.1\r\n', 'HTTP/1.1\r\nConnection: close\r\n'), [401, 401]],
    ]) {
        /* a fresh server per case, so one failure can't hide another */
        const server = await stack.addServer();
        const host = `127.0.0.1:${server.port}`;
        const get = (p, close) => `GET ${p} HTTP/1.1\r\nHost: ${host}\r\n${close ? 'Connection: close\r\n' : ''}\r\n`;
        const post = `POST /api/login HTTP/1.1\r\nHost: ${host}\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`;
        const { buf, ended } = await oneWrite(server.port, make(get, post));
        const statuses = [...buf.matchAll(/HTTP\/1\.[01] (\d{3})/g)].map((m) => Number(m[1]));
        /* RFC 9112: answer in order, or close the connection; never hang */
        if (ended === 'timeout') problems.push(`${label}: no answer and no close after ${statuses}`);
        if (JSON.stringify(statuses) !== JSON.stringify(want.slice(0, statuses.length))) {
            problems.push(`${label}: answers ${statuses}, expected ${want}`);
        }
        const h = await httpRequest(server.baseUrl, 'GET', '/healthz', { timeoutMs: 3000 }).catch((e) => ({ status: e.message }));
        if (h.status !== 200) problems.push(`${label}: server not healthy afterwards (${h.status})`);
        if (server.crashes.length) problems.push(`${label}: server crashed ${JSON.stringify(server.crashes)}`);
        await server.kill('SIGKILL'); /* a hung one would burn a core */
    }
    assert.deepEqual(problems, []);
});

it('a 5000-character URL or a %00 in the query is refused, not a crash', async () => {
    for (const p of [`/api/shows/${'x'.repeat(5000)}`, '/api/shows/demo/seats?x=1&y=%00', '/?q=%00%00']) {
        const r = await stack.api('GET', p).catch((e) => ({ status: 0, text: e.message }));
        /* 200 (query ignored), 4xx, or a closed connection are all fine; a crash is not */
        assert.ok(r.status === 0 || r.status === 200 || (r.status >= 400 && r.status < 500), `${p.slice(0, 40)}: ${r.status} ${r.text}`);
        const h = await stack.api('GET', '/healthz', { timeoutMs: 3000 }).catch((e) => ({ status: e.message }));
        assert.equal(h.status, 200, `server healthy after ${p.slice(0, 40)}`);
        assert.deepEqual(stack.server.crashes, [], `no crash after ${p.slice(0, 40)}`);
    }
});
