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
import type { Tensor } from '../torch/index.js';
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
    let h = this.front.call(x);
    for (const down of this.downs) {
      const next = down.call(h);
      if (kept(enc.length)) enc.push(h);
      else {
        enc.push(null);
        h.dispose();
      }
      h = next;
    }
    let d = this.blocks.call(h);
    if (kept(enc.length)) enc.push(h);
    else {
      enc.push(null);
      if (d !== h) h.dispose();
    }
    for (let i = 0; i < this.ups.length; i++) {
      const e = enc[this.nDown - i];
      const input = e ? combineSkip(this.skip, d, e) : d;
      if (input !== d) {
        d.dispose();
        e!.dispose();
      }
      d = this.ups[i]!.call(input);
      input.dispose();
    }
    return { decoded: d, shallow: enc[0] ?? null };
  }

  /** The image, from the head applied to the (skip-combined) last decoder features. */
  forward(x: Tensor): Tensor {
    return applyHead(this.head, this.skip, this.features(x));
  }
}

/** head(combine(decoded, shallow)), disposing the inputs. */
export function applyHead(head: nn.Module, skip: SkipMode, f: { decoded: Tensor; shallow: Tensor | null }): Tensor {
  const input = f.shallow ? combineSkip(skip, f.decoded, f.shallow) : f.decoded;
  if (input !== f.decoded) {
    f.decoded.dispose();
    f.shallow!.dispose();
  }
  const out = head.call(input);
  input.dispose();
  return out;
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
