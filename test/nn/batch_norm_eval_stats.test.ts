// BatchNorm2d's evalStats 'sample' (pix2pix's test protocol): in eval mode each sample is
// normalised with its own mean and biased variance over H and W, then scaled by the layer's
// weight and bias; training mode is unchanged. Checked against the formula in float64.
import { describe, it, expect } from 'vitest';
import * as torch from '../../src/torch/index.js';
import * as nn from '../../src/nn/index.js';
import { UnetGenerator } from '../../src/models/unet_generator.js';

const f64 = (t: torch.Tensor) => Array.from(t.to('float64').data() as Float64Array);

describe("BatchNorm2d evalStats: 'sample'", () => {
  it('normalises each sample with its own statistics in eval mode', () => {
    torch.manualSeed(3);
    const bn = new nn.BatchNorm2d(3, { evalStats: 'sample' });
    torch.noGrad(() => {
      bn.param('weight').copy_(torch.tensor([0.5, 2, -1]));
      bn.param('bias').copy_(torch.tensor([0.1, -0.3, 2]));
      // Running statistics far from any sample's: eval mode must not use them.
      bn.buffer('running_mean')!.fill_(40);
      bn.buffer('running_var')!.fill_(9);
    });
    bn.eval();
    const x = torch.randn([2, 3, 4, 5]).mul(3).add(1).to('float64');
    const got = torch.noGrad(() => bn.to('float64').call(x));
    const mean = x.mean([2, 3], true);
    const variance = x.var([2, 3], { correction: 0, keepdim: true });
    const want = x
      .sub(mean)
      .div(variance.add(bn.eps).sqrt())
      .mul(torch.tensor([0.5, 2, -1], { dtype: 'float64' }).reshape(1, 3, 1, 1))
      .add(torch.tensor([0.1, -0.3, 2], { dtype: 'float64' }).reshape(1, 3, 1, 1));
    const g = f64(got);
    f64(want).forEach((v, i) => expect(g[i]).toBeCloseTo(v, 6));
    expect(f64(bn.buffer('running_mean')!), 'eval mode leaves the running statistics').toEqual([40, 40, 40]);
  });

  it('leaves training mode as batch norm (batch statistics, running statistics updated)', () => {
    torch.manualSeed(4);
    const a = new nn.BatchNorm2d(2, { evalStats: 'sample' });
    const b = new nn.BatchNorm2d(2);
    const x = torch.randn([3, 2, 4, 4]).add(2);
    const ya = f64(a.call(x));
    const yb = f64(b.call(x));
    expect(ya).toEqual(yb);
    expect(f64(a.buffer('running_mean')!)).toEqual(f64(b.buffer('running_mean')!));
    expect(f64(a.buffer('running_mean')!).some((v) => v !== 0)).toBe(true);
  });

  it('refuses an unknown value, naming it', () => {
    expect(() => new nn.BatchNorm2d(2, { evalStats: 'batch' as never })).toThrow(/evalStats.*'batch'/);
  });

  it("pix2pix's U-Net uses it: each image of a batch generates as it does alone", () => {
    torch.manualSeed(6);
    const g = new UnetGenerator({ inputNc: 4, ngf: 4, numDowns: 5 });
    const bns = [...g.namedModules()].filter(([, m]) => m instanceof nn.BatchNorm2d);
    expect(bns.length).toBeGreaterThan(3);
    expect(bns.every(([, m]) => (m as nn.BatchNorm2d).evalStats === 'sample')).toBe(true);
    g.eval();
    const x = torch.randn([2, 4, 32, 32]);
    torch.noGrad(() => {
      const both = g.call(x);
      for (const i of [0, 1]) {
        const alone = f64(g.call(x.narrow(0, i, 1)));
        f64(both.narrow(0, i, 1)).forEach((v, k) => expect(v).toBeCloseTo(alone[k]!, 5));
      }
    });
  });
});
