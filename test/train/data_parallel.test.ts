// Data-parallel training on this machine (CPU, gloo over loopback): two processes give the weights
// of one process with the same global batch; a run resumes with another process count; a killed
// worker ends the run promptly with a message naming it, and no worker is left behind.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { spawn } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as torch from '../../src/torch/index.js';
import { distributedBackends } from '../../src/torch/distributed.js';
import * as nn from '../../src/nn/index.js';
import { buildModels } from '../../src/models/registry.js';
import { TINY, bin, cliEnv, cliRunner, root } from '../helpers/cli.js';

const env = { ...cliEnv, OMP_NUM_THREADS: '1' };
const cli = cliRunner({ env, timeoutMs: 180_000 });

const LR = 2e-4;
const haveGloo = distributedBackends().includes('gloo');
let work = '';
let data = '';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * Conv biases right before an instance norm: the norm subtracts each channel's mean, so their
 * gradient is zero in exact arithmetic, and Adam turns the float noise left in it into steps of
 * up to lr in either direction. Everything else must match to float tolerance: Adam divides by
 * the root of each element's squared-gradient average, so an element whose gradient is nearly
 * zero carries the summation-order noise of the all-reduce into its update; such elements stay
 * far below one step (max < lr/2) and the tensor's mean difference below 1e-6.
 */
function normalisedAwayBiases(): Set<string> {
  const labelChannels = 4; // background + 3 diagnoses (no boundary, no frame)
  const m = buildModels('proposed', labelChannels, { ngf: 8, nDown: 2, nBlocks: 1, ndf: 8, nLayersD: 2 }, 'cpu');
  const out = new Set<string>();
  for (const [prefix, net] of [
    ['G', m.generator],
    ['Gema', m.generator],
    ['D', m.discriminator],
  ] as const) {
    for (const [name, mod] of net.namedModules()) {
      const kids = [...mod.namedChildren()];
      kids.forEach(([k, child], i) => {
        const next = kids[i + 1]?.[1];
        if ((child instanceof nn.Conv2d || child instanceof nn.ConvTranspose2d) && next instanceof nn.InstanceNorm2d) {
          out.add(`${prefix}.${name ? `${name}.` : ''}${k}.bias`);
        }
      });
    }
  }
  return out;
}

async function compareCheckpoints(
  a: string,
  b: string,
  steps: number,
): Promise<{ worst: number; biases: number; compared: number }> {
  const A = await torch.loadSafetensors(a);
  const B = await torch.loadSafetensors(b);
  const noisy = normalisedAwayBiases();
  expect(noisy.size).toBeGreaterThan(4);
  let worst = 0;
  let biases = 0;
  let compared = 0;
  try {
    expect([...A.tensors.keys()].sort()).toEqual([...B.tensors.keys()].sort());
    for (const [name, ta] of A.tensors) {
      if (!/^(G|Gema|D)\./.test(name)) continue;
      const tb = B.tensors.get(name)!;
      const d = ta.double().sub(tb.double()).abs();
      const diff = d.max().item();
      if (noisy.has(name)) {
        biases = Math.max(biases, diff);
        expect(diff, name).toBeLessThanOrEqual(2 * steps * LR * 1.01);
      } else {
        worst = Math.max(worst, diff);
        compared++;
        expect(diff, name).toBeLessThan(LR / 2);
        expect(d.mean().item(), name).toBeLessThan(1e-6);
      }
      d.dispose();
    }
  } finally {
    for (const t of [...A.tensors.values(), ...B.tensors.values()]) t.dispose();
  }
  return { worst, biases, compared };
}

