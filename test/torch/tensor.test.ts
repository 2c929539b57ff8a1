// Values of the tensor engine: creation, dtypes, metadata, broadcasting, reductions, indexing,
// layout, linear algebra, in-place ops, random streams, threads and autograd semantics.
import { afterEach, describe, expect, it } from 'vitest';
import * as torch from '../../src/torch/index.js';
import type { DType, Tensor } from '../../src/torch/index.js';

function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tol = 1e-6): void {
  expect(actual.length).toBe(expected.length);
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i]!;
    const e = expected[i]!;
    if (Math.abs(a - e) > tol)
      throw new Error(`element ${i}: ${a} != ${e} (tol ${tol}); got [${Array.from(actual).join(', ')}]`);
  }
}

const i64 = (values: number[] | number[][]): Tensor => torch.tensor(values, { dtype: 'int64' });

describe('creation', () => {
  it('zeros, ones and full: values, shapes and default float32', () => {
    const z = torch.zeros([2, 3]);
    expect(z.dtype).toBe('float32');
    expect(z.shape).toEqual([2, 3]);
    expect(z.toArray()).toEqual([0, 0, 0, 0, 0, 0]);
    const o = torch.ones([3], { dtype: 'int64' });
    expect(o.dtype).toBe('int64');
    expect(Array.from(o.data() as BigInt64Array)).toEqual([1n, 1n, 1n]);
    const f = torch.full([2, 2], 3.5, { dtype: 'float64' });
    expect(f.dtype).toBe('float64');
    expect(f.toArray()).toEqual([3.5, 3.5, 3.5, 3.5]);
    expect(torch.full([1], -7).toArray()).toEqual([-7]);
    // A 0-d tensor has one element.
    const s = torch.zeros([]);
    expect(s.shape).toEqual([]);
    expect(s.numel).toBe(1);
  });

  it('zerosLike, onesLike and fullLike keep shape and dtype unless told otherwise', () => {
    const t = torch.ones([2, 3], { dtype: 'float64' });
    const z = torch.zerosLike(t);
    expect([z.shape, z.dtype, z.toArray()]).toEqual([[2, 3], 'float64', [0, 0, 0, 0, 0, 0]]);
    const o = torch.onesLike(t, { dtype: 'int64' });
    expect(o.dtype).toBe('int64');
    expect(torch.fullLike(t, 2.25).toArray()).toEqual([2.25, 2.25, 2.25, 2.25, 2.25, 2.25]);
  });

  it('arange infers int64 from integer arguments and float32 otherwise', () => {
    const a = torch.arange(5);
    expect(a.dtype).toBe('int64');
    expect(a.toArray()).toEqual([0, 1, 2, 3, 4]);
    const b = torch.arange(2, 11, 3);
    expect(b.dtype).toBe('int64');
    expect(b.toArray()).toEqual([2, 5, 8]);
    const c = torch.arange(0, 1, 0.25);
    expect(c.dtype).toBe('float32');
    expect(c.toArray()).toEqual([0, 0.25, 0.5, 0.75]);
    const d = torch.arange(3, undefined, 1, { dtype: 'float64' });
    expect(d.dtype).toBe('float64');
    expect(d.toArray()).toEqual([0, 1, 2]);
    expect(torch.arange(5, 0, -2).toArray()).toEqual([5, 3, 1]);
  });

  it('linspace and eye', () => {
    const l = torch.linspace(-1, 1, 5);
    expect(l.dtype).toBe('float32');
    expectClose(l.toArray(), [-1, -0.5, 0, 0.5, 1]);
    expectClose(torch.linspace(0, 1, 3, { dtype: 'float64' }).toArray(), [0, 0.5, 1], 0);
    const e = torch.eye(3);
    expect(e.shape).toEqual([3, 3]);
    expect(e.toArray()).toEqual([1, 0, 0, 0, 1, 0, 0, 0, 1]);
    expect(torch.eye(2, { dtype: 'int64' }).dtype).toBe('int64');
  });

  it('tensor from nested arrays (numbers -> float32, booleans -> bool, scalars, empty)', () => {
    const t = torch.tensor([
      [1, 2, 3],
      [4, 5, 6],
    ]);
    expect(t.shape).toEqual([2, 3]);
    expect(t.dtype).toBe('float32');
    expect(t.toArray()).toEqual([1, 2, 3, 4, 5, 6]);
    const d = torch.tensor([[[0.1]], [[0.2]]], { dtype: 'float64' });
    expect(d.shape).toEqual([2, 1, 1]);
    expect(d.toArray()).toEqual([0.1, 0.2]);
    const b = torch.tensor([
      [true, false],
      [false, true],
    ]);
    expect(b.dtype).toBe('bool');
    expect(Array.from(b.data() as Uint8Array)).toEqual([1, 0, 0, 1]);
    const s = torch.tensor(2.5);
    expect(s.shape).toEqual([]);
    expect(s.item()).toBe(2.5);
    const e = torch.tensor([]);
    expect(e.shape).toEqual([0]);
    expect(e.numel).toBe(0);
    expect(torch.tensor([3, -1], { dtype: 'int64' }).data()).toEqual(new BigInt64Array([3n, -1n]));
  });

  it('tensor from typed arrays (dtype from the array, shape option, conversions)', () => {
    const f = torch.tensor(new Float32Array([1, 2, 3, 4, 5, 6]), { shape: [3, 2] });
    expect([f.dtype, f.shape]).toEqual(['float32', [3, 2]]);
    expect(f.toArray()).toEqual([1, 2, 3, 4, 5, 6]);
    const d = torch.tensor(new Float64Array([0.1, 0.2]));
    expect([d.dtype, d.shape, d.toArray()]).toEqual(['float64', [2], [0.1, 0.2]]);
    expect(torch.tensor(new Int32Array([7, -8])).dtype).toBe('int32');
    const l = torch.tensor(new BigInt64Array([9007199254740993n, -2n]));
    expect(l.dtype).toBe('int64');
    // int64 keeps all 64 bits through data().
    expect((l.data() as BigInt64Array)[0]).toBe(9007199254740993n);
    expect(torch.tensor(new Uint8Array([0, 255])).dtype).toBe('uint8');
    const converted = torch.tensor(new Float32Array([1.5, 2.5]), { dtype: 'float64' });
    expect([converted.dtype, converted.toArray()]).toEqual(['float64', [1.5, 2.5]]);
    // A subarray view is read from its offset.
    const big = new Float32Array([9, 9, 1, 2, 9]);
    expect(torch.tensor(big.subarray(2, 4)).toArray()).toEqual([1, 2]);
  });

  it('tensor from raw float16 / bfloat16 bits (Uint16Array) and bool bytes (Uint8Array)', () => {
    // 1, 2, 3, -2 in IEEE half precision.
    const h = torch.tensor(new Uint16Array([0x3c00, 0x4000, 0x4200, 0xc000]), { dtype: 'float16', shape: [2, 2] });
    expect([h.dtype, h.shape]).toEqual(['float16', [2, 2]]);
    expect(Array.from(h.toFloat32Array())).toEqual([1, 2, 3, -2]);
    expect(Array.from(h.data() as Uint16Array)).toEqual([0x3c00, 0x4000, 0x4200, 0xc000]);
    const bf = torch.tensor(new Uint16Array([0x3f80, 0xc040]), { dtype: 'bfloat16' });
    expect(Array.from(bf.toFloat32Array())).toEqual([1, -3]);
    const b = torch.tensor(new Uint8Array([1, 0, 1]), { dtype: 'bool' });
    expect(b.dtype).toBe('bool');
    expect(b.logicalNot().toArray()).toEqual([0, 1, 0]);
  });
});

