// "Best available": the small form both pages show next to the map (how many seats, which
// category, how many wheelchair spaces, together or not). It only collects the request and
// shows the server's answer in words; the page sends it (the buyer over the WebSocket, the box
// office over HTTP) and marks the seats on the map. docs/best-available.md says how the server
// picks.

import { el } from './util.js';

let serial = 0;

/** "there are no 4 seats together" -> "There are no 4 seats together." */
function sentence(text) {
  const t = String(text || '').trim();
  if (!t) return '';
  return `${t.charAt(0).toUpperCase()}${t.slice(1)}${/[.!?]$/.test(t) ? '' : '.'}`;
}

export class BestForm {
  /**
   * host: the element to fill. opts: { title, submitLabel, max (seats), ask(req) -> Promise of
   * {seats, together}, which throws an error with .code, .message and .reply on failure }.
   */
  constructor(host, opts) {
    this.opts = opts;
    this.busy = false;
    const id = `best-${++serial}`;
    this.count = el('input', { type: 'number', id: `${id}-count`, min: '1', max: String(opts.max || 10), value: '2', inputmode: 'numeric', required: true });
    this.category = el('select', { id: `${id}-category` });
    this.accessible = el('input', { type: 'number', id: `${id}-accessible`, min: '0', max: '10', value: '0', inputmode: 'numeric' });
    this.together = el('input', { type: 'checkbox', id: `${id}-together`, checked: true });
    this.submit = el('button', { type: 'submit', class: 'primary', text: opts.submitLabel || 'Find best seats' });
    this.message = el('div', { class: 'notice', role: 'status', 'aria-live': 'polite', hidden: true, id: `${id}-message` });
    this.form = el('form', { class: 'best-form', novalidate: true, 'aria-labelledby': `${id}-title`, onsubmit: (e) => { e.preventDefault(); this.run(); } },
      el('h2', { id: `${id}-title`, class: 'best-title', text: opts.title || 'Best available' }),
      el('p', { class: 'hint', text: opts.hint || 'Tell us how many seats you need; we pick the best ones left and hold them for you.' }),
      el('div', { class: 'field-row' },
        el('div', { class: 'field' }, el('label', { for: this.count.id, text: 'Seats' }), this.count),
        el('div', { class: 'field' }, el('label', { for: this.category.id, text: 'Category' }), this.category)),
      el('div', { class: 'field-row' },
        el('div', { class: 'field' }, el('label', { for: this.accessible.id, text: 'Wheelchair spaces' }), this.accessible),
        el('div', { class: 'field best-together' }, el('label', {}, this.together, ' Seats together'))),
      this.message,
      this.submit);
    host.replaceChildren(this.form);
  }

  /** categories: [{id, name, price}]; money formats a price. */
  setCategories(categories, money) {
    const keep = this.category.value;
    this.category.replaceChildren(el('option', { value: '', text: 'Any category' }),
      ...categories.map((c) => el('option', { value: c.id, text: money ? `${c.name} (${money(c.price)})` : c.name })));
    if ([...this.category.options].some((o) => o.value === keep)) this.category.value = keep;
  }

  setMax(max) {
    this.opts.max = max;
    this.count.max = String(max);
  }

  say(kind, text, ...extra) {
    this.message.className = `notice ${kind}`;
    this.message.replaceChildren(text, ...extra);
    this.message.hidden = false;
  }

  request() {
    const count = Number(this.count.value);
    const accessible = Number(this.accessible.value || 0);
    const max = this.opts.max || 10;
    if (!Number.isInteger(count) || count < 1 || count > max) {
      this.say('bad', `Choose from 1 to ${max} seats.`);
      this.count.focus();
      return null;
    }
    if (!Number.isInteger(accessible) || accessible < 0 || accessible > count) {
      this.say('bad', 'Wheelchair spaces: from 0 up to the number of seats.');
      this.accessible.focus();
      return null;
    }
    const req = { count, together: this.together.checked };
    if (this.category.value) req.category = this.category.value;
    if (accessible) req.accessible = accessible;
    return req;
  }

  async run(override) {
    if (this.busy) return;
    const req = override || this.request();
    if (!req) return;
    this.busy = true;
    this.submit.disabled = true;
    this.say('info', 'Finding the best seats…');
    try {
      const got = await this.opts.ask(req);
      const where = got.together ? 'together' : 'in more than one group (no group of that size is left together)';
      this.say('ok', `Found ${got.seats.length} seat${got.seats.length === 1 ? '' : 's'} ${where}: ${got.names}.`);
    } catch (e) {
      this.explain(e, req);
    } finally {
      this.busy = false;
      this.submit.disabled = false;
    }
  }

  /** The server's reason in words, with a way forward when there is one. */
  explain(e, req) {
    const r = (e && (e.reply || e.body)) || {};
    if (e.code !== 'seat_unavailable') {
      this.say('bad', sentence(e && e.message) || 'Something went wrong. Please try again.');
      return;
    }
    const offers = [];
    if (req.together && r.largest > 0 && r.largest < req.count) {
      offers.push(el('button', { type: 'button', class: 'small', text: `Find ${r.largest} together`,
        onclick: () => { this.count.value = String(r.largest); this.run({ ...req, count: r.largest }); } }));
    }
    if (req.together && r.available >= req.count) {
      offers.push(el('button', { type: 'button', class: 'small', text: `Find ${req.count} not together`,
        onclick: () => { this.together.checked = false; this.run({ ...req, together: false }); } }));
    }
    const text = sentence(e.message) || 'Not enough seats are free.';
    this.say('warn', text, ...(offers.length ? [el('span', { class: 'best-offers' }, ...offers)] : []));
    if (offers.length) offers[0].focus();
  }
}
