// Walking a module tree into an ONNX graph: each module class has an emitter that adds the nodes
// of its forward (in eval mode) to the graph and returns its output's name; modules with children
// emit them through the walker. A module without an emitter is one error naming it and its path.
import * as torch from '../torch/index.js';
import type { Module } from '../nn/index.js';
import type { GraphBuilder } from './onnx_graph.js';

type AnyModule = Module<any, any>;

/** A module tree or request that cannot become an ONNX file (user-fixable: one line). */
export class ExportError extends RangeError {
  override name = 'ExportError';
}

export class UnsupportedLayerError extends ExportError {
  override name = 'UnsupportedLayerError';
  constructor(
    readonly path: string,
    readonly layer: string,
    detail: string,
  ) {
    super(`cannot export layer '${path || '(the model)'}' (${layer}) to ONNX: ${detail}`);
  }
}

/** Emits module `m` (named `path` in the tree) reading the graph values `inputs`; returns its output value. */
export type Emitter<M extends AnyModule = AnyModule> = (
  w: ModuleWalker,
  m: M,
  path: string,
  inputs: string[],
) => string;

export interface EmitterEntry {
  type: abstract new (...args: any[]) => AnyModule;
  emit: Emitter<any>;
}

/** Pairs a module class with its emitter (matched by exact class: a subclass needs its own). */
export function emitter<M extends AnyModule>(type: abstract new (...args: any[]) => M, emit: Emitter<M>): EmitterEntry {
  return { type, emit };
}

export class ModuleWalker {
  private readonly emitters = new Map<unknown, Emitter<any>>();

  constructor(
    readonly g: GraphBuilder,
    entries: readonly EmitterEntry[],
  ) {
    for (const e of entries) this.emitters.set(e.type, e.emit);
  }

  /** The names of the module classes that can be exported. */
  get supported(): string[] {
    return [...this.emitters.keys()].map((t) => (t as { name: string }).name).sort();
  }

  emit(m: AnyModule, path: string, ...inputs: string[]): string {
    const fn = this.emitters.get(m.constructor);
    if (!fn)
      throw new UnsupportedLayerError(
        path,
        m.constructor.name,
        `no ONNX form is defined for it (exportable: ${this.supported.join(', ')})`,
      );
    if (m.training)
      throw new ExportError(
        `layer '${path || '(the model)'}' (${m.constructor.name}) is in training mode: export the module after eval() / freezeForInference()`,
      );
    return fn(this, m, path, inputs);
  }

  /** Emits the child registered under `name` (its path is path.name). */
  emitChild(parent: AnyModule, path: string, name: string, ...inputs: string[]): string {
    return this.emit(parent.child(name), join(path, name), ...inputs);
  }

  /** Emits `child`, a module registered in `parent` (found by identity, for its name). */
  emitMember(parent: AnyModule, path: string, child: AnyModule, ...inputs: string[]): string {
    for (const [name, m] of parent.namedChildren())
      if (m === child) return this.emit(child, join(path, name), ...inputs);
    throw new Error(
      `ONNX export: ${child.constructor.name} is not a registered child of '${path || '(the model)'}' (${parent.constructor.name})`,
    );
  }

  /** A parameter (or parametrized value such as spectral norm's weight, or buffer) of `m` as a float initializer named path.name. */
  weight(m: AnyModule, path: string, name: string): string {
    const t = m.param(name);
    const { shape, values } = floatValues(t);
    return this.g.weight(join(path, name), shape, values);
  }

  /** Like weight(), or null when the module has none (a convolution without bias). */
  optionalWeight(m: AnyModule, path: string, name: string): string | null {
    return m.optionalParam(name) ? this.weight(m, path, name) : null;
  }
}

export function join(path: string, name: string): string {
  return path ? `${path}.${name}` : name;
}

/** A tensor's elements as float32, row-major, and its shape. */
export function floatValues(t: torch.Tensor): { shape: number[]; values: Float32Array } {
  const values = torch.tidy(() => t.detach().to({ dtype: 'float32', device: 'cpu' }).contiguous().toFloat32Array());
  return { shape: [...t.shape], values };
}
