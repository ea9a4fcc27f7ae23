// The box-office page (/boxoffice): staff sign in (session cookie), pick a show, watch the live
// map, find a buyer's hold by its code and confirm payment, sell free seats to walk-up
// customers, list/cancel/export bookings. Every booking goes through the HTTP API with a
// payment reference that stays the same across retries, so a double click or a retry after a
// lost reply returns the same booking instead of a second one (PROTOCOL.md).

import { api, listOf } from './api.js';
import { BestForm } from './best.js';
import { LiveConnection } from './live.js';
import { signOut, mountSignIn } from './signin.js';
import { Legend } from './legend.js';
import { KIND, SeatMap } from './seatmap.js';
import { $, debounce, el, formatDuration, formatWhen, moneyFormatter, naturalCompare, renderConnection, toast } from './util.js';

const HOLDS_POLL_MS = 3000;
const BOOKINGS_POLL_MS = 15000;

const ui = {
  banner: $('#banner'),
  conn: $('#conn'),
  user: $('#user-name'),
  logout: $('#logout'),
  title: $('#show-title'),
  login: $('#login'),
  app: $('#app'),
  select: $('#show-select'),
  summary: $('#avail-summary'),
  mapHost: $('#map'),
  legend: $('#legend'),
  holdsCount: $('#holds-count'),
  search: $('#hold-search'),
  holdsList: $('#holds-list'),
  holdsEmpty: $('#holds-empty'),
  payBox: $('#pay-box'),
  payError: $('#pay-error'),
  payRef: $('#pay-ref'),
  paySeats: $('#pay-seats'),
  payTotal: $('#pay-total'),
  payCountdown: $('#pay-countdown'),
  payCountdownLabel: $('#pay-countdown-label'),
  payCountdownTime: $('#pay-countdown-time'),
  payForm: $('#pay-form'),
  payReference: $('#pay-reference'),
  payReferenceLabel: $('#pay-reference-label'),
  payReferenceHint: $('#pay-reference-hint'),
  payConfirm: $('#pay-confirm'),
  walkupHint: $('#walkup-hint'),
  walkupBox: $('#walkup-box'),
  walkupError: $('#walkup-error'),
  walkupSeats: $('#walkup-seats'),
  walkupTotal: $('#walkup-total'),
  walkupForm: $('#walkup-form'),
  walkupReference: $('#walkup-reference'),
  walkupReferenceLabel: $('#walkup-reference-label'),
  walkupClear: $('#walkup-clear'),
  walkupSell: $('#walkup-sell'),
  bookingsBody: $('#bookings-body'),
  bookingsEmpty: $('#bookings-empty'),
  bookingsSummary: $('#bookings-summary'),
  exportCsv: $('#export-csv'),
  cancelDialog: $('#cancel-dialog'),
  cancelText: $('#cancel-text'),
};

const state = {
  me: null,
  started: false,
  authLost: false,
  shows: [],
  show: null,
  money: moneyFormatter('EUR'),
  holds: [], // newest first
  selectedRef: null,
  selectedHold: null, // last known copy of the selected hold
  payRefs: new Map(), // hold ref -> payment reference (kept for retries)
  paying: false,
  walkup: new Set(), // seat ids selected for a walk-up sale
  walkupRef: '',
  selling: false,
  bookings: [],
  cancelling: null,
};

const map = new SeatMap(ui.mapHost, {
  money: (c) => state.money(c),
  onActivate: (i) => onSeat(i),
  stateWord: (i, kind) => ({
    empty: 'available — select for a walk-up sale',
    pending: 'held by a buyer',
    booked: 'booked',
    selected: 'selected for a walk-up sale',
  }[kind]),
});
let legend = null;

const live = new LiveConnection({
  tokenKey: null,
  onStatus: (s, d) => {
    renderConnection(ui.conn, s, d);
    if (s === 'live') hideBanner('ws');
  },
  onSnapshot: (msg) => {
    map.setStates(msg.seats || '');
    map.loading.hidden = true;
    afterSeatChange();
    refreshHolds();
  },
  onDelta: (msg) => {
    map.applyChanges(msg.seats || []);
    afterSeatChange();
    refreshSoon();
  },
  onResume: () => refreshHolds(),
});

// ---------- banner ----------

