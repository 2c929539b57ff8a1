// npm run bench:ddp [-- --size 128 --ngf 32 --iters 6 --warmup 2 --rounds 2 --repeats 10 --python /usr/bin/python3]
//
// Data-parallel training on one machine: steps per second of the `proposed` model with 1 and 2
// processes (the cores split between them), against PyTorch's DistributedDataParallel on the same
// libtorch, and the gloo all-reduce behind it, against torch.distributed's.
//
// dermosynth's side is its real path, the CLI: once, `dermosynth data sample --n 16` and `data
// prepare` into a cache at --size; then for P in 1, 2 a fresh `dermosynth train --out RUN --data
// CACHE --size SxS --preset published --local-enhancers 0 --ngf N --steps warmup+iters --batch 2
// --nproc P --augment none` (no checkpoint or sample grid before the end; the end-of-run ones are
// not timed). P = 1 trains in the process with OMP_NUM_THREADS = all cores; P = 2 goes through the
// launcher, which starts two workers (gloo over loopback) with OMP_NUM_THREADS = cores / 2 each,
// each training on 1 lesion of the global batch of 2 and all-reducing gradients in 25 MiB buckets
// (the first at most 1 MiB) while backward runs. Read from RUN/log.jsonl (rank 0): `seconds`, the
// wall time of each step (its batch from the cache, the step, the losses' mean over ranks), and
// `comm`, the seconds the step waited for the gradient all-reduce after backward returned.
//
// The Python side is bench/ddp_pytorch.py: bench/train_pytorch.py's networks and one-pass step
// (the same sizes and losses as dermosynth's, Adam lr 2e-4, betas 0.5/0.999), one process per
// rank started here with torch.distributed's env:// variables, GLOO_SOCKET_IFNAME=lo and the same
// thread counts; for P = 2, G and D each wrapped in DistributedDataParallel (gloo, default buckets,
// all-reducing while each of the step's two backward(..., inputs=...) calls runs), each rank on 1
// random input of the global batch of 2, its `comm` the time from the last parameter gradient to
// backward returning. Its inputs are random tensors held in memory (no data loading).
//
// Rounds alternate the sides: dermosynth P=1, python P=1, dermosynth P=2, python P=2, then the
// all-reduces; --warmup steps of each run are left out. Printed: per side and P the median
// seconds per step over the timed steps of all --rounds rounds, steps/s, images/s (global batch
// 2), the speed-up of 2 processes over 1, the median comm and its share of the step, and `ratio
// dermosynth/pytorch` of steps/s at P = 1 and P = 2. Then the all-reduce (sum) of one float32
// tensor with 2 processes (one thread each), for 1 MB, 16 MB and the gradient's size (G + D
// parameters): dermosynth through ProcessGroup.allReduce (this file re-run as `--child
// allreduce`), Python through torch.distributed.all_reduce; a barrier, then one timed all-reduce,
// --repeats times after 3 warm-up ones; median ms (over all rounds), algorithm bandwidth (bytes /
// time) and bus bandwidth (2(n-1)/n x bytes / time), MB = 10^6 bytes, GB/s = 10^9 bytes/s.
// The default (128x128, ngf 32) takes a few minutes on a quiet 2-core machine; smoke run:
// npx tsx bench/ddp.ts --size 64 --ngf 8 --iters 2 --warmup 1 --rounds 1
import { spawn } from 'node:child_process';
import { mkdtempSync, mkdirSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import os from 'node:os';
import path from 'node:path';
import * as torch from '../src/torch/index.js';
import { ProcessGroup } from '../src/torch/distributed.js';
import { buildModels } from '../src/models/registry.js';
import { freePort } from '../src/cli/train_launcher.js';
import { arg, intArg } from './args.js';

const size = intArg('size', 128, 16);
const ngf = intArg('ngf', 32, 1);
const iters = intArg('iters', 6, 1);
const warmup = intArg('warmup', 2, 0);
const rounds = intArg('rounds', 2, 1);
const repeats = intArg('repeats', 10, 1);
const python = arg('python', '/usr/bin/python3');
const steps = warmup + iters;
/** The global batch (1 lesion per process with 2). */
const BATCH = 2;
const PROCS = [1, 2];
/** All-reduces before the timed ones. */
const AR_WARMUP = 3;
/** Seconds any collective may wait before a run fails (instead of hanging on a dead peer). */
const DIST_TIMEOUT = 300;
/** Label channels of the sample data as prepared (background + 3 classes; no boundary, no frame). */
const LABEL_CHANNELS = 4;
const cores = os.availableParallelism();
/** Threads per process with P processes (as dermosynth's launcher splits them). */
const threadsFor = (p: number): number => Math.max(1, Math.floor(cores / p));

const here = path.dirname(fileURLToPath(import.meta.url));
const cli = path.join(here, '..', 'bin', 'dermosynth.mjs');

/** One line of JSON on stdout, written synchronously. */
function emit(o: unknown): void {
  writeSync(1, `${JSON.stringify(o)}\n`);
}

interface Proc {
  command: string;
  args: string[];
  env: NodeJS.ProcessEnv;
}

/**
 * Runs processes together (the ranks of one run) and returns each one's stdout; when one fails,
 * the others are stopped and the error quotes the end of its output.
 */
async function runTogether(name: string, procs: Proc[]): Promise<string[]> {
  const children = procs.map((p) => spawn(p.command, p.args, { env: p.env, stdio: ['ignore', 'pipe', 'pipe'] }));
  const outs = children.map(() => '');
  const errs = children.map(() => '');
  children.forEach((c, i) => {
    c.stdout!.on('data', (d: Buffer) => (outs[i] += d.toString()));
    c.stderr!.on('data', (d: Buffer) => (errs[i] += d.toString()));
  });
  let failure: string | null = null;
  await Promise.all(
    children.map(
      (c, i) =>
        new Promise<void>((resolve) => {
          c.on('error', (e) => {
            failure ??= `cannot start ${procs[i]!.command} (${e.message})${procs[i]!.command === python ? '; for Python: sudo apt-get install -y python3-torch' : ''}`;
            for (const o of children) if (o !== c && o.exitCode === null) o.kill();
            resolve();
          });
          c.on('exit', (code, signal) => {
            if ((code !== 0 || signal) && !failure) {
              const tail = (outs[i]! + errs[i]!).trim().split('\n').slice(-15).join('\n');
              failure = `process ${i} ${signal ? `was killed by ${signal}` : `exited with code ${code}`}:\n${tail}`;
              for (const o of children) if (o !== c && o.exitCode === null) o.kill();
            }
            resolve();
          });
        }),
    ),
  );
  if (failure) throw new Error(`${name}: ${failure}`);
  return outs;
}

const jsonLines = (text: string): Record<string, unknown>[] =>
  text
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>);

