// Activation layers, as torch.nn.
import { F, type Tensor } from '../../torch/index.js';
import { Module } from '../module.js';

/** max(x, 0); with `inplace` it overwrites its input and returns it (as `nn.ReLU(inplace=True)`). */
export class ReLU extends Module {
  constructor(readonly o: { inplace?: boolean } = {}) {
    super();
  }
  forward(x: Tensor): Tensor {
    return this.o.inplace ? x.relu_() : x.relu();
  }
}
export class LeakyReLU extends Module {
  constructor(
    readonly negativeSlope = 0.01,
    readonly o: { inplace?: boolean } = {},
  ) {
    super();
  }
  forward(x: Tensor): Tensor {
    return this.o.inplace ? F.leakyRelu_(x, this.negativeSlope) : F.leakyRelu(x, this.negativeSlope);
  }
}
export class Tanh extends Module {
  forward(x: Tensor): Tensor {
    return x.tanh();
  }
}
export class Sigmoid extends Module {
  forward(x: Tensor): Tensor {
    return x.sigmoid();
  }
}
/** x * sigmoid(x), as `nn.SiLU` (EfficientNet's activation). */
export class SiLU extends Module {
  constructor(readonly o: { inplace?: boolean } = {}) {
    super();
  }
  forward(x: Tensor): Tensor {
    return this.o.inplace ? F.silu_(x) : F.silu(x);
  }
}
export class GELU extends Module {
  forward(x: Tensor): Tensor {
    return F.gelu(x);
  }
}
export class Identity extends Module {
  forward(x: Tensor): Tensor {
    return x;
  }
}
/** Zeroes elements with probability p in training mode (scaled by 1/(1-p)); identity in eval. */
export class Dropout extends Module {
  constructor(readonly p = 0.5) {
    super();
    if (!(p >= 0 && p <= 1)) throw new RangeError(`Dropout: p must be in [0, 1], got ${p}`);
  }
  forward(x: Tensor): Tensor {
    return F.dropout(x, this.p, this.training);
  }
}
