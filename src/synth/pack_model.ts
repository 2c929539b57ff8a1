// `dermosynth models pack`: a trained run's generator as a model folder that can ship
// (model_folder.ts): float16 safetensors with provenance, config.json, label | generated grids per
// diagnosis on fixed label maps, the run's metrics when they were measured on these weights, and
// a MODEL_CARD.md skeleton filled with what the run knows.
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import * as torch from '../torch/index.js';
import type { Tensor } from '../torch/index.js';
import { writeFileAtomic } from '../util/atomic_file.js';
import { LesionCache, MANIFEST_FILE, recordLayout, type CacheManifest } from '../data/cache.js';
import { BOUNDARY_BIT, CLASS_BITS, buildLabelBytes } from '../data/label_map.js';
import { colouriseLabels } from '../data/label_preview.js';
import { cacheContentKey } from '../eval/aux_networks.js';
import { METRICS_FILE, type Metrics } from '../eval/evaluate.js';
import { runPaths, weightsEvalDir } from '../run/layout.js';
import { TrainLog, type LogEntry } from '../run/log.js';
import { evaluateCommandFor, modelCard, type CardFacts } from './model_card.js';
import {
  MODEL_CARD_FILE,
  MODEL_CONFIG_FILE,
  MODEL_FORMAT,
  MODEL_GRIDS_DIR,
  MODEL_NAME_PATTERN,
  MODEL_VERSION,
  MODEL_WEIGHTS_FILE,
  MODEL_WEIGHTS_LIMIT,
  readModelConfig,
  type ModelConfig,
} from './model_folder.js';
import { referenceMasks } from './pretrained.js';
import { RunError, RunGenerator } from './run_generator.js';

export interface PackOptions {
  /** The training run folder. */
  run: string;
  /** The model's name (what --pretrained takes). */
  name: string;
  /** The model folder to write. */
  out: string;
  /** A weights file of the run instead of its own (a checkpoint or a generator file). */
  weights?: string;
  /** Replace an existing model folder (a human-written MODEL_CARD.md is kept). */
  overwrite?: boolean;
  /** Label maps per grid (default 4). */
  examples?: number;
  /** The weights-size limit in bytes (default MODEL_WEIGHTS_LIMIT, 25 MB). */
  limitBytes?: number;
}

export interface PackResult {
  dir: string;
  config: ModelConfig;
  /** Grid PNGs per diagnosis, relative to dir. */
  grids: Record<string, string>;
  /** The card written (MODEL_CARD.md, or MODEL_CARD.generated.md beside a kept one). */
  card: string;
  notes: string[];
}

const mb = (bytes: number) => `${(bytes / 1e6).toFixed(2)} MB`;

/** A diagnosis as a file name. */
export function gridFileName(diagnosis: string): string {
  return `${diagnosis.replace(/[^A-Za-z0-9_.-]/g, '_')}.png`;
}

