// Finds the reader for a dataset folder.
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { applyClassMap, type ClassMap } from '../class_map.js';
import type { DatasetIndex, DatasetReader } from '../dataset.js';
import { DataError } from '../problems.js';
import { flatReader } from './flat.js';
import { isic2017Reader } from './isic2017_official.js';
import { isic2018Reader } from './isic2018.js';
import { isic2019Reader } from './isic2019.js';
import { isic2020Reader } from './isic2020.js';
import { ph2Reader } from './ph2.js';

/** Known layouts, tried in order. */
export const READERS: DatasetReader[] = [
  isic2017Reader,
  isic2018Reader,
  isic2019Reader,
  isic2020Reader,
  ph2Reader,
  flatReader,
];

/**
 * Reads a dataset folder with the first reader that recognises it (or the one named), its
 * diagnoses mapped onto another vocabulary when a class map (`--classes`) is given.
 */
export async function readDataset(dir: string, format?: string, classMap?: ClassMap | null): Promise<DatasetIndex> {
  const index = await readUnmapped(dir, format);
  return classMap ? applyClassMap(index, classMap) : index;
}

async function readUnmapped(dir: string, format?: string): Promise<DatasetIndex> {
  const root = path.resolve(dir);
  let st;
  try {
    st = await stat(root);
  } catch {
    throw new DataError(
      `${dir}: no such folder; give a dataset folder (or run 'dermosynth data sample --out ${dir}' for sample data)`,
    );
  }
  if (!st.isDirectory()) throw new DataError(`${dir}: not a folder; give a dataset folder`);
  if (format !== undefined) {
    const r = READERS.find((x) => x.name === format);
    if (!r) throw new DataError(`unknown dataset format '${format}'; known: ${READERS.map((x) => x.name).join(', ')}`);
    return r.read(root);
  }
  for (const r of READERS) if (await r.detect(root)) return r.read(root);
  throw new DataError(
    `${dir}: not a dataset folder this version understands. Expected one of:\n${READERS.map((r) => `  - ${r.name}: ${r.description}`).join('\n')}`,
  );
}
