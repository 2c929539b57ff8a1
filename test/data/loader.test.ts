// The data loader over a prepared cache: batch contents against the shard bytes, epoch order and
// coverage, exact resume (with augmentation, across epoch boundaries), image/label alignment
// under augmentation, no leaked tensors, and option errors.
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as torch from '../../src/torch/index.js';
import { LesionCache, SHARD_DIR, recordLayout } from '../../src/data/cache.js';
import type { Split } from '../../src/data/dataset.js';
import { DataLoader, disposeBatch, type Batch, type LoaderOptions } from '../../src/data/loader.js';
import { prepareCache } from '../../src/data/prepare.js';
import { readDataset } from '../../src/data/readers/index.js';
import { writeSampleDataset } from '../../src/data/sample_dataset.js';
import { Rng } from '../../src/data/random.js';

const SIZE = 32;
const PX = SIZE * SIZE;

function gc(): void {
  (globalThis as { gc?: () => void }).gc?.();
}

let root: string;
/** A cache of the procedural sample dataset (stratified split), boundary 2 and the frame class. */
let sample: LesionCache;
/** The sample dataset's diagnoses as read from its labels.csv. */
let sampleLabels: Map<string, number>;
/** A cache of a hand-made flat dataset whose red channel is 255 exactly on the lesion. */
let flat: LesionCache;
/** Its lesion masks (1 = lesion), by id. */
let flatMasks: Map<string, Uint8Array>;

const FLAT_N = 8;

/** Writes a flat dataset of FLAT_N SIZE x SIZE PNGs: R = 255 on the lesion and 0 elsewhere, G = B = 100. */
async function writeRedDataset(dir: string): Promise<Map<string, Uint8Array>> {
  await fs.mkdir(path.join(dir, 'images'), { recursive: true });
  await fs.mkdir(path.join(dir, 'masks'), { recursive: true });
  const masks = new Map<string, Uint8Array>();
  const labels = ['image_id,melanoma,seborrheic_keratosis'];
  const splits = ['image_id,split'];
  for (let i = 0; i < FLAT_N; i++) {
    const id = `RED_${i}`;
    const rng = new Rng(77, i);
    const m = new Uint8Array(PX);
    // An asymmetric union of rectangles, some touching the border, so flips and turns show.
    for (let r = 0; r < 3; r++) {
      const x0 = rng.int(0, SIZE - 6);
      const y0 = rng.int(0, SIZE - 6);
      const x1 = Math.min(SIZE, x0 + rng.int(4, 16));
      const y1 = Math.min(SIZE, y0 + rng.int(4, 12));
      for (let y = y0; y < y1; y++) m.fill(1, y * SIZE + x0, y * SIZE + x1);
    }
    masks.set(id, m);
    const rgb = new Uint8Array(PX * 3);
    for (let p = 0; p < PX; p++) rgb.set([m[p] ? 255 : 0, 100, 100], p * 3);
    await sharp(rgb, { raw: { width: SIZE, height: SIZE, channels: 3 } })
      .png()
      .toFile(path.join(dir, 'images', `${id}.png`));
    await sharp(
      m.map((v) => v * 255),
      { raw: { width: SIZE, height: SIZE, channels: 1 } },
    )
      .toColourspace('b-w')
      .png()
      .toFile(path.join(dir, 'masks', `${id}_segmentation.png`));
    const k = i % 3;
    labels.push(`${id},${k === 1 ? 1 : 0},${k === 2 ? 1 : 0}`);
    splits.push(`${id},train`);
  }
  await fs.writeFile(path.join(dir, 'labels.csv'), labels.join('\n') + '\n');
  await fs.writeFile(path.join(dir, 'split.csv'), splits.join('\n') + '\n');
  return masks;
}

beforeAll(async () => {
  root = await fs.mkdtemp(path.join(os.tmpdir(), 'dermosynth-loader-'));
  const sampleDir = path.join(root, 'sample');
  await writeSampleDataset(sampleDir, { n: 18, seed: 3, size: 64 });
  const index = await readDataset(sampleDir);
  sampleLabels = new Map(index.records.map((r) => [r.id, r.label!]));
  await prepareCache(index, path.join(root, 'sample-cache'), {
    width: SIZE,
    height: SIZE,
    fit: 'crop',
    labelMap: { boundary: 2, frame: true },
    workers: 0,
  });
  sample = await LesionCache.open(path.join(root, 'sample-cache'));

  const flatDir = path.join(root, 'red');
  flatMasks = await writeRedDataset(flatDir);
  await prepareCache(await readDataset(flatDir), path.join(root, 'red-cache'), {
    width: SIZE,
    height: SIZE,
    fit: 'crop',
    labelMap: { boundary: 0, frame: false },
    workers: 0,
  });
  flat = await LesionCache.open(path.join(root, 'red-cache'));
});

