// The Module base class, as `torch.nn.Module`: named parameters, buffers and children with
// PyTorch's dotted names, train/eval, device moves, state dicts, and parametrizations (used by
// spectral norm) that recompute a parameter from others before each call.
import { Tensor, isDevice, isFloating, keep, noGrad, type Device, type DType } from '../torch/index.js';
import { closeScope, openScope } from '../torch/scope.js';

/** Computes a tensor (e.g. a normalised weight) from the module's own parameters and buffers. */
export interface Parametrization {
  compute(module: Module<any, any>): Tensor;
}

export abstract class Module<In extends unknown[] = [Tensor], Out = Tensor> {
  training = true;
  private readonly params = new Map<string, Tensor | null>();
  private readonly buffers_ = new Map<string, { tensor: Tensor | null; persistent: boolean }>();
  private readonly children_ = new Map<string, Module<any, any>>();
  private readonly parametrizations = new Map<string, { p: Parametrization; value: Tensor | null }>();
  private parametrizationsFrozen = false;

  abstract forward(...input: In): Out;

  /**
   * Runs the module, parametrizations first, then `forward`, as a scope: every tensor made inside
   * is freed when it returns, except what `forward` returns (a tensor, or arrays, plain objects
   * and Maps of tensors). Inputs, parameters and buffers are not the call's to free. Autograd is
   * unaffected: the graph holds its own references to the tensors it saved for backward.
   */
  call(...input: In): Out {
    openScope();
    let out: Out;
    try {
      if (this.parametrizations.size !== 0) this.computeParametrizations();
      out = this.forward(...input);
    } catch (err) {
      closeScope();
      throw err;
    }
    closeScope(out);
    return out;
  }

  private computeParametrizations(): void {
    for (const entry of this.parametrizations.values()) {
      if (this.parametrizationsFrozen && entry.value) continue;
      entry.value?.dispose();
      entry.value = keep(entry.p.compute(this));
    }
  }

  // ---- registration -------------------------------------------------------------------------
  /** Registers a trainable tensor (made a leaf that requires grad, kept out of tidy scopes). */
  registerParameter(name: string, tensor: Tensor | null): Tensor | null {
    this.checkName(name);
    if (tensor) {
      keep(tensor);
      if (!tensor.requiresGrad) tensor.requiresGrad = true;
    }
    this.params.get(name)?.dispose();
    this.params.set(name, tensor);
    return tensor;
  }
  /** Registers a state tensor that is not trained (running statistics, spectral-norm vectors). */
  registerBuffer(name: string, tensor: Tensor | null, persistent = true): Tensor | null {
    this.checkName(name);
    if (tensor) keep(tensor);
    this.buffers_.get(name)?.tensor?.dispose();
    this.buffers_.set(name, { tensor, persistent });
    return tensor;
  }
  registerModule<M extends Module<any, any>>(name: string, module: M): M {
    this.checkName(name);
    this.children_.set(name, module);
    return module;
  }
  /** Replaces parameter `name` by `p.compute(this)` at every call (see spectralNorm). */
  registerParametrization(name: string, p: Parametrization): void {
    this.parametrizations.set(name, { p, value: null });
  }
  removeParameter(name: string): Tensor | null {
    const t = this.params.get(name) ?? null;
    this.params.delete(name);
    return t;
  }

  private checkName(name: string): void {
    if (!name || name.includes('.')) throw new TypeError(`invalid name '${name}': names are non-empty and have no '.'`);
  }

  /** A parameter (or its parametrized value, or a buffer) by local name; throws if absent. */
  param(name: string): Tensor {
    const computed = this.parametrizations.get(name);
    if (computed) {
      if (!computed.value) computed.value = keep(computed.p.compute(this));
      return computed.value;
    }
    const p = this.params.get(name);
    if (p) return p;
    const b = this.buffers_.get(name)?.tensor;
    if (b) return b;
    throw new Error(`${this.constructor.name} has no parameter or buffer '${name}'`);
  }
  /** A parameter, buffer or parametrized value, or null when it is registered as absent. */
  optionalParam(name: string): Tensor | null {
    if (this.parametrizations.has(name) || this.params.get(name) || this.buffers_.get(name)?.tensor)
      return this.param(name);
    return null;
  }
  buffer(name: string): Tensor | null {
    return this.buffers_.get(name)?.tensor ?? null;
  }
  child<M extends Module<any, any>>(name: string): M {
    const m = this.children_.get(name);
    if (!m) throw new Error(`${this.constructor.name} has no submodule '${name}'`);
    return m as M;
  }