let bannerWho = '';
function showBanner(text, who = 'api') {
  bannerWho = who;
  ui.banner.textContent = text;
  ui.banner.hidden = false;
}
function hideBanner(who) {
  if (!who || who === bannerWho) ui.banner.hidden = true;
}

// ---------- session ----------

async function checkSession() {
  try {
    const { data } = await api('GET', '/api/me');
    hideBanner();
    onLoggedIn(data);
  } catch (e) {
    if (e.status === 401 || e.status === 403) showLogin();
    else {
      showBanner('The box-office server is not answering. Retrying…');
      setTimeout(checkSession, 3000);
    }
  }
}

function showLogin(reason) {
  ui.login.hidden = false;
  ui.app.hidden = true;
  ui.user.hidden = true;
  ui.logout.hidden = true;
  signIn.show(reason);
}

function onLoggedIn(me) {
  state.me = me || {};
  state.authLost = false;
  ui.login.hidden = true;
  ui.app.hidden = false;
  ui.user.hidden = false;
  ui.user.textContent = `${state.me.user || 'staff'}${state.me.role ? ` · ${state.me.role}` : ''}`;
  ui.logout.hidden = false;
  ui.conn.hidden = false;
  if (!state.started) {
    state.started = true;
    live.start();
    loadShows();
    setInterval(refreshHolds, HOLDS_POLL_MS);
    setInterval(refreshBookings, BOOKINGS_POLL_MS);
    setInterval(tick, 250);
  } else {
    refreshHolds();
    refreshBookings();
  }
}

/** A staff call came back 401: the session is gone. Keep the page, ask to sign in again. */
function authLost() {
  if (state.authLost) return;
  state.authLost = true;
  showLogin('Your session has expired. Please sign in again — nothing was lost.');
}

const signIn = mountSignIn(ui.login, {
  title: 'Box office sign-in',
  usual: 'Sign in with your staff account to take payments.',
}, onLoggedIn);
ui.logout.addEventListener('click', () => signOut('/boxoffice'));

/** Common handling of a failed staff call. Returns true when it was handled. */
function staffError(e) {
  if (e.status === 401) {
    authLost();
    return true;
  }
  if (e.status === 403 && e.code === 'forbidden') {
    toast('Your account is not allowed to do this.', 'bad');
    return true;
  }
  if (e.status === 0 || e.status >= 500) {
    showBanner('The box-office server is not answering. Showing the last known data; retrying…');
    return true;
  }
  return false;
}

// ---------- shows ----------

async function loadShows() {
  try {
    const { data } = await api('GET', '/api/shows');
    state.shows = listOf(data, 'shows');
    hideBanner();
  } catch (e) {
    showBanner('The box-office server is not answering. Retrying…');
    setTimeout(loadShows, 3000);
    return;
  }
  ui.select.replaceChildren(...state.shows.map((s) => el('option', { value: s.id, text: `${s.name || s.id}${s.starts_at ? ` — ${formatWhen(s.starts_at)}` : ''}` })));
  const wanted = new URLSearchParams(location.search).get('show');
  const first = state.shows.find((s) => s.id === wanted) || state.shows[0];
  if (first) openShow(first.id);
  else ui.summary.textContent = 'No shows yet.';
}

ui.select.addEventListener('change', () => {
  if (!state.show || ui.select.value !== state.show.id) openShow(ui.select.value);
});

async function openShow(id) {
  let data;
  try {
    ({ data } = await api('GET', `/api/shows/${encodeURIComponent(id)}`));
  } catch (e) {
    if (!staffError(e)) toast(`Could not open the show: ${e.message}`, 'bad');
    return;
  }
  state.show = data;
  state.money = moneyFormatter(data.currency);
  state.holds = [];
  state.bookings = [];
  clearSelectedHold();
  clearWalkup();
  map.setLayout(data);
  map.loading.textContent = 'Loading seat availability…';
  map.loading.hidden = false;
  legend = new Legend(ui.legend, map, state.money, [
    [KIND.SELECTED, 'Selected for sale'],
    [KIND.PENDING, 'Held by a buyer'],
    [KIND.BOOKED, 'Booked'],
  ]);
  legend.render();
  best.setCategories(data.categories || [], state.money);
  ui.select.value = data.id;
  ui.title.replaceChildren(el('strong', { text: data.name || data.id }),
    el('span', { text: [formatWhen(data.starts_at, true), data.venue].filter(Boolean).join(' · ') }));
  document.title = `${data.name || data.id} · Box office`;
  history.replaceState(null, '', `${location.pathname}?show=${encodeURIComponent(data.id)}`);
  renderHolds();
  renderBookings();
  live.watch(data.id);
  refreshHolds();
  refreshBookings();
}

