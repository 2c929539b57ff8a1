// Tensor creation: constants, ranges, random tensors and tensors from JavaScript data.
import { native } from './native.js';
import * as aten from './generated/aten.js';
import { dtypeCode, dtypeOfTypedArray, ELEMENT_SIZE, type DType } from './dtype.js';
import { Tensor, type Device, type Shape } from './tensor.js';
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

/**
 * The options as the generated operators take them (dtype, device, generator: the same names), after
 * checking the device. An omitted dtype is libtorch's default: float32, int64 for randint and
 * randperm, the input's for the `*Like` functions, and from the values for arange (and full, but see there).
 */
function opts<T extends CreateOptions>(o: T): T {
  if (o.device !== undefined) checkDevice(o.device);
  return o;
}

export function zeros(shape: Shape, o: CreateOptions = {}): Tensor {
  return finish(aten.zeros(checkShape(shape, 'zeros'), opts(o)), o);
}
export function ones(shape: Shape, o: CreateOptions = {}): Tensor {
  return finish(aten.ones(checkShape(shape, 'ones'), opts(o)), o);
}
export function full(shape: Shape, value: number, o: CreateOptions = {}): Tensor {
  // libtorch's full infers int64 or bool from the value without a dtype; PyTorch's default is float32 here.
  return finish(
    aten.full(checkShape(shape, 'full'), value, { dtype: o.dtype ?? 'float32', device: opts(o).device }),
    o,
  );
}
/** Uninitialised memory (fastest; fill it before reading). */
export function empty(shape: Shape, o: CreateOptions = {}): Tensor {
  return finish(aten.emptyMemoryFormat(checkShape(shape, 'empty'), opts(o)), o);
}
export function zerosLike(t: Tensor, o: CreateOptions = {}): Tensor {
  return finish(aten.zerosLike(t, opts(o)), o);
}
export function onesLike(t: Tensor, o: CreateOptions = {}): Tensor {
  return finish(aten.onesLike(t, opts(o)), o);
}
export function fullLike(t: Tensor, value: number, o: CreateOptions = {}): Tensor {
  return finish(aten.fullLike(t, value, opts(o)), o);
}
export function randnLike(t: Tensor, o: CreateOptions = {}): Tensor {
  return finish(aten.randnLike(t, opts(o)), o);
}
export function randLike(t: Tensor, o: CreateOptions = {}): Tensor {
  return finish(aten.randLike(t, opts(o)), o);
}

/**
 * Values from `start` to `end` (exclusive) by `step`, as `torch.arange`. Integer arguments give
 * int64 unless a dtype is given.
 */
export function arange(start: number, end?: number, step = 1, o: CreateOptions = {}): Tensor {
  const [s, e] = end === undefined ? [0, start] : [start, end];
  return finish(aten.arangeStartStep(s, e, step, opts(o)), o);
}
export function linspace(start: number, end: number, steps: number, o: CreateOptions = {}): Tensor {
  return finish(aten.linspace(start, end, steps, opts(o)), o);
}
export function eye(n: number, o: CreateOptions = {}): Tensor {
  return finish(aten.eye(n, opts(o)), o);
}

/** Uniform on [0, 1). */
export function rand(shape: Shape, o: RandomOptions = {}): Tensor {
  return finish(aten.randGenerator(checkShape(shape, 'rand'), opts(o)), o);
}
/** Standard normal. */
export function randn(shape: Shape, o: RandomOptions = {}): Tensor {
  return finish(aten.randnGenerator(checkShape(shape, 'randn'), opts(o)), o);
}
/** Integers uniform on [low, high); int64 by default. */
export function randint(low: number, high: number, shape: Shape, o: RandomOptions = {}): Tensor {
  return aten.randintLowGenerator(low, high, checkShape(shape, 'randint'), opts(o));
}
/** A random permutation of 0..n-1 (int64). */
export function randperm(n: number, o: RandomOptions = {}): Tensor {
  return aten.randpermGenerator(n, opts(o));
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
