// npm run bench:quality [-- --size 64 --models proposed,pix2pixhd,pix2pix,spade --seeds 0,1,2 --steps 3000
//                          --long-steps 12000 --long-seeds 0 --eval-every 1500 --upsample deconv --g-ema 0.999
//                          --jobs 2 --threads N --dir .bench-cache/quality-64-deconv --aux-epochs 30]
//
// The honest comparison of the four generators for the same training budgets, on the real ISIC-2017
// images (../shared/data/isic2017-512, official split: 1,800 train, 121 val lesions):
//  1. prepares the cache once at --size (reused from DIR/cache next time);
//  2. trains every model with its 'cpu' preset, batch 1, no VGG loss and otherwise the training
//     defaults, through the CLI (`dermosynth train`), for --steps with each of --seeds and for
//     --long-steps with each of --long-seeds, --jobs processes at a time with cores/jobs threads
//     each (--threads sets it, e.g. 1 to leave a core to other work); a checkpoint every
//     --eval-every steps; --g-ema gives every model the same moving average of its generator's
//     weights (train --g-ema), which is then what is evaluated;
//  3. evaluates every checkpoint and every final generator on the val split (`dermosynth evaluate`,
//     the auxiliary networks trained once into DIR/aux until their real-val scores stop improving);
//  4. writes DIR/quality.md (tables of the means and spreads over seeds at each budget, with the
//     real images' ceilings, and where the proposed generator does not win), DIR/quality.json and
//     one curve per metric against steps in DIR/curves/.
// Everything is resumable: run it again and finished trainings and evaluations are reused,
// unfinished trainings resume from their last checkpoint. Each budget is a run of its own: the
// learning rate decays to zero over the budget, so the 12,000-step run's checkpoint at step 3,000 is
// not a 3,000-step run (the curves show both).
import { spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { pool } from '../src/data/pool.js';
import { classAbbreviation } from '../src/data/diagnosis.js';
import type { Metrics } from '../src/eval/evaluate.js';
import { plotLines } from '../src/eval/plot.js';
import { metricColumns, type MetricColumn } from '../src/eval/run_report.js';
import { checkModelName } from '../src/models/registry.js';

const { values: args } = parseArgs({
  options: {
    size: { type: 'string', default: '64' },
    models: { type: 'string', default: 'proposed,pix2pixhd,pix2pix,spade' },
    seeds: { type: 'string', default: '0,1,2' },
    steps: { type: 'string', default: '3000' },
    'long-steps': { type: 'string', default: '12000' },
    'long-seeds': { type: 'string', default: '0' },
    'eval-every': { type: 'string', default: '1500' },
    upsample: { type: 'string' },
    'g-ema': { type: 'string' },
    jobs: { type: 'string', default: '2' },
    threads: { type: 'string' },
    dir: { type: 'string' },
    'aux-epochs': { type: 'string', default: '30' },
    'dry-run': { type: 'boolean', default: false },
  },
  strict: true,
});

function fail(message: string): never {
  console.error(`bench:quality: ${message}`);
  process.exit(2);
}
function int(name: keyof typeof args, min: number): number {
  const v = Number(args[name]);
  if (!Number.isInteger(v) || v < min) fail(`--${name} must be an integer >= ${min}, got ${String(args[name])}`);
  return v;
}
function intList(name: keyof typeof args, min: number): number[] {
  const text = String(args[name]).trim();
  if (text === '') return [];
  const v = text.split(',').map((s) => Number(s.trim()));
  if (v.some((n) => !Number.isInteger(n) || n < min))
    fail(`--${name}: expected comma-separated integers >= ${min}, got ${text}`);
  return v;
}

const size = int('size', 16);
const steps = int('steps', 1);
const longSteps = int('long-steps', 0);
const evalEvery = int('eval-every', 1);
const jobs = int('jobs', 1);
const auxEpochs = int('aux-epochs', 1);
const seeds = intList('seeds', 0);
const longSeeds = longSteps > 0 ? intList('long-seeds', 0) : [];
const upsample = args.upsample ?? null;
if (upsample !== null && upsample !== 'deconv' && upsample !== 'resize')
  fail(`--upsample must be deconv or resize, got ${upsample}`);
const models = args.models
  .split(',')
  .map((m) => m.trim())
  .filter((m) => m.length > 0);
if (models.length === 0) fail('--models lists no model');
for (const m of models) {
  try {
    checkModelName(m);
  } catch (e) {
    fail((e as Error).message);
  }
}
if (seeds.length === 0 && longSeeds.length === 0) fail('no runs: --seeds and --long-seeds are both empty');

const repo = path.resolve(import.meta.dirname, '..');
const root = path.resolve(repo, '../shared/data/isic2017-512');
if (!existsSync(root)) {
  console.log(`bench:quality: ${root} is missing; this benchmark needs the shared ISIC-2017 data`);
  process.exit(0);
}
const gEma = args['g-ema'] === undefined ? null : Number(args['g-ema']);
if (gEma !== null && !(gEma > 0 && gEma < 1)) fail(`--g-ema must be a decay in (0, 1), got ${args['g-ema']}`);
const dir = path.resolve(
  args.dir ??
    path.join(repo, '.bench-cache', `quality-${size}-${upsample ?? 'default'}${gEma !== null ? `-ema${gEma}` : ''}`),
);
/** How the generators are trained, in words (the console header and quality.md). */
const setting = `'cpu' presets, batch 1, no VGG loss, upsampling ${upsample ?? "each model's default"}, ${gEma !== null ? `the generators' weight averages (--g-ema ${gEma}) evaluated` : 'the trained weights evaluated (no --g-ema)'}`;
const cacheDir = path.join(dir, 'cache');
const auxDir = path.join(dir, 'aux');
const cli = path.join(repo, 'bin', 'dermosynth.mjs');
const threads =
  args.threads !== undefined ? int('threads', 1) : Math.max(1, Math.floor(os.availableParallelism() / jobs));
const load = () =>
  os
    .loadavg()
    .map((v) => v.toFixed(2))
    .join(' ');

/** The models --upsample applies to (SPADE's generator resizes already). */
const UPSAMPLING_MODELS = new Set(['proposed', 'pix2pixhd', 'pix2pix']);

interface Run {
  name: string;
  model: string;
  seed: number;
  steps: number;
  dir: string;
}
const runs: Run[] = [];
for (const model of models) {
  for (const seed of seeds) runs.push({ name: `${model}-s${seed}-${steps}`, model, seed, steps, dir: '' });
  for (const seed of longSeeds)
    runs.push({ name: `${model}-s${seed}-${longSteps}`, model, seed, steps: longSteps, dir: '' });
}
for (const r of runs) r.dir = path.join(dir, 'runs', r.name);

console.log(
  `bench:quality: ${models.join(', ')} at ${size}x${size}, ${setting}; ` +
    `${steps} steps x seeds ${seeds.join(',') || '-'}${longSeeds.length ? `, ${longSteps} steps x seeds ${longSeeds.join(',')}` : ''}; ` +
    `${jobs} job(s) of ${threads} thread(s) on ${os.availableParallelism()} cores, load average ${load()}\n  -> ${dir}`,
);

/** Runs the CLI with its output appended to `log`; resolves on exit 0, rejects naming the log otherwise. */
function dermosynth(cliArgs: string[], log: string, env: NodeJS.ProcessEnv = {}): Promise<void> {
  if (args['dry-run']) {
    console.log(`  (dry run) dermosynth ${cliArgs.join(' ')}`);
    return Promise.resolve();
  }
  mkdirSync(path.dirname(log), { recursive: true });
  return new Promise((resolve, reject) => {
    const out = openSync(log, 'a');
    const child = spawn(process.execPath, [cli, ...cliArgs], {
      cwd: repo,
      env: { ...process.env, ...env },
      stdio: ['ignore', out, out],
    });
    closeSync(out); // the child holds its own copy
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      if (code === 0) resolve();
      else reject(new Error(`dermosynth ${cliArgs[0]} failed (${signal ?? `exit ${code}`}); see ${log}`));
    });
  });
}

