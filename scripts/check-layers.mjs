#!/usr/bin/env node
// check-layers.mjs - fails when the server's modules depend on each other in
// a cycle. A module is a file stem of server/ (x.h and x.c are module x). An
// edge a -> b means a depends on b, because:
//   - a.c or a.h has `#include "b.h"` (sources read from SRC_DIR), or
//   - a.o uses a symbol that b.o defines (`nm` of every object file of the
//     seatmap_core library in BUILD_DIR, embedded.c included).
// Every strongly connected component of more than one module (Tarjan) is a
// cycle: it is printed with one cycle through it and every edge inside it,
// and the exit status is 1.
//
// Usage: node scripts/check-layers.mjs BUILD_DIR [--print] [--src SRC_DIR]
//          [--objects DIR]
//   --print    also print the layers, lowest first: a module depends only on
//              modules of lower layers (a cycle is printed as one {group}).
//   --src      the sources (default: server/ next to this script).
//   --objects  where the object files are (default:
//              BUILD_DIR/CMakeFiles/seatmap_core.dir); every *.o under it.
// Exit status: 0 no cycle, 1 cycle, 2 usage or setup error.
// Needs Node 20 and binutils' nm; no npm packages.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = path.dirname(fileURLToPath(import.meta.url));

function usage(msg) {
    if (msg) console.error(`check-layers: ${msg}`);
    console.error('usage: node scripts/check-layers.mjs BUILD_DIR [--print] [--src DIR] [--objects DIR]');
    process.exit(2);
}

function parseArgs(argv) {
    const opt = { build: null, print: false, src: path.join(HERE, '..', 'server'), objects: null };
    for (let i = 0; i < argv.length; i++) {
        const a = argv[i];
        if (a === '--print') opt.print = true;
        else if (a === '--src' || a === '--objects') {
            if (i + 1 >= argv.length) usage(`${a} needs a directory`);
            opt[a.slice(2)] = argv[++i];
        } else if (a === '-h' || a === '--help') usage();
        else if (a.startsWith('-')) usage(`unknown option ${a}`);
        else if (opt.build === null) opt.build = a;
        else usage(`unexpected argument ${a}`);
    }
    if (opt.build === null && opt.objects === null) usage('BUILD_DIR is required');
    if (opt.objects === null) opt.objects = path.join(opt.build, 'CMakeFiles', 'seatmap_core.dir');
    return opt;
}

// "dir/x.c" -> "x"; "dir/x.c.o" -> "x"; "dir/x.o" -> "x".
function moduleOf(file) {
    return path.basename(file).replace(/\.o$/, '').replace(/\.[ch]$/, '');
}

class Graph {
    constructor() {
        this.nodes = new Set();
        this.edges = new Map(); // from -> Map(to -> Set of reasons)
    }
    addNode(n) {
        this.nodes.add(n);
        if (!this.edges.has(n)) this.edges.set(n, new Map());
    }
    addEdge(from, to, reason) {
        if (from === to) return;
        this.addNode(from);
        this.addNode(to);
        const out = this.edges.get(from);
        if (!out.has(to)) out.set(to, new Set());
        out.get(to).add(reason);
    }
    successors(n) {
        return [...this.edges.get(n).keys()].sort();
    }
    reasons(from, to) {
        return [...this.edges.get(from).get(to)].sort();
    }
}

