// The label map's bytes without libtorch (so that the browser studio builds the same bytes as the
// server): the version, the byte layout, the spec, buildLabelBytes and the one-hot table. The
// format is described in label_map.ts, which re-exports all of this and adds the tensor one-hot step.
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
