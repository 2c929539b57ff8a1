// pix2pixHD's local enhancer (G2) and the coarse-to-fine generator built from it.
//
// Local enhancer n (of L) works at H / 2^(L-n) with width m = ngf / 2^n:
//   front   reflect-pad 3, conv 7x7 (Cl -> m), norm, ReLU                 -> f0
//   down    conv 3x3 stride 2 (m -> 2m), norm, ReLU                       -> f1, at half resolution
//   blocks  nBlocksLocal residual blocks at 2m, on f1 + (the coarser generator's last features)
//   up      transposed conv 3x3 stride 2 (2m -> m), norm, ReLU
//   head    (last enhancer only) reflect-pad 3, conv 7x7 (m -> 3), tanh
// With skips, `up` reads combine(blocks output, f1) and the head combine(up output, f0), as in
// the global generator. The input pyramid is made by average pooling (3x3, stride 2, padding 1,
// padding not counted), as pix2pixHD.
import { F, release, tidy, type Tensor } from '../torch/index.js';
import * as nn from '../nn/index.js';
import { checkPositiveInt, combineSkip, convNorm, ResnetBlock, skipWidth, upsampleLayers } from './blocks.js';
import { applyHead, GlobalGenerator, GlobalTrunk } from './global_generator.js';
import type { CoarseToFine, NormSpec, SkipMode, UpsampleMode } from './types.js';

export interface LocalEnhancerConfig {
  inputNc: number;
  outputNc?: number;
  /** The enhancer's width m (its output features); it adds 2m-channel coarser features. */
  width: number;
  nBlocks: number;
  norm?: NormSpec;
  skip?: SkipMode;
  /** 'deconv' (default) or 'resize', as the global generator. */
  upsample?: UpsampleMode;
  /** The outermost enhancer ends with the image head. */
  last: boolean;
}

export class LocalEnhancer extends nn.Module<[Tensor, Tensor], Tensor> {
  readonly skip: SkipMode;
  readonly front: nn.Sequential;
  readonly down: nn.Sequential;
  readonly blocks: nn.Sequential;
  readonly up: nn.Sequential;
  readonly head: nn.Sequential | null;

  constructor(c: LocalEnhancerConfig) {
    super();
    checkPositiveInt('LocalEnhancer', 'width', c.width);
    checkPositiveInt('LocalEnhancer', 'nBlocks', c.nBlocks, 0);
    const norm = c.norm ?? 'instance';
    const m = c.width;
    this.skip = c.skip ?? 'none';
    this.front = this.registerModule(
      'front',
      new nn.Sequential(
        new nn.ReflectionPad2d(3),
        ...convNorm(norm, m, (bias) => new nn.Conv2d(c.inputNc, m, 7, { bias })),
        new nn.ReLU({ inplace: true }),
      ),
    );
    this.down = this.registerModule(
      'down',
      new nn.Sequential(
        ...convNorm(norm, 2 * m, (bias) => new nn.Conv2d(m, 2 * m, 3, { stride: 2, padding: 1, bias })),
        new nn.ReLU({ inplace: true }),
      ),
    );
    this.blocks = this.registerModule(
      'blocks',
      new nn.Sequential(...Array.from({ length: c.nBlocks }, () => new ResnetBlock(2 * m, norm))),
    );
    const upIn = skipWidth(this.skip, 2 * m);
    this.up = this.registerModule(
      'up',
      new nn.Sequential(...upsampleLayers(c.upsample ?? 'deconv', norm, upIn, m), new nn.ReLU({ inplace: true })),
    );
    this.head = c.last
      ? this.registerModule(
          'head',
          new nn.Sequential(
            new nn.ReflectionPad2d(3),
            new nn.Conv2d(skipWidth(this.skip, m), c.outputNc ?? 3, 7),
            new nn.Tanh(),
          ),
        )
      : null;
  }

