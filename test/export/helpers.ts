// Shared by the export tests: running an ONNX model in onnxruntime-node (CPU, one thread),
// dermosynth's own output on the same label maps, label maps with every kind of label byte, and
// the differences between the two.
import * as ort from 'onnxruntime-node';
import * as torch from '../../src/torch/index.js';
import * as nn from '../../src/nn/index.js';
import { Rng } from '../../src/data/random.js';
import {
  BOUNDARY_BIT,
  NO_SEGMENTATION,
  classCount,
  oneHotLabels,
  type LabelMapSpec,
} from '../../src/data/label_map.js';

/** The bound of the issue for float32 exports: max absolute difference from dermosynth's generator. */
export const FP32_BOUND = 1e-4;
/**
 * The stated bound for fp16 exports: two levels of the 8-bit image (4 / 255 in [-1, 1]), and a
 * mean difference of a quarter level. float16's unit roundoff is 2^-11 (4.9e-4): every weight and
 * every activation between nodes is rounded to it (onnxruntime's CPU provider runs the nodes it
 * has no float16 kernel for, convolutions and norms among them, in float32 between Casts it
 * inserts; a GPU may accumulate in float16 and differ more); the normalisations after each
 * convolution keep the relative error from growing with depth, and tanh at the end shrinks it.
 * Measured on the variants of generators.test.ts and the runs of export_cli.test.ts: at most
 * 1.7e-3 (proposed, pix2pixhd with local enhancers), 3e-3 (pix2pixhd with batch norm), 4.8e-3
 * (pix2pix) and 1.0e-2 (SPADE, whose residual stream is not normalised, its last convolution
 * scaled 12x to bring its untrained image to unit scale); means at most 6.3e-4. float32 exports:
 * at most about 1e-5.
 */
export const FP16_BOUND = 4 / 255;
/** Half an 8-bit level on average (the U-Net with resize upsampling and batch norm measured 2.2e-3). */
export const FP16_MEAN_BOUND = 1 / 255;

export async function session(model: Uint8Array): Promise<ort.InferenceSession> {
  return ort.InferenceSession.create(model, {
    intraOpNumThreads: 1,
    interOpNumThreads: 1,
    graphOptimizationLevel: 'all',
  });
}

/** Runs the model on uint8 label bytes [N, 1, H, W] (input 'labels') or a one-hot map (input 'label_onehot'); returns 'image'. */
export async function runOnnx(
  s: ort.InferenceSession,
  feeds: Record<string, ort.Tensor>,
  output = 'image',
): Promise<{ data: Float32Array; dims: readonly number[] }> {
  const out = await s.run(feeds);
  const t = out[output]!;
  return { data: t.data as Float32Array, dims: t.dims };
}

export function labelFeed(labels: Uint8Array, n: number, h: number, w: number): Record<string, ort.Tensor> {
  return { labels: new ort.Tensor('uint8', labels, [n, 1, h, w]) };
}

/** The one-hot map of label bytes, as dermosynth makes it, as an 'label_onehot' feed. */
export function oneHotFeed(
  labels: Uint8Array,
  n: number,
  h: number,
  w: number,
  spec: LabelMapSpec,
): Record<string, ort.Tensor> {
  const data = torch.tidy(() =>
    oneHotLabels(torch.fromBytes(labels, 'uint8', [n, 1, h, w]), spec)
      .contiguous()
      .toFloat32Array(),
  );
  return { label_onehot: new ort.Tensor('float32', data, [n, spec.channels.length, h, w]) };
}

/** dermosynth's generator on label bytes [N, 1, H, W] (float32, NCHW). */
export function reference(
  generator: nn.Module,
  spec: LabelMapSpec,
  labels: Uint8Array,
  n: number,
  h: number,
  w: number,
): Float32Array {
  return torch.inferenceMode(() =>
    torch.tidy(() =>
      generator
        .call(oneHotLabels(torch.fromBytes(labels, 'uint8', [n, 1, h, w]), spec))
        .contiguous()
        .toFloat32Array(),
    ),
  );
}

/**
 * n label maps [n, 1, h, w]: skin with a lesion disc of each diagnosis in turn (its boundary bit
 * set on a ring inside its edge when the map has a boundary channel), frame corners when it has a
 * frame class, and a few pixels of every other kind of byte (NO_SEGMENTATION, class values no class
 * takes, the boundary bit on skin), which both one-hot encodings must treat alike.
 */
export function lesionLabels(spec: LabelMapSpec, n: number, h: number, w: number, seed = 0): Uint8Array {
  const rng = new Rng(seed, 7);
  const out = new Uint8Array(n * h * w);
  const k = classCount(spec);
  for (let b = 0; b < n; b++) {
    const cx = rng.uniform(w * 0.3, w * 0.7);
    const cy = rng.uniform(h * 0.3, h * 0.7);
    const r = rng.uniform(0.15, 0.35) * Math.min(w, h);
    const lesion = 1 + (b % spec.classes.length);
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        const d = Math.hypot(x - cx, y - cy);
        let v = 0;
        if (d < r) v = lesion | (spec.boundary > 0 && d > r - spec.boundary ? BOUNDARY_BIT : 0);
        else if (spec.frame && Math.hypot(x - w / 2, y - h / 2) > 0.6 * Math.min(w, h)) v = k - 1;
        out[b * h * w + y * w + x] = v;
      }
    }
    for (const v of [NO_SEGMENTATION, k, 100, BOUNDARY_BIT, 255]) out[b * h * w + Math.floor(rng.random() * h * w)] = v;
  }
  return out;
}

export interface Difference {
  max: number;
  mean: number;
  /** The reference's largest magnitude and root mean square (what the differences are relative to). */
  scale: number;
  rms: number;
}

export function difference(ref: Float32Array, got: Float32Array): Difference {
  if (ref.length !== got.length) throw new Error(`difference: ${ref.length} reference values, ${got.length} values`);
  let max = 0;
  let sum = 0;
  let scale = 0;
  let sq = 0;
  for (let i = 0; i < ref.length; i++) {
    const d = Math.abs(ref[i]! - got[i]!);
    if (!(d <= max)) max = Number.isNaN(d) ? Infinity : d;
    sum += d;
    scale = Math.max(scale, Math.abs(ref[i]!));
    sq += ref[i]! * ref[i]!;
  }
  return { max, mean: sum / ref.length, scale, rms: Math.sqrt(sq / ref.length) };
}

/**
 * Sets every batch norm's running statistics to those of one training-mode forward of `input`
 * (momentum 1), as a trained network's would be, then freezes the module for inference: with the
 * initial statistics (mean 0, variance 1) the activations are far from normalised.
 */
export function calibrateBatchNorm(module: nn.Module<any, any>, input: torch.Tensor): void {
  for (const [, m] of module.namedModules()) if (m instanceof nn.BatchNorm2d) (m as { momentum: number }).momentum = 1;
  module.train();
  torch.noGrad(() => torch.tidy(() => void module.call(input)));
  module.freezeForInference();
}
