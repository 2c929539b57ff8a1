// dermosynth train: a conditional GAN on a dataset, a prepared cache, or the built-in sample data;
// on a CPU or a GPU, in one process or data parallel over several (--nproc, --nnodes).
import { Command, InvalidArgumentError, Option } from 'commander';
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import * as torch from '../torch/index.js';
import { ProcessGroup, distributedBackends } from '../torch/distributed.js';
import { LesionCache } from '../data/cache.js';
import { checkImageSize, loadVgg19, resolveOptions } from '../models/registry.js';
import { ISIC2017_CLASSES } from '../data/diagnosis.js';
import { openTrainingData } from '../train/training_data.js';
import {
  DEFAULT_TRAIN_OPTIONS,
  MODEL_NAMES,
  differingOptions,
  parseTrainOptions,
  type TrainOptions,
} from '../run/options.js';
import { readRunConfig, writeRunConfig, type LrSchedule } from '../run/config.js';
import { runPaths } from '../run/layout.js';
import { latestCheckpoint } from '../run/checkpoints.js';
import { Trainer, type TrainHooks, type TrainRuntime } from '../train/trainer.js';
import {
  findModel,
  initDefaults,
  initGeneratorFrom,
  initMismatches,
  type InstalledModel,
} from '../synth/pretrained.js';
import { sizeText } from '../synth/model_folder.js';
import { WORKER_ENV, freePort, launchWorkers, workerPlace, type WorkerPlace } from './train_launcher.js';
import { fraction, intIn, parseSize } from './parse.js';
import { phasedProgress, progress } from './progress.js';
import { PREPARE_PHASES } from './data_command.js';
import { watchStopSignals } from './stop_signals.js';

const D = DEFAULT_TRAIN_OPTIONS;

/** CLI flag -> option field, for flags that map one to one. */
const FLAG_FIELDS: Record<string, keyof TrainOptions> = {
  data: 'data',
  model: 'model',
  preset: 'preset',
  batch: 'batch',
  seed: 'seed',
  steps: 'steps',
  epochs: 'epochs',
  decayEpochs: 'decayEpochs',
  lr: 'lr',
  beta1: 'beta1',
  beta2: 'beta2',
  globalEpochs: 'globalEpochs',
  fixGlobalEpochs: 'fixGlobalEpochs',
  checkpointEvery: 'checkpointEvery',
  keepCheckpoints: 'keepCheckpoints',
  sampleEvery: 'sampleEvery',
  maxBadSteps: 'maxBadSteps',
  vggWeights: 'vggWeights',
  augment: 'augment',
  fit: 'fit',
  boundary: 'boundary',
  frame: 'frame',
  skipBad: 'skipBad',
  gEma: 'gEma',
};
/** CLI flag -> network option (overrides on top of the preset). */
const MODEL_FLAG_OPTIONS: Record<string, string> = {
  ngf: 'ngf',
  nDown: 'nDown',
  nBlocks: 'nBlocks',
  localEnhancers: 'numLocalEnhancers',
  skip: 'skip',
  upsample: 'upsample',
  ndf: 'ndf',
  numD: 'numD',
  nLayersD: 'nLayersD',
};
const MODEL_FLAGS = Object.keys(MODEL_FLAG_OPTIONS);
/** CLI flag -> loss weight (overrides on top of the model's defaults). */
const LOSS_FLAG_WEIGHTS: Record<string, 'featureMatching' | 'featureStd'> = {
  fmWeight: 'featureMatching',
  fmStdWeight: 'featureStd',
};
const LOSS_FLAGS = Object.keys(LOSS_FLAG_WEIGHTS);

function nonNegativeNumber(v: string): number {
  const n = Number(v);
  if (v.trim() === '' || !Number.isFinite(n) || n < 0)
    throw new InvalidArgumentError(`expected a number >= 0, got '${v}'`);
  return n;
}

function positiveNumber(v: string): number {
  const n = Number(v);
  if (v.trim() === '' || !Number.isFinite(n) || n <= 0)
    throw new InvalidArgumentError(`expected a positive number, got '${v}'`);
  return n;
}

