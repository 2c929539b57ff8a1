// The Tensor class: a typed handle to a libtorch tensor, with PyTorch's method names in camelCase.
// Every method is one boxed operator call; in-place methods end in `_` and return `this`.
import { native, type NativeArg, type NativeResult, type TensorHandle } from './native.js';
import { aten, MEMORY_FORMAT, type MemoryFormat } from './ops.js';
import { dtypeCode, dtypeName, typedArrayFor, type AnyTypedArray, type DType } from './dtype.js';
import { SCOPED, track } from './scope.js';
import { checkDevice, cudaIsAvailable, DeviceError, isDevice, type Device } from './device.js';

export type { Device };

export type Shape = readonly number[];
export type TensorOrScalar = Tensor | number;

const A = {
  add: aten('add.Tensor'),
  addS: aten('add.Scalar'),
  add_: aten('add_.Tensor'),
  addS_: aten('add_.Scalar'),
  sub: aten('sub.Tensor'),
  subS: aten('sub.Scalar'),
  sub_: aten('sub_.Tensor'),
  subS_: aten('sub_.Scalar'),
  mul: aten('mul.Tensor'),
  mulS: aten('mul.Scalar'),
  mul_: aten('mul_.Tensor'),
  mulS_: aten('mul_.Scalar'),
  div: aten('div.Tensor'),
  divS: aten('div.Scalar'),
  div_: aten('div_.Tensor'),
  divS_: aten('div_.Scalar'),
  pow: aten('pow.Tensor_Tensor'),
  powS: aten('pow.Tensor_Scalar'),
  rsub: aten('rsub.Scalar'),
  neg: aten('neg'),
  abs: aten('abs'),
  exp: aten('exp'),
  log: aten('log'),
  sqrt: aten('sqrt'),
  rsqrt: aten('rsqrt'),
  sin: aten('sin'),
  cos: aten('cos'),
  sign: aten('sign'),
  floor: aten('floor'),
  ceil: aten('ceil'),
  round: aten('round'),
  reciprocal: aten('reciprocal'),
  square: aten('square'),
  tanh: aten('tanh'),
  sigmoid: aten('sigmoid'),
  relu: aten('relu'),
  relu_: aten('relu_'),
  log1p: aten('log1p'),
  maximum: aten('maximum'),
  minimum: aten('minimum'),
  eq: aten('eq.Tensor'),
  eqS: aten('eq.Scalar'),
  ne: aten('ne.Tensor'),
  neS: aten('ne.Scalar'),
  lt: aten('lt.Tensor'),
  ltS: aten('lt.Scalar'),
  le: aten('le.Tensor'),
  leS: aten('le.Scalar'),
  gt: aten('gt.Tensor'),
  gtS: aten('gt.Scalar'),
  ge: aten('ge.Tensor'),
  geS: aten('ge.Scalar'),
  logicalNot: aten('logical_not'),
  logicalAnd: aten('logical_and'),
  logicalOr: aten('logical_or'),
  clamp: aten('clamp'),
  clamp_: aten('clamp_'),
  lerp_: aten('lerp_.Scalar'),
  addcmul_: aten('addcmul_'),
  addcdiv_: aten('addcdiv_'),
  sqrt_: aten('sqrt_'),
  copy_: aten('copy_'),
  zero_: aten('zero_'),
  fill_: aten('fill_.Scalar'),
  normal_: aten('normal_'),
  uniform_: aten('uniform_'),
  sum: aten('sum'),
  sumDim: aten('sum.dim_IntList'),
  mean: aten('mean'),
  meanDim: aten('mean.dim'),
  prod: aten('prod'),
  max: aten('max'),
  maxDim: aten('max.dim'),
  min: aten('min'),
  minDim: aten('min.dim'),
  argmax: aten('argmax'),
  argmin: aten('argmin'),
  var: aten('var.correction'),
  std: aten('std.correction'),
  norm: aten('norm.ScalarOpt_dim'),
  logsumexp: aten('logsumexp'),
  all: aten('all'),
  any: aten('any'),
  matmul: aten('matmul'),
  mm: aten('mm'),
  bmm: aten('bmm'),
  reshape: aten('reshape'),
  view: aten('view'),
  permute: aten('permute'),
  transpose: aten('transpose.int'),
  flatten: aten('flatten.using_ints'),
  squeeze: aten('squeeze'),
  squeezeDim: aten('squeeze.dim'),
  unsqueeze: aten('unsqueeze'),
  expand: aten('expand'),
  repeat: aten('repeat'),
  narrow: aten('narrow'),
  slice: aten('slice.Tensor'),
  select: aten('select.int'),
  indexSelect: aten('index_select'),
  index: aten('index.Tensor'),
  indexPut_: aten('index_put_'),
  gather: aten('gather'),
  flip: aten('flip'),
  rot90: aten('rot90'),
  split: aten('split.Tensor'),
  chunk: aten('chunk'),
  maskedFill: aten('masked_fill.Scalar'),
  contiguous: aten('contiguous'),
  clone: aten('clone'),
  detach: aten('detach'),
  to: aten('to.dtype_layout'),
  t: aten('t'),
  diagonal: aten('diagonal'),
  pinMemory: aten('pin_memory'),
  isPinned: aten('is_pinned'),
};

