// A trained run's generator, ready for inference: the run's config (model, size, label map), the
// weights (the final generator.safetensors, else the newest checkpoint, or a file named by the
// user) with their sha256 for provenance, and `generate(labelBytes) -> RGB bytes` in batches, in
// float32 or under autocast (bf16, fp16 on CUDA).
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import * as torch from '../torch/index.js';
import type { Device, Precision, Tensor } from '../torch/index.js';
import { labelMapSpec, oneHotLabels, type LabelMapSpec } from '../data/label_map.js';
import { buildGenerator } from '../models/registry.js';
import type { GeneratorModule, ModelName } from '../models/types.js';
import { checkpointStep, latestCheckpoint } from '../run/checkpoints.js';
import { readRunConfig, type RunConfig } from '../run/config.js';
import { runPaths } from '../run/layout.js';
import { imagesToRgb } from '../data/sample_grid.js';
import { MODEL_CONFIG_FILE, MODEL_WEIGHTS_FILE, readModelConfig, type ModelConfig } from './model_folder.js';

/** A run folder that cannot be used (missing, no config, no weights, weights of another model). */
export class RunError extends Error {
  override name = 'RunError';
}

export interface RunWeights {
  file: string;
  /** sha256 of the weights file, hex: what provenance records. */
  sha256: string;
  /** The training step of a checkpoint; null for the final generator.safetensors or a user file. */
  step: number | null;
}

/** What made an image: recorded by synthesis and evaluation. */
export interface GeneratorProvenance {
  /** The run folder (absolute). */
  run: string;
  model: string;
  weights: RunWeights;
  size: [number, number];
  /** The generator's forward precision: fp32, or autocast to bf16 / fp16. */
  precision: Precision;
}

export interface LoadRunOptions {
  device?: Device;
  /** A weights file to use instead of the run's own (a checkpoint or a generator safetensors). */
  weights?: string;
  /** Run the generator's forward under autocast (bf16; fp16 needs CUDA); images are float32 either way. Default fp32. */
  precision?: Precision;
}

export class RunGenerator {
  private constructor(
    readonly dir: string,
    readonly config: RunConfig,
    readonly spec: LabelMapSpec,
    readonly generator: GeneratorModule,
    readonly weights: RunWeights,
    readonly device: Device,
    readonly precision: Precision,
    /** The packaged model's config when `dir` is a model folder (models/NAME), null for a training run. */
    readonly pretrained: ModelConfig | null = null,
  ) {}

  get model(): ModelName {
    return this.config.options.model;
  }
  get width(): number {
    return this.config.options.width;
  }
  get height(): number {
    return this.config.options.height;
  }
  get provenance(): GeneratorProvenance {
    return {
      run: path.resolve(this.dir),
      model: this.model,
      weights: { ...this.weights, file: path.resolve(this.weights.file) },
      size: [this.width, this.height],
      precision: this.precision,
    };
  }
  /** The diagnoses the run was trained on, in label order. */
  get classes(): string[] {
    return this.spec.classes;
  }

