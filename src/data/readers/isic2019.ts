// ISIC 2019 (Task 1: diagnoses, BCN20000 + HAM10000 + MSK) as it is downloaded:
//   ISIC_2019_Training_Input/ISIC_xxxxxxx.jpg (possibly one folder down, as the zip unpacks);
//     ids ending in _downsampled (ISIC_0000000_downsampled) are lesions too
//   ISIC_2019_Training_GroundTruth.csv: image,MEL,NV,BCC,AK,BKL,DF,VASC,SCC,UNK (one-hot, "1.0"/"0.0";
//     UNK is never 1 in the training data but is a class of the challenge)
//   ISIC_2019_Training_Metadata.csv (optional): image,age_approx,anatom_site_general,lesion_id,sex;
//     lesion_id is the record's group (splits keep a lesion's images together); empty: no group
// ISIC 2019 has no segmentation masks: the index says so (masks: false), for classifiers only.
import path from 'node:path';
import type { DatasetIndex, DatasetReader } from '../dataset.js';
import { DataError, type Problem } from '../problems.js';
import { findFiles } from './assemble.js';
import { imagesOf, joinRows, readLesionIds, type IdRow } from './join.js';
import { readOneHot } from './one_hot.js';

/** ISIC 2019's diagnoses, in its ground truth's column order. */
export const ISIC2019_CLASSES = ['MEL', 'NV', 'BCC', 'AK', 'BKL', 'DF', 'VASC', 'SCC', 'UNK'] as const;

const IMAGES = /^ISIC_2019_Training_Input$/;
const GROUND_TRUTH = /^ISIC_2019_Training_GroundTruth\.csv$/;
const METADATA = /^ISIC_2019_Training_Metadata\.csv$/;

export const isic2019Reader: DatasetReader = {
  name: 'isic2019',
  description: `ISIC 2019 as downloaded: ISIC_2019_Training_Input/ISIC_*.jpg, ISIC_2019_Training_GroundTruth.csv (${ISIC2019_CLASSES.join(', ')}), optional ISIC_2019_Training_Metadata.csv (lesion_id); no masks: classifiers only`,
  async detect(dir) {
    return (await findFiles(dir, GROUND_TRUTH, false)).length > 0;
  },
  async read(dir) {
    const root = path.resolve(dir);
    const problems: Problem[] = [];
    const rejected = new Set<string>();
    const rows = new Map<string, IdRow>();
    const labelsFile = (await findFiles(root, GROUND_TRUTH, false))[0];
    if (!labelsFile)
      throw new DataError(
        `${root}: no ISIC_2019_Training_GroundTruth.csv; download it from https://challenge.isic-archive.com/data/ into this folder`,
      );
    await readOneHot(labelsFile, ISIC2019_CLASSES, null, rows, problems, rejected);
    const metadata = (await findFiles(root, METADATA, false))[0];
    if (metadata) await readLesionIds(metadata, rows);
    const images = await imagesOf(await findFiles(root, IMAGES, true), problems);
    if (images.size === 0)
      throw new DataError(
        `${root}: no ISIC_*.jpg images in ISIC_2019_Training_Input; unpack ISIC_2019_Training_Input.zip here`,
        problems,
      );
    const records = joinRows({ images, rows, rejected, labelsFile, masks: null }, problems);
    return {
      root,
      format: 'isic2019',
      classes: [...ISIC2019_CLASSES],
      records,
      problems,
      masks: false,
    } satisfies DatasetIndex;
  },
};
