// Module behaviour (names, modes, buffers, spectral norm, initialisers, dtype moves), optimizer
// and scheduler state for exact resumes, and a network that can actually learn.
import { beforeAll, describe, expect, it } from 'vitest';
import * as torch from '../../src/torch/index.js';
import * as nn from '../../src/nn/index.js';
import type { Tensor } from '../../src/torch/index.js';

beforeAll(() => {
  torch.setNumThreads(1);
});

function bytes(t: Tensor): Buffer {
  return Buffer.from(t.bytes());
}

function maxAbsDiff(a: Tensor, b: Tensor): number {
  return torch.tidy(() => a.to('float64').sub(b.to('float64')).abs().max().item());
}

/** Largest singular value of a weight viewed as [out, -1], from eigh(W W^T). */
function sigmaMax(w: Tensor): number {
  return torch.tidy(() => {
    const m = w.reshape(w.shape[0]!, -1).to('float64');
    const { eigenvalues } = torch.F.eigh(m.mm(m.t()));
    const values = eigenvalues.toArray();
    return Math.sqrt(values[values.length - 1]!);
  });
}

function std(values: number[]): { mean: number; std: number } {
  const mean = values.reduce((a, b) => a + b, 0) / values.length;
  const variance = values.reduce((a, b) => a + (b - mean) ** 2, 0) / (values.length - 1);
  return { mean, std: Math.sqrt(variance) };
}

