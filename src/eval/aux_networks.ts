// The networks evaluation trains on the real training split, once per dataset and settings, and
// reuses (by a key of the cache's content and the settings): a lesion classifier (its penultimate
// features give "domain-FID/KID" when no Inception weights are given; its probabilities on
// generated images give the class-consistency AUC) and a lesion segmenter (Dice/IoU of its masks
// on generated images against the masks they were generated from).
//
// Each trains until its score on the real images of the val split stops improving (the
// classifier's mean one-vs-rest AUC, the segmenter's Dice): up to `epochs` epochs, stopping after
// `patience` epochs without a better score, keeping the best epoch's weights. A network too weak to
// tell real lesions apart measures nothing; this is how evaluate knows (its score is reported).
// Without a val split (or one too small to score) they train the full `epochs`.
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import * as torch from '../torch/index.js';
import * as nn from '../nn/index.js';
import type { LesionCache } from '../data/cache.js';
import { lesionTargets } from '../data/label_map.js';
import { LesionSet } from '../data/lesion_set.js';
import { buildClassifier, type ClassifierName, type ImageClassifier } from '../models/classifiers/index.js';
import { loadSegmenter, saveSegmenter, Segmenter } from '../models/segmenter.js';
import { writeJsonAtomic } from '../util/atomic_file.js';
import { ClassifierTrainer, DEFAULT_CLASSIFIER_OPTIONS, predictProbabilities } from '../train/classifier_trainer.js';
import { lesionBatchSource, trainSegmenterSteps } from '../train/segmenter_trainer.js';
import { rocAuc } from './auc.js';
import { defaultTasks, scorableTasks } from './augment_results.js';
import { segmentationScores } from './segmentation.js';

export interface AuxProgress {
  what: string;
  step: number;
  totalSteps: number;
}

export interface AuxOptions {
  /** Folder of the trained networks (each in a sub-folder named by its key). */
  dir: string;
  /** The most epochs each network trains. */
  epochs: number;
  /** Epochs without a better val score before stopping (default AUX_PATIENCE). */
  patience?: number;
  seed: number;
  onProgress?: (p: AuxProgress) => void;
  onNotice?: (m: string) => void;
}

export interface AuxNetwork<M> {
  model: M;
  /** The weights file and its sha256 (the same for every run evaluated on the same data). */
  file: string;
  sha256: string;
  description: string;
  /** How it trained: epochs run, the best epoch and its val score (null without a val split to score on). */
  training: AuxTraining;
}

/** The record of an early-stopped training (aux.json next to the weights). */
export interface AuxTraining {
  /** What the val score is: 'mean AUC' or 'Dice'. */
  metric: string;
  epochs: number;
  bestEpoch: number;
  best: number | null;
  /** The val score after each epoch. */
  history: number[];
  done: boolean;
}

export const AUX_PATIENCE = 3;

/**
 * Trains epoch by epoch (`trainEpoch(e)` runs epoch e, 1-based), scoring after each one; keeps the
 * best epoch's weights with `saveBest`. Progress is kept in `file`, so a killed evaluation resumes.
 */
async function earlyStopped(
  file: string,
  metric: string,
  cap: number,
  patience: number,
  trainEpoch: (epoch: number) => Promise<void>,
  score: () => number | null,
  saveBest: () => Promise<void>,
): Promise<AuxTraining> {
  const t: AuxTraining = (await readJson<AuxTraining>(file)) ?? {
    metric,
    epochs: 0,
    bestEpoch: 0,
    best: null,
    history: [],
    done: false,
  };
  while (!t.done) {
    const epoch = t.epochs + 1;
    await trainEpoch(epoch);
    const v = score();
    t.epochs = epoch;
    if (v === null) {
      // Nothing to score on: train every epoch and keep the last.
      await saveBest();
      t.bestEpoch = epoch;
    } else {
      t.history.push(v);
      if (t.best === null || v > t.best + 1e-4) {
        t.best = v;
        t.bestEpoch = epoch;
        await saveBest();
      }
    }
    t.done = epoch >= cap || (v !== null && epoch - t.bestEpoch >= patience);
    await writeJsonAtomic(file, t);
  }
  return t;
}

