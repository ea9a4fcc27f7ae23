// The live admin dashboard (/admin): an administrator signs in (the same session cookie as the
// box office), the page opens the WebSocket and sends the `admin` request (docs/protocol.md);
// the server then pushes an `admin` update about once a second: shows' seat counts, every
// server process, Redis and database health, webhooks and their newest deliveries. Retry and
// discard go through the HTTP API (docs/webhooks.md). Tables are updated in place, row by row,
// so a focused button keeps its focus while the numbers change.

import { api } from './api.js';
import { signOut, mountSignIn } from './signin.js';
import { $, el, formatDuration, renderConnection, toast } from './util.js';

const PROTOCOL = 'seatmap.v1';
const BACKOFF_MIN_MS = 400;
const BACKOFF_MAX_MS = 15000;
const TOKEN_KEY = 'seatmap.admin.buyer';

const ui = {
  banner: $('#banner'),
  conn: $('#conn'),
  user: $('#user-name'),
  logout: $('#logout'),
  login: $('#login'),
  forbidden: $('#forbidden'),
  forbiddenText: $('#forbidden-text'),
  switchUser: $('#switch-user'),
  app: $('#app'),
  updated: $('#updated'),
  health: { redis: $('#health-redis'), database: $('#health-database'), queue: $('#health-queue') },
  queueDepth: $('#queue-depth'),
  showsBody: $('#shows-body'),
  procsBody: $('#procs-body'),
  hooksBody: $('#hooks-body'),
  hooksEmpty: $('#hooks-empty'),
  filter: $('#delivery-filter'),
  deliveriesBody: $('#deliveries-body'),
  deliveriesEmpty: $('#deliveries-empty'),
  detail: $('#detail'),
  detailTitle: $('#detail-title'),
  detailFacts: $('#detail-facts'),
  detailPayload: $('#detail-payload'),
  detailClose: $('#detail-close'),
  announce: $('#announce'),
};

const state = {
  ws: null,
  attempt: 0,
  retryTimer: null,
  nextId: 1,
  stopped: true,
  last: null, // the last admin update
  busy: new Set(), // delivery ids with a request in flight
};

const STATUS_WORDS = { pending: 'Pending', failed: 'Failed', dead: 'Dead', ok: 'Delivered' };

function announce(text) {
  ui.announce.textContent = '';
  ui.announce.textContent = text;
}

// ---------- session ----------

async function checkSession() {
  try {
    const { data } = await api('GET', '/api/me');
    onSignedIn(data);
  } catch (e) {
    if (e.status === 401) showLogin();
    else {
      ui.banner.textContent = 'The server is not answering. Retrying…';
      ui.banner.hidden = false;
      setTimeout(checkSession, 3000);
    }
  }
}

function showLogin(reason) {
  stopLive();
  ui.login.hidden = false;
  ui.app.hidden = true;
  ui.forbidden.hidden = true;
  ui.user.hidden = true;
  ui.logout.hidden = true;
  ui.conn.hidden = true;
  signIn.show(reason);
}

function showForbidden(me, message) {
  stopLive();
  ui.login.hidden = true;
  ui.app.hidden = true;
  ui.conn.hidden = true;
  ui.forbidden.hidden = false;
  ui.forbiddenText.textContent = message
    || `This dashboard is for administrators. You are signed in as ${me.user} (${me.role}).`;
  ui.switchUser.focus();
}

function onSignedIn(me) {
  ui.banner.hidden = true;
  ui.user.hidden = false;
  ui.user.textContent = `${me.user || 'staff'}${me.role ? ` · ${me.role}` : ''}`;
  ui.logout.hidden = false;
  if (me.role !== 'admin') {
    showForbidden(me);
    return;
  }
  ui.login.hidden = true;
  ui.forbidden.hidden = true;
  ui.app.hidden = false;
  ui.conn.hidden = false;
  startLive();
}

const signIn = mountSignIn(ui.login, {
  title: 'Admin sign-in',
  usual: 'Sign in with an administrator account to see the live dashboard.',
}, onSignedIn);
ui.logout.addEventListener('click', () => signOut('/admin'));
ui.switchUser.addEventListener('click', () => signOut('/admin'));

// ---------- the WebSocket ----------

function startLive() {
  if (!state.stopped) return;
  state.stopped = false;
  openLive();
}

