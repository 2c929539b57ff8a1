// Progress on stderr: a bar with rate and ETA on a terminal, a line every few seconds otherwise.
import cliProgress from 'cli-progress';
import { phasedBars } from '../pipeline/ui.js';

export interface Progress {
  /** `detail`: a short text shown after the bar (e.g. the latest losses). */
  update(done: number, total?: number, detail?: string): void;
  stop(): void;
}

export function progress(label: string, total: number, unit = 'items'): Progress {
  const bytes = unit === 'bytes';
  if (process.stderr.isTTY && !process.env.DERMOSYNTH_NO_BAR) {
    const bar = new cliProgress.SingleBar(
      {
        format: `${label.padEnd(10)} {bar} {percentage}% | {shown} | {rate} | ETA {eta_formatted} {detail}`,
        stream: process.stderr,
        hideCursor: true,
        etaBuffer: 50,
        fps: 5,
      },
      cliProgress.Presets.shades_classic,
    );
    const start = Date.now();
    let detail = '';
    const payload = (done: number, t: number) => ({
      shown: bytes ? `${mib(done)}/${mib(t)} MiB` : `${done}/${t} ${unit}`,
      rate: rate(done, start, bytes, unit),
      detail,
    });
    let stopped = false;
    bar.start(total, 0, payload(0, total));
    return {
      update(done, t, d) {
        if (t !== undefined && t !== bar.getTotal()) bar.setTotal(t);
        if (d !== undefined) detail = d;
        bar.update(done, payload(done, bar.getTotal()));
      },
      stop() {
        if (stopped) return;
        stopped = true;
        bar.stop();
      },
    };
  }
  // Not a terminal (CI, logs): one line at most every 5 s, and one at the end.
  let last = 0;
  let current = 0;
  let first = -1;
  let max = total;
  let detail = '';
  let stopped = false;
  const start = Date.now();
  const line = () => {
    const eta =
      current > first && max > current
        ? ` ETA ${Math.round((((Date.now() - start) / (current - first)) * (max - current)) / 1000)}s`
        : '';
    process.stderr.write(
      `${label}: ${bytes ? `${mib(current)}/${mib(max)} MiB` : `${current}/${max} ${unit}`} ${rate(current - Math.max(0, first), start, bytes, unit)}${eta}${detail ? ` ${detail}` : ''}\n`,
    );
  };
  return {
    update(done, t, d) {
      if (first < 0) first = done;
      current = done;
      if (t !== undefined) max = t;
      if (d !== undefined) detail = d;
      if (Date.now() - last > 5000) {
        last = Date.now();
        line();
      }
    },
    stop() {
      if (stopped) return;
      stopped = true;
      line();
    },
  };
}

function mib(b: number): string {
  return (b / 1048576).toFixed(1);
}

function rate(done: number, start: number, bytes: boolean, unit: string): string {
  const s = (Date.now() - start) / 1000;
  if (s <= 0) return '';
  return bytes ? `${mib(done / s)} MiB/s` : `${(done / s).toFixed(1)} ${unit}/s`;
}

/**
 * Progress of work in phases (e.g. hashing then decoding): one bar per phase, the previous one
 * stopped when the next starts. `stop()` ends the last. `make` makes each bar (default: `progress`).
 */
export function phasedProgress(
  labels: Record<string, string>,
  unit: string,
  make: (label: string, total: number, unit: string) => Progress = progress,
): { update(p: { phase: string; done: number; total: number }): void; stop(): void } {
  return phasedBars((phase, total) => make(labels[phase] ?? phase, total, unit));
}
