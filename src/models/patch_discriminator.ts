// The PatchGAN discriminator (NLayerDiscriminator) of pix2pixHD, pix2pix and SPADE. The three
// originals share the shape (4x4 convolutions, LeakyReLU 0.2, the channel count doubling per
// layer, a stride-1 layer before a 1-channel prediction) and differ in details, which `style`
// reproduces:
//   'pix2pixhd'  padding ceil(3/2) = 2; nLayers stride-2 convolutions then one stride-1; width
//                min(2 nf, 512); biases everywhere (models/networks.py).
//   'pix2pix'    padding 1 (the 70x70 PatchGAN); same layer schedule, width ndf min(2^n, 8); no
//                bias before batch norm (pytorch-CycleGAN-and-pix2pix models/networks.py).
//   'spade'      padding 2; nLayers convolutions before the prediction, the last of them stride 1;
//                width min(2 nf, 512); normalised convolutions lose their bias and, with a
//                'spectral-*' norm, are spectrally normalised (models/networks/discriminator.py).
// The first and the prediction convolutions are never normalised. In every style a 'spectral-*'
// norm spectrally normalises the convolutions that the norm follows (SPADE's norm_D semantics).
// Layer groups are `model0` .., and forward returns every group's output (the last is the patch
// prediction).
import type { Tensor } from '../torch/index.js';
import * as nn from '../nn/index.js';
import { checkPositiveInt, convNorm } from './blocks.js';
import type { NormSpec } from './types.js';

export type PatchStyle = 'pix2pixhd' | 'pix2pix' | 'spade';
export const PATCH_STYLES: readonly PatchStyle[] = ['pix2pixhd', 'pix2pix', 'spade'];

export interface PatchDiscriminatorConfig {
  inputNc: number;
  ndf: number;
  nLayers: number;
  norm?: NormSpec;
  style?: PatchStyle;
}

/** One convolution of the discriminator: its stride and whether a norm follows (for size checks). */
export interface PatchLayer {
  stride: number;
  padding: number;
  normalised: boolean;
}

/** The convolutions of a PatchGAN, in order (4x4 kernels), without building it. */
export function patchLayers(style: PatchStyle, nLayers: number, norm: NormSpec): PatchLayer[] {
  const padding = style === 'pix2pix' ? 1 : 2;
  const normed = !norm.endsWith('none');
  const layers: PatchLayer[] = [{ stride: 2, padding, normalised: false }];
  if (style === 'spade') {
    for (let n = 1; n < nLayers; n++) layers.push({ stride: n === nLayers - 1 ? 1 : 2, padding, normalised: normed });
  } else {
    for (let n = 1; n < nLayers; n++) layers.push({ stride: 2, padding, normalised: normed });
    layers.push({ stride: 1, padding, normalised: normed });
  }
  layers.push({ stride: 1, padding, normalised: false });
  return layers;
}

export class NLayerDiscriminator extends nn.Module<[Tensor], Tensor[]> {
  readonly groups: nn.Sequential[] = [];
  readonly style: PatchStyle;

  constructor(c: PatchDiscriminatorConfig) {
    super();
    checkPositiveInt('NLayerDiscriminator', 'inputNc', c.inputNc);
    checkPositiveInt('NLayerDiscriminator', 'ndf', c.ndf);
    this.style = c.style ?? 'pix2pixhd';
    if (!PATCH_STYLES.includes(this.style))
      throw new TypeError(
        `NLayerDiscriminator: unknown style '${String(this.style)}' (one of ${PATCH_STYLES.join(', ')})`,
      );
    checkPositiveInt('NLayerDiscriminator', 'nLayers', c.nLayers, this.style === 'spade' ? 2 : 1);
    const norm = c.norm ?? 'instance';
    const bias = this.style === 'pix2pixhd' ? 'keep' : this.style === 'pix2pix' ? 'drop-if-batch' : 'drop';
    const width = (n: number, prev: number): number =>
      this.style === 'pix2pix' ? c.ndf * Math.min(2 ** n, 8) : Math.min(prev * 2, 512);
    const lrelu = (): nn.Module => new nn.LeakyReLU(0.2, { inplace: true });
    const layers = patchLayers(this.style, c.nLayers, norm);
    const groups: nn.Module[][] = [];
    let nf = c.ndf;
    groups.push([new nn.Conv2d(c.inputNc, nf, 4, { stride: 2, padding: layers[0]!.padding }), lrelu()]);
    for (let i = 1; i < layers.length - 1; i++) {
      const { stride, padding } = layers[i]!;
      const prev = nf;
      nf = width(i, prev);
      const out = nf;
      groups.push([
        ...convNorm(norm, out, (b) => new nn.Conv2d(prev, out, 4, { stride, padding, bias: b }), bias),
        lrelu(),
      ]);
    }
    groups.push([new nn.Conv2d(nf, 1, 4, { stride: 1, padding: layers[layers.length - 1]!.padding })]);
    groups.forEach((g, i) => this.groups.push(this.registerModule(`model${i}`, new nn.Sequential(...g))));
  }

  forward(x: Tensor): Tensor[] {
    const feats: Tensor[] = [];
    let h = x;
    for (const g of this.groups) {
      h = g.call(h);
      feats.push(h);
    }
    return feats;
  }
}
