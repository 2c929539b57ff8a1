// npm run bench:data [-- --size 256 --limit 1921 --rounds 3 --bmp 1921]
//
// Data throughput on the real ISIC-2017 images (../shared/data/isic2017-512):
//  1. preparing the cache (read, hash, check, decode, resize, label map, write shards) in images/s,
//     against a plain single-threaded sharp loop doing only decode + resize of the same images and
//     masks: the ratio is what parallel decoding buys net of the extra checks;
//  2. an epoch read from the cache by the DataLoader (batch 16), in images/s (target > 1,000 at
//     256x256, so data never limits training), without and with the default augmentation;
//  3. preparing the same lesions with their images as BMP (24-bit, as PH2 ships them; converted
//     into a temporary folder, masks the same PNG files) against JPEG as they are, in lesions/s,
//     and the ratio BMP/JPEG (--bmp N lesions, the first N of --limit; 0 skips it).
// Rounds alternate the two sides of each comparison so machine noise hits both alike.
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { LesionCache } from '../src/data/cache.js';
import { DataLoader, disposeBatch } from '../src/data/loader.js';
import { prepareCache } from '../src/data/prepare.js';
import type { DatasetIndex } from '../src/data/dataset.js';
import { readDataset } from '../src/data/readers/index.js';
import * as torch from '../src/torch/index.js';
import { intArg } from './args.js';
import { bmpCopy } from './data_bmp.js';

const size = intArg('size', 256, 8);
const rounds = intArg('rounds', 3, 1);
const root = path.resolve(import.meta.dirname, '../../shared/data/isic2017-512');
if (!existsSync(root)) {
  console.log(
    `bench:data: skipped: ${root} is missing; this benchmark (prepare, epoch reads, BMP vs JPEG) needs the shared ISIC-2017 data`,
  );
  process.exit(0);
}
const index = await readDataset(root);
index.records = index.records.slice(0, intArg('limit', index.records.length, 1));
const n = index.records.length;
const bmpCount = Math.min(intArg('bmp', n, 0), n);
console.log(`${n} lesions of ${root}, ${size}x${size}, ${os.availableParallelism()} cores`);

async function plainLoop(): Promise<number> {
  const t0 = performance.now();
  for (const r of index.records) {
    await sharp(readFileSync(r.image!)).resize(size, size, { fit: 'cover', kernel: 'lanczos3' }).raw().toBuffer();
    await sharp(readFileSync(r.mask!))
      .resize(size, size, { fit: 'cover', kernel: 'nearest' })
      .extractChannel(0)
      .raw()
      .toBuffer();
  }
  return n / ((performance.now() - t0) / 1000);
}

const work = mkdtempSync(path.join(os.tmpdir(), 'dermosynth-bench-data-'));
let cacheDir = '';
async function prepare(round: number, from: DatasetIndex = index, name = 'cache'): Promise<number> {
  cacheDir = path.join(work, `${name}-${round}`);
  const t0 = performance.now();
  await prepareCache(from, cacheDir, {
    width: size,
    height: size,
    fit: 'crop',
    labelMap: { boundary: 2, frame: true },
    skipBad: true,
  });
  return from.records.length / ((performance.now() - t0) / 1000);
}

const median = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)]!;

/** prepare on the same lesions with JPEG images (as they are) and BMP images (converted), in turn. */
async function bmpAgainstJpeg(): Promise<void> {
  const jpegIndex = { ...index, records: index.records.slice(0, bmpCount) };
  const t0 = performance.now();
  const bmp = await bmpCopy(jpegIndex, path.join(work, 'bmp'));
  const mib = (b: number) => (b / 1048576).toFixed(1);
  console.log(
    `\n${bmpCount} lesions as BMP for prepare (converted in ${((performance.now() - t0) / 1000).toFixed(1)} s): images ${mib(bmp.jpegBytes)} MiB as JPEG, ${mib(bmp.bmpBytes)} MiB as 24-bit BMP; masks the same PNGs`,
  );
  const jpeg: number[] = [];
  const bmps: number[] = [];
  for (let r = 0; r < rounds; r++) {
    jpeg.push(await prepare(r, jpegIndex, 'cache-jpeg'));
    rmSync(cacheDir, { recursive: true, force: true });
    bmps.push(await prepare(r, bmp.index, 'cache-bmp'));
    rmSync(cacheDir, { recursive: true, force: true });
    console.log(
      `round ${r + 1}: prepare JPEG ${jpeg[r]!.toFixed(1)} lesions/s, BMP ${bmps[r]!.toFixed(1)} lesions/s, ratio BMP/JPEG ${(bmps[r]! / jpeg[r]!).toFixed(2)}`,
    );
  }
  console.log(
    `prepare: ratio BMP/JPEG ${(median(bmps) / median(jpeg)).toFixed(2)} (median of ${rounds}: JPEG ${median(jpeg).toFixed(1)}, BMP ${median(bmps).toFixed(1)} lesions/s; BMP skips JPEG decoding but reads and hashes ${(bmp.bmpBytes / bmp.jpegBytes).toFixed(0)}x the bytes)`,
  );
}

const plain: number[] = [];
const ours: number[] = [];
try {
  for (let r = 0; r < rounds; r++) {
    plain.push(await plainLoop());
    ours.push(await prepare(r));
    console.log(
      `round ${r + 1}: plain sharp loop ${plain[r]!.toFixed(1)} img/s, dermosynth prepare ${ours[r]!.toFixed(1)} img/s, ratio ${(ours[r]! / plain[r]!).toFixed(2)}`,
    );
    if (r < rounds - 1) rmSync(cacheDir, { recursive: true, force: true });
  }
  console.log(
    `prepare: ratio dermosynth/plain-sharp ${(median(ours) / median(plain)).toFixed(2)} (median of ${rounds}; prepare also hashes, checks masks, detects frames and writes shards)`,
  );

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
    console.log(
      `epoch read from the cache, augment ${augment}: ${rate.toFixed(0)} img/s (target > 1000) ${rate > 1000 ? 'ok' : 'BELOW TARGET'}`,
    );
  }
  cache.close();
  console.log(`live tensors at the end: ${torch.liveTensors()}`);
  if (bmpCount > 0) await bmpAgainstJpeg();
} finally {
  rmSync(work, { recursive: true, force: true });
}
