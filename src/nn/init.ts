// Weight initialisers, as `torch.nn.init`, and pix2pixHD's `weights_init`.
import { noGrad, type Tensor } from '../torch/index.js';
import type { Generator } from '../torch/index.js';
import type { Module } from './module.js';

/** fan_in and fan_out of a weight, as PyTorch computes them (dim 1 is fan-in for every layer). */
export function fans(t: Tensor): { fanIn: number; fanOut: number } {
  if (t.ndim < 2) throw new TypeError(`fans: a weight needs at least 2 dimensions, got [${t.shape}]`);
  const receptive = t.shape.slice(2).reduce((a, b) => a * b, 1);
  return { fanIn: t.shape[1]! * receptive, fanOut: t.shape[0]! * receptive };
}

export type Nonlinearity = 'linear' | 'relu' | 'leaky_relu' | 'tanh' | 'sigmoid';

export function calculateGain(nonlinearity: Nonlinearity, param = 0.01): number {
  switch (nonlinearity) {
    case 'linear':
    case 'sigmoid':
      return 1;
    case 'tanh':
      return 5 / 3;
    case 'relu':
      return Math.SQRT2;
    case 'leaky_relu':
      return Math.sqrt(2 / (1 + param * param));
  }
}

export function normal_(t: Tensor, mean = 0, std = 1, generator?: Generator): Tensor {
  return noGrad(() => t.normal_(mean, std, generator));
}
export function uniform_(t: Tensor, a = 0, b = 1, generator?: Generator): Tensor {
  return noGrad(() => t.uniform_(a, b, generator));
}
export function constant_(t: Tensor, value: number): Tensor {
  return noGrad(() => t.fill_(value));
}
export function zeros_(t: Tensor): Tensor {
  return constant_(t, 0);
}
export function ones_(t: Tensor): Tensor {
  return constant_(t, 1);
}
export function xavierUniform_(t: Tensor, gain = 1, generator?: Generator): Tensor {
  const { fanIn, fanOut } = fans(t);
  const a = gain * Math.sqrt(6 / (fanIn + fanOut));
  return uniform_(t, -a, a, generator);
}
export function xavierNormal_(t: Tensor, gain = 1, generator?: Generator): Tensor {
  const { fanIn, fanOut } = fans(t);
  return normal_(t, 0, gain * Math.sqrt(2 / (fanIn + fanOut)), generator);
}
export interface KaimingOptions {
  a?: number;
  mode?: 'fan_in' | 'fan_out';
  nonlinearity?: Nonlinearity;
  generator?: Generator;
}
export function kaimingUniform_(t: Tensor, o: KaimingOptions = {}): Tensor {
  const { fanIn, fanOut } = fans(t);
  const gain = calculateGain(o.nonlinearity ?? 'leaky_relu', o.a ?? 0);
  const bound = Math.sqrt(3) * (gain / Math.sqrt(o.mode === 'fan_out' ? fanOut : fanIn));
  return uniform_(t, -bound, bound, o.generator);
}
export function kaimingNormal_(t: Tensor, o: KaimingOptions = {}): Tensor {
  const { fanIn, fanOut } = fans(t);
  const gain = calculateGain(o.nonlinearity ?? 'leaky_relu', o.a ?? 0);
  return normal_(t, 0, gain / Math.sqrt(o.mode === 'fan_out' ? fanOut : fanIn), o.generator);
}

export type InitScheme = 'normal' | 'xavier' | 'kaiming';

/**
 * Re-initialises a network as pix2pixHD does: convolution and linear weights from N(0, gain)
 * (or xavier/kaiming), normalisation weights from N(1, gain), biases zero.
 */
export function initWeights(
  net: Module<any, any>,
  scheme: InitScheme = 'normal',
  gain = 0.02,
  generator?: Generator,
): void {
  for (const [, m] of net.namedModules()) {
    const kind = (m.constructor as { initKind?: 'conv' | 'norm' }).initKind;
    if (!kind) continue;
    const weight = m.optionalParam(kind === 'conv' && m.buffer('weight_u') ? 'weight_orig' : 'weight');
    const bias = m.optionalParam('bias');
    if (kind === 'norm') {
      if (weight) normal_(weight, 1, gain, generator);
    } else if (weight) {
      if (scheme === 'normal') normal_(weight, 0, gain, generator);
      else if (scheme === 'xavier') xavierNormal_(weight, gain, generator);
      else kaimingNormal_(weight, { a: 0, mode: 'fan_in', generator });
    }
    if (bias) zeros_(bias);
  }
}
