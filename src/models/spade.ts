// SPADE (Park et al. 2019): spatially-adaptive normalisation and its residual block, after the
// structure of NVlabs/SPADE (models/networks/normalization.py and architecture.py). Module and
// parameter names are SPADE's (param_free_norm, mlp_shared, mlp_gamma, mlp_beta; conv_0, conv_1,
// conv_s, norm_0, norm_1, norm_s; spectral norm's weight_orig, weight_u, weight_v).
import { F, release, type Tensor } from '../torch/index.js';
import * as nn from '../nn/index.js';
import { checkPositiveInt } from './blocks.js';

export interface SpadeLayerOptions {
  /** Parameter-free normalisation: 'batch' (SPADE's default, sync batch norm) or 'instance'. */
  paramFree?: 'batch' | 'instance';
  /** Channels of the shared embedding (SPADE: 128, hard-coded). */
  hidden?: number;
  /** Kernel size of the three convolutions (SPADE: 3). */
  kernel?: number;
}

/** The label map resized (nearest) to x's spatial size, or the label map itself when it fits. */
export function segmapLike(seg: Tensor, x: Tensor): Tensor {
  const [h, w] = [x.shape[2]!, x.shape[3]!];
  return seg.shape[2] === h && seg.shape[3] === w ? seg : F.interpolate(seg, { size: [h, w], mode: 'nearest' });
}

/**
 * SPADE(x, seg) = norm(x) * (1 + gamma(seg)) + beta(seg), norm parameter-free, gamma and beta
 * 3x3 convolutions of a shared 3x3 convolution + ReLU of the label map resized (nearest) to x.
 */
export class SPADE extends nn.Module<[Tensor, Tensor], Tensor> {
  readonly paramFreeNorm: nn.Module;
  readonly mlpShared: nn.Sequential;
  readonly mlpGamma: nn.Conv2d;
  readonly mlpBeta: nn.Conv2d;

  constructor(
    readonly normNc: number,
    labelNc: number,
    o: SpadeLayerOptions = {},
  ) {
    super();
    checkPositiveInt('SPADE', 'normNc', normNc);
    checkPositiveInt('SPADE', 'labelNc', labelNc);
    const hidden = o.hidden ?? 128;
    const ks = o.kernel ?? 3;
    checkPositiveInt('SPADE', 'hidden', hidden);
    if (!Number.isInteger(ks) || ks < 1 || ks % 2 === 0)
      throw new RangeError(`SPADE: kernel must be an odd positive integer, got ${ks}`);
    const pw = Math.floor(ks / 2);
    const paramFree = o.paramFree ?? 'batch';
    if (paramFree !== 'batch' && paramFree !== 'instance')
      throw new TypeError(`SPADE: paramFree must be 'batch' or 'instance', got '${String(paramFree)}'`);
    this.paramFreeNorm = this.registerModule(
      'param_free_norm',
      paramFree === 'batch'
        ? new nn.BatchNorm2d(normNc, { affine: false })
        : new nn.InstanceNorm2d(normNc, { affine: false }),
    );
    this.mlpShared = this.registerModule(
      'mlp_shared',
      new nn.Sequential(new nn.Conv2d(labelNc, hidden, ks, { padding: pw }), new nn.ReLU({ inplace: true })),
    );
    this.mlpGamma = this.registerModule('mlp_gamma', new nn.Conv2d(hidden, normNc, ks, { padding: pw }));
    this.mlpBeta = this.registerModule('mlp_beta', new nn.Conv2d(hidden, normNc, ks, { padding: pw }));
  }

  forward(x: Tensor, seg: Tensor): Tensor {
    const normalized = this.paramFreeNorm.call(x);
    const actv = this.mlpShared.call(segmapLike(seg, x));
    const gamma = this.mlpGamma.call(actv);
    const beta = this.mlpBeta.call(actv);
    release(actv); // the widest tensor here (the hidden channels)
    // normalized * (1 + gamma) + beta, in place on fresh tensors (no autograd input is overwritten).
    return normalized.mul(gamma.add_(1)).add_(beta);
  }
}

export interface SpadeResnetBlockOptions extends SpadeLayerOptions {
  /** Spectral normalisation of conv_0, conv_1 and conv_s (SPADE's 'spectral' norm_G). */
  spectral?: boolean;
}

/**
 * SPADE's residual block: out = shortcut(x) + conv_1(lrelu(norm_1(conv_0(lrelu(norm_0(x)))))),
 * the shortcut learned (norm_s then a 1x1 convolution without bias) when fin != fout; the middle
 * width is min(fin, fout); LeakyReLU slope 0.2.
 */
export class SPADEResnetBlock extends nn.Module<[Tensor, Tensor], Tensor> {
  readonly learnedShortcut: boolean;
  readonly conv0: nn.Conv2d;
  readonly conv1: nn.Conv2d;
  readonly convS: nn.Conv2d | null;
  readonly norm0: SPADE;
  readonly norm1: SPADE;
  readonly normS: SPADE | null;

  constructor(
    readonly fin: number,
    readonly fout: number,
    labelNc: number,
    o: SpadeResnetBlockOptions = {},
  ) {
    super();
    checkPositiveInt('SPADEResnetBlock', 'fin', fin);
    checkPositiveInt('SPADEResnetBlock', 'fout', fout);
    this.learnedShortcut = fin !== fout;
    const fmiddle = Math.min(fin, fout);
    const sn = <M extends nn.Module<any, any>>(m: M): M => (o.spectral ? nn.spectralNorm(m) : m);
    this.conv0 = this.registerModule('conv_0', sn(new nn.Conv2d(fin, fmiddle, 3, { padding: 1 })));
    this.conv1 = this.registerModule('conv_1', sn(new nn.Conv2d(fmiddle, fout, 3, { padding: 1 })));
    this.convS = this.learnedShortcut
      ? this.registerModule('conv_s', sn(new nn.Conv2d(fin, fout, 1, { bias: false })))
      : null;
    this.norm0 = this.registerModule('norm_0', new SPADE(fin, labelNc, o));
    this.norm1 = this.registerModule('norm_1', new SPADE(fmiddle, labelNc, o));
    this.normS = this.learnedShortcut ? this.registerModule('norm_s', new SPADE(fin, labelNc, o)) : null;
  }

  forward(x: Tensor, seg: Tensor): Tensor {
    // Each normalised tensor is released once its convolution has read it: at the finest scale
    // they are the largest tensors of the block.
    let shortcut = x;
    if (this.convS && this.normS) {
      const n = this.normS.call(x, seg);
      shortcut = this.convS.call(n);
      release(n);
    }
    const n0 = F.leakyRelu_(this.norm0.call(x, seg), 0.2);
    const d0 = this.conv0.call(n0);
    release(n0);
    const n1 = F.leakyRelu_(this.norm1.call(d0, seg), 0.2);
    const d1 = this.conv1.call(n1);
    release(n1);
    return shortcut.add(d1);
  }
}
