// The augmentation experiment (the paper's claim: synthetic lesions raise classifiers' AUC).
// For each classifier and seed, train (a) on the real training lesions and (b) on the same plus
// the synthetic ones, with the same options and seed; score both on real test lesions only, in
// distribution (--real's own test split) and out of distribution (--test, another dataset: the
// finding of Bissoto et al. 2021 is that synthetic data helps mainly there). Statistics and the
// report: augment_results.ts.
//
// Layout of OUT (every file written atomically; a run can be killed and started again):
//   caches/{real,synthetic,test-<name>-<hash>}/  prepared caches (skipped when a prepared cache is given)
//   runs/<model>/seed-<s>/<arm>/       run.json (options), checkpoints/, model.safetensors (the
//                                      trained classifier: marks the pair done),
//                                      predictions-<test set>.json (test probabilities)
// A finished pair is never retrained (a test set added later is predicted from its weights); an
// unfinished one resumes from its checkpoint.
//
// Data: --real and --synthetic are dataset folders (or prepared caches); the real training set is
// the real dataset's train split (its official split, or prepare's stratified one), the
// in-distribution test set its test split. --test, when another dataset, is the out-of-distribution
// test set: its test split when it comes with an official split, else all of it. One class map
// (--classes) puts every dataset on one vocabulary; each test set scores the questions its
// diagnoses allow and says which it cannot. A test set with synthetic lesions, a synthetic set with
// real ones, or a lesion id in both training and test sets is refused.
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { writeFileAtomic, writeJsonAtomic } from '../util/atomic_file.js';
import { LesionCache, MANIFEST_FILE } from '../data/cache.js';
import { classIndexMap, readClassMap, type ClassMap } from '../data/class_map.js';
import { isSyntheticId, refuseSynthetic, type Split } from '../data/dataset.js';
import { classAbbreviation } from '../data/diagnosis.js';
import { prepareCache, type PrepareProgress } from '../data/prepare.js';
import { DataError } from '../data/problems.js';
import { readDataset } from '../data/readers/index.js';
import {
  CLASSIFIER_NAMES,
  buildClassifier,
  type ClassifierName,
  type ImageClassifier,
} from '../models/classifiers/index.js';
import * as nn from '../nn/index.js';
import { LesionSet } from '../data/lesion_set.js';
import {
  ClassifierTrainer,
  DEFAULT_CLASSIFIER_OPTIONS,
  predictProbabilities,
  type ClassifierHooks,
  type ClassifierTrainOptions,
} from '../train/classifier_trainer.js';
import {
  ARMS,
  analyseSet,
  defaultTasks,
  describeTestSet,
  resultsMarkdown,
  scorableTasks,
  type Arm,
  type AugmentExperimentOptions,
  type ExperimentResults,
  type ModelResult,
  type Predictions,
  type SetInput,
  type TestSetInfo,
  type TestSetKey,
} from './augment_results.js';

export {
  ARMS,
  TEST_SETS,
  resultsMarkdown,
  type Arm,
  type AugmentExperimentOptions,
  type ExperimentResults,
  type TestSetKey,
} from './augment_results.js';

export const DEFAULT_EXPERIMENT: Omit<AugmentExperimentOptions, 'real' | 'synthetic' | 'test' | 'out'> = {
  classes: null,
  tasks: null,
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
  onTrainStart?: (run: {
    model: ClassifierName;
    seed: number;
    arm: Arm;
    index: number;
    count: number;
    startStep: number;
    totalSteps: number;
  }) => void;
  onStep?: ClassifierHooks['onStep'];
  onTrainEnd?: () => void;
  /** Polled after every training step: true checkpoints the current run and returns. */
  shouldStop?: () => boolean;
}

/**
 * Opens a prepared cache, or prepares a dataset folder into `into`; first checks that the lesions
 * are what the role needs (real ones for --real, synthetic ones for --synthetic) and that their
 * diagnoses fit the experiment's vocabulary (`vocabulary` throws when not), before any decoding.
 * The test set's check (real lesions only) is made on the lesions actually used.
 */
