// Neural-network operators as functions, as `torch.nn.functional`: convolutions, normalisation,
// padding, pooling, resampling, activations, losses, and the tensor combinators they need. Each is
// the generated operator (generated/aten.ts) with PyTorch's name and options, checked arguments and
// the choice of overload; what ATen has no one operator for (pad modes, interpolate, normalize) is
// composed here.
import { REDUCTION, type Reduction } from './ops.js';
import * as aten from './generated/aten.js';
import type { Tensor, TensorOrScalar } from './tensor.js';
import { keep, tidy } from './scope.js';
import { tensor, zeros } from './creation.js';
import { isFloating, type DType } from './dtype.js';

type Pair = number | [number, number];

/** Checks an integer or a pair of integers; passed on as is (the addon repeats a single integer, as PyTorch). */
function pair<P extends Pair>(x: P, name: string): P {
  if (typeof x === 'number' ? !Number.isInteger(x) : x.length !== 2 || !x.every((v) => Number.isInteger(v)))
    throw new TypeError(`${name} must be an integer or a pair of integers`);
  return x;
}

// ---- convolution and linear --------------------------------------------------------------------

export interface Conv2dOptions {
  stride?: Pair;
  padding?: Pair;
  dilation?: Pair;
  groups?: number;
}

/** 2-D convolution: input [N, Cin, H, W], weight [Cout, Cin/groups, kH, kW]. */
export function conv2d(input: Tensor, weight: Tensor, bias: Tensor | null = null, o: Conv2dOptions = {}): Tensor {
  return aten.conv2d(
    input,
    weight,
    bias,
    pair(o.stride ?? 1, 'stride'),
    pair(o.padding ?? 0, 'padding'),
    pair(o.dilation ?? 1, 'dilation'),
    o.groups,
  );
}

export interface ConvTranspose2dOptions extends Conv2dOptions {
  outputPadding?: Pair;
}

/** 2-D transposed convolution: weight [Cin, Cout/groups, kH, kW]. */
export function convTranspose2d(
  input: Tensor,
  weight: Tensor,
  bias: Tensor | null = null,
  o: ConvTranspose2dOptions = {},
): Tensor {
  return aten.convTranspose2dInput(
    input,
    weight,
    bias,
    pair(o.stride ?? 1, 'stride'),
    pair(o.padding ?? 0, 'padding'),
    pair(o.outputPadding ?? 0, 'outputPadding'),
    o.groups,
    pair(o.dilation ?? 1, 'dilation'),
  );
}

/** The taps of a 3x3 kernel (row-major, 9 = a zero tap) that each output phase of a stride-2 transposed convolution uses. */
const SUBPIXEL_TAPS = (() => {
  // Output row 2m + a reads input rows m + d through kernel row k = a + 1 - 2d (padding 1), when 0 <= k < 3.
  const k = (a: number, d: number): number => a + 1 - 2 * d;
  const taps: number[] = [];
  for (const a of [0, 1])
    for (const b of [0, 1])
      for (const di of [0, 1])
        for (const dj of [0, 1]) {
          const kr = k(a, di),
            kc = k(b, dj);
          taps.push(kr >= 0 && kr < 3 && kc >= 0 && kc < 3 ? kr * 3 + kc : 9);
        }
  return taps;
})();
let subpixelIndex: Tensor | null = null;

/**
 * The transposed convolution with a 3x3 kernel, stride 2, padding 1 and output padding 1 (the
 * upsampling layer of pix2pixHD) computed exactly as one 2x2 convolution with four output phases
 * followed by a pixel shuffle. The convolution runs on oneDNN, where libtorch's CPU transposed
 * convolution does not. Weight [Cin, Cout, 3, 3], as convTranspose2d.
 */
