// VGG19's convolutional `features` stack (torchvision's vgg19, configuration E) for the perceptual
// loss, returning relu1_1, relu2_1, relu3_1, relu4_1 and relu5_1 (features.1, .6, .11, .20, .29,
// as pix2pixHD's and SPADE's VGGLoss slices). The parameters keep torchvision's names,
// `features.0.weight` .. `features.34.bias`, so its state dict loads as is (loadVgg19).
//
// Input: images in [-1, 1] (the generators' range). By default they are mapped to what the
// ImageNet-trained weights expect, x01 = (x + 1) / 2 then (x01 - mean) / std per channel with
// mean (0.485, 0.456, 0.406) and std (0.229, 0.224, 0.225), i.e. x * 0.5/std + (0.5 - mean)/std.
// (pix2pixHD and SPADE feed [-1, 1] images unnormalised; pass normalizeInput: false for that.)
import { tensor, noGrad, loadSafetensors, type Tensor } from '../torch/index.js';
import * as nn from '../nn/index.js';

/** Output channels of each convolution, 'M' a 2x2 max pool (torchvision's cfgs['E']). */
const VGG19_CONFIG: readonly (number | 'M')[] = [
  64,
  64,
  'M',
  128,
  128,
  'M',
  256,
  256,
  256,
  256,
  'M',
  512,
  512,
  512,
  512,
  'M',
  512,
  512,
  512,
  512,
  'M',
];
/** Indices in `features` of the ReLUs whose outputs are returned. */
export const VGG19_FEATURE_LAYERS = [1, 6, 11, 20, 29] as const;
export const VGG19_FEATURE_NAMES = ['relu1_1', 'relu2_1', 'relu3_1', 'relu4_1', 'relu5_1'] as const;
export const IMAGENET_MEAN = [0.485, 0.456, 0.406] as const;
export const IMAGENET_STD = [0.229, 0.224, 0.225] as const;

export class Vgg19 extends nn.Module<[Tensor], Tensor[]> {
  readonly features: nn.Sequential;
  readonly normalizeInput: boolean;

  constructor(o: { normalizeInput?: boolean } = {}) {
    super();
    const layers: nn.Module[] = [];
    let inC = 3;
    for (const v of VGG19_CONFIG) {
      if (v === 'M') {
        layers.push(new nn.MaxPool2d(2, { stride: 2 }));
      } else {
        layers.push(new nn.Conv2d(inC, v, 3, { padding: 1 }), new nn.ReLU({ inplace: true }));
        inC = v;
      }
    }
    this.features = this.registerModule('features', new nn.Sequential(...layers));
    this.normalizeInput = o.normalizeInput ?? true;
    // Not persistent: the state dict stays torchvision's.
    this.registerBuffer(
      'input_scale',
      tensor(
        Float32Array.from(IMAGENET_STD, (s) => 0.5 / s),
        { shape: [1, 3, 1, 1] },
      ),
      false,
    );
    this.registerBuffer(
      'input_shift',
      tensor(
        Float32Array.from(IMAGENET_MEAN, (m, i) => (0.5 - m) / IMAGENET_STD[i]!),
        { shape: [1, 3, 1, 1] },
      ),
      false,
    );
  }

  /** Stops gradients into the weights (the loss network is fixed); gradients still reach the input. */
  freeze(): this {
    for (const p of this.parameters()) p.requiresGrad = false;
    return this;
  }

  /** [B, 3, H, W] in [-1, 1] -> [relu1_1, relu2_1, relu3_1, relu4_1, relu5_1]. */
  forward(x: Tensor): Tensor[] {
    if (x.ndim !== 4 || x.shape[1] !== 3)
      throw new TypeError(`Vgg19: expected images [B, 3, H, W], got [${x.shape.join(', ')}]`);
    if (x.shape[2]! < 16 || x.shape[3]! < 16) {
      throw new RangeError(
        `Vgg19: images must be at least 16x16 (relu5_1 follows four 2x2 max pools), got ${x.shape[3]}x${x.shape[2]}`,
      );
    }
    const h = this.normalizeInput ? x.mul(this.buffer('input_scale')!).add_(this.buffer('input_shift')!) : x;
    const out: Tensor[] = [];
    const last = VGG19_FEATURE_LAYERS[VGG19_FEATURE_LAYERS.length - 1];
    const keepAt = new Set<number>(VGG19_FEATURE_LAYERS);
    nn.runLayers(h, this.features.layers.slice(0, last + 1), (y, i) => {
      if (!keepAt.has(i)) return false;
      out.push(y);
      return true;
    });
    return out;
  }
}

/**
 * Loads torchvision's VGG19 weights from a safetensors file of its state dict (e.g. saved in
 * Python with `safetensors.torch.save_file(torchvision.models.vgg19(weights="IMAGENET1K_V1")
 * .state_dict(), file)`). Keys `features.N.weight` / `features.N.bias` are required with
 * torchvision's shapes; `classifier.*` keys are ignored. Any dtype converts to float32. Returns
 * the network frozen (no parameter gradients) and in eval mode.
 */
export async function loadVgg19(file: string, o: { normalizeInput?: boolean } = {}): Promise<Vgg19> {
  const { tensors } = await loadSafetensors(file);
  try {
    const net = new Vgg19(o);
    const own = net.stateDict();
    const missing = [...own.keys()].filter((k) => !tensors.has(k));
    const unexpected = [...tensors.keys()].filter((k) => k.startsWith('features.') && !own.has(k));
    const wrongShape = [...own]
      .filter(([k, t]) => tensors.has(k) && tensors.get(k)!.shape.join(',') !== t.shape.join(','))
      .map(([k, t]) => `${k} is [${tensors.get(k)!.shape.join(', ')}], expected [${t.shape.join(', ')}]`);
    const problems = [
      missing.length ? `missing keys: ${missing.join(', ')}` : '',
      wrongShape.length ? `shape mismatches: ${wrongShape.join('; ')}` : '',
      unexpected.length ? `unexpected keys (not VGG19's features): ${unexpected.join(', ')}` : '',
    ].filter(Boolean);
    if (problems.length) {
      for (const [, t] of [...net.namedParameters(), ...net.namedBuffers()]) t.dispose();
      throw new Error(`loadVgg19: ${file} is not torchvision's VGG19 state dict: ${problems.join('; ')}`);
    }
    noGrad(() => {
      for (const [k, t] of own) t.copy_(tensors.get(k)!);
    });
    return net.freeze().eval();
  } finally {
    for (const t of tensors.values()) t.dispose();
  }
}
