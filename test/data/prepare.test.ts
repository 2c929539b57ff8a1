// The preprocessing cache: prepareCache on sample datasets (records, stratified splits, shards),
// pixels read back through LesionCache against sharp, reuse of unchanged shards, bad pixels
// (errors, warnings, --skip-bad), leftovers of a killed run, worker threads against in-process
// decoding, and the 'pad' fit with and without the frame class.
import fs from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { createHash } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { LesionCache, MANIFEST_FILE, SHARD_DIR, readManifest, recordLayout } from '../../src/data/cache.js';
import { prepareCache, type PrepareOptions } from '../../src/data/prepare.js';
import { DataError } from '../../src/data/problems.js';
import { readDataset } from '../../src/data/readers/index.js';
import { writeSampleDataset } from '../../src/data/sample_dataset.js';

// Shards hold up to 1,024 small lesions; tests that need several shards set a smaller count here.
const shardSize = vi.hoisted(() => ({ perShard: null as number | null }));
vi.mock('../../src/data/cache.js', async (importOriginal) => {
  const orig = await importOriginal<typeof import('../../src/data/cache.js')>();
  return { ...orig, recordsPerShard: (w: number, h: number) => shardSize.perShard ?? orig.recordsPerShard(w, h) };
});

const OPTS: PrepareOptions = {
  width: 32,
  height: 32,
  fit: 'crop',
  labelMap: { boundary: 0, frame: false },
  workers: 0,
};

let root: string;
/** 12 lesions of 64 px (4 per class). */
let base: string;
let dirs = 0;

beforeAll(async () => {
  root = await fs.mkdtemp(path.join(os.tmpdir(), 'dermosynth-prepare-'));
  base = path.join(root, 'base');
  await writeSampleDataset(base, { n: 12, seed: 5, size: 64 });
});
afterAll(async () => {
  await fs.rm(root, { recursive: true, force: true });
});

function tmpPath(name: string): string {
  return path.join(root, `${name}-${dirs++}`);
}

async function copyOfBase(): Promise<string> {
  const dir = tmpPath('data');
  await fs.cp(base, dir, { recursive: true });
  return dir;
}

async function shardFiles(cache: string): Promise<string[]> {
  return (await fs.readdir(path.join(cache, SHARD_DIR))).sort();
}

/** Interleaved [H, W, 3] to planar [3, H, W]. */
function planar(rgb: Uint8Array, n: number): Uint8Array {
  const out = new Uint8Array(3 * n);
  for (let i = 0; i < n; i++) for (let c = 0; c < 3; c++) out[c * n + i] = rgb[3 * i + c]!;
  return out;
}

