// Autocast scopes (torch.amp): which ops run in bfloat16 on the CPU and that they compute exactly
// what the op on bfloat16-cast inputs computes, nesting and restoring (also on throw), the fp16
// refusal on the CPU, and gradients through an autocast forward landing on float32 leaves as float32.
import { describe, expect, it } from 'vitest';
import * as torch from '../../src/torch/index.js';
import type { Tensor } from '../../src/torch/index.js';
import { amp } from '../../src/torch/index.js';
import { BF16_SKIP_REASON } from '../helpers/isa.js';
import { needPython, pythonJson } from '../helpers/python.js';

const HAS_TORCH = needPython('amp.test.ts', 'the gradient comparison with PyTorch', 'torch', 'python3-torch');

function maxAbsDiff(a: Tensor, b: Tensor): number {
  return torch.tidy(() => a.float().sub(b.float()).abs().max().item());
}

/**
 * What computing in bfloat16 may cost an op against float32: bf16 keeps 8 significant bits, a
 * relative precision of 2^-8. Each input is rounded once, each of the n products of a reduction is
 * then off by at most 2 * 2^-9 of |x_i w_i|, and the kernel may round partial sums to bf16 as well
 * (oneDNN's bf16 kernels differ between CPUs in where they do), at most once per term, and the
 * output once more. So |y_bf16 - y_fp32| <= n * 2^-8 * (|x| op |w| + |b|) elementwise, with n the
 * reduction length and `absOp` the same op on absolute values.
 */
function expectWithinBf16Bound(y: Tensor, ref: Tensor, absOp: Tensor, n: number): void {
  const excess = torch.tidy(() =>
    y
      .float()
      .sub(ref)
      .abs()
      .sub(absOp.mul(n * 2 ** -8))
      .max()
      .item(),
  );
  expect(excess).toBeLessThanOrEqual(0);
}

function seeded(seed: number) {
  torch.manualSeed(seed);
  return {
    x: torch.randn([2, 3, 9, 9]),
    w: torch.randn([5, 3, 3, 3]),
    b: torch.randn([5]),
  };
}

