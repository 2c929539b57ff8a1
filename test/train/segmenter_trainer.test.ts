// The lesion segmenter and its trainer: learns synthetic disks at 32x32 in a few dozen steps (Dice
// well above the all-lesion guess), trains through trainSegmenter on a prepared sample cache with
// the lesion targets from the label bytes, leaves SYN_ lesions out, saves and loads; the loss and
// the shapes; errors.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import * as torch from '../../src/torch/index.js';
import type { Tensor } from '../../src/torch/index.js';
import { Segmenter, loadSegmenter, saveSegmenter } from '../../src/models/segmenter.js';
import { lesionTargets } from '../../src/data/label_map.js';
import {
  lesionBatchSource,
  segmentationLoss,
  trainSegmenter,
  trainSegmenterSteps,
} from '../../src/train/segmenter_trainer.js';
import { segmentationScores } from '../../src/eval/segmentation.js';
import { Rng } from '../../src/data/random.js';
import { LesionCache } from '../../src/data/cache.js';
import { prepareCache } from '../../src/data/prepare.js';
import { readDataset } from '../../src/data/readers/index.js';
import { writeSampleDataset } from '../../src/data/sample_dataset.js';

let work = '';
beforeAll(async () => {
  work = await fs.mkdtemp(path.join(os.tmpdir(), 'dermosynth-seg-'));
});
afterAll(async () => {
  await fs.rm(work, { recursive: true, force: true });
});

/** n images [n, 3, s, s] in [-1, 1]: textured skin-like background, one darker disk (the lesion) of random centre and radius; masks [n, 1, s, s]. */
function disks(n: number, s: number, seed: number): { image: Tensor; target: Tensor } {
  const rng = new Rng(seed);
  const img = new Float32Array(n * 3 * s * s);
  const mask = new Float32Array(n * s * s);
  for (let k = 0; k < n; k++) {
    const cx = rng.uniform(8, s - 8);
    const cy = rng.uniform(8, s - 8);
    const r = rng.uniform(4, 9);
    const tone = [rng.uniform(0.3, 0.6), rng.uniform(0.0, 0.3), rng.uniform(-0.1, 0.2)];
    for (let i = 0; i < s; i++) {
      for (let j = 0; j < s; j++) {
        const inside = (i - cy) ** 2 + (j - cx) ** 2 <= r * r;
        mask[(k * s + i) * s + j] = inside ? 1 : 0;
        for (let c = 0; c < 3; c++) {
          const v = tone[c]! - (inside ? 0.5 : 0) + rng.uniform(-0.15, 0.15);
          img[((k * 3 + c) * s + i) * s + j] = Math.max(-1, Math.min(1, v));
        }
      }
    }
  }
  return { image: torch.tensor(img, { shape: [n, 3, s, s] }), target: torch.tensor(mask, { shape: [n, 1, s, s] }) };
}

