// dermosynth evaluate / compare end to end on tiny runs: metrics.json with every metric that can be
// computed without downloaded weights, a report that links files that exist, a comparison table
// with the best values in bold, and a split holding synthetic lesions refused.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, renameSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { evaluate, type EvaluateOptions, type Metrics } from '../../src/eval/evaluate.js';
import { compareRuns, writeComparison } from '../../src/eval/compare.js';
import { lossSeries, writeRunReport } from '../../src/eval/run_report.js';
import { packModel } from '../../src/synth/pack_model.js';
import { TINY, cliEnv, cliRunner } from '../helpers/cli.js';

const env = cliEnv;
const cli = cliRunner({ env, timeoutMs: 240_000 });

let work = '';
let data = '';
const runs: string[] = [];
let metrics: Metrics;

function options(run: string, extra: Partial<EvaluateOptions> = {}): EvaluateOptions {
  return {
    run,
    data: null,
    split: 'val',
    inceptionWeights: null,
    lpips: null,
    device: 'cpu',
    batch: 8,
    maxImages: null,
    auxEpochs: 1,
    auxDir: path.join(work, 'aux'),
    seed: 0,
    gridExamples: 2,
    ...extra,
  };
}

beforeAll(() => {
  work = mkdtempSync(path.join(os.tmpdir(), 'dermosynth-eval-'));
  data = path.join(work, 'data');
  let r = cli('data', 'sample', '--out', data, '--n', '45', '--size', '48');
  expect(r.status, r.stderr).toBe(0);
  for (const [name, steps] of [
    ['a', '1'],
    ['b', '6'],
  ] as const) {
    const run = path.join(work, name);
    r = cli('train', '--out', run, '--data', data, ...TINY, '--steps', steps);
    expect(r.status, r.stderr).toBe(0);
    runs.push(run);
  }
}, 240_000);

afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('evaluate', () => {
  it('writes metrics.json with the paired, domain, semantic and class-consistency metrics', async () => {
    const notes: string[] = [];
    metrics = await evaluate(options(runs[0]!), { onNotice: (n) => notes.push(n) });
    const onDisk = JSON.parse(readFileSync(path.join(runs[0]!, 'metrics.json'), 'utf8')) as Metrics;
    expect(onDisk).toEqual(metrics);
    const m = metrics.metrics;
    expect(metrics.data.split).toBe('val');
    expect(metrics.data.lesions).toBe(Object.values(metrics.data.perClass).reduce((a, b) => a + b, 0));
    expect(metrics.data.lesions).toBeGreaterThan(3);
    for (const v of [m.ssim.mean, m.msSsim.mean]) {
      expect(v).toBeGreaterThan(-1);
      expect(v).toBeLessThan(1);
    }
    expect(m.psnr.mean).toBeGreaterThan(0);
    expect(Number.isFinite(m.psnr.mean)).toBe(true);
    expect(m.l1.mean).toBeGreaterThan(0);
    // Checkerboard energy is a fraction of each image's variance.
    for (const v of [m.checkerboard!.generated, m.checkerboard!.real]) {
      expect(v.mean).toBeGreaterThanOrEqual(0);
      expect(v.mean).toBeLessThanOrEqual(1);
    }
    // An auxiliary network near chance on the real images is named in a warning, and only then.
    const weak = Object.entries(m.classAuc!).filter(([, a]) => a.real !== null && a.real < 0.6);
    expect(notes.some((n) => /auxiliary classifier is near chance/.test(n))).toBe(weak.length > 0);
    expect(notes.some((n) => /auxiliary segmenter reaches Dice/.test(n))).toBe(m.dice!.real < 0.5);
    // No Inception weights: domain metrics, never FID.
    expect(m.fid).toBeNull();
    expect(m.is).toBeNull();
    expect(m.domainFid).toBeGreaterThan(0);
    expect(m.domainKid).not.toBeNull();
    expect(notes.join('\n')).toMatch(/no --inception-weights: .*domain-FID/);
    // Semantic and class consistency, with the real images as the ceiling.
    for (const v of [m.dice!.generated, m.dice!.real, m.iou!.generated, m.iou!.real]) {
      expect(v).toBeGreaterThanOrEqual(0);
      expect(v).toBeLessThanOrEqual(1);
    }
    expect(m.iou!.real).toBeLessThanOrEqual(m.dice!.real + 1e-12); // IoU <= Dice per image
    expect(Object.keys(m.classAuc!)).toEqual(['melanoma', 'seborrheic_keratosis']);
    for (const a of Object.values(m.classAuc!)) {
      expect(a.generated).toBeGreaterThanOrEqual(0);
      expect(a.real).toBeLessThanOrEqual(1);
    }
    for (const f of [...Object.values(metrics.files.grids), ...Object.values(metrics.files.roc)])
      expect(existsSync(path.join(runs[0]!, f)), f).toBe(true);
    expect(Object.keys(metrics.networks)).toEqual(['classifier', 'segmenter']);
    // The lowest-SSIM lesions: the --grid-examples worst, lowest first, with their grid.
    const lowest = metrics.files.lowestSsim!;
    expect(lowest.lesions.length).toBe(Math.min(options(runs[0]!).gridExamples, metrics.data.lesions));
    const values = lowest.lesions.map((l) => l.ssim);
    expect(values).toEqual([...values].sort((a, b) => a - b));
    expect(values[0]).toBeGreaterThanOrEqual(-1);
    expect(values[0]).toBeLessThanOrEqual(metrics.metrics.ssim.mean);
    expect(existsSync(path.join(runs[0]!, lowest.grid))).toBe(true);
  }, 240_000);

  it('reuses the auxiliary networks for another run on the same data, and the report links existing files', async () => {
    const m = await evaluate(options(runs[1]!));
    expect(m.networks.classifier!.sha256).toBe(metrics.networks.classifier!.sha256);
    expect(m.networks.segmenter!.sha256).toBe(metrics.networks.segmenter!.sha256);
    const r = await writeRunReport(runs[1]!, m);
    const md = readFileSync(r.markdown, 'utf8');
    const html = readFileSync(r.html, 'utf8');
    expect(md).toMatch(/\| model \| domain-FID ↓ \|/);
    for (const [, src] of md.matchAll(/!\[[^\]]*\]\(([^)]+)\)/g))
      expect(existsSync(path.join(runs[1]!, src!)), src).toBe(true);
    expect(md).toMatch(/eval\/losses-G\.png/);
    expect(html).toMatch(/<img src="eval\/grid-melanoma\.png"/);
    expect(html).not.toMatch(/<script/);
  }, 240_000);

  it('evaluates one checkpoint of a run with --weights, into RUN/eval-step-N, leaving the run metrics alone; models pack --weights finds them', async () => {
    const run = runs[1]!;
    const checkpoints = readdirSync(path.join(run, 'checkpoints')).filter((f) => f.endsWith('.safetensors'));
    expect(checkpoints.length).toBeGreaterThan(0);
    const ck = path.join(run, 'checkpoints', checkpoints[0]!);
    const before = existsSync(path.join(run, 'metrics.json')) ? readFileSync(path.join(run, 'metrics.json')) : null;
    const common = [
      '--aux-dir',
      path.join(work, 'aux'),
      '--aux-epochs',
      '1',
      '--max-images',
      '4',
      '--grid-examples',
      '1',
    ];
    const r = cli('evaluate', '--run', run, '--weights', ck, ...common);
    expect(r.status, r.stderr).toBe(0);
    const out = path.join(run, `eval-${checkpoints[0]!.replace(/\.safetensors$/, '')}`);
    const m = JSON.parse(readFileSync(path.join(out, 'metrics.json'), 'utf8')) as Metrics;
    expect(m.weights.file).toBe(ck);
    expect(m.weights.step).toBe(Number(/(\d+)/.exec(checkpoints[0]!)![1]));
    expect(m.data.lesions).toBe(4);
    expect(existsSync(path.join(out, 'report.html'))).toBe(true);
    // The run's own evaluation is untouched.
    expect(existsSync(path.join(run, 'metrics.json')) ? readFileSync(path.join(run, 'metrics.json')) : null).toEqual(
      before,
    );
    // Packing that checkpoint takes these metrics (measured on its weights) into the model folder and card.
    const packed = path.join(work, 'packed-checkpoint');
    const notes: string[] = [];
    await packModel({ run, name: 'checkpoint-test', out: packed, weights: ck, examples: 1 }, (n) => notes.push(n));
    expect(notes.filter((n) => /metrics/.test(n))).toEqual([]);
    const shipped = JSON.parse(readFileSync(path.join(packed, 'metrics.json'), 'utf8')) as Metrics;
    expect(shipped.weights.sha256).toBe(m.weights.sha256);
    expect(readFileSync(path.join(packed, 'MODEL_CARD.md'), 'utf8')).not.toMatch(/no metrics/);
    // --out alone, or --weights with a shipped model, is one clear error.
    const bad = cli('evaluate', '--run', run, '--out', path.join(work, 'x'), ...common);
    expect(bad.status).not.toBe(0);
    expect(bad.stderr).toMatch(/--out goes with --pretrained or --weights/);
    const bad2 = cli('evaluate', '--pretrained', 'isic2017-128', '--weights', ck, '--data', data, ...common);
    expect(bad2.status).not.toBe(0);
    expect(bad2.stderr).toMatch(/--weights goes with --run/);
  }, 240_000);

  it('compare puts the runs side by side with the best of each column in bold', async () => {
    const c = await compareRuns(runs);
    expect(c.warnings).toEqual([]);
    const rows = c.markdown.split('\n').filter((l) => l.startsWith('| proposed'));
    expect(rows).toHaveLength(2);
    expect(rows[0]).toMatch(/^\| proposed \(a\) \|/);
    const header = c.markdown
      .split('\n')
      .find((l) => l.startsWith('| model'))!
      .split('|')
      .map((s) => s.trim());
    const ssimCol = header.indexOf('SSIM ↑');
    const cells = rows.map((r) => r.split('|').map((s) => s.trim())[ssimCol]!);
    const values = cells.map((s) => Number(s.replace(/\*/g, '').split(' ')[0]));
    const best = values[0]! >= values[1]! ? 0 : 1;
    expect(cells[best]).toMatch(/^\*\*/);
    expect(cells[1 - best]).not.toMatch(/^\*\*/);
    const w = await writeComparison(runs, path.join(work, 'cmp'));
    expect(readFileSync(w.files.html, 'utf8')).toMatch(/<b>/);
    // A run evaluated on another split is flagged.
    const other = path.join(work, 'c');
    cpSync(runs[1]!, other, { recursive: true });
    await evaluate(options(other, { split: 'test' }));
    expect((await compareRuns([runs[0]!, other])).warnings.join('\n')).toMatch(/different splits/);
  }, 240_000);

  it('refuses a split with synthetic lesions, and explains a run that was never evaluated', async () => {
    const syn = path.join(work, 'with-syn');
    cpSync(data, syn, { recursive: true });
    // Turn one validation lesion into a synthetic one (as if a merge had put it in val).
    const labels = readFileSync(path.join(syn, 'labels.csv'), 'utf8').trim().split('\n');
    const id = labels[1]!.split(',')[0]!;
    renameSync(path.join(syn, 'images', `${id}.jpg`), path.join(syn, 'images', 'SYN_0000001.jpg'));
    renameSync(
      path.join(syn, 'masks', `${id}_segmentation.png`),
      path.join(syn, 'masks', 'SYN_0000001_segmentation.png'),
    );
    writeFileSync(
      path.join(syn, 'labels.csv'),
      [labels[0], labels[1]!.replace(id, 'SYN_0000001'), ...labels.slice(2)].join('\n') + '\n',
    );
    writeFileSync(
      path.join(syn, 'split.csv'),
      ['image_id,split', 'SYN_0000001,val', ...labels.slice(2).map((l) => `${l.split(',')[0]},train`)].join('\n') +
        '\n',
    );
    await expect(evaluate(options(runs[0]!, { data: syn }))).rejects.toThrow(/SYN_0000001.*real lesions only/);
    const r = cli('compare', runs[0]!, data);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/no metrics\.json; run 'dermosynth evaluate --run/);
  }, 240_000);

  it('smooths loss curves with a moving average', () => {
    const entries = Array.from({ length: 400 }, (_, i) => ({
      step: i + 1,
      epoch: 0,
      stage: 'joint',
      lr: 1,
      seconds: 0,
      losses: { G_GAN: i % 2 },
    }));
    const [s] = lossSeries(entries, ['G_GAN']);
    expect(s!.points.length).toBeLessThanOrEqual(401);
    for (const p of s!.points.slice(5)) expect(p.y).toBeCloseTo(0.5, 1);
  });
});
