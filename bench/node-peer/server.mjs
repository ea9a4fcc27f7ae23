#!/usr/bin/env node
/*
 * server.mjs - the Node peer: a straightforward seat map server of the same
 * contract (the part seatmap-bench's fan-out and holds scenarios use), for
 * comparing seatmapd with what a competent Node developer would write with
 * `ws` and node-redis (issue 13; docs/benchmarks.md, "Against a Node server").
 *
 *   node bench/node-peer/server.mjs --listen 127.0.0.1:8090 --redis redis://127.0.0.1:6379/0
 *        --show stadium=assets/venues/stadium.json [--hold-ttl SECONDS] [--tick-ms 50]
 *        [--max-seats 10]
 *
 * WebSocket /ws, subprotocol seatmap.v1: hello, watch -> ok + snapshot, hold,
 * release; deltas coalesced per show and sent once per tick (50 ms) to every
 * watcher; hold events to the owning buyer's connections. HTTP: GET
 * /api/shows, /api/shows/{show} (the layout), /api/shows/{show}/seats,
 * /healthz. Holds live in Redis (store.mjs), changes travel by pub/sub, and
 * the seat states are cached in memory per show, rebuilt from Redis at start
 * and after a lost subscription.
 *
 * Deliberately plain: JSON text frames, one ws.send per watcher per tick,
 * no shared frames, no shedding. A connection with more than 4 MiB unsent is
 * terminated rather than buffered without bound, as any careful server does.
 * Not here: bookings, staff, best available, seatmap.v2, resume (since),
 * rate limits.
 */
import http from 'node:http';
import { createHash, randomBytes, randomInt } from 'node:crypto';
import { WebSocketServer } from 'ws';
import { createClient } from 'redis';
import { loadVenue } from './venue.mjs';
import { channel, runScript } from './store.mjs';

const MAX_UNSENT = 4 * 1024 * 1024;
const MAX_MESSAGE = 16 * 1024;
const REF_ALPHABET = 'ACDEFGHJKMNPQRTUVWXY34679';
const SWEEP_MS = 250;

function parseArgs(argv) {
    const o = { listen: '127.0.0.1:8090', redis: 'redis://127.0.0.1:6379/0', shows: [], holdTtlMs: 600000,
        tickMs: 50, maxSeats: 10 };
    for (let i = 0; i < argv.length; i += 2) {
        const [k, v] = [argv[i], argv[i + 1]];
        if (v === undefined) usage(`${k} needs a value`);
        if (k === '--listen') o.listen = v;
        else if (k === '--redis') o.redis = v;
        else if (k === '--show') {
            const eq = v.indexOf('=');
            if (eq < 1) usage('--show wants ID=VENUE_FILE');
            o.shows.push({ id: v.slice(0, eq), file: v.slice(eq + 1) });
        } else if (k === '--hold-ttl') o.holdTtlMs = Math.round(Number(v) * 1000);
        else if (k === '--tick-ms') o.tickMs = Number(v);
        else if (k === '--max-seats') o.maxSeats = Number(v);
        else usage(`unknown flag ${k}`);
    }
    if (!o.shows.length) usage('at least one --show ID=VENUE_FILE');
    if (!(o.holdTtlMs >= 100 && o.tickMs >= 5 && o.maxSeats >= 1)) usage('a value is out of range');
    return o;
}

function usage(why) {
    console.error(`node-peer: ${why}\nusage: server.mjs --listen HOST:PORT --redis URL --show ID=VENUE_FILE `
        + '[--hold-ttl SECONDS] [--tick-ms MS] [--max-seats N]');
    process.exit(2);
}

const opts = parseArgs(process.argv.slice(2));
const redis = createClient({ url: opts.redis });
const sub = redis.duplicate();
let redisDownLogged = false;
for (const c of [redis, sub]) {
    c.on('error', (e) => {
        if (!redisDownLogged) console.error(`node-peer: Redis: ${e.message} (reconnecting)`);
        redisDownLogged = true;
    });
}

/* ---------- shows: the venue, the cached states, the watchers ---------- */