// ---------- seats ----------

const refreshCounts = debounce(() => {
  if (!legend) return;
  const c = legend.update();
  const free = c.empty.reduce((a, b) => a + b, 0);
  ui.summary.textContent = `${free.toLocaleString()} free · ${c.pending.toLocaleString()} held · ${c.booked.toLocaleString()} booked`;
}, 200);

function afterSeatChange() {
  refreshCounts();
  // Seats picked for a walk-up sale that someone else just took leave the selection.
  const lost = [...state.walkup].filter((id) => map.kindOf(map.seatIndex(id)) !== KIND.SELECTED);
  if (lost.length) {
    lost.forEach((id) => state.walkup.delete(id));
    map.setSelected([...state.walkup]);
    renderWalkup();
    walkupError(`${seatList(lost)} ${lost.length === 1 ? 'was' : 'were'} just taken by someone else and left your selection.`);
  }
}

function seatLabel(id) {
  const i = map.seatIndex(id);
  if (i < 0) return id;
  const s = map.seat(i);
  return `${map.sectionNames.get(s.section) || s.section} ${s.row}-${s.number}`;
}

function seatList(ids) {
  return ids.slice().sort(naturalCompare).map(seatLabel).join(', ');
}

function priceOf(ids) {
  let total = 0;
  for (const id of ids) {
    const i = map.seatIndex(id);
    if (i >= 0) total += Number(map.category(i).price) || 0;
  }
  return total;
}

function seatItems(ids) {
  return ids
    .map((id) => map.seatIndex(id))
    .filter((i) => i >= 0)
    .sort((a, b) => naturalCompare(map.seat(a).id, map.seat(b).id))
    .map((i) => {
      const s = map.seat(i);
      const cat = map.category(i);
      return el('li', { dataset: { seat: s.id } },
        el('span', {}, el('span', { class: 'seat-name', text: `Row ${s.row}, seat ${s.number}` }),
          el('span', { class: 'seat-cat', text: `${map.sectionNames.get(s.section) || s.section} · ${cat.name}` })),
        el('span', { text: state.money(cat.price) }));
    });
}

function onSeat(i) {
  const s = map.seat(i);
  const kind = map.kindOf(i);
  if (kind === KIND.EMPTY || kind === KIND.SELECTED) {
    if (state.walkup.has(s.id)) state.walkup.delete(s.id);
    else state.walkup.add(s.id);
    map.setSelected([...state.walkup]);
    ui.walkupError.hidden = true;
    renderWalkup();
  } else if (kind === KIND.PENDING) {
    const h = state.holds.find((x) => x.seats.includes(s.id));
    if (h) {
      ui.search.value = '';
      renderHolds();
      selectHold(h.ref, true);
    } else toast('This seat is held by a buyer; the list of holds is updating.', 'info', 3000);
  } else if (kind === KIND.BOOKED) {
    const b = state.bookings.find((x) => (x.seats || []).includes(s.id) && !isCancelled(x));
    if (b) {
      flashBooking(b.id);
      toast(`${seatLabel(s.id)} is in booking ${b.id}.`, 'info', 3000);
    } else toast(`${seatLabel(s.id)} is booked.`, 'info', 3000);
  }
}

// ---------- pending holds ----------

let holdsInFlight = false;
async function refreshHolds() {
  if (!state.show || state.authLost || holdsInFlight) return;
  const showId = state.show.id;
  holdsInFlight = true;
  try {
    const { data } = await api('GET', `/api/shows/${encodeURIComponent(showId)}/holds`);
    if (!state.show || state.show.id !== showId) return;
    hideBanner('api');
    setHolds(listOf(data, 'holds'));
  } catch (e) {
    staffError(e);
  } finally {
    holdsInFlight = false;
  }
}
const refreshSoon = debounce(() => {
  refreshHolds();
  refreshBookings();
}, 150);

