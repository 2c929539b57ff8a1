// Gradient checks, in float64 against central finite differences, of every differentiable
// operator the GAN models use.
import { beforeEach, describe, expect, it } from 'vitest';
import * as torch from '../../src/torch/index.js';
import type { Tensor } from '../../src/torch/index.js';
import { describeGradcheck, gradcheck, type GradcheckOptions } from '../helpers/gradcheck.js';

const { F } = torch;

/** A float64 leaf that requires grad, standard normal. */
function param(shape: number[], scale = 1): Tensor {
  return torch.noGrad(() => torch.randn(shape, { dtype: 'float64' }).mul(scale)).requiresGrad_();
}
/** A float64 leaf that requires grad, uniform on [lo, hi). */
function positive(shape: number[], lo = 0.5, hi = 1.5): Tensor {
  return torch
    .noGrad(() =>
      torch
        .rand(shape, { dtype: 'float64' })
        .mul(hi - lo)
        .add(lo),
    )
    .requiresGrad_();
}
/** A float64 constant (no grad). */
function constant(shape: number[]): Tensor {
  return torch.randn(shape, { dtype: 'float64' });
}

function check(fn: (...inputs: Tensor[]) => Tensor, inputs: Tensor[], opts?: GradcheckOptions): void {
  // Collect earlier tests' unreachable tensors first, so that the count below is the helper's own.
  (globalThis as { gc?: () => void }).gc?.();
  const before = torch.liveTensors();
  const r = gradcheck(fn, inputs, opts);
  expect(r.checked).toBe(inputs.filter((t) => t.requiresGrad).reduce((n, t) => n + t.numel, 0));
  expect(r.ok, describeGradcheck(r)).toBe(true);
  expect(r.maxAbsError).toBeLessThan(1e-5);
  // Analytical gradients must not be identically zero (a cut graph would pass trivially otherwise).
  expect(r.analytical.flat().some((g) => Math.abs(g) > 1e-8)).toBe(true);
  // The helper frees everything it makes.
  expect(torch.liveTensors()).toBe(before);
}

beforeEach(() => {
  torch.manualSeed(20240607);
});

describe('gradcheck helper', () => {
  it('accepts a correct gradient and reports small errors', () => {
    const x = param([2, 3]);
    const r = gradcheck((a) => a.exp().mul(a).sin(), [x]);
    expect(r.ok).toBe(true);
    expect(r.checked).toBe(6);
    expect(r.maxAbsError).toBeLessThan(1e-7);
    expect(r.analytical[0]).toHaveLength(6);
    // d/dx sin(x e^x) = cos(x e^x) (1 + x) e^x; R-weighted, so compare numerically only.
    expect(r.numerical[0]!.every(Number.isFinite)).toBe(true);
  });

  it('detects a gradient cut by detach in the middle of the graph', () => {
    const x = param([2, 3]);
    // Forward is x * x, but one factor is detached: backward gives x instead of 2x.
    const r = gradcheck((a) => a.detach().mul(a), [x]);
    expect(r.ok).toBe(false);
    expect(r.maxAbsError).toBeGreaterThan(1e-2);
    expect(r.worst).not.toBeNull();
    // The numerical derivative is twice the analytical one, element by element.
    r.analytical[0]!.forEach((a, j) => expect(r.numerical[0]![j]!).toBeCloseTo(2 * a, 5));
  });

  it('detects a detach of an intermediate result (exp branch lost)', () => {
    const x = param([4]);
    const r = gradcheck((a) => a.exp().detach().mul(2).add(a), [x]);
    expect(r.ok).toBe(false);
  });

  it('detects a function whose graph is cut entirely (zero analytical gradient)', () => {
    const x = param([3]);
    const r = gradcheck((a) => a.detach().mul(3), [x]);
    expect(r.ok).toBe(false);
    expect(r.analytical[0]).toEqual([0, 0, 0]);
  });

  it('rejects float32 inputs and calls without any input requiring grad', () => {
    const x = torch.randn([3], { requiresGrad: true });
    expect(() => gradcheck((a) => a.mul(2), [x])).toThrow(/float64/);
    expect(() => gradcheck((a) => a.mul(2), [constant([3])])).toThrow(/no input requires/);
  });

  it('leaves the inputs without gradients and unchanged', () => {
    const x = param([5]);
    const values = x.toArray();
    gradcheck((a) => a.tanh(), [x]);
    expect(x.grad).toBeNull();
    expect(x.toArray()).toEqual(values);
  });
});

