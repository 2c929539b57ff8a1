// Inception-v3 as FID uses it: the network of pytorch-fid's `fid_inception_v3()` (the TensorFlow
// 2015-12-05 graph behind the original FID and Inception Score code), i.e. torchvision's
// Inception3 (num_classes 1008, no auxiliary classifier) with its Mixed blocks patched:
//   - Mixed_5b/5c/5d (InceptionA), Mixed_6b..6e (InceptionC) and Mixed_7b (InceptionE, first):
//     the pooling branch's 3x3 average pool ignores the zero padding (count_include_pad false),
//     as TensorFlow's average pool does;
//   - Mixed_7c (InceptionE, second): the pooling branch uses a 3x3 max pool instead of the
//     average pool (a quirk of that TensorFlow graph that FID inherited);
//   - Mixed_6a (InceptionB) and Mixed_7a (InceptionD) are torchvision's as they are.
// Every convolution is `BasicConv2d`: conv (no bias) -> batch norm (eps 0.001) -> ReLU.
//
// Parameter names are torchvision's (`Conv2d_1a_3x3.conv.weight`, `Mixed_5b.branch1x1.bn.
// running_mean`, ..., `fc.weight` [1008, 2048], `fc.bias`), which are those of pytorch-fid's
// `pt_inception-2015-12-05-6726825d.pth` and torch-fidelity's `weights-inception-2015-12-05-
// 6726825d.pth`: convert either with `scripts/to_safetensors.py` and `loadInceptionV3` loads it
// strictly (`num_batches_tracked` may be present or absent: evaluation never reads it).
//
// Outputs: `pool3`, the 2048-d average-pooled features FID and KID use, and `logits`, the 1008-way
// logits for the Inception Score; by default without the fc bias ("logits_unbiased" in
// torch-fidelity), as the original TF Inception Score code multiplies pool3 by the softmax
// weights alone.
//
// Input: [B, 3, H, W] images in [0, 1] (pytorch-fid's convention), resized to 299x299, then
// mapped to [-1, 1] by 2x - 1. Resizing is anti-aliased by default, as clean-fid recommends
// (Parmar et al. 2022: aliased resizing shifts FID): libtorch's `_upsample_bicubic2d_aa`, i.e.
// `F.interpolate(x, size=(299, 299), mode='bicubic', antialias=True, align_corners=False)`, the
// Keys cubic with a = -0.5 over a support widened by the downscale factor, which is PIL's BICUBIC
// resize that clean-fid uses (checked against PIL.Image.resize(BICUBIC) on float images in
// test/models/inception_v3.test.ts: within 1e-4). `resize: 'bilinear'` reproduces pytorch-fid exactly (plain,
// aliased bilinear); `'none'` feeds 299x299 inputs as they are.
//
//   const net = await loadInceptionV3('inception.safetensors');   // frozen, eval mode
//   const { pool3, logits } = torch.inferenceMode(() => net.call(images01));  // [B, 2048], [B, 1008]
//   const f = net.features(images01);                              // pool3 only
import { F, loadSafetensors, noGrad, tidy, type Tensor } from '../torch/index.js';
import * as nn from '../nn/index.js';

export const INCEPTION_SIZE = 299;
export const INCEPTION_FEATURES = 2048;
export const INCEPTION_CLASSES = 1008;

/** How inputs reach 299x299: anti-aliased bicubic (default, clean-fid), anti-aliased bilinear, plain bilinear (pytorch-fid), or not at all. */
export type InceptionResize = 'bicubic-antialias' | 'bilinear-antialias' | 'bilinear' | 'none';
export const INCEPTION_RESIZE_MODES: readonly InceptionResize[] = [
  'bicubic-antialias',
  'bilinear-antialias',
  'bilinear',
  'none',
];

export interface InceptionV3Options {
  /** Default 'bicubic-antialias'. */
  resize?: InceptionResize;
  /** Adds fc.bias to the logits (torch-fidelity's 'logits'); default false ('logits_unbiased', the original IS). */
  logitsBias?: boolean;
}

export interface InceptionOutputs {
  /** [B, 2048] average-pooled Mixed_7c features (FID's pool3). */
  pool3: Tensor;
  /** [B, 1008] class logits. */
  logits: Tensor;
}

