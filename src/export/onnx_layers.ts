// The ONNX form of each nn layer in eval mode (src/nn/layers): one emitter per class. Convolutions
// use their effective weight (spectral norm's weight_orig / sigma); ConvTranspose2d is a plain
// ConvTranspose whatever path its forward takes (the sub-pixel form computes the same function);
// norms use the statistics eval mode uses; Dropout is the identity.
import * as nn from '../nn/index.js';
import {
  ExportError,
  UnsupportedLayerError,
  emitter,
  join,
  type EmitterEntry,
  type ModuleWalker,
} from './onnx_emit.js';
import { float } from './onnx_graph.js';

type Pair = number | [number, number];
const pair = (x: Pair | undefined, fallback: number): [number, number] =>
  x === undefined ? [fallback, fallback] : typeof x === 'number' ? [x, x] : x;

function conv(w: ModuleWalker, m: nn.Conv2d, path: string, [x]: string[]): string {
  const o = m.options;
  const [ph, pw] = pair(o.padding, 0);
  const mode = o.paddingMode ?? 'zeros';
  let input = x!;
  if (mode !== 'zeros' && (ph > 0 || pw > 0))
    input = pad(w, `${path}/pad`, input, [pw, pw, ph, ph], mode === 'reflect' ? 'reflect' : 'edge');
  const pads = mode === 'zeros' ? [ph, pw, ph, pw] : [0, 0, 0, 0];
  const weight = w.weight(m, path, 'weight');
  const bias = w.optionalWeight(m, path, 'bias');
  return w.g.node(
    'Conv',
    bias ? [input, weight, bias] : [input, weight],
    {
      kernel_shape: m.kernelSize,
      strides: pair(o.stride, 1),
      pads,
      dilations: pair(o.dilation, 1),
      group: o.groups ?? 1,
    },
    { name: path },
  );
}

function convTranspose(w: ModuleWalker, m: nn.ConvTranspose2d, path: string, [x]: string[]): string {
  const o = m.options;
  const [ph, pw] = pair(o.padding, 0);
  const weight = w.weight(m, path, 'weight');
  const bias = w.optionalWeight(m, path, 'bias');
  return w.g.node(
    'ConvTranspose',
    bias ? [x!, weight, bias] : [x!, weight],
    {
      kernel_shape: m.kernelSize,
      strides: pair(o.stride, 1),
      pads: [ph, pw, ph, pw],
      output_padding: pair(o.outputPadding, 0),
      dilations: pair(o.dilation, 1),
      group: o.groups ?? 1,
    },
    { name: path },
  );
}

/** A norm's affine scale and shift, or ones and zeros for an affine-free one. */
function affine(w: ModuleWalker, m: nn.Module<any, any>, path: string, channels: number): [string, string] {
  const scale = w.optionalWeight(m, path, 'weight');
  const shift = w.optionalWeight(m, path, 'bias');
  return [
    scale ?? w.g.floatConstant(new Array<number>(channels).fill(1)),
    shift ?? w.g.floatConstant(new Array<number>(channels).fill(0)),
  ];
}

/** Eval-mode batch norm: (x - running_mean) / sqrt(running_var + eps) * weight + bias. */
function runningStatsNorm(w: ModuleWalker, m: nn.BatchNorm2d | nn.InstanceNorm2d, path: string, x: string): string {
  const [scale, shift] = affine(w, m, path, m.numFeatures);
  const mean = w.weight(m, path, 'running_mean');
  const variance = w.weight(m, path, 'running_var');
  return w.g.node('BatchNormalization', [x, scale, shift, mean, variance], { epsilon: float(m.eps) }, { name: path });
}

function batchNorm(w: ModuleWalker, m: nn.BatchNorm2d, path: string, [x]: string[]): string {
  if (m.evalStats === 'sample') {
    // Each sample's own statistics in eval mode (pix2pix's test protocol): instance norm.
    const [scale, shift] = affine(w, m, path, m.numFeatures);
    return w.g.node('InstanceNormalization', [x!, scale, shift], { epsilon: float(m.eps) }, { name: path });
  }
  if (!m.trackRunningStats) {
    throw new UnsupportedLayerError(
      path,
      m.constructor.name,
      'without running statistics it normalises each batch with its own statistics in eval mode too, which ONNX inference does not do',
    );
  }
  return runningStatsNorm(w, m, path, x!);
}

function instanceNorm(w: ModuleWalker, m: nn.InstanceNorm2d, path: string, [x]: string[]): string {
  // Eval mode with running statistics uses them, as batch norm does; otherwise each sample's own.
  if (m.trackRunningStats) return runningStatsNorm(w, m, path, x!);
  const [scale, shift] = affine(w, m, path, m.numFeatures);
  return w.g.node('InstanceNormalization', [x!, scale, shift], { epsilon: float(m.eps) }, { name: path });
}

/** Pad [left, right, top, bottom] of an NCHW value. */
function pad(
  w: ModuleWalker,
  name: string,
  x: string,
  [left, right, top, bottom]: number[],
  mode: 'reflect' | 'edge' | 'constant',
): string {
  const pads = w.g.int64Constant([0, 0, top!, left!, 0, 0, bottom!, right!]);
  return w.g.node('Pad', [x, pads], { mode }, { name });
}

const four = (p: number | [number, number, number, number]): number[] => (typeof p === 'number' ? [p, p, p, p] : p);

