import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // PyTorch's reference fixtures, computed on this machine (test/setup/torch_fixtures.ts).
    globalSetup: ['test/setup/torch_fixtures.ts'],
    pool: 'forks',
    // --expose-gc lets the memory tests check the finalizer safety net.
    execArgv: ['--expose-gc'],
    // Test files run in parallel, one per core: one libtorch thread each, or the threads of two
    // files oversubscribe the cores and spin (measured: the training tests ran 8x slower).
    // npm run test:isa runs the numeric tests with 2 threads too (DERMOSYNTH_TEST_THREADS, one file at a time).
    env: { OMP_NUM_THREADS: process.env.DERMOSYNTH_TEST_THREADS ?? '1' },
    testTimeout: 120_000,
    hookTimeout: 120_000,
  },
});