// ---- 1. the cache ---------------------------------------------------------------------------------
if (!existsSync(path.join(cacheDir, 'cache.json'))) {
  console.log(`preparing ${root} at ${size}x${size} -> ${cacheDir}`);
  await dermosynth(
    ['data', 'prepare', root, '--size', `${size}x${size}`, '--out', cacheDir],
    path.join(dir, 'prepare.log'),
  );
}

// ---- 2. training ----------------------------------------------------------------------------------
const t0 = performance.now();
const elapsed = () => `${((performance.now() - t0) / 60_000).toFixed(1)} min`;
// The longest runs first, so the last ones to finish are short and no core idles at the end.
const toTrain = runs
  .filter((r) => !existsSync(path.join(r.dir, 'generator.safetensors')))
  .sort((a, b) => b.steps - a.steps);
console.log(`\ntraining: ${toTrain.length} of ${runs.length} runs to do`);
let trained = 0;
await pool(toTrain, jobs, async (r) => {
  const resume = existsSync(path.join(r.dir, 'config.json'));
  const flags = resume
    ? ['train', '--out', r.dir, '--resume']
    : [
        'train',
        '--out',
        r.dir,
        '--data',
        cacheDir,
        '--model',
        r.model,
        '--preset',
        'cpu',
        '--size',
        `${size}x${size}`,
        '--steps',
        String(r.steps),
        '--seed',
        String(r.seed),
        '--checkpoint-every',
        String(evalEvery),
        '--keep-checkpoints',
        '1000',
        '--sample-every',
        String(evalEvery),
        ...(upsample !== null && UPSAMPLING_MODELS.has(r.model) ? ['--upsample', upsample] : []),
        ...(gEma !== null ? ['--g-ema', String(gEma)] : []),
      ];
  const s0 = performance.now();
  console.log(`  ${resume ? 'resuming' : 'training'} ${r.name} (${elapsed()})`);
  await dermosynth(flags, `${r.dir}.train.log`, { OMP_NUM_THREADS: String(threads) });
  trained++;
  console.log(
    `  done ${r.name}: ${((performance.now() - s0) / 1000).toFixed(0)} s [${trained}/${toTrain.length}] load ${load()}`,
  );
});

