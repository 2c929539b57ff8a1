// Parity with PyTorch: layer outputs, gradients, optimizer trajectories and state dicts computed
// by this machine's PyTorch (test/fixtures/make_fixtures.py, run by the global set-up) and reproduced by dermosynth's nn layer.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as torch from '../../src/torch/index.js';
import * as nn from '../../src/nn/index.js';
import type { Tensor } from '../../src/torch/index.js';
import { TORCH_FIXTURES_MISSING, torchFixture } from '../helpers/torch_fixtures.js';

if (TORCH_FIXTURES_MISSING) console.warn(`parity.test.ts: skipped: ${TORCH_FIXTURES_MISSING}`);

type Fixture = Map<string, Tensor>;
const loaded: Fixture[] = [];

async function fixture(name: string): Promise<Fixture> {
  const { tensors } = await torch.loadSafetensors(torchFixture(name));
  for (const t of tensors.values()) torch.keep(t);
  loaded.push(tensors);
  return tensors;
}

function get(f: Fixture, name: string): Tensor {
  const t = f.get(name);
  if (!t) throw new Error(`fixture has no tensor '${name}' (has: ${[...f.keys()].join(', ')})`);
  return t;
}

/** The entries whose name starts with `prefix`, with the prefix removed. */
function withPrefix(f: Fixture, prefix: string): Map<string, Tensor> {
  return new Map([...f].filter(([k]) => k.startsWith(prefix)).map(([k, v]) => [k.slice(prefix.length), v]));
}

function values(t: Tensor): number[] {
  return t.dtype === 'float64' ? Array.from(t.data() as Float64Array) : t.to('float64').toArray();
}

/**
 * Asserts |actual - expected| <= atol + rtol * |expected| elementwise, with `atol` relative to the
 * largest expected magnitude (scale * max|expected|) unless given absolutely.
 */
function expectClose(actual: Tensor, expected: Tensor, label: string, rtol = 1e-5, scaleAtol = rtol): void {
  expect(actual.shape, `${label}: shape`).toEqual(expected.shape);
  const a = values(actual);
  const e = values(expected);
  const scale = e.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
  expect(scale, `${label}: the reference is all zeros`).toBeGreaterThan(0);
  const atol = scaleAtol * scale;
  let worst = -Infinity;
  let at = -1;
  for (let i = 0; i < e.length; i++) {
    const excess = Math.abs(a[i]! - e[i]!) - (atol + rtol * Math.abs(e[i]!));
    if (!(excess <= worst) || Number.isNaN(a[i]!)) {
      worst = Number.isNaN(a[i]!) ? Infinity : excess;
      at = i;
    }
  }
  if (worst > 0) {
    expect.fail(`${label}: element ${at} is ${a[at]}, PyTorch gives ${e[at]} (tolerance ${atol} + ${rtol} relative)`);
  }
}

function loadInto(m: nn.Module<any, any>, state: Map<string, Tensor>): void {
  m.loadStateDict(state, { strict: true });
}

beforeAll(() => {
  torch.setNumThreads(1);
});
afterAll(() => {
  for (const f of loaded) torch.dispose(f);
});

