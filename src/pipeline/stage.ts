// What a stage runner is given and returns. Each stage is one file in stages/; run.ts runs them in
// order and records each one's wall time and sessions.
import type { CommandLineWriter } from './reproduce.js';
import type { StageName, StageRecord, StageResults } from './stage_results.js';
import type { DemoPaths, DemoState } from './state.js';
import type { DemoUI } from './ui.js';

export interface StageContext<N extends StageName> {
  state: DemoState;
  /** The stage's record in the state: its runner fills `detail`. */
  record: StageRecord<StageResults[N]>;
  ui: DemoUI;
  /** Polled between steps and batches: true stops at the next safe point. */
  stop: () => boolean;
  paths: DemoPaths;
  /** Spells the commands the report prints. */
  commandLine: CommandLineWriter;
}

/** Runs a stage, or continues it: true when it finished, false when it stopped. */
export type StageRunner<N extends StageName> = (c: StageContext<N>) => Promise<boolean>;
