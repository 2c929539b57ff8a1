// The augmentation experiment end to end on the procedural sample data, with tiny settings: it
// completes with parseable artifacts in and out of distribution, a stopped run continues without
// retraining finished pairs (and ends with the same numbers), a test set of another vocabulary is
// scored through a class map on the questions it can answer, and bad test sets are refused.
import { spawnSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  writeFileSync,
  copyFileSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as torch from '../../src/torch/index.js';
import { syntheticId } from '../../src/data/dataset.js';
import { writeSampleDataset } from '../../src/data/sample_dataset.js';
import {
  TEST_SETS,
  predictionsFile,
  runAugmentExperiment,
  runDir,
  type AugmentExperimentOptions,
  type ExperimentResults,
} from '../../src/eval/augment_experiment.js';
import { rocAuc } from '../../src/eval/auc.js';

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
  real,
  synthetic,
  test,
  out: path.join(root, out),
  classes: null,
  tasks: null,
  models: ['resnet18'],
  seeds: 2,
  epochs: 1,
  width: 32,
  height: 32,
  weightsDir: null,
  batch: 4,
  lr: 1e-3,
  optimizer: 'adam',
  balanced: false,
  augment: 'none',
  bootstrap: 200,
  ...o,
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
    const r = await runAugmentExperiment(options('full'), {
      onNotice: (m) => notices.push(m),
      onTrainStart: (s) => starts.push(`${s.model}/${s.seed}/${s.arm}`),
    });
    expect(r).not.toBeNull();
    complete = r!;
    expect(starts).toEqual([
      'resnet18/0/real',
      'resnet18/0/real+synthetic',
      'resnet18/1/real',
      'resnet18/1/real+synthetic',
    ]);
    const said = notices.join('\n');
    expect(said).toMatch(/test set, in distribution: 3 real lesions, the test split of .*real \(NV 1, MEL 1, SK 1\)/);
    expect(said).toMatch(/test set, out of distribution: 12 real lesions, all of .*test \(NV 4, MEL 4, SK 4\)/);
    expect(said).toMatch(
      /training: 12 real \+ 9 synthetic lesions; diagnoses nevus, melanoma, seborrheic_keratosis; questions MEL vs rest, SK vs rest/,
    );
    expect(said).toMatch(/resnet18: trained from scratch/);
    const out = path.join(root, 'full');
    const json = JSON.parse(readFileSync(path.join(out, 'results.json'), 'utf8')) as ExperimentResults;
    expect(json.format).toBe('dermosynth-augment-experiment');
    expect(json.version).toBe(2);
    expect(json.data.tasks).toEqual(['melanoma', 'seborrheic_keratosis']);
    expect(json.data.testSets.map((t) => [t.key, t.split, t.lesions, t.absent.length])).toEqual([
      ['in-distribution', 'test', 3, 0],
      ['out-of-distribution', 'all', 12, 0],
    ]);
    const m = json.models[0]!;
    expect(m.model).toBe('resnet18');
    expect(m.trainLesions).toEqual({ real: 12, 'real+synthetic': 21 });
    for (const key of TEST_SETS) {
      const t = m.tests[key]!;
      for (const arm of ['real', 'real+synthetic'] as const) {
        const a = t.arms[arm];
        expect(a.perSeed.map((x) => x.seed)).toEqual([0, 1]);
        for (const v of [a.pooled.tasks.melanoma!, a.pooled.tasks.seborrheic_keratosis!, a.pooled.mean]) {
          expect(v.auc).toBeGreaterThanOrEqual(0);
          expect(v.auc).toBeLessThanOrEqual(1);
          expect(v.ci95[0]).toBeLessThanOrEqual(v.ci95[1]);
        }
        expect(a.pooled.mean.auc).toBeCloseTo(
          (a.pooled.tasks.melanoma!.auc + a.pooled.tasks.seborrheic_keratosis!.auc) / 2,
          12,
        );
        for (const x of a.perSeed) expect(x.mean).toBeCloseTo((x.auc.melanoma! + x.auc.seborrheic_keratosis!) / 2, 12);
      }
      const c = t.comparison.tasks.melanoma!;
      expect(c.p).toBeGreaterThan(0);
      expect(c.p).toBeLessThanOrEqual(1);
      expect(c.difference).toBeCloseTo(
        t.arms['real+synthetic'].pooled.tasks.melanoma!.auc - t.arms.real.pooled.tasks.melanoma!.auc,
        12,
      );
      for (const k of ['melanoma', 'seborrheic_keratosis']) {
        const svg = readFileSync(path.join(out, t.roc[k]!.svg), 'utf8');
        expect(svg).toContain(`real (AUC ${t.arms.real.pooled.tasks[k]!.auc.toFixed(3)})`);
        expect(svg).toContain(`real+synthetic (AUC ${t.arms['real+synthetic'].pooled.tasks[k]!.auc.toFixed(3)})`);
        expect((await sharp(path.join(out, t.roc[k]!.png)).metadata()).format).toBe('png');
      }
    }
    // The out-of-distribution AUCs are computed from the saved predictions on --test's lesions.
    const seeds = [0, 1].map((seed) =>
      JSON.parse(readFileSync(predictionsFile(runDir(out, 'resnet18', seed, 'real'), 'out-of-distribution'), 'utf8')),
    );
    const labels: number[] = seeds[0].labels;
    expect(seeds[0].ids.length).toBe(12);
    expect(seeds[0].ids.every((id: string) => id.startsWith('TEST_'))).toBe(true);
    const pooledMel = labels.map((_, i) => seeds[0].probabilities[i][1] / 2 + seeds[1].probabilities[i][1] / 2);
    expect(m.tests['out-of-distribution']!.arms.real.pooled.tasks.melanoma!.auc).toBeCloseTo(
      rocAuc(
        pooledMel,
        labels.map((l) => (l === 1 ? 1 : 0)),
      ),
      12,
    );
    const md = readFileSync(path.join(out, 'results.md'), 'utf8');
    expect(md).toMatch(
      /## melanoma vs rest \(MEL AUC\)\n\n\| model \| training data \| lesions \| in-distribution \[95% CI\] \| out-of-distribution \[95% CI\] \| per seed \(in-distribution \/ out-of-distribution\) \|/,
    );
    expect(md).toMatch(
      /\| resnet18 \| real \| 12 \(scratch\) \| \d\.\d{3} \[\d\.\d{3}, \d\.\d{3}\] \| \d\.\d{3} \[\d\.\d{3}, \d\.\d{3}\] \|/,
    );
    expect(md).toMatch(/\| resnet18 \| real\+synthetic \| 21 \(scratch\) \|/);
    expect(md).toMatch(/\| resnet18 \| Δ \(b − a\) \| \| Δ [+-]\d\.\d{3} \(p [\d.e+-]+\) \| Δ [+-]\d\.\d{3} \(p /);
  });

  it('a test set of another vocabulary: a class map puts it on one scale, AUCs for the diagnoses it has, the absent ones named; finished runs are not retrained', async () => {
    // A PH2-like set (common_nevus, atypical_nevus, melanoma) with no seborrheic keratosis.
    const ph2 = path.join(root, 'ph2-like');
    await writeRenamedDataset(ph2, 12, 4, (i) => `IMD${String(i).padStart(3, '0')}`);
    const names = ['common_nevus', 'atypical_nevus', 'melanoma'];
    const rows = readFileSync(path.join(ph2, 'labels.csv'), 'utf8')
      .trim()
      .split('\n')
      .slice(1)
      .map((r, i) => `${r.split(',')[0]},${names[i % 3]}`);
    writeFileSync(path.join(ph2, 'labels.csv'), ['image_id,diagnosis', ...rows].join('\n') + '\n');
    writeFileSync(path.join(ph2, 'classes.txt'), names.join('\n') + '\n');
    const map = path.join(root, 'ph2-onto-isic2017.txt');
    writeFileSync(
      map,
      'classes: nevus, melanoma, seborrheic_keratosis\ncommon_nevus -> nevus\natypical_nevus -> nevus\n',
    );

    await expect(runAugmentExperiment(options('ph2', { test: ph2, seeds: 1 }))).rejects.toThrow(
      /--test .*ph2-like: its diagnosis 'common_nevus' is not one of --real's \(nevus, melanoma, seborrheic_keratosis\); map the datasets onto one vocabulary with --classes FILE/,
    );
    // Said before the test set is prepared: no cache was made for it.
    expect(readdirSync(path.join(root, 'ph2', 'caches')).filter((d) => d.startsWith('test-'))).toEqual([]);
    const partial = path.join(root, 'partial-map.txt');
    writeFileSync(partial, 'classes: nevus, melanoma, seborrheic_keratosis\ncommon_nevus -> nevus\n');
    await expect(runAugmentExperiment(options('ph2', { test: ph2, seeds: 1, classes: partial }))).rejects.toThrow(
      /--test .*ph2-like: its diagnosis atypical_nevus is not covered by the class map .*partial-map\.txt/,
    );

    // The runs of 'full' are finished: the new test set is predicted from their weights, nothing trains.
    const starts: string[] = [];
    const notices: string[] = [];
    const r = (await runAugmentExperiment(options('full', { test: ph2, classes: map }), {
      onTrainStart: (x) => starts.push(x.arm),
      onNotice: (x) => notices.push(x),
    }))!;
    expect(starts).toEqual([]);
    expect(notices.join('\n')).toMatch(
      /out of distribution: 12 real lesions, all of .*ph2-like \(NV 8, MEL 4, SK 0; not scored, no lesion to tell apart: SK\)/,
    );
    const ood = r.data.testSets.find((t) => t.key === 'out-of-distribution')!;
    expect(ood.tasks).toEqual(['melanoma']);
    expect(ood.absent).toEqual(['seborrheic_keratosis']);
    expect(ood.counts).toEqual({ nevus: 8, melanoma: 4, seborrheic_keratosis: 0 });
    const t = r.models[0]!.tests['out-of-distribution']!;
    expect(Object.keys(t.arms.real.pooled.tasks)).toEqual(['melanoma']);
    expect(t.arms.real.pooled.mean.auc).toBe(t.arms.real.pooled.tasks.melanoma!.auc);
    expect(Object.keys(t.roc)).toEqual(['melanoma']);
    // In distribution is unchanged by the new --test.
    expect(r.models[0]!.tests['in-distribution']).toEqual(complete.models[0]!.tests['in-distribution']);
    const md = readFileSync(path.join(root, 'full', 'results.md'), 'utf8');
    expect(md).toMatch(
      /## seborrheic keratosis vs rest \(SK AUC\)\n\n\| model \| training data \| lesions \| in-distribution \[95% CI\] \| per seed \|/,
    );
    expect(md).toContain('not scored, no lesion to tell apart: SK');
    // --tasks must name diagnoses of the vocabulary.
    await expect(runAugmentExperiment(options('full', { test: ph2, classes: map, tasks: ['BCC'] }))).rejects.toThrow(
      /--tasks: 'BCC' is not one of the experiment's diagnoses/,
    );
  });

  it('a stopped run continues: finished pairs are not retrained, the stopped one resumes, the numbers are the same', async () => {
    let steps = 0;
    const first = await runAugmentExperiment(options('resumed'), {
      onStep: () => steps++,
      shouldStop: () => steps === 5,
    });
    expect(first).toBeNull(); // stopped in the second pair (3 steps in the first, 5 per epoch in the second)
    expect(
      existsSync(predictionsFile(runDir(path.join(root, 'resumed'), 'resnet18', 0, 'real'), 'out-of-distribution')),
    ).toBe(true);
    const notices: string[] = [];
    const starts: { arm: string; seed: number; startStep: number }[] = [];
    const second = await runAugmentExperiment(options('resumed'), {
      onNotice: (m) => notices.push(m),
      onTrainStart: (s) => starts.push({ arm: s.arm, seed: s.seed, startStep: s.startStep }),
    });
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
    await expect(runAugmentExperiment(options('overlap', { test: path.join(root, 'real-copy') }))).rejects.toThrow(
      /test lesions are also training lesions \(SAMPLE_/,
    );
    await expect(runAugmentExperiment(options('bad', { test: synthetic }))).rejects.toThrow(
      /the test set \(--test .*synthetic\) contains 9 synthetic lesions \(SYN_0000000, .*evaluate on real lesions only/,
    );
    await expect(runAugmentExperiment(options('bad2', { synthetic: test }))).rejects.toThrow(
      /--synthetic .* contains real lesions \(TEST_/,
    );
    await expect(runAugmentExperiment(options('full', { lr: 0.5 }))).rejects.toThrow(
      /was trained with other options \(lr: run 0\.001, now 0\.5\)/,
    );
  });

  it('the command line: experiment augment --help and a bad model name', () => {
    const run = (...args: string[]) =>
      spawnSync(process.execPath, [path.join(repo, 'bin/dermosynth.mjs'), ...args], {
        cwd: repo,
        encoding: 'utf8',
        timeout: 60_000,
      });
    const help = run('experiment', 'augment', '--help');
    expect(help.status).toBe(0);
    expect(help.stdout).toMatch(/--weights-dir <dir>/);
    const bad = run(
      'experiment',
      'augment',
      '--real',
      real,
      '--synthetic',
      synthetic,
      '--test',
      test,
      '--out',
      path.join(root, 'cli'),
      '--models',
      'resnet18,vgg',
    );
    expect(bad.status).not.toBe(0);
    expect(bad.stderr).toMatch(/expected one of resnet18, resnet50, densenet121, efficientnet_b0, got 'vgg'/);
  });
});
