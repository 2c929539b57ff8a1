// The classifier trainer: it overfits a tiny set, a stopped and resumed run ends with exactly the
// weights of an uninterrupted one, class-balanced sampling draws classes equally, and
// predictions are probabilities.
import { mkdtempSync, rmSync, existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as torch from '../../src/torch/index.js';
import { LesionCache } from '../../src/data/cache.js';
import { prepareCache } from '../../src/data/prepare.js';
import { readDataset } from '../../src/data/readers/index.js';
import { writeSampleDataset } from '../../src/data/sample_dataset.js';
import { LesionSet } from '../../src/data/lesion_set.js';
import {
  ClassifierTrainer,
  DEFAULT_CLASSIFIER_OPTIONS,
  predictProbabilities,
  type ClassifierTrainOptions,
} from '../../src/train/classifier_trainer.js';

const root = mkdtempSync(path.join(os.tmpdir(), 'dermosynth-cls-train-'));
let cache: LesionCache;

beforeAll(async () => {
  torch.setNumThreads(1);
  await writeSampleDataset(path.join(root, 'data'), { n: 12, seed: 3, size: 48 });
  await prepareCache(await readDataset(path.join(root, 'data')), path.join(root, 'cache'), {
    width: 32,
    height: 32,
    fit: 'crop',
    labelMap: { boundary: 0, frame: false },
    workers: 0,
  });
  cache = await LesionCache.open(path.join(root, 'cache'));
});
afterAll(() => {
  cache?.close();
  rmSync(root, { recursive: true, force: true });
});

const options = (o: Partial<ClassifierTrainOptions>): ClassifierTrainOptions => ({
  ...DEFAULT_CLASSIFIER_OPTIONS,
  model: 'resnet18',
  batch: 4,
  lr: 1e-3,
  weightDecay: 0,
  augment: 'none',
  ...o,
});

describe('ClassifierTrainer', () => {
  it('overfits 12 lesions: the loss falls and the training set is classified correctly', async () => {
    const set = new LesionSet([{ cache }]);
    expect(set.size).toBe(12);
    // Cosine decay to zero: with batch-norm statistics of 4 lesions and a constant rate, single
    // steps' losses jump between 0.01 and 2 until the end, and where a run ends depends on the
    // kernels' rounding (it differs between CPUs); a decayed rate lets it settle.
    const t = new ClassifierTrainer(path.join(root, 'overfit'), options({ epochs: 25, schedule: 'cosine' }), set);
    const notices = await t.start();
    expect(notices.join('\n')).toMatch(/resnet18: trained from scratch/);
    const losses: number[] = [];
    const r = await t.run({ onStep: (s) => losses.push(s.loss) });
    expect(r.finished).toBe(true);
    expect(r.step).toBe(75);
    const first = losses.slice(0, 3).reduce((a, b) => a + b) / 3;
    // At the start the loss is about ln 3 = 1.1 (three classes, no knowledge).
    expect(first).toBeGreaterThan(0.5);
    // Eval mode (running batch-norm statistics): every lesion gets its own diagnosis, with a mean
    // cross-entropy on the training set far below the start's.
    const probs = predictProbabilities(t.model, set, 5);
    expect(probs.length).toBe(12);
    for (const p of probs) expect(p.reduce((a, b) => a + b)).toBeCloseTo(1, 12);
    const predicted = probs.map((p) => p.indexOf(Math.max(...p)));
    expect(predicted).toEqual(set.labels);
    const crossEntropy = -probs.reduce((s, p, i) => s + Math.log(p[set.labels[i]!]!), 0) / probs.length;
    expect(crossEntropy).toBeLessThan(Math.min(0.3, first / 3));
    expect(existsSync(t.weightsFile)).toBe(true);
    t.dispose();
  });

  it('a stopped run resumed from its checkpoint ends with exactly the same weights', async () => {
    const set = new LesionSet([{ cache }]);
    const o = options({
      model: 'efficientnet_b0',
      epochs: 2,
      optimizer: 'sgd',
      lr: 0.01,
      augment: 'default',
      balanced: true,
      seed: 5,
    });
    const full = new ClassifierTrainer(path.join(root, 'full'), o, set);
    await full.start();
    await full.run();
    const stopped = new ClassifierTrainer(path.join(root, 'resumed'), o, set);
    await stopped.start();
    let n = 0;
    const r1 = await stopped.run({ shouldStop: () => ++n === 4 });
    expect(r1).toEqual({ finished: false, step: 4 });
    stopped.dispose();
    const resumed = new ClassifierTrainer(path.join(root, 'resumed'), o, set);
    expect((await resumed.start()).join('\n')).toMatch(/resuming at step 4 of 6/);
    const r2 = await resumed.run();
    expect(r2).toEqual({ finished: true, step: 6 });
    const a = full.model.stateDict();
    const b = resumed.model.stateDict();
    for (const [k, t] of a)
      expect(
        torch.tidy(() => t.sub(b.get(k)!).abs().max().item()),
        k,
      ).toBe(0);
    full.dispose();
    resumed.dispose();
  });

  it('class-balanced sampling draws each class about equally, deterministically per epoch', () => {
    const set = new LesionSet([{ cache }]);
    const t = new ClassifierTrainer(path.join(root, 'bal'), options({ balanced: true }), set);
    expect(t.epochOrder(3)).toEqual(t.epochOrder(3));
    expect(t.epochOrder(3)).not.toEqual(t.epochOrder(4));
    const counts = [0, 0, 0];
    for (let e = 0; e < 200; e++) for (const m of t.epochOrder(e)) counts[set.labels[m]!]!++;
    for (const c of counts) expect(Math.abs(c / 2400 - 1 / 3)).toBeLessThan(0.03);
    t.dispose();
    expect(() => new ClassifierTrainer(path.join(root, 'x'), options({ batch: 1 }), set)).toThrow(
      /--batch must be an integer >= 2/,
    );
    expect(() => new ClassifierTrainer(path.join(root, 'x'), options({ batch: 13 }), set)).toThrow(
      /12 training lesions, fewer than one batch of 13/,
    );
  });
});
