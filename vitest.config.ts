import { defineConfig } from 'vitest/config';

const exclude = ['**/node_modules/**', '**/.stint/**', '**/dist/**'];

export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['*/test/**/*.unit.test.ts'],
          exclude,
          testTimeout: 30_000,
          sequence: { groupOrder: 0 },
        },
      },
      {
        test: {
          name: 'integration',
          include: ['*/test/**/*.int.test.ts'],
          exclude,
          globalSetup: ['./infra/src/testing/global-setup.ts'],
          testTimeout: 120_000,
          hookTimeout: 120_000,
          // Integration tests wait on servers, not on CPU: run a few files at once.
          maxWorkers: 3,
          sequence: { groupOrder: 1 },
          env: { LOG_LEVEL: 'warn' },
        },
      },
      {
        test: {
          // Whole-pipeline fault tests: they stop and restart servers (a private stack for Kafka and
          // ClickHouse outages), so they run alone, one file at a time, after everything else.
          name: 'faults',
          include: ['e2e/test/faults/**/*.faults.test.ts'],
          exclude,
          globalSetup: ['./infra/src/testing/global-setup.ts'],
          testTimeout: 300_000,
          hookTimeout: 180_000,
          maxWorkers: 1,
          fileParallelism: false,
          sequence: { groupOrder: 2 },
          env: { LOG_LEVEL: 'warn' },
        },
      },
    ],
  },
});