type Pair = number | [number, number];

/** conv (no bias) -> BatchNorm2d(eps 0.001) -> ReLU, torchvision's BasicConv2d. */
export class BasicConv2d extends nn.Module {
  readonly conv: nn.Conv2d;
  readonly bn: nn.BatchNorm2d;
  constructor(inC: number, outC: number, kernelSize: Pair, o: { stride?: Pair; padding?: Pair } = {}) {
    super();
    this.conv = this.registerModule('conv', new nn.Conv2d(inC, outC, kernelSize, { ...o, bias: false }));
    this.bn = this.registerModule('bn', new nn.BatchNorm2d(outC, { eps: 0.001 }));
  }
  forward(x: Tensor): Tensor {
    return this.bn.call(this.conv.call(x)).relu_();
  }
}

/** Runs `steps` in turn from x (each intermediate freed once the next step has read it). */
function chain(x: Tensor, ...steps: nn.Module[]): Tensor {
  return nn.runLayers(x, steps);
}

/** The branches concatenated along channels (the block's scope frees them when it returns). */
function catFree(parts: Tensor[]): Tensor {
  return F.cat(parts, 1);
}

/** The pooling branch's 3x3 stride-1 pool of the FID blocks. */
function fidPool(x: Tensor, kind: 'avg' | 'max'): Tensor {
  return kind === 'avg'
    ? F.avgPool2d(x, 3, { stride: 1, padding: 1, countIncludePad: false })
    : F.maxPool2d(x, 3, { stride: 1, padding: 1 });
}

/** Mixed_5b/5c/5d: torchvision's InceptionA, average pool without the padding (FIDInceptionA). */
export class FidInceptionA extends nn.Module {
  constructor(inC: number, poolFeatures: number) {
    super();
    this.registerModule('branch1x1', new BasicConv2d(inC, 64, 1));
    this.registerModule('branch5x5_1', new BasicConv2d(inC, 48, 1));
    this.registerModule('branch5x5_2', new BasicConv2d(48, 64, 5, { padding: 2 }));
    this.registerModule('branch3x3dbl_1', new BasicConv2d(inC, 64, 1));
    this.registerModule('branch3x3dbl_2', new BasicConv2d(64, 96, 3, { padding: 1 }));
    this.registerModule('branch3x3dbl_3', new BasicConv2d(96, 96, 3, { padding: 1 }));
    this.registerModule('branch_pool', new BasicConv2d(inC, poolFeatures, 1));
  }
  forward(x: Tensor): Tensor {
    const m = (n: string): nn.Module => this.child(n);
    const pool = chain(fidPool(x, 'avg'), m('branch_pool'));
    return catFree([
      chain(x, m('branch1x1')),
      chain(x, m('branch5x5_1'), m('branch5x5_2')),
      chain(x, m('branch3x3dbl_1'), m('branch3x3dbl_2'), m('branch3x3dbl_3')),
      pool,
    ]);
  }
}

/** Mixed_6a: torchvision's InceptionB (grid reduction 35 -> 17). */
export class InceptionB extends nn.Module {
  constructor(inC: number) {
    super();
    this.registerModule('branch3x3', new BasicConv2d(inC, 384, 3, { stride: 2 }));
    this.registerModule('branch3x3dbl_1', new BasicConv2d(inC, 64, 1));
    this.registerModule('branch3x3dbl_2', new BasicConv2d(64, 96, 3, { padding: 1 }));
    this.registerModule('branch3x3dbl_3', new BasicConv2d(96, 96, 3, { stride: 2 }));
  }
  forward(x: Tensor): Tensor {
    const m = (n: string): nn.Module => this.child(n);
    return catFree([
      chain(x, m('branch3x3')),
      chain(x, m('branch3x3dbl_1'), m('branch3x3dbl_2'), m('branch3x3dbl_3')),
      F.maxPool2d(x, 3, { stride: 2 }),
    ]);
  }
}

