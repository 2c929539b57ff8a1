// SPADE's generator (NVlabs/SPADE models/networks/generator.py, deterministic form without the
// VAE): the label map resized (nearest) to H / 2^u and a 3x3 convolution to 16 ngf channels, then
// SPADE residual blocks with nearest 2x upsampling between them, LeakyReLU(0.2), a 3x3
// convolution to RGB and tanh. 'normal' (u = 5):
//   fc, head_0 (16 ngf), up, G_middle_0, G_middle_1, up, up_0 (8 ngf), up, up_1 (4 ngf),
//   up, up_2 (2 ngf), up, up_3 (ngf), conv_img
// 'more' adds an upsampling between G_middle_0 and G_middle_1 (u = 6); 'most' also adds up, up_4
// (ngf / 2) at the end (u = 7). Names are SPADE's.
import { F, release, type Tensor } from '../torch/index.js';
import * as nn from '../nn/index.js';
import { checkPositiveInt } from './blocks.js';
import { segmapLike, SPADEResnetBlock, type SpadeResnetBlockOptions } from './spade.js';
import type { SpadeUpsampling } from './types.js';

export const SPADE_UPSAMPLINGS: Record<SpadeUpsampling, number> = { normal: 5, more: 6, most: 7 };

export interface SpadeGeneratorConfig extends SpadeResnetBlockOptions {
  labelNc: number;
  outputNc?: number;
  ngf: number;
  upsampling?: SpadeUpsampling;
}

export class SPADEGenerator extends nn.Module {
  readonly upsampling: SpadeUpsampling;
  readonly fc: nn.Conv2d;
  readonly blocks: Map<string, SPADEResnetBlock> = new Map();
  readonly convImg: nn.Conv2d;

  constructor(c: SpadeGeneratorConfig) {
    super();
    checkPositiveInt('SPADEGenerator', 'ngf', c.ngf);
    checkPositiveInt('SPADEGenerator', 'labelNc', c.labelNc);
    this.upsampling = c.upsampling ?? 'normal';
    if (!(this.upsampling in SPADE_UPSAMPLINGS))
      throw new TypeError(`SPADEGenerator: unknown upsampling '${String(this.upsampling)}' (normal, more or most)`);
    const nf = c.ngf;
    this.fc = this.registerModule('fc', new nn.Conv2d(c.labelNc, 16 * nf, 3, { padding: 1 }));
    const block = (name: string, fin: number, fout: number): void => {
      this.blocks.set(name, this.registerModule(name, new SPADEResnetBlock(fin, fout, c.labelNc, c)));
    };
    block('head_0', 16 * nf, 16 * nf);
    block('G_middle_0', 16 * nf, 16 * nf);
    block('G_middle_1', 16 * nf, 16 * nf);
    block('up_0', 16 * nf, 8 * nf);
    block('up_1', 8 * nf, 4 * nf);
    block('up_2', 4 * nf, 2 * nf);
    block('up_3', 2 * nf, nf);
    let finalNc = nf;
    if (this.upsampling === 'most') {
      if (nf < 2)
        throw new RangeError("SPADEGenerator: 'most' upsampling needs ngf >= 2 (its last block has ngf / 2 channels)");
      block('up_4', nf, Math.floor(nf / 2));
      finalNc = Math.floor(nf / 2);
    }
    this.convImg = this.registerModule('conv_img', new nn.Conv2d(finalNc, c.outputNc ?? 3, 3, { padding: 1 }));
  }

  /** Number of 2x upsamplings: the input's sides must be multiples of 2^this. */
  get numUpsamplings(): number {
    return SPADE_UPSAMPLINGS[this.upsampling];
  }

  forward(seg: Tensor): Tensor {
    const [, , H, W] = seg.shape as [number, number, number, number];
    const f = 2 ** this.numUpsamplings;
    if (H % f !== 0 || W % f !== 0) {
      throw new RangeError(
        `SPADEGenerator: a ${W}x${H} label map does not fit '${this.upsampling}' upsampling; its sides must be multiples of ${f}`,
      );
    }
    // The label map at each resolution, made once per forward (each SPADE layer resizes to its input).
    const resized = new Map<number, Tensor>();
    const segAt = (x: Tensor): Tensor => {
      let s = resized.get(x.shape[2]!);
      if (!s) resized.set(x.shape[2]!, (s = segmapLike(seg, x)));
      return s;
    };
    let x = this.fc.call(F.interpolate(seg, { size: [H / f, W / f], mode: 'nearest' }));
    // A chain of stages at growing resolutions: each output is released once the next is made.
    const step = (fn: (x: Tensor) => Tensor): void => {
      const next = fn(x);
      release(x);
      x = next;
    };
    const run = (name: string): void => step((h) => this.blocks.get(name)!.call(h, segAt(h)));
    const up = (): void => step((h) => F.interpolate(h, { scaleFactor: 2, mode: 'nearest' }));
    run('head_0');
    up();
    run('G_middle_0');
    if (this.upsampling !== 'normal') up();
    run('G_middle_1');
    for (const name of ['up_0', 'up_1', 'up_2', 'up_3']) {
      up();
      run(name);
    }
    if (this.upsampling === 'most') {
      up();
      run('up_4');
    }
    F.leakyRelu_(x, 0.2);
    step((h) => this.convImg.call(h));
    step((h) => h.tanh());
    return x;
  }
}