describe('prepareCache on a sample dataset', () => {
  it('writes records, stratified splits and shards; LesionCache reads back the pixels sharp decodes', async () => {
    const index = await readDataset(base);
    const out = tmpPath('cache');
    const r = await prepareCache(index, out, OPTS);
    expect(r.dir).toBe(path.resolve(out));
    expect(r.decoded).toBe(12);
    expect(r.reused).toBe(0);
    expect(r.errors).toEqual([]);
    expect(r.warnings).toEqual([]);
    expect(r.skippedFile).toBeNull();
    expect(existsSync(path.join(out, 'skipped.csv'))).toBe(false);

    const m = r.manifest;
    expect(await readManifest(out)).toEqual(m);
    expect(m.records).toHaveLength(12);
    expect(m.records.map((x) => x.id).sort()).toEqual(index.records.map((x) => x.id).sort());
    expect(m.options).toEqual({ width: 32, height: 32, fit: 'crop', labelMap: { boundary: 0, frame: false } });
    expect(m.source).toEqual({ root: path.resolve(base), format: 'flat' });
    expect(m.labelMap.channels).toEqual(['skin', 'lesion:nevus', 'lesion:melanoma', 'lesion:seborrheic_keratosis']);

    // Stratified: per class 4 lesions, round(4 * 0.15) = 1 each in val and test, the rest in train.
    expect(m.split).toEqual({ source: 'stratified', val: 0.15, test: 0.15, seed: 0 });
    for (let c = 0; c < 3; c++) {
      const of = (s: string) => m.records.filter((x) => x.label === c && x.split === s).length;
      expect([of('train'), of('val'), of('test')]).toEqual([2, 1, 1]);
    }
    const labelOf = new Map(index.records.map((x) => [x.id, x.label]));
    for (const x of m.records) expect(x.label).toBe(labelOf.get(x.id));

    // One shard of 12 records of 32*32*4 bytes, with the checksum the manifest states.
    const layout = recordLayout(32, 32);
    expect(layout).toEqual({ image: 3072, label: 1024, total: 4096 });
    expect(m.shards).toHaveLength(1);
    expect(m.shards[0]!.count).toBe(12);
    expect(m.shards[0]!.bytes).toBe(12 * 4096);
    const bin = await fs.readFile(path.join(out, SHARD_DIR, m.shards[0]!.file));
    expect(bin.length).toBe(12 * 4096);
    expect(createHash('sha256').update(bin).digest('hex')).toBe(m.shards[0]!.sha256);
    expect(await shardFiles(out)).toEqual([m.shards[0]!.file, m.shards[0]!.file.replace(/\.bin$/, '.json')].sort());

    const cache = await LesionCache.open(out);
    try {
      expect(cache.size).toBe(12);
      expect([cache.width, cache.height]).toEqual([32, 32]);
      expect(cache.indices('train')).toHaveLength(6);
      expect(cache.indices(['val', 'test'])).toHaveLength(6);
      const n = 32 * 32;
      const image = new Uint8Array(3 * n + 5);
      const label = new Uint8Array(n + 7);
      for (let i = 0; i < cache.size; i++) {
        const rec = cache.records[i]!;
        cache.readInto(i, image, 5, label, 7);
        const src = index.records.find((x) => x.id === rec.id)!;
        expect(rec.sourceSize).toEqual([64, 64]);

        const want = await sharp(src.image!)
          .removeAlpha()
          .toColourspace('srgb')
          .resize(32, 32, { fit: 'cover', position: 'centre', kernel: 'lanczos3' })
          .raw()
          .toBuffer();
        const wantPlanar = planar(new Uint8Array(want), n);
        let diff = 0;
        for (let k = 0; k < 3 * n; k++) diff += Math.abs(image[5 + k]! - wantPlanar[k]!);
        expect(diff / (3 * n)).toBeLessThan(1.5);

        const mask = await sharp(src.mask!)
          .extractChannel(0)
          .resize(32, 32, { fit: 'cover', kernel: 'nearest' })
          .raw()
          .toBuffer();
        let lesion = 0;
        let agree = 0;
        for (let k = 0; k < n; k++) {
          const on = mask[k]! >= 128;
          if (on) lesion++;
          if (label[7 + k] === (on ? 1 + rec.label : 0)) agree++;
        }
        expect(lesion).toBeGreaterThan(0);
        expect(agree / n).toBeGreaterThan(0.97);
        expect(new Set(label.subarray(7))).toEqual(new Set([0, 1 + rec.label]));
        expect(rec.coverage).toBeGreaterThan(0);
        expect(rec.coverage).toBeLessThan(1);
      }
      expect(() => cache.readInto(12, image, 0, label, 0)).toThrow(RangeError);
    } finally {
      cache.close();
    }
  });

  it('reuses every shard on a second run; a changed image re-decodes only its shard; other options need overwrite', async () => {
    const data = await copyOfBase();
    const out = tmpPath('cache');
    shardSize.perShard = 4;
    try {
      const first = await prepareCache(await readDataset(data), out, OPTS);
      expect(first.decoded).toBe(12);
      expect(first.manifest.shards.map((s) => s.count)).toEqual([4, 4, 4]);
      const firstShards = await shardFiles(out);
      expect(firstShards).toHaveLength(6);

      const again = await prepareCache(await readDataset(data), out, OPTS);
      expect([again.decoded, again.reused]).toEqual([0, 12]);
      expect(again.manifest.records).toEqual(first.manifest.records);
      expect(again.manifest.shards).toEqual(first.manifest.shards);
      expect(await shardFiles(out)).toEqual(firstShards);

      // Change one image (in the second shard: lesions are sorted by id).
      const changed = path.join(data, 'images', 'SAMPLE_0005.jpg');
      await fs.writeFile(changed, await sharp(changed).negate().jpeg({ quality: 90 }).toBuffer());
      const third = await prepareCache(await readDataset(data), out, OPTS);
      expect([third.decoded, third.reused]).toEqual([4, 8]);
      expect(third.manifest.shards[0]).toEqual(first.manifest.shards[0]);
      expect(third.manifest.shards[2]).toEqual(first.manifest.shards[2]);
      expect(third.manifest.shards[1]!.file).not.toBe(first.manifest.shards[1]!.file);
      // The stale shard is gone; nothing else is left over.
      const now = await shardFiles(out);
      expect(now).toHaveLength(6);
      expect(now).not.toContain(first.manifest.shards[1]!.file);
      expect(third.manifest.records.find((x) => x.id === 'SAMPLE_0005')!.shard).toBe(1);
    } finally {
      shardSize.perShard = null;
    }

    // Other options in the same folder: refused, then replaced with overwrite.
    const other = { ...OPTS, width: 40, height: 24 };
    const err = await prepareCache(await readDataset(data), out, other).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DataError);
    expect((err as Error).message).toMatch(/other options \(32x32, fit crop.*--overwrite/);
    expect((await readManifest(out))!.options.width).toBe(32);
    const boundary = await prepareCache(await readDataset(data), out, {
      ...OPTS,
      labelMap: { boundary: 2, frame: false },
    }).catch((e: unknown) => e);
    expect(boundary).toBeInstanceOf(DataError);

    const replaced = await prepareCache(await readDataset(data), out, { ...other, overwrite: true });
    expect([replaced.decoded, replaced.reused]).toEqual([12, 0]);
    expect((await readManifest(out))!.options).toMatchObject({ width: 40, height: 24 });
    expect(await shardFiles(out)).toEqual(
      [replaced.manifest.shards[0]!.file, replaced.manifest.shards[0]!.file.replace('.bin', '.json')].sort(),
    );
    const cache = await LesionCache.open(out);
    expect([cache.width, cache.height, cache.size]).toEqual([40, 24, 12]);
    cache.close();
  });

  it('refuses an output folder that holds other files', async () => {
    const out = tmpPath('busy');
    await fs.mkdir(out);
    await fs.writeFile(path.join(out, 'thesis.tex'), 'precious');
    await expect(prepareCache(await readDataset(base), out, OPTS)).rejects.toThrow(/not a dermosynth cache/);
    expect(await fs.readdir(out)).toEqual(['thesis.tex']);
  });

  it('rejects bad sizes and worker counts', async () => {
    const index = await readDataset(base);
    await expect(prepareCache(index, tmpPath('x'), { ...OPTS, width: 4 })).rejects.toThrow(
      /width must be an integer from 8 to 8192/,
    );
    await expect(prepareCache(index, tmpPath('x'), { ...OPTS, height: 31.5 })).rejects.toThrow(RangeError);
    await expect(prepareCache(index, tmpPath('x'), { ...OPTS, workers: -1 })).rejects.toThrow(/workers/);
  });
});

