// ISIC 2018 (Task 1 masks, Task 3 diagnoses) and HAM10000 as they are downloaded:
//   images:  HAM10000_images_part_1/ and _part_2/, or ISIC2018_Task3_Training_Input/ or
//            ISIC2018_Task1-2_Training_Input/: ISIC_xxxxxxx.jpg
//   masks:   HAM10000_segmentations_lesion_tschandl/ or ISIC2018_Task1_Training_GroundTruth/:
//            ISIC_xxxxxxx_segmentation.png
//   labels:  HAM10000_metadata.csv (lesion_id,image_id,dx,...), or ISIC2018_Task3_Training_GroundTruth.csv
//            (image,MEL,NV,BCC,AKIEC,BKL,DF,VASC: one-hot), with ISIC2018_Task3_Training_LesionGroupings.csv
//            (image,lesion_id) when present.
// Several images of one lesion share a lesion_id: the records carry it as their group, and splits
// never put one lesion's images on both sides.
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { parseCsv, requireColumn } from '../csv.js';
import { isSyntheticId, type DatasetIndex, type DatasetReader, type LesionRecord } from '../dataset.js';
import { DataError, type Problem } from '../problems.js';
import { exists, listImages, listMasks } from './assemble.js';

/** ISIC 2018 Task 3's diagnoses, in its CSV's column order (HAM10000's dx codes, upper-cased). */
export const ISIC2018_CLASSES = ['MEL', 'NV', 'BCC', 'AKIEC', 'BKL', 'DF', 'VASC'] as const;

const IMAGE_DIRS = [/^HAM10000_images(_part_\d+)?$/, /^ISIC2018_Task3_Training_Input$/, /^ISIC2018_Task1-2_Training_Input$/];
const MASK_DIRS = [/^HAM10000_segmentations_lesion_tschandl$/, /^ISIC2018_Task1_Training_GroundTruth$/];
const METADATA = 'HAM10000_metadata.csv';
const ONE_HOT = /^ISIC2018_Task3_Training_GroundTruth\.csv$/;
const GROUPINGS = /^ISIC2018_Task3_Training_LesionGroupings\.csv$/;

interface Row {
  label: number;
  group: string | null;
  where: string;
}

/** Files directly in `dir` or one folder down (the zips unpack into a folder of their own name). */
async function findFiles(dir: string, test: RegExp, wantDir: boolean): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const full = path.join(dir, e.name);
    if ((wantDir ? e.isDirectory() : e.isFile()) && test.test(e.name)) out.push(full);
    if (e.isDirectory() && !wantDir) {
      for (const f of await readdir(full, { withFileTypes: true })) if (f.isFile() && test.test(f.name)) out.push(path.join(full, f.name));
    }
  }
  return out.sort();
}

/** Adds a good row, or, when its id already has one, reports both as a duplicate and keeps neither. */
function keepRow(out: Map<string, Row>, id: string, row: Row, problems: Problem[], rejected: Set<string>): void {
  const first = out.get(id);
  if (!first) {
    out.set(id, row);
    return;
  }
  problems.push({ severity: 'error', kind: 'duplicate-id', id, file: row.where, message: `a second row for ${id} (the first is ${first.where}); keep one` });
  out.delete(id);
  rejected.add(id);
}

async function readMetadata(file: string, problems: Problem[], rejected: Set<string>): Promise<Map<string, Row>> {
  const t = parseCsv(await readFile(file, 'utf8'), file);
  const [idCol, lesionCol, dxCol] = ['image_id', 'lesion_id', 'dx'].map((c) => requireColumn(t, c)) as [number, number, number];
  const out = new Map<string, Row>();
  for (const { line, cells } of t.rows) {
    const id = cells[idCol]!.trim();
    const where = `${file}:${line}`;
    const label = ISIC2018_CLASSES.indexOf(cells[dxCol]!.trim().toUpperCase() as (typeof ISIC2018_CLASSES)[number]);
    if (label < 0) {
      problems.push({ severity: 'error', kind: 'bad-csv', id, file: where, message: `unknown dx "${cells[dxCol]}"; HAM10000 uses ${ISIC2018_CLASSES.map((c) => c.toLowerCase()).join(', ')}` });
      rejected.add(id);
      continue;
    }
    keepRow(out, id, { label, group: cells[lesionCol]!.trim() || null, where }, problems, rejected);
  }
  return out;
}

