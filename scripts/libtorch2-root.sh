#!/usr/bin/env bash
# Builds dermosynth against Debian 13's libtorch 2.6 and runs the whole test suite there.
#
#   bash scripts/libtorch2-root.sh              make (or update) the Debian 13 root, build, npm test
#   bash scripts/libtorch2-root.sh -- CMD ...   the same root and build, then CMD instead of npm test
#                                               (e.g. -- npm run bench:engine)
#   bash scripts/libtorch2-root.sh --cuda       another root with the CUDA build of libtorch 2.6
#                                               (libtorch-cuda-dev, CUDA 12.4 headers, NCCL): build
#                                               the addon with CUDA and NCCL; no GPU is needed or used
#                                               (scripts/check-cuda-build.sh)
#
# Debian 13's libtorch needs a newer glibc than Debian 12 has, so it runs inside a Debian 13 root
# (a chroot made by mmdebstrap), not on the host. The root holds libtorch 2.6, PyTorch 2.6 (the
# Python-side references of the tests), gloo's headers, OpenBLAS, the compiler and chromium; Node
# is the host's own (copied in: the same Node 20 that runs the main suite). A copy of this checkout
# (with its node_modules, without native/build) is built and tested in the root, so the host's
# build is left alone.
#
# The root lives in $DERMOSYNTH_ROOT_DIR (default /var/cache/dermosynth/trixie-libtorch2). A root
# left there by an earlier run is reused after `apt-get update` and an install that brings every
# package to the archive's current version; a broken or half-made one is made again.
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$(pwd)
cuda=0
if [ "${1:-}" = "--cuda" ]; then
  cuda=1
  shift
fi
cmd=(npm test)
if [ "${1:-}" = "--" ]; then
  shift
  cmd=("$@")
