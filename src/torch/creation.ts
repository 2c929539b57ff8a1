// Tensor creation: constants, ranges, random tensors and tensors from JavaScript data.
import { native } from './native.js';
import { aten } from './ops.js';
import { dtypeCode, dtypeOfTypedArray, ELEMENT_SIZE, type DType } from './dtype.js';
import { Tensor, wrap, type Device, type Shape } from './tensor.js';
import type { Generator } from './random.js';
import { checkDevice } from './device.js';

export interface CreateOptions {
  dtype?: DType;
  device?: Device;
  requiresGrad?: boolean;
}
export interface RandomOptions extends CreateOptions {
  /** A per-call generator; the global one (seeded by `manualSeed`) otherwise. */
  generator?: Generator;
}

const A = {
  zeros: aten('zeros'),
  ones: aten('ones'),
  full: aten('full'),
  empty: aten('empty.memory_format'),
  arange: aten('arange.start_step'),
  linspace: aten('linspace'),
  eye: aten('eye'),
  rand: aten('rand.generator'),
  randn: aten('randn.generator'),
  randint: aten('randint.low_generator'),
  randperm: aten('randperm.generator'),
  zerosLike: aten('zeros_like'),
  onesLike: aten('ones_like'),
  fullLike: aten('full_like'),
  randnLike: aten('randn_like'),
  randLike: aten('rand_like'),
};

function checkShape(shape: Shape, fn: string): number[] {
  if (!Array.isArray(shape) || !shape.every((s) => Number.isInteger(s) && s >= 0)) {
    throw new TypeError(`${fn}: shape must be an array of non-negative integers, got ${JSON.stringify(shape)}`);
  }
  return shape as number[];
}

function finish(t: Tensor, o: CreateOptions): Tensor {
  if (o.requiresGrad) t.requiresGrad = true;
  return t;
}

function dev(o: CreateOptions): Device | null {
  return o.device === undefined ? null : checkDevice(o.device);
}

function dt(o: CreateOptions, fallback: DType | null = 'float32'): number | null {
  const d = o.dtype ?? fallback;
  return d === null ? null : dtypeCode(d);
}

export function zeros(shape: Shape, o: CreateOptions = {}): Tensor {
  return finish(wrap(A.zeros([checkShape(shape, 'zeros'), dt(o), null, dev(o), null])), o);
}
export function ones(shape: Shape, o: CreateOptions = {}): Tensor {
  return finish(wrap(A.ones([checkShape(shape, 'ones'), dt(o), null, dev(o), null])), o);
}
export function full(shape: Shape, value: number, o: CreateOptions = {}): Tensor {
  return finish(wrap(A.full([checkShape(shape, 'full'), value, dt(o), null, dev(o), null])), o);
}
/** Uninitialised memory (fastest; fill it before reading). */
export function empty(shape: Shape, o: CreateOptions = {}): Tensor {
  return finish(wrap(A.empty([checkShape(shape, 'empty'), dt(o), null, dev(o), null, null])), o);
}
export function zerosLike(t: Tensor, o: CreateOptions = {}): Tensor {
  return finish(wrap(A.zerosLike([t.handle, dt(o, null), null, dev(o), null, null])), o);
}
export function onesLike(t: Tensor, o: CreateOptions = {}): Tensor {
  return finish(wrap(A.onesLike([t.handle, dt(o, null), null, dev(o), null, null])), o);
}
export function fullLike(t: Tensor, value: number, o: CreateOptions = {}): Tensor {
  return finish(wrap(A.fullLike([t.handle, value, dt(o, null), null, dev(o), null, null])), o);
}
export function randnLike(t: Tensor, o: CreateOptions = {}): Tensor {
  return finish(wrap(A.randnLike([t.handle, dt(o, null), null, dev(o), null, null])), o);
}
export function randLike(t: Tensor, o: CreateOptions = {}): Tensor {
  return finish(wrap(A.randLike([t.handle, dt(o, null), null, dev(o), null, null])), o);
}

/**
 * Values from `start` to `end` (exclusive) by `step`, as `torch.arange`. Integer arguments give
 * int64 unless a dtype is given.
 */
export function arange(start: number, end?: number, step = 1, o: CreateOptions = {}): Tensor {
  const [s, e] = end === undefined ? [0, start] : [start, end];
  return finish(wrap(A.arange([s, e, step, dt(o, null), null, dev(o), null])), o);
}
export function linspace(start: number, end: number, steps: number, o: CreateOptions = {}): Tensor {
  return finish(wrap(A.linspace([start, end, steps, dt(o), null, dev(o), null])), o);
}
export function eye(n: number, o: CreateOptions = {}): Tensor {
  return finish(wrap(A.eye([n, dt(o), null, dev(o), null])), o);
}

