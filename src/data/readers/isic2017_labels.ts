// ISIC-2017 Part 3 ground truth: image_id,melanoma,seborrheic_keratosis (neither = nevus).
import { readFile } from 'node:fs/promises';
import { parseCsv, requireColumn, CsvError } from '../csv.js';
import type { Problem } from '../problems.js';

/** Diagnosis indices into ISIC2017_CLASSES. */
const NEVUS = 0;
const MELANOMA = 1;
const SK = 2;

export interface LabelRow {
  label: number;
  file: string;
  line: number;
}

/**
 * Reads an ISIC-2017 ground-truth CSV. Rows with non-numeric values, values other than 0 and 1,
 * both diagnoses at once, or an id seen before become error problems (with file and line) and are
 * left out of `into`; their ids go to `rejected` (already reported: the image does not also count
 * as one without a label row). A CsvError is thrown when the file itself is unusable.
 */
export async function readIsic2017Labels(
  file: string,
  into: Map<string, LabelRow>,
  problems: Problem[],
  rejected: Set<string>,
): Promise<void> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    throw new CsvError(
      file,
      0,
      `cannot read the labels file (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`,
    );
  }
  const t = parseCsv(text, file);
  const idCol = requireColumn(t, 'image_id');
  const melCol = requireColumn(t, 'melanoma');
  const skCol = requireColumn(t, 'seborrheic_keratosis');
  for (const { line, cells } of t.rows) {
    const id = cells[idCol]!.trim();
    const where = `${file}:${line}`;
    if (id === '') {
      problems.push({ severity: 'error', kind: 'bad-csv', file: where, message: 'empty image_id' });
      continue;
    }
    const mel = parseBinary(cells[melCol]!);
    const sk = parseBinary(cells[skCol]!);
    if (mel === null || sk === null) {
      problems.push({
        severity: 'error',
        kind: 'bad-csv',
        id,
        file: where,
        message: `melanoma and seborrheic_keratosis must be 0 or 1, got '${cells[melCol]}' and '${cells[skCol]}'`,
      });
      into.delete(id);
      rejected.add(id);
      continue;
    }
    if (mel === 1 && sk === 1) {
      problems.push({
        severity: 'error',
        kind: 'label-conflict',
        id,
        file: where,
        message: 'melanoma=1 and seborrheic_keratosis=1 together; a lesion has one diagnosis, fix the row',
      });
      into.delete(id);
      rejected.add(id);
      continue;
    }
    const previous = into.get(id);
    if (previous || rejected.has(id)) {
      problems.push({
        severity: 'error',
        kind: 'duplicate-id',
        id,
        file: where,
        message: `duplicate label row${previous ? ` (first at ${previous.file}:${previous.line})` : ''}; keep one row per image`,
      });
      into.delete(id);
      rejected.add(id);
      continue;
    }
    into.set(id, { label: mel === 1 ? MELANOMA : sk === 1 ? SK : NEVUS, file, line });
  }
}

function parseBinary(s: string): 0 | 1 | null {
  const t = s.trim();
  if (t === '' || !/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(t)) return null;
  const v = Number(t);
  return v === 0 ? 0 : v === 1 ? 1 : null;
}