// ---- 3. evaluation --------------------------------------------------------------------------------
interface Point {
  run: Run;
  step: number;
  weights: string | null;
  out: string;
}
function checkpointsOf(r: Run): { step: number; file: string }[] {
  const d = path.join(r.dir, 'checkpoints');
  if (!existsSync(d)) return [];
  return readdirSync(d)
    .map((f) => ({ f, m: /^step-(\d+)\.safetensors$/.exec(f) }))
    .filter((x) => x.m !== null)
    .map((x) => ({ step: Number(x.m![1]), file: path.join(d, x.f) }))
    .filter((c) => c.step < r.steps)
    .sort((a, b) => a.step - b.step);
}
const points: Point[] = runs.flatMap((r) => [
  ...checkpointsOf(r).map((c) => ({
    run: r,
    step: c.step,
    weights: c.file,
    out: path.join(r.dir, `eval-step-${c.step}`),
  })),
  { run: r, step: r.steps, weights: null, out: r.dir },
]);
const toEval = points.filter((p) => !existsSync(path.join(p.out, 'metrics.json')));
console.log(`\nevaluating: ${toEval.length} of ${points.length} generators on the val split (${elapsed()})`);
const evalFlags = (p: Point) => [
  'evaluate',
  '--run',
  p.run.dir,
  ...(p.weights ? ['--weights', p.weights, '--out', p.out] : []),
  '--split',
  'val',
  '--aux-dir',
  auxDir,
  '--aux-epochs',
  String(auxEpochs),
];
let evaluated = 0;
const evaluateOne = async (p: Point) => {
  await dermosynth(evalFlags(p), path.join(p.run.dir, `eval-step-${p.step}.log`), { OMP_NUM_THREADS: String(threads) });
  evaluated++;
  if (evaluated % 5 === 0 || evaluated === toEval.length)
    console.log(`  ${evaluated}/${toEval.length} evaluated (${elapsed()})`);
};
// The first evaluation trains the auxiliary networks (all the cores), the rest reuse them.
if (toEval.length > 0) {
  const first = toEval[0]!;
  await dermosynth(evalFlags(first), path.join(first.run.dir, `eval-step-${first.step}.log`));
  evaluated++;
  await pool(toEval.slice(1), jobs, evaluateOne);
}
if (args['dry-run']) process.exit(0);

