// The trainer: an interrupted and resumed run ends with the same weights as one that ran through;
// checkpoints are complete safetensors files; non-finite losses are skipped then stop the run;
// mixed precision: bf16 autocast keeps float32 weights with losses close to fp32's, and the
// dynamic loss scaler skips overflowing steps, backs off, and resumes with its state exactly.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { mkdtempSync, rmSync, existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import * as torch from '../../src/torch/index.js';
import { LesionCache } from '../../src/data/cache.js';
import { Trainer, type TrainRuntime } from '../../src/train/trainer.js';
import { runPaths } from '../../src/run/layout.js';
import { DEFAULT_TRAIN_OPTIONS, type TrainOptions } from '../../src/run/options.js';
import { listCheckpoints } from '../../src/run/checkpoints.js';
import { TrainLog } from '../../src/run/log.js';
import { readRunConfig, writeRunConfig } from '../../src/run/config.js';
import { BF16_SKIP_REASON } from '../helpers/isa.js';
import { tinyCaches } from '../helpers/tiny_cache.js';

let work = '';
let cacheDir = '';
let cache64 = '';

beforeAll(async () => {
  work = mkdtempSync(path.join(os.tmpdir(), 'dermosynth-trainer-'));
  [cacheDir, cache64] = await tinyCaches(work, { n: 12, seed: 1, size: 64, boundary: 1, sizes: [32, 64] });
});

afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

/** A tiny proposed model so that a step takes milliseconds. */
function options(extra: Partial<TrainOptions> = {}): TrainOptions {
  return {
    ...DEFAULT_TRAIN_OPTIONS,
    data: cacheDir,
    width: 32,
    height: 32,
    boundary: 1,
    batch: 2,
    seed: 7,
    steps: 8,
    checkpointEvery: 100,
    sampleEvery: 100,
    augment: 'strong',
    modelOverrides: { ngf: 8, nDown: 2, nBlocks: 1, ndf: 8, numD: 2, nLayersD: 2 },
    ...extra,
  };
}

async function newTrainer(dir: string, o: TrainOptions, runtime: TrainRuntime = {}): Promise<Trainer> {
  return new Trainer(runPaths(dir), o, await LesionCache.open(o.data!), null, {}, runtime);
}

function weights(t: Trainer): Map<string, Float64Array> {
  const out = new Map<string, Float64Array>();
  for (const [prefix, m] of [
    ['G', t.models.generator],
    ['D', t.models.discriminator],
  ] as const) {
    for (const [k, v] of m.stateDict()) out.set(`${prefix}.${k}`, v.to('float64').data() as Float64Array);
  }
  return out;
}

function expectSameWeights(a: Map<string, Float64Array>, b: Map<string, Float64Array>): void {
  expect([...b.keys()]).toEqual([...a.keys()]);
  for (const [k, v] of a) {
    const w = b.get(k)!;
    let max = 0;
    for (let i = 0; i < v.length; i++) max = Math.max(max, Math.abs(v[i]! - w[i]!));
    expect(max, k).toBe(0);
  }
}

describe('resume', () => {
  for (const [name, extra, stopAt] of [
    ['proposed, strong augmentation, stopped mid-epoch', {}, 3],
    [
      'proposed with a local enhancer, stopped in the global stage',
      {
        modelOverrides: {
          ngf: 8,
          nDown: 1,
          nBlocks: 1,
          numLocalEnhancers: 1,
          nBlocksLocal: 1,
          ndf: 8,
          numD: 1,
          nLayersD: 2,
        },
        steps: 12,
        globalEpochs: 1,
        fixGlobalEpochs: 1,
      },
      2,
    ],
    // numDowns 6 has one decoder block with dropout, whose masks come from the torch RNG.
    [
      'pix2pix (dropout draws from the torch RNG)',
      {
        model: 'pix2pix' as const,
        width: 64,
        height: 64,
        modelOverrides: { ngf: 4, numDowns: 6, ndf: 4, nLayersD: 2 },
      },
      5,
    ],
  ] as [string, Partial<TrainOptions>, number][]) {
    it(`an interrupted run ends with the weights of an uninterrupted one: ${name}`, async () => {
      const o = options(extra);
      if (o.width === 64) o.data = cache64;
      const straight = await newTrainer(path.join(work, `straight-${stopAt}-${o.model}`), o);
      const r1 = await straight.run();
      expect(r1.finished).toBe(true);
      const expected = weights(straight);
      straight.dispose();

      const dir = path.join(work, `interrupted-${stopAt}-${o.model}`);
      const first = await newTrainer(dir, o);
      let steps = 0;
      const r2 = await first.run({ onStep: () => steps++, shouldStop: () => steps >= stopAt });
      expect(r2.finished).toBe(false);
      expect(r2.step).toBe(stopAt);
      first.dispose();

      const second = await newTrainer(dir, o);
      expect(await second.resume()).toBe(stopAt);
      const r3 = await second.run();
      expect(r3.finished).toBe(true);
      expectSameWeights(expected, weights(second));
      // The log has each step once, in order, as the uninterrupted run's.
      const log = await TrainLog.read(runPaths(dir).log);
      expect(log.map((e) => e.step)).toEqual(Array.from({ length: o.steps! }, (_, i) => i + 1));
      const straightLog = await TrainLog.read(runPaths(path.join(work, `straight-${stopAt}-${o.model}`)).log);
      expect(log.map((e) => e.losses)).toEqual(straightLog.map((e) => e.losses));
      second.dispose();
    });
  }
});

