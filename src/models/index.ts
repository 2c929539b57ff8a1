// dermosynth's synthesis models: the proposed generator, the pix2pixHD, pix2pix and SPADE
// baselines, their discriminators, the VGG19 loss network, and the registry that builds them.
export * from './types.js';
export { parseNorm, normLayer, convNorm, ResnetBlock, combineSkip, skipWidth } from './blocks.js';
export { GlobalGenerator, GlobalTrunk, type GlobalGeneratorConfig } from './global_generator.js';
export {
  LocalEnhancer,
  LocalEnhancerGenerator,
  type LocalEnhancerConfig,
  type LocalEnhancerGeneratorConfig,
} from './local_enhancer.js';
export { UnetGenerator, UnetSkipBlock, type UnetGeneratorConfig } from './unet_generator.js';
export { SPADE, SPADEResnetBlock, segmapLike, type SpadeLayerOptions, type SpadeResnetBlockOptions } from './spade.js';
export { SPADEGenerator, SPADE_UPSAMPLINGS, type SpadeGeneratorConfig } from './spade_generator.js';
export {
  NLayerDiscriminator,
  patchLayers,
  PATCH_STYLES,
  type PatchStyle,
  type PatchDiscriminatorConfig,
  type PatchLayer,
} from './patch_discriminator.js';
export {
  MultiscaleDiscriminator,
  downsampleScale,
  type MultiscaleDiscriminatorConfig,
} from './multiscale_discriminator.js';
export { Vgg19, loadVgg19, VGG19_FEATURE_LAYERS, VGG19_FEATURE_NAMES, IMAGENET_MEAN, IMAGENET_STD } from './vgg19.js';
export { initPix2pixHD, initLikeOriginal } from './init.js';
export {
  InceptionV3,
  loadInceptionV3,
  INCEPTION_SIZE,
  INCEPTION_FEATURES,
  INCEPTION_CLASSES,
  INCEPTION_RESIZE_MODES,
  type InceptionResize,
  type InceptionV3Options,
  type InceptionOutputs,
} from './inception_v3.js';
export { Lpips, loadLpips, type LpipsBackbone } from './lpips.js';
export { Segmenter, saveSegmenter, loadSegmenter, SEGMENTER_DEFAULTS, type SegmenterConfig } from './segmenter.js';
export {
  buildModels,
  resolveOptions,
  checkModelName,
  requiredDivisor,
  checkImageSize,
  PUBLISHED_DEFAULTS,
  CPU_DEFAULTS,
  LOSS_DEFAULTS,
  type Preset,
  type ModelOverrides,
  type ResolvedOptions,
  type BuiltModels,
} from './registry.js';
