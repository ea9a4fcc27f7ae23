/*
 * bench/loop-stall.mjs - what a stream of bookings costs everyone else: a
 * buyer holds and releases one seat in a loop (WebSocket round trips) while
 * the box office makes N walk-up sales, 8 at a time, on a fresh stack
 * (tests/lib/stack.mjs: real redis-server and seatmapd). Prints one JSON
 * line: sales/s, mean commit time (seatmap_booking_commit_seconds), and the
 * hold round trip's p50/p99/max in ms. With the ledger on the event loop, a
 * hold waits behind every commit; on the booking thread it does not
 * (docs/scaling.md).
 *
 *   SEATMAPD=build/seatmapd [PG=1] [HOLDS=0] [N=150] node bench/loop-stall.mjs
 */
import { startStack, seatPool } from '../tests/lib/stack.mjs';
const N = Number(process.env.N || 150);
const stack = await startStack({ extraArgs: ['--ip-limits', 'off', '--rate', '100000'], postgres: process.env.PG === '1' });
try {
    const ids = await stack.seatIds();
    const pool = seatPool(ids);
    const cookie = await stack.login();
    const buyer = await stack.buyer({ watch: null });
    const probe = pool.take(1);
    let stop = process.env.HOLDS === '0';
    const rtt = [];
    const loop = (async () => {
        while (!stop) {
            const t0 = process.hrtime.bigint();
            await buyer.call({ type: 'hold', show: 'demo', seats: probe });
            await buyer.call({ type: 'release', show: 'demo', seats: probe });
            rtt.push(Number(process.hrtime.bigint() - t0) / 1e6 / 2);
        }
    })();
    const t0 = Date.now();
    const sales = [];
    for (let i = 0; i < N; i++) {
        const seats = pool.take(1);
        sales.push(stack.api('POST', '/api/shows/demo/bookings', { cookie, json: { seats, payment_ref: `m-${i}` }, timeoutMs: 60000 }));
        if (sales.length >= 8) await Promise.all(sales.splice(0));
    }
    await Promise.all(sales);
    const took = Date.now() - t0;
    stop = true;
    await loop;
    rtt.sort((a, b) => a - b);
    const q = (p) => rtt.length === 0 ? '-' : rtt[Math.min(rtt.length - 1, Math.floor(p * rtt.length))].toFixed(2);
    const m = (await stack.api('GET', '/metrics')).text;
    const sum = Number(/seatmap_booking_commit_seconds_sum (\S+)/.exec(m)?.[1]);
    const cnt = Number(/seatmap_booking_commit_seconds_count (\S+)/.exec(m)?.[1]);
    const recon = (stack.server.stderr().match(/reconciling/g) || []).length;
    console.log(JSON.stringify({ recon, bin: process.env.SEATMAPD, pg: process.env.PG === '1', sales: N, sales_s: (N / (took / 1000)).toFixed(0), commit_ms_avg: (1000 * sum / cnt).toFixed(2), hold_ms_n: rtt.length, p50: q(0.5), p99: q(0.99), max: rtt.length ? rtt.at(-1).toFixed(2) : '-' }));
} finally {
    await stack.stop();
}
