// The seat map: draws a show's layout (stage, sections, row labels, seats) on a <canvas> so that
// 60,000-seat venues stay fast, with pan/zoom (drag, wheel, pinch, buttons, keys), hover
// tooltips, a spatial grid for hit testing, and a keyboard cursor: one focusable button that
// sits over the focused seat and carries that seat's accessible name, moved with the arrow keys.
// It knows seat states ('e','p','b') plus the page's "mine"/"selected"/"highlighted" marks, but
// nothing about the network: clicks go to opts.onActivate(index).

const STYLE = {
  bg: '#fbfaf7',
  stage: '#2d2540',
  stageText: '#ffffff',
  sectionText: '#4a4458',
  rowText: '#8a8398',
  pending: '#9aa0a8', // stripes (someone else's hold)
  pendingBg: '#ffffff',
  booked: '#5b616b', // filled dark with a cross
  bookedMark: '#e9ebee',
  mine: '#1b1726', // filled ink with a check and a gold ring
  mineMark: '#ffffff',
  ring: '#f2b705',
  highlight: '#f2b705',
  hover: '#0b57d0',
};

const MIN_DETAIL_PX = 7; // below this seat size, draw plain squares (no marks)
const ZOOM_STEP = 1.5;
const MAX_SEAT_PX = 64;
const KEYBOARD_SEAT_PX = 20; // zoom to at least this when moving with the keyboard
const DRAG_THRESHOLD_PX = 5;

/** State of a seat as the page sees it. */
export const KIND = { EMPTY: 'empty', PENDING: 'pending', BOOKED: 'booked', MINE: 'mine', SELECTED: 'selected' };

let hatchCanvas = null;
function hatchPattern(ctx) {
  if (!hatchCanvas) {
    hatchCanvas = document.createElement('canvas');
    hatchCanvas.width = 6;
    hatchCanvas.height = 6;
    const h = hatchCanvas.getContext('2d');
    h.fillStyle = STYLE.pendingBg;
    h.fillRect(0, 0, 6, 6);
    h.strokeStyle = STYLE.pending;
    h.lineWidth = 1.6;
    h.beginPath();
    h.moveTo(-1, 7);
    h.lineTo(7, -1);
    h.moveTo(-1, 1);
    h.lineTo(1, -1);
    h.moveTo(5, 7);
    h.lineTo(7, 5);
    h.stroke();
  }
  return ctx.createPattern(hatchCanvas, 'repeat');
}

function seatPath(ctx, x, y, s) {
  if (s >= 6) ctx.roundRect(x - s / 2, y - s / 2, s, s, s * 0.22);
  else ctx.rect(x - s / 2, y - s / 2, s, s);
}

function crossPath(ctx, x, y, s) {
  const r = s * 0.24;
  ctx.moveTo(x - r, y - r);
  ctx.lineTo(x + r, y + r);
  ctx.moveTo(x + r, y - r);
  ctx.lineTo(x - r, y + r);
}

function checkPath(ctx, x, y, s) {
  ctx.moveTo(x - s * 0.26, y + s * 0.02);
  ctx.lineTo(x - s * 0.07, y + s * 0.2);
  ctx.lineTo(x + s * 0.27, y - s * 0.18);
}

/** Draws one seat of a kind, for legends (same look as on the map). */
export function drawSwatch(canvas, kind, color) {
  const dpr = window.devicePixelRatio || 1;
  const css = 18;
  canvas.width = css * dpr;
  canvas.height = css * dpr;
  const ctx = canvas.getContext('2d');
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  drawSeats(ctx, kind, color, [9, 9], 14);
}

/** Draws seats of one kind at screen points (flat [x0, y0, x1, y1, ...]); s: size in CSS px. */
function drawSeats(ctx, kind, color, points, s) {
  ctx.beginPath();
  for (let j = 0; j < points.length; j += 2) seatPath(ctx, points[j], points[j + 1], s);
  const detail = s >= MIN_DETAIL_PX;
  if (kind === KIND.EMPTY) {
    ctx.fillStyle = color;
    ctx.fill();
    if (detail) {
      ctx.strokeStyle = 'rgba(0,0,0,0.28)';
      ctx.lineWidth = 1;
      ctx.stroke();
    }
  } else if (kind === KIND.PENDING) {
    ctx.fillStyle = detail ? hatchPattern(ctx) : '#c9cdd3';
    ctx.fill();
    if (detail) {
      ctx.strokeStyle = STYLE.pending;
      ctx.lineWidth = 1.2;
      ctx.stroke();
    }
  } else if (kind === KIND.BOOKED) {
    ctx.fillStyle = STYLE.booked;
    ctx.fill();
    if (detail) {
      ctx.beginPath();
      for (let j = 0; j < points.length; j += 2) crossPath(ctx, points[j], points[j + 1], s);
      ctx.strokeStyle = STYLE.bookedMark;
      ctx.lineWidth = Math.max(1.2, s * 0.1);
      ctx.lineCap = 'round';
      ctx.stroke();
    }
  } else {
    // MINE and SELECTED: ink with a white check and a gold ring.
    ctx.fillStyle = STYLE.mine;
    ctx.fill();
    if (detail) {
      ctx.strokeStyle = STYLE.ring;
      ctx.lineWidth = Math.max(1.5, s * 0.1);
      ctx.stroke();
      ctx.beginPath();
      for (let j = 0; j < points.length; j += 2) checkPath(ctx, points[j], points[j + 1], s);
      ctx.strokeStyle = STYLE.mineMark;
      ctx.lineWidth = Math.max(1.4, s * 0.12);
      ctx.lineCap = 'round';
      ctx.lineJoin = 'round';
      ctx.stroke();
    }
  }
}