describe('Module', () => {
  it('namedParameters, namedBuffers and stateDict use PyTorch dotted names', () => {
    const net = new nn.Sequential(
      new nn.Conv2d(3, 8, 3),
      new nn.Sequential(new nn.BatchNorm2d(8), nn.spectralNorm(new nn.Conv2d(8, 4, 1)), new nn.LeakyReLU(0.2)),
      new nn.InstanceNorm2d(4, { affine: true }),
    );
    expect([...net.namedParameters()].map(([n]) => n)).toEqual([
      '0.weight',
      '0.bias',
      '1.0.weight',
      '1.0.bias',
      '1.1.bias',
      '1.1.weight_orig',
      '2.weight',
      '2.bias',
    ]);
    expect([...net.namedBuffers()].map(([n]) => n)).toEqual([
      '1.0.running_mean',
      '1.0.running_var',
      '1.0.num_batches_tracked',
      '1.1.weight_u',
      '1.1.weight_v',
    ]);
    expect([...net.namedModules()].map(([n]) => n)).toEqual(['', '0', '1', '1.0', '1.1', '1.2', '2']);
    expect([...net.stateDict().keys()].sort()).toEqual([
      '0.bias',
      '0.weight',
      '1.0.bias',
      '1.0.num_batches_tracked',
      '1.0.running_mean',
      '1.0.running_var',
      '1.0.weight',
      '1.1.bias',
      '1.1.weight_orig',
      '1.1.weight_u',
      '1.1.weight_v',
      '2.bias',
      '2.weight',
    ]);
    // The state dict holds the module's own tensors.
    expect(net.stateDict().get('0.weight')).toBe(net.child('0').param('weight'));
  });

  it('numParameters: Conv2d(3, 8, 3) has 224, without bias 216; containers sum their children', () => {
    expect(new nn.Conv2d(3, 8, 3).numParameters()).toBe(224);
    expect(new nn.Conv2d(3, 8, 3, { bias: false }).numParameters()).toBe(216);
    expect(new nn.Conv2d(4, 8, 3, { groups: 2 }).numParameters()).toBe(8 * 2 * 9 + 8);
    expect(new nn.ConvTranspose2d(8, 4, 4).numParameters()).toBe(8 * 4 * 16 + 4);
    expect(new nn.BatchNorm2d(5).numParameters()).toBe(10); // buffers do not count
    expect(new nn.Sequential(new nn.Conv2d(3, 8, 3), new nn.BatchNorm2d(8), new nn.Linear(8, 2)).numParameters()).toBe(
      224 + 16 + 18,
    );
    // Every parameter is a leaf that requires grad.
    for (const p of new nn.Conv2d(3, 8, 3).parameters()) {
      expect(p.requiresGrad).toBe(true);
      expect(p.isLeaf).toBe(true);
    }
  });

  it('train() and eval() propagate to every submodule; a subtree can be switched alone', () => {
    const inner = new nn.Sequential(new nn.Dropout(0.5), new nn.BatchNorm2d(2));
    const net = new nn.Sequential(new nn.Conv2d(2, 2, 1), inner);
    const modes = () => [...net.namedModules()].map(([n, m]) => [n, m.training]);
    expect(modes().every(([, t]) => t === true)).toBe(true);
    expect(net.eval()).toBe(net);
    expect(modes()).toEqual([
      ['', false],
      ['0', false],
      ['1', false],
      ['1.0', false],
      ['1.1', false],
    ]);
    net.train();
    expect(modes().every(([, t]) => t === true)).toBe(true);
    inner.eval();
    expect(modes()).toEqual([
      ['', true],
      ['0', true],
      ['1', false],
      ['1.0', false],
      ['1.1', false],
    ]);
    net.train(false);
    expect(modes().every(([, t]) => t === false)).toBe(true);
  });

  it('zeroGrad clears every parameter gradient', () => {
    torch.manualSeed(1);
    const net = new nn.Sequential(
      new nn.Conv2d(2, 3, 3, { padding: 1 }),
      new nn.BatchNorm2d(3),
      new nn.Conv2d(3, 1, 1),
    );
    torch.tidy(() =>
      net
        .call(torch.randn([2, 2, 4, 4]))
        .square()
        .mean()
        .backward(),
    );
    const params = net.parameters();
    expect(params.length).toBe(6);
    for (const p of params) {
      const g = p.grad;
      expect(g).not.toBeNull();
      expect(torch.tidy(() => g!.abs().sum().item())).toBeGreaterThan(0);
      g!.dispose();
    }
    net.zeroGrad();
    for (const p of params) expect(p.grad).toBeNull();
  });

  it('BatchNorm2d: running statistics update in training mode and are used in eval', () => {
    torch.manualSeed(2);
    torch.tidy(() => {
      const bn = new nn.BatchNorm2d(3, { momentum: 0.1 });
      const x = torch.randn([4, 3, 5, 5]).mul(2).add(1);
      bn.train();
      const y = bn.call(x);
      const rm = bn.buffer('running_mean')!;
      const rv = bn.buffer('running_var')!;
      expect(maxAbsDiff(rm, x.mean([0, 2, 3]).mul(0.1))).toBeLessThan(1e-6);
      expect(maxAbsDiff(rv, x.var([0, 2, 3]).mul(0.1).add(0.9))).toBeLessThan(1e-5); // unbiased, as PyTorch
      expect(bn.buffer('num_batches_tracked')!.item()).toBe(1);
      // Training output uses the batch statistics.
      expect(maxAbsDiff(y.mean([0, 2, 3]), torch.zeros([3]))).toBeLessThan(1e-5);
      expect(maxAbsDiff(y.var([0, 2, 3], { correction: 0 }), torch.ones([3]))).toBeLessThan(1e-3);
      const rmBefore = bytes(rm);
      bn.eval();
      const z = bn.call(x);
      const expected = x.sub(rm.reshape(1, 3, 1, 1)).div(rv.add(1e-5).sqrt().reshape(1, 3, 1, 1));
      expect(maxAbsDiff(z, expected)).toBeLessThan(1e-5);
      expect(bytes(bn.buffer('running_mean')!).equals(rmBefore)).toBe(true);
      expect(bn.buffer('num_batches_tracked')!.item()).toBe(1);
    });
  });

  it('InstanceNorm2d: no buffers by default; with trackRunningStats they update in training and are used in eval', () => {
    torch.manualSeed(3);
    torch.tidy(() => {
      const x = torch.randn([2, 3, 4, 5]).mul(3).add(2);
      const plain = new nn.InstanceNorm2d(3);
      expect([...plain.namedBuffers()]).toEqual([]);
      plain.eval();
      const yPlain = plain.call(x);
      expect(maxAbsDiff(yPlain.mean([2, 3]), torch.zeros([2, 3]))).toBeLessThan(1e-5); // input statistics in eval too

      const norm = new nn.InstanceNorm2d(3, { trackRunningStats: true });
      expect([...norm.namedBuffers()].map(([n]) => n)).toEqual(['running_mean', 'running_var', 'num_batches_tracked']);
      norm.train();
      const y = norm.call(x);
      expect(maxAbsDiff(y, yPlain)).toBeLessThan(1e-6);
      const rm = norm.buffer('running_mean')!;
      const rv = norm.buffer('running_var')!;
      expect(maxAbsDiff(rm, x.mean([2, 3]).mean(0).mul(0.1))).toBeLessThan(1e-6);
      expect(maxAbsDiff(rv, x.var([2, 3]).mean(0).mul(0.1).add(0.9))).toBeLessThan(1e-5);
      expect(norm.buffer('num_batches_tracked')!.item()).toBe(0); // as PyTorch: InstanceNorm never counts
      norm.eval();
      const z = norm.call(x);
      const expected = x.sub(rm.reshape(1, 3, 1, 1)).div(rv.add(1e-5).sqrt().reshape(1, 3, 1, 1));
      expect(maxAbsDiff(z, expected)).toBeLessThan(1e-5);
      expect(maxAbsDiff(z, yPlain)).toBeGreaterThan(0.1);
    });
  });

  it('Dropout is the identity in eval and drops with probability p (scaling by 1/(1-p)) in training', () => {
    torch.manualSeed(4);
    torch.tidy(() => {
      const drop = new nn.Dropout(0.5);
      const x = torch.randn([100, 100]);
      drop.eval();
      expect(bytes(drop.call(x)).equals(bytes(x))).toBe(true);
      drop.train();
      const y = drop.call(torch.ones([100, 100])).toArray();
      const zeros = y.filter((v) => v === 0).length / y.length;
      expect(zeros).toBeGreaterThan(0.45);
      expect(zeros).toBeLessThan(0.55);
      expect(y.every((v) => v === 0 || v === 2)).toBe(true);
      expect(() => new nn.Dropout(1.5)).toThrow(/\[0, 1\]/);
    });
  });

  it('Sequential runs its layers in order', () => {
    torch.manualSeed(5);
    torch.tidy(() => {
      const a = new nn.Conv2d(2, 3, 3, { padding: 1 });
      const b = new nn.LeakyReLU(0.2);
      const c = new nn.Conv2d(3, 1, 1);
      const seq = new nn.Sequential(a, b, c);
      expect(seq.layers).toEqual([a, b, c]);
      const x = torch.randn([1, 2, 6, 6]);
      const manual = c.call(torch.F.leakyRelu(a.call(x), 0.2));
      expect(bytes(seq.call(x)).equals(bytes(manual))).toBe(true);
      expect(seq.child('1')).toBe(b);
      expect(() => seq.child('3')).toThrow(/no submodule '3'/);
    });
  });

  it('spectralNorm: after enough training-mode power iterations the largest singular value is ~1', () => {
    torch.manualSeed(6);
    const conv = new nn.Conv2d(4, 6, 3);
    torch.noGrad(() => conv.param('weight').mul_(5));
    const sn = nn.spectralNorm(conv);
    const original = sigmaMax(sn.param('weight_orig'));
    expect(original).toBeGreaterThan(1.5); // far from 1 before normalisation
    sn.train();
    const x = torch.randn([1, 4, 5, 5]);
    for (let i = 0; i < 60; i++) torch.tidy(() => sn.call(x));
    expect(sigmaMax(sn.param('weight'))).toBeCloseTo(1, 3);
    // The normalised weight is weight_orig / sigma.
    expect(sigmaMax(sn.param('weight_orig'))).toBeCloseTo(original, 5);
    // Eval mode runs no power iteration: u and v stay as they are.
    const u = bytes(sn.buffer('weight_u')!);
    sn.eval();
    torch.tidy(() => sn.call(x));
    expect(bytes(sn.buffer('weight_u')!).equals(u)).toBe(true);
    x.dispose();
    // Gradients reach weight_orig through the normalisation.
    sn.train();
    torch.tidy(() =>
      sn
        .call(torch.randn([1, 4, 5, 5]))
        .sum()
        .backward(),
    );
    const g = sn.param('weight_orig').grad;
    expect(g).not.toBeNull();
    expect(torch.tidy(() => g!.abs().sum().item())).toBeGreaterThan(0);
  });

  it("initWeights('normal', 0.02): conv weights ~ N(0, 0.02), norm weights ~ N(1, 0.02), biases zero", () => {
    torch.manualSeed(7);
    const net = new nn.Sequential(
      new nn.Conv2d(16, 32, 3),
      new nn.BatchNorm2d(64),
      new nn.ConvTranspose2d(32, 16, 3),
      new nn.InstanceNorm2d(64, { affine: true }),
      nn.spectralNorm(new nn.Conv2d(16, 16, 3)),
      new nn.Linear(64, 32),
    );
    nn.initWeights(net, 'normal', 0.02);
    for (const name of ['0.weight', '2.weight', '4.weight_orig', '5.weight']) {
      const { mean, std: s } = std(net.stateDict().get(name)!.toArray());
      expect(Math.abs(mean), name).toBeLessThan(0.002);
      expect(s, name).toBeGreaterThan(0.019);
      expect(s, name).toBeLessThan(0.021);
    }
    for (const name of ['1.weight', '3.weight']) {
      const { mean, std: s } = std(net.stateDict().get(name)!.toArray());
      expect(Math.abs(mean - 1), name).toBeLessThan(0.01);
      expect(s, name).toBeGreaterThan(0.012);
      expect(s, name).toBeLessThan(0.03);
    }
    for (const [name, t] of net.stateDict()) {
      if (name.endsWith('.bias'))
        expect(
          t.toArray().every((v) => v === 0),
          name,
        ).toBe(true);
    }
  });

  it("to('float64') converts parameters and floating buffers (not integer ones) and keeps values", () => {
    torch.manualSeed(8);
    const net = new nn.Sequential(new nn.Conv2d(2, 3, 3), new nn.BatchNorm2d(3));
    const before = new Map([...net.stateDict()].map(([k, t]) => [k, t.toArray()]));
    expect(net.to('float64')).toBe(net);
    const state = net.stateDict();
    for (const [k, t] of state) {
      expect(t.dtype, k).toBe(k.endsWith('num_batches_tracked') ? 'int64' : 'float64');
      expect(t.toArray(), k).toEqual(before.get(k));
    }
    for (const p of net.parameters()) {
      expect(p.requiresGrad).toBe(true);
      expect(p.isLeaf).toBe(true);
    }
    torch.tidy(() => {
      const y = net.call(torch.randn([2, 2, 5, 5], { dtype: 'float64' }));
      expect(y.dtype).toBe('float64');
      y.sum().backward();
    });
    const opt = new nn.optim.Adam(net.parameters(), { lr: 0.1 });
    opt.step();
    expect(net.child('0').param('weight').dtype).toBe('float64');
    net.to('float32');
    expect(net.child('1').buffer('running_var')!.dtype).toBe('float32');
  });
});

