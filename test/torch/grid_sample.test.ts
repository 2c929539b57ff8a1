// affineGrid and gridSample against PyTorch's values, their gradients, and Tensor.rot90.
// Expected numbers from this machine's PyTorch (F.grid_sample / F.affine_grid on the float64
// inputs below), computed when the file loads.
import { beforeEach, describe, expect, it } from 'vitest';
import * as torch from '../../src/torch/index.js';
import type { Tensor } from '../../src/torch/index.js';
import { describeGradcheck, gradcheck } from '../helpers/gradcheck.js';
import { needPython, pythonJson } from '../helpers/python.js';

const { F } = torch;

const INPUT = [
  [
    [0.5, -1.25, 2.0, 0.75],
    [1.5, -0.5, 0.25, -2.0],
    [3.0, 1.0, -1.5, 0.125],
  ],
  [
    [-0.3, 0.9, 1.7, -2.2],
    [0.4, -1.1, 2.6, 0.8],
    [-0.7, 1.3, 0.05, -0.9],
  ],
];
const GRID = [
  [
    [-0.83, -0.61],
    [0.12, 0.37],
    [1.27, -0.44],
  ],
  [
    [-1.18, 0.91],
    [0.58, -1.33],
    [0.29, 0.71],
  ],
];
const MODES = ['bilinear', 'nearest', 'bicubic'] as const;
const PADDINGS = ['zeros', 'border', 'reflection'] as const;
const THETA = [
  [0.9, -0.2, 0.1],
  [0.3, 1.1, -0.25],
];

// PyTorch's values, computed on this machine by /usr/bin/python3 (float64 throughout).
const HAS_TORCH = needPython('grid_sample.test.ts', 'the comparisons with PyTorch', 'torch', 'python3-torch');
const EXPECTED: Record<string, number[]> = HAS_TORCH
  ? pythonJson(
      `
import json, sys, torch, torch.nn.functional as F
a = json.load(sys.stdin)
inp = torch.tensor([a['input']], dtype=torch.float64)
grid = torch.tensor([a['grid']], dtype=torch.float64)
out = {}
for m in a['modes']:
    for p in a['paddings']:
        for c in (False, True):
            out[f"{m}/{p}/{'true' if c else 'false'}"] = F.grid_sample(inp, grid, mode=m, padding_mode=p, align_corners=c).flatten().tolist()
for c in (False, True):
    out[f"affine/{'true' if c else 'false'}"] = F.affine_grid(torch.tensor([a['theta']], dtype=torch.float64), [1, 1, 2, 3], align_corners=c).flatten().tolist()
print(json.dumps(out))`,
      { input: INPUT, grid: GRID, modes: MODES, paddings: PADDINGS, theta: THETA },
    )
  : {};

function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tol: number, what = ''): void {
  expect(actual.length, what).toBe(expected.length);
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i]!;
    const e = expected[i]!;
    if (!(Math.abs(a - e) <= tol))
      throw new Error(`${what} element ${i}: ${a} != ${e} (tol ${tol}); got [${Array.from(actual).join(', ')}]`);
  }
}

const input = (dtype: 'float32' | 'float64' = 'float64'): Tensor => torch.tensor([INPUT], { dtype });
const grid = (dtype: 'float32' | 'float64' = 'float64'): Tensor => torch.tensor([GRID], { dtype });

beforeEach(() => {
  torch.manualSeed(7);
});

