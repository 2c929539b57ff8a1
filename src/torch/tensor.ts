// The Tensor class: a typed handle to a libtorch tensor, with PyTorch's method names in camelCase.
// Every method is one call of the generated operator layer (generated/aten.ts), choosing the
// overload (Tensor or Scalar) as PyTorch does; in-place methods end in `_` and return `this`.
import { native, type NativeResult, type TensorHandle } from './native.js';
import type { MemoryFormat } from './ops.js';
import * as aten from './generated/aten.js';
import { registerTensor } from './bind.js';
import { dtypeName, typedArrayFor, type AnyTypedArray, type DType } from './dtype.js';
import type { Generator } from './random.js';
import { SCOPED, track } from './scope.js';
import { checkDevice, cudaIsAvailable, DeviceError, isDevice, type Device } from './device.js';

export type { Device };

export type Shape = readonly number[];
export type TensorOrScalar = Tensor | number;

/** The memory-format option of contiguous and clone, made once (no object per call). */
const MEMORY_FORMAT_OPTION = {
  contiguous: { memoryFormat: 'contiguous' },
  preserve: { memoryFormat: 'preserve' },
  channelsLast: { memoryFormat: 'channelsLast' },
} as const satisfies Record<MemoryFormat, { memoryFormat: MemoryFormat }>;

/** Wraps a native tensor result (a handle) as a Tensor, tracked by the current scope. */
export class Tensor {
  /** The native handle; pass it to `aten(...)` calls. */
  readonly handle: TensorHandle;

  constructor(handle: TensorHandle) {
    this.handle = handle;
    // The safety net: a tensor never disposed is released once this object is collected.
    native.track(this, handle);
    track(this);
  }

  // ---- metadata -------------------------------------------------------------------------------
  /** The sizes of each dimension (a fresh array). */
  get shape(): number[] {
    return native.sizes(this.handle);
  }
  get ndim(): number {
    return this.shape.length;
  }
  get numel(): number {
    return this.shape.reduce((a, b) => a * b, 1);
  }
  get dtype(): DType {
    return dtypeName(native.dtype(this.handle));
  }
  get device(): Device {
    return native.device(this.handle) as Device;
  }
  get strides(): number[] {
    return native.strides(this.handle);
  }
  size(dim: number): number {
    const shape = this.shape;
    const d = dim < 0 ? dim + shape.length : dim;
    if (d < 0 || d >= shape.length) throw new RangeError(`size(${dim}): tensor has ${shape.length} dimensions`);
    return shape[d]!;
  }
  isContiguous(): boolean {
    return native.isContiguous(this.handle);
  }
  isChannelsLast(): boolean {
    return native.isChannelsLast(this.handle);
  }
  /** Identifies the memory the tensor views: equal for views of one storage and in-place results. */
  storageId(): string {
    return native.storageId(this.handle);
  }
  get isDisposed(): boolean {
    return !native.isLive(this.handle);
  }
  /** Frees the native tensor now. Idempotent. Autograd graphs keep what they need. */
  dispose(): void {
    native.dispose(this.handle);
  }
  toString(): string {
    if (this.isDisposed) return 'Tensor(disposed)';
    return `Tensor(shape=[${this.shape.join(', ')}], dtype=${this.dtype}, device=${this.device}${this.requiresGrad ? ', requiresGrad' : ''})`;
  }

  // ---- autograd -------------------------------------------------------------------------------
  get requiresGrad(): boolean {
    return native.requiresGrad(this.handle);
  }
  /** Only leaf tensors (not results of recorded operations) can change it. */
  set requiresGrad(flag: boolean) {
    native.setRequiresGrad(this.handle, flag);
  }
  requiresGrad_(flag = true): this {
    native.setRequiresGrad(this.handle, flag);
    return this;
  }
  /** The accumulated gradient (a new handle to it), or null. */
  get grad(): Tensor | null {
    const g = native.grad(this.handle);
    return g === null ? null : new Tensor(g);
  }
  set grad(g: Tensor | null) {
    native.setGrad(this.handle, g ? g.handle : null);
  }
  get isLeaf(): boolean {
    return native.isLeaf(this.handle);
  }
  /** Clears the gradient (sets it to none, as PyTorch's `zero_grad(set_to_none=True)`). */
  zeroGrad(): void {
    native.setGrad(this.handle, null);
  }
  /**
   * Back-propagates from this tensor. A non-scalar tensor needs `gradient`. Pass
   * `retainGraph` to backward through the same graph again (GAN steps), and `inputs` to
   * accumulate into those leaves only (running only the part of the graph that leads to them).
   */
  backward(
    gradient?: Tensor | null,
    opts: { retainGraph?: boolean; createGraph?: boolean; inputs?: Tensor[] } = {},
  ): void {
    native.backward(
      [this.handle],
      [gradient?.handle ?? null],
      opts.retainGraph ?? false,
      opts.createGraph ?? false,
      opts.inputs?.map((t) => t.handle),
    );
  }
  detach(): Tensor {
    return aten.detach(this);
  }