elif [ $# -gt 0 ]; then
  echo "libtorch2-root: usage: bash scripts/libtorch2-root.sh [--cuda] [-- COMMAND ...]" >&2
  exit 2
fi
if [ $cuda -eq 1 ]; then
  ROOT=${DERMOSYNTH_ROOT_DIR:-/var/cache/dermosynth/trixie-libtorch2-cuda}
  # The CUDA libtorch conflicts with the CPU one, so it has a root of its own. Its libraries pull in
  # nvidia-cudnn, an installer that downloads cuDNN from NVIDIA when it is configured (not from the
  # Debian archive): an empty stand-in satisfies it, as building needs no cuDNN.
  # gloo's headers come from libgloo-dev's package unpacked (below): installing it would remove
  # libgloo-cuda-0, which the CUDA libtorch needs (the headers are the same).
  PACKAGES=(g++ make python3 ca-certificates)
  LATE_PACKAGES=(libtorch-cuda-dev libnccl-dev nvidia-cuda-dev)
  STAND_INS=(nvidia-cudnn)
  [ $# -gt 0 ] || cmd=(true)
else
  ROOT=${DERMOSYNTH_ROOT_DIR:-/var/cache/dermosynth/trixie-libtorch2}
  PACKAGES=(libtorch-dev python3-torch libgloo-dev libopenblas0-pthread g++ make python3 python3-numpy python3-pil python3-skimage python3-scipy chromium ca-certificates)
  LATE_PACKAGES=()
  STAND_INS=()
fi
STAMP="$ROOT/.dermosynth-root"
EXTRA_PACKAGES=(${DERMOSYNTH_ROOT_EXTRA_PACKAGES:-})
[ "$(id -u)" -eq 0 ] || { echo "libtorch2-root: run as root (it makes a chroot and mounts /proc, /dev and /sys into it)" >&2; exit 1; }
t0=$(date +%s)
say() { printf 'libtorch2-root: [%4ds] %s\n' "$(($(date +%s) - t0))" "$*"; }

# The Debian archive this machine's apt uses (no host is hard-coded here).
mirror=$( { cat /etc/apt/sources.list.d/*.sources /etc/apt/sources.list 2>/dev/null || true; } | awk '$1 ~ /^(URIs:|deb)$/ && $2 !~ /security/ { print $2; exit }')
[ -n "$mirror" ] || { echo "libtorch2-root: no Debian mirror in /etc/apt/sources.list(.d): cannot fetch Debian 13's packages" >&2; exit 1; }

if ! command -v mmdebstrap >/dev/null; then
  say "installing mmdebstrap"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends mmdebstrap >/dev/null
fi

mounted=()
cleanup() {
  local m
  for ((i = ${#mounted[@]} - 1; i >= 0; i--)); do umount -l "${mounted[$i]}" 2>/dev/null || true; done
}
trap cleanup EXIT
mount_into_root() {
  mkdir -p "$ROOT/proc" "$ROOT/sys" "$ROOT/dev" "$ROOT/dev/shm"
  mount -t proc proc "$ROOT/proc" && mounted+=("$ROOT/proc")
  mount --rbind /sys "$ROOT/sys" && mounted+=("$ROOT/sys")
  mount --rbind /dev "$ROOT/dev" && mounted+=("$ROOT/dev")
  cp /etc/resolv.conf "$ROOT/etc/resolv.conf" 2>/dev/null || true
}
# A clean environment, but for what steers libtorch (ONEDNN_*/DNNL_*, OMP_NUM_THREADS) and what
# tests read (CI, DERMOSYNTH_*). Not OPENBLAS_CORETYPE: some machines set it for Debian 12's older
# OpenBLAS, whose own CPU detection miscomputes there; forced onto Debian 13's OpenBLAS 0.3.29 it
# is what miscomputes (measured in this root with Python PyTorch 2.6 alone: a small generator
# trained on 2 threads went NaN in 7 of 20 runs with OPENBLAS_CORETYPE=Haswell, 0 of 40 without).
passed_env=()
while IFS= read -r name; do passed_env+=("$name=${!name}"); done < <(compgen -e | grep -E '^(ONEDNN_|DNNL_|OMP_NUM_THREADS$|CI$|DERMOSYNTH_)' || true)
in_root() { chroot "$ROOT" /usr/bin/env -i HOME=/root PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin LANG=C.UTF-8 DEBIAN_FRONTEND=noninteractive "${passed_env[@]}" "$@"; }

bytes_before=$(cat /sys/class/net/*/statistics/rx_bytes 2>/dev/null | awk '{s += $1} END {printf "%.0f", s}')
if [ -f "$STAMP" ] && [ -x "$ROOT/usr/bin/apt-get" ]; then
  say "reusing the Debian 13 root in $ROOT (updating its packages to the archive's versions)"
  mount_into_root
  in_root apt-get update -qq
  in_root apt-get install -y -qq --no-install-recommends "${PACKAGES[@]}" "${EXTRA_PACKAGES[@]}" >/dev/null
else
  say "making a Debian 13 (trixie) root in $ROOT from $mirror"
  rm -rf "$ROOT.partial"
  mkdir -p "$(dirname "$ROOT")"
  include=$(IFS=,; echo "${PACKAGES[*]} ${EXTRA_PACKAGES[*]}" | tr ' ' ',' | sed 's/,*$//')
  mmdebstrap --quiet --variant=minbase --include="$include" --components="main contrib non-free" \
    trixie "$ROOT.partial" "deb $mirror trixie main contrib non-free"
  rm -rf "$ROOT"
  mv "$ROOT.partial" "$ROOT"
  date -u +%FT%TZ > "$STAMP"
  mount_into_root
fi
if [ ${#LATE_PACKAGES[@]} -gt 0 ]; then
  for p in "${STAND_INS[@]}"; do
    if ! in_root dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
      d=$(mktemp -d)
      mkdir -p "$d/$p/DEBIAN"
      printf 'Package: %s\nVersion: 999~dermosynth\nArchitecture: all\nMaintainer: dermosynth <nobody@invalid>\nDescription: empty stand-in for %s (the addon build needs none of it)\n' "$p" "$p" > "$d/$p/DEBIAN/control"
      dpkg-deb --build --root-owner-group "$d/$p" "$ROOT/tmp/$p-stand-in.deb" >/dev/null
      in_root dpkg -i "/tmp/$p-stand-in.deb" >/dev/null
      rm -rf "$d" "$ROOT/tmp/$p-stand-in.deb"
    fi
  done
  say "installing ${LATE_PACKAGES[*]} (large: the CUDA toolkit's headers and libraries)"
  in_root apt-get update -qq
  in_root apt-get install -y -qq --no-install-recommends "${LATE_PACKAGES[@]}" >/dev/null
  if [ $cuda -eq 1 ] && [ ! -f "$ROOT/usr/local/include/gloo/algorithm.h" ]; then
    in_root bash -c 'set -e; d=$(mktemp -d); cd "$d"; apt-get download -qq libgloo-dev; dpkg-deb -x libgloo-dev_*.deb x; mkdir -p /usr/local/include; cp -a x/usr/include/gloo /usr/local/include/; rm -rf "$d"'
  fi
fi
bytes_after=$(cat /sys/class/net/*/statistics/rx_bytes 2>/dev/null | awk '{s += $1} END {printf "%.0f", s}')
versions=$(in_root dpkg-query -W -f='${db:Status-Abbrev} ${Package} ${Version}\n' libtorch-dev libtorch-cuda-dev python3-torch 2>/dev/null | awk '$1 == "ii" { printf "%s %s, ", $2, $3 }' || true)
say "root ready: ${versions}$(( (bytes_after - bytes_before) / 1048576 )) MiB received"

# Node: the host's Node 20 with its npm and headers (node-gyp builds against them offline).
node_bin=$(command -v node)
node_prefix=$(dirname "$(dirname "$(readlink -f "$node_bin")")")
install -D -m 755 "$(readlink -f "$node_bin")" "$ROOT/usr/local/bin/node"
if [ -d "$node_prefix/include/node" ]; then
  rm -rf "$ROOT/usr/local/include/node"
  mkdir -p "$ROOT/usr/local/include"
  cp -a "$node_prefix/include/node" "$ROOT/usr/local/include/node"
else
  echo "libtorch2-root: $node_prefix/include/node is missing: the host's Node has no headers for node-gyp" >&2
  exit 1
fi
npm_dir=$(dirname "$(dirname "$(readlink -f "$(command -v npm)")")")
rm -rf "$ROOT/usr/local/lib/node_modules/npm"
mkdir -p "$ROOT/usr/local/lib/node_modules"
cp -a "$npm_dir" "$ROOT/usr/local/lib/node_modules/npm"
ln -sf ../lib/node_modules/npm/bin/npm-cli.js "$ROOT/usr/local/bin/npm"
ln -sf ../lib/node_modules/npm/bin/npx-cli.js "$ROOT/usr/local/bin/npx"

# A copy of this checkout: the tracked and untracked-but-not-ignored files, node_modules and the
# built studio, without the host's native build.
work="$ROOT/work/dermosynth"
rm -rf "$work"
mkdir -p "$work"
git ls-files -z --cached --others --exclude-standard | xargs -0 cp --parents -a -t "$work" 2>/dev/null || true
for d in node_modules studio/dist; do
  [ -d "$d" ] && cp -a "$d" "$work/$(dirname "$d")/"
done
rm -rf "$work/native/build"
# The shared data (if present) beside the checkout, where tests and benchmarks look for it.
if [ -d "$REPO/../shared" ]; then
  mkdir -p "$ROOT/work/shared"
  mountpoint -q "$ROOT/work/shared" || { mount --bind "$REPO/../shared" "$ROOT/work/shared" && mounted+=("$ROOT/work/shared"); }
fi

say "building the addon against libtorch 2.6"
in_root bash -c "cd /work/dermosynth && npm_config_nodedir=/usr/local npm run build:native > /tmp/build-native.log 2>&1; rc=\$?; grep -E '^dermosynth:|error:' /tmp/build-native.log; [ \$rc -eq 0 ] || tail -n 40 /tmp/build-native.log; exit \$rc"
say "running: ${cmd[*]}"
set +e
in_root bash -c 'cd /work/dermosynth && "$@"' _ "${cmd[@]}"
rc=$?
set -e
say "done (exit $rc)"
exit $rc
