#!/usr/bin/env bash
# npm run test:isa: the numerics-sensitive tests (engine, nn, autocast, losses, metrics, models,
# trainer resume) as other machines run them: under oneDNN's AVX2 kernels as well as this CPU's
# default (ONEDNN_MAX_CPU_ISA), and with 1 and 2 libtorch threads (reductions split differently).
# A test that holds only for one CPU's or one thread count's rounding fails here.
#
# bf16 tests run at the default ISA only (test/helpers/isa.ts says why). OPENBLAS_CORETYPE is left
# as the machine sets it: forcing another OpenBLAS core type can crash or miscompute on some CPUs.
#
#   npm run test:isa                 every configuration below
#   npm run test:isa -- AVX2:2       only the ones named (ISA:THREADS; ISA 'default' = no cap)
set -uo pipefail
cd "$(dirname "$0")/.."
FILES=(
  test/torch/tensor.test.ts test/torch/gradcheck.test.ts test/torch/grid_sample.test.ts
  test/torch/conv_transpose_subpixel.test.ts test/torch/amp.test.ts
  test/nn/modules.test.ts test/nn/parity.test.ts test/nn/classifier_ops.test.ts test/nn/grad_scaler.test.ts
  test/nn/safetensors.test.ts test/nn/sync_batch_norm.test.ts
  test/train/losses.test.ts test/train/trainer.test.ts test/train/classifier_trainer.test.ts
  test/train/segmenter_trainer.test.ts test/train/overfit.test.ts
  test/eval/ssim.test.ts test/eval/paired_metrics.test.ts test/eval/distribution_metrics.test.ts
  test/eval/features.test.ts test/eval/segmentation.test.ts test/eval/checkerboard.test.ts
  test/eval/aux_networks.test.ts test/export/layers.test.ts
  test/models/generators.test.ts test/models/discriminators.test.ts test/models/classifiers.test.ts
  test/models/inception_v3.test.ts test/models/vgg19.test.ts
  test/synth/precision.test.ts
)
configs=("$@")
if [ ${#configs[@]} -eq 0 ]; then
  configs=(default:1 default:2 AVX2:1 AVX2:2)
  # On an AVX-512 CPU, also its AVX-512 fp32 kernels without bf16/AMX.
  grep -qw avx512f /proc/cpuinfo && grep -qw avx512_bf16 /proc/cpuinfo && configs+=(AVX512_CORE:1)
fi
failed=()
passed=0
for c in "${configs[@]}"; do
  isa=${c%%:*}
  threads=${c##*:}
  echo "test:isa: ONEDNN_MAX_CPU_ISA=${isa} OMP_NUM_THREADS=${threads}"
  env_args=(DERMOSYNTH_TEST_THREADS="$threads")
  [ "$isa" = default ] || env_args+=(ONEDNN_MAX_CPU_ISA="$isa")
  parallel=()
  # Two threads per file on two cores: one file at a time, or the files' threads oversubscribe.
  [ "$threads" -gt 1 ] && parallel=(--no-file-parallelism)
  if env -u ONEDNN_MAX_CPU_ISA "${env_args[@]}" npx vitest run "${parallel[@]}" "${FILES[@]}"; then
    passed=$((passed + 1))
  else
    failed+=("$c")
  fi
done
echo "test:isa: ${passed} passed, ${#failed[@]} failed (configurations ISA:threads${failed:+; failed: ${failed[*]}})"
[ ${#failed[@]} -eq 0 ]