function stopLive() {
  state.stopped = true;
  clearTimeout(state.retryTimer);
  if (state.ws) state.ws.close(1000, 'bye');
  state.ws = null;
}

function openLive() {
  const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
  renderConnection(ui.conn, state.attempt ? 'reconnecting' : 'connecting');
  let ws;
  try {
    ws = new WebSocket(`${proto}//${location.host}/ws`, PROTOCOL);
  } catch {
    scheduleReconnect();
    return;
  }
  state.ws = ws;
  ws.onopen = () => {
    // Every request needs a hello first (PROTOCOL.md); the page keeps its buyer token for
    // the tab, so that reconnecting does not mint new identities.
    let buyer = null;
    try {
      buyer = sessionStorage.getItem(TOKEN_KEY);
    } catch {
      /* private mode: a new one each time */
    }
    ws.send(JSON.stringify({ type: 'hello', id: state.nextId++, buyer }));
    ws.send(JSON.stringify({ type: 'admin', id: state.nextId++ }));
  };
  ws.onmessage = (ev) => {
    let msg;
    try {
      msg = JSON.parse(ev.data);
    } catch {
      return;
    }
    onMessage(msg);
  };
  ws.onclose = () => {
    if (state.ws !== ws) return;
    state.ws = null;
    if (!state.stopped) scheduleReconnect();
  };
  ws.onerror = () => {}; // onclose follows
}

function scheduleReconnect() {
  const base = Math.min(BACKOFF_MAX_MS, BACKOFF_MIN_MS * 2 ** state.attempt);
  const wait = base * (0.5 + Math.random() / 2);
  state.attempt++;
  renderConnection(ui.conn, 'reconnecting', { inMs: wait });
  clearTimeout(state.retryTimer);
  state.retryTimer = setTimeout(openLive, wait);
}

function onMessage(msg) {
  if (msg.type === 'ok' && msg.buyer) {
    try {
      sessionStorage.setItem(TOKEN_KEY, msg.buyer);
    } catch {
      /* private mode */
    }
  } else if (msg.type === 'ok') {
    state.attempt = 0;
    renderConnection(ui.conn, 'live');
  } else if (msg.type === 'error') {
    if (msg.code === 'unauthorized') showLogin('Your session has expired. Please sign in again.');
    else if (msg.code === 'forbidden') showForbidden({}, msg.message);
    else {
      ui.banner.textContent = msg.message || 'The dashboard could not start.';
      ui.banner.hidden = false;
    }
  } else if (msg.type === 'admin_end') {
    showLogin(msg.reason ? `The dashboard stopped: ${msg.reason}.` : 'Please sign in again.');
  } else if (msg.type === 'admin') {
    state.last = msg;
    render(msg);
  }
}

// ---------- rendering ----------

/** Puts text in a cell only when it changed (keeps screen readers and selection calm). */
function setText(node, text) {
  const t = String(text);
  if (node.textContent !== t) node.textContent = t;
}

/**
 * Makes tbody hold one row per item, in order, keyed by key(item); make(item) builds a new row
 * (cells marked with data-col), update(row, item) fills it. Rows of items that are gone go.
 */
function syncRows(tbody, items, key, make, update) {
  const old = new Map([...tbody.rows].map((r) => [r.dataset.key, r]));
  let prev = null;
  for (const item of items) {
    const k = String(key(item));
    let row = old.get(k);
    if (row) old.delete(k);
    else {
      row = make(item);
      row.dataset.key = k;
    }
    update(row, item);
    const want = prev ? prev.nextSibling : tbody.firstChild;
    if (want !== row) tbody.insertBefore(row, want);
    prev = row;
  }
  for (const row of old.values()) row.remove();
}

function cells(cols, nums = []) {
  return cols.map((c) => el('td', { dataset: { col: c }, class: nums.includes(c) ? 'num' : undefined }));
}

function cell(row, col) {
  return row.querySelector(`[data-col="${col}"]`);
}

function setBadge(node, status, words) {
  node.dataset.state = status;
  setText(node, words || status);
}

const SHOW_COLS = ['name', 'seats', 'empty', 'pending', 'booked', 'holds', 'watchers'];
const PROC_COLS = ['name', 'pid', 'version', 'uptime', 'connections', 'watchers', 'beat'];
const HOOK_COLS = ['url', 'events', 'queue', 'in_flight', 'delivered_per_min', 'failed', 'dead', 'ok'];
const DELIVERY_COLS = ['id', 'webhook', 'event', 'status', 'attempts', 'last_error', 'next', 'actions'];

