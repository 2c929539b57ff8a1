// ResNet-18 and ResNet-50 (He et al. 2016) as torchvision builds them (v1.5: the stride of a
// bottleneck is on its 3x3 convolution), with torchvision's state-dict names (conv1, bn1,
// layer1.0.conv1, layer1.0.downsample.0, ..., fc), so converted ImageNet weights load as they are.
// Initialisation as torchvision: convolutions Kaiming-normal (fan_out, ReLU), batch norms 1 and 0.
import type { Tensor } from '../../torch/index.js';
import * as nn from '../../nn/index.js';
import { ImageClassifier, globalAvgPool, type ClassifierOptions } from './common.js';

class BasicBlock extends nn.Module {
  static readonly expansion = 1;
  readonly conv1: nn.Conv2d;
  readonly bn1: nn.BatchNorm2d;
  readonly conv2: nn.Conv2d;
  readonly bn2: nn.BatchNorm2d;
  readonly downsample: nn.Sequential | null;
  constructor(inC: number, width: number, stride: number, downsample: nn.Sequential | null) {
    super();
    this.conv1 = this.registerModule('conv1', new nn.Conv2d(inC, width, 3, { stride, padding: 1, bias: false }));
    this.bn1 = this.registerModule('bn1', new nn.BatchNorm2d(width));
    this.conv2 = this.registerModule('conv2', new nn.Conv2d(width, width, 3, { padding: 1, bias: false }));
    this.bn2 = this.registerModule('bn2', new nn.BatchNorm2d(width));
    this.downsample = downsample ? this.registerModule('downsample', downsample) : null;
  }
  forward(x: Tensor): Tensor {
    const out = this.bn2.call(this.conv2.call(this.bn1.call(this.conv1.call(x)).relu_()));
    return out.add_(this.downsample ? this.downsample.call(x) : x).relu_();
  }
}

class Bottleneck extends nn.Module {
  static readonly expansion = 4;
  readonly conv1: nn.Conv2d;
  readonly bn1: nn.BatchNorm2d;
  readonly conv2: nn.Conv2d;
  readonly bn2: nn.BatchNorm2d;
  readonly conv3: nn.Conv2d;
  readonly bn3: nn.BatchNorm2d;
  readonly downsample: nn.Sequential | null;
  constructor(inC: number, width: number, stride: number, downsample: nn.Sequential | null) {
    super();
    this.conv1 = this.registerModule('conv1', new nn.Conv2d(inC, width, 1, { bias: false }));
    this.bn1 = this.registerModule('bn1', new nn.BatchNorm2d(width));
    this.conv2 = this.registerModule('conv2', new nn.Conv2d(width, width, 3, { stride, padding: 1, bias: false }));
    this.bn2 = this.registerModule('bn2', new nn.BatchNorm2d(width));
    this.conv3 = this.registerModule('conv3', new nn.Conv2d(width, width * 4, 1, { bias: false }));
    this.bn3 = this.registerModule('bn3', new nn.BatchNorm2d(width * 4));
    this.downsample = downsample ? this.registerModule('downsample', downsample) : null;
  }
  forward(x: Tensor): Tensor {
    const a = this.bn1.call(this.conv1.call(x)).relu_();
    const b = this.bn2.call(this.conv2.call(a)).relu_();
    const out = this.bn3.call(this.conv3.call(b));
    return out.add_(this.downsample ? this.downsample.call(x) : x).relu_();
  }
}

type Block = typeof BasicBlock | typeof Bottleneck;

export class ResNet extends ImageClassifier {
  readonly arch: 'resnet18' | 'resnet50';
  readonly featureDim: number;
  readonly headPrefix = 'fc';
  readonly conv1: nn.Conv2d;
  readonly bn1: nn.BatchNorm2d;
  readonly layers: nn.Sequential[];
  readonly fc: nn.Linear;

  constructor(arch: 'resnet18' | 'resnet50', o: ClassifierOptions = {}) {
    super(o);
    this.arch = arch;
    const block: Block = arch === 'resnet18' ? BasicBlock : Bottleneck;
    const depths = arch === 'resnet18' ? [2, 2, 2, 2] : [3, 4, 6, 3];
    this.conv1 = this.registerModule('conv1', new nn.Conv2d(3, 64, 7, { stride: 2, padding: 3, bias: false }));
    this.bn1 = this.registerModule('bn1', new nn.BatchNorm2d(64));
    let inC = 64;
    this.layers = depths.map((n, i) => {
      const width = 64 * 2 ** i;
      const stride = i === 0 ? 1 : 2;
      const out = width * block.expansion;
      const blocks: nn.Module[] = [];
      for (let b = 0; b < n; b++) {
        const s = b === 0 ? stride : 1;
        const down =
          b === 0 && (s !== 1 || inC !== out)
            ? new nn.Sequential(new nn.Conv2d(inC, out, 1, { stride: s, bias: false }), new nn.BatchNorm2d(out))
            : null;
        blocks.push(new block(inC, width, s, down));
        inC = out;
      }
      return this.registerModule(`layer${i + 1}`, new nn.Sequential(...blocks));
    });
    this.featureDim = inC;
    this.fc = this.registerModule('fc', new nn.Linear(inC, this.numClasses));
    for (const [, m] of this.namedModules()) {
      if (m instanceof nn.Conv2d) nn.init.kaimingNormal_(m.param('weight'), { mode: 'fan_out', nonlinearity: 'relu' });
    }
  }

  protected pooledFeatures(x: Tensor): Tensor {
    this.trunk ??= [
      this.conv1,
      this.bn1,
      new nn.ReLU({ inplace: true }),
      new nn.MaxPool2d(3, { stride: 2, padding: 1 }),
      ...this.layers,
    ];
    return globalAvgPool(nn.runLayers(x, this.trunk));
  }
  /** The stem and the four stages, run as one chain (stride-2 stages: each output freed once read). */
  private trunk: nn.Module[] | undefined;

  protected head(f: Tensor): Tensor {
    return this.fc.call(f);
  }
}

export function resnet18(o: ClassifierOptions = {}): ResNet {
  return new ResNet('resnet18', o);
}
export function resnet50(o: ClassifierOptions = {}): ResNet {
  return new ResNet('resnet50', o);
}
