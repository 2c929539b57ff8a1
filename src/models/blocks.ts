// Building blocks shared by the generators and discriminators: the normalisation-layer factory,
// pix2pixHD's residual block, and the skip-connection combiner.
import { F, type Tensor } from '../torch/index.js';
import * as nn from '../nn/index.js';
import { NORM_SPECS, type NormKind, type NormSpec, type SkipMode, type UpsampleMode } from './types.js';

export function parseNorm(spec: NormSpec): { kind: NormKind; spectral: boolean } {
  if (!NORM_SPECS.includes(spec))
    throw new TypeError(`unknown normalisation '${String(spec)}' (one of ${NORM_SPECS.join(', ')})`);
  const spectral = spec.startsWith('spectral-');
  return { kind: (spectral ? spec.slice('spectral-'.length) : spec) as NormKind, spectral };
}

/** The normalisation layer for `channels` features, or null for 'none'. */
export function normLayer(kind: NormKind, channels: number): nn.Module | null {
  switch (kind) {
    case 'instance':
      return new nn.InstanceNorm2d(channels); // affine-free, no running statistics (pix2pixHD, SPADE)
    case 'batch':
      return new nn.BatchNorm2d(channels); // affine, running statistics
    case 'none':
      return null;
  }
}

/**
 * A convolution and the normalisation after it, as layers: [conv] or [conv, norm], with the
 * convolution spectrally normalised for 'spectral-*'. `conv` is called with whether it should
 * have a bias: `bias` decides ('keep': always, as pix2pixHD; 'drop': not when a norm follows, as
 * SPADE; 'drop-if-batch': not before batch norm, as pix2pix).
 */
export function convNorm(
  spec: NormSpec,
  channels: number,
  conv: (bias: boolean) => nn.Module,
  bias: 'keep' | 'drop' | 'drop-if-batch' = 'keep',
): nn.Module[] {
  const { kind, spectral } = parseNorm(spec);
  const withBias = bias === 'keep' || kind === 'none' || (bias === 'drop-if-batch' && kind !== 'batch');
  const c = conv(withBias);
  const norm = normLayer(kind, channels);
  return [spectral ? nn.spectralNorm(c) : c, ...(norm ? [norm] : [])];
}

/**
 * A 2x upsampling layer and its norm: pix2pixHD's transposed 3x3 convolution (stride 2, padding 1,
 * output padding 1), or a nearest-neighbour resize followed by a reflect-padded 3x3 convolution
 * (Odena, Dumoulin & Olah 2016, "Deconvolution and checkerboard artifacts"). The transposed
 * convolution's kernel overlaps unevenly (output pixels of even and odd position sum 1, 2 or 4
 * kernel taps), which draws a 2x2-periodic checkerboard unless training learns to cancel it; after
 * a nearest resize every output pixel sees the same taps, so the layer cannot make one.
 */
export function upsampleLayers(
  mode: UpsampleMode,
  norm: NormSpec,
  inChannels: number,
  outChannels: number,
  bias: 'keep' | 'drop-if-batch' = 'keep',
): nn.Module[] {
  if (mode === 'resize') {
    return [
      new nn.Upsample({ scaleFactor: 2, mode: 'nearest' }),
      new nn.ReflectionPad2d(1),
      ...convNorm(norm, outChannels, (b) => new nn.Conv2d(inChannels, outChannels, 3, { bias: b }), bias),
    ];
  }
  return convNorm(
    norm,
    outChannels,
    (b) =>
      new nn.ConvTranspose2d(inChannels, outChannels, 3, {
        stride: 2,
        padding: 1,
        outputPadding: 1,
        bias: b,
        subpixel: true,
      }),
    bias,
  );
}

/**
 * pix2pixHD's residual block: x + [reflect-pad 1, conv 3x3, norm, ReLU, reflect-pad 1, conv 3x3,
 * norm](x). The layers are `conv_block.N` as in pix2pixHD.
 */
export class ResnetBlock extends nn.Module {
  readonly convBlock: nn.Sequential;
  constructor(
    readonly dim: number,
    norm: NormSpec = 'instance',
    dropout = 0,
  ) {
    super();
    const conv = (bias: boolean): nn.Module => new nn.Conv2d(dim, dim, 3, { bias });
    this.convBlock = this.registerModule(
      'conv_block',
      new nn.Sequential(
        new nn.ReflectionPad2d(1),
        ...convNorm(norm, dim, conv),
        new nn.ReLU({ inplace: true }),
        ...(dropout > 0 ? [new nn.Dropout(dropout)] : []),
        new nn.ReflectionPad2d(1),
        ...convNorm(norm, dim, conv),
      ),
    );
  }
  forward(x: Tensor): Tensor {
    return x.add(this.convBlock.call(x));
  }
}

/** Channels a layer reading combine(decoder, encoder) takes, for decoder features of `channels`. */
export function skipWidth(skip: SkipMode, channels: number): number {
  return skip === 'concat' ? 2 * channels : channels;
}

/**
 * Combines decoder features with the encoder features of the same scale: cat along channels
 * (decoder first), sum, or the decoder features alone. Returns a new tensor except for 'none'.
 */
export function combineSkip(skip: SkipMode, decoder: Tensor, encoder: Tensor): Tensor {
  switch (skip) {
    case 'concat':
      return F.cat([decoder, encoder], 1);
    case 'add':
      return decoder.add(encoder);
    case 'none':
      return decoder;
  }
}

export function checkPositiveInt(where: string, name: string, v: number, min = 1): void {
  if (!Number.isInteger(v) || v < min) throw new RangeError(`${where}: ${name} must be an integer >= ${min}, got ${v}`);
}
