// pix2pix's U-Net generator (unet_256 with numDowns 8), written after the structure of
// junyanz/pytorch-CycleGAN-and-pix2pix: nested skip blocks, each a 4x4 stride-2 convolution down,
// the inner block, a 4x4 stride-2 transposed convolution up, and cat(input, output) as its result.
//
//   outermost  conv(Cl -> ngf)                       ... ReLU, convT(2 ngf -> 3), tanh
//   3 blocks   LReLU, conv(ngf 2^k -> ngf 2^(k+1)), norm ... ReLU, convT(back), norm
//   numDowns-5 LReLU, conv(8 ngf -> 8 ngf), norm      ... ReLU, convT(16 ngf -> 8 ngf), norm, dropout
//   innermost  LReLU, conv(8 ngf -> 8 ngf)           ... ReLU, convT(8 ngf -> 8 ngf), norm
//
// With upsample 'resize', each transposed convolution is a nearest 2x resize, reflect pad 1 and a
// 3x3 convolution instead (blocks.ts upsampleLayers: no checkerboard).
//
// Convolutions before batch norm have no bias (pix2pix's use_bias). As in the original, whose
// LeakyReLU runs in place on the block's input before the concatenation, the skip connection
// carries the LeakyReLU-activated encoder features.
import { F, type Tensor } from '../torch/index.js';
import * as nn from '../nn/index.js';
import { checkPositiveInt, convNorm, parseNorm, upsampleLayers } from './blocks.js';
import type { NormSpec, UpsampleMode } from './types.js';

type Position = 'outermost' | 'middle' | 'innermost';

export class UnetSkipBlock extends nn.Module {
  readonly down: nn.Sequential;
  readonly submodule: UnetSkipBlock | null;
  readonly up: nn.Sequential;
  constructor(
    readonly position: Position,
    outerNc: number,
    innerNc: number,
    o: { inputNc?: number; submodule?: UnetSkipBlock; norm: NormSpec; dropout?: number; upsample?: UpsampleMode },
  ) {
    super();
    const inputNc = o.inputNc ?? outerNc;
    // pix2pix: no bias before batch norm; the down convolution follows that rule even where no norm follows it.
    const downBias = parseNorm(o.norm).kind !== 'batch';
    const downConv = (bias: boolean): nn.Module => new nn.Conv2d(inputNc, innerNc, 4, { stride: 2, padding: 1, bias });
    const upIn = position === 'innermost' ? innerNc : 2 * innerNc;
    const resize = (o.upsample ?? 'deconv') === 'resize';
    const upConv = (bias: boolean): nn.Module =>
      new nn.ConvTranspose2d(upIn, outerNc, 4, { stride: 2, padding: 1, bias });
    const upLayers = (norm: NormSpec): nn.Module[] =>
      resize
        ? upsampleLayers('resize', norm, upIn, outerNc, 'drop-if-batch')
        : convNorm(norm, outerNc, upConv, 'drop-if-batch');
    if (position === 'outermost') {
      this.down = new nn.Sequential(downConv(downBias));
      this.up = new nn.Sequential(
        new nn.ReLU({ inplace: true }),
        ...(resize ? upsampleLayers('resize', 'none', upIn, outerNc) : [upConv(true)]),
        new nn.Tanh(),
      );
    } else {
      const downNorm =
        position === 'innermost'
          ? [downConv(downBias)]
          : convNorm(o.norm, innerNc, () => downConv(downBias), 'drop-if-batch');
      this.down = new nn.Sequential(...downNorm);
      const dropout = position === 'middle' && (o.dropout ?? 0) > 0 ? [new nn.Dropout(o.dropout)] : [];
      this.up = new nn.Sequential(new nn.ReLU({ inplace: true }), ...upLayers(o.norm), ...dropout);
    }
    this.registerModule('down', this.down);
    this.submodule = o.submodule ? this.registerModule('submodule', o.submodule) : null;
    this.registerModule('up', this.up);
    if ((position === 'innermost') !== (this.submodule === null))
      throw new Error('UnetSkipBlock: only the innermost block has no submodule');
  }

  forward(x: Tensor): Tensor {
    // The block's input (the outer block's features) is activated in place, as in pix2pix.
    const a = this.position === 'outermost' ? x : F.leakyRelu_(x, 0.2);
    const h = this.down.call(a);
    const u = this.up.call(this.submodule ? this.submodule.call(h) : h);
    return this.position === 'outermost' ? u : F.cat([a, u], 1);
  }
}

export interface UnetGeneratorConfig {
  inputNc: number;
  outputNc?: number;
  ngf: number;
  numDowns: number;
  norm?: NormSpec;
  dropout?: number;
  /** 'deconv' (default, pix2pix's 4x4 transposed convolutions) or 'resize'. */
  upsample?: UpsampleMode;
}

export class UnetGenerator extends nn.Module {
  readonly model: UnetSkipBlock;
  constructor(c: UnetGeneratorConfig) {
    super();
    checkPositiveInt('UnetGenerator', 'numDowns', c.numDowns, 5);
    checkPositiveInt('UnetGenerator', 'ngf', c.ngf);
    const norm = c.norm ?? 'batch';
    const { ngf } = c;
    const upsample = c.upsample ?? 'deconv';
    let block = new UnetSkipBlock('innermost', ngf * 8, ngf * 8, { norm, upsample });
    for (let i = 0; i < c.numDowns - 5; i++)
      block = new UnetSkipBlock('middle', ngf * 8, ngf * 8, {
        submodule: block,
        norm,
        dropout: c.dropout ?? 0.5,
        upsample,
      });
    block = new UnetSkipBlock('middle', ngf * 4, ngf * 8, { submodule: block, norm, upsample });
    block = new UnetSkipBlock('middle', ngf * 2, ngf * 4, { submodule: block, norm, upsample });
    block = new UnetSkipBlock('middle', ngf, ngf * 2, { submodule: block, norm, upsample });
    this.model = this.registerModule(
      'model',
      new UnetSkipBlock('outermost', c.outputNc ?? 3, ngf, { inputNc: c.inputNc, submodule: block, norm, upsample }),
    );
    // pix2pix's test protocol: the generator runs as in training, so with batch 1 its batch norm
    // normalises each image with its own statistics. The running statistics of batch-1 training
    // describe no single image: with them, eval-mode outputs came out orange or near-white
    // (bench:quality at 64x64, step 9,000 of 12,000: domain-FID 124 with the running statistics,
    // 9.0 with each image's own). Dropout stays off at inference (pix2pix keeps it on), so
    // outputs are deterministic.
    for (const [, m] of this.namedModules()) if (m instanceof nn.BatchNorm2d) m.evalStats = 'sample';
  }
  forward(x: Tensor): Tensor {
    return this.model.call(x);
  }
}