describe('dtypes round trip through to() and data()', () => {
  const cases: { dtype: DType; array: string; raw: number[] | bigint[] }[] = [
    { dtype: 'float32', array: 'Float32Array', raw: [0, 1, 2, 3] },
    { dtype: 'float64', array: 'Float64Array', raw: [0, 1, 2, 3] },
    { dtype: 'int64', array: 'BigInt64Array', raw: [0n, 1n, 2n, 3n] },
    { dtype: 'uint8', array: 'Uint8Array', raw: [0, 1, 2, 3] },
    { dtype: 'bool', array: 'Uint8Array', raw: [0, 1, 1, 1] },
    // Raw IEEE half bits of 0, 1, 2, 3.
    { dtype: 'float16', array: 'Uint16Array', raw: [0x0000, 0x3c00, 0x4000, 0x4200] },
    // Raw bfloat16 bits of 0, 1, 2, 3.
    { dtype: 'bfloat16', array: 'Uint16Array', raw: [0x0000, 0x3f80, 0x4000, 0x4040] },
  ];
  for (const c of cases) {
    it(`${c.dtype}`, () => {
      const src = torch.tensor([0, 1, 2, 3], { dtype: 'float64' });
      const t = src.to(c.dtype);
      expect(t.dtype).toBe(c.dtype);
      expect(t.shape).toEqual([4]);
      const data = t.data();
      expect(data.constructor.name).toBe(c.array);
      expect(Array.from(data as ArrayLike<number | bigint>)).toEqual(c.raw);
      const back = t.to('float32');
      expect(back.dtype).toBe('float32');
      expect(back.toArray()).toEqual(c.dtype === 'bool' ? [0, 1, 1, 1] : [0, 1, 2, 3]);
      // The object form of to() does the same.
      expect(src.to({ dtype: c.dtype }).dtype).toBe(c.dtype);
    });
  }

  it('conversions round and wrap as libtorch does', () => {
    expect(torch.tensor([0.1]).to('float16').to('float64').item()).toBe(0.0999755859375);
    expect(torch.tensor([1.001]).to('bfloat16').to('float32').item()).toBe(1);
    expect(torch.tensor([2.7, -2.7]).to('int64').toArray()).toEqual([2, -2]);
    expect(Array.from(torch.tensor([300, 255]).to('uint8').data() as Uint8Array)).toEqual([44, 255]);
    expect(torch.tensor([0, -0.5, 3]).to('bool').toArray()).toEqual([0, 1, 1]);
    expect(torch.tensor([1.5]).double().dtype).toBe('float64');
    expect(torch.tensor([1.5]).long().dtype).toBe('int64');
    expect(torch.tensor([1.5], { dtype: 'float64' }).float().dtype).toBe('float32');
    expect(torch.tensor([1.5]).cpu().device).toBe('cpu');
  });

  it('toArray() of float16 and bfloat16 gives values, not raw bits', () => {
    expect(torch.tensor([1, 2.5], { dtype: 'float16' }).toArray()).toEqual([1, 2.5]);
    expect(torch.tensor([1, 2.5], { dtype: 'bfloat16' }).toArray()).toEqual([1, 2.5]);
  });
});