describe.skipIf(TORCH_FIXTURES_MISSING !== null)('conv2d matches PyTorch', () => {
  let f: Fixture;
  beforeAll(async () => {
    f = await fixture('conv2d.safetensors');
  });

  it('F.conv2d: plain, stride 2 padding 1, dilation 2, asymmetric, no bias, groups 2', () => {
    torch.tidy(() => {
      const x = get(f, 'input');
      const w = get(f, 'weight');
      const b = get(f, 'bias');
      expectClose(torch.F.conv2d(x, w, b), get(f, 'out_plain'), 'plain');
      expectClose(torch.F.conv2d(x, w, b, { stride: 2, padding: 1 }), get(f, 'out_stride2_pad1'), 'stride 2 padding 1');
      expectClose(torch.F.conv2d(x, w, b, { dilation: 2, padding: 2 }), get(f, 'out_dilation2_pad2'), 'dilation 2');
      expectClose(torch.F.conv2d(x, w, b, { stride: [2, 1], padding: [0, 1] }), get(f, 'out_asym'), 'asymmetric');
      expectClose(torch.F.conv2d(x, w, null, { padding: 1 }), get(f, 'out_nobias'), 'no bias');
      expectClose(
        torch.F.conv2d(get(f, 'input6'), get(f, 'weight_groups'), get(f, 'bias_groups'), { padding: 1, groups: 2 }),
        get(f, 'out_groups2'),
        'groups 2',
      );
    });
  });

  it('nn.Conv2d with loaded weights, including reflect padding, groups and no bias', () => {
    torch.tidy(() => {
      const x = get(f, 'input');
      const state = { weight: get(f, 'weight'), bias: get(f, 'bias') };
      const cases: [nn.Conv2d, string][] = [
        [new nn.Conv2d(3, 4, 3, { stride: 2, padding: 1 }), 'out_stride2_pad1'],
        [new nn.Conv2d(3, 4, 3, { dilation: 2, padding: 2 }), 'out_dilation2_pad2'],
        [new nn.Conv2d(3, 4, 3, { padding: 1, paddingMode: 'reflect' }), 'out_reflect'],
      ];
      for (const [conv, out] of cases) {
        loadInto(conv, new Map(Object.entries(state)));
        expectClose(conv.call(x), get(f, out), `nn.Conv2d ${out}`);
      }
      const grouped = new nn.Conv2d(6, 6, 3, { padding: 1, groups: 2 });
      loadInto(
        grouped,
        new Map([
          ['weight', get(f, 'weight_groups')],
          ['bias', get(f, 'bias_groups')],
        ]),
      );
      expectClose(grouped.call(get(f, 'input6')), get(f, 'out_groups2'), 'nn.Conv2d groups 2');
      const nobias = new nn.Conv2d(3, 4, 3, { padding: 1, bias: false });
      expect([...nobias.stateDict().keys()]).toEqual(['weight']);
      loadInto(nobias, new Map([['weight', get(f, 'weight')]]));
      expectClose(nobias.call(x), get(f, 'out_nobias'), 'nn.Conv2d no bias');
    });
  });

  it('gradients of (conv2d(x, w, b, stride 2, padding 1) * R).sum() w.r.t. input, weight and bias', () => {
    torch.tidy(() => {
      const x = get(f, 'input').clone().requiresGrad_();
      const w = get(f, 'weight').clone().requiresGrad_();
      const b = get(f, 'bias').clone().requiresGrad_();
      torch.F.conv2d(x, w, b, { stride: 2, padding: 1 }).mul(get(f, 'grad_r')).sum().backward();
      expectClose(x.grad!, get(f, 'grad_input'), 'grad input');
      expectClose(w.grad!, get(f, 'grad_weight'), 'grad weight');
      expectClose(b.grad!, get(f, 'grad_bias'), 'grad bias');
    });
  });
});