export function trainCommand(): Command {
  const cmd = new Command('train')
    .description(
      'train a conditional GAN (label map -> dermoscopy image); with no --data, on the built-in sample data at 64x64',
    )
    .requiredOption(
      '--out <run>',
      'the run folder: config.json, log.jsonl, checkpoints/, samples/, generator.safetensors',
    )
    .option(
      '--data <dir>',
      'a dataset folder (prepared into RUN/cache) or a prepared cache (default: the built-in sample data)',
    )
    .addOption(new Option('--model <name>', 'the generator and its losses').choices(MODEL_NAMES).default(D.model))
    .addOption(
      new Option('--preset <p>', "network sizes: 'cpu' (small) or the papers' 'published' sizes")
        .choices(['cpu', 'published'])
        .default(D.preset),
    )
    .addOption(
      new Option('--size <WxH>', 'training size (e.g. 64x64, 256x256, 1024x768)')
        .argParser(parseSize)
        .default({ width: D.width, height: D.height }, `${D.width}x${D.height}`),
    )
    .addOption(
      new Option(
        '--steps <n>',
        'total steps (default: (epochs + decay-epochs) epochs); the learning rate then stays at --lr for the first epochs/(epochs + decay-epochs) of the steps (half, by default) and decays linearly to zero at the last, step by step',
      ).argParser(intIn(1, 1e9)),
    )
    .addOption(
      new Option('--epochs <n>', 'epochs at the initial learning rate').argParser(intIn(0, 1e6)).default(D.epochs),
    )
    .addOption(
      new Option('--decay-epochs <n>', 'then epochs of linear decay to zero')
        .argParser(intIn(0, 1e6))
        .default(D.decayEpochs),
    )
    .addOption(
      new Option(
        '--batch <n>',
        "the global batch (split evenly over the processes; default: one lesion per process, as pix2pixHD's batch 1)",
      ).argParser(intIn(1, 4096)),
    )
    .addOption(
      new Option('--seed <n>', 'seed of weights, data order and augmentation')
        .argParser(intIn(0, 2 ** 31 - 1))
        .default(D.seed),
    )
    .option('--resume', 'continue the run in --out from its last checkpoint (options must match the run)', false)
    .option(
      '--init <model>',
      "fine-tune: start the generator from a pretrained model's weights ('dermosynth models' lists them); its size, network and label-map options are the defaults and must match; the discriminator starts fresh; --global-epochs and --fix-global-epochs default to 0",
    )
    .addOption(new Option('--lr <x>', 'Adam learning rate').argParser(positiveNumber).default(D.lr))
    .addOption(new Option('--beta1 <x>', 'Adam beta1').argParser(positiveNumber).default(D.beta1))
    .addOption(new Option('--beta2 <x>', 'Adam beta2').argParser(positiveNumber).default(D.beta2))
    .addOption(
      new Option(
        '--global-epochs <n>',
        'coarse to fine: epochs of the global generator alone (default: a quarter of the run)',
      ).argParser(intIn(0, 1e6)),
    )
    .addOption(
      new Option(
        '--fix-global-epochs <n>',
        'then epochs of the local enhancers with the global generator frozen (default: a tenth)',
      ).argParser(intIn(0, 1e6)),
    )
    .addOption(
      new Option('--checkpoint-every <n>', 'steps between checkpoints')
        .argParser(intIn(1, 1e9))
        .default(D.checkpointEvery),
    )
    .addOption(
      new Option('--keep-checkpoints <n>', 'checkpoints kept').argParser(intIn(1, 1000)).default(D.keepCheckpoints),
    )
    .addOption(
      new Option('--sample-every <n>', 'steps between sample grids').argParser(intIn(1, 1e9)).default(D.sampleEvery),
    )
    .addOption(
      new Option('--max-bad-steps <n>', 'stop after this many steps in a row with a non-finite loss')
        .argParser(intIn(1, 1e6))
        .default(D.maxBadSteps),
    )
    .option('--vgg-weights <file>', "torchvision's VGG19 weights as safetensors: turns the VGG perceptual loss on")
    .addOption(
      new Option('--augment <preset>', 'none, default (flips, quarter turns) or strong (plus affine and colour)')
        .choices(['none', 'default', 'strong'])
        .default(D.augment),
    )
    .addOption(new Option('--fit <mode>', 'other aspect ratios: crop or pad').choices(['crop', 'pad']).default(D.fit))
    .addOption(
      new Option('--boundary <px>', 'lesion-boundary channel width (0: none)')
        .argParser(intIn(0, 64))
        .default(D.boundary),
    )
    .option('--frame', 'dermoscope-frame class in the label map', D.frame)
    .option('--skip-bad', 'leave unusable lesions out when preparing the data', D.skipBad)
    .addOption(
      new Option(
        '--g-ema <decay>',
        "moving average of the generator's weights, e.g. 0.999 (samples, checkpoints' readers and generator.safetensors use it; 0: off)",
      )
        .argParser(fraction)
        .default(D.gEma),
    )
    .addOption(new Option('--ngf <n>', 'generator base channels (overrides the preset)').argParser(intIn(1, 4096)))
    .addOption(new Option('--n-down <n>', 'generator downsamplings').argParser(intIn(0, 12)))
    .addOption(new Option('--n-blocks <n>', 'generator residual blocks').argParser(intIn(0, 64)))
    .addOption(
      new Option('--local-enhancers <n>', 'local enhancers (each doubles the resolution)').argParser(intIn(0, 4)),
    )
    .addOption(new Option('--skip <kind>', 'proposed: skip connections').choices(['concat', 'add', 'none']))
    .addOption(
      new Option(
        '--upsample <kind>',
        "proposed, pix2pixhd, pix2pix: 'deconv' (transposed convolutions, as the papers) or 'resize' (nearest resize + convolution: no checkerboard)",
      ).choices(['deconv', 'resize']),
    )
    .addOption(
      new Option('--fm-weight <x>', "feature-matching loss weight (the model's default: 10; 0 turns it off)").argParser(
        nonNegativeNumber,
      ),
    )
    .addOption(
      new Option(
        '--fm-std-weight <x>',
        "weight of matching the discriminator features' standard deviations (default 0: off)",
      ).argParser(nonNegativeNumber),
    )
    .addOption(new Option('--ndf <n>', 'discriminator base channels').argParser(intIn(1, 4096)))
    .addOption(new Option('--num-d <n>', 'discriminator scales').argParser(intIn(1, 8)))
    .addOption(new Option('--n-layers-d <n>', 'discriminator layers').argParser(intIn(1, 8)))
    .addOption(
      new Option(
        '--device <d>',
        'cpu, cuda or cuda:N (with --nproc: cuda gives worker i the GPU cuda:i; cuda:N puts every worker on GPU N, over gloo)',
      )
        .argParser(deviceName)
        .default('cpu'),
    )
    .addOption(
      new Option(
        '--precision <p>',
        'fp32, or bf16/fp16 autocast (fp32 master weights; fp16 with a dynamic loss scaler, CUDA only)',
      )
        .choices(['fp32', 'bf16', 'fp16'])
        .default('fp32'),
    )
    .addOption(
      new Option(
        '--nproc <n>',
        'data parallel: worker processes on this machine (each a replica; --batch is split between them)',
      )
        .argParser(intIn(1, 1024))
        .default(1),
    )
    .addOption(
      new Option(
        '--nnodes <n>',
        'data parallel over machines: how many (run the same command on each, with its --node-rank)',
      )
        .argParser(intIn(1, 4096))
        .default(1),
    )
    .addOption(
      new Option(
        '--node-rank <i>',
        "this machine's index, 0 .. nnodes-1 (machine 0 holds the run folder and the rendezvous)",
      )
        .argParser(intIn(0, 4095))
        .default(0),
    )
    .option('--master-addr <host>', 'address of machine 0, reachable from every machine', '127.0.0.1')
    .addOption(
      new Option(
        '--master-port <port>',
        'rendezvous port on machine 0 (default: a free port on one machine, 29500 on several)',
      ).argParser(intIn(1, 65535)),
    )
    .option(
      '--sync-bn',
      "data parallel: batch norm (pix2pix) normalises with the statistics of the whole global batch, not each process's part",
      false,
    )
    .addOption(
      new Option(
        '--dist-timeout <s>',
        'seconds any collective may wait for the other workers before the run stops with an error',
      )
        .argParser(intIn(1, 86400))
        .default(1800),
    )
    .action(async (flags: Record<string, unknown>, command: Command) => {
      await runTrain(flags, command);
    });
  return cmd;
}

