// Writing lesions in the flat layout (see readers/flat.ts): images/<id>.<ext>,
// masks/<id>_segmentation.png and labels.csv rows: in ISIC-2017's format for its three diagnoses,
// otherwise `image_id,diagnosis` with the vocabulary in classes.txt (one name per line, in label
// order). Used by the sample dataset, synthesis and `data merge`.
import sharp from 'sharp';
import { ISIC2017_CLASSES } from './diagnosis.js';
import { MASK_SUFFIX } from './readers/assemble.js';

export const LABELS_HEADER = 'image_id,melanoma,seborrheic_keratosis';

export type ImageFormat = 'jpg' | 'png';
export const IMAGE_FORMATS: readonly ImageFormat[] = ['jpg', 'png'];

/** A labels.csv row for a lesion of diagnosis `name` (one of ISIC2017_CLASSES). */
export function labelsRow(id: string, name: string): string {
  if (!(ISIC2017_CLASSES as readonly string[]).includes(name)) {
    throw new RangeError(`labels.csv: '${name}' is not an ISIC-2017 diagnosis (${ISIC2017_CLASSES.join(', ')})`);
  }
  return `${id},${name === 'melanoma' ? '1.0' : '0.0'},${name === 'seborrheic_keratosis' ? '1.0' : '0.0'}`;
}

/** The diagnoses' order file of a flat dataset whose vocabulary is not ISIC-2017's. */
export const CLASSES_FILE = 'classes.txt';
export const NAMED_LABELS_HEADER = 'image_id,diagnosis';

export function isIsic2017Vocabulary(classes: readonly string[]): boolean {
  return classes.length === ISIC2017_CLASSES.length && classes.every((c, i) => c === ISIC2017_CLASSES[i]);
}

/** labels.csv's header for a vocabulary. */
export function labelsHeaderFor(classes: readonly string[]): string {
  return isIsic2017Vocabulary(classes) ? LABELS_HEADER : NAMED_LABELS_HEADER;
}

/** A labels.csv row for a lesion of diagnosis `name` of the vocabulary `classes`. */
export function labelsRowFor(id: string, name: string, classes: readonly string[]): string {
  if (isIsic2017Vocabulary(classes)) return labelsRow(id, name);
  if (!classes.includes(name))
    throw new RangeError(`labels.csv: '${name}' is not one of the diagnoses ${classes.join(', ')}`);
  return `${id},${name}`;
}

/** classes.txt's text for a vocabulary, or null when it is ISIC-2017's (labels.csv says it all). */
export function classesFileText(classes: readonly string[]): string | null {
  return isIsic2017Vocabulary(classes) ? null : classes.join('\n') + '\n';
}

export function maskFileName(id: string): string {
  return `${id}${MASK_SUFFIX}`;
}

/** A one-channel PNG of a [H*W] mask (sharp writes one-channel raw input as RGB unless told). */
export function encodeMaskPng(mask: Uint8Array, width: number, height: number): Promise<Buffer> {
  return sharp(mask, { raw: { width, height, channels: 1 } })
    .toColourspace('b-w')
    .png()
    .toBuffer();
}

/** Interleaved RGB [H*W*3] as JPEG (quality 95 unless given) or PNG. */
export function encodeRgb(
  rgb: Uint8Array,
  width: number,
  height: number,
  format: ImageFormat,
  quality = 95,
): Promise<Buffer> {
  const img = sharp(rgb, { raw: { width, height, channels: 3 } });
  return (format === 'jpg' ? img.jpeg({ quality }) : img.png()).toBuffer();
}
