// The registry: presets, resolved options, loss weights, option and name errors, image sizes.
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import * as torch from '../../src/torch/index.js';
import {
  buildModels,
  checkImageSize,
  CPU_DEFAULTS,
  LOSS_DEFAULTS,
  MODEL_NAMES,
  PUBLISHED_DEFAULTS,
  requiredDivisor,
  resolveOptions,
  type ModelName,
  type ModelOptions,
  type ModelOverrides,
} from '../../src/models/index.js';
import { gc, labelMap } from './helpers.js';

const C = 4;

beforeAll(() => torch.setNumThreads(2));
afterEach(() => gc());

describe('presets and options', () => {
  it("published defaults are the originals'", () => {
    expect(PUBLISHED_DEFAULTS.pix2pixhd).toEqual({
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
    });
    expect(PUBLISHED_DEFAULTS.proposed).toEqual({ ...PUBLISHED_DEFAULTS.pix2pixhd, model: 'proposed', skip: 'concat' });
    expect(PUBLISHED_DEFAULTS.pix2pix).toEqual({
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
    });
    expect(PUBLISHED_DEFAULTS.spade).toEqual({
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
    });
    expect(CPU_DEFAULTS.proposed).toMatchObject({
      ngf: 32,
      nDown: 3,
      nBlocks: 4,
      numLocalEnhancers: 0,
      skip: 'concat',
      numD: 2,
      nLayersD: 3,
      ndf: 32,
    });
    expect(Object.isFrozen(PUBLISHED_DEFAULTS.proposed) && Object.isFrozen(CPU_DEFAULTS)).toBe(true);
  });

  it('loss weights: pix2pix vanilla + L1 100, pix2pixHD and proposed LSGAN + FM 10 + VGG 10, SPADE hinge + FM 10 + VGG 10', () => {
    expect(LOSS_DEFAULTS).toEqual({
      proposed: { gan: 'lsgan', featureMatching: 10, vgg: 10, l1: 0 },
      pix2pixhd: { gan: 'lsgan', featureMatching: 10, vgg: 10, l1: 0 },
      pix2pix: { gan: 'vanilla', featureMatching: 0, vgg: 0, l1: 100 },
      spade: { gan: 'hinge', featureMatching: 10, vgg: 10, l1: 0 },
    });
    for (const name of MODEL_NAMES)
      expect(buildModels(name, C, { ngf: 2, ndf: 2 }, 'cpu').losses).toEqual(LOSS_DEFAULTS[name]);
  });

  it('options are the preset with the overrides, plus labelChannels and preset, and survive JSON', () => {
    const { options } = buildModels(
      'proposed',
      5,
      { ngf: 8, skip: 'add', nBlocks: 1, ndf: 4, numD: 1, nDown: undefined },
      'cpu',
    );
    expect(options).toEqual({
      ...CPU_DEFAULTS.proposed,
      ngf: 8,
      skip: 'add',
      nBlocks: 1,
      ndf: 4,
      numD: 1,
      labelChannels: 5,
      preset: 'cpu',
    });
    expect(JSON.parse(JSON.stringify(options))).toEqual(options);
    expect(resolveOptions('spade', 3)).toEqual({ ...PUBLISHED_DEFAULTS.spade, labelChannels: 3, preset: 'published' });
  });

  it('generators read labelChannels, discriminators labelChannels + 3', () => {
    const { generator, discriminator } = buildModels(
      'pix2pixhd',
      6,
      { ngf: 4, nDown: 1, nBlocks: 0, numLocalEnhancers: 0, ndf: 2 },
      'cpu',
    );
    expect(generator.stateDict().get('front.1.weight')!.shape[1]).toBe(6);
    expect(discriminator.stateDict().get('scale0.model0.0.weight')!.shape[1]).toBe(9);
  });

  it('unknown model, preset and options are errors that list the valid ones', () => {
    expect(() => buildModels('cyclegan' as ModelName, C)).toThrow(
      "unknown model 'cyclegan': the models are proposed, pix2pixhd, pix2pix, spade",
    );
    expect(() => buildModels('proposed', C, {}, 'gpu' as 'cpu')).toThrow(/unknown preset 'gpu'/);
    expect(() => buildModels('pix2pix', C, { skip: 'concat' })).toThrow(
      /pix2pix: option 'skip' does not apply to this model \(its options: ngf, numDowns, norm, dropout, upsample, numD, nLayersD, ndf, normD\)/,
    );
    expect(() => buildModels('pix2pixhd', C, { skip: 'concat' } as ModelOverrides)).toThrow(
      /option 'skip' does not apply/,
    );
    expect(() => buildModels('proposed', C, { model: 'spade' } as unknown as ModelOverrides)).toThrow(
      /option 'model' does not apply/,
    );
    expect(() => buildModels('proposed', C, { ngf: 0 })).toThrow(/option ngf must be an integer >= 1, got 0/);
    expect(() => buildModels('proposed', C, { nBlocks: 1.5 })).toThrow(/option nBlocks must be an integer >= 0/);
    expect(() => buildModels('proposed', C, { skip: 'sum' as 'add' })).toThrow(
      /option skip must be one of "concat", "add", "none", got "sum"/,
    );
    expect(() => buildModels('proposed', C, { normD: 'layer' as 'batch' })).toThrow(/option normD must be one of/);
    expect(() => buildModels('pix2pix', C, { numDowns: 4 })).toThrow(/numDowns must be an integer >= 5/);
    expect(() => buildModels('pix2pix', C, { dropout: 1 })).toThrow(/dropout must be a probability in \[0, 1\)/);
    expect(() => buildModels('spade', C, { spadeKernel: 4 })).toThrow(/spadeKernel must be odd/);
    expect(() => buildModels('proposed', C, { ngf: 6, numLocalEnhancers: 2 })).toThrow(
      /ngf \(6\) must be a multiple of 2\^numLocalEnhancers = 4/,
    );
    expect(() => buildModels('proposed', 0)).toThrow(/labelChannels must be a positive integer/);
  });
});

