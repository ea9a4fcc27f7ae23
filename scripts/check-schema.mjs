#!/usr/bin/env node
// check-schema.mjs - the two ledger engines must keep the same schema:
// schema/NNN_*.sql (SQLite) and schema/pg/NNN_*.sql (PostgreSQL) are
// written by hand, one pair per migration, and a column added to one file
// only would make one engine lose data the other keeps.
//
// Reads every migration of both engines in order and compares what they
// build: the migration numbers, the tables, each table's columns (in order)
// and the index names. Types are not compared (INTEGER vs BIGINT, BLOB vs
// BYTEA are the point of two files). Exits 1 with the differences, else 0.
//
//   node scripts/check-schema.mjs [ROOT]
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const CONSTRAINT = /^(PRIMARY|UNIQUE|CHECK|FOREIGN|CONSTRAINT|EXCLUDE)\b/i;

// Splits s on commas that are not inside parentheses.
function splitTop(s) {
  const out = [];
  let depth = 0;
  let cur = '';
  for (const ch of s) {
    if (ch === '(') depth++;
    if (ch === ')') depth--;
    if (ch === ',' && depth === 0) {
      out.push(cur);
      cur = '';
    } else {
      cur += ch;
    }
  }
  if (cur.trim()) out.push(cur);
  return out;
}

// The schema a directory's migrations build: {migrations, tables: Map(name ->
// [columns]), indexes: Set}.
export function readSchema(dir) {
  const files = readdirSync(dir).filter((f) => /^\d+_.*\.sql$/.test(f)).sort();
  const tables = new Map();
  const indexes = new Set();
  for (const f of files) {
    const sql = readFileSync(join(dir, f), 'utf8').replace(/--[^\n]*/g, '');
    for (const stmt of sql.split(';')) {
      const s = stmt.trim().replace(/\s+/g, ' ');
      let m;
      if ((m = /^CREATE TABLE (?:IF NOT EXISTS )?(\w+) ?\((.*)\)(?: WITHOUT ROWID| STRICT|,)*$/i.exec(s))) {
        const cols = splitTop(m[2])
          .map((c) => c.trim())
          .filter((c) => c && !CONSTRAINT.test(c))
          .map((c) => c.split(' ')[0].toLowerCase());
        tables.set(m[1].toLowerCase(), cols);
      } else if ((m = /^ALTER TABLE (\w+) RENAME TO (\w+)/i.exec(s))) {
        // SQLite changes a table's rules by building a new one and renaming it
        const cols = tables.get(m[1].toLowerCase());
        tables.delete(m[1].toLowerCase());
        if (cols) tables.set(m[2].toLowerCase(), cols);
      } else if ((m = /^ALTER TABLE (\w+) ADD (?:COLUMN )?(\w+)/i.exec(s))) {
        tables.get(m[1].toLowerCase())?.push(m[2].toLowerCase());
      } else if ((m = /^ALTER TABLE (\w+) DROP (?:COLUMN )?(\w+)/i.exec(s))) {
        const cols = tables.get(m[1].toLowerCase());
        if (cols) cols.splice(cols.indexOf(m[2].toLowerCase()), 1);
      } else if ((m = /^DROP TABLE (?:IF EXISTS )?(\w+)/i.exec(s))) {
        tables.delete(m[1].toLowerCase());
      } else if ((m = /^CREATE (?:UNIQUE )?INDEX (?:IF NOT EXISTS )?(\w+)/i.exec(s))) {
        indexes.add(m[1].toLowerCase());
      } else if ((m = /^DROP INDEX (?:IF EXISTS )?(\w+)/i.exec(s))) {
        indexes.delete(m[1].toLowerCase());
      }
    }
  }
  return { migrations: files.map((f) => f.split('_')[0]), tables, indexes };
}

// The differences between two schemas, as sentences (empty: the same).
export function compareSchemas(a, b, nameA = 'SQLite', nameB = 'PostgreSQL') {
  const diffs = [];
  if (a.migrations.join() !== b.migrations.join())
    diffs.push(`migrations differ: ${nameA} ${a.migrations.join(' ')}, ${nameB} ${b.migrations.join(' ')}`);
  for (const [t, cols] of a.tables) {
    if (!b.tables.has(t)) diffs.push(`table ${t} only in ${nameA}`);
    else if (cols.join() !== b.tables.get(t).join())
      diffs.push(`table ${t}: ${nameA} (${cols.join(', ')}), ${nameB} (${b.tables.get(t).join(', ')})`);
  }
  for (const t of b.tables.keys()) if (!a.tables.has(t)) diffs.push(`table ${t} only in ${nameB}`);
  for (const i of a.indexes) if (!b.indexes.has(i)) diffs.push(`index ${i} only in ${nameA}`);
  for (const i of b.indexes) if (!a.indexes.has(i)) diffs.push(`index ${i} only in ${nameB}`);
  return diffs;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const root = process.argv[2] || new URL('..', import.meta.url).pathname;
  const lite = readSchema(join(root, 'schema'));
  const pg = readSchema(join(root, 'schema/pg'));
  const diffs = compareSchemas(lite, pg);
  for (const d of diffs) console.error(`check-schema: ${d}`);
  if (diffs.length) process.exit(1);
  console.log(
    `check-schema: both engines build the same ${lite.tables.size} tables and ${lite.indexes.size} indexes ` +
      `in ${lite.migrations.length} migrations`,
  );
}
