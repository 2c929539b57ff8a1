// The Kernel Inception Distance (Bińkowski et al. 2018) between two feature sets: the unbiased
// estimate of the squared maximum mean discrepancy with the cubic polynomial kernel
//
//   k(x, y) = (x·y / d + 1)^3                      (d the feature dimension)
//   MMD²_u = sum_{i != j} k(x_i, x_j) / (m (m - 1)) + sum_{i != j} k(y_i, y_j) / (m (m - 1))
//            - 2 sum_{i, j} k(x_i, y_j) / m²
//
// averaged over `subsets` random subsets of `subsetSize` vectors drawn without replacement from
// each set (independently per subset, as torch-fidelity and clean-fid do); the result is the mean
// and the (population) standard deviation over the subsets. Unbiased: KID(X, X') of two samples of
// one distribution is 0 in expectation and can be slightly negative. Float64 throughout.
//
// Subsets come from a seeded mulberry32 stream (src/data/random.ts Rng(seed)): for each subset,
// the first subsetSize entries of a partial Fisher-Yates shuffle of 0..Na-1 (j = rng.int(i, Na)
// for i = 0, 1, ...), then likewise of 0..Nb-1. test/fixtures/make_fid_reference.py draws the same.
//
//   kid(a: Tensor [Na, D], b: Tensor [Nb, D], { subsets?, subsetSize?, seed? }) -> { mean, std, subsets, subsetSize }
//   mmd2Unbiased(x: Tensor [m, D], y: Tensor [m', D]) -> number    (one pair of sets, m, m' >= 2)
//
// Defaults: 100 subsets of min(1000, half the smaller set) vectors (at least 2). torch-fidelity and
// clean-fid use 1000 (or the whole smaller set when it is smaller); for the few hundred images of
// an evaluation here, half the smaller set keeps the subsets different from one another, so the
// standard deviation says something about the estimate's spread (the mean is unbiased at any size).
import * as torch from '../torch/index.js';
import type { Tensor } from '../torch/index.js';
import { Rng } from '../data/random.js';
import { checkFeatures } from './fid.js';

export interface KidOptions {
  /** Number of subsets; default 100. */
  subsets?: number;
  /** Vectors per subset from each set; default min(1000, floor(min(Na, Nb) / 2)), at least 2. */
  subsetSize?: number;
  /** Seed of the subset draws; default 0. */
  seed?: number;
}

export interface KidResult {
  mean: number;
  std: number;
  subsets: number;
  subsetSize: number;
}

export const KID_DEFAULT_SUBSETS = 100;
export const KID_MAX_SUBSET_SIZE = 1000;

/** The default subset size for sets of na and nb vectors. */
export function defaultKidSubsetSize(na: number, nb: number): number {
  return Math.max(2, Math.min(KID_MAX_SUBSET_SIZE, Math.floor(Math.min(na, nb) / 2)));
}

/** (x yᵀ / d + 1)^3, float64. */
function polyKernel(x: Tensor, y: Tensor, d: number): Tensor {
  return x.mm(y.t()).div(d).add(1).pow(3);
}

/** The unbiased MMD² with the cubic kernel between x [m, D] and y [n, D] (float64 inputs). */
function mmd2(x: Tensor, y: Tensor): number {
  const m = x.shape[0]!;
  const n = y.shape[0]!;
  const d = x.shape[1]!;
  return torch.tidy(() => {
    const kxx = polyKernel(x, x, d);
    const kyy = polyKernel(y, y, d);
    const kxy = polyKernel(x, y, d);
    const sxx = kxx.sum().item() - kxx.diagonal().sum().item();
    const syy = kyy.sum().item() - kyy.diagonal().sum().item();
    return sxx / (m * (m - 1)) + syy / (n * (n - 1)) - (2 * kxy.sum().item()) / (m * n);
  });
}

/** The unbiased MMD² (cubic polynomial kernel) of two whole feature sets [m, D] and [n, D], m, n >= 2. */
export function mmd2Unbiased(x: Tensor, y: Tensor): number {
  checkFeatures('mmd2Unbiased', 'x', x, 2);
  checkFeatures('mmd2Unbiased', 'y', y, 2);
  if (x.shape[1] !== y.shape[1])
    throw new TypeError(`mmd2Unbiased: the feature dimensions differ (${x.shape[1]} and ${y.shape[1]})`);
  return torch.tidy(() => mmd2(x.to('float64'), y.to('float64')));
}

/** The first `m` entries of a partial Fisher-Yates shuffle of 0..n-1 (the subset draw, see the header). */
export function drawSubset(rng: Rng, n: number, m: number): number[] {
  const idx = Array.from({ length: n }, (_, i) => i);
  for (let i = 0; i < m; i++) {
    const j = rng.int(i, n);
    const t = idx[i]!;
    idx[i] = idx[j]!;
    idx[j] = t;
  }
  return idx.slice(0, m);
}

function positiveInt(name: string, v: number, min: number): number {
  if (!Number.isInteger(v) || v < min) throw new RangeError(`kid: ${name} must be an integer >= ${min}, got ${v}`);
  return v;
}

/** KID between feature sets a [Na, D] and b [Nb, D] (see the header). */
export function kid(a: Tensor, b: Tensor, o: KidOptions = {}): KidResult {
  checkFeatures('kid', 'the first feature set', a, 2);
  checkFeatures('kid', 'the second feature set', b, 2);
  if (a.shape[1] !== b.shape[1])
    throw new TypeError(
      `kid: the feature dimensions differ (${a.shape[1]} and ${b.shape[1]}); compare features of one network`,
    );
  const na = a.shape[0]!;
  const nb = b.shape[0]!;
  const subsets = positiveInt('subsets', o.subsets ?? KID_DEFAULT_SUBSETS, 1);
  const subsetSize = positiveInt('subsetSize', o.subsetSize ?? defaultKidSubsetSize(na, nb), 2);
  if (subsetSize > Math.min(na, nb)) {
    throw new RangeError(
      `kid: subsetSize ${subsetSize} is larger than the smaller feature set (${Math.min(na, nb)} vectors); use at most that`,
    );
  }
  const rng = new Rng(positiveInt('seed', o.seed ?? 0, 0));
  const values = torch.tidy(() => {
    const x = a.to('float64');
    const y = b.to('float64');
    const out: number[] = [];
    for (let s = 0; s < subsets; s++) {
      const ia = drawSubset(rng, na, subsetSize);
      const ib = drawSubset(rng, nb, subsetSize);
      out.push(
        torch.tidy(() => {
          const xs = x.indexSelect(0, torch.tensor(Int32Array.from(ia), { dtype: 'int64', device: x.device }));
          const ys = y.indexSelect(0, torch.tensor(Int32Array.from(ib), { dtype: 'int64', device: x.device }));
          return mmd2(xs, ys);
        }),
      );
    }
    return out;
  });
  const mean = values.reduce((s, v) => s + v, 0) / subsets;
  const std = Math.sqrt(values.reduce((s, v) => s + (v - mean) ** 2, 0) / subsets);
  return { mean, std, subsets, subsetSize };
}
