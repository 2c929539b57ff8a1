// --g-ema: the moving average of the generator's weights. It follows the recursion
// a_k = a_(k-1) + (1 - decay) (w_k - a_(k-1)) from the initial weights, leaves training untouched
// (the same weights and losses as a run without it: building the average draws nothing from the
// RNG), resumes exactly, is what the checkpoints' readers and generator.safetensors give, and
// starts from the generator when it is turned on for a run whose checkpoint has none.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { LesionCache } from '../../src/data/cache.js';
import type { Module } from '../../src/nn/index.js';
import { Trainer } from '../../src/train/trainer.js';
import { runPaths } from '../../src/run/layout.js';
import { DEFAULT_TRAIN_OPTIONS, parseTrainOptions, type TrainOptions } from '../../src/run/options.js';
import { listCheckpoints } from '../../src/run/checkpoints.js';
import { TrainLog } from '../../src/run/log.js';
import { writeRunConfig } from '../../src/run/config.js';
import { RunGenerator } from '../../src/synth/run_generator.js';
import { tinyCaches } from '../helpers/tiny_cache.js';

let work = '';
let cacheDir = '';
let cache64 = '';

beforeAll(async () => {
  work = mkdtempSync(path.join(os.tmpdir(), 'dermosynth-ema-'));
  [cacheDir, cache64] = await tinyCaches(work, { n: 10, seed: 3, size: 64, boundary: 0, sizes: [32, 64] });
});

afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

/** A tiny proposed model with a local enhancer (its stages change which weights train). */
function options(extra: Partial<TrainOptions> = {}): TrainOptions {
  return {
    ...DEFAULT_TRAIN_OPTIONS,
    data: cacheDir,
    width: 32,
    height: 32,
    batch: 2,
    seed: 11,
    steps: 9,
    globalEpochs: 1,
    fixGlobalEpochs: 1,
    checkpointEvery: 100,
    sampleEvery: 100,
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
    ...extra,
  };
}

async function newTrainer(dir: string, o: TrainOptions, notices: string[] = []): Promise<Trainer> {
  return new Trainer(runPaths(dir), o, await LesionCache.open(o.data!), null, { onNotice: (m) => notices.push(m) });
}

function snapshot(m: Module<any, any>): Map<string, Float64Array> {
  return new Map([...m.stateDict()].map(([k, v]) => [k, v.to('float64').data() as Float64Array]));
}

function maxDiff(a: Map<string, Float64Array>, b: Map<string, Float64Array>): number {
  expect([...b.keys()]).toEqual([...a.keys()]);
  let max = 0;
  for (const [k, v] of a) {
    const w = b.get(k)!;
    for (let i = 0; i < v.length; i++) max = Math.max(max, Math.abs(v[i]! - w[i]!));
  }
  return max;
}

