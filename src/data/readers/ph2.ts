// PH2 (Mendonça et al., 2013) as it is downloaded:
//   PH2 Dataset images/IMDxxx/IMDxxx_Dermoscopic_Image/IMDxxx.bmp
//   PH2 Dataset images/IMDxxx/IMDxxx_lesion/IMDxxx_lesion.bmp
//   PH2_dataset.txt: a table whose cells are separated by tabs and/or "||", with a header row naming
//   "Name" and "Clinical Diagnosis" (0 common nevus, 1 atypical nevus, 2 melanoma), one row per
//   lesion, and rows that are not lesions (a legend): those are skipped, each named in a warning.
//   PH2_dataset.xlsx, the same table as a spreadsheet (ph2_xlsx.ts), is read when the .txt is absent.
// The diagnoses are PH2's own three; `--classes` maps them onto another vocabulary. PH2 has no
// official split.
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { isSyntheticId, type DatasetIndex, type DatasetReader, type LesionRecord } from '../dataset.js';
import { DataError, type Problem } from '../problems.js';
import { exists } from './assemble.js';
import { PH2_CLASSES, type Ph2Label } from './ph2_label.js';
import { readPh2Xlsx } from './ph2_xlsx.js';

export { PH2_CLASSES, type Ph2Label };

const IMAGES_DIR = 'PH2 Dataset images';
const TABLE = 'PH2_dataset.txt';
const XLSX = 'PH2_dataset.xlsx';

/** PH2_dataset.txt's diagnoses by lesion name; problems name the file and line. */
export function parsePh2Table(text: string, file: string, problems: Problem[]): Map<string, Ph2Label> {
  const lines = text.split(/\r?\n/);
  const out = new Map<string, Ph2Label>();
  // The header: the first line naming both columns. Rows keep their empty cells between
  // separators, so a column's index is the same in the header and in every row.
  let nameAt = -1,
    dxAt = -1,
    headerLine = 0;
  for (let i = 0; i < lines.length && headerLine === 0; i++) {
    const cells = splitKeep(lines[i]!).map((c) => c.trim().toLowerCase());
    const n = cells.indexOf('name'),
      d = cells.indexOf('clinical diagnosis');
    if (n >= 0 && d >= 0) [nameAt, dxAt, headerLine] = [n, d, i + 1];
  }
  if (headerLine === 0)
    throw new DataError(
      `${file}: no header row naming "Name" and "Clinical Diagnosis"; this is not PH2's PH2_dataset.txt (or it was edited: restore the original)`,
    );
  for (let i = headerLine; i < lines.length; i++) {
    const raw = lines[i]!;
    if (raw.trim() === '') continue;
    const where = `${file}:${i + 1}`;
    const cells = splitKeep(raw);
    const name = (cells[nameAt] ?? '').trim();
    if (!/^IMD\d+$/.test(name)) {
      problems.push({
        severity: 'warning',
        kind: 'not-a-lesion-row',
        file: where,
        message: `not a lesion row (no IMD name in the "Name" column): "${raw.trim().slice(0, 60)}"; skipped`,
      });
      continue;
    }
    const dx = (cells[dxAt] ?? '').trim();
    if (!/^[012]$/.test(dx)) {
      problems.push({
        severity: 'error',
        kind: 'bad-csv',
        id: name,
        file: where,
        message: `Clinical Diagnosis is "${dx}"; PH2 uses 0 (common nevus), 1 (atypical nevus) or 2 (melanoma)`,
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
    out.set(name, { label: Number(dx), where });
  }
  return out;
}

/** The diagnoses from PH2_dataset.txt, or from PH2_dataset.xlsx when the .txt is absent. */
async function readLabels(root: string, problems: Problem[]): Promise<{ file: string; labels: Map<string, Ph2Label> }> {
  const txt = path.join(root, TABLE);
  const xlsx = path.join(root, XLSX);
  if (await exists(txt)) return { file: txt, labels: parsePh2Table(await readFile(txt, 'latin1'), txt, problems) };
  if (await exists(xlsx)) return { file: xlsx, labels: await readPh2Xlsx(xlsx, problems) };
  throw new DataError(
    `${root}: PH2's diagnosis file is missing: neither ${TABLE} nor ${XLSX} is there; both come with the dataset, next to "${IMAGES_DIR}": restore one`,
  );
}

/** Cells between separators (tabs or "||"), keeping empty ones, without the empty cell before a leading separator. */
function splitKeep(line: string): string[] {
  const cells = line.split(/\t|\|\|/);
  if (cells.length > 0 && cells[0]!.trim() === '') cells.shift();
  return cells;
}

export const ph2Reader: DatasetReader = {
  name: 'ph2',
  description: `PH2 as downloaded: "${IMAGES_DIR}/IMDxxx/IMDxxx_Dermoscopic_Image/IMDxxx.bmp", "IMDxxx_lesion/IMDxxx_lesion.bmp" and ${TABLE} or ${XLSX} (diagnoses common_nevus, atypical_nevus, melanoma)`,
  async detect(dir) {
    return exists(path.join(dir, IMAGES_DIR));
  },
  async read(dir) {
    const root = path.resolve(dir);
    const problems: Problem[] = [];
    const imagesRoot = path.join(root, IMAGES_DIR);
    const { file: tableFile, labels } = await readLabels(root, problems);
    const folders = (await readdir(imagesRoot, { withFileTypes: true }))
      .filter((d) => d.isDirectory() && /^IMD\d+$/.test(d.name))
      .map((d) => d.name)
      .sort();
    if (folders.length === 0)
      throw new DataError(`${imagesRoot}: no IMDxxx lesion folders; is this PH2's "${IMAGES_DIR}" folder?`, problems);
    const records: LesionRecord[] = [];
    for (const id of folders) {
      const image = path.join(imagesRoot, id, `${id}_Dermoscopic_Image`, `${id}.bmp`);
      const mask = path.join(imagesRoot, id, `${id}_lesion`, `${id}_lesion.bmp`);
      const hasImage = await exists(image);
      const hasMask = await exists(mask);
      if (!hasImage)
        problems.push({
          severity: 'error',
          kind: 'missing-image',
          id,
          file: image,
          message: 'the dermoscopic image is missing; restore it or remove the lesion folder',
        });
      if (!hasMask)
        problems.push({
          severity: 'error',
          kind: 'missing-mask',
          id,
          file: mask,
          message: 'the lesion mask is missing; restore it or remove the lesion folder',
        });
      const row = labels.get(id);
      if (!row)
        problems.push({
          severity: 'error',
          kind: 'missing-label',
          id,
          file: tableFile,
          message: `no row for ${id} in ${path.basename(tableFile)}; add its Clinical Diagnosis or remove the lesion folder`,
        });
      records.push({
        id,
        image: hasImage ? image : null,
        mask: hasMask ? mask : null,
        label: row?.label ?? null,
        split: null,
        synthetic: isSyntheticId(id),
      });
    }
    const have = new Set(folders);
    for (const [id, row] of labels) {
      if (!have.has(id))
        problems.push({
          severity: 'error',
          kind: 'missing-image',
          id,
          file: row.where,
          message: `a row without a lesion folder "${IMAGES_DIR}/${id}"; restore the folder or delete the row`,
        });
    }
    return { root, format: 'ph2', classes: [...PH2_CLASSES], records, problems } satisfies DatasetIndex;
  },
};