// ---------------------------------------------------------------------------------------------

async function pngMask(data: Uint8Array, width: number, height: number, channels: 1 | 3 = 1): Promise<Buffer> {
  const s = sharp(data, { raw: { width, height, channels } });
  return (channels === 1 ? s.toColourspace('b-w') : s).png().toBuffer();
}

describe('bad pixels', () => {
  it('fails naming every bad lesion, or skips them with skipBad (listed in skipped.csv); warnings go to the manifest', async () => {
    const data = await copyOfBase();
    const img = (id: string) => path.join(data, 'images', `${id}.jpg`);
    const msk = (id: string) => path.join(data, 'masks', `${id}_segmentation.png`);
    // A truncated JPEG: the header is fine, the scan data stops half way.
    const jpeg = await fs.readFile(img('SAMPLE_0000'));
    await fs.writeFile(img('SAMPLE_0000'), jpeg.subarray(0, Math.floor(jpeg.length * 0.6)));
    // Not an image at all.
    await fs.writeFile(img('SAMPLE_0001'), 'this is not a JPEG file, only text pretending to be one');
    // A mask of another size than its image.
    await fs.writeFile(msk('SAMPLE_0002'), await pngMask(new Uint8Array(48 * 48).fill(255, 0, 500), 48, 48));
    // An RGB mask whose channels differ.
    const rgb = new Uint8Array(64 * 64 * 3);
    for (let i = 0; i < 64 * 64; i++) {
      rgb[3 * i] = i % 64 < 32 ? 255 : 0;
      rgb[3 * i + 1] = 0;
      rgb[3 * i + 2] = 255 - rgb[3 * i]!;
    }
    await fs.writeFile(msk('SAMPLE_0003'), await pngMask(rgb, 64, 64, 3));
    // A grey-level mask (a probability map): used, with a warning.
    const grey = new Uint8Array(64 * 64);
    for (let i = 0; i < grey.length; i++) grey[i] = (i % 64) * 4;
    await fs.writeFile(msk('SAMPLE_0004'), await pngMask(grey, 64, 64));

    const bad = ['SAMPLE_0000', 'SAMPLE_0001', 'SAMPLE_0002', 'SAMPLE_0003'];
    const index = await readDataset(data);
    expect(index.problems).toEqual([]); // the reader only looks at names
    const out = tmpPath('cache');
    const err = await prepareCache(index, out, OPTS).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DataError);
    const e = err as DataError;
    for (const id of bad) expect(e.message).toContain(id);
    expect(e.message).not.toContain('SAMPLE_0004');
    expect(e.message).toContain('--skip-bad');
    const kinds = Object.fromEntries(e.problems.map((p) => [p.id, p.kind]));
    expect(kinds).toEqual({
      SAMPLE_0000: 'corrupt-image',
      SAMPLE_0001: 'corrupt-image',
      SAMPLE_0002: 'mask-size',
      SAMPLE_0003: 'bad-mask',
    });
    expect(e.problems.find((p) => p.id === 'SAMPLE_0000')!.file).toBe(img('SAMPLE_0000'));
    expect(e.problems.find((p) => p.id === 'SAMPLE_0002')!.file).toBe(msk('SAMPLE_0002'));
    expect(e.problems.find((p) => p.id === 'SAMPLE_0002')!.message).toMatch(/48x48.*64x64/);
    expect(e.problems.every((p) => p.severity === 'error')).toBe(true);
    expect(existsSync(path.join(out, MANIFEST_FILE))).toBe(false);

    const r = await prepareCache(index, out, { ...OPTS, skipBad: true });
    expect(r.manifest.records.map((x) => x.id).sort()).toEqual(
      index.records.map((x) => x.id).filter((id) => !bad.includes(id)),
    );
    expect(r.manifest.skipped.map((p) => p.id).sort()).toEqual(bad);
    expect(r.skippedFile).toBe(path.join(path.resolve(out), 'skipped.csv'));
    const csv = (await fs.readFile(r.skippedFile!, 'utf8')).trim().split('\n');
    expect(csv[0]).toBe('id,severity,kind,file,message');
    expect(
      csv
        .slice(1)
        .map((l) => l.split(',')[0])
        .sort(),
    ).toEqual(bad);
    expect(csv.find((l) => l.startsWith('SAMPLE_0003,'))).toContain(',error,bad-mask,');
    const warn = r.manifest.warnings.filter((p) => p.id === 'SAMPLE_0004');
    expect(warn.map((p) => p.kind)).toEqual(['mask-values']);
    expect(warn[0]!.file).toBe(msk('SAMPLE_0004'));
    expect(r.warnings).toEqual(r.manifest.warnings);
    expect((await readManifest(out))!.warnings).toEqual(r.manifest.warnings);
    const cache = await LesionCache.open(out);
    expect(cache.size).toBe(8);
    cache.close();

    // Fixed data: the next run drops skipped.csv.
    await fs.copyFile(path.join(base, 'images', 'SAMPLE_0000.jpg'), img('SAMPLE_0000'));
    await fs.copyFile(path.join(base, 'images', 'SAMPLE_0001.jpg'), img('SAMPLE_0001'));
    await fs.copyFile(path.join(base, 'masks', 'SAMPLE_0002_segmentation.png'), msk('SAMPLE_0002'));
    await fs.copyFile(path.join(base, 'masks', 'SAMPLE_0003_segmentation.png'), msk('SAMPLE_0003'));
    const fixed = await prepareCache(await readDataset(data), out, OPTS);
    expect(fixed.manifest.records).toHaveLength(12);
    expect(fixed.skippedFile).toBeNull();
    expect(existsSync(path.join(out, 'skipped.csv'))).toBe(false);
  });

  it('reader problems (a missing mask) fail prepare too, and are skipped with skipBad', async () => {
    const data = await copyOfBase();
    await fs.rm(path.join(data, 'masks', 'SAMPLE_0007_segmentation.png'));
    const index = await readDataset(data);
    const out = tmpPath('cache');
    await expect(prepareCache(index, out, OPTS)).rejects.toThrow(/SAMPLE_0007.*segmentation mask is missing/);
    const r = await prepareCache(index, out, { ...OPTS, skipBad: true });
    expect(r.manifest.records).toHaveLength(11);
    expect(r.manifest.skipped.map((p) => [p.id, p.kind])).toEqual([['SAMPLE_0007', 'missing-mask']]);
  });
});

