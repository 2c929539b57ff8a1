// Padding layers, as torch.nn: sizes are one number or [left, right, top, bottom].
import { F, type Tensor } from '../../torch/index.js';
import { Module } from '../module.js';

type Padding = number | [number, number, number, number];
const four = (p: Padding): number[] => (typeof p === 'number' ? [p, p, p, p] : p);

export class ReflectionPad2d extends Module {
  constructor(readonly padding: Padding) {
    super();
  }
  forward(x: Tensor): Tensor {
    return F.pad(x, four(this.padding), 'reflect');
  }
}
export class ReplicationPad2d extends Module {
  constructor(readonly padding: Padding) {
    super();
  }
  forward(x: Tensor): Tensor {
    return F.pad(x, four(this.padding), 'replicate');
  }
}
export class ZeroPad2d extends Module {
  constructor(readonly padding: Padding) {
    super();
  }
  forward(x: Tensor): Tensor {
    return F.pad(x, four(this.padding), 'constant', 0);
  }
}