async function readOneHot(file: string, problems: Problem[], rejected: Set<string>): Promise<Map<string, Row>> {
  const t = parseCsv(await readFile(file, 'utf8'), file);
  const idCol = requireColumn(t, 'image');
  const cols = ISIC2018_CLASSES.map((c) => requireColumn(t, c));
  const out = new Map<string, Row>();
  for (const { line, cells } of t.rows) {
    const id = cells[idCol]!.trim();
    const where = `${file}:${line}`;
    const values = cols.map((c) => Number(cells[c]));
    const bad = values.findIndex((v) => v !== 0 && v !== 1);
    const ones = values.flatMap((v, k) => (v === 1 ? [k] : []));
    if (bad >= 0 || ones.length !== 1) {
      const what = bad >= 0 ? `${ISIC2018_CLASSES[bad]} is "${cells[cols[bad]!]}" (0 or 1)` : ones.length === 0 ? 'no diagnosis is 1' : `${ones.map((k) => ISIC2018_CLASSES[k]).join(' and ')} are both 1`;
      problems.push({ severity: 'error', kind: 'bad-csv', id, file: where, message: `${what}; a one-hot row has exactly one 1` });
      rejected.add(id);
      continue;
    }
    keepRow(out, id, { label: ones[0]!, group: null, where }, problems, rejected);
  }
  return out;
}

async function readGroupings(file: string, rows: Map<string, Row>): Promise<void> {
  const t = parseCsv(await readFile(file, 'utf8'), file);
  const idCol = requireColumn(t, 'image');
  const lesionCol = requireColumn(t, 'lesion_id');
  for (const { cells } of t.rows) {
    const row = rows.get(cells[idCol]!.trim());
    if (row) row.group = cells[lesionCol]!.trim() || null;
  }
}

export const isic2018Reader: DatasetReader = {
  name: 'isic2018',
  description: `ISIC 2018 / HAM10000 as downloaded: ISIC_*.jpg in HAM10000_images_part_1/_2 or ISIC2018_Task3_Training_Input, masks in HAM10000_segmentations_lesion_tschandl or ISIC2018_Task1_Training_GroundTruth, diagnoses from ${METADATA} or ISIC2018_Task3_Training_GroundTruth.csv (${ISIC2018_CLASSES.join(', ')})`,
  async detect(dir) {
    if (await exists(path.join(dir, METADATA))) return true;
    return (await findFiles(dir, ONE_HOT, false)).length > 0;
  },
  async read(dir) {
    const root = path.resolve(dir);
    const problems: Problem[] = [];
    const rejected = new Set<string>();
    const metadata = path.join(root, METADATA);
    let rows: Map<string, Row>;
    let labelsFile: string;
    if (await exists(metadata)) {
      labelsFile = metadata;
      rows = await readMetadata(metadata, problems, rejected);
    } else {
      labelsFile = (await findFiles(root, ONE_HOT, false))[0]!;
      rows = await readOneHot(labelsFile, problems, rejected);
      const groupings = await findFiles(root, GROUPINGS, false);
      if (groupings.length > 0) await readGroupings(groupings[0]!, rows);
    }
    const images = new Map<string, string>();
    for (const test of IMAGE_DIRS) {
      for (const d of await findFiles(root, test, true)) {
        for (const [id, file] of await listImages(d, problems, (n) => !n.startsWith('ISIC_'))) {
          if (images.has(id)) problems.push({ severity: 'error', kind: 'duplicate-id', id, file, message: `two images for one id (also ${images.get(id)}); keep one` });
          else images.set(id, file);
        }
      }
    }
    if (images.size === 0) throw new DataError(`${root}: no ISIC_*.jpg images in HAM10000_images_part_1/_2 or ISIC2018_Task3_Training_Input; unpack the image zips here`, problems);
    const masks = new Map<string, string>();
    const maskDirs = (await Promise.all(MASK_DIRS.map((t) => findFiles(root, t, true)))).flat();
    for (const d of maskDirs) for (const [id, file] of await listMasks(d, problems)) masks.set(id, file);
    const maskHint = maskDirs[0] ?? path.join(root, 'HAM10000_segmentations_lesion_tschandl');
    const records: LesionRecord[] = [];
    for (const id of [...new Set([...images.keys(), ...rows.keys()])].sort()) {
      const image = images.get(id) ?? null;
      const row = rows.get(id);
      const mask = masks.get(id) ?? null;
      if (!image) problems.push({ severity: 'error', kind: 'missing-image', id, file: row!.where, message: 'a label row without an image; add the image or delete the row' });
      else if (!row && !rejected.has(id)) problems.push({ severity: 'error', kind: 'missing-label', id, file: image, message: `an image without a row in ${labelsFile}; add the row or remove the image` });
      if (image && !mask) problems.push({ severity: 'error', kind: 'missing-mask', id, file: path.join(maskHint, `${id}_segmentation.png`), message: 'the segmentation mask is missing (HAM10000_segmentations_lesion_tschandl has one for every HAM10000 image); add it or remove the image' });
      records.push({ id, image, mask, label: row?.label ?? null, split: null, synthetic: isSyntheticId(id), group: row?.group ?? undefined });
    }
    return { root, format: 'isic2018', classes: [...ISIC2018_CLASSES], records, problems } satisfies DatasetIndex;
  },
};