export async function packModel(o: PackOptions, onNotice: (m: string) => void = () => {}): Promise<PackResult> {
  const notes: string[] = [];
  const note = (m: string) => {
    notes.push(m);
    onNotice(m);
  };
  if (!MODEL_NAME_PATTERN.test(o.name))
    throw new RangeError(
      `--name '${o.name}': use lower-case letters, digits, '.', '_' and '-' (at most 64, starting with a letter or digit), e.g. isic2017-128`,
    );
  const limit = o.limitBytes ?? MODEL_WEIGHTS_LIMIT;
  const out = path.resolve(o.out);
  let keepCard = false;
  if (existsSync(out) && (await readdir(out)).length > 0) {
    const existing = await readModelConfig(out).catch(() => null);
    if (!o.overwrite)
      throw new RangeError(
        `${out} is not empty${existing ? ` (it holds the model ${existing.name})` : ''}; choose another --out${existing ? ', or add --overwrite to replace it' : ''}`,
      );
    if (!existing)
      throw new RangeError(`${out} is not empty and is not a model folder; --overwrite only replaces a model folder`);
    keepCard = existsSync(path.join(out, MODEL_CARD_FILE));
  }

  const source = await RunGenerator.load(path.resolve(o.run), {
    weights: o.weights ? path.resolve(o.weights) : undefined,
  });
  let config: ModelConfig;
  let log: { steps: number; seconds: number; skipped: number; stages: string[] } | null;
  try {
    if (source.pretrained)
      throw new RunError(
        `${o.run} is already a packaged model (${source.pretrained.name}); pack a training run's folder`,
      );
    const run = source.config;
    const paths = runPaths(source.dir);
    const entries = existsSync(paths.log) ? await TrainLog.read(paths.log) : [];
    // The final generator.safetensors is the weights after the run's last logged step.
    const step =
      source.weights.step ?? (entries.length > 0 ? Math.max(...entries.map((e) => e.step)) : run.schedule.totalSteps);
    log = entries.length > 0 ? summariseLog(entries, step) : null;
    if (!log) note(`${paths.log} is missing or empty: the card has no training time`);

    // The weights: float16, integer buffers as they are.
    const state = source.generator.stateDict();
    const half = new Map<string, Tensor>();
    const parameters = source.generator.numParameters();
    let values = 0;
    let flushed = 0;
    try {
      for (const [k, t] of state) {
        if (!torch.isFloating(t.dtype)) {
          half.set(k, t);
          continue;
        }
        const h = t.to('float16');
        half.set(k, h);
        values += t.numel;
        const back = h.toFloat32Array();
        const orig = t.toFloat32Array();
        for (let i = 0; i < back.length; i++) {
          if (!Number.isFinite(back[i]!) && Number.isFinite(orig[i]!)) {
            throw new RangeError(
              `${source.weights.file}: '${k}' holds ${orig[i]}, beyond float16's range (65504): the model cannot be packed as float16`,
            );
          }
          if (back[i] === 0 && orig[i] !== 0) flushed++;
        }
      }
      if (flushed > 0) note(`${flushed} of ${values} weights are below float16's smallest value (6e-8) and became 0`);
      const created = new Date().toISOString();
      const metadata: Record<string, string> = {
        format: MODEL_FORMAT,
        'dermosynth.name': o.name,
        'dermosynth.model': run.options.model,
        'dermosynth.size': `${run.options.width}x${run.options.height}`,
        'dermosynth.dtype': "float16, converted from the run's float32",
        'dermosynth.source_run': path.resolve(source.dir),
        'dermosynth.source_step': String(step),
        'dermosynth.source_weights': path.resolve(source.weights.file),
        'dermosynth.source_sha256': source.weights.sha256,
        'dermosynth.created': created,
      };
      const bytes = torch.writeSafetensors(half, metadata);
      if (bytes.byteLength > limit) {
        throw new RangeError(
          `the float16 weights are ${mb(bytes.byteLength)}, above the ${mb(limit)} a shipped model may have (${parameters.toLocaleString('en')} parameters; about ${Math.floor(limit / 2 / 1e6)}M fit): train a smaller generator (--ngf, --n-blocks, --local-enhancers)`,
        );
      }
      // --overwrite: what an earlier pack wrote and this one may not write again goes first.
      await rm(path.join(out, MODEL_GRIDS_DIR), { recursive: true, force: true });
      await rm(path.join(out, METRICS_FILE), { force: true });
      await mkdir(path.join(out, MODEL_GRIDS_DIR), { recursive: true });
      await writeFileAtomic(path.join(out, MODEL_WEIGHTS_FILE), bytes);
      const data = await dataKeys(run.data.cache, source.dir, note);
      config = {
        format: MODEL_FORMAT,
        version: MODEL_VERSION,
        name: o.name,
        created,
        model: run.options.model,
        size: [run.options.width, run.options.height],
        diagnoses: [...source.spec.classes],
        labelMap: {
          version: source.spec.version,
          channels: [...source.spec.channels],
          boundary: source.spec.boundary,
          frame: source.spec.frame,
        },
        data: {
          contentKey: data.contentKey,
          cacheKey: data.manifest?.key ?? null,
          train: run.data.train,
          val: run.data.val,
          test: run.data.test,
        },
        weights: {
          file: MODEL_WEIGHTS_FILE,
          dtype: 'float16',
          sha256: createHash('sha256').update(bytes).digest('hex'),
          bytes: bytes.byteLength,
          parameters,
        },
        source: {
          run: path.resolve(source.dir),
          step,
          weights: path.resolve(source.weights.file),
          weightsSha256: source.weights.sha256,
        },
        run,
      };
      await writeFileAtomic(
        path.join(out, MODEL_CONFIG_FILE),
        new TextEncoder().encode(JSON.stringify(config, null, 2) + '\n'),
      );
    } finally {
      for (const [k, t] of half) if (t !== state.get(k)) t.dispose();
    }
  } finally {
    source.dispose();
  }

  // Metrics: only when they were measured on the weights packed: the run's metrics.json (its final
  // generator) or, for a checkpoint, where `evaluate --run RUN --weights FILE` writes by default.
  let metrics: Metrics | null = null;
  const candidates = [path.join(config.source.run, METRICS_FILE)];
  if (o.weights) candidates.push(path.join(weightsEvalDir(config.source.run, config.source.weights), METRICS_FILE));
  const found: { file: string; sha256: string }[] = [];
  for (const file of candidates) {
    if (!existsSync(file)) continue;
    const m = JSON.parse(await readFile(file, 'utf8')) as Metrics;
    if (m.weights?.sha256 === config.source.weightsSha256) {
      metrics = m;
      await writeFileAtomic(path.join(out, METRICS_FILE), new TextEncoder().encode(JSON.stringify(m, null, 2) + '\n'));
      break;
    }
    found.push({ file, sha256: String(m.weights?.sha256) });
  }
  if (!metrics) {
    const evalCommand = evaluateCommandFor(config.source);
    note(
      found.length > 0
        ? `${found.map((f) => `${f.file} was measured on other weights (sha256 ${f.sha256.slice(0, 12)})`).join('; ')}, not these (${config.source.weightsSha256.slice(0, 12)}): left out; run '${evalCommand}' and pack again`
        : `${candidates.join(' and ')} ${candidates.length > 1 ? 'are' : 'is'} missing: the card has no metrics; run '${evalCommand}' and pack again`,
    );
  }

  // Grids from the packed (float16) weights: what ships is what is shown.
  const packed = await RunGenerator.load(out);
  let grids: Record<string, string>;
  let maskSource: string;
  try {
    const masks = await gridMasks(packed, o.examples ?? 4);
    maskSource = masks.source;
    grids = await writeGrids(packed, masks.labels, out);
  } finally {
    packed.dispose();
  }

  const facts: CardFacts = {
    config,
    log,
    metrics,
    grids,
    maskSource,
    machine: runMachine(config),
    dataSource: await cacheSource(config.run.data.cache),
    packedOn: os.cpus()[0]?.model ?? 'unknown CPU',
  };
  const cardFile = path.join(out, keepCard ? 'MODEL_CARD.generated.md' : MODEL_CARD_FILE);
  await writeFileAtomic(cardFile, new TextEncoder().encode(modelCard(facts)));
  if (keepCard)
    note(
      `${path.join(out, MODEL_CARD_FILE)} is kept (it may hold human-written parts); the new skeleton is ${cardFile}: merge what changed`,
    );
  return { dir: out, config, grids, card: cardFile, notes };
}