/** Mixed_6b..6e: torchvision's InceptionC (factorised 7x7), average pool without the padding (FIDInceptionC). */
export class FidInceptionC extends nn.Module {
  constructor(inC: number, channels7x7: number) {
    super();
    const c7 = channels7x7;
    this.registerModule('branch1x1', new BasicConv2d(inC, 192, 1));
    this.registerModule('branch7x7_1', new BasicConv2d(inC, c7, 1));
    this.registerModule('branch7x7_2', new BasicConv2d(c7, c7, [1, 7], { padding: [0, 3] }));
    this.registerModule('branch7x7_3', new BasicConv2d(c7, 192, [7, 1], { padding: [3, 0] }));
    this.registerModule('branch7x7dbl_1', new BasicConv2d(inC, c7, 1));
    this.registerModule('branch7x7dbl_2', new BasicConv2d(c7, c7, [7, 1], { padding: [3, 0] }));
    this.registerModule('branch7x7dbl_3', new BasicConv2d(c7, c7, [1, 7], { padding: [0, 3] }));
    this.registerModule('branch7x7dbl_4', new BasicConv2d(c7, c7, [7, 1], { padding: [3, 0] }));
    this.registerModule('branch7x7dbl_5', new BasicConv2d(c7, 192, [1, 7], { padding: [0, 3] }));
    this.registerModule('branch_pool', new BasicConv2d(inC, 192, 1));
  }
  forward(x: Tensor): Tensor {
    const m = (n: string): nn.Module => this.child(n);
    const pool = chain(fidPool(x, 'avg'), m('branch_pool'));
    return catFree([
      chain(x, m('branch1x1')),
      chain(x, m('branch7x7_1'), m('branch7x7_2'), m('branch7x7_3')),
      chain(x, m('branch7x7dbl_1'), m('branch7x7dbl_2'), m('branch7x7dbl_3'), m('branch7x7dbl_4'), m('branch7x7dbl_5')),
      pool,
    ]);
  }
}

/** Mixed_7a: torchvision's InceptionD (grid reduction 17 -> 8). */
export class InceptionD extends nn.Module {
  constructor(inC: number) {
    super();
    this.registerModule('branch3x3_1', new BasicConv2d(inC, 192, 1));
    this.registerModule('branch3x3_2', new BasicConv2d(192, 320, 3, { stride: 2 }));
    this.registerModule('branch7x7x3_1', new BasicConv2d(inC, 192, 1));
    this.registerModule('branch7x7x3_2', new BasicConv2d(192, 192, [1, 7], { padding: [0, 3] }));
    this.registerModule('branch7x7x3_3', new BasicConv2d(192, 192, [7, 1], { padding: [3, 0] }));
    this.registerModule('branch7x7x3_4', new BasicConv2d(192, 192, 3, { stride: 2 }));
  }
  forward(x: Tensor): Tensor {
    const m = (n: string): nn.Module => this.child(n);
    return catFree([
      chain(x, m('branch3x3_1'), m('branch3x3_2')),
      chain(x, m('branch7x7x3_1'), m('branch7x7x3_2'), m('branch7x7x3_3'), m('branch7x7x3_4')),
      F.maxPool2d(x, 3, { stride: 2 }),
    ]);
  }
}

/**
 * Mixed_7b / Mixed_7c: torchvision's InceptionE (expanded filter bank), with the pooling branch
 * patched: average pool without the padding (FIDInceptionE_1, Mixed_7b) or a max pool
 * (FIDInceptionE_2, Mixed_7c).
 */
export class FidInceptionE extends nn.Module {
  constructor(
    inC: number,
    readonly pool: 'avg' | 'max',
  ) {
    super();
    this.registerModule('branch1x1', new BasicConv2d(inC, 320, 1));
    this.registerModule('branch3x3_1', new BasicConv2d(inC, 384, 1));
    this.registerModule('branch3x3_2a', new BasicConv2d(384, 384, [1, 3], { padding: [0, 1] }));
    this.registerModule('branch3x3_2b', new BasicConv2d(384, 384, [3, 1], { padding: [1, 0] }));
    this.registerModule('branch3x3dbl_1', new BasicConv2d(inC, 448, 1));
    this.registerModule('branch3x3dbl_2', new BasicConv2d(448, 384, 3, { padding: 1 }));
    this.registerModule('branch3x3dbl_3a', new BasicConv2d(384, 384, [1, 3], { padding: [0, 1] }));
    this.registerModule('branch3x3dbl_3b', new BasicConv2d(384, 384, [3, 1], { padding: [1, 0] }));
    this.registerModule('branch_pool', new BasicConv2d(inC, 192, 1));
  }
  forward(x: Tensor): Tensor {
    const m = (n: string): nn.Module => this.child(n);
    const b3 = chain(x, m('branch3x3_1'));
    const b3split = catFree([chain(b3, m('branch3x3_2a')), chain(b3, m('branch3x3_2b'))]);
    const d = chain(x, m('branch3x3dbl_1'), m('branch3x3dbl_2'));
    const dsplit = catFree([chain(d, m('branch3x3dbl_3a')), chain(d, m('branch3x3dbl_3b'))]);
    const pool = chain(fidPool(x, this.pool), m('branch_pool'));
    return catFree([chain(x, m('branch1x1')), b3split, dsplit, pool]);
  }
}

