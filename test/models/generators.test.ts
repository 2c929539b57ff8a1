// Generators: output shapes and ranges, gradients reaching every parameter, the coarse-to-fine
// contract, skip connections, SPADE's normalisation, and initialisation from the torch seed.
// Small sizes throughout (2 CPU cores).
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import * as torch from '../../src/torch/index.js';
import * as nn from '../../src/nn/index.js';
import type { Tensor } from '../../src/torch/index.js';
import {
  buildModels,
  GlobalGenerator,
  isCoarseToFine,
  LocalEnhancerGenerator,
  SPADE,
  SPADEGenerator,
  UnetGenerator,
  type ModelOverrides,
} from '../../src/models/index.js';
import { biasesBeforeInstanceNorm, gc, gradMax, labelMap, minMax } from './helpers.js';

const C = 4;

beforeAll(() => torch.setNumThreads(2));
afterEach(() => gc());

/** Forward a batch of 2 label maps and check [2, 3, h, w] in [-1, 1], finite. */
function expectImage(g: nn.Module, h: number, w: number): void {
  torch.tidy(() => {
    const y = g.call(labelMap(2, C, h, w));
    expect(y.shape).toEqual([2, 3, h, w]);
    const [lo, hi] = minMax(y);
    expect(lo).toBeGreaterThanOrEqual(-1);
    expect(hi).toBeLessThanOrEqual(1);
    expect(Number.isFinite(lo) && Number.isFinite(hi)).toBe(true);
    expect(hi - lo, 'the output is not constant').toBeGreaterThan(1e-3);
  });
}

const SMALL: ModelOverrides = { ngf: 8, nDown: 2, nBlocks: 1, nBlocksLocal: 1 };

describe('forward shapes and ranges', () => {
  for (const skip of ['concat', 'add', 'none'] as const) {
    for (const numLocalEnhancers of [0, 1]) {
      it(`proposed, skip ${skip}, ${numLocalEnhancers} local enhancer(s), 32x32 and 32x64`, () => {
        const { generator } = buildModels('proposed', C, { ...SMALL, skip, numLocalEnhancers }, 'cpu');
        expectImage(generator, 32, 32);
        expectImage(generator, 32, 64);
      });
    }
  }

  it("proposed with norms 'batch', 'none' and 'spectral-instance' (spectral norm on the transposed convolutions too)", () => {
    for (const norm of ['batch', 'none', 'spectral-instance'] as const) {
      const { generator } = buildModels('proposed', C, { ...SMALL, norm, numLocalEnhancers: 1 }, 'cpu');
      expectImage(generator, 32, 32);
      if (norm === 'spectral-instance') {
        const names = [...generator.stateDict().keys()];
        expect(names).toContain('global.up0.0.weight_orig');
        expect(names).toContain('local1.front.1.weight_u');
        expect(names).toContain('global.front.1.weight_orig');
        expect(names).toContain('local1.head.1.weight'); // the output convolution is not normalised
      }
    }
  });

  it('pix2pixhd with 2 local enhancers, 32x32', () => {
    const { generator } = buildModels('pix2pixhd', C, {
      ngf: 16,
      nDown: 1,
      nBlocks: 1,
      numLocalEnhancers: 2,
      nBlocksLocal: 1,
    });
    expect(isCoarseToFine(generator)).toBe(true);
    expectImage(generator, 32, 32);
  });

  it('pix2pix U-Net with numDowns 5 at 32x32; with 6 at 64x64, dropout acts in training mode only', () => {
    const { generator } = buildModels('pix2pix', C, { ngf: 8, numDowns: 5 });
    expectImage(generator, 32, 32);
    const deeper = new UnetGenerator({ inputNc: C, ngf: 4, numDowns: 6 });
    const x = labelMap(2, C, 64, 64);
    torch.tidy(() => {
      const [a, b] = [deeper.call(x), deeper.call(x)];
      expect(
        torch.tidy(() => a.sub(b).abs().max().item()),
        'dropout in training mode',
      ).toBeGreaterThan(0);
      deeper.eval();
      const [c, d] = [deeper.call(x), deeper.call(x)];
      expect(
        torch.tidy(() => c.sub(d).abs().max().item()),
        'no dropout in eval mode',
      ).toBe(0);
    });
    x.dispose();
  });

  it('SPADE generator, normal upsampling, batch and instance SPADE norms, 64x64', () => {
    for (const spadeNorm of ['batch', 'instance'] as const) {
      const { generator } = buildModels('spade', C, { ngf: 4, spadeHidden: 8, spadeNorm }, 'cpu');
      expectImage(generator, 64, 64);
    }
  });

  it('SPADE generator rejects label maps whose sides are not multiples of 2^5', () => {
    const g = new SPADEGenerator({ labelNc: C, ngf: 2, hidden: 4 });
    const x = labelMap(1, C, 48, 64);
    expect(() => g.call(x)).toThrow(/64x48 label map .* multiples of 32/);
    x.dispose();
  });
});

