// npm run bench:train [-- --size 256 --iters 10 --warmup 2 --rounds 2 --threads N --ngf 64 --pytorch-style one-pass --no-subpixel
//                        --device cpu|cuda:0 --precision fp32|bf16 --batch 1 --live-memory]
//
// Training speed and memory of the `proposed` model against the same network in Python PyTorch.
// dermosynth's side is its real training loop: `Trainer.run()` of src/train/trainer.ts on a small
// prepared cache of the built-in sample data at 256x256 (proposed, preset published without the
// local enhancer: a global generator of width 64 with concatenating skips, 4 downsamplings and 9
// residual blocks, and pix2pixHD's 2-scale PatchGAN discriminator, ndf 64; 4 label channels;
// batch 1, no augmentation; LSGAN + feature matching 10, no VGG; Adam), timed per step through its
// onStep hook. The Python side is bench/train_pytorch.py: the same networks written with torch.nn,
// checked to have dermosynth's state-dict names and shapes in the same order, started from
// dermosynth's initial weights and fed the batches of dermosynth's data loader, with pix2pixHD's
// training step written the way a PyTorch user writes it, using the same single discriminator pass
// on the fake image and `torch.autograd.backward(..., inputs=...)` as the Trainer (like for like;
// `--pytorch-style pix2pixhd` runs pix2pixHD's own three-pass order instead, for reference). Both
// run on the same libtorch with the same thread count, in two processes that take turns one step
// at a time (dermosynth, python, dermosynth, python, ...; --warmup + --iters steps each), started
// afresh for each of --rounds rounds. It prints each side's median seconds per iteration over the
// steps after warm-up (and the CPU time), each process's peak RSS (getrusage, the largest over the
// rounds, and their median) and `ratio dermosynth/pytorch` for both (the target is <= 1.05), and
// checks that both sides' first-step losses agree. A process's peak RSS varies from round to round
// by a few hundred MiB (glibc's heap layout depends on the order in which threads allocate and
// free; measured 4,016 to 4,528 MiB over six runs of the same dermosynth step), so compare medians
// over several --rounds. `--live-memory` runs both sides with every block of 128 KiB or more
// mmap'd and returned on free (MALLOC_MMAP_THRESHOLD_=131072): peak RSS is then the peak of the
// memory really in use, without the heap's free space, at the price of page faults (slower). One
// iteration takes about 6 s on a quiet 2-core machine (and 3-5 times longer when other processes
// compete for the cores); `--ngf 32` (about 1.5 s) is quicker. `--no-subpixel` runs dermosynth's
// transposed convolutions through aten, as PyTorch does, instead of their sub-pixel form, to
// separate that choice from the binding's own cost. `--device cuda:0`
// runs both sides on a GPU, `--precision bf16` both under bf16 autocast (torch.autocast on the
// Python side), `--batch` sets both sides' batch.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, openSync, writeSync, closeSync, readFileSync, readSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import os from 'node:os';
import path from 'node:path';
import * as torch from '../src/torch/index.js';
import * as nn from '../src/nn/index.js';
import { LesionCache } from '../src/data/cache.js';
import { disposeBatch } from '../src/data/loader.js';
import { prepareCache } from '../src/data/prepare.js';
import { readDataset } from '../src/data/readers/index.js';
import { writeSampleDataset } from '../src/data/sample_dataset.js';
import { Trainer } from '../src/train/trainer.js';
import { runPaths } from '../src/run/layout.js';
import { DEFAULT_TRAIN_OPTIONS, parseTrainOptions, type TrainOptions } from '../src/run/options.js';
import { arg, intArg } from './args.js';

