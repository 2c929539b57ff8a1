// The contracts every synthesis model keeps, and the options that size them.
//
// Generator: a one-hot label map, float32 [B, Cl, H, W], to an image [B, 3, H, W] in [-1, 1]
// (its last layer is a tanh).
// Discriminator: takes cat(label, image) along channels, [B, Cl + 3, H, W], and returns one list
// per scale (finest first) of the feature maps each layer group produced; the LAST element of
// each list is that scale's patch prediction, the others feed the feature-matching loss.
import type { Tensor } from '../torch/index.js';
import type * as nn from '../nn/index.js';

export const MODEL_NAMES = ['proposed', 'pix2pixhd', 'pix2pix', 'spade'] as const;
export type ModelName = (typeof MODEL_NAMES)[number];

export type GeneratorModule = nn.Module<[Tensor], Tensor>;
export type DiscriminatorModule = nn.Module<[Tensor], Tensor[][]>;

/**
 * A generator built coarse to fine (pix2pixHD's local enhancers): a global generator that works
 * alone at H / 2^numLocalEnhancers, then enhancers that each double the resolution.
 */
export interface CoarseToFine {
  readonly numLocalEnhancers: number;
  /**
   * The global generator as a complete image generator at H / 2^numLocalEnhancers (for a
   * coarse training stage). It shares every layer with the full generator except its own
   * output head (7x7 convolution and tanh), which the full generator does not use and which is
   * therefore not among the full generator's parameters or state dict, as in pix2pixHD whose
   * LocalEnhancer drops the global generator's last layers. Its state-dict names are those of a
   * stand-alone global generator, so one trained alone loads into it.
   */
  readonly globalGenerator: GeneratorModule;
  /** The full generator's parameters that belong to the global generator. */
  globalParameters(): Tensor[];
  /** The full generator's parameters that belong to the local enhancers. */
  localParameters(): Tensor[];
}

export function isCoarseToFine(g: unknown): g is GeneratorModule & CoarseToFine {
  if (g === null || typeof g !== 'object') return false;
  const c = g as Partial<CoarseToFine>;
  return (
    typeof c.numLocalEnhancers === 'number' &&
    c.numLocalEnhancers > 0 &&
    typeof c.globalParameters === 'function' &&
    typeof c.localParameters === 'function' &&
    typeof c.globalGenerator === 'object' &&
    c.globalGenerator !== null
  );
}

// ---- normalisation and skip settings ------------------------------------------------------------

export type NormKind = 'instance' | 'batch' | 'none';
/**
 * A normalisation for the convolutions that are followed by one: 'instance' (affine-free, as
 * pix2pixHD), 'batch' (affine), 'none', or any of them with spectral normalisation of those
 * convolutions ('spectral-instance' is SPADE's discriminator default).
 */
export type NormSpec = NormKind | `spectral-${NormKind}`;
export const NORM_SPECS: readonly NormSpec[] = [
  'instance',
  'batch',
  'none',
  'spectral-instance',
  'spectral-batch',
  'spectral-none',
];

/** How the proposed generator combines encoder features with decoder features of the same scale. */
export type SkipMode = 'concat' | 'add' | 'none';
export const SKIP_MODES: readonly SkipMode[] = ['concat', 'add', 'none'];

/** How pix2pixHD-style generators double the resolution (see blocks.ts upsampleLayers). */
export type UpsampleMode = 'deconv' | 'resize';
export const UPSAMPLE_MODES: readonly UpsampleMode[] = ['deconv', 'resize'];

// ---- options -------------------------------------------------------------------------------

/** pix2pixHD's generator: global generator plus local enhancers. */
export type Pix2PixHDGeneratorOptions = {
  /** Width of the global generator's first layer; local enhancer n has ngf / 2^n. */
  ngf: number;
  /** Stride-2 downsamplings of the global generator. */
  nDown: number;
  /** Residual blocks of the global generator. */
  nBlocks: number;
  numLocalEnhancers: number;
  /** Residual blocks of each local enhancer. */
  nBlocksLocal: number;
  norm: NormSpec;
  /** The upsampling layers: 'deconv' (pix2pixHD's transposed convolutions) or 'resize' (nearest resize + conv). */
  upsample: UpsampleMode;
};

/** The proposed generator: pix2pixHD's with encoder-decoder skip connections at every scale. */
export type ProposedGeneratorOptions = Pix2PixHDGeneratorOptions & {
  skip: SkipMode;
};

/** pix2pix's U-Net. */
export type UnetGeneratorOptions = {
  ngf: number;
  /** Downsamplings (unet_256: 8, unet_128: 7); the image side must be a multiple of 2^numDowns. */
  numDowns: number;
  norm: NormSpec;
  /** Dropout probability in the numDowns - 5 innermost non-bottleneck decoder blocks (0: none). */
  dropout: number;
  /** The upsampling layers: 'deconv' (pix2pix's 4x4 transposed convolutions) or 'resize' (nearest resize + 3x3 conv). */
  upsample: UpsampleMode;
};

export type SpadeUpsampling = 'normal' | 'more' | 'most';

/** SPADE's generator (deterministic: it starts from the downsampled label map, no VAE). */
export type SpadeGeneratorOptions = {
  ngf: number;
  /** 'normal': 5 upsamplings (starts at H/32), 'more': 6, 'most': 7. */
  upsampling: SpadeUpsampling;
  /** SPADE's parameter-free normalisation ('batch' stands for SPADE's default sync batch norm). */
  spadeNorm: 'batch' | 'instance';
  /** Hidden channels of each SPADE layer's shared convolution (SPADE hard-codes 128). */
  spadeHidden: number;
  /** Kernel size of the SPADE layer's convolutions (SPADE's '3x3'). */
  spadeKernel: number;
  /** Spectral normalisation of the residual blocks' convolutions (SPADE's 'spectral' norm_G). */
  spectral: boolean;
};

export type DiscriminatorOptions = {
  /** Number of scales (each the previous one average-pooled by 2). */
  numD: number;
  /**
   * Depth of each PatchGAN, in the convention of the model's original code: pix2pixHD and pix2pix
   * count the stride-2 convolutions (3 gives five convolutions), SPADE counts the convolutions
   * before the prediction layer (4 gives the same five).
   */
  nLayersD: number;
  ndf: number;
  normD: NormSpec;
};

/** Every generator setting of every model (each model reads the ones that apply to it). */
export type GeneratorOptions = ProposedGeneratorOptions & UnetGeneratorOptions & SpadeGeneratorOptions;

export interface ModelOptionsMap {
  proposed: { model: 'proposed' } & ProposedGeneratorOptions & DiscriminatorOptions;
  pix2pixhd: { model: 'pix2pixhd' } & Pix2PixHDGeneratorOptions & DiscriminatorOptions;
  pix2pix: { model: 'pix2pix' } & UnetGeneratorOptions & DiscriminatorOptions;
  spade: { model: 'spade' } & SpadeGeneratorOptions & DiscriminatorOptions;
}
export type ModelOptions<N extends ModelName = ModelName> = ModelOptionsMap[N];

export type GanLoss = 'lsgan' | 'hinge' | 'vanilla';
export type LossWeights = {
  gan: GanLoss;
  /** Weight of the discriminator feature-matching loss. */
  featureMatching: number;
  /** Weight of the VGG19 perceptual loss. */
  vgg: number;
  /** Weight of the L1 reconstruction loss. */
  l1: number;
  /** Weight of the discriminator feature-statistics loss (standard deviations; 0 or absent: off). */
  featureStd?: number;
};
