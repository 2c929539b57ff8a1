// LPIPS, the learned perceptual image patch similarity of Zhang et al. 2018 (the `lpips` package,
// version 0.1): a pretrained backbone (torchvision's AlexNet or VGG16 `features`), five feature
// taps, and learned non-negative 1x1 "linear" layers:
//
//   x' = (x - shift) / scale               x in [-1, 1]; shift (-0.030, -0.088, -0.188),
//                                           scale (0.458, 0.448, 0.450) (the package's ScalingLayer)
//   f_k = tap k of the backbone on x'      alex: relu1..relu5 (features.1, 4, 7, 9, 11), channels
//                                           64, 192, 384, 256, 256; vgg: relu1_2, relu2_2, relu3_3,
//                                           relu4_3, relu5_3 (features.3, 8, 15, 22, 29)
//   n_k = f_k / (||f_k||_channels + 1e-10) unit-normalised along the channels at each pixel
//   d(x, y) = sum_k mean_{h,w} conv1x1_k((n_k(x) - n_k(y))²)     (lin{k}: 1 output, no bias)
//
// Names: the backbone keeps torchvision's (`features.0.weight`, ...), the linear layers the lpips
// package's (`lin0.model.1.weight` [1, C, 1, 1]; `model.0` is its dropout, inactive in eval). The
// weights come from two user files (never downloaded): torchvision's alexnet / vgg16 state dict and
// the package's `lpips/weights/v0.1/alex.pth` / `vgg.pth`, each converted with
// scripts/to_safetensors.py, and loaded strictly by `loadLpips`.
//
//   const net = await loadLpips('alex', { backbone: 'alexnet.safetensors', linear: 'lpips_alex.safetensors' });
//   net.distance(a, b)   // number[] per image pair, a and b [B, 3, H, W] in [-1, 1]
//   net.call(a, b)       // float32 [B], differentiable in the images (a perceptual loss)
import { loadSafetensors, noGrad, tensor, inferenceMode, tidy, type Tensor } from '../torch/index.js';
import * as nn from '../nn/index.js';

export type LpipsBackbone = 'alex' | 'vgg';

interface BackboneSpec {
  /** torchvision `features` up to the last tap: conv [out, kernel, stride, padding], 'R' ReLU, 'M' 3x3/2 (alex) or 2x2/2 (vgg) max pool. */
  layers: ([number, number, number, number] | 'R' | 'M')[];
  pool: [number, number];
  taps: number[];
  channels: number[];
}

const SPECS: Record<LpipsBackbone, BackboneSpec> = {
  alex: {
    layers: [
      [64, 11, 4, 2],
      'R',
      'M',
      [192, 5, 1, 2],
      'R',
      'M',
      [384, 3, 1, 1],
      'R',
      [256, 3, 1, 1],
      'R',
      [256, 3, 1, 1],
      'R',
    ],
    pool: [3, 2],
    taps: [1, 4, 7, 9, 11],
    channels: [64, 192, 384, 256, 256],
  },
  vgg: {
    layers: (() => {
      const out: BackboneSpec['layers'] = [];
      for (const v of [64, 64, 'M', 128, 128, 'M', 256, 256, 256, 'M', 512, 512, 512, 'M', 512, 512, 512] as const) {
        if (v === 'M') out.push('M');
        else out.push([v, 3, 1, 1], 'R');
      }
      return out;
    })(),
    pool: [2, 2],
    taps: [3, 8, 15, 22, 29],
    channels: [64, 128, 256, 512, 512],
  },
};

export const LPIPS_SHIFT = [-0.03, -0.088, -0.188] as const;
export const LPIPS_SCALE = [0.458, 0.448, 0.45] as const;

/** The package's NetLinLayer: model = Sequential(Dropout, Conv2d(C, 1, 1, bias=False)). */
class LinLayer extends nn.Module {
  readonly model: nn.Sequential;
  constructor(channels: number) {
    super();
    this.model = this.registerModule(
      'model',
      new nn.Sequential(new nn.Dropout(0.5), new nn.Conv2d(channels, 1, 1, { bias: false })),
    );
  }
  forward(x: Tensor): Tensor {
    return this.model.call(x);
  }
}

export class Lpips extends nn.Module<[Tensor, Tensor], Tensor> {
  readonly features: nn.Sequential;
  readonly lins: LinLayer[];
  readonly spec: BackboneSpec;

  constructor(readonly backbone: LpipsBackbone) {
    super();
    const spec = SPECS[backbone];
    if (!spec) throw new TypeError(`Lpips: backbone must be 'alex' or 'vgg', got '${String(backbone)}'`);
    this.spec = spec;
    const layers: nn.Module[] = [];
    let inC = 3;
    for (const l of spec.layers) {
      if (l === 'R') layers.push(new nn.ReLU());
      else if (l === 'M') layers.push(new nn.MaxPool2d(spec.pool[0], { stride: spec.pool[1] }));
      else {
        layers.push(new nn.Conv2d(inC, l[0], l[1], { stride: l[2], padding: l[3] }));
        inC = l[0];
      }
    }
    this.features = this.registerModule('features', new nn.Sequential(...layers));
    this.lins = spec.channels.map((c, k) => this.registerModule(`lin${k}`, new LinLayer(c)));
    this.registerBuffer('shift', tensor(Float32Array.from(LPIPS_SHIFT), { shape: [1, 3, 1, 1] }), false);
    this.registerBuffer('scale', tensor(Float32Array.from(LPIPS_SCALE), { shape: [1, 3, 1, 1] }), false);
    this.eval();
  }