  // ---- data out -------------------------------------------------------------------------------
  /** A copy of the elements in row-major order, in the dtype's typed array (16-bit floats as raw bits). */
  data(): AnyTypedArray {
    return typedArrayFor(this.dtype, native.toBuffer(this.handle));
  }
  /** The raw little-endian bytes of the elements in row-major order. */
  bytes(): Uint8Array {
    return new Uint8Array(native.toBuffer(this.handle));
  }
  /** The elements as a Float32Array (converting when needed). */
  toFloat32Array(): Float32Array {
    if (this.dtype === 'float32') return this.data() as Float32Array;
    const f = this.to({ dtype: 'float32' });
    try {
      return f.data() as Float32Array;
    } finally {
      f.dispose();
    }
  }
  /** The elements as plain numbers, row-major (16-bit floats decoded). */
  toArray(): number[] {
    const dtype = this.dtype;
    if (dtype === 'float16' || dtype === 'bfloat16') return Array.from(this.toFloat32Array());
    const d = this.data();
    return d instanceof BigInt64Array ? Array.from(d, Number) : Array.from(d as ArrayLike<number>);
  }
  /** The value of a one-element tensor. */
  item(): number {
    const v = native.item(this.handle);
    return typeof v === 'boolean' ? Number(v) : v;
  }

  // ---- conversion and memory layout ----------------------------------------------------------
  /**
   * A copy in another dtype, device or memory format (this tensor itself when nothing changes and
   * `copy` is not set). `nonBlocking` lets a copy from pinned host memory to a GPU (or back) run
   * asynchronously to the host, as PyTorch's `non_blocking=True`.
   */
  to(
    target:
      | DType
      | Device
      | { dtype?: DType; device?: Device; memoryFormat?: MemoryFormat; copy?: boolean; nonBlocking?: boolean },
  ): Tensor {
    const o =
      typeof target === 'string' ? (isDevice(target) ? { device: target } : { dtype: target as DType }) : target;
    if (o.device !== undefined) checkDevice(o.device);
    return aten.toDtypeLayout(this, o);
  }
  float(): Tensor {
    return this.to('float32');
  }
  double(): Tensor {
    return this.to('float64');
  }
  long(): Tensor {
    return this.to('int64');
  }
  cpu(): Tensor {
    return this.to('cpu');
  }
  /**
   * A copy in page-locked (pinned) host memory, from which `to({ device: 'cuda', nonBlocking: true })`
   * copies asynchronously. Needs a CUDA libtorch and a GPU; the tensor must be on the CPU.
   */
  pinMemory(): Tensor {
    if (!cudaIsAvailable()) {
      throw new DeviceError(
        'pinMemory: pinned (page-locked) host memory needs CUDA, and this libtorch has none (or sees no GPU); pin only when copying to a CUDA device',
      );
    }
    if (this.device !== 'cpu')
      throw new TypeError(`pinMemory: only CPU tensors can be pinned, this one is on ${this.device}`);
    return aten.pinMemory(this);
  }
  /** Whether the tensor lives in pinned host memory. */
  isPinned(): boolean {
    return aten.isPinned(this);
  }
  contiguous(memoryFormat: MemoryFormat = 'contiguous'): Tensor {
    return aten.contiguous(this, MEMORY_FORMAT_OPTION[memoryFormat]);
  }
  clone(memoryFormat: MemoryFormat = 'preserve'): Tensor {
    return aten.clone(this, MEMORY_FORMAT_OPTION[memoryFormat]);
  }