async function openOrPrepare(
  dir: string,
  into: string,
  role: 'real' | 'synthetic' | 'test',
  o: AugmentExperimentOptions,
  vocabulary: (classes: readonly string[]) => unknown,
  onProgress: (p: PrepareProgress) => void,
): Promise<{ cache: LesionCache; official: boolean }> {
  const check = (ids: string[]) => {
    if (role === 'real') {
      const syn = ids.filter(isSyntheticId);
      if (syn.length > 0)
        throw new DataError(
          `--real ${dir} contains synthetic lesions (${syn.slice(0, 3).join(', ')}...); give the real dataset alone and the synthetic one with --synthetic`,
        );
    } else if (role === 'synthetic') {
      const notSyn = ids.filter((id) => !isSyntheticId(id));
      if (notSyn.length > 0)
        throw new DataError(
          `--synthetic ${dir} contains real lesions (${notSyn.slice(0, 3).join(', ')}...); give a folder made by 'dermosynth synthesize'`,
        );
    }
  };
  if (existsSync(path.join(dir, MANIFEST_FILE))) {
    const cache = await LesionCache.open(dir);
    try {
      if (cache.width !== o.width || cache.height !== o.height) {
        throw new DataError(
          `${dir}: the cache holds ${cache.width}x${cache.height} lesions but --size is ${o.width}x${o.height}; pass --size ${cache.width}x${cache.height} or give the dataset folder`,
        );
      }
      check(cache.records.map((r) => r.id));
      vocabulary(cache.spec.classes);
    } catch (e) {
      cache.close();
      throw e;
    }
    return { cache, official: cache.manifest.split.source === 'official' };
  }
  if (!existsSync(dir)) throw new DataError(`--${role} ${dir}: no such folder`);
  const index = await readDataset(dir);
  check(index.records.map((r) => r.id));
  vocabulary(index.classes);
  await prepareCache(index, into, {
    width: o.width,
    height: o.height,
    fit: 'crop',
    labelMap: { boundary: 0, frame: false },
    onProgress,
  });
  const cache = await LesionCache.open(into);
  return { cache, official: cache.manifest.split.source === 'official' };
}

/** The experiment's vocabulary: the class map's, or --real's own diagnoses. */
interface Vocabulary {
  classes: string[];
  map: ClassMap | null;
}

/** Where each of a dataset's classes lands in the vocabulary; a class with no place is an error naming `what` (the option and folder) and saying what to do. */
function remapFor(classes: readonly string[], v: Vocabulary, what: string): number[] {
  if (v.map) return classIndexMap(classes, v.map, what);
  return classes.map((c) => {
    const k = v.classes.indexOf(c);
    if (k < 0) {
      throw new DataError(
        `${what}: its diagnosis '${c}' is not one of --real's (${v.classes.join(', ')}); map the datasets onto one vocabulary with --classes FILE (a line such as "${c} -> ${v.classes[0]}")`,
      );
    }
    return k;
  });
}

function chooseTasks(o: AugmentExperimentOptions, classes: readonly string[]): string[] {
  const tasks = [...new Set(o.tasks ?? defaultTasks(classes))];
  if (tasks.length === 0) throw new RangeError('experiment: --tasks is empty');
  for (const t of tasks)
    if (!classes.includes(t))
      throw new DataError(`--tasks: '${t}' is not one of the experiment's diagnoses (${classes.join(', ')})`);
  return tasks;
}

interface TestSet {
  info: TestSetInfo;
  set: LesionSet;
}

function makeTestSet(
  key: TestSetKey,
  cache: LesionCache,
  split: Split | 'all',
  remap: number[],
  v: Vocabulary,
  tasks: readonly string[],
  source: string,
): TestSet {
  const set = new LesionSet([{ cache, split: split === 'all' ? undefined : split, remap }]);
  const counts = Object.fromEntries(v.classes.map((c, k) => [c, set.labels.filter((l) => l === k).length]));
  const scored = scorableTasks(tasks, v.classes, set.labels);
  return {
    info: {
      key,
      source,
      split,
      lesions: set.size,
      counts,
      tasks: scored,
      absent: tasks.filter((t) => !scored.includes(t)),
    },
    set,
  };
}

