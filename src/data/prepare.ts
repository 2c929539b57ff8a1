// Builds (or brings up to date) a preprocessing cache from a dataset, decoding in parallel.
import { createHash } from 'node:crypto';
import { mkdir, readdir, readFile, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { writeFileAtomic } from '../util/atomic_file.js';
import {
  CACHE_FORMAT,
  CACHE_VERSION,
  MANIFEST_FILE,
  SHARD_DIR,
  optionsKey,
  readManifest,
  recordLayout,
  recordsPerShard,
  type CacheManifest,
  type CacheRecord,
} from './cache.js';
import { badIds, type DatasetIndex, type LesionRecord, type Split } from './dataset.js';
import { labelMapSpec } from './label_map.js';
import { DecodePool, defaultWorkers, lesionsInFlight } from './decode_pool.js';
import { pool } from './pool.js';
import type { PreparedLesion, PreprocessOptions } from './preprocess.js';
import { DataError, formatProblem, type Problem } from './problems.js';
import { assignSplits, DEFAULT_SPLIT, type SplitOptions } from './split.js';

export interface PrepareProgress {
  phase: 'hash' | 'decode';
  done: number;
  total: number;
}

export interface PrepareOptions extends PreprocessOptions {
  split?: SplitOptions;
  /** Go on past bad lesions, listing them in CACHE/skipped.csv (default: fail naming them all). */
  skipBad?: boolean;
  /** Replace a cache made with other options in the same folder. */
  overwrite?: boolean;
  /**
   * Worker threads that decode; 0 decodes in this thread, where libvips still decodes several
   * lesions at once on its own threads. Default: the number of cores from 4 cores up, else 0 (on 2
   * cores in-thread was faster: 8.9 vs 10.3 ms/lesion; with more cores the per-pixel JavaScript
   * needs more than one thread).
   */
  workers?: number;
  onProgress?: (p: PrepareProgress) => void;
}

export interface PrepareResult {
  dir: string;
  manifest: CacheManifest;
  /** Lesions decoded by this run, and lesions whose shards were already there. */
  decoded: number;
  reused: number;
  errors: Problem[];
  warnings: Problem[];
  skippedFile: string | null;
}

/** What a shard's sidecar .json holds. */
interface ShardIndex {
  key: string;
  count: number;
  sha256: string;
  lesions: { id: string; label: number; sourceSize: [number, number]; coverage: number | null; frame: number }[];
  problems: Problem[];
}

export async function prepareCache(index: DatasetIndex, out: string, o: PrepareOptions): Promise<PrepareResult> {
  checkSize(o.width, 'width');
  checkSize(o.height, 'height');
  const dir = path.resolve(out);
  const spec = labelMapSpec(index.classes, o.labelMap);
  const key = optionsKey(o, spec);
  const splitOptions = o.split ?? DEFAULT_SPLIT;
  const threads = o.workers ?? defaultWorkers();
  if (!Number.isInteger(threads) || threads < 0 || threads > 256)
    throw new RangeError(`prepare: workers must be an integer from 0 to 256, got ${threads}`);
  await claimFolder(dir, o, key);
  const shardDir = path.join(dir, SHARD_DIR);
  await mkdir(shardDir, { recursive: true });
  await removeTempFiles(shardDir);

  const problems: Problem[] = [...index.problems];
  const bad = badIds(index);
  // A dataset without masks (masks: false) gives label maps that say so (see label_map.ts).
  const masks = index.masks !== false;
  const usable = index.records
    .filter((r) => !bad.has(r.id) && r.image && (r.mask || !masks) && r.label !== null)
    .sort((a, b) => (a.id < b.id ? -1 : 1));
  const { splits, source: splitSource } = assignSplits(usable, splitOptions);

  const decoder = new DecodePool(usable.length < 16 ? 0 : threads);
  try {
    return await build();
  } finally {
    await decoder.close();
  }

  async function build(): Promise<PrepareResult> {
    const inFlight = lesionsInFlight(threads);
    // 1. Hash the sources (cheap next to decoding): the shard keys depend on them.
    const hashes = new Map<string, string>();
    let hashed = 0;
    await pool(usable, inFlight, async (r) => {
      const h = await decoder.hash(r);
      if (h.hash) hashes.set(r.id, h.hash);
      problems.push(...h.problems);
      o.onProgress?.({ phase: 'hash', done: ++hashed, total: usable.length });
    });
    const hashedRecords = usable.filter((r) => hashes.has(r.id));

    // 2. Group into shards; decode only the shards that are not already on disk.
    const perShard = recordsPerShard(o.width, o.height);
    const groups: LesionRecord[][] = [];
    for (let i = 0; i < hashedRecords.length; i += perShard) groups.push(hashedRecords.slice(i, i + perShard));
    const layout = recordLayout(o.width, o.height);
    const shardKeys = groups.map((g) => {
      const h = createHash('sha256').update(key);
      for (const r of g) h.update(`\n${r.id}\t${hashes.get(r.id)}`);
      return h.digest('hex').slice(0, 32);
    });
    const indexes: (ShardIndex | null)[] = await Promise.all(
      shardKeys.map((k) => readShardIndex(shardDir, k, layout.total)),
    );
    const toDecode = groups.flatMap((g, i) => (indexes[i] ? [] : g.map((r) => ({ r, shard: i }))));
    const reused = hashedRecords.length - toDecode.length;
    let decodedCount = 0;
    o.onProgress?.({ phase: 'decode', done: 0, total: toDecode.length });
    const slots = groups.map((g, i) =>
      indexes[i]
        ? null
        : { results: new Map<string, { lesion: PreparedLesion | null; problems: Problem[] }>(), size: g.length },
    );
    await pool(toDecode, inFlight, async ({ r, shard }) => {
      const result = await decoder.prepare(r, spec, {
        width: o.width,
        height: o.height,
        fit: o.fit,
        labelMap: o.labelMap,
      });
      const slot = slots[shard]!;
      slot.results.set(r.id, result);
      o.onProgress?.({ phase: 'decode', done: ++decodedCount, total: toDecode.length });
      if (slot.results.size === slot.size) {
        indexes[shard] = await writeShard(shardDir, shardKeys[shard]!, groups[shard]!, slot.results, layout.total);
        slots[shard] = null;
      }
    });

    // 3. The manifest: every lesion in order, with its split; every problem reported.
    const records: CacheRecord[] = [];
    const shards: CacheManifest['shards'] = [];
    indexes.forEach((ix, s) => {
      problems.push(...ix!.problems);
      shards.push({
        file: `${shardKeys[s]}.bin`,
        count: ix!.count,
        bytes: ix!.count * layout.total,
        sha256: ix!.sha256,
      });
      ix!.lesions.forEach((l, i) => records.push({ ...l, split: splits.get(l.id) as Split, shard: s, index: i }));
    });
    const errors = problems.filter((p) => p.severity === 'error');
    const warnings = problems.filter((p) => p.severity === 'warning');
    if (errors.length > 0 && !o.skipBad) {
      throw new DataError(
        `${index.root}: ${errors.length} problem(s) make lesions unusable; fix them, or run prepare with --skip-bad to leave those lesions out:\n` +
          errors.map((p) => `  ${formatProblem(p)}`).join('\n'),
        errors,
      );
    }
    if (records.length === 0) throw new DataError(`${index.root}: no usable lesion; nothing to cache`, errors);
    const manifest: CacheManifest = {
      format: CACHE_FORMAT,
      version: CACHE_VERSION,
      key,
      created: new Date().toISOString(),
      source: { root: index.root, format: index.format },
      options: { width: o.width, height: o.height, fit: o.fit, labelMap: { ...o.labelMap } },
      labelMap: spec,
      masks,
      split: { source: splitSource, ...splitOptions },
      shards,
      records,
      skipped: errors,
      warnings,
    };
    const skippedFile = path.join(dir, 'skipped.csv');
    if (errors.length > 0) await writeFileAtomic(skippedFile, new TextEncoder().encode(problemsCsv(errors)));
    else await rm(skippedFile, { force: true });
    await writeFileAtomic(
      path.join(dir, MANIFEST_FILE),
      new TextEncoder().encode(JSON.stringify(manifest, null, 1) + '\n'),
    );
    await removeUnreferencedShards(shardDir, new Set(shardKeys));
    return {
      dir,
      manifest,
      decoded: toDecode.length,
      reused,
      errors,
      warnings,
      skippedFile: errors.length > 0 ? skippedFile : null,
    };
  }
}

function checkSize(v: number, name: string): void {
  if (!Number.isInteger(v) || v < 8 || v > 8192)
    throw new RangeError(`prepare: ${name} must be an integer from 8 to 8192 pixels, got ${v}`);
}

/** The output folder must be new, empty, or a cache (made with the same options unless overwrite). */
async function claimFolder(dir: string, o: PrepareOptions, key: string): Promise<void> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return;
  }
  const existing = await readManifest(dir).catch(() => null);
  if (existing) {
    if (existing.key !== key && !o.overwrite) {
      const e = existing.options;
      throw new DataError(
        `${dir}: holds a cache made with other options (${e.width}x${e.height}, fit ${e.fit}, boundary ${e.labelMap.boundary}, frame ${e.labelMap.frame}); choose another --out folder or pass --overwrite`,
      );
    }
    return;
  }
  const ours = new Set([SHARD_DIR, MANIFEST_FILE, 'skipped.csv']);
  if (names.some((n) => !ours.has(n))) {
    throw new DataError(`${dir}: the folder exists and is not a dermosynth cache; choose an empty or new --out folder`);
  }
}

