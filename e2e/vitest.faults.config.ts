/**
 * The fault suite on its own (`npx vitest run --config e2e/vitest.faults.config.ts`), mirroring the
 * `faults` project of the root config: one file at a time, since some cases stop servers.
 */
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    name: 'faults',
    root: fileURLToPath(new URL('..', import.meta.url)),
    include: ['e2e/test/faults/**/*.faults.test.ts'],
    exclude: ['**/node_modules/**', '**/.stint/**', '**/dist/**'],
    globalSetup: ['./infra/src/testing/global-setup.ts'],
    testTimeout: 240_000,
    hookTimeout: 120_000,
    maxWorkers: 1,
    fileParallelism: false,
    env: { LOG_LEVEL: 'warn' },
  },
});
