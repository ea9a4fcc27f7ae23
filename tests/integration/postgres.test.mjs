/*
 * postgres.test.mjs - the ledger in a real PostgreSQL 15 (a fresh cluster in
 * a temporary directory, see startPostgres in tests/lib/stack.mjs) instead
 * of SQLite: the box-office tests (staff.test.mjs) run unchanged against
 * it; a booking waiting on a lock in the database does not stall holds,
 * fan-out or /healthz (the ledger runs off the loop); kill -9 of seatmapd during confirms loses no acknowledged booking and
 * doubles none (checked in the database with psql); and PostgreSQL going
 * away makes bookings answer 503 `unavailable`, quickly, while holds go on,
 * then work again once it is back, with nothing lost. While PostgreSQL is
 * frozen (SIGSTOP), a show the server has not loaded yet (an unknown id, or
 * one added after it started) is answered within the bound while holds go
 * on, the dashboard's admin request is answered, and SIGTERM stops the
 * server within --shutdown-timeout. Skipped only when no
 * PostgreSQL is installed (CI installs it: scripts/deps.sh --test).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';
import {
    REPO, startStack, testWithLogs, seatPool, bookingsOf, waitUntil, pgBinDir, seatmapdCli,
    httpRequest,
} from '../lib/stack.mjs';
import { crashDuringBookings } from '../lib/crash.mjs';
import { startReceiver } from '../lib/receiver.mjs';

const HOLD_TTL_S = 2;
const skip = pgBinDir() ? false : 'PostgreSQL is not installed (scripts/deps.sh --test)';
let stack;
let pool;
let ids;
const it = testWithLogs(() => stack);

before(async () => {
    if (skip) return;
    stack = await startStack({ holdTtl: HOLD_TTL_S, postgres: true });
    ids = await stack.seatIds();
    pool = seatPool(ids);
});
after(async () => {
    await stack?.stop();
});

/* Runs another integration test file with the ledger in PostgreSQL. */
function runTestFile(file) {
    return new Promise((resolve) => {
        const child = spawn(process.execPath, ['--test', '--test-reporter=spec', file], {
            cwd: REPO,
            env: { ...process.env, SEATMAP_TEST_DB: 'postgres' },
            stdio: ['ignore', 'pipe', 'pipe'],
        });
        let out = '';
        child.stdout.on('data', (d) => (out += d));
        child.stderr.on('data', (d) => (out += d));
        child.on('exit', (code) => resolve({ code, out }));
    });
}

test('the box-office tests (staff.test.mjs) pass with the ledger in PostgreSQL', { skip, timeout: 180000 }, async () => {
    const r = await runTestFile(path.join('tests', 'integration', 'staff.test.mjs'));
    assert.equal(r.code, 0, `staff.test.mjs against PostgreSQL failed:\n${r.out.slice(-8000)}`);
});

