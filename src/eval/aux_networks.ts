// The networks evaluation trains on the real training split, once per dataset and settings, and
// reuses (by a key of the cache's content and the settings): a lesion classifier (its penultimate
// features give "domain-FID/KID" when no Inception weights are given; its probabilities on
// generated images give the class-consistency AUC) and a lesion segmenter (Dice/IoU of its masks
// on generated images against the masks they were generated from).
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import * as torch from '../torch/index.js';
import * as nn from '../nn/index.js';
import type { LesionCache } from '../data/cache.js';
import { buildClassifier, type ClassifierName, type ImageClassifier } from '../models/classifiers/index.js';
import { loadSegmenter, type Segmenter } from '../models/segmenter.js';
import { ClassifierTrainer, DEFAULT_CLASSIFIER_OPTIONS, LesionSet } from '../train/classifier_trainer.js';
import { trainSegmenter } from '../train/segmenter_trainer.js';

export interface AuxProgress {
  what: string;
  step: number;
  totalSteps: number;
}

export interface AuxOptions {
  /** Folder of the trained networks (each in a sub-folder named by its key). */
  dir: string;
  epochs: number;
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
  return createHash('sha256').update(cacheContentKey(cache)).update(JSON.stringify(settings)).digest('hex').slice(0, 16);
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
  const key = auxKey(cache, { net: 'domain-classifier', ...options });
  const dir = path.join(o.dir, `classifier-${key}`);
  const description = `${DOMAIN_CLASSIFIER} trained ${o.epochs} epochs on the ${cache.width}x${cache.height} training split (class-balanced, seed ${o.seed})`;
  const trainer = new ClassifierTrainer(dir, options, new LesionSet([{ cache, split: 'train' }]));
  if (!existsSync(trainer.weightsFile)) {
    await mkdir(dir, { recursive: true });
    for (const n of await trainer.start()) o.onNotice?.(n);
    await trainer.run({ onStep: (s) => o.onProgress?.({ what: 'domain classifier', step: s.step, totalSteps: s.totalSteps }) });
  }
  trainer.dispose();
  const model = buildClassifier(DOMAIN_CLASSIFIER, { numClasses: options.numClasses });
  await nn.loadModule(trainer.weightsFile, model);
  model.eval();
  return { model, file: trainer.weightsFile, sha256: await sha256(trainer.weightsFile), description };
}

export async function sha256(file: string): Promise<string> {
  return createHash('sha256').update(await readFile(file)).digest('hex');
}

/** The U-Net lesion segmenter trained on the cache's real training split, or the saved one. */
export async function lesionSegmenter(cache: LesionCache, o: AuxOptions): Promise<AuxNetwork<Segmenter>> {
  const batchSize = 8;
  const steps = o.epochs * Math.ceil(cache.indices('train').length / batchSize);
  const key = auxKey(cache, { net: 'segmenter', steps, batchSize, seed: o.seed });
  const file = path.join(o.dir, `segmenter-${key}.safetensors`);
  const description = `U-Net segmenter trained ${steps} steps (${o.epochs} epochs) on the ${cache.width}x${cache.height} training split (seed ${o.seed})`;
  if (!existsSync(file)) {
    await mkdir(o.dir, { recursive: true });
    const { model } = await trainSegmenter(cache, { steps, batchSize, seed: o.seed, out: file, onStep: (s) => o.onProgress?.({ what: 'segmenter', step: s.step, totalSteps: s.steps }) });
    torch.dispose(model.stateDict());
  }
  const model = await loadSegmenter(file);
  model.eval();
  return { model, file, sha256: await sha256(file), description };
}
