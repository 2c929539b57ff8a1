// Sequential: runs children in order; they are named "0", "1", ... as in PyTorch.
import type { Tensor } from '../../torch/index.js';
import { Module } from '../module.js';

export class Sequential extends Module {
  readonly layers: Module[];
  constructor(...layers: Module[]) {
    super();
    this.layers = layers;
    layers.forEach((m, i) => this.registerModule(String(i), m));
  }
  /** Intermediates are freed as soon as the next layer has used them (autograd keeps what it needs). */
  forward(x: Tensor): Tensor {
    let y = x;
    for (const layer of this.layers) {
      const next = layer.call(y);
      if (y !== x && next !== y) y.dispose();
      y = next;
    }
    return y;
  }
}