afterAll(async () => {
  sample?.close();
  flat?.close();
  await fs.rm(root, { recursive: true, force: true });
});

/** The ids of a cache's lesions in a split, read from the manifest. */
function idsOf(cache: LesionCache, split?: Split): string[] {
  return cache.manifest.records.filter((r) => split === undefined || r.split === split).map((r) => r.id);
}

/** Lesion `id`'s planar RGB and label bytes, read straight from its shard file. */
async function shardBytes(cache: LesionCache, id: string): Promise<{ image: Uint8Array; label: Uint8Array }> {
  const r = cache.manifest.records.find((x) => x.id === id)!;
  const bytes = new Uint8Array(
    await fs.readFile(path.join(cache.dir, SHARD_DIR, cache.manifest.shards[r.shard]!.file)),
  );
  const layout = recordLayout(cache.width, cache.height);
  const at = r.index * layout.total;
  return { image: bytes.slice(at, at + layout.image), label: bytes.slice(at + layout.image, at + layout.total) };
}

function take(loader: DataLoader, n: number): Batch[] {
  return Array.from({ length: n }, () => loader.next());
}

/** One epoch's ids, disposing the batches. */
function epochIds(loader: DataLoader): string[][] {
  const out: string[][] = [];
  for (const b of loader.epoch()) {
    out.push(b.ids);
    disposeBatch(b);
  }
  return out;
}

const same = (a: torch.Tensor, b: torch.Tensor): boolean =>
  a.dtype === b.dtype && a.shape.join() === b.shape.join() && Buffer.from(a.bytes()).equals(Buffer.from(b.bytes()));

describe('the prepared sample cache', () => {
  it('has every lesion, split three ways, with the label map asked for', () => {
    expect(sample.size).toBe(18);
    expect(sample.spec.channels).toEqual([
      'skin',
      'lesion:nevus',
      'lesion:melanoma',
      'lesion:seborrheic_keratosis',
      'frame',
      'boundary',
    ]);
    for (const s of ['train', 'val', 'test'] as const) expect(idsOf(sample, s).length).toBeGreaterThan(0);
    for (const r of sample.records) expect(r.label).toBe(sampleLabels.get(r.id));
  });
});

