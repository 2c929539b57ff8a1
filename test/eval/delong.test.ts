// DeLong's test against the values pROC's own test suite asserts for roc.test on the aSAH data
// (xrobin/pROC tests/testthat/test-roc.test.R, DeLong, paired, two-sided), the AUCs pROC documents
// for it, and the slow O(m n) form of DeLong et al. (1988) on random data with ties.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { delongAucCi, delongCovariance, delongTest, placementValues } from '../../src/eval/delong.js';
import { erfc, normalCdf, normalQuantile, twoSidedP } from '../../src/eval/normal.js';
import { Rng } from '../../src/data/random.js';

/** test/fixtures/asah.csv, extracted from pROC's data/aSAH.RData by make_asah_csv.py. */
function aSAH(): { outcome: number[]; wfns: number[]; s100b: number[]; ndka: number[] } {
  const lines = readFileSync(new URL('../fixtures/asah.csv', import.meta.url), 'utf8')
    .trim()
    .split('\n');
  const head = lines[0]!.split(',');
  const rows = lines.slice(1).map((l) => l.split(','));
  const col = (name: string) => rows.map((r) => r[head.indexOf(name)]!);
  return {
    outcome: col('outcome').map((v) => (v === 'Poor' ? 1 : 0)),
    wfns: col('wfns').map(Number),
    s100b: col('s100b').map(Number),
    ndka: col('ndka').map(Number),
  };
}

describe('the standard normal helpers', () => {
  it('erfc agrees with Python math.erfc to 1e-14 relative', () => {
    // /usr/bin/python3 -c "import math; print(repr(math.erfc(x)))"
    const ref: [number, number][] = [
      [0.1, 0.8875370839817152],
      [0.5, 0.4795001221869535],
      [1, 0.15729920705028513],
      [1.5, 0.033894853524689274],
      [1.99, 0.004888586800383003],
      [2, 0.004677734981047265],
      [2.5, 0.0004069520174449589],
      [3, 2.2090496998585438e-5],
      [4, 1.541725790028002e-8],
      [5, 1.5374597944280351e-12],
      [7, 4.183825607779414e-23],
      [10, 2.088487583762545e-45],
    ];
    for (const [x, r] of ref) expect(Math.abs(erfc(x) - r) / r, `erfc(${x})`).toBeLessThan(1e-14);
    expect(erfc(-1)).toBeCloseTo(2 - 0.15729920705028513, 15);
    expect(normalCdf(0)).toBe(0.5);
    expect(twoSidedP(0)).toBe(1);
    expect(normalQuantile(0.975)).toBeCloseTo(1.959963984540054, 13);
    expect(normalQuantile(0.025)).toBeCloseTo(-1.959963984540054, 13);
  });
});

describe('DeLong on the aSAH data, as pROC', () => {
  const d = aSAH();
  it('has the 113 patients, 41 with a poor outcome', () => {
    expect(d.outcome.length).toBe(113);
    expect(d.outcome.filter((o) => o === 1).length).toBe(41);
  });

  it('AUCs: wfns 0.8237, s100b 0.7314, ndka 0.6120 (pROC documentation)', () => {
    const c = delongCovariance([d.wfns, d.s100b, d.ndka], d.outcome);
    expect(c.aucs[0]).toBeCloseTo(0.8236789, 6);
    expect(c.aucs[1]).toBeCloseTo(0.7313686, 6);
    expect(c.aucs[2]).toBeCloseTo(0.611958, 6);
  });

  it('roc.test(wfns, s100b): Z 2.20898359144091, p 0.0271757822291882, CI 0.0104061769564846..0.174214419249478', () => {
    const t = delongTest(d.wfns, d.s100b, d.outcome);
    expect(t.z).toBeCloseTo(2.20898359144091, 11);
    expect(t.p).toBeCloseTo(0.0271757822291882, 12);
    expect(t.ci95[0]).toBeCloseTo(0.0104061769564846, 12);
    expect(t.ci95[1]).toBeCloseTo(0.174214419249478, 12);
    // Reversed: the same p, the opposite z.
    const r = delongTest(d.s100b, d.wfns, d.outcome);
    expect(r.z).toBeCloseTo(-t.z, 12);
    expect(r.p).toBeCloseTo(t.p, 14);
  });

  it('roc.test(wfns, ndka) and roc.test(ndka, s100b)', () => {
    const t2 = delongTest(d.wfns, d.ndka, d.outcome);
    expect(t2.z).toBeCloseTo(2.79777591868904, 11);
    expect(t2.p).toBeCloseTo(0.00514557970691098, 13);
    expect(t2.ci95[0]).toBeCloseTo(0.0634011709339876, 12);
    expect(t2.ci95[1]).toBeCloseTo(0.3600405634833566, 12);
    const t3 = delongTest(d.ndka, d.s100b, d.outcome);
    expect(t3.z).toBeCloseTo(-1.39077002573558, 11);
    expect(t3.p).toBeCloseTo(0.164295175223054, 12);
    expect(t3.ci95[0]).toBeCloseTo(-0.2876917446341914, 12);
    expect(t3.ci95[1]).toBeCloseTo(0.0488706064228094, 12);
  });

  it('identical curves: Z 0, p 1', () => {
    const t = delongTest(d.wfns, d.wfns, d.outcome);
    expect(t.z).toBe(0);
    expect(t.p).toBe(1);
  });
});

