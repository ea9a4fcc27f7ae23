/*
 * stack.mjs - starts a REAL redis-server and a REAL seatmapd on free loopback
 * ports for the integration and e2e tests, and talks to them over real HTTP
 * and WebSocket. No mocks. Not here: the tests themselves, and any knowledge
 * of the server's internals beyond PROTOCOL.md and the documented Redis keys.
 *
 * API (shared with tests/e2e; keep this comment up to date):
 *
 *   REPO                      absolute path of the repository root
 *   SEATMAPD                  the binary used: $SEATMAPD (relative paths are taken
 *                             from the repo root) or <repo>/build/seatmapd
 *   freePort() -> port        a free TCP port on 127.0.0.1
 *   startRedis({dir, port}) -> redis
 *       redis = {port, url, pid, cli(...args) -> stdout (runs redis-cli),
 *                kill(signal='SIGKILL') (waits for the exit), restart() (same
 *                port, empty: no persistence), stop(), log()}
 *   startServer({redisPort, redisUrl (instead of redisPort), dbPath, holdTtl=3, extraArgs=[], env={}, port,
 *                demo=true, waitHealthy=true}) -> server
 *       server = {port, baseUrl, wsUrl, origin, pid, stderr() (all text so far,
 *                 across restarts), crashes (exits nobody asked for; stack.stop()
 *                 fails on them), kill(signal='SIGKILL', graceMs=5000) (waits for
 *                 the exit; SIGKILL after graceMs),
 *                 restart() (same port and args; waits until ready), stop()
 *                 (SIGTERM, then SIGKILL after 5 s), sanitizerReport() -> text|null}
 *   seatmapdCli(args, {input, env}) -> {code, stdout, stderr}   runs `seatmapd ...`
 *   pgBinDir() -> directory of PostgreSQL's initdb/postgres/psql, or null
 *   startPostgres({port}) -> pg   a fresh PostgreSQL cluster (initdb, trust auth) in a
 *       temporary directory with a database "seatmap", on a free loopback port; as
 *       root, initdb runs through `runuser -u postgres` and the postmaster as that user
 *       pg = {port, url (postgresql://postgres@127.0.0.1:PORT/seatmap), pid,
 *             query(sql) -> text (psql -tA), kill(signal='SIGQUIT') (waits for the
 *             exit), start() (same port and data), stop(), log()}
 *   startStack({holdTtl, extraArgs, env, staffPassword, postgres, cluster}) -> stack
 *       ($SEATMAP_EXTRA_ARGS, space-separated, is appended to the server flags;
 *        postgres: true, or $SEATMAP_TEST_DB=postgres, puts the ledger in a fresh
 *        PostgreSQL: dbPath is then its URL and stack.pg the server;
 *        cluster: true, or $SEATMAP_TEST_REDIS=cluster, puts holds in a fresh
 *        3+3 Redis Cluster (cluster.mjs): stack.redis is then that cluster)
 *       stack = {baseUrl, wsUrl, origin, dbPath, tmpDir, redis, pg, server,
 *                staff: {user, password}, servers: [server, ...],
 *                addServer(opts) -> a second seatmapd on the same Redis and db,
 *                addUser(name, role, password), addToken(name, role) -> token,
 *                api(method, path, opts) (= httpRequest on baseUrl),
 *                login(user?, password?) -> cookie, layout() -> GET /api/shows/demo
 *                (cached), seatIds() -> [ids], seats() -> GET /api/shows/demo/seats,
 *                client(opts) -> wsClient on this stack (layout attached; closed by
 *                stop()), buyer({watch='demo', buyer, url, protocol}) -> client after hello
 *                (+ watch), logTail(n) -> text, stop() (kills everything; throws
 *                when a server's stderr holds a sanitizer report (ASan, UBSan
 *                "runtime error:", LSan) or a server exited unexpectedly)}
 *   wsClient(url, {origin, protocol='seatmap.v1', layout, headers, localAddress}) -> client
 *       (localAddress '127.0.0.2' and up: another client address, for tests/abuse;
 *        protocol 'seatmap.v2': binary snapshots and deltas are decoded with
 *        web/js/wire2.js and a delta's seat indices turned into ids through the
 *        layout, so the model and events look the same as v1's)
 *       client.wireBytes = {snapshot, delta, deltaSeats}  bytes of seat events received
 *       client.request(obj, {timeoutMs}) -> reply (ok OR error reply; id auto-assigned)
 *       client.call(obj) -> ok reply, throws Error(code) with .reply on an error reply
 *       client.hello(buyer?) / watch(show) (resolves with the snapshot event)
 *       client.hold(show, seats) / release(show, seats) -> reply
 *       client.send(text|Buffer)               raw frame
 *       client.nextEvent(pred, timeoutMs)      first unconsumed event (no id) matching
 *       client.waitFor(cond, timeoutMs, what)  until cond(client) is true
 *       client.clearEvents()
 *       client.autoRewatch = true      re-send watch on a seq gap (gaps still recorded)
 *       client.model = {show, seq, seats[] (letters), hold, gaps[], errors[],
 *                       history[{seq, seat, state, at}], snapshots}
 *       client.state(seatId) -> 'e'|'p'|'b'; client.modelString()
 *       client.closed (promise of {code, reason}); client.close(); client.isOpen()
 *   httpRequest(baseUrl, method, path, {body, json, cookie, token, origin, headers,
 *                timeoutMs, localAddress}) -> {status, headers, text, json}
 *   rawHttp(port, text, timeoutMs) -> {status, headers, text}  (raw socket)
 *   login(baseUrl, user, password) -> 'seatmap_session=...'
 *   waitUntil(fn, timeoutMs, what)   polls fn (async ok) until truthy, no fixed sleeps
 *   testWithLogs(getStack) -> it(name, [opts], fn): node:test `test` (60 s timeout)
 *                            that fails at once when the server no longer answers
 *                            /healthz, and prints the stack's log tail when it fails
 *   checkRedisInvariants(redis, show) -> [problems]   (no double holds)
 *   seatPool(ids) -> {take(n)}       distinct seats per test
 *   bookingsOf(json) -> [booking]    body of GET bookings as an array
 *   passDeadline(stack, watcher, t, probeSeat, {url})  until time t has passed and the server
 *                                    expired a probe hold after it (no sleeps)
 *   barrier(watchers, actor, seat)   hold+release a seat and wait until every watcher
 *                                    saw both (orders everything sent before)
 */
