// A packaged ("pretrained") model folder, as `dermosynth models pack` writes it and as it ships in
// the repository's models/ folder:
//
//   config.json             this file's ModelConfig: the name, model, size, diagnoses, label map
//                           (version, channels), the training data's content key, the weights'
//                           file/dtype/sha256, where they came from (run, step, source sha256),
//                           and the source run's own config (what RunGenerator needs to build the
//                           generator: model, preset, network overrides, fit, label-map options)
//   generator.safetensors   the generator's state dict in float16 (integer buffers as they are),
//                           with the provenance in the safetensors metadata; loading converts it
//                           to the generator's float32
//   grids/<diagnosis>.png   label | generated rows on a few fixed label maps
//   MODEL_CARD.md           data, licence, training, metrics, failure cases, intended use
//   metrics.json            the source run's evaluation (when it was made for these weights)
//
// RunGenerator.load takes such a folder as it takes a run folder.
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import { MODEL_NAMES } from '../models/types.js';
import { RUN_CONFIG_FORMAT, type RunConfig } from '../run/config.js';
import { parseTrainOptions } from '../run/options.js';

export const MODEL_FORMAT = 'dermosynth-model';
export const MODEL_VERSION = 1;
export const MODEL_CONFIG_FILE = 'config.json';
export const MODEL_WEIGHTS_FILE = 'generator.safetensors';
export const MODEL_CARD_FILE = 'MODEL_CARD.md';
export const MODEL_GRIDS_DIR = 'grids';
/** The largest weights file a shipped model may have (the issue's limit: 25 MB, decimal). */
export const MODEL_WEIGHTS_LIMIT = 25_000_000;
/** Model names: what `--pretrained NAME` and `--init NAME` take. */
export const MODEL_NAME_PATTERN = /^[a-z0-9][a-z0-9._-]{0,63}$/;

const modelConfigSchema = z.object({
  format: z.literal(MODEL_FORMAT),
  version: z.literal(MODEL_VERSION),
  name: z.string().regex(MODEL_NAME_PATTERN),
  created: z.string(),
  /** The generator architecture (the run's --model). */
  model: z.enum(MODEL_NAMES),
  /** [width, height] in pixels. */
  size: z.tuple([z.number().int().positive(), z.number().int().positive()]),
  /** The diagnoses, in label order (lesion class k + 1 is diagnoses[k]). */
  diagnoses: z.array(z.string()).min(1),
  labelMap: z.object({
    version: z.number().int(),
    channels: z.array(z.string()),
    boundary: z.number().int().min(0),
    frame: z.boolean(),
  }),
  /** The training data: the cache's content key (aux_networks.ts cacheContentKey; null when the cache was gone), its split sizes. */
  data: z.object({
    contentKey: z.string().nullable(),
    cacheKey: z.string().nullable(),
    train: z.number().int(),
    val: z.number().int(),
    test: z.number().int(),
  }),
  weights: z.object({
    file: z.string(),
    dtype: z.literal('float16'),
    sha256: z.string(),
    bytes: z.number().int(),
    parameters: z.number().int(),
  }),
  /** Where the weights came from: the run, the training step, the float32 file and its sha256. */
  source: z.object({
    run: z.string(),
    step: z.number().int().nullable(),
    weights: z.string(),
    weightsSha256: z.string(),
  }),
  /** The source run's config.json (options, networks, data, schedule). */
  run: z.record(z.string(), z.unknown()),
});

export type ModelConfig = Omit<z.infer<typeof modelConfigSchema>, 'run'> & { run: RunConfig };

/** True when `dir` holds a model folder's config (not a training run's). */
export async function isModelFolder(dir: string): Promise<boolean> {
  return (await readModelConfig(dir).catch(() => null)) !== null;
}

/**
 * A model folder's config, checked; null when the folder's config.json is not a model's (absent,
 * or a training run's). A model config that does not parse is an error naming the file.
 */
export async function readModelConfig(dir: string): Promise<ModelConfig | null> {
  const file = path.join(dir, MODEL_CONFIG_FILE);
  if (!existsSync(file)) return null;
  let raw: unknown;
  try {
    raw = JSON.parse(await readFile(file, 'utf8'));
  } catch (e) {
    throw new RangeError(`${file}: not JSON (${(e as Error).message})`);
  }
  if ((raw as { format?: unknown } | null)?.format !== MODEL_FORMAT) return null;
  const r = modelConfigSchema.safeParse(raw);
  if (!r.success) {
    const i = r.error.issues[0]!;
    throw new RangeError(
      `${file}: not a dermosynth model config of version ${MODEL_VERSION} (${i.path.join('.')}: ${i.message})`,
    );
  }
  const run = r.data.run as unknown as RunConfig;
  if (run.format !== RUN_CONFIG_FORMAT || !run.options || !run.data)
    throw new RangeError(`${file}: its 'run' is not a dermosynth run config`);
  return { ...r.data, run: { ...run, options: parseTrainOptions(run.options) } };
}

/** "128x128" */
export function sizeText(size: readonly [number, number]): string {
  return `${size[0]}x${size[1]}`;
}
