// The procedural dermoscopy dataset: file layout and formats, determinism, option checks, and
// class differences that a classifier could learn, measured with simple image statistics.
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { renderSampleLesion, writeSampleDataset } from '../../src/data/sample_dataset.js';

type Cls = 'nevus' | 'melanoma' | 'seborrheic_keratosis';
const CLASSES: Cls[] = ['nevus', 'melanoma', 'seborrheic_keratosis'];

let root: string;
beforeAll(async () => {
  root = await fs.mkdtemp(path.join(os.tmpdir(), 'dermosynth-sample-'));
});
afterAll(async () => {
  await fs.rm(root, { recursive: true, force: true });
});

async function listFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await fs.readdir(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...(await listFiles(p)).map((f) => path.join(e.name, f)));
    else out.push(e.name);
  }
  return out.sort();
}

const luma = (rgb: Uint8Array, p: number): number =>
  0.299 * rgb[p * 3]! + 0.587 * rgb[p * 3 + 1]! + 0.114 * rgb[p * 3 + 2]!;
const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;

interface LesionStats {
  coverage: number;
  /** perimeter² / (4π area) of the mask, with the perimeter counted as 4-neighbour pixel edges. */
  compactness: number;
  /** Mean per-channel colour variance over the lesion interior. */
  colourVariance: number;
  /** Mean luma over the lesion interior. */
  meanLuma: number;
  /** Interior pixels much brighter than the lesion's median and bright in absolute terms. */
  brightPixels: number;
}

/** Statistics over the mask; colour statistics over the interior eroded by 2 px (away from the soft edge). */
function lesionStats(rgb: Uint8Array, mask: Uint8Array, size: number): LesionStats {
  let area = 0;
  let perimeter = 0;
  const inside = (x: number, y: number): boolean =>
    x >= 0 && y >= 0 && x < size && y < size && mask[y * size + x] === 255;
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      if (!inside(x, y)) continue;
      area++;
      perimeter +=
        Number(!inside(x + 1, y)) + Number(!inside(x - 1, y)) + Number(!inside(x, y + 1)) + Number(!inside(x, y - 1));
    }
  }
  const lumas: number[] = [];
  const channels: number[][] = [[], [], []];
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      let interior = true;
      for (let dy = -2; dy <= 2 && interior; dy++)
        for (let dx = -2; dx <= 2 && interior; dx++) interior = inside(x + dx, y + dy);
      if (!interior) continue;
      const p = y * size + x;
      lumas.push(luma(rgb, p));
      for (let c = 0; c < 3; c++) channels[c]!.push(rgb[p * 3 + c]!);
    }
  }
  const variance = (xs: number[]): number => {
    const m = mean(xs);
    return mean(xs.map((v) => (v - m) ** 2));
  };
  const median = [...lumas].sort((a, b) => a - b)[lumas.length >> 1]!;
  return {
    coverage: area / (size * size),
    compactness: (perimeter * perimeter) / (4 * Math.PI * area),
    colourVariance: mean(channels.map(variance)),
    meanLuma: mean(lumas),
    brightPixels: lumas.filter((l) => l > 170 && l > median + 50).length,
  };
}