describe('Segmenter', () => {
  it('maps [B, 3, H, W] to logits [B, 1, H, W]; sides must be multiples of 2^depth; parameter names', () => {
    torch.manualSeed(0);
    const seg = new Segmenter();
    torch.tidy(() => {
      expect(seg.call(torch.zeros([2, 3, 32, 40])).shape).toEqual([2, 1, 32, 40]);
      expect(seg.predict(torch.zeros([1, 3, 16, 16])).dtype).toBe('bool');
      expect(() => seg.call(torch.zeros([1, 3, 30, 32]))).toThrow(
        'Segmenter: image sides must be multiples of 8 (depth 3), got 32x30',
      );
    });
    const names = [...seg.stateDict().keys()];
    expect(names).toContain('inc.block.0.weight');
    expect(names).toContain('down3.block.4.running_var');
    expect(names).toContain('up1.up.weight');
    expect(names).toContain('outc.bias');
    // inc 2,800 + down 13,952 + 55,552 + 221,696 + up 143,680 + 36,000 + 9,040 + outc 17 (convs, biases, BN affine)
    expect(seg.numParameters()).toBe(482_737);
    expect(() => new Segmenter({ depth: 0 })).toThrow('Segmenter: depth must be an integer from 1 to 6, got 0');
  });

  it('learns synthetic disks at 32x32 in 40 steps: held-out Dice well above the all-lesion guess', () => {
    torch.manualSeed(1);
    const seg = new Segmenter({ base: 8, depth: 3 });
    let batch = 0;
    const log = trainSegmenterSteps(seg, () => disks(8, 32, 100 + batch++), { steps: 40, lr: 3e-3 });
    expect(log.length).toBe(40);
    const first = log.slice(0, 5).reduce((s, e) => s + e.loss, 0) / 5;
    const last = log.slice(-5).reduce((s, e) => s + e.loss, 0) / 5;
    expect(last).toBeLessThan(0.8 * first);
    const test = disks(16, 32, 999);
    const pred = seg.predict(test.image);
    const scores = segmentationScores(pred, test.target);
    const guess = segmentationScores(torch.onesLike(test.target), test.target);
    expect(scores.meanDice).toBeGreaterThan(0.9); // measured 0.99
    expect(scores.meanDice).toBeGreaterThan(guess.meanDice + 0.5); // the guess: 0.21
    torch.dispose([test.image, test.target, pred]);
  });
});

describe('segmentationLoss and lesionTargets', () => {
  it('BCE + (1 - soft Dice): a perfect confident prediction is ~0, the opposite is large', () => {
    torch.tidy(() => {
      const t = torch.tensor(Float32Array.from([1, 0, 0, 1]), { shape: [1, 1, 2, 2] });
      const good = segmentationLoss(t.mul(40).sub(20), t);
      expect(good.loss.item()).toBeLessThan(1e-6);
      expect(good.dice).toBeCloseTo(1, 6);
      const bad = segmentationLoss(t.mul(-40).add(20), t);
      expect(bad.bce).toBeGreaterThan(10);
      expect(bad.dice).toBeCloseTo(1 / 5, 5); // (0 + 1) / (2 + 2 + 1)
    });
  });

  it('lesion pixels are label classes 1..K, with or without the boundary bit; skin and frame are not', () => {
    torch.tidy(() => {
      // K = 3: 0 skin, 1..3 lesions, 4 frame; 128 + k: boundary-flagged.
      const bytes = torch.tensor(Uint8Array.from([0, 1, 2, 3, 4, 129, 131, 128]), { shape: [1, 1, 2, 4] });
      expect(lesionTargets(bytes, 3).toArray()).toEqual([0, 1, 1, 1, 0, 1, 1, 0]);
    });
  });
});

