// GAN training losses: values and gradients against PyTorch re-implementations of pix2pixHD's and
// SPADE's arithmetic (test/fixtures/make_loss_fixtures.py), float64 gradient checks, feature
// matching and VGG properties (detached real side, excluded prediction, weights), the combined
// GanLosses objectives, errors, and freedom from leaks.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import * as torch from '../../src/torch/index.js';
import type { Tensor } from '../../src/torch/index.js';
import {
  GAN_MODES,
  GanLosses,
  VGG_LAYER_WEIGHTS,
  VggPerceptualLoss,
  defaultScaleReduction,
  discriminatorFactor,
  discriminatorLoss,
  discriminatorTerms,
  featureMatchingLoss,
  featureStdLoss,
  generatorAdversarialLoss,
  l1Loss,
  type FeatureExtractor,
  type GanMode,
} from '../../src/train/losses.js';
import { describeGradcheck, gradcheck } from '../helpers/gradcheck.js';
import { TORCH_FIXTURES_MISSING, torchFixture } from '../helpers/torch_fixtures.js';

const { F } = torch;
if (TORCH_FIXTURES_MISSING)
  console.warn(`losses.test.ts: the comparisons with PyTorch are skipped: ${TORCH_FIXTURES_MISSING}`);
const gc = (): void => (globalThis as { gc?: () => void }).gc?.();

/** The fixture's layout: 2 scales x 4 maps (3 intermediate features, then the prediction). */
const SCALES = 2;
const MAPS = 4;

let fx: Map<string, Tensor>;

function get(name: string): Tensor {
  const t = fx.get(name);
  if (!t) throw new Error(`losses.safetensors has no tensor '${name}'`);
  return t;
}

/** Fresh leaves (copies of the fixture's tensors) that require gradients, optionally converted. */
function leafOf(t: Tensor, dtype: 'float64' | 'float32' = 'float64'): Tensor {
  return torch.noGrad(() => t.to({ dtype, copy: true })).requiresGrad_();
}
function preds(kind: 'real' | 'fake', dtype: 'float64' | 'float32' = 'float64'): Tensor[][] {
  return Array.from({ length: SCALES }, (_, i) =>
    Array.from({ length: MAPS }, (_, j) => leafOf(get(`${kind}.${i}.${j}`), dtype)),
  );
}

/** |actual - expected| <= tol * max(1, |expected|), elementwise. */
function expectClose(actual: Tensor | number, expected: Tensor, label: string, tol = 1e-6): void {
  const a = typeof actual === 'number' ? [actual] : actual.to('float64').toArray();
  const e = expected.toArray();
  if (typeof actual !== 'number') expect(actual.shape, `${label}: shape`).toEqual(expected.shape);
  expect(a.length, `${label}: size`).toBe(e.length);
  for (let i = 0; i < e.length; i++) {
    const err = Math.abs(a[i]! - e[i]!);
    if (!(err <= tol * Math.max(1, Math.abs(e[i]!)))) {
      expect.fail(`${label}: element ${i} is ${a[i]}, PyTorch gives ${e[i]} (error ${err})`);
    }
  }
}

function gradOf(t: Tensor): Tensor | null {
  return t.grad;
}

/** The stand-in for VGG19: five average-pool levels (the fixture's tiny_extractor). */
const tinyExtractor: FeatureExtractor = {
  call(x: Tensor): Tensor[] {
    const out = [x];
    for (let k = 0; k < 4; k++) out.push(F.avgPool2d(out[out.length - 1]!, 2));
    return out;
  },
};

beforeAll(async () => {
  torch.setNumThreads(1);
  if (TORCH_FIXTURES_MISSING) return;
  const { tensors } = await torch.loadSafetensors(torchFixture('losses.safetensors'));
  for (const t of tensors.values()) torch.keep(t);
  fx = tensors;
});
afterAll(() => {
  torch.dispose(fx);
});
beforeEach(() => {
  torch.manualSeed(4242);
});