describe('DataLoader batches', () => {
  it('hold the cache bytes as [-1, 1] floats, one-hot labels and the diagnoses', async () => {
    const loader = new DataLoader(sample, { batchSize: 4, split: 'train', seed: 5, augment: 'none' });
    const C = sample.spec.channels.length;
    const K = 5; // skin, three lesions, frame
    let boundaryPixels = 0;
    for (const b of take(loader, 4)) {
      expect(b.ids.length).toBe(4);
      expect(b.indices.map((i) => sample.records[i]!.id)).toEqual(b.ids);
      expect(b.image.dtype).toBe('float32');
      expect(b.image.shape).toEqual([4, 3, SIZE, SIZE]);
      expect(b.label.dtype).toBe('float32');
      expect(b.label.shape).toEqual([4, C, SIZE, SIZE]);
      expect(b.labelBytes.dtype).toBe('uint8');
      expect(b.labelBytes.shape).toEqual([4, 1, SIZE, SIZE]);
      expect(b.diagnosis.dtype).toBe('int64');
      expect(b.diagnosis.toArray()).toEqual(b.ids.map((id) => sampleLabels.get(id)));
      const image = b.image.data() as Float32Array;
      const label = b.label.data() as Float32Array;
      const bytes = b.labelBytes.data() as Uint8Array;
      for (let s = 0; s < 4; s++) {
        const ref = await shardBytes(sample, b.ids[s]!);
        for (let i = 0; i < 3 * PX; i++) {
          const v = image[s * 3 * PX + i]!;
          if (Math.abs(v - (ref.image[i]! / 127.5 - 1)) > 1e-6)
            expect.fail(`sample ${s} element ${i}: ${v} vs byte ${ref.image[i]}`);
        }
        expect(Buffer.from(bytes.subarray(s * PX, (s + 1) * PX)).equals(Buffer.from(ref.label))).toBe(true);
        const diagnosis = sampleLabels.get(b.ids[s]!)!;
        for (let p = 0; p < PX; p++) {
          let sum = 0;
          for (let c = 0; c < K; c++) sum += label[(s * C + c) * PX + p]!;
          if (sum !== 1) expect.fail(`sample ${s} pixel ${p}: class channels sum to ${sum}`);
          const cls = ref.label[p]! & 127;
          expect(label[(s * C + cls) * PX + p]).toBe(1);
          // A lesion pixel has this lesion's diagnosis.
          if (cls >= 1 && cls <= 3) expect(cls).toBe(1 + diagnosis);
          const boundary = label[(s * C + K) * PX + p]!;
          expect(boundary).toBe(ref.label[p]! >= 128 ? 1 : 0);
          boundaryPixels += boundary;
        }
      }
      disposeBatch(b);
    }
    expect(boundaryPixels).toBeGreaterThan(0);
  });

  it('do not change when later batches are loaded', () => {
    const loader = new DataLoader(sample, { batchSize: 3, seed: 1, augment: 'none' });
    const first = loader.next();
    const image = Buffer.from(first.image.bytes());
    const labelBytes = Buffer.from(first.labelBytes.bytes());
    const rest = take(loader, 3);
    expect(Buffer.from(first.image.bytes()).equals(image)).toBe(true);
    expect(Buffer.from(first.labelBytes.bytes()).equals(labelBytes)).toBe(true);
    expect(rest[0]!.ids).not.toEqual(first.ids);
    [first, ...rest].forEach(disposeBatch);
  });
});

describe('DataLoader order', () => {
  const train = (): string[] => idsOf(sample, 'train');

  it('visits every lesion of the split once per epoch without dropLast', () => {
    const n = train().length;
    const loader = new DataLoader(sample, { batchSize: 5, split: 'train', seed: 2, dropLast: false });
    expect(loader.pool.length).toBe(n);
    expect(loader.batchesPerEpoch).toBe(Math.ceil(n / 5));
    for (let e = 0; e < 3; e++) {
      const batches = epochIds(loader);
      expect(batches.length).toBe(Math.ceil(n / 5));
      batches.slice(0, -1).forEach((b) => expect(b.length).toBe(5));
      expect(batches.at(-1)!.length).toBe(n - 5 * (batches.length - 1));
      expect(batches.flat().sort()).toEqual([...train()].sort());
      expect(loader.state()).toEqual({ epoch: e, position: n });
    }
  });

  it('serves floor(n / B) full batches of distinct lesions with dropLast', () => {
    const n = train().length;
    const loader = new DataLoader(sample, { batchSize: 5, split: 'train', seed: 2 });
    expect(loader.dropLast).toBe(true);
    expect(loader.batchesPerEpoch).toBe(Math.floor(n / 5));
    const all = new Set(train());
    for (let e = 0; e < 3; e++) {
      const batches = epochIds(loader);
      expect(batches.length).toBe(Math.floor(n / 5));
      batches.forEach((b) => expect(b.length).toBe(5));
      const ids = batches.flat();
      expect(new Set(ids).size).toBe(ids.length);
      for (const id of ids) expect(all.has(id)).toBe(true);
    }
  });

  it('shuffles each epoch differently, the same for the same seed', () => {
    const orders = (seed: number): string[] => {
      const loader = new DataLoader(sample, { batchSize: 18, seed, dropLast: false });
      return [0, 1, 2, 3].map(() => epochIds(loader).flat().join(' '));
    };
    const a = orders(7);
    expect(new Set(a).size).toBe(4);
    expect(orders(7)).toEqual(a);
    expect(orders(8)).not.toEqual(a);
    // Every epoch is a permutation of all 18.
    for (const o of a) expect(o.split(' ').sort()).toEqual(idsOf(sample).sort());
  });

  it('keeps the cache order when not shuffling', () => {
    const loader = new DataLoader(sample, { batchSize: 4, split: 'val', shuffle: false });
    expect(loader.dropLast).toBe(false);
    expect(epochIds(loader).flat()).toEqual(idsOf(sample, 'val'));
    expect(epochIds(loader).flat()).toEqual(idsOf(sample, 'val'));
  });

  it('draws only from the split(s) asked for', () => {
    for (const s of ['train', 'val', 'test'] as const) {
      const loader = new DataLoader(sample, { batchSize: 2, split: s, dropLast: false, seed: 3 });
      expect(epochIds(loader).flat().sort()).toEqual(idsOf(sample, s).sort());
    }
    const both = new DataLoader(sample, { batchSize: 2, split: ['val', 'test'], dropLast: false });
    expect(epochIds(both).flat().sort()).toEqual([...idsOf(sample, 'val'), ...idsOf(sample, 'test')].sort());
  });

  it('moves into the next epoch from next()', () => {
    const n = train().length;
    const loader = new DataLoader(sample, { batchSize: 5, split: 'train', seed: 4 });
    const bs = take(loader, 2 * Math.floor(n / 5) + 1);
    expect(bs.map((b) => b.epoch)).toEqual([
      ...Array(Math.floor(n / 5)).fill(0),
      ...Array(Math.floor(n / 5)).fill(1),
      2,
    ]);
    bs.forEach(disposeBatch);
  });
});

