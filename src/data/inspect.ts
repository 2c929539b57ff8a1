// `data inspect`: what a dataset holds and everything wrong with it, decoding every lesion once.
import { badIds, SPLITS, type DatasetIndex } from './dataset.js';
import { DecodePool, defaultWorkers, lesionsInFlight } from './decode_pool.js';
import { labelMapSpec } from './label_map.js';
import { pool } from './pool.js';
import type { Problem } from './problems.js';

export interface CoverageStats {
  n: number;
  mean: number;
  min: number;
  median: number;
  max: number;
}

export interface InspectReport {
  root: string;
  format: string;
  classes: string[];
  lesions: number;
  usable: number;
  perClass: Record<string, number>;
  /** Synthetic lesions (SYN_ ids) among them: training data only. */
  synthetic: number;
  /** Per split and class; 'none' when the dataset has no split of its own. */
  perSplit: Record<string, Record<string, number>>;
  /** 'WxH' -> number of images, most common first. */
  sizes: [string, number][];
  /** Lesion fraction of the mask, overall and per class (empty when the dataset has no masks). */
  coverage: Record<string, CoverageStats>;
  /** False when the dataset has no segmentation masks (ISIC 2019, 2020): classifier use only. */
  masks: boolean;
  problems: Problem[];
}

export async function inspectDataset(
  index: DatasetIndex,
  o: { workers?: number; onProgress?: (done: number, total: number) => void } = {},
): Promise<InspectReport> {
  const problems: Problem[] = [...index.problems];
  const readerBad = badIds(index);
  const masks = index.masks !== false;
  const candidates = index.records.filter(
    (r) => !readerBad.has(r.id) && r.image && (r.mask || !masks) && r.label !== null,
  );
  const spec = labelMapSpec(index.classes, { boundary: 0, frame: false });
  const threads = o.workers ?? defaultWorkers();
  const decoder = new DecodePool(candidates.length < 16 ? 0 : threads);
  const sizes = new Map<string, number>();
  const coverage = new Map<string, number[]>();
  let done = 0;
  let usable = 0;
  try {
    // Decoding to a small size checks the whole file (libvips reads every scan) at little cost.
    await pool(candidates, lesionsInFlight(threads), async (r) => {
      const res = await decoder.prepare(r, spec, {
        width: 32,
        height: 32,
        fit: 'crop',
        labelMap: { boundary: 0, frame: false },
      });
      problems.push(...res.problems);
      const l = res.lesion;
      if (l) {
        usable++;
        const key = `${l.sourceSize.width}x${l.sourceSize.height}`;
        sizes.set(key, (sizes.get(key) ?? 0) + 1);
        for (const k of l.coverage === null ? [] : ['all', index.classes[l.label]!]) {
          if (!coverage.has(k)) coverage.set(k, []);
          coverage.get(k)!.push(l.coverage!);
        }
      }
      o.onProgress?.(++done, candidates.length);
    });
  } finally {
    await decoder.close();
  }
  const perClass: Record<string, number> = {};
  const perSplit: Record<string, Record<string, number>> = {};
  for (const r of index.records) {
    if (r.label === null) continue;
    const c = index.classes[r.label]!;
    perClass[c] = (perClass[c] ?? 0) + 1;
    const s = r.split ?? 'none';
    perSplit[s] ??= {};
    perSplit[s][c] = (perSplit[s][c] ?? 0) + 1;
  }
  const order = [...SPLITS, 'none'];
  const sortedSplits = Object.fromEntries(
    Object.entries(perSplit).sort((a, b) => order.indexOf(a[0]) - order.indexOf(b[0])),
  );
  return {
    root: index.root,
    format: index.format,
    classes: index.classes,
    lesions: index.records.length,
    usable,
    perClass,
    synthetic: index.records.filter((r) => r.synthetic).length,
    perSplit: sortedSplits,
    sizes: [...sizes].sort((a, b) => b[1] - a[1]),
    coverage: Object.fromEntries([...coverage].map(([k, v]) => [k, stats(v)])),
    masks,
    problems: sortProblems(problems),
  };
}

function stats(v: number[]): CoverageStats {
  const s = [...v].sort((a, b) => a - b);
  return {
    n: s.length,
    mean: s.reduce((a, b) => a + b, 0) / s.length,
    min: s[0]!,
    median: s[Math.floor(s.length / 2)]!,
    max: s[s.length - 1]!,
  };
}

/** Errors first, then by id, so reports are stable. */
export function sortProblems(ps: Problem[]): Problem[] {
  return [...ps].sort((a, b) =>
    a.severity !== b.severity
      ? a.severity === 'error'
        ? -1
        : 1
      : (a.id ?? a.file ?? '').localeCompare(b.id ?? b.file ?? ''),
  );
}
