// ISIC's one-hot ground-truth CSVs (2018 Task 3, 2019): `image,<class>,<class>,...`, one column per
// diagnosis holding 1.0 for the lesion's and 0.0 for the others.
import { readFile } from 'node:fs/promises';
import { parseCsv, requireColumn } from '../csv.js';
import type { Split } from '../dataset.js';
import type { Problem } from '../problems.js';
import { keepRow, type IdRow } from './join.js';

/**
 * Reads the rows of a one-hot CSV into `out` by image id. A row with a value other than 0 and 1, or
 * with two ones or none, is one error naming the file and line; its id goes to `rejected`.
 */
export async function readOneHot(
  file: string,
  classes: readonly string[],
  split: Split | null,
  out: Map<string, IdRow>,
  problems: Problem[],
  rejected: Set<string>,
): Promise<void> {
  const t = parseCsv(await readFile(file, 'utf8'), file);
  const idCol = requireColumn(t, 'image');
  const cols = classes.map((c) => requireColumn(t, c));
  for (const { line, cells } of t.rows) {
    const id = cells[idCol]!.trim();
    const where = `${file}:${line}`;
    const values = cols.map((c) => (cells[c]!.trim() === '' ? NaN : Number(cells[c])));
    const bad = values.findIndex((v) => v !== 0 && v !== 1);
    const ones = values.flatMap((v, k) => (v === 1 ? [k] : []));
    if (bad >= 0 || ones.length !== 1) {
      const what =
        bad >= 0
          ? `${classes[bad]} is "${cells[cols[bad]!]}" (0 or 1)`
          : ones.length === 0
            ? 'no diagnosis is 1'
            : `${ones.map((k) => classes[k]).join(' and ')} are ${ones.length === 2 ? 'both' : 'all'} 1`;
      problems.push({
        severity: 'error',
        kind: 'bad-csv',
        id,
        file: where,
        message: `${what}; a one-hot row has exactly one 1`,
      });
      rejected.add(id);
      continue;
    }
    keepRow(out, id, { label: ones[0]!, group: null, where, split }, problems, rejected);
  }
}
