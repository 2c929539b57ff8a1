// The model registry: each synthesis model's generator, discriminator, options and loss weights,
// at its published size or at a small size for CPU runs, and the image sizes each accepts.
import { GlobalGenerator } from './global_generator.js';
import { LocalEnhancerGenerator } from './local_enhancer.js';
import { UnetGenerator } from './unet_generator.js';
import { SPADE_UPSAMPLINGS, SPADEGenerator } from './spade_generator.js';
import { MultiscaleDiscriminator } from './multiscale_discriminator.js';
import { patchLayers, type PatchStyle } from './patch_discriminator.js';
import { initLikeOriginal, initPix2pixHD } from './init.js';
import {
  isCoarseToFine,
  MODEL_NAMES,
  NORM_SPECS,
  SKIP_MODES,
  UPSAMPLE_MODES,
  type DiscriminatorModule,
  type DiscriminatorOptions,
  type GeneratorModule,
  type GeneratorOptions,
  type LossWeights,
  type ModelName,
  type ModelOptions,
} from './types.js';

type Presets = { readonly [N in ModelName]: Readonly<ModelOptions<N>> };

function deepFreeze<T extends object>(o: T): T {
  for (const v of Object.values(o)) if (v && typeof v === 'object') deepFreeze(v);
  return Object.freeze(o);
}

/**
 * The sizes of the original papers' code. pix2pixhd is pix2pixHD's 2048x1024 configuration
 * (`--netG local --ngf 32`: a global generator of width 64, 4 downsamplings, 9 blocks, and one
 * local enhancer of width 32 with 3 blocks; 2 scales of 3-layer PatchGANs, ndf 64, instance
 * norm). proposed is the same network with concatenating skip connections. pix2pix is unet_256 +
 * the 70x70 PatchGAN with batch norm. spade is SPADE's defaults (ngf 64, 'normal' upsampling,
 * spectral norm and sync-batch SPADE, 128 hidden channels; 2 scales of n_layers_D 4, ndf 64,
 * spectral instance norm).
 */
export const PUBLISHED_DEFAULTS: Presets = deepFreeze({
  proposed: {
    model: 'proposed',
    ngf: 64,
    nDown: 4,
    nBlocks: 9,
    numLocalEnhancers: 1,
    nBlocksLocal: 3,
    norm: 'instance',
    upsample: 'deconv',
    skip: 'concat',
    numD: 2,
    nLayersD: 3,
    ndf: 64,
    normD: 'instance',
  },
  pix2pixhd: {
    model: 'pix2pixhd',
    ngf: 64,
    nDown: 4,
    nBlocks: 9,
    numLocalEnhancers: 1,
    nBlocksLocal: 3,
    norm: 'instance',
    upsample: 'deconv',
    numD: 2,
    nLayersD: 3,
    ndf: 64,
    normD: 'instance',
  },
  pix2pix: {
    model: 'pix2pix',
    ngf: 64,
    numDowns: 8,
    norm: 'batch',
    dropout: 0.5,
    upsample: 'deconv',
    numD: 1,
    nLayersD: 3,
    ndf: 64,
    normD: 'batch',
  },
  spade: {
    model: 'spade',
    ngf: 64,
    upsampling: 'normal',
    spadeNorm: 'batch',
    spadeHidden: 128,
    spadeKernel: 3,
    spectral: true,
    numD: 2,
    nLayersD: 4,
    ndf: 64,
    normD: 'spectral-instance',
  },
});

/**
 * Small sizes for 64x64 images on a 2-core CPU. The architectures are the published ones,
 * narrower and shallower: proposed and pix2pixhd are the same network (width 32, 3
 * downsamplings, 4 residual blocks, no local enhancer), with and without the skip connections,
 * so they compare like for like; pix2pix is a 6-down U-Net of width 32 (unet_64); SPADE has
 * width 16 and 32 hidden channels in its SPADE layers (the original hard-codes 128). On the
 * 2-core development machine (libtorch 1.13.1, 2 threads, batch 1, 64x64, warm), one generator
 * forward + backward plus two discriminator passes and the backward through all of them took
 * about 80 ms (proposed), 70 ms (pix2pixhd), 30-90 ms (pix2pix) and 100-400 ms (spade, whose
 * SPADE layers run 3x3 convolutions at every resolution); the VGG19 loss at 64x64 adds about
 * 80-160 ms. The machine was shared, so single runs varied several-fold.
 */
