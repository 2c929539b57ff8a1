// PH2_dataset.xlsx, the spreadsheet twin of PH2_dataset.txt: title and legend rows first, then a
// header row naming "Image Name", "Histological Diagnosis" and "Clinical Diagnosis" (a cell over
// three columns, "Common Nevus", "Atypical Nevus" and "Melanoma", named in the row below or in the
// header row itself), then one row per lesion with an "X" under its clinical diagnosis.
import type { Problem } from '../problems.js';
import { DataError } from '../problems.js';
import { readFirstSheet, type SheetRow } from '../xlsx.js';
import type { Ph2Label } from './ph2_label.js';

/** The diagnosis columns' titles, in PH2_CLASSES' order. */
const DIAGNOSES = ['Common Nevus', 'Atypical Nevus', 'Melanoma'];

const norm = (s: string | undefined) => (s ?? '').trim().replace(/\s+/g, ' ').toLowerCase();

/** The header: the name column, the three diagnosis columns, and the last header row. */
function findHeader(rows: SheetRow[]): { nameAt: number; dxAt: number[]; last: number } | null {
  for (let i = 0; i < rows.length; i++) {
    const nameAt = rows[i]!.cells.findIndex((c) => ['image name', 'name'].includes(norm(c)));
    if (nameAt < 0) continue;
    // The diagnoses are named in the header row or in the row just below it (under "Clinical Diagnosis").
    for (const j of [i, i + 1]) {
      const cells = rows[j]?.cells.map(norm) ?? [];
      const dxAt = DIAGNOSES.map((d) => cells.indexOf(norm(d)));
      if (dxAt.every((k) => k >= 0)) return { nameAt, dxAt, last: j };
    }
  }
  return null;
}

/** PH2_dataset.xlsx's diagnoses by lesion name; problems name the file and the sheet's row. */
export async function readPh2Xlsx(file: string, problems: Problem[]): Promise<Map<string, Ph2Label>> {
  const rows = await readFirstSheet(file);
  const header = findHeader(rows);
  if (!header)
    throw new DataError(
      `${file}: no header row naming "Image Name" and the "Common Nevus", "Atypical Nevus" and "Melanoma" columns; this is not PH2's PH2_dataset.xlsx (or it was edited: restore the original)`,
    );
  const out = new Map<string, Ph2Label>();
  for (const { row, cells } of rows.slice(header.last + 1)) {
    if (cells.every((c) => c.trim() === '')) continue;
    const where = `${file}:${row}`;
    const name = (cells[header.nameAt] ?? '').trim();
    if (!/^IMD\d+$/.test(name)) {
      problems.push({
        severity: 'warning',
        kind: 'not-a-lesion-row',
        file: where,
        message: `not a lesion row (no IMD name in the "Image Name" column): "${cells
          .filter((c) => c.trim() !== '')
          .join(' ')
          .slice(0, 60)}"; skipped`,
      });
      continue;
    }
    const marks = header.dxAt.map((k) => (cells[k] ?? '').trim().toUpperCase());
    const odd = marks.findIndex((m) => m !== '' && m !== 'X');
    const marked = marks.flatMap((m, k) => (m === 'X' ? [k] : []));
    if (odd >= 0 || marked.length !== 1) {
      const names = marked.map((k) => `"${DIAGNOSES[k]}"`).join(' and ');
      const what =
        odd >= 0
          ? `"${DIAGNOSES[odd]}" holds "${cells[header.dxAt[odd]!]!.trim()}"`
          : marked.length === 0
            ? 'no clinical diagnosis is marked'
            : `${names} are ${marked.length === 2 ? 'both' : 'all'} marked`;
      problems.push({
        severity: 'error',
        kind: 'bad-csv',
        id: name,
        file: where,
        message: `${what}; PH2 marks one of Common Nevus, Atypical Nevus or Melanoma with an X`,
      });
      continue;
    }
    if (out.has(name)) {
      problems.push({
        severity: 'error',
        kind: 'duplicate-id',
        id: name,
        file: where,
        message: `a second row for ${name} (the first is ${out.get(name)!.where}); keep one`,
      });
      continue;
    }
    out.set(name, { label: marked[0]!, where });
  }
  return out;
}
