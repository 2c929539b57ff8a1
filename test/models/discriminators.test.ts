// Discriminators: per-scale feature lists (prediction last), each original's layer layout
// (padding, strides, biases, spectral norm), the pooling between scales, and gradients.
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import * as torch from '../../src/torch/index.js';
import * as nn from '../../src/nn/index.js';
import {
  buildModels,
  downsampleScale,
  MODEL_NAMES,
  MultiscaleDiscriminator,
  NLayerDiscriminator,
} from '../../src/models/index.js';
import { biasesBeforeInstanceNorm, gc, gradMax, labelMap } from './helpers.js';

const C = 4;

beforeAll(() => torch.setNumThreads(2));
afterEach(() => gc());

const shapes = (feats: torch.Tensor[][]): string[][] => feats.map((s) => s.map((t) => t.shape.join('x')));

describe('feature lists', () => {
  it('every model: numD lists, one entry per layer group, the 1-channel patch prediction last', () => {
    for (const name of MODEL_NAMES) {
      const { discriminator: d, options } = buildModels(name, C, { ndf: 8 }, 'cpu');
      torch.tidy(() => {
        const feats = d.call(torch.cat([labelMap(2, C, 64, 64), torch.rand([2, 3, 64, 64]).mul(2).sub(1)], 1));
        expect(feats.length, name).toBe(options.numD);
        const groups = name === 'spade' ? options.nLayersD + 1 : options.nLayersD + 2;
        for (const scale of feats) {
          expect(scale.length, name).toBe(groups);
          const last = scale[scale.length - 1]!;
          expect(last.shape[0]).toBe(2);
          expect(last.shape[1], `${name}: prediction channels`).toBe(1);
          for (const f of scale.slice(0, -1)) expect(f.shape[1]! > 1, name).toBe(true);
        }
      });
    }
  });

  it("pix2pixHD's layout at 32x32 (padding 2): 17, 9, 5, 6, 7; the second scale reads 16x16", () => {
    const d = new MultiscaleDiscriminator({ inputNc: 7, ndf: 8, nLayers: 3, numD: 2, style: 'pix2pixhd' });
    torch.tidy(() => {
      expect(shapes(d.call(torch.randn([1, 7, 32, 32])))).toEqual([
        ['1x8x17x17', '1x16x9x9', '1x32x5x5', '1x64x6x6', '1x1x7x7'],
        ['1x8x9x9', '1x16x5x5', '1x32x3x3', '1x64x4x4', '1x1x5x5'],
      ]);
    });
  });

  it("pix2pix's 70x70 PatchGAN (padding 1) at 256x256 gives a 30x30 patch map; channels ndf min(2^n, 8)", () => {
    const d = new NLayerDiscriminator({ inputNc: 7, ndf: 4, nLayers: 3, norm: 'batch', style: 'pix2pix' });
    torch.tidy(() => {
      expect(d.call(torch.randn([1, 7, 256, 256])).map((t) => t.shape.join('x'))).toEqual([
        '1x4x128x128',
        '1x8x64x64',
        '1x16x32x32',
        '1x32x31x31',
        '1x1x30x30',
      ]);
    });
    // No bias before batch norm; the first and last convolutions keep theirs.
    const names = [...d.stateDict().keys()];
    expect(names).toContain('model0.0.bias');
    expect(names).not.toContain('model1.0.bias');
    expect(names).not.toContain('model3.0.bias');
    expect(names).toContain('model4.0.bias');
    expect(names).toContain('model1.1.running_mean');
  });

  it("SPADE's layout (n_layers_D 4): strides 2, 2, 2, 1, 1 with padding 2; spectral norm and no bias on the normalised convolutions", () => {
    const d = new NLayerDiscriminator({ inputNc: 7, ndf: 8, nLayers: 4, norm: 'spectral-instance', style: 'spade' });
    torch.tidy(() => {
      expect(d.call(torch.randn([1, 7, 32, 32])).map((t) => t.shape.join('x'))).toEqual([
        '1x8x17x17',
        '1x16x9x9',
        '1x32x5x5',
        '1x64x6x6',
        '1x1x7x7',
      ]);
    });
    const names = [...d.stateDict().keys()].sort();
    expect(names).toEqual(
      [
        'model0.0.weight',
        'model0.0.bias',
        'model1.0.weight_orig',
        'model1.0.weight_u',
        'model1.0.weight_v',
        'model2.0.weight_orig',
        'model2.0.weight_u',
        'model2.0.weight_v',
        'model3.0.weight_orig',
        'model3.0.weight_u',
        'model3.0.weight_v',
        'model4.0.weight',
        'model4.0.bias',
      ].sort(),
    );
    expect(d.groups[1]!.layers[1]).toBeInstanceOf(nn.InstanceNorm2d);
  });

  it("pix2pixHD style with 'spectral-instance': the normalised convolutions are spectrally normalised and keep their bias", () => {
    const d = new NLayerDiscriminator({ inputNc: 7, ndf: 4, nLayers: 3, norm: 'spectral-instance' });
    const names = [...d.stateDict().keys()];
    for (const i of [1, 2, 3])
      expect(names).toEqual(
        expect.arrayContaining([`model${i}.0.weight_orig`, `model${i}.0.bias`, `model${i}.0.weight_u`]),
      );
    expect(names).toContain('model0.0.weight');
    expect(names).toContain('model4.0.weight');
    torch.tidy(() => {
      expect(d.call(torch.randn([1, 7, 16, 16])).at(-1)!.shape).toEqual([1, 1, 5, 5]);
    });
  });

  it('pix2pixHD style keeps every bias; width is capped at 512', () => {
    const d = new NLayerDiscriminator({ inputNc: 7, ndf: 256, nLayers: 3 });
    const sd = d.stateDict();
    expect(sd.get('model1.0.bias')!.shape).toEqual([512]);
    expect(sd.get('model3.0.weight')!.shape).toEqual([512, 512, 4, 4]);
    for (const p of d.parameters()) p.dispose();
  });

  it('scale k sees the input average-pooled k times (3x3, stride 2, padding 1, padding not counted)', () => {
    const d = new MultiscaleDiscriminator({
      inputNc: 7,
      ndf: 4,
      nLayers: 2,
      numD: 3,
      norm: 'spectral-instance',
      style: 'spade',
    });
    d.eval(); // no power iteration: repeated calls give the same weights
    const x = torch.randn([1, 7, 40, 24]);
    torch.tidy(() => {
      const all = d.call(x);
      const x1 = downsampleScale(x);
      const x2 = downsampleScale(x1);
      expect(x1.shape).toEqual([1, 7, 20, 12]);
      const diff = (a: torch.Tensor, b: torch.Tensor): number => torch.tidy(() => a.sub(b).abs().max().item());
      expect(diff(all[1]!.at(-1)!, d.scales[1]!.call(x1).at(-1)!)).toBe(0);
      expect(diff(all[2]!.at(-1)!, d.scales[2]!.call(x2).at(-1)!)).toBe(0);
      // count_include_pad false: a constant image stays constant.
      expect(
        torch.tidy(() =>
          downsampleScale(torch.full([1, 1, 5, 5], 3))
            .sub(3)
            .abs()
            .max()
            .item(),
        ),
      ).toBe(0);
    });
    x.dispose();
  });
});

describe('gradients', () => {
  it('every discriminator parameter gets a non-zero gradient, and so does the input image', () => {
    torch.manualSeed(2);
    for (const name of MODEL_NAMES) {
      const { discriminator: d } = buildModels(name, C, { ndf: 4 }, 'cpu');
      const image = torch.rand([2, 3, 64, 64]).requiresGrad_(true);
      torch.tidy(() => {
        const feats = d.call(torch.cat([labelMap(2, C, 64, 64), image], 1));
        let loss = torch.zeros([]);
        for (const scale of feats) loss = loss.add(scale.at(-1)!.pow(2).mean()).add(scale[0]!.mean());
        loss.backward();
      });
      const cancelled = biasesBeforeInstanceNorm(d);
      for (const [n, p] of d.namedParameters()) {
        const v = gradMax(p);
        expect(v, `${name} ${n}`).not.toBeNull();
        // pix2pixHD's biases before instance norm cancel (see generators.test.ts); all else is non-zero.
        if (!cancelled.has(n)) expect(v!, `${name} ${n}`).toBeGreaterThan(0);
      }
      expect(gradMax(image)!).toBeGreaterThan(0);
      image.dispose();
    }
  });
});