// ---- optimizers: exact resume ------------------------------------------------------------------

interface Run {
  net: nn.Sequential;
  opt: nn.optim.Optimizer<{ lr: number }>;
}

const makeNet = () =>
  new nn.Sequential(
    new nn.Conv2d(2, 4, 3, { padding: 1 }),
    new nn.LeakyReLU(0.2),
    new nn.Conv2d(4, 2, 3, { padding: 1 }),
  );

function trainSteps(r: Run, x: Tensor, y: Tensor, n: number): void {
  for (let i = 0; i < n; i++) {
    torch.tidy(() => {
      r.opt.zeroGrad();
      torch.F.mseLoss(r.net.call(x), y).backward();
      r.opt.step();
    });
  }
}

/** A checkpoint as bytes and JSON, as a training script would write it. */
function checkpoint(r: Run): { bytes: Uint8Array; config: string } {
  const { tensors, config } = r.opt.stateDict();
  const all = new Map<string, Tensor>();
  for (const [k, t] of r.net.stateDict()) all.set(`model.${k}`, t);
  for (const [k, t] of tensors) all.set(`optim.${k}`, t);
  return { bytes: torch.writeSafetensors(all), config: JSON.stringify(config) };
}

function restore(r: Run, ck: { bytes: Uint8Array; config: string }): void {
  const { tensors } = torch.readSafetensors(ck.bytes);
  const strip = (prefix: string) =>
    new Map([...tensors].filter(([k]) => k.startsWith(prefix)).map(([k, t]) => [k.slice(prefix.length), t]));
  r.net.loadStateDict(strip('model.'));
  r.opt.loadStateDict({ tensors: strip('optim.'), config: JSON.parse(ck.config) });
  torch.dispose(tensors);
}

