// Trains the lesion segmenter (src/models/segmenter.ts) that the semantic-consistency metric uses:
// on the real lesions of a prepared cache's training split (synthetic SYN_ lesions are left out of
// every batch: the segmenter judges generated images, so it must not learn from them), with
// augmentation, BCE-with-logits + soft Dice loss, Adam, everything seeded.
//
// Target: a pixel is lesion when its label class (bits 0-6 of the label byte, src/data/label_map.ts)
// is 1..K, K the cache's number of diagnoses (skin 0 and the frame class K + 1 are background).
// Loss: BCE(logits, target) + diceWeight * (1 - soft Dice), the soft Dice per image
// (2 sum(p t) + 1) / (sum p + sum t + 1) with p = sigmoid(logits), averaged over the batch.
//
//   const { model, log } = await trainSegmenter(cache, { steps: 500, batchSize: 8, seed: 0, out: 'seg.safetensors' })
//   model.predict(images)   // bool lesion masks; score with src/eval/segmentation.ts
//
//   trainSegmenterSteps(model, nextBatch, o)   the loop itself, on any source of { image, target } batches
//   lesionBatchSource(cache, { batchSize, seed?, augment?, device? })   the real training lesions' batches
import * as torch from '../torch/index.js';
import { F, type Device, type Tensor } from '../torch/index.js';
import * as nn from '../nn/index.js';
import type { LesionCache } from '../data/cache.js';
import { isSyntheticId } from '../data/dataset.js';
import { DataLoader, disposeBatch } from '../data/loader.js';
import { lesionTargets } from '../data/label_map.js';
import { Segmenter, saveSegmenter, type SegmenterConfig } from '../models/segmenter.js';

export interface SegmenterTrainOptions {
  /** Optimizer steps; default 500. */
  steps?: number;
  /** Default 8. */
  batchSize?: number;
  /** Adam learning rate (betas 0.9, 0.999); default 1e-3. */
  lr?: number;
  /** Seeds the weights, the batch order and the augmentation; default 0. */
  seed?: number;
  /** DataLoader augmentation preset or options; default 'default' (flips and quarter turns). */
  augment?: string;
  /** Weight of the soft Dice loss next to BCE; default 1. */
  diceWeight?: number;
  model?: SegmenterConfig;
  device?: Device;
  /** Writes the trained segmenter here (saveSegmenter) when given. */
  out?: string;
  onStep?: (s: SegmenterStep) => void;
}

export interface SegmenterStep {
  step: number;
  steps: number;
  loss: number;
  bce: number;
  dice: number;
}

export interface SegmenterTrainResult {
  model: Segmenter;
  log: SegmenterStep[];
}

/** BCE-with-logits + diceWeight (1 - soft Dice per image, averaged): { loss (a tensor), bce, dice }. */
export function segmentationLoss(
  logits: Tensor,
  target: Tensor,
  diceWeight = 1,
): { loss: Tensor; bce: number; dice: number } {
  return torch.tidy(() => {
    const bce = F.binaryCrossEntropyWithLogits(logits, target);
    const p = logits.sigmoid().flatten(1);
    const t = target.flatten(1);
    const soft = p
      .mul(t)
      .sum(1)
      .mul(2)
      .add(1)
      .div(p.sum(1).add(t.sum(1)).add(1))
      .mean();
    const loss = bce.add(soft.rsub(1).mul(diceWeight));
    return { loss, bce: bce.item(), dice: soft.item() };
  });
}

function positive(name: string, v: number, integer: boolean): number {
  if (!(Number.isFinite(v) && v > 0 && (!integer || Number.isInteger(v)))) {
    throw new RangeError(`trainSegmenter: ${name} must be a positive ${integer ? 'integer' : 'number'}, got ${v}`);
  }
  return v;
}

/**
 * The training loop on any batch source: `nextBatch()` gives { image [B, 3, H, W] in [-1, 1],
 * target [B, 1, H, W] 0/1 } (both disposed here after the step). Adam, seeded by the caller.
 */