// ---------------------------------------------------------------------------------------------

describe('a killed prepare leaves nothing trusted', () => {
  it('removes stale temp files and re-decodes a shard without its .json or with a .bin of the wrong size', async () => {
    const out = tmpPath('cache');
    const index = await readDataset(base);
    const first = await prepareCache(index, out, OPTS);
    const shard = first.manifest.shards[0]!;
    const bin = path.join(out, SHARD_DIR, shard.file);
    const json = bin.replace(/\.bin$/, '.json');
    const good = await fs.readFile(bin);

    // Killed between the .bin and the .json, with a temp file of another write lying around.
    await fs.rm(json);
    await fs.writeFile(path.join(out, SHARD_DIR, `.${shard.file}.12345.abcd1234.tmp`), 'half a shard');
    await fs.writeFile(bin, good.subarray(0, 100)); // and the .bin damaged: must not be trusted
    const second = await prepareCache(index, out, OPTS);
    expect([second.decoded, second.reused]).toEqual([12, 0]);
    expect(await shardFiles(out)).toEqual([shard.file, path.basename(json)].sort());
    expect((await fs.readFile(bin)).equals(good)).toBe(true);

    // A .bin of the wrong size next to its .json.
    await fs.writeFile(bin, good.subarray(0, good.length - 4096));
    const third = await prepareCache(index, out, OPTS);
    expect([third.decoded, third.reused]).toEqual([12, 0]);
    expect((await fs.readFile(bin)).equals(good)).toBe(true);

    // A .bin of the right size whose .json is garbage.
    await fs.writeFile(json, '{"key": ');
    const fourth = await prepareCache(index, out, OPTS);
    expect([fourth.decoded, fourth.reused]).toEqual([12, 0]);
  });

  it('LesionCache.open rejects a cache whose shard is truncated or missing', async () => {
    const out = tmpPath('cache');
    const r = await prepareCache(await readDataset(base), out, OPTS);
    const bin = path.join(out, SHARD_DIR, r.manifest.shards[0]!.file);
    const good = await fs.readFile(bin);
    await fs.writeFile(bin, good.subarray(0, good.length - 1));
    const err = await LesionCache.open(out).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DataError);
    expect((err as Error).message).toContain(bin);
    expect((err as Error).message).toMatch(new RegExp(`${good.length - 1} bytes, the manifest says ${good.length}`));
    await fs.rm(bin);
    await expect(LesionCache.open(out)).rejects.toThrow(/shard of the cache is missing/);
    await fs.writeFile(path.join(out, MANIFEST_FILE), '{"format": "something else"}');
    await expect(LesionCache.open(out)).rejects.toThrow(DataError);
    await expect(LesionCache.open(tmpPath('nothing'))).rejects.toThrow(/no cache\.json/);
  });
});

