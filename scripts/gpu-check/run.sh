#!/usr/bin/env bash
# The GPU check: one command, at most 9 minutes, on a GPU machine with Python PyTorch (CUDA) and a
# compiler but no Node.js and no network. Needs .gpu-check/ from scripts/gpu-check/pack.sh next to
# the sources (the device tool: carry [".gpu-check"]). Writes to $OUT (default ./gpu-check-out),
# at most 8 files:
#   summary.txt   one line per check (ok / FAILED / skipped, seconds) and the measured figures
#   build.log     the addon's build against the machine's torch (LIBTORCH from python3's torch)
#   test-cuda.log npm run test:cuda (test/cuda: tensors, autograd, every nn layer, autocast, the
#                 loader, a training step per model against the CPU, synthesize/evaluate/serve,
#                 two processes on one GPU)
#   bench.log     bench:train and bench:synth on the GPU against the same networks in the
#                 machine's PyTorch, fp32 and bf16 (ratios)
#   train.log, log.jsonl, samples.png
#                 the proposed model trained on the data slice for GPU_CHECK_TRAIN_MINUTES
#                 (default 2) at the kit's size, bf16, the largest batch that fits
# Without CUDA (e.g. tested in a Debian 13 root with `unshare -n`) every CUDA part says
# "skipped: no CUDA" and the rest must pass.
set -uo pipefail
cd "$(dirname "$0")/../.."
ROOT=$(pwd)
KIT=$ROOT/.gpu-check
OUT=${OUT:-$ROOT/gpu-check-out}
PY=${PYTHON:-python3}
MINUTES=${GPU_CHECK_TRAIN_MINUTES:-2}
mkdir -p "$OUT"
summary=$OUT/summary.txt
: > "$summary"
t0=$(date +%s)
note() { echo "$*" | tee -a "$summary"; }
# check NAME TIMEOUT_S LOG COMMAND...: runs it, one summary line.
check() {
  local name=$1 limit=$2 log=$3
  shift 3
  local s
  s=$(date +%s)
  timeout -k 20 "$limit" "$@" >> "$log" 2>&1
  local rc=$?
  local r=ok
  [ $rc -eq 0 ] || r="FAILED (exit $rc; see $(basename "$log"))"
  note "check $name: $r ($(($(date +%s) - s)) s)"
  return $rc
}

[ -d "$KIT" ] || { note "run.sh: $KIT is missing: run scripts/gpu-check/pack.sh on the development machine and carry .gpu-check"; exit 1; }
# Unpacked with Python's tarfile (lzma is built in; the machine may have no xz).
untar() { "$PY" -c "import sys, tarfile; t = tarfile.open(sys.argv[1]); (t.extractall(sys.argv[2], filter='tar') if hasattr(tarfile, 'data_filter') else t.extractall(sys.argv[2]))" "$1" "$2"; }
[ -x "$KIT/node/bin/node" ] || untar "$KIT/node.tar.xz" "$KIT"
[ -d node_modules ] || untar "$KIT/node_modules.tar.xz" .
[ -f studio/dist/index.html ] || untar "$KIT/studio.tar.xz" .
export PATH="$KIT/node/bin:$PATH"
export NODE_INCLUDE="$KIT/node/include/node"
export DERMOSYNTH_NO_BAR=1
export DERMOSYNTH_PYTHON=$(command -v "$PY")
size=$(cat "$KIT/size" 2>/dev/null || echo 256)

# The machine's torch: a pip install has include/ and lib/ (LIBTORCH); Debian's falls back to the system libtorch.
tdir=$("$PY" -c "import torch, os; print(os.path.dirname(torch.__file__))" 2>/dev/null)
if [ -n "$tdir" ] && [ -f "$tdir/include/torch/csrc/api/include/torch/version.h" ]; then export LIBTORCH=$tdir; fi
note "machine: $(nproc) cores; GPU: $(nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>/dev/null || echo none)"
note "python: $("$PY" -c "import torch; print('torch', torch.__version__, 'CUDA', torch.version.cuda, 'available', torch.cuda.is_available())" 2>&1)"
note "node: $(node --version); LIBTORCH=${LIBTORCH:-system}"

