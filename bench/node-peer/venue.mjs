/*
 * venue.mjs - reads a venue file (docs/venue-format.md) into the seat list
 * in snapshot order, as seatmapd does: sections in order, rows in order, in
 * each row the blocks' seats (block by block) and then the single seats.
 *
 * It trusts the shipped venue files: seatmapd validates venues (server/venue.c);
 * this peer only needs the same ids in the same order, and the layout the
 * load tool reads (GET /api/shows/{show}).
 */
import { readFileSync } from 'node:fs';

const round1 = (v) => Math.round(v * 10) / 10;

/* { name, seats: [{id, section, row, number, x, y, category, accessible?}] } */
export function loadVenue(file) {
    const v = JSON.parse(readFileSync(file, 'utf8'));
    const seats = [];
    const add = (sec, row, number, x, y, category, accessible) => {
        const s = { id: `${sec.id}-${row.label}-${number}`, section: sec.id, row: row.label, number,
            x: round1(x), y: round1(y), category };
        if (accessible) s.accessible = true;
        seats.push(s);
    };
    for (const sec of v.sections) {
        for (const row of sec.rows) {
            const rx = row.x ?? 0;
            for (const b of row.blocks ?? []) {
                const step = b.step ?? 1;
                const dx = b.dx ?? 1;
                const dy = b.dy ?? 0;
                const y0 = b.y ?? row.y;
                const acc = new Set(b.accessible ?? []);
                for (let k = 0; k < b.count; k++) {
                    const n = b.first + k * step;
                    add(sec, row, n, rx + b.x + k * dx, y0 + k * dy,
                        b.category ?? row.category ?? sec.category, acc.has(n));
                }
            }
            for (const s of row.seats ?? []) {
                add(sec, row, s.number, rx + s.x, s.y ?? row.y,
                    s.category ?? row.category ?? sec.category, s.accessible === true);
            }
        }
    }
    return { name: v.name, currency: v.currency, stage: v.stage, categories: v.categories, seats };
}