describe('the originals per mode', () => {
  it('reduce over scales and scale the discriminator as pix2pixHD (lsgan, vanilla) and SPADE (hinge)', () => {
    expect(GAN_MODES).toEqual(['lsgan', 'hinge', 'vanilla']);
    expect(defaultScaleReduction('lsgan')).toBe('sum');
    expect(defaultScaleReduction('vanilla')).toBe('sum');
    expect(defaultScaleReduction('hinge')).toBe('mean');
    expect(discriminatorFactor('lsgan')).toBe(0.5);
    expect(discriminatorFactor('vanilla')).toBe(0.5);
    expect(discriminatorFactor('hinge')).toBe(1);
    expect(() => defaultScaleReduction('wgan' as GanMode)).toThrow(/unknown GAN mode 'wgan'/);
  });
});

describe.skipIf(TORCH_FIXTURES_MISSING !== null).each(GAN_MODES)('%s matches PyTorch', (mode) => {
  it('discriminator loss, its terms, and gradients to both predictions', () => {
    const real = preds('real');
    const fake = preds('fake');
    const loss = discriminatorLoss(mode, real, fake);
    expect(loss.shape).toEqual([]);
    expectClose(loss, get(`${mode}.D`), `${mode}.D`);
    const terms = torch.noGrad(() => discriminatorTerms(mode, real, fake));
    expectClose(terms.real, get(`${mode}.D_real`), `${mode}.D_real`);
    expectClose(terms.fake, get(`${mode}.D_fake`), `${mode}.D_fake`);
    loss.backward();
    for (let i = 0; i < SCALES; i++) {
      expectClose(gradOf(real[i]![MAPS - 1]!)!, get(`${mode}.D.grad_real.${i}`), `${mode} D grad real ${i}`);
      expectClose(gradOf(fake[i]![MAPS - 1]!)!, get(`${mode}.D.grad_fake.${i}`), `${mode} D grad fake ${i}`);
      // Only the predictions enter the adversarial loss.
      for (let j = 0; j < MAPS - 1; j++) {
        expect(real[i]![j]!.grad).toBeNull();
        expect(fake[i]![j]!.grad).toBeNull();
      }
    }
  });

  it('generator adversarial loss and its gradient', () => {
    const fake = preds('fake');
    const loss = generatorAdversarialLoss(mode, fake);
    expectClose(loss, get(`${mode}.G_GAN`), `${mode}.G_GAN`);
    loss.backward();
    for (let i = 0; i < SCALES; i++) {
      expectClose(gradOf(fake[i]![MAPS - 1]!)!, get(`${mode}.G_GAN.grad_fake.${i}`), `${mode} G grad ${i}`);
    }
  });

  it('GanLosses: the generator total, its parts, and gradients to the image and every fake map', () => {
    const losses = new GanLosses({ gan: mode, featureMatching: 10, vgg: 10, l1: 5 }, tinyExtractor);
    const predFake = preds('fake');
    const predReal = preds('real');
    const fake = leafOf(get('img_fake'));
    const real = leafOf(get('img_real'));
    const { total, parts } = losses.generatorLoss({ predFake, predReal, fake, real });
    expectClose(total, get(`${mode}.G_total`), `${mode}.G_total`);
    expect(Object.keys(parts).sort()).toEqual(['G_GAN', 'G_GAN_Feat', 'G_L1', 'G_VGG']);
    for (const [name, value] of Object.entries(parts))
      expectClose(value, get(`${mode}.G_total.${name}`), `${mode} ${name}`);
    total.backward();
    expectClose(fake.grad!, get(`${mode}.G_total.grad_img`), `${mode} G total grad image`);
    expect(real.grad).toBeNull();
    for (let i = 0; i < SCALES; i++) {
      for (let j = 0; j < MAPS; j++) {
        expectClose(
          predFake[i]![j]!.grad!,
          get(`${mode}.G_total.grad_fake.${i}.${j}`),
          `${mode} G total grad fake ${i}.${j}`,
        );
        expect(predReal[i]![j]!.grad, 'the real predictions are detached').toBeNull();
      }
    }
  });

  it('GanLosses: the discriminator total and its parts D_real, D_fake', () => {
    const losses = new GanLosses({ gan: mode, featureMatching: 0, vgg: 0, l1: 0 });
    const { total, parts } = losses.discriminatorLoss({ predReal: preds('real'), predFake: preds('fake') });
    expectClose(total, get(`${mode}.D`), `${mode}.D`);
    expect(Object.keys(parts).sort()).toEqual(['D_fake', 'D_real']);
    expectClose(parts.D_real!, get(`${mode}.D_real`), `${mode} D_real`);
    expectClose(parts.D_fake!, get(`${mode}.D_fake`), `${mode} D_fake`);
  });

  it('float32 inputs give float32 losses close to the float64 reference', () => {
    const real = preds('real', 'float32');
    const fake = preds('fake', 'float32');
    const d = discriminatorLoss(mode, real, fake);
    const g = generatorAdversarialLoss(mode, fake);
    expect(d.dtype).toBe('float32');
    expect(g.dtype).toBe('float32');
    expectClose(d, get(`${mode}.D`), `${mode}.D float32`, 1e-5);
    expectClose(g, get(`${mode}.G_GAN`), `${mode}.G_GAN float32`, 1e-5);
  });
});

