// CUDA: tensors, autograd and every nn layer on cuda:0 against the same on the CPU (skipped
// without CUDA; npm run test:cuda). Bounds: test/cuda/helpers.ts.
import { describe, expect, it } from 'vitest';
import * as torch from '../../src/torch/index.js';
import * as nn from '../../src/nn/index.js';
import type { Tensor } from '../../src/torch/index.js';
import { describeGradcheck, gradcheck } from '../helpers/gradcheck.js';
import { CUDA, GPU, TF32, excess, maxAbs } from './helpers.js';

describe.skipIf(!CUDA)('tensors on cuda:0', () => {
  it('are made there, cross to the CPU and back bit for bit, in every dtype', () => {
    torch.manualSeed(1);
    for (const dtype of ['float32', 'float64', 'float16', 'bfloat16', 'int64', 'int32', 'uint8', 'bool'] as const) {
      torch.tidy(() => {
        const cpu = torch.randn([3, 5]).mul(10).to(dtype);
        const gpu = cpu.to(GPU);
        expect(gpu.device).toBe(GPU);
        expect(gpu.dtype).toBe(dtype);
        expect(gpu.cpu().toArray()).toEqual(cpu.toArray());
      });
    }
    torch.tidy(() => {
      const z = torch.zeros([2, 3], { device: GPU });
      expect(z.device).toBe(GPU);
      expect(z.cpu().toArray()).toEqual([
        [0, 0, 0],
        [0, 0, 0],
      ]);
    });
  });

  it('elementwise math and reductions agree with the CPU to float32 summation order', () => {
    torch.manualSeed(2);
    torch.tidy(() => {
      const x = torch.randn([64, 256]);
      const g = x.to(GPU);
      for (const [name, f, n] of [
        ['exp', (t: Tensor) => t.exp(), 1],
        ['tanh', (t: Tensor) => t.tanh(), 1],
        ['mul-add', (t: Tensor) => t.mul(3).add(t.square()), 1],
        ['sum over rows', (t: Tensor) => t.sum([1]), 256],
        ['mean', (t: Tensor) => t.mean(), 64 * 256],
        ['softmax', (t: Tensor) => torch.F.softmax(t, 1), 256],
      ] as [string, (t: Tensor) => Tensor, number][]) {
        const ref = f(x);
        // n float32 roundings of terms of at most max|x|-ish size: n * 2^-24 * max|ref| * 16.
        expect(excess(f(g), ref, n * 2 ** -20 * (maxAbs(ref) + maxAbs(x))), name).toBeLessThanOrEqual(0);
      }
    });
  });

  it('a mixed-device op is one clear error', () => {
    torch.tidy(() => {
      expect(() => torch.zeros([2]).add(torch.zeros([2], { device: GPU }))).toThrow(/device/);
    });
  });
});

describe.skipIf(!CUDA)('autograd on cuda:0', () => {
  it('gradients of a float64 graph agree with finite differences on the GPU', () => {
    torch.manualSeed(3);
    const x = torch.randn([3, 4], { dtype: 'float64' }).to(GPU).requiresGrad_();
    const w = torch.randn([4, 5], { dtype: 'float64' }).to(GPU).requiresGrad_();
    const r = gradcheck((a, b) => a!.matmul(b!).tanh().square().sum().add(a!.exp().mean()), [x, w]);
    expect(r.ok, describeGradcheck(r)).toBe(true);
    torch.dispose([x, w]);
  });

  it('backward of a float32 graph gives the CPU gradients, on the GPU', () => {
    torch.manualSeed(4);
    const xc = torch.randn([8, 16]).requiresGrad_();
    const xg = xc.detach().to(GPU).requiresGrad_();
    for (const x of [xc, xg]) x.sigmoid().mul(x).sum().backward();
    expect(xg.grad!.device).toBe(GPU);
    expect(excess(xg.grad!, xc.grad!, 2 ** -18 * maxAbs(xc.grad!))).toBeLessThanOrEqual(0);
    torch.dispose([xc, xg]);
  });
});

type LayerCase = {
  name: string;
  make: () => nn.Module<any, any>;
  input: number[];
  /** The longest reduction behind one output or gradient element (1 for elementwise layers). */
  n: number;
};

