// The seat map page (/): choose a show, hold and release seats on the live map, see the hold
// (ref, seats, total, countdown) and what happened to it (expired, booked, cancelled).
// Seat state comes only from the server (snapshot + deltas over the WebSocket); this page
// never decides that a seat is free, it only asks.

import { api, listOf } from './api.js';
import { BestForm } from './best.js';
import { LiveConnection } from './live.js';
import { Legend } from './legend.js';
import { KIND, SeatMap } from './seatmap.js';
import { $, debounce, el, formatDuration, formatWhen, moneyFormatter, naturalCompare, renderConnection, toast } from './util.js';

const TOKEN_KEY = 'seatmap.buyer';
const SKEW_IGNORE_MS = 1500;

const ui = {
  conn: $('#conn'),
  banner: $('#banner'),
  title: $('#show-title'),
  picker: $('#picker'),
  showList: $('#show-list'),
  view: $('#show-view'),
  select: $('#show-select'),
  mapHost: $('#map'),
  legend: $('#legend'),
  summary: $('#avail-summary'),
  notice: $('#notice'),
  holdNone: $('#hold-none'),
  holdBox: $('#hold-box'),
  holdCount: $('#hold-count'),
  ref: $('#hold-ref'),
  countdown: $('#countdown'),
  countdownLabel: $('#countdown-label'),
  countdownTime: $('#countdown-time'),
  seats: $('#hold-seats'),
  total: $('#hold-total'),
  releaseAll: $('#release-all'),
  maxSeats: $('#max-seats'),
};

const srStatus = el('div', { class: 'visually-hidden', role: 'status', 'aria-live': 'polite' });
document.body.append(srStatus);

const state = {
  shows: [],
  show: null, // layout of the open show
  money: moneyFormatter('EUR'),
  hold: null,
  skewMs: 0, // server clock minus ours, when it is clearly off
  busy: new Set(),
  warnedMinute: false,
  offlineSince: 0,
  snapshotSeen: false,
};

const map = new SeatMap(ui.mapHost, {
  money: (c) => state.money(c),
  onActivate: (i) => onSeat(i),
});
let legend = null;

const best = new BestForm($('#best-box'), {
  max: 10,
  submitLabel: 'Find best seats',
  hint: 'How many seats do you need? We pick the best ones left and hold them for you.',
  ask: (req) => askBest(req),
});

const live = new LiveConnection({
  tokenKey: TOKEN_KEY,
  onStatus: (s, detail) => onStatus(s, detail),
  onHello: (reply) => {
    if (reply.limits && reply.limits.max_seats) {
      ui.maxSeats.textContent = String(reply.limits.max_seats);
      best.setMax(reply.limits.max_seats);
    }
  },
  onSnapshot: (msg) => onSnapshot(msg),
  // A resumed watch: the seats on screen are still right; the hold comes with the reply.
  onResume: (reply) => applyHold(reply.hold, 'snapshot'),
  onDelta: (msg) => {
    map.applyChanges(msg.seats || []);
    refreshCounts();
  },
  onHold: (msg) => {
    if (state.show && msg.show === state.show.id) applyHold(msg.hold, msg.reason || 'held');
  },
  onWatchError: (err) => {
    if (err.code === 'unknown_show') showBanner('This show is no longer on sale.');
  },
});

// ---------- connection ----------

function onStatus(s, detail) {
  renderConnection(ui.conn, s, detail);
  if (s === 'live') {
    state.offlineSince = 0;
    hideBanner();
  } else if (!state.offlineSince) state.offlineSince = Date.now();
  else if (Date.now() - state.offlineSince > 4000) {
    showBanner('We can’t reach the ticket server right now. We keep trying; seats you hold stay held until the timer runs out.');
  }
}

function showBanner(text) {
  ui.banner.textContent = text;
  ui.banner.hidden = false;
}

function hideBanner() {
  ui.banner.hidden = true;
}

// ---------- shows ----------

async function loadShows(attempt = 0) {
  try {
    const { data } = await api('GET', '/api/shows');
    state.shows = listOf(data, 'shows');
    hideBanner();
  } catch (e) {
    showBanner('The ticket server is unavailable right now. Retrying…');
    setTimeout(() => loadShows(attempt + 1), Math.min(10000, 1000 * 2 ** attempt));
    return;
  }
  renderShowList();
  const wanted = new URLSearchParams(location.search).get('show');
  if (wanted) openShow(wanted);
  else showPicker();
}