describe('trainSegmenter on a prepared cache', () => {
  it('trains on the real training lesions, seeded (same seed, same weights), saves and loads', async () => {
    const data = path.join(work, 'data');
    await writeSampleDataset(data, { n: 12, seed: 3, size: 64 });
    const cacheDir = path.join(work, 'cache');
    await prepareCache(await readDataset(data), cacheDir, {
      width: 32,
      height: 32,
      fit: 'crop',
      labelMap: { boundary: 1, frame: false },
      workers: 0,
    });
    const cache = await LesionCache.open(cacheDir);
    const out = path.join(work, 'seg.safetensors');
    const steps: number[] = [];
    const a = await trainSegmenter(cache, {
      steps: 4,
      batchSize: 2,
      seed: 5,
      model: { base: 4, depth: 2 },
      out,
      onStep: (s) => steps.push(s.step),
    });
    expect(steps).toEqual([1, 2, 3, 4]);
    expect(a.log.every((e) => Number.isFinite(e.loss) && e.dice > 0 && e.dice <= 1)).toBe(true);
    expect(a.model.training).toBe(false);
    const b = await trainSegmenter(cache, { steps: 4, batchSize: 2, seed: 5, model: { base: 4, depth: 2 } });
    expect(b.log.map((e) => e.loss)).toEqual(a.log.map((e) => e.loss));
    const loaded = await loadSegmenter(out);
    expect(loaded.config).toEqual({ base: 4, depth: 2 });
    torch.tidy(() => {
      const x = torch.rand([1, 3, 32, 32]).mul(2).sub(1);
      expect(
        loaded
          .call(x)
          .sub(torch.inferenceMode(() => a.model.eval().call(x)))
          .abs()
          .max()
          .item(),
      ).toBe(0);
    });
    await expect(trainSegmenter(cache, { steps: 1, batchSize: 500 })).rejects.toThrow(
      /trainSegmenter: batchSize 500 is larger than the \d+ real training lesions/,
    );
    await saveSegmenter(out, a.model);
    await torch.saveSafetensors(path.join(work, 'plain.safetensors'), a.model.stateDict());
    await expect(loadSegmenter(path.join(work, 'plain.safetensors'))).rejects.toThrow(
      'has no segmenter config in its metadata',
    );
    cache.close();
  });

  it('leaves synthetic (SYN_) lesions out: they do not count as training lesions and never reach a batch', async () => {
    // 6 sample lesions; 4 become SYN_ (train), the 2 real ones go to train and val.
    const data = path.join(work, 'data-syn');
    await writeSampleDataset(data, { n: 6, seed: 4, size: 64 });
    const labels = (await fs.readFile(path.join(data, 'labels.csv'), 'utf8')).trim().split('\n');
    const split = ['image_id,isic2017_split'];
    for (let i = 0; i < 6; i++) {
      const id = `SAMPLE_000${i}`;
      if (i < 4) {
        const syn = `SYN_000000${i + 1}`;
        await fs.rename(path.join(data, 'images', `${id}.jpg`), path.join(data, 'images', `${syn}.jpg`));
        await fs.rename(
          path.join(data, 'masks', `${id}_segmentation.png`),
          path.join(data, 'masks', `${syn}_segmentation.png`),
        );
        labels[i + 1] = labels[i + 1]!.replace(id, syn);
        split.push(`${syn},train`);
      } else {
        split.push(`${id},${i === 4 ? 'train' : 'val'}`);
      }
    }
    await fs.writeFile(path.join(data, 'labels.csv'), `${labels.join('\n')}\n`);
    await fs.writeFile(path.join(data, 'split.csv'), `${split.join('\n')}\n`);
    const cacheDir = path.join(work, 'cache-syn');
    await prepareCache(await readDataset(data), cacheDir, {
      width: 32,
      height: 32,
      fit: 'crop',
      labelMap: { boundary: 0, frame: false },
      workers: 0,
    });
    const cache = await LesionCache.open(cacheDir);
    expect(cache.indices('train').length).toBe(5);
    await expect(trainSegmenter(cache, { steps: 1, batchSize: 2 })).rejects.toThrow(
      /batchSize 2 is larger than the 1 real training lesions/,
    );
    // Every batch holds the one real training lesion only, with its mask as the target.
    const real = cache.indices('train').find((i) => cache.records[i]!.id === 'SAMPLE_0004')!;
    const img = new Uint8Array(3 * 32 * 32);
    const lab = new Uint8Array(32 * 32);
    cache.readInto(real, img, 0, lab, 0);
    const lesionPixels = lab.reduce((n, v) => n + ((v & 127) >= 1 && (v & 127) <= 3 ? 1 : 0), 0);
    expect(lesionPixels).toBeGreaterThan(0);
    const source = lesionBatchSource(cache, { batchSize: 1, augment: 'none' });
    expect(source.realLesions).toBe(1);
    for (let k = 0; k < 8; k++) {
      const { image, target, ids } = source.next();
      expect(ids).toEqual(['SAMPLE_0004']);
      expect(target.sum().item()).toBe(lesionPixels);
      torch.dispose([image, target]);
    }
    const { log } = await trainSegmenter(cache, { steps: 3, batchSize: 1, model: { base: 4, depth: 2 } });
    expect(log.length).toBe(3);
    cache.close();
  });
});
