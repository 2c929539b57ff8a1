// dermosynth train: a conditional GAN on a dataset, a prepared cache, or the built-in sample data.
import { Command, Option } from 'commander';
import path from 'node:path';
import { checkImageSize, loadVgg19, resolveOptions } from '../models/registry.js';
import { ISIC2017_CLASSES } from '../data/diagnosis.js';
import { openTrainingData } from '../train/training_data.js';
import { DEFAULT_TRAIN_OPTIONS, MODEL_NAMES, differingOptions, parseTrainOptions, type TrainOptions } from '../train/options.js';
import { readRunConfig, writeRunConfig } from '../train/run_config.js';
import { Trainer, runPaths } from '../train/trainer.js';
import { intIn, parseSize } from './parse.js';
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
};
/** CLI flag -> network option (overrides on top of the preset). */
const MODEL_FLAG_OPTIONS: Record<string, string> = {
  ngf: 'ngf',
  nDown: 'nDown',
  nBlocks: 'nBlocks',
  localEnhancers: 'numLocalEnhancers',
  skip: 'skip',
  ndf: 'ndf',
  numD: 'numD',
  nLayersD: 'nLayersD',
};
const MODEL_FLAGS = Object.keys(MODEL_FLAG_OPTIONS);

function positiveNumber(v: string): number {
  const n = Number(v);
  if (v.trim() === '' || !Number.isFinite(n) || n <= 0) throw new Error(`expected a positive number, got '${v}'`);
  return n;
}

export function trainCommand(): Command {
  const cmd = new Command('train')
    .description('train a conditional GAN (label map -> dermoscopy image); with no --data, on the built-in sample data at 64x64')
    .requiredOption('--out <run>', 'the run folder: config.json, log.jsonl, checkpoints/, samples/, generator.safetensors')
    .option('--data <dir>', 'a dataset folder (prepared into RUN/cache) or a prepared cache (default: the built-in sample data)')
    .addOption(new Option('--model <name>', 'the generator and its losses').choices(MODEL_NAMES).default(D.model))
    .addOption(new Option('--preset <p>', "network sizes: 'cpu' (small) or the papers' 'published' sizes").choices(['cpu', 'published']).default(D.preset))
    .addOption(new Option('--size <WxH>', 'training size (e.g. 64x64, 256x256, 1024x768)').argParser(parseSize).default({ width: D.width, height: D.height }, `${D.width}x${D.height}`))
    .addOption(new Option('--steps <n>', 'total steps (default: (epochs + decay-epochs) epochs)').argParser(intIn(1, 1e9)))
    .addOption(new Option('--epochs <n>', 'epochs at the initial learning rate').argParser(intIn(0, 1e6)).default(D.epochs))
    .addOption(new Option('--decay-epochs <n>', 'then epochs of linear decay to zero').argParser(intIn(0, 1e6)).default(D.decayEpochs))
    .addOption(new Option('--batch <n>', 'batch size').argParser(intIn(1, 4096)).default(D.batch))
    .addOption(new Option('--seed <n>', 'seed of weights, data order and augmentation').argParser(intIn(0, 2 ** 31 - 1)).default(D.seed))
    .option('--resume', 'continue the run in --out from its last checkpoint (options must match the run)', false)
    .addOption(new Option('--lr <x>', 'Adam learning rate').argParser(positiveNumber).default(D.lr))
    .addOption(new Option('--beta1 <x>', 'Adam beta1').argParser(positiveNumber).default(D.beta1))
    .addOption(new Option('--beta2 <x>', 'Adam beta2').argParser(positiveNumber).default(D.beta2))
    .addOption(new Option('--global-epochs <n>', 'coarse to fine: epochs of the global generator alone (default: a quarter of the run)').argParser(intIn(0, 1e6)))
    .addOption(new Option('--fix-global-epochs <n>', 'then epochs of the local enhancers with the global generator frozen (default: a tenth)').argParser(intIn(0, 1e6)))
    .addOption(new Option('--checkpoint-every <n>', 'steps between checkpoints').argParser(intIn(1, 1e9)).default(D.checkpointEvery))
    .addOption(new Option('--keep-checkpoints <n>', 'checkpoints kept').argParser(intIn(1, 1000)).default(D.keepCheckpoints))
    .addOption(new Option('--sample-every <n>', 'steps between sample grids').argParser(intIn(1, 1e9)).default(D.sampleEvery))
    .addOption(new Option('--max-bad-steps <n>', 'stop after this many steps in a row with a non-finite loss').argParser(intIn(1, 1e6)).default(D.maxBadSteps))
    .option('--vgg-weights <file>', "torchvision's VGG19 weights as safetensors: turns the VGG perceptual loss on")
    .addOption(new Option('--augment <preset>', 'none, default (flips, quarter turns) or strong (plus affine and colour)').choices(['none', 'default', 'strong']).default(D.augment))
    .addOption(new Option('--fit <mode>', 'other aspect ratios: crop or pad').choices(['crop', 'pad']).default(D.fit))
    .addOption(new Option('--boundary <px>', 'lesion-boundary channel width (0: none)').argParser(intIn(0, 64)).default(D.boundary))
    .option('--frame', 'dermoscope-frame class in the label map', D.frame)
    .option('--skip-bad', 'leave unusable lesions out when preparing the data', D.skipBad)
    .addOption(new Option('--ngf <n>', 'generator base channels (overrides the preset)').argParser(intIn(1, 4096)))
    .addOption(new Option('--n-down <n>', 'generator downsamplings').argParser(intIn(0, 12)))
    .addOption(new Option('--n-blocks <n>', 'generator residual blocks').argParser(intIn(0, 64)))
    .addOption(new Option('--local-enhancers <n>', 'local enhancers (each doubles the resolution)').argParser(intIn(0, 4)))
    .addOption(new Option('--skip <kind>', 'proposed: skip connections').choices(['concat', 'add', 'none']))
    .addOption(new Option('--ndf <n>', 'discriminator base channels').argParser(intIn(1, 4096)))
    .addOption(new Option('--num-d <n>', 'discriminator scales').argParser(intIn(1, 8)))
    .addOption(new Option('--n-layers-d <n>', 'discriminator layers').argParser(intIn(1, 8)))
    .action(async (flags: Record<string, unknown>, command: Command) => {
      await runTrain(flags, command);
    });
  return cmd;
}

