import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 60_000,
    // Integration tests start runtimes and load a 2-core machine; one file at a time keeps timings honest.
    fileParallelism: false,
  },
});
