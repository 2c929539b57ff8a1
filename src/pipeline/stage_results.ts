// What each stage of the demo records in demo.json (its `detail`), typed: the outputs the later
// stages, a resumed demo and the report read. The JSON shape is the state file's (version 1).
import type { Split } from '../data/dataset.js';
import type { BalanceTarget } from '../synth/balance.js';

export const STAGES = ['data', 'train', 'synthesize', 'evaluate', 'experiment', 'report'] as const;
export type StageName = (typeof STAGES)[number];

/** Lesions per split and diagnosis (diagnoses in the cache's order). */
export type SplitCounts = Record<Split, Record<string, number>>;

/** The experiment's test set: the data's test split, or (no test split) its val lesions as a dataset of their own. */
export type TestSet = { dir: 'data'; split: 'test' } | { dir: 'test-data'; split: 'val' };

export interface DataResult {
  counts: SplitCounts;
  /** The cache folder, relative to OUT. */
  cache: string;
  splitSource: 'official' | 'stratified';
  testSet: TestSet;
}

export interface TrainPlan {
  secondsPerStep: number;
  steps: number;
  epochs: number;
  decayEpochs: number;
  stepsPerEpoch: number;
}

export interface TrainResult {
  /** The schedule: from the first steps' time, or from the latest re-plan. */
  plan: TrainPlan;
  /** How many of the re-plan points (shares of the budget) have been checked. */
  checks?: number;
  /** Training seconds counted by the run (its checkpoints keep them across sessions). */
  trainSeconds: number;
  steps: number;
  /** The median time of the last steps (the later stages' cost unit); absent when none was measured. */
  recentSecondsPerStep?: number;
  /** The plans replaced by re-plans, oldest first. */
  replans?: TrainPlan[];
  stoppedOnTime: boolean;
  /** The generator's weights (or the newest checkpoint), relative to OUT. */
  weights: string;
}

/** One picture of a class's synthetic lesions (masks above, images below). */
export interface SyntheticFigure {
  /** Relative to OUT. */
  file: string;
  count: number;
  width: number;
}

export interface SynthesizeResult {
  target: BalanceTarget;
  counts: Record<string, number>;
  total: number;
  figures: Record<string, SyntheticFigure>;
}

/** The reference model beside the demo's generator on the same val label maps (reference_figures.ts). */
export type ReferenceResult =
  | {
      model: string;
      /** The reference model's [width, height], and the demo's. */
      size: [number, number];
      demoSize: [number, number];
      /** The training step its weights come from (null: the run's final generator). */
      steps: number | null;
      /** One figure per diagnosis, relative to OUT: label | real | demo | reference rows. */
      figures: Record<string, string>;
    }
  | { model: null; reason: string };

export interface EvaluateResult {
  auxEpochs: number;
  /** The run's own report, relative to OUT. */
  runReport: string;
  /** Absent in a state written before the reference figures existed. */
  reference?: ReferenceResult;
}

export interface ExperimentResult {
  epochs: number;
  meanAuc: { real: number; 'real+synthetic': number };
}

export interface ReportResult {
  /** The load average when the report was written. */
  loadAverage: number[];
}

export interface StageResults {
  data: DataResult;
  train: TrainResult;
  synthesize: SynthesizeResult;
  evaluate: EvaluateResult;
  experiment: ExperimentResult;
  report: ReportResult;
}

export interface StageRecord<R> {
  done: boolean;
  /** Wall seconds of the sessions that ended this stage or stopped it (a killed session's time is lost, except training's: its checkpoint counts it). */
  seconds: number;
  sessions: number;
  /** What the stage recorded: all of it once done, a part while it runs or after a stop. */
  detail: Partial<R>;
}

export type DemoStages = { [N in StageName]?: StageRecord<StageResults[N]> };
