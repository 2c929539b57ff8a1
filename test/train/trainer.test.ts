// The trainer: an interrupted and resumed run ends with the same weights as one that ran through;
// checkpoints are complete safetensors files; non-finite losses are skipped then stop the run.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { mkdtempSync, rmSync, existsSync, readdirSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import * as torch from '../../src/torch/index.js';
import { LesionCache } from '../../src/data/cache.js';
import { prepareCache } from '../../src/data/prepare.js';
import { readDataset } from '../../src/data/readers/index.js';
import { writeSampleDataset } from '../../src/data/sample_dataset.js';
import { Trainer, runPaths } from '../../src/train/trainer.js';
import { DEFAULT_TRAIN_OPTIONS, type TrainOptions } from '../../src/train/options.js';
import { listCheckpoints } from '../../src/train/checkpoint.js';
import { TrainLog } from '../../src/train/train_log.js';

let work = '';
let cacheDir = '';
let cache64 = '';

beforeAll(async () => {
  work = mkdtempSync(path.join(os.tmpdir(), 'dermosynth-trainer-'));
  await writeSampleDataset(path.join(work, 'data'), { n: 12, seed: 1, size: 64 });
  cacheDir = path.join(work, 'cache');
  const index = await readDataset(path.join(work, 'data'));
  await prepareCache(index, cacheDir, { width: 32, height: 32, fit: 'crop', labelMap: { boundary: 1, frame: false }, workers: 0 });
  cache64 = path.join(work, 'cache64');
  await prepareCache(index, cache64, { width: 64, height: 64, fit: 'crop', labelMap: { boundary: 1, frame: false }, workers: 0 });
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

async function newTrainer(dir: string, o: TrainOptions): Promise<Trainer> {
  return new Trainer(runPaths(dir), o, await LesionCache.open(o.data!), null);
}

function weights(t: Trainer): Map<string, Float64Array> {
  const out = new Map<string, Float64Array>();
  for (const [prefix, m] of [['G', t.models.generator], ['D', t.models.discriminator]] as const) {
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
    ['proposed with a local enhancer, stopped in the global stage', { modelOverrides: { ngf: 8, nDown: 1, nBlocks: 1, numLocalEnhancers: 1, nBlocksLocal: 1, ndf: 8, numD: 1, nLayersD: 2 }, steps: 12, globalEpochs: 1, fixGlobalEpochs: 1 }, 2],
    // numDowns 6 has one decoder block with dropout, whose masks come from the torch RNG.
    ['pix2pix (dropout draws from the torch RNG)', { model: 'pix2pix' as const, width: 64, height: 64, modelOverrides: { ngf: 4, numDowns: 6, ndf: 4, nLayersD: 2 } }, 5],
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
