// The demo's state file, OUT/demo.json: the request, the settings, the budgets and each stage's
// record. Versioned; every change is written atomically, so a killed demo continues from it.
import { mkdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { writeJsonAtomic } from '../util/atomic_file.js';
import type { DemoRequest, DemoSettings } from './settings.js';
import type { DemoStages, StageName, StageResults } from './stage_results.js';

export const DEMO_STATE_FILE = 'demo.json';
export const DEMO_STATE_VERSION = 1;

/** The stages given a share of the time budget (the data stage and the report take seconds). */
export type BudgetedStage = 'train' | 'synthesize' | 'evaluate' | 'experiment';

export interface DemoState {
  format: 'dermosynth-demo';
  version: number;
  created: string;
  /** The request as given (data as typed, for the reproduce commands) and resolved. */
  request: DemoRequest & { dataArg: string | null };
  settings: DemoSettings;
  /** Seconds per budgeted stage. */
  budgets: Record<BudgetedStage, number>;
  machine: { cores: number; loadAverage: number[] };
  stages: DemoStages;
}

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

export type DemoPaths = ReturnType<typeof demoPaths>;

/** The state in `out`; null when there is none. A file of another format or version is refused. */
export async function readDemoState(out: string): Promise<DemoState | null> {
  let text: string;
  try {
    text = await readFile(demoPaths(out).state, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw e;
  }
  const s = JSON.parse(text) as DemoState;
  if (s.format !== 'dermosynth-demo' || s.version !== DEMO_STATE_VERSION)
    throw new RangeError(
      `${demoPaths(out).state}: not a dermosynth demo state of version ${DEMO_STATE_VERSION}; choose another --out`,
    );
  return s;
}

export async function saveDemoState(s: DemoState): Promise<void> {
  await mkdir(s.request.out, { recursive: true });
  await writeJsonAtomic(demoPaths(s.request.out).state, s);
}

/** A finished stage's result (the stages run in order: a later stage reads only finished ones). */
export function stageResult<N extends StageName>(s: DemoState, name: N): StageResults[N] {
  const rec = s.stages[name];
  if (!rec?.done) throw new Error(`the demo's ${name} stage has not finished`);
  return rec.detail as StageResults[N];
}
