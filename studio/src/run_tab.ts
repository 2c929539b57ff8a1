// The run tab: metrics.json when the run has one, the loss log summarised (a table and a curve
// per loss) and the sample grids, newest first.
import type { Backend, LogSummary, LossSummary } from './api.js';

export async function showRun(
  api: Backend,
  metricsRoot: HTMLElement,
  lossesRoot: HTMLElement,
  samplesRoot: HTMLElement,
): Promise<void> {
  const [metrics, log, samples] = await Promise.allSettled([api.metrics(), api.log(), api.samples()]);

  metricsRoot.replaceChildren();
  if (metrics.status === 'rejected')
    metricsRoot.append(para(`could not read the metrics: ${(metrics.reason as Error).message}`, 'error'));
  else if (metrics.value.metrics === null)
    metricsRoot.append(para('This run has no metrics.json yet (evaluation writes it).', 'empty'));
  else metricsRoot.append(metricsTable(metrics.value.metrics));

  lossesRoot.replaceChildren();
  if (log.status === 'rejected')
    lossesRoot.append(para(`could not read the log: ${(log.reason as Error).message}`, 'error'));
  else if (!log.value.log) lossesRoot.append(para('This run has no log.jsonl yet.', 'empty'));
  else lossesRoot.append(...lossView(log.value.log));

  samplesRoot.replaceChildren();
  if (samples.status === 'rejected')
    samplesRoot.append(para(`could not list the sample grids: ${(samples.reason as Error).message}`, 'error'));
  else if (samples.value.samples.length === 0) samplesRoot.append(para('No sample grids yet.', 'empty'));
  else {
    for (const name of samples.value.samples) {
      const fig = document.createElement('figure');
      const img = document.createElement('img');
      img.loading = 'lazy';
      img.src = api.sampleUrl(name);
      img.alt = name;
      const cap = document.createElement('figcaption');
      cap.textContent = name.replace(/^step-0*(\d+)\.png$/, 'step $1');
      fig.append(img, cap);
      samplesRoot.append(fig);
    }
  }
}

function para(text: string, cls: string): HTMLElement {
  const p = document.createElement('p');
  p.className = cls;
  p.textContent = text;
  return p;
}

/** Numbers (nested objects flattened to dotted names) in a table; anything else as JSON. */
function metricsTable(m: unknown): HTMLElement {
  const rows: [string, string][] = [];
  const walk = (v: unknown, name: string) => {
    if (v !== null && typeof v === 'object' && !Array.isArray(v))
      for (const [k, w] of Object.entries(v)) walk(w, name ? `${name}.${k}` : k);
    else rows.push([name, typeof v === 'number' ? fmt(v) : JSON.stringify(v)]);
  };
  walk(m, '');
  const table = document.createElement('table');
  for (const [k, v] of rows.slice(0, 500)) {
    const tr = table.insertRow();
    tr.insertCell().textContent = k;
    tr.insertCell().textContent = v;
  }
  return table;
}

function lossView(log: LogSummary): HTMLElement[] {
  const head = para(
    `${log.lastStep} steps logged (${log.entries} entries, ${log.skipped} skipped), ${fmt(log.seconds)} s of training; stages: ${log.stages.join(', ')}`,
    'summary',
  );
  const table = document.createElement('table');
  const h = table.createTHead().insertRow();
  for (const t of ['loss', 'first', 'last', 'min', 'mean of last 10%', 'curve']) h.insertCell().textContent = t;
  const body = table.createTBody();
  for (const [name, s] of Object.entries(log.losses)) {
    const tr = body.insertRow();
    tr.insertCell().textContent = name;
    for (const v of [s.first, s.last, s.min, s.recentMean]) tr.insertCell().textContent = fmt(v);
    tr.insertCell().append(curve(s));
  }
  return [head, table];
}

function curve(s: LossSummary): SVGElement {
  const W = 220;
  const H = 40;
  const ns = 'http://www.w3.org/2000/svg';
  const svg = document.createElementNS(ns, 'svg');
  svg.setAttribute('viewBox', `0 0 ${W} ${H}`);
  svg.setAttribute('width', String(W));
  svg.setAttribute('height', String(H));
  svg.classList.add('curve');
  const pts = s.curve;
  if (pts.length < 2) return svg;
  const x0 = pts[0]![0];
  const x1 = pts[pts.length - 1]![0];
  const ys = pts.map((p) => p[1]);
  const lo = Math.min(...ys);
  const hi = Math.max(...ys);
  const line = document.createElementNS(ns, 'polyline');
  line.setAttribute(
    'points',
    pts
      .map(
        ([x, y]) =>
          `${(((x - x0) / Math.max(1, x1 - x0)) * (W - 2) + 1).toFixed(1)},${(H - 1 - ((y - lo) / Math.max(1e-12, hi - lo)) * (H - 2)).toFixed(1)}`,
      )
      .join(' '),
  );
  svg.append(line);
  return svg;
}

function fmt(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  if (Number.isInteger(v)) return String(v);
  return Math.abs(v) >= 100 ? v.toFixed(1) : v.toPrecision(4);
}
