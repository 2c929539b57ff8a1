// Train/val/test splits: the dataset's official split when it has one, otherwise stratified by
// diagnosis with a seed (each class is shuffled and cut in the same proportions). Synthetic lesions
// always go to train; one placed in val or test is refused.
import { refuseSynthetic, type LesionRecord, type Split } from './dataset.js';
import { Rng } from './random.js';

export interface SplitOptions {
  /** Fractions of each class for val and test (the rest is train). */
  val: number;
  test: number;
  seed: number;
}

export const DEFAULT_SPLIT: SplitOptions = { val: 0.15, test: 0.15, seed: 0 };

export interface SplitResult {
  splits: Map<string, Split>;
  /** 'official' when every record came with its split, else 'stratified'. */
  source: 'official' | 'stratified';
}

export function assignSplits(records: readonly LesionRecord[], o: SplitOptions = DEFAULT_SPLIT): SplitResult {
  for (const [k, v] of [
    ['val', o.val],
    ['test', o.test],
  ] as const) {
    if (!(v >= 0 && v < 1)) throw new RangeError(`split: the ${k} fraction must be in [0, 1), got ${v}`);
  }
  if (o.val + o.test >= 1)
    throw new RangeError(`split: val + test fractions must leave some training data, got ${o.val} + ${o.test}`);
  // Synthetic lesions are training data only, whatever the split.
  refuseSynthetic(
    records.filter((r) => r.split === 'val' || r.split === 'test'),
    'the val and test splits',
  );
  const splits = new Map<string, Split>(records.filter((r) => r.synthetic).map((r) => [r.id, 'train']));
  const real = records.filter((r) => !r.synthetic);
  if (real.length > 0 && real.every((r) => r.split !== null)) {
    for (const r of real) splits.set(r.id, r.split!);
    return { splits, source: 'official' };
  }
  // Images of one lesion (records sharing a group) are split as one unit, under the diagnosis of
  // the group's first image by id.
  const groups = new Map<string, LesionRecord[]>();
  for (const r of [...real].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))) {
    const key = r.group !== undefined ? `group:${r.group}` : `id:${r.id}`;
    if (!groups.has(key)) groups.set(key, []);
    groups.get(key)!.push(r);
  }
  const byClass = new Map<number, LesionRecord[][]>();
  for (const g of groups.values()) {
    const k = g[0]!.label ?? -1;
    if (!byClass.has(k)) byClass.set(k, []);
    byClass.get(k)!.push(g);
  }
  for (const [k, gs] of [...byClass].sort((a, b) => a[0] - b[0])) {
    // Groups are in id order (the reader's listing order does not matter), then shuffled.
    const sorted = [...gs];
    new Rng(o.seed, 0x5917, k + 1).shuffle(sorted);
    const nVal = Math.round(sorted.length * o.val);
    const nTest = Math.round(sorted.length * o.test);
    sorted.forEach((g, i) => {
      for (const r of g) splits.set(r.id, i < nVal ? 'val' : i < nVal + nTest ? 'test' : 'train');
    });
  }
  return { splits, source: 'stratified' };
}
