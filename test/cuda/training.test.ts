// CUDA: the trainer on cuda:0 (skipped without CUDA; npm run test:cuda): one training step of each
// model against the same step on the CPU; bf16 and fp16 autocast steps with the loss scaler; the
// pinned-memory loader and the prefetching trainer (a checkpointed run resumes onto the same
// batches).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as torch from '../../src/torch/index.js';
import { LesionCache } from '../../src/data/cache.js';
import { DataLoader, disposeBatch } from '../../src/data/loader.js';
import { prepareCache } from '../../src/data/prepare.js';
import { readDataset } from '../../src/data/readers/index.js';
import { writeSampleDataset } from '../../src/data/sample_dataset.js';
import { Trainer, type TrainRuntime } from '../../src/train/trainer.js';
import { runPaths } from '../../src/run/layout.js';
import { DEFAULT_TRAIN_OPTIONS, type TrainOptions } from '../../src/run/options.js';
import { CUDA, GPU, TF32 } from './helpers.js';

let work = '';
let cache32 = '';
let cache64 = '';

beforeAll(async () => {
  if (!CUDA) return;
  work = mkdtempSync(path.join(os.tmpdir(), 'dermosynth-cuda-train-'));
  await writeSampleDataset(path.join(work, 'data'), { n: 12, seed: 1, size: 64 });
  const index = await readDataset(path.join(work, 'data'));
  cache32 = path.join(work, 'cache32');
  cache64 = path.join(work, 'cache64');
  await prepareCache(index, cache32, {
    width: 32,
    height: 32,
    fit: 'crop',
    labelMap: { boundary: 1, frame: false },
    workers: 0,
  });
  await prepareCache(index, cache64, {
    width: 64,
    height: 64,
    fit: 'crop',
    labelMap: { boundary: 1, frame: false },
    workers: 0,
  });
});
afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

const TINY: Record<string, Partial<TrainOptions>> = {
  proposed: { modelOverrides: { ngf: 8, nDown: 2, nBlocks: 1, ndf: 8, numD: 2, nLayersD: 2 } },
  pix2pixhd: { model: 'pix2pixhd', modelOverrides: { ngf: 8, nDown: 2, nBlocks: 1, ndf: 8, numD: 2, nLayersD: 2 } },
  pix2pix: { model: 'pix2pix', width: 64, height: 64, modelOverrides: { ngf: 4, numDowns: 6, ndf: 4, nLayersD: 2 } },
  spade: { model: 'spade', modelOverrides: { ngf: 4, spadeHidden: 8, ndf: 8, numD: 2, nLayersD: 2 } },
};

function options(extra: Partial<TrainOptions>): TrainOptions {
  const o: TrainOptions = {
    ...DEFAULT_TRAIN_OPTIONS,
    data: cache32,
    width: 32,
    height: 32,
    boundary: 1,
    batch: 2,
    seed: 7,
    steps: 1,
    checkpointEvery: 100,
    sampleEvery: 100,
    augment: 'default',
    ...extra,
  };
  if (o.width === 64) o.data = cache64;
  return o;
}

async function trainer(dir: string, o: TrainOptions, runtime: TrainRuntime): Promise<Trainer> {
  return new Trainer(runPaths(path.join(work, dir)), o, await LesionCache.open(o.data!), null, {}, runtime);
}

