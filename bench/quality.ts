// npm run bench:quality [-- --minutes 10 --size 128 --models proposed,pix2pixhd,pix2pix,spade
//                           --seed 0 --out results.json --out-dir grids/ --vgg-weights vgg19.safetensors]
//
// Image quality per model for the same wall-clock training budget, on the real ISIC-2017 images
// (../shared/data/isic2017-512, official split: 1,800 train, 121 val lesions):
//  1. prepares the cache once at --size (default 128x128; reused from .bench-cache/ next time);
//  2. trains each model with its 'cpu' preset (src/models/registry.ts CPU_DEFAULTS), batch 1,
//     the same seed and otherwise the training defaults (DEFAULT_TRAIN_OPTIONS: Adam 2e-4,
//     betas 0.5/0.999, 'default' augmentation) on the train split for --minutes of training
//     steps (default 10), stopped by Trainer.run's shouldStop so every model gets the same
//     wall-clock; the VGG perceptual loss is off unless --vgg-weights is given;
//  3. evaluates each trained generator (eval mode, no grad) on every val lesion: L1 (mean
//     absolute error on the [0, 1] scale) and SSIM (src/eval/ssim.ts, skimage's Gaussian SSIM)
//     of the generated image against the real one, mean ± sample std over the lesions;
//     As a reference point it also scores the per-pixel mean train image given for every lesion
//     (a generator that ignores its label): smooth skin makes SSIM high even for that;
//  4. prints one table (steps reached, seconds per training step: mean, and median which is
//     robust to the first step's warm-up and to load spikes; L1; SSIM), writes it as JSON to
//     --out FILE, and with --out-dir writes a sample grid (label | real | generated, the first
//     four val lesions) per model and for the baseline.
// The machine's load average is printed: other processes on the same cores slow the steps down
// and so lower the steps each model reaches in the budget.
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import * as torch from '../src/torch/index.js';
import type { Tensor } from '../src/torch/index.js';
import { LesionCache } from '../src/data/cache.js';
import { DataLoader, disposeBatch } from '../src/data/loader.js';
import { prepareCache } from '../src/data/prepare.js';
import { readDataset } from '../src/data/readers/index.js';
import { checkModelName, loadVgg19 } from '../src/models/registry.js';
import type { ModelName } from '../src/models/types.js';
import { DEFAULT_TRAIN_OPTIONS, parseTrainOptions } from '../src/train/options.js';
import { writeSampleGrid } from '../src/train/sample_grid.js';
import { Trainer, runPaths } from '../src/train/trainer.js';
import { l1Distance, ssim, toUnitRange } from '../src/eval/ssim.js';

const { values: args } = parseArgs({
  options: {
    minutes: { type: 'string', default: '10' },
    size: { type: 'string', default: '128' },
    models: { type: 'string', default: 'proposed,pix2pixhd,pix2pix,spade' },
    seed: { type: 'string', default: '0' },
    out: { type: 'string' },
    'out-dir': { type: 'string' },
    'vgg-weights': { type: 'string' },
    'eval-batch': { type: 'string', default: '8' },
  },
  strict: true,
});

function fail(message: string): never {
  console.error(`bench:quality: ${message}`);
  process.exit(2);
}
const minutes = Number(args.minutes);
if (!(Number.isFinite(minutes) && minutes > 0)) fail(`--minutes must be a positive number, got ${args.minutes}`);
const size = Number(args.size);
if (!Number.isInteger(size) || size < 16) fail(`--size must be an integer >= 16, got ${args.size}`);
const seed = Number(args.seed);
if (!Number.isInteger(seed) || seed < 0) fail(`--seed must be a non-negative integer, got ${args.seed}`);
const evalBatch = Number(args['eval-batch']);
if (!Number.isInteger(evalBatch) || evalBatch < 1)
  fail(`--eval-batch must be a positive integer, got ${args['eval-batch']}`);
const models = args.models
  .split(',')
  .map((m) => m.trim())
  .filter((m) => m.length > 0);
for (const m of models) {
  try {
    checkModelName(m);
  } catch (e) {
    fail((e as Error).message);
  }
}
if (models.length === 0) fail('--models lists no model');