describe.skipIf(TORCH_FIXTURES_MISSING !== null)('feature matching, VGG and L1 match PyTorch', () => {
  it('feature matching (lambda 10): value and gradients, none for the prediction or the real side', () => {
    const fake = preds('fake');
    const real = preds('real');
    const loss = featureMatchingLoss(fake, real, 10);
    expectClose(loss, get('fm'), 'fm');
    loss.backward();
    for (let i = 0; i < SCALES; i++) {
      for (let j = 0; j < MAPS - 1; j++)
        expectClose(fake[i]![j]!.grad!, get(`fm.grad_fake.${i}.${j}`), `fm grad ${i}.${j}`);
      expect(fake[i]![MAPS - 1]!.grad, 'the prediction is excluded').toBeNull();
      for (const r of real[i]!) expect(r.grad, 'real features are detached').toBeNull();
    }
  });

  it('feature-statistics matching (weight 7): value and gradients, none for the prediction or the real side', () => {
    const fake = preds('fake');
    const real = preds('real');
    const loss = featureStdLoss(fake, real, 7);
    expectClose(loss, get('fmstd'), 'fmstd');
    loss.backward();
    for (let i = 0; i < SCALES; i++) {
      for (let j = 0; j < MAPS - 1; j++)
        expectClose(fake[i]![j]!.grad!, get(`fmstd.grad_fake.${i}.${j}`), `fmstd grad ${i}.${j}`);
      expect(fake[i]![MAPS - 1]!.grad, 'the prediction is excluded').toBeNull();
      for (const r of real[i]!) expect(r.grad, 'real features are detached').toBeNull();
    }
  });

  it('VGG perceptual loss (weight 10) with the five-level extractor', () => {
    const fake = leafOf(get('img_fake'));
    const real = leafOf(get('img_real'));
    const loss = new VggPerceptualLoss(tinyExtractor, { weight: 10 }).call(fake, real);
    expectClose(loss, get('vgg'), 'vgg');
    loss.backward();
    expectClose(fake.grad!, get('vgg.grad_fake'), 'vgg grad');
    expect(real.grad).toBeNull();
  });

  it('L1 (weight 3)', () => {
    const fake = leafOf(get('img_fake'));
    const real = leafOf(get('img_real'));
    const loss = l1Loss(fake, real, 3);
    expectClose(loss, get('l1'), 'l1');
    loss.backward();
    expectClose(fake.grad!, get('l1.grad_fake'), 'l1 grad');
    expect(real.grad).toBeNull();
  });
});