function paramBytes(net: nn.Module<any, any>): Buffer[] {
  return net.parameters().map(bytes);
}

function resumeIsExact(makeOpt: (params: Tensor[], fresh: boolean) => nn.optim.Optimizer<{ lr: number }>): void {
  torch.manualSeed(21);
  const x = torch.keep(torch.randn([2, 2, 6, 6]));
  const y = torch.keep(torch.randn([2, 2, 6, 6]));
  torch.manualSeed(22);
  const netA = makeNet();
  const a: Run = { net: netA, opt: makeOpt(netA.parameters(), false) };
  trainSteps(a, x, y, 3);
  const ck = checkpoint(a);
  const atCheckpoint = paramBytes(a.net);
  trainSteps(a, x, y, 3);
  const final = paramBytes(a.net);
  expect(final.some((b, i) => !b.equals(atCheckpoint[i]!))).toBe(true); // training moved the weights

  // A fresh model (another initialisation) and optimizer (other hyper-parameters) restored from the checkpoint.
  torch.manualSeed(99);
  const netB = makeNet();
  const b: Run = { net: netB, opt: makeOpt(netB.parameters(), true) };
  restore(b, ck);
  expect(paramBytes(b.net).every((p, i) => p.equals(atCheckpoint[i]!))).toBe(true);
  expect(b.opt.lr).toBe(a.opt.lr);
  trainSteps(b, x, y, 3);
  const resumed = paramBytes(b.net);
  resumed.forEach((p, i) => expect(p.equals(final[i]!), `parameter ${i} after resume`).toBe(true));

  // Control: restoring the weights but not the optimizer state does not give the same result.
  torch.manualSeed(98);
  const netC = makeNet();
  const c: Run = { net: netC, opt: makeOpt(netC.parameters(), false) };
  const { tensors } = torch.readSafetensors(ck.bytes);
  c.net.loadStateDict(new Map([...tensors].filter(([k]) => k.startsWith('model.')).map(([k, t]) => [k.slice(6), t])));
  torch.dispose(tensors);
  trainSteps(c, x, y, 3);
  expect(paramBytes(c.net).some((p, i) => !p.equals(final[i]!))).toBe(true);
  torch.dispose([x, y]);
}