// ---- 4. tables and curves -------------------------------------------------------------------------
const metricsOf = (p: Point) => JSON.parse(readFileSync(path.join(p.out, 'metrics.json'), 'utf8')) as Metrics;
const finals = points.filter((p) => p.weights === null).map((p) => ({ p, m: metricsOf(p) }));
const anyMetrics = finals[0]!.m;
const classes = Object.keys(anyMetrics.data.perClass);
const columns = metricColumns(classes).filter((c) => finals.some(({ m }) => c.value(m.metrics) !== null));

interface Summary {
  mean: number;
  std: number;
  n: number;
}
function summary(v: number[]): Summary {
  const mean = v.reduce((a, b) => a + b, 0) / v.length;
  const std = v.length > 1 ? Math.sqrt(v.reduce((a, b) => a + (b - mean) ** 2, 0) / (v.length - 1)) : 0;
  return { mean, std, n: v.length };
}
const digits = (c: MetricColumn) => (/KID|checkerboard/.test(c.name) ? 4 : /FID|PSNR/.test(c.name) ? 2 : 3);
const fmt = (c: MetricColumn, s: Summary) =>
  s.n > 1 ? `${s.mean.toFixed(digits(c))} ± ${s.std.toFixed(digits(c))}` : s.mean.toFixed(digits(c));

/** The real images' ceilings of the columns that have one (Dice, checkerboard, class AUCs). */
function ceiling(c: MetricColumn, m: Metrics['metrics']): number | null {
  if (c.name === 'Dice') return m.dice?.real ?? null;
  if (c.name === 'IoU') return m.iou?.real ?? null;
  if (c.name === 'checkerboard') return m.checkerboard?.real.mean ?? null;
  const cls = classes.find((k) => c.name.startsWith(classAbbreviation(k)));
  return cls ? (m.classAuc?.[cls]?.real ?? null) : null;
}

