#!/usr/bin/env bash
# The README's first command: set-up, then the main job on the built-in sample data.
# Today the main job is the data pipeline (sample -> inspect -> prepare); training joins it next.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
mkdir -p runs
[ -f runs/sample/labels.csv ] || npx dermosynth data sample --out runs/sample --n 60 --seed 0
npx dermosynth data inspect runs/sample
npx dermosynth data prepare runs/sample --size 64x64 --boundary 1 --frame --out runs/sample-cache-64