// ---------------------------------------------------------------------------------------------

describe('worker threads', () => {
  it('workers: 2 and workers: 0 write byte-identical shards', async () => {
    const data = tmpPath('data18');
    await writeSampleDataset(data, { n: 18, seed: 11, size: 64 });
    const index = await readDataset(data);
    const opts: PrepareOptions = { ...OPTS, labelMap: { boundary: 2, frame: true } };
    const a = await prepareCache(index, tmpPath('cache-w2'), { ...opts, workers: 2 });
    const b = await prepareCache(index, tmpPath('cache-w0'), { ...opts, workers: 0 });
    expect(a.decoded).toBe(18);
    expect(b.decoded).toBe(18);
    expect(a.manifest.shards).toEqual(b.manifest.shards);
    expect(a.manifest.records).toEqual(b.manifest.records);
    for (const s of a.manifest.shards) {
      const x = await fs.readFile(path.join(a.dir, SHARD_DIR, s.file));
      const y = await fs.readFile(path.join(b.dir, SHARD_DIR, s.file));
      expect(x.length).toBe(18 * 4096);
      expect(x.equals(y)).toBe(true);
    }
  });
});

// ---------------------------------------------------------------------------------------------

describe('non-square sources', () => {
  it("'crop' cuts the centre of a 128x64 image, with the mask on the same geometry as the image", async () => {
    const dir = tmpPath('crop');
    await fs.mkdir(path.join(dir, 'images'), { recursive: true });
    await fs.mkdir(path.join(dir, 'masks'), { recursive: true });
    const [w, h] = [128, 64];
    const rgb = new Uint8Array(w * h * 3);
    const mask = new Uint8Array(w * h);
    // The lesion: x in [48, 80), y in [16, 48); scaled by 0.5 to 64x32 and cut to the centre 32
    // columns, it lies at x, y in [8, 24) of the 32x32 result.
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        const lesion = x >= 48 && x < 80 && y >= 16 && y < 48;
        mask[y * w + x] = lesion ? 255 : 0;
        rgb.set(lesion ? [90, 50, 40] : [220, 170, 150], 3 * (y * w + x));
      }
    }
    await sharp(rgb, { raw: { width: w, height: h, channels: 3 } })
      .png()
      .toFile(path.join(dir, 'images', 'WIDE.png'));
    await fs.writeFile(path.join(dir, 'masks', 'WIDE_segmentation.png'), await pngMask(mask, w, h));
    await fs.writeFile(path.join(dir, 'labels.csv'), 'image_id,melanoma,seborrheic_keratosis\nWIDE,0,1\n');
    const out = tmpPath('cache-crop');
    await prepareCache(await readDataset(dir), out, OPTS);
    const cache = await LesionCache.open(out);
    const n = 32 * 32;
    const image = new Uint8Array(3 * n);
    const label = new Uint8Array(n);
    cache.readInto(0, image, 0, label, 0);
    cache.close();
    for (let y = 0; y < 32; y++) {
      for (let x = 0; x < 32; x++) {
        const k = y * 32 + x;
        const inside = x >= 8 && x < 24 && y >= 8 && y < 24;
        expect(label[k], `label at ${x},${y}`).toBe(inside ? 3 : 0);
        // Away from the edge (Lanczos blurs it by a pixel or two) the image agrees with the label.
        const far = (x >= 10 && x < 22 && y >= 10 && y < 22) || x < 6 || x >= 26 || y < 6 || y >= 26;
        if (far) expect(image[k]! < 150, `red at ${x},${y}`).toBe(inside);
      }
    }
  });
});

