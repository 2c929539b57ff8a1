// Any ATen operator by name with Tensors in and out: `torch.call('aten::lerp.Scalar', a, b, 0.5)`.
// Arguments follow the operator's schema (`torch.schemaOf`); results are converted by its return types.
// The operators dermosynth uses are typed in `torch.ops` (generated/aten.ts); this is the way to any other.
import { native, type NativeArg, type NativeResult } from './native.js';
import { opId } from './ops.js';
import { Tensor } from './tensor.js';
import { Generator } from './random.js';

const resolved = new Map<string, { id: number; returns: string[] }>();

function resolve(qualified: string): { id: number; returns: string[] } {
  let r = resolved.get(qualified);
  if (!r) {
    const id = opId(qualified);
    r = { id, returns: native.opReturns(id) };
    resolved.set(qualified, r);
  }
  return r;
}

function toNative(v: unknown): NativeArg {
  if (v instanceof Tensor) return v.handle;
  if (v instanceof Generator) return v.handle;
  if (Array.isArray(v)) return v.map(toNative);
  return v as NativeArg;
}

function fromNative(type: string, v: NativeResult): unknown {
  if (v === null || v === undefined) return null;
  if (type === 'Tensor' || type === 'Tensor?') return new Tensor(v as number);
  if (type === 'Tensor[]' && Array.isArray(v)) return v.map((h) => new Tensor(h as number));
  return v;
}

export function call(qualified: string, ...args: unknown[]): unknown {
  const { id, returns } = resolve(qualified);
  const result = native.callOp(id, args.map(toNative));
  if (returns.length === 0) return undefined;
  if (returns.length === 1) return fromNative(returns[0]!, result);
  return (result as NativeResult[]).map((r, i) => fromNative(returns[i]!, r));
}