const size = intArg('size', 256, 16);
const iters = intArg('iters', 10, 1);
const warmup = intArg('warmup', 2, 0);
const rounds = intArg('rounds', 2, 1);
const threads = intArg('threads', os.availableParallelism(), 1);
const ngf = intArg('ngf', 64, 1);
const pytorchStyle = arg('pytorch-style', 'one-pass');
/** Diagnostic: dermosynth's transposed convolutions through aten instead of their sub-pixel form. */
const noSubpixel = process.argv.includes('--no-subpixel');
const python = arg('python', '/usr/bin/python3');
const device = torch.checkDevice(arg('device', 'cpu'));
const precision = torch.amp.checkPrecision(torch.amp.parsePrecision(arg('precision', 'fp32'), '--precision'), device);
if (precision === 'fp16') throw new Error('bench:train: --precision fp16 is not benchmarked (fp32 or bf16)');
const batch = intArg('batch', 1, 1);
/** Both sides without heap reuse for large blocks, so that peak RSS measures live memory. */
const liveMemory = process.argv.includes('--live-memory');
const steps = warmup + iters;
/**
 * Relative difference allowed between the two sides' first-step losses (same weights, same batch):
 * float32 summation order on the CPU; on a GPU cuDNN's TF32 convolutions (2^-11 per product); under
 * bf16 autocast 2^-8 per rounding compounds through both networks into the LSGAN sums (two
 * correct sides differed by 8.7% at 64x64, ngf 8, on the CPU), while another network or batch
 * gives losses off by a factor.
 */
const LOSS_TOLERANCE = precision === 'bf16' ? 0.2 : device === 'cpu' ? 1e-3 : 2e-2;

/** The training options of both sides (the Python script hard-codes the same sizes). */
function trainOptions(cacheDir: string): TrainOptions {
  return parseTrainOptions({
    ...DEFAULT_TRAIN_OPTIONS,
    data: cacheDir,
    model: 'proposed',
    preset: 'published',
    modelOverrides: { numLocalEnhancers: 0, ngf },
    width: size,
    height: size,
    batch,
    augment: 'none',
    steps,
    checkpointEvery: 1_000_000,
    sampleEvery: 1_000_000,
    boundary: 0,
    frame: false,
  });
}

/** One line of JSON on stdout, written synchronously (a child may exit right after). */
function emit(o: unknown): void {
  writeSync(1, `${JSON.stringify(o)}\n`);
}

interface StepLine {
  step: number;
  seconds: number;
  /** CPU time of the process (all threads, user + system) during the step. */
  cpuSeconds: number;
  losses: Record<string, number>;
}
interface RoundResult {
  steps: StepLine[];
  maxRssKb: number;
  ready: Record<string, unknown>;
}

/** Blocks until the parent writes a line on stdin (the signal to run the next step). */
function awaitGo(): void {
  const buf = Buffer.alloc(1);
  for (;;) {
    let n = 0;
    try {
      n = readSync(0, buf, 0, 1, null);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EAGAIN') continue;
      throw err;
    }
    if (n === 0) process.exit(1); // the parent is gone
    if (buf[0] === 10) return;
  }
}

/**
 * `--child dermosynth --work DIR`: one dermosynth process training through Trainer.run(). Before
 * each step it waits for the parent's go (blocking inside the onStep hook), so that the two sides
 * take turns step by step; a step's time runs from the go to the next onStep call (the loader,
 * the step, the log entry and the loop's own work). After the last step it reports its peak RSS
 * and exits, before the end-of-run sample grid, checkpoint and generator file.
 */
async function child(work: string): Promise<void> {
  torch.setNumThreads(threads);
  const options = trainOptions(path.join(work, 'cache'));
  const dir = mkdtempSync(path.join(work, 'run-'));
  const trainer = new Trainer(
    runPaths(dir),
    options,
    await LesionCache.open(options.data!),
    null,
    {},
    { device, precision },
  );
  if (noSubpixel) {
    for (const [, m] of trainer.models.generator.namedModules())
      if (m instanceof nn.ConvTranspose2d) (m.options as { subpixel?: boolean }).subpixel = false;
  }
  emit({
    ready: true,
    threads: torch.getNumThreads(),
    parameters: {
      generator: trainer.models.generator.numParameters(),
      discriminator: trainer.models.discriminator.numParameters(),
    },
  });
  awaitGo();
  let start = performance.now();
  let cpu = process.cpuUsage();
  let lastSeconds = 0;
  await trainer.run({
    onStep: (s) => {
      const seconds = (performance.now() - start) / 1000;
      const c = process.cpuUsage(cpu);
      emit({
        step: s.step,
        seconds,
        cpuSeconds: (c.user + c.system) / 1e6,
        trainStepSeconds: s.seconds - lastSeconds,
        losses: s.losses,
        skipped: s.skipped,
      });
      lastSeconds = s.seconds;
      if (s.step === s.totalSteps) {
        emit({ maxRssKb: process.resourceUsage().maxRSS });
        process.exit(0);
      }
      awaitGo();
      start = performance.now();
      cpu = process.cpuUsage();
    },
  });
  throw new Error('the run ended without reaching its last step');
}

