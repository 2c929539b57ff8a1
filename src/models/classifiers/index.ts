// Image classifiers for the augmentation experiment, by name: torchvision's ResNet-18/50,
// DenseNet-121 and EfficientNet-B0 with torchvision's state-dict names and an N-class head.
import { CLASSIFIER_NAMES, type ClassifierName, type ClassifierOptions, type ImageClassifier } from './common.js';
import { resnet18, resnet50 } from './resnet.js';
import { densenet121 } from './densenet.js';
import { efficientnetB0 } from './efficientnet.js';

export { CLASSIFIER_NAMES, ImageClassifier, convBnAct, type ClassifierName, type ClassifierOptions } from './common.js';
export { ResNet, resnet18, resnet50 } from './resnet.js';
export { DenseNet, densenet121 } from './densenet.js';
export { EfficientNet, efficientnetB0, makeDivisible, type EfficientNetOptions } from './efficientnet.js';
export { loadClassifierWeights, type LoadWeightsResult } from './weights.js';

const BUILDERS: Record<ClassifierName, (o: ClassifierOptions) => ImageClassifier> = {
  resnet18,
  resnet50,
  densenet121,
  efficientnet_b0: efficientnetB0,
};

/** torchvision's published parameter counts with 1000 classes (each weights enum's num_params). */
export const TORCHVISION_PARAMETERS: Record<ClassifierName, number> = {
  resnet18: 11_689_512,
  resnet50: 25_557_032,
  densenet121: 7_978_856,
  efficientnet_b0: 5_288_548,
};

export function isClassifierName(name: string): name is ClassifierName {
  return (CLASSIFIER_NAMES as readonly string[]).includes(name);
}

export function checkClassifierName(name: string): ClassifierName {
  if (!isClassifierName(name))
    throw new RangeError(`unknown classifier '${name}'; choose one of ${CLASSIFIER_NAMES.join(', ')}`);
  return name;
}

/** A freshly initialised classifier (torchvision's initialisation) with `numClasses` outputs. */
export function buildClassifier(name: string, o: ClassifierOptions = {}): ImageClassifier {
  return BUILDERS[checkClassifierName(name)](o);
}
