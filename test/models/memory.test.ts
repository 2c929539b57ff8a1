// Native memory: a training forward + backward inside torch.tidy leaves no tensor behind, and the
// modules free their own intermediates as they go (outside any scope, only the results are live).
import { beforeAll, describe, expect, it } from 'vitest';
import * as torch from '../../src/torch/index.js';
import type * as nn from '../../src/nn/index.js';
import {
  buildModels,
  GlobalGenerator,
  LocalEnhancerGenerator,
  MODEL_NAMES,
  Vgg19,
  type ModelName,
  type ModelOverrides,
} from '../../src/models/index.js';
import { gc, labelMap } from './helpers.js';

const C = 4;

/** Small versions of each model that exercise every code path (local enhancer, skips, spectral norm, dropout). */
const SMALL: Record<ModelName, [ModelOverrides, number]> = {
  proposed: [{ ngf: 8, nDown: 2, nBlocks: 1, numLocalEnhancers: 1, nBlocksLocal: 1, ndf: 4 }, 32],
  pix2pixhd: [{ ngf: 8, nDown: 2, nBlocks: 1, numLocalEnhancers: 1, nBlocksLocal: 1, ndf: 4 }, 32],
  pix2pix: [{ ngf: 4, numDowns: 6, ndf: 4 }, 64],
  spade: [{ ngf: 2, spadeHidden: 4, ndf: 4 }, 64],
};

beforeAll(() => torch.setNumThreads(2));

function step(
  g: nn.Module<[torch.Tensor], torch.Tensor>,
  d: nn.Module<[torch.Tensor], torch.Tensor[][]>,
  label: torch.Tensor,
  real: torch.Tensor,
): void {
  const fake = g.call(label);
  const predFake = d.call(torch.cat([label, fake], 1));
  const predReal = d.call(torch.cat([label, real], 1));
  let loss = fake.sub(real).abs().mean();
  for (const [i, scale] of predFake.entries()) {
    loss = loss.add(scale.at(-1)!.pow(2).mean());
    for (const [j, f] of scale.slice(0, -1).entries()) loss = loss.add(f.sub(predReal[i]![j]!.detach()).abs().mean());
  }
  loss.backward();
}

describe('memory', () => {
  for (const name of MODEL_NAMES) {
    it(`${name}: forward + backward inside tidy returns liveTensors() to its baseline`, () => {
      const [overrides, size] = SMALL[name];
      const { generator: g, discriminator: d } = buildModels(name, C, overrides, 'cpu');
      const label = labelMap(1, C, size, size);
      const real = torch.rand([1, 3, size, size]).mul(2).sub(1);
      // Warm-up: spectral norm's cached weights and the sub-pixel index are made on first use.
      torch.tidy(() => step(g, d, label, real));
      g.zeroGrad();
      d.zeroGrad();
      gc();
      const baseline = torch.liveTensors();
      torch.tidy(() => step(g, d, label, real));
      g.zeroGrad();
      d.zeroGrad();
      gc();
      expect(torch.liveTensors()).toBe(baseline);
      label.dispose();
      real.dispose();
    });

    it(`${name}: without a scope, a forward leaves only its outputs alive`, () => {
      const [overrides, size] = SMALL[name];
      const { generator: g, discriminator: d } = buildModels(name, C, overrides, 'cpu');
      const label = labelMap(1, C, size, size);
      const input = torch.rand([1, C + 3, size, size]);
      torch.tidy(() => [g.call(label), d.call(input)]); // warm-up
      gc(); // earlier tests' garbage; from here on, an intermediate left to the finalizer would still count
      const baseline = torch.liveTensors();
      const fake = g.call(label);
      expect(torch.liveTensors()).toBe(baseline + 1);
      const feats = d.call(input);
      expect(torch.liveTensors()).toBe(baseline + 1 + feats.flat().length);
      torch.dispose([fake, feats, label, input]);
    });
  }

  it('edge sizes (no downsampling, no residual blocks) free every intermediate, with every skip mode', () => {
    const label = labelMap(1, C, 16, 16);
    for (const skip of ['concat', 'add', 'none'] as const) {
      for (const [nDown, nBlocks] of [
        [0, 0],
        [1, 0],
        [2, 1],
      ]) {
        const gens = [
          new GlobalGenerator({ inputNc: C, ngf: 4, nDown: nDown!, nBlocks: nBlocks!, skip }),
          new LocalEnhancerGenerator({
            inputNc: C,
            ngf: 4,
            nDown: nDown!,
            nBlocks: nBlocks!,
            numLocalEnhancers: 1,
            nBlocksLocal: nBlocks!,
            skip,
          }),
        ];
        for (const g of gens) {
          torch.tidy(() => g.call(label));
          gc();
          const baseline = torch.liveTensors();
          const y = g.call(label);
          expect(y.shape, `${skip} ${nDown} ${nBlocks}`).toEqual([1, 3, 16, 16]);
          expect(torch.liveTensors(), `${skip} nDown ${nDown} nBlocks ${nBlocks} ${g.constructor.name}`).toBe(
            baseline + 1,
          );
          y.dispose();
        }
      }
    }
    label.dispose();
  });

  it('Vgg19: a forward leaves only its five features alive, and a tidy forward + backward nothing', () => {
    const vgg = new Vgg19().freeze();
    const x = torch.rand([1, 3, 16, 16]).requiresGrad_(true);
    torch.tidy(() => vgg.call(x));
    gc();
    const baseline = torch.liveTensors();
    const feats = vgg.call(x);
    expect(torch.liveTensors()).toBe(baseline + 5);
    torch.dispose(feats);
    torch.tidy(() =>
      vgg
        .call(x)
        .reduce((a, f) => a.add(f.mean()), torch.zeros([]))
        .backward(),
    );
    x.zeroGrad();
    gc();
    expect(torch.liveTensors()).toBe(baseline);
    x.dispose();
  });
});