// ---- gradient checks ---------------------------------------------------------------------------

/** Small random multiscale outputs: 2 scales of [intermediate..., prediction], float64. */
const SMALL: number[][][] = [
  [
    [1, 2, 3, 3],
    [1, 3, 2, 2],
    [1, 1, 2, 2],
  ],
  [
    [1, 2, 2, 2],
    [1, 3, 1, 2],
    [1, 1, 1, 2],
  ],
];
function randomPreds(requiresGrad: boolean, scale = 1.5): Tensor[][] {
  return SMALL.map((s) =>
    s.map((shape) => {
      const t = torch.noGrad(() => torch.randn(shape, { dtype: 'float64' }).mul(scale));
      return requiresGrad ? t.requiresGrad_() : t;
    }),
  );
}
function flat(p: Tensor[][]): Tensor[] {
  return p.flat();
}
/** Rebuilds the nested structure from gradcheck's flat argument list. */
function nest(xs: Tensor[], offset = 0): Tensor[][] {
  let k = offset;
  return SMALL.map((s) => s.map(() => xs[k++]!));
}

function expectGradOk(fn: (...xs: Tensor[]) => Tensor, inputs: Tensor[]): void {
  gc();
  const before = torch.liveTensors();
  const r = gradcheck(fn, inputs);
  expect(r.ok, describeGradcheck(r)).toBe(true);
  expect(r.maxAbsError).toBeLessThan(1e-6);
  expect(
    r.analytical.flat().some((g) => Math.abs(g) > 1e-8),
    'the gradient is not identically zero',
  ).toBe(true);
  expect(torch.liveTensors()).toBe(before);
}

describe.each(GAN_MODES)('%s: gradcheck (float64)', (mode) => {
  it('discriminator loss w.r.t. real and fake predictions', () => {
    const real = randomPreds(true);
    const fake = randomPreds(true);
    const n = flat(real).length;
    expectGradOk((...xs) => discriminatorLoss(mode, nest(xs), nest(xs, n)), [...flat(real), ...flat(fake)]);
  });

  it('generator adversarial loss w.r.t. fake predictions', () => {
    expectGradOk((...xs) => generatorAdversarialLoss(mode, nest(xs)), flat(randomPreds(true)));
  });
});

describe('gradcheck (float64): feature matching, VGG, L1, the combined generator loss', () => {
  it('feature matching w.r.t. the fake features', () => {
    const real = randomPreds(false);
    expectGradOk((...xs) => featureMatchingLoss(nest(xs), real, 10), flat(randomPreds(true)));
  });

  it('feature-statistics matching w.r.t. the fake features', () => {
    const real = randomPreds(false);
    expectGradOk((...xs) => featureStdLoss(nest(xs), real, 3), flat(randomPreds(true)));
  });

  it('VGG perceptual loss w.r.t. the fake image', () => {
    const fake = torch.randn([1, 2, 16, 16], { dtype: 'float64' }).requiresGrad_();
    const real = torch.randn([1, 2, 16, 16], { dtype: 'float64' });
    const vgg = new VggPerceptualLoss(tinyExtractor, { weight: 2 });
    expectGradOk((x) => vgg.call(x, real), [fake]);
  });

  it('L1 w.r.t. the fake image', () => {
    const real = torch.randn([2, 3, 4, 4], { dtype: 'float64' });
    expectGradOk((x) => l1Loss(x, real, 5), [torch.randn([2, 3, 4, 4], { dtype: 'float64' }).requiresGrad_()]);
  });

  it('GanLosses generator total w.r.t. the fake image and predictions', () => {
    const losses = new GanLosses({ gan: 'hinge', featureMatching: 10, vgg: 3, l1: 2 }, tinyExtractor);
    const predReal = randomPreds(false);
    const real = torch.randn([1, 2, 16, 16], { dtype: 'float64' });
    const fake = torch.randn([1, 2, 16, 16], { dtype: 'float64' }).requiresGrad_();
    expectGradOk(
      (x, ...xs) => losses.generatorLoss({ predFake: nest(xs), predReal, fake: x!, real }, { parts: false }).total,
      [fake, ...flat(randomPreds(true))],
    );
  });
});

