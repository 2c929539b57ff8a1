// ISIC 2018 (Task 1 masks, Task 3 diagnoses) and HAM10000 as they are downloaded:
//   images:  HAM10000_images_part_1/ and _part_2/, or ISIC2018_Task3_Training_Input/ or
//            ISIC2018_Task1-2_Training_Input/: ISIC_xxxxxxx.jpg
//   masks:   HAM10000_segmentations_lesion_tschandl/ or ISIC2018_Task1_Training_GroundTruth/:
//            ISIC_xxxxxxx_segmentation.png
//   labels:  HAM10000_metadata.csv (lesion_id,image_id,dx,...), or ISIC2018_Task3_Training_GroundTruth.csv
//            (image,MEL,NV,BCC,AKIEC,BKL,DF,VASC: one-hot), with ISIC2018_Task3_Training_LesionGroupings.csv
//            (image,lesion_id) when present.
// The official Validation and Test parts, when present, are read the same way (ISIC2018_Task3_
// Validation_Input/, ISIC2018_Task3_Validation_GroundTruth.csv, ..._LesionGroupings.csv, masks in
// ISIC2018_Task1_Validation_GroundTruth/; the same for Test): the part a lesion's row is in is then
// its official split. With the training part alone, prepare splits it by diagnosis.
// Several images of one lesion share a lesion_id: the records carry it as their group, and splits
// never put one lesion's images on both sides (in the official split, such a lesion is an error).
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { parseCsv, requireColumn } from '../csv.js';
import { SPLITS, type DatasetIndex, type DatasetReader, type LesionRecord, type Split } from '../dataset.js';
import { DataError, type Problem } from '../problems.js';
import { exists, findFiles, listMasks } from './assemble.js';
import { imagesOf, joinRows, keepRow, readLesionIds, type IdRow } from './join.js';
import { readOneHot } from './one_hot.js';

/** ISIC 2018 Task 3's diagnoses, in its CSV's column order (HAM10000's dx codes, upper-cased). */
export const ISIC2018_CLASSES = ['MEL', 'NV', 'BCC', 'AKIEC', 'BKL', 'DF', 'VASC'] as const;

const PARTS: { name: string; split: Split }[] = [
  { name: 'Training', split: 'train' },
  { name: 'Validation', split: 'val' },
  { name: 'Test', split: 'test' },
];
const TRAINING_IMAGE_DIRS = [/^HAM10000_images(_part_\d+)?$/, /^ISIC2018_Task1-2_Training_Input$/];
const inputDir = (part: string) => new RegExp(`^ISIC2018_Task3_${part}_Input$`);
const MASK_DIRS = [
  /^HAM10000_segmentations_lesion_tschandl$/,
  /^ISIC2018_Task1_(Training|Validation|Test)_GroundTruth$/,
];
const METADATA = 'HAM10000_metadata.csv';
const oneHotCsv = (part: string) => new RegExp(`^ISIC2018_Task3_${part}_GroundTruth\\.csv$`);
const groupingsCsv = (part: string) => new RegExp(`^ISIC2018_Task3_${part}_LesionGroupings\\.csv$`);

async function readMetadata(
  file: string,
  split: Split | null,
  out: Map<string, IdRow>,
  problems: Problem[],
  rejected: Set<string>,
): Promise<void> {
  const t = parseCsv(await readFile(file, 'utf8'), file);
  const [idCol, lesionCol, dxCol] = ['image_id', 'lesion_id', 'dx'].map((c) => requireColumn(t, c)) as [
    number,
    number,
    number,
  ];
  for (const { line, cells } of t.rows) {
    const id = cells[idCol]!.trim();
    const where = `${file}:${line}`;
    const label = ISIC2018_CLASSES.indexOf(cells[dxCol]!.trim().toUpperCase() as (typeof ISIC2018_CLASSES)[number]);
    if (label < 0) {
      problems.push({
        severity: 'error',
        kind: 'bad-csv',
        id,
        file: where,
        message: `unknown dx "${cells[dxCol]}"; HAM10000 uses ${ISIC2018_CLASSES.map((c) => c.toLowerCase()).join(', ')}`,
      });
      rejected.add(id);
      continue;
    }
    keepRow(out, id, { label, group: cells[lesionCol]!.trim() || null, where, split }, problems, rejected);
  }
}

/** Reads one part's labels (the training part's may be HAM10000's metadata); returns the files read. */
async function readPart(
  root: string,
  part: (typeof PARTS)[number],
  split: Split | null,
  rows: Map<string, IdRow>,
  problems: Problem[],
  rejected: Set<string>,
): Promise<string[]> {
  const metadata = path.join(root, METADATA);
  if (part.split === 'train' && (await exists(metadata))) {
    await readMetadata(metadata, split, rows, problems, rejected);
    return [metadata];
  }
  const file = (await findFiles(root, oneHotCsv(part.name), false))[0];
  if (!file) return [];
  await readOneHot(file, ISIC2018_CLASSES, split, rows, problems, rejected);
  const groupings = (await findFiles(root, groupingsCsv(part.name), false))[0];
  if (groupings) await readLesionIds(groupings, rows);
  return [file];
}

