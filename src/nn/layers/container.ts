// Sequential: runs children in order; they are named "0", "1", ... as in PyTorch.
import type { Tensor } from '../../torch/index.js';
import { Module } from '../module.js';

/**
 * Runs `layers` in order from `x`, freeing each intermediate as soon as the next layer has used
 * it. The call's scope would free them when it returns; freeing early keeps only about two
 * activations alive in a long chain in inference, where no autograd graph holds them. `x` is the
 * caller's, as is any output that `take(output, i)` claims by returning true (e.g. feature taps).
 */
export function runLayers(x: Tensor, layers: readonly Module[], take?: (y: Tensor, i: number) => boolean): Tensor {
  let h = x;
  let held = true; // h is not the chain's to free
  for (let i = 0; i < layers.length; i++) {
    const next = layers[i]!.call(h);
    if (next !== h && !held) h.dispose();
    held = (next === h && held) || (take?.(next, i) ?? false);
    h = next;
  }
  return h;
}

export class Sequential extends Module {
  readonly layers: Module[];
  constructor(...layers: Module[]) {
    super();
    this.layers = layers;
    layers.forEach((m, i) => this.registerModule(String(i), m));
  }
  forward(x: Tensor): Tensor {
    return runLayers(x, this.layers);
  }
}
