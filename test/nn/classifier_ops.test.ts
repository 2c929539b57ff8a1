// The layers the classifiers added to nn: SiLU, AdaptiveAvgPool2d, Flatten, StochasticDepth.
import { afterEach, describe, expect, it } from 'vitest';
import * as torch from '../../src/torch/index.js';
import * as nn from '../../src/nn/index.js';

const maxDiff = (a: torch.Tensor, b: torch.Tensor) => torch.tidy(() => a.sub(b).abs().max().item());
afterEach(() => (globalThis as { gc?: () => void }).gc?.());

describe('SiLU', () => {
  it('is x * sigmoid(x), in place too, with the same gradient', () => {
    torch.manualSeed(0);
    const x = torch.randn([3, 4, 5]);
    const ref = torch.tidy(() => x.mul(x.sigmoid()));
    expect(maxDiff(new nn.SiLU().call(x), ref)).toBeLessThan(1e-6);
    const w = torch.randn([5, 5], { requiresGrad: true });
    const grads = [false, true].map((inplace) => {
      w.zeroGrad();
      torch.tidy(() => new nn.SiLU({ inplace }).call(x.matmul(w)).square().sum().backward());
      return w.grad!.toArray();
    });
    expect(grads[0]).toEqual(grads[1]);
    // d/dx x*sigmoid(x) at 0 is 1/2.
    const z = torch.zeros([1], { requiresGrad: true });
    torch.F.silu(z).sum().backward();
    expect(z.grad!.item()).toBeCloseTo(0.5, 7);
  });
});

describe('AdaptiveAvgPool2d and Flatten', () => {
  it('to 1x1 is the spatial mean; to a divisor of the size, average pooling', () => {
    torch.manualSeed(1);
    const x = torch.randn([2, 3, 8, 6]);
    expect(maxDiff(new nn.AdaptiveAvgPool2d(1).call(x), x.mean([2, 3], true))).toBeLessThan(1e-6);
    expect(maxDiff(new nn.AdaptiveAvgPool2d([4, 3]).call(x), torch.F.avgPool2d(x, 2))).toBeLessThan(1e-6);
    expect(new nn.Flatten().call(torch.zeros([2, 3, 4, 5])).shape).toEqual([2, 60]);
    expect(new nn.Flatten(0, 1).call(torch.zeros([2, 3, 4])).shape).toEqual([6, 4]);
  });
});

describe('StochasticDepth', () => {
  it('is the identity in eval mode and with p = 0', () => {
    const x = torch.randn([4, 3, 2, 2]);
    expect(new nn.StochasticDepth(0.5).eval().call(x)).toBe(x);
    expect(new nn.StochasticDepth(0).call(x)).toBe(x);
  });

  it("'row' keeps or drops whole samples, scales kept ones by 1/(1-p), drops about p of them", () => {
    torch.manualSeed(2);
    const n = 4000;
    const x = torch.ones([n, 2, 2, 2]);
    const y = new nn.StochasticDepth(0.25, 'row').call(x);
    const perRow = torch.tidy(() => y.reshape(n, 8));
    const rows = perRow.toArray();
    let dropped = 0;
    for (let i = 0; i < n; i++) {
      const r = rows.slice(i * 8, i * 8 + 8);
      expect(new Set(r).size).toBe(1); // the whole sample alike
      if (r[0] === 0) dropped++;
      else expect(r[0]).toBeCloseTo(1 / 0.75, 6);
    }
    expect(Math.abs(dropped / n - 0.25)).toBeLessThan(0.03);
    expect(new nn.StochasticDepth(1, 'row').call(x).abs().sum().item()).toBe(0);
  });

  it("'batch' drops all or nothing, seeded by torch.manualSeed", () => {
    const x = torch.ones([8, 3]);
    const run = () => {
      torch.manualSeed(7);
      return Array.from({ length: 20 }, () => new Set(new nn.StochasticDepth(0.5, 'batch').call(x).toArray()));
    };
    const a = run();
    for (const s of a) expect(s.size).toBe(1);
    expect(a.map((s) => [...s][0])).toEqual(run().map((s) => [...s][0]));
    expect(() => new nn.StochasticDepth(1.5)).toThrow(/p must be in \[0, 1\]/);
  });
});
