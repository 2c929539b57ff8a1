// --g-ema on a batch-normalised generator (pix2pix's U-Net, SPADE): the average keeps batch-norm
// statistics of its own. Copying the trained network's statistics (which describe the trained
// weights' activations) made the averaged pix2pix draw near-white images (bench:quality: PSNR 7.4
// dB, domain-FID in the thousands). Checked here against the arithmetic: parameters lerp, the
// running statistics move by the layer's momentum towards the batch statistics of the *averaged*
// weights' activations on the step's input, the trained network's own statistics stay untouched,
// and the refresh neither leaves the average in training mode nor draws random numbers (dropout
// stays off), so a run with the average trains exactly as one without.
import { describe, it, expect } from 'vitest';
import * as torch from '../../src/torch/index.js';
import * as nn from '../../src/nn/index.js';
import { WeightAverage } from '../../src/train/weight_average.js';

const f64 = (t: torch.Tensor) => Array.from(t.to('float64').data() as Float64Array);

function net(): nn.Sequential {
  return new nn.Sequential(new nn.Conv2d(2, 3, 3, { padding: 1 }), new nn.BatchNorm2d(3), new nn.Dropout(0.5));
}

describe('WeightAverage with batch norm', () => {
  it('gives the average its own running statistics, from its own activations on the step input', () => {
    torch.manualSeed(5);
    const source = net();
    const average = net();
    const ema = new WeightAverage(average, source, 0.75);
    expect(ema.hasRunningStats).toBe(true);
    const conv = source.child<nn.Conv2d>('0');
    const bn = source.child<nn.BatchNorm2d>('1');
    const avgConv = average.child<nn.Conv2d>('0');
    const avgBn = average.child<nn.BatchNorm2d>('1');
    // The trained network moves on: new weights, and its own statistics from a forward pass.
    torch.noGrad(() => {
      const before = [f64(avgConv.param('weight')), f64(avgConv.param('bias'))];
      conv.param('weight').add_(torch.randn(conv.param('weight').shape).mul(0.5));
      conv.param('bias').add_(1.5);
      source.train();
      source.call(torch.randn([4, 2, 6, 6]).mul(3));
      const sourceStats = [f64(bn.buffer('running_mean')!), f64(bn.buffer('running_var')!)];
      const avgMean0 = f64(avgBn.buffer('running_mean')!);
      const avgVar0 = f64(avgBn.buffer('running_var')!);

      const x = torch.randn([3, 2, 5, 5]);
      const rng = torch.getRngState();
      ema.update(x);
      const drawn = f64(torch.randn([4]));
      torch.setRngState(rng);
      expect(drawn, 'the refresh draws no random numbers (dropout stays off)').toEqual(f64(torch.randn([4])));

      // Parameters: a + (1 - decay)(w - a), in float64.
      const w = f64(conv.param('weight'));
      const b = f64(conv.param('bias'));
      const wantW = before[0]!.map((a, i) => a + 0.25 * (w[i]! - a));
      const wantB = before[1]!.map((a, i) => a + 0.25 * (b[i]! - a));
      f64(avgConv.param('weight')).forEach((v, i) => expect(v).toBeCloseTo(wantW[i]!, 6));
      f64(avgConv.param('bias')).forEach((v, i) => expect(v).toBeCloseTo(wantB[i]!, 6));

      // Statistics: momentum 0.1 towards the batch mean and unbiased variance of the averaged conv's output.
      const y = torch.F.conv2d(x, avgConv.param('weight'), avgConv.param('bias'), { padding: 1 });
      const mean = f64(y.mean([0, 2, 3]));
      const variance = f64(y.var([0, 2, 3], { correction: 1 }));
      const m = avgBn.momentum;
      f64(avgBn.buffer('running_mean')!).forEach((v, i) =>
        expect(v).toBeCloseTo((1 - m) * avgMean0[i]! + m * mean[i]!, 5),
      );
      f64(avgBn.buffer('running_var')!).forEach((v, i) =>
        expect(v).toBeCloseTo((1 - m) * avgVar0[i]! + m * variance[i]!, 4),
      );
      // Not the trained network's statistics, which stay as they were.
      expect(f64(avgBn.buffer('running_mean')!)).not.toEqual(sourceStats[0]);
      expect(f64(bn.buffer('running_mean')!)).toEqual(sourceStats[0]);
      expect(f64(bn.buffer('running_var')!)).toEqual(sourceStats[1]);
      expect(
        [...average.namedModules()].every(([, mod]) => !mod.training),
        'the average stays in eval mode',
      ).toBe(true);
    });
  });

  it('refuses an update without the input when it has statistics to refresh', () => {
    const ema = new WeightAverage(net(), net(), 0.9);
    expect(() => ema.update()).toThrow(/batch norm.*needs the input/);
  });

  it('starts from the trained network statistics, and a network without batch norm needs no input', () => {
    torch.manualSeed(2);
    const source = net();
    torch.noGrad(() => {
      source.train();
      source.call(torch.randn([2, 2, 4, 4]).add(2));
    });
    const average = net();
    new WeightAverage(average, source, 0.9);
    expect(f64(average.child<nn.BatchNorm2d>('1').buffer('running_mean')!)).toEqual(
      f64(source.child<nn.BatchNorm2d>('1').buffer('running_mean')!),
    );
    const plain = () => new nn.Sequential(new nn.Conv2d(2, 3, 3), new nn.InstanceNorm2d(3));
    const ema = new WeightAverage(plain(), plain(), 0.9);
    expect(ema.hasRunningStats).toBe(false);
    expect(() => ema.update()).not.toThrow();
  });
});