describe('image sizes', () => {
  const opts = <N extends ModelName>(
    name: N,
    overrides: ModelOverrides = {},
    preset: 'published' | 'cpu' = 'published',
  ): ModelOptions<N> => resolveOptions(name, C, overrides, preset);

  it('requiredDivisor: 2^(nDown + numLocalEnhancers), 2^numDowns, 2^5 for SPADE normal', () => {
    expect(requiredDivisor(PUBLISHED_DEFAULTS.proposed)).toBe(32);
    expect(requiredDivisor(PUBLISHED_DEFAULTS.pix2pixhd)).toBe(32);
    expect(requiredDivisor(CPU_DEFAULTS.proposed)).toBe(8);
    expect(requiredDivisor(PUBLISHED_DEFAULTS.pix2pix)).toBe(256);
    expect(requiredDivisor(CPU_DEFAULTS.pix2pix)).toBe(64);
    expect(requiredDivisor(PUBLISHED_DEFAULTS.spade)).toBe(32);
    expect(requiredDivisor(opts('spade', { upsampling: 'most' }))).toBe(128);
  });

  it('accepts the sizes that fit', () => {
    expect(() => checkImageSize('proposed', opts('proposed'), 512, 256)).not.toThrow();
    expect(() => checkImageSize('pix2pixhd', opts('pix2pixhd'), 1024, 512)).not.toThrow();
    expect(() => checkImageSize('pix2pix', opts('pix2pix'), 256, 512)).not.toThrow();
    expect(() => checkImageSize('spade', opts('spade'), 256, 256)).not.toThrow();
    for (const name of MODEL_NAMES) expect(() => checkImageSize(name, CPU_DEFAULTS[name], 64, 64), name).not.toThrow();
  });

  it('rejects a size that is not a multiple, naming the size and the multiple', () => {
    expect(() => checkImageSize('proposed', opts('proposed'), 100, 64)).toThrow(RangeError);
    expect(() => checkImageSize('proposed', opts('proposed'), 100, 64)).toThrow(
      'proposed: image size 100x64 is not supported: width and height must be multiples of 32 (2^(nDown + numLocalEnhancers) = 2^(4 + 1)); the nearest larger size is 128x64',
    );
    expect(() => checkImageSize('pix2pix', opts('pix2pix'), 256, 200)).toThrow(
      /pix2pix: image size 256x200 is not supported: width and height must be multiples of 256 \(2\^numDowns = 2\^8\)/,
    );
    expect(() => checkImageSize('spade', opts('spade'), 48, 64)).toThrow(
      /spade: image size 48x64 .* multiples of 32 \(2\^5 for 'normal' upsampling\)/,
    );
    expect(() => checkImageSize('proposed', opts('proposed'), 0, 64)).toThrow(RangeError);
  });

  it('rejects sizes too small for the generator or the discriminator', () => {
    expect(() => checkImageSize('spade', opts('spade'), 32, 32)).toThrow(
      /spade: image size 32x32 is too small for the generator: .* at least 64/,
    );
    expect(() => checkImageSize('proposed', opts('proposed'), 32, 64)).toThrow(/at least 64/);
    // pix2pix's 70x70 PatchGAN with 4 layers needs 3 * 2^4 = 48 pixels; a 5-down U-Net alone takes 32.
    const p = opts('pix2pix', { numDowns: 5, nLayersD: 4 });
    expect(() => checkImageSize('pix2pix', p, 32, 32)).toThrow(
      /pix2pix: image size 32x32 is too small for the 1-scale discriminator: .* at least 64/,
    );
    expect(() => checkImageSize('pix2pix', p, 64, 64)).not.toThrow();
  });

  it('unknown model names and mismatched options are errors', () => {
    expect(() => checkImageSize('unet' as ModelName, opts('pix2pix'), 256, 256)).toThrow(/unknown model 'unet'/);
    expect(() => checkImageSize('spade', opts('pix2pix'), 256, 256)).toThrow(/options are pix2pix's, not spade's/);
  });

  it("the smallest accepted sizes run a training forward at batch 1 (each model's checks match its layers)", () => {
    const cases: [ModelName, ModelOverrides, number][] = [
      ['proposed', { ngf: 4, nDown: 2, nBlocks: 1, numLocalEnhancers: 1, nBlocksLocal: 1, ndf: 2 }, 16],
      ['pix2pix', { ngf: 2, numDowns: 5, ndf: 2 }, 32],
      ['spade', { ngf: 1, spadeHidden: 2, ndf: 2 }, 64],
    ];
    for (const [name, overrides, side] of cases) {
      const m = buildModels(name, C, overrides, 'cpu');
      expect(() => checkImageSize(name, m.options, side, side), name).not.toThrow();
      expect(() => checkImageSize(name, m.options, side / 2, side / 2), name).toThrow(RangeError);
      torch.tidy(() => {
        const fake = m.generator.call(labelMap(1, C, side, side));
        expect(fake.shape).toEqual([1, 3, side, side]);
        m.discriminator.call(torch.cat([labelMap(1, C, side, side), fake], 1));
      });
    }
  });
});
