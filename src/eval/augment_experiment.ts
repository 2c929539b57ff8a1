// The augmentation experiment (the paper's claim: synthetic lesions raise classifiers' AUC).
// For each classifier and seed, train (a) on the real training lesions and (b) on the same plus
// the synthetic ones, with the same options and seed; score both on real test lesions only:
// melanoma-vs-rest and seborrheic-keratosis-vs-rest AUCs and their mean, per seed and pooled over
// seeds (each case's probabilities averaged), with stratified bootstrap 95% CIs and DeLong's test
// of (a) vs (b). Writes OUT/results.json, OUT/results.md and ROC curves (OUT/roc/*.svg, *.png).
//
// Layout of OUT (every file written atomically; a run can be killed and started again):
//   caches/{real,synthetic,test}/      prepared caches (skipped when a prepared cache is given)
//   runs/<model>/seed-<s>/<arm>/       run.json (options), checkpoints/, model.safetensors,
//                                      predictions.json (test probabilities: marks the pair done)
// A finished pair is never retrained; an unfinished one resumes from its checkpoint.
//
// Data: --real and --synthetic are dataset folders (or prepared caches); the real training set is
// the real dataset's train split (its official split, or prepare's stratified one). The test set
// is --test's 'test' split when that dataset comes with an official split or is the --real
// folder itself (then train and test are disjoint by construction); otherwise every lesion of
// --test. A test set with synthetic lesions, a synthetic set with real ones, or a lesion id in
// both training and test sets is refused.
import { existsSync } from 'node:fs';
import { mkdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { writeFileAtomic } from '../torch/atomic_file.js';
import { LesionCache, MANIFEST_FILE } from '../data/cache.js';
import { isSyntheticId, refuseSynthetic, type Split } from '../data/dataset.js';
import { ISIC2017_CLASSES, classAbbreviation } from '../data/diagnosis.js';
import { prepareCache, type PrepareProgress } from '../data/prepare.js';
import { DataError } from '../data/problems.js';
import { readDataset } from '../data/readers/index.js';
import { CLASSIFIER_NAMES, type ClassifierName } from '../models/classifiers/index.js';
import {
  ClassifierTrainer, DEFAULT_CLASSIFIER_OPTIONS, LesionSet, predictProbabilities, type ClassifierHooks, type ClassifierTrainOptions,
} from '../train/classifier_trainer.js';
import { rocAuc, rocCurve } from './auc.js';
import { bootstrapCis } from './bootstrap.js';
import { delongTest } from './delong.js';
import { plotRocCurves } from './plot.js';

export const ARMS = ['real', 'real+synthetic'] as const;
export type Arm = (typeof ARMS)[number];
/** The binary questions scored, as class names of ISIC-2017. */
export const TASKS = ['melanoma', 'seborrheic_keratosis'] as const;
export type Task = (typeof TASKS)[number];

export interface AugmentExperimentOptions {
  real: string;
  synthetic: string;
  test: string;
  out: string;
  models: ClassifierName[];
  /** Seeds 0..seeds-1. */
  seeds: number;
  epochs: number;
  width: number;
  height: number;
  /** Folder of `<model>.safetensors` ImageNet weights; a model without a file trains from scratch. */
  weightsDir: string | null;
  batch: number;
  lr: number;
  optimizer: 'adam' | 'sgd';
  balanced: boolean;
  augment: 'none' | 'default' | 'strong';
  /** Bootstrap replicates for the confidence intervals. */
  bootstrap: number;
}

export const DEFAULT_EXPERIMENT: Omit<AugmentExperimentOptions, 'real' | 'synthetic' | 'test' | 'out'> = {
  models: [...CLASSIFIER_NAMES],
  seeds: 3,
  epochs: 20,
  width: 224,
  height: 224,
  weightsDir: null,
  batch: 32,
  lr: 1e-4,
  optimizer: 'adam',
  balanced: false,
  augment: 'default',
  bootstrap: 2000,
};

export interface ExperimentHooks {
  onNotice?: (message: string) => void;
  onPrepare?: (which: 'real' | 'synthetic' | 'test', p: PrepareProgress) => void;
  /** A training run starts (or resumes at startStep; skipped pairs never start). */
  onTrainStart?: (run: { model: ClassifierName; seed: number; arm: Arm; index: number; count: number; startStep: number; totalSteps: number }) => void;
  onStep?: ClassifierHooks['onStep'];
  onTrainEnd?: () => void;
  /** Polled after every training step: true checkpoints the current run and returns. */
  shouldStop?: () => boolean;
}

export interface AucWithCi {
  auc: number;
  ci95: [number, number];
}

export interface ArmResult {
  perSeed: { seed: number; melanoma: number; seborrheic_keratosis: number; mean: number }[];
  pooled: { melanoma: AucWithCi; seborrheic_keratosis: AucWithCi; mean: AucWithCi };
  trainLesions: number;
  weights: string | null;
}

export interface ModelResult {
  model: ClassifierName;
  arms: Record<Arm, ArmResult>;
  /** (b) real+synthetic vs (a) real on the pooled probabilities. */
  comparison: {
    melanoma: { difference: number; z: number; p: number };
    seborrheic_keratosis: { difference: number; z: number; p: number };
    /** Mean AUC difference (b - a) with a paired stratified bootstrap CI. */
    mean: { difference: number; ci95: [number, number] };
  };
  roc: Record<Task, { svg: string; png: string }>;
}

export interface ExperimentResults {
  format: 'dermosynth-augment-experiment';
  version: 1;
  created: string;
  options: AugmentExperimentOptions;
  data: { real: string; synthetic: string; test: string; testSplit: Split | 'all'; testLesions: number; testCounts: Record<string, number>; classes: string[] };
  models: ModelResult[];
}

interface Predictions {
  ids: string[];
  labels: number[];
  probabilities: number[][];
}

/**
 * Opens a prepared cache, or prepares a dataset folder into `into`; first checks that the lesions
 * are what the role needs (real ones for --real, synthetic ones for --synthetic), before any
 * decoding. The test set's check (real lesions only) is made on the lesions actually used.
 */
async function openOrPrepare(
  dir: string,
  into: string,
  role: 'real' | 'synthetic' | 'test',
  o: AugmentExperimentOptions,
  onProgress: (p: PrepareProgress) => void,
): Promise<{ cache: LesionCache; official: boolean }> {
  const check = (ids: string[]) => {
    if (role === 'real') {
      const syn = ids.filter(isSyntheticId);
      if (syn.length > 0) throw new DataError(`--real ${dir} contains synthetic lesions (${syn.slice(0, 3).join(', ')}...); give the real dataset alone and the synthetic one with --synthetic`);
    } else if (role === 'synthetic') {
      const notSyn = ids.filter((id) => !isSyntheticId(id));
      if (notSyn.length > 0) throw new DataError(`--synthetic ${dir} contains real lesions (${notSyn.slice(0, 3).join(', ')}...); give a folder made by 'dermosynth synthesize'`);
    }
  };
  if (existsSync(path.join(dir, MANIFEST_FILE))) {
    const cache = await LesionCache.open(dir);
    try {
      if (cache.width !== o.width || cache.height !== o.height) {
        throw new DataError(`${dir}: the cache holds ${cache.width}x${cache.height} lesions but --size is ${o.width}x${o.height}; pass --size ${cache.width}x${cache.height} or give the dataset folder`);
      }
      check(cache.records.map((r) => r.id));
    } catch (e) {
      cache.close();
      throw e;
    }
    return { cache, official: cache.manifest.split.source === 'official' };
  }
  if (!existsSync(dir)) throw new DataError(`--${role} ${dir}: no such folder`);
  const index = await readDataset(dir);
  check(index.records.map((r) => r.id));
  await prepareCache(index, into, { width: o.width, height: o.height, fit: 'crop', labelMap: { boundary: 0, frame: false }, onProgress });
  const cache = await LesionCache.open(into);
  return { cache, official: cache.manifest.split.source === 'official' };
}

function checkClasses(cache: LesionCache, what: string): void {
  const c = cache.spec.classes;
  if (c.length !== ISIC2017_CLASSES.length || c.some((k, i) => k !== ISIC2017_CLASSES[i])) {
    throw new DataError(`${what} ${cache.dir}: classes ${c.join(', ')}; the experiment needs ISIC-2017's ${ISIC2017_CLASSES.join(', ')}`);
  }
}

function trainOptions(o: AugmentExperimentOptions, model: ClassifierName, seed: number): ClassifierTrainOptions {
  const file = o.weightsDir ? path.join(o.weightsDir, `${model}.safetensors`) : null;
  return {
    ...DEFAULT_CLASSIFIER_OPTIONS,
    model,
    numClasses: ISIC2017_CLASSES.length,
    epochs: o.epochs,
    batch: o.batch,
    lr: o.lr,
    optimizer: o.optimizer,
    balanced: o.balanced,
    augment: o.augment,
    seed,
    weights: file && existsSync(file) ? file : null,
  };
}

async function readJson<T>(file: string): Promise<T | null> {
  try {
    return JSON.parse(await readFile(file, 'utf8')) as T;
  } catch {
    return null;
  }
}

async function writeJson(file: string, value: unknown): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true });
  await writeFileAtomic(file, new TextEncoder().encode(`${JSON.stringify(value, null, 2)}\n`));
}