describe.skipIf(TORCH_FIXTURES_MISSING !== null)('convTranspose2d matches PyTorch', () => {
  let f: Fixture;
  beforeAll(async () => {
    f = await fixture('conv_transpose2d.safetensors');
  });

  it('F.convTranspose2d: stride 2 padding 1 output padding 1, plain, groups 2, dilation 2', () => {
    torch.tidy(() => {
      const x = get(f, 'input');
      const w = get(f, 'weight');
      const b = get(f, 'bias');
      const out = torch.F.convTranspose2d(x, w, b, { stride: 2, padding: 1, outputPadding: 1 });
      expect(out.shape).toEqual([2, 3, 10, 8]);
      expectClose(out, get(f, 'out_stride2_pad1_outpad1'), 'stride 2 padding 1 output padding 1');
      expectClose(torch.F.convTranspose2d(x, w, b), get(f, 'out_plain'), 'plain');
      expectClose(
        torch.F.convTranspose2d(x, get(f, 'weight_groups'), get(f, 'bias_groups'), { stride: 2, groups: 2 }),
        get(f, 'out_groups2'),
        'groups 2',
      );
      expectClose(
        torch.F.convTranspose2d(x, w, null, { dilation: 2, padding: 1 }),
        get(f, 'out_dilation2'),
        'dilation 2',
      );
    });
  });

  it('nn.ConvTranspose2d with loaded weights', () => {
    torch.tidy(() => {
      const up = new nn.ConvTranspose2d(4, 3, 3, { stride: 2, padding: 1, outputPadding: 1 });
      loadInto(
        up,
        new Map([
          ['weight', get(f, 'weight')],
          ['bias', get(f, 'bias')],
        ]),
      );
      expectClose(up.call(get(f, 'input')), get(f, 'out_stride2_pad1_outpad1'), 'nn.ConvTranspose2d');
      const grouped = new nn.ConvTranspose2d(4, 4, 3, { stride: 2, groups: 2 });
      expect(grouped.param('weight').shape).toEqual([4, 2, 3, 3]);
      loadInto(
        grouped,
        new Map([
          ['weight', get(f, 'weight_groups')],
          ['bias', get(f, 'bias_groups')],
        ]),
      );
      expectClose(grouped.call(get(f, 'input')), get(f, 'out_groups2'), 'nn.ConvTranspose2d groups 2');
    });
  });
});

describe.skipIf(TORCH_FIXTURES_MISSING !== null)('InstanceNorm2d matches PyTorch', () => {
  let f: Fixture;
  beforeAll(async () => {
    f = await fixture('instance_norm.safetensors');
  });

  it('affine: values and gradients of (out * R).sum() for input, weight and bias', () => {
    torch.tidy(() => {
      const norm = new nn.InstanceNorm2d(3, { affine: true });
      loadInto(
        norm,
        new Map([
          ['weight', get(f, 'weight')],
          ['bias', get(f, 'bias')],
        ]),
      );
      const x = get(f, 'input').clone().requiresGrad_();
      const y = norm.call(x);
      expectClose(y, get(f, 'out_affine'), 'affine output');
      y.mul(get(f, 'r')).sum().backward();
      expectClose(x.grad!, get(f, 'grad_input_affine'), 'affine grad input', 1e-5, 1e-5);
      expectClose(norm.param('weight').grad!, get(f, 'grad_weight'), 'grad weight');
      expectClose(norm.param('bias').grad!, get(f, 'grad_bias'), 'grad bias');
    });
  });

  it('without affine: values and input gradient', () => {
    torch.tidy(() => {
      const norm = new nn.InstanceNorm2d(3);
      expect([...norm.stateDict().keys()]).toEqual([]);
      const x = get(f, 'input').clone().requiresGrad_();
      const y = norm.call(x);
      expectClose(y, get(f, 'out_plain'), 'plain output');
      y.mul(get(f, 'r')).sum().backward();
      expectClose(x.grad!, get(f, 'grad_input_plain'), 'plain grad input', 1e-5, 1e-5);
      // The functional form gives the same.
      expectClose(torch.F.instanceNorm(get(f, 'input')), get(f, 'out_plain'), 'F.instanceNorm');
    });
  });

  it('trackRunningStats: running statistics after a training forward, used in eval', () => {
    torch.tidy(() => {
      const norm = new nn.InstanceNorm2d(3, { affine: true, trackRunningStats: true });
      norm.loadStateDict(
        new Map([
          ['weight', get(f, 'weight')],
          ['bias', get(f, 'bias')],
        ]),
        { strict: false },
      );
      norm.train();
      expectClose(norm.call(get(f, 'input')), get(f, 'track_train_out'), 'train output');
      const state = norm.stateDict();
      const expected = withPrefix(f, 'track.');
      expect([...state.keys()].sort()).toEqual([...expected.keys()].sort());
      expectClose(state.get('running_mean')!, get(f, 'track.running_mean'), 'running_mean');
      expectClose(state.get('running_var')!, get(f, 'track.running_var'), 'running_var');
      // PyTorch's InstanceNorm never counts batches (the buffer exists, and stays 0).
      expect(state.get('num_batches_tracked')!.item()).toBe(get(f, 'track.num_batches_tracked').item());
      norm.eval();
      expectClose(norm.call(get(f, 'input2')), get(f, 'track_eval_out'), 'eval output (running stats)');
    });
  });
});