function render(msg) {
  setText(ui.updated, `Updated ${new Date(msg.at).toLocaleTimeString()}`);
  for (const part of ['redis', 'database', 'queue']) {
    const up = msg.health && msg.health[part];
    setBadge(ui.health[part], up, up === 'up' ? 'Up' : 'Down');
  }
  setText(ui.queueDepth, msg.queue_depth ?? 0);

  syncRows(ui.showsBody, msg.shows || [], (s) => s.id,
    (s) => {
      const tr = el('tr', { dataset: { show: s.id } }, cells(SHOW_COLS, SHOW_COLS.slice(1)));
      const th = el('th', { scope: 'row', dataset: { col: 'name' } });
      tr.replaceChild(th, cell(tr, 'name'));
      return tr;
    },
    (tr, s) => {
      setText(cell(tr, 'name'), s.name || s.id);
      for (const c of SHOW_COLS.slice(1)) setText(cell(tr, c), s.loaded || c === 'seats' ? s[c] : '…');
    });

  syncRows(ui.procsBody, msg.processes || [], (p) => p.name,
    (p) => el('tr', { dataset: { process: p.name } }, cells(PROC_COLS, ['pid', 'uptime', 'connections', 'watchers'])),
    (tr, p) => {
      setText(cell(tr, 'name'), p.name === msg.process ? `${p.name} (this one)` : p.name);
      setText(cell(tr, 'pid'), p.pid);
      setText(cell(tr, 'version'), p.version || '');
      setText(cell(tr, 'uptime'), formatDuration((p.uptime_s || 0) * 1000));
      setText(cell(tr, 'connections'), p.connections);
      setText(cell(tr, 'watchers'), p.watchers);
      const age = Math.max(0, Math.round((msg.at - p.at) / 1000));
      setText(cell(tr, 'beat'), age <= 1 ? 'just now' : `${age} s ago`);
    });

  const hooks = msg.webhooks || [];
  ui.hooksEmpty.hidden = hooks.length > 0;
  syncRows(ui.hooksBody, hooks, (h) => h.id,
    (h) => el('tr', { dataset: { webhook: h.id } }, cells(HOOK_COLS, HOOK_COLS.slice(2))),
    (tr, h) => {
      setText(cell(tr, 'url'), `#${h.id} ${h.url}`);
      setText(cell(tr, 'events'), (h.events || []).join(', '));
      for (const c of HOOK_COLS.slice(2)) setText(cell(tr, c), h[c] ?? 0);
    });

  renderDeliveries();
}

function renderDeliveries() {
  const msg = state.last;
  if (!msg) return;
  const want = ui.filter.value;
  const list = [];
  for (const h of msg.webhooks || []) {
    for (const d of h.deliveries || []) if (!want || d.status === want) list.push({ ...d, url: h.url });
  }
  list.sort((a, b) => b.id - a.id);
  ui.deliveriesEmpty.hidden = list.length > 0;
  syncRows(ui.deliveriesBody, list, (d) => d.id, makeDeliveryRow, updateDeliveryRow);
}

function makeDeliveryRow(d) {
  const tr = el('tr', { dataset: { delivery: d.id } }, cells(DELIVERY_COLS, ['id', 'attempts']));
  cell(tr, 'last_error').classList.add('error-cell');
  const actions = cell(tr, 'actions');
  actions.classList.add('actions');
  actions.append(
    el('button', { type: 'button', class: 'small', dataset: { action: 'payload' }, onclick: () => showDetail(Number(tr.dataset.key)) }),
    el('button', { type: 'button', class: 'small', dataset: { action: 'retry' }, onclick: () => retry(Number(tr.dataset.key)) }),
    el('button', { type: 'button', class: 'small danger', dataset: { action: 'discard' }, onclick: () => discard(Number(tr.dataset.key)) }),
  );
  return tr;
}

