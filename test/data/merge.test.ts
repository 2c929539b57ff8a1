// data merge: real + synthetic into one training set; synthetic lesions only ever in train. And
// several real datasets of other layouts and vocabularies (a flat ISIC-2017 set, HAM10000 and PH2
// folders built here as downloaded), each with its class map, into one flat dataset: vocabulary,
// sources, images found twice, lesions never on both sides of a split.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { mkdtempSync, readFileSync, rmSync, renameSync, writeFileSync, mkdirSync, existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { writeSampleDataset } from '../../src/data/sample_dataset.js';
import { mergeDatasets, mergeInputOf, mergeInputs, parseMergeArgument, type MergeInput } from '../../src/data/merge.js';
import { readClassMap } from '../../src/data/class_map.js';
import { parseCsv } from '../../src/data/csv.js';
import { checkMask, pngChannels } from '../../src/data/image_io.js';
import { readDataset } from '../../src/data/readers/index.js';
import { assignSplits, DEFAULT_SPLIT } from '../../src/data/split.js';
import { refuseSynthetic, type LesionRecord } from '../../src/data/dataset.js';
import { writeBmp } from '../helpers/bmp_writer.js';
import { cliRunner } from '../helpers/cli.js';

let work = '';
let real = '';

/** A sample dataset renamed to SYN_ ids (what synthesize writes), with a provenance file. */
async function fakeSynthetic(dir: string, n: number, first: number): Promise<void> {
  await writeSampleDataset(dir, { n, seed: first, size: 32 });
  const rows = readFileSync(path.join(dir, 'labels.csv'), 'utf8').trim().split('\n');
  const out = [rows[0]];
  const prov = ['image_id,diagnosis,source_id'];
  rows.slice(1).forEach((row, i) => {
    const [id, ...rest] = row.split(',');
    const syn = `SYN_${String(first + i).padStart(7, '0')}`;
    renameSync(path.join(dir, 'images', `${id}.jpg`), path.join(dir, 'images', `${syn}.jpg`));
    renameSync(path.join(dir, 'masks', `${id}_segmentation.png`), path.join(dir, 'masks', `${syn}_segmentation.png`));
    out.push([syn, ...rest].join(','));
    prov.push(`${syn},x,${id}`);
  });
  writeFileSync(path.join(dir, 'labels.csv'), out.join('\n') + '\n');
  writeFileSync(path.join(dir, 'provenance.csv'), prov.join('\n') + '\n');
}

beforeAll(async () => {
  work = mkdtempSync(path.join(os.tmpdir(), 'dermosynth-merge-'));
  real = path.join(work, 'real');
  await writeSampleDataset(real, { n: 20, seed: 1, size: 32 });
  await fakeSynthetic(path.join(work, 'syn1'), 6, 1);
  await fakeSynthetic(path.join(work, 'syn2'), 4, 101);
});

afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('mergeDatasets', () => {
  it('keeps the real split, puts every synthetic lesion in train, and merges provenance', async () => {
    const out = path.join(work, 'merged');
    const s = await mergeDatasets(real, [path.join(work, 'syn1'), path.join(work, 'syn2')], out);
    expect(s.real).toBe(20);
    expect(s.synthetic).toBe(10);
    const index = await readDataset(out);
    expect(index.problems.filter((p) => p.severity === 'error')).toEqual([]);
    expect(index.records).toHaveLength(30);
    const realSplits = assignSplits((await readDataset(real)).records, DEFAULT_SPLIT).splits;
    for (const r of index.records) {
      if (r.synthetic) expect(r.split, r.id).toBe('train');
      else expect(r.split, r.id).toBe(realSplits.get(r.id));
    }
    // The test split is real: evaluation accepts it, and refuses one with synthetic lesions.
    const test = index.records.filter((r) => r.split === 'test');
    expect(test.length).toBeGreaterThan(0);
    expect(() => refuseSynthetic(test, 'the test split')).not.toThrow();
    expect(() => refuseSynthetic(index.records, 'the whole set')).toThrow(
      /10 synthetic lesions \(SYN_0000001.*real lesions only/,
    );
    const prov = readFileSync(path.join(out, 'provenance.csv'), 'utf8').trim().split('\n');
    expect(prov).toHaveLength(11);
    expect(prov[0]).toBe('image_id,diagnosis,source_id');
  });

  it('refuses colliding ids, real lesions passed as synthetic, and an existing output', async () => {
    await expect(
      mergeDatasets(real, [path.join(work, 'syn1'), path.join(work, 'syn1')], path.join(work, 'm2')),
    ).rejects.toThrow(/SYN_0000001 is in both .*--first-id/);
    await expect(mergeDatasets(real, [real], path.join(work, 'm3'))).rejects.toThrow(/is not a synthetic lesion/);
    await expect(
      mergeDatasets(path.join(work, 'syn1'), [path.join(work, 'syn2')], path.join(work, 'm4')),
    ).rejects.toThrow(/real dataset holds synthetic lesions/);
    await expect(mergeDatasets(real, [path.join(work, 'syn1')], path.join(work, 'merged'))).rejects.toThrow(
      /already exists.*--overwrite/,
    );
    await expect(mergeDatasets(real, [path.join(work, 'syn1')], real, { overwrite: true })).rejects.toThrow(
      /replaces only an earlier merge/,
    );
    expect(existsSync(path.join(real, 'labels.csv'))).toBe(true);
    const again = await mergeDatasets(real, [path.join(work, 'syn1')], path.join(work, 'merged'), { overwrite: true });
    expect(again.synthetic).toBe(6);
  });

  it('refuses a synthetic set with a broken lesion, naming it', async () => {
    const bad = path.join(work, 'syn-bad');
    await fakeSynthetic(bad, 3, 500);
    rmSync(path.join(bad, 'masks', 'SYN_0000501_segmentation.png'));
    await expect(mergeDatasets(real, [bad], path.join(work, 'm6'))).rejects.toThrow(/SYN_0000501.*mask is missing/);
  });
});

// ---- several real datasets of other layouts and vocabularies ----

const S = 32;
let jpeg: Buffer, otherJpeg: Buffer, maskPng: Buffer;
const isic = (n: number) => `ISIC_${String(n).padStart(7, '0')}`;

async function lesionImage(inside: number[], outside: number[]): Promise<Buffer> {
  const rgb = Buffer.alloc(S * S * 3);
  for (let y = 0; y < S; y++)
    for (let x = 0; x < S; x++) rgb.set((x - 16) ** 2 + (y - 16) ** 2 < 64 ? inside : outside, (y * S + x) * 3);
  return sharp(rgb, { raw: { width: S, height: S, channels: 3 } })
    .jpeg()
    .toBuffer();
}

type Dx = 'nevus' | 'melanoma' | 'seborrheic_keratosis';

/** A flat dataset in ISIC-2017's form with an official split: ISIC_000000n.jpg, masks, labels.csv, split.csv. */
function makeFlatIsic(dir: string, rows: [n: number, dx: Dx, split: string][]): void {
  for (const d of ['images', 'masks']) mkdirSync(path.join(dir, d), { recursive: true });
  for (const [n] of rows) {
    writeFileSync(path.join(dir, 'images', `${isic(n)}.jpg`), jpeg);
    writeFileSync(path.join(dir, 'masks', `${isic(n)}_segmentation.png`), maskPng);
  }
  const labels = rows.map(
    ([n, dx]) => `${isic(n)},${dx === 'melanoma' ? 1 : 0},${dx === 'seborrheic_keratosis' ? 1 : 0}`,
  );
  writeFileSync(path.join(dir, 'labels.csv'), ['image_id,melanoma,seborrheic_keratosis', ...labels].join('\n') + '\n');
  writeFileSync(
    path.join(dir, 'split.csv'),
    ['image_id,isic2017_split', ...rows.map(([n, , sp]) => `${isic(n)},${sp}`)].join('\n') + '\n',
  );
}

/** HAM10000 as downloaded: images in two part folders, masks, metadata (lesion_id,image_id,dx,...). */
function makeHam(
  dir: string,
  rows: [lesion: string, n: number, dx: string][],
  image: (n: number) => Buffer = () => jpeg,
): void {
  for (const d of ['HAM10000_images_part_1', 'HAM10000_images_part_2', 'HAM10000_segmentations_lesion_tschandl'])
    mkdirSync(path.join(dir, d), { recursive: true });
  rows.forEach(([, n], i) => {
    writeFileSync(
      path.join(dir, i % 2 ? 'HAM10000_images_part_2' : 'HAM10000_images_part_1', `${isic(n)}.jpg`),
      image(n),
    );
    writeFileSync(path.join(dir, 'HAM10000_segmentations_lesion_tschandl', `${isic(n)}_segmentation.png`), maskPng);
  });
  const csv = [
    'lesion_id,image_id,dx,dx_type,age,sex,localization',
    ...rows.map(([l, n, dx]) => `${l},${isic(n)},${dx},histo,50.0,male,back`),
  ];
  writeFileSync(path.join(dir, 'HAM10000_metadata.csv'), csv.join('\n') + '\n');
}

/** PH2 as downloaded: IMD002... with 24-bit BMP images, 1-bit BMP masks and PH2_dataset.txt (0, 1, 2). */
function makePh2(dir: string, dx: number[]): string[] {
  const ids = dx.map((_, i) => `IMD${String(i + 2).padStart(3, '0')}`);
  const inside = (x: number, y: number) => (x - 20) ** 2 + (y - 16) ** 2 < 81;
  for (const id of ids) {
    const base = path.join(dir, 'PH2 Dataset images', id);
    mkdirSync(path.join(base, `${id}_Dermoscopic_Image`), { recursive: true });
    mkdirSync(path.join(base, `${id}_lesion`), { recursive: true });
    writeFileSync(
      path.join(base, `${id}_Dermoscopic_Image`, `${id}.bmp`),
      writeBmp(40, 32, { bpp: 24 }, (x, y) => (inside(x, y) ? 0x503020 : 0xd0a090)),
    );
    writeFileSync(
      path.join(base, `${id}_lesion`, `${id}_lesion.bmp`),
      writeBmp(
        40,
        32,
        {
          bpp: 1,
          palette: [
            [0, 0, 0],
            [255, 255, 255],
          ],
        },
        (x, y) => (inside(x, y) ? 1 : 0),
      ),
    );
  }
  const header = '|| Name ||\t Histological Diagnosis ||\t Clinical Diagnosis ||\t Asymmetry ||';
  writeFileSync(
    path.join(dir, 'PH2_dataset.txt'),
    [header, ...ids.map((id, i) => `|| ${id} ||\t\t || ${dx[i]} ||\t 0 ||`)].join('\r\n'),
  );
  return ids;
}

const ALL_MAP = [
  '# HAM10000 and ISIC-2017 onto four diagnoses',
  'classes: nevus, melanoma, seborrheic_keratosis, other',
  'NV -> nevus',
  'MEL -> melanoma',
  'BKL -> seborrheic_keratosis',
  'BCC -> other',
  'AKIEC -> other',
  'DF -> other',
  'VASC -> other',
];
const PH2_MAP = ['common_nevus -> nevus', 'atypical_nevus -> nevus', 'melanoma -> melanoma'];
const HAM_TO_OTHER = [
  'NV -> nevus',
  'MEL -> melanoma',
  'BKL -> seborrheic_keratosis',
  'BCC -> other',
  'AKIEC -> other',
  'DF -> other',
  'VASC -> other',
];
// Flat ISIC-2017 lesions 1..9 with an official split; ISIC_0000001 and ISIC_0000008 are melanomas in train and test.
const FLAT: [number, Dx, string][] = [
  [1, 'melanoma', 'train'],
  [2, 'nevus', 'train'],
  [3, 'seborrheic_keratosis', 'train'],
  [4, 'nevus', 'train'],
  [5, 'nevus', 'train'],
  [6, 'melanoma', 'val'],
  [7, 'nevus', 'val'],
  [8, 'melanoma', 'test'],
  [9, 'nevus', 'test'],
];
// HAM_A holds ISIC_0000008 (the flat set's test melanoma, the same file) and one image of its own.
const HAM: [string, number, string][] = [
  ['HAM_A', 8, 'mel'],
  ['HAM_A', 24301, 'mel'],
  ['HAM_B', 24302, 'nv'],
  ['HAM_B', 24303, 'nv'],
  ['HAM_B', 24304, 'nv'],
  ['HAM_C', 24305, 'bkl'],
  ['HAM_D', 24306, 'bcc'],
  ['HAM_E', 24307, 'df'],
  ['HAM_F', 24308, 'nv'],
  ['HAM_F', 24309, 'nv'],
  ['HAM_G', 24310, 'mel'],
  ['HAM_H', 24311, 'akiec'],
  ['HAM_I', 24312, 'vasc'],
  ['HAM_J', 24313, 'nv'],
  ['HAM_K', 24314, 'mel'],
  ['HAM_L', 24315, 'mel'],
  ['HAM_L', 24316, 'mel'],
  ['HAM_M', 24317, 'bkl'],
];
let flat = '',
  ham = '',
  ph2 = '',
  syn = '',
  allMap = '',
  ph2Map = '',
  hamToOther = '';

function file(name: string, lines: string[]): string {
  const f = path.join(work, name);
  writeFileSync(f, lines.join('\n') + '\n');
  return f;
}

function readTable(f: string): Record<string, string>[] {
  const t = parseCsv(readFileSync(f, 'utf8'), f);
  return t.rows.map((r) => Object.fromEntries(t.header.map((h, i) => [h, r.cells[i]!])));
}

/** Each group's images all in one split. */
function groupsOnOneSide(records: readonly LesionRecord[], split: (r: LesionRecord) => string): boolean {
  const sides = new Map<string, Set<string>>();
  for (const r of records.filter((x) => x.group !== undefined)) {
    if (!sides.has(r.group!)) sides.set(r.group!, new Set());
    sides.get(r.group!)!.add(split(r));
  }
  return [...sides.values()].every((s) => s.size === 1);
}

describe('mergeInputs: datasets of other layouts and vocabularies', () => {
  beforeAll(async () => {
    jpeg = await lesionImage([80, 50, 30], [210, 160, 140]);
    otherJpeg = await lesionImage([90, 40, 30], [200, 150, 150]);
    const m = Buffer.alloc(S * S);
    for (let y = 0; y < S; y++) for (let x = 0; x < S; x++) m[y * S + x] = (x - 16) ** 2 + (y - 16) ** 2 < 64 ? 255 : 0;
    maskPng = await sharp(m, { raw: { width: S, height: S, channels: 1 } })
      .png()
      .toBuffer();
    flat = path.join(work, 'isic-flat');
    makeFlatIsic(flat, FLAT);
    ham = path.join(work, 'ham');
    makeHam(ham, HAM);
    ph2 = path.join(work, 'ph2');
    makePh2(ph2, [0, 1, 2, 0, 1, 2, 0, 1]);
    syn = path.join(work, 'syn-multi');
    await fakeSynthetic(syn, 3, 900);
    allMap = file('all.txt', ALL_MAP);
    ph2Map = file('ph2.txt', PH2_MAP);
    hamToOther = file('ham-to-other.txt', HAM_TO_OTHER);
  });

  it('merges a flat ISIC-2017 set, HAM10000 and PH2 (each mapped) and a synthetic set into one vocabulary, with sources and lesions', async () => {
    const out = path.join(work, 'merged-multi');
    const all = readClassMap(allMap);
    const inputs: MergeInput[] = [
      { dir: flat, classMap: all },
      { dir: ham, classMap: all },
      { dir: ph2, classMap: readClassMap(ph2Map) },
      { dir: syn },
    ];
    const s = await mergeInputs(inputs, out);
    const classes = ['nevus', 'melanoma', 'seborrheic_keratosis', 'other'];
    expect(s.classes).toEqual(classes);
    expect([s.real, s.synthetic]).toEqual([9 + 17 + 8, 3]);
    expect(s.duplicates).toEqual([{ id: isic(8), kept: flat, dropped: ham }]);
    expect(s.inputs.map((i) => [i.format, i.role, i.officialSplit, i.images])).toEqual([
      ['flat', 'real', true, 9],
      ['isic2018', 'real', false, 18],
      ['ph2', 'real', false, 8],
      ['flat', 'synthetic', false, 3],
    ]);
    expect(readFileSync(path.join(out, 'classes.txt'), 'utf8')).toBe(classes.join('\n') + '\n');
    expect(readFileSync(path.join(out, 'labels.csv'), 'utf8').split('\n')[0]).toBe('image_id,diagnosis');

    const index = await readDataset(out);
    expect(index.problems.filter((p) => p.severity === 'error')).toEqual([]);
    expect(index.classes).toEqual(classes);
    expect(index.records).toHaveLength(37);
    const byId = new Map(index.records.map((r) => [r.id, r]));
    const dx = (id: string) => classes[byId.get(id)!.label!];
    expect([
      dx(isic(24306)),
      dx(isic(24311)),
      dx(isic(24305)),
      dx(isic(24302)),
      dx('IMD003'),
      dx('IMD004'),
      dx(isic(3)),
    ]).toEqual(['other', 'other', 'seborrheic_keratosis', 'nevus', 'nevus', 'melanoma', 'seborrheic_keratosis']);
    // PH2's BMP image is linked as it is; its 1-bit BMP mask becomes a one-channel 0/255 PNG.
    expect(byId.get('IMD002')!.image).toBe(path.join(out, 'images', 'IMD002.bmp'));
    const png = readFileSync(path.join(out, 'masks', 'IMD002_segmentation.png'));
    expect(pngChannels(png)).toBe(1);
    const { raw } = await checkMask(png, 'IMD002');
    expect([raw.width, raw.height, [...new Set(raw.data)].sort((a, b) => a - b)]).toEqual([40, 32, [0, 255]]);

    // source.csv: where each image came from, its own diagnosis, its lesion, and where else it was.
    const sources = new Map(readTable(path.join(out, 'source.csv')).map((r) => [r.image_id!, r]));
    expect(sources.size).toBe(37);
    expect(sources.get(isic(8))).toEqual({
      image_id: isic(8),
      source: flat,
      format: 'flat',
      original_diagnosis: 'melanoma',
      lesion_id: 'HAM_A',
      also_in: ham,
    });
    expect(sources.get(isic(24306))).toMatchObject({
      source: ham,
      format: 'isic2018',
      original_diagnosis: 'BCC',
      lesion_id: 'HAM_D',
      also_in: '',
    });
    expect(sources.get('IMD003')).toMatchObject({
      source: ph2,
      format: 'ph2',
      original_diagnosis: 'atypical_nevus',
      lesion_id: '',
    });
    expect(sources.get('SYN_0000900')).toMatchObject({ source: syn, format: 'flat', original_diagnosis: 'nevus' });

    // Splits: the flat set's official one; HAM_A's other image joins its test image; PH2 as `data prepare` splits it.
    for (const [n, , split] of FLAT) expect(byId.get(isic(n))!.split, isic(n)).toBe(split);
    expect(byId.get(isic(24301))!.split).toBe('test');
    const ph2Alone = assignSplits(
      (await readDataset(ph2, undefined, readClassMap(ph2Map))).records,
      DEFAULT_SPLIT,
    ).splits;
    for (const [id, split] of ph2Alone) expect(byId.get(id)!.split, id).toBe(split);
    for (const r of index.records.filter((x) => x.synthetic)) expect(r.split).toBe('train');
    expect(new Set(index.records.map((r) => r.split))).toEqual(new Set(['train', 'val', 'test']));
    // Groups come back from source.csv: no lesion on two sides, in split.csv or in any later split.
    expect(index.records.filter((r) => r.group === 'HAM_B').map((r) => r.id)).toEqual([
      isic(24302),
      isic(24303),
      isic(24304),
    ]);
    expect(groupsOnOneSide(index.records, (r) => r.split!)).toBe(true);
    for (const seed of [0, 1, 2, 3]) {
      const again = assignSplits(
        index.records.map((r) => ({ ...r, split: null })),
        { val: 0.3, test: 0.3, seed },
      ).splits;
      expect(groupsOnOneSide(index.records, (r) => again.get(r.id)!)).toBe(true);
    }
    const meta = JSON.parse(readFileSync(path.join(out, 'merge.json'), 'utf8'));
    expect(meta).toMatchObject({ format: 'dermosynth-merge', version: 2, classes, duplicates: s.duplicates });
  });

  it('a diagnosis outside the vocabulary is one error naming the dataset and the class, saying to map it', async () => {
    const out = path.join(work, 'merged-bad-vocabulary');
    await expect(mergeInputs([{ dir: flat }, { dir: ham, classMap: readClassMap(hamToOther) }], out)).rejects.toThrow(
      new RegExp(
        `^${ham}: its diagnosis other \\(after its class map .*ham-to-other\\.txt\\) is not in the merged vocabulary \\(nevus, melanoma, seborrheic_keratosis: the first dataset's, .*isic-flat\\); map it onto it: give the dataset as ${ham}=MAPFILE \\(or --classes MAPFILE\\) with lines such as "other -> nevus"`,
      ),
    );
    await expect(mergeInputs([{ dir: flat }, { dir: ham }], out)).rejects.toThrow(
      /ham: its diagnoses MEL, NV, BCC, AKIEC, BKL, DF, VASC are not in the merged vocabulary/,
    );
    await expect(
      mergeInputs(
        [
          { dir: flat },
          {
            dir: ph2,
            classMap: readClassMap(file('ph2-partial.txt', ['common_nevus -> nevus', 'melanoma -> melanoma'])),
          },
        ],
        out,
      ),
    ).rejects.toThrow(/its diagnosis atypical_nevus is not covered by the class map/);
    expect(existsSync(out)).toBe(false);
  });

  it('one id in two datasets: written once when the files and diagnoses agree, else an error naming both', async () => {
    const diffBytes = path.join(work, 'ham-other-bytes');
    makeHam(
      diffBytes,
      [
        ['HAM_A', 8, 'mel'],
        ['HAM_B', 24302, 'nv'],
      ],
      (n) => (n === 8 ? otherJpeg : jpeg),
    );
    const all = readClassMap(allMap);
    const out = path.join(work, 'merged-collision');
    await expect(
      mergeInputs(
        [
          { dir: flat, classMap: all },
          { dir: diffBytes, classMap: all },
        ],
        out,
      ),
    ).rejects.toThrow(
      new RegExp(
        `lesion id ISIC_0000008 is in both ${flat} \\(.*ISIC_0000008\\.jpg\\) and ${diffBytes} \\(.*ISIC_0000008\\.jpg\\) as different image files; one id must be one image: remove it from one of the datasets`,
      ),
    );
    const diffDx = path.join(work, 'ham-other-dx');
    makeHam(diffDx, [['HAM_A', 8, 'nv']]);
    await expect(
      mergeInputs(
        [
          { dir: flat, classMap: all },
          { dir: diffDx, classMap: all },
        ],
        out,
      ),
    ).rejects.toThrow(/ISIC_0000008 is in both .* with different diagnoses \(melanoma, nevus\)/);
    // One lesion whose images the flat set's official split puts in train and in test.
    const across = path.join(work, 'ham-across');
    makeHam(across, [
      ['HAM_Z', 1, 'mel'],
      ['HAM_Z', 8, 'mel'],
    ]);
    await expect(
      mergeInputs(
        [
          { dir: flat, classMap: all },
          { dir: across, classMap: all },
        ],
        out,
      ),
    ).rejects.toThrow(
      /lesion HAM_Z: its images are in train \(ISIC_0000001 in .*isic-flat\) and in test \(ISIC_0000008 in .*isic-flat\) by their datasets' official splits; one lesion must be on one side/,
    );
    await expect(mergeInputs([{ dir: flat }, { dir: flat }], out)).rejects.toThrow(
      /isic-flat is given twice; give each dataset once/,
    );
    await expect(mergeInputs([{ dir: syn }], out)).rejects.toThrow(
      /every dataset given is synthetic .*give at least one real dataset/,
    );
    expect(existsSync(out)).toBe(false);
  });

  it("the flat reader takes groups from source.csv's lesion_id; a second row is an error, a row for no image a warning", async () => {
    const dir = path.join(work, 'flat-lesions');
    makeFlatIsic(dir, FLAT.slice(0, 4));
    writeFileSync(
      path.join(dir, 'source.csv'),
      ['image_id,source,lesion_id', `${isic(1)},x,L1`, `${isic(2)},x,L1`, `${isic(3)},x,`, `${isic(77)},x,L9`].join(
        '\n',
      ) + '\n',
    );
    let index = await readDataset(dir);
    expect(index.records.map((r) => r.group)).toEqual(['L1', 'L1', undefined, undefined]);
    expect(index.problems.map((p) => [p.severity, p.kind, p.message])).toEqual([
      [
        'warning',
        'orphan-source-row',
        expect.stringMatching(
          /1 rows with a lesion_id name images that are not in the dataset \(ISIC_0000077\); ignored/,
        ),
      ],
    ]);
    writeFileSync(
      path.join(dir, 'source.csv'),
      ['image_id,lesion_id', `${isic(1)},L1`, `${isic(1)},L2`].join('\n') + '\n',
    );
    index = await readDataset(dir);
    expect(index.problems.map((p) => [p.id, p.file, p.message])).toEqual([
      [isic(1), `${path.join(dir, 'source.csv')}:3`, 'a second row for ISIC_0000001 (the first is line 2); keep one'],
    ]);
  });

  it('DIR=MAPFILE on the command line: a dataset and its class map; a folder named with = is a folder', () => {
    expect(parseMergeArgument('data/ham=maps/ham.txt')).toEqual({ dir: 'data/ham', mapFile: 'maps/ham.txt' });
    expect(parseMergeArgument('data/isic')).toEqual({ dir: 'data/isic', mapFile: null });
    const odd = path.join(work, 'a=b');
    mkdirSync(odd);
    expect(parseMergeArgument(odd)).toEqual({ dir: odd, mapFile: null });
    expect(() => parseMergeArgument('data/ham=')).toThrow(/'data\/ham=' is not DIR or DIR=MAPFILE/);
    expect(() => mergeInputOf(`${ham}=nowhere.txt`)).toThrow(
      /ham=nowhere\.txt: there is no class map file nowhere\.txt \(nor a folder named .*\); write DIR=MAPFILE with an existing map/,
    );
    expect(mergeInputOf(`${ph2}=${ph2Map}`, allMap).classMap!.file).toBe(ph2Map);
    expect(mergeInputOf(ph2, allMap).classMap!.file).toBe(allMap);
  });

  it('dermosynth data merge: datasets with maps, --classes for the others, the old REAL SYN form', () => {
    const cli = cliRunner();
    const out = path.join(work, 'merged-cli');
    let r = cli('data', 'merge', flat, ham, `${ph2}=${ph2Map}`, syn, '--classes', allMap, '--out', out);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/34 real \+ 3 synthetic lesions, diagnoses nevus, melanoma, seborrheic_keratosis, other/);
    expect(r.stdout).toMatch(new RegExp(`${ph2}\\s+ph2\\s+.*ph2\\.txt\\s+8\\s+stratified`));
    expect(r.stdout).toMatch(
      /warning: 1 image\(s\) found in two datasets .*\n\s+ISIC_0000008: kept from .*isic-flat, also in .*ham/,
    );
    r = cli('data', 'merge', real, path.join(work, 'syn1'), '--out', path.join(work, 'merged-cli-old'));
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/20 real \+ 6 synthetic lesions/);
    r = cli('data', 'merge', flat, ham, '--out', path.join(work, 'merged-cli-bad'));
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/its diagnoses MEL, NV, BCC, AKIEC, BKL, DF, VASC are not in the merged vocabulary/);
    r = cli('data', 'merge', '--help');
    expect(r.stdout).toMatch(/DIR=MAPFILE/);
  });
});