import { spawn, execFile } from 'node:child_process';
import { mkdtempSync, rmSync, existsSync, readdirSync, chownSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import net from 'node:net';
import http from 'node:http';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import WebSocket from 'ws';
import { decodeSeatEvent, WIRE_V2 } from '../../web/js/wire2.js';
import { startCluster } from './cluster.mjs';

export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const SEATMAPD = process.env.SEATMAPD
    ? path.resolve(REPO, process.env.SEATMAPD)
    : path.join(REPO, 'build', 'seatmapd');

const READY_TIMEOUT_MS = Number(process.env.SEATMAP_READY_TIMEOUT_MS || 20000);
const SANITIZER_RE =
    /(AddressSanitizer|LeakSanitizer|UndefinedBehaviorSanitizer|ThreadSanitizer|runtime error:)/;

/* ---------- process bookkeeping: everything started dies with us ---------- */

const children = new Set();
function killAllChildren() {
    for (const c of children) {
        try {
            c.kill('SIGKILL');
        } catch {
            /* already gone */
        }
    }
}
process.on('exit', killAllChildren);
for (const sig of ['SIGINT', 'SIGTERM']) {
    process.once(sig, () => {
        killAllChildren();
        process.exit(130);
    });
}

function track(child) {
    children.add(child);
    child.exitInfo = null;
    child.exited = new Promise((resolve) => {
        child.once('exit', (code, signal) => {
            children.delete(child);
            child.exitInfo = { code, signal };
            resolve(child.exitInfo);
        });
    });
    return child;
}

/* For cluster.mjs: the same process bookkeeping and commands. */
export const trackChild = (child) => track(child);
export const killChild = (child, signal, graceMs) => killAndWait(child, signal, graceMs);
export const runCommand = (cmd, args, opts) => run(cmd, args, opts);

async function killAndWait(child, signal, graceMs = 5000) {
    if (!child || child.exitInfo) return child?.exitInfo;
    try {
        child.kill(signal);
    } catch {
        /* gone */
    }
    const t = setTimeout(() => {
        try {
            child.kill('SIGKILL');
        } catch {
            /* gone */
        }
    }, graceMs);
    const info = await child.exited;
    clearTimeout(t);
    return info;
}

/* ---------- small utilities ---------- */

export function freePort() {
    return new Promise((resolve, reject) => {
        const srv = net.createServer();
        srv.unref();
        srv.on('error', reject);
        srv.listen(0, '127.0.0.1', () => {
            const { port } = srv.address();
            srv.close(() => resolve(port));
        });
    });
}

const delay = (ms) => new Promise((r) => setTimeout(r, ms));

/* Polls fn until it returns a truthy value (returned). Short poll interval,
 * hard deadline: this is the only way tests wait for the outside world. */
export async function waitUntil(fn, timeoutMs = 5000, what = 'condition') {
    const deadline = Date.now() + timeoutMs;
    let last;
    for (;;) {
        try {
            const v = await fn();
            if (v) return v;
            last = v;
        } catch (e) {
            if (e && e.fatal) throw e; /* no point waiting any longer */
            last = e;
        }
        if (Date.now() > deadline) {
            const why = last instanceof Error ? `: ${last.message}` : '';
            throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${why}`);
        }
        await delay(20);
    }
}

function run(cmd, args, { input, env, cwd = REPO, timeoutMs = 30000 } = {}) {
    return new Promise((resolve) => {
        const child = execFile(
            cmd,
            args,
            { cwd, env: { ...process.env, ...env }, timeout: timeoutMs, maxBuffer: 64 << 20 },
            (err, stdout, stderr) => {
                resolve({
                    code: err ? (typeof err.code === 'number' ? err.code : -1) : 0,
                    stdout: String(stdout),
                    stderr: String(stderr),
                });
            },
        );
        /* a command that fails fast may exit before reading its stdin */
        child.stdin.on('error', () => {});
        if (input !== undefined) child.stdin.end(input);
        else child.stdin.end();
    });
}

/* ---------- redis ---------- */

function redisPing(port) {
    return new Promise((resolve) => {
        const s = net.connect(port, '127.0.0.1');
        let buf = '';
        const done = (v) => {
            s.destroy();
            resolve(v);
        };
        s.setTimeout(500, () => done(false));
        s.on('error', () => done(false));
        s.on('connect', () => s.write('*1\r\n$4\r\nPING\r\n'));
        s.on('data', (d) => {
            buf += d;
            if (buf.includes('\r\n')) done(buf.startsWith('+PONG'));
        });
    });
}

export async function startRedis({ dir, port } = {}) {
    const ownDir = !dir;
    dir = dir || mkdtempSync(path.join(tmpdir(), 'seatmap-redis-'));
    port = port || (await freePort());
    let child = null;
    let log = '';
    async function spawnRedis() {
        child = track(
            spawn(
                'redis-server',
                [
                    '--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly',
                    'no', '--dir', dir, '--daemonize', 'no', '--loglevel', 'warning',
                ],
                { stdio: ['ignore', 'pipe', 'pipe'] },
            ),
        );
        child.stdout.on('data', (d) => (log = (log + d).slice(-20000)));
        child.stderr.on('data', (d) => (log = (log + d).slice(-20000)));
        await waitUntil(
            async () => {
                if (child.exitInfo) {
                    const e = new Error(`redis-server exited: ${log}`);
                    e.fatal = true;
                    throw e;
                }
                return redisPing(port);
            },
            10000,
            `redis-server on port ${port}`,
        );
    }
    await spawnRedis();
    const redis = {
        port,
        url: `redis://127.0.0.1:${port}/0`,
        get pid() {
            return child?.pid;
        },
        async cli(...args) {
            const r = await run('redis-cli', ['-h', '127.0.0.1', '-p', String(port), ...args]);
            if (r.code !== 0) throw new Error(`redis-cli ${args.join(' ')}: ${r.stderr}`);
            return r.stdout.replace(/\n$/, '');
        },
        async kill(signal = 'SIGKILL') {
            return killAndWait(child, signal);
        },
        async restart() {
            await killAndWait(child, 'SIGKILL');
            await spawnRedis();
        },
        async stop() {
            await killAndWait(child, 'SIGKILL');
            if (ownDir) rmSync(dir, { recursive: true, force: true });
        },
        log: () => log,
    };
    return redis;
}

/* ---------- postgresql ---------- */

/* The newest /usr/lib/postgresql/NN/bin (or $SEATMAP_PG_BINDIR), or null. */
export function pgBinDir() {
    if (process.env.SEATMAP_PG_BINDIR) return process.env.SEATMAP_PG_BINDIR;
    const root = '/usr/lib/postgresql';
    if (!existsSync(root)) return null;
    const versions = readdirSync(root)
        .filter((v) => existsSync(path.join(root, v, 'bin', 'initdb')))
        .sort((a, b) => Number(a) - Number(b));
    return versions.length ? path.join(root, versions.at(-1), 'bin') : null;
}

export async function startPostgres({ port } = {}) {
    const bin = pgBinDir();
    if (!bin) throw new Error('PostgreSQL is not installed (scripts/deps.sh --test installs postgresql-15)');
    const dir = mkdtempSync(path.join(tmpdir(), 'seatmap-pg-'));
    const data = path.join(dir, 'data');
    let owner = null; /* {uid, gid} of the postgres user when we are root */
    if (process.getuid() === 0) {
        const id = (flag) => run('id', [flag, 'postgres']).then((r) => Number(r.stdout.trim()));
        owner = { uid: await id('-u'), gid: await id('-g') };
        chownSync(dir, owner.uid, owner.gid);
    }
    const initdb = [path.join(bin, 'initdb'), '-D', data, '-A', 'trust', '-U', 'postgres', '-E', 'UTF8', '--no-sync'];
    const r = owner ? await run('runuser', ['-u', 'postgres', '--', ...initdb]) : await run(initdb[0], initdb.slice(1));
    if (r.code !== 0) throw new Error(`initdb failed: ${r.stdout}${r.stderr}`);
    port = port || (await freePort());
    let child = null;
    let log = '';
    const psql = (db, sql) =>
        run(path.join(bin, 'psql'), ['-h', '127.0.0.1', '-p', String(port), '-U', 'postgres', '-d', db, '-tAX', '-v', 'ON_ERROR_STOP=1', '-c', sql]);
    async function start() {
        child = track(
            spawn(path.join(bin, 'postgres'), ['-D', data, '-p', String(port), '-k', dir, '-c', 'listen_addresses=127.0.0.1'], {
                stdio: ['ignore', 'pipe', 'pipe'],
                ...(owner || {}),
            }),
        );
        child.stdout.on('data', (d) => (log = (log + d).slice(-20000)));
        child.stderr.on('data', (d) => (log = (log + d).slice(-20000)));
        await waitUntil(
            async () => {
                if (child.exitInfo) {
                    const e = new Error(`postgres exited: ${log}`);
                    e.fatal = true;
                    throw e;
                }
                return (await psql('postgres', 'SELECT 1')).code === 0;
            },
            30000,
            `postgres on port ${port}`,
        );
    }
    await start();
    const created = await psql('postgres', 'CREATE DATABASE seatmap');
    if (created.code !== 0) throw new Error(`CREATE DATABASE: ${created.stderr}`);
    return {
        port,
        url: `postgresql://postgres@127.0.0.1:${port}/seatmap`,
        get pid() {
            return child?.pid;
        },
        async query(sql) {
            const q = await psql('seatmap', sql);
            if (q.code !== 0) throw new Error(`psql ${sql}: ${q.stderr}`);
            return q.stdout.replace(/\n$/, '');
        },
        /* SIGQUIT: immediate shutdown, as close to a crash as leaves the port free */
        async kill(signal = 'SIGQUIT') {
            return killAndWait(child, signal);
        },
        start,
        async stop() {
            await killAndWait(child, 'SIGQUIT');
            rmSync(dir, { recursive: true, force: true });
        },
        log: () => log,
    };
}

/* ---------- seatmapd ---------- */

export function seatmapdCli(args, { input, env } = {}) {
    return run(SEATMAPD, args, { input, env });
}

export async function startServer({
    redisPort,
    redisUrl,
    dbPath,
    holdTtl = 3,
    extraArgs = [],
    env = {},
    port,
    demo = true,
    waitHealthy = true,
} = {}) {
    if (!existsSync(SEATMAPD)) throw new Error(`no seatmapd binary at ${SEATMAPD}`);
    port = port || (await freePort());
    const args = [
        'serve', '--listen', `127.0.0.1:${port}`, '--redis', redisUrl || `redis://127.0.0.1:${redisPort}/0`,
        '--db', dbPath, '--hold-ttl', String(holdTtl), '--web', path.join(REPO, 'web'),
        ...(demo ? ['--demo'] : []), ...extraArgs,
    ];
    let child = null;
    let stderr = '';
    let generation = 0;
    let expectExit = false; /* set while we kill it on purpose */
    const server = {
        port,
        baseUrl: `http://127.0.0.1:${port}`,
        wsUrl: `ws://127.0.0.1:${port}/ws`,
        origin: `http://127.0.0.1:${port}`,
        args,
        get pid() {
            return child?.pid;
        },
        stderr: () => stderr,
        sanitizerReport() {
            const m = SANITIZER_RE.exec(stderr);
            if (!m) return null;
            return stderr.slice(Math.max(0, m.index - 200), m.index + 4000);
        },
        crashes: [], /* exits nobody asked for: {code, signal} */
        async kill(signal = 'SIGKILL', graceMs = 5000) {
            expectExit = true;
            return killAndWait(child, signal, graceMs);
        },
        async restart() {
            expectExit = true;
            await killAndWait(child, 'SIGKILL');
            await spawnServer();
        },
        async stop() {
            expectExit = true;
            return killAndWait(child, 'SIGTERM', 5000);
        },
    };
    async function spawnServer() {
        generation += 1;
        stderr += `\n----- seatmapd start #${generation}: ${SEATMAPD} ${args.join(' ')}\n`;
        child = track(
            spawn(SEATMAPD, args, {
                cwd: REPO,
                env: { ...process.env, ...env },
                stdio: ['ignore', 'pipe', 'pipe'],
            }),
        );
        const me = child;
        expectExit = false;
        me.exited.then((info) => {
            if (expectExit || me !== child) return;
            server.crashes.push(info);
            stderr += `\n----- seatmapd (pid ${me.pid}) EXITED UNEXPECTEDLY: ${JSON.stringify(info)}\n`;
        });
        let ready = false;
        me.stdout.on('data', (d) => (stderr += d));
        me.stderr.on('data', (d) => {
            stderr += d;
            if (stderr.length > 4_000_000) stderr = stderr.slice(-2_000_000);
            if (!ready && /seatmapd: listening on/.test(stderr)) ready = true;
        });
        await waitUntil(
            async () => {
                if (me.exitInfo) {
                    const e = new Error(
                        `seatmapd exited (${JSON.stringify(me.exitInfo)}): ${stderr.slice(-3000)}`,
                    );
                    e.fatal = true;
                    throw e;
                }
                if (ready) return true;
                /* The log line may be missing; an answering /healthz will do. */
                try {
                    const r = await httpRequest(server.baseUrl, 'GET', '/healthz', { timeoutMs: 300 });
                    return r.status === 200 || r.status === 503;
                } catch {
                    return false;
                }
            },
            READY_TIMEOUT_MS,
            `seatmapd to listen on ${port}`,
        );
        if (waitHealthy) {
            await waitUntil(
                async () =>
                    (await httpRequest(server.baseUrl, 'GET', '/healthz', { timeoutMs: 1000 }))
                        .status === 200,
                READY_TIMEOUT_MS,
                `seatmapd /healthz 200 on ${port}`,
            );
            /* Healthy means Redis answers; the demo's seat cache is loaded a
             * round trip later (its snapshot script). Wait for that too, so a
             * test's first request does not race it. */
            if (demo) {
                await waitUntil(
                    async () =>
                        (await httpRequest(server.baseUrl, 'GET', '/api/shows/demo/seats', { timeoutMs: 1000 }))
                            .status === 200,
                    READY_TIMEOUT_MS,
                    `seatmapd's demo show loaded on ${port}`,
                );
            }
        }
    }
    await spawnServer();
    return server;
}

/* ---------- HTTP ---------- */

export function httpRequest(baseUrl, method, pathname, opts = {}) {
    const { body, json, cookie, token, origin, headers = {}, timeoutMs = 10000, localAddress } = opts;
    const url = new URL(pathname, baseUrl);
    let payload = body;
    const h = { ...headers };
    if (json !== undefined) {
        payload = JSON.stringify(json);
        h['Content-Type'] = h['Content-Type'] || 'application/json';
    }
    if (payload !== undefined) h['Content-Length'] = Buffer.byteLength(payload);
    else if (method === 'POST' || method === 'PUT') h['Content-Length'] = 0;
    if (cookie) h.Cookie = cookie;
    if (token) h.Authorization = `Bearer ${token}`;
    if (origin) h.Origin = origin;
    return new Promise((resolve, reject) => {
        const req = http.request(
            {
                host: url.hostname,
                port: url.port,
                method,
                path: url.pathname + url.search,
                headers: h,
                agent: false,
                localAddress,
            },
            (res) => {
                const chunks = [];
                res.on('data', (c) => chunks.push(c));
                res.on('end', () => {
                    const text = Buffer.concat(chunks).toString('utf8');
                    let parsed;
                    try {
                        parsed = text ? JSON.parse(text) : undefined;
                    } catch {
                        parsed = undefined;
                    }
                    resolve({ status: res.statusCode, headers: res.headers, text, json: parsed });
                });
                res.on('error', reject);
            },
        );
        req.setTimeout(timeoutMs, () => req.destroy(new Error(`${method} ${pathname}: timeout`)));
        req.on('error', reject);
        req.end(payload);
    });
}

/* Sends `text` as-is on a new socket and parses one HTTP response. */
export function rawHttp(port, text, timeoutMs = 5000) {
    return new Promise((resolve, reject) => {
        const s = net.connect(port, '127.0.0.1');
        let buf = Buffer.alloc(0);
        let settled = false;
        const finish = (err) => {
            if (settled) return;
            settled = true;
            s.destroy();
            const str = buf.toString('utf8');
            const m = /^HTTP\/1\.[01] (\d{3})/.exec(str);
            if (!m) {
                reject(err || new Error(`no HTTP response: ${JSON.stringify(str.slice(0, 200))}`));
                return;
            }
            const split = str.indexOf('\r\n\r\n');
            const head = split >= 0 ? str.slice(0, split) : str;
            const headers = {};
            for (const line of head.split('\r\n').slice(1)) {
                const i = line.indexOf(':');
                if (i > 0) headers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
            }
            resolve({ status: Number(m[1]), headers, text: split >= 0 ? str.slice(split + 4) : '' });
        };
        s.setTimeout(timeoutMs, () => finish(new Error('raw HTTP timeout')));
        s.on('error', (e) => finish(e));
        s.on('close', () => finish());
        s.on('connect', () => s.write(text));
        s.on('data', (d) => {
            buf = Buffer.concat([buf, d]);
            const str = buf.toString('utf8');
            const split = str.indexOf('\r\n\r\n');
            if (split < 0) return;
            const cl = /\r\ncontent-length:\s*(\d+)/i.exec(str.slice(0, split));
            if (cl && Buffer.byteLength(str.slice(split + 4)) >= Number(cl[1])) finish();
        });
    });
}

export async function login(baseUrl, user, password) {
    const r = await httpRequest(baseUrl, 'POST', '/api/login', { json: { username: user, password } });
    if (r.status !== 200) throw new Error(`login ${user}: ${r.status} ${r.text}`);
    const cookies = [].concat(r.headers['set-cookie'] || []);
    const c = cookies.find((x) => x.startsWith('seatmap_session='));
    if (!c) throw new Error(`login ${user}: no seatmap_session cookie in ${JSON.stringify(cookies)}`);
    return c.split(';')[0];
}

/* ---------- WebSocket client with a seat-state model ---------- */

class Client {
    constructor(ws, layout, protocol) {
        this.ws = ws;
        this.wire2 = protocol === WIRE_V2;
        this.wireBytes = { snapshot: 0, delta: 0, deltaSeats: 0 };
        this.nextId = 1;
        this.pending = new Map();
        this.events = [];
        this.messages = [];
        this.waiters = new Set();
        this.buyer = null;
        this.layout = layout || null;
        this.index = layout ? new Map(layout.map((id, i) => [id, i])) : null;
        this.model = {
            show: null, seq: null, seats: [], hold: null, gaps: [], errors: [], history: [],
            snapshots: 0,
        };
        this.closeInfo = null;
        this.autoRewatch = false; /* set true to re-watch on a seq gap */
        this.closed = new Promise((resolve) => {
            ws.on('close', (code, reason) => {
                this.closeInfo = { code, reason: String(reason) };
                for (const [, p] of this.pending) {
                    p.reject(new Error(`connection closed (${code}) before reply to ${p.what}`));
                }
                this.pending.clear();
                this.notify();
                resolve(this.closeInfo);
            });
        });
        ws.on('error', (e) => this.model.errors.push(`ws error: ${e.message}`));
        ws.on('message', (data, isBinary) => this.onMessage(data, isBinary));
    }

    onMessage(data, isBinary) {
        let msg;
        if (isBinary && this.wire2) {
            try {
                msg = decodeSeatEvent(data);
            } catch (e) {
                this.model.errors.push(`bad seatmap.v2 frame: ${e.message}`);
                return;
            }
            this.wireBytes[msg.type] += data.length;
            if (msg.type === 'delta') {
                this.wireBytes.deltaSeats += msg.seats.length;
                /* by index in the seat list: the layout names them */
                if (this.layout) msg.seats = msg.seats.map(([i, st]) => [this.layout[i] ?? `#${i}`, st]);
            }
        } else {
            try {
                msg = JSON.parse(String(data));
            } catch {
                this.model.errors.push(`non-JSON frame from server: ${String(data).slice(0, 200)}`);
                return;
            }
            if (isBinary) this.model.errors.push('binary frame from server');
            else if (this.wire2 && (msg.type === 'snapshot' || msg.type === 'delta')) {
                this.model.errors.push(`seatmap.v2 got a ${msg.type} as JSON text`);
            }
            if (msg.type === 'snapshot' || msg.type === 'delta') this.wireBytes[msg.type] += data.length;
            if (msg.type === 'delta') this.wireBytes.deltaSeats += (msg.seats || []).length;
        }
        msg._at = Date.now();
        this.messages.push(msg);
        if (this.messages.length > 50000) this.messages.splice(0, 10000);
        if ((msg.type === 'ok' || msg.type === 'error') && this.pending.has(msg.id)) {
            const p = this.pending.get(msg.id);
            this.pending.delete(msg.id);
            clearTimeout(p.timer);
            p.resolve(msg);
        } else {
            this.applyEvent(msg);
            this.events.push(msg);
        }
        this.notify();
    }

    applyEvent(msg) {
        const m = this.model;
        if (msg.type === 'snapshot') {
            m.show = msg.show;
            m.seq = msg.seq;
            m.seats = typeof msg.seats === 'string' ? msg.seats.split('') : [];
            m.hold = msg.hold ?? null;
            m.snapshots += 1;
            if (typeof msg.seats !== 'string' || !/^[epb]*$/.test(msg.seats)) {
                m.errors.push(`snapshot seats not a string of e/p/b: ${JSON.stringify(msg.seats).slice(0, 100)}`);
            }
            if (this.layout && m.seats.length !== this.layout.length) {
                m.errors.push(`snapshot has ${m.seats.length} seats, layout ${this.layout.length}`);
            }
            if (!Number.isInteger(msg.seq)) m.errors.push(`snapshot seq not an integer: ${msg.seq}`);
        } else if (msg.type === 'delta') {
            if (msg.show !== m.show) {
                m.errors.push(`delta for ${msg.show} while watching ${m.show}`);
                return;
            }
            if (msg.from !== m.seq) {
                m.gaps.push({ expected: m.seq, from: msg.from, seq: msg.seq });
                /* What a real client does (PROTOCOL.md): ask for a fresh snapshot. */
                if (this.autoRewatch) {
                    this.request({ type: 'watch', show: m.show }).catch(() => {});
                }
            }
            if (!(msg.seq > msg.from)) m.errors.push(`delta seq ${msg.seq} <= from ${msg.from}`);
            m.seq = msg.seq;
            for (const pair of msg.seats || []) {
                const [seat, state] = pair;
                if (!['e', 'p', 'b'].includes(state)) m.errors.push(`bad state ${state} for ${seat}`);
                m.history.push({ seq: msg.seq, seat, state, at: msg._at });
                if (this.index) {
                    const i = this.index.get(seat);
                    if (i === undefined) m.errors.push(`delta names unknown seat ${seat}`);
                    else m.seats[i] = state;
                }
            }
        } else if (msg.type === 'hold') {
            m.hold = msg.hold ?? null;
        }
    }

    notify() {
        for (const w of [...this.waiters]) w.check();
    }

    isOpen() {
        return this.ws.readyState === WebSocket.OPEN;
    }

    send(raw) {
        this.ws.send(raw);
    }

    request(obj, { timeoutMs = 10000 } = {}) {
        const msg = { ...obj };
        if (msg.id === undefined) msg.id = this.nextId++;
        const what = `${msg.type} #${msg.id}`;
        return new Promise((resolve, reject) => {
            if (this.closeInfo) {
                reject(new Error(`connection already closed (${this.closeInfo.code}); ${what}`));
                return;
            }
            const timer = setTimeout(() => {
                this.pending.delete(msg.id);
                reject(new Error(`no reply to ${what} within ${timeoutMs} ms`));
            }, timeoutMs);
            this.pending.set(msg.id, { resolve, reject, timer, what });
            this.ws.send(JSON.stringify(msg));
        });
    }

    async call(obj, opts) {
        const r = await this.request(obj, opts);
        if (r.type !== 'ok') {
            const e = new Error(`${obj.type} failed: ${r.code}: ${r.message} ${JSON.stringify(r)}`);
            e.reply = r;
            e.code = r.code;
            throw e;
        }
        return r;
    }

    async hello(buyer) {
        const r = await this.call(buyer === undefined ? { type: 'hello' } : { type: 'hello', buyer });
        this.buyer = r.buyer;
        this.limits = r.limits;
        return r;
    }

    async watch(show = 'demo', timeoutMs = 5000) {
        const before = this.model.snapshots;
        const reply = await this.call({ type: 'watch', show });
        await this.waitFor(
            (c) => c.model.snapshots > before && c.model.show === show,
            timeoutMs,
            `snapshot of ${show}`,
        );
        const snaps = this.events.filter((e) => e.type === 'snapshot' && e.show === show);
        const snap = snaps[snaps.length - 1];
        this.events = this.events.filter((e) => e !== snap);
        return { reply, snapshot: snap };
    }

    hold(show, seats, opts) {
        return this.request({ type: 'hold', show, seats }, opts);
    }

    release(show, seats, opts) {
        return this.request({ type: 'release', show, seats }, opts);
    }

    waitFor(cond, timeoutMs = 5000, what = 'condition') {
        return new Promise((resolve, reject) => {
            const w = {
                check: () => {
                    let v;
                    try {
                        v = cond(this);
                    } catch (e) {
                        this.waiters.delete(w);
                        clearTimeout(w.timer);
                        reject(e);
                        return;
                    }
                    if (v) {
                        this.waiters.delete(w);
                        clearTimeout(w.timer);
                        resolve(v);
                    }
                },
            };
            w.timer = setTimeout(() => {
                this.waiters.delete(w);
                reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`));
            }, timeoutMs);
            this.waiters.add(w);
            w.check();
        });
    }

    /* The first buffered-or-future event (no reply id) matching pred; consumed. */
    nextEvent(pred = () => true, timeoutMs = 5000, what = 'event') {
        return this.waitFor(
            (c) => {
                const i = c.events.findIndex((e) => pred(e));
                if (i < 0) return null;
                const [e] = c.events.splice(i, 1);
                return e;
            },
            timeoutMs,
            what,
        );
    }

    clearEvents() {
        this.events = [];
    }

    state(seatId) {
        const i = this.index?.get(seatId);
        if (i === undefined) throw new Error(`seat ${seatId} not in layout`);
        return this.model.seats[i];
    }

    /* Deltas that changed this seat since the model was created/cleared. */
    changesOf(seatId) {
        return this.model.history.filter((h) => h.seat === seatId);
    }

    modelString() {
        return this.model.seats.join('');
    }

    async close() {
        if (this.closeInfo) return this.closeInfo;
        try {
            this.ws.close(1000);
        } catch {
            /* ignore */
        }
        const t = setTimeout(() => this.ws.terminate(), 2000);
        const info = await this.closed;
        clearTimeout(t);
        return info;
    }
}

export function wsClient(url, { origin, protocol = 'seatmap.v1', layout, headers, timeoutMs = 5000, localAddress } = {}) {
    return new Promise((resolve, reject) => {
        const ws = new WebSocket(url, protocol ? [protocol] : [], {
            origin,
            headers,
            localAddress,
            perMessageDeflate: false,
            maxPayload: 64 << 20,
            handshakeTimeout: timeoutMs,
        });
        const client = new Client(ws, layout, protocol);
        const fail = (e) => {
            ws.removeAllListeners('open');
            reject(e);
        };
        ws.once('unexpected-response', (req, res) => {
            const err = new Error(`WebSocket upgrade refused: HTTP ${res.statusCode}`);
            err.status = res.statusCode;
            res.resume();
            ws.terminate();
            fail(err);
        });
        ws.once('error', fail);
        ws.once('open', () => {
            ws.removeListener('error', fail);
            if (protocol && ws.protocol !== protocol) {
                reject(new Error(`server chose subprotocol '${ws.protocol}', expected ${protocol}`));
                ws.terminate();
                return;
            }
            resolve(client);
        });
    });
}

/* ---------- invariants read straight from Redis ---------- */

export async function checkRedisInvariants(redis, show = 'demo') {
    /* One EVAL reads everything atomically (and fast: no process per key). */
    const lua = `
local p = 'sm:{' .. ARGV[1] .. '}:'
local out = { seats = {}, holds = {}, booked = redis.call('HGETALL', p .. 'booked') }
for _, k in ipairs(redis.call('KEYS', p .. 'seat:*')) do
  out.seats[string.sub(k, #p + 6)] = redis.call('GET', k)
end
for _, k in ipairs(redis.call('KEYS', p .. 'hold:*')) do
  out.holds[string.sub(k, #p + 6)] = redis.call('HGET', k, 'seats') or ''
end
return cjson.encode(out)`;
    /* The show's key names its slot: in a cluster, redis-cli -c follows the
     * redirect to the master that has the show. */
    const raw = JSON.parse(await redis.cli('EVAL', lua, '1', `sm:{${show}}:seq`, show));
    const problems = [];
    const booked = new Map();
    const bl = Array.isArray(raw.booked) ? raw.booked : [];
    for (let i = 0; i + 1 < bl.length; i += 2) booked.set(bl[i], bl[i + 1]);
    const holdSeats = new Map(); /* ref -> Set(seats) */
    const seatOwners = new Map(); /* seat -> [refs] */
    for (const [ref, field] of Object.entries(raw.holds || {})) {
        const seats = new Set(String(field).split(/[^A-Za-z0-9_.-]+/).filter(Boolean));
        holdSeats.set(ref, seats);
        for (const x of seats) seatOwners.set(x, [...(seatOwners.get(x) || []), ref]);
    }
    for (const [seat, owners] of seatOwners) {
        if (owners.length > 1) problems.push(`seat ${seat} is in holds ${owners.join(', ')}`);
        if (booked.has(seat)) problems.push(`seat ${seat} is held (${owners}) and booked`);
    }
    for (const [seat, v] of Object.entries(raw.seats || {})) {
        if (typeof v !== 'string') continue;
        if (v.startsWith('h:')) {
            const ref = v.slice(2);
            if (!holdSeats.get(ref)?.has(seat)) problems.push(`seat key ${seat} names ${ref} whose hold lacks it`);
            if (booked.has(seat)) problems.push(`seat ${seat} pending and in booked`);
        }
    }
    return problems;
}

/* ---------- the whole stack ---------- */

export async function startStack({
    holdTtl = 3,
    extraArgs = [],
    env = {},
    staffUser = 'staff',
    staffPassword = 'correct horse battery staple',
    postgres = process.env.SEATMAP_TEST_DB === 'postgres',
    cluster = process.env.SEATMAP_TEST_REDIS === 'cluster',
} = {}) {
    /* SEATMAP_EXTRA_ARGS="--sweep-ms 5000" appends server flags (experiments). */
    extraArgs = [...extraArgs, ...(process.env.SEATMAP_EXTRA_ARGS || '').split(' ').filter(Boolean)];
    const tmpDir = mkdtempSync(path.join(tmpdir(), 'seatmap-test-'));
    const pg = postgres ? await startPostgres() : null;
    const dbPath = pg ? pg.url : path.join(tmpDir, 'seatmap.db');
    const clients = new Set();
    const servers = [];
    let redis = null;
    let layoutCache = null;
    const stack = {
        tmpDir,
        dbPath,
        pg,
        servers,
        staff: { user: staffUser, password: staffPassword },
        async addUser(name, role, password) {
            const r = await seatmapdCli(['user', 'add', name, '--role', role, '--db', dbPath], {
                input: `${password}\n`,
            });
            if (r.code !== 0) throw new Error(`seatmapd user add ${name}: ${r.code} ${r.stderr}`);
        },
        async addToken(name, role) {
            const args = ['token', 'add', name, '--db', dbPath];
            if (role) args.push('--role', role);
            const r = await seatmapdCli(args);
            if (r.code !== 0) throw new Error(`seatmapd token add ${name}: ${r.code} ${r.stderr}`);
            const tok = r.stdout.trim().split(/\s+/).pop();
            if (!tok) throw new Error(`seatmapd token add printed nothing: ${r.stderr}`);
            return tok;
        },
        async addServer(opts = {}) {
            const s = await startServer({ redisPort: redis.port, redisUrl: redis.url, dbPath, holdTtl, extraArgs, env, ...opts });
            servers.push(s);
            return s;
        },
        api(method, p, opts) {
            return httpRequest(stack.baseUrl, method, p, opts);
        },
        login(user = staffUser, password = staffPassword, baseUrl = stack.baseUrl) {
            return login(baseUrl, user, password);
        },
        async layout() {
            if (!layoutCache) {
                const r = await stack.api('GET', '/api/shows/demo');
                if (r.status !== 200) throw new Error(`GET /api/shows/demo: ${r.status} ${r.text}`);
                layoutCache = r.json;
            }
            return layoutCache;
        },
        async seatIds() {
            return (await stack.layout()).seats.map((s) => s.id);
        },
        async seats() {
            const r = await stack.api('GET', '/api/shows/demo/seats');
            if (r.status !== 200) throw new Error(`GET /api/shows/demo/seats: ${r.status} ${r.text}`);
            return r.json;
        },
        async client(opts = {}) {
            const layout = opts.layout === undefined ? await stack.seatIds() : opts.layout;
            const c = await wsClient(opts.url || stack.wsUrl, { ...opts, layout });
            clients.add(c);
            c.closed.then(() => clients.delete(c));
            return c;
        },
        async buyer({ watch = 'demo', buyer, url, origin, localAddress, protocol } = {}) {
            const c = await stack.client({ url, origin, localAddress, protocol });
            await c.hello(buyer);
            if (watch) await c.watch(watch);
            return c;
        },
        logTail(n = 60) {
            const parts = [];
            servers.forEach((s, i) => {
                const lines = s.stderr().split('\n');
                parts.push(`--- seatmapd[${i}] port ${s.port} stderr (last ${n} lines):\n${lines.slice(-n).join('\n')}`);
            });
            if (pg) {
                const lines = pg.log().split('\n').filter((l) => /FATAL|ERROR|PANIC|LOG:  database system/.test(l));
                if (lines.length) parts.push(`--- postgres log:\n${lines.slice(-10).join('\n')}`);
            }
            if (redis) {
                const boring = /Redis is starting|Redis version=|Configuration loaded|Server initialized|overcommit|^\s*$/;
                const lines = redis.log().split('\n').filter((l) => !boring.test(l));
                if (lines.length) parts.push(`--- redis log:\n${lines.slice(-15).join('\n')}`);
            }
            return parts.join('\n');
        },
        async stop() {
            await Promise.all([...clients].map((c) => c.close().catch(() => {})));
            for (const s of servers) await s.stop();
            if (redis) await redis.stop();
            if (pg) await pg.stop();
            const reports = servers.map((s) => s.sanitizerReport()).filter(Boolean);
            const crashes = servers.flatMap((s) => s.crashes.map((c) => `port ${s.port}: ${JSON.stringify(c)}`));
            if (!process.env.SEATMAP_KEEP_TMP) rmSync(tmpDir, { recursive: true, force: true });
            if (reports.length) {
                throw new Error(`sanitizer report in seatmapd stderr:\n${reports.join('\n=====\n')}`);
            }
            if (crashes.length) {
                throw new Error(`seatmapd exited unexpectedly during the tests: ${crashes.join('; ')}\n${servers.map((x) => x.stderr().slice(-3000)).join('\n')}`);
            }
        },
    };
    try {
        redis = cluster ? await startCluster({ dir: tmpDir }) : await startRedis({ dir: tmpDir });
        stack.redis = redis;
        await stack.addUser(staffUser, 'admin', staffPassword);
        const server = await stack.addServer();
        stack.server = server;
        stack.baseUrl = server.baseUrl;
        stack.wsUrl = server.wsUrl;
        stack.origin = server.origin;
    } catch (e) {
        const tail = servers.length ? stack.logTail() : '';
        await stack.stop().catch(() => {});
        e.message += tail ? `\n${tail}` : '';
        throw e;
    }
    return stack;
}

/* A node:test `test` that prints the stack's logs when the test fails. */
export function testWithLogs(getStack) {
    return (name, opts, fn) => {
        if (typeof opts === 'function') {
            fn = opts;
            opts = {};
        }
        return test(name, { timeout: 60000, ...opts }, async (t) => {
            const st = getStack();
            if (st?.server) {
                /* fail fast when an earlier test left the server dead or hung */
                const alive = await httpRequest(st.server.baseUrl, 'GET', '/healthz', { timeoutMs: 2000 }).catch(
                    (e) => e,
                );
                if (alive instanceof Error) {
                    throw new Error(
                        `seatmapd is not answering before this test (crashed or hung earlier?): ${alive.message}` +
                            (st.server.crashes.length ? ` crashes: ${JSON.stringify(st.server.crashes)}` : ''),
                    );
                }
            }
            try {
                await fn(t);
            } catch (e) {
                const s = getStack();
                if (s) process.stderr.write(`\n### logs for failed test "${name}":\n${s.logTail()}\n`);
                throw e;
            }
        });
    };
}

/*
 * Waits until wall time `t` has passed AND the server's expiry machinery has
 * demonstrably run after it: holds a probe seat with a fresh buyer and waits
 * until `watcher` sees it expire, repeating while the probe's deadline was
 * before t. Used to check that nothing changes after a deadline.
 */
export async function passDeadline(stack, watcher, t, probeSeat, { show = 'demo', url } = {}) {
    while (Date.now() <= t) {
        const probe = await stack.buyer({ watch: null, url });
        const h = (await probe.call({ type: 'hold', show, seats: [probeSeat] })).hold;
        await watcher.waitFor((c) => c.state(probeSeat) === 'p', 3000, 'probe held');
        await watcher.waitFor((c) => c.state(probeSeat) === 'e', h.expires_at - Date.now() + 3000, 'probe expired');
        await probe.close();
    }
}

/* GET /api/shows/{show}/bookings body -> array (the contract leaves the
 * wrapping open: a bare array or {"bookings":[...]}). */
export function bookingsOf(json) {
    if (Array.isArray(json)) return json;
    if (json && Array.isArray(json.bookings)) return json.bookings;
    throw new Error(`GET bookings: neither an array nor {bookings:[...]}: ${JSON.stringify(json)}`);
}

/* Hands out distinct seat ids so tests in one file never share seats. */
export function seatPool(ids) {
    let next = 0;
    return {
        take(n = 1) {
            if (next + n > ids.length) throw new Error(`seat pool exhausted (${ids.length} seats)`);
            const out = ids.slice(next, next + n);
            next += n;
            return out;
        },
        get remaining() {
            return ids.length - next;
        },
    };
}

/*
 * Ordering barrier: `actor` holds `seat` and releases it again; resolves when
 * every watcher has seen both changes. Deltas arrive in order, so anything the
 * server sent about other seats before that has been applied by then.
 */
export async function barrier(watchers, actor, seat, show = 'demo', timeoutMs = 5000) {
    await actor.call({ type: 'hold', show, seats: [seat] });
    await Promise.all(watchers.map((w) => w.waitFor((c) => c.state(seat) === 'p', timeoutMs, `barrier ${seat} p`)));
    await actor.call({ type: 'release', show, seats: [seat] });
    await Promise.all(watchers.map((w) => w.waitFor((c) => c.state(seat) === 'e', timeoutMs, `barrier ${seat} e`)));
}