const root = path.resolve(import.meta.dirname, '../../shared/data/isic2017-512');
if (!existsSync(root)) {
  console.log(`bench:quality: ${root} is missing; this benchmark needs the shared ISIC-2017 data`);
  process.exit(0);
}
const repo = path.resolve(import.meta.dirname, '..');
const cacheDir = path.join(repo, '.bench-cache', `isic2017-512-${size}`);
const outDir = args['out-dir'] === undefined ? null : path.resolve(args['out-dir']);
const budgetS = minutes * 60;
const D = DEFAULT_TRAIN_OPTIONS;
const load = (): string =>
  os
    .loadavg()
    .map((v) => v.toFixed(2))
    .join(' ');

console.log(
  `bench:quality: ${models.join(', ')} at ${size}x${size}, 'cpu' presets, batch 1, seed ${seed}, ${minutes} min of training each; ` +
    `${os.availableParallelism()} cores, ${torch.getNumThreads()} torch threads, load average ${load()}`,
);

// ---- 1. the cache -------------------------------------------------------------------------------
{
  const t0 = performance.now();
  const index = await readDataset(root);
  let last = 0;
  const result = await prepareCache(index, cacheDir, {
    width: size,
    height: size,
    fit: D.fit,
    labelMap: { boundary: D.boundary, frame: D.frame },
    skipBad: true,
    onProgress: (p) => {
      const now = performance.now();
      if (p.phase === 'decode' && p.total > 0 && (now - last > 15_000 || p.done === p.total)) {
        last = now;
        console.error(`  preparing ${p.done}/${p.total} lesions`);
      }
    },
  });
  const n = (s: string) => result.manifest.records.filter((r) => r.split === s).length;
  console.log(
    `cache ${path.relative(repo, cacheDir)}: ${result.manifest.records.length} lesions (train ${n('train')}, val ${n('val')}), ` +
      `${result.decoded} decoded, ${result.reused} reused, ${((performance.now() - t0) / 1000).toFixed(1)} s` +
      (result.errors.length > 0 ? `, ${result.errors.length} skipped (see ${result.skippedFile})` : ''),
  );
}

const vgg = args['vgg-weights'] ? await loadVgg19(path.resolve(args['vgg-weights'])) : null;
if (outDir) mkdirSync(outDir, { recursive: true });
const work = mkdtempSync(path.join(os.tmpdir(), 'dermosynth-bench-quality-'));

interface Stats {
  mean: number;
  std: number;
}
interface Evaluation {
  lesions: number;
  l1: Stats;
  ssim: Stats;
  seconds: number;
  sampleGrid: string | null;
}

/**
 * L1 and SSIM of `predict`'s images against the real ones over every val lesion, each on the
 * [0, 1] scale; with --out-dir, a grid of the first four as OUT_DIR/<name>.png.
 */
async function evaluate(name: string, predict: (label: Tensor) => Tensor): Promise<Evaluation> {
  const e0 = performance.now();
  const cache = await LesionCache.open(cacheDir);
  const loader = new DataLoader(cache, {
    batchSize: evalBatch,
    split: 'val',
    shuffle: false,
    dropLast: false,
    augment: 'none',
  });
  const l1s: number[] = [];
  const ssims: number[] = [];
  let sampleGrid: string | null = null;
  try {
    for (const batch of loader.epoch()) {
      try {
        const fake = torch.tidy(() => torch.noGrad(() => predict(batch.label)));
        const [l1, s] = torch.tidy(() => {
          const f = toUnitRange(fake);
          const r = toUnitRange(batch.image);
          return [l1Distance(f, r).toArray(), ssim(f, r).toArray()];
        });
        l1s.push(...l1);
        ssims.push(...s);
        if (outDir && sampleGrid === null) {
          sampleGrid = path.join(outDir, `${name}.png`);
          const k = Math.min(4, batch.ids.length);
          const cols = {
            labelBytes: batch.labelBytes.slice(0, 0, k),
            real: batch.image.slice(0, 0, k),
            fake: fake.slice(0, 0, k),
          };
          await writeSampleGrid(sampleGrid, cols, cache.spec).finally(() => torch.dispose(cols));
        }
        fake.dispose();
      } finally {
        disposeBatch(batch);
      }
    }
  } finally {
    cache.close();
  }
  return {
    lesions: ssims.length,
    l1: stats(l1s),
    ssim: stats(ssims),
    seconds: (performance.now() - e0) / 1000,
    sampleGrid,
  };
}