function setHolds(list) {
  state.holds = list
    .filter((h) => h && h.ref && Array.isArray(h.seats))
    .sort((a, b) => (b.expires_at || 0) - (a.expires_at || 0) || String(a.ref).localeCompare(String(b.ref)));
  if (state.selectedRef) {
    const h = state.holds.find((x) => x.ref === state.selectedRef);
    if (h) {
      state.selectedHold = h;
      map.setHighlighted(h.seats);
    } else if (!state.paying) holdEnded(state.selectedHold);
  }
  renderHolds();
  // A full code typed in the search box selects its hold as soon as it shows up.
  const q = normRef(ui.search.value);
  if (q.length >= 6 && !state.selectedRef) {
    const exact = state.holds.find((h) => h.ref.toUpperCase() === q);
    if (exact) selectHold(exact.ref);
  }
}

/** The selected hold left the list: say why, in words a cashier can act on. */
function holdEnded(h) {
  if (!h) return;
  const booked = h.seats.every((id) => map.kindOf(map.seatIndex(id)) === KIND.BOOKED);
  const expired = Date.now() >= h.expires_at - 1500;
  showPayBoxEnded();
  if (booked) payError(`Hold ${h.ref} has already been paid and booked.`, 'ok');
  else if (expired) payError(`Hold ${h.ref} expired before payment. Its seats went back on sale — do not take payment for it. The buyer can choose seats again, or sell free seats here as a walk-up sale.`);
  else payError(`Hold ${h.ref} was released by the buyer. Do not take payment for it.`);
}

function normRef(text) {
  return String(text || '').toUpperCase().replace(/[^A-Z0-9]/g, '');
}

function renderHolds() {
  const q = normRef(ui.search.value);
  const shown = q ? state.holds.filter((h) => h.ref.toUpperCase().includes(q)) : state.holds;
  ui.holdsCount.textContent = String(state.holds.length);
  ui.holdsEmpty.hidden = shown.length > 0;
  ui.holdsEmpty.textContent = state.holds.length ? `No pending hold matches “${ui.search.value.trim()}”.` : 'No pending holds right now.';
  ui.holdsList.replaceChildren(...shown.map((h) => {
    const refNode = el('span', { class: 'hold-ref' });
    const up = h.ref.toUpperCase();
    const at = q ? up.indexOf(q) : -1;
    if (at >= 0) refNode.append(h.ref.slice(0, at), el('mark', { text: h.ref.slice(at, at + q.length) }), h.ref.slice(at + q.length));
    else refNode.textContent = h.ref;
    const left = el('span', { class: 'hold-left', dataset: { expires: String(h.expires_at) } });
    const btn = el('button', {
      type: 'button', class: 'hold-item', 'aria-pressed': String(h.ref === state.selectedRef), dataset: { ref: h.ref },
      'aria-label': `Hold ${h.ref.split('').join(' ')}, ${h.seats.length} seats, ${state.money(priceOf(h.seats))}`,
      onclick: () => selectHold(h.ref),
    }, refNode, el('span', { class: 'hold-seats', text: `${h.seats.length} × ${seatList(h.seats)}` }),
    el('span', { class: 'hold-price', text: state.money(priceOf(h.seats)) }), el('span'), left);
    return el('li', {}, btn);
  }));
  tickHolds();
}

ui.search.addEventListener('input', () => {
  renderHolds();
  const q = normRef(ui.search.value);
  const exact = q.length >= 6 && state.holds.find((h) => h.ref.toUpperCase() === q);
  if (exact) selectHold(exact.ref);
});
ui.search.addEventListener('keydown', (e) => {
  if (e.key !== 'Enter') return;
  e.preventDefault();
  const q = normRef(ui.search.value);
  const matches = state.holds.filter((h) => h.ref.toUpperCase().includes(q));
  if (matches.length === 1) selectHold(matches[0].ref);
  else if (!matches.length) toast(`No pending hold with code ${ui.search.value.trim()}. It may have expired or been paid.`, 'warn');
});

function newPaymentRef(prefix, ref) {
  const t = Date.now().toString(36).toUpperCase();
  const r = Math.random().toString(36).slice(2, 6).toUpperCase();
  return `${prefix}-${ref ? `${ref}-` : ''}${t}${r}`;
}

