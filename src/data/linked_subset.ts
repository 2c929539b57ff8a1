// A subset of a dataset as a flat dataset of its own, made by linking files (the demo's data/ and
// test-data/): the usable lesions with their split, the training lesions optionally cut down to a
// stratified pick. The demo's pipeline needs ISIC-2017's diagnoses, so the subset refuses others.
import { copyFile, link, mkdir } from 'node:fs/promises';
import path from 'node:path';
import { writeFileAtomic } from '../util/atomic_file.js';
import type { LesionRecord, Split } from './dataset.js';
import { ISIC2017_CLASSES } from './diagnosis.js';
import { LABELS_HEADER, labelsRow, maskFileName } from './flat_writer.js';
import { DataError } from './problems.js';
import { Rng } from './random.js';
import { readDataset } from './readers/index.js';
import { assignSplits } from './split.js';

type UsableRecord = LesionRecord & { image: string; mask: string; label: number };

/** Hard link, else copy. */
async function place(from: string, to: string): Promise<void> {
  try {
    await link(from, to);
  } catch {
    await copyFile(from, to);
  }
}

/** Every val and test lesion, and at most `maxTrain` training lesions picked per class in proportion (seeded). */
function pickLesions(
  usable: readonly UsableRecord[],
  splits: ReadonlyMap<string, Split>,
  maxTrain: number | null,
): Set<string> {
  const train = usable.filter((r) => splits.get(r.id) === 'train');
  if (maxTrain === null || train.length <= maxTrain) return new Set(usable.map((r) => r.id));
  const keep = new Set(usable.filter((r) => splits.get(r.id) !== 'train').map((r) => r.id));
  for (const [k] of ISIC2017_CLASSES.entries()) {
    const ofClass = train.filter((r) => r.label === k).sort((a, b) => (a.id < b.id ? -1 : 1));
    new Rng(0, 0xde30, k).shuffle(ofClass);
    for (const r of ofClass.slice(0, Math.max(1, Math.round((maxTrain * ofClass.length) / train.length))))
      keep.add(r.id);
  }
  return keep;
}

/** Links the lesions' files into `dst`, then writes split.csv (unless `withSplit` is false) and labels.csv last. */
async function writeLinked(
  dst: string,
  chosen: readonly UsableRecord[],
  splits: ReadonlyMap<string, Split>,
  withSplit: boolean,
): Promise<void> {
  await mkdir(path.join(dst, 'images'), { recursive: true });
  await mkdir(path.join(dst, 'masks'), { recursive: true });
  for (const r of chosen) {
    await place(r.image, path.join(dst, 'images', `${r.id}${path.extname(r.image)}`));
    await place(r.mask, path.join(dst, 'masks', maskFileName(r.id)));
  }
  const enc = (t: string) => new TextEncoder().encode(t);
  if (withSplit)
    await writeFileAtomic(
      path.join(dst, 'split.csv'),
      enc(['image_id,split', ...chosen.map((r) => `${r.id},${splits.get(r.id)}`)].join('\n') + '\n'),
    );
  await writeFileAtomic(
    path.join(dst, 'labels.csv'),
    enc([LABELS_HEADER, ...chosen.map((r) => labelsRow(r.id, ISIC2017_CLASSES[r.label]!))].join('\n') + '\n'),
  );
}

/**
 * A flat dataset in `dst` made of `src`'s usable lesions with their split (official, or the
 * stratified one prepare would make): every val and test lesion, and at most `maxTrain` training
 * lesions picked per class in proportion (seeded); with `only`, that split's lesions alone (and no
 * split.csv). Files are linked (or copied); labels.csv last.
 */
export async function writeLinkedSubset(
  src: string,
  dst: string,
  maxTrain: number | null,
  only?: Split,
): Promise<{ lesions: number; leftOut: number }> {
  const index = await readDataset(src);
  if (index.classes.join(',') !== ISIC2017_CLASSES.join(','))
    throw new DataError(
      `--data ${src}: diagnoses ${index.classes.join(', ')}; the demo needs ISIC-2017's ${ISIC2017_CLASSES.join(', ')}`,
    );
  const usable = index.records.filter(
    (r): r is UsableRecord => r.image !== null && r.mask !== null && r.label !== null && !r.synthetic,
  );
  const left = index.records.length - usable.length;
  if (usable.length === 0) throw new DataError(`--data ${src}: no lesion with an image, a mask and a label`);
  const splits = assignSplits(usable).splits;
  const keep = pickLesions(usable, splits, maxTrain);
  const chosen = usable.filter((r) => keep.has(r.id) && (only === undefined || splits.get(r.id) === only));
  await writeLinked(dst, chosen, splits, only === undefined);
  return { lesions: chosen.length, leftOut: left };
}
