// DeLong, DeLong & Clarke-Pearson (1988): the variance and covariance of the AUCs of ROC curves
// measured on the same cases, and the z test of their difference, in the fast form of Sun & Xu
// (2014, IEEE Signal Processing Letters 21(11)): each curve's placement values ("structural
// components") come from three midrank computations, O(N log N) per curve instead of O(m n).
//
// For curve k with positives X (m of them) and negatives Y (n): with Tz the midranks of X and Y
// pooled, Tx those of X alone and Ty those of Y alone,
//   V10[i] = (Tz[i] - Tx[i]) / n        (the share of negatives below positive i, ties half)
//   V01[j] = 1 - (Tz[m + j] - Ty[j]) / m (the share of positives above negative j, ties half)
//   AUC = mean(V10) = mean(V01),  S = cov(V10) / m + cov(V01) / n   (sample covariances, n - 1)
// and z = (AUC1 - AUC2) / sqrt(S11 + S22 - 2 S12), two-sided p from the standard normal.
import { midranks, splitByClass } from './auc.js';
import { normalQuantile, twoSidedP } from './normal.js';

export interface PlacementValues {
  auc: number;
  v10: Float64Array;
  v01: Float64Array;
}

/** Placement values of one curve, from its positive and negative cases' scores. */
export function placementValues(positives: ArrayLike<number>, negatives: ArrayLike<number>): PlacementValues {
  const m = positives.length;
  const n = negatives.length;
  const z = new Float64Array(m + n);
  z.set(positives as ArrayLike<number>, 0);
  z.set(negatives as ArrayLike<number>, m);
  const tz = midranks(z);
  const tx = midranks(positives);
  const ty = midranks(negatives);
  const v10 = new Float64Array(m);
  const v01 = new Float64Array(n);
  let sum = 0;
  for (let i = 0; i < m; i++) {
    v10[i] = (tz[i]! - tx[i]!) / n;
    sum += v10[i]!;
  }
  for (let j = 0; j < n; j++) v01[j] = 1 - (tz[m + j]! - ty[j]!) / m;
  return { auc: sum / m, v10, v01 };
}

function covariance(a: Float64Array, b: Float64Array): number {
  const n = a.length;
  if (n < 2) return 0;
  let ma = 0;
  let mb = 0;
  for (let i = 0; i < n; i++) {
    ma += a[i]!;
    mb += b[i]!;
  }
  ma /= n;
  mb /= n;
  let s = 0;
  for (let i = 0; i < n; i++) s += (a[i]! - ma) * (b[i]! - mb);
  return s / (n - 1);
}

export interface DelongCovariance {
  aucs: number[];
  /** The AUCs' covariance matrix (variances on the diagonal). */
  covariance: number[][];
  positives: number;
  negatives: number;
}

/** AUCs of several score sets on the same cases and DeLong's covariance matrix of them. */
export function delongCovariance(
  scores: readonly ArrayLike<number>[],
  labels: ArrayLike<number | boolean>,
): DelongCovariance {
  if (scores.length === 0) throw new RangeError('DeLong: give at least one set of scores');
  const parts = scores.map((s, k) => {
    const { positives, negatives } = splitByClass(s, labels, `DeLong (scores ${k + 1})`);
    return placementValues(positives, negatives);
  });
  const m = parts[0]!.v10.length;
  const n = parts[0]!.v01.length;
  const cov = parts.map((a) => parts.map((b) => covariance(a.v10, b.v10) / m + covariance(a.v01, b.v01) / n));
  return { aucs: parts.map((p) => p.auc), covariance: cov, positives: m, negatives: n };
}

export interface DelongTest {
  auc1: number;
  auc2: number;
  var1: number;
  var2: number;
  covariance: number;
  /** auc1 - auc2. */
  difference: number;
  /** Its standard error. */
  se: number;
  z: number;
  /** Two-sided p-value (1 when both curves are the same). */
  p: number;
  /** 95% confidence interval of the difference (normal approximation). */
  ci95: [number, number];
  positives: number;
  negatives: number;
}

/**
 * DeLong's test for two correlated ROC curves: two sets of scores for the same cases (same
 * order, same labels). Identical curves give z = 0 and p = 1, as pROC.
 */
export function delongTest(
  scores1: ArrayLike<number>,
  scores2: ArrayLike<number>,
  labels: ArrayLike<number | boolean>,
): DelongTest {
  if (scores1.length !== scores2.length) {
    throw new RangeError(
      `DeLong: the two score sets have ${scores1.length} and ${scores2.length} cases; a paired test needs the same cases in the same order`,
    );
  }
  const c = delongCovariance([scores1, scores2], labels);
  const [auc1, auc2] = c.aucs as [number, number];
  const var1 = c.covariance[0]![0]!;
  const var2 = c.covariance[1]![1]!;
  const cov12 = c.covariance[0]![1]!;
  const difference = auc1 - auc2;
  const v = var1 + var2 - 2 * cov12;
  const se = Math.sqrt(Math.max(0, v));
  // Zero variance of the difference: the curves rank every pair the same way (z 0, p 1).
  const z = se > 0 ? difference / se : difference === 0 ? 0 : Math.sign(difference) * Infinity;
  const q = normalQuantile(0.975);
  return {
    auc1,
    auc2,
    var1,
    var2,
    covariance: cov12,
    difference,
    se,
    z,
    p: twoSidedP(z),
    ci95: [difference - q * se, difference + q * se],
    positives: c.positives,
    negatives: c.negatives,
  };
}

/** DeLong's 95% confidence interval of one AUC (normal approximation, clipped to [0, 1]). */
export function delongAucCi(
  scores: ArrayLike<number>,
  labels: ArrayLike<number | boolean>,
): { auc: number; variance: number; ci95: [number, number] } {
  const c = delongCovariance([scores], labels);
  const auc = c.aucs[0]!;
  const variance = c.covariance[0]![0]!;
  const h = normalQuantile(0.975) * Math.sqrt(variance);
  return { auc, variance, ci95: [Math.max(0, auc - h), Math.min(1, auc + h)] };
}