describe.skipIf(TORCH_FIXTURES_MISSING !== null)('optimizers match torch.optim step for step', () => {
  let f: Fixture;
  beforeAll(async () => {
    f = await fixture('adam.safetensors');
  });

  function run(prefix: string, make: (params: Tensor[]) => nn.optim.Optimizer<{ lr: number }>): void {
    const params = [0, 1, 2].map((i) => torch.keep(get(f, `p${i}`).clone().requiresGrad_()));
    const grads = [0, 1, 2].map((i) => get(f, `g${i}`));
    const opt = make(params);
    const steps = grads[0]!.shape[0]!;
    expect(steps).toBe(5);
    for (let s = 0; s < steps; s++) {
      torch.tidy(() => {
        params.forEach((p, i) => (p.grad = grads[i]!.select(0, s).clone()));
        opt.step();
        params.forEach((p, i) => {
          const expected = get(f, `${prefix}.p${i}`).select(0, s);
          // The parameters to 1e-6 relative, and the change since the start (a much smaller
          // number, so a stricter check of the update itself) to 1e-4 of its size.
          expectClose(p, expected, `${prefix} p${i} after step ${s + 1}`, 1e-6, 1e-7);
          const p0 = get(f, `p${i}`);
          expectClose(p.sub(p0), expected.sub(p0), `${prefix} p${i} update after step ${s + 1}`, 1e-4, 1e-5);
        });
      });
    }
    const state = opt.stateDict().tensors;
    const expected = withPrefix(f, `${prefix}.state.`);
    expect([...state.keys()].map((k) => k.replace(/^state\./, '')).sort()).toEqual([...expected.keys()].sort());
    for (const [k, t] of expected) expectClose(state.get(`state.${k}`)!, t, `${prefix} final ${k}`, 1e-6, 1e-7);
    torch.dispose(params);
  }

  it('Adam, lr 2e-4, betas (0.5, 0.999): every intermediate parameter and the final moments', () => {
    run('adam', (ps) => new nn.optim.Adam(ps, { lr: 2e-4, betas: [0.5, 0.999] }));
  });

  it('Adam, lr 1e-3, weight decay 0.01, default betas', () => {
    run('adam_wd', (ps) => new nn.optim.Adam(ps, { lr: 1e-3, weightDecay: 0.01 }));
  });

  it('SGD, momentum 0.9, Nesterov, weight decay 0.01', () => {
    run('sgd', (ps) => new nn.optim.SGD(ps, { lr: 0.1, momentum: 0.9, nesterov: true, weightDecay: 0.01 }));
  });
});

