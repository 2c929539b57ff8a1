// extractFeatures: uint8 and [-1, 1] images reach the network in its range ('unit' or 'signed'),
// batching (one tensor split, arrays, async generators) does not change the result, records of
// outputs, float64 CPU matrices, inference mode, a module's train/eval mode restored, errors.
import { describe, expect, it } from 'vitest';
import * as torch from '../../src/torch/index.js';
import type { Tensor } from '../../src/torch/index.js';
import * as nn from '../../src/nn/index.js';
import { extractFeatures, toNetworkRange, type FeatureNetwork } from '../../src/eval/features.js';

/** Per-channel means and maxima: [B, 6]. */
const stats = (x: Tensor): Tensor => torch.cat([x.mean([2, 3]), x.flatten(2).maxDim(2).values], 1);

class Pooler extends nn.Module {
  readonly conv = this.registerModule('conv', new nn.Conv2d(3, 4, 1));
  seenTraining: boolean | null = null;
  seenGrad: boolean | null = null;
  forward(x: Tensor): Tensor {
    return this.conv.call(x).mean([2, 3]);
  }
  features(x: Tensor): Tensor {
    this.seenTraining = this.training;
    this.seenGrad = torch.isGradEnabled();
    return this.call(x);
  }
}

describe('extractFeatures', () => {
  it('uint8 and [-1, 1] inputs give the same features in both ranges; results are float64 [N, D] on the CPU', async () => {
    torch.manualSeed(0);
    const bytes = torch.randint(0, 256, [5, 3, 8, 8]).to('uint8');
    const signed = torch.tidy(() => bytes.to('float32').div(127.5).sub(1));
    for (const inputRange of ['unit', 'signed'] as const) {
      const seen: number[][] = [];
      const net: FeatureNetwork = {
        inputRange,
        features: (x) => {
          seen.push([x.min().item(), x.max().item()]);
          return stats(x);
        },
      };
      const a = await extractFeatures(net, bytes, { batchSize: 2 });
      const b = await extractFeatures(net, signed, { batchSize: 5 });
      expect(a.dtype).toBe('float64');
      expect(a.device).toBe('cpu');
      expect(a.shape).toEqual([5, 6]);
      expect(torch.tidy(() => a.sub(b).abs().max().item())).toBeLessThan(1e-6);
      const expected = torch.tidy(() =>
        stats(inputRange === 'unit' ? bytes.to('float32').div(255) : signed).to('float64'),
      );
      expect(torch.tidy(() => a.sub(expected).abs().max().item())).toBeLessThan(1e-6);
      const lo = Math.min(...seen.map((s) => s[0]!));
      const hi = Math.max(...seen.map((s) => s[1]!));
      expect(lo).toBeGreaterThanOrEqual(inputRange === 'unit' ? 0 : -1);
      expect(hi).toBeLessThanOrEqual(1);
      expect(seen.length).toBe(3 + 1); // batches of 2, 2, 1 then one of 5
      torch.dispose([a, b, expected]);
    }
    torch.dispose([bytes, signed]);
  });

  it('takes arrays and async generators of batches, and records of outputs', async () => {
    torch.manualSeed(1);
    const images = torch.rand([6, 3, 4, 4]).mul(2).sub(1);
    const net: FeatureNetwork<{ mean: Tensor; max: Tensor }> = {
      features: (x) => ({ mean: x.mean([2, 3]), max: x.flatten(2).maxDim(2).values }),
    };
    const whole = await extractFeatures(net, images);
    const fromArray = await extractFeatures(net, [images.narrow(0, 0, 4), images.narrow(0, 4, 2)]);
    async function* gen(): AsyncGenerator<Tensor> {
      for (let i = 0; i < 6; i += 3) yield images.narrow(0, i, 3);
    }
    const fromGen = await extractFeatures(net, gen());
    for (const r of [fromArray, fromGen]) {
      expect(Object.keys(r)).toEqual(['mean', 'max']);
      expect(r.mean.shape).toEqual([6, 3]);
      expect(
        torch.tidy(() => r.mean.sub(whole.mean).abs().max().item() + r.max.sub(whole.max).abs().max().item()),
      ).toBe(0);
    }
    torch.dispose([images, whole, fromArray, fromGen]);
  });

  it('runs a module in eval and inference mode, restores its training mode, reports progress', async () => {
    const net = new Pooler();
    net.train();
    const done: number[] = [];
    const f = await extractFeatures(net, torch.zeros([5, 3, 4, 4]), { batchSize: 2, onProgress: (n) => done.push(n) });
    expect(net.seenTraining).toBe(false);
    expect(net.seenGrad).toBe(false);
    expect(net.training).toBe(true);
    expect(done).toEqual([2, 4, 5]);
    expect(f.shape).toEqual([5, 4]);
    f.dispose();
  });

  it('errors name the problem', async () => {
    const net: FeatureNetwork = { features: (x) => x.mean([2, 3]) };
    await expect(extractFeatures(net, torch.zeros([2, 1, 4, 4]))).rejects.toThrow(
      'extractFeatures: expected images [N, 3, H, W], got shape [2, 1, 4, 4]',
    );
    await expect(extractFeatures(net, [])).rejects.toThrow('extractFeatures: no images');
    await expect(extractFeatures(net, torch.zeros([2, 3, 4, 4], { dtype: 'int32' }))).rejects.toThrow(
      'images must be uint8 (0..255) or floating point in [-1, 1], got int32',
    );
    await expect(extractFeatures(net, torch.zeros([2, 3, 4, 4]), { batchSize: 0 })).rejects.toThrow(
      'batchSize must be a positive integer, got 0',
    );
    expect(
      torch.tidy(() =>
        toNetworkRange(torch.tensor(Float32Array.from([-1, 0, 1]), { shape: [1, 3, 1, 1] }), 'unit').toArray(),
      ),
    ).toEqual([0, 0.5, 1]);
  });
});
