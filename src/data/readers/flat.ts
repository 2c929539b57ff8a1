// The flat layout (as ../shared/data/isic2017-512 and `dermosynth data sample`):
//   images/<id>.jpg   masks/<id>_segmentation.png   labels.csv (image_id,melanoma,seborrheic_keratosis)
//   split.csv (optional: image_id,isic2017_split with train/val/test)
//   source.csv (optional, written by `data merge`: image_id,source,...,lesion_id): images with one
//   lesion_id show one lesion, and splits keep them together (as HAM10000's groups)
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { parseCsv, requireColumn, CsvError } from '../csv.js';
import { ISIC2017_CLASSES } from '../diagnosis.js';
import { parseSplit, type DatasetIndex, type DatasetReader, type Split } from '../dataset.js';
import { DataError, type Problem } from '../problems.js';
import { assemble, exists, listImages, listMasks } from './assemble.js';
import { readIsic2017Labels, type LabelRow } from './isic2017_labels.js';
import { isNamedLabels, readClassesFile, readNamedLabels } from './named_labels.js';
import { CLASSES_FILE } from '../flat_writer.js';

/** Where each image of a merged dataset came from, and its lesion (see data merge). */
export const SOURCE_FILE = 'source.csv';

export const flatReader: DatasetReader = {
  name: 'flat',
  description:
    'a flat layout: images/<id>.jpg, masks/<id>_segmentation.png, labels.csv (image_id,melanoma,seborrheic_keratosis, or image_id,diagnosis with the order in classes.txt), optional split.csv (image_id,isic2017_split), optional source.csv (image_id,...,lesion_id: the images of one lesion)',
  async detect(dir) {
    return (await exists(path.join(dir, 'images'))) && (await exists(path.join(dir, 'labels.csv')));
  },
  async read(dir) {
    const root = path.resolve(dir);
    const problems: Problem[] = [];
    const imagesDir = path.join(root, 'images');
    const masksDir = path.join(root, 'masks');
    const labelsFile = path.join(root, 'labels.csv');
    const images = await listImages(imagesDir, problems);
    if (images.size === 0)
      throw new DataError(
        `${imagesDir}: the folder holds no images (${'.jpg, .png'}); put the lesion images there`,
        problems,
      );
    let masks = new Map<string, string>();
    if (await exists(masksDir)) masks = await listMasks(masksDir, problems);
    else
      problems.push({
        severity: 'error',
        kind: 'missing-folder',
        file: masksDir,
        message: 'the masks folder is missing; add masks/<id>_segmentation.png for every image',
      });
    const labels = new Map<string, LabelRow>();
    const badLabels = new Set<string>();
    let classes: string[] = [...ISIC2017_CLASSES];
    if (await isNamedLabels(labelsFile)) {
      const order = path.join(root, CLASSES_FILE);
      classes = await readNamedLabels(
        labelsFile,
        (await exists(order)) ? await readClassesFile(order) : null,
        labels,
        problems,
        badLabels,
      );
    } else {
      await readIsic2017Labels(labelsFile, labels, problems, badLabels);
    }
    const records = assemble({ images, masks, labels, badLabels, labelsFile, masksDir, split: null }, problems);
    const splitFile = path.join(root, 'split.csv');
    if (await exists(splitFile)) {
      const rejected = new Set<string>();
      const splits = await readSplitCsv(splitFile, problems, rejected);
      for (const r of records) {
        const s = splits.get(r.id);
        if (s) r.split = s;
        else if (r.image && !rejected.has(r.id))
          problems.push({
            severity: 'error',
            kind: 'missing-split',
            id: r.id,
            file: splitFile,
            message: 'no row in split.csv; add one (train, val or test) or delete split.csv to split by diagnosis',
          });
      }
      const known = new Set(records.map((r) => r.id));
      const extra = [...splits.keys()].filter((id) => !known.has(id));
      if (extra.length > 0) {
        problems.push({
          severity: 'warning',
          kind: 'orphan-split-row',
          file: splitFile,
          message: `${extra.length} rows name lesions that are not in the dataset (${extra.slice(0, 5).join(', ')}${extra.length > 5 ? ', ...' : ''}); ignored`,
        });
      }
    }
    const sourceFile = path.join(root, SOURCE_FILE);
    if (await exists(sourceFile)) {
      const lesions = await readLesionIds(sourceFile, problems);
      for (const r of records) if (lesions.has(r.id)) r.group = lesions.get(r.id);
      const known = new Set(records.map((r) => r.id));
      const extra = [...lesions.keys()].filter((id) => !known.has(id));
      if (extra.length > 0)
        problems.push({
          severity: 'warning',
          kind: 'orphan-source-row',
          file: sourceFile,
          message: `${extra.length} rows with a lesion_id name images that are not in the dataset (${extra.slice(0, 5).join(', ')}${extra.length > 5 ? ', ...' : ''}); ignored`,
        });
    }
    return { root, format: 'flat', classes, records, problems } satisfies DatasetIndex;
  },
};

/** split.csv: image_id plus a split column (isic2017_split, or split). Bad rows' ids go to `rejected`. */
async function readSplitCsv(file: string, problems: Problem[], rejected: Set<string>): Promise<Map<string, Split>> {
  const t = parseCsv(await readFile(file, 'utf8'), file);
  const idCol = requireColumn(t, 'image_id');
  const col = t.header.includes('isic2017_split') ? t.header.indexOf('isic2017_split') : t.header.indexOf('split');
  if (col < 0)
    throw new CsvError(file, 1, `missing column 'isic2017_split' (or 'split'); the header is: ${t.header.join(',')}`);
  const out = new Map<string, Split>();
  for (const { line, cells } of t.rows) {
    const id = cells[idCol]!.trim();
    const s = parseSplit(cells[col]!);
    if (!s) {
      problems.push({
        severity: 'error',
        kind: 'bad-csv',
        id,
        file: `${file}:${line}`,
        message: `unknown split '${cells[col]}'; use train, val or test`,
      });
      rejected.add(id);
      continue;
    }
    if (out.has(id)) {
      problems.push({
        severity: 'error',
        kind: 'duplicate-id',
        id,
        file: `${file}:${line}`,
        message: 'duplicate split row; keep one per image',
      });
      out.delete(id);
      rejected.add(id);
      continue;
    }
    out.set(id, s);
  }
  return out;
}

/** source.csv's lesion_id by image (none without the column; empty cells: an image's own lesion). */
async function readLesionIds(file: string, problems: Problem[]): Promise<Map<string, string>> {
  const t = parseCsv(await readFile(file, 'utf8'), file);
  const idCol = requireColumn(t, 'image_id');
  const col = t.header.indexOf('lesion_id');
  const out = new Map<string, string>();
  const lines = new Map<string, number>();
  if (col < 0) return out;
  for (const { line, cells } of t.rows) {
    const id = cells[idCol]!.trim();
    if (lines.has(id)) {
      problems.push({
        severity: 'error',
        kind: 'duplicate-id',
        id,
        file: `${file}:${line}`,
        message: `a second row for ${id} (the first is line ${lines.get(id)}); keep one`,
      });
      continue;
    }
    lines.set(id, line);
    const lesion = cells[col]!.trim();
    if (lesion !== '') out.set(id, lesion);
  }
  return out;
}