function deviceName(v: string): string {
  if (!torch.isDevice(v)) throw new Error(`expected cpu, cuda or cuda:N, got '${v}'`);
  return v;
}

async function runTrain(flags: Record<string, unknown>, command: Command): Promise<void> {
  const place = workerPlace();
  if (place) return runWorker(flags, place);
  const nproc = flags.nproc as number;
  const nnodes = flags.nnodes as number;
  const nodeRank = flags.nodeRank as number;
  const worldSize = nproc * nnodes;
  if (nodeRank >= nnodes) throw new RangeError(`--node-rank ${nodeRank} must be below --nnodes ${nnodes}`);
  const device = checkedDevice(String(flags.device), nproc);
  const precision = torch.amp.checkPrecision(flags.precision as torch.Precision, device === 'cpu' ? 'cpu' : 'cuda');
  const out = path.resolve(String(flags.out));
  const paths = runPaths(out);
  if (nodeRank > 0) {
    // Machine 0 holds the run and shares the options; this machine only starts its workers.
    await launch(flags, { nproc, nnodes, nodeRank, out, rankZeroEnv: {} });
    return;
  }
  const given = (name: string) => command.getOptionValueSource(name) === 'cli';
  const fromFlags: TrainOptions = { ...D, modelOverrides: {}, lossOverrides: {} };
  for (const [flag, field] of Object.entries(FLAG_FIELDS)) {
    if (flags[flag] !== undefined) (fromFlags as Record<string, unknown>)[field] = flags[flag];
  }
  if (flags.batch === undefined) fromFlags.batch = worldSize;
  fromFlags.data = flags.data === undefined ? null : path.resolve(String(flags.data));
  fromFlags.vggWeights = flags.vggWeights === undefined ? null : path.resolve(String(flags.vggWeights));
  const size = flags.size as { width: number; height: number };
  fromFlags.width = size.width;
  fromFlags.height = size.height;
  for (const k of MODEL_FLAGS)
    if (flags[k] !== undefined) fromFlags.modelOverrides[MODEL_FLAG_OPTIONS[k]!] = flags[k] as number | string;
  for (const k of LOSS_FLAGS)
    if (flags[k] !== undefined) fromFlags.lossOverrides[LOSS_FLAG_WEIGHTS[k]!] = flags[k] as number;

  // --init NAME: the model's size, network and label-map options unless the command line gives them.
  let init: InstalledModel | null = null;
  if (flags.init !== undefined) {
    if (flags.resume)
      throw new RangeError(
        '--init starts a new run from a pretrained generator; --resume continues a run from its own checkpoint: drop --init',
      );
    init = await findModel(String(flags.init));
    const d = initDefaults(init);
    if (!given('size')) Object.assign(fromFlags, { width: d.width, height: d.height });
    if (!given('model')) fromFlags.model = d.model as TrainOptions['model'];
    if (!given('preset')) fromFlags.preset = d.preset as TrainOptions['preset'];
    if (!given('fit')) fromFlags.fit = d.fit as TrainOptions['fit'];
    if (!given('boundary')) fromFlags.boundary = d.boundary;
    if (!given('frame')) fromFlags.frame = d.frame;
    if (fromFlags.model === d.model) fromFlags.modelOverrides = { ...d.modelOverrides, ...fromFlags.modelOverrides };
    // The generator is trained already: no coarse-to-fine stages unless asked for.
    if (!given('globalEpochs')) fromFlags.globalEpochs = 0;
    if (!given('fixGlobalEpochs')) fromFlags.fixGlobalEpochs = 0;
  }

  const existing = await readRunConfig(paths.config);
  let options: TrainOptions;
  if (flags.resume) {
    if (!existing) throw new RangeError(`--resume: ${out} holds no run (no config.json); start one without --resume`);
    options = existing.options;
    const fieldsOf = (flag: string): (keyof TrainOptions)[] =>
      flag === 'size'
        ? ['width', 'height']
        : MODEL_FLAGS.includes(flag)
          ? ['modelOverrides']
          : LOSS_FLAGS.includes(flag)
            ? ['lossOverrides']
            : FLAG_FIELDS[flag]
              ? [FLAG_FIELDS[flag]]
              : [];
    const explicit = new Set(Object.keys(flags).filter(given).flatMap(fieldsOf));
    const candidate = parseTrainOptions(fromFlags);
    const differing = differingOptions(options, candidate).filter((f) => explicit.has(f));
    if (differing.length > 0) {
      throw new RangeError(
        `--resume: the run in ${out} was made with other options (${differing.map((f) => `${f}: run ${JSON.stringify(options[f])}, given ${JSON.stringify(candidate[f])}`).join('; ')}); drop those flags to resume it, or start a new run in another folder`,
      );
    }
  } else {
    if (existing)
      throw new RangeError(
        `${out} already holds a run (config.json); add --resume to continue it, or choose another --out`,
      );
    options = parseTrainOptions(fromFlags);
    if (flags.batch === undefined && worldSize > 1)
      console.error(`--batch not given: the global batch is ${worldSize} (one lesion per process)`);
  }
  // A resumed run keeps the learning-rate schedule it started with (runs older than the field: per epoch).
  const lrSchedule = existing ? (existing.schedule.lr ?? 'per-epoch') : undefined;

  // The size check needs no data: fail before preparing any.
  const labelChannels = 1 + ISIC2017_CLASSES.length + (options.frame ? 1 : 0) + (options.boundary > 0 ? 1 : 0);
  try {
    checkImageSize(
      options.model,
      resolveOptions(options.model, labelChannels, options.modelOverrides, options.preset),
      options.width,
      options.height,
    );
  } catch (e) {
    // The network options come from the flags: a mismatch is the user's to fix, not a bug.
    throw new RangeError((e as Error).message);
  }
  if (init) {
    const generatorOptions = resolveOptions(
      options.model,
      labelChannels,
      options.modelOverrides,
      options.preset,
    ) as Record<string, unknown>;
    const bad = initMismatches(init, { ...options, generatorOptions });
    if (bad.length > 0) throw new RangeError(initError(init, bad));
  }

  if (worldSize > 1 && options.batch % worldSize !== 0) {
    throw new RangeError(
      flags.resume
        ? `the run's batch ${options.batch} cannot be split evenly over ${worldSize} processes: resume with a process count that divides ${options.batch}`
        : `--batch ${options.batch} cannot be split evenly over ${worldSize} processes (--batch is the global batch): use a multiple of ${worldSize}`,
    );
  }

  // Data parallel: the workers load the VGG weights; here only their presence is checked.
  let vgg = null;
  if (options.vggWeights && worldSize > 1 && !existsSync(options.vggWeights))
    throw new RangeError(`--vgg-weights ${options.vggWeights}: no such file`);
  if (options.vggWeights && worldSize === 1) {
    try {
      vgg = await loadVgg19(options.vggWeights);
    } catch (e) {
      throw new RangeError(`--vgg-weights ${options.vggWeights}: ${(e as Error).message}`);
    }
  }

  const bars = phasedProgress(PREPARE_PHASES, 'lesions');
  const cache = await openTrainingData(out, options, (p) => bars.update(p)).finally(() => bars.stop());
  if (init) {
    const bad = initMismatches(init, {
      ...options,
      generatorOptions: init.config.run.model.options,
      diagnoses: cache.spec.classes,
    });
    if (bad.length > 0) {
      cache.close();
      throw new RangeError(initError(init, bad));
    }
  }
  if (worldSize > 1) {
    const cacheDir = cache.dir;
    cache.close();
    // Rank 0 loads the model; the others take rank 0's initial weights (Trainer.resume).
    await launch(flags, {
      nproc,
      nnodes,
      nodeRank,
      out,
      rankZeroEnv: {
        [WORKER_ENV.options]: JSON.stringify({
          options,
          cache: cacheDir,
          newRun: !existing,
          init: init?.name ?? null,
          lrSchedule: lrSchedule ?? null,
        }),
      },
    });
    return;
  }
  await train(paths, options, cache, vgg, { device, precision, lrSchedule }, !existing, init);
}