describe("the 'pad' fit", () => {
  /** A flat dataset of a wide (64x32) and a tall (32x64) lesion: bright skin, a dark lesion in the middle. */
  async function nonSquare(): Promise<string> {
    const dir = tmpPath('nonsquare');
    await fs.mkdir(path.join(dir, 'images'), { recursive: true });
    await fs.mkdir(path.join(dir, 'masks'), { recursive: true });
    for (const [id, w, h] of [
      ['TALL', 32, 64],
      ['WIDE', 64, 32],
    ] as const) {
      const rgb = new Uint8Array(w * h * 3);
      const mask = new Uint8Array(w * h);
      for (let y = 0; y < h; y++) {
        for (let x = 0; x < w; x++) {
          const lesion = Math.abs(x - w / 2) < w / 5 && Math.abs(y - h / 2) < h / 5;
          mask[y * w + x] = lesion ? 255 : 0;
          rgb.set(lesion ? [120, 80, 60] : [210, 160, 140], 3 * (y * w + x));
        }
      }
      await sharp(rgb, { raw: { width: w, height: h, channels: 3 } })
        .png()
        .toFile(path.join(dir, 'images', `${id}.png`));
      await fs.writeFile(path.join(dir, 'masks', `${id}_segmentation.png`), await pngMask(mask, w, h));
    }
    await fs.writeFile(path.join(dir, 'labels.csv'), 'image_id,melanoma,seborrheic_keratosis\nTALL,1,0\nWIDE,0,0\n');
    return dir;
  }

  it('pads with black, and the padding is skin without the frame class and frame with it', async () => {
    const index = await readDataset(await nonSquare());
    expect(index.problems).toEqual([]);
    const n = 32 * 32;
    /** For the wide image the padding is rows 0-7 and 24-31; for the tall one columns 0-7 and 24-31. */
    const padded = (id: string, i: number) => {
      const x = i % 32;
      const y = Math.floor(i / 32);
      const t = id === 'WIDE' ? y : x;
      return t < 8 || t >= 24;
    };
    for (const frame of [false, true]) {
      const out = tmpPath('cache-pad');
      const r = await prepareCache(index, out, { ...OPTS, fit: 'pad', labelMap: { boundary: 0, frame } });
      expect(r.errors).toEqual([]);
      const cache = await LesionCache.open(out);
      const image = new Uint8Array(3 * n);
      const label = new Uint8Array(n);
      try {
        expect(cache.spec.channels.includes('frame')).toBe(frame);
        for (let i = 0; i < cache.size; i++) {
          const rec = cache.records[i]!;
          cache.readInto(i, image, 0, label, 0);
          const lesionClass = 1 + rec.label;
          let pads = 0;
          for (let k = 0; k < n; k++) {
            const rgb = [image[k]!, image[n + k]!, image[2 * n + k]!];
            if (padded(rec.id, k)) {
              pads++;
              expect(rgb).toEqual([0, 0, 0]);
              expect(label[k]).toBe(frame ? 4 : 0);
            } else {
              expect(Math.min(...rgb)).toBeGreaterThan(40);
              expect([0, lesionClass]).toContain(label[k]);
            }
          }
          expect(pads).toBe(n / 2);
          // The lesion is in the middle of the content; skin around it stays skin.
          expect(label[16 * 32 + 16]).toBe(lesionClass);
          const skin = rec.id === 'WIDE' ? 9 * 32 + 2 : 2 * 32 + 9;
          expect(label[skin]).toBe(0);
          expect(rec.frame).toBeCloseTo(frame ? 0.5 : 0, 5);
        }
      } finally {
        cache.close();
      }
    }
  });
});