interface Step {
  seconds: number;
  comm: number | null;
}

/** `dermosynth train --nproc p` on the prepared cache; its log's steps. */
async function dermosynthTrain(work: string, cache: string, p: number): Promise<Step[]> {
  // A fresh, unique run folder (train makes it when missing; mkdtemp keeps the runs apart).
  const out = mkdtempSync(path.join(work, `run-p${p}-`));
  const env = { ...process.env };
  if (p === 1) env.OMP_NUM_THREADS = String(cores);
  else delete env.OMP_NUM_THREADS; // the launcher splits the cores
  try {
    await runTogether(`dermosynth train --nproc ${p}`, [
      {
        command: process.execPath,
        args: [
          cli,
          'train',
          '--out',
          out,
          '--data',
          cache,
          '--size',
          `${size}x${size}`,
          '--preset',
          'published',
          '--local-enhancers',
          '0',
          ...[
            '--ngf',
            ngf,
            '--steps',
            steps,
            '--batch',
            BATCH,
            '--nproc',
            p,
            '--checkpoint-every',
            1_000_000,
            '--sample-every',
            1_000_000,
            '--dist-timeout',
            DIST_TIMEOUT,
          ].map(String),
          '--augment',
          'none',
        ],
        env,
      },
    ]);
    const log = jsonLines(readFileSync(path.join(out, 'log.jsonl'), 'utf8'));
    if (log.length !== steps)
      throw new Error(
        `dermosynth train --nproc ${p}: ${path.join(out, 'log.jsonl')} has ${log.length} steps, expected ${steps}`,
      );
    return log.map((e) => ({ seconds: e.seconds as number, comm: p > 1 ? (e.comm as number) : null }));
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}

/** The environment of rank `rank` of `world` processes (torch.distributed's env:// variables). */
function rankEnv(rank: number, world: number, port: number): NodeJS.ProcessEnv {
  return {
    ...process.env,
    RANK: String(rank),
    WORLD_SIZE: String(world),
    MASTER_ADDR: '127.0.0.1',
    MASTER_PORT: String(port),
    GLOO_SOCKET_IFNAME: 'lo',
    OMP_NUM_THREADS: String(threadsFor(world)),
  };
}

/** bench/ddp_pytorch.py with p processes; rank 0's ready line and steps. */
async function pythonTrain(p: number): Promise<{ ready: Record<string, unknown>; steps: Step[] }> {
  const port = await freePort();
  const args = [
    path.join(here, 'ddp_pytorch.py'),
    ...[
      '--mode',
      'train',
      '--threads',
      threadsFor(p),
      '--size',
      size,
      '--ngf',
      ngf,
      '--label-nc',
      LABEL_CHANNELS,
      '--batch',
      BATCH,
      '--steps',
      steps,
      '--timeout',
      DIST_TIMEOUT,
    ].map(String),
  ];
  const outs = await runTogether(
    `python ddp_pytorch.py (${p} process${p > 1 ? 'es' : ''})`,
    [...Array(p).keys()].map((r) => ({ command: python, args, env: rankEnv(r, p, port) })),
  );
  const lines = jsonLines(outs[0]!);
  const ready = lines.find((l) => l.ready);
  const stepLines = lines.filter((l) => typeof l.step === 'number');
  if (!ready || stepLines.length !== steps || !lines.some((l) => l.done))
    throw new Error(`ddp_pytorch.py: expected a ready line, ${steps} steps and done, got:\n${outs[0]}`);
  return {
    ready,
    steps: stepLines.map((l) => ({ seconds: l.seconds as number, comm: p > 1 ? (l.comm as number) : null })),
  };
}

type Timings = Map<number, number[]>;

/** Rank 0's all-reduce lines: size -> ms of each timed repeat. */
function readTimings(text: string, sizes: number[], who: string): Timings {
  const m: Timings = new Map();
  for (const l of jsonLines(text)) if (typeof l.size === 'number') m.set(l.size, l.ms as number[]);
  for (const n of sizes)
    if (m.get(n)?.length !== repeats) throw new Error(`${who}: no timings for the all-reduce of ${n} floats:\n${text}`);
  return m;
}

async function dermosynthAllReduce(sizes: number[]): Promise<Timings> {
  const port = await freePort();
  const me = fileURLToPath(import.meta.url);
  const procs = [0, 1].map((r) => ({
    command: process.execPath,
    args: [
      ...process.execArgv,
      me,
      '--child',
      'allreduce',
      ...[
        '--rank',
        r,
        '--world',
        2,
        '--port',
        port,
        '--sizes',
        sizes.join(','),
        '--repeats',
        repeats,
        '--threads',
        threadsFor(2),
      ].map(String),
    ],
    env: { ...process.env, OMP_NUM_THREADS: String(threadsFor(2)) },
  }));
  const outs = await runTogether('dermosynth all-reduce', procs);
  return readTimings(outs[0]!, sizes, 'dermosynth all-reduce');
}

async function pythonAllReduce(sizes: number[]): Promise<Timings> {
  const port = await freePort();
  const args = [
    path.join(here, 'ddp_pytorch.py'),
    ...[
      '--mode',
      'allreduce',
      '--threads',
      threadsFor(2),
      '--sizes',
      sizes.join(','),
      '--repeats',
      repeats,
      '--warmup',
      AR_WARMUP,
      '--timeout',
      DIST_TIMEOUT,
    ].map(String),
  ];
  const outs = await runTogether(
    'python all-reduce',
    [0, 1].map((r) => ({ command: python, args, env: rankEnv(r, 2, port) })),
  );
  return readTimings(outs[0]!, sizes, 'python all-reduce');
}

/**
 * `--child allreduce --rank R --world N --port P --sizes a,b --repeats K`: one rank of the
 * all-reduce timing (the same loop as ddp_pytorch.py's --mode allreduce); rank 0 prints the times.
 */
function allReduceChild(): void {
  const rank = intArg('rank', 0, 0);
  const world = intArg('world', 2, 2);
  torch.setNumThreads(intArg('threads', 1, 1));
  const sizes = arg('sizes', '').split(',').map(Number);
  const pg = ProcessGroup.init({
    host: '127.0.0.1',
    port: intArg('port', 0, 1),
    rank,
    worldSize: world,
    timeoutMs: DIST_TIMEOUT * 1000,
  });
  try {
    for (const n of sizes) {
      const t = torch.ones([n]);
      const ms: number[] = [];
      for (let i = 0; i < AR_WARMUP + repeats; i++) {
        t.fill_(1);
        pg.barrier();
        const t0 = performance.now();
        pg.allReduce([t], 'sum');
        const dt = performance.now() - t0;
        if (i >= AR_WARMUP) ms.push(dt);
      }
      const first = t.narrow(0, 0, 1);
      const v = first.item();
      first.dispose();
      t.dispose();
      if (v !== world) throw new Error(`the all-reduce summed to ${v}, expected ${world}`);
      if (rank === 0) emit({ size: n, bytes: 4 * n, ms });
    }
    pg.barrier();
  } finally {
    pg.close();
  }
  if (rank === 0) emit({ done: true });
}

const median = (a: number[]): number => {
  const s = [...a].sort((x, y) => x - y);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
const loadavg = (): string => readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
const mb = (bytes: number): string => `${(bytes / 1e6).toFixed(1)} MB`;
const pct = (x: number): string => `${(100 * x).toFixed(1)}%`;
const row = (cells: (string | number)[], widths: number[]): string =>
  cells
    .map((c, i) => String(c).padEnd(widths[i]!))
    .join(' ')
    .trimEnd();

/** dermosynth's G and D parameter counts at this configuration (the gradient all-reduced per step). */
function parameterCounts(): { generator: number; discriminator: number } {
  const m = buildModels('proposed', LABEL_CHANNELS, { numLocalEnhancers: 0, ngf }, 'published');
  const counts = { generator: m.generator.numParameters(), discriminator: m.discriminator.numParameters() };
  torch.dispose([...m.generator.parameters(), ...m.discriminator.parameters()]);
  return counts;
}

async function main(): Promise<void> {
  const work = mkdtempSync(path.join(os.tmpdir(), 'dermosynth-bench-ddp-'));
  try {
    const loadStart = loadavg();
    const data = path.join(work, 'data');
    const cache = path.join(work, 'cache');
    await runTogether('dermosynth data sample', [
      {
        command: process.execPath,
        args: [cli, 'data', 'sample', '--out', data, '--n', '16', '--size', String(size)],
        env: process.env,
      },
    ]);
    await runTogether('dermosynth data prepare', [
      {
        command: process.execPath,
        args: [cli, 'data', 'prepare', data, '--size', `${size}x${size}`, '--out', cache],
        env: process.env,
      },
    ]);
    mkdirSync(path.join(work, 'runs'));

    const params = parameterCounts();
    const gradFloats = params.generator + params.discriminator;
    const gradBytes = 4 * gradFloats;
    const sizes = [...new Set([250_000, 4_000_000, gradFloats])].sort((a, b) => a - b);
    console.log(
      `data-parallel training: dermosynth train --nproc P vs PyTorch DistributedDataParallel (gloo over loopback); proposed (preset published, no local enhancer, ngf ${ngf}${ngf === 64 ? '' : ' instead of 64'}, ${LABEL_CHANNELS} label channels) ` +
        `at ${size}x${size}, global batch ${BATCH}; ${cores} cores: P=1 ${threadsFor(1)} threads, P=2 ${threadsFor(2)} thread${threadsFor(2) > 1 ? 's' : ''} each; libtorch ${torch.buildInfo().version}`,
    );
    console.log(
      `gradients: G ${params.generator} + D ${params.discriminator} parameters = ${mb(gradBytes)} of float32 (MB = 10^6 bytes)`,
    );
    console.log(
      `${rounds} round(s) of dermosynth P=1, python P=1, dermosynth P=2, python P=2 (${warmup} warm-up + ${iters} timed steps each), then the all-reduces; load average ${loadStart} at the start`,
    );

    const runs = new Map<string, Step[]>(); // `${side} ${p}` -> timed steps of every round
    const ar: Record<'dermosynth' | 'pytorch', Timings[]> = { dermosynth: [], pytorch: [] };
    const timedOf = (key: string): Step[] => runs.get(key) ?? [];
    for (let r = 0; r < rounds; r++) {
      const parts: string[] = [];
      for (const p of PROCS) {
        for (const side of ['dermosynth', 'pytorch'] as const) {
          let got: Step[];
          if (side === 'dermosynth') {
            got = await dermosynthTrain(path.join(work, 'runs'), cache, p);
          } else {
            const py = await pythonTrain(p);
            const c = py.ready.parameters as Record<string, number>;
            if (c.generator !== params.generator || c.discriminator !== params.discriminator) {
              throw new Error(
                `parameter counts differ: dermosynth ${JSON.stringify(params)}, pytorch ${JSON.stringify(c)}`,
              );
            }
            got = py.steps;
          }
          const timed = got.slice(warmup);
          runs.set(`${side} ${p}`, [...timedOf(`${side} ${p}`), ...timed]);
          const comm = p > 1 ? ` (comm ${median(timed.map((s) => s.comm!)).toFixed(3)})` : '';
          parts.push(`${side} P=${p} ${median(timed.map((s) => s.seconds)).toFixed(3)} s/step${comm}`);
          process.stderr.write(`  round ${r + 1}: ${parts[parts.length - 1]}\n`);
        }
      }
      ar.dermosynth.push(await dermosynthAllReduce(sizes));
      ar.pytorch.push(await pythonAllReduce(sizes));
      console.log(`round ${r + 1}: ${parts.join('; ')}; load average ${loadavg()}`);
    }

    // Training table.
    const w = [11, 3, 8, 8, 8, 9, 8, 12, 10];
    console.log(
      `\ntraining (medians over the timed steps of all rounds; images/s = global batch ${BATCH} x steps/s; comm = wait for the gradient all-reduce after backward):`,
    );
    console.log(
      row(['side', 'P', 'threads', 's/step', 'steps/s', 'images/s', '2 vs 1', 'comm s/step', 'comm share'], w),
    );
    const secs: Record<string, number> = {};
    for (const side of ['dermosynth', 'pytorch']) {
      for (const p of PROCS) {
        const s = timedOf(`${side} ${p}`);
        const t = median(s.map((x) => x.seconds));
        secs[`${side} ${p}`] = t;
        const comm = p > 1 ? median(s.map((x) => x.comm!)) : null;
        const speedup = p > 1 ? `${(secs[`${side} 1`]! / t).toFixed(2)}x` : '-';
        console.log(
          row(
            [
              side,
              p,
              p > 1 ? `${threadsFor(p)} x ${p}` : threadsFor(p),
              t.toFixed(3),
              (1 / t).toFixed(3),
              (BATCH / t).toFixed(2),
              speedup,
              comm === null ? '-' : comm.toFixed(4),
              comm === null ? '-' : pct(comm / t),
            ],
            w,
          ),
        );
      }
    }
    const ratios = PROCS.map((p) => `P=${p} ${(secs[`pytorch ${p}`]! / secs[`dermosynth ${p}`]!).toFixed(3)}`);
    console.log(`ratio dermosynth/pytorch steps/s: ${ratios.join(', ')} (>= 1: dermosynth faster; target >= 0.95)`);

    // All-reduce table.
    const medianMs = (side: 'dermosynth' | 'pytorch', n: number): number => median(ar[side].flatMap((m) => m.get(n)!));
    const n2 = 2;
    console.log(
      `\nall-reduce (sum) of one float32 tensor, 2 processes (${threadsFor(2)} thread${threadsFor(2) > 1 ? 's' : ''} each), gloo over loopback: median of ${repeats} x ${rounds} round(s) after ${AR_WARMUP} warm-up, a barrier before each; algbw = bytes / time, busbw = algbw x 2(n-1)/n:`,
    );
    const aw = [17, 14, 11, 11, 11, 11, 11, 10];
    console.log(
      row(
        [
          'size',
          'dermosynth ms',
          'algbw GB/s',
          'busbw GB/s',
          'pytorch ms',
          'algbw GB/s',
          'busbw GB/s',
          'ratio time d/p',
        ],
        aw,
      ),
    );
    for (const n of sizes) {
      const bytes = 4 * n;
      const cells: (string | number)[] = [`${mb(bytes)}${n === gradFloats ? ' (grads)' : ''}`];
      for (const side of ['dermosynth', 'pytorch'] as const) {
        const ms = medianMs(side, n);
        const alg = bytes / (ms / 1000) / 1e9;
        cells.push(ms.toFixed(2), alg.toFixed(2), ((alg * 2 * (n2 - 1)) / n2).toFixed(2));
      }
      cells.push((medianMs('dermosynth', n) / medianMs('pytorch', n)).toFixed(3));
      console.log(row(cells, aw));
    }
    const arD = medianMs('dermosynth', gradFloats) / 1000,
      arP = medianMs('pytorch', gradFloats) / 1000;
    console.log(
      `the gradient's all-reduce alone (${mb(gradBytes)}) vs a P=2 training step: dermosynth ${arD.toFixed(3)} s = ${pct(arD / secs['dermosynth 2']!)} of its step, ` +
        `pytorch ${arP.toFixed(3)} s = ${pct(arP / secs['pytorch 2']!)}; the steps wait only for what backward did not hide (comm above)`,
    );
    console.log(`load average ${loadavg()} at the end (other processes on the machine slow both sides)`);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

const child = arg('child', '');
if (child && child !== 'allreduce')
  throw new RangeError(`--child ${child}: only 'allreduce' is a child of this benchmark`);
const run = child ? async () => allReduceChild() : main;
run().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
