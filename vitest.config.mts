import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    // Services are shared per run; keep parallelism modest on 2-core machines.
    pool: 'forks',
    poolOptions: { forks: { minForks: 1, maxForks: 2 } },
    projects: [
      {
        test: {
          name: 'unit',
          include: ['test/unit/**/*.test.ts'],
        },
      },
      {
        test: {
          name: 'replay',
          include: ['test/replay/**/*.test.ts'],
          testTimeout: 120_000,
        },
      },
      {
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts'],
          globalSetup: ['test/support/global-setup.ts'],
          testTimeout: 180_000,
          hookTimeout: 120_000,
        },
      },
    ],
  },
});
