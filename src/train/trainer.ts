// The training loop: conditional GAN steps over a prepared cache, coarse to fine, with exact
// checkpoints, a NaN/Inf guard, sample grids, a JSONL log and a progress callback.
//
// Data parallel (runtime.dist): every worker holds a replica, loads its part of each global
// batch, and all-reduces gradients in buckets during backward; the loss values and the decisions
// to skip a step or stop are agreed on every step. Rank 0 alone writes the log, samples and
// checkpoints; on resume it reads the checkpoint and shares it, so any number of processes can
// continue a run (the global batch, and so the training, stays the same).
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import * as torch from '../torch/index.js';
import { F, type Tensor } from '../torch/index.js';
import * as nn from '../nn/index.js';
import type { GradientReducer } from '../torch/distributed.js';
import type { LesionCache } from '../data/cache.js';
import { DataLoader, disposeBatch, type Batch } from '../data/loader.js';
import { buildGenerator, buildModels, checkImageSize, isCoarseToFine, type BuiltModels } from '../models/registry.js';
import { latestCheckpoint } from '../run/checkpoints.js';
import { RUN_CONFIG_FORMAT, RUN_CONFIG_VERSION, perStepDecay, type LrSchedule, type RunConfig } from '../run/config.js';
import { sampleGridFile, type RunPaths } from '../run/layout.js';
import { TrainLog, type LogEntry } from '../run/log.js';
import type { TrainOptions } from '../run/options.js';
import {
  loadModuleTensors,
  moduleTensors,
  restoreCheckpoint,
  saveCheckpoint,
  type Checkpointable,
  type RestoredState,
  type TrainState,
} from './checkpoint.js';
import { anyRank, meanOverRanks, shareFromRankZero, type DataParallel, type SharedState } from './data_parallel.js';
import { GanLosses } from './losses.js';
import { writeSampleGrid } from '../data/sample_grid.js';
import { WeightAverage } from './weight_average.js';

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

/** Where and how a run trains (not part of the run's options: a run may resume elsewhere). */
export interface TrainRuntime {
  /** Default cpu. With dist, this worker's device. */
  device?: torch.Device;
  /** This worker's place in a data-parallel run; absent: one process. */
  dist?: DataParallel | null;
  /** Gradient buckets of the data-parallel all-reduce, in bytes (default 25 MiB). */
  bucketBytes?: number;
  /** Data parallel: batch norm layers use the statistics of the whole global batch (SyncBatchNorm2d). */
  syncBatchNorm?: boolean;
  /**
   * fp32 (default), or bf16/fp16 autocast for the forward passes (fp32 master weights and
   * optimizer); fp16 adds a dynamic loss scaler, checkpointed with the run.
   */
  precision?: torch.Precision;
  /** Dynamic loss scaling: default on for fp16 only; options override the scaler's defaults. */
  lossScaling?: boolean | Partial<nn.optim.GradScalerOptions>;
  /**
   * The learning-rate schedule (src/run/config.ts): default 'per-step' when the options give
   * `steps`, else 'per-epoch'; a resumed run passes what its config.json recorded.
   */
  lrSchedule?: LrSchedule;
}

export interface TrainResult {
  /** The step reached (steps done). */
  step: number;
  totalSteps: number;
  finished: boolean;
  lastCheckpoint: string | null;
  generatorFile: string | null;
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
  /** How the learning rate decays (see LrSchedule). */
  readonly lrSchedule: LrSchedule;
  private readonly schedG: nn.optim.LinearDecayLR;
  private readonly schedD: nn.optim.LinearDecayLR;
  private readonly log: TrainLog;
  private readonly sampleBatch: Batch | null;
  private step = 0;
  private nanStreak = 0;
  private seconds = 0;
  readonly device: torch.Device;
  readonly dist: DataParallel | null;
  /** Whether this process writes the run's files (rank 0, or the only process). */
  readonly isMain: boolean;
  private readonly bucketBytes: number;
  readonly precision: torch.Precision;
  /** fp16's dynamic loss scaler (disabled, a pass-through, otherwise). */
  readonly scaler: nn.optim.GradScaler;
  /** After resume(): how many processes trained up to the checkpoint (null: no checkpoint). */
  resumedProcesses: number | null = null;
  /**
   * `--g-ema`: the moving average of the generator's weights (checkpointed as Gema.*), which the
   * samples, the checkpoints' readers and the final generator.safetensors use; null when off.
   */
  readonly ema: WeightAverage | null;
  private readonly reducers = new Map<string, GradientReducer>();
  private readonly notice: (message: string) => void;
  /** On an accelerator: the next batch, loaded while the device finishes this step. */
  private prefetched: { batch: Batch; stateBefore: ReturnType<DataLoader['state']> } | null = null;

