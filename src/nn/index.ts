// dermosynth's neural-network layer: modules, initialisers, spectral norm, optimizers, schedules.
export { Module, type Parametrization } from './module.js';
export { Conv2d, ConvTranspose2d, type Conv2dOptions, type ConvTranspose2dOptions } from './layers/conv.js';
export { Linear } from './layers/linear.js';
export { InstanceNorm2d, BatchNorm2d, GroupNorm, type NormOptions } from './layers/normalization.js';
export { SyncBatchNorm2d, convertSyncBatchNorm, type SyncBatchNormOptions } from './layers/sync_batch_norm.js';
export { ReLU, LeakyReLU, Tanh, Sigmoid, SiLU, GELU, Identity, Dropout } from './layers/activation.js';
export { ReflectionPad2d, ReplicationPad2d, ZeroPad2d } from './layers/padding.js';
export { AvgPool2d, MaxPool2d, AdaptiveAvgPool2d, Flatten, Upsample } from './layers/pooling.js';
export { StochasticDepth, stochasticDepth } from './layers/stochastic_depth.js';
export { Sequential, runLayers } from './layers/container.js';
export { spectralNorm, type SpectralNormOptions } from './spectral_norm.js';
export * as init from './init.js';
export { initWeights, type InitScheme } from './init.js';
export * as optim from './optim/index.js';
export { saveModule, loadModule } from './serialization.js';
