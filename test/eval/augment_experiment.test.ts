// The augmentation experiment end to end on the procedural sample data, with tiny settings: it
// completes with parseable artifacts, a stopped run continues without retraining finished pairs
// (and ends with the same numbers), and a test set with synthetic lesions is refused.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, copyFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as torch from '../../src/torch/index.js';
import { syntheticId } from '../../src/data/dataset.js';
import { writeSampleDataset } from '../../src/data/sample_dataset.js';
import { runAugmentExperiment, runDir, type AugmentExperimentOptions, type ExperimentResults } from '../../src/eval/augment_experiment.js';

const root = mkdtempSync(path.join(os.tmpdir(), 'dermosynth-augment-'));
const repo = path.resolve(import.meta.dirname, '../..');
const real = path.join(root, 'real');
const synthetic = path.join(root, 'synthetic');
const test = path.join(root, 'test');

/**
 * A sample dataset with its lesions renamed by `idOf` (synthetic ids SYN_0000000, ... as
 * `dermosynth synthesize` names them, or other real ids: lesions are told apart by id).
 */
async function writeRenamedDataset(dir: string, n: number, seed: number, idOf: (i: number) => string): Promise<void> {
  const tmp = path.join(root, `tmp-${seed}`);
  await writeSampleDataset(tmp, { n, seed, size: 32 });
  mkdirSync(path.join(dir, 'images'), { recursive: true });
  mkdirSync(path.join(dir, 'masks'), { recursive: true });
  const rows = readFileSync(path.join(tmp, 'labels.csv'), 'utf8').trim().split('\n');
  const out = [rows[0]];
  rows.slice(1).forEach((row, i) => {
    const [id, ...rest] = row.split(',');
    const syn = idOf(i);
    copyFileSync(path.join(tmp, 'images', `${id}.jpg`), path.join(dir, 'images', `${syn}.jpg`));
    copyFileSync(path.join(tmp, 'masks', `${id}_segmentation.png`), path.join(dir, 'masks', `${syn}_segmentation.png`));
    out.push([syn, ...rest].join(','));
  });
  writeFileSync(path.join(dir, 'labels.csv'), `${out.join('\n')}\n`);
}

const options = (out: string, o: Partial<AugmentExperimentOptions> = {}): AugmentExperimentOptions => ({
  real, synthetic, test, out: path.join(root, out),
  models: ['resnet18'], seeds: 2, epochs: 1, width: 32, height: 32, weightsDir: null,
  batch: 4, lr: 1e-3, optimizer: 'adam', balanced: false, augment: 'none', bootstrap: 200, ...o,
});