  /**
   * Loads a run directory written by `dermosynth train`, or a packaged model folder written by
   * `dermosynth models pack` (model_folder.ts); errors name the directory and what is missing.
   */
  static async load(dir: string, o: LoadRunOptions = {}): Promise<RunGenerator> {
    const device = torch.checkDevice(o.device ?? 'cpu');
    const precision = torch.amp.checkPrecision(o.precision ?? 'fp32', device);
    const paths = runPaths(dir);
    if (!existsSync(dir))
      throw new RunError(`${dir}: no such run directory; pass the --out folder of a 'dermosynth train' run`);
    let model: ModelConfig | null;
    try {
      model = await readModelConfig(dir);
    } catch (e) {
      throw new RunError((e as Error).message);
    }
    if (model) return RunGenerator.loadModel(dir, model, o, device, precision);
    let config: RunConfig | null;
    try {
      config = await readRunConfig(paths.config);
    } catch (e) {
      throw new RunError(`${paths.config}: cannot read the run's config (${(e as Error).message})`);
    }
    if (!config)
      throw new RunError(
        `${dir}: not a training run (no config.json); pass the --out folder of a 'dermosynth train' run`,
      );
    const spec = labelMapSpec(config.data.classes, { boundary: config.options.boundary, frame: config.options.frame });
    if (spec.channels.join(',') !== config.data.labelChannels.join(',')) {
      throw new RunError(
        `${paths.config}: the label channels (${config.data.labelChannels.join(', ')}) do not match this dermosynth's label map (${spec.channels.join(', ')})`,
      );
    }
    const weights = await findWeights(dir, o.weights);
    const o2 = config.options;
    const { generator } = buildGenerator(o2.model, spec.channels.length, o2.modelOverrides, o2.preset);
    const { tensors } = torch.readSafetensors(weights.bytes, weights.file);
    try {
      // A checkpoint holds G.*, D.* and optimizer state (and Gema.*, the generator's weight
      // average, when the run has --g-ema: that is the generator it samples from); a generator
      // file holds G's names alone.
      const keys = [...tensors.keys()];
      const prefix = keys.some((k) => k.startsWith('Gema.'))
        ? 'Gema.'
        : keys.some((k) => k.startsWith('G.'))
          ? 'G.'
          : '';
      const state = prefix
        ? new Map([...tensors].filter(([k]) => k.startsWith(prefix)).map(([k, t]) => [k.slice(prefix.length), t]))
        : tensors;
      try {
        generator.loadStateDict(state, { source: weights.file });
      } catch (e) {
        throw new RunError(
          `${(e as Error).message}; the weights do not fit the run's ${o2.model} generator (${paths.config})`,
        );
      }
    } finally {
      torch.dispose(tensors);
    }
    if (device !== 'cpu') generator.to(device);
    generator.freezeForInference();
    return new RunGenerator(
      dir,
      config,
      spec,
      generator,
      { file: weights.file, sha256: weights.sha256, step: weights.step },
      device,
      precision,
    );
  }

  /** A packaged model folder: its float16 weights, converted to the generator's float32 on load. */
  private static async loadModel(
    dir: string,
    model: ModelConfig,
    o: LoadRunOptions,
    device: Device,
    precision: Precision,
  ): Promise<RunGenerator> {
    const configFile = path.join(dir, MODEL_CONFIG_FILE);
    if (o.weights)
      throw new RunError(
        `${dir} is a packaged model (${model.name}) with its own weights; --weights goes with a training run's folder`,
      );
    const spec = labelMapSpec(model.diagnoses, { boundary: model.labelMap.boundary, frame: model.labelMap.frame });
    if (model.labelMap.version !== spec.version || spec.channels.join(',') !== model.labelMap.channels.join(',')) {
      throw new RunError(
        `${configFile}: the model's label map (version ${model.labelMap.version}: ${model.labelMap.channels.join(', ')}) is not this dermosynth's (version ${spec.version}: ${spec.channels.join(', ')})`,
      );
    }
    const file = path.join(dir, MODEL_WEIGHTS_FILE);
    if (!existsSync(file)) throw new RunError(`${dir}: the model's ${MODEL_WEIGHTS_FILE} is missing`);
    const bytes = await readFile(file);
    const sha256 = createHash('sha256').update(bytes).digest('hex');
    if (sha256 !== model.weights.sha256) {
      throw new RunError(
        `${file}: its sha256 ${sha256.slice(0, 16)}... is not the ${model.weights.sha256.slice(0, 16)}... that ${MODEL_CONFIG_FILE} records: the file was changed or damaged`,
      );
    }
    const o2 = model.run.options;
    const { generator } = buildGenerator(o2.model, spec.channels.length, o2.modelOverrides, o2.preset);
    const { tensors } = torch.readSafetensors(bytes, file);
    try {
      loadConverted(generator, tensors, file);
    } catch (e) {
      throw new RunError(
        `${(e as Error).message}; the weights do not fit the model's ${o2.model} generator (${configFile})`,
      );
    } finally {
      torch.dispose(tensors);
    }
    if (device !== 'cpu') generator.to(device);
    generator.freezeForInference();
    return new RunGenerator(
      dir,
      model.run,
      spec,
      generator,
      { file, sha256, step: model.source.step },
      device,
      precision,
      model,
    );
  }