function renderShowList() {
  ui.showList.replaceChildren();
  if (!state.shows.length) {
    ui.showList.append(el('li', { class: 'empty-note', text: 'No shows are on sale at the moment.' }));
  }
  for (const s of state.shows) {
    const btn = el('button', { type: 'button', class: 'show-card', dataset: { show: s.id }, onclick: () => openShow(s.id) },
      el('span', { class: 'show-name', text: s.name || s.id }),
      s.starts_at ? el('span', { class: 'show-when', text: formatWhen(s.starts_at, true) }) : null,
      el('span', { class: 'show-meta', text: [s.venue, s.capacity ? `${Number(s.capacity).toLocaleString()} seats` : ''].filter(Boolean).join(' · ') }));
    ui.showList.append(el('li', {}, btn));
  }
  ui.select.replaceChildren(...state.shows.map((s) => el('option', { value: s.id, text: `${s.name || s.id}${s.starts_at ? ` — ${formatWhen(s.starts_at)}` : ''}` })));
}

function showPicker() {
  state.show = null;
  ui.view.hidden = true;
  ui.picker.hidden = false;
  ui.title.replaceChildren();
  document.title = 'Choose a show · Seatmap';
  history.replaceState(null, '', location.pathname);
}

async function openShow(id) {
  ui.picker.hidden = true;
  ui.view.hidden = false;
  let data;
  try {
    ({ data } = await api('GET', `/api/shows/${encodeURIComponent(id)}`));
  } catch (e) {
    if (e.status === 404) {
      toast('That show could not be found. Please choose another one.', 'warn');
      showPicker();
    } else {
      showBanner('The ticket server is unavailable right now. Retrying…');
      setTimeout(() => openShow(id), 3000);
    }
    return;
  }
  state.show = data;
  state.money = moneyFormatter(data.currency);
  state.hold = null;
  state.snapshotSeen = false;
  clearNotice();
  map.setLayout(data);
  best.setCategories(data.categories || [], state.money);
  map.loading.textContent = 'Loading seat availability…';
  map.loading.hidden = false;
  legend = new Legend(ui.legend, map, state.money, [
    [KIND.MINE, 'Held by you'],
    [KIND.PENDING, 'Held by someone else'],
    [KIND.BOOKED, 'Booked'],
  ]);
  legend.render();
  ui.title.replaceChildren(el('strong', { text: data.name || data.id }),
    el('span', { text: [formatWhen(data.starts_at, true), data.venue].filter(Boolean).join(' · ') }));
  document.title = `${data.name || data.id} · Choose your seats`;
  if (![...ui.select.options].some((o) => o.value === data.id)) {
    ui.select.append(el('option', { value: data.id, text: data.name || data.id }));
  }
  ui.select.value = data.id;
  history.replaceState(null, '', `${location.pathname}?show=${encodeURIComponent(data.id)}`);
  renderHold();
  live.watch(data.id);
}

ui.select.addEventListener('change', () => {
  if (ui.select.value && (!state.show || ui.select.value !== state.show.id)) openShow(ui.select.value);
});

// ---------- live state ----------

function onSnapshot(msg) {
  map.setStates(msg.seats || '');
  map.loading.hidden = true;
  state.snapshotSeen = true;
  applyHold(msg.hold, 'snapshot');
  refreshCounts();
}

const refreshCounts = debounce(() => {
  if (!legend || !state.show) return;
  const c = legend.update();
  const free = c.empty.reduce((a, b) => a + b, 0);
  ui.summary.textContent = `${free.toLocaleString()} of ${map.n.toLocaleString()} seats available`;
}, 200);