describe('DataLoader resume', () => {
  const configs: [string, LoaderOptions][] = [
    ['dropLast', { batchSize: 5, split: 'train', seed: 9, augment: 'strong' }],
    ['partial last batch', { batchSize: 5, split: 'train', seed: 9, augment: 'strong', dropLast: false }],
  ];
  for (const [name, o] of configs) {
    it(`continues with exactly the same batches (${name})`, () => {
      const total = 7;
      const reference = new DataLoader(sample, o);
      const ref = take(reference, total);
      // Strong augmentation really changes the pixels.
      const plain = new DataLoader(sample, { ...o, augment: 'none' });
      const p0 = plain.next();
      expect(p0.ids).toEqual(ref[0]!.ids);
      expect(same(p0.image, ref[0]!.image)).toBe(false);
      disposeBatch(p0);
      for (const k of [1, 2, 3, 4, 5]) {
        const a = new DataLoader(sample, o);
        take(a, k).forEach(disposeBatch);
        const state = JSON.parse(JSON.stringify(a.state())) as ReturnType<DataLoader['state']>;
        const b = new DataLoader(sample, o);
        b.restore(state);
        for (let i = k; i < total; i++) {
          const x = a.next();
          const y = b.next();
          const r = ref[i]!;
          for (const [u, v] of [
            [x, r],
            [y, r],
          ] as const) {
            expect(u.ids, `k=${k} batch ${i}`).toEqual(v.ids);
            expect(u.epoch).toBe(v.epoch);
            expect(same(u.image, v.image), `k=${k} batch ${i} image`).toBe(true);
            expect(same(u.label, v.label), `k=${k} batch ${i} label`).toBe(true);
            expect(same(u.labelBytes, v.labelBytes)).toBe(true);
            expect(same(u.diagnosis, v.diagnosis)).toBe(true);
          }
          disposeBatch(x);
          disposeBatch(y);
        }
        expect(b.state()).toEqual(a.state());
      }
      ref.forEach(disposeBatch);
    });
  }

  it('continues an epoch() loop from a restored state', () => {
    const o: LoaderOptions = { batchSize: 4, split: 'train', seed: 13, dropLast: false };
    const a = new DataLoader(sample, o);
    const full = epochIds(a);
    const b = new DataLoader(sample, o);
    const gen = b.epoch();
    const first = gen.next().value as Batch;
    disposeBatch(first);
    const c = new DataLoader(sample, o);
    c.restore(b.state());
    expect([first.ids, ...epochIds(c)]).toEqual(full);
  });

  it('rejects invalid states', () => {
    const loader = new DataLoader(sample, { batchSize: 2, split: 'train' });
    const n = loader.pool.length;
    for (const s of [
      { epoch: -1, position: 0 },
      { epoch: 0, position: -1 },
      { epoch: 0, position: n + 1 },
      { epoch: 0.5, position: 0 },
      { epoch: 0, position: 1.5 },
    ]) {
      expect(() => loader.restore(s), JSON.stringify(s)).toThrow(RangeError);
    }
    expect(() => loader.restore({ epoch: 3, position: n })).not.toThrow();
  });
});

