// What the demo needs from a user interface: lines for the user and progress bars. The CLI
// implements it (stderr, bars with ETA); tests pass their own, and without one the demo is quiet.
import type { PrepareProgress } from '../data/prepare.js';

export interface ProgressBar {
  /** `detail`: a short text shown after the bar (e.g. the latest losses). */
  update(done: number, total?: number, detail?: string): void;
  stop(): void;
}

export interface DemoUI {
  /** A line for the user (stage headers, the plan, notices). */
  say(message: string): void;
  progress(label: string, total: number, unit: string): ProgressBar;
}

export const quietUI: DemoUI = { say: () => {}, progress: () => ({ update() {}, stop() {} }) };

const PREPARE_LABELS: Record<string, string> = { hash: 'prepare hashing', decode: 'prepare decoding' };

/**
 * Progress of work in phases (e.g. the cache's hashing then decoding): one bar per phase made by
 * `make(phase)`, the previous one stopped when the next starts; `stop()` ends the last.
 */
export function phasedBars(make: (phase: string, total: number) => ProgressBar): {
  update(p: { phase: string; done: number; total: number }): void;
  stop(): void;
} {
  let bar: ProgressBar | null = null;
  let phase = '';
  return {
    update(p) {
      if (p.phase !== phase) {
        bar?.stop();
        phase = p.phase;
        bar = p.total > 0 ? make(p.phase, p.total) : null;
      }
      bar?.update(p.done, p.total);
    },
    stop() {
      bar?.stop();
    },
  };
}

/** Bars for the cache's phases (hashing, decoding) on the demo's UI. */
export function prepareBars(ui: DemoUI): { update(p: PrepareProgress): void; stop(): void } {
  return phasedBars((phase, total) => ui.progress(PREPARE_LABELS[phase] ?? phase, total, 'lesions'));
}