describe('gradients reach every generator parameter', () => {
  function backwardOnce(g: nn.Module): void {
    torch.tidy(() => {
      const y = g.call(labelMap(2, C, 32, 32));
      y.mul(torch.randnLike(y)).sum().backward();
    });
  }

  for (const skip of ['concat', 'add'] as const) {
    for (const numLocalEnhancers of [0, 1]) {
      it(`proposed, skip ${skip}, ${numLocalEnhancers} local enhancer(s)`, () => {
        torch.manualSeed(11);
        const { generator: g } = buildModels('proposed', C, { ...SMALL, skip, numLocalEnhancers }, 'cpu');
        backwardOnce(g);
        const cancelled = biasesBeforeInstanceNorm(g);
        expect(cancelled.size).toBeGreaterThan(0);
        let largest = 0;
        for (const [name, p] of g.namedParameters()) {
          const v = gradMax(p);
          expect(v, `${name} has a gradient`).not.toBeNull();
          expect(Number.isFinite(v!), `${name}: finite gradient`).toBe(true);
          if (!cancelled.has(name)) expect(v!, `${name}: non-zero gradient`).toBeGreaterThan(1e-6);
          largest = Math.max(largest, v!);
        }
        // pix2pixHD keeps the bias of convolutions followed by instance norm, which removes it again.
        for (const name of cancelled) {
          const p = g.stateDict().get(name)!;
          expect(gradMax(p)!, `${name}: cancelled by instance norm`).toBeLessThan(largest * 1e-2);
        }
      });
    }
  }

  it("with norm 'none', every parameter, biases included, has a non-zero gradient (proposed, concat, 1 enhancer)", () => {
    torch.manualSeed(12);
    const { generator: g } = buildModels('proposed', C, { ...SMALL, norm: 'none', numLocalEnhancers: 1 }, 'cpu');
    backwardOnce(g);
    for (const [name, p] of g.namedParameters()) expect(gradMax(p) ?? 0, name).toBeGreaterThan(1e-6);
  });

  it('pix2pix and SPADE generators: every parameter has a non-zero gradient', () => {
    torch.manualSeed(13);
    const gens: [string, nn.Module, number][] = [
      ['pix2pix', buildModels('pix2pix', C, { ngf: 4, numDowns: 5 }).generator, 32],
      ['spade', buildModels('spade', C, { ngf: 4, spadeHidden: 8 }, 'cpu').generator, 64],
    ];
    for (const [label, g, size] of gens) {
      torch.tidy(() => {
        const y = g.call(labelMap(2, C, size, size));
        y.mul(torch.randnLike(y)).sum().backward();
      });
      for (const [name, p] of g.namedParameters()) expect(gradMax(p) ?? 0, `${label} ${name}`).toBeGreaterThan(0);
    }
  });
});

