// A small U-Net lesion segmenter for the semantic-consistency metric: does a generated image,
// segmented by a network trained on real images, give back the lesion mask it was generated from?
// One output channel (lesion logits), sized for CPU: `base` channels at full resolution (default
// 16), doubled at each of `depth` 2x2 max-pool levels (default 3), each level two 3x3 conv ->
// BatchNorm -> ReLU blocks; the decoder upsamples with 2x2 stride-2 transposed convolutions and
// concatenates the encoder's features of the same level (Ronneberger et al. 2015). About 0.48M
// parameters at the defaults. Input: images [B, 3, H, W] in [-1, 1] with H and W multiples of
// 2^depth. Module names follow PyTorch conventions (`inc.block.0.weight`, `down1.block.3.bias`,
// `up1.up.weight`, `outc.weight`), so a torch.nn copy loads the same safetensors.
//
//   const seg = new Segmenter({ base: 16, depth: 3 });
//   seg.call(images)              // logits [B, 1, H, W]
//   seg.predict(images)           // bool masks [B, 1, H, W] (probability > 0.5), inference mode
//   await saveSegmenter(file, seg) / await loadSegmenter(file)   // safetensors with the config
import { F, inferenceMode, loadSafetensors, noGrad, tidy, type Tensor } from '../torch/index.js';
import * as nn from '../nn/index.js';

export interface SegmenterConfig {
  /** Channels at full resolution; default 16. */
  base?: number;
  /** Number of 2x downsamplings; default 3. */
  depth?: number;
}

export const SEGMENTER_DEFAULTS: Readonly<Required<SegmenterConfig>> = Object.freeze({ base: 16, depth: 3 });

/** (conv 3x3 -> BatchNorm -> ReLU) x 2. */
class DoubleConv extends nn.Module {
  readonly block: nn.Sequential;
  constructor(inC: number, outC: number) {
    super();
    this.block = this.registerModule(
      'block',
      new nn.Sequential(
        new nn.Conv2d(inC, outC, 3, { padding: 1, bias: false }),
        new nn.BatchNorm2d(outC),
        new nn.ReLU(),
        new nn.Conv2d(outC, outC, 3, { padding: 1, bias: false }),
        new nn.BatchNorm2d(outC),
        new nn.ReLU(),
      ),
    );
  }
  forward(x: Tensor): Tensor {
    return this.block.call(x);
  }
}

/** Upsample 2x (transposed conv), concatenate the skip, DoubleConv. */
class Up extends nn.Module<[Tensor, Tensor], Tensor> {
  readonly up: nn.ConvTranspose2d;
  readonly conv: DoubleConv;
  constructor(inC: number, outC: number) {
    super();
    this.up = this.registerModule('up', new nn.ConvTranspose2d(inC, outC, 2, { stride: 2 }));
    this.conv = this.registerModule('conv', new DoubleConv(2 * outC, outC));
  }
  forward(x: Tensor, skip: Tensor): Tensor {
    return tidy(() => this.conv.call(F.cat([skip, this.up.call(x)], 1)));
  }
}

export class Segmenter extends nn.Module {
  readonly config: Required<SegmenterConfig>;
  constructor(c: SegmenterConfig = {}) {
    super();
    this.config = { ...SEGMENTER_DEFAULTS, ...c };
    const { base, depth } = this.config;
    if (!Number.isInteger(base) || base < 1)
      throw new RangeError(`Segmenter: base must be a positive integer, got ${base}`);
    if (!Number.isInteger(depth) || depth < 1 || depth > 6)
      throw new RangeError(`Segmenter: depth must be an integer from 1 to 6, got ${depth}`);
    this.registerModule('inc', new DoubleConv(3, base));
    for (let i = 1; i <= depth; i++) this.registerModule(`down${i}`, new DoubleConv(base << (i - 1), base << i));
    for (let i = 1; i <= depth; i++)
      this.registerModule(`up${i}`, new Up(base << (depth - i + 1), base << (depth - i)));
    this.registerModule('outc', new nn.Conv2d(base, 1, 1));
  }

  /** Lesion logits [B, 1, H, W] of images [B, 3, H, W] in [-1, 1]. */
  forward(x: Tensor): Tensor {
    const { depth } = this.config;
    const m = 1 << depth;
    if (x.ndim !== 4 || x.shape[1] !== 3)
      throw new TypeError(`Segmenter: expected images [B, 3, H, W], got [${x.shape.join(', ')}]`);
    if (x.shape[2]! % m || x.shape[3]! % m) {
      throw new RangeError(
        `Segmenter: image sides must be multiples of ${m} (depth ${depth}), got ${x.shape[3]}x${x.shape[2]}`,
      );
    }
    return tidy(() => {
      const skips: Tensor[] = [this.child<DoubleConv>('inc').call(x)];
      for (let i = 1; i <= depth; i++)
        skips.push(this.child<DoubleConv>(`down${i}`).call(F.maxPool2d(skips[i - 1]!, 2, { stride: 2 })));
      let h = skips[depth]!;
      for (let i = 1; i <= depth; i++) h = this.child<Up>(`up${i}`).call(h, skips[depth - i]!);
      return this.child<nn.Conv2d>('outc').call(h);
    });
  }

  /** Lesion masks (probability > 0.5, i.e. logit > 0), bool [B, 1, H, W], in eval and inference mode. */
  predict(x: Tensor): Tensor {
    const was = this.training;
    this.eval();
    try {
      return tidy(() => inferenceMode(() => this.call(x).gt(0)));
    } finally {
      this.train(was);
    }
  }
}

/** Writes the weights and the config (metadata 'segmenter') as safetensors. */
export async function saveSegmenter(
  file: string,
  seg: Segmenter,
  metadata: Record<string, string> = {},
): Promise<void> {
  await nn.saveModule(file, seg, { ...metadata, segmenter: JSON.stringify(seg.config) });
}

/** Reads a file written by saveSegmenter: the network with its config, strictly loaded, in eval mode. */
export async function loadSegmenter(file: string): Promise<Segmenter> {
  const { tensors, metadata } = await loadSafetensors(file);
  try {
    let config: SegmenterConfig;
    try {
      config = JSON.parse(metadata.segmenter ?? '') as SegmenterConfig;
    } catch {
      throw new Error(
        `loadSegmenter: ${file} has no segmenter config in its metadata; write it with saveSegmenter (or dermosynth's segmenter trainer)`,
      );
    }
    const seg = new Segmenter(config);
    noGrad(() => seg.loadStateDict(tensors, { source: file }));
    return seg.eval();
  } finally {
    for (const t of tensors.values()) t.dispose();
  }
}
