// The splits of a merged dataset (`data merge`): one split per lesion, never a lesion on two sides.
// A lesion is every image joined by a shared id (one image in two datasets, kept once) or a shared
// group (HAM10000's lesion_id; group names count across datasets, as ISIC's lesion ids do). A
// lesion takes the official split of the datasets that have one (two different official splits
// for one lesion are an error); the others are split per dataset exactly as `data prepare` splits
// that dataset alone: stratified by diagnosis with the seed, a lesion's images together.
import type { LesionRecord, Split } from './dataset.js';
import { DataError } from './problems.js';
import { assignSplits, type SplitOptions } from './split.js';

/** One real image of one input: written out (kept), or a duplicate of a kept one (for its links). */
export interface Occurrence {
  record: LesionRecord;
  /** The input's index (its place on the command line) and folder. */
  dataset: number;
  source: string;
  /** The dataset's official split of this image, or null when the dataset has none. */
  official: Split | null;
  kept: boolean;
}

export interface MergedSplits {
  splits: Map<string, Split>;
  /** The lesion name of every image whose lesion has a group (the smallest group name joined). */
  lesions: Map<string, string>;
}

export function mergedSplits(occurrences: readonly Occurrence[], o: SplitOptions): MergedSplits {
  const splits = new Map<string, Split>();
  const lesions = new Map<string, string>();
  const pending = new Map<number, LesionRecord[]>();
  for (const members of lesionsOf(occurrences)) {
    const kept = members.filter((x) => x.kept);
    const name = [...new Set(members.flatMap((x) => (x.record.group === undefined ? [] : [x.record.group])))].sort()[0];
    if (name !== undefined) for (const x of kept) lesions.set(x.record.id, name);
    const official = officialSplit(members, name);
    if (official) {
      for (const x of kept) splits.set(x.record.id, official);
      continue;
    }
    // Split with the dataset of its first image, as `data prepare` of that dataset would.
    const owner = kept[0]!.dataset;
    if (!pending.has(owner)) pending.set(owner, []);
    pending.get(owner)!.push(...kept.map((x) => ({ ...x.record, split: null, group: name })));
  }
  for (const records of pending.values()) for (const [id, s] of assignSplits(records, o).splits) splits.set(id, s);
  return { splits, lesions };
}

/** The occurrences grouped into lesions, in the order of their first occurrence. */
function lesionsOf(occurrences: readonly Occurrence[]): Occurrence[][] {
  const parent = new Map<string, string>();
  const find = (k: string): string => {
    let r = k;
    while (parent.has(r) && parent.get(r) !== r) r = parent.get(r)!;
    parent.set(k, r);
    return r;
  };
  const union = (a: string, b: string) => {
    const [ra, rb] = [find(a), find(b)];
    if (ra !== rb) parent.set(rb, ra);
  };
  for (const x of occurrences) if (x.record.group !== undefined) union(`i:${x.record.id}`, `g:${x.record.group}`);
  const byRoot = new Map<string, Occurrence[]>();
  for (const x of occurrences) {
    const root = find(`i:${x.record.id}`);
    if (!byRoot.has(root)) byRoot.set(root, []);
    byRoot.get(root)!.push(x);
  }
  return [...byRoot.values()];
}

/** The one official split of a lesion's images, null when none has one; two are an error. */
function officialSplit(members: readonly Occurrence[], name: string | undefined): Split | null {
  const withSplit = members.filter((x) => x.official !== null);
  const other = withSplit.find((x) => x.official !== withSplit[0]!.official);
  if (!other) return withSplit[0]?.official ?? null;
  const a = withSplit[0]!;
  const where = (x: Occurrence) => `${x.official} (${x.record.id} in ${x.source})`;
  throw new DataError(
    `lesion ${name ?? a.record.id}: its images are in ${where(a)} and in ${where(other)} by their datasets' official splits; ` +
      'one lesion must be on one side of the split: remove one of those images from its dataset',
  );
}
