#!/usr/bin/env bash
# Proves that the addon compiles and links against a CUDA libtorch with the NCCL process group,
# on a machine without a GPU: Debian 13's libtorch-cuda-dev 2.6 (CUDA 12.4 headers, NCCL 2.22) in
# a Debian 13 root of its own (scripts/libtorch2-root.sh --cuda), then `npm run build:native`
# there. Passes when the build reports CUDA and the gloo + NCCL backends, and the addon links
# libtorch_cuda and calls into ProcessGroupNCCL. Nothing is run on a GPU (there is none).
#
#   bash scripts/check-cuda-build.sh        (as root; the first run downloads about 2 GB)
set -euo pipefail
cd "$(dirname "$0")/.."
t0=$(date +%s)
bash scripts/libtorch2-root.sh --cuda -- bash -c '
  set -e
  line=$(node native/libtorch.cjs check 2>&1)
  echo "$line"
  case "$line" in
    *"with CUDA; distributed: gloo + NCCL"*) ;;
    *) echo "check-cuda-build: FAILED: the build did not find CUDA and NCCL" >&2; exit 1 ;;
  esac
  addon=native/build/Release/dermosynth_torch.node
  needed=$(readelf -d "$addon" | grep NEEDED)
  for lib in libtorch_cuda.so libc10_cuda.so; do
    echo "$needed" | grep -q "$lib" || { echo "check-cuda-build: FAILED: $addon does not link $lib" >&2; exit 1; }
  done
  nm -DC "$addon" | grep -q "c10d::ProcessGroupNCCL::ProcessGroupNCCL" || { echo "check-cuda-build: FAILED: no ProcessGroupNCCL in $addon" >&2; exit 1; }
  echo "check-cuda-build: OK: CUDA yes, backends gloo + nccl; links libtorch_cuda.so and libc10_cuda.so; $(stat -c %s "$addon") bytes"
'
echo "check-cuda-build: $(($(date +%s) - t0)) s in all"