describe.skipIf(BF16_SKIP_REASON !== null)('autocast on the CPU, bf16', () => {
  it('runs conv2d in bfloat16: the result of the bf16 kernel on bf16-cast inputs, close to float32', () => {
    const { x, w, b } = seeded(1);
    const ref = torch.F.conv2d(x, w, b, { padding: 1 });
    const y = torch.autocast('cpu', 'bf16', () => torch.F.conv2d(x, w, b, { padding: 1 }));
    expect(y.dtype).toBe('bfloat16');
    expect(y.shape).toEqual([2, 5, 9, 9]);
    // Exactly what autocast promises: the inputs cast to bfloat16, the bfloat16 op.
    const manual = torch.F.conv2d(x.to('bfloat16'), w.to('bfloat16'), b.to('bfloat16'), { padding: 1 });
    expect(y.toArray()).toEqual(manual.toArray());
    // Within bf16's rounding of float32 (expectWithinBf16Bound), but not equal: it really ran in bf16.
    expectWithinBf16Bound(y, ref, torch.F.conv2d(x.abs(), w.abs(), b.abs(), { padding: 1 }), 3 * 3 * 3 + 1);
    expect(maxAbsDiff(y, ref)).toBeGreaterThan(0);
    // The inputs keep their dtype.
    expect(x.dtype).toBe('float32');
    expect(w.dtype).toBe('float32');
  });

  it('runs linear and matmul in bfloat16', () => {
    torch.manualSeed(2);
    const x = torch.randn([4, 16]);
    const w = torch.randn([6, 16]);
    const b = torch.randn([6]);
    const ref = torch.F.linear(x, w, b);
    const [y, m] = torch.autocast('cpu', 'bf16', () => [torch.F.linear(x, w, b), x.matmul(w.t())]);
    expect(y!.dtype).toBe('bfloat16');
    expect(m!.dtype).toBe('bfloat16');
    expect(y!.toArray()).toEqual(torch.F.linear(x.to('bfloat16'), w.to('bfloat16'), b.to('bfloat16')).toArray());
    expectWithinBf16Bound(y!, ref, torch.F.linear(x.abs(), w.abs(), b.abs()), 16 + 1);
    expectWithinBf16Bound(m!, x.matmul(w.t()), x.abs().matmul(w.abs().t()), 16);
  });

  it("the generators' upsampling: the sub-pixel transposed convolution runs in bf16; aten conv_transpose2d as PyTorch's autocast runs it", () => {
    const { x } = seeded(3);
    const wt = torch.randn([3, 4, 3, 3]);
    const opts = { stride: 2, padding: 1, outputPadding: 1 };
    const ref = torch.F.convTranspose2d(x, wt, null, opts);
    const [sub, direct] = torch.autocast('cpu', 'bf16', () => [
      torch.F.convTranspose2dSubpixel(x, wt, null),
      torch.F.convTranspose2d(x, wt, null, opts),
    ]);
    expect(sub!.dtype).toBe('bfloat16');
    expectWithinBf16Bound(sub!, ref, torch.F.convTranspose2d(x.abs(), wt.abs(), null, opts), 3 * 2 * 2);
    // Whether autocast runs aten's conv_transpose2d in bf16 on the CPU is the libtorch's choice
    // (1.13's CPU list keeps it in float32, 2.x's has it): PyTorch on this machine says which.
    const pytorchDtype = HAS_TORCH
      ? pythonJson<string>(`
import json, torch, torch.nn.functional as F
x, w = torch.randn(1, 3, 4, 4), torch.randn(3, 4, 3, 3)
with torch.autocast('cpu', dtype=torch.bfloat16):
    y = F.conv_transpose2d(x, w, stride=2, padding=1, output_padding=1)
print(json.dumps(str(y.dtype).replace('torch.', '')))`)
      : direct!.dtype;
    expect(direct!.dtype).toBe(pytorchDtype);
    if (direct!.dtype === 'float32') expect(maxAbsDiff(direct!, ref)).toBe(0);
    else expectWithinBf16Bound(direct!, ref, torch.F.convTranspose2d(x.abs(), wt.abs(), null, opts), 3 * 3 * 3);
  });

  it('is off again outside the scope; nested scopes restore the outer state', () => {
    const { x, w } = seeded(4);
    expect(amp.isAutocastEnabled('cpu').enabled).toBe(false);
    const dtypes = torch.autocast('cpu', 'bf16', () => {
      const before = torch.F.conv2d(x, w).dtype;
      const inner = torch.autocast('cpu', 'bf16', () => torch.F.conv2d(x, w).dtype);
      const fp32Inside = torch.autocast('cpu', 'fp32', () => torch.F.conv2d(x, w).dtype);
      const after = torch.F.conv2d(x, w).dtype;
      const state = amp.isAutocastEnabled('cpu');
      return { before, inner, fp32Inside, after, state };
    });
    expect(dtypes).toEqual({
      before: 'bfloat16',
      inner: 'bfloat16',
      fp32Inside: 'bfloat16',
      after: 'bfloat16',
      state: { enabled: true, dtype: 'bfloat16' },
    });
    expect(amp.isAutocastEnabled('cpu').enabled).toBe(false);
    expect(torch.F.conv2d(x, w).dtype).toBe('float32');
    expect(torch.autocast('cpu', 'fp32', () => torch.F.conv2d(x, w).dtype)).toBe('float32');
  });

  it('restores the state when fn throws, and refuses an async fn', () => {
    const { x, w } = seeded(5);
    expect(() =>
      torch.autocast('cpu', 'bf16', () => {
        torch.autocast('cpu', 'bf16', () => {
          throw new Error('boom');
        });
      }),
    ).toThrow('boom');
    expect(amp.isAutocastEnabled('cpu').enabled).toBe(false);
    expect(torch.F.conv2d(x, w).dtype).toBe('float32');
    expect(() => torch.autocast('cpu', 'bf16', async () => 1)).toThrow(/must be synchronous/);
    expect(amp.isAutocastEnabled('cpu').enabled).toBe(false);
  });

  it('back-propagates through an autocast forward into float32 leaves as float32 gradients, as PyTorch does on this machine', () => {
    const code = `
import json, torch, torch.nn.functional as F
torch.set_num_threads(${torch.getNumThreads()})
torch.manual_seed(6)
x = torch.randn([2, 3, 8, 8])
w = torch.randn([4, 3, 3, 3]).mul(0.3).requires_grad_()
b = torch.randn([4]).requires_grad_()
lw = torch.randn([5, 4 * 8 * 8]).mul(0.05).requires_grad_()
with torch.autocast('cpu', dtype=torch.bfloat16):
    o = F.linear(F.conv2d(x, w, b, padding=1).relu().flatten(1), lw)
o.float().square().mean().backward()
print(json.dumps([[p.grad.double().sum().item(), p.grad.double().abs().sum().item()] for p in (w, b, lw)]))`;
    torch.manualSeed(6);
    const x = torch.randn([2, 3, 8, 8]);
    const w = torch.randn([4, 3, 3, 3]).mul(0.3).requiresGrad_();
    const b = torch.randn([4]).requiresGrad_();
    const lw = torch
      .randn([5, 4 * 8 * 8])
      .mul(0.05)
      .requiresGrad_();
    const forward = () => torch.F.linear(torch.F.conv2d(x, w, b, { padding: 1 }).relu().flatten(1), lw);
    const grads = (precision: 'fp32' | 'bf16') => {
      for (const p of [w, b, lw]) p.zeroGrad();
      const out = torch.autocast('cpu', precision, forward);
      expect(out.dtype).toBe(precision === 'bf16' ? 'bfloat16' : 'float32');
      // The loss in float32, as a trainer computes it (outside the scope).
      out.float().square().mean().backward();
      return [w.grad!, b.grad!, lw.grad!];
    };
    const ref = grads('fp32');
    const mixed = grads('bf16');
    // PyTorch on this machine, the same libtorch, seed, tensors and thread count: its bf16 kernels
    // are the ones dermosynth's calls pick (they differ between CPUs with and without native bf16,
    // so the numbers are computed here, never pasted). The sums agree to float32 summation noise.
    const pytorch = HAS_TORCH ? pythonJson<[number, number][]>(code) : null;
    for (const [i, g] of mixed.entries()) {
      expect(g.dtype).toBe('float32');
      expect(g.shape).toEqual(ref[i]!.shape);
      const [sum, absSum] = [g.double().sum().item(), g.double().abs().sum().item()];
      if (pytorch) {
        expect(Math.abs(sum - pytorch[i]![0]!)).toBeLessThan(1e-5 * pytorch[i]![1]!);
        expect(Math.abs(absSum - pytorch[i]![1]!)).toBeLessThan(1e-5 * pytorch[i]![1]!);
      }
      // bfloat16 gradients are coarse, but point the same way as float32's. Each gradient element
      // went through four bf16 roundings (x, w, the activation, lw: 4 * 2^-9 < 1% relative before
      // cancellation); cos > 0.97 allows an error norm of up to a quarter of the gradient's, a wide
      // margin for cancellation in the weight-gradient sums, while a wrong gradient (another sign,
      // another parameter's) fails it.
      const cos = torch.tidy(
        () => g.flatten().mul(ref[i]!.flatten()).sum().item() / (g.norm().item() * ref[i]!.norm().item()),
      );
      expect(cos).toBeGreaterThan(0.97);
      expect(maxAbsDiff(g, ref[i]!)).toBeGreaterThan(0);
    }
  });
});