beforeAll(async () => {
  torch.setNumThreads(1);
  await writeSampleDataset(real, { n: 18, seed: 1, size: 32 });
  await writeSampleDataset(path.join(root, 'real-copy'), { n: 18, seed: 1, size: 32 });
  await writeRenamedDataset(synthetic, 9, 2, syntheticId);
  await writeRenamedDataset(test, 12, 3, (i) => `TEST_${String(i).padStart(4, '0')}`);
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('experiment augment', () => {
  let complete: ExperimentResults;

  it('runs to the end: results.json, results.md and ROC charts', async () => {
    const notices: string[] = [];
    const starts: string[] = [];
    const r = await runAugmentExperiment(options('full'), { onNotice: (m) => notices.push(m), onTrainStart: (s) => starts.push(`${s.model}/${s.seed}/${s.arm}`) });
    expect(r).not.toBeNull();
    complete = r!;
    expect(starts).toEqual(['resnet18/0/real', 'resnet18/0/real+synthetic', 'resnet18/1/real', 'resnet18/1/real+synthetic']);
    expect(notices.join('\n')).toMatch(/test set: 12 real lesions \(all of --test: NV 4, MEL 4, SK 4\); training: 12 real \+ 9 synthetic lesions/);
    expect(notices.join('\n')).toMatch(/resnet18: trained from scratch/);
    const out = path.join(root, 'full');
    const json = JSON.parse(readFileSync(path.join(out, 'results.json'), 'utf8')) as ExperimentResults;
    expect(json.format).toBe('dermosynth-augment-experiment');
    expect(json.data.testSplit).toBe('all');
    const m = json.models[0]!;
    expect(m.model).toBe('resnet18');
    expect(m.arms.real.trainLesions).toBe(12);
    expect(m.arms['real+synthetic'].trainLesions).toBe(21);
    for (const arm of ['real', 'real+synthetic'] as const) {
      const a = m.arms[arm];
      expect(a.perSeed.map((s) => s.seed)).toEqual([0, 1]);
      for (const k of ['melanoma', 'seborrheic_keratosis', 'mean'] as const) {
        const v = a.pooled[k];
        expect(v.auc).toBeGreaterThanOrEqual(0);
        expect(v.auc).toBeLessThanOrEqual(1);
        expect(v.ci95[0]).toBeLessThanOrEqual(v.ci95[1]);
      }
      expect(a.pooled.mean.auc).toBeCloseTo((a.pooled.melanoma.auc + a.pooled.seborrheic_keratosis.auc) / 2, 12);
    }
    expect(m.comparison.melanoma.p).toBeGreaterThan(0);
    expect(m.comparison.melanoma.p).toBeLessThanOrEqual(1);
    expect(m.comparison.melanoma.difference).toBeCloseTo(m.arms['real+synthetic'].pooled.melanoma.auc - m.arms.real.pooled.melanoma.auc, 12);
    for (const t of ['melanoma', 'seborrheic_keratosis'] as const) {
      const svg = readFileSync(path.join(out, m.roc[t].svg), 'utf8');
      expect(svg).toContain(`real (AUC ${m.arms.real.pooled[t].auc.toFixed(3)})`);
      expect(svg).toContain(`real+synthetic (AUC ${m.arms['real+synthetic'].pooled[t].auc.toFixed(3)})`);
      expect((await sharp(path.join(out, m.roc[t].png)).metadata()).format).toBe('png');
    }
    const md = readFileSync(path.join(out, 'results.md'), 'utf8');
    expect(md).toMatch(/\| resnet18 \| real \| 12 \| scratch \| \d\.\d{3} \[\d\.\d{3}, \d\.\d{3}\] \|/);
    expect(md).toMatch(/\| resnet18 \| real\+synthetic \| 21 \| scratch \|/);
    expect(md).toMatch(/\| resnet18 \| [+-]\d\.\d{3} \(/);
    const pred = JSON.parse(readFileSync(path.join(runDir(out, 'resnet18', 1, 'real+synthetic'), 'predictions.json'), 'utf8'));
    expect(pred.ids.length).toBe(12);
    expect(pred.ids.every((id: string) => !id.startsWith('SYN_'))).toBe(true);
  });

  it('a stopped run continues: finished pairs are not retrained, the stopped one resumes, the numbers are the same', async () => {
    let steps = 0;
    const first = await runAugmentExperiment(options('resumed'), { onStep: () => steps++, shouldStop: () => steps === 5 });
    expect(first).toBeNull(); // stopped in the second pair (3 steps in the first, 5 per epoch in the second)
    expect(existsSync(path.join(runDir(path.join(root, 'resumed'), 'resnet18', 0, 'real'), 'predictions.json'))).toBe(true);
    const notices: string[] = [];
    const starts: { arm: string; seed: number; startStep: number }[] = [];
    const second = await runAugmentExperiment(options('resumed'), { onNotice: (m) => notices.push(m), onTrainStart: (s) => starts.push({ arm: s.arm, seed: s.seed, startStep: s.startStep }) });
    expect(notices.join('\n')).toMatch(/\[1\/4\] resnet18 seed 0 real: done already, not retrained/);
    expect(notices.join('\n')).toMatch(/resuming at step 2 of 5/);
    expect(starts).toEqual([
      { arm: 'real+synthetic', seed: 0, startStep: 2 },
      { arm: 'real', seed: 1, startStep: 0 },
      { arm: 'real+synthetic', seed: 1, startStep: 0 },
    ]);
    // Exact resume: the same predictions, so the same statistics, as the uninterrupted run.
    expect(second!.models).toEqual(complete.models);
    // A third run trains nothing.
    const again: string[] = [];
    await runAugmentExperiment(options('resumed'), { onTrainStart: (s) => again.push(s.arm) });
    expect(again).toEqual([]);
  });

  it('refuses a test set with synthetic lesions, one that overlaps the training set, and other options for existing runs', async () => {
    await expect(runAugmentExperiment(options('overlap', { test: path.join(root, 'real-copy') }))).rejects.toThrow(/test lesions are also training lesions \(SAMPLE_/);
    await expect(runAugmentExperiment(options('bad', { test: synthetic }))).rejects.toThrow(/the test set \(--test .*synthetic\) contains 9 synthetic lesions \(SYN_0000000, .*evaluate on real lesions only/);
    await expect(runAugmentExperiment(options('bad2', { synthetic: test }))).rejects.toThrow(/--synthetic .* contains real lesions \(TEST_/);
    await expect(runAugmentExperiment(options('full', { lr: 0.5 }))).rejects.toThrow(/was trained with other options \(lr: run 0\.001, now 0\.5\)/);
  });

  it('the command line: experiment augment --help and a bad model name', () => {
    const run = (...args: string[]) => spawnSync(process.execPath, [path.join(repo, 'bin/dermosynth.mjs'), ...args], { cwd: repo, encoding: 'utf8', timeout: 60_000 });
    const help = run('experiment', 'augment', '--help');
    expect(help.status).toBe(0);
    expect(help.stdout).toMatch(/--weights-dir <dir>/);
    const bad = run('experiment', 'augment', '--real', real, '--synthetic', synthetic, '--test', test, '--out', path.join(root, 'cli'), '--models', 'resnet18,vgg');
    expect(bad.status).not.toBe(0);
    expect(bad.stderr).toMatch(/expected one of resnet18, resnet50, densenet121, efficientnet_b0, got 'vgg'/);
  });
});
