import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['**/*.test.ts'],
    // test/faults/ holds the heavy crash and fault tests: `npm run test:faults`.
    exclude: ['node_modules/**', '.data/**', '.tools/**', 'dist/**', 'test/faults/**'],
    globalSetup: ['test/global-setup.ts'],
    pool: 'forks',
    env: { DRYDOCK_TEMPORAL_LOG_LEVEL: 'ERROR' },
    // Two cores: integration files each run a worker and Docker work.
    maxWorkers: 2,
    testTimeout: 120_000,
    hookTimeout: 180_000,
  },
});