/** Uniform on [0, 1). */
export function rand(shape: Shape, o: RandomOptions = {}): Tensor {
  return finish(wrap(A.rand([checkShape(shape, 'rand'), o.generator?.handle ?? null, dt(o), null, dev(o), null])), o);
}
/** Standard normal. */
export function randn(shape: Shape, o: RandomOptions = {}): Tensor {
  return finish(wrap(A.randn([checkShape(shape, 'randn'), o.generator?.handle ?? null, dt(o), null, dev(o), null])), o);
}
/** Integers uniform on [low, high); int64 by default. */
export function randint(low: number, high: number, shape: Shape, o: RandomOptions = {}): Tensor {
  return wrap(
    A.randint([
      low,
      high,
      checkShape(shape, 'randint'),
      o.generator?.handle ?? null,
      dt(o, 'int64'),
      null,
      dev(o),
      null,
    ]),
  );
}
/** A random permutation of 0..n-1 (int64). */
export function randperm(n: number, o: RandomOptions = {}): Tensor {
  return wrap(A.randperm([n, o.generator?.handle ?? null, dt(o, 'int64'), null, dev(o), null]));
}

type Nested = number | boolean | Nested[];

/**
 * A tensor from JavaScript data: a typed array (with `shape`, defaulting to 1-D) or nested
 * arrays of numbers or booleans. Numbers default to float32, booleans to bool.
 */
export function tensor(data: ArrayBufferView | Nested, o: CreateOptions & { shape?: Shape } = {}): Tensor {
  if (ArrayBuffer.isView(data)) {
    const raw = rawDtype(data, o.dtype);
    const elements = data.byteLength / ELEMENT_SIZE[raw];
    const shape = checkShape(o.shape ?? [elements], 'tensor');
    const t = new Tensor(
      native.fromBuffer(data, dtypeCode(raw), shape, o.device === undefined ? 'cpu' : checkDevice(o.device)),
    );
    if (!o.dtype || o.dtype === raw) return finish(t, o);
    const converted = t.to(o.dtype);
    t.dispose();
    return finish(converted, o);
  }
  const shape: number[] = [];
  let level: Nested = data;
  while (Array.isArray(level)) {
    shape.push(level.length);
    level = level[0] as Nested;
  }
  const isBool = typeof level === 'boolean';
  const flat: number[] = [];
  const walk = (v: Nested, depth: number): void => {
    if (depth === shape.length) {
      if (typeof v !== (isBool ? 'boolean' : 'number')) {
        throw new TypeError(
          `tensor: nested arrays must hold only numbers or only booleans, found ${JSON.stringify(v)}`,
        );
      }
      flat.push(Number(v));
      return;
    }
    if (!Array.isArray(v) || v.length !== shape[depth])
      throw new TypeError(`tensor: ragged nested array at depth ${depth}`);
    for (const x of v) walk(x, depth + 1);
  };
  walk(data, 0);
  const base = isBool ? Uint8Array.from(flat) : Float64Array.from(flat);
  const t = new Tensor(native.fromBuffer(base, dtypeCode(isBool ? 'bool' : 'float64'), shape, 'cpu'));
  const want: DType = o.dtype ?? (isBool ? 'bool' : 'float32');
  const device = o.device === undefined ? 'cpu' : checkDevice(o.device);
  if (want === t.dtype && device === 'cpu') return finish(t, o);
  const out = t.to({ dtype: want, device });
  t.dispose();
  return finish(out, o);
}

// The dtype in which a typed array's bytes are read: its own, except 16-bit floats held as raw
// Uint16 bits and booleans held as Uint8.
function rawDtype(data: ArrayBufferView, want: DType | undefined): DType {
  if (data instanceof Uint16Array && (want === 'float16' || want === 'bfloat16')) return want;
  if (data instanceof Uint8Array && want === 'bool') return 'bool';
  if (data instanceof Uint16Array) {
    throw new TypeError(
      `tensor: a Uint16Array holds raw float16 or bfloat16 bits; pass { dtype: 'float16' } or { dtype: 'bfloat16' }${want ? `, not '${want}'` : ''}`,
    );
  }
  return dtypeOfTypedArray(data);
}

/** A tensor from raw little-endian bytes (safetensors, checkpoints): no conversion. */
export function fromBytes(bytes: Uint8Array, dtype: DType, shape: Shape, device: Device = 'cpu'): Tensor {
  return new Tensor(native.fromBuffer(bytes, dtypeCode(dtype), checkShape(shape, 'fromBytes'), device));
}
