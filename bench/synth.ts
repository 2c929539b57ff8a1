// npm run bench:synth [-- --sizes 256,512 --batch 4,1 --batches 3 --warmup 1 --threads N --ngf 64 --contiguous
//                        --device cpu|cuda:0 --precision fp32|bf16]
//
// Synthesis speed: dermosynth's `RunGenerator.generate` (what `dermosynth synthesize` runs: label
// bytes -> one-hot (channels-last) -> generator in inference mode with its parametrizations frozen
// -> uint8 RGB) against eager inference of the same generator in Python PyTorch on the same
// libtorch (bench/synth_pytorch.py: NCHW one-hot, model.eval(), torch.inference_mode(), the same
// conversion to uint8). The generator is the `proposed` model's, preset published without the
// local enhancer (ngf 64, 4 downsamplings, 9 residual blocks, concatenating skips; 4 label
// channels), with the same weights on both sides (dermosynth writes them; the Python side checks
// the state-dict names and shapes). The label maps are real ISIC-2017 masks with their diagnoses
// when ../shared/data/isic2017-512 is there, else the built-in sample data. The two sides take
// turns one batch at a time (--warmup untimed batches first), with the same thread count. It prints
// images/s for each side and size, `ratio dermosynth/pytorch` of the median seconds per batch
// (target <= 1.0), and the largest pixel difference between the two sides' first batch (parity).
// `--contiguous` (diagnostic) feeds dermosynth's generator an NCHW-contiguous one-hot instead;
// `--peer-malloc-reuse` gives the Python side dermosynth's allocation policy (src/torch/native.ts:
// large blocks from the heap instead of page-faulted in again at every forward), to separate
// that choice from the rest. The header line says which policy each side runs. `--device cuda:0`
// runs both sides on a GPU (the uint8 images come back to the host on both), `--precision bf16`
// both under bf16 autocast.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import * as torch from '../src/torch/index.js';
import * as nn from '../src/nn/index.js';
import { buildLabelBytes, labelMapSpec, oneHotLabels } from '../src/data/label_map.js';
import { ISIC2017_CLASSES } from '../src/data/diagnosis.js';
import { readDataset } from '../src/data/readers/index.js';
import { writeSampleDataset } from '../src/data/sample_dataset.js';
import { buildGenerator } from '../src/models/registry.js';
import { DEFAULT_TRAIN_OPTIONS, parseTrainOptions } from '../src/run/options.js';
import { RUN_CONFIG_FORMAT, RUN_CONFIG_VERSION, writeRunConfig } from '../src/run/config.js';
import { imagesToRgb } from '../src/data/sample_grid.js';
import { RunGenerator } from '../src/synth/run_generator.js';
import { arg, intListArg } from './args.js';

const sizes = intListArg('sizes', '256,512');
const batches = intListArg('batch', '4,1');
if (batches.length !== sizes.length) throw new RangeError('--batch needs one value per --sizes entry');
const [timed] = intListArg('batches', '3');
const [warmup] = intListArg('warmup', '1').map((n) => n);
const [threads] = intListArg('threads', String(os.availableParallelism()));
const [ngf] = intListArg('ngf', '64');
const contiguous = process.argv.includes('--contiguous');
/** Diagnostic: run the Python side with the allocation policy dermosynth uses (src/torch/native.ts). */
const peerReuse = process.argv.includes('--peer-malloc-reuse');
const python = arg('python', '/usr/bin/python3');
const device = torch.checkDevice(arg('device', 'cpu'));
const precision = torch.amp.checkPrecision(torch.amp.parsePrecision(arg('precision', 'fp32'), '--precision'), device);
const here = import.meta.dirname;
const SHARED = path.resolve(here, '../../shared/data/isic2017-512');

torch.setNumThreads(threads!);
const work = mkdtempSync(path.join(os.tmpdir(), 'dermosynth-bench-synth-'));
const spec = labelMapSpec(ISIC2017_CLASSES, { boundary: 0, frame: false });