export function convTranspose2dSubpixel(input: Tensor, weight: Tensor, bias: Tensor | null = null): Tensor {
  const [cin, cout, kh, kw] = weight.shape as [number, number, number, number];
  if (kh !== 3 || kw !== 3) throw new TypeError(`convTranspose2dSubpixel: expected a 3x3 kernel, got ${kh}x${kw}`);
  if (!subpixelIndex || subpixelIndex.device !== weight.device) {
    subpixelIndex?.dispose();
    subpixelIndex = keep(tensor(Int32Array.from(SUBPIXEL_TAPS), { dtype: 'int64', device: weight.device }));
  }
  const idx = subpixelIndex;
  return tidy(() => {
    const taps = cat(
      [weight.reshape(cin, cout, 9), zeros([cin, cout, 1], { dtype: weight.dtype, device: weight.device })],
      2,
    );
    const k = aten
      .indexSelect(taps, 2, idx)
      .reshape(cin, cout, 2, 2, 2, 2)
      .permute(1, 2, 3, 0, 4, 5)
      .reshape(cout * 4, cin, 2, 2);
    const b4 = bias
      ? bias
          .unsqueeze(1)
          .expand(cout, 4)
          .reshape(cout * 4)
      : null;
    const y = conv2d(pad(input, [0, 1, 0, 1]), k, b4);
    return aten.pixelShuffle(y, 2);
  });
}

/** y = x W^T + b, weight [out, in]. */
export function linear(input: Tensor, weight: Tensor, bias: Tensor | null = null): Tensor {
  return aten.linear(input, weight, bias);
}

// ---- normalisation ----------------------------------------------------------------------------

export interface NormOptions {
  weight?: Tensor | null;
  bias?: Tensor | null;
  runningMean?: Tensor | null;
  runningVar?: Tensor | null;
  momentum?: number;
  eps?: number;
}

/** Instance norm over each sample and channel; running stats only when given and not using input stats. */
export function instanceNorm(input: Tensor, o: NormOptions & { useInputStats?: boolean } = {}): Tensor {
  return aten.instanceNorm(
    input,
    o.weight ?? null,
    o.bias ?? null,
    o.runningMean ?? null,
    o.runningVar ?? null,
    o.useInputStats ?? true,
    o.momentum ?? 0.1,
    o.eps ?? 1e-5,
    true,
  );
}

/** Batch norm; in training mode it updates the running statistics in place. */
export function batchNorm(input: Tensor, o: NormOptions & { training?: boolean } = {}): Tensor {
  return aten.batchNorm(
    input,
    o.weight ?? null,
    o.bias ?? null,
    o.runningMean ?? null,
    o.runningVar ?? null,
    o.training ?? false,
    o.momentum ?? 0.1,
    o.eps ?? 1e-5,
    true,
  );
}

export function groupNorm(
  input: Tensor,
  numGroups: number,
  o: { weight?: Tensor | null; bias?: Tensor | null; eps?: number } = {},
): Tensor {
  return aten.groupNorm(input, numGroups, o.weight, o.bias, o.eps ?? 1e-5);
}

export function layerNorm(
  input: Tensor,
  normalizedShape: number[],
  o: { weight?: Tensor | null; bias?: Tensor | null; eps?: number } = {},
): Tensor {
  return aten.layerNorm(input, normalizedShape, o.weight, o.bias, o.eps ?? 1e-5);
}

// ---- padding, pooling, resampling -------------------------------------------------------------

export type PadMode = 'constant' | 'reflect' | 'replicate';

/** Pads the last dimensions: [left, right] or [left, right, top, bottom], as `F.pad`. */
export function pad(input: Tensor, padding: number[], mode: PadMode = 'constant', value = 0): Tensor {
  if (mode === 'constant') return aten.constantPadNd(input, padding, value);
  if (padding.length !== 2 && padding.length !== 4) {
    throw new TypeError(`pad: mode '${mode}' takes 2 or 4 padding sizes, got ${padding.length}`);
  }
  const two = padding.length === 4;
  if (mode === 'reflect') return two ? aten.reflectionPad2d(input, padding) : aten.reflectionPad1d(input, padding);
  if (mode === 'replicate') return two ? aten.replicationPad2d(input, padding) : aten.replicationPad1d(input, padding);
  throw new TypeError(`pad: unknown mode '${String(mode)}' (constant, reflect or replicate)`);
}

export interface PoolOptions {
  stride?: Pair;
  padding?: Pair;
  ceilMode?: boolean;
}