/** Every layer of src/nn, at a small size. */
const LAYERS: LayerCase[] = [
  { name: 'Conv2d', make: () => new nn.Conv2d(4, 6, 3, { padding: 1 }), input: [2, 4, 9, 9], n: 2 * 9 * 9 },
  {
    name: 'Conv2d reflect, stride 2',
    make: () => new nn.Conv2d(4, 6, 3, { padding: 1, stride: 2, paddingMode: 'reflect' }),
    input: [2, 4, 9, 9],
    n: 2 * 9 * 9,
  },
  {
    name: 'ConvTranspose2d',
    make: () => new nn.ConvTranspose2d(4, 3, 3, { stride: 2, padding: 1, outputPadding: 1 }),
    input: [2, 4, 6, 6],
    n: 2 * 12 * 12,
  },
  { name: 'Linear', make: () => new nn.Linear(32, 10), input: [16, 32], n: 32 },
  {
    name: 'InstanceNorm2d (affine)',
    make: () => new nn.InstanceNorm2d(4, { affine: true }),
    input: [2, 4, 8, 8],
    n: 64,
  },
  { name: 'BatchNorm2d', make: () => new nn.BatchNorm2d(4), input: [3, 4, 8, 8], n: 3 * 64 },
  { name: 'GroupNorm', make: () => new nn.GroupNorm(2, 4), input: [2, 4, 8, 8], n: 2 * 64 },
  { name: 'ReLU', make: () => new nn.ReLU(), input: [2, 3, 5, 5], n: 1 },
  { name: 'LeakyReLU', make: () => new nn.LeakyReLU(0.2), input: [2, 3, 5, 5], n: 1 },
  { name: 'Tanh', make: () => new nn.Tanh(), input: [2, 3, 5, 5], n: 1 },
  { name: 'Sigmoid', make: () => new nn.Sigmoid(), input: [2, 3, 5, 5], n: 1 },
  { name: 'SiLU', make: () => new nn.SiLU(), input: [2, 3, 5, 5], n: 1 },
  { name: 'GELU', make: () => new nn.GELU(), input: [2, 3, 5, 5], n: 1 },
  { name: 'Identity', make: () => new nn.Identity(), input: [2, 3, 5, 5], n: 1 },
  { name: 'ReflectionPad2d', make: () => new nn.ReflectionPad2d(2), input: [2, 3, 5, 5], n: 4 },
  { name: 'ReplicationPad2d', make: () => new nn.ReplicationPad2d(1), input: [2, 3, 5, 5], n: 4 },
  { name: 'ZeroPad2d', make: () => new nn.ZeroPad2d(1), input: [2, 3, 5, 5], n: 1 },
  {
    name: 'AvgPool2d',
    make: () => new nn.AvgPool2d(3, { stride: 2, padding: 1, countIncludePad: false }),
    input: [2, 3, 9, 9],
    n: 9,
  },
  { name: 'MaxPool2d', make: () => new nn.MaxPool2d(3, { stride: 2, padding: 1 }), input: [2, 3, 9, 9], n: 1 },
  { name: 'AdaptiveAvgPool2d', make: () => new nn.AdaptiveAvgPool2d(1), input: [2, 3, 9, 9], n: 81 },
  { name: 'Flatten', make: () => new nn.Flatten(), input: [2, 3, 4, 4], n: 1 },
  {
    name: 'Upsample bilinear',
    make: () => new nn.Upsample({ scaleFactor: 2, mode: 'bilinear' }),
    input: [2, 3, 5, 5],
    n: 16,
  },
  {
    name: 'Sequential (conv, norm, act)',
    make: () =>
      new nn.Sequential(new nn.Conv2d(3, 4, 3, { padding: 1 }), new nn.InstanceNorm2d(4), new nn.LeakyReLU(0.2)),
    input: [2, 3, 8, 8],
    n: 2 * 64,
  },
  { name: 'spectral norm Conv2d', make: () => nn.spectralNorm(new nn.Conv2d(3, 4, 3)), input: [2, 3, 8, 8], n: 2 * 36 },
];

describe.skipIf(!CUDA)('every nn layer on cuda:0 matches the CPU: output, input gradient, parameter gradients', () => {
  for (const c of LAYERS) {
    it(c.name, () => {
      torch.manualSeed(11);
      const cpu = c.make();
      torch.manualSeed(11);
      const gpu = c.make().to(GPU);
      torch.manualSeed(12);
      const x = torch.randn(c.input).requiresGrad_();
      const r = torch.randn(cpu.call(x.detach()).shape);
      const xg = x.detach().to(GPU).requiresGrad_();
      const yc = cpu.call(x);
      const yg = gpu.call(xg);
      expect(yg.device).toBe(GPU);
      yc.mul(r).sum().backward();
      yg.mul(r.to(GPU)).sum().backward();
      // TF32 products (convolutions) or float32 elementwise work: within n * 2^-10 of the largest
      // magnitude of what is compared (the reduction's terms are at most that large here).
      const bound = (ref: Tensor) => c.n * TF32 * maxAbs(ref) + 1e-30;
      expect(excess(yg, yc, bound(yc)), `${c.name}: output`).toBeLessThanOrEqual(0);
      expect(excess(xg.grad!, x.grad!, bound(x.grad!)), `${c.name}: input gradient`).toBeLessThanOrEqual(0);
      const gp = new Map(gpu.namedParameters());
      for (const [name, p] of cpu.namedParameters()) {
        const q = gp.get(name)!;
        if (!p.grad) continue;
        expect(q.grad, `${c.name}: ${name} has a gradient on the GPU`).toBeTruthy();
        expect(excess(q.grad!, p.grad, bound(p.grad)), `${c.name}: ${name} gradient`).toBeLessThanOrEqual(0);
      }
      // Running statistics (batch norm) move the same way.
      const gb = new Map(gpu.namedBuffers());
      for (const [name, b] of cpu.namedBuffers()) {
        if (b.dtype !== 'float32') continue;
        expect(excess(gb.get(name)!, b, c.n * TF32 * (maxAbs(b) + 1)), `${c.name}: buffer ${name}`).toBeLessThanOrEqual(
          0,
        );
      }
      torch.dispose([x, xg, yc, yg, r]);
    });
  }
});