function losses(run: string): Record<string, number>[] {
  return readFileSync(path.join(run, 'log.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l).losses);
}

/**
 * Starts a long 2-worker run, sends `signal` to rank 1 once training is under way, and waits for
 * the launcher to exit: its code and stderr, the workers' pids and the seconds since the signal.
 */
async function troubleRankOne(
  name: string,
  timeoutSeconds: number,
  signal: NodeJS.Signals,
): Promise<{ code: number | null; stderr: string; pids: number[]; seconds: number }> {
  const out = path.join(work, name);
  const args = [
    'train',
    '--out',
    out,
    '--data',
    data,
    ...TINY,
    '--steps',
    '100000',
    '--batch',
    '2',
    '--nproc',
    '2',
    '--dist-timeout',
    String(timeoutSeconds),
  ];
  const child = spawn(process.execPath, [bin, ...args], { cwd: root, env });
  let stderr = '';
  let pids: number[] = [];
  let sentAt = 0;
  const exited = new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
  child.stderr.on('data', (d) => {
    stderr += d;
    const m = /pids (\d+), (\d+)/.exec(stderr);
    if (m && pids.length === 0) pids = [Number(m[1]), Number(m[2])];
    if (!sentAt && pids.length === 2 && /^training: [1-9]\d*\/100000 steps/m.test(stderr)) {
      sentAt = Date.now();
      process.kill(pids[1]!, signal);
    }
  });
  const timer = setTimeout(() => child.kill('SIGKILL'), 120_000);
  const code = await exited;
  clearTimeout(timer);
  expect(sentAt, `training never got under way:\n${stderr}`).toBeGreaterThan(0);
  const seconds = (Date.now() - sentAt) / 1000;
  await new Promise((r) => setTimeout(r, 200));
  return { code, stderr, pids, seconds };
}

beforeAll(() => {
  work = mkdtempSync(path.join(os.tmpdir(), 'dermosynth-ddp-'));
  data = path.join(work, 'data');
  const r = cli('data', 'sample', '--out', data, '--n', '12', '--size', '64');
  expect(r.status, r.stderr).toBe(0);
});

afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

describe.skipIf(!haveGloo)('data parallel (gloo, 2 processes on this machine)', () => {
  it('2 processes x 8 steps give the weights of 1 process with the whole batch; a 2-process checkpoint resumes in 1 process', async () => {
    const common = [
      '--data',
      data,
      ...TINY,
      '--steps',
      '8',
      '--batch',
      '4',
      '--augment',
      'default',
      '--checkpoint-every',
      '4',
      '--keep-checkpoints',
      '5',
      // Every rank keeps the generator's weight average: rank 0's checkpoint holds it (Gema.*), compared too.
      '--g-ema',
      '0.5',
    ];
    const two = path.join(work, 'two');
    const one = path.join(work, 'one');
    let r = cli('train', '--out', two, ...common, '--nproc', '2');
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/started 2 workers/);
    expect(r.stderr).toMatch(/2 processes \(2 lesions each per step\)/);
    r = cli('train', '--out', one, ...common);
    expect(r.status, r.stderr).toBe(0);

    const c2 = path.join(two, 'checkpoints', 'step-00000008.safetensors');
    const c1 = path.join(one, 'checkpoints', 'step-00000008.safetensors');
    const { worst, compared } = await compareCheckpoints(c2, c1, 8);
    expect(compared).toBeGreaterThan(10);
    expect(worst).toBeLessThan(LR / 2);
    // The logged losses are those of the whole batch.
    const l2 = losses(two);
    const l1 = losses(one);
    expect(l2).toHaveLength(8);
    l2.forEach((step, i) => {
      for (const [k, v] of Object.entries(step))
        expect(Math.abs(v - l1[i]![k]!), `step ${i + 1} ${k}`).toBeLessThan(1e-4 * Math.max(1, Math.abs(v)));
    });
    // Only rank 0 wrote: one log line per step, one set of checkpoints and samples.
    const state = JSON.parse((await torch.loadSafetensors(c2)).metadata['dermosynth.state']!);
    expect(state.processes).toBe(2);
    expect(JSON.parse(readFileSync(path.join(two, 'config.json'), 'utf8')).runtime).toEqual({
      device: 'cpu',
      precision: 'fp32',
      processes: 2,
    });

    // Resume the 2-process run from its step-4 checkpoint in 1 process: the same end.
    const resumed = path.join(work, 'resumed');
    cpSync(two, resumed, { recursive: true });
    rmSync(path.join(resumed, 'checkpoints', 'step-00000008.safetensors'));
    rmSync(path.join(resumed, 'generator.safetensors'));
    r = cli('train', '--out', resumed, '--resume', '--nproc', '1');
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/resuming at step 4/);
    expect(r.stderr).toMatch(/written by 2 processes; continuing with 1 \(same global batch 4\)/);
    await compareCheckpoints(path.join(resumed, 'checkpoints', 'step-00000008.safetensors'), c2, 8);
    expect(losses(resumed).map((l) => l.G_GAN)).toHaveLength(8);
  }, 300_000);

  it('a killed worker stops the run within seconds, naming it; no worker is left', async () => {
    const r = await troubleRankOne('killed', 30, 'SIGKILL');
    expect(r.code, r.stderr).toBe(1);
    expect(r.seconds, 'the run ends well within the collective timeout').toBeLessThan(20);
    expect(r.stderr).toMatch(
      new RegExp(`worker rank 1 \\(pid ${r.pids[1]}\\) was killed by SIGKILL; stopped the other workers`),
    );
    for (const pid of r.pids) expect(alive(pid), `worker ${pid} still running`).toBe(false);
  }, 180_000);

  it('a worker that stops answering ends the run after --dist-timeout (every collective has one)', async () => {
    const r = await troubleRankOne('stuck', 4, 'SIGSTOP');
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toMatch(
      /rank 0: .*(timed out|did not complete).*another worker did not take part within the timeout/,
    );
    // The timeout, then the launcher's grace period for the stopped worker.
    expect(r.seconds).toBeGreaterThan(3.5);
    expect(r.seconds).toBeLessThan(40);
    for (const pid of r.pids) expect(alive(pid), `worker ${pid} still running`).toBe(false);
  }, 180_000);

  it('SIGINT to the launcher: the workers agree on a step, rank 0 checkpoints, all exit with 130', async () => {
    const out = path.join(work, 'interrupted');
    const child = spawn(
      process.execPath,
      [
        bin,
        'train',
        '--out',
        out,
        '--data',
        data,
        ...TINY,
        '--steps',
        '100000',
        '--batch',
        '2',
        '--nproc',
        '2',
        '--checkpoint-every',
        '100000',
      ],
      { cwd: root, env },
    );
    let stderr = '';
    let stdout = '';
    let pids: number[] = [];
    let sent = false;
    child.stdout.on('data', (d) => (stdout += d));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
    child.stderr.on('data', (d) => {
      stderr += d;
      const m = /pids (\d+), (\d+)/.exec(stderr);
      if (m && pids.length === 0) pids = [Number(m[1]), Number(m[2])];
      if (!sent && /^training: [1-9]\d*\/100000 steps/m.test(stderr)) {
        sent = true;
        child.kill('SIGINT');
      }
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), 120_000);
    const code = await exited;
    clearTimeout(timer);
    expect(code, stderr).toBe(130);
    const step = Number(/stopped at step (\d+) of 100000/.exec(stdout)?.[1]);
    expect(step, stdout + stderr).toBeGreaterThan(0);
    expect(readdirSync(path.join(out, 'checkpoints'))).toEqual([`step-${String(step).padStart(8, '0')}.safetensors`]);
    expect(readFileSync(path.join(out, 'log.jsonl'), 'utf8').trim().split('\n')).toHaveLength(step);
    await new Promise((r) => setTimeout(r, 200));
    for (const pid of pids) expect(alive(pid), `worker ${pid} still running`).toBe(false);
  }, 180_000);

  it('two "machines" (--nnodes 2, one worker each, loopback): machine 1 takes the options from rank 0 and writes nothing', async () => {
    const { freePort } = await import('../../src/cli/train_launcher.js');
    const port = String(await freePort());
    const a = path.join(work, 'node0');
    const b = path.join(work, 'node1');
    const common = ['--nnodes', '2', '--master-addr', '127.0.0.1', '--master-port', port, '--dist-timeout', '60'];
    const run = (args: string[]) =>
      new Promise<{ code: number | null; stderr: string }>((resolve) => {
        const child = spawn(process.execPath, [bin, 'train', ...args], { cwd: root, env });
        let stderr = '';
        child.stderr.on('data', (d) => (stderr += d));
        const timer = setTimeout(() => child.kill('SIGKILL'), 150_000);
        child.on('exit', (code) => {
          clearTimeout(timer);
          resolve({ code, stderr });
        });
      });
    // Machine 1 is given no data or model flags at all.
    const [r0, r1] = await Promise.all([
      // No --batch: one lesion per process, a global batch of 2.
      run(['--out', a, '--data', data, ...TINY, '--steps', '3', '--node-rank', '0', ...common]),
      run(['--out', b, '--node-rank', '1', ...common]),
    ]);
    expect(r0.code, r0.stderr).toBe(0);
    expect(r1.code, r1.stderr).toBe(0);
    expect(r0.stderr).toMatch(/ranks 0\.\.0 of 2/);
    expect(r0.stderr).toMatch(/--batch not given: the global batch is 2 \(one lesion per process\)/);
    expect(JSON.parse(readFileSync(path.join(a, 'config.json'), 'utf8')).options.batch).toBe(2);
    expect(r1.stderr).toMatch(/ranks 1\.\.1 of 2/);
    expect(existsSync(path.join(a, 'generator.safetensors'))).toBe(true);
    expect(readFileSync(path.join(a, 'log.jsonl'), 'utf8').trim().split('\n')).toHaveLength(3);
    expect(existsSync(b), 'machine 1 wrote nothing').toBe(false);
  }, 180_000);

  it('a global batch that cannot be split, and --node-rank past --nnodes, are clear errors', () => {
    let r = cli(
      'train',
      '--out',
      path.join(work, 'bad1'),
      '--data',
      data,
      ...TINY,
      '--steps',
      '2',
      '--batch',
      '3',
      '--nproc',
      '2',
    );
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/--batch 3 cannot be split evenly over 2 processes/);
    expect(existsSync(path.join(work, 'bad1', 'config.json'))).toBe(false);
    r = cli('train', '--out', path.join(work, 'bad2'), '--data', data, ...TINY, '--nnodes', '2', '--node-rank', '2');
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/--node-rank 2 must be below --nnodes 2/);
  }, 60_000);
});