function selectHold(ref, fromMap = false) {
  const h = state.holds.find((x) => x.ref === ref);
  if (!h) return;
  state.selectedRef = ref;
  state.selectedHold = h;
  map.setHighlighted(h.seats);
  ui.payBox.hidden = false;
  ui.payError.hidden = true;
  ui.payForm.hidden = false;
  ui.payConfirm.disabled = false;
  ui.payRef.textContent = h.ref;
  ui.paySeats.replaceChildren(...seatItems(h.seats));
  ui.payTotal.textContent = state.money(priceOf(h.seats));
  setPayMethod(ui.payForm, payMethod(ui.payForm));
  for (const b of ui.holdsList.querySelectorAll('.hold-item')) b.setAttribute('aria-pressed', String(b.dataset.ref === ref));
  tick();
  if (fromMap) ui.holdsList.querySelector(`[data-ref="${CSS.escape(ref)}"]`)?.scrollIntoView({ block: 'nearest' });
  ui.payConfirm.scrollIntoView({ block: 'nearest' });
}

// ---------- best available ----------

// The best free seats, held for the customer at the counter (a hold of its own), then paid
// for like any hold: the pay box opens with them.
const best = new BestForm($('#best-box'), {
  max: 100, // the server's hold limit answers beyond it
  title: 'Best available',
  submitLabel: 'Find and hold',
  hint: 'Picks the best free seats and holds them for this customer; take the payment in the box above.',
  ask: async (req) => {
    if (!state.show) throw new Error('Choose a show first.');
    const showId = state.show.id;
    let data;
    try {
      ({ data } = await api('POST', `/api/shows/${encodeURIComponent(showId)}/best`, req));
    } catch (e) {
      staffError(e);
      throw e;
    }
    if (!state.show || state.show.id !== showId) throw new Error('The show was changed meanwhile.');
    for (const id of data.best.seats) map.setLetter(id, 'p');
    if (!state.holds.some((h) => h.ref === data.hold.ref)) setHolds([...state.holds, data.hold]);
    selectHold(data.hold.ref);
    map.reveal(map.seatIndex(data.best.seats[0]), 10);
    refreshSoon();
    return { seats: data.best.seats, together: data.best.together, names: `${seatList(data.best.seats)}, hold ${data.hold.ref}` };
  },
});

function clearSelectedHold() {
  state.selectedRef = null;
  state.selectedHold = null;
  map.setHighlighted([]);
  ui.payBox.hidden = true;
}

function showPayBoxEnded() {
  state.selectedRef = null;
  map.setHighlighted([]);
  ui.payForm.hidden = true;
  ui.payCountdown.hidden = true;
}

function payError(text, kind = 'bad') {
  ui.payError.className = `notice ${kind}`;
  ui.payError.textContent = text;
  ui.payError.hidden = false;
}

function payMethod(form) {
  return form.querySelector('input[type="radio"]:checked')?.value || 'cash';
}

/** Switches the reference field between a generated cash reference and a card receipt number. */
function setPayMethod(form, method) {
  const isPay = form === ui.payForm;
  const input = isPay ? ui.payReference : ui.walkupReference;
  const label = isPay ? ui.payReferenceLabel : ui.walkupReferenceLabel;
  const key = isPay ? state.selectedRef : '';
  if (method === 'card') {
    label.textContent = 'Card terminal receipt number';
    if (/^CASH-/.test(input.value)) input.value = '';
    input.placeholder = 'e.g. 004512';
    if (isPay) ui.payReferenceHint.textContent = 'Type the number printed on the terminal receipt.';
  } else {
    label.textContent = 'Payment reference';
    input.placeholder = '';
    const kept = isPay ? state.payRefs.get(key) : state.walkupRef;
    if (kept && /^CASH-/.test(kept)) input.value = kept;
    else if (!/^CASH-/.test(input.value)) input.value = newPaymentRef('CASH', key);
    if (isPay) ui.payReferenceHint.textContent = 'Generated for this cash payment; keep it on the receipt.';
  }
}

for (const form of [ui.payForm, ui.walkupForm]) {
  form.addEventListener('change', (e) => {
    if (e.target.type === 'radio') setPayMethod(form, e.target.value);
  });
}

/** The payment reference to send; card numbers get a CARD- prefix so they can't clash with cash ones. */
function paymentRef(form, input) {
  const v = input.value.trim();
  if (!v) return '';
  if (payMethod(form) === 'card' && !/^CARD-/i.test(v)) return `CARD-${v}`;
  return v;
}

