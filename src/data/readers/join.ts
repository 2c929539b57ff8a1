// Joins the images of an ISIC download (2018, 2019, 2020) with its ground-truth rows by id, into
// lesion records: an image without a row, a row without an image and (when the dataset has masks) a
// missing mask are each one error naming the file.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { parseCsv, requireColumn } from '../csv.js';
import { isSyntheticId, type LesionRecord, type Split } from '../dataset.js';
import type { Problem } from '../problems.js';
import { listImages, MASK_SUFFIX } from './assemble.js';

/** One ground-truth row: the diagnosis, the lesion (when known) and where the row is ("file:line"). */
export interface IdRow {
  label: number;
  group: string | null;
  where: string;
  /** Where the group came from, when not the row itself (a lesion-groupings CSV). */
  groupWhere?: string;
  split: Split | null;
}

/** Adds a good row, or, when its id already has one, reports both as a duplicate and keeps neither. */
export function keepRow(
  out: Map<string, IdRow>,
  id: string,
  row: IdRow,
  problems: Problem[],
  rejected: Set<string>,
): void {
  const first = out.get(id);
  if (!first && !rejected.has(id)) {
    out.set(id, row);
    return;
  }
  const what = first
    ? `a second row for ${id} (the first is ${first.where})`
    : `another row for ${id}, whose earlier row was rejected`;
  problems.push({ severity: 'error', kind: 'duplicate-id', id, file: row.where, message: `${what}; keep one` });
  out.delete(id);
  rejected.add(id);
}

/**
 * Sets each row's group from a CSV's `image` and `lesion_id` columns (ISIC 2018's lesion groupings,
 * ISIC 2019's metadata), remembering the line; an empty lesion_id leaves the image without a group.
 */
export async function readLesionIds(file: string, rows: Map<string, IdRow>): Promise<void> {
  const t = parseCsv(await readFile(file, 'utf8'), file);
  const idCol = requireColumn(t, 'image');
  const lesionCol = requireColumn(t, 'lesion_id');
  for (const { line, cells } of t.rows) {
    const row = rows.get(cells[idCol]!.trim());
    if (row) [row.group, row.groupWhere] = [cells[lesionCol]!.trim() || null, `${file}:${line}`];
  }
}

/** The images of several folders by id; one id in two folders is an error. */
export async function imagesOf(dirs: string[], problems: Problem[]): Promise<Map<string, string>> {
  const images = new Map<string, string>();
  for (const d of dirs) {
    // ISIC's image folders also hold ATTRIBUTION.txt, LICENSE.txt and metadata: not lesions.
    for (const [id, file] of await listImages(d, problems, (n) => !n.startsWith('ISIC_'))) {
      if (images.has(id))
        problems.push({
          severity: 'error',
          kind: 'duplicate-id',
          id,
          file,
          message: `two images for one id (also ${images.get(id)}); keep one`,
        });
      else images.set(id, file);
    }
  }
  return images;
}

export interface Join {
  images: Map<string, string>;
  rows: Map<string, IdRow>;
  /** Ids whose rows were rejected (already reported). */
  rejected: Set<string>;
  labelsFile: string;
  /** The masks by id, or null when the dataset has none (then no mask is looked for). */
  masks: Map<string, string> | null;
  /** Where a lesion's missing mask was expected (by the lesion's split), and what to do about it. */
  maskHint?: { dir: (split: Split | null) => string; message: string };
}

export function joinRows(j: Join, problems: Problem[]): LesionRecord[] {
  const records: LesionRecord[] = [];
  for (const id of [...new Set([...j.images.keys(), ...j.rows.keys()])].sort()) {
    const image = j.images.get(id) ?? null;
    const row = j.rows.get(id);
    const mask = j.masks?.get(id) ?? null;
    if (!image)
      problems.push({
        severity: 'error',
        kind: 'missing-image',
        id,
        file: row!.where,
        message: 'a label row without an image; add the image or delete the row',
      });
    else if (!row && !j.rejected.has(id))
      problems.push({
        severity: 'error',
        kind: 'missing-label',
        id,
        file: image,
        message: `an image without a row in ${j.labelsFile}; add the row or remove the image`,
      });
    if (image && j.masks && !mask) {
      const dir = j.maskHint?.dir(row?.split ?? null) ?? path.dirname(image);
      const message = j.maskHint?.message ?? 'the segmentation mask is missing; add it or remove the image';
      problems.push({
        severity: 'error',
        kind: 'missing-mask',
        id,
        file: path.join(dir, `${id}${MASK_SUFFIX}`),
        message,
      });
    }
    records.push({
      id,
      image,
      mask,
      label: row?.label ?? null,
      split: row?.split ?? null,
      synthetic: isSyntheticId(id),
      group: row?.group ?? undefined,
    });
  }
  return records;
}
