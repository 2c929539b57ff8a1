// Pooling and resampling layers, as torch.nn.
import { F, type Tensor } from '../../torch/index.js';
import { Module } from '../module.js';

type Pair = number | [number, number];

export class AvgPool2d extends Module {
  constructor(
    readonly kernelSize: Pair,
    readonly o: { stride?: Pair; padding?: Pair; ceilMode?: boolean; countIncludePad?: boolean } = {},
  ) {
    super();
  }
  forward(x: Tensor): Tensor {
    return F.avgPool2d(x, this.kernelSize, this.o);
  }
}
export class MaxPool2d extends Module {
  constructor(
    readonly kernelSize: Pair,
    readonly o: { stride?: Pair; padding?: Pair; dilation?: Pair; ceilMode?: boolean } = {},
  ) {
    super();
  }
  forward(x: Tensor): Tensor {
    return F.maxPool2d(x, this.kernelSize, this.o);
  }
}
/** Averages each channel over an adaptive grid: output [N, C, H', W'] whatever the input size. */
export class AdaptiveAvgPool2d extends Module {
  constructor(readonly outputSize: Pair) {
    super();
  }
  forward(x: Tensor): Tensor {
    return F.adaptiveAvgPool2d(x, this.outputSize);
  }
}
/** Flattens dimensions startDim..endDim into one, as `nn.Flatten` (default: all but the batch). */
export class Flatten extends Module {
  constructor(
    readonly startDim = 1,
    readonly endDim = -1,
  ) {
    super();
  }
  forward(x: Tensor): Tensor {
    return x.flatten(this.startDim, this.endDim);
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
