// The augmentation experiment's statistics and report: for each classifier, test set and
// one-vs-rest question (a diagnosis vs the rest), the AUC of each arm (real; real + synthetic) on
// the probabilities averaged over seeds, with stratified bootstrap 95% CIs, DeLong's test of the
// two arms on the same cases, the per-seed AUCs, and ROC charts. A question is scored on a test
// set only when that set has lesions of the diagnosis and of the rest; the others are listed as
// absent, never guessed.
import path from 'node:path';
import { classAbbreviation } from '../data/diagnosis.js';
import type { Split } from '../data/dataset.js';
import type { ClassifierName } from '../models/classifiers/index.js';
import { rocAuc, rocCurve } from './auc.js';
import { bootstrapCis } from './bootstrap.js';
import { delongTest } from './delong.js';
import { plotRocCurves } from './plot.js';

export const ARMS = ['real', 'real+synthetic'] as const;
export type Arm = (typeof ARMS)[number];

/**
 * The test sets: `in-distribution` is --real's own test split (lesions of the training source the
 * classifiers never saw); `out-of-distribution` is --test when it is another dataset.
 */
export const TEST_SETS = ['in-distribution', 'out-of-distribution'] as const;
export type TestSetKey = (typeof TEST_SETS)[number];

export interface TestSetInfo {
  key: TestSetKey;
  /** The dataset folder (or prepared cache) the set comes from. */
  source: string;
  /** Which of its lesions: its test split, or all of it. */
  split: Split | 'all';
  lesions: number;
  /** Lesions per diagnosis of the experiment's vocabulary (after the class map). */
  counts: Record<string, number>;
  /** The questions scored on this set. */
  tasks: string[];
  /** Questions of the experiment not scored here: the set has no lesion of that diagnosis (or only those). */
  absent: string[];
}

