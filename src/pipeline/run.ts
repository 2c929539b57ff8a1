// runDemo: the demo started in OUT, or continued from its state file; then the stages in order.
// Finished stages are never redone (the report is, every time); a stage stopped part way (SIGINT,
// SIGTERM) continues where it stopped: training from its newest checkpoint with the time already
// spent counted, synthesis as --resume does, the experiment skipping finished model/seed pairs;
// evaluation is redone (its networks are kept).
import { existsSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { DataError } from '../data/problems.js';
import { formatSeconds } from './format_seconds.js';
import { budgetOf, planBudgets } from './plan.js';
import { planSummary } from './plan_summary.js';
import type { CommandLineWriter } from './reproduce.js';
import { demoSettings, type DemoRequest } from './settings.js';
import type { StageContext, StageRunner } from './stage.js';
import { STAGES, type StageName } from './stage_results.js';
import { dataStage } from './stages/data.js';
import { evaluateStage } from './stages/evaluate.js';
import { experimentStage } from './stages/experiment.js';
import { reportStage } from './stages/report.js';
import { synthesizeStage } from './stages/synthesize.js';
import { trainStage } from './stages/train.js';
import {
  DEMO_STATE_FILE,
  DEMO_STATE_VERSION,
  demoPaths,
  readDemoState,
  saveDemoState,
  type DemoPaths,
  type DemoState,
} from './state.js';
import { quietUI, type DemoUI } from './ui.js';

export interface DemoHooks {
  /** Spells the commands the report prints (the CLI's, from its own option definitions). */
  commandLine: CommandLineWriter;
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

const STAGE_RUNNERS: { [N in StageName]: StageRunner<N> } = {
  data: dataStage,
  train: trainStage,
  synthesize: synthesizeStage,
  evaluate: evaluateStage,
  experiment: experimentStage,
  report: reportStage,
};

/** The request fields a resumed demo must match. */
const REQUEST_FIELDS = ['data', 'minutes', 'lesions', 'width', 'height', 'tiny'] as const;

function checkRequest(req: DemoRequest): void {
  if (!(req.minutes > 0)) throw new RangeError(`--minutes must be positive, got ${req.minutes}`);
  if (req.data !== null && !existsSync(req.data))
    throw new DataError(
      `--data ${req.data}: no such folder; give a dataset folder (e.g. ../shared/data/isic2017-512) or leave --data out for the built-in sample`,
    );
}

/** Refuses to continue a demo made with other options. */
function checkSameRequest(state: DemoState, req: DemoRequest, out: string): void {
  const differing = REQUEST_FIELDS.filter((k) => JSON.stringify(state.request[k]) !== JSON.stringify(req[k]));
  if (differing.length === 0) return;
  throw new RangeError(
    `${out} holds a demo made with other options (${differing.map((k) => `${k}: demo ${JSON.stringify(state.request[k])}, given ${JSON.stringify(req[k])}`).join('; ')}); run it with the same options to continue it, or choose another --out`,
  );
}

/** A new demo's state: the request resolved, the budgets, the machine. */
function newState(req: DemoRequest & { dataArg?: string | null }, out: string): DemoState {
  return {
    format: 'dermosynth-demo',
    version: DEMO_STATE_VERSION,
    created: new Date().toISOString(),
    request: { ...req, out, dataArg: req.dataArg ?? req.data },
    settings: demoSettings(req),
    budgets: planBudgets(req.minutes),
    machine: { cores: os.cpus().length, loadAverage: os.loadavg().map((x) => Number(x.toFixed(2))) },
    stages: {},
  };
}

/** The demo in `p.out`: continued when its state matches the request, else started in a new or empty folder. */
async function openDemo(req: DemoRequest & { dataArg?: string | null }, p: DemoPaths): Promise<DemoState> {
  const existing = await readDemoState(p.out);
  if (existing) {
    checkSameRequest(existing, req, p.out);
    return existing;
  }
  if (existsSync(p.out) && (await readdir(p.out)).length > 0)
    throw new RangeError(
      `${p.out} exists and is not a demo folder (no ${DEMO_STATE_FILE}); choose another --out or an empty folder`,
    );
  const s = newState(req, p.out);
  await saveDemoState(s);
  return s;
}

/** Runs one stage (or continues it), counting its session and wall time; true when it finished. */
async function runStage<N extends StageName>(
  s: DemoState,
  name: N,
  c: Omit<StageContext<N>, 'state' | 'record'>,
): Promise<boolean> {
  const t0 = Date.now();
  const record = (s.stages[name] ??= { done: false, seconds: 0, sessions: 0, detail: {} });
  record.sessions++;
  const finished = await STAGE_RUNNERS[name]({ state: s, record, ...c });
  record.seconds += (Date.now() - t0) / 1000;
  record.done = finished;
  await saveDemoState(s);
  return finished;
}

/** The line that opens stage `i`: its budget, the demo time so far, and the budgets left. */
function stageHeader(s: DemoState, i: number, started: number): string {
  const name = STAGES[i]!;
  const remaining = STAGES.slice(i).reduce((a, n) => a + budgetOf(s, n), 0);
  const budget = name in s.budgets ? ` (budget ${formatSeconds(budgetOf(s, name))})` : '';
  return `[${i + 1}/${STAGES.length}] ${name}${budget}: demo time so far ${formatSeconds((Date.now() - started) / 1000)}, about ${formatSeconds(remaining)} to go`;
}

/** Runs the demo, or continues it. */
export async function runDemo(req: DemoRequest & { dataArg?: string | null }, hooks: DemoHooks): Promise<DemoResult> {
  const ui = hooks.ui ?? quietUI;
  const p = demoPaths(path.resolve(req.out));
  checkRequest(req);
  const s = await openDemo(req, p);
  ui.say(planSummary(s));
  const started = Date.now();
  const c = { ui, stop: hooks.shouldStop ?? (() => false), paths: p, commandLine: hooks.commandLine };
  for (const [i, name] of STAGES.entries()) {
    const rec = s.stages[name];
    if (rec?.done && name !== 'report') {
      ui.say(`[${i + 1}/${STAGES.length}] ${name}: done already (${formatSeconds(rec.seconds)}), not redone`);
      continue;
    }
    ui.say(stageHeader(s, i, started));
    if (!(await runStage(s, name, c))) {
      ui.say(`stopped during ${name}; run the same command again to continue where it stopped`);
      return { finished: false, state: s, report: null };
    }
    if (hooks.stopAfter === name) return { finished: false, state: s, report: null };
  }
  return { finished: true, state: s, report: { html: p.html, markdown: p.markdown } };
}
