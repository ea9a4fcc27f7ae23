// Small helpers shared by both pages: DOM building without innerHTML, money and time
// formatting, toasts. Nothing here talks to the server.

/**
 * Creates an element. attrs: plain attributes, plus `class`, `text`, `on<Event>` handlers and
 * `dataset`. Never sets a style attribute (the CSP forbids inline styles).
 */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === 'class') node.className = value;
    else if (key === 'text') node.textContent = value;
    else if (key === 'dataset') Object.assign(node.dataset, value);
    else if (key.startsWith('on') && typeof value === 'function') node.addEventListener(key.slice(2), value);
    else if (value === true) node.setAttribute(key, '');
    else node.setAttribute(key, String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

export const $ = (sel, root = document) => root.querySelector(sel);

/** Returns a function cents -> "€45.00" in the venue currency and the browser's locale. */
export function moneyFormatter(currency) {
  let fmt;
  try {
    fmt = new Intl.NumberFormat(undefined, { style: 'currency', currency: currency || 'EUR' });
  } catch {
    fmt = new Intl.NumberFormat(undefined, { style: 'currency', currency: 'EUR' });
  }
  return (cents) => fmt.format((Number(cents) || 0) / 100);
}

/** "9:05" or "1:02:09" for a duration in ms; 0 and below give "0:00". */
export function formatDuration(ms) {
  const total = Math.max(0, Math.ceil(ms / 1000));
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  const ss = String(s).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${ss}` : `${m}:${ss}`;
}

/** Formats an ISO 8601 string or unix ms for people; returns '' for nothing. */
export function formatWhen(value, withYear = false) {
  if (value === undefined || value === null || value === '') return '';
  const d = typeof value === 'number' ? new Date(value) : new Date(String(value));
  if (Number.isNaN(d.getTime())) return String(value);
  return d.toLocaleString(undefined, {
    weekday: 'short', day: 'numeric', month: 'short', year: withYear ? 'numeric' : undefined,
    hour: '2-digit', minute: '2-digit',
  });
}

/** Sorts seat ids the way people read them (A-2 before A-10). */
export function naturalCompare(a, b) {
  return String(a).localeCompare(String(b), undefined, { numeric: true, sensitivity: 'base' });
}

/**
 * Shows a short message at the bottom of the screen (role=alert so screen readers read it).
 * kind: 'bad' | 'warn' | 'ok' | 'info'. Returns a function that removes it.
 */
export function toast(message, kind = 'info', ms = 6000) {
  let region = document.getElementById('toasts');
  if (!region) {
    region = el('div', { id: 'toasts', class: 'toast-region' });
    document.body.append(region);
  }
  // The same message twice in a row replaces the first rather than stacking.
  for (const old of region.querySelectorAll('.toast')) {
    if (old.dataset.msg === message) old.remove();
  }
  while (region.children.length >= 3) region.firstElementChild.remove();
  const close = el('button', { type: 'button', 'aria-label': 'Dismiss message', text: '×' });
  const node = el('div', { class: `toast ${kind}`, role: kind === 'bad' || kind === 'warn' ? 'alert' : 'status',
    dataset: { msg: message } }, el('div', { class: 'toast-text', text: message }), close);
  const remove = () => node.remove();
  close.addEventListener('click', remove);
  region.append(node);
  if (ms > 0) setTimeout(remove, ms);
  return remove;
}

/** Debounces fn: it runs once, `ms` after the last call. */
export function debounce(fn, ms) {
  let timer = null;
  return (...args) => {
    clearTimeout(timer);
    timer = setTimeout(() => fn(...args), ms);
  };
}

/** Renders the connection pill: state is 'connecting' | 'live' | 'reconnecting' | 'offline'. */
export function renderConnection(pill, state, detail) {
  if (!pill) return;
  pill.dataset.state = state;
  const text = pill.querySelector('.conn-text');
  let words;
  if (state === 'live') words = 'Live';
  else if (state === 'connecting') words = 'Connecting…';
  else if (state === 'reconnecting') {
    const secs = detail && detail.inMs ? Math.max(1, Math.round(detail.inMs / 1000)) : 0;
    words = secs ? `Connection lost · retrying in ${secs} s` : 'Reconnecting…';
  } else words = 'Offline';
  if (text) text.textContent = words;
  pill.title = state === 'live' ? 'Seat changes appear here as they happen' : 'Trying to reach the server';
}
