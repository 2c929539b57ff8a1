// Adam (Kingma and Ba), the same arithmetic as PyTorch's single-tensor implementation, so that
// runs match PyTorch step for step. Weight decay is L2 (added to the gradient), as torch.optim.Adam.
import { zerosLike, type Tensor } from '../../torch/index.js';
import { Optimizer } from './optimizer.js';

export interface AdamOptions {
  lr: number;
  betas: [number, number];
  eps: number;
  weightDecay: number;
}

export class Adam extends Optimizer<AdamOptions> {
  constructor(params: ConstructorParameters<typeof Optimizer<AdamOptions>>[0], o: Partial<AdamOptions> = {}) {
    const opts: AdamOptions = { lr: 1e-3, betas: [0.9, 0.999], eps: 1e-8, weightDecay: 0, ...o };
    if (!(opts.lr >= 0)) throw new RangeError(`Adam: invalid learning rate ${opts.lr}`);
    if (!opts.betas.every((b) => b >= 0 && b < 1))
      throw new RangeError(`Adam: betas must be in [0, 1), got [${opts.betas}]`);
    if (!(opts.eps >= 0)) throw new RangeError(`Adam: invalid eps ${opts.eps}`);
    super(params, opts);
  }

  protected update(param: Tensor, grad: Tensor, state: Map<string, Tensor>, step: number, h: AdamOptions): void {
    const [beta1, beta2] = h.betas;
    const g = h.weightDecay !== 0 ? grad.add(param, h.weightDecay) : grad;
    const expAvg = this.slot(state, 'exp_avg', () => zerosLike(param));
    const expAvgSq = this.slot(state, 'exp_avg_sq', () => zerosLike(param));
    expAvg.mul_(beta1).add_(g, 1 - beta1);
    expAvgSq.mul_(beta2).addcmul_(g, g, 1 - beta2);
    const biasCorrection1 = 1 - beta1 ** step;
    const biasCorrection2Sqrt = Math.sqrt(1 - beta2 ** step);
    const denom = expAvgSq.sqrt();
    denom.div_(biasCorrection2Sqrt).add_(h.eps);
    param.addcdiv_(expAvg, denom, -(h.lr / biasCorrection1));
  }
}
