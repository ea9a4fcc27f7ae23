#!/usr/bin/env node
// gen-venues.mjs - generates the venue files in assets/venues/ (format:
// docs/venue-format.md). The output is deterministic: running it again
// rewrites the committed files byte for byte.
//
//   node scripts/gen-venues.mjs           # (re)write assets/venues/*.json
//   node scripts/gen-venues.mjs --check   # exit 1 if a committed file differs
//
// Plain node, no dependencies. Not here: validation (the server does that,
// and tests/unit/test_venue.c loads both files).

import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const outDir = join(root, 'assets', 'venues');

// Coordinates are written with at most one decimal.
const r1 = (v) => Math.round(v * 10) / 10;

// ---------------------------------------------------------------------------
// demo.json: a proscenium theatre of about 800 seats.
//
// Stalls: rows A..S (no I), each a left block, a centre block and a right
// block separated by aisles, numbered 1..N from house left to house right,
// widening towards the back, with a cross aisle after row K. Balcony: rows
// A..F further down the map (behind and above the stalls), its wings bent
// towards the stage. Two boxes of four seats by the stage, given seat by
// seat. Wheelchair spaces at the ends of stalls rows L and S.
// ---------------------------------------------------------------------------
function demoVenue() {
    const CX = 27; // centre line
    const ROW = 1.4; // row pitch (seats are 1 unit apart)
    const AISLE = 2.5; // distance between the last seat of a block and the next block's first

    const stalls = [];
    const stallRows = 'ABCDEFGHJKLMNOPQRS'.split('');
    let y = 8;
    stallRows.forEach((label, i) => {
        if (label === 'L') y += 1.5; // cross aisle
        const nc = Math.min(12 + Math.floor(i / 2), 20); // centre seats
        const ns = 5 + Math.floor(i / 3); // seats per side block
        const cFirstX = CX - (nc - 1) / 2;
        const lFirstX = cFirstX - AISLE - (ns - 1);
        const rFirstX = cFirstX + (nc - 1) + AISLE;
        const side = i < 2 || i >= stallRows.length - 2 ? 'restricted' : 'standard';
        const centre = i < 10 ? 'premium' : 'standard';
        const last = ns + nc + ns;
        let accL = [];
        let accR = [];
        if (label === 'L') { accL = [1]; accR = [last]; }
        if (label === 'S') { accL = [1, 2]; accR = [last - 1, last]; }
        const block = (first, count, x, category, accessible) => {
            const b = { first, count, x: r1(x), category };
            if (accessible.length) b.accessible = accessible;
            return b;
        };
        stalls.push({
            label,
            y: r1(y),
            blocks: [
                block(1, ns, lFirstX, side, accL),
                block(ns + 1, nc, cFirstX, centre, []),
                block(ns + nc + 1, ns, rFirstX, side, accR),
            ],
        });
        y += ROW;
    });

    // Balcony: the centre block is straight, each wing rises by DY per seat
    // towards its outer end so the rows bend round towards the stage.
    const balcony = [];
    const DY = 0.3;
    y += 4;
    'ABCDEF'.split('').forEach((label, i) => {
        const nc = 16 + i;
        const nw = 9 + Math.floor(i / 2);
        const cFirstX = CX - (nc - 1) / 2;
        const lLastX = cFirstX - AISLE;
        const rFirstX = cFirstX + (nc - 1) + AISLE;
        const wing = label === 'F' ? 'restricted' : undefined; // back corners: low ceiling
        const lw = { first: 1, count: nw, x: r1(lLastX - (nw - 1)), y: r1(y - (nw - 1) * DY), dy: DY };
        const cb = { first: nw + 1, count: nc, x: r1(cFirstX) };
        const rw = { first: nw + nc + 1, count: nw, x: r1(rFirstX), y: r1(y), dy: -DY };
        if (wing) { lw.category = wing; rw.category = wing; }
        balcony.push({ label, y: r1(y), blocks: [lw, cb, rw] });
        y += ROW;
    });

    // Boxes: four seats each, on an arc by the side wall near the stage.
    const box = (side) => {
        const seats = [];
        for (let k = 0; k < 4; k++) {
            const a = (k / 3) * 0.9; // radians along the arc
            const x = side < 0 ? 2 + Math.sin(a) * 1.2 + 0.2 * k : 52 - Math.sin(a) * 1.2 - 0.2 * k;
            seats.push({ number: k + 1, x: r1(x), y: r1(4 + k * 1.1) });
        }
        return [{ label: 'A', seats }];
    };

    return {
        format: 1,
        name: 'Seatmap Playhouse',
        currency: 'EUR',
        stage: { x: CX - 15, y: 0, w: 30, h: 5, label: 'STAGE' },
        categories: [
            { id: 'premium', name: 'Premium', price: 8900, color: '#c0392b' },
            { id: 'standard', name: 'Standard', price: 5900, color: '#2e86c1' },
            { id: 'balcony', name: 'Balcony', price: 4500, color: '#27ae60' },
            { id: 'restricted', name: 'Restricted view', price: 2900, color: '#8e8e8e' },
        ],
        sections: [
            { id: 'STALLS', name: 'Stalls', rows: stalls },
            { id: 'BALC', name: 'Balcony', category: 'balcony', rows: balcony },
            { id: 'BOXL', name: 'Box A (left)', category: 'premium', rows: box(-1) },
            { id: 'BOXR', name: 'Box B (right)', category: 'premium', rows: box(1) },
        ],
    };
}