export function runDir(out: string, model: ClassifierName, seed: number, arm: Arm): string {
  return path.join(out, 'runs', model, `seed-${seed}`, arm === 'real' ? 'real' : 'real+synthetic');
}

/** Runs (or continues) the experiment. Returns null when stopped by `shouldStop`. */
export async function runAugmentExperiment(o: AugmentExperimentOptions, hooks: ExperimentHooks = {}): Promise<ExperimentResults | null> {
  if (o.models.length === 0) throw new RangeError('experiment: --models is empty');
  if (!Number.isInteger(o.seeds) || o.seeds < 1) throw new RangeError(`experiment: --seeds must be a positive integer, got ${o.seeds}`);
  const out = path.resolve(o.out);
  const notice = hooks.onNotice ?? (() => {});
  const real = await openOrPrepare(path.resolve(o.real), path.join(out, 'caches', 'real'), 'real', o, (p) => hooks.onPrepare?.('real', p));
  let synthetic: Awaited<ReturnType<typeof openOrPrepare>> | null = null;
  let test: Awaited<ReturnType<typeof openOrPrepare>> | null = null;
  const sameAsReal = path.resolve(o.test) === path.resolve(o.real);
  try {
    synthetic = await openOrPrepare(path.resolve(o.synthetic), path.join(out, 'caches', 'synthetic'), 'synthetic', o, (p) => hooks.onPrepare?.('synthetic', p));
    test = sameAsReal ? real : await openOrPrepare(path.resolve(o.test), path.join(out, 'caches', 'test'), 'test', o, (p) => hooks.onPrepare?.('test', p));
    checkClasses(real.cache, '--real');
    checkClasses(synthetic.cache, '--synthetic');
    checkClasses(test.cache, '--test');

    const testSplit: Split | 'all' = sameAsReal || test.official ? 'test' : 'all';
    const testSet = new LesionSet([{ cache: test.cache, split: testSplit === 'all' ? undefined : 'test' }]);
    refuseSynthetic(testSet.ids.map((id) => ({ id, image: null, mask: null, label: null, split: null, synthetic: isSyntheticId(id) })), `the test set (--test ${o.test})`);
    if (testSet.size === 0) throw new DataError(`--test ${o.test}: no lesions in its test split`);
    const realTrain = new LesionSet([{ cache: real.cache, split: 'train' }]);
    const augmented = new LesionSet([{ cache: real.cache, split: 'train' }, { cache: synthetic.cache }]);
    const trainIds = new Set(realTrain.ids);
    const overlap = testSet.ids.filter((id) => trainIds.has(id));
    if (overlap.length > 0) throw new DataError(`${overlap.length} test lesions are also training lesions (${overlap.slice(0, 3).join(', ')}); give a --test set disjoint from --real's training split`);
    const testCounts = Object.fromEntries(ISIC2017_CLASSES.map((c, k) => [c, testSet.labels.filter((l) => l === k).length]));
    for (const t of TASKS) {
      if (testCounts[t] === 0) throw new DataError(`--test ${o.test}: no ${t} lesion in the test set, so its AUC is undefined; use a test set with every diagnosis`);
    }
    notice(`test set: ${testSet.size} real lesions (${testSplit === 'all' ? 'all of --test' : "--test's test split"}: ${ISIC2017_CLASSES.map((c) => `${classAbbreviation(c)} ${testCounts[c]}`).join(', ')}); training: ${realTrain.size} real + ${synthetic.cache.size} synthetic lesions`);

    // 1. Train and predict every (model, seed, arm), skipping finished pairs.
    const pairs = o.models.flatMap((model) => Array.from({ length: o.seeds }, (_, seed) => ARMS.map((arm) => ({ model, seed, arm })))).flat();
    let index = 0;
    for (const { model, seed, arm } of pairs) {
      index++;
      const dir = runDir(out, model, seed, arm);
      const predFile = path.join(dir, 'predictions.json');
      const to = trainOptions(o, model, seed);
      const recorded = await readJson<ClassifierTrainOptions>(path.join(dir, 'run.json'));
      if (recorded && JSON.stringify(recorded) !== JSON.stringify(to)) {
        const differing = (Object.keys(to) as (keyof ClassifierTrainOptions)[]).filter((k) => JSON.stringify(recorded[k]) !== JSON.stringify(to[k]));
        throw new RangeError(`${dir} was trained with other options (${differing.map((k) => `${k}: run ${JSON.stringify(recorded[k])}, now ${JSON.stringify(to[k])}`).join('; ')}); use the same options or another --out`);
      }
      if (existsSync(predFile)) {
        notice(`[${index}/${pairs.length}] ${model} seed ${seed} ${arm}: done already, not retrained`);
        continue;
      }
      await writeJson(path.join(dir, 'run.json'), to);
      const trainer = new ClassifierTrainer(dir, to, arm === 'real' ? realTrain : augmented);
      try {
        for (const n of await trainer.start()) notice(`[${index}/${pairs.length}] ${n}`);
        hooks.onTrainStart?.({ model, seed, arm, index, count: pairs.length, startStep: trainer.currentStep, totalSteps: trainer.totalSteps });
        const r = await trainer.run({ onStep: hooks.onStep, shouldStop: hooks.shouldStop });
        hooks.onTrainEnd?.();
        if (!r.finished) {
          notice(`stopped: ${model} seed ${seed} ${arm} at step ${r.step} of ${trainer.totalSteps} (checkpointed; run the same command again to continue)`);
          return null;
        }
        const probs = predictProbabilities(trainer.model, testSet, Math.max(1, o.batch));
        await writeJson(predFile, { ids: testSet.ids, labels: testSet.labels, probabilities: probs.map((p) => Array.from(p)) } satisfies Predictions);
      } finally {
        trainer.dispose();
      }
    }

    // 2. Statistics and charts.
    const models: ModelResult[] = [];
    for (const model of o.models) models.push(await analyseModel(out, o, model, testSet, { real: realTrain.size, 'real+synthetic': augmented.size }));
    const results: ExperimentResults = {
      format: 'dermosynth-augment-experiment',
      version: 1,
      created: new Date().toISOString(),
      options: o,
      data: { real: real.cache.dir, synthetic: synthetic.cache.dir, test: test.cache.dir, testSplit, testLesions: testSet.size, testCounts, classes: [...ISIC2017_CLASSES] },
      models,
    };
    await writeJson(path.join(out, 'results.json'), results);
    await writeFileAtomic(path.join(out, 'results.md'), new TextEncoder().encode(resultsMarkdown(results)));
    return results;
  } finally {
    real.cache.close();
    synthetic?.cache.close();
    if (test && test !== real) test.cache.close();
  }
}

