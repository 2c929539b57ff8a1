// The architecture the README draws, checked on every run: imports between src/ folders flow one
// way (down the ranks below), and no module imports itself back through others (no import cycle).
// Only imports that exist at run time count: `import type` and imports whose every name is a type
// are erased by TypeScript.
import { describe, expect, it } from 'vitest';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

const SRC = path.resolve(import.meta.dirname, '../../src');

/** Lower imports nothing above it; equal ranks are siblings that may use each other. */
const RANK: Record<string, number> = {
  util: 0,
  torch: 1,
  nn: 2,
  data: 3,
  models: 3,
  run: 4,
  train: 5,
  eval: 5,
  synth: 5,
  export: 6,
  pipeline: 7,
  cli: 8,
  serve: 8,
};

function tsFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    return e.isDirectory() ? tsFiles(p) : p.endsWith('.ts') ? [p] : [];
  });
}

const IMPORT =
  /^\s*(import|export)\s+(type\s+)?([^'";]*?)\s*from\s*['"](\.[^'"]+)['"]|import\(\s*['"](\.[^'"]+)['"]\s*\)/gm;

/** The src files a file imports at run time. */
function runtimeImports(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const out: string[] = [];
  for (const m of text.matchAll(IMPORT)) {
    const spec = m[4] ?? m[5]!;
    if (m[2]) continue; // import type / export type
    const names = m[3]?.match(/^\{([^}]*)\}$/s)?.[1];
    if (names !== undefined) {
      const parts = names
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean);
      if (parts.length > 0 && parts.every((s) => s.startsWith('type '))) continue;
    }
    const target = path.resolve(path.dirname(file), spec).replace(/\.js$/, '.ts');
    if (target.startsWith(SRC + path.sep)) out.push(target);
  }
  return out;
}

const folder = (f: string) => path.relative(SRC, f).split(path.sep)[0]!;
const graph = new Map(tsFiles(SRC).map((f) => [f, runtimeImports(f)]));

describe('layering', () => {
  it('every src folder has a rank', () => {
    const folders = new Set([...graph.keys()].filter((f) => path.dirname(f) !== SRC).map(folder));
    expect([...folders].filter((d) => !(d in RANK))).toEqual([]);
  });

  it('no import runs upward', () => {
    const upward = [...graph].flatMap(([f, deps]) =>
      deps
        .filter((d) => RANK[folder(d)]! > RANK[folder(f)]!)
        .map((d) => `${path.relative(SRC, f)} -> ${path.relative(SRC, d)}`),
    );
    expect(upward).toEqual([]);
  });

  it('there is no import cycle', () => {
    // Tarjan's strongly connected components: any component of more than one file is a cycle.
    let next = 0;
    const index = new Map<string, number>();
    const low = new Map<string, number>();
    const stack: string[] = [];
    const onStack = new Set<string>();
    const cycles: string[][] = [];
    const visit = (v: string) => {
      index.set(v, next);
      low.set(v, next++);
      stack.push(v);
      onStack.add(v);
      for (const w of graph.get(v) ?? []) {
        if (!graph.has(w)) continue;
        if (!index.has(w)) {
          visit(w);
          low.set(v, Math.min(low.get(v)!, low.get(w)!));
        } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
      }
      if (low.get(v) === index.get(v)) {
        const c: string[] = [];
        let w: string;
        do {
          w = stack.pop()!;
          onStack.delete(w);
          c.push(path.relative(SRC, w));
        } while (w !== v);
        if (c.length > 1) cycles.push(c);
      }
    };
    for (const v of graph.keys()) if (!index.has(v)) visit(v);
    expect(cycles).toEqual([]);
  });

  it('sees the imports it checks (the scan is not vacuous)', () => {
    const trainer = [...graph.keys()].find((f) => f.endsWith(path.join('train', 'trainer.ts')))!;
    expect(graph.get(trainer)!.some((d) => folder(d) === 'run')).toBe(true);
    expect([...graph.values()].reduce((n, d) => n + d.length, 0)).toBeGreaterThan(500);
  });
});