/** The stem and Mixed blocks in order; 'pool1'/'pool2' are the 3x3 stride-2 max pools. */
const STAGES = [
  'Conv2d_1a_3x3',
  'Conv2d_2a_3x3',
  'Conv2d_2b_3x3',
  'pool1',
  'Conv2d_3b_1x1',
  'Conv2d_4a_3x3',
  'pool2',
  'Mixed_5b',
  'Mixed_5c',
  'Mixed_5d',
  'Mixed_6a',
  'Mixed_6b',
  'Mixed_6c',
  'Mixed_6d',
  'Mixed_6e',
  'Mixed_7a',
  'Mixed_7b',
  'Mixed_7c',
] as const;

export class InceptionV3 extends nn.Module<[Tensor], InceptionOutputs> {
  /** Images are expected in [0, 1] (see the features helper, src/eval/features.ts). */
  readonly inputRange = 'unit' as const;
  readonly resize: InceptionResize;
  readonly logitsBias: boolean;
  readonly fc: nn.Linear;

  constructor(o: InceptionV3Options = {}) {
    super();
    this.resize = o.resize ?? 'bicubic-antialias';
    if (!INCEPTION_RESIZE_MODES.includes(this.resize)) {
      throw new TypeError(
        `InceptionV3: resize must be one of ${INCEPTION_RESIZE_MODES.join(', ')}, got '${String(this.resize)}'`,
      );
    }
    this.logitsBias = o.logitsBias ?? false;
    this.registerModule('Conv2d_1a_3x3', new BasicConv2d(3, 32, 3, { stride: 2 }));
    this.registerModule('Conv2d_2a_3x3', new BasicConv2d(32, 32, 3));
    this.registerModule('Conv2d_2b_3x3', new BasicConv2d(32, 64, 3, { padding: 1 }));
    this.registerModule('Conv2d_3b_1x1', new BasicConv2d(64, 80, 1));
    this.registerModule('Conv2d_4a_3x3', new BasicConv2d(80, 192, 3));
    this.registerModule('Mixed_5b', new FidInceptionA(192, 32));
    this.registerModule('Mixed_5c', new FidInceptionA(256, 64));
    this.registerModule('Mixed_5d', new FidInceptionA(288, 64));
    this.registerModule('Mixed_6a', new InceptionB(288));
    this.registerModule('Mixed_6b', new FidInceptionC(768, 128));
    this.registerModule('Mixed_6c', new FidInceptionC(768, 160));
    this.registerModule('Mixed_6d', new FidInceptionC(768, 160));
    this.registerModule('Mixed_6e', new FidInceptionC(768, 192));
    this.registerModule('Mixed_7a', new InceptionD(768));
    this.registerModule('Mixed_7b', new FidInceptionE(1280, 'avg'));
    this.registerModule('Mixed_7c', new FidInceptionE(2048, 'max'));
    this.fc = this.registerModule('fc', new nn.Linear(INCEPTION_FEATURES, INCEPTION_CLASSES));
    this.eval();
  }

  /** Stops gradients into the weights (gradients still reach the input). */
  freeze(): this {
    for (const p of this.parameters()) p.requiresGrad = false;
    return this;
  }

