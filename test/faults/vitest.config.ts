/**
 * `npm run test:faults`: the heavy crash, fault and load tests (test/faults/),
 * which the normal suite leaves out for CI's time budget. Same global setup
 * (a Temporal dev server, the Docker engine and registry) as `npm test`.
 */
import path from 'node:path';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  root: path.resolve(import.meta.dirname, '..', '..'),
  test: {
    include: ['test/faults/**/*.test.ts'],
    globalSetup: ['test/global-setup.ts'],
    pool: 'forks',
    env: { DRYDOCK_TEMPORAL_LOG_LEVEL: 'ERROR' },
    // One file at a time: several kill processes and time recovery against retry budgets.
    maxWorkers: 1,
    testTimeout: 600_000,
    hookTimeout: 300_000,
  },
});