export const CPU_DEFAULTS: Presets = deepFreeze({
  proposed: {
    model: 'proposed',
    ngf: 32,
    nDown: 3,
    nBlocks: 4,
    numLocalEnhancers: 0,
    nBlocksLocal: 2,
    norm: 'instance',
    upsample: 'deconv',
    skip: 'concat',
    numD: 2,
    nLayersD: 3,
    ndf: 32,
    normD: 'instance',
  },
  pix2pixhd: {
    model: 'pix2pixhd',
    ngf: 32,
    nDown: 3,
    nBlocks: 4,
    numLocalEnhancers: 0,
    nBlocksLocal: 2,
    norm: 'instance',
    upsample: 'deconv',
    numD: 2,
    nLayersD: 3,
    ndf: 32,
    normD: 'instance',
  },
  pix2pix: {
    model: 'pix2pix',
    ngf: 32,
    numDowns: 6,
    norm: 'batch',
    dropout: 0.5,
    upsample: 'deconv',
    numD: 1,
    nLayersD: 3,
    ndf: 32,
    normD: 'batch',
  },
  spade: {
    model: 'spade',
    ngf: 16,
    upsampling: 'normal',
    spadeNorm: 'batch',
    spadeHidden: 32,
    spadeKernel: 3,
    spectral: true,
    numD: 2,
    nLayersD: 4,
    ndf: 32,
    normD: 'spectral-instance',
  },
});

/** The loss weights of each original (proposed: pix2pixHD's). */
export const LOSS_DEFAULTS: { readonly [N in ModelName]: Readonly<LossWeights> } = deepFreeze({
  proposed: { gan: 'lsgan', featureMatching: 10, vgg: 10, l1: 0 },
  pix2pixhd: { gan: 'lsgan', featureMatching: 10, vgg: 10, l1: 0 },
  pix2pix: { gan: 'vanilla', featureMatching: 0, vgg: 0, l1: 100 },
  spade: { gan: 'hinge', featureMatching: 10, vgg: 10, l1: 0 },
});

export type Preset = 'published' | 'cpu';
export type ModelOverrides = Partial<GeneratorOptions & DiscriminatorOptions>;

/** The options a model was built with: its preset with the overrides applied (JSON-serialisable). */
export type ResolvedOptions<N extends ModelName = ModelName> = ModelOptions<N> & {
  labelChannels: number;
  preset: Preset;
};

export interface BuiltModels<N extends ModelName = ModelName> {
  generator: GeneratorModule;
  discriminator: DiscriminatorModule;
  options: ResolvedOptions<N>;
  losses: LossWeights;
}

export function checkModelName(name: unknown): asserts name is ModelName {
  if (!MODEL_NAMES.includes(name as ModelName)) {
    throw new TypeError(`unknown model '${String(name)}': the models are ${MODEL_NAMES.join(', ')}`);
  }
}

// ---- option validation -----------------------------------------------------------------------

const INTEGER_OPTIONS: Record<string, number> = {
  ngf: 1,
  nDown: 0,
  nBlocks: 0,
  numLocalEnhancers: 0,
  nBlocksLocal: 0,
  numDowns: 5,
  spadeHidden: 1,
  spadeKernel: 1,
  numD: 1,
  nLayersD: 1,
  ndf: 1,
};
const ENUM_OPTIONS: Record<string, readonly unknown[]> = {
  norm: NORM_SPECS,
  normD: NORM_SPECS,
  skip: SKIP_MODES,
  upsample: UPSAMPLE_MODES,
  upsampling: Object.keys(SPADE_UPSAMPLINGS),
  spadeNorm: ['batch', 'instance'],
  spectral: [true, false],
};

function checkOption(name: ModelName, key: string, value: unknown): void {
  const where = `${name}: option ${key}`;
  if (key in INTEGER_OPTIONS) {
    const min = INTEGER_OPTIONS[key]!;
    if (typeof value !== 'number' || !Number.isInteger(value) || value < min)
      throw new RangeError(`${where} must be an integer >= ${min}, got ${JSON.stringify(value)}`);
    if (key === 'spadeKernel' && value % 2 === 0) throw new RangeError(`${where} must be odd, got ${value}`);
  } else if (key in ENUM_OPTIONS) {
    if (!ENUM_OPTIONS[key]!.includes(value))
      throw new TypeError(
        `${where} must be one of ${ENUM_OPTIONS[key]!.map((v) => JSON.stringify(v)).join(', ')}, got ${JSON.stringify(value)}`,
      );
  } else if (key === 'dropout') {
    if (typeof value !== 'number' || !(value >= 0 && value < 1))
      throw new RangeError(`${where} must be a probability in [0, 1), got ${JSON.stringify(value)}`);
  }
}

