// Train/val/test splits: the dataset's own split when every lesion has one, otherwise stratified
// by diagnosis, reproducible from the seed alone.
import { describe, expect, it } from 'vitest';
import type { LesionRecord, Split } from '../../src/data/dataset.js';
import { assignSplits, DEFAULT_SPLIT } from '../../src/data/split.js';
import { Rng } from '../../src/data/random.js';

function record(id: string, label: number | null, split: Split | null = null): LesionRecord {
  return {
    id,
    image: `/data/images/${id}.jpg`,
    mask: `/data/masks/${id}_segmentation.png`,
    label,
    split,
    synthetic: id.startsWith('SYN_'),
  };
}

/** `counts[k]` lesions of class k, ids interleaved across classes. */
function dataset(counts: number[]): LesionRecord[] {
  const out: LesionRecord[] = [];
  counts.forEach((n, k) => {
    for (let i = 0; i < n; i++) out.push(record(`ISIC_${String(k * 1000 + i).padStart(7, '0')}`, k));
  });
  return out;
}

const asObject = (m: Map<string, Split>): Record<string, Split> =>
  Object.fromEntries([...m].sort(([a], [b]) => (a < b ? -1 : 1)));

describe('assignSplits', () => {
  it('keeps the official split when every record has one', () => {
    const rs = [record('a', 0, 'train'), record('b', 1, 'test'), record('c', 2, 'val'), record('d', null, 'train')];
    const r = assignSplits(rs, { val: 0.5, test: 0.3, seed: 9 });
    expect(r.source).toBe('official');
    expect(asObject(r.splits)).toEqual({ a: 'train', b: 'test', c: 'val', d: 'train' });
  });

  it('splits by diagnosis when some record has no split', () => {
    const rs = [...dataset([10, 10]).map((r) => ({ ...r, split: 'test' as Split })), record('x', 0)];
    const r = assignSplits(rs);
    expect(r.source).toBe('stratified');
    expect(r.splits.size).toBe(21);
    expect([...r.splits.values()].filter((s) => s === 'train').length).toBeGreaterThan(10);
  });

  it('cuts every class in the requested proportions', () => {
    const counts = [3, 7, 40, 101, 1, 0, 16];
    const rs = dataset(counts);
    for (const o of [
      DEFAULT_SPLIT,
      { val: 0.1, test: 0.2, seed: 3 },
      { val: 0, test: 0.5, seed: 1 },
      { val: 0.33, test: 0, seed: 2 },
    ]) {
      const r = assignSplits(rs, o);
      expect(r.source).toBe('stratified');
      expect(r.splits.size).toBe(rs.length);
      counts.forEach((n, k) => {
        const mine = rs.filter((x) => x.label === k).map((x) => r.splits.get(x.id)!);
        const nVal = mine.filter((s) => s === 'val').length;
        const nTest = mine.filter((s) => s === 'test').length;
        const nTrain = mine.filter((s) => s === 'train').length;
        expect(nVal + nTest + nTrain).toBe(n);
        expect(Math.abs(nVal - Math.round(n * o.val)), `class ${k} val`).toBeLessThanOrEqual(1);
        expect(Math.abs(nTest - Math.round(n * o.test)), `class ${k} test`).toBeLessThanOrEqual(1);
        if (o.val === 0) expect(nVal).toBe(0);
        if (o.test === 0) expect(nTest).toBe(0);
      });
    }
  });

  it('treats unlabelled records as a class of their own', () => {
    const rs = [
      ...dataset([20]),
      ...Array.from({ length: 20 }, (_, i) => record(`u${String(i).padStart(2, '0')}`, null)),
    ];
    const r = assignSplits(rs, { val: 0.25, test: 0.25, seed: 4 });
    const unlabelled = rs.filter((x) => x.label === null).map((x) => r.splits.get(x.id));
    expect(unlabelled.filter((s) => s === 'val').length).toBe(5);
    expect(unlabelled.filter((s) => s === 'test').length).toBe(5);
  });

  it('is deterministic per seed and differs between seeds', () => {
    const rs = dataset([30, 30, 30]);
    const a = asObject(assignSplits(rs, { val: 0.2, test: 0.2, seed: 5 }).splits);
    const b = asObject(assignSplits(rs, { val: 0.2, test: 0.2, seed: 5 }).splits);
    expect(b).toEqual(a);
    const others = [6, 7, 2 ** 40].map((seed) => asObject(assignSplits(rs, { val: 0.2, test: 0.2, seed }).splits));
    for (const c of others) expect(c).not.toEqual(a);
  });

  it('does not depend on the order of the records', () => {
    const rs = dataset([13, 8, 25]);
    const o = { val: 0.15, test: 0.15, seed: 12 };
    const ref = asObject(assignSplits(rs, o).splits);
    for (const s of [1, 2, 3]) {
      const shuffled = new Rng(s).shuffle([...rs]);
      expect(asObject(assignSplits(shuffled, o).splits)).toEqual(ref);
    }
    expect(asObject(assignSplits([...rs].reverse(), o).splits)).toEqual(ref);
  });

  it('does not let one class’s cut depend on the other classes', () => {
    const o = { val: 0.2, test: 0.2, seed: 8 };
    const both = assignSplits(dataset([30, 30]), o).splits;
    const only0 = assignSplits(dataset([30]), o).splits;
    for (const [id, s] of only0) expect(both.get(id)).toBe(s);
  });

  it('rejects bad fractions with a RangeError', () => {
    const rs = dataset([5]);
    for (const o of [
      { val: -0.1, test: 0.1 },
      { val: 0.1, test: -0.01 },
      { val: 1, test: 0 },
      { val: 0, test: 1 },
      { val: 0.5, test: 0.5 },
      { val: 0.7, test: 0.4 },
      { val: Number.NaN, test: 0.1 },
      { val: 0.1, test: Number.NaN },
    ]) {
      expect(() => assignSplits(rs, { ...o, seed: 0 }), JSON.stringify(o)).toThrow(RangeError);
    }
    // Checked even when the official split would be used.
    expect(() => assignSplits([record('a', 0, 'train')], { val: 0.6, test: 0.6, seed: 0 })).toThrow(RangeError);
  });

  it('returns an empty split for no records', () => {
    const r = assignSplits([]);
    expect(r.splits.size).toBe(0);
    expect(r.source).toBe('stratified');
  });

  it('puts synthetic lesions in train and splits the real ones as if they were alone', () => {
    const real = dataset([40, 20]);
    const syn = [record('SYN_0000001', 1), record('SYN_0000002', 0, 'train'), record('SYN_0000003', 1)];
    const alone = assignSplits(real, { val: 0.25, test: 0.25, seed: 3 });
    const mixed = assignSplits([...syn, ...real], { val: 0.25, test: 0.25, seed: 3 });
    for (const r of syn) expect(mixed.splits.get(r.id)).toBe('train');
    for (const r of real) expect(mixed.splits.get(r.id)).toBe(alone.splits.get(r.id));
    // The official split of the real lesions is kept when synthetic ones come without a split.
    const official = assignSplits([record('ISIC_0000001', 0, 'test'), record('SYN_0000001', 0)]);
    expect(official.source).toBe('official');
    expect(official.splits.get('SYN_0000001')).toBe('train');
  });

  it('refuses a synthetic lesion placed in val or test', () => {
    expect(() => assignSplits([record('ISIC_0000001', 0, 'train'), record('SYN_0000009', 1, 'test')])).toThrow(
      /SYN_0000009.*real lesions only/,
    );
  });
});