  constructor(
    readonly paths: RunPaths,
    readonly options: TrainOptions,
    readonly cache: LesionCache,
    vgg: { call(x: Tensor): Tensor[] } | null,
    hooks: TrainHooks = {},
    runtime: TrainRuntime = {},
  ) {
    const o = options;
    this.notice = (m) => hooks.onNotice?.(m);
    this.device = runtime.device ?? 'cpu';
    this.dist = runtime.dist && runtime.dist.worldSize > 1 ? runtime.dist : null;
    this.isMain = !this.dist || this.dist.rank === 0;
    this.bucketBytes = runtime.bucketBytes ?? 25 * 2 ** 20;
    this.precision = torch.amp.checkPrecision(runtime.precision ?? 'fp32', this.device);
    const scaling = runtime.lossScaling ?? this.precision === 'fp16';
    this.scaler = new nn.optim.GradScaler(
      typeof scaling === 'object' ? { ...scaling, enabled: true } : { enabled: scaling },
    );
    torch.manualSeed(o.seed);
    const labelChannels = cache.spec.channels.length;
    this.models = buildModels(o.model, labelChannels, o.modelOverrides, o.preset);
    checkImageSize(o.model, this.models.options, o.width, o.height);
    if (this.device !== 'cpu') {
      // Before the optimizers are made: moving replaces the parameter tensors.
      this.models.generator.to(this.device);
      this.models.discriminator.to(this.device);
    }
    if (this.dist && runtime.syncBatchNorm) {
      nn.convertSyncBatchNorm(this.models.generator, this.dist.pg);
      nn.convertSyncBatchNorm(this.models.discriminator, this.dist.pg);
    }
    const weights = { ...this.models.losses, ...o.lossOverrides };
    if (weights.vgg > 0 && !vgg) {
      hooks.onNotice?.(
        `VGG perceptual loss off: no --vgg-weights given (the ${o.model} default weight is ${weights.vgg})`,
      );
      weights.vgg = 0;
    }
    this.losses = new GanLosses(weights, weights.vgg > 0 ? vgg : null);
    const split = cache.indices('train').length > 0 ? 'train' : undefined;
    const shard = this.dist ? { rank: this.dist.rank, count: this.dist.worldSize } : undefined;
    this.loader = new DataLoader(cache, {
      batchSize: o.batch,
      split,
      seed: o.seed,
      augment: o.augment,
      dropLast: true,
      device: this.device,
      shard,
    });
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
    this.optG = new nn.optim.Adam(
      [...new Set([...g.parameters(), ...(coarse ? g.globalGenerator.parameters() : [])])],
      adam,
    );
    this.optD = new nn.optim.Adam(this.models.discriminator.parameters(), adam);
    this.ema = o.gEma > 0 ? this.weightAverage(labelChannels, o.gEma) : null;
    this.lrSchedule = runtime.lrSchedule ?? (o.steps !== null ? 'per-step' : 'per-epoch');
    // 'per-step': pix2pixHD's shape (constant, then linear decay to zero) stretched to the run's steps.
    const [constant, decay] =
      this.lrSchedule === 'per-step' ? perStepDecay(o, this.totalSteps) : [o.epochs, o.decayEpochs];
    this.schedG = new nn.optim.LinearDecayLR(this.optG, constant, decay);
    this.schedD = new nn.optim.LinearDecayLR(this.optD, constant, decay);
    this.log = new TrainLog(paths.log);
    // A fixed set of examples for the sample grids: the first of the val split (or of train).
    const val = cache.indices('val').length > 0 ? 'val' : split;
    this.sampleBatch = this.isMain
      ? new DataLoader(cache, {
          batchSize: Math.min(4, cache.indices(val).length),
          split: val,
          shuffle: false,
          dropLast: false,
          device: this.device,
        }).next()
      : null;
  }

