// Pooling and resampling layers, as torch.nn.
import { F, type Tensor } from '../../torch/index.js';
import { Module } from '../module.js';

type Pair = number | [number, number];

export class AvgPool2d extends Module {
  constructor(readonly kernelSize: Pair, readonly o: { stride?: Pair; padding?: Pair; ceilMode?: boolean; countIncludePad?: boolean } = {}) {
    super();
  }
  forward(x: Tensor): Tensor {
    return F.avgPool2d(x, this.kernelSize, this.o);
  }
}
export class MaxPool2d extends Module {
  constructor(readonly kernelSize: Pair, readonly o: { stride?: Pair; padding?: Pair; dilation?: Pair; ceilMode?: boolean } = {}) {
    super();
  }
  forward(x: Tensor): Tensor {
    return F.maxPool2d(x, this.kernelSize, this.o);
  }
}
export class Upsample extends Module {
  constructor(readonly o: F.InterpolateOptions) {
    super();
  }
  forward(x: Tensor): Tensor {
    return F.interpolate(x, this.o);
  }
}