  // ---- elementwise math (broadcasting) ------------------------------------------------------
  // alpha is a keyword-only argument of the Tensor overloads: an options object only when it is not 1.
  add(other: TensorOrScalar, alpha = 1): Tensor {
    if (typeof other === 'number') return aten.addScalar(this, other, alpha);
    return alpha === 1 ? aten.addTensor(this, other) : aten.addTensor(this, other, { alpha });
  }
  sub(other: TensorOrScalar, alpha = 1): Tensor {
    if (typeof other === 'number') return aten.subScalar(this, other, alpha);
    return alpha === 1 ? aten.subTensor(this, other) : aten.subTensor(this, other, { alpha });
  }
  /** `scalar - this`. */
  rsub(scalar: number): Tensor {
    return aten.rsubScalar(this, scalar);
  }
  mul(other: TensorOrScalar): Tensor {
    return typeof other === 'number' ? aten.mulScalar(this, other) : aten.mulTensor(this, other);
  }
  div(other: TensorOrScalar): Tensor {
    return typeof other === 'number' ? aten.divScalar(this, other) : aten.divTensor(this, other);
  }
  pow(exponent: TensorOrScalar): Tensor {
    return typeof exponent === 'number' ? aten.powTensorScalar(this, exponent) : aten.powTensorTensor(this, exponent);
  }
  maximum(other: Tensor): Tensor {
    return aten.maximum(this, other);
  }
  minimum(other: Tensor): Tensor {
    return aten.minimum(this, other);
  }
  neg(): Tensor {
    return aten.neg(this);
  }
  abs(): Tensor {
    return aten.abs(this);
  }
  exp(): Tensor {
    return aten.exp(this);
  }
  log(): Tensor {
    return aten.log(this);
  }
  log1p(): Tensor {
    return aten.log1p(this);
  }
  sqrt(): Tensor {
    return aten.sqrt(this);
  }
  rsqrt(): Tensor {
    return aten.rsqrt(this);
  }
  square(): Tensor {
    return aten.square(this);
  }
  sin(): Tensor {
    return aten.sin(this);
  }
  cos(): Tensor {
    return aten.cos(this);
  }
  sign(): Tensor {
    return aten.sign(this);
  }
  floor(): Tensor {
    return aten.floor(this);
  }
  ceil(): Tensor {
    return aten.ceil(this);
  }
  round(): Tensor {
    return aten.round(this);
  }
  reciprocal(): Tensor {
    return aten.reciprocal(this);
  }
  tanh(): Tensor {
    return aten.tanh(this);
  }
  sigmoid(): Tensor {
    return aten.sigmoid(this);
  }
  relu(): Tensor {
    return aten.relu(this);
  }
  clamp(min: number | null, max: number | null = null): Tensor {
    return aten.clamp(this, min, max);
  }

  // ---- comparison and logic -----------------------------------------------------------------
  eq(o: TensorOrScalar): Tensor {
    return typeof o === 'number' ? aten.eqScalar(this, o) : aten.eqTensor(this, o);
  }
  ne(o: TensorOrScalar): Tensor {
    return typeof o === 'number' ? aten.neScalar(this, o) : aten.neTensor(this, o);
  }
  lt(o: TensorOrScalar): Tensor {
    return typeof o === 'number' ? aten.ltScalar(this, o) : aten.ltTensor(this, o);
  }
  le(o: TensorOrScalar): Tensor {
    return typeof o === 'number' ? aten.leScalar(this, o) : aten.leTensor(this, o);
  }
  gt(o: TensorOrScalar): Tensor {
    return typeof o === 'number' ? aten.gtScalar(this, o) : aten.gtTensor(this, o);
  }
  ge(o: TensorOrScalar): Tensor {
    return typeof o === 'number' ? aten.geScalar(this, o) : aten.geTensor(this, o);
  }
  logicalNot(): Tensor {
    return aten.logicalNot(this);
  }
  logicalAnd(o: Tensor): Tensor {
    return aten.logicalAnd(this, o);
  }
  logicalOr(o: Tensor): Tensor {
    return aten.logicalOr(this, o);
  }
  maskedFill(mask: Tensor, value: number): Tensor {
    return aten.maskedFillScalar(this, mask, value);
  }