ui.payForm.addEventListener('submit', async (ev) => {
  ev.preventDefault();
  if (state.paying) return; // a double click sends one request
  const h = state.selectedHold;
  if (!h || !state.selectedRef || !state.show) return;
  const ref = paymentRef(ui.payForm, ui.payReference);
  if (!ref) {
    payError(payMethod(ui.payForm) === 'card' ? 'Type the card terminal’s receipt number first.' : 'Enter a payment reference.');
    ui.payReference.focus();
    return;
  }
  state.payRefs.set(h.ref, ui.payReference.value.trim());
  state.paying = true;
  ui.payConfirm.disabled = true;
  ui.payConfirm.textContent = 'Confirming…';
  ui.payError.hidden = true;
  const showId = state.show.id;
  try {
    const { data } = await api('POST', `/api/shows/${encodeURIComponent(showId)}/bookings`, { hold: h.ref, payment_ref: ref });
    const b = (data && data.booking) || data || {};
    if (Array.isArray(b.seats) && !sameSet(b.seats, h.seats)) {
      payError(`This payment reference was already used for booking ${b.id} (${seatList(b.seats)}). Use the reference of this payment.`);
      return;
    }
    state.payRefs.delete(h.ref);
    clearSelectedHold();
    ui.search.value = '';
    toast(`Paid: booking ${b.id ?? ''} for ${seatList(h.seats)} (${state.money(priceOf(h.seats))}).`, 'ok');
    for (const id of h.seats) map.setLetter(id, 'b');
    state.holds = state.holds.filter((x) => x.ref !== h.ref);
    renderHolds();
    await refreshBookings();
    if (b.id !== undefined) flashBooking(b.id);
  } catch (e) {
    if (e.code === 'hold_expired' || e.code === 'not_found') {
      showPayBoxEnded();
      payError(`Hold ${h.ref} expired before payment was confirmed. Its seats went back on sale — do not take payment (refund it if you already did). The buyer can choose seats again, or sell free seats as a walk-up sale.`);
      refreshHolds();
    } else if (e.status === 401) {
      authLost();
      payError('Your session expired, so the payment was NOT confirmed. Sign in again, then press Confirm payment again.');
    } else if (e.status === 503 && e.code === 'unavailable') {
      payError('The seat store is temporarily unavailable, so the payment is NOT confirmed yet. Try again in a moment — pressing Confirm payment again will not book twice.');
    } else if (e.status === 0 || e.status >= 500) {
      payError('The server did not answer, so the payment is NOT confirmed yet. Press Confirm payment again — it will not book twice.');
    } else {
      payError(e.message || 'The payment could not be confirmed.');
    }
  } finally {
    state.paying = false;
    ui.payConfirm.disabled = false;
    ui.payConfirm.textContent = 'Confirm payment';
  }
});

function sameSet(a, b) {
  if (a.length !== b.length) return false;
  const s = new Set(a);
  return b.every((x) => s.has(x));
}

// ---------- walk-up sale ----------

function renderWalkup() {
  const ids = [...state.walkup];
  ui.walkupBox.hidden = ids.length === 0;
  ui.walkupHint.hidden = ids.length > 0;
  if (!ids.length) return;
  ui.walkupSeats.replaceChildren(...seatItems(ids));
  const total = priceOf(ids);
  ui.walkupTotal.textContent = state.money(total);
  ui.walkupSell.textContent = `Sell ${ids.length} seat${ids.length === 1 ? '' : 's'} · ${state.money(total)}`;
  if (!ui.walkupReference.value) setPayMethod(ui.walkupForm, payMethod(ui.walkupForm));
}

function clearWalkup() {
  state.walkup.clear();
  state.walkupRef = '';
  ui.walkupReference.value = '';
  ui.walkupError.hidden = true;
  map.setSelected([]);
  renderWalkup();
}

function walkupError(text, kind = 'bad') {
  ui.walkupError.className = `notice ${kind}`;
  ui.walkupError.textContent = text;
  ui.walkupError.hidden = false;
}

ui.walkupClear.addEventListener('click', clearWalkup);