function initError(m: InstalledModel, bad: string[]): string {
  const c = m.config;
  const diagnoses = bad.some((b) => b.startsWith('diagnoses '));
  const flags = bad.length > (diagnoses ? 1 : 0);
  return (
    `--init ${m.name}: the model is ${c.model} at ${sizeText(c.size)} for ${c.diagnoses.join(', ')}; this run differs in ${bad.join('; ')}: ` +
    [
      flags
        ? "drop those flags (--init takes the model's size, network and label-map options when they are not given)"
        : '',
      diagnoses ? "map the data's diagnoses onto the model's (a class map: data prepare --classes)" : '',
    ]
      .filter(Boolean)
      .join(', and ')
  );
}

/** The machine a run starts on, for its config.json (and a packaged model's card). */
function machineInfo(): { cpu: string; cores: number; threads: number } {
  const cpus = os.cpus();
  return { cpu: cpus[0]?.model.trim() ?? 'unknown', cores: cpus.length, threads: torch.getNumThreads() };
}

/**
 * The device a worker uses: `cuda` with several workers is cuda:<local rank> (one GPU each, NCCL
 * where the build has it); `cuda:N` puts every worker on that one GPU, all-reducing through gloo,
 * because NCCL refuses two ranks on one device.
 */
function checkedDevice(flag: string, nproc: number): torch.Device {
  let device: torch.Device;
  try {
    device = torch.checkDevice(flag);
  } catch (e) {
    throw new RangeError(`--device ${flag}: ${(e as Error).message}`);
  }
  if (device !== 'cpu' && nproc > 1) {
    if (device !== 'cuda') {
      console.error(
        `--device ${flag} with --nproc ${nproc}: every worker on ${flag}, all-reducing through gloo (NCCL refuses two ranks on one GPU); --device cuda gives worker i the GPU cuda:i`,
      );
      return device;
    }
    const count = torch.cudaDeviceCount();
    if (count < nproc)
      throw new RangeError(
        `--nproc ${nproc} with --device cuda: only ${count} GPU(s) are visible; use --nproc ${count} or fewer, or --device cuda:0 to put every worker on one GPU`,
      );
  }
  return device;
}

