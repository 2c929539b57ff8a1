// The training loop: conditional GAN steps over a prepared cache, coarse to fine, with exact
// checkpoints, a NaN/Inf guard, sample grids, a JSONL log and a progress callback.
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import * as torch from '../torch/index.js';
import { F, type Tensor } from '../torch/index.js';
import * as nn from '../nn/index.js';
import type { LesionCache } from '../data/cache.js';
import { DataLoader, disposeBatch, type Batch } from '../data/loader.js';
import { buildModels, checkImageSize, isCoarseToFine, type BuiltModels } from '../models/registry.js';
import { listCheckpoints, loadCheckpoint, saveCheckpoint, type Checkpointable } from './checkpoint.js';
import { GanLosses } from './losses.js';
import type { TrainOptions } from './options.js';
import { RUN_CONFIG_VERSION, type RunConfig } from './run_config.js';
import { writeSampleGrid } from './sample_grid.js';
import { TrainLog, type LogEntry } from './train_log.js';

export type Stage = 'global' | 'local' | 'joint';

export interface StepInfo {
  step: number;
  totalSteps: number;
  epoch: number;
  stage: Stage;
  losses: Record<string, number>;
  skipped: string | null;
  /** Seconds of training so far (this run and the runs it resumes). */
  seconds: number;
}

export interface TrainHooks {
  onStep?: (s: StepInfo) => void;
  /** One-line notices (the VGG loss off, a skipped step, a checkpoint). */
  onNotice?: (message: string) => void;
  /** Polled after every step: true saves a checkpoint and returns (SIGINT, SIGTERM, tests). */
  shouldStop?: () => boolean;
}

export interface TrainResult {
  /** The step reached (steps done). */
  step: number;
  totalSteps: number;
  finished: boolean;
  lastCheckpoint: string | null;
  generatorFile: string | null;
}

export interface RunPaths {
  dir: string;
  config: string;
  log: string;
  checkpoints: string;
  samples: string;
  generator: string;
}

export function runPaths(dir: string): RunPaths {
  return {
    dir,
    config: path.join(dir, 'config.json'),
    log: path.join(dir, 'log.jsonl'),
    checkpoints: path.join(dir, 'checkpoints'),
    samples: path.join(dir, 'samples'),
    generator: path.join(dir, 'generator.safetensors'),
  };
}

export class Trainer {
  readonly models: BuiltModels;
  readonly losses: GanLosses;
  readonly loader: DataLoader;
  readonly optG: nn.optim.Adam;
  readonly optD: nn.optim.Adam;
  readonly stepsPerEpoch: number;
  readonly totalSteps: number;
  readonly stageEpochs: { global: number; local: number };
  private readonly schedG: nn.optim.LinearDecayLR;
  private readonly schedD: nn.optim.LinearDecayLR;
  private readonly log: TrainLog;
  private readonly sampleBatch: Batch;
  private step = 0;
  private nanStreak = 0;
  private seconds = 0;

  constructor(
    readonly paths: RunPaths,
    readonly options: TrainOptions,
    readonly cache: LesionCache,
    vgg: { call(x: Tensor): Tensor[] } | null,
    hooks: TrainHooks = {},
  ) {
    const o = options;
    torch.manualSeed(o.seed);
    const labelChannels = cache.spec.channels.length;
    this.models = buildModels(o.model, labelChannels, o.modelOverrides, o.preset);
    checkImageSize(o.model, this.models.options, o.width, o.height);
    const weights = { ...this.models.losses };
    if (weights.vgg > 0 && !vgg) {
      hooks.onNotice?.(`VGG perceptual loss off: no --vgg-weights given (the ${o.model} default weight is ${weights.vgg})`);
      weights.vgg = 0;
    }
    this.losses = new GanLosses(weights, weights.vgg > 0 ? vgg : null);
    const split = cache.indices('train').length > 0 ? 'train' : undefined;
    this.loader = new DataLoader(cache, { batchSize: o.batch, split, seed: o.seed, augment: o.augment, dropLast: true });
    this.stepsPerEpoch = this.loader.batchesPerEpoch;
    const epochs = o.epochs + o.decayEpochs;
    this.totalSteps = o.steps ?? epochs * this.stepsPerEpoch;
    const g = this.models.generator;
    const coarse = isCoarseToFine(g) && g.numLocalEnhancers > 0;
    const runEpochs = Math.max(1, Math.ceil(this.totalSteps / this.stepsPerEpoch));
    this.stageEpochs = {
      global: coarse ? (o.globalEpochs ?? Math.floor(runEpochs / 4)) : 0,
      local: coarse ? (o.fixGlobalEpochs ?? Math.floor(runEpochs / 10)) : 0,
    };
    const adam = { lr: o.lr, betas: [o.beta1, o.beta2] as [number, number] };
    // A coarse-to-fine generator's global generator has its own output head (used alone in the
    // 'global' stage only): the optimizer and the checkpoints hold it too.
    this.optG = new nn.optim.Adam([...new Set([...g.parameters(), ...(coarse ? g.globalGenerator.parameters() : [])])], adam);
    this.optD = new nn.optim.Adam(this.models.discriminator.parameters(), adam);
    this.schedG = new nn.optim.LinearDecayLR(this.optG, o.epochs, o.decayEpochs);
    this.schedD = new nn.optim.LinearDecayLR(this.optD, o.epochs, o.decayEpochs);
    this.log = new TrainLog(paths.log);
    // A fixed set of examples for the sample grids: the first of the val split (or of train).
    const val = cache.indices('val').length > 0 ? 'val' : split;
    const sampler = new DataLoader(cache, { batchSize: Math.min(4, cache.indices(val).length), split: val, shuffle: false, dropLast: false });
    this.sampleBatch = sampler.next();
  }

