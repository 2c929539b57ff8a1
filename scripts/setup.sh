#!/usr/bin/env bash
# Installs what dermosynth needs on Debian 12 / Ubuntu (run as root or with sudo available):
# libtorch (C++), gloo's headers (data-parallel training over c10d), OpenBLAS (libtorch's BLAS; 16x faster than the reference BLAS), Python PyTorch
# on the same libtorch (benchmark peer and interop tests) with PIL, scikit-image and SciPy (the
# tests' live references), Chromium (the web studio's browser test), then the npm packages and
# native addon, and the web studio's bundle.
set -euo pipefail
cd "$(dirname "$0")/.."
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
if [ -z "${LIBTORCH:-}" ]; then
  $SUDO apt-get update -qq || echo "setup: apt-get update failed; trying the install with the current package lists" >&2
  $SUDO apt-get install -y -qq --no-install-recommends libtorch-dev libgloo-dev libopenblas0-pthread python3-torch python3-numpy python3-pil python3-skimage python3-scipy chromium g++ make python3 >/dev/null
fi
# onnxruntime-node (tests only) would fetch a CUDA add-on from nuget.org; its CPU binaries ship in the package (.npmrc says the same).
ONNXRUNTIME_NODE_INSTALL=skip npm ci --no-audit --no-fund
# The web studio's bundle (studio/dist), served by 'dermosynth serve'.
npm run build:studio