describe('metadata', () => {
  it('shape, ndim, numel, size, strides, device, toString', () => {
    const t = torch.zeros([2, 3, 4]);
    expect(t.shape).toEqual([2, 3, 4]);
    expect(t.ndim).toBe(3);
    expect(t.numel).toBe(24);
    expect(t.size(0)).toBe(2);
    expect(t.size(-1)).toBe(4);
    expect(() => t.size(3)).toThrow(RangeError);
    expect(t.strides).toEqual([12, 4, 1]);
    expect(t.device).toBe('cpu');
    expect(t.isContiguous()).toBe(true);
    expect(String(t)).toBe('Tensor(shape=[2, 3, 4], dtype=float32, device=cpu)');
    expect(torch.zeros([0, 5]).numel).toBe(0);
  });
});

it('mutating the array returned by shape does not change the tensor', () => {
  const t = torch.zeros([2, 3]);
  const s = t.shape;
  s[0] = 99;
  expect(t.shape).toEqual([2, 3]);
  expect(t.numel).toBe(6);
});

describe('broadcasting', () => {
  it('[2,1] + [3] -> [2,3] with hand-computed values', () => {
    const a = torch.tensor([[10], [20]]);
    const b = torch.tensor([1, 2, 3]);
    const c = a.add(b);
    expect(c.shape).toEqual([2, 3]);
    expect(c.toArray()).toEqual([11, 12, 13, 21, 22, 23]);
  });
  it('sub with alpha, mul, div, pow across [2,1,2] and [3,1]', () => {
    const a = torch.tensor([[[1, 2]], [[3, 4]]]); // [2,1,2]
    const b = torch.tensor([[1], [2], [4]]); // [3,1]
    const m = a.mul(b);
    expect(m.shape).toEqual([2, 3, 2]);
    expect(m.toArray()).toEqual([1, 2, 2, 4, 4, 8, 3, 4, 6, 8, 12, 16]);
    expect(a.sub(b, 2).toArray()).toEqual([-1, 0, -3, -2, -7, -6, 1, 2, -1, 0, -5, -4]);
    expect(a.div(b).toArray()).toEqual([1, 2, 0.5, 1, 0.25, 0.5, 3, 4, 1.5, 2, 0.75, 1]);
    expect(a.pow(b).toArray()).toEqual([1, 2, 1, 4, 1, 16, 3, 4, 9, 16, 81, 256]);
  });
  it('scalar operands, rsub, neg, comparisons, maximum', () => {
    const x = torch.tensor([1, -2, 3]);
    expect(x.add(1).toArray()).toEqual([2, -1, 4]);
    expect(x.mul(-2).toArray()).toEqual([-2, 4, -6]);
    expect(x.rsub(10).toArray()).toEqual([9, 12, 7]);
    expect(x.neg().toArray()).toEqual([-1, 2, -3]);
    expect(x.abs().toArray()).toEqual([1, 2, 3]);
    expect(x.gt(0).dtype).toBe('bool');
    expect(x.gt(0).toArray()).toEqual([1, 0, 1]);
    expect(x.le(torch.tensor([1, 1, 1])).toArray()).toEqual([1, 1, 0]);
    expect(x.maximum(torch.tensor([0])).toArray()).toEqual([1, 0, 3]);
    // Integer tensors with integer scalars stay integers.
    expect(torch.arange(3).mul(2).dtype).toBe('int64');
  });
});

describe('reductions', () => {
  const x = (): Tensor =>
    torch.tensor([
      [1, 5, 2],
      [7, 0, 3],
    ]);
  it('sum, mean, max, min over all elements', () => {
    expect(x().sum().item()).toBe(18);
    expect(x().mean().item()).toBe(3);
    expect(x().max().item()).toBe(7);
    expect(x().min().item()).toBe(0);
    expect(x().prod().item()).toBe(0);
  });
  it('sum and mean over dims, keepdim', () => {
    expect(x().sum(0).toArray()).toEqual([8, 5, 5]);
    expect(x().sum(1).toArray()).toEqual([8, 10]);
    const k = x().sum(1, true);
    expect(k.shape).toEqual([2, 1]);
    expect(x().sum([0, 1]).item()).toBe(18);
    expectClose(x().mean(1).toArray(), [8 / 3, 10 / 3]);
    expect(x().mean(-2).toArray()).toEqual([4, 2.5, 2.5]);
  });
  it('maxDim, minDim, argmax, argmin', () => {
    const m = x().maxDim(1);
    expect(m.values.toArray()).toEqual([5, 7]);
    expect(m.indices.toArray()).toEqual([1, 0]);
    expect(m.indices.dtype).toBe('int64');
    const n = x().minDim(0, true);
    expect(n.values.shape).toEqual([1, 3]);
    expect(n.values.toArray()).toEqual([1, 0, 2]);
    expect(n.indices.toArray()).toEqual([0, 1, 0]);
    expect(x().argmax().item()).toBe(3);
    expect(x().argmax(1).toArray()).toEqual([1, 0]);
    expect(x().argmin(1).toArray()).toEqual([0, 1]);
  });
  it('var and std are unbiased by default; correction 0 gives the population value', () => {
    const v = torch.tensor([1, 2, 3, 4], { dtype: 'float64' });
    expect(v.var().item()).toBeCloseTo(5 / 3, 12);
    expect(v.std().item()).toBeCloseTo(Math.sqrt(5 / 3), 12);
    expect(v.var(undefined, { correction: 0 }).item()).toBeCloseTo(1.25, 12);
    const rows = torch.tensor(
      [
        [1, 2],
        [3, 5],
      ],
      { dtype: 'float64' },
    );
    expectClose(rows.var(1).toArray(), [0.5, 2], 1e-12);
    expect(rows.std(0, { keepdim: true }).shape).toEqual([1, 2]);
    expectClose(rows.std(0).toArray(), [Math.SQRT2, Math.sqrt(4.5)], 1e-12);
  });
  it('norm, logsumexp, all, any', () => {
    expect(
      torch
        .tensor([
          [3, 4],
          [0, 0],
        ])
        .norm()
        .item(),
    ).toBe(5);
    expectClose(
      torch
        .tensor([
          [3, 4],
          [0, 0],
        ])
        .norm(1, 1)
        .toArray(),
      [7, 0],
    );
    expect(torch.tensor([0, 0], { dtype: 'float64' }).logsumexp(0).item()).toBeCloseTo(Math.LN2, 12);
    expect(torch.tensor([true, false]).all().item()).toBe(0);
    expect(torch.tensor([true, false]).any().item()).toBe(1);
  });
});

