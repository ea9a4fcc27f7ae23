// WebSocket client for the seatmap.v2 protocol (docs/protocol.md; v1's requests and replies, with
// snapshots and deltas as binary messages decoded by wire2.js): hello with the stored buyer token,
// watch one show, requests matched to replies by id, snapshots and deltas kept in order by seq
// (a gap sends `watch` again for a fresh snapshot), reconnect with exponential backoff and
// jitter. It keeps no seat state itself: the page gets snapshot/delta/hold callbacks.

import { decodeSeatEvent, WIRE_V2 } from './wire2.js';

const PROTOCOL = WIRE_V2;
const BACKOFF_MIN_MS = 400;
const BACKOFF_MAX_MS = 15000;
const REQUEST_TIMEOUT_MS = 10000;

export class LiveError extends Error {
  constructor(code, message, reply) {
    super(message || code);
    this.code = code;
    this.reply = reply || null;
  }
}

export class LiveConnection {
  /**
   * opts: tokenKey (sessionStorage key of the buyer token, or null to not keep one),
   * onStatus(state, detail), onHello(reply), onSnapshot(msg), onDelta(msg), onHold(msg).
   */
  constructor(opts = {}) {
    this.opts = opts;
    this.ws = null;
    this.ready = false; // hello answered
    this.nextId = 1;
    this.pending = new Map(); // id -> {resolve, reject, timer}
    this.attempt = 0;
    this.retryTimer = null;
    this.show = null;
    this.seq = null; // null while waiting for a snapshot
    this.watchInFlight = false;
    this.limits = { max_seats: 10, hold_ttl_ms: 600000 };
    this.buyer = null;
    this.stopped = false;
    this.status = 'connecting';
    window.addEventListener('online', () => this.retryNow());
  }

  start() {
    this.stopped = false;
    this.open();
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    if (this.ws) this.ws.close(1000, 'bye');
  }

  /** Reconnects at once if we are waiting for a backoff timer. */
  retryNow() {
    if (this.stopped || this.ws) return;
    clearTimeout(this.retryTimer);
    this.open();
  }

  setStatus(state, detail) {
    this.status = state;
    if (this.opts.onStatus) this.opts.onStatus(state, detail || {});
  }

  storedToken() {
    if (!this.opts.tokenKey) return null;
    try {
      return sessionStorage.getItem(this.opts.tokenKey);
    } catch {
      return null;
    }
  }

  open() {
    const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
    this.setStatus(this.attempt ? 'reconnecting' : 'connecting');
    let ws;
    try {
      ws = new WebSocket(`${proto}//${location.host}/ws`, PROTOCOL);
    } catch {
      this.scheduleReconnect();
      return;
    }
    this.ws = ws;
    ws.binaryType = 'arraybuffer'; // seat events: decoded by wire2.js
    ws.onopen = () => {
      const token = this.storedToken();
      const hello = { type: 'hello', id: this.takeId() };
      if (token) hello.buyer = token;
      this.track(hello.id, REQUEST_TIMEOUT_MS)
        .then((reply) => this.onHelloReply(reply))
        .catch(() => {
          if (this.ws === ws) ws.close(4000, 'hello failed');
        });
      ws.send(JSON.stringify(hello));
    };
    ws.onmessage = (ev) => this.onMessage(ev.data);
    ws.onclose = (ev) => this.onClose(ws, ev);
    ws.onerror = () => {}; // onclose follows and does the work
  }

  onHelloReply(reply) {
    this.ready = true;
    this.attempt = 0;
    if (reply.buyer) {
      this.buyer = reply.buyer;
      if (this.opts.tokenKey) {
        try {
          sessionStorage.setItem(this.opts.tokenKey, reply.buyer);
        } catch {
          /* private mode: the hold lives as long as the tab */
        }
      }
    }
    if (reply.limits) this.limits = { ...this.limits, ...reply.limits };
    this.setStatus('live');
    if (this.opts.onHello) this.opts.onHello(reply);
    if (this.show) this.sendWatch();
  }