async function readJson<T>(file: string): Promise<T | null> {
  try {
    return JSON.parse(await readFile(file, 'utf8')) as T;
  } catch {
    return null;
  }
}

function trainedFor(t: AuxTraining): string {
  return t.best === null
    ? `${t.epochs} epochs (no val split to stop on)`
    : `${t.epochs} epochs, best val ${t.metric} ${t.best.toFixed(3)} at epoch ${t.bestEpoch} (stopped ${t.epochs - t.bestEpoch} epochs later)`;
}

/** A key of a cache's content: its options, its shards' bytes, and every lesion's id, split and label. */
export function cacheContentKey(cache: LesionCache): string {
  const m = cache.manifest;
  const h = createHash('sha256').update(m.key);
  for (const s of m.shards) h.update(s.sha256);
  for (const r of m.records) h.update(`${r.id}\t${r.split}\t${r.label}\n`);
  return h.digest('hex');
}

/** A key for what a network is trained on: the cache's content, and the settings. */
export function auxKey(cache: LesionCache, settings: Record<string, unknown>): string {
  return createHash('sha256')
    .update(cacheContentKey(cache))
    .update(JSON.stringify(settings))
    .digest('hex')
    .slice(0, 16);
}

export const DOMAIN_CLASSIFIER: ClassifierName = 'resnet18';

/** A ResNet-18 trained on the cache's real training split (class-balanced), or the saved one. */
export async function domainClassifier(cache: LesionCache, o: AuxOptions): Promise<AuxNetwork<ImageClassifier>> {
  const options = {
    ...DEFAULT_CLASSIFIER_OPTIONS,
    model: DOMAIN_CLASSIFIER,
    numClasses: cache.spec.classes.length,
    epochs: o.epochs,
    batch: 16,
    lr: 1e-3,
    balanced: true,
    seed: o.seed,
  };
  const patience = o.patience ?? AUX_PATIENCE;
  const key = auxKey(cache, { net: 'domain-classifier', ...options, earlyStopping: { split: 'val', patience } });
  const dir = path.join(o.dir, `classifier-${key}`);
  const best = path.join(dir, 'best.safetensors');
  const record = path.join(dir, 'aux.json');
  await mkdir(dir, { recursive: true });
  let training = await readJson<AuxTraining>(record);
  if (!training?.done || !existsSync(best)) {
    const trainer = new ClassifierTrainer(dir, options, new LesionSet([{ cache, split: 'train' }]));
    try {
      for (const n of await trainer.start()) o.onNotice?.(n);
      const val = new LesionSet([{ cache, split: 'val' }]);
      const tasks =
        val.size > 0
          ? scorableTasks(defaultTasks(cache.spec.classes), cache.spec.classes, val.labels).map((t) =>
              cache.spec.classes.indexOf(t),
            )
          : [];
      training = await earlyStopped(
        record,
        'mean AUC',
        o.epochs,
        patience,
        async (epoch) => {
          await trainer.run({
            onStep: (s) => o.onProgress?.({ what: 'domain classifier', step: s.step, totalSteps: s.totalSteps }),
            shouldStop: () => trainer.currentStep >= epoch * trainer.stepsPerEpoch,
          });
        },
        () => (tasks.length === 0 ? null : meanAuc(predictProbabilities(trainer.model, val, 32), val.labels, tasks)),
        () =>
          nn.saveModule(best, trainer.model, {
            'dermosynth.classifier': JSON.stringify({ model: options.model, numClasses: options.numClasses }),
          }),
      );
    } finally {
      trainer.dispose();
    }
  }
  const description = `${DOMAIN_CLASSIFIER} on the ${cache.width}x${cache.height} training split (class-balanced, seed ${o.seed}), ${trainedFor(training)}`;
  const model = buildClassifier(DOMAIN_CLASSIFIER, { numClasses: options.numClasses });
  await nn.loadModule(best, model);
  model.eval();
  return { model, file: best, sha256: await sha256(best), description, training };
}

