// A run's report: RUN/report.html and RUN/report.md from RUN/metrics.json, the training log (loss
// curves) and the grids and charts evaluate wrote. Also the metric table shared with compare.ts.
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { writeFileAtomic } from '../util/atomic_file.js';
import { classAbbreviation } from '../data/diagnosis.js';
import { runPaths } from '../run/layout.js';
import { TrainLog, type LogEntry } from '../run/log.js';
import { METRICS_FILE, METRICS_VERSION, type MeanStd, type Metrics } from './evaluate.js';
import { plotLines, type LineSeries } from './plot.js';
import { toHtml, toMarkdown, type Block } from './report_document.js';

/** One column of the metric tables: how to read it from metrics.json and which way is better. */
export interface MetricColumn {
  name: string;
  better: 'higher' | 'lower';
  value(m: Metrics['metrics']): number | null;
  format(m: Metrics['metrics']): string;
  /** What it measures, for the report. */
  about: string;
}

const f = (x: number, d = 3) => (Number.isFinite(x) ? x.toFixed(d) : x > 0 ? 'inf' : '-inf');
const pm = (v: MeanStd | null, d = 3) => (v ? `${f(v.mean, d)} ± ${f(v.std, d)}` : 'n/a');

function meanStdColumn(
  name: string,
  better: MetricColumn['better'],
  get: (m: Metrics['metrics']) => MeanStd | null,
  about: string,
  digits = 3,
): MetricColumn {
  return { name, better, value: (m) => get(m)?.mean ?? null, format: (m) => pm(get(m), digits), about };
}

function classAucColumn(cls: string): MetricColumn {
  return {
    name: `${classAbbreviation(cls)} AUC`,
    better: 'higher',
    value: (m) => m.classAuc?.[cls]?.generated ?? null,
    format: (m) => {
      const a = m.classAuc?.[cls];
      return a && a.generated !== null ? `${f(a.generated)} (real ${a.real === null ? 'n/a' : f(a.real)})` : 'n/a';
    },
    about: `a classifier trained on real images: ${classAbbreviation(cls)} vs rest on generated images labelled with their conditioned diagnosis (in brackets: on the real images)`,
  };
}

/** The columns, in the paper's order; columns every given run lacks are left out by the callers. */
export function metricColumns(classes: readonly string[]): MetricColumn[] {
  return [
    {
      name: 'FID',
      better: 'lower',
      value: (m) => m.fid,
      format: (m) => (m.fid === null ? 'n/a' : f(m.fid, 2)),
      about: 'Fréchet Inception distance to the real images (pytorch-fid Inception)',
    },
    meanStdColumn('KID', 'lower', (m) => m.kid, 'kernel Inception distance (unbiased; mean ± std over subsets)', 4),
    meanStdColumn('IS', 'higher', (m) => m.is, 'Inception score of the generated images', 2),
    {
      name: 'domain-FID',
      better: 'lower',
      value: (m) => m.domainFid,
      format: (m) => (m.domainFid === null ? 'n/a' : f(m.domainFid, 2)),
      about:
        'Fréchet distance on the features of a lesion classifier trained on the real training split (not comparable with FID)',
    },
    meanStdColumn('domain-KID', 'lower', (m) => m.domainKid, 'KID on those features', 4),
    meanStdColumn('SSIM', 'higher', (m) => m.ssim, 'structural similarity to the real image of the same label map'),
    meanStdColumn('MS-SSIM', 'higher', (m) => m.msSsim, 'multi-scale SSIM'),
    {
      name: 'PSNR (dB)',
      better: 'higher',
      value: (m) => (m.psnr.identical > 0 ? Infinity : m.psnr.mean),
      format: (m) => (m.psnr.identical > 0 ? `inf (${m.psnr.identical} identical)` : pm(m.psnr, 2)),
      about: 'peak signal-to-noise ratio against the real image (inf: identical images)',
    },
    meanStdColumn('LPIPS', 'lower', (m) => m.lpips, 'learned perceptual distance to the real image'),
    {
      name: 'Dice',
      better: 'higher',
      value: (m) => m.dice?.generated ?? null,
      format: (m) => (m.dice ? `${f(m.dice.generated)} (real ${f(m.dice.real)})` : 'n/a'),
      about:
        'a segmenter trained on real images, on the generated images against the input masks (in brackets: on the real images, the ceiling)',
    },
    {
      name: 'IoU',
      better: 'higher',
      value: (m) => m.iou?.generated ?? null,
      format: (m) => (m.iou ? `${f(m.iou.generated)} (real ${f(m.iou.real)})` : 'n/a'),
      about: 'the same as intersection over union',
    },
    {
      name: 'checkerboard',
      better: 'lower',
      value: (m) => m.checkerboard?.generated.mean ?? null,
      format: (m) =>
        m.checkerboard ? `${f(m.checkerboard.generated.mean, 4)} (real ${f(m.checkerboard.real.mean, 4)})` : 'n/a',
      about:
        "checkerboard energy: the share of each image's variance that is a 2x2-periodic pattern, the mark of transposed convolutions (in brackets: the real images)",
    },
    ...classes.filter((c, k) => !(k === 0 && classes.length === 3)).map(classAucColumn),
  ];
}

