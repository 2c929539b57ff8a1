// Stochastic depth (Huang et al. 2016), as torchvision.ops.StochasticDepth: in training, drops a
// residual branch with probability p, per sample ('row') or for the whole batch ('batch'), and
// scales the kept ones by 1/(1 - p), so the expectation is unchanged; in eval it is the identity.
// The mask comes from libtorch's global generator (seeded by torch.manualSeed, saved in checkpoints).
import { rand, tidy, type Tensor } from '../../torch/index.js';
import { Module } from '../module.js';

export type StochasticDepthMode = 'row' | 'batch';

export function stochasticDepth(x: Tensor, p: number, mode: StochasticDepthMode, training = true): Tensor {
  if (!(p >= 0 && p <= 1)) throw new RangeError(`stochasticDepth: p must be in [0, 1], got ${p}`);
  if (mode !== 'row' && mode !== 'batch')
    throw new RangeError(`stochasticDepth: mode must be 'row' or 'batch', got '${String(mode)}'`);
  if (!training || p === 0) return x;
  const survival = 1 - p;
  const shape = mode === 'row' ? [x.shape[0]!, ...x.shape.slice(1).map(() => 1)] : x.shape.map(() => 1);
  return tidy(() => {
    const keep = rand(shape, { device: x.device }).lt(survival).to(x.dtype);
    if (survival > 0) keep.div_(survival);
    return x.mul(keep);
  });
}

export class StochasticDepth extends Module {
  constructor(
    readonly p: number,
    readonly mode: StochasticDepthMode = 'row',
  ) {
    super();
    if (!(p >= 0 && p <= 1)) throw new RangeError(`StochasticDepth: p must be in [0, 1], got ${p}`);
  }
  forward(x: Tensor): Tensor {
    return stochasticDepth(x, this.p, this.mode, this.training);
  }
}