/**
 * In the official split, a lesion's images belong to one split: an image whose lesion already has
 * one in an earlier split is an error naming the row that gave it its lesion id and the other split.
 */
function checkGroupSplits(records: LesionRecord[], rows: Map<string, IdRow>, problems: Problem[]): void {
  const order = (r: LesionRecord) => SPLITS.indexOf(r.split!);
  const grouped = records
    .filter((r) => r.group !== undefined && r.split !== null)
    .sort((a, b) => order(a) - order(b) || (a.id < b.id ? -1 : 1));
  const first = new Map<string, { split: Split; id: string; where: string }>();
  for (const r of grouped) {
    const row = rows.get(r.id)!;
    const where = row.groupWhere ?? row.where;
    const f = first.get(r.group!);
    if (!f) first.set(r.group!, { split: r.split!, id: r.id, where });
    else if (f.split !== r.split) {
      problems.push({
        severity: 'error',
        kind: 'split-conflict',
        id: r.id,
        file: where,
        message: `lesion ${r.group} is also in the ${f.split} split (${f.id}, ${f.where}); one lesion's images belong to one split: correct the lesion_id or remove the image`,
      });
    }
  }
}

export const isic2018Reader: DatasetReader = {
  name: 'isic2018',
  description: `ISIC 2018 / HAM10000 as downloaded: ISIC_*.jpg in HAM10000_images_part_1/_2 or ISIC2018_Task3_{Training,Validation,Test}_Input, masks in HAM10000_segmentations_lesion_tschandl or ISIC2018_Task1_*_GroundTruth, diagnoses from ${METADATA} or ISIC2018_Task3_*_GroundTruth.csv (${ISIC2018_CLASSES.join(', ')})`,
  async detect(dir) {
    if (await exists(path.join(dir, METADATA))) return true;
    for (const p of PARTS) if ((await findFiles(dir, oneHotCsv(p.name), false)).length > 0) return true;
    return false;
  },
  async read(dir) {
    const root = path.resolve(dir);
    const problems: Problem[] = [];
    const rejected = new Set<string>();
    const rows = new Map<string, IdRow>();
    // Official splits only when the download has a Validation or Test part besides Training.
    let official = false;
    for (const p of PARTS.slice(1)) if ((await findFiles(root, oneHotCsv(p.name), false)).length > 0) official = true;
    const labelsFiles: string[] = [];
    for (const p of PARTS)
      labelsFiles.push(...(await readPart(root, p, official ? p.split : null, rows, problems, rejected)));
    if (labelsFiles.length === 0)
      throw new DataError(
        `${root}: no ${METADATA} or ISIC2018_Task3_{Training,Validation,Test}_GroundTruth.csv; unpack the ground-truth zips here`,
      );
    const imageDirs = [...TRAINING_IMAGE_DIRS, ...PARTS.map((p) => inputDir(p.name))];
    const images = await imagesOf((await Promise.all(imageDirs.map((t) => findFiles(root, t, true)))).flat(), problems);
    if (images.size === 0)
      throw new DataError(
        `${root}: no ISIC_*.jpg images in HAM10000_images_part_1/_2 or ISIC2018_Task3_Training_Input; unpack the image zips here`,
        problems,
      );
    const masks = new Map<string, string>();
    const maskDirs = (await Promise.all(MASK_DIRS.map((t) => findFiles(root, t, true)))).flat();
    for (const d of maskDirs) for (const [id, file] of await listMasks(d, problems)) masks.set(id, file);
    // A missing mask is expected in the split's Task 1 folder (training: the first mask folder).
    const task1 = (split: Split) => `ISIC2018_Task1_${PARTS.find((p) => p.split === split)!.name}_GroundTruth`;
    const maskHint = {
      dir: (split: Split | null) =>
        split === null || split === 'train'
          ? (maskDirs[0] ?? path.join(root, 'HAM10000_segmentations_lesion_tschandl'))
          : (maskDirs.find((d) => path.basename(d) === task1(split)) ?? path.join(root, task1(split))),
      message:
        'the segmentation mask is missing (HAM10000_segmentations_lesion_tschandl has one for every HAM10000 training image, ISIC2018_Task1_*_GroundTruth for the Task 1 images); add it or remove the image',
    };
    const records = joinRows(
      { images, rows, rejected, labelsFile: labelsFiles.join(' or '), masks, maskHint },
      problems,
    );
    if (official) checkGroupSplits(records, rows, problems);
    return { root, format: 'isic2018', classes: [...ISIC2018_CLASSES], records, problems } satisfies DatasetIndex;
  },
};