/** Steps, training seconds and skipped steps of the log up to `step`. */
function summariseLog(
  entries: readonly LogEntry[],
  step: number,
): { steps: number; seconds: number; skipped: number; stages: string[] } {
  const upTo = entries.filter((e) => e.step <= step);
  return {
    steps: step,
    seconds: upTo.reduce((a, e) => a + (Number.isFinite(e.seconds) ? e.seconds : 0), 0),
    skipped: upTo.filter((e) => e.skipped).length,
    stages: [...new Set(upTo.map((e) => e.stage))],
  };
}

/** Where the run trained, as its config.json recorded it (`machine` is absent in runs made before it was recorded). */
function runMachine(config: ModelConfig): CardFacts['machine'] {
  const m = config.run.machine;
  const rt = config.run.runtime;
  return {
    cpu: m?.cpu ?? null,
    cores: m?.cores ?? null,
    threads: m?.threads ?? null,
    device: rt?.device ?? 'cpu',
    precision: rt?.precision ?? 'fp32',
    processes: rt?.processes ?? 1,
  };
}

async function readManifest(cacheDir: string): Promise<CacheManifest | null> {
  const f = path.join(cacheDir, MANIFEST_FILE);
  if (!existsSync(f)) return null;
  try {
    return JSON.parse(await readFile(f, 'utf8')) as CacheManifest;
  } catch {
    return null;
  }
}

async function cacheSource(cacheDir: string): Promise<CardFacts['dataSource']> {
  const m = await readManifest(cacheDir);
  if (!m) return null;
  // `dermosynth data sample` names its lesions SAMPLE_nnnn.
  return { ...m.source, sample: m.records.length > 0 && m.records.every((r) => r.id.startsWith('SAMPLE_')) };
}

