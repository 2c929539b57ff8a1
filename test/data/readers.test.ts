// Dataset readers: the flat layout (as written by `data sample`), the official ISIC-2017 layout,
// the real native-resolution sample in ../shared/data when present, and every kind of bad input
// reported as a problem (or error) that names the lesion and the file.
import fs from 'node:fs/promises';
import { existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CsvError } from '../../src/data/csv.js';
import { badIds, type DatasetIndex } from '../../src/data/dataset.js';
import { ISIC2017_CLASSES } from '../../src/data/diagnosis.js';
import { DataError, type Problem } from '../../src/data/problems.js';
import { readDataset } from '../../src/data/readers/index.js';
import { writeSampleDataset } from '../../src/data/sample_dataset.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const NATIVE_SAMPLE = path.resolve(here, '../../../shared/data/isic2017-native-sample');

let root: string;
/** A flat sample dataset of 6 lesions (classes nevus, melanoma, SK, nevus, melanoma, SK). */
let base: string;
let copies = 0;

beforeAll(async () => {
  root = await fs.mkdtemp(path.join(os.tmpdir(), 'dermosynth-readers-'));
  base = path.join(root, 'base');
  await writeSampleDataset(base, { n: 6, seed: 3, size: 32 });
});
afterAll(async () => {
  await fs.rm(root, { recursive: true, force: true });
});

/** A fresh copy of the base dataset to damage. */
async function fresh(): Promise<string> {
  const dir = path.join(root, `copy${copies++}`);
  await fs.cp(base, dir, { recursive: true });
  return dir;
}

async function editLabels(dir: string, edit: (lines: string[]) => string[]): Promise<void> {
  const file = path.join(dir, 'labels.csv');
  const lines = (await fs.readFile(file, 'utf8')).split('\n').filter((l) => l !== '');
  await fs.writeFile(file, edit(lines).join('\n') + '\n');
}

function errorsOf(index: DatasetIndex): Problem[] {
  return index.problems.filter((p) => p.severity === 'error');
}

/** Exactly one error problem, of this kind, for this id, naming this file. */
function expectOneError(index: DatasetIndex, kind: string, id: string, fileIncludes: string): Problem {
  const errors = errorsOf(index);
  expect(errors.map((p) => [p.kind, p.id])).toEqual([[kind, id]]);
  const p = errors[0]!;
  expect(p.file).toBeDefined();
  expect(p.file!).toContain(fileIncludes);
  expect(p.message.length).toBeGreaterThan(10);
  expect(badIds(index)).toEqual(new Set([id]));
  return p;
}

const ids6 = ['SAMPLE_0000', 'SAMPLE_0001', 'SAMPLE_0002', 'SAMPLE_0003', 'SAMPLE_0004', 'SAMPLE_0005'];

