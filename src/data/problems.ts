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