/** A side's process: `go()` lets it run one step, `next()` reads its next JSON line. */
interface Peer {
  name: string;
  next(): Promise<Record<string, unknown>>;
  go(): void;
  exited: Promise<number | null>;
}

function startPeer(name: string, command: string, args: string[]): Peer {
  const proc = spawn(command, args, {
    stdio: ['pipe', 'pipe', 'inherit'],
    env: {
      ...process.env,
      OMP_NUM_THREADS: String(threads),
      ...(liveMemory ? { MALLOC_MMAP_THRESHOLD_: String(128 * 1024) } : {}),
    },
  });
  const failed = new Promise<never>((_, reject) => {
    proc.on('error', (err) =>
      reject(
        new Error(
          `cannot start ${name} (${command}: ${err.message}); for Python: sudo apt-get install -y python3-torch`,
        ),
      ),
    );
  });
  failed.catch(() => {});
  const exited = new Promise<number | null>((resolve) => proc.on('exit', (code) => resolve(code)));
  const lines = createInterface({ input: proc.stdout! })[Symbol.asyncIterator]();
  const next = async (): Promise<Record<string, unknown>> => {
    for (;;) {
      const r = await Promise.race([lines.next(), failed]);
      if (r.done) throw new Error(`${name} ended early (exit code ${await exited})`);
      try {
        return JSON.parse(r.value) as Record<string, unknown>;
      } catch {
        process.stderr.write(`${name}: ${r.value}\n`);
      }
    }
  };
  return { name, next, go: () => proc.stdin!.write('go\n'), exited };
}

/** One round: both sides start, then take turns one step each (dermosynth first). */
async function runRound(tsArgs: string[], pyArgs: string[], python: string): Promise<[RoundResult, RoundResult]> {
  const peers = [startPeer('dermosynth', process.execPath, tsArgs), startPeer('pytorch', python, pyArgs)];
  const results: RoundResult[] = [];
  for (const p of peers) {
    const ready = await p.next();
    if (!ready.ready) throw new Error(`${p.name}: expected its ready line, got ${JSON.stringify(ready)}`);
    results.push({ steps: [], maxRssKb: 0, ready });
  }
  for (let k = 1; k <= steps; k++) {
    for (const [i, p] of peers.entries()) {
      p.go();
      const s = (await p.next()) as unknown as StepLine;
      if (s.step !== k) throw new Error(`${p.name}: expected step ${k}, got ${JSON.stringify(s)}`);
      results[i]!.steps.push(s);
      process.stderr.write(
        `  ${p.name.padEnd(10)} step ${String(k).padStart(2)}/${steps} ${s.seconds.toFixed(3)} s (CPU ${s.cpuSeconds.toFixed(3)} s)${k <= warmup ? ' (warm-up)' : ''}\n`,
      );
    }
  }
  for (const [i, p] of peers.entries()) {
    const r = await p.next();
    if (typeof r.maxRssKb !== 'number') throw new Error(`${p.name}: expected its peak RSS, got ${JSON.stringify(r)}`);
    results[i]!.maxRssKb = r.maxRssKb;
    const code = await p.exited;
    if (code !== 0) throw new Error(`${p.name} ended with exit code ${code}`);
  }
  return [results[0]!, results[1]!];
}