describe('convolutions and linear', () => {
  it('conv2d with stride 2, padding 1 and bias', () => {
    check(
      (x, w, b) => F.conv2d(x, w, b, { stride: 2, padding: 1 }),
      [param([2, 3, 5, 5]), param([4, 3, 3, 3]), param([4])],
    );
  });
  it('conv2d with dilation 2, groups 2, asymmetric padding and stride', () => {
    check(
      (x, w, b) => F.conv2d(x, w, b, { stride: [1, 2], padding: [2, 1], dilation: 2, groups: 2 }),
      [param([1, 4, 6, 6]), param([4, 2, 3, 3]), param([4])],
    );
  });
  it('conv2d without bias, 1x1 kernel', () => {
    check((x, w) => F.conv2d(x, w), [param([1, 3, 3, 3]), param([2, 3, 1, 1])]);
  });
  it('convTranspose2d with stride 2, padding 1, outputPadding 1 and bias', () => {
    check(
      (x, w, b) => {
        const y = F.convTranspose2d(x, w, b, { stride: 2, padding: 1, outputPadding: 1 });
        expect(y.shape).toEqual([1, 2, 6, 6]);
        return y;
      },
      [param([1, 3, 3, 3]), param([3, 2, 3, 3]), param([2])],
    );
  });
  it('convTranspose2d with groups 2', () => {
    check(
      (x, w, b) => F.convTranspose2d(x, w, b, { stride: 2, padding: 1, outputPadding: 1, groups: 2 }),
      [param([1, 4, 3, 3]), param([4, 1, 3, 3]), param([2])],
    );
  });
  it('linear with and without bias', () => {
    check((x, w, b) => F.linear(x, w, b), [param([3, 4]), param([2, 4]), param([2])]);
    check((x, w) => F.linear(x, w), [param([2, 3, 4]), param([5, 4])]);
  });
  it('matmul: matrix, batched with broadcasting, matrix-vector', () => {
    check((a, b) => a.matmul(b), [param([3, 4]), param([4, 2])]);
    check((a, b) => a.matmul(b), [param([2, 3, 4]), param([4, 2])]);
    check((a, b) => a.matmul(b), [param([3, 4]), param([4])]);
  });
  it('mv and dot', () => {
    check((m, v) => F.mv(m, v), [param([3, 4]), param([4])]);
    check((a, b) => F.dot(a, b), [param([5]), param([5])]);
  });
});

describe('normalisation', () => {
  it('instanceNorm without affine parameters', () => {
    check((x) => F.instanceNorm(x), [param([2, 3, 4, 4])]);
  });
  it('instanceNorm with affine weight and bias', () => {
    check((x, w, b) => F.instanceNorm(x, { weight: w, bias: b }), [param([2, 2, 3, 3]), param([2]), param([2])]);
  });
  it('batchNorm in training mode (with running statistics updated)', () => {
    const runningMean = torch.zeros([3], { dtype: 'float64' });
    const runningVar = torch.ones([3], { dtype: 'float64' });
    check(
      (x, w, b) => F.batchNorm(x, { weight: w, bias: b, runningMean, runningVar, training: true }),
      [param([4, 3, 2, 2]), param([3]), param([3])],
    );
    // Training mode moved the running statistics.
    expect(runningMean.toArray().some((v) => v !== 0)).toBe(true);
  });
  it('batchNorm in training mode without running statistics or affine', () => {
    check((x) => F.batchNorm(x, { training: true }), [param([3, 2, 2, 2])]);
  });
  it('groupNorm with weight and bias', () => {
    check((x, w, b) => F.groupNorm(x, 2, { weight: w, bias: b }), [param([2, 4, 3, 3]), param([4]), param([4])]);
  });
});

