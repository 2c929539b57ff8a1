// Stochastic gradient descent with momentum, dampening, Nesterov and weight decay, as torch.optim.SGD.
import { type Tensor } from '../../torch/index.js';
import { Optimizer } from './optimizer.js';

export interface SGDOptions {
  lr: number;
  momentum: number;
  dampening: number;
  weightDecay: number;
  nesterov: boolean;
}

export class SGD extends Optimizer<SGDOptions> {
  constructor(params: ConstructorParameters<typeof Optimizer<SGDOptions>>[0], o: Partial<SGDOptions> & { lr: number }) {
    const opts: SGDOptions = { momentum: 0, dampening: 0, weightDecay: 0, nesterov: false, ...o };
    if (!(opts.lr >= 0)) throw new RangeError(`SGD: invalid learning rate ${opts.lr}`);
    if (opts.nesterov && (opts.momentum <= 0 || opts.dampening !== 0))
      throw new RangeError('SGD: Nesterov momentum needs momentum > 0 and no dampening');
    super(params, opts);
  }

  protected update(param: Tensor, grad: Tensor, state: Map<string, Tensor>, _step: number, h: SGDOptions): void {
    let d = h.weightDecay !== 0 ? grad.add(param, h.weightDecay) : grad;
    if (h.momentum !== 0) {
      let buf = state.get('momentum_buffer');
      if (!buf) buf = this.slot(state, 'momentum_buffer', () => d.clone('contiguous'));
      else buf.mul_(h.momentum).add_(d, 1 - h.dampening);
      d = h.nesterov ? d.add(buf, h.momentum) : buf;
    }
    param.add_(d, -h.lr);
  }
}
