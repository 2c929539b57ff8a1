// Conv2d and ConvTranspose2d, as torch.nn, with PyTorch's default initialisation.
import { F, empty, type Tensor } from '../../torch/index.js';
import { Module } from '../module.js';
import { kaimingUniform_, fans, uniform_ } from '../init.js';

type Pair = number | [number, number];
const pair = (x: Pair): [number, number] => (typeof x === 'number' ? [x, x] : x);

export interface Conv2dOptions {
  stride?: Pair;
  padding?: Pair;
  dilation?: Pair;
  groups?: number;
  bias?: boolean;
  /** Padding applied before the convolution ('zeros' lets the convolution pad). */
  paddingMode?: 'zeros' | 'reflect' | 'replicate';
}

function resetParameters(m: Module<any, any>): void {
  const weight = m.param('weight');
  kaimingUniform_(weight, { a: Math.sqrt(5) });
  const bias = m.optionalParam('bias');
  if (bias) {
    const bound = 1 / Math.sqrt(fans(weight).fanIn);
    uniform_(bias, -bound, bound);
  }
}

/** Checks the channel counts, then registers weight and bias with PyTorch's initialisation. */
function registerConvParameters(
  m: Module<any, any>,
  layer: string,
  inChannels: number,
  outChannels: number,
  kernelSize: [number, number],
  o: { groups?: number; bias?: boolean },
  transposed: boolean,
): void {
  const groups = o.groups ?? 1;
  for (const [name, v] of [
    ['inChannels', inChannels],
    ['outChannels', outChannels],
    ['groups', groups],
  ] as const) {
    if (!Number.isInteger(v) || v < 1) throw new RangeError(`${layer}: ${name} must be a positive integer, got ${v}`);
  }
  if (inChannels % groups || outChannels % groups) {
    throw new RangeError(
      `${layer}: inChannels (${inChannels}) and outChannels (${outChannels}) must be divisible by groups (${groups})`,
    );
  }
  const weight = transposed
    ? [inChannels, outChannels / groups, ...kernelSize]
    : [outChannels, inChannels / groups, ...kernelSize];
  m.registerParameter('weight', empty(weight));
  m.registerParameter('bias', o.bias === false ? null : empty([outChannels]));
  resetParameters(m);
}

export class Conv2d extends Module {
  static initKind = 'conv' as const;
  readonly kernelSize: [number, number];
  constructor(
    readonly inChannels: number,
    readonly outChannels: number,
    kernelSize: Pair,
    readonly options: Conv2dOptions = {},
  ) {
    super();
    this.kernelSize = pair(kernelSize);
    registerConvParameters(this, 'Conv2d', inChannels, outChannels, this.kernelSize, options, false);
  }
  forward(x: Tensor): Tensor {
    const o = this.options;
    const mode = o.paddingMode ?? 'zeros';
    if (mode === 'zeros') {
      return F.conv2d(x, this.param('weight'), this.optionalParam('bias'), {
        stride: o.stride,
        padding: o.padding,
        dilation: o.dilation,
        groups: o.groups,
      });
    }
    const [ph, pw] = pair(o.padding ?? 0);
    const padded = F.pad(x, [pw, pw, ph, ph], mode === 'reflect' ? 'reflect' : 'replicate');
    return F.conv2d(padded, this.param('weight'), this.optionalParam('bias'), {
      stride: o.stride,
      dilation: o.dilation,
      groups: o.groups,
    });
  }
}

export interface ConvTranspose2dOptions extends Omit<Conv2dOptions, 'paddingMode'> {
  outputPadding?: Pair;
  /** Use the exact sub-pixel form where it applies (default true); false always calls aten. */
  subpixel?: boolean;
}

/**
 * Where the sub-pixel form is faster on the CPU (measured, bench:train and bench:engine, 2 cores):
 * at fine scales with few channels (128 -> 32 channels at 128x128: 60 vs 78 ms forward+backward);
 * at coarse scales with many channels libtorch's own kernel wins by far (1024 -> 256 at 16x16:
 * 26 vs 191 ms), since the sub-pixel form does 16/9 of the work and rebuilds its kernel per call.
 */
function subpixelPays(x: Tensor, inChannels: number, outChannels: number): boolean {
  const [, , h, w] = x.shape as [number, number, number, number];
  return x.device === 'cpu' && inChannels * outChannels <= 256 * 128 && h * w >= 32 * 32;
}

export class ConvTranspose2d extends Module {
  static initKind = 'conv' as const;
  readonly kernelSize: [number, number];
  constructor(
    readonly inChannels: number,
    readonly outChannels: number,
    kernelSize: Pair,
    readonly options: ConvTranspose2dOptions = {},
  ) {
    super();
    this.kernelSize = pair(kernelSize);
    registerConvParameters(this, 'ConvTranspose2d', inChannels, outChannels, this.kernelSize, options, true);
  }
  /**
   * pix2pixHD's upsampling layer (3x3, stride 2, padding 1, output padding 1) can run as its exact
   * sub-pixel form on oneDNN (see F.convTranspose2dSubpixel), which it does on the CPU where that
   * is faster (see subpixelPays); other shapes and cases use aten directly.
   */
  get usesSubpixel(): boolean {
    const o = this.options;
    const is = (v: number | [number, number] | undefined, want: number, fallback: number): boolean =>
      (v === undefined ? fallback : typeof v === 'number' ? v : v[0] === v[1] ? v[0] : -1) === want;
    return (
      o.subpixel !== false &&
      this.kernelSize[0] === 3 &&
      this.kernelSize[1] === 3 &&
      is(o.stride, 2, 1) &&
      is(o.padding, 1, 0) &&
      is(o.outputPadding, 1, 0) &&
      is(o.dilation, 1, 1) &&
      (o.groups ?? 1) === 1
    );
  }
  forward(x: Tensor): Tensor {
    const o = this.options;
    if (this.usesSubpixel && subpixelPays(x, this.inChannels, this.outChannels))
      return F.convTranspose2dSubpixel(x, this.param('weight'), this.optionalParam('bias'));
    return F.convTranspose2d(x, this.param('weight'), this.optionalParam('bias'), {
      stride: o.stride,
      padding: o.padding,
      outputPadding: o.outputPadding,
      dilation: o.dilation,
      groups: o.groups,
    });
  }
}