/** The per-pixel mean of the train images ([1, 3, H, W] in [-1, 1]): what a generator that ignores its label would best output for L1-like losses. */
async function meanTrainImage(): Promise<Tensor> {
  const cache = await LesionCache.open(cacheDir);
  try {
    const loader = new DataLoader(cache, {
      batchSize: 32,
      split: 'train',
      shuffle: false,
      dropLast: false,
      augment: 'none',
    });
    let sum = torch.zeros([1, 3, size, size], { dtype: 'float64' });
    let n = 0;
    for (const batch of loader.epoch()) {
      const next = torch.tidy(() => sum.add(batch.image.to('float64').sum(0, true)));
      sum.dispose();
      sum = next;
      n += batch.ids.length;
      disposeBatch(batch);
    }
    const mean = torch.tidy(() => sum.div(n).to('float32'));
    sum.dispose();
    return mean;
  } finally {
    cache.close();
  }
}

interface ModelResult {
  model: ModelName;
  preset: 'cpu';
  generatorParameters: number;
  discriminatorParameters: number;
  vggLoss: boolean;
  steps: number;
  epochs: number;
  /** Seconds of the training steps alone (Trainer's own clock), per step: the mean, and the median (robust to the first step's warm-up and to load spikes). */
  secondsPerStep: number;
  medianSecondsPerStep: number;
  /** Wall-clock of Trainer.run, including the stop checkpoint. */
  trainWallSeconds: number;
  valLesions: number;
  l1: Stats;
  ssim: Stats;
  evalSeconds: number;
  loadBefore: number[];
  loadAfter: number[];
  sampleGrid: string | null;
}

function median(v: number[]): number {
  if (v.length === 0) return NaN;
  const sorted = [...v].sort((a, b) => a - b);
  const m = sorted.length >> 1;
  return sorted.length % 2 ? sorted[m]! : (sorted[m - 1]! + sorted[m]!) / 2;
}

function stats(v: number[]): Stats {
  const mean = v.reduce((s, x) => s + x, 0) / v.length;
  const std = v.length > 1 ? Math.sqrt(v.reduce((s, x) => s + (x - mean) ** 2, 0) / (v.length - 1)) : 0;
  return { mean, std };
}

async function benchModel(model: ModelName): Promise<ModelResult> {
  const loadBefore = os.loadavg();
  const options = parseTrainOptions({
    ...D,
    data: cacheDir,
    model,
    preset: 'cpu',
    width: size,
    height: size,
    batch: 1,
    seed,
    vggWeights: args['vgg-weights'] ? path.resolve(args['vgg-weights']) : null,
    // No periodic checkpoints or grids inside the budget (a stopped run still saves one checkpoint).
    checkpointEvery: 1_000_000_000,
    sampleEvery: 1_000_000_000,
    keepCheckpoints: 1,
  });
  const paths = runPaths(path.join(work, model));
  const notices: string[] = [];
  const trainer = new Trainer(paths, options, await LesionCache.open(cacheDir), vgg, {
    onNotice: (m) => notices.push(m),
  });
  const g = trainer.models.generator;
  console.log(
    `\n${model}: G ${(g.numParameters() / 1e6).toFixed(2)}M, D ${(trainer.models.discriminator.numParameters() / 1e6).toFixed(2)}M parameters, ` +
      `${trainer.stepsPerEpoch} steps per epoch${notices.length > 0 ? `; ${notices.join('; ')}` : ''}`,
  );
  let lastReport = performance.now();
  let trainSeconds = 0;
  const stepSeconds: number[] = [];
  const t0 = performance.now();
  const result = await trainer.run({
    onStep: (s) => {
      stepSeconds.push(s.seconds - trainSeconds);
      trainSeconds = s.seconds;
      const now = performance.now();
      if (now - lastReport > 30_000) {
        lastReport = now;
        console.error(
          `  ${model}: step ${s.step}, ${((now - t0) / 1000).toFixed(0)} s, ${Object.entries(s.losses)
            .map(([k, v]) => `${k} ${v.toFixed(3)}`)
            .join(' ')}`,
        );
      }
    },
    shouldStop: () => (performance.now() - t0) / 1000 >= budgetS,
  });
  const trainWallSeconds = (performance.now() - t0) / 1000;

  // ---- evaluation on the val split ----
  g.eval();
  let ev: Evaluation;
  try {
    ev = await evaluate(model, (label) => g.call(label));
  } finally {
    g.train();
    trainer.dispose();
  }
  const out: ModelResult = {
    model,
    preset: 'cpu',
    generatorParameters: g.numParameters(),
    discriminatorParameters: trainer.models.discriminator.numParameters(),
    vggLoss: trainer.losses.config.vgg > 0,
    steps: result.step,
    epochs: result.step / trainer.stepsPerEpoch,
    secondsPerStep: trainSeconds / Math.max(1, result.step),
    medianSecondsPerStep: median(stepSeconds),
    trainWallSeconds,
    valLesions: ev.lesions,
    l1: ev.l1,
    ssim: ev.ssim,
    evalSeconds: ev.seconds,
    loadBefore,
    loadAfter: os.loadavg(),
    sampleGrid: ev.sampleGrid,
  };
  console.log(
    `  ${model}: ${out.steps} steps (${out.epochs.toFixed(2)} epochs) in ${trainWallSeconds.toFixed(0)} s, ${out.secondsPerStep.toFixed(3)} s/step (median ${out.medianSecondsPerStep.toFixed(3)}); ` +
      `val L1 ${out.l1.mean.toFixed(4)}, SSIM ${out.ssim.mean.toFixed(4)} over ${out.valLesions} lesions (${out.evalSeconds.toFixed(1)} s); load ${load()}`,
  );
  return out;
}

