// Prints 1 when this build of the addon sees a CUDA GPU, else 0 (scripts/gpu-check/run.sh).
import { cudaIsAvailable } from '../../src/torch/index.js';

console.log(cudaIsAvailable() ? 1 : 0);