/** The mean of the one-vs-rest AUCs of classes `ks`. */
function meanAuc(probs: readonly Float64Array[], labels: readonly number[], ks: readonly number[]): number {
  return (
    ks.reduce(
      (s, k) =>
        s +
        rocAuc(
          probs.map((p) => p[k]!),
          labels.map((l) => l === k),
        ),
      0,
    ) / ks.length
  );
}

export async function sha256(file: string): Promise<string> {
  return createHash('sha256')
    .update(await readFile(file))
    .digest('hex');
}

/** The U-Net lesion segmenter trained on the cache's real training split, or the saved one. */
export async function lesionSegmenter(cache: LesionCache, o: AuxOptions): Promise<AuxNetwork<Segmenter>> {
  const batchSize = 8;
  const stepsPerEpoch = Math.ceil(cache.indices('train').length / batchSize);
  const patience = o.patience ?? AUX_PATIENCE;
  const key = auxKey(cache, {
    net: 'segmenter',
    epochs: o.epochs,
    stepsPerEpoch,
    batchSize,
    seed: o.seed,
    earlyStopping: { split: 'val', patience },
  });
  const file = path.join(o.dir, `segmenter-${key}.safetensors`);
  const record = path.join(o.dir, `segmenter-${key}.json`);
  await mkdir(o.dir, { recursive: true });
  let training = await readJson<AuxTraining>(record);
  if (!training?.done || !existsSync(file)) {
    // A killed run restarts this network from scratch (the optimizer state is not kept): it is small.
    await rm(record, { force: true });
    const source = lesionBatchSource(cache, { batchSize, seed: o.seed });
    torch.manualSeed(o.seed);
    const model = new Segmenter();
    const opt = new nn.optim.Adam(model.parameters(), { lr: 1e-3 });
    const val = new LesionSet([{ cache, split: 'val' }]);
    try {
      training = await earlyStopped(
        record,
        'Dice',
        o.epochs,
        patience,
        async (epoch) => {
          trainSegmenterSteps(model, () => source.next(), {
            steps: stepsPerEpoch,
            optimizer: opt,
            onStep: (s) =>
              o.onProgress?.({
                what: 'segmenter',
                step: (epoch - 1) * stepsPerEpoch + s.step,
                totalSteps: o.epochs * stepsPerEpoch,
              }),
          });
        },
        () => (val.size === 0 ? null : segmenterDice(model, val, cache.spec.classes.length)),
        () => saveSegmenter(file, model, { cache: cache.dir, seed: String(o.seed) }),
      );
    } finally {
      torch.dispose(model.stateDict());
    }
  }
  const description = `U-Net segmenter on the ${cache.width}x${cache.height} training split (seed ${o.seed}), ${trainedFor(training)}`;
  const model = await loadSegmenter(file);
  model.eval();
  return { model, file, sha256: await sha256(file), description, training };
}

/** Mean Dice of the segmenter's masks on a set's real images against their lesion masks. */
function segmenterDice(model: Segmenter, set: LesionSet, numDiagnoses: number): number {
  const dice: number[] = [];
  for (let i = 0; i < set.size; i += 16) {
    const batch = Array.from({ length: Math.min(16, set.size - i) }, (_, k) => i + k);
    const { image, label } = set.read(batch);
    const b = batch.length;
    torch.tidy(() =>
      torch.noGrad(() => {
        const x = torch.fromBytes(image, 'uint8', [b, 3, set.height, set.width]).to('float32').div(127.5).sub(1);
        const target = lesionTargets(torch.fromBytes(label, 'uint8', [b, 1, set.height, set.width]), numDiagnoses);
        dice.push(...segmentationScores(model.predict(x), target).dice);
      }),
    );
  }
  return dice.reduce((a, v) => a + v, 0) / dice.length;
}
