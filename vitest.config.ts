import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['tests/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Tests that start real processes, namespaces and databases are isolated per file.
    pool: 'forks',
    fileParallelism: true,
    maxWorkers: 2,
  },
});