  /** [B, 3, H, W] in [0, 1] -> the network's input: resized to 299x299 as `resize` says, then 2x - 1. */
  preprocess(x: Tensor): Tensor {
    if (x.ndim !== 4 || x.shape[1] !== 3)
      throw new TypeError(`InceptionV3: expected images [B, 3, H, W] in [0, 1], got shape [${x.shape.join(', ')}]`);
    const [h, w] = [x.shape[2]!, x.shape[3]!];
    if (this.resize === 'none' && (h !== INCEPTION_SIZE || w !== INCEPTION_SIZE)) {
      throw new RangeError(`InceptionV3: resize 'none' needs 299x299 images, got ${w}x${h}; use another resize mode`);
    }
    return tidy(() => this.resized(x).mul(2).sub_(1));
  }

  private resized(x: Tensor): Tensor {
    const size: [number, number] = [INCEPTION_SIZE, INCEPTION_SIZE];
    let r: Tensor;
    switch (this.resize) {
      case 'bicubic-antialias':
        r = F.interpolate(x, { size, mode: 'bicubic', antialias: true, alignCorners: false });
        break;
      case 'bilinear-antialias':
        r = F.interpolate(x, { size, mode: 'bilinear', antialias: true, alignCorners: false });
        break;
      case 'bilinear':
        r = F.interpolate(x, { size, mode: 'bilinear', alignCorners: false });
        break;
      case 'none':
        r = x;
        break;
    }
    return r;
  }

  /** The 2048-d pool3 features of images in [0, 1], [B, 2048]. */
  features(x: Tensor): Tensor {
    this.stages ??= STAGES.map((name) =>
      name === 'pool1' || name === 'pool2' ? new nn.MaxPool2d(3, { stride: 2 }) : this.child<nn.Module>(name),
    );
    return tidy(() => nn.runLayers(this.preprocess(x), this.stages!).mean([2, 3]));
  }
  private stages: nn.Module[] | undefined;

  /** The 1008 logits from pool3 features [B, 2048] (with fc.bias only when logitsBias). */
  logitsFromPool3(pool3: Tensor): Tensor {
    return F.linear(pool3, this.fc.param('weight'), this.logitsBias ? this.fc.param('bias') : null);
  }

  forward(x: Tensor): InceptionOutputs {
    const pool3 = this.features(x);
    return { pool3, logits: this.logitsFromPool3(pool3) };
  }
}

/**
 * Loads the FID Inception weights from a safetensors file of pytorch-fid's (or torch-fidelity's)
 * state dict, converted with `scripts/to_safetensors.py`. Strict: every tensor of the network
 * must be present with its shape (only `*.num_batches_tracked` may be absent), and no other
 * tensor may be in the file; otherwise the error names the file and the first problem. Any dtype
 * converts to float32. Returns the network frozen and in eval mode.
 */
export async function loadInceptionV3(file: string, o: InceptionV3Options = {}): Promise<InceptionV3> {
  const { tensors } = await loadSafetensors(file);
  const net = new InceptionV3(o);
  try {
    const own = net.stateDict();
    const optional = (k: string): boolean => k.endsWith('.num_batches_tracked');
    const hint = ` (expected pytorch-fid's pt_inception-2015-12-05-6726825d.pth converted with scripts/to_safetensors.py)`;
    const missing = [...own.keys()].find((k) => !tensors.has(k) && !optional(k));
    if (missing) throw new Error(`loadInceptionV3: ${file}: missing tensor '${missing}'${hint}`);
    const unexpected = [...tensors.keys()].find((k) => !own.has(k));
    if (unexpected) throw new Error(`loadInceptionV3: ${file}: unexpected tensor '${unexpected}'${hint}`);
    for (const [k, t] of own) {
      const src = tensors.get(k);
      if (src && src.shape.join(',') !== t.shape.join(',')) {
        throw new Error(
          `loadInceptionV3: ${file}: tensor '${k}' is [${src.shape.join(', ')}], expected [${t.shape.join(', ')}]${hint}`,
        );
      }
    }
    noGrad(() => {
      for (const [k, t] of own) {
        const src = tensors.get(k);
        if (src) t.copy_(src);
      }
    });
  } catch (err) {
    for (const [, t] of [...net.namedParameters(), ...net.namedBuffers()]) t.dispose();
    throw err;
  } finally {
    for (const t of tensors.values()) t.dispose();
  }
  return net.freeze().eval();
}
