// One lesion from files to training pixels: read, check, resize, label map. Problems name the file.
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { LesionRecord } from './dataset.js';
import { detectFrame } from './frame.js';
import { ImageError, checkMask, decodeImageTo, probe, resizeMaskTo, type Fit, type Size } from './image_io.js';
import {
  MASK_THRESHOLD,
  NO_SEGMENTATION,
  buildLabelBytes,
  type LabelMapOptions,
  type LabelMapSpec,
} from './label_map.js';
import type { Problem } from './problems.js';

export interface PreprocessOptions {
  width: number;
  height: number;
  fit: Fit;
  labelMap: LabelMapOptions;
}

/** Masks with more than this fraction of pixels far from 0 and 255 are reported. */
export const AMBIGUOUS_MASK_FRACTION = 0.01;

export interface PreparedLesion {
  id: string;
  label: number;
  /** [3, H, W] planar RGB at the target size (planar, so a batch becomes NCHW without a transpose). */
  image: Uint8Array;
  /** [H, W] label bytes (see label_map.ts; all NO_SEGMENTATION without a mask). */
  labelBytes: Uint8Array;
  sourceSize: Size;
  /** Lesion fraction of the source mask; null when the dataset has no masks. */
  coverage: number | null;
  /** Frame fraction of the label map (0 when the frame class is off). */
  frame: number;
}

export interface SourceBytes {
  image: Uint8Array;
  /** null for a lesion of a dataset without masks (its record's mask is null). */
  mask: Uint8Array | null;
}

/** Reads a lesion's image and mask files, or says which one cannot be read. */
export async function readSources(record: LesionRecord): Promise<SourceBytes | Problem> {
  const files: (Uint8Array | null)[] = [];
  for (const file of [record.image!, record.mask]) {
    try {
      files.push(file === null ? null : await readFile(file));
    } catch (e) {
      return {
        severity: 'error',
        kind: 'unreadable-file',
        id: record.id,
        file: file!,
        message: `cannot read the file (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`,
      };
    }
  }
  return { image: files[0]!, mask: files[1] ?? null };
}

/** sha256 of a lesion's source files: what the cache is keyed on. */
export async function hashSources(record: LesionRecord): Promise<string | Problem> {
  const src = await readSources(record);
  if (!('image' in src)) return src;
  return createHash('sha256')
    .update(src.image)
    .update(src.mask ?? 'no mask')
    .digest('hex');
}

/**
 * Decodes and checks one lesion. Returns the prepared pixels (or null when unusable) and every
 * problem found: errors (corrupt image or mask, mask of another size, colour mask) and warnings
 * (grey mask stored as colour, many mask values far from 0 and 255, empty mask).
 */