describe('writeSampleDataset', () => {
  it('writes images, single-channel 0/255 masks and an ISIC-2017 labels.csv', async () => {
    const dir = path.join(root, 'small');
    const summary = await writeSampleDataset(dir, { n: 9, size: 64, seed: 3 });
    expect(summary).toEqual({ dir, n: 9, counts: { nevus: 3, melanoma: 3, seborrheic_keratosis: 3 } });

    const ids = Array.from({ length: 9 }, (_, i) => `SAMPLE_000${i}`);
    expect(await listFiles(dir)).toEqual(
      [
        ...ids.map((id) => path.join('images', `${id}.jpg`)),
        'labels.csv',
        ...ids.map((id) => path.join('masks', `${id}_segmentation.png`)),
      ].sort(),
    );

    const csv = await fs.readFile(path.join(dir, 'labels.csv'), 'utf8');
    const lines = csv.trimEnd().split('\n');
    expect(lines[0]).toBe('image_id,melanoma,seborrheic_keratosis');
    expect(lines.slice(1)).toEqual(
      ids.map((id, i) => `${id},${i % 3 === 1 ? '1.0' : '0.0'},${i % 3 === 2 ? '1.0' : '0.0'}`),
    );

    for (let i = 0; i < 9; i++) {
      const maskFile = path.join(dir, 'masks', `${ids[i]}_segmentation.png`);
      const meta = await sharp(maskFile).metadata();
      expect(meta).toMatchObject({ format: 'png', width: 64, height: 64, channels: 1, depth: 'uchar' });
      const { data: maskData, info } = await sharp(maskFile)
        .extractChannel(0)
        .raw()
        .toBuffer({ resolveWithObject: true });
      expect(info.channels).toBe(1);
      const values = new Set(maskData);
      expect([...values].sort((a, b) => a - b)).toEqual([0, 255]);
      const coverage = maskData.filter((v) => v === 255).length / maskData.length;
      expect(coverage).toBeGreaterThan(0.03);
      expect(coverage).toBeLessThan(0.6);

      // The files are the in-memory renders: the mask exactly, the JPEG up to compression error.
      const rendered = renderSampleLesion(i, CLASSES[i % 3]!, 3, 64);
      expect(Buffer.from(maskData).equals(Buffer.from(rendered.mask))).toBe(true);
      const jpgFile = path.join(dir, 'images', `${ids[i]}.jpg`);
      expect(await sharp(jpgFile).metadata()).toMatchObject({ format: 'jpeg', width: 64, height: 64, channels: 3 });
      const { data: rgb } = await sharp(jpgFile).raw().toBuffer({ resolveWithObject: true });
      expect(rgb.length).toBe(64 * 64 * 3);
      let err = 0;
      for (let k = 0; k < rgb.length; k++) err += Math.abs(rgb[k]! - rendered.rgb[k]!);
      expect(err / rgb.length).toBeLessThan(6);
    }
    // No temporary files from the atomic writes are left behind.
    expect((await listFiles(dir)).filter((f) => f.includes('.tmp'))).toEqual([]);
  });

  it('is deterministic: the same seed gives byte-identical files, another seed different images', async () => {
    const a = path.join(root, 'det-a');
    const b = path.join(root, 'det-b');
    const c = path.join(root, 'det-c');
    await writeSampleDataset(a, { n: 6, size: 64, seed: 11 });
    await writeSampleDataset(b, { n: 6, size: 64, seed: 11 });
    await writeSampleDataset(c, { n: 6, size: 64, seed: 12 });
    const files = await listFiles(a);
    expect(await listFiles(b)).toEqual(files);
    let differ = 0;
    for (const f of files) {
      const bytesA = await fs.readFile(path.join(a, f));
      expect(bytesA.equals(await fs.readFile(path.join(b, f))), f).toBe(true);
      if (f.startsWith('images') && !bytesA.equals(await fs.readFile(path.join(c, f)))) differ++;
    }
    expect(differ).toBe(6);
    // labels.csv depends only on n.
    expect((await fs.readFile(path.join(c, 'labels.csv'))).equals(await fs.readFile(path.join(a, 'labels.csv')))).toBe(
      true,
    );
  });

  it('refuses a folder that already holds a dataset, naming it', async () => {
    const dir = path.join(root, 'refuse');
    await writeSampleDataset(dir, { n: 3, size: 32 });
    await expect(writeSampleDataset(dir, { n: 3, size: 32 })).rejects.toThrow(dir);
    await expect(writeSampleDataset(dir, { n: 3, size: 32 })).rejects.toThrow(/choose an empty folder or delete it/);
    for (const name of ['labels.csv', 'images', 'masks']) {
      const other = path.join(root, `refuse-${name}`);
      await fs.mkdir(other);
      if (name === 'labels.csv') await fs.writeFile(path.join(other, name), 'x');
      else await fs.mkdir(path.join(other, name));
      await expect(writeSampleDataset(other, { n: 3, size: 32 })).rejects.toThrow(
        /choose an empty folder or delete it/,
      );
    }
    // A folder with unrelated content is fine.
    const unrelated = path.join(root, 'unrelated');
    await fs.mkdir(unrelated);
    await fs.writeFile(path.join(unrelated, 'notes.txt'), 'hello');
    await expect(writeSampleDataset(unrelated, { n: 3, size: 32 })).resolves.toMatchObject({ n: 3 });
  });

  it('rejects bad options with an error naming the option, before writing anything', async () => {
    const dir = path.join(root, 'bad-options');
    const bad: Array<[string, object]> = [
      ['n', { n: 0 }],
      ['n', { n: -3 }],
      ['n', { n: 2.5 }],
      ['n', { n: 100_001 }],
      ['n', { n: Number.NaN }],
      ['size', { size: 31 }],
      ['size', { size: 4097 }],
      ['size', { size: 64.5 }],
      ['seed', { seed: -1 }],
      ['seed', { seed: 0.5 }],
      ['seed', { seed: 2 ** 53 }],
    ];
    for (const [name, options] of bad) {
      await expect(writeSampleDataset(dir, options), JSON.stringify(options)).rejects.toThrow(`option "${name}"`);
    }
    await expect(fs.stat(dir)).rejects.toMatchObject({ code: 'ENOENT' });
    expect(() => renderSampleLesion(0, 'basal_cell_carcinoma' as Cls, 0, 64)).toThrow(
      /nevus, melanoma, seborrheic_keratosis/,
    );
    expect(() => renderSampleLesion(0, 'nevus', 0, 16)).toThrow(/"size"/);
    expect(() => renderSampleLesion(-1, 'nevus', 0, 64)).toThrow(/"index"/);
  });
});