// ---- properties --------------------------------------------------------------------------------

describe('feature matching', () => {
  it('is zero when fake == real, and ignores the prediction', () => {
    const a = randomPreds(false);
    const copy = a.map((s) => s.map((t) => t.clone()));
    expect(featureMatchingLoss(a, copy).item()).toBe(0);
    // Different predictions (the last maps) change nothing.
    const other = a.map((s) => [...s.slice(0, -1), torch.randn(s[s.length - 1]!.shape, { dtype: 'float64' })]);
    expect(featureMatchingLoss(other, copy).item()).toBe(0);
    const b = randomPreds(false);
    const withOtherPred = b.map((s, i) => [...s.slice(0, -1), a[i]![a[i]!.length - 1]!]);
    expect(featureMatchingLoss(withOtherPred, a).item()).toBeCloseTo(featureMatchingLoss(b, a).item(), 12);
    // Feature-statistics matching: zero for equal maps, and for maps that differ only by a constant per channel.
    expect(featureStdLoss(a, copy).item()).toBe(0);
    const shifted = a.map((s) => s.map((t) => t.add(3)));
    expect(featureStdLoss(shifted, a).item()).toBeLessThan(1e-9);
    expect(featureMatchingLoss(shifted, a).item()).toBeGreaterThan(1);
    // In GanLosses: its own part, G_GAN_FeatStd, only when its weight is set.
    const b2 = randomPreds(false);
    const on = new GanLosses({ gan: 'lsgan', featureMatching: 0, featureStd: 2, vgg: 0, l1: 0 }).generatorLoss({
      predFake: b2,
      predReal: a,
    });
    expect(on.parts.G_GAN_FeatStd).toBeCloseTo(featureStdLoss(b2, a, 2).item(), 9);
    expect(on.total.item()).toBeCloseTo(on.parts.G_GAN! + on.parts.G_GAN_FeatStd!, 9);
    const off = new GanLosses({ gan: 'lsgan', featureMatching: 10, vgg: 0, l1: 0 }).generatorLoss({
      predFake: b2,
      predReal: a,
    });
    expect(Object.keys(off.parts)).toEqual(['G_GAN', 'G_GAN_Feat', 'G_VGG', 'G_L1']);
  });

  it('weights each map by 4 / (intermediate maps) / (scales) * weight', () => {
    const f = torch.randn([1, 2, 3, 3], { dtype: 'float64' });
    const r = torch.randn([1, 2, 3, 3], { dtype: 'float64' });
    const l1 = F.l1Loss(f, r).item();
    const p = torch.randn([1, 1, 2, 2], { dtype: 'float64' });
    // One scale, one intermediate map: 4/1 * 1/1 * weight.
    expect(featureMatchingLoss([[f, p]], [[r, p]], 2).item()).toBeCloseTo(4 * 2 * l1, 12);
    // Two scales of two intermediate maps, the same pair everywhere: 4 * (4/2 * 1/2 * w * l1).
    expect(
      featureMatchingLoss(
        [
          [f, f, p],
          [f, f, p],
        ],
        [
          [r, r, p],
          [r, r, p],
        ],
        3,
      ).item(),
    ).toBeCloseTo(4 * 3 * l1, 12);
    // pix2pixHD's default discriminator (n_layers_D = 3, 5 maps): each intermediate map weighs 1/num_D.
    expect(featureMatchingLoss([[f, f, f, f, p]], [[r, r, r, r, p]], 10).item()).toBeCloseTo(4 * 10 * l1, 12);
  });

  it('gives real features no gradient even when they require one', () => {
    const fake = randomPreds(true);
    const real = randomPreds(true);
    featureMatchingLoss(fake, real).backward();
    for (const t of flat(real)) expect(t.grad).toBeNull();
    expect(fake[0]![0]!.grad).not.toBeNull();
  });

  it('rejects mismatched structures', () => {
    const a = randomPreds(false);
    expect(() => featureMatchingLoss(a, a.slice(0, 1))).toThrow(/2 scales but featsReal has 1/);
    expect(() => featureMatchingLoss(a, [a[0]!, a[1]!.slice(1)])).toThrow(/scale 1 has 3 fake maps but 2 real/);
    expect(() => featureMatchingLoss([[a[0]![0]!]], [[a[0]![0]!]])).toThrow(/at least 2 feature maps/);
    expect(() => featureMatchingLoss([[a[0]![0]!, a[0]![2]!]], [[a[0]![1]!, a[0]![2]!]])).toThrow(
      /scale 0 map 0: fake is \[1, 2, 3, 3\] but real is \[1, 3, 2, 2\]/,
    );
    expect(() => featureMatchingLoss(a, a, -1)).toThrow(RangeError);
  });
});

