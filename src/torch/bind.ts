// The runtime of the generated operator layer (generated/aten.ts). Each operator is resolved once,
// when that module loads, against the libtorch in use: the generated functions pass the arguments
// that every known libtorch shares, in the order of the schema snapshots, and an operator whose
// schema here places them elsewhere (an argument added in between by another libtorch) has them
// moved by name. A call is then the boxed call it was by hand: one array, one native call.
import { native, type NativeArg, type NativeResult } from './native.js';
import { opId, MEMORY_FORMAT, type MemoryFormat } from './ops.js';
import { argumentNames } from './schema.js';
import { dtypeCode, type DType } from './dtype.js';
import type { Tensor } from './tensor.js';

export interface OpBinding {
  readonly qualified: string;
  /** The addon's operator id (-1 when it cannot be called here: see error). */
  readonly id: number;
  /**
   * null when the generated arguments are the schema's first ones, in order (the fast path);
   * otherwise each generated argument's position in this libtorch's schema.
   */
  readonly remap: readonly number[] | null;
  /** Why this libtorch cannot call the operator as generated; thrown at the first call. */
  readonly error: string | null;
}

const bindings: OpBinding[] = [];

let makeTensor: ((handle: number) => Tensor) | null = null;

/** tensor.ts hands over the Tensor constructor when it loads (so this module never imports it at run time). */
export function registerTensor(make: (handle: number) => Tensor): void {
  makeTensor = make;
}

/** A native tensor result as a Tensor. */
export function wrap(result: NativeResult): Tensor {
  if (typeof result !== 'number') {
    throw new TypeError(`expected a tensor result, got ${Array.isArray(result) ? 'a list' : String(result)}`);
  }
  return makeTensor!(result);
}

/** A native list of tensors as Tensors. */
export function wrapList(result: NativeResult): Tensor[] {
  if (!Array.isArray(result)) throw new TypeError('expected a list of tensors');
  return result.map((r) => wrap(r));
}

/** Resolves `qualified` once and places the generated arguments `names` by name in its schema. */
export function bindOp(qualified: string, names: readonly string[]): OpBinding {
  let binding: OpBinding;
  try {
    const id = opId(qualified);
    const live = argumentNames(native.opSchema(id));
    const positions = names.map((n) => live.indexOf(n));
    const lost = names.filter((_, i) => positions[i]! < 0);
    if (lost.length > 0) {
      binding = {
        qualified,
        id: -1,
        remap: positions,
        error:
          `${qualified}: this libtorch's schema (${native.opSchema(id)}) lacks the argument(s) ${lost.join(', ')} ` +
          'that the generated operator layer passes; regenerate it with npm run generate:ops (scripts/generate-ops.ts)',
      };
    } else {
      binding = { qualified, id, remap: positions.every((p, i) => p === i) ? null : positions, error: null };
    }
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    binding = { qualified, id: -1, remap: [], error: reason };
  }
  bindings.push(binding);
  return binding;
}

/** Calls a bound operator with its generated arguments (`discard`: drop the result, for in-place operators). */
export function invoke(b: OpBinding, args: NativeArg[], discard?: boolean): NativeResult {
  if (b.remap === null) return native.callOp(b.id, args, discard);
  if (b.error !== null) throw new TypeError(b.error);
  const placed: NativeArg[] = [];
  for (let i = 0; i < args.length; i++) placed[b.remap[i]!] = args[i];
  for (let i = 0; i < placed.length; i++) if (!(i in placed)) placed[i] = undefined;
  return native.callOp(b.id, placed, discard);
}

/** Every operator the generated layer bound, and whether this libtorch can call it. */
export function boundOperators(): readonly OpBinding[] {
  return bindings;
}

// Argument conversions the generated functions use.

export function handles(ts: readonly Tensor[]): number[] {
  return ts.map((t) => t.handle);
}

export function optionalHandles(ts: readonly (Tensor | null | undefined)[]): (number | null)[] {
  return ts.map((t) => (t == null ? null : t.handle));
}

export function dtypeArg(d: DType | null | undefined): number | null | undefined {
  return d == null ? d : dtypeCode(d);
}

export function memoryFormatArg(m: MemoryFormat | null | undefined): number | null | undefined {
  return m == null ? m : MEMORY_FORMAT[m];
}

/** c10::Layout codes (dense tensors only: dermosynth makes no sparse ones). */
export const LAYOUT = { strided: 0 } as const;
export type Layout = keyof typeof LAYOUT;

export function layoutArg(l: Layout | null | undefined): number | null | undefined {
  return l == null ? l : LAYOUT[l];
}
