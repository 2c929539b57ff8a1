// SSIM and L1 for evaluation: values against scikit-image's structural_similarity (gaussian
// weights, sigma 1.5, population covariance, data_range 1) through the numpy port in
// test/fixtures/make_ssim_reference.py, the closed form for flat images, identity, symmetry,
// monotonicity in noise, per-image batching, float32 inputs, the [-1, 1] helper, gradients,
// errors and freedom from leaks.
import { describe, expect, it } from 'vitest';
import path from 'node:path';
import * as torch from '../../src/torch/index.js';
import type { Tensor } from '../../src/torch/index.js';
import { gaussianWindow1d, l1Distance, ssim, ssimWindowSize, toUnitRange } from '../../src/eval/ssim.js';
import { describeGradcheck, gradcheck } from '../helpers/gradcheck.js';
import { needPython, pythonScriptJson } from '../helpers/python.js';

// scikit-image's structural_similarity on this machine (test/fixtures/make_ssim_reference.py
// --json builds the same images from the same formulas as CASES below; without scikit-image, its
// line-by-line numpy port of it).
const HAS_NUMPY = needPython('ssim.test.ts', 'the comparisons with scikit-image', 'numpy', 'python3-skimage');
/**
 * How far two float64 SSIM computations may differ by summation order alone: the local variances
 * and covariance are E[x^2] - E[x]^2 over the 121-tap window, each off by up to about
 * 121 * 2^-53 * max(x)^2 (the order of summation is the kernel's or scipy's: it differs between
 * CPUs and libraries); that enters the contrast-structure term over a denominator of at least
 * C2 = 0.03^2, four times (two variances, a covariance, the means). Images here are in [0, 1].
 */
const ORDER_BOUND = (4 * 121 * 2 ** -53) / 0.03 ** 2;
const REFERENCE: Record<string, { ssim: number; l1: number }> = HAS_NUMPY
  ? pythonScriptJson(path.resolve(import.meta.dirname, '../fixtures/make_ssim_reference.py'), ['--json'])
  : {};

/** Uniform [0, 1) values: x <- (1664525 x + 1013904223) mod 2^32, each x / 2^32 (exact in doubles). */
function lcg(seed: number, n: number): Float64Array {
  const out = new Float64Array(n);
  let x = seed;
  for (let i = 0; i < n; i++) {
    x = (1664525 * x + 1013904223) % 4294967296;
    out[i] = x / 4294967296;
  }
  return out;
}

/** A [C, H, W] image from f(c, i, j), as one float64 array. */
function image(c: number, h: number, w: number, f: (c: number, i: number, j: number) => number): Float64Array {
  const out = new Float64Array(c * h * w);
  for (let k = 0; k < c; k++)
    for (let i = 0; i < h; i++) for (let j = 0; j < w; j++) out[(k * h + i) * w + j] = f(k, i, j);
  return out;
}

type Case = { shape: [number, number, number]; a: Float64Array; b: Float64Array };

/** The fixture script's cases(), the same formulas. */
const CASES: Record<string, () => Case> = {
  'random-vs-random': () => ({ shape: [3, 16, 16], a: lcg(1, 768), b: lcg(2, 768) }),
  'random-plus-noise': () => {
    const a = lcg(3, 768);
    const noise = lcg(4, 768);
    return { shape: [3, 16, 16], a, b: a.map((v, k) => Math.min(1, Math.max(0, v + 0.2 * (noise[k]! - 0.5)))) };
  },
  'waves-shifted-13x17': () => ({
    shape: [3, 13, 17],
    a: image(3, 13, 17, (c, i, j) => 0.5 + 0.4 * Math.sin(0.5 * i + 0.3 * j + c)),
    b: image(3, 13, 17, (c, i, j) => 0.45 + 0.3 * Math.sin(0.5 * i + 0.3 * j + c + 0.4)),
  }),
  'checker-contrast-1ch': () => {
    const a = image(1, 12, 12, (_c, i, j) => ((i >> 1) + (j >> 1)) % 2);
    return { shape: [1, 12, 12], a, b: a.map((v) => 0.8 * v + 0.1) };
  },
  'ramp-vs-flipped-20x11': () => {
    const f = (c: number, i: number, j: number): number => (i * 11 + j + 7 * c) / 240;
    return { shape: [3, 20, 11], a: image(3, 20, 11, f), b: image(3, 20, 11, (c, i, j) => f(c, 19 - i, j)) };
  },
};

function pair(name: string, dtype: 'float64' | 'float32' = 'float64'): [Tensor, Tensor] {
  const { shape, a, b } = CASES[name]!();
  return [torch.tensor(a, { shape: [1, ...shape], dtype }), torch.tensor(b, { shape: [1, ...shape], dtype })];
}

function ssimValues(a: Tensor, b: Tensor): number[] {
  return torch.tidy(() => ssim(a, b).toArray());
}