export function trainSegmenterSteps(
  model: Segmenter,
  nextBatch: () => { image: Tensor; target: Tensor },
  o: {
    steps: number;
    lr?: number;
    diceWeight?: number;
    onStep?: (s: SegmenterStep) => void;
    optimizer?: nn.optim.Adam;
  },
): SegmenterStep[] {
  const steps = positive('steps', o.steps, true);
  const lr = positive('lr', o.lr ?? 1e-3, false);
  const diceWeight = o.diceWeight ?? 1;
  if (!(Number.isFinite(diceWeight) && diceWeight >= 0))
    throw new RangeError(`trainSegmenter: diceWeight must be a non-negative number, got ${diceWeight}`);
  // A caller that trains in several calls (epoch by epoch) passes its optimizer to keep its state.
  const opt = o.optimizer ?? new nn.optim.Adam(model.parameters(), { lr });
  const log: SegmenterStep[] = [];
  model.train();
  for (let step = 1; step <= steps; step++) {
    const { image, target } = nextBatch();
    const entry = torch.tidy(() => {
      const { loss, bce, dice } = segmentationLoss(model.call(image), target, diceWeight);
      opt.zeroGrad();
      loss.backward();
      opt.step();
      return { step, steps, loss: loss.item(), bce, dice };
    });
    torch.dispose([image, target]);
    if (!Number.isFinite(entry.loss))
      throw new Error(`trainSegmenter: the loss is ${entry.loss} at step ${step}; lower lr (${lr})`);
    log.push(entry);
    o.onStep?.(entry);
  }
  model.eval();
  return log;
}

/** Options of the batch source: the DataLoader's, on the training split. */
export interface LesionBatchOptions {
  batchSize: number;
  seed?: number;
  augment?: string;
  device?: Device;
}

/**
 * Batches of the real (non-SYN_) lesions of `cache`'s training split, with lesion targets: a
 * DataLoader over the training split whose synthetic rows are dropped from each batch (a batch of
 * synthetic lesions only is skipped). `next()` gives { image, target, ids }; dispose image and target.
 */
export function lesionBatchSource(
  cache: LesionCache,
  o: LesionBatchOptions,
): { next(): { image: Tensor; target: Tensor; ids: string[] }; realLesions: number } {
  const batchSize = positive('batchSize', o.batchSize, true);
  const numDiagnoses = cache.spec.classes.length;
  if (!cache.hasMasks)
    throw new RangeError(
      `trainSegmenter: ${cache.dir} was made from a dataset without segmentation masks; a segmenter learns from masks`,
    );
  const real = cache.indices('train').filter((i) => !isSyntheticId(cache.records[i]!.id));
  if (real.length === 0)
    throw new RangeError(`trainSegmenter: ${cache.dir} has no real (non-SYN_) lesion in its training split`);
  if (real.length < batchSize)
    throw new RangeError(
      `trainSegmenter: batchSize ${batchSize} is larger than the ${real.length} real training lesions of ${cache.dir}; use a smaller batch`,
    );
  const device = o.device ?? 'cpu';
  const loader = new DataLoader(cache, {
    batchSize,
    split: 'train',
    seed: o.seed ?? 0,
    augment: o.augment ?? 'default',
    device,
  });
  const next = (): { image: Tensor; target: Tensor; ids: string[] } => {
    for (;;) {
      const b = loader.next();
      const keep = b.ids.flatMap((id, i) => (isSyntheticId(id) ? [] : [i]));
      if (keep.length === 0) {
        disposeBatch(b);
        continue;
      }
      const out = torch.tidy(() => {
        const idx = torch.tensor(Int32Array.from(keep), { dtype: 'int64', device });
        const pick = (t: Tensor): Tensor => (keep.length === b.ids.length ? t.clone() : t.indexSelect(0, idx));
        return { image: pick(b.image), target: lesionTargets(pick(b.labelBytes), numDiagnoses) };
      });
      const ids = keep.map((i) => b.ids[i]!);
      disposeBatch(b);
      return { ...out, ids };
    }
  };
  return { next, realLesions: real.length };
}

/** Trains a new segmenter on the real lesions of `cache`'s training split (see the header). */
export async function trainSegmenter(cache: LesionCache, o: SegmenterTrainOptions = {}): Promise<SegmenterTrainResult> {
  const seed = o.seed ?? 0;
  const device = o.device ?? 'cpu';
  const source = lesionBatchSource(cache, { batchSize: o.batchSize ?? 8, seed, augment: o.augment, device });
  torch.manualSeed(seed);
  const model = new Segmenter(o.model).to(device);
  const log = trainSegmenterSteps(model, () => source.next(), {
    steps: o.steps ?? 500,
    lr: o.lr,
    diceWeight: o.diceWeight,
    onStep: o.onStep,
  });
  if (o.out) await saveSegmenter(o.out, model, { cache: cache.dir, steps: String(log.length), seed: String(seed) });
  return { model, log };
}
