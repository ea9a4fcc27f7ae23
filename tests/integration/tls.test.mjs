/*
 * tls.test.mjs - HTTPS and WSS from seatmapd itself (docs/operations.md,
 * "TLS"), with a certificate made at test time by openssl: pages, the API
 * and the WebSocket protocol over real TLS from node; the session cookie is
 * Secure and answers carry HSTS; --http-redirect-port answers plain HTTP
 * with a redirect to https and nothing else; bad TLS flags are refused.
 * --trust-proxy: the client address in the logs comes from X-Forwarded-For
 * only when the peer is trusted.
 */
import { before, after } from 'node:test';
import assert from 'node:assert/strict';
import https from 'node:https';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import WebSocket from 'ws';
import {
    startStack, startServer, testWithLogs, seatmapdCli, rawHttp, httpRequest, freePort, waitUntil,
} from '../lib/stack.mjs';

let stack;
let tls; /* the TLS server */
let cert;
let key;
let redirectPort;
const it = testWithLogs(() => stack);

function get(url, { method = 'GET', headers = {}, body } = {}) {
    return new Promise((resolve, reject) => {
        const req = https.request(url, { method, headers, ca: cert.pem, agent: false }, (res) => {
            const chunks = [];
            res.on('data', (c) => chunks.push(c));
            res.on('end', () => {
                const text = Buffer.concat(chunks).toString();
                let json;
                try { json = JSON.parse(text); } catch { json = undefined; }
                resolve({ status: res.statusCode, headers: res.headers, text, json });
            });
        });
        req.on('error', reject);
        req.end(body);
    });
}

before(async () => {
    stack = await startStack({ extraArgs: ['--log-level', 'debug'] });
    const dir = stack.tmpDir;
    key = path.join(dir, 'key.pem');
    const certPath = path.join(dir, 'cert.pem');
    execFileSync('openssl', [
        'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', certPath,
        '-days', '1', '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1',
    ], { stdio: 'ignore' });
    cert = { path: certPath, pem: execFileSync('cat', [certPath]) };
    redirectPort = await freePort();
    const port = await freePort();
    tls = await startServer({
        redisPort: stack.redis.port, dbPath: stack.dbPath, port, waitHealthy: false,
        extraArgs: ['--tls-cert', certPath, '--tls-key', key, '--http-redirect-port', String(redirectPort)],
    });
    stack.servers.push(tls);
    tls.baseUrl = `https://127.0.0.1:${port}`;
    await waitUntil(async () => (await get(`${tls.baseUrl}/healthz`)).status === 200, 15000, 'https /healthz');
});
after(async () => {
    await stack?.stop();
});

it('serves pages and the API over HTTPS with HSTS, and a Secure session cookie', async () => {
    const page = await get(`${tls.baseUrl}/`);
    assert.equal(page.status, 200);
    assert.match(page.text, /<html/i);
    assert.match(page.headers['strict-transport-security'] || '', /max-age=\d{7,}/);
    const health = await get(`${tls.baseUrl}/healthz`);
    assert.match(health.headers['strict-transport-security'] || '', /max-age=/);
    const origin = tls.baseUrl;
    const body = JSON.stringify({ username: stack.staff.user, password: stack.staff.password });
    const login = await get(`${tls.baseUrl}/api/login`, {
        method: 'POST', body,
        headers: { Origin: origin, 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) },
    });
    assert.equal(login.status, 200, login.text);
    const setCookie = [].concat(login.headers['set-cookie'])[0];
    assert.match(setCookie, /; Secure/);
    assert.match(setCookie, /HttpOnly/);
    const me = await get(`${tls.baseUrl}/api/me`, { headers: { Cookie: setCookie.split(';')[0], Origin: origin } });
    assert.equal(me.status, 200, me.text);
    /* plain HTTP on the main port is not served */
    await assert.rejects(httpRequest(`http://127.0.0.1:${tls.port}`, 'GET', '/healthz', { timeoutMs: 2000 }));
    /* without TLS, no Secure and no HSTS */
    const plain = await stack.api('GET', '/healthz');
    assert.equal(plain.headers['strict-transport-security'], undefined);
});