export interface AugmentExperimentOptions {
  real: string;
  synthetic: string;
  /** Another dataset to test on (out of distribution), or null / --real itself: in distribution only. */
  test: string | null;
  out: string;
  /** A class map file putting --real, --synthetic and --test on one vocabulary, or null. */
  classes: string | null;
  /** The one-vs-rest questions (diagnoses of the vocabulary), or null for defaultTasks. */
  tasks: string[] | null;
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

export interface AucWithCi {
  auc: number;
  ci95: [number, number];
}

export interface ArmResult {
  /** Per seed: each scored question's AUC and their mean. */
  perSeed: { seed: number; auc: Record<string, number>; mean: number }[];
  /** On the probabilities averaged over seeds. */
  pooled: { tasks: Record<string, AucWithCi>; mean: AucWithCi };
}

export interface SetResult {
  arms: Record<Arm, ArmResult>;
  /** (b) real+synthetic vs (a) real on the pooled probabilities. */
  comparison: {
    tasks: Record<string, { difference: number; z: number; p: number }>;
    /** Mean AUC difference (b - a) with a paired stratified bootstrap CI. */
    mean: { difference: number; ci95: [number, number] };
  };
  roc: Record<string, { svg: string; png: string }>;
}

export interface ModelResult {
  model: string;
  trainLesions: Record<Arm, number>;
  /** The ImageNet weights file used, or null (trained from scratch). */
  weights: string | null;
  tests: Partial<Record<TestSetKey, SetResult>>;
}

export interface ExperimentResults {
  format: 'dermosynth-augment-experiment';
  version: 2;
  created: string;
  options: AugmentExperimentOptions;
  data: {
    real: string;
    synthetic: string;
    /** The vocabulary the classifiers learn (the class map's, or --real's diagnoses). */
    classes: string[];
    /** The one-vs-rest questions asked. */
    tasks: string[];
    /** The class map applied to every dataset, or null. */
    classMap: string | null;
    testSets: TestSetInfo[];
  };
  models: ModelResult[];
}

/** Predicted probabilities of one arm and seed on one test set (what a finished run leaves). */
export interface Predictions {
  ids: string[];
  labels: number[];
  probabilities: number[][];
}

/**
 * The questions asked when --tasks is not given: ISIC-2017's two (melanoma and seborrheic
 * keratosis vs the rest: nevus vs rest is nearly their complement); for two diagnoses the second
 * vs the first (the two AUCs of a two-class problem are equal); otherwise every diagnosis vs the rest.
 */
export function defaultTasks(classes: readonly string[]): string[] {
  if (classes.join(',') === 'nevus,melanoma,seborrheic_keratosis') return ['melanoma', 'seborrheic_keratosis'];
  if (classes.length === 2) return [classes[1]!];
  return [...classes];
}

/** Which of `tasks` a test set with these labels can score (positives and negatives present). */
export function scorableTasks(
  tasks: readonly string[],
  classes: readonly string[],
  labels: readonly number[],
): string[] {
  return tasks.filter((t) => {
    const k = classes.indexOf(t);
    const pos = labels.filter((l) => l === k).length;
    return pos > 0 && pos < labels.length;
  });
}

function taskData(
  labels: readonly number[],
  probs: readonly ArrayLike<number>[],
  k: number,
): { scores: number[]; y: number[] } {
  return { scores: probs.map((p) => p[k]!), y: labels.map((l) => (l === k ? 1 : 0)) };
}

/** Each task's AUC (in `tasks` order) and their mean, as one array [..., mean]. */
function aucVector(labels: readonly number[], probs: readonly ArrayLike<number>[], ks: readonly number[]): number[] {
  const a = ks.map((k) => {
    const d = taskData(labels, probs, k);
    return rocAuc(d.scores, d.y);
  });
  return [...a, a.reduce((s, x) => s + x, 0) / a.length];
}

export interface SetInput {
  info: TestSetInfo;
  labels: number[];
  /** predictions[arm][seed]: probabilities per lesion, in the set's order. */
  predictions: Record<Arm, number[][][]>;
}

/** The statistics and ROC charts (under `out`/roc) of one model on one test set. */
export async function analyseSet(
  out: string,
  model: string,
  classes: readonly string[],
  set: SetInput,
  o: { bootstrap: number; seeds: number },
): Promise<SetResult> {
  const { labels, info } = set;
  const tasks = info.tasks;
  const ks = tasks.map((t) => classes.indexOf(t));
  const pooled = {} as Record<Arm, number[][]>;
  const arms = {} as Record<Arm, ArmResult>;
  const named = (v: readonly number[]) => Object.fromEntries(tasks.map((t, i) => [t, v[i]!]));
  for (const arm of ARMS) {
    const seeds = set.predictions[arm];
    const perSeed = seeds.map((p, seed) => {
      const v = aucVector(labels, p, ks);
      return { seed, auc: named(v), mean: v[tasks.length]! };
    });
    const sum = labels.map((_, i) => classes.map((_c, k) => seeds.reduce((s, p) => s + p[i]![k]! / seeds.length, 0)));
    pooled[arm] = sum;
    const point = aucVector(labels, sum, ks);
    const cis = bootstrapCis(
      labels,
      (idx) =>
        aucVector(
          [...idx].map((i) => labels[i]!),
          [...idx].map((i) => sum[i]!),
          ks,
        ),
      { replicates: o.bootstrap, seed: 0 },
    );
    const withCi = (j: number): AucWithCi => ({ auc: point[j]!, ci95: cis[j]! });
    arms[arm] = {
      perSeed,
      pooled: { tasks: Object.fromEntries(tasks.map((t, j) => [t, withCi(j)])), mean: withCi(tasks.length) },
    };
  }
  const comparisonTasks: SetResult['comparison']['tasks'] = {};
  for (const [j, t] of tasks.entries()) {
    const a = taskData(labels, pooled.real, ks[j]!);
    const b = taskData(labels, pooled['real+synthetic'], ks[j]!);
    const d = delongTest(b.scores, a.scores, a.y);
    comparisonTasks[t] = { difference: d.difference, z: d.z, p: d.p };
  }
  // Paired bootstrap of the mean-AUC difference: the same resampled cases for both arms.
  const [meanCi] = bootstrapCis(
    labels,
    (idx) => {
      const l = [...idx].map((i) => labels[i]!);
      const m = (arm: Arm) =>
        aucVector(
          l,
          [...idx].map((i) => pooled[arm][i]!),
          ks,
        )[tasks.length]!;
      return [m('real+synthetic') - m('real')];
    },
    { replicates: o.bootstrap, seed: 1 },
  );
  const roc: SetResult['roc'] = {};
  for (const [j, t] of tasks.entries()) {
    const curves = ARMS.map((arm) => {
      const d = taskData(labels, pooled[arm], ks[j]!);
      return { name: arm, auc: arms[arm].pooled.tasks[t]!.auc, points: rocCurve(d.scores, d.y) };
    });
    const title = `${model}: ${t.replaceAll('_', ' ')} vs rest, ${info.key.replaceAll('-', ' ')} (${o.seeds} seed${o.seeds > 1 ? 's' : ''} pooled)`;
    const r = await plotRocCurves(curves, path.join(out, 'roc', `${model}-${info.key}-${t}`), { title });
    roc[t] = { svg: path.relative(out, r.svg), png: path.relative(out, r.png) };
  }
  return {
    arms,
    comparison: {
      tasks: comparisonTasks,
      mean: { difference: arms['real+synthetic'].pooled.mean.auc - arms.real.pooled.mean.auc, ci95: meanCi! },
    },
    roc,
  };
}

const f3 = (x: number) => x.toFixed(3);
const withCi = (a: AucWithCi) => `${f3(a.auc)} [${f3(a.ci95[0])}, ${f3(a.ci95[1])}]`;
const pValue = (p: number) => (p < 0.001 ? p.toExponential(1) : p.toFixed(3));
const signed = (x: number) => `${x >= 0 ? '+' : ''}${f3(x)}`;

/** One line describing a test set, e.g. "in distribution: 529 lesions of real's test split (NV 393, MEL 117, SK 19)". */
export function describeTestSet(s: TestSetInfo): string {
  const counts = Object.entries(s.counts)
    .map(([c, n]) => `${classAbbreviation(c)} ${n}`)
    .join(', ');
  const absent =
    s.absent.length > 0 ? `; not scored, no lesion to tell apart: ${s.absent.map(classAbbreviation).join(', ')}` : '';
  return `${s.key.replaceAll('-', ' ')}: ${s.lesions} real lesions, ${s.split === 'all' ? 'all' : `the ${s.split} split`} of ${s.source} (${counts}${absent})`;
}

export function resultsMarkdown(r: ExperimentResults): string {
  const o = r.options;
  const sets = r.data.testSets;
  const lines = [
    '# Augmentation experiment: real vs real + synthetic training data',
    '',
    `Diagnoses: ${r.data.classes.join(', ')}${r.data.classMap ? ` (class map ${r.data.classMap})` : ''}. Questions: ${r.data.tasks.map((t) => `${t} vs rest`).join(', ')}.`,
    '',
    ...sets.map((s) => `- ${describeTestSet(s)}`),
    '',
    `${o.seeds} seed${o.seeds > 1 ? 's' : ''} per arm, ${o.epochs} epoch${o.epochs > 1 ? 's' : ''}, ${o.width}x${o.height}, batch ${o.batch}, ${o.optimizer} lr ${o.lr}${o.balanced ? ', class-balanced sampling' : ''}, augmentation ${o.augment}.`,
    'AUCs are one class vs the rest on the probabilities averaged over seeds, with stratified bootstrap 95% CIs ' +
      `(${o.bootstrap} replicates); p: DeLong's test of the two arms on the same cases; the mean is over the questions a set can score.`,
  ];
  for (const task of [...r.data.tasks, 'mean']) {
    const scored = sets.filter((s) => task === 'mean' || s.tasks.includes(task));
    if (scored.length === 0) continue;
    const name = task === 'mean' ? 'Mean AUC' : `${task.replaceAll('_', ' ')} vs rest (${classAbbreviation(task)} AUC)`;
    lines.push(
      '',
      `## ${name}`,
      '',
      `| model | training data | lesions | ${scored.map((s) => `${s.key} [95% CI]`).join(' | ')} | per seed${scored.length > 1 ? ` (${scored.map((s) => s.key).join(' / ')})` : ''} |`,
      `|---|---|---|${scored.map(() => '---|').join('')}---|`,
    );
    for (const m of r.models) {
      for (const arm of ARMS) {
        const cells = scored.map((s) => {
          const a = m.tests[s.key]!.arms[arm];
          return withCi(task === 'mean' ? a.pooled.mean : a.pooled.tasks[task]!);
        });
        const perSeed = scored
          .map((s) =>
            m.tests[s.key]!.arms[arm].perSeed.map((p) => f3(task === 'mean' ? p.mean : p.auc[task]!)).join(', '),
          )
          .join(' / ');
        lines.push(
          `| ${m.model} | ${arm} | ${m.trainLesions[arm]} ${m.weights ? '(ImageNet)' : '(scratch)'} | ${cells.join(' | ')} | ${perSeed} |`,
        );
      }
      const deltas = scored.map((s) => {
        const c = m.tests[s.key]!.comparison;
        if (task === 'mean')
          return `Δ ${signed(c.mean.difference)} [${signed(c.mean.ci95[0])}, ${signed(c.mean.ci95[1])}]`;
        const t = c.tasks[task]!;
        return `Δ ${signed(t.difference)} (p ${pValue(t.p)})`;
      });
      lines.push(`| ${m.model} | Δ (b − a) | | ${deltas.join(' | ')} | |`);
    }
  }
  lines.push('', 'Δ = real + synthetic minus real; p: DeLong. ROC curves:', '');
  for (const m of r.models) {
    for (const s of sets) {
      const roc = m.tests[s.key]!.roc;
      lines.push(
        `- ${m.model}, ${s.key}: ${Object.entries(roc)
          .map(([t, f]) => `[${classAbbreviation(t)}](${f.png})`)
          .join(', ')}`,
      );
    }
  }
  return `${lines.join('\n')}\n`;
}