/** The training data's content key: from its cache, else from the run's metrics.json when that was measured on the same cache. */
async function dataKeys(
  cacheDir: string,
  runDir: string,
  note: (m: string) => void,
): Promise<{ contentKey: string | null; manifest: CacheManifest | null }> {
  if (existsSync(path.join(cacheDir, MANIFEST_FILE))) {
    const cache = await LesionCache.open(cacheDir);
    try {
      return { contentKey: cacheContentKey(cache), manifest: cache.manifest };
    } finally {
      cache.close();
    }
  }
  const metricsFile = path.join(runDir, METRICS_FILE);
  if (existsSync(metricsFile)) {
    const m = JSON.parse(await readFile(metricsFile, 'utf8')) as Metrics;
    if (m.data?.cache === cacheDir && m.data.contentKey) return { contentKey: m.data.contentKey, manifest: null };
  }
  note(`the run's training cache ${cacheDir} is gone: config.json has no data content key`);
  return { contentKey: null, manifest: null };
}

/**
 * The fixed label maps of the grids: the first `n` lesions of the run's val split (their masks,
 * boundary and frame as they are) when its cache is there and at the model's size, else
 * referenceMasks(). Returns label bytes with the lesion class left to set per diagnosis.
 */
async function gridMasks(gen: RunGenerator, n: number): Promise<{ labels: Uint8Array[]; source: string }> {
  const dir = gen.config.data.cache;
  if (existsSync(path.join(dir, MANIFEST_FILE))) {
    const cache = await LesionCache.open(dir);
    try {
      const val = cache.indices('val');
      if (
        val.length > 0 &&
        cache.width === gen.width &&
        cache.height === gen.height &&
        cache.spec.channels.join(',') === gen.spec.channels.join(',')
      ) {
        const picked = val.slice(0, n);
        const layout = recordLayout(cache.width, cache.height);
        const image = new Uint8Array(layout.image);
        const labels = picked.map((i) => {
          const label = new Uint8Array(layout.label);
          cache.readInto(i, image, 0, label, 0);
          return label;
        });
        return {
          labels,
          source: `the first ${picked.length} lesions of the run's val split (${picked.map((i) => cache.records[i]!.id).join(', ')}), each drawn as every diagnosis`,
        };
      }
    } finally {
      cache.close();
    }
  }
  const masks = referenceMasks(gen.width, gen.height).slice(0, Math.max(1, n));
  return {
    labels: masks.map((m) => buildLabelBytes(m, 0, gen.spec, gen.width, gen.height)),
    source: `${masks.length} fixed synthetic lesion shapes (dermosynth's referenceMasks: an ellipse, a small round lesion, a lobed outline), each drawn as every diagnosis; the run's val split was not available`,
  };
}

/** Label bytes with every lesion pixel set to diagnosis k (boundary flag, skin and frame kept). */
export function relabel(label: Uint8Array, k: number, diagnoses: number): Uint8Array {
  const out = new Uint8Array(label.length);
  for (let i = 0; i < label.length; i++) {
    const v = label[i]!;
    const cls = v & CLASS_BITS;
    out[i] = cls >= 1 && cls <= diagnoses ? (v & BOUNDARY_BIT) | (1 + k) : v;
  }
  return out;
}

/** grids/<diagnosis>.png: label | generated, one row per label map. */
async function writeGrids(
  gen: RunGenerator,
  labels: readonly Uint8Array[],
  out: string,
  gap = 2,
): Promise<Record<string, string>> {
  const { width: w, height: h } = gen;
  const grids: Record<string, string> = {};
  for (const [k, diagnosis] of gen.classes.entries()) {
    const maps = labels.map((l) => relabel(l, k, gen.classes.length));
    const rgb = gen.generate(maps);
    const cw = 2 * w + gap;
    const ch = maps.length * h + (maps.length - 1) * gap;
    const canvas = new Uint8Array(cw * ch * 3).fill(255);
    const put = (src: Uint8Array, row: number, col: number) => {
      for (let y = 0; y < h; y++)
        canvas.set(src.subarray(y * w * 3, (y + 1) * w * 3), ((row * (h + gap) + y) * cw + col * (w + gap)) * 3);
    };
    maps.forEach((m, i) => {
      put(colouriseLabels(m, gen.spec), i, 0);
      put(rgb[i]!, i, 1);
    });
    const rel = path.join(MODEL_GRIDS_DIR, gridFileName(diagnosis));
    await writeFileAtomic(
      path.join(out, rel),
      await sharp(canvas, { raw: { width: cw, height: ch, channels: 3 } })
        .png()
        .toBuffer(),
    );
    grids[diagnosis] = rel;
  }
  return grids;
}