/** Scores of one task (P(class)) and its binary labels. */
function taskData(labels: readonly number[], probs: readonly ArrayLike<number>[], task: Task): { scores: number[]; y: number[] } {
  const k = ISIC2017_CLASSES.indexOf(task);
  return { scores: probs.map((p) => p[k]!), y: labels.map((l) => (l === k ? 1 : 0)) };
}

function aucs(labels: readonly number[], probs: readonly ArrayLike<number>[]): { melanoma: number; seborrheic_keratosis: number; mean: number } {
  const auc = (task: Task) => {
    const d = taskData(labels, probs, task);
    return rocAuc(d.scores, d.y);
  };
  const mel = auc('melanoma');
  const sk = auc('seborrheic_keratosis');
  return { melanoma: mel, seborrheic_keratosis: sk, mean: (mel + sk) / 2 };
}

async function analyseModel(out: string, o: AugmentExperimentOptions, model: ClassifierName, testSet: LesionSet, trainSizes: Record<Arm, number>): Promise<ModelResult> {
  const labels = testSet.labels;
  const pooledProbs = {} as Record<Arm, number[][]>;
  const arms = {} as Record<Arm, ArmResult>;
  for (const arm of ARMS) {
    const perSeed: ArmResult['perSeed'] = [];
    const sum = labels.map(() => new Array<number>(ISIC2017_CLASSES.length).fill(0));
    for (let seed = 0; seed < o.seeds; seed++) {
      const file = path.join(runDir(out, model, seed, arm), 'predictions.json');
      const p = await readJson<Predictions>(file);
      if (!p || p.ids.length !== testSet.size || p.ids.some((id, i) => id !== testSet.ids[i])) {
        throw new DataError(`${file}: the predictions are missing or were made on another test set; delete that run folder and run the experiment again`);
      }
      perSeed.push({ seed, ...aucs(labels, p.probabilities) });
      p.probabilities.forEach((row, i) => row.forEach((v, k) => (sum[i]![k]! += v / o.seeds)));
    }
    pooledProbs[arm] = sum;
    const point = aucs(labels, sum);
    const cis = bootstrapCis(labels, (idx) => {
      const l = [...idx].map((i) => labels[i]!);
      const a = aucs(l, [...idx].map((i) => sum[i]!));
      return [a.melanoma, a.seborrheic_keratosis, a.mean];
    }, { replicates: o.bootstrap, seed: 0 });
    const to = trainOptions(o, model, 0);
    arms[arm] = {
      perSeed,
      pooled: {
        melanoma: { auc: point.melanoma, ci95: cis[0]! },
        seborrheic_keratosis: { auc: point.seborrheic_keratosis, ci95: cis[1]! },
        mean: { auc: point.mean, ci95: cis[2]! },
      },
      trainLesions: trainSizes[arm],
      weights: to.weights,
    };
  }
  const test = (task: Task) => {
    const a = taskData(labels, pooledProbs.real, task);
    const b = taskData(labels, pooledProbs['real+synthetic'], task);
    const t = delongTest(b.scores, a.scores, a.y);
    return { difference: t.difference, z: t.z, p: t.p };
  };
  // Paired bootstrap of the mean-AUC difference: the same resampled cases for both arms.
  const [meanCi] = bootstrapCis(labels, (idx) => {
    const l = [...idx].map((i) => labels[i]!);
    return [aucs(l, [...idx].map((i) => pooledProbs['real+synthetic'][i]!)).mean - aucs(l, [...idx].map((i) => pooledProbs.real[i]!)).mean];
  }, { replicates: o.bootstrap, seed: 1 });
  const roc = {} as ModelResult['roc'];
  for (const task of TASKS) {
    const curves = ARMS.map((arm) => {
      const d = taskData(labels, pooledProbs[arm], task);
      return { name: arm, auc: arms[arm].pooled[task].auc, points: rocCurve(d.scores, d.y) };
    });
    const r = await plotRocCurves(curves, path.join(out, 'roc', `${model}-${task}`), { title: `${model}: ${task.replace('_', ' ')} vs rest (${o.seeds} seed${o.seeds > 1 ? 's' : ''} pooled)` });
    roc[task] = { svg: path.relative(out, r.svg), png: path.relative(out, r.png) };
  }
  return {
    model,
    arms,
    comparison: {
      melanoma: test('melanoma'),
      seborrheic_keratosis: test('seborrheic_keratosis'),
      mean: { difference: arms['real+synthetic'].pooled.mean.auc - arms.real.pooled.mean.auc, ci95: meanCi! },
    },
    roc,
  };
}