ui.walkupForm.addEventListener('submit', async (ev) => {
  ev.preventDefault();
  if (state.selling || !state.show) return;
  const seats = [...state.walkup];
  if (!seats.length) return;
  const ref = paymentRef(ui.walkupForm, ui.walkupReference);
  if (!ref) {
    walkupError(payMethod(ui.walkupForm) === 'card' ? 'Type the card terminal’s receipt number first.' : 'Enter a payment reference.');
    ui.walkupReference.focus();
    return;
  }
  state.walkupRef = ui.walkupReference.value.trim();
  state.selling = true;
  ui.walkupSell.disabled = true;
  ui.walkupError.hidden = true;
  try {
    const { data } = await api('POST', `/api/shows/${encodeURIComponent(state.show.id)}/bookings`, { seats, payment_ref: ref });
    const b = (data && data.booking) || data || {};
    if (Array.isArray(b.seats) && !sameSet(b.seats, seats)) {
      walkupError(`This payment reference was already used for booking ${b.id} (${seatList(b.seats)}). Use the reference of this payment.`);
      return;
    }
    toast(`Sold: booking ${b.id ?? ''} for ${seatList(seats)} (${state.money(priceOf(seats))}).`, 'ok');
    for (const id of seats) map.setLetter(id, 'b');
    clearWalkup();
    await refreshBookings();
    if (b.id !== undefined) flashBooking(b.id);
  } catch (e) {
    if (e.code === 'seat_unavailable') {
      const gone = (e.body && Array.isArray(e.body.seats) ? e.body.seats : []).filter((id) => state.walkup.has(id));
      gone.forEach((id) => state.walkup.delete(id));
      map.setSelected([...state.walkup]);
      state.walkupRef = '';
      ui.walkupReference.value = '';
      renderWalkup();
      walkupError(gone.length
        ? `${seatList(gone)} ${gone.length === 1 ? 'was' : 'were'} just taken by someone else and left the selection. Nothing was sold; check the seats and sell again.`
        : 'Some of these seats were just taken by someone else. Nothing was sold; check the map and try again.');
    } else if (e.status === 401) {
      authLost();
      walkupError('Your session expired, so nothing was sold. Sign in again, then sell again.');
    } else if (e.status === 503 && e.code === 'unavailable') {
      walkupError('The seat store is temporarily unavailable, so the sale is NOT confirmed yet. Try again in a moment — pressing Sell again will not sell twice.');
    } else if (e.status === 0 || e.status >= 500) {
      walkupError('The server did not answer, so the sale is NOT confirmed yet. Press Sell again — it will not sell twice.');
    } else walkupError(e.message || 'The sale failed.');
  } finally {
    state.selling = false;
    ui.walkupSell.disabled = false;
    renderWalkup();
  }
});

// ---------- countdowns ----------

function tickHolds() {
  const now = Date.now();
  for (const node of ui.holdsList.querySelectorAll('.hold-left')) {
    const left = Number(node.dataset.expires) - now;
    node.textContent = left > 0 ? formatDuration(left) : 'expired';
    node.className = `hold-left${left <= 0 ? ' expired' : left <= 60000 ? ' urgent' : ''}`;
  }
}

function tick() {
  tickHolds();
  const h = state.selectedHold;
  if (!h || !state.selectedRef) return;
  const left = h.expires_at - Date.now();
  ui.payCountdown.hidden = false;
  if (left <= 0) {
    ui.payCountdown.className = 'countdown expired';
    ui.payCountdownLabel.textContent = 'This hold has expired';
    ui.payCountdownTime.textContent = '';
  } else {
    ui.payCountdown.className = `countdown${left <= 60000 ? ' urgent' : ''}`;
    ui.payCountdownLabel.textContent = 'Expires in';
    ui.payCountdownTime.textContent = formatDuration(left);
  }
}

// ---------- bookings ----------

function isCancelled(b) {
  return !!(b.cancelled || b.cancelled_at || b.status === 'cancelled');
}

let bookingsInFlight = false;
async function refreshBookings() {
  if (!state.show || state.authLost || bookingsInFlight) return;
  const showId = state.show.id;
  bookingsInFlight = true;
  try {
    const { data } = await api('GET', `/api/shows/${encodeURIComponent(showId)}/bookings`);
    if (!state.show || state.show.id !== showId) return;
    state.bookings = listOf(data, 'bookings');
    renderBookings();
  } catch (e) {
    staffError(e);
  } finally {
    bookingsInFlight = false;
  }
}

function bookingTime(b) {
  const t = typeof b.created_at === 'number' ? b.created_at : Date.parse(b.created_at);
  return Number.isFinite(t) ? t : 0;
}

function sortedBookings() {
  return state.bookings.slice().sort((a, b) => bookingTime(b) - bookingTime(a) || naturalCompare(b.id, a.id));
}

