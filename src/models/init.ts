// Weight initialisation as each original does it.
import * as nn from '../nn/index.js';

/**
 * pix2pixHD's `weights_init`: every convolution's weight (for a spectrally normalised one, its
 * weight_orig) from N(0, 0.02), biases left at PyTorch's default; BatchNorm2d weight from
 * N(1, 0.02) and bias 0; nothing else (instance norm is affine-free).
 */
export function initPix2pixHD(net: nn.Module<any, any>, gain = 0.02): void {
  for (const [, m] of net.namedModules()) {
    if (m instanceof nn.Conv2d || m instanceof nn.ConvTranspose2d) {
      nn.init.normal_(m.param(m.buffer('weight_u') ? 'weight_orig' : 'weight'), 0, gain);
    } else if (m instanceof nn.BatchNorm2d) {
      const weight = m.optionalParam('weight');
      const bias = m.optionalParam('bias');
      if (weight) nn.init.normal_(weight, 1, gain);
      if (bias) nn.init.zeros_(bias);
    }
  }
}

/**
 * pix2pix's `init_weights(net, 'normal', 0.02)` and SPADE's `init_weights('xavier', 0.02)`:
 * convolution weights from N(0, gain) or xavier-normal with that gain, biases 0, BatchNorm2d
 * weights from N(1, gain) and biases 0 (the nn layer's initWeights does exactly this).
 */
export function initLikeOriginal(net: nn.Module<any, any>, scheme: 'normal' | 'xavier', gain = 0.02): void {
  nn.initWeights(net, scheme, gain);
}
