// The models that ship with dermosynth: every `models/*/config.json` of a model folder
// (model_folder.ts) in the installed package, looked up by the name in its config (the folder's
// name is accepted too). DERMOSYNTH_MODELS_DIR points elsewhere (tests, a private collection).
import { createHash } from 'node:crypto';
import { existsSync, statSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as torch from '../torch/index.js';
import type { GeneratorModule } from '../models/types.js';
import { MODEL_WEIGHTS_FILE, readModelConfig, sizeText, type ModelConfig } from './model_folder.js';
import { RunError, loadConverted } from './run_generator.js';

export const MODELS_DIR_ENV = 'DERMOSYNTH_MODELS_DIR';
/** The model `serve` picks when several ship and none is named. */
export const DEFAULT_MODEL = 'isic2017-128';

/** Where shipped models are: $DERMOSYNTH_MODELS_DIR, else the package root's models/ folder. */
export function modelsDir(): string {
  const env = process.env[MODELS_DIR_ENV];
  if (env) return path.resolve(env);
  // This file is src/synth/pretrained.ts: the package root is two folders up.
  return fileURLToPath(new URL('../../models', import.meta.url));
}

export interface InstalledModel {
  name: string;
  dir: string;
  config: ModelConfig;
  /** Bytes of generator.safetensors (0 when it is missing). */
  weightsBytes: number;
}

export interface ModelListing {
  dir: string;
  models: InstalledModel[];
  /** Folders that look like models but cannot be used, one line each. */
  problems: string[];
}

/** Every model folder under `dir`, sorted by name. */
export async function listModels(dir = modelsDir()): Promise<ModelListing> {
  const listing: ModelListing = { dir, models: [], problems: [] };
  if (!existsSync(dir)) return listing;
  const entries = (await readdir(dir, { withFileTypes: true }))
    .filter((e) => e.isDirectory())
    .map((e) => e.name)
    .sort();
  for (const folder of entries) {
    const d = path.join(dir, folder);
    let config: ModelConfig | null;
    try {
      config = await readModelConfig(d);
    } catch (e) {
      listing.problems.push((e as Error).message);
      continue;
    }
    if (!config) continue;
    const w = path.join(d, MODEL_WEIGHTS_FILE);
    const weightsBytes = existsSync(w) ? statSync(w).size : 0;
    if (weightsBytes === 0) listing.problems.push(`${d}: ${MODEL_WEIGHTS_FILE} is missing`);
    const clash = listing.models.find((m) => m.name === config.name);
    if (clash) {
      listing.problems.push(`${d}: the name ${config.name} is taken by ${clash.dir}; this one is left out`);
      continue;
    }
    listing.models.push({ name: config.name, dir: d, config, weightsBytes });
  }
  listing.models.sort((a, b) => a.name.localeCompare(b.name));
  return listing;
}

/** The shipped model called `name` (its config's name, or its folder's); an unknown name lists the available ones. */
export async function findModel(name: string, dir = modelsDir()): Promise<InstalledModel> {
  const listing = await listModels(dir);
  const m = listing.models.find((x) => x.name === name) ?? listing.models.find((x) => path.basename(x.dir) === name);
  if (m) {
    if (m.weightsBytes === 0)
      throw new RunError(`pretrained model ${name}: ${path.join(m.dir, MODEL_WEIGHTS_FILE)} is missing`);
    return m;
  }
  throw new RunError(`no pretrained model '${name}': ${availableText(listing)}`);
}

/** "the available models are a (folder), b (folder)" or "no model ships ...". */
export function availableText(listing: ModelListing): string {
  if (listing.models.length === 0) {
    return `no pretrained model ships with this dermosynth yet (${listing.dir} has none${listing.problems.length ? `; ${listing.problems.join('; ')}` : ''}); train one with 'dermosynth train', or pass --run RUN`;
  }
  return `the available models are ${listing.models.map((m) => m.name).join(', ')} (in ${listing.dir}; 'dermosynth models' lists them)`;
}

/** The model `serve` uses when given neither --run nor --pretrained: null when none ships. */
export async function defaultModel(dir = modelsDir()): Promise<{ model: InstalledModel; others: string[] } | null> {
  const usable = (await listModels(dir)).models.filter((m) => m.weightsBytes > 0);
  if (usable.length === 0) return null;
  const model = usable.find((m) => m.name === DEFAULT_MODEL) ?? usable[0]!;
  return { model, others: usable.filter((m) => m !== model).map((m) => m.name) };
}

/**
 * Checks a request against what a model can do: a size and diagnoses it was trained for. The
 * error names the model's size and diagnoses.
 */
export function checkModelFits(
  m: InstalledModel,
  want: { size?: { width: number; height: number } | null; diagnoses?: readonly string[]; flag?: string },
): void {
  const c = m.config;
  const what = `pretrained model ${m.name} is ${c.model} at ${sizeText(c.size)} for ${c.diagnoses.join(', ')}`;
  if (want.size && (want.size.width !== c.size[0] || want.size.height !== c.size[1])) {
    throw new RunError(
      `${want.flag ?? '--size'} ${want.size.width}x${want.size.height}: the ${what}; it makes ${sizeText(c.size)} images only`,
    );
  }
  const missing = (want.diagnoses ?? []).filter((d) => !c.diagnoses.includes(d));
  if (missing.length > 0) {
    throw new RunError(
      `${want.flag ?? '--class'} ${missing.join(', ')}: the ${what}; it cannot make ${missing.length > 1 ? 'these diagnoses' : 'that diagnosis'}`,
    );
  }
}

/**
 * A few fixed lesion masks (0/255, row-major) at a size, for sample grids and tests: [0] a centred
 * ellipse covering about 19% of the image, [1] a smaller round lesion off centre, [2] a lobed,
 * irregular lesion (a melanoma-like outline).
 */
export function referenceMasks(width: number, height: number): Uint8Array[] {
  const shapes: ((x: number, y: number) => boolean)[] = [
    (x, y) => (x / 0.3) ** 2 + (y / 0.2) ** 2 <= 1,
    (x, y) => ((x + 0.18) / 0.14) ** 2 + ((y + 0.12) / 0.14) ** 2 <= 1,
    (x, y) => {
      const r = Math.hypot(x, y);
      const a = Math.atan2(y, x);
      return r <= 0.24 * (1 + 0.22 * Math.sin(3 * a) + 0.12 * Math.cos(5 * a + 1));
    },
  ];
  return shapes.map((inside) => {
    const m = new Uint8Array(width * height);
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        // Coordinates in [-0.5, 0.5] of the shorter side, centred.
        const s = Math.min(width, height);
        if (inside((x + 0.5 - width / 2) / s, (y + 0.5 - height / 2) / s)) m[y * width + x] = 255;
      }
    }
    return m;
  });
}