describe('padding, pooling, resampling', () => {
  it('pad reflect (2-D and 1-D)', () => {
    check((x) => F.pad(x, [1, 2, 2, 1], 'reflect'), [param([1, 2, 4, 4])]);
    check((x) => F.pad(x, [2, 1], 'reflect'), [param([2, 5])]);
  });
  it('pad replicate', () => {
    check((x) => F.pad(x, [2, 1, 1, 3], 'replicate'), [param([1, 2, 3, 3])]);
  });
  it('pad constant (with a value, and negative padding that crops)', () => {
    check((x) => F.pad(x, [1, 1, 2, 0], 'constant', 0.5), [param([1, 2, 3, 3])]);
    check((x) => F.pad(x, [-1, 1, 0, -1], 'constant'), [param([1, 1, 4, 4])]);
  });
  it('avgPool2d, counting padding and not', () => {
    check((x) => F.avgPool2d(x, 3, { stride: 2, padding: 1 }), [param([1, 2, 5, 5])]);
    check((x) => F.avgPool2d(x, 3, { stride: 2, padding: 1, countIncludePad: false }), [param([1, 2, 5, 5])]);
    check((x) => F.avgPool2d(x, 2, { ceilMode: true }), [param([1, 1, 5, 5])]);
  });
  it('maxPool2d', () => {
    check((x) => F.maxPool2d(x, 2), [param([1, 2, 4, 4])]);
    check((x) => F.maxPool2d(x, 3, { stride: 2, padding: 1 }), [param([1, 2, 5, 5])]);
  });
  it('interpolate nearest (scale factor and size)', () => {
    check((x) => F.interpolate(x, { scaleFactor: 2, mode: 'nearest' }), [param([1, 2, 3, 3])]);
    check((x) => F.interpolate(x, { size: [5, 2], mode: 'nearest' }), [param([1, 1, 3, 4])]);
  });
  it('interpolate bilinear (upsampling, align corners, downsampling)', () => {
    check((x) => F.interpolate(x, { scaleFactor: 2, mode: 'bilinear' }), [param([1, 2, 3, 3])]);
    check((x) => F.interpolate(x, { size: [5, 4], mode: 'bilinear', alignCorners: true }), [param([1, 1, 3, 3])]);
    check((x) => F.interpolate(x, { size: [3, 3], mode: 'bilinear' }), [param([1, 1, 6, 6])]);
  });
  it('interpolate bilinear with antialias (downsampling)', () => {
    check(
      (x) => {
        const y = F.interpolate(x, { size: [3, 3], mode: 'bilinear', antialias: true });
        expect(y.shape).toEqual([1, 2, 3, 3]);
        return y;
      },
      [param([1, 2, 8, 8])],
    );
  });
});

describe('activations', () => {
  it('relu', () => check((x) => F.relu(x), [param([3, 4])]));
  it('leakyRelu(0.2)', () => check((x) => F.leakyRelu(x, 0.2), [param([3, 4])]));
  it('tanh', () => check((x) => F.tanh(x), [param([3, 4])]));
  it('sigmoid', () => check((x) => F.sigmoid(x), [param([3, 4])]));
  it('softplus (default and beta 2)', () => {
    check((x) => F.softplus(x), [param([3, 4], 3)]);
    check((x) => F.softplus(x, 2, 5), [param([3, 4], 3)]);
  });
  it('gelu (exact and tanh approximation)', () => {
    check((x) => F.gelu(x), [param([3, 4], 2)]);
    check((x) => F.gelu(x, 'tanh'), [param([3, 4], 2)]);
  });
});

