// A run directory's config.json: the resolved options, model and losses, so that later commands
// (resume, synthesis, evaluation) load the run without repeating options. Written atomically when
// a run starts; read back checked (format, version, the options validated).
import { readFile } from 'node:fs/promises';
import { writeJsonAtomic } from '../util/atomic_file.js';
import { parseTrainOptions, type TrainOptions } from './options.js';

/**
 * How the learning rate decays. 'per-epoch' (runs by epochs, as pix2pixHD): constant for `epochs`,
 * then linear decay to zero over `decayEpochs`, updated once per epoch. 'per-step' (runs given
 * `--steps`): the same shape stretched to the run's steps (constant for the first
 * epochs / (epochs + decayEpochs) of them, then linear decay to zero at the last), updated every
 * step. Runs made with --steps before 'per-step' existed keep 'per-epoch' when resumed.
 */
export const LR_SCHEDULES = ['per-epoch', 'per-step'] as const;
export type LrSchedule = (typeof LR_SCHEDULES)[number];

/** 'per-step': the steps at the full rate and the steps of decay to zero, for a run of `totalSteps`. */
export function perStepDecay(o: Pick<TrainOptions, 'epochs' | 'decayEpochs'>, totalSteps: number): [number, number] {
  const share = o.epochs + o.decayEpochs > 0 ? o.epochs / (o.epochs + o.decayEpochs) : 1;
  return [share * totalSteps, (1 - share) * totalSteps];
}

export const RUN_CONFIG_FORMAT = 'dermosynth-run';
export const RUN_CONFIG_VERSION = 1;

export interface RunConfig {
  format: typeof RUN_CONFIG_FORMAT;
  version: number;
  created: string;
  options: TrainOptions;
  /** The resolved network options (preset plus overrides) and loss weights. */
  model: {
    generator: string;
    options: Record<string, unknown>;
    losses: Record<string, unknown>;
    parameters: { generator: number; discriminator: number };
  };
  data: {
    cache: string;
    size: [number, number];
    labelChannels: string[];
    classes: string[];
    train: number;
    val: number;
    test: number;
  };
  /**
   * Steps per epoch, total steps and coarse-to-fine stage epochs, as computed at the start, and how
   * the learning rate follows them (`lr`; runs made before this field have none: 'per-epoch').
   */
  schedule: {
    stepsPerEpoch: number;
    totalSteps: number;
    globalEpochs: number;
    fixGlobalEpochs: number;
    lr?: LrSchedule;
  };
  /** Where the run started: device, precision and processes (a resume may use others). */
  runtime?: { device: string; precision: string; processes: number };
  /** The machine the run started on (runs made before this field have none). */
  machine?: { cpu: string; cores: number; threads: number };
  /** `train --init NAME`: the pretrained model the generator started from (the discriminator started fresh). */
  init?: { name: string; folder: string; weightsSha256: string; sourceRun: string; sourceStep: number | null };
}

export async function writeRunConfig(file: string, c: RunConfig): Promise<void> {
  await writeJsonAtomic(file, c);
}

export async function readRunConfig(file: string): Promise<RunConfig | null> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw e;
  }
  const c = JSON.parse(text) as RunConfig;
  if (c.format !== RUN_CONFIG_FORMAT || c.version !== RUN_CONFIG_VERSION)
    throw new RangeError(`${file}: not a dermosynth run config of version ${RUN_CONFIG_VERSION}`);
  c.options = parseTrainOptions(c.options);
  const lr = (c.schedule as { lr?: unknown } | undefined)?.lr;
  if (lr !== undefined && !LR_SCHEDULES.includes(lr as LrSchedule))
    throw new RangeError(
      `${file}: schedule.lr is ${JSON.stringify(lr)}; it must be one of ${LR_SCHEDULES.map((v) => `'${v}'`).join(', ')} (or absent: 'per-epoch')`,
    );
  return c;
}
