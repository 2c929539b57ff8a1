// Bootstrap confidence intervals: cases are resampled with replacement within each class
// (stratified, so every resample keeps the class counts and every AUC stays defined), with a
// seeded generator, and the interval is the percentiles of the replicates (linear interpolation
// between order statistics, numpy's default and R's type 7). Plain float64.
import { Rng } from '../data/random.js';

export interface BootstrapOptions {
  /** Replicates (default 2000, as pROC). */
  replicates?: number;
  seed?: number;
  /** Coverage of the interval (default 0.95). */
  level?: number;
}

/**
 * Runs `statistic` on `replicates` stratified resamples of the cases. `strata[i]` is case i's
 * class; `statistic` gets the resampled case indices (into the original arrays) and returns one
 * or more numbers. Returns replicates[k][j]: statistic j of replicate k.
 */
export function stratifiedBootstrap(
  strata: ArrayLike<number>,
  statistic: (indices: Int32Array) => number[],
  o: { replicates?: number; seed?: number } = {},
): number[][] {
  const replicates = o.replicates ?? 2000;
  if (!Number.isInteger(replicates) || replicates < 1)
    throw new RangeError(`bootstrap: replicates must be a positive integer, got ${replicates}`);
  const groups = new Map<number, number[]>();
  for (let i = 0; i < strata.length; i++) {
    const s = strata[i]!;
    if (!groups.has(s)) groups.set(s, []);
    groups.get(s)!.push(i);
  }
  if (groups.size === 0) throw new RangeError('bootstrap: no cases');
  const ordered = [...groups].sort((a, b) => a[0] - b[0]).map(([, v]) => v);
  const rng = new Rng(o.seed ?? 0, 0xb007);
  const out: number[][] = [];
  const idx = new Int32Array(strata.length);
  for (let r = 0; r < replicates; r++) {
    let k = 0;
    for (const g of ordered) for (let j = 0; j < g.length; j++) idx[k++] = g[rng.int(0, g.length)]!;
    out.push(statistic(idx));
  }
  return out;
}

/** The q-quantile (0..1) of values by linear interpolation between order statistics (type 7). */
export function quantile(values: ArrayLike<number>, q: number): number {
  if (values.length === 0) throw new RangeError('quantile: no values');
  if (!(q >= 0 && q <= 1)) throw new RangeError(`quantile: q must be in [0, 1], got ${q}`);
  const s = Float64Array.from(values).sort();
  const h = (s.length - 1) * q;
  const lo = Math.floor(h);
  const hi = Math.min(s.length - 1, lo + 1);
  return s[lo]! + (h - lo) * (s[hi]! - s[lo]!);
}

/** The central `level` percentile interval of replicates. */
export function percentileInterval(values: ArrayLike<number>, level = 0.95): [number, number] {
  if (!(level > 0 && level < 1)) throw new RangeError(`bootstrap: level must be in (0, 1), got ${level}`);
  const a = (1 - level) / 2;
  return [quantile(values, a), quantile(values, 1 - a)];
}

/**
 * Percentile confidence intervals of several statistics of the same cases: `statistic(indices)`
 * returns them for a resample. Returns one [low, high] per statistic.
 */
export function bootstrapCis(
  strata: ArrayLike<number>,
  statistic: (indices: Int32Array) => number[],
  o: BootstrapOptions = {},
): [number, number][] {
  const reps = stratifiedBootstrap(strata, statistic, o);
  const k = reps[0]!.length;
  return Array.from({ length: k }, (_, j) =>
    percentileInterval(
      reps.map((r) => r[j]!),
      o.level ?? 0.95,
    ),
  );
}
