// EfficientNet-B0 (Tan & Le 2019) as torchvision builds it: a 3x3 stem, 16 MBConv blocks in 7
// stages (expansion, depthwise convolution, squeeze-and-excitation with SiLU, projection; a
// residual with stochastic depth where shapes allow, its drop rate rising linearly to 0.2), a
// 1x1 head to 1280 channels, dropout 0.2 and the classifier. State-dict names are torchvision's:
// features.0.0 (stem conv), features.1.0.block.0.0 (first block's depthwise conv), ...block.N.fc1
// / fc2 (squeeze-excitation), features.8.1 (head norm), classifier.1. Batch norms have
// PyTorch's defaults (eps 1e-5, momentum 0.1), as torchvision's B0. Initialisation as
// torchvision: convolutions Kaiming-normal (fan_out), linear uniform(+-1/sqrt(out)), biases 0.
import { F, type Tensor } from '../../torch/index.js';
import * as nn from '../../nn/index.js';
import { ImageClassifier, convBnAct, globalAvgPool, type ClassifierOptions } from './common.js';

class SqueezeExcitation extends nn.Module {
  readonly fc1: nn.Conv2d;
  readonly fc2: nn.Conv2d;
  constructor(channels: number, squeeze: number) {
    super();
    this.fc1 = this.registerModule('fc1', new nn.Conv2d(channels, squeeze, 1));
    this.fc2 = this.registerModule('fc2', new nn.Conv2d(squeeze, channels, 1));
  }
  forward(x: Tensor): Tensor {
    const scale = this.fc2.call(F.silu_(this.fc1.call(x.mean([2, 3], true)))).sigmoid();
    return x.mul(scale);
  }
}

class MBConv extends nn.Module {
  readonly block: nn.Sequential;
  readonly stochasticDepth: nn.StochasticDepth;
  readonly useResidual: boolean;
  constructor(inC: number, outC: number, expandRatio: number, kernel: number, stride: number, dropRate: number) {
    super();
    this.useResidual = stride === 1 && inC === outC;
    const expanded = makeDivisible(inC * expandRatio, 8);
    const layers: nn.Module[] = [];
    if (expanded !== inC) layers.push(convBnAct(inC, expanded, 1, { act: 'silu' }));
    layers.push(convBnAct(expanded, expanded, kernel, { stride, groups: expanded, act: 'silu' }));
    layers.push(new SqueezeExcitation(expanded, Math.max(1, Math.floor(inC / 4))));
    layers.push(convBnAct(expanded, outC, 1, { act: null }));
    this.block = this.registerModule('block', new nn.Sequential(...layers));
    this.stochasticDepth = this.registerModule('stochastic_depth', new nn.StochasticDepth(dropRate, 'row'));
  }
  forward(x: Tensor): Tensor {
    const y = this.block.call(x);
    if (!this.useResidual) return y;
    return this.stochasticDepth.call(y).add_(x);
  }
}

/** torchvision's _make_divisible: the nearest multiple of `divisor`, never below 90% of v. */
export function makeDivisible(v: number, divisor: number): number {
  let n = Math.max(divisor, Math.floor((v + divisor / 2) / divisor) * divisor);
  if (n < 0.9 * v) n += divisor;
  return n;
}

/** B0's stages: expansion, kernel, stride, input channels, output channels, blocks. */
const B0_STAGES: [number, number, number, number, number, number][] = [
  [1, 3, 1, 32, 16, 1],
  [6, 3, 2, 16, 24, 2],
  [6, 5, 2, 24, 40, 2],
  [6, 3, 2, 40, 80, 3],
  [6, 5, 1, 80, 112, 3],
  [6, 5, 2, 112, 192, 4],
  [6, 3, 1, 192, 320, 1],
];

export interface EfficientNetOptions extends ClassifierOptions {
  /** Dropout before the classifier (default 0.2). */
  dropout?: number;
  /** The last block's stochastic-depth drop rate (default 0.2). */
  stochasticDepth?: number;
}

export class EfficientNet extends ImageClassifier {
  readonly arch = 'efficientnet_b0' as const;
  readonly featureDim = 1280;
  readonly headPrefix = 'classifier.1';
  readonly features_: nn.Sequential;
  readonly classifier: nn.Sequential;

  constructor(o: EfficientNetOptions = {}) {
    super(o);
    const sd = o.stochasticDepth ?? 0.2;
    const total = B0_STAGES.reduce((n, s) => n + s[5], 0);
    let id = 0;
    const stages: nn.Module[] = [convBnAct(3, 32, 3, { stride: 2, act: 'silu' })];
    for (const [expand, kernel, stride, inC, outC, n] of B0_STAGES) {
      const blocks: nn.Module[] = [];
      for (let b = 0; b < n; b++)
        blocks.push(new MBConv(b === 0 ? inC : outC, outC, expand, kernel, b === 0 ? stride : 1, (sd * id++) / total));
      stages.push(new nn.Sequential(...blocks));
    }
    stages.push(convBnAct(320, 1280, 1, { act: 'silu' }));
    this.features_ = this.registerModule('features', new nn.Sequential(...stages));
    this.classifier = this.registerModule(
      'classifier',
      new nn.Sequential(new nn.Dropout(o.dropout ?? 0.2), new nn.Linear(1280, this.numClasses)),
    );
    for (const [, m] of this.namedModules()) {
      if (m instanceof nn.Conv2d) {
        nn.init.kaimingNormal_(m.param('weight'), { mode: 'fan_out' });
        const bias = m.optionalParam('bias');
        if (bias) nn.init.zeros_(bias);
      } else if (m instanceof nn.Linear) {
        const r = 1 / Math.sqrt(m.outFeatures);
        nn.init.uniform_(m.param('weight'), -r, r);
        nn.init.zeros_(m.param('bias'));
      }
    }
  }

  protected pooledFeatures(x: Tensor): Tensor {
    return globalAvgPool(this.features_.call(x));
  }

  protected head(f: Tensor): Tensor {
    return this.classifier.call(f);
  }
}

export function efficientnetB0(o: EfficientNetOptions = {}): EfficientNet {
  return new EfficientNet(o);
}
