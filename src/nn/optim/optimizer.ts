// The Optimizer base: parameter groups with their own hyper-parameters, per-parameter state
// tensors, and a state dict that saves every number and tensor needed for an exact resume.
import { keep, noGrad, type Tensor } from '../../torch/index.js';
import { closeScope, openScope } from '../../torch/scope.js';

export interface ParamGroup<H> {
  params: Tensor[];
  hyper: H;
}

/** A serialisable optimizer state: tensors by flat name, everything else as JSON. */
export interface OptimizerState {
  tensors: Map<string, Tensor>;
  config: { kind: string; groups: { hyper: Record<string, unknown>; size: number }[]; steps: Record<string, number> };
}

export abstract class Optimizer<H extends { lr: number }> {
  readonly groups: ParamGroup<H>[];
  /** State tensors by parameter index (over all groups, in order) and name. */
  protected readonly state = new Map<number, Map<string, Tensor>>();
  /** Step counts by parameter index. */
  protected readonly steps = new Map<number, number>();

  constructor(params: Tensor[] | { params: Tensor[]; hyper?: Partial<H> }[], defaults: H) {
    const groups =
      Array.isArray(params) && params.length > 0 && !('params' in (params[0] as object))
        ? [{ params: params as Tensor[] }]
        : (params as { params: Tensor[]; hyper?: Partial<H> }[]);
    this.groups = groups.map((g) => ({ params: [...g.params], hyper: { ...defaults, ...(g.hyper ?? {}) } }));
    const seen = new Set<Tensor>();
    for (const p of this.groups.flatMap((g) => g.params)) {
      if (seen.has(p)) throw new Error(`${this.constructor.name}: a parameter appears twice`);
      if (!p.requiresGrad)
        throw new Error(`${this.constructor.name}: a parameter does not require grad (${p.toString()})`);
      seen.add(p);
    }
    if (seen.size === 0) throw new Error(`${this.constructor.name}: no parameters to optimise`);
  }

  /** The learning rate of the first group (schedulers set every group). */
  get lr(): number {
    return this.groups[0]!.hyper.lr;
  }

  /** Clears every parameter's gradient. */
  zeroGrad(): void {
    for (const g of this.groups) for (const p of g.params) p.zeroGrad();
  }

  /**
   * Applies one update from the current gradients (parameters without a gradient are skipped).
   * Each parameter's update is a scope of its own, so that its temporaries are freed before the
   * next parameter's are made (one parameter's worth alive at a time, not the model's).
   */
  step(): void {
    noGrad(() => {
      let index = 0;
      for (const group of this.groups) {
        for (const p of group.params) {
          openScope();
          try {
            const grad = p.grad;
            if (grad) {
              this.steps.set(index, (this.steps.get(index) ?? 0) + 1);
              this.update(p, grad, this.stateOf(index), this.steps.get(index)!, group.hyper);
            }
          } finally {
            closeScope();
          }
          index++;
        }
      }
    });
  }

  protected abstract update(param: Tensor, grad: Tensor, state: Map<string, Tensor>, step: number, hyper: H): void;

  private stateOf(index: number): Map<string, Tensor> {
    let s = this.state.get(index);
    if (!s) this.state.set(index, (s = new Map()));
    return s;
  }

  /** Creates a state tensor the first time (kept out of every scope). */
  protected slot(state: Map<string, Tensor>, name: string, create: () => Tensor): Tensor {
    let t = state.get(name);
    if (!t) state.set(name, (t = keep(create())));
    return t;
  }

  stateDict(): OptimizerState {
    const tensors = new Map<string, Tensor>();
    for (const [i, s] of this.state) for (const [name, t] of s) tensors.set(`state.${i}.${name}`, t);
    return {
      tensors,
      config: {
        kind: this.constructor.name,
        groups: this.groups.map((g) => ({ hyper: { ...g.hyper }, size: g.params.length })),
        steps: Object.fromEntries([...this.steps].map(([i, n]) => [String(i), n])),
      },
    };
  }

  /** Restores a state saved by `stateDict` (values are copied; shapes must match the parameters). */
  loadStateDict(saved: OptimizerState): void {
    const { config } = saved;
    if (config.kind !== this.constructor.name)
      throw new Error(`loading optimizer state: saved by ${config.kind}, loading into ${this.constructor.name}`);
    if (
      config.groups.length !== this.groups.length ||
      config.groups.some((g, i) => g.size !== this.groups[i]!.params.length)
    ) {
      throw new Error(
        `loading ${config.kind} state: saved parameter groups [${config.groups.map((g) => g.size)}] differ from [${this.groups.map((g) => g.params.length)}]`,
      );
    }
    const params = this.groups.flatMap((g) => g.params);
    const incoming = new Map<number, Map<string, Tensor>>();
    for (const [key, t] of saved.tensors) {
      const m = /^state\.(\d+)\.(.+)$/.exec(key);
      const index = m ? Number(m[1]) : -1;
      if (!m || index >= params.length) throw new Error(`loading ${config.kind} state: unexpected tensor '${key}'`);
      const p = params[index]!;
      if (t.shape.join(',') !== p.shape.join(','))
        throw new Error(
          `loading ${config.kind} state: '${key}' has shape [${t.shape}], parameter ${index} has [${p.shape}]`,
        );
      if (!incoming.has(index)) incoming.set(index, new Map());
      incoming.get(index)!.set(m[2]!, t);
    }
    for (const s of this.state.values()) for (const t of s.values()) t.dispose();
    this.state.clear();
    noGrad(() => {
      for (const [index, slots] of incoming) {
        const s = this.stateOf(index);
        for (const [name, t] of slots)
          s.set(name, keep(t.to({ dtype: params[index]!.dtype, device: params[index]!.device, copy: true })));
      }
    });
    config.groups.forEach((g, i) => Object.assign(this.groups[i]!.hyper, g.hyper));
    this.steps.clear();
    for (const [i, n] of Object.entries(config.steps)) this.steps.set(Number(i), n);
  }
}