describe('adversarial losses', () => {
  it('combine scales by sum or mean as asked', () => {
    const fake = randomPreds(false);
    const sum = generatorAdversarialLoss('hinge', fake, { scaleReduction: 'sum' }).item();
    const mean = generatorAdversarialLoss('hinge', fake).item();
    expect(mean).toBeCloseTo(sum / 2, 12);
    const lsSum = generatorAdversarialLoss('lsgan', fake).item();
    expect(generatorAdversarialLoss('lsgan', fake, { scaleReduction: 'mean' }).item()).toBeCloseTo(lsSum / 2, 12);
    // One scale: the reduction makes no difference; -mean(x) for hinge.
    const one = [fake[0]!];
    expect(generatorAdversarialLoss('hinge', one).item()).toBeCloseTo(-one[0]![2]!.mean().item(), 12);
  });

  it('hinge is zero for confident, correct predictions', () => {
    const real = [[torch.full([1, 1, 2, 2], 3, { dtype: 'float64' })]];
    const fake = [[torch.full([1, 1, 2, 2], -3, { dtype: 'float64' })]];
    expect(discriminatorLoss('hinge', real, fake).item()).toBe(0);
    expect(discriminatorLoss('lsgan', [[torch.ones([2, 1, 3, 3])]], [[torch.zeros([2, 1, 3, 3])]]).item()).toBe(0);
    // vanilla at logit 0: log 2 per term, times 0.5 per D.
    const zero = [[torch.zeros([1, 1, 2, 2], { dtype: 'float64' })]];
    expect(discriminatorLoss('vanilla', zero, zero).item()).toBeCloseTo(Math.LN2, 12);
  });

  it('keeps the graph to a discriminator output (non-leaf) and works inside an outer tidy', () => {
    const w = torch.randn([1, 1, 2, 2], { dtype: 'float64' }).requiresGrad_();
    const loss = torch.tidy(() => {
      const pred = w.mul(2); // an intermediate tensor, disposed by the tidy
      return generatorAdversarialLoss('lsgan', [[pred]]);
    });
    loss.backward();
    // d/dw sum (2w - 1)^2 / 4 = (2w - 1)
    const expected = w.toArray().map((v) => 2 * v - 1);
    w.grad!.toArray().forEach((g, i) => expect(g).toBeCloseTo(expected[i]!, 12));
  });

  it('reject bad arguments', () => {
    const p = randomPreds(false);
    expect(() => discriminatorLoss('wgan' as GanMode, p, p)).toThrow(
      /unknown GAN mode 'wgan' \(expected lsgan, hinge, vanilla\)/,
    );
    expect(() => discriminatorLoss('lsgan', p, p.slice(0, 1))).toThrow(/predReal has 2 scales but predFake has 1/);
    expect(() => generatorAdversarialLoss('lsgan', [])).toThrow(/one list of feature maps per discriminator scale/);
    expect(() => generatorAdversarialLoss('lsgan', [[]])).toThrow(/scale 0 must be a list of at least 1 feature map/);
    expect(() => generatorAdversarialLoss('lsgan', p, { scaleReduction: 'max' as 'sum' })).toThrow(/'sum' or 'mean'/);
  });
});