export function avgPool2d(
  input: Tensor,
  kernelSize: Pair,
  o: PoolOptions & { countIncludePad?: boolean } = {},
): Tensor {
  return aten.avgPool2d(
    input,
    pair(kernelSize, 'kernelSize'),
    o.stride === undefined ? [] : pair(o.stride, 'stride'),
    pair(o.padding ?? 0, 'padding'),
    o.ceilMode ?? false,
    o.countIncludePad ?? true,
  );
}

export function maxPool2d(input: Tensor, kernelSize: Pair, o: PoolOptions & { dilation?: Pair } = {}): Tensor {
  return aten.maxPool2d(
    input,
    pair(kernelSize, 'kernelSize'),
    o.stride === undefined ? [] : pair(o.stride, 'stride'),
    pair(o.padding ?? 0, 'padding'),
    pair(o.dilation ?? 1, 'dilation'),
    o.ceilMode ?? false,
  );
}

export function adaptiveAvgPool2d(input: Tensor, outputSize: Pair): Tensor {
  return aten.adaptiveAvgPool2d(input, pair(outputSize, 'outputSize'));
}

export interface InterpolateOptions {
  /** Output [H, W]; or give scaleFactor. */
  size?: [number, number];
  scaleFactor?: number | [number, number];
  mode?: 'nearest' | 'bilinear' | 'bicubic' | 'area';
  alignCorners?: boolean;
  /** Anti-aliased downsampling (bilinear and bicubic), as PIL and clean-fid resize. */
  antialias?: boolean;
}

/** Resamples [N, C, H, W] images, as `F.interpolate`. */
export function interpolate(input: Tensor, o: InterpolateOptions): Tensor {
  if ((o.size === undefined) === (o.scaleFactor === undefined)) {
    throw new TypeError('interpolate: give exactly one of size and scaleFactor');
  }
  if (input.ndim !== 4)
    throw new TypeError(`interpolate: expected a 4-D [N, C, H, W] input, got shape [${input.shape.join(', ')}]`);
  const size = o.size ? pair(o.size, 'size') : null;
  const scales =
    o.scaleFactor === undefined
      ? null
      : typeof o.scaleFactor === 'number'
        ? [o.scaleFactor, o.scaleFactor]
        : o.scaleFactor;
  const mode = o.mode ?? 'nearest';
  switch (mode) {
    case 'nearest':
      return aten.upsampleNearest2dVec(input, size, scales);
    case 'bilinear':
      return (o.antialias ? aten._upsampleBilinear2dAaVec : aten.upsampleBilinear2dVec)(
        input,
        size,
        o.alignCorners ?? false,
        scales,
      );
    case 'bicubic':
      return (o.antialias ? aten._upsampleBicubic2dAaVec : aten.upsampleBicubic2dVec)(
        input,
        size,
        o.alignCorners ?? false,
        scales,
      );
    case 'area': {
      const out = size ?? [Math.floor(input.shape[2]! * scales![0]!), Math.floor(input.shape[3]! * scales![1]!)];
      return adaptiveAvgPool2d(input, out as [number, number]);
    }
  }
  throw new TypeError(`interpolate: unknown mode '${String(mode)}'`);
}

/**
 * The sampling grid [N, H, W, 2] of the affine maps `theta` [N, 2, 3] for an output of `size`
 * [N, C, H, W], as `F.affine_grid`: theta maps normalised output coordinates (x, y in [-1, 1])
 * to normalised input coordinates.
 */
export function affineGrid(theta: Tensor, size: [number, number, number, number], alignCorners = false): Tensor {
  const ts = theta.shape;
  if (ts.length !== 3 || ts[1] !== 2 || ts[2] !== 3) {
    throw new TypeError(`affineGrid: theta must be [N, 2, 3] (2-D affine maps), got shape [${ts.join(', ')}]`);
  }
  if (!Array.isArray(size) || size.length !== 4 || !size.every((v) => Number.isInteger(v) && v > 0)) {
    throw new TypeError(`affineGrid: size must be [N, C, H, W] of positive integers, got ${JSON.stringify(size)}`);
  }
  if (size[0] !== ts[0])
    throw new TypeError(`affineGrid: size[0] (${size[0]}) must equal theta's batch size (${ts[0]})`);
  if (!isFloating(theta.dtype)) throw new TypeError(`affineGrid: theta must be floating point, got ${theta.dtype}`);
  return aten.affineGridGenerator(theta, size, alignCorners);
}

