// InstanceNorm2d, BatchNorm2d and GroupNorm, as torch.nn (same buffers and state-dict names).
import { F, ones, zeros, type Tensor } from '../../torch/index.js';
import { Module } from '../module.js';

export interface NormOptions {
  eps?: number;
  momentum?: number;
  affine?: boolean;
  trackRunningStats?: boolean;
  /**
   * Batch norm in eval mode: 'running' (default) normalises with the running statistics; 'sample'
   * with each sample's own statistics over H and W (pix2pix's test protocol: its generator runs
   * at test time as in training, batch 1, so batch norm is instance norm there).
   */
  evalStats?: 'running' | 'sample';
}

abstract class RunningStatsNorm extends Module {
  static initKind = 'norm' as const;
  readonly eps: number;
  readonly momentum: number;
  readonly trackRunningStats: boolean;
  constructor(
    readonly numFeatures: number,
    o: NormOptions,
    defaults: { affine: boolean; track: boolean },
  ) {
    super();
    if (!Number.isInteger(numFeatures) || numFeatures < 1)
      throw new RangeError(`${new.target.name}: numFeatures must be a positive integer, got ${numFeatures}`);
    this.eps = o.eps ?? 1e-5;
    this.momentum = o.momentum ?? 0.1;
    this.trackRunningStats = o.trackRunningStats ?? defaults.track;
    const affine = o.affine ?? defaults.affine;
    this.registerParameter('weight', affine ? ones([numFeatures]) : null);
    this.registerParameter('bias', affine ? zeros([numFeatures]) : null);
    if (this.trackRunningStats) {
      this.registerBuffer('running_mean', zeros([numFeatures]));
      this.registerBuffer('running_var', ones([numFeatures]));
      this.registerBuffer('num_batches_tracked', zeros([], { dtype: 'int64' }));
    }
  }
  protected checkInput(x: Tensor): void {
    if (x.ndim !== 4 || x.shape[1] !== this.numFeatures) {
      throw new TypeError(
        `${this.constructor.name}(${this.numFeatures}): expected input [N, ${this.numFeatures}, H, W], got [${x.shape.join(', ')}]`,
      );
    }
  }
  protected countBatch(): void {
    const n = this.buffer('num_batches_tracked');
    if (n && this.training) n.add_(1);
  }
}

/** Normalises each sample's channels over H and W (pix2pixHD's default norm; affine off). */
export class InstanceNorm2d extends RunningStatsNorm {
  constructor(numFeatures: number, o: NormOptions = {}) {
    super(numFeatures, o, { affine: false, track: false });
  }
  forward(x: Tensor): Tensor {
    this.checkInput(x);
    const useInputStats = this.training || !this.trackRunningStats;
    return F.instanceNorm(x, {
      weight: this.optionalParam('weight'),
      bias: this.optionalParam('bias'),
      runningMean: this.buffer('running_mean'),
      runningVar: this.buffer('running_var'),
      useInputStats,
      momentum: this.momentum,
      eps: this.eps,
    });
  }
}

/** Batch normalisation with running statistics (updated in training mode). */
export class BatchNorm2d extends RunningStatsNorm {
  /** The statistics of eval mode (NormOptions.evalStats). */
  evalStats: 'running' | 'sample';
  constructor(numFeatures: number, o: NormOptions = {}) {
    super(numFeatures, o, { affine: true, track: true });
    this.evalStats = o.evalStats ?? 'running';
    if (this.evalStats !== 'running' && this.evalStats !== 'sample')
      throw new RangeError(`BatchNorm2d: evalStats must be 'running' or 'sample', got '${String(o.evalStats)}'`);
  }
  forward(x: Tensor): Tensor {
    this.checkInput(x);
    if (!this.training && this.evalStats === 'sample')
      return F.instanceNorm(x, {
        weight: this.optionalParam('weight'),
        bias: this.optionalParam('bias'),
        runningMean: null,
        runningVar: null,
        useInputStats: true,
        momentum: this.momentum,
        eps: this.eps,
      });
    const useBatchStats = this.training || !this.trackRunningStats;
    if (this.training && this.trackRunningStats) this.countBatch();
    return F.batchNorm(x, {
      weight: this.optionalParam('weight'),
      bias: this.optionalParam('bias'),
      runningMean: this.training || this.trackRunningStats ? this.buffer('running_mean') : null,
      runningVar: this.training || this.trackRunningStats ? this.buffer('running_var') : null,
      training: useBatchStats,
      momentum: this.momentum,
      eps: this.eps,
    });
  }
}

export class GroupNorm extends Module {
  static initKind = 'norm' as const;
  constructor(
    readonly numGroups: number,
    readonly numChannels: number,
    readonly o: { eps?: number; affine?: boolean } = {},
  ) {
    super();
    if (numChannels % numGroups)
      throw new RangeError(`GroupNorm: numChannels (${numChannels}) must be divisible by numGroups (${numGroups})`);
    const affine = o.affine ?? true;
    this.registerParameter('weight', affine ? ones([numChannels]) : null);
    this.registerParameter('bias', affine ? zeros([numChannels]) : null);
  }
  forward(x: Tensor): Tensor {
    return F.groupNorm(x, this.numGroups, {
      weight: this.optionalParam('weight'),
      bias: this.optionalParam('bias'),
      eps: this.o.eps,
    });
  }
}