function median(values) {
  if (!values.length) return 1;
  const sorted = values.slice().sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

export class SeatMap {
  /**
   * host: an empty element that becomes the map. opts: onActivate(index, via) called for a click,
   * tap or Enter on a seat; money(cents) -> string; stateWord(index, kind) -> optional override
   * of the state's words; onHoverSeat(index|-1).
   */
  constructor(host, opts = {}) {
    this.host = host;
    this.opts = opts;
    this.layout = null;
    this.n = 0;
    this.k = 1; // CSS px per venue unit
    this.tx = 0;
    this.ty = 0;
    this.width = 0;
    this.height = 0;
    this.hover = -1;
    this.focus = -1;
    this.baseDirty = true;
    this.overlayDirty = true;
    this.frame = 0;
    this.pointers = new Map();
    this.mine = new Set();
    this.selected = new Set();
    this.highlighted = new Set();
    this.build();
    host.seatmap = this; // lets developer tools and the e2e tests read the map's state
  }

  build() {
    const h = this.host;
    h.classList.add('seatmap');
    this.base = document.createElement('canvas');
    this.base.className = 'seatmap-base';
    this.base.setAttribute('aria-hidden', 'true');
    this.overlay = document.createElement('canvas');
    this.overlay.className = 'seatmap-overlay';
    this.overlay.setAttribute('aria-hidden', 'true');

    this.hintId = `seatmap-hint-${Math.random().toString(36).slice(2, 8)}`;
    this.cursor = document.createElement('button');
    this.cursor.type = 'button';
    this.cursor.className = 'seatmap-cursor';
    this.cursor.setAttribute('aria-describedby', this.hintId);
    this.cursor.setAttribute('aria-label', 'Seat map');
    this.cursor.dataset.seat = '';

    this.hint = document.createElement('div');
    this.hint.className = 'seatmap-hint';
    this.hint.id = this.hintId;
    this.hint.textContent = 'Drag to move · scroll or pinch to zoom · Tab to the map, then arrow keys and Enter';

    this.live = document.createElement('div');
    this.live.className = 'visually-hidden';
    this.live.setAttribute('aria-live', 'polite');

    this.tip = document.createElement('div');
    this.tip.className = 'seatmap-tip';
    this.tip.hidden = true;
    this.tip.setAttribute('aria-hidden', 'true');

    this.loading = document.createElement('div');
    this.loading.className = 'seatmap-loading';
    this.loading.textContent = 'Loading seat map…';

    const controls = document.createElement('div');
    controls.className = 'seatmap-controls';
    const mk = (label, text, fn) => {
      const b = document.createElement('button');
      b.type = 'button';
      b.setAttribute('aria-label', label);
      b.title = label;
      b.textContent = text;
      b.addEventListener('click', fn);
      controls.append(b);
      return b;
    };
    mk('Zoom in', '+', () => this.zoomBy(ZOOM_STEP));
    mk('Zoom out', '−', () => this.zoomBy(1 / ZOOM_STEP));
    mk('Show the whole venue', '⤢', () => this.fit());

    h.append(this.base, this.overlay, this.cursor, controls, this.hint, this.tip, this.loading, this.live);

    this.bctx = this.base.getContext('2d', { alpha: false });
    this.octx = this.overlay.getContext('2d');

    new ResizeObserver(() => this.resize()).observe(h);
    h.addEventListener('pointerdown', (e) => this.onPointerDown(e));
    h.addEventListener('pointermove', (e) => this.onPointerMove(e));
    h.addEventListener('pointerup', (e) => this.onPointerUp(e));
    h.addEventListener('pointercancel', (e) => this.onPointerUp(e, true));
    h.addEventListener('pointerleave', () => this.setHover(-1));
    h.addEventListener('wheel', (e) => this.onWheel(e), { passive: false });
    this.cursor.addEventListener('keydown', (e) => this.onKey(e));
    this.cursor.addEventListener('click', () => {
      if (this.focus >= 0 && this.opts.onActivate) this.opts.onActivate(this.focus, 'keyboard');
    });
    this.cursor.addEventListener('focus', () => this.onCursorFocus());
    this.cursor.addEventListener('blur', () => {
      this.cursor.classList.remove('is-focused');
      this.overlayDirty = true;
      this.schedule();
    });
    window.addEventListener('resize', () => this.resize());
  }

  // ---------- data ----------

  /** Takes the show JSON of GET /api/shows/{id}. Seat order = snapshot letter order. */
  setLayout(show) {
    this.layout = show;
    const seats = show.seats || [];
    const n = seats.length;
    this.n = n;
    this.xs = new Float64Array(n);
    this.ys = new Float64Array(n);
    this.cat = new Uint16Array(n);
    this.state = new Uint8Array(n); // 0 empty, 1 pending, 2 booked
    this.index = new Map();
    this.categories = (show.categories || []).map((c, i) => ({ ...c, color: c.color || defaultColor(i) }));
    const catIndex = new Map(this.categories.map((c, i) => [c.id, i]));
    this.sectionNames = new Map((show.sections || []).map((s) => [s.id, s.name || s.id]));
    for (let i = 0; i < n; i++) {
      const s = seats[i];
      this.xs[i] = Number(s.x) || 0;
      this.ys[i] = Number(s.y) || 0;
      let c = catIndex.get(s.category);
      if (c === undefined) {
        c = this.categories.length;
        catIndex.set(s.category, c);
        this.categories.push({ id: s.category, name: String(s.category || 'Seat'), price: 0, color: defaultColor(c) });
      }
      this.cat[i] = c;
      this.index.set(s.id, i);
    }
    this.computeGeometry();
    this.buildGrid();
    this.mine.clear();
    this.selected.clear();
    this.highlighted.clear();
    this.hover = -1;
    this.focus = -1;
    this.loading.hidden = true;
    this.fit();
  }

  computeGeometry() {
    const seats = this.layout.seats || [];
    const n = this.n;
    // Pitch: the usual distance between neighbours in a row.
    const gaps = [];
    for (let i = 1; i < n && gaps.length < 5000; i++) {
      if (seats[i].row === seats[i - 1].row && seats[i].section === seats[i - 1].section) {
        const d = Math.hypot(this.xs[i] - this.xs[i - 1], this.ys[i] - this.ys[i - 1]);
        if (d > 0) gaps.push(d);
      }
    }
    this.pitch = median(gaps) || 1;
    let minX = Infinity;
    let minY = Infinity;
    let maxX = -Infinity;
    let maxY = -Infinity;
    for (let i = 0; i < n; i++) {
      minX = Math.min(minX, this.xs[i]);
      maxX = Math.max(maxX, this.xs[i]);
      minY = Math.min(minY, this.ys[i]);
      maxY = Math.max(maxY, this.ys[i]);
    }
    if (!n) {
      minX = 0;
      minY = 0;
      maxX = 10;
      maxY = 10;
    }
    this.seatBounds = { minX, minY, maxX, maxY };
    const st = this.layout.stage;
    if (st && Number.isFinite(+st.w)) {
      minX = Math.min(minX, +st.x);
      minY = Math.min(minY, +st.y);
      maxX = Math.max(maxX, +st.x + +st.w);
      maxY = Math.max(maxY, +st.y + +st.h);
    }
    const m = this.pitch * 2;
    this.bounds = { minX: minX - m, minY: minY - m, maxX: maxX + m, maxY: maxY + m };

    // Rows (for labels and Home/End) and sections (for labels).
    const rows = new Map();
    const sections = new Map();
    for (let i = 0; i < n; i++) {
      const s = seats[i];
      const rk = `${s.section}\u0000${s.row}`;
      let r = rows.get(rk);
      if (!r) {
        r = { section: s.section, row: s.row, seats: [], first: i, last: i };
        rows.set(rk, r);
      }
      r.seats.push(i);
      if (this.xs[i] < this.xs[r.first]) r.first = i;
      if (this.xs[i] > this.xs[r.last]) r.last = i;
      let sec = sections.get(s.section);
      if (!sec) {
        sec = { id: s.section, name: this.sectionNames.get(s.section) || String(s.section), minX: Infinity,
          minY: Infinity, maxX: -Infinity, maxY: -Infinity, sx: 0, sy: 0, count: 0 };
        sections.set(s.section, sec);
      }
      sec.minX = Math.min(sec.minX, this.xs[i]);
      sec.maxX = Math.max(sec.maxX, this.xs[i]);
      sec.minY = Math.min(sec.minY, this.ys[i]);
      sec.maxY = Math.max(sec.maxY, this.ys[i]);
      sec.sx += this.xs[i];
      sec.sy += this.ys[i];
      sec.count += 1;
    }
    this.rowOf = new Int32Array(n);
    this.rows = [...rows.values()];
    this.rows.forEach((r, ri) => {
      r.seats.sort((a, b) => this.xs[a] - this.xs[b]);
      for (const i of r.seats) this.rowOf[i] = ri;
    });
    this.sections = [...sections.values()];
  }

  buildGrid() {
    const n = this.n;
    const b = this.seatBounds;
    let cell = this.pitch * 2;
    const span = Math.max(b.maxX - b.minX, b.maxY - b.minY, 1);
    if (span / cell > 2000) cell = span / 2000;
    const cols = Math.floor((b.maxX - b.minX) / cell) + 1;
    const rows = Math.floor((b.maxY - b.minY) / cell) + 1;
    const start = new Int32Array(cols * rows + 1);
    const cellOf = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      const c = Math.floor((this.xs[i] - b.minX) / cell) + cols * Math.floor((this.ys[i] - b.minY) / cell);
      cellOf[i] = c;
      start[c + 1] += 1;
    }
    for (let c = 0; c < cols * rows; c++) start[c + 1] += start[c];
    const fill = start.slice(0, cols * rows);
    const items = new Int32Array(n);
    for (let i = 0; i < n; i++) items[fill[cellOf[i]]++] = i;
    this.grid = { cell, cols, rows, start, items, minX: b.minX, minY: b.minY };
  }

  /** Nearest seat to a venue point within `radius` venue units, or -1. */
  hitTest(vx, vy, radius) {
    const g = this.grid;
    if (!g || !this.n) return -1;
    const c0 = Math.max(0, Math.floor((vx - radius - g.minX) / g.cell));
    const c1 = Math.min(g.cols - 1, Math.floor((vx + radius - g.minX) / g.cell));
    const r0 = Math.max(0, Math.floor((vy - radius - g.minY) / g.cell));
    const r1 = Math.min(g.rows - 1, Math.floor((vy + radius - g.minY) / g.cell));
    let best = -1;
    let bestD = radius * radius;
    for (let r = r0; r <= r1; r++) {
      for (let c = c0; c <= c1; c++) {
        const cellId = r * g.cols + c;
        for (let j = g.start[cellId]; j < g.start[cellId + 1]; j++) {
          const i = g.items[j];
          const dx = this.xs[i] - vx;
          const dy = this.ys[i] - vy;
          const d = dx * dx + dy * dy;
          if (d <= bestD) {
            bestD = d;
            best = i;
          }
        }
      }
    }
    return best;
  }

  /** Letters of a snapshot, one per seat. */
  setStates(letters) {
    const n = Math.min(this.n, letters.length);
    for (let i = 0; i < n; i++) this.state[i] = codeOf(letters.charCodeAt(i));
    this.changed();
  }

  /**
   * [[seat, letter], ...] from a delta, the seat named by its id (seatmap.v1) or by its index in
   * the seat list (seatmap.v2). Returns the indices that changed.
   */
  applyChanges(pairs) {
    const changed = [];
    for (const [id, letter] of pairs) {
      const i = typeof id === 'number' ? (id < this.n ? id : undefined) : this.index.get(id);
      if (i === undefined) continue;
      this.state[i] = codeOf(letter.charCodeAt(0));
      changed.push(i);
    }
    this.changed();
    return changed;
  }

  setLetter(id, letter) {
    const i = this.index.get(id);
    if (i === undefined) return;
    this.state[i] = codeOf(letter.charCodeAt(0));
    this.changed();
  }

  setMine(ids) {
    this.mine = this.toIndexSet(ids);
    this.changed();
  }

  setSelected(ids) {
    this.selected = this.toIndexSet(ids);
    this.changed();
  }

  setHighlighted(ids) {
    this.highlighted = this.toIndexSet(ids);
    this.overlayDirty = true;
    this.schedule();
  }

  toIndexSet(ids) {
    const set = new Set();
    for (const id of ids || []) {
      const i = this.index.get(id);
      if (i !== undefined) set.add(i);
    }
    return set;
  }

  changed() {
    this.baseDirty = true;
    this.overlayDirty = true;
    if (this.focus >= 0) this.updateCursorLabel();
    if (this.hover >= 0 && !this.tip.hidden) this.showTip(this.hover, this.hoverPoint);
    this.schedule();
  }

  seat(i) {
    return this.layout.seats[i];
  }

  seatIndex(id) {
    const i = this.index.get(id);
    return i === undefined ? -1 : i;
  }

  category(i) {
    return this.categories[this.cat[i]];
  }

  kindOf(i) {
    const st = this.state[i];
    if (st === 2) return KIND.BOOKED;
    if (this.mine.has(i)) return KIND.MINE;
    if (st === 1) return KIND.PENDING;
    if (this.selected.has(i)) return KIND.SELECTED;
    return KIND.EMPTY;
  }

  /** Counts: {empty: [per category], pending, booked, mine}. */
  counts() {
    const empty = new Array(this.categories.length).fill(0);
    let pending = 0;
    let booked = 0;
    for (let i = 0; i < this.n; i++) {
      if (this.state[i] === 0) empty[this.cat[i]] += 1;
      else if (this.state[i] === 1) pending += 1;
      else booked += 1;
    }
    return { empty, pending, booked, mine: this.mine.size };
  }

  /** "Stalls, row C, seat 7" */
  seatName(i) {
    const s = this.seat(i);
    const section = this.sectionNames.get(s.section) || s.section;
    return `${section}, row ${s.row}, seat ${s.number}`;
  }

  /** Full accessible name: section, row, number, price category and price, state. */
  describe(i) {
    const s = this.seat(i);
    const cat = this.category(i);
    const money = this.opts.money ? this.opts.money(cat.price) : String(cat.price);
    const kind = this.kindOf(i);
    const override = this.opts.stateWord ? this.opts.stateWord(i, kind) : null;
    const words = override || {
      empty: 'available',
      pending: 'held by another buyer',
      booked: 'booked',
      mine: 'held by you',
      selected: 'selected',
    }[kind];
    const access = s.accessible ? ', wheelchair space' : '';
    return `${this.seatName(i)}, ${cat.name} ${money}, ${words}${access}`;
  }

  // ---------- view ----------

  resize() {
    const rect = this.host.getBoundingClientRect();
    const w = Math.max(1, Math.round(rect.width));
    const h = Math.max(1, Math.round(rect.height));
    if (w === this.width && h === this.height) return;
    const hadSize = this.width > 0;
    const cx = hadSize ? (this.width / 2 - this.tx) / this.k : 0;
    const cy = hadSize ? (this.height / 2 - this.ty) / this.k : 0;
    this.width = w;
    this.height = h;
    const dpr = window.devicePixelRatio || 1;
    for (const c of [this.base, this.overlay]) {
      c.width = Math.round(w * dpr);
      c.height = Math.round(h * dpr);
      c.style.width = `${w}px`;
      c.style.height = `${h}px`;
    }
    if (!this.layout) return;
    if (!hadSize || !this.userMoved) this.fit();
    else {
      this.tx = w / 2 - cx * this.k;
      this.ty = h / 2 - cy * this.k;
      this.changed();
    }
  }

  fitScale() {
    const b = this.bounds;
    if (!b || !this.width) return 1;
    const pad = 24;
    // A map area narrower than its padding (while the page lays out) must not
    // give a zero or negative scale: canvas calls throw on negative radii.
    const w = Math.max(1, this.width - pad * 2), h = Math.max(1, this.height - pad * 2);
    return Math.min(w / Math.max(1e-6, b.maxX - b.minX), h / Math.max(1e-6, b.maxY - b.minY));
  }

  fit() {
    if (!this.layout || !this.width) return;
    const b = this.bounds;
    this.k = this.fitScale();
    this.tx = (this.width - (b.maxX - b.minX) * this.k) / 2 - b.minX * this.k;
    this.ty = (this.height - (b.maxY - b.minY) * this.k) / 2 - b.minY * this.k;
    this.userMoved = false;
    this.changed();
  }

  clampK(k) {
    const minK = this.fitScale() * 0.6;
    const maxK = Math.max(this.fitScale(), MAX_SEAT_PX / (this.pitch * 0.8));
    return Math.min(maxK, Math.max(minK, k));
  }

  zoomAt(factor, sx, sy) {
    if (this.hover >= 0) this.setHover(-1);
    const k = this.clampK(this.k * factor);
    this.tx = sx - (sx - this.tx) * (k / this.k);
    this.ty = sy - (sy - this.ty) * (k / this.k);
    this.k = k;
    this.userMoved = true;
    this.clampPan();
    this.changed();
  }

  zoomBy(factor) {
    if (this.focus >= 0 && this.isOnScreen(this.focus)) {
      this.zoomAt(factor, this.xs[this.focus] * this.k + this.tx, this.ys[this.focus] * this.k + this.ty);
    } else this.zoomAt(factor, this.width / 2, this.height / 2);
  }

  /** Keeps some of the venue on screen. */
  clampPan() {
    const b = this.bounds;
    const margin = 60;
    const left = b.minX * this.k + this.tx;
    const right = b.maxX * this.k + this.tx;
    const top = b.minY * this.k + this.ty;
    const bottom = b.maxY * this.k + this.ty;
    if (right < margin) this.tx += margin - right;
    if (left > this.width - margin) this.tx -= left - (this.width - margin);
    if (bottom < margin) this.ty += margin - bottom;
    if (top > this.height - margin) this.ty -= top - (this.height - margin);
  }

  isOnScreen(i, pad = 0) {
    const x = this.xs[i] * this.k + this.tx;
    const y = this.ys[i] * this.k + this.ty;
    return x >= pad && y >= pad && x <= this.width - pad && y <= this.height - pad;
  }

  /** Centres the view on a seat, zooming in to at least minPx per seat. */
  reveal(i, minPx = 0) {
    const seatPx = this.k * this.pitch * 0.8;
    if (seatPx < minPx) this.k = this.clampK(minPx / (this.pitch * 0.8));
    if (seatPx < minPx || !this.isOnScreen(i, 40)) {
      this.tx = this.width / 2 - this.xs[i] * this.k;
      this.ty = this.height / 2 - this.ys[i] * this.k;
      this.userMoved = true;
      this.changed();
    }
  }

  schedule() {
    if (this.frame) return;
    this.frame = requestAnimationFrame(() => {
      this.frame = 0;
      if (this.baseDirty) this.renderBase();
      if (this.overlayDirty) this.renderOverlay();
    });
  }

  // ---------- drawing ----------

  renderBase() {
    this.baseDirty = false;
    const ctx = this.bctx;
    const dpr = window.devicePixelRatio || 1;
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.fillStyle = STYLE.bg;
    ctx.fillRect(0, 0, this.width, this.height);
    if (!this.layout) return;
    const k = this.k;
    const tx = this.tx;
    const ty = this.ty;
    const s = Math.max(1.3, this.pitch * 0.8 * k);
    this.seatPx = s;

    this.drawStage(ctx);

    // Group visible seats by how they look, then draw each group with one path.
    const nCat = this.categories.length;
    const groups = [];
    for (let g = 0; g < nCat + 3; g++) groups.push([]);
    const W = this.width + s;
    const H = this.height + s;
    for (let i = 0; i < this.n; i++) {
      const x = this.xs[i] * k + tx;
      const y = this.ys[i] * k + ty;
      if (x < -s || y < -s || x > W || y > H) continue;
      const kind = this.kindOf(i);
      let g;
      if (kind === KIND.EMPTY) g = this.cat[i];
      else if (kind === KIND.PENDING) g = nCat;
      else if (kind === KIND.BOOKED) g = nCat + 1;
      else g = nCat + 2;
      groups[g].push(x, y);
    }
    for (let c = 0; c < nCat; c++) {
      if (groups[c].length) drawSeats(ctx, KIND.EMPTY, this.categories[c].color, groups[c], s);
    }
    if (groups[nCat].length) drawSeats(ctx, KIND.PENDING, null, groups[nCat], s);
    if (groups[nCat + 1].length) drawSeats(ctx, KIND.BOOKED, null, groups[nCat + 1], s);
    if (groups[nCat + 2].length) drawSeats(ctx, KIND.MINE, null, groups[nCat + 2], s);

    this.drawLabels(ctx, s);
  }

  drawStage(ctx) {
    const st = this.layout.stage;
    if (!st || !Number.isFinite(+st.w)) return;
    const x = +st.x * this.k + this.tx;
    const y = +st.y * this.k + this.ty;
    const w = +st.w * this.k;
    const h = +st.h * this.k;
    ctx.beginPath();
    ctx.roundRect(x, y, w, h, Math.min(12, h / 4, w / 4));
    ctx.fillStyle = STYLE.stage;
    ctx.fill();
    const label = (st.label || 'Stage').toUpperCase();
    const fs = Math.max(9, Math.min(22, h * 0.45, (w / Math.max(4, label.length)) * 1.2));
    if (w > 30 && h > 10) {
      ctx.fillStyle = STYLE.stageText;
      ctx.font = `700 ${fs}px system-ui, sans-serif`;
      ctx.textAlign = 'center';
      ctx.textBaseline = 'middle';
      ctx.fillText(label.split('').join('\u200a'), x + w / 2, y + h / 2);
    }
  }

  drawLabels(ctx, s) {
    const k = this.k;
    ctx.textBaseline = 'middle';
    // Row labels at both ends of each row, once they can be read.
    if (s >= 7) {
      const fs = Math.max(9, Math.min(13, s * 0.75));
      ctx.font = `600 ${fs}px system-ui, sans-serif`;
      ctx.fillStyle = STYLE.rowText;
      const off = this.pitch * 0.95 * k;
      // A label goes only where no seat is (next to an aisle or the edge of a section).
      // The right-hand label also leaves room for the next section's left-hand one.
      const free = (i, dir) => this.hitTest(this.xs[i] + dir * this.pitch * 1.1, this.ys[i], this.pitch * (dir < 0 ? 0.75 : 1.6)) < 0;
      for (const r of this.rows) {
        const a = r.first;
        const b = r.last;
        const ya = this.ys[a] * k + this.ty;
        const xa = this.xs[a] * k + this.tx - off;
        if (ya > -20 && ya < this.height + 20 && xa > -40 && xa < this.width + 40 && free(a, -1)) {
          ctx.textAlign = 'right';
          ctx.fillText(String(r.row), xa + fs * 0.4, ya);
        }
        const yb = this.ys[b] * k + this.ty;
        const xb = this.xs[b] * k + this.tx + off;
        if (s >= 14 && yb > -20 && yb < this.height + 20 && xb > -40 && xb < this.width + 40 && free(b, 1)) {
          ctx.textAlign = 'left';
          ctx.fillText(String(r.row), xb - fs * 0.4, yb);
        }
      }
    }
    // Section names: above the section when zoomed in, centred with a halo when zoomed out.
    const fs = Math.max(11, Math.min(17, s * 0.9 + 6));
    ctx.font = `700 ${fs}px system-ui, sans-serif`;
    ctx.textAlign = 'center';
    const placed = [];
    for (const sec of this.sections) {
      const wpx = (sec.maxX - sec.minX) * k;
      // The full name if it fits over the section, else its short id, else nothing.
      let text = sec.name;
      let tw = ctx.measureText(text).width;
      if (tw > wpx + 24 && sec.count > 1) {
        text = String(sec.id);
        tw = ctx.measureText(text).width;
        if (tw > wpx + 12) continue;
      }
      let x = ((sec.minX + sec.maxX) / 2) * k + this.tx;
      let y;
      if (s >= 5) y = sec.minY * k + this.ty - this.pitch * 1.25 * k;
      else {
        x = (sec.sx / sec.count) * k + this.tx;
        y = (sec.sy / sec.count) * k + this.ty;
      }
      if (x < -tw || x > this.width + tw || y < -20 || y > this.height + 20) continue;
      const box = { l: x - tw / 2 - 3, r: x + tw / 2 + 3, t: y - fs / 2 - 2, b: y + fs / 2 + 2 };
      if (placed.some((o) => o.l < box.r && box.l < o.r && o.t < box.b && box.t < o.b)) continue;
      placed.push(box);
      ctx.lineWidth = 4;
      ctx.strokeStyle = 'rgba(251,250,247,0.9)';
      ctx.lineJoin = 'round';
      ctx.strokeText(text, x, y);
      ctx.fillStyle = STYLE.sectionText;
      ctx.fillText(text, x, y);
    }
  }

  renderOverlay() {
    this.overlayDirty = false;
    const ctx = this.octx;
    const dpr = window.devicePixelRatio || 1;
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, this.width, this.height);
    if (!this.layout) return;
    const s = Math.max(1.3, this.pitch * 0.8 * this.k);
    const ring = (i, color, width, grow) => {
      const x = this.xs[i] * this.k + this.tx;
      const y = this.ys[i] * this.k + this.ty;
      const size = Math.max(s, 6) + grow;
      ctx.beginPath();
      ctx.roundRect(x - size / 2, y - size / 2, size, size, size * 0.25);
      ctx.strokeStyle = color;
      ctx.lineWidth = width;
      ctx.stroke();
    };
    for (const i of this.highlighted) {
      ring(i, STYLE.highlight, 3, 5);
      ring(i, STYLE.mine, 1, 9);
    }
    if (this.hover >= 0) ring(this.hover, STYLE.hover, 2, 4);
    this.placeCursor();
  }

  placeCursor() {
    const c = this.cursor;
    if (this.focus < 0) {
      c.style.transform = 'translate(8px, 8px)';
      c.style.width = '24px';
      c.style.height = '24px';
      return;
    }
    const s = Math.max(14, this.pitch * 0.8 * this.k + 4);
    const x = this.xs[this.focus] * this.k + this.tx - s / 2;
    const y = this.ys[this.focus] * this.k + this.ty - s / 2;
    c.style.transform = `translate(${Math.round(x)}px, ${Math.round(y)}px)`;
    c.style.width = `${Math.round(s)}px`;
    c.style.height = `${Math.round(s)}px`;
  }

  // ---------- pointer input ----------

  localPoint(e) {
    const r = this.host.getBoundingClientRect();
    return { x: e.clientX - r.left, y: e.clientY - r.top };
  }

  seatAt(px, py) {
    const vx = (px - this.tx) / this.k;
    const vy = (py - this.ty) / this.k;
    // Generous on touch screens: at least ~12 CSS px.
    const radius = Math.max(this.pitch * 0.6, 12 / this.k);
    return this.hitTest(vx, vy, Math.min(radius, this.pitch * 3));
  }

  onPointerDown(e) {
    if (e.target.closest('.seatmap-controls') || !this.layout) return;
    if (e.button !== undefined && e.button !== 0 && e.pointerType === 'mouse') return;
    const p = this.localPoint(e);
    this.pointers.set(e.pointerId, { ...p, startX: p.x, startY: p.y });
    try {
      this.host.setPointerCapture(e.pointerId);
    } catch {
      /* synthetic events */
    }
    if (this.pointers.size === 1) {
      this.dragMoved = false;
      this.pinch = null;
    } else if (this.pointers.size === 2) {
      const [a, b] = [...this.pointers.values()];
      this.pinch = { d: Math.hypot(a.x - b.x, a.y - b.y) || 1 };
      this.dragMoved = true; // never a tap
    }
  }

  onPointerMove(e) {
    if (!this.layout) return;
    const p = this.localPoint(e);
    const ptr = this.pointers.get(e.pointerId);
    if (!ptr) {
      const overControls = e.target.closest && e.target.closest('.seatmap-controls');
      if (e.pointerType === 'mouse') this.setHover(overControls ? -1 : this.seatAt(p.x, p.y), p);
      return;
    }
    if (this.pointers.size >= 2 && this.pinch) {
      ptr.x = p.x;
      ptr.y = p.y;
      const [a, b] = [...this.pointers.values()];
      const d = Math.hypot(a.x - b.x, a.y - b.y) || 1;
      this.zoomAt(d / this.pinch.d, (a.x + b.x) / 2, (a.y + b.y) / 2);
      this.pinch.d = d;
      return;
    }
    const dx = p.x - ptr.x;
    const dy = p.y - ptr.y;
    if (!this.dragMoved && Math.hypot(p.x - ptr.startX, p.y - ptr.startY) < DRAG_THRESHOLD_PX) return;
    if (!this.dragMoved) this.host.classList.add('is-dragging');
    this.dragMoved = true;
    ptr.x = p.x;
    ptr.y = p.y;
    this.tx += dx;
    this.ty += dy;
    this.userMoved = true;
    this.clampPan();
    this.setHover(-1);
    this.changed();
  }

  onPointerUp(e, cancelled = false) {
    const ptr = this.pointers.get(e.pointerId);
    if (!ptr) return;
    this.pointers.delete(e.pointerId);
    this.host.classList.remove('is-dragging');
    if (this.pointers.size > 0) return;
    if (cancelled || this.dragMoved) return;
    const p = this.localPoint(e);
    const i = this.seatAt(p.x, p.y);
    if (i >= 0) {
      this.focus = i;
      this.updateCursorLabel();
      this.overlayDirty = true;
      this.schedule();
      if (this.opts.onActivate) this.opts.onActivate(i, e.pointerType || 'mouse');
    }
  }

  onWheel(e) {
    if (!this.layout) return;
    e.preventDefault();
    const p = this.localPoint(e);
    const delta = e.deltaMode === 1 ? e.deltaY * 30 : e.deltaY;
    this.zoomAt(Math.exp(-delta * 0.0015), p.x, p.y);
  }

  setHover(i, p) {
    if (i !== this.hover) {
      this.hover = i;
      this.overlayDirty = true;
      this.schedule();
      this.host.classList.toggle('is-hovering-seat', i >= 0);
      if (this.opts.onHoverSeat) this.opts.onHoverSeat(i);
    }
    if (i < 0) {
      this.tip.hidden = true;
      return;
    }
    this.hoverPoint = p;
    this.showTip(i, p);
  }

  showTip(i, p) {
    const s = this.seat(i);
    const cat = this.category(i);
    const money = this.opts.money ? this.opts.money(cat.price) : String(cat.price);
    const kind = this.kindOf(i);
    const custom = this.opts.stateWord && this.opts.stateWord(i, kind);
    const words = (custom && custom[0].toUpperCase() + custom.slice(1)) || {
      empty: 'Available — click to hold',
      pending: 'Held by another buyer',
      booked: 'Booked',
      mine: 'Yours — click to release',
      selected: 'Selected',
    }[kind];
    this.tip.replaceChildren();
    const title = document.createElement('strong');
    title.textContent = `${this.sectionNames.get(s.section) || s.section} · Row ${s.row} · Seat ${s.number}`;
    this.tip.append(title, `${cat.name} ${money}`, document.createElement('br'), words);
    if (s.accessible) this.tip.append(document.createElement('br'), 'Wheelchair space');
    this.tip.hidden = false;
    const x = p ? p.x : this.xs[i] * this.k + this.tx;
    const y = p ? p.y : this.ys[i] * this.k + this.ty;
    const tw = this.tip.offsetWidth;
    const th = this.tip.offsetHeight;
    let left = x + 14;
    let top = y + 16;
    if (left + tw > this.width - 6) left = x - tw - 14;
    if (top + th > this.height - 6) top = y - th - 12;
    this.tip.style.transform = `translate(${Math.round(Math.max(4, left))}px, ${Math.round(Math.max(4, top))}px)`;
  }

  // ---------- keyboard ----------

  onCursorFocus() {
    this.cursor.classList.add('is-focused');
    if (!this.layout || !this.n) return;
    if (this.focus < 0) this.focus = this.startSeat();
    this.reveal(this.focus, KEYBOARD_SEAT_PX);
    this.updateCursorLabel(true);
    this.overlayDirty = true;
    this.schedule();
  }

  /** The first available seat nearest the middle of what is on screen. */
  startSeat() {
    const vx = (this.width / 2 - this.tx) / this.k;
    const vy = (this.height / 2 - this.ty) / this.k;
    let best = -1;
    let bestD = Infinity;
    for (let i = 0; i < this.n; i++) {
      if (this.state[i] !== 0) continue;
      const d = (this.xs[i] - vx) ** 2 + (this.ys[i] - vy) ** 2;
      if (d < bestD) {
        bestD = d;
        best = i;
      }
    }
    return best >= 0 ? best : 0;
  }

  updateCursorLabel(announce = false) {
    if (this.focus < 0) return;
    const text = this.describe(this.focus);
    this.cursor.setAttribute('aria-label', text);
    this.cursor.dataset.seat = this.seat(this.focus).id;
    if (announce) this.live.textContent = text;
  }

  /** Nearest seat from `from` in direction (dx, dy), or -1. */
  neighbour(from, dx, dy) {
    const x0 = this.xs[from];
    const y0 = this.ys[from];
    const min = this.pitch * 0.3;
    let best = -1;
    let bestScore = Infinity;
    for (let i = 0; i < this.n; i++) {
      if (i === from) continue;
      const vx = this.xs[i] - x0;
      const vy = this.ys[i] - y0;
      const along = vx * dx + vy * dy;
      if (along < min) continue;
      const across = Math.abs(vx * dy - vy * dx);
      const score = along + across * 3;
      if (score < bestScore) {
        bestScore = score;
        best = i;
      }
    }
    return best;
  }

  moveFocus(i) {
    if (i < 0) return;
    this.focus = i;
    this.reveal(i, KEYBOARD_SEAT_PX);
    this.updateCursorLabel(true);
    this.overlayDirty = true;
    this.schedule();
  }

  onKey(e) {
    if (!this.layout || this.focus < 0) return;
    const f = this.focus;
    let handled = true;
    switch (e.key) {
      case 'ArrowLeft': this.moveFocus(this.neighbour(f, -1, 0)); break;
      case 'ArrowRight': this.moveFocus(this.neighbour(f, 1, 0)); break;
      case 'ArrowUp': this.moveFocus(this.neighbour(f, 0, -1)); break;
      case 'ArrowDown': this.moveFocus(this.neighbour(f, 0, 1)); break;
      case 'Home': this.moveFocus(this.rows[this.rowOf[f]].seats[0]); break;
      case 'End': {
        const r = this.rows[this.rowOf[f]].seats;
        this.moveFocus(r[r.length - 1]);
        break;
      }
      case '+': case '=': this.zoomBy(ZOOM_STEP); break;
      case '-': case '_': this.zoomBy(1 / ZOOM_STEP); break;
      case '0': this.fit(); break;
      default: handled = false;
    }
    if (handled) e.preventDefault();
  }

  /** Viewport (client) coordinates of a seat's centre, revealing it first; null if unknown. */
  screenPoint(id, minPx = 0) {
    const i = this.seatIndex(id);
    if (i < 0) return null;
    this.reveal(i, minPx);
    const r = this.host.getBoundingClientRect();
    return { x: r.left + this.xs[i] * this.k + this.tx, y: r.top + this.ys[i] * this.k + this.ty };
  }

  /** Moves keyboard focus to the map (e.g. from a "skip to map" link). */
  focusMap() {
    this.cursor.focus();
  }

  /** Focuses a particular seat by id (used by tests and deep links). */
  focusSeat(id) {
    const i = this.seatIndex(id);
    if (i < 0) return;
    this.focus = i;
    this.cursor.focus();
    this.moveFocus(i);
  }
}

function codeOf(ch) {
  // 'e' = 101, 'p' = 112, 'b' = 98
  if (ch === 112) return 1;
  if (ch === 98) return 2;
  return 0;
}

const PALETTE = ['#c0392b', '#2e86c1', '#27ae60', '#8e44ad', '#d68910', '#16a085', '#c2185b', '#5d6d7e'];
function defaultColor(i) {
  return PALETTE[i % PALETTE.length];
}
