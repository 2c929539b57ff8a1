// The auxiliary networks of evaluate train until their score on the real val images stops
// improving: the record of every epoch's score, the stop rule, the best epoch's weights kept (they
// reproduce the recorded best score), and the cache (a second call trains nothing).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as torch from '../../src/torch/index.js';
import { LesionCache } from '../../src/data/cache.js';
import { prepareCache } from '../../src/data/prepare.js';
import { readDataset } from '../../src/data/readers/index.js';
import { writeSampleDataset } from '../../src/data/sample_dataset.js';
import { domainClassifier, lesionSegmenter, type AuxTraining } from '../../src/eval/aux_networks.js';
import { rocAuc } from '../../src/eval/auc.js';
import { segmentationScores } from '../../src/eval/segmentation.js';
import { lesionTargets } from '../../src/data/label_map.js';
import { LesionSet } from '../../src/data/lesion_set.js';
import { predictProbabilities } from '../../src/train/classifier_trainer.js';

let work = '';
let cache: LesionCache;

beforeAll(async () => {
  torch.setNumThreads(2);
  work = mkdtempSync(path.join(os.tmpdir(), 'dermosynth-aux-'));
  await writeSampleDataset(path.join(work, 'data'), { n: 48, seed: 3, size: 32 });
  await prepareCache(await readDataset(path.join(work, 'data')), path.join(work, 'cache'), {
    width: 32,
    height: 32,
    fit: 'crop',
    labelMap: { boundary: 0, frame: false },
  });
  cache = await LesionCache.open(path.join(work, 'cache'));
}, 120_000);

afterAll(() => {
  cache?.close();
  if (work) rmSync(work, { recursive: true, force: true });
});

/** The stop rule: the best is the first maximum; training ends at the cap or `patience` epochs after it. */
function expectStopRule(t: AuxTraining, cap: number, patience: number): void {
  expect(t.done).toBe(true);
  expect(t.history).toHaveLength(t.epochs);
  const first = t.history.findIndex((v) => v >= Math.max(...t.history) - 1e-4);
  expect(t.bestEpoch).toBe(first + 1);
  expect(t.best).toBe(t.history[first]);
  expect(t.epochs === cap || t.epochs - t.bestEpoch === patience).toBe(true);
  expect(t.epochs).toBeLessThanOrEqual(cap);
}

describe('auxiliary networks: early stopping on the real val images', () => {
  it('the classifier keeps its best epoch: its weights give the recorded mean AUC; a second call reuses them', async () => {
    const o = { dir: path.join(work, 'aux'), epochs: 5, patience: 2, seed: 0 };
    let steps = 0;
    const c = await domainClassifier(cache, { ...o, onProgress: () => steps++ });
    expect(steps).toBeGreaterThan(0);
    expectStopRule(c.training, 5, 2);
    expect(c.training.metric).toBe('mean AUC');
    expect(c.description).toMatch(
      new RegExp(
        `${c.training.epochs} epochs, best val mean AUC ${c.training.best!.toFixed(3)} at epoch ${c.training.bestEpoch}`,
      ),
    );
    // The kept weights score what was recorded (MEL and SK vs rest on the val split).
    const val = new LesionSet([{ cache, split: 'val' }]);
    const p = predictProbabilities(c.model, val, 16);
    const auc = [1, 2].map((k) =>
      rocAuc(
        p.map((r) => r[k]!),
        val.labels.map((l) => l === k),
      ),
    );
    expect((auc[0]! + auc[1]!) / 2).toBeCloseTo(c.training.best!, 9);
    let again = 0;
    const cached = await domainClassifier(cache, { ...o, onProgress: () => again++ });
    expect(again).toBe(0);
    expect(cached.sha256).toBe(c.sha256);
    expect(cached.training).toEqual(c.training);
  });

  it('the segmenter keeps its best epoch: its weights give the recorded Dice', async () => {
    const s = await lesionSegmenter(cache, { dir: path.join(work, 'aux'), epochs: 4, patience: 1, seed: 0 });
    expectStopRule(s.training, 4, 1);
    expect(s.training.metric).toBe('Dice');
    const val = new LesionSet([{ cache, split: 'val' }]);
    const members = Array.from({ length: val.size }, (_, i) => i);
    const { image, label } = val.read(members);
    const dice = torch.tidy(() =>
      torch.noGrad(() => {
        const x = torch.fromBytes(image, 'uint8', [val.size, 3, 32, 32]).to('float32').div(127.5).sub(1);
        const target = lesionTargets(torch.fromBytes(label, 'uint8', [val.size, 1, 32, 32]), cache.spec.classes.length);
        return segmentationScores(s.model.predict(x), target).dice;
      }),
    );
    expect(dice.reduce((a, v) => a + v, 0) / dice.length).toBeCloseTo(s.training.best!, 6);
  });
});