/** A worker's device and backend: see checkedDevice. */
function workerDevice(flag: string, localRank: number): { device: torch.Device; backend: 'gloo' | 'nccl' } {
  if (flag === 'cuda')
    return {
      device: torch.checkDevice(`cuda:${localRank}`),
      backend: distributedBackends().includes('nccl') ? 'nccl' : 'gloo',
    };
  return { device: torch.checkDevice(flag), backend: 'gloo' };
}

/** Trains in this process (alone, or as one worker of a data-parallel run). */
async function train(
  paths: ReturnType<typeof runPaths>,
  options: TrainOptions,
  cache: LesionCache,
  vgg: Awaited<ReturnType<typeof loadVgg19>> | null,
  runtime: TrainRuntime,
  newRun: boolean,
  init: InstalledModel | null = null,
): Promise<void> {
  const out = paths.dir;
  const main = !runtime.dist || runtime.dist.rank === 0;
  const notice = (m: string) => {
    if (main) process.stderr.write(`${m}\n`);
  };
  const hooks: TrainHooks = { onNotice: notice };
  if (vgg && runtime.device && runtime.device !== 'cpu') vgg.to(runtime.device);
  const trainer = new Trainer(paths, options, cache, vgg, hooks, runtime);
  const m = trainer.models;
  let initRecord:
    { name: string; folder: string; weightsSha256: string; sourceRun: string; sourceStep: number | null } | undefined;
  if (init && newRun && main) {
    // Before resume(): a data-parallel run's other ranks take these weights from rank 0 there.
    const w = await initGeneratorFrom(m.generator, init);
    initRecord = {
      name: init.name,
      folder: init.dir,
      weightsSha256: w.sha256,
      sourceRun: init.config.source.run,
      sourceStep: init.config.source.step,
    };
    notice(
      `generator initialised from the pretrained ${init.name} (${w.file}, sha256 ${w.sha256.slice(0, 12)}, step ${init.config.source.step ?? '?'} of its run); the discriminator starts fresh`,
    );
  }
  if (newRun && main && !existsSync(paths.config)) {
    // With --data a prepared cache, nothing has made the run folder yet.
    await mkdir(out, { recursive: true });
    await writeRunConfig(paths.config, {
      ...trainer.runConfig(),
      machine: machineInfo(),
      ...(initRecord ? { init: initRecord } : {}),
    });
  }
  const signals = watchStopSignals('saving a checkpoint after this step', { quiet: !main });
  const start = await trainer.resume();
  const processes = runtime.dist?.worldSize ?? 1;
  if (trainer.resumedProcesses !== null && trainer.resumedProcesses !== processes) {
    notice(
      `the checkpoint was written by ${trainer.resumedProcesses} process${trainer.resumedProcesses > 1 ? 'es' : ''}; continuing with ${processes} (same global batch ${options.batch})`,
    );
  }
  const where = `${trainer.device}${trainer.precision === 'fp32' ? '' : ` ${trainer.precision}`}${processes > 1 ? `, ${processes} processes (${options.batch / processes} lesions each per step)` : ''}`;
  notice(
    `${start > 0 ? `resuming at step ${start}` : 'training'}: ${options.model} (${options.preset}), G ${(m.generator.numParameters() / 1e6).toFixed(2)}M / D ${(m.discriminator.numParameters() / 1e6).toFixed(2)}M parameters, ` +
      `${options.width}x${options.height}, batch ${options.batch}, ${trainer.totalSteps} steps (${trainer.stepsPerEpoch} per epoch), ${where} -> ${out}`,
  );

  const steps = main ? progress('training', trainer.totalSteps, 'steps') : { update() {}, stop() {} };
  try {
    const result = await trainer.run({
      onStep: (s) =>
        steps.update(
          s.step,
          s.totalSteps,
          `${s.stage} e${s.epoch} ${Object.entries(s.losses)
            .map(([k, v]) => `${k} ${v.toFixed(3)}`)
            .join(' ')}`,
        ),
      onNotice: notice,
      shouldStop: () => signals.signal !== null,
    });
    steps.stop();
    if (!result.finished) {
      if (main)
        console.log(
          `stopped at step ${result.step} of ${result.totalSteps}; checkpoint ${result.lastCheckpoint}. Continue with: dermosynth train --out ${out} --resume`,
        );
      process.exitCode = signals.exitCode;
      return;
    }
    if (main)
      console.log(
        `done: ${result.step} steps. Generator weights: ${result.generatorFile}; sample grids: ${paths.samples}; losses: ${paths.log}`,
      );
  } finally {
    steps.stop();
    signals.dispose();
    trainer.dispose();
  }
}

