// The import graph of src/ as the architecture wants it (docs/architecture.md, "Layers"): no
// import cycles (type-only imports count: a cycle of types is a cycle of concepts), and adapters
// reached only through the composition root. ESLint enforces the layering per file
// (eslint.config.js); this checks the whole graph, which a per-file rule cannot.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, normalize, relative } from 'node:path';
import { test } from 'node:test';

const SRC = 'src';

const sources = (dir: string): string[] =>
  readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sources(path);
    return name.endsWith('.ts') ? [path] : [];
  });

/** Relative imports and re-exports of a file, resolved to repo paths. */
const importsOf = (file: string): string[] => {
  const text = readFileSync(file, 'utf8');
  const out: string[] = [];
  for (const m of text.matchAll(/(?:^|\n)\s*(?:import|export)\b[^;'"]*?from\s*['"](\.{1,2}\/[^'"]+)['"]/g))
    out.push(normalize(join(dirname(file), m[1] as string)));
  for (const m of text.matchAll(/import\(\s*['"](\.{1,2}\/[^'"]+)['"]\s*\)/g))
    out.push(normalize(join(dirname(file), m[1] as string)));
  return out;
};

const graph = (): Map<string, string[]> => {
  const files = sources(SRC);
  const known = new Set(files);
  return new Map(files.map((f) => [f, importsOf(f).filter((t) => known.has(t))]));
};

/** Strongly connected components with more than one file, or a file importing itself (Tarjan). */
const cycles = (g: Map<string, string[]>): string[][] => {
  let index = 0;
  const idx = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const on = new Set<string>();
  const out: string[][] = [];
  const visit = (v: string): void => {
    idx.set(v, index);
    low.set(v, index);
    index++;
    stack.push(v);
    on.add(v);
    for (const w of g.get(v) ?? []) {
      if (!idx.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v) as number, low.get(w) as number));
      } else if (on.has(w)) low.set(v, Math.min(low.get(v) as number, idx.get(w) as number));
    }
    if (low.get(v) === idx.get(v)) {
      const scc: string[] = [];
      for (;;) {
        const w = stack.pop() as string;
        on.delete(w);
        scc.push(w);
        if (w === v) break;
      }
      if (scc.length > 1 || (g.get(v) ?? []).includes(v)) out.push(scc.sort());
    }
  };
  for (const v of g.keys()) if (!idx.has(v)) visit(v);
  return out;
};

test('src/ has no import cycles (type-only imports included)', () => {
  const found = cycles(graph());
  assert.deepEqual(
    found.map((c) => c.join(' ↔ ')),
    [],
    'break each cycle by moving what both sides need into a module of its own',
  );
});

test('the cycle check finds a planted cycle', () => {
  const g = new Map([
    ['a.ts', ['b.ts']],
    ['b.ts', ['c.ts']],
    ['c.ts', ['a.ts']],
    ['d.ts', ['a.ts']],
  ]);
  assert.deepEqual(cycles(g), [['a.ts', 'b.ts', 'c.ts']]);
});

test('only the composition root (src/compose/) imports adapters, and no adapter imports another', () => {
  const bad: string[] = [];
  for (const [file, targets] of graph()) {
    const from = relative(SRC, file).split('/');
    for (const t of targets) {
      const to = relative(SRC, t).split('/');
      if (to[0] !== 'adapters') continue;
      if (from[0] === 'adapters' ? from[1] !== to[1] : from[0] !== 'compose') bad.push(`${file} → ${t}`);
    }
  }
  assert.deepEqual(bad, []);
});
