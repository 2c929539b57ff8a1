// AUC (Mann-Whitney, ties half), midranks and ROC curve points against hand-computed cases.
import { describe, expect, it } from 'vitest';
import { aucFromClasses, midranks, rocAuc, rocCurve, trapezoidArea } from '../../src/eval/auc.js';
import { Rng } from '../../src/data/random.js';

/** The definition: over all positive-negative pairs, 1 if the positive scores higher, 1/2 if tied. */
function bruteAuc(scores: number[], labels: number[]): number {
  let s = 0;
  let pairs = 0;
  scores.forEach((a, i) =>
    scores.forEach((b, j) => {
      if (labels[i] === 1 && labels[j] === 0) {
        pairs++;
        s += a > b ? 1 : a === b ? 0.5 : 0;
      }
    }),
  );
  return s / pairs;
}

describe('midranks', () => {
  it('gives tied values the mean of their ranks', () => {
    expect([...midranks([10, 20, 20, 5])]).toEqual([2, 3.5, 3.5, 1]);
    expect([...midranks([3, 3, 3])]).toEqual([2, 2, 2]);
    expect([...midranks([])]).toEqual([]);
  });
});

describe('rocAuc', () => {
  it('hand-computed cases', () => {
    // 4 pairs: 0.35 > 0.1, 0.35 < 0.4, 0.8 > 0.1, 0.8 > 0.4 -> 3/4.
    expect(rocAuc([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1])).toBe(0.75);
    // Ties count half: positives {1, 2}, negatives {1, 0}: 0.5 + 1 + 1 + 1 = 3.5 of 4.
    expect(rocAuc([1, 2, 1, 0], [1, 1, 0, 0])).toBe(0.875);
    expect(rocAuc([5, 5, 5, 5, 5], [1, 0, 1, 0, 0])).toBe(0.5);
    expect(rocAuc([0.9, 0.8, 0.2, 0.1], [1, 1, 0, 0])).toBe(1);
    expect(rocAuc([0.9, 0.8, 0.2, 0.1], [0, 0, 1, 1])).toBe(0);
    expect(rocAuc([0.3, 0.7], [true, false])).toBe(0);
    // One positive among three negatives, scoring above two of them and tied with one: 2.5/3.
    expect(rocAuc([0.5, 0.1, 0.5, 0.2], [1, 0, 0, 0])).toBeCloseTo(2.5 / 3, 15);
  });

  it('equals the pairwise definition on random data with many ties', () => {
    const rng = new Rng(3);
    for (let t = 0; t < 20; t++) {
      const n = 5 + rng.int(0, 60);
      const labels = Array.from({ length: n }, (_, i) => (i < 2 ? i : rng.chance(0.3) ? 1 : 0));
      const scores = labels.map((l) => Math.round((rng.normal() + l) * 3) / 3);
      expect(rocAuc(scores, labels)).toBeCloseTo(bruteAuc(scores, labels), 14);
    }
  });

  it('refuses data without one of the classes, with mismatched lengths, or with bad values', () => {
    expect(() => rocAuc([0.1, 0.2], [1, 1])).toThrow(/both positive and negative cases, got 2 positive and 0 negative/);
    expect(() => rocAuc([0.1, 0.2], [0, 0])).toThrow(/got 0 positive and 2 negative/);
    expect(() => rocAuc([], [])).toThrow(/both positive and negative/);
    expect(() => rocAuc([0.1, 0.2, 0.3], [1, 0])).toThrow(/3 scores but 2 labels/);
    expect(() => rocAuc([0.1, NaN], [1, 0])).toThrow(/score 1 is NaN/);
    expect(() => rocAuc([0.1, 0.2], [1, 2])).toThrow(/label 1 is 2/);
    expect(aucFromClasses([1], [0])).toBe(1);
  });
});

describe('rocCurve', () => {
  it('steps through every distinct score, from (0,0) to (1,1)', () => {
    const pts = rocCurve([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1]);
    expect(pts.map((p) => [p.fpr, p.tpr, p.threshold])).toEqual([
      [0, 0, Infinity],
      [0, 0.5, 0.8],
      [0.5, 0.5, 0.4],
      [0.5, 1, 0.35],
      [1, 1, 0.1],
    ]);
    expect(trapezoidArea(pts)).toBe(0.75);
  });

  it('a tie between classes is one diagonal step, and the area is the AUC', () => {
    const scores = [1, 2, 1, 0];
    const labels = [1, 1, 0, 0];
    const pts = rocCurve(scores, labels);
    expect(pts.map((p) => [p.fpr, p.tpr])).toEqual([
      [0, 0],
      [0, 0.5],
      [0.5, 1],
      [1, 1],
    ]);
    expect(trapezoidArea(pts)).toBe(rocAuc(scores, labels));
    expect(() => rocCurve([1, 2], [1, 1])).toThrow(/ROC curve: .*both positive and negative/);
  });
});