describe('optimizer state: exact resume', () => {
  it('Adam: stateDict / loadStateDict through a safetensors checkpoint resumes bitwise identically', () => {
    resumeIsExact((ps, fresh) =>
      fresh
        ? new nn.optim.Adam(ps, { lr: 0.5 })
        : new nn.optim.Adam(ps, { lr: 1e-2, betas: [0.5, 0.999], weightDecay: 1e-3 }),
    );
  });

  it('SGD with momentum: the momentum buffers resume bitwise identically', () => {
    resumeIsExact((ps, fresh) =>
      fresh
        ? new nn.optim.SGD(ps, { lr: 1, momentum: 0.1 })
        : new nn.optim.SGD(ps, { lr: 0.05, momentum: 0.9, weightDecay: 1e-3 }),
    );
  });

  it('Adam state holds exp_avg, exp_avg_sq and the step count of every parameter', () => {
    torch.manualSeed(23);
    const net = makeNet();
    const opt = new nn.optim.Adam(net.parameters(), { lr: 1e-3 });
    const x = torch.randn([1, 2, 4, 4]);
    trainSteps({ net, opt }, x, x, 2);
    const { tensors, config } = opt.stateDict();
    expect([...tensors.keys()].sort()).toEqual(
      [0, 1, 2, 3].flatMap((i) => [`state.${i}.exp_avg`, `state.${i}.exp_avg_sq`]).sort(),
    );
    expect(config.kind).toBe('Adam');
    expect(config.steps).toEqual({ 0: 2, 1: 2, 2: 2, 3: 2 });
    expect(config.groups).toEqual([{ hyper: { lr: 1e-3, betas: [0.9, 0.999], eps: 1e-8, weightDecay: 0 }, size: 4 }]);
    const sgd = new nn.optim.SGD(net.parameters(), { lr: 0.1 });
    expect(() => sgd.loadStateDict({ tensors, config })).toThrow(/saved by Adam, loading into SGD/);
    x.dispose();
  });
});

