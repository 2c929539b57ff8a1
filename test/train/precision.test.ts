// Mixed precision in the trainer: bf16 autocast trains with float32 master weights and losses close
// to fp32's; the dynamic loss scaler skips overflowing steps, backs off, and its state is in the
// checkpoint, so that a resumed run ends with the weights of an uninterrupted one.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { mkdtempSync, rmSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as torch from '../../src/torch/index.js';
import { LesionCache } from '../../src/data/cache.js';
import { prepareCache } from '../../src/data/prepare.js';
import { readDataset } from '../../src/data/readers/index.js';
import { writeSampleDataset } from '../../src/data/sample_dataset.js';
import { Trainer, runPaths, type TrainRuntime } from '../../src/train/trainer.js';
import { DEFAULT_TRAIN_OPTIONS, type TrainOptions } from '../../src/train/options.js';
import { listCheckpoints } from '../../src/train/checkpoint.js';

let work = '';
let cacheDir = '';

beforeAll(async () => {
  work = mkdtempSync(path.join(os.tmpdir(), 'dermosynth-precision-'));
  await writeSampleDataset(path.join(work, 'data'), { n: 8, seed: 3, size: 32 });
  cacheDir = path.join(work, 'cache');
  await prepareCache(await readDataset(path.join(work, 'data')), cacheDir, { width: 32, height: 32, fit: 'crop', labelMap: { boundary: 0, frame: false }, workers: 0 });
});

afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

function options(extra: Partial<TrainOptions> = {}): TrainOptions {
  return {
    ...DEFAULT_TRAIN_OPTIONS,
    data: cacheDir,
    width: 32,
    height: 32,
    batch: 2,
    seed: 5,
    steps: 6,
    checkpointEvery: 100,
    sampleEvery: 100,
    augment: 'none',
    modelOverrides: { ngf: 8, nDown: 2, nBlocks: 1, ndf: 8, numD: 1, nLayersD: 2 },
    ...extra,
  };
}

async function trainer(dir: string, o: TrainOptions, runtime: TrainRuntime): Promise<Trainer> {
  return new Trainer(runPaths(dir), o, await LesionCache.open(o.data!), null, {}, runtime);
}

function log(dir: string): { losses: Record<string, number>; lossScale?: number; skipped?: string }[] {
  return readFileSync(path.join(dir, 'log.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
}

function flatWeights(t: Trainer): Float64Array[] {
  return [...t.models.generator.stateDict().values(), ...t.models.discriminator.stateDict().values()].map((v) => v.to('float64').data() as Float64Array);
}

describe('bf16 autocast (CPU)', () => {
  it('trains with float32 weights and gradients, losses close to fp32', async () => {
    const runs: Record<string, ReturnType<typeof log>> = {};
    for (const precision of ['fp32', 'bf16'] as const) {
      const dir = path.join(work, `run-${precision}`);
      const t = await trainer(dir, options(), { precision });
      try {
        await t.resume();
        await t.run();
        for (const p of t.models.generator.parameters()) expect(p.dtype).toBe('float32');
        for (const p of t.models.discriminator.parameters()) expect(p.dtype).toBe('float32');
      } finally {
        t.dispose();
      }
      runs[precision] = log(dir);
    }
    // Same weights at the start: the first step's losses differ only by bf16 rounding.
    const a = runs.fp32![0]!.losses;
    const b = runs.bf16![0]!.losses;
    for (const k of ['G_GAN', 'G_GAN_Feat', 'D_real', 'D_fake']) {
      expect(Math.abs(a[k]! - b[k]!), k).toBeLessThan(0.05 * Math.abs(a[k]!) + 1e-3);
      expect(a[k], `${k} differs at all: autocast ran`).not.toBe(b[k]);
    }
  }, 60_000);
});

describe('dynamic loss scaling', () => {
  it('skips overflowing steps, backs off, and resumes with its state exactly', async () => {
    // A scale of 2^127 overflows float32 gradients: the first steps are skipped until it falls.
    const scaling = { initScale: 2 ** 127, growthInterval: 2 };
    const o = options({ steps: 10 });
    const full = path.join(work, 'scaled-full');
    const t1 = await trainer(full, o, { lossScaling: scaling });
    const before = flatWeights(t1);
    await t1.resume();
    await t1.run();
    const end = flatWeights(t1);
    t1.dispose();
    const entries = log(full);
    const scales = entries.map((e) => e.lossScale!);
    expect(scales[0]).toBe(2 ** 126);
    // Backs off while it overflows, then grows every growthInterval clean steps.
    const firstClean = scales.findIndex((s, i) => i > 0 && s >= scales[i - 1]!);
    expect(firstClean).toBeGreaterThan(0);
    expect(scales.slice(0, firstClean).every((s, i) => i === 0 || s === scales[i - 1]! / 2)).toBe(true);
    expect(Math.max(...scales.slice(firstClean))).toBeGreaterThan(scales[firstClean - 1]!);
    expect(end.some((w, i) => w.some((v, j) => v !== before[i]![j]))).toBe(true);

    // Stopped after 4 steps (mid back-off or growth), then resumed: identical end.
    const part = path.join(work, 'scaled-part');
    const t2 = await trainer(part, o, { lossScaling: scaling });
    await t2.resume();
    let n = 0;
    await t2.run({ shouldStop: () => ++n >= 4 });
    t2.dispose();
    const ckpt = (await listCheckpoints(path.join(part, 'checkpoints')))[0]!;
    const state = JSON.parse((await torch.loadSafetensors(ckpt.file)).metadata['dermosynth.state']!);
    expect(state.scaler).toEqual({ scale: scales[3], growthTracker: expect.any(Number) });
    const t3 = await trainer(part, o, { lossScaling: scaling });
    expect(await t3.resume()).toBe(4);
    expect(t3.scaler.getScale()).toBe(scales[3]);
    await t3.run();
    const resumed = flatWeights(t3);
    t3.dispose();
    expect(log(part).map((e) => e.lossScale)).toEqual(scales);
    resumed.forEach((w, i) => expect(Array.from(w)).toEqual(Array.from(end[i]!)));
  }, 60_000);

  it('fp16 on a CPU is refused with a clear error', async () => {
    await expect(trainer(path.join(work, 'fp16'), options(), { precision: 'fp16' })).rejects.toThrow(/fp16 needs a CUDA device; use bf16/);
  });
});
