// The demo pipeline's public face (what the CLI and the tests use): run it, read its state, and
// the types of its request, state, stage results and user interface.
export { runDemo, type DemoHooks, type DemoResult } from './run.js';
export {
  DEFAULT_MAX_TRAIN,
  DEFAULT_SAMPLE_LESIONS,
  demoSettings,
  type DemoRequest,
  type DemoSettings,
} from './settings.js';
export { DEMO_STATE_FILE, DEMO_STATE_VERSION, demoPaths, readDemoState, type DemoState } from './state.js';
export { STAGES, type StageName, type StageRecord, type StageResults, type TrainPlan } from './stage_results.js';
export type { CommandLineWriter, CommandName } from './reproduce.js';
export type { DemoUI, ProgressBar } from './ui.js';
export { formatSeconds } from './format_seconds.js';
