// Trains an image classifier (src/models/classifiers) on prepared caches: softmax cross-entropy
// over the diagnoses (nevus / melanoma / seborrheic keratosis), optional class-balanced sampling,
// Adam or SGD with a cosine or constant learning rate, flips and quarter turns, all seeded. The
// batches of an epoch are a function of (seed, epoch) and the augmentation of (seed, epoch, step),
// and a checkpoint (written atomically by checkpoint.ts: weights, optimizer state, the libtorch
// RNG for dropout and stochastic depth, the step) is all a resume needs to end with exactly the
// weights of an uninterrupted run. Images come from the caches in [-1, 1]; the classifier maps
// them to ImageNet's normalisation itself.
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import * as torch from '../torch/index.js';
import { F } from '../torch/index.js';
import * as nn from '../nn/index.js';
import { augmentBatch, isIdentity, parseAugmentOptions, sampleBatchParams } from '../data/augment.js';
import type { LesionSet } from '../data/lesion_set.js';
import { Rng, permutation } from '../data/random.js';
import {
  buildClassifier,
  loadClassifierWeights,
  type ClassifierName,
  type ImageClassifier,
} from '../models/classifiers/index.js';
import { latestCheckpoint } from '../run/checkpoints.js';
import { loadCheckpoint, saveCheckpoint, type Checkpointable } from './checkpoint.js';

export interface ClassifierTrainOptions {
  model: ClassifierName;
  numClasses: number;
  epochs: number;
  batch: number;
  optimizer: 'adam' | 'sgd';
  lr: number;
  weightDecay: number;
  /** SGD momentum (Nesterov). */
  momentum: number;
  /** 'cosine': from lr to 0 over the run, per step; 'constant'. */
  schedule: 'cosine' | 'constant';
  /** Draw each epoch's examples with probability inversely proportional to their class's size. */
  balanced: boolean;
  /** Augmentation preset: none, default (flips, quarter turns) or strong. */
  augment: 'none' | 'default' | 'strong';
  seed: number;
  /** torchvision ImageNet weights as safetensors, or null to train from scratch. */
  weights: string | null;
}

export const DEFAULT_CLASSIFIER_OPTIONS: ClassifierTrainOptions = {
  model: 'resnet18',
  numClasses: 3,
  epochs: 20,
  batch: 32,
  optimizer: 'adam',
  lr: 1e-4,
  weightDecay: 1e-4,
  momentum: 0.9,
  schedule: 'cosine',
  balanced: false,
  augment: 'default',
  seed: 0,
  weights: null,
};

export interface ClassifierStep {
  step: number;
  totalSteps: number;
  epoch: number;
  loss: number;
  lr: number;
}

export interface ClassifierHooks {
  onStep?: (s: ClassifierStep) => void;
  onNotice?: (message: string) => void;
  /** Polled after every step: true saves a checkpoint and returns. */
  shouldStop?: () => boolean;
}

export class ClassifierTrainer {
  readonly model: ImageClassifier;
  readonly optimizer: nn.optim.Adam | nn.optim.SGD;
  readonly stepsPerEpoch: number;
  readonly totalSteps: number;
  private step = 0;
  private seconds = 0;
  private readonly augment;

  /** `dir` holds checkpoints/ and, when done, model.safetensors. */
  constructor(
    readonly dir: string,
    readonly options: ClassifierTrainOptions,
    readonly train: LesionSet,
  ) {
    const o = options;
    if (!Number.isInteger(o.batch) || o.batch < 2)
      throw new RangeError(
        `classifier training: --batch must be an integer >= 2 (batch norm needs two samples), got ${o.batch}`,
      );
    if (train.size < o.batch)
      throw new RangeError(
        `classifier training: ${train.size} training lesions, fewer than one batch of ${o.batch}; use a smaller batch`,
      );
    const counts = train.classCounts(o.numClasses);
    if (train.labels.some((l) => l < 0 || l >= o.numClasses))
      throw new RangeError(`classifier training: labels outside 0..${o.numClasses - 1}`);
    if (o.balanced && counts.some((c) => c === 0)) {
      throw new RangeError(
        `classifier training: class-balanced sampling needs every class in the training set, counts ${counts.join('/')}`,
      );
    }
    torch.manualSeed(o.seed);
    this.model = buildClassifier(o.model, { numClasses: o.numClasses });
    const params = this.model.parameters();
    this.optimizer =
      o.optimizer === 'sgd'
        ? new nn.optim.SGD(params, {
            lr: o.lr,
            momentum: o.momentum,
            nesterov: o.momentum > 0,
            weightDecay: o.weightDecay,
          })
        : new nn.optim.Adam(params, { lr: o.lr, weightDecay: o.weightDecay });
    this.stepsPerEpoch = Math.floor(train.size / o.batch);
    this.totalSteps = this.stepsPerEpoch * o.epochs;
    this.augment = parseAugmentOptions(o.augment);
  }

  get checkpoints(): string {
    return path.join(this.dir, 'checkpoints');
  }

  get weightsFile(): string {
    return path.join(this.dir, 'model.safetensors');
  }

  get currentStep(): number {
    return this.step;
  }

  /**
   * Loads the ImageNet weights (when given) and then the newest checkpoint, if any. Returns
   * one-line notices (weights used or not, head skipped, resumed step).
   */
  async start(): Promise<string[]> {
    const notices: string[] = [];
    if (this.options.weights) {
      const r = await loadClassifierWeights(this.model, this.options.weights);
      notices.push(`${this.options.model}: ImageNet weights from ${this.options.weights}`, ...r.notices);
    } else {
      notices.push(`${this.options.model}: trained from scratch (no ImageNet weights given)`);
    }
    const newest = await latestCheckpoint(this.checkpoints);
    if (newest) {
      const state = await loadCheckpoint(newest.file, this.checkpointable());
      this.step = state.step;
      this.seconds = state.seconds;
      notices.push(`${this.options.model}: resuming at step ${this.step} of ${this.totalSteps}`);
    }
    return notices;
  }