describe.skipIf(TORCH_FIXTURES_MISSING !== null)(
  'PyTorch state dicts load into the identical dermosynth modules',
  () => {
    let f: Fixture;
    beforeAll(async () => {
      f = await fixture('module_state.safetensors');
    });

    const makeSeq = () =>
      new nn.Sequential(
        new nn.Conv2d(3, 4, 3, { padding: 1 }),
        new nn.InstanceNorm2d(4, { affine: true }),
        new nn.LeakyReLU(0.2),
        new nn.Conv2d(4, 2, 3),
        new nn.BatchNorm2d(2),
      );

    it('Sequential: identical state-dict names, and the same eval output', () => {
      torch.tidy(() => {
        const seq = makeSeq();
        const state = withPrefix(f, 'seq.');
        expect([...seq.stateDict().keys()].sort()).toEqual([
          '0.bias',
          '0.weight',
          '1.bias',
          '1.weight',
          '3.bias',
          '3.weight',
          '4.bias',
          '4.num_batches_tracked',
          '4.running_mean',
          '4.running_var',
          '4.weight',
        ]);
        expect([...state.keys()].sort()).toEqual([...seq.stateDict().keys()].sort());
        expect(state.get('4.num_batches_tracked')!.dtype).toBe('int64');
        expect(seq.child('4').buffer('num_batches_tracked')!.dtype).toBe('int64');
        loadInto(seq, state);
        expect(seq.child('4').buffer('num_batches_tracked')!.item()).toBe(1);
        seq.eval();
        const out = torch.noGrad(() => seq.call(get(f, 'seq_input')));
        expectClose(out, get(f, 'seq_eval_output'), 'Sequential eval output');
      });
    });

    it('Sequential: loadModule reads the PyTorch-written state dict file (strict)', async () => {
      const seq = makeSeq();
      const metadata = await nn.loadModule(torchFixture('sequential.safetensors'), seq);
      expect(metadata).toEqual({ format: 'pt' });
      torch.tidy(() => {
        seq.eval();
        expectClose(
          torch.noGrad(() => seq.call(get(f, 'seq_input'))),
          get(f, 'seq_eval_output'),
          'loadModule eval output',
        );
      });
    });

    it('Sequential: a training forward from the same start gives the same output and running statistics', () => {
      torch.tidy(() => {
        const seq = makeSeq();
        loadInto(seq, withPrefix(f, 'seq_init.'));
        expect(seq.child('4').buffer('num_batches_tracked')!.item()).toBe(0);
        seq.train();
        expectClose(seq.call(get(f, 'seq_train_input')), get(f, 'seq_train_output'), 'training output');
        const after = seq.stateDict();
        for (const [k, t] of withPrefix(f, 'seq.')) {
          if (t.dtype === 'int64') expect(after.get(k)!.item(), k).toBe(t.item());
          else expectClose(after.get(k)!, t, `state ${k} after a training forward`);
        }
      });
    });

    it('spectral norm: PyTorch names (weight_orig, weight_u, weight_v) and the same eval output', () => {
      torch.tidy(() => {
        const sn = nn.spectralNorm(new nn.Conv2d(3, 4, 3));
        const state = withPrefix(f, 'sn.');
        expect([...sn.stateDict().keys()].sort()).toEqual(['bias', 'weight_orig', 'weight_u', 'weight_v']);
        expect([...state.keys()].sort()).toEqual(['bias', 'weight_orig', 'weight_u', 'weight_v']);
        loadInto(sn, state);
        sn.eval();
        expectClose(
          torch.noGrad(() => sn.call(get(f, 'sn_input'))),
          get(f, 'sn_eval_output'),
          'spectral norm eval output',
        );
        // Eval does not run power iterations: u and v are unchanged.
        expectClose(sn.buffer('weight_u')!, get(f, 'sn.weight_u'), 'u unchanged in eval', 0, 0);
      });
    });

    it('spectral norm: a training forward runs the same power iteration as PyTorch', () => {
      torch.tidy(() => {
        const sn = nn.spectralNorm(new nn.Conv2d(3, 4, 3));
        loadInto(sn, withPrefix(f, 'sn_pre.'));
        sn.train();
        expectClose(sn.call(get(f, 'sn_train_input')), get(f, 'sn_train_output'), 'spectral norm training output');
        expectClose(sn.buffer('weight_u')!, get(f, 'sn.weight_u'), 'u after one power iteration');
        expectClose(sn.buffer('weight_v')!, get(f, 'sn.weight_v'), 'v after one power iteration');
      });
    });
  },
);
