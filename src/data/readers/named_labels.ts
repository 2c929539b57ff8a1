// A flat dataset's labels.csv in the named form, `image_id,diagnosis`, for any vocabulary: the
// diagnoses' order (the label indices) comes from classes.txt beside it (one name per line), or,
// without one, the names sorted. Written by synthesis and `data merge` for runs and datasets whose
// diagnoses are not ISIC-2017's.
import { readFile } from 'node:fs/promises';
import { parseCsv, requireColumn, CsvError } from '../csv.js';
import type { Problem } from '../problems.js';
import type { LabelRow } from './isic2017_labels.js';

/** Whether labels.csv's header is the named form. */
export async function isNamedLabels(file: string): Promise<boolean> {
  const first = (await readFile(file, 'utf8')).split(/\r?\n/, 1)[0] ?? '';
  return first
    .split(',')
    .map((c) => c.trim())
    .includes('diagnosis');
}

/** Reads classes.txt: one diagnosis per line (blank lines and # comments ignored). */
export async function readClassesFile(file: string): Promise<string[]> {
  const names = (await readFile(file, 'utf8'))
    .split(/\r?\n/)
    .map((l) => l.replace(/#.*/, '').trim())
    .filter((l) => l !== '');
  const seen = new Set<string>();
  names.forEach((n, i) => {
    if (seen.has(n)) throw new CsvError(file, i + 1, `"${n}" is listed twice; list each diagnosis once`);
    seen.add(n);
  });
  if (names.length === 0) throw new CsvError(file, 1, 'no diagnoses listed; write one per line');
  return names;
}

/**
 * Reads the named labels.csv into `into` (label = index in `classes`; when `classes` is null it is
 * filled with the sorted names). Bad rows become problems naming the file and line.
 */
export async function readNamedLabels(
  file: string,
  classes: string[] | null,
  into: Map<string, LabelRow>,
  problems: Problem[],
  rejected: Set<string>,
): Promise<string[]> {
  const t = parseCsv(await readFile(file, 'utf8'), file);
  const idCol = requireColumn(t, 'image_id');
  const dxCol = requireColumn(t, 'diagnosis');
  const vocabulary = classes ?? [...new Set(t.rows.map((r) => r.cells[dxCol]!.trim()).filter((n) => n !== ''))].sort();
  for (const { line, cells } of t.rows) {
    const id = cells[idCol]!.trim();
    const name = cells[dxCol]!.trim();
    const where = `${file}:${line}`;
    const label = vocabulary.indexOf(name);
    if (id === '' || label < 0) {
      problems.push({
        severity: 'error',
        kind: 'bad-csv',
        id: id || undefined,
        file: where,
        message:
          id === ''
            ? 'empty image_id'
            : `diagnosis "${name}" is not one of ${vocabulary.join(', ')}${classes ? ' (classes.txt)' : ''}`,
      });
      if (id) rejected.add(id);
      continue;
    }
    if (into.has(id) || rejected.has(id)) {
      problems.push({
        severity: 'error',
        kind: 'duplicate-id',
        id,
        file: where,
        message: 'duplicate label row; keep one row per image',
      });
      into.delete(id);
      rejected.add(id);
      continue;
    }
    into.set(id, { label, file, line });
  }
  return vocabulary;
}
