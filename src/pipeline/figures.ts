// The demo's figures of the synthetic set: one picture per class, up to n synthetic lesions, their
// masks above and their images below (OUT/figures/synthetic-CLASS.png).
import { mkdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import sharp from 'sharp';
import { writeFileAtomic } from '../util/atomic_file.js';
import { parseCsv, requireColumn } from '../data/csv.js';
import { ISIC2017_CLASSES } from '../data/diagnosis.js';
import { maskFileName } from '../data/flat_writer.js';
import { SYNTHESIS_FILE } from '../synth/output.js';
import type { SyntheticFigure } from './stage_results.js';

const GAP = 2;

/** The synthetic set's ids per diagnosis, from its labels.csv. */
async function idsByClass(synDir: string): Promise<Map<string, string[]>> {
  const labelsFile = path.join(synDir, 'labels.csv');
  const t = parseCsv(await readFile(labelsFile, 'utf8'), labelsFile);
  const [id, mel, sk] = ['image_id', 'melanoma', 'seborrheic_keratosis'].map((c) => requireColumn(t, c));
  const byClass = new Map<string, string[]>();
  for (const { cells } of t.rows) {
    const c = Number(cells[mel!]) === 1 ? 'melanoma' : Number(cells[sk!]) === 1 ? 'seborrheic_keratosis' : 'nevus';
    byClass.set(c, [...(byClass.get(c) ?? []), cells[id!]!]);
  }
  return byClass;
}

/** The lesions side by side, masks above and images below, as PNG bytes; and the picture's width. */
async function lesionStrip(
  synDir: string,
  ids: readonly string[],
  size: [number, number],
  imageFormat: string,
): Promise<{ png: Buffer; width: number }> {
  const [w, h] = size;
  const tiles: sharp.OverlayOptions[] = [];
  for (const [i, sid] of ids.entries()) {
    const mask = await sharp(path.join(synDir, 'masks', maskFileName(sid)))
      .resize(w, h, { kernel: 'nearest' })
      .toColourspace('srgb')
      .png()
      .toBuffer();
    tiles.push({ input: mask, left: i * (w + GAP), top: 0 });
    tiles.push({ input: path.join(synDir, 'images', `${sid}.${imageFormat}`), left: i * (w + GAP), top: h + GAP });
  }
  const width = ids.length * (w + GAP) - GAP;
  const png = await sharp({
    create: { width, height: 2 * h + GAP, channels: 3, background: { r: 255, g: 255, b: 255 } },
  })
    .composite(tiles)
    .removeAlpha()
    .png()
    .toBuffer();
  return { png, width };
}

/** One picture per class in `figures`: up to `n` synthetic lesions of `synDir`. Files are relative to the folder above `figures`. */
export async function writeSyntheticFigures(
  synDir: string,
  figures: string,
  n: number,
): Promise<Record<string, SyntheticFigure>> {
  const byClass = await idsByClass(synDir);
  await mkdir(figures, { recursive: true });
  const manifest = JSON.parse(await readFile(path.join(synDir, SYNTHESIS_FILE), 'utf8')) as {
    size: [number, number];
    imageFormat: string;
  };
  const out: Record<string, SyntheticFigure> = {};
  for (const c of ISIC2017_CLASSES) {
    const ids = byClass.get(c) ?? [];
    if (ids.length === 0) continue;
    const { png, width } = await lesionStrip(synDir, ids.slice(0, n), manifest.size, manifest.imageFormat);
    const file = path.join(figures, `synthetic-${c}.png`);
    await writeFileAtomic(file, png);
    out[c] = { file: path.relative(path.dirname(figures), file), count: ids.length, width };
  }
  return out;
}