/** Machine-level launcher: starts this machine's workers and reports a failure clearly. */
async function launch(
  flags: Record<string, unknown>,
  o: { nproc: number; nnodes: number; nodeRank: number; out: string; rankZeroEnv: Record<string, string> },
): Promise<void> {
  if (!distributedBackends().includes('gloo')) {
    throw new RangeError(
      "--nproc/--nnodes need the addon built with gloo: install gloo's headers (Debian: apt-get install libgloo-dev) and run npm run build:native",
    );
  }
  const given = flags.masterPort as number | undefined;
  const masterPort = given ?? (o.nnodes === 1 ? await freePort() : 29500);
  const result = await launchWorkers({
    nproc: o.nproc,
    nnodes: o.nnodes,
    nodeRank: o.nodeRank,
    masterAddr: String(flags.masterAddr),
    masterPort,
    timeoutSeconds: flags.distTimeout as number,
    args: process.argv.slice(1),
    rankZeroEnv: o.rankZeroEnv,
  });
  if (result.failure) {
    const last = o.nodeRank === 0 ? await latestCheckpoint(runPaths(o.out).checkpoints) : null;
    process.exitCode = result.exitCode;
    throw new WorkerFailure(
      `${result.failure}.${last ? ` The last checkpoint is ${last.file} (step ${last.step}); continue with: dermosynth train --out ${o.out} --resume --nproc N` : ''}`,
    );
  }
  process.exitCode = result.exitCode;
}