export async function readMetrics(runDir: string): Promise<Metrics> {
  const file = path.join(runDir, METRICS_FILE);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch {
    throw new RangeError(`${runDir}: no ${METRICS_FILE}; run 'dermosynth evaluate --run ${runDir}' first`);
  }
  const m = JSON.parse(text) as Metrics;
  if (m.format !== 'dermosynth-metrics' || m.version !== METRICS_VERSION)
    throw new RangeError(`${file}: not dermosynth metrics of version ${METRICS_VERSION}`);
  return m;
}

/** Loss curves of a run's log: a moving average, at most ~400 points per series. */
export function lossSeries(entries: readonly LogEntry[], names: readonly string[]): LineSeries[] {
  const used = entries.filter((e) => !e.skipped);
  const window = Math.max(1, Math.floor(used.length / 100));
  const every = Math.max(1, Math.floor(used.length / 400));
  return names.map((name) => {
    const points: { x: number; y: number }[] = [];
    let sum = 0;
    const values = used.map((e) => e.losses[name] ?? NaN);
    for (let i = 0; i < used.length; i++) {
      sum += values[i]!;
      if (i >= window) sum -= values[i - window]!;
      if ((i + 1) % every === 0 || i === used.length - 1)
        points.push({ x: used[i]!.step, y: sum / Math.min(i + 1, window) });
    }
    return { name, points };
  });
}

/** Writes the loss charts of a run (eval/losses-G.png, eval/losses-D.png); returns their paths relative to the run. */
async function lossCharts(runDir: string): Promise<string[]> {
  const log = runPaths(runDir).log;
  if (!existsSync(log)) return [];
  const entries = await TrainLog.read(log);
  if (entries.length === 0) return [];
  const all = [...new Set(entries.flatMap((e) => Object.keys(e.losses)))].filter((k) =>
    entries.some((e) => (e.losses[k] ?? 0) !== 0),
  );
  const out: string[] = [];
  for (const [side, keys] of [
    ['G', all.filter((k) => k.startsWith('G'))],
    ['D', all.filter((k) => k.startsWith('D'))],
  ] as const) {
    if (keys.length === 0) continue;
    const rel = path.join('eval', `losses-${side}`);
    await plotLines(lossSeries(entries, keys), path.join(runDir, rel), {
      title: side === 'G' ? 'generator losses (moving average)' : 'discriminator losses (moving average)',
      xTitle: 'step',
      yTitle: 'loss',
    });
    out.push(`${rel}.png`);
  }
  return out;
}

export function metricTableBlock(
  runs: readonly { label: string; metrics: Metrics['metrics'] }[],
  classes: readonly string[],
  boldBest: boolean,
): Block {
  const cols = metricColumns(classes).filter((c) => runs.some((r) => c.value(r.metrics) !== null));
  const best = cols.map((c) => {
    const v = runs.map((r) => c.value(r.metrics)).filter((x): x is number => x !== null && !Number.isNaN(x));
    return v.length === 0 ? null : c.better === 'higher' ? Math.max(...v) : Math.min(...v);
  });
  return {
    kind: 'table',
    header: ['model', ...cols.map((c) => `${c.name} ${c.better === 'higher' ? '↑' : '↓'}`)],
    rows: runs.map((r) => [
      r.label,
      ...cols.map((c, i) => ({
        text: c.format(r.metrics),
        bold: boldBest && runs.length > 1 && best[i] !== null && c.value(r.metrics) === best[i],
      })),
    ]),
  };
}