describe('indexing', () => {
  const grid = (): Tensor => torch.arange(12).reshape(3, 4);
  it('slice with start, end and step (a view)', () => {
    const t = torch.arange(10);
    expect(t.slice(0, 1, 8, 3).toArray()).toEqual([1, 4, 7]);
    expect(t.slice(0, -3).toArray()).toEqual([7, 8, 9]);
    expect(grid().slice(1, 0, null, 2).toArray()).toEqual([0, 2, 4, 6, 8, 10]);
    const base = torch.zeros([6]);
    base.slice(0, 0, 6, 2).fill_(1);
    expect(base.toArray()).toEqual([1, 0, 1, 0, 1, 0]);
  });
  it('select and narrow', () => {
    expect(grid().select(0, 1).toArray()).toEqual([4, 5, 6, 7]);
    expect(grid().select(1, -1).toArray()).toEqual([3, 7, 11]);
    expect(grid().select(1, 2).shape).toEqual([3]);
    expect(grid().narrow(1, 1, 2).toArray()).toEqual([1, 2, 5, 6, 9, 10]);
  });
  it('index with int64 tensors (advanced indexing), indexSelect and gather', () => {
    expect(
      grid()
        .index([i64([0, 2]), i64([3, 1])])
        .toArray(),
    ).toEqual([3, 9]);
    expect(
      grid()
        .index([null, i64([3, 1])])
        .toArray(),
    ).toEqual([3, 1, 7, 5, 11, 9]);
    expect(grid().index([i64([2, 2])]).shape).toEqual([2, 4]);
    expect(
      grid()
        .indexSelect(1, i64([0, 0, 3]))
        .toArray(),
    ).toEqual([0, 0, 3, 4, 4, 7, 8, 8, 11]);
    expect(
      torch
        .tensor([
          [1, 2],
          [3, 4],
        ])
        .gather(
          1,
          i64([
            [0, 0],
            [1, 0],
          ]),
        )
        .toArray(),
    ).toEqual([1, 1, 4, 3]);
  });
  it('indexPut_ overwrites, or accumulates repeated indices', () => {
    const t = torch.zeros([4]);
    expect(t.indexPut_([i64([0, 2])], torch.tensor([5, 6]))).toBe(t);
    expect(t.toArray()).toEqual([5, 0, 6, 0]);
    const a = torch.zeros([4]);
    a.indexPut_([i64([0, 0, 2, 0])], torch.tensor([1, 2, 3, 4]), true);
    expect(a.toArray()).toEqual([7, 0, 3, 0]);
    const m = torch.zeros([2, 2]);
    m.indexPut_([i64([0, 1]), i64([1, 1])], torch.tensor([1, 1]), true);
    m.indexPut_([i64([0, 1]), i64([1, 1])], torch.tensor([1, 1]), true);
    expect(m.toArray()).toEqual([0, 2, 0, 2]);
  });
  it('maskedFill, flip, split, chunk', () => {
    const t = torch.tensor([1, 2, 3, 4]);
    expect(t.maskedFill(t.gt(2), -1).toArray()).toEqual([1, 2, -1, -1]);
    expect(t.flip(0).toArray()).toEqual([4, 3, 2, 1]);
    expect(t.split(3).map((p) => p.toArray())).toEqual([[1, 2, 3], [4]]);
    expect(t.chunk(2).map((p) => p.toArray())).toEqual([
      [1, 2],
      [3, 4],
    ]);
  });
});

