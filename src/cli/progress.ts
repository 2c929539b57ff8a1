// Progress on stderr: a bar with rate and ETA on a terminal, a line every few seconds otherwise.
import cliProgress from 'cli-progress';

export interface Progress {
  update(done: number, total?: number): void;
  stop(): void;
}

export function progress(label: string, total: number, unit = 'items'): Progress {
  const bytes = unit === 'bytes';
  if (process.stderr.isTTY && !process.env.DERMOSYNTH_NO_BAR) {
    const bar = new cliProgress.SingleBar(
      {
        format: `${label.padEnd(10)} {bar} {percentage}% | {shown} | {rate} | ETA {eta_formatted}`,
        stream: process.stderr,
        hideCursor: true,
        etaBuffer: 50,
        fps: 5,
      },
      cliProgress.Presets.shades_classic,
    );
    const start = Date.now();
    const payload = (done: number, t: number) => ({
      shown: bytes ? `${mib(done)}/${mib(t)} MiB` : `${done}/${t} ${unit}`,
      rate: rate(done, start, bytes, unit),
    });
    bar.start(total, 0, payload(0, total));
    return {
      update(done, t) {
        if (t !== undefined && t !== bar.getTotal()) bar.setTotal(t);
        bar.update(done, payload(done, bar.getTotal()));
      },
      stop() {
        bar.stop();
      },
    };
  }
  // Not a terminal (CI, logs): one line at most every 5 s, and one at the end.
  let last = 0;
  let current = 0;
  let max = total;
  const start = Date.now();
  const line = () => {
    const eta = current > 0 && max > current ? ` ETA ${Math.round(((Date.now() - start) / current) * (max - current) / 1000)}s` : '';
    process.stderr.write(`${label}: ${bytes ? `${mib(current)}/${mib(max)} MiB` : `${current}/${max} ${unit}`} ${rate(current, start, bytes, unit)}${eta}\n`);
  };
  return {
    update(done, t) {
      current = done;
      if (t !== undefined) max = t;
      if (Date.now() - last > 5000) {
        last = Date.now();
        line();
      }
    },
    stop() {
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
