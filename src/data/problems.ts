// Problems found in a dataset: every one names the lesion id and/or the file, and says what to do.

/**
 * `error`: the lesion cannot be used (unreadable image, missing mask, conflicting labels...).
 * `warning`: the lesion is used, but something is off and was handled in a stated way.
 */
export type Severity = 'error' | 'warning';

export interface Problem {
  severity: Severity;
  /** A short machine-readable kind, e.g. 'missing-mask', 'corrupt-image', 'label-conflict'. */
  kind: string;
  /** The lesion id, when the problem belongs to one lesion. */
  id?: string;
  /** The file (or CSV file and line) concerned. */
  file?: string;
  message: string;
}

export function formatProblem(p: Problem): string {
  const where = [p.id, p.file].filter((s) => s !== undefined).join(' ');
  return `${p.severity}: ${where ? `${where}: ` : ''}${p.message}`;
}

/** Raised when a dataset cannot be used at all (missing folder, unrecognised layout...). */
export class DataError extends Error {
  constructor(
    message: string,
    readonly problems: Problem[] = [],
  ) {
    super(message);
    this.name = 'DataError';
  }
}

/** Why the GAN cannot train on `where`, a dataset (or cache of one) without segmentation masks, and where to get masks. */
export function noMasksMessage(where: string): string {
  return (
    `${where}: this dataset has no segmentation masks, and the GAN is conditioned on them (its input is a label map drawn from each lesion's mask); ` +
    "it serves classifiers only. Train the GAN on data with masks: the ISIC archive's segmentation challenge data (ISIC 2017 Task 1 or ISIC 2018 Task 1 ground truth, " +
    "about 2,600 lesions with masks, https://challenge.isic-archive.com/data/), HAM10000's segmentations (HAM10000_segmentations_lesion_tschandl), or masks you make yourself"
  );
}
