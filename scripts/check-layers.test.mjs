// check-layers.test.mjs - scripts/check-layers.mjs on small synthetic trees:
// an acyclic one passes and prints its layers; a cycle made only by calls,
// and one made only by includes, fail and are named.
// Run: node --test scripts/check-layers.test.mjs (needs cc and nm).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const SCRIPT = path.join(path.dirname(fileURLToPath(import.meta.url)), 'check-layers.mjs');

// files: { 'a.c': text, ... } -> runs the check on them, compiled with cc.
function check(files) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'layers-'));
    const src = path.join(dir, 'src');
    const obj = path.join(dir, 'obj');
    fs.mkdirSync(src);
    fs.mkdirSync(obj);
    try {
        for (const [name, text] of Object.entries(files)) fs.writeFileSync(path.join(src, name), text);
        for (const name of Object.keys(files).filter((f) => f.endsWith('.c')))
            execFileSync('cc', ['-c', '-o', path.join(obj, `${name}.o`), path.join(src, name)]);
        const r = spawnSync('node', [SCRIPT, '--print', '--src', src, '--objects', obj], { encoding: 'utf8' });
        return { code: r.status, out: r.stdout + r.stderr };
    } finally {
        fs.rmSync(dir, { recursive: true, force: true });
    }
}

test('an acyclic tree passes and is printed in layers', () => {
    const r = check({
        'low.h': 'int low(void);\n',
        'low.c': '#include "low.h"\nint low(void) { return 1; }\n',
        'mid.h': 'int mid(void);\n',
        'mid.c': '#include "mid.h"\n#include "low.h"\nint mid(void) { return low() + 1; }\n',
        'top.c': '#include "mid.h"\n#include "low.h"\nint top(void) { return mid() + low(); }\n',
    });
    assert.equal(r.code, 0, r.out);
    assert.match(r.out, /no cycle/);
    assert.match(r.out, /0: low\n\s+1: mid\n\s+2: top/);
});

test('a cycle by calls alone fails and names the symbols', () => {
    const r = check({
        'a.c': 'int b(void);\nint a(void) { return b(); }\n',
        'b.c': 'int c(void);\nint b(void) { return c(); }\n',
        'c.c': 'int a(void);\nint c(void) { return a(); }\n',
        'd.c': 'int a(void);\nint d(void) { return a(); }\n',
    });
    assert.equal(r.code, 1, r.out);
    assert.match(r.out, /cycle between a, b, c: a -> b -> c -> a/);
    assert.match(r.out, /c -> a: c\.o uses a\b/);
    assert.doesNotMatch(r.out, /cycle between[^\n]*\bd\b/);
});

test('a cycle by includes alone fails and names the lines', () => {
    const r = check({
        'x.h': '#ifndef X_H\n#define X_H\n#include "y.h"\n#endif\n',
        'y.h': '#ifndef Y_H\n#define Y_H\n#include "x.h"\n#endif\n',
        'x.c': '#include "x.h"\nint x(void) { return 0; }\n',
    });
    assert.equal(r.code, 1, r.out);
    assert.match(r.out, /x -> y: x\.[ch] includes y\.h/);
    assert.match(r.out, /y -> x: y\.h includes x\.h/);
});

test('no objects: a setup error, not a pass', () => {
    const r = spawnSync('node', [SCRIPT, '/nonexistent-build-dir'], { encoding: 'utf8' });
    assert.equal(r.status, 2, r.stdout + r.stderr);
    assert.match(r.stderr, /build first/);
});