const shows = new Map();
for (const { id, file } of opts.shows) {
    const venue = loadVenue(file);
    const layout = JSON.stringify({ id, name: id, venue: venue.name, currency: venue.currency, stage: venue.stage,
        categories: venue.categories, seats: venue.seats });
    shows.set(id, {
        id,
        ids: venue.seats.map((s) => s.id),
        index: new Map(venue.seats.map((s, i) => [s.id, i])),
        layout: Buffer.from(layout),
        states: Buffer.alloc(venue.seats.length, 'e'),
        seq: 0, /* of the cached states */
        sentSeq: 0, /* what every watcher had after the last tick */
        pending: new Map(), /* seat index -> state, changed since the last tick */
        watchers: new Set(),
        loaded: false,
        early: [], /* messages that came before the states were loaded */
    });
}

function snapshotText(show, hold) {
    return JSON.stringify({ type: 'snapshot', show: show.id, seq: show.seq, seats: show.states.toString('latin1'),
        hold: hold ?? null });
}

function applyChange(show, m) {
    if (m.seq <= show.seq) return; /* already in the loaded states */
    for (const [id, st] of m.seats) {
        const i = show.index.get(id);
        if (i === undefined) continue;
        show.states[i] = st.charCodeAt(0);
        show.pending.set(i, st);
    }
    show.seq = m.seq;
}

/* The states and seq of a show, read in one script; then what came by
 * pub/sub meanwhile. Watchers get a fresh snapshot: changes may have been
 * missed while the subscription was down. */
async function loadShow(show) {
    const [seq, letters] = await runScript(redis, 'load', show.id, show.ids);
    show.states = Buffer.from(letters, 'latin1');
    show.seq = Number(seq);
    show.sentSeq = show.seq;
    show.pending.clear();
    show.loaded = true;
    for (const m of show.early.splice(0)) applyChange(show, m);
    for (const conn of show.watchers) {
        conn.seq = show.seq;
        send(conn, snapshotText(show, null));
    }
}

function onChange(show, text) {
    let m;
    try {
        m = JSON.parse(text);
    } catch {
        console.error(`node-peer: a change message that is not JSON on ${channel(show.id)}`);
        return;
    }
    if (!show.loaded) show.early.push(m);
    else applyChange(show, m);
    /* the owning buyer's connections hear about their hold */
    const mine = buyers.get(m.buyer);
    if (mine) {
        const ev = JSON.stringify({ type: 'hold', show: show.id, hold: m.hold || null, reason: m.reason });
        for (const conn of mine) send(conn, ev);
    }
}

/* Every tick: one delta per show that changed, sent to each watcher. A
 * watcher whose snapshot came during the tick has a later seq: it gets the
 * same seats from its own seq (states it already has are harmless). */
function tick() {
    for (const show of shows.values()) {
        if (!show.pending.size) continue;
        const seats = [...show.pending].map(([i, st]) => [show.ids[i], st]);
        const byFrom = new Map();
        for (const conn of show.watchers) {
            if (conn.seq >= show.seq) continue;
            let text = byFrom.get(conn.seq);
            if (!text) {
                text = JSON.stringify({ type: 'delta', show: show.id, from: conn.seq, seq: show.seq, seats });
                byFrom.set(conn.seq, text);
            }
            conn.seq = show.seq;
            send(conn, text);
        }
        show.pending.clear();
        show.sentSeq = show.seq;
    }
}

/* ---------- connections ---------- */

const buyers = new Map(); /* buyer id -> Set of connections */

function send(conn, text) {
    if (conn.ws.readyState !== conn.ws.OPEN) return;
    if (conn.ws.bufferedAmount > MAX_UNSENT) {
        if (!conn.cut) console.error('node-peer: a connection with over 4 MiB unsent was cut off');
        conn.cut = true;
        conn.ws.terminate();
        return;
    }
    conn.ws.send(text);
}

function reply(conn, id, fields) {
    send(conn, JSON.stringify({ type: 'ok', id, ...fields }));
}

function fail(conn, id, code, message, extra) {
    send(conn, JSON.stringify({ type: 'error', id, code, message, ...extra }));
}

const validSeats = (s) => Array.isArray(s) && s.length > 0 && s.length <= 100 && s.every((x) => typeof x === 'string');

function newRef() {
    let r = '';
    for (let i = 0; i < 6; i++) r += REF_ALPHABET[randomInt(REF_ALPHABET.length)];
    return r;
}