  // ---- in place (optimizers, initialisers) ---------------------------------------------------
  add_(other: TensorOrScalar, alpha = 1): this {
    if (typeof other === 'number') return aten.addScalar_(this, other, alpha);
    return alpha === 1 ? aten.addTensor_(this, other) : aten.addTensor_(this, other, { alpha });
  }
  sub_(other: TensorOrScalar, alpha = 1): this {
    if (typeof other === 'number') return aten.subScalar_(this, other, alpha);
    return alpha === 1 ? aten.subTensor_(this, other) : aten.subTensor_(this, other, { alpha });
  }
  mul_(other: TensorOrScalar): this {
    return typeof other === 'number' ? aten.mulScalar_(this, other) : aten.mulTensor_(this, other);
  }
  div_(other: TensorOrScalar): this {
    return typeof other === 'number' ? aten.divScalar_(this, other) : aten.divTensor_(this, other);
  }
  /** this += value * t1 * t2 */
  addcmul_(t1: Tensor, t2: Tensor, value = 1): this {
    return value === 1 ? aten.addcmul_(this, t1, t2) : aten.addcmul_(this, t1, t2, { value });
  }
  /** this += value * t1 / t2 */
  addcdiv_(t1: Tensor, t2: Tensor, value = 1): this {
    return value === 1 ? aten.addcdiv_(this, t1, t2) : aten.addcdiv_(this, t1, t2, { value });
  }
  /** this += weight * (end - this) */
  lerp_(end: Tensor, weight: number): this {
    return aten.lerpScalar_(this, end, weight);
  }
  relu_(): this {
    return aten.relu_(this);
  }
  sqrt_(): this {
    return aten.sqrt_(this);
  }
  clamp_(min: number | null, max: number | null = null): this {
    return aten.clamp_(this, min, max);
  }
  copy_(src: Tensor): this {
    return aten.copy_(this, src);
  }
  zero_(): this {
    return aten.zero_(this);
  }
  fill_(value: number): this {
    return aten.fillScalar_(this, value);
  }
  normal_(mean = 0, std = 1, generator?: Generator): this {
    return generator ? aten.normal_(this, mean, std, { generator }) : aten.normal_(this, mean, std);
  }
  uniform_(from = 0, to = 1, generator?: Generator): this {
    return generator ? aten.uniform_(this, from, to, { generator }) : aten.uniform_(this, from, to);
  }

  // ---- reductions ---------------------------------------------------------------------------
  sum(dim?: number | number[], keepdim = false): Tensor {
    return dim === undefined ? aten.sum(this) : aten.sumDimIntList(this, dim, keepdim);
  }
  mean(dim?: number | number[], keepdim = false): Tensor {
    return dim === undefined ? aten.mean(this) : aten.meanDim(this, dim, keepdim);
  }
  prod(): Tensor {
    return aten.prod(this);
  }
  /** Unbiased (correction 1, libtorch's default) by default, as PyTorch. */
  var(dim?: number | number[], opts: { correction?: number; keepdim?: boolean } = {}): Tensor {
    return aten.varCorrection(this, dim ?? null, opts);
  }
  std(dim?: number | number[], opts: { correction?: number; keepdim?: boolean } = {}): Tensor {
    return aten.stdCorrection(this, dim ?? null, opts);
  }
  norm(p = 2, dim?: number | number[], keepdim = false): Tensor {
    return aten.normScalarOptDim(this, p, dim ?? [], keepdim);
  }
  logsumexp(dim: number | number[], keepdim = false): Tensor {
    return aten.logsumexp(this, dim, keepdim);
  }
  max(): Tensor {
    return aten.max(this);
  }
  min(): Tensor {
    return aten.min(this);
  }
  /** Values and indices of the maximum along `dim`. */
  maxDim(dim: number, keepdim = false): { values: Tensor; indices: Tensor } {
    const [values, indices] = aten.maxDim(this, dim, keepdim);
    return { values, indices };
  }
  minDim(dim: number, keepdim = false): { values: Tensor; indices: Tensor } {
    const [values, indices] = aten.minDim(this, dim, keepdim);
    return { values, indices };
  }
  argmax(dim?: number, keepdim = false): Tensor {
    return aten.argmax(this, dim, keepdim);
  }
  argmin(dim?: number, keepdim = false): Tensor {
    return aten.argmin(this, dim, keepdim);
  }
  all(): Tensor {
    return aten.all(this);
  }
  any(): Tensor {
    return aten.any(this);
  }