// A reference point for the numbers: every val lesion 'generated' as the mean train image.
const meanImage = await meanTrainImage();
const baseline = await evaluate('mean-train-image', (label) =>
  meanImage.expand(label.shape[0]!, 3, size, size).contiguous(),
);
meanImage.dispose();
console.log(
  `\nbaseline, the mean train image for every lesion: val L1 ${baseline.l1.mean.toFixed(4)}, SSIM ${baseline.ssim.mean.toFixed(4)}`,
);

const results: ModelResult[] = [];
try {
  for (const m of models) results.push(await benchModel(m as ModelName));
} finally {
  rmSync(work, { recursive: true, force: true });
}

// ---- the table -------------------------------------------------------------------------------
const pm = (s: Stats, digits: number) => `${s.mean.toFixed(digits)} ± ${s.std.toFixed(digits)}`;
const header = [
  'model',
  'preset',
  'G params',
  'steps',
  'epochs',
  's/step',
  'median',
  'val L1 [0,1]',
  'val SSIM',
  'load before/after',
];
const rows = results.map((r) => [
  r.model,
  r.preset,
  `${(r.generatorParameters / 1e6).toFixed(2)}M`,
  String(r.steps),
  r.epochs.toFixed(2),
  r.secondsPerStep.toFixed(3),
  r.medianSecondsPerStep.toFixed(3),
  pm(r.l1, 4),
  pm(r.ssim, 4),
  `${r.loadBefore[0]!.toFixed(2)}/${r.loadAfter[0]!.toFixed(2)}`,
]);
rows.push(['(mean train image)', '-', '-', '-', '-', '-', '-', pm(baseline.l1, 4), pm(baseline.ssim, 4), '-']);
const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
const line = (cells: string[]) =>
  cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
const valN = baseline.lesions;
const vggNote = vgg ? 'VGG loss on' : 'VGG loss off (no --vgg-weights)';
console.log(
  `\nImage quality after ${minutes} min of training per model (${size}x${size}, 'cpu' presets, batch 1, seed ${seed}, ${vggNote}; ` +
    `val: ${valN} lesions, mean ± std; L1 on [0, 1], SSIM: Gaussian 11x11, sigma 1.5, skimage's definition)`,
);
console.log(line(header));
console.log(widths.map((w) => '-'.repeat(w)).join('  '));
for (const r of rows) console.log(line(r));
if (outDir) console.log(`sample grids (label | real | generated): ${outDir}`);

if (args.out) {
  const file = path.resolve(args.out);
  mkdirSync(path.dirname(file), { recursive: true });
  const json = {
    benchmark: 'quality',
    created: new Date().toISOString(),
    data: root,
    cache: cacheDir,
    size,
    minutes,
    seed,
    batch: 1,
    preset: 'cpu',
    vggLoss: vgg !== null,
    cores: os.availableParallelism(),
    torchThreads: torch.getNumThreads(),
    table: { header, rows },
    results,
    baseline: { name: 'mean train image', ...baseline },
  };
  writeFileSync(file, JSON.stringify(json, null, 2) + '\n');
  console.log(`results: ${file}`);
}