/** grid_sampler's interpolation and padding codes (as PyTorch's GridSamplerInterpolation and GridSamplerPadding). */
export const GRID_SAMPLE_MODE = { bilinear: 0, nearest: 1, bicubic: 2 } as const;
export const GRID_SAMPLE_PADDING = { zeros: 0, border: 1, reflection: 2 } as const;

export interface GridSampleOptions {
  mode?: keyof typeof GRID_SAMPLE_MODE;
  paddingMode?: keyof typeof GRID_SAMPLE_PADDING;
  /** Default false, as PyTorch. */
  alignCorners?: boolean;
}

/**
 * Samples `input` [N, C, H, W] at the normalised (x, y) locations of `grid` [N, Ho, Wo, 2] (x
 * indexes width, -1 and 1 the outer edges, or the corner pixels' centres with alignCorners), as
 * `F.grid_sample`. Result [N, C, Ho, Wo]. Differentiable in input and grid.
 */
export function gridSample(input: Tensor, grid: Tensor, o: GridSampleOptions = {}): Tensor {
  const is = input.shape;
  const gs = grid.shape;
  if (is.length !== 4) throw new TypeError(`gridSample: input must be 4-D [N, C, H, W], got shape [${is.join(', ')}]`);
  if (gs.length !== 4 || gs[3] !== 2)
    throw new TypeError(`gridSample: grid must be [N, Ho, Wo, 2], got shape [${gs.join(', ')}]`);
  if (is[0] !== gs[0]) throw new TypeError(`gridSample: input and grid batch sizes differ (${is[0]} and ${gs[0]})`);
  if (input.dtype !== grid.dtype || !isFloating(input.dtype)) {
    throw new TypeError(
      `gridSample: input and grid must share one floating dtype, got ${input.dtype} and ${grid.dtype}`,
    );
  }
  if (input.device !== grid.device)
    throw new TypeError(`gridSample: input is on ${input.device} but grid is on ${grid.device}`);
  const mode = GRID_SAMPLE_MODE[o.mode ?? 'bilinear'];
  if (mode === undefined)
    throw new TypeError(`gridSample: unknown mode '${String(o.mode)}' (bilinear, nearest or bicubic)`);
  const padding = GRID_SAMPLE_PADDING[o.paddingMode ?? 'zeros'];
  if (padding === undefined)
    throw new TypeError(`gridSample: unknown paddingMode '${String(o.paddingMode)}' (zeros, border or reflection)`);
  return aten.gridSampler(input, grid, mode, padding, o.alignCorners ?? false);
}

// ---- activations ------------------------------------------------------------------------------

export function relu(x: Tensor): Tensor {
  return x.relu();
}
export function leakyRelu(x: Tensor, negativeSlope = 0.01): Tensor {
  return aten.leakyRelu(x, negativeSlope);
}
/** In place: overwrites x (allowed where autograd does not need x, e.g. after a norm or conv). */
export function leakyRelu_(x: Tensor, negativeSlope = 0.01): Tensor {
  return aten.leakyRelu_(x, negativeSlope);
}
export function tanh(x: Tensor): Tensor {
  return x.tanh();
}
export function sigmoid(x: Tensor): Tensor {
  return x.sigmoid();
}
export function softplus(x: Tensor, beta = 1, threshold = 20): Tensor {
  return aten.softplus(x, beta, threshold);
}
export function gelu(x: Tensor, approximate: 'none' | 'tanh' = 'none'): Tensor {
  return approximate === 'none' ? aten.gelu(x) : aten.gelu(x, { approximate });
}
export function elu(x: Tensor, alpha = 1): Tensor {
  return aten.elu(x, alpha);
}
/** x * sigmoid(x) (swish), as `F.silu`. */
export function silu(x: Tensor): Tensor {
  return aten.silu(x);
}
/** In place (where autograd does not need x itself, e.g. right after a batch norm). */
export function silu_(x: Tensor): Tensor {
  return aten.silu_(x);
}
export function softmax(x: Tensor, dim: number): Tensor {
  return aten.softmaxInt(x, dim);
}
export function logSoftmax(x: Tensor, dim: number): Tensor {
  return aten.logSoftmaxInt(x, dim);
}
export function dropout(x: Tensor, p = 0.5, training = true): Tensor {
  if (!(p >= 0 && p <= 1)) throw new RangeError(`dropout: p must be in [0, 1], got ${p}`);
  return aten.dropout(x, p, training);
}