async function hold(conn, id, show, seats) {
    for (let attempt = 0; attempt < 5; attempt++) {
        const r = JSON.parse(await runScript(redis, 'hold', show.id,
            [conn.buyerId, opts.holdTtlMs, opts.maxSeats, newRef(), ...seats]));
        if (r.err === 'retry') continue; /* the new ref was taken */
        if (r.err === 'seat_unavailable') return fail(conn, id, r.err, 'some seats are not available', { seats: r.seats });
        if (r.err) return fail(conn, id, r.err, `at most ${opts.maxSeats} seats per hold`);
        return reply(conn, id, { hold: r.hold });
    }
    return fail(conn, id, 'internal', 'no free hold ref');
}

async function release(conn, id, show, seats) {
    const r = JSON.parse(await runScript(redis, 'release', show.id, [conn.buyerId, ...seats]));
    if (r.err) return fail(conn, id, r.err, 'those seats are not in your hold', { seats: Array.isArray(r.seats) ? r.seats : [] });
    return reply(conn, id, { hold: r.hold || null });
}

async function buyerHold(conn, show) {
    const p = `sm:{${show.id}}:`;
    const ref = await redis.get(`${p}buyer:${conn.buyerId}`);
    if (!ref) return null;
    const h = await redis.hGetAll(`${p}hold:${ref}`);
    if (!h.seats) return null;
    return { ref, seats: h.seats.split(' '), expires_at: Number(h.exp) };
}

async function onRequest(conn, text) {
    let m;
    try {
        m = JSON.parse(text);
    } catch {
        return fail(conn, null, 'bad_request', 'not JSON');
    }
    const id = Number.isSafeInteger(m?.id) && m.id > 0 ? m.id : null;
    if (id === null || typeof m.type !== 'string') return fail(conn, null, 'bad_request', 'a request needs "type" and a positive "id"');
    if (m.type === 'hello') {
        if (m.buyer != null && typeof m.buyer !== 'string') return fail(conn, id, 'bad_request', '"buyer" must be a string');
        const token = typeof m.buyer === 'string' && /^[0-9a-f]{48}$/.test(m.buyer) ? m.buyer : randomBytes(24).toString('hex');
        if (conn.buyerId) buyers.get(conn.buyerId)?.delete(conn);
        conn.buyerId = createHash('sha256').update(token).digest('hex').slice(0, 32);
        if (!buyers.has(conn.buyerId)) buyers.set(conn.buyerId, new Set());
        buyers.get(conn.buyerId).add(conn);
        return reply(conn, id, { buyer: token, server: 'node-peer/0.1',
            limits: { max_seats: opts.maxSeats, hold_ttl_ms: opts.holdTtlMs } });
    }
    if (!conn.buyerId) return fail(conn, id, 'hello_required', 'say hello first');
    if (!['watch', 'hold', 'release'].includes(m.type)) return fail(conn, id, 'bad_request', `unknown type ${m.type}`);
    if (typeof m.show !== 'string') return fail(conn, id, 'bad_request', '"show" must be a string');
    const show = shows.get(m.show);
    if (!show) return fail(conn, id, 'unknown_show', `no show ${m.show}`);
    if (!redis.isReady || !show.loaded) return fail(conn, id, 'unavailable', 'the store is not reachable; retry later');
    try {
        return await dispatch(conn, id, m, show);
    } catch (e) {
        /* node-redis gives up on a command after 5 s (TimeoutError), as
         * seatmapd's reply watchdog does: the store counts as unavailable */
        const kind = e?.constructor?.name ?? 'Error';
        logOnce(`a ${m.type} failed: ${kind}${e?.message ? `: ${e.message}` : ''}`);
        const down = kind === 'TimeoutError' || !redis.isReady;
        return fail(conn, id, down ? 'unavailable' : 'internal', 'the request failed; retry later');
    }
}

/* Failures are logged once per kind, not once per request. */
const logged = new Set();
function logOnce(line) {
    if (logged.has(line)) return;
    logged.add(line);
    console.error(`node-peer: ${line}`);
}