describe('VggPerceptualLoss', () => {
  it('applies the layer weights and the overall weight', () => {
    const fake = torch.randn([1, 2, 16, 16], { dtype: 'float64' });
    const real = torch.randn([1, 2, 16, 16], { dtype: 'float64' });
    const ff = tinyExtractor.call(fake);
    const rf = tinyExtractor.call(real);
    const perLayer = ff.map((f, k) => F.l1Loss(f, rf[k]!).item());
    const expected = perLayer.reduce((s, v, k) => s + VGG_LAYER_WEIGHTS[k]! * v, 0);
    expect(VGG_LAYER_WEIGHTS).toEqual([1 / 32, 1 / 16, 1 / 8, 1 / 4, 1]);
    expect(new VggPerceptualLoss(tinyExtractor, { weight: 1 }).call(fake, real).item()).toBeCloseTo(expected, 12);
    expect(new VggPerceptualLoss(tinyExtractor).call(fake, real).item()).toBeCloseTo(10 * expected, 11);
    const custom = [1, 0, 0, 0, 0];
    expect(
      new VggPerceptualLoss(tinyExtractor, { weight: 1, layerWeights: custom }).call(fake, real).item(),
    ).toBeCloseTo(perLayer[0]!, 12);
  });

  it('detaches the real features (computed without autograd) and keeps the graph to the fake image', () => {
    const seen: boolean[] = [];
    const spy: FeatureExtractor = {
      call(x) {
        const feats = tinyExtractor.call(x);
        seen.push(feats[1]!.requiresGrad);
        return feats;
      },
    };
    const fake = torch.randn([1, 2, 16, 16], { dtype: 'float64' }).requiresGrad_();
    const real = torch.randn([1, 2, 16, 16], { dtype: 'float64' }).requiresGrad_();
    const loss = new VggPerceptualLoss(spy).call(fake, real);
    expect(seen).toEqual([true, false]);
    loss.backward();
    expect(real.grad).toBeNull();
    expect(fake.grad).not.toBeNull();
  });

  it('rejects an extractor with the wrong number of maps and mismatched images', () => {
    const three: FeatureExtractor = { call: (x) => tinyExtractor.call(x).slice(0, 3) };
    const x = torch.randn([1, 2, 16, 16]);
    expect(() => new VggPerceptualLoss(three).call(x, x)).toThrow(/returned 3 feature maps; expected 5/);
    expect(() => new VggPerceptualLoss(tinyExtractor).call(x, torch.randn([1, 2, 8, 8]))).toThrow(
      /fake is \[1, 2, 16, 16\] but real is \[1, 2, 8, 8\]/,
    );
    expect(() => new VggPerceptualLoss({} as FeatureExtractor)).toThrow(/call\(x\) method/);
  });
});