// ---- learning-rate schedules ------------------------------------------------------------------

function lrs(sched: nn.optim.LRScheduler, epochs: number): number[] {
  const out = [sched.optimizer.lr];
  for (let e = 0; e < epochs; e++) {
    sched.step();
    out.push(sched.optimizer.lr);
  }
  return out;
}

function expectLrs(actual: number[], expected: number[]): void {
  expect(actual.length).toBe(expected.length);
  actual.forEach((v, i) => expect(v, `epoch ${i}`).toBeCloseTo(expected[i]!, 12));
}

describe('learning-rate schedulers', () => {
  const param = () => torch.keep(torch.zeros([1], { requiresGrad: true }));

  it('LinearDecayLR: constant, then linear decay to zero (pix2pixHD)', () => {
    const opt = new nn.optim.Adam([param()], { lr: 2e-4 });
    const s = new nn.optim.LinearDecayLR(opt, 2, 4);
    expectLrs(lrs(s, 8), [2e-4, 2e-4, 2e-4, 1.5e-4, 1e-4, 0.5e-4, 0, 0, 0]);
  });

  it('StepLR: gamma every stepSize epochs (values from torch.optim.lr_scheduler.StepLR)', () => {
    const opt = new nn.optim.SGD([param()], { lr: 0.1 });
    expectLrs(lrs(new nn.optim.StepLR(opt, 2, 0.5), 5), [0.1, 0.1, 0.05, 0.05, 0.025, 0.025]);
  });

  it('CosineAnnealingLR: PyTorch values up to tMax, then held at the minimum', () => {
    const opt = new nn.optim.SGD([param()], { lr: 0.1 });
    // torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=4, eta_min=0.01), PyTorch 1.13.
    const torchValues = [0.1, 0.08681980515339464, 0.05500000000000001, 0.023180194846605363, 0.01];
    const values = lrs(new nn.optim.CosineAnnealingLR(opt, 4, 0.1), 6);
    expectLrs(values.slice(0, 5), torchValues);
    expectLrs(values.slice(5), [0.01, 0.01]); // (PyTorch's recursive form would rise again)
  });

  it('schedules every parameter group from its own initial rate, and the optimizer uses the new rate', () => {
    const a = param();
    const b = param();
    const opt = new nn.optim.SGD(
      [
        { params: [a], hyper: { lr: 0.1 } },
        { params: [b], hyper: { lr: 0.01 } },
      ],
      { lr: 1 },
    );
    const s = new nn.optim.StepLR(opt, 1, 0.5);
    expect(s.baseLrs).toEqual([0.1, 0.01]);
    const stepWithGrad = () => {
      a.grad = torch.ones([1]);
      b.grad = torch.ones([1]);
      opt.step();
    };
    stepWithGrad();
    s.step();
    expect(s.lr).toEqual([0.05, 0.005]);
    stepWithGrad();
    expect(a.item()).toBeCloseTo(-0.15, 7);
    expect(b.item()).toBeCloseTo(-0.015, 8);
  });

  it('stateDict / loadStateDict resumes the schedule (through JSON)', () => {
    const opt1 = new nn.optim.Adam([param()], { lr: 2e-4 });
    const s1 = new nn.optim.LinearDecayLR(opt1, 2, 5);
    for (let i = 0; i < 4; i++) s1.step();
    const saved = JSON.parse(JSON.stringify(s1.stateDict()));
    expect(saved).toEqual({ lastEpoch: 4, baseLrs: [2e-4] });
    const opt2 = new nn.optim.Adam([param()], { lr: 2e-4 });
    const s2 = new nn.optim.LinearDecayLR(opt2, 2, 5);
    expect(opt2.lr).toBe(2e-4);
    s2.loadStateDict(saved);
    expect(opt2.lr).toBe(opt1.lr);
    expect(opt2.lr).toBeCloseTo(2e-4 * (1 - 2 / 5), 15);
    expectLrs(lrs(s2, 3), lrs(s1, 3));
    const two = new nn.optim.StepLR(new nn.optim.SGD([{ params: [param()] }, { params: [param()] }], { lr: 1 }), 1);
    expect(() => two.loadStateDict(saved)).toThrow(/1 groups saved, 2 present/);
  });
});