describe('combining and layout', () => {
  it('cat and stack', () => {
    const a = torch.tensor([[1, 2]]);
    const b = torch.tensor([
      [3, 4],
      [5, 6],
    ]);
    const c = torch.cat([a, b]);
    expect([c.shape, c.toArray()]).toEqual([
      [3, 2],
      [1, 2, 3, 4, 5, 6],
    ]);
    const d = torch.cat([b, b], 1);
    expect([d.shape, d.toArray()]).toEqual([
      [2, 4],
      [3, 4, 3, 4, 5, 6, 5, 6],
    ]);
    const s = torch.stack([torch.tensor([1, 2]), torch.tensor([3, 4])], 1);
    expect([s.shape, s.toArray()]).toEqual([
      [2, 2],
      [1, 3, 2, 4],
    ]);
    expect(torch.stack([torch.tensor([1, 2]), torch.tensor([3, 4])]).shape).toEqual([2, 2]);
  });
  it('permute, transpose, t give non-contiguous views; contiguous copies in order', () => {
    const t = torch.arange(6).reshape(2, 3);
    const p = t.permute(1, 0);
    expect(p.shape).toEqual([3, 2]);
    expect(p.isContiguous()).toBe(false);
    expect(p.strides).toEqual([1, 3]);
    expect(p.toArray()).toEqual([0, 3, 1, 4, 2, 5]);
    const c = p.contiguous();
    expect(c.isContiguous()).toBe(true);
    expect(c.strides).toEqual([2, 1]);
    expect(c.toArray()).toEqual([0, 3, 1, 4, 2, 5]);
    expect(t.t().toArray()).toEqual(p.toArray());
    expect(t.transpose(0, 1).toArray()).toEqual(p.toArray());
    const three = torch.arange(24).reshape(2, 3, 4).permute(2, 0, 1);
    expect(three.shape).toEqual([4, 2, 3]);
    expect(three.contiguous().select(0, 1).toArray()).toEqual([1, 5, 9, 13, 17, 21]);
  });
  it("channels-last: contiguous('channelsLast') keeps shape and values, changes strides", () => {
    const x = torch.arange(48, undefined, 1, { dtype: 'float32' }).reshape(1, 3, 4, 4);
    expect(x.isChannelsLast()).toBe(false);
    const cl = x.contiguous('channelsLast');
    expect(cl.isChannelsLast()).toBe(true);
    expect(cl.isContiguous()).toBe(false);
    expect(cl.shape).toEqual([1, 3, 4, 4]);
    expect(cl.strides).toEqual([48, 1, 12, 3]);
    expect(cl.toArray()).toEqual(x.toArray());
    // Cloning preserves the format; converting back restores the default strides.
    expect(cl.clone().isChannelsLast()).toBe(true);
    expect(cl.contiguous().strides).toEqual([48, 16, 4, 1]);
    expect(x.to({ memoryFormat: 'channelsLast' }).isChannelsLast()).toBe(true);
    // Operators accept channels-last inputs and give the same values.
    const w = torch.ones([2, 3, 3, 3]);
    expect(torch.F.conv2d(cl, w).toArray()).toEqual(torch.F.conv2d(x, w).toArray());
  });
  it('reshape, view, flatten, squeeze, unsqueeze, expand, repeat', () => {
    const t = torch.arange(6);
    expect(t.reshape(2, -1).shape).toEqual([2, 3]);
    expect(t.view(3, 2).toArray()).toEqual([0, 1, 2, 3, 4, 5]);
    expect(torch.zeros([2, 3, 4]).flatten(1).shape).toEqual([2, 12]);
    expect(torch.zeros([1, 3, 1]).squeeze().shape).toEqual([3]);
    expect(torch.zeros([1, 3, 1]).squeeze(0).shape).toEqual([3, 1]);
    expect(torch.zeros([3]).unsqueeze(0).shape).toEqual([1, 3]);
    expect(
      torch
        .tensor([[1], [2]])
        .expand(2, 3)
        .toArray(),
    ).toEqual([1, 1, 1, 2, 2, 2]);
    expect(torch.tensor([1, 2]).repeat(2).toArray()).toEqual([1, 2, 1, 2]);
  });
});

describe('linear algebra and functional helpers', () => {
  it('matmul and mm against a hand-computed product', () => {
    const a = torch.tensor([
      [1, 2],
      [3, 4],
    ]);
    const b = torch.tensor([
      [5, 6],
      [7, 8],
    ]);
    expect(a.matmul(b).toArray()).toEqual([19, 22, 43, 50]);
    expect(a.mm(b).toArray()).toEqual([19, 22, 43, 50]);
    const r = torch
      .tensor([
        [1, 0, -1],
        [2, 1, 0],
      ])
      .matmul(torch.tensor([[1], [2], [3]]));
    expect([r.shape, r.toArray()]).toEqual([
      [2, 1],
      [-2, 4],
    ]);
    expect(
      torch
        .tensor([[1, 2, 3]])
        .matmul(torch.tensor([4, 5, 6]))
        .toArray(),
    ).toEqual([32]);
    const batched = torch.stack([a, b]).bmm(torch.stack([b, a]));
    expect(batched.toArray()).toEqual([19, 22, 43, 50, 23, 34, 31, 46]);
    expect(torch.F.mv(a, torch.tensor([1, 1])).toArray()).toEqual([3, 7]);
    expect(torch.F.dot(torch.tensor([1, 2, 3]), torch.tensor([4, 5, 6])).item()).toBe(32);
  });
  it('oneHot (int64 by default, or a given dtype)', () => {
    const o = torch.oneHot(i64([0, 2, 1]), 3);
    expect([o.dtype, o.shape, o.toArray()]).toEqual(['int64', [3, 3], [1, 0, 0, 0, 0, 1, 0, 1, 0]]);
    const f = torch.oneHot(i64([[1], [0]]), 2, 'float32');
    expect([f.dtype, f.shape, f.toArray()]).toEqual(['float32', [2, 1, 2], [0, 1, 1, 0]]);
    expect(torch.oneHot(i64([3])).shape).toEqual([1, 4]);
  });
  it('where with tensors and scalars', () => {
    const c = torch.tensor([true, false, true]);
    expect(torch.where(c, torch.tensor([1, 2, 3]), torch.tensor([-1, -2, -3])).toArray()).toEqual([1, -2, 3]);
    expect(torch.where(c, torch.tensor([1, 2, 3]), 0).toArray()).toEqual([1, 0, 3]);
    expect(torch.where(c, 9, torch.tensor([4, 5, 6])).toArray()).toEqual([9, 5, 9]);
    expect(torch.where(c, 1.5, -1).toArray()).toEqual([1.5, -1, 1.5]);
    // Broadcasting condition.
    expect(torch.where(torch.tensor([[true], [false]]), torch.ones([2, 2]), torch.zeros([2])).toArray()).toEqual([
      1, 1, 0, 0,
    ]);
  });
  it('clamp with both bounds, lower only, upper only', () => {
    const t = torch.tensor([-2, 0.5, 3]);
    expect(t.clamp(0, 1).toArray()).toEqual([0, 0.5, 1]);
    expect(torch.F.clamp(t, 0).toArray()).toEqual([0, 0.5, 3]);
    expect(t.clamp(null, 0).toArray()).toEqual([-2, 0, 0]);
  });
  it('eigh against known eigenvalues and eigenvectors', () => {
    const a = torch.tensor(
      [
        [2, 1],
        [1, 2],
      ],
      { dtype: 'float64' },
    );
    const { eigenvalues, eigenvectors } = torch.eigh(a);
    expectClose(eigenvalues.toArray(), [1, 3], 1e-12);
    // A v = lambda v for every column.
    const av = a.matmul(eigenvectors);
    const vl = eigenvectors.mul(eigenvalues);
    expectClose(av.toArray(), vl.toArray(), 1e-12);
    // Orthonormal eigenvectors.
    expectClose(eigenvectors.t().matmul(eigenvectors).toArray(), [1, 0, 0, 1], 1e-12);
    const d = torch.eigh(
      torch.tensor(
        [
          [3, 0, 0],
          [0, 1, 0],
          [0, 0, 2],
        ],
        { dtype: 'float64' },
      ),
    );
    expectClose(d.eigenvalues.toArray(), [1, 2, 3], 1e-12);
    // Only the lower triangle is read by default ('L'); 'U' reads the upper one.
    const lower = torch.tensor(
      [
        [1, 100],
        [2, 1],
      ],
      { dtype: 'float64' },
    );
    expectClose(torch.eigh(lower).eigenvalues.toArray(), [-1, 3], 1e-12);
    expectClose(torch.eigh(lower, 'U').eigenvalues.toArray(), [-99, 101], 1e-9);
  });
  it('softmax and logSoftmax', () => {
    const s = torch.F.softmax(
      torch.tensor(
        [
          [0, 0],
          [0, Math.log(3)],
        ],
        { dtype: 'float64' },
      ),
      1,
    );
    expectClose(s.toArray(), [0.5, 0.5, 0.25, 0.75], 1e-12);
    expectClose(
      torch.F.logSoftmax(torch.tensor([0, 0], { dtype: 'float64' }), 0).toArray(),
      [-Math.LN2, -Math.LN2],
      1e-12,
    );
  });
});

