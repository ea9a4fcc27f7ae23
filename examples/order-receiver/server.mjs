/*
 * An order system's side of seatmapd's webhooks: a small HTTP service that
 * keeps the shop's orders, and on seatmapd's events
 *   hold.expired     -> cancels the unpaid order of that hold (and would free
 *                       its payment session),
 *   booking.created  -> marks the order of that hold paid,
 *   booking.cancelled-> marks it refunded.
 * Every request is verified with the official `standardwebhooks` library
 * (never code of our own) and deduplicated by its webhook-id: seatmapd
 * delivers at least once, so the same event may come twice.
 *
 * Run:  WEBHOOK_SECRET=whsec_... PORT=4000 node examples/order-receiver/server.mjs
 * Orders (the shop's own API, in memory here):
 *   POST /orders {"hold":"K7QX2M","amount":4200}  -> 201 the order (unpaid)
 *   GET  /orders/K7QX2M                          -> the order
 * Webhooks: POST /webhooks/seatmap
 */
import http from 'node:http';
import { Webhook, WebhookVerificationError } from 'standardwebhooks';

const port = Number(process.env.PORT || 4000);
const secret = process.env.WEBHOOK_SECRET;
if (!secret) {
    console.error('set WEBHOOK_SECRET to the secret `seatmapd webhook add` printed');
    process.exit(2);
}
const wh = new Webhook(secret);
const orders = new Map(); // hold ref -> {hold, amount, status, events: []}
const seen = new Set(); // event ids already handled (a real shop keeps these in its database)
const MAX_BODY = 1 << 20;

function send(res, status, obj) {
    res.writeHead(status, { 'Content-Type': 'application/json' });
    res.end(obj === undefined ? '' : JSON.stringify(obj));
}

/* What an event does to the orders. Idempotent on its own, and run once per id. */
function apply(ev) {
    const ref = ev.type.startsWith('hold.') ? ev.data.ref : ev.data.hold;
    console.log(`received ${ev.type} of show ${ev.show}${ref ? `, hold ${ref}` : ''} (seq ${ev.seq})`);
    const order = ref && orders.get(ref);
    if (!order) return;
    order.events.push(ev.type);
    if (ev.type === 'hold.expired' && order.status === 'unpaid') {
        order.status = 'cancelled'; // here: void the payment session too
        console.log(`order for hold ${ref} cancelled: the hold expired unpaid`);
    } else if (ev.type === 'booking.created') {
        order.status = 'paid';
        order.booking = ev.data.id;
    } else if (ev.type === 'booking.cancelled' && order.booking === ev.data.id) {
        order.status = 'refunded';
    }
}

function onWebhook(req, res, body) {
    let ev;
    try {
        ev = wh.verify(body, req.headers); // checks signature and timestamp (5 min tolerance)
    } catch (e) {
        if (e instanceof WebhookVerificationError) return send(res, 400, { error: 'bad signature' });
        throw e;
    }
    const id = req.headers['webhook-id'];
    if (seen.has(id)) return send(res, 204); // a redelivery: already done
    seen.add(id);
    apply(ev);
    return send(res, 204);
}

http.createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (c) => {
        body += c;
        if (body.length > MAX_BODY) req.destroy();
    });
    req.on('end', () => {
        const url = new URL(req.url, 'http://x');
        if (req.method === 'POST' && url.pathname === '/webhooks/seatmap') return onWebhook(req, res, body);
        if (req.method === 'POST' && url.pathname === '/orders') {
            let o;
            try {
                o = JSON.parse(body);
            } catch {
                return send(res, 400, { error: 'send JSON' });
            }
            if (typeof o.hold !== 'string' || !o.hold) return send(res, 400, { error: '"hold" is required' });
            const order = { hold: o.hold, amount: o.amount ?? 0, status: 'unpaid', events: [] };
            orders.set(o.hold, order);
            return send(res, 201, order);
        }
        const m = url.pathname.match(/^\/orders\/([^/]+)$/);
        if (req.method === 'GET' && m) {
            const order = orders.get(decodeURIComponent(m[1]));
            return order ? send(res, 200, order) : send(res, 404, { error: 'no such order' });
        }
        if (req.method === 'GET' && url.pathname === '/stats') return send(res, 200, { handled: seen.size });
        return send(res, 404, { error: 'not found' });
    });
}).listen(port, '127.0.0.1', () => console.log(`order receiver on http://127.0.0.1:${port}`));
