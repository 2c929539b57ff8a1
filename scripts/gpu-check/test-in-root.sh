#!/usr/bin/env bash
# Tests the GPU check kit without a GPU, as the GPU machine will run it: a copy of the sources and
# .gpu-check/ (scripts/gpu-check/pack.sh) in the Debian 13 root of scripts/libtorch2-root.sh
# (a foreign libtorch: Python PyTorch 2.6; no Node.js on its PATH, no node_modules), with the
# network cut (unshare -n). Every CUDA part must say "skipped: no CUDA" and the rest pass.
#   bash scripts/gpu-check/test-in-root.sh        (as root, after pack.sh and libtorch2-root.sh)
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=${DERMOSYNTH_ROOT_DIR:-/var/cache/dermosynth/trixie-libtorch2}
[ -f "$ROOT/.dermosynth-root" ] || { echo "test-in-root: no Debian 13 root at $ROOT: run scripts/libtorch2-root.sh first" >&2; exit 1; }
[ -d .gpu-check ] || { echo "test-in-root: no .gpu-check: run scripts/gpu-check/pack.sh first" >&2; exit 1; }
mounted=()
cleanup() { for ((i = ${#mounted[@]} - 1; i >= 0; i--)); do umount -l "${mounted[$i]}" 2>/dev/null || true; done; }
trap cleanup EXIT
for m in proc sys dev; do
  mkdir -p "$ROOT/$m"
  if [ $m = proc ]; then mount -t proc proc "$ROOT/proc"; else mount --rbind "/$m" "$ROOT/$m"; fi
  mounted+=("$ROOT/$m")
done
copy="$ROOT/work/kit-test"
rm -rf "$copy" "$ROOT/work/kit-test-out"
mkdir -p "$copy"
git ls-files -z --cached --others --exclude-standard | xargs -0 cp --parents -a -t "$copy"
cp -a .gpu-check "$copy/"
set +e
chroot "$ROOT" unshare -n /usr/bin/env -i HOME=/root PATH=/usr/bin:/bin LANG=C.UTF-8 OUT=/work/kit-test-out \
  GPU_CHECK_TRAIN_MINUTES=${GPU_CHECK_TRAIN_MINUTES:-1} bash /work/kit-test/scripts/gpu-check/run.sh
rc=$?
set -e
echo "test-in-root: run.sh exited $rc; its files: $(ls "$ROOT/work/kit-test-out" | tr '\n' ' ')"
exit $rc
