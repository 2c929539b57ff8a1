#!/usr/bin/env bash
# The README's first command: set-up, then the main job: `dermosynth demo` on the built-in sample
# data. It makes the sample dataset and its label maps, trains the proposed GAN for a bounded time
# (64x64, CPU-sized), synthesizes a class-balanced set, evaluates it and runs a small augmentation
# experiment, in about 10 minutes on 2 cores, then writes runs/demo/report.html (and report.md).
# Run it again after a stop and it continues where it stopped; once done, it rewrites the report.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
npx dermosynth demo --out runs/demo
