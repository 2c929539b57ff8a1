// Whether this run's oneDNN can compute bf16 convolutions (npm run test:isa caps its ISA with
// ONEDNN_MAX_CPU_ISA).
//
// Under a cap below the CPU's bf16 kernels, libtorch 1.13 still asks oneDNN for bf16 convolutions
// and oneDNN fails ("could not create a primitive descriptor iterator"); libtorch 2.6 falls back
// to kernels that work. So bf16 tests run where a probe convolution runs, and assert bounds derived
// from bf16's precision rather than values (results differ between CPUs with and without native
// bf16).
import * as torch from '../../src/torch/index.js';

function probe(): string | null {
  try {
    torch.tidy(() =>
      torch.F.conv2d(torch.ones([1, 2, 4, 4], { dtype: 'bfloat16' }), torch.ones([2, 2, 3, 3], { dtype: 'bfloat16' }))
        .sum()
        .item(),
    );
    return null;
  } catch (e) {
    const cap = process.env.ONEDNN_MAX_CPU_ISA ?? process.env.DNNL_MAX_CPU_ISA ?? '(none)';
    return `bf16 tests skipped: a bf16 convolution fails under ONEDNN_MAX_CPU_ISA=${cap} (${(e as Error).message.split('\n')[0]})`;
  }
}

/** Why bf16 tests are skipped in this run, or null when they run. */
export const BF16_SKIP_REASON: string | null = probe();

if (BF16_SKIP_REASON) console.warn(BF16_SKIP_REASON);