describe('losses', () => {
  it('mseLoss (mean and sum; both arguments)', () => {
    check((x, y) => F.mseLoss(x, y), [param([2, 3, 2, 2]), param([2, 3, 2, 2])]);
    check((x, y) => F.mseLoss(x, y, 'sum'), [param([4]), constant([4])]);
  });
  it('l1Loss (mean and none)', () => {
    check((x, y) => F.l1Loss(x, y), [param([2, 3, 2, 2]), param([2, 3, 2, 2])]);
    check((x, y) => F.l1Loss(x, y, 'none'), [param([5]), constant([5])]);
  });
  it('binaryCrossEntropyWithLogits (soft targets; with pos_weight)', () => {
    const target = torch.rand([3, 4], { dtype: 'float64' });
    check((x) => F.binaryCrossEntropyWithLogits(x, target), [param([3, 4], 2)]);
    // libtorch does not differentiate with respect to pos_weight: a constant here.
    const posWeight = positive([4]).detach();
    check((x) => F.binaryCrossEntropyWithLogits(x, target, { posWeight }), [param([3, 4], 2)]);
  });
  it('crossEntropy with int64 class targets (plain, weighted, spatial, label smoothing)', () => {
    const target = torch.tensor([0, 2, 1, 2], { dtype: 'int64' });
    check((x) => F.crossEntropy(x, target), [param([4, 3], 2)]);
    // nll_loss is not differentiable with respect to the class weights: a constant here.
    const weight = positive([3]).detach();
    check((x) => F.crossEntropy(x, target, { weight }), [param([4, 3], 2)]);
    check((x) => F.crossEntropy(x, target, { labelSmoothing: 0.1, reduction: 'sum' }), [param([4, 3], 2)]);
    const spatial = torch.tensor(
      [
        [
          [0, 1],
          [2, 0],
        ],
      ],
      { dtype: 'int64' },
    );
    check((x) => F.crossEntropy(x, spatial), [param([1, 3, 2, 2], 2)]);
  });
});

describe('combinators and reductions', () => {
  it('cat along several dimensions', () => {
    check((a, b) => torch.cat([a, b], 1), [param([2, 3, 2]), param([2, 1, 2])]);
    check((a, b, c) => torch.cat([a, b, c], -1), [param([2, 2]), param([2, 3]), param([2, 1])]);
  });
  it('stack at the front and at the end', () => {
    check((a, b) => torch.stack([a, b], 0), [param([2, 3]), param([2, 3])]);
    check((a, b) => torch.stack([a, b], 2), [param([2, 3]), param([2, 3])]);
  });
  it('sum and mean over all elements and over dims (keepdim too)', () => {
    check((x) => x.sum(), [param([2, 3, 4])]);
    check((x) => x.mean(), [param([2, 3, 4])]);
    check((x) => x.sum([0, 2]), [param([2, 3, 4])]);
    check((x) => x.mean(1, true), [param([2, 3, 4])]);
    check((x) => x.mean([-1, -2]), [param([2, 3, 4])]);
  });
  it('where with a fixed condition (tensor and scalar branches)', () => {
    const cond = torch.tensor([
      [true, false, true],
      [false, false, true],
    ]);
    check((a, b) => torch.where(cond, a, b), [param([2, 3]), param([2, 3])]);
    check((a, b) => torch.where(cond, a, b), [param([1, 3]), param([2, 1])]);
    check((a) => torch.where(cond, a, 0.5), [param([2, 3])]);
    check((b) => torch.where(cond, -1, b), [param([2, 3])]);
  });
  it('clamp (both bounds, lower bound only)', () => {
    check((x) => torch.F.clamp(x, -0.5, 0.5), [param([4, 4])]);
    check((x) => x.clamp(0.1), [param([4, 4])]);
  });
  it('normalize along dim 1 and dim 0', () => {
    check((x) => F.normalize(x), [param([3, 4])]);
    check((x) => F.normalize(x, 0), [param([3, 4])]);
  });
});