describe('coarse to fine', () => {
  const build = (skip: 'concat' | 'none'): LocalEnhancerGenerator =>
    buildModels('proposed', C, { ...SMALL, skip, numLocalEnhancers: 1 }, 'cpu').generator as LocalEnhancerGenerator;

  it('isCoarseToFine: generators with local enhancers only', () => {
    expect(isCoarseToFine(build('concat'))).toBe(true);
    expect(isCoarseToFine(buildModels('proposed', C, SMALL, 'cpu').generator)).toBe(false);
    expect(isCoarseToFine(buildModels('pix2pix', C, { ngf: 2, numDowns: 5 }).generator)).toBe(false);
    expect(isCoarseToFine(null)).toBe(false);
  });

  it('globalParameters and localParameters partition the parameters', () => {
    for (const skip of ['concat', 'none'] as const) {
      const g = build(skip);
      const all = g.parameters();
      const glob = g.globalParameters();
      const local = g.localParameters();
      expect(glob.length + local.length).toBe(all.length);
      expect(new Set([...glob, ...local]).size).toBe(all.length);
      expect(glob.filter((p) => local.includes(p))).toEqual([]);
      expect(new Set(all)).toEqual(new Set([...glob, ...local]));
      const names = [...g.namedParameters()];
      expect(names.filter(([n]) => n.startsWith('global.')).map(([, p]) => p)).toEqual(glob);
      expect(names.filter(([n]) => n.startsWith('local1.')).map(([, p]) => p)).toEqual(local);
    }
  });

  it('globalGenerator runs alone at half resolution and shares its trunk with the full generator', () => {
    const g = build('concat');
    torch.tidy(() => {
      const y = g.globalGenerator.call(labelMap(2, C, 16, 16));
      expect(y.shape).toEqual([2, 3, 16, 16]);
      const [lo, hi] = minMax(y);
      expect(lo >= -1 && hi <= 1).toBe(true);
    });
    const own = new Set(g.globalGenerator.parameters());
    for (const p of g.globalParameters()) expect(own.has(p)).toBe(true);
    // Its only other parameters are its head's.
    expect(g.globalGenerator.parameters().filter((p) => !g.globalParameters().includes(p))).toEqual(
      g.globalGenerator.head.parameters(),
    );
    // A global generator trained alone loads into it by name (strictly).
    const alone = new GlobalGenerator({ inputNc: C, ngf: 8, nDown: 2, nBlocks: 1, skip: 'concat' });
    expect([...g.globalGenerator.stateDict().keys()]).toEqual([...alone.stateDict().keys()]);
    g.globalGenerator.loadStateDict(alone.stateDict());
    const w = g.stateDict().get('global.front.1.weight')!;
    expect(Buffer.from(w.bytes()).equals(Buffer.from(alone.stateDict().get('front.1.weight')!.bytes()))).toBe(true);
  });

  it('the full generator is the enhancer applied to the avg-pooled pyramid and the global trunk', () => {
    const g = build('none');
    g.eval();
    const x = labelMap(1, C, 32, 32);
    torch.tidy(() => {
      const full = g.call(x);
      const half = torch.F.avgPool2d(x, 3, { stride: 2, padding: 1, countIncludePad: false });
      const manual = g.enhancers[0]!.call(x, g.trunk.call(half));
      expect(torch.tidy(() => full.sub(manual).abs().max().item())).toBe(0);
    });
    x.dispose();
  });

  it('train/eval mode and to() reach the global generator head', () => {
    const g = build('concat');
    g.eval();
    expect(g.globalGenerator.training).toBe(false);
    expect(g.globalGenerator.head.training).toBe(false);
    g.train();
    expect(g.globalGenerator.head.training).toBe(true);
    g.to('float64');
    expect(g.globalGenerator.head.parameters().every((p) => p.dtype === 'float64')).toBe(true);
    expect(g.parameters().every((p) => p.dtype === 'float64')).toBe(true);
  });
});

describe('skip connections', () => {
  it("concat widens the decoder: up_i reads 2x its channels and the head 2 ngf; 'add' and 'none' do not", () => {
    const widths = (skip: 'concat' | 'add' | 'none'): number[] => {
      const g = new GlobalGenerator({ inputNc: C, ngf: 8, nDown: 2, nBlocks: 1, skip });
      return [
        ...g.ups.map((u) => (u.layers[0] as nn.ConvTranspose2d).inChannels),
        (g.head.layers[1] as nn.Conv2d).inChannels,
      ];
    };
    expect(widths('concat')).toEqual([64, 32, 16]);
    expect(widths('add')).toEqual([32, 16, 8]);
    expect(widths('none')).toEqual([32, 16, 8]);
  });

  it('with the upsampling layers zeroed, the image still depends on the label map through the skips (and is constant without)', () => {
    for (const skip of ['concat', 'add', 'none'] as const) {
      torch.manualSeed(3);
      const g = new GlobalGenerator({ inputNc: C, ngf: 8, nDown: 2, nBlocks: 1, skip });
      torch.noGrad(() => {
        for (const up of g.ups) for (const p of up.parameters()) p.zero_();
      });
      const spread = torch.tidy(() =>
        g
          .call(labelMap(1, C, 16, 16))
          .sub(g.call(labelMap(1, C, 16, 16)))
          .abs()
          .max()
          .item(),
      );
      if (skip === 'none') expect(spread, skip).toBeLessThan(1e-6);
      else expect(spread, skip).toBeGreaterThan(1e-3);
    }
  });
});

