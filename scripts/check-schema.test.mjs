// Self-test of check-schema.mjs: it must catch what it exists to catch.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readSchema, compareSchemas } from './check-schema.mjs';

function pair(lite, pg) {
  const dir = mkdtempSync(join(tmpdir(), 'schema-'));
  mkdirSync(join(dir, 'pg'));
  for (const [name, text] of Object.entries(lite)) writeFileSync(join(dir, name), text);
  for (const [name, text] of Object.entries(pg)) writeFileSync(join(dir, 'pg', name), text);
  const diffs = compareSchemas(readSchema(dir), readSchema(join(dir, 'pg')));
  rmSync(dir, { recursive: true });
  return diffs;
}

const base = 'CREATE TABLE t (\n  id INTEGER PRIMARY KEY,\n  -- a comment, with a comma\n  v TEXT NOT NULL CHECK (v IN (\'a\', \'b\')),\n  UNIQUE (v)\n) WITHOUT ROWID;\nCREATE INDEX t_by_v ON t (v);\n';
const basePg = base.replace(' WITHOUT ROWID', '').replace('INTEGER', 'BIGINT');

test('the same tables, columns and indexes with other types pass', () => {
  assert.deepEqual(pair({ '001_a.sql': base }, { '001_a.sql': basePg }), []);
});

test('a column in one engine only is caught', () => {
  const pg = basePg + 'ALTER TABLE t ADD COLUMN w TEXT;\n';
  assert.match(pair({ '001_a.sql': base }, { '001_a.sql': pg }).join('\n'), /table t: SQLite \(id, v\), PostgreSQL \(id, v, w\)/);
});

test('a table, an index or a migration in one engine only is caught', () => {
  const extra = 'CREATE TABLE u (id INTEGER);\nCREATE INDEX u_by_id ON u (id);\n';
  const diffs = pair({ '001_a.sql': base, '002_b.sql': extra }, { '001_a.sql': basePg });
  assert.ok(diffs.some((d) => /migrations differ/.test(d)));
  assert.ok(diffs.includes('table u only in SQLite'));
  assert.ok(diffs.includes('index u_by_id only in SQLite'));
});

test('a table rebuilt under a new name and renamed back is the same table', () => {
  const rebuild = 'CREATE TABLE t_new (id INTEGER PRIMARY KEY AUTOINCREMENT, v TEXT);\n' +
    'INSERT INTO t_new SELECT id, v FROM t;\nDROP TABLE t;\nALTER TABLE t_new RENAME TO t;\n' +
    'CREATE INDEX t_by_v ON t (v);\n';
  assert.deepEqual(pair({ '001_a.sql': base, '002_b.sql': rebuild }, { '001_a.sql': basePg, '002_b.sql': 'SELECT 1;\n' }), []);
  const wrong = rebuild.replace('v TEXT', 'v TEXT, w TEXT');
  assert.match(pair({ '001_a.sql': base, '002_b.sql': wrong }, { '001_a.sql': basePg, '002_b.sql': 'SELECT 1;\n' }).join('\n'),
    /table t: SQLite \(id, v, w\), PostgreSQL \(id, v\)/);
});