/** Takes the hold the server says we have now, and why it changed. */
function applyHold(hold, reason) {
  const prev = state.hold;
  const next = hold && Array.isArray(hold.seats) && hold.seats.length ? hold : null;
  state.hold = next;
  map.setMine(next ? next.seats : []);
  if (!next) map.setHighlighted([]);
  if (next) {
    if (!prev || prev.ref !== next.ref) state.warnedMinute = false;
    if (ui.notice.dataset.kind === 'expired' || ui.notice.dataset.kind === 'cancelled') clearNotice();
  } else if (prev) {
    let why = reason;
    if (reason === 'snapshot') {
      // We were away (reconnect or reload): work out what happened from the seats.
      const allBooked = prev.seats.every((id) => map.kindOf(map.seatIndex(id)) === KIND.BOOKED);
      if (allBooked) why = 'booked';
      else if (Date.now() + state.skewMs >= prev.expires_at - 1000) why = 'expired';
      else why = 'gone';
    }
    const names = seatNames(prev.seats);
    if (why === 'booked') {
      setNotice('ok', 'booked', 'Paid — your seats are booked', `Enjoy the show! Your seats: ${names}. Booking for hold ${prev.ref}.`);
      srStatus.textContent = 'Payment confirmed: your seats are booked.';
    } else if (why === 'expired') {
      setNotice('bad', 'expired', 'Your hold has expired', `Time ran out before payment, so ${names} went back on sale. You can choose seats again.`);
    } else if (why === 'cancelled') {
      setNotice('warn', 'cancelled', 'Your hold was cancelled', `The box office cancelled hold ${prev.ref}. You can choose seats again.`);
    } else if (why === 'gone') {
      setNotice('warn', 'cancelled', 'Your hold is no longer active', 'Your seats were released. You can choose seats again.');
    }
  }
  renderHold();
}

function seatNames(ids) {
  return ids
    .map((id) => map.seatIndex(id))
    .filter((i) => i >= 0)
    .sort((a, b) => a - b)
    .map((i) => {
      const s = map.seat(i);
      return `${map.sectionNames.get(s.section) || s.section} ${s.row}${s.number}`;
    })
    .join(', ');
}

// ---------- the hold panel ----------

function setNotice(kind, tag, title, text) {
  ui.notice.className = `notice ${kind}`;
  ui.notice.dataset.kind = tag;
  ui.notice.replaceChildren(el('strong', { text: title }), text);
  ui.notice.hidden = false;
}

function clearNotice() {
  ui.notice.hidden = true;
  ui.notice.dataset.kind = '';
}

function renderHold() {
  const h = state.hold;
  ui.holdNone.hidden = !!h;
  ui.holdBox.hidden = !h;
  ui.holdCount.hidden = !h;
  if (!h) {
    ui.seats.replaceChildren();
    return;
  }
  ui.holdCount.textContent = String(h.seats.length);
  ui.ref.textContent = h.ref;
  const idx = h.seats.map((id) => map.seatIndex(id)).filter((i) => i >= 0);
  idx.sort((a, b) => naturalCompare(map.seat(a).id, map.seat(b).id));
  let total = 0;
  ui.seats.replaceChildren(...idx.map((i) => {
    const s = map.seat(i);
    const cat = map.category(i);
    total += Number(cat.price) || 0;
    const name = `${map.sectionNames.get(s.section) || s.section}, row ${s.row}, seat ${s.number}`;
    return el('li', { dataset: { seat: s.id } },
      el('span', {}, el('span', { class: 'seat-name', text: `Row ${s.row}, seat ${s.number}` }),
        el('span', { class: 'seat-cat', text: `${map.sectionNames.get(s.section) || s.section} · ${cat.name}` })),
      el('span', {}, state.money(cat.price), ' ',
        el('button', { type: 'button', class: 'small', 'aria-label': `Release ${name}`, title: 'Release this seat', text: '×',
          onclick: () => releaseSeats([s.id]) })));
  }));
  ui.total.textContent = state.money(total);
  tick();
}

function tick() {
  const h = state.hold;
  if (!h) return;
  const left = h.expires_at - (Date.now() + state.skewMs);
  const cd = ui.countdown;
  if (left <= 0) {
    cd.className = 'countdown expired';
    ui.countdownLabel.textContent = 'Your hold has expired';
    ui.countdownTime.textContent = '';
    ui.ref.parentElement.classList.add('is-expired');
    return;
  }
  cd.className = left <= 60000 ? 'countdown urgent' : 'countdown';
  ui.countdownLabel.textContent = left <= 60000 ? 'Hurry — seats held for' : 'Seats held for';
  ui.countdownTime.textContent = formatDuration(left);
  if (left <= 60000 && !state.warnedMinute && live.limits.hold_ttl_ms > 90000) {
    state.warnedMinute = true;
    srStatus.textContent = 'One minute left on your hold.';
  }
}
setInterval(tick, 250);

// ---------- actions ----------

function onSeat(i) {
  if (!state.show || !state.snapshotSeen) return;
  const s = map.seat(i);
  if (state.busy.has(s.id)) return;
  const kind = map.kindOf(i);
  if (kind === KIND.BOOKED) toast('That seat is already sold. Please choose another one.', 'warn');
  else if (kind === KIND.PENDING) toast('Someone else is holding that seat right now. It may come free again in a few minutes.', 'warn');
  else if (kind === KIND.MINE) releaseSeats([s.id]);
  else holdSeats([s.id]);
}

