// `dermosynth demo`: the whole method, end to end, in a time budget: data (the built-in sample or a
// real dataset) -> label maps and the cache -> the proposed GAN trained for a bounded time ->
// a class-balanced synthetic set -> evaluation (paired, distribution, semantic, class metrics) ->
// a small augmentation experiment -> OUT/report.html and OUT/report.md (demo_report.ts).
//
// Layout of OUT (every state change written atomically; kill it and run it again to continue):
//   demo.json       the request, the plan (budgets, sizes, steps) and each stage's outputs
//   data/           the dataset used: the sample dataset, or the real one's lesions linked (a
//                   stratified pick of at most --lesions training lesions, val/test whole)
//   test-data/      real data without a test split: its val lesions, the experiment's test set
//   run/            the GAN run (config.json, cache/, log.jsonl, checkpoints/, samples/, eval/,
//                   metrics.json, report.html: as 'dermosynth train' and 'evaluate' write it)
//   synthetic/      the class-balanced synthetic set ('dermosynth synthesize --balance --deform')
//   experiment/     'dermosynth experiment augment' (resnet18, one seed)
//   figures/        synthetic lesions per class (mask above, image below)
// Resuming: finished stages are never redone; training continues from its newest checkpoint with
// the time already spent counted (the checkpoint records it); synthesis continues as --resume does;
// the experiment skips finished model/seed pairs; evaluation is redone (its networks are kept).
import { existsSync } from 'node:fs';
import { copyFile, link, mkdir, readFile, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { writeFileAtomic } from '../torch/atomic_file.js';
import type { LesionCache } from '../data/cache.js';
import { parseCsv, requireColumn } from '../data/csv.js';
import type { LesionRecord, Split } from '../data/dataset.js';
import { ISIC2017_CLASSES } from '../data/diagnosis.js';
import { LABELS_HEADER, labelsRow, maskFileName } from '../data/flat_writer.js';
import { DataError } from '../data/problems.js';
import { Rng } from '../data/random.js';
import { readDataset } from '../data/readers/index.js';
import { writeSampleDataset } from '../data/sample_dataset.js';
import { assignSplits } from '../data/split.js';
import { runAugmentExperiment, type AugmentExperimentOptions, type ExperimentResults } from '../eval/augment_experiment.js';
import { evaluate, type Metrics } from '../eval/evaluate.js';
import { writeRunReport } from '../eval/run_report.js';
import { SYNTHESIS_FILE } from '../synth/output.js';
import { synthesize } from '../synth/synthesize.js';
import type { BalanceTarget } from '../synth/balance.js';
import { DEFAULT_TRAIN_OPTIONS, parseTrainOptions, type TrainOptions } from '../train/options.js';
import { readRunConfig, writeRunConfig } from '../train/run_config.js';
import { openTrainingData } from '../train/training_data.js';
import { Trainer, runPaths } from '../train/trainer.js';
import { writeDemoReport } from './demo_report.js';
import { phasedProgress, type Progress } from './progress.js';

export const DEMO_STATE_FILE = 'demo.json';
export const DEMO_STATE_VERSION = 1;
export const STAGES = ['data', 'train', 'synthesize', 'evaluate', 'experiment', 'report'] as const;
export type StageName = (typeof STAGES)[number];

/** Shares of the time budget (the data stage and the report take seconds and are not budgeted). */
export const BUDGET_SHARES: Record<'train' | 'synthesize' | 'evaluate' | 'experiment', number> = { train: 0.6, synthesize: 0.05, evaluate: 0.15, experiment: 0.2 };

/**
 * The cost of one training image through a network, forward and backward, in units of one measured
 * GAN step of the demo (the proposed model, cpu preset, batch 1, at the same size): the cost model
 * that turns the evaluation's and the experiment's budgets into epochs. Measured on the 2-core
 * development machine at 64x64 with the real trainers (ClassifierTrainer, trainSegmenter),
 * interleaved with GAN steps (about 0.11 s each): resnet18 (batch 16) 0.10 steps per image, the
 * U-Net lesion segmenter (batch 8) 0.2 to 0.3; rounded up.
 */
export const COST_PER_IMAGE = { classifier: 0.12, segmenter: 0.3 };

export interface DemoRequest {
  /** A dataset folder; null: the built-in sample data. */
  data: string | null;
  out: string;
  minutes: number;
  /** Sample data: lesions to make; real data: training lesions to use at most (null: the default). */
  lesions: number | null;
  width: number;
  height: number;
  /** For tests: a tiny network at 32x32, a few steps, one epoch everywhere; runs in seconds. */
  tiny: boolean;
}

/** What the request resolves to (sizes, network, fixed counts in the tiny configuration). */
export interface DemoSettings {
  width: number;
  height: number;
  sampleLesions: number;
  /** Real data: training lesions used at most; null: all. */
  maxTrain: number | null;
  modelOverrides: Record<string, number>;
  calibrationSteps: number;
  /** Training steps regardless of the budget (tiny); null: from the budget. */
  fixedSteps: number | null;
  checkpointEvery: number;
  sampleEvery: number;
  fixedAuxEpochs: number | null;
  fixedExperimentEpochs: number | null;
  experimentBatch: number;
  bootstrap: number;
  gridExamples: number;
}

export const DEFAULT_SAMPLE_LESIONS = 200;
export const DEFAULT_MAX_TRAIN = 600;

export function demoSettings(r: DemoRequest): DemoSettings {
  if (r.tiny) {
    return {
      width: 32, height: 32, sampleLesions: r.lesions ?? 30, maxTrain: r.lesions, modelOverrides: { ngf: 8, nDown: 2, nBlocks: 1, ndf: 8, nLayersD: 2 },
      calibrationSteps: 3, fixedSteps: 8, checkpointEvery: 4, sampleEvery: 4, fixedAuxEpochs: 1, fixedExperimentEpochs: 1, experimentBatch: 4, bootstrap: 200, gridExamples: 2,
    };
  }
  return {
    width: r.width, height: r.height, sampleLesions: r.lesions ?? DEFAULT_SAMPLE_LESIONS, maxTrain: r.lesions ?? DEFAULT_MAX_TRAIN, modelOverrides: {},
    calibrationSteps: 20, fixedSteps: null, checkpointEvery: 100, sampleEvery: 200, fixedAuxEpochs: null, fixedExperimentEpochs: null, experimentBatch: 16, bootstrap: 1000, gridExamples: 4,
  };
}

export interface StageRecord {
  done: boolean;
  /** Wall seconds of the sessions that ended this stage or stopped it (a killed session's time is lost, except training's: its checkpoint counts it). */
  seconds: number;
  sessions: number;
  detail: Record<string, unknown>;
}

export interface TrainPlan {
  secondsPerStep: number;
  steps: number;
  epochs: number;
  decayEpochs: number;
  stepsPerEpoch: number;
}

export interface DemoState {
  format: 'dermosynth-demo';
  version: number;
  created: string;
  /** The request as given (data as typed, for the reproduce commands) and resolved. */
  request: DemoRequest & { dataArg: string | null };
  settings: DemoSettings;
  /** Seconds per budgeted stage. */
  budgets: Record<keyof typeof BUDGET_SHARES, number>;
  machine: { cores: number; loadAverage: number[] };
  stages: Partial<Record<StageName, StageRecord>>;
}

export interface DemoUI {
  /** A line for the user (stage headers, the plan, notices). */
  say(message: string): void;
  progress(label: string, total: number, unit: string): Progress;
}

/** Bars for the cache's phases (hashing, decoding), drawn by the demo's UI. */
function prepareBars(ui: DemoUI) {
  return phasedProgress({ hash: 'prepare hashing', decode: 'prepare decoding' }, 'lesions', (label, total, unit) => ui.progress(label, total, unit));
}

export interface DemoHooks {
  ui?: DemoUI;
  /** Polled between steps and batches (SIGINT, SIGTERM): true stops at the next safe point. */
  shouldStop?: () => boolean;
  /** For tests: stop after this stage is done, as a kill would. */
  stopAfter?: StageName;
}

export interface DemoResult {
  finished: boolean;
  state: DemoState;
  report: { html: string; markdown: string } | null;
}

const quietUI: DemoUI = { say: () => {}, progress: () => ({ update() {}, stop() {} }) };

export function demoPaths(out: string) {
  return {
    out,
    state: path.join(out, DEMO_STATE_FILE),
    data: path.join(out, 'data'),
    testData: path.join(out, 'test-data'),
    run: path.join(out, 'run'),
    synthetic: path.join(out, 'synthetic'),
    experiment: path.join(out, 'experiment'),
    figures: path.join(out, 'figures'),
    html: path.join(out, 'report.html'),
    markdown: path.join(out, 'report.md'),
  };
}

export async function readDemoState(out: string): Promise<DemoState | null> {
  let text: string;
  try {
    text = await readFile(demoPaths(out).state, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw e;
  }
  const s = JSON.parse(text) as DemoState;
  if (s.format !== 'dermosynth-demo' || s.version !== DEMO_STATE_VERSION) throw new RangeError(`${demoPaths(out).state}: not a dermosynth demo state of version ${DEMO_STATE_VERSION}; choose another --out`);
  return s;
}

async function saveState(s: DemoState): Promise<void> {
  await mkdir(s.request.out, { recursive: true });
  await writeFileAtomic(demoPaths(s.request.out).state, new TextEncoder().encode(JSON.stringify(s, null, 2) + '\n'));
}

export function formatSeconds(s: number): string {
  if (s < 60) return `${Math.round(s)}s`;
  const m = Math.floor(s / 60);
  const r = Math.round(s - 60 * m);
  return r === 60 ? `${m + 1}m00s` : `${m}m${String(r).padStart(2, '0')}s`;
}

/** The training options of the demo's GAN (steps and schedule from the plan, or provisional ones while measuring). */
function trainOptions(s: DemoState, plan: TrainPlan | null): TrainOptions {
  const st = s.settings;
  return parseTrainOptions({
    ...DEFAULT_TRAIN_OPTIONS,
    data: demoPaths(s.request.out).data,
    model: 'proposed',
    preset: 'cpu',
    width: st.width,
    height: st.height,
    // Measuring the step time: a run long enough never to end (or decay) in the measured steps.
    steps: plan ? plan.steps : 1_000_000_000,
    epochs: plan ? plan.epochs : 1_000_000,
    decayEpochs: plan ? plan.decayEpochs : 0,
    checkpointEvery: st.checkpointEvery,
    keepCheckpoints: 2,
    sampleEvery: st.sampleEvery,
    modelOverrides: st.modelOverrides,
  });
}

/** The request fields a resumed demo must match. */
const REQUEST_FIELDS = ['data', 'minutes', 'lesions', 'width', 'height', 'tiny'] as const;

/** Runs the demo, or continues it. */
export async function runDemo(req: DemoRequest & { dataArg?: string | null }, hooks: DemoHooks = {}): Promise<DemoResult> {
  const ui = hooks.ui ?? quietUI;
  const p = demoPaths(path.resolve(req.out));
  if (!(req.minutes > 0)) throw new RangeError(`--minutes must be positive, got ${req.minutes}`);
  if (req.data !== null && !existsSync(req.data)) throw new DataError(`--data ${req.data}: no such folder; give a dataset folder (e.g. ../shared/data/isic2017-512) or leave --data out for the built-in sample`);
  let state = await readDemoState(p.out);
  if (state) {
    const differing = REQUEST_FIELDS.filter((k) => JSON.stringify(state!.request[k]) !== JSON.stringify(req[k]));
    if (differing.length > 0) {
      throw new RangeError(
        `${p.out} holds a demo made with other options (${differing.map((k) => `${k}: demo ${JSON.stringify(state!.request[k])}, given ${JSON.stringify(req[k])}`).join('; ')}); run it with the same options to continue it, or choose another --out`,
      );
    }
  } else {
    if (existsSync(p.out)) {
      if ((await readdir(p.out)).length > 0) throw new RangeError(`${p.out} exists and is not a demo folder (no ${DEMO_STATE_FILE}); choose another --out or an empty folder`);
    }
    const total = req.minutes * 60;
    state = {
      format: 'dermosynth-demo',
      version: DEMO_STATE_VERSION,
      created: new Date().toISOString(),
      request: { ...req, out: p.out, dataArg: req.dataArg ?? req.data },
      settings: demoSettings(req),
      budgets: {
        train: total * BUDGET_SHARES.train,
        synthesize: total * BUDGET_SHARES.synthesize,
        evaluate: total * BUDGET_SHARES.evaluate,
        experiment: total * BUDGET_SHARES.experiment,
      },
      machine: { cores: os.cpus().length, loadAverage: os.loadavg().map((x) => Number(x.toFixed(2))) },
      stages: {},
    };
    await saveState(state);
  }
  const s = state;
  printPlan(s, ui);

  const started = Date.now();
  const stop = hooks.shouldStop ?? (() => false);
  for (const [i, name] of STAGES.entries()) {
    const rec = s.stages[name];
    if (rec?.done && name !== 'report') {
      ui.say(`[${i + 1}/${STAGES.length}] ${name}: done already (${formatSeconds(rec.seconds)}), not redone`);
      continue;
    }
    const remaining = STAGES.slice(i).reduce((a, n) => a + (n in s.budgets ? s.budgets[n as keyof DemoState['budgets']] : 0), 0);
    ui.say(`[${i + 1}/${STAGES.length}] ${name}${name in s.budgets ? ` (budget ${formatSeconds(s.budgets[name as keyof DemoState['budgets']])})` : ''}: demo time so far ${formatSeconds((Date.now() - started) / 1000)}, about ${formatSeconds(remaining)} to go`);
    const t0 = Date.now();
    const record = (s.stages[name] ??= { done: false, seconds: 0, sessions: 0, detail: {} });
    record.sessions++;
    const finished = await STAGE_RUNNERS[name](s, record, { ui, stop, paths: p });
    record.seconds += (Date.now() - t0) / 1000;
    record.done = finished;
    await saveState(s);
    if (!finished) {
      ui.say(`stopped during ${name}; run the same command again to continue where it stopped`);
      return { finished: false, state: s, report: null };
    }
    if (hooks.stopAfter === name) return { finished: false, state: s, report: null };
  }
  return { finished: true, state: s, report: { html: p.html, markdown: p.markdown } };
}

interface StageContext {
  ui: DemoUI;
  stop: () => boolean;
  paths: ReturnType<typeof demoPaths>;
}

type StageRunner = (s: DemoState, rec: StageRecord, c: StageContext) => Promise<boolean>;

function printPlan(s: DemoState, ui: DemoUI): void {
  const st = s.settings;
  const r = s.request;
  const b = s.budgets;
  const data = r.data === null ? `the built-in sample data (${st.sampleLesions} procedural lesions)` : `${r.dataArg} (${st.maxTrain === null ? 'every' : `at most ${st.maxTrain}`} training lesions; val and test whole)`;
  ui.say(
    [
      `dermosynth demo -> ${r.out}${r.tiny ? ' (tiny test configuration)' : ''}`,
      `data: ${data}, at ${st.width}x${st.height}`,
      `plan for ${r.minutes} minute(s) on ${s.machine.cores} cores (load average ${s.machine.loadAverage.join(' ')} when planned):`,
      `  1 data        the dataset, label maps and the cache                 seconds`,
      `  2 train       proposed GAN (cpu preset${Object.keys(st.modelOverrides).length > 0 ? ', tiny' : ''}), batch 1   ${formatSeconds(b.train).padStart(7)}  (steps from the first ${st.calibrationSteps}, measured)`,
      `  3 synthesize  a class-balanced set from deformed training masks      ${formatSeconds(b.synthesize).padStart(7)}`,
      `  4 evaluate    paired, distribution, semantic and class metrics       ${formatSeconds(b.evaluate).padStart(7)}  (auxiliary networks: few epochs)`,
      `  5 experiment  resnet18, 1 seed: real vs real + synthetic             ${formatSeconds(b.experiment).padStart(7)}`,
      `  6 report      ${path.join(r.out, 'report.html')} and report.md`,
    ].join('\n'),
  );
}


// ---- 1. data --------------------------------------------------------------------------------

/** Hard link, else copy. */
async function place(from: string, to: string): Promise<void> {
  try {
    await link(from, to);
  } catch {
    await copyFile(from, to);
  }
}

/**
 * A flat dataset in `dst` made of `src`'s usable lesions with their split (official, or the
 * stratified one prepare would make): every val and test lesion, and at most `maxTrain` training
 * lesions picked per class in proportion (seeded). Files are linked (or copied); labels.csv last.
 */
export async function writeDemoDataset(src: string, dst: string, maxTrain: number | null, only?: Split): Promise<{ lesions: number; leftOut: number }> {
  const index = await readDataset(src);
  if (index.classes.join(',') !== ISIC2017_CLASSES.join(',')) throw new DataError(`--data ${src}: diagnoses ${index.classes.join(', ')}; the demo needs ISIC-2017's ${ISIC2017_CLASSES.join(', ')}`);
  const usable = index.records.filter((r): r is LesionRecord & { image: string; mask: string; label: number } => r.image !== null && r.mask !== null && r.label !== null && !r.synthetic);
  const left = index.records.length - usable.length;
  if (usable.length === 0) throw new DataError(`--data ${src}: no lesion with an image, a mask and a label`);
  const splits = assignSplits(usable).splits;
  const train = usable.filter((r) => splits.get(r.id) === 'train');
  let keep = new Set(usable.map((r) => r.id));
  if (maxTrain !== null && train.length > maxTrain) {
    keep = new Set(usable.filter((r) => splits.get(r.id) !== 'train').map((r) => r.id));
    for (const [k] of ISIC2017_CLASSES.entries()) {
      const ofClass = train.filter((r) => r.label === k).sort((a, b) => (a.id < b.id ? -1 : 1));
      new Rng(0, 0xde30, k).shuffle(ofClass);
      for (const r of ofClass.slice(0, Math.max(1, Math.round((maxTrain * ofClass.length) / train.length)))) keep.add(r.id);
    }
  }
  const chosen = usable.filter((r) => keep.has(r.id) && (only === undefined || splits.get(r.id) === only));
  await mkdir(path.join(dst, 'images'), { recursive: true });
  await mkdir(path.join(dst, 'masks'), { recursive: true });
  for (const r of chosen) {
    await place(r.image, path.join(dst, 'images', `${r.id}${path.extname(r.image)}`));
    await place(r.mask, path.join(dst, 'masks', maskFileName(r.id)));
  }
  const enc = (t: string) => new TextEncoder().encode(t);
  if (only === undefined) await writeFileAtomic(path.join(dst, 'split.csv'), enc(['image_id,split', ...chosen.map((r) => `${r.id},${splits.get(r.id)}`)].join('\n') + '\n'));
  await writeFileAtomic(path.join(dst, 'labels.csv'), enc([LABELS_HEADER, ...chosen.map((r) => labelsRow(r.id, ISIC2017_CLASSES[r.label]!))].join('\n') + '\n'));
  return { lesions: chosen.length, leftOut: left };
}

/** Lesions per split and diagnosis (diagnoses in the cache's order). */
function cacheCounts(cache: LesionCache): Record<Split, Record<string, number>> {
  const out = { train: {}, val: {}, test: {} } as Record<Split, Record<string, number>>;
  for (const sp of ['train', 'val', 'test'] as const) {
    for (const [k, name] of cache.spec.classes.entries()) {
      const n = cache.indices(sp).filter((i) => cache.records[i]!.label === k).length;
      if (n > 0) out[sp][name] = n;
    }
  }
  return out;
}

const dataStage: StageRunner = async (s, rec, { ui, paths }) => {
  const st = s.settings;
  if (!existsSync(path.join(paths.data, 'labels.csv'))) {
    // A folder without labels.csv is an interrupted write of ours: start it again.
    await rm(paths.data, { recursive: true, force: true });
    if (s.request.data === null) {
      ui.say(`writing the sample dataset: ${st.sampleLesions} lesions at ${Math.max(st.width, st.height)}x${Math.max(st.width, st.height)} -> ${paths.data}`);
      await writeSampleDataset(paths.data, { n: st.sampleLesions, seed: 0, size: Math.max(st.width, st.height, 32) });
    } else {
      ui.say(`linking ${s.request.data}'s lesions${st.maxTrain === null ? '' : ` (at most ${st.maxTrain} training lesions)`} -> ${paths.data}`);
      const w = await writeDemoDataset(s.request.data, paths.data, st.maxTrain);
      if (w.leftOut > 0) ui.say(`${w.leftOut} lesion(s) of ${s.request.data} have no image, mask or label: left out (see 'dermosynth data inspect')`);
    }
  }
  const bars = prepareBars(ui);
  const cache = await openTrainingData(paths.run, trainOptions(s, null), (p) => bars.update(p)).finally(() => bars.stop());
  try {
    const counts = cacheCounts(cache);
    rec.detail.counts = counts;
    rec.detail.cache = path.relative(paths.out, cache.dir);
    rec.detail.splitSource = cache.manifest.split.source;
    // The experiment's test set: the test split, or (a dataset with train and val only, as
    // isic2017-512) the val split's lesions as their own dataset.
    if (cache.indices('test').length > 0) {
      rec.detail.testSet = { dir: 'data', split: 'test' };
    } else {
      if (!existsSync(path.join(paths.testData, 'labels.csv'))) {
        await rm(paths.testData, { recursive: true, force: true });
        await writeDemoDataset(paths.data, paths.testData, null, 'val');
      }
      rec.detail.testSet = { dir: 'test-data', split: 'val' };
    }
    const line = (sp: Split) => `${sp} ${Object.values(counts[sp]).reduce((a, b) => a + b, 0)} (${Object.entries(counts[sp]).map(([c, n]) => `${c} ${n}`).join(', ') || 'none'})`;
    ui.say(`lesions: ${(['train', 'val', 'test'] as const).map(line).join('; ')}`);
  } finally {
    cache.close();
  }
  return true;
};

// ---- 2. train -------------------------------------------------------------------------------

function planSteps(s: DemoState, doneSteps: number, spentSeconds: number, secondsPerStep: number, stepsPerEpoch: number): TrainPlan {
  const st = s.settings;
  // Sample grids and checkpoints cost a little on top of the steps.
  const steps = st.fixedSteps ?? doneSteps + Math.max(1, Math.floor((s.budgets.train - spentSeconds) / (secondsPerStep * 1.05)));
  const epochsTotal = Math.max(1, Math.ceil(steps / stepsPerEpoch));
  const epochs = Math.ceil(epochsTotal / 2);
  return { secondsPerStep, steps, epochs, decayEpochs: epochsTotal - epochs, stepsPerEpoch };
}


function median(v: readonly number[]): number {
  const a = [...v].sort((x, y) => x - y);
  const m = a.length >> 1;
  return a.length % 2 === 1 ? a[m]! : (a[m - 1]! + a[m]!) / 2;
}

/** A re-plan is made when the step time measured later differs from the plan's by more than this... */
const REPLAN_TOLERANCE = 0.2;
/** ... measured over the most recent steps (at most this many)... */
const REPLAN_WINDOW = 50;
/** ... when these shares of the training budget are spent. */
const REPLAN_AT = [0.25, 0.5, 0.75];

/**
 * Training for a time budget. The steps are planned from the median time of the run's own first
 * steps (a run that never ends while they are measured; they are kept: the planned run resumes from
 * their checkpoint). On a shared machine the step time changes as other work comes and goes, so
 * when 25%, 50% and 75% of the budget are spent it is measured again over the recent steps, and
 * the run re-planned (checkpoint, new schedule, resume) when it differs by more than 20%. A run
 * slower than planned still stops at 110% of the budget, and says so. The last steps' time is kept
 * for the later stages' cost model.
 */
const trainStage: StageRunner = async (s, rec, { ui, stop, paths }) => {
  const run = runPaths(paths.run);
  const st = s.settings;
  const said = new Set<string>();
  const notices = (m: string) => {
    if (m.startsWith('checkpoint ') || said.has(m)) return;
    said.add(m);
    ui.say(m);
  };
  for (;;) {
    const plan = (rec.detail.plan as TrainPlan | undefined) ?? null;
    const options = trainOptions(s, plan);
    const cache = await openTrainingData(paths.run, options);
    const trainer = new Trainer(run, options, cache, null, { onNotice: notices });
    try {
      // The run's config.json (what synthesize and evaluate read) holds the plan's schedule.
      if (plan && (await readRunConfig(run.config))?.options.steps !== plan.steps) await writeRunConfig(run.config, trainer.runConfig());
      const start = await trainer.resume();
      if (start > 0) ui.say(`resuming the training at step ${start}${plan ? ` of ${trainer.totalSteps}` : ''}`);
      const limit = s.budgets.train * 1.1;
      const durations: number[] = [];
      let seconds = 0;
      let why: 'measured' | 'replan' | 'time' | null = null;
      const bar = plan ? ui.progress('training', trainer.totalSteps, 'steps') : ui.progress('measuring', st.calibrationSteps, 'steps');
      bar.update(plan ? start : 0);
      const r = await trainer.run({
        onStep: (x) => {
          if (seconds > 0 || x.step > start + 1) durations.push(x.seconds - seconds);
          seconds = x.seconds;
          if (plan) bar.update(x.step, x.totalSteps, Object.entries(x.losses).map(([k, v]) => `${k} ${v.toFixed(3)}`).join(' '));
          else bar.update(x.step - start);
        },
        onNotice: notices,
        shouldStop: () => {
          if (stop()) return true;
          if (!plan) {
            if (trainer.currentStep - start >= st.calibrationSteps) why = 'measured';
          } else if (st.fixedSteps === null) {
            if (seconds > limit) why = 'time';
            else {
              const checked = (rec.detail.checks as number | undefined) ?? 0;
              if (checked < REPLAN_AT.length && seconds >= REPLAN_AT[checked]! * s.budgets.train && durations.length >= st.calibrationSteps) {
                rec.detail.checks = checked + 1;
                const now = median(durations.slice(-REPLAN_WINDOW));
                if (Math.abs(now - plan.secondsPerStep) > REPLAN_TOLERANCE * plan.secondsPerStep) why = 'replan';
              }
            }
          }
          return why !== null;
        },
      }).finally(() => bar.stop());
      rec.detail.trainSeconds = Number(seconds.toFixed(1));
      rec.detail.steps = r.step;
      if (durations.length > 0) rec.detail.recentSecondsPerStep = median(durations.slice(-REPLAN_WINDOW));
      if (why === 'measured' || why === 'replan') {
        const next = planSteps(s, r.step, seconds, median(durations.slice(-REPLAN_WINDOW)), trainer.stepsPerEpoch);
        if (why === 'replan') {
          rec.detail.replans = [...((rec.detail.replans as TrainPlan[] | undefined) ?? []), plan!];
          ui.say(`the step time changed: ${next.secondsPerStep.toFixed(3)} s now, ${plan!.secondsPerStep.toFixed(3)} s planned; re-planned from ${plan!.steps} to ${next.steps} steps`);
        } else {
          ui.say(`${next.secondsPerStep.toFixed(3)} s per step (median of ${durations.length}): ${next.steps} steps (${next.epochs} epochs at lr 2e-4, then ${next.decayEpochs} decaying to 0; ${next.stepsPerEpoch} steps per epoch)`);
        }
        rec.detail.plan = next;
        await saveState(s);
        continue;
      }
      if (!plan || (!r.finished && why !== 'time')) return false;
      rec.detail.stoppedOnTime = why === 'time';
      if (why === 'time') ui.say(`stopped on the time budget at step ${r.step} of ${r.totalSteps} (the steps took longer than measured); the newest checkpoint is the generator`);
      rec.detail.weights = path.relative(paths.out, r.finished ? r.generatorFile! : r.lastCheckpoint!);
      return true;
    } finally {
      trainer.dispose();
    }
  }
};

// ---- 3. synthesize --------------------------------------------------------------------------

/**
 * Imbalanced classes (ISIC-2017: mostly nevi) are filled up to the largest; (nearly) balanced ones,
 * as the sample data's, are each doubled, so that there is something to add.
 */
export function balanceTarget(trainCounts: Record<string, number>): BalanceTarget {
  const n = ISIC2017_CLASSES.map((c) => trainCounts[c] ?? 0);
  return Math.min(...n) >= 0.8 * Math.max(...n) ? { kind: 'ratio', ratio: 2 } : { kind: 'ratio', ratio: 1 };
}

/** One picture per class: up to `n` synthetic lesions, their masks above and images below. */
async function syntheticFigures(synDir: string, figures: string, n: number): Promise<Record<string, { file: string; count: number; width: number }>> {
  const labelsFile = path.join(synDir, 'labels.csv');
  const t = parseCsv(await readFile(labelsFile, 'utf8'), labelsFile);
  const [id, mel, sk] = ['image_id', 'melanoma', 'seborrheic_keratosis'].map((c) => requireColumn(t, c));
  const byClass = new Map<string, string[]>();
  for (const { cells } of t.rows) {
    const c = Number(cells[mel!]) === 1 ? 'melanoma' : Number(cells[sk!]) === 1 ? 'seborrheic_keratosis' : 'nevus';
    byClass.set(c, [...(byClass.get(c) ?? []), cells[id!]!]);
  }
  await mkdir(figures, { recursive: true });
  const manifest = JSON.parse(await readFile(path.join(synDir, SYNTHESIS_FILE), 'utf8')) as { size: [number, number]; imageFormat: string };
  const [w, h] = manifest.size;
  const gap = 2;
  const out: Record<string, { file: string; count: number; width: number }> = {};
  for (const c of ISIC2017_CLASSES) {
    const ids = byClass.get(c) ?? [];
    if (ids.length === 0) continue;
    const shown = ids.slice(0, n);
    const tiles: sharp.OverlayOptions[] = [];
    for (const [i, sid] of shown.entries()) {
      const mask = await sharp(path.join(synDir, 'masks', maskFileName(sid))).resize(w, h, { kernel: 'nearest' }).toColourspace('srgb').png().toBuffer();
      tiles.push({ input: mask, left: i * (w + gap), top: 0 });
      tiles.push({ input: path.join(synDir, 'images', `${sid}.${manifest.imageFormat}`), left: i * (w + gap), top: h + gap });
    }
    const width = shown.length * (w + gap) - gap;
    const png = await sharp({ create: { width, height: 2 * h + gap, channels: 3, background: { r: 255, g: 255, b: 255 } } }).composite(tiles).removeAlpha().png().toBuffer();
    const file = path.join(figures, `synthetic-${c}.png`);
    await writeFileAtomic(file, png);
    out[c] = { file: path.relative(path.dirname(figures), file), count: ids.length, width };
  }
  return out;
}

const synthesizeStage: StageRunner = async (s, rec, { ui, stop, paths }) => {
  const counts = (s.stages.data!.detail.counts as Record<Split, Record<string, number>>).train;
  const target = balanceTarget(counts);
  rec.detail.target = target;
  let mode: 'new' | 'resume' = 'new';
  if (existsSync(path.join(paths.synthetic, SYNTHESIS_FILE))) mode = 'resume';
  else await rm(paths.synthetic, { recursive: true, force: true });
  let bar: Progress | null = null;
  const r = await synthesize(
    {
      run: paths.run,
      device: 'cpu',
      from: { kind: 'dataset', dir: paths.data, split: 'train', skipBad: false },
      what: { kind: 'balance', target },
      deform: true,
      maskPool: 'same',
      seed: 0,
      firstId: 1,
      out: paths.synthetic,
      mode,
      batch: null,
      format: 'jpg',
    },
    {
      onNotice: (m) => ui.say(m),
      onStart: (x) => {
        bar = ui.progress('synthesis', x.total, 'images');
        bar.update(x.done);
      },
      onProgress: (done, total) => bar?.update(done, total),
      shouldStop: stop,
    },
  ).finally(() => (bar as Progress | null)?.stop());
  if (!r.finished) return false;
  rec.detail.counts = r.counts;
  rec.detail.total = r.total;
  rec.detail.figures = await syntheticFigures(paths.synthetic, paths.figures, 8);
  return true;
};

// ---- 4. evaluate ----------------------------------------------------------------------------

function trainLesions(s: DemoState): number {
  return Object.values((s.stages.data!.detail.counts as Record<Split, Record<string, number>>).train).reduce((a, b) => a + b, 0);
}

/** Seconds of a GAN step at the end of the training (the unit of the cost model). */
function stepSeconds(s: DemoState): number {
  const d = s.stages.train!.detail;
  return (d.recentSecondsPerStep as number | undefined) ?? (d.plan as TrainPlan).secondsPerStep;
}

const evaluateStage: StageRunner = async (s, rec, { ui, paths }) => {
  const n = trainLesions(s);
  // Everything but the auxiliary networks' training (one pass over the val split, charts) is
  // small: a fifth of the budget is kept for it.
  const perEpoch = n * (COST_PER_IMAGE.classifier + COST_PER_IMAGE.segmenter) * stepSeconds(s);
  const auxEpochs = s.settings.fixedAuxEpochs ?? Math.min(10, Math.max(1, Math.floor((0.8 * s.budgets.evaluate) / perEpoch)));
  rec.detail.auxEpochs = auxEpochs;
  ui.say(`auxiliary classifier and segmenter: ${auxEpochs} epoch(s) on the ${n} real training lesions (about ${formatSeconds(auxEpochs * perEpoch)}), then the val split`);
  const prep = prepareBars(ui);
  let aux: { what: string; bar: Progress } | null = null;
  let bar: Progress | null = null;
  let m: Metrics;
  try {
    m = await evaluate(
      {
        run: paths.run, data: null, split: 'val', inceptionWeights: null, lpips: null, device: 'cpu', batch: 16, maxImages: null,
        auxEpochs, auxDir: null, seed: 0, gridExamples: s.settings.gridExamples,
      },
      {
        onNotice: (x) => ui.say(x),
        onPrepare: (x) => prep.update(x),
        onAux: (x) => {
          if (aux?.what !== x.what) {
            aux?.bar.stop();
            aux = { what: x.what, bar: ui.progress(x.what, x.totalSteps, 'steps') };
          }
          aux.bar.update(x.step, x.totalSteps);
        },
        onProgress: (done, total) => {
          (aux as { bar: Progress } | null)?.bar.stop();
          bar ??= ui.progress('evaluating', total, 'images');
          bar.update(done, total);
        },
      },
    );
  } finally {
    prep.stop();
    (aux as { bar: Progress } | null)?.bar.stop();
    (bar as Progress | null)?.stop();
  }
  // The run's own report also draws the loss curves (RUN/eval/losses-*.png) the demo's links.
  const r = await writeRunReport(paths.run, m);
  rec.detail.runReport = path.relative(paths.out, r.html);
  await removeFinishedCheckpoints(path.join(paths.run, 'eval', 'networks'));
  return true;
};

/**
 * Removes the checkpoints of finished classifiers under `dir` (a folder holding model.safetensors
 * and checkpoints/): nothing reads them once the weights are written, and a resnet18 checkpoint
 * with its Adam state is over 100 MB. Returns the folders removed.
 */
async function removeFinishedCheckpoints(dir: string): Promise<number> {
  if (!existsSync(dir)) return 0;
  let n = 0;
  for (const e of await readdir(dir, { withFileTypes: true })) {
    if (!e.isDirectory()) continue;
    const sub = path.join(dir, e.name);
    if (e.name === 'checkpoints' && existsSync(path.join(dir, 'model.safetensors'))) {
      await rm(sub, { recursive: true, force: true });
      n++;
    } else {
      n += await removeFinishedCheckpoints(sub);
    }
  }
  return n;
}

// ---- 5. experiment --------------------------------------------------------------------------

export function experimentOptions(s: DemoState, epochs: number): AugmentExperimentOptions {
  const p = demoPaths(s.request.out);
  const test = s.stages.data!.detail.testSet as { dir: string; split: string };
  return {
    real: p.data,
    synthetic: p.synthetic,
    test: path.join(p.out, test.dir),
    out: p.experiment,
    classes: null,
    tasks: null,
    models: ['resnet18'],
    seeds: 1,
    epochs,
    width: s.settings.width,
    height: s.settings.height,
    weightsDir: null,
    batch: s.settings.experimentBatch,
    lr: 1e-3,
    optimizer: 'adam',
    balanced: false,
    augment: 'default',
    bootstrap: s.settings.bootstrap,
  };
}

const experimentStage: StageRunner = async (s, rec, { ui, stop, paths }) => {
  let epochs = rec.detail.epochs as number | undefined;
  if (epochs === undefined) {
    const real = trainLesions(s);
    const imagesPerEpoch = real + real + (s.stages.synthesize!.detail.total as number);
    epochs = s.settings.fixedExperimentEpochs ?? Math.min(20, Math.max(1, Math.floor((0.85 * s.budgets.experiment) / (imagesPerEpoch * COST_PER_IMAGE.classifier * stepSeconds(s)))));
    rec.detail.epochs = epochs;
    await saveState(s);
  }
  const o = experimentOptions(s, epochs);
  ui.say(`resnet18 from scratch, ${epochs} epoch(s) per arm at ${o.width}x${o.height}, batch ${o.batch}: real only, then real + synthetic`);
  let bar: Progress | null = null;
  const prep = prepareBars(ui);
  let results: ExperimentResults | null;
  try {
    results = await runAugmentExperiment(o, {
      onNotice: (m) => ui.say(m),
      onPrepare: (_which, x) => prep.update(x),
      onTrainStart: (x) => {
        prep.stop();
        bar = ui.progress(`${x.model} ${x.arm}`, x.totalSteps, 'steps');
        bar.update(x.startStep);
      },
      onStep: (x) => bar?.update(x.step, x.totalSteps, `e${x.epoch} loss ${x.loss.toFixed(3)}`),
      onTrainEnd: () => bar?.stop(),
      shouldStop: stop,
    });
  } finally {
    prep.stop();
    (bar as Progress | null)?.stop();
  }
  if (!results) return false;
  await removeFinishedCheckpoints(path.join(paths.experiment, 'runs'));
  const t = Object.values(results.models[0]!.tests)[0]!;
  rec.detail.meanAuc = { real: t.arms.real.pooled.mean.auc, 'real+synthetic': t.arms['real+synthetic'].pooled.mean.auc };
  return true;
};

// ---- 6. report ------------------------------------------------------------------------------

const reportStage: StageRunner = async (s, rec, { ui, paths }) => {
  s.stages.report = rec;
  rec.detail.loadAverage = os.loadavg().map((x) => Number(x.toFixed(2)));
  const r = await writeDemoReport(s);
  ui.say(`report: ${r.html} (and ${path.basename(r.markdown)})`);
  return true;
};

const STAGE_RUNNERS: Record<StageName, StageRunner> = {
  data: dataStage,
  train: trainStage,
  synthesize: synthesizeStage,
  evaluate: evaluateStage,
  experiment: experimentStage,
  report: reportStage,
};
