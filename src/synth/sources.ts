// Where synthesis takes lesion shapes from: a dataset's masks (with their diagnoses) or a folder
// of mask files; and each mask brought to the run's size, checked, as a 0/255 mask (plus the
// dermoscope frame of its image when the run's label map has a frame class).
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { badIds, type Split } from '../data/dataset.js';
import { checkMask, resizeMaskTo, type Fit } from '../data/image_io.js';
import { CLASS_BITS, MASK_THRESHOLD, frameClass, type LabelMapSpec } from '../data/label_map.js';
import { prepareLesion } from '../data/preprocess.js';
import { DataError, formatProblem } from '../data/problems.js';
import { MASK_SUFFIX, listDir } from '../data/readers/assemble.js';
import { readDataset } from '../data/readers/index.js';
import { DEFAULT_SPLIT, assignSplits } from '../data/split.js';
import type { MaskSource } from './plan.js';

export interface DatasetSources {
  sources: MaskSource[];
  /** Real lesions per diagnosis index among the sources (what --balance fills up). */
  counts: number[];
  /** Lesions left out because of errors (with --skip-bad), one line each. */
  skipped: string[];
}

/**
 * The lesions of a dataset's split ('all': every split) as mask sources (a dataset without its
 * own split is split as `data prepare` does by default, so test masks stay out of training sets). The dataset's diagnoses
 * must be the run's. Lesions with errors stop the run, or are left out and listed with `skipBad`.
 */
export async function datasetSources(
  dir: string,
  split: Split | 'all',
  classes: readonly string[],
  skipBad: boolean,
): Promise<DatasetSources> {
  const index = await readDataset(dir);
  if (index.classes.join(',') !== classes.join(',')) {
    throw new DataError(
      `${dir}: the dataset's diagnoses (${index.classes.join(', ')}) are not the run's (${classes.join(', ')})`,
    );
  }
  const bad = badIds(index);
  const errors = index.problems.filter((p) => p.severity === 'error');
  if (errors.length > 0 && !skipBad) {
    throw new DataError(
      `${dir}: ${bad.size || errors.length} lesion(s) cannot be used:\n${errors.slice(0, 10).map(formatProblem).join('\n')}${errors.length > 10 ? `\n... and ${errors.length - 10} more (see dermosynth data inspect)` : ''}\nfix them, or pass --skip-bad to leave them out`,
      errors,
    );
  }
  // A dataset without its own split is split as `data prepare` does by default.
  const splits = assignSplits(index.records, DEFAULT_SPLIT).splits;
  const records = index.records.filter((r) => !r.synthetic && (split === 'all' || splits.get(r.id) === split));
  const skipped: string[] = [];
  const sources: MaskSource[] = [];
  const counts = classes.map(() => 0);
  for (const r of records) {
    if (bad.has(r.id) || !r.mask || !r.image || r.label === null) {
      skipped.push(r.id);
      continue;
    }
    sources.push({ id: r.id, file: r.mask, image: r.image, diagnosis: r.label });
    counts[r.label]!++;
  }
  if (sources.length === 0) {
    throw new DataError(
      `${dir}: no usable lesion in the ${split === 'all' ? 'dataset' : `${split} split`}${split !== 'all' ? '; choose another --split' : ''}`,
    );
  }
  return { sources, counts, skipped };
}

/** Every PNG mask in a folder (`<id>_segmentation.png` or `<id>.png`), without diagnosis. */
export async function folderSources(dir: string): Promise<MaskSource[]> {
  const names = (await listDir(dir)).filter((n) => !n.startsWith('.'));
  const pngs = names.filter((n) => n.toLowerCase().endsWith('.png'));
  if (pngs.length === 0)
    throw new DataError(`${dir}: no PNG masks in the folder; put lesion masks there (0 = skin, 255 = lesion)`);
  return pngs.map((n) => ({
    id: n.endsWith(MASK_SUFFIX) ? n.slice(0, -MASK_SUFFIX.length) : n.slice(0, -4),
    file: path.join(dir, n),
    image: null,
    diagnosis: null,
  }));
}

export interface SourceTarget {
  width: number;
  height: number;
  fit: Fit;
  spec: LabelMapSpec;
}

export interface LoadedMask {
  /** 0/255 at the run's size. */
  mask: Uint8Array;
  /** 0/1 dermoscope frame at the run's size, or null (no frame class, or no image). */
  frame: Uint8Array | null;
  /** The mask file's own size when it was not the run's (it was resized). */
  resizedFrom: { width: number; height: number } | null;
}

/** Reads, checks and resizes one source mask; the errors name the file and say what to do. */
export async function loadSourceMask(src: MaskSource, t: SourceTarget): Promise<LoadedMask> {
  let bytes: Uint8Array;
  try {
    bytes = await readFile(src.file);
  } catch (e) {
    throw new DataError(
      `${src.file}: cannot read the mask (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`,
    );
  }
  const { check, raw } = await checkMask(bytes, src.file);
  if (check.channels === 'colour')
    throw new DataError(
      `${src.file}: the mask has ${check.channelCount} channels with different values; a mask must be single-channel (0 = skin, 255 = lesion)`,
    );
  if (check.coverage === 0)
    throw new DataError(
      `${src.file}: the mask is empty (no pixel >= ${MASK_THRESHOLD}); a synthetic lesion needs a lesion shape: remove the file or fix the mask`,
    );
  const size = { width: t.width, height: t.height };
  const resized = raw.width !== t.width || raw.height !== t.height;
  const pixels = resizeMaskTo(raw, size, t.fit).pixels;
  let count = 0;
  for (let i = 0; i < pixels.length; i++) {
    const on = pixels[i]! >= MASK_THRESHOLD;
    pixels[i] = on ? 255 : 0;
    if (on) count++;
  }
  if (count === 0)
    throw new DataError(
      `${src.file}: the lesion vanishes at the run's size ${t.width}x${t.height} (it is too small); remove the file`,
    );
  let frame: Uint8Array | null = null;
  if (t.spec.frame && src.image) {
    // The frame is found in the image, exactly as the training data's was.
    const record = { id: src.id, image: src.image, mask: src.file, label: 0, split: null, synthetic: false };
    const image = await readFile(src.image).catch((e) => {
      throw new DataError(
        `${src.image}: cannot read the image (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`,
      );
    });
    const { lesion, problems } = await prepareLesion(record, { image, mask: bytes }, t.spec, {
      width: t.width,
      height: t.height,
      fit: t.fit,
      labelMap: t.spec,
    });
    if (!lesion)
      throw new DataError(
        problems
          .filter((p) => p.severity === 'error')
          .map(formatProblem)
          .join('; '),
      );
    const fc = frameClass(t.spec);
    frame = lesion.labelBytes.map((v) => ((v & CLASS_BITS) === fc ? 1 : 0));
  }
  return { mask: pixels, frame, resizedFrom: resized ? { width: raw.width, height: raw.height } : null };
}