describe('flat layout', () => {
  it('reads a dataset written by writeSampleDataset: records, classes and labels from labels.csv, no problems', async () => {
    const index = await readDataset(base);
    expect(index.format).toBe('flat');
    expect(index.root).toBe(path.resolve(base));
    expect(index.classes).toEqual([...ISIC2017_CLASSES]);
    expect(index.problems).toEqual([]);
    expect(index.records.map((r) => r.id)).toEqual(ids6);

    // The labels as labels.csv states them (neither diagnosis = nevus).
    const rows = (await fs.readFile(path.join(base, 'labels.csv'), 'utf8')).trim().split('\n');
    expect(rows[0]).toBe('image_id,melanoma,seborrheic_keratosis');
    const want = new Map(
      rows.slice(1).map((row) => {
        const [id, mel, sk] = row.split(',');
        return [id!, Number(mel) === 1 ? 'melanoma' : Number(sk) === 1 ? 'seborrheic_keratosis' : 'nevus'];
      }),
    );
    expect(want.size).toBe(6);
    for (const r of index.records) {
      expect(r.label).not.toBeNull();
      expect(index.classes[r.label!]).toBe(want.get(r.id));
      expect(r.image).toBe(path.join(path.resolve(base), 'images', `${r.id}.jpg`));
      expect(r.mask).toBe(path.join(path.resolve(base), 'masks', `${r.id}_segmentation.png`));
      expect(r.split).toBeNull();
    }
    expect(index.records.map((r) => r.label)).toEqual([0, 1, 2, 0, 1, 2]);
  });

  it('takes the splits from split.csv (any spelling of the split names, extra columns allowed)', async () => {
    const dir = await fresh();
    await fs.writeFile(
      path.join(dir, 'split.csv'),
      'image_id,isic2017_split,note\n' +
        'SAMPLE_0000,train,a\nSAMPLE_0001,Training,b\nSAMPLE_0002,val,c\nSAMPLE_0003,validation,d\nSAMPLE_0004,test,e\nSAMPLE_0005,Test_v2,f\n',
    );
    const index = await readDataset(dir);
    expect(index.problems).toEqual([]);
    expect(index.records.map((r) => [r.id, r.split])).toEqual([
      ['SAMPLE_0000', 'train'],
      ['SAMPLE_0001', 'train'],
      ['SAMPLE_0002', 'val'],
      ['SAMPLE_0003', 'val'],
      ['SAMPLE_0004', 'test'],
      ['SAMPLE_0005', 'test'],
    ]);
  });

  it('reports a lesion missing from split.csv, and an unknown split name with its line', async () => {
    const dir = await fresh();
    await fs.writeFile(
      path.join(dir, 'split.csv'),
      'image_id,split\nSAMPLE_0000,train\nSAMPLE_0001,train\nSAMPLE_0002,holdout\nSAMPLE_0003,val\nSAMPLE_0005,test\n',
    );
    const index = await readDataset(dir);
    const errors = errorsOf(index);
    const pairs = errors.map((p) => [p.kind, p.id]);
    expect(pairs).toContainEqual(['bad-csv', 'SAMPLE_0002']);
    expect(pairs).toContainEqual(['missing-split', 'SAMPLE_0004']);
    expect(new Set(errors.map((p) => p.id))).toEqual(new Set(['SAMPLE_0002', 'SAMPLE_0004']));
    expect(errors.find((p) => p.kind === 'bad-csv')!.file).toBe(`${path.join(path.resolve(dir), 'split.csv')}:4`);
    expect(errors.find((p) => p.id === 'SAMPLE_0004')!.file).toContain('split.csv');
  });
});

// ---------------------------------------------------------------------------------------------
// The official layout, built by hand.

async function tinyJpeg(seed: number): Promise<Buffer> {
  return sharp({ create: { width: 40, height: 30, channels: 3, background: { r: 180 + seed, g: 120, b: 100 } } })
    .jpeg()
    .toBuffer();
}
async function tinyMask(width = 40, height = 30): Promise<Buffer> {
  const m = new Uint8Array(width * height);
  for (let y = 8; y < height - 8; y++) m.fill(255, y * width + 10, y * width + width - 10);
  return sharp(m, { raw: { width, height, channels: 1 } })
    .toColourspace('b-w')
    .png()
    .toBuffer();
}

const VAL_DATA = 'ISIC-2017_Validation_Data';
const VAL_MASKS = 'ISIC-2017_Validation_Part1_GroundTruth';
const VAL_CSV = 'ISIC-2017_Validation_Part3_GroundTruth.csv';