describe('in-place operators', () => {
  it('return the same object, keep the storage and change the values', () => {
    const t = torch.tensor([1, 2, 3, 4]);
    const storage = t.storageId();
    const check = (r: Tensor, expected: number[]): void => {
      expect(r).toBe(t);
      expect(t.storageId()).toBe(storage);
      expectClose(t.toArray(), expected);
    };
    check(t.add_(1), [2, 3, 4, 5]);
    check(t.add_(torch.tensor([1, 1, 1, 1]), 2), [4, 5, 6, 7]);
    check(t.sub_(torch.tensor([2, 2, 2, 2]), 0.5), [3, 4, 5, 6]);
    check(t.sub_(1), [2, 3, 4, 5]);
    check(t.mul_(2), [4, 6, 8, 10]);
    check(t.mul_(torch.tensor([1, 0.5, 0.25, 0.1])), [4, 3, 2, 1]);
    check(t.div_(2), [2, 1.5, 1, 0.5]);
    check(t.div_(torch.tensor([2, 1.5, 1, 0.5])), [1, 1, 1, 1]);
    check(t.addcmul_(torch.tensor([1, 2, 3, 4]), torch.tensor([2, 2, 2, 2]), 0.5), [2, 3, 4, 5]);
    check(t.addcdiv_(torch.tensor([2, 3, 4, 5]), torch.tensor([2, 3, 4, 5]), 3), [5, 6, 7, 8]);
    check(t.lerp_(torch.tensor([7, 8, 9, 10]), 0.5), [6, 7, 8, 9]);
    check(t.clamp_(6.5, 8.5), [6.5, 7, 8, 8.5]);
    check(t.copy_(torch.tensor([4, 9, 16, 25])), [4, 9, 16, 25]);
    check(t.sqrt_(), [2, 3, 4, 5]);
    check(t.fill_(-1), [-1, -1, -1, -1]);
    check(t.zero_(), [0, 0, 0, 0]);
    check(t.normal_(0, 1, new torch.Generator(1)), torch.randn([4], { generator: new torch.Generator(1) }).toArray());
    check(t.uniform_(2, 3), t.toArray());
    expect(t.toArray().every((v) => v >= 2 && v < 3)).toBe(true);
  });
  it('an in-place write through a view changes the base tensor', () => {
    const base = torch.zeros([2, 3]);
    base.select(0, 1).add_(5);
    expect(base.toArray()).toEqual([0, 0, 0, 5, 5, 5]);
  });
});

