#!/usr/bin/env bash
# Builds native/build/Release/dermosynth_torch.node with g++ directly, as binding.gyp describes it,
# for a machine without node-gyp or network (the GPU check): the same sources, include directories,
# definitions, flags and libraries, from native/libtorch.cjs. NODE_INCLUDE: Node's headers.
set -euo pipefail
cd "$(dirname "$0")/../.."
: "${NODE_INCLUDE:?set NODE_INCLUDE to the folder holding node_api.h}"
node native/libtorch.cjs check
napi=$(node -p "require('node-addon-api').include_dir")
includes=(-I"$NODE_INCLUDE" -I"$napi")
for d in $(node native/libtorch.cjs include); do includes+=(-I"$d"); done
defines=(-DNAPI_CPP_EXCEPTIONS -DNAPI_EXPERIMENTAL -DNODE_GYP_MODULE_NAME=dermosynth_torch -DBUILDING_NODE_EXTENSION)
for d in $(node native/libtorch.cjs defines); do defines+=(-D"$d"); done
read -r -a cflags <<< "$(node native/libtorch.cjs cflags)"
read -r -a libs <<< "$(node native/libtorch.cjs libs)"
mkdir -p native/build/Release native/build/obj
objs=()
pids=()
for src in native/src/addon.cc native/src/distributed.cc; do
  obj=native/build/obj/$(basename "$src" .cc).o
  g++ -c -fPIC -O2 -fexceptions -frtti -Wno-unused-parameter "${cflags[@]}" "${defines[@]}" "${includes[@]}" "$src" -o "$obj" &
  pids+=($!)
  objs+=("$obj")
done
for p in "${pids[@]}"; do wait "$p"; done
g++ -shared -o native/build/Release/dermosynth_torch.node "${objs[@]}" "${libs[@]}"
echo "built native/build/Release/dermosynth_torch.node"
