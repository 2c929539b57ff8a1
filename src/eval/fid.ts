// The Fréchet distance between two sets of features (FID when the features are Inception pool3,
// Heusel et al. 2017): the 2-Wasserstein distance between the Gaussians fitted to each set,
//
//   d² = |mu1 - mu2|² + Tr(S1) + Tr(S2) - 2 Tr((S1 S2)^(1/2)),
//
// with unbiased covariances (divided by N - 1, numpy's np.cov as pytorch-fid uses). Everything is
// computed in float64 by libtorch. The trace of the matrix square root is computed without a
// general (non-symmetric) sqrtm: S1 S2 is similar to the symmetric positive semi-definite
// M = S1^(1/2) S2 S1^(1/2) (S1^(1/2) from the eigendecomposition of S1, negative round-off
// eigenvalues clamped to 0), so Tr((S1 S2)^(1/2)) = sum_i sqrt(max(lambda_i(M), 0)). This is exact
// for singular covariances too (fewer images than dimensions, where scipy's sqrtm, and so
// pytorch-fid, needs an eps * I offset and may return complex round-off), and agrees with
// scipy.linalg.sqrtm where that is accurate (test/fixtures/make_fid_reference.py).
//
// Feature-agnostic: Inception features (src/eval/features.ts), or a domain network's.
//
//   featureStats(features: Tensor [N, D]) -> { mean: Tensor [D], cov: Tensor [D, D], count }   (float64)
//   frechetDistance(a: FeatureStats, b: FeatureStats) -> number
//   fid(a: Tensor [Na, D], b: Tensor [Nb, D]) -> number      (= frechetDistance of their stats)
//   saveFeatureStats(file, stats) / loadFeatureStats(file)    (reference statistics, safetensors)
import * as torch from '../torch/index.js';
import { F, isFloating, loadSafetensors, saveSafetensors, type Tensor } from '../torch/index.js';

export interface FeatureStats {
  /** float64 [D]. */
  mean: Tensor;
  /** float64 [D, D], divided by count - 1. */
  cov: Tensor;
  /** How many feature vectors made them. */
  count: number;
}

/** Checks that x is a floating-point feature matrix [N, D] with N >= minRows. */
export function checkFeatures(fn: string, name: string, x: Tensor, minRows: number): void {
  if (x.ndim !== 2)
    throw new TypeError(`${fn}: ${name} must be a feature matrix [N, D], got shape [${x.shape.join(', ')}]`);
  if (!isFloating(x.dtype)) throw new TypeError(`${fn}: ${name} must be floating point, got ${x.dtype}`);
  if (x.shape[0]! < minRows)
    throw new RangeError(`${fn}: ${name} has ${x.shape[0]} feature vectors; at least ${minRows} are needed`);
  if (x.shape[1]! < 1) throw new RangeError(`${fn}: ${name} has no feature dimension`);
}

/** Mean and unbiased covariance of features [N, D] (N >= 2), in float64. */
export function featureStats(features: Tensor): FeatureStats {
  checkFeatures('featureStats', 'features', features, 2);
  const n = features.shape[0]!;
  return torch.tidy(() => {
    const x = features.to('float64');
    if (!x.abs().max().lt(Infinity).item())
      throw new RangeError('featureStats: the features contain NaN or infinite values');
    const mean = x.mean(0);
    const centred = x.sub(mean);
    const cov = centred
      .t()
      .mm(centred)
      .div(n - 1);
    return { mean, cov: cov.add(cov.t()).mul(0.5), count: n };
  });
}

/** Tr((A B)^(1/2)) for symmetric positive semi-definite A and B (float64), via two symmetric eigendecompositions. */
export function traceSqrtProduct(a: Tensor, b: Tensor): number {
  return torch.tidy(() => {
    const ea = F.eigh(a);
    const rootA = ea.eigenvectors.mul(ea.eigenvalues.clamp(0).sqrt()).mm(ea.eigenvectors.t());
    const m = rootA.mm(b).mm(rootA);
    const lambda = F.eigh(m.add(m.t()).mul(0.5)).eigenvalues;
    return lambda.clamp(0).sqrt().sum().item();
  });
}

function checkStats(name: string, s: FeatureStats): void {
  const d = s.mean.shape[0];
  if (s.mean.ndim !== 1 || s.cov.ndim !== 2 || s.cov.shape[0] !== d || s.cov.shape[1] !== d) {
    throw new TypeError(
      `frechetDistance: ${name} must have mean [D] and cov [D, D], got [${s.mean.shape.join(', ')}] and [${s.cov.shape.join(', ')}]`,
    );
  }
}

/** The Fréchet distance between two Gaussians given as feature statistics (same D). */
export function frechetDistance(a: FeatureStats, b: FeatureStats): number {
  checkStats('a', a);
  checkStats('b', b);
  if (a.mean.shape[0] !== b.mean.shape[0]) {
    throw new TypeError(
      `frechetDistance: the feature dimensions differ (${a.mean.shape[0]} and ${b.mean.shape[0]}); compare features of one network`,
    );
  }
  return torch.tidy(() => {
    const s1 = a.cov.to('float64');
    const s2 = b.cov.to('float64');
    const diff = a.mean.to('float64').sub(b.mean.to('float64'));
    const meanTerm = F.dot(diff, diff).item();
    const traces = s1.diagonal().sum().item() + s2.diagonal().sum().item();
    const d2 = meanTerm + traces - 2 * traceSqrtProduct(s1, s2);
    // Round-off can take an exact 0 (identical sets) a hair below zero.
    return Math.max(d2, 0);
  });
}

/** FID between feature sets [Na, D] and [Nb, D] (each N >= 2). */
export function fid(a: Tensor, b: Tensor): number {
  checkFeatures('fid', 'the first feature set', a, 2);
  checkFeatures('fid', 'the second feature set', b, 2);
  if (a.shape[1] !== b.shape[1])
    throw new TypeError(
      `fid: the feature dimensions differ (${a.shape[1]} and ${b.shape[1]}); compare features of one network`,
    );
  const sa = featureStats(a);
  const sb = featureStats(b);
  try {
    return frechetDistance(sa, sb);
  } finally {
    torch.dispose([sa.mean, sa.cov, sb.mean, sb.cov]);
  }
}

/** Writes statistics as safetensors ('mean', 'cov', metadata count), e.g. a real set's, to reuse. */
export async function saveFeatureStats(
  file: string,
  s: FeatureStats,
  metadata: Record<string, string> = {},
): Promise<void> {
  await saveSafetensors(
    file,
    { mean: s.mean, cov: s.cov },
    { ...metadata, count: String(s.count), kind: 'dermosynth-feature-stats' },
  );
}

export async function loadFeatureStats(file: string): Promise<FeatureStats> {
  const { tensors, metadata } = await loadSafetensors(file);
  const mean = tensors.get('mean');
  const cov = tensors.get('cov');
  const count = Number(metadata.count);
  if (!mean || !cov || !Number.isInteger(count) || count < 2) {
    torch.dispose([...tensors.values()]);
    throw new Error(
      `${file}: not a feature-statistics file (needs tensors 'mean' and 'cov' and metadata 'count'; write it with saveFeatureStats)`,
    );
  }
  const s = { mean: mean.to('float64'), cov: cov.to('float64'), count };
  torch.dispose([...tensors.values()].filter((t) => t !== s.mean && t !== s.cov));
  try {
    checkStats(file, s);
  } catch (err) {
    torch.dispose([s.mean, s.cov]);
    throw err;
  }
  return s;
}