  // ---- traversal ----------------------------------------------------------------------------
  *namedChildren(): Generator<[string, Module<any, any>]> {
    yield* this.children_;
  }
  *namedModules(prefix = ''): Generator<[string, Module<any, any>]> {
    yield [prefix, this];
    for (const [name, m] of this.children_) yield* m.namedModules(prefix ? `${prefix}.${name}` : name);
  }
  *namedParameters(prefix = ''): Generator<[string, Tensor]> {
    for (const [name, m] of this.namedModules(prefix)) {
      for (const [pname, p] of m.params) if (p) yield [name ? `${name}.${pname}` : pname, p];
    }
  }
  parameters(): Tensor[] {
    return [...this.namedParameters()].map(([, p]) => p);
  }
  *namedBuffers(prefix = '', persistentOnly = false): Generator<[string, Tensor]> {
    for (const [name, m] of this.namedModules(prefix)) {
      for (const [bname, b] of m.buffers_) {
        if (b.tensor && (!persistentOnly || b.persistent)) yield [name ? `${name}.${bname}` : bname, b.tensor];
      }
    }
  }
  /** Number of trainable elements. */
  numParameters(): number {
    return this.parameters().reduce((n, p) => n + p.numel, 0);
  }
  /** Calls fn on every module, children first (as `nn.Module.apply`). */
  apply(fn: (m: Module<any, any>) => void): this {
    for (const [, m] of this.children_) m.apply(fn);
    fn(this);
    return this;
  }

  // ---- modes and devices --------------------------------------------------------------------
  train(mode = true): this {
    for (const [, m] of this.namedModules()) {
      m.training = mode;
      if (mode) m.parametrizationsFrozen = false;
    }
    return this;
  }
  /**
   * For inference: eval mode, and every parametrized value (spectral norm's weight / sigma)
   * computed once and reused by later calls instead of at each call. In eval mode those values
   * do not change, so the outputs are identical. `train()` undoes it.
   */
  freezeForInference(): this {
    this.eval();
    noGrad(() => {
      for (const [, m] of this.namedModules()) {
        m.parametrizationsFrozen = true;
        for (const entry of m.parametrizations.values()) {
          entry.value?.dispose();
          entry.value = keep(entry.p.compute(m));
        }
      }
    });
    return this;
  }
  eval(): this {
    return this.train(false);
  }
  zeroGrad(): void {
    for (const p of this.parameters()) p.zeroGrad();
  }
  /**
   * Moves or casts every parameter and buffer. Parameters are new tensors afterwards: create
   * optimizers after calling `to`, as PyTorch recommends.
   */
  to(target: Device | DType | { device?: Device; dtype?: DType }): this {
    const o =
      typeof target === 'string' ? (isDevice(target) ? { device: target } : { dtype: target as DType }) : target;
    noGrad(() => {
      for (const [, m] of this.namedModules()) {
        for (const [name, p] of m.params) {
          if (!p) continue;
          const moved = p.to({ device: o.device, dtype: isFloating(p.dtype) ? o.dtype : undefined });
          m.params.set(name, keep(moved.requiresGrad_(true)));
          p.dispose();
        }
        // Parametrized values were computed from the old tensors: recompute on next use.
        for (const entry of m.parametrizations.values()) {
          entry.value?.dispose();
          entry.value = null;
        }
        for (const [name, b] of m.buffers_) {
          if (!b.tensor) continue;
          const moved = b.tensor.to({ device: o.device, dtype: isFloating(b.tensor.dtype) ? o.dtype : undefined });
          m.buffers_.set(name, { tensor: keep(moved), persistent: b.persistent });
          b.tensor.dispose();
        }
      }
    });
    return this;
  }

  // ---- state dicts --------------------------------------------------------------------------
  /** Parameters and persistent buffers by PyTorch name (the module's own tensors, not copies). */
  stateDict(): Map<string, Tensor> {
    return new Map([...this.namedParameters(), ...this.namedBuffers('', true)]);
  }
  /**
   * Copies values into the module's tensors. With strict (default), missing and unexpected keys
   * are errors; shapes must always match. Dtypes are converted to the module's.
   */
  loadStateDict(
    state: Map<string, Tensor> | Record<string, Tensor>,
    opts: { strict?: boolean; source?: string } = {},
  ): { missing: string[]; unexpected: string[] } {
    const entries = state instanceof Map ? state : new Map(Object.entries(state));
    const own = this.stateDict();
    const missing = [...own.keys()].filter((k) => !entries.has(k));
    const unexpected = [...entries.keys()].filter((k) => !own.has(k));
    const where = opts.source ? ` from ${opts.source}` : '';
    if ((opts.strict ?? true) && (missing.length || unexpected.length)) {
      throw new Error(
        `loading ${this.constructor.name} state${where}: ` +
          [
            missing.length ? `missing keys: ${missing.join(', ')}` : '',
            unexpected.length ? `unexpected keys: ${unexpected.join(', ')}` : '',
          ]
            .filter(Boolean)
            .join('; '),
      );
    }
    for (const [key, target] of own) {
      const src = entries.get(key);
      if (!src) continue;
      if (src.shape.join(',') !== target.shape.join(',')) {
        throw new Error(
          `loading ${this.constructor.name} state${where}: '${key}' has shape [${src.shape}] but the module expects [${target.shape}]`,
        );
      }
    }
    noGrad(() => {
      for (const [key, target] of own) {
        const src = entries.get(key);
        if (src) target.copy_(src);
      }
    });
    return { missing, unexpected };
  }
}