const median = (a: number[]): number => {
  const s = [...a].sort((x, y) => x - y);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
const mib = (kb: number): string => `${(kb / 1024).toFixed(0)} MiB`;
const loadavg = (): string => readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');

/**
 * Prepares the data and the reference files both sides read: a cache of the sample data, the
 * state-dict names and shapes and the initial weights of dermosynth's networks (a Trainer is
 * built exactly as the child builds it, same seed), and the batches its data loader serves in
 * the first `steps` steps, as raw float32 (label then image, NCHW) for the Python script.
 */
async function prepare(work: string): Promise<void> {
  const dataDir = path.join(work, 'data');
  await writeSampleDataset(dataDir, { n: Math.max(12, batch * steps), seed: 0, size });
  await prepareCache(await readDataset(dataDir), path.join(work, 'cache'), {
    width: size,
    height: size,
    fit: 'crop',
    labelMap: { boundary: 0, frame: false },
    workers: 0,
  });
  torch.setNumThreads(threads);
  const options = trainOptions(path.join(work, 'cache'));
  const trainer = new Trainer(
    runPaths(path.join(work, 'reference-run')),
    options,
    await LesionCache.open(options.data!),
    null,
  );
  const { generator: G, discriminator: D } = trainer.models;
  const names = (m: nn.Module<any, any>): [string, number[]][] => [...m.stateDict()].map(([k, v]) => [k, v.shape]);
  writeFileSync(path.join(work, 'names.json'), JSON.stringify({ generator: names(G), discriminator: names(D) }));
  await nn.saveModule(path.join(work, 'G.safetensors'), G);
  await nn.saveModule(path.join(work, 'D.safetensors'), D);
  const fd = openSync(path.join(work, 'batches.f32'), 'w');
  try {
    for (let i = 0; i < steps; i++) {
      const b = trainer.loader.next();
      for (const t of [b.label, b.image]) {
        const c = t.contiguous();
        writeSync(fd, c.bytes());
        c.dispose();
      }
      disposeBatch(b);
    }
  } finally {
    closeSync(fd);
  }
  torch.dispose([...G.parameters(), ...D.parameters()]);
  trainer.dispose();
}

async function main(): Promise<void> {
  const here = path.dirname(fileURLToPath(import.meta.url));
  const work = mkdtempSync(path.join(os.tmpdir(), 'dermosynth-bench-train-'));
  try {
    const loadStart = loadavg();
    await prepare(work);
    const tsArgs = [
      ...process.execArgv,
      fileURLToPath(import.meta.url),
      '--child',
      'dermosynth',
      '--work',
      work,
      ...['--size', size, '--iters', iters, '--warmup', warmup, '--threads', threads, '--ngf', ngf].map(String),
      ...(noSubpixel ? ['--no-subpixel'] : []),
    ];
    const pyArgs = [
      path.join(here, 'train_pytorch.py'),
      ...[
        '--size',
        size,
        '--steps',
        steps,
        '--threads',
        threads,
        '--ngf',
        ngf,
        '--label-nc',
        4,
        '--batch',
        batch,
        '--device',
        device,
        '--precision',
        precision,
      ].map(String),
      '--style',
      pytorchStyle,
      '--names',
      path.join(work, 'names.json'),
      '--weights-g',
      path.join(work, 'G.safetensors'),
      '--weights-d',
      path.join(work, 'D.safetensors'),
      '--data',
      path.join(work, 'batches.f32'),
      '--wait',
    ];
    console.log(
      `proposed model training (preset published, numLocalEnhancers 0, ngf ${ngf}${ngf === 64 ? '' : ' instead of 64'}, 4 label channels) at ${size}x${size}, batch ${batch}, ` +
        `${device}, ${precision}, ${threads} threads; libtorch ${torch.buildInfo().version}; python step: ${pytorchStyle}${noSubpixel ? '; dermosynth with aten transposed convolutions (--no-subpixel)' : ''}`,
    );
    console.log(
      `${rounds} rounds of dermosynth then python, ${warmup} warm-up + ${iters} timed steps each; load average ${loadStart} at the start`,
    );
    if (liveMemory)
      console.log(
        "--live-memory: blocks of 128 KiB or more are mmap'd on both sides: peak RSS is live memory (times are slower)",
      );
    const ts: RoundResult[] = [];
    const py: RoundResult[] = [];
    for (let r = 0; r < rounds; r++) {
      const [a, b] = await runRound(tsArgs, pyArgs, python);
      ts.push(a);
      py.push(b);
      const m = (x: RoundResult): string =>
        `${median(x.steps.slice(warmup).map((s) => s.seconds)).toFixed(3)} s/iter, peak RSS ${mib(x.maxRssKb)}`;
      console.log(`round ${r + 1}: dermosynth ${m(ts[r]!)}; pytorch ${m(py[r]!)}; load average ${loadavg()}`);
    }
    const p0 = ts[0]!.ready.parameters as Record<string, number>;
    const p1 = py[0]!.ready.parameters as Record<string, number>;
    if (p0.generator !== p1.generator || p0.discriminator !== p1.discriminator) {
      throw new Error(`parameter counts differ: dermosynth ${JSON.stringify(p0)}, pytorch ${JSON.stringify(p1)}`);
    }
    // Same weights and the same first batch: the first step's losses must agree.
    const l0 = ts[0]!.steps[0]!.losses,
      l1 = py[0]!.steps[0]!.losses;
    let worst = 0;
    for (const k of ['G_GAN', 'G_GAN_Feat', 'D_real', 'D_fake'])
      worst = Math.max(worst, Math.abs(l0[k]! - l1[k]!) / Math.max(1e-6, Math.abs(l1[k]!)));
    const fmt = (l: Record<string, number>): string =>
      ['G_GAN', 'G_GAN_Feat', 'D_real', 'D_fake'].map((k) => `${k} ${l[k]!.toFixed(4)}`).join(', ');
    console.log(
      `step 1 losses: dermosynth ${fmt(l0)}; pytorch ${fmt(l1)} (max relative difference ${worst.toExponential(1)})`,
    );
    if (!(worst <= LOSS_TOLERANCE))
      throw new Error(
        `the first-step losses differ by ${worst} (> ${LOSS_TOLERANCE}): the two sides do not train the same network on the same data`,
      );
    const timed = (rs: RoundResult[]): number[] => rs.flatMap((x) => x.steps.slice(warmup).map((s) => s.seconds));
    const tsMed = median(timed(ts)),
      pyMed = median(timed(py));
    const tsStepOnly = median(
      ts.flatMap((x) =>
        x.steps.slice(warmup).map((s) => (s as StepLine & { trainStepSeconds: number }).trainStepSeconds),
      ),
    );
    const cpu = (rs: RoundResult[]): number =>
      median(rs.flatMap((x) => x.steps.slice(warmup).map((s) => s.cpuSeconds)));
    const tsRss = Math.max(...ts.map((x) => x.maxRssKb)),
      pyRss = Math.max(...py.map((x) => x.maxRssKb));
    const tsRssMedian = median(ts.map((x) => x.maxRssKb)),
      pyRssMedian = median(py.map((x) => x.maxRssKb));
    const rssRounds = (rs: RoundResult[], med: number): string =>
      rounds > 1 ? ` (median over rounds ${mib(med)}; rounds ${rs.map((x) => mib(x.maxRssKb)).join(', ')})` : '';
    console.log(`parameters: generator ${p0.generator}, discriminator ${p0.discriminator}`);
    console.log(
      `dermosynth: median ${tsMed.toFixed(3)} s/iter (Trainer.trainStep alone ${tsStepOnly.toFixed(3)} s; CPU ${cpu(ts).toFixed(3)} s/iter), peak RSS ${mib(tsRss)}${rssRounds(ts, tsRssMedian)}`,
    );
    console.log(
      `pytorch:    median ${pyMed.toFixed(3)} s/iter (CPU ${cpu(py).toFixed(3)} s/iter), peak RSS ${mib(pyRss)}${rssRounds(py, pyRssMedian)}`,
    );
    console.log(`ratio dermosynth/pytorch time = ${(tsMed / pyMed).toFixed(3)} (target <= 1.05)`);
    console.log(
      `ratio dermosynth/pytorch peak RSS = ${(tsRss / pyRss).toFixed(3)} (target <= 1.05)` +
        (rounds > 1 ? `; of the medians over rounds ${(tsRssMedian / pyRssMedian).toFixed(3)}` : ''),
    );
    console.log(`load average ${loadavg()} at the end (other processes on the machine slow both sides)`);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

const run = process.argv.includes('--child') ? () => child(arg('work', '')) : main;
run().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
