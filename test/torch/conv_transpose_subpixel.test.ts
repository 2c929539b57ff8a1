import { describe, expect, it } from 'vitest';
import * as torch from '../../src/torch/index.js';

const { F } = torch;

describe('convTranspose2dSubpixel (exact stride-2 transposed convolution on oneDNN)', () => {
  for (const [n, cin, cout, h, w] of [
    [1, 3, 5, 7, 6],
    [2, 4, 2, 1, 1],
    [1, 16, 8, 5, 9],
  ] as const) {
    it(`matches aten::conv_transpose2d in value and gradients for [${n}, ${cin}, ${h}, ${w}] -> ${cout} channels`, () => {
      torch.tidy(() => {
        const x = torch.randn([n, cin, h, w], { dtype: 'float64', requiresGrad: true });
        const weight = torch.randn([cin, cout, 3, 3], { dtype: 'float64', requiresGrad: true });
        const bias = torch.randn([cout], { dtype: 'float64', requiresGrad: true });
        const ref = F.convTranspose2d(x, weight, bias, { stride: 2, padding: 1, outputPadding: 1 });
        const got = F.convTranspose2dSubpixel(x, weight, bias);
        expect(got.shape).toEqual([n, cout, 2 * h, 2 * w]);
        expect(got.sub(ref).abs().max().item()).toBeLessThan(1e-12);
        const g = torch.randnLike(ref);
        ref.backward(g);
        const [gx, gw, gb] = [x.grad!, weight.grad!, bias.grad!];
        x.zeroGrad();
        weight.zeroGrad();
        bias.zeroGrad();
        got.backward(g);
        expect(x.grad!.sub(gx).abs().max().item()).toBeLessThan(1e-12);
        expect(weight.grad!.sub(gw).abs().max().item()).toBeLessThan(1e-12);
        expect(bias.grad!.sub(gb).abs().max().item()).toBeLessThan(1e-12);
      });
    });
  }

  it('rejects kernels other than 3x3', () => {
    const x = torch.randn([1, 2, 4, 4]);
    const weight = torch.randn([2, 2, 4, 4]);
    expect(() => F.convTranspose2dSubpixel(x, weight)).toThrow(/3x3 kernel/);
  });
});
