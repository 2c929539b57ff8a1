// What the studio's run tab shows from a run folder: the sample grids (samples/step-N.png), a
// summary of the loss log (log.jsonl) and metrics.json when present. A grid is read only when the
// name asked for is one of the names listed from samples/ now: request strings never become paths.
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { runPaths, SAMPLE_GRID_NAME, type RunPaths } from '../run/layout.js';
import { readLogSoFar, type LogEntry } from '../run/log.js';

/** Points per loss curve at most (bucket means). */
const CURVE_POINTS = 200;

export interface LossSummary {
  first: number;
  last: number;
  min: number;
  /** Mean of the last tenth of the steps (at least one). */
  recentMean: number;
  /** [step, value] pairs, at most CURVE_POINTS: the mean of each bucket of steps. */
  curve: [number, number][];
}

export interface LogSummary {
  entries: number;
  lastStep: number;
  skipped: number;
  seconds: number;
  stages: string[];
  losses: Record<string, LossSummary>;
}

export class RunFiles {
  readonly paths: RunPaths;

  constructor(readonly dir: string) {
    this.paths = runPaths(dir);
  }

  /** Sample grid names, newest step first. */
  async samples(): Promise<string[]> {
    let names: string[];
    try {
      names = await readdir(this.paths.samples);
    } catch {
      return [];
    }
    return names.filter((n) => SAMPLE_GRID_NAME.test(n)).sort((a, b) => stepOf(b) - stepOf(a));
  }

  /** A sample grid's PNG bytes when `name` is in the current listing; null otherwise. */
  async sample(name: string): Promise<Buffer | null> {
    const listed = (await this.samples()).find((n) => n === name);
    if (!listed) return null;
    try {
      return await readFile(path.join(this.paths.samples, listed));
    } catch {
      return null;
    }
  }

  /** The loss log summarised; null when the run has no log yet. Lines cut by a kill are ignored. */
  async logSummary(): Promise<LogSummary | null> {
    const entries = await readLogSoFar(this.paths.log);
    return entries && summarise(entries);
  }

  /** metrics.json parsed, or null when absent or unreadable. */
  async metrics(): Promise<unknown> {
    try {
      return JSON.parse(await readFile(path.join(this.dir, 'metrics.json'), 'utf8'));
    } catch {
      return null;
    }
  }
}

function stepOf(name: string): number {
  return Number(/\d+/.exec(name)?.[0] ?? 0);
}

export function summarise(entries: readonly LogEntry[]): LogSummary {
  const stages: string[] = [];
  const series = new Map<string, [number, number][]>();
  let skipped = 0;
  let seconds = 0;
  let lastStep = 0;
  for (const e of entries) {
    lastStep = Math.max(lastStep, e.step);
    seconds += Number.isFinite(e.seconds) ? e.seconds : 0;
    if (!stages.includes(e.stage)) stages.push(e.stage);
    if (e.skipped) {
      skipped++;
      continue;
    }
    for (const [k, v] of Object.entries(e.losses ?? {})) {
      if (!Number.isFinite(v)) continue;
      let s = series.get(k);
      if (!s) series.set(k, (s = []));
      s.push([e.step, v]);
    }
  }
  const losses: Record<string, LossSummary> = {};
  for (const [k, s] of series) {
    const values = s.map(([, v]) => v);
    const tail = values.slice(-Math.max(1, Math.floor(values.length / 10)));
    losses[k] = {
      first: values[0]!,
      last: values[values.length - 1]!,
      min: Math.min(...values),
      recentMean: tail.reduce((a, b) => a + b, 0) / tail.length,
      curve: bucketMeans(s, CURVE_POINTS),
    };
  }
  return { entries: entries.length, lastStep, skipped, seconds, stages, losses };
}

function bucketMeans(s: readonly [number, number][], points: number): [number, number][] {
  if (s.length <= points) return s.map(([a, b]) => [a, b]);
  const out: [number, number][] = [];
  for (let b = 0; b < points; b++) {
    const lo = Math.floor((b * s.length) / points);
    const hi = Math.floor(((b + 1) * s.length) / points);
    let step = 0;
    let sum = 0;
    for (let i = lo; i < hi; i++) {
      step = s[i]![0];
      sum += s[i]![1];
    }
    out.push([step, sum / (hi - lo)]);
  }
  return out;
}