async function readShardIndex(shardDir: string, key: string, recordBytes: number): Promise<ShardIndex | null> {
  try {
    const ix = JSON.parse(await readFile(path.join(shardDir, `${key}.json`), 'utf8')) as ShardIndex;
    const st = await stat(path.join(shardDir, `${key}.bin`));
    if (ix.key !== key || st.size !== ix.count * recordBytes || ix.lesions.length !== ix.count) return null;
    return ix;
  } catch {
    return null;
  }
}

async function writeShard(
  shardDir: string,
  key: string,
  group: LesionRecord[],
  results: Map<string, { lesion: PreparedLesion | null; problems: Problem[] }>,
  recordBytes: number,
): Promise<ShardIndex> {
  const lesions: PreparedLesion[] = [];
  const problems: Problem[] = [];
  for (const r of group) {
    const res = results.get(r.id)!;
    problems.push(...res.problems);
    if (res.lesion) lesions.push(res.lesion);
  }
  const bytes = new Uint8Array(lesions.length * recordBytes);
  lesions.forEach((l, i) => {
    bytes.set(l.image, i * recordBytes);
    bytes.set(l.labelBytes, i * recordBytes + l.image.length);
  });
  const ix: ShardIndex = {
    key,
    count: lesions.length,
    sha256: createHash('sha256').update(bytes).digest('hex'),
    lesions: lesions.map((l) => ({
      id: l.id,
      label: l.label,
      sourceSize: [l.sourceSize.width, l.sourceSize.height],
      coverage: l.coverage,
      frame: l.frame,
    })),
    problems,
  };
  // The .bin first: a .json names a complete .bin, so a killed run leaves nothing trusted half-done.
  await writeFileAtomic(path.join(shardDir, `${key}.bin`), bytes);
  await writeFileAtomic(path.join(shardDir, `${key}.json`), new TextEncoder().encode(JSON.stringify(ix)));
  return ix;
}

async function removeTempFiles(shardDir: string): Promise<void> {
  for (const n of await readdir(shardDir))
    if (n.startsWith('.') && n.endsWith('.tmp')) await rm(path.join(shardDir, n), { force: true });
}

async function removeUnreferencedShards(shardDir: string, keep: Set<string>): Promise<void> {
  for (const n of await readdir(shardDir)) {
    const m = /^([0-9a-f]{32})\.(bin|json)$/.exec(n);
    if (m && !keep.has(m[1]!)) await rm(path.join(shardDir, n), { force: true });
  }
}

function problemsCsv(problems: Problem[]): string {
  const q = (s: string | undefined) => (s === undefined ? '' : /[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s);
  return (
    [
      'id,severity,kind,file,message',
      ...problems.map((p) => [p.id, p.severity, p.kind, p.file, p.message].map(q).join(',')),
    ].join('\n') + '\n'
  );
}