/** Label bytes of the first n lesions of a dataset at size s (nearest resize of the masks). */
async function labelMaps(n: number, s: number): Promise<Uint8Array[]> {
  let dir = SHARED;
  if (!existsSync(dir)) {
    dir = path.join(work, 'sample');
    if (!existsSync(dir)) await writeSampleDataset(dir, { n: 16, size: 256 });
  }
  const records = (await readDataset(dir)).records.filter((r) => r.mask && r.label !== null).slice(0, n);
  return Promise.all(
    records.map(async (r) => {
      const mask = await sharp(r.mask!).greyscale().resize(s, s, { kernel: 'nearest', fit: 'fill' }).raw().toBuffer();
      return buildLabelBytes(new Uint8Array(mask), r.label!, spec, s, s);
    }),
  );
}

/** A run folder holding the generator at size s (what `dermosynth synthesize --run` reads). */
async function makeRun(s: number, weights: string): Promise<string> {
  const dir = path.join(work, `run-${s}`);
  const overrides = { numLocalEnhancers: 0, ngf: ngf! };
  const options = parseTrainOptions({
    ...DEFAULT_TRAIN_OPTIONS,
    model: 'proposed',
    preset: 'published',
    width: s,
    height: s,
    modelOverrides: overrides,
  });
  const { mkdir, copyFile } = await import('node:fs/promises');
  await mkdir(dir, { recursive: true });
  await copyFile(weights, path.join(dir, 'generator.safetensors'));
  await writeRunConfig(path.join(dir, 'config.json'), {
    format: RUN_CONFIG_FORMAT,
    version: RUN_CONFIG_VERSION,
    created: new Date().toISOString(),
    options,
    model: { generator: 'proposed', options: overrides, losses: {}, parameters: { generator: 0, discriminator: 0 } },
    data: { cache: '', size: [s, s], labelChannels: spec.channels, classes: spec.classes, train: 0, val: 0, test: 0 },
    schedule: { stepsPerEpoch: 1, totalSteps: 1, globalEpochs: 0, fixGlobalEpochs: 0 },
  });
  return dir;
}

interface Side {
  next(): Promise<Record<string, unknown>>;
  send(): void;
  done: Promise<void>;
}

function pythonSide(args: string[]): Side {
  const proc = spawn(python, [path.join(here, 'synth_pytorch.py'), ...args, '--wait'], {
    stdio: ['pipe', 'pipe', 'inherit'],
    env: {
      ...Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('MALLOC_'))),
      OMP_NUM_THREADS: String(threads),
      ...(peerReuse ? { MALLOC_MMAP_THRESHOLD_: String(2 ** 30) } : {}),
    },
  });
  const lines = createInterface({ input: proc.stdout! })[Symbol.asyncIterator]();
  return {
    async next() {
      const r = await lines.next();
      if (r.done) throw new Error('bench/synth_pytorch.py ended early (see its error above)');
      return JSON.parse(r.value) as Record<string, unknown>;
    },
    send() {
      proc.stdin!.write('\n');
    },
    done: new Promise((resolve, reject) =>
      proc.on('exit', (code) =>
        code === 0 ? resolve() : reject(new Error(`bench/synth_pytorch.py exited with ${code}`)),
      ),
    ),
  };
}

function median(v: number[]): number {
  const s = [...v].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
}

