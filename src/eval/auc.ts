// ROC analysis for one binary question (e.g. melanoma vs the rest): the area under the ROC curve
// as the Mann-Whitney statistic (a positive case scoring above a negative one counts 1, a tie
// counts 1/2), computed from midranks in O(N log N), and the ROC curve's points. Plain float64.

export interface BinaryData {
  /** Higher means "more likely positive". */
  scores: ArrayLike<number>;
  /** 1 (or true) for a positive case, 0 (or false) for a negative one. */
  labels: ArrayLike<number | boolean>;
}

/** Checks scores and labels and splits the scores by class; `what` names the data in errors. */
export function splitByClass(
  scores: ArrayLike<number>,
  labels: ArrayLike<number | boolean>,
  what = 'AUC',
): { positives: Float64Array; negatives: Float64Array } {
  if (scores.length !== labels.length)
    throw new RangeError(`${what}: ${scores.length} scores but ${labels.length} labels; give one label per score`);
  const pos: number[] = [];
  const neg: number[] = [];
  for (let i = 0; i < scores.length; i++) {
    const s = scores[i]!;
    if (!Number.isFinite(s)) throw new RangeError(`${what}: score ${i} is ${s}; scores must be finite numbers`);
    const l = labels[i];
    if (l === 1 || l === true) pos.push(s);
    else if (l === 0 || l === false) neg.push(s);
    else throw new RangeError(`${what}: label ${i} is ${String(l)}; labels must be 0/1 (or false/true)`);
  }
  if (pos.length === 0 || neg.length === 0) {
    throw new RangeError(
      `${what}: the ROC curve needs both positive and negative cases, got ${pos.length} positive and ${neg.length} negative; ` +
        'evaluate on a set that contains both classes',
    );
  }
  return { positives: Float64Array.from(pos), negatives: Float64Array.from(neg) };
}

/**
 * Midranks (1-based; tied values share the mean of their ranks) of `values`, in their order.
 * E.g. [10, 20, 20, 5] -> [2, 3.5, 3.5, 1].
 */
export function midranks(values: ArrayLike<number>): Float64Array {
  const n = values.length;
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => values[a]! - values[b]!);
  const ranks = new Float64Array(n);
  let i = 0;
  while (i < n) {
    let j = i;
    while (j + 1 < n && values[order[j + 1]!] === values[order[i]!]) j++;
    // Positions i..j (0-based) hold equal values: ranks i+1..j+1, mean (i + j)/2 + 1.
    const r = (i + j) / 2 + 1;
    for (let k = i; k <= j; k++) ranks[order[k]!] = r;
    i = j + 1;
  }
  return ranks;
}

/** AUC from the two classes' scores: P(positive > negative) + P(tie) / 2. */
export function aucFromClasses(positives: ArrayLike<number>, negatives: ArrayLike<number>): number {
  const m = positives.length;
  const n = negatives.length;
  const all = new Float64Array(m + n);
  all.set(positives as ArrayLike<number>, 0);
  all.set(negatives as ArrayLike<number>, m);
  const r = midranks(all);
  let sum = 0;
  for (let i = 0; i < m; i++) sum += r[i]!;
  return (sum - (m * (m + 1)) / 2) / (m * n);
}

/** The area under the ROC curve (ties between a positive and a negative count one half). */
export function rocAuc(scores: ArrayLike<number>, labels: ArrayLike<number | boolean>): number {
  const { positives, negatives } = splitByClass(scores, labels);
  return aucFromClasses(positives, negatives);
}

export interface RocPoint {
  /** 1 - specificity. */
  fpr: number;
  /** Sensitivity. */
  tpr: number;
  /** Cases scoring >= threshold are called positive (Infinity for the (0, 0) corner). */
  threshold: number;
}

/**
 * The ROC curve: one point per distinct score (ties make one diagonal step), from (0, 0) to
 * (1, 1), thresholds decreasing. The trapezoidal area under these points equals rocAuc.
 */
export function rocCurve(scores: ArrayLike<number>, labels: ArrayLike<number | boolean>): RocPoint[] {
  const { positives, negatives } = splitByClass(scores, labels, 'ROC curve');
  const m = positives.length;
  const n = negatives.length;
  const cases = [...Array.from(positives, (s) => ({ s, p: 1 })), ...Array.from(negatives, (s) => ({ s, p: 0 }))].sort(
    (a, b) => b.s - a.s,
  );
  const points: RocPoint[] = [{ fpr: 0, tpr: 0, threshold: Infinity }];
  let tp = 0;
  let fp = 0;
  for (let i = 0; i < cases.length;) {
    const t = cases[i]!.s;
    while (i < cases.length && cases[i]!.s === t) {
      if (cases[i]!.p) tp++;
      else fp++;
      i++;
    }
    points.push({ fpr: fp / n, tpr: tp / m, threshold: t });
  }
  return points;
}

/** Trapezoidal area under ROC points (for checks and plots). */
export function trapezoidArea(points: readonly RocPoint[]): number {
  let a = 0;
  for (let i = 1; i < points.length; i++)
    a += ((points[i]!.fpr - points[i - 1]!.fpr) * (points[i]!.tpr + points[i - 1]!.tpr)) / 2;
  return a;
}