function upsample(w: ModuleWalker, m: nn.Upsample, path: string, [x]: string[]): string {
  const o = m.o;
  if (o.size !== undefined || o.scaleFactor === undefined)
    throw new UnsupportedLayerError(path, 'Upsample', 'only a scale factor is exported, not a fixed output size');
  if (o.antialias) throw new UnsupportedLayerError(path, 'Upsample', 'anti-aliased resampling has no ONNX form');
  const [sh, sw] = pair(o.scaleFactor, 1);
  const mode = o.mode ?? 'nearest';
  if (mode === 'nearest') return resize(w, path, x!, sh, sw, 'nearest');
  if (mode === 'bilinear') return resize(w, path, x!, sh, sw, o.alignCorners ? 'linear-align-corners' : 'linear');
  throw new UnsupportedLayerError(path, 'Upsample', `mode '${mode}' is not exported (nearest and bilinear are)`);
}

/**
 * torch's interpolate with scale factors: nearest reads source pixel floor(dst / scale)
 * (ONNX: asymmetric coordinates, floor), bilinear half-pixel centres (or aligned corners).
 */
export function resize(
  w: ModuleWalker,
  name: string,
  x: string,
  sh: number,
  sw: number,
  mode: 'nearest' | 'linear' | 'linear-align-corners',
): string {
  const scales = w.g.float32Constant([1, 1, sh, sw]);
  const attrs =
    mode === 'nearest'
      ? { mode: 'nearest', coordinate_transformation_mode: 'asymmetric', nearest_mode: 'floor' }
      : { mode: 'linear', coordinate_transformation_mode: mode === 'linear' ? 'half_pixel' : 'align_corners' };
  return w.g.node('Resize', [x, '', scales], attrs, { name });
}

function avgPool(w: ModuleWalker, m: nn.AvgPool2d, path: string, [x]: string[]): string {
  const o = m.o;
  if (o.ceilMode)
    throw new UnsupportedLayerError(
      path,
      'AvgPool2d',
      'ceil_mode windows that start in the padding differ between PyTorch and ONNX; only floor mode is exported',
    );
  const k = pair(m.kernelSize, 1);
  const [ph, pw] = pair(o.padding, 0);
  return w.g.node(
    'AveragePool',
    [x!],
    {
      kernel_shape: k,
      strides: pair(o.stride, 0).map((s, i) => s || k[i]!),
      pads: [ph, pw, ph, pw],
      count_include_pad: (o.countIncludePad ?? true) ? 1 : 0,
    },
    { name: path },
  );
}

function maxPool(w: ModuleWalker, m: nn.MaxPool2d, path: string, [x]: string[]): string {
  const o = m.o;
  if (o.ceilMode) throw new UnsupportedLayerError(path, 'MaxPool2d', 'only floor mode is exported');
  const k = pair(m.kernelSize, 1);
  const [ph, pw] = pair(o.padding, 0);
  return w.g.node(
    'MaxPool',
    [x!],
    {
      kernel_shape: k,
      strides: pair(o.stride, 0).map((s, i) => s || k[i]!),
      pads: [ph, pw, ph, pw],
      dilations: pair(o.dilation, 1),
    },
    { name: path },
  );
}

function sequential(w: ModuleWalker, m: nn.Sequential, path: string, [x]: string[]): string {
  let h = x!;
  m.layers.forEach((layer, i) => {
    h = w.emit(layer, join(path, String(i)), h);
  });
  return h;
}

const unary =
  (op: string) =>
  (w: ModuleWalker, _m: nn.Module<any, any>, path: string, [x]: string[]) =>
    w.g.node(op, [x!], {}, { name: path });

function dropout(_w: ModuleWalker, m: nn.Dropout, path: string, [x]: string[]): string {
  if (m.training) throw new ExportError(`layer '${path}' (Dropout) is in training mode`);
  return x!;
}

export const LAYER_EMITTERS: readonly EmitterEntry[] = [
  emitter(nn.Sequential, sequential),
  emitter(nn.Conv2d, conv),
  emitter(nn.ConvTranspose2d, convTranspose),
  emitter(nn.InstanceNorm2d, instanceNorm),
  emitter(nn.BatchNorm2d, batchNorm),
  // SyncBatchNorm2d is BatchNorm2d in eval mode (its forward says so).
  emitter(nn.SyncBatchNorm2d, batchNorm),
  emitter(nn.ReLU, unary('Relu')),
  emitter(nn.LeakyReLU, (w, m, path, [x]) =>
    w.g.node('LeakyRelu', [x!], { alpha: float(m.negativeSlope) }, { name: path }),
  ),
  emitter(nn.Tanh, unary('Tanh')),
  emitter(nn.Sigmoid, unary('Sigmoid')),
  emitter(nn.Identity, (_w, _m, _path, [x]) => x!),
  emitter(nn.Dropout, dropout),
  emitter(nn.ReflectionPad2d, (w, m, path, [x]) => pad(w, path, x!, four(m.padding), 'reflect')),
  emitter(nn.ReplicationPad2d, (w, m, path, [x]) => pad(w, path, x!, four(m.padding), 'edge')),
  emitter(nn.ZeroPad2d, (w, m, path, [x]) => pad(w, path, x!, four(m.padding), 'constant')),
  emitter(nn.Upsample, upsample),
  emitter(nn.AvgPool2d, avgPool),
  emitter(nn.MaxPool2d, maxPool),
];