  /**
   * Restores the newest checkpoint; returns its step (0 when there is none). Data parallel: rank 0
   * reads it and shares it with every rank (or, at the start, its initial weights), so that all
   * replicas start identical whatever the number of processes that wrote the checkpoint.
   */
  async resume(): Promise<number> {
    const nets = this.checkpointable();
    let read: (SharedState & { file: string }) | null = null;
    if (this.isMain) {
      const newest = await latestCheckpoint(this.paths.checkpoints);
      if (newest) read = { ...(await torch.loadSafetensors(newest.file)), file: newest.file };
    }
    let state: RestoredState | null = null;
    try {
      if (this.dist) {
        const shared = shareFromRankZero(
          this.dist,
          read ? { tensors: read.tensors, metadata: { ...read.metadata, 'dermosynth.file': read.file } } : null,
          this.device,
        );
        if (shared) {
          try {
            state = restoreCheckpoint(
              `${shared.metadata['dermosynth.file']} (from rank 0)`,
              shared.tensors,
              shared.metadata,
              nets,
            );
          } finally {
            for (const t of shared.tensors.values()) t.dispose();
          }
        } else {
          this.shareInitialWeights(nets);
        }
      } else if (read) {
        state = restoreCheckpoint(read.file, read.tensors, read.metadata, nets);
      }
    } finally {
      if (read) for (const t of read.tensors.values()) t.dispose();
    }
    if (!state || state.absentModules.includes('Gema')) {
      // A new run (after any --init and rank 0's initial weights), or --g-ema turned on for a run
      // whose checkpoint has no average yet: the average starts from the generator.
      this.ema?.reset();
      if (state && this.ema)
        this.notice(
          `--g-ema ${this.options.gEma}: the checkpoint has no weight average; it starts from the generator at step ${state.step}`,
        );
    }
    if (!state) return 0;
    this.resumedProcesses = state.processes ?? 1;
    if (state.scaler && this.scaler.enabled) this.scaler.loadStateDict(state.scaler);
    this.step = state.step;
    this.nanStreak = state.nanStreak;
    this.seconds = state.seconds;
    this.loader.restore(state.loader);
    this.syncSchedules();
    if (this.isMain) await TrainLog.truncateAfter(this.paths.log, this.step);
    return this.step;
  }

  /** A new data-parallel run: every replica takes rank 0's initial weights. */
  private shareInitialWeights(nets: Checkpointable): void {
    const shared = shareFromRankZero(
      this.dist!,
      this.isMain ? { tensors: moduleTensors(nets), metadata: {} } : null,
      this.device,
    )!;
    try {
      if (!this.isMain) loadModuleTensors(nets, shared.tensors, 'rank 0');
    } finally {
      for (const t of shared.tensors.values()) t.dispose();
    }
  }