describe('gridSample', () => {
  for (const mode of MODES) {
    for (const paddingMode of PADDINGS) {
      for (const alignCorners of [false, true]) {
        const key = `${mode}/${paddingMode}/${alignCorners}`;
        it.skipIf(!HAS_TORCH)(`matches PyTorch: ${key}`, () => {
          torch.tidy(() => {
            const out = F.gridSample(input(), grid(), { mode, paddingMode, alignCorners });
            expect(out.shape).toEqual([1, 2, 2, 3]);
            expect(out.dtype).toBe('float64');
            expectClose(out.toArray(), EXPECTED[key]!, 1e-9, key);
            // float32 too, at float32 precision.
            expectClose(
              F.gridSample(input('float32'), grid('float32'), { mode, paddingMode, alignCorners }).toArray(),
              EXPECTED[key]!,
              2e-5,
              key,
            );
          });
        });
      }
    }
  }

  it.skipIf(!HAS_TORCH)('defaults to bilinear, zero padding, alignCorners false', () => {
    torch.tidy(() => expectClose(F.gridSample(input(), grid()).toArray(), EXPECTED['bilinear/zeros/false']!, 1e-9));
  });

  it('the identity affine grid reproduces the input (bilinear, alignCorners false)', () => {
    torch.tidy(() => {
      const x = torch.randn([2, 3, 5, 7]);
      const theta = torch.tensor([
        [
          [1, 0, 0],
          [0, 1, 0],
        ],
        [
          [1, 0, 0],
          [0, 1, 0],
        ],
      ]);
      const g = F.affineGrid(theta, [2, 3, 5, 7]);
      expect(g.shape).toEqual([2, 5, 7, 2]);
      for (const paddingMode of PADDINGS) {
        const y = F.gridSample(x, g, { paddingMode });
        expect(y.shape).toEqual([2, 3, 5, 7]);
        expectClose(y.toArray(), x.toArray(), 1e-5, paddingMode);
      }
      // Nearest reproduces it exactly.
      expect(F.gridSample(x, g, { mode: 'nearest' }).toArray()).toEqual(x.toArray());
    });
  });

  it('samples a different output size than the input', () => {
    torch.tidy(() => {
      const x = torch.randn([1, 2, 4, 4]);
      const g = F.affineGrid(
        torch.tensor([
          [
            [1, 0, 0],
            [0, 1, 0],
          ],
        ]),
        [1, 2, 8, 6],
      );
      expect(F.gridSample(x, g).shape).toEqual([1, 2, 8, 6]);
    });
  });

  it('rejects bad shapes, dtypes and options with clear errors', () => {
    torch.tidy(() => {
      const x = input();
      const g = grid();
      expect(() => F.gridSample(x.reshape(2, 3, 4), g)).toThrow(/input must be 4-D \[N, C, H, W\]/);
      expect(() => F.gridSample(x, g.slice(3, 0, 1))).toThrow(/grid must be \[N, Ho, Wo, 2\]/);
      expect(() => F.gridSample(x, torch.cat([g, g]))).toThrow(/batch sizes differ \(1 and 2\)/);
      expect(() => F.gridSample(x, grid('float32'))).toThrow(/share one floating dtype/);
      expect(() => F.gridSample(x.to('int64'), g.to('int64'))).toThrow(/floating dtype/);
      expect(() => F.gridSample(x, g, { mode: 'area' as 'bilinear' })).toThrow(/unknown mode 'area'/);
      expect(() => F.gridSample(x, g, { paddingMode: 'wrap' as 'zeros' })).toThrow(/unknown paddingMode 'wrap'/);
    });
  });
});