  onClose(ws, ev) {
    if (this.ws !== ws) return;
    this.ws = null;
    this.ready = false;
    this.seq = null;
    this.watchInFlight = false;
    for (const [id, p] of this.pending) {
      clearTimeout(p.timer);
      p.reject(new LiveError('disconnected', 'The connection to the server was lost.'));
      this.pending.delete(id);
    }
    if (this.stopped) return;
    // 1001 "going away": the server is restarting and another one already takes
    // connections, so reconnect at once (a failed attempt falls back to the backoff).
    if (ev && ev.code === 1001 && this.attempt === 0) {
      this.attempt = 1;
      this.setStatus('reconnecting', { inMs: 0, attempt: this.attempt });
      clearTimeout(this.retryTimer);
      this.open();
      return;
    }
    this.scheduleReconnect();
  }

  scheduleReconnect() {
    this.attempt += 1;
    const base = Math.min(BACKOFF_MAX_MS, BACKOFF_MIN_MS * 2 ** (this.attempt - 1));
    const delay = Math.round(base * (0.5 + Math.random() * 0.5));
    this.setStatus('reconnecting', { inMs: delay, attempt: this.attempt });
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => this.open(), delay);
  }

  takeId() {
    const id = this.nextId;
    this.nextId += 1;
    return id;
  }

  track(id, timeoutMs) {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new LiveError('timeout', 'The server did not answer in time.'));
      }, timeoutMs);
      this.pending.set(id, { resolve, reject, timer });
    });
  }

  /** Sends a request; resolves with the ok reply, rejects with LiveError(code). */
  request(msg) {
    if (!this.ws || !this.ready || this.ws.readyState !== WebSocket.OPEN) {
      return Promise.reject(new LiveError('offline', 'Not connected to the server.'));
    }
    const id = this.takeId();
    const p = this.track(id, REQUEST_TIMEOUT_MS);
    this.ws.send(JSON.stringify({ ...msg, id }));
    return p;
  }

  /** Starts watching a show (replacing the previous one); a snapshot follows. */
  watch(show) {
    this.show = show;
    this.seq = null;
    this.watchInFlight = false;
    if (this.ready) this.sendWatch();
  }

  sendWatch() {
    if (this.watchInFlight || !this.show) return;
    this.watchInFlight = true;
    this.seq = null;
    const show = this.show;
    this.request({ type: 'watch', show })
      .then(() => {
        this.watchInFlight = false;
      })
      .catch((err) => {
        this.watchInFlight = false;
        if (err.code === 'disconnected' || err.code === 'offline') return;
        if (this.opts.onWatchError) this.opts.onWatchError(err);
        // Try again a little later unless the show is unknown.
        if (err.code !== 'unknown_show' && this.show === show) setTimeout(() => this.sendWatch(), 1000);
      });
  }

  onMessage(data) {
    let msg;
    try {
      msg = typeof data === 'string' ? JSON.parse(data) : decodeSeatEvent(data);
    } catch {
      return;
    }
    if (!msg || typeof msg !== 'object') return;
    if ((msg.type === 'ok' || msg.type === 'error') && msg.id !== undefined) {
      const p = this.pending.get(msg.id);
      if (!p) return;
      this.pending.delete(msg.id);
      clearTimeout(p.timer);
      if (msg.type === 'ok') p.resolve(msg);
      else p.reject(new LiveError(msg.code || 'internal', msg.message, msg));
      return;
    }
    if (msg.type === 'snapshot') {
      if (msg.show !== this.show) return;
      this.seq = msg.seq;
      if (this.opts.onSnapshot) this.opts.onSnapshot(msg);
    } else if (msg.type === 'delta') {
      if (msg.show !== this.show || this.seq === null) return; // a snapshot is on its way
      if (msg.from !== this.seq) {
        // Missed something: get a fresh snapshot (PROTOCOL.md, Events).
        this.sendWatch();
        return;
      }
      this.seq = msg.seq;
      if (this.opts.onDelta) this.opts.onDelta(msg);
    } else if (msg.type === 'hold') {
      if (this.opts.onHold) this.opts.onHold(msg);
    }
  }
}