  /** The run's config.json: resolved options, networks, data and schedule (written when a run starts). */
  runConfig(): RunConfig {
    const m = this.models;
    const cache = this.cache;
    return {
      format: RUN_CONFIG_FORMAT,
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
      schedule: {
        stepsPerEpoch: this.stepsPerEpoch,
        totalSteps: this.totalSteps,
        globalEpochs: this.stageEpochs.global,
        fixGlobalEpochs: this.stageEpochs.local,
        lr: this.lrSchedule,
      },
      runtime: { device: this.device, precision: this.precision, processes: this.dist?.worldSize ?? 1 },
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
    if (this.isMain) {
      await mkdir(this.paths.checkpoints, { recursive: true });
      await mkdir(this.paths.samples, { recursive: true });
    }
    let lastCheckpoint: string | null = null;
    const o = this.options;
    while (this.step < this.totalSteps) {
      const t0 = performance.now();
      const epoch = this.epochAt(this.step);
      const stage = this.stageAt(epoch);
      const { losses, skipped, comm } = this.trainStep(stage);
      this.step++;
      const dt = (performance.now() - t0) / 1000;
      this.seconds += dt;
      const entry: LogEntry = {
        step: this.step,
        epoch,
        stage,
        lr: this.optG.lr,
        seconds: Number(dt.toFixed(4)),
        losses,
      };
      if (this.dist) entry.comm = Number(comm.toFixed(4));
      if (this.scaler.enabled) entry.lossScale = this.scaler.getScale();
      if (skipped) {
        entry.skipped = skipped;
        hooks.onNotice?.(
          `step ${this.step}: skipped, ${skipped} (${this.nanStreak} in a row; the run stops after ${o.maxBadSteps})`,
        );
      }
      if (this.isMain) this.log.add(entry);
      if (this.lrSchedule === 'per-step' || this.epochAt(this.step) !== epoch) this.syncSchedules();
      hooks.onStep?.({
        step: this.step,
        totalSteps: this.totalSteps,
        epoch,
        stage,
        losses,
        skipped,
        seconds: this.seconds,
      });
      if (this.nanStreak >= o.maxBadSteps) {
        if (this.isMain) await this.log.flush();
        throw new Error(
          `training stopped at step ${this.step}: ${this.nanStreak} steps in a row had a non-finite loss (see ${this.paths.log}); lower --lr or check the data`,
        );
      }
      const done = this.step === this.totalSteps;
      const asked = !done && (hooks.shouldStop?.() ?? false);
      // Every rank stops at the same step, or the others would wait in a collective.
      const stop = this.dist && !done ? anyRank(this.dist, asked) : asked;
      if (this.isMain && (this.step % o.sampleEvery === 0 || done)) await this.writeSamples(stage);
      if (this.step % o.checkpointEvery === 0 || done || stop) {
        if (this.isMain) {
          lastCheckpoint = await this.checkpoint();
          hooks.onNotice?.(`checkpoint ${path.relative(this.paths.dir, lastCheckpoint)}`);
        }
      }
      if (stop)
        return { step: this.step, totalSteps: this.totalSteps, finished: false, lastCheckpoint, generatorFile: null };
      // Let signals and other events in between steps.
      await new Promise((r) => setImmediate(r));
    }
    if (!this.isMain)
      return {
        step: this.step,
        totalSteps: this.totalSteps,
        finished: true,
        lastCheckpoint: null,
        generatorFile: null,
      };
    await nn.saveModule(this.paths.generator, this.ema?.average ?? this.models.generator);
    return {
      step: this.step,
      totalSteps: this.totalSteps,
      finished: true,
      lastCheckpoint,
      generatorFile: this.paths.generator,
    };
  }

  async checkpoint(): Promise<string> {
    await this.log.flush();
    // A batch loaded ahead is not yet trained on: the checkpoint's position is before it.
    const loader = this.prefetched ? this.prefetched.stateBefore : this.loader.state();
    const state: Omit<TrainState, 'version' | 'optimizers'> = {
      step: this.step,
      loader,
      nanStreak: this.nanStreak,
      seconds: this.seconds,
    };
    if (this.dist) state.processes = this.dist.worldSize;
    if (this.scaler.enabled) state.scaler = this.scaler.stateDict();
    return saveCheckpoint(this.paths.checkpoints, this.checkpointable(), state, this.options.keepCheckpoints);
  }

  private checkpointable(): Checkpointable {
    const g = this.models.generator;
    const modules: Checkpointable['modules'] = { G: g, D: this.models.discriminator };
    if (isCoarseToFine(g)) modules.Gglobal = g.globalGenerator;
    if (this.ema) modules.Gema = this.ema.average;
    return { modules, optimizers: { optG: this.optG, optD: this.optD }, optional: ['Gema'] };
  }

  /** The generator's weight average: the same network built again, without drawing from the run's RNG. */
  private weightAverage(labelChannels: number, decay: number): WeightAverage {
    const o = this.options;
    const rng = torch.getRngState();
    try {
      const { generator } = buildGenerator(o.model, labelChannels, o.modelOverrides, o.preset);
      if (this.device !== 'cpu') generator.to(this.device);
      return new WeightAverage(generator, this.models.generator, decay);
    } finally {
      torch.setRngState(rng);
      rng.dispose();
    }
  }

  dispose(): void {
    if (this.sampleBatch) disposeBatch(this.sampleBatch);
    if (this.prefetched) disposeBatch(this.prefetched.batch);
    this.prefetched = null;
    for (const r of this.reducers.values()) r.dispose();
    this.reducers.clear();
    this.cache.close();
  }

  /** The data-parallel reducer of a parameter set (one per stage's G parameters, one for D). */
  private reducerFor(key: string, params: Tensor[]): GradientReducer {
    let r = this.reducers.get(key);
    if (!r) {
      r = this.dist!.pg.reducer(params, { bucketBytes: this.bucketBytes });
      this.reducers.set(key, r);
    }
    return r;
  }

  /** backward() of `loss` into `params`, all-reduced over ranks when data parallel; returns seconds waited on the all-reduce. */
  private backwardInto(loss: Tensor, params: Tensor[], key: string, retainGraph: boolean): number {
    if (!this.dist) {
      loss.backward(null, { inputs: params, retainGraph });
      return 0;
    }
    const r = this.reducerFor(key, params);
    r.prepare();
    loss.backward(null, { inputs: params, retainGraph });
    return r.finish();
  }

  private nextBatch(): Batch {
    if (this.prefetched) {
      const b = this.prefetched.batch;
      this.prefetched = null;
      return b;
    }
    return this.loader.next();
  }

  /** The learning rates of the next step: of epoch `epochAt(step)` ('per-epoch', as pix2pixHD), or of the step. */
  private syncSchedules(): void {
    const epoch = this.lrSchedule === 'per-step' ? this.step : this.epochAt(this.step);
    for (const s of [this.schedG, this.schedD]) {
      const state = s.stateDict();
      s.loadStateDict({ ...state, lastEpoch: epoch });
    }
  }

  /** The generator, its trainable parameters and the input scale for a stage. */
  private stagePlan(stage: Stage): { run: (label: Tensor) => Tensor; params: Tensor[]; scale: number } {
    const g = this.models.generator;
    if (stage !== 'joint' && isCoarseToFine(g)) {
      if (stage === 'global')
        return {
          run: (x) => g.globalGenerator.call(x),
          params: g.globalGenerator.parameters(),
          scale: 2 ** g.numLocalEnhancers,
        };
      return { run: (x) => g.call(x), params: g.localParameters(), scale: 1 };
    }
    return { run: (x) => g.call(x), params: g.parameters(), scale: 1 };
  }

  /** One G and one D update (skipped when a loss is not finite). */
  private trainStep(stage: Stage): { losses: Record<string, number>; skipped: string | null; comm: number } {
    const batch = this.nextBatch();
    try {
      const result = torch.tidy(() => {
        const plan = this.stagePlan(stage);
        let { label, image: real } = batch;
        if (plan.scale > 1) {
          const size: [number, number] = [
            Math.round(real.shape[2]! / plan.scale),
            Math.round(real.shape[3]! / plan.scale),
          ];
          label = F.interpolate(label, { size, mode: 'nearest' });
          real = F.interpolate(real, { size, mode: 'bilinear', antialias: true });
        }
        const D = this.models.discriminator;
        const { g, d } = torch.autocast(this.device, this.precision, () => {
          const fake = plan.run(label);
          // One D pass on the generated image serves both losses: the G loss back-propagates only
          // into G's parameters and the D loss only into D's (same updates as pix2pixHD's separate
          // pass on fake.detach(), one discriminator forward less).
          const predFake = D.call(torch.cat([label, fake], 1));
          const predReal = D.call(torch.cat([label, real], 1));
          return {
            g: this.losses.generatorLoss({ predFake, predReal, fake, real }),
            d: this.losses.discriminatorLoss({ predReal, predFake }),
          };
        });
        let losses = { ...g.parts, ...d.parts };
        if (this.dist) {
          // Every rank logs, and judges, the loss of the whole batch.
          const names = Object.keys(losses);
          const mean = meanOverRanks(
            this.dist,
            names.map((k) => losses[k]!),
          );
          losses = Object.fromEntries(names.map((k, i) => [k, mean[i]!]));
        }
        const bad = Object.entries(losses).find(([, v]) => !Number.isFinite(v));
        if (bad) {
          this.nanStreak++;
          return { losses, skipped: `${bad[0]} is ${bad[1]}`, comm: 0 };
        }
        this.nanStreak = 0;
        const dParams = D.parameters();
        this.optG.zeroGrad();
        this.optD.zeroGrad();
        let comm = this.backwardInto(this.scaler.scale(g.total), plan.params, `G:${stage}`, true);
        comm += this.backwardInto(this.scaler.scale(d.total), dParams, 'D', false);
        // fp16: steps with inf/NaN gradients are skipped and the scale backs off (the gradients
        // are the same on every rank after the all-reduce, so every rank decides alike).
        this.scaler.step(this.optG);
        this.scaler.step(this.optD);
        this.scaler.update();
        this.ema?.update(batch.label);
        return { losses, skipped: null, comm };
      });
      this.prefetch();
      return result;
    } finally {
      disposeBatch(batch);
    }
  }

  /** On an accelerator, loads the next batch while the device works through this step's queue. */
  private prefetch(): void {
    if (this.device === 'cpu' || this.prefetched || this.step + 1 >= this.totalSteps) return;
    const stateBefore = this.loader.state();
    this.prefetched = { batch: this.loader.next(), stateBefore };
  }

  private async writeSamples(stage: Stage): Promise<void> {
    const b = this.sampleBatch;
    if (!b) return;
    const g = this.models.generator;
    const average = this.ema?.average;
    const fake = torch.tidy(() =>
      torch.noGrad(() => {
        g.eval();
        try {
          const out = torch.autocast(this.device, this.precision, () => {
            if (stage === 'global' && isCoarseToFine(g)) {
              const s = 2 ** g.numLocalEnhancers;
              return g.globalGenerator.call(
                F.interpolate(b.label, { size: [b.label.shape[2]! / s, b.label.shape[3]! / s], mode: 'nearest' }),
              );
            }
            return (average ?? g).call(b.label);
          });
          return out.float();
        } finally {
          g.train();
        }
      }),
    );
    try {
      await writeSampleGrid(
        sampleGridFile(this.paths, this.step),
        { labelBytes: b.labelBytes, real: b.image, fake },
        this.cache.spec,
      );
    } finally {
      fake.dispose();
    }
  }
}
