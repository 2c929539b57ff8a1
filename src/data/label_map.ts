// The label map with pathological meaning: (lesion mask, diagnosis[, image]) -> semantic classes.
//
// Version 1 (LABEL_MAP_VERSION), per pixel:
//   class 0            background skin
//   class 1 + k        lesion of diagnosis k (ISIC-2017: 1 nevus, 2 melanoma, 3 seborrheic keratosis)
//   class 1 + K        dermoscope frame (optional): dark corners and vignette detected in the image,
//                      and the padding added by the 'pad' fit; lesion pixels are never frame
//   boundary flag      (optional) lesion pixels within `boundary` pixels of the lesion's edge, the
//                      analogue of pix2pixHD's instance edge map; the image border is not an edge
// Masks are thresholded at 128 (lesion >= 128).
// Stored as one "label byte" per pixel: bits 0-6 the class, bit 7 the boundary flag.
// A lesion of a dataset without masks (ISIC 2019, 2020: cache manifest `masks: false`) has every
// pixel NO_SEGMENTATION (127), a value no class takes (there are at most 126): it one-hot encodes to
// all zeros and reads as neither skin, lesion nor frame, so it cannot pass for a segmentation (an
// all-skin or all-lesion map could).
// One-hot channels, in order: skin, each diagnosis, [frame], [boundary].
import * as torch from '../torch/index.js';
import type { Tensor } from '../torch/index.js';
import { erode } from './frame.js';

export const LABEL_MAP_VERSION = 1;
export const BOUNDARY_BIT = 128;
export const CLASS_BITS = 127;
export const MASK_THRESHOLD = 128;
/** Every pixel's label byte for a lesion without a mask (see the header). */
export const NO_SEGMENTATION = CLASS_BITS;

export interface LabelMapOptions {
  /** Width in pixels of the lesion-boundary channel; 0 turns it off. */
  boundary: number;
  /** Adds a dermoscope-frame class detected from the image. */
  frame: boolean;
}

export const DEFAULT_LABEL_MAP: LabelMapOptions = { boundary: 0, frame: false };

export interface LabelMapSpec extends LabelMapOptions {
  version: number;
  /** The diagnoses, in order (lesion class k + 1). */
  classes: string[];
  /** The one-hot channels' names, in order. */
  channels: string[];
}

export function labelMapSpec(classes: readonly string[], o: LabelMapOptions): LabelMapSpec {
  if (!Number.isInteger(o.boundary) || o.boundary < 0 || o.boundary > 64) {
    throw new RangeError(`label map: boundary width must be an integer from 0 to 64 pixels, got ${o.boundary}`);
  }
  if (classes.length === 0 || classes.length + 2 > CLASS_BITS) {
    throw new RangeError(`label map: expected 1 to ${CLASS_BITS - 2} diagnoses, got ${classes.length}`);
  }
  const channels = ['skin', ...classes.map((c) => `lesion:${c}`)];
  if (o.frame) channels.push('frame');
  if (o.boundary > 0) channels.push('boundary');
  return { version: LABEL_MAP_VERSION, classes: [...classes], boundary: o.boundary, frame: o.frame, channels };
}

/** The number of semantic classes stored in the label bytes' low bits. */
export function classCount(spec: LabelMapSpec): number {
  return 1 + spec.classes.length + (spec.frame ? 1 : 0);
}

export function frameClass(spec: LabelMapSpec): number {
  if (!spec.frame) throw new Error('label map: this label map has no frame class');
  return 1 + spec.classes.length;
}

/**
 * Builds label bytes [H*W] from a mask (any values; >= 128 is lesion), the diagnosis index and
 * optionally a 0/1 frame map.
 */
export function buildLabelBytes(
  mask: Uint8Array,
  diagnosis: number,
  spec: LabelMapSpec,
  width: number,
  height: number,
  frame: Uint8Array | null = null,
): Uint8Array {
  const n = width * height;
  if (mask.length !== n) throw new RangeError(`label map: mask has ${mask.length} pixels, expected ${width}x${height}`);
  if (!Number.isInteger(diagnosis) || diagnosis < 0 || diagnosis >= spec.classes.length) {
    throw new RangeError(
      `label map: diagnosis index ${diagnosis} is not one of 0..${spec.classes.length - 1} (${spec.classes.join(', ')})`,
    );
  }
  const out = new Uint8Array(n);
  const lesion = new Uint8Array(n);
  const lesionClass = 1 + diagnosis;
  const fc = spec.frame ? frameClass(spec) : 0;
  for (let i = 0; i < n; i++) {
    if (mask[i]! >= MASK_THRESHOLD) {
      lesion[i] = 1;
      out[i] = lesionClass;
    } else if (frame && spec.frame && frame[i]) {
      out[i] = fc;
    }
  }
  if (spec.boundary > 0) {
    // Lesion pixels that a (2w+1)-square erosion (radius w) removes: the inner band of width w.
    const interior = erode(lesion, width, height, spec.boundary, 1);
    for (let i = 0; i < n; i++) if (lesion[i] && !interior[i]) out[i]! |= BOUNDARY_BIT;
  }
  return out;
}

/**
 * One-hot encodes label bytes [B, 1, H, W] (uint8) into float32 [B, C, H, W] as `spec.channels`.
 * The result has channels-last strides (a row lookup per pixel in a [256, C] table, 4x faster here
 * than comparisons into a contiguous tensor); `.contiguous()` gives the NCHW layout if needed.
 * Convolutions accept either layout.
 */
export function oneHotLabels(labelBytes: Tensor, spec: LabelMapSpec): Tensor {
  const shape = labelBytes.shape;
  if (shape.length !== 4 || shape[1] !== 1 || labelBytes.dtype !== 'uint8') {
    throw new TypeError(
      `oneHotLabels: expected uint8 label bytes [B, 1, H, W], got ${labelBytes.dtype} [${shape.join(', ')}]`,
    );
  }
  return torch.tidy(() => {
    const table = torch.tensor(oneHotTable(spec), { shape: [256, spec.channels.length], device: labelBytes.device });
    const rows = torch.call('aten::embedding', table, labelBytes.squeeze(1).to('int64')) as Tensor; // [B, H, W, C]
    return rows.permute(0, 3, 1, 2);
  });
}

/** Row v of the table is the one-hot encoding of label byte v (also what an exported ONNX graph looks up). */
export function oneHotTable(spec: LabelMapSpec): Float32Array {
  const c = spec.channels.length;
  const k = classCount(spec);
  const t = new Float32Array(256 * c);
  for (let v = 0; v < 256; v++) {
    const cls = v & CLASS_BITS;
    if (cls < k) t[v * c + cls] = 1;
    if (spec.boundary > 0 && v & BOUNDARY_BIT) t[v * c + k] = 1;
  }
  return t;
}