describe("upsample 'resize'", () => {
  it('every upsampling layer of the global generator and the enhancers becomes nearest resize + reflect pad + 3x3 conv, with the same parameter count; images and gradients as before', () => {
    const make = (upsample: 'deconv' | 'resize') => {
      torch.manualSeed(2);
      return new LocalEnhancerGenerator({
        inputNc: C,
        ngf: 8,
        nDown: 2,
        nBlocks: 1,
        numLocalEnhancers: 1,
        nBlocksLocal: 1,
        skip: 'concat',
        upsample,
      });
    };
    const deconv = make('deconv');
    const resize = make('resize');
    const count = (g: nn.Module) => g.parameters().reduce((n, p) => n + p.numel, 0);
    expect(count(resize)).toBe(count(deconv));
    const ups = [...resize.globalGenerator.ups, resize.enhancers[0]!.up];
    for (const up of ups)
      expect(up.layers.slice(0, 3).map((l) => l.constructor.name)).toEqual(['Upsample', 'ReflectionPad2d', 'Conv2d']);
    expect([...resize.namedParameters()].some(([n]) => n.startsWith('global.up0.2.'))).toBe(true);
    expectImage(resize, 32, 32);
    const x = labelMap(1, C, 32, 32);
    torch.tidy(() => resize.call(x).square().mean().backward());
    for (const [name, p] of resize.namedParameters()) expect(p.grad, name).not.toBeNull();
    x.dispose();
  });

  it("pix2pix's U-Net: every transposed convolution becomes resize + reflect pad + 3x3 conv (no bias before batch norm), and the network still makes images", () => {
    torch.manualSeed(4);
    const g = new UnetGenerator({ inputNc: C, ngf: 4, numDowns: 5, upsample: 'resize' });
    const kinds = [...g.namedModules()].map(([, m]) => m.constructor.name);
    expect(kinds).not.toContain('ConvTranspose2d');
    expect(kinds.filter((k) => k === 'Upsample')).toHaveLength(5);
    const convs = [...g.namedModules()]
      .map(([, m]) => m)
      .filter((m): m is nn.Conv2d => m instanceof nn.Conv2d && m.kernelSize[0] === 3);
    expect(convs).toHaveLength(5);
    expect(convs.filter((c) => c.options.bias === false)).toHaveLength(4); // the outermost has no norm, so a bias
    g.eval();
    expectImage(g, 32, 32);
  });

  it('is a model option of proposed and pix2pixhd, deconv by default', () => {
    const built = buildModels('pix2pixhd', C, { upsample: 'resize' }, 'cpu');
    expect(built.options.upsample).toBe('resize');
    expect(buildModels('pix2pix', C, { upsample: 'resize' }, 'cpu').options.upsample).toBe('resize');
    expect(buildModels('proposed', C, {}, 'cpu').options.upsample).toBe('deconv');
    expect(() => buildModels('proposed', C, { upsample: 'bilinear' as 'resize' }, 'cpu')).toThrow(
      /upsample must be one of "deconv", "resize"/,
    );
  });
});

