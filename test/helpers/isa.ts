// Which instruction set oneDNN may use in this test run (npm run test:isa sets ONEDNN_MAX_CPU_ISA).
//
// bfloat16 convolutions need oneDNN's bf16 kernels for the CPU that PyTorch detects: under a cap
// below them (AVX2, say) PyTorch still asks for bf16 and oneDNN fails ("could not create a
// primitive descriptor iterator"). So bf16 tests run at the machine's own ISA only, and assert
// bounds derived from bf16's precision rather than values (results differ between CPUs with and
// without native bf16).

const cap = (process.env.ONEDNN_MAX_CPU_ISA ?? process.env.DNNL_MAX_CPU_ISA ?? '').trim().toUpperCase();

/** Why bf16 tests are skipped in this run, or null when they run (no cap, or a cap that keeps bf16). */
export const BF16_SKIP_REASON: string | null =
  cap === '' || cap === 'ALL' || cap.includes('BF16') || cap.includes('AMX')
    ? null
    : `bf16 tests run at the machine's default oneDNN ISA only: ONEDNN_MAX_CPU_ISA=${cap} has no bf16 kernels`;

if (BF16_SKIP_REASON) console.warn(BF16_SKIP_REASON);
