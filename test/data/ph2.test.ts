// The PH2 reader (src/data/readers/ph2.ts) on a PH2 folder built here as the dataset is downloaded:
// BMP images (24-bit, bottom-up and top-down) and 1-bit BMP masks in per-lesion folders, and a
// PH2_dataset.txt table with "||" and tab separators and a legend that is not lesions, or its
// spreadsheet twin PH2_dataset.xlsx (written here as Excel lays it out).
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readDataset } from '../../src/data/readers/index.js';
import { PH2_CLASSES } from '../../src/data/readers/ph2.js';
import { writeBmp } from '../helpers/bmp_writer.js';
import { xlsxBytes, type XlsxCell } from '../helpers/xlsx_writer.js';
import { cliRunner } from '../helpers/cli.js';

const work = mkdtempSync(path.join(os.tmpdir(), 'dermosynth-ph2-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const HEADER = '|| Name ||\t Histological Diagnosis ||\t Clinical Diagnosis ||\t Asymmetry ||\t Pigment Network ||';
const LEGEND = ['', 'Legends:', '|| Clinical Diagnosis ||\t 0 - Common Nevus; 1 - Atypical Nevus; 2 - Melanoma ||'];

/** A PH2 folder: lesions IMD002.. with diagnoses `dx` (0, 1, 2), 48x40 images with a disc-shaped lesion. */
function makePh2(dir: string, dx: number[], o: { table?: string[] | null; skipMask?: string } = {}): string[] {
  const ids = dx.map((_, i) => `IMD${String(i + 2).padStart(3, '0')}`);
  const W = 48,
    H = 40;
  ids.forEach((id, i) => {
    const base = path.join(dir, 'PH2 Dataset images', id);
    mkdirSync(path.join(base, `${id}_Dermoscopic_Image`), { recursive: true });
    mkdirSync(path.join(base, `${id}_lesion`), { recursive: true });
    const inside = (x: number, y: number) => (x - W / 2) ** 2 + (y - H / 2) ** 2 < (8 + i) ** 2;
    const img = writeBmp(
      W,
      H,
      { bpp: 24, topDown: i % 2 === 1 },
      (x, y) => (inside(x, y) ? 0x503020 : 0xd0a090) + ((x + y) & 7),
    );
    writeFileSync(path.join(base, `${id}_Dermoscopic_Image`, `${id}.bmp`), img);
    if (o.skipMask !== id) {
      const mask = writeBmp(
        W,
        H,
        {
          bpp: 1,
          palette: [
            [0, 0, 0],
            [255, 255, 255],
          ],
        },
        (x, y) => (inside(x, y) ? 1 : 0),
      );
      writeFileSync(path.join(base, `${id}_lesion`, `${id}_lesion.bmp`), mask);
    }
  });
  const rows = ids.map((id, i) => `|| ${id} ||\t\t || ${dx[i]} ||\t 0 ||\t T ||`);
  if (o.table !== null)
    writeFileSync(path.join(dir, 'PH2_dataset.txt'), (o.table ?? [HEADER, ...rows, ...LEGEND]).join('\r\n'));
  return ids;
}

describe('PH2 reader', () => {
  it('recognises the folder as downloaded: diagnoses, BMP images and masks, the legend skipped line by line', async () => {
    const dir = path.join(work, 'ph2-ok');
    const ids = makePh2(dir, [0, 1, 2, 0, 2, 1]);
    const index = await readDataset(dir);
    expect(index.format).toBe('ph2');
    expect(index.classes).toEqual([...PH2_CLASSES]);
    expect(index.records.map((r) => [r.id, r.label, r.split])).toEqual(
      ids.map((id, i) => [id, [0, 1, 2, 0, 2, 1][i], null]),
    );
    expect(index.records.every((r) => r.image?.endsWith('.bmp') && r.mask?.endsWith('_lesion.bmp'))).toBe(true);
    expect(index.problems.filter((p) => p.severity === 'error')).toEqual([]);
    // "Legends:" and the legend row are not lesions: each is a warning naming its line.
    const skipped = index.problems.filter((p) => p.kind === 'not-a-lesion-row').map((p) => p.file);
    expect(skipped).toEqual([
      `${path.join(dir, 'PH2_dataset.txt')}:${ids.length + 3}`,
      `${path.join(dir, 'PH2_dataset.txt')}:${ids.length + 4}`,
    ]);
  });

  it('bad input: each problem one line naming the file (and line)', async () => {
    const noTable = path.join(work, 'ph2-no-table');
    makePh2(noTable, [0, 1], { table: null });
    await expect(readDataset(noTable)).rejects.toThrow(
      /PH2's diagnosis file is missing: neither PH2_dataset\.txt nor PH2_dataset\.xlsx is there/,
    );
    writeFileSync(path.join(noTable, 'PH2_dataset.xlsx'), 'x');
    await expect(readDataset(noTable)).rejects.toThrow(
      /PH2_dataset\.xlsx: not a readable \.xlsx workbook .*save the table again as an Excel workbook/,
    );

    const bad = path.join(work, 'ph2-bad');
    makePh2(bad, [0, 1, 2], {
      skipMask: 'IMD003',
      table: [
        HEADER,
        '|| IMD002 ||\t\t || 7 ||\t 0 ||',
        '|| IMD003 ||\t\t || 1 ||',
        '|| IMD004 ||\t\t || 2 ||',
        '|| IMD009 ||\t\t || 2 ||',
      ],
    });
    const index = await readDataset(bad);
    const table = path.join(bad, 'PH2_dataset.txt');
    const errors = index.problems.filter((p) => p.severity === 'error').map((p) => `${p.id} ${p.kind} ${p.file}`);
    expect(errors).toEqual(
      expect.arrayContaining([
        `IMD002 bad-csv ${table}:2`,
        `IMD003 missing-mask ${path.join(bad, 'PH2 Dataset images', 'IMD003', 'IMD003_lesion', 'IMD003_lesion.bmp')}`,
        `IMD002 missing-label ${table}`,
        `IMD009 missing-image ${table}:5`,
      ]),
    );
    expect(index.problems.find((p) => p.kind === 'bad-csv')!.message).toMatch(
      /Clinical Diagnosis is "7"; PH2 uses 0 \(common nevus\), 1 \(atypical nevus\) or 2 \(melanoma\)/,
    );

    const edited = path.join(work, 'ph2-edited');
    makePh2(edited, [0], { table: ['Name;Diagnosis', 'IMD002;0'] });
    await expect(readDataset(edited)).rejects.toThrow(/no header row naming "Name" and "Clinical Diagnosis"/);
  });

  it('dermosynth data inspect and data prepare read it end to end (BMP decoding included)', () => {
    const dir = path.join(work, 'ph2-cli');
    makePh2(dir, [0, 1, 2, 0, 1, 2, 0, 1, 2]);
    const cli = cliRunner();
    let r = cli('data', 'inspect', dir);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/ph2/);
    expect(r.stdout).toMatch(/atypical_nevus/);
    r = cli('data', 'prepare', dir, '--size', '32x32', '--out', path.join(work, 'ph2-cache'));
    expect(r.status, r.stderr).toBe(0);
    r = cli('data', 'inspect', path.join(work, 'ph2-cache'));
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/9/);
  });

  it("--classes maps PH2 onto ISIC-2017's diagnoses; a diagnosis the map misses is one error naming it", () => {
    const dir = path.join(work, 'ph2-map');
    makePh2(dir, [0, 1, 2, 1]);
    const map = path.join(work, 'ph2-to-isic2017.txt');
    writeFileSync(
      map,
      '# PH2 onto ISIC-2017\nclasses: nevus, melanoma, seborrheic_keratosis\ncommon_nevus -> nevus\natypical_nevus -> nevus\n',
    );
    const cli = cliRunner();
    let r = cli('data', 'inspect', dir, '--classes', map);
    expect(r.status, r.stderr).toBe(0);
    const all = r.stdout.split('\n').find((l) => /^\s*all\b/.test(l))!;
    expect(all.trim().split(/\s+/).slice(1).map(Number)).toEqual([3, 1, 0, 4]); // NV MEL SK total
    writeFileSync(map, 'common_nevus -> nevus\nmelanoma -> melanoma\n');
    r = cli('data', 'inspect', dir, '--classes', map);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(
      /its diagnosis atypical_nevus is not covered by the class map .*ph2-to-isic2017\.txt \(targets: nevus, melanoma\); add a line such as "atypical_nevus -> nevus"/,
    );
  });
  it('reads PH2_dataset.xlsx when the .txt is absent: title rows, the header found, X marks; bad rows name the sheet row', async () => {
    const dir = path.join(work, 'ph2-xlsx');
    const ids = makePh2(dir, [0, 2, 1, 0, 1], { table: null });
    const X = (k: number): XlsxCell[] => [0, 1, 2].map((j) => (j === k ? 'X' : null));
    const rows: XlsxCell[][] = [
      ['PH\u00b2 Database - Dermoscopic images & annotations'],
      [],
      ['Legends:'],
      ['Asymmetry', '0 - Fully Symmetric; 1 - Symetric in 1 axe; 2 - Fully Asymmetric'],
      ...Array.from({ length: 7 }, () => []),
      [null, null, 'Clinical Diagnosis', null, null, null, 'Colors'],
      [
        { rich: ['Image ', 'Name'] },
        'Histological Diagnosis',
        'Common Nevus',
        'Atypical Nevus',
        'Melanoma',
        'Asymmetry\n(0/1/2)',
        'White',
      ],
      [ids[0]!, null, ...X(0), 0, 'X'],
      [ids[1]!, 'Melanoma', ...X(2), 2, null],
      [{ inline: ids[2]! }, null, ...X(1), 1, 'X'],
      [ids[3]!, null, ' x ', null, null, 0, null],
      [ids[4]!, null, 'X', null, 'X', 1, null],
      [],
      ['Total', null, 2, 2, 1],
    ];
    const xlsx = path.join(dir, 'PH2_dataset.xlsx');
    writeFileSync(xlsx, xlsxBytes(rows, { merged: ['C12:E12'] }));
    const index = await readDataset(dir);
    expect(index.format).toBe('ph2');
    expect(index.records.map((r) => [r.id, r.label])).toEqual([
      [ids[0], 0],
      [ids[1], 2],
      [ids[2], 1],
      [ids[3], 0],
      [ids[4], null],
    ]);
    expect(index.problems.map((p) => [p.severity, p.id, p.file, p.message])).toEqual([
      [
        'error',
        ids[4],
        `${xlsx}:18`,
        '"Common Nevus" and "Melanoma" are both marked; PH2 marks one of Common Nevus, Atypical Nevus or Melanoma with an X',
      ],
      [
        'warning',
        undefined,
        `${xlsx}:20`,
        'not a lesion row (no IMD name in the "Image Name" column): "Total 2 2 1"; skipped',
      ],
      [
        'error',
        ids[4],
        xlsx,
        `no row for ${ids[4]} in PH2_dataset.xlsx; add its Clinical Diagnosis or remove the lesion folder`,
      ],
    ]);

    // The diagnoses named in the row below the header (under a "Clinical Diagnosis" cell) read the same.
    const below = path.join(work, 'ph2-xlsx-below');
    const ids2 = makePh2(below, [1, 2], { table: null });
    writeFileSync(
      path.join(below, 'PH2_dataset.xlsx'),
      xlsxBytes([
        ['Image Name', 'Histological Diagnosis', 'Clinical Diagnosis'],
        [null, null, 'Common Nevus', 'Atypical Nevus', 'Melanoma'],
        [ids2[0]!, null, ...X(1)],
        [ids2[1]!, null, ...X(2)],
      ]),
    );
    expect((await readDataset(below)).records.map((r) => r.label)).toEqual([1, 2]);

    // With both files, the .txt is read; a sheet without the header is refused naming the file.
    writeFileSync(
      path.join(below, 'PH2_dataset.xlsx'),
      xlsxBytes([
        ['Image Name', 'Diagnosis'],
        [ids2[0]!, 'X'],
      ]),
    );
    await expect(readDataset(below)).rejects.toThrow(
      /PH2_dataset\.xlsx: no header row naming "Image Name" and the "Common Nevus", "Atypical Nevus" and "Melanoma" columns/,
    );
    writeFileSync(
      path.join(below, 'PH2_dataset.txt'),
      [HEADER, `|| ${ids2[0]} ||\t\t || 0 ||`, `|| ${ids2[1]} ||\t\t || 0 ||`].join('\n'),
    );
    expect((await readDataset(below)).records.map((r) => r.label)).toEqual([0, 0]);
  });
});