  private checkpointable(): Checkpointable {
    return { modules: { C: this.model }, optimizers: { opt: this.optimizer } };
  }

  /** The lesions (indices into the training set) of an epoch, in order. */
  epochOrder(epoch: number): number[] {
    const n = this.train.size;
    if (!this.options.balanced) return permutation(n, new Rng(this.options.seed, 0xc1a5, epoch));
    // With replacement, each lesion weighted by 1 / (its class's size): classes equally likely.
    const counts = this.train.classCounts(this.options.numClasses);
    const cumulative: number[] = [];
    let total = 0;
    for (const l of this.train.labels) cumulative.push((total += 1 / counts[l]!));
    const rng = new Rng(this.options.seed, 0xba1a, epoch);
    return Array.from({ length: n }, () => {
      const u = rng.random() * total;
      let lo = 0;
      let hi = n - 1;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if (cumulative[mid]! > u) hi = mid;
        else lo = mid + 1;
      }
      return lo;
    });
  }

  learningRate(step: number): number {
    if (this.options.schedule === 'constant') return this.options.lr;
    return this.options.lr * 0.5 * (1 + Math.cos((Math.PI * step) / Math.max(1, this.totalSteps)));
  }

  async run(hooks: ClassifierHooks = {}): Promise<{ finished: boolean; step: number }> {
    await mkdir(this.checkpoints, { recursive: true });
    const o = this.options;
    let order: number[] | null = null;
    let orderEpoch = -1;
    this.model.train();
    while (this.step < this.totalSteps) {
      const t0 = performance.now();
      const epoch = Math.floor(this.step / this.stepsPerEpoch);
      const k = this.step % this.stepsPerEpoch;
      if (epoch !== orderEpoch) {
        order = this.epochOrder(epoch);
        orderEpoch = epoch;
      }
      const members = order!.slice(k * o.batch, (k + 1) * o.batch);
      const lr = this.learningRate(this.step);
      for (const g of this.optimizer.groups) g.hyper.lr = lr;
      const loss = this.trainStep(members, epoch, k);
      this.step++;
      this.seconds += (performance.now() - t0) / 1000;
      hooks.onStep?.({ step: this.step, totalSteps: this.totalSteps, epoch, loss, lr });
      const done = this.step === this.totalSteps;
      const stop = !done && (hooks.shouldStop?.() ?? false);
      if (done || stop || this.step % this.stepsPerEpoch === 0) await this.checkpoint();
      if (stop) return { finished: false, step: this.step };
      await new Promise((r) => setImmediate(r));
    }
    await nn.saveModule(this.weightsFile, this.model, {
      'dermosynth.classifier': JSON.stringify({ model: o.model, numClasses: o.numClasses }),
    });
    return { finished: true, step: this.step };
  }

  private trainStep(members: number[], epoch: number, k: number): number {
    const { image, label } = this.train.read(members);
    const b = members.length;
    const H = this.train.height;
    const W = this.train.width;
    const params = sampleBatchParams(new Rng(this.options.seed, 0xa06c, epoch, k), this.augment, b, W === H);
    return torch.tidy(() => {
      let x = torch
        .fromBytes(image, 'uint8', [b, 3, H, W])
        .mul(1 / 127.5)
        .sub_(1);
      if (!params.every(isIdentity)) x = augmentBatch(x, torch.fromBytes(label, 'uint8', [b, 1, H, W]), params).image;
      const target = torch.tensor(
        members.map((m) => this.train.labels[m]!),
        { dtype: 'int64' },
      );
      const loss = F.crossEntropy(this.model.call(x), target);
      const value = loss.item();
      if (!Number.isFinite(value))
        throw new Error(
          `classifier training: the loss is ${value} at step ${this.step + 1}; lower the learning rate (--lr)`,
        );
      this.optimizer.zeroGrad();
      loss.backward();
      this.optimizer.step();
      return value;
    });
  }

  async checkpoint(): Promise<string> {
    return saveCheckpoint(
      this.checkpoints,
      this.checkpointable(),
      {
        step: this.step,
        loader: { epoch: Math.floor(this.step / Math.max(1, this.stepsPerEpoch)), position: 0 },
        nanStreak: 0,
        seconds: this.seconds,
      },
      1,
    );
  }

  dispose(): void {
    for (const [, t] of [...this.model.namedParameters(), ...this.model.namedBuffers()]) t.dispose();
  }
}

/** Softmax probabilities [N][classes] (float64) of a set's lesions, in eval mode, in batches. */
export function predictProbabilities(model: ImageClassifier, set: LesionSet, batch = 32): Float64Array[] {
  const out: Float64Array[] = [];
  const wasTraining = model.training;
  model.eval();
  try {
    for (let i = 0; i < set.size; i += batch) {
      const members = Array.from({ length: Math.min(batch, set.size - i) }, (_, k) => i + k);
      const p = torch.tidy(() =>
        torch.noGrad(() => {
          const x = set.images(members);
          return F.softmax(model.call(x).double(), 1);
        }),
      );
      const values = p.data() as Float64Array;
      const c = p.shape[1]!;
      for (let r = 0; r < members.length; r++) out.push(Float64Array.from(values.subarray(r * c, (r + 1) * c)));
      p.dispose();
    }
  } finally {
    model.train(wasTraining);
  }
  return out;
}