// ---- losses -----------------------------------------------------------------------------------

export function mseLoss(input: Tensor, target: Tensor, reduction: Reduction = 'mean'): Tensor {
  return aten.mseLoss(input, target, REDUCTION[reduction]);
}
export function l1Loss(input: Tensor, target: Tensor, reduction: Reduction = 'mean'): Tensor {
  return aten.l1Loss(input, target, REDUCTION[reduction]);
}
export function binaryCrossEntropyWithLogits(
  input: Tensor,
  target: Tensor,
  o: { weight?: Tensor; posWeight?: Tensor; reduction?: Reduction } = {},
): Tensor {
  return aten.binaryCrossEntropyWithLogits(input, target, o.weight, o.posWeight, REDUCTION[o.reduction ?? 'mean']);
}
/** Cross entropy from logits [N, C, ...] and class indices (int64) or class probabilities. */
export function crossEntropy(
  input: Tensor,
  target: Tensor,
  o: { weight?: Tensor; reduction?: Reduction; ignoreIndex?: number; labelSmoothing?: number } = {},
): Tensor {
  return aten.crossEntropyLoss(
    input,
    target,
    o.weight,
    REDUCTION[o.reduction ?? 'mean'],
    o.ignoreIndex ?? -100,
    o.labelSmoothing ?? 0,
  );
}

// ---- combinators -----------------------------------------------------------------------------

/** One-hot encoding of int64 class indices: [...] -> [..., numClasses] (int64, or `dtype`). */
export function oneHot(indices: Tensor, numClasses = -1, dtype?: DType): Tensor {
  const out = aten.oneHot(indices, numClasses);
  if (!dtype || dtype === 'int64') return out;
  const converted = out.to(dtype);
  out.dispose();
  return converted;
}
export function cat(tensors: Tensor[], dim = 0): Tensor {
  return aten.cat(tensors, dim);
}
export function stack(tensors: Tensor[], dim = 0): Tensor {
  return aten.stack(tensors, dim);
}
/** Elementwise choice: condition ? x : y (each may be a number). */
export function where(condition: Tensor, x: TensorOrScalar, y: TensorOrScalar): Tensor {
  if (typeof x === 'number')
    return typeof y === 'number' ? aten.whereScalar(condition, x, y) : aten.whereScalarSelf(condition, x, y);
  return typeof y === 'number' ? aten.whereScalarOther(condition, x, y) : aten.whereSelf(condition, x, y);
}
export function clamp(x: Tensor, min: number | null, max: number | null = null): Tensor {
  return x.clamp(min, max);
}

// ---- linear algebra --------------------------------------------------------------------------

/** Eigenvalues (ascending) and eigenvectors (columns) of symmetric matrices, as `torch.linalg.eigh`. */
export function eigh(x: Tensor, uplo: 'L' | 'U' = 'L'): { eigenvalues: Tensor; eigenvectors: Tensor } {
  const [eigenvalues, eigenvectors] = aten.linalgEigh(x, uplo);
  return { eigenvalues, eigenvectors };
}
/** Matrix-vector product. */
export function mv(m: Tensor, v: Tensor): Tensor {
  return aten.mv(m, v);
}
export function dot(a: Tensor, b: Tensor): Tensor {
  return aten.dot(a, b);
}
/** x / max(||x||_p, eps) along `dim`, as `F.normalize`. */
export function normalize(x: Tensor, dim = 1, p = 2, eps = 1e-12): Tensor {
  const n = aten.linalgVectorNorm(x, p, dim, true);
  const d = aten.clampMin(n, eps);
  n.dispose();
  const e = d.expandAs(x);
  d.dispose();
  const out = x.div(e);
  e.dispose();
  return out;
}