const budgets = [...new Set(runs.map((r) => r.steps))].sort((a, b) => a - b);
const md: string[] = [];
const json: Record<string, unknown> = {
  benchmark: 'quality',
  created: new Date().toISOString(),
  data: root,
  size,
  upsample,
  gEma,
  preset: 'cpu',
  batch: 1,
  vggLoss: false,
  jobs,
  threads,
  cpu: os.cpus()[0]?.model.trim() ?? 'unknown',
  budgets: {} as Record<string, unknown>,
};
md.push(
  `# bench:quality: the four generators for the same budgets`,
  '',
  `ISIC-2017 (\`../shared/data/isic2017-512\`) at ${size}x${size}: trained on the train split, ` +
    `evaluated on the ${anyMetrics.data.lesions} val lesions with \`dermosynth evaluate\` (auxiliary networks trained once on the real train split; ` +
    `their own scores on the real val images are the "real" ceilings below). ${setting}. ` +
    `Means ± sample standard deviations over seeds; ↓ lower is better, ↑ higher is better; the best mean of each column in bold.`,
  '',
);
for (const budget of budgets) {
  const rows = models.map((model) => {
    const ms = finals.filter(({ p }) => p.run.model === model && p.run.steps === budget).map(({ m }) => m.metrics);
    return { model, ms, cells: columns.map((c) => summary(ms.map((m) => c.value(m)!).filter((v) => v !== null))) };
  });
  const present = rows.filter((r) => r.ms.length > 0);
  if (present.length === 0) continue;
  const best = columns.map((c, k) => {
    const vals = present.map((r) => r.cells[k]!.mean);
    return c.better === 'lower' ? Math.min(...vals) : Math.max(...vals);
  });
  const seedsHere = [...new Set(finals.filter(({ p }) => p.run.steps === budget).map(({ p }) => p.run.seed))];
  md.push(`## ${budget.toLocaleString('en-US')} steps (seeds ${seedsHere.join(', ')})`, '');
  md.push(`| model | ${columns.map((c) => `${c.name} ${c.better === 'lower' ? '↓' : '↑'}`).join(' | ')} |`);
  md.push(`|---|${columns.map(() => '---').join('|')}|`);
  for (const r of present) {
    const cells = r.cells.map((s, k) =>
      s.mean === best[k] && present.length > 1 ? `**${fmt(columns[k]!, s)}**` : fmt(columns[k]!, s),
    );
    md.push(`| ${r.model} | ${cells.join(' | ')} |`);
  }
  const ceilings = columns.map((c) => {
    const v = ceiling(c, present[0]!.ms[0]!);
    return v === null ? '' : v.toFixed(digits(c));
  });
  md.push(`| *real images* | ${ceilings.join(' | ')} |`, '');
  const proposed = present.find((r) => r.model === 'proposed');
  if (proposed && present.length > 1) {
    const lost = columns
      .map((c, k) => ({ c, k }))
      .filter(({ k }) => proposed.cells[k]!.mean !== best[k])
      .map(({ c, k }) => {
        const winner = present.find((r) => r.cells[k]!.mean === best[k])!;
        const overlap =
          proposed.cells[k]!.n > 1 && winner.cells[k]!.n > 1
            ? Math.abs(proposed.cells[k]!.mean - winner.cells[k]!.mean) <= proposed.cells[k]!.std + winner.cells[k]!.std
            : null;
        return `${c.name} (${winner.model} ${fmt(c, winner.cells[k]!)} against ${fmt(c, proposed.cells[k]!)}${overlap === true ? ', within one standard deviation of each other' : overlap === false ? ', further apart than their spreads' : ''})`;
      });
    md.push(
      lost.length === 0
        ? `At ${budget.toLocaleString('en-US')} steps the proposed generator has the best mean in every column.`
        : `At ${budget.toLocaleString('en-US')} steps the proposed generator does **not** win on: ${lost.join('; ')}.`,
      '',
    );
  }
  (json.budgets as Record<string, unknown>)[budget] = {
    seeds: seedsHere,
    columns: columns.map((c) => c.name),
    rows: present.map((r) => ({ model: r.model, cells: r.cells })),
    ceilings,
  };
}

// Curves: each metric against steps, one line per model and budget (mean over its seeds).
const curvesDir = path.join(dir, 'curves');
mkdirSync(curvesDir, { recursive: true });
const all = points.map((p) => ({ p, m: metricsOf(p) }));
md.push('## Curves', '');
for (const c of columns) {
  const series = models.flatMap((model) =>
    budgets.map((budget) => {
      const byStep = new Map<number, number[]>();
      for (const { p, m } of all) {
        if (p.run.model !== model || p.run.steps !== budget) continue;
        const v = c.value(m.metrics);
        if (v === null || !Number.isFinite(v)) continue;
        byStep.set(p.step, [...(byStep.get(p.step) ?? []), v]);
      }
      const pts = [...byStep.entries()].sort((a, b) => a[0] - b[0]).map(([x, v]) => ({ x, y: summary(v).mean }));
      return { name: budgets.length > 1 ? `${model} (${budget} steps)` : model, points: pts };
    }),
  );
  const file = c.name.replace(/[^A-Za-z0-9-]+/g, '_');
  await plotLines(
    series.filter((s) => s.points.length > 0),
    path.join(curvesDir, file),
    {
      title: `${c.name} on the val split (${c.better} is better)`,
      xTitle: 'training step',
      yTitle: c.name,
      width: 420,
      height: 260,
      points: true,
      scale: 2,
    },
  );
  md.push(`![${c.name}](curves/${file}.png)`);
}
md.push('');
writeFileSync(path.join(dir, 'quality.md'), md.join('\n') + '\n');
writeFileSync(path.join(dir, 'quality.json'), JSON.stringify(json, null, 2) + '\n');
console.log(`\n${md.filter((l) => !l.startsWith('![')).join('\n')}`);
console.log(`tables: ${path.join(dir, 'quality.md')}, curves: ${curvesDir} (${elapsed()})`);
