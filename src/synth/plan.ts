// What a synthesis run will make, decided up front from the sources, the request and the seed:
// one item per synthetic lesion (its id, diagnosis, source mask and deformation seed). The plan is
// a pure function of its inputs, so a resumed run continues exactly the same list.
import { mixSeed, Rng } from '../data/random.js';
import { syntheticId } from '../data/dataset.js';

export interface MaskSource {
  /** The source lesion's id (a dataset id, or a mask file's name without its suffix). */
  id: string;
  /** The mask file. */
  file: string;
  /** The lesion's image (for the dermoscope frame), or null for a bare mask. */
  image: string | null;
  /** The source lesion's diagnosis index, or null when unknown (a folder of masks). */
  diagnosis: number | null;
}

export interface PlanItem {
  /** Position in the plan (0-based). */
  index: number;
  /** SYN_ and 7 digits. */
  id: string;
  diagnosis: number;
  source: MaskSource;
  /** The deformation's seed, or null when the source mask is used as it is. */
  deformSeed: number | null;
}

export interface PlanRequest {
  /**
   * 'classes': `counts[k]` lesions of diagnosis k. 'as-is': `count` lesions that each keep their
   * source's diagnosis (sources drawn from every class).
   */
  what: { kind: 'classes'; counts: number[] } | { kind: 'as-is'; count: number };
  /** Draw a class's masks from sources of that class ('same') or from every source ('all'). */
  maskPool: 'same' | 'all';
  deform: boolean;
  seed: number;
  /** The number of the first id (SYN_0000001 for 1). */
  firstId: number;
}

export class PlanError extends RangeError {}

/**
 * Items in diagnosis order. Each pool of masks is shuffled with the seed and used in turn; with
 * `deform` every item gets its own deformation seed, so masks can be reused; without it a mask is
 * used at most once per pool (the same mask and diagnosis would give the same image again).
 */
export function makePlan(sources: readonly MaskSource[], classes: readonly string[], r: PlanRequest): PlanItem[] {
  const sorted = [...sources].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  // Each group: a diagnosis (null: the source's own), how many, and the masks to draw from.
  const groups: { diagnosis: number | null; count: number; pool: MaskSource[]; what: string }[] = [];
  if (r.what.kind === 'as-is') {
    const pool = sorted.filter((s) => s.diagnosis !== null);
    if (pool.length === 0)
      throw new PlanError(
        "'as-is' keeps each source's diagnosis, but no source mask has one; give --dataset, or choose a --class",
      );
    groups.push({ diagnosis: null, count: r.what.count, pool, what: 'labelled' });
  } else {
    for (const [k, count] of r.what.counts.entries()) {
      if (count === 0) continue;
      const same = r.maskPool === 'same' && sorted.some((s) => s.diagnosis !== null);
      const pool = same ? sorted.filter((s) => s.diagnosis === k) : sorted;
      if (pool.length === 0)
        throw new PlanError(
          `no source mask of diagnosis ${classes[k]}; give masks of that class, or draw from every class with --mask-pool all`,
        );
      groups.push({ diagnosis: k, count, pool, what: same ? classes[k]! : '' });
    }
  }
  const total = groups.reduce((a, g) => a + g.count, 0);
  if (r.firstId < 0 || r.firstId + total - 1 > 9_999_999)
    throw new PlanError(
      `ids from SYN_${r.firstId} for ${total} lesions would pass SYN_9999999; use a smaller --first-id or fewer lesions`,
    );
  const items: PlanItem[] = [];
  for (const [g, group] of groups.entries()) {
    const { count, pool } = group;
    if (!r.deform && count > pool.length) {
      throw new PlanError(
        `${count} lesions asked for but only ${pool.length} ${group.what ? `${group.what} ` : ''}source masks exist; add --deform to make new masks from them, or ask for at most ${pool.length}`,
      );
    }
    new Rng(r.seed, 0x5e1ec7, (group.diagnosis ?? -1) + 2 + g).shuffle(pool);
    for (let j = 0; j < count; j++) {
      const index = items.length;
      const source = pool[j % pool.length]!;
      items.push({
        index,
        id: syntheticId(r.firstId + index),
        diagnosis: group.diagnosis ?? source.diagnosis!,
        source,
        deformSeed: r.deform ? mixSeed(r.seed, 0xdef0, index) : null,
      });
    }
  }
  return items;
}
