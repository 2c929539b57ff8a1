// An exponential moving average of a network's weights (`--g-ema DECAY`): after every update of
// the source, average <- average + (1 - decay) * (source - average), parameter by parameter (as
// torch.optim.swa_utils' EMA and timm's ModelEmaV2, one lerp_ each); other buffers (spectral
// norm's vectors) are copied. Batch-norm running statistics are the average's own: the trained
// network's statistics describe the trained weights' activations, and with them the averaged
// weights of a batch-normalised generator (pix2pix's U-Net, SPADE) draw washed-out, near-white
// images. So, as SWA's update_bn, each update runs the average forward on the step's input with
// its batch-norm layers in training mode (nothing else: dropout stays off and draws no random
// numbers), which moves their statistics towards the average's own (momentum as trained).
// For a GAN generator this is Polyak averaging
// (Yazici et al. 2019, "The Unusual Effectiveness of Averaging in GAN Training"; BigGAN and
// StyleGAN sample from such an average): the averaged weights do not swing with the last few
// hundred steps of the adversarial game. Training never reads the average.
import * as torch from '../torch/index.js';
import type { Tensor } from '../torch/index.js';
import type { Module } from '../nn/index.js';

export class WeightAverage {
  private readonly pairs: [average: Tensor, source: Tensor][] = [];
  private readonly buffers: [average: Tensor, source: Tensor][] = [];
  /** The average's normalisation layers with running statistics (batch norm), refreshed by update(input). */
  private readonly runningStatsNorms: Module<any, any>[] = [];

  /**
   * `average` must have `source`'s structure (the same network built again); it starts as a copy
   * of `source`'s weights.
   */
  constructor(
    readonly average: Module<any, any>,
    readonly source: Module<any, any>,
    readonly decay: number,
  ) {
    if (!(decay > 0 && decay < 1)) throw new RangeError(`weight average: decay ${decay} must be in (0, 1)`);
    const own = new Map(average.namedParameters());
    for (const [name, p] of source.namedParameters()) {
      const a = own.get(name);
      if (!a) throw new Error(`weight average: the average has no parameter '${name}'`);
      this.pairs.push([a, p]);
    }
    const statsBuffers = new Set<string>();
    for (const [name, m] of average.namedModules()) {
      if (m.buffer('running_mean') === null || m.buffer('running_var') === null) continue;
      this.runningStatsNorms.push(m);
      for (const b of ['running_mean', 'running_var', 'num_batches_tracked'])
        statsBuffers.add(name ? `${name}.${b}` : b);
    }
    const ownBuffers = new Map(average.namedBuffers());
    for (const [name, b] of source.namedBuffers()) {
      if (statsBuffers.has(name)) continue;
      const a = ownBuffers.get(name);
      if (!a) throw new Error(`weight average: the average has no buffer '${name}'`);
      this.buffers.push([a, b]);
    }
    average.eval();
    for (const p of average.parameters()) p.requiresGrad_(false);
    this.reset();
  }

  /** Whether the average keeps batch-norm statistics of its own (update() then needs the step's input). */
  get hasRunningStats(): boolean {
    return this.runningStatsNorms.length > 0;
  }

  /** The average becomes a copy of the source's current weights and buffers, statistics included. */
  reset(): void {
    const sourceBuffers = new Map(this.source.namedBuffers());
    torch.noGrad(() => {
      for (const [a, s] of this.pairs) a.copy_(s);
      // Every buffer by name: the copied ones and the batch-norm statistics alike.
      for (const [name, a] of this.average.namedBuffers()) {
        const s = sourceBuffers.get(name);
        if (s) a.copy_(s);
      }
    });
  }

  /**
   * One step of the average, after an update of the source. `input` is the step's input to the
   * network (the label map): with it, the average's batch-norm statistics follow the average's
   * own activations; a network with batch norm needs it.
   */
  update(input?: Tensor): void {
    if (this.hasRunningStats && input === undefined)
      throw new Error('weight average: the network has batch norm; update(input) needs the input of the step');
    const w = 1 - this.decay;
    torch.noGrad(() => {
      for (const [a, s] of this.pairs) a.lerp_(s, w);
      for (const [a, s] of this.buffers) a.copy_(s);
      if (!this.hasRunningStats) return;
      for (const m of this.runningStatsNorms) m.training = true;
      try {
        torch.tidy(() => {
          this.average.call(input!);
        });
      } finally {
        for (const m of this.runningStatsNorms) m.training = false;
      }
    });
  }
}