export async function writeRunReport(runDir: string, m: Metrics): Promise<{ html: string; markdown: string }> {
  const classes = Object.keys(m.files.grids).length > 0 ? Object.keys(m.files.grids) : Object.keys(m.data.perClass);
  const losses = await lossCharts(runDir);
  const cols = metricColumns(classes).filter((c) => c.value(m.metrics) !== null);
  const blocks: Block[] = [
    { kind: 'heading', level: 1, text: `Evaluation of ${path.basename(path.resolve(runDir))} (${m.model})` },
    {
      kind: 'paragraph',
      text:
        `Generator weights \`${path.relative(runDir, m.weights.file) || m.weights.file}\`${m.weights.step !== null ? ` (step ${m.weights.step})` : ''}, sha256 ${m.weights.sha256.slice(0, 16)}; ` +
        `${m.size[0]}x${m.size[1]}${(m.precision ?? 'fp32') !== 'fp32' ? `, generated under ${m.precision} autocast` : ''}; ${m.data.lesions} real lesions of the ${m.data.split} split (${Object.entries(
          m.data.perClass,
        )
          .map(([c, n]) => `${classAbbreviation(c)} ${n}`)
          .join(', ')}), each generated from its own label map. Evaluated ${m.created}.`,
    },
    { kind: 'heading', level: 2, text: 'Metrics' },
    metricTableBlock([{ label: m.model, metrics: m.metrics }], classes, false),
    { kind: 'list', items: cols.map((c) => `**${c.name}** (${c.better} is better): ${c.about}`) },
    { kind: 'heading', level: 2, text: 'Label | real | generated' },
    ...Object.entries(m.files.grids).map(([c, src]): Block => ({
      kind: 'image',
      src,
      alt: `${c}: label map | real image | generated image`,
    })),
  ];
  const lowest = m.files.lowestSsim;
  if (lowest && lowest.lesions.length > 0)
    blocks.push(
      { kind: 'heading', level: 2, text: 'Lowest SSIM' },
      {
        kind: 'paragraph',
        text:
          `The ${lowest.lesions.length} lesions whose generated image is least like the real one, lowest SSIM first (where to look for failure cases): ` +
          `${lowest.lesions.map((l) => `${l.id} (${classAbbreviation(l.diagnosis)}, ${l.ssim.toFixed(3)})`).join(', ')}.`,
      },
      { kind: 'image', src: lowest.grid, alt: 'lowest SSIM: label map | real image | generated image' },
    );
  if (losses.length > 0)
    blocks.push(
      { kind: 'heading', level: 2, text: 'Training losses' },
      ...losses.map((src): Block => ({ kind: 'image', src, alt: path.basename(src, '.png'), width: 560 })),
    );
  if (Object.keys(m.files.roc).length > 0) {
    blocks.push(
      { kind: 'heading', level: 2, text: 'Class consistency' },
      {
        kind: 'paragraph',
        text: 'ROC curves of a classifier trained on real images, on the generated images (labelled with the diagnosis they were conditioned on) and on the real ones.',
      },
      ...Object.entries(m.files.roc).map(([c, src]): Block => ({
        kind: 'image',
        src,
        alt: `${classAbbreviation(c)} vs rest`,
        width: 420,
      })),
    );
  }
  if (Object.keys(m.networks).length > 0) {
    blocks.push(
      { kind: 'heading', level: 2, text: 'Networks used' },
      {
        kind: 'list',
        items: Object.entries(m.networks).map(
          ([k, n]) => `${k}: ${n.description} (\`${n.file}\`, sha256 ${n.sha256.slice(0, 16)})`,
        ),
      },
    );
  }
  if (m.notes.length > 0) blocks.push({ kind: 'heading', level: 2, text: 'Notes' }, { kind: 'list', items: m.notes });
  const html = path.join(runDir, 'report.html');
  const markdown = path.join(runDir, 'report.md');
  const enc = (s: string) => new TextEncoder().encode(s);
  await writeFileAtomic(markdown, enc(toMarkdown(blocks)));
  await writeFileAtomic(html, enc(toHtml(`dermosynth: ${path.basename(path.resolve(runDir))}`, blocks)));
  return { html, markdown };
}