describe('elementwise arithmetic with broadcasting', () => {
  it('add and sub (with alpha) broadcasting', () => {
    check((a, b) => a.add(b), [param([2, 3]), param([3])]);
    check((a, b) => a.add(b, 2.5), [param([2, 1, 3]), param([4, 1])]);
    check((a, b) => a.sub(b), [param([2, 3]), param([2, 1])]);
    check((a, b) => a.sub(b, 0.5), [param([1, 3]), param([2, 1])]);
    check((a) => a.add(3).sub(1.5).rsub(2), [param([3])]);
  });
  it('mul and div broadcasting', () => {
    check((a, b) => a.mul(b), [param([2, 3]), param([3])]);
    check((a, b) => a.mul(b), [param([2, 1, 3]), param([1, 4, 1])]);
    check((a, b) => a.div(b), [param([2, 3]), positive([2, 1])]);
    check((a, b) => a.div(b), [param([3]), positive([2, 3])]);
    check((a) => a.mul(-2).div(4), [param([3])]);
  });
  it('pow: tensor exponent with broadcasting, scalar exponents', () => {
    check((a, b) => a.pow(b), [positive([2, 3]), param([3])]);
    check((a) => a.pow(3), [param([2, 3])]);
    check((a) => a.pow(-1.5), [positive([2, 3])]);
  });
  it('sqrt, exp, log', () => {
    check((x) => x.sqrt(), [positive([2, 3])]);
    check((x) => x.exp(), [param([2, 3])]);
    check((x) => x.log(), [positive([2, 3])]);
  });
});

describe('shape and indexing', () => {
  it('reshape and permute', () => {
    check((x) => x.reshape(3, 4), [param([2, 6])]);
    check((x) => x.reshape(-1), [param([2, 3, 2])]);
    check((x) => x.permute(2, 0, 1), [param([2, 3, 4])]);
    // A non-contiguous input to reshape (copy path).
    check((x) => x.permute(1, 0).reshape(6), [param([2, 3])]);
  });
  it('slice with a step, and negative bounds', () => {
    check((x) => x.slice(1, 1, 7, 2), [param([2, 8])]);
    check((x) => x.slice(0, -2), [param([4, 3])]);
  });
  it('select', () => {
    check((x) => x.select(1, 2), [param([2, 4, 3])]);
    check((x) => x.select(-1, 0), [param([2, 3])]);
  });
  it('indexSelect with repeated indices (gradients accumulate)', () => {
    const idx = torch.tensor([2, 0, 2], { dtype: 'int64' });
    check((x) => x.indexSelect(0, idx), [param([3, 4])]);
    check((x) => x.indexSelect(1, idx), [param([2, 3])]);
  });
});

describe('linear algebra', () => {
  it('eigh eigenvalues of a symmetric matrix A + A^T', () => {
    check((a) => torch.eigh(a.add(a.t())).eigenvalues, [param([4, 4])]);
  });
  it('eigh eigenvalues of a batch of symmetric matrices (upper triangle)', () => {
    check((a) => torch.eigh(a.add(a.transpose(1, 2)), 'U').eigenvalues, [param([2, 3, 3])]);
  });
});

describe('a small generator-like composite', () => {
  it('reflect pad -> conv -> instanceNorm -> leakyRelu -> upsample -> conv -> tanh', () => {
    check(
      (x, w1, w2, b2) => {
        let h = F.pad(x, [1, 1, 1, 1], 'reflect');
        h = F.conv2d(h, w1);
        h = F.leakyRelu(F.instanceNorm(h), 0.2);
        h = F.interpolate(h, { scaleFactor: 2, mode: 'nearest' });
        return F.conv2d(h, w2, b2, { padding: 1 }).tanh();
      },
      [param([1, 2, 3, 3]), param([3, 2, 3, 3]), param([1, 3, 3, 3]), param([1])],
    );
  });
});