  /**
   * Generates one image per label map: `labelBytes[i]` is [H*W] label bytes at the run's size (see
   * label_map.ts); returns interleaved RGB bytes [H*W*3] per image. All maps are run as one batch:
   * the caller picks the batch size (see `defaultBatchSize`).
   */
  generate(labelBytes: readonly Uint8Array[]): Uint8Array[] {
    const n = this.width * this.height;
    for (const [i, lb] of labelBytes.entries()) {
      if (lb.length !== n)
        throw new RangeError(
          `generate: label map ${i} has ${lb.length} pixels, the run's size ${this.width}x${this.height} needs ${n}`,
        );
    }
    if (labelBytes.length === 0) return [];
    const flat = new Uint8Array(labelBytes.length * n);
    labelBytes.forEach((lb, i) => flat.set(lb, i * n));
    return torch.tidy(() =>
      imagesToRgb(this.generateImages(torch.fromBytes(flat, 'uint8', [labelBytes.length, 1, this.height, this.width]))),
    );
  }

  /** Label bytes uint8 [B, 1, H, W] (any device) -> float32 images in [-1, 1], [B, 3, H, W], on the run's device. */
  generateImages(labelBytes: Tensor): Tensor {
    const [, c, h, w] = labelBytes.shape;
    if (labelBytes.shape.length !== 4 || c !== 1 || h !== this.height || w !== this.width) {
      throw new RangeError(
        `generateImages: expected label bytes [B, 1, ${this.height}, ${this.width}], got [${labelBytes.shape.join(', ')}]`,
      );
    }
    return torch.inferenceMode(() =>
      torch.tidy(() => {
        // One-hot maps come out channels-last; the convolutions keep that layout (faster on CPU).
        const label: Tensor = oneHotLabels(labelBytes.to(this.device), this.spec);
        const images = torch.autocast(this.device, this.precision, () => this.generator.call(label));
        return images.dtype === 'float32' ? images : images.float();
      }),
    );
  }

  dispose(): void {
    torch.dispose(this.generator.stateDict());
  }
}

/**
 * Loads a state dict whose floating tensors may be of another floating dtype (a packaged model's
 * float16) into a module, converting each to the module's own dtype first: Module.loadStateDict
 * checks names and shapes only and its copy_ would convert silently; here the conversion is
 * deliberate and an integer/floating mismatch is an error. The caller keeps `tensors`.
 */
export function loadConverted(module: GeneratorModule, tensors: Map<string, Tensor>, source: string): void {
  const own = module.stateDict();
  const converted: Tensor[] = [];
  const state = new Map<string, Tensor>();
  try {
    for (const [k, t] of tensors) {
      const target = own.get(k);
      if (target && t.dtype !== target.dtype) {
        if (!torch.isFloating(t.dtype) || !torch.isFloating(target.dtype))
          throw new Error(`loading ${source}: '${k}' is ${t.dtype}, the module's is ${target.dtype}`);
        const c = t.to(target.dtype);
        converted.push(c);
        state.set(k, c);
      } else {
        state.set(k, t);
      }
    }
    module.loadStateDict(state, { source });
  } finally {
    torch.dispose(converted);
  }
}

/** Images per batch at a size: about 1 Mpixel per batch (16 at 256x256, 4 at 512x512, 1 at 1024x768). */
export function defaultBatchSize(width: number, height: number): number {
  return Math.max(1, Math.min(16, Math.floor(2 ** 20 / (width * height))));
}

async function findWeights(dir: string, explicit: string | undefined): Promise<RunWeights & { bytes: Uint8Array }> {
  const paths = runPaths(dir);
  let file: string;
  let step: number | null = null;
  if (explicit) {
    if (!existsSync(explicit)) throw new RunError(`${explicit}: no such weights file`);
    file = explicit;
    step = checkpointStep(explicit);
  } else if (existsSync(paths.generator)) {
    file = paths.generator;
  } else {
    const newest = await latestCheckpoint(paths.checkpoints);
    if (!newest) {
      throw new RunError(
        `${dir}: the run has no weights yet (neither generator.safetensors nor a checkpoint in checkpoints/); train it first, or let it reach its first checkpoint`,
      );
    }
    file = newest.file;
    step = newest.step;
  }
  const bytes = await readFile(file);
  return { file, sha256: createHash('sha256').update(bytes).digest('hex'), step, bytes };
}
