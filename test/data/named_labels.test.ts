// A flat dataset with labels.csv in the named form (image_id,diagnosis) and classes.txt: any
// vocabulary, in the declared order; bad rows named by file and line.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readDataset } from '../../src/data/readers/index.js';

const work = mkdtempSync(path.join(os.tmpdir(), 'dermosynth-named-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

function flat(dir: string, labels: string, classes?: string): void {
  for (const d of ['images', 'masks']) mkdirSync(path.join(dir, d), { recursive: true });
  for (const id of ['A1', 'A2', 'A3']) {
    writeFileSync(path.join(dir, 'images', `${id}.jpg`), 'x');
    writeFileSync(path.join(dir, 'masks', `${id}_segmentation.png`), 'x');
  }
  writeFileSync(path.join(dir, 'labels.csv'), labels);
  if (classes !== undefined) writeFileSync(path.join(dir, 'classes.txt'), classes);
}

describe('flat layout, named diagnoses', () => {
  it('classes.txt fixes the label order; without it the names are sorted', async () => {
    const a = path.join(work, 'a');
    flat(
      a,
      'image_id,diagnosis\nA1,melanoma\nA2,atypical_nevus\nA3,common_nevus\n',
      '# PH2\ncommon_nevus\natypical_nevus\nmelanoma\n',
    );
    const ia = await readDataset(a);
    expect(ia.classes).toEqual(['common_nevus', 'atypical_nevus', 'melanoma']);
    expect(ia.records.map((r) => r.label)).toEqual([2, 1, 0]);
    const b = path.join(work, 'b');
    flat(b, 'image_id,diagnosis\nA1,melanoma\nA2,atypical_nevus\nA3,common_nevus\n');
    const ib = await readDataset(b);
    expect(ib.classes).toEqual(['atypical_nevus', 'common_nevus', 'melanoma']);
    expect(ib.records.map((r) => ib.classes[r.label!])).toEqual(['melanoma', 'atypical_nevus', 'common_nevus']);
  });

  it('a diagnosis classes.txt does not list, and a repeated row, are errors naming the file and line', async () => {
    const c = path.join(work, 'c');
    flat(c, 'image_id,diagnosis\nA1,melanoma\nA2,BCC\nA3,melanoma\nA3,melanoma\n', 'nevus\nmelanoma\n');
    const ic = await readDataset(c);
    const labels = path.join(c, 'labels.csv');
    expect(ic.problems.filter((p) => p.severity === 'error').map((p) => [p.id, p.file, p.message])).toEqual(
      expect.arrayContaining([
        ['A2', `${labels}:3`, 'diagnosis "BCC" is not one of nevus, melanoma (classes.txt)'],
        ['A3', `${labels}:5`, 'duplicate label row; keep one row per image'],
      ]),
    );
  });
});
