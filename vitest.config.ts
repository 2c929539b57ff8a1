import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    pool: 'forks',
    // --expose-gc lets the memory tests check the finalizer safety net.
    execArgv: ['--expose-gc'],
    // Test files run in parallel, one per core: one libtorch thread each, or the threads of two
    // files oversubscribe the cores and spin (measured: the training tests ran 8x slower).
    env: { OMP_NUM_THREADS: '1' },
    testTimeout: 120_000,
    hookTimeout: 120_000,
  },
});