describe('affineGrid', () => {
  for (const alignCorners of [false, true]) {
    it.skipIf(!HAS_TORCH)(`matches PyTorch: alignCorners ${alignCorners}`, () => {
      torch.tidy(() => {
        const g = F.affineGrid(torch.tensor([THETA], { dtype: 'float64' }), [1, 1, 2, 3], alignCorners);
        expect(g.shape).toEqual([1, 2, 3, 2]);
        expectClose(g.toArray(), EXPECTED[`affine/${alignCorners}`]!, 1e-12);
      });
    });
  }

  it('rejects bad theta and sizes with clear errors', () => {
    torch.tidy(() => {
      const theta = torch.tensor([THETA]);
      expect(() => F.affineGrid(theta.reshape(2, 3), [1, 1, 2, 3])).toThrow(/theta must be \[N, 2, 3\]/);
      expect(() => F.affineGrid(torch.zeros([1, 3, 3]), [1, 1, 2, 3])).toThrow(/theta must be \[N, 2, 3\]/);
      expect(() => F.affineGrid(theta, [1, 2, 3] as unknown as [number, number, number, number])).toThrow(
        /size must be \[N, C, H, W\]/,
      );
      expect(() => F.affineGrid(theta, [2, 1, 2, 3])).toThrow(/size\[0\] \(2\) must equal theta's batch size \(1\)/);
      expect(() => F.affineGrid(theta.to('int64'), [1, 1, 2, 3])).toThrow(/floating point/);
    });
  });
});

describe('gradients', () => {
  function check(fn: (...inputs: Tensor[]) => Tensor, inputs: Tensor[]): void {
    (globalThis as { gc?: () => void }).gc?.();
    const before = torch.liveTensors();
    const r = gradcheck(fn, inputs);
    expect(r.ok, describeGradcheck(r)).toBe(true);
    expect(r.analytical.flat().some((v) => Math.abs(v) > 1e-8)).toBe(true);
    expect(torch.liveTensors()).toBe(before);
  }

  for (const mode of ['bilinear', 'bicubic'] as const) {
    for (const paddingMode of PADDINGS) {
      for (const alignCorners of [false, true]) {
        it(`gridSample ${mode}/${paddingMode}/alignCorners ${alignCorners} w.r.t. input and grid`, () => {
          const x = input().requiresGrad_();
          const g = grid().requiresGrad_();
          check((a, b) => F.gridSample(a, b, { mode, paddingMode, alignCorners }), [x, g]);
          torch.dispose([x, g]);
        });
      }
    }
  }

  it('gridSample nearest w.r.t. input (the grid gets no gradient)', () => {
    const x = input().requiresGrad_();
    check((a) => F.gridSample(a, grid(), { mode: 'nearest', paddingMode: 'border' }), [x]);
    x.dispose();
  });

  it('affineGrid then gridSample w.r.t. theta', () => {
    const theta = torch.tensor([THETA], { dtype: 'float64' }).requiresGrad_();
    const x = input();
    check((t) => F.gridSample(x, F.affineGrid(t, [1, 2, 3, 4]), { paddingMode: 'border' }), [theta]);
    torch.dispose([theta, x]);
  });
});

describe('rot90', () => {
  it('matches PyTorch on a matrix', () => {
    torch.tidy(() => {
      const x = torch.arange(6).reshape(2, 3);
      expect(x.rot90().toArray()).toEqual([2, 5, 1, 4, 0, 3]);
      expect(x.rot90().shape).toEqual([3, 2]);
      expect(x.rot90(-1, [0, 1]).toArray()).toEqual([3, 0, 4, 1, 5, 2]);
      expect(x.rot90(2, [1, 0]).toArray()).toEqual([5, 4, 3, 2, 1, 0]);
    });
  });

  it('equals flips and transposes on the last two dimensions of a batch', () => {
    torch.tidy(() => {
      const x = torch.randn([2, 3, 4, 5]);
      const same = (a: Tensor, b: Tensor): void => {
        expect(a.shape).toEqual(b.shape);
        expect(a.toArray()).toEqual(b.toArray());
      };
      same(x.rot90(0, [2, 3]), x);
      same(x.rot90(1, [2, 3]), x.flip(3).transpose(2, 3));
      same(x.rot90(2, [2, 3]), x.flip(2, 3));
      same(x.rot90(3, [2, 3]), x.flip(2).transpose(2, 3));
      same(x.rot90(4, [2, 3]), x);
      same(x.rot90(-1, [2, 3]), x.rot90(3, [2, 3]));
      same(x.rot90(1, [-2, -1]), x.rot90(1, [2, 3]));
      // The opposite plane orientation turns the other way.
      same(x.rot90(1, [3, 2]), x.rot90(3, [2, 3]));
      // Four quarter turns compose to the identity.
      same(x.rot90(1, [2, 3]).rot90(1, [2, 3]).rot90(1, [2, 3]).rot90(1, [2, 3]), x);
    });
  });

  it('rejects bad k and dims', () => {
    torch.tidy(() => {
      const x = torch.zeros([2, 3, 4]);
      expect(() => x.rot90(1.5)).toThrow(/k must be an integer/);
      expect(() => x.rot90(1, [1, 1])).toThrow(/two different dimensions/);
      expect(() => x.rot90(1, [1, -2])).toThrow(/two different dimensions/);
      expect(() => x.rot90(1, [0, 3])).toThrow(/two different dimensions of a 3-D tensor/);
    });
  });
});
