// ISIC 2020 (SIIM-ISIC melanoma classification) as it is downloaded:
//   train/ISIC_xxxxxxx.jpg (or jpeg/train/, as on Kaggle)
//   ISIC_2020_Training_GroundTruth.csv or ISIC_2020_Training_GroundTruth_v2.csv (preferred when both):
//     image_name,patient_id,lesion_id,sex,age_approx,anatom_site_general_challenge,diagnosis,
//     benign_malignant,target; target 0 is benign, 1 melanoma; lesion_id (v2 only) is the group
//   ISIC_2020_Training_Duplicates.csv (optional): image_name_1,image_name_2: the second image of each
//     pair is left out, each named in a warning
// ISIC 2020 has no segmentation masks: the index says so (masks: false), for classifiers only.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { parseCsv, requireColumn } from '../csv.js';
import type { DatasetIndex, DatasetReader } from '../dataset.js';
import { DataError, type Problem } from '../problems.js';
import { findFiles } from './assemble.js';
import { imagesOf, joinRows, keepRow, type IdRow } from './join.js';

export const ISIC2020_CLASSES = ['benign', 'melanoma'] as const;

const IMAGES = /^train$/;
const GROUND_TRUTH = /^ISIC_2020_Training_GroundTruth(_v2)?\.csv$/;
const DUPLICATES = /^ISIC_2020_Training_Duplicates\.csv$/;

async function readGroundTruth(
  file: string,
  rows: Map<string, IdRow>,
  problems: Problem[],
  rejected: Set<string>,
): Promise<void> {
  const t = parseCsv(await readFile(file, 'utf8'), file);
  const idCol = requireColumn(t, 'image_name');
  const targetCol = requireColumn(t, 'target');
  const lesionCol = t.header.indexOf('lesion_id');
  for (const { line, cells } of t.rows) {
    const id = cells[idCol]!.trim();
    const where = `${file}:${line}`;
    const target = cells[targetCol]!.trim();
    if (target !== '0' && target !== '1') {
      problems.push({
        severity: 'error',
        kind: 'bad-csv',
        id,
        file: where,
        message: `target is "${target}"; ISIC 2020 uses 0 (benign) or 1 (melanoma)`,
      });
      rejected.add(id);
      continue;
    }
    const group = lesionCol >= 0 ? cells[lesionCol]!.trim() || null : null;
    keepRow(rows, id, { label: Number(target), group, where, split: null }, problems, rejected);
  }
}

/** Leaves out the second image of each listed duplicate pair, with a warning naming the line. */
async function dropDuplicates(
  file: string,
  rows: Map<string, IdRow>,
  images: Map<string, string>,
  problems: Problem[],
): Promise<void> {
  const t = parseCsv(await readFile(file, 'utf8'), file);
  const firstCol = requireColumn(t, 'image_name_1');
  const secondCol = requireColumn(t, 'image_name_2');
  for (const { line, cells } of t.rows) {
    const [first, second] = [cells[firstCol]!.trim(), cells[secondCol]!.trim()];
    if (!rows.has(second) && !images.has(second)) continue;
    rows.delete(second);
    images.delete(second);
    problems.push({
      severity: 'warning',
      kind: 'duplicate-image',
      id: second,
      file: `${file}:${line}`,
      message: `the same lesion image as ${first} (ISIC's list of duplicates); left out`,
    });
  }
}

export const isic2020Reader: DatasetReader = {
  name: 'isic2020',
  description: `ISIC 2020 as downloaded: train/ISIC_*.jpg (or jpeg/train/), ISIC_2020_Training_GroundTruth(_v2).csv (target 0 benign, 1 melanoma), optional ISIC_2020_Training_Duplicates.csv; no masks: classifiers only`,
  async detect(dir) {
    return (await findFiles(dir, GROUND_TRUTH, false)).length > 0;
  },
  async read(dir) {
    const root = path.resolve(dir);
    const problems: Problem[] = [];
    const rejected = new Set<string>();
    const rows = new Map<string, IdRow>();
    const truths = await findFiles(root, GROUND_TRUTH, false);
    // The _v2 file (with lesion_id) when there are both; the other is named in a warning.
    const labelsFile = truths.find((f) => f.endsWith('_v2.csv')) ?? truths[0];
    if (!labelsFile)
      throw new DataError(
        `${root}: no ISIC_2020_Training_GroundTruth.csv; download it from https://challenge.isic-archive.com/data/ into this folder`,
      );
    for (const f of truths)
      if (f !== labelsFile)
        problems.push({
          severity: 'warning',
          kind: 'unused-file',
          file: f,
          message: `not read: ${path.basename(labelsFile)} is used (it adds lesion_id)`,
        });
    await readGroundTruth(labelsFile, rows, problems, rejected);
    const images = await imagesOf(await findFiles(root, IMAGES, true), problems);
    if (images.size === 0)
      throw new DataError(
        `${root}: no ISIC_*.jpg images in train/ or jpeg/train/; unpack ISIC_2020_Training_JPEG.zip here`,
        problems,
      );
    const duplicates = (await findFiles(root, DUPLICATES, false))[0];
    if (duplicates) await dropDuplicates(duplicates, rows, images, problems);
    const records = joinRows({ images, rows, rejected, labelsFile, masks: null }, problems);
    return {
      root,
      format: 'isic2020',
      classes: [...ISIC2020_CLASSES],
      records,
      problems,
      masks: false,
    } satisfies DatasetIndex;
  },
};