  /** label at this enhancer's resolution, coarser [B, 2m, H/2, W/2] -> features [B, m, H, W] or the image. */
  forward(label: Tensor, coarser: Tensor): Tensor {
    const skipping = this.skip !== 'none';
    const f0 = this.front.call(label);
    // The half-resolution part in a scope of its own: only the upsampled features outlive it.
    const d = tidy(() => {
      const f1 = this.down.call(f0);
      const r = this.blocks.call(f1.add(coarser));
      return this.up.call(skipping ? combineSkip(this.skip, r, f1) : r);
    });
    if (!this.head) return d;
    if (!skipping) release(f0);
    return applyHead(this.head, this.skip, { decoded: d, shallow: skipping ? f0 : null });
  }
}

export interface LocalEnhancerGeneratorConfig {
  inputNc: number;
  outputNc?: number;
  /** The global generator's width; enhancer n has ngf / 2^n. */
  ngf: number;
  nDown: number;
  nBlocks: number;
  numLocalEnhancers: number;
  nBlocksLocal: number;
  norm?: NormSpec;
  skip?: SkipMode;
  upsample?: UpsampleMode;
}

/**
 * pix2pixHD's LocalEnhancer generator (G = {G1, G2, ...}): the global generator's trunk on the
 * label map average-pooled L times, then L local enhancers, finest last. Parameters are
 * `global.*` (the global generator's, without its head) and `local1.*` .. `localL.*`.
 */
export class LocalEnhancerGenerator extends nn.Module implements CoarseToFine {
  readonly numLocalEnhancers: number;
  readonly globalGenerator: GlobalGenerator;
  readonly trunk: GlobalTrunk;
  readonly enhancers: LocalEnhancer[] = [];

  constructor(c: LocalEnhancerGeneratorConfig) {
    super();
    checkPositiveInt('LocalEnhancerGenerator', 'numLocalEnhancers', c.numLocalEnhancers);
    const L = c.numLocalEnhancers;
    if (!Number.isInteger(c.ngf) || c.ngf % 2 ** L !== 0) {
      throw new RangeError(
        `LocalEnhancerGenerator: ngf (${c.ngf}) must be a multiple of 2^numLocalEnhancers = ${2 ** L} (enhancer n has ngf / 2^n channels)`,
      );
    }
    this.numLocalEnhancers = L;
    this.globalGenerator = new GlobalGenerator({
      inputNc: c.inputNc,
      outputNc: c.outputNc,
      ngf: c.ngf,
      nDown: c.nDown,
      nBlocks: c.nBlocks,
      norm: c.norm,
      skip: c.skip,
      upsample: c.upsample,
    });
    this.trunk = this.registerModule('global', new GlobalTrunk(this.globalGenerator));
    for (let n = 1; n <= L; n++) {
      this.enhancers.push(
        this.registerModule(
          `local${n}`,
          new LocalEnhancer({
            inputNc: c.inputNc,
            outputNc: c.outputNc,
            width: c.ngf / 2 ** n,
            nBlocks: c.nBlocksLocal,
            norm: c.norm,
            skip: c.skip,
            upsample: c.upsample,
            last: n === L,
          }),
        ),
      );
    }
  }

  globalParameters(): Tensor[] {
    return this.trunk.parameters();
  }
  localParameters(): Tensor[] {
    return this.enhancers.flatMap((e) => e.parameters());
  }

  forward(x: Tensor): Tensor {
    const pyramid = [x];
    for (let i = 0; i < this.numLocalEnhancers; i++) {
      pyramid.push(F.avgPool2d(pyramid[i]!, 3, { stride: 2, padding: 1, countIncludePad: false }));
    }
    let h = this.trunk.call(pyramid[this.numLocalEnhancers]!);
    this.enhancers.forEach((enhancer, i) => {
      h = enhancer.call(pyramid[this.numLocalEnhancers - 1 - i]!, h);
    });
    return h;
  }

  /** Also moves the global generator's head, which is not one of this module's children. */
  override to(target: Parameters<nn.Module['to']>[0]): this {
    super.to(target);
    this.globalGenerator.head.to(target);
    return this;
  }
  override train(mode = true): this {
    super.train(mode);
    this.globalGenerator.train(mode);
    return this;
  }
}