/** Generator options that only size the discriminator, or say nothing about the generator's shape. */
const NOT_GENERATOR = new Set(['model', 'preset', 'labelChannels', 'numD', 'nLayersD', 'ndf', 'normD']);

/**
 * What a new run (its resolved options, label-map options and, once its data is open, its
 * diagnoses) does not share with a pretrained model it is initialised from: the size, the model,
 * the generator's network options and the label map must match; the discriminator may differ.
 * Returns one phrase per mismatch, naming this run's value and the model's.
 */
export function initMismatches(
  m: InstalledModel,
  run: {
    model: string;
    width: number;
    height: number;
    boundary: number;
    frame: boolean;
    generatorOptions: Record<string, unknown>;
    diagnoses?: readonly string[];
  },
): string[] {
  const c = m.config;
  const out: string[] = [];
  if (run.width !== c.size[0] || run.height !== c.size[1])
    out.push(`size ${run.width}x${run.height} (the model's ${sizeText(c.size)})`);
  if (run.model !== c.model) out.push(`model ${run.model} (the model's ${c.model})`);
  else {
    const theirs = c.run.model.options;
    for (const k of new Set([...Object.keys(theirs), ...Object.keys(run.generatorOptions)])) {
      if (NOT_GENERATOR.has(k)) continue;
      if (JSON.stringify(run.generatorOptions[k]) !== JSON.stringify(theirs[k]))
        out.push(`${k} ${String(run.generatorOptions[k])} (the model's ${String(theirs[k])})`);
    }
  }
  if (run.boundary !== c.labelMap.boundary) out.push(`boundary ${run.boundary} (the model's ${c.labelMap.boundary})`);
  if (run.frame !== c.labelMap.frame)
    out.push(`frame ${run.frame ? 'on' : 'off'} (the model's ${c.labelMap.frame ? 'on' : 'off'})`);
  if (run.diagnoses && run.diagnoses.join(',') !== c.diagnoses.join(','))
    out.push(`diagnoses ${run.diagnoses.join(', ')} (the model's ${c.diagnoses.join(', ')}, in this order)`);
  return out;
}

/** The run options --init takes from the model unless the command line gives them. */
export function initDefaults(m: InstalledModel): {
  width: number;
  height: number;
  model: string;
  preset: string;
  modelOverrides: Record<string, number | string | boolean>;
  fit: string;
  boundary: number;
  frame: boolean;
} {
  const o = m.config.run.options;
  return {
    width: m.config.size[0],
    height: m.config.size[1],
    model: o.model,
    preset: o.preset,
    modelOverrides: { ...o.modelOverrides },
    fit: o.fit,
    boundary: m.config.labelMap.boundary,
    frame: m.config.labelMap.frame,
  };
}

/**
 * Copies a model's weights (float16, converted) into a freshly built generator of the same
 * architecture: what `train --init NAME` starts from. Checks the file's sha256 against config.json.
 */
export async function initGeneratorFrom(
  generator: GeneratorModule,
  m: InstalledModel,
): Promise<{ sha256: string; file: string }> {
  const file = path.join(m.dir, MODEL_WEIGHTS_FILE);
  const bytes = await readFile(file);
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  if (sha256 !== m.config.weights.sha256)
    throw new RunError(`${file}: its sha256 is not the one config.json records: the file was changed or damaged`);
  const { tensors } = torch.readSafetensors(bytes, file);
  try {
    loadConverted(generator, tensors, file);
  } catch (e) {
    throw new RunError(`--init ${m.name}: ${(e as Error).message}`);
  } finally {
    torch.dispose(tensors);
  }
  return { sha256, file };
}
