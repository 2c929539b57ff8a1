// Autograd scopes and multi-root backward.
import { native } from './native.js';
import type { Tensor } from './tensor.js';

function withGradMode<T>(enabled: boolean, fn: () => T): T {
  const previous = native.setGradEnabled(enabled);
  try {
    const result = fn();
    if (result instanceof Promise) throw new TypeError('gradient-mode scopes take synchronous functions');
    return result;
  } finally {
    native.setGradEnabled(previous);
  }
}

/** Runs `fn` without recording operations for autograd, as `with torch.no_grad()`. */
export function noGrad<T>(fn: () => T): T {
  return withGradMode(false, fn);
}

/** Re-enables gradient recording inside a `noGrad` scope, as `with torch.enable_grad()`. */
export function enableGrad<T>(fn: () => T): T {
  return withGradMode(true, fn);
}

/** Runs `fn` in libtorch's inference mode (no autograd bookkeeping at all; for synthesis). */
export function inferenceMode<T>(fn: () => T): T {
  native.enterInferenceMode();
  try {
    const result = fn();
    if (result instanceof Promise) throw new TypeError('inferenceMode takes a synchronous function');
    return result;
  } finally {
    native.exitInferenceMode();
  }
}

export function isGradEnabled(): boolean {
  return native.isGradEnabled();
}

export interface BackwardOptions {
  /** Keep the graph for another backward through it (GAN steps). */
  retainGraph?: boolean;
  createGraph?: boolean;
  /** Accumulate into these leaves only; the rest of the graph is not run (e.g. a GAN's D step). */
  inputs?: Tensor[];
}

/** Back-propagates from several roots at once, as `torch.autograd.backward`. */
export function backward(roots: Tensor[], grads: (Tensor | null)[] = [], opts: BackwardOptions = {}): void {
  native.backward(
    roots.map((r) => r.handle),
    roots.map((_, i) => grads[i]?.handle ?? null),
    opts.retainGraph ?? false,
    opts.createGraph ?? false,
    opts.inputs?.map((t) => t.handle),
  );
}
