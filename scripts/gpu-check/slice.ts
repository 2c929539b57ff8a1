// The GPU check's data: a small slice of ../shared/data/isic2017-512 (its layout: images/, masks/,
// labels.csv, split.csv), resized to the check's size, written to OUT.
//   npx tsx scripts/gpu-check/slice.ts SRC OUT [--size 256] [--train 96] [--val 24]
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { parseCsv, requireColumn } from '../../src/data/csv.js';

const [src, out] = process.argv.slice(2, 4);
if (!src || !out) throw new Error('usage: slice.ts SRC OUT [--size 256] [--train 96] [--val 24]');
const opt = (name: string, dflt: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : dflt;
};
const size = opt('size', 256);
const split = parseCsv(readFileSync(path.join(src, 'split.csv'), 'utf8'), 'split.csv');
const splitCol = requireColumn(split, 'isic2017_split');
const idCol = requireColumn(split, 'image_id');
// The first lesions of each split in file order (deterministic; enough for a throughput and smoke check).
const want: Record<string, number> = { train: opt('train', 96), val: opt('val', 24) };
const chosen = new Set<string>();
for (const { cells } of split.rows) {
  const s = cells[splitCol]!;
  if ((want[s] ?? 0) > 0) {
    chosen.add(cells[idCol]!);
    want[s]!--;
  }
}
mkdirSync(path.join(out, 'images'), { recursive: true });
mkdirSync(path.join(out, 'masks'), { recursive: true });
for (const id of chosen) {
  await sharp(path.join(src, 'images', `${id}.jpg`))
    .resize(size, size)
    .jpeg({ quality: 92 })
    .toFile(path.join(out, 'images', `${id}.jpg`));
  await sharp(path.join(src, 'masks', `${id}_segmentation.png`))
    .resize(size, size, { kernel: 'nearest' })
    .toColourspace('b-w')
    .png()
    .toFile(path.join(out, 'masks', `${id}_segmentation.png`));
}
for (const file of ['labels.csv', 'split.csv']) {
  const lines = readFileSync(path.join(src, file), 'utf8').trim().split('\n');
  writeFileSync(
    path.join(out, file),
    [lines[0], ...lines.slice(1).filter((l) => chosen.has(l.split(',')[0]!))].join('\n') + '\n',
  );
}
console.log(`gpu-check data: ${chosen.size} lesions at ${size}x${size} from ${src}`);