/** Wraps a native tensor result (a handle) as a Tensor, tracked by the current scope. */
export function wrap(result: NativeResult): Tensor {
  if (typeof result !== 'number') {
    throw new TypeError(`expected a tensor result, got ${Array.isArray(result) ? 'a list' : String(result)}`);
  }
  return new Tensor(result);
}

export function wrapList(result: NativeResult): Tensor[] {
  if (!Array.isArray(result)) throw new TypeError('expected a list of tensors');
  return result.map((r) => wrap(r));
}

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
    return wrap(A.detach([this.handle]));
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
    return wrap(
      A.to([
        this.handle,
        o.dtype === undefined ? null : dtypeCode(o.dtype),
        null,
        o.device ?? null,
        null,
        o.nonBlocking ?? false,
        o.copy ?? false,
        o.memoryFormat === undefined ? null : MEMORY_FORMAT[o.memoryFormat],
      ]),
    );
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
    return wrap(A.pinMemory([this.handle, null]));
  }
  /** Whether the tensor lives in pinned host memory. */
  isPinned(): boolean {
    return A.isPinned([this.handle, null]) === true;
  }
  contiguous(memoryFormat: MemoryFormat = 'contiguous'): Tensor {
    return wrap(A.contiguous([this.handle, MEMORY_FORMAT[memoryFormat]]));
  }
  clone(memoryFormat: MemoryFormat = 'preserve'): Tensor {
    return wrap(A.clone([this.handle, MEMORY_FORMAT[memoryFormat]]));
  }

  // ---- elementwise math (broadcasting) ------------------------------------------------------
  add(other: TensorOrScalar, alpha = 1): Tensor {
    return wrap(
      typeof other === 'number' ? A.addS([this.handle, other, alpha]) : A.add([this.handle, other.handle, alpha]),
    );
  }
  sub(other: TensorOrScalar, alpha = 1): Tensor {
    return wrap(
      typeof other === 'number' ? A.subS([this.handle, other, alpha]) : A.sub([this.handle, other.handle, alpha]),
    );
  }
  /** `scalar - this`. */
  rsub(scalar: number): Tensor {
    return wrap(A.rsub([this.handle, scalar, 1]));
  }
  mul(other: TensorOrScalar): Tensor {
    return wrap(typeof other === 'number' ? A.mulS([this.handle, other]) : A.mul([this.handle, other.handle]));
  }
  div(other: TensorOrScalar): Tensor {
    return wrap(typeof other === 'number' ? A.divS([this.handle, other]) : A.div([this.handle, other.handle]));
  }
  pow(exponent: TensorOrScalar): Tensor {
    return wrap(typeof exponent === 'number' ? A.powS([this.handle, exponent]) : A.pow([this.handle, exponent.handle]));
  }
  maximum(other: Tensor): Tensor {
    return wrap(A.maximum([this.handle, other.handle]));
  }
  minimum(other: Tensor): Tensor {
    return wrap(A.minimum([this.handle, other.handle]));
  }
  neg(): Tensor {
    return wrap(A.neg([this.handle]));
  }
  abs(): Tensor {
    return wrap(A.abs([this.handle]));
  }
  exp(): Tensor {
    return wrap(A.exp([this.handle]));
  }
  log(): Tensor {
    return wrap(A.log([this.handle]));
  }
  log1p(): Tensor {
    return wrap(A.log1p([this.handle]));
  }
  sqrt(): Tensor {
    return wrap(A.sqrt([this.handle]));
  }
  rsqrt(): Tensor {
    return wrap(A.rsqrt([this.handle]));
  }
  square(): Tensor {
    return wrap(A.square([this.handle]));
  }
  sin(): Tensor {
    return wrap(A.sin([this.handle]));
  }
  cos(): Tensor {
    return wrap(A.cos([this.handle]));
  }
  sign(): Tensor {
    return wrap(A.sign([this.handle]));
  }
  floor(): Tensor {
    return wrap(A.floor([this.handle]));
  }
  ceil(): Tensor {
    return wrap(A.ceil([this.handle]));
  }
  round(): Tensor {
    return wrap(A.round([this.handle]));
  }
  reciprocal(): Tensor {
    return wrap(A.reciprocal([this.handle]));
  }
  tanh(): Tensor {
    return wrap(A.tanh([this.handle]));
  }
  sigmoid(): Tensor {
    return wrap(A.sigmoid([this.handle]));
  }
  relu(): Tensor {
    return wrap(A.relu([this.handle]));
  }
  clamp(min: number | null, max: number | null = null): Tensor {
    return wrap(A.clamp([this.handle, min, max]));
  }

  // ---- comparison and logic -----------------------------------------------------------------
  eq(o: TensorOrScalar): Tensor {
    return wrap(typeof o === 'number' ? A.eqS([this.handle, o]) : A.eq([this.handle, o.handle]));
  }
  ne(o: TensorOrScalar): Tensor {
    return wrap(typeof o === 'number' ? A.neS([this.handle, o]) : A.ne([this.handle, o.handle]));
  }
  lt(o: TensorOrScalar): Tensor {
    return wrap(typeof o === 'number' ? A.ltS([this.handle, o]) : A.lt([this.handle, o.handle]));
  }
  le(o: TensorOrScalar): Tensor {
    return wrap(typeof o === 'number' ? A.leS([this.handle, o]) : A.le([this.handle, o.handle]));
  }
  gt(o: TensorOrScalar): Tensor {
    return wrap(typeof o === 'number' ? A.gtS([this.handle, o]) : A.gt([this.handle, o.handle]));
  }
  ge(o: TensorOrScalar): Tensor {
    return wrap(typeof o === 'number' ? A.geS([this.handle, o]) : A.ge([this.handle, o.handle]));
  }
  logicalNot(): Tensor {
    return wrap(A.logicalNot([this.handle]));
  }
  logicalAnd(o: Tensor): Tensor {
    return wrap(A.logicalAnd([this.handle, o.handle]));
  }
  logicalOr(o: Tensor): Tensor {
    return wrap(A.logicalOr([this.handle, o.handle]));
  }
  maskedFill(mask: Tensor, value: number): Tensor {
    return wrap(A.maskedFill([this.handle, mask.handle, value]));
  }

  // ---- in place (optimizers, initialisers) ---------------------------------------------------
  add_(other: TensorOrScalar, alpha = 1): this {
    if (typeof other === 'number') A.addS_([this.handle, other, alpha], true);
    else A.add_([this.handle, other.handle, alpha], true);
    return this;
  }
  sub_(other: TensorOrScalar, alpha = 1): this {
    if (typeof other === 'number') A.subS_([this.handle, other, alpha], true);
    else A.sub_([this.handle, other.handle, alpha], true);
    return this;
  }
  mul_(other: TensorOrScalar): this {
    if (typeof other === 'number') A.mulS_([this.handle, other], true);
    else A.mul_([this.handle, other.handle], true);
    return this;
  }
  div_(other: TensorOrScalar): this {
    if (typeof other === 'number') A.divS_([this.handle, other], true);
    else A.div_([this.handle, other.handle], true);
    return this;
  }
  /** this += value * t1 * t2 */
  addcmul_(t1: Tensor, t2: Tensor, value = 1): this {
    A.addcmul_([this.handle, t1.handle, t2.handle, value], true);
    return this;
  }
  /** this += value * t1 / t2 */
  addcdiv_(t1: Tensor, t2: Tensor, value = 1): this {
    A.addcdiv_([this.handle, t1.handle, t2.handle, value], true);
    return this;
  }
  /** this += weight * (end - this) */
  lerp_(end: Tensor, weight: number): this {
    A.lerp_([this.handle, end.handle, weight], true);
    return this;
  }
  relu_(): this {
    A.relu_([this.handle], true);
    return this;
  }
  sqrt_(): this {
    A.sqrt_([this.handle], true);
    return this;
  }
  clamp_(min: number | null, max: number | null = null): this {
    A.clamp_([this.handle, min, max], true);
    return this;
  }
  copy_(src: Tensor): this {
    A.copy_([this.handle, src.handle, false], true);
    return this;
  }
  zero_(): this {
    A.zero_([this.handle], true);
    return this;
  }
  fill_(value: number): this {
    A.fill_([this.handle, value], true);
    return this;
  }
  normal_(mean = 0, std = 1, generator?: { handle: NativeArg }): this {
    A.normal_([this.handle, mean, std, generator?.handle ?? null], true);
    return this;
  }
  uniform_(from = 0, to = 1, generator?: { handle: NativeArg }): this {
    A.uniform_([this.handle, from, to, generator?.handle ?? null], true);
    return this;
  }

  // ---- reductions ---------------------------------------------------------------------------
  sum(dim?: number | number[], keepdim = false): Tensor {
    return wrap(dim === undefined ? A.sum([this.handle, null]) : A.sumDim([this.handle, dims(dim), keepdim, null]));
  }
  mean(dim?: number | number[], keepdim = false): Tensor {
    return wrap(dim === undefined ? A.mean([this.handle, null]) : A.meanDim([this.handle, dims(dim), keepdim, null]));
  }
  prod(): Tensor {
    return wrap(A.prod([this.handle, null]));
  }
  /** Unbiased (correction 1) by default, as PyTorch. */
  var(dim?: number | number[], opts: { correction?: number; keepdim?: boolean } = {}): Tensor {
    return wrap(
      A.var([this.handle, dim === undefined ? null : dims(dim), opts.correction ?? 1, opts.keepdim ?? false]),
    );
  }
  std(dim?: number | number[], opts: { correction?: number; keepdim?: boolean } = {}): Tensor {
    return wrap(
      A.std([this.handle, dim === undefined ? null : dims(dim), opts.correction ?? 1, opts.keepdim ?? false]),
    );
  }
  norm(p = 2, dim?: number | number[], keepdim = false): Tensor {
    return wrap(A.norm([this.handle, p, dim === undefined ? [] : dims(dim), keepdim]));
  }
  logsumexp(dim: number | number[], keepdim = false): Tensor {
    return wrap(A.logsumexp([this.handle, dims(dim), keepdim]));
  }
  max(): Tensor {
    return wrap(A.max([this.handle]));
  }
  min(): Tensor {
    return wrap(A.min([this.handle]));
  }
  /** Values and indices of the maximum along `dim`. */
  maxDim(dim: number, keepdim = false): { values: Tensor; indices: Tensor } {
    const [values, indices] = wrapList(A.maxDim([this.handle, dim, keepdim]));
    return { values: values!, indices: indices! };
  }
  minDim(dim: number, keepdim = false): { values: Tensor; indices: Tensor } {
    const [values, indices] = wrapList(A.minDim([this.handle, dim, keepdim]));
    return { values: values!, indices: indices! };
  }
  argmax(dim?: number, keepdim = false): Tensor {
    return wrap(A.argmax([this.handle, dim ?? null, keepdim]));
  }
  argmin(dim?: number, keepdim = false): Tensor {
    return wrap(A.argmin([this.handle, dim ?? null, keepdim]));
  }
  all(): Tensor {
    return wrap(A.all([this.handle]));
  }
  any(): Tensor {
    return wrap(A.any([this.handle]));
  }

  // ---- linear algebra ----------------------------------------------------------------------
  matmul(other: Tensor): Tensor {
    return wrap(A.matmul([this.handle, other.handle]));
  }
  mm(other: Tensor): Tensor {
    return wrap(A.mm([this.handle, other.handle]));
  }
  bmm(other: Tensor): Tensor {
    return wrap(A.bmm([this.handle, other.handle]));
  }
  /** Transpose of a matrix. */
  t(): Tensor {
    return wrap(A.t([this.handle]));
  }
  diagonal(offset = 0, dim1 = 0, dim2 = 1): Tensor {
    return wrap(A.diagonal([this.handle, offset, dim1, dim2]));
  }

  // ---- shape, indexing, slicing ------------------------------------------------------------
  reshape(...shape: number[]): Tensor {
    return wrap(A.reshape([this.handle, shape]));
  }
  view(...shape: number[]): Tensor {
    return wrap(A.view([this.handle, shape]));
  }
  permute(...dims: number[]): Tensor {
    return wrap(A.permute([this.handle, dims]));
  }
  transpose(dim0: number, dim1: number): Tensor {
    return wrap(A.transpose([this.handle, dim0, dim1]));
  }
  flatten(startDim = 0, endDim = -1): Tensor {
    return wrap(A.flatten([this.handle, startDim, endDim]));
  }
  squeeze(dim?: number): Tensor {
    return wrap(dim === undefined ? A.squeeze([this.handle]) : A.squeezeDim([this.handle, dim]));
  }
  unsqueeze(dim: number): Tensor {
    return wrap(A.unsqueeze([this.handle, dim]));
  }
  expand(...shape: number[]): Tensor {
    return wrap(A.expand([this.handle, shape, false]));
  }
  expandAs(other: Tensor): Tensor {
    return this.expand(...other.shape);
  }
  repeat(...repeats: number[]): Tensor {
    return wrap(A.repeat([this.handle, repeats]));
  }
  narrow(dim: number, start: number, length: number): Tensor {
    return wrap(A.narrow([this.handle, dim, start, length]));
  }
  /** Python's `t[..., start:end:step, ...]` along one dimension (a view). */
  slice(dim: number, start: number | null = null, end: number | null = null, step = 1): Tensor {
    return wrap(A.slice([this.handle, dim, start, end, step]));
  }
  /** Python's `t[..., i, ...]` along one dimension (a view without that dimension). */
  select(dim: number, index: number): Tensor {
    return wrap(A.select([this.handle, dim, index]));
  }
  indexSelect(dim: number, index: Tensor): Tensor {
    return wrap(A.indexSelect([this.handle, dim, index.handle]));
  }
  /** Advanced indexing: `t[i0, i1, ...]` with index tensors (null keeps a dimension whole). */
  index(indices: (Tensor | null)[]): Tensor {
    return wrap(A.index([this.handle, indices.map((i) => i?.handle ?? null)]));
  }
  indexPut_(indices: (Tensor | null)[], values: Tensor, accumulate = false): this {
    A.indexPut_([this.handle, indices.map((i) => i?.handle ?? null), values.handle, accumulate], true);
    return this;
  }
  gather(dim: number, index: Tensor): Tensor {
    return wrap(A.gather([this.handle, dim, index.handle, false]));
  }
  flip(...dims: number[]): Tensor {
    return wrap(A.flip([this.handle, dims]));
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
    return wrap(A.rot90([this.handle, k, dims]));
  }
  split(size: number, dim = 0): Tensor[] {
    return wrapList(A.split([this.handle, size, dim]));
  }
  chunk(chunks: number, dim = 0): Tensor[] {
    return wrapList(A.chunk([this.handle, chunks, dim]));
  }
}
(Tensor.prototype as unknown as Record<symbol, boolean>)[SCOPED] = true;

function dims(d: number | number[]): number[] {
  return typeof d === 'number' ? [d] : d;
}