describe('GanLosses', () => {
  it('throws a clear error when the VGG weight is set without an extractor', () => {
    expect(() => new GanLosses({ gan: 'lsgan', featureMatching: 10, vgg: 10, l1: 0 })).toThrow(
      /VGG loss weight is 10 but no VGG19 feature extractor was given/,
    );
    expect(() => new GanLosses({ gan: 'lsgan', featureMatching: 10, vgg: 0, l1: 0 })).not.toThrow();
    expect(() => new GanLosses({ gan: 'lsgan', featureMatching: -1, vgg: 0, l1: 0 })).toThrow(
      /featureMatching weight must be/,
    );
    expect(() => new GanLosses({ gan: 'nope' as GanMode, featureMatching: 0, vgg: 0, l1: 0 })).toThrow(
      /unknown GAN mode/,
    );
  });

  it('reports disabled parts as 0, skips reading them back on request, and checks its inputs', () => {
    const predFake = randomPreds(false);
    const losses = new GanLosses({ gan: 'vanilla', featureMatching: 0, vgg: 0, l1: 0 });
    const { total, parts } = losses.generatorLoss({ predFake });
    expect(parts).toEqual({ G_GAN: total.item(), G_GAN_Feat: 0, G_VGG: 0, G_L1: 0 });
    expect(parts.G_GAN).toBeCloseTo(generatorAdversarialLoss('vanilla', predFake).item(), 12);
    expect(losses.generatorLoss({ predFake }, { parts: false }).parts).toEqual({});
    expect(losses.discriminatorLoss({ predReal: predFake, predFake }, { parts: false }).parts).toEqual({});
    const fm = new GanLosses({ gan: 'lsgan', featureMatching: 10, vgg: 0, l1: 1 });
    expect(() => fm.generatorLoss({ predFake })).toThrow(/needs predReal/);
    expect(() => fm.generatorLoss({ predFake, predReal: predFake })).toThrow(/need the fake and real images/);
  });

  it('accepts a VggPerceptualLoss, taking the config weight', () => {
    const vgg = new VggPerceptualLoss(tinyExtractor, { weight: 1, layerWeights: [0, 0, 0, 0, 1] });
    const losses = new GanLosses({ gan: 'hinge', featureMatching: 0, vgg: 4, l1: 0 }, vgg);
    expect(losses.vgg!.weight).toBe(4);
    expect(losses.vgg!.layerWeights).toEqual([0, 0, 0, 0, 1]);
    const fake = torch.randn([1, 2, 16, 16], { dtype: 'float64' });
    const real = torch.randn([1, 2, 16, 16], { dtype: 'float64' });
    const { parts } = losses.generatorLoss({ predFake: randomPreds(false), fake, real });
    expect(parts.G_VGG).toBeCloseTo(4 * vgg.call(fake, real).item(), 12);
  });
});

describe('memory', () => {
  it('no loss leaks tensors (forward, backward, then disposing the result)', () => {
    const predReal = randomPreds(true);
    const predFake = randomPreds(true);
    const fake = torch.randn([1, 2, 16, 16], { dtype: 'float64' }).requiresGrad_();
    const real = torch.randn([1, 2, 16, 16], { dtype: 'float64' });
    const losses = GAN_MODES.map((gan) => new GanLosses({ gan, featureMatching: 10, vgg: 10, l1: 1 }, tinyExtractor));
    const vgg = new VggPerceptualLoss(tinyExtractor);
    const run = (): void => {
      const outs: Tensor[] = [];
      for (const mode of GAN_MODES) {
        outs.push(discriminatorLoss(mode, predReal, predFake), generatorAdversarialLoss(mode, predFake));
        const t = discriminatorTerms(mode, predReal, predFake);
        outs.push(t.real, t.fake);
      }
      outs.push(featureMatchingLoss(predFake, predReal), vgg.call(fake, real), l1Loss(fake, real, 2));
      for (const l of losses) {
        outs.push(l.generatorLoss({ predFake, predReal, fake, real }).total);
        outs.push(l.discriminatorLoss({ predReal, predFake }).total);
      }
      torch.backward(outs);
      torch.dispose(outs);
    };
    run(); // warm-up (lazily created state, if any)
    gc();
    const before = torch.liveTensors();
    for (let k = 0; k < 3; k++) run();
    // Freed deterministically (tidy, dispose), without waiting for the garbage collector...
    expect(torch.liveTensors()).toBe(before);
    // ...and nothing left reachable either.
    gc();
    expect(torch.liveTensors()).toBe(before);
  });
});
