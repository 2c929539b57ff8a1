#!/usr/bin/env bash
# The README's first command: set-up, then the main job on the built-in sample data: a conditional
# GAN trained on the procedural sample dataset at 64x64 (about 3 minutes on 2 cores). Look at
# runs/quickstart/samples/*.png (label | real | generated) as it learns.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
if [ -f runs/quickstart/config.json ]; then
  npx dermosynth train --out runs/quickstart --resume
else
  npx dermosynth train --out runs/quickstart
fi