it('speaks seatmap.v1 over WSS', async () => {
    const ws = new WebSocket(`wss://127.0.0.1:${tls.port}/ws`, 'seatmap.v1', { ca: cert.pem, origin: tls.baseUrl });
    const msgs = [];
    ws.on('message', (d) => msgs.push(JSON.parse(String(d))));
    await new Promise((resolve, reject) => { ws.once('open', resolve); ws.once('error', reject); });
    ws.send(JSON.stringify({ type: 'hello', id: 1 }));
    ws.send(JSON.stringify({ type: 'watch', id: 2, show: 'demo' }));
    await waitUntil(() => msgs.some((m) => m.type === 'snapshot'), 5000, 'a snapshot over wss');
    assert.equal(msgs.find((m) => m.id === 1).type, 'ok');
    const seat = (await stack.seatIds())[0];
    ws.send(JSON.stringify({ type: 'hold', id: 3, show: 'demo', seats: [seat] }));
    await waitUntil(() => msgs.some((m) => m.id === 3), 5000, 'the hold reply');
    assert.equal(msgs.find((m) => m.id === 3).type, 'ok', JSON.stringify(msgs.find((m) => m.id === 3)));
    ws.send(JSON.stringify({ type: 'release', id: 4, show: 'demo', seats: [seat] }));
    await waitUntil(() => msgs.some((m) => m.id === 4), 5000, 'the release reply');
    ws.close();
});

it('--http-redirect-port sends plain HTTP to https, same path, nothing else', async () => {
    const r = await rawHttp(redirectPort, 'GET /boxoffice?x=1 HTTP/1.1\r\nHost: tickets.example:80\r\n\r\n');
    assert.equal(r.status, 301);
    assert.equal(r.headers.location, `https://tickets.example:${tls.port}/boxoffice?x=1`);
    const p = await rawHttp(redirectPort, 'POST /api/login HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\n\r\n');
    assert.equal(p.status, 308, 'a POST keeps its method');
    assert.equal(p.headers.location, `https://127.0.0.1:${tls.port}/api/login`);
    /* a Host that is not a host name cannot steer the redirect */
    const odd = await rawHttp(redirectPort, 'GET / HTTP/1.1\r\nHost: evil.example/@x\r\n\r\n');
    assert.equal(odd.headers.location, `https://127.0.0.1:${tls.port}/`);
    /* no WebSocket on the redirect port */
    const ws = new WebSocket(`ws://127.0.0.1:${redirectPort}/ws`, 'seatmap.v1');
    await new Promise((resolve) => { ws.once('error', resolve); ws.once('unexpected-response', resolve); });
    ws.terminate();
});

it('refuses TLS flags that do not work together, and unreadable files', async () => {
    const db = path.join(stack.tmpDir, 'x.db');
    let r = await seatmapdCli(['serve', '--tls-cert', cert.path, '--db', db]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /--tls-cert and --tls-key go together/);
    r = await seatmapdCli(['serve', '--http-redirect-port', '8081', '--db', db]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /--http-redirect-port redirects to HTTPS: it needs --tls-cert and --tls-key/);
    r = await seatmapdCli(['serve', '--trust-proxy', '10.0.0.0/99', '--db', db]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /--trust-proxy wants addresses or CIDR ranges/);
    const port = await freePort();
    r = await seatmapdCli(['serve', '--listen', `127.0.0.1:${port}`, '--db', db, '--redis', stack.redis.url,
        '--tls-cert', path.join(stack.tmpDir, 'missing.pem'), '--tls-key', key]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /cannot read .*missing\.pem: No such file or directory/);
    r = await seatmapdCli(['serve', '--listen', `127.0.0.1:${port}`, '--db', db, '--redis', stack.redis.url,
        '--tls-cert', key, '--tls-key', key]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /--tls-cert and --tls-key (are not a|a) PEM certificate and its key/);
});

it('--trust-proxy: X-Forwarded-For is believed from a trusted peer only', async () => {
    const trusting = await stack.addServer({ extraArgs: ['--log-level', 'debug', '--trust-proxy', '127.0.0.0/8'] });
    const xff = { 'X-Forwarded-For': '6.6.6.6, 198.51.100.23' };
    let r = await httpRequest(trusting.baseUrl, 'GET', '/api/me', { headers: xff });
    let id = r.headers['x-request-id'];
    await waitUntil(() => trusting.stderr().includes(`req=${id}`), 3000, 'the log line');
    assert.match(trusting.stderr(), new RegExp(`GET /api/me from 198\\.51\\.100\\.23: .* req=${id}`));
    /* the first server trusts nobody: the header is ignored */
    r = await stack.api('GET', '/api/me', { headers: xff });
    id = r.headers['x-request-id'];
    await waitUntil(() => stack.server.stderr().includes(`req=${id}`), 3000, 'the log line');
    assert.match(stack.server.stderr(), new RegExp(`GET /api/me from 127\\.0\\.0\\.1: .* req=${id}`));
});
