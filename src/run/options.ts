// Training options: what a run is made of, validated, with CPU-sized defaults. The resolved
// options are the `options` of the run's config.json (config.ts); a resumed run must match them.
import { z } from 'zod';
import { MODEL_NAMES } from '../models/types.js';

export { MODEL_NAMES };

export const trainOptionsSchema = z.object({
  /** A dataset folder or a prepared cache; null trains on the built-in sample data. */
  data: z.string().nullable(),
  model: z.enum(MODEL_NAMES),
  /** Network sizes: 'cpu' (small, the default at 64x64) or the papers' 'published' sizes. */
  preset: z.enum(['cpu', 'published']),
  width: z.number().int().min(16).max(8192),
  height: z.number().int().min(16).max(8192),
  batch: z.number().int().min(1).max(4096),
  seed: z.number().int().min(0),
  /** Total steps; null: (epochs + decayEpochs) epochs. */
  steps: z.number().int().min(1).nullable(),
  /** Epochs at the initial learning rate, then epochs of linear decay to zero. */
  epochs: z.number().int().min(0),
  decayEpochs: z.number().int().min(0),
  lr: z.number().positive(),
  beta1: z.number().min(0).max(1),
  beta2: z.number().min(0).max(1),
  /** Coarse to fine (generators with local enhancers): epochs of the global generator alone at low resolution, then epochs with it frozen; null picks a quarter and a tenth of the run. */
  globalEpochs: z.number().int().min(0).nullable(),
  fixGlobalEpochs: z.number().int().min(0).nullable(),
  checkpointEvery: z.number().int().min(1),
  keepCheckpoints: z.number().int().min(1),
  sampleEvery: z.number().int().min(1),
  /** Stop after this many consecutive steps with a non-finite loss (each is skipped and logged). */
  maxBadSteps: z.number().int().min(1),
  vggWeights: z.string().nullable(),
  augment: z.enum(['none', 'default', 'strong']),
  fit: z.enum(['crop', 'pad']),
  boundary: z.number().int().min(0).max(64),
  frame: z.boolean(),
  skipBad: z.boolean(),
  /** Generator/discriminator overrides on top of the preset (ngf, nBlocks, ...). */
  modelOverrides: z.record(z.string(), z.union([z.number(), z.string(), z.boolean()])),
  /**
   * Decay of the moving average of the generator's weights (0: none). With one, checkpoints hold
   * the average too and the samples, readers of the checkpoints and generator.safetensors use it.
   * Runs made before this field have none.
   */
  gEma: z.number().min(0).lt(1).default(0),
  /** Loss weights on top of the model's defaults (runs made before this field have none). */
  lossOverrides: z
    .object({ featureMatching: z.number().min(0).optional(), featureStd: z.number().min(0).optional() })
    .strict()
    .default({}),
});
export type TrainOptions = z.infer<typeof trainOptionsSchema>;

export const DEFAULT_TRAIN_OPTIONS: TrainOptions = {
  data: null,
  model: 'proposed',
  preset: 'cpu',
  width: 64,
  height: 64,
  batch: 1,
  seed: 0,
  steps: null,
  epochs: 20,
  decayEpochs: 20,
  lr: 2e-4,
  beta1: 0.5,
  beta2: 0.999,
  globalEpochs: null,
  fixGlobalEpochs: null,
  checkpointEvery: 500,
  keepCheckpoints: 3,
  sampleEvery: 250,
  maxBadSteps: 10,
  vggWeights: null,
  augment: 'default',
  fit: 'crop',
  boundary: 0,
  frame: false,
  skipBad: false,
  modelOverrides: {},
  gEma: 0,
  lossOverrides: {},
};

/** Validates options, naming the offending field. */
export function parseTrainOptions(o: unknown): TrainOptions {
  const r = trainOptionsSchema.safeParse(o);
  if (!r.success) {
    const i = r.error.issues[0]!;
    throw new RangeError(`training option '${i.path.join('.')}': ${i.message}`);
  }
  return r.data;
}

/** Fields whose values differ between two option sets (for --resume). */
export function differingOptions(a: TrainOptions, b: TrainOptions): (keyof TrainOptions)[] {
  return (Object.keys(a) as (keyof TrainOptions)[]).filter((k) => JSON.stringify(a[k]) !== JSON.stringify(b[k]));
}