  /** Restores the newest valid checkpoint; returns its step (0 when there is none). */
  async resume(): Promise<number> {
    for (const c of await listCheckpoints(this.paths.checkpoints)) {
      const state = await loadCheckpoint(c.file, this.checkpointable());
      this.step = state.step;
      this.nanStreak = state.nanStreak;
      this.seconds = state.seconds;
      this.loader.restore(state.loader);
      this.syncSchedules();
      await TrainLog.truncateAfter(this.paths.log, this.step);
      return this.step;
    }
    return 0;
  }

  /** The run's config.json: resolved options, networks, data and schedule (written when a run starts). */
  runConfig(): RunConfig {
    const m = this.models;
    const cache = this.cache;
    return {
      format: 'dermosynth-run',
      version: RUN_CONFIG_VERSION,
      created: new Date().toISOString(),
      options: this.options,
      model: {
        generator: this.options.model,
        options: m.options as Record<string, unknown>,
        losses: { ...this.losses.config },
        parameters: { generator: m.generator.numParameters(), discriminator: m.discriminator.numParameters() },
      },
      data: {
        cache: cache.dir,
        size: [cache.width, cache.height],
        labelChannels: cache.spec.channels,
        classes: cache.spec.classes,
        train: cache.indices('train').length,
        val: cache.indices('val').length,
        test: cache.indices('test').length,
      },
      schedule: { stepsPerEpoch: this.stepsPerEpoch, totalSteps: this.totalSteps, globalEpochs: this.stageEpochs.global, fixGlobalEpochs: this.stageEpochs.local },
    };
  }

  get currentStep(): number {
    return this.step;
  }

  epochAt(step: number): number {
    return Math.floor(step / this.stepsPerEpoch);
  }

  stageAt(epoch: number): Stage {
    if (epoch < this.stageEpochs.global) return 'global';
    if (epoch < this.stageEpochs.global + this.stageEpochs.local) return 'local';
    return 'joint';
  }

  async run(hooks: TrainHooks = {}): Promise<TrainResult> {
    await mkdir(this.paths.checkpoints, { recursive: true });
    await mkdir(this.paths.samples, { recursive: true });
    let lastCheckpoint: string | null = null;
    const o = this.options;
    while (this.step < this.totalSteps) {
      const t0 = performance.now();
      const epoch = this.epochAt(this.step);
      const stage = this.stageAt(epoch);
      const { losses, skipped } = this.trainStep(stage);
      this.step++;
      const dt = (performance.now() - t0) / 1000;
      this.seconds += dt;
      const entry: LogEntry = { step: this.step, epoch, stage, lr: this.optG.lr, seconds: Number(dt.toFixed(4)), losses };
      if (skipped) {
        entry.skipped = skipped;
        hooks.onNotice?.(`step ${this.step}: skipped, ${skipped} (${this.nanStreak} in a row; the run stops after ${o.maxBadSteps})`);
      }
      this.log.add(entry);
      if (this.epochAt(this.step) !== epoch) this.syncSchedules();
      hooks.onStep?.({ step: this.step, totalSteps: this.totalSteps, epoch, stage, losses, skipped, seconds: this.seconds });
      if (this.nanStreak >= o.maxBadSteps) {
        await this.log.flush();
        throw new Error(`training stopped at step ${this.step}: ${this.nanStreak} steps in a row had a non-finite loss (see ${this.paths.log}); lower --lr or check the data`);
      }
      const done = this.step === this.totalSteps;
      const stop = !done && (hooks.shouldStop?.() ?? false);
      if (this.step % o.sampleEvery === 0 || done) await this.writeSamples(stage);
      if (this.step % o.checkpointEvery === 0 || done || stop) {
        lastCheckpoint = await this.checkpoint();
        hooks.onNotice?.(`checkpoint ${path.relative(this.paths.dir, lastCheckpoint)}`);
      }
      if (stop) return { step: this.step, totalSteps: this.totalSteps, finished: false, lastCheckpoint, generatorFile: null };
      // Let signals and other events in between steps.
      await new Promise((r) => setImmediate(r));
    }
    await nn.saveModule(this.paths.generator, this.models.generator);
    return { step: this.step, totalSteps: this.totalSteps, finished: true, lastCheckpoint, generatorFile: this.paths.generator };
  }

