// data merge: real + synthetic into one training set; synthetic lesions only ever in train.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { mkdtempSync, readFileSync, rmSync, renameSync, writeFileSync, mkdirSync, existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { writeSampleDataset } from '../../src/data/sample_dataset.js';
import { mergeDatasets } from '../../src/data/merge.js';
import { readDataset } from '../../src/data/readers/index.js';
import { assignSplits, DEFAULT_SPLIT } from '../../src/data/split.js';
import { refuseSynthetic } from '../../src/data/dataset.js';

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
    expect(() => refuseSynthetic(index.records, 'the whole set')).toThrow(/10 synthetic lesions \(SYN_0000001.*real lesions only/);
    const prov = readFileSync(path.join(out, 'provenance.csv'), 'utf8').trim().split('\n');
    expect(prov).toHaveLength(11);
    expect(prov[0]).toBe('image_id,diagnosis,source_id');
  });

  it('refuses colliding ids, real lesions passed as synthetic, and an existing output', async () => {
    await expect(mergeDatasets(real, [path.join(work, 'syn1'), path.join(work, 'syn1')], path.join(work, 'm2'))).rejects.toThrow(/SYN_0000001 is in both .*--first-id/);
    await expect(mergeDatasets(real, [real], path.join(work, 'm3'))).rejects.toThrow(/is not a synthetic lesion/);
    await expect(mergeDatasets(path.join(work, 'syn1'), [path.join(work, 'syn2')], path.join(work, 'm4'))).rejects.toThrow(/real dataset holds synthetic lesions/);
    await expect(mergeDatasets(real, [path.join(work, 'syn1')], path.join(work, 'merged'))).rejects.toThrow(/already exists.*--overwrite/);
    await expect(mergeDatasets(real, [path.join(work, 'syn1')], real, { overwrite: true })).rejects.toThrow(/replaces only an earlier merge/);
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
