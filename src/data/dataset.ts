// What every dataset reader produces: lesion records (image, mask, diagnosis, split) and problems.
import type { Problem } from './problems.js';

export const SPLITS = ['train', 'val', 'test'] as const;
export type Split = (typeof SPLITS)[number];

export interface LesionRecord {
  id: string;
  /** Absolute path of the image, or null when the lesion has a label but no image. */
  image: string | null;
  /** Absolute path of the segmentation mask, or null when missing. */
  mask: string | null;
  /** Index into the dataset's `classes`, or null when the lesion has no label. */
  label: number | null;
  /** The dataset's own split, when it has one. */
  split: Split | null;
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
}

/**
 * A reader for one dataset layout. To add a layout (ISIC 2018/2019 one-hot CSVs, PH2...), write
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
