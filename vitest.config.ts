import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['**/*.test.ts'],
    exclude: ['node_modules/**', '.data/**', '.tools/**', 'dist/**'],
    globalSetup: ['test/global-setup.ts'],
    pool: 'forks',
    env: { DRYDOCK_TEMPORAL_LOG_LEVEL: 'ERROR' },
    // Two cores: integration files each run a worker and Docker work.
    maxWorkers: 2,
    testTimeout: 120_000,
    hookTimeout: 180_000,
  },
});
