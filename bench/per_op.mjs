/*
 * bench/per_op.mjs - what one hold costs seatmapd in system calls and JSON
 * parses, counted on the real server (docs/benchmarks.md, "Per operation").
 *
 *   SEATMAPD=build/seatmapd node bench/per_op.mjs [HOLDS]
 *
 * Starts redis-server and seatmapd (tests/lib/stack.mjs), warms up, then
 * makes HOLDS holds (each of a new buyer, one seat, then released) while
 * `strace -c -f -e trace=getrandom` and, when the uprobes exist,
 * `perf stat -e probe_libcjson:cJSON_ParseWithLength,probe_libcjson:cJSON_Parse`
 * watch the server. Prints getrandom calls per hold and cJSON parses per
 * request. The uprobes are added by the caller (root):
 *   perf probe -x /lib/x86_64-linux-gnu/libcjson.so.1 cJSON_ParseWithLength
 *   perf probe -x /lib/x86_64-linux-gnu/libcjson.so.1 cJSON_Parse
 * and removed after with `perf probe -d 'probe_libcjson:*'`.
 */
import { spawn } from 'node:child_process';
import { startStack, waitUntil } from '../tests/lib/stack.mjs';

const HOLDS = Number(process.argv[2] || 2000);

function attach(cmd, args) {
    const p = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    p.stderr.on('data', (d) => (err += d));
    const done = new Promise((resolve) => p.on('close', () => resolve(err)));
    return { p, done };
}

const stack = await startStack({ holdTtl: 60, extraArgs: ['--ip-limits', 'off', '--rate', '100000'] });
try {
    const pid = String(stack.server.pid);
    const ids = await stack.seatIds();
    const c = await stack.buyer({ watch: null });
    /* warm-up: the show is loaded, pools filled */
    for (let i = 0; i < 50; i++) {
        await c.call({ type: 'hold', show: 'demo', seats: [ids[i % ids.length]] });
        await c.call({ type: 'release', show: 'demo', seats: [ids[i % ids.length]] });
    }
    const st = attach('strace', ['-c', '-f', '-e', 'trace=getrandom', '-p', pid]);
    const pf = attach('perf', ['stat', '-x', ',', '-e', 'probe_libcjson:cJSON_ParseWithLength,probe_libcjson:cJSON_Parse', '-p', pid]);
    await new Promise((r) => setTimeout(r, 1000)); /* attached (strace prints nothing until the end) */
    let requests = 0;
    for (let i = 0; i < HOLDS; i++) {
        const seat = ids[i % ids.length];
        await c.call({ type: 'hold', show: 'demo', seats: [seat] });
        await c.call({ type: 'release', show: 'demo', seats: [seat] });
        requests += 2;
    }
    await waitUntil(async () => (await stack.seats()).seq > 0, 5000, 'settled');
    st.p.kill('SIGINT');
    pf.p.kill('SIGINT');
    const [straceOut, perfOut] = await Promise.all([st.done, pf.done]);
    const m = straceOut.match(/^\s*[\d.]+\s+[\d.]+\s+\d+\s+(\d+)\s+(?:\d+\s+)?getrandom/m);
    const getrandom = m ? Number(m[1]) : 0;
    const parses = perfOut
        .split('\n')
        .filter((l) => l.includes('probe_libcjson'))
        .reduce((n, l) => n + (Number(l.split(',')[0]) || 0), 0);
    console.log(
        `result per_op holds=${HOLDS} requests=${requests} getrandom=${getrandom} ` +
            `getrandom_per_hold=${(getrandom / HOLDS).toFixed(4)} cjson_parses=${parses} ` +
            `parses_per_request=${(parses / requests).toFixed(3)}`,
    );
    if (!perfOut.includes('probe_libcjson')) console.error(`perf: ${perfOut.trim().split('\n').pop()}`);
} finally {
    await stack.stop();
}