  freeze(): this {
    for (const p of this.parameters()) p.requiresGrad = false;
    return this;
  }

  /** The five unit-normalised feature taps of images in [-1, 1]. */
  taps(x: Tensor): Tensor[] {
    return tidy(() => {
      let h = x.sub(this.buffer('shift')!).div(this.buffer('scale')!);
      const out: Tensor[] = [];
      const last = this.spec.taps[this.spec.taps.length - 1]!;
      for (let i = 0; i <= last; i++) {
        h = this.features.layers[i]!.call(h);
        if (this.spec.taps.includes(i)) {
          const norm = h.square().sum(1, true).sqrt().add(1e-10);
          out.push(h.div(norm));
        }
      }
      return out;
    });
  }

  /** LPIPS of each pair, [B] (float32), differentiable; images [B, 3, H, W] in [-1, 1]. */
  forward(a: Tensor, b: Tensor): Tensor {
    if (a.ndim !== 4 || a.shape[1] !== 3 || a.shape.some((s, i) => s !== b.shape[i])) {
      throw new TypeError(
        `Lpips: expected two batches of images [B, 3, H, W] of one shape in [-1, 1], got [${a.shape.join(', ')}] and [${b.shape.join(', ')}]`,
      );
    }
    const min = this.backbone === 'alex' ? 32 : 16;
    if (a.shape[2]! < min || a.shape[3]! < min)
      throw new RangeError(
        `Lpips(${this.backbone}): images must be at least ${min}x${min}, got ${a.shape[3]}x${a.shape[2]}`,
      );
    return tidy(() => {
      const fa = this.taps(a);
      const fb = this.taps(b);
      let total: Tensor | null = null;
      fa.forEach((t, k) => {
        const d = this.lins[k]!.call(t.sub(fb[k]!).square()).mean([1, 2, 3]);
        total = total ? total.add(d) : d;
      });
      return total!;
    });
  }

  /** LPIPS of each pair as numbers, in inference mode. */
  distance(a: Tensor, b: Tensor): number[] {
    return tidy(() => inferenceMode(() => this.call(a, b).toArray()));
  }
}

function strictLoad(
  file: string,
  got: Map<string, Tensor>,
  want: Map<string, Tensor>,
  accept: (k: string) => boolean,
  what: string,
): void {
  const hint = ` (expected ${what}, converted with scripts/to_safetensors.py)`;
  const missing = [...want.keys()].find((k) => !got.has(k));
  if (missing) throw new Error(`loadLpips: ${file}: missing tensor '${missing}'${hint}`);
  const unexpected = [...got.keys()].find((k) => !want.has(k) && !accept(k));
  if (unexpected) throw new Error(`loadLpips: ${file}: unexpected tensor '${unexpected}'${hint}`);
  for (const [k, t] of want) {
    const src = got.get(k)!;
    if (src.shape.join(',') !== t.shape.join(','))
      throw new Error(
        `loadLpips: ${file}: tensor '${k}' is [${src.shape.join(', ')}], expected [${t.shape.join(', ')}]${hint}`,
      );
  }
}

/**
 * Loads LPIPS from two safetensors files: `backbone`, torchvision's alexnet / vgg16 state dict
 * (`features.*` used, `classifier.*` ignored), and `linear`, the lpips package's v0.1 linear layers
 * (`lin0.model.1.weight` .. `lin4.model.1.weight`). Strict: the first missing, unexpected or
 * mis-shaped tensor is named with its file. Returns the network frozen, in eval mode.
 */
export async function loadLpips(backbone: LpipsBackbone, files: { backbone: string; linear: string }): Promise<Lpips> {
  const net = new Lpips(backbone);
  const own = net.stateDict();
  const part = (prefix: (k: string) => boolean): Map<string, Tensor> => new Map([...own].filter(([k]) => prefix(k)));
  const featureKeys = part((k) => k.startsWith('features.'));
  const linKeys = part((k) => k.startsWith('lin'));
  const sources: [string, Map<string, Tensor>, (k: string) => boolean, string][] = [
    [
      files.backbone,
      featureKeys,
      (k) => k.startsWith('classifier.'),
      `torchvision's ${backbone === 'alex' ? 'alexnet' : 'vgg16'} state dict`,
    ],
    [files.linear, linKeys, () => false, `the lpips package's v0.1 ${backbone}.pth linear layers`],
  ];
  try {
    for (const [file, want, accept, what] of sources) {
      const { tensors } = await loadSafetensors(file);
      try {
        strictLoad(file, tensors, want, accept, what);
        noGrad(() => {
          for (const [k, t] of want) t.copy_(tensors.get(k)!);
        });
      } finally {
        for (const t of tensors.values()) t.dispose();
      }
    }
  } catch (err) {
    for (const [, t] of [...net.namedParameters(), ...net.namedBuffers()]) t.dispose();
    throw err;
  }
  return net.freeze().eval();
}