function bookingAmount(b) {
  if (Number.isFinite(b.amount)) return b.amount;
  if (Number.isFinite(b.total)) return b.total;
  return priceOf(b.seats || []);
}

function renderBookings() {
  const list = sortedBookings();
  ui.bookingsEmpty.hidden = list.length > 0;
  const live = list.filter((b) => !isCancelled(b));
  const seats = live.reduce((n, b) => n + (b.seats || []).length, 0);
  const revenue = live.reduce((n, b) => n + bookingAmount(b), 0);
  ui.bookingsSummary.textContent = list.length ? `${live.length} bookings · ${seats} seats · ${state.money(revenue)} ` : '';
  ui.bookingsBody.replaceChildren(...list.map((b) => {
    const cancelled = isCancelled(b);
    const action = cancelled
      ? el('span', { class: 'tag bad', text: 'Cancelled' })
      : el('button', { type: 'button', class: 'small danger', text: 'Cancel…', 'aria-label': `Cancel booking ${b.id}`, onclick: () => askCancel(b) });
    return el('tr', { class: cancelled ? 'cancelled' : '', dataset: { booking: String(b.id) } },
      el('td', { text: String(b.id) }),
      el('td', { text: seatList(b.seats || []) }),
      el('td', { class: 'num', text: state.money(bookingAmount(b)) }),
      el('td', { text: b.payment_ref || '' }),
      el('td', { text: formatWhen(b.created_at) }),
      el('td', { text: b.by || '' }),
      el('td', { class: 'actions' }, action));
  }));
}

function flashBooking(id) {
  const row = ui.bookingsBody.querySelector(`tr[data-booking="${CSS.escape(String(id))}"]`);
  if (!row) return;
  row.classList.add('flash');
  row.scrollIntoView({ block: 'nearest' });
  setTimeout(() => row.classList.remove('flash'), 2500);
}

function askCancel(b) {
  state.cancelling = b;
  ui.cancelText.textContent = `Booking ${b.id}: ${seatList(b.seats || [])}, ${state.money(bookingAmount(b))}, paid with ${b.payment_ref || 'no reference'}.`;
  ui.cancelDialog.returnValue = '';
  ui.cancelDialog.showModal();
}

ui.cancelDialog.addEventListener('close', async () => {
  const b = state.cancelling;
  state.cancelling = null;
  if (!b || ui.cancelDialog.returnValue !== 'cancel' || !state.show) return;
  try {
    await api('DELETE', `/api/shows/${encodeURIComponent(state.show.id)}/bookings/${encodeURIComponent(b.id)}`);
    toast(`Booking ${b.id} cancelled; ${seatList(b.seats || [])} back on sale.`, 'ok');
  } catch (e) {
    if (e.code === 'already_cancelled') toast(`Booking ${b.id} was already cancelled.`, 'warn');
    else if (e.code === 'not_found') toast(`Booking ${b.id} no longer exists.`, 'warn');
    else if (!staffError(e)) toast(`Could not cancel booking ${b.id}: ${e.message}`, 'bad');
  }
  refreshBookings();
});

// ---------- CSV export ----------

function csvCell(value) {
  let s = value === undefined || value === null ? '' : String(value);
  if (/^[=+\-@\t\r]/.test(s)) s = `'${s}`; // never let a spreadsheet run a formula
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

ui.exportCsv.addEventListener('click', async () => {
  if (!state.show) return;
  await refreshBookings();
  const cur = state.show.currency || 'EUR';
  const rows = [['booking_id', 'show', 'seats', 'seat_count', `amount_${cur}`, 'payment_ref', 'created_at', 'by', 'status']];
  for (const b of sortedBookings()) {
    rows.push([b.id, b.show || state.show.id, (b.seats || []).join(' '), (b.seats || []).length,
      (bookingAmount(b) / 100).toFixed(2), b.payment_ref || '',
      typeof b.created_at === 'number' ? new Date(b.created_at).toISOString() : b.created_at || '', b.by || '',
      isCancelled(b) ? 'cancelled' : 'booked']);
  }
  const text = `${rows.map((r) => r.map(csvCell).join(',')).join('\r\n')}\r\n`;
  const url = URL.createObjectURL(new Blob([text], { type: 'text/csv;charset=utf-8' }));
  const a = el('a', { href: url, download: `bookings-${state.show.id}.csv` });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
});

checkSession();