describe('learning-rate schedule', () => {
  const lrs = async (dir: string) => (await TrainLog.read(runPaths(dir).log)).map((e) => e.lr);
  it('with steps: constant for the first epochs/(epochs + decayEpochs) of them, then linear decay to zero, step by step', async () => {
    // 8 steps, 20 + 20 epochs: steps 1-5 at lr (the 5th starts at step 4, the last constant one), then 3/4, 1/2, 1/4.
    const o = options({ steps: 8 });
    const a = await newTrainer(path.join(work, 'lr-half'), o);
    expect(a.lrSchedule).toBe('per-step');
    expect(a.runConfig().schedule.lr).toBe('per-step');
    await a.run();
    a.dispose();
    expect(await lrs(path.join(work, 'lr-half'))).toEqual(
      [1, 1, 1, 1, 1, 0.75, 0.5, 0.25].map((f) => expect.closeTo(o.lr * f, 15)),
    );
    // 1 epoch at the full rate for 3 decaying: a quarter of the steps at lr, then down by 1/6 a step.
    const q = options({ steps: 8, epochs: 1, decayEpochs: 3 });
    const b = await newTrainer(path.join(work, 'lr-quarter'), q);
    await b.run();
    b.dispose();
    expect(await lrs(path.join(work, 'lr-quarter'))).toEqual(
      [1, 1, 1, 5 / 6, 4 / 6, 3 / 6, 2 / 6, 1 / 6].map((f) => expect.closeTo(q.lr * f, 15)),
    );
  });

  it('config.json with an unknown schedule.lr is refused, naming the file and the allowed values', async () => {
    const t = await newTrainer(path.join(work, 'lr-config'), options({ steps: 2 }));
    const file = path.join(work, 'lr-config-bad.json');
    const config = t.runConfig();
    t.dispose();
    await writeRunConfig(file, config);
    expect((await readRunConfig(file))!.schedule.lr).toBe('per-step');
    writeFileSync(file, JSON.stringify({ ...config, schedule: { ...config.schedule, lr: 'per-week' } }));
    await expect(readRunConfig(file)).rejects.toThrow(
      `${file}: schedule.lr is "per-week"; it must be one of 'per-epoch', 'per-step'`,
    );
  });

  it("'per-epoch' (a --steps run made before 'per-step' resumes so) keeps the rate for the first epochs", async () => {
    const o = options({ steps: 8 });
    const t = await newTrainer(path.join(work, 'lr-epochs'), o, { lrSchedule: 'per-epoch' });
    expect(t.runConfig().schedule.lr).toBe('per-epoch');
    await t.run();
    t.dispose();
    expect(await lrs(path.join(work, 'lr-epochs'))).toEqual(Array(8).fill(o.lr));
  });
});

