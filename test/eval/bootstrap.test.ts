// Stratified bootstrap: deterministic for a seed, class counts kept, percentile intervals.
import { describe, expect, it } from 'vitest';
import { bootstrapCis, percentileInterval, quantile, stratifiedBootstrap } from '../../src/eval/bootstrap.js';
import { rocAuc } from '../../src/eval/auc.js';
import { Rng } from '../../src/data/random.js';

describe('quantiles', () => {
  it('interpolate linearly between order statistics (numpy default)', () => {
    expect(quantile([4, 1, 3, 2], 0.25)).toBe(1.75); // numpy.quantile([1,2,3,4], 0.25)
    expect(quantile([4, 1, 3, 2], 0.5)).toBe(2.5);
    expect(quantile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 0.975)).toBeCloseTo(9.775, 12);
    expect(quantile([7], 0.3)).toBe(7);
    const [lo, hi] = percentileInterval(Array.from({ length: 101 }, (_, i) => i));
    expect(lo).toBeCloseTo(2.5, 12);
    expect(hi).toBeCloseTo(97.5, 12);
    expect(() => quantile([], 0.5)).toThrow(/no values/);
    expect(() => percentileInterval([1, 2], 1)).toThrow(/level/);
  });
});

describe('stratifiedBootstrap', () => {
  const rng = new Rng(5);
  const labels = Array.from({ length: 60 }, (_, i) => (i % 3 === 0 ? 1 : 0));
  const scores = labels.map((l) => rng.normal() + 1.2 * l);

  it('keeps each class count in every resample and draws only from the class', () => {
    stratifiedBootstrap(
      labels,
      (idx) => {
        const pos = [...idx].filter((i) => labels[i] === 1).length;
        expect(pos).toBe(20);
        expect(idx.length).toBe(60);
        return [0];
      },
      { replicates: 50, seed: 1 },
    );
  });

  it('is deterministic for a seed and differs between seeds', () => {
    const stat = (idx: Int32Array) => [
      rocAuc(
        [...idx].map((i) => scores[i]!),
        [...idx].map((i) => labels[i]!),
      ),
    ];
    const a = bootstrapCis(labels, stat, { replicates: 200, seed: 7 });
    const b = bootstrapCis(labels, stat, { replicates: 200, seed: 7 });
    const c = bootstrapCis(labels, stat, { replicates: 200, seed: 8 });
    expect(a).toEqual(b);
    expect(a).not.toEqual(c);
    const auc = rocAuc(scores, labels);
    expect(a[0]![0]).toBeLessThan(auc);
    expect(a[0]![1]).toBeGreaterThan(auc);
    expect(a[0]![1] - a[0]![0]).toBeLessThan(0.5);
  });

  it('refuses bad options', () => {
    expect(() => stratifiedBootstrap(labels, () => [0], { replicates: 0 })).toThrow(/replicates/);
    expect(() => stratifiedBootstrap([], () => [0])).toThrow(/no cases/);
  });
});
