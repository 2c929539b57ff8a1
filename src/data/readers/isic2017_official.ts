// The official ISIC-2017 download layout:
//   ISIC-2017_{Training,Validation,Test_v2}_Data/ISIC_*.jpg            (plus *_superpixels.png, metadata)
//   ISIC-2017_{...}_Part1_GroundTruth/ISIC_*_segmentation.png
//   ISIC-2017_{...}_Part3_GroundTruth.csv                             (image_id,melanoma,seborrheic_keratosis)
// The part a lesion comes from is its official split.
import path from 'node:path';
import { ISIC2017_CLASSES } from '../diagnosis.js';
import type { DatasetIndex, DatasetReader, LesionRecord, Split } from '../dataset.js';
import { DataError, type Problem } from '../problems.js';
import { assemble, exists, listImages, listMasks } from './assemble.js';
import { readIsic2017Labels, type LabelRow } from './isic2017_labels.js';

export const ISIC2017_PARTS: { name: string; split: Split }[] = [
  { name: 'Training', split: 'train' },
  { name: 'Validation', split: 'val' },
  { name: 'Test_v2', split: 'test' },
];

const dataDir = (part: string) => `ISIC-2017_${part}_Data`;
const maskDir = (part: string) => `ISIC-2017_${part}_Part1_GroundTruth`;
const labelsCsv = (part: string) => `ISIC-2017_${part}_Part3_GroundTruth.csv`;

/** Files the official image folders hold besides the lesion images. */
const notALesion = (name: string) =>
  name.endsWith('_superpixels.png') || /metadata.*\.csv$/i.test(name) || name.toLowerCase().endsWith('.csv');

export const isic2017Reader: DatasetReader = {
  name: 'isic2017',
  description:
    'the official ISIC-2017 layout (ISIC-2017_Training_Data/, ISIC-2017_Training_Part1_GroundTruth/, ISIC-2017_Training_Part3_GroundTruth.csv, and the same for Validation and Test_v2)',
  async detect(dir) {
    for (const p of ISIC2017_PARTS) if (await exists(path.join(dir, dataDir(p.name)))) return true;
    return false;
  },
  async read(dir) {
    const root = path.resolve(dir);
    const problems: Problem[] = [];
    const records: LesionRecord[] = [];
    const seen = new Map<string, Split>();
    let parts = 0;
    for (const p of ISIC2017_PARTS) {
      const data = path.join(root, dataDir(p.name));
      if (!(await exists(data))) continue;
      parts++;
      const masksDir = path.join(root, maskDir(p.name));
      const labelsFile = path.join(root, labelsCsv(p.name));
      const images = await listImages(data, problems, notALesion);
      let masks = new Map<string, string>();
      if (await exists(masksDir)) masks = await listMasks(masksDir, problems);
      else
        problems.push({
          severity: 'error',
          kind: 'missing-folder',
          file: masksDir,
          message: `the ${p.name} masks folder is missing; download ${maskDir(p.name)}.zip and unpack it here`,
        });
      const labels = new Map<string, LabelRow>();
      const badLabels = new Set<string>();
      if (await exists(labelsFile)) await readIsic2017Labels(labelsFile, labels, problems, badLabels);
      else
        problems.push({
          severity: 'error',
          kind: 'missing-file',
          file: labelsFile,
          message: `the ${p.name} labels CSV is missing; download ${labelsCsv(p.name)} into ${root}`,
        });
      for (const r of assemble({ images, masks, labels, badLabels, labelsFile, masksDir, split: p.split }, problems)) {
        const other = seen.get(r.id);
        if (other) {
          problems.push({
            severity: 'error',
            kind: 'duplicate-id',
            id: r.id,
            file: r.image ?? labelsFile,
            message: `also in the ${other} part; an id may appear in one part only`,
          });
          continue;
        }
        seen.set(r.id, p.split);
        records.push(r);
      }
    }
    if (parts === 0)
      throw new DataError(
        `${root}: no ISIC-2017 image folder (${ISIC2017_PARTS.map((p) => dataDir(p.name)).join(', ')})`,
      );
    if (records.length === 0) throw new DataError(`${root}: the ISIC-2017 folders hold no lesion images`, problems);
    return { root, format: 'isic2017', classes: [...ISIC2017_CLASSES], records, problems } satisfies DatasetIndex;
  },
};