it('the stack really uses PostgreSQL: staff, sessions and the demo show are there', { skip }, async () => {
    assert.match(stack.dbPath, /^postgresql:\/\//);
    await stack.login();
    assert.equal(await stack.pg.query("SELECT role FROM users WHERE name = 'staff'"), 'admin');
    assert.ok(Number(await stack.pg.query('SELECT count(*) FROM sessions')) >= 1);
    assert.equal(await stack.pg.query("SELECT id FROM shows WHERE id = 'demo'"), 'demo');
    // every migration of schema/pg/ is applied (001_init, 002_webhooks, ...)
    const newest = Math.max(...fs.readdirSync(path.join(REPO, 'schema', 'pg'))
        .filter((f) => /^\d+_.*\.sql$/.test(f)).map((f) => parseInt(f, 10)));
    assert.ok(newest >= 2);
    assert.equal(await stack.pg.query('SELECT max(version) FROM seatmap_schema'), String(newest));
    assert.equal(await stack.pg.query("SELECT count(*) FROM information_schema.tables"
        + " WHERE table_name IN ('webhooks', 'deliveries')"), '2');
});

it('kill -9 of seatmapd during confirms: every booking answered 201/200 is in the database exactly once', { skip }, async () => {
    const label = 'pgcrash';
    await crashDuringBookings({
        stack, target: stack.server, pool, ids, n: 20, label,
        kill: () => stack.server.kill('SIGKILL'),
        recover: () => stack.server.restart(),
    });
    /* crashDuringBookings checked every 201 against the API; now the rows. */
    const dup = await stack.pg.query(
        `SELECT payment_ref FROM bookings WHERE payment_ref LIKE '${label}-%' GROUP BY payment_ref HAVING count(*) > 1`,
    );
    assert.equal(dup, '', 'no payment ref booked twice');
    const rows = (await stack.pg.query(
        `SELECT payment_ref || ' ' || seats FROM bookings WHERE payment_ref LIKE '${label}-%' AND cancelled_at IS NULL`,
    )).split('\n').filter(Boolean);
    const seatRows = Number(await stack.pg.query(
        `SELECT count(*) FROM booking_seats s JOIN bookings b ON b.id = s.booking_id WHERE b.payment_ref LIKE '${label}-%'`,
    ));
    assert.equal(seatRows, rows.length * 2, 'each booking holds its two seats in booking_seats');
    const cookie = await stack.login();
    const api = bookingsOf((await stack.api('GET', '/api/shows/demo/bookings', { cookie })).json)
        .filter((b) => b.payment_ref.startsWith(`${label}-`));
    assert.equal(api.length, rows.length, 'the API lists exactly the rows in the database');
});

it('a booking waiting for the database does not stall the server: holds, fan-out and /healthz go on meanwhile', { skip, timeout: 60000 }, async (t) => {
    const cookie = await stack.login();
    const seats = pool.take(2);
    const held = pool.take(1);
    const watcher = await stack.buyer();
    /* Another session takes a lock that makes every write to bookings wait
     * (reads go on): a slow database, as a busy or far one would be. */
    const psql = spawn(path.join(pgBinDir(), 'psql'), [
        '-h', '127.0.0.1', '-p', String(stack.pg.port), '-U', 'postgres', '-d', 'seatmap',
        '-tAX', '-v', 'ON_ERROR_STOP=1',
    ], { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    psql.stdout.on('data', (d) => (out += d));
    psql.stderr.on('data', (d) => (out += d));
    try {
        psql.stdin.write("BEGIN; LOCK TABLE bookings IN EXCLUSIVE MODE; SELECT 'locked';\n");
        await waitUntil(() => /locked/.test(out), 10000, `the lock (${out})`);
        let saleDone = 0;
        const sale = stack.api('POST', '/api/shows/demo/bookings', {
            cookie, json: { seats, payment_ref: 'pg-slow' }, timeoutMs: 20000,
        }).then((r) => {
            saleDone = Date.now();
            return r;
        });
        await waitUntil(async () => Number(await stack.pg.query(
            "SELECT count(*) FROM pg_locks WHERE relation = 'bookings'::regclass AND NOT granted",
        )) > 0, 10000, 'the booking to wait for the lock');
        /* While it waits, a buyer's hold is answered and reaches a watcher,
         * and /healthz answers. */
        const buyer = await stack.buyer({ watch: null });
        await buyer.call({ type: 'hold', show: 'demo', seats: held });
        await watcher.waitFor((c) => c.state(held[0]) === 'p', 3000, 'the hold fanned out');
        const health = await stack.api('GET', '/healthz', { timeoutMs: 3000 });
        const answeredAt = Date.now();
        assert.equal(health.status, 200, health.text);
        assert.equal(saleDone, 0, 'the hold was answered while the booking still waited for the database');
        t.diagnostic(`hold and /healthz answered while the booking waited`);
        psql.stdin.end('COMMIT;\n');
        let r = await sale;
        assert.ok(saleDone >= answeredAt);
        /* PostgreSQL gives up on a lock after lock_timeout (3 s): on a slow
         * machine the sale may have answered 503; the same request again is
         * then booked, once. */
        if (r.status === 503) {
            r = await stack.api('POST', '/api/shows/demo/bookings', { cookie, json: { seats, payment_ref: 'pg-slow' } });
        }
        assert.equal(r.status, 201, r.text);
        await watcher.waitFor((c) => seats.every((x) => c.state(x) === 'b'), 5000, 'the booking seen');
        assert.equal(await stack.pg.query("SELECT count(*) FROM bookings WHERE payment_ref = 'pg-slow'"), '1');
        await buyer.call({ type: 'release', show: 'demo', seats: held });
        await buyer.close();
        await watcher.close();
    } finally {
        psql.stdin.end();
        psql.kill();
    }
});

/* Every process of the test's PostgreSQL cluster: the postmaster and its
 * children (backends, writer, checkpointer, ...). */
function pgProcesses() {
    const pids = [stack.pg.pid];
    try {
        pids.push(...execFileSync('pgrep', ['-P', String(stack.pg.pid)], { encoding: 'utf8' })
            .split('\n').filter(Boolean).map(Number));
    } catch { /* no children */ }
    return pids;
}

function signalAll(pids, sig) {
    for (const pid of pids) {
        try {
            process.kill(pid, sig);
        } catch { /* gone */ }
    }
}

it('PostgreSQL frozen (SIGSTOP): buyers, pages and /healthz go on, staff get 503 within the bound; after SIGCONT staff work, the audit log and webhook deliveries are complete', { skip, timeout: 90000 }, async (t) => {
    const cookie = await stack.login();
    const rec = await startReceiver();
    const hookRes = await stack.api('POST', '/api/webhooks', {
        cookie, json: { url: `${rec.url}/frozen`, events: ['*'] },
    });
    assert.equal(hookRes.status, 201, hookRes.text);
    const seats = pool.take(2);
    const watcher = await stack.buyer();
    const buyer = await stack.buyer({ watch: null });
    /* the staff check has answered once (the database is up) */
    assert.equal((await stack.api('GET', '/api/me', { cookie })).status, 200);
    const frozen = pgProcesses();
    signalAll(frozen, 'SIGSTOP');
    let h;
    let h2;
    try {
        /* Nothing is timed against a fixed limit here (the machine may be
         * slow): each step must complete at all, which none did before this
         * change, the loop waiting on the frozen database. */
        const h0 = Date.now();
        h = (await buyer.call({ type: 'hold', show: 'demo', seats })).hold;
        await watcher.waitFor((c) => seats.every((x) => c.state(x) === 'p'), 5000, 'the hold seen while frozen');
        t.diagnostic(`hold answered and seen by a watcher ${Date.now() - h0} ms after it was sent, PostgreSQL frozen`);
        assert.equal((await buyer.call({ type: 'release', show: 'demo', seats: [seats[1]] })).type, 'ok');
        await watcher.waitFor((c) => c.state(seats[1]) === 'e', 5000, 'the release seen while frozen');
        const page = await stack.api('GET', '/', { timeoutMs: 5000 });
        assert.equal(page.status, 200, 'a page loads while the database is frozen');
        /* /healthz answers at once from its last probe, and says "down" once
         * a probe has waited API_DB_PROBE_WAIT_MS (2 s). */
        const health = await waitUntil(async () => {
            const r = await stack.api('GET', '/healthz', { timeoutMs: 5000 });
            return r.status === 503 ? r : null;
        }, 10000, '/healthz to say the database is down');
        assert.equal(health.json?.database, 'down');
        assert.equal(health.json?.redis, 'up');
        /* A staff request waits API_DB_WAIT_MS (5 s) for the database, then
         * answers 503 unavailable (the deadline of the request is wider:
         * load-bound). */
        const t0 = Date.now();
        const me = await stack.api('GET', '/api/me', { cookie, timeoutMs: 20000 });
        t.diagnostic(`staff request answered ${me.status} after ${Date.now() - t0} ms with PostgreSQL frozen`);
        assert.equal(me.status, 503, me.text);
        assert.equal(me.json?.error?.code, 'unavailable');
        /* holds still work after all that (the first one has expired
         * meanwhile: this suite's holds last 2 s) */
        h2 = (await buyer.call({ type: 'hold', show: 'demo', seats: [seats[1]] })).hold;
        await watcher.waitFor((c) => c.state(seats[1]) === 'p', 5000, 'the second hold seen while frozen');
    } finally {
        signalAll(frozen, 'SIGCONT');
    }
    /* Thawed: staff work again, the audit log has every operation made
     * meanwhile, and the webhook deliveries of those holds arrive. */
    await waitUntil(async () => (await stack.api('GET', '/api/me', { cookie, timeoutMs: 20000 })).status === 200,
        20000, 'a staff request to work again');
    await waitUntil(async () => (await stack.api('GET', '/healthz')).status === 200, 10000, '/healthz up again');
    const rows = async (ref) => (await stack.pg.query(
        `SELECT what || ' ' || seats FROM audit WHERE ref = '${ref}' AND what IN ('hold', 'release') ORDER BY id`,
    )).split('\n');
    await waitUntil(async () => (await rows(h.ref)).length >= 2 && (await rows(h2.ref))[0] !== '', 10000,
        'the audit rows of the hold, the release and the second hold');
    assert.deepEqual(await rows(h.ref), [`hold ${seats.join(' ')}`, `release ${seats[1]}`]);
    assert.deepEqual(await rows(h2.ref), [`hold ${seats[1]}`]);
    /* hold.created and hold.released of the first hold, hold.created of the second */
    await waitUntil(() => rec.got.filter((g) => g.body.includes(h.ref)).length >= 2
        && rec.got.some((g) => g.body.includes(h2.ref)), 20000, 'the webhook deliveries of the frozen time');
    await buyer.close();
    await watcher.close();
    await stack.api('DELETE', `/api/webhooks/${hookRes.json.id}`, { cookie });
    await rec.stop();
});

/* A request's answer and how long it took; a request with no answer in
 * time resolves {error}. */
function timed(promise) {
    const t0 = Date.now();
    return promise.then((r) => ({ r, ms: Date.now() - t0 }), (error) => ({ error, ms: Date.now() - t0 }));
}

it('PostgreSQL frozen: a show not loaded yet (an unknown id, one added after the start) is answered within the bound while holds and fan-out go on; the dashboard\'s admin request answers unavailable; after SIGCONT the new show is watched and held', { skip, timeout: 90000 }, async (t) => {
    const id = `pgnew-${crypto.randomBytes(3).toString('hex')}`;
    const add = await seatmapdCli(['show', 'add', id, '--venue', path.join(REPO, 'assets/venues/demo.json'),
        '--name', 'Added while running', '--db', stack.dbPath]);
    assert.equal(add.code, 0, add.stderr);
    const cookie = await stack.login();
    const watcher = await stack.buyer();
    const buyer = await stack.buyer({ watch: null });
    const prober = await stack.buyer({ watch: null });
    const dash = await stack.client({ url: stack.server.wsUrl, origin: stack.server.origin, headers: { Cookie: cookie } });
    await dash.hello();
    const seats = pool.take(3);
    const frozen = pgProcesses();
    signalAll(frozen, 'SIGSTOP');
    try {
        /* Each asks for something only the database knows; none of them may
         * hold up the holds below (before this change the first one froze
         * the event loop until SIGCONT). */
        const newShow = timed(prober.request({ type: 'watch', show: id }, { timeoutMs: 15000 }));
        const unknown = timed(prober.request({ type: 'watch', show: `pg-nope-${id}` }, { timeoutMs: 15000 }));
        const page = timed(stack.api('GET', `/api/shows/${id}/seats`, { timeoutMs: 15000 }));
        const admin = timed(dash.request({ type: 'admin' }, { timeoutMs: 15000 }));
        for (const seat of seats) {
            const h0 = Date.now();
            await buyer.call({ type: 'hold', show: 'demo', seats: [seat] }, { timeoutMs: 3000 });
            await watcher.waitFor((c) => c.state(seat) === 'p', 1000, `the hold of ${seat} seen within 1 s, PostgreSQL frozen`);
            t.diagnostic(`hold of ${seat} answered and seen ${Date.now() - h0} ms after it was sent`);
        }
        const [n, u, pg, ad] = await Promise.all([newShow, unknown, page, admin]);
        t.diagnostic(`while frozen: watch of ${id} ${n.r?.code ?? n.error} after ${n.ms} ms, unknown id ${u.r?.code ?? u.error} after ${u.ms} ms, `
            + `GET seats ${pg.r?.status ?? pg.error} after ${pg.ms} ms, admin ${ad.r?.code ?? ad.error} after ${ad.ms} ms`);
        /* API_DB_WAIT_MS is 5 s; a second of slack for a slow machine */
        assert.equal(n.r?.code, 'unavailable', `watch of a show added after the start: ${JSON.stringify(n)}`);
        assert.ok(n.ms < 7000, `answered after ${n.ms} ms`);
        assert.ok(['unavailable', 'unknown_show'].includes(u.r?.code), `watch of an unknown id: ${JSON.stringify(u)}`);
        assert.ok(u.ms < 7000, `answered after ${u.ms} ms`);
        assert.equal(pg.r?.status, 503, `GET /api/shows/${id}/seats: ${pg.r?.text ?? pg.error}`);
        assert.equal(pg.r.json?.error?.code, 'unavailable');
        assert.ok(pg.ms < 7000, `answered after ${pg.ms} ms`);
        assert.equal(ad.r?.code, 'unavailable', `the admin request: ${JSON.stringify(ad)}`);
        assert.ok(ad.ms < 7000, `answered after ${ad.ms} ms`);
        /* the connections are still usable */
        assert.equal((await prober.request({ type: 'watch', show: 'demo' })).type, 'ok');
    } finally {
        signalAll(frozen, 'SIGCONT');
    }
    /* Thawed: the new show is loaded (its load was still out, or starts
     * again) and can be watched and held; the dashboard subscribes. */
    const w = await stack.buyer({ watch: null });
    await waitUntil(async () => {
        const r = await w.request({ type: 'watch', show: id }, { timeoutMs: 10000 });
        return r.type === 'ok';
    }, 15000, `a watch of ${id} after SIGCONT`);
    await w.waitFor((c) => c.model.show === id && c.model.snapshots > 0, 5000, `the snapshot of ${id}`);
    const [seat] = pool.take(1);
    const h = await buyer.call({ type: 'hold', show: id, seats: [seat] });
    assert.deepEqual(h.hold.seats, [seat]);
    await w.waitFor((c) => c.state(seat) === 'p', 3000, `the hold on ${id} seen`);
    await waitUntil(async () => (await dash.request({ type: 'admin' }, { timeoutMs: 10000 })).type === 'ok',
        15000, 'the admin request to work again');
    await buyer.call({ type: 'release', show: id, seats: [seat] });
    await Promise.all([watcher, buyer, prober, dash, w].map((c) => c.close()));
});

it('SIGTERM while PostgreSQL is frozen: seatmapd stops within --shutdown-timeout + 2 s; a booking it acknowledged is in the database once', { skip, timeout: 90000 }, async (t) => {
    const SHUTDOWN_S = 3;
    const srv = await stack.addServer({ extraArgs: ['--shutdown-timeout', String(SHUTDOWN_S)] });
    const cookie = await stack.login(undefined, undefined, srv.baseUrl);
    const booked = pool.take(2);
    const ok = await httpRequest(srv.baseUrl, 'POST', '/api/shows/demo/bookings', {
        cookie, json: { seats: booked, payment_ref: 'pg-term-before' },
    });
    assert.equal(ok.status, 201, ok.text);
    const buyer = await stack.buyer({ url: srv.wsUrl, origin: srv.origin, watch: null });
    const frozen = pgProcesses();
    signalAll(frozen, 'SIGSTOP');
    let info;
    let took;
    try {
        /* Work for every ledger thread that the frozen database never
         * answers: a hold's audit row (written every 250 ms on the booking
         * thread) and a staff check; the staff request's 503 comes after the
         * audit write has started. */
        await buyer.call({ type: 'hold', show: 'demo', seats: pool.take(1) });
        const me = await httpRequest(srv.baseUrl, 'GET', '/api/me', { cookie, timeoutMs: 20000 });
        assert.equal(me.status, 503, me.text);
        const pending = httpRequest(srv.baseUrl, 'GET', '/api/me', { cookie, timeoutMs: 20000 }).catch((e) => e);
        const t0 = Date.now();
        info = await srv.kill('SIGTERM', (SHUTDOWN_S + 15) * 1000);
        took = Date.now() - t0;
        await pending;
    } finally {
        signalAll(frozen, 'SIGCONT');
    }
    t.diagnostic(`SIGTERM with PostgreSQL frozen: exited ${JSON.stringify(info)} after ${took} ms (--shutdown-timeout ${SHUTDOWN_S})`);
    t.diagnostic(srv.stderr().split('\n').filter((l) => /ledger:|drain|stopping/.test(l)).join('\n'));
    assert.notEqual(info?.signal, 'SIGKILL', `seatmapd did not stop on its own: ${srv.stderr().split('\n').slice(-15).join('\n')}`);
    assert.ok(took < (SHUTDOWN_S + 2) * 1000, `stopped after ${took} ms`);
    assert.equal(await stack.pg.query("SELECT count(*) FROM bookings WHERE payment_ref = 'pg-term-before'"), '1');
    /* the other process served on throughout and still does */
    assert.equal((await stack.api('GET', '/api/me', { cookie: await stack.login(), timeoutMs: 20000 })).status, 200);
    await buyer.close();
});

it('PostgreSQL goes away: bookings answer 503 unavailable within seconds, holds go on; then it comes back and nothing is lost', { skip, timeout: 90000 }, async (t) => {
    const cookie = await stack.login();
    const before = pool.take(2);
    const during = pool.take(2);
    const held = pool.take(1);
    const ok = await stack.api('POST', '/api/shows/demo/bookings', { cookie, json: { seats: before, payment_ref: 'pg-before' } });
    assert.equal(ok.status, 201, ok.text);
    const watcher = await stack.buyer();

    await stack.pg.kill(); /* immediate shutdown, like a crash */
    const t0 = Date.now();
    const sale = await stack.api('POST', '/api/shows/demo/bookings', {
        cookie, json: { seats: during, payment_ref: 'pg-during' }, timeoutMs: 15000,
    });
    const took = Date.now() - t0;
    t.diagnostic(`503 after ${took} ms with PostgreSQL down`);
    assert.equal(sale.status, 503, sale.text);
    assert.equal(sale.json?.error?.code, 'unavailable');
    assert.ok(took < 8000, `the 503 came after ${took} ms`);
    /* The seats of the refused sale are not left pending. */
    await watcher.waitFor((c) => during.every((x) => c.state(x) === 'e'), 5000, 'refused sale seats empty');
    /* Confirming a hold is refused the same way, and the hold is kept. */
    const buyer = await stack.buyer({ watch: null });
    const h = (await buyer.call({ type: 'hold', show: 'demo', seats: held })).hold;
    const confirm = await stack.api('POST', '/api/shows/demo/bookings', {
        cookie, json: { hold: h.ref, payment_ref: 'pg-hold' }, timeoutMs: 15000,
    });
    assert.equal(confirm.status, 503, confirm.text);
    /* /healthz reuses a database probe for up to a second (api_health.c). */
    const health = await waitUntil(async () => {
        const r = await stack.api('GET', '/healthz', { timeoutMs: 15000 });
        return r.status === 503 ? r : null;
    }, 5000, '/healthz to say the database is down');
    assert.equal(health.json?.database, 'down');
    assert.equal(health.json?.redis, 'up');
    const list = await stack.api('GET', '/api/shows/demo/bookings', { cookie, timeoutMs: 15000 });
    assert.equal(list.status, 503, `bookings list while the database is down: ${list.text}`);

    await stack.pg.start();
    /* The same request again: now it is booked (the client's retry). */
    const again = await waitUntil(async () => {
        const r = await stack.api('POST', '/api/shows/demo/bookings', {
            cookie, json: { seats: during, payment_ref: 'pg-during' }, timeoutMs: 15000,
        });
        return r.status === 201 ? r : null;
    }, 20000, 'a booking to work again after PostgreSQL is back');
    assert.deepEqual([...again.json.booking.seats].sort(), [...during].sort());
    await waitUntil(async () => (await stack.api('GET', '/healthz')).status === 200, 5000,
        '/healthz up again');
    await watcher.waitFor((c) => during.every((x) => c.state(x) === 'b'), 5000, 'new booking seen');
    assert.equal(await stack.pg.query("SELECT count(*) FROM bookings WHERE payment_ref = 'pg-during'"), '1');
    assert.equal(await stack.pg.query("SELECT count(*) FROM bookings WHERE payment_ref = 'pg-before'"), '1');
    assert.equal(await stack.pg.query("SELECT count(*) FROM bookings WHERE payment_ref = 'pg-hold'"), '0');
    /* The outage is one line when it starts and one when it ends. The end
     * is logged once every ledger handle that saw it has reconnected, each
     * at its next call after a retry delay (the webhooks thread's reads
     * the registry every 2 s): that may come after the booking above. */
    await waitUntil(() => /reconnected to the PostgreSQL database/.test(stack.server.stderr()), 10000,
        'the end of the outage in the log');
    const log = stack.server.stderr();
    const lost = log.split('\n').filter((l) => /lost the PostgreSQL database/.test(l));
    assert.equal(lost.length, 1, `one line for the outage:\n${lost.join('\n')}`);
    await buyer.close();
    await watcher.close();
});