  async checkpoint(): Promise<string> {
    await this.log.flush();
    return saveCheckpoint(
      this.paths.checkpoints,
      this.checkpointable(),
      { step: this.step, loader: this.loader.state(), nanStreak: this.nanStreak, seconds: this.seconds },
      this.options.keepCheckpoints,
    );
  }

  private checkpointable(): Checkpointable {
    const g = this.models.generator;
    const modules: Checkpointable['modules'] = { G: g, D: this.models.discriminator };
    if (isCoarseToFine(g)) modules.Gglobal = g.globalGenerator;
    return { modules, optimizers: { optG: this.optG, optD: this.optD } };
  }

  dispose(): void {
    disposeBatch(this.sampleBatch);
    this.cache.close();
  }

  /** The learning rates of epoch `epochAt(step)` (schedules advance per epoch, as pix2pixHD). */
  private syncSchedules(): void {
    const epoch = this.epochAt(this.step);
    for (const s of [this.schedG, this.schedD]) {
      const state = s.stateDict();
      s.loadStateDict({ ...state, lastEpoch: epoch });
    }
  }

  /** The generator, its trainable parameters and the input scale for a stage. */
  private stagePlan(stage: Stage): { run: (label: Tensor) => Tensor; params: Tensor[]; scale: number } {
    const g = this.models.generator;
    if (stage !== 'joint' && isCoarseToFine(g)) {
      if (stage === 'global') return { run: (x) => g.globalGenerator.call(x), params: g.globalGenerator.parameters(), scale: 2 ** g.numLocalEnhancers };
      return { run: (x) => g.call(x), params: g.localParameters(), scale: 1 };
    }
    return { run: (x) => g.call(x), params: g.parameters(), scale: 1 };
  }

  /** One G and one D update (skipped when a loss is not finite). */
  private trainStep(stage: Stage): { losses: Record<string, number>; skipped: string | null } {
    const batch = this.loader.next();
    try {
      return torch.tidy(() => {
        const plan = this.stagePlan(stage);
        let { label, image: real } = batch;
        if (plan.scale > 1) {
          const size: [number, number] = [Math.round(real.shape[2]! / plan.scale), Math.round(real.shape[3]! / plan.scale)];
          label = F.interpolate(label, { size, mode: 'nearest' });
          real = F.interpolate(real, { size, mode: 'bilinear', antialias: true });
        }
        const D = this.models.discriminator;
        const fake = plan.run(label);
        // One D pass on the generated image serves both losses: the G loss back-propagates only
        // into G's parameters and the D loss only into D's (same updates as pix2pixHD's separate
        // pass on fake.detach(), one discriminator forward less).
        const predFake = D.call(torch.cat([label, fake], 1));
        const predReal = D.call(torch.cat([label, real], 1));
        const g = this.losses.generatorLoss({ predFake, predReal, fake, real });
        const d = this.losses.discriminatorLoss({ predReal, predFake });
        const losses = { ...g.parts, ...d.parts };
        const bad = Object.entries(losses).find(([, v]) => !Number.isFinite(v));
        if (bad) {
          this.nanStreak++;
          return { losses, skipped: `${bad[0]} is ${bad[1]}` };
        }
        this.nanStreak = 0;
        const dParams = D.parameters();
        this.optG.zeroGrad();
        this.optD.zeroGrad();
        g.total.backward(null, { inputs: plan.params, retainGraph: true });
        d.total.backward(null, { inputs: dParams });
        this.optG.step();
        this.optD.step();
        return { losses, skipped: null };
      });
    } finally {
      disposeBatch(batch);
    }
  }

  private async writeSamples(stage: Stage): Promise<void> {
    const b = this.sampleBatch;
    const g = this.models.generator;
    const fake = torch.tidy(() =>
      torch.noGrad(() => {
        g.eval();
        try {
          if (stage === 'global' && isCoarseToFine(g)) {
            const s = 2 ** g.numLocalEnhancers;
            return g.globalGenerator.call(F.interpolate(b.label, { size: [b.label.shape[2]! / s, b.label.shape[3]! / s], mode: 'nearest' }));
          }
          return g.call(b.label);
        } finally {
          g.train();
        }
      }),
    );
    try {
      await writeSampleGrid(path.join(this.paths.samples, `step-${String(this.step).padStart(8, '0')}.png`), { labelBytes: b.labelBytes, real: b.image, fake }, this.cache.spec);
    } finally {
      fake.dispose();
    }
  }
}

