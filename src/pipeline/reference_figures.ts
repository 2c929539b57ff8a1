// The demo report's reference-model figures: for the first val lesions of each diagnosis (the ones
// the run's own grids show), the label map, the real image, the image the demo's generator made and
// the image of the reference model that ships with dermosynth ('dermosynth models'), side by side at
// the reference model's size (OUT/figures/reference-CLASS.png), so a user sees what minutes and what
// hours of training give on the same label maps. Pixels are scaled by nearest neighbour: a 64x64
// image looks like one.
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import sharp from 'sharp';
import { writeFileAtomic } from '../util/atomic_file.js';
import { LesionCache } from '../data/cache.js';
import { buildLabelBytes, CLASS_BITS } from '../data/label_bytes.js';
import { colouriseLabels } from '../data/label_preview.js';
import { resizeMaskTo } from '../data/mask_geometry.js';
import { defaultModel } from '../synth/pretrained.js';
import { RunGenerator } from '../synth/run_generator.js';
import type { ReferenceResult } from './stage_results.js';

const GAP = 2;

/** RGB bytes [h, w, 3] scaled to [size, size] by nearest neighbour, as a sharp input. */
async function tile(rgb: Uint8Array, w: number, h: number, width: number, height: number): Promise<Buffer> {
  return sharp(rgb, { raw: { width: w, height: h, channels: 3 } })
    .resize(width, height, { kernel: 'nearest', fit: 'fill' })
    .png()
    .toBuffer();
}

/**
 * Writes one figure per diagnosis into `figuresDir` (rows: label | real | demo | reference) and
 * returns what the report shows; without a shipped model, or one that knows none of the demo's
 * diagnoses, the reason instead. Figure paths are relative to `out`.
 */
export async function writeReferenceFigures(o: {
  cacheDir: string;
  runDir: string;
  figuresDir: string;
  out: string;
  examples: number;
}): Promise<ReferenceResult> {
  const found = await defaultModel();
  if (!found)
    return { model: null, reason: "no reference model ships with this installation ('dermosynth models' lists them)" };
  const ref = await RunGenerator.load(found.model.dir);
  let gen: RunGenerator | null = null;
  const cache = await LesionCache.open(o.cacheDir);
  try {
    gen = await RunGenerator.load(o.runDir);
    const classes = cache.spec.classes;
    const shared = classes.filter((c) => ref.classes.includes(c));
    if (shared.length === 0)
      return {
        model: null,
        reason: `the reference model ${found.model.name} knows ${ref.classes.join(', ')}, none of the demo's diagnoses (${classes.join(', ')})`,
      };
    const [W, H] = [ref.width, ref.height];
    const [w, h] = [cache.width, cache.height];
    const picks = new Map<string, number[]>();
    for (const i of cache.indices('val')) {
      const c = classes[cache.records[i]!.label]!;
      const list = picks.get(c) ?? [];
      if (list.length < o.examples && shared.includes(c)) picks.set(c, [...list, i]);
    }
    await mkdir(o.figuresDir, { recursive: true });
    const figures: Record<string, string> = {};
    for (const [c, rows] of picks) {
      const tiles: sharp.OverlayOptions[] = [];
      for (const [r, i] of rows.entries()) {
        const image = new Uint8Array(3 * w * h);
        const label = new Uint8Array(w * h);
        cache.readInto(i, image, 0, label, 0);
        const demo = gen.generate([label])[0]!;
        // The lesion mask of the demo's label map, at the reference model's size, with its label map.
        const lesions = classes.length;
        const mask = label.map((v) => {
          const k = v & CLASS_BITS;
          return k >= 1 && k <= lesions ? 255 : 0;
        });
        const big = resizeMaskTo({ data: mask, width: w, height: h, channels: 1 }, { width: W, height: H }, 'crop');
        const refLabel = buildLabelBytes(big.pixels, ref.classes.indexOf(c), ref.spec, W, H);
        const refImage = ref.generate([refLabel])[0]!;
        // The cache's images are channels-first [3, h, w]; tiles are interleaved RGB.
        const real = new Uint8Array(3 * w * h);
        for (let p = 0; p < w * h; p++) for (let k = 0; k < 3; k++) real[p * 3 + k] = image[k * w * h + p]!;
        const row = [
          await tile(colouriseLabels(refLabel, ref.spec), W, H, W, H),
          await tile(real, w, h, W, H),
          await tile(demo, w, h, W, H),
          await tile(refImage, W, H, W, H),
        ];
        row.forEach((input, col) => tiles.push({ input, left: col * (W + GAP), top: r * (H + GAP) }));
      }
      const width = 4 * W + 3 * GAP;
      const height = rows.length * H + (rows.length - 1) * GAP;
      const png = await sharp({ create: { width, height, channels: 3, background: { r: 255, g: 255, b: 255 } } })
        .composite(tiles)
        .removeAlpha()
        .png()
        .toBuffer();
      const file = path.join(o.figuresDir, `reference-${c}.png`);
      await writeFileAtomic(file, png);
      figures[c] = path.relative(o.out, file).split(path.sep).join('/');
    }
    const src = found.model.config.source;
    return {
      model: found.model.name,
      size: [W, H],
      steps: src.step,
      demoSize: [w, h],
      figures,
    };
  } finally {
    cache.close();
    gen?.dispose();
    ref.dispose();
  }
}