describe('precision names and devices', () => {
  it('parses the three precisions and names the flag in the error', () => {
    expect(amp.parsePrecision('fp32')).toBe('fp32');
    expect(amp.parsePrecision('bf16', '--precision')).toBe('bf16');
    expect(amp.parsePrecision('fp16')).toBe('fp16');
    expect(() => amp.parsePrecision('fp8', '--precision')).toThrow(
      "--precision: expected fp32, bf16, fp16 (float32, or autocast to bfloat16 or float16), got 'fp8'",
    );
    expect(() => amp.parsePrecision('BF16', 'serve.precision')).toThrow(/^serve\.precision: /);
    expect(amp.autocastDtype('fp32')).toBe(null);
    expect(amp.autocastDtype('bf16')).toBe('bfloat16');
    expect(amp.autocastDtype('fp16')).toBe('float16');
  });

  it('refuses fp16 on the CPU with one clear error, before running anything', () => {
    expect(() => amp.checkPrecision('fp16', 'cpu')).toThrow('--precision fp16 needs a CUDA device; use bf16 on CPU');
    expect(() => amp.checkPrecision('fp16', 'cpu')).toThrow(amp.PrecisionError);
    expect(amp.checkPrecision('bf16', 'cpu')).toBe('bf16');
    expect(amp.checkPrecision('fp32', 'cpu')).toBe('fp32');
    let ran = false;
    expect(() =>
      torch.autocast('cpu', 'fp16', () => {
        ran = true;
      }),
    ).toThrow(/fp16 needs a CUDA device/);
    expect(ran).toBe(false);
    expect(amp.isAutocastEnabled('cpu').enabled).toBe(false);
  });

  it("accepts every precision on a CUDA device (whether the device exists is checkDevice's)", () => {
    for (const p of ['fp32', 'bf16', 'fp16'] as const) expect(amp.checkPrecision(p, 'cuda:1')).toBe(p);
  });
});