export async function prepareLesion(
  record: LesionRecord,
  bytes: SourceBytes,
  spec: LabelMapSpec,
  o: PreprocessOptions,
): Promise<{ lesion: PreparedLesion | null; problems: Problem[] }> {
  const problems: Problem[] = [];
  const id = record.id;
  const fail = (p: Omit<Problem, 'severity' | 'id'>) => {
    problems.push({ severity: 'error', id, ...p });
    return { lesion: null, problems };
  };
  const warn = (p: Omit<Problem, 'severity' | 'id'>) => problems.push({ severity: 'warning', id, ...p });
  const target = { width: o.width, height: o.height };
  try {
    if (bytes.mask === null) return { lesion: await prepareImageOnly(record, bytes.image, o), problems };
    const meta = await probe(bytes.image, record.image!);
    const source = { width: meta.width, height: meta.height };
    const { check, raw } = await checkMask(bytes.mask, record.mask!);
    if (check.channels === 'colour') {
      return fail({
        kind: 'bad-mask',
        file: record.mask!,
        message: `the mask has ${check.channelCount} channels with different values; a mask must be single-channel (0 = skin, 255 = lesion)`,
      });
    }
    if (check.channels === 'grey-as-colour') {
      warn({
        kind: 'mask-channels',
        file: record.mask!,
        message: `the mask has ${check.channelCount} identical channels; used as single-channel`,
      });
    }
    if (raw.width !== source.width || raw.height !== source.height) {
      return fail({
        kind: 'mask-size',
        file: record.mask!,
        message: `the mask is ${raw.width}x${raw.height} but its image is ${source.width}x${source.height}; they must match`,
      });
    }
    if (check.ambiguous > AMBIGUOUS_MASK_FRACTION) {
      warn({
        kind: 'mask-values',
        file: record.mask!,
        message: `${(100 * check.ambiguous).toFixed(1)}% of the mask's pixels are far from 0 and 255 (is it a probability map or a JPEG?); thresholded at ${MASK_THRESHOLD}`,
      });
    }
    if (check.coverage === 0)
      warn({
        kind: 'empty-mask',
        file: record.mask!,
        message: 'the mask marks no lesion pixel; the label map will be all skin',
      });
    const image = await decodeImageTo(bytes.image, record.image!, source, target, o.fit);
    const mask = resizeMaskTo(raw, target, o.fit);
    const n = o.width * o.height;
    let frame: Uint8Array | null = null;
    let frameCount = 0;
    if (spec.frame) {
      const c = image.content;
      let outside: Uint8Array | undefined;
      if (c.width !== o.width || c.height !== o.height) {
        outside = new Uint8Array(n).fill(1);
        for (let y = c.top; y < c.top + c.height; y++)
          outside.fill(0, y * o.width + c.left, y * o.width + c.left + c.width);
      }
      frame = detectFrame(image.pixels, thresholded(mask.pixels), o.width, o.height, {}, outside);
      for (let i = 0; i < n; i++) if (frame[i] && mask.pixels[i]! < MASK_THRESHOLD) frameCount++;
    }
    const labelBytes = buildLabelBytes(mask.pixels, record.label!, spec, o.width, o.height, frame);
    return {
      lesion: {
        id,
        label: record.label!,
        image: planar(image.pixels, n),
        labelBytes,
        sourceSize: source,
        coverage: check.coverage,
        frame: frameCount / n,
      },
      problems,
    };
  } catch (e) {
    if (e instanceof ImageError)
      return fail({ kind: e.kind, file: e.file, message: e.message.slice(e.file.length + 2) });
    throw e;
  }
}

/**
 * A lesion of a dataset without masks: its image, and a label map that says so (every pixel
 * NO_SEGMENTATION; no frame, which is found relative to the lesion), coverage null.
 */
async function prepareImageOnly(
  record: LesionRecord,
  bytes: Uint8Array,
  o: PreprocessOptions,
): Promise<PreparedLesion> {
  const meta = await probe(bytes, record.image!);
  const source = { width: meta.width, height: meta.height };
  const image = await decodeImageTo(bytes, record.image!, source, { width: o.width, height: o.height }, o.fit);
  const n = o.width * o.height;
  return {
    id: record.id,
    label: record.label!,
    image: planar(image.pixels, n),
    labelBytes: new Uint8Array(n).fill(NO_SEGMENTATION),
    sourceSize: source,
    coverage: null,
    frame: 0,
  };
}

/** [H, W, 3] interleaved to [3, H, W] planar. */
function planar(rgb: Uint8Array, n: number): Uint8Array {
  const out = new Uint8Array(3 * n);
  for (let i = 0, p = 0; i < n; i++, p += 3) {
    out[i] = rgb[p]!;
    out[n + i] = rgb[p + 1]!;
    out[2 * n + i] = rgb[p + 2]!;
  }
  return out;
}

function thresholded(m: Uint8Array): Uint8Array {
  const out = new Uint8Array(m.length);
  for (let i = 0; i < m.length; i++) out[i] = m[i]! >= MASK_THRESHOLD ? 1 : 0;
  return out;
}