/** ISIC-2017 validation part: 3 lesions (nevus, melanoma, SK) with superpixels and a metadata CSV. */
async function makeOfficial(dir: string): Promise<string[]> {
  const ids = ['ISIC_0000001', 'ISIC_0000002', 'ISIC_0000003'];
  await fs.mkdir(path.join(dir, VAL_DATA), { recursive: true });
  await fs.mkdir(path.join(dir, VAL_MASKS), { recursive: true });
  for (const [i, id] of ids.entries()) {
    await fs.writeFile(path.join(dir, VAL_DATA, `${id}.jpg`), await tinyJpeg(i));
    await fs.writeFile(path.join(dir, VAL_DATA, `${id}_superpixels.png`), await tinyMask());
    await fs.writeFile(path.join(dir, VAL_MASKS, `${id}_segmentation.png`), await tinyMask());
  }
  await fs.writeFile(
    path.join(dir, VAL_DATA, 'ISIC-2017_Validation_Data_metadata.csv'),
    'image_id,age_approximate,sex\nISIC_0000001,55,male\n',
  );
  await fs.writeFile(
    path.join(dir, VAL_CSV),
    'image_id,melanoma,seborrheic_keratosis\nISIC_0000001,0.0,0.0\nISIC_0000002,1.0,0.0\nISIC_0000003,0.0,1.0\n',
  );
  return ids;
}

describe('official ISIC-2017 layout', () => {
  it('reads the validation part: split val, superpixels and metadata ignored, no problems', async () => {
    const dir = path.join(root, 'official');
    const ids = await makeOfficial(dir);
    const index = await readDataset(dir);
    expect(index.format).toBe('isic2017');
    expect(index.classes).toEqual([...ISIC2017_CLASSES]);
    expect(index.problems).toEqual([]);
    expect(index.records.map((r) => r.id)).toEqual(ids);
    expect(index.records.map((r) => r.label)).toEqual([0, 1, 2]);
    for (const r of index.records) {
      expect(r.split).toBe('val');
      expect(r.image).toBe(path.join(path.resolve(dir), VAL_DATA, `${r.id}.jpg`));
      expect(r.mask).toBe(path.join(path.resolve(dir), VAL_MASKS, `${r.id}_segmentation.png`));
    }
    expect(index.records.some((r) => r.id.includes('superpixels'))).toBe(false);
  });

  it('reports a missing mask folder and labels CSV; an unknown format name is an error', async () => {
    const dir = path.join(root, 'official-broken');
    await makeOfficial(dir);
    await fs.rm(path.join(dir, VAL_MASKS), { recursive: true });
    await fs.rm(path.join(dir, VAL_CSV));
    const index = await readDataset(dir);
    const kinds = errorsOf(index).map((p) => p.kind);
    expect(kinds).toContain('missing-folder');
    expect(kinds).toContain('missing-file');
    expect(errorsOf(index).find((p) => p.kind === 'missing-file')!.file).toContain(VAL_CSV);
    // Without a labels CSV every image lacks a label, and every image lacks its mask.
    expect(
      errorsOf(index)
        .filter((p) => p.kind === 'missing-mask')
        .map((p) => p.id),
    ).toEqual(['ISIC_0000001', 'ISIC_0000002', 'ISIC_0000003']);
    await expect(readDataset(dir, 'nope')).rejects.toThrow(
      /unknown dataset format 'nope'; known: isic2017, isic2018, isic2019, isic2020, ph2, flat/,
    );
  });
});

describe.skipIf(!existsSync(NATIVE_SAMPLE))(
  'the real ISIC-2017 native-resolution sample (../shared/data/isic2017-native-sample)',
  () => {
    it('reads 10 validation lesions: 8 seborrheic keratoses and 2 nevi, each with image and mask', async () => {
      const index = await readDataset(NATIVE_SAMPLE);
      expect(index.format).toBe('isic2017');
      expect(index.problems.filter((p) => p.severity === 'error')).toEqual([]);
      expect(index.records).toHaveLength(10);
      const byClass = new Map<string, number>();
      for (const r of index.records) {
        const c = index.classes[r.label!]!;
        byClass.set(c, (byClass.get(c) ?? 0) + 1);
        expect(r.split).toBe('val');
        expect(r.image).not.toBeNull();
        expect(r.mask).not.toBeNull();
        expect(existsSync(r.image!)).toBe(true);
        expect(existsSync(r.mask!)).toBe(true);
      }
      expect(Object.fromEntries(byClass)).toEqual({ seborrheic_keratosis: 8, nevus: 2 });
    });
  },
);