async function holdSeats(ids) {
  const showId = state.show.id;
  ids.forEach((id) => state.busy.add(id));
  try {
    const r = await live.request({ type: 'hold', show: showId, seats: ids });
    if (!state.show || state.show.id !== showId) return;
    const fresh = !state.hold;
    for (const id of ids) map.setLetter(id, 'p');
    if (r.hold) {
      if (fresh && live.limits.hold_ttl_ms) {
        const skew = r.hold.expires_at - live.limits.hold_ttl_ms - Date.now();
        state.skewMs = Math.abs(skew) > SKEW_IGNORE_MS ? skew : 0;
      }
    }
    if (ui.notice.dataset.kind === 'booked' || ui.notice.dataset.kind === 'expired') clearNotice();
    applyHold(r.hold, 'held');
    srStatus.textContent = `Held ${ids.map((id) => map.seatName(map.seatIndex(id))).join(', ')}. ${state.hold ? `${state.hold.seats.length} seats held.` : ''}`;
  } catch (e) {
    explain(e);
  } finally {
    ids.forEach((id) => state.busy.delete(id));
  }
}

async function releaseSeats(ids) {
  if (!state.show) return;
  const showId = state.show.id;
  ids.forEach((id) => state.busy.add(id));
  try {
    const r = await live.request({ type: 'release', show: showId, seats: ids });
    if (!state.show || state.show.id !== showId) return;
    for (const id of ids) map.setLetter(id, 'e');
    applyHold(r.hold, 'released');
    srStatus.textContent = `Released ${ids.map((id) => map.seatName(map.seatIndex(id))).join(', ')}.`;
  } catch (e) {
    if (e.code === 'not_held') live.sendWatch(); // our view was stale: refresh it
    explain(e);
  } finally {
    ids.forEach((id) => state.busy.delete(id));
  }
}

/** Best available: the server picks and holds; we show what it got. */
async function askBest(req) {
  if (!state.show || !state.snapshotSeen) {
    const e = new Error('The seat map is still loading. Please try again in a moment.');
    e.code = 'loading';
    throw e;
  }
  const showId = state.show.id;
  const fresh = !state.hold;
  const r = await live.request({ type: 'best', show: showId, ...req });
  if (!state.show || state.show.id !== showId) throw new Error('You changed the show meanwhile.');
  for (const id of r.best.seats) map.setLetter(id, 'p');
  if (fresh && r.hold && live.limits.hold_ttl_ms) {
    const skew = r.hold.expires_at - live.limits.hold_ttl_ms - Date.now();
    state.skewMs = Math.abs(skew) > SKEW_IGNORE_MS ? skew : 0;
  }
  if (ui.notice.dataset.kind === 'booked' || ui.notice.dataset.kind === 'expired') clearNotice();
  applyHold(r.hold, 'held');
  map.setHighlighted(r.best.seats);
  map.reveal(map.seatIndex(r.best.seats[0]), 10);
  return { seats: r.best.seats, together: r.best.together, names: seatNames(r.best.seats) };
}

ui.releaseAll.addEventListener('click', () => {
  if (state.hold) releaseSeats(state.hold.seats.slice());
});

/** Tells the buyer, in plain words, why a request failed. */
function explain(e) {
  const max = live.limits.max_seats || 10;
  const words = {
    seat_unavailable: ['Sorry — that seat was just taken by someone else. Please choose another one.', 'warn'],
    hold_limit: [`You can hold at most ${max} seats at a time. Release a seat to choose another.`, 'warn'],
    unavailable: ['Booking is temporarily unavailable. Please try again in a moment.', 'bad'],
    rate_limited: ['Too many clicks at once — please wait a second and try again.', 'warn'],
    offline: ['We’re not connected to the ticket server right now. Reconnecting — please try again in a moment.', 'bad'],
    disconnected: ['The connection to the ticket server dropped. Reconnecting — please try again in a moment.', 'bad'],
    timeout: ['The ticket server is not answering. Please try again in a moment.', 'bad'],
    not_held: ['That seat is no longer held for you.', 'warn'],
    unknown_seat: ['This seat map is out of date. Please reload the page.', 'bad'],
    unknown_show: ['This show is no longer on sale.', 'bad'],
  }[e.code] || ['Something went wrong. Please try again.', 'bad'];
  toast(words[0], words[1]);
}

live.start();
loadShows();
