// DenseNet-121 (Huang et al. 2017) as torchvision builds it (growth rate 32, blocks of 6, 12, 24
// and 16 layers, bottleneck width 4 x 32, 64 initial features, compression 0.5), with
// torchvision's state-dict names: features.conv0, features.norm0, features.denseblock1
// .denselayer1.norm1 ... features.transition1.conv, features.norm5, classifier. (torchvision's
// own .pth file predates those names, 'norm.1' for 'norm1': the weight loader renames them as
// torchvision's loader does.) Initialisation as torchvision: convolutions Kaiming-normal, batch
// norms 1 and 0, the classifier's bias 0.
import { F, cat, release, type Tensor } from '../../torch/index.js';
import * as nn from '../../nn/index.js';
import { ImageClassifier, NamedSequential, globalAvgPool, type ClassifierOptions } from './common.js';

class DenseLayer extends nn.Module {
  readonly norm1: nn.BatchNorm2d;
  readonly conv1: nn.Conv2d;
  readonly norm2: nn.BatchNorm2d;
  readonly conv2: nn.Conv2d;
  constructor(inC: number, growth: number, bnSize: number) {
    super();
    this.norm1 = this.registerModule('norm1', new nn.BatchNorm2d(inC));
    this.registerModule('relu1', new nn.ReLU({ inplace: true }));
    this.conv1 = this.registerModule('conv1', new nn.Conv2d(inC, bnSize * growth, 1, { bias: false }));
    this.norm2 = this.registerModule('norm2', new nn.BatchNorm2d(bnSize * growth));
    this.registerModule('relu2', new nn.ReLU({ inplace: true }));
    this.conv2 = this.registerModule('conv2', new nn.Conv2d(bnSize * growth, growth, 3, { padding: 1, bias: false }));
  }
  /** The concatenated features so far -> `growth` new channels. */
  forward(x: Tensor): Tensor {
    const a = this.norm1.call(x).relu_();
    return this.conv2.call(this.norm2.call(this.conv1.call(a)).relu_());
  }
}

class DenseBlock extends nn.Module {
  readonly denseLayers: DenseLayer[];
  constructor(numLayers: number, inC: number, growth: number, bnSize: number) {
    super();
    this.denseLayers = Array.from({ length: numLayers }, (_, i) =>
      this.registerModule(`denselayer${i + 1}`, new DenseLayer(inC + i * growth, growth, bnSize)),
    );
  }
  forward(x: Tensor): Tensor {
    // Each concatenation is released once the next is made: kept to the end, they would add up
    // to about half a block's layers times its output in inference.
    const feats: Tensor[] = [x];
    let all = x;
    for (const layer of this.denseLayers) {
      feats.push(layer.call(all));
      const next = cat(feats, 1);
      release(all);
      all = next;
    }
    return all;
  }
}

class Transition extends NamedSequential {
  constructor(inC: number, outC: number) {
    super([
      ['norm', new nn.BatchNorm2d(inC)],
      ['relu', new nn.ReLU({ inplace: true })],
      ['conv', new nn.Conv2d(inC, outC, 1, { bias: false })],
      ['pool', new nn.AvgPool2d(2, { stride: 2 })],
    ]);
  }
}

export class DenseNet extends ImageClassifier {
  readonly arch = 'densenet121' as const;
  readonly featureDim: number;
  readonly headPrefix = 'classifier';
  readonly features_: NamedSequential;
  readonly classifier: nn.Linear;

  constructor(o: ClassifierOptions = {}) {
    super(o);
    const growth = 32;
    const bnSize = 4;
    const blocks = [6, 12, 24, 16];
    let c = 64;
    const children: [string, nn.Module][] = [
      ['conv0', new nn.Conv2d(3, c, 7, { stride: 2, padding: 3, bias: false })],
      ['norm0', new nn.BatchNorm2d(c)],
      ['relu0', new nn.ReLU({ inplace: true })],
      ['pool0', new nn.MaxPool2d(3, { stride: 2, padding: 1 })],
    ];
    blocks.forEach((n, i) => {
      children.push([`denseblock${i + 1}`, new DenseBlock(n, c, growth, bnSize)]);
      c += n * growth;
      if (i < blocks.length - 1) {
        children.push([`transition${i + 1}`, new Transition(c, c / 2)]);
        c /= 2;
      }
    });
    children.push(['norm5', new nn.BatchNorm2d(c)]);
    this.features_ = this.registerModule('features', new NamedSequential(children));
    this.featureDim = c;
    this.classifier = this.registerModule('classifier', new nn.Linear(c, this.numClasses));
    for (const [, m] of this.namedModules()) {
      if (m instanceof nn.Conv2d) nn.init.kaimingNormal_(m.param('weight'));
    }
    nn.init.zeros_(this.classifier.param('bias'));
  }

  protected pooledFeatures(x: Tensor): Tensor {
    return globalAvgPool(F.relu(this.features_.call(x)));
  }

  protected head(f: Tensor): Tensor {
    return this.classifier.call(f);
  }
}

export function densenet121(o: ClassifierOptions = {}): DenseNet {
  return new DenseNet(o);
}
