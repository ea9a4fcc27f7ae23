/*
 * receiver.mjs - a real local HTTP receiver for webhook tests (integration
 * and e2e): it records what it accepted and fails on purpose when told to.
 */
import http from 'node:http';
import { freePort } from './stack.mjs';

/* A receiver on a fixed port: mode(req) says 'ok' (200), 'fail' (500) or
 * 'hang' (never answers); stop() makes the port refuse connections. */
export async function startReceiver() {
    const port = await freePort();
    const rec = {
        port,
        url: `http://127.0.0.1:${port}`,
        got: [], // 2xx answered: {path, headers, body}
        tries: 0,
        hanging: new Set(),
        mode: () => 'ok',
        server: null,
        start() {
            return new Promise((resolve) => {
                rec.server = http.createServer((req, res) => {
                    let body = '';
                    req.setEncoding('utf8');
                    req.on('data', (c) => { body += c; });
                    req.on('end', () => {
                        rec.tries++;
                        const m = rec.mode(req, body);
                        if (m === 'hang') {
                            rec.hanging.add(res);
                            return;
                        }
                        if (m === 'ok') rec.got.push({ path: req.url, headers: req.headers, body });
                        res.writeHead(m === 'ok' ? 204 : 500);
                        res.end();
                    });
                });
                rec.server.listen(port, '127.0.0.1', resolve);
            });
        },
        stop() {
            for (const r of rec.hanging) r.destroy();
            rec.hanging.clear();
            return new Promise((resolve) => {
                rec.server.close(() => resolve());
                rec.server.closeAllConnections();
            });
        },
        ids(path) {
            return new Set(rec.got.filter((g) => !path || g.path === path).map((g) => g.headers['webhook-id']));
        },
    };
    await rec.start();
    return rec;
}
