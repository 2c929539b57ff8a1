// Shared by the readers: lists image and mask files, and joins them with labels and splits.
import { access, readdir } from 'node:fs/promises';
import path from 'node:path';
import { isSyntheticId, type LesionRecord, type Split } from '../dataset.js';
import type { Problem } from '../problems.js';
import { DataError } from '../problems.js';
import type { LabelRow } from './isic2017_labels.js';

export const IMAGE_EXTENSIONS = ['.jpg', '.jpeg', '.png', '.tif', '.tiff', '.bmp', '.webp'];
export const MASK_SUFFIX = '_segmentation.png';

export async function listDir(dir: string): Promise<string[]> {
  try {
    return (await readdir(dir, { withFileTypes: true }))
      .filter((d) => d.isFile() || d.isSymbolicLink())
      .map((d) => d.name)
      .sort();
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new DataError(
      `${dir}: cannot list the folder (${code === 'ENOENT' ? 'it does not exist' : (code ?? (e as Error).message)})`,
    );
  }
}

/** Files (or folders) named like `test` directly in `dir` or one folder down (zips unpack into a folder of their own name). */
export async function findFiles(dir: string, test: RegExp, wantDir: boolean): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true })) {
    if (!e.isDirectory()) {
      if (!wantDir && e.isFile() && test.test(e.name)) out.push(path.join(dir, e.name));
      continue;
    }
    const full = path.join(dir, e.name);
    if (wantDir && test.test(e.name)) out.push(full);
    for (const f of await readdir(full, { withFileTypes: true })) {
      if ((wantDir ? f.isDirectory() : f.isFile()) && test.test(f.name)) out.push(path.join(full, f.name));
    }
  }
  return out.sort();
}

export async function exists(p: string): Promise<boolean> {
  try {
    await access(p);
    return true;
  } catch {
    return false;
  }
}

/**
 * Image files of a folder by id (the file name without extension). `ignore` names files that are
 * expected there but are not lesion images (ISIC's superpixels and metadata); other unknown files
 * become warnings, and two images with one id an error.
 */
export async function listImages(
  dir: string,
  problems: Problem[],
  ignore: (name: string) => boolean = () => false,
): Promise<Map<string, string>> {
  const byId = new Map<string, string>();
  for (const name of await listDir(dir)) {
    if (name.startsWith('.') || ignore(name)) continue;
    const ext = path.extname(name).toLowerCase();
    const file = path.join(dir, name);
    if (!IMAGE_EXTENSIONS.includes(ext)) {
      problems.push({
        severity: 'warning',
        kind: 'unknown-file',
        file,
        message: `not an image (${IMAGE_EXTENSIONS.join(', ')}); ignored`,
      });
      continue;
    }
    const id = name.slice(0, -ext.length);
    const other = byId.get(id);
    if (other) {
      problems.push({
        severity: 'error',
        kind: 'duplicate-id',
        id,
        file,
        message: `two images for one id (also ${other}); keep one`,
      });
      continue;
    }
    byId.set(id, file);
  }
  return byId;
}

/** Mask files `<id>_segmentation.png` of a folder by id; anything else is a warning. */
export async function listMasks(
  dir: string,
  problems: Problem[],
  ignore: (name: string) => boolean = () => false,
): Promise<Map<string, string>> {
  const byId = new Map<string, string>();
  for (const name of await listDir(dir)) {
    if (name.startsWith('.') || ignore(name)) continue;
    const file = path.join(dir, name);
    if (!name.endsWith(MASK_SUFFIX)) {
      problems.push({
        severity: 'warning',
        kind: 'unknown-file',
        file,
        message: `not a mask named <id>${MASK_SUFFIX}; ignored`,
      });
      continue;
    }
    byId.set(name.slice(0, -MASK_SUFFIX.length), file);
  }
  return byId;
}

export interface Part {
  images: Map<string, string>;
  masks: Map<string, string>;
  labels: Map<string, LabelRow>;
  /** Ids whose label rows were rejected: duplicated or invalid (already reported). */
  badLabels: Set<string>;
  labelsFile: string;
  masksDir: string;
  split: Split | null;
}

/**
 * Joins the images, masks and labels of one part into records: an image without a label row, a
 * label row without an image, and a missing mask are each reported as an error naming the id.
 */
export function assemble(part: Part, problems: Problem[]): LesionRecord[] {
  const records: LesionRecord[] = [];
  const ids = new Set([...part.images.keys(), ...part.labels.keys(), ...part.badLabels]);
  for (const id of [...ids].sort()) {
    const image = part.images.get(id) ?? null;
    const row = part.labels.get(id);
    const mask = part.masks.get(id) ?? null;
    if (!image) {
      const where = row ? `${row.file}:${row.line}` : part.labelsFile;
      problems.push({
        severity: 'error',
        kind: 'missing-image',
        id,
        file: where,
        message: 'a label row without an image; add the image or delete the row',
      });
    } else if (!row && !part.badLabels.has(id)) {
      problems.push({
        severity: 'error',
        kind: 'missing-label',
        id,
        file: image,
        message: `an image without a row in ${part.labelsFile}; add the row or remove the image`,
      });
    }
    if (image && !mask) {
      problems.push({
        severity: 'error',
        kind: 'missing-mask',
        id,
        file: path.join(part.masksDir, `${id}${MASK_SUFFIX}`),
        message: 'the segmentation mask is missing; add it or remove the image',
      });
    }
    records.push({ id, image, mask, label: row?.label ?? null, split: part.split, synthetic: isSyntheticId(id) });
  }
  for (const [id, file] of part.masks) {
    if (!part.images.has(id) && !part.labels.has(id)) {
      problems.push({
        severity: 'warning',
        kind: 'orphan-mask',
        id,
        file,
        message: 'a mask without an image or label; ignored',
      });
    }
  }
  return records;
}