// ---------------------------------------------------------------------------
// stadium.json: a two-tier bowl of about 60,000 seats round a pitch.
//
// Geometry (before shifting everything to positive coordinates): the pitch
// is centred on (0,0), 2*A wide and 2*B high. A row at distance d from the
// pitch runs along a straight stand (North, East, South, West) and through
// the corners diagonally, so every seat sits on the integer grid and the
// file needs no decimals. Sections are numbered clockwise from the north-west:
// 101..130 in the lower tier, 201..230 in the upper. Within a section, seats
// are numbered clockwise too, rows from the pitch outwards.
// ---------------------------------------------------------------------------
function stadiumVenue() {
    const A = 100;
    const B = 65;
    const GAP = 5; // pitch edge to the first row
    const LOWER = 36; // rows in the lower tier
    const UPPER = 38; // rows in the upper tier
    const CONCOURSE = 4; // extra distance between the tiers
    const OX = A + GAP + LOWER + CONCOURSE + UPPER + 2; // shift to positive x
    const OY = B + GAP + LOWER + CONCOURSE + UPPER + 2;
    const LONG = 8; // sections per long stand (25 units: 24 seats and an aisle)
    const END = 5; // sections per end stand (26 units: 25 seats and an aisle)

    const tiers = [
        { n: 1, name: 'Lower', rows: LOWER, d0: GAP },
        { n: 2, name: 'Upper', rows: UPPER, d0: GAP + LOWER + CONCOURSE },
    ];
    const sections = [];
    for (const t of tiers) {
        let num = 1;
        const rowsOf = (fn) => {
            const rows = [];
            for (let r = 1; r <= t.rows; r++) {
                const d = t.d0 + r;
                rows.push({ label: String(r), ...fn(d, r) });
            }
            return rows;
        };
        const add = (stand, category, rows) => {
            const id = String(t.n * 100 + num++);
            sections.push({ id, name: `${stand} ${t.name} ${id}`, category, rows });
        };
        const central = (j, n) => j >= 2 && j < n - 2;
        const longCat = (j) => (t.n === 1 ? (central(j, LONG) ? 'A' : 'B') : central(j, LONG) ? 'B' : 'C');
        const endCat = t.n === 1 ? 'C' : 'D';
        // Wheelchair platforms: the back row of the lower tier's long stands.
        const acc = (r) => (t.n === 1 && r === LOWER ? { accessible: [1, 2, 23, 24] } : {});

        // North stand, left to right.
        for (let j = 0; j < LONG; j++)
            add('North', longCat(j), rowsOf((d, r) => ({
                y: OY - (B + d),
                blocks: [{ first: 1, count: 24, x: OX - A + 25 * j + 1, ...acc(r) }],
            })));
        // North-east corner: diagonal rows from the north stand to the east one.
        add('North-East', endCat, rowsOf((d) => ({
            blocks: [{ first: 1, count: d - 1, x: OX + A + 1, y: OY - (B + d) + 1, dx: 1, dy: 1 }],
        })));
        // East stand, top to bottom: rows are vertical.
        for (let j = 0; j < END; j++)
            add('East', endCat, rowsOf((d) => ({
                blocks: [{ first: 1, count: 25, x: OX + A + d, y: OY - B + 26 * j + 1, dx: 0, dy: 1 }],
            })));
        add('South-East', endCat, rowsOf((d) => ({
            blocks: [{ first: 1, count: d - 1, x: OX + A + d - 1, y: OY + B + 1, dx: -1, dy: 1 }],
        })));
        // South stand, right to left.
        for (let j = 0; j < LONG; j++)
            add('South', longCat(j), rowsOf((d, r) => ({
                y: OY + B + d,
                blocks: [{ first: 1, count: 24, x: OX + A - 25 * j - 1, dx: -1, ...acc(r) }],
            })));
        add('South-West', endCat, rowsOf((d) => ({
            blocks: [{ first: 1, count: d - 1, x: OX - A - 1, y: OY + B + d - 1, dx: -1, dy: -1 }],
        })));
        // West stand, bottom to top.
        for (let j = 0; j < END; j++)
            add('West', endCat, rowsOf((d) => ({
                blocks: [{ first: 1, count: 25, x: OX - (A + d), y: OY + B - 26 * j - 1, dx: 0, dy: -1 }],
            })));
        add('North-West', endCat, rowsOf((d) => ({
            blocks: [{ first: 1, count: d - 1, x: OX - (A + d) + 1, y: OY - B - 1, dx: 1, dy: -1 }],
        })));
    }

    return {
        format: 1,
        name: 'Seatmap Arena',
        currency: 'EUR',
        stage: { x: OX - A, y: OY - B, w: 2 * A, h: 2 * B, label: 'PITCH' },
        categories: [
            { id: 'A', name: 'Category A', price: 12000, color: '#b03a2e' },
            { id: 'B', name: 'Category B', price: 8500, color: '#d68910' },
            { id: 'C', name: 'Category C', price: 5500, color: '#2874a6' },
            { id: 'D', name: 'Category D', price: 3500, color: '#229954' },
        ],
        sections,
    };
}