const { generator } = buildGenerator(
  'proposed',
  spec.channels.length,
  { numLocalEnhancers: 0, ngf: ngf! },
  'published',
);
const weights = path.join(work, 'generator.safetensors');
await nn.saveModule(weights, generator);
const names = path.join(work, 'names.json');
writeFileSync(names, JSON.stringify([...generator.stateDict()].map(([k, t]) => [k, t.shape])));
torch.dispose(generator.stateDict());
console.log(
  `bench:synth: proposed generator (published, no local enhancer, ngf ${ngf}), ${device}, ${precision}, ${threads} threads, ${timed} timed batches per side after ${warmup} warm-up, ` +
    `label maps from ${existsSync(SHARED) ? 'ISIC-2017 (shared/data/isic2017-512)' : 'the built-in sample data'}${contiguous ? ', dermosynth input NCHW-contiguous (diagnostic)' : ''}; ` +
    `allocation policy: dermosynth ${torch.MALLOC_POLICY}, pytorch ${peerReuse ? 'large-blocks-in-heap' : 'system'}`,
);
const rows: string[] = [];
try {
  for (const [si, s] of sizes.entries()) {
    const batch = batches[si]!;
    const total = warmup! + timed!;
    const maps = await labelMaps(Math.min(16, batch * total), s);
    const labelsFile = path.join(work, `labels-${s}.u8`);
    const flat = new Uint8Array(maps.length * s * s);
    maps.forEach((m, i) =>
      flat.set(
        m.map((v) => v & 127),
        i * s * s,
      ),
    );
    writeFileSync(labelsFile, flat);
    const run = await RunGenerator.load(await makeRun(s, weights), { device, precision });
    const pyOut = path.join(work, `py-${s}.u8`);
    const py = pythonSide([
      '--size',
      String(s),
      '--batch',
      String(batch),
      '--batches',
      String(total),
      '--threads',
      String(threads),
      '--ngf',
      String(ngf),
      '--device',
      device,
      '--precision',
      precision,
      '--names',
      names,
      '--weights',
      weights,
      '--labels',
      labelsFile,
      '--out',
      pyOut,
    ]);
    await py.next(); // ready
    const ours: number[] = [];
    const theirs: number[] = [];
    let first: Uint8Array[] = [];
    for (let b = 0; b < total; b++) {
      const idx = Array.from({ length: batch }, (_, i) => maps[(b * batch + i) % maps.length]!);
      const t0 = performance.now();
      const rgb = contiguous
        ? torch.inferenceMode(() =>
            torch.tidy(() => {
              const flatB = new Uint8Array(batch * s * s);
              idx.forEach((m, i) => flatB.set(m, i * s * s));
              const x = oneHotLabels(torch.fromBytes(flatB, 'uint8', [batch, 1, s, s]), spec).contiguous();
              return imagesToRgb(torch.autocast(device, precision, () => run.generator.call(x.to(device))));
            }),
          )
        : run.generate(idx);
      const dt = (performance.now() - t0) / 1000;
      if (b === 0) first = rgb;
      py.send();
      const r = await py.next();
      if (b >= warmup!) {
        ours.push(dt);
        theirs.push(r.seconds as number);
      }
      process.stderr.write(
        `  ${s}x${s} batch ${b + 1}/${total}: dermosynth ${dt.toFixed(3)} s, pytorch ${(r.seconds as number).toFixed(3)} s\n`,
      );
    }
    const rss = await py.next();
    await py.done;
    run.dispose();
    const pyFirst = readFileSync(pyOut);
    let maxDiff = 0;
    first.forEach((img, i) => {
      for (let p = 0; p < img.length; p++)
        maxDiff = Math.max(maxDiff, Math.abs(img[p]! - pyFirst[i * img.length + p]!));
    });
    const a = median(ours);
    const b = median(theirs);
    rows.push(
      `${s}x${s} batch ${batch}: dermosynth ${(batch / a).toFixed(2)} images/s (${a.toFixed(3)} s/batch), pytorch ${(batch / b).toFixed(2)} images/s (${b.toFixed(3)} s/batch), ` +
        `ratio dermosynth/pytorch ${(a / b).toFixed(3)} (target <= 1.0); largest pixel difference ${maxDiff}; python peak RSS ${Math.round((rss.maxRssKb as number) / 1024)} MiB`,
    );
    console.log(rows[rows.length - 1]);
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}
