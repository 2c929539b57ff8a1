// What every dataset reader produces: lesion records (image, mask, diagnosis, split) and problems.
import { DataError, type Problem } from './problems.js';

export const SPLITS = ['train', 'val', 'test'] as const;
export type Split = (typeof SPLITS)[number];

export interface LesionRecord {
  id: string;
  /** Absolute path of the image, or null when the lesion has a label but no image. */
  image: string | null;
  /** Absolute path of the segmentation mask, or null when missing (or the dataset has none: `masks: false`). */
  mask: string | null;
  /** Index into the dataset's `classes`, or null when the lesion has no label. */
  label: number | null;
  /** The dataset's own split, when it has one. */
  split: Split | null;
  /** Made by `dermosynth synthesize` (an id starting with SYN_): for training only, never for testing. */
  synthetic: boolean;
  /** The lesion when several images show one (HAM10000's lesion_id): splits keep a group together. */
  group?: string;
}

/** Synthetic lesions' ids: SYN_ and 7 digits. No ISIC id (ISIC_ and 7 digits) can take this form. */
export const SYNTHETIC_ID_PREFIX = 'SYN_';

export function isSyntheticId(id: string): boolean {
  return id.startsWith(SYNTHETIC_ID_PREFIX);
}

export function syntheticId(n: number): string {
  if (!Number.isInteger(n) || n < 0 || n > 9_999_999)
    throw new RangeError(`synthetic id number must be an integer from 0 to 9999999, got ${n}`);
  return `${SYNTHETIC_ID_PREFIX}${String(n).padStart(7, '0')}`;
}

/**
 * Refuses records that include synthetic lesions where only real ones are allowed (a test or
 * validation set): measuring on generated images would say nothing about real lesions.
 */
export function refuseSynthetic(records: readonly LesionRecord[], what: string): void {
  const syn = records.filter((r) => r.synthetic);
  if (syn.length === 0) return;
  const ids = syn
    .slice(0, 5)
    .map((r) => r.id)
    .join(', ');
  throw new DataError(
    `${what} contains ${syn.length} synthetic lesion${syn.length === 1 ? '' : 's'} (${ids}${syn.length > 5 ? ', ...' : ''}); evaluate on real lesions only (synthetic ones are for training)`,
  );
}

export interface DatasetIndex {
  root: string;
  /** The reader that understood the folder, e.g. 'isic2017' or 'flat'. */
  format: string;
  /** Diagnosis names; a record's `label` indexes this list. */
  classes: string[];
  records: LesionRecord[];
  /** Problems found while reading the folder and its CSV files (not yet the pixels). */
  problems: Problem[];
  /**
   * false: the dataset has no segmentation masks at all (ISIC 2019, ISIC 2020): every record's
   * `mask` is null and no mask is missing; it serves classifiers, never the mask-conditioned GAN.
   * Absent (or true): every lesion needs its mask.
   */
  masks?: boolean;
}

/**
 * A reader for one dataset layout. To add a layout, write
 * one of these and add it to `READERS` in readers/index.ts.
 */
export interface DatasetReader {
  name: string;
  /** One line for `--help` and error messages: what the layout looks like. */
  description: string;
  /** True when `dir` looks like this layout (cheap: file names only). */
  detect(dir: string): Promise<boolean>;
  read(dir: string): Promise<DatasetIndex>;
}

/** Ids with at least one error: such lesions cannot be used. */
export function badIds(index: DatasetIndex): Set<string> {
  return new Set(index.problems.filter((p) => p.severity === 'error' && p.id !== undefined).map((p) => p.id!));
}

/** Parses a split name as written in ISIC CSVs and folder names. */
export function parseSplit(s: string): Split | null {
  switch (s.trim().toLowerCase()) {
    case 'train':
    case 'training':
      return 'train';
    case 'val':
    case 'valid':
    case 'validation':
      return 'val';
    case 'test':
    case 'test_v2':
      return 'test';
    default:
      return null;
  }
}
