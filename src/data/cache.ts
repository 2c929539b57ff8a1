// The preprocessing cache: lesions decoded once into compact uint8 shards, read back without JPEG.
//
//   CACHE/cache.json            the manifest (options, label map, splits, records, shards, problems)
//   CACHE/shards/<key>.bin      records of [3*H*W planar RGB][H*W label bytes], back to back
//   CACHE/shards/<key>.json     what a shard holds (written after the .bin; a shard counts only
//                               when both exist and the sizes agree, so a killed run is harmless)
//   CACHE/skipped.csv           with --skip-bad: the lesions left out and why
// A shard's key hashes the options and its lesions' ids and source bytes: changing an image or an
// option makes new shards, and an unchanged shard is reused by the next `prepare`.
import { closeSync, openSync, readSync, statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import path from 'node:path';
import { z } from 'zod';
import { SPLITS, type Split } from './dataset.js';
import { LABEL_MAP_VERSION, type LabelMapSpec } from './label_map.js';
import type { PreprocessOptions } from './preprocess.js';
import { DataError } from './problems.js';

export const CACHE_FORMAT = 'dermosynth-cache';
export const CACHE_VERSION = 1;
/** Layout of a record, part of the key (see optionsKey). */
const RECORD_LAYOUT = 'rgb-planar+label-bytes';
export const MANIFEST_FILE = 'cache.json';
export const SHARD_DIR = 'shards';

const problemSchema = z.object({
  severity: z.enum(['error', 'warning']),
  kind: z.string(),
  id: z.string().optional(),
  file: z.string().optional(),
  message: z.string(),
});

export const cacheRecordSchema = z.object({
  id: z.string(),
  label: z.number().int().nonnegative(),
  split: z.enum(SPLITS),
  shard: z.number().int().nonnegative(),
  index: z.number().int().nonnegative(),
  sourceSize: z.tuple([z.number().int().positive(), z.number().int().positive()]),
  /** Lesion fraction of the source mask; null in a cache without masks. */
  coverage: z.number().nullable(),
  frame: z.number(),
});
export type CacheRecord = z.infer<typeof cacheRecordSchema>;

export const manifestSchema = z.object({
  format: z.literal(CACHE_FORMAT),
  version: z.literal(CACHE_VERSION),
  key: z.string(),
  created: z.string(),
  source: z.object({ root: z.string(), format: z.string() }),
  options: z.object({
    width: z.number().int().positive(),
    height: z.number().int().positive(),
    fit: z.enum(['crop', 'pad']),
    labelMap: z.object({ boundary: z.number().int().nonnegative(), frame: z.boolean() }),
  }),
  labelMap: z.object({
    version: z.number().int(),
    classes: z.array(z.string()),
    boundary: z.number().int().nonnegative(),
    frame: z.boolean(),
    channels: z.array(z.string()),
  }),
  /**
   * false: made from a dataset without segmentation masks (ISIC 2019, 2020): every label map is
   * NO_SEGMENTATION (label_map.ts) and coverage null; for classifiers, never the GAN. Absent in
   * caches made before the field, which all have masks.
   */
  masks: z.boolean().optional(),
  split: z.object({ source: z.enum(['official', 'stratified']), val: z.number(), test: z.number(), seed: z.number() }),
  shards: z.array(
    z.object({
      file: z.string(),
      count: z.number().int().nonnegative(),
      bytes: z.number().int().nonnegative(),
      sha256: z.string(),
    }),
  ),
  records: z.array(cacheRecordSchema),
  skipped: z.array(problemSchema),
  warnings: z.array(problemSchema),
});
export type CacheManifest = z.infer<typeof manifestSchema>;

/** The key of everything that changes the pixels in a shard (not the split). */
export function optionsKey(o: PreprocessOptions, spec: LabelMapSpec): string {
  const canonical = JSON.stringify({
    cache: CACHE_VERSION,
    layout: RECORD_LAYOUT,
    labelMap: LABEL_MAP_VERSION,
    width: o.width,
    height: o.height,
    fit: o.fit,
    boundary: o.labelMap.boundary,
    frame: o.labelMap.frame,
    classes: spec.classes,
  });
  return createHash('sha256').update(canonical).digest('hex');
}

export function recordLayout(width: number, height: number): { image: number; label: number; total: number } {
  const image = width * height * 3;
  const label = width * height;
  return { image, label, total: image + label };
}

/** Records per shard: about 64 MiB per file, at most 1,024 lesions. */
export function recordsPerShard(width: number, height: number): number {
  return Math.max(1, Math.min(1024, Math.floor((64 << 20) / recordLayout(width, height).total)));
}

export async function readManifest(dir: string): Promise<CacheManifest | null> {
  const file = path.join(dir, MANIFEST_FILE);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new DataError(`${file}: cannot read the cache manifest (${(e as Error).message})`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new DataError(
      `${file}: the cache manifest is not valid JSON (${(e as Error).message}); delete the cache folder and run 'dermosynth data prepare' again`,
    );
  }
  const parsed = manifestSchema.safeParse(json);
  if (!parsed.success) {
    const first = parsed.error.issues[0]!;
    throw new DataError(
      `${file}: not a dermosynth cache manifest of version ${CACHE_VERSION} (${first.path.join('.')}: ${first.message}); run 'dermosynth data prepare' again`,
    );
  }
  return parsed.data;
}

/** A prepared cache opened for reading: random access to any lesion's pixels. */
export class LesionCache {
  readonly width: number;
  readonly height: number;
  readonly spec: LabelMapSpec;
  readonly records: readonly CacheRecord[];
  private readonly layout: { image: number; label: number; total: number };
  private readonly fds: (number | null)[];

  private constructor(
    readonly dir: string,
    readonly manifest: CacheManifest,
  ) {
    this.width = manifest.options.width;
    this.height = manifest.options.height;
    this.spec = manifest.labelMap;
    this.records = manifest.records;
    this.layout = recordLayout(this.width, this.height);
    this.fds = manifest.shards.map(() => null);
  }

  /** Opens a cache folder, checking the manifest and that every shard has its expected size. */
  static async open(dir: string): Promise<LesionCache> {
    const root = path.resolve(dir);
    const manifest = await readManifest(root);
    if (!manifest)
      throw new DataError(
        `${dir}: no ${MANIFEST_FILE}; this is not a prepared cache (make one with 'dermosynth data prepare DATA --out ${dir}')`,
      );
    const layout = recordLayout(manifest.options.width, manifest.options.height);
    for (const s of manifest.shards) {
      const file = path.join(root, SHARD_DIR, s.file);
      let size: number;
      try {
        size = statSync(file).size;
      } catch {
        throw new DataError(
          `${file}: a shard of the cache is missing; run 'dermosynth data prepare' again to rebuild it`,
        );
      }
      if (size !== s.bytes || s.bytes !== s.count * layout.total) {
        throw new DataError(
          `${file}: the shard has ${size} bytes, the manifest says ${s.bytes}; run 'dermosynth data prepare' again to rebuild it`,
        );
      }
    }
    for (const r of manifest.records) {
      const s = manifest.shards[r.shard];
      if (!s || r.index >= s.count)
        throw new DataError(
          `${path.join(root, MANIFEST_FILE)}: lesion ${r.id} points outside the shards; run 'dermosynth data prepare' again`,
        );
    }
    return new LesionCache(root, manifest);
  }

  get size(): number {
    return this.records.length;
  }

  /** False when the cache was made from a dataset without segmentation masks. */
  get hasMasks(): boolean {
    return this.manifest.masks !== false;
  }

  /** Indices of the records in the given split(s), or all. */
  indices(split?: Split | readonly Split[]): number[] {
    const want = split === undefined ? null : new Set(typeof split === 'string' ? [split] : split);
    const out: number[] = [];
    this.records.forEach((r, i) => {
      if (!want || want.has(r.split)) out.push(i);
    });
    return out;
  }

  /** Reads lesion `i` into `image` ([3, H, W] at byte `imageAt`) and `label` ([H, W] at `labelAt`). */
  readInto(i: number, image: Uint8Array, imageAt: number, label: Uint8Array, labelAt: number): void {
    const r = this.records[i];
    if (!r) throw new RangeError(`LesionCache: index ${i} out of range 0..${this.records.length - 1}`);
    const fd = this.fd(r.shard);
    const offset = r.index * this.layout.total;
    readFully(fd, image, imageAt, this.layout.image, offset);
    readFully(fd, label, labelAt, this.layout.label, offset + this.layout.image);
  }

  close(): void {
    this.fds.forEach((fd, i) => {
      if (fd !== null) closeSync(fd);
      this.fds[i] = null;
    });
  }

  private fd(shard: number): number {
    let fd = this.fds[shard];
    if (fd === null || fd === undefined) {
      fd = openSync(path.join(this.dir, SHARD_DIR, this.manifest.shards[shard]!.file), 'r');
      this.fds[shard] = fd;
    }
    return fd;
  }
}

function readFully(fd: number, buf: Uint8Array, at: number, length: number, position: number): void {
  let done = 0;
  while (done < length) {
    const n = readSync(fd, buf, at + done, length - done, position + done);
    if (n === 0) throw new DataError('a cache shard ended early; run dermosynth data prepare again');
    done += n;
  }
}
