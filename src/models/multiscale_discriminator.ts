// The multi-scale discriminator of pix2pixHD and SPADE: numD PatchGANs of the same architecture,
// scale k seeing the input average-pooled k times (3x3, stride 2, padding 1, padding not
// counted). Scales are `scale0` (full resolution) .. `scale{numD-1}`; forward returns, per scale
// in that order, the list of that PatchGAN's layer-group outputs, the patch prediction last.
// Spectral normalisation is chosen through the norm ('spectral-instance' etc.).
import { F, type Tensor } from '../torch/index.js';
import * as nn from '../nn/index.js';
import { checkPositiveInt } from './blocks.js';
import { NLayerDiscriminator, type PatchDiscriminatorConfig } from './patch_discriminator.js';

export interface MultiscaleDiscriminatorConfig extends PatchDiscriminatorConfig {
  numD: number;
}

/** The pooling between scales. */
export function downsampleScale(x: Tensor): Tensor {
  return F.avgPool2d(x, 3, { stride: 2, padding: 1, countIncludePad: false });
}

export class MultiscaleDiscriminator extends nn.Module<[Tensor], Tensor[][]> {
  readonly scales: NLayerDiscriminator[] = [];
  constructor(c: MultiscaleDiscriminatorConfig) {
    super();
    checkPositiveInt('MultiscaleDiscriminator', 'numD', c.numD);
    for (let i = 0; i < c.numD; i++) this.scales.push(this.registerModule(`scale${i}`, new NLayerDiscriminator(c)));
  }

  forward(x: Tensor): Tensor[][] {
    const out: Tensor[][] = [];
    let h = x;
    this.scales.forEach((d, i) => {
      out.push(d.call(h));
      if (i < this.scales.length - 1) h = downsampleScale(h);
    });
    return out;
  }
}
