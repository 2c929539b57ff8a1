// dermosynth demo in its tiny test configuration: every stage runs, the report has every section
// and every file it links exists; a demo stopped after training continues without retraining; a
// demo folder made with other options is refused; the command line runs it.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runDemo } from '../../src/cli/demo_command.js';
import { readDemoState, STAGES, type DemoRequest, type DemoResult, type TrainPlan } from '../../src/pipeline/index.js';
import type { ExperimentResults } from '../../src/eval/augment_experiment.js';
import type { Metrics } from '../../src/eval/evaluate.js';
import type { Command } from 'commander';
import { buildProgram } from '../../src/cli/program.js';
import { commandLine } from '../../src/cli/command_line.js';
import { experimentCommand } from '../../src/cli/experiment_command.js';

const root = path.resolve(import.meta.dirname, '../..');
const bin = path.join(root, 'bin/dermosynth.mjs');
let work = '';

const request = (out: string, o: Partial<DemoRequest> = {}): DemoRequest => ({
  data: null,
  out: path.join(work, out),
  minutes: 10,
  lesions: null,
  width: 64,
  height: 64,
  tiny: true,
  ...o,
});

/** A command line split as a POSIX shell splits it (plain words and single-quoted strings). */
function shellWords(line: string): string[] {
  const words: string[] = [];
  for (const m of line.trim().matchAll(/(?:[^\s']+|'[^']*')+/g)) words.push(m[0].replace(/'([^']*)'/g, '$1'));
  return words;
}

/** Steps in the training log, in order. */
function loggedSteps(run: string): number[] {
  return readFileSync(path.join(run, 'log.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => (JSON.parse(l) as { step: number }).step);
}

const SECTIONS = [
  'Plan and wall time',
  'Label | real | generated, per diagnosis',
  'Synthetic lesions (the class-balanced set)',
  'Training',
  'Metrics',
  'Augmentation: real only vs real + synthetic',
  'Reproduce at full size on a GPU',
];

beforeAll(() => {
  work = mkdtempSync(path.join(os.tmpdir(), 'dermosynth-demo-'));
});

afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('dermosynth demo (tiny)', () => {
  let stopped: DemoResult;
  let done: DemoResult;
  const out = () => path.join(work, 'a');

  it('stopped after training, it continues without retraining and finishes', async () => {
    const said: string[] = [];
    const ui = { say: (m: string) => said.push(m), progress: () => ({ update() {}, stop() {} }) };
    stopped = await runDemo(request('a'), { ui, stopAfter: 'train' });
    expect(stopped.finished).toBe(false);
    const afterTrain = await readDemoState(out());
    expect(afterTrain!.stages.data!.done && afterTrain!.stages.train!.done).toBe(true);
    expect(afterTrain!.stages.synthesize).toBeUndefined();
    const plan = afterTrain!.stages.train!.detail.plan as TrainPlan;
    expect(plan.steps).toBe(8);
    const run = path.join(out(), 'run');
    expect(loggedSteps(run)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    const generator = path.join(run, 'generator.safetensors');
    const mtime = statSync(generator).mtimeMs;
    expect(said.join('\n')).toMatch(/plan for 10 minute/);

    said.length = 0;
    done = await runDemo(request('a'), { ui });
    expect(done.finished).toBe(true);
    expect(said.join('\n')).toMatch(/\[1\/6\] data: done already/);
    expect(said.join('\n')).toMatch(/\[2\/6\] train: done already/);
    // Training was not redone: the same log, the same weights file.
    expect(loggedSteps(run)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(statSync(generator).mtimeMs).toBe(mtime);
    const s = await readDemoState(out());
    for (const st of STAGES) expect(s!.stages[st]!.done, st).toBe(true);
    expect(s!.stages.train!.sessions).toBe(1);
    expect(s!.stages.synthesize!.sessions).toBe(1);
  });

  it('each stage made its outputs', () => {
    const o = out();
    // The sample data, 30 lesions, and the cache's stratified split.
    expect(
      readFileSync(path.join(o, 'data', 'labels.csv'), 'utf8')
        .trim()
        .split('\n'),
    ).toHaveLength(31);
    const counts = done.state.stages.data!.detail.counts as Record<string, Record<string, number>>;
    expect(counts).toEqual({
      train: { nevus: 6, melanoma: 6, seborrheic_keratosis: 6 },
      val: { nevus: 2, melanoma: 2, seborrheic_keratosis: 2 },
      test: { nevus: 2, melanoma: 2, seborrheic_keratosis: 2 },
    });
    // Balanced sample classes are each doubled: 6 synthetic lesions per class.
    expect(done.state.stages.synthesize!.detail.counts).toEqual({ nevus: 6, melanoma: 6, seborrheic_keratosis: 6 });
    const ids = readdirSync(path.join(o, 'synthetic', 'images'));
    expect(ids).toHaveLength(18);
    expect(ids.every((f) => /^SYN_\d{7}\.jpg$/.test(f))).toBe(true);
    const metrics = JSON.parse(readFileSync(path.join(o, 'run', 'metrics.json'), 'utf8')) as Metrics;
    expect(Number.isFinite(metrics.metrics.ssim.mean)).toBe(true);
    expect(metrics.metrics.domainFid).not.toBeNull();
    expect(metrics.metrics.dice).not.toBeNull();
    const results = JSON.parse(readFileSync(path.join(o, 'experiment', 'results.json'), 'utf8')) as ExperimentResults;
    expect(results.models.map((m) => m.model)).toEqual(['resnet18']);
    expect(results.data.testSets.map((t) => [t.key, t.split])).toEqual([['in-distribution', 'test']]);
    expect(results.models[0]!.trainLesions['real+synthetic']).toBe(36);
    // Finished classifiers keep their weights and predictions, not their checkpoints.
    for (const arm of ['real', 'real+synthetic']) {
      const dir = path.join(o, 'experiment', 'runs', 'resnet18', 'seed-0', arm);
      expect(
        existsSync(path.join(dir, 'model.safetensors')) &&
          existsSync(path.join(dir, 'predictions-in-distribution.json')),
      ).toBe(true);
      expect(existsSync(path.join(dir, 'checkpoints')), arm).toBe(false);
    }
    const nets = path.join(o, 'run', 'eval', 'networks');
    const classifier = readdirSync(nets).find((d) => d.startsWith('classifier-'))!;
    expect(existsSync(path.join(nets, classifier, 'model.safetensors'))).toBe(true);
    expect(existsSync(path.join(nets, classifier, 'checkpoints'))).toBe(false);
  });

  it('the report has every section, in Markdown and HTML, and every file it links exists', () => {
    const o = out();
    const md = readFileSync(path.join(o, 'report.md'), 'utf8');
    const html = readFileSync(path.join(o, 'report.html'), 'utf8');
    for (const s of SECTIONS) {
      expect(md, s).toContain(`## ${s}`);
      expect(html, s).toContain(`<h2>${s}</h2>`);
    }
    const srcs = [...html.matchAll(/<img src="([^"]+)"/g)].map((m) => m[1]!);
    const mdSrcs = [...md.matchAll(/!\[[^\]]*\]\(([^)]+)\)/g)].map((m) => m[1]!);
    expect(mdSrcs).toEqual(srcs);
    for (const src of srcs) {
      expect(path.isAbsolute(src), src).toBe(false);
      expect(existsSync(path.join(o, src)), src).toBe(true);
    }
    // Grids per diagnosis, synthetic figures, loss curves, the last sample grid, class-consistency
    // ROC curves, the experiment's ROC curves.
    for (const c of ['nevus', 'melanoma', 'seborrheic_keratosis']) {
      expect(srcs).toContain(`run/eval/grid-${c}.png`);
      expect(srcs).toContain(`figures/synthetic-${c}.png`);
    }
    expect(srcs).toEqual(
      expect.arrayContaining([
        'run/eval/losses-G.png',
        'run/eval/losses-D.png',
        'run/samples/step-00000008.png',
        'experiment/roc/resnet18-in-distribution-melanoma.png',
        'experiment/roc/resnet18-in-distribution-seborrheic_keratosis.png',
      ]),
    );
    // The metric table and the experiment's AUC table.
    expect(md).toMatch(/\| model \| domain-FID ↓ \|.*SSIM ↑/);
    expect(md).toMatch(/\| real only \| 18 \|/);
    expect(md).toMatch(/\| real \+ synthetic \| 36 \|/);
    // The wall time of every stage and the commands.
    expect(md).toMatch(/\| train \| 8 steps of batch 1/);
    expect(md).toContain(
      'npx dermosynth train --data data/isic2017 --size 512x512 --model proposed --preset published',
    );
    expect(md).toContain('--models resnet18,resnet50,densenet121,efficientnet_b0 --seeds 3');
    expect(md).toContain('--inception-weights');
    expect(md).toMatch(/npx dermosynth train --data \S+ --size 32x32 --steps 8 /);
  });

  it("every command the report prints is accepted by the CLI's own parser", async () => {
    const md = readFileSync(path.join(out(), 'report.md'), 'utf8');
    const lines = [...md.matchAll(/npx dermosynth (.*)$/gm)].map((m) => m[1]!);
    expect(lines.length).toBeGreaterThanOrEqual(10);
    const seen = new Set<string>();
    for (const line of lines) {
      const words = shellWords(line);
      seen.add(words.slice(0, 2).join(' '));
      const ran: string[] = [];
      const errors: string[] = [];
      const program = buildProgram();
      const quiet = (c: Command): void => {
        c.exitOverride().configureOutput({ writeOut: () => {}, writeErr: (t) => errors.push(t) });
        if (c.commands.length === 0) c.action(() => void ran.push(c.name()));
        c.commands.forEach(quiet);
      };
      quiet(program);
      await expect(program.parseAsync(words, { from: 'user' }), `${line}\n${errors.join('')}`).resolves.toBeDefined();
      expect(ran, line).toHaveLength(1);
    }
    // Every stage's command is among them.
    expect([...seen]).toEqual(
      expect.arrayContaining([
        'data download',
        'data sample',
        'train --data',
        'synthesize --run',
        'evaluate --run',
        'experiment augment',
      ]),
    );
  });

  it('the parser behind that check refuses a stale flag', async () => {
    const program = buildProgram();
    const quiet = (c: Command): void => {
      c.exitOverride().configureOutput({ writeOut: () => {}, writeErr: () => {} });
      if (c.commands.length === 0) c.action(() => {});
      c.commands.forEach(quiet);
    };
    quiet(program);
    await expect(program.parseAsync(shellWords('train --out x --no-such-flag 1'), { from: 'user' })).rejects.toThrow(
      /unknown option '--no-such-flag'/,
    );
    expect(() => commandLine(experimentCommand(), ['augment'], { device: 'cuda' })).toThrow(
      /'experiment augment' has no option for 'device'/,
    );
  });

  it('stopped in the middle of training (SIGINT), it continues from the checkpoint, the steps done kept', async () => {
    const said: string[] = [];
    const ui = { say: (m: string) => said.push(m), progress: () => ({ update() {}, stop() {} }) };
    // Polled after each step: steps 1 to 3 while measuring, then 4 and 5.
    let polls = 0;
    const r = await runDemo(request('b'), { ui, shouldStop: () => ++polls >= 5 });
    expect(r.finished).toBe(false);
    expect(r.state.stages.train!.done).toBe(false);
    expect(r.state.stages.train!.detail.steps).toBe(5);
    const run = path.join(work, 'b', 'run');
    expect(loggedSteps(run)).toEqual([1, 2, 3, 4, 5]);
    expect(existsSync(path.join(run, 'generator.safetensors'))).toBe(false);
    said.length = 0;
    const again = await runDemo(request('b'), { ui, stopAfter: 'train' });
    expect(said.join('\n')).toMatch(/resuming the training at step 5 of 8/);
    expect(again.state.stages.train!.done).toBe(true);
    expect(again.state.stages.train!.sessions).toBe(2);
    expect(loggedSteps(run)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(existsSync(path.join(run, 'generator.safetensors'))).toBe(true);
  });

  it('a demo folder made with other options is refused, and so is a folder that is something else', async () => {
    await expect(runDemo(request('a', { minutes: 5 }))).rejects.toThrow(/other options \(minutes: demo 10, given 5\)/);
    await expect(runDemo(request('a', { tiny: false }))).rejects.toThrow(/tiny: demo true, given false/);
    await expect(runDemo({ ...request('x'), out: path.join(out(), 'data') })).rejects.toThrow(/not a demo folder/);
    await expect(runDemo(request('y', { data: path.join(work, 'nowhere') }))).rejects.toThrow(
      /nowhere: no such folder/,
    );
  });
});

describe('dermosynth demo on the command line', () => {
  it('runs to the end and says where the report is; a bad --minutes names the flag', () => {
    const env = { ...process.env, DERMOSYNTH_NO_BAR: '1' };
    let r = spawnSync(process.execPath, [bin, 'demo', '--minutes', '0'], { cwd: root, encoding: 'utf8', env });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/--minutes/);
    const o = path.join(work, 'cli');
    r = spawnSync(process.execPath, [bin, 'demo', '--tiny', '--out', o], {
      cwd: root,
      encoding: 'utf8',
      env,
      timeout: 240_000,
    });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/\[6\/6\] report/);
    expect(r.stdout).toMatch(/demo done in .* Open .*report\.html/);
    expect(existsSync(path.join(o, 'report.html'))).toBe(true);
  }, 240_000);
});