describe('checkpoints', () => {
  it('hold both networks, both optimizers and the RNG, keep the last K, and round-trip', async () => {
    const dir = path.join(work, 'ckpt');
    const o = options({ steps: 6, checkpointEvery: 2, keepCheckpoints: 2 });
    const t = await newTrainer(dir, o);
    await t.run();
    const files = await listCheckpoints(runPaths(dir).checkpoints);
    expect(files.map((f) => f.step)).toEqual([6, 4]);
    const { tensors, metadata } = await torch.loadSafetensors(files[0]!.file);
    const names = [...tensors.keys()];
    for (const [k] of t.models.generator.stateDict()) expect(names).toContain(`G.${k}`);
    for (const [k] of t.models.discriminator.stateDict()) expect(names).toContain(`D.${k}`);
    expect(names.some((n) => n.startsWith('optG.state.') && n.endsWith('exp_avg'))).toBe(true);
    expect(names.some((n) => n.startsWith('optD.state.') && n.endsWith('exp_avg_sq'))).toBe(true);
    expect(names).toContain('rng.cpu');
    const state = JSON.parse(metadata['dermosynth.state']!);
    expect(state.step).toBe(6);
    expect(state.loader).toEqual(t.loader.state());
    // Loading the checkpoint into a fresh trainer restores identical weights.
    const fresh = await newTrainer(dir, o);
    expect(await fresh.resume()).toBe(6);
    expectSameWeights(weights(t), weights(fresh));
    torch.dispose([...tensors.values()]);
    t.dispose();
    fresh.dispose();
    // The run wrote sample grids and the generator weights.
    expect(readdirSync(runPaths(dir).samples)).toContain('step-00000006.png');
    expect(existsSync(runPaths(dir).generator)).toBe(true);
  });

  it('read back in Python PyTorch, tensor for tensor', async () => {
    const py = '/usr/bin/python3';
    const probe = spawnSync(py, ['-c', 'import torch'], { encoding: 'utf8' });
    if (probe.error || probe.status !== 0) return; // no Python PyTorch here: nothing to compare with
    const dir = path.join(work, 'ckpt');
    const file = (await listCheckpoints(runPaths(dir).checkpoints))[0]!.file;
    const reader = path.resolve(import.meta.dirname, '../fixtures/read_safetensors.py');
    const r = spawnSync(py, [reader, file], { encoding: 'utf8', maxBuffer: 1 << 26 });
    expect(r.status, r.stderr).toBe(0);
    const seen = JSON.parse(r.stdout) as Record<string, { dtype: string; shape: number[]; sum: number }>;
    const { tensors } = await torch.loadSafetensors(file);
    for (const [name, t] of tensors) {
      expect(seen[name]?.shape, name).toEqual(t.shape);
      if (t.dtype === 'float32') expect(seen[name]!.sum).toBeCloseTo(t.to('float64').sum().item(), 6);
    }
    torch.dispose([...tensors.values()]);
  });
});

describe('non-finite losses', () => {
  it('are skipped and logged, and the run stops after maxBadSteps in a row', async () => {
    const dir = path.join(work, 'nan');
    const t = await newTrainer(dir, options({ steps: 20, maxBadSteps: 3 }));
    // Poison the generator: every output, hence every loss, becomes NaN.
    torch.noGrad(() => t.models.generator.parameters()[0]!.fill_(Number.NaN));
    const notices: string[] = [];
    await expect(t.run({ onNotice: (m) => notices.push(m) })).rejects.toThrow(/3 steps in a row had a non-finite loss/);
    expect(notices.filter((n) => n.includes('skipped'))).toHaveLength(3);
    const log = await TrainLog.read(runPaths(dir).log);
    expect(log).toHaveLength(3);
    expect(log.every((e) => e.skipped && /NaN/.test(e.skipped))).toBe(true);
    t.dispose();
  });
});

function log(dir: string): { losses: Record<string, number>; lossScale?: number; skipped?: string }[] {
  return readFileSync(path.join(dir, 'log.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
}

function flatWeights(t: Trainer): Float64Array[] {
  return [...t.models.generator.stateDict().values(), ...t.models.discriminator.stateDict().values()].map(
    (v) => v.to('float64').data() as Float64Array,
  );
}

describe.skipIf(BF16_SKIP_REASON !== null)('bf16 autocast (CPU)', () => {
  it('trains with float32 weights and gradients, losses close to fp32', async () => {
    const runs: Record<string, ReturnType<typeof log>> = {};
    for (const precision of ['fp32', 'bf16'] as const) {
      const dir = path.join(work, `run-${precision}`);
      const t = await newTrainer(dir, options(), { precision });
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
    const t1 = await newTrainer(full, o, { lossScaling: scaling });
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
    const t2 = await newTrainer(part, o, { lossScaling: scaling });
    await t2.resume();
    let n = 0;
    await t2.run({ shouldStop: () => ++n >= 4 });
    t2.dispose();
    const ckpt = (await listCheckpoints(path.join(part, 'checkpoints')))[0]!;
    const state = JSON.parse((await torch.loadSafetensors(ckpt.file)).metadata['dermosynth.state']!);
    expect(state.scaler).toEqual({ scale: scales[3], growthTracker: expect.any(Number) });
    const t3 = await newTrainer(part, o, { lossScaling: scaling });
    expect(await t3.resume()).toBe(4);
    expect(t3.scaler.getScale()).toBe(scales[3]);
    await t3.run();
    const resumed = flatWeights(t3);
    t3.dispose();
    expect(log(part).map((e) => e.lossScale)).toEqual(scales);
    resumed.forEach((w, i) => expect(Array.from(w)).toEqual(Array.from(end[i]!)));
  }, 60_000);

  it('fp16 on a CPU is refused with a clear error', async () => {
    await expect(newTrainer(path.join(work, 'fp16'), options(), { precision: 'fp16' })).rejects.toThrow(
      /fp16 needs a CUDA device; use bf16/,
    );
  });
});