class WorkerFailure extends Error {
  override name = 'WorkerFailure';
}

/** One worker of a data-parallel run, started by launch() or any launcher setting DERMOSYNTH_RANK etc. */
async function runWorker(flags: Record<string, unknown>, place: WorkerPlace): Promise<void> {
  // Started by our launcher: go when it goes.
  if (process.send) {
    process.on('disconnect', () => {
      process.stderr.write(`rank ${place.rank}: the launcher is gone; stopping\n`);
      process.exit(1);
    });
    process.channel?.unref();
  }
  const threads = Number(process.env.OMP_NUM_THREADS);
  if (Number.isInteger(threads) && threads > 0) torch.setNumThreads(threads);
  const { device, backend } = workerDevice(String(flags.device), place.localRank);
  const pg = ProcessGroup.init({
    backend,
    host: place.masterAddr,
    port: place.masterPort,
    rank: place.rank,
    worldSize: place.worldSize,
    timeoutMs: place.timeoutSeconds * 1000,
    device,
    // PyTorch's variable for the network interface gloo uses.
    ifname: process.env.GLOO_SOCKET_IFNAME || undefined,
  });
  try {
    const key = 'dermosynth/train-options';
    let shared: string;
    if (place.rank === 0) {
      shared = process.env[WORKER_ENV.options] ?? '';
      if (!shared)
        throw new RangeError(
          `rank 0 needs ${WORKER_ENV.options} (the launcher sets it: start runs with dermosynth train --nproc)`,
        );
      pg.storeSet(key, shared);
    } else {
      shared = pg.storeGet(key);
    }
    const {
      options: raw,
      cache: cacheDir,
      newRun,
      init: initName,
      lrSchedule,
    } = JSON.parse(shared) as {
      options: unknown;
      cache: string;
      newRun: boolean;
      init?: string | null;
      lrSchedule?: LrSchedule | null;
    };
    // Only rank 0 loads a --init model; the others take its weights when the run starts.
    const init = initName && place.rank === 0 ? await findModel(initName) : null;
    const options = parseTrainOptions(raw);
    let cache: LesionCache;
    try {
      cache = await LesionCache.open(cacheDir);
    } catch (e) {
      throw new RangeError(
        `rank ${place.rank}: cannot open the prepared data at ${cacheDir} (${(e as Error).message}); every machine needs it at the same path (a shared filesystem, or a copy made with dermosynth data prepare)`,
      );
    }
    const vgg = options.vggWeights
      ? await loadVgg19(options.vggWeights).catch((e: Error) => {
          throw new RangeError(`rank ${place.rank}: --vgg-weights ${options.vggWeights}: ${e.message}`);
        })
      : null;
    await train(
      runPaths(path.resolve(String(flags.out))),
      options,
      cache,
      vgg,
      {
        device,
        dist: { pg, rank: place.rank, worldSize: place.worldSize, localRank: place.localRank },
        syncBatchNorm: Boolean(flags.syncBn),
        precision: flags.precision as torch.Precision,
        lrSchedule: lrSchedule ?? undefined,
      },
      newRun,
      init,
    );
    if (process.exitCode === undefined || process.exitCode === 0) pg.barrier();
  } finally {
    pg.close();
  }
}