describe('the Gaussian window', () => {
  it('has 11 taps at sigma 1.5 (skimage: radius int(3.5 sigma + 0.5)), sums to 1 and is symmetric', () => {
    expect(ssimWindowSize()).toBe(11);
    expect(ssimWindowSize(1)).toBe(9);
    const g = gaussianWindow1d();
    expect(g.length).toBe(11);
    expect(g.reduce((s, v) => s + v, 0)).toBeCloseTo(1, 15);
    for (let i = 0; i < 5; i++) expect(g[i]).toBe(g[10 - i]);
    expect(g[5]! / g[4]!).toBeCloseTo(Math.exp(0.5 / 2.25), 14);
  });
});

describe('ssim', () => {
  for (const name of Object.keys(REFERENCE)) {
    it(`matches scikit-image on ${name}`, () => {
      const [a, b] = pair(name);
      const [s] = ssimValues(a, b);
      expect(Math.abs(s! - REFERENCE[name]!.ssim)).toBeLessThan(ORDER_BOUND);
      torch.dispose([a, b]);
    });
  }

  it.skipIf(!HAS_NUMPY)('matches scikit-image from float32 inputs to 1e-6', () => {
    for (const name of Object.keys(REFERENCE)) {
      const [a, b] = pair(name, 'float32');
      expect(Math.abs(ssimValues(a, b)[0]! - REFERENCE[name]!.ssim)).toBeLessThan(1e-6);
      torch.dispose([a, b]);
    }
  });

  it('is 1 for identical images (random, structured, flat, one channel)', () => {
    for (const name of Object.keys(CASES)) {
      const [a] = pair(name);
      expect(ssimValues(a, a)[0]).toBeCloseTo(1, 14);
      a.dispose();
    }
    const flat = torch.full([2, 3, 11, 11], 0.3, { dtype: 'float64' });
    expect(ssimValues(flat, flat)).toEqual([1, 1].map((v) => expect.closeTo(v, 14)));
    flat.dispose();
  });

  it('on flat images is the luminance term (2 mx my + C1) / (mx^2 + my^2 + C1)', () => {
    const a = torch.full([1, 3, 12, 14], 0.2, { dtype: 'float64' });
    const b = torch.full([1, 3, 12, 14], 0.7, { dtype: 'float64' });
    // The variances and covariance are 0 in exact arithmetic; in float64 they are summation noise,
    // which ORDER_BOUND bounds (max(x) here is 0.7 < 1, and both terms scale with the data range).
    const bound = ORDER_BOUND;
    const c1 = 0.01 ** 2;
    expect(Math.abs(ssimValues(a, b)[0]! - (2 * 0.2 * 0.7 + c1) / (0.2 ** 2 + 0.7 ** 2 + c1))).toBeLessThan(bound);
    // data_range 255 scales C1
    const c1r = (0.01 * 255) ** 2;
    const s255 = torch.tidy(() => ssim(a.mul(255), b.mul(255), { dataRange: 255 }).item());
    expect(Math.abs(s255 - (2 * 51 * 178.5 + c1r) / (51 ** 2 + 178.5 ** 2 + c1r))).toBeLessThan(bound);
    torch.dispose([a, b]);
  });

  it('is symmetric', () => {
    for (const name of Object.keys(CASES)) {
      const [a, b] = pair(name);
      expect(ssimValues(b, a)[0]).toBeCloseTo(ssimValues(a, b)[0]!, 14);
      torch.dispose([a, b]);
    }
  });

  it('decreases as more noise is added', () => {
    const clean = torch.tensor(
      image(3, 32, 32, (c, i, j) => 0.5 + 0.35 * Math.sin(0.3 * i) * Math.cos(0.2 * j + c)),
      { shape: [1, 3, 32, 32], dtype: 'float64' },
    );
    const noise = torch.tensor(
      lcg(7, 3 * 32 * 32).map((v) => v - 0.5),
      { shape: [1, 3, 32, 32], dtype: 'float64' },
    );
    const values = [0, 0.05, 0.1, 0.2, 0.4, 0.8].map((k) =>
      torch.tidy(() => ssim(clean, clean.add(noise.mul(k)).clamp(0, 1)).item()),
    );
    expect(values[0]).toBeCloseTo(1, 14);
    for (let i = 1; i < values.length; i++) expect(values[i]!).toBeLessThan(values[i - 1]!);
    expect(values.at(-1)!).toBeLessThan(0.5);
    torch.dispose([clean, noise]);
  });

  it.skipIf(!HAS_NUMPY)('gives one value per image of a batch, each as if computed alone', () => {
    const names = ['random-vs-random', 'random-plus-noise'];
    const pairs = names.map((n) => pair(n));
    const a = torch.cat(
      pairs.map((p) => p[0]),
      0,
    );
    const b = torch.cat(
      pairs.map((p) => p[1]),
      0,
    );
    const s = ssim(a, b);
    expect(s.shape).toEqual([2]);
    expect(s.dtype).toBe('float64');
    const v = s.toArray();
    names.forEach((n, i) => expect(Math.abs(v[i]! - REFERENCE[n]!.ssim)).toBeLessThan(ORDER_BOUND));
    torch.dispose([pairs, a, b, s]);
  });

  it.skipIf(!HAS_NUMPY)('reads [-1, 1] images through toUnitRange, which maps -1, 0, 1 to 0, 0.5, 1 and clamps', () => {
    const x = torch.tensor([-1.5, -1, 0, 0.5, 1, 1.2]);
    const u = toUnitRange(x);
    expect(u.toArray()).toEqual([0, 0, 0.5, 0.75, 1, 1]);
    expect(u.dtype).toBe('float32');
    const [a, b] = pair('waves-shifted-13x17');
    const s = torch.tidy(() => ssim(toUnitRange(a.mul(2).sub(1)), toUnitRange(b.mul(2).sub(1))).item());
    expect(Math.abs(s - REFERENCE['waves-shifted-13x17']!.ssim)).toBeLessThan(ORDER_BOUND);
    torch.dispose([x, u, a, b]);
  });

  it('has gradients that agree with finite differences', () => {
    const [a0, b0] = pair('random-plus-noise');
    const a = torch.tidy(() => a0.slice(1, 0, 1).slice(2, 0, 12).slice(3, 0, 12).contiguous());
    const b = torch.tidy(() => b0.slice(1, 0, 1).slice(2, 0, 12).slice(3, 0, 12).contiguous());
    a.requiresGrad = true;
    const r = gradcheck((x, y) => ssim(x!, y!), [a, b], { eps: 1e-6, atol: 1e-6, rtol: 1e-4 });
    expect(r.ok, describeGradcheck(r)).toBe(true);
    torch.dispose([a0, b0, a, b]);
  });

  it('rejects bad inputs with clear errors', () => {
    const x = torch.zeros([1, 3, 16, 16]);
    const tests: [() => unknown, RegExp][] = [
      [
        () => ssim(torch.zeros([3, 16, 16]), torch.zeros([3, 16, 16])),
        /expected images \[B, C, H, W\], got shape \[3, 16, 16\]/,
      ],
      [() => ssim(x, torch.zeros([1, 3, 16, 15])), /differ in shape: \[1, 3, 16, 16\] and \[1, 3, 16, 15\]/],
      [() => ssim(torch.zeros([1, 3, 10, 16]), torch.zeros([1, 3, 10, 16])), /at least 11x11 pixels .* got 10x16/],
      [() => ssim(x, torch.zeros([1, 3, 16, 16], { dtype: 'uint8' })), /floating-point images, got float32 and uint8/],
      [() => ssim(x, x, { dataRange: 0 }), /dataRange must be a positive number/],
      [() => ssim(x, x, { sigma: -1 }), /sigma must be a positive number/],
      [() => ssim(torch.zeros([0, 3, 16, 16]), torch.zeros([0, 3, 16, 16])), /no image to compare/],
      [() => l1Distance(x, torch.zeros([1, 3, 8, 8])), /differ in shape/],
      [() => l1Distance(torch.zeros([4]), torch.zeros([4])), /expected batches of images \[B, \.\.\.\]/],
      [() => l1Distance(x.to('int64'), x.to('int64')), /floating-point images/],
    ];
    for (const [f, message] of tests) {
      torch.tidy(() => {
        expect(f).toThrow(message);
      });
    }
    x.dispose();
  });

  it('leaks no tensor', () => {
    const [a, b] = pair('random-plus-noise');
    const before = torch.liveTensors();
    ssim(a, b).dispose();
    l1Distance(a, b).dispose();
    toUnitRange(a).dispose();
    expect(torch.liveTensors()).toBe(before);
    torch.dispose([a, b]);
  });
});

describe('l1Distance', () => {
  it.skipIf(!HAS_NUMPY)('is the mean absolute difference of each image', () => {
    for (const name of Object.keys(REFERENCE)) {
      const [a, b] = pair(name);
      const d = l1Distance(a, b);
      expect(d.shape).toEqual([1]);
      expect(d.item()).toBeCloseTo(REFERENCE[name]!.l1, 14);
      torch.dispose([a, b, d]);
    }
    const a = torch.tensor(
      [
        [
          [0, 1],
          [2, 3],
        ],
        [
          [1, 1],
          [1, 1],
        ],
      ],
      { dtype: 'float32' },
    );
    const b = torch.zeros([2, 2, 2]);
    const d = l1Distance(a, b);
    expect(d.dtype).toBe('float32');
    expect(d.toArray()).toEqual([1.5, 1]);
    expect(l1Distance(b, a).toArray()).toEqual([1.5, 1]);
    torch.dispose([a, b, d]);
  });
});