describe('DataLoader augmentation', () => {
  /** Lesion (any lesion channel) per pixel of each sample, from the one-hot label. */
  function lesionOf(b: Batch, s: number): Uint8Array {
    const C = flat.spec.channels.length;
    const label = b.label.data() as Float32Array;
    const out = new Uint8Array(PX);
    for (let p = 0; p < PX; p++) out[p] = label[s * C * PX + p] === 0 ? 1 : 0;
    return out;
  }
  function redOf(b: Batch, s: number): Float32Array {
    return (b.image.data() as Float32Array).subarray(s * 3 * PX, s * 3 * PX + PX);
  }

  it('the hand-made cache encodes the lesion in the red channel', () => {
    const loader = new DataLoader(flat, { batchSize: FLAT_N, augment: 'none', dropLast: false });
    const b = loader.next();
    for (let s = 0; s < FLAT_N; s++) {
      const mask = flatMasks.get(b.ids[s]!)!;
      const red = redOf(b, s);
      const lesion = lesionOf(b, s);
      for (let p = 0; p < PX; p++) {
        expect(lesion[p]).toBe(mask[p]);
        expect(red[p]).toBe(mask[p] ? 1 : -1);
      }
    }
    disposeBatch(b);
  });

  it("'default' (flips and quarter turns) moves image and label together", () => {
    const o: LoaderOptions = { batchSize: 4, seed: 21, augment: 'default' };
    const loader = new DataLoader(flat, o);
    const plain = new DataLoader(flat, { ...o, augment: 'none' });
    let changed = 0;
    for (let i = 0; i < 8; i++) {
      const b = loader.next();
      const p = plain.next();
      expect(b.ids).toEqual(p.ids);
      expect(b.diagnosis.toArray()).toEqual(p.diagnosis.toArray());
      if (!same(b.image, p.image)) changed++;
      for (let s = 0; s < b.ids.length; s++) {
        const red = redOf(b, s);
        const lesion = lesionOf(b, s);
        let area = 0;
        for (let q = 0; q < PX; q++) {
          if ((red[q]! > 0 ? 1 : 0) !== lesion[q])
            expect.fail(`batch ${i} sample ${s} pixel ${q}: red ${red[q]}, lesion ${lesion[q]}`);
          area += lesion[q]!;
        }
        // A dihedral map keeps the lesion's area.
        expect(area).toBe(flatMasks.get(b.ids[s]!)!.reduce((a, v) => a + v, 0));
        // The lesion channel is the diagnosis's.
        const C = flat.spec.channels.length;
        const d = (b.diagnosis.toArray()[s] as number) + 1;
        const label = b.label.data() as Float32Array;
        for (let q = 0; q < PX; q++) if (lesion[q]) expect(label[(s * C + d) * PX + q]).toBe(1);
      }
      disposeBatch(b);
      disposeBatch(p);
    }
    expect(changed).toBeGreaterThan(4);
  });

  it('an affine map moves image and label together up to the edges', () => {
    const augment = {
      flip: true,
      rot90: true,
      affine: { degrees: 15, translate: 0.05, scale: [0.9, 1.1] as [number, number] },
      colour: null,
    };
    const loader = new DataLoader(flat, { batchSize: 4, seed: 22, augment });
    let disagree = 0;
    let total = 0;
    let resized = 0;
    for (let i = 0; i < 6; i++) {
      const b = loader.next();
      for (let s = 0; s < b.ids.length; s++) {
        const red = redOf(b, s);
        const lesion = lesionOf(b, s);
        if (lesion.reduce((a, v) => a + v, 0) !== flatMasks.get(b.ids[s]!)!.reduce((a, v) => a + v, 0)) resized++;
        for (let y = 0; y < SIZE; y++) {
          for (let x = 0; x < SIZE; x++) {
            const q = y * SIZE + x;
            total++;
            if ((red[q]! > 0 ? 1 : 0) === lesion[q]) continue;
            disagree++;
            // Only next to a label edge: some 8-neighbour has the other value.
            let edge = false;
            for (let dy = -1; dy <= 1; dy++) {
              for (let dx = -1; dx <= 1; dx++) {
                const xx = x + dx;
                const yy = y + dy;
                if (xx >= 0 && yy >= 0 && xx < SIZE && yy < SIZE && lesion[yy * SIZE + xx] !== lesion[q]) edge = true;
              }
            }
            if (!edge)
              expect.fail(
                `batch ${i} sample ${s} (${x}, ${y}): red ${red[q]} but lesion ${lesion[q]} away from any edge`,
              );
          }
        }
      }
      disposeBatch(b);
    }
    // The affine maps did resample the lesions (a dihedral map alone keeps their area).
    expect(resized).toBeGreaterThan(12);
    expect(disagree / total).toBeLessThan(0.01);
  });
});

