// The ISIC 2018 / HAM10000 reader (src/data/readers/isic2018.ts) on folders built here as they are
// downloaded, and splits that keep one lesion's images together.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LesionRecord } from '../../src/data/dataset.js';
import { readDataset } from '../../src/data/readers/index.js';
import { ISIC2018_CLASSES } from '../../src/data/readers/isic2018.js';
import { assignSplits } from '../../src/data/split.js';
import { cliRunner, TINY } from '../helpers/cli.js';

const work = mkdtempSync(path.join(os.tmpdir(), 'dermosynth-isic2018-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const S = 40;
let jpeg: Buffer, mask: Buffer;
beforeAll(async () => {
  const rgb = Buffer.alloc(S * S * 3);
  const m = Buffer.alloc(S * S);
  for (let y = 0; y < S; y++)
    for (let x = 0; x < S; x++) {
      const inside = (x - 20) ** 2 + (y - 20) ** 2 < 100;
      rgb.set(inside ? [80, 50, 30] : [210, 160, 140], (y * S + x) * 3);
      m[y * S + x] = inside ? 255 : 0;
    }
  jpeg = await sharp(rgb, { raw: { width: S, height: S, channels: 3 } })
    .jpeg()
    .toBuffer();
  mask = await sharp(m, { raw: { width: S, height: S, channels: 1 } })
    .png()
    .toBuffer();
});

const id = (n: number) => `ISIC_${String(24300 + n).padStart(7, '0')}`;

/** HAM10000: images in two part folders, masks, metadata (lesion_id,image_id,dx,...). */
function makeHam(dir: string, rows: [lesion: string, image: number, dx: string][], o: { noMask?: number } = {}): void {
  for (const d of ['HAM10000_images_part_1', 'HAM10000_images_part_2', 'HAM10000_segmentations_lesion_tschandl'])
    mkdirSync(path.join(dir, d), { recursive: true });
  rows.forEach(([, n], i) => {
    writeFileSync(path.join(dir, i % 2 ? 'HAM10000_images_part_2' : 'HAM10000_images_part_1', `${id(n)}.jpg`), jpeg);
    if (o.noMask !== n)
      writeFileSync(path.join(dir, 'HAM10000_segmentations_lesion_tschandl', `${id(n)}_segmentation.png`), mask);
  });
  const csv = [
    'lesion_id,image_id,dx,dx_type,age,sex,localization',
    ...rows.map(([l, n, dx]) => `${l},${id(n)},${dx},histo,50.0,male,back`),
  ];
  writeFileSync(path.join(dir, 'HAM10000_metadata.csv'), csv.join('\n') + '\n');
}

describe('ISIC 2018 / HAM10000 reader', () => {
  it('reads HAM10000 as downloaded: seven diagnoses, images in two part folders, lesion groups', async () => {
    const dir = path.join(work, 'ham');
    makeHam(dir, [
      ['HAM_0000118', 1, 'bkl'],
      ['HAM_0000118', 2, 'bkl'],
      ['HAM_0002730', 3, 'mel'],
      ['HAM_0001466', 4, 'nv'],
      ['HAM_0001466', 5, 'nv'],
      ['HAM_0001466', 6, 'nv'],
      ['HAM_0007418', 7, 'df'],
    ]);
    const index = await readDataset(dir);
    expect(index.format).toBe('isic2018');
    expect(index.classes).toEqual([...ISIC2018_CLASSES]);
    expect(index.problems.filter((p) => p.severity === 'error')).toEqual([]);
    expect(index.records.map((r) => [r.id, index.classes[r.label!], r.group])).toEqual([
      [id(1), 'BKL', 'HAM_0000118'],
      [id(2), 'BKL', 'HAM_0000118'],
      [id(3), 'MEL', 'HAM_0002730'],
      [id(4), 'NV', 'HAM_0001466'],
      [id(5), 'NV', 'HAM_0001466'],
      [id(6), 'NV', 'HAM_0001466'],
      [id(7), 'DF', 'HAM_0007418'],
    ]);
  });

  it("splits never put one lesion's images on both sides, whatever the seed", () => {
    // 60 lesions of 1 to 4 images each, in two classes.
    const records: LesionRecord[] = [];
    let n = 0;
    for (let l = 0; l < 60; l++)
      for (let k = 0; k <= l % 4; k++)
        records.push({
          id: id(n++),
          image: 'x',
          mask: 'y',
          label: l % 2,
          split: null,
          synthetic: false,
          group: `HAM_${l}`,
        });
    for (const seed of [0, 1, 2, 3, 4]) {
      const { splits } = assignSplits(records, { val: 0.2, test: 0.2, seed });
      const sides = new Map<string, Set<string>>();
      for (const r of records) {
        if (!sides.has(r.group!)) sides.set(r.group!, new Set());
        sides.get(r.group!)!.add(splits.get(r.id)!);
      }
      expect([...sides.values()].every((s) => s.size === 1)).toBe(true);
      // Fractions are of lesions: 30 per class, 6 to val and 6 to test.
      for (const split of ['val', 'test'])
        expect(new Set(records.filter((r) => splits.get(r.id) === split).map((r) => r.group)).size).toBe(12);
    }
  });

  it('ISIC 2018 Task 3 one-hot CSV: a row with two ones or none is one error naming the file and line; groupings join', async () => {
    const dir = path.join(work, 'task3');
    const gt = path.join(dir, 'ISIC2018_Task3_Training_GroundTruth');
    const input = path.join(dir, 'ISIC2018_Task3_Training_Input');
    const masks = path.join(dir, 'ISIC2018_Task1_Training_GroundTruth');
    for (const d of [gt, input, masks]) mkdirSync(d, { recursive: true });
    for (const n of [1, 2, 3, 4]) {
      writeFileSync(path.join(input, `${id(n)}.jpg`), jpeg);
      writeFileSync(path.join(masks, `${id(n)}_segmentation.png`), mask);
    }
    const csv = path.join(gt, 'ISIC2018_Task3_Training_GroundTruth.csv');
    writeFileSync(
      csv,
      [
        'image,MEL,NV,BCC,AKIEC,BKL,DF,VASC',
        `${id(1)},1.0,0.0,0.0,0.0,0.0,0.0,0.0`,
        `${id(2)},1.0,1.0,0.0,0.0,0.0,0.0,0.0`,
        `${id(3)},0.0,0.0,0.0,0.0,0.0,0.0,0.0`,
        `${id(4)},0.0,0.0,0.0,0.0,0.0,0.0,1.0`,
      ].join('\n') + '\n',
    );
    writeFileSync(
      path.join(dir, 'ISIC2018_Task3_Training_LesionGroupings.csv'),
      `image,lesion_id,diagnosis_confirm_type\n${id(1)},HAM_1,histopathology\n${id(4)},HAM_4,consensus\n`,
    );
    const index = await readDataset(dir);
    expect(index.format).toBe('isic2018');
    const errors = index.problems.filter((p) => p.severity === 'error');
    expect(errors.map((p) => [p.id, p.file, p.message])).toEqual([
      [id(2), `${csv}:3`, 'MEL and NV are both 1; a one-hot row has exactly one 1'],
      [id(3), `${csv}:4`, 'no diagnosis is 1; a one-hot row has exactly one 1'],
    ]);
    const good = index.records.filter((r) => r.label !== null);
    expect(good.map((r) => [r.id, index.classes[r.label!], r.group])).toEqual([
      [id(1), 'MEL', 'HAM_1'],
      [id(4), 'VASC', 'HAM_4'],
    ]);
  });

  it('a missing mask and an unknown dx are errors naming the file; data inspect reports them and exits 1', () => {
    const dir = path.join(work, 'ham-bad');
    makeHam(
      dir,
      [
        ['HAM_1', 1, 'nv'],
        ['HAM_2', 2, 'scc'],
        ['HAM_3', 3, 'mel'],
      ],
      { noMask: 3 },
    );
    const r = cliRunner()('data', 'inspect', dir);
    expect(r.status).toBe(1);
    expect(r.stdout).toMatch(new RegExp(`${id(2)} .*HAM10000_metadata\\.csv:3: unknown dx "scc"`));
    expect(r.stdout).toMatch(new RegExp(`${id(3)} .*${id(3)}_segmentation\\.png: the segmentation mask is missing`));
  });

  it('trains on its own seven diagnoses and synthesizes one of them by name', () => {
    const dir = path.join(work, 'ham-train');
    const dx = ['mel', 'nv', 'bcc', 'akiec', 'bkl', 'df', 'vasc'];
    makeHam(
      dir,
      Array.from({ length: 21 }, (_, i) => [`HAM_${i}`, i + 1, dx[i % 7]!] as [string, number, string]),
    );
    const cli = cliRunner();
    const run = path.join(work, 'ham-run');
    let r = cli('train', '--out', run, '--data', dir, ...TINY, '--steps', '2');
    expect(r.status, r.stderr).toBe(0);
    const out = path.join(work, 'ham-syn');
    r = cli(
      'synthesize',
      '--run',
      run,
      '--dataset',
      dir,
      '--class',
      'BCC',
      '--count',
      '2',
      '--seed',
      '1',
      '--format',
      'png',
      '--out',
      out,
    );
    expect(r.status, r.stderr).toBe(0);
    // The synthetic set is a flat dataset in the run's vocabulary: labels.csv names the diagnosis,
    // classes.txt keeps the order, and it reads back as two BCC lesions.
    expect(readFileSync(path.join(out, 'classes.txt'), 'utf8')).toBe(ISIC2018_CLASSES.join('\n') + '\n');
    expect(readFileSync(path.join(out, 'labels.csv'), 'utf8').split('\n')[0]).toBe('image_id,diagnosis');
    r = cli('data', 'inspect', out);
    expect(r.status, r.stderr).toBe(0);
    const all = r.stdout.split('\n').find((l) => /^\s*all\b/.test(l))!;
    expect(all.trim().split(/\s+/).slice(1).map(Number)).toEqual([0, 0, 2, 0, 0, 0, 0, 2]);
  });
  it('reads the official Validation and Test parts as splits (Task 1 masks); a lesion in two splits is one error naming the row and the other split', async () => {
    const dir = path.join(work, 'official');
    const parts = { Training: [1, 2, 3], Validation: [4, 5], Test: [6, 7] };
    const dx = ['MEL', 'NV', 'BCC', 'AKIEC', 'BKL', 'DF', 'VASC'];
    const groupings: Record<string, string> = {};
    for (const [part, ns] of Object.entries(parts)) {
      const input = path.join(dir, `ISIC2018_Task3_${part}_Input`);
      const gt = path.join(dir, `ISIC2018_Task3_${part}_GroundTruth`);
      const masks = path.join(dir, `ISIC2018_Task1_${part}_GroundTruth`);
      for (const d of [input, gt, masks]) mkdirSync(d, { recursive: true });
      for (const n of ns) {
        writeFileSync(path.join(input, `${id(n)}.jpg`), jpeg);
        if (n !== 5) writeFileSync(path.join(masks, `${id(n)}_segmentation.png`), mask);
      }
      const rows = ns.map((n) => `${id(n)},${dx.map((_, k) => (k === n % 7 ? '1.0' : '0.0')).join(',')}`);
      writeFileSync(
        path.join(gt, `ISIC2018_Task3_${part}_GroundTruth.csv`),
        ['image,MEL,NV,BCC,AKIEC,BKL,DF,VASC', ...rows].join('\n') + '\n',
      );
      groupings[part] = path.join(dir, `ISIC2018_Task3_${part}_LesionGroupings.csv`);
      // Lesion HAM_1 has images 1 (train) and 7 (test): the official split breaks it.
      const lesion = (n: number) => (n === 7 ? 'HAM_1' : `HAM_${n}`);
      writeFileSync(
        groupings[part]!,
        ['image,lesion_id,diagnosis_confirm_type', ...ns.map((n) => `${id(n)},${lesion(n)},histopathology`)].join(
          '\n',
        ) + '\n',
      );
    }
    const index = await readDataset(dir);
    expect(index.format).toBe('isic2018');
    expect(index.records.map((r) => [r.id, r.split, index.classes[r.label!], r.group])).toEqual([
      [id(1), 'train', 'NV', 'HAM_1'],
      [id(2), 'train', 'BCC', 'HAM_2'],
      [id(3), 'train', 'AKIEC', 'HAM_3'],
      [id(4), 'val', 'BKL', 'HAM_4'],
      [id(5), 'val', 'DF', 'HAM_5'],
      [id(6), 'test', 'VASC', 'HAM_6'],
      [id(7), 'test', 'MEL', 'HAM_1'],
    ]);
    expect(index.records[0]!.mask).toBe(
      path.join(dir, 'ISIC2018_Task1_Training_GroundTruth', `${id(1)}_segmentation.png`),
    );
    expect(index.records[5]!.mask).toBe(path.join(dir, 'ISIC2018_Task1_Test_GroundTruth', `${id(6)}_segmentation.png`));
    expect(index.problems.filter((p) => p.severity === 'error').map((p) => [p.id, p.kind, p.file, p.message])).toEqual([
      [
        id(5),
        'missing-mask',
        path.join(dir, 'ISIC2018_Task1_Validation_GroundTruth', `${id(5)}_segmentation.png`),
        expect.stringMatching(/^the segmentation mask is missing/),
      ],
      [
        id(7),
        'split-conflict',
        `${groupings.Test}:3`,
        `lesion HAM_1 is also in the train split (${id(1)}, ${groupings.Training}:2); one lesion's images belong to one split: correct the lesion_id or remove the image`,
      ],
    ]);
    // The good lesions keep their official split.
    const good = index.records.filter((r) => r.id !== id(5) && r.id !== id(7));
    const { splits, source } = assignSplits(good);
    expect(source).toBe('official');
    expect(good.map((r) => splits.get(r.id))).toEqual(['train', 'train', 'train', 'val', 'test']);
  });
});
