// Shared by the CUDA tests (npm run test:cuda): whether this build sees a GPU, and the bounds that
// CPU-vs-GPU comparisons are held to.
//
// On the GPU, cuDNN runs float32 convolutions in TF32 by default (libtorch's allow_tf32 for cuDNN
// is on; for cuBLAS matrix products it is off): inputs keep 10 explicit mantissa bits, a relative
// precision of 2^-11, so a reduction of n products may be off by n * 2^-10 of sum |x_i w_i| (as
// test/torch/amp.test.ts derives for bf16's 2^-8). Elementwise ops and reductions in float32 are
// IEEE on both sides but sum in another order: n * 2^-24 of sum |x_i|.
import * as torch from '../../src/torch/index.js';
import type { Tensor } from '../../src/torch/index.js';

export const CUDA = torch.cudaIsAvailable();
export const GPU = 'cuda:0' as const;
if (!CUDA)
  console.warn(
    'CUDA tests: skipped: no CUDA (this libtorch has no CUDA or sees no GPU; on a GPU machine run scripts/gpu-check/run.sh)',
  );

/** TF32's unit: a product of two TF32-rounded float32 values is off by at most this, relatively. */
export const TF32 = 2 ** -10;
/** float32's unit roundoff. */
export const FP32 = 2 ** -24;

/** max over elements of |a - b| - bound (<= 0 when within), all on the CPU in float64. */
export function excess(a: Tensor, b: Tensor, bound: Tensor | number): number {
  return torch.tidy(() => {
    const d = a.cpu().to('float64').sub(b.cpu().to('float64')).abs();
    return (typeof bound === 'number' ? d.sub(bound) : d.sub(bound.cpu().to('float64'))).max().item();
  });
}

/** max |x| of a tensor, on the CPU. */
export function maxAbs(t: Tensor): number {
  return torch.tidy(() => t.cpu().to('float64').abs().max().item());
}