describe('--g-ema', () => {
  it('follows the recursion from the initial weights and leaves training as it is without it', async () => {
    const decay = 0.6;
    const plain = await newTrainer(path.join(work, 'plain'), options());
    await plain.resume();
    await plain.run();
    const plainG = snapshot(plain.models.generator);
    const plainD = snapshot(plain.models.discriminator);
    plain.dispose();

    const t = await newTrainer(path.join(work, 'ema'), options({ gEma: decay }));
    await t.resume();
    const g = t.models.generator;
    // The reference average in float64, from the generator's weights after each step.
    let ref = snapshot(g);
    expect(maxDiff(ref, snapshot(t.ema!.average))).toBe(0);
    await t.run({
      onStep: () => {
        const w = snapshot(g);
        ref = new Map([...ref].map(([k, a]) => [k, a.map((v, i) => v + (1 - decay) * (w.get(k)![i]! - v))]));
      },
    });
    // Each float32 lerp rounds once (relative 6e-8 of the value): 9 steps stay far below 1e-5.
    const got = snapshot(t.ema!.average);
    let scale = 0;
    for (const v of ref.values()) for (const x of v) scale = Math.max(scale, Math.abs(x));
    expect(maxDiff(ref, got)).toBeLessThan(1e-5 * scale);
    // Not a copy of the trained weights: the average lags behind them.
    expect(maxDiff(snapshot(g), got)).toBeGreaterThan(1e-4 * scale);
    // Training itself is unchanged, to the bit.
    expect(maxDiff(plainG, snapshot(g))).toBe(0);
    expect(maxDiff(plainD, snapshot(t.models.discriminator))).toBe(0);
    const log = (await TrainLog.read(runPaths(path.join(work, 'ema')).log)).map((e) => e.losses);
    expect(log).toEqual((await TrainLog.read(runPaths(path.join(work, 'plain')).log)).map((e) => e.losses));

    // What readers get: generator.safetensors and the last checkpoint hold the average.
    const dir = path.join(work, 'ema');
    await writeRunConfig(runPaths(dir).config, t.runConfig());
    const ck = (await listCheckpoints(runPaths(dir).checkpoints))[0]!.file;
    for (const weights of [undefined, ck]) {
      const rg = await RunGenerator.load(dir, weights ? { weights } : {});
      try {
        expect(maxDiff(got, snapshot(rg.generator)), weights ?? 'generator.safetensors').toBe(0);
      } finally {
        rg.dispose();
      }
    }
    t.dispose();
  });

  it('pix2pix (batch norm, dropout): the average has its own statistics; training is unchanged', async () => {
    // numDowns 6: batch norm throughout and one decoder block with dropout (torch RNG).
    const o = (extra: Partial<TrainOptions> = {}) =>
      options({
        model: 'pix2pix',
        data: cache64,
        width: 64,
        height: 64,
        steps: 4,
        modelOverrides: { ngf: 4, numDowns: 6, ndf: 4, nLayersD: 2 },
        ...extra,
      });
    const plain = await newTrainer(path.join(work, 'pix2pix-plain'), o());
    await plain.resume();
    await plain.run();
    const plainG = snapshot(plain.models.generator);
    plain.dispose();
    const dir = path.join(work, 'pix2pix-ema');
    const t = await newTrainer(dir, o({ gEma: 0.5 }));
    await t.resume();
    await t.run();
    expect(t.ema!.hasRunningStats).toBe(true);
    // Refreshing the average's statistics drew nothing from the RNG: the same training, to the bit.
    expect(maxDiff(plainG, snapshot(t.models.generator))).toBe(0);
    const g = snapshot(t.models.generator);
    const avg = snapshot(t.ema!.average);
    const stats = [...g.keys()].filter((k) => k.endsWith('running_mean') || k.endsWith('running_var'));
    expect(stats.length).toBeGreaterThan(5);
    for (const k of stats) expect(avg.get(k), `${k}: the average's own, not a copy`).not.toEqual(g.get(k));
    // What readers get (generator.safetensors) is the average with its statistics.
    await writeRunConfig(runPaths(dir).config, t.runConfig());
    const rg = await RunGenerator.load(dir);
    try {
      expect(maxDiff(avg, snapshot(rg.generator))).toBe(0);
    } finally {
      rg.dispose();
    }
    t.dispose();
  });

  it('an interrupted run ends with the average of an uninterrupted one', async () => {
    const o = options({ gEma: 0.7 });
    const straight = await newTrainer(path.join(work, 'straight'), o);
    await straight.resume();
    await straight.run();
    const expected = snapshot(straight.ema!.average);
    const expectedG = snapshot(straight.models.generator);
    straight.dispose();

    const dir = path.join(work, 'interrupted');
    const first = await newTrainer(dir, o);
    await first.resume();
    let steps = 0;
    await first.run({ onStep: () => steps++, shouldStop: () => steps >= 4 });
    first.dispose();
    const second = await newTrainer(dir, o);
    expect(await second.resume()).toBe(4);
    await second.run();
    expect(maxDiff(expected, snapshot(second.ema!.average))).toBe(0);
    expect(maxDiff(expectedG, snapshot(second.models.generator))).toBe(0);
    second.dispose();
  });

  it("turned on for a run whose checkpoint has none: the average starts from that step's generator, saying so", async () => {
    const dir = path.join(work, 'late');
    const first = await newTrainer(dir, options());
    await first.resume();
    let steps = 0;
    await first.run({ onStep: () => steps++, shouldStop: () => steps >= 5 });
    const atStop = snapshot(first.models.generator);
    first.dispose();
    const notices: string[] = [];
    const second = await newTrainer(dir, options({ gEma: 0.9 }), notices);
    expect(await second.resume()).toBe(5);
    expect(notices.filter((m) => m.startsWith('--g-ema'))).toEqual([
      '--g-ema 0.9: the checkpoint has no weight average; it starts from the generator at step 5',
    ]);
    expect(maxDiff(atStop, snapshot(second.ema!.average))).toBe(0);
    second.dispose();
  });

  it('a decay outside [0, 1) is refused naming the option', async () => {
    await expect(newTrainer(path.join(work, 'bad'), options({ gEma: 1 }))).rejects.toThrow(
      /weight average: decay 1 must be in \(0, 1\)/,
    );
    expect(() => parseTrainOptions(options({ gEma: 1 }))).toThrow(/training option 'gEma'/);
  });
});
