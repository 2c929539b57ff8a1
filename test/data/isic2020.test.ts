// The ISIC 2020 reader (src/data/readers/isic2020.ts) on folders built here as they are downloaded,
// and what a dataset without masks can and cannot do: prepare a cache that says it has no masks
// (label maps that cannot pass for a segmentation), inspect it, train classifiers on it; the GAN
// refuses it, as a folder or as a cache.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LesionCache, MANIFEST_FILE } from '../../src/data/cache.js';
import { NO_SEGMENTATION } from '../../src/data/label_map.js';
import { prepareCache } from '../../src/data/prepare.js';
import { readDataset } from '../../src/data/readers/index.js';
import { ISIC2020_CLASSES } from '../../src/data/readers/isic2020.js';
import { writeSampleDataset } from '../../src/data/sample_dataset.js';
import { LesionSet } from '../../src/data/lesion_set.js';
import { cliRunner, TINY } from '../helpers/cli.js';

const work = mkdtempSync(path.join(os.tmpdir(), 'dermosynth-isic2020-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

let jpeg: Buffer;
beforeAll(async () => {
  jpeg = await sharp({ create: { width: 48, height: 32, channels: 3, background: { r: 200, g: 140, b: 120 } } })
    .jpeg()
    .toBuffer();
});

const id = (n: number) => `ISIC_${String(15000 + n).padStart(7, '0')}`;
const HEADER =
  'image_name,patient_id,lesion_id,sex,age_approx,anatom_site_general_challenge,diagnosis,benign_malignant,target';
const row = (n: number, target: string, lesion = `IL_${n}`) =>
  `${id(n)},IP_${n % 3},${lesion},male,45.0,torso,${target === '1' ? 'melanoma' : 'nevus'},${target === '1' ? 'malignant' : 'benign'},${target}`;

/** ISIC 2020 in the Kaggle layout (jpeg/train/) with the _v2 ground truth; `targets[n]` for lesion n. */
function make2020(dir: string, targets: string[], o: { lesion?: (n: number) => string } = {}): string {
  const train = path.join(dir, 'jpeg', 'train');
  mkdirSync(train, { recursive: true });
  targets.forEach((_, n) => writeFileSync(path.join(train, `${id(n)}.jpg`), jpeg));
  const gt = path.join(dir, 'ISIC_2020_Training_GroundTruth_v2.csv');
  writeFileSync(gt, [HEADER, ...targets.map((t, n) => row(n, t, o.lesion?.(n)))].join('\n') + '\n');
  return gt;
}

describe('ISIC 2020 reader', () => {
  it('reads the folder as downloaded: benign/melanoma from target, lesion_id groups, no masks; a bad target names file:line', async () => {
    const dir = path.join(work, 'isic2020');
    const gt = make2020(dir, ['0', '1', '0', '2', '1'], { lesion: (n) => (n === 2 ? '' : `IL_${n % 2}`) });
    const index = await readDataset(dir);
    expect(index.format).toBe('isic2020');
    expect(index.classes).toEqual([...ISIC2020_CLASSES]);
    expect(index.masks).toBe(false);
    expect(index.records.map((r) => [r.id, r.label, r.group, r.mask])).toEqual([
      [id(0), 0, 'IL_0', null],
      [id(1), 1, 'IL_1', null],
      [id(2), 0, undefined, null],
      [id(3), null, undefined, null],
      [id(4), 1, 'IL_0', null],
    ]);
    expect(index.problems.map((p) => [p.severity, p.id, p.file, p.message])).toEqual([
      ['error', id(3), `${gt}:5`, 'target is "2"; ISIC 2020 uses 0 (benign) or 1 (melanoma)'],
    ]);
  });

  it('train/ with both ground truths: _v2 is read (the other named in a warning); the duplicate list leaves out the second image of each pair', async () => {
    const dir = path.join(work, 'isic2020-dups');
    mkdirSync(path.join(dir, 'train'), { recursive: true });
    for (const n of [0, 1, 2, 3]) writeFileSync(path.join(dir, 'train', `${id(n)}.jpg`), jpeg);
    writeFileSync(
      path.join(dir, 'ISIC_2020_Training_GroundTruth.csv'),
      [
        'image_name,patient_id,sex,age_approx,anatom_site_general_challenge,diagnosis,benign_malignant,target',
        `${id(0)},IP_1,male,45.0,torso,nevus,benign,0`,
      ].join('\n') + '\n',
    );
    writeFileSync(
      path.join(dir, 'ISIC_2020_Training_GroundTruth_v2.csv'),
      [HEADER, row(0, '0'), row(1, '0'), row(2, '1'), row(3, '0')].join('\n') + '\n',
    );
    const dups = path.join(dir, 'ISIC_2020_Training_Duplicates.csv');
    writeFileSync(
      dups,
      ['image_name_1,image_name_2', `${id(0)},${id(1)}`, `${id(2)},${id(3)}`, `${id(2)},ISIC_9999999`].join('\n') +
        '\n',
    );
    const index = await readDataset(dir);
    expect(index.records.map((r) => r.id)).toEqual([id(0), id(2)]);
    expect(index.problems.map((p) => [p.severity, p.kind, p.id, p.file])).toEqual([
      ['warning', 'unused-file', undefined, path.join(dir, 'ISIC_2020_Training_GroundTruth.csv')],
      ['warning', 'duplicate-image', id(1), `${dups}:2`],
      ['warning', 'duplicate-image', id(3), `${dups}:3`],
    ]);
    expect(index.problems[1]!.message).toBe(`the same lesion image as ${id(0)} (ISIC's list of duplicates); left out`);
  });
});

describe('a dataset without masks', () => {
  it('prepares into a cache that says so: label maps all NO_SEGMENTATION, coverage null; classifiers read it; inspect says no masks', async () => {
    const dir = path.join(work, 'maskless');
    make2020(
      dir,
      Array.from({ length: 12 }, (_, n) => String(n % 2)),
    );
    const index = await readDataset(dir);
    const out = path.join(work, 'maskless-cache');
    const r = await prepareCache(index, out, {
      width: 16,
      height: 16,
      fit: 'crop',
      labelMap: { boundary: 0, frame: false },
      workers: 0,
    });
    expect(r.errors).toEqual([]);
    expect(r.manifest.masks).toBe(false);
    expect(r.manifest.records).toHaveLength(12);
    expect(r.manifest.records.every((x) => x.coverage === null && x.frame === 0)).toBe(true);
    const cache = await LesionCache.open(out);
    expect(cache.hasMasks).toBe(false);
    const set = new LesionSet([{ cache, split: 'train' }]);
    const { image, label } = set.read([0, 1]);
    expect(label.every((v) => v === NO_SEGMENTATION)).toBe(true);
    expect(image.some((v) => v !== 0)).toBe(true);
    cache.close();

    const cli = cliRunner();
    let c = cli('data', 'inspect', dir);
    expect(c.status, c.stderr).toBe(0);
    expect(c.stdout).toContain(
      'no masks: this dataset has no segmentation masks (classifier use only; the GAN needs masks)',
    );
    expect(c.stdout).not.toContain('mask coverage');
    c = cli('data', 'inspect', out);
    expect(c.status, c.stderr).toBe(0);
    expect(c.stdout).toContain('no masks: this dataset has no segmentation masks');
  });

  it('a cache made before the masks field opens unchanged, with masks', async () => {
    const data = path.join(work, 'sample');
    await writeSampleDataset(data, { n: 6, seed: 1, size: 32 });
    const out = path.join(work, 'sample-cache');
    const r = await prepareCache(await readDataset(data), out, {
      width: 16,
      height: 16,
      fit: 'crop',
      labelMap: { boundary: 0, frame: false },
      workers: 0,
    });
    expect(r.manifest.masks).toBe(true);
    const file = path.join(out, MANIFEST_FILE);
    const old = JSON.parse(readFileSync(file, 'utf8'));
    delete old.masks;
    writeFileSync(file, JSON.stringify(old));
    const cache = await LesionCache.open(out);
    expect(cache.hasMasks).toBe(true);
    expect(cache.manifest).toEqual(old);
    cache.close();
  });

  it('the GAN refuses it, as a dataset folder or a prepared cache, in one message saying where to get masks', () => {
    const cli = cliRunner();
    for (const data of [path.join(work, 'maskless'), path.join(work, 'maskless-cache')]) {
      const run = path.join(work, `run-${path.basename(data)}`);
      const r = cli('train', '--out', run, '--data', data, ...TINY, '--steps', '1');
      expect(r.status).not.toBe(0);
      const lines = r.stderr.trim().split('\n');
      expect(lines, r.stderr).toHaveLength(1);
      expect(lines[0]).toContain(`${data}: this dataset has no segmentation masks, and the GAN is conditioned on them`);
      expect(lines[0]).toMatch(
        /ISIC 2017 Task 1 or ISIC 2018 Task 1 ground truth, about 2,600 lesions with masks, https:\/\/challenge\.isic-archive\.com\/data\/\), HAM10000's segmentations \(HAM10000_segmentations_lesion_tschandl\), or masks you make yourself/,
      );
    }
  });
});