describe('the fast form equals DeLong et al. (1988) computed pair by pair', () => {
  it('placement values, variances and covariance on random data with ties', () => {
    const rng = new Rng(11);
    for (let t = 0; t < 10; t++) {
      const n = 8 + rng.int(0, 50);
      const labels = Array.from({ length: n }, (_, i) => (i < 2 ? i : rng.chance(0.4) ? 1 : 0));
      const a = labels.map((l) => Math.round((rng.normal() + l) * 2) / 2);
      const b = labels.map((l, i) => Math.round((a[i]! + rng.normal() + 0.5 * l) * 2) / 2);
      const pos = (s: number[]) => s.filter((_, i) => labels[i] === 1);
      const neg = (s: number[]) => s.filter((_, i) => labels[i] === 0);
      const psi = (x: number, y: number) => (x > y ? 1 : x === y ? 0.5 : 0);
      const slow = (s: number[]) => ({
        v10: pos(s).map((x) => neg(s).reduce((acc, y) => acc + psi(x, y), 0) / neg(s).length),
        v01: neg(s).map((y) => pos(s).reduce((acc, x) => acc + psi(x, y), 0) / pos(s).length),
      });
      const cov = (u: number[], v: number[]) => {
        const mu = u.reduce((p, q) => p + q, 0) / u.length;
        const mv = v.reduce((p, q) => p + q, 0) / v.length;
        return u.reduce((acc, x, i) => acc + (x - mu) * (v[i]! - mv), 0) / (u.length - 1);
      };
      const sa = slow(a);
      const sb = slow(b);
      const fa = placementValues(pos(a), neg(a));
      [...fa.v10].forEach((v, i) => expect(v).toBeCloseTo(sa.v10[i]!, 14));
      [...fa.v01].forEach((v, i) => expect(v).toBeCloseTo(sa.v01[i]!, 14));
      const m = sa.v10.length;
      const k = sa.v01.length;
      const c = delongCovariance([a, b], labels);
      expect(c.covariance[0]![0]).toBeCloseTo(cov(sa.v10, sa.v10) / m + cov(sa.v01, sa.v01) / k, 14);
      expect(c.covariance[1]![1]).toBeCloseTo(cov(sb.v10, sb.v10) / m + cov(sb.v01, sb.v01) / k, 14);
      expect(c.covariance[0]![1]).toBeCloseTo(cov(sa.v10, sb.v10) / m + cov(sa.v01, sb.v01) / k, 14);
    }
  });

  it('one AUC: a confidence interval around it; errors name what is wrong', () => {
    const d = aSAH();
    const ci = delongAucCi(d.s100b, d.outcome);
    expect(ci.auc).toBeCloseTo(0.7313686, 6);
    expect(ci.ci95[0]).toBeLessThan(ci.auc);
    expect(ci.ci95[1]).toBeGreaterThan(ci.auc);
    expect(() => delongTest([1, 2, 3], [1, 2], [0, 1, 1])).toThrow(/same cases in the same order/);
    expect(() => delongTest([1, 2], [1, 2], [1, 1])).toThrow(/both positive and negative/);
  });
});