const f3 = (x: number) => x.toFixed(3);
const withCi = (a: AucWithCi) => `${f3(a.auc)} [${f3(a.ci95[0])}, ${f3(a.ci95[1])}]`;
const pValue = (p: number) => (p < 0.001 ? p.toExponential(1) : p.toFixed(3));
const signed = (x: number) => `${x >= 0 ? '+' : ''}${f3(x)}`;

export function resultsMarkdown(r: ExperimentResults): string {
  const o = r.options;
  const lines = [
    '# Augmentation experiment: real vs real + synthetic training data',
    '',
    `Test set: ${r.data.testLesions} real lesions (${r.data.testSplit === 'all' ? 'all of --test' : 'the test split'}; ${ISIC2017_CLASSES.map((c) => `${classAbbreviation(c)} ${r.data.testCounts[c]}`).join(', ')}). ` +
      `${o.seeds} seed${o.seeds > 1 ? 's' : ''} per arm, ${o.epochs} epoch${o.epochs > 1 ? 's' : ''}, ${o.width}x${o.height}, batch ${o.batch}, ${o.optimizer} lr ${o.lr}${o.balanced ? ', class-balanced sampling' : ''}, augmentation ${o.augment}.`,
    'AUCs are one class vs the rest on the probabilities averaged over seeds, with stratified bootstrap 95% CIs ' +
      `(${o.bootstrap} replicates); p: DeLong's test of the two arms on the same cases.`,
    '',
    '| model | training data | lesions | weights | MEL AUC [95% CI] | SK AUC [95% CI] | mean AUC [95% CI] | mean AUC per seed |',
    '|---|---|---|---|---|---|---|---|',
  ];
  for (const m of r.models) {
    for (const arm of ARMS) {
      const a = m.arms[arm];
      lines.push(`| ${m.model} | ${arm} | ${a.trainLesions} | ${a.weights ? 'ImageNet' : 'scratch'} | ${withCi(a.pooled.melanoma)} | ${withCi(a.pooled.seborrheic_keratosis)} | ${withCi(a.pooled.mean)} | ${a.perSeed.map((s) => f3(s.mean)).join(', ')} |`);
    }
  }
  lines.push('', '| model | ΔMEL AUC (p) | ΔSK AUC (p) | Δmean AUC [95% CI] |', '|---|---|---|---|');
  for (const m of r.models) {
    const c = m.comparison;
    lines.push(`| ${m.model} | ${signed(c.melanoma.difference)} (${pValue(c.melanoma.p)}) | ${signed(c.seborrheic_keratosis.difference)} (${pValue(c.seborrheic_keratosis.p)}) | ${signed(c.mean.difference)} [${signed(c.mean.ci95[0])}, ${signed(c.mean.ci95[1])}] |`);
  }
  lines.push('', 'Δ = real + synthetic minus real. ROC curves:', '');
  for (const m of r.models) lines.push(`- ${m.model}: ${TASKS.map((t) => `[${t}](${m.roc[t].png})`).join(', ')}`);
  return `${lines.join('\n')}\n`;
}
