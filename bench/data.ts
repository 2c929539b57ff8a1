// npm run bench:data [-- --size 256 --limit 1921 --rounds 3]
//
// Data throughput on the real ISIC-2017 images (../shared/data/isic2017-512):
//  1. preparing the cache (read, hash, check, decode, resize, label map, write shards) in images/s,
//     against a plain single-threaded sharp loop doing only decode + resize of the same images and
//     masks: the ratio is what parallel decoding buys net of the extra checks;
//  2. an epoch read from the cache by the DataLoader (batch 16), in images/s (target > 1,000 at
//     256x256, so data never limits training), without and with the default augmentation.
// Rounds alternate the two decoders so machine noise hits both alike.
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { LesionCache } from '../src/data/cache.js';
import { DataLoader, disposeBatch } from '../src/data/loader.js';
import { prepareCache } from '../src/data/prepare.js';
import { readDataset } from '../src/data/readers/index.js';
import * as torch from '../src/torch/index.js';

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
}
const size = arg('size', 256);
const rounds = arg('rounds', 3);
const root = path.resolve(import.meta.dirname, '../../shared/data/isic2017-512');
if (!existsSync(root)) {
  console.log(`bench:data: ${root} is missing; this benchmark needs the shared ISIC-2017 data`);
  process.exit(0);
}
const index = await readDataset(root);
index.records = index.records.slice(0, arg('limit', index.records.length));
const n = index.records.length;
console.log(`${n} lesions of ${root}, ${size}x${size}, ${os.availableParallelism()} cores`);

async function plainLoop(): Promise<number> {
  const t0 = performance.now();
  for (const r of index.records) {
    await sharp(readFileSync(r.image!)).resize(size, size, { fit: 'cover', kernel: 'lanczos3' }).raw().toBuffer();
    await sharp(readFileSync(r.mask!)).resize(size, size, { fit: 'cover', kernel: 'nearest' }).extractChannel(0).raw().toBuffer();
  }
  return n / ((performance.now() - t0) / 1000);
}

const work = mkdtempSync(path.join(os.tmpdir(), 'dermosynth-bench-data-'));
let cacheDir = '';
async function prepare(round: number): Promise<number> {
  cacheDir = path.join(work, `cache-${round}`);
  const t0 = performance.now();
  await prepareCache(index, cacheDir, { width: size, height: size, fit: 'crop', labelMap: { boundary: 2, frame: true }, skipBad: true });
  return n / ((performance.now() - t0) / 1000);
}

const plain: number[] = [];
const ours: number[] = [];
try {
  for (let r = 0; r < rounds; r++) {
    plain.push(await plainLoop());
    ours.push(await prepare(r));
    console.log(`round ${r + 1}: plain sharp loop ${plain[r]!.toFixed(1)} img/s, dermosynth prepare ${ours[r]!.toFixed(1)} img/s, ratio ${(ours[r]! / plain[r]!).toFixed(2)}`);
    if (r < rounds - 1) rmSync(cacheDir, { recursive: true, force: true });
  }
  const median = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)]!;
  console.log(`prepare: ratio dermosynth/plain-sharp ${(median(ours) / median(plain)).toFixed(2)} (median of ${rounds}; prepare also hashes, checks masks, detects frames and writes shards)`);

  const cache = await LesionCache.open(cacheDir);
  for (const augment of ['none', 'default']) {
    const loader = new DataLoader(cache, { batchSize: 16, augment, dropLast: false });
    for (const b of loader.epoch()) disposeBatch(b); // warm the page cache and the JIT
    const t0 = performance.now();
    let seen = 0;
    for (const b of loader.epoch()) {
      seen += b.ids.length;
      disposeBatch(b);
    }
    const rate = seen / ((performance.now() - t0) / 1000);
    console.log(`epoch read from the cache, augment ${augment}: ${rate.toFixed(0)} img/s (target > 1000) ${rate > 1000 ? 'ok' : 'BELOW TARGET'}`);
  }
  cache.close();
  console.log(`live tensors at the end: ${torch.liveTensors()}`);
} finally {
  rmSync(work, { recursive: true, force: true });
}