async function dispatch(conn, id, m, show) {
    if (m.type === 'watch') {
        const h = await buyerHold(conn, show);
        conn.show?.watchers.delete(conn);
        conn.show = show;
        show.watchers.add(conn);
        conn.seq = show.seq;
        reply(conn, id, { show: show.id });
        return send(conn, snapshotText(show, h));
    }
    if (!validSeats(m.seats)) return fail(conn, id, 'bad_request', '"seats" must be a list of 1 to 100 seat ids');
    const unknown = m.seats.filter((s) => !show.index.has(s));
    if (unknown.length) return fail(conn, id, 'unknown_seat', 'no such seats', { seats: unknown });
    return m.type === 'hold' ? hold(conn, id, show, m.seats) : release(conn, id, show, m.seats);
}

/* ---------- HTTP ---------- */

function json(res, status, body) {
    const b = Buffer.isBuffer(body) ? body : Buffer.from(JSON.stringify(body));
    res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': b.length });
    res.end(b);
}

function onHttp(req, res) {
    const url = new URL(req.url, 'http://x');
    const parts = url.pathname.split('/').filter(Boolean);
    if (req.method !== 'GET') return json(res, 405, { error: { code: 'method_not_allowed', message: 'GET only' } });
    if (url.pathname === '/healthz') return json(res, redis.isReady ? 200 : 503, { ok: redis.isReady });
    if (parts[0] === 'api' && parts[1] === 'shows') {
        if (parts.length === 2) return json(res, 200, [...shows.values()].map((s) => ({ id: s.id, name: s.id, capacity: s.ids.length })));
        const show = shows.get(parts[2]);
        if (!show) return json(res, 404, { error: { code: 'unknown_show', message: 'no such show' } });
        if (parts.length === 3) return json(res, 200, show.layout);
        if (parts.length === 4 && parts[3] === 'seats') return json(res, 200, { seq: show.seq, seats: show.states.toString('latin1') });
    }
    return json(res, 404, { error: { code: 'not_found', message: 'no such resource' } });
}

/* ---------- start ---------- */

const server = http.createServer(onHttp);
const wss = new WebSocketServer({
    server,
    path: '/ws',
    maxPayload: MAX_MESSAGE, /* larger: closed with 1009 by ws */
    handleProtocols: (protocols) => (protocols.has('seatmap.v1') ? 'seatmap.v1' : false),
});
wss.on('connection', (ws) => {
    const conn = { ws, buyerId: null, show: null, seq: 0, cut: false };
    ws.on('message', (data, isBinary) => {
        if (isBinary) return fail(conn, null, 'bad_request', 'text frames only');
        onRequest(conn, data.toString()).catch((e) => logOnce(`a request failed: ${e?.message || String(e)}`));
    });
    ws.on('error', () => {});
    ws.on('close', () => {
        conn.show?.watchers.delete(conn);
        const mine = buyers.get(conn.buyerId);
        mine?.delete(conn);
        if (mine && !mine.size) buyers.delete(conn.buyerId);
    });
});

/* After a lost subscription node-redis subscribes again by itself; what was
 * published meanwhile is lost, so the states are read again. */
let subReady = 0;
sub.on('ready', () => {
    if (subReady++ === 0) return; /* the first connect */
    redisDownLogged = false;
    console.error('node-peer: Redis is back; reloading the seat states');
    for (const show of shows.values()) {
        show.loaded = false;
        loadShow(show).catch((e) => console.error(`node-peer: reloading ${show.id}: ${e.message}`));
    }
});
await redis.connect();
await sub.connect();
for (const show of shows.values()) await sub.subscribe(channel(show.id), (text) => onChange(show, text));
for (const show of shows.values()) await loadShow(show);
setInterval(tick, opts.tickMs);
setInterval(() => {
    if (!redis.isReady) return;
    for (const show of shows.values()) runScript(redis, 'sweep', show.id, []).catch(() => {});
}, SWEEP_MS);

const colon = opts.listen.lastIndexOf(':');
server.on('error', (e) => {
    console.error(`node-peer: cannot listen on ${opts.listen}: ${e.message}`);
    process.exit(1);
});
server.listen(Number(opts.listen.slice(colon + 1)), opts.listen.slice(0, colon), () => {
    console.error(`node-peer: listening on ${opts.listen} (${[...shows.keys()].join(', ')})`);
});
for (const sig of ['SIGTERM', 'SIGINT']) {
    process.on(sig, () => {
        server.close();
        for (const c of wss.clients) c.terminate();
        Promise.allSettled([redis.quit(), sub.quit()]).then(() => process.exit(0));
    });
}
