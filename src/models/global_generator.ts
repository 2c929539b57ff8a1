// pix2pixHD's global generator (G1), with the proposed model's encoder-decoder skip connections.
//
//   front   reflect-pad 3, conv 7x7 (Cl -> ngf), norm, ReLU                  -> e0 at H
//   down_i  conv 3x3 stride 2 (ngf 2^i -> ngf 2^(i+1)), norm, ReLU           -> e(i+1) at H / 2^(i+1)
//   blocks  nBlocks residual blocks at ngf 2^nDown
//   up_i    transposed conv 3x3 stride 2 (ngf 2^(nDown-i) -> half), norm, ReLU (or, with upsample
//           'resize', nearest 2x resize + reflect-pad 1 + conv 3x3: see blocks.ts upsampleLayers)
//   head    reflect-pad 3, conv 7x7 (ngf -> 3), tanh
//
// With skip 'concat' or 'add', the input of every decoder layer (up_i and the head) combines
// the decoder features with the encoder features of the same scale: up_0 reads combine(blocks
// output, e_nDown), up_i reads combine(up_(i-1) output, e_(nDown-i)), the head reads
// combine(last up output, e0). 'concat' doubles those layers' input channels; 'add' and 'none'
// add no parameters, so the network has pix2pixHD's exact parameter count.
import { release, type Tensor } from '../torch/index.js';
import * as nn from '../nn/index.js';
import { checkPositiveInt, combineSkip, convNorm, ResnetBlock, skipWidth, upsampleLayers } from './blocks.js';
import { SKIP_MODES, UPSAMPLE_MODES, type NormSpec, type SkipMode, type UpsampleMode } from './types.js';

export interface GlobalGeneratorConfig {
  inputNc: number;
  outputNc?: number;
  ngf: number;
  nDown: number;
  nBlocks: number;
  norm?: NormSpec;
  skip?: SkipMode;
  /** 'deconv' (default, pix2pixHD's) or 'resize'. */
  upsample?: UpsampleMode;
}

export class GlobalGenerator extends nn.Module {
  readonly skip: SkipMode;
  readonly ngf: number;
  readonly nDown: number;
  readonly front: nn.Sequential;
  readonly downs: nn.Sequential[] = [];
  readonly blocks: nn.Sequential;
  readonly ups: nn.Sequential[] = [];
  readonly head: nn.Sequential;

  constructor(c: GlobalGeneratorConfig) {
    super();
    const where = 'GlobalGenerator';
    checkPositiveInt(where, 'inputNc', c.inputNc);
    checkPositiveInt(where, 'ngf', c.ngf);
    checkPositiveInt(where, 'nDown', c.nDown, 0);
    checkPositiveInt(where, 'nBlocks', c.nBlocks, 0);
    const norm = c.norm ?? 'instance';
    this.skip = c.skip ?? 'none';
    if (!SKIP_MODES.includes(this.skip))
      throw new TypeError(`${where}: unknown skip '${String(this.skip)}' (one of ${SKIP_MODES.join(', ')})`);
    const upsample = c.upsample ?? 'deconv';
    if (!UPSAMPLE_MODES.includes(upsample))
      throw new TypeError(`${where}: unknown upsample '${String(upsample)}' (one of ${UPSAMPLE_MODES.join(', ')})`);
    const { ngf, nDown } = c;
    this.ngf = ngf;
    this.nDown = nDown;

    this.front = this.registerModule(
      'front',
      new nn.Sequential(
        new nn.ReflectionPad2d(3),
        ...convNorm(norm, ngf, (bias) => new nn.Conv2d(c.inputNc, ngf, 7, { bias })),
        new nn.ReLU({ inplace: true }),
      ),
    );
    for (let i = 0; i < nDown; i++) {
      const ch = ngf * 2 ** i;
      this.downs.push(
        this.registerModule(
          `down${i}`,
          new nn.Sequential(
            ...convNorm(norm, 2 * ch, (bias) => new nn.Conv2d(ch, 2 * ch, 3, { stride: 2, padding: 1, bias })),
            new nn.ReLU({ inplace: true }),
          ),
        ),
      );
    }
    const deep = ngf * 2 ** nDown;
    this.blocks = this.registerModule(
      'blocks',
      new nn.Sequential(...Array.from({ length: c.nBlocks }, () => new ResnetBlock(deep, norm))),
    );
    for (let i = 0; i < nDown; i++) {
      const ch = ngf * 2 ** (nDown - i);
      const inCh = skipWidth(this.skip, ch);
      this.ups.push(
        this.registerModule(
          `up${i}`,
          new nn.Sequential(...upsampleLayers(upsample, norm, inCh, ch / 2), new nn.ReLU({ inplace: true })),
        ),
      );
    }
    this.head = this.registerModule(
      'head',
      new nn.Sequential(
        new nn.ReflectionPad2d(3),
        new nn.Conv2d(skipWidth(this.skip, ngf), c.outputNc ?? 3, 7),
        new nn.Tanh(),
      ),
    );
  }

  /**
   * Everything but the head: the last decoder features [B, ngf, H, W] and, when skipping and
   * asked for, the full-resolution encoder features e0 that the head combines with them.
   */
  features(x: Tensor, withShallow = true): { decoded: Tensor; shallow: Tensor | null } {
    // Encoder features of scale s are kept for a skip: s >= 1 before up_(nDown-s), s = 0 for the head.
    const kept = (s: number): boolean => this.skip !== 'none' && (s > 0 || withShallow);
    const enc: (Tensor | null)[] = []; // e0 .. e_nDown
    let h = nn.runLayers(x, [this.front, ...this.downs, this.blocks], (e, s) => {
      if (s > this.nDown) return false; // the residual blocks' output, the decoder's input
      enc.push(kept(s) ? e : null);
      return kept(s);
    });
    for (let i = 0; i < this.ups.length; i++) {
      const input = joinSkip(this.skip, h, enc[this.nDown - i] ?? null);
      h = this.ups[i]!.call(input);
      release(input);
    }
    return { decoded: h, shallow: enc[0] ?? null };
  }

  /** The image, from the head applied to the (skip-combined) last decoder features. */
  forward(x: Tensor): Tensor {
    return applyHead(this.head, this.skip, this.features(x));
  }
}

/**
 * combineSkip(skip, decoder, encoder), or the decoder alone without encoder features. Each
 * operand is read once: both are released (freed now where the caller's scope made them), which
 * keeps a 512x512 inference's peak about 100 MiB lower than freeing them when the call returns.
 */
export function joinSkip(skip: SkipMode, decoder: Tensor, encoder: Tensor | null): Tensor {
  if (!encoder || skip === 'none') return decoder;
  const out = combineSkip(skip, decoder, encoder);
  release(decoder);
  release(encoder);
  return out;
}

/** head(combine(decoded, shallow)). */
export function applyHead(head: nn.Module, skip: SkipMode, f: { decoded: Tensor; shallow: Tensor | null }): Tensor {
  return head.call(joinSkip(skip, f.decoded, f.shallow));
}

/**
 * The global generator without its head, for a coarse-to-fine generator: it registers the same
 * layer modules (so the two share weights) under the same names, except the head.
 */
export class GlobalTrunk extends nn.Module {
  constructor(readonly generator: GlobalGenerator) {
    super();
    for (const [name, m] of generator.namedChildren()) if (name !== 'head') this.registerModule(name, m);
  }
  /** The last decoder features, [B, ngf, H, W]. */
  forward(x: Tensor): Tensor {
    return this.generator.features(x, false).decoded;
  }
}
