// GradScaler: hand-computed cases of torch.cuda.amp.GradScaler's rules (scaling, exact unscaling,
// skipped steps and backoff on inf/NaN, growth after growthInterval clean steps, the float32 cap),
// a scripted sequence of clean and overflowing steps against the scale and tracker PyTorch's
// _amp_update_scale_ gives, a state round trip through JSON, misuse errors, and disabled passthrough.
import { describe, expect, it } from 'vitest';
import * as torch from '../../src/torch/index.js';
import type { Tensor } from '../../src/torch/index.js';
import { GradScaler, SGD } from '../../src/nn/optim/index.js';

function param(values: number[]): Tensor {
  return torch.tensor(values).requiresGrad_();
}

/** One training step of loss = sum(p * x): the gradient of p is x (times the scale before unscaling). */
function step(scaler: GradScaler, opt: SGD, p: Tensor, x: number[]): boolean {
  opt.zeroGrad();
  torch.tidy(() => scaler.scale(p.mul(torch.tensor(x)).sum()).backward());
  const stepped = scaler.step(opt);
  scaler.update();
  return stepped;
}

const CLEAN = [1, -2, 0.5];
const INF = [1, Infinity, 0.5];
const NAN = [NaN, -2, 0.5];

describe('GradScaler', () => {
  it('scales the loss, and unscale divides the gradients by the scale exactly', () => {
    const scaler = new GradScaler();
    expect(scaler.getScale()).toBe(65536);
    const p = param([0.25, 0.5, -1]);
    const opt = new SGD([p], { lr: 0.1 });
    const loss = p.mul(torch.tensor(CLEAN)).sum();
    const scaled = scaler.scale(loss);
    expect(scaled.item()).toBe(loss.item() * 65536);
    scaled.backward();
    expect(p.grad!.toArray()).toEqual(CLEAN.map((v) => v * 65536));
    scaler.unscale(opt);
    expect(p.grad!.toArray()).toEqual(CLEAN);
    // step() after unscale() does not unscale again; the update uses the true gradients.
    expect(scaler.step(opt)).toBe(true);
    const expected = [0.25, 0.5, -1].map((v, i) => v - 0.1 * CLEAN[i]!);
    p.toArray().forEach((v, i) => expect(v).toBeCloseTo(expected[i]!, 6));
    scaler.update();
    expect(scaler.stateDict()).toEqual({ scale: 65536, growthTracker: 1 });
  });

  it('unscales by the float32 reciprocal of a scale that is not a power of two, as PyTorch', () => {
    const scaler = new GradScaler({ initScale: 1000 });
    const x = [0.1, 3, -7.3];
    const p = param([0, 0, 0]);
    const opt = new SGD([p], { lr: 1 });
    scaler.scale(p.mul(torch.tensor(x)).sum()).backward();
    scaler.unscale(opt);
    const inv = Math.fround(1 / 1000);
    expect(p.grad!.toArray()).toEqual(x.map((v) => Math.fround(Math.fround(Math.fround(v) * 1000) * inv)));
  });

  it('scales a bfloat16 loss in float32 (65536 times a 16-bit loss must not overflow)', () => {
    const scaler = new GradScaler();
    const loss = torch.tensor([3]).to('bfloat16').sum();
    const scaled = scaler.scale(loss);
    expect(scaled.dtype).toBe('float32');
    expect(scaled.item()).toBe(3 * 65536);
  });

  it('skips the step on an inf or NaN gradient, halves the scale and resets the clean-step count', () => {
    for (const bad of [INF, NAN]) {
      const scaler = new GradScaler({ growthInterval: 5 });
      const p = param([0.25, 0.5, -1]);
      const opt = new SGD([p], { lr: 0.1 });
      expect(step(scaler, opt, p, CLEAN)).toBe(true);
      expect(step(scaler, opt, p, CLEAN)).toBe(true);
      expect(scaler.stateDict()).toEqual({ scale: 65536, growthTracker: 2 });
      const before = p.toArray();
      expect(step(scaler, opt, p, bad)).toBe(false);
      expect(p.toArray()).toEqual(before);
      expect(scaler.stateDict()).toEqual({ scale: 32768, growthTracker: 0 });
    }
  });

  it('grows the scale after growthInterval clean steps in a row, and never past float32', () => {
    const scaler = new GradScaler({ initScale: 8, growthInterval: 3, growthFactor: 4 });
    const p = param([1, 1, 1]);
    const opt = new SGD([p], { lr: 0.01 });
    const seen = [];
    for (let i = 0; i < 7; i++) {
      step(scaler, opt, p, CLEAN);
      seen.push(scaler.stateDict());
    }
    expect(seen).toEqual([
      { scale: 8, growthTracker: 1 },
      { scale: 8, growthTracker: 2 },
      { scale: 32, growthTracker: 0 },
      { scale: 32, growthTracker: 1 },
      { scale: 32, growthTracker: 2 },
      { scale: 128, growthTracker: 0 },
      { scale: 128, growthTracker: 1 },
    ]);
    const top = new GradScaler({ initScale: 2 ** 127, growthInterval: 1 });
    const q = param([1e-30, 0, 0]);
    step(top, new SGD([q], { lr: 0 }), q, [1e-30, 0, 0]);
    expect(top.stateDict()).toEqual({ scale: 2 ** 127, growthTracker: 0 });
  });

  it("follows PyTorch's update rule over a scripted sequence of clean and overflowing steps", () => {
    // _amp_update_scale_: an inf -> scale *= backoff, tracker = 0; else tracker + 1, and at
    // growthInterval scale *= growth, tracker = 0. Written out by hand for interval 3.
    const script: [number[], boolean, number, number][] = [
      // gradient, stepped, scale after update(), tracker after update()
      [CLEAN, true, 65536, 1],
      [CLEAN, true, 65536, 2],
      [CLEAN, true, 131072, 0],
      [INF, false, 65536, 0],
      [CLEAN, true, 65536, 1],
      [NAN, false, 32768, 0],
      [INF, false, 16384, 0],
      [CLEAN, true, 16384, 1],
      [CLEAN, true, 16384, 2],
      [CLEAN, true, 32768, 0],
      [CLEAN, true, 32768, 1],
    ];
    const scaler = new GradScaler({ growthInterval: 3 });
    const p = param([0.5, -0.5, 2]);
    const opt = new SGD([p], { lr: 0.125, momentum: 0.5 });
    let stepsTaken = 0;
    for (const [i, [x, stepped, scale, tracker]] of script.entries()) {
      const got = step(scaler, opt, p, x);
      expect({ i, stepped: got, ...scaler.stateDict() }).toEqual({ i, stepped, scale, growthTracker: tracker });
      if (got) stepsTaken++;
    }
    // The parameters saw only the clean steps: SGD with momentum on the constant gradient CLEAN.
    let buf = 0;
    let total = 0;
    for (let k = 0; k < stepsTaken; k++) {
      buf = k === 0 ? 1 : buf * 0.5 + 1;
      total += buf;
    }
    p.toArray().forEach((v, j) => expect(v).toBeCloseTo([0.5, -0.5, 2][j]! - 0.125 * total * CLEAN[j]!, 5));
  });

  it('backs off once when one of two optimizers overflows; the clean one still steps', () => {
    const scaler = new GradScaler();
    const a = param([1, 2, 3]);
    const b = param([1, 2, 3]);
    const optA = new SGD([a], { lr: 1 });
    const optB = new SGD([b], { lr: 1 });
    scaler
      .scale(
        a
          .mul(torch.tensor(CLEAN))
          .sum()
          .add(b.mul(torch.tensor(INF)).sum()),
      )
      .backward();
    expect(scaler.step(optA)).toBe(true);
    expect(scaler.step(optB)).toBe(false);
    expect(a.toArray()).toEqual([0, 4, 2.5]);
    expect(b.toArray()).toEqual([1, 2, 3]);
    scaler.update();
    expect(scaler.stateDict()).toEqual({ scale: 32768, growthTracker: 0 });
  });

  it('round-trips its state through JSON and continues identically', () => {
    const run = (s: GradScaler, p: Tensor, opt: SGD, xs: number[][]) =>
      xs.map((x) => (step(s, opt, p, x), s.stateDict()));
    const a = new GradScaler({ growthInterval: 2 });
    const pa = param([1, 1, 1]);
    const optA = new SGD([pa], { lr: 0.01 });
    run(a, pa, optA, [CLEAN, INF, CLEAN]);
    const saved = JSON.parse(JSON.stringify(a.stateDict())) as ReturnType<GradScaler['stateDict']>;
    expect(saved).toEqual({ scale: 32768, growthTracker: 1 });
    const b = new GradScaler({ growthInterval: 2 });
    b.loadStateDict(saved);
    const pb = param([1, 1, 1]);
    const rest = [CLEAN, CLEAN, INF, CLEAN, CLEAN];
    const resumed = run(b, pb, new SGD([pb], { lr: 0.01 }), rest);
    expect(resumed).toEqual(run(a, pa, optA, rest));
    expect(resumed).toEqual([
      { scale: 65536, growthTracker: 0 },
      { scale: 65536, growthTracker: 1 },
      { scale: 32768, growthTracker: 0 },
      { scale: 32768, growthTracker: 1 },
      { scale: 65536, growthTracker: 0 },
    ]);
    for (const bad of [
      { scale: 0, growthTracker: 0 },
      { scale: 'x', growthTracker: 0 },
      { scale: 1, growthTracker: 1.5 },
      { scale: Infinity, growthTracker: 0 },
      null,
    ]) {
      expect(() => b.loadStateDict(bad as never)).toThrow(/GradScaler.loadStateDict: (scale|growthTracker)/);
    }
  });

  it('refuses misuse with errors that say what to do', () => {
    const scaler = new GradScaler();
    const p = param([1, 2, 3]);
    const opt = new SGD([p], { lr: 0.1 });
    expect(() => scaler.unscale(opt)).toThrow(/none of the optimizer's parameters has a gradient/);
    expect(() => scaler.update()).toThrow(/call step\(optimizer\) first/);
    scaler.scale(p.sum()).backward();
    scaler.unscale(opt);
    expect(() => scaler.unscale(opt)).toThrow(/already called/);
    scaler.step(opt);
    expect(() => scaler.step(opt)).toThrow(/already called/);
    expect(() => scaler.unscale(opt)).toThrow(/after step\(\)/);
    scaler.update();
    const h = torch.zeros([2], { dtype: 'float16' }).requiresGrad_();
    h.grad = torch.ones([2], { dtype: 'float16' });
    expect(() => scaler.unscale(new SGD([h], { lr: 0.1 }))).toThrow(/float16/);
    expect(() => new GradScaler({ growthFactor: 1 })).toThrow(/growthFactor/);
    expect(() => new GradScaler({ backoffFactor: 1 })).toThrow(/backoffFactor/);
    expect(() => new GradScaler({ growthInterval: 0 })).toThrow(/growthInterval/);
    expect(() => new GradScaler({ initScale: 0 })).toThrow(/initScale/);
  });

  it('passes everything through when disabled', () => {
    const scaler = new GradScaler({ enabled: false });
    expect(scaler.getScale()).toBe(1);
    const p = param([1, 2, 3]);
    const opt = new SGD([p], { lr: 1 });
    const loss = p.mul(torch.tensor(CLEAN)).sum();
    expect(scaler.scale(loss)).toBe(loss);
    loss.backward();
    scaler.unscale(opt);
    expect(p.grad!.toArray()).toEqual(CLEAN);
    expect(scaler.step(opt)).toBe(true);
    expect(p.toArray()).toEqual([0, 4, 2.5]);
    scaler.update();
    scaler.update();
    expect(scaler.stateDict()).toEqual({ scale: 65536, growthTracker: 0 });
    // Even an overflowing gradient steps (no checks at all).
    opt.zeroGrad();
    p.mul(torch.tensor(INF)).sum().backward();
    expect(scaler.step(opt)).toBe(true);
    expect(p.toArray()[1]).toBe(-Infinity);
  });
});
