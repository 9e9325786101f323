import { defineConfig } from 'vitest/config';
import { DEFAULT_CLUSTER_NAME, layoutFor } from './infra/src/stack/index.ts';

/** The local clusters of `npm run test:cluster` (infra/src/stack). */
const CLUSTER_KAFKA = layoutFor(3).bootstrap;

const exclude = ['**/node_modules/**', '**/.stint/**', '**/dist/**'];

/** Suites that stop and start servers: against the real servers, long timeouts, one file at a time. */
const oneFileAtATime = {
  exclude,
  globalSetup: ['./infra/src/testing/global-setup.ts'],
  testTimeout: 300_000,
  hookTimeout: 180_000,
  maxWorkers: 1,
  fileParallelism: false,
};

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
          // Against the local clusters (`npm run test:cluster` starts them: three Kafka brokers, ZooKeeper
          // and a 2x2 ClickHouse cluster); they stop and start servers of those clusters, so one file
          // at a time. Not part of `npm test`, which runs against the single nodes.
          name: 'cluster',
          include: ['*/test/**/*.cluster.test.ts'],
          ...oneFileAtATime,
          env: {
            LOG_LEVEL: 'warn',
            KAFKA_BROKERS: CLUSTER_KAFKA,
            STINT_CLICKHOUSE_CLUSTER: DEFAULT_CLUSTER_NAME,
          },
        },
      },
      {
        test: {
          // Whole-pipeline fault tests: they stop and restart servers (a private stack for Kafka and
          // ClickHouse outages), so they run alone, one file at a time, after everything else.
          name: 'faults',
          include: ['e2e/test/faults/**/*.faults.test.ts'],
          ...oneFileAtATime,
          sequence: { groupOrder: 2 },
          env: { LOG_LEVEL: 'warn' },
        },
      },
    ],
  },
});