check build 300 "$OUT/build.log" bash scripts/gpu-check/build-addon.sh || { note "run.sh: the addon did not build; nothing else can run"; exit 1; }
grep '^dermosynth:' "$OUT/build.log" | head -1 | tee -a "$summary"
cuda=$(node_modules/.bin/tsx scripts/gpu-check/has-cuda.ts 2>/dev/null | tail -n 1)

check test-cuda 240 "$OUT/test-cuda.log" node_modules/.bin/vitest run test/cuda
sed 's/\x1b\[[0-9;]*m//g' "$OUT/test-cuda.log" | grep -E 'Tests |skipped: no CUDA' | sort -u | sed 's/^ */  /' | tee -a "$summary"

if [ "$cuda" = 1 ]; then
  for p in fp32 bf16; do
    check "bench:train $p" 150 "$OUT/bench.log" node_modules/.bin/tsx bench/train.ts --device cuda:0 --precision "$p" --size 256 --iters 8 --warmup 3 --rounds 1 --python "$PY"
    grep -E '^ratio|median' "$OUT/bench.log" | tail -3 | sed "s/^/  $p: /" | tee -a "$summary"
    check "bench:synth $p" 120 "$OUT/bench.log" node_modules/.bin/tsx bench/synth.ts --device cuda:0 --precision "$p" --sizes 256,512 --batch 8,2 --batches 5 --warmup 2 --python "$PY"
    grep -E 'images/s' "$OUT/bench.log" | tail -2 | sed "s/^/  $p: /" | tee -a "$summary"
  done
  device=cuda:0
  precision=bf16
else
  note "check bench:train, bench:synth: skipped: no CUDA"
  device=cpu
  precision=fp32
fi

# Training: the largest batch that fits (a 3-step probe each), then a fixed time; SIGINT checkpoints.
train() { node bin/dermosynth.mjs train --data "$KIT/data" --size "${size}x${size}" --model proposed --preset published --device "$device" --precision "$precision" "$@"; }
batch=1
if [ "$cuda" = 1 ]; then
  for b in 32 16 8 4 2; do
    rm -rf "$OUT/probe"
    if timeout 120 bash -c "$(declare -f train); KIT='$KIT' size=$size device=$device precision=$precision train --batch $b --steps 3 --out '$OUT/probe'" >> "$OUT/train.log" 2>&1; then batch=$b; break; fi
  done
  rm -rf "$OUT/probe"
fi
note "training batch: $batch"
run=$OUT/run
rm -rf "$run"
s=$(date +%s)
timeout -s INT -k 60 "${MINUTES}m" bash -c "$(declare -f train); KIT='$KIT' size=$size device=$device precision=$precision train --batch $batch --steps 1000000 --sample-every 200 --checkpoint-every 1000 --out '$run'" >> "$OUT/train.log" 2>&1
rc=$?
# 124: timeout's SIGINT, 130: the run stopped on it (both: the time was up, a checkpoint was written).
if [ $rc -eq 0 ] || [ $rc -eq 124 ] || [ $rc -eq 130 ]; then r=ok; else r="FAILED (exit $rc; see train.log)"; fi
note "check train ${size}px $device $precision batch $batch for ${MINUTES} min: $r ($(($(date +%s) - s)) s)"
if [ -f "$run/log.jsonl" ]; then
  cp "$run/log.jsonl" "$OUT/log.jsonl"
  node -e "
    const l = require('fs').readFileSync('$run/log.jsonl', 'utf8').trim().split('\n').map(JSON.parse);
    const t = l.slice(Math.min(10, l.length - 1));
    const sec = t.reduce((a, e) => a + e.seconds, 0);
    const last = l.at(-1);
    console.log('  ' + l.length + ' steps; ' + (t.length / sec).toFixed(2) + ' steps/s (' + (t.length * $batch / sec).toFixed(1) + ' images/s) after the first 10; last losses ' + JSON.stringify(last.losses));
  " | tee -a "$summary"
  grid=$(ls "$run"/samples/*.png 2>/dev/null | sort | tail -n 1)
  [ -n "$grid" ] && cp "$grid" "$OUT/samples.png"
fi
rm -rf "$run"
note "run.sh: done in $(($(date +%s) - t0)) s"
grep -q FAILED "$summary" && exit 1
exit 0