if (!existsSync(NATIVE_SAMPLE))
  console.warn(
    `readers.test.ts: the real ISIC-2017 sample test is skipped: the shared data is missing at ${NATIVE_SAMPLE}`,
  );

// ---------------------------------------------------------------------------------------------

describe('bad input', () => {
  it('an image without a label row', async () => {
    const dir = await fresh();
    await editLabels(dir, (l) => l.filter((x) => !x.startsWith('SAMPLE_0002,')));
    const index = await readDataset(dir);
    expectOneError(index, 'missing-label', 'SAMPLE_0002', 'SAMPLE_0002.jpg');
    expect(index.records.find((r) => r.id === 'SAMPLE_0002')!.label).toBeNull();
  });

  it('a label row without an image (naming the CSV line)', async () => {
    const dir = await fresh();
    await fs.rm(path.join(dir, 'images', 'SAMPLE_0003.jpg'));
    const index = await readDataset(dir);
    const p = expectOneError(index, 'missing-image', 'SAMPLE_0003', 'labels.csv');
    expect(p.file).toBe(`${path.join(path.resolve(dir), 'labels.csv')}:5`);
    expect(index.records.find((r) => r.id === 'SAMPLE_0003')!.image).toBeNull();
    expect(index.problems.filter((q) => q.kind === 'orphan-mask')).toEqual([]);
  });

  it('a missing mask', async () => {
    const dir = await fresh();
    await fs.rm(path.join(dir, 'masks', 'SAMPLE_0001_segmentation.png'));
    const index = await readDataset(dir);
    const p = expectOneError(index, 'missing-mask', 'SAMPLE_0001', 'SAMPLE_0001_segmentation.png');
    expect(p.file).toBe(path.join(path.resolve(dir), 'masks', 'SAMPLE_0001_segmentation.png'));
  });

  it('a mask without an image or label is a warning only', async () => {
    const dir = await fresh();
    await fs.copyFile(
      path.join(dir, 'masks', 'SAMPLE_0001_segmentation.png'),
      path.join(dir, 'masks', 'OTHER_segmentation.png'),
    );
    await fs.writeFile(path.join(dir, 'images', 'notes.txt'), 'hello');
    const index = await readDataset(dir);
    expect(errorsOf(index)).toEqual([]);
    expect(index.problems.map((p) => [p.severity, p.kind]).sort()).toEqual([
      ['warning', 'orphan-mask'],
      ['warning', 'unknown-file'],
    ]);
  });

  it('melanoma=1 together with seborrheic_keratosis=1', async () => {
    const dir = await fresh();
    await editLabels(dir, (l) => l.map((x) => (x.startsWith('SAMPLE_0001,') ? 'SAMPLE_0001,1.0,1.0' : x)));
    const index = await readDataset(dir);
    const p = expectOneError(index, 'label-conflict', 'SAMPLE_0001', 'labels.csv');
    expect(p.file).toBe(`${path.join(path.resolve(dir), 'labels.csv')}:3`);
    expect(index.records.find((r) => r.id === 'SAMPLE_0001')!.label).toBeNull();
  });

  it.each([
    ['yes', 'SAMPLE_0004,yes,0'],
    ['empty', 'SAMPLE_0004,,0'],
    ['2', 'SAMPLE_0004,0,2'],
  ])('a value that is not 0 or 1 (%s)', async (_what, row) => {
    const dir = await fresh();
    await editLabels(dir, (l) => l.map((x) => (x.startsWith('SAMPLE_0004,') ? row : x)));
    const index = await readDataset(dir);
    // One error for the row; the image does not count again as one without a row.
    const p = expectOneError(index, 'bad-csv', 'SAMPLE_0004', 'labels.csv');
    expect(p.file).toBe(`${path.join(path.resolve(dir), 'labels.csv')}:6`);
    expect(index.records.find((r) => r.id === 'SAMPLE_0004')!.label).toBeNull();
  });

  it('accepts 0/1 written as 0, 1, 0.0, 1.00 and with spaces', async () => {
    const dir = await fresh();
    await editLabels(dir, (l) => [
      l[0]!,
      'SAMPLE_0000, 0 ,0',
      'SAMPLE_0001,1,0',
      'SAMPLE_0002,0.00,1.00',
      ...l.slice(4),
    ]);
    const index = await readDataset(dir);
    expect(index.problems).toEqual([]);
    expect(index.records.map((r) => r.label)).toEqual([0, 1, 2, 0, 1, 2]);
  });

  it('duplicate id rows in labels.csv', async () => {
    const dir = await fresh();
    await editLabels(dir, (l) => [...l, 'SAMPLE_0005,0.0,1.0']);
    const index = await readDataset(dir);
    const p = expectOneError(index, 'duplicate-id', 'SAMPLE_0005', 'labels.csv');
    expect(p.file).toBe(`${path.join(path.resolve(dir), 'labels.csv')}:8`);
    expect(p.message).toContain('labels.csv:7');
    const r = index.records.filter((x) => x.id === 'SAMPLE_0005');
    expect(r).toHaveLength(1);
    expect(r[0]!.label).toBeNull();
  });

  it('a CSV row with a wrong number of cells is a CsvError naming file and line', async () => {
    const dir = await fresh();
    await editLabels(dir, (l) => l.map((x) => (x.startsWith('SAMPLE_0001,') ? 'SAMPLE_0001,1.0,0.0,extra' : x)));
    const err = await readDataset(dir).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CsvError);
    const e = err as CsvError;
    expect(e.file).toBe(path.join(path.resolve(dir), 'labels.csv'));
    expect(e.line).toBe(3);
    expect(e.message).toContain(`${path.join(path.resolve(dir), 'labels.csv')}:3:`);
    expect(e.message).toMatch(/expected 3 cells.*found 4/);
  });

  it('a missing column is a CsvError naming the column', async () => {
    const dir = await fresh();
    await editLabels(dir, (l) => l.map((x) => x.split(',').slice(0, 2).join(',')));
    const err = await readDataset(dir).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CsvError);
    expect((err as CsvError).message).toContain('labels.csv:1:');
    expect((err as CsvError).message).toContain("missing column 'seborrheic_keratosis'");
  });

  it('an empty images folder is a DataError', async () => {
    const dir = await fresh();
    await fs.rm(path.join(dir, 'images'), { recursive: true });
    await fs.mkdir(path.join(dir, 'images'));
    const err = await readDataset(dir).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DataError);
    expect((err as DataError).message).toContain(path.join(path.resolve(dir), 'images'));
    expect((err as DataError).message).toMatch(/no images/);
  });

  it('a folder that is not a dataset is a DataError listing the known layouts', async () => {
    const dir = path.join(root, 'not-a-dataset');
    await fs.mkdir(path.join(dir, 'photos'), { recursive: true });
    await fs.writeFile(path.join(dir, 'readme.txt'), 'hi');
    const err = await readDataset(dir).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DataError);
    const m = (err as DataError).message;
    expect(m).toContain(dir);
    expect(m).toContain('not a dataset folder');
    expect(m).toMatch(/- isic2017: .*ISIC-2017_Training_Data/);
    expect(m).toMatch(/- flat: .*labels\.csv/);
  });

  it('a nonexistent folder (or a file) is a DataError', async () => {
    const missing = path.join(root, 'does-not-exist');
    await expect(readDataset(missing)).rejects.toThrow(DataError);
    await expect(readDataset(missing)).rejects.toThrow(`${missing}: no such folder`);
    await expect(readDataset(path.join(base, 'labels.csv'))).rejects.toThrow(/not a folder/);
  });
});