function addIncludes(g, srcDir) {
    let files;
    try {
        files = fs.readdirSync(srcDir).filter((f) => /\.[ch]$/.test(f)).sort();
    } catch (e) {
        usage(`cannot read sources in ${srcDir}: ${e.message}`);
    }
    const local = new Set(files);
    for (const f of files) {
        g.addNode(moduleOf(f));
        const text = fs.readFileSync(path.join(srcDir, f), 'utf8');
        for (const m of text.matchAll(/^[ \t]*#[ \t]*include[ \t]*"([^"]+)"/gm)) {
            const inc = path.basename(m[1]);
            if (local.has(inc)) g.addEdge(moduleOf(f), moduleOf(inc), `${f} includes ${inc}`);
        }
    }
    return files.length;
}

function findObjects(dir) {
    const out = [];
    const walk = (d) => {
        for (const e of fs.readdirSync(d, { withFileTypes: true })) {
            const p = path.join(d, e.name);
            if (e.isDirectory()) walk(p);
            else if (e.name.endsWith('.o')) out.push(p);
        }
    };
    try {
        walk(dir);
    } catch (e) {
        usage(`cannot read object files in ${dir}: ${e.message} (build first)`);
    }
    return out.sort();
}

// nm -P: "NAME TYPE [VALUE SIZE]". Upper case but U: defined here (T, D, B,
// R, C, W, V, ...); U: used here, defined elsewhere. Lower case: local.
function symbolsOf(obj) {
    let text;
    try {
        text = execFileSync('nm', ['-P', obj], { encoding: 'utf8', maxBuffer: 64 << 20 });
    } catch (e) {
        console.error(`check-layers: nm ${obj} failed: ${e.message}`);
        process.exit(2);
    }
    const defined = [];
    const used = [];
    for (const line of text.split('\n')) {
        const [name, type] = line.split(' ');
        if (!name || !type) continue;
        if (type === 'U') used.push(name);
        else if (/^[A-Z]$/.test(type)) defined.push(name);
    }
    return { defined, used };
}

function addCalls(g, objects) {
    const definer = new Map();
    const syms = objects.map((o) => ({ mod: moduleOf(o), ...symbolsOf(o) }));
    for (const s of syms) {
        g.addNode(s.mod);
        for (const d of s.defined) if (!definer.has(d)) definer.set(d, s.mod);
    }
    for (const s of syms) {
        const byTarget = new Map();
        for (const u of s.used) {
            const to = definer.get(u);
            if (!to || to === s.mod) continue;
            if (!byTarget.has(to)) byTarget.set(to, []);
            byTarget.get(to).push(u);
        }
        for (const [to, names] of byTarget) {
            names.sort();
            const shown = names.length > 6 ? [...names.slice(0, 6), `... ${names.length - 6} more`] : names;
            g.addEdge(s.mod, to, `${s.mod}.o uses ${shown.join(', ')}`);
        }
    }
}

// Tarjan's strongly connected components, iterative (no recursion limit).
// Components come out in reverse topological order: a component only
// depends on components found before it.
function tarjan(g) {
    let index = 0;
    const idx = new Map();
    const low = new Map();
    const onStack = new Set();
    const stack = [];
    const comps = [];
    for (const root of [...g.nodes].sort()) {
        if (idx.has(root)) continue;
        const work = [{ v: root, succ: g.successors(root), i: 0 }];
        idx.set(root, index);
        low.set(root, index++);
        stack.push(root);
        onStack.add(root);
        while (work.length) {
            const top = work[work.length - 1];
            if (top.i < top.succ.length) {
                const w = top.succ[top.i++];
                if (!idx.has(w)) {
                    idx.set(w, index);
                    low.set(w, index++);
                    stack.push(w);
                    onStack.add(w);
                    work.push({ v: w, succ: g.successors(w), i: 0 });
                } else if (onStack.has(w)) {
                    low.set(top.v, Math.min(low.get(top.v), idx.get(w)));
                }
                continue;
            }
            work.pop();
            if (work.length) {
                const parent = work[work.length - 1].v;
                low.set(parent, Math.min(low.get(parent), low.get(top.v)));
            }
            if (low.get(top.v) === idx.get(top.v)) {
                const comp = [];
                let w;
                do {
                    w = stack.pop();
                    onStack.delete(w);
                    comp.push(w);
                } while (w !== top.v);
                comps.push(comp.sort());
            }
        }
    }
    return comps;
}

// One cycle through comp's first module, by breadth-first search inside comp.
function oneCycle(g, comp) {
    const inComp = new Set(comp);
    const start = comp[0];
    const prev = new Map();
    const queue = [start];
    const seen = new Set([start]);
    while (queue.length) {
        const v = queue.shift();
        for (const w of g.successors(v)) {
            if (!inComp.has(w)) continue;
            if (w === start) {
                const path_ = [v];
                for (let p = v; p !== start; ) path_.push((p = prev.get(p)));
                return [...path_.reverse(), start];
            }
            if (!seen.has(w)) {
                seen.add(w);
                prev.set(w, v);
                queue.push(w);
            }
        }
    }
    return comp;
}

function printLayers(g, comps) {
    const compOf = new Map();
    comps.forEach((c, i) => c.forEach((m) => compOf.set(m, i)));
    const layer = new Array(comps.length).fill(0);
    // comps is in reverse topological order: dependencies are already placed.
    comps.forEach((c, i) => {
        for (const m of c)
            for (const w of g.successors(m)) {
                const j = compOf.get(w);
                if (j !== i) layer[i] = Math.max(layer[i], layer[j] + 1);
            }
    });
    const rows = [];
    comps.forEach((c, i) => {
        (rows[layer[i]] ??= []).push(c.length > 1 ? `{${c.join(', ')}}` : c[0]);
    });
    console.log('layers (a module depends only on modules of lower layers):');
    rows.forEach((r, i) => console.log(`  ${i}: ${r.sort().join(' ')}`));
}

function main() {
    const opt = parseArgs(process.argv.slice(2));
    const g = new Graph();
    const nsrc = addIncludes(g, opt.src);
    const objects = findObjects(opt.objects);
    if (objects.length === 0) usage(`no object files under ${opt.objects} (build first)`);
    addCalls(g, objects);
    const comps = tarjan(g);
    const cycles = comps.filter((c) => c.length > 1);
    let nedges = 0;
    for (const n of g.nodes) nedges += g.successors(n).length;
    console.log(
        `check-layers: ${g.nodes.size} modules, ${nedges} edges ` +
            `(${nsrc} sources, ${objects.length} objects)`,
    );
    if (opt.print) printLayers(g, comps);
    if (cycles.length === 0) {
        console.log('check-layers: no cycle');
        return 0;
    }
    for (const comp of cycles) {
        console.log(`\ncheck-layers: cycle between ${comp.join(', ')}: ${oneCycle(g, comp).join(' -> ')}`);
        console.log('  edges inside it:');
        for (const a of comp)
            for (const b of g.successors(a)) {
                if (!comp.includes(b)) continue;
                console.log(`    ${a} -> ${b}: ${g.reasons(a, b).join('; ')}`);
            }
    }
    console.log(
        `\ncheck-layers: FAILED: ${cycles.length} cycle(s). A lower module must not call or ` +
            'include a higher one: pass it a callback instead (STYLE.md, "callbacks that reach upward").',
    );
    return 1;
}

process.exit(main());