function updateDeliveryRow(tr, d) {
  setText(cell(tr, 'id'), d.id);
  setText(cell(tr, 'webhook'), `#${d.webhook_id}`);
  setText(cell(tr, 'event'), `${d.event_type} · ${d.event_id}`);
  let badge = cell(tr, 'status').firstElementChild;
  if (!badge) {
    badge = el('span', { class: 'state-badge' });
    cell(tr, 'status').append(badge);
  }
  setBadge(badge, d.status, STATUS_WORDS[d.status] || d.status);
  setText(cell(tr, 'attempts'), d.attempts);
  setText(cell(tr, 'last_error'), d.last_error || '');
  setText(cell(tr, 'next'), d.next_attempt_at ? new Date(d.next_attempt_at).toLocaleTimeString() : '');
  const [payload, retryBtn, discardBtn] = cell(tr, 'actions').children;
  const busy = state.busy.has(d.id);
  setText(payload, 'Payload');
  payload.setAttribute('aria-label', `Payload of delivery ${d.id}`);
  setText(retryBtn, 'Retry');
  retryBtn.setAttribute('aria-label', `Retry delivery ${d.id}`);
  retryBtn.hidden = !(d.status === 'failed' || d.status === 'dead');
  retryBtn.disabled = busy;
  setText(discardBtn, 'Discard');
  discardBtn.setAttribute('aria-label', `Discard delivery ${d.id}`);
  discardBtn.hidden = d.status === 'ok';
  discardBtn.disabled = busy;
}

ui.filter.addEventListener('change', renderDeliveries);

// ---------- actions ----------

function actionError(e, what) {
  if (e.status === 401) showLogin('Your session has expired. Please sign in again.');
  else if (e.status === 403) toast('Only administrators can do this.', 'bad');
  else if (e.status === 404) toast(`${what}: this delivery no longer exists.`, 'warn');
  else if (e.status === 409) toast(`${what}: ${e.message}`, 'warn');
  else toast(`${what} failed: ${e.message || 'the server is not answering'}.`, 'bad');
}

/** Moves focus somewhere sensible when the focused row is about to go away. */
function keepFocus(id) {
  const row = ui.deliveriesBody.querySelector(`tr[data-key="${id}"]`);
  if (row && row.contains(document.activeElement)) ui.filter.focus();
}

/** Runs one action on a delivery: its buttons are disabled meanwhile, errors are said. */
async function act(id, what, fn) {
  if (state.busy.has(id)) return;
  state.busy.add(id);
  renderDeliveries();
  try {
    await fn();
  } catch (e) {
    actionError(e, what);
  } finally {
    state.busy.delete(id);
    renderDeliveries();
  }
}

function retry(id) {
  return act(id, 'Retry', async () => {
    await api('POST', `/api/deliveries/${id}/retry`, {});
    announce(`Delivery ${id} is back in the queue.`);
    toast(`Delivery ${id} is back in the queue.`, 'ok', 3000);
  });
}

function discard(id) {
  return act(id, 'Discard', async () => {
    await api('POST', `/api/deliveries/${id}/discard`, {});
    keepFocus(id);
    // Gone at once here; the next update agrees.
    for (const h of state.last?.webhooks || []) h.deliveries = (h.deliveries || []).filter((d) => d.id !== id);
    if (Number(ui.detail.dataset.delivery) === id) ui.detail.hidden = true;
    announce(`Delivery ${id} was discarded.`);
    toast(`Delivery ${id} was discarded; it will not be sent again.`, 'ok', 3000);
  });
}

async function showDetail(id) {
  try {
    const { data } = await api('GET', `/api/deliveries/${id}`);
    ui.detail.dataset.delivery = String(id);
    setText(ui.detailTitle, `Delivery ${id}`);
    ui.detailFacts.replaceChildren(...[
      ['Webhook', `#${data.webhook_id}`], ['Event', `${data.event_type} (${data.event_id})`],
      ['Status', STATUS_WORDS[data.status] || data.status], ['Attempts', String(data.attempts)],
      ['Last error', data.last_error || '—'],
      ['Next attempt', data.next_attempt_at ? new Date(data.next_attempt_at).toLocaleString() : '—'],
    ].flatMap(([k, v]) => [el('dt', { text: k }), el('dd', { text: v })]));
    ui.detailPayload.textContent = JSON.stringify(data.payload, null, 2);
    ui.detail.hidden = false;
    ui.detail.focus();
  } catch (e) {
    actionError(e, 'Payload');
  }
}

ui.detailClose.addEventListener('click', () => {
  const id = ui.detail.dataset.delivery;
  ui.detail.hidden = true;
  const back = ui.deliveriesBody.querySelector(`tr[data-key="${id}"] [data-action="payload"]`);
  (back || ui.filter).focus();
});

checkSession();
