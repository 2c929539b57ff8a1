// The one path to libtorch operators: resolve an ATen operator by name once, call it boxed.
import { native, type NativeArg, type NativeResult } from './native.js';

export type OpCall = (args: readonly NativeArg[], discard?: boolean) => NativeResult;

/**
 * `aten('add.Tensor')` is a function calling `aten::add.Tensor` through the dispatcher.
 * Arguments follow the operator's schema in order (keyword-only ones too); trailing or
 * `undefined` arguments take the schema's defaults.
 */
export function aten(qualified: string): OpCall {
  return op(`aten::${qualified}`);
}

/** The addon's id of an operator named `ns::name` or `ns::name.overload` (resolved once by the addon). */
export function opId(qualified: string): number {
  const dot = qualified.indexOf('.', qualified.indexOf('::') + 2);
  return dot < 0 ? native.opHandle(qualified, '') : native.opHandle(qualified.slice(0, dot), qualified.slice(dot + 1));
}

/** Any registered operator by its full name, e.g. `op('aten::upsample_bilinear2d.vec')`. */
export function op(qualified: string): OpCall {
  let id = -1;
  return (args, discard) => {
    if (id < 0) id = opId(qualified);
    return native.callOp(id, args, discard);
  };
}

/** The schema of an operator, e.g. for error messages and documentation. */
export function schemaOf(qualified: string): string {
  return native.opSchema(opId(qualified));
}

/** Names of every operator this libtorch registers (`aten::add.Tensor`, ...). */
export function listOperators(): string[] {
  return native.listOps();
}

/** c10::MemoryFormat codes. */
export const MEMORY_FORMAT = { contiguous: 0, preserve: 1, channelsLast: 2 } as const;
export type MemoryFormat = keyof typeof MEMORY_FORMAT;

/** at::Reduction codes used by the loss operators. */
export const REDUCTION = { none: 0, mean: 1, sum: 2 } as const;
export type Reduction = keyof typeof REDUCTION;