function log(dir: string): { step: number; losses: Record<string, number>; lossScale?: number; skipped?: string }[] {
  return readFileSync(path.join(work, dir, 'log.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
}

function weights(t: Trainer): Map<string, Float64Array> {
  const out = new Map<string, Float64Array>();
  for (const [prefix, m] of [
    ['G', t.models.generator],
    ['D', t.models.discriminator],
  ] as const) {
    for (const [k, v] of m.stateDict())
      if (v.dtype === 'float32') out.set(`${prefix}.${k}`, v.cpu().to('float64').data() as Float64Array);
  }
  return out;
}

describe.skipIf(!CUDA)('one training step on cuda:0 matches the CPU step', () => {
  for (const [name, extra] of Object.entries(TINY)) {
    it(name, async () => {
      const o = options(extra);
      const cpu = await trainer(`step-cpu-${name}`, o, { device: 'cpu' });
      const before = weights(cpu);
      await cpu.run();
      const gpu = await trainer(`step-gpu-${name}`, o, { device: GPU });
      // The same seed gives the same initial weights (drawn on the CPU, then moved).
      const gpuBefore = weights(gpu);
      for (const [k, v] of before) expect(gpuBefore.get(k), k).toEqual(v);
      await gpu.run();
      // The losses of the step (computed before its update) agree to TF32 rounding through the
      // networks: a few thousand products per output, each within 2^-10 relatively; 2% leaves room
      // for the LSGAN/feature-matching sums of those outputs.
      const [lc] = log(`step-cpu-${name}`);
      const [lg] = log(`step-gpu-${name}`);
      for (const [k, v] of Object.entries(lc!.losses))
        expect(Math.abs(lg!.losses[k]! - v), `${name}: loss ${k}`).toBeLessThanOrEqual(0.02 * Math.abs(v) + 1e-4);
      // Adam's first step moves every weight by lr * sign(gradient) (up to eps): the two updates
      // differ only where a gradient is so near zero that rounding flips its sign.
      const wc = weights(cpu);
      const wg = weights(gpu);
      let total = 0;
      let differing = 0;
      for (const [k, v] of wc) {
        const w = wg.get(k)!;
        for (let i = 0; i < v.length; i++) {
          total++;
          if (Math.abs(v[i]! - w[i]!) > o.lr / 2) differing++;
        }
      }
      expect(differing / total, `${name}: share of weights whose update differs`).toBeLessThan(0.02);
      cpu.dispose();
      gpu.dispose();
    });
  }
});

describe.skipIf(!CUDA)('mixed precision on cuda:0', () => {
  it('bf16 and fp16 autocast steps keep float32 weights, with losses close to fp32; fp16 scales the loss', async () => {
    const o = options({ ...TINY.proposed, steps: 4 });
    const runs: Record<string, ReturnType<typeof log>> = {};
    for (const precision of ['fp32', 'bf16', 'fp16'] as const) {
      const t = await trainer(`amp-${precision}`, o, { device: GPU, precision });
      const r = await t.run();
      expect(r.finished).toBe(true);
      for (const [, p] of t.models.generator.namedParameters()) expect(p.dtype).toBe('float32');
      t.dispose();
      runs[precision] = log(`amp-${precision}`);
    }
    // The first step's losses: bf16 keeps 8 significant bits (2^-8), fp16 11 (2^-11); through the
    // networks' sums 5% and 1% are generous, and equality would mean autocast never ran.
    for (const [precision, tol] of [
      ['bf16', 0.05],
      ['fp16', 0.01],
    ] as const) {
      for (const [k, v] of Object.entries(runs.fp32![0]!.losses)) {
        const w = runs[precision]![0]!.losses[k]!;
        expect(Math.abs(w - v), `${precision} ${k}`).toBeLessThanOrEqual(tol * Math.abs(v) + 1e-4);
      }
      expect(runs[precision]!.every((e) => Object.values(e.losses).every(Number.isFinite))).toBe(true);
    }
    // PyTorch's initial scale 2^16, halved only on an overflow, never grown within 2000 steps.
    for (const e of runs.fp16!) expect([65536, 32768, 16384]).toContain(e.lossScale);
    expect(runs.bf16!.every((e) => e.lossScale === undefined)).toBe(true);
  });

  it('fp16 with an overflowing initial scale backs off until the gradients are finite, then holds', async () => {
    // Gradients scaled by 2^30 overflow float16 (largest 65504): each such step is skipped and the
    // scale halved (the log holds the scale after the step), until it fits; growth waits 2000
    // clean steps, so it then holds.
    const o = options({ ...TINY.proposed, steps: 24 });
    const t = await trainer('amp-overflow', o, { device: GPU, precision: 'fp16', lossScaling: { initScale: 2 ** 30 } });
    await t.run();
    t.dispose();
    const scales = log('amp-overflow').map((e) => e.lossScale!);
    expect(scales[0]).toBe(2 ** 29);
    for (let i = 1; i < scales.length; i++) expect(scales[i]!).toBeLessThanOrEqual(scales[i - 1]!);
    expect(scales.at(-1)).toBe(scales.at(-2));
    expect(scales.at(-1)!).toBeGreaterThanOrEqual(1);
  });
});

describe.skipIf(!CUDA)('the loader and the prefetching trainer on cuda:0', () => {
  it("batches cross from pinned memory and equal the CPU loader's, across an epoch boundary", async () => {
    const cache = await LesionCache.open(cache32);
    const a = new DataLoader(cache, { batchSize: 5, seed: 3, augment: 'default', device: 'cpu' });
    const b = new DataLoader(cache, { batchSize: 5, seed: 3, augment: 'default', device: GPU });
    for (let i = 0; i < 5; i++) {
      const x = a.next();
      const y = b.next();
      expect(y.image.device).toBe(GPU);
      expect(y.label.device).toBe(GPU);
      expect(y.ids).toEqual(x.ids);
      // Flips and quarter turns move bytes: the same on both devices, exactly.
      expect(y.image.cpu().toArray()).toEqual(x.image.toArray());
      expect(y.labelBytes.cpu().toArray()).toEqual(x.labelBytes.toArray());
      disposeBatch(x);
      disposeBatch(y);
    }
    cache.close();
  });

  it('a run stopped at a checkpoint and resumed sees the batches of an uninterrupted run (the prefetched batch is not lost)', async () => {
    const o = options({ ...TINY.proposed, steps: 8, checkpointEvery: 3 });
    const straight = await trainer('prefetch-straight', o, { device: GPU });
    await straight.run();
    straight.dispose();
    const first = await trainer('prefetch-split', o, { device: GPU });
    let steps = 0;
    await first.run({ onStep: () => steps++, shouldStop: () => steps >= 3 });
    first.dispose();
    const second = await trainer('prefetch-split', o, { device: GPU });
    expect(await second.resume()).toBe(3);
    await second.run();
    second.dispose();
    const a = log('prefetch-straight');
    const b = log('prefetch-split');
    expect(b.map((e) => e.step)).toEqual(a.map((e) => e.step));
    // cuDNN's backward kernels sum in a nondeterministic order: the same batches give losses equal
    // to float32 noise amplified over a few steps, while a different batch would differ by far more.
    for (let i = 0; i < a.length; i++) {
      for (const [k, v] of Object.entries(a[i]!.losses))
        expect(Math.abs(b[i]!.losses[k]! - v), `step ${i + 1} ${k}`).toBeLessThanOrEqual(
          64 * TF32 * Math.abs(v) + 1e-4,
        );
    }
  });
});