describe('random numbers', () => {
  it('manualSeed reproduces randn, rand and randint', () => {
    torch.manualSeed(42);
    const a = torch.randn([5]).toArray();
    const b = torch.rand([3]).toArray();
    const c = torch.randint(0, 10, [4]).toArray();
    torch.manualSeed(42);
    expect(torch.randn([5]).toArray()).toEqual(a);
    expect(torch.rand([3]).toArray()).toEqual(b);
    expect(torch.randint(0, 10, [4]).toArray()).toEqual(c);
    torch.manualSeed(43);
    expect(torch.randn([5]).toArray()).not.toEqual(a);
    expect(b.every((v) => v >= 0 && v < 1)).toBe(true);
    expect(c.every((v) => Number.isInteger(v) && v >= 0 && v < 10)).toBe(true);
    const p = torch.randperm(6).toArray();
    expect([...p].sort()).toEqual([0, 1, 2, 3, 4, 5]);
  });

  it('per-call Generator streams are independent of the global one and of each other', () => {
    torch.manualSeed(7);
    const globalOnly = torch.randn([4]).toArray();
    torch.manualSeed(7);
    const g = new torch.Generator(123);
    const fromG = torch.randn([4], { generator: g }).toArray();
    // Drawing from g did not advance the global stream.
    expect(torch.randn([4]).toArray()).toEqual(globalOnly);
    // Same seed, same stream; the global seed does not matter.
    torch.manualSeed(999);
    expect(torch.randn([4], { generator: new torch.Generator(123) }).toArray()).toEqual(fromG);
    expect(torch.randn([4], { generator: new torch.Generator(124) }).toArray()).not.toEqual(fromG);
    expect(g.seed).toBe(123);
    // manualSeed on a generator restarts its stream.
    g.manualSeed(123);
    expect(torch.randn([4], { generator: g }).toArray()).toEqual(fromG);
  });

  it('getRngState / setRngState reproduce the global stream', () => {
    torch.manualSeed(3);
    torch.randn([10]);
    const state = torch.getRngState();
    expect(state.dtype).toBe('uint8');
    const a = torch.randn([6]).toArray();
    const b = torch.rand([2]).toArray();
    torch.setRngState(state);
    expect(torch.randn([6]).toArray()).toEqual(a);
    expect(torch.rand([2]).toArray()).toEqual(b);
    // Generator.default() is the same global stream.
    torch.setRngState(state);
    expect(torch.randn([6], { generator: torch.Generator.default() }).toArray()).toEqual(a);
  });

  it('Generator getState / setState reproduce a per-call stream', () => {
    const g = new torch.Generator(11);
    torch.randn([3], { generator: g });
    const state = g.getState();
    const a = torch.randn([5], { generator: g }).toArray();
    const t = torch.empty([5]).normal_(0, 1, g).toArray();
    g.setState(state);
    expect(torch.randn([5], { generator: g }).toArray()).toEqual(a);
    expect(torch.empty([5]).normal_(0, 1, g).toArray()).toEqual(t);
    // A state can move to another generator.
    const h = new torch.Generator(0);
    h.setState(state);
    expect(torch.randn([5], { generator: h }).toArray()).toEqual(a);
  });
});

describe('threads and build information', () => {
  let saved = 0;
  afterEach(() => {
    if (saved > 0) torch.setNumThreads(saved);
  });
  it('setNumThreads / getNumThreads round trip', () => {
    saved = torch.getNumThreads();
    expect(saved).toBeGreaterThanOrEqual(1);
    torch.setNumThreads(1);
    expect(torch.getNumThreads()).toBe(1);
    // Work still runs with one thread.
    expect(
      torch
        .ones([64, 64])
        .matmul(torch.ones([64, 64]))
        .sum()
        .item(),
    ).toBe(64 * 64 * 64);
    torch.setNumThreads(2);
    expect(torch.getNumThreads()).toBe(2);
    torch.setNumThreads(saved);
    expect(torch.getNumThreads()).toBe(saved);
  });
  it('buildInfo names the libtorch version; no CUDA on this machine unless counted', () => {
    const info = torch.buildInfo();
    expect(info.version).toMatch(/^\d+\.\d+/);
    expect(typeof info.mkldnn).toBe('boolean');
    expect(torch.cudaIsAvailable()).toBe(torch.cudaDeviceCount() > 0);
    expect(torch.checkDevice('cpu')).toBe('cpu');
  });
});

