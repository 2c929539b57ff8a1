// The ISIC 2019 reader (src/data/readers/isic2019.ts) on a folder built here as it is downloaded:
// images one folder down (as the zip unpacks) with ATTRIBUTION/LICENSE files beside them, the
// one-hot ground truth with UNK, the metadata's lesion_id as groups; no masks.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readDataset } from '../../src/data/readers/index.js';
import { ISIC2019_CLASSES } from '../../src/data/readers/isic2019.js';

const work = mkdtempSync(path.join(os.tmpdir(), 'dermosynth-isic2019-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

let jpeg: Buffer;
beforeAll(async () => {
  jpeg = await sharp({ create: { width: 40, height: 30, channels: 3, background: { r: 190, g: 130, b: 110 } } })
    .jpeg()
    .toBuffer();
});

/** A one-hot row: `ones` are the columns holding 1.0. */
const oneHot = (image: string, ...ones: string[]) =>
  [image, ...ISIC2019_CLASSES.map((c) => (ones.includes(c) ? '1.0' : '0.0'))].join(',');

describe('ISIC 2019 reader', () => {
  it('reads the folder as downloaded: nine classes with UNK, _downsampled ids, lesion_id groups, no masks and no missing-mask error', async () => {
    const dir = path.join(work, 'isic2019');
    const input = path.join(dir, 'ISIC_2019_Training_Input', 'ISIC_2019_Training_Input');
    mkdirSync(input, { recursive: true });
    const ids = [
      'ISIC_0000000_downsampled',
      'ISIC_0000001',
      'ISIC_0000002',
      'ISIC_0024306',
      'ISIC_0024307',
      'ISIC_0063100',
    ];
    for (const id of ids) writeFileSync(path.join(input, `${id}.jpg`), jpeg);
    for (const f of ['ATTRIBUTION.txt', 'LICENSE.txt']) writeFileSync(path.join(input, f), 'CC-BY-NC\n');
    const gt = path.join(dir, 'ISIC_2019_Training_GroundTruth.csv');
    writeFileSync(
      gt,
      [
        `image,${ISIC2019_CLASSES.join(',')}`,
        oneHot(ids[0]!, 'NV'),
        oneHot(ids[1]!, 'MEL'),
        oneHot(ids[2]!, 'MEL', 'BKL'),
        oneHot(ids[3]!),
        oneHot(ids[4]!, 'SCC'),
        oneHot(ids[5]!, 'UNK'),
      ].join('\n') + '\n',
    );
    writeFileSync(
      path.join(dir, 'ISIC_2019_Training_Metadata.csv'),
      [
        'image,age_approx,anatom_site_general,lesion_id,sex',
        `${ids[0]},55.0,anterior torso,,female`,
        `${ids[1]},30.0,,BCN_0000001,male`,
        `${ids[4]},60.0,head/neck,BCN_0000001,male`,
        `${ids[5]},,,,`,
      ].join('\n') + '\n',
    );
    const index = await readDataset(dir);
    expect(index.format).toBe('isic2019');
    expect(index.classes).toEqual([...ISIC2019_CLASSES]);
    expect(index.masks).toBe(false);
    expect(index.records.every((r) => r.mask === null)).toBe(true);
    expect(index.records.filter((r) => r.label !== null).map((r) => [r.id, index.classes[r.label!], r.group])).toEqual([
      [ids[0], 'NV', undefined],
      [ids[1], 'MEL', 'BCN_0000001'],
      [ids[4], 'SCC', 'BCN_0000001'],
      [ids[5], 'UNK', undefined],
    ]);
    expect(index.records.find((r) => r.id === ids[0])!.image).toBe(path.join(input, `${ids[0]}.jpg`));
    // The two bad one-hot rows are the only problems: no missing mask, no unknown file.
    expect(index.problems.map((p) => [p.severity, p.id, p.file, p.message])).toEqual([
      ['error', ids[2], `${gt}:4`, 'MEL and BKL are both 1; a one-hot row has exactly one 1'],
      ['error', ids[3], `${gt}:5`, 'no diagnosis is 1; a one-hot row has exactly one 1'],
    ]);
  });

  it('an image without a row and a row without an image are errors naming the file; no images at all is refused', async () => {
    const dir = path.join(work, 'isic2019-bad');
    const input = path.join(dir, 'ISIC_2019_Training_Input');
    mkdirSync(input, { recursive: true });
    writeFileSync(path.join(input, 'ISIC_0000001.jpg'), jpeg);
    writeFileSync(path.join(input, 'ISIC_0000002.jpg'), jpeg);
    const gt = path.join(dir, 'ISIC_2019_Training_GroundTruth.csv');
    writeFileSync(
      gt,
      [`image,${ISIC2019_CLASSES.join(',')}`, oneHot('ISIC_0000001', 'DF'), oneHot('ISIC_0000009', 'AK')].join('\n') +
        '\n',
    );
    const index = await readDataset(dir);
    expect(index.problems.map((p) => [p.id, p.kind, p.file])).toEqual([
      ['ISIC_0000002', 'missing-label', path.join(input, 'ISIC_0000002.jpg')],
      ['ISIC_0000009', 'missing-image', `${gt}:3`],
    ]);
    rmSync(input, { recursive: true });
    await expect(readDataset(dir)).rejects.toThrow(
      /no ISIC_\*\.jpg images in ISIC_2019_Training_Input; unpack ISIC_2019_Training_Input\.zip here/,
    );
  });
});