describe('renderSampleLesion', () => {
  it('returns HxWx3 pixels and a 0/255 mask that stays off the image border and the vignette', () => {
    let framed = 0;
    for (let i = 0; i < 30; i++) {
      const size = 96;
      const { rgb, mask } = renderSampleLesion(i, CLASSES[i % 3]!, 5, size);
      expect(rgb.length).toBe(size * size * 3);
      expect(mask.length).toBe(size * size);
      expect(mask.every((v) => v === 0 || v === 255)).toBe(true);
      // The lesion is kept inside the picture: the outermost ring of pixels is never lesion.
      for (let k = 0; k < size; k++) {
        for (const p of [k, (size - 1) * size + k, k * size, k * size + size - 1]) expect(mask[p]).toBe(0);
      }
      // The dermoscope's frame (uniformly near-black areas) is never part of the mask.
      let frame = 0;
      let frameInMask = 0;
      for (let y = 2; y < size - 2; y++) {
        for (let x = 2; x < size - 2; x++) {
          let black = true;
          for (let dy = -2; dy <= 2 && black; dy++)
            for (let dx = -2; dx <= 2 && black; dx++) black = luma(rgb, (y + dy) * size + x + dx) < 22;
          if (!black) continue;
          frame++;
          if (mask[y * size + x] !== 0) frameInMask++;
        }
      }
      expect(frameInMask, `image ${i}`).toBe(0);
      if (frame > 0) framed++;
    }
    // About a third of the images have a vignette (a black circular frame or dark corners): some
    // of these 30 have near-black areas, most do not.
    expect(framed).toBeGreaterThanOrEqual(2);
    expect(framed).toBeLessThanOrEqual(15);
  });

  it('is deterministic in (index, class, seed, size)', () => {
    const a = renderSampleLesion(7, 'melanoma', 42, 64);
    const b = renderSampleLesion(7, 'melanoma', 42, 64);
    expect(Buffer.from(a.rgb).equals(Buffer.from(b.rgb))).toBe(true);
    expect(Buffer.from(a.mask).equals(Buffer.from(b.mask))).toBe(true);
    const c = renderSampleLesion(7, 'melanoma', 43, 64);
    expect(Buffer.from(a.rgb).equals(Buffer.from(c.rgb))).toBe(false);
    expect(Buffer.from(a.mask).equals(Buffer.from(c.mask))).toBe(false);
    const d = renderSampleLesion(8, 'melanoma', 42, 64);
    expect(Buffer.from(a.rgb).equals(Buffer.from(d.rgb))).toBe(false);
  });

  it('works at the smallest and at a large size', () => {
    for (const size of [32, 512]) {
      for (const cls of CLASSES) {
        const { rgb, mask } = renderSampleLesion(1, cls, 0, size);
        expect(rgb.length).toBe(size * size * 3);
        const coverage = mask.filter((v) => v === 255).length / mask.length;
        expect(coverage, `${cls} at ${size}`).toBeGreaterThan(0.03);
        expect(coverage, `${cls} at ${size}`).toBeLessThan(0.6);
      }
    }
  });

  describe('classes differ in the ways dermatologists tell them apart', () => {
    const size = 96;
    const perClass = 12;
    const stats = {} as Record<Cls, LesionStats[]>;
    beforeAll(() => {
      for (const cls of CLASSES) {
        stats[cls] = Array.from({ length: perClass }, (_, j) => {
          const { rgb, mask } = renderSampleLesion(3 * j + CLASSES.indexOf(cls), cls, 1, size);
          return lesionStats(rgb, mask, size);
        });
      }
    });
    const avg = (cls: Cls, key: keyof LesionStats): number => mean(stats[cls].map((s) => s[key]));

    it('masks cover a plausible part of the image, melanomas the most', () => {
      for (const cls of CLASSES) {
        for (const s of stats[cls]) {
          expect(s.coverage).toBeGreaterThan(0.03);
          expect(s.coverage).toBeLessThan(0.6);
        }
      }
      expect(avg('melanoma', 'coverage')).toBeGreaterThan(1.4 * avg('nevus', 'coverage'));
    });

    it('melanoma borders are more irregular (perimeter²/area) than nevus borders', () => {
      // A digitised disc scores about 1.6 with 4-neighbour edges; notches and lobes raise it.
      expect(avg('nevus', 'compactness')).toBeLessThan(1.8);
      expect(avg('melanoma', 'compactness')).toBeGreaterThan(1.15 * avg('nevus', 'compactness'));
      const nevusMax = Math.max(...stats.nevus.map((s) => s.compactness));
      expect(stats.melanoma.filter((s) => s.compactness > nevusMax).length).toBeGreaterThanOrEqual(perClass - 2);
    });

    it('melanomas are multicoloured, nevi uniform', () => {
      expect(avg('melanoma', 'colourVariance')).toBeGreaterThan(3 * avg('nevus', 'colourVariance'));
      expect(avg('nevus', 'colourVariance')).toBeLessThan(200);
    });

    it('seborrheic keratoses show bright milia-like dots and are lighter than melanomas', () => {
      const withDots = stats.seborrheic_keratosis.filter((s) => s.brightPixels >= 3).length;
      expect(withDots).toBeGreaterThanOrEqual(perClass - 2);
      expect(avg('seborrheic_keratosis', 'brightPixels')).toBeGreaterThan(avg('nevus', 'brightPixels') + 8);
      expect(avg('nevus', 'brightPixels')).toBeLessThan(2);
      expect(avg('seborrheic_keratosis', 'meanLuma')).toBeGreaterThan(avg('melanoma', 'meanLuma') + 15);
    });
  });
});