// ---------------------------------------------------------------------------
// Output: one line per category and per row, so diffs stay readable while the
// file stays small.
// ---------------------------------------------------------------------------
function render(v) {
    const j = JSON.stringify;
    const out = [];
    out.push('{');
    out.push(`  "format": ${v.format},`);
    out.push(`  "name": ${j(v.name)},`);
    out.push(`  "currency": ${j(v.currency)},`);
    out.push(`  "stage": ${j(v.stage)},`);
    out.push('  "categories": [');
    out.push(v.categories.map((c) => `    ${j(c)}`).join(',\n'));
    out.push('  ],');
    out.push('  "sections": [');
    const secs = v.sections.map((s) => {
        const { rows, ...head } = s;
        const h = j(head).slice(0, -1);
        const body = rows.map((r) => `      ${j(r)}`).join(',\n');
        return `    ${h}, "rows": [\n${body}\n    ]}`;
    });
    out.push(secs.join(',\n'));
    out.push('  ]');
    out.push('}');
    return out.join('\n') + '\n';
}

function countSeats(v) {
    let n = 0;
    for (const s of v.sections)
        for (const r of s.rows) {
            for (const b of r.blocks || []) n += b.count;
            n += (r.seats || []).length;
        }
    return n;
}

const check = process.argv.includes('--check');
let bad = 0;
for (const [file, venue] of [['demo.json', demoVenue()], ['stadium.json', stadiumVenue()]]) {
    const path = join(outDir, file);
    const text = render(venue);
    if (check) {
        let old = '';
        try { old = readFileSync(path, 'utf8'); } catch { /* missing counts as different */ }
        if (old !== text) {
            console.error(`${path} differs from what scripts/gen-venues.mjs generates`);
            bad = 1;
        }
    } else {
        writeFileSync(path, text);
        console.log(`${path}: ${countSeats(venue)} seats, ${text.length} bytes`);
    }
}
process.exit(bad);