// ---- learning --------------------------------------------------------------------------------

describe('training', () => {
  it('a tiny conv net overfits one 8x8 image to another (MSE below 1% of its start)', () => {
    torch.manualSeed(31);
    const src = torch.keep(torch.rand([1, 1, 8, 8]));
    const dst = torch.keep(torch.rand([1, 1, 8, 8]));
    const net = new nn.Sequential(
      new nn.Conv2d(1, 16, 3, { padding: 1 }),
      new nn.LeakyReLU(0.2),
      new nn.Conv2d(16, 16, 3, { padding: 1 }),
      new nn.LeakyReLU(0.2),
      new nn.Conv2d(16, 1, 3, { padding: 1 }),
    );
    const opt = new nn.optim.Adam(net.parameters(), { lr: 3e-3 });
    const loss = () => torch.tidy(() => torch.noGrad(() => torch.F.mseLoss(net.call(src), dst).item()));
    const initial = loss();
    expect(initial).toBeGreaterThan(0.05);
    let steps = 0;
    for (; steps < 600 && loss() > initial / 100; steps++) {
      torch.tidy(() => {
        opt.zeroGrad();
        torch.F.mseLoss(net.call(src), dst).backward();
        opt.step();
      });
    }
    const final = loss();
    expect(final, `MSE ${initial} -> ${final} after ${steps} steps`).toBeLessThan(initial / 100);
    expect(steps).toBeGreaterThan(10);
    torch.dispose([src, dst]);
  });
});

describe('Module.to with a parametrization', () => {
  it('recomputes a spectral-norm weight from the converted tensors', () => {
    const conv = nn.spectralNorm(new nn.Conv2d(2, 3, 3));
    conv.call(torch.randn([1, 2, 5, 5]));
    expect(conv.param('weight').dtype).toBe('float32');
    conv.to('float64');
    expect(conv.param('weight').dtype).toBe('float64');
    expect(conv.call(torch.randn([1, 2, 5, 5], { dtype: 'float64' })).dtype).toBe('float64');
  });
});