describe('autograd', () => {
  it('backward with a gradient argument on a non-scalar', () => {
    const x = torch.tensor([1, 2, 3], { requiresGrad: true });
    const y = x.mul(x);
    expect(y.requiresGrad).toBe(true);
    expect(y.isLeaf).toBe(false);
    expect(x.isLeaf).toBe(true);
    y.backward(torch.tensor([1, 0.5, 2]));
    expect(x.grad!.toArray()).toEqual([2, 2, 12]);
  });

  it('gradients accumulate across two backward calls; zeroGrad clears them', () => {
    const x = torch.tensor([1, 2], { requiresGrad: true });
    expect(x.grad).toBeNull();
    x.mul(3).sum().backward();
    expect(x.grad!.toArray()).toEqual([3, 3]);
    x.mul(x).sum().backward();
    expect(x.grad!.toArray()).toEqual([5, 7]);
    x.zeroGrad();
    expect(x.grad).toBeNull();
    x.sum().backward();
    expect(x.grad!.toArray()).toEqual([1, 1]);
  });

  it('the grad setter installs a gradient that accumulates', () => {
    const x = torch.tensor([1, 2], { requiresGrad: true });
    x.grad = torch.tensor([10, 20]);
    x.sum().backward();
    expect(x.grad!.toArray()).toEqual([11, 21]);
    x.grad = null;
    expect(x.grad).toBeNull();
  });

  it('detach stops gradients and shares the data', () => {
    const x = torch.tensor([1, 2, 3], { requiresGrad: true });
    const d = x.detach();
    expect(d.requiresGrad).toBe(false);
    expect(d.storageId()).toBe(x.storageId());
    // d/dx (detach(x) * x) = detach(x)
    x.detach().mul(x).sum().backward();
    expect(x.grad!.toArray()).toEqual([1, 2, 3]);
    // A fully detached result has no graph.
    expect(x.mul(2).detach().requiresGrad).toBe(false);
  });

  it('noGrad gives results without gradients and restores the mode, even when fn throws', () => {
    const x = torch.ones([2], { requiresGrad: true });
    expect(torch.isGradEnabled()).toBe(true);
    const y = torch.noGrad(() => {
      expect(torch.isGradEnabled()).toBe(false);
      return x.mul(2);
    });
    expect(y.requiresGrad).toBe(false);
    expect(y.toArray()).toEqual([2, 2]);
    expect(torch.isGradEnabled()).toBe(true);
    expect(() =>
      torch.noGrad(() => {
        throw new Error('boom');
      }),
    ).toThrow('boom');
    expect(torch.isGradEnabled()).toBe(true);
    // Nested scopes restore the mode of the scope around them.
    torch.noGrad(() => {
      torch.noGrad(() => undefined);
      expect(torch.isGradEnabled()).toBe(false);
    });
    expect(x.mul(2).requiresGrad).toBe(true);
  });

  it('enableGrad inside noGrad records again, and restores noGrad afterwards', () => {
    const x = torch.ones([2], { requiresGrad: true });
    const y = torch.noGrad(() => {
      const inner = torch.enableGrad(() => {
        expect(torch.isGradEnabled()).toBe(true);
        return x.mul(3).sum();
      });
      expect(inner.requiresGrad).toBe(true);
      expect(torch.isGradEnabled()).toBe(false);
      expect(x.mul(3).requiresGrad).toBe(false);
      // Backward itself works inside noGrad (it does not record).
      inner.backward();
      return inner;
    });
    expect(y.requiresGrad).toBe(true);
    expect(x.grad!.toArray()).toEqual([3, 3]);
  });

  it('inferenceMode: no autograd, mode restored after (also on throw)', () => {
    const x = torch.ones([2], { requiresGrad: true });
    const y = torch.inferenceMode(() => {
      expect(torch.isGradEnabled()).toBe(false);
      return x.mul(2).add(1);
    });
    expect(y.requiresGrad).toBe(false);
    expect(y.toArray()).toEqual([3, 3]);
    expect(torch.isGradEnabled()).toBe(true);
    expect(() =>
      torch.inferenceMode(() => {
        throw new Error('inner');
      }),
    ).toThrow('inner');
    expect(torch.isGradEnabled()).toBe(true);
    expect(x.mul(2).requiresGrad).toBe(true);
  });

  it('retainGraph allows a second backward; without it the second one throws an Error', () => {
    const x = torch.tensor([1, 2], { requiresGrad: true });
    const y = x.exp().sum();
    y.backward(null, { retainGraph: true });
    y.backward();
    expectClose(x.grad!.toArray(), [2 * Math.E, 2 * Math.exp(2)], 1e-5);
    let caught: unknown;
    try {
      y.backward();
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(Error);
    expect((caught as Error).message).toMatch(/second time/);
    expect((caught as Error).name).toBe('TorchError');
    // The process still works.
    expect(torch.ones([2]).add(1).toArray()).toEqual([2, 2]);
  });

  it('torch.backward with two roots sums their gradients', () => {
    const x = torch.tensor([1, 2], { requiresGrad: true });
    const a = x.mul(2).sum();
    const b = x.mul(x); // non-scalar root: needs a gradient
    torch.backward([a, b], [null, torch.tensor([1, 10])]);
    // 2 + 2x * g
    expect(x.grad!.toArray()).toEqual([4, 42]);
    const w = torch.tensor([3], { requiresGrad: true });
    const u = torch.tensor([5], { requiresGrad: true });
    torch.backward([w.mul(u).sum(), u.mul(u).sum()]);
    expect(w.grad!.toArray()).toEqual([5]);
    expect(u.grad!.toArray()).toEqual([13]);
  });

  it('requiresGrad setter and requiresGrad_ on leaves', () => {
    const x = torch.zeros([2]);
    expect(x.requiresGrad).toBe(false);
    x.requiresGrad = true;
    expect(x.requiresGrad).toBe(true);
    expect(x.requiresGrad_(false)).toBe(x);
    expect(x.requiresGrad).toBe(false);
    expect(torch.zeros([1], { requiresGrad: true }).requiresGrad).toBe(true);
  });
});

describe('torch.call: any operator by name', () => {
  it('passes Tensors and numbers by schema and wraps tensor results', () => {
    const a = torch.tensor([0, 10]);
    const b = torch.tensor([2, 20]);
    const mid = torch.call('aten::lerp.Scalar', a, b, 0.5) as Tensor;
    expect(mid.toArray()).toEqual([1, 15]);
    const [values, indices] = torch.call(
      'aten::max.dim',
      torch.tensor([
        [1, 5],
        [7, 2],
      ]),
      1,
    ) as [Tensor, Tensor];
    expect(values.toArray()).toEqual([5, 7]);
    expect(indices.toArray()).toEqual([1, 0]);
    expect(torch.call('aten::_version', a)).toBe(0);
    const parts = torch.call('aten::split.Tensor', torch.arange(5), 2) as Tensor[];
    expect(parts.map((p) => p.toArray())).toEqual([[0, 1], [2, 3], [4]]);
    expect(() => torch.call('aten::lerp.Scalar', a, 3, 0.5)).toThrow(/argument 'end': expected a Tensor/);
  });
});
