// Numerical gradient checking for the tensor engine, as `torch.autograd.gradcheck`.
//
// The analytical gradient of the scalar `sum(fn(...inputs) * R)`, with R a fixed random
// projection drawn from a seeded generator, is computed by `backward` and compared element by
// element with central finite differences (each input element perturbed by +-eps, the function
// re-evaluated without autograd). Inputs should be float64; those that do not require
// gradients (targets, class indices) are passed through unchanged and not checked.
import * as torch from '../../src/torch/index.js';
import type { Tensor } from '../../src/torch/index.js';

export interface GradcheckOptions {
  /** Finite-difference step. */
  eps?: number;
  /** Absolute tolerance of the comparison. */
  atol?: number;
  /** Relative tolerance of the comparison (relative to the numerical gradient). */
  rtol?: number;
  /** Seed of the random projection R. */
  seed?: number;
}

export interface GradcheckMismatch {
  input: number;
  index: number;
  analytical: number;
  numerical: number;
}

export interface GradcheckResult {
  /** True when every element satisfies |analytical - numerical| <= atol + rtol * |numerical|. */
  ok: boolean;
  /** max |analytical - numerical| over every checked element. */
  maxAbsError: number;
  /** max |analytical - numerical| / max(|numerical|, atol) over every checked element. */
  maxRelError: number;
  /** How many elements were perturbed. */
  checked: number;
  /** The worst element (largest violation of the tolerance), for failure messages. */
  worst: GradcheckMismatch | null;
  analytical: number[][];
  numerical: number[][];
}

function project(out: Tensor, r: Tensor): Tensor {
  return out.mul(r).sum();
}

/**
 * Checks `fn`'s backward against central finite differences. Returns the errors; use
 * `expectGradOk` (or assert on `ok`) in tests.
 */
export function gradcheck(
  fn: (...inputs: Tensor[]) => Tensor,
  inputs: Tensor[],
  opts: GradcheckOptions = {},
): GradcheckResult {
  const eps = opts.eps ?? 1e-6;
  const atol = opts.atol ?? 1e-5;
  const rtol = opts.rtol ?? 1e-4;
  const seed = opts.seed ?? 1234;

  const checkedInputs = inputs.map((t) => t.requiresGrad);
  if (!checkedInputs.some(Boolean)) throw new TypeError('gradcheck: no input requires a gradient');
  inputs.forEach((t, i) => {
    if (checkedInputs[i] && t.dtype !== 'float64') {
      throw new TypeError(`gradcheck: input ${i} is ${t.dtype}; finite differences need float64 inputs`);
    }
  });

  return torch.tidy(() => {
    // ---- analytical: backward of sum(fn(x) * R) ----
    for (const t of inputs) if (t.requiresGrad) t.zeroGrad();
    const out = torch.enableGrad(() => fn(...inputs));
    if (out.dtype !== 'float64') throw new TypeError(`gradcheck: fn returned ${out.dtype}; expected float64`);
    const r = torch.randn(out.shape, { dtype: 'float64', generator: new torch.Generator(seed) });
    const loss = torch.enableGrad(() => project(out, r));
    // A function whose graph is cut entirely has a zero analytical gradient.
    if (loss.requiresGrad) loss.backward();
    const analytical = inputs.map((t, i) => {
      if (!checkedInputs[i]) return [];
      const g = t.grad;
      return g ? g.toArray() : new Array<number>(t.numel).fill(0);
    });
    for (const t of inputs) if (t.requiresGrad) t.zeroGrad();

    // ---- numerical: central differences, one element at a time ----
    const evaluate = (replaced: number, values: Float64Array): number =>
      torch.tidy(() =>
        torch.noGrad(() => {
          const x = torch.tensor(values, { shape: inputs[replaced]!.shape });
          const args = inputs.map((t, i) => (i === replaced ? x : t));
          return project(fn(...args), r).item();
        }),
      );
    const numerical = inputs.map((t, i) => {
      if (!checkedInputs[i]) return [];
      const base = Float64Array.from(t.toArray());
      const grads = new Array<number>(base.length);
      for (let j = 0; j < base.length; j++) {
        const v = base[j]!;
        base[j] = v + eps;
        const plus = evaluate(i, base);
        base[j] = v - eps;
        const minus = evaluate(i, base);
        base[j] = v;
        grads[j] = (plus - minus) / (2 * eps);
      }
      return grads;
    });

    // ---- compare ----
    let maxAbsError = 0;
    let maxRelError = 0;
    let worstViolation = -1;
    let worst: GradcheckMismatch | null = null;
    let checked = 0;
    let ok = true;
    analytical.forEach((a, i) => {
      const n = numerical[i]!;
      for (let j = 0; j < a.length; j++) {
        checked++;
        const err = Math.abs(a[j]! - n[j]!);
        if (!Number.isFinite(err)) ok = false;
        maxAbsError = Math.max(maxAbsError, err);
        maxRelError = Math.max(maxRelError, err / Math.max(Math.abs(n[j]!), atol));
        const violation = err / (atol + rtol * Math.abs(n[j]!));
        if (!(violation <= 1)) ok = false;
        if (violation > worstViolation || Number.isNaN(violation)) {
          worstViolation = Number.isNaN(violation) ? Infinity : violation;
          worst = { input: i, index: j, analytical: a[j]!, numerical: n[j]! };
        }
      }
    });
    return { ok, maxAbsError, maxRelError, checked, worst, analytical, numerical };
  });
}

/** Describes a result in one line (for assertion messages). */
export function describeGradcheck(r: GradcheckResult): string {
  const w = r.worst;
  return (
    `max abs error ${r.maxAbsError.toExponential(3)}, max rel error ${r.maxRelError.toExponential(3)} over ${r.checked} elements` +
    (w ? `; worst: input ${w.input}[${w.index}] analytical ${w.analytical} vs numerical ${w.numerical}` : '')
  );
}
