// dermosynth's tensor engine: libtorch from TypeScript.
//   import * as torch from './torch/index.js';
//   const x = torch.randn([1, 3, 64, 64]);  const y = torch.F.conv2d(x, w, b, { padding: 1 });
//   torch.ops: every operator of src/torch/operators.txt, typed (generated/aten.ts); torch.call: any other by name.
export { Tensor, type Device, type Shape, type TensorOrScalar } from './tensor.js';
export type { DType } from './dtype.js';
export { DTYPES, isFloating } from './dtype.js';
export { isDevice } from './device.js';
export * from './creation.js';
export { noGrad, enableGrad, inferenceMode, isGradEnabled, backward, type BackwardOptions } from './autograd.js';
export { tidy, keep, dispose, release, scopeDepth } from './scope.js';
export * as amp from './amp.js';
export { autocast, type Precision } from './amp.js';
export { manualSeed, Generator, getRngState, setRngState } from './random.js';
export * from './runtime.js';
export { aten, op, schemaOf, listOperators, type MemoryFormat, type Reduction } from './ops.js';
export { call } from './call.js';
export * as ops from './generated/aten.js';
export * as F from './functional.js';
export { cat, stack, where, oneHot, eigh } from './functional.js';
export {
  loadSafetensors,
  saveSafetensors,
  readSafetensors,
  writeSafetensors,
  type SafetensorsFile,
} from './safetensors.js';
