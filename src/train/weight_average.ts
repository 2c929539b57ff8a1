// An exponential moving average of a network's weights (`--g-ema DECAY`): after every update of
// the source, average <- average + (1 - decay) * (source - average), parameter by parameter (as
// torch.optim.swa_utils' EMA and timm's ModelEmaV2, one lerp_ each); buffers (batch-norm
// statistics, spectral norm's vectors) are copied. For a GAN generator this is Polyak averaging
// (Yazici et al. 2019, "The Unusual Effectiveness of Averaging in GAN Training"; BigGAN and
// StyleGAN sample from such an average): the averaged weights do not swing with the last few
// hundred steps of the adversarial game. Training never reads the average.
import * as torch from '../torch/index.js';
import type { Tensor } from '../torch/index.js';
import type { Module } from '../nn/index.js';

export class WeightAverage {
  private readonly pairs: [average: Tensor, source: Tensor][] = [];
  private readonly buffers: [average: Tensor, source: Tensor][] = [];

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
    const ownBuffers = new Map(average.namedBuffers());
    for (const [name, b] of source.namedBuffers()) {
      const a = ownBuffers.get(name);
      if (!a) throw new Error(`weight average: the average has no buffer '${name}'`);
      this.buffers.push([a, b]);
    }
    average.eval();
    for (const p of average.parameters()) p.requiresGrad_(false);
    this.reset();
  }

  /** The average becomes a copy of the source's current weights. */
  reset(): void {
    torch.noGrad(() => {
      for (const [a, s] of [...this.pairs, ...this.buffers]) a.copy_(s);
    });
  }

  /** One step of the average, after an update of the source. */
  update(): void {
    const w = 1 - this.decay;
    torch.noGrad(() => {
      for (const [a, s] of this.pairs) a.lerp_(s, w);
      for (const [a, s] of this.buffers) a.copy_(s);
    });
  }
}