function trainOptions(
  o: AugmentExperimentOptions,
  model: ClassifierName,
  seed: number,
  numClasses: number,
): ClassifierTrainOptions {
  const file = o.weightsDir ? path.join(o.weightsDir, `${model}.safetensors`) : null;
  return {
    ...DEFAULT_CLASSIFIER_OPTIONS,
    model,
    numClasses,
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
  await writeJsonAtomic(file, value);
}

export function runDir(out: string, model: ClassifierName, seed: number, arm: Arm): string {
  return path.join(out, 'runs', model, `seed-${seed}`, arm === 'real' ? 'real' : 'real+synthetic');
}

export function predictionsFile(dir: string, key: TestSetKey): string {
  return path.join(dir, `predictions-${key}.json`);
}

/** The saved predictions of a run on a test set, or null when missing or made on other lesions. */
async function savedPredictions(dir: string, t: TestSet): Promise<Predictions | null> {
  const p = await readJson<Predictions>(predictionsFile(dir, t.info.key));
  const same =
    p &&
    p.ids.length === t.set.size &&
    p.ids.every((id, i) => id === t.set.ids[i]) &&
    p.labels.every((l, i) => l === t.set.labels[i]);
  return same ? p : null;
}

async function savePredictions(
  dir: string,
  model: ImageClassifier,
  sets: readonly TestSet[],
  batch: number,
): Promise<void> {
  for (const t of sets) {
    const probs = predictProbabilities(model, t.set, Math.max(1, batch));
    await writeJson(predictionsFile(dir, t.info.key), {
      ids: t.set.ids,
      labels: t.set.labels,
      probabilities: probs.map((p) => Array.from(p)),
    } satisfies Predictions);
  }
}

/** Predicts the test sets a finished run has no predictions for, from its saved weights. */
async function predictMissing(
  dir: string,
  to: ClassifierTrainOptions,
  sets: readonly TestSet[],
  batch: number,
): Promise<void> {
  const missing: TestSet[] = [];
  for (const t of sets) if (!(await savedPredictions(dir, t))) missing.push(t);
  if (missing.length === 0) return;
  const model = buildClassifier(to.model, { numClasses: to.numClasses });
  try {
    await nn.loadModule(path.join(dir, 'model.safetensors'), model);
    await savePredictions(dir, model, missing, batch);
  } finally {
    for (const [, t] of [...model.namedParameters(), ...model.namedBuffers()]) t.dispose();
  }
}

/** The real test sets: --real's test split (in distribution) and --test (out of distribution). */
function testSets(
  o: AugmentExperimentOptions,
  real: Opened,
  test: Opened | null,
  v: Vocabulary,
  tasks: readonly string[],
  notice: (m: string) => void,
): TestSet[] {
  const sets: TestSet[] = [];
  const inDist = makeTestSet(
    'in-distribution',
    real.cache,
    'test',
    remapFor(real.cache.spec.classes, v, `--real ${o.real}`),
    v,
    tasks,
    o.real,
  );
  if (inDist.set.size === 0) notice(`--real ${o.real} has no test split: no in-distribution AUCs`);
  else if (inDist.info.tasks.length === 0)
    notice(`--real's test split has no lesions to tell apart for ${tasks.join(', ')}: no in-distribution AUCs`);
  else sets.push(inDist);
  if (test) {
    const t = makeTestSet(
      'out-of-distribution',
      test.cache,
      test.official ? 'test' : 'all',
      remapFor(test.cache.spec.classes, v, `--test ${o.test}`),
      v,
      tasks,
      o.test!,
    );
    refuseSynthetic(
      t.set.ids.map((id) => ({ id, image: null, mask: null, label: null, split: null, synthetic: isSyntheticId(id) })),
      `the test set (--test ${o.test})`,
    );
    if (t.set.size === 0) throw new DataError(`--test ${o.test}: no lesions in its test split`);
    const counts = Object.entries(t.info.counts)
      .map(([c, n]) => `${c} ${n}`)
      .join(', ');
    if (t.info.tasks.length === 0)
      throw new DataError(
        `--test ${o.test}: none of ${tasks.join(', ')} can be scored on its lesions (${counts}): each needs lesions of the diagnosis and of the rest; map its diagnoses with --classes or choose --tasks`,
      );
    sets.push(t);
  }
  if (sets.length === 0)
    throw new DataError(`no test lesions: --real ${o.real} has no usable test split; give another dataset with --test`);
  return sets;
}

type Opened = Awaited<ReturnType<typeof openOrPrepare>>;

/** A --test dataset's cache folder: one per dataset, so that an experiment can be tested on several in turn. */
function testCacheDir(out: string, dir: string): string {
  const abs = path.resolve(dir);
  const name = path
    .basename(abs)
    .replace(/[^A-Za-z0-9_.-]+/g, '_')
    .slice(0, 40);
  return path.join(out, 'caches', `test-${name}-${createHash('sha256').update(abs).digest('hex').slice(0, 8)}`);
}

/** Runs (or continues) the experiment. Returns null when stopped by `shouldStop`. */
export async function runAugmentExperiment(
  o: AugmentExperimentOptions,
  hooks: ExperimentHooks = {},
): Promise<ExperimentResults | null> {
  if (o.models.length === 0) throw new RangeError('experiment: --models is empty');
  if (!Number.isInteger(o.seeds) || o.seeds < 1)
    throw new RangeError(`experiment: --seeds must be a positive integer, got ${o.seeds}`);
  const out = path.resolve(o.out);
  const notice = hooks.onNotice ?? (() => {});
  const map = o.classes ? readClassMap(o.classes) : null;
  const realFits = (classes: readonly string[]) => map && classIndexMap(classes, map, `--real ${o.real}`);
  const real = await openOrPrepare(path.resolve(o.real), path.join(out, 'caches', 'real'), 'real', o, realFits, (p) =>
    hooks.onPrepare?.('real', p),
  );
  let synthetic: Opened | null = null;
  let test: Opened | null = null;
  const separateTest = o.test !== null && path.resolve(o.test) !== path.resolve(o.real);
  try {
    const v: Vocabulary = { classes: map ? [...map.classes] : [...real.cache.spec.classes], map };
    const tasks = chooseTasks(o, v.classes);
    const fits = (what: string) => (classes: readonly string[]) => remapFor(classes, v, what);
    synthetic = await openOrPrepare(
      path.resolve(o.synthetic),
      path.join(out, 'caches', 'synthetic'),
      'synthetic',
      o,
      fits(`--synthetic ${o.synthetic}`),
      (p) => hooks.onPrepare?.('synthetic', p),
    );
    if (separateTest)
      test = await openOrPrepare(
        path.resolve(o.test!),
        testCacheDir(out, o.test!),
        'test',
        o,
        fits(`--test ${o.test}`),
        (p) => hooks.onPrepare?.('test', p),
      );
    const realRemap = remapFor(real.cache.spec.classes, v, `--real ${o.real}`);
    const realTrain = new LesionSet([{ cache: real.cache, split: 'train', remap: realRemap }]);
    const augmented = new LesionSet([
      { cache: real.cache, split: 'train', remap: realRemap },
      { cache: synthetic.cache, remap: remapFor(synthetic.cache.spec.classes, v, `--synthetic ${o.synthetic}`) },
    ]);
    const sets = testSets(o, real, test, v, tasks, notice);
    const trainIds = new Set(realTrain.ids);
    for (const t of sets) {
      const overlap = t.set.ids.filter((id) => trainIds.has(id));
      if (overlap.length > 0)
        throw new DataError(
          `${overlap.length} test lesions are also training lesions (${overlap.slice(0, 3).join(', ')}); give a --test set disjoint from --real's training split`,
        );
    }
    for (const t of sets) notice(`test set, ${describeTestSet(t.info)}`);
    notice(
      `training: ${realTrain.size} real + ${synthetic.cache.size} synthetic lesions; diagnoses ${v.classes.join(', ')}; questions ${tasks.map((t) => `${classAbbreviation(t)} vs rest`).join(', ')}`,
    );

    // 1. Train and predict every (model, seed, arm), skipping finished pairs.
    const pairs = o.models
      .flatMap((model) => Array.from({ length: o.seeds }, (_, seed) => ARMS.map((arm) => ({ model, seed, arm }))))
      .flat();
    let index = 0;
    for (const { model, seed, arm } of pairs) {
      index++;
      const dir = runDir(out, model, seed, arm);
      const to = trainOptions(o, model, seed, v.classes.length);
      const recorded = await readJson<ClassifierTrainOptions>(path.join(dir, 'run.json'));
      if (recorded && JSON.stringify(recorded) !== JSON.stringify(to)) {
        const differing = (Object.keys(to) as (keyof ClassifierTrainOptions)[]).filter(
          (k) => JSON.stringify(recorded[k]) !== JSON.stringify(to[k]),
        );
        throw new RangeError(
          `${dir} was trained with other options (${differing.map((k) => `${k}: run ${JSON.stringify(recorded[k])}, now ${JSON.stringify(to[k])}`).join('; ')}); use the same options or another --out`,
        );
      }
      if (existsSync(path.join(dir, 'model.safetensors'))) {
        notice(`[${index}/${pairs.length}] ${model} seed ${seed} ${arm}: done already, not retrained`);
        await predictMissing(dir, to, sets, o.batch);
        continue;
      }
      await writeJson(path.join(dir, 'run.json'), to);
      const trainer = new ClassifierTrainer(dir, to, arm === 'real' ? realTrain : augmented);
      try {
        for (const n of await trainer.start()) notice(`[${index}/${pairs.length}] ${n}`);
        hooks.onTrainStart?.({
          model,
          seed,
          arm,
          index,
          count: pairs.length,
          startStep: trainer.currentStep,
          totalSteps: trainer.totalSteps,
        });
        const r = await trainer.run({ onStep: hooks.onStep, shouldStop: hooks.shouldStop });
        hooks.onTrainEnd?.();
        if (!r.finished) {
          notice(
            `stopped: ${model} seed ${seed} ${arm} at step ${r.step} of ${trainer.totalSteps} (checkpointed; run the same command again to continue)`,
          );
          return null;
        }
        await savePredictions(dir, trainer.model, sets, o.batch);
      } finally {
        trainer.dispose();
      }
    }

    // 2. Statistics and charts.
    const models: ModelResult[] = [];
    for (const model of o.models) {
      const tests: ModelResult['tests'] = {};
      for (const t of sets) {
        const predictions = {} as SetInput['predictions'];
        for (const arm of ARMS) {
          predictions[arm] = [];
          for (let seed = 0; seed < o.seeds; seed++) {
            const dir = runDir(out, model, seed, arm);
            const p = await savedPredictions(dir, t);
            if (!p)
              throw new DataError(
                `${predictionsFile(dir, t.info.key)}: the predictions are missing or were made on other lesions; delete that file and run the experiment again`,
              );
            predictions[arm].push(p.probabilities);
          }
        }
        tests[t.info.key] = await analyseSet(
          out,
          model,
          v.classes,
          { info: t.info, labels: t.set.labels, predictions },
          o,
        );
      }
      const weights = trainOptions(o, model, 0, v.classes.length).weights;
      models.push({ model, trainLesions: { real: realTrain.size, 'real+synthetic': augmented.size }, weights, tests });
    }
    const results: ExperimentResults = {
      format: 'dermosynth-augment-experiment',
      version: 2,
      created: new Date().toISOString(),
      options: o,
      data: {
        real: real.cache.dir,
        synthetic: synthetic.cache.dir,
        classes: v.classes,
        tasks,
        classMap: map ? path.resolve(map.file) : null,
        testSets: sets.map((t) => t.info),
      },
      models,
    };
    await writeJson(path.join(out, 'results.json'), results);
    await writeFileAtomic(path.join(out, 'results.md'), new TextEncoder().encode(resultsMarkdown(results)));
    return results;
  } finally {
    real.cache.close();
    synthetic?.cache.close();
    test?.cache.close();
  }
}