  // ---- linear algebra ----------------------------------------------------------------------
  matmul(other: Tensor): Tensor {
    return aten.matmul(this, other);
  }
  mm(other: Tensor): Tensor {
    return aten.mm(this, other);
  }
  bmm(other: Tensor): Tensor {
    return aten.bmm(this, other);
  }
  /** Transpose of a matrix. */
  t(): Tensor {
    return aten.t(this);
  }
  diagonal(offset = 0, dim1 = 0, dim2 = 1): Tensor {
    return aten.diagonal(this, offset, dim1, dim2);
  }

  // ---- shape, indexing, slicing ------------------------------------------------------------
  reshape(...shape: number[]): Tensor {
    return aten.reshape(this, shape);
  }
  view(...shape: number[]): Tensor {
    return aten.view(this, shape);
  }
  permute(...dims: number[]): Tensor {
    return aten.permute(this, dims);
  }
  transpose(dim0: number, dim1: number): Tensor {
    return aten.transposeInt(this, dim0, dim1);
  }
  flatten(startDim = 0, endDim = -1): Tensor {
    return aten.flattenUsingInts(this, startDim, endDim);
  }
  squeeze(dim?: number): Tensor {
    return dim === undefined ? aten.squeeze(this) : aten.squeezeDim(this, dim);
  }
  unsqueeze(dim: number): Tensor {
    return aten.unsqueeze(this, dim);
  }
  expand(...shape: number[]): Tensor {
    return aten.expand(this, shape);
  }
  expandAs(other: Tensor): Tensor {
    return this.expand(...other.shape);
  }
  repeat(...repeats: number[]): Tensor {
    return aten.repeat(this, repeats);
  }
  narrow(dim: number, start: number, length: number): Tensor {
    return aten.narrow(this, dim, start, length);
  }
  /** Python's `t[..., start:end:step, ...]` along one dimension (a view). */
  slice(dim: number, start: number | null = null, end: number | null = null, step = 1): Tensor {
    return aten.sliceTensor(this, dim, start, end, step);
  }
  /** Python's `t[..., i, ...]` along one dimension (a view without that dimension). */
  select(dim: number, index: number): Tensor {
    return aten.selectInt(this, dim, index);
  }
  indexSelect(dim: number, index: Tensor): Tensor {
    return aten.indexSelect(this, dim, index);
  }
  /** Advanced indexing: `t[i0, i1, ...]` with index tensors (null keeps a dimension whole). */
  index(indices: (Tensor | null)[]): Tensor {
    return aten.indexTensor(this, indices);
  }
  indexPut_(indices: (Tensor | null)[], values: Tensor, accumulate = false): this {
    return aten.indexPut_(this, indices, values, accumulate);
  }
  gather(dim: number, index: Tensor): Tensor {
    return aten.gather(this, dim, index);
  }
  flip(...dims: number[]): Tensor {
    return aten.flip(this, dims);
  }
  /** Rotates by k quarter turns in the plane of `dims`, from the first towards the second, as `torch.rot90`. */
  rot90(k = 1, dims: [number, number] = [0, 1]): Tensor {
    if (!Number.isInteger(k)) throw new TypeError(`rot90: k must be an integer, got ${k}`);
    const n = this.ndim;
    if (
      dims.length !== 2 ||
      !dims.every((d) => Number.isInteger(d) && d >= -n && d < n) ||
      (dims[0] - dims[1]) % n === 0
    ) {
      throw new TypeError(`rot90: dims must be two different dimensions of a ${n}-D tensor, got [${dims.join(', ')}]`);
    }
    return aten.rot90(this, k, dims);
  }
  split(size: number, dim = 0): Tensor[] {
    return aten.splitTensor(this, size, dim);
  }
  chunk(chunks: number, dim = 0): Tensor[] {
    return aten.chunk(this, chunks, dim);
  }
}
(Tensor.prototype as unknown as Record<symbol, boolean>)[SCOPED] = true;

// The generated operators wrap their results through bind.ts, which holds no runtime import of this
// module (no import cycle): it is handed the constructor here, once.
registerTensor((handle) => new Tensor(handle));
