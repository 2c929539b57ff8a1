// What every image classifier shares: [-1, 1] images in, ImageNet normalisation inside (as the
// VGG19 loss network does), `call(x)` -> logits [N, classes] and `features(x)` -> the pooled
// penultimate features [N, featureDim] (what the final layer reads; used for domain-FID), and
// torchvision's conv + batch norm + activation unit with torchvision's child names (0, 1, 2).
import { tensor, tidy, type Tensor } from '../../torch/index.js';
import * as nn from '../../nn/index.js';
import { IMAGENET_MEAN, IMAGENET_STD } from '../vgg19.js';

export const CLASSIFIER_NAMES = ['resnet18', 'resnet50', 'densenet121', 'efficientnet_b0'] as const;
export type ClassifierName = (typeof CLASSIFIER_NAMES)[number];

export interface ClassifierOptions {
  /** Output classes (default 3: nevus, melanoma, seborrheic keratosis). */
  numClasses?: number;
  /**
   * Map [-1, 1] images to ImageNet's normalisation inside the network (default true): x01 =
   * (x + 1) / 2, then (x01 - mean) / std per channel. False: the input is already normalised.
   */
  normalizeInput?: boolean;
}

export abstract class ImageClassifier extends nn.Module<[Tensor], Tensor> {
  abstract readonly arch: ClassifierName;
  /** Width of `features(x)`. */
  abstract readonly featureDim: number;
  /** State-dict prefix of the final (class-count dependent) layer, e.g. 'fc' or 'classifier.1'. */
  abstract readonly headPrefix: string;
  readonly numClasses: number;
  readonly normalizeInput: boolean;

  constructor(o: ClassifierOptions) {
    super();
    this.numClasses = o.numClasses ?? 3;
    if (!Number.isInteger(this.numClasses) || this.numClasses < 1)
      throw new RangeError(`classifier: numClasses must be a positive integer, got ${this.numClasses}`);
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

  /** The network up to and including global average pooling: normalised images -> [N, featureDim]. */
  protected abstract pooledFeatures(x: Tensor): Tensor;
  /** The final layer (with the dropout before it, where the architecture has one). */
  protected abstract head(features: Tensor): Tensor;

  /** [N, 3, H, W] in [-1, 1] -> the pooled penultimate features [N, featureDim]. */
  features(x: Tensor): Tensor {
    if (x.ndim !== 4 || x.shape[1] !== 3)
      throw new TypeError(`${this.arch}: expected images [N, 3, H, W], got [${x.shape.join(', ')}]`);
    if (x.shape[2]! < 32 || x.shape[3]! < 32)
      throw new RangeError(
        `${this.arch}: images must be at least 32x32 (five stride-2 stages), got ${x.shape[3]}x${x.shape[2]}`,
      );
    return tidy(() =>
      this.pooledFeatures(
        this.normalizeInput ? x.mul(this.buffer('input_scale')!).add_(this.buffer('input_shift')!) : x,
      ),
    );
  }

  /** [N, 3, H, W] in [-1, 1] -> logits [N, numClasses]. */
  forward(x: Tensor): Tensor {
    return this.head(this.features(x));
  }
}

/** torchvision's Conv2dNormActivation: conv (no bias, 'same' padding), batch norm, optional activation. */
export function convBnAct(
  inC: number,
  outC: number,
  kernel: number,
  o: { stride?: number; groups?: number; act?: 'relu' | 'silu' | null } = {},
): nn.Sequential {
  const layers: nn.Module[] = [
    new nn.Conv2d(inC, outC, kernel, {
      stride: o.stride ?? 1,
      padding: (kernel - 1) / 2,
      groups: o.groups ?? 1,
      bias: false,
    }),
    new nn.BatchNorm2d(outC),
  ];
  const act = o.act === undefined ? 'relu' : o.act;
  if (act === 'relu') layers.push(new nn.ReLU({ inplace: true }));
  else if (act === 'silu') layers.push(new nn.SiLU({ inplace: true }));
  return new nn.Sequential(...layers);
}

/** Runs named children in registration order (torchvision's nn.Sequential(OrderedDict(...))). */
export class NamedSequential extends nn.Module {
  readonly order: [string, nn.Module][];
  private readonly layers: nn.Module[];
  constructor(children: [string, nn.Module][]) {
    super();
    this.order = children;
    this.layers = children.map(([name, m]) => this.registerModule(name, m));
  }
  forward(x: Tensor): Tensor {
    return nn.runLayers(x, this.layers);
  }
}

/** Global average pooling to [N, C]. */
export function globalAvgPool(x: Tensor): Tensor {
  return x.mean([2, 3]);
}