describe('DataLoader memory', () => {
  it('leaks no tensors once batches are disposed', () => {
    gc();
    const before = torch.liveTensors();
    for (const augment of ['none', 'default', 'strong']) {
      const loader = new DataLoader(sample, { batchSize: 4, seed: 1, augment });
      for (let i = 0; i < 6; i++) {
        const b = loader.next();
        expect(torch.liveTensors()).toBe(before + 4);
        disposeBatch(b);
      }
    }
    gc();
    expect(torch.liveTensors()).toBe(before);
  });
});

describe('DataLoader options', () => {
  it('rejects a batch size that is not a positive integer', () => {
    for (const batchSize of [0, -1, 1.5, Number.NaN]) {
      expect(() => new DataLoader(sample, { batchSize }), String(batchSize)).toThrow(RangeError);
    }
  });

  it('rejects a batch larger than the split when dropping the last batch', () => {
    const n = idsOf(sample, 'train').length;
    expect(() => new DataLoader(sample, { batchSize: n + 1, split: 'train' })).toThrow(/larger than/);
    expect(() => new DataLoader(sample, { batchSize: n + 1, split: 'train', dropLast: true, shuffle: false })).toThrow(
      RangeError,
    );
    // Without dropLast one batch holds the whole split.
    const loader = new DataLoader(sample, { batchSize: n + 1, split: 'train', dropLast: false });
    expect(loader.batchesPerEpoch).toBe(1);
    const b = loader.next();
    expect(b.ids.length).toBe(n);
    expect(b.image.shape[0]).toBe(n);
    disposeBatch(b);
  });

  it('rejects an empty split', () => {
    expect(() => new DataLoader(flat, { batchSize: 1, split: 'val' })).toThrow(/no lesion in split val/);
    expect(() => new DataLoader(flat, { batchSize: 1, split: ['val', 'test'] })).toThrow(RangeError);
    expect(() => new DataLoader(flat, { batchSize: 1, split: [] })).toThrow(RangeError);
  });

  it('rejects an unknown augmentation preset', () => {
    expect(() => new DataLoader(sample, { batchSize: 2, augment: 'wild' })).toThrow(RangeError);
  });
});

describe('sharded (data parallel)', () => {
  it('the shards of a global batch are, in rank order, the unsharded batch, augmentation included', () => {
    const o: LoaderOptions = { batchSize: 4, seed: 9, augment: 'strong' };
    const whole = new DataLoader(sample, o);
    const parts = [0, 1].map((rank) => new DataLoader(sample, { ...o, shard: { rank, count: 2 } }));
    expect(parts[0]!.localBatchSize).toBe(2);
    expect(parts[0]!.batchesPerEpoch).toBe(whole.batchesPerEpoch);
    // Across an epoch boundary too.
    for (let step = 0; step < whole.batchesPerEpoch + 2; step++) {
      const w = whole.next();
      const s = parts.map((l) => l.next());
      try {
        expect([...s[0]!.ids, ...s[1]!.ids]).toEqual(w.ids);
        for (const key of ['image', 'labelBytes', 'label', 'diagnosis'] as const) {
          const joined = torch.cat([s[0]![key], s[1]![key]], 0);
          expect(joined.sub(w[key]).abs().max().item(), `${key} at step ${step}`).toBe(0);
          joined.dispose();
        }
        expect(parts.map((l) => l.state())).toEqual([whole.state(), whole.state()]);
      } finally {
        disposeBatch(w);
        s.forEach(disposeBatch);
      }
    }
  });

  it('refuses a batch that does not split evenly, and a bad shard', () => {
    expect(() => new DataLoader(sample, { batchSize: 3, shard: { rank: 0, count: 2 } })).toThrow(
      /batch size 3 cannot be split evenly over 2 processes/,
    );
    expect(() => new DataLoader(sample, { batchSize: 4, shard: { rank: 2, count: 2 } })).toThrow(/invalid shard/);
  });
});