describe('SPADE normalisation', () => {
  it('with zero gamma and beta convolutions it is the parameter-free norm; otherwise x_norm * (1 + gamma) + beta', () => {
    torch.manualSeed(4);
    const spade = new SPADE(6, C, { paramFree: 'instance', hidden: 5 });
    const x = torch.randn([2, 6, 8, 8]);
    const seg = labelMap(2, C, 32, 32); // resized (nearest) to 8x8 inside
    torch.tidy(() => {
      const normalized = torch.F.instanceNorm(x);
      const s = torch.F.interpolate(seg, { size: [8, 8], mode: 'nearest' });
      const actv = spade.mlpShared.call(s);
      const gamma = spade.mlpGamma.call(actv);
      const beta = spade.mlpBeta.call(actv);
      const expected = normalized.mul(gamma.add(1)).add(beta);
      expect(torch.tidy(() => spade.call(x, seg).sub(expected).abs().max().item())).toBeLessThan(1e-5);
      torch.noGrad(() => {
        for (const m of [spade.mlpGamma, spade.mlpBeta]) for (const p of m.parameters()) p.zero_();
      });
      expect(torch.tidy(() => spade.call(x, seg).sub(normalized).abs().max().item())).toBeLessThan(1e-6);
    });
    x.dispose();
    seg.dispose();
  });

  it("SPADE's names: fc, head_0, G_middle_*, up_*, conv_img; spectral norm on the residual blocks' convolutions", () => {
    const g = new SPADEGenerator({ labelNc: C, ngf: 2, hidden: 4, spectral: true });
    const names = [...g.stateDict().keys()];
    expect(names).toContain('fc.weight');
    expect(names).toContain('head_0.conv_0.weight_orig');
    expect(names).toContain('head_0.conv_0.weight_u');
    expect(names).toContain('up_0.conv_s.weight_orig');
    expect(names).not.toContain('up_0.conv_s.bias');
    expect(names).toContain('up_3.norm_s.mlp_shared.0.weight');
    expect(names).toContain('G_middle_1.norm_1.param_free_norm.running_mean');
    expect(names).toContain('conv_img.weight');
    expect(names).not.toContain('head_0.conv_s.weight_orig'); // no learned shortcut when fin == fout
  });
});

describe('initialisation', () => {
  function stats(t: Tensor): { mean: number; std: number } {
    return torch.tidy(() => ({ mean: t.mean().item(), std: t.std().item() }));
  }

  it('pix2pixHD: conv weights N(0, 0.02), biases at PyTorch default; pix2pix: N(0, 0.02), biases 0, batch-norm weights N(1, 0.02)', () => {
    torch.manualSeed(5);
    const hd = buildModels('pix2pixhd', C, { ngf: 32, nDown: 2, nBlocks: 1, numLocalEnhancers: 0 }).generator;
    const w = stats(hd.stateDict().get('blocks.0.conv_block.1.weight')!);
    expect(Math.abs(w.mean)).toBeLessThan(0.002);
    expect(w.std).toBeGreaterThan(0.019);
    expect(w.std).toBeLessThan(0.021);
    expect(minMax(hd.stateDict().get('blocks.0.conv_block.1.bias')!)[1]).toBeGreaterThan(0);
    const p2p = buildModels('pix2pix', C, { ngf: 32, numDowns: 5 }).generator;
    const sd = p2p.stateDict();
    const down = stats(sd.get('model.submodule.down.0.weight')!);
    expect(down.std).toBeGreaterThan(0.019);
    expect(down.std).toBeLessThan(0.021);
    expect(minMax(sd.get('model.up.1.bias')!)).toEqual([0, 0]);
    const bn = stats(sd.get('model.submodule.down.1.weight')!);
    expect(Math.abs(bn.mean - 1)).toBeLessThan(0.02);
    expect(bn.std).toBeLessThan(0.04);
  });

  it('SPADE: xavier-normal with gain 0.02 (weight_orig under spectral norm), biases 0', () => {
    torch.manualSeed(6);
    const g = buildModels('spade', C, { ngf: 8, spadeHidden: 16 }, 'cpu').generator;
    const sd = g.stateDict();
    const w = sd.get('head_0.conv_0.weight_orig')!; // [128, 128, 3, 3]
    const expected = 0.02 * Math.sqrt(2 / (128 * 9 + 128 * 9));
    expect(Math.abs(stats(w).std / expected - 1)).toBeLessThan(0.05);
    expect(minMax(sd.get('head_0.conv_0.bias')!)).toEqual([0, 0]);
  });

  it('models are initialised from the current torch seed', () => {
    const weights = (seed: number): Buffer[] => {
      torch.manualSeed(seed);
      const { generator, discriminator } = buildModels('proposed', C, SMALL, 'cpu');
      return [...generator.parameters(), ...discriminator.parameters()].map((p) => Buffer.from(p.bytes()));
    };
    const a = weights(7);
    const b = weights(7);
    const c = weights(8);
    expect(a.every((x, i) => x.equals(b[i]!))).toBe(true);
    expect(a.some((x, i) => !x.equals(c[i]!))).toBe(true);
  });
});