/** The preset's options with the overrides applied and checked. */
export function resolveOptions<N extends ModelName>(
  name: N,
  labelChannels: number,
  overrides: ModelOverrides = {},
  preset: Preset = 'published',
): ResolvedOptions<N> {
  checkModelName(name);
  if (preset !== 'published' && preset !== 'cpu')
    throw new TypeError(`unknown preset '${String(preset)}' (published or cpu)`);
  if (!Number.isInteger(labelChannels) || labelChannels < 1)
    throw new RangeError(`${name}: labelChannels must be a positive integer, got ${labelChannels}`);
  const base = (preset === 'cpu' ? CPU_DEFAULTS : PUBLISHED_DEFAULTS)[name] as ModelOptions<N>;
  const options: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(overrides)) {
    if (value === undefined) continue;
    if (key === 'model' || !(key in base)) {
      const keys = Object.keys(base).filter((k) => k !== 'model');
      throw new TypeError(`${name}: option '${key}' does not apply to this model (its options: ${keys.join(', ')})`);
    }
    checkOption(name, key, value);
    options[key] = value;
  }
  const o = options as unknown as ModelOptions<N>;
  if ((o.model === 'proposed' || o.model === 'pix2pixhd') && o.ngf % 2 ** o.numLocalEnhancers !== 0) {
    throw new RangeError(
      `${name}: ngf (${o.ngf}) must be a multiple of 2^numLocalEnhancers = ${2 ** o.numLocalEnhancers}: local enhancer n has ngf / 2^n channels`,
    );
  }
  if (o.model === 'spade' && o.nLayersD < 2)
    throw new RangeError(`${name}: option nLayersD must be >= 2 in SPADE's convention, got ${o.nLayersD}`);
  return { ...o, labelChannels, preset };
}

/** For callers that import everything from the registry. */
export { isCoarseToFine } from './types.js';
export { loadVgg19 } from './vgg19.js';

// ---- building --------------------------------------------------------------------------------

const PATCH_STYLE: Record<ModelName, PatchStyle> = {
  proposed: 'pix2pixhd',
  pix2pixhd: 'pix2pixhd',
  pix2pix: 'pix2pix',
  spade: 'spade',
};

function createGenerator(o: ResolvedOptions): GeneratorModule {
  const inputNc = o.labelChannels;
  switch (o.model) {
    case 'proposed':
    case 'pix2pixhd': {
      const skip = o.model === 'proposed' ? o.skip : 'none';
      const shared = {
        inputNc,
        ngf: o.ngf,
        nDown: o.nDown,
        nBlocks: o.nBlocks,
        norm: o.norm,
        skip,
        upsample: o.upsample,
      };
      const g =
        o.numLocalEnhancers > 0
          ? new LocalEnhancerGenerator({
              ...shared,
              numLocalEnhancers: o.numLocalEnhancers,
              nBlocksLocal: o.nBlocksLocal,
            })
          : new GlobalGenerator(shared);
      initPix2pixHD(g);
      // The global generator's own head (used alone in a coarse stage) is not one of g's modules.
      if (isCoarseToFine(g)) initPix2pixHD((g as LocalEnhancerGenerator).globalGenerator.head);
      return g;
    }
    case 'pix2pix': {
      const g = new UnetGenerator({
        inputNc,
        ngf: o.ngf,
        numDowns: o.numDowns,
        norm: o.norm,
        dropout: o.dropout,
        upsample: o.upsample,
      });
      initLikeOriginal(g, 'normal');
      return g;
    }
    case 'spade': {
      const g = new SPADEGenerator({
        labelNc: inputNc,
        ngf: o.ngf,
        upsampling: o.upsampling,
        paramFree: o.spadeNorm,
        hidden: o.spadeHidden,
        kernel: o.spadeKernel,
        spectral: o.spectral,
      });
      initLikeOriginal(g, 'xavier');
      return g;
    }
  }
}

function buildDiscriminator(o: ResolvedOptions): DiscriminatorModule {
  const d = new MultiscaleDiscriminator({
    inputNc: o.labelChannels + 3,
    ndf: o.ndf,
    nLayers: o.nLayersD,
    norm: o.normD,
    numD: o.numD,
    style: PATCH_STYLE[o.model],
  });
  if (o.model === 'pix2pix') initLikeOriginal(d, 'normal');
  else if (o.model === 'spade') initLikeOriginal(d, 'xavier');
  else initPix2pixHD(d);
  return d;
}

/**
 * Builds a model's generator and discriminator (weights initialised as the original does, from
 * the current torch seed), for label maps of `labelChannels` channels (the discriminator reads
 * labelChannels + 3). `overrides` change single options of the preset; an option the model does
 * not have is an error.
 */
export function buildModels<N extends ModelName>(
  name: N,
  labelChannels: number,
  overrides: ModelOverrides = {},
  preset: Preset = 'published',
): BuiltModels<N> {
  const options = resolveOptions(name, labelChannels, overrides, preset);
  const generator = createGenerator(options);
  const discriminator = buildDiscriminator(options);
  return { generator, discriminator, options, losses: { ...LOSS_DEFAULTS[name] } };
}