async function runTrain(flags: Record<string, unknown>, command: Command): Promise<void> {
  const out = path.resolve(String(flags.out));
  const paths = runPaths(out);
  const given = (name: string) => command.getOptionValueSource(name) === 'cli';
  const fromFlags: TrainOptions = { ...D, modelOverrides: {} };
  for (const [flag, field] of Object.entries(FLAG_FIELDS)) {
    if (flags[flag] !== undefined) (fromFlags as Record<string, unknown>)[field] = flags[flag];
  }
  fromFlags.data = flags.data === undefined ? null : path.resolve(String(flags.data));
  fromFlags.vggWeights = flags.vggWeights === undefined ? null : path.resolve(String(flags.vggWeights));
  const size = flags.size as { width: number; height: number };
  fromFlags.width = size.width;
  fromFlags.height = size.height;
  for (const k of MODEL_FLAGS) if (flags[k] !== undefined) fromFlags.modelOverrides[MODEL_FLAG_OPTIONS[k]!] = flags[k] as number | string;

  const existing = await readRunConfig(paths.config);
  let options: TrainOptions;
  if (flags.resume) {
    if (!existing) throw new RangeError(`--resume: ${out} holds no run (no config.json); start one without --resume`);
    options = existing.options;
    const fieldsOf = (flag: string): (keyof TrainOptions)[] =>
      flag === 'size' ? ['width', 'height'] : MODEL_FLAGS.includes(flag) ? ['modelOverrides'] : FLAG_FIELDS[flag] ? [FLAG_FIELDS[flag]] : [];
    const explicit = new Set(Object.keys(flags).filter(given).flatMap(fieldsOf));
    const candidate = parseTrainOptions(fromFlags);
    const differing = differingOptions(options, candidate).filter((f) => explicit.has(f));
    if (differing.length > 0) {
      throw new RangeError(
        `--resume: the run in ${out} was made with other options (${differing.map((f) => `${f}: run ${JSON.stringify(options[f])}, given ${JSON.stringify(candidate[f])}`).join('; ')}); drop those flags to resume it, or start a new run in another folder`,
      );
    }
  } else {
    if (existing) throw new RangeError(`${out} already holds a run (config.json); add --resume to continue it, or choose another --out`);
    options = parseTrainOptions(fromFlags);
  }

  // The size check needs no data: fail before preparing any.
  const labelChannels = 1 + ISIC2017_CLASSES.length + (options.frame ? 1 : 0) + (options.boundary > 0 ? 1 : 0);
  try {
    checkImageSize(options.model, resolveOptions(options.model, labelChannels, options.modelOverrides, options.preset), options.width, options.height);
  } catch (e) {
    // The network options come from the flags: a mismatch is the user's to fix, not a bug.
    throw new RangeError((e as Error).message);
  }

  let vgg = null;
  if (options.vggWeights) {
    try {
      vgg = await loadVgg19(options.vggWeights);
    } catch (e) {
      throw new RangeError(`--vgg-weights ${options.vggWeights}: ${(e as Error).message}`);
    }
  }

  const bars = phasedProgress(PREPARE_PHASES, 'lesions');
  const cache = await openTrainingData(out, options, (p) => bars.update(p)).finally(() => bars.stop());

  const notice = (m: string) => process.stderr.write(`${m}\n`);
  const trainer = new Trainer(paths, options, cache, vgg, { onNotice: notice });
  const m = trainer.models;
  if (!existing) await writeRunConfig(paths.config, trainer.runConfig());
  const signals = watchStopSignals('saving a checkpoint after this step');
  const start = await trainer.resume();
  console.error(
    `${start > 0 ? `resuming at step ${start}` : 'training'}: ${options.model} (${options.preset}), G ${(m.generator.numParameters() / 1e6).toFixed(2)}M / D ${(m.discriminator.numParameters() / 1e6).toFixed(2)}M parameters, ` +
      `${options.width}x${options.height}, batch ${options.batch}, ${trainer.totalSteps} steps (${trainer.stepsPerEpoch} per epoch) -> ${out}`,
  );

  const steps = progress('training', trainer.totalSteps, 'steps');
  try {
    const result = await trainer.run({
      onStep: (s) => steps.update(s.step, s.totalSteps, `${s.stage} e${s.epoch} ${Object.entries(s.losses).map(([k, v]) => `${k} ${v.toFixed(3)}`).join(' ')}`),
      onNotice: notice,
      shouldStop: () => signals.signal !== null,
    });
    steps.stop();
    if (!result.finished) {
      console.log(`stopped at step ${result.step} of ${result.totalSteps}; checkpoint ${result.lastCheckpoint}. Continue with: dermosynth train --out ${out} --resume`);
      process.exitCode = signals.exitCode;
      return;
    }
    console.log(`done: ${result.step} steps. Generator weights: ${result.generatorFile}; sample grids: ${paths.samples}; losses: ${paths.log}`);
  } finally {
    steps.stop();
    signals.dispose();
    trainer.dispose();
  }
}
