// Linear (fully connected) layer, as torch.nn.Linear.
import { F, empty, type Tensor } from '../../torch/index.js';
import { Module } from '../module.js';
import { fans, kaimingUniform_, uniform_ } from '../init.js';

export class Linear extends Module {
  static initKind = 'conv' as const;
  constructor(
    readonly inFeatures: number,
    readonly outFeatures: number,
    opts: { bias?: boolean } = {},
  ) {
    super();
    if (!Number.isInteger(inFeatures) || inFeatures < 1 || !Number.isInteger(outFeatures) || outFeatures < 1) {
      throw new RangeError(`Linear: feature counts must be positive integers, got ${inFeatures} and ${outFeatures}`);
    }
    const weight = this.registerParameter('weight', empty([outFeatures, inFeatures]))!;
    kaimingUniform_(weight, { a: Math.sqrt(5) });
    const bias = this.registerParameter('bias', opts.bias === false ? null : empty([outFeatures]));
    if (bias) uniform_(bias, -1 / Math.sqrt(fans(weight).fanIn), 1 / Math.sqrt(fans(weight).fanIn));
  }
  forward(x: Tensor): Tensor {
    return F.linear(x, this.param('weight'), this.optionalParam('bias'));
  }
}