/** Builds a model's generator alone (for synthesis: no discriminator is needed). */
export function buildGenerator<N extends ModelName>(
  name: N,
  labelChannels: number,
  overrides: ModelOverrides = {},
  preset: Preset = 'published',
): { generator: GeneratorModule; options: ResolvedOptions<N> } {
  const options = resolveOptions(name, labelChannels, overrides, preset);
  return { generator: createGenerator(options), options };
}

// ---- image sizes -----------------------------------------------------------------------------

/** The number the image's width and height must be multiples of. */
export function requiredDivisor(options: ModelOptions): number {
  switch (options.model) {
    case 'proposed':
    case 'pix2pixhd':
      return 2 ** (options.nDown + options.numLocalEnhancers);
    case 'pix2pix':
      return 2 ** options.numDowns;
    case 'spade':
      return 2 ** SPADE_UPSAMPLINGS[options.upsampling];
  }
}

function divisorText(o: ModelOptions): string {
  switch (o.model) {
    case 'proposed':
    case 'pix2pixhd':
      return `2^(nDown + numLocalEnhancers) = 2^(${o.nDown} + ${o.numLocalEnhancers})`;
    case 'pix2pix':
      return `2^numDowns = 2^${o.numDowns}`;
    case 'spade':
      return `2^${SPADE_UPSAMPLINGS[o.upsampling]} for '${o.upsampling}' upsampling`;
  }
}

/** The smallest side the generator accepts (beyond divisibility): its deepest normalised layer needs 2x2. */
function generatorMinSide(o: ModelOptions): number {
  const d = requiredDivisor(o);
  switch (o.model) {
    case 'proposed':
    case 'pix2pixhd':
      // The bottleneck (side / d) is at least 2; the global generator's 7x7 reflection padding needs 4.
      return Math.max(2 * d, 4 * 2 ** o.numLocalEnhancers);
    case 'pix2pix':
      return d; // a 1x1 bottleneck, normalised only after the 2x2 upsampling
    case 'spade':
      return 2 * d; // the first SPADE block normalises at side / d
  }
}

/** Whether every discriminator scale has a non-empty prediction and more than one value per normalised channel. */
function discriminatorFits(o: ModelOptions, width: number, height: number): boolean {
  const layers = patchLayers(PATCH_STYLE[o.model], o.nLayersD, o.normD);
  let [w, h] = [width, height];
  for (let s = 0; s < o.numD; s++) {
    if (s > 0) [w, h] = [Math.ceil(w / 2), Math.ceil(h / 2)]; // avg-pool 3, stride 2, padding 1
    let [lw, lh] = [w, h];
    for (const l of layers) {
      lw = Math.floor((lw + 2 * l.padding - 4) / l.stride) + 1;
      lh = Math.floor((lh + 2 * l.padding - 4) / l.stride) + 1;
      if (lw < 1 || lh < 1 || (l.normalised && lw * lh < 2)) return false;
    }
  }
  return true;
}

/**
 * Throws a RangeError when a model cannot take width x height images: the sides must be
 * multiples of requiredDivisor(options), large enough for the generator's bottleneck and for
 * every discriminator scale.
 */
export function checkImageSize(name: ModelName, options: ModelOptions, width: number, height: number): void {
  checkModelName(name);
  if (options.model !== name) throw new TypeError(`checkImageSize: options are ${options.model}'s, not ${name}'s`);
  const size = `${width}x${height}`;
  if (![width, height].every((v) => Number.isInteger(v) && v > 0))
    throw new RangeError(`${name}: image size ${size} is not a positive integer size`);
  const d = requiredDivisor(options);
  if (width % d !== 0 || height % d !== 0) {
    const up = (v: number): number => Math.max(d, Math.ceil(v / d) * d);
    throw new RangeError(
      `${name}: image size ${size} is not supported: width and height must be multiples of ${d} (${divisorText(options)}); the nearest larger size is ${up(width)}x${up(height)}`,
    );
  }
  const minSide = generatorMinSide(options);
  if (width < minSide || height < minSide) {
    throw new RangeError(
      `${name}: image size ${size} is too small for the generator: width and height must be multiples of ${d} and at least ${minSide}`,
    );
  }
  if (!discriminatorFits(options, width, height)) {
    let k = 1;
    while (!discriminatorFits(options, d * k, d * k)) k++;
    throw new RangeError(
      `${name}: image size ${size} is too small for the ${options.numD}-scale discriminator: width and height must be multiples of ${d} and at least ${d * k}`,
    );
  }
}
