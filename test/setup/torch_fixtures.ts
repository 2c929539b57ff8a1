// Global set-up: the PyTorch reference fixtures, computed on this machine before every run.
//
// test/fixtures/make_fixtures.py, make_loss_fixtures.py and make_fid_reference.py write their
// .safetensors files (layer outputs and gradients, optimizer trajectories, module states, GAN
// losses, FID/KID) into a fresh temporary folder with /usr/bin/python3's PyTorch, numpy and SciPy:
// the same libtorch, CPU and kernels as the code under test, so no number computed on another CPU
// is ever compared against. Tests find the folder with inject('torchFixtures') (null when Python
// lacks a module: those tests are then skipped and say so).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { TestProject } from 'vitest/node';
import { PYTHON, pythonHas } from '../helpers/python.js';

declare module 'vitest' {
  export interface ProvidedContext {
    /** The folder of the live PyTorch fixtures, or null when /usr/bin/python3 cannot make them. */
    torchFixtures: string | null;
    /** Why there are none. */
    torchFixturesMissing: string | null;
  }
}

const SCRIPTS = ['make_fixtures.py', 'make_loss_fixtures.py', 'make_fid_reference.py'];

export default async function setup(project: TestProject): Promise<() => void> {
  // The oneDNN cap this machine needs (src/torch/onednn_guard.ts) is set in process.env when the
  // addon loads: the reference scripts inherit it and run the kernels the code under test runs.
  await import('../../src/torch/native.js');
  const modules = 'torch, numpy, scipy.linalg';
  if (!pythonHas(modules)) {
    project.provide('torchFixtures', null);
    project.provide(
      'torchFixturesMissing',
      `${PYTHON} cannot import ${modules} (apt-get install python3-torch python3-numpy python3-scipy; scripts/setup.sh does)`,
    );
    return () => {};
  }
  const dir = mkdtempSync(path.join(os.tmpdir(), 'dermosynth-torch-fixtures-'));
  const here = path.resolve(import.meta.dirname, '../fixtures');
  // One thread and deterministic algorithms, as the scripts set: the reference of a reduction is
  // then the single-threaded one.
  for (const script of SCRIPTS)
    execFileSync(PYTHON, [path.join(here, script), '--out', dir], {
      stdio: ['ignore', 'ignore', 'inherit'],
      env: { ...process.env, OMP_NUM_THREADS: '1' },
    });
  project.provide('torchFixtures', dir);
  project.provide('torchFixturesMissing', null);
  return () => rmSync(dir, { recursive: true, force: true });
}
